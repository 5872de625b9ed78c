//! The test harness: a configuration of its own for every test (a namespace that names its
//! databases, bus exchanges and queues, and Redis keys), the whole platform started in the test
//! process on ports the system picks, and an SMTP sink that keeps the mail it receives.

mod smtp;
mod stack;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use causerie_runtime::Config;

pub use smtp::{Mail, SmtpSink};
pub use stack::TestStack;

/// Namespaces of tests older than this are dropped by the next test run that starts.
const STALE_AFTER: Duration = Duration::from_secs(2 * 3600);
/// How long an idle test queue lives on the broker.
const TEST_QUEUE_EXPIRY_MS: &str = "900000";
pub const TEST_STAFF_EMAIL: &str = "staff@causerie.test";
pub const TEST_STAFF_PASSWORD: &str = "test-staff-password-2026";

/// A configuration read from the environment (so CI can point tests at its servers), in test
/// mode, with a namespace of its own: `t<unix seconds>_<random>`.
pub fn test_config() -> anyhow::Result<Config> {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let random = uuid::Uuid::new_v4().simple().to_string();
    let namespace = format!("t{seconds}_{}", &random[..10]);
    let config = Config::from_lookup(|name| match name {
        "CAUSERIE_NAMESPACE" => Some(namespace.clone()),
        "CAUSERIE_TEST_MODE" => Some("1".to_owned()),
        "CAUSERIE_BUS_QUEUE_EXPIRY_MS" => Some(TEST_QUEUE_EXPIRY_MS.to_owned()),
        "CAUSERIE_BOOTSTRAP_STAFF_EMAIL" => Some(TEST_STAFF_EMAIL.to_owned()),
        "CAUSERIE_BOOTSTRAP_STAFF_PASSWORD" => Some(TEST_STAFF_PASSWORD.to_owned()),
        _ => std::env::var(name).ok(),
    })?;
    Ok(config)
}

/// Logs of the code under test, shown by the test runner for failing tests. Idempotent.
pub fn init_test_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("CAUSERIE_TEST_LOG").unwrap_or_else(|_| "warn".to_owned()))
        .with_test_writer()
        .try_init();
}

/// Drops the databases of test namespaces older than two hours, left by runs that were killed.
pub async fn reap_stale_test_databases(config: &Config) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut server = sqlx::PgConnection::connect(&config.database_url).await?;
    let names: Vec<String> =
        sqlx::query_scalar("select datname::text from pg_database where datname ~ '^t[0-9]+_[0-9a-f]+_'")
            .fetch_all(&mut server)
            .await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    for name in names {
        let created: Option<u64> = name[1..].split('_').next().and_then(|seconds| seconds.parse().ok());
        if created.is_some_and(|created| now.saturating_sub(created) > STALE_AFTER.as_secs()) {
            let statement: String =
                sqlx::query_scalar("select format('drop database if exists %I with (force)', $1::text)")
                    .bind(&name)
                    .fetch_one(&mut server)
                    .await?;
            if let Err(error) = sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut server).await {
                tracing::warn!(%error, database = name, "stale test database not dropped");
            }
        }
    }
    Ok(())
}

/// Drops every database of `config`'s namespace.
pub async fn drop_test_databases(config: &Config) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut server = sqlx::PgConnection::connect(&config.database_url).await?;
    for service in causerie_runtime::Service::ALL {
        let statement: String =
            sqlx::query_scalar("select format('drop database if exists %I with (force)', $1::text)")
                .bind(config.database_name(service))
                .fetch_one(&mut server)
                .await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut server).await?;
    }
    Ok(())
}
