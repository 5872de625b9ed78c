//! What the gateway must know about a token beyond its signature: whether its user or API key was
//! revoked after it was issued, and whether its user has accepted the tenant's current legal
//! notice. Accounts writes both to the access directory in Redis (`causerie_runtime::access`);
//! a task here reads the revocations and the notice versions every `POLL_EVERY`, so the hot path
//! decides in memory. Only a user whose token predates the current notice costs a Redis read,
//! until that user accepts it or refreshes.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use causerie_core::{Clock, Error, ErrorCode, TenantId};
use causerie_runtime::access;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

const POLL_EVERY: Duration = Duration::from_millis(500);
/// How old the last successful read of the directory may be before the gateway stops deciding
/// from it: ten polls missed in a row.
const STALE_AFTER: Duration = Duration::from_secs(5);
/// Revocations older than this stop no live token (access tokens live 15 minutes).
const REVOCATION_HORIZON: chrono::Duration = chrono::Duration::minutes(16);

struct Snapshot {
    /// Subject id to the Unix millisecond of its latest revocation.
    revoked: HashMap<Uuid, i64>,
    /// Tenant id to its current legal-notice version.
    legal_notice_versions: HashMap<Uuid, i32>,
    /// When Redis last answered: a revocation made since is not in this snapshot.
    read_at: tokio::time::Instant,
}

impl Snapshot {
    /// Fails closed once the directory has not been read for `STALE_AFTER`: from then on, the
    /// gateway can no longer tell a revoked token (an erased user's, a revoked key's) from a good
    /// one, so it answers every token `503` until Redis answers again (docs/decisions.md #20).
    fn check_fresh(&self) -> Result<(), Error> {
        if self.read_at.elapsed() > STALE_AFTER {
            return Err(Error::unavailable("the access directory has not been read for a while; retry later"));
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct AccessDirectory {
    snapshot: Arc<RwLock<Arc<Snapshot>>>,
    /// (user, version) pairs known accepted since the user's token was issued.
    acceptances: Arc<Mutex<HashSet<(Uuid, i32)>>>,
    redis: redis::aio::ConnectionManager,
    namespace: String,
}

impl AccessDirectory {
    /// Loads the directory once, then keeps it fresh from a task tracked by `tasks`.
    pub async fn start(
        redis: redis::aio::ConnectionManager,
        namespace: &str,
        clock: Clock,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<Self, redis::RedisError> {
        let directory = Self {
            snapshot: Arc::new(RwLock::new(Arc::new(Snapshot {
                revoked: HashMap::new(),
                legal_notice_versions: HashMap::new(),
                read_at: tokio::time::Instant::now(),
            }))),
            acceptances: Arc::new(Mutex::new(HashSet::new())),
            redis,
            namespace: namespace.to_owned(),
        };
        directory.reload(clock.now()).await?;
        let poller = directory.clone();
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(POLL_EVERY) => {}
                }
                if let Err(error) = poller.reload(clock.now()).await {
                    tracing::warn!(%error, "access directory not refreshed");
                }
            }
        });
        Ok(directory)
    }

    async fn reload(&self, now: DateTime<Utc>) -> Result<(), redis::RedisError> {
        let mut redis = self.redis.clone();
        let (revocations, versions): (Vec<(String, i64)>, HashMap<String, i32>) = redis::pipe()
            .zrangebyscore_withscores(
                access::revoked_subjects_key(&self.namespace),
                (now - REVOCATION_HORIZON).timestamp_millis(),
                "+inf",
            )
            .hgetall(access::legal_notice_versions_key(&self.namespace))
            .query_async(&mut redis)
            .await?;
        let snapshot = Snapshot {
            revoked: revocations
                .into_iter()
                .filter_map(|(subject, revoked_at)| Some((Uuid::try_parse(&subject).ok()?, revoked_at)))
                .collect(),
            legal_notice_versions: versions
                .into_iter()
                .filter_map(|(tenant, version)| Some((Uuid::try_parse(&tenant).ok()?, version)))
                .collect(),
            read_at: tokio::time::Instant::now(),
        };
        self.replace(snapshot);
        Ok(())
    }

    fn replace(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        match self.snapshot.write() {
            Ok(mut current) => *current = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }

    fn current(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(current) => Arc::clone(&current),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// `401` when `subject` was revoked at or after the millisecond its token was issued; `503`
    /// when the directory is too old to tell.
    pub fn check_not_revoked(&self, subject: Uuid, issued_at: DateTime<Utc>) -> Result<(), Error> {
        let current = self.current();
        current.check_fresh()?;
        match current.revoked.get(&subject) {
            Some(revoked_at) if *revoked_at >= issued_at.timestamp_millis() => {
                Err(Error::unauthenticated("this token was revoked; sign in again"))
            }
            _ => Ok(()),
        }
    }

    /// `503` when the directory is too old to tell a revoked token from a good one.
    pub fn check_fresh(&self) -> Result<(), Error> {
        self.current().check_fresh()
    }

    /// Records a revocation this gateway made itself, so it holds here before the next poll.
    pub fn note_revoked(&self, subject: Uuid, at: DateTime<Utc>) {
        let current = self.current();
        let mut revoked = current.revoked.clone();
        revoked.insert(subject, at.timestamp_millis());
        self.replace(Snapshot {
            revoked,
            legal_notice_versions: current.legal_notice_versions.clone(),
            read_at: current.read_at,
        });
    }

    /// Records a version this gateway saw published, so the gate holds here before the next poll.
    pub fn note_legal_notice(&self, tenant_id: TenantId, version: i32) {
        let current = self.current();
        let mut legal_notice_versions = current.legal_notice_versions.clone();
        legal_notice_versions.insert(tenant_id.as_uuid(), version);
        self.replace(Snapshot { revoked: current.revoked.clone(), legal_notice_versions, read_at: current.read_at });
    }

    pub fn note_accepted(&self, user_id: Uuid, version: i32) {
        if let Ok(mut acceptances) = self.acceptances.lock() {
            acceptances.insert((user_id, version));
        }
    }

    /// `403 legal_notice_not_accepted` while the user has not accepted the tenant's current
    /// notice. `accepted_in_token` is the version the user had accepted when the token was issued.
    pub async fn check_legal_notice(
        &self,
        tenant_id: TenantId,
        user_id: Uuid,
        accepted_in_token: i32,
    ) -> Result<(), Error> {
        let Some(current) = self.current().legal_notice_versions.get(&tenant_id.as_uuid()).copied() else {
            return Ok(());
        };
        if accepted_in_token >= current {
            return Ok(());
        }
        if self.acceptances.lock().is_ok_and(|acceptances| acceptances.contains(&(user_id, current))) {
            return Ok(());
        }
        let mut redis = self.redis.clone();
        let accepted: Option<i32> = redis::cmd("HGET")
            .arg(access::legal_notice_acceptances_key(&self.namespace, tenant_id))
            .arg(user_id.to_string())
            .query_async(&mut redis)
            .await
            .map_err(Error::unavailable)?;
        if accepted.is_some_and(|accepted| accepted >= current) {
            self.note_accepted(user_id, current);
            return Ok(());
        }
        Err(Error::new(
            ErrorCode::LegalNoticeNotAccepted,
            format!("accept legal notice version {current} first: GET /v1/legal-notices/current"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(ago: Duration) -> Snapshot {
        let now = tokio::time::Instant::now();
        Snapshot {
            revoked: HashMap::new(),
            legal_notice_versions: HashMap::new(),
            read_at: now.checked_sub(ago).unwrap_or(now),
        }
    }

    #[test]
    fn a_directory_not_read_for_five_seconds_refuses_every_token() {
        assert!(read(Duration::from_secs(1)).check_fresh().is_ok());
        let refused = read(STALE_AFTER + Duration::from_millis(1)).check_fresh().err().map(|error| error.code());
        assert_eq!(refused, Some(ErrorCode::Unavailable), "an erased user's token could pass unseen");
    }
}
