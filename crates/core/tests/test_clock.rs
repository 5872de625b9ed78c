//! The shared test clock against the real Redis: a move is answered only once every live reader
//! reads it.

use std::time::Duration;

use causerie_core::Clock;
use causerie_core::clock::AdvanceError;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

async fn redis() -> anyhow::Result<ConnectionManager> {
    let url = std::env::var("CAUSERIE_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    Ok(ConnectionManager::new(redis::Client::open(url)?).await?)
}

fn namespace() -> String {
    format!("clocktest_{}", uuid::Uuid::now_v7().simple())
}

async fn forget(namespace: &str) -> anyhow::Result<()> {
    let mut redis = redis().await?;
    let keys: Vec<String> = redis.keys(format!("{namespace}:test-clock:*")).await?;
    if !keys.is_empty() {
        redis.del::<_, ()>(keys).await?;
    }
    Ok(())
}

#[tokio::test]
async fn once_a_move_is_answered_every_other_reader_reads_the_moved_time() -> anyhow::Result<()> {
    let namespace = namespace();
    let (tasks, shutdown) = (TaskTracker::new(), CancellationToken::new());
    let gateway = Clock::test_mode(redis().await?, &namespace, "gateway", &tasks, shutdown.clone()).await?;
    let retention = Clock::test_mode(redis().await?, &namespace, "retention", &tasks, shutdown.clone()).await?;

    for _ in 0..5 {
        let moved =
            gateway.advance(chrono::Duration::days(30)).await.ok_or_else(|| anyhow::anyhow!("real clock"))??;
        // Without waiting: the move was answered only once retention read it.
        let read_by_retention = retention.now();
        assert!(read_by_retention >= moved, "retention reads {read_by_retention}, the move answered {moved}");
    }

    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    forget(&namespace).await
}

#[tokio::test]
async fn a_reader_that_stopped_is_not_waited_for_and_one_that_stalls_is_named() -> anyhow::Result<()> {
    let namespace = namespace();
    let tasks = TaskTracker::new();
    let gateway_shutdown = CancellationToken::new();
    let gateway = Clock::test_mode(redis().await?, &namespace, "gateway", &tasks, gateway_shutdown.clone()).await?;
    let stopped = CancellationToken::new();
    Clock::test_mode(redis().await?, &namespace, "assistant", &tasks, stopped.clone()).await?;
    stopped.cancel();

    // The stopped reader's last report expires; the move is then confirmed by the live ones.
    let moved = tokio::time::timeout(Duration::from_secs(10), gateway.advance(chrono::Duration::days(1))).await?;
    assert!(matches!(moved, Some(Ok(_))), "{moved:?}");

    // A reader that reports but does not read the new offset holds the move, and is named.
    let mut redis = redis().await?;
    redis.sadd::<_, _, ()>(format!("{namespace}:test-clock:readers"), "live-chat").await?;
    let stalled_key = format!("{namespace}:test-clock:seen:live-chat");
    redis.pset_ex::<_, _, ()>(&stalled_key, 0, 30_000).await?;
    match gateway.advance(chrono::Duration::days(1)).await {
        Some(Err(AdvanceError::Unconfirmed { readers })) => assert_eq!(readers, vec!["live-chat".to_owned()]),
        other => anyhow::bail!("a stalled reader did not hold the move: {other:?}"),
    }

    gateway_shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    forget(&namespace).await
}
