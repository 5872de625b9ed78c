//! A tenant's users and operators, for its admins (and API keys with `users:read`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use causerie_core::Error;
use causerie_proto::accounts::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::{ApiJson, ApiQuery, Page, PageQuery, page_limit, string_list};
use crate::caller::TenantContext;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/users", post(create_user).get(list_users))
        .route("/v1/users/{id}", get(get_user).patch(update_user).delete(erase_user))
        .route("/v1/operators", get(search_operators))
}

#[derive(Serialize, ToSchema)]
pub struct UserResponse {
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub pseudonym: Option<String>,
    pub languages: Vec<String>,
    pub skills: Vec<String>,
    pub role: String,
    pub project_ids: Vec<String>,
    /// Operators only: their presence as live chat reports it; `unknown` until it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl From<pb::User> for UserResponse {
    fn from(user: pb::User) -> Self {
        Self {
            id: user.id,
            tenant_id: user.tenant_id,
            email: user.email,
            first_name: user.first_name,
            last_name: user.last_name,
            pseudonym: user.pseudonym,
            languages: user.languages,
            skills: user.skills,
            role: user.role,
            project_ids: user.project_ids,
            status: user.status,
        }
    }
}

pub(super) fn user_page(response: pb::ListUsersResponse) -> Page<UserResponse> {
    Page::of(response.users, response.next_cursor)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(min_length = 1, max_length = 200)]
    pub first_name: String,
    #[schema(min_length = 1, max_length = 200)]
    pub last_name: String,
    /// `admin`, `contributor` or `operator`.
    #[schema(pattern = "^(admin|contributor|operator)$")]
    pub role: String,
    /// Without one, the user sets it through the password-reset flow.
    #[schema(min_length = 12, max_length = 128)]
    pub password: Option<String>,
    pub pseudonym: Option<String>,
    #[serde(default)]
    pub languages: Vec<String>,
    #[serde(default)]
    pub skills: Vec<String>,
    /// Projects the user is limited to; empty means all.
    #[serde(default)]
    pub project_ids: Vec<String>,
}

/// Creates a user of the caller's tenant.
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = UserResponse), (status = 403, description = "forbidden"),
              (status = 409, description = "conflict: the e-mail is taken"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn create_user(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserResponse>), Error> {
    let message = pb::CreateUserRequest {
        email: body.email,
        first_name: body.first_name,
        last_name: body.last_name,
        role: body.role,
        password: body.password,
        pseudonym: body.pseudonym,
        languages: body.languages,
        skills: body.skills,
        project_ids: body.project_ids,
    };
    let user = state.accounts.clone().create_user(caller.forward(message)?).await?;
    Ok((StatusCode::CREATED, Json(user.into_inner().into())))
}

/// The tenant's users, a page at a time. Each read is audited.
#[utoipa::path(get, path = "/v1/users", tag = "users", params(PageQuery),
    responses((status = 200, body = Page<UserResponse>), (status = 403, description = "forbidden")),
    security(("bearer" = [])))]
async fn list_users(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<UserResponse>>, Error> {
    let message = pb::ListUsersRequest { limit: page_limit(page.limit)?, cursor: page.cursor.unwrap_or_default() };
    let response = state.accounts.clone().list_users(caller.forward(message)?).await?;
    Ok(Json(user_page(response.into_inner())))
}

/// One user of the tenant.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users",
    responses((status = 200, body = UserResponse), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn get_user(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(id): Path<String>,
) -> Result<Json<UserResponse>, Error> {
    let user = state.accounts.clone().get_user(caller.forward(pb::GetUserRequest { id })?).await?;
    Ok(Json(user.into_inner().into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    pub last_name: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    /// An empty string clears it.
    pub pseudonym: Option<String>,
    pub languages: Option<Vec<String>>,
    pub skills: Option<Vec<String>>,
    #[schema(pattern = "^(admin|contributor|operator)$")]
    pub role: Option<String>,
    pub project_ids: Option<Vec<String>>,
}

/// An admin corrects a user. A new role or project list applies at the user's next token.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", request_body = UpdateUserRequest,
    responses((status = 200, body = UserResponse), (status = 404, description = "not_found"),
              (status = 409, description = "conflict"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn update_user(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> Result<Json<UserResponse>, Error> {
    let message = pb::UpdateUserRequest {
        id,
        first_name: body.first_name,
        last_name: body.last_name,
        email: body.email,
        pseudonym: body.pseudonym,
        languages: string_list(body.languages),
        skills: string_list(body.skills),
        role: body.role,
        project_ids: string_list(body.project_ids),
    };
    let user = state.accounts.clone().update_user(caller.forward(message)?).await?;
    Ok(Json(user.into_inner().into()))
}

/// Erases a user: irreversible. Tokens revoked, sign-in impossible, personal fields gone.
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "users",
    responses((status = 204, description = "erased"), (status = 404, description = "not_found"),
              (status = 409, description = "conflict: the tenant's last admin")),
    security(("bearer" = [])))]
async fn erase_user(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    let subject = uuid::Uuid::try_parse(&id).ok();
    state.accounts.clone().erase_user(caller.forward(pb::EraseUserRequest { id })?).await?;
    if let Some(subject) = subject {
        state.access.note_revoked(subject, state.clock.now());
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperatorQuery {
    /// A language tag such as `fr`.
    pub language: Option<String>,
    pub skill: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Operators of the tenant speaking a language and/or having a skill.
#[utoipa::path(get, path = "/v1/operators", tag = "users", params(OperatorQuery),
    responses((status = 200, body = Page<UserResponse>), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn search_operators(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiQuery(query): ApiQuery<OperatorQuery>,
) -> Result<Json<Page<UserResponse>>, Error> {
    let limit = page_limit(query.limit)?;
    let message = pb::SearchOperatorsRequest {
        language: query.language,
        skill: query.skill,
        limit,
        cursor: query.cursor.unwrap_or_default(),
    };
    let response = state.accounts.clone().search_operators(caller.forward(message)?).await?;
    Ok(Json(user_page(response.into_inner())))
}
