//! Row-level security as the services use it: through `tenant_tx`, as the application role,
//! against a schema built by the rules, and the catalog check that catches schemas that are not.

use causerie_core::TenantId;
use causerie_runtime::{Config, Service};
use sqlx::PgPool;
use uuid::Uuid;

static NOTES: sqlx::migrate::Migrator = sqlx::migrate!("./tests/fixtures/notes");

async fn notes_database() -> anyhow::Result<(Config, PgPool)> {
    let config = causerie_testkit::test_config()?;
    let pool = causerie_db::prepare(&config, Service::Assistant, &NOTES).await?;
    Ok((config, pool))
}

async fn add_note(pool: &PgPool, tenant: TenantId, body: &str) -> anyhow::Result<Uuid> {
    let id = Uuid::now_v7();
    let mut transaction = causerie_db::tenant_tx(pool, tenant).await?;
    sqlx::query("insert into notes (tenant_id, id, body) values ($1, $2, $3)")
        .bind(tenant.as_uuid())
        .bind(id)
        .bind(body)
        .execute(&mut *transaction)
        .await?;
    transaction.commit().await?;
    Ok(id)
}

async fn finish(config: &Config, pool: PgPool) -> anyhow::Result<()> {
    pool.close().await;
    causerie_testkit::drop_test_databases(config).await
}

#[tokio::test]
async fn a_tenant_cannot_see_or_change_another_tenants_rows_even_without_a_where() -> anyhow::Result<()> {
    let (config, pool) = notes_database().await?;
    let (tenant_a, tenant_b) = (TenantId::new(), TenantId::new());
    add_note(&pool, tenant_a, "a's secret").await?;

    let mut as_b = causerie_db::tenant_tx(&pool, tenant_b).await?;
    let seen: Vec<String> = sqlx::query_scalar("select body from notes").fetch_all(&mut *as_b).await?;
    assert!(seen.is_empty(), "{seen:?}");
    let updated = sqlx::query("update notes set body = 'defaced'").execute(&mut *as_b).await?.rows_affected();
    let deleted = sqlx::query("delete from notes").execute(&mut *as_b).await?.rows_affected();
    assert_eq!((updated, deleted), (0, 0));
    as_b.commit().await?;

    let mut as_a = causerie_db::tenant_tx(&pool, tenant_a).await?;
    let seen: Vec<String> = sqlx::query_scalar("select body from notes").fetch_all(&mut *as_a).await?;
    assert_eq!(seen, ["a's secret"]);
    as_a.commit().await?;
    finish(&config, pool).await
}

#[tokio::test]
async fn with_no_tenant_set_nothing_is_seen_or_written() -> anyhow::Result<()> {
    let (config, pool) = notes_database().await?;
    add_note(&pool, TenantId::new(), "someone's note").await?;
    let seen: Vec<String> = sqlx::query_scalar("select body from notes").fetch_all(&pool).await?;
    assert!(seen.is_empty());
    let inserted = sqlx::query("insert into notes (tenant_id, id, body) values ($1, $2, 'x')")
        .bind(Uuid::now_v7())
        .bind(Uuid::now_v7())
        .execute(&pool)
        .await;
    assert!(inserted.is_err(), "an insert with no tenant set must be refused");
    finish(&config, pool).await
}

#[tokio::test]
async fn the_tenant_setting_does_not_outlive_its_transaction() -> anyhow::Result<()> {
    let (config, pool) = notes_database().await?;
    let tenant = TenantId::new();
    add_note(&pool, tenant, "mine").await?;
    // Every pooled connection has now run a tenant transaction at least once or not at all;
    // none may still carry the tenant.
    for _ in 0..20 {
        let seen: i64 = sqlx::query_scalar("select count(*) from notes").fetch_one(&pool).await?;
        assert_eq!(seen, 0);
    }
    finish(&config, pool).await
}

#[tokio::test]
async fn a_tenant_cannot_reference_or_write_into_another_tenants_rows() -> anyhow::Result<()> {
    let (config, pool) = notes_database().await?;
    let (tenant_a, tenant_b) = (TenantId::new(), TenantId::new());
    let note_of_a = add_note(&pool, tenant_a, "a's note").await?;

    let mut as_b = causerie_db::tenant_tx(&pool, tenant_b).await?;
    let pointing_at_a =
        sqlx::query("insert into note_comments (tenant_id, id, note_id, body) values ($1, $2, $3, 'gotcha')")
            .bind(tenant_b.as_uuid())
            .bind(Uuid::now_v7())
            .bind(note_of_a)
            .execute(&mut *as_b)
            .await;
    let error = pointing_at_a
        .err()
        .and_then(|error| error.into_database_error())
        .map(|error| error.code().map(|code| code.into_owned()));
    assert_eq!(error, Some(Some("23503".to_owned())), "the composite foreign key must refuse a's note");
    as_b.rollback().await?;

    let mut as_b = causerie_db::tenant_tx(&pool, tenant_b).await?;
    let written_as_a =
        sqlx::query("insert into note_comments (tenant_id, id, note_id, body) values ($1, $2, $3, 'gotcha')")
            .bind(tenant_a.as_uuid())
            .bind(Uuid::now_v7())
            .bind(note_of_a)
            .execute(&mut *as_b)
            .await;
    assert!(written_as_a.is_err(), "the policy's WITH CHECK must refuse a row of another tenant");
    as_b.rollback().await?;
    finish(&config, pool).await
}

#[tokio::test]
async fn the_catalog_check_finds_each_kind_of_leak() -> anyhow::Result<()> {
    let (config, pool) = notes_database().await?;
    let owner = causerie_db::connect_owner(&config, Service::Assistant).await?;
    assert!(causerie_db::catalog::isolation_leaks(&owner).await?.is_empty(), "the fixture is sound");
    sqlx::raw_sql(
        "create table open_notes (tenant_id uuid not null, id uuid primary key, body text);
         create table unforced (tenant_id uuid not null, id uuid not null, primary key (tenant_id, id));
         alter table unforced enable row level security;
         create policy unforced_policy on unforced using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
         create unique index notes_body on notes (body);
         create table loose_comments (tenant_id uuid not null, id uuid not null, note_tenant uuid, note_id uuid,
             primary key (tenant_id, id), foreign key (note_tenant, note_id) references notes (tenant_id, id));
         alter table loose_comments enable row level security;
         alter table loose_comments force row level security;
         create policy loose_policy on loose_comments using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
         create view note_bodies as select body from notes;
         create table app_owned (id uuid primary key);
         alter table app_owned owner to causerie_app;
         create function all_notes() returns setof notes language sql security definer as 'select * from notes';
         create policy wide_open on notes using (true);
         create policy check_nothing on notes for insert with check (body is not null);
         create function switch_tenant(t uuid) returns text language sql
             as $$ select set_config('app.tenant_id', t::text, true) $$;
         create table crossed (tenant_id uuid not null, id uuid not null, primary key (tenant_id, id),
             foreign key (id, tenant_id) references notes (tenant_id, id));
         alter table crossed enable row level security;
         alter table crossed force row level security;
         create policy crossed_policy on crossed using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
         grant truncate, references, trigger on notes to causerie_app;",
    )
    .execute(&owner)
    .await?;
    let leaks = causerie_db::catalog::isolation_leaks(&owner).await?;
    let objects: Vec<&str> = leaks.iter().map(|leak| leak.object.as_str()).collect();
    for expected in [
        "open_notes",
        "unforced",
        "notes_body",
        "open_notes_pkey",
        "note_bodies",
        "app_owned",
        "all_notes",
        "wide_open",
        "check_nothing",
        "switch_tenant",
        "notes: TRUNCATE",
        "notes: REFERENCES",
        "notes: TRIGGER",
    ] {
        assert!(objects.contains(&expected), "{expected} not reported in {objects:?}");
    }
    assert!(
        leaks.iter().any(|leak| leak.problem.contains("foreign key") && leak.object.starts_with("loose_comments")),
        "{leaks:#?}"
    );
    assert!(
        leaks.iter().any(|leak| leak.problem.contains("foreign key") && leak.object.starts_with("crossed")),
        "tenant_id paired with id: {leaks:#?}"
    );
    owner.close().await;
    finish(&config, pool).await
}

#[tokio::test]
async fn only_the_relay_role_sees_every_tenants_outbox() -> anyhow::Result<()> {
    let (config, pool) = notes_database().await?;
    let tenant_a = TenantId::new();
    let mut as_a = causerie_db::tenant_tx(&pool, tenant_a).await?;
    sqlx::query("insert into outbox (tenant_id, id, routing_key, envelope) values ($1, $2, 'x.y.z', '{}')")
        .bind(tenant_a.as_uuid())
        .bind(Uuid::now_v7())
        .execute(&mut *as_a)
        .await?;
    as_a.commit().await?;

    // The application role, even claiming to be the relay, sees only its tenant's rows.
    let mut as_b = causerie_db::tenant_tx(&pool, TenantId::new()).await?;
    sqlx::query("select set_config('app.outbox_relay', 'on', true)").execute(&mut *as_b).await?;
    let seen: i64 = sqlx::query_scalar("select count(*) from outbox").fetch_one(&mut *as_b).await?;
    assert_eq!(seen, 0);
    as_b.rollback().await?;

    let relay = causerie_db::connect_relay(&config, Service::Assistant).await?;
    let seen: i64 = sqlx::query_scalar("select count(*) from outbox").fetch_one(&relay).await?;
    assert_eq!(seen, 1);
    let notes = sqlx::query("select count(*) from notes").fetch_one(&relay).await;
    assert!(notes.is_err(), "the relay role reads the outbox and nothing else");
    relay.close().await;
    finish(&config, pool).await
}
