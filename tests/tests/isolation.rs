//! Every service's migrated schema keeps tenants apart: the catalog shows no way for one
//! tenant's rows to leak to another (DESIGN.md section 4).

use causerie_e2e::TestStack;
use causerie_runtime::Service;

#[tokio::test]
async fn no_service_schema_leaks_between_tenants() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    for service in Service::ALL.into_iter().filter(|service| *service != Service::Gateway) {
        let owner = causerie_db::connect_owner(&stack.config, service).await?;
        let leaks = causerie_db::catalog::isolation_leaks(&owner).await?;
        assert!(leaks.is_empty(), "{service}: {leaks:#?}");
        owner.close().await;
    }
    stack.stop().await
}

#[tokio::test]
async fn a_statement_that_sets_its_tenant_refuses_to_switch_a_tenant_transaction() -> anyhow::Result<()> {
    let stack = TestStack::shared()?;
    let owner = causerie_db::connect_owner(&stack.config, Service::Accounts).await?;
    let (tenant, other) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let inside_tenant_transaction = |statement: &'static str| {
        let owner = owner.clone();
        async move {
            let mut transaction = owner.begin().await?;
            sqlx::query("select set_config('app.tenant_id', $1, true)")
                .bind(tenant.to_string())
                .execute(&mut *transaction)
                .await?;
            let outcome = sqlx::query(statement).bind(other).execute(&mut *transaction).await.map(|_| ());
            transaction.rollback().await?;
            anyhow::Ok(outcome.err().and_then(|error| error.as_database_error()?.code().map(|code| code.into_owned())))
        }
    };
    let switched = inside_tenant_transaction("select * from tenant_user($1, gen_random_uuid())").await?;
    assert_eq!(switched.as_deref(), Some("42501"), "tenant_user switched the transaction's tenant");
    let switched = inside_tenant_transaction("select * from latest_consent($1, gen_random_uuid(), 'chat')").await?;
    assert_eq!(switched.as_deref(), Some("42501"), "latest_consent switched the transaction's tenant");
    let grouped = inside_tenant_transaction(
        "select record_consent_group(array[$1]::uuid[], array[gen_random_uuid()], array[gen_random_uuid()],
                                     array[gen_random_uuid()], array['chat'], array[true], array[1], array['widget'],
                                     array[null]::text[], array[now()])",
    )
    .await?;
    assert_eq!(grouped.as_deref(), Some("42501"), "record_consent_group ran inside a tenant transaction");
    // On its own, as the hot paths call it, the statement runs.
    sqlx::query("select * from tenant_user($1, gen_random_uuid())").bind(other).execute(&owner).await?;
    owner.close().await;
    stack.stop().await
}

/// A connection to `service`'s database as `as_service`'s `role`, with that role's password.
async fn connect_as(
    stack: &TestStack,
    as_service: Service,
    role: causerie_runtime::DatabaseRole,
    service: Service,
) -> Result<sqlx::PgConnection, sqlx::Error> {
    use sqlx::Connection;
    use std::str::FromStr;
    let config = &stack.config;
    let password =
        config.database_password(as_service, role).map_err(|error| sqlx::Error::Configuration(error.into()))?;
    let options = sqlx::postgres::PgConnectOptions::from_str(&config.database_url)?
        .database(&config.database_name(service))
        .username(&causerie_db::login_role(config, as_service, role))
        .password(password);
    sqlx::PgConnection::connect_with(&options).await
}

#[tokio::test]
async fn a_services_roles_reach_only_their_own_database_and_only_what_each_needs() -> anyhow::Result<()> {
    use causerie_runtime::DatabaseRole;
    let stack = TestStack::shared()?;
    let denied =
        |error: sqlx::Error| error.as_database_error().and_then(|error| error.code()).map(|code| code.into_owned());

    let elsewhere = connect_as(&stack, Service::Assistant, DatabaseRole::Application, Service::Accounts).await;
    assert_eq!(
        elsewhere.err().and_then(denied).as_deref(),
        Some("42501"),
        "assistant's role opened accounts' database"
    );
    let relay_elsewhere = connect_as(&stack, Service::Retention, DatabaseRole::OutboxRelay, Service::Accounts).await;
    assert_eq!(
        relay_elsewhere.err().and_then(denied).as_deref(),
        Some("42501"),
        "retention's relay opened accounts' database"
    );

    let mut relay = connect_as(&stack, Service::Accounts, DatabaseRole::OutboxRelay, Service::Accounts).await?;
    sqlx::query("select count(*) from outbox").fetch_one(&mut relay).await?;
    for table in ["users", "outgoing_mail", "consent_records", "inbox"] {
        let read =
            sqlx::query(sqlx::AssertSqlSafe(format!("select count(*) from {table}"))).fetch_one(&mut relay).await;
        assert_eq!(read.err().and_then(denied).as_deref(), Some("42501"), "the relay role read {table}");
    }
    let mut mailer = connect_as(&stack, Service::Accounts, DatabaseRole::Mailer, Service::Accounts).await?;
    sqlx::query("select count(*) from outgoing_mail").fetch_one(&mut mailer).await?;
    for table in ["users", "outbox", "consent_records"] {
        let read =
            sqlx::query(sqlx::AssertSqlSafe(format!("select count(*) from {table}"))).fetch_one(&mut mailer).await;
        assert_eq!(read.err().and_then(denied).as_deref(), Some("42501"), "the mailer role read {table}");
    }
    stack.stop().await
}
