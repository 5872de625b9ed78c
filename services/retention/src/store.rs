//! The retention service's SQL; rows become domain types here.

use causerie_core::TenantId;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::tenants::TrackedTenant;

pub async fn insert_tenant_if_new(transaction: &mut PgConnection, tenant: &TrackedTenant) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into tenant_registry (id, slug, contract_end, tracked_since) values ($1, $2, $3, $4)
         on conflict (id) do nothing",
    )
    .bind(tenant.id.as_uuid())
    .bind(&tenant.slug)
    .bind(tenant.contract_end)
    .bind(tenant.tracked_since)
    .execute(transaction)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TenantRow {
    id: Uuid,
    slug: String,
    contract_end: Option<DateTime<Utc>>,
    tracked_since: DateTime<Utc>,
}

impl From<TenantRow> for TrackedTenant {
    fn from(row: TenantRow) -> Self {
        Self {
            id: TenantId::from_uuid(row.id),
            slug: row.slug,
            contract_end: row.contract_end,
            tracked_since: row.tracked_since,
        }
    }
}

pub async fn tracked_tenant(pool: &PgPool, id: TenantId) -> Result<Option<TrackedTenant>, sqlx::Error> {
    let row: Option<TenantRow> =
        sqlx::query_as("select id, slug, contract_end, tracked_since from tenant_registry where id = $1")
            .bind(id.as_uuid())
            .fetch_optional(pool)
            .await?;
    Ok(row.map(TrackedTenant::from))
}
