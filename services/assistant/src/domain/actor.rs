//! Who acts on a project's assistant: admins and contributors write its knowledge base and its
//! notifications, every tenant user reads them (operators answer visitors with them), and an API
//! key does what its scopes say. A user limited to some projects sees no other: those answer
//! `404`, like another tenant's.

use causerie_auth::{Caller, Role, Scope};
use causerie_core::{Error, ProjectId, TenantId};
use uuid::Uuid;

pub struct Actor {
    pub tenant_id: TenantId,
    identity: Identity,
}

enum Identity {
    User { user_id: Uuid, role: Role, project_ids: Vec<ProjectId> },
    ApiKey { scopes: Vec<Scope> },
}

/// What the caller means to do.
#[derive(Clone, Copy)]
pub enum Access {
    Read,
    Write,
}

/// What the caller acts on, which names the API key's scope.
#[derive(Clone, Copy)]
pub enum Content {
    KnowledgeBase,
    /// Notifications: the project's own settings for its widget.
    Project,
}

impl Actor {
    pub fn from_caller(caller: Caller) -> Result<Self, Error> {
        match caller {
            Caller::TenantUser { tenant_id, user_id, role, project_ids, .. } => {
                Ok(Self { tenant_id, identity: Identity::User { user_id: user_id.as_uuid(), role, project_ids } })
            }
            Caller::ApiKey { tenant_id, scopes, .. } => Ok(Self { tenant_id, identity: Identity::ApiKey { scopes } }),
            Caller::Staff { .. } | Caller::Service { .. } => {
                Err(Error::unauthenticated("a tenant user's token or an API key is required"))
            }
        }
    }

    /// The user who writes, recorded as the entry's author; none for an API key.
    pub fn author_id(&self) -> Option<Uuid> {
        match &self.identity {
            Identity::User { user_id, .. } => Some(*user_id),
            Identity::ApiKey { .. } => None,
        }
    }

    /// `403` unless the caller may `access` the project's `content`; `404` for a project the user
    /// is kept out of.
    pub fn require(&self, content: Content, access: Access, project_id: ProjectId) -> Result<(), Error> {
        let scope = match (content, access) {
            (Content::KnowledgeBase, Access::Read) => Scope::KnowledgeBaseRead,
            (Content::KnowledgeBase, Access::Write) => Scope::KnowledgeBaseWrite,
            (Content::Project, Access::Read) => Scope::ProjectsRead,
            (Content::Project, Access::Write) => Scope::ProjectsWrite,
        };
        match (&self.identity, access) {
            (Identity::User { project_ids, .. }, _)
                if !project_ids.is_empty() && !project_ids.contains(&project_id) =>
            {
                Err(Error::not_found("no such project"))
            }
            (Identity::User { .. }, Access::Read)
            | (Identity::User { role: Role::Admin | Role::Contributor, .. }, _) => Ok(()),
            (Identity::User { .. }, Access::Write) => {
                Err(Error::forbidden("only a tenant admin or contributor may change a project's assistant"))
            }
            (Identity::ApiKey { scopes }, _) if scopes.contains(&scope) => Ok(()),
            (Identity::ApiKey { .. }, _) => {
                Err(Error::forbidden(format!("this API key lacks the {} scope", scope.as_str())))
            }
        }
    }
}
