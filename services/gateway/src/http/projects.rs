//! A tenant's projects (one widget, assistant and live chat each) and their cookie manifest.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use causerie_core::Error;
use causerie_proto::accounts::v1 as pb;
use causerie_proto::time::from_timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::wire::{ApiJson, ApiQuery, Page, PageQuery, page_limit, string_list};
use crate::caller::TenantContext;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/projects", post(create_project).get(list_projects))
        .route("/v1/projects/{pid}", get(get_project).patch(update_project).delete(delete_project))
        .route("/v1/projects/{pid}/cookies", get(cookie_manifest))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// Origins allowed to embed the widget, such as `https://www.example.org`; the widget API
    /// answers CORS for them only.
    pub allowed_origins: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub supervision_enabled: Option<bool>,
    /// A consent purpose of the tenant's policy: conversations are kept only with the visitor's
    /// consent to it. An empty string clears it.
    pub chat_consent_purpose_id: Option<String>,
    /// A consent purpose of the tenant's policy that supervision needs. An empty string clears it.
    pub supervision_purpose_id: Option<String>,
    /// Shown to a visitor when no operator is online. An empty string clears it.
    #[schema(max_length = 1000)]
    pub offline_message: Option<String>,
    /// The region phone numbers without a country code are read in, such as `FR`.
    pub default_region: Option<String>,
    /// The score (0..1) an assistant answer needs; the assistant's default (0.30) when unset.
    #[schema(minimum = 0.05, maximum = 0.95)]
    pub match_threshold: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct ProjectResponse {
    pub id: String,
    /// What the widget is embedded with.
    pub public_id: String,
    pub name: String,
    pub allowed_origins: Vec<String>,
    pub languages: Vec<String>,
    pub supervision_enabled: bool,
    pub chat_consent_purpose_id: Option<String>,
    pub supervision_purpose_id: Option<String>,
    pub offline_message: Option<String>,
    pub default_region: Option<String>,
    pub match_threshold: Option<f64>,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<pb::Project> for ProjectResponse {
    fn from(project: pb::Project) -> Self {
        let settings = project.settings.unwrap_or_default();
        let set = |text: String| Some(text).filter(|text| !text.is_empty());
        Self {
            id: project.id,
            public_id: project.public_id,
            name: project.name,
            allowed_origins: project.allowed_origins,
            languages: project.languages,
            supervision_enabled: project.supervision_enabled,
            chat_consent_purpose_id: set(settings.chat_consent_purpose_id),
            supervision_purpose_id: set(settings.supervision_purpose_id),
            offline_message: set(settings.offline_message),
            default_region: set(settings.default_region),
            match_threshold: settings.match_threshold,
            created_at: project.created_at.and_then(from_timestamp),
            updated_at: project.updated_at.and_then(from_timestamp),
        }
    }
}

fn project_input(id: String, body: ProjectRequest) -> pb::ProjectInput {
    pb::ProjectInput {
        id,
        name: body.name,
        allowed_origins: string_list(body.allowed_origins),
        languages: string_list(body.languages),
        supervision_enabled: body.supervision_enabled,
        chat_consent_purpose_id: body.chat_consent_purpose_id,
        supervision_purpose_id: body.supervision_purpose_id,
        offline_message: body.offline_message,
        default_region: body.default_region,
        match_threshold: body.match_threshold,
    }
}

/// Creates a project.
#[utoipa::path(post, path = "/v1/projects", tag = "projects", request_body = ProjectRequest,
    responses((status = 201, body = ProjectResponse), (status = 403, description = "forbidden"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn create_project(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiJson(body): ApiJson<ProjectRequest>,
) -> Result<(StatusCode, Json<ProjectResponse>), Error> {
    let project = state.privacy.clone().create_project(caller.forward(project_input(String::new(), body))?).await?;
    Ok((StatusCode::CREATED, Json(project.into_inner().into())))
}

/// The tenant's projects, a page at a time.
#[utoipa::path(get, path = "/v1/projects", tag = "projects", params(PageQuery),
    responses((status = 200, body = Page<ProjectResponse>), (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn list_projects(
    State(state): State<AppState>,
    caller: TenantContext,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<ProjectResponse>>, Error> {
    let message = pb::ListProjectsRequest { limit: page_limit(page.limit)?, cursor: page.cursor.unwrap_or_default() };
    let page = state.privacy.clone().list_projects(caller.forward(message)?).await?.into_inner();
    Ok(Json(Page::of(page.projects, page.next_cursor)))
}

/// One project.
#[utoipa::path(get, path = "/v1/projects/{pid}", tag = "projects",
    responses((status = 200, body = ProjectResponse), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn get_project(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
) -> Result<Json<ProjectResponse>, Error> {
    let project = state.privacy.clone().get_project(caller.forward(pb::ProjectRef { id: pid })?).await?;
    Ok(Json(project.into_inner().into()))
}

/// Changes a project; absent fields stay as they are.
#[utoipa::path(patch, path = "/v1/projects/{pid}", tag = "projects", request_body = ProjectRequest,
    responses((status = 200, body = ProjectResponse), (status = 404, description = "not_found"),
              (status = 422, description = "invalid_request")),
    security(("bearer" = [])))]
async fn update_project(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
    ApiJson(body): ApiJson<ProjectRequest>,
) -> Result<Json<ProjectResponse>, Error> {
    let project = state.privacy.clone().update_project(caller.forward(project_input(pid, body))?).await?;
    state.widget_projects.forget_tenant(caller.tenant_id);
    Ok(Json(project.into_inner().into()))
}

/// Deletes a project. Its consent records stay: they are the tenant's proof.
#[utoipa::path(delete, path = "/v1/projects/{pid}", tag = "projects",
    responses((status = 204, description = "deleted"), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn delete_project(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
) -> Result<StatusCode, Error> {
    state.privacy.clone().delete_project(caller.forward(pb::ProjectRef { id: pid })?).await?;
    state.widget_projects.forget_tenant(caller.tenant_id);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct CookieEntry {
    pub name: &'static str,
    pub purpose: &'static str,
    /// `session`, `1 month`, `1 year`.
    pub lifetime: String,
    /// Seconds; absent for a session cookie.
    pub max_age_seconds: Option<u64>,
    pub http_only: bool,
    pub secure: bool,
    pub same_site: &'static str,
    /// Technical cookies strictly necessary to the service: no consent is asked.
    pub consent_exempt: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CookieManifest {
    pub project_id: String,
    pub cookies: Vec<CookieEntry>,
}

/// The cookies the project's widget sets, from the same definition the widget API uses, for
/// the tenant to publish.
#[utoipa::path(get, path = "/v1/projects/{pid}/cookies", tag = "projects",
    responses((status = 200, body = CookieManifest), (status = 404, description = "not_found")),
    security(("bearer" = [])))]
async fn cookie_manifest(
    State(state): State<AppState>,
    caller: TenantContext,
    Path(pid): Path<String>,
) -> Result<Json<CookieManifest>, Error> {
    let project = state.privacy.clone().get_project(caller.forward(pb::ProjectRef { id: pid })?).await?;
    Ok(Json(CookieManifest {
        project_id: project.into_inner().id,
        cookies: causerie_core::cookies::ALL
            .iter()
            .map(|cookie| CookieEntry {
                name: cookie.name,
                purpose: cookie.purpose,
                lifetime: cookie.lifetime_text(),
                max_age_seconds: cookie.lifetime.map(|lifetime| lifetime.as_secs()),
                http_only: cookie.http_only,
                secure: true,
                same_site: "None",
                consent_exempt: cookie.consent_exempt,
            })
            .collect(),
    }))
}
