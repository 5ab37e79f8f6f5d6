//! Digest authentication, server side (RFC 3261 §22, RFC 2617, RFC 7616): nonces that carry
//! their own issue time and a keyed hash, challenges, and the check of an answer.

use std::time::{Duration, Instant};

use sip_parse::{Message, SipUri, Uri};
use sip_txn::digest::{self, Algorithm, DigestChallenge, DigestCredentials, Qop};

use super::ServerConfig;
use super::reply::Reply;

/// Issues nonces and recognises them again without keeping per-nonce state: a nonce is
/// `<seconds since start, hex>.<H(secret:seconds)>`, so memory does not grow with clients.
#[derive(Debug)]
pub(crate) struct Nonces {
    secret: String,
    epoch: Instant,
    lifetime: Duration,
}

/// What a received nonce is to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceAge {
    /// Ours and younger than the lifetime.
    Fresh,
    /// Ours but too old, or not ours (e.g. from before a restart): a right answer is retried
    /// with `stale=true`.
    Stale,
}

impl Nonces {
    pub(crate) fn new(secret: String, epoch: Instant, lifetime: Duration) -> Self {
        Self {
            secret,
            epoch,
            lifetime,
        }
    }

    fn mac(&self, secs: &str) -> String {
        let mut h = Algorithm::Sha256.hex_digest(&[self.secret.as_bytes(), b":", secs.as_bytes()]);
        h.truncate(32);
        h
    }

    pub(crate) fn issue(&self, now: Instant) -> String {
        let secs = format!("{:x}", now.saturating_duration_since(self.epoch).as_secs());
        let mac = self.mac(&secs);
        format!("{secs}.{mac}")
    }

    pub(crate) fn age(&self, now: Instant, nonce: &str) -> NonceAge {
        let Some((secs, mac)) = nonce.split_once('.') else {
            return NonceAge::Stale;
        };
        // At most 16 hex digits fit u64; longer is not ours (and is not hashed).
        if secs.is_empty() || secs.len() > 16 || self.mac(secs) != mac {
            return NonceAge::Stale;
        }
        let Ok(issued) = u64::from_str_radix(secs, 16) else {
            return NonceAge::Stale;
        };
        let elapsed = now.saturating_duration_since(self.epoch).as_secs();
        match elapsed.checked_sub(issued) {
            Some(age) if Duration::from_secs(age) <= self.lifetime => NonceAge::Fresh,
            _ => NonceAge::Stale,
        }
    }
}

/// The authenticated user, or the reply that refuses the request.
pub(crate) type Authenticated = Result<String, Reply>;

/// Checks the credentials of `request` for `config.domain`: `Authorization` when
/// `proxy` is false (a registrar, 401), `Proxy-Authorization` otherwise (407).
///
/// No credentials for our realm, an unknown user, a wrong response or an algorithm or qop we
/// did not offer: a new challenge (RFC 2617 §3.2.2, as Kamailio). A right response on a stale or
/// foreign nonce: a challenge with `stale=true` (RFC 7616 §3.3). Malformed credentials, or a
/// `uri` that is not the Request-URI (RFC 7616 §3.4.6): 400.
pub(crate) fn authenticate(
    config: &ServerConfig,
    nonces: &Nonces,
    now: Instant,
    request: &Message,
    proxy: bool,
) -> Authenticated {
    let challenge = |stale| Err(challenge(config, nonces, now, proxy, stale));
    let answers = if proxy {
        request.proxy_authorization().collect::<Vec<_>>()
    } else {
        request.authorization().collect()
    };
    let mut ours = None;
    for a in answers {
        let Ok(raw) = a else {
            return Err(Reply::new(400, "Malformed Credentials"));
        };
        if raw.is_digest() && raw.realm().as_deref() == Some(config.domain.as_str()) {
            ours = Some(raw);
            break;
        }
    }
    let Some(raw) = ours else {
        return challenge(false);
    };
    let creds = match DigestCredentials::parse(&raw) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(error = %e, "malformed digest credentials");
            return Err(Reply::new(400, "Malformed Credentials"));
        }
    };
    // We offered qop="auth": answers without a qop are RFC 2069 ones we did not ask for.
    if !config.algorithms.contains(&creds.algorithm) || creds.qop.is_none() {
        return challenge(false);
    }
    let (Some(method), Some(ruri)) = (request.method(), request.request_uri()) else {
        return Err(Reply::new(400, "Bad Request"));
    };
    if !same_uri(&creds.uri, ruri) {
        return Err(Reply::new(400, "Authorization URI Mismatch"));
    }
    let Some(password) = config.password(&creds.username) else {
        return challenge(false);
    };
    let body = if creds.qop == Some(Qop::AuthInt) {
        request.body()
    } else {
        b""
    };
    if !digest::verify(&creds, method.as_str(), password, body) {
        return challenge(false);
    }
    match nonces.age(now, &creds.nonce) {
        NonceAge::Fresh => Ok(creds.username.into_owned()),
        NonceAge::Stale => challenge(true),
    }
}

/// 401 with `WWW-Authenticate`, or 407 with `Proxy-Authenticate`: one challenge per offered
/// algorithm, preferred first (RFC 8760 §2.4).
pub(crate) fn challenge(
    config: &ServerConfig,
    nonces: &Nonces,
    now: Instant,
    proxy: bool,
    stale: bool,
) -> Reply {
    let nonce = nonces.issue(now);
    let (mut reply, header) = if proxy {
        (
            Reply::new(407, "Proxy Authentication Required"),
            "Proxy-Authenticate",
        )
    } else {
        (Reply::new(401, "Unauthorized"), "WWW-Authenticate")
    };
    for &algorithm in &config.algorithms {
        let c = DigestChallenge {
            realm: &config.domain,
            nonce: &nonce,
            algorithm,
            stale,
        };
        reply = reply.header(header, c.to_string());
    }
    reply
}

/// The credentials' `uri` names the Request-URI: equal text, or equivalent SIP URIs (a proxy
/// on the way may have rewritten the text without changing the meaning).
fn same_uri(digest_uri: &str, ruri: &str) -> bool {
    if digest_uri == ruri {
        return true;
    }
    let sip = |s| match Uri::parse(s) {
        Ok(Uri::Sip(u)) => Some(u),
        _ => None,
    };
    match (sip(digest_uri), sip(ruri)) {
        (Some(a), Some(b)) => SipUri::equivalent(&a, &b),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_ages_and_forgeries() {
        let t0 = Instant::now();
        let n = Nonces::new("secret".into(), t0, Duration::from_secs(30));
        let nonce = n.issue(t0 + Duration::from_secs(5));
        assert_eq!(n.age(t0 + Duration::from_secs(5), &nonce), NonceAge::Fresh);
        assert_eq!(n.age(t0 + Duration::from_secs(35), &nonce), NonceAge::Fresh);
        assert_eq!(n.age(t0 + Duration::from_secs(36), &nonce), NonceAge::Stale);
        // Another secret (a restarted server) does not recognise it.
        let other = Nonces::new("other".into(), t0, Duration::from_secs(30));
        assert_eq!(
            other.age(t0 + Duration::from_secs(5), &nonce),
            NonceAge::Stale
        );
        // A changed issue time breaks the hash; nonsense is not ours.
        let forged = format!("0{nonce}");
        assert_eq!(n.age(t0 + Duration::from_secs(5), &forged), NonceAge::Stale);
        let (_, mac) = nonce.split_once('.').unwrap();
        assert_eq!(n.age(t0, &format!("4.{mac}")), NonceAge::Stale);
        for junk in ["", ".", "zz.00", &"f".repeat(40)] {
            assert_eq!(n.age(t0, junk), NonceAge::Stale, "{junk}");
        }
        // A nonce "from the future" (issued after now) is refused too.
        assert_eq!(n.age(t0, &nonce), NonceAge::Stale);
    }

    #[test]
    fn uri_comparison() {
        assert!(same_uri("sip:example.test", "sip:example.test"));
        assert!(same_uri(
            "sip:EXAMPLE.test;transport=UDP",
            "sip:example.test;transport=udp"
        ));
        assert!(!same_uri("sip:example.test", "sip:other.test"));
        assert!(!same_uri("garbage", "sip:example.test"));
    }
}
