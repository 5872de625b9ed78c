//! The one way into tenant data: a transaction that has set `app.tenant_id`, which every
//! row-level security policy reads. With `set_config(..., true)` the setting dies with the
//! transaction, so a pooled connection never carries one tenant into the next request.

use causerie_core::TenantId;
use sqlx::{PgPool, Postgres, Transaction};

pub type TenantTransaction = Transaction<'static, Postgres>;

pub async fn tenant_tx(pool: &PgPool, tenant: TenantId) -> Result<TenantTransaction, sqlx::Error> {
    // One round trip for both: the tenant transaction sits on every request's path. The id is a
    // UUID printed by `Uuid`'s own formatter (hex digits and hyphens), so it cannot break out of
    // the literal.
    let begin = format!("begin; select set_config('app.tenant_id', '{tenant}', true)");
    pool.begin_with(sqlx::AssertSqlSafe(begin)).await
}
