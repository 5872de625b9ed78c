//! Extractors that turn a request into typed, checked input: JSON bodies whose every rejection is
//! our problem+json, and verified callers with their rate limit already counted.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use causerie_auth::transport::{StaffMember, TenantUser, bearer_token};
use causerie_auth::{Caller, Role};
use causerie_core::{Error, ProjectId, TenantId, UserId};
use chrono::{DateTime, Utc};

use crate::api_keys::API_KEY_PREFIX;
use crate::state::AppState;

/// The gRPC metadata key accounts reads the client's address from.
const CLIENT_ADDRESS: &str = "causerie-client-address";

/// A JSON body. Unreadable JSON answers 400, JSON of the wrong shape 422, a body over the limit
/// 413, all as problem+json.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Error> {
        if !has_json_content_type(request.headers()) {
            return Err(Error::malformed("the body must be sent as application/json"));
        }
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(causerie_core::ErrorCode::PayloadTooLarge, "the body is larger than the limit")
            } else {
                Error::malformed(rejection.body_text())
            }
        })?;
        if has_nul_escape(&bytes) {
            return Err(Error::new(
                causerie_core::ErrorCode::InvalidRequest,
                "text may not contain NUL characters (\\u0000)",
            ));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_error(&rejection)),
        }
    }
}

fn has_json_content_type(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

/// Whether a JSON text holds the escape `\u0000`: PostgreSQL cannot store NUL in text, and no
/// field of ours has a use for it. A `u0000` after an even run of backslashes is plain text.
fn has_nul_escape(json: &[u8]) -> bool {
    json.windows(5).enumerate().any(|(index, window)| {
        window == b"u0000" && json[..index].iter().rev().take_while(|byte| **byte == b'\\').count() % 2 == 1
    })
}

/// A JSON number that is a whole `i32`, written `3` or `3.0`: JSON Schema counts both as integers,
/// and a client generated from the document may send either.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    let number = <f64 as serde::Deserialize>::deserialize(deserializer)?;
    if number.fract() != 0.0 || number < f64::from(i32::MIN) || number > f64::from(i32::MAX) {
        return Err(serde::de::Error::custom(format!("{number} is not a whole number of 32 bits")));
    }
    // Whole and within the bounds checked above.
    #[allow(clippy::cast_possible_truncation)]
    Ok(number as i32)
}

/// `?limit=&cursor=` of a list (API.md).
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Default 50, at most 200.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The limit to ask a service for: absent is 0, which services read as "the default", so an
/// explicit 0 is refused here.
pub fn page_limit(limit: Option<u32>) -> Result<u32, Error> {
    match limit {
        Some(0) => Err(Error::invalid_field("limit", "must be at least 1")),
        limit => Ok(limit.unwrap_or(0)),
    }
}

/// A service's next cursor as API.md answers it: `null`, not an empty string, on the last page.
pub fn next_cursor(cursor: String) -> Option<String> {
    Some(cursor).filter(|cursor| !cursor.is_empty())
}

/// Query parameters, whose rejection is our problem+json `422` naming what is wrong.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        if parts.uri.query().is_some_and(|query| query.contains("%00")) {
            return Err(Error::new(
                causerie_core::ErrorCode::InvalidRequest,
                "parameters may not contain NUL characters",
            ));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(Error::new(causerie_core::ErrorCode::InvalidRequest, rejection.body_text())),
        }
    }
}

fn json_error(rejection: &JsonRejection) -> Error {
    match rejection {
        JsonRejection::JsonDataError(error) => Error::new(causerie_core::ErrorCode::InvalidRequest, error.body_text()),
        JsonRejection::JsonSyntaxError(_) => Error::malformed("the body is not valid JSON"),
        other => Error::malformed(other.body_text()),
    }
}

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
            let exchanged = state.api_keys.exchange(&key, state).await;
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

/// `message` for an RPC whose caller has no token of its own (a visitor, someone signing in): it
/// carries the gateway's service token instead, which accounts requires on those RPCs.
pub async fn for_service<T>(
    state: &crate::state::AppState,
    message: T,
    client: Option<IpAddr>,
) -> Result<tonic::Request<T>, Error> {
    let service_token = state.service_token.get().await?;
    forwarded(message, Some(&service_token), client)
}

/// A gRPC request that carries the caller's token, the client's address and the current trace
/// context.
pub fn forwarded<T>(message: T, token: Option<&str>, client: Option<IpAddr>) -> Result<tonic::Request<T>, Error> {
    let mut headers = axum::http::HeaderMap::new();
    causerie_runtime::propagation::inject_into_headers(&mut headers);
    if let Some(client) = client
        && let Ok(value) = axum::http::HeaderValue::from_str(&client.to_string())
    {
        headers.insert(CLIENT_ADDRESS, value);
    }
    let metadata = tonic::metadata::MetadataMap::from_headers(headers);
    let request = tonic::Request::from_parts(metadata, tonic::Extensions::default(), message);
    match token {
        Some(token) => causerie_auth::transport::with_bearer(request, token),
        None => Ok(request),
    }
}

#[cfg(test)]
mod tests {
    use super::{client_behind, has_nul_escape};

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

    #[test]
    fn only_a_real_nul_escape_is_found() {
        assert!(has_nul_escape(br#"{"a": "x\u0000y"}"#));
        assert!(!has_nul_escape(br#"{"a": "x\\u0000y"}"#), "an escaped backslash then text");
        assert!(has_nul_escape(br#"{"a": "\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a": "u0000"}"#));
    }
}
