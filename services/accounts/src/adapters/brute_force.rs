//! Failed sign-ins counted in Redis, per account and per source address, over a quarter of an
//! hour from the first. Past the limit, sign-in answers `429` with `Retry-After` before any hash
//! is computed, whatever the password, so a guesser learns nothing and costs nothing.
//! Password-reset requests are counted the same way, over an hour, so that nobody can use the
//! platform to flood an inbox with reset mails.
//! Account keys hold a hash of the e-mail, never the address itself.

use causerie_core::Error;
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

/// Failures allowed per account before it is locked for the rest of the window.
const ACCOUNT_LIMIT: i64 = 5;
/// Failures allowed per source address, across accounts (password spraying).
const ADDRESS_LIMIT: i64 = 50;
const WINDOW_SECONDS: i64 = 15 * 60;
/// Reset mails one account is sent per reset window at most. Past it a request is still answered
/// `202`, so whether the account exists stays unknown, but nothing is sent.
const RESET_MAILS_PER_ACCOUNT: i64 = 3;
/// Reset requests per source address per reset window, across accounts: past it, `429`.
const RESET_REQUESTS_PER_ADDRESS: i64 = 20;
const RESET_WINDOW_SECONDS: i64 = 60 * 60;

#[derive(Clone)]
pub struct LoginGuard {
    redis: ConnectionManager,
    namespace: String,
}

/// The counters one sign-in attempt touches.
pub struct Attempt {
    account_key: String,
    address_key: Option<String>,
}

impl LoginGuard {
    pub fn new(redis: ConnectionManager, namespace: &str) -> Self {
        Self { redis, namespace: namespace.to_owned() }
    }

    /// The attempt on `account` (a tenant slug or `staff`, and an e-mail) from `address`.
    pub fn attempt(&self, realm: &str, email: &str, address: Option<&str>) -> Attempt {
        Attempt {
            account_key: format!("{}:login-failures:account:{}", self.namespace, account_digest(realm, email)),
            address_key: address.map(|address| format!("{}:login-failures:address:{address}", self.namespace)),
        }
    }

    /// Counts the attempt before the password is checked, so that guesses sent in parallel
    /// cannot slip between a check and a count; `429` once either counter is past its limit,
    /// with the seconds until the window lapses.
    pub async fn begin(&self, attempt: &Attempt) -> Result<(), Error> {
        let keys: Vec<&str> =
            std::iter::once(attempt.account_key.as_str()).chain(attempt.address_key.as_deref()).collect();
        let counts = self.count(&keys, WINDOW_SECONDS).await?;
        for ((attempts, seconds_left), limit) in counts.into_iter().zip([ACCOUNT_LIMIT, ADDRESS_LIMIT]) {
            if attempts > limit {
                return Err(rate_limited(seconds_left, WINDOW_SECONDS));
            }
        }
        Ok(())
    }

    /// The attempt was right: the account starts afresh, and the address gets its attempt back,
    /// so only failures count against it.
    pub async fn succeeded(&self, attempt: &Attempt) -> Result<(), Error> {
        let mut redis = self.redis.clone();
        let mut pipeline = redis::pipe();
        pipeline.del(&attempt.account_key).ignore();
        if let Some(address_key) = &attempt.address_key {
            pipeline.decr(address_key, 1).ignore();
        }
        pipeline.query_async::<()>(&mut redis).await.map_err(Error::unavailable)
    }

    /// Counts a password-reset request for the account of `realm` and `email`, known or not, from
    /// `address`: `429` past the address's limit, else whether the account may be sent a mail.
    pub async fn reset_requested(&self, realm: &str, email: &str, address: Option<&str>) -> Result<bool, Error> {
        let account_key = format!("{}:reset-requests:account:{}", self.namespace, account_digest(realm, email));
        let address_key = address.map(|address| format!("{}:reset-requests:address:{address}", self.namespace));
        let keys: Vec<&str> = std::iter::once(account_key.as_str()).chain(address_key.as_deref()).collect();
        let counts = self.count(&keys, RESET_WINDOW_SECONDS).await?;
        if let Some(&(from_address, seconds_left)) = counts.get(1)
            && from_address > RESET_REQUESTS_PER_ADDRESS
        {
            return Err(rate_limited(seconds_left, RESET_WINDOW_SECONDS));
        }
        Ok(counts.first().is_some_and(|&(mails, _)| mails <= RESET_MAILS_PER_ACCOUNT))
    }

    /// Adds one to each key's count and reads back each count with the seconds left in its window.
    /// A window starts at its key's first count and is not extended by later ones.
    async fn count(&self, keys: &[&str], window_seconds: i64) -> Result<Vec<(i64, i64)>, Error> {
        let mut pipeline = redis::pipe();
        for key in keys {
            pipeline.incr(key, 1).expire(key, window_seconds).arg("NX").ignore().ttl(key);
        }
        let counts: Vec<i64> = pipeline.query_async(&mut self.redis.clone()).await.map_err(Error::unavailable)?;
        Ok(counts
            .chunks_exact(2)
            .filter_map(|pair| match *pair {
                [count, seconds_left] => Some((count, seconds_left)),
                _ => None,
            })
            .collect())
    }

    /// A password reset lifts the account's lock.
    pub async fn clear_account(&self, attempt: &Attempt) -> Result<(), Error> {
        let mut redis = self.redis.clone();
        redis::cmd("DEL").arg(&attempt.account_key).query_async::<()>(&mut redis).await.map_err(Error::unavailable)
    }
}

/// `429` with the seconds left in the counter's window, or the whole window when Redis says none.
fn rate_limited(seconds_left: i64, window_seconds: i64) -> Error {
    let retry_after = if seconds_left > 0 { seconds_left } else { window_seconds };
    Error::rate_limited(u64::try_from(retry_after).unwrap_or(1))
}

/// An account's name in counter keys: a SHA-256 of its realm (a tenant slug or `staff`) and
/// e-mail, so that Redis never holds the address.
fn account_digest(realm: &str, email: &str) -> String {
    let account = Sha256::digest(format!("{realm}\n{}", email.trim().to_lowercase()).as_bytes());
    account.iter().map(|byte| format!("{byte:02x}")).collect()
}
