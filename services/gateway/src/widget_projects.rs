//! Widget projects as accounts resolves them (allowed origins, tenant, policy), kept so that a
//! visitor's requests do not each cost a call to accounts. A copy is dropped when accounts
//! announces a change to the project, its tenant or the tenant's policy, at once on this replica
//! when the change went through it, and after `MAX_AGE` in any case (the bus being away).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use causerie_auth::ServiceToken;
use causerie_bus::Bus;
use causerie_core::{Error, TenantId};
use causerie_policy::copies::{Copies, WIDGET_PROJECT_CHANGES};
use causerie_proto::accounts::v1 as pb;
use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::transport::Channel;

use crate::upstream::forwarded;

const MAX_AGE: Duration = Duration::from_secs(30);
/// Past this many projects, the copies start afresh.
const CAPACITY: usize = 100_000;
/// How long an origin that a served project allowed answers the consents' preflight, whose
/// project is not known (it carries no cookie): a visitor's session start puts it there, and a
/// page stays open for hours.
const ORIGIN_SEEN_FOR: Duration = Duration::from_secs(24 * 3600);

/// A project as accounts answered it, with its tenant parsed once.
pub struct ResolvedProject {
    pub tenant_id: TenantId,
    pub project: pb::WidgetProject,
}

#[derive(Clone)]
pub struct WidgetProjects {
    privacy: PrivacyServiceClient<Channel>,
    service_token: ServiceToken,
    copies: Arc<Copies<String, Arc<ResolvedProject>>>,
    /// Origins allowed by the projects this replica resolved, and when it last saw each.
    origins_seen: Arc<Mutex<HashMap<String, Instant>>>,
}

impl WidgetProjects {
    pub fn start(
        privacy: PrivacyServiceClient<Channel>,
        service_token: ServiceToken,
        bus: Bus,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        let copies = Arc::new(Copies::new(MAX_AGE, CAPACITY));
        tasks.spawn(Arc::clone(&copies).follow(
            bus,
            &WIDGET_PROJECT_CHANGES,
            |_, resolved: &Arc<ResolvedProject>| resolved.tenant_id,
            shutdown,
        ));
        Self { privacy, service_token, copies, origins_seen: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// Whether this replica hears project changes now; until it does, it must not be sent visitors,
    /// whose origins and policy it could judge on a stale copy.
    pub fn hears_changes(&self) -> bool {
        self.copies.is_listening()
    }

    /// The project embedded as `public_id`; unknown ids answer accounts' `404` and are not kept.
    pub async fn resolve(&self, public_id: &str) -> Result<Arc<ResolvedProject>, Error> {
        // One spelling per project, so that variants of a valid id cannot fill the cache.
        if !is_public_id(public_id) {
            return Err(Error::not_found("no such project"));
        }
        if let Some(resolved) = self.copies.get(&public_id.to_owned()) {
            self.saw_origins(&resolved);
            return Ok(resolved);
        }
        let since = self.copies.generation();
        let service_token = self.service_token.get().await?;
        let request = forwarded(
            pb::ResolveWidgetProjectRequest { public_id: public_id.to_owned() },
            Some(&*service_token),
            None,
        )?;
        let project = self
            .privacy
            .clone()
            .resolve_widget_project(request)
            .await
            .map_err(|status| Error::from_status(&status))?
            .into_inner();
        let tenant_id =
            project.tenant_id.parse().map_err(|_| Error::internal("accounts answered a malformed tenant id"))?;
        let resolved = Arc::new(ResolvedProject { tenant_id, project });
        self.copies.insert(public_id.to_owned(), Arc::clone(&resolved), since);
        self.saw_origins(&resolved);
        Ok(resolved)
    }

    fn saw_origins(&self, resolved: &ResolvedProject) {
        let Ok(mut seen) = self.origins_seen.lock() else { return };
        if seen.len() >= CAPACITY {
            seen.clear();
        }
        let now = Instant::now();
        for origin in &resolved.project.allowed_origins {
            seen.insert(origin.to_ascii_lowercase(), now);
        }
    }

    /// Whether a project this replica served in the last `ORIGIN_SEEN_FOR` allows `origin`.
    pub fn any_allows(&self, origin: &str) -> bool {
        self.origins_seen.lock().is_ok_and(|seen| {
            seen.get(&origin.to_ascii_lowercase()).is_some_and(|seen_at| seen_at.elapsed() < ORIGIN_SEEN_FOR)
        })
    }

    /// The copy of a project, if this replica holds one; never asks accounts.
    pub fn cached(&self, public_id: &str) -> Option<Arc<ResolvedProject>> {
        self.copies.get(&public_id.to_owned())
    }

    /// After a change this replica forwarded to accounts: its next requests see it at once.
    pub fn forget_tenant(&self, tenant_id: TenantId) {
        self.copies.invalidate(|_, resolved| resolved.tenant_id == tenant_id);
    }
}

/// `pk_` and the 43 base64url characters of a tenant and a project id (`causerie_accounts`'
/// `public_id`).
fn is_public_id(text: &str) -> bool {
    text.strip_prefix("pk_").is_some_and(|encoded| {
        encoded.len() == 43 && encoded.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_canonical_spelling_of_a_public_id_is_looked_up() {
        let valid = "pk_AaImwA3ic9Scos6ZCDkexQGiJsAidXNQtnLWjcTH35I";
        assert!(super::is_public_id(valid));
        for variant in [format!(" {valid}"), format!("{valid}\t"), format!("{valid}="), valid.replace("pk_", "PK_")] {
            assert!(!super::is_public_id(&variant), "{variant:?}");
        }
    }
}
