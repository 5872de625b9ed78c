//! Keeping a verifier's key set current by asking accounts for its JWKS: soon after start, then
//! periodically, and at once when a token names a key the verifier does not know yet.

use std::sync::Arc;
use std::time::Duration;

use causerie_core::Clock;
use causerie_proto::accounts::v1::GetJwksRequest;
use causerie_proto::accounts::v1::accounts_service_client::AccountsServiceClient;
use jsonwebtoken::jwk::JwkSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::Verifier;

/// How often a key set that has been fetched is fetched again.
const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// How soon to try again while accounts does not answer, and the least time between two fetches.
const RETRY_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("accounts URL: {0}")]
    Url(#[from] tonic::transport::Error),
    #[error("accounts answered: {0}")]
    Status(#[from] tonic::Status),
    #[error("accounts sent a key set that is not JWKS: {0}")]
    Jwks(#[from] serde_json::Error),
}

async fn fetch(client: &mut AccountsServiceClient<tonic::transport::Channel>) -> Result<JwkSet, RefreshError> {
    let response = client.get_jwks(GetJwksRequest {}).await?.into_inner();
    Ok(serde_json::from_str(&response.jwks_json)?)
}

/// A verifier for a service that does not sign tokens itself: it starts with no keys and is kept
/// in step with the key set of the accounts service at `accounts_url` by a task of `tasks`, until
/// `shutdown` fires.
pub fn verifier_from_accounts(
    accounts_url: String,
    clock: Clock,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) -> Arc<Verifier> {
    let verifier = Arc::new(Verifier::new(&JwkSet { keys: Vec::new() }, clock));
    tasks.spawn(refresh_keys_from_accounts(accounts_url, Arc::clone(&verifier), shutdown));
    verifier
}

/// Refreshes `verifier` from the accounts service at `accounts_url` until `shutdown` fires, and
/// at once whenever the verifier meets a key it does not know.
async fn refresh_keys_from_accounts(accounts_url: String, verifier: Arc<Verifier>, shutdown: CancellationToken) {
    let channel = match tonic::transport::Endpoint::from_shared(accounts_url) {
        Ok(endpoint) => endpoint.connect_lazy(),
        Err(error) => {
            tracing::error!(%error, "accounts URL is invalid; tokens cannot be verified");
            return;
        }
    };
    let mut client = AccountsServiceClient::new(channel);
    loop {
        let wait = match fetch(&mut client).await {
            Ok(jwks) => {
                verifier.replace_keys(&jwks);
                REFRESH_EVERY
            }
            Err(error) => {
                tracing::warn!(%error, "key set not refreshed");
                RETRY_EVERY
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(wait) => {}
            () = verifier.key_refresh_wanted() => tokio::time::sleep(RETRY_EVERY).await,
        }
    }
}
