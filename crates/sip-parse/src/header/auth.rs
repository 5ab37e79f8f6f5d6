//! `WWW-Authenticate`, `Proxy-Authenticate`, `Authorization`, `Proxy-Authorization`
//! (RFC 3261 §20.7, §20.27, §20.28, §20.44; RFC 7616 parameters).

use std::borrow::Cow;

use crate::ParseError;
use crate::grammar::{self, In, Res, gen_value, lws, sep, token};

/// A challenge or credentials: an auth scheme (`Digest`) and its comma-separated parameters.
///
/// ```
/// use sip_parse::Challenge;
/// let c = Challenge::parse(b"Digest realm=\"atlanta.com\", qop=\"auth,auth-int\", \
///                            nonce=\"84a4cc6f3082121f32b42a2187831a9e\", algorithm=SHA-256, stale=TRUE")?;
/// assert!(c.is_digest());
/// assert_eq!(c.realm().as_deref(), Some("atlanta.com"));
/// assert_eq!(c.qop_options().collect::<Vec<_>>(), ["auth", "auth-int"]);
/// assert_eq!(c.param("algorithm").as_deref(), Some("SHA-256"));
/// assert!(c.stale());
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge<'a> {
    /// The scheme as written (`Digest`, `Basic`, …; compare case-insensitively).
    pub scheme: &'a str,
    /// The parameters as written (after the scheme).
    pub params: &'a str,
}

/// Credentials share the challenge syntax (RFC 3261 §25.1 `credentials`).
pub type Credentials<'a> = Challenge<'a>;

impl<'a> Challenge<'a> {
    /// Parses a challenge or credentials value.
    pub fn parse(value: &'a [u8]) -> Result<Self, ParseError> {
        grammar::complete(value, challenge)
    }

    /// Whether the scheme is Digest.
    pub fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    /// Each `(name, raw value)`; quoted values keep their quotes.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        grammar::split_outside_quotes(self.params, b',').filter_map(|p| {
            let (n, v) = p.split_once('=')?;
            Some((n.trim_matches(is_lws), v.trim_matches(is_lws)))
        })
    }

    /// The raw value of parameter `name` (case-insensitive).
    pub fn raw_param(&self, name: &str) -> Option<&'a str> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The value of parameter `name`, unquoted and unescaped.
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.raw_param(name).map(unquote)
    }

    /// `realm`
    pub fn realm(&self) -> Option<Cow<'a, str>> {
        self.param("realm")
    }

    /// `nonce`
    pub fn nonce(&self) -> Option<Cow<'a, str>> {
        self.param("nonce")
    }

    /// `opaque`
    pub fn opaque(&self) -> Option<Cow<'a, str>> {
        self.param("opaque")
    }

    /// `algorithm` (absent means MD5, RFC 7616 §3.3).
    pub fn algorithm(&self) -> Option<Cow<'a, str>> {
        self.param("algorithm")
    }

    /// `stale=true` (case-insensitive).
    pub fn stale(&self) -> bool {
        self.param("stale")
            .is_some_and(|s| s.eq_ignore_ascii_case("true"))
    }

    /// The qop options of a challenge (`qop="auth,auth-int"`), or the single qop of credentials.
    pub fn qop_options(&self) -> impl Iterator<Item = &'a str> + 'a {
        let raw = self.raw_param("qop").unwrap_or("");
        let inner = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(raw);
        inner
            .split(',')
            .map(|q| q.trim_matches(is_lws))
            .filter(|q| !q.is_empty())
    }

    /// `username` (credentials).
    pub fn username(&self) -> Option<Cow<'a, str>> {
        self.param("username")
    }

    /// `response` (credentials).
    pub fn response(&self) -> Option<Cow<'a, str>> {
        self.param("response")
    }
}

fn is_lws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn unquote(v: &str) -> Cow<'_, str> {
    match v.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => grammar::unescape(inner),
        None => Cow::Borrowed(v),
    }
}

/// `auth-scheme LWS auth-param *(COMMA auth-param)`
fn challenge(i: In<'_>) -> Res<'_, Challenge<'_>> {
    let (i, scheme) = token(i)?;
    let (i, ()) = lws(i)?;
    let start = i;
    let (mut i, ()) = auth_param(i)?;
    while let Ok((r, ())) = sep(b',', "','")(i) {
        i = auth_param(r)?.0;
    }
    let params = grammar::utf8(&start[..start.len() - i.len()])?;
    Ok((i, Challenge { scheme, params }))
}

/// `auth-param-name EQUAL ( token / quoted-string )`
fn auth_param(i: In<'_>) -> Res<'_, ()> {
    let (i, _) = token(i)?;
    let (i, ()) = sep(b'=', "'='")(i)?;
    let (i, _) = gen_value(i)?;
    Ok((i, ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials() {
        let c = Challenge::parse(
            b"Digest username=\"bob\", realm=\"biloxi.com\",\r\n nonce=\"dcd98b\", uri=\"sip:biloxi.com\",\
              qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae4\", opaque=\"5ccc\"",
        )
        .unwrap();
        assert_eq!(c.username().as_deref(), Some("bob"));
        assert_eq!(c.param("nc").as_deref(), Some("00000001"));
        assert_eq!(c.qop_options().collect::<Vec<_>>(), ["auth"]);
        assert_eq!(c.param("uri").as_deref(), Some("sip:biloxi.com"));
        assert_eq!(c.param("missing"), None);
        let c = Challenge::parse(b"NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert!(!c.is_digest());
        assert_eq!(c.raw_param("opaque-data"), Some("here"));
    }

    #[test]
    fn errors() {
        assert_eq!(Challenge::parse(b"Digest").unwrap_err().offset, 6);
        assert_eq!(Challenge::parse(b"Digest realm").unwrap_err().offset, 12);
        assert_eq!(
            Challenge::parse(b"Digest realm=\"x").unwrap_err().offset,
            15
        );
        assert_eq!(Challenge::parse(b"Digest a=b,,c=d").unwrap_err().offset, 11);
    }
}
