//! A tenant's projects, inside the tenant's transaction.

use causerie_core::Error;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ProjectRow {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub languages: Vec<String>,
    pub supervision_enabled: bool,
    #[sqlx(flatten)]
    pub settings: ProjectSettings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a project sets for its assistant, live chat and forms; `None` is unset.
#[derive(Clone, Debug, Default, PartialEq, sqlx::FromRow)]
pub struct ProjectSettings {
    pub chat_consent_purpose_id: Option<String>,
    pub supervision_purpose_id: Option<String>,
    pub offline_message: Option<String>,
    pub default_region: Option<String>,
    pub match_threshold: Option<f32>,
}

macro_rules! project_columns {
    () => {
        "tenant_id, id, name, allowed_origins, languages, supervision_enabled, chat_consent_purpose_id,
         supervision_purpose_id, offline_message, default_region, match_threshold, created_at, updated_at"
    };
}

pub struct NewProject<'a> {
    pub tenant_id: Uuid,
    pub name: &'a str,
    pub allowed_origins: &'a [String],
    pub languages: &'a [String],
    pub supervision_enabled: bool,
    pub settings: &'a ProjectSettings,
    pub now: DateTime<Utc>,
}

pub async fn insert_project(transaction: &mut PgConnection, project: &NewProject<'_>) -> Result<ProjectRow, Error> {
    let settings = project.settings;
    sqlx::query_as(concat!(
        "insert into projects (tenant_id, id, name, allowed_origins, languages, supervision_enabled,
                               chat_consent_purpose_id, supervision_purpose_id, offline_message, default_region,
                               match_threshold, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
         returning ",
        project_columns!()
    ))
    .bind(project.tenant_id)
    .bind(Uuid::now_v7())
    .bind(project.name)
    .bind(project.allowed_origins)
    .bind(project.languages)
    .bind(project.supervision_enabled)
    .bind(&settings.chat_consent_purpose_id)
    .bind(&settings.supervision_purpose_id)
    .bind(&settings.offline_message)
    .bind(&settings.default_region)
    .bind(settings.match_threshold)
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

/// The project, locked against another change until the transaction ends.
pub async fn project_for_update(transaction: &mut PgConnection, id: Uuid) -> Result<Option<ProjectRow>, Error> {
    sqlx::query_as(concat!("select ", project_columns!(), " from projects where id = $1 for update"))
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
    /// The settings after the change, whole: the caller merged what changed into what was.
    pub settings: &'a ProjectSettings,
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
                             supervision_enabled = coalesce($5, supervision_enabled), updated_at = $6,
                             chat_consent_purpose_id = $7, supervision_purpose_id = $8, offline_message = $9,
                             default_region = $10, match_threshold = $11
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
    .bind(&changes.settings.chat_consent_purpose_id)
    .bind(&changes.settings.supervision_purpose_id)
    .bind(&changes.settings.offline_message)
    .bind(&changes.settings.default_region)
    .bind(changes.settings.match_threshold)
    .fetch_optional(transaction)
    .await
    .map_err(Error::from)
}

pub async fn delete_project(transaction: &mut PgConnection, id: Uuid) -> Result<bool, Error> {
    let deleted = sqlx::query("delete from projects where id = $1").bind(id).execute(transaction).await?;
    Ok(deleted.rows_affected() == 1)
}
