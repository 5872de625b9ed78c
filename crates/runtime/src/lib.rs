//! What every Causerie service needs to run: configuration from `CAUSERIE_*` variables, tracing
//! with OpenTelemetry and W3C trace context, Prometheus metrics, the gRPC health protocol, readiness,
//! and serving a listener until shutdown.

pub mod config;
pub mod metrics;
pub mod propagation;
pub mod server;
pub mod shutdown;
pub mod telemetry;

pub use config::{Config, ConfigError, Service};
pub use server::{Readiness, serve};
