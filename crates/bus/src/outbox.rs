//! The transactional outbox: `enqueue` writes a message in the same transaction as the state
//! change it announces; the relay publishes what is pending and marks it only once the broker
//! has confirmed it. A crash between the two publishes again, and consumers' inboxes absorb it.

use std::time::Duration;

use causerie_core::Clock;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::publisher::OutgoingMessage;
use crate::{Bus, BusError, Envelope, Publisher};

/// Messages claimed per round.
const BATCH: i64 = 64;
/// How long an idle relay waits before looking again.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How long published rows are kept, for diagnosis, before the relay purges them.
const PUBLISHED_KEPT: chrono::Duration = chrono::Duration::days(7);

/// Writes `envelope` to the outbox inside the caller's transaction, which must be a tenant
/// transaction for the envelope's tenant.
pub async fn enqueue(transaction: &mut PgConnection, envelope: &Envelope) -> Result<(), sqlx::Error> {
    let body = serde_json::to_value(envelope).map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
    sqlx::query("insert into outbox (tenant_id, id, routing_key, envelope, created_at) values ($1, $2, $3, $4, $5)")
        .bind(envelope.tenant_id.as_uuid())
        .bind(envelope.id)
        .bind(envelope.routing_key())
        .bind(body)
        .bind(envelope.occurred_at)
        .execute(transaction)
        .await?;
    Ok(())
}

pub struct Relay {
    /// A pool as the service's relay role (`causerie_db::connect_relay`): the only role whose
    /// policy shows every tenant's outbox rows.
    pool: PgPool,
    publisher: Publisher,
    clock: Clock,
}

/// A row as stored: published byte for byte, so a row written by another version of the code
/// is still published rather than stopping the relay.
#[derive(sqlx::FromRow)]
struct PendingMessage {
    tenant_id: Uuid,
    id: Uuid,
    routing_key: String,
    envelope: sqlx::types::JsonValue,
    attempts: i32,
}

/// How long a row that was not published waits before its next attempt: doubling from one
/// second, at most a minute, so a fixed topology or a broker back publishes it soon.
fn retry_delay(attempts_before: i32) -> chrono::Duration {
    let exponent = u32::try_from(attempts_before.clamp(0, 6)).unwrap_or(6);
    chrono::Duration::seconds((1i64 << exponent).min(60))
}

impl Relay {
    pub fn new(pool: PgPool, bus: Bus, clock: Clock) -> Self {
        Self { pool, publisher: Publisher::new(bus), clock }
    }

    /// Publishes until `shutdown` fires, backing off while the broker or the database is away.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut failures: u32 = 0;
        let mut rounds: u64 = 0;
        loop {
            let round = tokio::select! {
                () = shutdown.cancelled() => break,
                round = self.publish_pending() => round,
            };
            let wait = match round {
                Ok(published) if published as i64 == BATCH => {
                    failures = 0;
                    Duration::ZERO
                }
                Ok(_) => {
                    failures = 0;
                    IDLE_POLL
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(%error, failures, "outbox relay round failed");
                    Duration::from_millis(200u64.saturating_mul(1 << failures.min(5)))
                }
            };
            rounds += 1;
            if rounds.is_multiple_of(3000) {
                self.purge_published().await;
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One round: claims pending messages, publishes them, marks those the broker stored and
    /// holds back the others. Answers how many were published; fails when none of a non-empty
    /// batch was, so that the relay backs off while the broker is away.
    pub async fn publish_pending(&mut self) -> Result<usize, BusError> {
        let now = self.clock.now();
        let mut transaction = self.pool.begin().await?;
        // SKIP LOCKED lets several relays (replicas of one service) share the outbox without
        // publishing the same row at the same time.
        let pending: Vec<PendingMessage> = sqlx::query_as(
            "select tenant_id, id, routing_key, envelope, attempts from outbox
              where published_at is null and (next_attempt_at is null or next_attempt_at <= $2)
              order by created_at
              limit $1
              for update skip locked",
        )
        .bind(BATCH)
        .bind(now)
        .fetch_all(&mut *transaction)
        .await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let batch: Vec<OutgoingMessage<'_>> = pending
            .iter()
            .map(|message| OutgoingMessage {
                id: message.id,
                routing_key: &message.routing_key,
                envelope: &message.envelope,
            })
            .collect();
        let outcomes = self.publisher.publish_confirmed(&batch).await;
        let mut published = (Vec::new(), Vec::new());
        let mut held_back = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut first_failure = None;
        for (message, outcome) in pending.iter().zip(outcomes) {
            match outcome {
                Ok(()) => {
                    published.0.push(message.tenant_id);
                    published.1.push(message.id);
                }
                Err(error) => {
                    held_back.0.push(message.tenant_id);
                    held_back.1.push(message.id);
                    held_back.2.push(error.to_string());
                    held_back.3.push(now + retry_delay(message.attempts));
                    first_failure.get_or_insert(error);
                }
            }
        }
        sqlx::query(
            "update outbox set published_at = $3
              where (tenant_id, id) in (select * from unnest($1::uuid[], $2::uuid[]))",
        )
        .bind(&published.0)
        .bind(&published.1)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        if !held_back.0.is_empty() {
            sqlx::query(
                "update outbox set attempts = attempts + 1, last_error = failed.error, next_attempt_at = failed.retry_at
                   from unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[]) as failed (tenant_id, id, error, retry_at)
                  where outbox.tenant_id = failed.tenant_id and outbox.id = failed.id",
            )
            .bind(&held_back.0)
            .bind(&held_back.1)
            .bind(&held_back.2)
            .bind(&held_back.3)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        match first_failure {
            Some(error) if published.1.is_empty() => Err(error),
            _ => Ok(published.1.len()),
        }
    }

    async fn purge_published(&self) {
        let outcome = sqlx::query("delete from outbox where published_at < $1")
            .bind(self.clock.now() - PUBLISHED_KEPT)
            .execute(&self.pool)
            .await;
        if let Err(error) = outcome {
            tracing::warn!(%error, "published outbox rows not purged");
        }
    }
}
