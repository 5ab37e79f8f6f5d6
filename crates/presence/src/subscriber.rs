//! Watching buddies: one SUBSCRIBE dialog per buddy for the `presence` event (RFC 6665,
//! RFC 3856), refreshed before it expires and re-established when the notifier ends it or a
//! SUBSCRIBE fails for now (404, 408, 480, 503, no answer: after a backoff, [`RETRY_BACKOFF`],
//! or the server's Retry-After), so that a buddy offline at login is seen later; or
//! one-shot fetches of a buddy's state ([`Subscriber::fetch`], RFC 6665 §4.4.3), which hold no
//! subscription.
//!
//! [`Subscriber`] is a sans-IO core holding any number of subscriptions (keyed maps, no scan
//! per message). It sits above the transaction layer:
//!
//! * **Output.** [`Subscriber::poll_request`] gives each SUBSCRIBE to send in a client
//!   transaction, with a [`RequestHandle`]; [`Subscriber::poll_event`] what happened;
//!   [`Subscriber::poll_timeout`] when to call [`Subscriber::handle_timeout`].
//! * **Input.** The final response of each request with [`Subscriber::handle_response`], or
//!   [`Subscriber::handle_failure`] when its transaction timed out or the transport failed;
//!   every incoming NOTIFY with [`Subscriber::handle_request`], which returns the response.
//! * **After every input or command, drain every `poll_*`.**
//!
//! ```
//! use std::time::{Duration, Instant};
//! use presence::local::LocalIdentity;
//! use presence::subscriber::{Subscriber, SubscriberConfig, SubscriberEvent, SubscriptionState};
//! use sip_parse::{Message, MessageBuilder, TransportKind};
//!
//! # #[allow(clippy::disallowed_methods)] // the example's clock starts somewhere
//! let now = Instant::now(); // a driver reads the clock; the core never does
//! let me = LocalIdentity::new("sip:alice@example.com", "sip:alice@192.0.2.1",
//!     TransportKind::Udp, "192.0.2.1:5060")?;
//! let mut core = Subscriber::new(me, SubscriberConfig::default());
//! let id = core.subscribe(now, "sip:bob@example.com")?;
//!
//! let out = core.poll_request().expect("the SUBSCRIBE");
//! assert_eq!(out.message.header_str(sip_parse::HeaderName::Event), Some("presence"));
//!
//! // The presence server accepts for an hour…
//! let ok = MessageBuilder::response_to(&out.message, 200, "OK", Some("srv1"))?
//!     .header("Contact", "<sip:ps.example.com>")?
//!     .header("Expires", "3600")?
//!     .build();
//! core.handle_response(now, out.handle, &Message::parse(ok)?);
//! assert_eq!(core.state(id), Some(&SubscriptionState::Subscribing));
//! // …and the NOTIFY with the first state follows (see the tests for whole exchanges).
//! assert!(core.poll_timeout().is_some()); // Timer N: waiting for that NOTIFY
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sip_parse::{HeaderName, Message, MessageBuilder, Method, ParseConfig, SubState, Uri};
use sip_txn::dialog::Dialog;

use crate::local::LocalIdentity;
use crate::request::{self, Deadlines, Handles};
use crate::{
    Backoff, Error, Failure, OutgoingRequest, RemotePresence, RequestHandle, Result, Status,
    parse_body,
};

/// The body formats a watcher accepts (RFC 3856 §6.6: PIDF; XPIDF for RTC peers).
pub const ACCEPT: &str = "application/pidf+xml, application/xpidf+xml";

/// The event package a [`Subscriber`] subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Package {
    /// `presence` (RFC 3856): PIDF or XPIDF bodies, reported as [`SubscriberEvent::Presence`].
    #[default]
    Presence,
    /// `presence` of a resource list (RFC 4662): `Supported: eventlist`, and each body
    /// (`multipart/related` with RLMI, or a plain PIDF where the server treats the URI as one
    /// presentity) reported as [`SubscriberEvent::Document`] for
    /// [`ListState`](crate::eventlist::ListState) to apply.
    PresenceList,
    /// `presence.winfo` (RFC 3857): who watches the resource, usually our own address at a
    /// presence server; each body is reported as [`SubscriberEvent::Document`] for a
    /// [`WatcherInfoState`](crate::winfo::WatcherInfoState) to apply.
    WatcherInfo,
}

impl Package {
    /// The `Event` header value.
    pub const fn event(self) -> &'static str {
        match self {
            Package::Presence | Package::PresenceList => "presence",
            Package::WatcherInfo => "presence.winfo",
        }
    }

    /// The `Accept` header value.
    pub const fn accept(self) -> &'static str {
        match self {
            Package::Presence => ACCEPT,
            Package::PresenceList => {
                "application/pidf+xml, application/xpidf+xml, application/rlmi+xml, multipart/related"
            }
            Package::WatcherInfo => crate::winfo::CONTENT_TYPE,
        }
    }
}

/// Names one watched buddy for as long as it is subscribed, across re-subscriptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(u64);

impl SubscriptionId {
    /// The id's number.
    pub fn into_raw(self) -> u64 {
        self.0
    }
}

/// Settings of a [`Subscriber`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberConfig {
    /// The duration asked for in Expires, in seconds (RFC 3856 §6.4 suggests 3600).
    pub expires: u32,
    /// Refresh this long before expiry, but never before half the duration has passed.
    pub refresh_margin: Duration,
    /// How long to wait for the first NOTIFY after a 2xx: Timer N, 64·T1 (RFC 6665 §4.1.2.4).
    pub timer_n: Duration,
    /// Waits between attempts after failures: a SUBSCRIBE answered 404, 408, 480, 5xx…, or
    /// none; a subscription ended with `probation`, `giveup` or no reason. [`RETRY_BACKOFF`] by
    /// default. A Retry-After (header, or `retry-after` parameter) replaces the backoff's wait,
    /// kept between a second and the backoff's `max`.
    pub backoff: Backoff,
    /// The message limits of the peers, the same as our own parser's: no SUBSCRIBE is built
    /// larger than `parse.max_message_size` (default 64 KiB).
    pub parse: ParseConfig,
    /// The event package of every subscription of this core (default `presence`).
    pub package: Package,
}

/// The default [`SubscriberConfig::backoff`]: 30 s doubling to an hour, as baresip waits for
/// a buddy offline at login (30 s, 5 min, 1 h), spread so that watchers do not retry together.
pub const RETRY_BACKOFF: Backoff = Backoff {
    base: Duration::from_secs(30),
    max: Duration::from_secs(3600),
};

impl Default for SubscriberConfig {
    fn default() -> Self {
        Self {
            expires: 3600,
            refresh_margin: Duration::from_secs(300),
            timer_n: Duration::from_secs(32),
            backoff: RETRY_BACKOFF,
            parse: ParseConfig::default(),
            package: Package::Presence,
        }
    }
}

/// The `reason` of a `Subscription-State: terminated` (RFC 6665 §4.1.3, §8.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TerminatedReason {
    /// `deactivated`: re-subscribe at once.
    Deactivated,
    /// `probation`: re-subscribe after retry-after, or after a backoff.
    Probation,
    /// `rejected`: do not re-subscribe.
    Rejected,
    /// `timeout`: re-subscribe at once.
    Timeout,
    /// `giveup`: re-subscribe after retry-after, or after a backoff.
    Giveup,
    /// `noresource`: do not re-subscribe.
    NoResource,
    /// `invariant`: do not re-subscribe.
    Invariant,
    /// No reason, or one this crate does not know: re-subscribe after a backoff.
    Other(Option<Box<str>>),
}

impl TerminatedReason {
    fn parse(reason: Option<&str>) -> Self {
        let Some(r) = reason else {
            return TerminatedReason::Other(None);
        };
        [
            ("deactivated", TerminatedReason::Deactivated),
            ("probation", TerminatedReason::Probation),
            ("rejected", TerminatedReason::Rejected),
            ("timeout", TerminatedReason::Timeout),
            ("giveup", TerminatedReason::Giveup),
            ("noresource", TerminatedReason::NoResource),
            ("invariant", TerminatedReason::Invariant),
        ]
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(r))
        .map_or_else(|| TerminatedReason::Other(Some(r.into())), |(_, v)| v)
    }
}

/// Why a subscription waits to be set up again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RetryCause {
    /// The notifier ended it with this reason.
    Terminated(TerminatedReason),
    /// A SUBSCRIBE failed: non-2xx final response, or none.
    Failed(Failure),
    /// A 2xx came but no NOTIFY within Timer N (RFC 6665 §4.1.2.4).
    NoNotify,
    /// It expired before a refresh succeeded.
    Expired,
    /// A request could not be built (see the [`SubscriberEvent::Error`] reported with it).
    LocalError,
}

/// Why a subscription stopped for good (until [`Subscriber::refresh`] restarts it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StopCause {
    /// The notifier ended it with `rejected`, `noresource` or `invariant`.
    Terminated(TerminatedReason),
    /// The initial SUBSCRIBE got a final response that retrying cannot change (403, 489, 603,
    /// …).
    Refused(u16),
    /// [`Subscriber::unsubscribe`] finished; the subscription is gone.
    Unsubscribed,
    /// A fetch ([`Subscriber::fetch`]) got its NOTIFY; the document it carried, if any, was
    /// reported as [`SubscriberEvent::Presence`] (when it said something new).
    Fetched,
    /// A fetch got no NOTIFY: its SUBSCRIBE failed ([`RetryCause::Failed`]; a 401 or 407
    /// too, when the caller could not answer the challenge), a 2xx came without a NOTIFY
    /// within Timer N ([`RetryCause::NoNotify`]), or it could not be built
    /// ([`RetryCause::LocalError`]). A fetch is never retried: the next fetch is the retry.
    FetchFailed(RetryCause),
}

/// Where a subscription stands, as last reported in [`SubscriberEvent::State`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubscriptionState {
    /// A SUBSCRIBE is out; nothing confirmed yet.
    Subscribing,
    /// The notifier has not authorized it yet (`pending`).
    Pending {
        /// When it expires unless refreshed, once known.
        expires_at: Option<Instant>,
    },
    /// Authorized: NOTIFYs bring the buddy's presence.
    Active {
        /// When it expires unless refreshed, once known.
        expires_at: Option<Instant>,
    },
    /// Down; a new SUBSCRIBE goes out at `at`.
    Retrying {
        /// When.
        at: Instant,
        /// Why it is down.
        cause: RetryCause,
    },
    /// Down for good.
    Stopped(StopCause),
}

/// What happened, from [`Subscriber::poll_event`].
#[derive(Debug)]
pub enum SubscriberEvent {
    /// A NOTIFY brought a presence document (PIDF or XPIDF) saying something new: a status or
    /// note other than the last one reported for this buddy.
    Presence {
        /// The subscription.
        id: SubscriptionId,
        /// The buddy's URI.
        buddy: Arc<str>,
        /// What the document says.
        presence: RemotePresence,
    },
    /// The subscription's state changed.
    State {
        /// The subscription.
        id: SubscriptionId,
        /// The buddy's URI.
        buddy: Arc<str>,
        /// The new state.
        state: SubscriptionState,
    },
    /// A NOTIFY of a package other than `presence` brought a body (for
    /// [`Package::WatcherInfo`], a watcherinfo document), answered 200 before it is read.
    Document {
        /// The subscription.
        id: SubscriptionId,
        /// The resource subscribed to.
        buddy: Arc<str>,
        /// Its `Content-Type`.
        content_type: Box<str>,
        /// The body.
        body: bytes::Bytes,
    },
    /// What the subscription told about the buddy is no longer known: it ended and is not
    /// made again at once (RFC 6665 §4.1.3: the state is then unknown), or it went `pending`.
    /// Show the buddy as offline until a NOTIFY says otherwise; that NOTIFY is reported as
    /// [`SubscriberEvent::Presence`] even if it repeats the status last reported. Only sent
    /// when a status had been reported.
    Unknown {
        /// The subscription.
        id: SubscriptionId,
        /// The buddy's URI.
        buddy: Arc<str>,
    },
    /// Something went wrong that does not end the subscription: a NOTIFY body that cannot be
    /// read (answered 200 all the same, with the error's line and column here), a failed
    /// refresh (retried), a request that could not be built (retried with backoff).
    Error {
        /// The subscription.
        id: SubscriptionId,
        /// The buddy's URI.
        buddy: Arc<str>,
        /// What.
        error: Error,
    },
}

/// What a subscription is doing.
#[derive(Debug)]
enum Phase {
    /// Nothing in flight: the deadline sends a new SUBSCRIBE.
    Waiting,
    /// The initial SUBSCRIBE is in flight; kept to create the dialog from its 2xx or from a
    /// NOTIFY that overtakes it (RFC 6665 §4.1.2.4).
    Subscribing {
        handle: RequestHandle,
        request: Message,
        /// The last CSeq number used with this Call-ID: `request`'s, or a resubmission's
        /// ([`Subscriber::next_cseq`]). The dialog's local sequence starts there.
        cseq: u32,
    },
    /// The dialog stands; the deadline is Timer N (no NOTIFY yet) or the refresh.
    Established,
    /// An in-dialog SUBSCRIBE refreshing it is in flight.
    Refreshing { handle: RequestHandle },
    /// SUBSCRIBE with Expires: 0 sent (handle) or answered (none, waiting for the final NOTIFY
    /// until the deadline).
    Unsubscribing { handle: Option<RequestHandle> },
    /// Stopped for good.
    Stopped,
}

#[derive(Debug)]
struct Subscription {
    buddy: Arc<str>,
    /// A one-shot fetch (Expires: 0), not a standing subscription.
    fetch: bool,
    /// For a fetch entry made by [`Subscriber::poll`]: fetch again this long after each fetch
    /// ends.
    every: Option<Duration>,
    phase: Phase,
    dialog: Option<Dialog>,
    /// The Call-ID of the current attempt, the key in `by_call_id`.
    call_id: Option<Box<str>>,
    /// Expires asked for in the next SUBSCRIBE (raised by a 423).
    expires: u32,
    expires_at: Option<Instant>,
    deadline: Option<Instant>,
    /// A NOTIFY arrived in the current dialog.
    notified: bool,
    /// Consecutive failures, for the backoff.
    failures: u32,
    /// When a `deactivated` or `timeout` last made it again at once, to do so at most once a
    /// backoff base (a notifier ending every new subscription so would have us loop).
    resubscribed_at: Option<Instant>,
    /// `unsubscribe` was asked while a request was in flight.
    unsubscribe_wanted: bool,
    state: SubscriptionState,
    /// The status and note last reported, to report changes only.
    last: Option<(Status, Option<Box<str>>)>,
}

/// The sans-IO core watching buddies (module docs above).
#[derive(Debug)]
pub struct Subscriber {
    local: LocalIdentity,
    config: SubscriberConfig,
    next_id: u64,
    subs: HashMap<SubscriptionId, Subscription>,
    by_buddy: HashMap<Arc<str>, SubscriptionId>,
    by_call_id: HashMap<Box<str>, SubscriptionId>,
    requests: HashMap<RequestHandle, SubscriptionId>,
    handles: Handles,
    deadlines: Deadlines<SubscriptionId>,
    out: VecDeque<OutgoingRequest>,
    events: VecDeque<SubscriberEvent>,
    /// Mixed into the backoff's spread, so that the watchers of many clients that failed
    /// together (a server restart) do not retry together either.
    salt: u64,
}

/// The CSeq number of each new SUBSCRIBE outside a dialog (a fresh Call-ID every time).
const INITIAL_CSEQ: u32 = 1;

/// Codes to a refresh that end the subscription (RFC 6665 §4.1.2.2).
fn refresh_ends_subscription(code: u16) -> bool {
    matches!(code, 404 | 405 | 410 | 416 | 480..=485 | 489 | 501 | 604)
}

/// Codes to an initial SUBSCRIBE worth retrying later; any other failure (403, 603, …) is
/// final. 404 is among them: a server answers it for a user it knows but who has no binding
/// (Kamailio's registrar lookup), so a buddy offline at login would never be seen.
fn worth_retrying(code: u16) -> bool {
    matches!(code, 404 | 408 | 480 | 481 | 486 | 491 | 500..=599 | 600)
}

impl Subscriber {
    /// A core with no subscriptions.
    pub fn new(local: LocalIdentity, config: SubscriberConfig) -> Self {
        Self {
            local,
            config,
            next_id: 0,
            subs: HashMap::new(),
            by_buddy: HashMap::new(),
            by_call_id: HashMap::new(),
            requests: HashMap::new(),
            handles: Handles::default(),
            deadlines: Deadlines::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            salt: random_salt(),
        }
    }

    /// Starts watching `buddy` (a SIP URI): a SUBSCRIBE goes out at once. Subscribing to a buddy
    /// already watched returns its id and changes nothing, except that an unsubscribe not yet
    /// sent is called off. While an unsubscribe is on its way, the old subscription ends on its
    /// own and a new one (with a new id) starts.
    ///
    /// Subscribing to a buddy that has an idle fetch entry turns it into a subscription; while
    /// its fetch is in flight, that is refused.
    pub fn subscribe(&mut self, now: Instant, buddy: &str) -> Result<SubscriptionId> {
        let Some(id) = self.by_buddy.get(buddy).copied() else {
            return self.insert(now, buddy, false);
        };
        if let Some(sub) = self.subs.get_mut(&id).filter(|s| !s.fetch) {
            if matches!(sub.phase, Phase::Unsubscribing { .. }) {
                // Ending already: it ends on its own; a new subscription takes the buddy.
                self.by_buddy.remove(buddy);
                return self.insert(now, buddy, false);
            }
            // An unsubscribe not sent yet is called off.
            sub.unsubscribe_wanted = false;
        }
        if let Some(sub) = self.subs.get_mut(&id).filter(|s| s.fetch) {
            if !matches!(sub.phase, Phase::Stopped) {
                return Err(Error::InvalidState("a fetch is in flight"));
            }
            sub.fetch = false;
            sub.every = None;
            sub.failures = 0;
            sub.expires = self.config.expires;
            self.send_initial(now, id);
        }
        Ok(id)
    }

    /// Fetches `buddy`'s presence once, holding no subscription (RFC 6665 §4.4.3, RFC 3265
    /// §3.3.6): a SUBSCRIBE with Expires: 0, answered by one NOTIFY (`terminated`) with the
    /// current state, reported as [`SubscriberEvent::Presence`] like any other; the fetch then
    /// ends in [`StopCause::Fetched`] (or [`StopCause::FetchFailed`], or
    /// [`StopCause::Terminated`] if the notifier rejects us) with no unsubscribe, since there is
    /// nothing to end. A NOTIFY may overtake the 2xx; after a 2xx, the NOTIFY is awaited Timer N.
    ///
    /// The idle entry stays, so that fetching the buddy again (this call, or
    /// [`Subscriber::refresh`]) reports only what changed; [`Subscriber::unsubscribe`] forgets
    /// it at once. Fetching a buddy that has a standing subscription, or whose fetch is in
    /// flight, returns its id and sends nothing.
    pub fn fetch(&mut self, now: Instant, buddy: &str) -> Result<SubscriptionId> {
        let Some(id) = self.by_buddy.get(buddy).copied() else {
            return self.insert(now, buddy, true);
        };
        if let Some(sub) = self.subs.get_mut(&id)
            && sub.fetch
            && matches!(sub.phase, Phase::Stopped)
        {
            self.send_initial(now, id);
        }
        Ok(id)
    }

    /// Polls `buddy`: [`fetch`](Self::fetch)es it now and again `every` after each fetch ends,
    /// however it ended, until [`Subscriber::unsubscribe`]. A buddy with a standing
    /// subscription is left as it is.
    pub fn poll(&mut self, now: Instant, buddy: &str, every: Duration) -> Result<SubscriptionId> {
        let id = self.fetch(now, buddy)?;
        if let Some(sub) = self.subs.get_mut(&id).filter(|s| s.fetch) {
            sub.every = Some(every.max(Duration::from_secs(1)));
        }
        Ok(id)
    }

    /// A new entry for `buddy`, whose first SUBSCRIBE goes out at once.
    fn insert(&mut self, now: Instant, buddy: &str, fetch: bool) -> Result<SubscriptionId> {
        if let Err(source) = Uri::parse(buddy) {
            return Err(Error::InvalidUri {
                what: "buddy",
                uri: buddy.to_owned(),
                source,
            });
        }
        self.next_id += 1;
        let id = SubscriptionId(self.next_id);
        let buddy: Arc<str> = buddy.into();
        self.by_buddy.insert(buddy.clone(), id);
        self.subs.insert(
            id,
            Subscription {
                buddy,
                fetch,
                every: None,
                phase: Phase::Waiting,
                dialog: None,
                call_id: None,
                expires: self.config.expires,
                expires_at: None,
                deadline: None,
                notified: false,
                failures: 0,
                resubscribed_at: None,
                unsubscribe_wanted: false,
                state: SubscriptionState::Subscribing,
                last: None,
            },
        );
        self.send_initial(now, id);
        Ok(id)
    }

    /// Stops watching: SUBSCRIBE with Expires: 0 in the dialog, then the final NOTIFY is
    /// accepted (RFC 6665 §4.1.2.3). Ends with [`StopCause::Unsubscribed`]; the id is then
    /// unknown. A fetch holds no subscription: it is forgotten at once, and its NOTIFY, if
    /// one still comes, is answered 481.
    pub fn unsubscribe(&mut self, now: Instant, id: SubscriptionId) -> Result<()> {
        let sub = self
            .subs
            .get_mut(&id)
            .ok_or(Error::UnknownSubscription(id.0))?;
        if sub.fetch {
            self.finish_unsubscribe(id);
            return Ok(());
        }
        match sub.phase {
            Phase::Waiting | Phase::Stopped => self.finish_unsubscribe(id),
            Phase::Established => self.send_in_dialog(now, id, 0),
            Phase::Subscribing { .. } if sub.dialog.is_some() => self.send_in_dialog(now, id, 0),
            Phase::Subscribing { .. } | Phase::Refreshing { .. } => sub.unsubscribe_wanted = true,
            Phase::Unsubscribing { .. } => {}
        }
        Ok(())
    }

    /// Refreshes now: an in-dialog SUBSCRIBE if the dialog stands, a new SUBSCRIBE if the
    /// subscription waits to retry or was stopped; a fetch is made again. Refused while a
    /// request is in flight (or a fetch waits for its NOTIFY).
    pub fn refresh(&mut self, now: Instant, id: SubscriptionId) -> Result<()> {
        let sub = self
            .subs
            .get_mut(&id)
            .ok_or(Error::UnknownSubscription(id.0))?;
        if sub.fetch {
            if !matches!(sub.phase, Phase::Stopped) {
                return Err(Error::InvalidState("a fetch is in flight"));
            }
            self.send_initial(now, id);
            return Ok(());
        }
        match sub.phase {
            Phase::Established => {
                let expires = sub.expires;
                self.send_in_dialog(now, id, expires);
            }
            Phase::Waiting => self.send_initial(now, id),
            Phase::Stopped => {
                sub.failures = 0;
                sub.expires = self.config.expires;
                self.send_initial(now, id);
            }
            Phase::Subscribing { .. } | Phase::Refreshing { .. } | Phase::Unsubscribing { .. } => {
                return Err(Error::InvalidState("a SUBSCRIBE is in flight"));
            }
        }
        Ok(())
    }

    /// The subscription's state, as last reported.
    pub fn state(&self, id: SubscriptionId) -> Option<&SubscriptionState> {
        self.subs.get(&id).map(|s| &s.state)
    }

    /// Whether a SUBSCRIBE of this subscription, initial or refreshing, awaits its answer. An
    /// [`unsubscribe`](Subscriber::unsubscribe) then waits for the answer, and a
    /// [`subscribe`](Subscriber::subscribe) to the same buddy meanwhile calls it off: whoever
    /// needs a *new* subscription (fresh full state) waits for this to be false.
    pub fn in_flight(&self, id: SubscriptionId) -> bool {
        self.subs.get(&id).is_some_and(|s| {
            matches!(
                s.phase,
                Phase::Subscribing { .. } | Phase::Refreshing { .. }
            )
        })
    }

    /// The subscription watching `buddy` (as given to [`Subscriber::subscribe`]).
    pub fn id_of(&self, buddy: &str) -> Option<SubscriptionId> {
        self.by_buddy.get(buddy).copied()
    }

    /// How many subscriptions the core holds, fetch entries included.
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// Whether the core holds no subscription.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// The next request to send.
    pub fn poll_request(&mut self) -> Option<OutgoingRequest> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<SubscriberEvent> {
        self.events.pop_front()
    }

    /// When [`Subscriber::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.next()
    }

    /// Runs every deadline due at `now`: new SUBSCRIBEs, refreshes, Timer N, expiries.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(id) = self.deadlines.pop_due(now) {
            let Some(sub) = self.subs.get_mut(&id) else {
                continue;
            };
            sub.deadline = None;
            match sub.phase {
                Phase::Established if sub.fetch => {
                    // RFC 6665 §4.1.2.4 holds for a fetch too: no NOTIFY within Timer N.
                    self.fetch_ended(now, id, StopCause::FetchFailed(RetryCause::NoNotify));
                }
                // A polled entry's next fetch.
                Phase::Stopped if sub.fetch => self.send_initial(now, id),
                Phase::Waiting => self.send_initial(now, id),
                Phase::Established if sub.expires_at.is_some_and(|e| e <= now) => {
                    self.restart(now, id, RetryCause::Expired, Duration::ZERO);
                }
                Phase::Established if !sub.notified => {
                    // RFC 6665 §4.1.2.4: no NOTIFY within Timer N: the subscription failed.
                    sub.failures += 1;
                    let wait =
                        retry_wait(&self.config.backoff, self.salt ^ id.0, sub.failures, None);
                    self.restart(now, id, RetryCause::NoNotify, wait);
                }
                Phase::Established => {
                    let expires = sub.expires;
                    self.send_in_dialog(now, id, expires);
                }
                Phase::Unsubscribing { handle: None } => self.finish_unsubscribe(id),
                _ => {}
            }
        }
    }

    /// The final response to the request `handle`. Handles the core no longer waits for (the
    /// subscription moved on) are ignored.
    pub fn handle_response(&mut self, now: Instant, handle: RequestHandle, response: &Message) {
        let Some(code) = response.status().filter(|c| *c >= 200) else {
            return; // provisional: the transaction goes on
        };
        let Some(id) = self.requests.remove(&handle) else {
            return;
        };
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        let phase = std::mem::replace(&mut sub.phase, Phase::Waiting);
        match phase {
            Phase::Subscribing { request, cseq, .. } if (200..300).contains(&code) => {
                let created = match &mut sub.dialog {
                    Some(d) => {
                        d.handle_response(Method::Subscribe, response);
                        Ok(())
                    }
                    None => Dialog::uac(&request, response).map(|mut d| {
                        d.advance_local_seq(cseq);
                        sub.dialog = Some(d);
                    }),
                };
                if let Err(e) = created {
                    // A 2xx we cannot build a dialog from (no To tag, no Contact).
                    self.error(id, e.into());
                    self.failed(now, id, Failure::Status(code));
                    return;
                }
                self.established(now, id, response);
            }
            Phase::Subscribing { .. } => self.initial_failed(now, id, response, code),
            Phase::Refreshing { .. } if (200..300).contains(&code) => {
                if let Some(d) = &mut sub.dialog {
                    d.handle_response(Method::Subscribe, response);
                }
                self.established(now, id, response);
            }
            Phase::Refreshing { .. } => self.refresh_failed(now, id, response, code),
            Phase::Unsubscribing { .. } if (200..300).contains(&code) => {
                // The final NOTIFY follows (RFC 6665 §4.1.2.3); wait Timer N at most.
                sub.phase = Phase::Unsubscribing { handle: None };
                let at = now + self.config.timer_n;
                self.deadlines.set(id, &mut sub.deadline, Some(at));
            }
            Phase::Unsubscribing { .. } => self.finish_unsubscribe(id),
            other => sub.phase = other,
        }
    }

    /// A new CSeq number for sending the request `handle` again with credentials after a 401
    /// or 407 (RFC 3261 §22.2: "as it would normally when sending an updated request"). The
    /// number comes from the sequence the request belongs to, which this call advances: the
    /// dialog's local sequence for a refresh or an unsubscribe (§12.2.1.1), the Call-ID's for
    /// an initial SUBSCRIBE (§8.1.1.5). So the resubmission never shares its number with a
    /// later request of the dialog. Resend under the same handle; `None` when the core no
    /// longer waits for `handle` (do not resend then).
    ///
    /// ```
    /// use presence::subscriber::{Subscriber, SubscriberConfig};
    /// use presence::testkit::{epoch, identity};
    /// let mut core = Subscriber::new(identity("alice"), SubscriberConfig::default());
    /// core.subscribe(epoch(), "sip:bob@example.com")?;
    /// let subscribe = core.poll_request().expect("the SUBSCRIBE");
    /// assert_eq!(subscribe.message.cseq()?.seq, 1);
    /// // Challenged: the resubmission is CSeq 2, a second one 3.
    /// assert_eq!(core.next_cseq(subscribe.handle), Some(2));
    /// assert_eq!(core.next_cseq(subscribe.handle), Some(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_cseq(&mut self, handle: RequestHandle) -> Option<u32> {
        let id = self.requests.get(&handle)?;
        let sub = self.subs.get_mut(id)?;
        match &mut sub.phase {
            // A NOTIFY created the dialog already: the number is the dialog's.
            Phase::Subscribing { .. } if sub.dialog.is_some() => {
                sub.dialog.as_mut().map(Dialog::next_local_seq)
            }
            Phase::Subscribing { cseq, .. } => {
                *cseq = cseq.wrapping_add(1);
                Some(*cseq)
            }
            Phase::Refreshing { .. } | Phase::Unsubscribing { handle: Some(_) } => {
                sub.dialog.as_mut().map(Dialog::next_local_seq)
            }
            Phase::Waiting | Phase::Established | Phase::Unsubscribing { .. } | Phase::Stopped => {
                None
            }
        }
    }

    /// The request `handle` got no response (transaction timeout or transport error).
    pub fn handle_failure(&mut self, now: Instant, handle: RequestHandle) {
        let Some(id) = self.requests.remove(&handle) else {
            return;
        };
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        match sub.phase {
            Phase::Subscribing { .. } => self.failed(now, id, Failure::NoResponse),
            Phase::Refreshing { .. } => self.refresh_retry(now, id, Failure::NoResponse, None),
            Phase::Unsubscribing { .. } => self.finish_unsubscribe(id),
            _ => {}
        }
    }

    /// An incoming NOTIFY (any other method is answered 405). Returns the response to send in
    /// its server transaction; `Err` only when the request is too broken to answer.
    pub fn handle_request(&mut self, now: Instant, notify: &Message) -> Result<Message> {
        if notify.method() != Some(Method::Notify) {
            return request::response(
                notify,
                405,
                "Method Not Allowed",
                None,
                &[("Allow", "NOTIFY")],
            );
        }
        let contact = self.local.contact_value();
        let reply = |code: u16, reason: &str| {
            request::response(notify, code, reason, None, &[("Contact", &contact)])
        };
        let id = match notify.call_id().ok().and_then(|c| self.by_call_id.get(c)) {
            Some(id) => *id,
            // RFC 6665 §4.1.3: a NOTIFY matching no subscription gets 481.
            None => return reply(481, "Subscription Does Not Exist"),
        };
        match notify.event() {
            Some(Ok(e))
                if e.event_type
                    .eq_ignore_ascii_case(self.config.package.event()) => {}
            _ => return reply(489, "Bad Event"),
        }
        let Some(sub) = self.subs.get_mut(&id) else {
            return reply(481, "Subscription Does Not Exist");
        };
        let checked = match (&mut sub.dialog, &sub.phase) {
            (Some(d), _) => d.check_request(notify),
            (None, Phase::Subscribing { request, cseq, .. }) => {
                // RFC 6665 §4.1.2.4: a NOTIFY may overtake the 2xx; it creates the dialog,
                // whose local sequence goes on from the last SUBSCRIBE sent (§22.2).
                Dialog::from_notify(request, notify).map(|mut d| {
                    d.advance_local_seq(*cseq);
                    sub.dialog = Some(d);
                })
            }
            (None, _) => Err(sip_txn::Error::DialogMismatch),
        };
        match checked {
            Ok(()) => {}
            // Another dialog of a forked SUBSCRIBE: one dialog per buddy is kept.
            Err(sip_txn::Error::DialogMismatch) => {
                return reply(481, "Subscription Does Not Exist");
            }
            Err(sip_txn::Error::CSeqOutOfOrder { .. }) => return reply(500, "CSeq Out Of Order"),
            Err(_) => return reply(400, "Bad Request"),
        }
        // RFC 6665 §8.2.3: Subscription-State is mandatory in NOTIFY.
        let (state, expires, reason, retry_after) = match notify.subscription_state() {
            Some(Ok(s)) => (s.state, s.expires, s.reason, s.retry_after),
            _ => return reply(400, "Bad Subscription-State"),
        };
        let response = reply(200, "OK")?;
        let fetch = sub.fetch;
        if !notify.body().is_empty() && self.config.package != Package::Presence {
            let content_type = notify
                .header_str(HeaderName::ContentType)
                .unwrap_or_default();
            self.events.push_back(SubscriberEvent::Document {
                id,
                buddy: sub.buddy.clone(),
                content_type: content_type.into(),
                body: notify.body_bytes(),
            });
        } else if !notify.body().is_empty() {
            let content_type = notify
                .header_str(HeaderName::ContentType)
                .unwrap_or_default();
            match parse_body(content_type, notify.body()) {
                Ok(presence) => {
                    let seen = Some((presence.status, presence.note.clone()));
                    if sub.last != seen {
                        sub.last = seen;
                        let buddy = sub.buddy.clone();
                        self.events.push_back(SubscriberEvent::Presence {
                            id,
                            buddy,
                            presence,
                        });
                    }
                }
                Err(error) => {
                    let buddy = sub.buddy.clone();
                    self.events
                        .push_back(SubscriberEvent::Error { id, buddy, error });
                }
            }
        } else if !fetch
            && matches!(state, SubState::Active)
            && self.config.package == Package::Presence
        {
            // An active NOTIFY without a body says the notifier tells no state now (RFC 3856
            // §6.6): what it said before no longer stands. Kamailio notifies a watcher whose
            // pres-rules turned to polite-block this way (RFC 5025 §3.2.1).
            self.forget_presence(id);
        }
        if fetch {
            // RFC 6665 §4.4.3: the one NOTIFY of a fetch carries the state and ends it
            // (`terminated;reason=timeout`). Were it `active` or `pending`, the notifier's
            // subscription ends by itself: it was granted at most 0 s.
            let cause = match (state, TerminatedReason::parse(reason)) {
                (
                    SubState::Terminated,
                    r @ (TerminatedReason::Rejected
                    | TerminatedReason::NoResource
                    | TerminatedReason::Invariant),
                ) => StopCause::Terminated(r),
                _ => StopCause::Fetched,
            };
            self.fetch_ended(now, id, cause);
            return Ok(response);
        }
        match state {
            SubState::Terminated => {
                let reason = TerminatedReason::parse(reason);
                self.terminated(now, id, reason, retry_after);
            }
            SubState::Pending => self.notified(now, id, false, expires),
            // An unknown state is read as active (RFC 6665 §8.2.3 allows extensions).
            SubState::Active | SubState::Other(_) => self.notified(now, id, true, expires),
        }
        Ok(response)
    }

    // --- transitions ---

    /// A NOTIFY with `active` or `pending`.
    fn notified(&mut self, now: Instant, id: SubscriptionId, active: bool, expires: Option<u32>) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        if matches!(sub.phase, Phase::Unsubscribing { .. }) {
            return;
        }
        sub.notified = true;
        sub.failures = 0;
        if let Some(e) = expires {
            // RFC 6665 §4.1.3: the expires of an active NOTIFY is authoritative.
            sub.expires_at = Some(now + Duration::from_secs(e.into()));
        }
        let expires_at = sub.expires_at;
        if matches!(sub.phase, Phase::Established) {
            let margin = self.config.refresh_margin;
            let at = expires_at.map(|e| refresh_at(now, e, margin));
            self.deadlines.set(id, &mut sub.deadline, at);
        }
        let state = if active {
            SubscriptionState::Active { expires_at }
        } else {
            // Not authorized (any more): what it said before no longer holds. A body this
            // NOTIFY brought (polite blocking) was reported before this.
            if !matches!(sub.state, SubscriptionState::Pending { .. }) {
                self.forget_presence(id);
            }
            SubscriptionState::Pending { expires_at }
        };
        self.report(id, state);
    }

    /// A 2xx to a SUBSCRIBE: the granted duration, then Timer N or the refresh.
    fn established(&mut self, now: Instant, id: SubscriptionId, response: &Message) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        sub.phase = Phase::Established;
        if sub.fetch {
            // RFC 6665 §4.4.3: the NOTIFY with the state follows; Timer N at most.
            let at = now + self.config.timer_n;
            self.deadlines.set(id, &mut sub.deadline, Some(at));
            return;
        }
        // RFC 6665 §4.1.2.1: the 2xx's Expires is the duration granted (it may be shorter).
        let granted = match response.expires() {
            Some(Ok(e)) => e,
            _ => sub.expires,
        };
        let expires_at = now + Duration::from_secs(granted.max(1).into());
        sub.expires_at = Some(expires_at);
        if sub.unsubscribe_wanted {
            self.send_in_dialog(now, id, 0);
            return;
        }
        let at = if sub.notified {
            refresh_at(now, expires_at, self.config.refresh_margin)
        } else {
            now + self.config.timer_n
        };
        self.deadlines.set(id, &mut sub.deadline, Some(at));
        let state = match &sub.state {
            SubscriptionState::Active { .. } => Some(SubscriptionState::Active {
                expires_at: Some(expires_at),
            }),
            SubscriptionState::Pending { .. } => Some(SubscriptionState::Pending {
                expires_at: Some(expires_at),
            }),
            _ => None,
        };
        if let Some(state) = state {
            self.report(id, state);
        }
    }

    /// A NOTIFY with `terminated` (RFC 6665 §4.1.3).
    fn terminated(
        &mut self,
        now: Instant,
        id: SubscriptionId,
        reason: TerminatedReason,
        retry_after: Option<u32>,
    ) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        if matches!(sub.phase, Phase::Unsubscribing { .. }) || sub.unsubscribe_wanted {
            self.finish_unsubscribe(id);
            return;
        }
        let retry_after = retry_after.map(|s| Duration::from_secs(s.into()));
        let salt = self.salt ^ id.0;
        let backoff = &self.config.backoff;
        let wait = match reason {
            // RFC 6665 §4.1.3: at once, unless the last immediate retry was just now.
            TerminatedReason::Deactivated | TerminatedReason::Timeout
                if retry_after.is_none()
                    && sub
                        .resubscribed_at
                        .is_none_or(|t| now.saturating_duration_since(t) >= backoff.base) =>
            {
                sub.resubscribed_at = Some(now);
                Duration::ZERO
            }
            // RFC 6665 §4.1.3: `noresource` and `rejected` are not retried; nor is
            // `invariant` (RFC 6665 §8.2.3, RFC 6446).
            TerminatedReason::Rejected
            | TerminatedReason::NoResource
            | TerminatedReason::Invariant => {
                self.stop(id, StopCause::Terminated(reason));
                return;
            }
            // `probation`, `giveup`: after retry-after, or a backoff; no reason or an unknown
            // one: "at any time", so after a backoff as well.
            _ => {
                sub.failures += 1;
                retry_wait(backoff, salt, sub.failures, retry_after)
            }
        };
        self.restart(now, id, RetryCause::Terminated(reason), wait);
    }

    /// A non-2xx final response to the initial SUBSCRIBE.
    fn initial_failed(&mut self, now: Instant, id: SubscriptionId, response: &Message, code: u16) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        if sub.fetch {
            let cause = RetryCause::Failed(Failure::Status(code));
            self.fetch_ended(now, id, StopCause::FetchFailed(cause));
            return;
        }
        if sub.unsubscribe_wanted {
            self.finish_unsubscribe(id);
            return;
        }
        if code == 423 {
            // RFC 6665 §4.1.2.1 (as RFC 3261 §10.2.8): ask again with at least Min-Expires.
            if let Some(Ok(min)) = response.min_expires()
                && min > sub.expires
            {
                sub.expires = min;
                self.drop_dialog(id);
                self.send_initial(now, id);
                return;
            }
        }
        if worth_retrying(code) {
            let retry_after = retry_after_of(response);
            self.failed_after(now, id, Failure::Status(code), retry_after);
        } else {
            self.stop(id, StopCause::Refused(code));
        }
    }

    /// A non-2xx final response to a refresh.
    fn refresh_failed(&mut self, now: Instant, id: SubscriptionId, response: &Message, code: u16) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        if sub.unsubscribe_wanted {
            self.finish_unsubscribe(id);
            return;
        }
        if code == 423
            && let Some(Ok(min)) = response.min_expires()
            && min > sub.expires
        {
            sub.expires = min;
            self.send_in_dialog(now, id, min);
            return;
        }
        if refresh_ends_subscription(code) {
            // RFC 6665 §4.1.2.2: the subscription is gone; a new one is tried at once.
            self.restart(
                now,
                id,
                RetryCause::Failed(Failure::Status(code)),
                Duration::ZERO,
            );
            return;
        }
        self.refresh_retry(now, id, Failure::Status(code), retry_after_of(response));
    }

    /// A refresh failed but the subscription may live until it expires: retry the refresh
    /// with backoff, or start over once it has expired.
    fn refresh_retry(
        &mut self,
        now: Instant,
        id: SubscriptionId,
        failure: Failure,
        retry_after: Option<Duration>,
    ) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        if sub.unsubscribe_wanted {
            self.finish_unsubscribe(id);
            return;
        }
        sub.failures += 1;
        let wait = retry_wait(
            &self.config.backoff,
            self.salt ^ id.0,
            sub.failures,
            retry_after,
        );
        sub.phase = Phase::Established;
        let at = match sub.expires_at {
            Some(e) if now + wait >= e => e,
            _ => now + wait,
        };
        self.deadlines.set(id, &mut sub.deadline, Some(at));
        let buddy = sub.buddy.clone();
        self.events.push_back(SubscriberEvent::Error {
            id,
            buddy,
            error: Error::RequestFailed(failure),
        });
    }

    /// The initial SUBSCRIBE failed in a way worth retrying.
    fn failed(&mut self, now: Instant, id: SubscriptionId, failure: Failure) {
        self.failed_after(now, id, failure, None);
    }

    fn failed_after(
        &mut self,
        now: Instant,
        id: SubscriptionId,
        failure: Failure,
        retry_after: Option<Duration>,
    ) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        if sub.fetch {
            let cause = StopCause::FetchFailed(RetryCause::Failed(failure));
            self.fetch_ended(now, id, cause);
            return;
        }
        if sub.unsubscribe_wanted {
            self.finish_unsubscribe(id);
            return;
        }
        sub.failures += 1;
        let wait = retry_wait(
            &self.config.backoff,
            self.salt ^ id.0,
            sub.failures,
            retry_after,
        );
        self.restart(now, id, RetryCause::Failed(failure), wait);
    }

    /// Drops the dialog and schedules a new SUBSCRIBE after `wait` (at once if zero).
    /// What the subscription said is forgotten, unless the new one goes out at once to take
    /// over a dialog the notifier moved or lost (`deactivated`, `timeout`, a refresh's 481).
    fn restart(&mut self, now: Instant, id: SubscriptionId, cause: RetryCause, wait: Duration) {
        self.drop_dialog(id);
        if !wait.is_zero() || cause == RetryCause::Expired {
            self.forget_presence(id);
        }
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        sub.phase = Phase::Waiting;
        let at = now + wait;
        self.report(id, SubscriptionState::Retrying { at, cause });
        if wait.is_zero() {
            self.send_initial(now, id);
        } else if let Some(sub) = self.subs.get_mut(&id) {
            self.deadlines.set(id, &mut sub.deadline, Some(at));
        }
    }

    fn stop(&mut self, id: SubscriptionId, cause: StopCause) {
        self.drop_dialog(id);
        if matches!(cause, StopCause::Terminated(_) | StopCause::Refused(_)) {
            self.forget_presence(id);
        }
        if let Some(sub) = self.subs.get_mut(&id) {
            sub.phase = Phase::Stopped;
            self.deadlines.set(id, &mut sub.deadline, None);
        }
        self.report(id, SubscriptionState::Stopped(cause));
    }

    /// A fetch ended: reported, and a polled entry's next fetch scheduled.
    fn fetch_ended(&mut self, now: Instant, id: SubscriptionId, cause: StopCause) {
        self.stop(id, cause);
        if let Some(sub) = self.subs.get_mut(&id)
            && let Some(every) = sub.every
        {
            self.deadlines.set(id, &mut sub.deadline, Some(now + every));
        }
    }

    fn finish_unsubscribe(&mut self, id: SubscriptionId) {
        self.stop(id, StopCause::Unsubscribed);
        if let Some(sub) = self.subs.remove(&id)
            && self.by_buddy.get(&sub.buddy) == Some(&id)
        {
            // Not when a new subscription to the buddy has taken its place.
            self.by_buddy.remove(&sub.buddy);
        }
    }

    /// Forgets the current dialog, its Call-ID and any request in flight for it.
    fn drop_dialog(&mut self, id: SubscriptionId) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        sub.dialog = None;
        sub.notified = false;
        sub.expires_at = None;
        if let Some(c) = sub.call_id.take() {
            self.by_call_id.remove(&c);
        }
        if let Phase::Subscribing { handle, .. }
        | Phase::Refreshing { handle }
        | Phase::Unsubscribing {
            handle: Some(handle),
        } = sub.phase
        {
            self.requests.remove(&handle);
        }
    }

    fn report(&mut self, id: SubscriptionId, state: SubscriptionState) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        if sub.state == state {
            return;
        }
        sub.state = state.clone();
        self.events.push_back(SubscriberEvent::State {
            id,
            buddy: sub.buddy.clone(),
            state,
        });
    }

    /// The buddy's presence is unknown from now on (see [`SubscriberEvent::Unknown`]).
    fn forget_presence(&mut self, id: SubscriptionId) {
        if let Some(sub) = self.subs.get_mut(&id)
            && !sub.fetch
            && sub.last.take().is_some()
        {
            self.events.push_back(SubscriberEvent::Unknown {
                id,
                buddy: sub.buddy.clone(),
            });
        }
    }

    fn error(&mut self, id: SubscriptionId, error: Error) {
        if let Some(sub) = self.subs.get(&id) {
            self.events.push_back(SubscriberEvent::Error {
                id,
                buddy: sub.buddy.clone(),
                error,
            });
        }
    }

    // --- requests ---

    /// A new SUBSCRIBE outside any dialog: fresh Call-ID and From tag (a new subscription,
    /// RFC 6665 §4.1.2.1).
    fn send_initial(&mut self, now: Instant, id: SubscriptionId) {
        self.drop_dialog(id);
        let built = self.build_initial(id);
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        match built {
            Ok((call_id, message)) => {
                let handle = self.handles.next();
                self.requests.insert(handle, id);
                self.by_call_id.insert(call_id.clone(), id);
                sub.call_id = Some(call_id);
                sub.phase = Phase::Subscribing {
                    handle,
                    request: message.clone(),
                    cseq: INITIAL_CSEQ,
                };
                self.deadlines.set(id, &mut sub.deadline, None);
                self.out.push_back(OutgoingRequest { handle, message });
                if !matches!(sub.state, SubscriptionState::Active { .. }) {
                    self.report(id, SubscriptionState::Subscribing);
                }
            }
            Err(e) => {
                self.error(id, e);
                self.local_failure(now, id);
            }
        }
    }

    fn build_initial(&self, id: SubscriptionId) -> Result<(Box<str>, Message)> {
        let sub = self.subs.get(&id).ok_or(Error::UnknownSubscription(id.0))?;
        let call_id = self.local.new_call_id()?;
        let tag = sip_txn::new_tag()?;
        let expires = if sub.fetch { 0 } else { sub.expires };
        let b = MessageBuilder::request(Method::Subscribe, &sub.buddy)
            .header("Via", &self.local.via()?)?
            .header("Max-Forwards", "70")?
            .header("To", &format!("<{}>", sub.buddy))?
            .header("From", &self.local.header_from(&tag))?
            .header("Call-ID", &call_id)?
            .header("CSeq", &format!("{INITIAL_CSEQ} SUBSCRIBE"))?;
        let message = finish_subscribe(&self.local, &self.config, b, expires)?;
        Ok((call_id.into(), message))
    }

    /// An in-dialog SUBSCRIBE: a refresh, or an unsubscribe when `expires` is 0.
    fn send_in_dialog(&mut self, now: Instant, id: SubscriptionId, expires: u32) {
        let via = self.local.via();
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        let built = match (via, &mut sub.dialog) {
            (Ok(via), Some(d)) => d
                .request(Method::Subscribe, &via)
                .map_err(Error::from)
                .and_then(|b| finish_subscribe(&self.local, &self.config, b, expires)),
            (Err(e), _) => Err(e),
            (Ok(_), None) => Err(Error::InvalidState("no dialog to refresh")),
        };
        match built {
            Ok(message) => {
                if let Phase::Subscribing { handle, .. } = sub.phase {
                    self.requests.remove(&handle);
                }
                let handle = self.handles.next();
                self.requests.insert(handle, id);
                sub.phase = if expires == 0 {
                    Phase::Unsubscribing {
                        handle: Some(handle),
                    }
                } else {
                    Phase::Refreshing { handle }
                };
                self.deadlines.set(id, &mut sub.deadline, None);
                self.out.push_back(OutgoingRequest { handle, message });
            }
            Err(e) => {
                self.error(id, e);
                self.local_failure(now, id);
            }
        }
    }

    /// A request could not be built: retry with backoff (or give up an unsubscribe).
    fn local_failure(&mut self, now: Instant, id: SubscriptionId) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        if sub.fetch {
            self.fetch_ended(now, id, StopCause::FetchFailed(RetryCause::LocalError));
            return;
        }
        if sub.unsubscribe_wanted || matches!(sub.phase, Phase::Unsubscribing { .. }) {
            self.finish_unsubscribe(id);
            return;
        }
        sub.failures += 1;
        let wait = retry_wait(&self.config.backoff, self.salt ^ id.0, sub.failures, None);
        self.restart(
            now,
            id,
            RetryCause::LocalError,
            wait.max(Duration::from_secs(1)),
        );
    }
}

/// When to refresh a subscription expiring at `expires_at`: `margin` before, but not before
/// half its remaining time (RFC 6665 §4.1.2.2 asks only for "before" expiry).
fn refresh_at(now: Instant, expires_at: Instant, margin: Duration) -> Instant {
    let left = expires_at.saturating_duration_since(now);
    expires_at - margin.min(left / 2)
}

/// The end of every SUBSCRIBE: Contact, Event, Accept (RFC 3856 §6.6), Expires.
/// The event package and the peers' message limit (`parse`, else [`Error::MessageTooLarge`])
/// come from `config`.
fn finish_subscribe(
    local: &LocalIdentity,
    config: &SubscriberConfig,
    b: MessageBuilder,
    expires: u32,
) -> Result<Message> {
    let (package, parse) = (config.package, &config.parse);
    let b = b
        .header("Contact", &local.contact_value())?
        .header("Event", package.event())?
        .header("Accept", package.accept())?;
    let b = if package == Package::PresenceList {
        b.header("Supported", crate::eventlist::OPTION_TAG)?
    } else {
        b
    };
    let b = b.header("Expires", &expires.to_string())?;
    let bytes = b.try_build()?;
    if bytes.len() > parse.max_message_size {
        return Err(Error::MessageTooLarge {
            method: "SUBSCRIBE",
            size: bytes.len(),
            limit: parse.max_message_size,
        });
    }
    Ok(Message::parse_with(bytes, parse)?)
}

/// The wait before the next attempt after `failures` consecutive failures: `retry_after` when
/// the server gave one (RFC 3261 §20.33, RFC 6665 §4.1.3), kept between a second (no busy
/// loop on `Retry-After: 0`) and the backoff's longest wait (a buddy is looked for at least
/// that often, whatever a server says); else the backoff's.
fn retry_wait(
    backoff: &Backoff,
    salt: u64,
    failures: u32,
    retry_after: Option<Duration>,
) -> Duration {
    match retry_after {
        Some(r) => r.clamp(
            Duration::from_secs(1),
            backoff.max.max(Duration::from_secs(1)),
        ),
        None => backoff.delay(failures, salt),
    }
}

/// A random number for [`Subscriber::salt`], from the same source as tags; 0 if it fails.
fn random_salt() -> u64 {
    sip_txn::new_tag()
        .ok()
        .and_then(|t| u64::from_str_radix(t.get(..16).unwrap_or(&t), 16).ok())
        .unwrap_or(0)
}

/// A Retry-After header's delay (RFC 3261 §20.33), for 5xx and 480/486/600.
fn retry_after_of(response: &Message) -> Option<Duration> {
    match response.retry_after() {
        Some(Ok(r)) => Some(Duration::from_secs(r.seconds.into())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminated_reasons_parse_case_insensitively() {
        assert_eq!(
            TerminatedReason::parse(Some("DeActivated")),
            TerminatedReason::Deactivated
        );
        assert_eq!(
            TerminatedReason::parse(Some("noresource")),
            TerminatedReason::NoResource
        );
        assert_eq!(
            TerminatedReason::parse(Some("x-new")),
            TerminatedReason::Other(Some("x-new".into()))
        );
        assert_eq!(TerminatedReason::parse(None), TerminatedReason::Other(None));
    }

    #[test]
    fn refresh_codes_of_rfc_6665() {
        for c in [404, 405, 410, 416, 480, 481, 485, 489, 501, 604] {
            assert!(refresh_ends_subscription(c), "{c}");
        }
        for c in [408, 423, 486, 500, 503, 603] {
            assert!(!refresh_ends_subscription(c), "{c}");
        }
    }

    #[test]
    fn only_transient_codes_are_retried() {
        for c in [404, 408, 480, 503, 500, 600] {
            assert!(worth_retrying(c), "{c}");
        }
        for c in [400, 403, 489, 603, 604, 401] {
            assert!(!worth_retrying(c), "{c}");
        }
    }
}
