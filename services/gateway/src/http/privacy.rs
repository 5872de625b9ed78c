//! A tenant's privacy policy and its history, the record of processing activities, and the
//! consent ledger as its admins read it.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use causerie_core::Error;
use causerie_core::policy::{PolicyDocument, PrivacyPolicy};
use causerie_proto::accounts::v1 as pb;
use causerie_proto::time::from_timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::{ApiJson, ApiQuery, Page, PageQuery, next_cursor, page_limit};
use crate::caller::TenantContext;
use crate::state::AppState;
use crate::upstream::policy_of;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/privacy-policy", get(get_policy).put(put_policy))
        .route("/v1/privacy-policy/versions", get(list_versions))
        .route("/v1/privacy-policy/versions/{version}", get(get_version))
        .route("/v1/processing-register", get(processing_register))
        .route("/v1/consents", get(list_consents))
}

/// The tenant's privacy policy in force (version 0: the defaults, until an admin writes one).
#[utoipa::path(get, path = "/v1/privacy-policy", tag = "privacy",
    responses((status = 200, body = PrivacyPolicy)), security(("bearer" = [])))]
async fn get_policy(State(state): State<AppState>, caller: TenantContext) -> Result<Json<PrivacyPolicy>, Error> {
    let document = state.privacy.clone().get_privacy_policy(caller.forward(pb::GetPrivacyPolicyRequest {})?).await?;
    Ok(Json(policy_of(&document.into_inner().policy_json)?))
}

/// Writes a new version of the policy; earlier versions stay readable.
#[utoipa::path(put, path = "/v1/privacy-policy", tag = "privacy", request_body = PolicyDocument,
    responses((status = 200, body = PrivacyPolicy), (status = 403, description = "forbidden"),
              (status = 422, description = "invalid_request, retention_above_maximum or residency_conflict")),
    security(("bearer" = [])))]
async fn put_policy(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiJson(body): ApiJson<PolicyDocument>,
) -> Result<Json<PrivacyPolicy>, Error> {
    let policy_json = serde_json::to_string(&body).map_err(Error::internal)?;
    let document =
        state.privacy.clone().put_privacy_policy(caller.forward(pb::PolicyDocument { policy_json })?).await?;
    state.widget_projects.forget_tenant(caller.tenant_id);
    Ok(Json(policy_of(&document.into_inner().policy_json)?))
}

#[derive(Serialize, ToSchema)]
pub struct PolicyVersionEntry {
    pub version: i32,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The admin who wrote it.
    pub created_by: String,
}

/// Every version of the policy, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/privacy-policy/versions", tag = "privacy", params(PageQuery),
    responses((status = 200, body = Page<PolicyVersionEntry>), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn list_versions(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<PolicyVersionEntry>>, Error> {
    let message =
        pb::ListPolicyVersionsRequest { limit: page_limit(page.limit)?, cursor: page.cursor.unwrap_or_default() };
    let page = state.privacy.clone().list_policy_versions(caller.forward(message)?).await?.into_inner();
    Ok(Json(Page {
        items: page
            .versions
            .into_iter()
            .map(|version| PolicyVersionEntry {
                version: version.version,
                created_at: version.created_at.and_then(from_timestamp),
                created_by: version.created_by,
            })
            .collect(),
        next_cursor: next_cursor(page.next_cursor),
    }))
}

/// One past version of the policy, as it was.
#[utoipa::path(get, path = "/v1/privacy-policy/versions/{version}", tag = "privacy",
    responses((status = 200, body = PrivacyPolicy), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn get_version(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(version): Path<String>,
) -> Result<Json<PrivacyPolicy>, Error> {
    let version: i32 = version.parse().map_err(|_| Error::not_found("no such policy version"))?;
    let document =
        state.privacy.clone().get_policy_version(caller.forward(pb::GetPolicyVersionRequest { version })?).await?;
    Ok(Json(policy_of(&document.into_inner().policy_json)?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegisterQuery {
    /// `json` (default), `csv` or `md`.
    #[param(pattern = "^(json|csv|md)?$")]
    pub format: Option<String>,
}

/// The record of processing activities (GDPR Art. 30), built from the policy, the projects, the
/// enabled sub-processors and the directory connections.
#[utoipa::path(get, path = "/v1/processing-register", tag = "privacy", params(RegisterQuery),
    responses((status = 200, description = "the register in the format asked"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn processing_register(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiQuery(query): ApiQuery<RegisterQuery>,
) -> Result<Response, Error> {
    let message = pb::GetProcessingRegisterRequest { format: query.format.unwrap_or_default() };
    let register = state.privacy.clone().get_processing_register(caller.forward(message)?).await?.into_inner();
    Ok(([(CONTENT_TYPE, register.content_type)], register.body).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsentQuery {
    #[param(format = Uuid)]
    pub visitor_id: String,
    /// Default 50, at most 200.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentRecordResponse {
    pub id: String,
    pub visitor_id: String,
    pub project_id: String,
    pub purpose: String,
    pub granted: bool,
    /// The version of the consent text the visitor was shown.
    pub text_version: i32,
    /// `widget`, `scenario_step`, `form` or `chat_intro`.
    pub source: String,
    /// The visitor's network, truncated before it was stored.
    pub client_network: Option<String>,
    pub recorded_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<pb::ConsentRecord> for ConsentRecordResponse {
    fn from(record: pb::ConsentRecord) -> Self {
        Self {
            id: record.id,
            visitor_id: record.visitor_id,
            project_id: record.project_id,
            purpose: record.purpose,
            granted: record.granted,
            text_version: record.text_version,
            source: record.source,
            client_network: record.client_network,
            recorded_at: record.recorded_at.and_then(from_timestamp),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConsentList {
    pub items: Vec<ConsentRecordResponse>,
    pub next_cursor: Option<String>,
    /// The consent text of each version the records cite, by version: with the records, the
    /// proof of what the visitor agreed to.
    pub consent_texts: std::collections::BTreeMap<i32, String>,
}

/// A visitor's consent records, newest first: the proof of consent (GDPR Art. 7(1)).
#[utoipa::path(get, path = "/v1/consents", tag = "privacy", params(ConsentQuery),
    responses((status = 200, body = ConsentList), (status = 403, description = "forbidden"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn list_consents(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiQuery(query): ApiQuery<ConsentQuery>,
) -> Result<Json<ConsentList>, Error> {
    let records = state
        .privacy
        .clone()
        .list_consents(caller.forward(pb::ListConsentsRequest {
            visitor_id: query.visitor_id,
            limit: page_limit(query.limit)?,
            cursor: query.cursor.unwrap_or_default(),
        })?)
        .await?;
    let proof = records.into_inner();
    Ok(Json(ConsentList {
        items: proof.records.into_iter().map(ConsentRecordResponse::from).collect(),
        next_cursor: next_cursor(proof.next_cursor),
        consent_texts: proof.consent_texts.into_iter().collect(),
    }))
}
