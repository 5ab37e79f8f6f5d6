//! Where messages go and come from, as far as the sans-IO core needs to know.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

/// A SIP transport protocol (RFC 3261 §18). Only reliability matters to transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: unreliable, so transactions retransmit (timers A, E, G).
    Udp,
    /// TCP: reliable.
    Tcp,
    /// TLS over TCP: reliable.
    Tls,
}

impl Transport {
    /// Whether the transport delivers reliably (RFC 3261 §17.1.1.2: no retransmissions, and
    /// timers D, I, J, K are zero).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Transport::Udp)
    }

    /// The name used in a Via header (`UDP`, `TCP`, `TLS`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A peer: the destination of a request, or the source of a received message (where responses
/// go back, RFC 3261 §18.2.2 and RFC 3581; the driver reuses the connection it came on).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport protocol.
    pub transport: Transport,
    /// The remote address.
    pub addr: SocketAddr,
    /// The name to verify a TLS server certificate against (the SIP domain or host).
    pub server_name: Option<Arc<str>>,
}

impl Target {
    /// A UDP peer.
    pub fn udp(addr: SocketAddr) -> Self {
        Self {
            transport: Transport::Udp,
            addr,
            server_name: None,
        }
    }

    /// A TCP peer.
    pub fn tcp(addr: SocketAddr) -> Self {
        Self {
            transport: Transport::Tcp,
            addr,
            server_name: None,
        }
    }

    /// A TLS peer whose certificate must name `server_name`.
    pub fn tls(addr: SocketAddr, server_name: &str) -> Self {
        Self {
            transport: Transport::Tls,
            addr,
            server_name: Some(server_name.into()),
        }
    }

    /// Whether the transport is reliable.
    pub fn is_reliable(&self) -> bool {
        self.transport.is_reliable()
    }
}

/// A message to send, from [`TransactionLayer::poll_transmit`](crate::TransactionLayer::poll_transmit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The whole message, ready for the wire.
    pub payload: Bytes,
    /// Where to send it.
    pub target: Target,
    /// Whether the transport is reliable (a stream: frame it, expect no retransmission).
    pub reliable: bool,
}
