//! Mail to people: written to the `outgoing_mail` outbox in the transaction that creates the link
//! it carries; `adapters::mailer` delivers it.

use causerie_core::{Error, TenantId};
use sqlx::PgConnection;

use crate::AppState;
use crate::store::mail::{self as mail_store, NewMail};

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
