//! The assistant's reply to what a visitor typed: the entry that answers it, or a fallback with
//! the likeliest entries to choose from. What was asked is kept for the statistics only masked,
//! and with nothing that links it to the visitor or the session (category `assistant_inputs`).

use causerie_core::{Error, ProjectId, TenantId};
use uuid::Uuid;

use crate::AppState;
use crate::domain::masking::{PLACEHOLDERS, mask};
use crate::domain::matching::{DEFAULT_THRESHOLD, IndexedEntry, SUGGESTIONS, Verdict};
use crate::store::{self, NewInput};

/// Longer than any question; a visitor pasting a page gets a clear error.
const MAX_QUESTION: usize = 2_000;

#[derive(Debug)]
pub enum ReplyKind {
    Answer,
    Fallback,
}

impl ReplyKind {
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Fallback => "fallback",
        }
    }
}

#[derive(Debug)]
pub struct Reply {
    pub kind: ReplyKind,
    pub text: String,
    pub entry_id: Option<Uuid>,
    pub confidence: f32,
    /// Entry ids and questions.
    pub suggestions: Vec<(Uuid, String)>,
    pub language: Option<String>,
}

/// The text of a question, trimmed; `422 text` when empty or too long.
pub fn question(text: &str) -> Result<&str, Error> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_QUESTION {
        return Err(Error::invalid_field("text", format!("must be 1 to {MAX_QUESTION} characters")));
    }
    Ok(text)
}

/// The reply to `text`, asked on project `project_id` of `tenant_id` (both vouched for by the
/// gateway, which resolved the visitor's widget).
pub async fn reply(
    state: &AppState,
    tenant_id: TenantId,
    project_id: &str,
    text: &str,
    language: Option<&str>,
) -> Result<Reply, Error> {
    let project = state.projects.of_tenant(tenant_id, project_id).await?;
    let text = question(text)?;
    let language = language.filter(|language| project.languages.iter().any(|known| known == language));
    // Matched once masked: an e-mail address or a phone number says nothing of the question, and
    // its pieces would count as words no entry has.
    let masked = mask(text);
    let index = state.index.project(project.id);
    let ranking = index.rank(&without_placeholders(&masked), language, SUGGESTIONS + 1);
    let reply = match ranking.verdict(project.match_threshold.unwrap_or(DEFAULT_THRESHOLD)) {
        Verdict::Answer { entry, confidence } => Reply {
            kind: ReplyKind::Answer,
            text: entry.answer.clone(),
            entry_id: Some(entry.id),
            confidence,
            suggestions: Vec::new(),
            language: ranking.language.clone(),
        },
        Verdict::Fallback { confidence, suggestions } => Reply {
            kind: ReplyKind::Fallback,
            text: fallback_text(ranking.language.as_deref(), !suggestions.is_empty()).to_owned(),
            entry_id: None,
            confidence,
            suggestions: suggestions
                .into_iter()
                .map(|entry: &IndexedEntry| (entry.id, entry.question.clone()))
                .collect(),
            language: ranking.language.clone(),
        },
    };
    record_input(state, tenant_id, project.id, &masked, &reply).await?;
    Ok(reply)
}

async fn record_input(
    state: &AppState,
    tenant_id: TenantId,
    project_id: ProjectId,
    masked: &str,
    reply: &Reply,
) -> Result<(), Error> {
    let input = NewInput {
        id: Uuid::now_v7(),
        project_id,
        day: state.clock.now().date_naive(),
        language: reply.language.as_deref(),
        masked_text: masked,
        matched_entry_id: reply.entry_id.or_else(|| reply.suggestions.first().map(|(id, _)| *id)),
        score: reply.confidence,
        answered: matches!(reply.kind, ReplyKind::Answer),
    };
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    store::insert_input(&mut transaction, tenant_id, &input).await?;
    transaction.commit().await?;
    tracing::debug!(question = %masked, kind = reply.kind.as_str(), confidence = reply.confidence, "visitor question answered");
    Ok(())
}

/// The masked text without its placeholders (`[email]`, `[phone]`...).
fn without_placeholders(masked: &str) -> String {
    let mut text = masked.to_owned();
    for placeholder in PLACEHOLDERS {
        text = text.replace(placeholder, " ");
    }
    text
}

fn fallback_text(language: Option<&str>, has_suggestions: bool) -> &'static str {
    match (language, has_suggestions) {
        (Some("fr"), true) => "Je ne suis pas sûr d'avoir compris. Vouliez-vous dire :",
        (Some("fr"), false) => "Je n'ai pas de réponse à cette question. Pouvez-vous la formuler autrement ?",
        (_, true) => "I am not sure I understood. Did you mean:",
        (_, false) => "I have no answer to that. Could you put it another way?",
    }
}
