//! Mail waiting for the SMTP server: queued in the tenant's transaction, leased by the mailer
//! across tenants with the relay's role.

use causerie_core::Error;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub struct NewMail<'a> {
    pub tenant_id: Uuid,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    pub now: DateTime<Utc>,
}

pub async fn enqueue(transaction: &mut PgConnection, mail: &NewMail<'_>) -> Result<(), Error> {
    sqlx::query(
        "insert into outgoing_mail (tenant_id, id, recipient, subject, body, created_at, next_attempt_at)
         values ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(mail.tenant_id)
    .bind(Uuid::now_v7())
    .bind(mail.recipient)
    .bind(mail.subject)
    .bind(mail.body)
    .bind(mail.now)
    .execute(transaction)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
pub struct QueuedMail {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// Takes due mail for `lease`: the rows stay, invisible to other mailers until the lease ends, so
/// sending happens outside any transaction and a mailer that dies mid-send only delays its mail.
pub async fn lease_due(
    pool: &PgPool,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> Result<Vec<QueuedMail>, sqlx::Error> {
    sqlx::query_as(
        "update outgoing_mail set next_attempt_at = $2
          where (tenant_id, id) in (
              select tenant_id, id from outgoing_mail
               where next_attempt_at <= $1
               order by next_attempt_at
               limit $3
               for update skip locked)
          returning tenant_id, id, recipient, subject, body, attempts, created_at",
    )
    .bind(now)
    .bind(now + lease)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn delete(pool: &PgPool, tenant_id: Uuid, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("delete from outgoing_mail where tenant_id = $1 and id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn postpone(
    pool: &PgPool,
    tenant_id: Uuid,
    id: Uuid,
    next_attempt_at: DateTime<Utc>,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update outgoing_mail set attempts = attempts + 1, next_attempt_at = $3, last_error = $4
          where tenant_id = $1 and id = $2",
    )
    .bind(tenant_id)
    .bind(id)
    .bind(next_attempt_at)
    .bind(error)
    .execute(pool)
    .await?;
    Ok(())
}
