//! Bad input gets the problem+json answers of API.md, never a 500, and each listener accepts
//! only its own kind of token.

use causerie_e2e::TestStack;
use reqwest::Response;
use serde_json::{Value, json};

async fn problem(response: Response) -> anyhow::Result<(u16, Value)> {
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(content_type, "application/problem+json", "status {status}");
    let body: Value = response.json().await?;
    assert_eq!(body["status"], status);
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string());
    Ok((status, body))
}

fn tenant_body(slug: &str) -> Value {
    json!({
        "name": "Beta", "slug": slug,
        "admin": {"email": "bea@beta.example", "first_name": "Bea", "last_name": "Ta", "password": "beta admin passphrase"}
    })
}

async fn tenant_admin_token(stack: &TestStack, staff_token: &str, slug: &str) -> anyhow::Result<String> {
    stack
        .http
        .post(format!("{}/admin/v1/tenants", stack.admin_url))
        .bearer_auth(staff_token)
        .json(&tenant_body(slug))
        .send()
        .await?
        .error_for_status()?;
    let login: Value = stack
        .http
        .post(format!("{}/v1/auth/login", stack.public_url))
        .json(&json!({"tenant": slug, "email": "bea@beta.example", "password": "beta admin passphrase"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(login["access_token"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn bad_requests_get_problem_json() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let staff = stack.staff_token().await?;
    let tenants = format!("{}/admin/v1/tenants", stack.admin_url);

    let malformed = stack
        .http
        .post(&tenants)
        .bearer_auth(&staff)
        .header("content-type", "application/json")
        .body("{\"name\":")
        .send()
        .await?;
    let (status, body) = problem(malformed).await?;
    assert_eq!((status, body["code"].as_str()), (400, Some("invalid_request")));

    let missing = stack.http.post(&tenants).bearer_auth(&staff).json(&json!({"name": "No slug"})).send().await?;
    let (status, body) = problem(missing).await?;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_request")));
    assert!(body["detail"].as_str().unwrap_or_default().contains("slug"));

    let mut invalid = tenant_body("Not A Slug");
    invalid["admin"]["email"] = json!("not-an-address");
    invalid["admin"]["password"] = json!("short");
    let (status, body) = problem(stack.http.post(&tenants).bearer_auth(&staff).json(&invalid).send().await?).await?;
    assert_eq!(status, 422);
    let fields: Vec<&str> =
        body["errors"].as_array().into_iter().flatten().filter_map(|error| error["field"].as_str()).collect();
    assert_eq!(fields, ["slug", "admin.email", "admin.password"]);

    let oversized = json!({"name": "x".repeat(128 * 1024), "slug": "big"});
    let (status, body) = problem(stack.http.post(&tenants).bearer_auth(&staff).json(&oversized).send().await?).await?;
    assert_eq!((status, body["code"].as_str()), (413, Some("payload_too_large")));

    let (status, _) =
        problem(stack.http.get(format!("{tenants}/not-a-uuid")).bearer_auth(&staff).send().await?).await?;
    assert_eq!(status, 404);
    let (status, _) =
        problem(stack.http.get(format!("{tenants}/{}", uuid::Uuid::now_v7())).bearer_auth(&staff).send().await?)
            .await?;
    assert_eq!(status, 404);
    let (status, body) =
        problem(stack.http.get(format!("{tenants}?limit=500")).bearer_auth(&staff).send().await?).await?;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_request")));
    stack.stop().await
}

#[tokio::test]
async fn a_taken_slug_is_a_conflict_and_writes_nothing() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let staff = stack.staff_token().await?;
    let tenants = format!("{}/admin/v1/tenants", stack.admin_url);
    let slug = format!("beta-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    assert_eq!(stack.http.post(&tenants).bearer_auth(&staff).json(&tenant_body(&slug)).send().await?.status(), 201);
    let mut again = tenant_body(&slug);
    again["admin"]["email"] = json!("other@beta.example");
    let (status, body) = problem(stack.http.post(&tenants).bearer_auth(&staff).json(&again).send().await?).await?;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")));
    // Nothing of the refused request was written: its admin does not exist.
    let login = format!("{}/v1/auth/login", stack.public_url);
    let refused_admin = json!({"tenant": slug, "email": "other@beta.example", "password": "beta admin passphrase"});
    assert_eq!(stack.http.post(&login).json(&refused_admin).send().await?.status(), 401);
    let first_admin = json!({"tenant": slug, "email": "bea@beta.example", "password": "beta admin passphrase"});
    assert_eq!(stack.http.post(&login).json(&first_admin).send().await?.status(), 200);
    stack.stop().await
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let staff = stack.staff_token().await?;
    tenant_admin_token(&stack, &staff, "gamma").await?;
    let login = format!("{}/v1/auth/login", stack.public_url);
    let attempts = [
        json!({"tenant": "gamma", "email": "bea@beta.example", "password": "not the passphrase"}),
        json!({"tenant": "gamma", "email": "nobody@beta.example", "password": "not the passphrase"}),
        json!({"tenant": "no-such-tenant", "email": "bea@beta.example", "password": "beta admin passphrase"}),
    ];
    let mut answers = Vec::new();
    for attempt in attempts {
        let (status, body) = problem(stack.http.post(&login).json(&attempt).send().await?).await?;
        answers.push((status, body.to_string()));
    }
    assert_eq!(answers[0].0, 401);
    assert!(answers.iter().all(|answer| *answer == answers[0]), "{answers:?}");
    let staff_login = format!("{}/admin/v1/auth/login", stack.admin_url);
    let (status, _) = problem(
        stack
            .http
            .post(&staff_login)
            .json(&json!({"email": "staff@causerie.test", "password": "wrong one here"}))
            .send()
            .await?,
    )
    .await?;
    assert_eq!(status, 401);
    stack.stop().await
}

#[tokio::test]
async fn each_listener_accepts_only_its_own_tokens() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let staff = stack.staff_token().await?;
    let user = tenant_admin_token(&stack, &staff, "delta").await?;

    let (status, body) =
        problem(stack.http.get(format!("{}/v1/me", stack.public_url)).bearer_auth(&staff).send().await?).await?;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthenticated")));
    let (status, _) =
        problem(stack.http.get(format!("{}/admin/v1/tenants", stack.admin_url)).bearer_auth(&user).send().await?)
            .await?;
    assert_eq!(status, 401);
    let (status, _) = problem(stack.http.get(format!("{}/v1/me", stack.public_url)).send().await?).await?;
    assert_eq!(status, 401);
    let (status, _) =
        problem(stack.http.get(format!("{}/v1/me", stack.public_url)).bearer_auth("garbage").send().await?).await?;
    assert_eq!(status, 401);
    // The admin API is not served on the public listener at all.
    let (status, _) =
        problem(stack.http.get(format!("{}/admin/v1/tenants", stack.public_url)).bearer_auth(&staff).send().await?)
            .await?;
    assert_eq!(status, 404);
    stack.stop().await
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi_are_served() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    for base in [&stack.public_url, &stack.admin_url] {
        assert_eq!(stack.http.get(format!("{base}/healthz")).send().await?.status(), 200);
        assert_eq!(stack.http.get(format!("{base}/readyz")).send().await?.status(), 200);
    }
    let metrics = stack.http.get(format!("{}/metrics", stack.admin_url)).send().await?.text().await?;
    assert!(metrics.contains("causerie_request_seconds_count"), "{metrics}");
    assert_eq!(stack.http.get(format!("{}/metrics", stack.public_url)).send().await?.status(), 404);
    let jwks = stack.http.get(format!("{}/.well-known/jwks.json", stack.public_url)).send().await?;
    assert_eq!(jwks.headers().get("content-type").and_then(|value| value.to_str().ok()), Some("application/json"));
    let jwks: Value = jwks.json().await?;
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert!(key["kid"].is_string() && key["x"].is_string());
    assert!(key.get("d").is_none(), "the private half must never be published");
    let openapi: Value = stack.http.get(format!("{}/v1/openapi.json", stack.public_url)).send().await?.json().await?;
    for path in [
        "/v1/auth/login",
        "/v1/auth/session",
        "/v1/me",
        "/admin/v1/tenants",
        "/admin/v1/tenants/{id}",
        "/admin/v1/auth/login",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    stack.stop().await
}

#[tokio::test]
async fn a_caller_over_its_rate_limit_gets_429_with_retry_after() -> anyhow::Result<()> {
    let mut config = causerie_testkit::test_config()?;
    config.rate_limit_per_minute = 3;
    let stack = TestStack::start_with(config).await?;
    let staff = stack.staff_token().await?;
    let user = tenant_admin_token(&stack, &staff, "epsilon").await?;
    let session = format!("{}/v1/auth/session", stack.public_url);
    // The window is the clock's minute: every request below must land inside one.
    let second_of_minute = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() % 60;
    if second_of_minute >= 50 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - second_of_minute)).await;
    }
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(stack.http.get(&session).bearer_auth(&user).send().await?.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let limited = stack.http.get(&session).bearer_auth(&user).send().await?;
    let retry_after: u64 =
        limited.headers().get("retry-after").and_then(|value| value.to_str().ok()).unwrap_or_default().parse()?;
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let (status, body) = problem(limited).await?;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")));
    stack.stop().await
}

#[tokio::test]
async fn staff_move_every_services_clock_in_test_mode() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let staff = stack.staff_token().await?;
    let clock = format!("{}/admin/v1/test-clock", stack.admin_url);
    let (status, body) =
        problem(stack.http.post(&clock).bearer_auth(&staff).json(&json!({"advance_days": 0})).send().await?).await?;
    assert_eq!((status, body["code"].as_str()), (422, Some("invalid_request")));
    let (status, _) = problem(stack.http.post(&clock).json(&json!({"advance_days": 10})).send().await?).await?;
    assert_eq!(status, 401);

    let moved: Value = stack
        .http
        .post(&clock)
        .bearer_auth(&staff)
        .json(&json!({"advance_days": 10}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let now = chrono::DateTime::parse_from_rfc3339(moved["now"].as_str().unwrap_or_default())?;
    let expected = chrono::Utc::now() + chrono::Duration::days(10);
    assert!((now.with_timezone(&chrono::Utc) - expected).num_seconds().abs() < 60, "{now} is not ten days ahead");
    // The staff token was issued before the move and lives 15 minutes. Retention, another service
    // with a clock of its own, must now find it expired: its clock moved through Redis too.
    let mut retention = causerie_proto::retention::v1::retention_service_client::RetentionServiceClient::connect(
        stack.config.service_url(causerie_runtime::Service::Retention),
    )
    .await?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let mut request = tonic::Request::new(causerie_proto::retention::v1::GetTrackedTenantRequest {
            tenant_id: uuid::Uuid::now_v7().to_string(),
        });
        request.metadata_mut().insert("authorization", format!("Bearer {staff}").parse()?);
        let code = retention.get_tracked_tenant(request).await.err().map(|status| status.code());
        if code == Some(tonic::Code::Unauthenticated) {
            break;
        }
        assert_eq!(code, Some(tonic::Code::NotFound), "before the move reaches retention, the token still verifies");
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "retention's clock never moved");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (status, _) =
        problem(stack.http.get(format!("{}/admin/v1/tenants", stack.admin_url)).bearer_auth(&staff).send().await?)
            .await?;
    assert_eq!(status, 401);
    stack.stop().await
}

#[tokio::test]
async fn the_test_clock_does_not_exist_outside_test_mode() -> anyhow::Result<()> {
    let mut config = causerie_testkit::test_config()?;
    config.test_mode = false;
    let stack = TestStack::start_with(config).await?;
    let staff = stack.staff_token().await?;
    let moved = stack
        .http
        .post(format!("{}/admin/v1/test-clock", stack.admin_url))
        .bearer_auth(&staff)
        .json(&json!({"advance_days": 10}))
        .send()
        .await?;
    let (status, body) = problem(moved).await?;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    stack.stop().await
}

/// The operations reached without a bearer token: whoever has no token yet (sign-in, refresh,
/// logout, password reset, the mailed e-mail link), the key set, the document itself, and the
/// widget, whose visitors are known by cookies only. Every other operation answers 401.
const PUBLIC_OPERATIONS: &[(&str, &str)] = &[
    ("post", "/v1/auth/login"),
    ("post", "/v1/auth/refresh"),
    ("post", "/v1/auth/logout"),
    ("post", "/v1/auth/password-reset"),
    ("post", "/v1/auth/password-reset/confirm"),
    ("post", "/v1/me/email-confirmation"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/v1/openapi.json"),
    ("post", "/widget/v1/projects/{public_id}/sessions"),
    ("get", "/widget/v1/privacy"),
    ("post", "/widget/v1/consents"),
    ("get", "/widget/v1/consents"),
    ("post", "/widget/v1/messages"),
    ("get", "/widget/v1/notifications"),
    ("post", "/widget/v1/notifications/{id}/seen"),
    ("get", "/widget/v1/entries/{id}/audio"),
    ("post", "/admin/v1/auth/login"),
];

#[tokio::test]
async fn every_documented_operation_but_the_public_ones_answers_401_without_credentials() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let document: Value = stack
        .http
        .get(format!("{}/v1/openapi.json", stack.public_url))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let paths = document["paths"].as_object().cloned().unwrap_or_default();
    assert!(paths.len() > 30, "the document lists the API: {} paths", paths.len());
    let mut checked = 0;
    for (path, operations) in &paths {
        let base = if path.starts_with("/admin/") { &stack.admin_url } else { &stack.public_url };
        let url = format!("{base}{}", fill_path_parameters(path));
        for method in
            operations.as_object().map(|operations| operations.keys().cloned().collect()).unwrap_or_else(Vec::new)
        {
            let Ok(http_method) = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()) else { continue };
            let mut request = stack.http.request(http_method, &url);
            if matches!(method.as_str(), "post" | "put" | "patch") {
                request = request.json(&json!({}));
            }
            let status = request.send().await?.status().as_u16();
            let public = PUBLIC_OPERATIONS.contains(&(method.as_str(), path.as_str()));
            if public {
                // Answered on its merits: a bad body, or no widget session cookie, is the
                // public route's own 4xx.
                assert!(status < 500, "{method} {path} answered {status}");
            } else {
                assert_eq!(status, 401, "{method} {path} answered {status} without credentials");
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked} operations checked");
    stack.stop().await
}

/// A documented path with each `{parameter}` replaced by an id that names nothing.
fn fill_path_parameters(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                "01934b3e-7c5e-7000-8000-000000000000"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn behind_a_trusted_proxy_plain_http_is_redirected_or_refused_and_answers_carry_hsts() -> anyhow::Result<()> {
    let mut config = causerie_testkit::test_config()?;
    config.trusted_proxies = vec!["127.0.0.1/32".parse()?];
    let stack = TestStack::start_with(config).await?;
    // A browser would follow the redirect; here it is looked at.
    let client = causerie_runtime::tls::http_client().redirect(reqwest::redirect::Policy::none()).build()?;
    let over = |scheme: &'static str, method: reqwest::Method, path: &str| {
        client
            .request(method, format!("{}{path}", stack.public_url))
            .header("x-forwarded-proto", scheme)
            .header("x-forwarded-host", "api.causerie.example")
    };

    let read = over("http", reqwest::Method::GET, "/v1/openapi.json?x=1").send().await?;
    assert_eq!(read.status(), 308);
    assert_eq!(
        read.headers().get("location").and_then(|value| value.to_str().ok()),
        Some("https://api.causerie.example/v1/openapi.json?x=1")
    );
    let write = over("http", reqwest::Method::POST, "/v1/auth/login")
        .json(&json!({"tenant": "acme", "email": "a@acme.example", "password": "sent in clear"}))
        .send()
        .await?;
    let (status, body) = problem(write).await?;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));

    let secure = over("https", reqwest::Method::GET, "/v1/openapi.json").send().await?;
    assert_eq!(secure.status(), 200);
    let header = |name: &str| secure.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    assert!(header("strict-transport-security").is_some_and(|hsts| hsts.contains("max-age=63072000")));
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"));
    assert!(header("content-security-policy").is_some_and(|csp| csp.contains("frame-ancestors 'none'")));
    stack.stop().await
}

#[tokio::test]
async fn without_a_trusted_proxy_the_local_mode_serves_plain_http() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    // No proxy is trusted: what a client says of its scheme is ignored.
    let served = stack
        .http
        .get(format!("{}/v1/openapi.json", stack.public_url))
        .header("x-forwarded-proto", "http")
        .send()
        .await?;
    assert_eq!(served.status(), 200);
    stack.stop().await
}
