//! Per-caller request limits in Redis, shared by every gateway replica: a fixed one-minute
//! window per caller, counted with one pipelined INCR and EXPIRE.

use causerie_core::Error;

#[derive(Clone)]
pub struct RateLimiter {
    redis: redis::aio::ConnectionManager,
    key_prefix: String,
    per_minute: u64,
}

impl RateLimiter {
    pub fn new(redis: redis::aio::ConnectionManager, namespace: &str, per_minute: u64) -> Self {
        Self { redis, key_prefix: format!("{namespace}:rate:"), per_minute }
    }

    /// Counts one request of `caller` at `now`; `429 rate_limited` past the limit, with the
    /// seconds left in the window as `Retry-After`.
    pub async fn check(&self, caller: &str, now: chrono::DateTime<chrono::Utc>) -> Result<(), Error> {
        let window = now.timestamp() / 60;
        let key = format!("{}{caller}:{window}", self.key_prefix);
        let mut redis = self.redis.clone();
        let (count,): (u64,) = redis::pipe()
            .incr(&key, 1)
            .expire(&key, 120)
            .ignore()
            .query_async(&mut redis)
            .await
            .map_err(Error::unavailable)?;
        if count > self.per_minute {
            let retry_after = u64::try_from(60 - now.timestamp().rem_euclid(60)).unwrap_or(60);
            return Err(Error::rate_limited(retry_after));
        }
        Ok(())
    }
}
