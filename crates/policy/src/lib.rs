//! Any service's view of a tenant's privacy policy: read from accounts once, then kept in memory
//! until `accounts.policy.updated` says a newer version exists. Each replica listens on its own
//! queue (`causerie_bus::broadcast`), so every copy is dropped, and everything is dropped when the
//! listener reconnects, since an update may have gone unheard. A copy also ages out after
//! `MAX_AGE`, in case the bus is down for long.

pub mod copies;

use std::sync::Arc;
use std::time::Duration;

use causerie_bus::Bus;
use causerie_core::policy::PrivacyPolicy;
use causerie_core::{Error, TenantId};
use causerie_proto::accounts::v1 as pb;
use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::copies::Copies;

/// How long a copy is trusted without hearing from the bus.
pub const MAX_AGE: Duration = Duration::from_secs(300);

/// Past this many tenants, the cache starts afresh.
const CAPACITY: usize = 10_000;

#[derive(Clone)]
pub struct PolicyCache {
    accounts: PrivacyServiceClient<Channel>,
    copies: Arc<Copies<TenantId, Arc<PrivacyPolicy>>>,
}

impl PolicyCache {
    pub fn new(accounts: PrivacyServiceClient<Channel>) -> Self {
        Self { accounts, copies: Arc::new(Copies::new(MAX_AGE, CAPACITY)) }
    }

    /// Drops copies as `accounts.policy.updated` events arrive, until `shutdown`. Spawn it on the
    /// service's task tracker.
    pub async fn follow_updates(self, bus: Bus, shutdown: CancellationToken) {
        Arc::clone(&self.copies).follow(bus, &["accounts.policy.updated"], |tenant_id, _| *tenant_id, shutdown).await;
    }

    /// Returns once `follow_updates` is subscribed: an update made afterwards is heard.
    pub async fn listening(&self) {
        self.copies.listening().await;
    }

    /// The version held for `tenant_id`, if any: what a caller would be answered without asking
    /// accounts.
    pub fn cached_version(&self, tenant_id: TenantId) -> Option<i32> {
        self.copies.get(&tenant_id).map(|policy| policy.version)
    }

    /// The policy of the tenant of `token`, a caller's verified token for tenant `tenant_id`
    /// (forwarded to accounts on a miss).
    pub async fn policy(&self, tenant_id: TenantId, token: &str) -> Result<Arc<PrivacyPolicy>, Error> {
        if let Some(policy) = self.copies.get(&tenant_id) {
            return Ok(policy);
        }
        let since = self.copies.generation();
        let request =
            causerie_auth::transport::with_bearer(tonic::Request::new(pb::GetPrivacyPolicyRequest {}), token)?;
        let document = self.accounts.clone().get_privacy_policy(request).await?;
        let policy: PrivacyPolicy =
            serde_json::from_str(&document.into_inner().policy_json).map_err(Error::internal)?;
        let policy = Arc::new(policy);
        self.copies.insert(tenant_id, Arc::clone(&policy), since);
        Ok(policy)
    }
}
