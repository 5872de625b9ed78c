//! The one error type of Causerie. Each `ErrorCode` knows its HTTP status, its gRPC code and the
//! stable `code` string of API.md; the problem+json body and the `tonic::Status` are written here
//! and nowhere else, and an error that crossed a gRPC hop comes back out unchanged.

use std::fmt;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request could not be read at all (malformed JSON, wrong content type): 400.
    MalformedRequest,
    /// The request was read but a field is wrong: 422.
    InvalidRequest,
    Unauthenticated,
    Forbidden,
    LegalNoticeNotAccepted,
    NotFound,
    Conflict,
    PayloadTooLarge,
    RateLimited,
    RetentionAboveMaximum,
    ResidencyConflict,
    FieldNotAllowed,
    ConsentRequired,
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// The `code` member of the problem+json body, fixed by API.md.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedRequest | Self::InvalidRequest => "invalid_request",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::LegalNoticeNotAccepted => "legal_notice_not_accepted",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited => "rate_limited",
            Self::RetentionAboveMaximum => "retention_above_maximum",
            Self::ResidencyConflict => "residency_conflict",
            Self::FieldNotAllowed => "field_not_allowed",
            Self::ConsentRequired => "consent_required",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    pub const fn http_status(self) -> StatusCode {
        match self {
            Self::MalformedRequest => StatusCode::BAD_REQUEST,
            Self::InvalidRequest | Self::RetentionAboveMaximum | Self::ResidencyConflict | Self::FieldNotAllowed => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::LegalNoticeNotAccepted => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict | Self::ConsentRequired => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub const fn grpc_code(self) -> tonic::Code {
        match self {
            Self::MalformedRequest
            | Self::InvalidRequest
            | Self::RetentionAboveMaximum
            | Self::ResidencyConflict
            | Self::FieldNotAllowed => tonic::Code::InvalidArgument,
            Self::Unauthenticated => tonic::Code::Unauthenticated,
            Self::Forbidden | Self::LegalNoticeNotAccepted => tonic::Code::PermissionDenied,
            Self::NotFound => tonic::Code::NotFound,
            Self::Conflict => tonic::Code::AlreadyExists,
            Self::ConsentRequired => tonic::Code::FailedPrecondition,
            Self::PayloadTooLarge => tonic::Code::OutOfRange,
            Self::RateLimited => tonic::Code::ResourceExhausted,
            Self::Unavailable => tonic::Code::Unavailable,
            Self::Internal => tonic::Code::Internal,
        }
    }

    /// The code for a gRPC status that carries no Causerie error of its own, such as one made by
    /// tonic itself when a peer is unreachable.
    pub const fn from_grpc_code(code: tonic::Code) -> Self {
        match code {
            tonic::Code::InvalidArgument | tonic::Code::OutOfRange => Self::InvalidRequest,
            tonic::Code::Unauthenticated => Self::Unauthenticated,
            tonic::Code::PermissionDenied => Self::Forbidden,
            tonic::Code::NotFound => Self::NotFound,
            tonic::Code::AlreadyExists | tonic::Code::Aborted => Self::Conflict,
            tonic::Code::ResourceExhausted => Self::RateLimited,
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => Self::Unavailable,
            _ => Self::Internal,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::MalformedRequest => "Malformed request",
            Self::InvalidRequest => "Invalid request",
            Self::Unauthenticated => "Authentication required",
            Self::Forbidden => "Forbidden",
            Self::LegalNoticeNotAccepted => "Legal notice not accepted",
            Self::NotFound => "Not found",
            Self::Conflict => "Conflict",
            Self::PayloadTooLarge => "Payload too large",
            Self::RateLimited => "Too many requests",
            Self::RetentionAboveMaximum => "Retention above maximum",
            Self::ResidencyConflict => "Data residency conflict",
            Self::FieldNotAllowed => "Field not allowed",
            Self::ConsentRequired => "Consent required",
            Self::Unavailable => "Service unavailable",
            Self::Internal => "Internal error",
        }
    }
}

/// One offending field of a 422 answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// What went wrong, said once: the public part goes to the caller, the cause goes to the log.
pub struct Error {
    code: ErrorCode,
    detail: String,
    errors: Vec<FieldError>,
    retry_after_seconds: Option<u64>,
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self { code, detail: detail.into(), errors: Vec::new(), retry_after_seconds: None, cause: None }
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::MalformedRequest, detail)
    }

    /// A 422 that names the offending field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        let mut error = Self::new(ErrorCode::InvalidRequest, format!("{field}: {message}"));
        error.errors.push(FieldError { field, message });
        error
    }

    pub fn with_field_errors(code: ErrorCode, errors: Vec<FieldError>) -> Self {
        let detail =
            errors.iter().map(|error| format!("{}: {}", error.field, error.message)).collect::<Vec<_>>().join("; ");
        Self { errors, ..Self::new(code, detail) }
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, detail)
    }

    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        Self {
            retry_after_seconds: Some(retry_after_seconds),
            ..Self::new(ErrorCode::RateLimited, "too many requests, retry later")
        }
    }

    /// A failure of ours; the caller learns nothing about it but the code.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { cause: Some(cause.into()), ..Self::new(ErrorCode::Internal, "internal error") }
    }

    /// A dependency (database, broker, another service) did not answer.
    pub fn unavailable(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(ErrorCode::Unavailable, "a dependency is unavailable, retry later")
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn detail(&self) -> &str {
        &self.detail
    }

    pub fn field_errors(&self) -> &[FieldError] {
        &self.errors
    }

    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after_seconds
    }

    fn log_cause(&self) {
        if let Some(cause) = &self.cause {
            tracing::error!(code = self.code.as_str(), error = %ErrorChain(cause.as_ref()), "request failed");
        }
    }

    fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("https://causerie.dev/problems/{}", self.code.as_str()),
            title: self.code.title().to_owned(),
            status: self.code.http_status().as_u16(),
            detail: self.detail.clone(),
            code: self.code,
            errors: self.errors.clone(),
            retry_after_seconds: self.retry_after_seconds,
        }
    }

    /// Rebuilds the error a peer service returned, so the gateway answers exactly what the
    /// service decided.
    pub fn from_status(status: &tonic::Status) -> Self {
        if let Ok(problem) = serde_json::from_slice::<Problem>(status.details()) {
            return Self {
                code: problem.code,
                detail: problem.detail,
                errors: problem.errors,
                retry_after_seconds: problem.retry_after_seconds,
                cause: None,
            };
        }
        let code = ErrorCode::from_grpc_code(status.code());
        match code {
            ErrorCode::Internal => Self::internal(format!("peer answered {status}")),
            ErrorCode::Unavailable => Self::unavailable(format!("peer answered {status}")),
            _ => Self::new(code, status.message()),
        }
    }
}

/// A peer's answer as the error it carries, so that a call to another service ends in `?`.
impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        Self::from_status(&status)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = formatter.debug_struct("Error");
        debug.field("code", &self.code).field("detail", &self.detail);
        if let Some(cause) = &self.cause {
            debug.field("cause", &ErrorChain(cause.as_ref()).to_string());
        }
        debug.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.code.as_str(), self.detail)?;
        if let Some(cause) = &self.cause {
            write!(formatter, " ({})", ErrorChain(cause.as_ref()))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Prints an error with every `source()` below it, once, on one line.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(formatter, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// The RFC 9457 body. The same JSON travels in a gRPC status's details between services.
#[derive(Serialize, Deserialize)]
struct Problem {
    #[serde(rename = "type")]
    problem_type: String,
    title: String,
    status: u16,
    detail: String,
    code: ErrorCode,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldError>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after_seconds: Option<u64>,
}

/// What callers see as `code`: the public string of API.md, the same for 400 and 422 invalid
/// requests. (Between services `Problem` carries the exact variant instead, so both survive a hop.)
impl Serialize for ErrorCodeWire {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

struct ErrorCodeWire(ErrorCode);

#[derive(Serialize)]
struct PublicProblem<'a> {
    #[serde(rename = "type")]
    problem_type: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: ErrorCodeWire,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log_cause();
        let problem = self.problem();
        let body = PublicProblem {
            problem_type: &problem.problem_type,
            title: &problem.title,
            status: problem.status,
            detail: &problem.detail,
            code: ErrorCodeWire(problem.code),
            errors: &problem.errors,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.code.http_status(), bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<Error> for tonic::Status {
    fn from(error: Error) -> Self {
        error.log_cause();
        let details = serde_json::to_vec(&error.problem()).unwrap_or_default();
        tonic::Status::with_details(error.code.grpc_code(), error.detail.clone(), details.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_survives_a_grpc_hop() {
        let codes = [
            ErrorCode::MalformedRequest,
            ErrorCode::InvalidRequest,
            ErrorCode::Unauthenticated,
            ErrorCode::Forbidden,
            ErrorCode::LegalNoticeNotAccepted,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::PayloadTooLarge,
            ErrorCode::RetentionAboveMaximum,
            ErrorCode::ResidencyConflict,
            ErrorCode::FieldNotAllowed,
            ErrorCode::ConsentRequired,
        ];
        for code in codes {
            let status: tonic::Status = Error::new(code, "why").into();
            let back = Error::from_status(&status);
            assert_eq!(back.code(), code);
            assert_eq!(back.detail(), "why");
            assert_eq!(back.code().http_status(), code.http_status());
        }
    }

    #[test]
    fn field_errors_and_retry_after_survive_a_grpc_hop() {
        let status: tonic::Status = Error::invalid_field("slug", "must be lowercase").into();
        let back = Error::from_status(&status);
        assert_eq!(back.field_errors()[0].field, "slug");
        let status: tonic::Status = Error::rate_limited(30).into();
        assert_eq!(Error::from_status(&status).retry_after_seconds(), Some(30));
    }

    #[test]
    fn internal_detail_is_never_shown() {
        let status: tonic::Status = Error::internal("connection to db refused at 10.0.0.3").into();
        assert!(!status.message().contains("10.0.0.3"));
        let response = Error::internal("secret").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_status_from_tonic_itself_maps_by_code() {
        let status = tonic::Status::unavailable("connection refused");
        assert_eq!(Error::from_status(&status).code(), ErrorCode::Unavailable);
    }

    #[tokio::test]
    async fn problem_json_has_the_contract_fields() {
        let response = Error::invalid_field("email", "is not an e-mail address").into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["code"], "invalid_request");
        assert_eq!(json["status"], 422);
        assert_eq!(json["errors"][0]["field"], "email");
        assert!(json["type"].as_str().unwrap().starts_with("https://"));
        assert!(json["title"].is_string() && json["detail"].is_string());
    }
}
