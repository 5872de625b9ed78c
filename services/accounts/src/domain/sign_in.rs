//! Signing in and staying signed in: staff on the admin listener (with their second factor once
//! enrolled), tenant users with their tenant's slug, refresh-token rotation and logout. An unknown
//! e-mail, an unknown tenant and a wrong password get the same answer, after the same work.

use causerie_auth::{Audience, TokenRequest};
use causerie_core::{Error, StaffId, TenantId};
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::adapters::password_hashing::Verdict;
use crate::domain::password::Password;
use crate::domain::tenancy::TenantStatus;
use crate::domain::{secret, totp};
use crate::store::sessions::{self as session_store, NewRefreshToken};
use crate::store::users::{self as user_store, UserRow};
use crate::store::{self, legal as legal_store};
use crate::{ACCESS_TOKEN_LIFETIME, AppState};

/// How long a refresh token may wait to be used. Each use replaces it.
pub const REFRESH_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::days(30);

pub struct IssuedTokens {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub legal_notice_pending: bool,
}

fn wrong_credentials() -> Error {
    Error::unauthenticated("wrong credentials")
}

fn wrong_staff_credentials() -> Error {
    Error::unauthenticated("wrong credentials or second-factor code")
}

pub fn access_token(state: &AppState, request: TokenRequest) -> Result<String, Error> {
    let now = state.clock.now();
    state.keys.current().issuer(now)?.issue(request, now, ACCESS_TOKEN_LIFETIME).map_err(Error::internal)
}

pub async fn staff_login(
    state: &AppState,
    email: &str,
    password: String,
    totp_code: Option<&str>,
    source_address: Option<&str>,
) -> Result<IssuedTokens, Error> {
    let password = Password::attempt(password)?;
    let attempt = state.login_guard.attempt("staff", email, source_address);
    state.login_guard.begin(&attempt).await?;
    let staff = store::staff_by_email(&state.pool, email.trim()).await?;
    let verdict = state.passwords.verify(&password, staff.as_ref().map(|staff| staff.password_hash.as_str())).await?;
    let staff = staff.filter(|_| verdict.matches()).ok_or_else(wrong_staff_credentials)?;
    // A missing code and a wrong one answer like a wrong password: the answer must not confirm
    // that the password was right.
    if let Some(secret) = &staff.totp_secret {
        let step = totp_code.and_then(|code| totp::verify(secret, code, state.clock.now()));
        let fresh = match step {
            Some(step) => store::use_staff_totp_step(&state.pool, staff.id, step).await?,
            None => false,
        };
        if !fresh {
            return Err(wrong_staff_credentials());
        }
    }
    state.login_guard.succeeded(&attempt).await?;
    if verdict == (Verdict::Match { outdated: true }) {
        let hash = state.passwords.hash(&password).await?;
        store::set_staff_password_hash(&state.pool, staff.id, &hash, state.clock.now()).await?;
    }
    tracing::info!(staff.id = %staff.id, "staff signed in");
    access_token_alone(state, Audience::Staff, StaffId::from(staff.id).to_string())
}

/// An access token of `audience` for `subject`, outside any tenant, and no refresh token: what
/// staff and services are given.
pub fn access_token_alone(state: &AppState, audience: Audience, subject: String) -> Result<IssuedTokens, Error> {
    let access_token = access_token(
        state,
        TokenRequest {
            audience,
            subject,
            tenant_id: None,
            role: None,
            project_ids: Vec::new(),
            scopes: Vec::new(),
            legal_notice_version: None,
        },
    )?;
    Ok(IssuedTokens {
        access_token,
        expires_in: ACCESS_TOKEN_LIFETIME.num_seconds(),
        refresh_token: None,
        legal_notice_pending: false,
    })
}

pub async fn login(
    state: &AppState,
    tenant_slug: &str,
    email: &str,
    password: String,
    source_address: Option<&str>,
) -> Result<IssuedTokens, Error> {
    let password = Password::attempt(password)?;
    let attempt = state.login_guard.attempt(tenant_slug.trim(), email, source_address);
    state.login_guard.begin(&attempt).await?;
    let tenant = store::tenant_by_slug(&state.pool, tenant_slug.trim())
        .await?
        .filter(|tenant| tenant.status == TenantStatus::Active);
    let user = match &tenant {
        Some(tenant) => {
            let mut transaction = causerie_db::tenant_tx(&state.pool, tenant.id.into()).await?;
            user_store::by_email(&mut transaction, email.trim()).await?
        }
        None => None,
    };
    let verdict =
        state.passwords.verify(&password, user.as_ref().and_then(|user| user.password_hash.as_deref())).await?;
    let user = user.filter(|_| verdict.matches()).ok_or_else(wrong_credentials)?;
    state.login_guard.succeeded(&attempt).await?;
    let tenant_id = TenantId::from(user.tenant_id);
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    // The user as it is now: while the password was checked, it may have been erased, given
    // another password, role or projects; what the session carries is read under the lock.
    let user = user_to_issue_for(&mut transaction, user.id)
        .await?
        .filter(|current| current.password_hash == user.password_hash)
        .ok_or_else(wrong_credentials)?;
    if verdict == (Verdict::Match { outdated: true }) {
        let hash = state.passwords.hash(&password).await?;
        user_store::set_password_hash(&mut transaction, user.id, &hash, state.clock.now()).await?;
    }
    let tokens = issue_session(state, &mut transaction, &user, Uuid::now_v7()).await?;
    transaction.commit().await?;
    Ok(tokens)
}

/// The live user a session is about to be issued to, read in the issuing transaction and locked
/// until it commits. A change of the user's access (role, projects, erasure) then waits for the
/// session, and the revocation it stamps after its own commit covers the token issued here;
/// without the lock, a token signed just after that stamp would carry the access taken away.
async fn user_to_issue_for(transaction: &mut PgConnection, user_id: Uuid) -> Result<Option<UserRow>, Error> {
    Ok(user_store::by_id_for_share(transaction, user_id).await?.filter(|user| !user.is_erased()))
}

/// An access token and a new refresh token of `family_id` for `user`, in the caller's tenant
/// transaction, which holds `user` as `user_to_issue_for` read it.
async fn issue_session(
    state: &AppState,
    transaction: &mut PgConnection,
    user: &UserRow,
    family_id: Uuid,
) -> Result<IssuedTokens, Error> {
    let now = state.clock.now();
    let tenant_id = TenantId::from(user.tenant_id);
    let role = user.role;
    let (current_version, accepted_version) = legal_store::versions(transaction, user.id).await?;
    let refresh = secret::generate(secret::REFRESH_TOKEN, tenant_id)?;
    session_store::insert_refresh_token(
        transaction,
        &NewRefreshToken {
            tenant_id: user.tenant_id,
            user_id: user.id,
            family_id,
            token_hash: &refresh.hash,
            now,
            expires_at: now + REFRESH_TOKEN_LIFETIME,
        },
    )
    .await?;
    let access_token = access_token(
        state,
        TokenRequest {
            audience: Audience::Tenant,
            subject: user.id.to_string(),
            tenant_id: Some(tenant_id),
            role: Some(role),
            project_ids: user.project_ids.iter().copied().map(Into::into).collect(),
            scopes: Vec::new(),
            legal_notice_version: Some(accepted_version),
        },
    )?;
    Ok(IssuedTokens {
        access_token,
        expires_in: ACCESS_TOKEN_LIFETIME.num_seconds(),
        refresh_token: Some(refresh.text),
        legal_notice_pending: accepted_version < current_version,
    })
}

fn invalid_refresh_token() -> Error {
    Error::unauthenticated("the refresh token is invalid, expired or revoked")
}

/// Exchanges a refresh token for a new pair. A token presented a second time means two parties
/// hold it; the whole family is revoked, so the thief's copy dies with the user's.
pub async fn refresh(state: &AppState, refresh_token: &str) -> Result<IssuedTokens, Error> {
    let (tenant_id, token_hash) =
        secret::parse(secret::REFRESH_TOKEN, refresh_token).ok_or_else(invalid_refresh_token)?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    let token = session_store::refresh_token_for_update(&mut transaction, &token_hash)
        .await?
        .ok_or_else(invalid_refresh_token)?;
    if token.used_at.is_some() {
        session_store::revoke_family(&mut transaction, token.family_id, now).await?;
        transaction.commit().await?;
        tracing::warn!(tenant.id = %tenant_id, family = %token.family_id, "refresh token reused; family revoked");
        return Err(invalid_refresh_token());
    }
    if token.revoked_at.is_some() || token.expires_at <= now {
        return Err(invalid_refresh_token());
    }
    let user = user_to_issue_for(&mut transaction, token.user_id).await?.ok_or_else(invalid_refresh_token)?;
    active_tenant(state, tenant_id).await?;
    session_store::mark_refresh_token_used(&mut transaction, token.id, now).await?;
    let tokens = issue_session(state, &mut transaction, &user, token.family_id).await?;
    transaction.commit().await?;
    Ok(tokens)
}

async fn active_tenant(state: &AppState, tenant_id: TenantId) -> Result<(), Error> {
    match store::tenant_by_id(&state.pool, tenant_id).await? {
        Some(tenant) if tenant.status == TenantStatus::Active => Ok(()),
        _ => Err(invalid_refresh_token()),
    }
}

/// Ends the session the refresh token belongs to. Unknown tokens answer alike, so logout tells
/// nothing about which tokens exist.
pub async fn logout(state: &AppState, refresh_token: &str) -> Result<(), Error> {
    let Some((tenant_id, token_hash)) = secret::parse(secret::REFRESH_TOKEN, refresh_token) else {
        return Ok(());
    };
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    if let Some(token) = session_store::refresh_token_for_update(&mut transaction, &token_hash).await? {
        session_store::revoke_family(&mut transaction, token.family_id, state.clock.now()).await?;
    }
    transaction.commit().await.map_err(Error::from)
}

/// Every refresh token of the user stops working, in the caller's transaction.
pub async fn revoke_sessions(transaction: &mut PgConnection, user_id: Uuid, now: DateTime<Utc>) -> Result<(), Error> {
    let revoked = session_store::revoke_user_refresh_tokens(transaction, user_id, now).await?;
    tracing::info!(user.id = %user_id, revoked, "sessions revoked");
    Ok(())
}
