//! A TCP proxy to put between a service and PostgreSQL, RabbitMQ or Redis, so a fault test can
//! cut the connection and restore it without stopping the shared server that every other test
//! uses.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Forwards every connection made to `address()` to the upstream, until cut.
pub struct TcpProxy {
    address: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    stopped: CancellationToken,
}

struct ProxyState {
    /// While cut, a new connection is closed as soon as it is accepted.
    cut: bool,
    /// Cancelled by `cut()`: every connection forwarded before it is closed.
    connections: CancellationToken,
}

impl TcpProxy {
    /// Listens on a port of 127.0.0.1 the system picks and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let state = Arc::new(Mutex::new(ProxyState { cut: false, connections: CancellationToken::new() }));
        let stopped = CancellationToken::new();
        tokio::spawn(accept(listener, upstream, Arc::clone(&state), stopped.clone()));
        Ok(Self { address, state, stopped })
    }

    /// A proxy in front of the server of `url` (`postgres://`, `amqp://`, `redis://`), and `url`
    /// made to go through it.
    pub async fn in_front_of(url: &str, default_port: u16) -> anyhow::Result<(Self, String)> {
        let mut through = reqwest::Url::parse(url)?;
        let host = through.host_str().ok_or_else(|| anyhow::anyhow!("{url} names no host"))?.to_owned();
        let port = through.port().unwrap_or(default_port);
        let upstream = tokio::net::lookup_host((host.as_str(), port))
            .await?
            .next()
            .ok_or_else(|| anyhow::anyhow!("{host} resolves to no address"))?;
        let proxy = Self::start(upstream).await?;
        through.set_host(Some("127.0.0.1"))?;
        through.set_port(Some(proxy.address.port())).map_err(|()| anyhow::anyhow!("{url} cannot take a port"))?;
        Ok((proxy, through.to_string()))
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Closes every forwarded connection and refuses new ones, as a server that went away.
    pub fn cut(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.cut = true;
            state.connections.cancel();
            state.connections = CancellationToken::new();
        }
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        if let Ok(mut state) = self.state.lock() {
            state.cut = false;
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stopped.cancel();
        self.cut();
    }
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    state: Arc<Mutex<ProxyState>>,
    stopped: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = stopped.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((mut client, _)) = accepted else { continue };
        let connection = match state.lock() {
            Ok(state) if !state.cut => state.connections.clone(),
            _ => continue,
        };
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(upstream).await else { return };
            tokio::select! {
                () = connection.cancelled() => {}
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
            }
        });
    }
}
