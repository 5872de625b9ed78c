//! The audit log: appended and read inside the tenant's transaction; never updated or deleted
//! by the application role.

use causerie_core::Error;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AuditRow {
    pub sequence: i64,
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    pub subject_kind: String,
    pub subject_id: String,
    pub source_address: Option<String>,
    pub previous_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

macro_rules! select_entries {
    ($rest:literal) => {
        concat!(
            "select sequence, id, occurred_at, actor_kind, actor_id, action, subject_kind, subject_id,
                    source_address, previous_hash, hash
               from audit_log ",
            $rest
        )
    };
}

/// Takes the tenant's append lock and answers the last entry's sequence and hash, so the next
/// entry chains onto it with no other writer in between.
pub async fn lock_chain_end(transaction: &mut PgConnection, tenant_id: Uuid) -> Result<Option<(i64, Vec<u8>)>, Error> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('audit_log:' || $1::text, 0))")
        .bind(tenant_id)
        .execute(&mut *transaction)
        .await?;
    sqlx::query_as("select sequence, hash from audit_log order by sequence desc limit 1")
        .fetch_optional(transaction)
        .await
        .map_err(Error::from)
}

pub async fn insert(transaction: &mut PgConnection, tenant_id: Uuid, entry: &AuditRow) -> Result<(), Error> {
    sqlx::query(
        "insert into audit_log (tenant_id, sequence, id, occurred_at, actor_kind, actor_id, action, subject_kind,
                                subject_id, source_address, previous_hash, hash)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(tenant_id)
    .bind(entry.sequence)
    .bind(entry.id)
    .bind(entry.occurred_at)
    .bind(&entry.actor_kind)
    .bind(&entry.actor_id)
    .bind(&entry.action)
    .bind(&entry.subject_kind)
    .bind(&entry.subject_id)
    .bind(&entry.source_address)
    .bind(&entry.previous_hash)
    .bind(&entry.hash)
    .execute(transaction)
    .await?;
    Ok(())
}

pub struct AuditFilter<'a> {
    pub actor_id: Option<&'a str>,
    pub action: Option<&'a str>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Entries before this sequence (newest first).
    pub before: Option<i64>,
    pub limit: i64,
}

/// Entries matching `filter`, newest first.
pub async fn list(transaction: &mut PgConnection, filter: &AuditFilter<'_>) -> Result<Vec<AuditRow>, Error> {
    sqlx::query_as(select_entries!(
        "where ($1::text is null or actor_id = $1)
            and ($2::text is null or action = $2)
            and ($3::timestamptz is null or occurred_at >= $3)
            and ($4::timestamptz is null or occurred_at < $4)
            and ($5::bigint is null or sequence < $5)
          order by sequence desc limit $6"
    ))
    .bind(filter.actor_id)
    .bind(filter.action)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.before)
    .bind(filter.limit)
    .fetch_all(transaction)
    .await
    .map_err(Error::from)
}

/// Entries after `after` in chain order, a page at a time so verifying a long log stays bounded.
pub async fn chain_page(transaction: &mut PgConnection, after: i64, limit: i64) -> Result<Vec<AuditRow>, Error> {
    sqlx::query_as(select_entries!("where sequence > $1 order by sequence limit $2"))
        .bind(after)
        .bind(limit)
        .fetch_all(transaction)
        .await
        .map_err(Error::from)
}
