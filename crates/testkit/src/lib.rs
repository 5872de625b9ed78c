//! The test harness: a configuration of its own for every test (a namespace that names its
//! databases, bus exchanges and queues, and Redis keys), services started in the test process on
//! ports the system picks, an SMTP sink that keeps the mail it receives, and a TCP proxy that
//! fault tests cut.

mod proxy;
mod services;
mod smtp;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use causerie_runtime::Config;

pub use proxy::TcpProxy;
pub use services::{GatewayListeners, RunningServices, TestServices};
pub use smtp::{Mail, SmtpSink};

/// Namespaces of tests older than this are dropped by the next test run that starts.
const STALE_AFTER: Duration = Duration::from_secs(2 * 3600);
pub const TEST_STAFF_EMAIL: &str = "staff@causerie.test";
pub const TEST_STAFF_PASSWORD: &str = "test-staff-password-2026";
/// Every database role's password in the tests; each test's roles are its namespace's own.
const TEST_DATABASE_PASSWORD: &str = "causerie-test-database-password";

/// A configuration read from the environment (so CI can point tests at its servers), in test
/// mode, with a namespace of its own: `t<unix seconds>_<process id, 8 hex digits><random>`.
/// The process id lets the next run drop what a test process left behind when it ended without
/// cleaning up (killed, or a stack shared by a whole test binary).
pub fn test_config() -> anyhow::Result<Config> {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let random = uuid::Uuid::new_v4().simple().to_string();
    let namespace = format!("t{seconds}_{:08x}{}", std::process::id(), &random[..6]);
    let config = Config::from_lookup(|name| match name {
        "CAUSERIE_NAMESPACE" => Some(namespace.clone()),
        "CAUSERIE_TEST_MODE" => Some("1".to_owned()),
        // Each test's stack creates its databases, as the all-in-one local mode does.
        "CAUSERIE_MIGRATE_AT_START" => Some("1".to_owned()),
        // Given, so that a test that turns the test mode off still has them.
        role if role.ends_with("_DATABASE_PASSWORD") => Some(TEST_DATABASE_PASSWORD.to_owned()),
        "CAUSERIE_BOOTSTRAP_STAFF_EMAIL" => Some(TEST_STAFF_EMAIL.to_owned()),
        "CAUSERIE_BOOTSTRAP_STAFF_PASSWORD" => Some(TEST_STAFF_PASSWORD.to_owned()),
        _ => std::env::var(name).ok(),
    })?;
    Ok(config)
}

/// The process's telemetry as in production (logs, spans, W3C trace context), so tests see
/// trace context cross HTTP, gRPC and the bus. Logs at `CAUSERIE_TEST_LOG` (default `warn`),
/// shown by the test runner for failing tests. Idempotent.
pub fn init_test_logs() {
    static TELEMETRY: OnceLock<Option<causerie_runtime::telemetry::TelemetryGuard>> = OnceLock::new();
    TELEMETRY.get_or_init(|| {
        let log_filter = std::env::var("CAUSERIE_TEST_LOG").unwrap_or_else(|_| "warn".to_owned());
        let config = Config::from_lookup(|name| match name {
            "CAUSERIE_LOG" => Some(log_filter.clone()),
            "OTEL_EXPORTER_OTLP_ENDPOINT" => None,
            _ => std::env::var(name).ok(),
        })
        .ok()?;
        causerie_runtime::telemetry::init(&config, "causerie-test").ok()
    });
}

/// A test namespace's name, or the name of one of its databases or queues, whose process has
/// ended, or which is older than two hours.
fn is_stale_test_name(name: &str, now: u64) -> bool {
    let Some(rest) = name.strip_prefix('t') else { return false };
    let mut parts = rest.split('_');
    let Some(created) = parts.next().and_then(|seconds| seconds.parse::<u64>().ok()) else { return false };
    if now.saturating_sub(created) > STALE_AFTER.as_secs() {
        return true;
    }
    let owner = parts.next().and_then(|tag| tag.get(..8)).and_then(|pid| u32::from_str_radix(pid, 16).ok());
    owner.is_some_and(|pid| pid != std::process::id() && !process_is_alive(pid))
}

fn process_is_alive(pid: u32) -> bool {
    // Where /proc is missing, every process counts as alive and only age reaps.
    !std::path::Path::new("/proc/self").exists() || std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Deletes the bus queues of test namespaces older than two hours, left by runs that were killed.
/// Needs `rabbitmqctl` (the broker runs on this machine in development and CI); without it, does
/// nothing.
async fn reap_stale_test_queues(config: &Config) -> anyhow::Result<()> {
    let Ok(listing) =
        std::process::Command::new("rabbitmqctl").args(["list_queues", "-q", "--no-table-headers", "name"]).output()
    else {
        return Ok(());
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let stale: Vec<String> = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .map(str::trim)
        .filter(|name| is_stale_test_name(name, now))
        .map(str::to_owned)
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    let connection = lapin::Connection::connect(&config.amqp_url, lapin::ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    for queue in stale {
        channel.queue_delete(queue.into(), lapin::options::QueueDeleteOptions::default()).await?;
    }
    connection.close(200, "stale test queues deleted".into()).await?;
    Ok(())
}

/// Deletes the bus queues and exchanges of `config`'s namespace, with the queues of
/// `other_consumers` that a test declared itself.
pub async fn remove_test_bus(config: &Config, other_consumers: &[&str]) -> anyhow::Result<()> {
    let connection = lapin::Connection::connect(&config.amqp_url, lapin::ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    causerie_bus::Topology::for_config(config).remove(&channel, other_consumers).await?;
    connection.close(200, "test namespace removed".into()).await?;
    Ok(())
}

/// Drops the databases and bus queues of test namespaces whose process has ended or that are
/// older than two hours. Once per process: what ends later is the next process's to reap.
pub async fn reap_stale_test_namespaces(config: &Config) -> anyhow::Result<()> {
    static REAPED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    REAPED
        .get_or_try_init(|| async {
            reap_stale_test_queues(config).await?;
            reap_stale_test_databases(config).await
        })
        .await?;
    Ok(())
}

async fn reap_stale_test_databases(config: &Config) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut server = sqlx::PgConnection::connect(&config.database_url).await?;
    let names: Vec<String> =
        sqlx::query_scalar("select datname::text from pg_database where datname ~ '^t[0-9]+_[0-9a-f]+_'")
            .fetch_all(&mut server)
            .await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let stale_namespaces: std::collections::BTreeSet<String> = names
        .iter()
        .filter(|name| is_stale_test_name(name, now))
        .filter_map(|name| {
            let mut parts = name.splitn(3, '_');
            Some(format!("{}_{}", parts.next()?, parts.next()?))
        })
        .collect();
    for name in names {
        if is_stale_test_name(&name, now) {
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
    for namespace in stale_namespaces {
        drop_login_roles(&mut server, &namespace).await?;
    }
    Ok(())
}

/// Drops every database of `config`'s namespace, then its login roles (roles are cluster-wide:
/// each test namespace has its own).
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
    drop_login_roles(&mut server, &config.namespace).await
}

/// Drops the login roles of a namespace, whose databases are gone.
async fn drop_login_roles(server: &mut sqlx::PgConnection, namespace: &str) -> anyhow::Result<()> {
    for service in causerie_runtime::Service::ALL {
        for role in causerie_runtime::DatabaseRole::of(service) {
            let login = format!("{namespace}_{}_{}", service.identifier(), role.suffix());
            let statement: String = sqlx::query_scalar("select format('drop role if exists %I', $1::text)")
                .bind(&login)
                .fetch_one(&mut *server)
                .await?;
            if let Err(error) = sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut *server).await {
                // Another test's database of the same namespace may still grant it something.
                tracing::warn!(%error, role = login, "test role not dropped");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_is_stale_once_its_process_has_ended_or_after_two_hours() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or_default();
        let ours = format!("t{now}_{:08x}abcdef_accounts", std::process::id());
        assert!(!is_stale_test_name(&ours, now), "this process is alive");
        // Process ids stop far below this one on Linux (`pid_max` is at most 2^22).
        let ended = format!("t{now}_{:08x}abcdef_accounts", u32::MAX - 1);
        assert!(is_stale_test_name(&ended, now));
        let old = format!("t{}_{:08x}abcdef.retention", now - 3 * 3600, std::process::id());
        assert!(is_stale_test_name(&old, now));
        assert!(!is_stale_test_name("causerie_accounts", now), "not a test namespace");
    }
}
