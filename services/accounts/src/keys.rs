//! The keys accounts signs with: loaded at start, or generated and stored the first time. The
//! newest unretired key signs; the JWKS lists every key that may still have live tokens.

use causerie_auth::{SigningKey, TokenIssuer, Verifier};
use causerie_core::{Clock, Error};
use jsonwebtoken::jwk::JwkSet;
use sqlx::PgPool;

use crate::{ACCESS_TOKEN_LIFETIME, store};

pub struct KeyRing {
    pub issuer: TokenIssuer,
    pub jwks: JwkSet,
    pub verifier: Verifier,
}

/// Serialises first-key generation between replicas starting together.
const KEY_LOCK: i64 = 0x00ca_5e41_e002;

pub async fn load_or_create(pool: &PgPool, clock: &Clock) -> Result<KeyRing, Error> {
    let now = clock.now();
    let retired_since = now - ACCESS_TOKEN_LIFETIME;
    let mut rows = store::live_signing_keys(pool, retired_since).await.map_err(Error::unavailable)?;
    if rows.is_empty() {
        let mut transaction = pool.begin().await.map_err(Error::unavailable)?;
        sqlx::query("select pg_advisory_xact_lock($1)")
            .bind(KEY_LOCK)
            .execute(&mut *transaction)
            .await
            .map_err(Error::unavailable)?;
        rows = store::live_signing_keys(pool, retired_since).await.map_err(Error::unavailable)?;
        if rows.is_empty() {
            let key = SigningKey::generate().map_err(Error::internal)?;
            store::insert_signing_key(pool, key.key_id(), key.pkcs8_der(), now).await.map_err(Error::unavailable)?;
            tracing::info!(key_id = key.key_id(), "signing key created");
            rows = store::live_signing_keys(pool, retired_since).await.map_err(Error::unavailable)?;
        }
        transaction.commit().await.map_err(Error::unavailable)?;
    }
    let keys = rows
        .into_iter()
        .map(|row| SigningKey::from_pkcs8_der(row.key_id, row.private_key).map_err(Error::internal))
        .collect::<Result<Vec<_>, _>>()?;
    let signing = keys.first().ok_or_else(|| Error::internal("no signing key after creating one"))?;
    let jwks = JwkSet { keys: keys.iter().map(SigningKey::public_jwk).collect() };
    Ok(KeyRing { issuer: TokenIssuer::new(signing), verifier: Verifier::new(&jwks, clock.clone()), jwks })
}
