//! The whole platform for the end-to-end tests: all six services in the test process, on ports
//! the system picked, under a namespace of their own.
//!
//! Most tests share one stack per test binary (`TestStack::shared`), kept apart by tenants of
//! their own and by a source address of their own. A test that moves the clock, changes the
//! configuration, or stops or cuts something starts a stack of its own (`TestStack::start`).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use causerie_runtime::{Config, Service};
use causerie_testkit::{RunningServices, SmtpSink, TestServices};

pub struct TestStack {
    pub config: Config,
    pub public_url: String,
    pub admin_url: String,
    /// This test's client. Its requests come from `source_address`.
    pub http: reqwest::Client,
    /// An address of 127.0.0.0/8 of this handle's own, so that what the platform counts per
    /// address (failed sign-ins, reset requests) counts one test's requests only.
    pub source_address: IpAddr,
    /// Every mail the platform sends lands here; tests tell theirs apart by recipient.
    pub mail: Arc<SmtpSink>,
    /// `None` for the shared stack, which lives as long as the test process.
    own: Option<RunningServices>,
}

/// What a handle on the shared stack needs: the stack itself runs on a runtime of its own.
struct SharedStack {
    config: Config,
    mail: Arc<SmtpSink>,
}

/// All six services, each with its crate's `run`.
pub fn platform(config: Config) -> TestServices {
    TestServices::new(config)
        .with(Service::Accounts, causerie_accounts::run)
        .with(Service::Assistant, causerie_assistant::run)
        .with(Service::LiveChat, causerie_live_chat::run)
        .with(Service::FormsAnalytics, causerie_forms_analytics::run)
        .with(Service::Retention, causerie_retention::run)
        .with_gateway(|config, listeners: causerie_testkit::GatewayListeners, shutdown| {
            let listeners = causerie_gateway::Listeners { public: listeners.public, admin: listeners.admin };
            causerie_gateway::run(config, listeners, shutdown)
        })
}

impl TestStack {
    /// The stack every test of this binary shares, started by the first test that asks, on a
    /// runtime and thread of its own, so that it outlives the test that started it. It is never
    /// stopped: the next test process drops its databases and queues (their namespace names this
    /// process, which has ended by then).
    pub fn shared() -> anyhow::Result<Self> {
        static SHARED: OnceLock<Result<SharedStack, String>> = OnceLock::new();
        let shared = SHARED.get_or_init(start_shared).as_ref().map_err(|error| anyhow::anyhow!("{error}"))?;
        Self::handle(shared.config.clone(), Arc::clone(&shared.mail), None)
    }

    /// A stack of this test's own, in a fresh namespace.
    pub async fn start() -> anyhow::Result<Self> {
        let config = causerie_testkit::test_config()?;
        Self::start_with(config).await
    }

    /// A stack of this test's own, with `config` (from `causerie_testkit::test_config`).
    pub async fn start_with(config: Config) -> anyhow::Result<Self> {
        let running = platform(config).start().await?;
        let (config, mail) = (running.config.clone(), Arc::clone(&running.mail));
        Self::handle(config, mail, Some(running))
    }

    fn handle(config: Config, mail: Arc<SmtpSink>, own: Option<RunningServices>) -> anyhow::Result<Self> {
        let random = uuid::Uuid::new_v4().into_bytes();
        let source_address = IpAddr::V4(Ipv4Addr::new(127, 1 + random[0] % 254, random[1], 1 + random[2] % 254));
        let http = causerie_runtime::tls::http_client().local_address(source_address).build()?;
        Ok(Self {
            public_url: format!("http://{}", config.public_addr),
            admin_url: format!("http://{}", config.admin_addr),
            config,
            http,
            source_address,
            mail,
            own,
        })
    }

    /// Stops a stack of the test's own and drops its namespace; the shared stack goes on.
    pub async fn stop(self) -> anyhow::Result<()> {
        match self.own {
            Some(running) => running.stop().await,
            None => Ok(()),
        }
    }

    /// A staff access token from the bootstrap account.
    pub async fn staff_token(&self) -> anyhow::Result<String> {
        let response: serde_json::Value = self
            .http
            .post(format!("{}/admin/v1/auth/login", self.admin_url))
            .json(&serde_json::json!({
                "email": causerie_testkit::TEST_STAFF_EMAIL,
                "password": causerie_testkit::TEST_STAFF_PASSWORD,
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        response["access_token"].as_str().map(str::to_owned).context("no access token")
    }
}

/// Starts the shared stack on a thread that then keeps its runtime, and so the stack, running.
fn start_shared() -> Result<SharedStack, String> {
    let (started, outcome) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new().name("shared-test-stack".to_owned()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                let _ = started.send(Err(format!("no runtime for the shared stack: {error}")));
                return;
            }
        };
        runtime.block_on(async move {
            let stack = TestStack::start().await;
            let running = match stack {
                Ok(stack) => stack,
                Err(error) => {
                    let _ = started.send(Err(format!("the shared stack did not start: {error:#}")));
                    return;
                }
            };
            let _ = started.send(Ok(SharedStack { config: running.config.clone(), mail: Arc::clone(&running.mail) }));
            // `running` is never dropped: the services run on this runtime's workers until the
            // process ends.
            std::future::pending::<()>().await;
        });
    });
    if let Err(error) = thread {
        return Err(format!("no thread for the shared stack: {error}"));
    }
    outcome.recv().unwrap_or_else(|_| Err("the shared stack's thread ended before it started".to_owned()))
}
