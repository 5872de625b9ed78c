//! The accounts gRPC API: wire messages in, domain calls, wire messages out. Logins and the key
//! set are open; every other call verifies the caller's forwarded token first.

use causerie_auth::transport::verify_metadata;
use causerie_auth::{Audience, Caller};
use causerie_core::Error;
use causerie_proto::accounts::v1 as pb;
use causerie_proto::time::to_timestamp;
use pb::accounts_service_server::AccountsService;
use tonic::{Request, Response, Status};

use crate::AppState;
use crate::domain::{sign_in, tenancy};
use crate::store::{TenantRow, UserRow};

pub struct AccountsApi {
    state: AppState,
}

impl AccountsApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    fn caller<T>(&self, request: &Request<T>, audience: Audience) -> Result<Caller, Status> {
        verify_metadata(&self.state.keys.verifier, request.metadata(), &[audience])
            .map_err(|error| Status::from(Error::from(error)))
    }
}

impl From<TenantRow> for pb::Tenant {
    fn from(tenant: TenantRow) -> Self {
        Self {
            id: tenant.id.to_string(),
            name: tenant.name,
            slug: tenant.slug,
            status: tenant.status,
            contract_end: tenant.contract_end.map(to_timestamp),
            created_at: Some(to_timestamp(tenant.created_at)),
            admin_user_id: None,
        }
    }
}

impl From<UserRow> for pb::User {
    fn from(user: UserRow) -> Self {
        Self {
            id: user.id.to_string(),
            tenant_id: user.tenant_id.to_string(),
            email: user.email,
            first_name: user.first_name,
            last_name: user.last_name,
            pseudonym: user.pseudonym,
            languages: user.languages,
            skills: user.skills,
            role: user.role,
            project_ids: Vec::new(),
        }
    }
}

fn token_response(token: sign_in::IssuedToken) -> Response<pb::TokenResponse> {
    Response::new(pb::TokenResponse { access_token: token.access_token, expires_in: token.expires_in })
}

#[tonic::async_trait]
impl AccountsService for AccountsApi {
    async fn staff_login(
        &self,
        request: Request<pb::StaffLoginRequest>,
    ) -> Result<Response<pb::TokenResponse>, Status> {
        let request = request.into_inner();
        let token = sign_in::staff_login(&self.state, &request.email, request.password).await?;
        Ok(token_response(token))
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> Result<Response<pb::TokenResponse>, Status> {
        let request = request.into_inner();
        let token = sign_in::login(&self.state, &request.tenant, &request.email, request.password).await?;
        Ok(token_response(token))
    }

    async fn create_tenant(&self, request: Request<pb::CreateTenantRequest>) -> Result<Response<pb::Tenant>, Status> {
        self.caller(&request, Audience::Staff)?;
        let request = request.into_inner();
        let admin = request.admin.ok_or_else(|| Error::invalid_field("admin", "is required"))?;
        let contract_end = request
            .contract_end
            .map(|time| {
                causerie_proto::time::from_timestamp(time)
                    .ok_or_else(|| Error::invalid_field("contract_end", "is not a valid time"))
            })
            .transpose()?;
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

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        self.caller(&request, Audience::Staff)?;
        let request = request.into_inner();
        let (tenants, next_cursor) = tenancy::list_tenants(&self.state, request.limit, &request.cursor).await?;
        Ok(Response::new(pb::ListTenantsResponse {
            tenants: tenants.into_iter().map(pb::Tenant::from).collect(),
            next_cursor: next_cursor.unwrap_or_default(),
        }))
    }

    async fn get_tenant(&self, request: Request<pb::GetTenantRequest>) -> Result<Response<pb::Tenant>, Status> {
        self.caller(&request, Audience::Staff)?;
        let tenant = tenancy::tenant(&self.state, &request.into_inner().id).await?;
        Ok(Response::new(tenant.into()))
    }

    async fn get_me(&self, request: Request<pb::GetMeRequest>) -> Result<Response<pb::User>, Status> {
        let caller = self.caller(&request, Audience::Tenant)?;
        let user = sign_in::me(&self.state, &caller).await?;
        Ok(Response::new(user.into()))
    }

    async fn get_jwks(&self, _request: Request<pb::GetJwksRequest>) -> Result<Response<pb::GetJwksResponse>, Status> {
        let jwks_json = serde_json::to_string(&self.state.keys.jwks).map_err(Error::internal)?;
        Ok(Response::new(pb::GetJwksResponse { jwks_json }))
    }
}
