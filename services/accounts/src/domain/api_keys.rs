//! API keys for integrators: created by tenant admins with scopes, shown once, stored as a hash,
//! revocable at once, and exchanged at the gateway for a short-lived token carrying the scopes.

use causerie_auth::{Audience, Scope, TokenRequest};
use causerie_core::Error;
use uuid::Uuid;

use crate::AppState;
use crate::domain::actor::Actor;
use crate::domain::audit::{self, AuditEvent};
use crate::domain::tenancy::TenantStatus;
use crate::domain::{Name, page, secret, sign_in};
use crate::store::api_keys::{self as api_key_store, ApiKeyRow, NewApiKey};

pub struct CreatedKey {
    pub row: ApiKeyRow,
    pub key: String,
}

fn scopes(values: &[String]) -> Result<Vec<String>, Error> {
    if values.is_empty() {
        return Err(Error::invalid_field("scopes", "at least one scope is required"));
    }
    let mut scopes: Vec<String> = Vec::with_capacity(values.len());
    for value in values {
        let scope: Scope = value.parse().map_err(|message: String| Error::invalid_field("scopes", message))?;
        let scope = scope.as_str().to_owned();
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    name: &str,
    requested_scopes: &[String],
) -> Result<CreatedKey, Error> {
    let admin_id = actor.require_admin()?;
    let name = Name::parse("name", name);
    let scopes = scopes(requested_scopes);
    let (name, scopes) = match (name, scopes) {
        (Ok(name), Ok(scopes)) => (name, scopes),
        (name, scopes) => {
            let errors = [name.err(), scopes.err()]
                .into_iter()
                .flatten()
                .flat_map(|error| error.field_errors().to_vec())
                .collect();
            return Err(Error::with_field_errors(causerie_core::ErrorCode::InvalidRequest, errors));
        }
    };
    let key = secret::generate(secret::API_KEY, actor.tenant_id)?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let row = api_key_store::insert(
        &mut transaction,
        &NewApiKey {
            tenant_id: actor.tenant_id.as_uuid(),
            id: Uuid::now_v7(),
            name: name.as_str(),
            scopes: &scopes,
            key_hash: &key.hash,
            created_by: admin_id.as_uuid(),
            now,
        },
    )
    .await?;
    audit::record(
        &mut transaction,
        actor,
        [AuditEvent { action: "api_key.created", subject_kind: "api_key", subject_id: row.id.to_string() }],
        now,
    )
    .await?;
    transaction.commit().await?;
    Ok(CreatedKey { row, key: key.text })
}

/// A page of the tenant's keys not revoked, in id order.
pub async fn list(
    state: &AppState,
    actor: &Actor,
    limit: u32,
    cursor: &str,
) -> Result<(Vec<ApiKeyRow>, Option<String>), Error> {
    actor.require_admin()?;
    let limit = page::limit(limit)?;
    let after = page::id_cursor(cursor)?;
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    let rows = api_key_store::list_live(&mut transaction, after, limit + 1).await?;
    Ok(page::cut(rows, limit, |key| key.id.to_string()))
}

pub async fn revoke(state: &AppState, actor: &Actor, id: &str) -> Result<(), Error> {
    actor.require_admin()?;
    let not_found = || Error::not_found("no such API key");
    let id = Uuid::try_parse(id.trim()).map_err(|_| not_found())?;
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, actor.tenant_id).await?;
    if !api_key_store::revoke(&mut transaction, id, now).await? {
        return Err(not_found());
    }
    audit::record(
        &mut transaction,
        actor,
        [AuditEvent { action: "api_key.revoked", subject_kind: "api_key", subject_id: id.to_string() }],
        now,
    )
    .await?;
    state.directory.revoke(&[id], now).await?;
    transaction.commit().await?;
    state.directory.revoke_after_commit(&[id], state.clock.now()).await;
    Ok(())
}

/// An access token for a live key of an active tenant; `401` for anything else.
pub async fn authenticate(state: &AppState, key: &str) -> Result<sign_in::IssuedTokens, Error> {
    let refused = || Error::unauthenticated("the API key is invalid or revoked");
    let (tenant_id, key_hash) = secret::parse(secret::API_KEY, key).ok_or_else(refused)?;
    match crate::store::tenant_by_id(&state.pool, tenant_id).await? {
        Some(tenant) if tenant.status == TenantStatus::Active => {}
        _ => return Err(refused()),
    }
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    let row = api_key_store::use_key(&mut transaction, &key_hash, state.clock.now()).await?.ok_or_else(refused)?;
    transaction.commit().await?;
    let scopes = row.scopes.iter().filter_map(|scope| scope.parse().ok()).collect();
    let access_token = sign_in::access_token(
        state,
        TokenRequest {
            audience: Audience::Tenant,
            subject: row.id.to_string(),
            tenant_id: Some(tenant_id),
            role: None,
            project_ids: Vec::new(),
            scopes,
            legal_notice_version: None,
        },
    )?;
    Ok(sign_in::IssuedTokens {
        access_token,
        expires_in: crate::ACCESS_TOKEN_LIFETIME.num_seconds(),
        refresh_token: None,
        legal_notice_pending: false,
    })
}
