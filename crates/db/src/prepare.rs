//! A service's database: created, given its login roles and migrated as the owner (a deployment's
//! migrate job, or the all-in-one mode at start), and the pools of the roles the service logs in
//! as, each with its own password. None owns anything or can bypass row-level security.

use std::str::FromStr;
use std::time::Duration;

use causerie_runtime::{Config, ConfigError, DatabaseRole, Service};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::{APP_GROUP_ROLE, MAILER_GROUP_ROLE, RELAY_GROUP_ROLE};

/// Serialises role creation across every service and test on the server: `create role` races
/// with itself on the cluster-wide catalog.
const ROLE_LOCK_KEY: i64 = 0x00ca_5e41_e001;

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("CAUSERIE_DATABASE_URL is not a PostgreSQL URL: {0}")]
    Url(#[source] sqlx::Error),
    #[error("cannot {step}: {source}")]
    Step {
        step: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot migrate {database}: {source}")]
    Migrate {
        database: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
}

fn step(step: impl Into<String>) -> impl FnOnce(sqlx::Error) -> DatabaseError {
    let step = step.into();
    move |source| DatabaseError::Step { step, source }
}

/// The login role `service` connects as for `role`, in the configuration's namespace: roles are
/// cluster-wide, and each namespace (a deployment, a test) sets its own passwords.
pub fn login_role(config: &Config, service: Service, role: DatabaseRole) -> String {
    format!("{}_{}_{}", config.namespace, service.identifier(), role.suffix())
}

/// The group whose privileges the migrations grant, and which each service's login role of that
/// kind joins.
fn group_role(role: DatabaseRole) -> &'static str {
    match role {
        DatabaseRole::Application => APP_GROUP_ROLE,
        DatabaseRole::OutboxRelay => RELAY_GROUP_ROLE,
        DatabaseRole::Mailer => MAILER_GROUP_ROLE,
    }
}

/// A pool on the service's database as its `role`, with that role's own password.
pub async fn connect(
    config: &Config,
    service: Service,
    role: DatabaseRole,
    max_connections: u32,
) -> Result<PgPool, DatabaseError> {
    let database = config.database_name(service);
    let login = login_role(config, service, role);
    let password = config.database_password(service, role)?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(server_options(config)?.database(&database).username(&login).password(password))
        .await
        .map_err(step(format!("connect to {database} as {login}")))
}

/// A small pool as the service's outbox relay role, which sees every tenant's outbox rows and
/// nothing else.
pub async fn connect_relay(config: &Config, service: Service) -> Result<PgPool, DatabaseError> {
    connect(config, service, DatabaseRole::OutboxRelay, 2).await
}

fn server_options(config: &Config) -> Result<PgConnectOptions, DatabaseError> {
    PgConnectOptions::from_str(&config.database_url).map_err(DatabaseError::Url)
}

/// A pool on the service's database as the owner role: migrations, and tests that must look
/// behind row-level security.
pub async fn connect_owner(config: &Config, service: Service) -> Result<PgPool, DatabaseError> {
    let database = config.database_name(service);
    PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(server_options(config)?.database(&database))
        .await
        .map_err(step(format!("connect to {database} as owner")))
}

/// Creates the service's database if missing and its login roles with their passwords, and
/// migrates it, as the owner of `CAUSERIE_DATABASE_URL`: a deployment's job, or the start of a
/// service in the all-in-one mode (`migrate_at_start`).
pub async fn migrate(config: &Config, service: Service, service_migrator: &Migrator) -> Result<(), DatabaseError> {
    let database = config.database_name(service);
    let mut server =
        PgConnection::connect_with(&server_options(config)?).await.map_err(step("connect to the PostgreSQL server"))?;
    create_database_if_missing(&mut server, &database).await?;
    let mut logins = Vec::new();
    for role in DatabaseRole::of(service) {
        logins.push((group_role(*role), login_role(config, service, *role), config.database_password(service, *role)?));
    }
    create_roles_if_missing(&mut server, &logins).await?;
    execute_formatted(&mut server, "revoke connect on database %I from public", &[&database])
        .await
        .map_err(step(format!("revoke connect on {database}")))?;
    for (_, login, _) in &logins {
        execute_formatted(&mut server, "grant connect on database %I to %I", &[&database, login])
            .await
            .map_err(step(format!("grant connect on {database}")))?;
    }
    server.close().await.map_err(step("close the server connection"))?;

    let owner = connect_owner(config, service).await?;
    let mut platform_migrator = sqlx::migrate!("./migrations");
    platform_migrator.dangerous_set_table_name("_causerie_platform_migrations");
    platform_migrator
        .run(&owner)
        .await
        .map_err(|source| DatabaseError::Migrate { database: database.clone(), source })?;
    service_migrator
        .run(&owner)
        .await
        .map_err(|source| DatabaseError::Migrate { database: database.clone(), source })?;
    owner.close().await;
    Ok(())
}

/// The service's application pool, after migrating its database when `migrate_at_start` says so.
pub async fn prepare(config: &Config, service: Service, service_migrator: &Migrator) -> Result<PgPool, DatabaseError> {
    if config.migrate_at_start {
        migrate(config, service, service_migrator).await?;
    }
    connect(config, service, DatabaseRole::Application, 16).await
}

async fn create_database_if_missing(server: &mut PgConnection, database: &str) -> Result<(), DatabaseError> {
    let exists: bool = sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
        .bind(database)
        .fetch_one(&mut *server)
        .await
        .map_err(step("look up the service database"))?;
    if exists {
        return Ok(());
    }
    match execute_formatted(&mut *server, "create database %I", &[database]).await {
        Ok(_) => {
            tracing::info!(database, "database created");
            Ok(())
        }
        // Another instance of the service created it between our look-up and now.
        Err(sqlx::Error::Database(error)) if matches!(error.code().as_deref(), Some("42P04" | "23505")) => Ok(()),
        Err(error) => Err(step(format!("create database {database}"))(error)),
    }
}

/// Creates each `(group, login, password)` role that is missing: the group owns nothing and cannot
/// bypass row-level security; the login role belongs to it. Passwords follow the configuration.
async fn create_roles_if_missing(
    server: &mut PgConnection,
    roles: &[(&str, String, &str)],
) -> Result<(), DatabaseError> {
    let mut transaction = server.begin().await.map_err(step("begin role creation"))?;
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(ROLE_LOCK_KEY)
        .execute(&mut *transaction)
        .await
        .map_err(step("take the role lock"))?;
    for (group, login, password) in roles {
        let existing: Vec<String> = sqlx::query_scalar("select rolname::text from pg_roles where rolname = any($1)")
            .bind([*group, login.as_str()])
            .fetch_all(&mut *transaction)
            .await
            .map_err(step("look up roles"))?;
        if !existing.iter().any(|name| name == group) {
            execute_formatted(&mut transaction, "create role %I nologin nosuperuser nobypassrls", &[group])
                .await
                .map_err(step(format!("create role {group}")))?;
        }
        if !existing.iter().any(|name| name == login) {
            execute_formatted(
                &mut transaction,
                "create role %I login nosuperuser nobypassrls nocreatedb nocreaterole in role %I",
                &[login, group],
            )
            .await
            .map_err(step(format!("create role {login}")))?;
        }
        execute_formatted(&mut transaction, "alter role %I password %L", &[login, password])
            .await
            .map_err(step(format!("set the password of {login}")))?;
    }
    transaction.commit().await.map_err(step("commit role creation"))
}

/// Runs a statement whose identifiers and literals cannot be bound as parameters (DDL), quoting
/// them with PostgreSQL's own `format()` (`%I` for identifiers, `%L` for literals).
async fn execute_formatted(
    connection: &mut PgConnection,
    template: &str,
    arguments: &[&str],
) -> Result<(), sqlx::Error> {
    let statement: String = sqlx::query_scalar("select format($1, variadic $2::text[])")
        .bind(template)
        .bind(arguments)
        .fetch_one(&mut *connection)
        .await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(&mut *connection).await?;
    Ok(())
}
