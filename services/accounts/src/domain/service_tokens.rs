//! Service tokens: a service shows the secret the services share and is given a short-lived token
//! of the service audience (DESIGN.md: "service-to-service calls use a service token from
//! accounts"). Callers who have no token of their own (a visitor's widget, someone signing in)
//! reach accounts only through a service that shows one, so the RPCs that serve them are closed
//! to anything else on the network.

use causerie_auth::Audience;
use causerie_core::Error;
use causerie_runtime::Service;
use sha2::{Digest, Sha256};

use super::sign_in::{IssuedTokens, access_token_alone};
use crate::AppState;

/// The digest the secret is kept as, so that comparing it takes the same time wherever a wrong
/// secret differs.
pub fn secret_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A token for `service` when `secret` is the services' secret.
pub fn issue(state: &AppState, service: &str, secret: &str) -> Result<IssuedTokens, Error> {
    let difference = secret_digest(secret)
        .iter()
        .zip(state.service_secret_digest.iter())
        .fold(0_u8, |acc, (left, right)| acc | (left ^ right));
    let service: Service = service.parse().map_err(|_| Error::unauthenticated("not a service of the platform"))?;
    if difference != 0 {
        return Err(Error::unauthenticated("wrong service secret"));
    }
    access_token_alone(state, Audience::Service, service.name().to_owned())
}
