//! Integrators' API keys, managed by tenant admins. The key is shown once, at creation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use causerie_core::Error;
use causerie_proto::accounts::v1 as pb;
use causerie_proto::time::from_timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::{ApiJson, ApiQuery, Page, PageQuery, page_limit};
use crate::caller::TenantContext;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/api-keys", post(create_key).get(list_keys)).route("/v1/api-keys/{id}", delete(revoke_key))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Among `projects:read`, `projects:write`, `knowledge_base:read`, `knowledge_base:write`,
    /// `forms:read`, `analytics:read`, `conversations:read`, `consents:read`, `users:read`,
    /// `privacy_requests:write`.
    #[schema(min_items = 1, inline, value_type = Vec<KeyScope>)]
    pub scopes: Vec<String>,
}

/// What an API key may do.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum KeyScope {
    #[schema(rename = "projects:read")]
    ProjectsRead,
    #[schema(rename = "projects:write")]
    ProjectsWrite,
    #[schema(rename = "knowledge_base:read")]
    KnowledgeBaseRead,
    #[schema(rename = "knowledge_base:write")]
    KnowledgeBaseWrite,
    #[schema(rename = "forms:read")]
    FormsRead,
    #[schema(rename = "analytics:read")]
    AnalyticsRead,
    #[schema(rename = "conversations:read")]
    ConversationsRead,
    #[schema(rename = "consents:read")]
    ConsentsRead,
    #[schema(rename = "users:read")]
    UsersRead,
    #[schema(rename = "privacy_requests:write")]
    PrivacyRequestsWrite,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyResponse {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    /// Only in the answer to its creation: store it now, it cannot be shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<pb::ApiKey> for ApiKeyResponse {
    fn from(key: pb::ApiKey) -> Self {
        Self {
            id: key.id,
            name: key.name,
            scopes: key.scopes,
            key: key.key,
            created_at: key.created_at.and_then(from_timestamp),
            last_used_at: key.last_used_at.and_then(from_timestamp),
        }
    }
}

/// Creates an API key with scopes.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", request_body = CreateKeyRequest,
    responses((status = 201, body = ApiKeyResponse), (status = 403, description = "forbidden"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn create_key(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiJson(body): ApiJson<CreateKeyRequest>,
) -> Result<(StatusCode, Json<ApiKeyResponse>), Error> {
    let message = pb::CreateApiKeyRequest { name: body.name, scopes: body.scopes };
    let key = state.accounts.clone().create_api_key(caller.forward(message)?).await?;
    Ok((StatusCode::CREATED, Json(key.into_inner().into())))
}

/// The tenant's live API keys, without the keys themselves, a page at a time.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", params(PageQuery),
    responses((status = 200, body = Page<ApiKeyResponse>), (status = 403, description = "forbidden"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn list_keys(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<ApiKeyResponse>>, Error> {
    let message = pb::ListApiKeysRequest { limit: page_limit(page.limit)?, cursor: page.cursor.unwrap_or_default() };
    let page = state.accounts.clone().list_api_keys(caller.forward(message)?).await?.into_inner();
    Ok(Json(Page::of(page.keys, page.next_cursor)))
}

/// Revokes a key at once.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys",
    responses((status = 204, description = "revoked"), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn revoke_key(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    let subject = uuid::Uuid::try_parse(&id).ok();
    state.accounts.clone().revoke_api_key(caller.forward(pb::RevokeApiKeyRequest { id })?).await?;
    if let Some(subject) = subject {
        state.access.note_revoked(subject, state.clock.now());
    }
    Ok(StatusCode::NO_CONTENT)
}
