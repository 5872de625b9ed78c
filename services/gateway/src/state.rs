//! What every gateway handler shares.

use std::sync::Arc;

use causerie_auth::Verifier;
use causerie_auth::transport::HasVerifier;
use causerie_proto::accounts::v1::accounts_service_client::AccountsServiceClient;
use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
use causerie_proto::assistant::v1::knowledge_base_service_client::KnowledgeBaseServiceClient;
use causerie_proto::assistant::v1::notification_service_client::NotificationServiceClient;
use causerie_proto::assistant::v1::scenario_service_client::ScenarioServiceClient;
use tonic::transport::Channel;

use crate::caller::access::AccessDirectory;
use crate::caller::api_keys::ApiKeyExchange;
use crate::caller::rate_limit::RateLimiter;

/// Cloned for every request by axum, so it is one `Arc`: the clients inside are costly to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub accounts: AccountsServiceClient<Channel>,
    pub privacy: PrivacyServiceClient<Channel>,
    pub assistant: KnowledgeBaseServiceClient<Channel>,
    pub notifications: NotificationServiceClient<Channel>,
    pub scenarios: ScenarioServiceClient<Channel>,
    pub widget_projects: crate::widget_projects::WidgetProjects,
    /// Shown on the calls made for callers who have no token of their own (`upstream::for_service`).
    pub service_token: causerie_auth::ServiceToken,
    pub accounts_health: tonic_health::pb::health_client::HealthClient<Channel>,
    pub verifier: Arc<Verifier>,
    pub rate_limiter: RateLimiter,
    pub widget_limits: WidgetLimits,
    pub access: AccessDirectory,
    pub api_keys: ApiKeyExchange,
    pub redis: redis::aio::ConnectionManager,
    /// `CAUSERIE_TRUSTED_PROXIES`: whose `X-Forwarded-For` names the client (`ClientAddress`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The shared test clock in test mode, which `POST /admin/v1/test-clock` moves.
    pub clock: causerie_core::Clock,
}

/// Widget requests a minute, per visitor and per source address (`CAUSERIE_WIDGET_*`).
#[derive(Clone, Copy)]
pub struct WidgetLimits {
    pub per_visitor_per_minute: u64,
    pub per_address_per_minute: u64,
}

impl HasVerifier for AppState {
    fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}
