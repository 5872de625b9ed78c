//! Calling the services behind the gateway: every gRPC request carries the caller's token (or,
//! for a caller who has none, the gateway's service token), the client's address and the trace
//! context. A service's answer comes back as `causerie_core::Error` through `?`
//! (`From<tonic::Status>`), exactly as the service decided it.

use std::net::IpAddr;

use causerie_auth::ServiceToken;
use causerie_core::Error;
use causerie_core::policy::PrivacyPolicy;

/// The gRPC metadata key accounts reads the client's address from.
const CLIENT_ADDRESS: &str = "causerie-client-address";

/// A gRPC request that carries `token`, the client's address and the current trace context.
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

/// `message` for an RPC whose caller has no token of its own (a visitor, someone signing in): it
/// carries the gateway's service token instead, which accounts requires on those RPCs.
pub async fn for_service<T>(
    service_token: &ServiceToken,
    message: T,
    client: Option<IpAddr>,
) -> Result<tonic::Request<T>, Error> {
    let service_token = service_token.get().await?;
    forwarded(message, Some(&service_token), client)
}

/// The policy in an answer of accounts, which sends it as the JSON of API.md (decisions #14); it
/// is checked on the way through.
pub fn policy_of(policy_json: &str) -> Result<PrivacyPolicy, Error> {
    serde_json::from_str(policy_json).map_err(Error::internal)
}
