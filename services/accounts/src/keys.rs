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

/// One stored key, with when it starts signing and when it stops.
struct RingKey {
    key: SigningKey,
    issuer: TokenIssuer,
    signs_from: DateTime<Utc>,
    retired_at: Option<DateTime<Utc>>,
}

/// Every key that still verifies, newest first. Which one signs and which are published is
/// decided at the moment of asking, so a key's turn comes on time between two reloads.
pub struct KeySet {
    keys: Vec<RingKey>,
}

impl KeySet {
    /// The newest key that has begun signing.
    pub fn issuer(&self, now: DateTime<Utc>) -> Result<&TokenIssuer, Error> {
        self.keys
            .iter()
            .find(|key| key.signs_from <= now)
            .map(|key| &key.issuer)
            .ok_or_else(|| Error::internal("no signing key has begun signing"))
    }

    /// Keys that may verify a token alive at `now`: unretired, or retired less than a token
    /// lifetime ago.
    pub fn jwks(&self, now: DateTime<Utc>) -> JwkSet {
        JwkSet {
            keys: self
                .keys
                .iter()
                .filter(|key| key.retired_at.is_none_or(|retired_at| retired_at > now - ACCESS_TOKEN_LIFETIME))
                .map(|key| key.key.public_jwk())
                .collect(),
        }
    }

    fn all_public_keys(&self) -> JwkSet {
        JwkSet { keys: self.keys.iter().map(|key| key.key.public_jwk()).collect() }
    }
}

pub struct KeyRing {
    current: RwLock<Arc<KeySet>>,
    pub verifier: Arc<Verifier>,
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
        let set = key_set(rows)?;
        let verifier = Arc::new(Verifier::new(&set.all_public_keys(), clock.clone()));
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
        let set = key_set(live_keys(&self.pool, self.clock.now()).await?)?;
        self.verifier.replace_keys(&set.all_public_keys());
        let set = Arc::new(set);
        match self.current.write() {
            Ok(mut current) => *current = set,
            Err(poisoned) => *poisoned.into_inner() = set,
        }
        Ok(())
    }

    /// Starts a new key, which signs after the publication delay; answers its id and that time.
    pub async fn rotate(&self) -> Result<(String, DateTime<Utc>), Error> {
        let now = self.clock.now();
        let key_id = rotate(&self.pool, now, true).await?;
        self.reload().await?;
        Ok((key_id, now + PUBLICATION_DELAY))
    }

    /// Rotates when the newest key is older than the rotation period.
    pub async fn rotate_if_due(&self) -> Result<(), Error> {
        let newest = store::newest_signing_key_created_at(&self.pool).await?;
        if newest.is_none_or(|created_at| self.clock.now() - created_at > ROTATION_PERIOD) {
            let (key_id, signs_from) = self.rotate().await?;
            tracing::info!(key_id, %signs_from, "signing key rotated");
        } else {
            self.reload().await?;
        }
        Ok(())
    }
}

/// Keys a token alive at `now` may have been signed with.
async fn live_keys(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<store::SigningKeyRow>, Error> {
    store::live_signing_keys(pool, now - ACCESS_TOKEN_LIFETIME).await.map_err(Error::from)
}

/// Stores a new key and retires the others from the moment it starts signing. With `delayed`
/// false (the first key) it signs at once.
async fn rotate(pool: &PgPool, now: DateTime<Utc>, delayed: bool) -> Result<String, Error> {
    let key = SigningKey::generate().map_err(Error::internal)?;
    let takes_over = if delayed { now + PUBLICATION_DELAY } else { now };
    let mut transaction = pool.begin().await?;
    sqlx::query("select pg_advisory_xact_lock($1)").bind(KEY_LOCK).execute(&mut *transaction).await?;
    store::retire_signing_keys(&mut *transaction, takes_over).await?;
    store::insert_signing_key(&mut *transaction, key.key_id(), key.pkcs8_der(), now, takes_over).await?;
    transaction.commit().await?;
    Ok(key.key_id().to_owned())
}

fn key_set(rows: Vec<store::SigningKeyRow>) -> Result<KeySet, Error> {
    let keys = rows
        .into_iter()
        .map(|row| {
            let key = SigningKey::from_pkcs8_der(row.key_id, row.private_key).map_err(Error::internal)?;
            Ok(RingKey { issuer: TokenIssuer::new(&key), key, signs_from: row.signs_from, retired_at: row.retired_at })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(KeySet { keys })
}
