//! The versions of a tenant's privacy policy, inside the tenant's transaction.

use causerie_core::Error;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct PolicyRow {
    pub version: i32,
    pub policy: serde_json::Value,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

pub async fn current_policy(transaction: &mut PgConnection) -> Result<Option<PolicyRow>, Error> {
    sqlx::query_as("select version, policy, created_by, created_at from privacy_policies order by version desc limit 1")
        .fetch_optional(transaction)
        .await
        .map_err(Error::from)
}

pub async fn policy_version(transaction: &mut PgConnection, version: i32) -> Result<Option<PolicyRow>, Error> {
    sqlx::query_as("select version, policy, created_by, created_at from privacy_policies where version = $1")
        .bind(version)
        .fetch_optional(transaction)
        .await
        .map_err(Error::from)
}

/// Up to `limit` versions, newest first, older than `before`.
pub async fn policy_versions(
    transaction: &mut PgConnection,
    before: Option<i32>,
    limit: i64,
) -> Result<Vec<PolicyRow>, Error> {
    sqlx::query_as(
        "select version, policy, created_by, created_at from privacy_policies
          where ($1::integer is null or version < $1) order by version desc limit $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(transaction)
    .await
    .map_err(Error::from)
}

/// Locks the tenant's policy history, so two writers make two consecutive versions.
pub async fn lock_policy(transaction: &mut PgConnection, tenant_id: Uuid) -> Result<(), Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('privacy_policies:' || $1::text, 0))")
        .bind(tenant_id)
        .execute(transaction)
        .await?;
    Ok(())
}

pub async fn insert_policy(
    transaction: &mut PgConnection,
    tenant_id: Uuid,
    version: i32,
    policy: &serde_json::Value,
    created_by: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "insert into privacy_policies (tenant_id, version, policy, created_by, created_at) values ($1, $2, $3, $4, $5)",
    )
    .bind(tenant_id)
    .bind(version)
    .bind(policy)
    .bind(created_by)
    .bind(now)
    .execute(transaction)
    .await?;
    Ok(())
}
