//! A tenant's privacy policy as every service reads it: who the controller and the DPO are, the
//! purposes and their legal bases, the recipients, the retention per category, the sub-processors,
//! the data residency, the erasure deadline and the consent text. Accounts owns and versions it;
//! `validate` holds the rules of API.md.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Error, ErrorCode, FieldError, RetentionCategory};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Controller {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(min_length = 1, max_length = 500)]
    pub address: String,
    #[schema(format = Email, max_length = 254)]
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DataProtectionOfficer {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(format = Email, max_length = 254)]
    pub email: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    Consent,
    Contract,
    LegalObligation,
    VitalInterests,
    PublicTask,
    LegitimateInterests,
}

impl LegalBasis {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::Contract => "contract",
            Self::LegalObligation => "legal_obligation",
            Self::VitalInterests => "vital_interests",
            Self::PublicTask => "public_task",
            Self::LegitimateInterests => "legitimate_interests",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Purpose {
    /// Short identifier the widget and services refer to, such as `chat_history`.
    pub id: String,
    pub name: String,
    pub legal_basis: LegalBasis,
    pub description: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextToSpeech {
    None,
    /// On the customer's own servers.
    Local,
    Acapela,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Translation {
    None,
    Google,
}

impl Translation {
    /// Whether data leaves the European Union when this connector is used.
    pub const fn leaves_the_eu(self) -> bool {
        matches!(self, Self::Google)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Subprocessors {
    pub tts: TextToSpeech,
    pub translation: Translation,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataResidency {
    /// Personal data stays in the European Union.
    Eu,
    Any,
}

impl DataResidency {
    /// The value of API.md (`eu`, `any`), as the serialised policy has it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Eu => "eu",
            Self::Any => "any",
        }
    }
}

/// The policy as a tenant admin writes it (`PUT /v1/privacy-policy`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PolicyDocument {
    pub controller: Controller,
    pub dpo: DataProtectionOfficer,
    pub purposes: Vec<Purpose>,
    pub recipients: Vec<String>,
    /// Days per retention category; a category left out keeps its default.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, u32>)]
    pub retention: BTreeMap<RetentionCategory, u32>,
    pub subprocessors: Subprocessors,
    pub data_residency: DataResidency,
    #[serde(default = "default_erasure_deadline")]
    #[schema(minimum = 1, maximum = 30)]
    pub erasure_deadline_days: u32,
    /// Required (not blank) while a purpose rests on consent: it is what the visitor agrees to.
    #[schema(max_length = 10000)]
    pub consent_text: String,
}

/// A version of a tenant's policy, as stored and served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PrivacyPolicy {
    /// 0 for the defaults of a tenant that has written none.
    pub version: i32,
    #[serde(flatten)]
    pub document: PolicyDocument,
    /// The version in which `consent_text` last changed: what a consent record cites.
    pub consent_text_version: i32,
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub const DEFAULT_ERASURE_DEADLINE_DAYS: u32 = 15;
pub const MAX_ERASURE_DEADLINE_DAYS: u32 = 30;

fn default_erasure_deadline() -> u32 {
    DEFAULT_ERASURE_DEADLINE_DAYS
}

/// What a purpose's id may be: 1 to 64 lowercase letters, digits and underscores.
pub fn is_purpose_id(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl PolicyDocument {
    /// What a tenant that has written no policy yet has: it names the tenant as controller and asks
    /// the admin to complete it; no purpose, no sub-processor, EU residency, default periods.
    pub fn defaults(tenant_name: &str) -> Self {
        Self {
            controller: Controller { name: tenant_name.to_owned(), address: String::new(), email: String::new() },
            dpo: DataProtectionOfficer { name: String::new(), email: String::new() },
            purposes: Vec::new(),
            recipients: Vec::new(),
            retention: BTreeMap::new(),
            subprocessors: Subprocessors { tts: TextToSpeech::None, translation: Translation::None },
            data_residency: DataResidency::Eu,
            erasure_deadline_days: DEFAULT_ERASURE_DEADLINE_DAYS,
            consent_text: String::new(),
        }
    }

    /// The period of `category` in days: the tenant's, or the default. `None` for user accounts
    /// left at "the contract's duration".
    pub fn retention_days(&self, category: RetentionCategory) -> Option<u32> {
        self.retention.get(&category).copied().or_else(|| category.default_days())
    }

    pub fn purpose(&self, id: &str) -> Option<&Purpose> {
        self.purposes.iter().find(|purpose| purpose.id == id)
    }

    /// Every rule of API.md at once: `422 retention_above_maximum` and `422 residency_conflict`
    /// when those are the only problems, `422 invalid_request` naming each field otherwise.
    pub fn validate(&self) -> Result<(), Error> {
        let mut invalid = Vec::new();
        let mut problem = |field: &str, message: &str| {
            invalid.push(FieldError { field: field.to_owned(), message: message.to_owned() });
        };
        let text = |value: &str, max: usize| !value.trim().is_empty() && value.chars().count() <= max;
        if !text(&self.controller.name, 200) {
            problem("controller.name", "is required, at most 200 characters");
        }
        if !text(&self.controller.address, 500) {
            problem("controller.address", "is required, at most 500 characters");
        }
        if !looks_like_email(&self.controller.email) {
            problem("controller.email", "is not an e-mail address");
        }
        if !text(&self.dpo.name, 200) {
            problem("dpo.name", "is required, at most 200 characters");
        }
        if !looks_like_email(&self.dpo.email) {
            problem("dpo.email", "is not an e-mail address");
        }
        if self.purposes.len() > 50 {
            problem("purposes", "at most 50 purposes");
        }
        for (index, purpose) in self.purposes.iter().enumerate() {
            if !is_purpose_id(&purpose.id) {
                problem(&format!("purposes[{index}].id"), "1 to 64 lowercase letters, digits and underscores");
            } else if self.purposes.iter().filter(|other| other.id == purpose.id).count() > 1 {
                problem(&format!("purposes[{index}].id"), "is used by another purpose");
            }
            if !text(&purpose.name, 200) {
                problem(&format!("purposes[{index}].name"), "is required, at most 200 characters");
            }
            if purpose.description.chars().count() > 2000 {
                problem(&format!("purposes[{index}].description"), "at most 2000 characters");
            }
        }
        if self.recipients.len() > 50 || self.recipients.iter().any(|recipient| !text(recipient, 300)) {
            problem("recipients", "at most 50 recipients of 1 to 300 characters each");
        }
        if !(1..=MAX_ERASURE_DEADLINE_DAYS).contains(&self.erasure_deadline_days) {
            problem("erasure_deadline_days", "must be 1 to 30 days");
        }
        if self.consent_text.chars().count() > 10_000 {
            problem("consent_text", "at most 10000 characters");
        }
        if self.consent_text.trim().is_empty()
            && self.purposes.iter().any(|purpose| purpose.legal_basis == LegalBasis::Consent)
        {
            problem("consent_text", "is required while a purpose rests on consent: it is what the visitor agrees to");
        }
        for (category, days) in &self.retention {
            if *days == 0 {
                problem(&format!("retention.{category}"), "must be at least 1 day");
            }
        }
        if !invalid.is_empty() {
            return Err(Error::with_field_errors(ErrorCode::InvalidRequest, invalid));
        }
        let above_maximum: Vec<FieldError> = self
            .retention
            .iter()
            .filter(|(category, days)| **days > category.maximum_days())
            .map(|(category, days)| FieldError {
                field: format!("retention.{category}"),
                message: format!("{days} days is above the platform maximum of {} days", category.maximum_days()),
            })
            .collect();
        if !above_maximum.is_empty() {
            return Err(Error::with_field_errors(ErrorCode::RetentionAboveMaximum, above_maximum));
        }
        if self.data_residency == DataResidency::Eu && self.subprocessors.translation.leaves_the_eu() {
            return Err(Error::with_field_errors(
                ErrorCode::ResidencyConflict,
                vec![FieldError {
                    field: "subprocessors.translation".to_owned(),
                    message: "this translation provider takes data outside the EU while data_residency is eu"
                        .to_owned(),
                }],
            ));
        }
        Ok(())
    }
}

fn looks_like_email(text: &str) -> bool {
    match text.trim().split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && text.len() <= 254
                && !text.contains(' ')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> PolicyDocument {
        let mut policy = PolicyDocument::defaults("Acme");
        policy.controller.address = "1 rue de la Paix, Paris".into();
        policy.controller.email = "privacy@acme.example".into();
        policy.dpo = DataProtectionOfficer { name: "Dana".into(), email: "dpo@acme.example".into() };
        policy
    }

    #[test]
    fn each_rule_answers_its_code() {
        assert!(valid().validate().is_ok());
        let mut long = valid();
        long.retention.insert(RetentionCategory::ChatConversations, 731);
        assert_eq!(long.validate().unwrap_err().code(), ErrorCode::RetentionAboveMaximum);
        let mut abroad = valid();
        abroad.subprocessors.translation = Translation::Google;
        assert_eq!(abroad.validate().unwrap_err().code(), ErrorCode::ResidencyConflict);
        abroad.data_residency = DataResidency::Any;
        assert!(abroad.validate().is_ok());
        let mut late = valid();
        late.erasure_deadline_days = 31;
        let error = late.validate().unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidRequest);
        assert_eq!(error.field_errors()[0].field, "erasure_deadline_days");
    }

    #[test]
    fn a_category_left_out_keeps_its_default() {
        let mut policy = valid();
        policy.retention.insert(RetentionCategory::AuditLog, 100);
        assert_eq!(policy.retention_days(RetentionCategory::AuditLog), Some(100));
        assert_eq!(policy.retention_days(RetentionCategory::ConsentRecords), Some(1825));
        assert_eq!(policy.retention_days(RetentionCategory::Accounts), None);
    }
}
