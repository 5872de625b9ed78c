//! The retention service: it learns about tenants from the bus and will sweep their data by
//! their retention policies and orchestrate data-subject requests across services.

mod consumer;
mod grpc;
mod store;

use std::sync::Arc;

use causerie_auth::Verifier;
use causerie_auth::transport::AuthInterceptor;
use causerie_bus::{Bus, Consumer, Topology};
use causerie_db::{DatabaseError, ServiceError};
use causerie_proto::retention::v1::retention_service_server::RetentionServiceServer;
use causerie_runtime::server::{grpc_health, run_tracked, serve_grpc};
use causerie_runtime::{Config, Readiness, Service};
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Its queue on the bus and the name of its inbox rows.
const CONSUMER: &str = "retention";

pub async fn migrate(config: &Config) -> Result<(), DatabaseError> {
    causerie_db::migrate(config, Service::Retention, &MIGRATOR).await
}

pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), ServiceError> {
    run_tracked(shutdown.clone(), async |tasks| serve(&config, listener, &tasks, shutdown).await).await
}

async fn serve(
    config: &Config,
    listener: TcpListener,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) -> Result<(), ServiceError> {
    let pool = causerie_db::prepare(config, Service::Retention, &MIGRATOR).await?;
    let clock = causerie_runtime::clock_for(config, tasks, shutdown.clone()).await?;
    let bus = Bus::start(&config.amqp_url, "retention", Topology::for_config(config), tasks, shutdown.clone());
    let handler = consumer::RetentionHandler { clock: clock.clone() };
    tasks.spawn(Consumer::new(bus.clone(), pool.clone(), CONSUMER, handler).run(shutdown.clone()));

    let verifier = Arc::new(Verifier::new(&jsonwebtoken::jwk::JwkSet { keys: Vec::new() }, clock));
    tasks.spawn(causerie_auth::refresh_keys_from_accounts(
        config.service_url(Service::Accounts),
        Arc::clone(&verifier),
        shutdown.clone(),
    ));
    let interceptor = AuthInterceptor::new(
        Arc::clone(&verifier),
        &[causerie_auth::Audience::Staff, causerie_auth::Audience::Service],
    );

    let readiness = Readiness::new()
        .with_check("postgres", causerie_db::readiness_check(pool.clone()))
        .with_check("signing keys", Verifier::readiness_check(verifier))
        .with_check("rabbitmq", bus.readiness_check());
    let health = grpc_health(&["causerie.retention.v1.RetentionService"], readiness.clone(), tasks, shutdown.clone());
    let api = RetentionServiceServer::with_interceptor(grpc::RetentionApi::new(pool.clone()), interceptor);
    let routes = tonic::service::Routes::new(api).add_service(health);
    serve_grpc(listener, routes, readiness, "retention", shutdown).await?;
    Ok(())
}
