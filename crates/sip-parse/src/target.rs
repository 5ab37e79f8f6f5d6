//! Where a message goes or came from: the transport and the peer's address.
//!
//! Defined here, in the lowest crate, so that the sans-IO transaction layer and the socket
//! layer above it speak of the same [`Target`] without depending on each other.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// A SIP transport protocol (RFC 3261 §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransportKind {
    /// Datagrams; one message per datagram; transactions retransmit (timers A, E, G).
    Udp,
    /// A TCP byte stream framed by Content-Length.
    Tcp,
    /// TCP with TLS, framed like TCP.
    Tls,
}

impl TransportKind {
    /// The default port: 5061 for TLS, 5060 otherwise (RFC 3261 §19.1.2).
    ///
    /// ```
    /// assert_eq!(sip_parse::TransportKind::Tls.default_port(), 5061);
    /// ```
    pub fn default_port(self) -> u16 {
        match self {
            TransportKind::Tls => 5061,
            TransportKind::Udp | TransportKind::Tcp => 5060,
        }
    }

    /// Whether the transport delivers reliably: no retransmissions, and timers D, I, J and K
    /// are zero (RFC 3261 §17.1.1.2, §17.2.1).
    pub fn is_reliable(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }

    /// The Via transport token (`UDP`, `TCP`, `TLS`).
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
        }
    }

    /// Parses a Via transport token or `transport=` URI parameter, case-insensitively.
    ///
    /// ```
    /// use sip_parse::TransportKind;
    /// assert_eq!(TransportKind::from_token("tcp"), Some(TransportKind::Tcp));
    /// assert_eq!(TransportKind::from_token("SCTP"), None);
    /// ```
    pub fn from_token(token: &str) -> Option<Self> {
        [TransportKind::Udp, TransportKind::Tcp, TransportKind::Tls]
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(token))
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A peer: the destination of a request, or the source of a received message (where responses
/// go back, RFC 3261 §18.2.2 and RFC 3581). For TLS, `server_name` is the name the server's
/// certificate must match (the SIP domain or host, RFC 5922 §7.2); without it the certificate
/// is verified against the IP address.
///
/// ```
/// use sip_parse::{Target, TransportKind};
/// let t = Target::tls("192.0.2.1:5061".parse().unwrap(), "example.com");
/// assert_eq!(t.transport, TransportKind::Tls);
/// assert_eq!(t.to_string(), "TLS 192.0.2.1:5061 (example.com)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// How to reach it.
    pub transport: TransportKind,
    /// The remote address.
    pub addr: SocketAddr,
    /// For TLS: the name to verify the server certificate against.
    pub server_name: Option<Arc<str>>,
}

impl Target {
    /// A UDP peer.
    pub fn udp(addr: SocketAddr) -> Self {
        Self::new(TransportKind::Udp, addr)
    }

    /// A TCP peer.
    pub fn tcp(addr: SocketAddr) -> Self {
        Self::new(TransportKind::Tcp, addr)
    }

    /// A TLS peer whose certificate must be valid for `server_name`.
    pub fn tls(addr: SocketAddr, server_name: impl Into<Arc<str>>) -> Self {
        Self {
            server_name: Some(server_name.into()),
            ..Self::new(TransportKind::Tls, addr)
        }
    }

    /// A peer over `transport` without a TLS server name.
    pub fn new(transport: TransportKind, addr: SocketAddr) -> Self {
        Self {
            transport,
            addr,
            server_name: None,
        }
    }

    /// Whether the transport is reliable.
    pub fn is_reliable(&self) -> bool {
        self.transport.is_reliable()
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.transport, self.addr)?;
        if let Some(name) = &self.server_name {
            write!(f, " ({name})")?;
        }
        Ok(())
    }
}
