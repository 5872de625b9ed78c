//! Support access: the vendor's staff reach a tenant's personal data only while a tenant admin
//! grants it, for a limited time and scope, revocably, and every use is audited. Without a grant
//! support sees tenant metadata only, and a tenant's users answer `404`. Staff also enrol their
//! second factor here.

use causerie_core::{Error, StaffId, TenantId};
use chrono::{DateTime, Utc};

use crate::AppState;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditEvent};
use crate::domain::{page, totp};
use crate::store::support::{self as support_store, NewSupportGrant, SupportGrantRow};
use crate::store::users::{self as user_store, UserRow};

/// The longest a grant may run.
const MAX_GRANT: chrono::Duration = chrono::Duration::days(30);

pub async fn create_grant(
    state: &AppState,
    actor: &Actor,
    scope: &str,
    expires_at: Option<DateTime<Utc>>,
    reason: Option<&str>,
) -> Result<SupportGrantRow, Error> {
    let admin_id = actor.require_admin()?;
    let now = state.clock.now();
    if !matches!(scope, "read" | "read_write") {
        return Err(Error::invalid_field("scope", "must be read or read_write"));
    }
    let expires_at = expires_at.ok_or_else(|| Error::invalid_field("expires_at", "is required"))?;
    if expires_at <= now || expires_at > now + MAX_GRANT {
        return Err(Error::invalid_field("expires_at", "must be in the future and at most 30 days away"));
    }
    let reason = reason.map(str::trim).filter(|reason| !reason.is_empty());
    if reason.is_some_and(|reason| reason.chars().count() > 1000) {
        return Err(Error::invalid_field("reason", "must be at most 1000 characters"));
    }
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let grant = support_store::insert(
        &mut transaction,
        &NewSupportGrant {
            tenant_id: actor.tenant_id.as_uuid(),
            scope,
            reason,
            granted_by: admin_id.as_uuid(),
            now,
            expires_at,
        },
    )
    .await?;
    audit::record(
        &mut transaction,
        actor,
        [AuditEvent {
            action: "support_grant.created",
            subject_kind: "support_grant",
            subject_id: grant.id.to_string(),
        }],
        now,
    )
    .await?;
    transaction.commit().await?;
    Ok(grant)
}

/// A page of the tenant's grants, newest first (ids are time-ordered).
pub async fn list_grants(
    state: &AppState,
    actor: &Actor,
    limit: u32,
    cursor: &str,
) -> Result<(Vec<SupportGrantRow>, Option<String>), Error> {
    actor.require_admin()?;
    let limit = page::limit(limit)?;
    let before = page::id_cursor(cursor)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let rows = support_store::list(&mut transaction, before, limit + 1).await?;
    Ok(page::cut(rows, limit, |grant| grant.id.to_string()))
}

pub async fn revoke_grant(state: &AppState, actor: &Actor, id: &str) -> Result<(), Error> {
    actor.require_admin()?;
    let not_found = || Error::not_found("no such support grant");
    let id = uuid::Uuid::try_parse(id.trim()).map_err(|_| not_found())?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    if !support_store::revoke(&mut transaction, id, now).await? {
        return Err(not_found());
    }
    audit::record(
        &mut transaction,
        actor,
        [AuditEvent { action: "support_grant.revoked", subject_kind: "support_grant", subject_id: id.to_string() }],
        now,
    )
    .await?;
    transaction.commit().await.map_err(Error::from)
}

/// A tenant's users for support staff, while a grant is in force; `404` otherwise, as for an
/// unknown tenant. Each user shown is an audited read by that staff member.
pub async fn tenant_users(
    state: &AppState,
    staff_id: StaffId,
    tenant_id: &str,
    limit: u32,
    cursor: &str,
    source_address: Option<String>,
) -> Result<(Vec<UserRow>, Option<String>), Error> {
    let not_found = || Error::not_found("no such tenant");
    let tenant_id: TenantId = tenant_id.trim().parse().map_err(|_| not_found())?;
    let limit = page::limit(limit)?;
    let after = page::id_cursor(cursor)?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    support_store::live(&mut transaction, now).await?.ok_or_else(not_found)?;
    let (users, next) =
        page::cut(user_store::list(&mut transaction, after, limit + 1).await?, limit, |user| user.id.to_string());
    let actor = Actor::staff(staff_id, tenant_id, source_address);
    let events: Vec<AuditEvent<'static>> = users
        .iter()
        .map(|user| AuditEvent { action: "user.read", subject_kind: "user", subject_id: user.id.to_string() })
        .collect();
    audit::record(&mut transaction, &actor, events, now).await?;
    transaction.commit().await?;
    Ok((users, next))
}

/// What another service shows a staff member of a tenant's data, audited while a grant is in
/// force; `404` otherwise, and then the service shows nothing.
pub async fn record_support_read(
    state: &AppState,
    staff_id: StaffId,
    tenant_id: &str,
    read: SupportRead<'_>,
    source_address: Option<String>,
) -> Result<(), Error> {
    let not_found = || Error::not_found("no such tenant");
    let tenant_id: TenantId = tenant_id.trim().parse().map_err(|_| not_found())?;
    let allowed = |text: &str| {
        !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.')
    };
    if !allowed(read.action) || !allowed(read.subject_kind) {
        return Err(Error::invalid_field("action", "must be lowercase words joined by . or _"));
    }
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    support_store::live(&mut transaction, now).await?.ok_or_else(not_found)?;
    let actor = Actor::staff(staff_id, tenant_id, source_address);
    let events: Vec<AuditEvent<'_>> = read
        .subject_ids
        .iter()
        .map(|subject_id| AuditEvent {
            action: read.action,
            subject_kind: read.subject_kind,
            subject_id: subject_id.clone(),
        })
        .collect();
    audit::record(&mut transaction, &actor, events, now).await?;
    transaction.commit().await?;
    Ok(())
}

/// A read another service is about to show a staff member.
pub struct SupportRead<'a> {
    pub action: &'a str,
    pub subject_kind: &'a str,
    pub subject_ids: &'a [String],
}

pub struct TotpEnrollment {
    pub secret: String,
    pub otpauth_uri: String,
}

/// A new secret for the staff member, pending until a first code proves the app holds it.
/// Refused once a second factor is enrolled: replacing it would let a stolen session remove it.
pub async fn start_totp_enrollment(state: &AppState, staff_id: StaffId) -> Result<TotpEnrollment, Error> {
    let staff = crate::store::staff_by_id(&state.pool, staff_id)
        .await?
        .ok_or_else(|| Error::unauthenticated("no such staff member"))?;
    if staff.totp_secret.is_some() {
        return Err(Error::conflict("a second factor is already enrolled"));
    }
    let secret = crate::domain::secret::random_bytes::<{ totp::SECRET_BYTES }>()?;
    crate::store::set_staff_pending_totp(&state.pool, staff.id, &secret, state.clock.now()).await?;
    Ok(TotpEnrollment { secret: totp::base32(&secret), otpauth_uri: totp::otpauth_uri(&secret, &staff.email) })
}

pub async fn confirm_totp_enrollment(state: &AppState, staff_id: StaffId, code: &str) -> Result<(), Error> {
    let staff = crate::store::staff_by_id(&state.pool, staff_id)
        .await?
        .ok_or_else(|| Error::unauthenticated("no such staff member"))?;
    let pending = staff.totp_pending_secret.ok_or_else(|| Error::conflict("no enrolment was started"))?;
    let now = state.clock.now();
    let step =
        totp::verify(&pending, code, now).ok_or_else(|| Error::invalid_field("code", "is not the current code"))?;
    crate::store::confirm_staff_totp(&state.pool, staff.id, step, now).await?;
    tracing::info!(staff.id = %staff.id, "second factor enrolled");
    Ok(())
}
