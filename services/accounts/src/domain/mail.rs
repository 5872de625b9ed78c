//! Mail to people: written to the `outgoing_mail` outbox in the transaction that creates the link
//! it carries, then delivered to the SMTP server by the mailer, which retries with backoff and
//! deletes each message once the server has taken it.

use std::time::Duration;

use causerie_core::{Clock, Error, TenantId};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::AppState;
use crate::store::mail::{self as mail_store, NewMail, QueuedMail};

const BATCH: i64 = 20;
/// Longer than one batch can take to send (20 mails, 20 s of SMTP timeout each).
const LEASE: chrono::Duration = chrono::Duration::minutes(10);
/// The longest link a mail carries (an e-mail confirmation) lives 24 hours.
const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(24);
const IDLE_POLL: Duration = Duration::from_millis(500);
const MAX_BACKOFF_SECONDS: i64 = 3600;

pub async fn queue_password_reset(
    state: &AppState,
    transaction: &mut PgConnection,
    tenant_id: TenantId,
    recipient: &str,
    token: &str,
) -> Result<(), Error> {
    let body = format!(
        "Someone asked to reset the password of your Causerie account.\r\n\r\n\
         To choose a new password, open this link within one hour:\r\n{}/reset-password?token={token}\r\n\r\n\
         or send this token to POST /v1/auth/password-reset/confirm:\r\n{token}\r\n\r\n\
         If you did not ask for it, ignore this message; your password stays as it is.\r\n",
        state.public_url
    );
    queue(state, transaction, tenant_id, recipient, "Reset your Causerie password", &body).await
}

pub async fn queue_email_change(
    state: &AppState,
    transaction: &mut PgConnection,
    tenant_id: TenantId,
    recipient: &str,
    token: &str,
) -> Result<(), Error> {
    let body = format!(
        "Someone asked to use this address for a Causerie account.\r\n\r\n\
         To confirm it, open this link within 24 hours:\r\n{}/confirm-email?token={token}\r\n\r\n\
         or send this token to POST /v1/me/email-confirmation:\r\n{token}\r\n\r\n\
         If you did not ask for it, ignore this message; nothing changes.\r\n",
        state.public_url
    );
    queue(state, transaction, tenant_id, recipient, "Confirm your new e-mail address", &body).await
}

async fn queue(
    state: &AppState,
    transaction: &mut PgConnection,
    tenant_id: TenantId,
    recipient: &str,
    subject: &str,
    body: &str,
) -> Result<(), Error> {
    mail_store::enqueue(
        transaction,
        &NewMail { tenant_id: tenant_id.as_uuid(), recipient, subject, body, now: state.clock.now() },
    )
    .await
}

pub struct Mailer {
    pool: PgPool,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    clock: Clock,
}

impl Mailer {
    /// `pool` connects as the mailer role, which may read every tenant's outgoing mail and nothing else.
    pub fn new(pool: PgPool, smtp_url: &str, from: &str, clock: Clock) -> Result<Self, Error> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|error| Error::internal(format!("CAUSERIE_SMTP_URL: {error}")))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from.parse().map_err(|error| Error::internal(format!("CAUSERIE_MAIL_FROM: {error}")))?;
        Ok(Self { pool, transport, from, clock })
    }

    pub async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let delivered = match self.deliver_due().await {
                Ok(delivered) => delivered,
                Err(error) => {
                    tracing::warn!(%error, "mail queue unreadable");
                    0
                }
            };
            if delivered == 0 {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
        }
    }

    /// Sends one batch of due mail; answers how many were handled. Mail still undelivered when
    /// its link has expired is dropped: it carries a secret that is no use to anyone any more.
    async fn deliver_due(&self) -> Result<usize, sqlx::Error> {
        let now = self.clock.now();
        let due = mail_store::lease_due(&self.pool, now, LEASE, BATCH).await?;
        let handled = due.len();
        for mail in due {
            match self.send(&mail).await {
                Ok(()) => {
                    mail_store::delete(&self.pool, mail.tenant_id, mail.id).await?;
                    tracing::info!(tenant.id = %mail.tenant_id, mail.id = %mail.id, "mail delivered");
                }
                Err(error) if now - mail.created_at > GIVE_UP_AFTER => {
                    mail_store::delete(&self.pool, mail.tenant_id, mail.id).await?;
                    tracing::error!(tenant.id = %mail.tenant_id, mail.id = %mail.id, %error, "mail dropped: undeliverable until its link expired");
                }
                Err(error) => {
                    let backoff = 2_i64.saturating_pow(u32::try_from(mail.attempts.clamp(0, 12)).unwrap_or(12));
                    let next_attempt_at = now + chrono::Duration::seconds(backoff.min(MAX_BACKOFF_SECONDS));
                    tracing::warn!(tenant.id = %mail.tenant_id, mail.id = %mail.id, %error, "mail not delivered; will retry");
                    mail_store::postpone(&self.pool, mail.tenant_id, mail.id, next_attempt_at, &error).await?;
                }
            }
        }
        Ok(handled)
    }

    async fn send(&self, mail: &QueuedMail) -> Result<(), String> {
        let recipient: Mailbox = mail.recipient.parse().map_err(|error| format!("recipient: {error}"))?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(recipient)
            .subject(mail.subject.as_str())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|error| error.to_string())?;
        self.transport.send(message).await.map(|_| ()).map_err(|error| error.to_string())
    }
}
