//! What the registrar/proxy serves: its domain, its users and its limits.

use std::collections::BTreeMap;
use std::time::Duration;

use sip_txn::TimerConfig;
use sip_txn::digest::Algorithm;

/// Configuration of a [`RegistrarProxy`](super::RegistrarProxy).
///
/// ```
/// use rtc_client::server::ServerConfig;
/// let cfg = ServerConfig::new("example.test").user("alice", "alicepw");
/// assert_eq!(cfg.domain, "example.test");
/// assert!(cfg.has_user("alice") && !cfg.has_user("bob"));
/// // Passwords never appear in Debug output.
/// assert!(!format!("{cfg:?}").contains("alicepw"));
/// ```
#[derive(Clone)]
pub struct ServerConfig {
    /// The domain whose addresses-of-record it keeps bindings for (RFC 3261 §10.3), also the
    /// digest realm.
    pub domain: String,
    /// User names and passwords; a user's AOR is `sip:user@domain`.
    users: BTreeMap<String, String>,
    /// Expiry granted when the REGISTER asks for none (RFC 3261 §10.3 step 7). Default 3600 s.
    pub default_expires: u32,
    /// Shorter (non-zero) requests are refused with 423 and this Min-Expires. Default 60 s.
    pub min_expires: u32,
    /// Longer requests are shortened to this. Default 7200 s.
    pub max_expires: u32,
    /// Most bindings per AOR; a REGISTER that would exceed it gets 403. Default 10.
    pub max_contacts: usize,
    /// A nonce older than this is stale (a correct answer gets a new challenge with
    /// `stale=true`). Default 300 s, as Kamailio's `nonce_expire`.
    pub nonce_lifetime: Duration,
    /// Digest algorithms offered, one challenge each, preferred first. Default MD5 only, which
    /// every UA (sipp included) answers; add [`Algorithm::Sha256`] for RFC 7616 clients.
    pub algorithms: Vec<Algorithm>,
    /// Transaction timers of the server transactions that answer locally.
    pub timers: TimerConfig,
    /// Most forwarded INVITEs remembered (about 3.5 min each) so that their CANCEL and non-2xx
    /// ACK, which cannot be authenticated, can be checked; beyond it the oldest is forgotten
    /// and its CANCEL refused. Default 4096.
    pub max_pending_invites: usize,
    /// Caps on live server transactions (REGISTERs and local answers kept for timer J):
    /// beyond them requests get 503 with Retry-After. Default [`sip_txn::Limits::default`].
    pub limits: sip_txn::Limits,
}

impl ServerConfig {
    /// A configuration for `domain` with no users and the default limits.
    pub fn new(domain: impl Into<String>) -> Self {
        Self {
            domain: domain.into(),
            users: BTreeMap::new(),
            default_expires: 3600,
            min_expires: 60,
            max_expires: 7200,
            max_contacts: 10,
            nonce_lifetime: Duration::from_secs(300),
            algorithms: vec![Algorithm::Md5],
            timers: TimerConfig::default(),
            max_pending_invites: 4096,
            limits: sip_txn::Limits::default(),
        }
    }

    /// The demo's set-up, as the Kamailio lab's: domain `example.test`, users alice/alicepw and
    /// bob/bobpw.
    pub fn demo() -> Self {
        Self::new("example.test")
            .user("alice", "alicepw")
            .user("bob", "bobpw")
    }

    /// Adds (or replaces) a user.
    #[must_use]
    pub fn user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.users.insert(name.into(), password.into());
        self
    }

    /// Whether `name` is a configured user.
    pub fn has_user(&self, name: &str) -> bool {
        self.users.contains_key(name)
    }

    pub(crate) fn password(&self, name: &str) -> Option<&str> {
        self.users.get(name).map(String::as_str)
    }
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("domain", &self.domain)
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("default_expires", &self.default_expires)
            .field("min_expires", &self.min_expires)
            .field("max_expires", &self.max_expires)
            .field("max_contacts", &self.max_contacts)
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("algorithms", &self.algorithms)
            .field("max_pending_invites", &self.max_pending_invites)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}
