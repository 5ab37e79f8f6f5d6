//! Watching buddies, every path of RFC 6665 / RFC 3856 on a simulated clock: the test plays
//! the presence server with `testkit::NotifierPeer` and moves time by hand.

use std::time::{Duration, Instant};

use presence::subscriber::{
    Package, RetryCause, StopCause, Subscriber, SubscriberConfig, SubscriberEvent, SubscriptionId,
    SubscriptionState, TerminatedReason,
};
use presence::testkit::{NotifierPeer, body, epoch, identity, respond, resubmitted};
use presence::{Failure, MediaKind, OutgoingRequest, Status};
use proptest::strategy::Strategy as _;
use sip_parse::{HeaderName, Message};

const BOB: &str = "sip:bob@example.com";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn core() -> Subscriber {
    Subscriber::new(identity("alice"), SubscriberConfig::default())
}

fn events(core: &mut Subscriber) -> Vec<SubscriberEvent> {
    std::iter::from_fn(|| core.poll_event()).collect()
}

fn states(core: &mut Subscriber) -> Vec<SubscriptionState> {
    events(core)
        .into_iter()
        .filter_map(|e| match e {
            SubscriberEvent::State { state, .. } => Some(state),
            _ => None,
        })
        .collect()
}

fn request(core: &mut Subscriber) -> OutgoingRequest {
    let r = core.poll_request().expect("a request");
    assert!(core.poll_request().is_none(), "one request at a time");
    r
}

fn header(m: &Message, name: HeaderName) -> &str {
    m.header_str(name).unwrap_or_default()
}

fn pidf(status: Status, note: Option<&str>) -> Option<(&'static str, bytes::Bytes)> {
    Some(body(BOB, status, note, MediaKind::Pidf))
}

/// The notifier answers `req` at `now` with a 200 granting `expires` seconds.
fn accept(
    core: &mut Subscriber,
    now: Instant,
    peer: &NotifierPeer,
    req: &OutgoingRequest,
    expires: u32,
) {
    core.handle_response(
        now,
        req.handle,
        &peer.answer(&req.message, 200, Some(expires)),
    );
}

/// The next request, sent in the dialog `peer` holds (the peer checks it belongs there).
fn in_dialog(core: &mut Subscriber, peer: &mut NotifierPeer) -> OutgoingRequest {
    let r = request(core);
    peer.receive(&r.message);
    r
}

/// `m` with its text `from` replaced by `to`.
fn edited(m: &Message, from: &str, to: &str) -> Message {
    let text = String::from_utf8_lossy(m.as_bytes()).replace(from, to);
    Message::parse(text.into_bytes().into()).unwrap()
}

/// An active subscription's state, expiring at `at`.
fn active_until(at: Instant) -> SubscriptionState {
    SubscriptionState::Active {
        expires_at: Some(at),
    }
}

/// Nothing is sent and no timer is planned.
#[track_caller]
fn assert_idle(core: &mut Subscriber) {
    assert!(core.poll_request().is_none());
    assert_eq!(core.poll_timeout(), None);
}

/// Subscribes to Bob and the server answers the SUBSCRIBE with `code` (and `headers`).
fn answered(
    core: &mut Subscriber,
    t0: Instant,
    code: u16,
    headers: &[(&str, &str)],
) -> SubscriptionId {
    let id = core.subscribe(t0, BOB).unwrap();
    let sub = request(core);
    let rsp = respond(&sub.message, code, Some("x"), headers);
    core.handle_response(t0, sub.handle, &rsp);
    id
}

/// Subscribes to Bob and the server answers 200 (Expires 3600); no NOTIFY yet.
fn subscribed(core: &mut Subscriber, t0: Instant) -> (SubscriptionId, NotifierPeer) {
    let id = core.subscribe(t0, BOB).unwrap();
    let sub = request(core);
    let peer = NotifierPeer::new(&sub.message, "srv");
    accept(core, t0, &peer, &sub, 3600);
    (id, peer)
}

/// Subscribes to Bob, the server answers 200 (Expires 3600) and NOTIFYs active/online.
fn established(core: &mut Subscriber, t0: Instant) -> (SubscriptionId, NotifierPeer) {
    let (id, mut peer) = subscribed(core, t0);
    let n = peer.notify("active;expires=3600", pidf(Status::Online, None));
    let rsp = core.handle_request(t0, &n).unwrap();
    assert_eq!(rsp.status(), Some(200));
    events(core);
    (id, peer)
}

/// A fresh core at the epoch with Bob [`established`].
fn watching_bob() -> (Instant, Subscriber, SubscriptionId, NotifierPeer) {
    let t0 = epoch();
    let mut core = core();
    let (id, peer) = established(&mut core, t0);
    (t0, core, id, peer)
}

#[test]
fn subscribe_asks_for_presence_in_pidf_or_xpidf() {
    let t0 = epoch();
    let mut core = core();
    let id = core.subscribe(t0, BOB).unwrap();
    let sub = request(&mut core).message;
    assert_eq!(sub.request_uri(), Some(BOB));
    assert_eq!(header(&sub, HeaderName::Event), "presence");
    assert_eq!(
        header(&sub, HeaderName::Accept),
        "application/pidf+xml, application/xpidf+xml"
    );
    assert_eq!(header(&sub, HeaderName::Expires), "3600");
    assert_eq!(sub.to_header().unwrap().tag(), None);
    assert!(sub.from_header().unwrap().tag().is_some());
    assert!(sub.top_via().unwrap().has_rfc3261_branch());
    assert_eq!(core.state(id), Some(&SubscriptionState::Subscribing));
    // Subscribing twice to one buddy is the same subscription, and sends nothing.
    assert_eq!(core.subscribe(t0, BOB).unwrap(), id);
    assert!(core.poll_request().is_none());
    assert!(core.subscribe(t0, "not a uri").is_err());
}

#[test]
fn notify_after_2xx_reports_active_and_status() {
    let t0 = epoch();
    let mut core = core();
    let (id, mut peer) = subscribed(&mut core, t0);
    assert_eq!(states(&mut core), []); // still Subscribing until the NOTIFY
    let n = peer.notify("active;expires=3600", pidf(Status::Busy, Some("in a call")));
    let rsp = core.handle_request(t0, &n).unwrap();
    assert_eq!(rsp.status(), Some(200));
    assert_eq!(rsp.to_header().unwrap().tag(), n.to_header().unwrap().tag());
    let ev = events(&mut core);
    match &ev[..] {
        [
            SubscriberEvent::Presence {
                id: i, presence, ..
            },
            SubscriberEvent::State { state, .. },
        ] => {
            assert_eq!(*i, id);
            assert_eq!(presence.status, Status::Busy);
            assert_eq!(presence.note.as_deref(), Some("in a call"));
            assert_eq!(*state, active_until(t0 + secs(3600)));
        }
        other => panic!("{other:?}"),
    }
    // The same document again (e.g. after a refresh) is not reported again.
    let n = peer.notify("active;expires=3600", pidf(Status::Busy, Some("in a call")));
    core.handle_request(t0 + secs(1), &n).unwrap();
    assert!(
        !events(&mut core)
            .iter()
            .any(|e| matches!(e, SubscriberEvent::Presence { .. }))
    );
    // XPIDF is read too.
    let n = peer.notify(
        "active",
        Some(body(BOB, Status::Away, None, MediaKind::Xpidf)),
    );
    core.handle_request(t0 + secs(2), &n).unwrap();
    assert!(matches!(
        &events(&mut core)[..],
        [SubscriberEvent::Presence { presence, .. }] if presence.status == Status::Away
    ));
}

#[test]
fn refresh_comes_margin_before_expiry_in_the_dialog() {
    let (t0, mut core, _, mut peer) = watching_bob();
    // 3600 s granted: refresh 300 s (the margin) before expiry.
    assert_eq!(core.poll_timeout(), Some(t0 + secs(3300)));
    core.handle_timeout(t0 + secs(3299));
    assert!(core.poll_request().is_none());
    core.handle_timeout(t0 + secs(3300));
    let refresh = in_dialog(&mut core, &mut peer); // same dialog, CSeq advanced (the peer checks)
    assert_eq!(refresh.message.to_header().unwrap().tag(), Some("srv"));
    assert_eq!(header(&refresh.message, HeaderName::Expires), "3600");
    assert_eq!(refresh.message.request_uri(), Some("sip:ps@192.0.2.9"));
    // The 2xx grants 600 s this time: the next refresh is halfway, 300 s later.
    let t1 = t0 + secs(3301);
    accept(&mut core, t1, &peer, &refresh, 600);
    assert_eq!(core.poll_timeout(), Some(t1 + secs(300)));
}

#[test]
fn notify_expires_is_authoritative_and_moves_the_refresh() {
    let (t0, mut core, id, mut peer) = watching_bob();
    let t1 = t0 + secs(10);
    let n = peer.notify("active;expires=120", None);
    core.handle_request(t1, &n).unwrap();
    assert_eq!(core.state(id), Some(&active_until(t1 + secs(120))));
    assert_eq!(core.poll_timeout(), Some(t1 + secs(60)));
}

#[test]
fn notify_without_expires_keeps_the_granted_expiry() {
    let (t0, mut core, id, mut peer) = watching_bob();
    let n = peer.notify("active", pidf(Status::Away, None));
    core.handle_request(t0 + secs(5), &n).unwrap();
    assert_eq!(core.state(id), Some(&active_until(t0 + secs(3600))));
    assert_eq!(core.poll_timeout(), Some(t0 + secs(3300)));
}

#[test]
fn notify_before_2xx() {
    let t0 = epoch();
    let mut core = core();
    let id = core.subscribe(t0, BOB).unwrap();
    let sub = request(&mut core);
    let mut peer = NotifierPeer::new(&sub.message, "srv");
    // RFC 6665 §4.1.2.4: the NOTIFY overtakes the 200 and creates the dialog.
    let n = peer.notify("pending", None);
    let rsp = core.handle_request(t0, &n).unwrap();
    assert_eq!(rsp.status(), Some(200));
    assert_eq!(
        states(&mut core),
        [SubscriptionState::Pending { expires_at: None }]
    );
    // No refresh can be planned before an expiry is known.
    assert_eq!(core.poll_timeout(), None);
    let t1 = t0 + secs(1);
    accept(&mut core, t1, &peer, &sub, 1200);
    assert_eq!(
        states(&mut core),
        [SubscriptionState::Pending {
            expires_at: Some(t1 + secs(1200))
        }]
    );
    assert_eq!(core.poll_timeout(), Some(t1 + secs(900)));
    // The dialog made from the NOTIFY carries the refresh.
    let n = peer.notify("active", pidf(Status::Online, None));
    core.handle_request(t1, &n).unwrap();
    assert_eq!(core.state(id), Some(&active_until(t1 + secs(1200))));
    core.handle_timeout(t1 + secs(900));
    peer.receive(&request(&mut core).message);
}

#[test]
fn terminated_deactivated_resubscribes_at_once() {
    for reason in ["deactivated", "timeout"] {
        let (t0, mut core, id, mut peer) = watching_bob();
        let old = core.poll_request();
        assert!(old.is_none());
        let n = peer.notify(&format!("terminated;reason={reason}"), None);
        assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(200));
        let again = request(&mut core).message;
        // A new subscription: no To tag, a new Call-ID.
        assert_eq!(again.to_header().unwrap().tag(), None, "{reason}");
        assert_ne!(again.call_id().unwrap(), n.call_id().unwrap());
        let expected = if reason == "timeout" {
            TerminatedReason::Timeout
        } else {
            TerminatedReason::Deactivated
        };
        assert_eq!(
            states(&mut core),
            [
                SubscriptionState::Retrying {
                    at: t0,
                    cause: RetryCause::Terminated(expected)
                },
                SubscriptionState::Subscribing
            ]
        );
        // The old dialog is gone: a late NOTIFY in it gets 481.
        let late = peer.notify("active", None);
        assert_eq!(core.handle_request(t0, &late).unwrap().status(), Some(481));
        assert_eq!(core.state(id), Some(&SubscriptionState::Subscribing));
    }
}

#[test]
fn probation_and_giveup_wait_retry_after() {
    for (reason, expected) in [
        ("probation", TerminatedReason::Probation),
        ("giveup", TerminatedReason::Giveup),
    ] {
        let (t0, mut core, _, mut peer) = watching_bob();
        let n = peer.notify(&format!("terminated;reason={reason};retry-after=90"), None);
        core.handle_request(t0, &n).unwrap();
        assert!(core.poll_request().is_none(), "{reason}");
        assert_eq!(
            states(&mut core),
            [SubscriptionState::Retrying {
                at: t0 + secs(90),
                cause: RetryCause::Terminated(expected)
            }]
        );
        assert_eq!(core.poll_timeout(), Some(t0 + secs(90)));
        core.handle_timeout(t0 + secs(89));
        assert!(core.poll_request().is_none(), "{reason}");
        core.handle_timeout(t0 + secs(90));
        // A new subscription: no To tag.
        assert_eq!(request(&mut core).message.to_header().unwrap().tag(), None);
    }
}

#[test]
fn probation_and_giveup_without_retry_after_back_off() {
    for reason in ["probation", "giveup"] {
        let (t0, mut core, _, mut peer) = watching_bob();
        let n = peer.notify(&format!("terminated;reason={reason}"), None);
        core.handle_request(t0, &n).unwrap();
        let at = core.poll_timeout().unwrap();
        assert!(at >= t0 + secs(15) && at <= t0 + secs(30), "{reason}");
        assert!(core.poll_request().is_none());
    }
}

#[test]
fn rejected_stops_and_reports() {
    for (reason, expected) in [
        ("rejected", TerminatedReason::Rejected),
        ("noresource", TerminatedReason::NoResource),
        ("invariant", TerminatedReason::Invariant),
    ] {
        let (t0, mut core, id, mut peer) = watching_bob();
        let n = peer.notify(&format!("terminated;reason={reason}"), None);
        core.handle_request(t0, &n).unwrap();
        assert_idle(&mut core);
        let stopped = SubscriptionState::Stopped(StopCause::Terminated(expected));
        assert_eq!(states(&mut core), std::slice::from_ref(&stopped));
        assert_eq!(core.state(id), Some(&stopped));
        // A manual refresh starts over.
        core.refresh(t0 + secs(5), id).unwrap();
        assert_eq!(request(&mut core).message.to_header().unwrap().tag(), None);
    }
}

#[test]
fn unknown_reason_retries_with_backoff() {
    let (t0, mut core, _, mut peer) = watching_bob();
    core.handle_request(t0, &peer.notify("terminated", None))
        .unwrap();
    let at = core.poll_timeout().unwrap();
    assert!(at >= t0 + secs(15) && at <= t0 + secs(30), "{:?}", at - t0);
}

#[test]
fn refresh_481_starts_new_subscription() {
    let (t0, mut core, _, mut peer) = watching_bob();
    let t1 = t0 + secs(3300);
    core.handle_timeout(t1);
    let refresh = in_dialog(&mut core, &mut peer);
    core.handle_response(
        t1,
        refresh.handle,
        &respond(&refresh.message, 481, None, &[]),
    );
    let fresh = request(&mut core).message;
    assert_eq!(fresh.to_header().unwrap().tag(), None);
    assert_ne!(fresh.call_id().unwrap(), refresh.message.call_id().unwrap());
    assert_eq!(
        states(&mut core),
        [
            SubscriptionState::Retrying {
                at: t1,
                cause: RetryCause::Failed(Failure::Status(481))
            },
            SubscriptionState::Subscribing
        ]
    );
}

#[test]
fn refresh_timeout_retries_before_expiry_then_starts_over() {
    let (t0, mut core, _, mut peer) = watching_bob();
    let t1 = t0 + secs(3300);
    core.handle_timeout(t1);
    let refresh = in_dialog(&mut core, &mut peer);
    let t2 = t1 + secs(32);
    core.handle_failure(t2, refresh.handle);
    assert!(matches!(
        &events(&mut core)[..],
        [SubscriberEvent::Error { .. }]
    ));
    // Backoff after one failure is 15..30 s; still before expiry: refresh again in the dialog.
    let at = core.poll_timeout().unwrap();
    assert!(at >= t2 + secs(15) && at <= t2 + secs(30));
    core.handle_timeout(at);
    let again = in_dialog(&mut core, &mut peer);
    // It times out too; the backoff now passes the expiry, so the retry waits for it…
    let t3 = t0 + secs(3590);
    core.handle_failure(t3, again.handle);
    assert_eq!(core.poll_timeout(), Some(t0 + secs(3600)));
    // …and at expiry a new subscription starts.
    core.handle_timeout(t0 + secs(3600));
    assert_eq!(request(&mut core).message.to_header().unwrap().tag(), None);
    assert!(states(&mut core).contains(&SubscriptionState::Retrying {
        at: t0 + secs(3600),
        cause: RetryCause::Expired
    }));
}

#[test]
fn unsubscribe_sends_expires_0_and_accepts_final_notify() {
    let (t0, mut core, id, mut peer) = watching_bob();
    core.unsubscribe(t0, id).unwrap();
    let un = in_dialog(&mut core, &mut peer);
    assert_eq!(header(&un.message, HeaderName::Expires), "0");
    accept(&mut core, t0, &peer, &un, 0);
    // Still known until the final NOTIFY.
    assert!(core.state(id).is_some());
    let last = peer.notify("terminated;reason=timeout", pidf(Status::Offline, None));
    assert_eq!(core.handle_request(t0, &last).unwrap().status(), Some(200));
    assert!(core.poll_request().is_none(), "no resubscription");
    assert!(states(&mut core).contains(&SubscriptionState::Stopped(StopCause::Unsubscribed)));
    assert_eq!(core.state(id), None);
    assert_eq!(core.id_of(BOB), None);
    assert!(core.is_empty());
    assert_eq!(core.poll_timeout(), None);
}

#[test]
fn unsubscribe_without_final_notify_ends_after_timer_n() {
    let (t0, mut core, id, peer) = watching_bob();
    core.unsubscribe(t0, id).unwrap();
    let un = request(&mut core);
    accept(&mut core, t0, &peer, &un, 0);
    assert_eq!(core.poll_timeout(), Some(t0 + secs(32)));
    core.handle_timeout(t0 + secs(32));
    assert_eq!(core.state(id), None);
}

#[test]
fn unsubscribe_while_subscribing_waits_for_the_2xx() {
    let t0 = epoch();
    let mut core = core();
    let id = core.subscribe(t0, BOB).unwrap();
    let sub = request(&mut core);
    core.unsubscribe(t0, id).unwrap();
    assert!(core.poll_request().is_none());
    let peer = NotifierPeer::new(&sub.message, "srv");
    accept(&mut core, t0, &peer, &sub, 3600);
    let un = request(&mut core).message;
    assert_eq!(header(&un, HeaderName::Expires), "0");
    assert_eq!(un.to_header().unwrap().tag(), Some("srv"));
}

/// Watching a buddy again while the unsubscribe is on its way (a buddy removed and added
/// back, an import right after another) starts a new subscription; the old one still ends.
#[test]
fn subscribing_again_while_unsubscribing_starts_a_new_subscription() {
    let (t0, mut core, old, mut peer) = watching_bob();
    core.unsubscribe(t0, old).unwrap();
    let un = in_dialog(&mut core, &mut peer);
    let new = core.subscribe(t0, BOB).unwrap();
    assert_ne!(new, old);
    assert_eq!(core.id_of(BOB), Some(new));
    let sub = request(&mut core);
    assert_eq!(header(&sub.message, HeaderName::Expires), "3600");
    assert_eq!(sub.message.to_header().unwrap().tag(), None, "a new dialog");

    // The old one ends as before, leaving the new one alone.
    accept(&mut core, t0, &peer, &un, 0);
    let last = peer.notify("terminated;reason=timeout", pidf(Status::Offline, None));
    assert_eq!(core.handle_request(t0, &last).unwrap().status(), Some(200));
    assert_eq!(core.state(old), None);
    assert_eq!(core.id_of(BOB), Some(new));
    let mut peer = NotifierPeer::new(&sub.message, "srv2");
    accept(&mut core, t0, &peer, &sub, 3600);
    let n = peer.notify("active;expires=3600", pidf(Status::Away, None));
    assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(200));
    assert_eq!(core.state(new), Some(&active_until(t0 + secs(3600))));
}

/// An unsubscribe still waiting for the initial SUBSCRIBE's answer is simply called off.
#[test]
fn subscribing_again_before_the_unsubscribe_is_sent_keeps_the_subscription() {
    let t0 = epoch();
    let mut core = core();
    let id = core.subscribe(t0, BOB).unwrap();
    let sub = request(&mut core);
    core.unsubscribe(t0, id).unwrap();
    assert_eq!(core.subscribe(t0, BOB).unwrap(), id);
    let peer = NotifierPeer::new(&sub.message, "srv");
    accept(&mut core, t0, &peer, &sub, 3600);
    assert!(core.poll_request().is_none(), "no unsubscribe");
    assert!(core.state(id).is_some());
}

#[test]
fn manual_refresh() {
    let (t0, mut core, id, mut peer) = watching_bob();
    core.refresh(t0 + secs(10), id).unwrap();
    let r = in_dialog(&mut core, &mut peer);
    assert_eq!(header(&r.message, HeaderName::Expires), "3600");
    // One SUBSCRIBE at a time.
    assert!(core.refresh(t0 + secs(10), id).is_err());
    accept(&mut core, t0 + secs(11), &peer, &r, 3600);
    assert_eq!(core.poll_timeout(), Some(t0 + secs(11 + 3300)));
}

#[test]
fn subscribe_timeout_retries_with_backoff() {
    let t0 = epoch();
    let mut core = core();
    let id = core.subscribe(t0, BOB).unwrap();
    events(&mut core);
    let mut now = t0;
    let mut bound = secs(30);
    for _ in 0..4 {
        let sub = request(&mut core);
        now += secs(32);
        core.handle_failure(now, sub.handle);
        let at = match &states(&mut core)[..] {
            [
                SubscriptionState::Retrying {
                    at,
                    cause: RetryCause::Failed(Failure::NoResponse),
                },
            ] => *at,
            other => panic!("{other:?}"),
        };
        assert!(at >= now + bound / 2 && at <= now + bound, "{:?}", at - now);
        assert_eq!(core.poll_timeout(), Some(at));
        core.handle_timeout(at);
        now = at;
        bound *= 2;
        assert_eq!(states(&mut core), [SubscriptionState::Subscribing]);
        assert_eq!(core.state(id), Some(&SubscriptionState::Subscribing));
    }
}

#[test]
fn subscribe_503_honours_retry_after() {
    let t0 = epoch();
    let mut core = core();
    answered(&mut core, t0, 503, &[("Retry-After", "120")]);
    assert_eq!(core.poll_timeout(), Some(t0 + secs(120)));
}

#[test]
fn refused_subscribe_stops() {
    for code in [403, 489, 603, 604] {
        let t0 = epoch();
        let mut core = core();
        let id = answered(&mut core, t0, code, &[]);
        assert_eq!(
            core.state(id),
            Some(&SubscriptionState::Stopped(StopCause::Refused(code)))
        );
        assert_idle(&mut core);
    }
}

#[test]
fn interval_too_brief_retries_with_min_expires() {
    let t0 = epoch();
    let mut core = core();
    answered(&mut core, t0, 423, &[("Min-Expires", "7200")]);
    let again = request(&mut core).message;
    assert_eq!(header(&again, HeaderName::Expires), "7200");
}

#[test]
fn no_notify_within_timer_n_retries() {
    let t0 = epoch();
    let mut core = core();
    let (id, _peer) = subscribed(&mut core, t0);
    assert_eq!(core.poll_timeout(), Some(t0 + secs(32)));
    core.handle_timeout(t0 + secs(32));
    assert!(matches!(
        core.state(id),
        Some(SubscriptionState::Retrying {
            cause: RetryCause::NoNotify,
            ..
        })
    ));
}

#[test]
fn stray_and_broken_notifies_are_answered() {
    let (t0, mut core, _, mut peer) = watching_bob();
    // Missing Subscription-State: 400.
    let n = peer.notify("active", None);
    let n = edited(&n, "Subscription-State: active\r\n", "");
    assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(400));
    // Another event package: 489.
    let n = peer.notify("active", None);
    let n = edited(&n, "Event: presence", "Event: dialog");
    assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(489));
    // A CSeq lower than the last one: 500 (RFC 3261 §12.2.2).
    let newer = peer.notify("active", None);
    let text = String::from_utf8_lossy(newer.as_bytes()).into_owned();
    let seq = newer.cseq().unwrap().seq;
    core.handle_request(t0, &newer).unwrap();
    let older = text.replace(&format!("CSeq: {seq} "), &format!("CSeq: {} ", seq - 1));
    let older = Message::parse(older.into_bytes().into()).unwrap();
    assert_eq!(core.handle_request(t0, &older).unwrap().status(), Some(500));
    // Not a NOTIFY: 405.
    let sub = peer.notify("active", None);
    let info = edited(&sub, "NOTIFY", "INFO");
    assert_eq!(core.handle_request(t0, &info).unwrap().status(), Some(405));
    // An unreadable body is answered 200 and reported with its position.
    let bad = peer.notify(
        "active",
        Some((
            "application/pidf+xml",
            bytes::Bytes::from_static(b"<presence>\n<"),
        )),
    );
    assert_eq!(core.handle_request(t0, &bad).unwrap().status(), Some(200));
    // (The body-less active NOTIFYs above said that bob's state is unknown now.)
    match events(&mut core).last() {
        Some(SubscriberEvent::Error { error, .. }) => assert!(error.position().is_some()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_active_notify_without_a_body_forgets_what_was_said() {
    // Kamailio tells a watcher whose pres-rules turned to polite-block (RFC 5025 §3.2.1) by
    // an active NOTIFY without a body: the buddy's state is unknown from then on.
    let (t0, mut core, id, mut peer) = watching_bob();
    events(&mut core);
    let n = peer.notify("active;expires=3600", pidf(Status::Busy, Some("in a call")));
    core.handle_request(t0, &n).unwrap();
    assert!(matches!(
        &events(&mut core)[..],
        [SubscriberEvent::Presence { .. }]
    ));
    let n = peer.notify("active;expires=3599", None);
    assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(200));
    let ev = events(&mut core);
    assert!(
        ev.iter()
            .any(|e| matches!(e, SubscriberEvent::Unknown { id: i, .. } if *i == id)),
        "{ev:?}"
    );
    // Still active: the state comes back with the next body.
    assert!(matches!(
        core.state(id),
        Some(SubscriptionState::Active { .. })
    ));
    let n = peer.notify("active;expires=3598", pidf(Status::Busy, Some("in a call")));
    core.handle_request(t0, &n).unwrap();
    assert!(
        events(&mut core)
            .iter()
            .any(|e| matches!(e, SubscriberEvent::Presence { .. }))
    );
}

#[test]
fn many_buddies_in_one_core() {
    let t0 = epoch();
    let mut core = core();
    let mut peers = Vec::new();
    for i in 0..500 {
        let buddy = format!("sip:b{i}@example.com");
        core.subscribe(t0, &buddy).unwrap();
        let sub = core.poll_request().unwrap();
        let peer = NotifierPeer::new(&sub.message, &format!("t{i}"));
        peers.push((buddy, sub, peer));
    }
    assert_eq!(core.len(), 500);
    // Answered in reverse order, each NOTIFY reaches its own subscription.
    for (buddy, sub, peer) in peers.iter_mut().rev() {
        accept(&mut core, t0, peer, sub, 3600);
        let n = peer.notify(
            "active",
            Some(body(buddy, Status::Online, Some(buddy), MediaKind::Pidf)),
        );
        assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(200));
        let id = core.id_of(buddy).unwrap();
        match &events(&mut core)[..] {
            [
                SubscriberEvent::Presence {
                    id: i, presence, ..
                },
                ..,
            ] => {
                assert_eq!(*i, id);
                assert_eq!(presence.note.as_deref(), Some(buddy.as_str()));
            }
            other => panic!("{other:?}"),
        }
    }
}

// --- one-shot fetches (RFC 6665 §4.4.3) ---

fn stopped(cause: StopCause) -> SubscriptionState {
    SubscriptionState::Stopped(cause)
}

fn presences(ev: &[SubscriberEvent]) -> Vec<(Status, Option<String>)> {
    ev.iter()
        .filter_map(|e| match e {
            SubscriberEvent::Presence { presence, .. } => {
                Some((presence.status, presence.note.as_deref().map(String::from)))
            }
            _ => None,
        })
        .collect()
}

fn last_state(ev: &[SubscriberEvent]) -> Option<&SubscriptionState> {
    ev.iter().rev().find_map(|e| match e {
        SubscriberEvent::State { state, .. } => Some(state),
        _ => None,
    })
}

/// Fetches Bob: the SUBSCRIBE (checked to ask for 0 s) and the notifier's end of it.
fn fetch(core: &mut Subscriber, now: Instant) -> (SubscriptionId, OutgoingRequest, NotifierPeer) {
    let id = core.fetch(now, BOB).unwrap();
    let sub = request(core);
    assert_eq!(header(&sub.message, HeaderName::Expires), "0");
    assert_eq!(header(&sub.message, HeaderName::Event), "presence");
    assert_eq!(sub.message.to_header().unwrap().tag(), None);
    let peer = NotifierPeer::new(&sub.message, "srv");
    (id, sub, peer)
}

#[test]
fn fetch_reports_the_one_notify_and_holds_no_subscription() {
    let t0 = epoch();
    let mut core = core();
    let (id, sub, mut peer) = fetch(&mut core, t0);
    assert_eq!(core.state(id), Some(&SubscriptionState::Subscribing));
    accept(&mut core, t0, &peer, &sub, 0);
    // Waiting for the NOTIFY, Timer N at most; no refresh is planned.
    assert_eq!(core.poll_timeout(), Some(t0 + secs(32)));
    let n = peer.notify(
        "terminated;reason=timeout",
        pidf(Status::Busy, Some("busy")),
    );
    assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(200));
    let ev = events(&mut core);
    assert_eq!(presences(&ev), [(Status::Busy, Some("busy".into()))]);
    assert_eq!(last_state(&ev), Some(&stopped(StopCause::Fetched)));
    // Ended without an unsubscribe, nothing planned, nothing re-subscribed.
    assert_idle(&mut core);
    // A NOTIFY in that dialog now matches nothing.
    let stray = peer.notify("terminated;reason=timeout", None);
    assert_eq!(core.handle_request(t0, &stray).unwrap().status(), Some(481));

    // The next fetch is a new SUBSCRIBE (new Call-ID); an unchanged state is not reported
    // again, a changed one is.
    let t1 = t0 + secs(300);
    let (again, sub2, mut peer2) = fetch(&mut core, t1);
    assert_eq!(again, id);
    assert_ne!(sub2.message.call_id().ok(), sub.message.call_id().ok());
    let n = peer2.notify(
        "terminated;reason=timeout",
        pidf(Status::Busy, Some("busy")),
    );
    core.handle_request(t1, &n).unwrap();
    accept(&mut core, t1, &peer2, &sub2, 0);
    let ev = events(&mut core);
    assert_eq!(presences(&ev), []);
    assert_eq!(last_state(&ev), Some(&stopped(StopCause::Fetched)));
    let t2 = t1 + secs(300);
    core.refresh(t2, id).unwrap(); // refreshing a fetch fetches again
    let sub3 = request(&mut core);
    assert_eq!(header(&sub3.message, HeaderName::Expires), "0");
    let mut peer3 = NotifierPeer::new(&sub3.message, "srv3");
    let n = peer3.notify("terminated;reason=timeout", pidf(Status::Away, None));
    core.handle_request(t2, &n).unwrap();
    assert_eq!(presences(&events(&mut core)), [(Status::Away, None)]);
    assert_eq!(core.len(), 1);
}

#[test]
fn poll_fetches_again_an_interval_after_each_fetch_ends() {
    let t0 = epoch();
    let mut core = core();
    let id = core.poll(t0, BOB, secs(60)).unwrap();
    let sub = request(&mut core);
    assert_eq!(header(&sub.message, HeaderName::Expires), "0");
    let mut peer = NotifierPeer::new(&sub.message, "srv");
    accept(&mut core, t0, &peer, &sub, 0);
    let t1 = t0 + secs(2);
    let n = peer.notify("terminated;reason=timeout", pidf(Status::Busy, None));
    core.handle_request(t1, &n).unwrap();
    assert_eq!(presences(&events(&mut core)), [(Status::Busy, None)]);
    // The next fetch is due 60 s after this one ended, not after it started.
    assert_eq!(core.poll_timeout(), Some(t1 + secs(60)));
    core.handle_timeout(t1 + secs(59));
    assert!(core.poll_request().is_none());
    core.handle_timeout(t1 + secs(60));
    let again = request(&mut core);
    assert_eq!(header(&again.message, HeaderName::Expires), "0");
    // A failed fetch is not retried sooner: the schedule goes on from its end.
    let t2 = t1 + secs(61);
    core.handle_failure(t2, again.handle);
    assert!(matches!(
        core.state(id),
        Some(SubscriptionState::Stopped(StopCause::FetchFailed(_)))
    ));
    assert_eq!(core.poll_timeout(), Some(t2 + secs(60)));
    // Unsubscribing ends the polling.
    core.unsubscribe(t2, id).unwrap();
    assert_eq!(core.poll_timeout(), None);
    core.handle_timeout(t2 + secs(600));
    assert!(core.poll_request().is_none());
}

#[test]
fn fetch_notify_before_the_2xx_ends_it_and_the_2xx_is_ignored() {
    let t0 = epoch();
    let mut core = core();
    let (id, sub, mut peer) = fetch(&mut core, t0);
    // RFC 6665 §4.1.2.4: the NOTIFY overtakes the 2xx.
    let n = peer.notify("terminated;reason=timeout", pidf(Status::Online, None));
    assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(200));
    let ev = events(&mut core);
    assert_eq!(presences(&ev), [(Status::Online, None)]);
    assert_eq!(core.state(id), Some(&stopped(StopCause::Fetched)));
    accept(&mut core, t0, &peer, &sub, 0);
    assert!(events(&mut core).is_empty());
    assert!(core.poll_request().is_none());
    assert_eq!(
        core.poll_timeout(),
        None,
        "no Timer N after the fetch ended"
    );
}

#[test]
fn fetch_without_notify_fails_after_timer_n() {
    let t0 = epoch();
    let mut core = core();
    let (id, sub, peer) = fetch(&mut core, t0);
    accept(&mut core, t0, &peer, &sub, 0);
    core.handle_timeout(t0 + secs(31));
    assert_eq!(core.state(id), Some(&SubscriptionState::Subscribing));
    core.handle_timeout(t0 + secs(32));
    assert_eq!(
        states(&mut core),
        [stopped(StopCause::FetchFailed(RetryCause::NoNotify))]
    );
    // Not retried: the next fetch is the retry.
    assert_idle(&mut core);
}

#[test]
fn fetch_failures_are_reported_not_retried() {
    let t0 = epoch();
    let mut core = core();
    // Codes a subscription would retry (503), would stop on (403), and a challenge the
    // caller could not answer (401): each ends the fetch, reported.
    for code in [503, 403, 401] {
        let (id, sub, _) = fetch(&mut core, t0);
        let rsp = respond(&sub.message, code, Some("x"), &[("Retry-After", "5")]);
        core.handle_response(t0, sub.handle, &rsp);
        assert_eq!(
            core.state(id),
            Some(&stopped(StopCause::FetchFailed(RetryCause::Failed(
                Failure::Status(code)
            ))))
        );
        assert!(core.poll_request().is_none(), "{code}");
        assert_eq!(core.poll_timeout(), None, "{code}");
    }
    // No response at all.
    let (id, sub, _) = fetch(&mut core, t0);
    core.handle_failure(t0, sub.handle);
    assert_eq!(
        core.state(id),
        Some(&stopped(StopCause::FetchFailed(RetryCause::Failed(
            Failure::NoResponse
        ))))
    );
    // The notifier refuses us in its NOTIFY.
    let (id, _, mut peer) = fetch(&mut core, t0);
    let n = peer.notify("terminated;reason=rejected", None);
    assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(200));
    assert_eq!(
        core.state(id),
        Some(&stopped(StopCause::Terminated(TerminatedReason::Rejected)))
    );
    assert_idle(&mut core);
}

#[test]
fn fetch_beside_subscriptions() {
    let t0 = epoch();
    let mut core = core();
    // A buddy with a standing subscription already gets its state: fetching sends nothing.
    let (id, _peer) = established(&mut core, t0);
    assert_eq!(core.fetch(t0, BOB).unwrap(), id);
    assert!(core.poll_request().is_none());
    core.unsubscribe(t0, id).unwrap();
    request(&mut core);

    // A fetch in flight: fetching again sends nothing, subscribing and refreshing are refused,
    // unsubscribing forgets it at once (its NOTIFY then gets 481).
    let mut core = self::core();
    let (id, sub, mut peer) = fetch(&mut core, t0);
    assert_eq!(core.fetch(t0, BOB).unwrap(), id);
    assert!(core.poll_request().is_none());
    assert!(core.subscribe(t0, BOB).is_err());
    assert!(core.refresh(t0, id).is_err());
    core.unsubscribe(t0, id).unwrap();
    assert!(core.poll_request().is_none(), "nothing to unsubscribe");
    assert_eq!(
        last_state(&events(&mut core)),
        Some(&stopped(StopCause::Unsubscribed))
    );
    assert!(core.is_empty());
    accept(&mut core, t0, &peer, &sub, 0);
    let n = peer.notify("terminated;reason=timeout", pidf(Status::Online, None));
    assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(481));
    assert!(events(&mut core).is_empty());

    // An idle fetch entry becomes a standing subscription when subscribed to.
    let (id, _, mut peer) = fetch(&mut core, t0);
    let n = peer.notify("terminated;reason=timeout", pidf(Status::Online, None));
    core.handle_request(t0, &n).unwrap();
    assert_eq!(core.subscribe(t0, BOB).unwrap(), id);
    let sub = request(&mut core);
    assert_eq!(header(&sub.message, HeaderName::Expires), "3600");
    let peer = NotifierPeer::new(&sub.message, "srv");
    accept(&mut core, t0, &peer, &sub, 3600);
    // Now Timer N, then (no NOTIFY) retried like any subscription.
    core.handle_timeout(t0 + secs(32));
    assert!(matches!(
        core.state(id),
        Some(SubscriptionState::Retrying {
            cause: RetryCause::NoNotify,
            ..
        })
    ));
}

// --- subscriptions that outlive failures (RFC 6665 §4.1.2.1, §4.1.3) ---

/// The state events of `id` only, and whether an [`SubscriberEvent::Unknown`] was among `ev`.
fn unknown_reported(ev: &[SubscriberEvent], id: SubscriptionId) -> bool {
    ev.iter()
        .any(|e| matches!(e, SubscriberEvent::Unknown { id: i, .. } if *i == id))
}

/// Answers every SUBSCRIBE with `code` (or lets it time out, `None`) nine times in a row: each
/// retry waits within [bound/2, bound], the bound doubling from 30 s to an hour.
#[test]
fn failed_subscribe_retries_with_jittered_backoff_from_30_s_to_an_hour() {
    let bounds = [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600];
    for code in [Some(404), Some(408), Some(480), Some(503), None] {
        let t0 = epoch();
        let mut core = core();
        let id = core.subscribe(t0, BOB).unwrap();
        events(&mut core);
        let mut now = t0;
        for bound in bounds {
            let sub = request(&mut core);
            match code {
                Some(code) => {
                    let rsp = respond(&sub.message, code, Some("x"), &[]);
                    core.handle_response(now, sub.handle, &rsp);
                }
                None => core.handle_failure(now, sub.handle),
            }
            let failure = code.map_or(Failure::NoResponse, Failure::Status);
            let at = match &states(&mut core)[..] {
                [SubscriptionState::Retrying { at, cause }] => {
                    assert_eq!(*cause, RetryCause::Failed(failure));
                    *at
                }
                other => panic!("{code:?}: {other:?}"),
            };
            let bound = secs(bound);
            assert!(
                at >= now + bound / 2 && at <= now + bound,
                "{code:?}: {:?} for a bound of {bound:?}",
                at - now
            );
            assert_eq!(core.poll_timeout(), Some(at));
            core.handle_timeout(at - Duration::from_millis(1));
            assert!(core.poll_request().is_none(), "not before its time");
            core.handle_timeout(at);
            now = at;
            assert_eq!(core.state(id), Some(&SubscriptionState::Subscribing));
            events(&mut core);
        }
    }
}

/// Many buddies failing together (a server restart) do not all retry at one instant.
#[test]
fn retries_of_buddies_that_failed_together_are_spread() {
    let t0 = epoch();
    let mut core = core();
    let mut retries = std::collections::BTreeSet::new();
    for i in 0..50 {
        core.subscribe(t0, &format!("sip:b{i}@example.com"))
            .unwrap();
        let sub = request(&mut core);
        core.handle_response(t0, sub.handle, &respond(&sub.message, 503, None, &[]));
        match &states(&mut core)[..] {
            [SubscriptionState::Retrying { at, .. }] => retries.insert(*at),
            other => panic!("{other:?}"),
        };
    }
    assert!(
        retries.len() > 25,
        "{} instants for 50 buddies",
        retries.len()
    );
    assert!(
        retries
            .iter()
            .all(|at| *at >= t0 + secs(15) && *at <= t0 + secs(30))
    );
}

/// A Retry-After header replaces the backoff's wait, within a second and an hour.
#[test]
fn retry_after_header_is_honoured_within_bounds() {
    for (code, retry_after, wait) in [
        (503, "120", 120),
        (480, "7", 7),
        (404, "300", 300),
        (503, "0", 1),
        (503, "4294967295", 3600),
        (500, "not a number", 0),
    ] {
        let t0 = epoch();
        let mut core = core();
        answered(&mut core, t0, code, &[("Retry-After", retry_after)]);
        let at = core.poll_timeout().unwrap();
        if wait == 0 {
            // Unreadable: the backoff's.
            assert!(at >= t0 + secs(15) && at <= t0 + secs(30), "{retry_after}");
        } else {
            assert_eq!(at, t0 + secs(wait), "{code} {retry_after}");
        }
    }
}

/// `retry-after` on Subscription-State is honoured for every reason that allows a retry, even
/// one that would retry at once.
#[test]
fn retry_after_parameter_is_honoured_for_every_retryable_reason() {
    for reason in ["deactivated", "probation", "timeout", "giveup", "x-new"] {
        let (t0, mut core, _, mut peer) = watching_bob();
        let n = peer.notify(&format!("terminated;reason={reason};retry-after=45"), None);
        core.handle_request(t0, &n).unwrap();
        assert!(core.poll_request().is_none(), "{reason}");
        assert_eq!(core.poll_timeout(), Some(t0 + secs(45)), "{reason}");
        core.handle_timeout(t0 + secs(45));
        assert_eq!(request(&mut core).message.to_header().unwrap().tag(), None);
    }
}

/// A notifier that ends each new subscription with `deactivated` as soon as it stands is not
/// answered with a SUBSCRIBE loop: the second immediate retry within 30 s backs off.
#[test]
fn deactivated_again_at_once_backs_off() {
    let (t0, mut core, _, mut peer) = watching_bob();
    core.handle_request(t0, &peer.notify("terminated;reason=deactivated", None))
        .unwrap();
    let again = request(&mut core);
    let mut peer = NotifierPeer::new(&again.message, "srv2");
    let t1 = t0 + secs(1);
    accept(&mut core, t1, &peer, &again, 3600);
    core.handle_request(t1, &peer.notify("active", None))
        .unwrap();
    core.handle_request(t1, &peer.notify("terminated;reason=deactivated", None))
        .unwrap();
    assert!(core.poll_request().is_none());
    let at = core.poll_timeout().unwrap();
    assert!(at >= t1 + secs(15) && at <= t1 + secs(30), "{:?}", at - t1);
    // Much later, a `deactivated` is again followed at once.
    core.handle_timeout(at);
    let third = request(&mut core);
    let mut peer = NotifierPeer::new(&third.message, "srv3");
    let t2 = t0 + secs(600);
    accept(&mut core, t2, &peer, &third, 3600);
    core.handle_request(t2, &peer.notify("active", None))
        .unwrap();
    core.handle_request(t2, &peer.notify("terminated;reason=deactivated", None))
        .unwrap();
    assert!(core.poll_request().is_some(), "at once");
}

/// 403 and 603 to the SUBSCRIBE, and `rejected` from the notifier, are final: reported, and
/// nothing is sent or planned again.
#[test]
fn refusals_are_final_and_reported() {
    for code in [403, 603] {
        let t0 = epoch();
        let mut core = core();
        let id = answered(&mut core, t0, code, &[("Retry-After", "10")]);
        let ev = events(&mut core);
        assert!(
            ev.iter().any(|e| matches!(
                e,
                SubscriberEvent::State { id: i, state: SubscriptionState::Stopped(StopCause::Refused(c)), .. }
                    if *i == id && *c == code
            )),
            "{code}: {ev:?}"
        );
        assert_idle(&mut core);
    }
    let (t0, mut core, id, mut peer) = watching_bob();
    core.handle_request(
        t0,
        &peer.notify("terminated;reason=rejected;retry-after=5", None),
    )
    .unwrap();
    let ev = events(&mut core);
    assert_eq!(
        last_state(&ev),
        Some(&stopped(StopCause::Terminated(TerminatedReason::Rejected)))
    );
    assert!(unknown_reported(&ev, id), "what bob said no longer holds");
    assert_idle(&mut core);
}

/// RFC 6665 §4.1.3: after a subscription ends, the buddy's state is unknown. Ending with no
/// reason (retried later) or with `noresource` (not retried) forgets the status reported, and
/// the next NOTIFY's status is reported again even if it is the same.
#[test]
fn ending_with_no_reason_or_noresource_makes_the_buddy_unknown() {
    for state in ["terminated", "terminated;reason=noresource"] {
        let (t0, mut core, id, mut peer) = watching_bob();
        core.handle_request(t0, &peer.notify(state, None)).unwrap();
        let ev = events(&mut core);
        assert!(unknown_reported(&ev, id), "{state}: {ev:?}");
        // Unknown comes before the state that explains it.
        assert!(matches!(ev.first(), Some(SubscriberEvent::Unknown { .. })));
        if state.contains("noresource") {
            assert_idle(&mut core);
            core.refresh(t0 + secs(60), id).unwrap();
        } else {
            let at = core.poll_timeout().unwrap();
            core.handle_timeout(at);
        }
        // Bob is online as before: said again.
        let sub = request(&mut core);
        let mut peer = NotifierPeer::new(&sub.message, "srv2");
        accept(&mut core, t0 + secs(60), &peer, &sub, 3600);
        let n = peer.notify("active", pidf(Status::Online, None));
        core.handle_request(t0 + secs(60), &n).unwrap();
        assert_eq!(presences(&events(&mut core)), [(Status::Online, None)]);
    }
}

/// `deactivated` moves the subscription and keeps what is shown while the new one is made;
/// when that fails, the buddy becomes unknown. Going `pending` makes it unknown too.
#[test]
fn status_is_kept_only_while_a_new_subscription_is_made_at_once() {
    let (t0, mut core, id, mut peer) = watching_bob();
    core.handle_request(t0, &peer.notify("terminated;reason=deactivated", None))
        .unwrap();
    assert!(!unknown_reported(&events(&mut core), id));
    let again = request(&mut core);
    core.handle_response(t0, again.handle, &respond(&again.message, 480, None, &[]));
    assert!(unknown_reported(&events(&mut core), id));

    let (t0, mut core, id, mut peer) = watching_bob();
    core.handle_request(t0, &peer.notify("pending", None))
        .unwrap();
    assert!(unknown_reported(&events(&mut core), id));
    // Unsubscribing is no reason to report bob unknown: he is no longer watched.
    let (t0, mut core, id, mut peer) = watching_bob();
    core.unsubscribe(t0, id).unwrap();
    let un = in_dialog(&mut core, &mut peer);
    accept(&mut core, t0, &peer, &un, 0);
    core.handle_request(t0, &peer.notify("terminated;reason=timeout", None))
        .unwrap();
    let ev = events(&mut core);
    assert_eq!(last_state(&ev), Some(&stopped(StopCause::Unsubscribed)));
    assert!(!unknown_reported(&ev, id));
}

/// A buddy offline at login (the server answers 480, then 404) is watched again until the
/// buddy comes online, and then seen.
#[test]
fn a_buddy_offline_at_login_is_seen_once_online() {
    let t0 = epoch();
    let mut core = core();
    let id = answered(&mut core, t0, 480, &[]);
    let at = core.poll_timeout().unwrap();
    core.handle_timeout(at);
    let sub = request(&mut core);
    core.handle_response(at, sub.handle, &respond(&sub.message, 404, None, &[]));
    let at = core.poll_timeout().unwrap();
    core.handle_timeout(at);
    let sub = request(&mut core);
    let mut peer = NotifierPeer::new(&sub.message, "srv");
    accept(&mut core, at, &peer, &sub, 3600);
    core.handle_request(at, &peer.notify("active", pidf(Status::Online, None)))
        .unwrap();
    let ev = events(&mut core);
    assert_eq!(presences(&ev), [(Status::Online, None)]);
    assert!(matches!(
        core.state(id),
        Some(SubscriptionState::Active { .. })
    ));
}

/// Removed and added back while the unsubscribe is on its way: every event names the
/// subscription it belongs to, so the old one's late end is told apart from the new one's
/// states, and the new one's `active` is reported.
#[test]
fn events_of_an_old_and_a_new_subscription_to_one_buddy_are_told_apart() {
    let (t0, mut core, old, mut peer) = watching_bob();
    core.unsubscribe(t0, old).unwrap();
    let un = in_dialog(&mut core, &mut peer);
    let new = core.subscribe(t0, BOB).unwrap();
    let sub = request(&mut core);
    // The new one becomes active first…
    let mut peer2 = NotifierPeer::new(&sub.message, "srv2");
    accept(&mut core, t0, &peer2, &sub, 3600);
    core.handle_request(t0, &peer2.notify("active", pidf(Status::Away, None)))
        .unwrap();
    let ev = events(&mut core);
    assert!(
        ev.iter().any(|e| matches!(
            e,
            SubscriberEvent::State { id, state: SubscriptionState::Active { .. }, .. } if *id == new
        )),
        "{ev:?}"
    );
    assert!(ev.iter().all(|e| match e {
        SubscriberEvent::State { id, .. } | SubscriberEvent::Presence { id, .. } => *id == new,
        _ => false,
    }));
    // …then the old one's late end: its events name the old subscription only.
    accept(&mut core, t0, &peer, &un, 0);
    core.handle_request(t0, &peer.notify("terminated", pidf(Status::Offline, None)))
        .unwrap();
    let ev = events(&mut core);
    assert_eq!(last_state(&ev), Some(&stopped(StopCause::Unsubscribed)));
    assert!(ev.iter().all(|e| match e {
        SubscriberEvent::State { id, .. } | SubscriberEvent::Presence { id, .. } => *id == old,
        _ => false,
    }));
    assert!(matches!(
        core.state(new),
        Some(SubscriptionState::Active { .. })
    ));
    assert_eq!(core.id_of(BOB), Some(new));
}

// --- CSeq: resubmissions with credentials take their number from the subscription ---

/// The server challenges `req` (407); the core gives the resubmission's number.
fn challenged(core: &mut Subscriber, req: &OutgoingRequest) -> OutgoingRequest {
    let cseq = core.next_cseq(req.handle).expect("the core waits for it");
    OutgoingRequest {
        handle: req.handle,
        message: resubmitted(&req.message, cseq),
    }
}

fn cseq_of(m: &Message) -> u32 {
    m.cseq().unwrap().seq
}

#[test]
fn a_challenged_initial_subscribe_leaves_the_dialog_above_its_resubmission() {
    let t0 = epoch();
    let mut core = core();
    let id = core.subscribe(t0, BOB).unwrap();
    let first = request(&mut core);
    assert_eq!(cseq_of(&first.message), 1);
    let again = challenged(&mut core, &first);
    assert_eq!(cseq_of(&again.message), 2);
    let mut peer = NotifierPeer::new(&again.message, "srv");
    accept(&mut core, t0, &peer, &again, 3600);
    let n = peer.notify("active;expires=3600", pidf(Status::Online, None));
    assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(200));
    // Refresh, challenged too: 3, then 4; the unsubscribe after it 5.
    core.refresh(t0, id).unwrap();
    let refresh = in_dialog(&mut core, &mut peer);
    assert_eq!(cseq_of(&refresh.message), 3);
    let again = challenged(&mut core, &refresh);
    assert_eq!(cseq_of(&again.message), 4);
    peer.receive(&again.message);
    accept(&mut core, t0, &peer, &again, 3600);
    core.unsubscribe(t0, id).unwrap();
    let un = in_dialog(&mut core, &mut peer);
    assert_eq!(cseq_of(&un.message), 5);
    // A handle the core no longer waits for gets no number.
    assert_eq!(core.next_cseq(first.handle), None);
}

#[test]
fn a_notify_before_the_2xx_to_a_resubmitted_subscribe_loses_nothing() {
    let t0 = epoch();
    let mut core = core();
    let id = core.subscribe(t0, BOB).unwrap();
    let first = request(&mut core);
    let again = challenged(&mut core, &first);
    let mut peer = NotifierPeer::new(&again.message, "srv");
    // RFC 6665 §4.1.2.4: the NOTIFY, with the buddy's state, creates the dialog before the
    // 2xx; the dialog made from it goes on above the resubmission's CSeq 2.
    let n = peer.notify("active;expires=3600", pidf(Status::Away, Some("lunch")));
    assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(200));
    let seen = events(&mut core);
    assert!(
        seen.iter()
            .any(|e| matches!(e, SubscriberEvent::Presence { presence, .. }
            if presence.status == Status::Away && presence.note.as_deref() == Some("lunch"))),
        "{seen:?}"
    );
    assert_eq!(core.state(id), Some(&active_until(t0 + secs(3600))));
    let t1 = t0 + secs(1);
    accept(&mut core, t1, &peer, &again, 1200);
    // Still active, with what the 2xx granted; the status is not reported again.
    assert_eq!(core.state(id), Some(&active_until(t1 + secs(1200))));
    assert!(
        !events(&mut core)
            .iter()
            .any(|e| matches!(e, SubscriberEvent::Presence { .. }))
    );
    assert_eq!(core.poll_timeout(), Some(t1 + secs(900)));
    core.unsubscribe(t1, id).unwrap();
    let un = in_dialog(&mut core, &mut peer);
    assert_eq!(cseq_of(&un.message), 3);
}

#[test]
fn a_notify_without_contact_before_the_2xx_is_accepted() {
    let t0 = epoch();
    let mut core = core();
    let id = core.subscribe(t0, BOB).unwrap();
    let sub = request(&mut core);
    let mut peer = NotifierPeer::new(&sub.message, "srv");
    let n = peer.notify("active;expires=600", pidf(Status::Online, None));
    let n = edited(&n, "Contact: <sip:ps@192.0.2.9>\r\n", "");
    assert!(n.contacts().next().is_none());
    assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(200));
    accept(&mut core, t0, &peer, &sub, 600);
    core.unsubscribe(t0, id).unwrap();
    // The 2xx's Contact is the remote target.
    let un = in_dialog(&mut core, &mut peer);
    assert_eq!(un.message.request_uri(), Some("sip:ps@192.0.2.9"));
}

/// How the server treats one SUBSCRIBE of a cycle.
#[derive(Debug, Clone, Copy)]
struct Treatment {
    /// Challenges before it is accepted.
    challenges: u8,
    /// The NOTIFY that follows overtakes the 2xx.
    notify_first: bool,
}

proptest::proptest! {
    /// RFC 3261 §12.2.1.1 and §22.2: however many SUBSCRIBEs of a subscription are
    /// challenged, and whether each NOTIFY comes before or after the 2xx, every SUBSCRIBE of
    /// the dialog has a number of its own, above all before it.
    #[test]
    fn no_two_subscribes_of_a_dialog_share_a_cseq(
        treatments in proptest::collection::vec(
            (0u8..3, proptest::bool::ANY)
                .prop_map(|(challenges, notify_first)| Treatment { challenges, notify_first }),
            2..8,
        ),
    ) {
        let t0 = epoch();
        let mut core = core();
        let id = core.subscribe(t0, BOB).unwrap();
        let mut peer: Option<NotifierPeer> = None;
        let mut used: Vec<u32> = Vec::new();
        let last = treatments.len() - 1;
        for (i, t) in treatments.iter().enumerate() {
            if i == last {
                core.unsubscribe(t0, id).unwrap();
            } else if i > 0 {
                core.refresh(t0, id).unwrap();
            }
            let mut req = request(&mut core);
            for _ in 0..t.challenges {
                used.push(cseq_of(&req.message));
                req = challenged(&mut core, &req);
            }
            let seq = cseq_of(&req.message);
            proptest::prop_assert!(used.iter().all(|u| *u < seq), "{seq} after {used:?}");
            used.push(seq);
            let p = match &mut peer {
                Some(p) => {
                    p.receive(&req.message);
                    p
                }
                None => peer.insert(NotifierPeer::new(&req.message, "srv")),
            };
            let state = if i == last { "terminated;reason=timeout" } else { "active;expires=3600" };
            let n = p.notify(state, pidf(Status::Online, None));
            let expires = if i == last { 0 } else { 3600 };
            if t.notify_first {
                proptest::prop_assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(200));
                accept(&mut core, t0, p, &req, expires);
            } else {
                accept(&mut core, t0, p, &req, expires);
                proptest::prop_assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(200));
            }
        }
        proptest::prop_assert!(core.is_empty(), "unsubscribed");
    }
}

#[test]
fn a_watcher_information_core_subscribes_to_winfo_and_hands_over_its_documents() {
    let t0 = epoch();
    let config = SubscriberConfig {
        package: Package::WatcherInfo,
        ..SubscriberConfig::default()
    };
    let mut core = Subscriber::new(identity("alice"), config);
    let id = core.subscribe(t0, BOB).unwrap();
    let sub = request(&mut core);
    assert_eq!(header(&sub.message, HeaderName::Event), "presence.winfo");
    assert_eq!(
        header(&sub.message, HeaderName::Accept),
        "application/watcherinfo+xml"
    );
    let mut peer = NotifierPeer::new(&sub.message, "srv");
    accept(&mut core, t0, &peer, &sub, 3600);
    let doc = r#"<?xml version="1.0"?><watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="0" state="full"><watcher-list resource="sip:bob@example.com" package="presence"><watcher id="w1" event="subscribe" status="pending">sip:carol@example.com</watcher></watcher-list></watcherinfo>"#;
    let winfo = || Some(("application/watcherinfo+xml", bytes::Bytes::from(doc)));
    // A NOTIFY of another package is refused (RFC 6665 §8.2.3).
    let n = peer.notify("active;expires=3600", winfo());
    assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(489));
    let n = peer.notify("active;expires=3600", winfo());
    let n = edited(&n, "Event: presence", "Event: presence.winfo");
    assert_eq!(core.handle_request(t0, &n).unwrap().status(), Some(200));
    let ev = events(&mut core);
    assert!(
        ev.iter().any(|e| matches!(e,
            SubscriberEvent::Document { id: i, content_type, body, .. }
                if *i == id && &**content_type == "application/watcherinfo+xml" && body == doc.as_bytes())),
        "{ev:?}"
    );
    assert!(matches!(
        core.state(id),
        Some(SubscriptionState::Active { .. })
    ));
}
