//! Every way a token can be wrong is refused, against a real test clock in Redis.
#![allow(clippy::unwrap_used)]

use causerie_auth::{
    Audience, AuthError, Caller, Claims, Role, Scope, SigningKey, TokenIssuer, TokenRequest, Verifier,
};
use causerie_core::{Clock, TenantId, UserId};
use chrono::{Duration, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

struct Keys {
    issuer: TokenIssuer,
    key: SigningKey,
    verifier: Verifier,
}

fn keys_with(clock: Clock) -> Keys {
    let key = SigningKey::generate().unwrap();
    let jwks = JwkSet { keys: vec![key.public_jwk()] };
    Keys { issuer: TokenIssuer::new(&key), verifier: Verifier::new(&jwks, clock), key }
}

fn tenant_request() -> TokenRequest {
    TokenRequest {
        audience: Audience::Tenant,
        subject: UserId::new().to_string(),
        tenant_id: Some(TenantId::new()),
        role: Some(Role::Admin),
        project_ids: Vec::new(),
        scopes: Vec::new(),
        legal_notice_version: None,
    }
}

fn valid_claims() -> Claims {
    let now = Utc::now().timestamp();
    Claims {
        iss: "causerie".into(),
        sub: UserId::new().to_string(),
        aud: Audience::Tenant.as_str().into(),
        exp: now + 600,
        nbf: now - 1,
        iat: now - 1,
        jti: "jti".into(),
        typ: "access".into(),
        tid: Some(TenantId::new()),
        role: Some(Role::Operator),
        pids: Vec::new(),
        scp: Vec::new(),
        iat_ms: None,
        lnv: None,
    }
}

#[test]
fn a_valid_token_names_its_caller() {
    let keys = keys_with(Clock::system());
    let request = tenant_request();
    let tenant_id = request.tenant_id;
    let token = keys.issuer.issue(request, Utc::now(), Duration::minutes(15)).unwrap();
    let caller = keys.verifier.verify(&token, Audience::Tenant).unwrap();
    assert!(matches!(caller, Caller::TenantUser { role: Role::Admin, .. }));
    assert_eq!(caller.tenant_id(), tenant_id);
}

#[test]
fn a_tenant_token_without_a_role_is_an_api_keys_and_carries_its_scopes() {
    let keys = keys_with(Clock::system());
    let key_id = uuid::Uuid::now_v7();
    let request =
        TokenRequest { subject: key_id.to_string(), role: None, scopes: vec![Scope::UsersRead], ..tenant_request() };
    let token = keys.issuer.issue(request, Utc::now(), Duration::minutes(15)).unwrap();
    let caller = keys.verifier.verify(&token, Audience::Tenant).unwrap();
    assert!(
        matches!(caller, Caller::ApiKey { key_id: id, ref scopes, .. } if id == key_id && *scopes == [Scope::UsersRead])
    );

    let neither = TokenRequest { role: None, ..tenant_request() };
    let token = keys.issuer.issue(neither, Utc::now(), Duration::minutes(15)).unwrap();
    assert!(matches!(keys.verifier.verify(&token, Audience::Tenant), Err(AuthError::Malformed)));
}

#[test]
fn expired_token_is_refused() {
    let keys = keys_with(Clock::system());
    let token = keys.issuer.issue(tenant_request(), Utc::now() - Duration::hours(1), Duration::minutes(15)).unwrap();
    assert_eq!(keys.verifier.verify(&token, Audience::Tenant), Err(AuthError::Expired));
}

#[test]
fn token_not_yet_valid_is_refused() {
    let keys = keys_with(Clock::system());
    let token = keys.issuer.issue(tenant_request(), Utc::now() + Duration::hours(1), Duration::minutes(15)).unwrap();
    assert_eq!(keys.verifier.verify(&token, Audience::Tenant), Err(AuthError::NotYetValid));
}

#[test]
fn token_signed_by_another_key_with_the_same_id_is_refused() {
    let keys = keys_with(Clock::system());
    let impostor = SigningKey::generate().unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(keys.key.key_id().to_owned());
    let token =
        jsonwebtoken::encode(&header, &valid_claims(), &EncodingKey::from_ed_der(impostor.pkcs8_der())).unwrap();
    assert_eq!(keys.verifier.verify(&token, Audience::Tenant), Err(AuthError::BadSignature));
}

#[test]
fn tampered_claims_are_refused() {
    let keys = keys_with(Clock::system());
    let token = keys.issuer.sign(&valid_claims()).unwrap();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims = valid_claims();
    claims.role = Some(Role::Admin);
    use base64::Engine;
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    assert_eq!(keys.verifier.verify(&parts.join("."), Audience::Tenant), Err(AuthError::BadSignature));
}

#[test]
fn alg_none_is_refused() {
    use base64::Engine;
    let keys = keys_with(Clock::system());
    let encode = |value: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&value).unwrap())
    };
    let header = encode(serde_json::json!({"alg": "none", "typ": "JWT", "kid": keys.key.key_id()}));
    let claims = encode(serde_json::to_value(valid_claims()).unwrap());
    let token = format!("{header}.{claims}.");
    assert!(keys.verifier.verify(&token, Audience::Tenant).is_err());
}

#[test]
fn another_algorithm_than_the_keys_is_refused() {
    // The classic confusion: HMAC keyed with the public key's bytes.
    let keys = keys_with(Clock::system());
    let jwk = keys.key.public_jwk();
    let jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(public) = &jwk.algorithm else {
        panic!("an Ed25519 key is an octet key pair");
    };
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(keys.key.key_id().to_owned());
    let secret = EncodingKey::from_secret(public.x.as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&header, &valid_claims(), &secret).unwrap();
    assert_eq!(keys.verifier.verify(&token, Audience::Tenant), Err(AuthError::WrongAlgorithm));
}

#[test]
fn wrong_audience_is_refused() {
    let keys = keys_with(Clock::system());
    let token = keys.issuer.issue(tenant_request(), Utc::now(), Duration::minutes(15)).unwrap();
    assert_eq!(keys.verifier.verify(&token, Audience::Staff), Err(AuthError::WrongAudience));
    // And again once the token sits in the verified cache.
    keys.verifier.verify(&token, Audience::Tenant).unwrap();
    assert_eq!(keys.verifier.verify(&token, Audience::Staff), Err(AuthError::WrongAudience));
    let mut claims = valid_claims();
    claims.aud = "someone-else".into();
    let token = keys.issuer.sign(&claims).unwrap();
    assert!(keys.verifier.verify(&token, Audience::Tenant).is_err());
}

#[test]
fn wrong_issuer_is_refused() {
    let keys = keys_with(Clock::system());
    let mut claims = valid_claims();
    claims.iss = "evil".into();
    let token = keys.issuer.sign(&claims).unwrap();
    assert_eq!(keys.verifier.verify(&token, Audience::Tenant), Err(AuthError::WrongIssuer));
}

#[test]
fn wrong_token_type_is_refused() {
    let keys = keys_with(Clock::system());
    let mut claims = valid_claims();
    claims.typ = "refresh".into();
    let token = keys.issuer.sign(&claims).unwrap();
    assert_eq!(keys.verifier.verify(&token, Audience::Tenant), Err(AuthError::WrongType));
}

#[test]
fn unknown_key_id_is_refused() {
    let keys = keys_with(Clock::system());
    let stranger = TokenIssuer::new(&SigningKey::generate().unwrap());
    let token = stranger.issue(tenant_request(), Utc::now(), Duration::minutes(15)).unwrap();
    assert_eq!(keys.verifier.verify(&token, Audience::Tenant), Err(AuthError::UnknownKey));
}

#[test]
fn a_key_withdrawn_from_the_set_stops_verifying_cached_tokens() {
    let keys = keys_with(Clock::system());
    let token = keys.issuer.issue(tenant_request(), Utc::now(), Duration::minutes(15)).unwrap();
    keys.verifier.verify(&token, Audience::Tenant).unwrap();
    keys.verifier.replace_keys(&JwkSet { keys: Vec::new() });
    assert_eq!(keys.verifier.verify(&token, Audience::Tenant), Err(AuthError::UnknownKey));
}

#[tokio::test]
async fn a_cached_token_expires_when_the_shared_test_clock_moves() {
    let redis_url = std::env::var("CAUSERIE_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let client = redis::Client::open(redis_url).unwrap();
    let manager = redis::aio::ConnectionManager::new(client).await.unwrap();
    let namespace = format!("authtest_{}", uuid::Uuid::now_v7().simple());
    let tasks = tokio_util::task::TaskTracker::new();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let clock = Clock::test_mode(manager, &namespace, "auth-test", &tasks, shutdown.clone()).await.unwrap();
    let keys = keys_with(clock.clone());
    let token = keys.issuer.issue(tenant_request(), clock.now(), Duration::minutes(15)).unwrap();
    keys.verifier.verify(&token, Audience::Tenant).unwrap();
    clock.advance(Duration::minutes(16)).await.unwrap().unwrap();
    assert_eq!(keys.verifier.verify(&token, Audience::Tenant), Err(AuthError::Expired));
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
}

#[test]
fn a_token_from_a_host_whose_clock_runs_slightly_ahead_is_accepted() {
    let keys = keys_with(Clock::system());
    let token = keys.issuer.issue(tenant_request(), Utc::now() + Duration::seconds(10), Duration::minutes(15)).unwrap();
    assert!(keys.verifier.verify(&token, Audience::Tenant).is_ok());
}

#[tokio::test]
async fn an_unknown_key_wakes_the_key_refresh() {
    let keys = keys_with(Clock::system());
    let other = keys_with(Clock::system());
    let token = other.issuer.issue(tenant_request(), Utc::now(), Duration::minutes(15)).unwrap();
    assert_eq!(keys.verifier.verify(&token, Audience::Tenant).unwrap_err(), AuthError::UnknownKey);
    let woken = tokio::time::timeout(std::time::Duration::from_secs(1), keys.verifier.key_refresh_wanted()).await;
    assert!(woken.is_ok(), "the key refresh was not woken by a token of an unknown key");
}

#[test]
fn verifying_while_the_keys_are_replaced_never_deadlocks() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    let keys = Arc::new(keys_with(Clock::system()));
    let jwks = JwkSet { keys: vec![keys.key.public_jwk()] };
    let hit = keys.issuer.issue(tenant_request(), Utc::now(), Duration::minutes(15)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let verified = Arc::new(AtomicU64::new(0));
    let (finished, finishing) = std::sync::mpsc::channel();
    let mut workers = Vec::new();
    // Hits (one token, cached), misses (a fresh token each time) and refreshes, all at once: the
    // three lock paths that, taken in different orders, used to wait on each other.
    for role in ["hits", "hits", "misses", "misses", "refresh"] {
        let (keys, jwks, hit, stop, verified, finished) =
            (Arc::clone(&keys), jwks.clone(), hit.clone(), Arc::clone(&stop), Arc::clone(&verified), finished.clone());
        workers.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match role {
                    "refresh" => keys.verifier.replace_keys(&jwks),
                    "hits" => {
                        keys.verifier.verify(&hit, Audience::Tenant).unwrap();
                        verified.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        let miss = keys.issuer.issue(tenant_request(), Utc::now(), Duration::minutes(15)).unwrap();
                        keys.verifier.verify(&miss, Audience::Tenant).unwrap();
                        verified.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            finished.send(role).unwrap();
        }));
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    stop.store(true, Ordering::Relaxed);
    for _ in 0..workers.len() {
        // A deadlocked worker never reports: the test fails instead of hanging.
        let role = finishing.recv_timeout(std::time::Duration::from_secs(10));
        assert!(role.is_ok(), "a verifying thread is stuck after {} verifications", verified.load(Ordering::Relaxed));
    }
    for worker in workers {
        worker.join().unwrap();
    }
    assert!(verified.load(Ordering::Relaxed) > 0);
}
