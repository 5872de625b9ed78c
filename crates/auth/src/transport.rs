//! Bearer tokens at the edges: the axum side (reading `Authorization`) and the tonic side (an
//! interceptor that verifies the forwarded token and puts the `Caller` in the request's extensions).

use std::sync::Arc;

use causerie_core::Error;
use http::HeaderMap;

use crate::{Audience, AuthError, Caller, Verifier};

/// The token of an `Authorization: Bearer ...` value, HTTP header or gRPC metadata alike.
fn bearer_of(value: &str) -> Result<&str, AuthError> {
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

/// The token of an `Authorization: Bearer ...` header.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers.get(http::header::AUTHORIZATION).ok_or(AuthError::Missing)?;
    bearer_of(value.to_str().map_err(|_| AuthError::Malformed)?)
}

impl From<AuthError> for Error {
    fn from(error: AuthError) -> Self {
        Error::unauthenticated(error.to_string())
    }
}

/// Verifies the bearer token of gRPC metadata for one of `audiences`.
pub fn verify_metadata(
    verifier: &Verifier,
    metadata: &tonic::metadata::MetadataMap,
    audiences: &[Audience],
) -> Result<Caller, AuthError> {
    let value = metadata.get("authorization").ok_or(AuthError::Missing)?;
    let text = value.to_str().map_err(|_| AuthError::Malformed)?;
    let token = text.strip_prefix("Bearer ").or_else(|| text.strip_prefix("bearer ")).ok_or(AuthError::Malformed)?;
    let mut last_error = AuthError::WrongAudience;
    for audience in audiences {
        match verifier.verify(token, *audience) {
            Ok(caller) => return Ok(caller),
            Err(error) => last_error = error,
        }
    }
    Err(last_error)
}

/// A tonic interceptor: requests without a valid token for one of the audiences are refused
/// with UNAUTHENTICATED; the others carry their `Caller` in their extensions.
#[derive(Clone)]
pub struct AuthInterceptor {
    verifier: Arc<Verifier>,
    audiences: &'static [Audience],
    /// Whether a request without any token passes (with no `Caller`), for a server some of whose
    /// RPCs are open. A token that does not verify is refused all the same.
    anonymous_allowed: bool,
}

impl AuthInterceptor {
    pub fn new(verifier: Arc<Verifier>, audiences: &'static [Audience]) -> Self {
        Self { verifier, audiences, anonymous_allowed: false }
    }

    /// For a server with open RPCs (accounts: the key set, the service token): each RPC then
    /// says which caller it needs with `caller_of`, and an open one needs none.
    pub fn allowing_anonymous(verifier: Arc<Verifier>, audiences: &'static [Audience]) -> Self {
        Self { verifier, audiences, anonymous_allowed: true }
    }
}

impl tonic::service::Interceptor for AuthInterceptor {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if self.anonymous_allowed && request.metadata().get("authorization").is_none() {
            return Ok(request);
        }
        let caller = verify_metadata(&self.verifier, request.metadata(), self.audiences)
            .map_err(|error| tonic::Status::from(Error::from(error)))?;
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// The caller the interceptor verified, if it is of one of `audiences`.
pub fn caller_of<T>(request: &tonic::Request<T>, audiences: &[Audience]) -> Result<Caller, tonic::Status> {
    match request.extensions().get::<Caller>() {
        Some(caller) if audiences.contains(&caller.audience()) => Ok(caller.clone()),
        Some(_) => Err(Error::from(AuthError::WrongAudience).into()),
        None => Err(Error::from(AuthError::Missing).into()),
    }
}

/// Puts a bearer token into outgoing gRPC metadata.
pub fn with_bearer<T>(mut request: tonic::Request<T>, token: &str) -> Result<tonic::Request<T>, Error> {
    let value =
        format!("Bearer {token}").parse().map_err(|_| Error::unauthenticated("token cannot travel in metadata"))?;
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

/// The verifier as seen from an axum state.
pub trait HasVerifier {
    fn verifier(&self) -> &Verifier;
}

fn verify_parts<S: HasVerifier>(parts: &http::request::Parts, state: &S, audience: Audience) -> Result<Caller, Error> {
    let token = bearer_token(&parts.headers)?;
    state.verifier().verify(token, audience).map_err(Error::from)
}

/// A tenant user, verified from the bearer token. Any other token answers 401.
pub struct TenantUser(pub Caller);

impl<S: HasVerifier + Send + Sync> axum::extract::FromRequestParts<S> for TenantUser {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &S) -> Result<Self, Error> {
        verify_parts(parts, state, Audience::Tenant).map(Self)
    }
}

/// A member of the support staff, verified from the bearer token. Any other token answers 401.
pub struct StaffMember(pub Caller);

impl<S: HasVerifier + Send + Sync> axum::extract::FromRequestParts<S> for StaffMember {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &S) -> Result<Self, Error> {
        verify_parts(parts, state, Audience::Staff).map(Self)
    }
}
