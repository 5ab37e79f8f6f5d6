//! The [`Transport`] handle: binds listeners, sends to targets, and reports what arrives.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::event::Stats;
use crate::{
    ConnectionId, Error, Result, Target, TransportConfig, TransportEvent, TransportKind, stream,
    udp,
};

/// A stream peer: connections are reused per transport and remote address.
type RemoteKey = (TransportKind, SocketAddr);

/// The sending side of one live stream connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    pub(crate) id: ConnectionId,
    pub(crate) tx: mpsc::Sender<Bytes>,
    /// The ping interval the connection's peer asked for ([`Transport::set_keepalive`]).
    pub(crate) ping: watch::Sender<Option<Duration>>,
}

#[derive(Debug, Default)]
pub(crate) struct Conns {
    /// The connection to reuse per remote: the newest one.
    by_remote: HashMap<RemoteKey, ConnHandle>,
    /// Every live connection.
    pub(crate) by_id: HashMap<ConnectionId, ConnHandle>,
    /// Inbound connections admitted per source address (TLS handshakes included).
    pub(crate) per_source: HashMap<std::net::IpAddr, usize>,
    /// Inbound connections admitted but not yet registered (TLS handshakes in progress).
    pub(crate) handshaking: usize,
    /// Inbound connections (or TLS handshakes) that have not yet delivered a whole message,
    /// oldest admitted first: the first closed when the connection limit is reached.
    pub(crate) unproven: std::collections::BTreeMap<u64, crate::admission::Unproven>,
    /// Inbound connections that delivered a message but whose peer has not authenticated,
    /// oldest admitted first: the next to go (with `evict_untrusted`).
    pub(crate) untrusted: std::collections::BTreeMap<u64, ConnectionId>,
    /// The admission number of each connection in `untrusted`, to find it by id.
    pub(crate) untrusted_seq: HashMap<ConnectionId, u64>,
    /// The admission number of the next inbound connection.
    pub(crate) next_admission: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) datagrams_received: AtomicU64,
    pub(crate) datagrams_dropped: AtomicU64,
    pub(crate) stream_messages_received: AtomicU64,
    pub(crate) connections_opened: AtomicU64,
    pub(crate) connections_refused: AtomicU64,
    pub(crate) connections_evicted: AtomicU64,
    pub(crate) connections_timed_out: AtomicU64,
    pub(crate) connections_closed_bad_framing: AtomicU64,
    pub(crate) tls_handshake_failures: AtomicU64,
    pub(crate) pongs_sent: AtomicU64,
}

pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// State shared by the handle and every transport task.
pub(crate) struct Shared {
    pub(crate) cfg: TransportConfig,
    pub(crate) events: mpsc::Sender<TransportEvent>,
    pub(crate) counters: Counters,
    pub(crate) shutdown: watch::Receiver<bool>,
    conns: Mutex<Conns>,
    next_id: AtomicU64,
    /// UDP sockets with their local addresses, read once at bind (not a system call per send).
    udp: Vec<(SocketAddr, Arc<UdpSocket>)>,
    tls_connector: Option<TlsConnector>,
    /// One lock per remote being connected to, so concurrent sends share one new connection.
    connecting: Mutex<HashMap<RemoteKey, Arc<tokio::sync::Mutex<()>>>>,
    local: Vec<(TransportKind, SocketAddr)>,
}

impl Conns {
    /// Forgets a connection's senders, which ends its task (it reports the close).
    pub(crate) fn close(&mut self, id: ConnectionId) {
        self.by_id.remove(&id);
        self.by_remote.retain(|_, h| h.id != id);
    }
}

impl Shared {
    pub(crate) fn conns(&self) -> MutexGuard<'_, Conns> {
        // A panic while holding this lock cannot leave the maps inconsistent (single inserts and
        // removes), so a poisoned lock is still usable.
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new connection as the one to reuse for `remote`.
    /// An inbound connection comes with the `slot` it was admitted with.
    pub(crate) fn register(
        &self,
        kind: TransportKind,
        remote: SocketAddr,
        tx: mpsc::Sender<Bytes>,
        ping: watch::Sender<Option<Duration>>,
        slot: Option<&mut crate::admission::Slot>,
    ) -> ConnectionId {
        let id = ConnectionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let h = ConnHandle { id, tx, ping };
        let mut c = self.conns();
        if let Some(slot) = slot {
            slot.registered(&mut c, id);
        }
        c.by_id.insert(id, h.clone());
        c.by_remote.insert((kind, remote), h);
        bump(&self.counters.connections_opened);
        id
    }

    /// Forgets a connection that ended.
    pub(crate) fn unregister(&self, id: ConnectionId, kind: TransportKind, remote: SocketAddr) {
        let mut c = self.conns();
        c.by_id.remove(&id);
        if c.by_remote.get(&(kind, remote)).is_some_and(|h| h.id == id) {
            c.by_remote.remove(&(kind, remote));
        }
    }

    fn lookup(&self, kind: TransportKind, remote: SocketAddr) -> Option<ConnHandle> {
        self.conns().by_remote.get(&(kind, remote)).cloned()
    }

    pub(crate) fn tls_connector(&self) -> Option<&TlsConnector> {
        self.tls_connector.as_ref()
    }
}

/// Fires the shutdown signal when the last [`Transport`] clone is dropped.
#[derive(Debug)]
struct ShutdownGuard(watch::Sender<bool>);

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        let _ = self.0.send(true);
    }
}

/// A running set of SIP transports: a cheap-to-clone handle for sending, paired with an
/// [`Events`] receiver for what arrives.
///
/// Stream connections are reused per remote address: a message to a [`Target`] goes on the
/// newest live connection to that address (the one a request came in on, for responses), and a
/// new connection is opened on demand when there is none. Dropping every clone of the handle
/// stops all listeners and closes every connection.
#[derive(Clone)]
pub struct Transport {
    shared: Arc<Shared>,
    guard: Arc<ShutdownGuard>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("local", &self.shared.local)
            .field("connections", &self.connection_count())
            .finish_non_exhaustive()
    }
}

/// Incoming messages and connection events of a [`Transport`].
#[derive(Debug)]
pub struct Events(mpsc::Receiver<TransportEvent>);

impl Events {
    /// The next event; `None` once the transport has shut down and every event was taken.
    pub async fn recv(&mut self) -> Option<TransportEvent> {
        self.0.recv().await
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Option<TransportEvent> {
        self.0.try_recv().ok()
    }

    /// The underlying channel, for `select!` or stream adapters.
    pub fn into_inner(self) -> mpsc::Receiver<TransportEvent> {
        self.0
    }
}

impl Transport {
    /// Binds every listener in `cfg` and starts serving them. Must run inside a tokio runtime.
    pub async fn bind(cfg: TransportConfig) -> Result<(Transport, Events)> {
        let mut local = Vec::new();
        let mut udp_sockets = Vec::new();
        for &addr in &cfg.udp {
            let s = UdpSocket::bind(addr).await.map_err(|source| Error::Bind {
                transport: TransportKind::Udp,
                addr,
                source,
            })?;
            let bound = s.local_addr().unwrap_or(addr);
            crate::udp::enlarge_receive_buffer(&s, bound);
            local.push((TransportKind::Udp, bound));
            udp_sockets.push((bound, Arc::new(s)));
        }
        let mut tcp_listeners = Vec::new();
        for &addr in &cfg.tcp {
            let l = bind_tcp(TransportKind::Tcp, addr).await?;
            local.push((TransportKind::Tcp, l.local_addr().unwrap_or(addr)));
            tcp_listeners.push(l);
        }
        let mut tls_listeners = Vec::new();
        let acceptor = match (&cfg.tls_server, cfg.tls.is_empty()) {
            (_, true) => None,
            (None, false) => return Err(Error::TransportDisabled(TransportKind::Tls)),
            (Some(server), false) => Some(TlsAcceptor::from(server.build()?)),
        };
        for &addr in &cfg.tls {
            let l = bind_tcp(TransportKind::Tls, addr).await?;
            local.push((TransportKind::Tls, l.local_addr().unwrap_or(addr)));
            tls_listeners.push(l);
        }
        let tls_connector = match &cfg.tls_client {
            Some(c) => Some(TlsConnector::from(c.build()?)),
            None => None,
        };

        let (events_tx, events_rx) = mpsc::channel(cfg.event_queue.max(1));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            cfg,
            events: events_tx,
            counters: Counters::default(),
            shutdown: shutdown_rx,
            conns: Mutex::new(Conns::default()),
            next_id: AtomicU64::new(1),
            udp: udp_sockets,
            tls_connector,
            connecting: Mutex::new(HashMap::new()),
            local,
        });
        for (_, s) in &shared.udp {
            tokio::spawn(udp::receive_loop(shared.clone(), s.clone()));
        }
        for l in tcp_listeners {
            tokio::spawn(stream::accept_loop(shared.clone(), l, None));
        }
        if let Some(acceptor) = acceptor {
            for l in tls_listeners {
                tokio::spawn(stream::accept_loop(
                    shared.clone(),
                    l,
                    Some(acceptor.clone()),
                ));
            }
        }
        let transport = Transport {
            shared,
            guard: Arc::new(ShutdownGuard(shutdown_tx)),
        };
        Ok((transport, Events(events_rx)))
    }

    /// Sends one whole SIP message to `target`.
    ///
    /// UDP sends a datagram from the bound socket of the target's address family. TCP and TLS
    /// reuse the live connection to `target.addr` or open one (TLS verifies the server against
    /// `target.server_name`). Returns the connection used, `None` for UDP. The message is queued
    /// to the connection; a failure to write it later is reported as
    /// [`TransportEvent::ConnectionClosed`].
    pub async fn send(&self, target: &Target, msg: Bytes) -> Result<Option<ConnectionId>> {
        let max = self.shared.cfg.parse.max_message_size;
        if msg.len() > max {
            return Err(Error::MessageTooLarge {
                target: target.clone(),
                len: msg.len(),
                max,
            });
        }
        if target.transport == TransportKind::Udp {
            self.send_datagram(target.addr, &msg).await?;
            return Ok(None);
        }
        if let Some(h) = self.shared.lookup(target.transport, target.addr) {
            match h.tx.send(msg).await {
                Ok(()) => return Ok(Some(h.id)),
                // It died between lookup and send: take back the message and reconnect.
                Err(mpsc::error::SendError(m)) => return self.connect_and_send(target, m).await,
            }
        }
        self.connect_and_send(target, msg).await
    }

    async fn connect_and_send(&self, target: &Target, msg: Bytes) -> Result<Option<ConnectionId>> {
        let key = (target.transport, target.addr);
        let lock = {
            let mut c = self
                .shared
                .connecting
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            c.entry(key).or_default().clone()
        };
        let h = {
            let _connecting = lock.lock().await;
            // Someone else may have connected while we waited.
            let found = self.shared.lookup(target.transport, target.addr);
            let result = match found {
                Some(h) if !h.tx.is_closed() => Ok(h),
                _ => stream::connect(&self.shared, target).await,
            };
            let mut c = self
                .shared
                .connecting
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // Drop the entry once no one else holds it (the map's and ours are the only refs).
            if Arc::strong_count(&lock) <= 2 {
                c.remove(&key);
            }
            result?
        };
        h.tx.send(msg).await.map_err(|_| Error::ConnectionClosed {
            id: h.id,
            remote: target.addr,
        })?;
        Ok(Some(h.id))
    }

    /// Sends on one particular stream connection (e.g. the one a request arrived on), without
    /// reconnecting if it is gone.
    pub async fn send_on(&self, id: ConnectionId, msg: Bytes) -> Result<()> {
        let h = self
            .shared
            .conns()
            .by_id
            .get(&id)
            .cloned()
            .ok_or(Error::NoSuchConnection(id))?;
        h.tx.send(msg)
            .await
            .map_err(|_| Error::NoSuchConnection(id))
    }

    async fn send_datagram(&self, addr: SocketAddr, msg: &[u8]) -> Result<()> {
        // A socket of the target's family; else a dual-stack `[::]` socket, to the IPv4-mapped
        // address.
        let udp = &self.shared.udp;
        let same = udp
            .iter()
            .find(|(l, _)| l.is_ipv4() == addr.is_ipv4())
            .map(|(_, s)| s);
        let (socket, to) = match (same, addr) {
            (Some(s), _) => (s, addr),
            (None, SocketAddr::V4(v4)) => {
                let dual = udp
                    .iter()
                    .find(|(l, _)| l.ip().is_unspecified())
                    .map(|(_, s)| s)
                    .ok_or(Error::TransportDisabled(TransportKind::Udp))?;
                let mapped = SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port());
                (dual, mapped)
            }
            (None, SocketAddr::V6(_)) => return Err(Error::TransportDisabled(TransportKind::Udp)),
        };
        socket
            .send_to(msg, to)
            .await
            .map(drop)
            .map_err(|source| Error::SendDatagram { addr, source })
    }

    /// Pings the connection to `target` at the pace its peer asked for instead of
    /// [`TransportConfig::keepalive_interval`](crate::TransportConfig::keepalive_interval):
    /// each CRLF CRLF ping a random 80–100 % of `every` after the one before (RFC 5626 §4.4.1:
    /// a registrar's `Flow-Timer`; 1 s to a day), each pong owed within
    /// [`keepalive_timeout`](crate::TransportConfig::keepalive_timeout) as before. `None`
    /// returns to the configured interval. Applies to the live connection [`send`](Self::send)
    /// would use for `target` now, whichever side opened it, for as long as it lives: a new
    /// connection starts at the configured interval. Returns that connection;
    /// [`Error::NotConnected`] if there is none (or `target` is UDP).
    ///
    /// ```
    /// use std::time::Duration;
    /// use sip_transport::{Error, Target, Transport, TransportConfig};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let (transport, _events) = Transport::bind(TransportConfig::default()).await?;
    /// let registrar = Target::tcp("127.0.0.1:5060".parse()?);
    /// // Nothing connected there yet: a registrar's Flow-Timer comes once its 2xx arrived.
    /// let refused = transport.set_keepalive(&registrar, Some(Duration::from_secs(25)));
    /// assert!(matches!(refused, Err(Error::NotConnected(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn set_keepalive(&self, target: &Target, every: Option<Duration>) -> Result<ConnectionId> {
        let h = Some(target)
            .filter(|t| t.transport != TransportKind::Udp)
            .and_then(|t| self.shared.lookup(t.transport, t.addr))
            .ok_or_else(|| Error::NotConnected(target.clone()))?;
        let (shortest, longest) = stream::PING_INTERVALS;
        let every = every.map(|d| d.clamp(shortest, longest));
        h.ping.send_if_modified(|pace| {
            let changed = *pace != every;
            *pace = every;
            changed
        });
        Ok(h.id)
    }

    /// Vouches for inbound connection `id`: its peer authenticated (a digest the server
    /// checked), so the connection limit never closes it to make room
    /// ([`TransportConfig::evict_untrusted`](crate::TransportConfig::evict_untrusted)).
    /// Unknown or outbound ids are ignored.
    pub fn trust(&self, id: ConnectionId) {
        let mut c = self.shared.conns();
        if let Some(seq) = c.untrusted_seq.remove(&id) {
            c.untrusted.remove(&seq);
        }
    }

    /// Closes a stream connection; its [`TransportEvent::ConnectionClosed`] follows.
    pub fn close(&self, id: ConnectionId) {
        // Dropping the last sender ends the connection task, which reports the close.
        self.shared.conns().close(id);
    }

    /// Every bound local address, with its transport (ports resolved when bound to port 0).
    pub fn local_addrs(&self) -> &[(TransportKind, SocketAddr)] {
        &self.shared.local
    }

    /// The first local address bound for `kind`.
    pub fn local_addr(&self, kind: TransportKind) -> Option<SocketAddr> {
        self.shared
            .local
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|&(_, a)| a)
    }

    /// How many stream connections are live.
    pub fn connection_count(&self) -> usize {
        self.shared.conns().by_id.len()
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            datagrams_received: get(&c.datagrams_received),
            datagrams_dropped: get(&c.datagrams_dropped),
            stream_messages_received: get(&c.stream_messages_received),
            connections_opened: get(&c.connections_opened),
            connections_refused: get(&c.connections_refused),
            connections_evicted: get(&c.connections_evicted),
            connections_timed_out: get(&c.connections_timed_out),
            connections_closed_bad_framing: get(&c.connections_closed_bad_framing),
            tls_handshake_failures: get(&c.tls_handshake_failures),
            pongs_sent: get(&c.pongs_sent),
        }
    }

    /// Stops every listener and closes every connection (each reported as closed with
    /// [`CloseReason::Shutdown`](crate::CloseReason::Shutdown)), as dropping the last handle does.
    pub fn shutdown(&self) {
        let _ = self.guard.0.send(true);
    }
}

async fn bind_tcp(kind: TransportKind, addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|source| Error::Bind {
        transport: kind,
        addr,
        source,
    })
}
