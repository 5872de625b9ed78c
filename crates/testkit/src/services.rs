//! Some of the platform's services in the test process, each on a port the system picked, against
//! the real PostgreSQL, Redis and RabbitMQ under the configuration's namespace. A service's own
//! tests start it with only the services it calls; the end-to-end tests start all six.
//!
//! The harness knows no service crate: each test says how to run the services it starts, so a
//! service's tests can use it without a dependency cycle.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use causerie_proto::accounts::v1::accounts_service_client::AccountsServiceClient;
use causerie_proto::accounts::v1::{IssueServiceTokenRequest, StaffLoginRequest};
use causerie_runtime::{Config, Service};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::SmtpSink;

type Running = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;
type BackendRun = Box<dyn FnOnce(Config, TcpListener, CancellationToken) -> Running + Send>;
type GatewayRun = Box<dyn FnOnce(Config, GatewayListeners, CancellationToken) -> Running + Send>;

/// The gateway's two listeners.
pub struct GatewayListeners {
    pub public: TcpListener,
    pub admin: TcpListener,
}

/// Which services to start, and how each runs.
pub struct TestServices {
    config: Config,
    backends: Vec<(Service, BackendRun)>,
    gateway: Option<GatewayRun>,
}

impl TestServices {
    /// Nothing started yet, under `config` (usually `test_config()`).
    pub fn new(config: Config) -> Self {
        Self { config, backends: Vec::new(), gateway: None }
    }

    /// Starts `service` with `run`, its crate's `run`.
    pub fn with<F, Fut, E>(mut self, service: Service, run: F) -> Self
    where
        F: FnOnce(Config, TcpListener, CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<anyhow::Error>,
    {
        self.backends.push((
            service,
            Box::new(move |config, listener, shutdown| {
                let running = run(config, listener, shutdown);
                Box::pin(async move { running.await.map_err(Into::into) })
            }),
        ));
        self
    }

    /// Starts the gateway with `run`, on a public and an admin listener.
    pub fn with_gateway<F, Fut, E>(mut self, run: F) -> Self
    where
        F: FnOnce(Config, GatewayListeners, CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<anyhow::Error>,
    {
        self.gateway = Some(Box::new(move |config, listeners, shutdown| {
            let running = run(config, listeners, shutdown);
            Box::pin(async move { running.await.map_err(Into::into) })
        }));
        self
    }

    /// Binds every listener first (so each service knows where the others are), starts the
    /// services, and waits until each reports ready. Mail goes to an SMTP sink of its own. What
    /// ended test processes left behind is dropped first.
    pub async fn start(self) -> anyhow::Result<RunningServices> {
        crate::init_test_logs();
        let Self { mut config, backends, gateway } = self;
        crate::reap_stale_test_namespaces(&config).await.context("reaping stale test namespaces")?;
        let mail = Arc::new(SmtpSink::start().await?);
        config.smtp_url.clone_from(&mail.url);
        let mut ready_urls = Vec::new();
        let mut bound = Vec::new();
        for (service, run) in backends {
            let listener = bind_any().await?;
            let address = listener.local_addr()?;
            config.set_service_addr(service, address);
            config.set_service_url(service, format!("http://{address}"));
            ready_urls.push(format!("http://{address}/readyz"));
            bound.push((service, listener, run));
        }
        let gateway = match gateway {
            Some(run) => {
                let listeners = GatewayListeners { public: bind_any().await?, admin: bind_any().await? };
                config.public_addr = listeners.public.local_addr()?;
                config.admin_addr = listeners.admin.local_addr()?;
                ready_urls.push(format!("http://{}/readyz", config.public_addr));
                ready_urls.push(format!("http://{}/readyz", config.admin_addr));
                Some((listeners, run))
            }
            None => None,
        };
        let shutdown = CancellationToken::new();
        let mut services = JoinSet::new();
        for (service, listener, run) in bound {
            let running = run(config.clone(), listener, shutdown.clone());
            services.spawn(async move { (service, running.await) });
        }
        if let Some((listeners, run)) = gateway {
            let running = run(config.clone(), listeners, shutdown.clone());
            services.spawn(async move { (Service::Gateway, running.await) });
        }
        let mut running =
            RunningServices { config, http: causerie_runtime::tls::http_client().build()?, mail, shutdown, services };
        running.wait_until_ready(&ready_urls).await?;
        Ok(running)
    }
}

async fn bind_any() -> anyhow::Result<TcpListener> {
    Ok(TcpListener::bind("127.0.0.1:0").await?)
}

/// Services started by `TestServices::start`, until `stop`.
pub struct RunningServices {
    /// The configuration every service was given: the addresses of those started are the real ones.
    pub config: Config,
    pub http: reqwest::Client,
    /// Every mail the services send lands here.
    pub mail: Arc<SmtpSink>,
    shutdown: CancellationToken,
    services: JoinSet<(Service, anyhow::Result<()>)>,
}

impl RunningServices {
    /// A gRPC channel to a started backend service.
    pub async fn channel(&self, service: Service) -> anyhow::Result<tonic::transport::Channel> {
        let url = self.config.service_url(service);
        let endpoint = tonic::transport::Endpoint::from_shared(url.clone())?;
        endpoint.connect().await.with_context(|| format!("connecting to {service} at {url}"))
    }

    /// A staff access token for the bootstrap account, from accounts (which must be started),
    /// asked for as the gateway does: sign-ins are the gateway's to pass on.
    pub async fn staff_token(&self) -> anyhow::Result<String> {
        let gateway_token = self.service_token(Service::Gateway).await?;
        let mut accounts = AccountsServiceClient::new(self.channel(Service::Accounts).await?);
        let request = StaffLoginRequest {
            email: crate::TEST_STAFF_EMAIL.to_owned(),
            password: crate::TEST_STAFF_PASSWORD.to_owned(),
            totp_code: None,
        };
        let request = causerie_auth::transport::with_bearer(tonic::Request::new(request), &gateway_token)?;
        Ok(accounts.staff_login(request).await.context("staff sign-in")?.into_inner().access_token)
    }

    /// A service token for `service`, from accounts (which must be started).
    pub async fn service_token(&self, service: Service) -> anyhow::Result<String> {
        let mut accounts = AccountsServiceClient::new(self.channel(Service::Accounts).await?);
        let request = IssueServiceTokenRequest {
            service: service.name().to_owned(),
            secret: self.config.service_secret()?.to_owned(),
        };
        Ok(accounts.issue_service_token(request).await?.into_inner().access_token)
    }

    /// Waits for every listener's readiness, and fails at once with its error when a service
    /// stops before it is ready (a migration refused, a port taken).
    async fn wait_until_ready(&mut self, urls: &[String]) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        for url in urls {
            loop {
                let ready = matches!(self.http.get(url).send().await, Ok(response) if response.status().is_success());
                if ready {
                    break;
                }
                if let Some(stopped) = self.services.try_join_next() {
                    let (service, outcome) = stopped?;
                    let error = outcome.err().unwrap_or_else(|| anyhow::anyhow!("stopped without an error"));
                    return Err(error.context(format!("{service} stopped while the services were starting")));
                }
                if tokio::time::Instant::now() > deadline {
                    bail!("{url} not ready within 60 s");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Stops every service, reports the first that failed, and drops the namespace's databases
    /// and bus.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let mut failure = None;
        while let Some(joined) = self.services.join_next().await {
            let (service, outcome) = joined?;
            if let Err(error) = outcome {
                failure.get_or_insert(error.context(format!("{service} failed")));
            }
        }
        crate::drop_test_databases(&self.config).await?;
        crate::remove_test_bus(&self.config, &[]).await?;
        failure.map_or(Ok(()), Err)
    }
}
