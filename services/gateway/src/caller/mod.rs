//! Who is calling: the verified caller of every non-public route (a tenant user, an API key
//! exchanged for a token, a staff member), checked against the access directory and its rate
//! limit by the layers `require_tenant_caller` and `require_staff_caller`, and the client's
//! address behind trusted proxies.

// The shared parts a caller is checked against; `state` holds them, and reaches them here
// rather than through this module, which reads the state.
pub mod access;
pub mod api_keys;
pub mod rate_limit;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use causerie_auth::transport::{StaffMember, TenantUser, bearer_token};
use causerie_auth::{Caller, Role};
use causerie_core::{Error, ProjectId, TenantId, UserId};
use chrono::{DateTime, Utc};

use api_keys::API_KEY_PREFIX;

use crate::state::AppState;
use crate::upstream::forwarded;

/// The client's address, forwarded to services for brute-force limits, consent records (truncated)
/// and the audit log: the peer's, or behind trusted proxies the one they say they served.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| address.ip());
        let forwarded_for = parts.headers.get_all(X_FORWARDED_FOR).iter().filter_map(|value| value.to_str().ok());
        Ok(Self(peer.map(|peer| client_behind(peer, forwarded_for, &state.trusted_proxies))))
    }
}

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The address of the client behind `peer`. Only a trusted proxy's word is taken: each appends to
/// `X-Forwarded-For` the address it received the request from, so the list is read from the
/// right, over trusted proxies, up to the first address that is not one. What a client wrote
/// itself stands to the left of that and is never reached.
fn client_behind<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[ipnet::IpNet],
) -> IpAddr {
    let is_trusted = |address: &IpAddr| trusted.iter().any(|range| range.contains(address));
    let mut client = peer;
    let hops = forwarded_for.rev().flat_map(|value| value.rsplit(','));
    for hop in hops {
        if !is_trusted(&client) {
            break;
        }
        match hop.trim().parse::<IpAddr>() {
            Ok(address) => client = address,
            Err(_) => break,
        }
    }
    client
}

/// Paths a user may reach before accepting the tenant's current legal notice: reading and
/// correcting the profile, reading and accepting the notice, and signing out (API.md).
fn reachable_before_legal_notice(path: &str) -> bool {
    path == "/v1/me"
        || path.starts_with("/v1/me/")
        || path.starts_with("/v1/legal-notices")
        || path == "/v1/auth/logout"
}

/// A verified tenant user or API key, not revoked, holding to the legal notice, within its rate
/// limit; and the token to forward to services. Verified once by `require_tenant_caller`, the
/// layer of every non-public route; a handler's extractor takes what the layer put in the request.
#[derive(Clone)]
pub struct TenantContext {
    pub tenant_id: TenantId,
    pub caller: Caller,
    pub token: String,
    pub client: Option<IpAddr>,
}

impl TenantContext {
    /// The signed-in user's claims; API keys are refused.
    pub fn user(&self) -> Result<TenantUserClaims<'_>, Error> {
        match &self.caller {
            Caller::TenantUser { user_id, role, project_ids, expires_at, .. } => {
                Ok(TenantUserClaims { user_id: *user_id, role: *role, project_ids, expires_at: *expires_at })
            }
            _ => Err(Error::forbidden("this endpoint is for signed-in users, not API keys")),
        }
    }

    /// A gRPC request carrying this caller's token and address.
    pub fn forward<T>(&self, message: T) -> Result<tonic::Request<T>, Error> {
        forwarded(message, Some(&self.token), self.client)
    }
}

pub struct TenantUserClaims<'a> {
    pub user_id: UserId,
    pub role: Role,
    pub project_ids: &'a [ProjectId],
    pub expires_at: DateTime<Utc>,
}

impl FromRequestParts<AppState> for TenantContext {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Error> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or_else(|| Error::unauthenticated("this route needs a verified caller"))
    }
}

/// The layer of the tenant routes: a request without a verified tenant caller is refused here,
/// before its handler or its body is looked at.
pub async fn require_tenant_caller(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, Error> {
    let (mut parts, body) = request.into_parts();
    let caller = TenantContext::verify(&mut parts, &state).await?;
    parts.extensions.insert(caller);
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// The layer of the admin routes: a request without a verified staff member is refused here.
pub async fn require_staff_caller(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, Error> {
    let (mut parts, body) = request.into_parts();
    let caller = StaffContext::verify(&mut parts, &state).await?;
    parts.extensions.insert(caller);
    Ok(next.run(Request::from_parts(parts, body)).await)
}

impl TenantContext {
    async fn verify(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let ClientAddress(client) =
            ClientAddress::from_request_parts(parts, state).await.unwrap_or(ClientAddress(None));
        let bearer = bearer_token(&parts.headers)?.to_owned();
        let (token, caller) = if bearer.starts_with(API_KEY_PREFIX) {
            let key = bearer;
            let exchanged = state.api_keys.exchange(&key).await;
            if exchanged.is_err() {
                state.api_keys.forget(&key);
            }
            exchanged?
        } else {
            let TenantUser(caller) = TenantUser::from_request_parts(parts, state).await?;
            (bearer, caller)
        };
        let (tenant_id, subject, issued_at) = match &caller {
            Caller::TenantUser { tenant_id, user_id, issued_at, .. } => (*tenant_id, user_id.as_uuid(), *issued_at),
            Caller::ApiKey { tenant_id, key_id, issued_at, .. } => (*tenant_id, *key_id, *issued_at),
            _ => return Err(Error::unauthenticated("a tenant user's token or an API key is required")),
        };
        state.access.check_not_revoked(subject, issued_at)?;
        if let Caller::TenantUser { user_id, legal_notice_version, .. } = &caller
            && !reachable_before_legal_notice(parts.uri.path())
        {
            state.access.check_legal_notice(tenant_id, user_id.as_uuid(), *legal_notice_version).await?;
        }
        state.rate_limiter.check(subject)?;
        tracing::Span::current().record("tenant.id", tracing::field::display(tenant_id));
        Ok(Self { tenant_id, caller, token, client })
    }
}

/// A verified member of the support staff, and the token to forward to services. Verified once by
/// `require_staff_caller`, the layer of every admin route but staff sign-in.
#[derive(Clone)]
pub struct StaffContext {
    pub token: String,
    pub client: Option<IpAddr>,
}

impl StaffContext {
    /// A gRPC request carrying this staff member's token and address.
    pub fn forward<T>(&self, message: T) -> Result<tonic::Request<T>, Error> {
        forwarded(message, Some(&self.token), self.client)
    }
}

impl FromRequestParts<AppState> for StaffContext {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, Error> {
        parts.extensions.get::<Self>().cloned().ok_or_else(|| Error::unauthenticated("this route needs a staff token"))
    }
}

impl StaffContext {
    async fn verify(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let StaffMember(_) = StaffMember::from_request_parts(parts, state).await?;
        // Support reaches every tenant: its calls stop too while revocations cannot be read.
        state.access.check_fresh()?;
        let token = bearer_token(&parts.headers)?.to_owned();
        let ClientAddress(client) =
            ClientAddress::from_request_parts(parts, state).await.unwrap_or(ClientAddress(None));
        Ok(Self { token, client })
    }
}

#[cfg(test)]
mod tests {
    use super::client_behind;

    #[test]
    fn the_client_is_read_through_trusted_proxies_only() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let address = |text: &str| text.parse::<std::net::IpAddr>().unwrap();
        let ingress = address("10.1.2.3");
        // Straight from the internet: whatever the header says, the peer is the client.
        assert_eq!(
            client_behind(address("198.51.100.4"), ["203.0.113.7"].into_iter(), &trusted),
            address("198.51.100.4")
        );
        // Through the ingress: the address it saw, not what the client wrote before it.
        assert_eq!(client_behind(ingress, ["6.6.6.6, 203.0.113.7"].into_iter(), &trusted), address("203.0.113.7"));
        // Through two proxies, over two headers.
        assert_eq!(
            client_behind(ingress, ["6.6.6.6, 203.0.113.7", "10.9.9.9"].into_iter(), &trusted),
            address("203.0.113.7")
        );
        // A proxy that says nothing, or nonsense, stays the client.
        assert_eq!(client_behind(ingress, std::iter::empty(), &trusted), ingress);
        assert_eq!(client_behind(ingress, ["unknown"].into_iter(), &trusted), ingress);
        // No trusted proxies configured: the header is ignored.
        assert_eq!(client_behind(ingress, ["203.0.113.7"].into_iter(), &[]), ingress);
    }
}
