//! Who the client is in the requests the subscription cores build: address-of-record, display
//! name, Contact, and the transport and sent-by of the top Via.

use sip_parse::{TransportKind, Uri};

use crate::{Error, Result};

/// The local identity the cores put into From, Contact and Via (RFC 3261 §8.1.1).
///
/// ```
/// use presence::local::LocalIdentity;
/// use sip_parse::TransportKind;
///
/// let me = LocalIdentity::new(
///     "sip:alice@example.com",
///     "sip:alice@192.0.2.1:5060",
///     TransportKind::Udp,
///     "192.0.2.1:5060",
/// )?
/// .with_display_name("Alice");
/// assert_eq!(me.aor(), "sip:alice@example.com");
/// # Ok::<(), presence::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalIdentity {
    aor: String,
    display_name: Option<String>,
    contact: String,
    transport: TransportKind,
    sent_by: String,
}

impl LocalIdentity {
    /// `aor` and `contact` must be URIs; `sent_by` is `host[:port]` for the top Via.
    pub fn new(aor: &str, contact: &str, transport: TransportKind, sent_by: &str) -> Result<Self> {
        for (what, uri) in [("address-of-record", aor), ("Contact", contact)] {
            Uri::parse(uri).map_err(|source| Error::InvalidUri {
                what,
                uri: uri.to_owned(),
                source,
            })?;
        }
        if sent_by.is_empty() || sent_by.bytes().any(|c| c <= b' ' || b";,".contains(&c)) {
            return Err(Error::InvalidSentBy(sent_by.to_owned()));
        }
        Ok(Self {
            aor: aor.to_owned(),
            display_name: None,
            contact: contact.to_owned(),
            transport,
            sent_by: sent_by.to_owned(),
        })
    }

    /// Adds a display name for From (quoted and escaped when written, RFC 3261 §25.1).
    pub fn with_display_name(mut self, name: &str) -> Self {
        self.display_name = Some(name.to_owned()).filter(|n| !n.is_empty());
        self
    }

    /// The address-of-record: From of every request, and the presentity the notifier serves.
    pub fn aor(&self) -> &str {
        &self.aor
    }

    /// The Contact URI.
    pub fn contact(&self) -> &str {
        &self.contact
    }

    /// Whether `uri` names this identity's address-of-record (RFC 3261 §19.1.4 equivalence).
    pub fn is_aor(&self, uri: &str) -> bool {
        match (Uri::parse(&self.aor), Uri::parse(uri)) {
            (Ok(a), Ok(b)) => a.equivalent(&b),
            _ => false,
        }
    }

    /// A top Via value for a new client transaction: a fresh RFC 3261 branch (§8.1.1.7) and
    /// `rport` so answers come back to the port the request left from (RFC 3581 §3).
    pub(crate) fn via(&self) -> Result<String> {
        let branch = sip_txn::new_branch()?;
        Ok(format!(
            "SIP/2.0/{} {};branch={branch};rport",
            self.transport, self.sent_by
        ))
    }

    /// The From value with `tag`.
    pub(crate) fn header_from(&self, tag: &str) -> String {
        match &self.display_name {
            Some(name) => format!("{} <{}>;tag={tag}", quote(name), self.aor),
            None => format!("<{}>;tag={tag}", self.aor),
        }
    }

    /// The Contact value.
    pub(crate) fn contact_value(&self) -> String {
        format!("<{}>", self.contact)
    }

    /// A Call-ID unique across space and time (RFC 3261 §8.1.1.4): random, at the sent-by host.
    pub(crate) fn new_call_id(&self) -> Result<String> {
        let host = self
            .sent_by
            .rsplit_once(':')
            .map_or(&*self.sent_by, |(h, _)| h);
        Ok(format!("{}@{host}", sip_txn::new_tag()?))
    }
}

/// A quoted-string (RFC 3261 §25.1): `"` and `\` escaped, control characters dropped.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sip_parse::NameAddr;

    fn me() -> LocalIdentity {
        LocalIdentity::new(
            "sip:alice@example.com",
            "sip:alice@192.0.2.1",
            TransportKind::Tcp,
            "192.0.2.1:5070",
        )
        .unwrap()
    }

    #[test]
    fn via_has_fresh_branch_and_rport() {
        let a = me().via().unwrap();
        assert!(a.starts_with("SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bK"));
        assert!(a.ends_with(";rport"));
        assert_ne!(a, me().via().unwrap());
    }

    #[test]
    fn display_name_is_quoted_and_escaped() {
        let m = me().with_display_name("Al \"the\" \\ice\r\n");
        assert_eq!(
            m.header_from("t1"),
            r#""Al \"the\" \\ice" <sip:alice@example.com>;tag=t1"#
        );
        assert!(NameAddr::parse(m.header_from("t1").as_bytes()).is_ok());
    }

    #[test]
    fn bad_uri_and_sent_by_are_refused() {
        assert!(matches!(
            LocalIdentity::new("alice", "sip:a@h", TransportKind::Udp, "h"),
            Err(Error::InvalidUri {
                what: "address-of-record",
                ..
            })
        ));
        assert!(matches!(
            LocalIdentity::new("sip:a@h", "sip:a@h", TransportKind::Udp, "h;x=1"),
            Err(Error::InvalidSentBy(_))
        ));
    }

    #[test]
    fn call_id_is_at_the_host() {
        let id = me().new_call_id().unwrap();
        assert!(id.ends_with("@192.0.2.1"), "{id}");
        assert_ne!(id, me().new_call_id().unwrap());
    }

    #[test]
    fn aor_equivalence() {
        assert!(me().is_aor("sip:alice@EXAMPLE.com"));
        assert!(!me().is_aor("sip:bob@example.com"));
        assert!(!me().is_aor("not a uri"));
    }
}
