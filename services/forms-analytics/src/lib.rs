//! The forms-analytics service. It owns forms, their submissions, analytics events and daily statistics; for now it boots with its own migrated database, its
//! gRPC health service, readiness and metrics, and the rest arrives with the issues that build it.

use causerie_db::{DatabaseError, ServiceError};
use causerie_runtime::server::{grpc_health, run_tracked, serve_grpc};
use causerie_runtime::{Config, Readiness, Service};
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

pub async fn migrate(config: &Config) -> Result<(), DatabaseError> {
    causerie_db::migrate(config, Service::FormsAnalytics, &MIGRATOR).await
}

pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), ServiceError> {
    let pool = causerie_db::prepare(&config, Service::FormsAnalytics, &MIGRATOR).await?;
    let readiness = Readiness::new().with_check("postgres", causerie_db::readiness_check(pool.clone()));
    let served = run_tracked(shutdown.clone(), async |tasks| {
        let routes = tonic::service::Routes::new(grpc_health(&[], readiness.clone(), &tasks, shutdown.clone()));
        serve_grpc(listener, routes, readiness, Service::FormsAnalytics.name(), shutdown).await
    })
    .await;
    pool.close().await;
    Ok(served?)
}
