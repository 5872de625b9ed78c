//! What retention does with the messages on its queue: each decoded, checked against its
//! envelope, and handed to the domain.

use causerie_bus::{Envelope, HandlerError, Message, MessageHandler};
use causerie_core::Clock;
use sqlx::PgConnection;

use crate::domain::tenants;

pub struct RetentionHandler {
    pub clock: Clock,
}

impl MessageHandler for RetentionHandler {
    async fn handle(&self, envelope: &Envelope, transaction: &mut PgConnection) -> Result<(), HandlerError> {
        match &envelope.message {
            Message::TenantCreatedV1(tenant) => {
                if tenant.tenant_id != envelope.tenant_id {
                    return Err(HandlerError::Permanent("payload names another tenant than the envelope".into()));
                }
                tenants::track(transaction, tenant, self.clock.now()).await?;
                tracing::info!(slug = %tenant.slug, "tenant tracked for retention");
                Ok(())
            }
            // Receipts of erasures, exports and sweeps are handled once retention sends the
            // requests (data-subject and sweep issues); until then nothing produces them.
            other => Err(HandlerError::Permanent(format!("retention does not handle {} yet", other.message_type()))),
        }
    }
}
