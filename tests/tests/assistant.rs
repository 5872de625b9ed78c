//! The assistant over HTTP, as tenants and visitors use it: a knowledge base written, searched,
//! imported and exported through the gateway, its roles and scopes, and a visitor's question
//! answered from the widget.

mod common;

use causerie_e2e::TestStack;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

const SHOP: &str = "https://shop.example";

async fn new_project(stack: &TestStack, tenant: &Tenant) -> anyhow::Result<Value> {
    let created = public(stack, Method::POST, "/v1/projects", &tenant.admin_token)
        .json(&json!({"name": "Shop assistant", "allowed_origins": [SHOP], "languages": ["fr", "en"]}))
        .send()
        .await?;
    anyhow::ensure!(created.status() == 201, "creating a project answered {}", created.status());
    body(created).await
}

fn entries_path(project: &Value) -> String {
    format!("/v1/projects/{}/knowledge-base/entries", text(project, "id"))
}

fn kb_path(project: &Value, rest: &str) -> String {
    format!("/v1/projects/{}/knowledge-base/{rest}", text(project, "id"))
}

async fn create_entry(stack: &TestStack, token: &str, project: &Value, entry: Value) -> anyhow::Result<Value> {
    let created = public(stack, Method::POST, &entries_path(project), token).json(&entry).send().await?;
    anyhow::ensure!(created.status() == 201, "creating an entry answered {}", created.status());
    body(created).await
}

/// A widget session on `project` from the shop's page, started with `session` (`page_url`,
/// `language`): its `cz_vid` and `cz_sid` as a `Cookie` header.
async fn widget_session(stack: &TestStack, project: &Value, session: Value) -> anyhow::Result<String> {
    let started = stack
        .http
        .post(format!("{}/widget/v1/projects/{}/sessions", stack.public_url, text(project, "public_id")))
        .header("origin", SHOP)
        .json(&session)
        .send()
        .await?;
    anyhow::ensure!(started.status() == 201, "starting a session answered {}", started.status());
    Ok(cookies_of(&started, &["cz_vid", "cz_sid"]))
}

/// The assistant's reply to `words` in the session of `cookie`, from the shop's page.
async fn widget_reply(stack: &TestStack, cookie: &str, words: &str) -> anyhow::Result<Value> {
    let asked = stack
        .http
        .post(format!("{}/widget/v1/messages", stack.public_url))
        .header("origin", SHOP)
        .header("cookie", cookie)
        .json(&json!({"text": words}))
        .send()
        .await?;
    anyhow::ensure!(asked.status() == 200, "a message answered {}", asked.status());
    Ok(body(asked).await?["reply"].clone())
}

#[tokio::test]
async fn a_knowledge_base_is_kept_by_contributors_read_by_operators_and_hidden_from_other_tenants() -> anyhow::Result<()>
{
    let stack = TestStack::shared()?;
    let acme = new_tenant(&stack, "acme").await?;
    let project = new_project(&stack, &acme).await?;
    let token = acme.admin_token.as_str();

    let delivery = create_entry(
        &stack,
        token,
        &project,
        json!({"question": "Quel est le délai de livraison ?", "variants": ["Quand vais-je être livré ?"],
               "answer": "Deux à trois jours ouvrés.", "language": "fr", "tags": ["Livraison"]}),
    )
    .await?;
    assert_eq!(delivery["tags"], json!(["livraison"]));
    assert_eq!(delivery["project_id"], project["id"]);
    let entry_path = format!("{}/{}", entries_path(&project), text(&delivery, "id"));

    let found = body(
        public(&stack, Method::POST, &kb_path(&project, "search"), token)
            .json(&json!({"text": "en combien de temps je suis livre"}))
            .send()
            .await?
            .error_for_status()?,
    )
    .await?;
    assert_eq!(found["matches"][0]["entry_id"], delivery["id"]);

    let replaced = public(&stack, Method::PUT, &entry_path, token)
        .json(&json!({"question": "Quel est le délai de livraison ?", "answer": "24 heures.", "language": "fr"}))
        .send()
        .await?;
    assert_eq!(replaced.status(), 200);
    assert_eq!(body(replaced).await?["answer"], "24 heures.");
    let variant = public(&stack, Method::POST, &format!("{entry_path}/variants"), token)
        .json(&json!({"text": "sous combien de jours le colis arrive"}))
        .send()
        .await?;
    assert_eq!(variant.status(), 201);
    assert_eq!(body(variant).await?["variants"], json!(["sous combien de jours le colis arrive"]));

    // Bad input: 422 naming the field; unknown fields and ids refused.
    let missing = public(&stack, Method::POST, &entries_path(&project), token)
        .json(&json!({"question": "Hours?", "answer": "9 to 5", "language": "de"}))
        .send()
        .await?;
    assert_eq!(missing.status(), 422);
    assert!(body(missing).await?["detail"].as_str().unwrap_or_default().contains("language"));
    let unknown = public(&stack, Method::GET, &format!("{}/{}", entries_path(&project), uuid::Uuid::now_v7()), token);
    assert_eq!(unknown.send().await?.status(), 404);
    let not_an_id = public(&stack, Method::GET, &format!("{}/42", entries_path(&project)), token);
    assert_eq!(not_an_id.send().await?.status(), 404);

    // An operator reads but does not write.
    new_operator(&stack, &acme, &acme.email("olga"), json!({})).await?;
    let operator = tokens(&stack, &acme.slug, &acme.email("olga"), OPERATOR_PASSWORD).await?;
    let operator_token = text(&operator, "access_token");
    assert_eq!(public(&stack, Method::GET, &entry_path, &operator_token).send().await?.status(), 200);
    let refused = public(&stack, Method::DELETE, &entry_path, &operator_token).send().await?;
    assert_eq!(refused.status(), 403);
    assert_eq!(body(refused).await?["code"], "forbidden");

    // An API key does what its scopes say.
    let key = |scopes: Value| {
        public(&stack, Method::POST, "/v1/api-keys", token).json(&json!({"name": "crm", "scopes": scopes})).send()
    };
    let reader = text(&body(key(json!(["knowledge_base:read"])).await?.error_for_status()?).await?, "key");
    let writer = text(&body(key(json!(["knowledge_base:write"])).await?.error_for_status()?).await?, "key");
    assert_eq!(public(&stack, Method::GET, &entries_path(&project), &reader).send().await?.status(), 200);
    let entry = json!({"question": "Opening hours?", "answer": "9 to 5.", "language": "en"});
    let by_reader = public(&stack, Method::POST, &entries_path(&project), &reader).json(&entry).send().await?;
    assert_eq!(by_reader.status(), 403);
    let by_writer = public(&stack, Method::POST, &entries_path(&project), &writer).json(&entry).send().await?;
    assert_eq!(by_writer.status(), 201);

    // Another tenant sees none of it, by any route.
    let globex = new_tenant(&stack, "globex").await?;
    for (method, path) in [
        (Method::GET, entries_path(&project)),
        (Method::GET, entry_path.clone()),
        (Method::DELETE, entry_path.clone()),
        (Method::GET, kb_path(&project, "export")),
    ] {
        let answer = public(&stack, method.clone(), &path, &globex.admin_token).send().await?;
        assert_eq!(answer.status(), 404, "{method} {path}");
    }
    let search = public(&stack, Method::POST, &kb_path(&project, "search"), &globex.admin_token)
        .json(&json!({"text": "livraison"}))
        .send()
        .await?;
    assert_eq!(search.status(), 404);

    assert_eq!(public(&stack, Method::DELETE, &entry_path, token).send().await?.status(), 204);
    assert_eq!(public(&stack, Method::GET, &entry_path, token).send().await?.status(), 404);
    Ok(())
}

#[tokio::test]
async fn an_export_imports_back_and_a_bad_row_imports_nothing() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let acme = new_tenant(&stack, "acme").await?;
    let token = acme.admin_token.as_str();
    let first = new_project(&stack, &acme).await?;

    let imported = public(&stack, Method::POST, &kb_path(&first, "import"), token)
        .json(&json!([
            {"question": "How long does delivery take?", "variants": ["delivery time", "when will it arrive"],
             "answer": "Two days, \"express\": one.", "language": "en", "tags": ["delivery", "shipping"]},
            {"question": "Puis-je payer en trois fois ?", "answer": "Oui, dès 100 €,\nsans frais.", "language": "fr"}
        ]))
        .send()
        .await?;
    assert_eq!(imported.status(), 200);
    assert_eq!(body(imported).await?["created"], 2);

    let csv = public(&stack, Method::GET, &format!("{}?format=csv", kb_path(&first, "export")), token).send().await?;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"].to_str()?.starts_with("text/csv"));
    let csv = csv.text().await?;
    assert!(csv.starts_with("question,variants,answer,language,tags\n"), "{csv}");

    // The CSV export is an import: a second project gets the same entries.
    let second = new_project(&stack, &acme).await?;
    let reimported = public(&stack, Method::POST, &kb_path(&second, "import"), token)
        .header("content-type", "text/csv")
        .body(csv.clone())
        .send()
        .await?;
    assert_eq!(reimported.status(), 200);
    let export = |project: &Value| public(&stack, Method::GET, &kb_path(project, "export"), token).send();
    let strip = |entries: Value| -> Vec<Value> {
        entries
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|entry| {
                json!([entry["question"], entry["variants"], entry["answer"], entry["language"], entry["tags"]])
            })
            .collect()
    };
    let mut before = strip(body(export(&first).await?).await?);
    let mut after = strip(body(export(&second).await?).await?);
    before.sort_by_key(ToString::to_string);
    after.sort_by_key(ToString::to_string);
    assert_eq!(before, after);
    assert_eq!(before.len(), 2);

    // One bad row: 422 naming it, and nothing of the file is written.
    let bad = "question,variants,answer,language,tags\nOpening hours?,,9 to 5.,en,\nClosed on Sunday?,,Yes.,klingon,\n";
    let refused = public(&stack, Method::POST, &kb_path(&second, "import"), token)
        .header("content-type", "text/csv")
        .body(bad)
        .send()
        .await?;
    assert_eq!(refused.status(), 422);
    let problem = body(refused).await?;
    assert_eq!(problem["code"], "invalid_request");
    assert!(problem["detail"].as_str().unwrap_or_default().contains("entries[1].language"), "{problem}");
    assert_eq!(strip(body(export(&second).await?).await?).len(), 2);
    let wrong_header = public(&stack, Method::POST, &kb_path(&second, "import"), token)
        .header("content-type", "text/csv")
        .body("q,a\nx,y\n")
        .send()
        .await?;
    assert_eq!(wrong_header.status(), 422);
    let bad_format = public(&stack, Method::GET, &format!("{}?format=xml", kb_path(&first, "export")), token);
    assert_eq!(bad_format.send().await?.status(), 422);
    Ok(())
}

#[tokio::test]
async fn a_visitor_gets_the_answer_or_a_fallback_with_suggestions() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let acme = new_tenant(&stack, "acme").await?;
    let project = new_project(&stack, &acme).await?;
    let token = acme.admin_token.as_str();
    let delivery = create_entry(
        &stack,
        token,
        &project,
        json!({"question": "How long does delivery take?", "answer": "Two to three working days.", "language": "en"}),
    )
    .await?;
    create_entry(
        &stack,
        token,
        &project,
        json!({"question": "How do I return a product?", "answer": "Within 30 days.", "language": "en"}),
    )
    .await?;

    let cookie =
        widget_session(&stack, &project, json!({"page_url": "https://shop.example/", "language": "en"})).await?;
    let ask = |text: &str, origin: &str, cookie: &str| {
        stack
            .http
            .post(format!("{}/widget/v1/messages", stack.public_url))
            .header("origin", origin)
            .header("cookie", cookie)
            .json(&json!({"text": text}))
            .send()
    };

    let answered = ask("how long will the delivery take?", SHOP, &cookie).await?;
    assert_eq!(answered.status(), 200);
    let reply = &body(answered).await?["reply"];
    assert_eq!(reply["kind"], "answer");
    assert_eq!(reply["entry_id"], delivery["id"]);
    assert_eq!(reply["text"], "Two to three working days.");
    assert!(reply["confidence"].as_f64().is_some_and(|confidence| confidence > 0.0 && confidence <= 1.0));

    let unsure = ask("product delivery", SHOP, &cookie).await?;
    let reply = &body(unsure).await?["reply"];
    assert_eq!(reply["kind"], "fallback", "{reply}");
    assert!(reply["suggestions"].as_array().is_some_and(|suggestions| !suggestions.is_empty()), "{reply}");

    assert_eq!(ask("   ", SHOP, &cookie).await?.status(), 422);
    assert_eq!(ask("delivery", "https://evil.example", &cookie).await?.status(), 403);
    assert_eq!(ask("delivery", SHOP, "").await?.status(), 401);
    Ok(())
}

#[tokio::test]
async fn support_reads_a_knowledge_base_only_under_the_tenants_grant_and_each_read_is_audited() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let acme = new_tenant(&stack, "acme").await?;
    let project = new_project(&stack, &acme).await?;
    let entry = create_entry(
        &stack,
        &acme.admin_token,
        &project,
        json!({"question": "Opening hours?", "answer": "9 to 5.", "language": "en"}),
    )
    .await?;
    let staff_token = stack.staff_token().await?;
    let url = format!(
        "{}/admin/v1/tenants/{}/projects/{}/knowledge-base/entries",
        stack.admin_url,
        acme.id,
        text(&project, "id")
    );

    let refused = stack.http.get(&url).bearer_auth(&staff_token).send().await?;
    assert_eq!(refused.status(), 404, "no grant, no content");
    let expires_at = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let granted = public(&stack, Method::POST, "/v1/support-grants", &acme.admin_token)
        .json(&json!({"scope": "read", "expires_at": expires_at, "reason": "the bot answers oddly"}))
        .send()
        .await?;
    assert_eq!(granted.status(), 201);

    let read = stack.http.get(&url).bearer_auth(&staff_token).send().await?;
    assert_eq!(read.status(), 200);
    let read = body(read).await?;
    assert_eq!(read["items"][0]["id"], entry["id"]);
    let audit = body(
        public(&stack, Method::GET, "/v1/audit-log?action=knowledge_base_entry.read", &acme.admin_token).send().await?,
    )
    .await?;
    let audited = audit["items"].as_array().cloned().unwrap_or_default();
    assert!(
        audited.iter().any(|row| row["actor_kind"] == "staff" && row["subject_id"] == entry["id"]),
        "support's read is in the tenant's audit log: {audit}"
    );
    // A tenant user's token does not open the admin route.
    let as_tenant = stack.http.get(&url).bearer_auth(&acme.admin_token).send().await?;
    assert_eq!(as_tenant.status(), 401);
    Ok(())
}

/// The `name=value` pairs of a response's cookies named in `names`, as a `Cookie` header.
fn cookies_of(response: &reqwest::Response, names: &[&str]) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .filter(|pair| names.iter().any(|name| pair.starts_with(&format!("{name}="))))
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn a_visitor_sees_each_due_notification_once_and_cz_notif_remembers_it_for_a_month() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let acme = new_tenant(&stack, "acme").await?;
    let project = new_project(&stack, &acme).await?;
    let token = acme.admin_token.as_str();
    let notifications = format!("/v1/projects/{}/notifications", text(&project, "id"));
    let create = async |text: &str, url_pattern: &str, delay_seconds: u32| {
        let created = public(&stack, Method::POST, &notifications, token)
            .json(&json!({"text": text, "url_pattern": url_pattern, "delay_seconds": delay_seconds}))
            .send()
            .await?;
        anyhow::ensure!(created.status() == 201, "creating a notification answered {}", created.status());
        body(created).await
    };
    let welcome = create("Welcome to the shop", "https://shop.example/*", 0).await?;
    let checkout = create("Need help paying?", "*/checkout*", 0).await?;
    create("Still there after a day?", "*", 86_400).await?;
    let bad = public(&stack, Method::POST, &notifications, token)
        .json(&json!({"text": "Hi", "url_pattern": "", "delay_seconds": 0}))
        .send()
        .await?;
    assert_eq!(bad.status(), 422);
    assert_eq!(body(bad).await?["errors"][0]["field"], "url_pattern");
    let globex = new_tenant(&stack, "globex").await?;
    let foreign = format!("{notifications}/{}", text(&welcome, "id"));
    assert_eq!(public(&stack, Method::GET, &foreign, &globex.admin_token).send().await?.status(), 404);

    let session = widget_session(&stack, &project, json!({"page_url": "https://shop.example/checkout"})).await?;
    let due = async |cookie: &str| {
        let listed = stack
            .http
            .get(format!(
                "{}/widget/v1/notifications?page_url=https%3A%2F%2Fshop.example%2Fcheckout%2Fpay",
                stack.public_url
            ))
            .header("origin", SHOP)
            .header("cookie", cookie)
            .send()
            .await?;
        anyhow::ensure!(listed.status() == 200, "listing notifications answered {}", listed.status());
        let listed = body(listed).await?;
        anyhow::Ok(listed["items"].as_array().into_iter().flatten().map(|item| text(item, "text")).collect::<Vec<_>>())
    };
    assert_eq!(due(&session).await?, ["Welcome to the shop", "Need help paying?"]);

    let seen = |id: &str, origin: Option<&str>| {
        let mut request = stack
            .http
            .post(format!("{}/widget/v1/notifications/{id}/seen", stack.public_url))
            .header("cookie", &session);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    let marked = seen(&text(&welcome, "id"), Some(SHOP)).await?;
    assert_eq!(marked.status(), 204);
    let set = marked.headers().get_all("set-cookie").iter().filter_map(|value| value.to_str().ok()).collect::<Vec<_>>();
    assert!(set.iter().any(|cookie| cookie.starts_with("cz_notif=") && cookie.contains("Max-Age=2592000")), "{set:?}");
    let remembered = format!("{session}; {}", cookies_of(&marked, &["cz_notif"]));
    assert_eq!(due(&remembered).await?, ["Need help paying?"]);

    assert_eq!(seen(&text(&checkout, "id"), None).await?.status(), 403, "a write needs the page's Origin");
    assert_eq!(seen(&uuid::Uuid::now_v7().to_string(), Some(SHOP)).await?.status(), 404);
    let without_page = stack
        .http
        .get(format!("{}/widget/v1/notifications", stack.public_url))
        .header("cookie", &session)
        .send()
        .await?;
    assert_eq!(without_page.status(), 422);
    Ok(())
}

#[tokio::test]
async fn a_projects_own_threshold_decides_between_an_answer_and_a_fallback() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let acme = new_tenant(&stack, "threshold").await?;
    let project = new_project(&stack, &acme).await?;
    let token = acme.admin_token.as_str();
    let delivery = json!({"question": "How long does delivery take?", "answer": "Two to three working days.",
                          "language": "en"});
    create_entry(&stack, token, &project, delivery).await?;
    let session = widget_session(&stack, &project, json!({"page_url": "https://shop.example/"})).await?;
    let ask =
        async || anyhow::Ok(text(&widget_reply(&stack, &session, "how long does the delivery take").await?, "kind"));
    assert_eq!(ask().await?, "answer");

    let path = format!("/v1/projects/{}", text(&project, "id"));
    let strict = public(&stack, Method::PATCH, &path, token).json(&json!({"match_threshold": 0.95})).send().await?;
    assert_eq!(strict.status(), 200);
    // The assistant drops its copy of the project when accounts announces the change.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ask().await? != "fallback" {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the project's threshold was not applied");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test]
async fn a_scenario_written_over_http_takes_a_widget_visitor_through_a_consent_step() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let acme = new_tenant(&stack, "scenario").await?;
    let token = acme.admin_token.as_str();
    let policy = json!({
        "controller": {"name": "Acme SAS", "address": "Paris", "email": "privacy@acme.example"},
        "dpo": {"name": "Dana Protect", "email": "dpo@acme.example"},
        "purposes": [{"id": "chat_history", "name": "Keep the conversation", "legal_basis": "consent",
                      "description": ""}],
        "recipients": [], "retention": {}, "subprocessors": {"tts": "none", "translation": "none"},
        "data_residency": "eu", "erasure_deadline_days": 15, "consent_text": "May we keep this conversation?"
    });
    assert_eq!(public(&stack, Method::PUT, "/v1/privacy-policy", token).json(&policy).send().await?.status(), 200);
    let project = new_project(&stack, &acme).await?;
    let scenarios = format!("/v1/projects/{}/scenarios", text(&project, "id"));

    let bad = json!({"name": "Data", "triggers": {"keywords": ["privacy"]},
                     "steps": [{"id": "ask", "kind": "consent", "text": "First:", "purpose": "marketing", "next": "gone"}]});
    let refused = public(&stack, Method::POST, &scenarios, token).json(&bad).send().await?;
    assert_eq!(refused.status(), 422);
    let refused = body(refused).await?;
    let named: Vec<&str> =
        refused["errors"].as_array().into_iter().flatten().filter_map(|error| error["field"].as_str()).collect();
    assert_eq!(named, ["steps[0].next", "steps[0].purpose"], "{refused}");
    let unknown_kind = json!({"name": "Data", "steps": [{"id": "a", "kind": "teleport", "text": "?"}]});
    assert_eq!(public(&stack, Method::POST, &scenarios, token).json(&unknown_kind).send().await?.status(), 422);

    let good = json!({"name": "Data", "triggers": {"keywords": ["privacy"]}, "steps": [
        {"id": "ask", "kind": "consent", "text": "First:", "purpose": "chat_history", "next": "menu"},
        {"id": "menu", "kind": "choice", "text": "Then?", "options": [{"label": "A person", "next": "human"}]},
        {"id": "human", "kind": "handoff"}
    ]});
    let created = public(&stack, Method::POST, &scenarios, token).json(&good).send().await?;
    assert_eq!(created.status(), 201);
    let created = body(created).await?;
    assert_eq!(created["steps"][1]["options"][0]["next"], "human");
    let other = new_tenant(&stack, "scenario-other").await?;
    let foreign = format!("{scenarios}/{}", text(&created, "id"));
    assert_eq!(public(&stack, Method::GET, &foreign, &other.admin_token).send().await?.status(), 404);

    let session = widget_session(&stack, &project, json!({"page_url": "https://shop.example/"})).await?;
    let says = async |words: &str| widget_reply(&stack, &session, words).await;
    let reply = says("I have a privacy question").await?;
    assert_eq!((reply["kind"].as_str(), reply["step"]["kind"].as_str()), (Some("step"), Some("consent")), "{reply}");
    assert_eq!(reply["step"]["purpose"], "chat_history");
    let reply = says("oui").await?;
    assert_eq!(reply["step"]["options"], json!(["A person"]));
    let consents = stack
        .http
        .get(format!("{}/widget/v1/consents", stack.public_url))
        .header("origin", SHOP)
        .header("cookie", &session)
        .send()
        .await?;
    let consents = body(consents).await?;
    assert_eq!(consents["items"][0]["purpose"], "chat_history");
    assert_eq!(consents["items"][0]["granted"], true);
    let reply = says("a person").await?;
    assert_eq!(reply["kind"], "handoff");
    Ok(())
}

#[tokio::test]
async fn a_session_started_in_a_language_is_answered_in_it_and_one_without_by_detection() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let acme = new_tenant(&stack, "language").await?;
    let project = new_project(&stack, &acme).await?;
    let token = acme.admin_token.as_str();
    let french = json!({"question": "Quel est le délai de livraison ?", "answer": "Deux jours.", "language": "fr"});
    let english = json!({"question": "How long does delivery take?", "answer": "Two days.", "language": "en"});
    create_entry(&stack, token, &project, french).await?;
    create_entry(&stack, token, &project, english).await?;
    let session = async |language: Option<&str>| {
        let mut body = json!({"page_url": "https://shop.example/"});
        if let Some(language) = language {
            body["language"] = json!(language);
        }
        widget_session(&stack, &project, body).await
    };
    let ask = async |cookie: &str, words: &str| widget_reply(&stack, cookie, words).await;
    let detected = ask(&session(None).await?, "how long does delivery take").await?;
    assert_eq!(detected["text"], "Two days.", "{detected}");
    // In French, the English question finds no French entry: the fallback is in French.
    let in_french = ask(&session(Some("fr")).await?, "how long does delivery take").await?;
    assert_eq!(in_french["kind"], "fallback", "{in_french}");
    assert!(in_french["text"].as_str().is_some_and(|reply| reply.starts_with("Je ")), "{in_french}");
    let answered = ask(&session(Some("fr")).await?, "délai de livraison").await?;
    assert_eq!(answered["text"], "Deux jours.");
    Ok(())
}
