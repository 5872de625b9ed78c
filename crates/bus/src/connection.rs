//! One AMQP connection per process, kept alive by our own supervisor task: it connects, declares
//! the topology, watches the connection, and starts over with backoff when the broker goes away.
//! lapin's own recovery is not used because it does not survive a broker restart. Whoever needs a
//! channel waits (boundedly) for a live connection; nobody else ever opens one, so readiness
//! probes and timeouts cannot start a storm of half-made connections.

use std::sync::Arc;
use std::time::Duration;

use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::Topology;

/// How long a caller waits for a live connection before it is told the broker is away.
const CHANNEL_WAIT: Duration = Duration::from_secs(5);
/// How long connecting and declaring the topology may take before the attempt is abandoned.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the supervisor looks at the connection's state.
const WATCH_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("not connected to the broker")]
    NotConnected,
    #[error("the broker did not confirm message {0}")]
    NotConfirmed(uuid::Uuid),
    #[error("no queue is bound to routing key {routing_key}: the broker returned message {message_id}")]
    Unroutable { message_id: uuid::Uuid, routing_key: String },
    #[error("outbox: {0}")]
    Outbox(#[from] sqlx::Error),
}

#[derive(Clone)]
pub struct Bus {
    topology: Arc<Topology>,
    connection: watch::Receiver<Option<Arc<Connection>>>,
}

fn is_live(connection: &Option<Arc<Connection>>) -> bool {
    connection.as_ref().is_some_and(|connection| connection.status().connected())
}

impl Bus {
    /// Starts the supervisor (tracked by `tasks`, stopped by `shutdown`). The bus is usable at
    /// once; until the broker answers, channels are refused and readiness fails.
    pub fn start(
        url: &str,
        connection_name: &str,
        topology: Topology,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        let (sender, receiver) = watch::channel(None);
        let topology = Arc::new(topology);
        let supervisor = Supervisor {
            url: url.to_owned(),
            connection_name: connection_name.to_owned(),
            topology: Arc::clone(&topology),
            sender,
        };
        tasks.spawn(supervisor.run(shutdown));
        Self { topology, connection: receiver }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// A new channel on the live connection, waiting a few seconds for one if needed.
    pub async fn channel(&self) -> Result<Channel, BusError> {
        let mut connection = self.connection.clone();
        let live = tokio::time::timeout(CHANNEL_WAIT, async {
            connection.wait_for(is_live).await.map(|current| current.clone()).ok().flatten()
        })
        .await;
        let connection = live.ok().flatten().ok_or(BusError::NotConnected)?;
        Ok(connection.create_channel().await?)
    }

    /// For readiness: connected, with the topology declared.
    pub async fn check(&self) -> Result<(), String> {
        if is_live(&self.connection.borrow()) { Ok(()) } else { Err("not connected to the broker".to_owned()) }
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
}

struct Supervisor {
    url: String,
    connection_name: String,
    topology: Arc<Topology>,
    sender: watch::Sender<Option<Arc<Connection>>>,
}

impl Supervisor {
    async fn run(self, shutdown: CancellationToken) {
        let mut failures: u32 = 0;
        loop {
            let attempt = tokio::select! {
                () = shutdown.cancelled() => break,
                attempt = tokio::time::timeout(CONNECT_TIMEOUT, self.connect()) => attempt,
            };
            match attempt {
                Ok(Ok(connection)) => {
                    failures = 0;
                    tracing::info!(connection = %self.connection_name, "connected to the broker");
                    self.sender.send_replace(Some(Arc::clone(&connection)));
                    let stopping = self.watch(&connection, &shutdown).await;
                    self.sender.send_replace(None);
                    if stopping {
                        if let Err(error) = connection.close(200, "shutting down".into()).await {
                            tracing::debug!(%error, "broker connection already closed");
                        }
                        break;
                    }
                    tracing::warn!(connection = %self.connection_name, "broker connection lost, reconnecting");
                }
                Ok(Err(error)) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(connection = %self.connection_name, %error, failures, "cannot connect to the broker");
                }
                Err(_) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(connection = %self.connection_name, failures, "connecting to the broker timed out");
                }
            }
            let backoff = Duration::from_millis(200u64.saturating_mul(1 << failures.min(5)));
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(backoff) => {}
            }
        }
    }

    async fn connect(&self) -> Result<Arc<Connection>, lapin::Error> {
        let properties = ConnectionProperties::default().with_connection_name(self.connection_name.clone().into());
        let connection = Connection::connect(&self.url, properties).await?;
        let declared = async {
            let setup = connection.create_channel().await?;
            self.topology.declare(&setup).await?;
            setup.close(200, "topology declared".into()).await
        }
        .await;
        if let Err(error) = declared {
            // Not left half-made: the next attempt starts from a fresh connection.
            let _ = connection.close(200, "topology not declared".into()).await;
            return Err(error);
        }
        Ok(Arc::new(connection))
    }

    /// Waits until the connection drops (false) or shutdown is asked (true).
    async fn watch(&self, connection: &Connection, shutdown: &CancellationToken) -> bool {
        while connection.status().connected() {
            tokio::select! {
                () = shutdown.cancelled() => return true,
                () = tokio::time::sleep(WATCH_EVERY) => {}
            }
        }
        false
    }
}
