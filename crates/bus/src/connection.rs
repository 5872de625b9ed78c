//! One AMQP connection per process, supervised by us: whoever needs a channel gets one on the
//! live connection, or on a new one that has declared the topology again. lapin's own recovery
//! is not used because it does not survive a broker restart.

use std::sync::Arc;

use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::Mutex;

use crate::Topology;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker did not confirm message {0}")]
    NotConfirmed(uuid::Uuid),
    #[error("outbox: {0}")]
    Outbox(#[from] sqlx::Error),
}

#[derive(Clone)]
pub struct Bus {
    inner: Arc<BusInner>,
}

struct BusInner {
    url: String,
    connection_name: String,
    topology: Topology,
    connection: Mutex<Option<Connection>>,
}

impl Bus {
    /// A bus that connects on first use, so a service starts even while the broker is down and
    /// reports itself not ready until it is back.
    pub fn new(url: &str, connection_name: &str, topology: Topology) -> Self {
        Self {
            inner: Arc::new(BusInner {
                url: url.to_owned(),
                connection_name: connection_name.to_owned(),
                topology,
                connection: Mutex::new(None),
            }),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// A new channel on the live connection, reconnecting first if it was lost.
    pub async fn channel(&self) -> Result<Channel, BusError> {
        let mut connection = self.inner.connection.lock().await;
        if let Some(live) = connection.as_ref().filter(|live| live.status().connected()) {
            match live.create_channel().await {
                Ok(channel) => return Ok(channel),
                Err(error) => tracing::warn!(%error, "channel refused, reconnecting"),
            }
        }
        let properties =
            ConnectionProperties::default().with_connection_name(self.inner.connection_name.clone().into());
        let fresh = Connection::connect(&self.inner.url, properties).await?;
        let setup = fresh.create_channel().await?;
        self.inner.topology.declare(&setup).await?;
        setup.close(200, "topology declared".into()).await?;
        tracing::info!(connection = %self.inner.connection_name, "connected to the broker");
        let channel = fresh.create_channel().await?;
        *connection = Some(fresh);
        Ok(channel)
    }

    /// For readiness: the broker answers and the topology is in place.
    pub async fn check(&self) -> Result<(), String> {
        let channel = self.channel().await.map_err(|error| error.to_string())?;
        channel.close(200, "readiness checked".into()).await.map_err(|error| error.to_string())
    }

    /// The readiness check of a service that uses this bus.
    pub fn readiness_check(
        &self,
    ) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> + Send + Sync + 'static
    {
        let bus = self.clone();
        move || {
            let bus = bus.clone();
            Box::pin(async move { bus.check().await })
        }
    }

    pub async fn close(&self) {
        if let Some(connection) = self.inner.connection.lock().await.take()
            && let Err(error) = connection.close(200, "shutting down".into()).await
        {
            tracing::debug!(%error, "broker connection already closed");
        }
    }
}
