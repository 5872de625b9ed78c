//! Retention categories: every table of personal data names one, and each tenant's policy sets a
//! period per category that may be shorter than the platform maximum, never longer.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionCategory {
    ChatConversations,
    AssistantInputs,
    SupervisedSessions,
    FormSubmissions,
    Analytics,
    AuditLog,
    ConsentRecords,
    Accounts,
    Backups,
}

impl RetentionCategory {
    pub const ALL: [RetentionCategory; 9] = [
        Self::ChatConversations,
        Self::AssistantInputs,
        Self::SupervisedSessions,
        Self::FormSubmissions,
        Self::Analytics,
        Self::AuditLog,
        Self::ConsentRecords,
        Self::Accounts,
        Self::Backups,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ChatConversations => "chat_conversations",
            Self::AssistantInputs => "assistant_inputs",
            Self::SupervisedSessions => "supervised_sessions",
            Self::FormSubmissions => "form_submissions",
            Self::Analytics => "analytics",
            Self::AuditLog => "audit_log",
            Self::ConsentRecords => "consent_records",
            Self::Accounts => "accounts",
            Self::Backups => "backups",
        }
    }

    /// The default period in days from the vendor's GDPR note. `None` for user accounts, which
    /// live as long as the customer's contract.
    pub const fn default_days(self) -> Option<u32> {
        match self {
            Self::AuditLog => Some(365),
            Self::ConsentRecords => Some(1825),
            Self::Accounts => None,
            Self::Backups => Some(60),
            _ => Some(730),
        }
    }

    /// The longest period a tenant may choose. For accounts it counts from the contract's end.
    pub const fn maximum_days(self) -> u32 {
        match self {
            Self::ConsentRecords => 1825,
            Self::Accounts => 30,
            Self::Backups => 60,
            _ => 730,
        }
    }
}

impl fmt::Display for RetentionCategory {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown retention category {0:?}")]
pub struct UnknownRetentionCategory(String);

impl FromStr for RetentionCategory {
    type Err = UnknownRetentionCategory;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|category| category.as_str() == text)
            .ok_or_else(|| UnknownRetentionCategory(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_never_exceed_maximum() {
        for category in RetentionCategory::ALL {
            if let Some(days) = category.default_days() {
                assert!(days <= category.maximum_days(), "{category}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for category in RetentionCategory::ALL {
            assert_eq!(category.as_str().parse::<RetentionCategory>().unwrap(), category);
            assert_eq!(serde_json::to_value(category).unwrap(), serde_json::Value::from(category.as_str()));
        }
        assert!("forever".parse::<RetentionCategory>().is_err());
    }
}
