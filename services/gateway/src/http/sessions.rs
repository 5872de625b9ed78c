//! Tenant users signing in, staying signed in, recovering a password, and looking after their own
//! profile: `/v1/auth/*`, `/v1/me*` and the key set.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use causerie_core::Error;
use causerie_proto::accounts::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::UserResponse;
use super::wire::{ApiJson, string_list};
use crate::caller::{ClientAddress, TenantContext};
use crate::state::AppState;
use crate::upstream::{for_service, forwarded};

/// The routes of people who have no token yet, or whose proof is in the body (a refresh token,
/// a mailed link), and the key set.
pub fn public_router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/login", post(login))
        .route("/v1/auth/refresh", post(refresh))
        .route("/v1/auth/logout", post(logout))
        .route("/v1/auth/password-reset", post(request_password_reset))
        .route("/v1/auth/password-reset/confirm", post(confirm_password_reset))
        .route("/v1/me/email-confirmation", post(confirm_email_change))
        .route("/.well-known/jwks.json", get(jwks))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/session", get(session))
        .route("/v1/me", get(me).patch(update_me))
        .route("/v1/me/password", put(change_password))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The tenant's slug.
    pub tenant: String,
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Opaque; exchanged at `/v1/auth/refresh` for a new pair, once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The tenant's current legal notice awaits the user's acceptance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_notice_pending: Option<bool>,
}

impl TokenResponse {
    /// The answer to a tenant user, which always says whether a legal notice is pending.
    fn for_user(token: pb::TokenResponse) -> Self {
        let pending = token.legal_notice_pending;
        Self { legal_notice_pending: Some(pending), ..Self::from(token) }
    }
}

impl From<pb::TokenResponse> for TokenResponse {
    fn from(token: pb::TokenResponse) -> Self {
        Self {
            access_token: token.access_token,
            refresh_token: Some(token.refresh_token).filter(|refresh_token| !refresh_token.is_empty()),
            token_type: "Bearer",
            expires_in: token.expires_in,
            legal_notice_pending: None,
        }
    }
}

/// Signs a tenant user in. An unknown tenant, an unknown e-mail and a wrong password all answer
/// the same `401`; repeated failures answer `429` with `Retry-After`.
#[utoipa::path(post, path = "/v1/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "unauthenticated"),
              (status = 422, description = "invalid_request"), (status = 429, description = "rate_limited")))]
async fn login(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<TokenResponse>, Error> {
    let request = for_service(
        &state.service_token,
        pb::LoginRequest { tenant: body.tenant, email: body.email, password: body.password },
        client,
    )
    .await?;
    let token = state.accounts.clone().login(request).await?;
    Ok(Json(TokenResponse::for_user(token.into_inner())))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Exchanges a refresh token for a new pair. A refresh token used twice answers `401` and ends
/// every session descended from the same sign-in.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "accounts", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "unauthenticated")))]
async fn refresh(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<TokenResponse>, Error> {
    let request =
        for_service(&state.service_token, pb::RefreshRequest { refresh_token: body.refresh_token }, client).await?;
    let token = state.accounts.clone().refresh(request).await?;
    Ok(Json(TokenResponse::for_user(token.into_inner())))
}

/// Ends the session of a refresh token.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "accounts", request_body = RefreshRequest,
    responses((status = 204, description = "signed out")))]
async fn logout(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<StatusCode, Error> {
    let request =
        for_service(&state.service_token, pb::LogoutRequest { refresh_token: body.refresh_token }, client).await?;
    state.accounts.clone().logout(request).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    /// The tenant's slug.
    pub tenant: String,
    pub email: String,
}

/// Mails a single-use link valid one hour, if the account exists and has not been sent three in
/// the last hour. `202` whatever the account; `429` past 20 requests an hour from one address.
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "accounts", request_body = PasswordResetRequest,
    responses((status = 202, description = "accepted, whether or not the account exists"),
              (status = 429, description = "rate_limited: too many reset requests from this address")))]
async fn request_password_reset(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<PasswordResetRequest>,
) -> Result<StatusCode, Error> {
    let request =
        for_service(&state.service_token, pb::PasswordResetRequest { tenant: body.tenant, email: body.email }, client)
            .await?;
    state.accounts.clone().request_password_reset(request).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmPasswordResetRequest {
    pub token: String,
    #[schema(min_length = 12, max_length = 128)]
    pub new_password: String,
}

/// Sets a new password from a reset token; every session of the user ends.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "accounts",
    request_body = ConfirmPasswordResetRequest,
    responses((status = 204, description = "password set"),
              (status = 422, description = "invalid_request: weak password, or a token invalid, used or expired")))]
async fn confirm_password_reset(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<ConfirmPasswordResetRequest>,
) -> Result<StatusCode, Error> {
    let message = pb::ConfirmPasswordResetRequest { token: body.token, new_password: body.new_password };
    state.accounts.clone().confirm_password_reset(for_service(&state.service_token, message, client).await?).await?;
    Ok(StatusCode::NO_CONTENT)
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
              (status = 403, description = "legal_notice_not_accepted"), (status = 429, description = "rate_limited")),
    security(("bearer" = [])))]
async fn session(caller: TenantContext) -> Result<Json<SessionResponse>, Error> {
    let user = caller.user()?;
    Ok(Json(SessionResponse {
        tenant_id: caller.tenant_id.to_string(),
        user_id: user.user_id.to_string(),
        role: user.role.to_string(),
        project_ids: user.project_ids.iter().map(ToString::to_string).collect(),
        expires_at: user.expires_at,
    }))
}

/// The calling user's own profile: every personal field held about them.
#[utoipa::path(get, path = "/v1/me", tag = "accounts",
    responses((status = 200, body = UserResponse), (status = 401, description = "unauthenticated")),
    security(("bearer" = [])))]
async fn me(State(state): State<AppState>, caller: TenantContext) -> Result<Json<UserResponse>, Error> {
    let user = state.accounts.clone().get_me(caller.forward(pb::GetMeRequest {})?).await?;
    Ok(Json(user.into_inner().into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    pub last_name: Option<String>,
    /// Takes effect once the link mailed to the new address is followed.
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    /// An empty string clears it.
    pub pseudonym: Option<String>,
    pub languages: Option<Vec<String>>,
    pub skills: Option<Vec<String>>,
    /// Not allowed here: only an admin changes a role (`422 field_not_allowed`).
    pub role: Option<serde_json::Value>,
    /// Not allowed here: only an admin changes projects (`422 field_not_allowed`).
    pub project_ids: Option<serde_json::Value>,
}

/// The calling user corrects its own profile.
#[utoipa::path(patch, path = "/v1/me", tag = "accounts", request_body = UpdateMeRequest,
    responses((status = 200, body = UserResponse), (status = 401, description = "unauthenticated"),
              (status = 409, description = "conflict: the e-mail is taken"),
              (status = 422, description = "invalid_request or field_not_allowed")),
    security(("bearer" = [])))]
async fn update_me(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiJson(body): ApiJson<UpdateMeRequest>,
) -> Result<Json<UserResponse>, Error> {
    if body.role.is_some() || body.project_ids.is_some() {
        return Err(Error::new(
            causerie_core::ErrorCode::FieldNotAllowed,
            "role and project_ids are set by a tenant admin: PATCH /v1/users/{id}",
        ));
    }
    let message = pb::UpdateMeRequest {
        first_name: body.first_name,
        last_name: body.last_name,
        email: body.email,
        pseudonym: body.pseudonym,
        languages: string_list(body.languages),
        skills: string_list(body.skills),
    };
    let user = state.accounts.clone().update_me(caller.forward(message)?).await?;
    Ok(Json(user.into_inner().into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    #[schema(min_length = 12, max_length = 128)]
    pub new_password: String,
}

/// The calling user changes its password; every refresh token of the user is revoked.
#[utoipa::path(put, path = "/v1/me/password", tag = "accounts", request_body = ChangePasswordRequest,
    responses((status = 204, description = "changed"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn change_password(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, Error> {
    let message =
        pb::ChangePasswordRequest { current_password: body.current_password, new_password: body.new_password };
    state.accounts.clone().change_password(caller.forward(message)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmEmailRequest {
    pub token: String,
}

/// Confirms a new e-mail address with the token mailed to it.
#[utoipa::path(post, path = "/v1/me/email-confirmation", tag = "accounts", request_body = ConfirmEmailRequest,
    responses((status = 204, description = "the new address is the user's"),
              (status = 409, description = "conflict: the e-mail is taken"),
              (status = 422, description = "invalid_request: token invalid, used or expired")))]
async fn confirm_email_change(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<ConfirmEmailRequest>,
) -> Result<StatusCode, Error> {
    let request =
        for_service(&state.service_token, pb::ConfirmEmailChangeRequest { token: body.token }, client).await?;
    state.accounts.clone().confirm_email_change(request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public keys that verify user tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "accounts",
    responses((status = 200, description = "a JSON Web Key Set")))]
async fn jwks(State(state): State<AppState>) -> Result<Response, Error> {
    let response = state.accounts.clone().get_jwks(forwarded(pb::GetJwksRequest {}, None, None)?).await?;
    // Accounts sends the document ready to serve.
    let document = response.into_inner().jwks_json;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], document).into_response())
}
