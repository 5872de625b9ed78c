//! The accounts service's SQL. Tenant data is read and written inside a tenant transaction;
//! tenants, staff and signing keys are platform tables.

pub mod api_keys;
pub mod audit;
pub mod consents;
pub mod legal;
pub mod mail;
pub mod policies;
pub mod projects;
pub mod sessions;
pub mod subprocessors;
pub mod support;
pub mod users;

use causerie_core::{Error, StaffId, TenantId};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::tenancy::TenantStatus;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TenantRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    #[sqlx(try_from = "String")]
    pub status: TenantStatus,
    pub contract_end: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub privacy_button: bool,
    pub credits_sequence: bool,
    pub translation: bool,
}

pub struct NewTenant<'a> {
    pub id: TenantId,
    pub name: &'a str,
    pub slug: &'a str,
    pub contract_end: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

pub async fn insert_tenant(connection: &mut PgConnection, tenant: &NewTenant<'_>) -> Result<TenantRow, Error> {
    sqlx::query_as(
        "insert into tenants (id, name, slug, contract_end, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $5)
         returning id, name, slug, status, contract_end, created_at, privacy_button, credits_sequence, translation",
    )
    .bind(tenant.id.as_uuid())
    .bind(tenant.name)
    .bind(tenant.slug)
    .bind(tenant.contract_end)
    .bind(tenant.now)
    .fetch_one(connection)
    .await
    .map_err(|error| Error::conflict_if_unique(error, format!("slug {:?} is taken", tenant.slug)))
}

pub async fn tenant_by_slug(pool: &PgPool, slug: &str) -> Result<Option<TenantRow>, Error> {
    sqlx::query_as("select id, name, slug, status, contract_end, created_at, privacy_button, credits_sequence, translation from tenants where slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await
        .map_err(Error::from)
}

pub struct TenantChanges {
    pub status: Option<TenantStatus>,
    pub contract_end: Option<DateTime<Utc>>,
    pub privacy_button: Option<bool>,
    pub credits_sequence: Option<bool>,
    pub translation: Option<bool>,
}

pub async fn update_tenant(
    executor: impl sqlx::PgExecutor<'_>,
    id: TenantId,
    changes: &TenantChanges,
    now: DateTime<Utc>,
) -> Result<Option<TenantRow>, Error> {
    sqlx::query_as(
        "update tenants set status = coalesce($2, status), contract_end = coalesce($3, contract_end),
                            privacy_button = coalesce($4, privacy_button),
                            credits_sequence = coalesce($5, credits_sequence),
                            translation = coalesce($6, translation), updated_at = $7
          where id = $1
          returning id, name, slug, status, contract_end, created_at, privacy_button, credits_sequence, translation",
    )
    .bind(id.as_uuid())
    .bind(changes.status.map(TenantStatus::as_str))
    .bind(changes.contract_end)
    .bind(changes.privacy_button)
    .bind(changes.credits_sequence)
    .bind(changes.translation)
    .bind(now)
    .fetch_optional(executor)
    .await
    .map_err(Error::from)
}

pub async fn tenant_by_id(executor: impl sqlx::PgExecutor<'_>, id: TenantId) -> Result<Option<TenantRow>, Error> {
    sqlx::query_as("select id, name, slug, status, contract_end, created_at, privacy_button, credits_sequence, translation from tenants where id = $1")
        .bind(id.as_uuid())
        .fetch_optional(executor)
        .await
        .map_err(Error::from)
}

/// A page of tenants in id order (creation order, as ids are UUID v7), after `after`.
pub async fn list_tenants(pool: &PgPool, after: Option<Uuid>, limit: i64) -> Result<Vec<TenantRow>, Error> {
    sqlx::query_as(
        "select id, name, slug, status, contract_end, created_at, privacy_button, credits_sequence, translation from tenants
          where $1::uuid is null or id > $1
          order by id
          limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(Error::from)
}

#[derive(sqlx::FromRow)]
pub struct StaffRow {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_pending_secret: Option<Vec<u8>>,
}

macro_rules! select_staff {
    ($rest:literal) => {
        concat!("select id, email, password_hash, totp_secret, totp_pending_secret from staff ", $rest)
    };
}

pub async fn staff_by_email(pool: &PgPool, email: &str) -> Result<Option<StaffRow>, Error> {
    sqlx::query_as(select_staff!("where lower(email) = lower($1)"))
        .bind(email)
        .fetch_optional(pool)
        .await
        .map_err(Error::from)
}

pub async fn staff_by_id(pool: &PgPool, id: StaffId) -> Result<Option<StaffRow>, Error> {
    sqlx::query_as(select_staff!("where id = $1")).bind(id.as_uuid()).fetch_optional(pool).await.map_err(Error::from)
}

pub async fn set_staff_password_hash(pool: &PgPool, id: Uuid, hash: &str, now: DateTime<Utc>) -> Result<(), Error> {
    sqlx::query("update staff set password_hash = $2, updated_at = $3 where id = $1")
        .bind(id)
        .bind(hash)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn set_staff_pending_totp(pool: &PgPool, id: Uuid, secret: &[u8], now: DateTime<Utc>) -> Result<(), Error> {
    sqlx::query("update staff set totp_pending_secret = $2, updated_at = $3 where id = $1")
        .bind(id)
        .bind(secret)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Makes the pending secret the second factor, and remembers the step of the code that proved
/// it so the same code cannot sign in.
pub async fn confirm_staff_totp(pool: &PgPool, id: Uuid, step: i64, now: DateTime<Utc>) -> Result<(), Error> {
    sqlx::query(
        "update staff set totp_secret = totp_pending_secret, totp_pending_secret = null,
                          totp_last_step = $2, updated_at = $3
          where id = $1 and totp_pending_secret is not null",
    )
    .bind(id)
    .bind(step)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records the step of a code just used, unless a later one was; answers whether it was
/// recorded, so that a replayed code is refused even under concurrent sign-ins.
pub async fn use_staff_totp_step(pool: &PgPool, id: Uuid, step: i64) -> Result<bool, Error> {
    let updated = sqlx::query(
        "update staff set totp_last_step = $2
          where id = $1 and (totp_last_step is null or totp_last_step < $2)",
    )
    .bind(id)
    .bind(step)
    .execute(pool)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Creates a staff account unless one with this e-mail exists. Answers whether it was created.
pub async fn insert_staff_if_missing(
    pool: &PgPool,
    email: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let inserted = sqlx::query(
        "insert into staff (id, email, password_hash, created_at, updated_at)
         values ($1, $2, $3, $4, $4)
         on conflict do nothing",
    )
    .bind(StaffId::new().as_uuid())
    .bind(email)
    .bind(password_hash)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

#[derive(sqlx::FromRow)]
pub struct SigningKeyRow {
    pub key_id: String,
    pub private_key: Vec<u8>,
    pub signs_from: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

/// Keys that still verify: unretired, or retired after `retired_since`. Newest first.
pub async fn live_signing_keys(
    executor: impl sqlx::PgExecutor<'_>,
    retired_since: DateTime<Utc>,
) -> Result<Vec<SigningKeyRow>, sqlx::Error> {
    sqlx::query_as(
        "select key_id, private_key, signs_from, retired_at from signing_keys
          where retired_at is null or retired_at > $1
          order by signs_from desc, created_at desc",
    )
    .bind(retired_since)
    .fetch_all(executor)
    .await
}

pub async fn newest_signing_key_created_at(pool: &PgPool) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar("select max(created_at) from signing_keys").fetch_one(pool).await
}

/// Every key still signing stops at `at`.
pub async fn retire_signing_keys(executor: impl sqlx::PgExecutor<'_>, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("update signing_keys set retired_at = $1 where retired_at is null").bind(at).execute(executor).await?;
    Ok(())
}

pub async fn insert_signing_key(
    executor: impl sqlx::PgExecutor<'_>,
    key_id: &str,
    private_key: &[u8],
    now: DateTime<Utc>,
    signs_from: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into signing_keys (key_id, private_key, created_at, signs_from) values ($1, $2, $3, $4)")
        .bind(key_id)
        .bind(private_key)
        .bind(now)
        .bind(signs_from)
        .execute(executor)
        .await?;
    Ok(())
}
