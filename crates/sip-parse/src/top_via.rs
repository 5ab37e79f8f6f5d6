//! A message's top Via, read once and carried with the message across layers.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use bytes::{BufMut, BytesMut};

use crate::grammar::Params;
use crate::{ErrorKind, Host, Message, ParseConfig, ParseError, Via};

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
    /// Gives back the stamped message and its top Via, both derived from the rewrite rather
    /// than read again: the copy keeps `msg`'s split (its fields, hot-header index and body,
    /// those after the parameter list moved by as much as the list grew), the sent-protocol and
    /// sent-by stay where they were, the parameters kept move with their piece of the list.
    /// Everything else is copied as it was.
    ///
    /// Fails when `msg` is not the message this was read from, or when the copy exceeds `cfg`'s
    /// message size or line length by more than the few bytes a stamp adds (many empty `rport`
    /// parameters could), with the error a parse of the copy would give.
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
        let whole = msg.as_bytes();
        if whole.as_ptr() as usize != self.origin || whole.len() != self.size {
            return Err(not_ours);
        }
        let range = self.params.range();
        let (head, params, tail) = (
            whole.get(..range.start).ok_or(not_ours)?,
            whole.get(range.clone()).ok_or(not_ours)?,
            whole.get(range.end..).ok_or(not_ours)?,
        );

        // The copy, the new parameter list written in place of the old, and where the pieces
        // the view points into land in it (old → new offsets in the message).
        let mut out = BytesMut::with_capacity(whole.len() + STAMP_SLACK);
        out.put_slice(head);
        let mut received_at = None;
        let (mut branch, mut maddr) = (None, None);
        let write_received = |out: &mut BytesMut| {
            out.put_slice(b";received=");
            let start = out.len();
            put_ip(out, received);
            Some(start..out.len())
        };
        for (at, piece) in split_params(params) {
            let name = trim_lws(piece.split(|&c| c == b'=').next().unwrap_or_default());
            if name.eq_ignore_ascii_case(b"received") {
                if received_at.is_none() {
                    received_at = write_received(&mut out);
                }
            } else if let Some(port) =
                rport.filter(|_| name.eq_ignore_ascii_case(b"rport") && !piece.contains(&b'='))
            {
                out.put_slice(b";rport=");
                put_decimal(&mut out, port.into());
            } else if !trim_lws(piece).is_empty() {
                out.put_u8(b';');
                // A span inside the piece moves by as much as the piece.
                let (old, new) = (range.start + at, out.len());
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
                out.put_slice(piece);
            }
        }
        if received_at.is_none() {
            received_at = write_received(&mut out);
        }
        let received_at = received_at.unwrap_or_default();
        let list = out.get(range.start..).unwrap_or_default();
        let list_len = list.len();
        let list_end = list.iter().rposition(|&c| !is_lws(c)).map_or(0, |n| n + 1);
        out.put_slice(tail);
        check_limits(&out, range.start..range.start + list_len, cfg)?;

        let out = out.freeze();
        let stamped = match msg.rewritten(out, range.clone(), list_len) {
            Ok(m) => m,
            // Not for a top Via that was read from `msg`: its parameters lie inside its value.
            Err(out) => Message::parse_with(out, &relaxed(cfg))?,
        };

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
            received: Some(Span::at(received_at.start, received_at.len())?),
            rport: match (rport, self.rport) {
                // The last `rport` is the one the view holds; it was empty, and now is filled.
                (Some(port), Some(None)) => Some(Some(port)),
                _ => self.rport,
            },
            // A list ends at its last value: white space left before a dropped piece is not in it.
            params: Span::at(range.start, list_end)?,
            ..*self
        };
        Ok((stamped, top))
    }
}

/// `cfg` with room for what a stamp adds.
pub(crate) fn relaxed(cfg: &ParseConfig) -> ParseConfig {
    ParseConfig {
        max_message_size: cfg.max_message_size.saturating_add(STAMP_SLACK),
        max_line_length: cfg.max_line_length.saturating_add(STAMP_SLACK),
        ..*cfg
    }
}

/// The limits a parse of the stamped copy `out` would check that stamping can break, with the
/// parse's errors: its size, and the length of the lines holding the new parameter `list`.
fn check_limits(out: &[u8], list: Range<usize>, cfg: &ParseConfig) -> Result<(), ParseError> {
    let cfg = relaxed(cfg);
    if out.len() > cfg.max_message_size {
        return Err(ParseError::new(
            ErrorKind::Limit("message size"),
            cfg.max_message_size,
        ));
    }
    // From the start of the line the list begins on to the end of the line it ends on.
    let from =
        memchr::memrchr(b'\n', out.get(..list.start).unwrap_or_default()).map_or(0, |n| n + 1);
    let rest = out.get(list.end..).unwrap_or_default();
    let to = list.end + memchr::memchr(b'\n', rest).unwrap_or(rest.len());
    let mut start = from;
    let ends = memchr::memchr_iter(b'\n', out.get(from..to).unwrap_or_default()).map(|n| from + n);
    for end in ends.chain([to]) {
        // The line without its CR: `next_line` allows `max_line_length` bytes before it.
        let len = end - start - usize::from(end > start && out.get(end - 1) == Some(&b'\r'));
        if len > cfg.max_line_length {
            return Err(ParseError::new(ErrorKind::Limit("line length"), start));
        }
        start = end + 1;
    }
    Ok(())
}

/// Writes `ip` as text: an IPv4 address digit by digit (the usual case, and `Display` costs
/// several times as much), an IPv6 one through `Display`.
fn put_ip(out: &mut BytesMut, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.put_u8(b'.');
                }
                put_decimal(out, octet.into());
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// Writes `n` in decimal.
fn put_decimal(out: &mut BytesMut, n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim_lws(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&c| !is_lws(c)).unwrap_or(s.len());
    let end = s.iter().rposition(|&c| !is_lws(c)).map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or_default()
}

/// The raw text of each parameter in `params` and its offset there (`;a=1;b="x;y"` → `a=1`,
/// `b="x;y"`), splitting at semicolons outside quoted strings.
fn split_params(params: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    // The first piece may start after folded white space before the first `;`.
    let first = params.iter().position(|&c| !is_lws(c));
    let mut at = match first {
        Some(n) if params.get(n) == Some(&b';') => Some(n + 1),
        _ => None,
    };
    std::iter::from_fn(move || {
        let start = at?;
        let s = params.get(start..)?;
        // The next `;` outside quotes: a quoted string is skipped to its closing quote.
        let mut i = 0;
        while let Some(n) = memchr::memchr2(b';', b'"', s.get(i..)?) {
            i += n;
            if s.get(i) == Some(&b';') {
                at = Some(start + i + 1);
                return Some((start, s.get(..i)?));
            }
            i = i + 1 + quoted_len(s.get(i + 1..)?);
        }
        at = None;
        Some((start, s))
    })
}

/// How far into `s`, the text after a quoted string's opening `"`, the string goes: past its
/// closing quote, or to the end of `s` when it has none.
fn quoted_len(s: &[u8]) -> usize {
    let mut i = 0;
    while let Some(n) = s.get(i..).and_then(|r| memchr::memchr2(b'"', b'\\', r)) {
        i += n;
        if s.get(i) == Some(&b'"') {
            return i + 1;
        }
        // A quoted pair: the escaped byte is skipped.
        i += 2;
    }
    s.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::HeaderName;
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
        let v: Vec<_> = split_params(b";a=1;b=\"x;\\\"y\";c").collect();
        assert_eq!(v, [(1, &b"a=1"[..]), (5, b"b=\"x;\\\"y\""), (15, b"c")]);
        assert_eq!(split_params(b"").count(), 0);
        assert_eq!(
            split_params(b" \r\n ;a").collect::<Vec<_>>(),
            [(5, &b"a"[..])]
        );
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

    /// A whole request around a Via element: fields before and after the Via in long, compact
    /// and odd forms, folded values, a second Via, maybe a Content-Length and a body.
    fn request() -> impl Strategy<Value = String> {
        let field = prop::sample::select(vec![
            "From: <sip:a@example.com>;tag=1\r\n",
            "f:sip:a@h;tag=2\r\n",
            "To: Bob <sip:b@example.com>\r\n",
            "t : <sip:b@h> ;tag=x\r\n",
            "Call-ID: abc@h\r\n",
            "i:c2\r\n",
            "CSeq: 1 INVITE\r\n",
            "Contact: <sip:a@192.0.2.1:5060;transport=udp>;expires=60\r\n",
            "m: <sip:x@h>, <sip:y@h>\r\n",
            "Max-Forwards: 70\r\n",
            "X-Folded: a\r\n\tb \r\n  c\r\n",
            "Subject:\r\n next line\r\n",
            "Route: <sip:p.example;lr>\r\n",
            "Via: SIP/2.0/UDP later.example;branch=z9hG4bKlater\r\n",
            "User-Agent: t  \r\n",
        ]);
        let name = prop::sample::select(vec!["Via: ", "v:", "VIA :  ", "via:\t"]);
        let after_value = prop::sample::select(vec!["", "  ", "\t", "\r\n ", " \r\n\t \r\n  "]);
        let body = prop::sample::select(vec!["", "hi", "v=0\r\no=- 1 1 IN IP4 h\r\n"]);
        (
            prop::sample::select(vec![
                "INVITE sip:b@example.com SIP/2.0",
                "OPTIONS sip:h SIP/2.0",
            ]),
            prop::collection::vec(field.clone(), 0..5),
            name,
            via_element(),
            after_value,
            prop::collection::vec(field, 0..6),
            any::<bool>(),
            body,
        )
            .prop_map(
                |(start, before, name, via, after_value, after, length, body)| {
                    let mut s = format!("{start}\r\n");
                    before.iter().for_each(|f| s.push_str(f));
                    s.push_str(&format!("{name}{via}{after_value}\r\n"));
                    after.iter().for_each(|f| s.push_str(f));
                    if length {
                        s.push_str(&format!("Content-Length: {}\r\n", body.len()));
                    }
                    s.push_str("\r\n");
                    s.push_str(body);
                    s
                },
            )
    }

    /// Every observable of `got` is `want`'s: the split itself, each field by index and by
    /// name, the body and the typed views.
    fn assert_same_message(got: &Message, want: &Message) {
        got.assert_same_split(want);
        assert!(got.headers().eq(want.headers()));
        for name in [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::Contact,
            HeaderName::ContentLength,
            HeaderName::Other,
        ] {
            assert_eq!(got.header(name), want.header(name), "{name:?}");
            assert!(
                got.headers_named(name).eq(want.headers_named(name)),
                "{name:?}"
            );
        }
        assert_eq!(got.body(), want.body());
        assert_eq!(got.start_line(), want.start_line());
        assert_eq!(
            (got.method(), got.request_uri()),
            (want.method(), want.request_uri())
        );
        assert_eq!(got.top_via(), want.top_via());
        assert!(got.vias().eq(want.vias()));
        assert_eq!(got.from_header(), want.from_header());
        assert_eq!(got.to_header(), want.to_header());
        assert_eq!(got.call_id(), want.call_id());
        assert_eq!(got.cseq(), want.cseq());
        assert!(got.contacts().eq(want.contacts()));
        assert_eq!(got.content_length(), want.content_length());
    }

    /// The longest line of `text`, without its CRLF.
    fn longest_line(text: &[u8]) -> usize {
        text.split(|&c| c == b'\n')
            .map(|l| l.len().saturating_sub(1))
            .max()
            .unwrap_or(0)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// A stamped request, built from the original's split, is in every observable the parse
        /// of its bytes; so is its top Via.
        #[test]
        fn a_stamped_request_is_the_parse_of_its_bytes(
            text in request(),
            ip in prop::sample::select(vec!["192.0.2.3", "10.0.0.1", "255.255.255.255", "0.0.0.0", "2001:db8::7", "::1"]),
            rport in prop::option::of(0u16..=65535),
        ) {
            let cfg = ParseConfig::default();
            let Ok(m) = Message::parse(Bytes::from(text.clone())) else {
                return Ok(());
            };
            let Ok(top) = TopVia::read(&m) else {
                return Ok(());
            };
            let ip: IpAddr = ip.parse().unwrap();
            let (stamped, derived) = top.stamp(&m, ip, rport, &cfg).unwrap();
            let reparsed = Message::parse_with(stamped.bytes().clone(), &relaxed(&cfg)).unwrap();
            assert_same_message(&stamped, &reparsed);
            prop_assert_eq!(Ok(derived), TopVia::read(&reparsed), "{:?}", text);
            prop_assert_eq!(derived.view(&stamped), reparsed.top_via().ok());
            prop_assert_eq!(derived.view(&stamped).unwrap().received_ip(), Some(ip));
        }

        /// Under tight limits, stamping fails where a parse of the copy would, with its error,
        /// and otherwise gives the parse.
        #[test]
        fn a_stamp_fails_where_the_parse_of_the_copy_does(
            via in via_element(),
            rports in 0usize..20,
            line_room in 0usize..120,
            size_room in 0usize..120,
        ) {
            let via = format!("{via}{}", ";rport".repeat(rports));
            let text = format!(
                "OPTIONS sip:h SIP/2.0\r\nVia: {via}\r\nCall-ID: c\r\nContent-Length: 2\r\n\r\nhi"
            );
            let cfg = ParseConfig {
                max_line_length: longest_line(text.as_bytes()) + line_room,
                max_message_size: text.len() + size_room,
                ..ParseConfig::default()
            };
            let Ok(m) = Message::parse_with(Bytes::from(text.clone()), &cfg) else {
                return Ok(());
            };
            let Ok(top) = TopVia::read(&m) else {
                return Ok(());
            };
            let ip: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
            let (roomy, _) = top.stamp(&m, ip, Some(65535), &ParseConfig::default()).unwrap();
            let want = Message::parse_with(roomy.bytes().clone(), &relaxed(&cfg));
            match (top.stamp(&m, ip, Some(65535), &cfg), want) {
                (Ok((got, _)), Ok(want)) => assert_same_message(&got, &want),
                (Err(got), Err(want)) => prop_assert_eq!(got, want),
                (got, want) => prop_assert!(false, "{:?} vs {:?} for {:?}", got.map(|g| g.0), want, text),
            }
        }
    }
}
