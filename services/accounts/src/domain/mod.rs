//! The accounts service's rules, one module per aggregate (tenants, users, sessions, projects, the
//! privacy policy, consents...), and the values every one of them checks once at the edge: a
//! slug, an e-mail address, a name. The SQL is in `store`, Redis, SMTP and threads in `adapters`.

pub mod actor;
pub mod api_keys;
pub mod audit;
pub mod consents;
pub mod legal;
pub mod mail;
pub use causerie_core::page;
pub mod password;
pub mod privacy_policy;
pub mod processing_register;
pub mod projects;
pub mod secret;
pub mod service_tokens;
pub mod sign_in;
pub mod subprocessors;
pub mod support;
pub mod tenancy;
pub mod tenant_features;
pub mod totp;
pub mod users;
pub mod widget_projects;

use causerie_core::Error;

/// A tenant's slug: what users type at login. 3 to 63 lowercase letters, digits and inner hyphens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let valid_characters = text
            .chars()
            .all(|character| character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-');
        if !(3..=63).contains(&text.len()) || !valid_characters || text.starts_with('-') || text.ends_with('-') {
            return Err(Error::invalid_field(
                "slug",
                "3 to 63 lowercase letters, digits and hyphens, not starting or ending with a hyphen",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address, trimmed, with one `@`, a dotted domain and no spaces. Stored as typed;
/// compared without case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let well_formed = match text.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
            }
            None => false,
        };
        if !well_formed || text.len() > 254 || text.chars().any(char::is_whitespace) {
            return Err(Error::invalid_field(field, "is not an e-mail address"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name, a first name or a last name: trimmed, 1 to 200 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(field: &str, text: &str) -> Result<Self, Error> {
        let text = text.trim();
        let length = text.chars().count();
        if length == 0 || length > 200 || text.chars().any(char::is_control) {
            return Err(Error::invalid_field(field, "must be 1 to 200 characters without control characters"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(Slug::parse("acme-corp").is_ok());
        assert!(Slug::parse("ac").is_err());
        assert!(Slug::parse("Acme").is_err());
        assert!(Slug::parse("-acme").is_err());
        assert!(Slug::parse("acme_corp").is_err());
        assert!(Slug::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(Email::parse("email", " ada@example.org ").unwrap().as_str(), "ada@example.org");
        for bad in ["", "ada", "ada@", "@example.org", "ada@example", "a da@example.org", "ada@x@y.org"] {
            let error = Email::parse("email", bad).unwrap_err();
            assert_eq!(error.field_errors()[0].field, "email", "{bad}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(Name::parse("first_name", "  Ada ").unwrap().as_str(), "Ada");
        assert!(Name::parse("first_name", "   ").is_err());
        assert!(Name::parse("first_name", "a\u{0}b").is_err());
        assert!(Name::parse("first_name", &"é".repeat(201)).is_err());
    }
}
