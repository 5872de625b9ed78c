//! A project's scenarios: steps a visitor is taken through, started by an entry or a keyword.
//! The assistant checks them whole and decides who may do what.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use causerie_core::Error;
use causerie_proto::assistant::v1 as pb;
use causerie_proto::time::from_timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::{ApiJson, ApiQuery, Page, PageQuery, page_limit};
use crate::caller::TenantContext;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/projects/{pid}/scenarios", post(create_scenario).get(list_scenarios))
        .route("/v1/projects/{pid}/scenarios/{id}", get(get_scenario).put(update_scenario).delete(delete_scenario))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[serde(default)]
    pub triggers: Triggers,
    /// The first step is where the scenario starts.
    pub steps: Vec<ScenarioStep>,
}

#[derive(Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    /// Entries of the project: matching one starts the scenario instead of answering.
    #[serde(default)]
    pub entry_ids: Vec<String>,
    /// Words or phrases that start the scenario when the visitor types one.
    #[serde(default)]
    pub keywords: Vec<String>,
}

#[derive(Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Message,
    Choice,
    Input,
    Form,
    Consent,
    Credits,
    Handoff,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioStep {
    /// a-z, 0-9, `_` and `-`, unique in the scenario.
    pub id: String,
    pub kind: StepKind,
    /// What the visitor is shown (for `credits`, before the tenant's policy).
    #[serde(default)]
    pub text: String,
    /// The step after this one; absent, the scenario ends. A `choice` goes where its options say.
    pub next: Option<String>,
    /// A `choice`'s options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<ChoiceOption>,
    /// A `form`'s form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form_id: Option<String>,
    /// A `consent` step's purpose: one of the tenant's policy with the legal basis `consent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChoiceOption {
    pub label: String,
    pub next: Option<String>,
}

impl From<ScenarioStep> for pb::Step {
    fn from(step: ScenarioStep) -> Self {
        use pb::step::Kind;
        let kind = match step.kind {
            StepKind::Message => Kind::Message(pb::Plain {}),
            StepKind::Choice => Kind::Choice(pb::Choice {
                options: step
                    .options
                    .into_iter()
                    .map(|option| pb::ChoiceOption { label: option.label, next: option.next.unwrap_or_default() })
                    .collect(),
            }),
            StepKind::Input => Kind::Input(pb::Plain {}),
            StepKind::Form => Kind::Form(pb::Form { form_id: step.form_id.unwrap_or_default() }),
            StepKind::Consent => Kind::Consent(pb::Consent { purpose: step.purpose.unwrap_or_default() }),
            StepKind::Credits => Kind::Credits(pb::Plain {}),
            StepKind::Handoff => Kind::Handoff(pb::Plain {}),
        };
        Self { id: step.id, text: step.text, next: step.next.unwrap_or_default(), kind: Some(kind) }
    }
}

fn step_of(step: pb::Step) -> ScenarioStep {
    use pb::step::Kind;
    let (kind, options, form_id, purpose) = match step.kind {
        Some(Kind::Choice(choice)) => (
            StepKind::Choice,
            choice
                .options
                .into_iter()
                .map(|option| ChoiceOption { label: option.label, next: Some(option.next).filter(|n| !n.is_empty()) })
                .collect(),
            None,
            None,
        ),
        Some(Kind::Input(_)) => (StepKind::Input, Vec::new(), None, None),
        Some(Kind::Form(form)) => (StepKind::Form, Vec::new(), Some(form.form_id), None),
        Some(Kind::Consent(consent)) => (StepKind::Consent, Vec::new(), None, Some(consent.purpose)),
        Some(Kind::Credits(_)) => (StepKind::Credits, Vec::new(), None, None),
        Some(Kind::Handoff(_)) => (StepKind::Handoff, Vec::new(), None, None),
        Some(Kind::Message(_)) | None => (StepKind::Message, Vec::new(), None, None),
    };
    ScenarioStep {
        id: step.id,
        kind,
        text: step.text,
        next: Some(step.next).filter(|next| !next.is_empty()),
        options,
        form_id,
        purpose,
    }
}

fn fields(body: ScenarioRequest) -> pb::ScenarioFields {
    pb::ScenarioFields {
        name: body.name,
        triggers: Some(pb::ScenarioTriggers { entry_ids: body.triggers.entry_ids, keywords: body.triggers.keywords }),
        steps: body.steps.into_iter().map(pb::Step::from).collect(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct ScenarioResponse {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub triggers: Triggers,
    pub steps: Vec<ScenarioStep>,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<pb::Scenario> for ScenarioResponse {
    fn from(scenario: pb::Scenario) -> Self {
        let fields = scenario.fields.unwrap_or_default();
        let triggers = fields.triggers.unwrap_or_default();
        Self {
            id: scenario.id,
            project_id: scenario.project_id,
            name: fields.name,
            triggers: Triggers { entry_ids: triggers.entry_ids, keywords: triggers.keywords },
            steps: fields.steps.into_iter().map(step_of).collect(),
            created_at: scenario.created_at.and_then(from_timestamp),
            updated_at: scenario.updated_at.and_then(from_timestamp),
        }
    }
}

/// Creates a scenario; a step pointing at an unknown step, entry or purpose answers 422 naming it.
#[utoipa::path(post, path = "/v1/projects/{pid}/scenarios", tag = "scenarios", request_body = ScenarioRequest,
    responses((status = 201, body = ScenarioResponse), (status = 403, description = "forbidden"),
              (status = 404, description = "not_found"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn create_scenario(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
    ApiJson(body): ApiJson<ScenarioRequest>,
) -> Result<(StatusCode, Json<ScenarioResponse>), Error> {
    let input = pb::ScenarioInput { project_id: pid, id: String::new(), fields: Some(fields(body)) };
    let scenario = state.scenarios.clone().create_scenario(caller.forward(input)?).await?;
    Ok((StatusCode::CREATED, Json(scenario.into_inner().into())))
}

/// The project's scenarios, a page at a time.
#[utoipa::path(get, path = "/v1/projects/{pid}/scenarios", tag = "scenarios", params(PageQuery),
    responses((status = 200, body = Page<ScenarioResponse>), (status = 404, description = "not_found"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn list_scenarios(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<ScenarioResponse>>, Error> {
    let message = pb::ListScenariosRequest {
        project_id: pid,
        limit: page_limit(page.limit)?,
        cursor: page.cursor.unwrap_or_default(),
    };
    let page = state.scenarios.clone().list_scenarios(caller.forward(message)?).await?.into_inner();
    Ok(Json(Page::of(page.scenarios, page.next_cursor)))
}

/// One scenario.
#[utoipa::path(get, path = "/v1/projects/{pid}/scenarios/{id}", tag = "scenarios",
    responses((status = 200, body = ScenarioResponse), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn get_scenario(
    State(state): State<AppState>,
    caller: TenantContext,
    Path((pid, id)): Path<(String, String)>,
) -> Result<Json<ScenarioResponse>, Error> {
    let scenario =
        state.scenarios.clone().get_scenario(caller.forward(pb::ScenarioRef { project_id: pid, id })?).await?;
    Ok(Json(scenario.into_inner().into()))
}

/// Replaces a scenario; sessions standing at a step that is gone start afresh.
#[utoipa::path(put, path = "/v1/projects/{pid}/scenarios/{id}", tag = "scenarios", request_body = ScenarioRequest,
    responses((status = 200, body = ScenarioResponse), (status = 403, description = "forbidden"),
              (status = 404, description = "not_found"), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn update_scenario(
    State(state): State<AppState>,
    caller: TenantContext,
    Path((pid, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<ScenarioRequest>,
) -> Result<Json<ScenarioResponse>, Error> {
    let input = pb::ScenarioInput { project_id: pid, id, fields: Some(fields(body)) };
    let scenario = state.scenarios.clone().update_scenario(caller.forward(input)?).await?;
    Ok(Json(scenario.into_inner().into()))
}

/// Deletes a scenario.
#[utoipa::path(delete, path = "/v1/projects/{pid}/scenarios/{id}", tag = "scenarios",
    responses((status = 204), (status = 403, description = "forbidden"), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn delete_scenario(
    State(state): State<AppState>,
    caller: TenantContext,
    Path((pid, id)): Path<(String, String)>,
) -> Result<StatusCode, Error> {
    state.scenarios.clone().delete_scenario(caller.forward(pb::ScenarioRef { project_id: pid, id })?).await?;
    Ok(StatusCode::NO_CONTENT)
}
