//! What support switches for a tenant: its status and its features.

use causerie_bus::message::TenantUpdated;
use causerie_bus::{Envelope, Message};
use causerie_core::{Error, TenantId};

use crate::AppState;
use crate::store::policies as policy_store;
use crate::store::{self, TenantRow};

/// Support switches a tenant's features. Translation cannot be switched on while the tenant's
/// policy keeps data in the EU: the connector would take it out.
pub async fn update_tenant(
    state: &AppState,
    tenant_id: &str,
    changes: store::TenantChanges,
) -> Result<TenantRow, Error> {
    let not_found = || Error::not_found("no such tenant");
    let tenant_id: TenantId = tenant_id.trim().parse().map_err(|_| not_found())?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    // The lock a policy write takes: a policy choosing a translation provider reads the switch
    // under it, so the switch cannot be turned off between that read and the policy's commit.
    // The switch itself is commercial (the vendor connects translation on request); whether
    // translation may be used under the policy's residency is the policy's rule.
    policy_store::lock_policy(&mut transaction, tenant_id.as_uuid()).await?;
    let tenant = store::update_tenant(&mut *transaction, tenant_id, &changes, now).await?.ok_or_else(not_found)?;
    let message = Message::TenantUpdatedV1(TenantUpdated { tenant_id });
    causerie_bus::enqueue(&mut transaction, &Envelope::new(tenant_id, crate::PRODUCER, now, message)).await?;
    transaction.commit().await?;
    state.forget_widget_projects(tenant_id);
    Ok(tenant)
}
