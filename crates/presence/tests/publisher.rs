//! Publishing (RFC 3903) on a simulated clock: the test plays the presence server.

use std::time::Duration;

use presence::publisher::{Publisher, PublisherConfig, PublisherEvent};
use presence::testkit::{epoch, identity, respond, resubmitted};
use presence::{Failure, LocalPresence, MediaKind, OutgoingRequest, Status};
use sip_parse::{HeaderName, Message, Method};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn doc(status: Status) -> (&'static str, bytes::Bytes) {
    LocalPresence::new(status, None).to_body("sip:alice@example.com", MediaKind::Pidf)
}

fn core() -> Publisher {
    Publisher::new(identity("alice"), PublisherConfig::default())
}

fn one(core: &mut Publisher) -> OutgoingRequest {
    let r = core.poll_request().expect("a PUBLISH");
    assert!(
        core.poll_request().is_none(),
        "one PUBLISH in flight (RFC 3903 §4)"
    );
    r
}

fn ok(req: &Message, etag: &str, expires: u32) -> Message {
    respond(
        req,
        200,
        Some("ps"),
        &[("SIP-ETag", etag), ("Expires", &expires.to_string())],
    )
}

fn h(m: &Message, n: HeaderName) -> Option<&str> {
    m.header_str(n)
}

fn events(core: &mut Publisher) -> Vec<PublisherEvent> {
    std::iter::from_fn(|| core.poll_event()).collect()
}

#[test]
fn initial_publish_then_refresh_with_sip_if_match_and_no_body() {
    let t0 = epoch();
    let mut core = core();
    let (ct, body) = doc(Status::Online);
    core.publish(t0, ct, body.clone());
    let p = one(&mut core);
    assert_eq!(p.message.method(), Some(Method::Publish));
    assert_eq!(p.message.request_uri(), Some("sip:alice@example.com"));
    assert_eq!(h(&p.message, HeaderName::Event), Some("presence"));
    assert_eq!(h(&p.message, HeaderName::Expires), Some("3600"));
    assert_eq!(h(&p.message, HeaderName::SipIfMatch), None);
    assert_eq!(p.message.body(), &body[..]);
    core.handle_response(t0, p.handle, &ok(&p.message, "e1", 600));
    assert_eq!(
        events(&mut core),
        [PublisherEvent::Published {
            expires_at: t0 + secs(600)
        }]
    );
    assert_eq!(core.etag(), Some("e1"));
    // Refresh half-way through the 600 s granted (the 300 s margin is not shorter).
    assert_eq!(core.poll_timeout(), Some(t0 + secs(300)));
    core.handle_timeout(t0 + secs(300));
    let r = one(&mut core);
    assert_eq!(h(&r.message, HeaderName::SipIfMatch), Some("e1"));
    assert!(r.message.body().is_empty());
    assert!(r.message.cseq().unwrap().seq > p.message.cseq().unwrap().seq);
    assert_eq!(r.message.call_id().unwrap(), p.message.call_id().unwrap());
    core.handle_response(t0 + secs(301), r.handle, &ok(&r.message, "e2", 600));
    assert_eq!(core.etag(), Some("e2"));
}

#[test]
fn modify_sends_the_new_body_with_sip_if_match() {
    let t0 = epoch();
    let mut core = core();
    let (ct, body) = doc(Status::Online);
    core.publish(t0, ct, body);
    let p = one(&mut core);
    // Changed while the first PUBLISH is in flight: waits for its answer.
    let (ct, busy) = doc(Status::Busy);
    core.publish(t0, ct, busy.clone());
    assert!(core.poll_request().is_none());
    core.handle_response(t0, p.handle, &ok(&p.message, "e1", 3600));
    let m = one(&mut core);
    assert_eq!(h(&m.message, HeaderName::SipIfMatch), Some("e1"));
    assert_eq!(m.message.body(), &busy[..]);
    core.handle_response(t0, m.handle, &ok(&m.message, "e2", 3600));
    assert!(
        core.poll_request().is_none(),
        "in step: nothing more to send"
    );
}

#[test]
fn remove_sends_expires_0_with_sip_if_match() {
    let t0 = epoch();
    let mut core = core();
    let (ct, body) = doc(Status::Online);
    core.publish(t0, ct, body);
    let p = one(&mut core);
    core.handle_response(t0, p.handle, &ok(&p.message, "e1", 3600));
    events(&mut core);
    core.remove(t0);
    let r = one(&mut core);
    assert_eq!(h(&r.message, HeaderName::Expires), Some("0"));
    assert_eq!(h(&r.message, HeaderName::SipIfMatch), Some("e1"));
    assert!(r.message.body().is_empty());
    core.handle_response(t0, r.handle, &ok(&r.message, "e1", 0));
    assert_eq!(events(&mut core), [PublisherEvent::Removed]);
    assert_eq!(core.etag(), None);
    assert_eq!(core.poll_timeout(), None);
}

#[test]
fn publish_412_publishes_afresh() {
    let t0 = epoch();
    let mut core = core();
    let (ct, body) = doc(Status::Away);
    core.publish(t0, ct, body.clone());
    let p = one(&mut core);
    core.handle_response(t0, p.handle, &ok(&p.message, "e1", 600));
    core.handle_timeout(t0 + secs(300));
    let r = one(&mut core);
    core.handle_response(
        t0 + secs(300),
        r.handle,
        &respond(&r.message, 412, Some("ps"), &[]),
    );
    let fresh = one(&mut core);
    assert_eq!(h(&fresh.message, HeaderName::SipIfMatch), None);
    assert_eq!(fresh.message.body(), &body[..]);
}

#[test]
fn publish_423_retries_with_min_expires() {
    let t0 = epoch();
    let mut core = core();
    let (ct, body) = doc(Status::Away);
    core.publish(t0, ct, body);
    let p = one(&mut core);
    core.handle_response(
        t0,
        p.handle,
        &respond(&p.message, 423, Some("ps"), &[("Min-Expires", "7200")]),
    );
    let again = one(&mut core);
    assert_eq!(h(&again.message, HeaderName::Expires), Some("7200"));
    assert!(!again.message.body().is_empty());
}

#[test]
fn failure_retries_with_backoff_and_is_reported() {
    let t0 = epoch();
    let mut core = core();
    let (ct, body) = doc(Status::Away);
    core.publish(t0, ct, body);
    let p = one(&mut core);
    core.handle_failure(t0 + secs(32), p.handle);
    let retry_at = match &events(&mut core)[..] {
        [
            PublisherEvent::Failed {
                failure: Failure::NoResponse,
                retry_at,
            },
        ] => *retry_at,
        other => panic!("{other:?}"),
    };
    assert!(retry_at >= t0 + secs(32 + 15) && retry_at <= t0 + secs(32 + 30));
    // A new status meanwhile waits for the retry, which carries it.
    let (ct, busy) = doc(Status::Busy);
    core.publish(t0 + secs(33), ct, busy.clone());
    assert!(core.poll_request().is_none());
    core.handle_timeout(retry_at);
    let again = one(&mut core);
    assert_eq!(again.message.body(), &busy[..]);
    core.handle_response(
        retry_at,
        again.handle,
        &respond(&again.message, 500, Some("ps"), &[]),
    );
    assert!(matches!(
        &events(&mut core)[..],
        [PublisherEvent::Failed {
            failure: Failure::Status(500),
            ..
        }]
    ));
}

#[test]
fn expired_publication_is_published_afresh() {
    let t0 = epoch();
    let mut core = core();
    let (ct, body) = doc(Status::Away);
    core.publish(t0, ct, body);
    let p = one(&mut core);
    core.handle_response(t0, p.handle, &ok(&p.message, "e1", 600));
    // The refresh never gets an answer; the retry comes after the entity-tag expired.
    core.handle_timeout(t0 + secs(300));
    let r = one(&mut core);
    core.handle_failure(t0 + secs(590), r.handle);
    let at = core.poll_timeout().unwrap();
    assert!(at > t0 + secs(600));
    core.handle_timeout(at);
    let fresh = one(&mut core);
    assert_eq!(h(&fresh.message, HeaderName::SipIfMatch), None);
    assert!(!fresh.message.body().is_empty());
}

#[test]
fn every_publish_has_a_cseq_of_its_own_across_challenges() {
    // RFC 3903 §4 and RFC 3261 §8.1.1.5, §22.2: initial, modify, refresh and removal, each
    // challenged once, all with one Call-ID and eight numbers that only go up.
    let t0 = epoch();
    let mut core = core();
    let mut used = Vec::new();
    let mut call_ids = Vec::new();
    let mut exchange = |core: &mut Publisher, etag: &str| {
        let p = one(core);
        let cseq = core.next_cseq(p.handle).expect("in flight");
        let again = resubmitted(&p.message, cseq);
        for m in [&p.message, &again] {
            used.push(m.cseq().unwrap().seq);
            call_ids.push(m.call_id().unwrap().to_owned());
        }
        core.handle_response(t0, p.handle, &ok(&again, etag, 600));
        assert_eq!(core.next_cseq(p.handle), None, "answered");
    };
    let (ct, body) = doc(Status::Online);
    core.publish(t0, ct, body);
    exchange(&mut core, "e1");
    let (ct, body) = doc(Status::Away);
    core.publish(t0, ct, body);
    exchange(&mut core, "e2");
    core.handle_timeout(t0 + secs(300));
    exchange(&mut core, "e3");
    core.remove(t0 + secs(300));
    exchange(&mut core, "e3");
    assert_eq!(used, [1, 2, 3, 4, 5, 6, 7, 8]);
    call_ids.dedup();
    assert_eq!(call_ids.len(), 1);
}

#[test]
fn a_document_over_the_message_limit_is_refused_and_never_sent() {
    let t0 = epoch();
    let mut config = PublisherConfig::default();
    config.parse.max_message_size = 4096;
    let mut core = Publisher::new(identity("alice"), config);
    let (ct, body) = doc(Status::Online);
    core.publish(t0, ct, body.clone());
    let p = one(&mut core);
    core.handle_response(t0, p.handle, &ok(&p.message, "e1", 3600));
    events(&mut core);
    // A note of 8 KB: the modify would be larger than the server reads.
    let big = "x".repeat(8 * 1024);
    let (ct, body) = LocalPresence::new(Status::Away, Some(&big))
        .to_body("sip:alice@example.com", MediaKind::Pidf);
    let err = core.check(ct, body.clone()).unwrap_err();
    assert!(
        matches!(err, presence::Error::MessageTooLarge { method: "PUBLISH", limit: 4096, size } if size > 8192),
        "{err}"
    );
    // Published anyway, it is not sent (nor retried): the server keeps the document it has.
    core.publish(t0, ct, body);
    assert!(core.poll_request().is_none());
    assert_eq!(events(&mut core), []);
    // The refresh still goes out, without a body.
    let due = core.poll_timeout().unwrap();
    core.handle_timeout(due);
    let refresh = one(&mut core);
    assert_eq!(h(&refresh.message, HeaderName::SipIfMatch), Some("e1"));
    assert!(refresh.message.body().is_empty());
}
