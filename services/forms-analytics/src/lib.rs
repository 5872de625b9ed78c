//! The forms-analytics service. It owns forms, their submissions, analytics events and daily statistics; for now it boots with its own migrated database, its
//! gRPC health service, readiness and metrics, and the rest arrives with the issues that build it.

use causerie_db::DatabaseError;
use causerie_runtime::server::{grpc_health, serve_grpc};
use causerie_runtime::{Config, Readiness, Service};
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error("serving: {0}")]
    Serve(#[from] std::io::Error),
}

pub async fn migrate(config: &Config) -> Result<(), DatabaseError> {
    causerie_db::prepare(config, Service::FormsAnalytics, &MIGRATOR).await?.close().await;
    Ok(())
}

pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), StartError> {
    let pool = causerie_db::prepare(&config, Service::FormsAnalytics, &MIGRATOR).await?;
    let tasks = TaskTracker::new();
    let readiness = Readiness::new().with_check("postgres", causerie_db::readiness_check(pool.clone()));
    let routes = tonic::service::Routes::new(grpc_health(&[], readiness.clone(), &tasks, shutdown.clone()));
    let served = serve_grpc(listener, routes, readiness, Service::FormsAnalytics.name(), shutdown.clone()).await;
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    pool.close().await;
    Ok(served?)
}
