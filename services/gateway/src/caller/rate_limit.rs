//! Per-caller request limits shared by every gateway replica through Redis: a fixed one-minute
//! window per caller. A request is decided in memory, against the window's count as last read
//! from Redis plus what this replica has counted since; the counts are flushed to Redis in one
//! pipeline every `FLUSH_EVERY`, so the hot path never waits for a round trip. Replicas learn
//! each other's counts within that delay.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use causerie_core::{Clock, Error};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

const FLUSH_EVERY: Duration = Duration::from_millis(100);
const WINDOW_SECONDS: i64 = 60;

#[derive(Default)]
struct CallerWindow {
    window: i64,
    /// The window's count across replicas at the last flush.
    counted_everywhere: u64,
    /// Requests this replica admitted since the last flush.
    pending: u64,
    /// Requests on their way to Redis: still counted until the total that includes them is read
    /// back, or a burst during the round trip would pass unseen.
    flushing: u64,
}

impl CallerWindow {
    fn counted(&self) -> u64 {
        self.counted_everywhere + self.flushing + self.pending
    }
}

#[derive(Clone)]
pub struct RateLimiter {
    windows: Arc<Mutex<HashMap<Uuid, CallerWindow>>>,
    per_minute: u64,
    clock: Clock,
}

impl RateLimiter {
    /// A limiter whose counts a task tracked by `tasks` flushes to Redis until `shutdown`.
    pub fn start(
        redis: redis::aio::ConnectionManager,
        namespace: &str,
        per_minute: u64,
        clock: Clock,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        let windows = Arc::new(Mutex::new(HashMap::new()));
        let flusher = Flusher {
            windows: Arc::clone(&windows),
            redis,
            key_prefix: format!("{namespace}:rate:"),
            clock: clock.clone(),
        };
        tasks.spawn(flusher.run(shutdown));
        Self { windows, per_minute, clock }
    }

    /// Counts one request of `caller` (a user's or an API key's id); `429 rate_limited` past the
    /// limit, with the seconds left in the window as `Retry-After`.
    pub fn check(&self, caller: Uuid) -> Result<(), Error> {
        self.check_within(caller, self.per_minute)
    }

    /// Counts one request under `key` against a limit of its own (a widget visitor's, a source
    /// address's). Keys of different kinds must not collide: derive them in a namespace each.
    pub fn check_within(&self, key: Uuid, per_minute: u64) -> Result<(), Error> {
        let now = self.clock.now();
        let window = now.timestamp().div_euclid(WINDOW_SECONDS);
        let mut windows = self.windows.lock().map_err(|_| Error::internal("rate limiter lock poisoned"))?;
        let entry = windows.entry(key).or_default();
        if entry.window != window {
            *entry = CallerWindow { window, ..CallerWindow::default() };
        }
        if entry.counted() >= per_minute {
            let retry_after = u64::try_from(WINDOW_SECONDS - now.timestamp().rem_euclid(WINDOW_SECONDS)).unwrap_or(60);
            return Err(Error::rate_limited(retry_after));
        }
        entry.pending += 1;
        Ok(())
    }
}

struct Flusher {
    windows: Arc<Mutex<HashMap<Uuid, CallerWindow>>>,
    redis: redis::aio::ConnectionManager,
    key_prefix: String,
    clock: Clock,
}

impl Flusher {
    async fn run(mut self, shutdown: CancellationToken) {
        loop {
            let stopping = tokio::select! {
                () = shutdown.cancelled() => true,
                () = tokio::time::sleep(FLUSH_EVERY) => false,
            };
            if let Err(error) = self.flush().await {
                tracing::warn!(%error, "rate-limit counts not flushed to redis");
            }
            if stopping {
                break;
            }
        }
    }

    /// Adds each caller's pending count to its window in Redis and reads back the total.
    async fn flush(&mut self) -> redis::RedisResult<()> {
        let batch = take_pending(&self.windows);
        self.forget_past_windows();
        if batch.is_empty() {
            return Ok(());
        }
        let mut pipeline = redis::pipe();
        for (caller, window, pending) in &batch {
            let key = format!("{}{caller}:{window}", self.key_prefix);
            pipeline.incr(&key, *pending).expire(&key, 2 * WINDOW_SECONDS).ignore();
        }
        let totals = pipeline.query_async(&mut self.redis).await;
        settle(&self.windows, batch, totals)
    }

    /// Callers of past windows with nothing left to flush take no memory.
    fn forget_past_windows(&self) {
        let current = self.clock.now().timestamp().div_euclid(WINDOW_SECONDS);
        if let Ok(mut windows) = self.windows.lock() {
            windows.retain(|_, entry| entry.window >= current || entry.pending > 0 || entry.flushing > 0);
        }
    }
}

/// Moves each caller's pending count to `flushing`, where it stays counted until settled.
fn take_pending(windows: &Mutex<HashMap<Uuid, CallerWindow>>) -> Vec<(Uuid, i64, u64)> {
    let Ok(mut windows) = windows.lock() else { return Vec::new() };
    windows
        .iter_mut()
        .filter(|(_, entry)| entry.pending > 0)
        .map(|(caller, entry)| {
            entry.flushing = std::mem::take(&mut entry.pending);
            (*caller, entry.window, entry.flushing)
        })
        .collect()
}

/// Takes the totals Redis answered (they include what was flushed), or, when it did not
/// answer, puts the flushed counts back to be sent again rather than forgotten.
fn settle(
    windows: &Mutex<HashMap<Uuid, CallerWindow>>,
    batch: Vec<(Uuid, i64, u64)>,
    totals: redis::RedisResult<Vec<u64>>,
) -> redis::RedisResult<()> {
    let Ok(mut windows) = windows.lock() else { return totals.map(drop) };
    match totals {
        Ok(totals) => {
            for ((caller, window, _), total) in batch.into_iter().zip(totals) {
                if let Some(entry) = windows.get_mut(&caller).filter(|entry| entry.window == window) {
                    entry.flushing = 0;
                    entry.counted_everywhere = total;
                }
            }
            Ok(())
        }
        Err(error) => {
            for (caller, window, _) in batch {
                if let Some(entry) = windows.get_mut(&caller).filter(|entry| entry.window == window) {
                    entry.pending += std::mem::take(&mut entry.flushing);
                }
            }
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u64) -> RateLimiter {
        RateLimiter { windows: Arc::default(), per_minute, clock: Clock::system() }
    }

    #[test]
    fn requests_admitted_while_a_flush_is_in_flight_still_count() {
        let limiter = limiter(4);
        let caller = Uuid::new_v4();
        for _ in 0..3 {
            assert!(limiter.check(caller).is_ok());
        }
        let batch = take_pending(&limiter.windows);
        assert!(limiter.check(caller).is_ok());
        assert!(limiter.check(caller).is_err(), "the fifth request passed while the first three were in flight");
        // Redis answers with the three it was sent; the fourth is still pending on this replica.
        assert!(settle(&limiter.windows, batch, Ok(vec![3])).is_ok());
        assert!(limiter.check(caller).is_err());
    }

    #[test]
    fn counts_redis_did_not_take_are_sent_again() {
        let limiter = limiter(2);
        let caller = Uuid::new_v4();
        assert!(limiter.check(caller).is_ok());
        let batch = take_pending(&limiter.windows);
        let refused = redis::RedisError::from((redis::ErrorKind::Io, "connection refused"));
        assert!(settle(&limiter.windows, batch, Err(refused)).is_err());
        let again = take_pending(&limiter.windows);
        assert_eq!(again.iter().map(|(_, _, pending)| pending).sum::<u64>(), 1);
        assert!(limiter.check(caller).is_ok());
        assert!(limiter.check(caller).is_err());
    }
}
