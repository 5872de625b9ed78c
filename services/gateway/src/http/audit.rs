//! The tenant's audit log and its verification, and the support access it grants.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use causerie_core::Error;
use causerie_proto::accounts::v1 as pb;
use causerie_proto::time::{from_timestamp, to_timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::{ApiJson, ApiQuery, Page, PageQuery, next_cursor, page_limit};
use crate::caller::TenantContext;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/audit-log", get(list_entries))
        .route("/v1/audit-log/verification", get(verify))
        .route("/v1/support-grants", post(create_grant).get(list_grants))
        .route("/v1/support-grants/{id}", delete(revoke_grant))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub actor_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntryResponse {
    pub id: String,
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `user`, `api_key`, `staff` or `system`.
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub source_address: Option<String>,
}

/// Who read or changed personal data, when and from where; newest first.
#[utoipa::path(get, path = "/v1/audit-log", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Page<AuditEntryResponse>), (status = 403, description = "forbidden")),
    security(("bearer" = [])))]
async fn list_entries(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Page<AuditEntryResponse>>, Error> {
    let limit = page_limit(query.limit)?;
    let message = pb::ListAuditLogRequest {
        actor_id: query.actor_id,
        action: query.action,
        from: query.from.map(to_timestamp),
        to: query.to.map(to_timestamp),
        limit,
        cursor: query.cursor.unwrap_or_default(),
    };
    let page = state.accounts.clone().list_audit_log(caller.forward(message)?).await?.into_inner();
    Ok(Json(Page {
        items: page
            .entries
            .into_iter()
            .map(|entry| AuditEntryResponse {
                id: entry.id,
                occurred_at: entry.occurred_at.and_then(from_timestamp),
                actor_kind: entry.actor_kind,
                actor_id: entry.actor_id,
                action: entry.action,
                subject_kind: entry.subject_kind,
                subject_id: entry.subject_id,
                source_address: entry.source_address,
            })
            .collect(),
        next_cursor: next_cursor(page.next_cursor),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct VerificationResponse {
    pub valid: bool,
    pub entries: u64,
    pub first_invalid_id: Option<String>,
}

/// Checks the log's hash chain end to end: any entry changed or removed is found.
#[utoipa::path(get, path = "/v1/audit-log/verification", tag = "audit",
    responses((status = 200, body = VerificationResponse), (status = 403, description = "forbidden")),
    security(("bearer" = [])))]
async fn verify(State(state): State<AppState>, caller: TenantContext) -> Result<Json<VerificationResponse>, Error> {
    let verification =
        state.accounts.clone().verify_audit_log(caller.forward(pb::VerifyAuditLogRequest {})?).await?.into_inner();
    Ok(Json(VerificationResponse {
        valid: verification.valid,
        entries: verification.entries,
        first_invalid_id: verification.first_invalid_id,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrantRequest {
    /// `read` or `read_write`.
    #[schema(pattern = "^(read|read_write)$")]
    pub scope: String,
    /// At most 30 days away.
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct GrantResponse {
    pub id: String,
    pub scope: String,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    pub reason: Option<String>,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<pb::SupportGrant> for GrantResponse {
    fn from(grant: pb::SupportGrant) -> Self {
        Self {
            id: grant.id,
            scope: grant.scope,
            expires_at: grant.expires_at.and_then(from_timestamp),
            reason: grant.reason,
            created_at: grant.created_at.and_then(from_timestamp),
            revoked_at: grant.revoked_at.and_then(from_timestamp),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GrantList {
    pub items: Vec<GrantResponse>,
    pub next_cursor: Option<String>,
}

/// Lets the vendor's support reach the tenant's personal data until `expires_at`.
#[utoipa::path(post, path = "/v1/support-grants", tag = "audit", request_body = CreateGrantRequest,
    responses((status = 201, body = GrantResponse), (status = 403, description = "forbidden"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn create_grant(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiJson(body): ApiJson<CreateGrantRequest>,
) -> Result<(StatusCode, Json<GrantResponse>), Error> {
    let message = pb::CreateSupportGrantRequest {
        scope: body.scope,
        expires_at: Some(to_timestamp(body.expires_at)),
        reason: body.reason,
    };
    let grant = state.accounts.clone().create_support_grant(caller.forward(message)?).await?;
    Ok((StatusCode::CREATED, Json(grant.into_inner().into())))
}

/// Every grant the tenant gave, live or not, newest first, a page at a time.
#[utoipa::path(get, path = "/v1/support-grants", tag = "audit", params(PageQuery),
    responses((status = 200, body = GrantList), (status = 403, description = "forbidden"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn list_grants(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<GrantList>, Error> {
    let message =
        pb::ListSupportGrantsRequest { limit: page_limit(page.limit)?, cursor: page.cursor.unwrap_or_default() };
    let page = state.accounts.clone().list_support_grants(caller.forward(message)?).await?.into_inner();
    Ok(Json(GrantList {
        items: page.grants.into_iter().map(GrantResponse::from).collect(),
        next_cursor: next_cursor(page.next_cursor),
    }))
}

/// Ends a grant at once.
#[utoipa::path(delete, path = "/v1/support-grants/{id}", tag = "audit",
    responses((status = 204, description = "revoked"), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn revoke_grant(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    state.accounts.clone().revoke_support_grant(caller.forward(pb::RevokeSupportGrantRequest { id })?).await?;
    Ok(StatusCode::NO_CONTENT)
}
