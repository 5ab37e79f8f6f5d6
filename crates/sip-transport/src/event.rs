//! What a [`Transport`](crate::Transport) reports upward.

use std::fmt;
use std::net::SocketAddr;

use sip_parse::{Message, ParseError, TopVia};

use crate::stun::StunMessage;
use crate::{ConnectionId, Target, TransportKind};

/// A message that arrived, with where it came from.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The parsed message; requests carry `received`/`rport` on the top Via when
    /// [`TransportConfig::stamp_via`](crate::TransportConfig::stamp_via) is on.
    pub message: Message,
    /// The message's top Via, read once here for every layer above: the stamping, transaction
    /// matching (`sip-txn` takes it with the message) and response routing all use this one
    /// parse ([`TopVia::view`]). An error when the message has no readable top Via.
    pub top_via: Result<TopVia, ParseError>,
    /// The transport it came on.
    pub transport: TransportKind,
    /// The peer's address (after NAT, as seen here).
    pub source: SocketAddr,
    /// The local socket address it arrived at.
    pub local: SocketAddr,
    /// The stream connection, `None` for UDP.
    pub connection: Option<ConnectionId>,
}

impl Incoming {
    /// Where a response goes back to: the same transport and source address, so on streams the
    /// same connection is reused while it lives (RFC 3261 §18.2.2).
    pub fn reply_target(&self) -> Target {
        Target {
            transport: self.transport,
            addr: self.source,
            server_name: None,
        }
    }
}

/// A STUN Binding response that arrived on a UDP socket (requests are answered by the
/// transport itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StunIncoming {
    /// The response.
    pub message: StunMessage,
    /// Who sent it.
    pub source: SocketAddr,
    /// The local socket it arrived at.
    pub local: SocketAddr,
}

/// Why a stream connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed it cleanly (EOF).
    PeerClosed,
    /// Reading or writing failed (reset, broken pipe…): the message in flight may be lost.
    Broken(String),
    /// The peer sent bytes that are not SIP, or a message over the size limit.
    BadFraming(ParseError),
    /// Nothing was exchanged for the idle timeout.
    IdleTimeout,
    /// A message did not arrive whole within
    /// [`TransportConfig::message_timeout`](crate::TransportConfig::message_timeout) of its
    /// first byte, or an inbound connection delivered no message that long after it opened.
    MessageTimeout,
    /// A CRLF keep-alive ping went unanswered (RFC 5626 §4.4.1).
    KeepaliveTimeout,
    /// Closed locally with [`Transport::close`](crate::Transport::close).
    LocalClose,
    /// The transport shut down.
    Shutdown,
}

impl CloseReason {
    /// Whether in-flight transactions on the connection should fail now (anything but an
    /// orderly local close).
    pub fn is_failure(&self) -> bool {
        !matches!(
            self,
            CloseReason::IdleTimeout | CloseReason::LocalClose | CloseReason::Shutdown
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::PeerClosed => f.write_str("closed by peer"),
            CloseReason::Broken(e) => write!(f, "broken: {e}"),
            CloseReason::BadFraming(e) => write!(f, "bad framing: {e}"),
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
            CloseReason::MessageTimeout => f.write_str("message not received whole in time"),
            CloseReason::KeepaliveTimeout => f.write_str("keep-alive pong timeout"),
            CloseReason::LocalClose => f.write_str("closed locally"),
            CloseReason::Shutdown => f.write_str("transport shut down"),
        }
    }
}

/// One report from the transport, in arrival order.
#[derive(Debug, Clone)]
#[non_exhaustive]
// Messages are nearly every event, so boxing them would cost an allocation per message to
// shrink the rare connection events.
#[allow(clippy::large_enum_variant)]
pub enum TransportEvent {
    /// A SIP message arrived.
    Message(Incoming),
    /// A STUN Binding response arrived on UDP: a keep-alive's answer (RFC 5626 §4.4.1).
    Stun(StunIncoming),
    /// A stream connection was established (accepted, or opened by a send).
    ConnectionOpened {
        /// Its id.
        id: ConnectionId,
        /// TCP or TLS.
        transport: TransportKind,
        /// The peer.
        remote: SocketAddr,
        /// Whether the peer opened it.
        inbound: bool,
    },
    /// A stream connection ended; transactions waiting on it can fail at once
    /// (RFC 3261 §18.4) instead of waiting for Timer B/F.
    ConnectionClosed {
        /// Its id.
        id: ConnectionId,
        /// TCP or TLS.
        transport: TransportKind,
        /// The peer.
        remote: SocketAddr,
        /// Why.
        reason: CloseReason,
    },
}

/// Counters since the transport started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams delivered as messages.
    pub datagrams_received: u64,
    /// Datagrams dropped: malformed, or over the size limit.
    pub datagrams_dropped: u64,
    /// Messages delivered from streams.
    pub stream_messages_received: u64,
    /// Stream connections opened (both directions).
    pub connections_opened: u64,
    /// Inbound connections refused at
    /// [`TransportConfig::max_connections`](crate::TransportConfig::max_connections) or
    /// [`TransportConfig::max_connections_per_source`](crate::TransportConfig::max_connections_per_source).
    pub connections_refused: u64,
    /// Inbound connections closed, before they delivered any message, to make room for a new
    /// one at [`TransportConfig::max_connections`](crate::TransportConfig::max_connections).
    pub connections_evicted: u64,
    /// Connections closed because a message did not arrive whole in time
    /// ([`TransportConfig::message_timeout`](crate::TransportConfig::message_timeout)).
    pub connections_timed_out: u64,
    /// Stream connections closed for malformed or oversized input.
    pub connections_closed_bad_framing: u64,
    /// Inbound TLS handshakes that failed.
    pub tls_handshake_failures: u64,
    /// CRLF keep-alive pongs sent in answer to pings.
    pub pongs_sent: u64,
}
