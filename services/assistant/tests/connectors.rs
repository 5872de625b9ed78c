//! The sub-processor connectors over gRPC, against a local fake of Acapela and of Google
//! Translation that records what it receives (nothing leaves the machine) and espeak-ng for the
//! local voice: each refused unless the tenant's policy (and for translation the tenant's feature
//! and residency) allows it, the fake receiving exactly what was allowed, each call in the audit log.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use causerie_proto::accounts::v1 as accounts_pb;
use causerie_proto::accounts::v1::accounts_service_client::AccountsServiceClient;
use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
use causerie_proto::assistant::v1 as pb;
use causerie_proto::assistant::v1::knowledge_base_service_client::KnowledgeBaseServiceClient;
use causerie_runtime::Service;
use causerie_testkit::{RunningServices, TestServices};
use serde_json::{Value, json};
use tonic::Code;

mod common;

use common::{Tenant, tenant, with_bearer};

/// What the fake sub-processors received: path, headers, body.
type Received = Arc<Mutex<Vec<(String, HeaderMap, Bytes)>>>;

const FAKE_WAV: &[u8] = b"RIFF\x24\x00\x00\x00WAVEfake acapela audio";

async fn acapela(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> Vec<u8> {
    received.lock().map(|mut all| all.push(("/synthesizer".to_owned(), headers, body))).ok();
    FAKE_WAV.to_vec()
}

async fn google(State(received): State<Received>, headers: HeaderMap, body: Bytes) -> axum::Json<Value> {
    let asked: Value = serde_json::from_slice(&body).unwrap_or_default();
    received.lock().map(|mut all| all.push(("/language/translate/v2".to_owned(), headers, body))).ok();
    let target = asked["target"].as_str().unwrap_or_default().to_owned();
    let translations: Vec<Value> = asked["q"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|text| json!({"translatedText": format!("[{target}] {}", text.as_str().unwrap_or_default())}))
        .collect();
    axum::Json(json!({"data": {"translations": translations}}))
}

/// The fakes on a port of their own, and the services pointed at them.
async fn services_with_fakes() -> anyhow::Result<(RunningServices, Received)> {
    let received: Received = Arc::default();
    let app = axum::Router::new()
        .route("/synthesizer", post(acapela))
        .route("/language/translate/v2", post(google))
        .with_state(Arc::clone(&received));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let fake = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    let mut config = causerie_testkit::test_config()?;
    config.acapela_url = format!("{fake}/synthesizer");
    config.acapela_login = "causerie-login".to_owned();
    config.acapela_password = "causerie-password".to_owned();
    config.google_translate_url = fake;
    config.google_translate_key = "google-test-key".to_owned();
    let services = TestServices::new(config)
        .with(Service::Accounts, causerie_accounts::run)
        .with(Service::Assistant, causerie_assistant::run)
        .start()
        .await?;
    Ok((services, received))
}

async fn put_policy(
    services: &RunningServices,
    tenant: &Tenant,
    tts: &str,
    translation: &str,
    residency: &str,
) -> anyhow::Result<()> {
    let policy = json!({
        "controller": {"name": "Acme SAS", "address": "Paris", "email": "privacy@acme.example"},
        "dpo": {"name": "Dana Protect", "email": "dpo@acme.example"},
        "purposes": [], "recipients": [], "retention": {},
        "subprocessors": {"tts": tts, "translation": translation},
        "data_residency": residency, "erasure_deadline_days": 15, "consent_text": ""
    });
    let mut privacy = PrivacyServiceClient::new(services.channel(Service::Accounts).await?);
    let document = accounts_pb::PolicyDocument { policy_json: policy.to_string() };
    privacy.put_privacy_policy(with_bearer(document, &tenant.admin_token)?).await?;
    Ok(())
}

/// Until the assistant's copy of the project follows the policy accounts announced.
async fn eventually<T, F: AsyncFn() -> Result<T, tonic::Status>>(
    what: &str,
    attempt: F,
    done: impl Fn(&Result<T, tonic::Status>) -> bool,
) -> anyhow::Result<Result<T, tonic::Status>> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let answer = attempt().await;
        if done(&answer) {
            return Ok(answer);
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "{what}: never");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn audit_actions(services: &RunningServices, tenant: &Tenant) -> anyhow::Result<Vec<(String, String)>> {
    let mut accounts = AccountsServiceClient::new(services.channel(Service::Accounts).await?);
    let asked = accounts_pb::ListAuditLogRequest { limit: 200, ..accounts_pb::ListAuditLogRequest::default() };
    let entries = accounts.list_audit_log(with_bearer(asked, &tenant.admin_token)?).await?.into_inner().entries;
    Ok(entries
        .into_iter()
        .filter(|entry| entry.action.starts_with("subprocessor."))
        .map(|entry| (entry.action, entry.subject_id))
        .collect())
}

#[tokio::test]
async fn text_to_speech_follows_the_policy_and_acapela_gets_exactly_the_answer() -> anyhow::Result<()> {
    let (services, received) = services_with_fakes().await?;
    let acme = tenant(&services, "acme").await?;
    let mut kb = KnowledgeBaseServiceClient::new(services.channel(Service::Assistant).await?);
    let entry = pb::EntryInput {
        project_id: acme.project_id.clone(),
        id: String::new(),
        fields: Some(pb::EntryFields {
            question: "Quel est le délai de livraison ?".to_owned(),
            variants: Vec::new(),
            answer: "Deux à trois jours ouvrés.".to_owned(),
            language: "fr".to_owned(),
            tags: Vec::new(),
        }),
    };
    let entry = kb.create_entry(with_bearer(entry, &acme.admin_token)?).await?.into_inner();
    let reference = pb::EntryRef { project_id: acme.project_id.clone(), id: entry.id.clone() };
    let token = acme.admin_token.clone();
    let audio = async || {
        let mut kb = KnowledgeBaseServiceClient::new(
            services.channel(Service::Assistant).await.map_err(|_| tonic::Status::unavailable("channel"))?,
        );
        let request = with_bearer(reference.clone(), &token).map_err(|_| tonic::Status::internal("token"))?;
        kb.entry_audio(request).await.map(|answer| answer.into_inner().wav)
    };

    // The defaults choose no text-to-speech.
    assert_eq!(audio().await.err().map(|status| status.code()), Some(Code::PermissionDenied));

    put_policy(&services, &acme, "local", "none", "eu").await?;
    let spoken = eventually("local speech", &audio, |answer| answer.is_ok()).await??;
    assert!(spoken.starts_with(b"RIFF") && &spoken[8..12] == b"WAVE", "espeak-ng's WAV");
    assert!(spoken.len() > 1_000, "some audio: {} bytes", spoken.len());
    assert!(received.lock().map(|all| all.is_empty()).unwrap_or(false), "nothing left the machine");

    put_policy(&services, &acme, "acapela", "none", "eu").await?;
    let spoken = eventually("acapela", &audio, |answer| answer.as_ref().is_ok_and(|wav| wav == FAKE_WAV)).await??;
    assert_eq!(spoken, FAKE_WAV);
    let calls = received.lock().map(|all| all.clone()).unwrap_or_default();
    let form: Vec<(String, String)> = calls.iter().map(|(_, _, body)| url_form(body)).next().unwrap_or_default();
    assert!(calls.iter().all(|(path, _, _)| path == "/synthesizer"));
    let field = |name: &str| form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    assert_eq!(field("req_text"), Some("Deux à trois jours ouvrés."));
    assert_eq!(field("cl_login"), Some("causerie-login"));
    assert_eq!(field("req_voice"), Some("alice22k"));
    assert!(form.iter().all(|(_, value)| !value.contains("délai")), "the question is not sent");

    let audited = audit_actions(&services, &acme).await?;
    assert!(audited.contains(&("subprocessor.tts.local".to_owned(), entry.id.clone())), "{audited:?}");
    assert!(audited.contains(&("subprocessor.tts.acapela".to_owned(), entry.id.clone())), "{audited:?}");
    services.stop().await
}

fn url_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body).replace('+', " ");
    text.split('&').filter_map(|pair| pair.split_once('=')).map(|(key, value)| (decode(key), decode(value))).collect()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match (bytes[at], bytes.get(at + 1..at + 3)) {
            (b'%', Some(hex)) => {
                let value = std::str::from_utf8(hex).ok().and_then(|hex| u8::from_str_radix(hex, 16).ok());
                decoded.push(value.unwrap_or(b'%'));
                at += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[tokio::test]
async fn translation_needs_the_policy_the_feature_and_a_residency_outside_the_eu_and_makes_a_draft()
-> anyhow::Result<()> {
    let (services, received) = services_with_fakes().await?;
    let acme = tenant(&services, "acme").await?;
    let mut kb = KnowledgeBaseServiceClient::new(services.channel(Service::Assistant).await?);
    let entry = pb::EntryInput {
        project_id: acme.project_id.clone(),
        id: String::new(),
        fields: Some(pb::EntryFields {
            question: "How long does delivery take?".to_owned(),
            variants: vec!["When will my parcel arrive?".to_owned()],
            answer: "Two to three working days.".to_owned(),
            language: "en".to_owned(),
            tags: vec!["delivery".to_owned()],
        }),
    };
    let entry = kb.create_entry(with_bearer(entry, &acme.admin_token)?).await?.into_inner();
    let token = acme.admin_token.clone();
    let translate = async || {
        let mut kb = KnowledgeBaseServiceClient::new(
            services.channel(Service::Assistant).await.map_err(|_| tonic::Status::unavailable("channel"))?,
        );
        let asked = pb::TranslateEntryRequest {
            project_id: acme.project_id.clone(),
            id: entry.id.clone(),
            language: "fr".to_owned(),
        };
        kb.translate_entry(with_bearer(asked, &token).map_err(|_| tonic::Status::internal("token"))?)
            .await
            .map(|answer| answer.into_inner())
    };
    let code = |answer: &Result<pb::Entry, tonic::Status>| answer.as_ref().err().map(|status| status.code());

    // Under the default `eu` residency: a residency conflict, whatever else.
    let refused = translate().await;
    let problem = causerie_core::Error::from(refused.err().ok_or_else(|| anyhow::anyhow!("translated under eu"))?);
    assert_eq!(problem.code(), causerie_core::ErrorCode::ResidencyConflict);
    // Residency `any`, but the policy chooses no translation.
    put_policy(&services, &acme, "none", "none", "any").await?;
    let refused =
        eventually("residency any", &translate, |answer| code(answer) == Some(Code::PermissionDenied)).await?;
    assert_eq!(code(&refused), Some(Code::PermissionDenied));
    // Support switches the tenant's feature on (a policy cannot choose Google before), then the
    // policy chooses Google.
    let staff = services.staff_token().await?;
    let mut accounts = AccountsServiceClient::new(services.channel(Service::Accounts).await?);
    let features = accounts_pb::UpdateTenantRequest {
        id: acme.tenant_id.clone(),
        translation: Some(true),
        ..accounts_pb::UpdateTenantRequest::default()
    };
    accounts.update_tenant(with_bearer(features, &staff)?).await?;
    let refused = translate().await;
    assert_eq!(code(&refused), Some(Code::PermissionDenied), "the feature alone is not the policy's choice");
    put_policy(&services, &acme, "none", "google", "any").await?;
    assert!(received.lock().map(|all| all.is_empty()).unwrap_or(false), "nothing sent while refused");

    let draft = eventually("translation allowed", &translate, |answer| answer.is_ok()).await??;
    assert!(draft.draft);
    let fields = draft.fields.clone().unwrap_or_default();
    assert_eq!(fields.language, "fr");
    assert_eq!(fields.question, "[fr] How long does delivery take?");
    assert_eq!(fields.answer, "[fr] Two to three working days.");
    assert_eq!(fields.variants, ["[fr] When will my parcel arrive?"]);
    assert_eq!(fields.tags, ["delivery"]);
    let calls = received.lock().map(|all| all.clone()).unwrap_or_default();
    assert_eq!(calls.len(), 1, "one call");
    let (path, headers, body) = &calls[0];
    assert_eq!(path, "/language/translate/v2");
    assert_eq!(headers.get("x-goog-api-key").and_then(|key| key.to_str().ok()), Some("google-test-key"));
    let sent: Value = serde_json::from_slice(body)?;
    assert_eq!(
        sent,
        json!({"q": ["How long does delivery take?", "Two to three working days.", "When will my parcel arrive?"],
                            "source": "en", "target": "fr", "format": "text"})
    );

    // A draft is not matched until a contributor saves it.
    let search = |text: &str| pb::SearchRequest {
        project_id: acme.project_id.clone(),
        text: text.to_owned(),
        language: Some("fr".to_owned()),
    };
    let found =
        kb.search(with_bearer(search("[fr] How long does delivery take?"), &acme.admin_token)?).await?.into_inner();
    assert!(found.matches.iter().all(|found| found.entry_id != draft.id));
    let publish =
        pb::EntryInput { project_id: acme.project_id.clone(), id: draft.id.clone(), fields: draft.fields.clone() };
    let published = kb.update_entry(with_bearer(publish, &acme.admin_token)?).await?.into_inner();
    assert!(!published.draft);
    let found =
        kb.search(with_bearer(search("[fr] How long does delivery take?"), &acme.admin_token)?).await?.into_inner();
    assert_eq!(found.matches.first().map(|found| found.entry_id.as_str()), Some(draft.id.as_str()));

    let audited = audit_actions(&services, &acme).await?;
    assert_eq!(audited, [("subprocessor.translation.google".to_owned(), entry.id.clone())]);
    services.stop().await
}
