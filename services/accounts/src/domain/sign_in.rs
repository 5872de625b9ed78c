//! Signing in: staff on the admin listener, tenant users with their tenant's slug. An unknown
//! e-mail, an unknown tenant and a wrong password get the same answer, after the same work.

use causerie_auth::{Audience, Caller, Role, TokenRequest};
use causerie_core::Error;

use crate::domain::password::Password;
use crate::store::{self, UserRow};
use crate::{ACCESS_TOKEN_LIFETIME, AppState};

pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: i64,
}

fn wrong_credentials() -> Error {
    Error::unauthenticated("wrong credentials")
}

fn issue(state: &AppState, request: TokenRequest) -> Result<IssuedToken, Error> {
    let access_token =
        state.keys.issuer.issue(request, state.clock.now(), ACCESS_TOKEN_LIFETIME).map_err(Error::internal)?;
    Ok(IssuedToken { access_token, expires_in: ACCESS_TOKEN_LIFETIME.num_seconds() })
}

pub async fn staff_login(state: &AppState, email: &str, password: String) -> Result<IssuedToken, Error> {
    let password = Password::attempt(password)?;
    let staff = store::staff_by_email(&state.pool, email.trim()).await?;
    let matches = state.passwords.verify(&password, staff.as_ref().map(|staff| staff.password_hash.as_str())).await?;
    let staff = staff.filter(|_| matches).ok_or_else(wrong_credentials)?;
    tracing::info!(staff.id = %staff.id, "staff signed in");
    issue(
        state,
        TokenRequest {
            audience: Audience::Staff,
            subject: staff.id.to_string(),
            tenant_id: None,
            role: None,
            project_ids: Vec::new(),
        },
    )
}

pub async fn login(state: &AppState, tenant_slug: &str, email: &str, password: String) -> Result<IssuedToken, Error> {
    let password = Password::attempt(password)?;
    let tenant =
        store::tenant_by_slug(&state.pool, tenant_slug.trim()).await?.filter(|tenant| tenant.status == "active");
    let user = match &tenant {
        Some(tenant) => {
            let mut transaction =
                causerie_db::tenant_tx(&state.pool, tenant.id.into()).await.map_err(Error::unavailable)?;
            store::user_by_email(&mut transaction, email.trim()).await?
        }
        None => None,
    };
    let matches = state.passwords.verify(&password, user.as_ref().map(|user| user.password_hash.as_str())).await?;
    let user = user.filter(|_| matches).ok_or_else(wrong_credentials)?;
    let role: Role = user.role.parse().map_err(Error::internal)?;
    issue(
        state,
        TokenRequest {
            audience: Audience::Tenant,
            subject: user.id.to_string(),
            tenant_id: Some(user.tenant_id.into()),
            role: Some(role),
            project_ids: Vec::new(),
        },
    )
}

/// The calling user's own profile.
pub async fn me(state: &AppState, caller: &Caller) -> Result<UserRow, Error> {
    let Caller::TenantUser { tenant_id, user_id, .. } = caller else {
        return Err(Error::unauthenticated("a tenant user's token is required"));
    };
    let mut transaction = causerie_db::tenant_tx(&state.pool, *tenant_id).await.map_err(Error::unavailable)?;
    store::user_by_id(&mut transaction, *user_id)
        .await?
        .ok_or_else(|| Error::unauthenticated("this account no longer exists"))
}
