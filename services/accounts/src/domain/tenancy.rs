//! Creating tenants (with their first admin, in one transaction that also announces the tenant
//! on the bus) and reading them back, for staff.

use causerie_bus::message::TenantCreated;
use causerie_bus::{Envelope, Message};
use causerie_core::{Error, TenantId, UserId};
use chrono::{DateTime, Utc};

use crate::AppState;
use crate::domain::password::Password;
use crate::domain::{Email, Name, Slug};
use crate::store::users::{self as user_store, NewUser};
use crate::store::{self, NewTenant, TenantRow};

/// Whether a tenant's users and widgets work. Support suspends a tenant (unpaid, or at its
/// request) without touching its data; the contract's end is a retention matter, not a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    /// A status as support sends it.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match text {
            "active" => Ok(Self::Active),
            "suspended" => Ok(Self::Suspended),
            _ => Err(Error::invalid_field("status", "must be active or suspended")),
        }
    }
}

/// For a status read from the `tenants.status` column.
impl TryFrom<String> for TenantStatus {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text).map_err(|_| format!("unknown tenant status {text:?}"))
    }
}

pub struct TenantRequest {
    pub name: String,
    pub slug: String,
    pub contract_end: Option<DateTime<Utc>>,
    pub admin_email: String,
    pub admin_first_name: String,
    pub admin_last_name: String,
    pub admin_password: String,
}

pub struct CreatedTenant {
    pub tenant: TenantRow,
    pub admin_user_id: UserId,
}

/// Every field is checked before anything is written, and every problem is reported at once.
struct ValidTenantRequest {
    name: Name,
    slug: Slug,
    contract_end: Option<DateTime<Utc>>,
    admin_email: Email,
    admin_first_name: Name,
    admin_last_name: Name,
    admin_password: Password,
}

fn validate(request: TenantRequest) -> Result<ValidTenantRequest, Error> {
    let name = Name::parse("name", &request.name);
    let slug = Slug::parse(&request.slug);
    let admin_email = Email::parse("admin.email", &request.admin_email);
    let admin_first_name = Name::parse("admin.first_name", &request.admin_first_name);
    let admin_last_name = Name::parse("admin.last_name", &request.admin_last_name);
    let account_words = [
        request.admin_email.as_str(),
        request.admin_first_name.as_str(),
        request.admin_last_name.as_str(),
        request.name.as_str(),
        request.slug.as_str(),
    ];
    let admin_password = Password::new_from("admin.password", request.admin_password, &account_words);
    match (name, slug, admin_email, admin_first_name, admin_last_name, admin_password) {
        (Ok(name), Ok(slug), Ok(admin_email), Ok(admin_first_name), Ok(admin_last_name), Ok(admin_password)) => {
            Ok(ValidTenantRequest {
                name,
                slug,
                contract_end: request.contract_end,
                admin_email,
                admin_first_name,
                admin_last_name,
                admin_password,
            })
        }
        (name, slug, admin_email, admin_first_name, admin_last_name, admin_password) => {
            let errors = [
                name.err(),
                slug.err(),
                admin_email.err(),
                admin_first_name.err(),
                admin_last_name.err(),
                admin_password.err(),
            ]
            .into_iter()
            .flatten()
            .flat_map(|error| error.field_errors().to_vec())
            .collect();
            Err(Error::with_field_errors(causerie_core::ErrorCode::InvalidRequest, errors))
        }
    }
}

pub async fn create_tenant(state: &AppState, request: TenantRequest) -> Result<CreatedTenant, Error> {
    let request = validate(request)?;
    let password_hash = state.passwords.hash(&request.admin_password).await?;
    let tenant_id = TenantId::new();
    let admin_user_id = UserId::new();
    let now = state.clock.now();
    let mut transaction = causerie_db::tenant_tx(&state.pool, tenant_id).await?;
    let tenant = store::insert_tenant(
        &mut transaction,
        &NewTenant {
            id: tenant_id,
            name: request.name.as_str(),
            slug: request.slug.as_str(),
            contract_end: request.contract_end,
            now,
        },
    )
    .await?;
    user_store::insert(
        &mut transaction,
        tenant_id,
        &NewUser {
            id: admin_user_id,
            email: request.admin_email.as_str(),
            first_name: request.admin_first_name.as_str(),
            last_name: request.admin_last_name.as_str(),
            role: causerie_auth::Role::Admin.as_str(),
            password_hash: Some(&password_hash),
            pseudonym: None,
            languages: &[],
            skills: &[],
            project_ids: &[],
            now,
        },
    )
    .await?;
    let announcement = Envelope::new(
        tenant_id,
        crate::PRODUCER,
        now,
        Message::TenantCreatedV1(TenantCreated {
            tenant_id,
            slug: tenant.slug.clone(),
            name: tenant.name.clone(),
            contract_end: tenant.contract_end,
        }),
    );
    causerie_bus::enqueue(&mut transaction, &announcement).await?;
    transaction.commit().await?;
    tracing::info!(tenant.id = %tenant_id, slug = %tenant.slug, "tenant created");
    Ok(CreatedTenant { tenant, admin_user_id })
}

pub async fn tenant(state: &AppState, id: &str) -> Result<TenantRow, Error> {
    let not_found = || Error::not_found("no such tenant");
    let id: TenantId = id.parse().map_err(|_| not_found())?;
    store::tenant_by_id(&state.pool, id).await?.ok_or_else(not_found)
}

/// A page of tenants and the cursor of the next one.
pub async fn list_tenants(
    state: &AppState,
    limit: u32,
    cursor: &str,
) -> Result<(Vec<TenantRow>, Option<String>), Error> {
    let limit = crate::domain::page::limit(limit)?;
    let after = crate::domain::page::id_cursor(cursor)?;
    let tenants = store::list_tenants(&state.pool, after, limit + 1).await?;
    Ok(crate::domain::page::cut(tenants, limit, |tenant| tenant.id.to_string()))
}
