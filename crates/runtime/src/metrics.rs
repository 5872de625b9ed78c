//! Prometheus metrics. One registry per process, served at `/metrics` by every listener that
//! carries operations routes; request counts and latencies are recorded by one middleware for
//! both REST and gRPC, since gRPC calls are HTTP requests too.

use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    listener: &'static str,
    method: String,
    route: String,
    status: u16,
}

struct Metrics {
    /// Locked only to register or encode; recording goes through the families, which are
    /// synchronised on their own.
    registry: Mutex<Registry>,
    /// Its `_count` is the number of requests.
    request_seconds: Family<RequestLabels, Histogram>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("causerie");
    let request_seconds = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
        Histogram::new(exponential_buckets(0.0005, 2.0, 16))
    });
    registry.register("request_seconds", "Time to answer a request, REST and gRPC", request_seconds.clone());
    Metrics { registry: Mutex::new(registry), request_seconds }
});

/// Records one request per matched route, never per raw path, so ids do not explode the labels.
pub async fn record_request(listener: &'static str, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    let labels = RequestLabels { listener, method, route, status: response.status().as_u16() };
    METRICS.request_seconds.get_or_create(&labels).observe(started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics` in the Prometheus text format.
pub async fn serve_metrics() -> Response {
    let mut body = String::new();
    let encoded = match METRICS.registry.lock() {
        Ok(registry) => prometheus_client::encoding::text::encode(&mut body, &registry),
        Err(_) => Err(std::fmt::Error),
    };
    match encoded {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            )],
            body,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
