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

    /// One round: claims pending messages, publishes them, marks those the broker confirmed.
    /// Answers how many were published.
    pub async fn publish_pending(&mut self) -> Result<usize, BusError> {
        let mut transaction = self.pool.begin().await?;
        // SKIP LOCKED lets several relays (replicas of one service) share the outbox without
        // publishing the same row at the same time.
        let pending: Vec<PendingMessage> = sqlx::query_as(
            "select tenant_id, id, routing_key, envelope from outbox
              where published_at is null
              order by created_at
              limit $1
              for update skip locked",
        )
        .bind(BATCH)
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
        let confirmed = self.publisher.publish_confirmed(&batch).await;
        let (published, unconfirmed): (Vec<_>, Vec<_>) =
            pending.iter().zip(&confirmed).partition(|(_, confirmed)| **confirmed);
        let now = self.clock.now();
        let tenants: Vec<Uuid> = published.iter().map(|(message, _)| message.tenant_id).collect();
        let ids: Vec<Uuid> = published.iter().map(|(message, _)| message.id).collect();
        sqlx::query(
            "update outbox set published_at = $3
              where (tenant_id, id) in (select * from unnest($1::uuid[], $2::uuid[]))",
        )
        .bind(&tenants)
        .bind(&ids)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        if !unconfirmed.is_empty() {
            let tenants: Vec<Uuid> = unconfirmed.iter().map(|(message, _)| message.tenant_id).collect();
            let ids: Vec<Uuid> = unconfirmed.iter().map(|(message, _)| message.id).collect();
            sqlx::query(
                "update outbox set attempts = attempts + 1, last_error = 'not confirmed by the broker'
              where (tenant_id, id) in (select * from unnest($1::uuid[], $2::uuid[]))",
            )
            .bind(&tenants)
            .bind(&ids)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        if let Some((first_unconfirmed, _)) = unconfirmed.first() {
            return Err(BusError::NotConfirmed(first_unconfirmed.id));
        }
        Ok(published.len())
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
