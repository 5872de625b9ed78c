//! What the assistant does with what it hears: the commands on its queue (a user's erasure, a
//! project's deletion, the data-subject requests and sweeps of retention), each applied in the envelope's tenant
//! transaction with its receipt; and the broadcasts that a knowledge base or a project's scenarios
//! changed, which every replica hears to rebuild that project's index or drop its scenarios.

use std::collections::BTreeMap;

use causerie_bus::broadcast::{self, Heard};
use causerie_bus::message::{ErasureReceipt, ExportReceipt, KnowledgeBaseChanged, SweepReceipt};
use causerie_bus::{Bus, Envelope, HandlerError, Message, MessageHandler};
use causerie_core::{Clock, ProjectId, RetentionCategory, TenantId};
use sqlx::PgConnection;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::domain::entries;
use crate::store;

const PRODUCER: &str = "assistant";

pub struct AssistantHandler {
    pub clock: Clock,
}

impl MessageHandler for AssistantHandler {
    async fn handle(&self, envelope: &Envelope, transaction: &mut PgConnection) -> Result<(), HandlerError> {
        let now = self.clock.now();
        let receipt = match &envelope.message {
            // Entries name their author by user id only, and accounts keeps that id as the erased
            // user's tombstone: the entries already name nobody, and keep an author.
            Message::UserErasedV1(_) => return Ok(()),
            // A deleted project's content goes with it; every replica drops its index.
            Message::ProjectDeletedV1(deleted) => {
                let project_id = ProjectId::from_uuid(deleted.project_id);
                store::delete_project_content(transaction, project_id).await?;
                let changed = Message::KnowledgeBaseChangedV1(KnowledgeBaseChanged {
                    tenant_id: envelope.tenant_id,
                    project_id: deleted.project_id,
                });
                causerie_bus::outbox::enqueue(transaction, &Envelope::new(envelope.tenant_id, PRODUCER, now, changed))
                    .await?;
                return Ok(());
            }
            // The inputs carry no visitor id, so no visitor's request reaches one; supervised
            // sessions are the assistant's only rows linked to a visitor.
            Message::ErasureRequestedV1(request) => {
                let mut counts = BTreeMap::new();
                if let Some(visitor_id) = request.subject.visitor_id {
                    let erased = store::erase_visitor_supervised_messages(transaction, visitor_id).await?;
                    counts.insert(RetentionCategory::SupervisedSessions, erased);
                }
                Message::ErasureCompletedV1(ErasureReceipt {
                    request_id: request.request_id,
                    service: PRODUCER.to_owned(),
                    counts,
                    completed_at: now,
                })
            }
            Message::ExportRequestedV1(request) => {
                let messages = match request.subject.visitor_id {
                    Some(visitor_id) => store::visitor_supervised_messages(transaction, visitor_id).await?,
                    None => Vec::new(),
                };
                let counts = BTreeMap::from([(
                    RetentionCategory::SupervisedSessions,
                    u64::try_from(messages.len()).unwrap_or(u64::MAX),
                )]);
                Message::ExportCompletedV1(ExportReceipt {
                    request_id: request.request_id,
                    service: PRODUCER.to_owned(),
                    counts,
                    bundle: serde_json::json!({ "supervised_messages": messages }),
                    completed_at: now,
                })
            }
            Message::SweepRequestedV1(sweep) => {
                let mut counts = BTreeMap::new();
                if let Some(cutoff) = sweep.cutoffs.get(&RetentionCategory::AssistantInputs) {
                    let swept = store::sweep_inputs(transaction, cutoff.date_naive(), sweep.dry_run).await?;
                    counts.insert(RetentionCategory::AssistantInputs, swept);
                }
                if let Some(cutoff) = sweep.cutoffs.get(&RetentionCategory::SupervisedSessions) {
                    let swept = store::sweep_supervised_messages(transaction, *cutoff, sweep.dry_run).await?;
                    counts.insert(RetentionCategory::SupervisedSessions, swept);
                }
                Message::SweepCompletedV1(SweepReceipt {
                    run_id: sweep.run_id,
                    service: PRODUCER.to_owned(),
                    dry_run: sweep.dry_run,
                    counts,
                    completed_at: now,
                })
            }
            other => {
                return Err(HandlerError::Permanent(format!("the assistant does not handle {}", other.message_type())));
            }
        };
        let receipt = Envelope::new(envelope.tenant_id, PRODUCER, now, receipt);
        causerie_bus::outbox::enqueue(transaction, &receipt).await?;
        Ok(())
    }
}

const RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// What the index worker is asked to do.
enum Rebuild {
    Project { tenant_id: TenantId, project_id: ProjectId },
    Everything,
}

/// Keeps this replica's indexes in step with every replica's edits, until `shutdown`: a project
/// is rebuilt when its change is heard, and everything when changes may have gone unheard.
pub async fn follow_knowledge_bases(state: AppState, bus: Bus, shutdown: CancellationToken) {
    let (rebuilds, mut pending) = mpsc::unbounded_channel();
    let scenario_copies = state.scenarios.clone();
    let listener = broadcast::listen(
        bus,
        &["assistant.knowledge_base.changed", "assistant.scenarios.changed"],
        move |heard| match heard {
            Heard::Event(envelope) => match envelope.message {
                Message::KnowledgeBaseChangedV1(changed) => {
                    let project_id = ProjectId::from_uuid(changed.project_id);
                    drop(rebuilds.send(Rebuild::Project { tenant_id: envelope.tenant_id, project_id }));
                }
                Message::ScenariosChangedV1(changed) => {
                    scenario_copies.remove(&ProjectId::from_uuid(changed.project_id));
                }
                _ => {}
            },
            Heard::MayHaveMissedEvents => {
                scenario_copies.clear();
                drop(rebuilds.send(Rebuild::Everything));
            }
            Heard::Unsubscribed => {}
        },
        shutdown.clone(),
    );
    let worker = async {
        while let Some(rebuild) = pending.recv().await {
            // A rebuild that fails (the database away) is tried again until it succeeds: an index
            // left stale would answer with entries that changed.
            while let Err(error) = apply(&state, &rebuild).await {
                tracing::warn!(%error, "a knowledge base index could not be rebuilt; trying again");
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    };
    tokio::select! {
        () = listener => {}
        () = worker => {}
    }
}

async fn apply(state: &AppState, rebuild: &Rebuild) -> Result<(), causerie_core::Error> {
    match rebuild {
        Rebuild::Project { tenant_id, project_id } => entries::reindex(state, *tenant_id, *project_id).await,
        Rebuild::Everything => entries::reindex_all(state).await,
    }
}
