//! The retention service: it learns about tenants from the bus and will sweep their data by
//! their retention policies and orchestrate data-subject requests across services.
//!
//! Its layout is the one every backend service follows (`docs/architecture.md`): `lib.rs` lists
//! the service's parts; `grpc` and `events` are its two doors, translating calls and messages
//! into `domain` calls; `domain` holds the rules, over domain types; `store` holds the SQL and
//! turns rows into domain types.

mod domain;
mod events;
mod grpc;
mod store;

use causerie_auth::Audience;
use causerie_db::{DatabaseError, ServiceError};
use causerie_proto::retention::v1::retention_service_server::RetentionServiceServer;
use causerie_runtime::{Config, Service};
use causerie_service::GrpcApi;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

pub async fn migrate(config: &Config) -> Result<(), DatabaseError> {
    causerie_db::migrate(config, Service::Retention, &MIGRATOR).await
}

/// Serves retention on `listener` until `shutdown` fires, then waits for its tasks.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> Result<(), ServiceError> {
    causerie_service::run(config, Service::Retention, &MIGRATOR, listener, shutdown, async |service| {
        service.consume(events::RetentionHandler { clock: service.clock.clone() });
        // Only staff and the other services call retention; tenants reach it through the gateway.
        let interceptor = service.verify_tokens(&[Audience::Staff, Audience::Service]);
        let api = RetentionServiceServer::with_interceptor(grpc::RetentionApi::new(service.pool.clone()), interceptor);
        Ok(GrpcApi::new(&["causerie.retention.v1.RetentionService"], tonic::service::Routes::new(api)))
    })
    .await
}
