//! What travels on the bus. An envelope carries one typed message; its routing key is
//! `<producer>.<type>`, so the receipts that answer a data-subject request say which service sent
//! them. Message types are versioned by name: an incompatible change is a new variant.

use std::collections::BTreeMap;
use std::collections::HashMap;

use causerie_core::{RetentionCategory, TenantId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique per message; consumers de-duplicate on it.
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub occurred_at: DateTime<Utc>,
    /// The service that produced the message, as in routing keys (`accounts`, `live_chat`...).
    pub producer: String,
    /// W3C trace context (`traceparent`, `tracestate`) of the span that produced it.
    #[serde(default)]
    pub trace_context: HashMap<String, String>,
    #[serde(flatten)]
    pub message: Message,
}

impl Envelope {
    pub fn new(tenant_id: TenantId, producer: &str, occurred_at: DateTime<Utc>, message: Message) -> Self {
        Self {
            id: Uuid::now_v7(),
            tenant_id,
            occurred_at,
            producer: producer.to_owned(),
            trace_context: causerie_runtime::propagation::current_trace_context(),
            message,
        }
    }

    pub fn routing_key(&self) -> String {
        format!("{}.{}", self.producer, self.message.message_type())
    }
}

/// Every message type, tagged by `type` with its body in `payload`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload")]
pub enum Message {
    /// A tenant exists; retention starts tracking it for sweeps and offboarding.
    #[serde(rename = "tenant.created")]
    TenantCreatedV1(TenantCreated),
    /// A tenant user was erased; services attribute what the user authored to the tombstone id
    /// and drop any copy of the user's personal data (operator names in transcripts, presence).
    #[serde(rename = "user.erased")]
    UserErasedV1(UserErased),
    /// A tenant's privacy policy has a new version; services drop their cached copy.
    #[serde(rename = "policy.updated")]
    PolicyUpdatedV1(PolicyUpdated),
    /// A project's settings changed or it was deleted; services drop their cached copy.
    #[serde(rename = "project.changed")]
    ProjectChangedV1(ProjectChanged),
    /// A project was deleted; each service holding its content deletes it (queued: a service
    /// that is down does it when it returns).
    #[serde(rename = "project.deleted")]
    ProjectDeletedV1(ProjectDeleted),
    /// Support changed a tenant's status or features; services drop their cached copy.
    #[serde(rename = "tenant.updated")]
    TenantUpdatedV1(TenantUpdated),
    /// A project's knowledge base changed; every assistant replica rebuilds the project's index.
    #[serde(rename = "knowledge_base.changed")]
    KnowledgeBaseChangedV1(KnowledgeBaseChanged),
    /// A project's scenarios changed; every assistant replica drops its copy of them.
    #[serde(rename = "scenarios.changed")]
    ScenariosChangedV1(KnowledgeBaseChanged),
    /// A visitor asked the assistant something: for forms-analytics' statistics. Masked, with
    /// nothing that links it to the visitor or the session.
    #[serde(rename = "question.asked")]
    QuestionAskedV1(QuestionAsked),
    /// A supervised session's exchange was kept; live chat's supervision stream reads it. Ids
    /// only: the texts stay in the assistant, where erasure reaches them.
    #[serde(rename = "supervision.exchanged")]
    SupervisionExchangedV1(SupervisionExchanged),
    /// Erase everything a service holds about a data subject, then answer with a receipt.
    #[serde(rename = "erasure.requested")]
    ErasureRequestedV1(SubjectRequest),
    #[serde(rename = "erasure.completed")]
    ErasureCompletedV1(ErasureReceipt),
    /// Collect everything a service holds about a data subject, then answer with the bundle.
    #[serde(rename = "export.requested")]
    ExportRequestedV1(SubjectRequest),
    #[serde(rename = "export.completed")]
    ExportCompletedV1(ExportReceipt),
    /// Delete (or count, when dry) what each category holds beyond its cutoff.
    #[serde(rename = "sweep.requested")]
    SweepRequestedV1(SweepRequest),
    #[serde(rename = "sweep.completed")]
    SweepCompletedV1(SweepReceipt),
}

/// How a message reaches its consumers, which decides what an unrouted publish means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Into the durable queue of each consuming service (`topology::BINDINGS`). Published
    /// `mandatory`: a message that no queue takes comes back, and stays in the outbox.
    Queued,
    /// To the replicas listening now, each on a queue of its own (`broadcast`). A cache
    /// invalidation that nobody hears has nothing to invalidate, so it is not `mandatory`.
    Broadcast,
}

impl Message {
    pub const fn delivery(&self) -> Delivery {
        match self {
            Self::PolicyUpdatedV1(_)
            | Self::ProjectChangedV1(_)
            | Self::TenantUpdatedV1(_)
            | Self::KnowledgeBaseChangedV1(_)
            | Self::SupervisionExchangedV1(_)
            | Self::ScenariosChangedV1(_)
            // Until forms-analytics consumes it (its issue makes it queued with its consumer), a
            // question nobody listens to is dropped, not kept in a queue outside every sweep.
            | Self::QuestionAskedV1(_) => Delivery::Broadcast,
            Self::TenantCreatedV1(_)
            | Self::UserErasedV1(_)
            | Self::ProjectDeletedV1(_)
            | Self::ErasureRequestedV1(_)
            | Self::ErasureCompletedV1(_)
            | Self::ExportRequestedV1(_)
            | Self::ExportCompletedV1(_)
            | Self::SweepRequestedV1(_)
            | Self::SweepCompletedV1(_) => Delivery::Queued,
        }
    }

    pub const fn message_type(&self) -> &'static str {
        match self {
            Self::TenantCreatedV1(_) => "tenant.created",
            Self::UserErasedV1(_) => "user.erased",
            Self::PolicyUpdatedV1(_) => "policy.updated",
            Self::ProjectChangedV1(_) => "project.changed",
            Self::ProjectDeletedV1(_) => "project.deleted",
            Self::TenantUpdatedV1(_) => "tenant.updated",
            Self::KnowledgeBaseChangedV1(_) => "knowledge_base.changed",
            Self::QuestionAskedV1(_) => "question.asked",
            Self::ScenariosChangedV1(_) => "scenarios.changed",
            Self::SupervisionExchangedV1(_) => "supervision.exchanged",
            Self::ErasureRequestedV1(_) => "erasure.requested",
            Self::ErasureCompletedV1(_) => "erasure.completed",
            Self::ExportRequestedV1(_) => "export.requested",
            Self::ExportCompletedV1(_) => "export.completed",
            Self::SweepRequestedV1(_) => "sweep.requested",
            Self::SweepCompletedV1(_) => "sweep.completed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyUpdated {
    pub tenant_id: TenantId,
    pub version: i32,
}

/// One visitor input as the assistant keeps it (category `assistant_inputs`): `input_id` is the
/// same row's id, so a consumer that hears it twice counts it once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuestionAsked {
    pub input_id: Uuid,
    pub project_id: Uuid,
    pub day: chrono::NaiveDate,
    pub language: Option<String>,
    /// E-mail addresses, phone numbers, IBANs, card numbers, IP addresses and URL queries masked.
    pub masked_text: String,
    pub matched_entry_id: Option<Uuid>,
    /// 0..1.
    pub score: f32,
    pub answered: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SupervisionExchanged {
    pub project_id: Uuid,
    pub session_id: String,
    /// The tenant's pseudonymous visitor id; an erasure of the visitor purges these messages from
    /// the outbox too.
    pub visitor_id: Uuid,
    /// The visitor's message and the assistant's reply, in order.
    pub message_ids: Vec<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectDeleted {
    pub tenant_id: TenantId,
    pub project_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectChanged {
    pub tenant_id: TenantId,
    pub project_id: Uuid,
    pub deleted: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeBaseChanged {
    pub tenant_id: TenantId,
    pub project_id: Uuid,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantUpdated {
    pub tenant_id: TenantId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserErased {
    pub tenant_id: TenantId,
    pub user_id: UserId,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TenantCreated {
    pub tenant_id: TenantId,
    pub slug: String,
    pub name: String,
    pub contract_end: Option<DateTime<Utc>>,
}

/// Who a data-subject request is about. A visitor is known by `cz_vid`, a tenant user by id,
/// anyone by an e-mail address they gave.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSubject {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubjectRequest {
    pub request_id: Uuid,
    pub subject: DataSubject,
    pub deadline: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErasureReceipt {
    pub request_id: Uuid,
    pub service: String,
    /// Rows erased per retention category.
    pub counts: BTreeMap<RetentionCategory, u64>,
    pub completed_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportReceipt {
    pub request_id: Uuid,
    pub service: String,
    pub counts: BTreeMap<RetentionCategory, u64>,
    /// Everything the service holds about the subject, machine-readable.
    pub bundle: serde_json::Value,
    pub completed_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRequest {
    pub run_id: Uuid,
    /// Rows older than the cutoff of their category are past retention.
    pub cutoffs: BTreeMap<RetentionCategory, DateTime<Utc>>,
    pub dry_run: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepReceipt {
    pub run_id: Uuid,
    pub service: String,
    pub dry_run: bool,
    /// Rows deleted per category, or that would be when the run is dry.
    pub counts: BTreeMap<RetentionCategory, u64>,
    pub completed_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_the_documented_shape() {
        let tenant_id = TenantId::new();
        let envelope = Envelope::new(
            tenant_id,
            "accounts",
            Utc::now(),
            Message::TenantCreatedV1(TenantCreated {
                tenant_id,
                slug: "acme".into(),
                name: "Acme".into(),
                contract_end: None,
            }),
        );
        let json = serde_json::to_value(&envelope).unwrap();
        assert_eq!(json["type"], "tenant.created");
        assert_eq!(json["payload"]["slug"], "acme");
        assert_eq!(json["tenant_id"], tenant_id.to_string());
        assert_eq!(envelope.routing_key(), "accounts.tenant.created");
        let back: Envelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, envelope);
    }

    /// The services that publish each type; a new variant does not compile until it is listed,
    /// with an example in `one_of_each`.
    fn producers(message: &Message) -> &'static [&'static str] {
        const DATA_SERVICES: &[&str] = &["accounts", "assistant", "live_chat", "forms_analytics"];
        match message {
            Message::TenantCreatedV1(_)
            | Message::UserErasedV1(_)
            | Message::PolicyUpdatedV1(_)
            | Message::ProjectChangedV1(_)
            | Message::ProjectDeletedV1(_)
            | Message::TenantUpdatedV1(_) => &["accounts"],
            Message::KnowledgeBaseChangedV1(_)
            | Message::ScenariosChangedV1(_)
            | Message::QuestionAskedV1(_)
            | Message::SupervisionExchangedV1(_) => &["assistant"],
            Message::ErasureRequestedV1(_) | Message::ExportRequestedV1(_) | Message::SweepRequestedV1(_) => {
                &["retention"]
            }
            Message::ErasureCompletedV1(_) | Message::ExportCompletedV1(_) | Message::SweepCompletedV1(_) => {
                DATA_SERVICES
            }
        }
    }

    fn one_of_each() -> Vec<Message> {
        let tenant_id = TenantId::new();
        let request =
            SubjectRequest { request_id: Uuid::now_v7(), subject: DataSubject::default(), deadline: Utc::now() };
        let counts = BTreeMap::new();
        vec![
            Message::TenantCreatedV1(TenantCreated {
                tenant_id,
                slug: "acme".into(),
                name: "Acme".into(),
                contract_end: None,
            }),
            Message::UserErasedV1(UserErased { tenant_id, user_id: UserId::new() }),
            Message::PolicyUpdatedV1(PolicyUpdated { tenant_id, version: 1 }),
            Message::ProjectChangedV1(ProjectChanged { tenant_id, project_id: Uuid::now_v7(), deleted: false }),
            Message::ProjectDeletedV1(ProjectDeleted { tenant_id, project_id: Uuid::now_v7() }),
            Message::TenantUpdatedV1(TenantUpdated { tenant_id }),
            Message::KnowledgeBaseChangedV1(KnowledgeBaseChanged { tenant_id, project_id: Uuid::now_v7() }),
            Message::ScenariosChangedV1(KnowledgeBaseChanged { tenant_id, project_id: Uuid::now_v7() }),
            Message::QuestionAskedV1(QuestionAsked {
                input_id: Uuid::now_v7(),
                project_id: Uuid::now_v7(),
                day: Utc::now().date_naive(),
                language: Some("fr".into()),
                masked_text: "délai de livraison pour [email]".into(),
                matched_entry_id: None,
                score: 0.2,
                answered: false,
            }),
            Message::SupervisionExchangedV1(SupervisionExchanged {
                project_id: Uuid::now_v7(),
                session_id: "pk_x.y".into(),
                visitor_id: Uuid::new_v4(),
                message_ids: vec![Uuid::now_v7(), Uuid::now_v7()],
            }),
            Message::ErasureRequestedV1(request.clone()),
            Message::ErasureCompletedV1(ErasureReceipt {
                request_id: request.request_id,
                service: "accounts".into(),
                counts: counts.clone(),
                completed_at: Utc::now(),
            }),
            Message::ExportRequestedV1(request.clone()),
            Message::ExportCompletedV1(ExportReceipt {
                request_id: request.request_id,
                service: "accounts".into(),
                counts: counts.clone(),
                bundle: serde_json::json!({}),
                completed_at: Utc::now(),
            }),
            Message::SweepRequestedV1(SweepRequest { run_id: Uuid::now_v7(), cutoffs: BTreeMap::new(), dry_run: true }),
            Message::SweepCompletedV1(SweepReceipt {
                run_id: Uuid::now_v7(),
                service: "accounts".into(),
                dry_run: true,
                counts,
                completed_at: Utc::now(),
            }),
        ]
    }

    #[test]
    fn every_queued_message_type_has_a_queue_for_each_producer() {
        let messages = one_of_each();
        let mut types: Vec<&str> = messages.iter().map(Message::message_type).collect();
        types.sort_unstable();
        types.dedup();
        assert_eq!(types.len(), messages.len(), "one example of each type");
        for message in &messages {
            if message.delivery() != Delivery::Queued {
                continue;
            }
            for producer in producers(message) {
                let routing_key = format!("{producer}.{}", message.message_type());
                assert!(
                    !crate::topology::consumers_of(&routing_key).is_empty(),
                    "no queue is bound to {routing_key}: the broker would drop it"
                );
            }
        }
    }

    #[test]
    fn unknown_types_are_refused() {
        let json = serde_json::json!({
            "id": Uuid::now_v7(), "tenant_id": Uuid::now_v7(), "occurred_at": Utc::now(),
            "producer": "accounts", "type": "tenant.exploded", "payload": {}
        });
        assert!(serde_json::from_value::<Envelope>(json).is_err());
    }
}
