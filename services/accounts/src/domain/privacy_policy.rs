//! The tenant's versioned privacy policy: what every widget shows and every service obeys.

use causerie_auth::Scope;
use causerie_bus::message::PolicyUpdated;
use causerie_bus::{Envelope, Message};
use causerie_core::policy::{PolicyDocument, PrivacyPolicy};
use causerie_core::{Error, TenantId};
use sqlx::PgConnection;

use crate::AppState;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditEvent};
use crate::domain::page;
use crate::store::policies::{self as policy_store, PolicyRow};
use crate::store::{self, TenantRow};

pub fn stored_policy(row: PolicyRow) -> Result<PrivacyPolicy, Error> {
    let mut policy: PrivacyPolicy = serde_json::from_value(row.policy).map_err(Error::internal)?;
    policy.version = row.version;
    policy.updated_at = Some(row.created_at);
    Ok(policy)
}

/// The tenant's policy in force, or the defaults (version 0) while it has written none.
pub async fn current_policy(transaction: &mut PgConnection, tenant: &TenantRow) -> Result<PrivacyPolicy, Error> {
    match policy_store::current_policy(transaction).await? {
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
pub async fn put_policy(state: &AppState, actor: &Actor, document: PolicyDocument) -> Result<PrivacyPolicy, Error> {
    let admin_id = actor.require_admin()?;
    document.validate()?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    // Support's translation switch takes the same lock (`update_tenant`), so the switch read here
    // holds until this version commits.
    policy_store::lock_policy(&mut transaction, actor.tenant_id.as_uuid()).await?;
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
    policy_store::insert_policy(&mut transaction, actor.tenant_id.as_uuid(), version, &stored, admin_id.as_uuid(), now)
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
) -> Result<(Vec<PolicyRow>, Option<String>), Error> {
    actor.require_user_or_scope(Scope::ProjectsRead)?;
    let limit = page::limit(limit)?;
    let before = match cursor {
        "" => None,
        cursor => {
            Some(cursor.parse::<i32>().map_err(|_| Error::invalid_field("cursor", "is not a cursor of this list"))?)
        }
    };
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let rows = policy_store::policy_versions(&mut transaction, before, limit + 1).await?;
    Ok(page::cut(rows, limit, |row| row.version.to_string()))
}

pub async fn policy_version(state: &AppState, actor: &Actor, version: i32) -> Result<PrivacyPolicy, Error> {
    actor.require_user_or_scope(Scope::ProjectsRead)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let row = policy_store::policy_version(&mut transaction, version)
        .await?
        .ok_or_else(|| Error::not_found("no such policy version"))?;
    stored_policy(row)
}
