//! The privacy gRPC API: projects, the privacy policy, the consent ledger, the processing
//! register and the sub-processors. Widget calls carry a service token (visitors have none of
//! their own; the gateway makes them); the rest verify the caller's forwarded token.

use causerie_auth::transport::caller_of;
use causerie_auth::{Audience, Caller};
use causerie_core::policy::PolicyDocument;
use causerie_core::{Error, ErrorCode};
use causerie_proto::accounts::v1 as pb;
use causerie_proto::time::to_timestamp;
use pb::privacy_service_server::PrivacyService;
use tonic::{Request, Response, Status};

use super::Answer;
use crate::AppState;
use crate::domain::actor::Actor;
use crate::domain::{consents, privacy_policy, processing_register, projects, subprocessors, widget_projects};
use crate::store::consents::ConsentRow;
use crate::store::projects::{ProjectRow, ProjectSettings};
use crate::store::subprocessors::SubprocessorRow;

pub struct PrivacyApi {
    state: AppState,
}

impl PrivacyApi {
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    fn caller<T>(&self, request: &Request<T>, audiences: &[Audience]) -> Result<Caller, Status> {
        caller_of(request, audiences)
    }

    fn actor<T>(&self, request: &Request<T>) -> Result<Actor, Status> {
        super::tenant_actor(request)
    }
}

impl From<ProjectRow> for pb::Project {
    fn from(project: ProjectRow) -> Self {
        Self {
            id: project.id.to_string(),
            public_id: projects::public_id(project.tenant_id, project.id),
            name: project.name,
            allowed_origins: project.allowed_origins,
            languages: project.languages,
            supervision_enabled: project.supervision_enabled,
            created_at: Some(to_timestamp(project.created_at)),
            updated_at: Some(to_timestamp(project.updated_at)),
            settings: Some(project.settings.into()),
        }
    }
}

impl From<ProjectSettings> for pb::ProjectSettings {
    fn from(settings: ProjectSettings) -> Self {
        Self {
            chat_consent_purpose_id: settings.chat_consent_purpose_id.unwrap_or_default(),
            supervision_purpose_id: settings.supervision_purpose_id.unwrap_or_default(),
            offline_message: settings.offline_message.unwrap_or_default(),
            default_region: settings.default_region.unwrap_or_default(),
            match_threshold: settings.match_threshold.map(f64::from),
        }
    }
}

impl From<ConsentRow> for pb::ConsentRecord {
    fn from(record: ConsentRow) -> Self {
        Self {
            id: record.id.to_string(),
            visitor_id: record.visitor_id.to_string(),
            project_id: record.project_id.to_string(),
            purpose: record.purpose,
            granted: record.granted,
            text_version: record.text_version,
            source: record.source,
            client_network: record.client_network,
            recorded_at: Some(to_timestamp(record.recorded_at)),
        }
    }
}

impl From<SubprocessorRow> for pb::Subprocessor {
    fn from(row: SubprocessorRow) -> Self {
        Self {
            id: row.id,
            kind: row.kind,
            name: row.name,
            country: row.country,
            outside_eu: row.outside_eu,
            safeguard: row.safeguard,
            purpose: row.purpose,
        }
    }
}

fn policy_document(policy: &causerie_core::policy::PrivacyPolicy) -> Result<pb::PolicyDocument, Error> {
    Ok(pb::PolicyDocument { policy_json: serde_json::to_string(policy).map_err(Error::internal)? })
}

fn project_input(input: pb::ProjectInput) -> projects::ProjectInput {
    projects::ProjectInput {
        name: input.name,
        allowed_origins: input.allowed_origins.map(|list| list.values),
        languages: input.languages.map(|list| list.values),
        supervision_enabled: input.supervision_enabled,
        settings: projects::SettingsInput {
            chat_consent_purpose_id: input.chat_consent_purpose_id,
            supervision_purpose_id: input.supervision_purpose_id,
            offline_message: input.offline_message,
            default_region: input.default_region,
            match_threshold: input.match_threshold,
        },
    }
}

fn consent_list(records: Vec<ConsentRow>) -> pb::ListConsentsResponse {
    pb::ListConsentsResponse {
        records: records.into_iter().map(pb::ConsentRecord::from).collect(),
        consent_texts: std::collections::HashMap::new(),
        next_cursor: String::new(),
    }
}

#[tonic::async_trait]
impl PrivacyService for PrivacyApi {
    async fn create_project(&self, request: Request<pb::ProjectInput>) -> Answer<pb::Project> {
        let actor = self.actor(&request)?;
        let project = projects::create_project(&self.state, &actor, project_input(request.into_inner())).await?;
        Ok(Response::new(project.into()))
    }

    async fn list_projects(&self, request: Request<pb::ListProjectsRequest>) -> Answer<pb::ListProjectsResponse> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let (projects, next) = projects::projects(&self.state, &actor, request.limit, &request.cursor).await?;
        Ok(Response::new(pb::ListProjectsResponse {
            projects: projects.into_iter().map(pb::Project::from).collect(),
            next_cursor: next.unwrap_or_default(),
        }))
    }

    async fn get_project(&self, request: Request<pb::ProjectRef>) -> Answer<pb::Project> {
        let actor = self.actor(&request)?;
        Ok(Response::new(projects::project(&self.state, &actor, &request.into_inner().id).await?.into()))
    }

    async fn update_project(&self, request: Request<pb::ProjectInput>) -> Answer<pb::Project> {
        let actor = self.actor(&request)?;
        let input = request.into_inner();
        let id = input.id.clone();
        Ok(Response::new(projects::update_project(&self.state, &actor, &id, project_input(input)).await?.into()))
    }

    async fn delete_project(&self, request: Request<pb::ProjectRef>) -> Answer<pb::Empty> {
        let actor = self.actor(&request)?;
        projects::delete_project(&self.state, &actor, &request.into_inner().id).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn get_privacy_policy(&self, request: Request<pb::GetPrivacyPolicyRequest>) -> Answer<pb::PolicyDocument> {
        let actor = self.actor(&request)?;
        Ok(Response::new(policy_document(&privacy_policy::policy(&self.state, &actor).await?)?))
    }

    async fn put_privacy_policy(&self, request: Request<pb::PolicyDocument>) -> Answer<pb::PolicyDocument> {
        let actor = self.actor(&request)?;
        let document: PolicyDocument = serde_json::from_str(&request.into_inner().policy_json).map_err(|error| {
            Error::new(ErrorCode::InvalidRequest, format!("the policy is not well formed: {error}"))
        })?;
        let policy = privacy_policy::put_policy(&self.state, &actor, document).await?;
        Ok(Response::new(policy_document(&policy)?))
    }

    async fn list_policy_versions(
        &self,
        request: Request<pb::ListPolicyVersionsRequest>,
    ) -> Answer<pb::ListPolicyVersionsResponse> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let (versions, next) =
            privacy_policy::policy_versions(&self.state, &actor, request.limit, &request.cursor).await?;
        Ok(Response::new(pb::ListPolicyVersionsResponse {
            versions: versions
                .into_iter()
                .map(|row| pb::PolicyVersion {
                    version: row.version,
                    created_at: Some(to_timestamp(row.created_at)),
                    created_by: row.created_by.to_string(),
                })
                .collect(),
            next_cursor: next.unwrap_or_default(),
        }))
    }

    async fn get_policy_version(&self, request: Request<pb::GetPolicyVersionRequest>) -> Answer<pb::PolicyDocument> {
        let actor = self.actor(&request)?;
        let policy = privacy_policy::policy_version(&self.state, &actor, request.into_inner().version).await?;
        Ok(Response::new(policy_document(&policy)?))
    }

    async fn resolve_widget_project(
        &self,
        request: Request<pb::ResolveWidgetProjectRequest>,
    ) -> Answer<pb::WidgetProject> {
        self.caller(&request, &[Audience::Service])?;
        let widget = widget_projects::current_widget_project(&self.state, &request.into_inner().public_id).await?;
        Ok(Response::new(pb::WidgetProject {
            tenant_id: widget.tenant.id.to_string(),
            project_id: widget.project.id.to_string(),
            public_id: projects::public_id(widget.tenant.id, widget.project.id),
            allowed_origins: widget.project.allowed_origins,
            languages: widget.project.languages,
            policy_json: serde_json::to_string(&widget.policy).map_err(Error::internal)?,
            features: Some(pb::TenantFeatures {
                privacy_button: widget.tenant.privacy_button,
                credits_sequence: widget.tenant.credits_sequence,
                translation: widget.tenant.translation,
            }),
            supervision_enabled: widget.project.supervision_enabled,
            settings: Some(widget.project.settings.into()),
        }))
    }

    async fn get_widget_privacy(
        &self,
        request: Request<pb::ResolveWidgetProjectRequest>,
    ) -> Answer<pb::PolicyDocument> {
        self.caller(&request, &[Audience::Service])?;
        let widget = widget_projects::current_widget_project(&self.state, &request.into_inner().public_id).await?;
        Ok(Response::new(policy_document(&widget.policy)?))
    }

    async fn record_visitor_consent(&self, request: Request<pb::RecordConsentRequest>) -> Answer<pb::ConsentRecord> {
        self.caller(&request, &[Audience::Service])?;
        let request = request.into_inner();
        let decision = consents::ConsentDecision {
            visitor_id: &request.visitor_id,
            purpose: &request.purpose,
            granted: request.granted,
            text_version: request.text_version,
            source: &request.source,
            client_address: request.client_address.as_deref(),
        };
        let record = consents::record_consent(&self.state, &request.public_id, &decision).await?;
        Ok(Response::new(record.into()))
    }

    async fn list_visitor_consents(
        &self,
        request: Request<pb::ListVisitorConsentsRequest>,
    ) -> Answer<pb::ListConsentsResponse> {
        self.caller(&request, &[Audience::Service])?;
        let request = request.into_inner();
        let records = consents::visitor_consents(&self.state, &request.public_id, &request.visitor_id).await?;
        Ok(Response::new(consent_list(records)))
    }

    async fn list_consents(&self, request: Request<pb::ListConsentsRequest>) -> Answer<pb::ListConsentsResponse> {
        let actor = self.actor(&request)?;
        let request = request.into_inner();
        let proof =
            consents::consents(&self.state, &actor, &request.visitor_id, request.limit, &request.cursor).await?;
        let mut answer = consent_list(proof.records);
        answer.consent_texts = proof.texts;
        answer.next_cursor = proof.next_cursor.unwrap_or_default();
        Ok(Response::new(answer))
    }

    async fn check_consent(&self, request: Request<pb::CheckConsentRequest>) -> Answer<pb::CheckConsentResponse> {
        let caller = self.caller(&request, &[Audience::Tenant, Audience::Service])?;
        let request = request.into_inner();
        let tenant_id =
            request.tenant_id.parse().map_err(|_| Error::invalid_field("tenant_id", "is not a tenant id"))?;
        // A tenant's caller asks about its own tenant only; services ask for any.
        if caller.tenant_id().is_some_and(|own| own != tenant_id) {
            return Err(Error::not_found("no such tenant").into());
        }
        let latest = consents::check_consent(&self.state, tenant_id, &request.visitor_id, &request.purpose).await?;
        Ok(Response::new(match latest {
            Some((granted, text_version, recorded_at)) => {
                pb::CheckConsentResponse { granted, text_version, recorded_at: Some(to_timestamp(recorded_at)) }
            }
            None => pb::CheckConsentResponse { granted: false, text_version: 0, recorded_at: None },
        }))
    }

    async fn get_processing_register(
        &self,
        request: Request<pb::GetProcessingRegisterRequest>,
    ) -> Answer<pb::ProcessingRegister> {
        let actor = self.actor(&request)?;
        let format = request.into_inner().format;
        let register = processing_register::build(&self.state, &actor).await?;
        let (content_type, body) = match format.as_str() {
            "" | "json" => ("application/json", serde_json::to_string_pretty(&register).map_err(Error::internal)?),
            "csv" => ("text/csv; charset=utf-8", register.to_csv()),
            "md" => ("text/markdown; charset=utf-8", register.to_markdown()),
            _ => return Err(Error::invalid_field("format", "must be json, csv or md").into()),
        };
        Ok(Response::new(pb::ProcessingRegister { content_type: content_type.to_owned(), body }))
    }

    async fn list_subprocessors(
        &self,
        request: Request<pb::ListSubprocessorsRequest>,
    ) -> Answer<pb::ListSubprocessorsResponse> {
        self.caller(&request, &[Audience::Staff])?;
        let request = request.into_inner();
        let (rows, next_cursor) = subprocessors::subprocessors(&self.state, request.limit, &request.cursor).await?;
        Ok(Response::new(pb::ListSubprocessorsResponse {
            subprocessors: rows.into_iter().map(pb::Subprocessor::from).collect(),
            next_cursor: next_cursor.unwrap_or_default(),
        }))
    }

    async fn put_subprocessor(&self, request: Request<pb::Subprocessor>) -> Answer<pb::Subprocessor> {
        self.caller(&request, &[Audience::Staff])?;
        let request = request.into_inner();
        let row = SubprocessorRow {
            id: request.id,
            kind: request.kind,
            name: request.name,
            country: request.country,
            outside_eu: request.outside_eu,
            safeguard: request.safeguard.filter(|safeguard| !safeguard.trim().is_empty()),
            purpose: request.purpose,
        };
        Ok(Response::new(subprocessors::put_subprocessor(&self.state, row).await?.into()))
    }
}
