//! Each tenant's privacy side over HTTP: the policy and its rules and history, support's switches,
//! the processing register, the widget's session, cookies and origins, the consent ledger, and
//! the policy cache other services read through.

mod common;

use std::time::Duration;

use anyhow::Context;
use causerie_e2e::TestStack;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const SHOP: &str = "https://shop.example";

fn policy(overrides: Value) -> Value {
    let mut policy = json!({
        "controller": {"name": "Acme SAS", "address": "1 rue de la Paix, 75002 Paris", "email": "privacy@acme.example"},
        "dpo": {"name": "Dana Protect", "email": "dpo@acme.example"},
        "purposes": [
            {"id": "chat_history", "name": "Keep the conversation", "legal_basis": "consent",
             "description": "We keep the conversation to answer follow-up questions."},
            {"id": "support", "name": "Answer questions", "legal_basis": "legitimate_interests", "description": ""}
        ],
        "recipients": ["Acme customer service"],
        "retention": {"chat_conversations": 365},
        "subprocessors": {"tts": "none", "translation": "none"},
        "data_residency": "eu",
        "erasure_deadline_days": 15,
        "consent_text": "May we keep this conversation for a year?"
    });
    if let (Some(policy), Some(overrides)) = (policy.as_object_mut(), overrides.as_object()) {
        policy.extend(overrides.clone());
    }
    policy
}

async fn put_policy(stack: &TestStack, tenant: &Tenant, document: &Value) -> anyhow::Result<reqwest::Response> {
    Ok(public(stack, Method::PUT, "/v1/privacy-policy", &tenant.admin_token).json(document).send().await?)
}

async fn new_project(stack: &TestStack, tenant: &Tenant) -> anyhow::Result<Value> {
    let created = public(stack, Method::POST, "/v1/projects", &tenant.admin_token)
        .json(&json!({"name": "Shop assistant", "allowed_origins": [SHOP], "languages": ["fr", "en"]}))
        .send()
        .await?;
    anyhow::ensure!(created.status() == 201, "creating a project answered {}", created.status());
    body(created).await
}

async fn widget_session(stack: &TestStack, public_id: &str, cookie: Option<&str>) -> anyhow::Result<reqwest::Response> {
    let mut request = stack
        .http
        .post(format!("{}/widget/v1/projects/{public_id}/sessions", stack.public_url))
        .header("origin", SHOP)
        .json(&json!({"page_url": "https://shop.example/products/42?colour=red", "language": "en"}));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    Ok(request.send().await?)
}

/// `name=value` of every `Set-Cookie` of a response, with their attributes.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response.headers().get_all("set-cookie").iter().filter_map(|value| value.to_str().ok()).map(str::to_owned).collect()
}

fn cookie_named<'a>(cookies: &'a [String], name: &str) -> Option<&'a String> {
    cookies.iter().find(|cookie| cookie.starts_with(&format!("{name}=")))
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value.to_owned())
        .unwrap_or_default()
}

/// A visitor of `project` with a widget session: the `Cookie` header its browser sends, and the
/// tenant's id for it.
async fn widget_visitor(stack: &TestStack, project: &Value) -> anyhow::Result<(String, String)> {
    let started = widget_session(stack, &text(project, "public_id"), None).await?;
    anyhow::ensure!(started.status() == 201, "starting a widget session answered {}", started.status());
    let cookies = set_cookies(&started);
    let cookie_header = ["cz_vid", "cz_sid"]
        .iter()
        .filter_map(|name| cookie_named(&cookies, name).map(|cookie| format!("{name}={}", cookie_value(cookie))))
        .collect::<Vec<_>>()
        .join("; ");
    Ok((cookie_header, text(&body(started).await?, "visitor_id")))
}

/// A new tenant with the default policy, a project embedded on `SHOP`, and a visitor who started
/// a widget session on it: the tenant, the visitor's cookie header and visitor id.
async fn tenant_with_visitor(stack: &TestStack, slug: &str) -> anyhow::Result<(Tenant, String, String)> {
    let tenant = new_tenant(stack, slug).await?;
    put_policy(stack, &tenant, &policy(json!({}))).await?.error_for_status()?;
    let project = new_project(stack, &tenant).await?;
    let (cookie_header, visitor_id) = widget_visitor(stack, &project).await?;
    Ok((tenant, cookie_header, visitor_id))
}

/// `POST /widget/v1/consents` as the widget sends it from a page of `origin`, with the visitor's
/// cookies.
fn widget_consent(stack: &TestStack, origin: &str, cookie_header: &str) -> reqwest::RequestBuilder {
    stack
        .http
        .post(format!("{}/widget/v1/consents", stack.public_url))
        .header("origin", origin)
        .header("cookie", cookie_header)
}

#[tokio::test]
async fn each_policy_rule_answers_its_code() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;

    let defaults = body(public(&stack, Method::GET, "/v1/privacy-policy", &tenant.admin_token).send().await?).await?;
    assert_eq!(defaults["version"], 0);
    assert_eq!(defaults["erasure_deadline_days"], 15);
    assert_eq!(defaults["data_residency"], "eu");

    let cases = [
        (json!({"retention": {"chat_conversations": 731}}), "retention_above_maximum", "retention.chat_conversations"),
        (json!({"retention": {"consent_records": 2000}}), "retention_above_maximum", "retention.consent_records"),
        (
            json!({"subprocessors": {"tts": "none", "translation": "google"}}),
            "residency_conflict",
            "subprocessors.translation",
        ),
        (json!({"erasure_deadline_days": 31}), "invalid_request", "erasure_deadline_days"),
        (
            json!({"controller": {"name": "Acme", "address": "Paris", "email": "not-an-address"}}),
            "invalid_request",
            "controller.email",
        ),
    ];
    for (overrides, code, field) in cases {
        let refused = put_policy(&stack, &tenant, &policy(overrides.clone())).await?;
        assert_eq!(refused.status(), 422, "{overrides}");
        let problem = body(refused).await?;
        assert_eq!(problem["code"], code, "{overrides}");
        assert_eq!(problem["errors"][0]["field"], field, "{overrides}");
    }
    let unknown_basis = put_policy(
        &stack,
        &tenant,
        &policy(json!({"purposes": [{"id": "x", "name": "X", "legal_basis": "because", "description": ""}]})),
    )
    .await?;
    assert_eq!(unknown_basis.status(), 422);
    let malformed = public(&stack, Method::PUT, "/v1/privacy-policy", &tenant.admin_token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await?;
    assert_eq!(malformed.status(), 400);

    new_operator(&stack, &tenant, &tenant.email("grace"), json!({})).await?;
    let operator = tokens(&stack, &tenant.slug, &tenant.email("grace"), OPERATOR_PASSWORD).await?;
    let by_operator = public(&stack, Method::PUT, "/v1/privacy-policy", &text(&operator, "access_token"))
        .json(&policy(json!({})))
        .send()
        .await?;
    assert_eq!(by_operator.status(), 403, "only admins write the policy");

    let unchanged = body(public(&stack, Method::GET, "/v1/privacy-policy", &tenant.admin_token).send().await?).await?;
    assert_eq!(unchanged["version"], 0, "nothing refused was written");
    stack.stop().await
}

#[tokio::test]
async fn every_change_makes_a_version_and_the_history_stays_readable() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    let first = body(put_policy(&stack, &tenant, &policy(json!({}))).await?.error_for_status()?).await?;
    assert_eq!(first["version"], 1);
    assert_eq!(first["consent_text_version"], 1);
    let second = body(
        put_policy(&stack, &tenant, &policy(json!({"consent_text": "May we keep it for six months?"})))
            .await?
            .error_for_status()?,
    )
    .await?;
    assert_eq!(second["version"], 2);
    assert_eq!(second["consent_text_version"], 2, "a new consent text gets a new version");
    let third = body(
        put_policy(
            &stack,
            &tenant,
            &policy(json!({"consent_text": "May we keep it for six months?", "recipients": []})),
        )
        .await?
        .error_for_status()?,
    )
    .await?;
    assert_eq!(third["version"], 3);
    assert_eq!(third["consent_text_version"], 2, "the text did not change");

    let versions =
        body(public(&stack, Method::GET, "/v1/privacy-policy/versions", &tenant.admin_token).send().await?).await?;
    let numbers: Vec<i64> =
        versions["items"].as_array().into_iter().flatten().filter_map(|item| item["version"].as_i64()).collect();
    assert_eq!(numbers, [3, 2, 1]);
    let old =
        body(public(&stack, Method::GET, "/v1/privacy-policy/versions/1", &tenant.admin_token).send().await?).await?;
    assert_eq!(old["consent_text"], "May we keep this conversation for a year?");
    assert_eq!(old["recipients"], json!(["Acme customer service"]));
    let missing = public(&stack, Method::GET, "/v1/privacy-policy/versions/9", &tenant.admin_token).send().await?;
    assert_eq!(missing.status(), 404);
    let current = body(public(&stack, Method::GET, "/v1/privacy-policy", &tenant.admin_token).send().await?).await?;
    assert_eq!(current["version"], 3);
    stack.stop().await
}

#[tokio::test]
async fn translation_is_switched_on_by_support_allowed_by_the_policys_residency_and_only_then_in_the_register()
-> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    let staff_token = stack.staff_token().await?;
    let switch_translation = |on: bool| {
        stack
            .http
            .patch(format!("{}/admin/v1/tenants/{}", stack.admin_url, tenant.id))
            .bearer_auth(&staff_token)
            .json(&json!({"features": {"translation": on}}))
            .send()
    };
    put_policy(&stack, &tenant, &policy(json!({}))).await?.error_for_status()?;

    let register = |format: &'static str| {
        let stack = &stack;
        let token = tenant.admin_token.clone();
        async move {
            let response =
                public(stack, Method::GET, &format!("/v1/processing-register?format={format}"), &token).send().await?;
            anyhow::ensure!(response.status() == 200, "register answered {}", response.status());
            anyhow::Ok(response.text().await?)
        }
    };
    for format in ["json", "csv", "md"] {
        let before = register(format).await?;
        assert!(before.contains("Acme SAS") && before.contains("OVH"), "{format}: {before}");
        assert!(!before.contains("Google"), "{format}: translation is not enabled yet");
    }
    assert!(register("md").await?.contains("data residency eu,"), "the register prints the API's value");
    let google_abroad =
        policy(json!({"data_residency": "any", "subprocessors": {"tts": "none", "translation": "google"}}));
    let not_yet = put_policy(&stack, &tenant, &google_abroad).await?;
    assert_eq!(not_yet.status(), 422, "support has not enabled the connector");

    // The switch is commercial: support turns it on whatever the policy's residency is.
    let enabled = body(switch_translation(true).await?.error_for_status()?).await?;
    assert_eq!(enabled["features"]["translation"], true);
    assert!(!register("md").await?.contains("Google"), "the policy still names no translation provider");
    // The conflict is the policy's: Google under EU residency.
    let google_in_the_eu =
        put_policy(&stack, &tenant, &policy(json!({"subprocessors": {"tts": "none", "translation": "google"}})))
            .await?;
    assert_eq!(google_in_the_eu.status(), 422);
    assert_eq!(body(google_in_the_eu).await?["code"], "residency_conflict");

    put_policy(&stack, &tenant, &google_abroad).await?.error_for_status()?;
    let json_register: Value = serde_json::from_str(&register("json").await?)?;
    let google = json_register["processors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|processor| processor["name"].as_str().is_some_and(|name| name.contains("Google")))
        .cloned()
        .context("the translation provider is not in the register")?;
    assert_eq!(google["transfer_outside_eu"], true);
    assert!(google["safeguard"].as_str().is_some_and(|safeguard| safeguard.contains("Standard Contractual Clauses")));
    assert!(register("csv").await?.contains("Google"));
    assert!(register("md").await?.contains("| Google"));
    let bad_format =
        public(&stack, Method::GET, "/v1/processing-register?format=pdf", &tenant.admin_token).send().await?;
    assert_eq!(bad_format.status(), 422);

    let subprocessors = body(
        stack.http.get(format!("{}/admin/v1/subprocessors", stack.admin_url)).bearer_auth(&staff_token).send().await?,
    )
    .await?;
    assert_eq!(subprocessors["items"].as_array().map(Vec::len), Some(3));
    // A page at a time, in id order.
    let staff_page = |query: &str| {
        stack.http.get(format!("{}/admin/v1/subprocessors?{query}", stack.admin_url)).bearer_auth(&staff_token).send()
    };
    let first = body(staff_page("limit=2").await?.error_for_status()?).await?;
    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().into_iter().flatten().map(|processor| text(processor, "id")).collect()
    };
    assert_eq!(ids(&first), ["acapela", "google-translate"]);
    let cursor = text(&first, "next_cursor");
    let second = body(staff_page(&format!("limit=2&cursor={cursor}")).await?.error_for_status()?).await?;
    assert_eq!((ids(&second), second["next_cursor"].clone()), (vec!["ovh".to_owned()], Value::Null));
    assert_eq!(staff_page("limit=201").await?.status(), 422);
    let without_safeguard = stack
        .http
        .put(format!("{}/admin/v1/subprocessors/deepl", stack.admin_url))
        .bearer_auth(&staff_token)
        .json(&json!({"kind": "translation", "name": "DeepL", "country": "US", "outside_eu": true, "purpose": "translation"}))
        .send()
        .await?;
    assert_eq!(without_safeguard.status(), 422, "a transfer outside the EU needs a safeguard");
    stack.stop().await
}

#[tokio::test]
async fn a_contributor_creates_changes_and_deletes_projects_and_an_operator_may_not() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    new_operator(&stack, &tenant, &tenant.email("linus"), json!({"role": "contributor"})).await?;
    new_operator(&stack, &tenant, &tenant.email("grace"), json!({})).await?;
    let contributor =
        text(&tokens(&stack, &tenant.slug, &tenant.email("linus"), OPERATOR_PASSWORD).await?, "access_token");
    let operator =
        text(&tokens(&stack, &tenant.slug, &tenant.email("grace"), OPERATOR_PASSWORD).await?, "access_token");
    let project = json!({"name": "Shop assistant", "allowed_origins": [SHOP], "languages": ["fr"]});

    let created = public(&stack, Method::POST, "/v1/projects", &contributor).json(&project).send().await?;
    assert_eq!(created.status(), 201);
    let path = format!("/v1/projects/{}", text(&body(created).await?, "id"));
    let renamed = public(&stack, Method::PATCH, &path, &contributor).json(&json!({"name": "Help desk"})).send().await?;
    assert_eq!(renamed.status(), 200);
    assert_eq!(body(renamed).await?["name"], "Help desk");

    let refused = public(&stack, Method::POST, "/v1/projects", &operator).json(&project).send().await?;
    assert_eq!(refused.status(), 403, "operators chat; they do not build projects");
    assert_eq!(public(&stack, Method::DELETE, &path, &operator).send().await?.status(), 403);
    assert_eq!(public(&stack, Method::DELETE, &path, &contributor).send().await?.status(), 204);
    stack.stop().await
}

#[tokio::test]
async fn a_projects_settings_name_consent_purposes_of_the_policy_and_each_bad_one_is_refused() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "settings").await?;
    assert_eq!(put_policy(&stack, &tenant, &policy(json!({}))).await?.status(), 200);
    let project = new_project(&stack, &tenant).await?;
    let path = format!("/v1/projects/{}", text(&project, "id"));
    let token = tenant.admin_token.as_str();

    let set = json!({"chat_consent_purpose_id": "chat_history", "offline_message": "Back at 9am.",
                     "default_region": "fr", "match_threshold": 0.5});
    let changed = public(&stack, Method::PATCH, &path, token).json(&set).send().await?;
    assert_eq!(changed.status(), 200);
    let changed = body(changed).await?;
    assert_eq!(changed["chat_consent_purpose_id"], "chat_history");
    assert_eq!(changed["offline_message"], "Back at 9am.");
    assert_eq!(changed["default_region"], "FR");
    assert_eq!(changed["match_threshold"], 0.5);

    // Every bad value is named at once, and nothing changes.
    let bad = json!({"chat_consent_purpose_id": "newsletter", "supervision_purpose_id": "support",
                     "default_region": "France", "match_threshold": 1.5, "name": ""});
    let refused = public(&stack, Method::PATCH, &path, token).json(&bad).send().await?;
    assert_eq!(refused.status(), 422);
    let refused = body(refused).await?;
    let mut named: Vec<&str> =
        refused["errors"].as_array().into_iter().flatten().filter_map(|error| error["field"].as_str()).collect();
    named.sort_unstable();
    assert_eq!(
        named,
        ["chat_consent_purpose_id", "default_region", "match_threshold", "name", "supervision_purpose_id"],
        "{refused}"
    );
    let unchanged = body(public(&stack, Method::GET, &path, token).send().await?).await?;
    assert_eq!(unchanged["chat_consent_purpose_id"], "chat_history");
    assert_eq!(unchanged["match_threshold"], 0.5);

    // An empty string clears a setting; what is not sent stays.
    let cleared = public(&stack, Method::PATCH, &path, token).json(&json!({"offline_message": ""})).send().await?;
    let cleared = body(cleared).await?;
    assert_eq!(cleared["offline_message"], Value::Null);
    assert_eq!(cleared["default_region"], "FR");
    let created = public(&stack, Method::POST, "/v1/projects", token)
        .json(&json!({"name": "Second", "supervision_purpose_id": "unknown"}))
        .send()
        .await?;
    assert_eq!(created.status(), 422);

    let other = new_tenant(&stack, "settings-other").await?;
    let foreign =
        public(&stack, Method::PATCH, &path, &other.admin_token).json(&json!({"match_threshold": 0.9})).send();
    assert_eq!(foreign.await?.status(), 404);
    Ok(())
}

#[tokio::test]
async fn widget_cookies_have_the_exact_names_lifetimes_and_attributes_and_the_visitor_id_is_kept() -> anyhow::Result<()>
{
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    put_policy(&stack, &tenant, &policy(json!({}))).await?.error_for_status()?;
    let project = new_project(&stack, &tenant).await?;
    let public_id = text(&project, "public_id");

    let started = widget_session(&stack, &public_id, None).await?;
    assert_eq!(started.status(), 201);
    assert_eq!(started.headers().get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some(SHOP));
    assert_eq!(started.headers().get("access-control-allow-credentials").and_then(|v| v.to_str().ok()), Some("true"));
    let cookies = set_cookies(&started);
    let names: Vec<&str> = cookies.iter().filter_map(|cookie| cookie.split('=').next()).collect();
    assert_eq!(names, ["cz_vid", "cz_sid", "cz_page"]);
    for name in ["cz_vid", "cz_sid", "cz_page"] {
        let cookie = cookie_named(&cookies, name).context("missing cookie")?;
        let attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
        assert_eq!(attributes, ["Path=/", "Secure", "SameSite=None", "Max-Age=31536000", "HttpOnly"], "{name}");
    }
    let cookie_visitor_id = cookie_value(cookie_named(&cookies, "cz_vid").context("no cz_vid")?);
    let session = body(started).await?;
    let visitor_id = text(&session, "visitor_id");
    assert_ne!(visitor_id, cookie_visitor_id, "the tenant knows the visitor by an id of its own, not by the cookie");
    assert_eq!(session["language"], "en");
    assert_eq!(session["intro"], "May we keep this conversation for a year?");
    assert_eq!(session["consent"]["text_version"], 1);
    assert_eq!(session["consent"]["purposes"][0]["id"], "chat_history");
    assert_eq!(session["consent"]["purposes"].as_array().map(Vec::len), Some(1), "only purposes resting on consent");

    let again = widget_session(&stack, &public_id, Some(&format!("cz_vid={cookie_visitor_id}"))).await?;
    let again_cookies = set_cookies(&again);
    assert_eq!(cookie_value(cookie_named(&again_cookies, "cz_vid").context("no cz_vid")?), cookie_visitor_id, "kept");
    assert_ne!(
        cookie_value(cookie_named(&again_cookies, "cz_sid").context("no cz_sid")?),
        cookie_value(cookie_named(&cookies, "cz_sid").context("no cz_sid")?),
        "a new conversation session"
    );
    assert_eq!(text(&body(again).await?, "visitor_id"), visitor_id, "the same visitor for the tenant");

    let manifest = body(
        public(&stack, Method::GET, &format!("/v1/projects/{}/cookies", text(&project, "id")), &tenant.admin_token)
            .send()
            .await?,
    )
    .await?;
    let described: Vec<(String, String)> = manifest["cookies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|cookie| (text(cookie, "name"), text(cookie, "lifetime")))
        .collect();
    let expected = [
        ("cz_pos", "session"),
        ("cz_notif", "1 month"),
        ("cz_page", "1 year"),
        ("cz_vid", "1 year"),
        ("cz_sid", "1 year"),
    ];
    assert_eq!(described, expected.map(|(name, lifetime)| (name.to_owned(), lifetime.to_owned())));
    assert!(manifest["cookies"].as_array().into_iter().flatten().all(|cookie| cookie["consent_exempt"] == true));
    stack.stop().await
}

#[tokio::test]
async fn a_widget_call_from_an_origin_not_allowed_is_refused() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    let project = new_project(&stack, &tenant).await?;
    let public_id = text(&project, "public_id");
    let foreign = stack
        .http
        .post(format!("{}/widget/v1/projects/{public_id}/sessions", stack.public_url))
        .header("origin", "https://evil.example")
        .json(&json!({"page_url": "https://evil.example/"}))
        .send()
        .await?;
    assert_eq!(foreign.status(), 403);
    assert!(foreign.headers().get("access-control-allow-origin").is_none());
    assert!(foreign.headers().get("set-cookie").is_none());
    assert_eq!(body(foreign).await?["code"], "forbidden");

    let started = widget_session(&stack, &public_id, None).await?;
    let session_cookie =
        cookie_named(&set_cookies(&started), "cz_sid").map(|cookie| cookie_value(cookie)).context("no cz_sid")?;
    let credits_from_elsewhere = stack
        .http
        .get(format!("{}/widget/v1/privacy", stack.public_url))
        .header("origin", "https://evil.example")
        .header("cookie", format!("cz_sid={session_cookie}"))
        .send()
        .await?;
    assert_eq!(credits_from_elsewhere.status(), 403);
    let unknown = widget_session(&stack, "pk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", None).await?;
    assert_eq!(unknown.status(), 404);

    // A write without Origin is a script, not a page: no session, no consent record.
    let scripted = stack
        .http
        .post(format!("{}/widget/v1/projects/{public_id}/sessions", stack.public_url))
        .json(&json!({"page_url": "https://shop.example/"}))
        .send()
        .await?;
    assert_eq!(scripted.status(), 403);
    assert!(scripted.headers().get("set-cookie").is_none());
    let visitor_cookie = cookie_named(&set_cookies(&started), "cz_vid").map(|cookie| cookie_value(cookie));
    let scripted_consent = stack
        .http
        .post(format!("{}/widget/v1/consents", stack.public_url))
        .header("cookie", format!("cz_sid={session_cookie}; cz_vid={}", visitor_cookie.unwrap_or_default()))
        .json(&json!({"purpose": "chat_history", "granted": true, "text_version": 1}))
        .send()
        .await?;
    assert_eq!(scripted_consent.status(), 403);

    // Preflights answer CORS only for an origin the project (or, without one, a project served
    // here) allows.
    let preflight = |path: String, origin: &'static str| {
        stack
            .http
            .request(Method::OPTIONS, format!("{}{path}", stack.public_url))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let allowed_origin = |response: &reqwest::Response| {
        response.headers().get("access-control-allow-origin").and_then(|value| value.to_str().ok()).map(str::to_owned)
    };
    let sessions = format!("/widget/v1/projects/{public_id}/sessions");
    assert_eq!(allowed_origin(&preflight(sessions.clone(), SHOP).await?).as_deref(), Some(SHOP));
    assert_eq!(allowed_origin(&preflight(sessions, "https://evil.example").await?), None);
    let consents = "/widget/v1/consents".to_owned();
    assert_eq!(allowed_origin(&preflight(consents.clone(), SHOP).await?).as_deref(), Some(SHOP));
    assert_eq!(allowed_origin(&preflight(consents, "https://evil.example").await?), None);
    let credits = format!("/widget/v1/privacy?project={public_id}");
    assert_eq!(allowed_origin(&preflight(credits, "https://evil.example").await?), None);
    stack.stop().await
}

#[tokio::test]
async fn a_source_address_making_up_visitors_meets_its_own_limit() -> anyhow::Result<()> {
    let mut config = causerie_testkit::test_config()?;
    config.widget_address_rate_limit_per_minute = 4;
    // The test's client has an address of 127.0.0.0/8: one the gateway vouches for only behind a
    // proxy it trusts (here none stands in between, so the peer is the client).
    config.trusted_proxies = vec!["127.0.0.0/8".parse()?];
    let stack = TestStack::start_with(config).await?;
    let tenant = new_tenant(&stack, "acme").await?;
    put_policy(&stack, &tenant, &policy(json!({}))).await?.error_for_status()?;
    let public_id = text(&new_project(&stack, &tenant).await?, "public_id");
    let second_of_minute = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() % 60;
    if second_of_minute >= 50 {
        tokio::time::sleep(Duration::from_secs(61 - second_of_minute)).await;
    }
    // Each call a new visitor (no cookie): only the address ties them together.
    for _ in 0..4 {
        assert_eq!(widget_session(&stack, &public_id, None).await?.status(), 201);
    }
    let limited = widget_session(&stack, &public_id, None).await?;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().get("retry-after").is_some());
    assert_eq!(body(limited).await?["code"], "rate_limited");
    stack.stop().await
}

#[tokio::test]
async fn grant_withdraw_and_grant_again_leave_three_records_and_the_state_granted() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let (tenant, cookie_header, visitor_id) = tenant_with_visitor(&stack, "acme").await?;
    let decide = |granted: bool, purpose: &'static str, text_version: i64| {
        widget_consent(&stack, SHOP, &cookie_header)
            // No proxy is trusted here: what a client claims to be is not recorded.
            .header("x-forwarded-for", "203.0.113.7")
            .json(&json!({"purpose": purpose, "granted": granted, "text_version": text_version}))
            .send()
    };
    // CheckConsent, as a service on a hot path asks it, follows every decision at once.
    let channel =
        tonic::transport::Endpoint::from_shared(stack.config.service_url(causerie_runtime::Service::Accounts))?
            .connect()
            .await?;
    let mut privacy = causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient::new(channel);
    let check = |tenant_id: &str, token: &str| {
        let question = causerie_proto::accounts::v1::CheckConsentRequest {
            tenant_id: tenant_id.to_owned(),
            visitor_id: visitor_id.clone(),
            purpose: "chat_history".to_owned(),
        };
        as_caller(question, token)
    };
    let never_asked = privacy.check_consent(check(&tenant.id, &tenant.admin_token)?).await?.into_inner();
    assert_eq!((never_asked.granted, never_asked.text_version), (false, 0));
    for granted in [true, false, true] {
        let recorded = decide(granted, "chat_history", 1).await?;
        assert_eq!(recorded.status(), 201);
        let answer = privacy.check_consent(check(&tenant.id, &tenant.admin_token)?).await?.into_inner();
        assert_eq!((answer.granted, answer.text_version), (granted, 1));
    }
    let other = new_tenant(&stack, "globex").await?;
    let refused = privacy.check_consent(check(&tenant.id, &other.admin_token)?).await;
    assert_eq!(refused.map_err(|status| status.code()).err(), Some(tonic::Code::NotFound));
    let elsewhere = privacy.check_consent(check(&other.id, &other.admin_token)?).await?.into_inner();
    assert!(!elsewhere.granted, "a visitor of one tenant is unknown to another");
    assert_eq!(decide(true, "support", 1).await?.status(), 422, "support rests on legitimate interests, not consent");
    assert_eq!(decide(true, "marketing", 1).await?.status(), 422, "not a purpose of the policy");
    assert_eq!(decide(true, "chat_history", 2).await?.status(), 422, "no such text version was shown");
    let anonymous = stack
        .http
        .post(format!("{}/widget/v1/consents", stack.public_url))
        .json(&json!({"purpose": "chat_history", "granted": true, "text_version": 1}))
        .send()
        .await?;
    assert_eq!(anonymous.status(), 401, "no widget session");

    let current = body(
        stack
            .http
            .get(format!("{}/widget/v1/consents", stack.public_url))
            .header("origin", SHOP)
            .header("cookie", &cookie_header)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(current["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(current["items"][0]["purpose"], "chat_history");
    assert_eq!(current["items"][0]["granted"], true);

    let ledger = body(
        public(&stack, Method::GET, &format!("/v1/consents?visitor_id={visitor_id}"), &tenant.admin_token)
            .send()
            .await?,
    )
    .await?;
    let records = ledger["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(records.len(), 3);
    let decisions: Vec<bool> = records.iter().filter_map(|record| record["granted"].as_bool()).collect();
    assert_eq!(decisions, [true, false, true], "newest first");
    assert!(records.iter().all(|record| record["text_version"] == 1 && record["source"] == "widget"));
    let std::net::IpAddr::V4(source) = stack.source_address else { anyhow::bail!("the test client is on IPv4") };
    let [a, b, c, _] = source.octets();
    let network = format!("{a}.{b}.{c}.0/24");
    assert!(
        records.iter().all(|record| record["client_network"] == network.as_str()),
        "the address is truncated: {records:?}"
    );
    stack.stop().await
}

#[tokio::test]
async fn another_tenants_project_policy_and_consent_records_answer_404_or_nothing() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let acme = new_tenant(&stack, "acme").await?;
    let globex = new_tenant(&stack, "globex").await?;
    put_policy(&stack, &acme, &policy(json!({}))).await?.error_for_status()?;
    let project = new_project(&stack, &acme).await?;
    let started = widget_session(&stack, &text(&project, "public_id"), None).await?;
    let cookies = set_cookies(&started);
    let cookie_header = format!(
        "cz_vid={}; cz_sid={}",
        cookie_value(cookie_named(&cookies, "cz_vid").context("no cz_vid")?),
        cookie_value(cookie_named(&cookies, "cz_sid").context("no cz_sid")?)
    );
    let visitor_id = text(&body(started).await?, "visitor_id");
    widget_consent(&stack, SHOP, &cookie_header)
        .json(&json!({"purpose": "chat_history", "granted": true, "text_version": 1}))
        .send()
        .await?
        .error_for_status()?;

    let project_path = format!("/v1/projects/{}", text(&project, "id"));
    for (method, path) in [
        (Method::GET, project_path.clone()),
        (Method::PATCH, project_path.clone()),
        (Method::DELETE, project_path.clone()),
        (Method::GET, format!("{project_path}/cookies")),
    ] {
        let answer =
            public(&stack, method.clone(), &path, &globex.admin_token).json(&json!({"name": "Mine"})).send().await?;
        assert_eq!(answer.status(), 404, "{method} {path}");
    }
    let their_ledger = body(
        public(&stack, Method::GET, &format!("/v1/consents?visitor_id={visitor_id}"), &globex.admin_token)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(their_ledger["items"], json!([]), "acme's records are not globex's");
    let their_policy =
        body(public(&stack, Method::GET, "/v1/privacy-policy", &globex.admin_token).send().await?).await?;
    assert_eq!(their_policy["version"], 0, "globex sees its own (default) policy, not acme's");
    let still_there = public(&stack, Method::GET, &project_path, &acme.admin_token).send().await?;
    assert_eq!(body(still_there).await?["name"], "Shop assistant");
    stack.stop().await
}

#[tokio::test]
async fn the_policy_cache_drops_its_copy_when_the_policy_changes() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    let tenant_id: causerie_core::TenantId = tenant.id.parse().map_err(|_| anyhow::anyhow!("tenant id"))?;
    let channel =
        tonic::transport::Endpoint::from_shared(stack.config.service_url(causerie_runtime::Service::Accounts))?
            .connect()
            .await?;
    let cache = causerie_policy::PolicyCache::new(
        causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient::new(channel),
    );
    let tasks = tokio_util::task::TaskTracker::new();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let bus = causerie_bus::Bus::start(
        &stack.config.amqp_url,
        "policy-cache-test",
        causerie_bus::Topology::for_config(&stack.config),
        &tasks,
        shutdown.clone(),
    );
    tasks.spawn(cache.clone().follow_updates(bus, shutdown.clone()));

    assert_eq!(cache.policy(tenant_id, &tenant.admin_token).await?.version, 0);
    tokio::time::timeout(Duration::from_secs(10), cache.listening())
        .await
        .map_err(|_| anyhow::anyhow!("the cache never subscribed to policy updates"))?;
    assert_eq!(cache.policy(tenant_id, &tenant.admin_token).await?.version, 0);
    assert_eq!(cache.cached_version(tenant_id), Some(0));

    put_policy(&stack, &tenant, &policy(json!({}))).await?.error_for_status()?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while cache.cached_version(tenant_id).is_some() {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the cached copy was never dropped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(cache.policy(tenant_id, &tenant.admin_token).await?.version, 1);
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    stack.stop().await
}

/// A gRPC request to accounts as another gateway replica would send it, for `token`'s caller.
fn as_caller<T>(message: T, token: &str) -> anyhow::Result<tonic::Request<T>> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse()?);
    Ok(request)
}

/// Polls a widget session from `origin` until it answers `status`, for at most ten seconds.
async fn until_widget_answers(stack: &TestStack, public_id: &str, origin: &str, status: u16) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = stack
            .http
            .post(format!("{}/widget/v1/projects/{public_id}/sessions", stack.public_url))
            .header("origin", origin)
            .json(&json!({"page_url": format!("{origin}/")}))
            .send()
            .await?
            .status();
        if answer == status {
            return Ok(());
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "from {origin} the widget still answers {answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_gateways_copy_of_a_widget_project_follows_changes_made_through_another_replica() -> anyhow::Result<()> {
    use causerie_proto::accounts::v1 as pb;

    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    let project = new_project(&stack, &tenant).await?;
    let public_id = text(&project, "public_id");
    // The gateway now holds its copy of the project.
    assert_eq!(widget_session(&stack, &public_id, None).await?.status(), 201);
    // The gateway said it was ready only once its listener was bound: the events below are heard.

    // Changes sent straight to accounts, as a gateway replica other than the one under test would.
    let channel =
        tonic::transport::Endpoint::from_shared(stack.config.service_url(causerie_runtime::Service::Accounts))?
            .connect()
            .await?;
    let other_site = "https://other.example";
    let moved = pb::ProjectInput {
        id: text(&project, "id"),
        allowed_origins: Some(pb::StringList { values: vec![other_site.to_owned()] }),
        ..pb::ProjectInput::default()
    };
    pb::privacy_service_client::PrivacyServiceClient::new(channel.clone())
        .update_project(as_caller(moved, &tenant.admin_token)?)
        .await?;
    until_widget_answers(&stack, &public_id, SHOP, 403).await?;
    until_widget_answers(&stack, &public_id, other_site, 201).await?;

    let suspension = pb::UpdateTenantRequest {
        id: tenant.id.clone(),
        status: Some("suspended".to_owned()),
        ..pb::UpdateTenantRequest::default()
    };
    pb::accounts_service_client::AccountsServiceClient::new(channel)
        .update_tenant(as_caller(suspension, &stack.staff_token().await?)?)
        .await?;
    until_widget_answers(&stack, &public_id, other_site, 404).await?;
    stack.stop().await
}

#[tokio::test]
async fn widget_errors_reach_the_page_and_consents_past_the_rate_limit_get_429() -> anyhow::Result<()> {
    let mut config = causerie_testkit::test_config()?;
    config.widget_visitor_rate_limit_per_minute = 6;
    let stack = TestStack::start_with(config).await?;
    let tenant = new_tenant(&stack, "acme").await?;
    put_policy(&stack, &tenant, &policy(json!({}))).await?.error_for_status()?;
    let project = new_project(&stack, &tenant).await?;
    let (cookie_header, _) = widget_visitor(&stack, &project).await?;
    let consent = |origin: &'static str, body: String| {
        widget_consent(&stack, origin, &cookie_header).header("content-type", "application/json").body(body).send()
    };
    let allowed_origin = |response: &reqwest::Response| {
        response.headers().get("access-control-allow-origin").and_then(|value| value.to_str().ok()).map(str::to_owned)
    };

    // The rate limit's window is the clock's minute: every request below lands well inside one.
    let second_of_minute = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() % 60;
    if second_of_minute >= 50 {
        tokio::time::sleep(Duration::from_secs(61 - second_of_minute)).await;
    }
    // An error the page caused is readable by the page, so the widget can tell the visitor why.
    let malformed = consent(SHOP, "{\"purpose\": ".to_owned()).await?;
    assert_eq!(malformed.status(), 400);
    assert_eq!(allowed_origin(&malformed).as_deref(), Some(SHOP));
    let unknown_purpose =
        consent(SHOP, json!({"purpose": "marketing", "granted": true, "text_version": 1}).to_string()).await?;
    assert_eq!(unknown_purpose.status(), 422);
    assert_eq!(allowed_origin(&unknown_purpose).as_deref(), Some(SHOP));
    // ...and never by a site the project does not allow.
    let foreign = consent(
        "https://evil.example",
        json!({"purpose": "chat_history", "granted": true, "text_version": 1}).to_string(),
    )
    .await?;
    assert_eq!((foreign.status().as_u16(), allowed_origin(&foreign)), (403, None));

    // The three calls above counted; three more fit in the visitor's six a minute, the next is
    // refused.
    let grant = json!({"purpose": "chat_history", "granted": true, "text_version": 1}).to_string();
    for _ in 0..3 {
        assert_eq!(consent(SHOP, grant.clone()).await?.status(), 201);
    }
    let limited = consent(SHOP, grant).await?;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().get("retry-after").is_some());
    assert_eq!(allowed_origin(&limited).as_deref(), Some(SHOP));
    assert_eq!(body(limited).await?["code"], "rate_limited");
    stack.stop().await
}

/// Walks a list a page of `limit` at a time; answers each page's items.
async fn pages(stack: &TestStack, token: &str, path: &str, limit: u32) -> anyhow::Result<Vec<Vec<Value>>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{separator}limit={limit}");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page = body(public(stack, Method::GET, &url, token).send().await?.error_for_status()?).await?;
        pages.push(page["items"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(pages),
        }
        anyhow::ensure!(pages.len() < 10, "{path} never ends");
    }
}

#[tokio::test]
async fn projects_versions_consents_api_keys_and_grants_answer_a_page_at_a_time() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    let token = &tenant.admin_token;
    for text in ["first", "second", "third"] {
        put_policy(&stack, &tenant, &policy(json!({"consent_text": format!("May we keep it? ({text})")})))
            .await?
            .error_for_status()?;
    }
    let project = new_project(&stack, &tenant).await?;
    for _ in 0..2 {
        new_project(&stack, &tenant).await?;
    }
    for name in ["crm", "helpdesk", "site"] {
        public(&stack, Method::POST, "/v1/api-keys", token)
            .json(&json!({"name": name, "scopes": ["users:read"]}))
            .send()
            .await?
            .error_for_status()?;
        let expires_at = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
        public(&stack, Method::POST, "/v1/support-grants", token)
            .json(&json!({"scope": "read", "expires_at": expires_at, "reason": format!("ticket about {name}")}))
            .send()
            .await?
            .error_for_status()?;
    }
    let (cookie_header, visitor_id) = widget_visitor(&stack, &project).await?;
    for granted in [true, false, true] {
        let recorded = widget_consent(&stack, SHOP, &cookie_header)
            .json(&json!({"purpose": "chat_history", "granted": granted, "text_version": 3}))
            .send()
            .await?;
        assert_eq!(recorded.status(), 201);
    }

    let sizes = |pages: &[Vec<Value>]| pages.iter().map(Vec::len).collect::<Vec<_>>();
    let projects = pages(&stack, token, "/v1/projects", 2).await?;
    assert_eq!(sizes(&projects), [2, 1]);
    let versions = pages(&stack, token, "/v1/privacy-policy/versions", 2).await?;
    assert_eq!(sizes(&versions), [2, 1]);
    let numbers: Vec<i64> = versions.concat().iter().filter_map(|entry| entry["version"].as_i64()).collect();
    assert_eq!(numbers, [3, 2, 1], "newest first, across pages");
    let keys = pages(&stack, token, "/v1/api-keys", 2).await?;
    assert_eq!(sizes(&keys), [2, 1]);
    let grants = pages(&stack, token, "/v1/support-grants", 2).await?;
    assert_eq!(sizes(&grants), [2, 1]);
    let reasons: Vec<&str> = grants.iter().flatten().filter_map(|grant| grant["reason"].as_str()).collect();
    assert_eq!(reasons, ["ticket about site", "ticket about helpdesk", "ticket about crm"], "newest first");
    let consents = pages(&stack, token, &format!("/v1/consents?visitor_id={visitor_id}"), 2).await?;
    assert_eq!(sizes(&consents), [2, 1]);
    let decisions: Vec<bool> = consents.concat().iter().filter_map(|record| record["granted"].as_bool()).collect();
    assert_eq!(decisions, [true, false, true], "newest first, across pages");

    for path in ["/v1/projects?limit=201", "/v1/api-keys?cursor=nonsense", "/v1/privacy-policy/versions?cursor=x"] {
        let refused = public(&stack, Method::GET, path, token).send().await?;
        assert_eq!(refused.status(), 422, "{path}");
        assert_eq!(body(refused).await?["code"], "invalid_request");
    }
    let refused =
        public(&stack, Method::GET, &format!("/v1/consents?visitor_id={visitor_id}&cursor=1_2"), token).send().await?;
    assert_eq!(refused.status(), 422);
    stack.stop().await
}

#[tokio::test]
async fn decisions_sent_at_once_are_each_recorded_and_answered() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    // Two tenants, so that groups hold records of both and each tenant's part is written apart.
    let mut visitors = Vec::new();
    for slug in ["acme", "globex"] {
        let (tenant, cookie_header, visitor_id) = tenant_with_visitor(&stack, slug).await?;
        visitors.push((tenant, cookie_header, visitor_id));
    }

    // Concurrent decisions are committed in groups; every one is answered with its own record.
    let mut decisions = tokio::task::JoinSet::new();
    for index in 0..48 {
        let (_, cookie_header, _) = &visitors[index % 2];
        let request = widget_consent(&stack, SHOP, cookie_header)
            .json(&json!({"purpose": "chat_history", "granted": index % 4 < 2, "text_version": 1}));
        decisions.spawn(async move {
            let answer = request.send().await?;
            anyhow::ensure!(answer.status() == 201, "a decision answered {}", answer.status());
            let record = answer.json::<Value>().await?;
            Ok((index % 2, (text(&record, "id"), text(&record, "recorded_at"))))
        });
    }
    let mut answered = [std::collections::HashSet::new(), std::collections::HashSet::new()];
    while let Some(decision) = decisions.join_next().await {
        let (visitor, record) = decision??;
        answered[visitor].insert(record);
    }

    for ((tenant, _, visitor_id), answered) in visitors.iter().zip(answered) {
        assert_eq!(answered.len(), 24, "one record each");
        let ledger = body(
            public(
                &stack,
                Method::GET,
                &format!("/v1/consents?visitor_id={visitor_id}&limit=200"),
                &tenant.admin_token,
            )
            .send()
            .await?,
        )
        .await?;
        let recorded: std::collections::HashSet<(String, String)> = ledger["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|record| (text(record, "id"), text(record, "recorded_at")))
            .collect();
        assert_eq!(
            recorded, answered,
            "each tenant's ledger holds exactly the records answered to its visitor, at the time answered"
        );
    }
    stack.stop().await
}

#[tokio::test]
async fn the_consent_ledger_opens_a_new_connection_when_its_own_is_cut() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let (tenant, cookie_header, visitor_id) = tenant_with_visitor(&stack, "acme").await?;
    let decide = || {
        widget_consent(&stack, SHOP, &cookie_header)
            .json(&json!({"purpose": "chat_history", "granted": true, "text_version": 1}))
            .send()
    };
    anyhow::ensure!(decide().await?.status() == 201, "the first decision was not recorded");

    // What a restart of PostgreSQL or a dropped link does to the writer's connection.
    let owner = causerie_db::connect_owner(&stack.config, causerie_runtime::Service::Accounts).await?;
    let cut: Vec<bool> = sqlx::query_scalar(
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and datname = $2",
    )
    .bind(causerie_accounts::CONSENT_LEDGER_APPLICATION_NAME)
    .bind(stack.config.database_name(causerie_runtime::Service::Accounts))
    .fetch_all(&owner)
    .await?;
    assert_eq!(cut, [true], "the writer had one connection, now cut");

    // The decision that meets the cut connection may fail with 503; the writer then opens another.
    let mut answers = Vec::new();
    while answers.len() < 2 && answers.last() != Some(&201) {
        answers.push(decide().await?.status().as_u16());
    }
    assert_eq!(answers.last(), Some(&201), "decisions after the cut answered {answers:?}");
    assert!(answers.iter().all(|status| *status == 201 || *status == 503), "answers {answers:?}");

    let ledger = body(
        public(&stack, Method::GET, &format!("/v1/consents?visitor_id={visitor_id}"), &tenant.admin_token)
            .send()
            .await?,
    )
    .await?;
    let recorded = ledger["items"].as_array().map_or(0, Vec::len);
    assert_eq!(recorded, 2, "the ledger holds the two decisions answered 201, and only them");
    owner.close().await;
    stack.stop().await
}

#[tokio::test]
async fn the_rpcs_of_callers_without_a_token_answer_only_a_service_token() -> anyhow::Result<()> {
    use causerie_proto::accounts::v1 as pb;
    let stack = TestStack::shared()?;
    let tenant = new_tenant(&stack, "acme").await?;
    let project = new_project(&stack, &tenant).await?;
    let public_id = text(&project, "public_id");
    let channel =
        tonic::transport::Endpoint::from_shared(stack.config.service_url(causerie_runtime::Service::Accounts))?
            .connect()
            .await?;
    let mut accounts = pb::accounts_service_client::AccountsServiceClient::new(channel.clone());
    let mut privacy = pb::privacy_service_client::PrivacyServiceClient::new(channel);
    let resolve = || pb::ResolveWidgetProjectRequest { public_id: public_id.clone() };
    let code =
        |answer: Result<tonic::Response<pb::WidgetProject>, tonic::Status>| answer.err().map(|status| status.code());

    // Anything else on the network: no token, or a tenant's token.
    assert_eq!(code(privacy.resolve_widget_project(resolve()).await), Some(tonic::Code::Unauthenticated));
    let as_tenant = privacy.resolve_widget_project(as_caller(resolve(), &tenant.admin_token)?).await;
    assert_eq!(code(as_tenant), Some(tonic::Code::Unauthenticated), "a tenant's token is not a service's");
    let login = pb::LoginRequest {
        tenant: tenant.slug.clone(),
        email: tenant.admin_email.clone(),
        password: ADMIN_PASSWORD.to_owned(),
    };
    let signed_in = accounts.login(login).await.map(|_| ()).map_err(|status| status.code());
    assert_eq!(
        signed_in,
        Err(tonic::Code::Unauthenticated),
        "sign-in, even with the password, is for the gateway only"
    );
    // Were they open, these would answer 422 (the tenant has no policy yet) and an empty list.
    let visitor_id = "0193c4de-0000-7000-8000-000000000001".to_owned();
    let decision = pb::RecordConsentRequest {
        public_id: public_id.clone(),
        visitor_id: visitor_id.clone(),
        purpose: "chat_history".to_owned(),
        granted: true,
        text_version: 1,
        source: "widget".to_owned(),
        client_address: None,
    };
    let recorded = privacy.record_visitor_consent(decision).await.map(|_| ()).map_err(|status| status.code());
    assert_eq!(recorded, Err(tonic::Code::Unauthenticated));
    let listed = privacy
        .list_visitor_consents(pb::ListVisitorConsentsRequest { public_id: public_id.clone(), visitor_id })
        .await
        .map(|_| ())
        .map_err(|status| status.code());
    assert_eq!(listed, Err(tonic::Code::Unauthenticated));

    // A token is given for the services' secret only, and to services of the platform only.
    let ask = |service: &str, secret: &str| pb::IssueServiceTokenRequest {
        service: service.to_owned(),
        secret: secret.to_owned(),
    };
    let service_secret = stack.config.service_secret()?;
    for (service, secret) in [("gateway", "a guess"), ("intruder", service_secret)] {
        let refused =
            accounts.issue_service_token(ask(service, secret)).await.map(|_| ()).map_err(|status| status.code());
        assert_eq!(refused, Err(tonic::Code::Unauthenticated), "{service} with {secret:?}");
    }
    let issued = accounts.issue_service_token(ask("gateway", service_secret)).await?.into_inner();
    assert!(issued.expires_in > 0 && issued.refresh_token.is_empty());
    let resolved = privacy.resolve_widget_project(as_caller(resolve(), &issued.access_token)?).await?.into_inner();
    assert_eq!(resolved.tenant_id, tenant.id);

    // The gateway shows its own: the widget answers.
    let session = widget_session(&stack, &public_id, None).await?;
    assert_eq!(session.status(), 201);
    stack.stop().await
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_address_is_recorded_truncated() -> anyhow::Result<()> {
    let mut config = causerie_testkit::test_config()?;
    // Every test's client has an address of its own in 127.0.0.0/8: all of them are the proxy.
    config.trusted_proxies = vec!["127.0.0.0/8".parse()?];
    let stack = TestStack::start_with(config).await?;
    let (tenant, cookie_header, visitor_id) = tenant_with_visitor(&stack, "acme").await?;
    let recorded = widget_consent(&stack, SHOP, &cookie_header)
        // What the client wrote, then what the (trusted, local) proxy saw.
        .header("x-forwarded-for", "6.6.6.6, 203.0.113.7")
        .json(&json!({"purpose": "chat_history", "granted": true, "text_version": 1}))
        .send()
        .await?;
    assert_eq!(recorded.status(), 201);
    let ledger = body(
        public(&stack, Method::GET, &format!("/v1/consents?visitor_id={visitor_id}"), &tenant.admin_token)
            .send()
            .await?,
    )
    .await?;
    assert_eq!(ledger["items"][0]["client_network"], "203.0.113.0/24");
    stack.stop().await
}
