//! The audit log's hash chain. Each entry's hash covers the previous entry's hash and every field
//! of its own, length-prefixed so no two different entries serialise alike; changing or removing
//! an entry breaks every link after it, which `verify` finds.

use causerie_core::Error;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::actor::Actor;
use crate::store::audit::{self as audit_store, AuditRow};

/// The previous hash of a tenant's first entry.
const GENESIS: [u8; 32] = [0; 32];

/// What happened to whose data.
pub struct AuditEvent<'a> {
    pub action: &'a str,
    pub subject_kind: &'a str,
    pub subject_id: String,
}

fn entry_hash(entry: &AuditRow) -> Vec<u8> {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_be_bytes());
        hasher.update(bytes);
    };
    field(&entry.previous_hash);
    field(&entry.sequence.to_be_bytes());
    field(entry.id.as_bytes());
    field(&entry.occurred_at.timestamp_micros().to_be_bytes());
    field(entry.actor_kind.as_bytes());
    field(entry.actor_id.as_bytes());
    field(entry.action.as_bytes());
    field(entry.subject_kind.as_bytes());
    field(entry.subject_id.as_bytes());
    field(entry.source_address.as_deref().unwrap_or("").as_bytes());
    hasher.finalize().to_vec()
}

/// Appends events to the log in the caller's tenant transaction, so the record and the act it
/// records commit together.
pub async fn record(
    transaction: &mut PgConnection,
    actor: &Actor,
    events: impl IntoIterator<Item = AuditEvent<'_>>,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let tenant_id = actor.tenant_id.as_uuid();
    let (actor_kind, actor_id) = actor.audit_name();
    let (mut sequence, mut previous_hash) =
        audit_store::lock_chain_end(transaction, tenant_id).await?.unwrap_or((0, GENESIS.to_vec()));
    // Stored at microsecond precision, as PostgreSQL keeps it, so the hash can be recomputed.
    let occurred_at = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
    for event in events {
        sequence += 1;
        let mut entry = AuditRow {
            sequence,
            id: Uuid::now_v7(),
            occurred_at,
            actor_kind: actor_kind.to_owned(),
            actor_id: actor_id.clone(),
            action: event.action.to_owned(),
            subject_kind: event.subject_kind.to_owned(),
            subject_id: event.subject_id,
            source_address: actor.source_address.clone(),
            previous_hash,
            hash: Vec::new(),
        };
        entry.hash = entry_hash(&entry);
        audit_store::insert(transaction, tenant_id, &entry).await?;
        previous_hash = entry.hash;
    }
    Ok(())
}

pub struct Verification {
    pub valid: bool,
    pub entries: u64,
    pub first_invalid_id: Option<Uuid>,
}

const VERIFY_PAGE: i64 = 1000;

/// Walks the tenant's chain from its first entry. The first entry present anchors the chain:
/// retention removes the oldest entries, so a chain may begin after sequence 1, but every entry
/// after the first must follow its predecessor exactly.
pub async fn verify(transaction: &mut PgConnection) -> Result<Verification, Error> {
    let mut entries = 0_u64;
    let mut previous: Option<AuditRow> = None;
    loop {
        let after = previous.as_ref().map_or(0, |entry| entry.sequence);
        let page = audit_store::chain_page(transaction, after, VERIFY_PAGE).await?;
        if page.is_empty() {
            return Ok(Verification { valid: true, entries, first_invalid_id: None });
        }
        for entry in page {
            entries += 1;
            let linked = match &previous {
                Some(previous) => entry.sequence == previous.sequence + 1 && entry.previous_hash == previous.hash,
                None => entry.sequence > 1 || entry.previous_hash == GENESIS,
            };
            if !linked || entry_hash(&entry) != entry.hash {
                return Ok(Verification { valid: false, entries, first_invalid_id: Some(entry.id) });
            }
            previous = Some(entry);
        }
    }
}

pub struct AuditQuery<'a> {
    pub actor_id: Option<&'a str>,
    pub action: Option<&'a str>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: u32,
    pub cursor: &'a str,
}

/// A page of the tenant's log, newest first, for its admins.
pub async fn list(
    state: &crate::AppState,
    actor: &Actor,
    query: &AuditQuery<'_>,
) -> Result<(Vec<AuditRow>, Option<String>), Error> {
    actor.require_admin()?;
    for (field, time) in [("from", query.from), ("to", query.to)] {
        if time.is_some_and(|time| !(1970..=9999).contains(&chrono::Datelike::year(&time))) {
            return Err(Error::invalid_field(field, "must be between the years 1970 and 9999"));
        }
    }
    let limit = crate::domain::page::limit(query.limit)?;
    let before = if query.cursor.is_empty() {
        None
    } else {
        Some(query.cursor.parse::<i64>().map_err(|_| Error::invalid_field("cursor", "is not a cursor of this list"))?)
    };
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let filter = audit_store::AuditFilter {
        actor_id: query.actor_id,
        action: query.action,
        from: query.from,
        to: query.to,
        before,
        limit: limit + 1,
    };
    let entries = audit_store::list(&mut transaction, &filter).await?;
    Ok(crate::domain::page::cut(entries, limit, |entry| entry.sequence.to_string()))
}

/// Checks the tenant's chain end to end, for its admins.
pub async fn check(state: &crate::AppState, actor: &Actor) -> Result<Verification, Error> {
    actor.require_admin()?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    verify(&mut transaction).await
}

/// A tenant's content a service is about to send to a sub-processor.
pub struct SubprocessorCall<'a> {
    /// `tts` or `translation`.
    pub kind: &'a str,
    /// `local`, `acapela` or `google`.
    pub provider: &'a str,
    pub subject_kind: &'a str,
    pub subject_id: &'a str,
}

/// Writes the call to the tenant's audit log as `subprocessor.<kind>.<provider>`, naming what is
/// sent: the entry (or message) by its kind and id.
pub async fn record_subprocessor_call(
    state: &crate::AppState,
    actor: &Actor,
    call: SubprocessorCall<'_>,
) -> Result<(), Error> {
    let (kind, provider) = match (call.kind, call.provider) {
        ("tts", provider @ ("local" | "acapela")) | ("translation", provider @ "google") => (call.kind, provider),
        _ => return Err(Error::invalid_field("provider", "tts through local or acapela, translation through google")),
    };
    let word = |text: &str| {
        !text.is_empty() && text.len() <= 100 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
    };
    if !word(call.subject_kind) || !word(call.subject_id) {
        return Err(Error::invalid_field("subject_id", "letters, digits, _, - and . only"));
    }
    let action = format!("subprocessor.{kind}.{provider}");
    let event = AuditEvent { action: &action, subject_kind: call.subject_kind, subject_id: call.subject_id.to_owned() };
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    record(&mut transaction, actor, [event], state.clock.now()).await?;
    transaction.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AuditRow {
        AuditRow {
            sequence: 1,
            id: Uuid::now_v7(),
            occurred_at: Utc::now(),
            actor_kind: "user".into(),
            actor_id: "a".into(),
            action: "user.read".into(),
            subject_kind: "user".into(),
            subject_id: "b".into(),
            source_address: None,
            previous_hash: GENESIS.to_vec(),
            hash: Vec::new(),
        }
    }

    #[test]
    fn every_field_is_covered_and_fields_do_not_run_together() {
        let original = entry();
        let mut shifted = original.clone();
        shifted.actor_id = "au".into();
        shifted.action = "ser.read".into();
        assert_ne!(entry_hash(&original), entry_hash(&shifted));
        let mut other_address = original.clone();
        other_address.source_address = Some("10.0.0.1".into());
        assert_ne!(entry_hash(&original), entry_hash(&other_address));
    }
}
