//! The accounts service's SQL. Tenant data is read and written inside a tenant transaction;
//! tenants, staff and signing keys are platform tables.

use causerie_core::{Error, StaffId, TenantId, UserId};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TenantRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub status: String,
    pub contract_end: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub pseudonym: Option<String>,
    pub languages: Vec<String>,
    pub skills: Vec<String>,
    pub role: String,
    pub password_hash: String,
}

pub struct NewTenant<'a> {
    pub id: TenantId,
    pub name: &'a str,
    pub slug: &'a str,
    pub contract_end: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

pub struct NewUser<'a> {
    pub id: UserId,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub role: &'a str,
    pub password_hash: &'a str,
    pub now: DateTime<Utc>,
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.code().as_deref() == Some("23505"))
}

pub async fn insert_tenant(connection: &mut PgConnection, tenant: &NewTenant<'_>) -> Result<TenantRow, Error> {
    sqlx::query_as(
        "insert into tenants (id, name, slug, contract_end, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $5)
         returning id, name, slug, status, contract_end, created_at",
    )
    .bind(tenant.id.as_uuid())
    .bind(tenant.name)
    .bind(tenant.slug)
    .bind(tenant.contract_end)
    .bind(tenant.now)
    .fetch_one(connection)
    .await
    .map_err(|error| {
        if is_unique_violation(&error) {
            Error::conflict(format!("slug {:?} is taken", tenant.slug))
        } else {
            Error::unavailable(error)
        }
    })
}

/// Inserts a user into the tenant of the caller's tenant transaction.
pub async fn insert_user(transaction: &mut PgConnection, tenant_id: TenantId, user: &NewUser<'_>) -> Result<(), Error> {
    sqlx::query(
        "insert into users (tenant_id, id, email, first_name, last_name, role, password_hash, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(tenant_id.as_uuid())
    .bind(user.id.as_uuid())
    .bind(user.email)
    .bind(user.first_name)
    .bind(user.last_name)
    .bind(user.role)
    .bind(user.password_hash)
    .bind(user.now)
    .execute(transaction)
    .await
    .map_err(|error| {
        if is_unique_violation(&error) {
            Error::conflict("a user of this tenant already has this e-mail address")
        } else {
            Error::unavailable(error)
        }
    })?;
    Ok(())
}

pub async fn tenant_by_slug(pool: &PgPool, slug: &str) -> Result<Option<TenantRow>, Error> {
    sqlx::query_as("select id, name, slug, status, contract_end, created_at from tenants where slug = $1")
        .bind(slug)
        .fetch_optional(pool)
        .await
        .map_err(Error::unavailable)
}

pub async fn tenant_by_id(pool: &PgPool, id: TenantId) -> Result<Option<TenantRow>, Error> {
    sqlx::query_as("select id, name, slug, status, contract_end, created_at from tenants where id = $1")
        .bind(id.as_uuid())
        .fetch_optional(pool)
        .await
        .map_err(Error::unavailable)
}

/// A page of tenants in id order (creation order, as ids are UUID v7), after `after`.
pub async fn list_tenants(pool: &PgPool, after: Option<Uuid>, limit: i64) -> Result<Vec<TenantRow>, Error> {
    sqlx::query_as(
        "select id, name, slug, status, contract_end, created_at from tenants
          where $1::uuid is null or id > $1
          order by id
          limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(Error::unavailable)
}

macro_rules! select_users {
    ($condition:literal) => {
        concat!(
            "select tenant_id, id, email, first_name, last_name, pseudonym, languages, skills, role, password_hash ",
            "from users where ",
            $condition
        )
    };
}

pub async fn user_by_email(transaction: &mut PgConnection, email: &str) -> Result<Option<UserRow>, Error> {
    sqlx::query_as(select_users!("lower(email) = lower($1)"))
        .bind(email)
        .fetch_optional(transaction)
        .await
        .map_err(Error::unavailable)
}

pub async fn user_by_id(transaction: &mut PgConnection, id: UserId) -> Result<Option<UserRow>, Error> {
    sqlx::query_as(select_users!("id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(transaction)
        .await
        .map_err(Error::unavailable)
}

#[derive(sqlx::FromRow)]
pub struct StaffRow {
    pub id: Uuid,
    pub password_hash: String,
}

pub async fn staff_by_email(pool: &PgPool, email: &str) -> Result<Option<StaffRow>, Error> {
    sqlx::query_as("select id, password_hash from staff where lower(email) = lower($1)")
        .bind(email)
        .fetch_optional(pool)
        .await
        .map_err(Error::unavailable)
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
    .await
    .map_err(Error::unavailable)?;
    Ok(inserted.rows_affected() == 1)
}

#[derive(sqlx::FromRow)]
pub struct SigningKeyRow {
    pub key_id: String,
    pub private_key: Vec<u8>,
}

/// Keys that still verify: unretired, or retired after `retired_since`. Newest first.
pub async fn live_signing_keys(
    executor: impl sqlx::PgExecutor<'_>,
    retired_since: DateTime<Utc>,
) -> Result<Vec<SigningKeyRow>, sqlx::Error> {
    sqlx::query_as(
        "select key_id, private_key from signing_keys
          where retired_at is null or retired_at > $1
          order by created_at desc",
    )
    .bind(retired_since)
    .fetch_all(executor)
    .await
}

pub async fn insert_signing_key(
    executor: impl sqlx::PgExecutor<'_>,
    key_id: &str,
    private_key: &[u8],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into signing_keys (key_id, private_key, created_at) values ($1, $2, $3)")
        .bind(key_id)
        .bind(private_key)
        .bind(now)
        .execute(executor)
        .await?;
    Ok(())
}
