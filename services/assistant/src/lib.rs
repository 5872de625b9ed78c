//! The assistant service: each project's knowledge base, and the replies to visitors' questions
//! matched against it, the scenarios visitors are taken through, and the programmed notifications
//! of its widget. Supervision and the connectors arrive with the rest of the assistant issue.
//!
//! Its layout is the one every backend service follows (`docs/architecture.md`): `grpc` and
//! `events` are its two doors, `domain` holds the rules, `store` the SQL.

mod adapters;
mod domain;
mod events;
mod grpc;
mod store;

use std::sync::Arc;

use causerie_auth::{Audience, ServiceToken};
use causerie_core::Clock;
use causerie_db::{DatabaseError, ServiceError};
use causerie_proto::accounts::v1::accounts_service_client::AccountsServiceClient;
use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
use causerie_proto::assistant::v1::knowledge_base_service_server::KnowledgeBaseServiceServer;
use causerie_proto::assistant::v1::notification_service_server::NotificationServiceServer;
use causerie_proto::assistant::v1::scenario_service_server::ScenarioServiceServer;
use causerie_runtime::{Config, Service};
use causerie_service::GrpcApi;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The matching engine, public for its benchmark and its accuracy report.
pub use domain::matching;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

pub async fn migrate(config: &Config) -> Result<(), DatabaseError> {
    causerie_db::migrate(config, Service::Assistant, &MIGRATOR).await
}

/// What every request handler shares; cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Shared>);

pub(crate) struct Shared {
    pub pool: PgPool,
    pub clock: Clock,
    pub projects: domain::projects::Projects,
    /// Records support staff's reads in the tenant's audit log.
    pub accounts: AccountsServiceClient<tonic::transport::Channel>,
    pub index: domain::matching::KnowledgeIndex,
    /// Where each widget session stands in a scenario (Redis).
    pub sessions: domain::sessions::Sessions,
    /// Each project's scenarios, read at its first question and dropped when they change here or
    /// on another replica (`assistant.scenarios.changed`).
    pub scenarios:
        Arc<causerie_policy::copies::Copies<causerie_core::ProjectId, Arc<Vec<domain::scenarios::Scenario>>>>,
    pub local_speech: adapters::speech::LocalSpeech,
    pub acapela: adapters::speech::AcapelaSpeech,
    pub translator: adapters::translation::GoogleTranslator,
}

impl Shared {
    /// Writes a call to a sub-processor in the tenant's audit log, before it is made: as the
    /// tenant caller (its own token forwarded) or as the assistant for a visitor.
    pub async fn audit_subprocessor_call(
        &self,
        tenant_id: causerie_core::TenantId,
        kind: &str,
        provider: &str,
        entry_id: uuid::Uuid,
        requester: domain::connectors::Requester<'_>,
    ) -> Result<(), causerie_core::Error> {
        let call = causerie_proto::accounts::v1::RecordSubprocessorCallRequest {
            tenant_id: tenant_id.to_string(),
            kind: kind.to_owned(),
            provider: provider.to_owned(),
            subject_kind: "knowledge_base_entry".to_owned(),
            subject_id: entry_id.to_string(),
        };
        let token = match requester {
            domain::connectors::Requester::Tenant { token } => std::sync::Arc::from(token),
            domain::connectors::Requester::Visitor => self.projects.service_token().await?,
        };
        let request = causerie_auth::transport::with_bearer(tonic::Request::new(call), &token)?;
        self.accounts.clone().record_subprocessor_call(request).await?;
        Ok(())
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Serves the assistant on `listener` until `shutdown` fires, then waits for its tasks.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), ServiceError> {
    causerie_service::run(config, Service::Assistant, &MIGRATOR, listener, shutdown, async |service| {
        let accounts = tonic::transport::Endpoint::from_shared(service.config.service_url(Service::Accounts))
            .map_err(|error| ServiceError::Setup(causerie_core::Error::internal(error)))?
            .connect_lazy();
        let secret = service.config.service_secret()?;
        let accounts_client = AccountsServiceClient::new(accounts.clone());
        let service_token = ServiceToken::new(
            accounts_client.clone(),
            Service::Assistant.name(),
            secret.to_owned(),
            service.clock.clone(),
        );
        let projects = domain::projects::Projects::new(PrivacyServiceClient::new(accounts), service_token);
        service.spawn(projects.clone().follow_changes(service.bus.clone(), service.shutdown.clone()));
        let redis = redis::aio::ConnectionManager::new(
            redis::Client::open(service.config.redis_url.as_str())
                .map_err(|error| ServiceError::Setup(causerie_core::Error::internal(error)))?,
        )
        .await
        .map_err(|error| ServiceError::Setup(causerie_core::Error::internal(error)))?;
        service.check_redis_ready(redis.clone());
        let sessions = domain::sessions::Sessions::new(redis, &service.config.namespace);
        let http = causerie_runtime::tls::http_client()
            .build()
            .map_err(|error| ServiceError::Setup(causerie_core::Error::internal(error)))?;
        let config = &service.config;
        let acapela = adapters::speech::AcapelaSpeech::new(
            http.clone(),
            &config.acapela_url,
            &config.acapela_login,
            &config.acapela_password,
        );
        let translator = adapters::translation::GoogleTranslator::new(
            http,
            &config.google_translate_url,
            &config.google_translate_key,
        );
        let state = AppState(Arc::new(Shared {
            pool: service.pool.clone(),
            clock: service.clock.clone(),
            projects,
            accounts: accounts_client,
            index: domain::matching::KnowledgeIndex::default(),
            sessions,
            scenarios: Arc::new(causerie_policy::copies::Copies::new(
                std::time::Duration::from_secs(300),
                domain::scenarios::PROJECTS_KEPT,
            )),
            local_speech: adapters::speech::LocalSpeech,
            acapela,
            translator,
        }));
        // Every project's index is built before the service answers; the broadcasts keep it.
        domain::entries::reindex_all(&state).await.map_err(ServiceError::Setup)?;
        service.spawn(events::follow_knowledge_bases(state.clone(), service.bus.clone(), service.shutdown.clone()));
        service.consume(events::AssistantHandler { clock: service.clock.clone() });
        service.relay_outbox().await?;
        let interceptor = service.verify_tokens(&[Audience::Tenant, Audience::Staff, Audience::Service]);
        let knowledge_bases = KnowledgeBaseServiceServer::with_interceptor(
            grpc::KnowledgeBaseApi::new(state.clone()),
            interceptor.clone(),
        );
        let notifications =
            NotificationServiceServer::with_interceptor(grpc::NotificationApi::new(state.clone()), interceptor.clone());
        let scenarios = ScenarioServiceServer::with_interceptor(grpc::ScenarioApi::new(state), interceptor);
        Ok(GrpcApi::new(
            &[
                "causerie.assistant.v1.KnowledgeBaseService",
                "causerie.assistant.v1.NotificationService",
                "causerie.assistant.v1.ScenarioService",
            ],
            tonic::service::Routes::new(knowledge_bases).add_service(notifications).add_service(scenarios),
        ))
    })
    .await
}
