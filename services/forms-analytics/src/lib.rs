//! The forms-analytics service. It owns forms, their submissions, analytics events and daily statistics; for now it
//! serves only the foundation every service has (its migrated database, clock, bus, gRPC health,
//! readiness and metrics), and the rest arrives with the issues that build it.

use causerie_db::{DatabaseError, ServiceError};
use causerie_runtime::{Config, Service};
use causerie_service::GrpcApi;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

pub async fn migrate(config: &Config) -> Result<(), DatabaseError> {
    causerie_db::migrate(config, Service::FormsAnalytics, &MIGRATOR).await
}

pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), ServiceError> {
    causerie_service::run(config, Service::FormsAnalytics, &MIGRATOR, listener, shutdown, async |_| {
        Ok(GrpcApi::new(&[], tonic::service::Routes::default()))
    })
    .await
}
