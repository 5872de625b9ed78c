//! Mail waiting for the SMTP server: queued in the tenant's transaction, claimed by the mailer
//! across tenants with the relay's role.

use causerie_core::Error;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
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
    .await
    .map_err(Error::unavailable)?;
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
}

/// Due mail, locked so that several mailers share the queue without sending twice.
pub async fn claim_due(
    transaction: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<QueuedMail>, sqlx::Error> {
    sqlx::query_as(
        "select tenant_id, id, recipient, subject, body, attempts from outgoing_mail
          where next_attempt_at <= $1
          order by next_attempt_at
          limit $2
          for update skip locked",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(transaction)
    .await
}

pub async fn delete_sent(transaction: &mut PgConnection, tenant_id: Uuid, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("delete from outgoing_mail where tenant_id = $1 and id = $2")
        .bind(tenant_id)
        .bind(id)
        .execute(transaction)
        .await?;
    Ok(())
}

pub async fn postpone(
    transaction: &mut PgConnection,
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
    .execute(transaction)
    .await?;
    Ok(())
}
