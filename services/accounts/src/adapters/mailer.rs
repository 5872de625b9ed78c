//! Delivers the `outgoing_mail` outbox to the SMTP server: retries with backoff, and deletes each
//! message once the server has taken it.

use std::time::Duration;

use causerie_core::{Clock, Error};
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::store::mail::{self as mail_store, QueuedMail};

const BATCH: i64 = 20;
/// Longer than one batch can take to send (20 mails, 20 s of SMTP timeout each).
const LEASE: chrono::Duration = chrono::Duration::minutes(10);
/// The longest link a mail carries (an e-mail confirmation) lives 24 hours.
const GIVE_UP_AFTER: chrono::Duration = chrono::Duration::hours(24);
const IDLE_POLL: Duration = Duration::from_millis(500);
const MAX_BACKOFF_SECONDS: i64 = 3600;

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
