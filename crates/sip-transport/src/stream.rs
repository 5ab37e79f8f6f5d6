//! TCP and TLS connections: accepting, connecting, framing, keep-alive, idle timeout, and
//! reporting every close upward.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sip_parse::StreamFramer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_rustls::TlsAcceptor;

use crate::admission::{self, Slot};
use crate::handle::{ConnHandle, Shared, bump};
use crate::{
    CloseReason, ConnectionId, Error, Incoming, Result, Target, TransportEvent, TransportKind,
    stamp_top_via, tls,
};

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;
/// The most CRLF pongs answered per read, so a flood of CRLFs cannot make us write more than it.
const MAX_PONGS_PER_READ: usize = 4;
/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// How long a closing connection may take to flush and send its TLS close_notify.
const CLOSE_GRACE: Duration = Duration::from_millis(500);
/// The shortest and longest ping intervals a peer may ask for
/// ([`crate::Transport::set_keepalive`]).
pub(crate) const PING_INTERVALS: (Duration, Duration) =
    (Duration::from_secs(1), Duration::from_secs(86_400));

/// Accepts connections until shutdown; TLS handshakes run in their own tasks so a slow client
/// cannot hold up the listener. Errors never end the loop.
pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
) {
    let kind = if acceptor.is_some() {
        TransportKind::Tls
    } else {
        TransportKind::Tcp
    };
    let mut shutdown = shared.shutdown.clone();
    if *shutdown.borrow() {
        return;
    }
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (tcp, remote) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(%kind, error = %e, "accept failed; retrying");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d; key them as IPv4.
        let remote = canonical(remote);
        let Some(slot) = admission::admit(&shared, remote.ip()) else {
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().map(canonical).unwrap_or(remote);
        let shared = shared.clone();
        match &acceptor {
            None => {
                spawn_connection(shared, tcp, kind, remote, local, Some(slot));
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let limit = shared.cfg.connect_timeout;
                    let handshake = tokio::select! {
                        h = timeout(limit, acceptor.accept(tcp)) => h,
                        _ = slot.cancelled() => {
                            tracing::info!(%remote, "TLS handshake abandoned at the connection limit");
                            return;
                        }
                    };
                    match handshake {
                        Ok(Ok(tls)) => {
                            spawn_connection(shared, tls, kind, remote, local, Some(slot));
                        }
                        Ok(Err(e)) => {
                            bump(&shared.counters.tls_handshake_failures);
                            tracing::info!(%remote, error = %e, "TLS handshake failed");
                        }
                        Err(_) => {
                            bump(&shared.counters.tls_handshake_failures);
                            tracing::info!(%remote, "TLS handshake timed out");
                        }
                    }
                });
            }
        }
    }
}

/// The address with an IPv4-mapped IPv6 address turned into IPv4.
pub(crate) fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

/// Opens a connection to a TCP or TLS target within the connect timeout.
pub(crate) async fn connect(shared: &Arc<Shared>, target: &Target) -> Result<ConnHandle> {
    let limit = shared.cfg.connect_timeout;
    let timed_out = || std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out");
    let connector = match target.transport {
        TransportKind::Tls => Some(
            shared
                .tls_connector()
                .ok_or(Error::TransportDisabled(TransportKind::Tls))?
                .clone(),
        ),
        _ => None,
    };
    let name = match connector {
        Some(_) => Some(tls::server_name(
            target.server_name.as_deref(),
            target.addr,
        )?),
        None => None,
    };
    let start = Instant::now();
    let tcp = match timeout(limit, TcpStream::connect(target.addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(source)) => {
            return Err(Error::Connect {
                target: target.clone(),
                source,
            });
        }
        Err(_) => {
            return Err(Error::Connect {
                target: target.clone(),
                source: timed_out(),
            });
        }
    };
    let _ = tcp.set_nodelay(true);
    let local = tcp.local_addr().unwrap_or(target.addr);
    let remote = target.addr;
    match (connector, name) {
        (Some(connector), Some(name)) => {
            let left = limit.saturating_sub(start.elapsed());
            let tls = match timeout(left, connector.connect(name, tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(source)) => {
                    return Err(Error::TlsHandshake {
                        target: target.clone(),
                        source,
                    });
                }
                Err(_) => {
                    return Err(Error::TlsHandshake {
                        target: target.clone(),
                        source: timed_out(),
                    });
                }
            };
            Ok(spawn_connection(
                shared.clone(),
                tls,
                TransportKind::Tls,
                remote,
                local,
                None,
            ))
        }
        _ => Ok(spawn_connection(
            shared.clone(),
            tcp,
            TransportKind::Tcp,
            remote,
            local,
            None,
        )),
    }
}

/// Registers a connection and starts its task; an inbound one comes with its admission `slot`.
fn spawn_connection<S>(
    shared: Arc<Shared>,
    stream: S,
    kind: TransportKind,
    remote: SocketAddr,
    local: SocketAddr,
    mut slot: Option<Slot>,
) -> ConnHandle
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (tx, rx) = mpsc::channel(shared.cfg.send_queue.max(1));
    let (ping, pace) = watch::channel(None);
    let id = shared.register(kind, remote, tx.clone(), ping.clone(), slot.as_mut());
    let conn = Connection {
        shared,
        id,
        kind,
        remote,
        local,
        inbound: slot.is_some(),
        slot,
    };
    tokio::spawn(conn.run(stream, rx, pace));
    ConnHandle { id, tx, ping }
}

struct Connection {
    shared: Arc<Shared>,
    id: ConnectionId,
    kind: TransportKind,
    remote: SocketAddr,
    local: SocketAddr,
    inbound: bool,
    /// An inbound connection's place in the limits, given back when it ends.
    slot: Option<Slot>,
}

impl Connection {
    async fn run<S>(
        self,
        stream: S,
        rx: mpsc::Receiver<Bytes>,
        pace: watch::Receiver<Option<Duration>>,
    ) where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let _ = self
            .shared
            .events
            .send(TransportEvent::ConnectionOpened {
                id: self.id,
                transport: self.kind,
                remote: self.remote,
                inbound: self.inbound,
            })
            .await;
        tracing::debug!(id = %self.id, remote = %self.remote, kind = %self.kind, inbound = self.inbound, "connection open");
        let (mut rd, mut wr) = tokio::io::split(stream);
        let reason = self.serve(&mut rd, &mut wr, rx, pace).await;
        let _ = timeout(CLOSE_GRACE, wr.shutdown()).await;
        self.shared.unregister(self.id, self.kind, self.remote);
        if let CloseReason::BadFraming(e) = &reason {
            bump(&self.shared.counters.connections_closed_bad_framing);
            tracing::warn!(id = %self.id, remote = %self.remote, error = %e, "closing connection: malformed stream");
        } else {
            tracing::debug!(id = %self.id, remote = %self.remote, %reason, "connection closed");
        }
        let _ = self
            .shared
            .events
            .send(TransportEvent::ConnectionClosed {
                id: self.id,
                transport: self.kind,
                remote: self.remote,
                reason,
            })
            .await;
    }

    /// The connection's life; returns why it ended. `pace` is the ping interval the peer asked
    /// for, if any.
    async fn serve<R, W>(
        &self,
        rd: &mut R,
        wr: &mut W,
        mut rx: mpsc::Receiver<Bytes>,
        mut pace: watch::Receiver<Option<Duration>>,
    ) -> CloseReason
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let cfg = &self.shared.cfg;
        let mut shutdown = self.shared.shutdown.clone();
        if *shutdown.borrow() {
            return CloseReason::Shutdown;
        }
        let mut buf = BytesMut::with_capacity(READ_CHUNK);
        let mut framer = StreamFramer::new(cfg.parse);
        let mut last_activity = Instant::now();
        // Only the side that opened the connection pings (RFC 5626 §3.5.1: the client), unless
        // asked to.
        let configured = cfg.keepalive_interval.filter(|_| !self.inbound);
        let mut asked: Option<Duration> = None;
        let mut pace_open = true;
        let mut last_ping = Instant::now();
        let mut next_ping = ping_wait(configured, None).map(|d| last_ping + d);
        let mut pong_deadline: Option<Instant> = None;
        let mut crlf_carry = 0usize;
        let far = || Instant::now() + Duration::from_secs(86_400);
        // Slowloris: an inbound connection owes its first message, and every message is owed
        // whole, `message_timeout` after it starts. Partial bytes do not reset the idle timer.
        let mut first_message_by = self.inbound.then(|| Instant::now() + cfg.message_timeout);
        let mut message_by: Option<Instant> = None;

        loop {
            let idle_at = cfg.idle_timeout.map(|d| last_activity + d);
            let deadline = match (first_message_by, message_by) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tokio::select! {
                r = async { buf.reserve(READ_CHUNK); rd.read_buf(&mut buf).await } => {
                    match r {
                        Ok(0) => return CloseReason::PeerClosed,
                        Err(e) => return CloseReason::Broken(e.to_string()),
                        Ok(_) => {}
                    }
                    loop {
                        match framer.next_message(&mut buf) {
                            Ok(Some(msg)) => {
                                last_activity = Instant::now();
                                message_by = None;
                                if first_message_by.take().is_some()
                                    && let Some(slot) = &self.slot
                                {
                                    slot.proven();
                                }
                                self.deliver(msg).await;
                            }
                            Ok(None) => break,
                            Err(e) => return CloseReason::BadFraming(e),
                        }
                    }
                    if buf.is_empty() {
                        message_by = None;
                    } else if message_by.is_none() {
                        message_by = Some(Instant::now() + cfg.message_timeout);
                    }
                    let mut crlfs = framer.take_keepalives();
                    if crlfs > 0 {
                        last_activity = Instant::now();
                    }
                    if crlfs > 0 && pong_deadline.take().is_some() {
                        crlfs -= 1; // the pong to our ping
                    }
                    crlf_carry += crlfs;
                    let pongs = (crlf_carry / 2).min(MAX_PONGS_PER_READ);
                    crlf_carry %= 2;
                    for _ in 0..pongs {
                        if let Err(e) = self.write(wr, b"\r\n").await {
                            return e;
                        }
                        bump(&self.shared.counters.pongs_sent);
                    }
                }
                m = rx.recv() => match m {
                    Some(bytes) => {
                        if let Err(e) = self.write(wr, &bytes).await {
                            return e;
                        }
                        last_activity = Instant::now();
                    }
                    // Every sender is gone: the handle closed this connection.
                    None => return CloseReason::LocalClose,
                },
                _ = sleep_until(next_ping.unwrap_or_else(far)), if next_ping.is_some() => {
                    if let Err(e) = self.write(wr, b"\r\n\r\n").await {
                        return e;
                    }
                    if pong_deadline.is_none() {
                        pong_deadline = Some(Instant::now() + cfg.keepalive_timeout);
                    }
                    last_ping = Instant::now();
                    next_ping = ping_wait(configured, asked).map(|d| last_ping + d);
                }
                changed = pace.changed(), if pace_open => match changed {
                    Ok(()) => {
                        asked = *pace.borrow_and_update();
                        // Counted from the last ping: a longer pace does not leave a gap
                        // longer than it asks for.
                        next_ping = ping_wait(configured, asked).map(|d| last_ping + d);
                    }
                    Err(_) => pace_open = false,
                },
                _ = sleep_until(pong_deadline.unwrap_or_else(far)), if pong_deadline.is_some() => {
                    return CloseReason::KeepaliveTimeout;
                }
                _ = sleep_until(idle_at.unwrap_or_else(far)), if idle_at.is_some() => {
                    return CloseReason::IdleTimeout;
                }
                _ = sleep_until(deadline.unwrap_or_else(far)), if deadline.is_some() => {
                    bump(&self.shared.counters.connections_timed_out);
                    return CloseReason::MessageTimeout;
                }
                _ = shutdown.changed() => return CloseReason::Shutdown,
            }
        }
    }

    async fn write<W: AsyncWrite + Unpin>(
        &self,
        wr: &mut W,
        bytes: &[u8],
    ) -> Result<(), CloseReason> {
        let done = async {
            wr.write_all(bytes).await?;
            wr.flush().await
        };
        match timeout(self.shared.cfg.write_timeout, done).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CloseReason::Broken(e.to_string())),
            Err(_) => Err(CloseReason::Broken("write timed out".into())),
        }
    }

    async fn deliver(&self, msg: sip_parse::Message) {
        bump(&self.shared.counters.stream_messages_received);
        let top_via = sip_parse::TopVia::read(&msg);
        let (message, top_via) = if self.shared.cfg.stamp_via {
            stamp_top_via(msg, top_via, self.remote, &self.shared.cfg.parse)
        } else {
            (msg, top_via)
        };
        let _ = self
            .shared
            .events
            .send(TransportEvent::Message(Incoming {
                message,
                top_via,
                transport: self.kind,
                source: self.remote,
                local: self.local,
                connection: Some(self.id),
            }))
            .await;
    }
}

/// The wait before the next ping: a random 80–100 % of the interval the peer asked for, else
/// of the configured one (RFC 5626 §4.4.1, so that clients behind one NAT, or started
/// together, do not ping in step).
fn ping_wait(configured: Option<Duration>, asked: Option<Duration>) -> Option<Duration> {
    asked
        .or(configured)
        .map(|d| d.mul_f64(f64::from(800 + crate::resolve::std_random(200)) / 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pace_asked_for_or_configured_is_jittered_within_80_to_100_percent() {
        let configured = Some(Duration::from_secs(50));
        assert_eq!(ping_wait(None, None), None);
        let within = |asked: Option<Duration>, low: u64, high: u64| {
            let waits: Vec<Duration> = (0..200)
                .map(|_| ping_wait(configured, asked).unwrap())
                .collect();
            let range = Duration::from_secs(low)..=Duration::from_secs(high);
            assert!(waits.iter().all(|w| range.contains(w)), "{waits:?}");
            // Spread, not one value.
            assert!(waits.iter().any(|w| *w != waits[0]), "{waits:?}");
        };
        within(Some(Duration::from_secs(10)), 8, 10);
        within(None, 40, 50);
    }
}
