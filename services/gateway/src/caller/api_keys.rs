//! API keys at the door: an integrator's `Bearer cz_...` is exchanged once with accounts for a
//! short-lived token carrying the key's scopes, and the token is kept here until shortly before
//! it expires, so a busy integrator costs one accounts call per token lifetime. Revocation does
//! not wait for the expiry: the access directory refuses the key's tokens at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use causerie_auth::{Audience, Caller, ServiceToken, Verifier};
use causerie_core::{Clock, Error};
use causerie_proto::accounts::v1 as pb;
use causerie_proto::accounts::v1::accounts_service_client::AccountsServiceClient;
use tonic::transport::Channel;

use crate::upstream::for_service;

/// Exchanged tokens are renewed this long before they expire.
const RENEW_BEFORE: chrono::Duration = chrono::Duration::minutes(1);
const CACHE_CAPACITY: usize = 10_000;

pub const API_KEY_PREFIX: &str = "cz_";

#[derive(Clone)]
struct Exchanged {
    token: String,
    caller: Caller,
}

pub struct ApiKeyExchange {
    accounts: AccountsServiceClient<Channel>,
    /// Shown on the exchange, whose caller has only the key.
    service_token: ServiceToken,
    verifier: Arc<Verifier>,
    clock: Clock,
    /// Keyed by the key itself: it is in this process's memory either way, for the request.
    exchanged: Mutex<HashMap<String, Exchanged>>,
}

impl ApiKeyExchange {
    pub fn new(
        accounts: AccountsServiceClient<Channel>,
        service_token: ServiceToken,
        verifier: Arc<Verifier>,
        clock: Clock,
    ) -> Self {
        Self { accounts, service_token, verifier, clock, exchanged: Mutex::new(HashMap::new()) }
    }

    /// The token and caller for `key`, from the cache or from accounts.
    pub async fn exchange(&self, key: &str) -> Result<(String, Caller), Error> {
        let now = self.clock.now();
        if let Some(exchanged) = self.exchanged.lock().ok().and_then(|cache| cache.get(key).cloned())
            && exchanged.caller.expires_at() - RENEW_BEFORE > now
        {
            return Ok((exchanged.token, exchanged.caller));
        }
        let request =
            for_service(&self.service_token, pb::AuthenticateApiKeyRequest { key: key.to_owned() }, None).await?;
        let token = self.accounts.clone().authenticate_api_key(request).await?.into_inner().access_token;
        let caller = self.verifier.verify(&token, Audience::Tenant)?;
        if let Ok(mut cache) = self.exchanged.lock() {
            if cache.len() >= CACHE_CAPACITY {
                cache.clear();
            }
            cache.insert(key.to_owned(), Exchanged { token: token.clone(), caller: caller.clone() });
        }
        Ok((token, caller))
    }

    pub fn forget(&self, key: &str) {
        if let Ok(mut cache) = self.exchanged.lock() {
            cache.remove(key);
        }
    }
}
