//! The assistant with accounts, over gRPC: knowledge bases written and read by tenant users,
//! refused to other tenants and to roles without the right, imported whole or not at all, and
//! visitors' questions answered from them and kept masked.

use causerie_proto::assistant::v1 as pb;
use causerie_proto::assistant::v1::knowledge_base_service_client::KnowledgeBaseServiceClient;
use causerie_runtime::Service;
use causerie_testkit::RunningServices;
use tonic::Code;
use tonic::transport::Channel;

mod common;

use common::{accounts_and_assistant, operator, tenant, with_bearer};

async fn knowledge_base(services: &RunningServices) -> anyhow::Result<KnowledgeBaseServiceClient<Channel>> {
    Ok(KnowledgeBaseServiceClient::new(services.channel(Service::Assistant).await?))
}

fn fields(question: &str, answer: &str, language: &str) -> pb::EntryFields {
    pb::EntryFields {
        question: question.to_owned(),
        variants: Vec::new(),
        answer: answer.to_owned(),
        language: language.to_owned(),
        tags: Vec::new(),
    }
}

fn input(project_id: &str, fields: pb::EntryFields) -> pb::EntryInput {
    pb::EntryInput { project_id: project_id.to_owned(), id: String::new(), fields: Some(fields) }
}

fn entry_ref(project_id: &str, id: &str) -> pb::EntryRef {
    pb::EntryRef { project_id: project_id.to_owned(), id: id.to_owned() }
}

fn search(project_id: &str, text: &str) -> pb::SearchRequest {
    pb::SearchRequest { project_id: project_id.to_owned(), text: text.to_owned(), language: None }
}

#[tokio::test]
async fn an_entry_is_written_found_by_a_paraphrase_changed_and_deleted() -> anyhow::Result<()> {
    let services = accounts_and_assistant().await?;
    let acme = tenant(&services, "acme").await?;
    let mut kb = knowledge_base(&services).await?;
    let token = &acme.admin_token;

    let delivery = fields("Quel est le délai de livraison ?", "Deux à trois jours ouvrés.", "fr");
    let created = kb.create_entry(with_bearer(input(&acme.project_id, delivery), token)?).await?.into_inner();
    let password = fields("How do I reset my password?", "Use the link on the sign-in page.", "en");
    kb.create_entry(with_bearer(input(&acme.project_id, password), token)?).await?;

    let read = kb.get_entry(with_bearer(entry_ref(&acme.project_id, &created.id), token)?).await?.into_inner();
    assert_eq!(read.fields.as_ref().map(|fields| fields.answer.as_str()), Some("Deux à trois jours ouvrés."));
    let listed = kb
        .list_entries(with_bearer(
            pb::ListEntriesRequest { project_id: acme.project_id.clone(), limit: 1, cursor: String::new() },
            token,
        )?)
        .await?
        .into_inner();
    assert_eq!(listed.entries.len(), 1);
    assert!(!listed.next_cursor.is_empty(), "a second page follows");

    // Found at once, by words it does not literally contain.
    let found = kb
        .search(with_bearer(search(&acme.project_id, "livraisons en combien de jours ?"), token)?)
        .await?
        .into_inner();
    assert_eq!(found.matches.first().map(|found| found.entry_id.as_str()), Some(created.id.as_str()));
    assert!(found.matches.iter().all(|found| (0.0..=1.0).contains(&found.score)));

    // A variant makes an unanswered question match.
    let unanswered = "quand vais-je recevoir mon colis";
    let variant = pb::AddVariantRequest {
        project_id: acme.project_id.clone(),
        id: created.id.clone(),
        text: unanswered.to_owned(),
    };
    let with_variant = kb.add_variant(with_bearer(variant, token)?).await?.into_inner();
    assert_eq!(with_variant.fields.map(|fields| fields.variants), Some(vec![unanswered.to_owned()]));
    let found = kb.search(with_bearer(search(&acme.project_id, unanswered), token)?).await?.into_inner();
    assert_eq!(found.matches[0].entry_id, created.id);
    // Well above the threshold: the visitor asking it again gets the answer.
    let threshold = f64::from(causerie_assistant::matching::DEFAULT_THRESHOLD);
    assert!(found.matches[0].score > threshold + 0.1, "{}", found.matches[0].score);

    // Changed, then deleted: the index follows.
    let mut changed = input(&acme.project_id, fields("Puis-je payer en trois fois ?", "Oui, dès 100 euros.", "fr"));
    changed.id = created.id.clone();
    kb.update_entry(with_bearer(changed, token)?).await?;
    let found = kb.search(with_bearer(search(&acme.project_id, "paiement en trois fois"), token)?).await?.into_inner();
    assert_eq!(found.matches[0].entry_id, created.id);
    kb.delete_entry(with_bearer(entry_ref(&acme.project_id, &created.id), token)?).await?;
    let gone = kb.get_entry(with_bearer(entry_ref(&acme.project_id, &created.id), token)?).await.err();
    assert_eq!(gone.map(|status| status.code()), Some(Code::NotFound));
    let found = kb.search(with_bearer(search(&acme.project_id, "paiement en trois fois"), token)?).await?.into_inner();
    assert!(found.matches.iter().all(|found| found.entry_id != created.id));
    services.stop().await
}

#[tokio::test]
async fn another_tenant_and_a_bad_entry_are_refused_and_nothing_is_written() -> anyhow::Result<()> {
    let services = accounts_and_assistant().await?;
    let acme = tenant(&services, "acme").await?;
    let globex = tenant(&services, "globex").await?;
    let mut kb = knowledge_base(&services).await?;
    let entry = fields("Delivery time?", "Three days.", "en");
    let created =
        kb.create_entry(with_bearer(input(&acme.project_id, entry.clone()), &acme.admin_token)?).await?.into_inner();

    // Globex cannot see, write to or search Acme's project, nor reach Acme's entry through its own.
    let refusals = [
        kb.create_entry(with_bearer(input(&acme.project_id, entry.clone()), &globex.admin_token)?).await.err(),
        kb.get_entry(with_bearer(entry_ref(&acme.project_id, &created.id), &globex.admin_token)?).await.err(),
        kb.get_entry(with_bearer(entry_ref(&globex.project_id, &created.id), &globex.admin_token)?).await.err(),
        kb.search(with_bearer(search(&acme.project_id, "delivery"), &globex.admin_token)?).await.err(),
        kb.delete_entry(with_bearer(entry_ref(&acme.project_id, &created.id), &globex.admin_token)?).await.err(),
        kb.get_entry(with_bearer(entry_ref("not-a-project", &created.id), &acme.admin_token)?).await.err(),
    ];
    for refusal in refusals {
        assert_eq!(refusal.map(|status| status.code()), Some(Code::NotFound));
    }

    // A language the project does not have, an empty question: 422 naming each field.
    let bad = kb
        .create_entry(with_bearer(input(&acme.project_id, fields(" ", "Answer", "de")), &acme.admin_token)?)
        .await
        .err()
        .ok_or_else(|| anyhow::anyhow!("a bad entry was accepted"))?;
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("question") && bad.message().contains("language"), "{}", bad.message());

    // An import with one bad row writes none of its rows, and names the row.
    let rows = vec![fields("Return a product?", "Within 30 days.", "en"), fields("Opening hours?", "", "en")];
    let import = pb::ImportEntriesRequest { project_id: acme.project_id.clone(), entries: rows };
    let refused = kb.import_entries(with_bearer(import, &acme.admin_token)?).await.err();
    let refused = refused.ok_or_else(|| anyhow::anyhow!("a bad import was accepted"))?;
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("entries[1].answer"), "{}", refused.message());
    let all = kb
        .export_entries(with_bearer(pb::ProjectRef { project_id: acme.project_id.clone() }, &acme.admin_token)?)
        .await?
        .into_inner();
    assert_eq!(all.entries.len(), 1, "only the entry written before the import");

    let rows = vec![fields("Return a product?", "Within 30 days.", "en"), fields("Horaires ?", "De 9 h à 18 h.", "fr")];
    let import = pb::ImportEntriesRequest { project_id: acme.project_id.clone(), entries: rows };
    assert_eq!(kb.import_entries(with_bearer(import, &acme.admin_token)?).await?.into_inner().created, 2);
    services.stop().await
}

#[tokio::test]
async fn an_operator_reads_the_knowledge_base_but_cannot_change_it() -> anyhow::Result<()> {
    let services = accounts_and_assistant().await?;
    let acme = tenant(&services, "acme").await?;
    let operator_token = operator(&services, &acme, "acme").await?;

    let mut kb = knowledge_base(&services).await?;
    let entry = fields("Delivery time?", "Three days.", "en");
    let created =
        kb.create_entry(with_bearer(input(&acme.project_id, entry.clone()), &acme.admin_token)?).await?.into_inner();
    kb.get_entry(with_bearer(entry_ref(&acme.project_id, &created.id), &operator_token)?).await?;
    let refused = kb.create_entry(with_bearer(input(&acme.project_id, entry), &operator_token)?).await.err();
    assert_eq!(refused.map(|status| status.code()), Some(Code::PermissionDenied));
    let refused = kb.delete_entry(with_bearer(entry_ref(&acme.project_id, &created.id), &operator_token)?).await.err();
    assert_eq!(refused.map(|status| status.code()), Some(Code::PermissionDenied));
    // Match is the gateway's: a tenant user's token is refused.
    let asked = pb::MatchRequest {
        tenant_id: String::new(),
        project_id: acme.project_id.clone(),
        text: "delivery".to_owned(),
        language: None,
        ..pb::MatchRequest::default()
    };
    let refused = kb.r#match(with_bearer(asked, &acme.admin_token)?).await.err();
    assert_eq!(refused.map(|status| status.code()), Some(Code::Unauthenticated));
    services.stop().await
}

#[tokio::test]
async fn a_visitor_is_answered_and_the_question_is_kept_masked_and_unlinked() -> anyhow::Result<()> {
    let services = accounts_and_assistant().await?;
    let acme = tenant(&services, "acme").await?;
    let mut kb = knowledge_base(&services).await?;
    let entry = fields("How long does delivery take?", "Two to three working days.", "en");
    let created = kb.create_entry(with_bearer(input(&acme.project_id, entry), &acme.admin_token)?).await?.into_inner();
    let gateway = services.service_token(Service::Gateway).await?;
    let tenant_id = acme.tenant_id.clone();

    let asked = |text: &str| pb::MatchRequest {
        tenant_id: tenant_id.clone(),
        project_id: acme.project_id.clone(),
        text: text.to_owned(),
        language: None,
        ..pb::MatchRequest::default()
    };
    let reply = kb
        .r#match(with_bearer(asked("how long will delivery take? I am ada@acme.example, +33 6 12 34 56 78"), &gateway)?)
        .await?
        .into_inner();
    assert_eq!(reply.kind, "answer");
    assert_eq!(reply.entry_id.as_deref(), Some(created.id.as_str()));
    assert_eq!(reply.text, "Two to three working days.");
    let fallback =
        kb.r#match(with_bearer(asked("what will the weather be in Lyon tomorrow"), &gateway)?).await?.into_inner();
    assert_eq!(fallback.kind, "fallback");
    assert!(fallback.entry_id.is_none());

    // Asked twice, the unanswered question leads the list contributors learn from.
    kb.r#match(with_bearer(asked("what will the weather be in Lyon tomorrow"), &gateway)?).await?;
    let unanswered = pb::ListUnansweredRequest { project_id: acme.project_id.clone(), from: None, to: None };
    let unanswered = kb.list_unanswered(with_bearer(unanswered, &acme.admin_token)?).await?.into_inner();
    assert_eq!(unanswered.items.len(), 1);
    assert_eq!(unanswered.items[0].text, "what will the weather be in Lyon tomorrow");
    assert_eq!(unanswered.items[0].count, 2);
    let backwards = pb::ListUnansweredRequest {
        project_id: acme.project_id.clone(),
        from: Some("2026-12-31".to_owned()),
        to: Some("2026-01-01".to_owned()),
    };
    let refused = kb.list_unanswered(with_bearer(backwards, &acme.admin_token)?).await.err();
    assert_eq!(refused.map(|status| status.code()), Some(Code::InvalidArgument));

    let owner = causerie_db::connect_owner(&services.config, Service::Assistant).await?;
    let kept: Vec<(String, bool)> =
        sqlx::query_as("select masked_text, answered from assistant_inputs order by id").fetch_all(&owner).await?;
    assert_eq!(kept.len(), 3);
    assert_eq!(kept[0], ("how long will delivery take? I am [email], [phone]".to_owned(), true));
    assert!(!kept[1].1);
    // Nothing in the table could name the visitor or the session.
    let columns: Vec<String> = sqlx::query_scalar(
        "select column_name::text from information_schema.columns where table_name = 'assistant_inputs' order by 1",
    )
    .fetch_all(&owner)
    .await?;
    assert!(columns.iter().all(|column| !column.contains("visitor") && !column.contains("session")), "{columns:?}");
    // Each kept input goes to forms-analytics, as masked, with its row's id.
    let events: Vec<serde_json::Value> = sqlx::query_scalar(
        "select envelope from outbox where routing_key = 'assistant.question.asked' order by envelope->'payload'->>'input_id'",
    )
    .fetch_all(&owner)
    .await?;
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["payload"]["masked_text"], "how long will delivery take? I am [email], [phone]");
    assert_eq!(events[0]["payload"]["answered"], true);
    assert!(events.iter().all(|event| event["payload"].get("visitor_id").is_none()));
    owner.close().await;
    services.stop().await
}

#[tokio::test]
async fn a_deleted_projects_entries_inputs_and_notifications_are_deleted_and_another_projects_kept()
-> anyhow::Result<()> {
    use causerie_proto::accounts::v1 as accounts_pb;
    use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
    use causerie_proto::assistant::v1::notification_service_client::NotificationServiceClient;

    let services = accounts_and_assistant().await?;
    let acme = tenant(&services, "acme").await?;
    let token = &acme.admin_token;
    let mut privacy = PrivacyServiceClient::new(services.channel(Service::Accounts).await?);
    let second = accounts_pb::ProjectInput { name: Some("Second".to_owned()), ..accounts_pb::ProjectInput::default() };
    let kept_project = privacy.create_project(with_bearer(second, token)?).await?.into_inner().id;
    let mut kb = knowledge_base(&services).await?;
    for project_id in [&acme.project_id, &kept_project] {
        kb.create_entry(with_bearer(input(project_id, fields("Delivery time?", "Three days.", "en")), token)?).await?;
    }
    let mut notifications = NotificationServiceClient::new(services.channel(Service::Assistant).await?);
    let notification = pb::NotificationInput {
        project_id: acme.project_id.clone(),
        id: String::new(),
        fields: Some(pb::NotificationFields {
            text: "Hello".to_owned(),
            url_pattern: "*".to_owned(),
            delay_seconds: 0,
            active: true,
        }),
    };
    notifications.create_notification(with_bearer(notification, token)?).await?;

    privacy.delete_project(with_bearer(accounts_pb::ProjectRef { id: acme.project_id.clone() }, token)?).await?;
    let owner = causerie_db::connect_owner(&services.config, Service::Assistant).await?;
    let count = async |table: &str, project_id: &str| {
        let statement = format!("select count(*) from {table} where project_id = $1::uuid");
        anyhow::Ok(
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(statement)).bind(project_id).fetch_one(&owner).await?,
        )
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count("knowledge_entries", &acme.project_id).await? > 0 {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the deleted project's entries are still there");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(count("notifications", &acme.project_id).await?, 0);
    assert_eq!(count("knowledge_entries", &kept_project).await?, 1, "another project keeps its entries");
    owner.close().await;
    services.stop().await
}
