//! Each tenant's privacy side: projects (and the public id their widget is embedded with), the
//! versioned privacy policy, the consent ledger, and the sub-processors and features that the
//! processing register is built from.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use causerie_auth::Scope;
use causerie_bus::message::{PolicyUpdated, ProjectChanged, TenantUpdated};
use causerie_bus::{Envelope, Message};
use causerie_core::policy::{PolicyDocument, PrivacyPolicy};
use causerie_core::{Error, ErrorCode, FieldError, TenantId};
use chrono::SubsecRound;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::AppState;
use crate::domain::Name;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditEvent};
use crate::domain::page;
use crate::store::privacy::{self as privacy_store, ConsentRow, NewConsent, NewProject, ProjectChanges, ProjectRow};
use crate::store::{self, TenantRow};

/// The id a widget is embedded with: `pk_` and the tenant and project ids, so the project is found
/// inside its tenant's transaction without any table readable across tenants.
pub fn public_id(tenant_id: Uuid, project_id: Uuid) -> String {
    let mut bytes = [0_u8; 32];
    bytes[..16].copy_from_slice(tenant_id.as_bytes());
    bytes[16..].copy_from_slice(project_id.as_bytes());
    format!("pk_{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn parse_public_id(text: &str) -> Option<(TenantId, Uuid)> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim().strip_prefix("pk_")?).ok()?;
    let tenant = Uuid::from_slice(bytes.get(..16)?).ok()?;
    let project = Uuid::from_slice(bytes.get(16..32)?).ok()?;
    (bytes.len() == 32).then_some((tenant.into(), project))
}

/// An origin allowed to embed a widget: `https://host[:port]`, or `http://localhost[:port]` for
/// development. Exactly what browsers send in `Origin`: no path, no trailing slash.
fn origins(values: &[String]) -> Result<Vec<String>, Error> {
    if values.len() > 50 {
        return Err(Error::invalid_field("allowed_origins", "at most 50 origins"));
    }
    let mut origins: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let origin = value.trim().to_lowercase();
        let host = origin.strip_prefix("https://").or_else(|| {
            origin.strip_prefix("http://").filter(|host| *host == "localhost" || host.starts_with("localhost:"))
        });
        let valid = host.is_some_and(|host| {
            !host.is_empty()
                && host.len() <= 253
                && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
        });
        if !valid {
            return Err(Error::invalid_field(
                "allowed_origins",
                format!("{value:?} is not an origin such as https://www.example.org"),
            ));
        }
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    Ok(origins)
}

fn languages(values: &[String]) -> Result<Vec<String>, Error> {
    let mut tags: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let tag = value.trim().to_lowercase();
        let valid = (2..=35).contains(&tag.len()) && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid || values.len() > 30 {
            return Err(Error::invalid_field("languages", format!("{value:?} is not a language tag such as \"fr\"")));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

fn project_id(text: &str) -> Result<Uuid, Error> {
    Uuid::try_parse(text.trim()).map_err(|_| Error::not_found("no such project"))
}

pub struct ProjectInput {
    pub name: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub supervision_enabled: Option<bool>,
}

struct ValidProject {
    name: Option<Name>,
    allowed_origins: Option<Vec<String>>,
    languages: Option<Vec<String>>,
}

fn validate_project(input: &ProjectInput) -> Result<ValidProject, Error> {
    let name = input.name.as_deref().map(|name| Name::parse("name", name)).transpose();
    let allowed_origins = input.allowed_origins.as_deref().map(origins).transpose();
    let languages = input.languages.as_deref().map(languages).transpose();
    match (name, allowed_origins, languages) {
        (Ok(name), Ok(allowed_origins), Ok(languages)) => Ok(ValidProject { name, allowed_origins, languages }),
        (name, allowed_origins, languages) => {
            let errors: Vec<FieldError> = [name.err(), allowed_origins.err(), languages.err()]
                .into_iter()
                .flatten()
                .flat_map(|error| error.field_errors().to_vec())
                .collect();
            Err(Error::with_field_errors(ErrorCode::InvalidRequest, errors))
        }
    }
}

pub async fn create_project(state: &AppState, actor: &Actor, input: ProjectInput) -> Result<ProjectRow, Error> {
    actor.require_editor_or_scope(Scope::ProjectsWrite)?;
    let valid = validate_project(&input)?;
    let name = valid.name.ok_or_else(|| Error::invalid_field("name", "is required"))?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let project = privacy_store::insert_project(
        &mut transaction,
        &NewProject {
            tenant_id: actor.tenant_id.as_uuid(),
            name: name.as_str(),
            allowed_origins: valid.allowed_origins.as_deref().unwrap_or_default(),
            languages: valid.languages.as_deref().unwrap_or_default(),
            supervision_enabled: input.supervision_enabled.unwrap_or(false),
            now: state.clock.now(),
        },
    )
    .await?;
    transaction.commit().await?;
    Ok(project)
}

/// A page of the tenant's projects, in id order.
pub async fn projects(
    state: &AppState,
    actor: &Actor,
    limit: u32,
    cursor: &str,
) -> Result<(Vec<ProjectRow>, Option<String>), Error> {
    actor.require_user_or_scope(Scope::ProjectsRead)?;
    let limit = page::limit(limit)?;
    let after = page::id_cursor(cursor)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let rows = privacy_store::projects(&mut transaction, after, limit + 1).await?;
    Ok(page::cut(rows, limit, |project| project.id.to_string()))
}

pub async fn project(state: &AppState, actor: &Actor, id: &str) -> Result<ProjectRow, Error> {
    actor.require_user_or_scope(Scope::ProjectsRead)?;
    let id = project_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    privacy_store::project(&mut transaction, id).await?.ok_or_else(|| Error::not_found("no such project"))
}

pub async fn update_project(
    state: &AppState,
    actor: &Actor,
    id: &str,
    input: ProjectInput,
) -> Result<ProjectRow, Error> {
    actor.require_editor_or_scope(Scope::ProjectsWrite)?;
    let id = project_id(id)?;
    let valid = validate_project(&input)?;
    let changes = ProjectChanges {
        name: valid.name.as_ref().map(Name::as_str),
        allowed_origins: valid.allowed_origins.as_deref(),
        languages: valid.languages.as_deref(),
        supervision_enabled: input.supervision_enabled,
    };
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let project = privacy_store::update_project(&mut transaction, id, &changes, now)
        .await?
        .ok_or_else(|| Error::not_found("no such project"))?;
    announce_project_change(&mut transaction, actor.tenant_id, id, false, now).await?;
    transaction.commit().await?;
    state.forget_widget_projects(actor.tenant_id);
    Ok(project)
}

pub async fn delete_project(state: &AppState, actor: &Actor, id: &str) -> Result<(), Error> {
    actor.require_editor_or_scope(Scope::ProjectsWrite)?;
    let id = project_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    if !privacy_store::delete_project(&mut transaction, id).await? {
        return Err(Error::not_found("no such project"));
    }
    announce_project_change(&mut transaction, actor.tenant_id, id, true, state.clock.now()).await?;
    transaction.commit().await?;
    state.forget_widget_projects(actor.tenant_id);
    Ok(())
}

/// Tells every replica that caches widget projects (gateways, accounts) to read this one again.
async fn announce_project_change(
    transaction: &mut PgConnection,
    tenant_id: TenantId,
    project_id: Uuid,
    deleted: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    let message = Message::ProjectChangedV1(ProjectChanged { tenant_id, project_id, deleted });
    causerie_bus::enqueue(transaction, &Envelope::new(tenant_id, crate::PRODUCER, now, message))
        .await
        .map_err(Error::from)
}

fn stored_policy(row: privacy_store::PolicyRow) -> Result<PrivacyPolicy, Error> {
    let mut policy: PrivacyPolicy = serde_json::from_value(row.policy).map_err(Error::internal)?;
    policy.version = row.version;
    policy.updated_at = Some(row.created_at);
    Ok(policy)
}

/// The tenant's policy in force, or the defaults (version 0) while it has written none.
pub async fn current_policy(transaction: &mut PgConnection, tenant: &TenantRow) -> Result<PrivacyPolicy, Error> {
    match privacy_store::current_policy(transaction).await? {
        Some(row) => stored_policy(row),
        None => Ok(PrivacyPolicy {
            version: 0,
            document: PolicyDocument::defaults(&tenant.name),
            consent_text_version: 0,
            updated_at: None,
        }),
    }
}

async fn tenant_row(state: &AppState, tenant_id: TenantId) -> Result<TenantRow, Error> {
    store::tenant_by_id(&state.pool, tenant_id).await?.ok_or_else(|| Error::not_found("no such tenant"))
}

pub async fn policy(state: &AppState, actor: &Actor) -> Result<PrivacyPolicy, Error> {
    actor.require_user_or_scope(Scope::ProjectsRead)?;
    let tenant = tenant_row(state, actor.tenant_id).await?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    current_policy(&mut transaction, &tenant).await
}

/// Writes a new version of the policy. Every rule is checked first; the version, the event that
/// tells other services and the audit entry commit together.
pub async fn put_policy(state: &AppState, actor: &Actor, document_json: &str) -> Result<PrivacyPolicy, Error> {
    let admin_id = actor.require_admin()?;
    let document: PolicyDocument = serde_json::from_str(document_json)
        .map_err(|error| Error::new(ErrorCode::InvalidRequest, format!("the policy is not well formed: {error}")))?;
    document.validate()?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    // Support's translation switch takes the same lock (`update_tenant`), so the switch read here
    // holds until this version commits.
    privacy_store::lock_policy(&mut transaction, actor.tenant_id.as_uuid()).await?;
    let tenant = store::tenant_by_id(&mut *transaction, actor.tenant_id)
        .await?
        .ok_or_else(|| Error::not_found("no such tenant"))?;
    if document.subprocessors.translation.leaves_the_eu() && !tenant.translation {
        return Err(Error::invalid_field(
            "subprocessors.translation",
            "the translation connector is off for this tenant until support enables it",
        ));
    }
    let previous = current_policy(&mut transaction, &tenant).await?;
    let version = previous.version + 1;
    let consent_text_version = if previous.version > 0 && previous.document.consent_text == document.consent_text {
        previous.consent_text_version
    } else {
        version
    };
    let policy = PrivacyPolicy { version, document, consent_text_version, updated_at: Some(now) };
    let stored = serde_json::to_value(&policy).map_err(Error::internal)?;
    privacy_store::insert_policy(
        &mut transaction,
        actor.tenant_id.as_uuid(),
        version,
        &stored,
        admin_id.as_uuid(),
        now,
    )
    .await?;
    let announcement = Envelope::new(
        actor.tenant_id,
        crate::PRODUCER,
        now,
        Message::PolicyUpdatedV1(PolicyUpdated { tenant_id: actor.tenant_id, version }),
    );
    causerie_bus::enqueue(&mut transaction, &announcement).await?;
    audit::record(
        &mut transaction,
        actor,
        [AuditEvent {
            action: "privacy_policy.updated",
            subject_kind: "privacy_policy",
            subject_id: version.to_string(),
        }],
        now,
    )
    .await?;
    transaction.commit().await?;
    state.forget_widget_projects(actor.tenant_id);
    tracing::info!(tenant.id = %actor.tenant_id, version, "privacy policy updated");
    Ok(policy)
}

/// A page of the policy's versions, newest first; the cursor is the last version of the page.
pub async fn policy_versions(
    state: &AppState,
    actor: &Actor,
    limit: u32,
    cursor: &str,
) -> Result<(Vec<privacy_store::PolicyRow>, Option<String>), Error> {
    actor.require_user_or_scope(Scope::ProjectsRead)?;
    let limit = page::limit(limit)?;
    let before = match cursor {
        "" => None,
        cursor => {
            Some(cursor.parse::<i32>().map_err(|_| Error::invalid_field("cursor", "is not a cursor of this list"))?)
        }
    };
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let rows = privacy_store::policy_versions(&mut transaction, before, limit + 1).await?;
    Ok(page::cut(rows, limit, |row| row.version.to_string()))
}

pub async fn policy_version(state: &AppState, actor: &Actor, version: i32) -> Result<PrivacyPolicy, Error> {
    actor.require_user_or_scope(Scope::ProjectsRead)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let row = privacy_store::policy_version(&mut transaction, version)
        .await?
        .ok_or_else(|| Error::not_found("no such policy version"))?;
    stored_policy(row)
}

/// A widget's project, its tenant and what it needs to start. Unknown ids, and the projects of a
/// tenant that is not active, answer `404`. Kept in `AppState::widget_projects` until an event
/// says the project, the tenant or its policy changed.
pub struct WidgetProject {
    pub tenant: TenantRow,
    pub project: ProjectRow,
    pub policy: PrivacyPolicy,
}

pub async fn widget_project(state: &AppState, public_id: &str) -> Result<Arc<WidgetProject>, Error> {
    let key = parse_public_id(public_id).ok_or_else(|| Error::not_found("no such project"))?;
    if let Some(widget) = state.widget_projects.get(&key) {
        return Ok(widget);
    }
    let since = state.widget_projects.generation();
    let widget = Arc::new(read_widget_project(state, key).await?);
    state.widget_projects.insert(key, Arc::clone(&widget), since);
    Ok(widget)
}

/// The widget project as the database has it now, bypassing this replica's copy: what the
/// gateways cache. Were they answered from this copy, a gateway that heard of a change before
/// this replica did could keep the old answer after the event.
pub async fn current_widget_project(state: &AppState, public_id: &str) -> Result<WidgetProject, Error> {
    let key = parse_public_id(public_id).ok_or_else(|| Error::not_found("no such project"))?;
    read_widget_project(state, key).await
}

async fn read_widget_project(
    state: &AppState,
    (tenant_id, project_id): (TenantId, Uuid),
) -> Result<WidgetProject, Error> {
    let not_found = || Error::not_found("no such project");
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    let tenant = store::tenant_by_id(&mut *transaction, tenant_id)
        .await?
        .filter(|tenant| tenant.status == "active")
        .ok_or_else(not_found)?;
    let project = privacy_store::project(&mut transaction, project_id).await?.ok_or_else(not_found)?;
    let policy = current_policy(&mut transaction, &tenant).await?;
    transaction.commit().await?;
    Ok(WidgetProject { tenant, project, policy })
}

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
    privacy_store::visitor_consents(&mut transaction, visitor_id, None, None).await
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
    let rows = privacy_store::visitor_consents(&mut transaction, visitor_id, before, Some(limit + 1)).await?;
    let (records, next_cursor) = page::cut(rows, limit, consent_cursor);
    let mut texts = std::collections::HashMap::new();
    for record in &records {
        if !texts.contains_key(&record.text_version)
            && let Some(row) = privacy_store::policy_version(&mut transaction, record.text_version).await?
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
    let latest = privacy_store::latest_consent(&state.pool, tenant_id, visitor_id, purpose).await?;
    state.consent_states.insert(key, latest, since);
    Ok(latest)
}

/// Support switches a tenant's features. Translation cannot be switched on while the tenant's
/// policy keeps data in the EU: the connector would take it out.
pub async fn update_tenant(
    state: &AppState,
    tenant_id: &str,
    changes: store::TenantChanges,
) -> Result<TenantRow, Error> {
    let not_found = || Error::not_found("no such tenant");
    let tenant_id: TenantId = tenant_id.trim().parse().map_err(|_| not_found())?;
    if let Some(status) = &changes.status
        && !matches!(status.as_str(), "active" | "suspended")
    {
        return Err(Error::invalid_field("status", "must be active or suspended"));
    }
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    // The lock a policy write takes: a policy choosing a translation provider reads the switch
    // under it, so the switch cannot be turned off between that read and the policy's commit.
    // The switch itself is commercial (the vendor connects translation on request); whether
    // translation may be used under the policy's residency is the policy's rule.
    privacy_store::lock_policy(&mut transaction, tenant_id.as_uuid()).await?;
    let tenant = store::update_tenant(&mut *transaction, tenant_id, &changes, now).await?.ok_or_else(not_found)?;
    let message = Message::TenantUpdatedV1(TenantUpdated { tenant_id });
    causerie_bus::enqueue(&mut transaction, &Envelope::new(tenant_id, crate::PRODUCER, now, message)).await?;
    transaction.commit().await?;
    state.forget_widget_projects(tenant_id);
    Ok(tenant)
}

/// A sub-processor as support records it: a slug id, a kind, a name, an ISO country code, and a
/// safeguard whenever data leaves the EU.
pub fn validate_subprocessor(row: &privacy_store::SubprocessorRow) -> Result<(), Error> {
    let valid_id = (1..=64).contains(&row.id.len())
        && row.id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_id {
        return Err(Error::invalid_field("id", "1 to 64 lowercase letters, digits and hyphens"));
    }
    if !matches!(row.kind.as_str(), "hosting" | "tts" | "translation") {
        return Err(Error::invalid_field("kind", "must be hosting, tts or translation"));
    }
    Name::parse("name", &row.name)?;
    Name::parse("purpose", &row.purpose)?;
    if row.country.len() != 2 || !row.country.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(Error::invalid_field("country", "an ISO 3166 code such as FR"));
    }
    if row.outside_eu && row.safeguard.is_none() {
        return Err(Error::invalid_field("safeguard", "is required for a transfer outside the EU (GDPR Art. 46)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_id_carries_its_tenant_and_project() {
        let (tenant, project) = (Uuid::now_v7(), Uuid::now_v7());
        let id = public_id(tenant, project);
        assert_eq!(parse_public_id(&id), Some((tenant.into(), project)));
        assert_eq!(parse_public_id("pk_short"), None);
        assert_eq!(parse_public_id(&id.replace("pk_", "xx_")), None);
    }

    #[test]
    fn addresses_lose_their_host_part() {
        assert_eq!(truncate_address("203.0.113.77").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(truncate_address("2001:db8:85a3:8d3:1319:8a2e:370:7348").as_deref(), Some("2001:db8:85a3::/48"));
        assert_eq!(truncate_address("not an address"), None);
    }

    #[test]
    fn origins_are_exact_and_https() {
        assert_eq!(origins(&["https://WWW.example.org".into()]).unwrap(), ["https://www.example.org"]);
        assert!(origins(&["http://localhost:3000".into()]).is_ok());
        assert!(origins(&["http://www.example.org".into()]).is_err());
        assert!(origins(&["https://www.example.org/path".into()]).is_err());
    }
}
