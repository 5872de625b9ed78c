//! What accounts reaches outside its database and its rules: Redis (the sign-in guard, the access
//! directory the gateways read), the SMTP server, the consent ledger's own writer connection, and
//! the password-hashing threads.

pub mod access_directory;
pub mod brute_force;
pub mod consent_ledger;
pub mod mailer;
pub mod password_hashing;
