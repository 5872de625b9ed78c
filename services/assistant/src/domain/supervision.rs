//! Supervision: a widget session's exchanges with the assistant are kept (category
//! `supervised_sessions`) and announced to live chat's supervision stream only while the project
//! has supervision on and the visitor's latest decision for the project's supervision purpose
//! grants it. The decision is read at each message, so a withdrawal stops both at once.

use causerie_bus::message::SupervisionExchanged;
use causerie_bus::{Envelope, Message};
use causerie_core::{Error, TenantId};
use uuid::Uuid;

use crate::AppState;
use crate::domain::projects::Project;
use crate::domain::replies::Session;
use crate::store::{self, SupervisedMessage};

/// The visitor whose session is supervised now: `None` unless the project has supervision on
/// with a purpose and the visitor's latest decision for it grants it. Asked before the reply is
/// made, so that an unreachable ledger fails the message before anything is written.
pub async fn supervised_visitor(
    state: &AppState,
    tenant_id: TenantId,
    project: &Project,
    session: &Session<'_>,
) -> Result<Option<Uuid>, Error> {
    let (Some(purpose), Some(visitor_id)) = (project.supervision_purpose.as_deref(), session.visitor_id) else {
        return Ok(None);
    };
    if !project.supervision_enabled || !state.projects.consents(tenant_id, visitor_id, purpose).await? {
        return Ok(None);
    }
    Ok(Some(visitor_id))
}

/// Keeps the visitor's `question` and the assistant's `answer` of a supervised session. The
/// reply is made by then: a failure here is logged, not answered, so that the visitor's retry
/// does not run the session twice.
pub async fn keep_exchange(
    state: &AppState,
    tenant_id: TenantId,
    project: &Project,
    session: &Session<'_>,
    visitor_id: Uuid,
    (question, answer): (&str, &str),
) {
    if let Err(error) = write_exchange(state, tenant_id, project, session, visitor_id, (question, answer)).await {
        tracing::error!(%error, project.id = %project.id, "a supervised exchange was not kept");
    }
}

async fn write_exchange(
    state: &AppState,
    tenant_id: TenantId,
    project: &Project,
    session: &Session<'_>,
    visitor_id: Uuid,
    (question, answer): (&str, &str),
) -> Result<(), Error> {
    let now = state.clock.now();
    let message = |author: &'static str, text: &str| SupervisedMessage {
        id: Uuid::now_v7(),
        project_id: project.id,
        session_id: session.session_id.to_owned(),
        visitor_id,
        author,
        text: text.to_owned(),
        created_at: now,
    };
    let messages = [message("visitor", question), message("assistant", answer)];
    let exchanged = Message::SupervisionExchangedV1(SupervisionExchanged {
        project_id: project.id.as_uuid(),
        session_id: session.session_id.to_owned(),
        visitor_id,
        message_ids: messages.iter().map(|message| message.id).collect(),
    });
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    for message in &messages {
        store::insert_supervised_message(&mut transaction, tenant_id, message).await?;
    }
    causerie_bus::outbox::enqueue(&mut transaction, &Envelope::new(tenant_id, "assistant", now, exchanged)).await?;
    transaction.commit().await?;
    Ok(())
}
