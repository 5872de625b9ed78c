//! Writes the access directory the gateways read (see `causerie_runtime::access`): revocations
//! of users and API keys, each tenant's current legal-notice version, and who accepted it.

use causerie_core::{Error, TenantId};
use causerie_runtime::access;
use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;

use crate::ACCESS_TOKEN_LIFETIME;

#[derive(Clone)]
pub struct AccessDirectory {
    redis: ConnectionManager,
    namespace: String,
}

impl AccessDirectory {
    pub fn new(redis: ConnectionManager, namespace: &str) -> Self {
        Self { redis, namespace: namespace.to_owned() }
    }

    /// Every token of these subjects issued up to `at` (to the millisecond) is refused from now on. Revocations older
    /// than a token lifetime are pruned: no token they could stop is still valid.
    pub async fn revoke(&self, subjects: &[uuid::Uuid], at: DateTime<Utc>) -> Result<(), Error> {
        if subjects.is_empty() {
            return Ok(());
        }
        let key = access::revoked_subjects_key(&self.namespace);
        let mut pipeline = redis::pipe();
        for subject in subjects {
            pipeline.zadd(&key, subject.to_string(), at.timestamp_millis()).ignore();
        }
        let horizon = (at - ACCESS_TOKEN_LIFETIME - chrono::Duration::minutes(1)).timestamp_millis();
        pipeline.zrembyscore(&key, "-inf", horizon).ignore();
        let mut redis = self.redis.clone();
        pipeline.query_async::<()>(&mut redis).await.map_err(Error::unavailable)
    }

    /// Stamps `subjects` again once the revoking transaction has committed, at the time it did.
    /// The stamp made before the commit refuses every token issued until then; this one refuses
    /// too a token that a refresh running beside the revocation minted from the state it read
    /// just before the commit. Should Redis fail now, only that window stays open: logged.
    pub async fn revoke_after_commit(&self, subjects: &[uuid::Uuid], committed_at: DateTime<Utc>) {
        if let Err(error) = self.revoke(subjects, committed_at).await {
            tracing::warn!(%error, subjects = subjects.len(), "revocation not stamped again after its commit");
        }
    }

    pub async fn set_legal_notice_version(&self, tenant_id: TenantId, version: i32) -> Result<(), Error> {
        let mut redis = self.redis.clone();
        redis::cmd("HSET")
            .arg(access::legal_notice_versions_key(&self.namespace))
            .arg(tenant_id.to_string())
            .arg(version)
            .query_async::<()>(&mut redis)
            .await
            .map_err(Error::unavailable)
    }

    pub async fn record_acceptance(&self, tenant_id: TenantId, user_id: uuid::Uuid, version: i32) -> Result<(), Error> {
        let mut redis = self.redis.clone();
        redis::cmd("HSET")
            .arg(access::legal_notice_acceptances_key(&self.namespace, tenant_id))
            .arg(user_id.to_string())
            .arg(version)
            .query_async::<()>(&mut redis)
            .await
            .map_err(Error::unavailable)
    }
}
