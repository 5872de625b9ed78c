//! The id a widget is embedded with: `pk_` and the tenant and project ids, so any service finds
//! the project inside its tenant's transaction without any table readable across tenants.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::TenantId;

pub fn public_id(tenant_id: Uuid, project_id: Uuid) -> String {
    let mut bytes = [0_u8; 32];
    bytes[..16].copy_from_slice(tenant_id.as_bytes());
    bytes[16..].copy_from_slice(project_id.as_bytes());
    format!("pk_{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn parse_public_id(text: &str) -> Option<(TenantId, Uuid)> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim().strip_prefix("pk_")?).ok()?;
    let tenant = Uuid::from_slice(bytes.get(..16)?).ok()?;
    let project = Uuid::from_slice(bytes.get(16..32)?).ok()?;
    (bytes.len() == 32).then_some((tenant.into(), project))
}
