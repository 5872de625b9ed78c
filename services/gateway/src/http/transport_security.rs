//! HTTPS enforced at the edge, as the vendor's note promises ("access to the service forces
//! HTTPS"). TLS ends at the ingress; the gateway learns the scheme from `X-Forwarded-Proto`, read
//! only from a peer in `CAUSERIE_TRUSTED_PROXIES`. A request that reached the ingress over plain
//! HTTP is redirected when it only reads (`GET`, `HEAD`) and refused when it would write, since a
//! body already sent in clear cannot be taken back. Every answer carries HSTS and the usual
//! security headers. Without a trusted proxy (the local all-in-one mode on 127.0.0.1) requests are
//! served as they come.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use causerie_core::Error;

use crate::state::AppState;

const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
const X_FORWARDED_HOST: &str = "x-forwarded-host";
/// Two years, subdomains included: the HSTS preload list's minimum.
const STRICT_TRANSPORT_SECURITY: &str = "max-age=63072000; includeSubDomains";
/// The platform serves JSON, no page of its own: nothing may load from its answers, and none may
/// be framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The public listener's layer: plain HTTP behind the proxy is redirected or refused.
pub async fn require_https(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if arrived_over_plain_http(&request, &state.trusted_proxies) {
        return if matches!(*request.method(), Method::GET | Method::HEAD) {
            redirect_to_https(&request)
        } else {
            Error::forbidden("this API is served over HTTPS only; send the request again to https://").into_response()
        };
    }
    with_security_headers(next.run(request).await)
}

/// Both listeners' layer: the security headers on every answer.
pub async fn security_headers(request: Request, next: Next) -> Response {
    with_security_headers(next.run(request).await)
}

fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(STRICT_TRANSPORT_SECURITY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    response
}

/// Whether a trusted proxy says the client spoke plain HTTP to it. The nearest proxy's word
/// counts: the last value of the header.
fn arrived_over_plain_http(request: &Request, trusted: &[ipnet::IpNet]) -> bool {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(address)| address.ip());
    if !peer.is_some_and(|peer| trusted.iter().any(|range| range.contains(&peer))) {
        return false;
    }
    let scheme = request
        .headers()
        .get_all(X_FORWARDED_PROTO)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .next_back()
        .map(|scheme| scheme.trim().to_ascii_lowercase());
    scheme.as_deref() == Some("http")
}

fn redirect_to_https(request: &Request) -> Response {
    let host = request
        .headers()
        .get(X_FORWARDED_HOST)
        .or_else(|| request.headers().get(header::HOST))
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next_back())
        .map(str::trim)
        .filter(|host| !host.is_empty() && host.bytes().all(|byte| byte.is_ascii_graphic()));
    let Some(host) = host else {
        return Error::forbidden("this API is served over HTTPS only").into_response();
    };
    let path = request.uri().path_and_query().map_or("/", |path| path.as_str());
    match HeaderValue::from_str(&format!("https://{host}{path}")) {
        Ok(location) => {
            let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
            response.headers_mut().insert(header::LOCATION, location);
            with_security_headers(response)
        }
        Err(_) => Error::forbidden("this API is served over HTTPS only").into_response(),
    }
}
