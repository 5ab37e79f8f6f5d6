//! A message's top Via, read once and carried with the message across layers.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use bytes::{BufMut, BytesMut};

use crate::grammar::Params;
use crate::{Host, Message, ParseConfig, ParseError, Via};

/// Room for `;received=` + an IPv6 address + `;rport=65535`, so a stamped message still parses
/// within the limits its original met.
const STAMP_SLACK: usize = 80;

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

    fn at(start: usize, len: usize) -> Result<Span, ParseError> {
        let outside = ParseError::invalid("Via text outside its message", start);
        Ok(Span {
            start: u32::try_from(start).map_err(|_| outside)?,
            len: u32::try_from(len).map_err(|_| outside)?,
        })
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
            Span::at(start, piece.len())
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

    /// Copies `msg`, the message this was read from, with its top Via stamped (RFC 3261
    /// §18.2.1, RFC 3581 §4): `received=<received>` replaces any `received` parameters (or is
    /// added at the end), and with `rport` given every `rport` without a value gets that port.
    /// Gives back the stamped message and its top Via, derived from the rewrite rather than read
    /// again: the sent-protocol and sent-by stay where they were, the parameters kept move with
    /// their piece of the list. Everything else is copied as it was.
    ///
    /// Fails when `msg` is not the message this was read from, or (never for a message that
    /// parsed with `cfg`) when the copy does not parse; the copy may exceed `cfg`'s size limits
    /// by the few bytes stamping adds.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use sip_parse::{Message, ParseConfig, TopVia};
    ///
    /// let msg = Message::parse(Bytes::from_static(
    ///     b"OPTIONS sip:b@example.com SIP/2.0\r\n\
    ///       Via: SIP/2.0/UDP pc.example.com;rport;branch=z9hG4bK1\r\n\
    ///       Content-Length: 0\r\n\r\n",
    /// ))?;
    /// let top = TopVia::read(&msg)?;
    /// let ip = "192.0.2.7".parse().unwrap();
    /// let (stamped, top) = top.stamp(&msg, ip, Some(40000), &ParseConfig::default())?;
    /// let via = top.view(&stamped).unwrap();
    /// assert_eq!((via.received, via.rport), (Some("192.0.2.7"), Some(Some(40000))));
    /// assert_eq!(Ok(top), TopVia::read(&stamped));
    /// # Ok::<(), sip_parse::ParseError>(())
    /// ```
    pub fn stamp(
        &self,
        msg: &Message,
        received: IpAddr,
        rport: Option<u16>,
        cfg: &ParseConfig,
    ) -> Result<(Message, TopVia), ParseError> {
        let not_ours = ParseError::invalid("top Via read from another message", 0);
        let via = self.view(msg).ok_or(not_ours)?;
        let whole = msg.as_bytes();
        let range = self.params.range();
        let (head, tail) = (
            whole.get(..range.start).ok_or(not_ours)?,
            whole.get(range.end..).ok_or(not_ours)?,
        );
        let params = via.params.as_str();

        // The new parameter list, and where the pieces the view points into land in it
        // (as offsets into the list, old → new).
        let mut text = String::with_capacity(params.len() + STAMP_SLACK);
        let mut received_at = None;
        let (mut branch, mut maddr) = (None, None);
        let write_received = |text: &mut String| {
            text.push_str(";received=");
            let start = text.len();
            let _ = write!(text, "{received}");
            Some(start..text.len())
        };
        for piece in split_params(params) {
            let name = piece.split('=').next().unwrap_or("").trim_matches(is_lws);
            if name.eq_ignore_ascii_case("received") {
                if received_at.is_none() {
                    received_at = write_received(&mut text);
                }
            } else if name.eq_ignore_ascii_case("rport") && rport.is_some() && !piece.contains('=')
            {
                let _ = write!(text, ";rport={}", rport.unwrap_or_default());
            } else if !piece.trim_matches(is_lws).is_empty() {
                text.push(';');
                // The piece is a slice of `params`: a span inside it moves by as much as it.
                let old = piece.as_ptr() as usize - params.as_ptr() as usize + range.start;
                let new = text.len() + range.start;
                let moved = |span: Option<Span>, to: &mut Option<usize>| {
                    if let Some(s) = span.map(Span::range)
                        && old <= s.start
                        && s.end <= old + piece.len()
                    {
                        *to = Some(s.start - old + new);
                    }
                };
                moved(self.branch, &mut branch);
                moved(self.maddr, &mut maddr);
                text.push_str(piece);
            }
        }
        if received_at.is_none() {
            received_at = write_received(&mut text);
        }
        let received_at = received_at.unwrap_or_default();

        let mut out = BytesMut::with_capacity(whole.len() + STAMP_SLACK);
        out.put_slice(head);
        out.put_slice(text.as_bytes());
        out.put_slice(tail);
        let cfg = ParseConfig {
            max_message_size: cfg.max_message_size.saturating_add(STAMP_SLACK),
            max_line_length: cfg.max_line_length.saturating_add(STAMP_SLACK),
            ..*cfg
        };
        let stamped = Message::parse_with(out.freeze(), &cfg)?;

        let shifted = |span: Option<Span>, to: Option<usize>| match (span, to) {
            (Some(s), Some(start)) => Span::at(start, s.len as usize).map(Some),
            // A parameter the view holds lies in a piece that is kept.
            (Some(_), None) => Err(not_ours),
            (None, _) => Ok(None),
        };
        let top = TopVia {
            origin: stamped.as_bytes().as_ptr() as usize,
            size: stamped.as_bytes().len(),
            branch: shifted(self.branch, branch)?,
            maddr: shifted(self.maddr, maddr)?,
            received: Some(Span::at(
                range.start + received_at.start,
                received_at.len(),
            )?),
            rport: match (rport, self.rport) {
                // The last `rport` is the one the view holds; it was empty, and now is filled.
                (Some(port), Some(None)) => Some(Some(port)),
                _ => self.rport,
            },
            // A list ends at its last value: white space left before a dropped piece is not in it.
            params: Span::at(range.start, text.trim_end_matches(is_lws).len())?,
            ..*self
        };
        Ok((stamped, top))
    }
}

fn is_lws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// The raw text of each parameter in `params` (`;a=1;b="x;y"` → `a=1`, `b="x;y"`), splitting
/// at semicolons outside quoted strings.
fn split_params(params: &str) -> impl Iterator<Item = &str> {
    let mut rest = params.strip_prefix(';');
    // The first piece may start after folded white space before the first `;`.
    if rest.is_none() && !params.is_empty() {
        rest = params.trim_start_matches(is_lws).strip_prefix(';');
    }
    std::iter::from_fn(move || {
        let s = rest?;
        let (mut quoted, mut escaped) = (false, false);
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                ';' if !quoted => {
                    rest = Some(s.get(i + 1..).unwrap_or(""));
                    return s.get(..i);
                }
                _ => {}
            }
        }
        rest = None;
        Some(s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

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

    #[test]
    fn split_params_quotes() {
        let v: Vec<_> = split_params(";a=1;b=\"x;\\\"y\";c").collect();
        assert_eq!(v, ["a=1", "b=\"x;\\\"y\"", "c"]);
        assert_eq!(split_params("").count(), 0);
        assert_eq!(split_params(" \r\n ;a").collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn stamp_rewrites_the_list_and_knows_where_it_put_things() {
        let cfg = ParseConfig::default();
        let ip: IpAddr = "2001:db8::7".parse().unwrap();
        let m = msg("SIP/2.0/UDP h;received=10.0.0.1;x=1 ;branch=z9hG4bK1;received=10.0.0.2");
        let (stamped, top) = TopVia::read(&m)
            .unwrap()
            .stamp(&m, ip, Some(9), &cfg)
            .unwrap();
        assert_eq!(
            stamped.header_str(crate::HeaderName::Via).unwrap(),
            "SIP/2.0/UDP h;received=2001:db8::7;x=1 ;branch=z9hG4bK1"
        );
        assert_eq!(Ok(top), TopVia::read(&stamped));
        // Another message's top Via stamps nothing.
        assert!(
            TopVia::read(&m)
                .unwrap()
                .stamp(&msg("SIP/2.0/UDP h"), ip, None, &cfg)
                .is_err()
        );
    }

    /// Pieces of a Via element: every separator and parameter form the stamping meets.
    fn via_element() -> impl Strategy<Value = String> {
        let protocol = prop::sample::select(vec![
            "SIP/2.0/UDP ",
            "SIP / 2.0 / TCP  ",
            "sip/2.0/tls\r\n ",
        ]);
        let host = prop::sample::select(vec![
            "pc.example.com",
            "192.0.2.1",
            "[2001:db8::9]",
            "[::ffff:192.0.2.5]",
            "h",
        ]);
        let port = prop::sample::select(vec!["", ":5060", ":1"]);
        let sep = prop::sample::select(vec![";", " ;", "; ", " ;\r\n ", "\t;\t"]);
        let param = prop::sample::select(vec![
            "branch=z9hG4bK1",
            "Branch=z9hG4bKxyz",
            "rport",
            "RPORT",
            "rport=1234",
            "received=10.0.0.1",
            "received=[2001:db8::1]",
            "received = 2001:db8::2",
            "RECEIVED=192.0.2.9",
            "maddr=239.0.0.1",
            "maddr=m.example",
            "ttl=16",
            "x=\"a;rport;received=1.2.3.4\"",
            "y",
            "lr",
            "z=\"q\\\"\"",
        ]);
        let tail =
            prop::sample::select(vec!["", " ", " , SIP/2.0/UDP b.example;rport", ",v/2/t c"]);
        (
            protocol,
            host,
            port,
            prop::collection::vec((sep, param), 0..7),
            tail,
        )
            .prop_map(|(protocol, host, port, params, tail)| {
                let mut s = format!("{protocol}{host}{port}");
                for (sep, p) in params {
                    s.push_str(sep);
                    s.push_str(p);
                }
                s.push_str(tail);
                s
            })
    }

    proptest! {
        /// The top Via [`TopVia::stamp`] derives is the one a read of the stamped message finds,
        /// and it holds what was stamped.
        #[test]
        fn a_stamped_top_via_is_what_a_read_finds(
            via in via_element(),
            ip in prop::sample::select(vec!["192.0.2.3", "10.0.0.1", "2001:db8::7", "::1"]),
            rport in prop::option::of(0u16..=65535),
        ) {
            let Ok(m) = Message::parse(Bytes::from(format!(
                "INVITE sip:b@example.com SIP/2.0\r\nVia: {via}\r\nVia: SIP/2.0/UDP z;rport\r\nCall-ID: c\r\nContent-Length: 2\r\n\r\nhi"
            ))) else {
                return Ok(());
            };
            let Ok(top) = TopVia::read(&m) else {
                return Ok(());
            };
            let ip: IpAddr = ip.parse().unwrap();
            let (stamped, derived) = top.stamp(&m, ip, rport, &ParseConfig::default()).unwrap();
            prop_assert_eq!(Ok(derived), TopVia::read(&stamped), "{:?}", via);
            let (before, after) = (top.view(&m).unwrap(), derived.view(&stamped).unwrap());
            prop_assert_eq!(after.received_ip(), Some(ip));
            prop_assert_eq!((after.branch, after.maddr, after.ttl), (before.branch, before.maddr, before.ttl));
            prop_assert_eq!((after.host, after.port), (before.host, before.port));
            if before.rport == Some(None) && rport.is_some() {
                prop_assert_eq!(after.rport, Some(rport));
            } else {
                prop_assert_eq!(after.rport, before.rport);
            }
            prop_assert_eq!(stamped.vias().count(), m.vias().count());
            prop_assert_eq!(stamped.body(), b"hi");
            prop_assert_eq!(stamped.call_id().unwrap(), "c");
        }
    }
}
