//! Scenarios: sequences of steps a visitor is taken through (a message, a choice, a free input,
//! a form, a consent asked, the "credits" of the tenant's policy, a handoff to an operator), each
//! pointing at the next, started when an entry is matched or a keyword typed. Checked whole on
//! write: a step pointing at an unknown step, entry or purpose is named in the `422`.

use std::collections::HashSet;

use causerie_bus::message::KnowledgeBaseChanged;
use causerie_bus::{Envelope, Message};
use causerie_core::{Error, ErrorCode, FieldError, ProjectId, page};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AppState;
use crate::domain::actor::{Access, Actor};
use crate::domain::entries::project_for;
use crate::domain::matching::analysis::fold;
use crate::domain::projects::Project;
use crate::store;

const MAX_NAME: usize = 200;
const MAX_STEPS: usize = 100;
const MAX_STEP_ID: usize = 50;
const MAX_TEXT: usize = 2_000;
const MAX_OPTIONS: usize = 10;
const MAX_LABEL: usize = 100;
const MAX_TRIGGERS: usize = 50;
const MAX_KEYWORD: usize = 50;
/// Projects whose scenarios a replica keeps in memory at once.
pub const PROJECTS_KEPT: usize = 100_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioFields {
    pub name: String,
    pub triggers: Triggers,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Triggers {
    /// Entry ids: matching one of them starts the scenario instead of answering.
    pub entry_ids: Vec<String>,
    /// Words or phrases: typing one starts the scenario.
    pub keywords: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: String,
    pub text: String,
    /// `None`: the scenario ends after this step.
    pub next: Option<String>,
    #[serde(flatten)]
    pub kind: StepKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    Message,
    Choice { options: Vec<ChoiceOption> },
    Input,
    Form { form_id: String },
    Consent { purpose: String },
    Credits,
    Handoff,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChoiceOption {
    pub label: String,
    pub next: Option<String>,
}

impl StepKind {
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Message => "message",
            Self::Choice { .. } => "choice",
            Self::Input => "input",
            Self::Form { .. } => "form",
            Self::Consent { .. } => "consent",
            Self::Credits => "credits",
            Self::Handoff => "handoff",
        }
    }

    /// Whether the visitor's next message answers this step (the others lead straight on).
    pub const fn waits(&self) -> bool {
        matches!(self, Self::Choice { .. } | Self::Input | Self::Form { .. } | Self::Consent { .. })
    }
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub id: Uuid,
    pub project_id: ProjectId,
    pub fields: ScenarioFields,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Scenario {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.fields.steps.iter().find(|step| step.id == id)
    }

    /// Whether `text` (folded) holds one of the keywords as whole words.
    pub fn is_triggered_by_text(&self, text: &str) -> bool {
        let words = format!(" {} ", folded_words(text));
        self.fields.triggers.keywords.iter().any(|keyword| words.contains(&format!(" {} ", folded_words(keyword))))
    }

    pub fn is_triggered_by_entry(&self, entry_id: Uuid) -> bool {
        self.fields.triggers.entry_ids.iter().any(|id| Uuid::try_parse(id).is_ok_and(|id| id == entry_id))
    }
}

/// Lower case, accents folded, anything but letters and digits a single space.
pub fn folded_words(text: &str) -> String {
    let folded: String = text
        .split(|character: char| !character.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| fold(&word.to_lowercase()))
        .collect::<Vec<_>>()
        .join(" ");
    folded
}

fn is_step_id(id: &str) -> bool {
    (1..=MAX_STEP_ID).contains(&id.len())
        && id.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'_' | b'-'))
}

impl ScenarioFields {
    /// Trimmed and checked against the project (its entries, its policy's consent purposes); every
    /// problem named by its path, such as `steps[2].next`.
    fn checked(self, project: &Project, entries: &HashSet<Uuid>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut problem = |field: String, message: String| errors.push(FieldError { field, message });
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            problem("name".to_owned(), format!("must be 1 to {MAX_NAME} characters"));
        }
        let Triggers { entry_ids, keywords } = self.triggers;
        if entry_ids.is_empty() && keywords.is_empty() {
            problem("triggers".to_owned(), "name at least one entry or keyword that starts the scenario".to_owned());
        }
        if entry_ids.len() > MAX_TRIGGERS || keywords.len() > MAX_TRIGGERS {
            problem("triggers".to_owned(), format!("at most {MAX_TRIGGERS} entries and {MAX_TRIGGERS} keywords"));
        }
        let mut checked_entries = Vec::with_capacity(entry_ids.len());
        for (position, id) in entry_ids.iter().enumerate() {
            match Uuid::try_parse(id.trim()) {
                Ok(id) if entries.contains(&id) => checked_entries.push(id.to_string()),
                _ => problem(format!("triggers.entry_ids[{position}]"), format!("{id:?} is no entry of the project")),
            }
        }
        let mut checked_keywords = Vec::with_capacity(keywords.len());
        for (position, keyword) in keywords.iter().enumerate() {
            let keyword = keyword.trim().to_lowercase();
            if folded_words(&keyword).is_empty() || keyword.chars().count() > MAX_KEYWORD {
                problem(format!("triggers.keywords[{position}]"), format!("must be 1 to {MAX_KEYWORD} characters"));
            } else if !checked_keywords.contains(&keyword) {
                checked_keywords.push(keyword);
            }
        }

        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            problem("steps".to_owned(), format!("1 to {MAX_STEPS} steps"));
        }
        let ids: Vec<String> = self.steps.iter().map(|step| step.id.trim().to_owned()).collect();
        let known = |id: &str| ids.iter().any(|known| known == id);
        let mut steps = Vec::with_capacity(self.steps.len());
        for (position, step) in self.steps.into_iter().enumerate() {
            let at = format!("steps[{position}]");
            let id = step.id.trim().to_owned();
            if !is_step_id(&id) {
                problem(format!("{at}.id"), format!("1 to {MAX_STEP_ID} of a-z, 0-9, _ and -"));
            } else if ids[..position].contains(&id) {
                problem(format!("{at}.id"), format!("{id:?} names an earlier step too"));
            }
            let text = step.text.trim().to_owned();
            let needs_text = !matches!(step.kind, StepKind::Credits | StepKind::Handoff);
            if (needs_text && text.is_empty()) || text.chars().count() > MAX_TEXT || text.contains('\0') {
                problem(format!("{at}.text"), format!("must be 1 to {MAX_TEXT} characters"));
            }
            let next = step.next.map(|next| next.trim().to_owned()).filter(|next| !next.is_empty());
            match (&step.kind, &next) {
                (StepKind::Choice { .. }, Some(_)) => {
                    problem(format!("{at}.next"), "a choice goes where its options say".to_owned())
                }
                (StepKind::Handoff, Some(_)) => {
                    problem(format!("{at}.next"), "a handoff ends the scenario: an operator takes over".to_owned())
                }
                (_, Some(next)) if !known(next) => problem(format!("{at}.next"), format!("{next:?} is no step")),
                _ => {}
            }
            let kind = match step.kind {
                StepKind::Choice { options } => {
                    if options.is_empty() || options.len() > MAX_OPTIONS {
                        problem(format!("{at}.options"), format!("1 to {MAX_OPTIONS} options"));
                    }
                    let mut checked = Vec::with_capacity(options.len());
                    for (index, option) in options.into_iter().enumerate() {
                        let label = option.label.trim().to_owned();
                        // A label the visitor can type back: letters or digits, which folding keeps.
                        if folded_words(&label).is_empty() || label.chars().count() > MAX_LABEL || label.contains('\0')
                        {
                            problem(
                                format!("{at}.options[{index}].label"),
                                format!("must be 1 to {MAX_LABEL} characters"),
                            );
                        }
                        let next = option.next.map(|next| next.trim().to_owned()).filter(|next| !next.is_empty());
                        if let Some(next) = next.as_deref().filter(|next| !known(next)) {
                            problem(format!("{at}.options[{index}].next"), format!("{next:?} is no step"));
                        }
                        checked.push(ChoiceOption { label, next });
                    }
                    StepKind::Choice { options: checked }
                }
                StepKind::Consent { purpose } => {
                    let purpose = purpose.trim().to_owned();
                    if !project.consent_purposes.contains(&purpose) {
                        problem(
                            format!("{at}.purpose"),
                            format!("{purpose:?} is no purpose of the tenant's policy with the legal basis consent"),
                        );
                    }
                    StepKind::Consent { purpose }
                }
                StepKind::Form { form_id } => {
                    let form_id = form_id.trim().to_owned();
                    if Uuid::try_parse(&form_id).is_err() {
                        problem(format!("{at}.form_id"), format!("{form_id:?} is no form id"));
                    }
                    StepKind::Form { form_id }
                }
                other => other,
            };
            steps.push(Step { id, text, next, kind });
        }
        if errors.is_empty() {
            Ok(Self { name, triggers: Triggers { entry_ids: checked_entries, keywords: checked_keywords }, steps })
        } else {
            Err(errors)
        }
    }
}

fn no_such_scenario() -> Error {
    Error::not_found("no such scenario")
}

fn scenario_id(text: &str) -> Result<Uuid, Error> {
    Uuid::try_parse(text).map_err(|_| no_such_scenario())
}

async fn checked(
    state: &AppState,
    actor: &Actor,
    project: &Project,
    fields: ScenarioFields,
) -> Result<ScenarioFields, Error> {
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let entries: HashSet<Uuid> = store::entry_ids(&mut transaction, project.id).await?.into_iter().collect();
    transaction.commit().await?;
    fields.checked(project, &entries).map_err(|errors| Error::with_field_errors(ErrorCode::InvalidRequest, errors))
}

/// The project's scenarios, from this replica's copy when it has one.
pub async fn of_project(
    state: &AppState,
    tenant_id: causerie_core::TenantId,
    project_id: ProjectId,
) -> Result<std::sync::Arc<Vec<Scenario>>, Error> {
    if let Some(scenarios) = state.scenarios.get(&project_id) {
        return Ok(scenarios);
    }
    let since = state.scenarios.generation();
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    let scenarios = std::sync::Arc::new(store::scenarios(&mut transaction, project_id, None, None).await?);
    transaction.commit().await?;
    state.scenarios.insert(project_id, std::sync::Arc::clone(&scenarios), since);
    Ok(scenarios)
}

/// Tells every replica, this one first, that the project's scenarios changed.
async fn changed(
    state: &AppState,
    transaction: &mut sqlx::PgConnection,
    tenant_id: causerie_core::TenantId,
    project_id: ProjectId,
) -> Result<(), Error> {
    let message = Message::ScenariosChangedV1(KnowledgeBaseChanged { tenant_id, project_id: project_id.as_uuid() });
    causerie_bus::outbox::enqueue(transaction, &Envelope::new(tenant_id, "assistant", state.clock.now(), message))
        .await?;
    Ok(())
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    fields: ScenarioFields,
) -> Result<Scenario, Error> {
    let project = project_for(state, actor, project_id, Access::Write).await?;
    let fields = checked(state, actor, &project, fields).await?;
    let now = state.clock.now();
    let scenario = Scenario { id: Uuid::now_v7(), project_id: project.id, fields, created_at: now, updated_at: now };
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    store::insert_scenario(&mut transaction, actor.tenant_id, &scenario).await?;
    changed(state, &mut transaction, actor.tenant_id, project.id).await?;
    transaction.commit().await?;
    state.scenarios.remove(&project.id);
    Ok(scenario)
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    id: &str,
    fields: ScenarioFields,
) -> Result<Scenario, Error> {
    let project = project_for(state, actor, project_id, Access::Write).await?;
    let id = scenario_id(id)?;
    let fields = checked(state, actor, &project, fields).await?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let scenario = store::update_scenario(&mut transaction, project.id, id, &fields, state.clock.now())
        .await?
        .ok_or_else(no_such_scenario)?;
    changed(state, &mut transaction, actor.tenant_id, project.id).await?;
    transaction.commit().await?;
    state.scenarios.remove(&project.id);
    Ok(scenario)
}

pub async fn delete(state: &AppState, actor: &Actor, project_id: &str, id: &str) -> Result<(), Error> {
    let project = project_for(state, actor, project_id, Access::Write).await?;
    let id = scenario_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    if !store::delete_scenario(&mut transaction, project.id, id).await? {
        return Err(no_such_scenario());
    }
    changed(state, &mut transaction, actor.tenant_id, project.id).await?;
    transaction.commit().await?;
    state.scenarios.remove(&project.id);
    Ok(())
}

pub async fn get(state: &AppState, actor: &Actor, project_id: &str, id: &str) -> Result<Scenario, Error> {
    let project = project_for(state, actor, project_id, Access::Read).await?;
    let id = scenario_id(id)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    store::scenario(&mut transaction, project.id, id).await?.ok_or_else(no_such_scenario)
}

pub async fn list(
    state: &AppState,
    actor: &Actor,
    project_id: &str,
    limit: u32,
    cursor: &str,
) -> Result<(Vec<Scenario>, Option<String>), Error> {
    let project = project_for(state, actor, project_id, Access::Read).await?;
    let limit = page::limit(limit)?;
    let after = page::id_cursor(cursor)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let rows = store::scenarios(&mut transaction, project.id, after, Some(limit + 1)).await?;
    Ok(page::cut(rows, limit, |scenario| scenario.id.to_string()))
}
