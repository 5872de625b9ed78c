//! Failed sign-ins counted in Redis, per account and per source address, over a sliding quarter
//! of an hour. Past the limit, sign-in answers `429` with `Retry-After` before any hash is
//! computed, whatever the password, so a guesser learns nothing and costs nothing.
//! Account keys hold a hash of the e-mail, never the address itself.

use causerie_core::Error;
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

/// Failures allowed per account before it is locked for the rest of the window.
const ACCOUNT_LIMIT: i64 = 5;
/// Failures allowed per source address, across accounts (password spraying).
const ADDRESS_LIMIT: i64 = 50;
const WINDOW_SECONDS: i64 = 15 * 60;

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
        let account = Sha256::digest(format!("{realm}\n{}", email.trim().to_lowercase()).as_bytes());
        let account_hex: String = account.iter().map(|byte| format!("{byte:02x}")).collect();
        Attempt {
            account_key: format!("{}:login-failures:account:{account_hex}", self.namespace),
            address_key: address.map(|address| format!("{}:login-failures:address:{address}", self.namespace)),
        }
    }

    /// `429` while either counter is over its limit, with the seconds until it lapses. Answers
    /// whether the account has failures to clear after a success.
    pub async fn check(&self, attempt: &Attempt) -> Result<bool, Error> {
        let mut redis = self.redis.clone();
        let mut pipeline = redis::pipe();
        pipeline.get(&attempt.account_key).ttl(&attempt.account_key);
        if let Some(address_key) = &attempt.address_key {
            pipeline.get(address_key).ttl(address_key);
        }
        let counts: Vec<Option<i64>> = pipeline.query_async(&mut redis).await.map_err(Error::unavailable)?;
        let limits = [ACCOUNT_LIMIT, ADDRESS_LIMIT];
        for (pair, limit) in counts.chunks(2).zip(limits) {
            if let [Some(failures), ttl] = pair
                && *failures >= limit
            {
                let retry_after = ttl.filter(|seconds| *seconds > 0).unwrap_or(WINDOW_SECONDS);
                return Err(Error::rate_limited(u64::try_from(retry_after).unwrap_or(1)));
            }
        }
        Ok(counts.first().copied().flatten().is_some())
    }

    pub async fn failed(&self, attempt: &Attempt) -> Result<(), Error> {
        let mut redis = self.redis.clone();
        let mut pipeline = redis::pipe();
        for key in std::iter::once(&attempt.account_key).chain(attempt.address_key.as_ref()) {
            // The window starts at the first failure and is not extended by later ones.
            pipeline.incr(key, 1).ignore().expire(key, WINDOW_SECONDS).arg("NX").ignore();
        }
        pipeline.query_async::<()>(&mut redis).await.map_err(Error::unavailable)
    }

    /// A successful sign-in or password reset clears the account's failures.
    pub async fn cleared(&self, attempt: &Attempt) -> Result<(), Error> {
        let mut redis = self.redis.clone();
        redis::cmd("DEL").arg(&attempt.account_key).query_async::<()>(&mut redis).await.map_err(Error::unavailable)
    }
}
