//! Dialogs (RFC 3261 §12): creation, route sets, in-dialog requests, CSeq checks.

use bytes::Bytes;
use proptest::strategy::Strategy as _;
use sip_parse::{HeaderName, Message, Method};
use sip_txn::Error;
use sip_txn::dialog::{Dialog, DialogId};

fn parse(s: &str) -> Message {
    Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
}

fn invite() -> Message {
    parse(
        "INVITE sip:bob@biloxi.example SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example;branch=z9hG4bK776asdhds
From: Alice <sip:alice@atlanta.example>;tag=1928301774
To: Bob <sip:bob@biloxi.example>
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.example>
Content-Length: 0

",
    )
}

fn ok(record_route: &str) -> Message {
    parse(&format!(
        "SIP/2.0 200 OK
Via: SIP/2.0/UDP pc33.atlanta.example;branch=z9hG4bK776asdhds
Record-Route: {record_route}
From: Alice <sip:alice@atlanta.example>;tag=1928301774
To: Bob <sip:bob@biloxi.example>;tag=a6c85cf
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <sip:bob@192.0.2.4>
Content-Length: 0

"
    ))
}

#[test]
fn uac_route_set_is_the_record_route_reversed() {
    let d = Dialog::uac(&invite(), &ok("<sip:p2.example;lr>, <sip:p1.example;lr>")).unwrap();
    assert_eq!(
        d.route_set(),
        ["<sip:p1.example;lr>", "<sip:p2.example;lr>"]
    );
    assert_eq!(d.remote_target(), "sip:bob@192.0.2.4");
    assert_eq!(
        d.id(),
        &DialogId {
            call_id: "a84b4c76e66710".into(),
            local_tag: "1928301774".into(),
            remote_tag: "a6c85cf".into(),
        }
    );
    assert_eq!(d.local_seq(), Some(314159));
    assert_eq!(d.remote_seq(), None);
    assert!(!d.is_secure());
}

#[test]
fn uac_local_cseq_follows_a_resubmission_with_credentials() {
    // The caller kept the first INVITE (CSeq 314159); the 2xx answers the resubmission with
    // credentials, CSeq 314160 (§22.2). The next in-dialog request must go above that.
    let ok = ok("<sip:p1.example;lr>").as_bytes().to_vec();
    let ok = String::from_utf8(ok)
        .unwrap()
        .replace("CSeq: 314159", "CSeq: 314160");
    let mut d = Dialog::uac(&invite(), &Message::parse(Bytes::from(ok)).unwrap()).unwrap();
    assert_eq!(d.local_seq(), Some(314160));
    let bye = d
        .request(Method::Bye, "SIP/2.0/UDP h;branch=z9hG4bKx")
        .unwrap();
    let bye = Message::parse(bye.build()).unwrap();
    assert_eq!(bye.cseq().unwrap().seq, 314161);
}

#[test]
fn in_dialog_request_with_loose_routing() {
    let mut d = Dialog::uac(&invite(), &ok("<sip:p2.example;lr>, <sip:p1.example;lr>")).unwrap();
    let bye = d
        .request(
            Method::Bye,
            "SIP/2.0/UDP pc33.atlanta.example;branch=z9hG4bKnashds7",
        )
        .unwrap()
        .build();
    let bye = Message::parse(bye).unwrap();
    assert_eq!(bye.request_uri(), Some("sip:bob@192.0.2.4"));
    let routes: Vec<_> = bye
        .routes()
        .map(|r| r.unwrap().uri_str().to_owned())
        .collect();
    assert_eq!(routes, ["sip:p1.example;lr", "sip:p2.example;lr"]);
    assert_eq!(bye.cseq().unwrap().seq, 314160);
    assert_eq!(bye.to_header().unwrap().tag(), Some("a6c85cf"));
    assert_eq!(bye.from_header().unwrap().tag(), Some("1928301774"));
    assert_eq!(bye.call_id().unwrap(), "a84b4c76e66710");
    bye.validate().unwrap();
    // The ACK for the 2xx reuses the INVITE's CSeq number.
    let ack = Message::parse(
        d.ack(314159, "SIP/2.0/UDP h;branch=z9hG4bKa")
            .unwrap()
            .build(),
    )
    .unwrap();
    assert_eq!(ack.cseq().unwrap().seq, 314159);
    assert_eq!(ack.cseq().unwrap().method, Method::Ack);
}

#[test]
fn in_dialog_request_with_strict_routing() {
    // §12.2.1.1: a strict first route becomes the Request-URI, the remote target goes last.
    let mut d = Dialog::uac(&invite(), &ok("<sip:p2.example>, <sip:p1.example>")).unwrap();
    let info = Message::parse(
        d.request(Method::Info, "SIP/2.0/UDP h;branch=z9hG4bKb")
            .unwrap()
            .build(),
    )
    .unwrap();
    assert_eq!(info.request_uri(), Some("sip:p1.example"));
    let routes: Vec<_> = info
        .routes()
        .map(|r| r.unwrap().uri_str().to_owned())
        .collect();
    assert_eq!(routes, ["sip:p2.example", "sip:bob@192.0.2.4"]);
}

#[test]
fn without_route_set_the_request_goes_to_the_remote_target() {
    let mut d = Dialog::uac(&invite(), &ok("<sip:p1.example;lr>")).unwrap();
    let mut no_rr = Dialog::uas(&invite(), "srv1").unwrap();
    let bye = Message::parse(
        no_rr
            .request(Method::Bye, "SIP/2.0/UDP h;branch=z9hG4bKc")
            .unwrap()
            .build(),
    )
    .unwrap();
    assert_eq!(bye.request_uri(), Some("sip:alice@pc33.atlanta.example"));
    assert!(bye.header(HeaderName::Route).is_none());
    assert_eq!(no_rr.local_seq(), Some(1));
    let _ = d
        .request(Method::Bye, "SIP/2.0/UDP h;branch=z9hG4bKd")
        .unwrap();
}

#[test]
fn uas_checks_cseq_order_and_refreshes_the_target() {
    let mut d = Dialog::uas(&invite(), "srv1").unwrap();
    assert_eq!(d.remote_seq(), Some(314159));
    let req = |method: &str, seq: u32, contact: &str| {
        parse(&format!(
            "{method} sip:bob@192.0.2.4 SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example;branch=z9hG4bK{seq}
From: Alice <sip:alice@atlanta.example>;tag=1928301774
To: Bob <sip:bob@biloxi.example>;tag=srv1
Call-ID: a84b4c76e66710
CSeq: {seq} {method}
Contact: {contact}
Content-Length: 0

"
        ))
    };
    // ACK reuses the INVITE's number.
    d.check_request(&req("ACK", 314159, "<sip:x@y>")).unwrap();
    // A re-INVITE with a new Contact is a target refresh.
    d.check_request(&req("INVITE", 314160, "<sip:alice@198.51.100.7>"))
        .unwrap();
    assert_eq!(d.remote_target(), "sip:alice@198.51.100.7");
    assert_eq!(d.remote_seq(), Some(314160));
    // Lower CSeq: out of order, answer 500 (§12.2.2).
    assert_eq!(
        d.check_request(&req("INFO", 314150, "<sip:z@z>")),
        Err(Error::CSeqOutOfOrder {
            got: 314150,
            expected_above: 314160
        })
    );
    // INFO is no target refresh.
    d.check_request(&req("INFO", 314161, "<sip:z@z>")).unwrap();
    assert_eq!(d.remote_target(), "sip:alice@198.51.100.7");
    // Another dialog's request.
    let mut other = req("BYE", 314170, "<sip:z@z>");
    other = parse(
        &String::from_utf8_lossy(other.as_bytes())
            .replace("tag=srv1", "tag=other")
            .replace("\r\n", "\n"),
    );
    assert_eq!(d.check_request(&other), Err(Error::DialogMismatch));
}

#[test]
fn notify_creates_the_subscriber_dialog() {
    let subscribe = parse(
        "SUBSCRIBE sips:bob@biloxi.example SIP/2.0
Via: SIP/2.0/TLS pc33.atlanta.example;branch=z9hG4bKs1
From: <sip:alice@atlanta.example>;tag=sub1
To: <sips:bob@biloxi.example>
Call-ID: sub-call
CSeq: 10 SUBSCRIBE
Event: presence
Contact: <sips:alice@pc33.atlanta.example>
Content-Length: 0

",
    );
    let notify = parse(
        "NOTIFY sips:alice@pc33.atlanta.example SIP/2.0
Via: SIP/2.0/TLS p1.example;branch=z9hG4bKn1
Record-Route: <sips:p1.example;lr>
From: <sips:bob@biloxi.example>;tag=notifier9
To: <sip:alice@atlanta.example>;tag=sub1
Call-ID: sub-call
CSeq: 1 NOTIFY
Event: presence
Subscription-State: active;expires=600
Contact: <sips:bob@192.0.2.4>
Content-Length: 0

",
    );
    let d = Dialog::from_notify(&subscribe, &notify).unwrap();
    assert_eq!(d.id().remote_tag, "notifier9");
    assert_eq!(d.id().local_tag, "sub1");
    assert_eq!(d.route_set(), ["<sips:p1.example;lr>"]);
    assert_eq!(d.remote_target(), "sips:bob@192.0.2.4");
    assert_eq!((d.local_seq(), d.remote_seq()), (Some(10), Some(1)));
    assert!(d.is_secure());
    // A NOTIFY for someone else's SUBSCRIBE creates nothing.
    let foreign = parse(
        &String::from_utf8_lossy(notify.as_bytes())
            .replace("tag=sub1", "tag=zzz")
            .replace("\r\n", "\n"),
    );
    assert_eq!(
        Dialog::from_notify(&subscribe, &foreign),
        Err(Error::DialogMismatch)
    );
}

#[test]
fn only_2xx_with_a_to_tag_creates_a_uac_dialog() {
    let busy = parse(
        "SIP/2.0 486 Busy Here
Via: SIP/2.0/UDP pc33.atlanta.example;branch=z9hG4bK776asdhds
From: Alice <sip:alice@atlanta.example>;tag=1928301774
To: Bob <sip:bob@biloxi.example>;tag=a6c85cf
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Content-Length: 0

",
    );
    assert!(matches!(
        Dialog::uac(&invite(), &busy),
        Err(Error::NoDialog(_))
    ));
}

#[test]
fn a_notify_without_contact_still_creates_the_dialog_and_the_2xx_brings_the_target() {
    let subscribe = parse(
        "SUBSCRIBE sip:bob@192.0.2.4 SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.example;branch=z9hG4bKs1
From: <sip:alice@atlanta.example>;tag=sub1
To: <sip:bob@biloxi.example>
Call-ID: sub-call
CSeq: 1 SUBSCRIBE
Event: presence
Contact: <sip:alice@pc33.atlanta.example>
Content-Length: 0

",
    );
    let notify = parse(
        "NOTIFY sip:alice@pc33.atlanta.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKn1
From: <sip:bob@biloxi.example>;tag=notifier9
To: <sip:alice@atlanta.example>;tag=sub1
Call-ID: sub-call
CSeq: 1 NOTIFY
Event: presence
Subscription-State: active;expires=600
Content-Length: 0

",
    );
    let mut d = Dialog::from_notify(&subscribe, &notify).unwrap();
    assert_eq!(d.remote_target(), "sip:bob@192.0.2.4");
    // The SUBSCRIBE went out again with credentials as CSeq 2 (§22.2) before the NOTIFY.
    d.advance_local_seq(2);
    d.advance_local_seq(1);
    assert_eq!(d.local_seq(), Some(2));
    let ok = parse(
        "SIP/2.0 200 OK
Via: SIP/2.0/UDP pc33.atlanta.example;branch=z9hG4bKs2
From: <sip:alice@atlanta.example>;tag=sub1
To: <sip:bob@biloxi.example>;tag=notifier9
Call-ID: sub-call
CSeq: 2 SUBSCRIBE
Contact: <sip:bob@192.0.2.9:5070>
Content-Length: 0

",
    );
    d.handle_response(Method::Subscribe, &ok);
    assert_eq!(d.remote_target(), "sip:bob@192.0.2.9:5070");
    let refresh = d
        .request(Method::Subscribe, "SIP/2.0/UDP h;branch=z9hG4bKr")
        .unwrap();
    assert_eq!(
        Message::parse(refresh.build()).unwrap().cseq().unwrap().seq,
        3
    );
}

/// What a dialog's owner does with its local sequence.
#[derive(Debug, Clone, Copy)]
enum SeqOp {
    /// A new in-dialog request.
    Request,
    /// A request challenged and resubmitted with credentials (§22.2).
    Resubmit,
    /// A number used before the dialog existed, or a lower one (changes nothing).
    Advance(u32),
}

proptest::proptest! {
    /// §12.2.1.1: however requests, resubmissions and advances interleave, no two requests of
    /// the dialog share a CSeq, and each goes above every number used before.
    #[test]
    fn no_two_requests_of_a_dialog_share_a_cseq(
        start in 1u32..1000,
        ops in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just(SeqOp::Request),
                proptest::strategy::Just(SeqOp::Resubmit),
                (0u32..1200).prop_map(SeqOp::Advance),
            ],
            0..64,
        ),
    ) {
        let text = String::from_utf8_lossy(invite().as_bytes())
            .replace("CSeq: 314159", &format!("CSeq: {start}"));
        let invite = Message::parse(Bytes::from(text)).unwrap();
        let ok = String::from_utf8_lossy(ok("<sip:p1.example;lr>").as_bytes())
            .replace("CSeq: 314159", &format!("CSeq: {start}"));
        let mut d = Dialog::uac(&invite, &Message::parse(Bytes::from(ok)).unwrap()).unwrap();
        let mut used = vec![start];
        for op in ops {
            let seq = match op {
                SeqOp::Request => {
                    let b = d.request(Method::Info, "SIP/2.0/UDP h;branch=z9hG4bKp").unwrap();
                    Message::parse(b.build()).unwrap().cseq().unwrap().seq
                }
                SeqOp::Resubmit => d.next_local_seq(),
                SeqOp::Advance(n) => {
                    d.advance_local_seq(n);
                    if n > *used.iter().max().unwrap() {
                        used.push(n);
                    }
                    continue;
                }
            };
            proptest::prop_assert!(used.iter().all(|u| *u < seq), "{seq} after {used:?}");
            used.push(seq);
        }
    }
}
