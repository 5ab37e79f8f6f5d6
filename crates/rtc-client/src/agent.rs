//! The presence agent of one identity: the `presence` crate's subscriber (watching buddies),
//! notifier (answering watchers) and publisher (to a presence server), tied to the buddy and
//! watcher lists and to the events the application sees.
//!
//! A buddy is watched as its subscription type says (`RTC_BUDDY_SUBSCRIPTION_TYPE`):
//! `Subscribed`, a standing subscription; `Poll`, a one-shot fetch (SUBSCRIBE with Expires: 0,
//! RFC 6665 §4.4.3) when added or loaded and again [`Agent::poll_interval`] after each fetch
//! ends, never a standing subscription; `AlwaysOnline` / `AlwaysOffline`, never subscribed, reported once
//! (when added or loaded) as online / offline.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use presence::local::LocalIdentity;
use presence::notifier::{DisableReason, Notifier, NotifierConfig, NotifierEvent};
use presence::publisher::{Publisher, PublisherConfig, PublisherEvent};
use presence::subscriber::{
    Package, RetryCause, StopCause, Subscriber, SubscriberConfig, SubscriberEvent, SubscriptionId,
    SubscriptionState, TerminatedReason,
};
use presence::{
    Backoff, Failure, LocalPresence, MediaKind, OutgoingRequest, PresenceData, RequestHandle,
    Status, SubscriptionType, WatcherDecision, WatcherState,
};
use sip_parse::Message;
use tracing::debug;

use crate::{Event, Result};

/// How often `Poll` buddies are fetched by default. RTC clients poll every few minutes; each
/// poll costs a SUBSCRIBE and a NOTIFY per buddy, so this is no substitute for subscribing.
pub(crate) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(300);

/// Which of the presence cores (RFC 6665 subscriber and notifier, RFC 3903 publisher) sent a
/// request: not to be confused with sip-txn's transaction `Core`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PresenceRole {
    Subscriber,
    Notifier,
    Publisher,
    /// The `presence.winfo` subscription to our own address at the server.
    WatcherInfo,
    /// The subscription to our buddy list at the server (RFC 4662).
    List,
}

/// The cores of one identity.
#[derive(Debug)]
pub(crate) struct Agent {
    /// The profile whose identity this is.
    pub(crate) profile: String,
    aor: String,
    subscriber: Subscriber,
    notifier: Notifier,
    publisher: Publisher,
    /// The server does not take PUBLISH (501, 405 or 489): we are our own presence agent only.
    publish_refused: bool,
    /// What the application heard of the publication.
    publication: crate::publication::Publication,
    /// Registered yet: PUBLISH waits for the registration.
    registered: bool,
    /// The subscription state last reported per subscription, to report changes only. Keyed
    /// by subscription, not by buddy: a buddy removed and added back has an old subscription
    /// still ending and a new one starting, whose states must not mask each other.
    reported: HashMap<SubscriptionId, String>,
    /// How often `Poll` buddies are fetched again after the fetch when added or loaded
    /// ([`DEFAULT_POLL_INTERVAL`]; at least a second).
    pub(crate) poll_interval: Duration,
    /// `Poll` buddies (the subscriber core schedules their fetches).
    polled: HashSet<Arc<str>>,
    /// `AlwaysOnline` / `AlwaysOffline` buddies, already reported.
    fixed: HashSet<Arc<str>>,
    /// Events of the agent's own (the fixed buddies), passed on before the cores' events.
    events: VecDeque<Event>,
    /// Why the request just reported failed, when the transport said (a refused connection,
    /// an untrusted certificate): the words of the state change it causes name it.
    failure_cause: Option<sip_transport::Cause>,
    /// Our identity, for the watcher information subscription.
    local: LocalIdentity,
    /// Watchers through the presence server, once [`Agent::watch_watchers`] started it.
    server_watchers: Option<crate::watcher_info::ServerWatchers>,
    subscriber_config: SubscriberConfig,
    /// Subscribed buddies are watched through one list subscription, not one each: those
    /// buddies, kept for the fallback (see `buddy_list`).
    listed: Option<HashSet<Arc<str>>>,
    list: Option<crate::buddy_list::ListWatch>,
}

impl Agent {
    #[allow(
        clippy::too_many_arguments,
        reason = "each comes from a different owner (profile, store, config, clock)"
    )]
    pub(crate) fn new(
        profile: String,
        local: LocalIdentity,
        data: &PresenceData,
        shown: LocalPresence,
        timing: &AgentTiming,
        limits: sip_parse::ParseConfig,
        now: Instant,
        list_mode: bool,
    ) -> Result<Self> {
        let aor = local.aor().to_owned();
        let subscriber_config = SubscriberConfig {
            backoff: timing.subscription_backoff,
            parse: limits,
            ..SubscriberConfig::default()
        };
        let mut agent = Self {
            profile,
            aor,
            subscriber: Subscriber::new(local.clone(), subscriber_config.clone()),
            // Our NOTIFYs stay within what our own parser (and a watcher like us) reads.
            notifier: Notifier::new(
                local.clone(),
                NotifierConfig {
                    parse: limits,
                    ..NotifierConfig::default()
                },
            ),
            // Our PUBLISHes too: the limit is configured once for building and parsing.
            publisher: Publisher::new(
                local.clone(),
                PublisherConfig {
                    parse: limits,
                    ..PublisherConfig::default()
                },
            ),
            publish_refused: false,
            publication: Default::default(),
            registered: false,
            reported: HashMap::new(),
            poll_interval: timing.poll_interval,
            polled: HashSet::new(),
            fixed: HashSet::new(),
            events: VecDeque::new(),
            failure_cause: None,
            local,
            server_watchers: None,
            subscriber_config,
            listed: list_mode.then(HashSet::new),
            list: None,
        };
        agent.notifier.set_presence(now, shown);
        for buddy in data.buddies.iter() {
            // One buddy that cannot be watched (a stored URI too long for a SUBSCRIBE) is
            // reported and left unwatched; the others are watched all the same.
            if let Err(e) = agent.watch(now, &buddy.uri, buddy.subscription) {
                agent.events.push_back(Event::BuddySubscription {
                    uri: buddy.uri.to_string(),
                    state: format!("stopped ({e}), not retried"),
                    cause: None,
                });
            }
        }
        Ok(agent)
    }

    /// Starts watching `uri` as its subscription type says (module docs). Watching a buddy
    /// already watched changes nothing.
    /// A URI too long for a SUBSCRIBE within the message limits is refused
    /// ([`check_buddy_uri`]) rather than retried for ever, whether it comes from `add_buddy`,
    /// the store or an import.
    pub(crate) fn watch(&mut self, now: Instant, uri: &str, kind: SubscriptionType) -> Result<()> {
        if matches!(kind, SubscriptionType::Subscribed | SubscriptionType::Poll) {
            check_buddy_uri(uri, &self.subscriber_config.parse)?;
        }
        match kind {
            SubscriptionType::Subscribed => match &mut self.listed {
                Some(listed) => {
                    listed.insert(uri.into());
                }
                None => {
                    self.subscriber.subscribe(now, uri)?;
                }
            },
            SubscriptionType::Poll if !self.polled.contains(uri) => {
                self.subscriber.poll(now, uri, self.poll_interval)?;
                self.polled.insert(uri.into());
            }
            SubscriptionType::Poll => {}
            SubscriptionType::AlwaysOnline | SubscriptionType::AlwaysOffline => {
                if self.fixed.insert(uri.into()) {
                    let status = match kind {
                        SubscriptionType::AlwaysOnline => Status::Online,
                        _ => Status::Offline,
                    };
                    self.events.push_back(Event::Buddy {
                        uri: uri.to_owned(),
                        status,
                        note: None,
                    });
                }
            }
        }
        Ok(())
    }

    /// Stops watching `uri`: SUBSCRIBE with Expires: 0 for a subscription; a poll buddy is no
    /// longer polled (a fetch in flight is forgotten).
    pub(crate) fn unwatch(&mut self, now: Instant, uri: &str) -> Result<()> {
        self.fixed.remove(uri);
        self.polled.remove(uri);
        if let Some(listed) = &mut self.listed {
            listed.remove(uri);
        }
        if let Some(id) = self.subscriber.id_of(uri) {
            self.subscriber.unsubscribe(now, id)?;
        }
        Ok(())
    }

    /// Whether `presence` can be shown: its document, PUBLISHed or NOTIFYed, within the
    /// message limit ([`presence::Error::MessageTooLarge`] if not).
    pub(crate) fn check(&mut self, presence: &LocalPresence) -> Result<()> {
        let (content_type, body) = presence.to_body(&self.aor, MediaKind::Pidf);
        Ok(self.publisher.check(content_type, body)?)
    }

    /// What watchers see from now on; published too once registered.
    pub(crate) fn show(&mut self, now: Instant, presence: LocalPresence) {
        self.notifier.set_presence(now, presence.clone());
        if self.registered && !self.publish_refused {
            let (content_type, body) = presence.to_body(&self.aor, MediaKind::Pidf);
            self.publisher.publish(now, content_type, body);
        }
    }

    /// The registration completed: publish what watchers see. Registered again after losing
    /// the registration (a broken connection, a restarted server), refresh every subscription
    /// and the publication at once: a server that forgot them answers 481 or 412 and they are
    /// made afresh (RFC 6665 §4.1.2.2, RFC 3903 §6), instead of waiting for their refresh.
    /// Poll buddies are fetched as soon as the registration stands, whatever a fetch made
    /// before it found, and so are subscriptions that failed before it and wait to retry.
    pub(crate) fn registered(&mut self, now: Instant, data: &PresenceData) {
        let again = std::mem::replace(&mut self.registered, true);
        for buddy in data.buddies.iter() {
            match buddy.subscription {
                SubscriptionType::Subscribed => {
                    let Some(id) = self.subscriber.id_of(&buddy.uri) else {
                        continue;
                    };
                    // The first time, only those that failed before we were registered and
                    // wait for their backoff.
                    let waiting = matches!(
                        self.subscriber.state(id),
                        Some(SubscriptionState::Retrying { .. })
                    );
                    if again || waiting {
                        // A SUBSCRIBE already in flight answers for itself.
                        let _ = self.subscriber.refresh(now, id);
                    }
                }
                // A fetch still out answers for itself (`fetch` then sends nothing); the
                // core's schedule goes on from the fetch's end.
                SubscriptionType::Poll => {
                    let _ = self.subscriber.fetch(now, &buddy.uri);
                }
                _ => {}
            }
        }
        let shown = self.notifier.presence().clone();
        self.show(now, shown);
    }

    /// Subscribes to our own `presence.winfo` at the server (RFC 3857), to be offered the
    /// watchers who subscribe through it (see `watcher_info`).
    pub(crate) fn watch_watchers(&mut self, now: Instant) -> Result<()> {
        if self.server_watchers.is_none() {
            self.server_watchers = Some(crate::watcher_info::ServerWatchers::new(
                now,
                self.local.clone(),
                &self.aor,
                self.subscriber_config.clone(),
            )?);
        }
        Ok(())
    }

    /// The buddy list is on the server as `service`: subscribe to it (RFC 4662).
    #[cfg(feature = "xcap")]
    pub(crate) fn watch_list(&mut self, now: Instant, service: &str) -> Result<()> {
        if self.listed.is_some() && self.list.is_none() {
            self.list = Some(crate::buddy_list::ListWatch::new(
                now,
                self.local.clone(),
                service,
                self.subscriber_config.clone(),
            )?);
        }
        Ok(())
    }

    /// Refreshes the list subscription when it missed a notification, or (`changed`) when
    /// the list on the server changed.
    pub(crate) fn refresh_list(&mut self, now: Instant, changed: bool) {
        if let Some(l) = &mut self.list {
            l.refresh(now, changed);
        }
    }

    /// Whether the list is watched (or being subscribed to).
    #[cfg(feature = "xcap")]
    pub(crate) fn watches_list(&self) -> bool {
        self.list.is_some()
    }

    /// Whether the list is not served (or could not be stored): [`Agent::fall_back`] then.
    pub(crate) fn list_failed(&self) -> bool {
        self.list.as_ref().is_some_and(|l| l.failed())
    }

    /// Watches each buddy of the list with a subscription of its own.
    pub(crate) fn fall_back(&mut self, now: Instant) {
        if let Some(mut list) = self.list.take() {
            list.stop(now);
        }
        for uri in self.listed.take().unwrap_or_default() {
            if let Err(e) = self.subscriber.subscribe(now, &uri) {
                debug!("subscribing to {uri}: {e}");
            }
        }
    }

    /// Watchers the server holds pending, not offered yet: URI and display name.
    pub(crate) fn take_server_offers(&mut self) -> Vec<(String, Option<String>)> {
        self.server_watchers
            .as_mut()
            .map(|w| w.take_offers())
            .unwrap_or_default()
    }

    /// Applies a decision about `uri` to its subscriptions.
    pub(crate) fn decide(&mut self, now: Instant, uri: &str, decision: WatcherDecision) {
        self.notifier.decide(now, uri, decision);
    }

    /// The watchers subscribed to our presence now.
    pub(crate) fn watchers(&self) -> Vec<String> {
        self.notifier.watchers().map(str::to_owned).collect()
    }

    /// Logging off or disabling presence: final NOTIFYs, unsubscribes, publication removed.
    pub(crate) fn shut(&mut self, now: Instant, data: &PresenceData) {
        self.notifier.disable(now, DisableReason::Deactivated);
        if let Some(w) = &mut self.server_watchers {
            w.stop(now);
        }
        if let Some(l) = &mut self.list {
            l.stop(now);
        }
        for buddy in data.buddies.iter() {
            let _ = self.unwatch(now, &buddy.uri);
        }
        // Also when the first PUBLISH is still out: its publication is removed once it stands.
        self.publisher.remove(now);
    }

    /// Whether a subscription of ours is still held, e.g. ending after [`shut`](Self::shut):
    /// its unsubscribe unanswered or the notifier's final NOTIFY not come yet.
    pub(crate) fn unsubscribing(&self) -> bool {
        !self.subscriber.is_empty()
            || self.list.as_ref().is_some_and(|l| !l.core.is_empty())
            || self
                .server_watchers
                .as_ref()
                .is_some_and(|w| !w.core.is_empty())
    }

    /// An incoming SUBSCRIBE; `data` decides about new watchers.
    pub(crate) fn subscribe_request(
        &mut self,
        now: Instant,
        request: &Message,
        data: &mut PresenceData,
    ) -> Result<Message> {
        Ok(self.notifier.handle_request(now, request, |uri, name| {
            data.watchers
                .admit(uri, name.unwrap_or_default())
                .unwrap_or(WatcherDecision::Reject)
        })?)
    }

    /// An incoming NOTIFY for one of our subscriptions.
    pub(crate) fn notify_request(&mut self, now: Instant, request: &Message) -> Result<Message> {
        let winfo = request.event().and_then(|e| e.ok()).is_some_and(|e| {
            e.event_type
                .eq_ignore_ascii_case(Package::WatcherInfo.event())
        });
        if winfo && let Some(w) = &mut self.server_watchers {
            return Ok(w.core.handle_request(now, request)?);
        }
        if let Some(l) = &mut self.list {
            let r = l.core.handle_request(now, request)?;
            if r.status() != Some(481) {
                return Ok(r);
            }
        }
        Ok(self.subscriber.handle_request(now, request)?)
    }

    pub(crate) fn handle_response(
        &mut self,
        now: Instant,
        core: PresenceRole,
        handle: RequestHandle,
        response: &Message,
    ) {
        match core {
            PresenceRole::Subscriber => self.subscriber.handle_response(now, handle, response),
            PresenceRole::Notifier => self.notifier.handle_response(now, handle, response),
            PresenceRole::WatcherInfo => {
                if let Some(w) = &mut self.server_watchers {
                    w.core.handle_response(now, handle, response);
                }
            }
            PresenceRole::List => {
                if let Some(l) = &mut self.list {
                    l.core.handle_response(now, handle, response);
                }
            }
            PresenceRole::Publisher => {
                // RFC 3903 §6: no presence server here (a proxy that relays only, or a peer).
                if matches!(response.status(), Some(405 | 489 | 501)) {
                    self.publish_refused = true;
                }
                self.publisher.handle_response(now, handle, response);
            }
        }
    }

    /// The CSeq number for resending the request `handle` of `core` with credentials: the
    /// core allocates it from the request's dialog or Call-ID (RFC 3261 §22.2). `None`: the
    /// core no longer waits for it.
    pub(crate) fn next_cseq(&mut self, core: PresenceRole, handle: RequestHandle) -> Option<u32> {
        match core {
            PresenceRole::Subscriber => self.subscriber.next_cseq(handle),
            PresenceRole::Notifier => self.notifier.next_cseq(handle),
            PresenceRole::Publisher => self.publisher.next_cseq(handle),
            PresenceRole::WatcherInfo => self.server_watchers.as_mut()?.core.next_cseq(handle),
            PresenceRole::List => self.list.as_mut()?.core.next_cseq(handle),
        }
    }

    /// Request `handle` of `core` got no response; `cause` is the transport's reason, if it
    /// gave one (a timeout gives none).
    pub(crate) fn handle_failure(
        &mut self,
        now: Instant,
        core: PresenceRole,
        handle: RequestHandle,
        cause: Option<sip_transport::Cause>,
    ) {
        self.failure_cause = cause;
        if core == PresenceRole::Publisher
            && let Some(c) = cause
        {
            debug!("PUBLISH failed: {c}");
        }
        match core {
            PresenceRole::Subscriber => self.subscriber.handle_failure(now, handle),
            PresenceRole::Notifier => self.notifier.handle_failure(now, handle),
            PresenceRole::Publisher => self.publisher.handle_failure(now, handle),
            PresenceRole::WatcherInfo => {
                if let Some(w) = &mut self.server_watchers {
                    w.core.handle_failure(now, handle);
                }
            }
            PresenceRole::List => {
                if let Some(l) = &mut self.list {
                    l.core.handle_failure(now, handle);
                }
            }
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.subscriber.handle_timeout(now);
        self.notifier.handle_timeout(now);
        if let Some(w) = &mut self.server_watchers {
            w.core.handle_timeout(now);
        }
        if let Some(l) = &mut self.list {
            l.core.handle_timeout(now);
        }
        if !self.publish_refused {
            self.publisher.handle_timeout(now);
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let publisher = (!self.publish_refused)
            .then(|| self.publisher.poll_timeout())
            .flatten();
        [
            self.subscriber.poll_timeout(),
            self.notifier.poll_timeout(),
            publisher,
            self.server_watchers
                .as_ref()
                .and_then(|w| w.core.poll_timeout()),
            self.list.as_ref().and_then(|l| l.core.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Every request the cores want sent.
    pub(crate) fn poll_requests(&mut self, out: &mut Vec<(PresenceRole, OutgoingRequest)>) {
        while let Some(r) = self.subscriber.poll_request() {
            out.push((PresenceRole::Subscriber, r));
        }
        while let Some(r) = self.notifier.poll_request() {
            out.push((PresenceRole::Notifier, r));
        }
        if let Some(w) = &mut self.server_watchers {
            while let Some(r) = w.core.poll_request() {
                out.push((PresenceRole::WatcherInfo, r));
            }
        }
        if let Some(l) = &mut self.list {
            while let Some(r) = l.core.poll_request() {
                out.push((PresenceRole::List, r));
            }
        }
        while let Some(r) = self.publisher.poll_request() {
            if self.publish_refused {
                continue;
            }
            out.push((PresenceRole::Publisher, r));
        }
    }

    /// What happened, as application events; watcher offers update `data`.
    pub(crate) fn poll_events(&mut self, events: &mut VecDeque<Event>) {
        events.append(&mut self.events);
        while let Some(e) = self.subscriber.poll_event() {
            self.subscriber_event(e, events);
        }
        if let Some(w) = &mut self.server_watchers {
            w.poll_events();
        }
        if let Some(l) = &mut self.list {
            l.poll_events(events);
        }
        while let Some(e) = self.notifier.poll_event() {
            match e {
                NotifierEvent::Offered {
                    watcher,
                    display_name,
                    ..
                } => events.push_back(Event::Watcher {
                    uri: watcher.to_string(),
                    name: display_name.map(String::from),
                    state: WatcherState::Offering,
                }),
                NotifierEvent::Watcher {
                    watcher, status, ..
                } => debug!("watcher {watcher}: {status:?}"),
            }
        }
        while let Some(e) = self.publisher.poll_event() {
            debug!("publication: {e:?}");
            if let PublisherEvent::Failed {
                failure: Failure::Status(405 | 489 | 501),
                ..
            } = e
            {
                self.publish_refused = true;
            }
            events.extend(self.publication.event(&e, self.failure_cause));
        }
        // It belonged to the failure just handled, whose events are out now.
        self.failure_cause = None;
    }
}

impl Agent {
    /// One event of the subscriber core, as the application sees it. An event of a
    /// subscription that a newer one to the same buddy has replaced (the buddy removed and
    /// added back while the old one was ending) is not the buddy's news: it is dropped.
    fn subscriber_event(&mut self, e: SubscriberEvent, events: &mut VecDeque<Event>) {
        let (SubscriberEvent::Presence { id, buddy, .. }
        | SubscriberEvent::State { id, buddy, .. }
        | SubscriberEvent::Unknown { id, buddy }
        | SubscriberEvent::Document { id, buddy, .. }
        | SubscriberEvent::Error { id, buddy, .. }) = &e;
        let (id, buddy) = (*id, buddy.clone());
        if self
            .subscriber
            .id_of(&buddy)
            .is_some_and(|current| current != id)
        {
            debug!("subscription to {buddy}, replaced: {e:?}");
            if matches!(e, SubscriberEvent::State { .. }) {
                self.reported.remove(&id);
            }
            return;
        }
        match e {
            SubscriberEvent::Presence { presence, .. } => events.push_back(Event::Buddy {
                uri: buddy.to_string(),
                status: presence.status,
                note: presence.note.map(String::from),
            }),
            // RFC 6665 §4.1.3: the subscription ended; what it said no longer holds.
            SubscriberEvent::Unknown { .. } => events.push_back(Event::Buddy {
                uri: buddy.to_string(),
                status: Status::Offline,
                note: None,
            }),
            SubscriberEvent::State { state, .. } => {
                debug!("subscription to {buddy}: {state:?}");
                if state == SubscriptionState::Subscribing && self.polled.contains(&buddy) {
                    // Every poll starts so: only its outcome is worth reporting.
                    return;
                }
                let words = describe(&state, self.failure_cause);
                if state == SubscriptionState::Stopped(StopCause::Unsubscribed) {
                    // The subscription is gone, and its id with it.
                    self.reported.remove(&id);
                } else if self.reported.get(&id) == Some(&words) {
                    return;
                } else {
                    self.reported.insert(id, words.clone());
                }
                let cause = transport_cause(&state, self.failure_cause);
                events.push_back(Event::BuddySubscription {
                    uri: buddy.to_string(),
                    state: words,
                    cause,
                });
            }
            SubscriberEvent::Error { error, .. } => {
                debug!("subscription to {buddy}: {error}");
            }
            // Presence subscriptions bring presence documents only.
            SubscriberEvent::Document { .. } => {}
        }
    }
}

/// Refuses a buddy URI that a subscription within `limits` (our parser's, taken to be the
/// server's too) cannot carry, rather than have it fail and be retried for ever. The URI is
/// on a line of its own in several places: the request line, the To of every response (with
/// the server's tag), the `uri=` of a digest Authorization (RFC 2617 §3.2.2, with the nonce
/// and the rest): [`URI_LINE_ROOM`] bytes are left on such a line for the rest. And it may
/// take at most a quarter of `max_message_size`: a NOTIFY brings it back in From, in the
/// PIDF `entity`, and often in a tuple's contact, beside everything else.
pub(crate) fn check_buddy_uri(uri: &str, limits: &sip_parse::ParseConfig) -> Result<()> {
    let max = limits
        .max_line_length
        .saturating_sub(URI_LINE_ROOM)
        .min(limits.max_message_size / 4);
    if uri.len() > max {
        return Err(crate::Error::BuddyUriTooLong {
            len: uri.len(),
            max,
        });
    }
    Ok(())
}

/// What a line that carries a buddy's URI needs beside it ([`check_buddy_uri`]): a digest
/// Authorization's other fields take some 300 bytes with a long nonce.
const URI_LINE_ROOM: usize = 1024;

/// How often the agent's cores try again: from [`crate::ClientConfig`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct AgentTiming {
    /// How often `Poll` buddies are fetched ([`DEFAULT_POLL_INTERVAL`]).
    pub(crate) poll_interval: Duration,
    /// Waits between attempts to subscribe after failures
    /// ([`presence::subscriber::RETRY_BACKOFF`]).
    pub(crate) subscription_backoff: Backoff,
}

/// What watchers are shown: offline while the user appears offline.
pub(crate) fn shown(data: &PresenceData, appear_offline: bool) -> LocalPresence {
    if appear_offline {
        LocalPresence::new(Status::Offline, None)
    } else {
        data.local.clone()
    }
}

/// A subscription state in words, without its instants. A subscription that will not be
/// tried again, whatever the cause, says `refused` (403, 603, `rejected`: the buddy or the
/// server will not have us watch) or `stopped`.
/// An unanswered request says why when the transport told (`transport`): "SUBSCRIBE
/// unanswered: connection refused".
/// The typed cause of a subscription that is down because its SUBSCRIBE went unanswered: what
/// the transport said, or a timeout.
fn transport_cause(
    state: &SubscriptionState,
    transport: Option<sip_transport::Cause>,
) -> Option<sip_transport::Cause> {
    match state {
        SubscriptionState::Retrying {
            cause: RetryCause::Failed(Failure::NoResponse),
            ..
        }
        | SubscriptionState::Stopped(StopCause::FetchFailed(RetryCause::Failed(
            Failure::NoResponse,
        ))) => Some(transport.unwrap_or(sip_transport::Cause::TimedOut)),
        _ => None,
    }
}

fn describe(state: &SubscriptionState, transport: Option<sip_transport::Cause>) -> String {
    let why = |cause: &RetryCause| match (cause, transport) {
        (RetryCause::Failed(Failure::NoResponse), Some(c)) => format!("{cause}: {c}"),
        _ => cause.to_string(),
    };
    match state {
        SubscriptionState::Subscribing => "subscribing".into(),
        SubscriptionState::Pending { .. } => "pending".into(),
        SubscriptionState::Active { .. } => "active".into(),
        SubscriptionState::Retrying { cause, .. } => format!("retrying later ({})", why(cause)),
        SubscriptionState::Stopped(StopCause::Fetched) => "polled".into(),
        SubscriptionState::Stopped(StopCause::FetchFailed(cause)) => {
            format!("poll failed ({})", why(cause))
        }
        SubscriptionState::Stopped(StopCause::Unsubscribed) => "stopped".into(),
        SubscriptionState::Stopped(StopCause::Refused(code)) => {
            format!("refused ({}), not retried", Failure::Status(*code))
        }
        SubscriptionState::Stopped(StopCause::Terminated(TerminatedReason::Rejected)) => {
            "refused (rejected by the buddy or its server), not retried".into()
        }
        SubscriptionState::Stopped(StopCause::Terminated(reason)) => {
            format!("stopped (ended by the notifier: {reason}), not retried")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use presence::Buddy;
    use presence::testkit::{NotifierPeer, body, respond};
    use sip_parse::{HeaderName, TransportKind};

    const BOB: &str = "sip:bob@example.com";
    const CAROL: &str = "sip:carol@example.com";

    fn data(buddies: &[(&str, SubscriptionType)]) -> PresenceData {
        let mut data = PresenceData::default();
        for (uri, kind) in buddies {
            let mut b = Buddy::new(uri, "").unwrap();
            b.subscription = *kind;
            data.buddies.add(b).unwrap();
        }
        data
    }

    fn agent(now: Instant, buddies: &[(&str, SubscriptionType)]) -> Agent {
        let local = LocalIdentity::new(
            "sip:alice@example.com",
            "sip:alice@192.0.2.1",
            TransportKind::Udp,
            "192.0.2.1:5060",
        )
        .unwrap();
        let data = data(buddies);
        let shown = LocalPresence::new(Status::Online, None);
        let timing = AgentTiming {
            poll_interval: DEFAULT_POLL_INTERVAL,
            subscription_backoff: presence::subscriber::RETRY_BACKOFF,
        };
        let limits = sip_parse::ParseConfig::default();
        Agent::new("p".into(), local, &data, shown, &timing, limits, now, false).unwrap()
    }

    /// The subscriber's requests: (handle, Request-URI, Expires).
    fn subscribes(agent: &mut Agent) -> Vec<(RequestHandle, String, String)> {
        let mut out = Vec::new();
        agent.poll_requests(&mut out);
        out.into_iter()
            .filter(|(core, _)| *core == PresenceRole::Subscriber)
            .map(|(_, r)| {
                let m = &r.message;
                let expires = m.header_str(HeaderName::Expires).unwrap_or_default();
                let uri = m.request_uri().unwrap_or_default();
                (r.handle, uri.to_owned(), expires.to_owned())
            })
            .collect()
    }

    fn events(agent: &mut Agent) -> Vec<Event> {
        let mut events = VecDeque::new();
        agent.poll_events(&mut events);
        events.into()
    }

    #[test]
    fn the_longest_buddy_uri_allowed_is_one_a_subscribe_can_carry() {
        let limits = sip_parse::ParseConfig::default();
        let uri = |len: usize| format!("sip:{}@example.com", "b".repeat(len - 16));
        let max = 16_384 - URI_LINE_ROOM;
        let longest = uri(max);
        assert_eq!(longest.len(), max);
        check_buddy_uri(&longest, &limits).unwrap();
        let mut agent = agent(Instant::now(), &[]);
        agent
            .watch(Instant::now(), &longest, SubscriptionType::Subscribed)
            .unwrap();
        let sent = subscribes(&mut agent);
        assert!(
            matches!(&sent[..], [(_, u, _)] if *u == longest),
            "{} SUBSCRIBEs",
            sent.len()
        );
        // One byte more: refused, with the numbers.
        let e = check_buddy_uri(&uri(max + 1), &limits).unwrap_err();
        assert!(
            matches!(e, crate::Error::BuddyUriTooLong { len, max: m } if len == max + 1 && m == max),
            "{e:?}"
        );
        assert!(e.to_string().contains("too long"), "{e}");
        assert!(e.to_string().contains(&max.to_string()), "{e}");
        // A smaller message limit binds at a quarter of it.
        let small = sip_parse::ParseConfig {
            max_message_size: 4_000,
            ..limits
        };
        check_buddy_uri(&uri(1_000), &small).unwrap();
        assert!(check_buddy_uri(&uri(1_001), &small).is_err());
    }

    #[test]
    fn a_stored_buddy_uri_too_long_is_reported_once_and_the_others_are_watched() {
        let long = format!("sip:{}@example.com", "b".repeat(20_000));
        let t0 = Instant::now();
        let mut agent = agent(
            t0,
            &[
                (&long, SubscriptionType::Subscribed),
                (BOB, SubscriptionType::Subscribed),
            ],
        );
        let sent = subscribes(&mut agent);
        assert!(matches!(&sent[..], [(_, uri, _)] if uri == BOB), "{sent:?}");
        let refused: Vec<String> = events(&mut agent)
            .into_iter()
            .filter_map(|e| match e {
                Event::BuddySubscription { uri, state, .. } if uri == long => Some(state),
                _ => None,
            })
            .collect();
        assert!(
            matches!(&refused[..], [s] if s.contains("too long") && s.ends_with("not retried")),
            "{refused:?}"
        );
        // Nothing is tried again later, nor on an import or add that watches it anew.
        assert!(agent.watch(t0, &long, SubscriptionType::Poll).is_err());
        agent.handle_timeout(t0 + Duration::from_secs(3_600));
        assert!(
            subscribes(&mut agent)
                .iter()
                .all(|(_, uri, _)| *uri != long)
        );
    }

    #[test]
    fn poll_buddies_are_fetched_an_interval_after_each_fetch() {
        let t0 = Instant::now();
        let mut agent = agent(t0, &[(BOB, SubscriptionType::Poll)]);
        let first = subscribes(&mut agent);
        assert!(
            matches!(&first[..], [(_, uri, e)] if uri == BOB && e == "0"),
            "{first:?}"
        );
        // In flight: the transaction's own timeout ends it; no poll is planned meanwhile.
        assert_eq!(agent.poll_timeout(), None);
        let interval = DEFAULT_POLL_INTERVAL;
        // The fetch goes unanswered: reported, and not retried before the next poll.
        let t1 = t0 + Duration::from_secs(32);
        agent.handle_failure(t1, PresenceRole::Subscriber, first[0].0, None);
        assert_eq!(
            events(&mut agent),
            [Event::BuddySubscription {
                uri: BOB.into(),
                state: "poll failed (SUBSCRIBE unanswered)".into(),
                cause: Some(sip_transport::Cause::TimedOut),
            }]
        );
        assert_eq!(agent.poll_timeout(), Some(t1 + interval));
        agent.handle_timeout(t1 + interval - Duration::from_secs(1));
        assert!(subscribes(&mut agent).is_empty());
        agent.handle_timeout(t1 + interval);
        let second = subscribes(&mut agent);
        assert!(
            matches!(&second[..], [(_, uri, e)] if uri == BOB && e == "0"),
            "{second:?}"
        );
        // Watching it again (an import) changes nothing; unwatching ends the polls.
        agent.watch(t1, BOB, SubscriptionType::Poll).unwrap();
        assert!(subscribes(&mut agent).is_empty());
        agent.unwatch(t1 + interval, BOB).unwrap();
        assert!(subscribes(&mut agent).is_empty(), "no subscription to end");
        agent.handle_failure(
            t1 + interval * 2,
            PresenceRole::Subscriber,
            second[0].0,
            None,
        );
        assert_eq!(agent.poll_timeout(), None);
    }

    /// The one SUBSCRIBE the agent sends now, for a standing subscription.
    fn one_subscribe(agent: &mut Agent) -> OutgoingRequest {
        let mut out = Vec::new();
        agent.poll_requests(&mut out);
        out.retain(|(core, _)| *core == PresenceRole::Subscriber);
        match out.pop() {
            Some((_, r)) if out.is_empty() => r,
            other => panic!("{other:?}"),
        }
    }

    /// bob's notifier accepts `sub` and NOTIFYs `state` with `status`.
    fn notified(agent: &mut Agent, now: Instant, sub: &OutgoingRequest, tag: &str) -> NotifierPeer {
        let peer = NotifierPeer::new(&sub.message, tag);
        let ok = peer.answer(&sub.message, 200, Some(3600));
        agent.handle_response(now, PresenceRole::Subscriber, sub.handle, &ok);
        peer
    }

    fn online() -> Option<(&'static str, bytes::Bytes)> {
        Some(body(BOB, Status::Online, None, MediaKind::Pidf))
    }

    fn watching(state: &str) -> Event {
        watching_because(state, None)
    }

    fn watching_because(state: &str, cause: Option<sip_transport::Cause>) -> Event {
        Event::BuddySubscription {
            uri: BOB.into(),
            state: state.into(),
            cause,
        }
    }

    fn buddy(status: Status) -> Event {
        Event::Buddy {
            uri: BOB.into(),
            status,
            note: None,
        }
    }

    #[test]
    fn an_ended_subscription_shows_the_buddy_offline_and_says_why_in_words() {
        let t0 = Instant::now();
        let mut agent = agent(t0, &[(BOB, SubscriptionType::Subscribed)]);
        let sub = one_subscribe(&mut agent);
        let mut peer = notified(&mut agent, t0, &sub, "srv");
        agent
            .notify_request(t0, &peer.notify("active", online()))
            .unwrap();
        assert_eq!(
            events(&mut agent),
            [buddy(Status::Online), watching("active")]
        );
        // Ended with no reason: bob's state is unknown (RFC 6665 §4.1.3), retried later.
        agent
            .notify_request(t0, &peer.notify("terminated", None))
            .unwrap();
        assert_eq!(
            events(&mut agent),
            [
                buddy(Status::Offline),
                watching("retrying later (ended by the notifier: no reason given)")
            ]
        );
        // The retry is refused for good: said in words.
        agent.handle_timeout(agent.poll_timeout().unwrap());
        let sub = one_subscribe(&mut agent);
        assert_eq!(events(&mut agent), [watching("subscribing")]);
        let forbidden = respond(&sub.message, 403, Some("x"), &[]);
        agent.handle_response(t0, PresenceRole::Subscriber, sub.handle, &forbidden);
        assert_eq!(
            events(&mut agent),
            [watching("refused (answered 403 Forbidden), not retried")]
        );
        assert_eq!(agent.poll_timeout(), None);
    }

    #[test]
    fn a_subscribe_the_transport_could_not_send_says_why() {
        let t0 = Instant::now();
        let mut agent = agent(t0, &[(BOB, SubscriptionType::Subscribed)]);
        let sub = one_subscribe(&mut agent);
        events(&mut agent);
        let cause = Some(sip_transport::Cause::TlsUnknownCa);
        agent.handle_failure(t0, PresenceRole::Subscriber, sub.handle, cause);
        assert_eq!(
            events(&mut agent),
            [watching_because(
                "retrying later (SUBSCRIBE unanswered: the server's certificate is from an unknown CA)",
                cause
            )]
        );
        // The cause belonged to that failure only: a later timeout says just "unanswered".
        agent.handle_timeout(agent.poll_timeout().unwrap());
        let again = one_subscribe(&mut agent);
        events(&mut agent);
        agent.handle_failure(t0, PresenceRole::Subscriber, again.handle, None);
        assert_eq!(
            events(&mut agent),
            [watching_because(
                "retrying later (SUBSCRIBE unanswered)",
                Some(sip_transport::Cause::TimedOut)
            )]
        );
    }

    #[test]
    fn a_subscription_that_failed_before_registering_is_retried_once_registered() {
        let t0 = Instant::now();
        let buddies = [(BOB, SubscriptionType::Subscribed)];
        let mut agent = agent(t0, &buddies);
        let sub = one_subscribe(&mut agent);
        let unavailable = respond(&sub.message, 480, Some("x"), &[]);
        agent.handle_response(t0, PresenceRole::Subscriber, sub.handle, &unavailable);
        assert_eq!(
            events(&mut agent),
            [watching(
                "retrying later (SUBSCRIBE answered 480 Temporarily Unavailable)"
            )]
        );
        let t1 = t0 + Duration::from_secs(1);
        assert!(agent.poll_timeout().is_some_and(|at| at > t1));
        agent.registered(t1, &data(&buddies));
        let again = one_subscribe(&mut agent);
        assert_eq!(again.message.request_uri(), Some(BOB));
        // One already standing is left alone the first time.
        let mut other = self::agent(t0, &buddies);
        let sub = one_subscribe(&mut other);
        let _peer = notified(&mut other, t0, &sub, "srv");
        other.registered(t1, &data(&buddies));
        let mut out = Vec::new();
        other.poll_requests(&mut out);
        assert!(
            out.iter()
                .all(|(core, _)| *core != PresenceRole::Subscriber)
        );
    }

    #[test]
    fn the_old_subscriptions_late_end_does_not_mask_the_new_one() {
        let t0 = Instant::now();
        let mut agent = agent(t0, &[(BOB, SubscriptionType::Subscribed)]);
        let sub = one_subscribe(&mut agent);
        let mut old = notified(&mut agent, t0, &sub, "srv");
        agent
            .notify_request(t0, &old.notify("active", online()))
            .unwrap();
        events(&mut agent);
        // Removed and added back before the unsubscribe is answered.
        agent.unwatch(t0, BOB).unwrap();
        let unsubscribe = one_subscribe(&mut agent);
        old.receive(&unsubscribe.message);
        agent.watch(t0, BOB, SubscriptionType::Subscribed).unwrap();
        let sub = one_subscribe(&mut agent);
        let mut new = notified(&mut agent, t0, &sub, "srv2");
        agent
            .notify_request(t0, &new.notify("active", online()))
            .unwrap();
        // The new subscription's `active` is reported although the old one said so last.
        assert_eq!(
            events(&mut agent),
            [buddy(Status::Online), watching("active")]
        );
        // The old one ends late: nothing the application sees.
        let ok = old.answer(&unsubscribe.message, 200, Some(0));
        agent.handle_response(t0, PresenceRole::Subscriber, unsubscribe.handle, &ok);
        let last = old.notify(
            "terminated;reason=timeout",
            Some(body(BOB, Status::Offline, None, MediaKind::Pidf)),
        );
        assert_eq!(agent.notify_request(t0, &last).unwrap().status(), Some(200));
        assert_eq!(events(&mut agent), []);
    }

    #[test]
    fn resubmissions_take_their_cseq_from_the_core_that_sent_the_request() {
        let t0 = Instant::now();
        let mut agent = agent(t0, &[(BOB, SubscriptionType::Subscribed)]);
        agent.registered(t0, &PresenceData::default());
        let mut out = Vec::new();
        agent.poll_requests(&mut out);
        let seq = |core: PresenceRole| out.iter().find(|(c, _)| *c == core).map(|(_, r)| r.handle);
        let subscribe = seq(PresenceRole::Subscriber).expect("the SUBSCRIBE");
        let publish = seq(PresenceRole::Publisher).expect("the PUBLISH");
        assert_eq!(
            agent.next_cseq(PresenceRole::Subscriber, subscribe),
            Some(2)
        );
        assert_eq!(
            agent.next_cseq(PresenceRole::Subscriber, subscribe),
            Some(3)
        );
        assert_eq!(agent.next_cseq(PresenceRole::Publisher, publish), Some(2));
        // The notifier sent nothing under that handle.
        assert_eq!(agent.next_cseq(PresenceRole::Notifier, subscribe), None);
    }

    #[test]
    fn fixed_buddies_are_reported_once_and_never_subscribed() {
        let t0 = Instant::now();
        let mut agent = agent(
            t0,
            &[
                (BOB, SubscriptionType::AlwaysOffline),
                (CAROL, SubscriptionType::AlwaysOnline),
            ],
        );
        let reported = |uri: &str, status| Event::Buddy {
            uri: uri.into(),
            status,
            note: None,
        };
        assert_eq!(
            events(&mut agent),
            [
                reported(BOB, Status::Offline),
                reported(CAROL, Status::Online)
            ]
        );
        assert!(subscribes(&mut agent).is_empty());
        assert_eq!(agent.poll_timeout(), None);
        agent
            .watch(t0, CAROL, SubscriptionType::AlwaysOnline)
            .unwrap();
        assert!(events(&mut agent).is_empty(), "once");
        // Removed and added again: reported again.
        agent.unwatch(t0, CAROL).unwrap();
        agent
            .watch(t0, CAROL, SubscriptionType::AlwaysOnline)
            .unwrap();
        assert_eq!(events(&mut agent), [reported(CAROL, Status::Online)]);
        assert!(subscribes(&mut agent).is_empty());
    }
}
