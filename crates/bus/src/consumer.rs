//! Consuming a service's queue: each message is applied in one tenant transaction together with
//! its inbox row and acknowledged only after that commit. While the database is away the
//! consumer holds the message and tries it again in place, so an outage spends none of its
//! deliveries; a message that cannot be applied is dead-lettered.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{Bus, Envelope};

/// How often a consumer checks that its channel is still open.
const CHANNEL_CHECK_EVERY: Duration = Duration::from_millis(500);
/// Messages the broker may push before we acknowledge; enough to hide the round trip, few
/// enough that a crash redelivers little.
const PREFETCH: u16 = 16;
/// The first wait before trying a held message again while a dependency is away; it doubles up
/// to `LONGEST_HOLD_RETRY`.
const FIRST_HOLD_RETRY: Duration = Duration::from_millis(200);
const LONGEST_HOLD_RETRY: Duration = Duration::from_secs(5);
/// A message that lost a race (a lock held, a serialization failure) is tried again in place this
/// many times, after a short pause each, before it goes back to the queue: requeued at once, it
/// would spend its five deliveries in milliseconds while the lock is still held.
pub const CONTENTION_RETRIES: u32 = 3;
const CONTENTION_PAUSE: Duration = Duration::from_millis(100);
/// How long inbox rows are kept. A message is redelivered while it is unacknowledged: after a
/// crash, a lost connection, or the broker's consumer timeout (30 minutes) at most five times
/// over, and a producer publishes a row again only until it has marked it sent. Two weeks is
/// far beyond any of these.
const INBOX_KEPT_DAYS: i32 = 14;
/// How often the consumer prunes its inbox rows.
const PRUNE_INBOX_EVERY: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Retrying cannot help: the message goes to the dead-letter queue now.
    #[error("permanent: {0}")]
    Permanent(String),
    /// The message may apply on another attempt (it lost a race with another transaction): it
    /// goes back to the queue, and the delivery limit bounds the attempts.
    #[error("transient: {0}")]
    Transient(String),
    /// A dependency (the database, another service) is away: the consumer holds the message and
    /// tries it again until the dependency answers, without spending a delivery.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        match causerie_core::SqlFailure::of(&error) {
            causerie_core::SqlFailure::DatabaseAway => Self::Unavailable(error.to_string()),
            causerie_core::SqlFailure::Contention => Self::Transient(error.to_string()),
            causerie_core::SqlFailure::Refused => Self::Permanent(error.to_string()),
        }
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

/// What becomes of a delivery once no dependency is away.
enum Verdict {
    Applied(Outcome),
    DeadLetter(String),
    Requeue(String),
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
        let mut prune_inbox = tokio::time::interval(PRUNE_INBOX_EVERY);
        let mut check_channel = tokio::time::interval(CHANNEL_CHECK_EVERY);
        loop {
            let delivery = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = prune_inbox.tick() => {
                    self.prune_inbox().await;
                    continue;
                }
                // A connection lost while no delivery was coming is not always told to the
                // delivery stream, which would then wait forever: the channel's status tells.
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
            self.process(delivery, shutdown).await?;
        }
    }

    async fn prune_inbox(&self) {
        let pruned =
            sqlx::query("delete from inbox where consumer = $1 and processed_at < now() - make_interval(days => $2)")
                .bind(&self.name)
                .bind(INBOX_KEPT_DAYS)
                .execute(&self.pool)
                .await;
        match pruned {
            Ok(done) if done.rows_affected() > 0 => {
                tracing::info!(consumer = %self.name, rows = done.rows_affected(), "inbox pruned");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(consumer = %self.name, %error, "inbox not pruned"),
        }
    }

    /// Applies the message, holding it while a dependency is away: the next deliveries wait
    /// behind it, so consumption pauses until the database answers again.
    async fn apply_holding(&self, envelope: &Envelope, shutdown: &CancellationToken) -> Option<Verdict> {
        let mut wait = FIRST_HOLD_RETRY;
        let mut held = false;
        let mut contention_retries = 0;
        loop {
            let verdict = match self.apply(envelope).await {
                Ok(outcome) => Verdict::Applied(outcome),
                Err(HandlerError::Permanent(reason)) => Verdict::DeadLetter(reason),
                Err(HandlerError::Transient(_)) if contention_retries < CONTENTION_RETRIES => {
                    contention_retries += 1;
                    tokio::select! {
                        () = shutdown.cancelled() => return None,
                        () = tokio::time::sleep(CONTENTION_PAUSE * contention_retries) => {}
                    }
                    continue;
                }
                Err(HandlerError::Transient(reason)) => Verdict::Requeue(reason),
                Err(HandlerError::Unavailable(reason)) => {
                    if !held {
                        tracing::warn!(%reason, "a dependency is away; consumption paused");
                        held = true;
                    }
                    tokio::select! {
                        // Left unacknowledged: the broker gives it to another replica, or to us again.
                        () = shutdown.cancelled() => return None,
                        () = tokio::time::sleep(wait) => {}
                    }
                    wait = (wait * 2).min(LONGEST_HOLD_RETRY);
                    continue;
                }
            };
            if held {
                tracing::info!("dependency back; consumption resumed");
            }
            return Some(verdict);
        }
    }

    async fn process(
        &self,
        delivery: lapin::message::Delivery,
        shutdown: &CancellationToken,
    ) -> Result<(), crate::BusError> {
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
            let Some(verdict) = self.apply_holding(&envelope, shutdown).await else { return Ok(()) };
            match verdict {
                Verdict::Applied(Outcome::Applied) => {
                    tracing::debug!("message applied");
                    delivery.ack(BasicAckOptions::default()).await?;
                }
                Verdict::Applied(Outcome::Duplicate) => {
                    tracing::info!("message already applied, acknowledged again");
                    delivery.ack(BasicAckOptions::default()).await?;
                }
                Verdict::DeadLetter(reason) => {
                    tracing::error!(%reason, "message dead-lettered");
                    delivery.reject(BasicRejectOptions { requeue: false }).await?;
                }
                Verdict::Requeue(reason) => {
                    tracing::warn!(%reason, "message returned for another attempt");
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
