//! `Via` (RFC 3261 §20.42, RFC 3581 `rport`).

use crate::chars::{HOST, TOKEN};
use crate::grammar::{
    self, Fail, In, Params, Plain, Res, bad_param, lws, number, sep, sws, token, utf8,
};
use crate::header_name::is;
use crate::{Host, ParseError};

/// One `via-parm` of a Via header.
///
/// ```
/// use sip_parse::{Host, Via};
/// let v = Via::parse(b"SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bK776;rport;received=192.0.2.4")?;
/// assert_eq!(v.transport, "UDP");
/// assert_eq!(v.host, Host::Ipv6("2001:db8::9".parse().unwrap()));
/// assert_eq!(v.port, Some(5060));
/// assert_eq!(v.branch(), Some("z9hG4bK776"));
/// assert_eq!(v.rport, Some(None));
/// assert_eq!(v.received, Some("192.0.2.4"));
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Via<'a> {
    /// Protocol name, normally `SIP`.
    pub protocol: &'a str,
    /// Protocol version, normally `2.0`.
    pub version: &'a str,
    /// Transport token as written (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, or any other).
    pub transport: &'a str,
    /// sent-by host.
    pub host: Host<'a>,
    /// sent-by port.
    pub port: Option<u16>,
    /// The `branch` parameter.
    pub branch: Option<&'a str>,
    /// The `received` parameter's address, without the brackets an IPv6 reference may carry
    /// (RFC 5118 §4.5); [`received_ip`](Self::received_ip) reads it.
    pub received: Option<&'a str>,
    /// The `rport` parameter (RFC 3581): `Some(None)` when present without a value.
    pub rport: Option<Option<u16>>,
    /// The `maddr` parameter.
    pub maddr: Option<&'a str>,
    /// The `ttl` parameter.
    pub ttl: Option<u8>,
    /// All parameters as written.
    pub params: Params<'a>,
}

/// The RFC 3261 branch magic cookie (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

impl<'a> Via<'a> {
    /// Parses one via-parm (not a comma-separated list).
    pub fn parse(value: &'a [u8]) -> Result<Self, ParseError> {
        match plain_via(value, false) {
            Some(v) => Ok(v),
            None => grammar::complete(value, via),
        }
    }

    /// Parses the first via-parm of a Via header value (which may list several).
    pub fn parse_first(value: &'a [u8]) -> Result<Self, ParseError> {
        Self::parse_first_text(value, std::str::from_utf8(value).ok())
    }

    /// [`Via::parse_first`] given `value` as text already (`None` if it is not UTF-8).
    pub(crate) fn parse_first_text(
        value: &'a [u8],
        text: Option<&'a str>,
    ) -> Result<Self, ParseError> {
        match text.and_then(|text| plain_via_text(text, true)) {
            Some(v) => Ok(v),
            None => grammar::first_element(value, via),
        }
    }

    /// The branch parameter.
    pub fn branch(&self) -> Option<&'a str> {
        self.branch
    }

    /// The `received` address: an IPv4 or IPv6 address, written with or without brackets, or in
    /// the three-colon form of RFC 3261's ABNF (RFC 5118 §4.5, §4.10).
    ///
    /// ```
    /// use sip_parse::Via;
    /// let v = Via::parse(b"SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255]")?;
    /// assert_eq!(v.received_ip(), Some("2001:db8::9:255".parse().unwrap()));
    /// # Ok::<(), sip_parse::ParseError>(())
    /// ```
    pub fn received_ip(&self) -> Option<std::net::IpAddr> {
        crate::uri::ip(self.received?)
    }

    /// Whether the branch is the RFC 3261 magic cookie followed by a transaction identifier, so
    /// transactions can be matched by it (§17.2.3) rather than by the RFC 2543 rules. A bare
    /// cookie identifies nothing (RFC 4475 §3.2.1).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch
            .is_some_and(|b| b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE))
    }
}

pub(crate) fn host(i: In<'_>) -> Res<'_, Host<'_>> {
    match crate::uri::parse_host(i, 0) {
        Ok((h, n)) => Ok((&i[n..], h)),
        Err(e) => Err(nom::Err::Error(Fail {
            at: &i[e.offset.min(i.len())..],
            kind: e.kind,
        })),
    }
}

/// `[ COLON port ]`
pub(crate) fn opt_port(i: In<'_>) -> Res<'_, Option<u16>> {
    match sep(b':', "':'")(i) {
        Ok((r, ())) => {
            let (r, p) = number::<u16>("port above 65535")(r)?;
            Ok((r, Some(p)))
        }
        Err(_) => Ok((i, None)),
    }
}

/// The parameters of a Via that its view holds apart, gathered while the list is read. Kept
/// apart from the [`Via`] until the list ends, so that the view is built once, in place, rather
/// than filled through a reference and then copied out (it is some 150 bytes: a `memcpy` a
/// move).
#[derive(Default)]
struct Known<'a> {
    branch: Option<&'a str>,
    received: Option<&'a str>,
    rport: Option<Option<u16>>,
    maddr: Option<&'a str>,
    ttl: Option<u8>,
}

/// Records one Via parameter, or says what is wrong with it.
#[inline(always)]
fn via_param<'a>(
    v: &mut Known<'a>,
    name: &[u8],
    value: Option<&'a str>,
) -> Result<(), &'static str> {
    if is(name, b"branch") {
        let branch = value.filter(|b| !b.starts_with('"'));
        v.branch = Some(branch.ok_or("branch must be a token")?);
    } else if is(name, b"received") {
        let text = value.ok_or("received needs an address")?;
        // RFC 3261 §20.42 gives `IPv4address / IPv6address`, but implementations also write an
        // IPv6 reference in brackets, which RFC 5118 §4.5 asks to accept. The view holds the
        // address alone either way.
        let ok = match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            Some(inner) => crate::uri::ipv6(inner).is_some().then_some(inner),
            None => crate::uri::ip(text).is_some().then_some(text),
        };
        v.received = Some(ok.ok_or("received is not an IP address")?);
    } else if is(name, b"rport") {
        v.rport = Some(match value {
            Some(p) => match number::<u16>("")(p.as_bytes()) {
                Ok(([], port)) => Some(port),
                _ => return Err("rport is not a port"),
            },
            None => None,
        });
    } else if is(name, b"maddr") {
        v.maddr = Some(value.ok_or("maddr needs a host")?);
    } else if is(name, b"ttl") {
        v.ttl = match value.map(|t| number::<u8>("")(t.as_bytes())) {
            Some(Ok(([], ttl))) if value.is_some_and(|t| t.len() <= 3) => Some(ttl),
            _ => return Err("ttl is not 0-255"),
        };
    }
    Ok(())
}

/// The usual via-parm, `SIP/2.0/UDP host[:port]*(;param)` with no white space inside, in one
/// pass ([`Plain`]). `None` for anything else, which [`via`] then parses and reports on.
fn plain_via(value: &[u8], list: bool) -> Option<Via<'_>> {
    plain_via_text(std::str::from_utf8(value).ok()?, list)
}

/// [`plain_via`] of a value given as text.
#[inline(always)]
pub(crate) fn plain_via_text(text: &str, list: bool) -> Option<Via<'_>> {
    let value = text.as_bytes();
    let mut p = Plain::from_text(text);
    let (protocol, version) = if value.starts_with(b"SIP/2.0/") {
        let (protocol, version) = (p.take(3)?, p.take(4)?);
        (protocol, version.get(1..)?)
    } else {
        let protocol = p.many1(TOKEN)?;
        p.eat(b'/').then_some(())?;
        let version = p.many1(TOKEN)?;
        (protocol, version)
    };
    p.eat(b'/').then_some(())?;
    let transport = p.many1(TOKEN)?;
    p.eat(b' ').then_some(())?;
    let host = if p.peek() == Some(b'[') {
        let (host, n) = crate::uri::parse_host(p.rest(), 0).ok()?;
        p.take(n)?;
        host
    } else if let Some((ip, n)) = crate::uri::ipv4_host(p.rest()) {
        p.take(n)?;
        Host::Ipv4(ip)
    } else {
        crate::uri::host_from_text(p.many1(HOST)?)?
    };
    let port = match p.eat(b':') {
        true => Some(p.port()?),
        false => None,
    };
    let mut known = Known::default();
    let params = p.params(|name, value| via_param(&mut known, name.as_bytes(), value).ok())?;
    if !p.at_end(list) {
        return None;
    }
    Some(Via::new(
        protocol, version, transport, host, port, known, params,
    ))
}

impl<'a> Via<'a> {
    /// A Via of its sent-protocol, sent-by and parameters.
    #[inline(always)]
    fn new(
        protocol: &'a str,
        version: &'a str,
        transport: &'a str,
        host: Host<'a>,
        port: Option<u16>,
        known: Known<'a>,
        params: Params<'a>,
    ) -> Self {
        let Known {
            branch,
            received,
            rport,
            maddr,
            ttl,
        } = known;
        Via {
            protocol,
            version,
            transport,
            host,
            port,
            branch,
            received,
            rport,
            maddr,
            ttl,
            params,
        }
    }
}

fn via(i: In<'_>) -> Res<'_, Via<'_>> {
    let (i, protocol) = token(i)?;
    let (i, ()) = sep(b'/', "'/'")(i)?;
    let (i, version) = token(i)?;
    let (i, ()) = sep(b'/', "'/'")(i)?;
    let (i, transport) = token(i)?;
    let (i, ()) = lws(i)?;
    let (i, host) = host(i)?;
    let (i, port) = opt_port(i)?;
    let mut known = Known::default();
    let (i, params) = grammar::header_params(i, |name, value, at| {
        // Values are tokens or quoted strings, which the grammar has checked to be UTF-8.
        let value = value.map(utf8).transpose()?;
        via_param(&mut known, name, value).map_err(|what| bad_param(at, what))
    })?;
    let v = Via::new(protocol, version, transport, host, port, known, params);
    let (i, ()) = sws(i)?;
    Ok((i, v))
}

/// Panics unless [`plain_via`], wherever it answers, gives what the grammar gives, alone or as
/// the first of a list; returns how many of the two it answered. For unit tests and fuzzing.
#[cfg(any(test, fuzzing))]
pub(crate) fn assert_one_pass_agrees(value: &[u8]) -> usize {
    grammar::assert_one_pass_agrees(value, plain_via, |value, list| match list {
        true => grammar::first_element(value, via),
        false => grammar::complete(value, via),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_agrees_with_the_grammar() {
        let heads = [
            "SIP/2.0/UDP ",
            "sip/2.0/tls ",
            "SIP /2.0/UDP ",
            "SIP/2.0/UDP  ",
            "SIP/2.0/UDP\t",
            "SIP/2.0 /UDP ",
            "SIP/2.0/ UDP ",
            "SIP/2.0/UDP",
        ];
        let hosts = [
            "192.0.2.1",
            "host.example.com",
            "[2001:db8::1]",
            "256.1.1.1",
            "01.2.3.4",
            "-bad.com",
            "a",
            "1.2.3",
            "h_x",
            "",
            "[::1",
            "x.-y",
        ];
        let ports = [
            "", ":5060", ":65535", ":65536", ":", ": 5060", ":0", " :1", ":0005060", ":123456",
        ];
        let params = [
            "",
            ";branch=z9hG4bK776",
            ";branch",
            ";branch=\"q\"",
            ";received=192.0.2.4",
            ";received=2001:db8::1",
            ";received=nothost",
            ";rport",
            ";rport=5060",
            ";rport=70000",
            ";ttl=16",
            ";ttl=256",
            ";ttl=0016",
            ";maddr=224.2.0.1",
            ";maddr=\"x y\"",
            ";x=\"q",
            "; branch=x",
            ";branch = x",
            ";;",
            ";a=[::1]",
            ";a=",
            ";RPORT=1;Branch=y",
        ];
        let tails: [&[u8]; 7] = [
            b"",
            b",SIP/2.0/UDP h",
            b" ",
            b" ;x",
            b" , x",
            "\u{e9}".as_bytes(),
            b"\xff",
        ];
        let mut taken = 0;
        for head in heads {
            for host in hosts {
                for port in ports {
                    for param in params {
                        for tail in tails {
                            let mut value = format!("{head}{host}{port}{param}").into_bytes();
                            value.extend_from_slice(tail);
                            taken += assert_one_pass_agrees(&value);
                        }
                    }
                }
            }
        }
        assert!(taken > 1000, "{taken}");
        assert!(plain_via(b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1;rport", false).is_some());
    }

    #[test]
    fn folded_torture_via() {
        // RFC 4475 §3.1.1.1
        let v = Via::parse(b"SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!((v.protocol, v.version, v.transport), ("SIP", "2.0", "UDP"));
        assert_eq!(v.host, Host::Ipv4([192, 0, 2, 2].into()));
        assert_eq!(v.branch, Some("390skdjuw"));
        assert!(!v.has_rfc3261_branch());
        let v = Via::parse(
            b"SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8",
        )
        .unwrap();
        assert_eq!(v.host, Host::Domain("spindle.example.com"));
        assert_eq!(v.branch, Some("z9hG4bK9ikj8"));
        assert!(v.has_rfc3261_branch());
    }

    #[test]
    fn params() {
        let v = Via::parse(b"SIP/2.0/TCP h:5061;ttl=16;maddr=224.2.0.1;rport=5070;x=\"q\";flag")
            .unwrap();
        assert_eq!(
            (v.port, v.ttl, v.maddr, v.rport),
            (Some(5061), Some(16), Some("224.2.0.1"), Some(Some(5070)))
        );
        assert_eq!(v.params.get("x"), Some(Some("\"q\"")));
        assert_eq!(v.params.get("flag"), Some(None));
        let v = Via::parse(b"SIP/2.0/UDP h;received=2001:db8::1").unwrap();
        assert_eq!(v.received, Some("2001:db8::1"));
        // RFC 5118 §4.5: a bracketed reference gives the same address.
        let v = Via::parse(b"SIP/2.0/UDP h;received=[2001:db8::1];branch=z9hG4bK1").unwrap();
        assert_eq!(v.received, Some("2001:db8::1"));
        assert_eq!(v.received_ip(), Some("2001:db8::1".parse().unwrap()));
        let v = Via::parse(b"SIP/2.0/UDP h;received=2001:db8:::192.0.2.1").unwrap();
        assert_eq!(v.received_ip(), Some("2001:db8::c000:201".parse().unwrap()));
    }

    #[test]
    fn errors() {
        for (bad, at) in [
            (&b"SIP/2.0/UDP 192.0.2.15;;,;,,"[..], 23),
            (b"SIP/2.0 UDP h", 7),
            (b"SIP/2.0/UDPh", 12),
            (b"SIP/2.0/UDP h:99999", 14),
            (b"SIP/2.0/UDP h;ttl=256", 13),
            (b"SIP/2.0/UDP h;received=nothost", 13),
            (b"SIP/2.0/UDP h;received=[192.0.2.1]", 13),
            (b"SIP/2.0/UDP h;received=[2001:db8::1", 13),
            (b"SIP/2.0/UDP h;received=[]", 13),
            (b"SIP/2.0/UDP h;branch", 13),
        ] {
            let e = Via::parse(bad).unwrap_err();
            assert_eq!(e.offset, at, "{}: {e}", String::from_utf8_lossy(bad));
        }
    }
}
