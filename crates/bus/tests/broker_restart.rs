//! The relay and the consumers carry on across a broker restart without losing a message.
//! This test stops RabbitMQ's application for every test on the machine, so it runs alone, after
//! the others (see deploy/local/test.sh), and restarts the broker even when it fails.

mod common;

use std::process::Command;
use std::time::Duration;

use common::Probe;

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
