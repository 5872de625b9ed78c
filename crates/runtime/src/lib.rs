//! What every Causerie service needs to run: configuration from `CAUSERIE_*` variables, tracing
//! with OpenTelemetry and W3C trace context, Prometheus metrics, the gRPC health protocol, readiness,
//! and serving a listener until shutdown.

pub mod access;
mod clock;
pub mod config;
pub mod metrics;
pub mod propagation;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod tls;

pub use clock::clock_for;
pub use config::{Config, ConfigError, DatabaseRole, Service};
pub use redis::RedisError;
pub use server::{Readiness, serve};
