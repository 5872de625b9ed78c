//! The one way into tenant data: a transaction that has set `app.tenant_id`, which every
//! row-level security policy reads. With `set_config(..., true)` the setting dies with the
//! transaction, so a pooled connection never carries one tenant into the next request.

use causerie_core::TenantId;
use sqlx::{PgPool, Postgres, Transaction};

pub type TenantTransaction = Transaction<'static, Postgres>;

pub async fn tenant_tx(pool: &PgPool, tenant: TenantId) -> Result<TenantTransaction, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    sqlx::query("select set_config('app.tenant_id', $1, true)")
        .bind(tenant.to_string())
        .execute(&mut *transaction)
        .await?;
    Ok(transaction)
}
