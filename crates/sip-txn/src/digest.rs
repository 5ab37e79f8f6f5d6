//! A Digest authentication client for SIP (RFC 3261 §22 with RFC 2617, RFC 7616 and RFC 8760):
//! MD5, MD5-sess, SHA-256, SHA-256-sess, SHA-512-256 and SHA-512-256-sess; qop `auth` and
//! `auth-int`; nonce counts and client nonces; `stale=true`; one answer per realm.
//!
//! The server side shares the same hashing: [`DigestChallenge`] writes a challenge,
//! [`DigestCredentials::parse`] reads an answer and [`verify`] checks its `response`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use md5::Md5;
use sha2::{Sha256, Sha512_256};
use sip_parse::{Challenge, ErrorKind, Message, MessageBuilder, ParseError};

use crate::{Error, Result};

/// A digest algorithm (RFC 7616 §6.1, RFC 8760 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// `MD5` (RFC 2617), the default when a challenge names none.
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256` (RFC 7616).
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256` (RFC 7616: SHA-512/256).
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

impl Algorithm {
    /// The algorithm named `s` (case-insensitive), if supported.
    pub fn parse(s: &str) -> Option<Self> {
        const ALL: [Algorithm; 6] = [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
            Algorithm::Sha512_256,
            Algorithm::Sha512_256Sess,
        ];
        ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// The name as written in headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Whether A1 includes the nonces (the `-sess` variants, RFC 7616 §3.4.2).
    pub fn is_session(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// Ranking for choosing among several challenges: the hash's strength.
    fn strength(self) -> u8 {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 0,
            Algorithm::Sha256 | Algorithm::Sha256Sess => 1,
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => 2,
        }
    }

    /// `H(parts concatenated)` as lower-case hex, with this algorithm's hash function (for
    /// server-side values such as nonces that must use the same primitives).
    ///
    /// ```
    /// use sip_txn::digest::Algorithm;
    /// assert_eq!(Algorithm::Md5.hex_digest(&[b"a", b"bc"]), "900150983cd24fb0d6963f7d28e17f72");
    /// ```
    pub fn hex_digest(self, parts: &[&[u8]]) -> String {
        self.hash(parts)
    }

    /// `H(data)` as lower-case hex.
    fn hash(self, parts: &[&[u8]]) -> String {
        fn hex<D: sha2::Digest>(parts: &[&[u8]]) -> String {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            let mut s = String::with_capacity(128);
            for b in d.finalize().iter() {
                let _ = write!(s, "{b:02x}");
            }
            s
        }
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex::<Md5>(parts),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex::<Sha256>(parts),
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => hex::<Sha512_256>(parts),
        }
    }
}

/// Quality of protection (RFC 7616 §3.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qop {
    /// `auth`: A2 = method:uri.
    Auth,
    /// `auth-int`: A2 = method:uri:H(body).
    AuthInt,
}

impl Qop {
    /// The name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }
}

/// Everything one digest `response` value depends on.
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The user name.
    pub username: &'a str,
    /// The password.
    pub password: &'a str,
    /// The realm of the challenge.
    pub realm: &'a str,
    /// The server nonce.
    pub nonce: &'a str,
    /// The client nonce (used with a qop or a `-sess` algorithm).
    pub cnonce: &'a str,
    /// The nonce count.
    pub nc: u32,
    /// The qop, or `None` for the RFC 2069 form.
    pub qop: Option<Qop>,
    /// The request method.
    pub method: &'a str,
    /// The digest URI (the Request-URI).
    pub uri: &'a str,
    /// The body, hashed for `auth-int`.
    pub body: &'a [u8],
}

/// The `response` value (RFC 7616 §3.4.1; RFC 2617 §3.2.2.1 for MD5).
///
/// The worked example of RFC 2617 §3.5:
///
/// ```
/// use sip_txn::digest::{digest_response, Algorithm, DigestInput, Qop};
/// let r = digest_response(&DigestInput {
///     algorithm: Algorithm::Md5, username: "Mufasa", password: "Circle Of Life",
///     realm: "testrealm@host.com", nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
///     cnonce: "0a4f113b", nc: 1, qop: Some(Qop::Auth), method: "GET",
///     uri: "/dir/index.html", body: b"",
/// });
/// assert_eq!(r, "6629fae49393a05397450978507c4ef1");
/// ```
pub fn digest_response(i: &DigestInput<'_>) -> String {
    let h = |parts: &[&[u8]]| i.algorithm.hash(parts);
    let mut ha1 = h(&[
        i.username.as_bytes(),
        b":",
        i.realm.as_bytes(),
        b":",
        i.password.as_bytes(),
    ]);
    if i.algorithm.is_session() {
        ha1 = h(&[
            ha1.as_bytes(),
            b":",
            i.nonce.as_bytes(),
            b":",
            i.cnonce.as_bytes(),
        ]);
    }
    let ha2 = match i.qop {
        Some(Qop::AuthInt) => h(&[
            i.method.as_bytes(),
            b":",
            i.uri.as_bytes(),
            b":",
            h(&[i.body]).as_bytes(),
        ]),
        _ => h(&[i.method.as_bytes(), b":", i.uri.as_bytes()]),
    };
    match i.qop {
        Some(q) => h(&[
            ha1.as_bytes(),
            b":",
            i.nonce.as_bytes(),
            b":",
            format!("{:08x}", i.nc).as_bytes(),
            b":",
            i.cnonce.as_bytes(),
            b":",
            q.as_str().as_bytes(),
            b":",
            ha2.as_bytes(),
        ]),
        None => h(&[
            ha1.as_bytes(),
            b":",
            i.nonce.as_bytes(),
            b":",
            ha2.as_bytes(),
        ]),
    }
}

/// A user name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl Credentials {
    /// Credentials from a user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a password.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// An `Authorization` or `Proxy-Authorization` header to add to the retried request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `true` for `Proxy-Authorization` (answering `Proxy-Authenticate`, a 407).
    pub proxy: bool,
    /// The realm answered.
    pub realm: String,
    /// The header value (`Digest username="…", …`).
    pub value: String,
}

impl Authorization {
    /// The header name.
    pub fn header_name(&self) -> &'static str {
        if self.proxy {
            "Proxy-Authorization"
        } else {
            "Authorization"
        }
    }

    /// Adds the header to a request being built.
    pub fn add_to(&self, builder: MessageBuilder) -> Result<MessageBuilder, ParseError> {
        builder.header(self.header_name(), &self.value)
    }
}

#[derive(Debug, Clone)]
struct NonceState {
    nonce: String,
    nc: u32,
}

/// Answers digest challenges (401/407) with credentials per realm.
///
/// ```
/// use bytes::Bytes;
/// use sip_parse::{Message, MessageBuilder, Method};
/// use sip_txn::digest::{Credentials, DigestClient};
///
/// let register = Message::parse(Bytes::from_static(
///     b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
///       From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n\
///       Call-ID: c1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"))?;
/// let challenge = MessageBuilder::response_to(&register, 401, "Unauthorized", Some("t"))?
///     .header("WWW-Authenticate", r#"Digest realm="example.com", nonce="abc", qop="auth", algorithm=SHA-256"#)?
///     .build();
/// let mut client = DigestClient::new(Credentials::new("alice", "secret"));
/// let auth = client.authorize(&register, &Message::parse(challenge)?)?;
/// assert_eq!(auth[0].header_name(), "Authorization");
/// assert!(auth[0].value.starts_with(r#"Digest username="alice", realm="example.com""#));
/// assert!(auth[0].value.contains("algorithm=SHA-256"));
/// // The retried request: CSeq + 1, a new branch, and the header.
/// let retry = auth[0].add_to(MessageBuilder::request(Method::Register, "sip:example.com"))?;
/// # let _ = retry;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct DigestClient {
    default: Option<Credentials>,
    realms: HashMap<String, Credentials>,
    nonces: HashMap<String, NonceState>,
    prefer_auth_int: bool,
}

/// One chosen challenge.
struct Chosen<'a> {
    proxy: bool,
    challenge: Challenge<'a>,
    algorithm: Algorithm,
    qop: Option<Qop>,
}

impl DigestClient {
    /// A client answering every realm with `credentials`.
    pub fn new(credentials: Credentials) -> Self {
        Self {
            default: Some(credentials),
            ..Self::default()
        }
    }

    /// Uses `credentials` for `realm` (before the default).
    #[must_use]
    pub fn with_realm(mut self, realm: impl Into<String>, credentials: Credentials) -> Self {
        self.realms.insert(realm.into(), credentials);
        self
    }

    /// Chooses `auth-int` over `auth` when a challenge offers both (default: `auth`).
    #[must_use]
    pub fn prefer_auth_int(mut self, yes: bool) -> Self {
        self.prefer_auth_int = yes;
        self
    }

    fn credentials(&self, realm: &str) -> Option<&Credentials> {
        self.realms.get(realm).or(self.default.as_ref())
    }

    /// Answers the challenges of `response` (401 or 407) to `request`: one header per realm,
    /// each from the strongest supported algorithm offered for that realm. A realm the request
    /// already answered is answered again only if the server says its nonce was `stale`
    /// (RFC 2617 §3.2.1); otherwise the credentials were wrong and this fails with
    /// [`Error::CredentialsRejected`].
    pub fn authorize(
        &mut self,
        request: &Message,
        response: &Message,
    ) -> Result<Vec<Authorization>> {
        let method = request.method().ok_or(Error::WrongMessageKind("request"))?;
        let uri = request
            .request_uri()
            .ok_or(Error::WrongMessageKind("request"))?;
        let answered: Vec<String> = request
            .authorization()
            .chain(request.proxy_authorization())
            .filter_map(|c| c.ok()?.realm().map(|r| r.into_owned()))
            .collect();
        self.authorize_parts(method.as_str(), uri, request.body(), &answered, response)
    }

    /// [`authorize`](Self::authorize) for a request given by parts (e.g. still in a
    /// [`MessageBuilder`]): its method, Request-URI, body, and the realms it already answered.
    pub fn authorize_parts(
        &mut self,
        method: &str,
        uri: &str,
        body: &[u8],
        answered_realms: &[String],
        response: &Message,
    ) -> Result<Vec<Authorization>> {
        let challenges = response
            .www_authenticate()
            .map(|c| (false, c))
            .chain(response.proxy_authenticate().map(|c| (true, c)));
        let chosen = self.choose(challenges);
        self.answer(method, uri, body, answered_realms, chosen)
    }

    /// Answers challenges given as `WWW-Authenticate` header values, for protocols other than
    /// SIP that share its digest scheme: HTTP (RFC 7616 §3.3; an XCAP client, RFC 4825 §8.2)
    /// answers them the same way, in an `Authorization` header.
    ///
    /// ```
    /// use sip_txn::digest::{Credentials, DigestClient};
    /// let mut client = DigestClient::new(Credentials::new("alice", "secret"));
    /// let challenge: &[u8] = br#"Digest realm="example.test", nonce="n", qop="auth""#;
    /// let auth = client.authorize_www(
    ///     "GET", "/xcap-root/pres-rules/users/sip:alice@example.test/index", b"", &[], &[challenge],
    /// )?;
    /// assert!(auth[0].value.contains(r#"uri="/xcap-root/pres-rules/users/sip:alice@example.test/index""#));
    /// # Ok::<(), sip_txn::Error>(())
    /// ```
    pub fn authorize_www(
        &mut self,
        method: &str,
        uri: &str,
        body: &[u8],
        answered_realms: &[String],
        www_authenticate: &[&[u8]],
    ) -> Result<Vec<Authorization>> {
        let challenges = www_authenticate
            .iter()
            .map(|value| (false, Challenge::parse(value)));
        let chosen = self.choose(challenges);
        self.answer(method, uri, body, answered_realms, chosen)
    }

    /// One header per chosen challenge.
    fn answer(
        &mut self,
        method: &str,
        uri: &str,
        body: &[u8],
        answered_realms: &[String],
        chosen: Vec<Chosen<'_>>,
    ) -> Result<Vec<Authorization>> {
        if chosen.is_empty() {
            return Err(Error::NoSupportedChallenge);
        }
        let mut out = Vec::with_capacity(chosen.len());
        for c in chosen {
            let realm = c.challenge.realm().unwrap_or_default().into_owned();
            if answered_realms.contains(&realm) && !c.challenge.stale() {
                return Err(Error::CredentialsRejected(realm));
            }
            let creds = self
                .credentials(&realm)
                .ok_or_else(|| Error::NoCredentials(realm.clone()))?
                .clone();
            let nonce = c.challenge.nonce().unwrap_or_default().into_owned();
            let nc = match self.nonces.get_mut(&realm) {
                Some(s) if s.nonce == nonce => {
                    s.nc = s.nc.wrapping_add(1);
                    s.nc
                }
                _ => {
                    self.nonces.insert(
                        realm.clone(),
                        NonceState {
                            nonce: nonce.clone(),
                            nc: 1,
                        },
                    );
                    1
                }
            };
            let cnonce = crate::key::new_cnonce()?;
            let input = DigestInput {
                algorithm: c.algorithm,
                username: &creds.username,
                password: &creds.password,
                realm: &realm,
                nonce: &nonce,
                cnonce: &cnonce,
                nc,
                qop: c.qop,
                method,
                uri,
                body,
            };
            let value = header_value(&input, c.challenge.opaque().as_deref());
            out.push(Authorization {
                proxy: c.proxy,
                realm,
                value,
            });
        }
        Ok(out)
    }

    /// The best supported challenge per realm, in order of first appearance.
    fn choose<'m>(
        &self,
        all: impl Iterator<Item = (bool, Result<Challenge<'m>, ParseError>)>,
    ) -> Vec<Chosen<'m>> {
        let mut best: Vec<Chosen<'m>> = Vec::new();
        for (proxy, c) in all {
            let Ok(challenge) = c else { continue };
            if !challenge.is_digest() {
                continue;
            }
            let Some(algorithm) = challenge
                .algorithm()
                .map_or(Some(Algorithm::Md5), |a| Algorithm::parse(&a))
            else {
                continue;
            };
            let offered: Vec<&str> = challenge.qop_options().collect();
            let qop = if offered.is_empty() {
                None
            } else {
                let has = |q: Qop| offered.iter().any(|o| o.eq_ignore_ascii_case(q.as_str()));
                match (has(Qop::Auth), has(Qop::AuthInt)) {
                    (true, true) if self.prefer_auth_int => Some(Qop::AuthInt),
                    (true, _) => Some(Qop::Auth),
                    (false, true) => Some(Qop::AuthInt),
                    // Only unknown qop values: nothing we can answer.
                    (false, false) => continue,
                }
            };
            let cand = Chosen {
                proxy,
                challenge,
                algorithm,
                qop,
            };
            let realm = challenge.realm();
            match best
                .iter_mut()
                .find(|b| b.proxy == proxy && b.challenge.realm() == realm)
            {
                Some(b) if algorithm.strength() > b.algorithm.strength() => *b = cand,
                Some(_) => {}
                None => best.push(cand),
            }
        }
        best
    }
}

fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for ch in s.chars() {
        if ch == '"' || ch == '\\' {
            q.push('\\');
        }
        q.push(ch);
    }
    q.push('"');
    q
}

/// The credentials value (RFC 3261 §22.4, RFC 7616 §3.4).
fn header_value(i: &DigestInput<'_>, opaque: Option<&str>) -> String {
    let response = digest_response(i);
    let mut v = format!(
        "Digest username={}, realm={}, nonce={}, uri={}, response=\"{response}\", algorithm={}",
        quoted(i.username),
        quoted(i.realm),
        quoted(i.nonce),
        quoted(i.uri),
        i.algorithm.as_str(),
    );
    if let Some(q) = i.qop {
        let _ = write!(
            v,
            ", cnonce={}, qop={}, nc={:08x}",
            quoted(i.cnonce),
            q.as_str(),
            i.nc
        );
    } else if i.algorithm.is_session() {
        let _ = write!(v, ", cnonce={}", quoted(i.cnonce));
    }
    if let Some(o) = opaque {
        let _ = write!(v, ", opaque={}", quoted(o));
    }
    v
}

/// A challenge a server sends in `WWW-Authenticate` (401) or `Proxy-Authenticate` (407)
/// (RFC 3261 §22.1, RFC 7616 §3.3). Always offers `qop="auth"`.
///
/// ```
/// use sip_txn::digest::{Algorithm, DigestChallenge};
/// let c = DigestChallenge { realm: "example.test", nonce: "n1", algorithm: Algorithm::Md5, stale: true };
/// assert_eq!(
///     c.to_string(),
///     r#"Digest realm="example.test", nonce="n1", algorithm=MD5, qop="auth", stale=true"#
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestChallenge<'a> {
    /// The protection space, usually the SIP domain (RFC 3261 §22.1).
    pub realm: &'a str,
    /// The server nonce.
    pub nonce: &'a str,
    /// The algorithm the client must use.
    pub algorithm: Algorithm,
    /// The previous request's nonce was stale but its response right: retry without asking the
    /// user (RFC 7616 §3.3).
    pub stale: bool,
}

impl std::fmt::Display for DigestChallenge<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Digest realm={}, nonce={}, algorithm={}, qop=\"auth\"",
            quoted(self.realm),
            quoted(self.nonce),
            self.algorithm.as_str()
        )?;
        if self.stale {
            f.write_str(", stale=true")?;
        }
        Ok(())
    }
}

/// The parameters of Digest credentials (an `Authorization` or `Proxy-Authorization` value) a
/// server checks (RFC 7616 §3.4, RFC 3261 §22.4), unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials<'a> {
    /// `username`.
    pub username: Cow<'a, str>,
    /// `realm`.
    pub realm: Cow<'a, str>,
    /// `nonce`, as the server sent it.
    pub nonce: Cow<'a, str>,
    /// `uri`: the Request-URI the client hashed.
    pub uri: Cow<'a, str>,
    /// `response`: the hex digest to check.
    pub response: Cow<'a, str>,
    /// `algorithm` (MD5 when absent).
    pub algorithm: Algorithm,
    /// `qop`, `None` for the RFC 2069 form.
    pub qop: Option<Qop>,
    /// `nc` (0 when absent).
    pub nc: u32,
    /// `cnonce` (empty when absent).
    pub cnonce: Cow<'a, str>,
    /// `opaque`, echoed from the challenge.
    pub opaque: Option<Cow<'a, str>>,
}

impl<'a> DigestCredentials<'a> {
    /// Reads the Digest parameters of `credentials` (e.g. from
    /// [`Message::authorization`]; `sip_parse::Credentials` is the same type). Fails with [`Error::Parse`] on another scheme, a missing
    /// parameter, or a value this crate cannot check (unknown algorithm or qop, a bad `nc`, a qop
    /// without `cnonce`, RFC 7616 `userhash`); the offset counts from the start of the header
    /// value.
    ///
    /// ```
    /// use sip_parse::Credentials;
    /// use sip_txn::digest::{Algorithm, DigestCredentials, Qop};
    /// let raw = Credentials::parse(concat!(
    ///     r#"Digest username="bob", realm="biloxi.com", nonce="dcd98b", uri="sip:biloxi.com", "#,
    ///     r#"qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae4""#,
    /// ).as_bytes())?;
    /// let c = DigestCredentials::parse(&raw)?;
    /// assert_eq!((c.username.as_ref(), c.nc, c.qop), ("bob", 1, Some(Qop::Auth)));
    /// assert_eq!(c.algorithm, Algorithm::Md5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(credentials: &Challenge<'a>) -> Result<Self> {
        let c = credentials;
        // Offsets are relative to the value's start, where the scheme begins.
        let base = c.scheme.as_ptr() as usize;
        let at = |v: &str| (v.as_ptr() as usize).saturating_sub(base);
        let end = at(c.params) + c.params.len();
        let invalid =
            |what, v: &str| Error::Parse(ParseError::new(ErrorKind::Invalid(what), at(v)));
        if !c.is_digest() {
            return Err(Error::Parse(ParseError::new(
                ErrorKind::Invalid("not Digest credentials"),
                0,
            )));
        }
        let required = |name: &str, what: &'static str| {
            c.param(name).ok_or(Error::Parse(ParseError::new(
                ErrorKind::Expected(what),
                end,
            )))
        };
        if let Some(v) = c.raw_param("userhash")
            && c.param("userhash")
                .is_some_and(|u| u.eq_ignore_ascii_case("true"))
        {
            return Err(invalid("userhash is not supported", v));
        }
        let algorithm = match c.raw_param("algorithm") {
            None => Algorithm::Md5,
            Some(raw) => c
                .algorithm()
                .and_then(|a| Algorithm::parse(&a))
                .ok_or_else(|| invalid("unsupported digest algorithm", raw))?,
        };
        let qop = match c.raw_param("qop") {
            None => None,
            Some(raw) => match c.param("qop").as_deref() {
                Some(q) if q.eq_ignore_ascii_case("auth") => Some(Qop::Auth),
                Some(q) if q.eq_ignore_ascii_case("auth-int") => Some(Qop::AuthInt),
                _ => return Err(invalid("unsupported qop", raw)),
            },
        };
        let nc = match c.raw_param("nc") {
            None => 0,
            // nc = 8LHEX (RFC 7616 §3.4).
            Some(raw) if raw.len() == 8 => {
                u32::from_str_radix(raw, 16).map_err(|_| invalid("nc is not 8 hex digits", raw))?
            }
            Some(raw) => return Err(invalid("nc is not 8 hex digits", raw)),
        };
        let cnonce = c.param("cnonce");
        if qop.is_some() && (cnonce.is_none() || c.raw_param("nc").is_none()) {
            return Err(Error::Parse(ParseError::new(
                ErrorKind::Expected("cnonce and nc with qop"),
                end,
            )));
        }
        Ok(Self {
            username: required("username", "username parameter")?,
            realm: required("realm", "realm parameter")?,
            nonce: required("nonce", "nonce parameter")?,
            uri: required("uri", "uri parameter")?,
            response: required("response", "response parameter")?,
            algorithm,
            qop,
            nc,
            cnonce: cnonce.unwrap_or_default(),
            opaque: c.opaque(),
        })
    }
}

/// Whether `credentials` answer with the right `response` for a request of `method` with
/// `body` (hashed for `auth-int`) from a user whose password is `password` (RFC 7616 §3.4.1).
/// The comparison takes the same time wherever the digests differ.
///
/// It checks only the arithmetic: the caller checks that the nonce is one it issued and still
/// fresh (else challenge again with `stale=true`), the realm is its own, and `uri` names the
/// Request-URI (RFC 7616 §3.4.6).
///
/// ```
/// use bytes::Bytes;
/// use sip_parse::{Message, MessageBuilder};
/// use sip_txn::digest::{verify, Algorithm, Credentials, DigestChallenge, DigestClient, DigestCredentials};
///
/// let register = Message::parse(Bytes::from_static(
///     b"REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
///       From: <sip:alice@example.test>;tag=1\r\nTo: <sip:alice@example.test>\r\n\
///       Call-ID: c1\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n"))?;
/// let challenge = DigestChallenge { realm: "example.test", nonce: "n1", algorithm: Algorithm::Sha256, stale: false };
/// let unauthorized = MessageBuilder::response_to(&register, 401, "Unauthorized", Some("t"))?
///     .header("WWW-Authenticate", &challenge.to_string())?
///     .build();
/// let auth = DigestClient::new(Credentials::new("alice", "alicepw"))
///     .authorize(&register, &Message::parse(unauthorized)?)?;
///
/// let raw = sip_parse::Credentials::parse(auth[0].value.as_bytes())?;
/// let answer = DigestCredentials::parse(&raw)?;
/// assert!(verify(&answer, "REGISTER", "alicepw", b""));
/// assert!(!verify(&answer, "REGISTER", "wrong", b""));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify(
    credentials: &DigestCredentials<'_>,
    method: &str,
    password: &str,
    body: &[u8],
) -> bool {
    let c = credentials;
    let expected = digest_response(&DigestInput {
        algorithm: c.algorithm,
        username: &c.username,
        password,
        realm: &c.realm,
        nonce: &c.nonce,
        cnonce: &c.cnonce,
        nc: c.nc,
        qop: c.qop,
        method,
        uri: &c.uri,
        body,
    });
    // Hex digits may arrive in upper case; compare without an early exit.
    let got = c.response.as_bytes();
    let want = expected.as_bytes();
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .fold(0u8, |acc, (g, w)| acc | (g.to_ascii_lowercase() ^ w))
            == 0
}

#[cfg(test)]
mod server_tests {
    use super::*;

    fn creds(value: &str) -> Result<DigestCredentials<'_>> {
        DigestCredentials::parse(&Challenge::parse(value.as_bytes()).map_err(Error::Parse)?)
    }

    /// RFC 2617 §3.5 (MD5, qop=auth), checked from the server's side.
    const MUFASA: &str = r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41""#;

    #[test]
    fn verify_rfc2617_example() {
        let c = creds(MUFASA).unwrap();
        assert_eq!(
            c.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
        assert!(verify(&c, "GET", "Circle Of Life", b""));
        assert!(!verify(&c, "GET", "Circle of Life", b""));
        assert!(!verify(&c, "POST", "Circle Of Life", b""));
        let upper = MUFASA.replace(
            "6629fae49393a05397450978507c4ef1",
            "6629FAE49393A05397450978507C4EF1",
        );
        assert!(verify(
            &creds(&upper).unwrap(),
            "GET",
            "Circle Of Life",
            b""
        ));
        let short = MUFASA.replace("6629fae49393a05397450978507c4ef1", "6629fae4");
        assert!(!verify(
            &creds(&short).unwrap(),
            "GET",
            "Circle Of Life",
            b""
        ));
    }

    #[test]
    fn verify_answers_of_the_client_for_every_algorithm() {
        let request = Message::parse_slice(
            b"MESSAGE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
              From: <sip:alice@example.test>;tag=1\r\nTo: <sip:bob@example.test>\r\n\
              Call-ID: c1\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
        )
        .unwrap();
        for alg in [Algorithm::Md5, Algorithm::Sha256, Algorithm::Sha512_256Sess] {
            let ch = DigestChallenge {
                realm: "example.test",
                nonce: "abc",
                algorithm: alg,
                stale: false,
            };
            let rsp = MessageBuilder::response_to(
                &request,
                407,
                "Proxy Authentication Required",
                Some("t"),
            )
            .unwrap()
            .header("Proxy-Authenticate", &ch.to_string())
            .unwrap()
            .build();
            let mut client = DigestClient::new(Credentials::new("alice", "alicepw"));
            let auth = client
                .authorize(&request, &Message::parse(rsp).unwrap())
                .unwrap();
            assert!(auth[0].proxy);
            let c = creds(&auth[0].value).unwrap();
            assert_eq!((c.algorithm, c.qop, c.nc), (alg, Some(Qop::Auth), 1));
            assert_eq!(c.uri, "sip:bob@example.test");
            assert!(verify(&c, "MESSAGE", "alicepw", b"hi"), "{alg:?}");
            assert!(!verify(&c, "MESSAGE", "bobpw", b"hi"), "{alg:?}");
        }
    }

    #[test]
    fn malformed_credentials_say_where() {
        let e = |v: &str| match creds(v) {
            Err(Error::Parse(p)) => (p.kind, p.offset),
            other => panic!("{v}: {other:?}"),
        };
        assert_eq!(
            e(r#"Basic realm="x""#),
            (ErrorKind::Invalid("not Digest credentials"), 0)
        );
        let missing = r#"Digest username="a", realm="r", nonce="n", uri="sip:x""#;
        assert_eq!(
            e(missing),
            (ErrorKind::Expected("response parameter"), missing.len())
        );
        let v = r#"Digest username="a", realm="r", nonce="n", uri="sip:x", response="0", algorithm=SHA-1"#;
        assert_eq!(
            e(v),
            (
                ErrorKind::Invalid("unsupported digest algorithm"),
                v.len() - 5
            )
        );
        let v = r#"Digest username="a", realm="r", nonce="n", uri="sip:x", response="0", qop=auth, cnonce="c", nc=1"#;
        assert_eq!(
            e(v),
            (ErrorKind::Invalid("nc is not 8 hex digits"), v.len() - 1)
        );
        let v = r#"Digest username="a", realm="r", nonce="n", uri="sip:x", response="0", qop=auth"#;
        assert_eq!(e(v).0, ErrorKind::Expected("cnonce and nc with qop"));
        let v = r#"Digest username="a", realm="r", nonce="n", uri="sip:x", response="0", userhash=true"#;
        assert_eq!(e(v).0, ErrorKind::Invalid("userhash is not supported"));
        // The RFC 2069 form (no qop) parses, with nc 0 and no cnonce.
        let c = creds(r#"Digest username="a", realm="r", nonce="n", uri="sip:x", response="0""#)
            .unwrap();
        assert_eq!((c.qop, c.nc, c.cnonce.as_ref()), (None, 0, ""));
    }
}
