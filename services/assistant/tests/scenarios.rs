//! Scenarios over gRPC: checked whole on write, each bad step named; and a visitor's session taken
//! through them by the gateway's `Match`: started by a keyword or an entry, a consent recorded in
//! the accounts ledger with the source `scenario_step`, the credits shown only with the tenant's
//! feature, a handoff that says no operator can be reached.

use causerie_proto::accounts::v1 as accounts_pb;
use causerie_proto::accounts::v1::accounts_service_client::AccountsServiceClient;
use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
use causerie_proto::assistant::v1 as pb;
use causerie_proto::assistant::v1::knowledge_base_service_client::KnowledgeBaseServiceClient;
use causerie_proto::assistant::v1::scenario_service_client::ScenarioServiceClient;
use causerie_runtime::Service;
use causerie_testkit::RunningServices;
use tonic::Code;

mod common;

use common::{Tenant, accounts_and_assistant, operator, put_policy, tenant, with_bearer};

fn step(id: &str, text: &str, next: &str, kind: pb::step::Kind) -> pb::Step {
    pb::Step { id: id.to_owned(), text: text.to_owned(), next: next.to_owned(), kind: Some(kind) }
}

fn plain() -> pb::Plain {
    pb::Plain {}
}

fn option(label: &str, next: &str) -> pb::ChoiceOption {
    pb::ChoiceOption { label: label.to_owned(), next: next.to_owned() }
}

fn scenario(project_id: &str, entry_ids: Vec<String>, steps: Vec<pb::Step>) -> pb::ScenarioInput {
    pb::ScenarioInput {
        project_id: project_id.to_owned(),
        id: String::new(),
        fields: Some(pb::ScenarioFields {
            name: "Your data".to_owned(),
            triggers: Some(pb::ScenarioTriggers { entry_ids, keywords: vec!["privacy".to_owned()] }),
            steps,
        }),
    }
}

/// The data scenario: a message, a consent, a choice leading to the credits or to a person.
fn data_steps() -> Vec<pb::Step> {
    use pb::step::Kind;
    vec![
        step("intro", "Let us talk about your data.", "ask", Kind::Message(plain())),
        step("ask", "First, a question.", "menu", Kind::Consent(pb::Consent { purpose: "chat_history".to_owned() })),
        step(
            "menu",
            "What would you like?",
            "",
            Kind::Choice(pb::Choice { options: vec![option("Who are you?", "credits"), option("A person", "human")] }),
        ),
        step("credits", "Here is who we are.", "", Kind::Credits(plain())),
        step("human", "", "", Kind::Handoff(plain())),
    ]
}

#[tokio::test]
async fn a_step_pointing_at_an_unknown_step_entry_or_purpose_is_named_and_nothing_is_written() -> anyhow::Result<()> {
    use pb::step::Kind;
    let services = accounts_and_assistant().await?;
    let acme = tenant(&services, "acme").await?;
    put_policy(&services, &acme).await?;
    let mut scenarios = ScenarioServiceClient::new(services.channel(Service::Assistant).await?);
    let token = &acme.admin_token;

    let bad = scenario(
        &acme.project_id,
        vec![uuid::Uuid::now_v7().to_string()],
        vec![
            step("start", "Hello", "nowhere", Kind::Message(plain())),
            step("start", "Again", "", Kind::Message(plain())),
            step("ask", "May we?", "", Kind::Consent(pb::Consent { purpose: "support".to_owned() })),
            step("pick", "Pick", "", Kind::Choice(pb::Choice { options: vec![option("One", "missing")] })),
            step("form", "Fill it in", "", Kind::Form(pb::Form { form_id: "not-an-id".to_owned() })),
            pb::Step { id: "blank".to_owned(), text: "?".to_owned(), next: String::new(), kind: None },
        ],
    );
    let refused = scenarios.create_scenario(with_bearer(bad, token)?).await.err();
    let status = refused.ok_or_else(|| anyhow::anyhow!("a bad scenario was accepted"))?;
    assert_eq!(status.code(), Code::InvalidArgument);
    let problem = causerie_core::Error::from(status);
    let named: Vec<&str> = problem.field_errors().iter().map(|error| error.field.as_str()).collect();
    assert_eq!(named, ["steps[5].kind"], "a step without a kind is refused before the rest is read");

    let bad = scenario(
        &acme.project_id,
        vec![uuid::Uuid::now_v7().to_string()],
        vec![
            step("start", "Hello", "nowhere", Kind::Message(plain())),
            step("start", "Again", "", Kind::Message(plain())),
            step("ask", "May we?", "", Kind::Consent(pb::Consent { purpose: "support".to_owned() })),
            step("pick", "Pick", "", Kind::Choice(pb::Choice { options: vec![option("One", "missing")] })),
            step("form", "Fill it in", "", Kind::Form(pb::Form { form_id: "not-an-id".to_owned() })),
        ],
    );
    let status = scenarios.create_scenario(with_bearer(bad, token)?).await.err();
    let problem = causerie_core::Error::from(status.ok_or_else(|| anyhow::anyhow!("accepted"))?);
    let named: Vec<&str> = problem.field_errors().iter().map(|error| error.field.as_str()).collect();
    assert_eq!(
        named,
        [
            "triggers.entry_ids[0]",
            "steps[0].next",
            "steps[1].id",
            "steps[2].purpose",
            "steps[3].options[0].next",
            "steps[4].form_id"
        ]
    );
    let listed = scenarios
        .list_scenarios(with_bearer(
            pb::ListScenariosRequest { project_id: acme.project_id.clone(), limit: 0, cursor: String::new() },
            token,
        )?)
        .await?;
    assert!(listed.into_inner().scenarios.is_empty());

    // A good one is kept; an operator reads it and cannot change it; another tenant reaches nothing.
    let created = scenarios.create_scenario(with_bearer(scenario(&acme.project_id, Vec::new(), data_steps()), token)?);
    let created = created.await?.into_inner();
    assert_eq!(created.fields.as_ref().map(|fields| fields.steps.len()), Some(5));
    let operator_token = operator(&services, &acme, "acme").await?;
    let reference = pb::ScenarioRef { project_id: acme.project_id.clone(), id: created.id.clone() };
    scenarios.get_scenario(with_bearer(reference.clone(), &operator_token)?).await?;
    let refused = scenarios.delete_scenario(with_bearer(reference.clone(), &operator_token)?).await.err();
    assert_eq!(refused.map(|status| status.code()), Some(Code::PermissionDenied));
    let globex = tenant(&services, "globex").await?;
    let refused = scenarios.get_scenario(with_bearer(reference.clone(), &globex.admin_token)?).await.err();
    assert_eq!(refused.map(|status| status.code()), Some(Code::NotFound));
    let foreign = pb::ScenarioRef { project_id: globex.project_id.clone(), id: created.id.clone() };
    let refused = scenarios.delete_scenario(with_bearer(foreign, &globex.admin_token)?).await.err();
    assert_eq!(refused.map(|status| status.code()), Some(Code::NotFound));
    scenarios.delete_scenario(with_bearer(reference.clone(), token)?).await?;
    let gone = scenarios.get_scenario(with_bearer(reference, token)?).await.err();
    assert_eq!(gone.map(|status| status.code()), Some(Code::NotFound));
    services.stop().await
}

struct Visitor<'a> {
    services: &'a RunningServices,
    tenant: &'a Tenant,
    session_id: String,
    visitor_id: String,
}

impl Visitor<'_> {
    async fn says(&self, text: &str) -> anyhow::Result<pb::MatchReply> {
        let gateway = self.services.service_token(Service::Gateway).await?;
        let mut assistant = KnowledgeBaseServiceClient::new(self.services.channel(Service::Assistant).await?);
        let asked = pb::MatchRequest {
            tenant_id: self.tenant.tenant_id.clone(),
            project_id: self.tenant.project_id.clone(),
            text: text.to_owned(),
            language: Some("en".to_owned()),
            session_id: Some(self.session_id.clone()),
            visitor_id: Some(self.visitor_id.clone()),
        };
        Ok(assistant.r#match(with_bearer(asked, &gateway)?).await?.into_inner())
    }
}

fn visitor<'a>(services: &'a RunningServices, tenant: &'a Tenant) -> anyhow::Result<Visitor<'a>> {
    let public_id = causerie_core::public_id::public_id(
        uuid::Uuid::try_parse(&tenant.tenant_id)?,
        uuid::Uuid::try_parse(&tenant.project_id)?,
    );
    Ok(Visitor {
        services,
        tenant,
        session_id: format!("{public_id}.{}", uuid::Uuid::now_v7().simple()),
        visitor_id: uuid::Uuid::new_v4().to_string(),
    })
}

fn step_kind(reply: &pb::MatchReply) -> Option<&str> {
    reply.step.as_ref().map(|step| step.kind.as_str())
}

#[tokio::test]
async fn a_visitor_goes_through_consent_choice_credits_and_handoff_and_the_consent_is_in_the_ledger()
-> anyhow::Result<()> {
    let services = accounts_and_assistant().await?;
    let acme = tenant(&services, "acme").await?;
    put_policy(&services, &acme).await?;
    let mut knowledge_base = KnowledgeBaseServiceClient::new(services.channel(Service::Assistant).await?);
    let entry = pb::EntryInput {
        project_id: acme.project_id.clone(),
        id: String::new(),
        fields: Some(pb::EntryFields {
            question: "How do I delete my data?".to_owned(),
            variants: Vec::new(),
            answer: "Ask us.".to_owned(),
            language: "en".to_owned(),
            tags: Vec::new(),
        }),
    };
    let entry = knowledge_base.create_entry(with_bearer(entry, &acme.admin_token)?).await?.into_inner();
    let mut scenarios = ScenarioServiceClient::new(services.channel(Service::Assistant).await?);
    let created = scenario(&acme.project_id, vec![entry.id.clone()], data_steps());
    let data = scenarios.create_scenario(with_bearer(created, &acme.admin_token)?).await?.into_inner();

    // A keyword starts it: the message and the consent step in one reply.
    let ada = visitor(&services, &acme)?;
    let reply = ada.says("a question about privacy").await?;
    assert_eq!((reply.kind.as_str(), step_kind(&reply)), ("step", Some("consent")), "{reply:?}");
    assert!(reply.text.starts_with("Let us talk about your data."), "{}", reply.text);
    assert!(
        reply.text.contains("May we keep this conversation for a year?"),
        "the policy's consent text: {}",
        reply.text
    );
    let shown = reply.step.clone().unwrap_or_default();
    assert_eq!(shown.purpose, "chat_history");
    // Not an answer: asked again, nothing recorded.
    let again = ada.says("hmm, perhaps").await?;
    assert_eq!(step_kind(&again), Some("consent"));
    let reply = ada.says("Yes").await?;
    assert_eq!(step_kind(&reply), Some("choice"));
    assert_eq!(
        reply.step.as_ref().map(|step| step.options.clone()),
        Some(vec!["Who are you?".to_owned(), "A person".to_owned()])
    );

    let gateway = services.service_token(Service::Gateway).await?;
    let mut privacy = PrivacyServiceClient::new(services.channel(Service::Accounts).await?);
    let public_id = ada.session_id.split('.').next().unwrap_or_default().to_owned();
    let asked =
        accounts_pb::ListVisitorConsentsRequest { public_id: public_id.clone(), visitor_id: ada.visitor_id.clone() };
    let records = privacy.list_visitor_consents(with_bearer(asked, &gateway)?).await?.into_inner().records;
    assert_eq!(records.len(), 1, "one decision, one record");
    assert_eq!(
        (records[0].purpose.as_str(), records[0].granted, records[0].source.as_str()),
        ("chat_history", true, "scenario_step")
    );
    assert_eq!(records[0].text_version, shown.text_version);

    // The second option, by its number: no operator can be reached yet.
    let reply = ada.says("2").await?;
    assert_eq!(reply.kind, "handoff");
    assert!(reply.text.contains("No operator can be reached"), "{}", reply.text);
    // The scenario is over: the session is back to matching.
    assert_eq!(ada.says("How do I delete my data?").await?.kind, "step", "the entry starts it again");

    // The entry starts it too; a refusal is a record.
    let bob = visitor(&services, &acme)?;
    assert_eq!(step_kind(&bob.says("how can I delete my data").await?), Some("consent"));
    assert_eq!(step_kind(&bob.says("no").await?), Some("choice"));
    let asked = accounts_pb::ListVisitorConsentsRequest { public_id, visitor_id: bob.visitor_id.clone() };
    let records = privacy.list_visitor_consents(with_bearer(asked, &gateway)?).await?.into_inner().records;
    assert_eq!(records.iter().map(|record| record.granted).collect::<Vec<_>>(), [false]);

    // With the tenant's feature on (the default), the credits name the controller, the DPO, the
    // purposes with their legal bases and the recipients.
    // A reply the step does not understand twice leaves the scenario: it is matched as a question.
    let erin = visitor(&services, &acme)?;
    erin.says("privacy").await?;
    assert_eq!(step_kind(&erin.says("what?").await?), Some("consent"), "asked again once");
    assert_eq!(erin.says("How do I delete my data?").await?.kind, "step", "the entry starts it anew");
    let credits = bob.says("who are you").await?;
    assert_eq!((credits.kind.as_str(), credits.step.is_none()), ("step", true), "the scenario ends there");
    assert!(credits.text.starts_with("Here is who we are."), "{}", credits.text);
    assert!(credits.text.contains("Controller: Acme SAS, 1 rue de la Paix, Paris, privacy@acme.example"));
    assert!(credits.text.contains("Data protection officer: Dana Protect, dpo@acme.example"));
    assert!(credits.text.contains("Keep the conversation (legal basis: consent)"));
    assert!(credits.text.contains("Recipients: Acme customer service"));

    // With the feature off, the step is passed over.
    let staff = services.staff_token().await?;
    let mut accounts = AccountsServiceClient::new(services.channel(Service::Accounts).await?);
    let features = accounts_pb::UpdateTenantRequest {
        id: acme.tenant_id.clone(),
        credits_sequence: Some(false),
        ..accounts_pb::UpdateTenantRequest::default()
    };
    accounts.update_tenant(with_bearer(features, &staff)?).await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let carol = visitor(&services, &acme)?;
        carol.says("privacy").await?;
        carol.says("yes").await?;
        let ended = carol.says("1").await?;
        if !ended.text.contains("Controller") {
            assert_eq!(ended.text, "Thank you.");
            break;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "the credits still show: {}", ended.text);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Deleted, the scenario starts no more: the replica's copy of the project's scenarios is gone.
    let reference = pb::ScenarioRef { project_id: acme.project_id.clone(), id: data.id.clone() };
    scenarios.delete_scenario(with_bearer(reference, &acme.admin_token)?).await?;
    let dave = visitor(&services, &acme)?;
    assert_ne!(dave.says("a question about privacy").await?.kind, "step");
    services.stop().await
}
