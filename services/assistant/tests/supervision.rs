//! Supervision over gRPC: a session's exchanges are kept only while the project has supervision on
//! and the visitor's latest decision grants the supervision purpose, stop at a withdrawal, and
//! are reached by the visitor's erasure and export.

use causerie_bus::message::{DataSubject, SubjectRequest};
use causerie_bus::{Envelope, Message};
use causerie_core::TenantId;
use causerie_proto::accounts::v1 as accounts_pb;
use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
use causerie_proto::assistant::v1 as pb;
use causerie_proto::assistant::v1::knowledge_base_service_client::KnowledgeBaseServiceClient;
use causerie_runtime::Service;
use causerie_testkit::RunningServices;
use uuid::Uuid;

mod common;

use common::{Tenant, accounts_and_assistant, put_policy, tenant, with_bearer};

struct Visitor {
    public_id: String,
    session_id: String,
    visitor_id: Uuid,
}

impl Visitor {
    fn new(tenant: &Tenant) -> anyhow::Result<Self> {
        let public_id = causerie_core::public_id::public_id(
            Uuid::try_parse(&tenant.tenant_id)?,
            Uuid::try_parse(&tenant.project_id)?,
        );
        let session_id = format!("{public_id}.{}", Uuid::now_v7().simple());
        Ok(Self { public_id, session_id, visitor_id: Uuid::new_v4() })
    }

    async fn decides(&self, services: &RunningServices, granted: bool) -> anyhow::Result<()> {
        let gateway = services.service_token(Service::Gateway).await?;
        let mut privacy = PrivacyServiceClient::new(services.channel(Service::Accounts).await?);
        let decision = accounts_pb::RecordConsentRequest {
            public_id: self.public_id.clone(),
            visitor_id: self.visitor_id.to_string(),
            purpose: "supervision".to_owned(),
            granted,
            text_version: 1,
            source: "widget".to_owned(),
            client_address: None,
        };
        privacy.record_visitor_consent(with_bearer(decision, &gateway)?).await?;
        Ok(())
    }

    async fn says(&self, services: &RunningServices, tenant: &Tenant, text: &str) -> anyhow::Result<()> {
        let gateway = services.service_token(Service::Gateway).await?;
        let mut assistant = KnowledgeBaseServiceClient::new(services.channel(Service::Assistant).await?);
        let asked = pb::MatchRequest {
            tenant_id: tenant.tenant_id.clone(),
            project_id: tenant.project_id.clone(),
            text: text.to_owned(),
            language: None,
            session_id: Some(self.session_id.clone()),
            visitor_id: Some(self.visitor_id.to_string()),
        };
        assistant.r#match(with_bearer(asked, &gateway)?).await?;
        Ok(())
    }
}

async fn supervision(services: &RunningServices, tenant: &Tenant, enabled: bool) -> anyhow::Result<()> {
    let mut privacy = PrivacyServiceClient::new(services.channel(Service::Accounts).await?);
    let change = accounts_pb::ProjectInput {
        id: tenant.project_id.clone(),
        supervision_enabled: Some(enabled),
        supervision_purpose_id: Some("supervision".to_owned()),
        ..accounts_pb::ProjectInput::default()
    };
    privacy.update_project(with_bearer(change, &tenant.admin_token)?).await?;
    Ok(())
}

#[tokio::test]
async fn only_a_consenting_visitors_session_on_a_supervised_project_is_kept_and_erasure_reaches_it()
-> anyhow::Result<()> {
    let services = accounts_and_assistant().await?;
    let acme = tenant(&services, "acme").await?;
    put_policy(&services, &acme).await?;
    let mut knowledge_base = KnowledgeBaseServiceClient::new(services.channel(Service::Assistant).await?);
    let entry = pb::EntryInput {
        project_id: acme.project_id.clone(),
        id: String::new(),
        fields: Some(pb::EntryFields {
            question: "How long does delivery take?".to_owned(),
            variants: Vec::new(),
            answer: "Two days.".to_owned(),
            language: "en".to_owned(),
            tags: Vec::new(),
        }),
    };
    knowledge_base.create_entry(with_bearer(entry, &acme.admin_token)?).await?;
    let owner = causerie_db::connect_owner(&services.config, Service::Assistant).await?;
    let kept = async |visitor: &Visitor| {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "select author, text from supervised_messages where visitor_id = $1 order by created_at, id",
        )
        .bind(visitor.visitor_id)
        .fetch_all(&owner)
        .await?;
        anyhow::Ok(rows)
    };

    // Supervision off: nothing is kept, consent or not.
    let ada = Visitor::new(&acme)?;
    ada.decides(&services, true).await?;
    ada.says(&services, &acme, "how long is delivery").await?;
    assert!(kept(&ada).await?.is_empty());

    supervision(&services, &acme, true).await?;
    // The assistant drops its copy of the project when accounts announces the change.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while kept(&ada).await?.is_empty() {
        anyhow::ensure!(std::time::Instant::now() < deadline, "supervision never started");
        ada.says(&services, &acme, "how long is delivery").await?;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let rows = kept(&ada).await?;
    assert_eq!(rows[0], ("visitor".to_owned(), "how long is delivery".to_owned()));
    assert_eq!(rows[1], ("assistant".to_owned(), "Two days.".to_owned()));

    // A visitor who has not consented is not supervised; a withdrawal stops it at the next message.
    let bob = Visitor::new(&acme)?;
    bob.says(&services, &acme, "delivery?").await?;
    assert!(kept(&bob).await?.is_empty());
    let before = kept(&ada).await?.len();
    ada.decides(&services, false).await?;
    ada.says(&services, &acme, "and returns?").await?;
    assert_eq!(kept(&ada).await?.len(), before, "nothing kept after the withdrawal");

    // The visitor's erasure removes the messages and their announcements, with a receipt.
    let tenant_id: TenantId = acme.tenant_id.parse()?;
    let request_id = Uuid::now_v7();
    let request = Message::ErasureRequestedV1(SubjectRequest {
        request_id,
        subject: DataSubject { visitor_id: Some(ada.visitor_id), ..DataSubject::default() },
        deadline: chrono::Utc::now(),
    });
    let mut connection = owner.acquire().await?;
    causerie_bus::enqueue(&mut connection, &Envelope::new(tenant_id, "retention", chrono::Utc::now(), request)).await?;
    drop(connection);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let receipt = loop {
        let receipt: Option<serde_json::Value> = sqlx::query_scalar(
            "select envelope from outbox where routing_key = 'assistant.erasure.completed'
                and envelope->'payload'->>'request_id' = $1",
        )
        .bind(request_id.to_string())
        .fetch_optional(&owner)
        .await?;
        if let Some(receipt) = receipt {
            break receipt;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "no erasure receipt");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(receipt["payload"]["counts"]["supervised_sessions"], u64::try_from(before)?);
    assert!(kept(&ada).await?.is_empty());
    let announced: i64 = sqlx::query_scalar(
        "select count(*) from outbox where routing_key = 'assistant.supervision.exchanged'
            and envelope->'payload'->>'visitor_id' = $1",
    )
    .bind(ada.visitor_id.to_string())
    .fetch_one(&owner)
    .await?;
    assert_eq!(announced, 0);
    owner.close().await;
    services.stop().await
}
