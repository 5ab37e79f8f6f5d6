//! The buddy list watched with one subscription (RFC 4662): the client keeps the list on the
//! presence server as a `resource-lists` document with an `rls-services` entry
//! (`engine/server_lists.rs`) and subscribes once, with `Supported: eventlist`, to the
//! service's URI; the server's NOTIFYs (`multipart/related`, an RLMI document and one PIDF
//! part per resource) become one [`Event::Buddy`] per buddy whose state changed.
//!
//! When the server does not serve the list (the SUBSCRIBE refused, or answered as if the URI
//! were one presentity: a NOTIFY that is not `multipart/related`), the watch reports itself
//! [`failed`](ListWatch::failed) and the agent subscribes to each buddy instead.

use std::collections::HashMap;
use std::time::Instant;

use presence::eventlist::{ListNotify, ListState, ResourceState};
use presence::local::LocalIdentity;
use presence::subscriber::{
    Package, Subscriber, SubscriberConfig, SubscriberEvent, SubscriptionState,
};
use presence::{Error as PresenceError, Status};
use tracing::debug;

use crate::{Event, Result};

/// One list subscription and what it has told.
#[derive(Debug)]
pub(crate) struct ListWatch {
    pub(crate) core: Subscriber,
    service: String,
    state: ListState,
    /// What was last reported per buddy, to report changes only.
    shown: HashMap<Box<str>, (Status, Option<Box<str>>)>,
    /// A list notification arrived: the server serves the list.
    served: bool,
    failed: bool,
    /// A notification was missed: the subscription is refreshed for full state.
    refresh: bool,
}

impl ListWatch {
    /// Subscribes to the list service `service`.
    pub(crate) fn new(
        now: Instant,
        local: LocalIdentity,
        service: &str,
        config: SubscriberConfig,
    ) -> Result<Self> {
        let mut core = Subscriber::new(
            local,
            SubscriberConfig {
                package: Package::PresenceList,
                ..config
            },
        );
        core.subscribe(now, service)?;
        Ok(Self {
            core,
            service: service.to_owned(),
            state: ListState::default(),
            shown: HashMap::new(),
            served: false,
            failed: false,
            refresh: false,
        })
    }

    /// Whether the server does not serve the list: watch each buddy instead.
    pub(crate) fn failed(&self) -> bool {
        self.failed
    }

    /// Ends the subscription.
    pub(crate) fn stop(&mut self, now: Instant) {
        if let Some(id) = self.core.id_of(&self.service) {
            let _ = self.core.unsubscribe(now, id);
        }
    }

    /// Subscribes anew, which brings full state (RFC 4662 §5.3): when a notification was
    /// missed, or (`changed`) when the list on the server changed. A refresh of the same
    /// subscription would not do: a server need not send full state then, nor notify
    /// resources that have no state yet (Kamailio does neither).
    pub(crate) fn refresh(&mut self, now: Instant, changed: bool) {
        if !(std::mem::take(&mut self.refresh) || changed) {
            return;
        }
        if let Some(id) = self.core.id_of(&self.service) {
            let _ = self.core.unsubscribe(now, id);
        }
        if let Err(e) = self.core.subscribe(now, &self.service) {
            debug!("subscribing to list {} again: {e}", self.service);
        }
    }

    /// The core's events, as buddy events.
    pub(crate) fn poll_events(&mut self, events: &mut std::collections::VecDeque<Event>) {
        while let Some(e) = self.core.poll_event() {
            match e {
                SubscriberEvent::Document {
                    content_type, body, ..
                } => {
                    let is_list = content_type
                        .split(';')
                        .next()
                        .is_some_and(|t| t.trim().eq_ignore_ascii_case("multipart/related"));
                    if !is_list {
                        debug!(
                            "list {}: not served as a list ({content_type})",
                            self.service
                        );
                        self.failed = !self.served;
                        continue;
                    }
                    self.served = true;
                    match ListNotify::parse(&content_type, body).and_then(|n| self.state.apply(&n))
                    {
                        Ok(update) => {
                            for r in update.resources {
                                let shown = match (&r.presence, &r.state) {
                                    (Some(p), _) => (p.status, p.note.clone()),
                                    (None, ResourceState::Active) => continue,
                                    (None, _) => (Status::Offline, None),
                                };
                                if self.shown.get(r.uri.as_str()) == Some(&shown) {
                                    continue;
                                }
                                self.shown.insert(r.uri.as_str().into(), shown.clone());
                                events.push_back(Event::Buddy {
                                    uri: r.uri,
                                    status: shown.0,
                                    note: shown.1.map(String::from),
                                });
                            }
                        }
                        Err(PresenceError::ListOutOfOrder { .. }) => self.refresh = true,
                        Err(e) => debug!("list {}: {e}", self.service),
                    }
                }
                SubscriberEvent::State {
                    state: SubscriptionState::Subscribing,
                    ..
                } => self.state.reset(),
                SubscriberEvent::State {
                    state: SubscriptionState::Stopped(_) | SubscriptionState::Retrying { .. },
                    ..
                } if !self.served => self.failed = true,
                e => debug!("list {}: {e:?}", self.service),
            }
        }
    }
}
