//! Closed-loop gRPC load, each call at the same concurrency for the same time, then latency
//! percentiles and rates:
//! - `consent` (bench/privacy.sh): accounts' gRPC health check (the floor of a round trip through
//!   the same server) and `CheckConsent`, and the ratio of their p99s;
//! - `assistant` (bench/assistant.sh): the assistant's health check, `Search` (the match alone,
//!   as a contributor tries it) and `Match` (the widget's: one match and one anonymous write), over
//!   questions read from a file, one a line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use causerie_proto::accounts::v1 as pb;
use causerie_proto::accounts::v1::accounts_service_client::AccountsServiceClient;
use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
use causerie_proto::assistant::v1 as assistant_pb;
use causerie_proto::assistant::v1::knowledge_base_service_client::KnowledgeBaseServiceClient;
use clap::{Args, Parser, Subcommand};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[derive(Parser)]
struct Options {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// CheckConsent against accounts' health check.
    Consent(ConsentOptions),
    /// Search and Match against the assistant's health check.
    Assistant(AssistantOptions),
}

#[derive(Clone, Args)]
struct Load {
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    #[arg(long, default_value_t = 3)]
    warmup_seconds: u64,
}

#[derive(Clone, Args)]
struct ConsentOptions {
    /// The accounts service, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    url: String,
    /// A tenant user's access token, forwarded as the gateway would.
    #[arg(long, env = "LOADGEN_TOKEN")]
    token: String,
    #[arg(long)]
    tenant_id: String,
    #[arg(long)]
    visitor_id: String,
    #[arg(long)]
    purpose: String,
    #[command(flatten)]
    load: Load,
}

#[derive(Clone, Args)]
struct AssistantOptions {
    /// The assistant service, e.g. http://127.0.0.1:50052.
    #[arg(long)]
    url: String,
    /// The accounts service, which issues the gateway's service token for `Match`.
    #[arg(long)]
    accounts_url: String,
    /// The services' shared secret, as the stack was started with.
    #[arg(long, env = "CAUSERIE_SERVICE_SECRET", hide_env_values = true)]
    service_secret: String,
    /// A contributor's access token, for `Search`.
    #[arg(long, env = "LOADGEN_TOKEN", hide_env_values = true)]
    token: String,
    #[arg(long)]
    tenant_id: String,
    #[arg(long)]
    project_id: String,
    /// The questions asked, one a line, taken in turn.
    #[arg(long)]
    questions: std::path::PathBuf,
    #[command(flatten)]
    load: Load,
}

/// One kind of call, with what it needs.
#[derive(Clone)]
enum Call {
    Health,
    CheckConsent { token: Arc<str>, request: pb::CheckConsentRequest },
    Search { token: Arc<str>, project_id: Arc<str>, questions: Arc<Vec<String>> },
    Match { service_token: Arc<str>, tenant_id: Arc<str>, project_id: Arc<str>, questions: Arc<Vec<String>> },
}

struct Outcome {
    latencies_us: Vec<u64>,
    errors: u64,
}

fn with_bearer<T>(message: T, token: &str) -> Result<tonic::Request<T>, tonic::Status> {
    let mut request = tonic::Request::new(message);
    let bearer = format!("Bearer {token}")
        .parse()
        .map_err(|_| tonic::Status::invalid_argument("the token is not a header value"))?;
    request.metadata_mut().insert("authorization", bearer);
    Ok(request)
}

async fn one(call: &Call, channel: &Channel, turn: usize) -> Result<(), tonic::Status> {
    match call {
        Call::Health => {
            HealthClient::new(channel.clone()).check(HealthCheckRequest { service: String::new() }).await?;
        }
        Call::CheckConsent { token, request } => {
            let asked = with_bearer(request.clone(), token)?;
            let answer = PrivacyServiceClient::new(channel.clone()).check_consent(asked).await?.into_inner();
            if !answer.granted {
                return Err(tonic::Status::failed_precondition("the visitor's consent is not granted"));
            }
        }
        Call::Search { token, project_id, questions } => {
            let text = questions[turn % questions.len()].clone();
            let message = assistant_pb::SearchRequest { project_id: project_id.to_string(), text, language: None };
            KnowledgeBaseServiceClient::new(channel.clone()).search(with_bearer(message, token)?).await?;
        }
        Call::Match { service_token, tenant_id, project_id, questions } => {
            let text = questions[turn % questions.len()].clone();
            let message = assistant_pb::MatchRequest {
                tenant_id: tenant_id.to_string(),
                project_id: project_id.to_string(),
                text,
                language: None,
                // No widget session: a match, no scenario.
                session_id: None,
                visitor_id: None,
            };
            KnowledgeBaseServiceClient::new(channel.clone()).r#match(with_bearer(message, service_token)?).await?;
        }
    }
    Ok(())
}

async fn run(call: &Call, channel: &Channel, load: &Load, seconds: u64) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..load.concurrency)
        .map(|worker| {
            let channel = channel.clone();
            let call = call.clone();
            tokio::spawn(async move {
                let mut outcome = Outcome { latencies_us: Vec::new(), errors: 0 };
                // Each worker starts elsewhere in the questions, so they do not ask in step.
                let mut turn = worker * 7919;
                while Instant::now() < deadline {
                    let started = Instant::now();
                    match one(&call, &channel, turn).await {
                        Ok(()) => {
                            outcome.latencies_us.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX))
                        }
                        Err(_) => outcome.errors += 1,
                    }
                    turn += 1;
                }
                outcome
            })
        })
        .collect();
    let mut total = Outcome { latencies_us: Vec::new(), errors: 0 };
    for worker in workers {
        if let Ok(outcome) = worker.await {
            total.latencies_us.extend(outcome.latencies_us);
            total.errors += outcome.errors;
        }
    }
    total.latencies_us.sort_unstable();
    total
}

fn percentile(sorted: &[u64], fraction: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// Prints one `BENCH` line; answers the p99 and the rate.
fn report(name: &str, outcome: &Outcome, seconds: u64) -> (u64, f64) {
    let p99 = percentile(&outcome.latencies_us, 0.99);
    let rate = outcome.latencies_us.len() as f64 / seconds as f64;
    println!(
        "BENCH name={name} requests={} rps={rate:.1} p50_us={} p99_us={p99} max_us={} errors={}",
        outcome.latencies_us.len(),
        percentile(&outcome.latencies_us, 0.5),
        outcome.latencies_us.last().copied().unwrap_or_default(),
        outcome.errors
    );
    (p99, rate)
}

async fn connect(url: &str) -> anyhow::Result<Channel> {
    tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// Warms every call up, then runs each in turn; fails if any call failed.
async fn measure(calls: &[(&str, Call)], channel: &Channel, load: &Load) -> anyhow::Result<Vec<(u64, f64)>> {
    for (_, call) in calls {
        run(call, channel, load, load.warmup_seconds).await;
    }
    let mut measured = Vec::new();
    for (name, call) in calls {
        let outcome = run(call, channel, load, load.seconds).await;
        measured.push(report(name, &outcome, load.seconds));
        anyhow::ensure!(outcome.errors == 0, "{} {name} calls failed", outcome.errors);
    }
    Ok(measured)
}

async fn consent(options: ConsentOptions) -> anyhow::Result<()> {
    let channel = connect(&options.url).await?;
    let request = pb::CheckConsentRequest {
        tenant_id: options.tenant_id,
        visitor_id: options.visitor_id,
        purpose: options.purpose,
    };
    let calls =
        [("health", Call::Health), ("check_consent", Call::CheckConsent { token: options.token.into(), request })];
    let measured = measure(&calls, &channel, &options.load).await?;
    println!("RATIO check_consent_p99/health_p99={:.2}", measured[1].0 as f64 / measured[0].0.max(1) as f64);
    Ok(())
}

async fn assistant(options: AssistantOptions) -> anyhow::Result<()> {
    let questions: Vec<String> = std::fs::read_to_string(&options.questions)
        .with_context(|| format!("reading {}", options.questions.display()))?
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    anyhow::ensure!(!questions.is_empty(), "no question in {}", options.questions.display());
    let questions = Arc::new(questions);
    let issued = AccountsServiceClient::new(connect(&options.accounts_url).await?)
        .issue_service_token(pb::IssueServiceTokenRequest {
            service: "gateway".to_owned(),
            secret: options.service_secret,
        })
        .await
        .context("asking accounts for the gateway's service token")?
        .into_inner();
    let channel = connect(&options.url).await?;
    let project_id: Arc<str> = options.project_id.into();
    let calls = [
        ("assistant_health", Call::Health),
        (
            "search",
            Call::Search {
                token: options.token.into(),
                project_id: Arc::clone(&project_id),
                questions: Arc::clone(&questions),
            },
        ),
        (
            "match",
            Call::Match {
                service_token: issued.access_token.into(),
                tenant_id: options.tenant_id.into(),
                project_id,
                questions,
            },
        ),
    ];
    let measured = measure(&calls, &channel, &options.load).await?;
    println!(
        "RATIO search_p99/health_p99={:.2} match_p99/health_p99={:.2}",
        measured[1].0 as f64 / measured[0].0.max(1) as f64,
        measured[2].0 as f64 / measured[0].0.max(1) as f64
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Options::parse().command {
        Command::Consent(options) => consent(options).await,
        Command::Assistant(options) => assistant(options).await,
    }
}
