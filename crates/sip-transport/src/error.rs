//! The crate's error type.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::{ConnectionId, Target, TransportKind};

/// Everything that can go wrong in this crate; each variant says where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A listener could not be bound (address in use, permission, no IPv6…).
    #[error("binding {transport} listener on {addr}: {source}")]
    Bind {
        /// Which listener.
        transport: TransportKind,
        /// The requested address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// No listener or client configuration for this transport: bind one, or for TLS set
    /// [`TransportConfig::tls_client`](crate::TransportConfig::tls_client).
    #[error("transport {0} is not enabled on this handle")]
    TransportDisabled(TransportKind),
    /// Connecting to a stream target failed or timed out.
    #[error("connecting to {target}: {source}")]
    Connect {
        /// The target.
        target: Target,
        /// The OS error (`TimedOut` for the connect timeout).
        #[source]
        source: io::Error,
    },
    /// The TLS handshake with a target failed (certificate not trusted, wrong name, protocol).
    #[error("TLS handshake with {target}: {source}")]
    TlsHandshake {
        /// The target.
        target: Target,
        /// What rustls reported.
        #[source]
        source: io::Error,
    },
    /// The server name of a TLS target is not a valid DNS name or IP address.
    #[error("invalid TLS server name {name:?} for {addr}")]
    InvalidServerName {
        /// The name given.
        name: String,
        /// The target address.
        addr: SocketAddr,
    },
    /// Sending a datagram failed.
    #[error("sending UDP datagram to {addr}: {source}")]
    SendDatagram {
        /// The destination.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The message is larger than the configured maximum; it was not sent.
    #[error("message of {len} bytes to {target} exceeds the limit of {max}")]
    MessageTooLarge {
        /// Where it was going.
        target: Target,
        /// Its size.
        len: usize,
        /// The limit ([`sip_parse::ParseConfig::max_message_size`]).
        max: usize,
    },
    /// The connection closed before the message could be handed to it; a new send reconnects.
    #[error("{id} to {remote} is closed")]
    ConnectionClosed {
        /// The connection.
        id: ConnectionId,
        /// Its remote address.
        remote: SocketAddr,
    },
    /// No live connection has this id.
    #[error("no live connection {0}")]
    NoSuchConnection(ConnectionId),
    /// No live stream connection goes to this target (or it is a UDP target).
    #[error("no live connection to {0}")]
    NotConnected(Target),
    /// The transport has been shut down.
    #[error("the transport has shut down")]
    Shutdown,
    /// A PEM file could not be read or holds nothing usable.
    #[error("reading {what} from {path}: {reason}")]
    Pem {
        /// What was expected (certificate, private key, CA).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused a configuration (bad key, no usable protocol versions…).
    #[error("TLS configuration: {0}")]
    TlsConfig(#[from] rustls::Error),
    /// A name or URI to resolve is not usable (no host, not a SIP URI, bad transport).
    #[error("cannot locate {input:?}: {reason}")]
    BadDestination {
        /// The input.
        input: String,
        /// Why.
        reason: &'static str,
    },
    /// DNS failed for a name (server failure, timeout); "no records" is not an error.
    #[error("DNS lookup of {name} ({rtype}): {reason}")]
    Dns {
        /// The queried name.
        name: String,
        /// The record type.
        rtype: &'static str,
        /// The resolver's message.
        reason: String,
    },
    /// A datagram that looked like STUN is not a well-formed Binding message (RFC 8489).
    #[error("STUN message, byte {offset}: {what}")]
    Stun {
        /// Where in the datagram.
        offset: usize,
        /// What was wrong.
        what: &'static str,
    },
    /// RFC 3263 location found no address for the destination: the name exists, but has no
    /// usable SRV or address records.
    #[error("no address found for {0}")]
    NotFound(String),
    /// DNS says the name does not exist (NXDOMAIN).
    #[error("no such name: {0}")]
    NoSuchName(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
