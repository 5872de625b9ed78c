//! Passwords: the policy a new one must meet, checked at the edge (ASVS 6.2: length, no
//! composition rules, not easy to guess, by zxcvbn's estimate with the account's own words).
//! Hashing them is `adapters::password_hashing`.

use causerie_core::Error;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 128;

/// zxcvbn's score a new password needs: more than 10^10 guesses by its estimate ("very
/// unguessable"), which knows the common-password lists, names, keyboard walks, dates, repeats
/// and substitutions (`P@ssw0rd2026!`). Three words (`violet quay lantern`) pass; a word with a
/// year and symbols (`Summer2026!!xx`) or the account's own words with a capital do not.
const LEAST_STRENGTH: zxcvbn::Score = zxcvbn::Score::Four;

/// A password that meets the policy. Never logged, never printed.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Password(..)")
    }
}

impl Password {
    /// Checks a new password. Length is counted in characters, so any script counts alike.
    /// `account_words` are what an attacker knows of the account (its e-mail address, names,
    /// the tenant's name): a password built from them is easy to guess.
    pub fn new_from(field: &str, text: String, account_words: &[&str]) -> Result<Self, Error> {
        let length = text.chars().count();
        if length < MIN_LENGTH {
            return Err(Error::invalid_field(field, format!("must be at least {MIN_LENGTH} characters")));
        }
        if length > MAX_LENGTH {
            return Err(Error::invalid_field(field, format!("must be at most {MAX_LENGTH} characters")));
        }
        let words = account_words_of(account_words);
        // zxcvbn's cost grows faster than the length; its authors estimate on the first 100
        // characters, past which a password is strong or weak for the same reasons.
        let estimated: String = text.chars().take(100).collect();
        let estimate = zxcvbn::zxcvbn(&estimated, &words.iter().map(String::as_str).collect::<Vec<_>>());
        if estimate.score() < LEAST_STRENGTH {
            let why = estimate.feedback().and_then(zxcvbn::feedback::Feedback::warning);
            let message = match why {
                Some(warning) => format!("is too easy to guess ({warning}); choose a longer or less common one"),
                None => "is too easy to guess; choose a longer or less common one".to_owned(),
            };
            return Err(Error::invalid_field(field, message));
        }
        Ok(Self(text))
    }

    /// A password typed at login: not checked against the policy, which may have changed since
    /// it was set, only bounded so hashing cannot be made expensive.
    pub fn attempt(text: String) -> Result<Self, Error> {
        if text.len() > 4 * MAX_LENGTH {
            return Err(Error::unauthenticated("wrong credentials"));
        }
        Ok(Self(text))
    }

    /// The text, for the hashing pool only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// The account's words as zxcvbn matches them: each whole, and an e-mail address's local part and
/// domain labels apart, so `ada.lovelace@acme.example` rules out `adalovelace` and `acme` too.
fn account_words_of(account_words: &[&str]) -> Vec<String> {
    let mut words = Vec::new();
    for word in account_words.iter().map(|word| word.trim().to_lowercase()).filter(|word| !word.is_empty()) {
        words.extend(
            word.split(|character: char| !character.is_alphanumeric())
                .filter(|part| part.chars().count() >= 3)
                .map(str::to_owned),
        );
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_counts_characters() {
        assert!(Password::new_from("password", "short".into(), &[]).is_err());
        assert!(Password::new_from("password", "a".repeat(129), &[]).is_err());
        assert!(Password::new_from("password", "ηλιοβασίλεμα σε λιμάνι".into(), &[]).is_ok());
    }

    #[test]
    fn common_and_patterned_passwords_are_refused_whatever_their_case() {
        for weak in [
            "password1234",
            "Password1234",
            "QWERTY123456",
            "1qaz2wsx3edc",
            "aaaaaaaaaaaa",
            "P@ssw0rd2026!",
            "Summer2026!!xx",
        ] {
            let error = Password::new_from("password", weak.into(), &[]).err();
            assert!(error.is_some(), "{weak} was accepted");
            assert_eq!(error.map(|error| error.field_errors()[0].field.clone()).as_deref(), Some("password"));
        }
        assert!(Password::new_from("password", "violet quay lantern".into(), &[]).is_ok());
    }

    #[test]
    fn a_password_made_of_the_accounts_own_words_is_refused() {
        let account = ["ada.lovelace@acme.example", "Ada", "Lovelace", "Acme Inc."];
        assert!(Password::new_from("password", "GraceHopperAcme!".into(), &account).is_ok());
        assert!(Password::new_from("password", "AdaLovelaceAcme!".into(), &[]).is_ok());
        assert!(Password::new_from("password", "AdaLovelaceAcme!".into(), &account).is_err());
        assert!(Password::new_from("password", "violet quay lantern".into(), &account).is_ok());
    }
}
