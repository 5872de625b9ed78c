//! The keys accounts signs with: loaded at start, or generated and stored the first time, and
//! rotated without logging anyone out. A new key is published in the JWKS for a while before it
//! signs anything, so every verifier knows it by the time its first token arrives; a retired key
//! stays published until the last token it signed has expired.

use std::sync::{Arc, RwLock};

use causerie_auth::{SigningKey, TokenIssuer, Verifier};
use causerie_core::{Clock, Error};
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use sqlx::PgPool;

use crate::{ACCESS_TOKEN_LIFETIME, store};

/// How long a new key is published before it signs: longer than verifiers take to refresh their
/// key set (30 s) and than replicas take to reload theirs.
pub const PUBLICATION_DELAY: chrono::Duration = chrono::Duration::minutes(2);
/// Keys are replaced this often.
pub const ROTATION_PERIOD: chrono::Duration = chrono::Duration::days(30);

pub struct KeySet {
    pub issuer: TokenIssuer,
    pub jwks: JwkSet,
}

pub struct KeyRing {
    current: RwLock<Arc<KeySet>>,
    pub verifier: Verifier,
    pool: PgPool,
    clock: Clock,
}

/// Serialises key generation between replicas.
const KEY_LOCK: i64 = 0x00ca_5e41_e002;

impl KeyRing {
    pub async fn load_or_create(pool: &PgPool, clock: &Clock) -> Result<Self, Error> {
        let mut rows = live_keys(pool, clock.now()).await?;
        if rows.is_empty() {
            // The very first key signs at once: there is no token out yet for anyone to verify.
            rotate(pool, clock.now(), false).await?;
            rows = live_keys(pool, clock.now()).await?;
        }
        let set = key_set(rows, clock.now())?;
        let verifier = Verifier::new(&set.jwks, clock.clone());
        Ok(Self { current: RwLock::new(Arc::new(set)), verifier, pool: pool.clone(), clock: clock.clone() })
    }

    pub fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(current) => Arc::clone(&current),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Rereads the stored keys: picks up a rotation made by another replica or a key whose
    /// publication delay has passed.
    pub async fn reload(&self) -> Result<(), Error> {
        let now = self.clock.now();
        let set = key_set(live_keys(&self.pool, now).await?, now)?;
        self.verifier.replace_keys(&set.jwks);
        let set = Arc::new(set);
        match self.current.write() {
            Ok(mut current) => *current = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
        Ok(())
    }

    /// Starts a new key, which signs after the publication delay.
    pub async fn rotate(&self) -> Result<String, Error> {
        let key_id = rotate(&self.pool, self.clock.now(), true).await?;
        self.reload().await?;
        Ok(key_id)
    }

    /// Rotates when the newest key is older than the rotation period.
    pub async fn rotate_if_due(&self) -> Result<(), Error> {
        let newest = store::newest_signing_key_created_at(&self.pool).await.map_err(Error::unavailable)?;
        if newest.is_none_or(|created_at| self.clock.now() - created_at > ROTATION_PERIOD) {
            let key_id = self.rotate().await?;
            tracing::info!(key_id, "signing key rotated");
        } else {
            self.reload().await?;
        }
        Ok(())
    }
}

async fn live_keys(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<store::SigningKeyRow>, Error> {
    store::live_signing_keys(pool, now - ACCESS_TOKEN_LIFETIME).await.map_err(Error::unavailable)
}

/// Stores a new key and retires the others from the moment it starts signing. With `delayed`
/// false (the first key) it signs at once.
async fn rotate(pool: &PgPool, now: DateTime<Utc>, delayed: bool) -> Result<String, Error> {
    let key = SigningKey::generate().map_err(Error::internal)?;
    let takes_over = if delayed { now + PUBLICATION_DELAY } else { now };
    let mut transaction = pool.begin().await.map_err(Error::unavailable)?;
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(KEY_LOCK)
        .execute(&mut *transaction)
        .await
        .map_err(Error::unavailable)?;
    store::retire_signing_keys(&mut *transaction, takes_over).await.map_err(Error::unavailable)?;
    store::insert_signing_key(&mut *transaction, key.key_id(), key.pkcs8_der(), now, takes_over)
        .await
        .map_err(Error::unavailable)?;
    transaction.commit().await.map_err(Error::unavailable)?;
    Ok(key.key_id().to_owned())
}

/// The newest key that has begun signing signs; every live key is published.
fn key_set(rows: Vec<store::SigningKeyRow>, now: DateTime<Utc>) -> Result<KeySet, Error> {
    let mut signing = None;
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let signs_from = row.signs_from;
        let key = SigningKey::from_pkcs8_der(row.key_id, row.private_key).map_err(Error::internal)?;
        if signs_from <= now && signing.is_none() {
            signing = Some(keys.len());
        }
        keys.push(key);
    }
    let signing =
        signing.and_then(|index| keys.get(index)).ok_or_else(|| Error::internal("no signing key has begun signing"))?;
    Ok(KeySet {
        issuer: TokenIssuer::new(signing),
        jwks: JwkSet { keys: keys.iter().map(SigningKey::public_jwk).collect() },
    })
}
