//! Being watched: every path of the notifier on a simulated clock, the test playing watchers
//! with `testkit::WatcherPeer`.

use std::time::{Duration, Instant};

use presence::WatcherInfoState;
use presence::notifier::{BlockedMode, DisableReason, Notifier, NotifierConfig, NotifierEvent};
use presence::testkit::{WatcherPeer, epoch, identity, resubmitted};
use presence::winfo::{WatcherEvent, WatcherStatus};
use presence::{
    LocalPresence, OfferMode, OutgoingRequest, PrivacyMode, Scope, Status, Watcher,
    WatcherDecision, WatcherInfo, WatcherList, WatcherState, parse_body,
};
use sip_parse::{HeaderName, Message, ParseConfig};

const ALICE: &str = "sip:alice@example.com";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn notifier(blocked: BlockedMode) -> Notifier {
    notifier_with(NotifierConfig {
        blocked,
        ..NotifierConfig::default()
    })
}

fn notifier_with(config: NotifierConfig) -> Notifier {
    let mut n = Notifier::new(identity("alice"), config);
    n.set_presence(epoch(), LocalPresence::new(Status::Online, Some("hi")));
    n
}

fn watcher(name: &str) -> WatcherPeer {
    WatcherPeer::new(&format!("sip:{name}@example.com"), ALICE, name)
}

fn notifies(core: &mut Notifier) -> Vec<OutgoingRequest> {
    std::iter::from_fn(|| core.poll_request()).collect()
}

fn one_notify(core: &mut Notifier) -> OutgoingRequest {
    let mut all = notifies(core);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

fn sub_state(m: &Message) -> &str {
    m.header_str(HeaderName::SubscriptionState)
        .unwrap_or_default()
}

fn status_in(m: &Message) -> Status {
    let ct = m.header_str(HeaderName::ContentType).unwrap_or_default();
    parse_body(ct, m.body()).unwrap().status
}

/// `w` subscribes with `decision`; returns the 200's first NOTIFY after answering it 200.
fn subscribe(
    core: &mut Notifier,
    w: &mut WatcherPeer,
    now: Instant,
    decision: WatcherDecision,
) -> Message {
    let sub = w.subscribe("presence", None, 600);
    let rsp = core.handle_request(now, &sub, |_, _| decision).unwrap();
    assert_eq!(rsp.status(), Some(200));
    w.response(&rsp);
    let n = one_notify(core);
    let ok = w.answer(&n.message, 200);
    core.handle_response(now, n.handle, &ok);
    n.message
}

/// The watcher URIs of a watcherinfo document's first list, in order.
fn watcher_uris(doc: &WatcherInfo) -> Vec<&str> {
    doc.lists[0]
        .watchers
        .iter()
        .map(|w| w.uri.as_str())
        .collect()
}

fn events(core: &mut Notifier) -> Vec<NotifierEvent> {
    std::iter::from_fn(|| core.poll_event()).collect()
}

#[test]
fn allowed_watcher_gets_active_notify_in_the_format_it_accepts() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let mut bob = watcher("bob");
    let sub = bob.subscribe("presence", None, 600);
    let rsp = core
        .handle_request(t0, &sub, |uri, _| {
            assert_eq!(uri, "sip:bob@example.com");
            WatcherDecision::Allow
        })
        .unwrap();
    assert_eq!(rsp.status(), Some(200)); // never 202 (RFC 6665 §8.3.1)
    assert_eq!(rsp.header_str(HeaderName::Expires), Some("600"));
    assert!(rsp.to_header().unwrap().tag().is_some());
    bob.response(&rsp);
    let n = one_notify(&mut core).message;
    bob.answer(&n, 200); // checks the NOTIFY is in the dialog
    assert_eq!(sub_state(&n), "active;expires=600");
    assert_eq!(n.header_str(HeaderName::Event), Some("presence"));
    assert_eq!(
        n.header_str(HeaderName::ContentType),
        Some("application/pidf+xml")
    );
    assert_eq!(status_in(&n), Status::Online);
    // An RTC peer accepting XPIDF only gets XPIDF.
    let mut carol = watcher("carol");
    let sub = carol.subscribe("presence", Some("application/xpidf+xml"), 600);
    core.handle_request(t0, &sub, |_, _| WatcherDecision::Allow)
        .unwrap();
    let n = one_notify(&mut core).message;
    assert_eq!(
        n.header_str(HeaderName::ContentType),
        Some("application/xpidf+xml")
    );
    assert_eq!(status_in(&n), Status::Online);
    let ev = events(&mut core);
    assert!(ev.contains(&NotifierEvent::Watcher {
        id: match &ev[0] {
            NotifierEvent::Watcher { id, .. } => *id,
            other => panic!("{other:?}"),
        },
        watcher: "sip:bob@example.com".into(),
        status: WatcherStatus::Active,
        event: WatcherEvent::Approved,
    }));
}

#[test]
fn offered_watcher_is_pending_until_the_application_decides() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let mut bob = watcher("bob");
    let first = subscribe(&mut core, &mut bob, t0, WatcherDecision::Offer);
    assert_eq!(sub_state(&first), "pending;expires=600");
    assert!(first.body().is_empty());
    assert!(matches!(
        &events(&mut core)[..],
        [NotifierEvent::Offered { watcher, .. }, NotifierEvent::Watcher { status: WatcherStatus::Pending, .. }]
            if &**watcher == "sip:bob@example.com"
    ));
    core.decide(t0 + secs(5), "sip:bob@example.com", WatcherDecision::Allow);
    let n = one_notify(&mut core).message;
    assert_eq!(sub_state(&n), "active;expires=595");
    assert_eq!(status_in(&n), Status::Online);
}

#[test]
fn blocked_watcher_sees_offline() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let mut eve = watcher("eve");
    let n = subscribe(&mut core, &mut eve, t0, WatcherDecision::Block);
    assert_eq!(sub_state(&n), "active;expires=600");
    assert_eq!(status_in(&n), Status::Offline);
    // Our status changes: a blocked watcher is not told.
    core.set_presence(t0, LocalPresence::new(Status::Busy, None));
    assert!(notifies(&mut core).is_empty());
}

#[test]
fn blocked_watcher_is_rejected_when_so_configured() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::Reject);
    let mut eve = watcher("eve");
    let sub = eve.subscribe("presence", None, 600);
    let rsp = core
        .handle_request(t0, &sub, |_, _| WatcherDecision::Block)
        .unwrap();
    assert_eq!(rsp.status(), Some(403));
    assert!(core.is_empty());
    // A watcher allowed first and blocked later gets terminated;reason=rejected.
    let mut bob = watcher("bob");
    subscribe(&mut core, &mut bob, t0, WatcherDecision::Allow);
    core.decide(t0, "sip:bob@example.com", WatcherDecision::Block);
    let n = one_notify(&mut core);
    assert_eq!(sub_state(&n.message), "terminated;reason=rejected");
    assert!(n.message.body().is_empty());
    core.handle_response(t0, n.handle, &bob.answer(&n.message, 200));
    assert!(core.is_empty());
}

#[test]
fn every_allowed_watcher_is_notified_on_status_change() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let mut allowed = [watcher("a1"), watcher("a2"), watcher("a3")];
    for w in &mut allowed {
        subscribe(&mut core, w, t0, WatcherDecision::Allow);
    }
    subscribe(
        &mut core,
        &mut watcher("blocked"),
        t0,
        WatcherDecision::Block,
    );
    subscribe(
        &mut core,
        &mut watcher("offered"),
        t0,
        WatcherDecision::Offer,
    );
    core.set_presence(t0 + secs(1), LocalPresence::new(Status::OnThePhone, None));
    let sent = notifies(&mut core);
    assert_eq!(sent.len(), 3);
    for n in &sent {
        assert_eq!(status_in(&n.message), Status::OnThePhone);
        assert_eq!(sub_state(&n.message), "active;expires=599");
    }
    // Setting the same presence again sends nothing.
    core.set_presence(t0 + secs(2), LocalPresence::new(Status::OnThePhone, None));
    assert!(notifies(&mut core).is_empty());
}

#[test]
fn changes_while_a_notify_is_in_flight_are_coalesced() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let mut bob = watcher("bob");
    subscribe(&mut core, &mut bob, t0, WatcherDecision::Allow);
    core.set_presence(t0, LocalPresence::new(Status::Away, None));
    let first = one_notify(&mut core);
    core.set_presence(t0, LocalPresence::new(Status::Busy, None));
    core.set_presence(t0, LocalPresence::new(Status::OutToLunch, None));
    assert!(
        notifies(&mut core).is_empty(),
        "one NOTIFY in flight at a time"
    );
    core.handle_response(t0, first.handle, &bob.answer(&first.message, 200));
    let latest = one_notify(&mut core).message;
    assert_eq!(status_in(&latest), Status::OutToLunch);
}

#[test]
fn watcher_refresh_extends_the_subscription() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let mut bob = watcher("bob");
    subscribe(&mut core, &mut bob, t0, WatcherDecision::Allow);
    assert_eq!(core.poll_timeout(), Some(t0 + secs(600)));
    let t1 = t0 + secs(300);
    let refresh = bob.subscribe("presence", None, 600);
    let rsp = core
        .handle_request(t1, &refresh, |_, _| panic!("a refresh asks no policy"))
        .unwrap();
    assert_eq!(rsp.status(), Some(200));
    assert_eq!(rsp.header_str(HeaderName::Expires), Some("600"));
    // RFC 6665 §4.2.1.2: a NOTIFY follows every accepted refresh.
    let n = one_notify(&mut core).message;
    assert_eq!(sub_state(&n), "active;expires=600");
    assert_eq!(core.poll_timeout(), Some(t1 + secs(600)));
}

#[test]
fn watcher_expires_gets_terminated_notify() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let mut bob = watcher("bob");
    subscribe(&mut core, &mut bob, t0, WatcherDecision::Allow);
    events(&mut core);
    core.handle_timeout(t0 + secs(599));
    assert!(notifies(&mut core).is_empty());
    core.handle_timeout(t0 + secs(600));
    let n = one_notify(&mut core);
    assert_eq!(sub_state(&n.message), "terminated;reason=timeout");
    assert!(matches!(
        &events(&mut core)[..],
        [NotifierEvent::Watcher {
            status: WatcherStatus::Terminated,
            event: WatcherEvent::Timeout,
            ..
        }]
    ));
    core.handle_response(t0 + secs(600), n.handle, &bob.answer(&n.message, 200));
    assert!(core.is_empty());
    assert_eq!(core.poll_timeout(), None);
    // A refresh of the ended subscription gets 481.
    let late = bob.subscribe("presence", None, 600);
    let rsp = core
        .handle_request(t0 + secs(601), &late, |_, _| WatcherDecision::Allow)
        .unwrap();
    assert_eq!(rsp.status(), Some(481));
}

#[test]
fn unsubscribe_gets_terminated_notify() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let mut bob = watcher("bob");
    subscribe(&mut core, &mut bob, t0, WatcherDecision::Allow);
    let un = bob.subscribe("presence", None, 0);
    let rsp = core
        .handle_request(t0, &un, |_, _| WatcherDecision::Allow)
        .unwrap();
    assert_eq!(rsp.status(), Some(200));
    assert_eq!(rsp.header_str(HeaderName::Expires), Some("0"));
    let n = one_notify(&mut core);
    assert_eq!(sub_state(&n.message), "terminated;reason=timeout");
    core.handle_response(t0, n.handle, &bob.answer(&n.message, 200));
    assert!(core.is_empty());
}

#[test]
fn disabling_sends_a_final_notify_to_every_watcher() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let mut ws = [watcher("a"), watcher("b"), watcher("c")];
    for w in &mut ws {
        subscribe(&mut core, w, t0, WatcherDecision::Allow);
    }
    core.disable(t0, DisableReason::NoResource);
    let finals = notifies(&mut core);
    assert_eq!(finals.len(), 3);
    for n in &finals {
        assert_eq!(sub_state(&n.message), "terminated;reason=noresource");
    }
    // While disabled, new watchers are turned away.
    let sub = watcher("d").subscribe("presence", None, 600);
    let rsp = core
        .handle_request(t0, &sub, |_, _| WatcherDecision::Allow)
        .unwrap();
    assert_eq!(rsp.status(), Some(480));
    // A final NOTIFY that is never answered still removes its subscription.
    for n in finals {
        core.handle_failure(t0 + secs(32), n.handle);
    }
    assert!(core.is_empty());
    core.enable();
    let sub = watcher("d").subscribe("presence", None, 600);
    let rsp = core
        .handle_request(t0, &sub, |_, _| WatcherDecision::Allow)
        .unwrap();
    assert_eq!(rsp.status(), Some(200));
}

#[test]
fn deactivated_disable_reason() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    subscribe(&mut core, &mut watcher("a"), t0, WatcherDecision::Allow);
    core.disable(t0, DisableReason::Deactivated);
    assert_eq!(
        sub_state(&one_notify(&mut core).message),
        "terminated;reason=deactivated"
    );
}

#[test]
fn failed_notify_removes_the_subscription() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let mut bob = watcher("bob");
    subscribe(&mut core, &mut bob, t0, WatcherDecision::Allow);
    events(&mut core);
    core.set_presence(t0, LocalPresence::new(Status::Away, None));
    let n = one_notify(&mut core);
    let rsp = presence::testkit::respond(&n.message, 481, None, &[]);
    core.handle_response(t0, n.handle, &rsp);
    assert!(core.is_empty());
    assert_eq!(core.poll_timeout(), None);
    assert!(matches!(
        &events(&mut core)[..],
        [NotifierEvent::Watcher {
            status: WatcherStatus::Terminated,
            ..
        }]
    ));
}

#[test]
fn winfo_subscription_served() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let mut bob = watcher("bob");
    subscribe(&mut core, &mut bob, t0, WatcherDecision::Allow);
    // Only the presentity itself may watch its watchers (RFC 3857 §5.1).
    let mut stranger = watcher("mallory");
    let sub = stranger.subscribe("presence.winfo", None, 600);
    let rsp = core
        .handle_request(t0, &sub, |_, _| WatcherDecision::Allow)
        .unwrap();
    assert_eq!(rsp.status(), Some(403));
    let mut me = WatcherPeer::new(ALICE, ALICE, "me");
    let sub = me.subscribe("presence.winfo", Some("application/watcherinfo+xml"), 600);
    let rsp = core
        .handle_request(t0, &sub, |_, _| panic!("winfo asks no policy"))
        .unwrap();
    assert_eq!(rsp.status(), Some(200));
    me.response(&rsp);
    // The presence watchers are listed; a watcherinfo subscriber is none of them.
    assert_eq!(core.watchers().collect::<Vec<_>>(), ["sip:bob@example.com"]);
    let n = one_notify(&mut core);
    assert_eq!(
        n.message.header_str(HeaderName::Event),
        Some("presence.winfo")
    );
    let doc = WatcherInfo::parse(n.message.body()).unwrap();
    assert_eq!(doc.version, 0);
    assert_eq!(doc.lists[0].resource, ALICE);
    assert_eq!(doc.lists[0].package, "presence");
    let uris = watcher_uris(&doc);
    assert_eq!(uris, ["sip:bob@example.com"]);
    core.handle_response(t0, n.handle, &me.answer(&n.message, 200));
    // A new watcher waiting for a decision: a partial document, next version, with carol only.
    let sub = watcher("carol").subscribe("presence", None, 600);
    core.handle_request(t0, &sub, |_, _| WatcherDecision::Offer)
        .unwrap();
    let sent = notifies(&mut core);
    assert_eq!(
        sent.len(),
        2,
        "carol's pending NOTIFY and the watcherinfo one"
    );
    let n = sent
        .into_iter()
        .find(|n| n.message.header_str(HeaderName::Event) == Some("presence.winfo"))
        .expect("winfo NOTIFY");
    let doc = WatcherInfo::parse(n.message.body()).unwrap();
    assert_eq!(doc.version, 1);
    assert_eq!(doc.state, presence::winfo::DocState::Partial);
    assert_eq!(doc.lists[0].watchers.len(), 1);
    let carol = &doc.lists[0].watchers[0];
    assert_eq!(carol.uri, "sip:carol@example.com");
    assert_eq!(
        (carol.status, carol.event),
        (WatcherStatus::Pending, WatcherEvent::Subscribe)
    );
    core.handle_response(t0, n.handle, &me.answer(&n.message, 200));
    // Bob unsubscribes: a partial document with bob terminated.
    let un = bob.subscribe("presence", None, 0);
    core.handle_request(t0, &un, |_, _| WatcherDecision::Allow)
        .unwrap();
    let sent = notifies(&mut core);
    let n = sent
        .iter()
        .find(|n| n.message.header_str(HeaderName::Event) == Some("presence.winfo"))
        .expect("winfo NOTIFY");
    let doc = WatcherInfo::parse(n.message.body()).unwrap();
    assert_eq!(
        (doc.version, doc.state),
        (2, presence::winfo::DocState::Partial)
    );
    let gone = &doc.lists[0].watchers[..];
    assert_eq!(gone.len(), 1);
    assert_eq!(
        (gone[0].uri.as_str(), gone[0].status, gone[0].event),
        (
            "sip:bob@example.com",
            WatcherStatus::Terminated,
            WatcherEvent::Timeout
        )
    );
    for n in &sent {
        let answer = if n.message.header_str(HeaderName::Event) == Some("presence.winfo") {
            me.answer(&n.message, 200)
        } else {
            bob.answer(&n.message, 200)
        };
        core.handle_response(t0, n.handle, &answer);
    }
    // A refresh brings full state again: carol only.
    let refresh = me.subscribe("presence.winfo", None, 600);
    let rsp = core
        .handle_request(t0 + secs(10), &refresh, |_, _| {
            panic!("a refresh asks no policy")
        })
        .unwrap();
    assert_eq!(rsp.status(), Some(200));
    let doc = WatcherInfo::parse(one_notify(&mut core).message.body()).unwrap();
    assert_eq!(
        (doc.version, doc.state),
        (3, presence::winfo::DocState::Full)
    );
    let uris = watcher_uris(&doc);
    assert_eq!(uris, ["sip:carol@example.com"]);
}

#[test]
fn bad_subscribes_get_the_right_errors() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let allow = |_: &str, _: Option<&str>| WatcherDecision::Allow;
    let code =
        |core: &mut Notifier, m: &Message| core.handle_request(t0, m, allow).unwrap().status();
    let mut w = watcher("w");
    assert_eq!(
        code(&mut core, &w.subscribe("dialog", None, 600)),
        Some(489)
    );
    let rsp = core
        .handle_request(t0, &w.subscribe("presence", None, 10), allow)
        .unwrap();
    assert_eq!(rsp.status(), Some(423));
    assert_eq!(rsp.header_str(HeaderName::MinExpires), Some("60"));
    assert_eq!(
        code(&mut core, &w.subscribe("presence", Some("text/plain"), 600)),
        Some(406)
    );
    // Too long is cut down, not refused.
    let rsp = core
        .handle_request(t0, &w.subscribe("presence", None, 999_999), allow)
        .unwrap();
    assert_eq!(rsp.header_str(HeaderName::Expires), Some("3600"));
    // A denied watcher is refused whatever the blocked mode, and nothing is kept.
    let rsp = core
        .handle_request(
            t0,
            &watcher("denied").subscribe("presence", None, 600),
            |_, _| WatcherDecision::Reject,
        )
        .unwrap();
    assert_eq!(rsp.status(), Some(403));
    assert!(rsp.to_header().unwrap().tag().is_none());
}

/// The policy is the watcher list's (`WatcherList::admit`, as the facade wires it): each new
/// watcher is decided by its best entry or the modes, and recorded; the application answers
/// an offer in the list and in the core.
#[test]
fn watcher_list_policy_decides_and_records_new_watchers() {
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let mut list = WatcherList::default();
    for (uri, state, scope) in [
        ("sip:example.com", WatcherState::Blocked, Scope::Domain),
        ("sip:boss@example.com", WatcherState::Allowed, Scope::User),
        ("sip:eve@example.com", WatcherState::Denied, Scope::User),
    ] {
        list.add(Watcher::new(uri, state, scope)).unwrap();
    }
    let admit = |core: &mut Notifier, list: &mut WatcherList, uri: &str| {
        let mut peer = WatcherPeer::new(uri, ALICE, uri.split(['@', ':']).nth(1).unwrap());
        let sub = peer.subscribe("presence", None, 600);
        let rsp = core
            .handle_request(t0, &sub, |uri, name| {
                list.admit(uri, name.unwrap_or("")).unwrap()
            })
            .unwrap();
        peer.response(&rsp);
        let sent = notifies(core);
        for n in &sent {
            core.handle_response(t0, n.handle, &peer.answer(&n.message, 200));
        }
        (rsp.status(), sent.into_iter().next().map(|n| n.message))
    };
    // The user's own entry beats its domain's.
    let (code, n) = admit(&mut core, &mut list, "sip:boss@example.com");
    assert_eq!(code, Some(200));
    let n = n.unwrap();
    assert_eq!(
        (sub_state(&n), status_in(&n)),
        ("active;expires=600", Status::Online)
    );
    // Blocked by its domain: sees us offline, and gets an entry of its own.
    let (code, n) = admit(&mut core, &mut list, "sip:intern@example.com");
    assert_eq!(code, Some(200));
    assert_eq!(status_in(&n.unwrap()), Status::Offline);
    let intern = list.lookup("sip:intern@example.com").unwrap();
    assert_eq!(
        (intern.scope, intern.state),
        (Scope::User, WatcherState::Blocked)
    );
    // Denied: refused.
    assert_eq!(
        admit(&mut core, &mut list, "sip:eve@example.com"),
        (Some(403), None)
    );
    // Nobody decided yet: offered, pending, recorded as offering.
    let (code, n) = admit(&mut core, &mut list, "sip:carol@elsewhere.org");
    assert_eq!(code, Some(200));
    assert_eq!(sub_state(&n.unwrap()), "pending;expires=600");
    assert_eq!(
        list.lookup("sip:carol@elsewhere.org").map(|w| w.state),
        Some(WatcherState::Offering)
    );
    assert!(events(&mut core).iter().any(|e| matches!(
        e,
        presence::notifier::NotifierEvent::Offered { watcher, .. }
            if &**watcher == "sip:carol@elsewhere.org"
    )));
    // The application allows carol: the list keeps it, the core sends our presence.
    list.get_mut("sip:carol@elsewhere.org", Scope::User)
        .unwrap()
        .state = WatcherState::Allowed;
    core.decide(t0, "sip:carol@elsewhere.org", WatcherDecision::Allow);
    let n = one_notify(&mut core);
    assert_eq!(status_in(&n.message), Status::Online);
    core.handle_response(
        t0,
        n.handle,
        &presence::testkit::respond(&n.message, 200, None, &[]),
    );
    // Allow list only, added automatically: a stranger is blocked and recorded so.
    list.privacy = PrivacyMode::AllowListOnly;
    list.offer = OfferMode::AutoAdd;
    let (code, n) = admit(&mut core, &mut list, "sip:dave@elsewhere.org");
    assert_eq!(code, Some(200));
    assert_eq!(status_in(&n.unwrap()), Status::Offline);
    assert_eq!(
        list.lookup("sip:dave@elsewhere.org").map(|w| w.state),
        Some(WatcherState::Blocked)
    );
    // Our status changes: only the allowed watchers (boss and carol) hear of it.
    core.set_presence(t0, LocalPresence::new(Status::Busy, None));
    let sent = notifies(&mut core);
    let mut to: Vec<String> = sent
        .iter()
        .map(|n| n.message.to_header().unwrap().uri_str().to_owned())
        .collect();
    to.sort();
    assert_eq!(to, ["sip:boss@example.com", "sip:carol@elsewhere.org"]);
    assert!(sent.iter().all(|n| status_in(&n.message) == Status::Busy));
    assert_eq!(list.len(), 6);
}

#[test]
fn a_full_notifier_refuses_new_watchers_with_503_but_serves_the_ones_it_has() {
    let t0 = epoch();
    let mut core = Notifier::new(
        identity("alice"),
        NotifierConfig {
            max_subscriptions: 2,
            ..NotifierConfig::default()
        },
    );
    let mut a = watcher("a");
    let mut b = watcher("b");
    subscribe(&mut core, &mut a, t0, WatcherDecision::Allow);
    subscribe(&mut core, &mut b, t0, WatcherDecision::Allow);
    let sub = watcher("c").subscribe("presence", None, 600);
    let rsp = core
        .handle_request(t0, &sub, |_, _| panic!("a full notifier asks no policy"))
        .unwrap();
    assert_eq!(rsp.status(), Some(503));
    assert_eq!(rsp.header_str(HeaderName::RetryAfter), Some("60"));
    assert_eq!(core.len(), 2);
    // Refreshes of the subscriptions held still work.
    let refresh = a.subscribe("presence", None, 600);
    let rsp = core
        .handle_request(t0, &refresh, |_, _| WatcherDecision::Allow)
        .unwrap();
    assert_eq!(rsp.status(), Some(200));
    let n = one_notify(&mut core);
    core.handle_response(t0, n.handle, &a.answer(&n.message, 200));
    // Once one ends, there is room again.
    let un = b.subscribe("presence", None, 0);
    core.handle_request(t0, &un, |_, _| WatcherDecision::Allow)
        .unwrap();
    let n = one_notify(&mut core);
    core.handle_response(t0, n.handle, &b.answer(&n.message, 200));
    assert_eq!(core.len(), 1);
    subscribe(&mut core, &mut watcher("c"), t0, WatcherDecision::Allow);
    assert_eq!(core.len(), 2);
}

/// A thousand watchers, one of them with two dialogs, and our own watcherinfo subscription
/// left unanswered meanwhile: every change costs the core one lookup (by URI, or the set of
/// watcherinfo subscriptions), NOTIFYs to many go out in subscription order, and watcherinfo
/// changes coalesce into one full document.
#[test]
fn a_thousand_watchers_are_decided_by_uri_and_notified_in_order() {
    const N: usize = 1_000;
    let t0 = epoch();
    // Watchers that read 1 MiB: the watcherinfo document below is larger than the default.
    let mut core = notifier_with(NotifierConfig {
        parse: ParseConfig {
            max_message_size: 1 << 20,
            ..ParseConfig::default()
        },
        ..NotifierConfig::default()
    });
    let mut me = WatcherPeer::new(ALICE, ALICE, "me");
    let rsp = core
        .handle_request(t0, &me.subscribe("presence.winfo", None, 600), |_, _| {
            panic!("winfo asks no policy")
        })
        .unwrap();
    me.response(&rsp);
    let winfo = one_notify(&mut core);
    assert_eq!(WatcherInfo::parse(winfo.message.body()).unwrap().version, 0);
    let uri = |i: usize| format!("sip:w{i}@example.com");
    let mut peers: Vec<WatcherPeer> = (0..N).map(|i| watcher(&format!("w{i}"))).collect();
    peers.push(WatcherPeer::new(&uri(7), ALICE, "w7-again"));
    for w in &mut peers {
        let rsp = core
            .handle_request(t0, &w.subscribe("presence", None, 600), |_, _| {
                WatcherDecision::Offer
            })
            .unwrap();
        assert_eq!(rsp.status(), Some(200));
        w.response(&rsp);
        // The pending NOTIFY only: the watcherinfo one is still in flight.
        let n = one_notify(&mut core);
        assert_eq!(sub_state(&n.message), "pending;expires=600");
        core.handle_response(t0, n.handle, &w.answer(&n.message, 200));
    }
    assert_eq!(core.len(), N + 2);
    // Even watchers allowed, odd ones blocked; w7's decision reaches both its dialogs.
    for i in 0..N {
        let decision = if i % 2 == 0 {
            WatcherDecision::Allow
        } else {
            WatcherDecision::Block
        };
        core.decide(t0 + secs(1), &uri(i), decision);
        let sent = notifies(&mut core);
        assert_eq!(sent.len(), if i == 7 { 2 } else { 1 }, "w{i}");
        let expected = if i % 2 == 0 {
            Status::Online
        } else {
            Status::Offline
        };
        for n in sent {
            assert_eq!(status_in(&n.message), expected, "w{i}");
            let peer = if n.message.call_id().ok() == Some("w7-again@192.0.2.7") {
                N
            } else {
                i
            };
            let ok = peers[peer].answer(&n.message, 200);
            core.handle_response(t0 + secs(1), n.handle, &ok);
        }
    }
    // Our status changes: the allowed watchers hear of it, in the order they subscribed.
    core.set_presence(t0 + secs(2), LocalPresence::new(Status::Away, None));
    let sent = notifies(&mut core);
    let to: Vec<String> = sent
        .iter()
        .map(|n| n.message.to_header().unwrap().uri_str().to_owned())
        .collect();
    let expected: Vec<String> = (0..N).step_by(2).map(uri).collect();
    assert!(to == expected, "NOTIFYs out of subscription order");
    assert!(sent.iter().all(|n| status_in(&n.message) == Status::Away));
    // The watcherinfo NOTIFY answered: one partial document with everything that changed
    // meanwhile (each watcher once, as it is now), bigger than the default 64 KiB but within
    // the limit configured.
    core.handle_response(t0 + secs(2), winfo.handle, &me.answer(&winfo.message, 200));
    let n = one_notify(&mut core);
    assert!(
        n.message.body().len() > 65_535,
        "{}",
        n.message.body().len()
    );
    let doc =
        WatcherInfo::parse_with_limits(n.message.body(), &presence::XmlLimits::store()).unwrap();
    assert_eq!(
        (doc.version, doc.state),
        (1, presence::winfo::DocState::Partial)
    );
    let mut seen = WatcherInfoState::default();
    seen.apply(WatcherInfo::parse(winfo.message.body()).unwrap())
        .unwrap();
    seen.apply(doc.clone()).unwrap();
    assert_eq!(seen.watchers().count(), N + 1);
    let listed = watcher_uris(&doc);
    let mut expected: Vec<String> = (0..N).map(uri).collect();
    expected.push(uri(7));
    assert!(
        listed == expected,
        "watcherinfo lists the watchers in order"
    );
    assert!(
        doc.lists[0]
            .watchers
            .iter()
            .all(|w| w.status == WatcherStatus::Active)
    );
}

#[test]
fn a_challenged_notify_is_resent_with_the_dialogs_next_cseq() {
    // A proxy that challenges in-dialog requests (RFC 3261 §22.2): the NOTIFY resent with
    // credentials takes the next number of the dialog, and the next NOTIFY the one after.
    let t0 = epoch();
    let mut core = notifier(BlockedMode::SeeOffline);
    let mut bob = watcher("bob");
    let sub = bob.subscribe("presence", None, 600);
    let rsp = core
        .handle_request(t0, &sub, |_, _| WatcherDecision::Allow)
        .unwrap();
    bob.response(&rsp);
    let n = one_notify(&mut core);
    let first = n.message.cseq().unwrap().seq;
    let cseq = core.next_cseq(n.handle).expect("in flight");
    assert_eq!(cseq, first + 1);
    let again = resubmitted(&n.message, cseq);
    let ok = bob.answer(&again, 200);
    core.handle_response(t0, n.handle, &ok);
    assert_eq!(core.next_cseq(n.handle), None, "answered");
    core.set_presence(t0, LocalPresence::new(Status::Away, None));
    let next = one_notify(&mut core);
    assert_eq!(next.message.cseq().unwrap().seq, first + 2);
    bob.answer(&next.message, 200);
}

/// No NOTIFY is larger than the limit the watchers' parser (and ours) applies: a watcherinfo
/// subscription whose document has outgrown it ends, and the presence ones go on.
#[test]
fn no_notify_is_built_larger_than_the_message_limit() {
    const LIMIT: usize = 8 * 1024;
    let t0 = epoch();
    let mut core = notifier_with(NotifierConfig {
        parse: ParseConfig {
            max_message_size: LIMIT,
            ..ParseConfig::default()
        },
        ..NotifierConfig::default()
    });
    let mut me = WatcherPeer::new(ALICE, ALICE, "me");
    let rsp = core
        .handle_request(t0, &me.subscribe("presence.winfo", None, 600), |_, _| {
            panic!("winfo asks no policy")
        })
        .unwrap();
    me.response(&rsp);
    // Left unanswered while 100 watchers come: the changes pile up for one document.
    let winfo = one_notify(&mut core);
    let mut peers: Vec<WatcherPeer> = (0..100).map(|i| watcher(&format!("w{i}"))).collect();
    for w in &mut peers {
        let rsp = core
            .handle_request(t0, &w.subscribe("presence", None, 600), |_, _| {
                WatcherDecision::Allow
            })
            .unwrap();
        assert_eq!(rsp.status(), Some(200));
        w.response(&rsp);
        let n = one_notify(&mut core);
        core.handle_response(t0, n.handle, &w.answer(&n.message, 200));
    }
    assert_eq!(core.len(), peers.len() + 1);
    // Answered: the next watcherinfo document would be far larger than the limit; the
    // subscription ends instead of sending it.
    core.handle_response(t0, winfo.handle, &me.answer(&winfo.message, 200));
    for n in notifies(&mut core) {
        assert!(
            n.message.as_bytes().len() <= LIMIT,
            "{}",
            n.message.as_bytes().len()
        );
        assert_ne!(
            n.message.header_str(HeaderName::Event),
            Some("presence.winfo")
        );
    }
    assert_eq!(core.len(), peers.len());
    // Every watcher is still served.
    core.set_presence(t0 + secs(1), LocalPresence::new(Status::Away, None));
    let sent = notifies(&mut core);
    assert_eq!(sent.len(), peers.len());
    assert!(sent.iter().all(|n| n.message.as_bytes().len() <= LIMIT));
}
