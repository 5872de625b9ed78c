//! The retention service's SQL.

use causerie_bus::message::TenantCreated;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Records a tenant; applying the same creation twice changes nothing.
pub async fn track_tenant(
    transaction: &mut PgConnection,
    tenant: &TenantCreated,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into tenant_registry (id, slug, contract_end, tracked_since) values ($1, $2, $3, $4)
         on conflict (id) do nothing",
    )
    .bind(tenant.tenant_id.as_uuid())
    .bind(&tenant.slug)
    .bind(tenant.contract_end)
    .bind(now)
    .execute(transaction)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub struct TrackedTenant {
    pub id: Uuid,
    pub slug: String,
    pub contract_end: Option<DateTime<Utc>>,
    pub tracked_since: DateTime<Utc>,
}

pub async fn tracked_tenant(pool: &PgPool, id: Uuid) -> Result<Option<TrackedTenant>, sqlx::Error> {
    sqlx::query_as("select id, slug, contract_end, tracked_since from tenant_registry where id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}
