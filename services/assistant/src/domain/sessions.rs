//! A widget session as the assistant keeps it in Redis, for half an hour after the last message:
//! the language the visitor chose, and where the session stands in a scenario (which scenario,
//! which step waits for the visitor, the consent text version shown), never what the visitor
//! typed. `walk` runs the steps that need no answer and stops at the first that does; `answer`
//! reads the visitor's reply to a waiting step.

use causerie_core::policy::PrivacyPolicy;
use causerie_core::{Error, ProjectId};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::projects::Project;
use crate::domain::scenarios::{Scenario, Step, StepKind, folded_words};

/// Half an hour without a message ends the scenario, and the assistant forgets the session.
const PLACE_SECONDS: u64 = 30 * 60;

/// What the assistant keeps of a widget session.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The language the visitor chose when the session started.
    pub language: Option<String>,
    pub place: Option<Place>,
}

/// Where a session stands in a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Place {
    pub scenario_id: Uuid,
    /// The step waiting for the visitor's answer.
    pub step_id: String,
    /// For a consent step, the purpose and the version of the consent text shown, which the
    /// record cites.
    pub text_version: Option<i32>,
    #[serde(default)]
    pub purpose: Option<String>,
    /// The step was asked again already: another reply it does not understand leaves the
    /// scenario, and is matched as a question.
    #[serde(default)]
    pub repeated: bool,
}

#[derive(Clone)]
pub struct Sessions {
    redis: ConnectionManager,
    namespace: String,
}

impl Sessions {
    pub fn new(redis: ConnectionManager, namespace: &str) -> Self {
        Self { redis, namespace: namespace.to_owned() }
    }

    fn key(&self, project_id: ProjectId, session_id: &str) -> String {
        format!("{}:assistant:session:{project_id}:{session_id}", self.namespace)
    }

    /// The session's record; an empty one for a session the assistant keeps nothing of.
    pub async fn record(&self, project_id: ProjectId, session_id: &str) -> Result<SessionRecord, Error> {
        let stored: Option<String> =
            self.redis.clone().get(self.key(project_id, session_id)).await.map_err(unavailable)?;
        // A record this version cannot read is none: the visitor starts afresh.
        Ok(stored.and_then(|stored| serde_json::from_str(&stored).ok()).unwrap_or_default())
    }

    /// Keeps `record` for another half hour; an empty record is dropped.
    pub async fn put(&self, project_id: ProjectId, session_id: &str, record: &SessionRecord) -> Result<(), Error> {
        let key = self.key(project_id, session_id);
        if *record == SessionRecord::default() {
            return self.redis.clone().del::<_, ()>(key).await.map_err(unavailable);
        }
        let value = serde_json::to_string(record).map_err(Error::internal)?;
        self.redis.clone().set_ex::<_, _, ()>(key, value, PLACE_SECONDS).await.map_err(unavailable)
    }
}

fn unavailable(error: redis::RedisError) -> Error {
    tracing::warn!(%error, "scenario sessions unavailable");
    Error::unavailable("the assistant's sessions are unavailable; retry")
}

/// Where a walk through the steps stopped.
#[derive(Debug)]
pub enum Stop<'s> {
    /// At a step the visitor answers.
    Waiting(&'s Step),
    /// At a handoff: an operator is to take over.
    Handoff,
    /// The scenario is over.
    End,
}

/// What the visitor is shown: the texts of the steps passed, in order, and where they stopped.
#[derive(Debug)]
pub struct Walked<'s> {
    pub texts: Vec<String>,
    pub stop: Stop<'s>,
}

/// Runs the steps from `from` that need no answer (messages, credits), gathering their texts, up
/// to the first that waits for the visitor, a handoff, or the end. A loop of steps that never
/// waits ends after as many steps as the scenario has.
pub fn walk<'s>(scenario: &'s Scenario, from: Option<&str>, project: &Project) -> Walked<'s> {
    let mut texts = Vec::new();
    let mut at = from;
    for _ in 0..scenario.fields.steps.len() {
        let Some(step) = at.and_then(|id| scenario.step(id)) else { break };
        if step.kind.waits() {
            texts.push(step.text.clone());
            // What the visitor consents to is the policy's versioned text, which the record cites.
            if matches!(step.kind, StepKind::Consent { .. }) && !project.policy.document.consent_text.is_empty() {
                texts.push(project.policy.document.consent_text.clone());
            }
            return Walked { texts, stop: Stop::Waiting(step) };
        }
        match step.kind {
            StepKind::Handoff => {
                if !step.text.is_empty() {
                    texts.push(step.text.clone());
                }
                return Walked { texts, stop: Stop::Handoff };
            }
            StepKind::Credits if project.credits_sequence => {
                if !step.text.is_empty() {
                    texts.push(step.text.clone());
                }
                texts.push(credits(&project.policy));
            }
            // The tenant has the credits sequence off: the step is passed over.
            StepKind::Credits => {}
            _ => texts.push(step.text.clone()),
        }
        at = step.next.as_deref();
    }
    Walked { texts, stop: Stop::End }
}

/// The "credits" of the vendor's note: who the controller is and how to reach it and its DPO,
/// the purposes with their legal bases, and the recipients.
pub fn credits(policy: &PrivacyPolicy) -> String {
    let document = &policy.document;
    let mut lines = Vec::new();
    let controller = &document.controller;
    let contact: Vec<&str> =
        [controller.address.as_str(), controller.email.as_str()].into_iter().filter(|part| !part.is_empty()).collect();
    lines.push(format!("Controller: {}{}", controller.name, joined(&contact)));
    if !document.dpo.name.is_empty() || !document.dpo.email.is_empty() {
        let dpo: Vec<&str> = [document.dpo.name.as_str(), document.dpo.email.as_str()]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect();
        lines.push(format!("Data protection officer: {}", dpo.join(", ")));
    }
    if !document.purposes.is_empty() {
        lines.push("Purposes:".to_owned());
        for purpose in &document.purposes {
            lines.push(format!("- {} (legal basis: {})", purpose.name, purpose.legal_basis.as_str().replace('_', " ")));
        }
    }
    if !document.recipients.is_empty() {
        lines.push(format!("Recipients: {}", document.recipients.join(", ")));
    }
    lines.join("\n")
}

fn joined(parts: &[&str]) -> String {
    if parts.is_empty() { String::new() } else { format!(", {}", parts.join(", ")) }
}

/// What the visitor's reply does to a waiting step.
#[derive(Debug, PartialEq)]
pub enum Answer {
    /// On to this step (`None`: the scenario is over); with a consent step, the decision taken.
    Next { next: Option<String>, consent: Option<bool> },
    /// Not understood: the step is asked again.
    Again,
}

const YES: [&str; 12] =
    ["oui", "yes", "ok", "d accord", "j accepte", "accepte", "accept", "i accept", "agree", "i agree", "y", "o"];
const NO: [&str; 9] = ["non", "no", "refuse", "je refuse", "i refuse", "n", "pas d accord", "decline", "i decline"];

pub fn answer(step: &Step, text: &str) -> Answer {
    let words = folded_words(text);
    match &step.kind {
        StepKind::Choice { options } => {
            // A label said whole first (a label may be a number), then an option's number, then
            // a label within a sentence.
            let padded = format!(" {words} ");
            let chosen = options
                .iter()
                .find(|option| words == folded_words(&option.label))
                .or_else(|| {
                    words
                        .parse::<usize>()
                        .ok()
                        .and_then(|number| number.checked_sub(1))
                        .and_then(|index| options.get(index))
                })
                .or_else(|| {
                    options.iter().find(|option| padded.contains(&format!(" {} ", folded_words(&option.label))))
                });
            match chosen {
                Some(option) => Answer::Next { next: option.next.clone(), consent: None },
                None => Answer::Again,
            }
        }
        StepKind::Consent { .. } => {
            let decision = if YES.contains(&words.as_str()) {
                Some(true)
            } else if NO.contains(&words.as_str()) {
                Some(false)
            } else {
                None
            };
            match decision {
                Some(granted) => Answer::Next { next: step.next.clone(), consent: Some(granted) },
                None => Answer::Again,
            }
        }
        _ => Answer::Next { next: step.next.clone(), consent: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scenarios::ChoiceOption;

    fn choice(labels: &[&str]) -> Step {
        let options = labels
            .iter()
            .map(|label| ChoiceOption { label: (*label).to_owned(), next: Some(format!("after-{label}")) })
            .collect();
        Step { id: "pick".to_owned(), text: "Pick".to_owned(), next: None, kind: StepKind::Choice { options } }
    }

    fn next(answer: Answer) -> Option<String> {
        match answer {
            Answer::Next { next, .. } => next,
            Answer::Again => None,
        }
    }

    #[test]
    fn a_choice_is_answered_by_its_label_its_number_or_a_sentence_holding_the_label() {
        let step = choice(&["Delivery", "Returns"]);
        assert_eq!(next(answer(&step, "returns")), Some("after-Returns".to_owned()));
        assert_eq!(next(answer(&step, "2")), Some("after-Returns".to_owned()));
        assert_eq!(next(answer(&step, "I'd like to know about delivery please")), Some("after-Delivery".to_owned()));
        assert_eq!(answer(&step, "something else"), Answer::Again);
        // A label that is a number wins over an option's position.
        let numbers = choice(&["2", "1"]);
        assert_eq!(next(answer(&numbers, "1")), Some("after-1".to_owned()));
    }

    #[test]
    fn a_consent_is_a_yes_or_a_no_in_french_or_english_and_anything_else_is_asked_again() {
        let step = Step {
            id: "ask".to_owned(),
            text: "May we?".to_owned(),
            next: Some("then".to_owned()),
            kind: StepKind::Consent { purpose: "chat_history".to_owned() },
        };
        for yes in ["Oui", "yes", "D'accord", "OK"] {
            assert_eq!(
                answer(&step, yes),
                Answer::Next { next: Some("then".to_owned()), consent: Some(true) },
                "{yes}"
            );
        }
        for no in ["non", "No", "je refuse"] {
            assert_eq!(answer(&step, no), Answer::Next { next: Some("then".to_owned()), consent: Some(false) }, "{no}");
        }
        assert_eq!(answer(&step, "maybe later"), Answer::Again);
    }
}
