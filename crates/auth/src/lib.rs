//! Causerie's tokens: EdDSA-signed JWTs whose key ids are published as a JWKS document, so that
//! any service can verify a token without being able to mint one. Three audiences keep tenant
//! users, support staff and services apart; an axum extractor and a tonic interceptor turn a
//! verified token into a typed `Caller`.

mod claims;
mod keys;
mod refresh;
mod service_token;
pub mod transport;
mod verifier;

pub use claims::{Audience, Caller, Claims, ISSUER, Role, Scope, TOKEN_TYPE_ACCESS};
pub use keys::{KeyError, SigningKey, TokenIssuer, TokenRequest};
pub use refresh::{RefreshError, verifier_from_accounts};
pub use service_token::ServiceToken;
pub use verifier::{AuthError, Verifier};
