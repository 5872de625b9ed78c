//! Opaque secrets handed to people: refresh tokens, reset and confirmation links, API keys.
//! Each carries its tenant in clear, so it can be looked up inside that tenant's transaction,
//! and 256 random bits, of which only a SHA-256 is stored: a database dump reveals none of them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use causerie_core::{Error, TenantId};
use sha2::{Digest, Sha256};

pub const REFRESH_TOKEN: &str = "czr_";
pub const PASSWORD_RESET: &str = "czp_";
pub const EMAIL_CHANGE: &str = "cze_";
pub const API_KEY: &str = "cz_";

pub struct Secret {
    pub text: String,
    pub hash: Vec<u8>,
}

pub fn hash(text: &str) -> Vec<u8> {
    Sha256::digest(text.as_bytes()).to_vec()
}

/// Whether `left` and `right` hold the same bytes. Every byte is compared, whatever the first
/// difference: no timing tells how much matched.
pub fn same(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len() && left.iter().zip(right).fold(0_u8, |acc, (left, right)| acc | (left ^ right)) == 0
}

pub fn random_bytes<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0_u8; N];
    getrandom::fill(&mut bytes).map_err(|error| Error::internal(error.to_string()))?;
    Ok(bytes)
}

/// A new secret of kind `prefix` for `tenant_id`.
pub fn generate(prefix: &str, tenant_id: TenantId) -> Result<Secret, Error> {
    let random = random_bytes::<32>()?;
    let text = format!("{prefix}{}_{}", tenant_id.as_uuid().simple(), URL_SAFE_NO_PAD.encode(random));
    let hash = hash(&text);
    Ok(Secret { text, hash })
}

/// The tenant and hash of a secret of kind `prefix`; `None` for anything else.
pub fn parse(prefix: &str, text: &str) -> Option<(TenantId, Vec<u8>)> {
    let rest = text.trim().strip_prefix(prefix)?;
    let (tenant, random) = rest.split_once('_')?;
    if tenant.len() != 32 || random.len() != 43 {
        return None;
    }
    let tenant_id = uuid::Uuid::try_parse(tenant).ok()?;
    Some((tenant_id.into(), hash(text.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_names_its_tenant_and_kind() {
        let tenant_id = TenantId::new();
        let secret = generate(REFRESH_TOKEN, tenant_id).unwrap();
        assert_eq!(parse(REFRESH_TOKEN, &secret.text), Some((tenant_id, secret.hash.clone())));
        assert_eq!(parse(PASSWORD_RESET, &secret.text), None);
        assert_eq!(parse(API_KEY, &secret.text), None, "a refresh token is not an API key");
        assert_eq!(parse(REFRESH_TOKEN, "czr_nonsense"), None);
        assert_ne!(generate(REFRESH_TOKEN, tenant_id).unwrap().text, secret.text);
    }
}
