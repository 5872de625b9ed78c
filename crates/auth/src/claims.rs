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
}

/// A verified caller.
#[derive(Clone, Debug, PartialEq)]
pub enum Caller {
    TenantUser {
        tenant_id: TenantId,
        user_id: UserId,
        role: Role,
        project_ids: Vec<ProjectId>,
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
            Self::TenantUser { expires_at, .. } | Self::Staff { expires_at, .. } | Self::Service { expires_at, .. } => {
                *expires_at
            }
        }
    }

    pub fn audience(&self) -> Audience {
        match self {
            Self::TenantUser { .. } => Audience::Tenant,
            Self::Staff { .. } => Audience::Staff,
            Self::Service { .. } => Audience::Service,
        }
    }

    pub fn tenant_id(&self) -> Option<TenantId> {
        match self {
            Self::TenantUser { tenant_id, .. } => Some(*tenant_id),
            _ => None,
        }
    }

    /// The caller a set of verified claims describes; `None` when they do not fit the audience.
    pub(crate) fn from_claims(claims: &Claims) -> Option<Self> {
        let expires_at = DateTime::from_timestamp(claims.exp, 0)?;
        if claims.aud == Audience::Tenant.as_str() {
            Some(Self::TenantUser {
                tenant_id: claims.tid?,
                user_id: claims.sub.parse().ok()?,
                role: claims.role?,
                project_ids: claims.pids.clone(),
                expires_at,
            })
        } else if claims.aud == Audience::Staff.as_str() {
            Some(Self::Staff { staff_id: claims.sub.parse().ok()?, expires_at })
        } else if claims.aud == Audience::Service.as_str() {
            Some(Self::Service { service: claims.sub.clone(), expires_at })
        } else {
            None
        }
    }
}
