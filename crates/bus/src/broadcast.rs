//! Events every replica of a service must hear, such as the invalidation of a cache: a consumer
//! queue hands each message to one replica only, so each listener gets a queue of its own,
//! exclusive and deleted with its connection. Delivery is at most once: whenever the listener
//! (re)subscribes it is told it may have missed events, and drops what it holds.

use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tokio_util::sync::CancellationToken;

use crate::{Bus, Envelope};

/// What a listener hears.
pub enum Heard {
    Event(Box<Envelope>),
    /// Subscribed afresh: events sent meanwhile were not heard.
    MayHaveMissedEvents,
    /// The subscription is gone; events are not heard until the next `MayHaveMissedEvents`.
    Unsubscribed,
}

const RETRY_AFTER: Duration = Duration::from_secs(1);

/// How often a listener checks that its channel is still open.
const CHANNEL_CHECK_EVERY: Duration = Duration::from_millis(500);

/// Calls `listener` for every event whose routing key matches one of `routing_keys`, until
/// `shutdown`.
pub async fn listen(
    bus: Bus,
    routing_keys: &[&str],
    listener: impl Fn(Heard) + Send + Sync,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        if let Err(error) = listen_until_disconnected(&bus, routing_keys, &listener, &shutdown).await {
            tracing::warn!(%error, "event listener disconnected; subscribing again");
        }
        listener(Heard::Unsubscribed);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RETRY_AFTER) => {}
        }
    }
}

async fn listen_until_disconnected(
    bus: &Bus,
    routing_keys: &[&str],
    listener: &(impl Fn(Heard) + Send + Sync),
    shutdown: &CancellationToken,
) -> Result<(), crate::BusError> {
    let channel = bus.channel().await?;
    // A server-named queue that only this connection uses and that disappears with it: nothing
    // accumulates for a replica that is gone.
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions { exclusive: true, auto_delete: true, ..QueueDeclareOptions::default() },
            FieldTable::default(),
        )
        .await?;
    for routing_key in routing_keys {
        channel
            .queue_bind(
                queue.name().clone(),
                bus.topology().events_exchange().into(),
                (*routing_key).into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    let mut deliveries = channel
        .basic_consume(
            queue.name().clone(),
            "".into(),
            // No acknowledgement: an invalidation lost with a broken connection is covered by the
            // MayHaveMissedEvents that follows the new subscription.
            BasicConsumeOptions { no_ack: true, ..BasicConsumeOptions::default() },
            FieldTable::default(),
        )
        .await?;
    listener(Heard::MayHaveMissedEvents);
    let mut check_channel = tokio::time::interval(CHANNEL_CHECK_EVERY);
    loop {
        let delivery = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            // As for the consumers: a connection lost while no event was coming is not always
            // told to the delivery stream, and invalidations would stop unheard.
            _ = check_channel.tick() => {
                if !channel.status().connected() {
                    return Err(crate::BusError::NotConnected);
                }
                continue;
            }
            next = deliveries.next() => match next {
                Some(delivery) => delivery?,
                None => return Ok(()),
            },
        };
        match serde_json::from_slice::<Envelope>(&delivery.data) {
            Ok(envelope) => listener(Heard::Event(Box::new(envelope))),
            Err(error) => tracing::warn!(%error, "unreadable event ignored by a listener"),
        }
    }
}
