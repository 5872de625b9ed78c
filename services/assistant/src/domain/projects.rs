//! The projects the assistant serves, as accounts knows them: which tenant each belongs to, its
//! languages, its tenant's policy and features. Asked of accounts with the assistant's service
//! token and kept until accounts announces a change to the project, its tenant or its policy.
//! An id that is not one of the tenant's projects is `404`, as every other tenant's is.

use std::sync::Arc;
use std::time::Duration;

use causerie_auth::ServiceToken;
use causerie_bus::Bus;
use causerie_core::policy::{LegalBasis, PrivacyPolicy};
use causerie_core::{Error, ProjectId, TenantId};
use causerie_policy::copies::{Copies, WIDGET_PROJECT_CHANGES};
use causerie_proto::accounts::v1 as pb;
use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

use crate::domain::actor::{Access, Actor, Content};

const MAX_AGE: Duration = Duration::from_secs(60);
const CAPACITY: usize = 100_000;

/// What the assistant needs of a project.
#[derive(Debug)]
pub struct Project {
    pub id: ProjectId,
    /// What its widget is embedded with, and consents are recorded under.
    pub public_id: String,
    /// Language codes, such as `fr`; the first is the project's default.
    pub languages: Vec<String>,
    /// The score an answer needs, when the project sets one.
    pub match_threshold: Option<f32>,
    /// Shown after a handoff while no operator can take over.
    pub offline_message: Option<String>,
    /// The tenant's policy in force: its consent text, and what the credits show.
    pub policy: PrivacyPolicy,
    /// The policy's purposes a visitor may consent to (legal basis `consent`).
    pub consent_purposes: Vec<String>,
    /// The tenant's feature: scenarios show the credits only with it.
    pub credits_sequence: bool,
    /// The tenant's feature: translation needs it, with the policy's choice.
    pub translation_feature: bool,
    pub supervision_enabled: bool,
    /// The purpose whose consent a session needs to be supervised.
    pub supervision_purpose: Option<String>,
}

#[derive(Clone)]
pub struct Projects {
    privacy: PrivacyServiceClient<Channel>,
    service_token: ServiceToken,
    copies: Arc<Copies<(TenantId, ProjectId), Arc<Project>>>,
}

impl Projects {
    pub fn new(privacy: PrivacyServiceClient<Channel>, service_token: ServiceToken) -> Self {
        Self { privacy, service_token, copies: Arc::new(Copies::new(MAX_AGE, CAPACITY)) }
    }

    /// Drops copies as accounts announces changes, until `shutdown`.
    pub async fn follow_changes(self, bus: Bus, shutdown: CancellationToken) {
        let copies = Arc::clone(&self.copies);
        copies.follow(bus, &WIDGET_PROJECT_CHANGES, |(tenant_id, _), _| *tenant_id, shutdown).await;
    }

    /// The actor's project `project_id`, once the actor may `access` its `content`.
    pub async fn of_actor(
        &self,
        actor: &Actor,
        project_id: &str,
        content: Content,
        access: Access,
    ) -> Result<Arc<Project>, Error> {
        let project = self.of_tenant(actor.tenant_id, project_id).await?;
        actor.require(content, access, project.id)?;
        Ok(project)
    }

    /// The tenant's project `project_id`, as text from a caller.
    pub async fn of_tenant(&self, tenant_id: TenantId, project_id: &str) -> Result<Arc<Project>, Error> {
        let project_id: ProjectId = project_id.parse().map_err(|_| Error::not_found("no such project"))?;
        self.get(tenant_id, project_id).await
    }

    pub async fn get(&self, tenant_id: TenantId, project_id: ProjectId) -> Result<Arc<Project>, Error> {
        if let Some(project) = self.copies.get(&(tenant_id, project_id)) {
            return Ok(project);
        }
        let since = self.copies.generation();
        let public_id = causerie_core::public_id::public_id(tenant_id.as_uuid(), project_id.as_uuid());
        let token = self.service_token.get().await?;
        let request = causerie_auth::transport::with_bearer(
            tonic::Request::new(pb::ResolveWidgetProjectRequest { public_id }),
            &token,
        )?;
        let resolved = self.privacy.clone().resolve_widget_project(request).await?.into_inner();
        let settings = resolved.settings.unwrap_or_default();
        let policy: PrivacyPolicy = serde_json::from_str(&resolved.policy_json).map_err(Error::internal)?;
        let consent_purposes = policy
            .document
            .purposes
            .iter()
            .filter(|purpose| purpose.legal_basis == LegalBasis::Consent)
            .map(|purpose| purpose.id.clone())
            .collect();
        let project = Arc::new(Project {
            id: project_id,
            public_id: resolved.public_id,
            languages: resolved.languages,
            match_threshold: settings.match_threshold.map(|threshold| threshold as f32),
            offline_message: Some(settings.offline_message).filter(|message| !message.is_empty()),
            policy,
            consent_purposes,
            credits_sequence: resolved.features.is_some_and(|features| features.credits_sequence),
            translation_feature: resolved.features.is_some_and(|features| features.translation),
            supervision_enabled: resolved.supervision_enabled,
            supervision_purpose: Some(settings.supervision_purpose_id).filter(|purpose| !purpose.is_empty()),
        });
        self.copies.insert((tenant_id, project_id), Arc::clone(&project), since);
        Ok(project)
    }

    /// The assistant's own service token, for calls made on a visitor's behalf.
    pub async fn service_token(&self) -> Result<Arc<str>, Error> {
        self.service_token.get().await
    }

    /// Whether the visitor's latest decision for `purpose` grants it, as accounts has it now.
    pub async fn consents(&self, tenant_id: TenantId, visitor_id: uuid::Uuid, purpose: &str) -> Result<bool, Error> {
        let token = self.service_token.get().await?;
        let asked = pb::CheckConsentRequest {
            tenant_id: tenant_id.to_string(),
            visitor_id: visitor_id.to_string(),
            purpose: purpose.to_owned(),
        };
        let request = causerie_auth::transport::with_bearer(tonic::Request::new(asked), &token)?;
        Ok(self.privacy.clone().check_consent(request).await?.into_inner().granted)
    }

    /// Records a visitor's decision taken at a scenario's consent step in the accounts ledger
    /// (source `scenario_step`), citing the consent text version shown.
    pub async fn record_scenario_consent(
        &self,
        project: &Project,
        visitor_id: uuid::Uuid,
        purpose: &str,
        granted: bool,
        text_version: i32,
    ) -> Result<(), Error> {
        let token = self.service_token.get().await?;
        let decision = pb::RecordConsentRequest {
            public_id: project.public_id.clone(),
            visitor_id: visitor_id.to_string(),
            purpose: purpose.to_owned(),
            granted,
            text_version,
            source: "scenario_step".to_owned(),
            client_address: None,
        };
        let request = causerie_auth::transport::with_bearer(tonic::Request::new(decision), &token)?;
        self.privacy.clone().record_visitor_consent(request).await?;
        Ok(())
    }
}
