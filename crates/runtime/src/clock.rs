//! The process's clock: real, or in test mode the shared one whose offset lives in Redis.

use causerie_core::Clock;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{Config, Service};

/// `service` is the clock's reader, which a test clock move waits for.
pub async fn clock_for(
    config: &Config,
    service: Service,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) -> redis::RedisResult<Clock> {
    if !config.test_mode {
        return Ok(Clock::system());
    }
    tracing::warn!("test mode: the clock can be moved through the admin API");
    let client = redis::Client::open(config.redis_url.as_str())?;
    let redis = redis::aio::ConnectionManager::new(client).await?;
    Clock::test_mode(redis, &config.namespace, service.name(), tasks, shutdown).await
}
