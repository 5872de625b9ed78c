//! What a failed statement answers, against the real server: a bug is a 500 that says nothing
//! internal, a database that cannot be reached is a 503, a unique violation the query expects is
//! its 409.

use std::time::Duration;

use causerie_core::{Error, ErrorCode};
use causerie_runtime::Service;
use sqlx::postgres::PgPoolOptions;

static NOTES: sqlx::migrate::Migrator = sqlx::migrate!("./tests/fixtures/notes");

#[tokio::test]
async fn a_broken_statement_answers_500_not_503() -> anyhow::Result<()> {
    let config = causerie_testkit::test_config()?;
    let pool = causerie_db::prepare(&config, Service::Assistant, &NOTES).await?;
    let failure = sqlx::query("select body from no_such_table").execute(&pool).await.map(|_| ()).map_err(Error::from);
    let error = failure.err().ok_or_else(|| anyhow::anyhow!("a broken statement succeeded"))?;
    assert_eq!(error.code(), ErrorCode::Internal);
    assert_eq!(error.code().http_status(), 500);
    assert!(!error.detail().contains("no_such_table"), "the detail shows the cause: {}", error.detail());
    pool.close().await;
    causerie_testkit::drop_test_databases(&config).await
}

#[tokio::test]
async fn a_pool_that_cannot_connect_answers_503() -> anyhow::Result<()> {
    let config = causerie_testkit::test_config()?;
    let (proxy, database_url) = causerie_testkit::TcpProxy::in_front_of(&config.database_url, 5432).await?;
    proxy.cut();
    let pool = PgPoolOptions::new().acquire_timeout(Duration::from_secs(1)).connect_lazy(&database_url)?;
    let failure = sqlx::query("select 1").execute(&pool).await.map(|_| ()).map_err(Error::from);
    let error = failure.err().ok_or_else(|| anyhow::anyhow!("a cut-off database answered"))?;
    assert_eq!(error.code(), ErrorCode::Unavailable);
    assert_eq!(error.code().http_status(), 503);
    Ok(())
}

#[tokio::test]
async fn an_expected_unique_violation_is_a_409_and_an_unexpected_one_a_500() -> anyhow::Result<()> {
    let config = causerie_testkit::test_config()?;
    let pool = causerie_db::prepare(&config, Service::Assistant, &NOTES).await?;
    let mut server = causerie_db::connect_owner(&config, Service::Assistant).await?.acquire().await?.detach();
    sqlx::query("create temporary table slugs (slug text primary key)").execute(&mut server).await?;
    sqlx::query("insert into slugs values ('acme')").execute(&mut server).await?;
    let duplicate = sqlx::query("insert into slugs values ('acme')").execute(&mut server).await.map(|_| ());
    let duplicate = duplicate.err().ok_or_else(|| anyhow::anyhow!("a duplicate was accepted"))?;
    assert!(causerie_core::sql::is_unique_violation(&duplicate));
    assert_eq!(Error::conflict_if_unique(duplicate, "slug \"acme\" is taken").code(), ErrorCode::Conflict);
    let again = sqlx::query("insert into slugs values ('acme')").execute(&mut server).await.map(|_| ());
    let again = again.err().ok_or_else(|| anyhow::anyhow!("a duplicate was accepted"))?;
    assert_eq!(Error::from(again).code(), ErrorCode::Internal);
    pool.close().await;
    causerie_testkit::drop_test_databases(&config).await
}
