//! Projects, privacy-policy versions and the consent ledger, inside the tenant's transaction; the
//! platform's sub-processors and the tenants' features.

use causerie_core::{Error, TenantId};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ProjectRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub languages: Vec<String>,
    pub supervision_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! project_columns {
    () => {
        "tenant_id, id, name, allowed_origins, languages, supervision_enabled, created_at, updated_at"
    };
}

pub struct NewProject<'a> {
    pub tenant_id: Uuid,
    pub name: &'a str,
    pub allowed_origins: &'a [String],
    pub languages: &'a [String],
    pub supervision_enabled: bool,
    pub now: DateTime<Utc>,
}

pub async fn insert_project(transaction: &mut PgConnection, project: &NewProject<'_>) -> Result<ProjectRow, Error> {
    sqlx::query_as(concat!(
        "insert into projects (tenant_id, id, name, allowed_origins, languages, supervision_enabled, created_at,
                               updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $7)
         returning ",
        project_columns!()
    ))
    .bind(project.tenant_id)
    .bind(Uuid::now_v7())
    .bind(project.name)
    .bind(project.allowed_origins)
    .bind(project.languages)
    .bind(project.supervision_enabled)
    .bind(project.now)
    .fetch_one(transaction)
    .await
    .map_err(Error::from)
}

/// Up to `limit` projects in id order after `after`.
pub async fn projects(
    transaction: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ProjectRow>, Error> {
    sqlx::query_as(concat!(
        "select ",
        project_columns!(),
        " from projects where ($1::uuid is null or id > $1) order by id limit $2"
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(transaction)
    .await
    .map_err(Error::from)
}

pub async fn project(transaction: &mut PgConnection, id: Uuid) -> Result<Option<ProjectRow>, Error> {
    sqlx::query_as(concat!("select ", project_columns!(), " from projects where id = $1"))
        .bind(id)
        .fetch_optional(transaction)
        .await
        .map_err(Error::from)
}

/// How many of `ids` are projects of the tenant.
pub async fn count_projects(transaction: &mut PgConnection, ids: &[Uuid]) -> Result<i64, Error> {
    sqlx::query_scalar("select count(*) from projects where id = any($1)")
        .bind(ids)
        .fetch_one(transaction)
        .await
        .map_err(Error::from)
}

pub struct ProjectChanges<'a> {
    pub name: Option<&'a str>,
    pub allowed_origins: Option<&'a [String]>,
    pub languages: Option<&'a [String]>,
    pub supervision_enabled: Option<bool>,
}

pub async fn update_project(
    transaction: &mut PgConnection,
    id: Uuid,
    changes: &ProjectChanges<'_>,
    now: DateTime<Utc>,
) -> Result<Option<ProjectRow>, Error> {
    sqlx::query_as(concat!(
        "update projects set name = coalesce($2, name), allowed_origins = coalesce($3, allowed_origins),
                             languages = coalesce($4, languages),
                             supervision_enabled = coalesce($5, supervision_enabled), updated_at = $6
          where id = $1
          returning ",
        project_columns!()
    ))
    .bind(id)
    .bind(changes.name)
    .bind(changes.allowed_origins)
    .bind(changes.languages)
    .bind(changes.supervision_enabled)
    .bind(now)
    .fetch_optional(transaction)
    .await
    .map_err(Error::from)
}

pub async fn delete_project(transaction: &mut PgConnection, id: Uuid) -> Result<bool, Error> {
    let deleted = sqlx::query("delete from projects where id = $1").bind(id).execute(transaction).await?;
    Ok(deleted.rows_affected() == 1)
}

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

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ConsentRow {
    pub id: Uuid,
    pub visitor_id: Uuid,
    pub project_id: Uuid,
    pub purpose: String,
    pub granted: bool,
    pub text_version: i32,
    pub source: String,
    pub client_network: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// A decision to record, validated.
pub struct NewConsent {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub visitor_id: Uuid,
    pub project_id: Uuid,
    pub purpose: String,
    pub granted: bool,
    pub text_version: i32,
    pub source: &'static str,
    pub client_network: Option<String>,
    /// To the microsecond, what PostgreSQL keeps: the caller is answered with this time.
    pub now: DateTime<Utc>,
}

impl NewConsent {
    /// The record as committed: what was written, since the statement returns nothing.
    pub fn committed(&self) -> ConsentRow {
        ConsentRow {
            id: self.id,
            visitor_id: self.visitor_id,
            project_id: self.project_id,
            purpose: self.purpose.clone(),
            granted: self.granted,
            text_version: self.text_version,
            source: self.source.to_owned(),
            client_network: self.client_network.clone(),
            recorded_at: self.now,
        }
    }
}

/// Records decisions, of any tenants, and commits them together in one round trip
/// (`record_consent_group` sets each tenant itself).
pub async fn record_consent_group(connection: &mut PgConnection, consents: &[&NewConsent]) -> Result<(), sqlx::Error> {
    sqlx::query("select record_consent_group($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(consents.iter().map(|consent| consent.tenant_id).collect::<Vec<_>>())
        .bind(consents.iter().map(|consent| consent.id).collect::<Vec<_>>())
        .bind(consents.iter().map(|consent| consent.visitor_id).collect::<Vec<_>>())
        .bind(consents.iter().map(|consent| consent.project_id).collect::<Vec<_>>())
        .bind(consents.iter().map(|consent| consent.purpose.as_str()).collect::<Vec<_>>())
        .bind(consents.iter().map(|consent| consent.granted).collect::<Vec<_>>())
        .bind(consents.iter().map(|consent| consent.text_version).collect::<Vec<_>>())
        .bind(consents.iter().map(|consent| consent.source).collect::<Vec<_>>())
        .bind(consents.iter().map(|consent| consent.client_network.as_deref()).collect::<Vec<_>>())
        .bind(consents.iter().map(|consent| consent.now).collect::<Vec<_>>())
        .execute(connection)
        .await
        .map(|_| ())
}

/// A visitor's records, newest first: those older than `before` (a record's time and id), at most
/// `limit` of them (all with `None`).
pub async fn visitor_consents(
    transaction: &mut PgConnection,
    visitor_id: Uuid,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: Option<i64>,
) -> Result<Vec<ConsentRow>, Error> {
    sqlx::query_as(
        "select id, visitor_id, project_id, purpose, granted, text_version, source, client_network, recorded_at
           from consent_records
          where visitor_id = $1 and ($2::timestamptz is null or (recorded_at, id) < ($2, $3))
          order by recorded_at desc, id desc
          limit $4",
    )
    .bind(visitor_id)
    .bind(before.map(|(recorded_at, _)| recorded_at))
    .bind(before.map(|(_, id)| id))
    .bind(limit)
    .fetch_all(transaction)
    .await
    .map_err(Error::from)
}

/// The visitor's latest decision for a purpose, in one round trip (`latest_consent` sets the
/// tenant itself).
pub async fn latest_consent(
    pool: &PgPool,
    tenant_id: TenantId,
    visitor_id: Uuid,
    purpose: &str,
) -> Result<Option<(bool, i32, DateTime<Utc>)>, Error> {
    sqlx::query_as("select granted, text_version, recorded_at from latest_consent($1, $2, $3)")
        .bind(tenant_id.as_uuid())
        .bind(visitor_id)
        .bind(purpose)
        .fetch_optional(pool)
        .await
        .map_err(Error::from)
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SubprocessorRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub country: String,
    pub outside_eu: bool,
    pub safeguard: Option<String>,
    pub purpose: String,
}

pub async fn subprocessors(pool: &PgPool) -> Result<Vec<SubprocessorRow>, Error> {
    sqlx::query_as(
        "select id, kind, name, country, outside_eu, safeguard, purpose from subprocessors order by kind, id",
    )
    .fetch_all(pool)
    .await
    .map_err(Error::from)
}

/// A page of the platform's sub-processors in id order, after the id `after`.
pub async fn subprocessors_page(pool: &PgPool, after: Option<&str>, limit: i64) -> Result<Vec<SubprocessorRow>, Error> {
    sqlx::query_as(
        "select id, kind, name, country, outside_eu, safeguard, purpose from subprocessors
          where $1::text is null or id > $1 order by id limit $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(Error::from)
}

pub async fn upsert_subprocessor(pool: &PgPool, row: &SubprocessorRow, now: DateTime<Utc>) -> Result<(), Error> {
    sqlx::query(
        "insert into subprocessors (id, kind, name, country, outside_eu, safeguard, purpose, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         on conflict (id) do update set kind = excluded.kind, name = excluded.name, country = excluded.country,
             outside_eu = excluded.outside_eu, safeguard = excluded.safeguard, purpose = excluded.purpose,
             updated_at = excluded.updated_at",
    )
    .bind(&row.id)
    .bind(&row.kind)
    .bind(&row.name)
    .bind(&row.country)
    .bind(row.outside_eu)
    .bind(&row.safeguard)
    .bind(&row.purpose)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}
