//! What a Causerie token says, and who the caller is once it has been verified.

use std::fmt;
use std::str::FromStr;

use causerie_core::{ProjectId, StaffId, TenantId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "causerie";
/// Only access tokens are JWTs; refresh tokens are opaque and never reach a verifier.
pub const TOKEN_TYPE_ACCESS: &str = "access";

/// Who a token is meant for. A token of one audience is refused wherever another is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Tenant users on the public API.
    Tenant,
    /// The vendor's support staff, on the admin listener and admin RPCs only.
    Staff,
    /// One service calling another.
    Service,
}

impl Audience {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "causerie-tenant",
            Self::Staff => "causerie-staff",
            Self::Service => "causerie-service",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Contributor,
    Operator,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Contributor => "contributor",
            Self::Operator => "operator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// For a role read from a database column.
impl TryFrom<String> for Role {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "admin" => Ok(Self::Admin),
            "contributor" => Ok(Self::Contributor),
            "operator" => Ok(Self::Operator),
            other => Err(format!("unknown role {other:?}")),
        }
    }
}

/// What an API key may do; API.md lists them. A call outside a key's scopes answers `403`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    #[serde(rename = "projects:read")]
    ProjectsRead,
    #[serde(rename = "projects:write")]
    ProjectsWrite,
    #[serde(rename = "knowledge_base:read")]
    KnowledgeBaseRead,
    #[serde(rename = "knowledge_base:write")]
    KnowledgeBaseWrite,
    #[serde(rename = "forms:read")]
    FormsRead,
    #[serde(rename = "analytics:read")]
    AnalyticsRead,
    #[serde(rename = "conversations:read")]
    ConversationsRead,
    #[serde(rename = "consents:read")]
    ConsentsRead,
    #[serde(rename = "users:read")]
    UsersRead,
    #[serde(rename = "privacy_requests:write")]
    PrivacyRequestsWrite,
}

impl Scope {
    pub const ALL: [Self; 10] = [
        Self::ProjectsRead,
        Self::ProjectsWrite,
        Self::KnowledgeBaseRead,
        Self::KnowledgeBaseWrite,
        Self::FormsRead,
        Self::AnalyticsRead,
        Self::ConversationsRead,
        Self::ConsentsRead,
        Self::UsersRead,
        Self::PrivacyRequestsWrite,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ProjectsRead => "projects:read",
            Self::ProjectsWrite => "projects:write",
            Self::KnowledgeBaseRead => "knowledge_base:read",
            Self::KnowledgeBaseWrite => "knowledge_base:write",
            Self::FormsRead => "forms:read",
            Self::AnalyticsRead => "analytics:read",
            Self::ConversationsRead => "conversations:read",
            Self::ConsentsRead => "consents:read",
            Self::UsersRead => "users:read",
            Self::PrivacyRequestsWrite => "privacy_requests:write",
        }
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == text).ok_or_else(|| format!("unknown scope {text:?}"))
    }
}

/// The registered claims plus ours. Seconds since the epoch, as RFC 7519 says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub typ: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<TenantId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Projects the user is limited to; empty means every project of the tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pids: Vec<ProjectId>,
    /// An API key's scopes; a tenant token without a role is an API key's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scp: Vec<Scope>,
    /// `iat` in milliseconds: a revocation and a new token in the same second are told apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat_ms: Option<i64>,
    /// The version of the tenant's legal notice the user had accepted when the token was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lnv: Option<i32>,
}

/// A verified caller.
#[derive(Clone, Debug, PartialEq)]
pub enum Caller {
    TenantUser {
        tenant_id: TenantId,
        user_id: UserId,
        role: Role,
        project_ids: Vec<ProjectId>,
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        /// 0 when the user had accepted none.
        legal_notice_version: i32,
    },
    /// An integrator's API key, exchanged at the gateway for a token carrying its scopes.
    ApiKey {
        tenant_id: TenantId,
        key_id: uuid::Uuid,
        scopes: Vec<Scope>,
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    Staff {
        staff_id: StaffId,
        expires_at: DateTime<Utc>,
    },
    Service {
        service: String,
        expires_at: DateTime<Utc>,
    },
}

impl Caller {
    pub fn expires_at(&self) -> DateTime<Utc> {
        match self {
            Self::TenantUser { expires_at, .. }
            | Self::ApiKey { expires_at, .. }
            | Self::Staff { expires_at, .. }
            | Self::Service { expires_at, .. } => *expires_at,
        }
    }

    pub fn audience(&self) -> Audience {
        match self {
            Self::TenantUser { .. } | Self::ApiKey { .. } => Audience::Tenant,
            Self::Staff { .. } => Audience::Staff,
            Self::Service { .. } => Audience::Service,
        }
    }

    pub fn tenant_id(&self) -> Option<TenantId> {
        match self {
            Self::TenantUser { tenant_id, .. } | Self::ApiKey { tenant_id, .. } => Some(*tenant_id),
            _ => None,
        }
    }

    /// The id revocations are recorded under: a user's or an API key's.
    pub fn subject_id(&self) -> Option<uuid::Uuid> {
        match self {
            Self::TenantUser { user_id, .. } => Some(user_id.as_uuid()),
            Self::ApiKey { key_id, .. } => Some(*key_id),
            _ => None,
        }
    }

    /// The caller a set of verified claims describes; `None` when they do not fit the audience.
    pub(crate) fn from_claims(claims: &Claims) -> Option<Self> {
        let expires_at = DateTime::from_timestamp(claims.exp, 0)?;
        let issued_at = match claims.iat_ms {
            Some(milliseconds) => DateTime::from_timestamp_millis(milliseconds)?,
            None => DateTime::from_timestamp(claims.iat, 0)?,
        };
        if claims.aud == Audience::Tenant.as_str() {
            match claims.role {
                Some(role) => Some(Self::TenantUser {
                    tenant_id: claims.tid?,
                    user_id: claims.sub.parse().ok()?,
                    role,
                    project_ids: claims.pids.clone(),
                    issued_at,
                    expires_at,
                    legal_notice_version: claims.lnv.unwrap_or(0),
                }),
                None if !claims.scp.is_empty() => Some(Self::ApiKey {
                    tenant_id: claims.tid?,
                    key_id: claims.sub.parse().ok()?,
                    scopes: claims.scp.clone(),
                    issued_at,
                    expires_at,
                }),
                None => None,
            }
        } else if claims.aud == Audience::Staff.as_str() {
            Some(Self::Staff { staff_id: claims.sub.parse().ok()?, expires_at })
        } else if claims.aud == Audience::Service.as_str() {
            Some(Self::Service { service: claims.sub.clone(), expires_at })
        } else {
            None
        }
    }
}
