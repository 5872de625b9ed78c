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
/// A reader that has not reported the offset it reads for this long is taken as stopped, so that
/// a service stopped by a test does not hold every later advance.
const READER_ALIVE_FOR: Duration = Duration::from_secs(2);
/// How long an advance waits for every live reader to read the new offset.
const ADVANCE_CONFIRMED_WITHIN: Duration = Duration::from_secs(5);

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
    /// The set of the namespace's readers, by name.
    readers_key: String,
    /// The name this clock reports under: the service reading it.
    reader: String,
    /// Where each reader reports the offset it last read, kept only while it is alive: an
    /// advance is confirmed once every live reader reports the new offset.
    seen_key_prefix: String,
}

/// Why an advance of the test clock could not be confirmed.
#[derive(Debug, thiserror::Error)]
pub enum AdvanceError {
    #[error("the test clock offset could not be moved or read back: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("these readers did not read the moved test clock in time: {}", .readers.join(", "))]
    Unconfirmed { readers: Vec<String> },
}

impl Clock {
    pub fn system() -> Self {
        Self { test_mode: None }
    }

    /// A clock whose offset lives in Redis, read by `reader` (the service's name). A task tracked
    /// by `tasks` keeps the local copy fresh, and reports what it read, until `shutdown` fires.
    pub async fn test_mode(
        redis: ConnectionManager,
        namespace: &str,
        reader: &str,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> redis::RedisResult<Self> {
        let test_clock = Arc::new(TestClock {
            offset_seconds: AtomicI64::new(0),
            redis,
            offset_key: format!("{namespace}:test-clock:offset-seconds"),
            readers_key: format!("{namespace}:test-clock:readers"),
            reader: reader.to_owned(),
            seen_key_prefix: format!("{namespace}:test-clock:seen:"),
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

    /// Moves every test-mode clock forward and returns once every live reader reads the new
    /// time, so that whatever the caller does next is judged by the moved clock in every service.
    /// `None` on a real clock: real time cannot be moved.
    pub async fn advance(&self, by: chrono::Duration) -> Option<Result<DateTime<Utc>, AdvanceError>> {
        let test_clock = self.test_mode.as_ref()?;
        Some(test_clock.advance(by).await.map(|()| self.now()))
    }
}

impl TestClock {
    async fn refresh(&self) -> redis::RedisResult<()> {
        let mut redis = self.redis.clone();
        let offset: Option<i64> = redis.get(&self.offset_key).await?;
        self.read(offset.unwrap_or(0)).await
    }

    /// Takes `offset_seconds` as the clock's offset and reports it as read.
    async fn read(&self, offset_seconds: i64) -> redis::RedisResult<()> {
        self.offset_seconds.store(offset_seconds, Ordering::Relaxed);
        let alive_ms = u64::try_from(READER_ALIVE_FOR.as_millis()).unwrap_or(u64::MAX);
        let mut redis = self.redis.clone();
        redis::pipe()
            .sadd(&self.readers_key, &self.reader)
            .ignore()
            .pset_ex(format!("{}{}", self.seen_key_prefix, self.reader), offset_seconds, alive_ms)
            .ignore()
            .query_async::<()>(&mut redis)
            .await
    }

    async fn advance(&self, by: chrono::Duration) -> Result<(), AdvanceError> {
        let mut redis = self.redis.clone();
        let offset_seconds: i64 = redis.incr(&self.offset_key, by.num_seconds()).await?;
        self.read(offset_seconds).await?;
        let deadline = tokio::time::Instant::now() + ADVANCE_CONFIRMED_WITHIN;
        loop {
            let laggards = self.readers_behind(offset_seconds).await?;
            if laggards.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(AdvanceError::Unconfirmed { readers: laggards });
            }
            tokio::time::sleep(TEST_CLOCK_REFRESH / 4).await;
        }
    }

    /// The live readers that still read an offset below `offset_seconds`; one whose report has
    /// expired has stopped and is not waited for.
    async fn readers_behind(&self, offset_seconds: i64) -> redis::RedisResult<Vec<String>> {
        let mut redis = self.redis.clone();
        let mut readers: Vec<String> = redis.smembers(&self.readers_key).await?;
        readers.sort();
        let seen_keys: Vec<String> = readers.iter().map(|reader| format!("{}{reader}", self.seen_key_prefix)).collect();
        let seen: Vec<Option<i64>> = redis.mget(&seen_keys).await?;
        Ok(readers
            .into_iter()
            .zip(seen)
            .filter_map(|(reader, seen)| seen.is_some_and(|seen| seen < offset_seconds).then_some(reader))
            .collect())
    }
}
