//! The assistant's reply to what a visitor typed: the next step of the scenario the session is
//! in, a scenario the question starts, the entry that answers it, or a fallback with the likeliest
//! entries to choose from. A question is kept for the statistics only masked, and with nothing
//! that links it to the visitor or the session (category `assistant_inputs`); a reply to a
//! scenario's step is not kept at all.

use causerie_bus::message::QuestionAsked;
use causerie_bus::{Envelope, Message};
use causerie_core::{Error, ProjectId, TenantId};
use uuid::Uuid;

use crate::AppState;
use crate::domain::masking::{PLACEHOLDERS, mask};
use crate::domain::matching::{DEFAULT_THRESHOLD, IndexedEntry, SUGGESTIONS, Verdict};
use crate::domain::projects::Project;
use crate::domain::scenarios::{self, Scenario, StepKind};
use crate::domain::sessions::{self, Answer, Place, SessionRecord, Stop};
use crate::domain::supervision;
use crate::store::{self, NewInput};

/// Longer than any question; a visitor pasting a page gets a clear error.
const MAX_QUESTION: usize = 2_000;

#[derive(Debug, PartialEq)]
pub enum ReplyKind {
    Answer,
    Fallback,
    /// A step of a scenario.
    Step,
    /// The visitor asked for a person, or a scenario hands over to one.
    Handoff,
}

impl ReplyKind {
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Fallback => "fallback",
            Self::Step => "step",
            Self::Handoff => "handoff",
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
    /// The scenario step now waiting for the visitor, if one is.
    pub step: Option<StepShown>,
}

/// A scenario's step as the widget shows it.
#[derive(Debug)]
pub struct StepShown {
    pub scenario_id: Uuid,
    pub step_id: String,
    pub kind: &'static str,
    /// A choice's options, in order (the visitor may also answer with their number).
    pub options: Vec<String>,
    pub form_id: Option<String>,
    /// A consent step's purpose, and the version of the consent text it shows.
    pub purpose: Option<String>,
    pub text_version: Option<i32>,
}

/// The session the question comes from, as the gateway knows it from the widget's cookies.
pub struct Session<'a> {
    pub session_id: &'a str,
    pub visitor_id: Option<Uuid>,
}

/// A session with what the assistant keeps of it.
struct Kept<'a> {
    session: &'a Session<'a>,
    record: SessionRecord,
}

/// Keeps the language the visitor chose for a new session: its questions are matched in it.
pub async fn start_session(
    state: &AppState,
    tenant_id: TenantId,
    project_id: &str,
    session_id: &str,
    language: &str,
) -> Result<(), Error> {
    let project = state.projects.of_tenant(tenant_id, project_id).await?;
    if !project.languages.iter().any(|known| known == language) {
        return Err(Error::invalid_field("language", "is not one of the project's languages"));
    }
    if session_id.is_empty() || session_id.len() > 200 {
        return Err(Error::invalid_field("session_id", "1 to 200 characters"));
    }
    let record = SessionRecord { language: Some(language.to_owned()), place: None };
    state.sessions.put(project.id, session_id, &record).await
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
/// gateway, which resolved the visitor's widget), in `session` when the widget has one; the
/// exchange is kept when the session is supervised.
pub async fn reply(
    state: &AppState,
    tenant_id: TenantId,
    project_id: &str,
    text: &str,
    language: Option<&str>,
    session: Option<Session<'_>>,
) -> Result<Reply, Error> {
    let project = state.projects.of_tenant(tenant_id, project_id).await?;
    let text = question(text)?;
    let kept = match &session {
        Some(session) => Some(Kept { session, record: state.sessions.record(project.id, session.session_id).await? }),
        None => None,
    };
    // The language the visitor chose for the session, unless the caller names one.
    let language = language.or_else(|| kept.as_ref().and_then(|kept| kept.record.language.as_deref()));
    let supervised = match &session {
        Some(session) => supervision::supervised_visitor(state, tenant_id, &project, session).await?,
        None => None,
    };
    let reply = reply_to(state, tenant_id, &project, text, language, kept.as_ref()).await?;
    if let (Some(session), Some(visitor_id)) = (&session, supervised) {
        supervision::keep_exchange(state, tenant_id, &project, session, visitor_id, (text, &reply.text)).await;
    }
    Ok(reply)
}

async fn reply_to(
    state: &AppState,
    tenant_id: TenantId,
    project: &Project,
    text: &str,
    language: Option<&str>,
    session: Option<&Kept<'_>>,
) -> Result<Reply, Error> {
    let language = language.filter(|language| project.languages.iter().any(|known| known == language));
    if let Some(session) = &session
        && let Some(reply) = continue_scenario(state, tenant_id, project, session, text, language).await?
    {
        return Ok(reply);
    }
    // Matched once masked: an e-mail address or a phone number says nothing of the question, and
    // its pieces would count as words no entry has.
    let masked = mask(text);
    let index = state.index.project(project.id);
    let ranking = index.rank(&without_placeholders(&masked), language, SUGGESTIONS + 1);
    let mut reply = match ranking.verdict(project.match_threshold.unwrap_or(DEFAULT_THRESHOLD)) {
        Verdict::Answer { entry, confidence } => Reply {
            kind: ReplyKind::Answer,
            text: entry.answer.clone(),
            entry_id: Some(entry.id),
            confidence,
            suggestions: Vec::new(),
            language: ranking.language.clone(),
            step: None,
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
            step: None,
        },
    };
    record_input(state, tenant_id, project.id, &masked, &reply).await?;
    if let Some(session) = &session
        && let Some(scenario) = triggered(state, tenant_id, project, text, &reply).await?
    {
        reply = start_scenario(state, project, session, &scenario, reply).await?;
    }
    Ok(reply)
}

/// The project's scenario that the question, or the entry that answers it, starts.
async fn triggered(
    state: &AppState,
    tenant_id: TenantId,
    project: &Project,
    text: &str,
    reply: &Reply,
) -> Result<Option<Scenario>, Error> {
    let scenarios = scenarios::of_project(state, tenant_id, project.id).await?;
    let by_entry = reply
        .entry_id
        .filter(|_| reply.kind == ReplyKind::Answer)
        .and_then(|entry_id| scenarios.iter().position(|scenario| scenario.is_triggered_by_entry(entry_id)));
    let found = by_entry.or_else(|| scenarios.iter().position(|scenario| scenario.is_triggered_by_text(text)));
    Ok(found.and_then(|position| scenarios.get(position).cloned()))
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
    let asked = Message::QuestionAskedV1(QuestionAsked {
        input_id: input.id,
        project_id: project_id.as_uuid(),
        day: input.day,
        language: input.language.map(str::to_owned),
        masked_text: masked.to_owned(),
        matched_entry_id: input.matched_entry_id,
        score: input.score,
        answered: input.answered,
    });
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    store::insert_input(&mut transaction, tenant_id, &input).await?;
    // In the same transaction: the announcement goes out for every kept input, and no other.
    causerie_bus::outbox::enqueue(&mut transaction, &Envelope::new(tenant_id, "assistant", state.clock.now(), asked))
        .await?;
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

/// The reply when the session waits at a scenario's step; `None` when it waits at none (or the
/// scenario changed under it), so that the text is matched as any question.
async fn continue_scenario(
    state: &AppState,
    tenant_id: TenantId,
    project: &Project,
    session: &Kept<'_>,
    text: &str,
    language: Option<&str>,
) -> Result<Option<Reply>, Error> {
    let Some(place) = &session.record.place else { return Ok(None) };
    let scenarios = scenarios::of_project(state, tenant_id, project.id).await?;
    let waiting = scenarios.iter().find(|scenario| scenario.id == place.scenario_id).and_then(|scenario| {
        scenario.step(&place.step_id).filter(|step| step.kind.waits()).map(|step| (scenario, step))
    });
    let Some((scenario, step)) = waiting else {
        keep_place(state, project, session, None).await?;
        return Ok(None);
    };
    // A decision is recorded for what the visitor was shown: a consent step whose purpose or
    // consent text changed since is asked again.
    let stale_consent = matches!(&step.kind, StepKind::Consent { purpose }
        if place.purpose.as_ref() != Some(purpose) || place.text_version != Some(project.policy.consent_text_version));
    let answer = if stale_consent { Answer::Again } else { sessions::answer(step, text) };
    match answer {
        // Asked twice and still not understood: the visitor wants something else.
        Answer::Again if place.repeated && !stale_consent => {
            keep_place(state, project, session, None).await?;
            Ok(None)
        }
        Answer::Again => Ok(Some(step_reply(state, project, session, scenario, Some(&step.id), language, true).await?)),
        Answer::Next { next, consent } => {
            if let (Some(granted), StepKind::Consent { purpose }) = (consent, &step.kind) {
                let visitor_id = session
                    .session
                    .visitor_id
                    .ok_or_else(|| Error::unauthenticated("a consent is recorded for a visitor: no visitor id"))?;
                let text_version = project.policy.consent_text_version;
                state.projects.record_scenario_consent(project, visitor_id, purpose, granted, text_version).await?;
            }
            Ok(Some(step_reply(state, project, session, scenario, next.as_deref(), language, false).await?))
        }
    }
}

/// The scenario the question started, from its first step; the match that started it stays
/// named in the reply.
async fn start_scenario(
    state: &AppState,
    project: &Project,
    session: &Kept<'_>,
    scenario: &Scenario,
    matched: Reply,
) -> Result<Reply, Error> {
    let first = scenario.fields.steps.first().map(|step| step.id.as_str());
    let language = matched.language.as_deref();
    let reply = step_reply(state, project, session, scenario, first, language, false).await?;
    Ok(Reply { entry_id: matched.entry_id, confidence: matched.confidence, ..reply })
}

/// Walks the scenario from `from`, keeps where it stops in the session, and says it; `repeated`:
/// the step is asked again.
async fn step_reply(
    state: &AppState,
    project: &Project,
    session: &Kept<'_>,
    scenario: &Scenario,
    from: Option<&str>,
    language: Option<&str>,
    repeated: bool,
) -> Result<Reply, Error> {
    let language = language.or_else(|| project.languages.first().map(String::as_str));
    let walked = sessions::walk(scenario, from, project);
    let mut texts = walked.texts;
    let (kind, step) = match walked.stop {
        Stop::Waiting(step) => {
            let shown = shown(scenario, step, project);
            let place = Place {
                scenario_id: scenario.id,
                step_id: step.id.clone(),
                text_version: shown.text_version,
                purpose: shown.purpose.clone(),
                repeated,
            };
            keep_place(state, project, session, Some(place)).await?;
            (ReplyKind::Step, Some(shown))
        }
        Stop::Handoff => {
            keep_place(state, project, session, None).await?;
            // Live chat is not there yet: no operator can take over.
            texts.push(no_operator_text(language).to_owned());
            texts.extend(project.offline_message.clone());
            (ReplyKind::Handoff, None)
        }
        Stop::End => {
            keep_place(state, project, session, None).await?;
            if texts.is_empty() {
                texts.push(end_text(language).to_owned());
            }
            (ReplyKind::Step, None)
        }
    };
    Ok(Reply {
        kind,
        text: texts.join("\n\n"),
        entry_id: None,
        confidence: 0.0,
        suggestions: Vec::new(),
        language: language.map(str::to_owned),
        step,
    })
}

/// Keeps where the session now stands (`None`: in no scenario), with the language it chose.
async fn keep_place(
    state: &AppState,
    project: &Project,
    session: &Kept<'_>,
    place: Option<Place>,
) -> Result<(), Error> {
    let record = SessionRecord { language: session.record.language.clone(), place };
    state.sessions.put(project.id, session.session.session_id, &record).await
}

fn shown(scenario: &Scenario, step: &crate::domain::scenarios::Step, project: &Project) -> StepShown {
    let (options, form_id, purpose, text_version) = match &step.kind {
        StepKind::Choice { options } => (options.iter().map(|option| option.label.clone()).collect(), None, None, None),
        StepKind::Form { form_id } => (Vec::new(), Some(form_id.clone()), None, None),
        StepKind::Consent { purpose } => {
            (Vec::new(), None, Some(purpose.clone()), Some(project.policy.consent_text_version))
        }
        _ => (Vec::new(), None, None, None),
    };
    StepShown {
        scenario_id: scenario.id,
        step_id: step.id.clone(),
        kind: step.kind.as_str(),
        options,
        form_id,
        purpose,
        text_version,
    }
}

fn no_operator_text(language: Option<&str>) -> &'static str {
    match language {
        Some("fr") => "Aucun opérateur ne peut être joint pour le moment.",
        _ => "No operator can be reached right now.",
    }
}

fn end_text(language: Option<&str>) -> &'static str {
    match language {
        Some("fr") => "Merci.",
        _ => "Thank you.",
    }
}
