//! Tenant users signing in and looking at themselves: `/v1/auth/*`, `/v1/me` and the key set.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use causerie_core::Error;
use causerie_proto::accounts::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{ApiJson, TenantContext, forwarded};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/session", get(session))
        .route("/v1/me", get(me))
        .route("/.well-known/jwks.json", get(jwks))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The tenant's slug.
    pub tenant: String,
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

impl From<pb::TokenResponse> for TokenResponse {
    fn from(token: pb::TokenResponse) -> Self {
        Self { access_token: token.access_token, token_type: "Bearer", expires_in: token.expires_in }
    }
}

/// Signs a tenant user in. An unknown tenant, an unknown e-mail and a wrong password all answer
/// the same `401`.
#[utoipa::path(post, path = "/v1/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "unauthenticated"),
              (status = 422, description = "invalid_request")))]
async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<TokenResponse>, Error> {
    let request =
        forwarded(pb::LoginRequest { tenant: body.tenant, email: body.email, password: body.password }, None)?;
    let token = state.accounts.clone().login(request).await.map_err(|status| Error::from_status(&status))?;
    Ok(Json(token.into_inner().into()))
}

#[derive(Serialize, ToSchema)]
pub struct SessionResponse {
    pub tenant_id: String,
    pub user_id: String,
    pub role: String,
    pub project_ids: Vec<String>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// The caller's verified claims, answered by the gateway alone.
#[utoipa::path(get, path = "/v1/auth/session", tag = "accounts",
    responses((status = 200, body = SessionResponse), (status = 401, description = "unauthenticated"),
              (status = 429, description = "rate_limited")),
    security(("bearer" = [])))]
async fn session(caller: TenantContext) -> Json<SessionResponse> {
    Json(SessionResponse {
        tenant_id: caller.tenant_id.to_string(),
        user_id: caller.user_id.to_string(),
        role: caller.role.to_string(),
        project_ids: caller.project_ids.iter().map(ToString::to_string).collect(),
        expires_at: caller.expires_at,
    })
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
        }
    }
}

/// The calling user's own profile.
#[utoipa::path(get, path = "/v1/me", tag = "accounts",
    responses((status = 200, body = UserResponse), (status = 401, description = "unauthenticated")),
    security(("bearer" = [])))]
async fn me(State(state): State<AppState>, caller: TenantContext) -> Result<Json<UserResponse>, Error> {
    let request = forwarded(pb::GetMeRequest {}, Some(&caller.token))?;
    let user = state.accounts.clone().get_me(request).await.map_err(|status| Error::from_status(&status))?;
    Ok(Json(user.into_inner().into()))
}

/// The public keys that verify user tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "accounts",
    responses((status = 200, description = "a JSON Web Key Set")))]
async fn jwks(State(state): State<AppState>) -> Result<Response, Error> {
    let request = forwarded(pb::GetJwksRequest {}, None)?;
    let response = state.accounts.clone().get_jwks(request).await.map_err(|status| Error::from_status(&status))?;
    // Accounts sends the document ready to serve.
    let document = response.into_inner().jwks_json;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], document).into_response())
}
