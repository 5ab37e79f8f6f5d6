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
    Package, Subscriber, SubscriberConfig, SubscriberEvent, SubscriptionId, SubscriptionState,
};
use presence::{Error as PresenceError, Status};
use tracing::{debug, warn};

use crate::{Event, Result};

/// One list subscription and what it has told.
#[derive(Debug)]
pub(crate) struct ListWatch {
    pub(crate) core: Subscriber,
    service: String,
    /// The subscription that speaks for the list: one ended for a refresh may still send its
    /// last NOTIFY, whose version belongs to its own count (RFC 4662 §5.2), not this one's.
    current: SubscriptionId,
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
    // Only a list stored on an XCAP server (`engine/server_lists.rs`) is subscribed to.
    #[cfg_attr(not(feature = "xcap"), allow(dead_code))]
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
        let current = core.subscribe(now, service)?;
        Ok(Self {
            core,
            service: service.to_owned(),
            current,
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
    ///
    /// While a SUBSCRIBE is unanswered the new one waits (`refresh` stays set, and the next
    /// call sends it): the server may have read the list before it changed, and ending a
    /// subscription in flight only to subscribe to the same URI would call the end off and
    /// send nothing new.
    pub(crate) fn refresh(&mut self, now: Instant, changed: bool) {
        self.refresh |= changed;
        if !self.refresh {
            return;
        }
        let id = self.core.id_of(&self.service);
        if id.is_some_and(|id| self.core.in_flight(id)) {
            return;
        }
        self.refresh = false;
        if let Some(id) = id {
            let _ = self.core.unsubscribe(now, id);
        }
        match self.core.subscribe(now, &self.service) {
            Ok(id) => {
                // A new subscription counts its versions from scratch (RFC 4662 §5.2): its
                // first full state must not be judged stale against the last one's.
                self.current = id;
                self.state.reset();
            }
            Err(e) => debug!("subscribing to list {} again: {e}", self.service),
        }
    }

    /// What is shown stays within twice what the list state holds (and so within its
    /// bound, whatever a server lists and drops): the resources it no longer holds (reported
    /// removed already) are forgotten once they are as many as those it holds.
    fn forget_removed(&mut self) {
        if self.shown.len() > 2 * self.state.len().max(1024) {
            let state = &self.state;
            self.shown.retain(|uri, _| state.state(uri).is_some());
        }
    }

    /// The core's events, as buddy events.
    pub(crate) fn poll_events(&mut self, events: &mut std::collections::VecDeque<Event>) {
        while let Some(e) = self.core.poll_event() {
            match e {
                SubscriberEvent::Document {
                    id,
                    content_type,
                    body,
                    ..
                } if id == self.current => {
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
                    self.forget_removed();
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
                        Err(e @ PresenceError::ListTooLarge { .. }) => {
                            warn!("list {}: {e}", self.service);
                        }
                        Err(e) => debug!("list {}: {e}", self.service),
                    }
                }
                SubscriberEvent::State {
                    id,
                    state: SubscriptionState::Subscribing,
                    ..
                } if id == self.current => self.state.reset(),
                SubscriberEvent::State {
                    id,
                    state: SubscriptionState::Stopped(_) | SubscriptionState::Retrying { .. },
                    ..
                } if id == self.current && !self.served => self.failed = true,
                e => debug!("list {}: {e:?}", self.service),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use bytes::Bytes;
    use presence::multipart::{Multipart, Part};
    use presence::rlmi::{Instance, InstanceState, Resource, Rlmi};
    use presence::testkit::{NotifierPeer, epoch, identity};

    use super::*;

    const LIST: &str = "sip:alice-buddies@example.com";
    const BOB: &str = "sip:bob@example.com";
    const CAROL: &str = "sip:carol@example.com";

    /// A list watch whose SUBSCRIBE the server accepted, and the server's side of it.
    fn watching() -> (ListWatch, NotifierPeer) {
        let now = epoch();
        let mut list =
            ListWatch::new(now, identity("alice"), LIST, SubscriberConfig::default()).unwrap();
        let sub = list.core.poll_request().unwrap();
        assert_eq!(
            sub.message.header_str(sip_parse::HeaderName::Supported),
            Some("eventlist")
        );
        let peer = NotifierPeer::new(&sub.message, "rls");
        let ok = peer.answer(&sub.message, 200, Some(3600));
        list.core.handle_response(now, sub.handle, &ok);
        (list, peer)
    }

    /// A `multipart/related` list notification: the RLMI document, then a PIDF part per
    /// `(Content-ID, document)`.
    fn list_body(rlmi: &Rlmi, pidfs: Vec<(&str, String)>) -> (String, Bytes) {
        let part = |cid: &str, ct: &str, body: String| Part {
            headers: vec![
                ("Content-ID".into(), format!("<{cid}>")),
                ("Content-Type".into(), ct.into()),
            ],
            body: Bytes::from(body),
        };
        let mut parts = vec![part("r@x", "application/rlmi+xml", rlmi.to_xml())];
        parts.extend(
            pidfs
                .into_iter()
                .map(|(cid, pidf)| part(cid, "application/pidf+xml", pidf)),
        );
        let body = Multipart::new("zz", Some("application/rlmi+xml"), Some("<r@x>"), parts);
        (body.content_type(), body.to_bytes())
    }

    /// A full-state list of `resources` (none with an instance).
    fn full_state(version: u32, resources: impl IntoIterator<Item = String>) -> (String, Bytes) {
        let rlmi = Rlmi {
            uri: LIST.into(),
            version,
            full_state: true,
            resources: resources
                .into_iter()
                .map(|uri| Resource {
                    uri,
                    ..Resource::default()
                })
                .collect(),
            ..Rlmi::default()
        };
        list_body(&rlmi, Vec::new())
    }

    /// An RLMI notification: bob active with an open PIDF, carol pending without state.
    fn notification(version: u32) -> (String, Bytes) {
        let rlmi = Rlmi {
            uri: LIST.into(),
            version,
            full_state: true,
            resources: vec![
                Resource {
                    uri: BOB.into(),
                    instances: vec![Instance {
                        id: "b".into(),
                        state: InstanceState::Active,
                        reason: None,
                        cid: Some("bob@x".into()),
                    }],
                    ..Resource::default()
                },
                Resource {
                    uri: CAROL.into(),
                    ..Resource::default()
                },
            ],
            ..Rlmi::default()
        };
        let pidf = format!(
            r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="{BOB}"><tuple id="t"><status><basic>open</basic></status></tuple></presence>"#
        );
        list_body(&rlmi, vec![("bob@x", pidf)])
    }

    fn buddy_events(list: &mut ListWatch) -> Vec<(String, Status)> {
        let mut events = VecDeque::new();
        list.poll_events(&mut events);
        events
            .into_iter()
            .filter_map(|e| match e {
                Event::Buddy { uri, status, .. } => Some((uri, status)),
                _ => None,
            })
            .collect()
    }

    /// What [`notification`] tells, as buddy events: bob online, carol offline.
    fn assert_bob_online_carol_offline(list: &mut ListWatch) {
        let mut got = buddy_events(list);
        got.sort();
        assert_eq!(
            got,
            vec![
                (BOB.to_owned(), Status::Online),
                (CAROL.to_owned(), Status::Offline)
            ]
        );
    }

    #[test]
    fn each_resource_of_a_list_notification_is_a_buddy_event_once() {
        let (mut list, mut peer) = watching();
        let (ct, body) = notification(0);
        let n = peer.notify("active;expires=3600", Some((&ct, body)));
        assert_eq!(
            list.core.handle_request(epoch(), &n).unwrap().status(),
            Some(200)
        );
        assert_bob_online_carol_offline(&mut list);
        // The same state again says nothing new.
        let (ct, body) = notification(1);
        let n = peer.notify("active;expires=3600", Some((&ct, body)));
        list.core.handle_request(epoch(), &n).unwrap();
        assert!(buddy_events(&mut list).is_empty());
        assert!(!list.failed());
    }

    #[test]
    fn a_list_changed_while_its_subscribe_is_unanswered_is_subscribed_anew_once_answered() {
        let now = epoch();
        let mut list =
            ListWatch::new(now, identity("alice"), LIST, SubscriberConfig::default()).unwrap();
        let sub = list.core.poll_request().unwrap();
        // The list changes on the server before the SUBSCRIBE is answered: nothing yet.
        list.refresh(now, true);
        assert!(list.core.poll_request().is_none());
        list.refresh(now, false);
        assert!(list.core.poll_request().is_none());
        // Answered (perhaps from the old list): the subscription ends and a new one starts.
        let peer = NotifierPeer::new(&sub.message, "rls");
        let ok = peer.answer(&sub.message, 200, Some(3600));
        list.core.handle_response(now, sub.handle, &ok);
        list.refresh(now, false);
        let mut sent = Vec::new();
        while let Some(r) = list.core.poll_request() {
            let m = &r.message;
            let call_id = m.header_str(sip_parse::HeaderName::CallId).unwrap();
            let expires = m.header_str(sip_parse::HeaderName::Expires).unwrap();
            sent.push((call_id.to_owned(), expires.to_owned()));
        }
        let first = sub
            .message
            .header_str(sip_parse::HeaderName::CallId)
            .unwrap();
        assert!(
            matches!(&sent[..], [(c0, e0), (c1, e1)]
                if c0 == first && e0 == "0" && c1 != first && e1 != "0"),
            "{sent:?}"
        );
        // Done: a further call sends nothing.
        list.refresh(now, false);
        assert!(list.core.poll_request().is_none());
    }

    #[test]
    fn a_list_subscribed_anew_reports_every_buddy_of_its_first_full_state() {
        let (mut list, mut peer) = watching();
        // The first subscription read the list before bob and carol were added.
        let (ct, body) = full_state(1, []);
        let n = peer.notify("active;expires=3600", Some((&ct, body)));
        list.core.handle_request(epoch(), &n).unwrap();
        assert!(buddy_events(&mut list).is_empty());
        // The list changed on the server: that subscription ends and a new one starts.
        list.refresh(epoch(), true);
        let unsubscribe = list.core.poll_request().unwrap();
        let sub = list.core.poll_request().unwrap();
        let mut new_peer = NotifierPeer::new(&sub.message, "rls");
        let ok = new_peer.answer(&sub.message, 200, Some(3600));
        list.core.handle_response(epoch(), sub.handle, &ok);
        // The old one's last NOTIFY comes late, numbered in its own count: not the list's.
        let (ct, body) = full_state(2, []);
        let n = peer.notify("terminated;reason=timeout", Some((&ct, body)));
        list.core.handle_request(epoch(), &n).unwrap();
        let ok = peer.answer(&unsubscribe.message, 200, Some(0));
        list.core.handle_response(epoch(), unsubscribe.handle, &ok);
        assert!(buddy_events(&mut list).is_empty());
        // The new one counts from 1 again (as Kamailio does), with both buddies.
        let (ct, body) = notification(1);
        let n = new_peer.notify("active;expires=3600", Some((&ct, body)));
        list.core.handle_request(epoch(), &n).unwrap();
        assert_bob_online_carol_offline(&mut list);
        assert!(!list.failed());
    }

    #[test]
    fn what_is_shown_stays_bounded_however_many_resources_a_server_lists_and_drops() {
        let (mut list, mut peer) = watching();
        for version in 0..15u32 {
            // Full state each time, 400 resources never listed before (6,000 in all).
            let body = full_state(
                version,
                (0..400).map(|i| format!("sip:u{version}-{i}@example.com")),
            );
            let n = peer.notify("active;expires=3600", Some((&body.0, body.1)));
            list.core.handle_request(epoch(), &n).unwrap();
            // Each new resource is reported offline once; the dropped ones were offline.
            assert_eq!(buddy_events(&mut list).len(), 400);
        }
        assert_eq!(list.state.len(), 400);
        assert!(list.shown.len() <= 2 * 1_024 + 400, "{}", list.shown.len());
    }

    #[test]
    fn a_server_that_answers_as_for_one_presentity_does_not_serve_lists() {
        let (mut list, mut peer) = watching();
        let pidf = format!(
            r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="{LIST}"><tuple id="t"><status><basic>closed</basic></status></tuple></presence>"#
        );
        let n = peer.notify(
            "active;expires=3600",
            Some(("application/pidf+xml", Bytes::from(pidf))),
        );
        assert_eq!(
            list.core.handle_request(epoch(), &n).unwrap().status(),
            Some(200)
        );
        buddy_events(&mut list);
        assert!(list.failed());
    }
}
