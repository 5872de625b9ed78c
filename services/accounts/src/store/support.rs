//! Support access grants, inside the tenant's transaction.

use causerie_core::Error;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct SupportGrantRow {
    pub id: Uuid,
    pub scope: String,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

macro_rules! select_grants {
    ($rest:literal) => {
        concat!("select id, scope, reason, created_at, expires_at, revoked_at from support_grants ", $rest)
    };
}

pub struct NewSupportGrant<'a> {
    pub tenant_id: Uuid,
    pub scope: &'a str,
    pub reason: Option<&'a str>,
    pub granted_by: Uuid,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(transaction: &mut PgConnection, grant: &NewSupportGrant<'_>) -> Result<SupportGrantRow, Error> {
    sqlx::query_as(
        "insert into support_grants (tenant_id, id, scope, reason, granted_by, created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning id, scope, reason, created_at, expires_at, revoked_at",
    )
    .bind(grant.tenant_id)
    .bind(Uuid::now_v7())
    .bind(grant.scope)
    .bind(grant.reason)
    .bind(grant.granted_by)
    .bind(grant.now)
    .bind(grant.expires_at)
    .fetch_one(transaction)
    .await
    .map_err(Error::from)
}

/// Up to `limit` grants, newest first, older than `before`.
pub async fn list(
    transaction: &mut PgConnection,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SupportGrantRow>, Error> {
    sqlx::query_as(select_grants!("where ($1::uuid is null or id < $1) order by id desc limit $2"))
        .bind(before)
        .bind(limit)
        .fetch_all(transaction)
        .await
        .map_err(Error::from)
}

pub async fn revoke(transaction: &mut PgConnection, id: Uuid, now: DateTime<Utc>) -> Result<bool, Error> {
    let revoked = sqlx::query("update support_grants set revoked_at = $2 where id = $1 and revoked_at is null")
        .bind(id)
        .bind(now)
        .execute(transaction)
        .await?;
    Ok(revoked.rows_affected() == 1)
}

/// The grant in force now with the widest scope, if any.
pub async fn live(transaction: &mut PgConnection, now: DateTime<Utc>) -> Result<Option<SupportGrantRow>, Error> {
    sqlx::query_as(select_grants!(
        "where revoked_at is null and expires_at > $1
          order by scope = 'read_write' desc, expires_at desc limit 1"
    ))
    .bind(now)
    .fetch_optional(transaction)
    .await
    .map_err(Error::from)
}
