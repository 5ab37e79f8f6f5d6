//! Where a message goes: transport kind, address and TLS server name.

use std::fmt;
use std::net::SocketAddr;

/// A SIP transport protocol (RFC 3261 §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransportKind {
    /// Datagrams; one message per datagram.
    Udp,
    /// A TCP byte stream framed by Content-Length.
    Tcp,
    /// TCP with TLS (rustls), framed like TCP.
    Tls,
}

impl TransportKind {
    /// The default port: 5061 for TLS, 5060 otherwise (RFC 3261 §19.1.2).
    pub fn default_port(self) -> u16 {
        match self {
            TransportKind::Tls => 5061,
            TransportKind::Udp | TransportKind::Tcp => 5060,
        }
    }

    /// Whether the transport is a reliable stream (no retransmissions, RFC 3261 §17.1.1.2).
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

/// A destination: the transport, the socket address, and for TLS the name the server's
/// certificate must match (the SIP domain or host, RFC 5922 §7.2). Without a server name a TLS
/// connection verifies the certificate against the IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// How to reach it.
    pub transport: TransportKind,
    /// The remote address.
    pub addr: SocketAddr,
    /// For TLS: the name to verify the server certificate against.
    pub server_name: Option<String>,
}

impl Target {
    /// A UDP target.
    pub fn udp(addr: SocketAddr) -> Self {
        Self {
            transport: TransportKind::Udp,
            addr,
            server_name: None,
        }
    }

    /// A TCP target.
    pub fn tcp(addr: SocketAddr) -> Self {
        Self {
            transport: TransportKind::Tcp,
            addr,
            server_name: None,
        }
    }

    /// A TLS target whose certificate must be valid for `server_name`.
    pub fn tls(addr: SocketAddr, server_name: impl Into<String>) -> Self {
        Self {
            transport: TransportKind::Tls,
            addr,
            server_name: Some(server_name.into()),
        }
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

/// Identifies one stream connection for the life of a [`Transport`](crate::Transport);
/// never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub(crate) u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}
