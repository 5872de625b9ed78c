//! The widget API: what a visitor's browser calls from a tenant's site. Visitors have no token;
//! they are known by the cookies of DESIGN.md section 6 (`causerie_core::cookies`), and a call is
//! served only for the origins the project allows. `cz_sid` names the project it belongs to, so
//! later calls find their project without any server-side session.

pub(super) mod notifications;

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_ORIGIN, COOKIE, ORIGIN, SET_COOKIE, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use causerie_core::Error;
use causerie_core::cookies::{self, WidgetCookie};
use causerie_core::policy::{LegalBasis, PrivacyPolicy};
use causerie_proto::accounts::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use axum::extract::FromRequestParts;

use super::privacy::ConsentRecordResponse;
use super::wire::{ApiJson, ApiQuery};
use crate::caller::ClientAddress;
use crate::state::AppState;
use crate::upstream::{for_service, policy_of};
use crate::widget_projects::ResolvedProject;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/widget/v1/projects/{public_id}/sessions", post(start_session).options(preflight))
        .route("/widget/v1/privacy", get(privacy_credits).options(preflight))
        .route("/widget/v1/consents", post(record_consent).get(current_consents).options(preflight))
        .route("/widget/v1/messages", post(send_message).options(preflight))
        .route("/widget/v1/entries/{id}/audio", get(entry_audio).options(preflight))
        .route("/widget/v1/notifications", get(notifications::due_notifications).options(preflight))
        .route("/widget/v1/notifications/{id}/seen", post(notifications::notification_seen).options(preflight))
        // The limits inside, so that a 429 gets its CORS headers and the widget can read it.
        .layer(axum::middleware::from_fn_with_state(state.clone(), widget_limits))
        .layer(axum::middleware::from_fn_with_state(state, cors_on_errors))
}

/// Namespaces of the widget's rate-limit keys, so that an address, a visitor and a signed-in
/// caller never share a count.
const ADDRESS_LIMIT_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x8f1d_3c2a_77e4_4f0b_9a61_5c0e_d2b4_a001);
const VISITOR_LIMIT_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x8f1d_3c2a_77e4_4f0b_9a61_5c0e_d2b4_a002);

/// The source a widget call counts against: the client's address when the gateway can vouch for
/// it (named by a trusted proxy, or a public peer reaching it directly), IPv6 by its /64, which is
/// what one subscriber holds. A private peer without trusted proxies is an ingress left out of
/// `CAUSERIE_TRUSTED_PROXIES`: every visitor would share its count, so none is kept.
fn limited_source(client: std::net::IpAddr, behind_trusted_proxies: bool) -> Option<String> {
    use std::net::IpAddr;
    let private = match client {
        IpAddr::V4(v4) => {
            v4.is_private() || v4.is_loopback() || v4.is_link_local()
            // 100.64.0.0/10, carrier-grade NAT.
            || (v4.octets()[0] == 100 && v4.octets()[1] & 0xc0 == 64)
        }
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local() || v6.is_unicast_link_local(),
    };
    if private && !behind_trusted_proxies {
        return None;
    }
    Some(match client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", segments[0], segments[1], segments[2], segments[3])
        }
    })
}

/// Every widget call, preflights included, counts against its source address (through
/// `CAUSERIE_TRUSTED_PROXIES`), and, once it carries `cz_vid`, against that visitor: a script
/// that makes up a new visitor for each call still meets its address's limit. Both limits are far
/// above what a visitor's page makes (a session, a few consents, the credits).
async fn widget_limits(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, Error> {
    let (mut parts, body) = request.into_parts();
    let Ok(ClientAddress(client)) = ClientAddress::from_request_parts(&mut parts, &state).await;
    if let Some(source) = client.and_then(|client| limited_source(client, !state.trusted_proxies.is_empty())) {
        let key = uuid::Uuid::new_v5(&ADDRESS_LIMIT_NAMESPACE, source.as_bytes());
        state.rate_limiter.check_within(key, state.widget_limits.per_address_per_minute)?;
    }
    if let Some(visitor) = cookie(&parts.headers, cookies::VISITOR.name) {
        let key = uuid::Uuid::new_v5(&VISITOR_LIMIT_NAMESPACE, visitor.as_bytes());
        state.rate_limiter.check_within(key, state.widget_limits.per_visitor_per_minute)?;
    }
    Ok(next.run(Request::from_parts(parts, body)).await)
}

/// A browser lets a page read an answer from another site only with CORS headers: errors get them
/// too (a bad body, an expired session, a rate limit), so the widget can say why a call failed,
/// when the project the route serves allows the page's origin. A refused origin (`403`), an
/// unknown project (`404`) and failures of the platform (`5xx`) never get them.
async fn cors_on_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(origin) = request.headers().get(ORIGIN).cloned() else {
        return next.run(request).await;
    };
    // The project each route's handler serves: the path's for a new session, `?project=` or the
    // session's for the credits, the session's for consents.
    let path = request.uri().path();
    let asked = if let Some(rest) = path.strip_prefix("/widget/v1/projects/") {
        rest.split('/').next().map(str::to_owned)
    } else if path == "/widget/v1/privacy" {
        axum::extract::Query::<CreditsQuery>::try_from_uri(request.uri()).ok().and_then(|query| query.0.project)
    } else {
        None
    };
    let public_id = widget_public_id(request.headers(), asked.as_deref()).ok();
    let mut response = next.run(request).await;
    let status = response.status();
    if status.is_success()
        || status.is_server_error()
        || matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND)
        || response.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN)
    {
        return response;
    }
    let mut caller = HeaderMap::new();
    caller.insert(ORIGIN, origin);
    // A refusal of the limits looks only at the copies: asking accounts for every call a flood
    // makes would carry the flood past the limit.
    let resolved = match public_id {
        Some(public_id) if status == StatusCode::TOO_MANY_REQUESTS => state.widget_projects.cached(&public_id),
        Some(public_id) => state.widget_projects.resolve(&public_id).await.ok(),
        None => None,
    };
    if let Some(resolved) = resolved
        && check_origin(&caller, &resolved.project.allowed_origins).is_ok()
    {
        response.headers_mut().extend(cors(&caller));
    }
    response
}

/// The value of cookie `name` in the request, if any.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(ORIGIN).and_then(|value| value.to_str().ok())
}

/// Refuses a browser call from an origin the project does not allow. A read without `Origin`
/// does not come from a page of another site (browsers always send it on cross-origin calls).
fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), Error> {
    match origin(headers) {
        Some(origin) if !is_allowed(origin, allowed) => {
            Err(Error::forbidden("this site is not allowed to embed the project's widget"))
        }
        _ => Ok(()),
    }
}

fn is_allowed(origin: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|allowed| allowed.eq_ignore_ascii_case(origin))
}

/// A write (a session, a consent record kept for years) needs an `Origin` the project allows:
/// browsers send one on every POST, so a call without it is a script, not a visitor's page.
fn check_write_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), Error> {
    match origin(headers) {
        Some(origin) if is_allowed(origin, allowed) => Ok(()),
        Some(_) => Err(Error::forbidden("this site is not allowed to embed the project's widget")),
        None => Err(Error::forbidden("a widget write must come from a page: Origin is required")),
    }
}

/// CORS headers for an origin already checked: credentials allowed, so the cookies travel.
fn cors(headers: &HeaderMap) -> Vec<(axum::http::HeaderName, HeaderValue)> {
    let Some(origin) = origin(headers).and_then(|origin| HeaderValue::from_str(origin).ok()) else {
        return Vec::new();
    };
    vec![
        (ACCESS_CONTROL_ALLOW_ORIGIN, origin),
        (ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true")),
        (VARY, HeaderValue::from_static("Origin")),
    ]
}

/// A preflight names its project in the path (a new session) or in `?project=` (the credits, and
/// the consents when the widget adds it): it is answered with CORS headers only for an origin
/// that project allows. A consents preflight without `?project=` carries no cookie, so its
/// project is unknown: it is answered for an origin that a project this gateway served in the
/// last day allows, as a visitor's session start makes it; the call itself is checked against
/// its own project either way.
async fn preflight(State(state): State<AppState>, request: Request) -> Response {
    let headers = request.headers();
    let mut response = StatusCode::NO_CONTENT.into_response();
    let Some(origin) = origin(headers) else { return response };
    let path = request.uri().path();
    let named_project = if let Some(rest) = path.strip_prefix("/widget/v1/projects/") {
        rest.split('/').next().map(str::to_owned)
    } else if path == "/widget/v1/privacy" || path == "/widget/v1/consents" {
        axum::extract::Query::<CreditsQuery>::try_from_uri(request.uri()).ok().and_then(|query| query.0.project)
    } else {
        None
    };
    let allowed = match named_project {
        Some(public_id) => state
            .widget_projects
            .resolve(&public_id)
            .await
            .is_ok_and(|resolved| is_allowed(origin, &resolved.project.allowed_origins)),
        None => state.widget_projects.any_allows(origin),
    };
    if !allowed {
        return response;
    }
    let answer = response.headers_mut();
    for (name, value) in cors(headers) {
        answer.insert(name, value);
    }
    answer.insert("access-control-allow-methods", HeaderValue::from_static("GET, POST"));
    answer.insert("access-control-allow-headers", HeaderValue::from_static("content-type"));
    answer.insert("access-control-max-age", HeaderValue::from_static("600"));
    response
}

fn set_cookie(cookie: &WidgetCookie, value: &str) -> Result<(axum::http::HeaderName, HeaderValue), Error> {
    Ok((SET_COOKIE, HeaderValue::from_str(&cookie.set_cookie(value)).map_err(Error::internal)?))
}

/// A page URL as a cookie value: percent-encoded where cookies cannot hold a character, and cut
/// at 1,000 bytes.
fn cookie_value(text: &str) -> String {
    let mut value = String::with_capacity(text.len().min(1000));
    for byte in text.bytes() {
        if value.len() >= 1000 {
            break;
        }
        match byte {
            b'!' | b'#'..=b'+' | b'-'..=b':' | b'<'..=b'[' | b']'..=b'~' if byte != b'%' => {
                value.push(char::from(byte))
            }
            other => value.push_str(&format!("%{other:02X}")),
        }
    }
    value
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    pub page_url: String,
    pub language: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentPurpose {
    pub id: String,
    pub name: String,
    pub legal_basis: &'static str,
    pub description: String,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentIntroduction {
    /// The purposes the visitor is asked to opt in to.
    pub purposes: Vec<ConsentPurpose>,
    /// The version of the consent text shown; a consent record cites it.
    pub text_version: i32,
}

#[derive(Serialize, ToSchema)]
#[schema(as = WidgetSession)]
pub struct SessionResponse {
    pub session_id: String,
    pub visitor_id: String,
    /// The language asked for when the project speaks it, else the project's first language.
    pub language: Option<String>,
    /// The consent text shown before the visitor starts.
    pub intro: String,
    pub consent: ConsentIntroduction,
    /// Show the privacy-information button.
    pub privacy_button: bool,
    /// Offer the "credits" sequence.
    pub credits_sequence: bool,
}

fn consent_introduction(policy: &PrivacyPolicy) -> ConsentIntroduction {
    ConsentIntroduction {
        purposes: policy
            .document
            .purposes
            .iter()
            .filter(|purpose| purpose.legal_basis == LegalBasis::Consent)
            .map(|purpose| ConsentPurpose {
                id: purpose.id.clone(),
                name: purpose.name.clone(),
                legal_basis: purpose.legal_basis.as_str(),
                description: purpose.description.clone(),
            })
            .collect(),
        text_version: policy.consent_text_version,
    }
}

/// Starts a visitor's session on a project's widget: sets `cz_vid` (kept when the visitor has
/// one), `cz_sid` and `cz_page`, and answers the introduction with the consent asked.
#[utoipa::path(post, path = "/widget/v1/projects/{public_id}/sessions", tag = "widget", request_body = SessionRequest,
    responses((status = 201, body = SessionResponse), (status = 403, description = "forbidden: origin not allowed"),
              (status = 404, description = "not_found")))]
async fn start_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(public_id): Path<String>,
    ApiJson(body): ApiJson<SessionRequest>,
) -> Result<Response, Error> {
    let resolved = state.widget_projects.resolve(&public_id).await?;
    check_write_origin(&headers, &resolved.project.allowed_origins)?;
    let project = &resolved.project;
    if body.page_url.trim().is_empty() || body.page_url.len() > 4096 {
        return Err(Error::invalid_field("page_url", "is required, at most 4096 characters"));
    }
    let policy = policy_of(&project.policy_json)?;
    let cookie_visitor_id = cookie(&headers, cookies::VISITOR.name)
        .and_then(|value| uuid::Uuid::try_parse(value).ok())
        .unwrap_or_else(uuid::Uuid::new_v4);
    let visitor_id = cookies::tenant_visitor_id(resolved.tenant_id.as_uuid(), cookie_visitor_id);
    let session_id = cookies::new_session_id(&project.public_id, state.clock.now());
    let features = project.features.unwrap_or_default();
    let asked = body.language.as_deref().map(|language| language.trim().to_lowercase());
    let chosen = asked.filter(|asked| project.languages.contains(asked));
    if let Some(chosen) = &chosen {
        // The assistant matches the session's questions in the language the visitor chose.
        let message = causerie_proto::assistant::v1::StartSessionRequest {
            tenant_id: project.tenant_id.clone(),
            project_id: project.project_id.clone(),
            session_id: session_id.clone(),
            language: chosen.clone(),
        };
        state.assistant.clone().start_session(for_service(&state.service_token, message, None).await?).await?;
    }
    let language = chosen.or_else(|| project.languages.first().cloned());
    let answer = SessionResponse {
        session_id: session_id.clone(),
        visitor_id: visitor_id.to_string(),
        language,
        intro: policy.document.consent_text.clone(),
        consent: consent_introduction(&policy),
        privacy_button: features.privacy_button,
        credits_sequence: features.credits_sequence,
    };
    let mut response_headers = cors(&headers);
    response_headers.push(set_cookie(&cookies::VISITOR, &cookie_visitor_id.to_string())?);
    response_headers.push(set_cookie(&cookies::SESSION, &session_id)?);
    response_headers.push(set_cookie(&cookies::PAGE, &cookie_value(body.page_url.trim()))?);
    Ok((StatusCode::CREATED, AppendHeaders(response_headers), Json(answer)).into_response())
}

/// The widget's project: from `cz_sid`, or from `?project=` before a session exists.
fn widget_public_id(headers: &HeaderMap, project: Option<&str>) -> Result<String, Error> {
    // An explicit project wins: the one `cz_sid` is shared by every site that embeds a widget.
    project
        .or_else(|| {
            cookie(headers, cookies::SESSION.name)
                .and_then(|session| session.split_once('.').map(|(public_id, _)| public_id))
        })
        .map(str::to_owned)
        .ok_or_else(|| {
            Error::unauthenticated("no widget session: start one with POST /widget/v1/projects/{public_id}/sessions")
        })
}

async fn resolve_allowed(
    state: &AppState,
    headers: &HeaderMap,
    public_id: &str,
) -> Result<Arc<ResolvedProject>, Error> {
    let resolved = state.widget_projects.resolve(public_id).await?;
    check_origin(headers, &resolved.project.allowed_origins)?;
    Ok(resolved)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreditsQuery {
    /// The project's public id, when the visitor has no session yet.
    pub project: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RetentionEntry {
    pub category: String,
    /// Absent: for the duration of the contract.
    pub days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct Credits {
    pub controller: causerie_core::policy::Controller,
    pub dpo: causerie_core::policy::DataProtectionOfficer,
    pub purposes: Vec<ConsentPurpose>,
    pub recipients: Vec<String>,
    pub retention: Vec<RetentionEntry>,
    pub subprocessors: causerie_core::policy::Subprocessors,
    pub data_residency: causerie_core::policy::DataResidency,
    /// How a visitor asks for erasure or a copy of their data, and how long the controller takes.
    pub erasure: ErasureInformation,
    pub policy_version: i32,
}

#[derive(Serialize, ToSchema)]
pub struct ErasureInformation {
    pub request: &'static str,
    pub deadline_days: u32,
    pub contact: String,
}

/// The "credits": who the controller is, how to reach the DPO, the purposes and their legal
/// bases, the recipients, the retention periods, the sub-processors, and how to ask for erasure.
#[utoipa::path(get, path = "/widget/v1/privacy", tag = "widget", params(CreditsQuery),
    responses((status = 200, body = Credits), (status = 401, description = "unauthenticated: no session"),
              (status = 403, description = "forbidden: origin not allowed")))]
async fn privacy_credits(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<CreditsQuery>,
) -> Result<Response, Error> {
    let public_id = widget_public_id(&headers, query.project.as_deref())?;
    let resolved = resolve_allowed(&state, &headers, &public_id).await?;
    let policy = policy_of(&resolved.project.policy_json)?;
    let document = &policy.document;
    let credits = Credits {
        controller: document.controller.clone(),
        dpo: document.dpo.clone(),
        purposes: document
            .purposes
            .iter()
            .map(|purpose| ConsentPurpose {
                id: purpose.id.clone(),
                name: purpose.name.clone(),
                legal_basis: purpose.legal_basis.as_str(),
                description: purpose.description.clone(),
            })
            .collect(),
        recipients: document.recipients.clone(),
        retention: causerie_core::RetentionCategory::ALL
            .into_iter()
            .map(|category| RetentionEntry {
                category: category.as_str().to_owned(),
                days: document.retention_days(category),
            })
            .collect(),
        subprocessors: document.subprocessors,
        data_residency: document.data_residency,
        erasure: ErasureInformation {
            request: "POST /widget/v1/privacy/requests {\"kind\": \"erasure\"} from this widget, or write to the DPO",
            deadline_days: document.erasure_deadline_days,
            contact: document.dpo.email.clone(),
        },
        policy_version: policy.version,
    };
    Ok((AppendHeaders(cors(&headers)), Json(credits)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    pub purpose: String,
    pub granted: bool,
    /// The version of the consent text the visitor was shown.
    #[serde(deserialize_with = "super::wire::whole_number")]
    pub text_version: i32,
}

/// The tenant's id of the visitor whose `cz_vid` the request carries.
fn visitor(headers: &HeaderMap, resolved: &ResolvedProject) -> Result<uuid::Uuid, Error> {
    let cookie_visitor_id = cookie(headers, cookies::VISITOR.name)
        .and_then(|value| uuid::Uuid::try_parse(value).ok())
        .ok_or_else(|| Error::unauthenticated("no visitor: start a widget session first"))?;
    Ok(cookies::tenant_visitor_id(resolved.tenant_id.as_uuid(), cookie_visitor_id))
}

/// Records the visitor's choice for a purpose. A withdrawal is a record too.
#[utoipa::path(post, path = "/widget/v1/consents", tag = "widget", request_body = ConsentRequest,
    responses((status = 201, body = ConsentRecordResponse), (status = 401, description = "unauthenticated: no session"),
              (status = 403, description = "forbidden: origin not allowed"), (status = 422, description = "invalid_request"),
              (status = 429, description = "rate_limited: too many decisions from this visitor")))]
async fn record_consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<ConsentRequest>,
) -> Result<Response, Error> {
    let public_id = widget_public_id(&headers, None)?;
    let resolved = state.widget_projects.resolve(&public_id).await?;
    check_write_origin(&headers, &resolved.project.allowed_origins)?;
    let visitor_id = visitor(&headers, &resolved)?;
    let message = pb::RecordConsentRequest {
        public_id,
        visitor_id: visitor_id.to_string(),
        purpose: body.purpose,
        granted: body.granted,
        text_version: body.text_version,
        source: "widget".to_owned(),
        client_address: client.map(|address| address.to_string()),
    };
    let record =
        state.privacy.clone().record_visitor_consent(for_service(&state.service_token, message, None).await?).await?;
    let record = ConsentRecordResponse::from(record.into_inner());
    Ok((StatusCode::CREATED, AppendHeaders(cors(&headers)), Json(record)).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct CurrentConsent {
    pub purpose: String,
    pub granted: bool,
    pub text_version: i32,
    pub recorded_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Serialize, ToSchema)]
pub struct CurrentConsents {
    pub visitor_id: String,
    /// The latest decision per purpose.
    pub items: Vec<CurrentConsent>,
}

/// The visitor's current choices: the latest record for each purpose.
#[utoipa::path(get, path = "/widget/v1/consents", tag = "widget",
    responses((status = 200, body = CurrentConsents), (status = 401, description = "unauthenticated: no session")))]
async fn current_consents(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, Error> {
    let public_id = widget_public_id(&headers, None)?;
    let resolved = resolve_allowed(&state, &headers, &public_id).await?;
    let visitor_id = visitor(&headers, &resolved)?.to_string();
    let message = pb::ListVisitorConsentsRequest { public_id, visitor_id: visitor_id.clone() };
    let records =
        state.privacy.clone().list_visitor_consents(for_service(&state.service_token, message, None).await?).await?;
    let mut items: Vec<CurrentConsent> = Vec::new();
    // Newest first: the first record of each purpose is its current state.
    for record in records.into_inner().records {
        if !items.iter().any(|item| item.purpose == record.purpose) {
            items.push(CurrentConsent {
                purpose: record.purpose,
                granted: record.granted,
                text_version: record.text_version,
                recorded_at: record.recorded_at.and_then(causerie_proto::time::from_timestamp),
            });
        }
    }
    Ok((AppendHeaders(cors(&headers)), Json(CurrentConsents { visitor_id, items })).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// What the visitor typed.
    #[schema(min_length = 1, max_length = 2000)]
    pub text: String,
}

#[derive(Serialize, ToSchema)]
pub struct Suggestion {
    pub entry_id: String,
    pub question: String,
}

#[derive(Serialize, ToSchema)]
pub struct AssistantReply {
    /// `answer` when an entry answers the question, `fallback` when none does clearly enough,
    /// `step` for a scenario's step, `handoff` when the visitor is to be passed to an operator.
    pub kind: String,
    pub text: String,
    pub entry_id: Option<String>,
    /// The best entry's score, 0..1.
    pub confidence: f64,
    /// With a fallback: the likeliest entries, for the visitor to choose from.
    pub suggestions: Vec<Suggestion>,
    /// The scenario's step now waiting for the visitor, if one is.
    pub step: Option<ScenarioStepShown>,
}

/// A scenario's step as the widget shows it: the visitor answers it with the next message.
#[derive(Serialize, ToSchema)]
pub struct ScenarioStepShown {
    pub scenario_id: String,
    pub step_id: String,
    /// `choice`, `input`, `form` or `consent`.
    pub kind: String,
    /// A choice's options; the visitor answers with one, or its number.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// A form step's form, for `POST /widget/v1/forms/{fid}/submissions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form_id: Option<String>,
    /// A consent step's purpose and the version of the consent text shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_version: Option<i32>,
}

#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    pub reply: AssistantReply,
}

/// The assistant's reply to what the visitor typed. The question is kept only masked and
/// unlinked from the visitor, for the statistics.
#[utoipa::path(post, path = "/widget/v1/messages", tag = "widget", request_body = MessageRequest,
    responses((status = 200, body = MessageResponse), (status = 401, description = "unauthenticated: no session"),
              (status = 403, description = "forbidden: origin not allowed"), (status = 422, description = "invalid_request"),
              (status = 429, description = "rate_limited")))]
async fn send_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<MessageRequest>,
) -> Result<Response, Error> {
    let public_id = widget_public_id(&headers, None)?;
    let resolved = state.widget_projects.resolve(&public_id).await?;
    check_write_origin(&headers, &resolved.project.allowed_origins)?;
    let visitor_id = visitor(&headers, &resolved)?;
    let message = causerie_proto::assistant::v1::MatchRequest {
        tenant_id: resolved.project.tenant_id.clone(),
        project_id: resolved.project.project_id.clone(),
        text: body.text,
        language: None,
        session_id: cookie(&headers, cookies::SESSION.name).map(str::to_owned),
        visitor_id: Some(visitor_id.to_string()),
    };
    let reply = state.assistant.clone().r#match(for_service(&state.service_token, message, None).await?).await?;
    let reply = reply.into_inner();
    let reply = AssistantReply {
        kind: reply.kind,
        text: reply.text,
        entry_id: reply.entry_id,
        confidence: reply.confidence,
        suggestions: reply
            .suggestions
            .into_iter()
            .map(|suggestion| Suggestion { entry_id: suggestion.entry_id, question: suggestion.question })
            .collect(),
        step: reply.step.map(|step| {
            let set = |text: String| Some(text).filter(|text| !text.is_empty());
            ScenarioStepShown {
                scenario_id: step.scenario_id,
                step_id: step.step_id,
                kind: step.kind,
                options: step.options,
                form_id: set(step.form_id),
                text_version: set(step.purpose.clone()).map(|_| step.text_version),
                purpose: set(step.purpose),
            }
        }),
    };
    Ok((AppendHeaders(cors(&headers)), Json(MessageResponse { reply })).into_response())
}

/// The audio of an answer, as WAV, when the tenant's policy chooses a text-to-speech.
#[utoipa::path(get, path = "/widget/v1/entries/{id}/audio", tag = "widget",
    responses((status = 200, content_type = "audio/wav", body = Vec<u8>),
              (status = 401, description = "unauthenticated: no session"),
              (status = 403, description = "forbidden: origin not allowed, or no text-to-speech in the policy"),
              (status = 404, description = "not_found")))]
pub(super) async fn entry_audio(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    let public_id = widget_public_id(&headers, None)?;
    let resolved = resolve_allowed(&state, &headers, &public_id).await?;
    let message = causerie_proto::assistant::v1::WidgetEntryRef {
        tenant_id: resolved.project.tenant_id.clone(),
        project_id: resolved.project.project_id.clone(),
        id,
    };
    let audio =
        state.assistant.clone().widget_entry_audio(for_service(&state.service_token, message, None).await?).await?;
    let mut response_headers = cors(&headers);
    response_headers.push((axum::http::header::CONTENT_TYPE, HeaderValue::from_static("audio/wav")));
    Ok((AppendHeaders(response_headers), audio.into_inner().wav).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_url_becomes_a_valid_cookie_value() {
        assert_eq!(cookie_value("https://a.example/p?q=1&r=2"), "https://a.example/p?q=1&r=2");
        assert_eq!(cookie_value("https://a.example/a b;c,d\"é"), "https://a.example/a%20b%3Bc%2Cd%22%C3%A9");
        assert!(cookie_value(&"x".repeat(5000)).len() <= 1002);
    }

    #[test]
    fn the_address_limit_counts_what_the_gateway_can_vouch_for() {
        let address = |text: &str| text.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(limited_source(address("10.1.2.3"), false), None, "an untrusted ingress");
        assert_eq!(limited_source(address("10.1.2.3"), true).as_deref(), Some("10.1.2.3"));
        assert_eq!(limited_source(address("203.0.113.7"), false).as_deref(), Some("203.0.113.7"));
        let one = limited_source(address("2001:db8:1:2:aaaa::1"), false);
        let other = limited_source(address("2001:db8:1:2:bbbb::9"), false);
        assert_eq!(one, other, "one /64, one count");
    }

    #[test]
    fn cookies_are_read_from_every_header() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; cz_vid=v"));
        headers.append(COOKIE, HeaderValue::from_static("cz_sid=pk_x.y"));
        assert_eq!(cookie(&headers, "cz_vid"), Some("v"));
        assert_eq!(cookie(&headers, "cz_sid"), Some("pk_x.y"));
        assert_eq!(cookie(&headers, "cz_page"), None);
    }
}
