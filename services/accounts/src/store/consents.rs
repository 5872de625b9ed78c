//! The consent ledger: visitors' decisions, written in groups across tenants, read inside the
//! tenant's transaction.

use causerie_core::{Error, TenantId};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

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
