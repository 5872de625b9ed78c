//! The accounts gRPC API: wire messages in, domain calls, wire messages out. One interceptor
//! verifies the forwarded token of every call (`AuthInterceptor::allowing_anonymous`, set in
//! `lib.rs`); each RPC then says whose call it takes. The key set and the service token are open;
//! sign-in, refresh, logout, password reset, e-mail confirmation and the API-key exchange, whose
//! callers have no token of their own, need a service token (the gateway makes them); the rest
//! need a tenant user's, an API key's or a staff member's token.

use causerie_auth::transport::caller_of;
use causerie_auth::{Audience, Caller, Role};
use causerie_core::{Error, StaffId};
use causerie_proto::accounts::v1 as pb;
use causerie_proto::time::{from_timestamp, to_timestamp};
use pb::accounts_service_server::AccountsService;
use tonic::{Request, Response, Status};

mod privacy;

pub use privacy::PrivacyApi;

use crate::AppState;
use crate::domain::actor::Actor;
use crate::domain::tenancy::TenantStatus;
use crate::domain::{api_keys, audit, legal, service_tokens, sign_in, support, tenancy, users};
use crate::store::TenantRow;
use crate::store::api_keys::ApiKeyRow;
use crate::store::audit::AuditRow;
use crate::store::support::SupportGrantRow;
use crate::store::users::UserRow;

/// The metadata key the gateway puts the client's address in.
pub const CLIENT_ADDRESS: &str = "causerie-client-address";

pub struct AccountsApi {
    state: AppState,
}

type Answer<T> = Result<Response<T>, Status>;

pub(crate) fn source_address<T>(request: &Request<T>) -> Option<String> {
    request.metadata().get(CLIENT_ADDRESS).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

fn time(
    field: &str,
    timestamp: Option<prost_types::Timestamp>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, Error> {
    timestamp
        .map(|time| from_timestamp(time).ok_or_else(|| Error::invalid_field(field, "is not a valid time")))
        .transpose()
}

impl AccountsApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    /// The RPCs whose callers have no token of their own (sign-in, reset, API keys) are for the
    /// services, the gateway first, and need a service token.
    fn require_service<T>(&self, request: &Request<T>) -> Result<(), Status> {
        caller_of(request, &[Audience::Service]).map(|_| ())
    }

    fn actor<T>(&self, request: &Request<T>) -> Result<Actor, Status> {
        tenant_actor(request)
    }

    fn staff<T>(&self, request: &Request<T>) -> Result<StaffId, Status> {
        match caller_of(request, &[Audience::Staff])? {
            Caller::Staff { staff_id, .. } => Ok(staff_id),
            _ => Err(Error::unauthenticated("a staff token is required").into()),
        }
    }
}

/// The tenant user or API key that the interceptor verified, as the domain's actor.
pub(crate) fn tenant_actor<T>(request: &Request<T>) -> Result<Actor, Status> {
    let caller = caller_of(request, &[Audience::Tenant])?;
    Ok(Actor::from_caller(caller, source_address(request))?)
}

impl From<TenantRow> for pb::Tenant {
    fn from(tenant: TenantRow) -> Self {
        Self {
            id: tenant.id.to_string(),
            name: tenant.name,
            slug: tenant.slug,
            status: tenant.status.as_str().to_owned(),
            contract_end: tenant.contract_end.map(to_timestamp),
            created_at: Some(to_timestamp(tenant.created_at)),
            admin_user_id: None,
            privacy_button: tenant.privacy_button,
            credits_sequence: tenant.credits_sequence,
            translation: tenant.translation,
        }
    }
}

impl From<UserRow> for pb::User {
    fn from(user: UserRow) -> Self {
        // Presence belongs to live chat, which does not report it yet.
        let status = (user.role == Role::Operator).then(|| "unknown".to_owned());
        Self {
            id: user.id.to_string(),
            tenant_id: user.tenant_id.to_string(),
            email: user.email.unwrap_or_default(),
            first_name: user.first_name.unwrap_or_default(),
            last_name: user.last_name.unwrap_or_default(),
            pseudonym: user.pseudonym,
            languages: user.languages,
            skills: user.skills,
            role: user.role.as_str().to_owned(),
            project_ids: user.project_ids.iter().map(ToString::to_string).collect(),
            status,
        }
    }
}

impl From<ApiKeyRow> for pb::ApiKey {
    fn from(key: ApiKeyRow) -> Self {
        Self {
            id: key.id.to_string(),
            name: key.name,
            scopes: key.scopes,
            key: None,
            created_at: Some(to_timestamp(key.created_at)),
            last_used_at: key.last_used_at.map(to_timestamp),
        }
    }
}

impl From<AuditRow> for pb::AuditEntry {
    fn from(entry: AuditRow) -> Self {
        Self {
            id: entry.id.to_string(),
            occurred_at: Some(to_timestamp(entry.occurred_at)),
            actor_kind: entry.actor_kind,
            actor_id: entry.actor_id,
            action: entry.action,
            subject_kind: entry.subject_kind,
            subject_id: entry.subject_id,
            source_address: entry.source_address,
        }
    }
}

impl From<SupportGrantRow> for pb::SupportGrant {
    fn from(grant: SupportGrantRow) -> Self {
        Self {
            id: grant.id.to_string(),
            scope: grant.scope,
            expires_at: Some(to_timestamp(grant.expires_at)),
            reason: grant.reason,
            created_at: Some(to_timestamp(grant.created_at)),
            revoked_at: grant.revoked_at.map(to_timestamp),
        }
    }
}

impl From<sign_in::IssuedTokens> for pb::TokenResponse {
    fn from(tokens: sign_in::IssuedTokens) -> Self {
        Self {
            access_token: tokens.access_token,
            expires_in: tokens.expires_in,
            refresh_token: tokens.refresh_token.unwrap_or_default(),
            legal_notice_pending: tokens.legal_notice_pending,
        }
    }
}

/// Runs a sign-in to its end even when the caller goes away: an attempt is counted before the
/// password is checked and settled after, and a cancelled request must not leave it counted as a
/// failure. The task is awaited; it only outlives a request that was abandoned, by one hash.
async fn run_to_completion<T: Send + 'static>(
    sign_in: impl Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    tokio::spawn(sign_in).await.map_err(Error::internal)?
}

fn user_page((users, next): (Vec<UserRow>, Option<String>)) -> pb::ListUsersResponse {
    pb::ListUsersResponse {
        users: users.into_iter().map(pb::User::from).collect(),
        next_cursor: next.unwrap_or_default(),
    }
}

fn list_values(list: Option<pb::StringList>) -> Option<Vec<String>> {
    list.map(|list| list.values)
}

#[tonic::async_trait]
impl AccountsService for AccountsApi {
    async fn staff_login(&self, request: Request<pb::StaffLoginRequest>) -> Answer<pb::TokenResponse> {
        self.require_service(&request)?;
        let address = source_address(&request);
        let request = request.into_inner();
        let state = self.state.clone();
        let tokens = run_to_completion(async move {
            sign_in::staff_login(
                &state,
                &request.email,
                request.password,
                request.totp_code.as_deref(),
                address.as_deref(),
            )
            .await
        })
        .await?;
        Ok(Response::new(tokens.into()))
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> Answer<pb::TokenResponse> {
        self.require_service(&request)?;
        let address = source_address(&request);
        let request = request.into_inner();
        let state = self.state.clone();
        let tokens = run_to_completion(async move {
            sign_in::login(&state, &request.tenant, &request.email, request.password, address.as_deref()).await
        })
        .await?;
        Ok(Response::new(tokens.into()))
    }

    async fn create_tenant(&self, request: Request<pb::CreateTenantRequest>) -> Answer<pb::Tenant> {
        caller_of(&request, &[Audience::Staff])?;
        let request = request.into_inner();
        let admin = request.admin.ok_or_else(|| Error::invalid_field("admin", "is required"))?;
        let contract_end = time("contract_end", request.contract_end)?;
        let created = tenancy::create_tenant(
            &self.state,
            tenancy::TenantRequest {
                name: request.name,
                slug: request.slug,
                contract_end,
                admin_email: admin.email,
                admin_first_name: admin.first_name,
                admin_last_name: admin.last_name,
                admin_password: admin.password,
            },
        )
        .await?;
        let mut tenant = pb::Tenant::from(created.tenant);
        tenant.admin_user_id = Some(created.admin_user_id.to_string());
        Ok(Response::new(tenant))
    }

    async fn list_tenants(&self, request: Request<pb::ListTenantsRequest>) -> Answer<pb::ListTenantsResponse> {
        caller_of(&request, &[Audience::Staff])?;
        let request = request.into_inner();
        let (tenants, next_cursor) = tenancy::list_tenants(&self.state, request.limit, &request.cursor).await?;
        Ok(Response::new(pb::ListTenantsResponse {
            tenants: tenants.into_iter().map(pb::Tenant::from).collect(),
            next_cursor: next_cursor.unwrap_or_default(),
        }))
    }

    async fn update_tenant(&self, request: Request<pb::UpdateTenantRequest>) -> Answer<pb::Tenant> {
        caller_of(&request, &[Audience::Staff])?;
        let request = request.into_inner();
        let changes = crate::store::TenantChanges {
            status: request.status.as_deref().map(TenantStatus::parse).transpose()?,
            contract_end: time("contract_end", request.contract_end)?,
            privacy_button: request.privacy_button,
            credits_sequence: request.credits_sequence,
            translation: request.translation,
        };
        let tenant = crate::domain::tenant_features::update_tenant(&self.state, &request.id, changes).await?;
        Ok(Response::new(tenant.into()))
    }

    async fn get_tenant(&self, request: Request<pb::GetTenantRequest>) -> Answer<pb::Tenant> {
        caller_of(&request, &[Audience::Staff])?;
        let tenant = tenancy::tenant(&self.state, &request.into_inner().id).await?;
        Ok(Response::new(tenant.into()))
    }

    async fn get_me(&self, request: Request<pb::GetMeRequest>) -> Answer<pb::User> {
        let actor = self.actor(&request)?;
        Ok(Response::new(users::me(&self.state, &actor).await?.into()))
    }

    async fn issue_service_token(&self, request: Request<pb::IssueServiceTokenRequest>) -> Answer<pb::TokenResponse> {
        let request = request.into_inner();
        let tokens = service_tokens::issue(&self.state, &request.service, &request.secret)?;
        Ok(Response::new(tokens.into()))
    }

    async fn get_jwks(&self, _request: Request<pb::GetJwksRequest>) -> Answer<pb::GetJwksResponse> {
        let jwks = self.state.keys.current().jwks(self.state.clock.now());
        let jwks_json = serde_json::to_string(&jwks).map_err(Error::internal)?;
        Ok(Response::new(pb::GetJwksResponse { jwks_json }))
    }

    async fn refresh(&self, request: Request<pb::RefreshRequest>) -> Answer<pb::TokenResponse> {
        self.require_service(&request)?;
        let tokens = sign_in::refresh(&self.state, &request.into_inner().refresh_token).await?;
        Ok(Response::new(tokens.into()))
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> Answer<pb::Empty> {
        self.require_service(&request)?;
        sign_in::logout(&self.state, &request.into_inner().refresh_token).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn request_password_reset(&self, request: Request<pb::PasswordResetRequest>) -> Answer<pb::Empty> {
        self.require_service(&request)?;
        let address = source_address(&request);
        let request = request.into_inner();
        users::request_password_reset(&self.state, &request.tenant, &request.email, address.as_deref()).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn confirm_password_reset(&self, request: Request<pb::ConfirmPasswordResetRequest>) -> Answer<pb::Empty> {
        self.require_service(&request)?;
        let request = request.into_inner();
        users::confirm_password_reset(&self.state, &request.token, request.new_password).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn update_me(&self, request: Request<pb::UpdateMeRequest>) -> Answer<pb::User> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let update = users::UserUpdate {
            first_name: request.first_name,
            last_name: request.last_name,
            email: request.email,
            pseudonym: request.pseudonym,
            languages: list_values(request.languages),
            skills: list_values(request.skills),
            role: None,
            project_ids: None,
        };
        Ok(Response::new(users::update_me(&self.state, &actor, update).await?.into()))
    }

    async fn change_password(&self, request: Request<pb::ChangePasswordRequest>) -> Answer<pb::Empty> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        users::change_password(&self.state, &actor, request.current_password, request.new_password).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn confirm_email_change(&self, request: Request<pb::ConfirmEmailChangeRequest>) -> Answer<pb::Empty> {
        self.require_service(&request)?;
        users::confirm_email_change(&self.state, &request.into_inner().token).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn publish_legal_notice(&self, request: Request<pb::PublishLegalNoticeRequest>) -> Answer<pb::LegalNotice> {
        let actor = self.actor(&request)?;
        let notice = legal::publish(&self.state, &actor, &request.into_inner().text).await?;
        Ok(Response::new(pb::LegalNotice { version: notice.version, text: notice.text, accepted: notice.accepted }))
    }

    async fn get_current_legal_notice(
        &self,
        request: Request<pb::GetCurrentLegalNoticeRequest>,
    ) -> Answer<pb::LegalNotice> {
        let actor = self.actor(&request)?;
        let notice = legal::current(&self.state, &actor).await?;
        Ok(Response::new(pb::LegalNotice { version: notice.version, text: notice.text, accepted: notice.accepted }))
    }

    async fn accept_legal_notice(&self, request: Request<pb::AcceptLegalNoticeRequest>) -> Answer<pb::Empty> {
        let actor = self.actor(&request)?;
        legal::accept(&self.state, &actor, request.into_inner().version).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn create_user(&self, request: Request<pb::CreateUserRequest>) -> Answer<pb::User> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let user = users::create(
            &self.state,
            &actor,
            users::NewUserRequest {
                email: request.email,
                first_name: request.first_name,
                last_name: request.last_name,
                role: request.role,
                password: request.password,
                pseudonym: request.pseudonym,
                languages: request.languages,
                skills: request.skills,
                project_ids: request.project_ids,
            },
        )
        .await?;
        Ok(Response::new(user.into()))
    }

    async fn list_users(&self, request: Request<pb::ListUsersRequest>) -> Answer<pb::ListUsersResponse> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        Ok(Response::new(user_page(users::list(&self.state, &actor, request.limit, &request.cursor).await?)))
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> Answer<pb::User> {
        let actor = self.actor(&request)?;
        Ok(Response::new(users::get(&self.state, &actor, &request.into_inner().id).await?.into()))
    }

    async fn update_user(&self, request: Request<pb::UpdateUserRequest>) -> Answer<pb::User> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let update = users::UserUpdate {
            first_name: request.first_name,
            last_name: request.last_name,
            email: request.email,
            pseudonym: request.pseudonym,
            languages: list_values(request.languages),
            skills: list_values(request.skills),
            role: request.role,
            project_ids: list_values(request.project_ids),
        };
        Ok(Response::new(users::update(&self.state, &actor, &request.id, update).await?.into()))
    }

    async fn erase_user(&self, request: Request<pb::EraseUserRequest>) -> Answer<pb::Empty> {
        let actor = self.actor(&request)?;
        users::erase(&self.state, &actor, &request.into_inner().id).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn search_operators(&self, request: Request<pb::SearchOperatorsRequest>) -> Answer<pb::ListUsersResponse> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let page = users::search_operators(
            &self.state,
            &actor,
            request.language.as_deref(),
            request.skill.as_deref(),
            request.limit,
            &request.cursor,
        )
        .await?;
        Ok(Response::new(user_page(page)))
    }

    async fn create_api_key(&self, request: Request<pb::CreateApiKeyRequest>) -> Answer<pb::ApiKey> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let created = api_keys::create(&self.state, &actor, &request.name, &request.scopes).await?;
        let mut key = pb::ApiKey::from(created.row);
        key.key = Some(created.key);
        Ok(Response::new(key))
    }

    async fn list_api_keys(&self, request: Request<pb::ListApiKeysRequest>) -> Answer<pb::ListApiKeysResponse> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let (keys, next) = api_keys::list(&self.state, &actor, request.limit, &request.cursor).await?;
        Ok(Response::new(pb::ListApiKeysResponse {
            keys: keys.into_iter().map(pb::ApiKey::from).collect(),
            next_cursor: next.unwrap_or_default(),
        }))
    }

    async fn revoke_api_key(&self, request: Request<pb::RevokeApiKeyRequest>) -> Answer<pb::Empty> {
        let actor = self.actor(&request)?;
        api_keys::revoke(&self.state, &actor, &request.into_inner().id).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn authenticate_api_key(&self, request: Request<pb::AuthenticateApiKeyRequest>) -> Answer<pb::TokenResponse> {
        self.require_service(&request)?;
        let tokens = api_keys::authenticate(&self.state, &request.into_inner().key).await?;
        Ok(Response::new(tokens.into()))
    }

    async fn list_audit_log(&self, request: Request<pb::ListAuditLogRequest>) -> Answer<pb::ListAuditLogResponse> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let query = audit::AuditQuery {
            actor_id: request.actor_id.as_deref(),
            action: request.action.as_deref(),
            from: time("from", request.from)?,
            to: time("to", request.to)?,
            limit: request.limit,
            cursor: &request.cursor,
        };
        let (entries, next) = audit::list(&self.state, &actor, &query).await?;
        Ok(Response::new(pb::ListAuditLogResponse {
            entries: entries.into_iter().map(pb::AuditEntry::from).collect(),
            next_cursor: next.unwrap_or_default(),
        }))
    }

    async fn verify_audit_log(&self, request: Request<pb::VerifyAuditLogRequest>) -> Answer<pb::AuditLogVerification> {
        let actor = self.actor(&request)?;
        let verification = audit::check(&self.state, &actor).await?;
        Ok(Response::new(pb::AuditLogVerification {
            valid: verification.valid,
            entries: verification.entries,
            first_invalid_id: verification.first_invalid_id.map(|id| id.to_string()),
        }))
    }

    async fn create_support_grant(&self, request: Request<pb::CreateSupportGrantRequest>) -> Answer<pb::SupportGrant> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let expires_at = time("expires_at", request.expires_at)?;
        let grant =
            support::create_grant(&self.state, &actor, &request.scope, expires_at, request.reason.as_deref()).await?;
        Ok(Response::new(grant.into()))
    }

    async fn list_support_grants(
        &self,
        request: Request<pb::ListSupportGrantsRequest>,
    ) -> Answer<pb::ListSupportGrantsResponse> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let (grants, next) = support::list_grants(&self.state, &actor, request.limit, &request.cursor).await?;
        Ok(Response::new(pb::ListSupportGrantsResponse {
            grants: grants.into_iter().map(pb::SupportGrant::from).collect(),
            next_cursor: next.unwrap_or_default(),
        }))
    }

    async fn revoke_support_grant(&self, request: Request<pb::RevokeSupportGrantRequest>) -> Answer<pb::Empty> {
        let actor = self.actor(&request)?;
        support::revoke_grant(&self.state, &actor, &request.into_inner().id).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn list_tenant_users(&self, request: Request<pb::ListTenantUsersRequest>) -> Answer<pb::ListUsersResponse> {
        let staff_id = self.staff(&request)?;
        let address = source_address(&request);
        let request = request.into_inner();
        let page =
            support::tenant_users(&self.state, staff_id, &request.tenant_id, request.limit, &request.cursor, address)
                .await?;
        Ok(Response::new(user_page(page)))
    }

    async fn record_support_read(&self, request: Request<pb::RecordSupportReadRequest>) -> Answer<pb::Empty> {
        let staff_id = self.staff(&request)?;
        let address = source_address(&request);
        let read = request.into_inner();
        let subjects = support::SupportRead {
            action: &read.action,
            subject_kind: &read.subject_kind,
            subject_ids: &read.subject_ids,
        };
        support::record_support_read(&self.state, staff_id, &read.tenant_id, subjects, address).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn record_subprocessor_call(&self, request: Request<pb::RecordSubprocessorCallRequest>) -> Answer<pb::Empty> {
        let caller = caller_of(&request, &[Audience::Tenant, Audience::Service])?;
        let address = source_address(&request);
        let call = request.into_inner();
        let actor = match caller {
            Caller::Service { service, .. } => {
                let tenant_id = call.tenant_id.parse().map_err(|_| Error::not_found("no such tenant"))?;
                Actor::service(&service, tenant_id)
            }
            tenant_caller => {
                // Whoever may read the knowledge base whose content is sent.
                let actor = Actor::from_caller(tenant_caller, address)?;
                actor.require_user_or_scope(causerie_auth::Scope::KnowledgeBaseRead)?;
                actor
            }
        };
        let recorded = audit::SubprocessorCall {
            kind: &call.kind,
            provider: &call.provider,
            subject_kind: &call.subject_kind,
            subject_id: &call.subject_id,
        };
        audit::record_subprocessor_call(&self.state, &actor, recorded).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn rotate_signing_keys(
        &self,
        request: Request<pb::RotateSigningKeysRequest>,
    ) -> Answer<pb::SigningKeyRotation> {
        let staff_id = self.staff(&request)?;
        let (key_id, signs_from) = self.state.keys.rotate().await?;
        tracing::info!(staff.id = %staff_id, key_id, %signs_from, "signing key rotated by staff");
        Ok(Response::new(pb::SigningKeyRotation { key_id, signs_from: Some(to_timestamp(signs_from)) }))
    }

    async fn start_totp_enrollment(
        &self,
        request: Request<pb::StartTotpEnrollmentRequest>,
    ) -> Answer<pb::TotpEnrollment> {
        let staff_id = self.staff(&request)?;
        let enrollment = support::start_totp_enrollment(&self.state, staff_id).await?;
        Ok(Response::new(pb::TotpEnrollment { secret: enrollment.secret, otpauth_uri: enrollment.otpauth_uri }))
    }

    async fn confirm_totp_enrollment(&self, request: Request<pb::ConfirmTotpEnrollmentRequest>) -> Answer<pb::Empty> {
        let staff_id = self.staff(&request)?;
        support::confirm_totp_enrollment(&self.state, staff_id, &request.into_inner().code).await?;
        Ok(Response::new(pb::Empty {}))
    }
}
