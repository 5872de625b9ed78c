//! What crosses the HTTP edge: JSON bodies and query parameters whose every rejection is our
//! problem+json, and the one shape of a page of a list with its cursor (API.md).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use causerie_core::Error;
use serde::Serialize;
use utoipa::ToSchema;

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

/// A page of a list: its items and the cursor of the next page, `null` on the last (API.md).
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Page<T> {
    /// The items a service answered and its next cursor, which it leaves empty on the last page.
    pub fn of<S>(items: impl IntoIterator<Item = S>, next_cursor: String) -> Self
    where
        T: From<S>,
    {
        Self { items: items.into_iter().map(T::from).collect(), next_cursor: self::next_cursor(next_cursor) }
    }
}

/// An optional list of a PATCH, as the services take it: absent leaves it, present replaces it.
pub fn string_list(values: Option<Vec<String>>) -> Option<causerie_proto::accounts::v1::StringList> {
    values.map(|values| causerie_proto::accounts::v1::StringList { values })
}

#[cfg(test)]
mod tests {
    use super::has_nul_escape;

    #[test]
    fn only_a_real_nul_escape_is_found() {
        assert!(has_nul_escape(br#"{"a": "x\u0000y"}"#));
        assert!(!has_nul_escape(br#"{"a": "x\\u0000y"}"#), "an escaped backslash then text");
        assert!(has_nul_escape(br#"{"a": "\\\u0000"}"#));
        assert!(!has_nul_escape(br#"{"a": "u0000"}"#));
    }
}
