//! Verifying tokens: signature by key id from the current JWKS, algorithm pinned to EdDSA,
//! issuer, audience, token type, and validity window read from `causerie_core::Clock` (so the
//! test clock moves expiry too). A token already verified is answered from a bounded cache, so
//! a hot path pays one signature check per token, not per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use causerie_core::Clock;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tokio::sync::Notify;

use crate::{Audience, Caller, Claims, ISSUER, TOKEN_TYPE_ACCESS};

/// Verified tokens remembered at most; the cache is emptied when full, which costs one
/// signature check per live token.
const CACHE_CAPACITY: usize = 50_000;
/// Clocks of different hosts disagree a little: a token issued "now" elsewhere is accepted up to
/// this much before its `nbf` here. Expiry gets no leeway.
const NOT_BEFORE_LEEWAY_SECONDS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("token is malformed")]
    Malformed,
    #[error("token is signed with an algorithm other than EdDSA")]
    WrongAlgorithm,
    #[error("token names no key, or a key that is not published")]
    UnknownKey,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token is expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token is not meant for this audience")]
    WrongAudience,
    #[error("token has the wrong issuer")]
    WrongIssuer,
    #[error("token is not an access token")]
    WrongType,
}

struct CachedCaller {
    caller: Caller,
    not_before: i64,
    /// The key that verified the token; a cached token stops verifying once it is withdrawn.
    key_id: String,
}

/// One published key set, never changed once built: a refresh swaps in a new one.
struct KeySet {
    keys: HashMap<String, DecodingKey>,
}

/// Each lock is taken alone and released before another is taken: the key set's lock only long
/// enough to clone or swap its `Arc`, the cache's only for one lookup or insert. A thread that
/// held one while waiting for the other could meet a key refresh waiting the other way round,
/// and every tokio worker verifying a token would then wait for ever.
pub struct Verifier {
    keys: RwLock<Arc<KeySet>>,
    verified: Mutex<HashMap<String, CachedCaller>>,
    clock: Clock,
    /// Woken when a token names a key not loaded: the keys may have rotated since the last fetch.
    key_refresh_wanted: Notify,
}

impl Verifier {
    pub fn new(jwks: &JwkSet, clock: Clock) -> Self {
        let verifier = Self {
            keys: RwLock::new(Arc::new(KeySet { keys: HashMap::new() })),
            verified: Mutex::new(HashMap::new()),
            clock,
            key_refresh_wanted: Notify::new(),
        };
        verifier.replace_keys(jwks);
        verifier
    }

    /// Installs a newly fetched key set. Keys that are no longer published stop verifying at
    /// once, including for tokens already in the cache, which checks its key on every hit.
    pub fn replace_keys(&self, jwks: &JwkSet) {
        let keys: HashMap<String, DecodingKey> = jwks
            .keys
            .iter()
            .filter_map(|jwk| {
                let key_id = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|key| (key_id, key))
            })
            .collect();
        let key_set = Arc::new(KeySet { keys });
        match self.keys.write() {
            Ok(mut current) => *current = key_set,
            Err(poisoned) => *poisoned.into_inner() = key_set,
        }
    }

    fn current_keys(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(current) => Arc::clone(&current),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Whether any key is loaded: until then every token would be refused.
    pub fn has_keys(&self) -> bool {
        !self.current_keys().keys.is_empty()
    }

    /// Resolves when a token named an unknown key since the last call: the key refresh waits on it.
    pub async fn key_refresh_wanted(&self) {
        self.key_refresh_wanted.notified().await;
    }

    /// Asks the key refresh to fetch the key set now, as after a rotation.
    pub fn want_key_refresh(&self) {
        self.key_refresh_wanted.notify_one();
    }

    /// The readiness check of a service that verifies tokens: not ready before its first key set.
    pub fn readiness_check(
        verifier: std::sync::Arc<Self>,
    ) -> impl Fn() -> std::future::Ready<Result<(), String>> + Send + Sync + 'static {
        move || {
            std::future::ready(if verifier.has_keys() {
                Ok(())
            } else {
                Err("no key set from accounts yet".to_owned())
            })
        }
    }

    /// Verifies `token` for `audience`. A token naming a key not loaded wakes the key refresh.
    pub fn verify(&self, token: &str, audience: Audience) -> Result<Caller, AuthError> {
        let outcome = self.verify_with_current_keys(token, audience);
        if outcome.as_ref().is_err_and(|error| *error == AuthError::UnknownKey) {
            self.want_key_refresh();
        }
        outcome
    }

    fn verify_with_current_keys(&self, token: &str, audience: Audience) -> Result<Caller, AuthError> {
        let now = self.clock.now().timestamp();
        let key_set = self.current_keys();
        if let Some(caller) = self.cached(token, &key_set, now)? {
            return if caller.audience() == audience { Ok(caller) } else { Err(AuthError::WrongAudience) };
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::WrongAlgorithm);
        }
        let key_id = header.kid.ok_or(AuthError::UnknownKey)?;
        let key = key_set.keys.get(&key_id).ok_or(AuthError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        // Time is checked below against our clock, which the test mode can move.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => AuthError::WrongAlgorithm,
                _ => AuthError::Malformed,
            })?
            .claims;
        if claims.iss != ISSUER {
            return Err(AuthError::WrongIssuer);
        }
        if claims.typ != TOKEN_TYPE_ACCESS {
            return Err(AuthError::WrongType);
        }
        check_window(claims.nbf, claims.exp, now)?;
        let caller = Caller::from_claims(&claims).ok_or(AuthError::Malformed)?;
        // A key withdrawn while this token was being verified may leave it cached: harmless,
        // since every hit checks its key against the key set current at that hit.
        self.remember(token, &caller, claims.nbf, key_id);
        if claims.aud != audience.as_str() {
            return Err(AuthError::WrongAudience);
        }
        Ok(caller)
    }

    fn cached(&self, token: &str, key_set: &KeySet, now: i64) -> Result<Option<Caller>, AuthError> {
        let hit = {
            let Ok(verified) = self.verified.lock() else { return Ok(None) };
            let Some(cached) = verified.get(token) else { return Ok(None) };
            (cached.caller.clone(), cached.not_before, cached.key_id.clone())
        };
        let (caller, not_before, key_id) = hit;
        if !key_set.keys.contains_key(&key_id) {
            return Err(AuthError::UnknownKey);
        }
        check_window(not_before, caller.expires_at().timestamp(), now)?;
        Ok(Some(caller))
    }

    fn remember(&self, token: &str, caller: &Caller, not_before: i64, key_id: String) {
        if let Ok(mut verified) = self.verified.lock() {
            if verified.len() >= CACHE_CAPACITY {
                verified.clear();
            }
            verified.insert(token.to_owned(), CachedCaller { caller: caller.clone(), not_before, key_id });
        }
    }
}

fn check_window(not_before: i64, expires_at: i64, now: i64) -> Result<(), AuthError> {
    if now >= expires_at {
        return Err(AuthError::Expired);
    }
    if now + NOT_BEFORE_LEEWAY_SECONDS < not_before {
        return Err(AuthError::NotYetValid);
    }
    Ok(())
}
