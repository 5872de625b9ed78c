//! The retention gRPC API: requests decoded, the domain asked, answers encoded. Its interceptor
//! admits staff and service callers only.

use causerie_core::TenantId;
use causerie_proto::retention::v1 as pb;
use causerie_proto::time::to_timestamp;
use pb::retention_service_server::RetentionService;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::domain::tenants;

pub struct RetentionApi {
    pool: PgPool,
}

impl RetentionApi {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[tonic::async_trait]
impl RetentionService for RetentionApi {
    async fn get_tracked_tenant(
        &self,
        request: Request<pb::GetTrackedTenantRequest>,
    ) -> Result<Response<pb::TrackedTenant>, Status> {
        // An id that is not one names no tenant retention tracks.
        let tenant_id: TenantId = request.into_inner().tenant_id.parse().map_err(|_| tenants::not_tracked())?;
        let tenant = tenants::find(&self.pool, tenant_id).await?;
        Ok(Response::new(pb::TrackedTenant {
            tenant_id: tenant.id.to_string(),
            slug: tenant.slug,
            contract_end: tenant.contract_end.map(to_timestamp),
            tracked_since: Some(to_timestamp(tenant.tracked_since)),
        }))
    }
}
