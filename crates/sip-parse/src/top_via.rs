//! A message's top Via, read once and carried with the message across layers.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use crate::grammar::Params;
use crate::{Host, Message, ParseError, Via};

/// The top Via of a message, read once ([`TopVia::read`]) and kept as positions in that
/// message, so that every layer needing it reads the same parse: the transport that stamps
/// `received`/`rport` (RFC 3261 §18.2.1), the transaction layer that matches on branch and
/// sent-by (§17.1.3, §17.2.3), the code that routes responses (§18.2.2).
/// [`TopVia::view`] gives the [`Via`] back without parsing anything.
///
/// It is small and `Copy`, and belongs to the message it was read from (or a clone of it,
/// which shares the buffer): a view of any other message is `None`.
///
/// ```
/// use bytes::Bytes;
/// use sip_parse::{Message, TopVia};
///
/// let msg = Message::parse(Bytes::from_static(
///     b"OPTIONS sip:b@example.com SIP/2.0\r\n\
///       Via: SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bK1, SIP/2.0/TCP b.example\r\n\
///       Content-Length: 0\r\n\r\n",
/// ))?;
/// let top = TopVia::read(&msg)?;
/// let via = top.view(&msg).expect("the message it was read from");
/// assert_eq!((via.branch(), via.port), (Some("z9hG4bK1"), Some(5070)));
/// assert_eq!(via, msg.top_via()?);
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopVia {
    /// The address and length of the message's buffer, so a view checks it is given the
    /// message the positions belong to.
    origin: usize,
    size: usize,
    protocol: Span,
    version: Span,
    transport: Span,
    host: HostAt,
    port: Option<u16>,
    branch: Option<Span>,
    received: Option<Span>,
    rport: Option<Option<u16>>,
    maddr: Option<Span>,
    ttl: Option<u8>,
    /// The parameter list; when empty, it sits where parameters would go (right after sent-by).
    params: Span,
}

/// Where a piece of the top Via sits in its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn range(self) -> Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }
}

/// [`Host`] with the name kept as a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostAt {
    Domain(Span),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl TopVia {
    /// Reads the top Via of `msg`: the first element of its first Via header (as
    /// [`Message::top_via`] does).
    pub fn read(msg: &Message) -> Result<TopVia, ParseError> {
        let via = msg.top_via()?;
        let whole = msg.as_bytes();
        // Every piece of the view is a slice of the message, so this never fails; the error is
        // for the impossible case rather than a panic.
        let outside = ParseError::invalid("Via text outside its message", 0);
        let at = |piece: &[u8]| -> Result<Span, ParseError> {
            let start = (piece.as_ptr() as usize)
                .checked_sub(whole.as_ptr() as usize)
                .filter(|s| s + piece.len() <= whole.len())
                .ok_or(outside)?;
            Ok(Span {
                start: u32::try_from(start).map_err(|_| outside)?,
                len: u32::try_from(piece.len()).map_err(|_| outside)?,
            })
        };
        let opt = |piece: Option<&str>| piece.map(|p| at(p.as_bytes())).transpose();
        Ok(TopVia {
            origin: whole.as_ptr() as usize,
            size: whole.len(),
            protocol: at(via.protocol.as_bytes())?,
            version: at(via.version.as_bytes())?,
            transport: at(via.transport.as_bytes())?,
            host: match via.host {
                Host::Domain(d) => HostAt::Domain(at(d.as_bytes())?),
                Host::Ipv4(a) => HostAt::Ipv4(a),
                Host::Ipv6(a) => HostAt::Ipv6(a),
            },
            port: via.port,
            branch: opt(via.branch)?,
            received: opt(via.received)?,
            rport: via.rport,
            maddr: opt(via.maddr)?,
            ttl: via.ttl,
            params: at(via.params.0)?,
        })
    }

    /// The [`Via`] this was read as, rebuilt from its positions in `msg` without parsing;
    /// `None` when `msg` is not the message it was read from.
    pub fn view<'m>(&self, msg: &'m Message) -> Option<Via<'m>> {
        let whole = msg.as_bytes();
        if whole.as_ptr() as usize != self.origin || whole.len() != self.size {
            return None;
        }
        let text = |s: Span| std::str::from_utf8(whole.get(s.range())?).ok();
        let opt = |s: Option<Span>| match s {
            Some(s) => text(s).map(Some),
            None => Some(None),
        };
        Some(Via {
            protocol: text(self.protocol)?,
            version: text(self.version)?,
            transport: text(self.transport)?,
            host: match self.host {
                HostAt::Domain(d) => Host::Domain(text(d)?),
                HostAt::Ipv4(a) => Host::Ipv4(a),
                HostAt::Ipv6(a) => Host::Ipv6(a),
            },
            port: self.port,
            branch: opt(self.branch)?,
            received: opt(self.received)?,
            rport: self.rport,
            maddr: opt(self.maddr)?,
            ttl: self.ttl,
            params: Params(whole.get(self.params.range())?),
        })
    }

    /// Where the parameter list of the top Via lies in the message (from its first `;`); when
    /// there are none, the empty range right after sent-by, where one would be inserted.
    pub fn params_range(&self) -> Range<usize> {
        self.params.range()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(via: &str) -> Message {
        Message::parse(Bytes::from(format!(
            "OPTIONS sip:b@example.com SIP/2.0\r\nVia: {via}\r\nContent-Length: 0\r\n\r\n"
        )))
        .unwrap()
    }

    #[test]
    fn a_view_is_the_parse() {
        for via in [
            "SIP/2.0/UDP pc.example.com:5070;branch=z9hG4bK1;rport;received=192.0.2.1",
            "SIP/2.0/TLS [2001:db8::1];maddr=239.0.0.1;ttl=16;branch=z9hG4bK2, SIP/2.0/UDP x",
            "SIP / 2.0 / TCP 192.0.2.4 ;\r\n branch = z9hG4bK3 ; received=[2001:db8::9:255]",
            "SIP/2.0/UDP host",
            "SIP/2.0/UDP host:5060  ",
        ] {
            let m = msg(via);
            let top = TopVia::read(&m).unwrap();
            assert_eq!(top.view(&m), Some(m.top_via().unwrap()), "{via}");
            // A clone shares the buffer.
            assert_eq!(top.view(&m.clone()), Some(m.top_via().unwrap()), "{via}");
        }
    }

    #[test]
    fn params_range_is_where_parameters_go() {
        let m = msg("SIP/2.0/UDP host:5060  ");
        let r = TopVia::read(&m).unwrap().params_range();
        assert!(r.is_empty());
        assert!(m.as_bytes()[..r.start].ends_with(b"host:5060"));
        let m = msg("SIP/2.0/UDP host;branch=z9hG4bK1;rport , SIP/2.0/UDP b");
        let r = TopVia::read(&m).unwrap().params_range();
        assert_eq!(&m.as_bytes()[r], b";branch=z9hG4bK1;rport");
    }

    #[test]
    fn another_message_has_no_view() {
        let (a, b) = (
            msg("SIP/2.0/UDP a;branch=z9hG4bK1"),
            msg("SIP/2.0/UDP a;branch=z9hG4bK1"),
        );
        let top = TopVia::read(&a).unwrap();
        assert_eq!(top.view(&b), None);
        assert!(
            TopVia::read(
                &Message::parse(Bytes::from_static(b"OPTIONS sip:b SIP/2.0\r\n\r\n")).unwrap()
            )
            .is_err()
        );
    }
}
