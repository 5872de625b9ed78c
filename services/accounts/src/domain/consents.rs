//! The consent ledger: visitors' decisions for the purposes that rest on consent, and the proof
//! of them for the tenant.

use std::net::IpAddr;

use causerie_auth::Scope;
use causerie_core::{Error, TenantId};
use chrono::SubsecRound;
use uuid::Uuid;

use crate::AppState;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditEvent};
use crate::domain::page;
use crate::domain::privacy_policy::stored_policy;
use crate::domain::projects::parse_public_id;
use crate::domain::widget_projects::widget_project;
use crate::store::consents::{self as consent_store, ConsentRow, NewConsent};
use crate::store::policies as policy_store;

/// The network part of an address: the first three bytes of IPv4, the first six of IPv6. What
/// shows where a consent came from without identifying the device.
pub fn truncate_address(address: &str) -> Option<String> {
    match address.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(format!("{a}.{b}.{c}.0/24"))
        }
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            let network = std::net::Ipv6Addr::new(segments[0], segments[1], segments[2], 0, 0, 0, 0, 0);
            Some(format!("{network}/48"))
        }
    }
}

pub struct ConsentDecision<'a> {
    pub visitor_id: &'a str,
    pub purpose: &'a str,
    pub granted: bool,
    pub text_version: i32,
    pub source: &'a str,
    pub client_address: Option<&'a str>,
}

/// Records a visitor's decision for a purpose of the tenant's current policy whose legal basis is
/// consent, citing a consent text the visitor could have been shown.
pub async fn record_consent(
    state: &AppState,
    public_id: &str,
    decision: &ConsentDecision<'_>,
) -> Result<ConsentRow, Error> {
    let widget = widget_project(state, public_id).await?;
    let visitor_id =
        Uuid::try_parse(decision.visitor_id).map_err(|_| Error::invalid_field("visitor_id", "is not a visitor id"))?;
    let purpose = widget
        .policy
        .document
        .purpose(decision.purpose)
        .ok_or_else(|| Error::invalid_field("purpose", "is not a purpose of the tenant's privacy policy"))?;
    if purpose.legal_basis != causerie_core::policy::LegalBasis::Consent {
        return Err(Error::invalid_field("purpose", "does not rest on consent"));
    }
    if decision.text_version != widget.policy.consent_text_version {
        return Err(Error::invalid_field("text_version", "is not the consent text shown now"));
    }
    let source = ["widget", "scenario_step", "form", "chat_intro"]
        .into_iter()
        .find(|source| *source == decision.source)
        .ok_or_else(|| Error::invalid_field("source", "must be widget, scenario_step, form or chat_intro"))?;
    let record = state
        .consent_ledger
        .record(NewConsent {
            id: Uuid::now_v7(),
            tenant_id: widget.tenant.id,
            visitor_id,
            project_id: widget.project.id,
            purpose: decision.purpose.to_owned(),
            granted: decision.granted,
            text_version: decision.text_version,
            source,
            client_network: decision.client_address.and_then(truncate_address),
            now: state.clock.now().trunc_subsecs(6),
        })
        .await?;
    state.consent_states.remove(&(TenantId::from(widget.tenant.id), visitor_id, decision.purpose.to_owned()));
    Ok(record)
}

pub async fn visitor_consents(state: &AppState, public_id: &str, visitor_id: &str) -> Result<Vec<ConsentRow>, Error> {
    let (tenant_id, _) = parse_public_id(public_id).ok_or_else(|| Error::not_found("no such project"))?;
    let Ok(visitor_id) = Uuid::try_parse(visitor_id) else { return Ok(Vec::new()) };
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    consent_store::visitor_consents(&mut transaction, visitor_id, None, None).await
}

/// A page of the proof of a visitor's consents: records, newest first, and the consent text each
/// one cites.
pub struct ConsentProof {
    pub records: Vec<ConsentRow>,
    pub texts: std::collections::HashMap<i32, String>,
    pub next_cursor: Option<String>,
}

/// A consent record's place in a visitor's list, newest first: its time (microseconds) and id.
fn consent_cursor(record: &ConsentRow) -> String {
    format!("{}_{}", record.recorded_at.timestamp_micros(), record.id)
}

fn parse_consent_cursor(cursor: &str) -> Result<Option<(chrono::DateTime<chrono::Utc>, Uuid)>, Error> {
    if cursor.is_empty() {
        return Ok(None);
    }
    let invalid = || Error::invalid_field("cursor", "is not a cursor of this list");
    let (micros, id) = cursor.split_once('_').ok_or_else(invalid)?;
    let recorded_at =
        chrono::DateTime::from_timestamp_micros(micros.parse().map_err(|_| invalid())?).ok_or_else(invalid)?;
    Ok(Some((recorded_at, Uuid::try_parse(id).map_err(|_| invalid())?)))
}

/// A visitor's records for the tenant's admins and contributors: the proof of consent.
pub async fn consents(
    state: &AppState,
    actor: &Actor,
    visitor_id: &str,
    limit: u32,
    cursor: &str,
) -> Result<ConsentProof, Error> {
    match &actor.identity {
        crate::domain::actor::ActorIdentity::User { role: causerie_auth::Role::Operator, .. } => {
            return Err(Error::forbidden("only admins and contributors read consent records"));
        }
        _ => actor.require_user_or_scope(Scope::ConsentsRead)?,
    }
    let visitor_id =
        Uuid::try_parse(visitor_id.trim()).map_err(|_| Error::invalid_field("visitor_id", "is not a visitor id"))?;
    let limit = page::limit(limit)?;
    let before = parse_consent_cursor(cursor)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let rows = consent_store::visitor_consents(&mut transaction, visitor_id, before, Some(limit + 1)).await?;
    let (records, next_cursor) = page::cut(rows, limit, consent_cursor);
    let mut texts = std::collections::HashMap::new();
    for record in &records {
        if !texts.contains_key(&record.text_version)
            && let Some(row) = policy_store::policy_version(&mut transaction, record.text_version).await?
        {
            texts.insert(record.text_version, stored_policy(row)?.document.consent_text);
        }
    }
    audit::record(
        &mut transaction,
        actor,
        [AuditEvent { action: "consents.read", subject_kind: "visitor", subject_id: visitor_id.to_string() }],
        state.clock.now(),
    )
    .await?;
    transaction.commit().await?;
    Ok(ConsentProof { records, texts, next_cursor })
}

/// A visitor's latest decision for a purpose: granted, the text version, when.
pub type LatestConsent = Option<(bool, i32, chrono::DateTime<chrono::Utc>)>;

/// Whether the visitor's latest decision grants the purpose: from this replica's copy when it is
/// younger than `AppState::consent_states` allows, else one indexed read in one round trip.
pub async fn check_consent(
    state: &AppState,
    tenant_id: TenantId,
    visitor_id: &str,
    purpose: &str,
) -> Result<LatestConsent, Error> {
    let Ok(visitor_id) = Uuid::try_parse(visitor_id) else { return Ok(None) };
    // Only what can be a purpose id of a policy is looked up, and kept.
    if !causerie_core::policy::is_purpose_id(purpose) {
        return Ok(None);
    }
    let key = (tenant_id, visitor_id, purpose.to_owned());
    if let Some(latest) = state.consent_states.get(&key) {
        return Ok(latest);
    }
    let since = state.consent_states.generation();
    let latest = consent_store::latest_consent(&state.pool, tenant_id, visitor_id, purpose).await?;
    state.consent_states.insert(key, latest, since);
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_lose_their_host_part() {
        assert_eq!(truncate_address("203.0.113.77").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(truncate_address("2001:db8:85a3:8d3:1319:8a2e:370:7348").as_deref(), Some("2001:db8:85a3::/48"));
        assert_eq!(truncate_address("not an address"), None);
    }
}
