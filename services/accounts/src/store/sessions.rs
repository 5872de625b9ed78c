//! Refresh tokens and password-reset tokens, stored as hashes, inside the tenant's transaction.

use causerie_core::Error;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
pub struct RefreshTokenRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub struct NewRefreshToken<'a> {
    pub tenant_id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub token_hash: &'a [u8],
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_refresh_token(transaction: &mut PgConnection, token: &NewRefreshToken<'_>) -> Result<(), Error> {
    sqlx::query(
        "insert into refresh_tokens (tenant_id, id, user_id, family_id, token_hash, created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(token.tenant_id)
    .bind(Uuid::now_v7())
    .bind(token.user_id)
    .bind(token.family_id)
    .bind(token.token_hash)
    .bind(token.now)
    .bind(token.expires_at)
    .execute(transaction)
    .await?;
    Ok(())
}

/// The token with this hash, locked, so two refreshes with one token are told apart.
pub async fn refresh_token_for_update(
    transaction: &mut PgConnection,
    token_hash: &[u8],
) -> Result<Option<RefreshTokenRow>, Error> {
    sqlx::query_as(
        "select id, user_id, family_id, expires_at, used_at, revoked_at
           from refresh_tokens where token_hash = $1 for update",
    )
    .bind(token_hash)
    .fetch_optional(transaction)
    .await
    .map_err(Error::from)
}

pub async fn mark_refresh_token_used(
    transaction: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query("update refresh_tokens set used_at = $2 where id = $1").bind(id).bind(now).execute(transaction).await?;
    Ok(())
}

pub async fn revoke_family(transaction: &mut PgConnection, family_id: Uuid, now: DateTime<Utc>) -> Result<(), Error> {
    sqlx::query("update refresh_tokens set revoked_at = $2 where family_id = $1 and revoked_at is null")
        .bind(family_id)
        .bind(now)
        .execute(transaction)
        .await?;
    Ok(())
}

pub async fn revoke_user_refresh_tokens(
    transaction: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let revoked = sqlx::query("update refresh_tokens set revoked_at = $2 where user_id = $1 and revoked_at is null")
        .bind(user_id)
        .bind(now)
        .execute(transaction)
        .await?;
    Ok(revoked.rows_affected())
}

/// Removes every session and reset token of an erased user.
pub async fn delete_user_credentials(transaction: &mut PgConnection, user_id: Uuid) -> Result<(), Error> {
    sqlx::query("delete from refresh_tokens where user_id = $1").bind(user_id).execute(&mut *transaction).await?;
    sqlx::query("delete from password_resets where user_id = $1").bind(user_id).execute(transaction).await?;
    Ok(())
}

pub async fn insert_password_reset(
    transaction: &mut PgConnection,
    tenant_id: Uuid,
    user_id: Uuid,
    token_hash: &[u8],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "insert into password_resets (tenant_id, id, user_id, token_hash, created_at, expires_at)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant_id)
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(token_hash)
    .bind(now)
    .bind(expires_at)
    .execute(transaction)
    .await?;
    Ok(())
}

/// The user of a reset link that is neither used nor expired.
pub async fn live_password_reset_user(
    transaction: &mut PgConnection,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, Error> {
    sqlx::query_scalar(
        "select user_id from password_resets where token_hash = $1 and used_at is null and expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(transaction)
    .await
    .map_err(Error::from)
}

/// Every other live reset link of the user stops working.
pub async fn spend_password_resets(
    transaction: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query("update password_resets set used_at = $2 where user_id = $1 and used_at is null")
        .bind(user_id)
        .bind(now)
        .execute(transaction)
        .await?;
    Ok(())
}

/// Marks an unused, unexpired reset token used and answers its user; `None` otherwise.
pub async fn use_password_reset(
    transaction: &mut PgConnection,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, Error> {
    sqlx::query_scalar(
        "update password_resets set used_at = $2
          where token_hash = $1 and used_at is null and expires_at > $2
          returning user_id",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(transaction)
    .await
    .map_err(Error::from)
}
