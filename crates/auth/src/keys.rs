//! Ed25519 signing keys and the issuer that mints tokens with them. Only the accounts service
//! holds private keys; everyone else sees the public halves through the JWKS document.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use uuid::Uuid;

use crate::{Audience, Claims, ISSUER, TOKEN_TYPE_ACCESS};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("no randomness available: {0}")]
    Random(String),
    #[error("not an Ed25519 PKCS#8 key: {0}")]
    Pkcs8(String),
    #[error("cannot sign: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

/// A private signing key with its id.
#[derive(Clone)]
pub struct SigningKey {
    key_id: String,
    pkcs8_der: Vec<u8>,
    public_key: [u8; 32],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("SigningKey").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|error| KeyError::Random(error.to_string()))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let pkcs8_der = key.to_pkcs8_der().map_err(|error| KeyError::Pkcs8(error.to_string()))?;
        Ok(Self {
            key_id: Uuid::now_v7().simple().to_string(),
            pkcs8_der: pkcs8_der.as_bytes().to_vec(),
            public_key: key.verifying_key().to_bytes(),
        })
    }

    /// A key as stored: its id and its PKCS#8 DER bytes.
    pub fn from_pkcs8_der(key_id: String, pkcs8_der: Vec<u8>) -> Result<Self, KeyError> {
        let key = ed25519_dalek::SigningKey::from_pkcs8_der(&pkcs8_der)
            .map_err(|error| KeyError::Pkcs8(error.to_string()))?;
        Ok(Self { key_id, pkcs8_der, public_key: key.verifying_key().to_bytes() })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8_der
    }

    /// The public half, as a JWK.
    pub fn public_jwk(&self) -> Jwk {
        Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::EdDSA),
                key_id: Some(self.key_id.clone()),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(self.public_key),
            }),
        }
    }
}

/// Mints access tokens with one signing key.
pub struct TokenIssuer {
    key_id: String,
    encoding_key: EncodingKey,
}

/// What a new access token is for.
pub struct TokenRequest {
    pub audience: Audience,
    pub subject: String,
    pub tenant_id: Option<causerie_core::TenantId>,
    pub role: Option<crate::Role>,
    pub project_ids: Vec<causerie_core::ProjectId>,
    /// For an API key's token: its scopes, and no role.
    pub scopes: Vec<crate::Scope>,
    pub legal_notice_version: Option<i32>,
}

impl TokenIssuer {
    pub fn new(key: &SigningKey) -> Self {
        Self { key_id: key.key_id.clone(), encoding_key: EncodingKey::from_ed_der(&key.pkcs8_der) }
    }

    /// Signs `claims` as they are; tests use it to build tokens that must be refused.
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.key_id.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding_key)?)
    }

    /// A fresh access token valid from `now` for `lifetime`.
    pub fn issue(&self, request: TokenRequest, now: DateTime<Utc>, lifetime: Duration) -> Result<String, KeyError> {
        let claims = Claims {
            iss: ISSUER.to_owned(),
            sub: request.subject,
            aud: request.audience.as_str().to_owned(),
            exp: (now + lifetime).timestamp(),
            nbf: now.timestamp(),
            iat: now.timestamp(),
            jti: Uuid::now_v7().to_string(),
            typ: TOKEN_TYPE_ACCESS.to_owned(),
            tid: request.tenant_id,
            role: request.role,
            pids: request.project_ids,
            scp: request.scopes,
            iat_ms: Some(now.timestamp_millis()),
            lnv: request.legal_notice_version,
        };
        self.sign(&claims)
    }
}
