//! Bringing a service's database to life: create it if missing, create the roles, migrate it as
//! the owner, then hand back a pool that connects as the service's application role, which owns
//! nothing and cannot bypass row-level security.

use std::str::FromStr;
use std::time::Duration;

use causerie_runtime::{Config, Service};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::{APP_GROUP_ROLE, RELAY_GROUP_ROLE};

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

/// The login role a service connects as.
pub fn app_role(service: Service) -> String {
    format!("causerie_{}_app", service.identifier())
}

/// The login role of a service's outbox relay.
pub fn relay_role(service: Service) -> String {
    format!("causerie_{}_relay", service.identifier())
}

/// A small pool as the service's outbox relay role, which sees every tenant's outbox rows and
/// nothing else.
pub async fn connect_relay(config: &Config, service: Service) -> Result<PgPool, DatabaseError> {
    let database = config.database_name(service);
    let role = relay_role(service);
    PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(
            owner_options(config)?.database(&database).username(&role).password(&config.database_app_password),
        )
        .await
        .map_err(step(format!("connect to {database} as {role}")))
}

fn owner_options(config: &Config) -> Result<PgConnectOptions, DatabaseError> {
    PgConnectOptions::from_str(&config.database_url).map_err(DatabaseError::Url)
}

/// A pool on the service's database as the owner role: migrations, and tests that must look
/// behind row-level security.
pub async fn connect_owner(config: &Config, service: Service) -> Result<PgPool, DatabaseError> {
    let database = config.database_name(service);
    PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(owner_options(config)?.database(&database))
        .await
        .map_err(step(format!("connect to {database} as owner")))
}

/// Creates and migrates the service's database, for a deployment job, without serving.
pub async fn migrate(config: &Config, service: Service, service_migrator: &Migrator) -> Result<(), DatabaseError> {
    prepare(config, service, service_migrator).await?.close().await;
    Ok(())
}

/// Creates and migrates the service's database and returns the application pool.
pub async fn prepare(config: &Config, service: Service, service_migrator: &Migrator) -> Result<PgPool, DatabaseError> {
    let database = config.database_name(service);
    let role = app_role(service);
    let mut server =
        PgConnection::connect_with(&owner_options(config)?).await.map_err(step("connect to the PostgreSQL server"))?;
    create_database_if_missing(&mut server, &database).await?;
    let relay = relay_role(service);
    create_roles_if_missing(
        &mut server,
        &[(APP_GROUP_ROLE, role.as_str()), (RELAY_GROUP_ROLE, relay.as_str())],
        &config.database_app_password,
    )
    .await?;
    execute_formatted(&mut server, "revoke connect on database %I from public", &[&database])
        .await
        .map_err(step(format!("revoke connect on {database}")))?;
    for login_role in [&role, &relay] {
        execute_formatted(&mut server, "grant connect on database %I to %I", &[&database, login_role])
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

    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(
            owner_options(config)?.database(&database).username(&role).password(&config.database_app_password),
        )
        .await
        .map_err(step(format!("connect to {database} as {role}")))
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

/// Creates each `(group, login)` pair of roles that is missing: the group owns nothing and cannot
/// bypass row-level security; the login role belongs to it. Passwords follow the configuration.
async fn create_roles_if_missing(
    server: &mut PgConnection,
    roles: &[(&str, &str)],
    password: &str,
) -> Result<(), DatabaseError> {
    let mut transaction = server.begin().await.map_err(step("begin role creation"))?;
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(ROLE_LOCK_KEY)
        .execute(&mut *transaction)
        .await
        .map_err(step("take the role lock"))?;
    for (group, login) in roles {
        let existing: Vec<String> = sqlx::query_scalar("select rolname::text from pg_roles where rolname = any($1)")
            .bind([*group, *login])
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
