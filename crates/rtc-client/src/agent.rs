//! The presence agent of one identity: the `presence` crate's subscriber (watching buddies),
//! notifier (answering watchers) and publisher (to a presence server), tied to the buddy and
//! watcher lists and to the events the application sees.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use presence::local::LocalIdentity;
use presence::notifier::{DisableReason, Notifier, NotifierConfig, NotifierEvent};
use presence::publisher::{Publisher, PublisherConfig, PublisherEvent};
use presence::subscriber::{Subscriber, SubscriberConfig, SubscriberEvent, SubscriptionState};
use presence::{
    Failure, LocalPresence, MediaKind, OutgoingRequest, PresenceData, RequestHandle, Status,
    SubscriptionType, WatcherDecision, WatcherState,
};
use sip_parse::Message;
use tracing::debug;

use crate::{Event, Result};

/// Which core sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Core {
    Subscriber,
    Notifier,
    Publisher,
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
    /// Registered yet: PUBLISH waits for the registration.
    registered: bool,
    /// The subscription state last reported per buddy, to report changes only.
    reported: HashMap<Arc<str>, String>,
}

impl Agent {
    pub(crate) fn new(
        profile: String,
        local: LocalIdentity,
        data: &PresenceData,
        shown: LocalPresence,
        now: Instant,
    ) -> Result<Self> {
        let aor = local.aor().to_owned();
        let mut agent = Self {
            profile,
            aor,
            subscriber: Subscriber::new(local.clone(), SubscriberConfig::default()),
            notifier: Notifier::new(local.clone(), NotifierConfig::default()),
            publisher: Publisher::new(local, PublisherConfig::default()),
            publish_refused: false,
            registered: false,
            reported: HashMap::new(),
        };
        agent.notifier.set_presence(now, shown);
        for buddy in data.buddies.iter() {
            agent.watch(now, &buddy.uri, buddy.subscription)?;
        }
        Ok(agent)
    }

    /// Starts watching `uri` if its subscription type asks for NOTIFYs.
    pub(crate) fn watch(&mut self, now: Instant, uri: &str, kind: SubscriptionType) -> Result<()> {
        if matches!(kind, SubscriptionType::Subscribed | SubscriptionType::Poll) {
            self.subscriber.subscribe(now, uri)?;
        }
        Ok(())
    }

    /// Stops watching `uri` (SUBSCRIBE with Expires: 0).
    pub(crate) fn unwatch(&mut self, now: Instant, uri: &str) -> Result<()> {
        if let Some(id) = self.subscriber.id_of(uri) {
            self.subscriber.unsubscribe(now, id)?;
        }
        Ok(())
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
    pub(crate) fn registered(&mut self, now: Instant, data: &PresenceData) {
        let again = self.registered;
        self.registered = true;
        if again {
            for buddy in data.buddies.iter() {
                if let Some(id) = self.subscriber.id_of(&buddy.uri) {
                    // A SUBSCRIBE already in flight answers for itself.
                    let _ = self.subscriber.refresh(now, id);
                }
            }
        }
        let shown = self.notifier.presence().clone();
        self.show(now, shown);
    }

    /// Applies a decision about `uri` to its subscriptions.
    pub(crate) fn decide(&mut self, now: Instant, uri: &str, decision: WatcherDecision) {
        self.notifier.decide(now, uri, decision);
    }

    /// Logging off or disabling presence: final NOTIFYs, unsubscribes, publication removed.
    pub(crate) fn shut(&mut self, now: Instant, data: &PresenceData) {
        self.notifier.disable(now, DisableReason::Deactivated);
        for buddy in data.buddies.iter() {
            let _ = self.unwatch(now, &buddy.uri);
        }
        if self.publisher.etag().is_some() {
            self.publisher.remove(now);
        }
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
        Ok(self.subscriber.handle_request(now, request)?)
    }

    pub(crate) fn handle_response(
        &mut self,
        now: Instant,
        core: Core,
        handle: RequestHandle,
        response: &Message,
    ) {
        match core {
            Core::Subscriber => self.subscriber.handle_response(now, handle, response),
            Core::Notifier => self.notifier.handle_response(now, handle, response),
            Core::Publisher => {
                // RFC 3903 §6: no presence server here (a proxy that relays only, or a peer).
                if matches!(response.status(), Some(405 | 489 | 501)) {
                    self.publish_refused = true;
                }
                self.publisher.handle_response(now, handle, response);
            }
        }
    }

    pub(crate) fn handle_failure(&mut self, now: Instant, core: Core, handle: RequestHandle) {
        match core {
            Core::Subscriber => self.subscriber.handle_failure(now, handle),
            Core::Notifier => self.notifier.handle_failure(now, handle),
            Core::Publisher => self.publisher.handle_failure(now, handle),
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.subscriber.handle_timeout(now);
        self.notifier.handle_timeout(now);
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
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Every request the cores want sent.
    pub(crate) fn poll_requests(&mut self, out: &mut Vec<(Core, OutgoingRequest)>) {
        while let Some(r) = self.subscriber.poll_request() {
            out.push((Core::Subscriber, r));
        }
        while let Some(r) = self.notifier.poll_request() {
            out.push((Core::Notifier, r));
        }
        while let Some(r) = self.publisher.poll_request() {
            if self.publish_refused {
                continue;
            }
            out.push((Core::Publisher, r));
        }
    }

    /// What happened, as application events; watcher offers update `data`.
    pub(crate) fn poll_events(&mut self, events: &mut VecDeque<Event>) {
        while let Some(e) = self.subscriber.poll_event() {
            match e {
                SubscriberEvent::Presence {
                    buddy, presence, ..
                } => events.push_back(Event::Buddy {
                    uri: buddy.to_string(),
                    status: presence.status,
                    note: presence.note.map(String::from),
                }),
                SubscriberEvent::State { buddy, state, .. } => {
                    debug!("subscription to {buddy}: {state:?}");
                    let words = describe(&state);
                    if self.reported.get(&buddy) != Some(&words) {
                        self.reported.insert(buddy.clone(), words.clone());
                        events.push_back(Event::BuddySubscription {
                            uri: buddy.to_string(),
                            state: words,
                        });
                    }
                }
                SubscriberEvent::Error { buddy, error, .. } => {
                    debug!("subscription to {buddy}: {error}");
                }
            }
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
            match e {
                PublisherEvent::Failed {
                    failure: Failure::Status(405 | 489 | 501),
                    ..
                } => self.publish_refused = true,
                e => debug!("publication: {e:?}"),
            }
        }
    }
}

/// What watchers are shown: offline while the user appears offline.
pub(crate) fn shown(data: &PresenceData, appear_offline: bool) -> LocalPresence {
    if appear_offline {
        LocalPresence::new(Status::Offline, None)
    } else {
        data.local.clone()
    }
}

/// A subscription state in words, without its instants.
fn describe(state: &SubscriptionState) -> String {
    match state {
        SubscriptionState::Subscribing => "subscribing".into(),
        SubscriptionState::Pending { .. } => "pending".into(),
        SubscriptionState::Active { .. } => "active".into(),
        SubscriptionState::Retrying { cause, .. } => format!("retrying ({cause:?})"),
        SubscriptionState::Stopped(cause) => format!("stopped ({cause:?})"),
    }
}
