//! Closed-loop gRPC load against accounts, in one run: the gRPC health check (the floor of a
//! round trip through the same server) and `CheckConsent`, each at the same concurrency for the
//! same time, then latency percentiles and the ratio of their p99s.

use std::time::{Duration, Instant};

use anyhow::Context;
use causerie_proto::accounts::v1 as pb;
use causerie_proto::accounts::v1::privacy_service_client::PrivacyServiceClient;
use clap::Parser;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

#[derive(Clone, Parser)]
struct Options {
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
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    #[arg(long, default_value_t = 3)]
    warmup_seconds: u64,
}

#[derive(Clone, Copy)]
enum Call {
    Health,
    CheckConsent,
}

struct Outcome {
    latencies_us: Vec<u64>,
    errors: u64,
}

async fn one(call: Call, channel: &Channel, options: &Options) -> Result<(), tonic::Status> {
    match call {
        Call::Health => {
            HealthClient::new(channel.clone()).check(HealthCheckRequest { service: String::new() }).await?;
        }
        Call::CheckConsent => {
            let mut request = tonic::Request::new(pb::CheckConsentRequest {
                tenant_id: options.tenant_id.clone(),
                visitor_id: options.visitor_id.clone(),
                purpose: options.purpose.clone(),
            });
            let bearer = format!("Bearer {}", options.token)
                .parse()
                .map_err(|_| tonic::Status::invalid_argument("the token is not a header value"))?;
            request.metadata_mut().insert("authorization", bearer);
            let answer = PrivacyServiceClient::new(channel.clone()).check_consent(request).await?.into_inner();
            if !answer.granted {
                return Err(tonic::Status::failed_precondition("the visitor's consent is not granted"));
            }
        }
    }
    Ok(())
}

async fn run(call: Call, channel: &Channel, options: &Options, seconds: u64) -> Outcome {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..options.concurrency)
        .map(|_| {
            let channel = channel.clone();
            let options = options.clone();
            tokio::spawn(async move {
                let mut outcome = Outcome { latencies_us: Vec::new(), errors: 0 };
                while Instant::now() < deadline {
                    let started = Instant::now();
                    match one(call, &channel, &options).await {
                        Ok(()) => {
                            outcome.latencies_us.push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX))
                        }
                        Err(_) => outcome.errors += 1,
                    }
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

fn report(name: &str, outcome: &Outcome, seconds: u64) -> u64 {
    let p99 = percentile(&outcome.latencies_us, 0.99);
    println!(
        "BENCH name={name} requests={} rps={:.1} p50_us={} p99_us={p99} max_us={} errors={}",
        outcome.latencies_us.len(),
        outcome.latencies_us.len() as f64 / seconds as f64,
        percentile(&outcome.latencies_us, 0.5),
        outcome.latencies_us.last().copied().unwrap_or_default(),
        outcome.errors
    );
    p99
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let channel = tonic::transport::Endpoint::from_shared(options.url.clone())?
        .connect()
        .await
        .context("connecting to accounts")?;
    for call in [Call::Health, Call::CheckConsent] {
        run(call, &channel, &options, options.warmup_seconds).await;
    }
    let health = run(Call::Health, &channel, &options, options.seconds).await;
    let health_p99 = report("health", &health, options.seconds);
    let consent = run(Call::CheckConsent, &channel, &options, options.seconds).await;
    let consent_p99 = report("check_consent", &consent, options.seconds);
    anyhow::ensure!(consent.errors == 0 && health.errors == 0, "some calls failed");
    println!("RATIO check_consent_p99/health_p99={:.2}", consent_p99 as f64 / health_p99.max(1) as f64);
    Ok(())
}
