//! The retention gRPC API. Its interceptor admits staff and service callers only.

use causerie_core::Error;
use causerie_proto::retention::v1 as pb;
use causerie_proto::time::to_timestamp;
use pb::retention_service_server::RetentionService;
use sqlx::PgPool;
use tonic::{Request, Response, Status};

use crate::store;

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
        let not_found = || Error::not_found("retention does not track this tenant");
        let tenant_id: uuid::Uuid = request.into_inner().tenant_id.parse().map_err(|_| not_found())?;
        let tenant = store::tracked_tenant(&self.pool, tenant_id).await.map_err(Error::from)?.ok_or_else(not_found)?;
        Ok(Response::new(pb::TrackedTenant {
            tenant_id: tenant.id.to_string(),
            slug: tenant.slug,
            contract_end: tenant.contract_end.map(to_timestamp),
            tracked_since: Some(to_timestamp(tenant.tracked_since)),
        }))
    }
}
