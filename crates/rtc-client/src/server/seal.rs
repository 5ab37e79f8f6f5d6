//! What the proxy remembers of the dialogs and INVITEs it let through, so that nothing else is
//! relayed: a Record-Route parameter signed with a per-process key (an HMAC-SHA256, RFC 2104, of
//! the dialog's Call-ID and the tag of the party that opened it), a parameter of its own Via
//! signing where the response goes (the next Via's sent-by, `received`, `rport` and branch), and
//! a bounded memory of the INVITEs it forwarded, which their CANCEL and non-2xx ACK follow
//! (RFC 3261 §9.1, §17.1.1.3).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sip_parse::{Target, Via};

/// The URI parameter of the proxy's Record-Route that carries the seal.
pub(crate) const PARAM: &str = "rrsig";

/// The parameter of the proxy's Via that seals where the response goes.
pub(crate) const VIA_PARAM: &str = "psig";

/// Bytes of the HMAC kept in the parameter (128 bits, RFC 2104 §5 allows truncation to at least
/// half the hash).
const KEPT: usize = 16;

/// A per-process key that seals dialog identifiers.
pub(crate) struct RouteKey([u8; 64]);

impl std::fmt::Debug for RouteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteKey(..)")
    }
}

impl RouteKey {
    /// A fresh random key. Fails if the random source does.
    pub(crate) fn new() -> sip_txn::Result<Self> {
        let mut key = [0u8; 64];
        sip_txn::random_bytes(&mut key[..32])?;
        Ok(Self(key))
    }

    #[cfg(test)]
    pub(crate) fn fixed(byte: u8) -> Self {
        let mut key = [0u8; 64];
        key[..32].fill(byte);
        Self(key)
    }

    /// HMAC-SHA256(key, text) with `text` the concatenation of `parts`, RFC 2104:
    /// H(K ^ opad, H(K ^ ipad, text)).
    fn hmac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let pad = |b: u8| self.0.map(|k| k ^ b);
        let mut inner = Sha256::new().chain_update(pad(0x36));
        for p in parts {
            inner.update(p);
        }
        Sha256::new()
            .chain_update(pad(0x5c))
            .chain_update(inner.finalize())
            .finalize()
            .into()
    }

    /// The seal of the dialog `call_id` opened by the party whose tag is `from_tag`: lowercase
    /// hex, a valid URI parameter value.
    pub(crate) fn seal(&self, call_id: &str, from_tag: &str) -> String {
        hex(&self.hmac(&[call_id.as_bytes(), b"\n", from_tag.as_bytes()]))
    }

    /// The seal of a Via below ours: what a response is sent back to (transport, sent-by,
    /// `received`, `rport`) and its branch, as parsed, so that a peer re-writing the header
    /// field's spelling does not break it. Never equal to a dialog seal (Call-IDs hold no NUL).
    pub(crate) fn seal_via(&self, via: &Via<'_>) -> String {
        let rport = match via.rport {
            Some(Some(p)) => p.to_string(),
            Some(None) => "-".into(),
            None => String::new(),
        };
        let fields = [
            via.transport.to_ascii_uppercase(),
            via.host.to_string().to_ascii_lowercase(),
            via.port.map(|p| p.to_string()).unwrap_or_default(),
            via.received.unwrap_or_default().to_ascii_lowercase(),
            rport,
            via.branch.unwrap_or_default().to_owned(),
        ];
        let mut parts: Vec<&[u8]> = vec![b"via\0"];
        for f in &fields {
            parts.push(f.as_bytes());
            parts.push(b"\n");
        }
        hex(&self.hmac(&parts))
    }

    /// Whether `value` is the seal of `via`, compared in constant time.
    pub(crate) fn verify_via(&self, via: &Via<'_>, value: &str) -> bool {
        same(&self.seal_via(via), value)
    }

    /// Whether `value` is the seal of `call_id` with one of `tags` (either side of the dialog
    /// may send: the opener's tag is then the From or the To tag). Compared in constant time.
    pub(crate) fn verify(&self, call_id: &str, tags: &[&str], value: &str) -> bool {
        tags.iter().any(|tag| same(&self.seal(call_id, tag), value))
    }
}

/// The first [`KEPT`] bytes of a MAC in lowercase hex.
fn hex(mac: &[u8; 32]) -> String {
    mac[..KEPT].iter().map(|b| format!("{b:02x}")).collect()
}

/// `a == b` in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The INVITEs forwarded lately, by the branch the proxy gave them, with where they went:
/// their CANCEL and non-2xx ACK, which cannot be challenged (RFC 3261 §22.1), are forwarded
/// only if they carry the same branch and go to the same place. Bounded: the oldest is
/// forgotten first.
#[derive(Debug)]
pub(crate) struct Invites {
    cap: usize,
    lifetime: Duration,
    order: VecDeque<(Instant, String)>,
    targets: HashMap<String, Target>,
}

impl Invites {
    /// Remembers up to `cap` INVITEs for `lifetime` each.
    pub(crate) fn new(cap: usize, lifetime: Duration) -> Self {
        Self {
            cap,
            lifetime,
            order: VecDeque::new(),
            targets: HashMap::new(),
        }
    }

    /// An INVITE with our `branch` went to `target` at `now`.
    pub(crate) fn remember(&mut self, now: Instant, branch: String, target: Target) {
        self.purge(now);
        if self.cap == 0 {
            return;
        }
        if self.targets.insert(branch.clone(), target).is_none() {
            while self.order.len() >= self.cap {
                if let Some((_, old)) = self.order.pop_front() {
                    self.targets.remove(&old);
                }
            }
            self.order.push_back((now, branch));
        }
    }

    /// Whether an INVITE with our `branch` went to `target`.
    pub(crate) fn went(&self, branch: &str, target: &Target) -> bool {
        self.targets.get(branch) == Some(target)
    }

    /// Forgets what is older than the lifetime.
    pub(crate) fn purge(&mut self, now: Instant) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.lifetime {
                break;
            }
            if let Some((_, b)) = self.order.pop_front() {
                self.targets.remove(&b);
            }
        }
    }

    /// How many are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 (key "Jefe"): the construction is HMAC-SHA256.
    #[test]
    fn hmac_matches_rfc_4231() {
        let mut key = [0u8; 64];
        key[..4].copy_from_slice(b"Jefe");
        let mac = RouteKey(key).hmac(&[b"what do ya want ", b"for nothing?"]);
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn seals_verify_for_either_tag_and_nothing_else() {
        let k = RouteKey::fixed(7);
        let s = k.seal("call-1", "atag");
        assert_eq!(s.len(), 2 * KEPT);
        assert!(k.verify("call-1", &["btag", "atag"], &s));
        assert!(!k.verify("call-2", &["atag"], &s));
        assert!(!k.verify("call-1", &["btag"], &s));
        assert!(!k.verify("call-1", &["atag"], &s[1..]));
        assert!(!k.verify("call-1", &["atag"], ""));
        assert!(!RouteKey::fixed(8).verify("call-1", &["atag"], &s));
    }

    #[test]
    fn invites_are_bounded_and_expire() {
        #[allow(clippy::disallowed_methods)] // a start time; nothing is timed
        let t0 = Instant::now();
        let to = Target::udp("192.0.2.1:5060".parse().unwrap());
        let elsewhere = Target::udp("192.0.2.9:5060".parse().unwrap());
        let mut m = Invites::new(2, Duration::from_secs(10));
        m.remember(t0, "b1".into(), to.clone());
        assert!(m.went("b1", &to) && !m.went("b1", &elsewhere) && !m.went("b2", &to));
        m.remember(t0, "b2".into(), to.clone());
        m.remember(t0, "b3".into(), to.clone());
        assert_eq!(m.len(), 2);
        assert!(!m.went("b1", &to) && m.went("b3", &to));
        m.purge(t0 + Duration::from_secs(10));
        assert_eq!(m.len(), 0);
        assert!(!m.went("b3", &to));
    }
}
