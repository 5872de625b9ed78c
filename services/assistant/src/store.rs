//! The assistant's SQL; rows become domain types here. Every query runs in a tenant transaction
//! (`causerie_db::tenant_tx`), so row-level security confines it to the caller's tenant.

use causerie_core::{ProjectId, TenantId};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::entries::{Entry, EntryFields};
use crate::domain::notifications::{Notification, NotificationFields};
use crate::domain::scenarios::{Scenario, ScenarioFields, Step, Triggers};

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: Uuid,
    project_id: Uuid,
    question: String,
    variants: Vec<String>,
    answer: String,
    language: String,
    tags: Vec<String>,
    draft: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<EntryRow> for Entry {
    fn from(row: EntryRow) -> Self {
        Self {
            id: row.id,
            project_id: ProjectId::from_uuid(row.project_id),
            fields: EntryFields {
                question: row.question,
                variants: row.variants,
                answer: row.answer,
                language: row.language,
                tags: row.tags,
            },
            draft: row.draft,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const ENTRY_COLUMNS: &str = "id, project_id, question, variants, answer, language, tags, draft, created_at, updated_at";

pub async fn insert_entry(
    transaction: &mut PgConnection,
    tenant_id: TenantId,
    entry: &Entry,
    author_id: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into knowledge_entries
           (tenant_id, id, project_id, question, variants, answer, language, tags, author_id, created_at, updated_at,
            draft)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tenant_id.as_uuid())
    .bind(entry.id)
    .bind(entry.project_id.as_uuid())
    .bind(&entry.fields.question)
    .bind(&entry.fields.variants)
    .bind(&entry.fields.answer)
    .bind(&entry.fields.language)
    .bind(&entry.fields.tags)
    .bind(author_id)
    .bind(entry.created_at)
    .bind(entry.updated_at)
    .bind(entry.draft)
    .execute(&mut *transaction)
    .await?;
    sqlx::query("insert into knowledge_base_tenants (id) values ($1) on conflict (id) do nothing")
        .bind(tenant_id.as_uuid())
        .execute(transaction)
        .await?;
    Ok(())
}

/// The entry after the change, or `None` when the project has no such entry. `publish`: a draft
/// is a draft no more.
pub async fn update_entry(
    transaction: &mut PgConnection,
    project_id: ProjectId,
    id: Uuid,
    fields: &EntryFields,
    (author_id, publish): (Option<Uuid>, bool),
    now: DateTime<Utc>,
) -> Result<Option<Entry>, sqlx::Error> {
    let query = format!(
        "update knowledge_entries
            set question = $3, variants = $4, answer = $5, language = $6, tags = $7, author_id = $8, updated_at = $9,
                draft = draft and not $10
          where project_id = $1 and id = $2
          returning {ENTRY_COLUMNS}"
    );
    let row: Option<EntryRow> = sqlx::query_as(sqlx::AssertSqlSafe(query))
        .bind(project_id.as_uuid())
        .bind(id)
        .bind(&fields.question)
        .bind(&fields.variants)
        .bind(&fields.answer)
        .bind(&fields.language)
        .bind(&fields.tags)
        .bind(author_id)
        .bind(now)
        .bind(publish)
        .fetch_optional(transaction)
        .await?;
    Ok(row.map(Entry::from))
}

/// Whether the entry existed.
pub async fn delete_entry(
    transaction: &mut PgConnection,
    project_id: ProjectId,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("delete from knowledge_entries where project_id = $1 and id = $2")
        .bind(project_id.as_uuid())
        .bind(id)
        .execute(transaction)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// The entry, locked against concurrent edits when `for_update`.
pub async fn entry(
    transaction: &mut PgConnection,
    project_id: ProjectId,
    id: Uuid,
    for_update: bool,
) -> Result<Option<Entry>, sqlx::Error> {
    let lock = if for_update { " for update" } else { "" };
    let query = format!("select {ENTRY_COLUMNS} from knowledge_entries where project_id = $1 and id = $2{lock}");
    let row: Option<EntryRow> = sqlx::query_as(sqlx::AssertSqlSafe(query))
        .bind(project_id.as_uuid())
        .bind(id)
        .fetch_optional(transaction)
        .await?;
    Ok(row.map(Entry::from))
}

/// Up to `limit` entries of the project after `after`, in id order; all of them without a limit.
pub async fn entries(
    transaction: &mut PgConnection,
    project_id: ProjectId,
    after: Option<Uuid>,
    limit: Option<i64>,
) -> Result<Vec<Entry>, sqlx::Error> {
    let query = format!(
        "select {ENTRY_COLUMNS} from knowledge_entries
          where project_id = $1 and ($2::uuid is null or id > $2)
          order by id limit $3"
    );
    let rows: Vec<EntryRow> = sqlx::query_as(sqlx::AssertSqlSafe(query))
        .bind(project_id.as_uuid())
        .bind(after)
        .bind(limit)
        .fetch_all(transaction)
        .await?;
    Ok(rows.into_iter().map(Entry::from).collect())
}

/// Every entry of the tenant, in project order: what a starting replica indexes.
pub async fn tenant_entries(transaction: &mut PgConnection) -> Result<Vec<Entry>, sqlx::Error> {
    let query = format!("select {ENTRY_COLUMNS} from knowledge_entries order by project_id, id");
    let rows: Vec<EntryRow> = sqlx::query_as(sqlx::AssertSqlSafe(query)).fetch_all(transaction).await?;
    Ok(rows.into_iter().map(Entry::from).collect())
}

pub async fn knowledge_base_tenants(pool: &sqlx::PgPool) -> Result<Vec<TenantId>, sqlx::Error> {
    let ids: Vec<Uuid> =
        sqlx::query_scalar("select id from knowledge_base_tenants order by id").fetch_all(pool).await?;
    Ok(ids.into_iter().map(TenantId::from_uuid).collect())
}

/// What a visitor asked, already masked.
pub struct NewInput<'a> {
    pub id: Uuid,
    pub project_id: ProjectId,
    pub day: NaiveDate,
    pub language: Option<&'a str>,
    pub masked_text: &'a str,
    pub matched_entry_id: Option<Uuid>,
    pub score: f32,
    pub answered: bool,
}

pub async fn insert_input(
    transaction: &mut PgConnection,
    tenant_id: TenantId,
    input: &NewInput<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into assistant_inputs
           (tenant_id, id, project_id, day, language, masked_text, matched_entry_id, score, answered)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant_id.as_uuid())
    .bind(input.id)
    .bind(input.project_id.as_uuid())
    .bind(input.day)
    .bind(input.language)
    .bind(input.masked_text)
    .bind(input.matched_entry_id)
    .bind(input.score)
    .bind(input.answered)
    .execute(transaction)
    .await?;
    Ok(())
}

/// Deletes (or, when `dry_run`, counts) the tenant's inputs asked before `cutoff`.
pub async fn sweep_inputs(
    transaction: &mut PgConnection,
    cutoff: NaiveDate,
    dry_run: bool,
) -> Result<u64, sqlx::Error> {
    if dry_run {
        let count: i64 = sqlx::query_scalar("select count(*) from assistant_inputs where day < $1")
            .bind(cutoff)
            .fetch_one(transaction)
            .await?;
        return Ok(u64::try_from(count).unwrap_or(0));
    }
    let deleted = sqlx::query("delete from assistant_inputs where day < $1").bind(cutoff).execute(transaction).await?;
    Ok(deleted.rows_affected())
}

/// The project's questions that got a fallback between two days, most asked first.
pub async fn unanswered(
    transaction: &mut PgConnection,
    project_id: ProjectId,
    from: NaiveDate,
    to: NaiveDate,
    limit: i64,
) -> Result<Vec<(String, i64, NaiveDate)>, sqlx::Error> {
    sqlx::query_as(
        "select masked_text, count(*), max(day) from assistant_inputs
          where project_id = $1 and not answered and day between $2 and $3
          group by masked_text order by count(*) desc, max(day) desc, masked_text limit $4",
    )
    .bind(project_id.as_uuid())
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(transaction)
    .await
}

#[derive(sqlx::FromRow)]
struct NotificationRow {
    id: Uuid,
    project_id: Uuid,
    text: String,
    url_pattern: String,
    delay_seconds: i32,
    active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<NotificationRow> for Notification {
    fn from(row: NotificationRow) -> Self {
        Self {
            id: row.id,
            project_id: ProjectId::from_uuid(row.project_id),
            fields: NotificationFields {
                text: row.text,
                url_pattern: row.url_pattern,
                // The table's check keeps it between 0 and a day.
                delay_seconds: u32::try_from(row.delay_seconds).unwrap_or(0),
                active: row.active,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const NOTIFICATION_COLUMNS: &str = "id, project_id, text, url_pattern, delay_seconds, active, created_at, updated_at";

pub async fn insert_notification(
    transaction: &mut PgConnection,
    tenant_id: TenantId,
    notification: &Notification,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into notifications
           (tenant_id, id, project_id, text, url_pattern, delay_seconds, active, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(tenant_id.as_uuid())
    .bind(notification.id)
    .bind(notification.project_id.as_uuid())
    .bind(&notification.fields.text)
    .bind(&notification.fields.url_pattern)
    .bind(i64::from(notification.fields.delay_seconds))
    .bind(notification.fields.active)
    .bind(notification.created_at)
    .bind(notification.updated_at)
    .execute(transaction)
    .await?;
    Ok(())
}

/// The notification after the change, or `None` when the project has no such notification.
pub async fn update_notification(
    transaction: &mut PgConnection,
    project_id: ProjectId,
    id: Uuid,
    fields: &NotificationFields,
    now: DateTime<Utc>,
) -> Result<Option<Notification>, sqlx::Error> {
    let query = format!(
        "update notifications set text = $3, url_pattern = $4, delay_seconds = $5, active = $6, updated_at = $7
          where project_id = $1 and id = $2
         returning {NOTIFICATION_COLUMNS}"
    );
    let row: Option<NotificationRow> = sqlx::query_as(sqlx::AssertSqlSafe(query))
        .bind(project_id.as_uuid())
        .bind(id)
        .bind(&fields.text)
        .bind(&fields.url_pattern)
        .bind(i64::from(fields.delay_seconds))
        .bind(fields.active)
        .bind(now)
        .fetch_optional(transaction)
        .await?;
    Ok(row.map(Notification::from))
}

pub async fn delete_notification(
    transaction: &mut PgConnection,
    project_id: ProjectId,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("delete from notifications where project_id = $1 and id = $2")
        .bind(project_id.as_uuid())
        .bind(id)
        .execute(transaction)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

pub async fn notification(
    transaction: &mut PgConnection,
    project_id: ProjectId,
    id: Uuid,
) -> Result<Option<Notification>, sqlx::Error> {
    let query = format!("select {NOTIFICATION_COLUMNS} from notifications where project_id = $1 and id = $2");
    let row: Option<NotificationRow> = sqlx::query_as(sqlx::AssertSqlSafe(query))
        .bind(project_id.as_uuid())
        .bind(id)
        .fetch_optional(transaction)
        .await?;
    Ok(row.map(Notification::from))
}

pub async fn notifications(
    transaction: &mut PgConnection,
    project_id: ProjectId,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Notification>, sqlx::Error> {
    let query = format!(
        "select {NOTIFICATION_COLUMNS} from notifications
          where project_id = $1 and ($2::uuid is null or id > $2)
          order by id limit $3"
    );
    let rows: Vec<NotificationRow> = sqlx::query_as(sqlx::AssertSqlSafe(query))
        .bind(project_id.as_uuid())
        .bind(after)
        .bind(limit)
        .fetch_all(transaction)
        .await?;
    Ok(rows.into_iter().map(Notification::from).collect())
}

/// The project's active notifications, soonest first.
pub async fn active_notifications(
    transaction: &mut PgConnection,
    project_id: ProjectId,
) -> Result<Vec<Notification>, sqlx::Error> {
    let query = format!(
        "select {NOTIFICATION_COLUMNS} from notifications
          where project_id = $1 and active
          order by delay_seconds, id"
    );
    let rows: Vec<NotificationRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(query)).bind(project_id.as_uuid()).fetch_all(transaction).await?;
    Ok(rows.into_iter().map(Notification::from).collect())
}

#[derive(sqlx::FromRow)]
struct ScenarioRow {
    id: Uuid,
    project_id: Uuid,
    name: String,
    definition: sqlx::types::Json<Definition>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A scenario's triggers and steps, as one JSON document: they are read and written whole.
#[derive(serde::Serialize, serde::Deserialize)]
struct Definition {
    triggers: Triggers,
    steps: Vec<Step>,
}

impl From<ScenarioRow> for Scenario {
    fn from(row: ScenarioRow) -> Self {
        let Definition { triggers, steps } = row.definition.0;
        Self {
            id: row.id,
            project_id: ProjectId::from_uuid(row.project_id),
            fields: ScenarioFields { name: row.name, triggers, steps },
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

fn definition(fields: &ScenarioFields) -> sqlx::types::Json<Definition> {
    sqlx::types::Json(Definition { triggers: fields.triggers.clone(), steps: fields.steps.clone() })
}

const SCENARIO_COLUMNS: &str = "id, project_id, name, definition, created_at, updated_at";

pub async fn insert_scenario(
    transaction: &mut PgConnection,
    tenant_id: TenantId,
    scenario: &Scenario,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into scenarios (tenant_id, id, project_id, name, definition, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(tenant_id.as_uuid())
    .bind(scenario.id)
    .bind(scenario.project_id.as_uuid())
    .bind(&scenario.fields.name)
    .bind(definition(&scenario.fields))
    .bind(scenario.created_at)
    .bind(scenario.updated_at)
    .execute(transaction)
    .await?;
    Ok(())
}

/// The scenario after the change, or `None` when the project has no such scenario.
pub async fn update_scenario(
    transaction: &mut PgConnection,
    project_id: ProjectId,
    id: Uuid,
    fields: &ScenarioFields,
    now: DateTime<Utc>,
) -> Result<Option<Scenario>, sqlx::Error> {
    let query = format!(
        "update scenarios set name = $3, definition = $4, updated_at = $5
          where project_id = $1 and id = $2
         returning {SCENARIO_COLUMNS}"
    );
    let row: Option<ScenarioRow> = sqlx::query_as(sqlx::AssertSqlSafe(query))
        .bind(project_id.as_uuid())
        .bind(id)
        .bind(&fields.name)
        .bind(definition(fields))
        .bind(now)
        .fetch_optional(transaction)
        .await?;
    Ok(row.map(Scenario::from))
}

pub async fn delete_scenario(
    transaction: &mut PgConnection,
    project_id: ProjectId,
    id: Uuid,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("delete from scenarios where project_id = $1 and id = $2")
        .bind(project_id.as_uuid())
        .bind(id)
        .execute(transaction)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

pub async fn scenario(
    transaction: &mut PgConnection,
    project_id: ProjectId,
    id: Uuid,
) -> Result<Option<Scenario>, sqlx::Error> {
    let query = format!("select {SCENARIO_COLUMNS} from scenarios where project_id = $1 and id = $2");
    let row: Option<ScenarioRow> = sqlx::query_as(sqlx::AssertSqlSafe(query))
        .bind(project_id.as_uuid())
        .bind(id)
        .fetch_optional(transaction)
        .await?;
    Ok(row.map(Scenario::from))
}

/// The project's scenarios in id order after `after`, `limit` of them (all with `None`).
pub async fn scenarios(
    transaction: &mut PgConnection,
    project_id: ProjectId,
    after: Option<Uuid>,
    limit: Option<i64>,
) -> Result<Vec<Scenario>, sqlx::Error> {
    let query = format!(
        "select {SCENARIO_COLUMNS} from scenarios
          where project_id = $1 and ($2::uuid is null or id > $2)
          order by id limit $3"
    );
    let rows: Vec<ScenarioRow> = sqlx::query_as(sqlx::AssertSqlSafe(query))
        .bind(project_id.as_uuid())
        .bind(after)
        .bind(limit)
        .fetch_all(transaction)
        .await?;
    Ok(rows.into_iter().map(Scenario::from).collect())
}

/// The ids of the project's entries, which a scenario's triggers may name.
pub async fn entry_ids(transaction: &mut PgConnection, project_id: ProjectId) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar("select id from knowledge_entries where project_id = $1")
        .bind(project_id.as_uuid())
        .fetch_all(transaction)
        .await
}

/// Deletes everything the assistant keeps for a deleted project.
pub async fn delete_project_content(transaction: &mut PgConnection, project_id: ProjectId) -> Result<(), sqlx::Error> {
    for table in ["knowledge_entries", "notifications", "scenarios", "assistant_inputs", "supervised_messages"] {
        let statement = format!("delete from {table} where project_id = $1");
        sqlx::query(sqlx::AssertSqlSafe(statement)).bind(project_id.as_uuid()).execute(&mut *transaction).await?;
    }
    Ok(())
}

/// One message of a supervised session (category `supervised_sessions`).
pub struct SupervisedMessage {
    pub id: Uuid,
    pub project_id: ProjectId,
    pub session_id: String,
    pub visitor_id: Uuid,
    /// `visitor` or `assistant`.
    pub author: &'static str,
    pub text: String,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_supervised_message(
    transaction: &mut PgConnection,
    tenant_id: TenantId,
    message: &SupervisedMessage,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into supervised_messages (tenant_id, id, project_id, session_id, visitor_id, author, text, created_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant_id.as_uuid())
    .bind(message.id)
    .bind(message.project_id.as_uuid())
    .bind(&message.session_id)
    .bind(message.visitor_id)
    .bind(message.author)
    .bind(&message.text)
    .bind(message.created_at)
    .execute(transaction)
    .await?;
    Ok(())
}

/// A visitor's supervised messages, oldest first: what an access request exports.
pub async fn visitor_supervised_messages(
    transaction: &mut PgConnection,
    visitor_id: Uuid,
) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    sqlx::query_scalar(
        "select json_build_object('id', id, 'project_id', project_id, 'session_id', session_id, 'author', author,
                                  'text', text, 'created_at', created_at)
           from supervised_messages where visitor_id = $1 order by created_at, id",
    )
    .bind(visitor_id)
    .fetch_all(transaction)
    .await
}

/// Erases a visitor's supervised messages, and the announcements of them still in the outbox.
pub async fn erase_visitor_supervised_messages(
    transaction: &mut PgConnection,
    visitor_id: Uuid,
) -> Result<u64, sqlx::Error> {
    let deleted = sqlx::query("delete from supervised_messages where visitor_id = $1")
        .bind(visitor_id)
        .execute(&mut *transaction)
        .await?;
    sqlx::query(
        "delete from outbox where routing_key = 'assistant.supervision.exchanged'
            and envelope->'payload'->>'visitor_id' = ($1::uuid)::text",
    )
    .bind(visitor_id)
    .execute(transaction)
    .await?;
    Ok(deleted.rows_affected())
}

pub async fn sweep_supervised_messages(
    transaction: &mut PgConnection,
    cutoff: DateTime<Utc>,
    dry_run: bool,
) -> Result<u64, sqlx::Error> {
    if dry_run {
        let count: i64 = sqlx::query_scalar("select count(*) from supervised_messages where created_at < $1")
            .bind(cutoff)
            .fetch_one(transaction)
            .await?;
        return Ok(u64::try_from(count).unwrap_or(0));
    }
    let deleted =
        sqlx::query("delete from supervised_messages where created_at < $1").bind(cutoff).execute(transaction).await?;
    Ok(deleted.rows_affected())
}
