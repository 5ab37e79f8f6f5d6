//! How this client names itself in the requests it builds: Via sent-by and Contact per transport.

use std::net::SocketAddr;

use sip_parse::TransportKind;

use crate::{Error, Result};

/// The client's own addresses, one per transport it listens on: what goes into the top Via
/// (sent-by, RFC 3261 §18.1.1) and into Contact of the requests the cores build.
///
/// ```
/// use rtc_client::Local;
/// use sip_parse::TransportKind;
///
/// let local = Local::new("alice").with(TransportKind::Tcp, "192.0.2.1:5070".parse().unwrap());
/// assert_eq!(local.contact(TransportKind::Tcp)?, "sip:alice@192.0.2.1:5070;transport=tcp");
/// assert!(local.via(TransportKind::Tcp)?.starts_with("SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bK"));
/// assert!(local.via(TransportKind::Udp).is_err()); // not listening on UDP
/// # Ok::<(), rtc_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    user: String,
    addrs: Vec<(TransportKind, SocketAddr)>,
}

impl Local {
    /// No addresses yet; `user` is the user part of the Contact URI.
    pub fn new(user: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            addrs: Vec::new(),
        }
    }

    /// Adds (or replaces) the address listening on `transport`.
    pub fn with(mut self, transport: TransportKind, addr: SocketAddr) -> Self {
        self.addrs.retain(|(t, _)| *t != transport);
        self.addrs.push((transport, addr));
        self
    }

    /// Every listening address.
    pub fn addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.addrs.iter().map(|(_, a)| *a)
    }

    /// The address listening on `transport`.
    pub fn addr(&self, transport: TransportKind) -> Result<SocketAddr> {
        self.addrs
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, a)| *a)
            .ok_or(Error::NoLocalTransport(transport))
    }

    /// A top Via value for a new client transaction over `transport`: a fresh RFC 3261 branch,
    /// and `rport` so the server answers to the port the request came from (RFC 3581 §3).
    pub fn via(&self, transport: TransportKind) -> Result<String> {
        let addr = self.addr(transport)?;
        let branch = sip_txn::new_branch()?;
        Ok(format!("SIP/2.0/{transport} {addr};branch={branch};rport"))
    }

    /// The Contact URI for requests sent over `transport`.
    pub fn contact(&self, transport: TransportKind) -> Result<String> {
        let addr = self.addr(transport)?;
        let user = &self.user;
        Ok(match transport {
            TransportKind::Udp => format!("sip:{user}@{addr}"),
            TransportKind::Tcp => format!("sip:{user}@{addr};transport=tcp"),
            // RFC 5630 §3.1.3: TLS to the next hop only; a sip: URI with transport=tls.
            TransportKind::Tls => format!("sip:{user}@{addr};transport=tls"),
        })
    }
}
