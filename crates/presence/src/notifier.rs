//! Being watched: the client as its own presence agent (RFC 6665 notifier, RFC 3856), serving
//! `presence` subscriptions from watchers and `presence.winfo` subscriptions (RFC 3857) about
//! them.
//!
//! [`Notifier`] is a sans-IO core in the shape of [`Subscriber`](crate::subscriber::Subscriber):
//! incoming SUBSCRIBEs go in through [`Notifier::handle_request`] with a policy callback (the
//! caller asks its [`WatcherList`](crate::WatcherList)) and the response comes back; NOTIFYs come
//! out of [`Notifier::poll_request`], their outcome goes in through
//! [`Notifier::handle_response`] / [`Notifier::handle_failure`]; [`Notifier::poll_event`] says
//! what happened and [`Notifier::poll_timeout`] when to call [`Notifier::handle_timeout`].
//! **After every input or command, drain every `poll_*`.**
//!
//! Rules worth knowing:
//! * Accepted SUBSCRIBEs are answered 200, never 202 (RFC 6665 §8.3.1 deprecates 202); a
//!   watcher waiting for the application's decision gets `pending` NOTIFYs (§4.2.1.1).
//! * One NOTIFY per subscription is in flight at a time; changes meanwhile are coalesced and
//!   the latest state follows once the NOTIFY is answered (presence is state, not a log).
//! * A NOTIFY answered with a non-2xx or not at all removes the subscription (RFC 6665
//!   §4.2.2).
//! * Watcherinfo subscriptions are allowed only from our own address-of-record (the default
//!   policy of RFC 3857 §5.1). The NOTIFY after each SUBSCRIBE (initial or refresh) carries a
//!   **full** document; later ones a **partial** document (RFC 3858 §4.2) with only the
//!   watchers that changed since the last NOTIFY, so a change costs the same whatever the
//!   number of watchers. Versions count up per subscription from 0.
//!
//! ```
//! use presence::notifier::{Notifier, NotifierConfig};
//! use presence::testkit::{WatcherPeer, epoch, identity};
//! use presence::{LocalPresence, Status, WatcherDecision};
//!
//! let now = epoch();
//! let mut core = Notifier::new(identity("alice"), NotifierConfig::default());
//! core.set_presence(now, LocalPresence::new(Status::Online, None));
//! let mut bob = WatcherPeer::new("sip:bob@example.com", "sip:alice@example.com", "b1");
//! let sub = bob.subscribe("presence", None, 600);
//! let ok = core.handle_request(now, &sub, |_uri, _name| WatcherDecision::Allow)?;
//! assert_eq!(ok.status(), Some(200));
//! let notify = core.poll_request().expect("the first NOTIFY");
//! assert_eq!(notify.message.header_str(sip_parse::HeaderName::SubscriptionState),
//!     Some("active;expires=600"));
//! # Ok::<(), presence::Error>(())
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sip_parse::{HeaderName, Message, Method, ParseConfig};
use sip_txn::dialog::{Dialog, DialogId};

use crate::local::LocalIdentity;
use crate::request::{self, Deadlines, Handles};
use crate::winfo::{self, DocState, WatcherEvent, WatcherInfo, WatcherStatus};
use crate::{
    Error, LocalPresence, MediaKind, OutgoingRequest, RequestHandle, Result, Status,
    WatcherDecision,
};

/// The event packages served, for Allow-Events.
const ALLOW_EVENTS: &str = "presence, presence.winfo";

/// What a blocked watcher gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockedMode {
    /// An active subscription whose NOTIFYs always say offline: the watcher cannot tell it is
    /// blocked.
    SeeOffline,
    /// Refused: 403 to a new SUBSCRIBE, `terminated;reason=rejected` to a subscription that
    /// existed (RFC 6665 §4.2.2).
    Reject,
}

/// The `Retry-After` (seconds) of the 503 to a SUBSCRIBE when the notifier is full.
const FULL_RETRY_AFTER: &str = "60";

/// Settings of a [`Notifier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifierConfig {
    /// Shorter non-zero Expires are answered 423 with this Min-Expires (RFC 6665 §4.2.1.1).
    pub min_expires: u32,
    /// Longer Expires are cut down to this.
    pub max_expires: u32,
    /// The duration when a SUBSCRIBE has no Expires (RFC 3856 §6.4: 3600).
    pub default_expires: u32,
    /// What blocked watchers get.
    pub blocked: BlockedMode,
    /// Most subscriptions (presence and watcherinfo) held at once: a new SUBSCRIBE beyond it
    /// is answered 503 with `Retry-After`, before the policy is asked, so a flood of
    /// SUBSCRIBEs cannot grow the core without bound.
    pub max_subscriptions: usize,
    /// The message limits of the peers, the same as our own parser's: no NOTIFY is built
    /// larger than `parse.max_message_size` (default 64 KiB), since a watcher configured like
    /// us would refuse it. A subscription whose next NOTIFY would be larger (a watcherinfo
    /// document of very many watchers) ends. Raise it together with the transport's limit.
    pub parse: ParseConfig,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            blocked: BlockedMode::SeeOffline,
            max_subscriptions: 20_000,
            parse: ParseConfig::default(),
        }
    }
}

/// Names one watcher subscription (one dialog) while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatcherId(u64);

impl WatcherId {
    /// The id's number (also the `id` of the watcher in watcherinfo documents).
    pub fn into_raw(self) -> u64 {
        self.0
    }
}

/// Why every subscription is ended by [`Notifier::disable`] (RFC 6665 §4.2.2 reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisableReason {
    /// `deactivated`: watchers may subscribe again at once (e.g. moving to another device).
    Deactivated,
    /// `noresource`: presence is gone; watchers should not retry.
    NoResource,
}

/// What happened, from [`Notifier::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifierEvent {
    /// A new watcher waits for the application: call [`Notifier::decide`]. Meanwhile its
    /// subscription is `pending`.
    Offered {
        /// The subscription.
        id: WatcherId,
        /// The watcher's URI (From of its SUBSCRIBE).
        watcher: Arc<str>,
        /// Its display name, if it gave one.
        display_name: Option<Box<str>>,
    },
    /// A presence subscription began, changed or ended, in watcherinfo terms (RFC 3857 §5).
    Watcher {
        /// The subscription.
        id: WatcherId,
        /// The watcher's URI.
        watcher: Arc<str>,
        /// Its status now.
        status: WatcherStatus,
        /// What moved it there.
        event: WatcherEvent,
    },
}

/// Which event package a subscription is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Package {
    Presence(MediaKind),
    Winfo,
}

/// What the watcher may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Authorization {
    Pending,
    Allowed,
    SeesOffline,
}

#[derive(Debug)]
struct WatcherSub {
    uri: Arc<str>,
    display_name: Option<Box<str>>,
    package: Package,
    dialog: Dialog,
    authorization: Authorization,
    subscribed_at: Instant,
    expires_at: Instant,
    deadline: Option<Instant>,
    /// The NOTIFY in flight.
    in_flight: Option<RequestHandle>,
    /// The state changed since the NOTIFY in flight was built.
    dirty: bool,
    /// Ending with this reason: the final NOTIFY is (to be) sent, then the entry goes.
    ending: Option<WatcherEvent>,
    /// Whether the final NOTIFY has been sent.
    final_sent: bool,
    /// The next watcherinfo version (RFC 3858 §4.4), for winfo subscriptions.
    winfo_version: u32,
    /// For winfo subscriptions: the next document is full (after a SUBSCRIBE) …
    winfo_full: bool,
    /// … else partial, with the watchers that changed since the last one was built.
    winfo_changes: BTreeMap<WatcherId, winfo::Watcher>,
}

/// The sans-IO core answering watchers (module docs above).
#[derive(Debug)]
pub struct Notifier {
    local: LocalIdentity,
    config: NotifierConfig,
    presence: LocalPresence,
    enabled: bool,
    next_id: u64,
    /// Ordered by id (the order they came in), so NOTIFYs to many go out in a fixed order.
    subs: BTreeMap<WatcherId, WatcherSub>,
    by_dialog: HashMap<DialogId, WatcherId>,
    /// Presence subscriptions by watcher URI, for [`Notifier::decide`].
    by_uri: HashMap<Arc<str>, BTreeSet<WatcherId>>,
    /// The watcherinfo subscriptions, told of every presence subscription change.
    winfo_subs: BTreeSet<WatcherId>,
    requests: HashMap<RequestHandle, WatcherId>,
    handles: Handles,
    deadlines: Deadlines<WatcherId>,
    out: VecDeque<OutgoingRequest>,
    events: VecDeque<NotifierEvent>,
}

impl Notifier {
    /// An enabled notifier with no watchers, showing [`Status::Offline`] until
    /// [`Notifier::set_presence`].
    pub fn new(local: LocalIdentity, config: NotifierConfig) -> Self {
        Self {
            local,
            config,
            presence: LocalPresence::default(),
            enabled: true,
            next_id: 0,
            subs: BTreeMap::new(),
            by_dialog: HashMap::new(),
            by_uri: HashMap::new(),
            winfo_subs: BTreeSet::new(),
            requests: HashMap::new(),
            handles: Handles::default(),
            deadlines: Deadlines::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Our presence now; every allowed watcher is NOTIFYed when it changes.
    pub fn set_presence(&mut self, now: Instant, presence: LocalPresence) {
        if presence == self.presence {
            return;
        }
        self.presence = presence;
        let ids: Vec<WatcherId> = self
            .subs
            .iter()
            .filter(|(_, s)| {
                s.authorization == Authorization::Allowed
                    && matches!(s.package, Package::Presence(_))
                    && s.ending.is_none()
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.notify(now, id);
        }
    }

    /// Our presence as last set.
    pub fn presence(&self) -> &LocalPresence {
        &self.presence
    }

    /// Applies the application's (or the policy's) decision to every presence subscription
    /// from `watcher` (its URI as reported): allowed watchers get our presence, blocked ones
    /// per [`BlockedMode`], rejected ones a final `terminated;reason=rejected`.
    pub fn decide(&mut self, now: Instant, watcher: &str, decision: WatcherDecision) {
        let ids: Vec<WatcherId> = self
            .by_uri
            .get(watcher)
            .into_iter()
            .flatten()
            .copied()
            .filter(|id| self.subs.get(id).is_some_and(|s| s.ending.is_none()))
            .collect();
        for id in ids {
            let authorization = match (decision, self.config.blocked) {
                (WatcherDecision::Allow, _) => Authorization::Allowed,
                (WatcherDecision::Block, BlockedMode::SeeOffline) => Authorization::SeesOffline,
                (WatcherDecision::Offer, _) => Authorization::Pending,
                (WatcherDecision::Block, BlockedMode::Reject) | (WatcherDecision::Reject, _) => {
                    self.end(now, id, WatcherEvent::Rejected);
                    continue;
                }
            };
            if let Some(s) = self.subs.get_mut(&id)
                && s.authorization != authorization
            {
                s.authorization = authorization;
                self.notify(now, id);
                self.changed(now, id);
            }
        }
    }

    /// Ends every subscription with a final NOTIFY (`terminated` with `reason`) and refuses new
    /// ones (480) until [`Notifier::enable`].
    pub fn disable(&mut self, now: Instant, reason: DisableReason) {
        self.enabled = false;
        let event = match reason {
            DisableReason::Deactivated => WatcherEvent::Deactivated,
            DisableReason::NoResource => WatcherEvent::Noresource,
        };
        let ids: Vec<WatcherId> = self.subs.keys().copied().collect();
        for id in ids {
            self.end(now, id, event);
        }
    }

    /// Accepts SUBSCRIBEs again.
    pub fn enable(&mut self) {
        self.enabled = true;
    }

    /// The watchers (their URIs as reported) with a presence subscription, for an application
    /// that re-applies its policy to all of them, e.g. after importing a watcher list.
    pub fn watchers(&self) -> impl Iterator<Item = &str> + '_ {
        self.by_uri.keys().map(|uri| &**uri)
    }

    /// How many subscriptions (presence and watcherinfo) are open or ending.
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// The next NOTIFY to send.
    pub fn poll_request(&mut self) -> Option<OutgoingRequest> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<NotifierEvent> {
        self.events.pop_front()
    }

    /// When [`Notifier::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.next()
    }

    /// Ends the subscriptions that expired by `now` (`terminated;reason=timeout`, RFC 6665
    /// §4.2.2).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(id) = self.deadlines.pop_due(now) {
            if let Some(s) = self.subs.get_mut(&id) {
                s.deadline = None;
                self.end(now, id, WatcherEvent::Timeout);
            }
        }
    }

    /// The final response to the NOTIFY `handle`.
    pub fn handle_response(&mut self, now: Instant, handle: RequestHandle, response: &Message) {
        if response.status().is_none_or(|c| c < 200) {
            return;
        }
        if response.status().is_some_and(|c| (200..300).contains(&c)) {
            self.notify_done(now, handle);
        } else {
            self.handle_failure(now, handle);
        }
    }

    /// A new CSeq number for sending the NOTIFY `handle` again with credentials after a 401
    /// or 407 (RFC 3261 §22.2), from its dialog's local sequence (§12.2.1.1), which this call
    /// advances: no later NOTIFY of the dialog reuses it. Resend under the same handle;
    /// `None` when the core no longer waits for `handle` (do not resend then).
    pub fn next_cseq(&mut self, handle: RequestHandle) -> Option<u32> {
        let id = self.requests.get(&handle)?;
        let s = self.subs.get_mut(id)?;
        (s.in_flight == Some(handle)).then(|| s.dialog.next_local_seq())
    }

    /// The NOTIFY `handle` failed: no response, or a non-2xx. The subscription is removed
    /// (RFC 6665 §4.2.2).
    pub fn handle_failure(&mut self, now: Instant, handle: RequestHandle) {
        let Some(id) = self.requests.remove(&handle) else {
            return;
        };
        let Some(s) = self.subs.get_mut(&id) else {
            return;
        };
        s.in_flight = None;
        let event = s.ending.unwrap_or(WatcherEvent::Deactivated);
        s.ending = Some(event);
        self.remove(now, id);
    }

    /// An incoming SUBSCRIBE: new (ask `policy` about the watcher's URI and display name),
    /// refresh, or unsubscribe. Returns the response to send; `Err` only when the request is
    /// too broken to answer.
    pub fn handle_request(
        &mut self,
        now: Instant,
        subscribe: &Message,
        policy: impl FnOnce(&str, Option<&str>) -> WatcherDecision,
    ) -> Result<Message> {
        let reply = |code: u16, reason: &str, extra: &[(&str, &str)]| {
            request::response(subscribe, code, reason, None, extra)
        };
        if subscribe.method() != Some(Method::Subscribe) {
            return reply(405, "Method Not Allowed", &[("Allow", "SUBSCRIBE")]);
        }
        // RFC 6665 §8.2.1 / §4.2.1: an unknown or missing event package is 489.
        let package = match subscribe.event() {
            Some(Ok(e)) if e.event_type.eq_ignore_ascii_case("presence") => "presence",
            Some(Ok(e)) if e.event_type.eq_ignore_ascii_case("presence.winfo") => "winfo",
            _ => return reply(489, "Bad Event", &[("Allow-Events", ALLOW_EVENTS)]),
        };
        let expires = match subscribe.expires() {
            None => self.config.default_expires,
            Some(Ok(e)) => e,
            Some(Err(_)) => return reply(400, "Bad Expires", &[]),
        };
        if expires != 0 && expires < self.config.min_expires {
            // RFC 6665 §4.2.1.1 (RFC 3261 §10.3): too brief, say the minimum.
            let min = self.config.min_expires.to_string();
            return reply(423, "Interval Too Brief", &[("Min-Expires", &min)]);
        }
        let expires = expires.min(self.config.max_expires);
        if subscribe.to_header()?.tag().is_some() {
            return self.refresh(now, subscribe, expires);
        }
        if !self.enabled {
            return reply(480, "Temporarily Unavailable", &[]);
        }
        if self.subs.len() >= self.config.max_subscriptions {
            // Overloaded (RFC 3261 §21.5.4): come back later.
            return reply(
                503,
                "Service Unavailable",
                &[("Retry-After", FULL_RETRY_AFTER)],
            );
        }
        let accept: Vec<&str> = subscribe
            .headers_named(HeaderName::Accept)
            .filter_map(|h| std::str::from_utf8(h.value).ok())
            .collect();
        let (package, authorization) = if package == "winfo" {
            let accepts = accept.is_empty()
                || accept.iter().flat_map(|a| a.split(',')).any(|t| {
                    t.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .eq_ignore_ascii_case(winfo::CONTENT_TYPE)
                });
            if !accepts {
                return reply(406, "Not Acceptable", &[("Accept", winfo::CONTENT_TYPE)]);
            }
            if !self.local.is_aor(subscribe.from_header()?.uri_str()) {
                return reply(403, "Forbidden", &[]);
            }
            (Package::Winfo, Authorization::Allowed)
        } else {
            let Some(kind) = MediaKind::from_accept(accept.iter().copied()) else {
                let types = "application/pidf+xml, application/xpidf+xml";
                return reply(406, "Not Acceptable", &[("Accept", types)]);
            };
            let from = subscribe.from_header()?;
            let name = from.display_name();
            let authorization = match (policy(from.uri_str(), name.as_deref()), self.config.blocked)
            {
                (WatcherDecision::Allow, _) => Authorization::Allowed,
                (WatcherDecision::Offer, _) => Authorization::Pending,
                (WatcherDecision::Block, BlockedMode::SeeOffline) => Authorization::SeesOffline,
                (WatcherDecision::Block, BlockedMode::Reject) | (WatcherDecision::Reject, _) => {
                    return reply(403, "Forbidden", &[]);
                }
            };
            (Package::Presence(kind), authorization)
        };
        let tag = sip_txn::new_tag()?;
        let dialog = Dialog::uas(subscribe, &tag)?;
        let response = request::response(
            subscribe,
            200,
            "OK",
            Some(&tag),
            &[
                ("Contact", &self.local.contact_value()),
                ("Expires", &expires.to_string()),
            ],
        )?;
        let from = subscribe.from_header()?;
        self.next_id += 1;
        let id = WatcherId(self.next_id);
        self.by_dialog.insert(dialog.id().clone(), id);
        let uri: Arc<str> = from.uri_str().into();
        let display_name = from.display_name().map(|n| n.into());
        match package {
            Package::Winfo => {
                self.winfo_subs.insert(id);
            }
            Package::Presence(_) => {
                self.by_uri.entry(uri.clone()).or_default().insert(id);
            }
        }
        self.subs.insert(
            id,
            WatcherSub {
                uri: uri.clone(),
                display_name: display_name.clone(),
                package,
                dialog,
                authorization,
                subscribed_at: now,
                expires_at: now,
                deadline: None,
                in_flight: None,
                dirty: false,
                ending: None,
                final_sent: false,
                winfo_version: 0,
                winfo_full: false,
                winfo_changes: BTreeMap::new(),
            },
        );
        if authorization == Authorization::Pending {
            self.events.push_back(NotifierEvent::Offered {
                id,
                watcher: uri,
                display_name,
            });
        }
        self.start(now, id, expires);
        if package != Package::Winfo {
            self.changed(now, id);
        }
        Ok(response)
    }

    /// An in-dialog SUBSCRIBE: refresh, or unsubscribe with Expires: 0 (RFC 6665 §4.2.1.2).
    fn refresh(&mut self, now: Instant, subscribe: &Message, expires: u32) -> Result<Message> {
        let reply = |code: u16, reason: &str| request::response(subscribe, code, reason, None, &[]);
        let Some(id) = DialogId::of_incoming_request(subscribe)
            .ok()
            .and_then(|d| self.by_dialog.get(&d).copied())
        else {
            return reply(481, "Subscription Does Not Exist");
        };
        let Some(s) = self.subs.get_mut(&id) else {
            return reply(481, "Subscription Does Not Exist");
        };
        match s.dialog.check_request(subscribe) {
            Ok(()) => {}
            Err(sip_txn::Error::CSeqOutOfOrder { .. }) => return reply(500, "CSeq Out Of Order"),
            Err(_) => return reply(481, "Subscription Does Not Exist"),
        }
        if s.ending.is_some() {
            return reply(481, "Subscription Does Not Exist");
        }
        let response = request::response(
            subscribe,
            200,
            "OK",
            None,
            &[
                ("Contact", &self.local.contact_value()),
                ("Expires", &expires.to_string()),
            ],
        )?;
        self.start(now, id, expires);
        Ok(response)
    }

    /// Sets the expiry and sends the NOTIFY owed after a SUBSCRIBE (RFC 6665 §4.2.1.2); with
    /// Expires 0 that NOTIFY is the final one (`timeout`).
    fn start(&mut self, now: Instant, id: WatcherId, expires: u32) {
        let Some(s) = self.subs.get_mut(&id) else {
            return;
        };
        if expires == 0 {
            self.end(now, id, WatcherEvent::Timeout);
            return;
        }
        s.expires_at = now + Duration::from_secs(expires.into());
        if s.package == Package::Winfo {
            // Full state after every SUBSCRIBE, initial or refresh.
            s.winfo_full = true;
            s.winfo_changes.clear();
        }
        let at = Some(s.expires_at);
        self.deadlines.set(id, &mut s.deadline, at);
        self.notify(now, id);
    }

    /// Ends a subscription: the final NOTIFY (`terminated;reason=…`), then it is removed.
    fn end(&mut self, now: Instant, id: WatcherId, event: WatcherEvent) {
        let Some(s) = self.subs.get_mut(&id) else {
            return;
        };
        if s.ending.is_some() {
            return;
        }
        s.ending = Some(event);
        self.deadlines.set(id, &mut s.deadline, None);
        self.notify(now, id);
        self.changed(now, id);
    }

    /// Sends the subscription's current state now, or after the NOTIFY in flight.
    fn notify(&mut self, now: Instant, id: WatcherId) {
        let Some(s) = self.subs.get_mut(&id) else {
            return;
        };
        if s.final_sent {
            return;
        }
        if s.in_flight.is_some() {
            s.dirty = true;
            return;
        }
        s.dirty = false;
        let built = self.build_notify(now, id);
        let Some(s) = self.subs.get_mut(&id) else {
            return;
        };
        match built {
            Ok(message) => {
                let handle = self.handles.next();
                s.in_flight = Some(handle);
                s.final_sent = s.ending.is_some();
                self.requests.insert(handle, id);
                self.out.push_back(OutgoingRequest { handle, message });
            }
            // A NOTIFY larger than the message limit, or a failing random source: drop the
            // subscription rather than leave the watcher with a state we cannot send.
            Err(e) => {
                tracing::warn!("NOTIFY to {}: {e}; the subscription ends", s.uri);
                s.ending.get_or_insert(WatcherEvent::Deactivated);
                self.remove(now, id);
            }
        }
    }

    fn build_notify(&mut self, now: Instant, id: WatcherId) -> Result<Message> {
        let via = self.local.via()?;
        let contact = self.local.contact_value();
        let body = self.body_of(now, id);
        let s = self
            .subs
            .get_mut(&id)
            .ok_or(Error::UnknownSubscription(id.0))?;
        let left = s.expires_at.saturating_duration_since(now).as_secs();
        let state = match (s.ending, s.authorization) {
            (Some(event), _) => format!("terminated;reason={}", event.as_str()),
            (None, Authorization::Pending) => format!("pending;expires={left}"),
            (None, _) => format!("active;expires={left}"),
        };
        let event = match s.package {
            Package::Presence(_) => "presence",
            Package::Winfo => "presence.winfo",
        };
        let mut b = s
            .dialog
            .request(Method::Notify, &via)?
            .header("Contact", &contact)?
            .header("Event", event)?
            .header("Subscription-State", &state)?;
        if let Some((content_type, body)) = body {
            b = b.body(content_type, body)?;
        }
        // Bounded as the watcher's parser is bounded: what we could not read, we do not send.
        Ok(Message::parse_with(b.try_build()?, &self.config.parse)?)
    }

    /// The body of the next NOTIFY: our presence (or offline for blocked watchers) in the
    /// format the watcher accepts, none while pending or after a rejection, or a watcherinfo
    /// document (full or partial).
    fn body_of(&mut self, now: Instant, id: WatcherId) -> Option<(&'static str, bytes::Bytes)> {
        let s = self.subs.get_mut(&id)?;
        if s.package == Package::Winfo {
            let version = s.winfo_version;
            s.winfo_version = version.wrapping_add(1);
            let full = std::mem::replace(&mut s.winfo_full, false);
            let changes = std::mem::take(&mut s.winfo_changes);
            let doc = if full {
                self.watcherinfo(now, version)
            } else {
                WatcherInfo {
                    version,
                    state: DocState::Partial,
                    lists: vec![self.watcher_list(changes.into_values().collect())],
                }
            };
            return Some((winfo::CONTENT_TYPE, doc.to_xml().into()));
        }
        let aor = self.local.aor();
        match (s.package, s.authorization, s.ending) {
            (Package::Winfo, ..)
            | (_, _, Some(WatcherEvent::Rejected))
            | (_, Authorization::Pending, _) => None,
            (Package::Presence(kind), Authorization::Allowed, _) => {
                Some(self.presence.to_body(aor, kind))
            }
            (Package::Presence(kind), Authorization::SeesOffline, _) => {
                Some(LocalPresence::new(Status::Offline, None).to_body(aor, kind))
            }
        }
    }

    /// The full watcherinfo document: every presence subscription (RFC 3858 §3), in the
    /// order they came in.
    fn watcherinfo(&self, now: Instant, version: u32) -> WatcherInfo {
        let watchers = self
            .subs
            .iter()
            .filter(|(_, s)| matches!(s.package, Package::Presence(_)))
            .map(|(id, s)| winfo_entry(now, *id, s))
            .collect();
        WatcherInfo {
            version,
            state: DocState::Full,
            lists: vec![self.watcher_list(watchers)],
        }
    }

    /// The one watcher list we serve: our presence.
    fn watcher_list(&self, watchers: Vec<winfo::Watcher>) -> winfo::WatcherList {
        winfo::WatcherList {
            resource: self.local.aor().to_owned(),
            package: "presence".to_owned(),
            watchers,
        }
    }

    /// A NOTIFY was answered 2xx: remove after the final one, or send what changed meanwhile.
    fn notify_done(&mut self, now: Instant, handle: RequestHandle) {
        let Some(id) = self.requests.remove(&handle) else {
            return;
        };
        let Some(s) = self.subs.get_mut(&id) else {
            return;
        };
        s.in_flight = None;
        if s.final_sent {
            self.remove(now, id);
        } else if s.dirty || s.ending.is_some() {
            self.notify(now, id);
        }
    }

    fn remove(&mut self, now: Instant, id: WatcherId) {
        let Some(mut s) = self.subs.remove(&id) else {
            return;
        };
        self.deadlines.set(id, &mut s.deadline, None);
        self.by_dialog.remove(s.dialog.id());
        self.winfo_subs.remove(&id);
        if let Some(ids) = self.by_uri.get_mut(&s.uri) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_uri.remove(&s.uri);
            }
        }
        if let Some(h) = s.in_flight {
            self.requests.remove(&h);
        }
        if let Package::Presence(_) = s.package
            && !s.final_sent
        {
            // Removed without a final NOTIFY (it failed): say so once.
            let event = *s.ending.get_or_insert(WatcherEvent::Deactivated);
            let entry = winfo_entry(now, id, &s);
            self.events.push_back(NotifierEvent::Watcher {
                id,
                watcher: s.uri,
                status: WatcherStatus::Terminated,
                event,
            });
            self.winfo_changed(now, id, entry);
        }
    }

    /// A presence subscription changed: tell the application and the watcherinfo subscribers.
    fn changed(&mut self, now: Instant, id: WatcherId) {
        let Some(s) = self.subs.get(&id) else {
            return;
        };
        if s.package == Package::Winfo {
            return;
        }
        let (status, event) = winfo_status(s);
        let entry = winfo_entry(now, id, s);
        self.events.push_back(NotifierEvent::Watcher {
            id,
            watcher: s.uri.clone(),
            status,
            event,
        });
        self.winfo_changed(now, id, entry);
    }

    /// Tells every watcherinfo subscriber (not every subscription: this runs on each change)
    /// that presence subscription `changed` is now `entry`.
    fn winfo_changed(&mut self, now: Instant, changed: WatcherId, entry: winfo::Watcher) {
        if self.winfo_subs.is_empty() {
            return;
        }
        let presence_subs = self.subs.len().saturating_sub(self.winfo_subs.len());
        let ids: Vec<WatcherId> = self.winfo_subs.iter().copied().collect();
        for id in ids {
            let Some(s) = self.subs.get_mut(&id) else {
                continue;
            };
            if s.ending.is_some() {
                continue;
            }
            if !s.winfo_full {
                s.winfo_changes.insert(changed, entry.clone());
                // More changes than watchers (ended ones pile up while a NOTIFY is out): full
                // state is smaller, and keeps this bounded.
                if s.winfo_changes.len() > presence_subs.max(1) {
                    s.winfo_full = true;
                    s.winfo_changes.clear();
                }
            }
            self.notify(now, id);
        }
    }
}

/// How watcherinfo describes presence subscription `id`.
fn winfo_entry(now: Instant, id: WatcherId, s: &WatcherSub) -> winfo::Watcher {
    let (status, event) = winfo_status(s);
    winfo::Watcher {
        id: id.0.to_string(),
        uri: s.uri.to_string(),
        status,
        event,
        display_name: s.display_name.as_deref().map(str::to_owned),
        lang: None,
        expiration: Some(secs_u32(s.expires_at.saturating_duration_since(now))),
        duration_subscribed: Some(secs_u32(now.saturating_duration_since(s.subscribed_at))),
    }
}

fn winfo_status(s: &WatcherSub) -> (WatcherStatus, WatcherEvent) {
    match (s.ending, s.authorization) {
        (Some(event), _) => (WatcherStatus::Terminated, event),
        (None, Authorization::Pending) => (WatcherStatus::Pending, WatcherEvent::Subscribe),
        (None, _) => (WatcherStatus::Active, WatcherEvent::Approved),
    }
}

fn secs_u32(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}
