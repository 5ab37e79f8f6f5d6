//! Watchers who subscribe through the presence server (RFC 3857, RFC 3858): the client
//! subscribes to its own `presence.winfo` there, and each watcher the server holds `pending`
//! (its pres-rules say `confirm`, or nothing yet) is offered to the application, exactly as a
//! watcher that subscribes to the client itself is. The decision goes into the watcher list,
//! whose rules the client writes to the server (`engine/server_rules.rs`); the server then
//! moves the subscription on by itself: pending → active, or terminated.

use std::collections::HashSet;
use std::time::Instant;

use presence::local::LocalIdentity;
use presence::subscriber::{
    Package, Subscriber, SubscriberConfig, SubscriberEvent, SubscriptionState,
};
use presence::winfo::{WatcherInfo, WatcherInfoState, WatcherStatus};
use tracing::debug;

use crate::Result;

/// The `presence.winfo` subscription to our own address, and what it has told.
#[derive(Debug)]
pub(crate) struct ServerWatchers {
    pub(crate) core: Subscriber,
    aor: String,
    state: WatcherInfoState,
    /// The watcher subscriptions (winfo `id`s) already offered.
    offered: HashSet<String>,
    /// Watchers to offer: URI and display name.
    offers: Vec<(String, Option<String>)>,
}

impl ServerWatchers {
    /// Subscribes to `aor`'s watcher information.
    pub(crate) fn new(
        now: Instant,
        local: LocalIdentity,
        aor: &str,
        config: SubscriberConfig,
    ) -> Result<Self> {
        let mut core = Subscriber::new(
            local,
            SubscriberConfig {
                package: Package::WatcherInfo,
                ..config
            },
        );
        core.subscribe(now, aor)?;
        Ok(Self {
            core,
            aor: aor.to_owned(),
            state: WatcherInfoState::default(),
            offered: HashSet::new(),
            offers: Vec::new(),
        })
    }

    /// Ends the subscription (logging off).
    pub(crate) fn stop(&mut self, now: Instant) {
        if let Some(id) = self.core.id_of(&self.aor) {
            let _ = self.core.unsubscribe(now, id);
        }
    }

    /// Reads what the core reported: documents are applied, pending watchers not offered yet
    /// become offers.
    pub(crate) fn poll_events(&mut self) {
        while let Some(e) = self.core.poll_event() {
            match e {
                SubscriberEvent::Document { body, .. } => {
                    let applied = WatcherInfo::parse(&body).and_then(|doc| self.state.apply(doc));
                    if let Err(e) = applied {
                        debug!("watcher information: {e}");
                        continue;
                    }
                    self.collect_offers();
                }
                // RFC 3858 §3: versions start again with each new subscription.
                SubscriberEvent::State {
                    state: SubscriptionState::Subscribing,
                    ..
                } => self.state.reset(),
                e => debug!("watcher information subscription: {e:?}"),
            }
        }
    }

    fn collect_offers(&mut self) {
        for (_, w) in self.state.watchers() {
            if w.status == WatcherStatus::Pending && self.offered.insert(w.id.clone()) {
                self.offers.push((w.uri.clone(), w.display_name.clone()));
            }
        }
    }

    /// The watchers to offer since the last call.
    pub(crate) fn take_offers(&mut self) -> Vec<(String, Option<String>)> {
        std::mem::take(&mut self.offers)
    }
}
