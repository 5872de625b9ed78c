//! The scenarios' gRPC API: tenant callers keep them; the steps cross as protobuf, one message
//! kind per step kind.

use causerie_core::{Error, ErrorCode, FieldError};
use causerie_proto::assistant::v1 as pb;
use causerie_proto::time::to_timestamp;
use pb::scenario_service_server::ScenarioService;
use tonic::{Request, Response};

use super::{Answer, actor};
use crate::AppState;
use crate::domain::scenarios::{self, ChoiceOption, Scenario, ScenarioFields, Step, StepKind, Triggers};

pub struct ScenarioApi {
    state: AppState,
}

impl ScenarioApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

fn next(text: String) -> Option<String> {
    Some(text).filter(|text| !text.trim().is_empty())
}

fn step(step: pb::Step) -> Option<Step> {
    use pb::step::Kind;
    let kind = match step.kind? {
        Kind::Choice(choice) => StepKind::Choice {
            options: choice
                .options
                .into_iter()
                .map(|option| ChoiceOption { label: option.label, next: next(option.next) })
                .collect(),
        },
        Kind::Input(_) => StepKind::Input,
        Kind::Form(form) => StepKind::Form { form_id: form.form_id },
        Kind::Consent(consent) => StepKind::Consent { purpose: consent.purpose },
        Kind::Credits(_) => StepKind::Credits,
        Kind::Handoff(_) => StepKind::Handoff,
        Kind::Message(_) => StepKind::Message,
    };
    Some(Step { id: step.id, text: step.text, next: next(step.next), kind })
}

/// The fields as the domain takes them; a step without a kind is named.
fn fields(fields: Option<pb::ScenarioFields>) -> Result<ScenarioFields, Error> {
    let fields = fields.unwrap_or_default();
    let triggers = fields.triggers.unwrap_or_default();
    let mut steps = Vec::with_capacity(fields.steps.len());
    let mut errors = Vec::new();
    for (position, pb_step) in fields.steps.into_iter().enumerate() {
        match step(pb_step) {
            Some(step) => steps.push(step),
            None => errors.push(FieldError {
                field: format!("steps[{position}].kind"),
                message: "message, choice, input, form, consent, credits or handoff".to_owned(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(Error::with_field_errors(ErrorCode::InvalidRequest, errors));
    }
    Ok(ScenarioFields {
        name: fields.name,
        triggers: Triggers { entry_ids: triggers.entry_ids, keywords: triggers.keywords },
        steps,
    })
}

impl From<Step> for pb::Step {
    fn from(step: Step) -> Self {
        use pb::step::Kind;
        let kind = match step.kind {
            StepKind::Message => Kind::Message(pb::Plain {}),
            StepKind::Choice { options } => Kind::Choice(pb::Choice {
                options: options
                    .into_iter()
                    .map(|option| pb::ChoiceOption { label: option.label, next: option.next.unwrap_or_default() })
                    .collect(),
            }),
            StepKind::Input => Kind::Input(pb::Plain {}),
            StepKind::Form { form_id } => Kind::Form(pb::Form { form_id }),
            StepKind::Consent { purpose } => Kind::Consent(pb::Consent { purpose }),
            StepKind::Credits => Kind::Credits(pb::Plain {}),
            StepKind::Handoff => Kind::Handoff(pb::Plain {}),
        };
        Self { id: step.id, text: step.text, next: step.next.unwrap_or_default(), kind: Some(kind) }
    }
}

impl From<Scenario> for pb::Scenario {
    fn from(scenario: Scenario) -> Self {
        let fields = scenario.fields;
        Self {
            id: scenario.id.to_string(),
            project_id: scenario.project_id.to_string(),
            fields: Some(pb::ScenarioFields {
                name: fields.name,
                triggers: Some(pb::ScenarioTriggers {
                    entry_ids: fields.triggers.entry_ids,
                    keywords: fields.triggers.keywords,
                }),
                steps: fields.steps.into_iter().map(pb::Step::from).collect(),
            }),
            created_at: Some(to_timestamp(scenario.created_at)),
            updated_at: Some(to_timestamp(scenario.updated_at)),
        }
    }
}

#[tonic::async_trait]
impl ScenarioService for ScenarioApi {
    async fn create_scenario(&self, request: Request<pb::ScenarioInput>) -> Answer<pb::Scenario> {
        let actor = actor(&request)?;
        let input = request.into_inner();
        let scenario = scenarios::create(&self.state, &actor, &input.project_id, fields(input.fields)?).await?;
        Ok(Response::new(scenario.into()))
    }

    async fn update_scenario(&self, request: Request<pb::ScenarioInput>) -> Answer<pb::Scenario> {
        let actor = actor(&request)?;
        let input = request.into_inner();
        let scenario =
            scenarios::update(&self.state, &actor, &input.project_id, &input.id, fields(input.fields)?).await?;
        Ok(Response::new(scenario.into()))
    }

    async fn delete_scenario(&self, request: Request<pb::ScenarioRef>) -> Answer<pb::Empty> {
        let actor = actor(&request)?;
        let asked = request.into_inner();
        scenarios::delete(&self.state, &actor, &asked.project_id, &asked.id).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn get_scenario(&self, request: Request<pb::ScenarioRef>) -> Answer<pb::Scenario> {
        let actor = actor(&request)?;
        let asked = request.into_inner();
        Ok(Response::new(scenarios::get(&self.state, &actor, &asked.project_id, &asked.id).await?.into()))
    }

    async fn list_scenarios(&self, request: Request<pb::ListScenariosRequest>) -> Answer<pb::ListScenariosResponse> {
        let actor = actor(&request)?;
        let asked = request.into_inner();
        let (page, next) = scenarios::list(&self.state, &actor, &asked.project_id, asked.limit, &asked.cursor).await?;
        Ok(Response::new(pb::ListScenariosResponse {
            scenarios: page.into_iter().map(pb::Scenario::from).collect(),
            next_cursor: next.unwrap_or_default(),
        }))
    }
}
