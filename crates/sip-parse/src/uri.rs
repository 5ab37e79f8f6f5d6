//! URIs (RFC 3261 §19.1, RFC 3966): SIP and SIPS parsed into parts, tel numbers, and any other
//! scheme kept as an absolute URI.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::ParseError;
use crate::chars::{self, HNV, HOST, PARAM, PASSWORD, URIC, USER};

/// A parsed URI, borrowing its text.
///
/// ```
/// use sip_parse::{Host, Uri};
/// let Uri::Sip(u) = Uri::parse("sips:alice:secret@[2001:db8::1]:5061;transport=tcp?subject=hi")?
/// else { unreachable!() };
/// assert!(u.secure);
/// assert_eq!((u.user, u.password), (Some("alice"), Some("secret")));
/// assert_eq!(u.host, Host::Ipv6("2001:db8::1".parse().unwrap()));
/// assert_eq!(u.port, Some(5061));
/// assert_eq!(u.param("transport"), Some(Some("tcp")));
/// assert_eq!(u.headers, Some("subject=hi"));
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`
    Sip(SipUri<'a>),
    /// `tel:` (RFC 3966)
    Tel(TelUri<'a>),
    /// Any other scheme, kept whole (RFC 3261 §19.1 `absoluteURI`).
    Absolute(AbsoluteUri<'a>),
}

/// A `sip:` or `sips:` URI. Text fields keep their `%HH` escapes; see [`percent_decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part (may contain `;` as in `sip:user;par=x@host`).
    pub user: Option<&'a str>,
    /// The password, if written (deprecated, but legal).
    pub password: Option<&'a str>,
    /// The host.
    pub host: Host<'a>,
    /// The port, if written.
    pub port: Option<u16>,
    /// The uri-parameters as written, from the first `;` (empty if none).
    pub params: &'a str,
    /// The headers after `?`, if any (`name=value&…`).
    pub headers: Option<&'a str>,
}

/// A host: domain name, IPv4 address or IPv6 reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    /// A domain name, as written (compare case-insensitively).
    Domain(&'a str),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (written in brackets).
    Ipv6(Ipv6Addr),
}

/// A `tel:` URI (RFC 3966).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// The number as written, visual separators included (`+1-201-555-0123`).
    pub number: &'a str,
    /// Parameters as written, from the first `;`.
    pub params: &'a str,
}

/// A URI of another scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsoluteUri<'a> {
    /// The scheme, without `:`.
    pub scheme: &'a str,
    /// Everything after the `:`.
    pub rest: &'a str,
}

impl<'a> Uri<'a> {
    /// Parses a whole URI. Error offsets count from the start of `s`.
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        let b = s.as_bytes();
        let scheme_len = if b.starts_with(b"sip:") {
            3
        } else {
            b.iter()
                .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
                .unwrap_or(b.len())
        };
        if scheme_len == 0 || !b[0].is_ascii_alphabetic() || b.get(scheme_len) != Some(&b':') {
            return Err(ParseError::expected("URI scheme", 0));
        }
        let scheme = &s[..scheme_len];
        let rest_at = scheme_len + 1;
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            let secure = scheme_len == 4;
            SipUri::parse_after_scheme(&s[rest_at..], secure)
                .map(Uri::Sip)
                .map_err(|e| e.shifted(rest_at))
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_after_scheme(&s[rest_at..])
                .map(Uri::Tel)
                .map_err(|e| e.shifted(rest_at))
        } else {
            if let Some(bad) = b[rest_at..]
                .iter()
                .position(|&c| !chars::is(c, URIC) && c < 0x80)
            {
                return Err(ParseError::expected("URI character", rest_at + bad));
            }
            check_escapes(&s[rest_at..]).map_err(|e| e.shifted(rest_at))?;
            Ok(Uri::Absolute(AbsoluteUri {
                scheme,
                rest: &s[rest_at..],
            }))
        }
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// URI equivalence per RFC 3261 §19.1.4 for SIP URIs; other schemes compare their text,
    /// scheme case-insensitively.
    pub fn equivalent(&self, other: &Uri<'_>) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.equivalent(b),
            (Uri::Tel(a), Uri::Tel(b)) => {
                strip_visual(a.number).eq(strip_visual(b.number))
                    && params_equal(a.params, b.params)
            }
            (Uri::Absolute(a), Uri::Absolute(b)) => {
                a.scheme.eq_ignore_ascii_case(b.scheme) && a.rest == b.rest
            }
            _ => false,
        }
    }
}

impl<'a> SipUri<'a> {
    fn parse_after_scheme(s: &'a str, secure: bool) -> Result<Self, ParseError> {
        let b = s.as_bytes();
        // userinfo ends at the first '@': no later part of the grammar allows a bare '@'.
        let (user, password, host_at) = match chars::find_byte(b, b'@') {
            Some(at) => {
                let info = &s[..at];
                // The user ends at the first byte outside its class; ':' is outside it, so this
                // finds the password's ':' and the first bad user character in one scan.
                let u = chars::span(info.as_bytes(), USER);
                let (user, password) = match info.as_bytes().get(u) {
                    None => (info, None),
                    Some(b':') => (&info[..u], Some(&info[u + 1..])),
                    Some(_) => return Err(ParseError::expected("user character", u)),
                };
                if user.is_empty() {
                    return Err(ParseError::expected("user", 0));
                }
                if let Some(p) = password {
                    check_class(p, PASSWORD, "password character", user.len() + 1)?;
                }
                (Some(user), password, at + 1)
            }
            None => (None, None, 0),
        };
        let (host, mut pos) = parse_host_str(s, host_at)?;
        let mut port = None;
        if b.get(pos) == Some(&b':') {
            let digits = b[pos + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            port = Some(parse_port(&s[pos + 1..pos + 1 + digits], pos + 1)?);
            pos += 1 + digits;
        }
        let params_start = pos;
        while b.get(pos) == Some(&b';') {
            let name = chars::span(&b[pos + 1..], PARAM);
            if name == 0 {
                return Err(ParseError::expected("uri-parameter name", pos + 1));
            }
            pos += 1 + name;
            if b.get(pos) == Some(&b'=') {
                let value = chars::span(&b[pos + 1..], PARAM);
                if value == 0 {
                    return Err(ParseError::expected("uri-parameter value", pos + 1));
                }
                pos += 1 + value;
            }
        }
        let params = &s[params_start..pos];
        let mut headers = None;
        if b.get(pos) == Some(&b'?') {
            let start = pos + 1;
            loop {
                let name = chars::span(&b[pos + 1..], HNV);
                if name == 0 {
                    return Err(ParseError::expected("URI header name", pos + 1));
                }
                pos += 1 + name;
                if b.get(pos) != Some(&b'=') {
                    return Err(ParseError::expected("'=' in URI header", pos));
                }
                pos += 1 + chars::span(&b[pos + 1..], HNV);
                if b.get(pos) != Some(&b'&') {
                    break;
                }
            }
            headers = Some(&s[start..pos]);
        }
        if pos != b.len() {
            return Err(ParseError::expected("end of URI", pos));
        }
        check_escapes(s)?;
        Ok(Self {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// The value of uri-parameter `name` (case-insensitive): `None` if absent, `Some(None)` if
    /// it has no value.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        uri_params(self.params)
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The user part with `%HH` escapes decoded.
    pub fn user_decoded(&self) -> Option<Cow<'a, [u8]>> {
        self.user.map(percent_decode)
    }

    /// Equivalence per RFC 3261 §19.1.4: user and password case-sensitively after decoding;
    /// host case-insensitively; ports equal (an absent port differs from 5060); parameters in
    /// both must match, `user`, `ttl`, `method`, `maddr` and `transport` must be in both or
    /// neither; headers must match exactly.
    ///
    /// ```
    /// use sip_parse::Uri;
    /// let eq = |a, b| Uri::parse(a).unwrap().equivalent(&Uri::parse(b).unwrap());
    /// assert!(eq("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"));
    /// assert!(eq("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
    /// assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
    /// assert!(!eq("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"));
    /// ```
    pub fn equivalent(&self, other: &SipUri<'_>) -> bool {
        self.secure == other.secure
            && opt_decoded_eq(self.user, other.user)
            && opt_decoded_eq(self.password, other.password)
            && host_eq(&self.host, &other.host)
            && self.port == other.port
            && params_equal(self.params, other.params)
            && headers_equal(self.headers.unwrap_or(""), other.headers.unwrap_or(""))
    }
}

impl<'a> TelUri<'a> {
    fn parse_after_scheme(s: &'a str) -> Result<Self, ParseError> {
        let b = s.as_bytes();
        let end = memchr::memchr(b';', b).unwrap_or(b.len());
        let number = &s[..end];
        let ok = |c: u8| {
            c.is_ascii_hexdigit() || matches!(c, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
        };
        if number.is_empty() {
            return Err(ParseError::expected("telephone number", 0));
        }
        if let Some(bad) = number.bytes().position(|c| !ok(c)) {
            return Err(ParseError::expected("telephone number character", bad));
        }
        let params = &s[end..];
        if let Some(bad) = params
            .bytes()
            .position(|c| !(chars::is(c, PARAM) || matches!(c, b';' | b'=')))
        {
            return Err(ParseError::expected("tel parameter character", end + bad));
        }
        check_escapes(s)?;
        Ok(Self { number, params })
    }
}

fn check_class(s: &str, mask: u8, what: &'static str, at: usize) -> Result<(), ParseError> {
    match s.bytes().position(|c| !chars::is(c, mask)) {
        Some(bad) => Err(ParseError::expected(what, at + bad)),
        None => Ok(()),
    }
}

/// `escaped = "%" HEXDIG HEXDIG` wherever `%` appears.
fn check_escapes(s: &str) -> Result<(), ParseError> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(p) = chars::find_byte(&b[from..], b'%') {
        let at = from + p;
        match b.get(at + 1..at + 3) {
            Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => from = at + 3,
            _ => return Err(ParseError::expected("two hex digits after '%'", at + 1)),
        }
    }
    Ok(())
}

fn parse_port(digits: &str, at: usize) -> Result<u16, ParseError> {
    if digits.is_empty() {
        return Err(ParseError::expected("port", at));
    }
    // The usual port, read without `str::parse`; a longer run is left to it.
    if digits.len() <= 5 {
        let port = digits
            .bytes()
            .fold(0u32, |port, d| port * 10 + u32::from(d - b'0'));
        return u16::try_from(port).map_err(|_| ParseError::invalid("port above 65535", at));
    }
    digits
        .parse::<u16>()
        .map_err(|_| ParseError::invalid("port above 65535", at))
}

/// `host` starting at `at`: an IPv6 reference, an IPv4 address or a host name.
pub(crate) fn parse_host(b: &[u8], at: usize) -> Result<(Host<'_>, usize), ParseError> {
    if b.get(at) == Some(&b'[') {
        let close = memchr::memchr(b']', &b[at..]).ok_or(ParseError::expected("']'", b.len()))?;
        let text = std::str::from_utf8(&b[at + 1..at + close])
            .map_err(|_| ParseError::expected("IPv6 address", at + 1))?;
        let ip = ipv6(text).ok_or(ParseError::expected("IPv6 address", at + 1))?;
        return Ok((Host::Ipv6(ip), at + close + 1));
    }
    let n = chars::span(&b[at..], HOST);
    let text = std::str::from_utf8(&b[at..at + n]).map_err(|_| ParseError::expected("host", at))?;
    named_host(text, at)
}

/// [`parse_host`] over text: the host is cut from `s` without a second UTF-8 check.
fn parse_host_str(s: &str, at: usize) -> Result<(Host<'_>, usize), ParseError> {
    let b = s.as_bytes();
    if b.get(at) == Some(&b'[') {
        return parse_host(b, at);
    }
    if let Some((ip, n)) = ipv4_host(b.get(at..).unwrap_or_default()) {
        return Ok((Host::Ipv4(ip), at + n));
    }
    let n = chars::span(b.get(at..).unwrap_or_default(), HOST);
    let text = s.get(at..at + n).ok_or(ParseError::expected("host", at))?;
    named_host(text, at)
}

/// The host name or IPv4 address `text` found at `at`, and where it ends.
fn named_host(text: &str, at: usize) -> Result<(Host<'_>, usize), ParseError> {
    let host = host_from_text(text).ok_or(ParseError::expected("host", at))?;
    Ok((host, at + text.len()))
}

/// A host name or IPv4 address (RFC 3261 §25.1 `hostname` / `IPv4address`).
pub(crate) fn host_from_text(text: &str) -> Option<Host<'_>> {
    let b = text.as_bytes();
    if b.is_empty() {
        return None;
    }
    // An address is tried first: it is the usual host of a Via or Contact, and a text that
    // parses as one is all digits and dots. Only a failure needs the longer check.
    if b[0].is_ascii_digit()
        && let Some(ip) = ipv4(b)
    {
        return Some(Host::Ipv4(ip));
    }
    if b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return None;
    }
    // hostname = *( domainlabel "." ) toplabel [ "." ]: labels are non-empty and do not start or
    // end with '-'; the top label starts with a letter.
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    let ok = trimmed
        .split('.')
        .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
        && trimmed
            .rsplit('.')
            .next()
            .is_some_and(|top| top.as_bytes()[0].is_ascii_alphabetic());
    ok.then_some(Host::Domain(text))
}

/// An IPv6 address as RFC 3261 §25.1 writes one: every RFC 4291 form, and also the three-colon
/// form its ABNF admits before an embedded IPv4 address, `2001:db8:::192.0.2.1` (a hexpart
/// ending in `::`, then `":" IPv4address`). RFC 5954 §4.1 corrects the grammar and RFC 5118
/// §4.10 asks implementations to tolerate both; the extra colon is dropped, in that one place.
pub(crate) fn ipv6(text: &str) -> Option<Ipv6Addr> {
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    let at = text.find(":::")?;
    let (hexpart, v4) = (text.get(..at + 2)?, text.get(at + 3..)?);
    ipv4(v4.as_bytes())?;
    // The longest IPv6 text is 45 bytes: anything longer is not an address, and a stack buffer
    // keeps this path free of allocation.
    let mut buf = [0u8; 48];
    let n = hexpart.len() + v4.len();
    buf.get_mut(..hexpart.len())?
        .copy_from_slice(hexpart.as_bytes());
    buf.get_mut(hexpart.len()..n)?
        .copy_from_slice(v4.as_bytes());
    std::str::from_utf8(buf.get(..n)?).ok()?.parse().ok()
}

/// An IPv4 or IPv6 address written alone, as in a Via `received` (RFC 3261 §20.42), where
/// [`ipv6`]'s three-colon form is admitted too.
pub(crate) fn ip(text: &str) -> Option<std::net::IpAddr> {
    match ipv4(text.as_bytes()) {
        Some(v4) => Some(v4.into()),
        None => ipv6(text).map(Into::into),
    }
}

/// A dotted-quad IPv4 address as `Ipv4Addr::from_str` reads it (four decimal octets up to
/// 255, no leading zeros), one octet at a time without a loop per digit.
pub(crate) fn ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let (ip, n) = ipv4_prefix(b)?;
    (n == b.len()).then_some(ip)
}

/// The IPv4 address that is the whole host name at the start of `b` (the run of host
/// characters ends where the address does), and its length: the usual host of a Via or
/// Contact, read without scanning the run first. `None` for anything else, including a longer
/// run such as `1.2.3.45x`, which the caller then scans and reads as [`host_from_text`] does.
#[inline]
pub(crate) fn ipv4_host(b: &[u8]) -> Option<(Ipv4Addr, usize)> {
    if !b.first()?.is_ascii_digit() {
        return None;
    }
    let (ip, n) = ipv4_prefix(b)?;
    match b.get(n) {
        Some(&c) if chars::is(c, HOST) => None,
        _ => Some((ip, n)),
    }
}

/// [`ipv4`] of the longest address at the start of `b`, and its length.
#[inline]
fn ipv4_prefix(b: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let digit = |at: usize| {
        b.get(at)
            .filter(|c| c.is_ascii_digit())
            .map(|c| u16::from(c - b'0'))
    };
    let mut octets = [0u8; 4];
    let mut at = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if b.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
        let mut v = digit(at)?;
        at += 1;
        // A leading 0 is the whole octet.
        if v != 0
            && let Some(d) = digit(at)
        {
            v = v * 10 + d;
            at += 1;
            if let Some(d) = digit(at) {
                v = v * 10 + d;
                at += 1;
            }
        }
        *octet = u8::try_from(v).ok()?;
    }
    Some((Ipv4Addr::from(octets), at))
}

impl<'a> Host<'a> {
    /// Parses a host on its own (e.g. a Via `received` value or a profile's server address).
    pub fn parse(s: &'a str) -> Result<Self, ParseError> {
        if let Some(ip) = ipv6(s) {
            return Ok(Host::Ipv6(ip));
        }
        let (host, end) = parse_host(s.as_bytes(), 0)?;
        if end != s.len() {
            return Err(ParseError::expected("end of host", end));
        }
        Ok(host)
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(ip) => write!(f, "{ip}"),
            Host::Ipv6(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// Decodes `%HH` escapes; borrows when there are none. Invalid escapes are kept as written.
///
/// ```
/// assert_eq!(&*sip_parse::percent_decode("I%20have%20spaces"), b"I have spaces");
/// assert_eq!(&*sip_parse::percent_decode("null-%00-null"), b"null-\0-null");
/// ```
pub fn percent_decode(s: &str) -> Cow<'_, [u8]> {
    let b = s.as_bytes();
    if memchr::memchr(b'%', b).is_none() {
        return Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

fn decoded_eq(a: &str, b: &str) -> bool {
    a == b || percent_decode(a) == percent_decode(b)
}

fn opt_decoded_eq(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => decoded_eq(a, b),
        _ => false,
    }
}

fn host_eq(a: &Host<'_>, b: &Host<'_>) -> bool {
    match (a, b) {
        (Host::Domain(a), Host::Domain(b)) => a
            .trim_end_matches('.')
            .eq_ignore_ascii_case(b.trim_end_matches('.')),
        _ => a == b,
    }
}

/// `(name, value)` of each `;name[=value]` in a uri-parameter list.
fn uri_params(params: &str) -> impl Iterator<Item = (&str, Option<&str>)> {
    params
        .split(';')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (p, None),
        })
}

/// A parameter or URI-header list in comparable form: names decoded and lower-cased, values
/// decoded (and lower-cased when `fold_values`), sorted. Sorting keeps comparison O(n log n)
/// however many parameters a hostile URI carries.
type Normalized = Vec<(Vec<u8>, Option<Vec<u8>>)>;

fn normalize<'a>(
    items: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    fold_values: bool,
) -> Normalized {
    let fold = |s: &str, lower: bool| {
        let mut v = percent_decode(s).into_owned();
        if lower {
            v.make_ascii_lowercase();
        }
        v
    };
    let mut out: Normalized = items
        .map(|(n, v)| (fold(n, true), v.map(|v| fold(v, fold_values))))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// RFC 3261 §19.1.4 parameter comparison (also used for tel parameters): a name in both lists
/// must carry the same values; `user`, `ttl`, `method`, `maddr` and `transport` must be in both
/// or neither; any other name in only one list is ignored.
fn params_equal(a: &str, b: &str) -> bool {
    const MUST_BOTH: [&[u8]; 5] = [b"user", b"ttl", b"method", b"maddr", b"transport"];
    fn group<'l>(list: &'l Normalized, name: &[u8]) -> &'l [(Vec<u8>, Option<Vec<u8>>)] {
        let from = list.partition_point(|(n, _)| n.as_slice() < name);
        let len = list[from..].iter().take_while(|(n, _)| n == name).count();
        &list[from..from + len]
    }
    let one_way = |x: &Normalized, y: &Normalized| {
        let mut names: Vec<&[u8]> = x.iter().map(|(n, _)| n.as_slice()).collect();
        names.dedup();
        names.into_iter().all(|name| match group(y, name) {
            [] => !MUST_BOTH.contains(&name),
            theirs => group(x, name) == theirs,
        })
    };
    let (a, b) = (
        normalize(uri_params(a), true),
        normalize(uri_params(b), true),
    );
    one_way(&a, &b) && one_way(&b, &a)
}

/// URI headers: the same set of `name=value` pairs on both sides (names case-insensitive,
/// values exact after decoding).
fn headers_equal(a: &str, b: &str) -> bool {
    let pairs = |s: &str| {
        let items = s
            .split('&')
            .filter(|h| !h.is_empty())
            .map(|h| match h.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (h, None),
            });
        normalize(items, false)
    };
    pairs(a) == pairs(b)
}

fn strip_visual(n: &str) -> impl Iterator<Item = char> + '_ {
    n.chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
        .map(|c| c.to_ascii_lowercase())
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(t) => write!(f, "tel:{}{}", t.number, t.params),
            Uri::Absolute(a) => write!(f, "{}:{}", a.scheme, a.rest),
        }
    }
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = self.user {
            f.write_str(u)?;
            if let Some(p) = self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        f.write_str(self.params)?;
        if let Some(h) = self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Where [`ipv4_host`] answers, the run of host characters is the address it read, and
        /// [`host_from_text`] reads that run as the same address.
        #[test]
        fn ipv4_host_is_the_whole_host(
            s in "[0-9.]{0,16}[0-9a-z.:;>,-]{0,3}",
        ) {
            let b = s.as_bytes();
            if let Some((ip, n)) = ipv4_host(b) {
                proptest::prop_assert_eq!(chars::span(b, HOST), n);
                proptest::prop_assert_eq!(host_from_text(&s[..n]), Some(Host::Ipv4(ip)));
            } else if let Some(Host::Ipv4(_)) = host_from_text(&s[..chars::span(b, HOST)]) {
                proptest::prop_assert!(false, "{s:?} is an address ipv4_host missed");
            }
        }
    }

    #[test]
    fn ipv4_reads_as_std_does() {
        let mut cases: Vec<String> = [
            "0.0.0.0",
            "255.255.255.255",
            "192.0.2.1",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.2.3.04",
            "1..2.3",
            ".1.2.3",
            "1.2.3.",
            "",
            "1",
            "1.2.3.4a",
            "1.2.3.1000",
            "00.0.0.0",
            "0.0.0.00",
            "1.2.3.-4",
            "+1.2.3.4",
            "9999.1.1.1",
            "1.2.3.4 ",
        ]
        .map(String::from)
        .into();
        let octets = [
            "0", "1", "9", "10", "25", "99", "100", "199", "249", "255", "256", "300", "07", "000",
            "1000",
        ];
        for a in octets {
            for b in octets {
                cases.push(format!("{a}.{b}.1.{a}"));
                cases.push(format!("1.{a}.{b}.2"));
            }
        }
        for case in &cases {
            assert_eq!(ipv4(case.as_bytes()), case.parse().ok(), "{case:?}");
        }
    }

    fn sip(s: &str) -> SipUri<'_> {
        match Uri::parse(s) {
            Ok(Uri::Sip(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn torture_user_parts() {
        // RFC 4475 §3.1.1.2: every legal character in user and password.
        let u = sip(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        );
        assert_eq!(
            u.user,
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password,
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        assert_eq!(u.host, Host::Domain("example.com"));
        // §3.1.1.9: ';' in the user part.
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user, Some("user;par=u%40example.net"));
        assert_eq!(u.params, "");
        // §3.1.1.3
        let u = sip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(&*u.user_decoded().unwrap(), b"sips:user@example.com");
        let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert_eq!(&*u.user_decoded().unwrap(), b"caller");
        assert_eq!(u.param("%6C%72"), Some(None));
        assert_eq!(
            &*percent_decode(u.param("n%61me").unwrap().unwrap()),
            b"value%41"
        );
    }

    #[test]
    fn user_and_password_errors() {
        for (uri, kind, at) in [
            ("sip:@h", "user", 4),
            ("sip::pw@h", "user", 4),
            ("sip:a b@h", "user character", 5),
            ("sip:<a@h", "user character", 4),
            ("sip:al<ice:pw@h", "user character", 6),
            ("sip:alice:p:w@h", "password character", 11),
            ("sip:alice:p<w@h", "password character", 11),
        ] {
            let e = Uri::parse(uri).map(|_| ()).unwrap_err();
            assert_eq!(e, ParseError::expected(kind, at), "{uri}");
        }
        let u = sip("sip:alice:secret@h");
        assert_eq!((u.user, u.password), (Some("alice"), Some("secret")));
        let u = sip("sip:alice:@h");
        assert_eq!((u.user, u.password), (Some("alice"), Some("")));
    }

    #[test]
    fn three_colons_only_before_an_ipv4_address() {
        // RFC 5118 §4.10, RFC 5954 §4.1.
        for (text, ip) in [
            ("2001:db8:::192.0.2.1", "2001:db8::192.0.2.1"),
            (":::192.0.2.1", "::192.0.2.1"),
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ] {
            assert_eq!(ipv6(text), Some(ip.parse().unwrap()), "{text}");
            assert_eq!(Host::parse(text), Ok(Host::Ipv6(ip.parse().unwrap())));
            let uri = format!("sip:u@[{text}]:5060");
            assert_eq!(sip(&uri).host, Host::Ipv6(ip.parse().unwrap()), "{uri}");
        }
        for bad in [
            "2001:db8:::1",
            "2001:db8:::",
            "::::192.0.2.1",
            "2001:db8:::192.0.2",
            "2001:::db8:::192.0.2.1",
            "1:2:3:4:5:6:7:::192.0.2.1",
            ":::192.0.2.1:::192.0.2.1:::192.0.2.1:::192.0.2.1",
        ] {
            assert_eq!(ipv6(bad), None, "{bad}");
            assert!(Uri::parse(&format!("sip:[{bad}]")).is_err(), "{bad}");
        }
        assert_eq!(ip("192.0.2.1"), Some([192, 0, 2, 1].into()));
        assert_eq!(ip("[::1]"), None);
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(
            sip("sip:192.0.2.1:5060").host,
            Host::Ipv4(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(sip("sip:192.0.2.1:5060").port, Some(5060));
        assert_eq!(sip("SIP:[::1]").host, Host::Ipv6(Ipv6Addr::LOCALHOST));
        assert_eq!(sip("sip:example.com.").host, Host::Domain("example.com."));
        for bad in [
            "sip:",
            "sip:a@",
            "sip:@host",
            "sip:host:99999",
            "sip:host:",
            "sip:[::1",
            "sip:[zz]",
            "sip:-host.com",
            "sip:host.1com",
            "sip:host;",
            "sip:host;=x",
            "sip:host?",
            "sip:host?a",
            "sip:ho st",
            "sip:a%zz@host",
            "sip:999.1.1.1",
            "sip:user@host>",
            "<sip:a>",
            "1sip:a",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn params_and_headers() {
        let u = sip("sip:services.example.com;lr;unknownwith=value;unknown-no-value");
        assert_eq!(u.param("LR"), Some(None));
        assert_eq!(u.param("unknownwith"), Some(Some("value")));
        let u = sip("sip:user@example.com?Route=%3Csip:example.com%3E&Subject=x");
        assert_eq!(u.headers, Some("Route=%3Csip:example.com%3E&Subject=x"));
        assert_eq!(
            u.to_string(),
            "sip:user@example.com?Route=%3Csip:example.com%3E&Subject=x"
        );
    }

    #[test]
    fn other_schemes() {
        assert!(
            matches!(Uri::parse("tel:+1-201-555-0123;phone-context=x"), Ok(Uri::Tel(t)) if t.number == "+1-201-555-0123")
        );
        assert!(
            matches!(Uri::parse("http://www.example.com/a?b=c"), Ok(Uri::Absolute(a)) if a.scheme == "http")
        );
        assert!(matches!(
            Uri::parse("name:John_Smith"),
            Ok(Uri::Absolute(_))
        ));
        assert!(Uri::parse("tel:").is_err());
        assert!(Uri::parse("urn:a b").is_err());
    }

    #[test]
    fn equivalence_is_reflexive_with_repeated_parameters() {
        // Found by fuzzing (parse_uri): two `par` parameters with different values.
        let text =
            "sip:biloxi.co;'mnarspsip:user;par=u%40exacom44444444444p4;met:user;par=u%4exard";
        let u = Uri::parse(text).unwrap();
        assert!(u.equivalent(&u));
        let other = Uri::parse("sip:biloxi.co;par=u%4exard;par=u%40exacom44444444444p4").unwrap();
        assert!(u.equivalent(&other));
        assert!(!u.equivalent(&Uri::parse("sip:biloxi.co;par=x").unwrap()));
        // Thousands of parameters compare in O(n log n), not O(n^2).
        let many = format!("sip:h{}", ";p=1".repeat(4000));
        assert!(
            Uri::parse(&many)
                .unwrap()
                .equivalent(&Uri::parse(&many).unwrap())
        );
    }

    #[test]
    fn rfc3261_19_1_4_equivalence() {
        let eq = |a: &str, b: &str| Uri::parse(a).unwrap().equivalent(&Uri::parse(b).unwrap());
        for (a, b) in [
            (
                "sip:%61lice@atlanta.com;transport=TCP",
                "sip:alice@AtLanTa.CoM;Transport=tcp",
            ),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
            (
                "sip:carol@chicago.com;newparam=5",
                "sip:carol@chicago.com;security=on",
            ),
            (
                "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
            ),
            (
                "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
            ),
        ] {
            assert!(eq(a, b), "{a} == {b}");
            assert!(eq(b, a), "{b} == {a}");
        }
        for (a, b) in [
            (
                "SIP:ALICE@AtLanTa.CoM;Transport=udp",
                "sip:alice@AtLanTa.CoM;Transport=UDP",
            ),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
            (
                "sip:bob@biloxi.com",
                "sip:bob@biloxi.com:6000;transport=tcp",
            ),
            (
                "sip:carol@chicago.com",
                "sip:carol@chicago.com?Subject=next%20meeting",
            ),
            ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
            ("sip:a@b", "sips:a@b"),
            ("sip:a@b;maddr=x", "sip:a@b"),
        ] {
            assert!(!eq(a, b), "{a} != {b}");
            assert!(!eq(b, a), "{b} != {a}");
        }
    }
}
