//! Integrators' API keys, stored as hashes, inside the tenant's transaction.

use causerie_core::Error;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub struct NewApiKey<'a> {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub name: &'a str,
    pub scopes: &'a [String],
    pub key_hash: &'a [u8],
    pub created_by: Uuid,
    pub now: DateTime<Utc>,
}

pub async fn insert(transaction: &mut PgConnection, key: &NewApiKey<'_>) -> Result<ApiKeyRow, Error> {
    sqlx::query_as(
        "insert into api_keys (tenant_id, id, name, scopes, key_hash, created_by, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning id, name, scopes, created_at, last_used_at",
    )
    .bind(key.tenant_id)
    .bind(key.id)
    .bind(key.name)
    .bind(key.scopes)
    .bind(key.key_hash)
    .bind(key.created_by)
    .bind(key.now)
    .fetch_one(transaction)
    .await
    .map_err(Error::from)
}

/// Up to `limit` keys not revoked, in id order after `after`.
pub async fn list_live(
    transaction: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ApiKeyRow>, Error> {
    sqlx::query_as(
        "select id, name, scopes, created_at, last_used_at from api_keys
          where revoked_at is null and ($1::uuid is null or id > $1) order by id limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(transaction)
    .await
    .map_err(Error::from)
}

/// Answers false when there was no live key with this id.
pub async fn revoke(transaction: &mut PgConnection, id: Uuid, now: DateTime<Utc>) -> Result<bool, Error> {
    let revoked = sqlx::query("update api_keys set revoked_at = $2 where id = $1 and revoked_at is null")
        .bind(id)
        .bind(now)
        .execute(transaction)
        .await?;
    Ok(revoked.rows_affected() == 1)
}

/// Revokes every live key an (erased) user created, answering their ids.
pub async fn revoke_created_by(
    transaction: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, Error> {
    sqlx::query_scalar("update api_keys set revoked_at = $2 where created_by = $1 and revoked_at is null returning id")
        .bind(user_id)
        .bind(now)
        .fetch_all(transaction)
        .await
        .map_err(Error::from)
}

/// A live key with this hash, its last use recorded at most once a minute so that a busy
/// integrator does not turn every exchange into a write.
pub async fn use_key(
    transaction: &mut PgConnection,
    key_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<ApiKeyRow>, Error> {
    let key: Option<ApiKeyRow> = sqlx::query_as(
        "select id, name, scopes, created_at, last_used_at from api_keys where key_hash = $1 and revoked_at is null",
    )
    .bind(key_hash)
    .fetch_optional(&mut *transaction)
    .await?;
    if let Some(key) = &key
        && key.last_used_at.is_none_or(|last_used| now - last_used > chrono::Duration::minutes(1))
    {
        sqlx::query("update api_keys set last_used_at = $2 where id = $1")
            .bind(key.id)
            .bind(now)
            .execute(transaction)
            .await?;
    }
    Ok(key)
}
