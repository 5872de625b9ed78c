//! Publishing with publisher confirms: a message counts as sent only once the broker says it
//! has stored it.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation};

use crate::message::Delivery;
use crate::{Bus, BusError, Envelope};

/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;
/// How long to wait for the broker to confirm a whole batch before counting the rest unconfirmed,
/// so that a broker under flow control cannot hold the relay (and its outbox rows' locks) long.
const CONFIRM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One envelope to publish, as stored in the outbox.
pub struct OutgoingMessage<'a> {
    pub id: uuid::Uuid,
    pub routing_key: &'a str,
    pub envelope: &'a serde_json::Value,
}

pub struct Publisher {
    bus: Bus,
    channel: Option<Channel>,
}

impl Publisher {
    pub fn new(bus: Bus) -> Self {
        Self { bus, channel: None }
    }

    async fn confirming_channel(&mut self) -> Result<Channel, BusError> {
        if let Some(channel) = self.channel.as_ref().filter(|channel| channel.status().connected()) {
            return Ok(channel.clone());
        }
        let channel = self.bus.channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        self.channel = Some(channel.clone());
        Ok(channel)
    }

    /// Publishes every message, then waits for all their confirms, for at most `CONFIRM_TIMEOUT`
    /// for the whole batch. Answers, in order, whether each one was stored in a queue; a broken
    /// channel is replaced on the next call.
    pub async fn publish_confirmed(&mut self, envelopes: &[OutgoingMessage<'_>]) -> Vec<Result<(), BusError>> {
        let channel = match self.confirming_channel().await {
            Ok(channel) => channel,
            Err(error) => {
                tracing::warn!(%error, "no channel to publish on");
                return envelopes.iter().map(|_| Err(BusError::NotConnected)).collect();
            }
        };
        let exchange = self.bus.topology().events_exchange();
        let mut pending = Vec::with_capacity(envelopes.len());
        for message in envelopes {
            // The trace context travels in the envelope for consumers, and in AMQP headers too so
            // that broker-side tools (tracing plugins, shovels) see the same trace.
            let mut headers = FieldTable::default();
            if let Some(trace_context) = message.envelope["trace_context"].as_object() {
                for (key, value) in trace_context {
                    if let Some(value) = value.as_str() {
                        headers.insert(key.clone().into(), AMQPValue::LongString(value.to_owned().into()));
                    }
                }
            }
            let mut properties = BasicProperties::default()
                .with_message_id(message.id.to_string().into())
                .with_content_type("application/json".into())
                .with_delivery_mode(PERSISTENT)
                .with_headers(headers);
            if let Some(message_type) = message.envelope["type"].as_str() {
                properties = properties.with_type(message_type.into());
            }
            // Mandatory: the broker returns a message that no queue takes instead of confirming
            // and dropping it. A row of a type this build does not know is held to that too.
            let mandatory = serde_json::from_value::<Envelope>(message.envelope.clone())
                .map_or(true, |envelope| envelope.message.delivery() == Delivery::Queued);
            let published = match serde_json::to_vec(message.envelope) {
                Ok(body) => channel
                    .basic_publish(
                        exchange.clone().into(),
                        message.routing_key.into(),
                        BasicPublishOptions { mandatory, ..BasicPublishOptions::default() },
                        &body,
                        properties,
                    )
                    .await
                    .map_err(BusError::from),
                Err(_) => Err(BusError::NotConfirmed(message.id)),
            };
            pending.push((message, published));
        }
        let deadline = tokio::time::Instant::now() + CONFIRM_TIMEOUT;
        let mut outcomes = Vec::with_capacity(pending.len());
        for (message, published) in pending {
            let outcome = match published {
                Ok(confirm) => match tokio::time::timeout_at(deadline, confirm).await {
                    Ok(Ok(Confirmation::Ack(None))) => Ok(()),
                    Ok(Ok(Confirmation::Ack(Some(_)))) => Err(BusError::Unroutable {
                        message_id: message.id,
                        routing_key: message.routing_key.to_owned(),
                    }),
                    Ok(Ok(Confirmation::Nack(_) | Confirmation::NotRequested)) | Err(_) => {
                        Err(BusError::NotConfirmed(message.id))
                    }
                    Ok(Err(error)) => Err(error.into()),
                },
                Err(error) => Err(error),
            };
            match &outcome {
                Ok(()) => {}
                Err(error @ BusError::Unroutable { .. }) => {
                    tracing::error!(message_id = %message.id, %error, "message returned by the broker");
                }
                Err(error) => {
                    tracing::warn!(message_id = %message.id, %error, "message not confirmed");
                    self.channel = None;
                }
            }
            outcomes.push(outcome);
        }
        outcomes
    }
}
