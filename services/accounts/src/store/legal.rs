//! Legal notices and their acceptances, inside the tenant's transaction.

use causerie_core::Error;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct LegalNoticeRow {
    pub version: i32,
    pub text: String,
}

pub async fn current(transaction: &mut PgConnection) -> Result<Option<LegalNoticeRow>, Error> {
    sqlx::query_as("select version, text from legal_notices order by version desc limit 1")
        .fetch_optional(transaction)
        .await
        .map_err(Error::from)
}

pub async fn exists(transaction: &mut PgConnection, version: i32) -> Result<bool, Error> {
    sqlx::query_scalar("select exists (select 1 from legal_notices where version = $1)")
        .bind(version)
        .fetch_one(transaction)
        .await
        .map_err(Error::from)
}

/// Publishes the next version. The tenant's lock serialises publishers so versions have no gaps
/// and no duplicates.
pub async fn publish(
    transaction: &mut PgConnection,
    tenant_id: Uuid,
    text: &str,
    published_by: Uuid,
    now: DateTime<Utc>,
) -> Result<i32, Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('legal_notices:' || $1::text, 0))")
        .bind(tenant_id)
        .execute(&mut *transaction)
        .await?;
    sqlx::query_scalar(
        "insert into legal_notices (tenant_id, version, text, published_by, published_at)
         select $1, coalesce(max(version), 0) + 1, $2, $3, $4 from legal_notices
         returning version",
    )
    .bind(tenant_id)
    .bind(text)
    .bind(published_by)
    .bind(now)
    .fetch_one(transaction)
    .await
    .map_err(Error::from)
}

/// The tenant's current version and the latest the user accepted, in one round trip; 0 for none.
pub async fn versions(transaction: &mut PgConnection, user_id: Uuid) -> Result<(i32, i32), Error> {
    sqlx::query_as(
        "select (select coalesce(max(version), 0) from legal_notices),
                (select coalesce(max(version), 0) from legal_notice_acceptances where user_id = $1)",
    )
    .bind(user_id)
    .fetch_one(transaction)
    .await
    .map_err(Error::from)
}

/// The latest version the user has accepted; 0 for none.
pub async fn accepted_version(transaction: &mut PgConnection, user_id: Uuid) -> Result<i32, Error> {
    sqlx::query_scalar("select coalesce(max(version), 0) from legal_notice_acceptances where user_id = $1")
        .bind(user_id)
        .fetch_one(transaction)
        .await
        .map_err(Error::from)
}

pub async fn accept(
    transaction: &mut PgConnection,
    tenant_id: Uuid,
    user_id: Uuid,
    version: i32,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "insert into legal_notice_acceptances (tenant_id, user_id, version, accepted_at)
         values ($1, $2, $3, $4)
         on conflict do nothing",
    )
    .bind(tenant_id)
    .bind(user_id)
    .bind(version)
    .bind(now)
    .execute(transaction)
    .await?;
    Ok(())
}
