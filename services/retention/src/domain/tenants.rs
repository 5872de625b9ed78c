//! The tenants retention knows of, learnt from accounts' `accounts.tenant.created`: a tenant's
//! contract end bounds how long any of its data may live.

use causerie_bus::message::TenantCreated;
use causerie_core::{Error, TenantId};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::store;

pub struct TrackedTenant {
    pub id: TenantId,
    pub slug: String,
    pub contract_end: Option<DateTime<Utc>>,
    /// When retention first heard of the tenant.
    pub tracked_since: DateTime<Utc>,
}

/// Starts tracking a tenant accounts created; the same creation applied twice changes nothing.
pub async fn track(
    transaction: &mut PgConnection,
    tenant: &TenantCreated,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let tracked = TrackedTenant {
        id: tenant.tenant_id,
        slug: tenant.slug.clone(),
        contract_end: tenant.contract_end,
        tracked_since: now,
    };
    store::insert_tenant_if_new(transaction, &tracked).await
}

pub async fn find(pool: &PgPool, id: TenantId) -> Result<TrackedTenant, Error> {
    store::tracked_tenant(pool, id).await?.ok_or_else(not_tracked)
}

pub fn not_tracked() -> Error {
    Error::not_found("retention does not track this tenant")
}
