//! The gateway: the only door in. It serves the public REST API and the widget API on one
//! listener and the staff-only admin API on another, verifies every caller, limits bodies and
//! rates, and turns each request into gRPC calls to the services that own the data.

mod caller;
mod http;
mod state;
mod upstream;
mod widget_projects;

use std::sync::Arc;

use causerie_auth::ServiceToken;
use causerie_bus::{Bus, Topology};
use causerie_proto::accounts::v1::accounts_service_client::AccountsServiceClient;
use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
use causerie_proto::assistant::v1::knowledge_base_service_client::KnowledgeBaseServiceClient;
use causerie_proto::assistant::v1::notification_service_client::NotificationServiceClient;
use causerie_proto::assistant::v1::scenario_service_client::ScenarioServiceClient;
use causerie_runtime::{Config, Service};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::http::openapi::ApiDoc;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("redis: {0}")]
    Redis(#[from] causerie_runtime::RedisError),
    #[error("accounts URL: {0}")]
    AccountsUrl(#[from] tonic::transport::Error),
    #[error("configuration: {0}")]
    Config(#[from] causerie_runtime::ConfigError),
    #[error("serving: {0}")]
    Serve(#[from] std::io::Error),
}

/// The gateway's two listeners: public (REST and widget) and admin (staff only).
pub struct Listeners {
    pub public: TcpListener,
    pub admin: TcpListener,
}

pub async fn run(config: Config, listeners: Listeners, shutdown: CancellationToken) -> Result<(), StartError> {
    causerie_runtime::server::run_tracked(shutdown.clone(), async |tasks| {
        serve(&config, listeners, &tasks, shutdown).await
    })
    .await
}

async fn serve(
    config: &Config,
    listeners: Listeners,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) -> Result<(), StartError> {
    let clock =
        causerie_runtime::clock_for(config, causerie_runtime::Service::Gateway, tasks, shutdown.clone()).await?;
    let redis_client = redis::Client::open(config.redis_url.as_str())?;
    let redis = redis::aio::ConnectionManager::new(redis_client).await?;
    let accounts_channel =
        tonic::transport::Endpoint::from_shared(config.service_url(Service::Accounts))?.connect_lazy();
    let assistant_channel =
        tonic::transport::Endpoint::from_shared(config.service_url(Service::Assistant))?.connect_lazy();
    let verifier = causerie_auth::verifier_from_accounts(
        config.service_url(Service::Accounts),
        clock.clone(),
        tasks,
        shutdown.clone(),
    );
    // The gateway only listens on the bus: accounts tells it when a cached widget project changes.
    let bus = Bus::start(&config.amqp_url, "gateway", Topology::for_config(config), tasks, shutdown.clone());
    let privacy = PrivacyServiceClient::new(accounts_channel.clone());
    let accounts = AccountsServiceClient::new(accounts_channel.clone());
    let service_token = ServiceToken::new(
        accounts.clone(),
        Service::Gateway.name(),
        config.service_secret()?.to_owned(),
        clock.clone(),
    );
    let state = AppState::new(state::Shared {
        api_keys: caller::api_keys::ApiKeyExchange::new(
            accounts.clone(),
            service_token.clone(),
            Arc::clone(&verifier),
            clock.clone(),
        ),
        accounts,
        widget_projects: widget_projects::WidgetProjects::start(
            privacy.clone(),
            service_token.clone(),
            bus,
            tasks,
            shutdown.clone(),
        ),
        service_token,
        privacy,
        // An answer's audio is WAV, larger than gRPC's default 4 MiB for a long answer.
        assistant: KnowledgeBaseServiceClient::new(assistant_channel.clone()).max_decoding_message_size(64 << 20),
        notifications: NotificationServiceClient::new(assistant_channel.clone()),
        scenarios: ScenarioServiceClient::new(assistant_channel),
        accounts_health: tonic_health::pb::health_client::HealthClient::new(accounts_channel),
        verifier,
        widget_limits: state::WidgetLimits {
            per_visitor_per_minute: config.widget_visitor_rate_limit_per_minute,
            per_address_per_minute: config.widget_address_rate_limit_per_minute,
        },
        rate_limiter: caller::rate_limit::RateLimiter::start(
            redis.clone(),
            &config.namespace,
            config.rate_limit_per_minute,
            clock.clone(),
            tasks,
            shutdown.clone(),
        ),
        access: caller::access::AccessDirectory::start(
            redis.clone(),
            &config.namespace,
            clock.clone(),
            tasks,
            shutdown.clone(),
        )
        .await?,
        redis,
        trusted_proxies: config.trusted_proxies.clone(),
        clock,
    });
    let (public_router, admin_router) = http::routers(state);
    let public = causerie_runtime::serve(listeners.public, public_router, "public", shutdown.clone());
    let admin = causerie_runtime::serve(listeners.admin, admin_router, "admin", shutdown.clone());
    // If one listener fails, the other stops too: a gateway half up is worse than one down.
    tokio::try_join!(public, admin)?;
    Ok(())
}
