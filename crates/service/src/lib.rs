//! What every backend service is built on, written once: its migrated database, its clock, its
//! connection to the bus, its outbox relay and queue consumer, token verification with keys
//! refreshed from accounts, readiness, and its gRPC server with the health protocol. A service's
//! `run` hands [`run`] the list of its own parts:
//!
//! ```ignore
//! pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), ServiceError> {
//!     causerie_service::run(config, Service::Retention, &MIGRATOR, listener, shutdown, async |service| {
//!         service.consume(RetentionHandler { clock: service.clock.clone() });
//!         let interceptor = service.verify_tokens(&[Audience::Staff, Audience::Service]);
//!         let api = RetentionServiceServer::with_interceptor(RetentionApi::new(service.pool.clone()), interceptor);
//!         Ok(GrpcApi::new(&["causerie.retention.v1.RetentionService"], tonic::service::Routes::new(api)))
//!     })
//!     .await
//! }
//! ```

use std::sync::Arc;

use causerie_auth::transport::AuthInterceptor;
use causerie_auth::{Audience, Verifier};
use causerie_bus::{Bus, Consumer, MessageHandler, Relay, Topology};
use causerie_core::Clock;
use causerie_db::ServiceError;
use causerie_runtime::server::{grpc_health, run_tracked, serve_grpc};
use causerie_runtime::{Config, Readiness, Service};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The parts every service has, handed to the service's own list of parts.
pub struct Foundation {
    pub config: Config,
    pub service: Service,
    /// The service's own database, as its application role, migrated first when
    /// `CAUSERIE_MIGRATE_AT_START` says so.
    pub pool: PgPool,
    pub clock: Clock,
    pub bus: Bus,
    /// Every background task of the service, waited for before `run` returns.
    pub tasks: TaskTracker,
    pub shutdown: CancellationToken,
    readiness: Readiness,
}

/// What a service serves over gRPC, beside the health protocol.
pub struct GrpcApi {
    /// The full gRPC names of `routes`' services, which the health protocol reports on.
    names: &'static [&'static str],
    routes: tonic::service::Routes,
}

impl GrpcApi {
    pub fn new(names: &'static [&'static str], routes: tonic::service::Routes) -> Self {
        Self { names, routes }
    }
}

/// Starts `service`'s foundation, lets `parts` add the service's own, and serves the API they
/// return on `listener` until `shutdown` fires or serving fails; then cancels and waits for
/// every task it started and closes the database pool.
pub async fn run<F>(
    config: Config,
    service: Service,
    migrator: &'static Migrator,
    listener: TcpListener,
    shutdown: CancellationToken,
    parts: F,
) -> Result<(), ServiceError>
where
    F: AsyncFnOnce(&mut Foundation) -> Result<GrpcApi, ServiceError>,
{
    run_tracked(shutdown.clone(), async |tasks| {
        let mut foundation = Foundation::start(config, service, migrator, tasks, shutdown).await?;
        let served = match parts(&mut foundation).await {
            Ok(api) => foundation.serve(listener, api).await,
            Err(error) => Err(error),
        };
        foundation.pool.close().await;
        served
    })
    .await
}

impl Foundation {
    async fn start(
        config: Config,
        service: Service,
        migrator: &'static Migrator,
        tasks: TaskTracker,
        shutdown: CancellationToken,
    ) -> Result<Self, ServiceError> {
        let pool = causerie_db::prepare(&config, service, migrator).await?;
        let clock = causerie_runtime::clock_for(&config, service, &tasks, shutdown.clone()).await?;
        let bus = Bus::start(&config.amqp_url, service.name(), Topology::for_config(&config), &tasks, shutdown.clone());
        let readiness = Readiness::new()
            .with_check("postgres", causerie_db::readiness_check(pool.clone()))
            .with_check("rabbitmq", bus.readiness_check());
        Ok(Self { config, service, pool, clock, bus, tasks, shutdown, readiness })
    }

    /// Runs `task` until the service stops; it must end once `shutdown` fires.
    pub fn spawn<T>(&self, task: T)
    where
        T: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// One more dependency the service must reach before it says it is ready.
    pub fn check_ready<C, Fut>(&mut self, name: &'static str, check: C)
    where
        C: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.readiness = std::mem::take(&mut self.readiness).with_check(name, check);
    }

    /// Redis must answer before the service says it is ready.
    pub fn check_redis_ready(&mut self, redis: redis::aio::ConnectionManager) {
        self.readiness = std::mem::take(&mut self.readiness).with_redis(redis);
    }

    /// An interceptor admitting callers whose token was signed by accounts for one of `audiences`.
    /// The keys are fetched from accounts and refreshed; until the first set arrives, the service
    /// is not ready.
    pub fn verify_tokens(&mut self, audiences: &'static [Audience]) -> AuthInterceptor {
        let verifier = causerie_auth::verifier_from_accounts(
            self.config.service_url(Service::Accounts),
            self.clock.clone(),
            &self.tasks,
            self.shutdown.clone(),
        );
        self.check_ready("signing keys", Verifier::readiness_check(Arc::clone(&verifier)));
        AuthInterceptor::new(verifier, audiences)
    }

    /// Applies the messages of the service's queue with `handler`, each once (the inbox).
    pub fn consume<H: MessageHandler>(&self, handler: H) {
        let consumer = Consumer::new(self.bus.clone(), self.pool.clone(), &self.service.identifier(), handler);
        self.spawn(consumer.run(self.shutdown.clone()));
    }

    /// Publishes what the service writes to its outbox, as the relay's own database role.
    pub async fn relay_outbox(&self) -> Result<(), ServiceError> {
        let relay_pool = causerie_db::connect_relay(&self.config, self.service).await?;
        self.spawn(Relay::new(relay_pool, self.bus.clone(), self.clock.clone()).run(self.shutdown.clone()));
        Ok(())
    }

    async fn serve(&self, listener: TcpListener, api: GrpcApi) -> Result<(), ServiceError> {
        let health = grpc_health(api.names, self.readiness.clone(), &self.tasks, self.shutdown.clone());
        let routes = api.routes.add_service(health);
        serve_grpc(listener, routes, self.readiness.clone(), self.service.name(), self.shutdown.clone()).await?;
        Ok(())
    }
}
