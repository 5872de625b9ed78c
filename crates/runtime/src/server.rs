//! Serving a listener until shutdown, the operations routes every listener carries (`/healthz`,
//! `/readyz`, `/metrics`), readiness checks, and the gRPC health protocol.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{metrics, propagation};

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Check = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// The dependencies a listener must reach before it says it is ready.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(&'static str, Check)>,
}

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_check<F, Fut>(mut self, name: &'static str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.checks.push((name, Arc::new(move || Box::pin(check()) as CheckFuture)));
        self
    }

    /// Adds a check that Redis answers `PING` on `redis`.
    pub fn with_redis(self, redis: redis::aio::ConnectionManager) -> Self {
        self.with_check("redis", move || {
            let mut redis = redis.clone();
            async move {
                redis::cmd("PING")
                    .query_async::<String>(&mut redis)
                    .await
                    .map(|_| ())
                    .map_err(|error| error.to_string())
            }
        })
    }

    /// Runs every check at once; the answer names each dependency that failed.
    pub async fn check(&self) -> Result<(), Vec<String>> {
        let outcomes = futures::future::join_all(self.checks.iter().map(|(name, check)| {
            let check = Arc::clone(check);
            async move {
                let bounded = tokio::time::timeout(std::time::Duration::from_secs(2), check()).await;
                match bounded {
                    Ok(Ok(())) => None,
                    Ok(Err(error)) => Some(format!("{name}: {error}")),
                    Err(_) => Some(format!("{name}: no answer within 2 s")),
                }
            }
        }))
        .await;
        let failures: Vec<String> = outcomes.into_iter().flatten().collect();
        if failures.is_empty() { Ok(()) } else { Err(failures) }
    }
}

/// `/healthz` (the process answers), `/readyz` (its dependencies answer) and `/metrics`.
pub fn operations_router(readiness: Readiness) -> Router {
    health_router(readiness).route("/metrics", get(metrics::serve_metrics))
}

/// `/healthz` and `/readyz` alone, for a listener that must not expose metrics.
pub fn health_router(readiness: Readiness) -> Router {
    Router::new().route("/healthz", get(|| async { (StatusCode::OK, "ok") })).route(
        "/readyz",
        get(move || {
            let readiness = readiness.clone();
            async move {
                match readiness.check().await {
                    Ok(()) => (StatusCode::OK, "ready").into_response(),
                    // The causes go to the log, not to whoever asked: probes need only the status.
                    Err(failures) => {
                        tracing::warn!(failures = %failures.join("; "), "not ready");
                        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
                    }
                }
            }
        }),
    )
}

/// Serves `router` (REST, or gRPC routes turned into an axum router, or both) on `listener`,
/// HTTP/1.1 and HTTP/2 alike, until `shutdown` fires; in-flight requests are allowed to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    listener_name: &'static str,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = router
        .layer(axum::middleware::from_fn(move |request, next| metrics::record_request(listener_name, request, next)))
        .layer(axum::middleware::from_fn(trace_request));
    let address = listener.local_addr()?;
    tracing::info!(listener = listener_name, %address, "listening");
    // Without TCP_NODELAY, an answer written in two segments waits for the peer's delayed ACK
    // (40 ms on Linux) before its second one leaves.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream: &mut TcpStream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
    });
    // The peer address reaches handlers as `ConnectInfo`, for brute-force limits and the audit log.
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// One span per request, child of the caller's trace when the request carries a `traceparent`.
async fn trace_request(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        status = tracing::field::Empty,
        tenant.id = tracing::field::Empty,
    );
    propagation::adopt_parent_from_headers(&span, request.headers());
    let response = next.run(request).instrument(span.clone()).await;
    span.record("status", response.status().as_u16());
    response
}

/// Serves a backend service's gRPC routes, the gRPC health protocol and the operations routes on
/// one listener: gRPC over HTTP/2, `/healthz`, `/readyz` and `/metrics` over either version.
pub async fn serve_grpc(
    listener: TcpListener,
    routes: tonic::service::Routes,
    readiness: Readiness,
    listener_name: &'static str,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = routes.into_axum_router().merge(operations_router(readiness));
    serve(listener, router, listener_name, shutdown).await
}

/// The gRPC health service. It reports `services` (full gRPC names) and the server as a whole
/// SERVING while `readiness` passes and NOT_SERVING while it fails, re-checked every few seconds
/// until `shutdown`, so a peer that asks over gRPC learns what `/readyz` would say.
pub fn grpc_health(
    services: &'static [&'static str],
    readiness: Readiness,
    tasks: &tokio_util::task::TaskTracker,
    shutdown: CancellationToken,
) -> tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    tasks.spawn(async move {
        loop {
            let status = match readiness.check().await {
                Ok(()) => tonic_health::ServingStatus::Serving,
                Err(_) => tonic_health::ServingStatus::NotServing,
            };
            for service in services.iter().copied().chain([""]) {
                reporter.set_service_status(service, status).await;
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            }
        }
    });
    health_service
}

/// Runs a service's body with a task tracker, then, however the body ended, cancels `shutdown`
/// and waits for every tracked task (relays, consumers, refreshers) before answering.
pub async fn run_tracked<F, Fut, E>(shutdown: CancellationToken, body: F) -> Result<(), E>
where
    F: FnOnce(tokio_util::task::TaskTracker) -> Fut,
    Fut: Future<Output = Result<(), E>>,
{
    let tasks = tokio_util::task::TaskTracker::new();
    let outcome = body(tasks.clone()).await;
    shutdown.cancel();
    tasks.close();
    tasks.wait().await;
    outcome
}
