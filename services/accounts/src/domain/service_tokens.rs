//! Service tokens: a service shows the secret the services share and is given a short-lived token
//! of the service audience (DESIGN.md: "service-to-service calls use a service token from
//! accounts"). Callers who have no token of their own (a visitor's widget, someone signing in)
//! reach accounts only through a service that shows one, so the RPCs that serve them are closed
//! to anything else on the network.

use causerie_auth::Audience;
use causerie_core::Error;
use causerie_runtime::Service;

use super::sign_in::{IssuedTokens, access_token_alone};
use crate::AppState;

/// A token for `service` when `secret` is the services' secret. The secret is compared as
/// SHA-256 digests, so that the time taken does not depend on where a guess differs.
pub fn issue(state: &AppState, service: &str, secret: &str) -> Result<IssuedTokens, Error> {
    let right_secret = super::secret::same(&super::secret::hash(secret), &state.service_secret_digest);
    let service: Service = service.parse().map_err(|_| Error::unauthenticated("not a service of the platform"))?;
    if !right_secret {
        return Err(Error::unauthenticated("wrong service secret"));
    }
    access_token_alone(state, Audience::Service, service.name().to_owned())
}
