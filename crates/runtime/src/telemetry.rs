//! Tracing for the whole process: logs to stdout, spans exported over OTLP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and W3C trace context in every case so that a trace id
//! follows a request through HTTP, gRPC and the bus even when nothing is exported.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::Config;

/// Flushes pending spans when dropped at the end of `main`.
pub struct TelemetryGuard {
    tracer_provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(error) = self.tracer_provider.shutdown() {
            eprintln!("spans not flushed at shutdown: {error}");
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("CAUSERIE_LOG is not a valid filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error("OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("a global subscriber is already installed: {0}")]
    AlreadyInstalled(#[from] tracing_subscriber::util::TryInitError),
}

/// Installs the global subscriber. Called once, by the binary.
pub fn init(config: &Config, process_name: &str) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(process_name.to_owned()).build();
    let mut provider_builder = SdkTracerProvider::builder().with_resource(resource);
    if let Some(endpoint) = &config.otlp_endpoint {
        use opentelemetry_otlp::WithExportConfig;
        let exporter =
            opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint.clone()).build()?;
        provider_builder = provider_builder.with_batch_exporter(exporter);
    }
    let tracer_provider = provider_builder.build();
    let tracer = tracer_provider.tracer("causerie");
    opentelemetry::global::set_tracer_provider(tracer_provider.clone());
    let log_filter = EnvFilter::try_new(&config.log_filter)?;
    // Our own spans always reach OpenTelemetry, whatever the log level, because trace context
    // is carried by them: with no span, nothing would be propagated to the next hop.
    let span_filter = Targets::new().with_target("causerie", Level::INFO);
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_target(false).with_filter(log_filter))
        // Busy and idle times, thread and source location are not recorded: they cost a clock read
        // or an attribute on every enter and exit of every request's span, and say little.
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_tracked_inactivity(false)
                .with_threads(false)
                .with_location(false)
                .with_filter(span_filter),
        )
        .try_init()?;
    Ok(TelemetryGuard { tracer_provider })
}
