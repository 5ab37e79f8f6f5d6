//! Why a send or a connection failed, as a type an application can act on: a certificate the
//! user must fix is not a server that is down.
//!
//! ```
//! use sip_transport::{Cause, Error, Target};
//!
//! let refused = Error::Connect {
//!     target: Target::tcp("192.0.2.9:5060".parse().unwrap()),
//!     source: std::io::ErrorKind::ConnectionRefused.into(),
//! };
//! assert_eq!(refused.cause(), Cause::Refused);
//! assert_eq!(Cause::TlsUnknownCa.to_string(), "the server's certificate is from an unknown CA");
//! ```

use std::fmt;
use std::io;

use crate::{CloseReason, Error};

/// The kind of a transport failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cause {
    /// The server's certificate chains to no trusted CA.
    TlsUnknownCa,
    /// The server's certificate does not name the server.
    TlsNameMismatch,
    /// The server's certificate has expired (or is not valid yet).
    TlsExpired,
    /// Another TLS failure (protocol, alert, unusable certificate).
    Tls,
    /// Nothing listens there (TCP RST to the SYN, ICMP port unreachable).
    Refused,
    /// The peer reset or broke the connection.
    Reset,
    /// The connection could not be made in time.
    TimedOut,
    /// DNS says the server's name does not exist (NXDOMAIN).
    DnsNoSuchName,
    /// The server's name exists but has no SRV or address records to reach it by
    /// (RFC 3263 §4).
    DnsNoRecords,
    /// The DNS lookup itself failed (no resolver, server failure, no answer).
    Dns,
    /// Anything else (local errors, framing, shutdown).
    Other,
}

impl Cause {
    /// Whether retrying without a change by the user can help: not for a certificate that is not
    /// trusted, names another server, or has expired.
    pub fn is_permanent(self) -> bool {
        matches!(
            self,
            Cause::TlsUnknownCa | Cause::TlsNameMismatch | Cause::TlsExpired
        )
    }

    fn of_io(e: &io::Error) -> Cause {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => Cause::Refused,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => Cause::Reset,
            io::ErrorKind::TimedOut => Cause::TimedOut,
            _ => Cause::Other,
        }
    }

    /// A TLS handshake's failure: rustls' certificate verdicts, carried inside the I/O error.
    fn of_tls(e: &io::Error) -> Cause {
        use rustls::CertificateError as C;
        let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
            return match Cause::of_io(e) {
                Cause::Other => Cause::Tls,
                io => io,
            };
        };
        match tls {
            rustls::Error::InvalidCertificate(C::UnknownIssuer) => Cause::TlsUnknownCa,
            rustls::Error::InvalidCertificate(C::NotValidForName)
            | rustls::Error::InvalidCertificate(C::NotValidForNameContext { .. }) => {
                Cause::TlsNameMismatch
            }
            rustls::Error::InvalidCertificate(
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. },
            ) => Cause::TlsExpired,
            _ => Cause::Tls,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::TlsUnknownCa => "the server's certificate is from an unknown CA",
            Cause::TlsNameMismatch => "the server's certificate is for another name",
            Cause::TlsExpired => "the server's certificate has expired or is not valid yet",
            Cause::Tls => "the TLS handshake failed",
            Cause::Refused => "connection refused",
            Cause::Reset => "connection reset",
            Cause::TimedOut => "connection timed out",
            Cause::DnsNoSuchName => "no such name in DNS",
            Cause::DnsNoRecords => "no SRV or address records in DNS",
            Cause::Dns => "the DNS lookup failed",
            Cause::Other => "transport error",
        })
    }
}

impl Error {
    /// What kind of failure this is.
    pub fn cause(&self) -> Cause {
        match self {
            Error::TlsHandshake { source, .. } => Cause::of_tls(source),
            Error::Connect { source, .. } | Error::SendDatagram { source, .. } => {
                Cause::of_io(source)
            }
            Error::ConnectionClosed { .. } => Cause::Reset,
            Error::NoSuchName(_) => Cause::DnsNoSuchName,
            Error::NotFound(_) => Cause::DnsNoRecords,
            Error::Dns { .. } => Cause::Dns,
            _ => Cause::Other,
        }
    }
}

impl CloseReason {
    /// What kind of failure closed the connection.
    pub fn cause(&self) -> Cause {
        match self {
            CloseReason::PeerClosed | CloseReason::Broken(_) => Cause::Reset,
            CloseReason::KeepaliveTimeout => Cause::TimedOut,
            _ => Cause::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(e: rustls::Error) -> Cause {
        Cause::of_tls(&io::Error::new(io::ErrorKind::InvalidData, e))
    }

    #[test]
    fn certificate_verdicts_are_told_apart() {
        use rustls::CertificateError as C;
        assert_eq!(
            tls(rustls::Error::InvalidCertificate(C::UnknownIssuer)),
            Cause::TlsUnknownCa
        );
        assert_eq!(
            tls(rustls::Error::InvalidCertificate(C::NotValidForName)),
            Cause::TlsNameMismatch
        );
        assert_eq!(
            tls(rustls::Error::InvalidCertificate(C::Expired)),
            Cause::TlsExpired
        );
        assert_eq!(tls(rustls::Error::DecryptError), Cause::Tls);
        assert!(Cause::TlsUnknownCa.is_permanent() && !Cause::Refused.is_permanent());
    }

    #[test]
    fn socket_errors_are_told_apart() {
        assert_eq!(
            Cause::of_io(&io::ErrorKind::ConnectionRefused.into()),
            Cause::Refused
        );
        assert_eq!(
            Cause::of_io(&io::ErrorKind::ConnectionReset.into()),
            Cause::Reset
        );
        assert_eq!(
            Cause::of_io(&io::ErrorKind::TimedOut.into()),
            Cause::TimedOut
        );
        assert_eq!(CloseReason::PeerClosed.cause(), Cause::Reset);
    }
}
