//! How this client names itself in the requests it builds: Via sent-by and Contact per transport.

use std::fmt::Display;

use sip_parse::TransportKind;

use crate::{Error, Result};

/// The client as a SIP endpoint: its own addresses, one `host:port` per transport it listens on,
/// which go into the top Via (sent-by, RFC 3261 §18.1.1) and into the Contact of the requests
/// the cores build. (presence's `LocalIdentity` is the other half: who we are, the AOR.)
///
/// ```
/// use rtc_client::{Endpoint, TransportKind};
///
/// let local = Endpoint::new("alice").with(TransportKind::Tcp, "192.0.2.1:5070");
/// assert_eq!(local.contact(TransportKind::Tcp)?, "sip:alice@192.0.2.1:5070;transport=tcp");
/// assert!(local.via(TransportKind::Tcp)?.starts_with("SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bK"));
/// assert!(local.via(TransportKind::Udp).is_err()); // not listening on UDP
/// let tls = Endpoint::new("bob").with(TransportKind::Tls, "pc.example.com:5061");
/// assert_eq!(tls.contact(TransportKind::Tls)?, "sips:bob@pc.example.com:5061");
/// # Ok::<(), rtc_client::Error>(())
/// ```
///
/// Behind NAT the registrar sees another address than the one we listen on. Once it says which
/// (`received`/`rport` on the Via of its answer, RFC 3581 §4), the Contact names that public
/// address while the Via keeps the local one:
///
/// ```
/// use rtc_client::{Endpoint, TransportKind};
///
/// let local = Endpoint::new("alice")
///     .with(TransportKind::Udp, "10.0.0.5:5060")
///     .with_public(TransportKind::Udp, "203.0.113.7:40123");
/// assert_eq!(local.contact(TransportKind::Udp)?, "sip:alice@203.0.113.7:40123");
/// assert!(local.via(TransportKind::Udp)?.starts_with("SIP/2.0/UDP 10.0.0.5:5060;"));
/// # Ok::<(), rtc_client::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    user: String,
    addrs: Vec<(TransportKind, String)>,
    /// The address a registrar saw us at, per transport, where it differs from `addrs`.
    public: Vec<(TransportKind, String)>,
    /// Registered over an RFC 5626 flow: the Contact of other requests carries `;ob`.
    outbound: bool,
}

impl Endpoint {
    /// No addresses yet; `user` is the user part of the Contact URI.
    pub fn new(user: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            addrs: Vec::new(),
            public: Vec::new(),
            outbound: false,
        }
    }

    /// Marks (or unmarks) the registration as living on an RFC 5626 flow: from then on the
    /// Contact of requests other than REGISTER carries the `ob` parameter (§4.3), which asks
    /// proxies to send the dialog's requests back over that flow; the REGISTER's own Contact
    /// ([`Endpoint::binding`]) does not.
    ///
    /// ```
    /// use rtc_client::Endpoint;
    /// use sip_parse::TransportKind;
    ///
    /// let local = Endpoint::new("alice").with(TransportKind::Udp, "192.0.2.1:5070").with_outbound(true);
    /// assert_eq!(local.contact(TransportKind::Udp)?, "sip:alice@192.0.2.1:5070;ob");
    /// assert_eq!(local.binding(TransportKind::Udp)?, "sip:alice@192.0.2.1:5070");
    /// # Ok::<(), rtc_client::Error>(())
    /// ```
    pub fn with_outbound(mut self, outbound: bool) -> Self {
        self.outbound = outbound;
        self
    }

    /// Whether the Contact carries `;ob` ([`Endpoint::with_outbound`]).
    pub fn is_outbound(&self) -> bool {
        self.outbound
    }

    /// Sets (or replaces) the public `host:port` of `transport`, as a registrar reported it:
    /// the Contact uses it from now on; the Via keeps the local sent-by.
    pub fn with_public(mut self, transport: TransportKind, addr: impl Display) -> Self {
        self.public.retain(|(t, _)| *t != transport);
        self.public.push((transport, addr.to_string()));
        self
    }

    /// The `host:port` the Contact names for `transport`: the public address where one is
    /// known, else the sent-by.
    pub fn contact_addr(&self, transport: TransportKind) -> Result<&str> {
        match self.public.iter().find(|(t, _)| *t == transport) {
            Some((_, a)) => Ok(a),
            None => self.sent_by(transport),
        }
    }

    /// Adds (or replaces) the sent-by (`host:port`, IPv6 in brackets) of `transport`.
    pub fn with(mut self, transport: TransportKind, sent_by: impl Display) -> Self {
        self.addrs.retain(|(t, _)| *t != transport);
        self.addrs.push((transport, sent_by.to_string()));
        self
    }

    /// The host of the first sent-by (for Call-IDs).
    pub fn host(&self) -> &str {
        self.addrs.first().map_or("invalid", |(_, a)| {
            a.rsplit_once(':').map_or(a.as_str(), |(h, _)| h)
        })
    }

    /// The sent-by of `transport`.
    pub fn sent_by(&self, transport: TransportKind) -> Result<&str> {
        self.addrs
            .iter()
            .find(|(t, _)| *t == transport)
            .map(|(_, a)| a.as_str())
            .ok_or(Error::NoLocalTransport(transport))
    }

    /// A top Via value for a new client transaction over `transport`: a fresh RFC 3261 branch,
    /// `rport` so the server answers to the port the request came from (RFC 3581 §3), and on
    /// streams `alias` (RFC 5923 §5), so a proxy sends requests for our Contact back over the
    /// connection we opened instead of connecting to us.
    pub fn via(&self, transport: TransportKind) -> Result<String> {
        let addr = self.sent_by(transport)?;
        let branch = sip_txn::new_branch()?;
        let alias = if transport.is_reliable() {
            ";alias"
        } else {
            ""
        };
        Ok(format!(
            "SIP/2.0/{transport} {addr};branch={branch};rport{alias}"
        ))
    }

    /// The Contact URI for requests sent over `transport` (with `;ob` once registered over an
    /// RFC 5626 flow, see [`Endpoint::with_outbound`]).
    pub fn contact(&self, transport: TransportKind) -> Result<String> {
        let uri = self.binding(transport)?;
        Ok(if self.outbound { uri + ";ob" } else { uri })
    }

    /// The Contact URI a REGISTER binds for `transport`: [`Endpoint::contact`] without `ob`.
    pub fn binding(&self, transport: TransportKind) -> Result<String> {
        let addr = self.contact_addr(transport)?;
        let user = &self.user;
        Ok(match transport {
            TransportKind::Udp => format!("sip:{user}@{addr}"),
            TransportKind::Tcp => format!("sip:{user}@{addr};transport=tcp"),
            // RFC 5630 §3.1.3: reached over TLS, so a SIPS URI.
            TransportKind::Tls => format!("sips:{user}@{addr}"),
        })
    }
}

/// Our From or To without tag: the display name, quoted (quotes and backslashes dropped), and
/// the address of record.
pub(crate) fn name_addr(display_name: Option<&str>, aor: &str) -> String {
    match display_name {
        Some(n) => format!("\"{}\" <{aor}>", n.replace(['"', '\\'], "")),
        None => format!("<{aor}>"),
    }
}
