//! Users of a tenant, always inside the tenant's transaction.

use causerie_auth::Role;
use causerie_core::{Error, TenantId, UserId};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub pseudonym: Option<String>,
    pub languages: Vec<String>,
    pub skills: Vec<String>,
    #[sqlx(try_from = "String")]
    pub role: Role,
    pub password_hash: Option<String>,
    pub project_ids: Vec<Uuid>,
    pub erased_at: Option<DateTime<Utc>>,
}

impl UserRow {
    pub fn is_erased(&self) -> bool {
        self.erased_at.is_some()
    }
}

pub struct NewUser<'a> {
    pub id: UserId,
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub role: &'a str,
    pub password_hash: Option<&'a str>,
    pub pseudonym: Option<&'a str>,
    pub languages: &'a [String],
    pub skills: &'a [String],
    pub project_ids: &'a [Uuid],
    pub now: DateTime<Utc>,
}

/// What a change of a user sets; `None` leaves the field as it is.
#[derive(Default)]
pub struct UserChanges<'a> {
    pub email: Option<&'a str>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    /// `Some(None)` clears the pseudonym.
    pub pseudonym: Option<Option<&'a str>>,
    pub languages: Option<&'a [String]>,
    pub skills: Option<&'a [String]>,
    pub role: Option<&'a str>,
    pub project_ids: Option<&'a [Uuid]>,
}

/// The columns of `UserRow`; sqlx takes only static SQL, so queries are assembled with `concat!`.
macro_rules! user_columns {
    () => {
        "tenant_id, id, email, first_name, last_name, pseudonym, languages, skills, role, password_hash, project_ids, erased_at"
    };
}

macro_rules! select_users {
    ($rest:literal) => {
        concat!("select ", user_columns!(), " from users ", $rest)
    };
}

fn email_taken(error: sqlx::Error) -> Error {
    Error::conflict_if_unique(error, "a user of this tenant already has this e-mail address")
}

/// Inserts a user into the tenant of the caller's tenant transaction.
pub async fn insert(transaction: &mut PgConnection, tenant_id: TenantId, user: &NewUser<'_>) -> Result<UserRow, Error> {
    sqlx::query_as(concat!(
        "insert into users (tenant_id, id, email, first_name, last_name, role, password_hash, pseudonym,
                            languages, skills, project_ids, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
         returning ",
        user_columns!()
    ))
    .bind(tenant_id.as_uuid())
    .bind(user.id.as_uuid())
    .bind(user.email)
    .bind(user.first_name)
    .bind(user.last_name)
    .bind(user.role)
    .bind(user.password_hash)
    .bind(user.pseudonym)
    .bind(user.languages)
    .bind(user.skills)
    .bind(user.project_ids)
    .bind(user.now)
    .fetch_one(transaction)
    .await
    .map_err(email_taken)
}

pub async fn by_email(transaction: &mut PgConnection, email: &str) -> Result<Option<UserRow>, Error> {
    sqlx::query_as(select_users!("where lower(email) = lower($1) and erased_at is null"))
        .bind(email)
        .fetch_optional(transaction)
        .await
        .map_err(Error::from)
}

/// A user of the tenant, erased or not, in one round trip (`tenant_user` sets the tenant
/// itself): the profile route's read.
pub async fn in_tenant(pool: &PgPool, tenant_id: TenantId, id: Uuid) -> Result<Option<UserRow>, Error> {
    sqlx::query_as(concat!("select ", user_columns!(), " from tenant_user($1, $2)"))
        .bind(tenant_id.as_uuid())
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(Error::from)
}

pub async fn by_id(transaction: &mut PgConnection, id: Uuid) -> Result<Option<UserRow>, Error> {
    sqlx::query_as(select_users!("where id = $1")).bind(id).fetch_optional(transaction).await.map_err(Error::from)
}

/// The user, locked until the caller's transaction ends against any change of it (role, projects,
/// password, erasure), which waits meanwhile.
pub async fn by_id_for_share(transaction: &mut PgConnection, id: Uuid) -> Result<Option<UserRow>, Error> {
    sqlx::query_as(select_users!("where id = $1 for share"))
        .bind(id)
        .fetch_optional(transaction)
        .await
        .map_err(Error::from)
}

/// A page of live users in id order after `after`.
pub async fn list(transaction: &mut PgConnection, after: Option<Uuid>, limit: i64) -> Result<Vec<UserRow>, Error> {
    sqlx::query_as(select_users!("where erased_at is null and ($1::uuid is null or id > $1) order by id limit $2"))
        .bind(after)
        .bind(limit)
        .fetch_all(transaction)
        .await
        .map_err(Error::from)
}

/// Live operators speaking `language` and having `skill` (either may be absent), in id order.
/// The array containment matches the GIN indexes of the migration.
pub async fn search_operators(
    transaction: &mut PgConnection,
    language: Option<&str>,
    skill: Option<&str>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<UserRow>, Error> {
    sqlx::query_as(select_users!(
        "where role = 'operator' and erased_at is null
            and ($1::text is null or languages @> array[$1::text])
            and ($2::text is null or skills @> array[$2::text])
            and ($3::uuid is null or id > $3)
          order by id limit $4"
    ))
    .bind(language)
    .bind(skill)
    .bind(after)
    .bind(limit)
    .fetch_all(transaction)
    .await
    .map_err(Error::from)
}

pub async fn update(
    transaction: &mut PgConnection,
    id: Uuid,
    changes: &UserChanges<'_>,
    now: DateTime<Utc>,
) -> Result<Option<UserRow>, Error> {
    sqlx::query_as(concat!(
        "update users set
                 email = coalesce($2, email),
                 first_name = coalesce($3, first_name),
                 last_name = coalesce($4, last_name),
                 pseudonym = case when $5 then $6 else pseudonym end,
                 languages = coalesce($7, languages),
                 skills = coalesce($8, skills),
                 role = coalesce($9, role),
                 project_ids = coalesce($10, project_ids),
                 updated_at = $11
          where id = $1 and erased_at is null
          returning ",
        user_columns!()
    ))
    .bind(id)
    .bind(changes.email)
    .bind(changes.first_name)
    .bind(changes.last_name)
    .bind(changes.pseudonym.is_some())
    .bind(changes.pseudonym.flatten())
    .bind(changes.languages)
    .bind(changes.skills)
    .bind(changes.role)
    .bind(changes.project_ids)
    .bind(now)
    .fetch_optional(transaction)
    .await
    .map_err(email_taken)
}

pub async fn set_password_hash(
    transaction: &mut PgConnection,
    id: Uuid,
    hash: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query("update users set password_hash = $2, updated_at = $3 where id = $1 and erased_at is null")
        .bind(id)
        .bind(hash)
        .bind(now)
        .execute(transaction)
        .await?;
    Ok(())
}

pub async fn set_pending_email(
    transaction: &mut PgConnection,
    id: Uuid,
    email: &str,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "update users set pending_email = $2, pending_email_token_hash = $3, pending_email_expires_at = $4
          where id = $1 and erased_at is null",
    )
    .bind(id)
    .bind(email)
    .bind(token_hash)
    .bind(expires_at)
    .execute(transaction)
    .await?;
    Ok(())
}

/// Makes a pending e-mail address the user's, if `token_hash` is its unexpired token. Answers
/// the user whose address changed.
pub async fn confirm_pending_email(
    transaction: &mut PgConnection,
    token_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Uuid>, Error> {
    sqlx::query_scalar(
        "update users set email = pending_email, pending_email = null, pending_email_token_hash = null,
                          pending_email_expires_at = null, updated_at = $2
          where pending_email_token_hash = $1 and pending_email_expires_at > $2 and erased_at is null
          returning id",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(transaction)
    .await
    .map_err(email_taken)
}

/// Serialises changes that could leave a tenant without an admin.
pub async fn lock_admins(transaction: &mut PgConnection, tenant_id: TenantId) -> Result<(), Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('admins:' || $1::text, 0))")
        .bind(tenant_id.as_uuid())
        .execute(transaction)
        .await?;
    Ok(())
}

pub async fn count_live_admins(transaction: &mut PgConnection) -> Result<i64, Error> {
    sqlx::query_scalar("select count(*) from users where role = 'admin' and erased_at is null")
        .fetch_one(transaction)
        .await
        .map_err(Error::from)
}

/// Empties every personal field of a user and marks it erased; the row stays as a tombstone so
/// what the user authored keeps an author id. Answers false when there was no live user.
pub async fn erase(transaction: &mut PgConnection, id: Uuid, now: DateTime<Utc>) -> Result<bool, Error> {
    let erased = sqlx::query(
        "update users set email = null, first_name = null, last_name = null, pseudonym = null,
                          languages = '{}', skills = '{}', password_hash = null, pending_email = null,
                          pending_email_token_hash = null, pending_email_expires_at = null,
                          erased_at = $2, updated_at = $2
          where id = $1 and erased_at is null",
    )
    .bind(id)
    .bind(now)
    .execute(transaction)
    .await?;
    Ok(erased.rows_affected() == 1)
}
