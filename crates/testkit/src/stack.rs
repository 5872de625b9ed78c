//! The whole platform in the test process, each service on a port the system picked, talking
//! to the real PostgreSQL, Redis and RabbitMQ under a namespace of its own.

use std::time::Duration;

use anyhow::{Context, bail};
use causerie_runtime::{Config, Service};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub struct TestStack {
    pub config: Config,
    pub public_url: String,
    pub admin_url: String,
    pub http: reqwest::Client,
    /// Every mail the platform sends lands here.
    pub mail: super::SmtpSink,
    shutdown: CancellationToken,
    services: JoinSet<(Service, anyhow::Result<()>)>,
}

async fn bind_any() -> anyhow::Result<TcpListener> {
    Ok(TcpListener::bind("127.0.0.1:0").await?)
}

impl TestStack {
    /// Starts all six services and waits until each reports ready.
    pub async fn start() -> anyhow::Result<Self> {
        let config = super::test_config()?;
        super::reap_stale_test_namespaces(&config).await.context("reaping stale test namespaces")?;
        Self::start_with(config).await
    }

    pub async fn start_with(mut config: Config) -> anyhow::Result<Self> {
        super::init_test_logs();
        let mail = super::SmtpSink::start().await?;
        config.smtp_url.clone_from(&mail.url);
        let public = bind_any().await?;
        let admin = bind_any().await?;
        config.public_addr = public.local_addr()?;
        config.admin_addr = admin.local_addr()?;
        let mut backends = Vec::new();
        for service in Service::ALL.into_iter().filter(|service| *service != Service::Gateway) {
            let listener = bind_any().await?;
            let address = listener.local_addr()?;
            config.set_service_addr(service, address);
            config.set_service_url(service, format!("http://{address}"));
            backends.push((service, listener));
        }
        let shutdown = CancellationToken::new();
        let mut services = JoinSet::new();
        for (service, listener) in backends {
            let (config, shutdown) = (config.clone(), shutdown.clone());
            services.spawn(async move {
                let outcome = match service {
                    Service::Accounts => {
                        causerie_accounts::run(config, listener, shutdown).await.map_err(anyhow::Error::from)
                    }
                    Service::Assistant => {
                        causerie_assistant::run(config, listener, shutdown).await.map_err(anyhow::Error::from)
                    }
                    Service::LiveChat => {
                        causerie_live_chat::run(config, listener, shutdown).await.map_err(anyhow::Error::from)
                    }
                    Service::FormsAnalytics => {
                        causerie_forms_analytics::run(config, listener, shutdown).await.map_err(anyhow::Error::from)
                    }
                    Service::Retention => {
                        causerie_retention::run(config, listener, shutdown).await.map_err(anyhow::Error::from)
                    }
                    Service::Gateway => Ok(()),
                };
                (service, outcome)
            });
        }
        let (gateway_config, gateway_shutdown) = (config.clone(), shutdown.clone());
        services.spawn(async move {
            let listeners = causerie_gateway::Listeners { public, admin };
            let outcome = causerie_gateway::run(gateway_config, listeners, gateway_shutdown).await;
            (Service::Gateway, outcome.map_err(anyhow::Error::from))
        });
        let mut stack = Self {
            public_url: format!("http://{}", config.public_addr),
            admin_url: format!("http://{}", config.admin_addr),
            http: reqwest::Client::new(),
            mail,
            config,
            shutdown,
            services,
        };
        stack.wait_until_ready().await?;
        Ok(stack)
    }

    /// Waits for every listener's readiness, and fails at once with its error when a service
    /// stops before it is ready (a migration refused, a port taken).
    async fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        let mut urls = vec![format!("{}/readyz", self.public_url), format!("{}/readyz", self.admin_url)];
        for service in Service::ALL.into_iter().filter(|service| *service != Service::Gateway) {
            urls.push(format!("{}/readyz", self.config.service_url(service)));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        for url in urls {
            loop {
                let ready = matches!(self.http.get(&url).send().await, Ok(response) if response.status().is_success());
                if ready {
                    break;
                }
                if let Some(stopped) = self.services.try_join_next() {
                    let (service, outcome) = stopped?;
                    let error = outcome.err().unwrap_or_else(|| anyhow::anyhow!("stopped without an error"));
                    return Err(error.context(format!("{service} stopped while the stack was starting")));
                }
                if tokio::time::Instant::now() > deadline {
                    bail!("{url} not ready within 60 s");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// Stops every service, reports the first that failed, and drops the namespace's databases.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        let mut failure = None;
        while let Some(joined) = self.services.join_next().await {
            let (service, outcome) = joined?;
            if let Err(error) = outcome {
                failure.get_or_insert(error.context(format!("{service} failed")));
            }
        }
        super::drop_test_databases(&self.config).await?;
        super::remove_test_bus(&self.config, &[]).await?;
        failure.map_or(Ok(()), Err)
    }

    /// A staff access token from the bootstrap account.
    pub async fn staff_token(&self) -> anyhow::Result<String> {
        let response: serde_json::Value = self
            .http
            .post(format!("{}/admin/v1/auth/login", self.admin_url))
            .json(&serde_json::json!({"email": super::TEST_STAFF_EMAIL, "password": super::TEST_STAFF_PASSWORD}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        response["access_token"].as_str().map(str::to_owned).context("no access token")
    }
}
