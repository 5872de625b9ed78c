//! Legal notices on personal data: published by tenant admins, accepted by every user.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use causerie_core::Error;
use causerie_proto::accounts::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::ApiJson;
use crate::caller::TenantContext;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/legal-notices", post(publish))
        .route("/v1/legal-notices/current", get(current))
        .route("/v1/legal-notices/{version}/acceptance", post(accept))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    #[schema(min_length = 1, max_length = 50000)]
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct PublishedNotice {
    pub version: i32,
}

/// Publishes a new version; every user of the tenant must accept it before going on.
#[utoipa::path(post, path = "/v1/legal-notices", tag = "accounts", request_body = PublishRequest,
    responses((status = 201, body = PublishedNotice), (status = 403, description = "forbidden"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn publish(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiJson(body): ApiJson<PublishRequest>,
) -> Result<(StatusCode, Json<PublishedNotice>), Error> {
    let notice = state
        .accounts
        .clone()
        .publish_legal_notice(caller.forward(pb::PublishLegalNoticeRequest { text: body.text })?)
        .await?
        .into_inner();
    state.access.note_legal_notice(caller.tenant_id, notice.version);
    Ok((StatusCode::CREATED, Json(PublishedNotice { version: notice.version })))
}

#[derive(Serialize, ToSchema)]
pub struct CurrentNotice {
    /// 0 when the tenant has published none.
    pub version: i32,
    pub text: String,
    pub accepted: bool,
}

/// The tenant's current notice and whether the caller has accepted it.
#[utoipa::path(get, path = "/v1/legal-notices/current", tag = "accounts",
    responses((status = 200, body = CurrentNotice)),
    security(("bearer" = [])))]
async fn current(State(state): State<AppState>, caller: TenantContext) -> Result<Json<CurrentNotice>, Error> {
    let notice = state
        .accounts
        .clone()
        .get_current_legal_notice(caller.forward(pb::GetCurrentLegalNoticeRequest {})?)
        .await?
        .into_inner();
    Ok(Json(CurrentNotice { version: notice.version, text: notice.text, accepted: notice.accepted }))
}

/// Records that the caller read and accepted a version, with the time.
#[utoipa::path(post, path = "/v1/legal-notices/{version}/acceptance", tag = "accounts",
    responses((status = 204, description = "accepted"), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn accept(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(version): Path<String>,
) -> Result<StatusCode, Error> {
    let version: i32 = version.parse().map_err(|_| Error::not_found("no such legal notice version"))?;
    let user_id = caller.user()?.user_id;
    state.accounts.clone().accept_legal_notice(caller.forward(pb::AcceptLegalNoticeRequest { version })?).await?;
    state.access.note_accepted(user_id.as_uuid(), version);
    Ok(StatusCode::NO_CONTENT)
}
