//! Publishing with publisher confirms: a message counts as sent only once the broker says it
//! has stored it.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation};

use crate::{Bus, BusError, Envelope};

/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

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

    /// Publishes every message, then waits for all their confirms. Answers, in order, whether
    /// each one was confirmed; a broken channel is replaced on the next call.
    pub async fn publish_confirmed(&mut self, envelopes: &[(String, Vec<u8>, Envelope)]) -> Vec<bool> {
        let channel = match self.confirming_channel().await {
            Ok(channel) => channel,
            Err(error) => {
                tracing::warn!(%error, "no channel to publish on");
                return vec![false; envelopes.len()];
            }
        };
        let exchange = self.bus.topology().events_exchange();
        let mut pending = Vec::with_capacity(envelopes.len());
        for (routing_key, body, envelope) in envelopes {
            let mut headers = FieldTable::default();
            for (key, value) in &envelope.trace_context {
                headers.insert(key.clone().into(), AMQPValue::LongString(value.clone().into()));
            }
            let properties = BasicProperties::default()
                .with_message_id(envelope.id.to_string().into())
                .with_content_type("application/json".into())
                .with_type(envelope.message.message_type().into())
                .with_delivery_mode(PERSISTENT)
                .with_headers(headers);
            let published = channel
                .basic_publish(
                    exchange.clone().into(),
                    routing_key.clone().into(),
                    BasicPublishOptions::default(),
                    body,
                    properties,
                )
                .await;
            pending.push((envelope.id, published));
        }
        let mut confirmed = Vec::with_capacity(pending.len());
        for (message_id, published) in pending {
            let outcome = match published {
                Ok(confirm) => confirm.await.map_err(BusError::from).and_then(|confirmation| match confirmation {
                    Confirmation::Ack(_) => Ok(()),
                    Confirmation::Nack(_) | Confirmation::NotRequested => Err(BusError::NotConfirmed(message_id)),
                }),
                Err(error) => Err(error.into()),
            };
            if let Err(error) = &outcome {
                tracing::warn!(%message_id, %error, "message not confirmed");
                self.channel = None;
            }
            confirmed.push(outcome.is_ok());
        }
        confirmed
    }
}
