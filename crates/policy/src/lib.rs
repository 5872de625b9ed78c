//! Any service's view of a tenant's privacy policy: read from accounts once, then kept in memory
//! until `accounts.policy.updated` says a newer version exists. Each replica listens on its own
//! queue (`causerie_bus::broadcast`), so every copy is dropped, and everything is dropped when the
//! listener reconnects, since an update may have gone unheard. A copy also ages out after
//! `MAX_AGE`, in case the bus is down for long.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use causerie_bus::Bus;
use causerie_bus::broadcast::{self, Heard};
use causerie_core::policy::PrivacyPolicy;
use causerie_core::{Error, TenantId};
use causerie_proto::accounts::v1 as pb;
use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

/// How long a copy is trusted without hearing from the bus.
pub const MAX_AGE: Duration = Duration::from_secs(300);

/// A tenant's policy and when it was read.
type Copies = HashMap<TenantId, (Arc<PrivacyPolicy>, Instant)>;

#[derive(Clone)]
pub struct PolicyCache {
    accounts: PrivacyServiceClient<Channel>,
    copies: Arc<Mutex<Copies>>,
}

impl PolicyCache {
    pub fn new(accounts: PrivacyServiceClient<Channel>) -> Self {
        Self { accounts, copies: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// Drops copies as `accounts.policy.updated` events arrive, until `shutdown`. Spawn it on the
    /// service's task tracker.
    pub async fn follow_updates(self, bus: Bus, shutdown: CancellationToken) {
        let copies = Arc::clone(&self.copies);
        broadcast::listen(
            bus,
            &["accounts.policy.updated"],
            move |heard| {
                let Ok(mut copies) = copies.lock() else { return };
                match heard {
                    Heard::Event(envelope) => {
                        copies.remove(&envelope.tenant_id);
                    }
                    Heard::MayHaveMissedEvents => copies.clear(),
                }
            },
            shutdown,
        )
        .await;
    }

    /// The version held for `tenant_id`, if any: what a caller would be answered without asking
    /// accounts.
    pub fn cached_version(&self, tenant_id: TenantId) -> Option<i32> {
        let copies = self.copies.lock().ok()?;
        copies.get(&tenant_id).filter(|(_, fetched)| fetched.elapsed() < MAX_AGE).map(|(policy, _)| policy.version)
    }

    /// The policy of the tenant of `token`, a caller's verified token for tenant `tenant_id`
    /// (forwarded to accounts on a miss).
    pub async fn policy(&self, tenant_id: TenantId, token: &str) -> Result<Arc<PrivacyPolicy>, Error> {
        if let Some(policy) = self.fresh_copy(tenant_id) {
            return Ok(policy);
        }
        let request =
            causerie_auth::transport::with_bearer(tonic::Request::new(pb::GetPrivacyPolicyRequest {}), token)?;
        let document =
            self.accounts.clone().get_privacy_policy(request).await.map_err(|status| Error::from_status(&status))?;
        let policy: PrivacyPolicy =
            serde_json::from_str(&document.into_inner().policy_json).map_err(Error::internal)?;
        let policy = Arc::new(policy);
        if let Ok(mut copies) = self.copies.lock() {
            copies.insert(tenant_id, (Arc::clone(&policy), Instant::now()));
        }
        Ok(policy)
    }

    fn fresh_copy(&self, tenant_id: TenantId) -> Option<Arc<PrivacyPolicy>> {
        let copies = self.copies.lock().ok()?;
        copies.get(&tenant_id).filter(|(_, fetched)| fetched.elapsed() < MAX_AGE).map(|(policy, _)| Arc::clone(policy))
    }
}
