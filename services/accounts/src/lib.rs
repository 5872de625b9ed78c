//! The accounts service: tenants, users, staff, credentials, sessions, legal notices, API keys,
//! the audit log, support grants, and the keys that sign every token. `run` serves its gRPC API
//! until shutdown; `migrate` only prepares its database.

mod adapters;
mod domain;
mod grpc;
mod keys;
mod store;

/// How the consent ledger's connection shows in `pg_stat_activity`.
pub use adapters::consent_ledger::WRITER_APPLICATION_NAME as CONSENT_LEDGER_APPLICATION_NAME;
/// Second-factor codes, for tools and tests that play the authenticator app.
pub use domain::totp;

/// Hashes `password` once at the service's parameters on the calling thread: for tools that
/// measure what a sign-in costs.
pub fn hash_password_now(password: &str) -> Result<String, Error> {
    adapters::password_hashing::hash_now(password)
}

use std::sync::Arc;

use causerie_auth::Audience;
use causerie_auth::transport::AuthInterceptor;
use causerie_core::{Clock, Error, TenantId};
use causerie_db::{DatabaseError, ServiceError};
use causerie_policy::copies::{Copies, WIDGET_PROJECT_CHANGES};
use causerie_proto::accounts::v1::accounts_service_server::AccountsServiceServer;
use causerie_proto::accounts::v1::privacy_service_server::PrivacyServiceServer;
use causerie_runtime::{Config, Service};
use causerie_service::{Foundation, GrpcApi};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::adapters::password_hashing::PasswordHashing;
use crate::domain::password::Password;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The routing-key prefix of what this service publishes.
pub(crate) const PRODUCER: &str = "accounts";

pub(crate) const ACCESS_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::minutes(15);

#[derive(Clone)]
pub(crate) struct AppState {
    pool: PgPool,
    clock: Clock,
    keys: Arc<keys::KeyRing>,
    passwords: PasswordHashing,
    login_guard: adapters::brute_force::LoginGuard,
    directory: adapters::access_directory::AccessDirectory,
    /// Where links in mail point.
    public_url: String,
    /// Widget projects by tenant and project id, dropped when they change (`widget_project`).
    widget_projects: Arc<Copies<(TenantId, uuid::Uuid), Arc<domain::widget_projects::WidgetProject>>>,
    /// Visitors' latest decisions by tenant, visitor and purpose, for `CheckConsent` on hot paths.
    /// Dropped at once when this replica records a decision; other replicas' copies live at most
    /// `CONSENT_STATE_MAX_AGE`, the bound on how long a withdrawal can go unseen.
    consent_states: Arc<Copies<(TenantId, uuid::Uuid, String), domain::consents::LatestConsent>>,
    consent_ledger: adapters::consent_ledger::ConsentLedger,
    /// SHA-256 of `CAUSERIE_SERVICE_SECRET` (`domain::service_tokens`).
    service_secret_digest: Vec<u8>,
    /// The service's tasks, for work that goes on after its request is answered.
    tasks: TaskTracker,
}

impl AppState {
    /// Drops this replica's copies of the tenant's widget projects at once, after a change it made
    /// itself; other replicas hear of it from the bus.
    fn forget_widget_projects(&self, tenant_id: TenantId) {
        self.widget_projects.invalidate(|(tenant, _), _| *tenant == tenant_id);
    }
}

/// How long a copy of a widget project is kept when no event says it changed (the bus being away).
const WIDGET_PROJECT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30);
/// Past this many projects, the copies start afresh.
const WIDGET_PROJECT_CAPACITY: usize = 100_000;
const CONSENT_STATE_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(2);
const CONSENT_STATE_CAPACITY: usize = 100_000;

/// How often each replica rereads the signing keys and rotates them when due.
const KEY_MAINTENANCE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

pub async fn migrate(config: &Config) -> Result<(), DatabaseError> {
    causerie_db::migrate(config, Service::Accounts, &MIGRATOR).await
}

/// Serves accounts on `listener` until `shutdown` fires, then waits for its tasks.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), ServiceError> {
    causerie_service::run(config, Service::Accounts, &MIGRATOR, listener, shutdown, serve).await
}

async fn serve(service: &mut Foundation) -> Result<GrpcApi, ServiceError> {
    let (config, pool, clock, tasks) = (&service.config, &service.pool, &service.clock, &service.tasks);
    let keys = Arc::new(keys::KeyRing::load_or_create(pool, clock).await.map_err(ServiceError::Setup)?);
    let passwords = PasswordHashing::start().await.map_err(ServiceError::Setup)?;
    let redis = redis::aio::ConnectionManager::new(redis::Client::open(config.redis_url.as_str())?).await?;
    let state = AppState {
        pool: pool.clone(),
        clock: clock.clone(),
        keys: Arc::clone(&keys),
        passwords,
        login_guard: adapters::brute_force::LoginGuard::new(redis.clone(), &config.namespace),
        directory: adapters::access_directory::AccessDirectory::new(redis.clone(), &config.namespace),
        public_url: config.public_url.trim_end_matches('/').to_owned(),
        widget_projects: Arc::new(Copies::new(WIDGET_PROJECT_MAX_AGE, WIDGET_PROJECT_CAPACITY)),
        consent_states: Arc::new(Copies::new(CONSENT_STATE_MAX_AGE, CONSENT_STATE_CAPACITY)),
        consent_ledger: adapters::consent_ledger::ConsentLedger::start(pool, tasks).map_err(ServiceError::Setup)?,
        service_secret_digest: domain::secret::hash(config.service_secret()?),
        tasks: tasks.clone(),
    };
    bootstrap_staff(config, &state).await.map_err(ServiceError::Setup)?;
    domain::legal::republish_versions(&state).await.map_err(ServiceError::Setup)?;

    let mailer_pool =
        causerie_db::connect(config, Service::Accounts, causerie_runtime::DatabaseRole::Mailer, 2).await?;
    let mailer = adapters::mailer::Mailer::new(mailer_pool, &config.smtp_url, &config.mail_from, clock.clone())
        .map_err(ServiceError::Setup)?;
    service.relay_outbox().await?;
    service.spawn(mailer.run(service.shutdown.clone()));
    service.spawn(maintain_keys(keys, service.shutdown.clone()));
    service.spawn(reconcile_access_directory(state.clone(), service.shutdown.clone()));
    service.spawn(Arc::clone(&state.widget_projects).follow(
        service.bus.clone(),
        &WIDGET_PROJECT_CHANGES,
        |(tenant_id, _), _| *tenant_id,
        service.shutdown.clone(),
    ));
    let widget_projects = Arc::clone(&state.widget_projects);
    service.check_ready("widget project changes", move || {
        let hears_changes = widget_projects.is_listening();
        async move { if hears_changes { Ok(()) } else { Err("not subscribed".to_owned()) } }
    });
    service.check_redis_ready(redis);

    // One interceptor verifies every call's token with the keys accounts signs with; each RPC
    // says whose call it takes.
    let interceptor = AuthInterceptor::allowing_anonymous(
        Arc::clone(&state.keys.verifier),
        &[Audience::Tenant, Audience::Staff, Audience::Service],
    );
    let routes = tonic::service::Routes::new(AccountsServiceServer::with_interceptor(
        grpc::AccountsApi::new(state.clone()),
        interceptor.clone(),
    ))
    .add_service(PrivacyServiceServer::with_interceptor(grpc::PrivacyApi::new(state), interceptor));
    Ok(GrpcApi::new(&["causerie.accounts.v1.AccountsService", "causerie.accounts.v1.PrivacyService"], routes))
}

async fn maintain_keys(keys: Arc<keys::KeyRing>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(KEY_MAINTENANCE_INTERVAL) => {}
        }
        if let Err(error) = keys.rotate_if_due().await {
            tracing::warn!(%error, "signing keys not maintained");
        }
    }
}

/// How often every tenant's legal-notice version is written to the access directory again.
const DIRECTORY_RECONCILIATION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

async fn reconcile_access_directory(state: AppState, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(DIRECTORY_RECONCILIATION_INTERVAL) => {}
        }
        if let Err(error) = domain::legal::republish_versions(&state).await {
            tracing::warn!(%error, "access directory not reconciled");
        }
    }
}

/// The first staff account, from `CAUSERIE_BOOTSTRAP_STAFF_EMAIL` and `_PASSWORD`; created once,
/// never overwritten, so a password changed later is not reset by a restart.
async fn bootstrap_staff(config: &Config, state: &AppState) -> Result<(), Error> {
    let Some(password) = config.bootstrap_staff_password.clone() else {
        return Ok(());
    };
    let email = domain::Email::parse("CAUSERIE_BOOTSTRAP_STAFF_EMAIL", &config.bootstrap_staff_email)?;
    let password = Password::new_from("CAUSERIE_BOOTSTRAP_STAFF_PASSWORD", password, &[email.as_str()])?;
    if store::staff_by_email(&state.pool, email.as_str()).await?.is_some() {
        return Ok(());
    }
    let hash = state.passwords.hash(&password).await?;
    if store::insert_staff_if_missing(&state.pool, email.as_str(), &hash, state.clock.now()).await? {
        tracing::info!("bootstrap staff account created");
    }
    Ok(())
}
