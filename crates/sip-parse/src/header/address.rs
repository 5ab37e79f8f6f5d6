//! Addresses: `From`, `To`, `Contact`, `Route`, `Record-Route` (RFC 3261 §20.10, §20.20, §20.39,
//! §20.30, §20.34): `name-addr` or `addr-spec`, then header parameters.

use std::borrow::Cow;

use crate::chars::{self, TOKEN};
use crate::grammar::{
    self, In, Params, Plain, Res, bad_param, expected, fail, number, quoted, sws, utf8,
};
use crate::header_name::is;
use crate::{ErrorKind, ParseError, Uri};

/// An address with optional display name and header parameters: the value of From, To, a Contact
/// entry, or a Route entry.
///
/// The URI is kept as text (checked for stray white space and brackets) and parsed on demand
/// with [`NameAddr::uri`].
///
/// ```
/// use sip_parse::NameAddr;
/// let a = NameAddr::parse(b"\"J Rosenberg \\\"\" <sip:jdrosen@example.com>;tag=98asjd8")?;
/// assert_eq!(a.display_name().as_deref(), Some("J Rosenberg \""));
/// assert_eq!(a.uri_str(), "sip:jdrosen@example.com");
/// assert_eq!(a.tag(), Some("98asjd8"));
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    display: Option<Display<'a>>,
    uri: &'a str,
    angle: bool,
    tag: Option<&'a str>,
    expires: Option<u32>,
    q: Option<u16>,
    params: Params<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Display<'a> {
    Quoted(&'a str),
    Tokens(&'a str),
}

/// One entry of a Contact header: `*` or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *` (remove all bindings, RFC 3261 §10.2.2).
    Wildcard,
    /// A contact address, with `expires` and `q` checked.
    Address(NameAddr<'a>),
}

impl<'a> NameAddr<'a> {
    /// An address of its parts and parameters.
    #[inline(always)]
    fn new(
        display: Option<Display<'a>>,
        uri: &'a str,
        angle: bool,
        known: Known<'a>,
        params: Params<'a>,
    ) -> Self {
        let Known { tag, expires, q } = known;
        NameAddr {
            display,
            uri,
            angle,
            tag,
            expires,
            q,
            params,
        }
    }

    /// Parses a `From`/`To`/`Route` style value.
    pub fn parse(value: &'a [u8]) -> Result<Self, ParseError> {
        Self::parse_text(value, std::str::from_utf8(value).ok())
    }

    /// [`NameAddr::parse`] given `value` as text already (`None` if it is not UTF-8).
    pub(crate) fn parse_text(value: &'a [u8], text: Option<&'a str>) -> Result<Self, ParseError> {
        match text.and_then(|text| plain_name_addr_text(text, false)) {
            Some(a) => Ok(a),
            None => grammar::complete(value, |i| name_addr(i, false)),
        }
    }

    /// The display name with quotes and escapes removed.
    pub fn display_name(&self) -> Option<Cow<'a, str>> {
        match self.display? {
            Display::Quoted(q) => Some(grammar::unescape(q)),
            Display::Tokens(t) => Some(Cow::Borrowed(t)),
        }
    }

    /// The URI text.
    pub fn uri_str(&self) -> &'a str {
        self.uri
    }

    /// The URI, parsed.
    pub fn uri(&self) -> Result<Uri<'a>, ParseError> {
        Uri::parse(self.uri)
    }

    /// Whether the URI was enclosed in `<…>` (name-addr form).
    pub fn is_name_addr(&self) -> bool {
        self.angle
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&'a str> {
        self.tag
    }

    /// The `expires` parameter (Contact).
    pub fn expires(&self) -> Option<u32> {
        self.expires
    }

    /// The `q` parameter (Contact), in thousandths: `q=0.7` is `700`.
    pub fn q(&self) -> Option<u16> {
        self.q
    }

    /// All header parameters as written.
    pub fn params(&self) -> Params<'a> {
        self.params
    }
}

impl<'a> Contact<'a> {
    /// Parses one Contact entry.
    pub fn parse(value: &'a [u8]) -> Result<Self, ParseError> {
        Self::parse_text(value, std::str::from_utf8(value).ok())
    }

    /// [`Contact::parse`] given `value` as text already (`None` if it is not UTF-8).
    pub(crate) fn parse_text(value: &'a [u8], text: Option<&'a str>) -> Result<Self, ParseError> {
        match text.and_then(|text| plain_name_addr_text(text, true)) {
            Some(a) => Ok(Contact::Address(a)),
            None => grammar::complete(value, contact),
        }
    }

    /// The address, unless this is the wildcard.
    pub fn address(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Wildcard => None,
            Contact::Address(a) => Some(a),
        }
    }
}

pub(crate) fn contact(i: In<'_>) -> Res<'_, Contact<'_>> {
    if let Some((b'*', rest)) = i.split_first() {
        let (rest, ()) = sws(rest)?;
        if rest.is_empty() {
            return Ok((rest, Contact::Wildcard));
        }
    }
    let (i, a) = name_addr(i, true)?;
    Ok((i, Contact::Address(a)))
}

/// `( name-addr / addr-spec ) *( SEMI param )`; `contact` checks `expires` and `q` as well.
pub(crate) fn name_addr(i: In<'_>, contact: bool) -> Res<'_, NameAddr<'_>> {
    let (i, display, uri, angle) = match i.first() {
        Some(b'"') => {
            let (r, q) = quoted(i)?;
            let (r, ()) = sws(r)?;
            let (r, uri) = bracketed(r)?;
            (r, Some(Display::Quoted(q)), uri, true)
        }
        Some(b'<') => {
            let (r, uri) = bracketed(i)?;
            (r, None, uri, true)
        }
        _ => match display_tokens(i) {
            Some((r, tokens)) => {
                let (r, uri) = bracketed(r)?;
                (r, Some(Display::Tokens(utf8(tokens)?)), uri, true)
            }
            None => {
                let (r, uri) = addr_spec(i)?;
                (r, None, uri, false)
            }
        },
    };
    let mut known = Known::default();
    let (i, params) = grammar::header_params(i, |name, value, at| {
        // Values are tokens or quoted strings, which the grammar has checked to be UTF-8.
        let value = value.map(utf8).transpose()?;
        address_param(&mut known, contact, name, value).map_err(|what| bad_param(at, what))
    })?;
    Ok((i, NameAddr::new(display, uri, angle, known, params)))
}

/// The parameters of an address that its view holds apart, gathered while the list is read,
/// so that the [`NameAddr`] is built once when it ends instead of filled through a reference
/// and then moved out.
#[derive(Default)]
struct Known<'a> {
    tag: Option<&'a str>,
    expires: Option<u32>,
    q: Option<u16>,
}

/// Records one header parameter of an address (`expires` and `q` only for a Contact), or says
/// what is wrong with it.
#[inline(always)]
fn address_param<'a>(
    a: &mut Known<'a>,
    contact: bool,
    name: &[u8],
    value: Option<&'a str>,
) -> Result<(), &'static str> {
    if is(name, b"tag") {
        let tag = value.filter(|t| !t.starts_with('"'));
        a.tag = Some(tag.ok_or("tag must be a token")?);
    } else if contact && is(name, b"expires") {
        const WHAT: &str = "expires is not delta-seconds below 2**32";
        a.expires = Some(match value.map(|v| number::<u32>(WHAT)(v.as_bytes())) {
            Some(Ok(([], n))) => n,
            _ => return Err(WHAT),
        });
    } else if contact && is(name, b"q") {
        a.q = Some(value.and_then(qvalue).ok_or("q is not a qvalue (0 to 1)")?);
    }
    Ok(())
}

/// The usual address, `["quoted" SP] <URI> *(;param)` with no other white space, in one pass
/// ([`Plain`]). `None` for anything else, which [`name_addr`] then parses and reports on.
#[cfg(any(test, fuzzing))]
fn plain_name_addr(value: &[u8], contact: bool) -> Option<NameAddr<'_>> {
    plain_name_addr_text(std::str::from_utf8(value).ok()?, contact)
}

/// [`plain_name_addr`] of a value given as text.
#[inline(always)]
pub(crate) fn plain_name_addr_text(text: &str, contact: bool) -> Option<NameAddr<'_>> {
    plain_name_addr_at(text, contact, false).map(|(a, _)| a)
}

/// The first Contact address of a list given as text, read in one pass ([`plain_name_addr`])
/// up to the comma or the end, and how many bytes it took; `None` for anything unusual.
#[inline(always)]
pub(crate) fn plain_contact_first(text: &str) -> Option<(NameAddr<'_>, usize)> {
    plain_name_addr_at(text, true, true)
}

/// [`plain_name_addr_text`], alone or (`list`) as the first element of a list.
#[inline(always)]
fn plain_name_addr_at(text: &str, contact: bool, list: bool) -> Option<(NameAddr<'_>, usize)> {
    let mut p = Plain::from_text(text);
    let display = match p.peek()? {
        b'"' => {
            let (_, n) = grammar::quoted_len(p.rest()).ok()?;
            let quoted = p.take(n)?;
            p.eat(b' ');
            Some(Display::Quoted(quoted.get(1..n - 1)?))
        }
        b'<' => None,
        _ => return None,
    };
    if !p.eat(b'<') {
        return None;
    }
    let close = plain_close(p.rest())?;
    let uri = p.take(close)?;
    p.eat(b'>');
    let mut known = Known::default();
    let params =
        p.params(|name, value| address_param(&mut known, contact, name.as_bytes(), value).ok())?;
    if !p.at_end(list) {
        return None;
    }
    Some((NameAddr::new(display, uri, true, known, params), p.pos()))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let thousandths = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |n, c| n * 10 + u16::from(c - b'0'));
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// `*(token LWS)` followed by `<`: the display-name form without quotes. `None` when the text
/// is not followed by `<` (then it is an addr-spec).
fn display_tokens(i: In<'_>) -> Option<(In<'_>, In<'_>)> {
    let mut pos = 0;
    loop {
        let n = chars::span(&i[pos..], TOKEN);
        if n == 0 {
            return None;
        }
        pos += n;
        let end = pos;
        let (rest, ()) = sws(&i[pos..]).ok()?;
        pos = i.len() - rest.len();
        // RFC 4475 §3.1.1.6: no LWS between display name and '<' is accepted.
        if rest.first() == Some(&b'<') {
            return Some((rest, &i[..end]));
        }
    }
}

/// `LAQUOT addr-spec RAQUOT`; the URI may not contain white space (RFC 4475 §3.1.2.14).
fn bracketed(i: In<'_>) -> Res<'_, &str> {
    let Some((b'<', inner)) = i.split_first() else {
        return expected(i, "'<'");
    };
    // One pass finds the '>' and checks the URI on the way; anything unusual takes the two-step
    // path below, whose errors (a missing '>' before a bad character) stay as they are.
    let close = match plain_close(inner) {
        Some(close) => close,
        None => {
            let Some(close) = memchr::memchr(b'>', inner) else {
                return expected(&inner[inner.len()..], "'>'");
            };
            check_uri_text(&inner[..close])?;
            close
        }
    };
    let uri = &inner[..close];
    let (rest, ()) = sws(&inner[close + 1..])?;
    Ok((rest, utf8(uri)?))
}

/// Where the usual bracketed URI (`inner` follows the `<`) ends: the offset of its `>`, found
/// while checking its characters in one table-driven pass. `None` for anything unusual.
fn plain_close(inner: &[u8]) -> Option<usize> {
    let scheme = uri_scheme(inner)?;
    let n = scheme + chars::run_until_wide(&inner[scheme..], &URI_STOP, chars::Wide::UriStop);
    (inner.get(n) == Some(&b'>')).then_some(n)
}

/// `addr-spec` outside brackets: it ends at `;`, `,` or white space, so it may not contain
/// them, nor `?` (RFC 3261 §20: such URIs must be enclosed in `<>`).
fn addr_spec(i: In<'_>) -> Res<'_, &str> {
    let n = i
        .iter()
        .position(|&c| matches!(c, b';' | b',' | b' ' | b'\t' | b'\r' | b'\n'))
        .unwrap_or(i.len());
    let uri = &i[..n];
    if let Some(q) = memchr::memchr(b'?', uri) {
        return fail(
            &uri[q..],
            ErrorKind::Invalid("a URI with headers must be enclosed in '<>'"),
        );
    }
    check_uri_text(uri)?;
    Ok((&i[n..], utf8(uri)?))
}

/// `scheme ":" …` with no white space, control characters, `<` or `"`.
fn check_uri_text(uri: In<'_>) -> Res<'_, ()> {
    let Some(scheme) = uri_scheme(uri) else {
        return expected(uri, "URI");
    };
    match uri[scheme..]
        .iter()
        .position(|&c| URI_STOP[usize::from(c)] & NOT_IN_URI != 0)
    {
        Some(n) => expected(&uri[scheme + n..], "URI character"),
        None => Ok((uri, ())),
    }
}

/// The length of `scheme ":"` at the start of `uri` (RFC 3986 §3.1: `ALPHA *( ALPHA / DIGIT /
/// "+" / "-" / "." )`), if there is one.
fn uri_scheme(uri: &[u8]) -> Option<usize> {
    if uri.starts_with(b"sip:") {
        return Some(4);
    }
    let n = uri
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))?;
    (n > 0 && uri[0].is_ascii_alphabetic() && uri[n] == b':').then_some(n + 1)
}

/// [`URI_STOP`] bit of the bytes a URI may not contain here: white space, controls, `<`, `"`.
const NOT_IN_URI: u8 = 1;
/// [`URI_STOP`] bit of `>`, which ends a bracketed URI.
const URI_END: u8 = 2;

/// The bytes a URI scan stops at, as a table: this scan runs over every URI of From, To and
/// Contact.
static URI_STOP: [u8; 256] = {
    const _: () = assert!(NOT_IN_URI == 1, "stop_table! marks with 1");
    let mut t = chars::stop_table!(|c| c <= 0x20 || matches!(c, 0x7f | b'<' | b'"'));
    t[b'>' as usize] = URI_END;
    t
};

/// Panics unless [`plain_name_addr`], wherever it answers, gives what the grammar gives, as a
/// From/To value or as a Contact; returns how many of the two it answered. For unit tests and
/// fuzzing.
#[cfg(any(test, fuzzing))]
pub(crate) fn assert_one_pass_agrees(value: &[u8]) -> usize {
    grammar::assert_one_pass_agrees(value, plain_name_addr, |value, contact| {
        grammar::complete(value, |i| name_addr(i, contact))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SSE2 set of the bracketed URI's scan is exactly its table's stops.
    #[test]
    fn the_wide_set_is_the_uri_stops() {
        chars::assert_wide_holds(&URI_STOP, chars::Wide::UriStop, true);
    }

    #[test]
    fn one_pass_agrees_with_the_grammar() {
        let displays = [
            "",
            "\"Alice\" ",
            "\"Alice\"",
            "\"A \\\"q\\\"\" ",
            "\"x\"  ",
            "Bob ",
            "\"open ",
            "\"\" ",
            "\"a\\\u{e9}\" ",
        ];
        let uris = [
            "<sip:a@b.example>",
            "<sip:a@b.example;transport=tcp>",
            "<sips:[2001:db8::1]:5061>",
            "<sip:a b@c>",
            "<x>",
            "<sip:a@b",
            "sip:a@b",
            "<tel:+1-555>",
            "<sip:a@b?h=v>",
            "<>",
            "<sip:a@b> ",
            "<1sip:a>",
        ];
        let params = [
            "",
            ";tag=abc",
            ";tag",
            ";tag=\"q\"",
            ";expires=3600",
            ";expires=4294967296",
            ";expires",
            ";q=0.7",
            ";q=1.5",
            ";q",
            ";+sip.instance=\"<urn:uuid:1>\"",
            ";lr",
            "; tag=x",
            ";tag=x;TAG=y",
            ";a=[::1]",
            ";tag=",
            ";q=1.000;Expires=0",
        ];
        let tails: [&[u8]; 6] = [b"", b" ", b",", "\u{e9}".as_bytes(), b"\xff", b" ;x=y"];
        let mut taken = 0;
        for display in displays {
            for uri in uris {
                for param in params {
                    for tail in tails {
                        let mut value = format!("{display}{uri}{param}").into_bytes();
                        value.extend_from_slice(tail);
                        taken += assert_one_pass_agrees(&value);
                    }
                }
            }
        }
        assert!(taken > 500, "{taken}");
        assert!(plain_name_addr(b"\"A\" <sip:a@b>;tag=1", false).is_some());
    }

    fn na(s: &str) -> NameAddr<'_> {
        NameAddr::parse(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn forms() {
        let a = na("sip:caller@example.net;tag=134161461246");
        assert_eq!(
            (a.uri_str(), a.tag(), a.is_name_addr()),
            ("sip:caller@example.net", Some("134161461246"), false)
        );
        let a = na("caller<sip:caller@example.com>;tag=323");
        assert_eq!(a.display_name().as_deref(), Some("caller"));
        let a = na("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;tag=_token~1'+`*%!-.");
        assert_eq!(
            a.display_name().as_deref(),
            Some("token1~` token2'+_ token3*%!.-")
        );
        assert_eq!(a.tag(), Some("_token~1'+`*%!-."));
        let a = na("\"BEL:\\\x07 NUL:\\\0 DEL:\\\x7f\" <sip:x@example.com>");
        assert_eq!(
            a.display_name().as_deref(),
            Some("BEL:\x07 NUL:\0 DEL:\x7f")
        );
        let a = na("\"%Z%45\" <sip:resource@example.com>");
        assert_eq!(a.display_name().as_deref(), Some("%Z%45"));
        let a = na(" sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n");
        assert_eq!(a.tag(), Some("1918181833n"));
        let a = na(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        );
        assert_eq!(a.display_name().as_deref(), Some("J Rosenberg \\\""));
        assert_eq!(a.tag(), Some("98asjd8"));
    }

    #[test]
    fn contacts() {
        assert_eq!(Contact::parse(b" * ").unwrap(), Contact::Wildcard);
        let c = Contact::parse(b"\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n  secondparam ; q = 0.33").unwrap();
        let a = c.address().unwrap();
        assert_eq!(a.q(), Some(330));
        assert_eq!(a.params().get("newparam"), Some(Some("newvalue")));
        assert_eq!(a.params().get("secondparam"), Some(None));
        let c = Contact::parse(b"<sip:u@h>;expires=3600;q=1").unwrap();
        assert_eq!(
            (c.address().unwrap().expires(), c.address().unwrap().q()),
            (Some(3600), Some(1000))
        );
        assert!(
            Contact::parse(b"<sip:user@host129.example.com>\r\n  ;expires=280297596632815")
                .is_err()
        );
        assert!(Contact::parse(b"<sip:u@h>;q=1.5").is_err());
        assert!(Contact::parse(b"<sip:u@h>;q=0.3333").is_err());
    }

    #[test]
    fn invalid_addresses() {
        for (bad, at) in [
            ("\"Mr. J. User <sip:j.user@example.com>", 37), // RFC 4475 §3.1.2.6
            ("\"Watson, Thomas\" < sip:t.watson@example.org >", 18), // §3.1.2.14
            ("Bell, Alexander <sip:a.g.bell@example.com>;tag=43", 0), // §3.1.2.15
            ("sip:user@example.com?Route=%3Csip:sip.example.com%3E", 20), // §3.1.2.13
            ("<sip:a@b", 8),
            // A bad character before '>' is reported there; without any '>', the '>' is.
            ("<sip:a b>", 6),
            ("<sip:a\"b>", 6),
            ("<sip:a b", 8),
            ("<1sip:a>", 1),
            ("<sip:a@b>;tag", 9),
            ("<sip:a@b> junk", 10),
        ] {
            let e = NameAddr::parse(bad.as_bytes()).unwrap_err();
            assert_eq!(e.offset, at, "{bad}: {e}");
        }
        assert!(qvalue("0.5").is_some() && qvalue("1.000").is_some() && qvalue("2").is_none());
    }
}
