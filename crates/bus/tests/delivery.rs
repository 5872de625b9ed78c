//! The delivery guarantees of the bus against the real broker and database: nothing lost when
//! a process dies before publishing or the broker restarts, nothing applied twice, and poison
//! sent aside.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{POISON, Probe};

const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_change_whose_process_died_before_publishing_is_published_after_restart() -> anyhow::Result<()> {
    let probe = Probe::new().await?;
    // The state change committed with its outbox row, and then the process died: no relay ran.
    let envelope = probe.envelope("acme");
    probe.enqueue(&envelope).await?;
    assert_eq!(probe.unpublished().await?, 1);

    // The restarted process's relay finds it.
    probe.start_consumer();
    probe.start_relay();
    probe.wait_applied(envelope.id, PATIENCE).await?;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while probe.unpublished().await? > 0 {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "outbox row never marked published");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(probe.applied(envelope.id).await?, 1);
    probe.stop().await
}

#[tokio::test]
async fn a_message_delivered_twice_is_applied_once() -> anyhow::Result<()> {
    let probe = Probe::new().await?;
    probe.start_consumer();
    let duplicated = probe.envelope("acme");
    let body = serde_json::to_vec(&duplicated)?;
    // As when the relay published, then died before marking the row: the broker gets it twice.
    probe.publish_raw(&duplicated.routing_key(), &body).await?;
    probe.publish_raw(&duplicated.routing_key(), &body).await?;
    let sentinel = probe.envelope("sentinel");
    probe.publish_raw(&sentinel.routing_key(), &serde_json::to_vec(&sentinel)?).await?;
    probe.wait_applied(sentinel.id, PATIENCE).await?;
    assert_eq!(probe.applied(duplicated.id).await?, 1);
    let attempts = probe.handler.attempts.lock().map(|attempts| attempts.get(&duplicated.id).copied()).ok().flatten();
    assert_eq!(attempts, Some(1), "the duplicate must be recognised before the handler runs");
    probe.stop().await
}

#[tokio::test]
async fn a_malformed_message_is_dead_lettered_and_does_not_block_the_queue() -> anyhow::Result<()> {
    let probe = Probe::new().await?;
    probe.start_consumer();
    probe.publish_raw("accounts.tenant.created", b"{ this is not an envelope").await?;
    let sentinel = probe.envelope("sentinel");
    probe.publish_raw(&sentinel.routing_key(), &serde_json::to_vec(&sentinel)?).await?;
    probe.wait_applied(sentinel.id, PATIENCE).await?;
    let dead = probe.dead_letter(PATIENCE).await?;
    assert_eq!(dead.as_deref(), Some(&b"{ this is not an envelope"[..]));
    probe.stop().await
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_dead_lettered_after_the_delivery_limit() -> anyhow::Result<()> {
    let probe = Probe::new().await?;
    probe.start_consumer();
    let poison = probe.envelope(POISON);
    probe.enqueue(&poison).await?;
    let sentinel = probe.envelope("sentinel");
    probe.enqueue(&sentinel).await?;
    probe.start_relay();
    probe.wait_applied(sentinel.id, PATIENCE).await?;
    let dead = probe.dead_letter(PATIENCE).await?.ok_or_else(|| anyhow::anyhow!("poison never dead-lettered"))?;
    let dead: causerie_bus::Envelope = serde_json::from_slice(&dead)?;
    assert_eq!(dead.id, poison.id);
    let attempts = probe.handler.attempts.lock().map(|attempts| attempts.get(&poison.id).copied()).ok().flatten();
    // Each delivery is tried in place after each lost race before it goes back to the queue.
    let limit = u32::try_from(causerie_bus::topology::DELIVERY_LIMIT)?;
    let per_delivery = 1 + causerie_bus::consumer::CONTENTION_RETRIES;
    let expected = limit * per_delivery..=(limit + 1) * per_delivery;
    assert!(attempts.is_some_and(|attempts| expected.contains(&attempts)), "attempts: {attempts:?}");
    assert_eq!(probe.applied(poison.id).await?, 0, "a failed attempt must leave nothing behind");
    probe.stop().await
}

#[tokio::test]
async fn a_message_whose_routing_key_has_no_queue_stays_unsent_in_the_outbox() -> anyhow::Result<()> {
    let probe = Probe::new().await?;
    let unroutable = probe.envelope_from("nobody", "acme");
    probe.enqueue(&unroutable).await?;
    let routable = probe.envelope("sentinel");
    probe.enqueue(&routable).await?;

    let published = probe.relay().publish_pending().await?;

    assert_eq!(published, 1, "the routable message is published beside the unroutable one");
    let (published_at, attempts, last_error) = probe.outbox_row(unroutable.id).await?;
    assert_eq!(published_at, None, "a message the broker returned is not marked sent");
    assert_eq!(attempts, 1);
    let last_error = last_error.unwrap_or_default();
    assert!(last_error.contains("nobody.tenant.created"), "last error: {last_error}");
    assert!(probe.outbox_row(routable.id).await?.0.is_some());
    // Held back for its retry delay: the next round does not spin on it.
    assert_eq!(probe.relay().publish_pending().await?, 0);
    probe.stop().await
}

#[tokio::test]
async fn commands_that_arrive_while_the_database_is_away_are_applied_once_when_it_returns() -> anyhow::Result<()> {
    let probe = Probe::new().await?;
    let proxy = probe.start_consumer_through_proxy().await?;
    let before = probe.envelope("before");
    probe.publish_raw(&before.routing_key(), &serde_json::to_vec(&before)?).await?;
    probe.wait_applied(before.id, PATIENCE).await?;

    proxy.cut();
    let first = probe.envelope("during-first");
    probe.publish_raw(&first.routing_key(), &serde_json::to_vec(&first)?).await?;
    // Longer than five of the former 2 s retry delays, after which the broker used to
    // dead-letter a command that only needed the database back.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let last = probe.envelope("during-last");
    probe.publish_raw(&last.routing_key(), &serde_json::to_vec(&last)?).await?;
    let during = [first, last];
    for envelope in &during {
        assert_eq!(probe.applied(envelope.id).await?, 0, "applied while the database was cut off");
    }
    proxy.restore();

    for envelope in &during {
        probe.wait_applied(envelope.id, PATIENCE).await?;
    }
    for envelope in std::iter::once(&before).chain(&during) {
        assert_eq!(probe.applied(envelope.id).await?, 1);
    }
    assert_eq!(probe.dead_letter(Duration::from_secs(1)).await?, None, "nothing dead-lettered by the outage");
    probe.stop().await
}

// The broker-restart test stops RabbitMQ's application for every test on the machine, so it runs
// alone, after the others (see deploy/local/test.sh), and restarts the broker even when it fails.

/// Starts the broker's application again when dropped, whatever happened in between.
struct BrokerRestart;

impl BrokerRestart {
    fn stop() -> anyhow::Result<Self> {
        let status = Command::new("rabbitmqctl").arg("stop_app").status()?;
        anyhow::ensure!(status.success(), "rabbitmqctl stop_app failed");
        Ok(Self)
    }
}

impl Drop for BrokerRestart {
    fn drop(&mut self) {
        let started = Command::new("rabbitmqctl").arg("start_app").status();
        if !matches!(started, Ok(status) if status.success()) {
            eprintln!("rabbitmqctl start_app failed: {started:?}; start RabbitMQ by hand");
        }
        let _ = Command::new("rabbitmqctl").args(["await_startup", "--timeout", "60"]).status();
    }
}

#[tokio::test]
async fn relay_and_consumer_survive_broker_restart() -> anyhow::Result<()> {
    let probe = Probe::new().await?;
    probe.start_consumer();
    probe.start_relay();
    let before = probe.envelope("before");
    probe.enqueue(&before).await?;
    probe.wait_applied(before.id, Duration::from_secs(20)).await?;

    // The broker loses the namespace's exchanges and queues: after the restart, only the
    // supervisor's redeclaration can bring them back (durable ones would survive a plain restart).
    causerie_testkit::remove_test_bus(&probe.config, &[]).await?;
    let restart = BrokerRestart::stop()?;
    let during = probe.envelope("during");
    probe.enqueue(&during).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(restart);

    let after = probe.envelope("after");
    probe.enqueue(&after).await?;
    probe.wait_applied(during.id, Duration::from_secs(90)).await?;
    probe.wait_applied(after.id, Duration::from_secs(30)).await?;
    for envelope in [&before, &during, &after] {
        assert_eq!(probe.applied(envelope.id).await?, 1);
    }
    probe.stop().await
}
