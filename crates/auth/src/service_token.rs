//! The token a service shows on the calls it makes for callers who have no token of their own (a
//! visitor's widget, someone signing in): asked of accounts with the secret the services share,
//! kept, and asked for again once half its lifetime has passed (DESIGN.md, identity between
//! services).

use std::sync::{Arc, RwLock};

use causerie_core::{Clock, Error};
use causerie_proto::accounts::v1::IssueServiceTokenRequest;
use causerie_proto::accounts::v1::accounts_service_client::AccountsServiceClient;
use chrono::{DateTime, Utc};
use tonic::transport::Channel;

/// How long a request for a token may take before the call that needed it fails.
const ASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Bounds on how long a token is kept, whatever lifetime accounts gives it.
const MIN_KEPT_SECONDS: i64 = 10;
const MAX_KEPT_SECONDS: i64 = 3600;

#[derive(Clone)]
pub struct ServiceToken {
    inner: Arc<Inner>,
}

struct Inner {
    accounts: AccountsServiceClient<Channel>,
    service: &'static str,
    secret: String,
    clock: Clock,
    current: RwLock<Option<Held>>,
    /// One request to accounts at a time: callers that find the token stale wait for it.
    renewing: tokio::sync::Mutex<()>,
}

struct Held {
    token: Arc<str>,
    renew_after: DateTime<Utc>,
}

impl ServiceToken {
    /// Nothing is asked of accounts until the first call needs a token.
    pub fn new(accounts: AccountsServiceClient<Channel>, service: &'static str, secret: String, clock: Clock) -> Self {
        Self {
            inner: Arc::new(Inner {
                accounts,
                service,
                secret,
                clock,
                current: RwLock::new(None),
                renewing: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The token to show, renewed first when half its lifetime has passed.
    pub async fn get(&self) -> Result<Arc<str>, Error> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let _renewing = self.inner.renewing.lock().await;
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let request =
            IssueServiceTokenRequest { service: self.inner.service.to_owned(), secret: self.inner.secret.clone() };
        let asked = tokio::time::timeout(ASK_TIMEOUT, self.inner.accounts.clone().issue_service_token(request))
            .await
            .map_err(|_| Error::unavailable("accounts did not give a service token in time"))?;
        let issued = asked.map_err(|status| {
            tracing::error!(%status, "accounts did not give this service a service token");
            Error::unavailable(format!("no service token: {}", status.message()))
        })?;
        let issued = issued.into_inner();
        let token: Arc<str> = Arc::from(issued.access_token);
        // Whatever accounts says of its lifetime, the token is asked for again within these bounds.
        let kept_for = (issued.expires_in / 2).clamp(MIN_KEPT_SECONDS, MAX_KEPT_SECONDS);
        let renew_after = self.inner.clock.now() + chrono::Duration::seconds(kept_for);
        if let Ok(mut current) = self.inner.current.write() {
            *current = Some(Held { token: Arc::clone(&token), renew_after });
        }
        Ok(token)
    }

    fn fresh(&self) -> Option<Arc<str>> {
        let current = self.inner.current.read().ok()?;
        let held = current.as_ref()?;
        (self.inner.clock.now() < held.renew_after).then(|| Arc::clone(&held.token))
    }
}
