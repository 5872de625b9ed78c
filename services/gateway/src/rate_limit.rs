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
        if entry.counted_everywhere + entry.pending >= per_minute {
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
        let batch: Vec<(Uuid, i64, u64)> = match self.windows.lock() {
            Ok(mut windows) => windows
                .iter_mut()
                .filter(|(_, entry)| entry.pending > 0)
                .map(|(caller, entry)| (*caller, entry.window, std::mem::take(&mut entry.pending)))
                .collect(),
            Err(_) => return Ok(()),
        };
        self.forget_past_windows();
        if batch.is_empty() {
            return Ok(());
        }
        let mut pipeline = redis::pipe();
        for (caller, window, pending) in &batch {
            let key = format!("{}{caller}:{window}", self.key_prefix);
            pipeline.incr(&key, *pending).expire(&key, 2 * WINDOW_SECONDS).ignore();
        }
        let totals: Vec<u64> = match pipeline.query_async(&mut self.redis).await {
            Ok(totals) => totals,
            Err(error) => {
                // Counts not flushed are counted again next time rather than forgotten.
                if let Ok(mut windows) = self.windows.lock() {
                    for (caller, window, pending) in batch {
                        if let Some(entry) = windows.get_mut(&caller).filter(|entry| entry.window == window) {
                            entry.pending += pending;
                        }
                    }
                }
                return Err(error);
            }
        };
        if let Ok(mut windows) = self.windows.lock() {
            for ((caller, window, _), total) in batch.into_iter().zip(totals) {
                if let Some(entry) = windows.get_mut(&caller).filter(|entry| entry.window == window) {
                    entry.counted_everywhere = total;
                }
            }
        }
        Ok(())
    }

    /// Callers of past windows with nothing left to flush take no memory.
    fn forget_past_windows(&self) {
        let current = self.clock.now().timestamp().div_euclid(WINDOW_SECONDS);
        if let Ok(mut windows) = self.windows.lock() {
            windows.retain(|_, entry| entry.window >= current || entry.pending > 0);
        }
    }
}
