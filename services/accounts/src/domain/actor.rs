//! Who is acting on a tenant's data, and what they may do: a tenant user with a role, an API key
//! with scopes, or a member of the support staff under a grant. Every check answers `403`; an
//! id outside the caller's tenant is answered `404` by the queries themselves.

use causerie_auth::{Caller, Role, Scope};
use causerie_core::{Error, StaffId, TenantId, UserId};

#[derive(Clone, Debug)]
pub enum ActorIdentity {
    User {
        user_id: UserId,
        role: Role,
    },
    ApiKey {
        key_id: uuid::Uuid,
        scopes: Vec<Scope>,
    },
    Staff {
        staff_id: StaffId,
    },
    /// Another of the platform's services, acting for a visitor (who has no account).
    Service {
        name: String,
    },
}

#[derive(Clone, Debug)]
pub struct Actor {
    pub tenant_id: TenantId,
    pub identity: ActorIdentity,
    /// The client's address as the gateway saw it, for the audit log and brute-force limits.
    pub source_address: Option<String>,
}

impl Actor {
    /// The actor behind a verified tenant token.
    pub fn from_caller(caller: Caller, source_address: Option<String>) -> Result<Self, Error> {
        match caller {
            Caller::TenantUser { tenant_id, user_id, role, .. } => {
                Ok(Self { tenant_id, identity: ActorIdentity::User { user_id, role }, source_address })
            }
            Caller::ApiKey { tenant_id, key_id, scopes, .. } => {
                Ok(Self { tenant_id, identity: ActorIdentity::ApiKey { key_id, scopes }, source_address })
            }
            Caller::Staff { .. } | Caller::Service { .. } => {
                Err(Error::unauthenticated("a tenant user's token or an API key is required"))
            }
        }
    }

    pub fn staff(staff_id: StaffId, tenant_id: TenantId, source_address: Option<String>) -> Self {
        Self { tenant_id, identity: ActorIdentity::Staff { staff_id }, source_address }
    }

    pub fn service(name: &str, tenant_id: TenantId) -> Self {
        Self { tenant_id, identity: ActorIdentity::Service { name: name.to_owned() }, source_address: None }
    }

    /// The acting user; API keys and staff have no profile of their own.
    pub fn user_id(&self) -> Result<UserId, Error> {
        match &self.identity {
            ActorIdentity::User { user_id, .. } => Ok(*user_id),
            _ => Err(Error::forbidden("only a signed-in user may do this")),
        }
    }

    pub fn require_admin(&self) -> Result<UserId, Error> {
        match &self.identity {
            ActorIdentity::User { user_id, role: Role::Admin } => Ok(*user_id),
            _ => Err(Error::forbidden("only a tenant admin may do this")),
        }
    }

    /// A tenant admin or contributor, who build the projects with their knowledge bases,
    /// scenarios and forms (API.md), or an API key holding `scope`.
    pub fn require_editor_or_scope(&self, scope: Scope) -> Result<(), Error> {
        match &self.identity {
            ActorIdentity::User { role: Role::Admin | Role::Contributor, .. } => Ok(()),
            ActorIdentity::ApiKey { scopes, .. } if scopes.contains(&scope) => Ok(()),
            ActorIdentity::ApiKey { .. } => {
                Err(Error::forbidden(format!("this API key lacks the {} scope", scope.as_str())))
            }
            _ => Err(Error::forbidden("only a tenant admin or contributor may do this")),
        }
    }

    /// A tenant admin, or an API key holding `scope`.
    pub fn require_admin_or_scope(&self, scope: Scope) -> Result<(), Error> {
        match &self.identity {
            ActorIdentity::User { role: Role::Admin, .. } => Ok(()),
            ActorIdentity::ApiKey { scopes, .. } if scopes.contains(&scope) => Ok(()),
            ActorIdentity::ApiKey { .. } => {
                Err(Error::forbidden(format!("this API key lacks the {} scope", scope.as_str())))
            }
            _ => Err(Error::forbidden("only a tenant admin may do this")),
        }
    }

    /// Any user of the tenant, or an API key holding `scope`.
    pub fn require_user_or_scope(&self, scope: Scope) -> Result<(), Error> {
        match &self.identity {
            ActorIdentity::User { .. } => Ok(()),
            ActorIdentity::ApiKey { scopes, .. } if scopes.contains(&scope) => Ok(()),
            ActorIdentity::ApiKey { .. } => {
                Err(Error::forbidden(format!("this API key lacks the {} scope", scope.as_str())))
            }
            ActorIdentity::Staff { .. } => Err(Error::forbidden("support staff may not do this")),
            ActorIdentity::Service { .. } => Err(Error::forbidden("a service may not do this")),
        }
    }

    /// How the audit log names the actor: its kind and id.
    pub fn audit_name(&self) -> (&'static str, String) {
        match &self.identity {
            ActorIdentity::User { user_id, .. } => ("user", user_id.to_string()),
            ActorIdentity::ApiKey { key_id, .. } => ("api_key", key_id.to_string()),
            ActorIdentity::Staff { staff_id } => ("staff", staff_id.to_string()),
            ActorIdentity::Service { name } => ("service", name.clone()),
        }
    }
}
