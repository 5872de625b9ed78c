//! Where every service reads the time. In test mode an offset kept in Redis moves the clocks of
//! all services together, so a retention period can be crossed end to end without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often a test-mode clock re-reads the shared offset: another service's advance is seen
/// within this delay.
const TEST_CLOCK_REFRESH: Duration = Duration::from_millis(200);

#[derive(Clone)]
pub struct Clock {
    test_mode: Option<Arc<TestClock>>,
}

struct TestClock {
    offset_seconds: AtomicI64,
    redis: ConnectionManager,
    /// The Redis key holding the offset from real time, in seconds; one per namespace, so that
    /// parallel test stacks keep their own time.
    offset_key: String,
}

impl Clock {
    pub fn system() -> Self {
        Self { test_mode: None }
    }

    /// A clock whose offset lives in Redis. A task tracked by `tasks` keeps the local copy fresh
    /// until `shutdown` fires.
    pub async fn test_mode(
        redis: ConnectionManager,
        namespace: &str,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> redis::RedisResult<Self> {
        let test_clock = Arc::new(TestClock {
            offset_seconds: AtomicI64::new(0),
            redis,
            offset_key: format!("{namespace}:test-clock:offset-seconds"),
        });
        test_clock.refresh().await?;
        let refreshed = Arc::clone(&test_clock);
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(TEST_CLOCK_REFRESH) => {}
                }
                if let Err(error) = refreshed.refresh().await {
                    tracing::warn!(%error, "test clock offset not refreshed");
                }
            }
        });
        Ok(Self { test_mode: Some(test_clock) })
    }

    pub fn now(&self) -> DateTime<Utc> {
        let real = Utc::now();
        match &self.test_mode {
            None => real,
            Some(test_clock) => real + chrono::Duration::seconds(test_clock.offset_seconds.load(Ordering::Relaxed)),
        }
    }

    pub fn is_test_mode(&self) -> bool {
        self.test_mode.is_some()
    }

    /// Moves every test-mode clock forward. `None` on a real clock: real time cannot be moved.
    pub async fn advance(&self, by: chrono::Duration) -> Option<redis::RedisResult<DateTime<Utc>>> {
        let test_clock = self.test_mode.as_ref()?;
        let mut redis = test_clock.redis.clone();
        let outcome: redis::RedisResult<i64> = redis.incr(&test_clock.offset_key, by.num_seconds()).await;
        Some(outcome.map(|offset_seconds| {
            test_clock.offset_seconds.store(offset_seconds, Ordering::Relaxed);
            self.now()
        }))
    }
}

impl TestClock {
    async fn refresh(&self) -> redis::RedisResult<()> {
        let mut redis = self.redis.clone();
        let offset: Option<i64> = redis.get(&self.offset_key).await?;
        self.offset_seconds.store(offset.unwrap_or(0), Ordering::Relaxed);
        Ok(())
    }
}
