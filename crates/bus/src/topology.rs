//! The exchanges, queues and bindings, declared whole by every service that connects, so that a
//! message published before its consumer first starts still has a queue to wait in.

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

/// How many times a message is delivered before it is dead-lettered. RabbitMQ 3.10 has no
/// default for quorum queues, so without this a poison message would cycle forever.
pub const DELIVERY_LIMIT: i64 = 5;

/// Which routing keys each consuming service's queue receives. Every queued message type
/// (`Delivery::Queued`) matches at least one, which a test of `message` checks.
const BINDINGS: [(&str, &[&str]); 5] = [
    ("retention", &["accounts.tenant.created", "*.erasure.completed", "*.export.completed", "*.sweep.completed"]),
    ("accounts", &["retention.erasure.requested", "retention.export.requested", "retention.sweep.requested"]),
    // Assistant and live chat hold what a user authored; their handlers attribute it to the
    // erased user's tombstone. Until a handler runs, the messages wait in the queue. The
    // assistant deletes a deleted project's content.
    (
        "assistant",
        &[
            "accounts.user.erased",
            "accounts.project.deleted",
            "retention.erasure.requested",
            "retention.export.requested",
            "retention.sweep.requested",
        ],
    ),
    (
        "live_chat",
        &[
            "accounts.user.erased",
            "retention.erasure.requested",
            "retention.export.requested",
            "retention.sweep.requested",
        ],
    ),
    ("forms_analytics", &["retention.erasure.requested", "retention.export.requested", "retention.sweep.requested"]),
];

/// The services whose queues receive `routing_key`, matched as the topic exchange does.
pub fn consumers_of(routing_key: &str) -> Vec<&'static str> {
    BINDINGS
        .iter()
        .filter(|(_, patterns)| patterns.iter().any(|pattern| topic_matches(pattern, routing_key)))
        .map(|(consumer, _)| *consumer)
        .collect()
}

/// AMQP topic matching: words split on `.`, `*` is one word, `#` zero or more.
fn topic_matches(pattern: &str, routing_key: &str) -> bool {
    fn matches(pattern: &[&str], key: &[&str]) -> bool {
        match (pattern.split_first(), key.split_first()) {
            (None, None) => true,
            (Some((&"#", rest)), _) => {
                matches(rest, key) || key.split_first().is_some_and(|(_, tail)| matches(pattern, tail))
            }
            (Some((&word, rest)), Some((&first, tail))) => (word == "*" || word == first) && matches(rest, tail),
            _ => false,
        }
    }
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = routing_key.split('.').collect();
    matches(&pattern, &key)
}

// Queues carry no `x-expires`: RabbitMQ 3.10 wedges its connection acceptor while it deletes an
// expired quorum queue. Tests delete their namespace's queues themselves (`remove`).
#[derive(Clone, Debug)]
pub struct Topology {
    prefix: String,
}

impl Topology {
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.to_owned() }
    }

    pub fn for_config(config: &causerie_runtime::Config) -> Self {
        Self::new(config.bus_prefix())
    }

    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }

    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dead-letter", self.prefix)
    }

    /// The durable queue a service consumes from.
    pub fn queue(&self, consumer: &str) -> String {
        format!("{}.{consumer}", self.prefix)
    }

    pub fn dead_letter_queue(&self, consumer: &str) -> String {
        format!("{}.{consumer}.dead-letter", self.prefix)
    }

    /// Declares everything; idempotent, and run again after every reconnection.
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
        channel
            .exchange_declare(self.events_exchange().into(), ExchangeKind::Topic, durable, FieldTable::default())
            .await?;
        // Direct: each dead-lettered message is re-keyed with its queue's consumer name.
        channel
            .exchange_declare(self.dead_letter_exchange().into(), ExchangeKind::Direct, durable, FieldTable::default())
            .await?;
        for (consumer, routing_keys) in BINDINGS {
            self.declare_queue(channel, consumer, routing_keys).await?;
        }
        Ok(())
    }

    /// A consumer's quorum queue and its dead-letter queue. Public so tests can declare a
    /// consumer of their own with the same options as the services'.
    pub async fn declare_queue(&self, channel: &Channel, consumer: &str, routing_keys: &[&str]) -> lapin::Result<()> {
        let durable = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
        let mut dead_letter_arguments = FieldTable::default();
        dead_letter_arguments.insert("x-queue-type".into(), long_string("quorum"));
        let dead_letter_queue = self.dead_letter_queue(consumer);
        channel.queue_declare(dead_letter_queue.clone().into(), durable, dead_letter_arguments).await?;
        channel
            .queue_bind(
                dead_letter_queue.into(),
                self.dead_letter_exchange().into(),
                consumer.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;

        let mut arguments = FieldTable::default();
        // Quorum queues are replicated and keep a per-message delivery count, which is what
        // bounds retries.
        arguments.insert("x-queue-type".into(), long_string("quorum"));
        arguments.insert("x-delivery-limit".into(), AMQPValue::LongLongInt(DELIVERY_LIMIT));
        arguments.insert("x-dead-letter-exchange".into(), long_string(&self.dead_letter_exchange()));
        arguments.insert("x-dead-letter-routing-key".into(), long_string(consumer));
        // At-least-once dead-lettering: a message is removed from this queue only once the
        // dead-letter queue has confirmed it. It requires reject-publish overflow.
        arguments.insert("x-dead-letter-strategy".into(), long_string("at-least-once"));
        arguments.insert("x-overflow".into(), long_string("reject-publish"));
        let queue = self.queue(consumer);
        channel.queue_declare(queue.clone().into(), durable, arguments).await?;
        for routing_key in routing_keys {
            channel
                .queue_bind(
                    queue.clone().into(),
                    self.events_exchange().into(),
                    (*routing_key).into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// Deletes the queues of the services and of `other_consumers`, and both exchanges: what a
    /// test namespace leaves behind.
    pub async fn remove(&self, channel: &Channel, other_consumers: &[&str]) -> lapin::Result<()> {
        let consumers = BINDINGS.iter().map(|(consumer, _)| *consumer).chain(other_consumers.iter().copied());
        for consumer in consumers {
            for queue in [self.queue(consumer), self.dead_letter_queue(consumer)] {
                channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await?;
            }
        }
        for exchange in [self.events_exchange(), self.dead_letter_exchange()] {
            channel.exchange_delete(exchange.into(), ExchangeDeleteOptions::default()).await?;
        }
        Ok(())
    }
}

fn long_string(text: &str) -> AMQPValue {
    AMQPValue::LongString(text.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_patterns_match_as_the_broker_does() {
        assert!(topic_matches("*.erasure.completed", "live_chat.erasure.completed"));
        assert!(!topic_matches("*.erasure.completed", "erasure.completed"));
        assert!(topic_matches("accounts.#", "accounts.tenant.created"));
        assert!(topic_matches("#", "a"));
        assert!(!topic_matches("accounts.tenant.created", "accounts.tenant.updated"));
        assert_eq!(consumers_of("accounts.user.erased"), vec!["assistant", "live_chat"]);
        assert!(consumers_of("nobody.tenant.created").is_empty());
    }
}
