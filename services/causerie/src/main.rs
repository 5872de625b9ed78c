//! `causerie`: the one binary. `run` starts any subset of the six services in this process,
//! `migrate` prepares their databases (for a deployment job), `demo` creates a demo tenant
//! through a running gateway's admin API.

mod demo;

use anyhow::Context;
use causerie_runtime::{Config, Service};
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(version, about = "Causerie: a GDPR-first chatbot platform")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs services in this process until SIGTERM or SIGINT.
    Run {
        /// `all`, or a comma-separated list of gateway, accounts, assistant, live-chat,
        /// forms-analytics, retention.
        #[arg(long, default_value = "all")]
        services: String,
    },
    /// Creates and migrates the databases of the services, then exits.
    Migrate {
        #[arg(long, default_value = "all")]
        services: String,
    },
    /// Creates the demo tenant through the running gateway's admin API and prints how to use it.
    Demo,
    /// Times argon2id password hashing at the service's parameters on one core, and prints the mean
    /// milliseconds per hash: the baseline of the sign-in benchmark (`bench/identity.sh`).
    HashCost {
        #[arg(long, default_value_t = 20)]
        samples: u32,
    },
}

/// The services asked for, each once, in the order given.
fn parse_services(list: &str) -> anyhow::Result<Vec<Service>> {
    if list.trim() == "all" {
        return Ok(Service::ALL.to_vec());
    }
    let mut services = Vec::new();
    for name in list.split(',') {
        let service: Service = name.trim().parse()?;
        if !services.contains(&service) {
            services.push(service);
        }
    }
    Ok(services)
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::from_env().context("configuration")?;
    let _telemetry = causerie_runtime::telemetry::init(&config, "causerie").context("telemetry")?;
    match cli.command {
        Command::Run { services } => run(config, &parse_services(&services)?).await,
        Command::Migrate { services } => migrate(&config, &parse_services(&services)?).await,
        Command::Demo => demo::create_demo_tenant(&config).await,
        Command::HashCost { samples } => hash_cost(samples),
    }
}

async fn migrate(config: &Config, services: &[Service]) -> anyhow::Result<()> {
    for service in services {
        match service {
            Service::Gateway => continue,
            Service::Accounts => causerie_accounts::migrate(config).await,
            Service::Assistant => causerie_assistant::migrate(config).await,
            Service::LiveChat => causerie_live_chat::migrate(config).await,
            Service::FormsAnalytics => causerie_forms_analytics::migrate(config).await,
            Service::Retention => causerie_retention::migrate(config).await,
        }
        .with_context(|| format!("migrating {service}"))?;
        tracing::info!(%service, "migrated");
    }
    Ok(())
}

async fn bind(address: std::net::SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).await.with_context(|| format!("binding the {what} listener on {address}"))
}

async fn run(config: Config, services: &[Service]) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    let mut running = JoinSet::new();
    // Every listener is bound before anything starts, so a taken port fails the start at once.
    let mut bound = Vec::new();
    for service in services {
        let listeners = match service {
            Service::Gateway => Listeners::Gateway(causerie_gateway::Listeners {
                public: bind(config.public_addr, "public").await?,
                admin: bind(config.admin_addr, "admin").await?,
            }),
            backend => Listeners::Backend(bind(config.service_addr(*backend), backend.name()).await?),
        };
        bound.push((*service, listeners));
    }
    for (service, listeners) in bound {
        let config = config.clone();
        let shutdown = shutdown.clone();
        running.spawn(async move {
            let outcome = start(service, config, listeners, shutdown).await;
            (service, outcome)
        });
    }
    let signals = tokio::spawn(causerie_runtime::shutdown::cancel_on_signal(shutdown.clone()));
    let mut failure = None;
    while let Some(joined) = running.join_next().await {
        let (service, outcome) = match joined {
            Ok(finished) => finished,
            Err(panicked) => {
                tracing::error!(error = %panicked, "a service task panicked, stopping the others");
                failure.get_or_insert(anyhow::Error::from(panicked).context("a service task panicked"));
                shutdown.cancel();
                continue;
            }
        };
        match outcome {
            Ok(()) => tracing::info!(%service, "stopped"),
            Err(error) => {
                tracing::error!(%service, error = format!("{error:#}"), "service failed, stopping the others");
                failure.get_or_insert(error.context(format!("{service} failed")));
                shutdown.cancel();
            }
        }
    }
    shutdown.cancel();
    signals.await.context("the signal handler panicked")?;
    failure.map_or(Ok(()), Err)
}

enum Listeners {
    Gateway(causerie_gateway::Listeners),
    Backend(TcpListener),
}

async fn start(
    service: Service,
    config: Config,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    match (service, listeners) {
        (Service::Gateway, Listeners::Gateway(listeners)) => {
            Ok(causerie_gateway::run(config, listeners, shutdown).await?)
        }
        (Service::Accounts, Listeners::Backend(listener)) => {
            Ok(causerie_accounts::run(config, listener, shutdown).await?)
        }
        (Service::Assistant, Listeners::Backend(listener)) => {
            Ok(causerie_assistant::run(config, listener, shutdown).await?)
        }
        (Service::LiveChat, Listeners::Backend(listener)) => {
            Ok(causerie_live_chat::run(config, listener, shutdown).await?)
        }
        (Service::FormsAnalytics, Listeners::Backend(listener)) => {
            Ok(causerie_forms_analytics::run(config, listener, shutdown).await?)
        }
        (Service::Retention, Listeners::Backend(listener)) => {
            Ok(causerie_retention::run(config, listener, shutdown).await?)
        }
        (service, _) => anyhow::bail!("{service} was given the wrong listeners"),
    }
}

fn hash_cost(samples: u32) -> anyhow::Result<()> {
    anyhow::ensure!(samples > 0, "--samples must be at least 1");
    causerie_accounts::hash_password_now("warm-up passphrase")?;
    let started = std::time::Instant::now();
    for sample in 0..samples {
        causerie_accounts::hash_password_now(&format!("benchmark passphrase {sample}"))?;
    }
    let mean = started.elapsed().as_secs_f64() * 1000.0 / f64::from(samples);
    println!("{mean:.2}");
    Ok(())
}
