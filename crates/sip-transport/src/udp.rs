//! The UDP receive loop: one datagram, one message, or one STUN keep-alive (RFC 5626 §4.4.1).

use std::sync::Arc;

use bytes::Bytes;
use sip_parse::{Message, TopVia};
use tokio::net::UdpSocket;

use crate::handle::{Shared, bump};
use crate::stun::{self, StunMessage};
use crate::{Incoming, StunIncoming, TransportEvent, TransportKind, stamp_top_via};

/// The receive buffer asked of every UDP socket (the kernel may grant less: Linux caps it at
/// `net.core.rmem_max`, and doubles what it grants for its own bookkeeping).
pub(crate) const UDP_RECEIVE_BUFFER: usize = 1024 * 1024;

/// Asks for a [`UDP_RECEIVE_BUFFER`] receive buffer on `socket`, and returns what it has.
///
/// The OS default (208 KiB on Linux) holds about nine 23 KB datagrams: a list NOTIFY burst
/// (RFC 4662; Kamailio's `rls` sends the 19 NOTIFYs of a 10,000-buddy list's full state
/// within 5 ms) overflowed it, the NOTIFYs lost made the list arrive out of order, and every
/// re-subscription met the same burst (found by `benches` `rls-vs-buddies`). A failure only
/// leaves the default, so it is logged, not returned.
pub(crate) fn enlarge_receive_buffer(socket: &UdpSocket, local: std::net::SocketAddr) -> usize {
    let sock = socket2::SockRef::from(socket);
    if let Err(e) = sock.set_recv_buffer_size(UDP_RECEIVE_BUFFER) {
        tracing::debug!(%local, error = %e, "UDP receive buffer left at the OS default");
    }
    sock.recv_buffer_size().unwrap_or(0)
}

/// Receives until shutdown. Oversized and malformed datagrams are dropped and counted; socket
/// errors (e.g. ICMP unreachable reported on Linux) are logged and the loop goes on.
pub(crate) async fn receive_loop(shared: Arc<Shared>, socket: Arc<UdpSocket>) {
    let cfg = &shared.cfg;
    let local = match socket.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "UDP socket has no local address; not receiving");
            return;
        }
    };
    // One byte more than the limit, so an oversized datagram is seen as such, not truncated.
    let mut buf = vec![0u8; cfg.parse.max_message_size.saturating_add(1).min(65_536)];
    let mut shutdown = shared.shutdown.clone();
    if *shutdown.borrow() {
        return;
    }
    loop {
        let (len, source) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(%local, error = %e, "UDP receive error");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let raw_source = source;
        let source = crate::stream::canonical(source);
        let Some(data) = buf.get(..len) else { continue };
        // RFC 5626 §3.5.1 keep-alives on UDP are STUN; a bare CRLF is harmless noise.
        if data.iter().all(|&b| b == b'\r' || b == b'\n') {
            continue;
        }
        if stun::is_stun(data) {
            match stun::parse(data) {
                // A STUN server on the SIP port, as RFC 5626 §8.2 asks of an edge proxy.
                Ok(StunMessage::Request { id }) => {
                    let reply = stun::binding_success(id, source);
                    if let Err(e) = socket.send_to(&reply, raw_source).await {
                        tracing::debug!(%source, error = %e, "STUN response not sent");
                    }
                }
                Ok(message) => {
                    let event = TransportEvent::Stun(StunIncoming {
                        message,
                        source,
                        local,
                    });
                    if shared.events.send(event).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    bump(&shared.counters.datagrams_dropped);
                    tracing::debug!(%source, error = %e, "dropping malformed STUN datagram");
                }
            }
            continue;
        }
        if len > cfg.parse.max_message_size {
            bump(&shared.counters.datagrams_dropped);
            tracing::debug!(%source, len, "dropping oversized datagram");
            continue;
        }
        let msg = match Message::parse_with(Bytes::copy_from_slice(data), &cfg.parse) {
            Ok(m) => m,
            Err(e) => {
                bump(&shared.counters.datagrams_dropped);
                tracing::debug!(%source, error = %e, "dropping malformed datagram");
                continue;
            }
        };
        bump(&shared.counters.datagrams_received);
        let top_via = TopVia::read(&msg);
        let (message, top_via) = if cfg.stamp_via {
            stamp_top_via(msg, top_via, source, &cfg.parse)
        } else {
            (msg, top_via)
        };
        let event = TransportEvent::Message(Incoming {
            message,
            top_via,
            transport: TransportKind::Udp,
            source,
            local,
            connection: None,
        });
        if shared.events.send(event).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the kernel lets an unprivileged socket have (`net.core.rmem_max`), where it says.
    fn rmem_max() -> Option<usize> {
        std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    #[tokio::test]
    async fn udp_sockets_ask_for_a_receive_buffer_that_holds_a_list_notify_burst() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let default = socket2::SockRef::from(&socket).recv_buffer_size().unwrap();
        let local = socket.local_addr().unwrap();
        let granted = enlarge_receive_buffer(&socket, local);
        assert!(granted >= default, "{granted} < {default}");
        if let Some(max) = rmem_max() {
            // Linux grants min(asked, rmem_max), doubled.
            assert!(
                granted >= UDP_RECEIVE_BUFFER.min(max),
                "granted {granted}, asked {UDP_RECEIVE_BUFFER}, rmem_max {max}"
            );
        }
    }
}
