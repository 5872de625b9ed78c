//! Extractors that turn a request into typed, checked input: JSON bodies whose every rejection is
//! our problem+json, and verified callers with their rate limit already counted.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use causerie_auth::transport::{StaffMember, TenantUser, bearer_token};
use causerie_auth::{Caller, Role};
use causerie_core::{Error, ProjectId, TenantId, UserId};
use chrono::{DateTime, Utc};

use crate::state::AppState;

/// A JSON body. Unreadable JSON answers 400, JSON of the wrong shape 422, a body over the limit
/// 413, all as problem+json.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Error> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_error(&rejection)),
        }
    }
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
        JsonRejection::MissingJsonContentType(_) => Error::malformed("the body must be sent as application/json"),
        JsonRejection::BytesRejection(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Error::new(causerie_core::ErrorCode::PayloadTooLarge, "the body is larger than the limit")
        }
        other => Error::malformed(other.body_text()),
    }
}

/// A verified tenant user within its rate limit, and the token to forward to services.
pub struct TenantContext {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role: Role,
    pub project_ids: Vec<ProjectId>,
    pub expires_at: DateTime<Utc>,
    pub token: String,
}

impl FromRequestParts<AppState> for TenantContext {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let TenantUser(caller) = TenantUser::from_request_parts(parts, state).await?;
        let Caller::TenantUser { tenant_id, user_id, role, project_ids, expires_at } = caller else {
            return Err(Error::unauthenticated("a tenant user's token is required"));
        };
        state.rate_limiter.check(user_id.as_uuid())?;
        tracing::Span::current().record("tenant.id", tracing::field::display(tenant_id));
        let token = bearer_token(&parts.headers)?.to_owned();
        Ok(Self { tenant_id, user_id, role, project_ids, expires_at, token })
    }
}

/// A verified member of the support staff, and the token to forward to services.
pub struct StaffContext {
    pub token: String,
}

impl FromRequestParts<AppState> for StaffContext {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let StaffMember(_) = StaffMember::from_request_parts(parts, state).await?;
        let token = bearer_token(&parts.headers)?.to_owned();
        Ok(Self { token })
    }
}

/// A gRPC request that carries the caller's token and the current trace context.
pub fn forwarded<T>(message: T, token: Option<&str>) -> Result<tonic::Request<T>, Error> {
    let mut headers = axum::http::HeaderMap::new();
    causerie_runtime::propagation::inject_into_headers(&mut headers);
    let metadata = tonic::metadata::MetadataMap::from_headers(headers);
    let request = tonic::Request::from_parts(metadata, tonic::Extensions::default(), message);
    match token {
        Some(token) => causerie_auth::transport::with_bearer(request, token),
        None => Ok(request),
    }
}
