//! Legal notices on personal data: a tenant admin publishes a version, every user of the tenant
//! must accept it, and each acceptance is kept as proof. The gateway holds users to it through
//! the access directory.

use causerie_core::{Error, TenantId};

use crate::AppState;
use crate::domain::actor::Actor;
use crate::store::legal as legal_store;

pub const MAX_TEXT_CHARACTERS: usize = 50_000;

pub struct LegalNotice {
    pub version: i32,
    pub text: String,
    pub accepted: bool,
}

pub async fn publish(state: &AppState, actor: &Actor, text: &str) -> Result<LegalNotice, Error> {
    let admin_id = actor.require_admin()?;
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT_CHARACTERS {
        return Err(Error::invalid_field("text", format!("must be 1 to {MAX_TEXT_CHARACTERS} characters")));
    }
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let version =
        legal_store::publish(&mut transaction, actor.tenant_id.as_uuid(), text, admin_id.as_uuid(), state.clock.now())
            .await?;
    transaction.commit().await?;
    // After the commit, so no gateway asks for a version that does not exist. The notice is
    // published either way; if Redis cannot be told now, the periodic reconciliation tells it.
    if let Err(error) = state.directory.set_legal_notice_version(actor.tenant_id, version).await {
        tracing::warn!(tenant.id = %actor.tenant_id, version, %error, "legal notice version not yet in the access directory");
    }
    tracing::info!(tenant.id = %actor.tenant_id, version, "legal notice published");
    Ok(LegalNotice { version, text: text.to_owned(), accepted: false })
}

pub async fn current(state: &AppState, actor: &Actor) -> Result<LegalNotice, Error> {
    let user_id = actor.user_id()?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let Some(notice) = legal_store::current(&mut transaction).await? else {
        return Ok(LegalNotice { version: 0, text: String::new(), accepted: true });
    };
    let accepted = legal_store::accepted_version(&mut transaction, user_id.as_uuid()).await? >= notice.version;
    Ok(LegalNotice { version: notice.version, text: notice.text, accepted })
}

pub async fn accept(state: &AppState, actor: &Actor, version: i32) -> Result<(), Error> {
    let user_id = actor.user_id()?.as_uuid();
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    if !legal_store::exists(&mut transaction, version).await? {
        return Err(Error::not_found("no such legal notice version"));
    }
    legal_store::accept(&mut transaction, actor.tenant_id.as_uuid(), user_id, version, state.clock.now()).await?;
    let accepted = legal_store::accepted_version(&mut transaction, user_id).await?;
    transaction.commit().await?;
    // After the commit; a failure answers 503 and accepting again is harmless.
    state.directory.record_acceptance(actor.tenant_id, user_id, accepted).await
}

/// Writes every tenant's current version to the access directory, so a publication whose Redis
/// write failed, or a Redis that lost its data, is repaired: at start, then periodically.
pub async fn republish_versions(state: &AppState) -> Result<(), Error> {
    let mut after = None;
    loop {
        let tenants = crate::store::list_tenants(&state.pool, after, 500).await?;
        let Some(last) = tenants.last() else { return Ok(()) };
        after = Some(last.id);
        for tenant in tenants {
            let tenant_id = TenantId::from(tenant.id);
            let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
            if let Some(notice) = legal_store::current(&mut transaction).await? {
                state.directory.set_legal_notice_version(tenant_id, notice.version).await?;
            }
        }
    }
}
