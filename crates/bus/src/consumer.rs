//! Consuming a service's queue: each message is applied in one tenant transaction together with
//! its inbox row, acknowledged only after that commit, and retried a bounded number of times
//! before the broker dead-letters it.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{Bus, Envelope};

/// Messages the broker may push before we acknowledge; enough to hide the round trip, few
/// enough that a crash redelivers little.
const PREFETCH: u16 = 16;
/// How long to hold back a message that failed for a transient reason before returning it to the
/// queue: without it, a few seconds of database trouble would spend every delivery at once and
/// dead-letter messages that only needed to wait.
const RETRY_DELAY: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Retrying cannot help: the message goes to the dead-letter queue now.
    #[error("permanent: {0}")]
    Permanent(String),
    /// Worth retrying (a dependency was away); the delivery limit bounds the attempts.
    #[error("transient: {0}")]
    Transient(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        Self::Transient(error.to_string())
    }
}

/// A service's reaction to the messages on its queue. `transaction` is a tenant transaction for
/// the envelope's tenant; whatever the handler writes commits with the inbox row, or not at all.
pub trait MessageHandler: Send + Sync + 'static {
    fn handle(
        &self,
        envelope: &Envelope,
        transaction: &mut PgConnection,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

pub struct Consumer<H> {
    bus: Bus,
    pool: PgPool,
    /// The consumer's name: its queue and its inbox rows are named after it.
    name: String,
    handler: H,
}

enum Outcome {
    Applied,
    Duplicate,
}

impl<H: MessageHandler> Consumer<H> {
    pub fn new(bus: Bus, pool: PgPool, name: &str, handler: H) -> Self {
        Self { bus, pool, name: name.to_owned(), handler }
    }

    /// Consumes until `shutdown` fires, reconnecting with backoff whenever the broker goes away.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut failures: u32 = 0;
        loop {
            let stopped = tokio::select! {
                () = shutdown.cancelled() => true,
                outcome = self.consume_until_disconnected(&shutdown) => {
                    match outcome {
                        Ok(()) => failures = 0,
                        Err(error) => {
                            failures = failures.saturating_add(1);
                            tracing::warn!(consumer = %self.name, %error, failures, "consumer disconnected");
                        }
                    }
                    shutdown.is_cancelled()
                }
            };
            if stopped {
                break;
            }
            let backoff = Duration::from_millis(200u64.saturating_mul(1 << failures.min(5)));
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(backoff) => {}
            }
        }
    }

    async fn consume_until_disconnected(&self, shutdown: &CancellationToken) -> Result<(), crate::BusError> {
        let channel = self.bus.channel().await?;
        channel.basic_qos(PREFETCH, BasicQosOptions::default()).await?;
        let queue = self.bus.topology().queue(&self.name);
        let mut deliveries = channel
            .basic_consume(
                queue.into(),
                self.name.clone().into(),
                // Manual acknowledgement: a message leaves the queue only after our commit, so a
                // crash between the two redelivers it and the inbox absorbs the repeat.
                BasicConsumeOptions { no_ack: false, ..BasicConsumeOptions::default() },
                FieldTable::default(),
            )
            .await?;
        tracing::info!(consumer = %self.name, "consuming");
        loop {
            let delivery = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                next = deliveries.next() => match next {
                    Some(delivery) => delivery?,
                    None => return Ok(()),
                },
            };
            self.process(delivery).await?;
        }
    }

    async fn process(&self, delivery: lapin::message::Delivery) -> Result<(), crate::BusError> {
        let envelope: Envelope = match serde_json::from_slice(&delivery.data) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::error!(consumer = %self.name, %error, "malformed message dead-lettered");
                delivery.reject(BasicRejectOptions { requeue: false }).await?;
                return Ok(());
            }
        };
        let span = tracing::info_span!(
            "consume",
            consumer = %self.name,
            message_id = %envelope.id,
            message_type = envelope.message.message_type(),
            tenant.id = %envelope.tenant_id,
        );
        causerie_runtime::propagation::adopt_parent_from_map(&span, &envelope.trace_context);
        async {
            match self.apply(&envelope).await {
                Ok(Outcome::Applied) => {
                    tracing::debug!("message applied");
                    delivery.ack(BasicAckOptions::default()).await?;
                }
                Ok(Outcome::Duplicate) => {
                    tracing::info!("message already applied, acknowledged again");
                    delivery.ack(BasicAckOptions::default()).await?;
                }
                Err(HandlerError::Permanent(reason)) => {
                    tracing::error!(%reason, "message dead-lettered");
                    delivery.reject(BasicRejectOptions { requeue: false }).await?;
                }
                Err(HandlerError::Transient(reason)) => {
                    tracing::warn!(%reason, "message returned for another attempt");
                    tokio::time::sleep(RETRY_DELAY).await;
                    delivery.nack(BasicNackOptions { requeue: true, ..BasicNackOptions::default() }).await?;
                }
            }
            Ok::<(), crate::BusError>(())
        }
        .instrument(span)
        .await?;
        Ok(())
    }

    async fn apply(&self, envelope: &Envelope) -> Result<Outcome, HandlerError> {
        let mut transaction = causerie_db::tenant_tx(&self.pool, envelope.tenant_id).await?;
        let first_time = sqlx::query("insert into inbox (message_id, consumer) values ($1, $2) on conflict do nothing")
            .bind(envelope.id)
            .bind(&self.name)
            .execute(&mut *transaction)
            .await?
            .rows_affected()
            == 1;
        if !first_time {
            return Ok(Outcome::Duplicate);
        }
        self.handler.handle(envelope, &mut transaction).await?;
        transaction.commit().await?;
        Ok(Outcome::Applied)
    }
}
