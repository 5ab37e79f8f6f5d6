//! Registration (RFC 3261 §10.2) as a sans-IO state machine: REGISTER with digest
//! authentication, refresh before the granted expiry, 423 Min-Expires, failover across targets,
//! retry with backoff, the RTC registration states, and a Contact that follows the public
//! address a NAT gave us (RFC 3581, as PJSIP's contact rewrite does).
//!
//! The core builds requests and is told their outcome; the caller runs each one in a client
//! transaction. **After every input, drain [`Registration::poll_request`],
//! [`Registration::poll_event`] and [`Registration::poll_timeout`].**
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sip_parse::{Message, MessageBuilder, Target, TransportKind};
//! use rtc_client::{Endpoint, Registration, RegistrationConfig, RegistrationState};
//!
//! # #[allow(clippy::disallowed_methods)]
//! let now = Instant::now();
//! let local = Endpoint::new("alice").with(TransportKind::Udp, "192.0.2.1:5070");
//! let config = RegistrationConfig::new("sip:alice@example.test", "sip:example.test");
//! let mut reg = Registration::new(config, local, vec![Target::udp("192.0.2.9:5060".parse()?)])?;
//! reg.register()?;
//! let out = reg.poll_request().expect("a REGISTER");
//! assert_eq!(reg.poll_event().unwrap().state, RegistrationState::Registering);
//!
//! // The registrar grants 600 s for our contact.
//! let contact = out.request.contacts().next().unwrap()?.address().unwrap().uri_str().to_owned();
//! let ok = MessageBuilder::response_to(&out.request, 200, "OK", Some("r1"))?
//!     .header("Contact", &format!("<{contact}>;expires=600"))?
//!     .build();
//! reg.handle_response(now, out.id, &Message::parse(ok)?)?;
//! assert_eq!(reg.poll_event().unwrap().state, RegistrationState::Registered);
//! // The refresh is due at half the granted time.
//! assert_eq!(reg.poll_timeout(), Some(now + Duration::from_secs(300)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use sip_parse::{Message, MessageBuilder, Method, Target, Uri};
use sip_transport::Cause;
use sip_txn::digest::{Credentials, DigestClient};

use crate::outbound::{self, Flow, Outbound};
use crate::{Endpoint, Result};

/// The RTC registration states (`RTC_REGISTRATION_STATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistrationState {
    /// Not registered, and not trying.
    NotRegistered,
    /// A REGISTER is on its way (first registration, or recovery after a failure).
    Registering,
    /// The registrar holds our binding.
    Registered,
    /// The registrar refused us (the status says why); no retry until asked again.
    Rejected,
    /// Removing our binding.
    Unregistering,
    /// Every server failed; retrying after a backoff.
    Error,
    /// Our binding vanished from the registrar's answer: another party removed it.
    LoggedOff,
}

impl fmt::Display for RegistrationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RegistrationState::NotRegistered => "not registered",
            RegistrationState::Registering => "registering",
            RegistrationState::Registered => "registered",
            RegistrationState::Rejected => "rejected",
            RegistrationState::Unregistering => "unregistering",
            RegistrationState::Error => "error",
            RegistrationState::LoggedOff => "logged off",
        })
    }
}

/// A registration state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationEvent {
    /// The new state.
    pub state: RegistrationState,
    /// The status code of the response that caused it, if one did.
    pub status: Option<u16>,
    /// Why, in words (the reason phrase, or what failed).
    pub reason: String,
    /// What kind of failure caused it, when no response did: an untrusted certificate, a
    /// refused connection, a timeout…
    pub cause: Option<Cause>,
}

/// Identifies one request the core asked to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

/// A request to run in a client transaction, and where to send it.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    /// Report its outcome with this id.
    pub id: RequestId,
    /// The next hop.
    pub target: Target,
    /// The request, with its top Via.
    pub request: Message,
}

/// Why a request got no final response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Timer B or F fired (RFC 3261 §17.1).
    Timeout,
    /// The transport could not send, or the connection broke, for `Cause`.
    Transport(Cause),
}

/// What to register and how to retry.
#[derive(Debug, Clone)]
pub struct RegistrationConfig {
    /// The address of record, the To and From URI (`sip:alice@example.test`).
    pub aor: String,
    /// The registrar's URI, the Request-URI (`sip:example.test`).
    pub registrar: String,
    /// The display name for From and To.
    pub display_name: Option<String>,
    /// Credentials for digest challenges.
    pub credentials: Option<Credentials>,
    /// The expiry to ask for, in seconds.
    pub expires: u32,
    /// The `Allow` header value: the methods this client accepts.
    pub allow: String,
    /// The `Allow-Events` header value (RFC 6665 §8.2.2), if any event package is served.
    pub allow_events: Option<String>,
    /// The `User-Agent` header value.
    pub user_agent: Option<String>,
    /// The first retry delay after every target failed; doubled per consecutive failure.
    pub retry_base: Duration,
    /// The longest retry delay.
    pub retry_max: Duration,
    /// Seed of the jitter generator (spreads many clients' retries apart).
    pub seed: u64,
    /// Whether the targets come from an RFC 3263 lookup the caller runs again before a retry
    /// after every target failed ([`Registration::poll_lookup`]); without it, retries reuse
    /// the targets given.
    pub relookup: bool,
    /// RFC 5626 outbound: the instance id and `reg-id` our Contact carries, with
    /// `Supported: outbound, path`. Used only if the registrar's 2xx says it supports it
    /// ([`Registration::flow`]); `None`: plain RFC 3261 bindings.
    pub outbound: Option<Outbound>,
}

impl RegistrationConfig {
    /// A configuration for `aor` at `registrar` with the defaults: 3600 s, retries from 2 s up
    /// to 5 min, `Allow` of INVITE, ACK, CANCEL, BYE, OPTIONS and MESSAGE.
    pub fn new(aor: impl Into<String>, registrar: impl Into<String>) -> Self {
        Self {
            aor: aor.into(),
            registrar: registrar.into(),
            display_name: None,
            credentials: None,
            expires: 3600,
            allow: "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE".into(),
            allow_events: None,
            user_agent: None,
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            seed: 0x5eed,
            relookup: false,
            outbound: None,
        }
    }
}

#[derive(Debug)]
struct Pending {
    id: RequestId,
    request: Message,
    unregister: bool,
    /// 423 answers followed in a row, to stop a registrar that keeps raising Min-Expires.
    interval_retries: u8,
}

/// One registration binding of a contact with a registrar.
#[derive(Debug)]
pub struct Registration {
    config: RegistrationConfig,
    local: Endpoint,
    targets: Vec<Target>,
    target: usize,
    call_id: String,
    from_tag: String,
    cseq: u32,
    digest: Option<DigestClient>,
    expires: u32,
    state: RegistrationState,
    pending: Option<Pending>,
    next_id: u64,
    /// When to send the next REGISTER (refresh or retry).
    wake: Option<Instant>,
    failures: u32,
    /// A Contact of ours the registrar still holds and the next REGISTER removes (`expires=0`):
    /// the private address, once the public one is known.
    stale: Option<String>,
    /// The cause of the failure being handled, for the state change it leads to.
    cause: Option<Cause>,
    /// A permanent cause (an untrusted certificate) already reported as `Error`: the retries
    /// that fail the same way go on with backoff, but silently, so that the user hears of it
    /// once, not at every retry.
    reported: Option<Cause>,
    /// Contact rewrites since the last registration that kept its Contact: a bound on NATs
    /// that map every REGISTER to a new port.
    rewrites: u8,
    rng: u64,
    /// The targets are to be looked up again before the next REGISTER.
    stale_targets: bool,
    /// When the targets' DNS answer expires (its TTL): they are looked up again then.
    targets_until: Option<Instant>,
    /// A lookup is due: the caller runs it and reports with [`Registration::set_targets`] or
    /// [`Registration::lookup_failed`].
    lookup_due: bool,
    /// The registrar supports outbound (its last 2xx said `Require: outbound`): our binding
    /// lives on the flow the REGISTER came over.
    flow: Option<Flow>,
    out: VecDeque<OutgoingRequest>,
    events: VecDeque<RegistrationEvent>,
}

impl Registration {
    /// A registration of `local`'s contact, sent to `targets` in order (the first that answers
    /// wins; RFC 3263 §4.3). Nothing is sent until [`register`](Self::register).
    pub fn new(config: RegistrationConfig, local: Endpoint, targets: Vec<Target>) -> Result<Self> {
        // §10.2: the same Call-ID for every REGISTER to this registrar, CSeq increasing.
        let call_id = format!("{}@{}", sip_txn::new_tag()?, local.host());
        Ok(Self {
            digest: config.credentials.clone().map(DigestClient::new),
            expires: config.expires,
            rng: config.seed | 1,
            config,
            local,
            targets,
            target: 0,
            call_id,
            from_tag: sip_txn::new_tag()?,
            cseq: 0,
            state: RegistrationState::NotRegistered,
            pending: None,
            next_id: 0,
            wake: None,
            failures: 0,
            stale: None,
            cause: None,
            reported: None,
            rewrites: 0,
            stale_targets: false,
            targets_until: None,
            lookup_due: false,
            flow: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// The current state.
    pub fn state(&self) -> RegistrationState {
        self.state
    }

    /// The registrar target REGISTERs go to now.
    pub fn target(&self) -> Option<&Target> {
        self.targets.get(self.target)
    }

    /// How this registration names itself: after [`Registered`](RegistrationState::Registered)
    /// over UDP behind NAT, its Contact holds the public address the registrar saw. Requests
    /// other than REGISTER should use the same Contact, so that they are reachable too.
    pub fn local(&self) -> &Endpoint {
        &self.local
    }

    /// The flow to the registrar failed while registered (a keep-alive went unanswered, a
    /// connection broke): registering again starts now, reported as `Registering` with
    /// `reason`, and backs off like any failure if the registrar stays away.
    pub fn flow_failed(&mut self, reason: &str) -> Result<()> {
        match self.state {
            RegistrationState::Registered | RegistrationState::Registering => {
                self.set_state(RegistrationState::Registering, None, reason);
                self.target = 0;
                self.send(false)
            }
            _ => Ok(()),
        }
    }

    /// The RFC 5626 flow our binding lives on, when the registrar's last 2xx said it supports
    /// outbound (`Require: outbound`, §4.2.1): it reaches us over the flow, so no Contact
    /// rewrite is needed behind NAT, and keep-alives follow its `Flow-Timer`. `None`: RFC 3581
    /// behaviour (the Contact follows `received`/`rport`).
    pub fn flow(&self) -> Option<Flow> {
        self.flow
    }

    /// Whether a REGISTER is waiting for its final outcome.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Replaces the target list (after a new RFC 3263 lookup); the next REGISTER uses its first.
    pub fn set_targets(&mut self, targets: Vec<Target>) {
        self.targets = targets;
        self.target = 0;
        self.stale_targets = false;
    }

    /// Replaces our Via and Contact (the local address towards newly looked-up targets).
    pub fn set_local(&mut self, local: Endpoint) {
        self.local = local;
    }

    /// The RFC 3263 lookup of the registrar failed (`reason` says why, `cause` what kind of
    /// failure: no such name, no records, the lookup itself): reported as
    /// [`Error`](RegistrationState::Error) with that cause, and looked up again after the same
    /// backoff as a registrar that does not answer ([`poll_lookup`](Self::poll_lookup) tells
    /// when).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use sip_parse::TransportKind;
    /// use rtc_client::{Cause, Endpoint, Registration, RegistrationConfig, RegistrationState};
    ///
    /// # #[allow(clippy::disallowed_methods)]
    /// let now = Instant::now();
    /// let local = Endpoint::new("alice").with(TransportKind::Udp, "192.0.2.1:5070");
    /// let config = RegistrationConfig::new("sip:alice@example.test", "sip:example.test");
    /// let mut reg = Registration::new(config, local, Vec::new())?;
    /// reg.lookup_failed(now, "DNS lookup of example.test failed: no such name", Cause::DnsNoSuchName);
    /// let event = reg.poll_event().unwrap();
    /// assert_eq!(event.state, RegistrationState::Error);
    /// assert_eq!(event.cause, Some(Cause::DnsNoSuchName));
    /// let retry = reg.poll_timeout().expect("a retry");
    /// reg.handle_timeout(retry)?;
    /// assert!(reg.poll_lookup());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lookup_failed(&mut self, now: Instant, reason: &str, cause: Cause) {
        if matches!(
            self.state,
            RegistrationState::Unregistering
                | RegistrationState::NotRegistered
                | RegistrationState::Rejected
                | RegistrationState::LoggedOff
        ) && !self.targets.is_empty()
        {
            return;
        }
        self.stale_targets = true;
        self.cause = Some(cause);
        self.backoff(now, None, reason, None);
    }

    /// The lookup that was due (or the first) gave `targets`, valid until `valid_until` (the
    /// answer's TTL; looked up again then): registers with them, keeping the backoff of
    /// failures so far, so that a registrar that stays away is not hammered. A registration
    /// in progress or in place stays with its server, first in the new list even if the answer
    /// no longer names it: a working binding is not moved, which would leave a second one
    /// behind; the new answer counts from its next failure.
    pub fn resolved(&mut self, targets: Vec<Target>, valid_until: Option<Instant>) -> Result<()> {
        let current = self.current_target().cloned();
        self.set_targets(targets);
        self.targets_until = valid_until;
        match self.state {
            // The first lookup (a lookup after unregistering registers nothing).
            RegistrationState::NotRegistered if current.is_none() => self.register(),
            RegistrationState::Error if self.wake.is_none() => {
                self.set_state(RegistrationState::Registering, None, "retrying");
                self.send(false)
            }
            RegistrationState::Error => Ok(()),
            _ => {
                if let Some(current) = current {
                    match self.targets.iter().position(|t| *t == current) {
                        Some(i) => self.target = i,
                        None => self.targets.insert(0, current),
                    }
                }
                Ok(())
            }
        }
    }

    /// Whether a new RFC 3263 lookup of the registrar is due (once per call: it is taken).
    pub fn poll_lookup(&mut self) -> bool {
        std::mem::take(&mut self.lookup_due)
    }

    /// Registers, or refreshes at once if registered (with the server that holds the binding:
    /// a refresh never moves it, which would leave a second one behind).
    pub fn register(&mut self) -> Result<()> {
        if self.state != RegistrationState::Registered {
            self.set_state(RegistrationState::Registering, None, "registering");
            self.target = 0;
        }
        self.failures = 0;
        self.send(false)
    }

    /// Removes our binding (Expires: 0). Without a binding to remove, only ends retries.
    pub fn unregister(&mut self) -> Result<()> {
        self.wake = None;
        self.lookup_due = false;
        self.targets_until = None;
        if self.targets.is_empty() {
            // Never resolved: nothing was registered.
            self.pending = None;
            self.set_state(RegistrationState::NotRegistered, None, "not registered");
            return Ok(());
        }
        match self.state {
            RegistrationState::Registered
            | RegistrationState::Registering
            | RegistrationState::Error => {
                self.set_state(RegistrationState::Unregistering, None, "unregistering");
                self.target = 0;
                self.send(true)
            }
            RegistrationState::Unregistering => Ok(()),
            RegistrationState::NotRegistered
            | RegistrationState::Rejected
            | RegistrationState::LoggedOff => {
                self.pending = None;
                self.set_state(RegistrationState::NotRegistered, None, "not registered");
                Ok(())
            }
        }
    }

    /// The connection to the registrar broke: register again at once over a new one.
    pub fn connection_lost(&mut self) -> Result<()> {
        self.flow_failed("connection lost")
    }

    /// The final response to request `id` (provisional responses are ignored).
    pub fn handle_response(
        &mut self,
        now: Instant,
        id: RequestId,
        response: &Message,
    ) -> Result<()> {
        let Some(status) = response.status() else {
            return Ok(());
        };
        if status < 200 || self.pending.as_ref().is_none_or(|p| p.id != id) {
            return Ok(());
        }
        // A response: whatever happens next is its doing, not an earlier failure's.
        self.cause = None;
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        let reason = response.reason().unwrap_or_default().to_owned();
        match status {
            200..=299 if pending.unregister => {
                self.set_state(RegistrationState::NotRegistered, Some(status), &reason);
            }
            200..=299 => self.registered(now, status, &reason, response),
            401 | 407 => self.authenticate(pending, response)?,
            // §10.2.8: ask again with the registrar's minimum.
            423 => {
                let min = response.min_expires().and_then(|m| m.ok());
                match min {
                    Some(min) if min > self.expires && pending.interval_retries < 3 => {
                        self.expires = min;
                        let b = self.build(pending.unregister)?;
                        self.push(b, pending.unregister, pending.interval_retries + 1)?;
                    }
                    _ => self.rejected(status, "423 without a usable Min-Expires"),
                }
            }
            // RFC 3263 §4.3: a 503 means "try the next server", as does no answer at all.
            503 | 408 => self.failed(now, pending.unregister, Some(status), &reason, response)?,
            _ if pending.unregister => {
                self.set_state(RegistrationState::NotRegistered, Some(status), &reason)
            }
            500..=599 => self.failed(now, false, Some(status), &reason, response)?,
            _ => self.rejected(status, &reason),
        }
        Ok(())
    }

    /// Request `id` got no final response.
    pub fn handle_failure(&mut self, now: Instant, id: RequestId, failure: Failure) -> Result<()> {
        if self.pending.as_ref().is_none_or(|p| p.id != id) {
            return Ok(());
        }
        let Some(pending) = self.pending.take() else {
            return Ok(());
        };
        let cause = match failure {
            Failure::Timeout => Cause::TimedOut,
            Failure::Transport(cause) => cause,
        };
        // Across a failover round, a certificate the user must fix outweighs a server that is
        // merely down: that is what the state change reports.
        let cause = match self.cause {
            Some(earlier) if earlier.is_permanent() => earlier,
            _ => cause,
        };
        self.cause = Some(cause);
        let reason = match (failure, cause) {
            (Failure::Timeout, Cause::TimedOut) => "no answer from the registrar".to_owned(),
            _ => cause.to_string(),
        };
        if pending.unregister {
            self.set_state(RegistrationState::NotRegistered, None, &reason);
            return Ok(());
        }
        self.next_target(now, None, &reason, None)
    }

    /// Sends the refresh or retry that is due, and asks for a lookup once the targets' TTL
    /// has passed.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<()> {
        if self.targets_until.is_some_and(|at| at <= now) {
            self.targets_until = None;
            self.lookup_due = matches!(
                self.state,
                RegistrationState::Registered
                    | RegistrationState::Registering
                    | RegistrationState::Error
            );
        }
        match self.wake {
            Some(at) if at <= now => {
                self.wake = None;
                // A retry starts over from the first server; a refresh stays with the one that
                // holds our binding, or the client would end up registered on two (RFC 3263
                // §4.3 fails over per request, not per refresh).
                if self.state == RegistrationState::Error && self.stale_targets {
                    // Targets are looked up again first (RFC 3263 §4.3 after failures).
                    self.lookup_due = true;
                    return Ok(());
                }
                if self.state == RegistrationState::Error {
                    self.target = 0;
                    self.set_state(RegistrationState::Registering, None, "retrying");
                }
                self.send(false)
            }
            _ => Ok(()),
        }
    }

    /// The next request to send.
    pub fn poll_request(&mut self) -> Option<OutgoingRequest> {
        self.out.pop_front()
    }

    /// The next state change.
    pub fn poll_event(&mut self) -> Option<RegistrationEvent> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.wake, self.targets_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn registered(&mut self, now: Instant, status: u16, reason: &str, response: &Message) {
        // RFC 5626 §4.2.1: outbound's behaviour only if the registrar says it supports it.
        self.flow = self
            .config
            .outbound
            .as_ref()
            .and_then(|_| Flow::of(response));
        if self.flow.is_none() && self.follow_nat(response) {
            return;
        }
        if self.flow.is_some() != self.local.is_outbound() {
            self.local = self.local.clone().with_outbound(self.flow.is_some());
        }
        self.stale = None;
        let Some(granted) = self.granted_expiry(response) else {
            // Our contact is missing from the bindings the registrar lists (§10.2.4).
            self.wake = None;
            self.set_state(
                RegistrationState::LoggedOff,
                Some(status),
                "our binding is gone from the registrar",
            );
            return;
        };
        self.failures = 0;
        // Refresh early enough for a lost, retransmitted REGISTER (64·T1 = 32 s) to fit.
        let refresh = if granted > 1200 {
            granted - 600
        } else {
            granted / 2
        };
        self.wake = Some(now + Duration::from_secs(u64::from(refresh.max(1))));
        if self.state != RegistrationState::Registered {
            self.set_state(RegistrationState::Registered, Some(status), reason);
        }
    }

    /// Behind NAT (RFC 3581 §4): when the 2xx's top Via says the registrar saw our UDP request
    /// from another address than our Contact names, registers again at once with that public
    /// address, removing the binding of the old one in the same REGISTER, and reports
    /// `Registered` only once the registrar holds a reachable Contact. Returns whether it did.
    /// Streams are reached over the connection we opened (RFC 5923 `alias`), so only UDP.
    fn follow_nat(&mut self, response: &Message) -> bool {
        let transport = sip_parse::TransportKind::Udp;
        if self
            .current_target()
            .is_none_or(|t| t.transport != transport)
        {
            return false;
        }
        let Some(public) = response.top_via().ok().and_then(|via| {
            let host = via.received?;
            let port = via.rport.flatten()?;
            Some(if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            })
        }) else {
            return false;
        };
        let Ok(current) = self.local.contact_addr(transport) else {
            return false;
        };
        if current.eq_ignore_ascii_case(&public) {
            self.rewrites = 0;
            return false;
        }
        // A NAT that maps each REGISTER anew would loop: after three, keep what we have.
        if self.rewrites >= 3 {
            return false;
        }
        self.rewrites += 1;
        self.stale = self.local.binding(transport).ok();
        self.local = self.local.clone().with_public(transport, &public);
        self.send(false).is_ok()
    }

    /// Our binding's expiry in a 2xx: its Contact `expires`, else the Expires header, else
    /// what we asked (§10.2.4). `None` if our contact is not listed.
    fn granted_expiry(&self, response: &Message) -> Option<u32> {
        let ours = self.contact().ok()?;
        let ours = Uri::parse(&ours).ok()?;
        let header = response.expires().and_then(|e| e.ok());
        response.contacts().find_map(|c| {
            let c = c.ok()?;
            let addr = c.address()?;
            addr.uri()
                .ok()?
                .equivalent(&ours)
                .then(|| addr.expires().or(header).unwrap_or(self.expires))
        })
    }

    fn authenticate(&mut self, pending: Pending, response: &Message) -> Result<()> {
        let status = response.status().unwrap_or_default();
        let Some(digest) = self.digest.as_mut() else {
            self.rejected(status, "authentication required and no credentials");
            return Ok(());
        };
        match digest.authorize(&pending.request, response) {
            Ok(auths) => {
                let mut b = self.build(pending.unregister)?;
                for a in &auths {
                    b = a.add_to(b)?;
                }
                self.push(b, pending.unregister, 0)
            }
            Err(e) => {
                if pending.unregister {
                    self.set_state(
                        RegistrationState::NotRegistered,
                        Some(status),
                        &e.to_string(),
                    );
                } else {
                    self.rejected(status, &e.to_string());
                }
                Ok(())
            }
        }
    }

    fn rejected(&mut self, status: u16, reason: &str) {
        self.wake = None;
        self.set_state(RegistrationState::Rejected, Some(status), reason);
    }

    fn failed(
        &mut self,
        now: Instant,
        unregister: bool,
        status: Option<u16>,
        reason: &str,
        response: &Message,
    ) -> Result<()> {
        if unregister {
            self.set_state(RegistrationState::NotRegistered, status, reason);
            return Ok(());
        }
        let retry_after = response
            .retry_after()
            .and_then(|r| r.ok())
            .map(|r| Duration::from_secs(u64::from(r.seconds)));
        self.next_target(now, status, reason, retry_after)
    }

    /// Fails over to the next target at once, or, when all failed, waits a backoff (RFC 5626
    /// §4.5: doubled per consecutive failure, capped, scaled by a random 50–100 %).
    fn next_target(
        &mut self,
        now: Instant,
        status: Option<u16>,
        reason: &str,
        at_least: Option<Duration>,
    ) -> Result<()> {
        if self.target + 1 < self.targets.len() {
            self.target += 1;
            return self.send(false);
        }
        self.stale_targets = self.config.relookup;
        self.backoff(now, status, reason, at_least);
        Ok(())
    }

    /// Waits a backoff before the next attempt, in state `Error`.
    fn backoff(
        &mut self,
        now: Instant,
        status: Option<u16>,
        reason: &str,
        at_least: Option<Duration>,
    ) {
        let exp = self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        let full = self
            .config
            .retry_base
            .saturating_mul(1 << exp)
            .min(self.config.retry_max);
        let wait = (full / 2 + full.mul_f64(self.random() * 0.5)).max(at_least.unwrap_or_default());
        self.wake = Some(now + wait);
        self.set_state(RegistrationState::Error, status, reason);
    }

    fn random(&mut self) -> f64 {
        // xorshift64*: deterministic per seed, enough to spread retries.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn contact(&self) -> Result<String> {
        let transport = self.current_target().map(|t| t.transport);
        self.local
            .binding(transport.unwrap_or(sip_parse::TransportKind::Udp))
    }

    fn current_target(&self) -> Option<&Target> {
        self.targets.get(self.target)
    }

    fn send(&mut self, unregister: bool) -> Result<()> {
        let b = self.build(unregister)?;
        self.push(b, unregister, 0)
    }

    /// A REGISTER without credentials: §10.2 fields, our Contact with the expiry we ask for.
    fn build(&mut self, unregister: bool) -> Result<MessageBuilder> {
        let Some(target) = self.current_target() else {
            return Err(crate::Error::NoTarget);
        };
        let transport = target.transport;
        self.cseq = self.cseq.wrapping_add(1);
        let expires = if unregister { 0 } else { self.expires };
        let name = self
            .config
            .display_name
            .as_deref()
            .map(|n| format!("\"{}\" ", n.replace(['"', '\\'], "")))
            .unwrap_or_default();
        let mut b = MessageBuilder::request(Method::Register, &self.config.registrar)
            .header("Via", &self.local.via(transport)?)?
            .header("Max-Forwards", "70")?
            .header(
                "From",
                &format!("{name}<{}>;tag={}", self.config.aor, self.from_tag),
            )?
            .header("To", &format!("{name}<{}>", self.config.aor))?
            .header("Call-ID", &self.call_id)?
            .header("CSeq", &format!("{} REGISTER", self.cseq))?
            .header(
                "Contact",
                &format!(
                    "<{}>{}",
                    self.local.binding(transport)?,
                    self.config
                        .outbound
                        .as_ref()
                        .map(Outbound::contact_params)
                        .unwrap_or_default()
                ),
            )?;
        if let Some(stale) = &self.stale {
            // §10.2.2: a Contact with expires=0 removes that binding.
            b = b.header("Contact", &format!("<{stale}>;expires=0"))?;
        }
        if self.config.outbound.is_some() {
            // RFC 5626 §4.2.
            b = b.header("Supported", outbound::SUPPORTED)?;
        }
        let mut b = b
            .header("Expires", &expires.to_string())?
            .header("Allow", &self.config.allow)?;
        if let Some(events) = &self.config.allow_events {
            b = b.header("Allow-Events", events)?;
        }
        if let Some(ua) = &self.config.user_agent {
            b = b.header("User-Agent", ua)?;
        }
        Ok(b)
    }

    fn push(&mut self, b: MessageBuilder, unregister: bool, interval_retries: u8) -> Result<()> {
        let request = Message::parse(b.build())?;
        let Some(target) = self.current_target().cloned() else {
            return Err(crate::Error::NoTarget);
        };
        self.next_id += 1;
        let id = RequestId(self.next_id);
        self.pending = Some(Pending {
            id,
            request: request.clone(),
            unregister,
            interval_retries,
        });
        self.out.push_back(OutgoingRequest {
            id,
            target,
            request,
        });
        Ok(())
    }

    fn set_state(&mut self, state: RegistrationState, status: Option<u16>, reason: &str) {
        self.state = state;
        // A failover sends at once: the cause belongs to the state it led to only.
        let cause = self.cause.take();
        // A certificate failure is told once: the retries after it ("registering", then the
        // same error again) are not news until something else happens.
        let again = match (state, cause) {
            (RegistrationState::Registering, None) => {
                self.reported.is_some() && reason == "retrying"
            }
            (RegistrationState::Error, Some(c)) => self.reported == Some(c),
            _ => false,
        };
        self.reported = match (state, cause) {
            (RegistrationState::Error, Some(c)) if c.is_permanent() => Some(c),
            (RegistrationState::Registering, None) if again => self.reported,
            _ => None,
        };
        if again {
            return;
        }
        self.events.push_back(RegistrationEvent {
            state,
            status,
            reason: reason.to_owned(),
            cause,
        });
    }
}
