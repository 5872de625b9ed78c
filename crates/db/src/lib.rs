//! PostgreSQL for Causerie's services: each service's own database created and migrated at start,
//! the application role it connects as, and tenant-scoped transactions under row-level security.

pub mod catalog;
mod prepare;
mod tenant;

pub use prepare::{DatabaseError, connect, connect_owner, connect_relay, login_role, migrate, prepare};
pub use tenant::{TenantTransaction, tenant_tx};

/// The database-wide group role whose privileges every service's application role inherits.
pub const APP_GROUP_ROLE: &str = "causerie_app";

/// The group role of the outbox relays, the only role that sees every tenant's outbox rows.
pub const RELAY_GROUP_ROLE: &str = "causerie_outbox_relay";

/// The group role of accounts' mailer, the only role that sees every tenant's outgoing mail.
pub const MAILER_GROUP_ROLE: &str = "causerie_mailer";

/// The readiness check of a service that uses this pool: the database answers a query.
pub fn readiness_check(
    pool: sqlx::PgPool,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> + Send + Sync + 'static
{
    move || {
        let pool = pool.clone();
        Box::pin(
            async move { sqlx::query("select 1").execute(&pool).await.map(|_| ()).map_err(|error| error.to_string()) },
        )
    }
}

/// Why a service that keeps a database could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error("redis: {0}")]
    Redis(#[from] causerie_runtime::RedisError),
    #[error("{0}")]
    Setup(causerie_core::Error),
    #[error("configuration: {0}")]
    Config(#[from] causerie_runtime::ConfigError),
    #[error("serving: {0}")]
    Serve(#[from] std::io::Error),
}
