//! The tokio driver: sockets and one timer around a [`RegistrarProxy`].

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use sip_transport::{
    Events, Stats, TlsServerConfig, Transport, TransportConfig, TransportEvent, TransportKind,
};
use tokio::task::JoinHandle;

use super::{BindingInfo, RegistrarProxy, Result, ServerConfig};

/// The embedded registrar/proxy running on tokio: [`RegistrarProxy`] behind the listeners of a
/// [`sip_transport::Transport`] (UDP, TCP, and TLS when the transport configuration has a
/// certificate). For the demo and fast tests; real deployments use a real server.
///
/// ```
/// use rtc_client::server::{EmbeddedServer, ServerConfig};
/// use sip_transport::TransportKind;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let server = EmbeddedServer::start_loopback(ServerConfig::demo()).await?;
/// let udp = server.local_addr(TransportKind::Udp).unwrap();
/// assert_eq!(server.local_addr(TransportKind::Tcp), Some(udp)); // one port for both
/// assert!(server.bindings("alice").is_empty());
/// server.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct EmbeddedServer {
    core: Arc<Mutex<RegistrarProxy>>,
    transport: Transport,
    addrs: Vec<(TransportKind, SocketAddr)>,
    task: JoinHandle<()>,
}

impl EmbeddedServer {
    /// Binds the listeners of `transport` and serves `config` on them. Listeners must have
    /// specific addresses (they are advertised in Via and Record-Route); port 0 picks one.
    pub async fn start(config: ServerConfig, transport: TransportConfig) -> Result<Self> {
        let (transport, events) = Transport::bind(transport).await?;
        let addrs = transport.local_addrs().to_vec();
        let core = RegistrarProxy::new(config, &addrs, now())?;
        let core = Arc::new(Mutex::new(core));
        let task = tokio::spawn(run(core.clone(), transport.clone(), events));
        Ok(Self {
            core,
            transport,
            addrs,
            task,
        })
    }

    /// [`start`](Self::start) on 127.0.0.1 with UDP and TCP on the same free port.
    pub async fn start_loopback(config: ServerConfig) -> Result<Self> {
        Self::loopback(config, None).await
    }

    /// [`start_loopback`](Self::start_loopback), plus a TLS listener on another free port of
    /// 127.0.0.1 presenting `tls`'s certificate (clients must trust its issuer and find
    /// `127.0.0.1` among its names). Every listener shares the transport's default connection
    /// limits (per source, total, message deadlines); use [`start`](Self::start) with
    /// [`TransportConfig::tls`] and [`TransportConfig::tls_server`] to choose them.
    pub async fn start_loopback_tls(config: ServerConfig, tls: TlsServerConfig) -> Result<Self> {
        Self::loopback(config, Some(tls)).await
    }

    async fn loopback(config: ServerConfig, tls: Option<TlsServerConfig>) -> Result<Self> {
        let mut last = None;
        // The port is free when probed; another process may take it before we bind, so try
        // a few.
        for _ in 0..5 {
            let port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|s| s.local_addr())
                .map(|a| a.port())
                .map_err(|e| sip_transport::Error::Bind {
                    transport: TransportKind::Udp,
                    addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                    source: e,
                });
            let port = match port {
                Ok(p) => p,
                Err(e) => {
                    last = Some(e.into());
                    continue;
                }
            };
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let cfg = TransportConfig {
                udp: vec![addr],
                tcp: vec![addr],
                tls: match tls {
                    Some(_) => vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 0))],
                    None => Vec::new(),
                },
                tls_server: tls.clone(),
                // Connections that authenticated stay; the others make room first.
                evict_untrusted: true,
                ..TransportConfig::default()
            };
            match Self::start(config.clone(), cfg).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(super::Error::UnusableListener("127.0.0.1".into())))
    }

    /// The address of the listener of `kind`, if any.
    pub fn local_addr(&self, kind: TransportKind) -> Option<SocketAddr> {
        self.addrs.iter().find(|(k, _)| *k == kind).map(|&(_, a)| a)
    }

    /// Every listener.
    pub fn local_addrs(&self) -> &[(TransportKind, SocketAddr)] {
        &self.addrs
    }

    /// The listeners' counters so far: connections opened, refused at the limits, evicted,
    /// timed out, TLS handshakes failed, messages received.
    pub fn transport_stats(&self) -> Stats {
        self.transport.stats()
    }

    fn core(&self) -> MutexGuard<'_, RegistrarProxy> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live bindings of `user` now.
    pub fn bindings(&self, user: &str) -> Vec<BindingInfo> {
        let now = now();
        self.core().bindings(now, user)
    }

    /// Stops serving and closes the listeners.
    pub fn shutdown(&self) {
        self.task.abort();
        self.transport.shutdown();
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn run(core: Arc<Mutex<RegistrarProxy>>, transport: Transport, mut events: Events) {
    let lock = || core.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let deadline = lock().poll_timeout();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ev = events.recv() => match ev {
                None => return,
                Some(TransportEvent::Message(m)) => {
                    let now = now();
                    let connection = m.connection;
                    let mut core = lock();
                    core.handle_message(now, m.reply_target(), m.message);
                    // A user who authenticated keeps its connection when the limit needs room.
                    if let Some(id) = connection.filter(|_| core.authenticated()) {
                        transport.trust(id);
                    }
                }
                Some(TransportEvent::ConnectionClosed { remote, reason, .. }) => {
                    tracing::debug!(%remote, %reason, "connection closed");
                }
                Some(_) => {}
            },
            () = sleep => {
                let now = now();
                lock().handle_timeout(now);
            }
        }
        let out: Vec<_> = {
            let mut core = lock();
            std::iter::from_fn(|| core.poll_transmit()).collect()
        };
        for t in out {
            if let Err(e) = transport.send(&t.target, t.payload).await {
                tracing::debug!(target = %t.target, error = %e, "send failed");
            }
        }
    }
}

/// The driver's clock: tokio's, as the transaction driver's, so that tests can pause it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}
