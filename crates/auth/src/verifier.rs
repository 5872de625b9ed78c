//! Verifying tokens: signature by key id from the current JWKS, algorithm pinned to EdDSA,
//! issuer, audience, token type, and validity window read from `causerie_core::Clock` (so the
//! test clock moves expiry too). A token already verified is answered from a bounded cache, so
//! a hot path pays one signature check per token, not per request.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use causerie_core::Clock;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

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

pub struct Verifier {
    keys: RwLock<HashMap<String, DecodingKey>>,
    verified: Mutex<HashMap<String, CachedCaller>>,
    clock: Clock,
}

impl Verifier {
    pub fn new(jwks: &JwkSet, clock: Clock) -> Self {
        let verifier = Self { keys: RwLock::new(HashMap::new()), verified: Mutex::new(HashMap::new()), clock };
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
        if let Ok(mut current) = self.keys.write() {
            *current = keys;
        }
    }

    /// Whether any key is loaded: until then every token would be refused.
    pub fn has_keys(&self) -> bool {
        self.keys.read().map(|keys| !keys.is_empty()).unwrap_or(false)
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

    /// Verifies `token` for `audience`.
    pub fn verify(&self, token: &str, audience: Audience) -> Result<Caller, AuthError> {
        let now = self.clock.now().timestamp();
        if let Some(caller) = self.cached(token, now)? {
            return if caller.audience() == audience { Ok(caller) } else { Err(AuthError::WrongAudience) };
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::WrongAlgorithm);
        }
        let key_id = header.kid.ok_or(AuthError::UnknownKey)?;
        // The keys stay read-locked until the token is cached, so a key withdrawn meanwhile
        // cannot leave behind a cached token it verified.
        let keys = self.keys.read().map_err(|_| AuthError::UnknownKey)?;
        let claims = {
            let key = keys.get(&key_id).ok_or(AuthError::UnknownKey)?;
            let mut validation = Validation::new(Algorithm::EdDSA);
            // Time is checked below against our clock, which the test mode can move.
            validation.validate_exp = false;
            validation.validate_nbf = false;
            validation.validate_aud = false;
            validation.required_spec_claims.clear();
            jsonwebtoken::decode::<Claims>(token, key, &validation)
                .map_err(|error| match error.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
                    jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => AuthError::WrongAlgorithm,
                    _ => AuthError::Malformed,
                })?
                .claims
        };
        if claims.iss != ISSUER {
            return Err(AuthError::WrongIssuer);
        }
        if claims.typ != TOKEN_TYPE_ACCESS {
            return Err(AuthError::WrongType);
        }
        check_window(claims.nbf, claims.exp, now)?;
        let caller = Caller::from_claims(&claims).ok_or(AuthError::Malformed)?;
        self.remember(token, &caller, claims.nbf, key_id);
        drop(keys);
        if claims.aud != audience.as_str() {
            return Err(AuthError::WrongAudience);
        }
        Ok(caller)
    }

    fn cached(&self, token: &str, now: i64) -> Result<Option<Caller>, AuthError> {
        let Ok(verified) = self.verified.lock() else { return Ok(None) };
        let Some(cached) = verified.get(token) else { return Ok(None) };
        let key_still_published = self.keys.read().map(|keys| keys.contains_key(&cached.key_id)).unwrap_or(false);
        if !key_still_published {
            return Err(AuthError::UnknownKey);
        }
        check_window(cached.not_before, cached.caller.expires_at().timestamp(), now)?;
        Ok(Some(cached.caller.clone()))
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
