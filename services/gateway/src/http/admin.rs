//! The admin API, staff only, on its own listener: staff sign-in and second factor, tenant
//! management, and a tenant's users while it grants support access.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use causerie_core::Error;
use causerie_proto::accounts::v1 as pb;
use causerie_proto::time::{from_timestamp, to_timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::knowledge_base::EntryResponse;
use super::sessions::TokenResponse;
use super::users::{UserResponse, user_page};
use super::wire::{ApiJson, ApiQuery, Page, PageQuery, page_limit};
use crate::caller::{ClientAddress, StaffContext};
use crate::state::AppState;
use crate::upstream::for_service;

/// Staff sign-in, the one admin route reached without a staff token.
pub fn public_router() -> Router<AppState> {
    Router::new().route("/admin/v1/auth/login", post(staff_login))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/tenants", post(create_tenant).get(list_tenants))
        .route("/admin/v1/tenants/{id}", get(get_tenant).patch(update_tenant))
        .route("/admin/v1/subprocessors", get(list_subprocessors))
        .route("/admin/v1/subprocessors/{id}", put(put_subprocessor))
        .route("/admin/v1/tenants/{id}/users", get(tenant_users))
        .route("/admin/v1/tenants/{id}/projects/{pid}/knowledge-base/entries", get(tenant_entries))
        .route("/admin/v1/signing-keys/rotation", post(rotate_signing_keys))
        .route("/admin/v1/me/totp", post(start_totp))
        .route("/admin/v1/me/totp/confirm", post(confirm_totp))
        .route("/admin/v1/test-clock", post(advance_test_clock))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffLoginRequest {
    pub email: String,
    pub password: String,
    /// Required once the staff member has enrolled a second factor.
    pub totp_code: Option<String>,
}

/// Signs a member of the support staff in.
#[utoipa::path(post, path = "/admin/v1/auth/login", tag = "admin", request_body = StaffLoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, description = "unauthenticated"),
              (status = 429, description = "rate_limited")))]
async fn staff_login(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<StaffLoginRequest>,
) -> Result<Json<TokenResponse>, Error> {
    let message = pb::StaffLoginRequest { email: body.email, password: body.password, totp_code: body.totp_code };
    let request = for_service(&state.service_token, message, client).await?;
    let token = state.accounts.clone().staff_login(request).await?;
    Ok(Json(token.into_inner().into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenantAdmin {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    pub name: String,
    pub slug: String,
    pub contract_end: Option<chrono::DateTime<chrono::Utc>>,
    pub admin: NewTenantAdmin,
}

#[derive(Serialize, ToSchema)]
pub struct TenantResponse {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub status: String,
    pub contract_end: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_user_id: Option<String>,
    pub features: TenantFeatures,
}

/// Switches support sets per tenant.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TenantFeatures {
    /// The widget shows a privacy-information button (on by default).
    pub privacy_button: bool,
    /// The "credits" sequence is offered (on by default).
    pub credits_sequence: bool,
    /// The translation connector (off until support enables it, and only while the tenant's
    /// policy lets data leave the EU).
    pub translation: bool,
}

impl From<pb::Tenant> for TenantResponse {
    fn from(tenant: pb::Tenant) -> Self {
        Self {
            id: tenant.id,
            name: tenant.name,
            slug: tenant.slug,
            status: tenant.status,
            contract_end: tenant.contract_end.and_then(from_timestamp),
            created_at: tenant.created_at.and_then(from_timestamp),
            admin_user_id: tenant.admin_user_id,
            features: TenantFeatures {
                privacy_button: tenant.privacy_button,
                credits_sequence: tenant.credits_sequence,
                translation: tenant.translation,
            },
        }
    }
}

/// Creates a tenant and its first admin user.
#[utoipa::path(post, path = "/admin/v1/tenants", tag = "admin", request_body = CreateTenantRequest,
    responses((status = 201, body = TenantResponse), (status = 401, description = "unauthenticated"),
              (status = 409, description = "conflict: the slug is taken"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn create_tenant(
    State(state): State<AppState>,
    staff: StaffContext,
    ApiJson(body): ApiJson<CreateTenantRequest>,
) -> Result<(StatusCode, Json<TenantResponse>), Error> {
    let message = pb::CreateTenantRequest {
        name: body.name,
        slug: body.slug,
        contract_end: body.contract_end.map(to_timestamp),
        admin: Some(pb::NewTenantAdmin {
            email: body.admin.email,
            first_name: body.admin.first_name,
            last_name: body.admin.last_name,
            password: body.admin.password,
        }),
    };
    let tenant = state.accounts.clone().create_tenant(staff.forward(message)?).await?;
    Ok((StatusCode::CREATED, Json(tenant.into_inner().into())))
}

/// Every tenant of the platform, a page at a time.
#[utoipa::path(get, path = "/admin/v1/tenants", tag = "admin", params(PageQuery),
    responses((status = 200, body = Page<TenantResponse>), (status = 401, description = "unauthenticated")),
    security(("bearer" = [])))]
async fn list_tenants(
    State(state): State<AppState>,
    staff: StaffContext,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<TenantResponse>>, Error> {
    let message = pb::ListTenantsRequest { limit: page_limit(page.limit)?, cursor: page.cursor.unwrap_or_default() };
    let response = state.accounts.clone().list_tenants(staff.forward(message)?).await?.into_inner();
    Ok(Json(Page::of(response.tenants, response.next_cursor)))
}

/// One tenant.
#[utoipa::path(get, path = "/admin/v1/tenants/{id}", tag = "admin",
    responses((status = 200, body = TenantResponse), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn get_tenant(
    State(state): State<AppState>,
    staff: StaffContext,
    Path(id): Path<String>,
) -> Result<Json<TenantResponse>, Error> {
    let tenant = state.accounts.clone().get_tenant(staff.forward(pb::GetTenantRequest { id })?).await?;
    Ok(Json(tenant.into_inner().into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureChanges {
    pub privacy_button: Option<bool>,
    pub credits_sequence: Option<bool>,
    pub translation: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantRequest {
    /// `active` or `suspended`.
    pub status: Option<String>,
    pub contract_end: Option<chrono::DateTime<chrono::Utc>>,
    pub features: Option<FeatureChanges>,
}

/// Changes a tenant's status, contract end or features. Translation cannot be enabled while the
/// tenant's policy keeps data in the EU (`422 residency_conflict`).
#[utoipa::path(patch, path = "/admin/v1/tenants/{id}", tag = "admin", request_body = UpdateTenantRequest,
    responses((status = 200, body = TenantResponse), (status = 404, description = "not_found"),
              (status = 422, description = "invalid_request or residency_conflict")),
    security(("bearer" = [])))]
async fn update_tenant(
    State(state): State<AppState>,
    staff: StaffContext,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateTenantRequest>,
) -> Result<Json<TenantResponse>, Error> {
    let features =
        body.features.unwrap_or(FeatureChanges { privacy_button: None, credits_sequence: None, translation: None });
    let message = pb::UpdateTenantRequest {
        id,
        status: body.status,
        contract_end: body.contract_end.map(to_timestamp),
        privacy_button: features.privacy_button,
        credits_sequence: features.credits_sequence,
        translation: features.translation,
    };
    let tenant = state.accounts.clone().update_tenant(staff.forward(message)?).await?.into_inner();
    if let Ok(tenant_id) = tenant.id.parse() {
        state.widget_projects.forget_tenant(tenant_id);
    }
    Ok(Json(tenant.into()))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SubprocessorBody {
    /// `hosting`, `tts` or `translation`.
    pub kind: String,
    pub name: String,
    /// ISO 3166 code, such as `FR`.
    pub country: String,
    pub outside_eu: bool,
    /// Required when data leaves the EU (GDPR Art. 46), such as standard contractual clauses.
    pub safeguard: Option<String>,
    /// What it does for the platform.
    pub purpose: String,
}

#[derive(Serialize, ToSchema)]
pub struct SubprocessorResponse {
    pub id: String,
    #[serde(flatten)]
    pub body: SubprocessorBody,
}

impl From<pb::Subprocessor> for SubprocessorResponse {
    fn from(row: pb::Subprocessor) -> Self {
        Self {
            id: row.id,
            body: SubprocessorBody {
                kind: row.kind,
                name: row.name,
                country: row.country,
                outside_eu: row.outside_eu,
                safeguard: row.safeguard,
                purpose: row.purpose,
            },
        }
    }
}

/// The platform's sub-processors, a page at a time in id order; a tenant's policy says which
/// apply to it.
#[utoipa::path(get, path = "/admin/v1/subprocessors", tag = "admin", params(PageQuery),
    responses((status = 200, body = Page<SubprocessorResponse>), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn list_subprocessors(
    State(state): State<AppState>,
    staff: StaffContext,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<SubprocessorResponse>>, Error> {
    let message =
        pb::ListSubprocessorsRequest { limit: page_limit(page.limit)?, cursor: page.cursor.unwrap_or_default() };
    let page = state.privacy.clone().list_subprocessors(staff.forward(message)?).await?.into_inner();
    Ok(Json(Page::of(page.subprocessors, page.next_cursor)))
}

/// Records or corrects a sub-processor.
#[utoipa::path(put, path = "/admin/v1/subprocessors/{id}", tag = "admin", request_body = SubprocessorBody,
    responses((status = 200, body = SubprocessorResponse), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn put_subprocessor(
    State(state): State<AppState>,
    staff: StaffContext,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<SubprocessorBody>,
) -> Result<Json<SubprocessorResponse>, Error> {
    let message = pb::Subprocessor {
        id,
        kind: body.kind,
        name: body.name,
        country: body.country,
        outside_eu: body.outside_eu,
        safeguard: body.safeguard,
        purpose: body.purpose,
    };
    let row = state.privacy.clone().put_subprocessor(staff.forward(message)?).await?;
    Ok(Json(row.into_inner().into()))
}

/// A tenant's users, only while the tenant grants support access; `404` otherwise. Every user
/// shown is recorded in the tenant's audit log.
#[utoipa::path(get, path = "/admin/v1/tenants/{id}/users", tag = "admin", params(PageQuery),
    responses((status = 200, body = Page<UserResponse>), (status = 404, description = "not_found: no such tenant, or no grant")),
    security(("bearer" = [])))]
async fn tenant_users(
    State(state): State<AppState>,
    staff: StaffContext,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<UserResponse>>, Error> {
    let message = pb::ListTenantUsersRequest {
        tenant_id: id,
        limit: page_limit(page.limit)?,
        cursor: page.cursor.unwrap_or_default(),
    };
    let response = state.accounts.clone().list_tenant_users(staff.forward(message)?).await?;
    Ok(Json(user_page(response.into_inner())))
}

/// A tenant's knowledge-base entries, for assistance or maintenance, only while the tenant grants
/// support access: each entry shown is in the tenant's audit log. `404` otherwise.
#[utoipa::path(get, path = "/admin/v1/tenants/{id}/projects/{pid}/knowledge-base/entries", tag = "admin",
    params(PageQuery),
    responses((status = 200, body = Page<EntryResponse>), (status = 404, description = "not_found: no such tenant, project or grant"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn tenant_entries(
    State(state): State<AppState>,
    staff: StaffContext,
    Path((id, pid)): Path<(String, String)>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<EntryResponse>>, Error> {
    let message = causerie_proto::assistant::v1::SupportListEntriesRequest {
        tenant_id: id,
        project_id: pid,
        limit: page_limit(page.limit)?,
        cursor: page.cursor.unwrap_or_default(),
    };
    let page = state.assistant.clone().support_list_entries(staff.forward(message)?).await?.into_inner();
    Ok(Json(Page::of(page.entries, page.next_cursor)))
}

#[derive(Serialize, ToSchema)]
pub struct RotationResponse {
    pub key_id: String,
    /// When the new key starts signing; it is published in the key set from now.
    pub signs_from: Option<chrono::DateTime<chrono::Utc>>,
}

/// Starts a new token-signing key. Nobody is logged out: tokens of the previous key stay valid
/// until they expire. Keys also rotate on their own every 30 days.
#[utoipa::path(post, path = "/admin/v1/signing-keys/rotation", tag = "admin",
    responses((status = 202, body = RotationResponse), (status = 401, description = "unauthenticated")),
    security(("bearer" = [])))]
async fn rotate_signing_keys(
    State(state): State<AppState>,
    staff: StaffContext,
) -> Result<(StatusCode, Json<RotationResponse>), Error> {
    let rotation =
        state.accounts.clone().rotate_signing_keys(staff.forward(pb::RotateSigningKeysRequest {})?).await?.into_inner();
    state.verifier.want_key_refresh();
    Ok((
        StatusCode::ACCEPTED,
        Json(RotationResponse { key_id: rotation.key_id, signs_from: rotation.signs_from.and_then(from_timestamp) }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct TotpEnrollmentResponse {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    pub otpauth_uri: String,
}

/// Starts enrolling a TOTP second factor (RFC 6238, 6 digits, 30 s).
#[utoipa::path(post, path = "/admin/v1/me/totp", tag = "admin",
    responses((status = 200, body = TotpEnrollmentResponse), (status = 409, description = "conflict: already enrolled")),
    security(("bearer" = [])))]
async fn start_totp(State(state): State<AppState>, staff: StaffContext) -> Result<Json<TotpEnrollmentResponse>, Error> {
    let enrollment = state
        .accounts
        .clone()
        .start_totp_enrollment(staff.forward(pb::StartTotpEnrollmentRequest {})?)
        .await?
        .into_inner();
    Ok(Json(TotpEnrollmentResponse { secret: enrollment.secret, otpauth_uri: enrollment.otpauth_uri }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTotpRequest {
    pub code: String,
}

/// Confirms the enrolment with a first code; from then on sign-in asks for a code.
#[utoipa::path(post, path = "/admin/v1/me/totp/confirm", tag = "admin", request_body = ConfirmTotpRequest,
    responses((status = 204, description = "enrolled"), (status = 422, description = "invalid_request: wrong code")),
    security(("bearer" = [])))]
async fn confirm_totp(
    State(state): State<AppState>,
    staff: StaffContext,
    ApiJson(body): ApiJson<ConfirmTotpRequest>,
) -> Result<axum::http::StatusCode, Error> {
    state
        .accounts
        .clone()
        .confirm_totp_enrollment(staff.forward(pb::ConfirmTotpEnrollmentRequest { code: body.code })?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceClockRequest {
    /// Whole days to move every service's clock forward, 1 to 3650.
    pub advance_days: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ClockResponse {
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Moves the shared test clock of every service forward, so retention periods can be crossed
/// end to end, and answers once every running service reads the moved time (`503` naming the
/// ones that did not within 5 s). Exists only in test mode (`CAUSERIE_TEST_MODE=1`); `404` otherwise.
#[utoipa::path(post, path = "/admin/v1/test-clock", tag = "admin", request_body = AdvanceClockRequest,
    responses((status = 200, body = ClockResponse), (status = 404, description = "not_found: not in test mode"),
              (status = 422, description = "invalid_request"),
              (status = 503, description = "unavailable: a service did not read the moved clock in time")),
    security(("bearer" = [])))]
async fn advance_test_clock(
    State(state): State<AppState>,
    _staff: StaffContext,
    ApiJson(body): ApiJson<AdvanceClockRequest>,
) -> Result<Json<ClockResponse>, Error> {
    if !state.clock.is_test_mode() {
        return Err(Error::not_found("no such route"));
    }
    if !(1..=3650).contains(&body.advance_days) {
        return Err(Error::invalid_field("advance_days", "must be a whole number of days from 1 to 3650"));
    }
    let advanced = state.clock.advance(chrono::Duration::days(body.advance_days)).await;
    let now = advanced.ok_or_else(|| Error::not_found("no such route"))?.map_err(Error::unavailable)?;
    tracing::warn!(advance_days = body.advance_days, %now, "test clock moved");
    Ok(Json(ClockResponse { now }))
}
