//! The session core on a simulated clock: time is a variable the tests move.

use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_parse::{HeaderName, Message, MessageBuilder, Method, TransportKind};
use sip_txn::TimerConfig;

use super::SessionEnd;
use super::machine::{InDialog, MAX_RINGING, Output, Sessions};
use crate::{Endpoint, Error, Event};

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

#[allow(clippy::disallowed_methods)] // reason: simulated time starts somewhere
fn start() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn sessions() -> Sessions {
    Sessions::new(TimerConfig::default(), Duration::from_secs(180))
}

fn local() -> Endpoint {
    Endpoint::new("bob").with(TransportKind::Udp, "192.0.2.2:5060")
}

fn msg(text: &str) -> Message {
    Message::parse(Bytes::from(text.replace('\n', "\r\n"))).unwrap()
}

/// alice's INVITE to bob, as bob receives it.
fn invite() -> Message {
    msg(&format!(
        "INVITE sip:bob@192.0.2.2:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa1
Max-Forwards: 70
From: <sip:alice@example.test>;tag=caller
To: <sip:bob@example.test>
Call-ID: call-1
CSeq: 1 INVITE
Contact: <sip:alice@192.0.2.1:5060>
Content-Type: application/sdp
Content-Length: {}

{}",
        OFFER.len(),
        OFFER.replace("\r\n", "\n")
    ))
}

/// A request from alice in bob's dialog (To tag `callee`).
fn from_caller(method: &str, seq: u32) -> Message {
    msg(&format!(
        "{method} sip:bob@192.0.2.2:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{method}{seq}
Max-Forwards: 70
From: <sip:alice@example.test>;tag=caller
To: <sip:bob@example.test>;tag=callee
Call-ID: call-1
CSeq: {seq} {method}
Content-Length: 0

"
    ))
}

fn outputs(s: &mut Sessions) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn events(s: &mut Sessions) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// bob rang (180) for alice's INVITE at `t`: the session id.
fn ringing(s: &mut Sessions, t: Instant) -> u64 {
    let id = s
        .incoming(t, invite(), "callee", local(), TransportKind::Udp)
        .unwrap();
    match &outputs(s)[..] {
        [Output::Respond { response, .. }] => {
            assert_eq!(response.status(), Some(180));
            assert_eq!(response.to_header().unwrap().tag(), Some("callee"));
        }
        other => panic!("{other:?}"),
    }
    match &events(s)[..] {
        [Event::Invite { id: i, from, sdp }] => {
            assert_eq!((*i, from.as_str()), (id, "sip:alice@example.test"));
            assert_eq!(sdp.as_deref(), Some(OFFER.as_bytes()));
        }
        other => panic!("{other:?}"),
    }
    id
}

/// Runs every timer until `until`: the times (from `t0`) of each 2xx retransmission.
fn retransmissions(s: &mut Sessions, t0: Instant, until: Instant) -> Vec<Duration> {
    let mut at = Vec::new();
    while let Some(wake) = s.poll_timeout().filter(|w| *w <= until) {
        s.handle_timeout(wake);
        for o in outputs(s) {
            match o {
                Output::Retransmit { response, .. } => {
                    assert_eq!(response.status(), Some(200));
                    at.push(wake - t0);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    at
}

#[test]
fn the_2xx_goes_again_from_t1_doubling_to_t2_until_the_ack() {
    let mut s = sessions();
    let t0 = start();
    let id = ringing(&mut s, t0);
    s.accept(t0, id, Some(Bytes::from_static(b"v=0\r\n")))
        .unwrap();
    match &outputs(&mut s)[..] {
        [Output::Respond { response, .. }] => {
            assert_eq!(response.status(), Some(200));
            assert_eq!(response.body(), b"v=0\r\n");
            assert!(response.header(HeaderName::Contact).is_some());
        }
        other => panic!("{other:?}"),
    }
    // 500 ms, then 1, 2, 4 s, then every T2 = 4 s (RFC 3261 §13.3.1.4).
    let sent = retransmissions(&mut s, t0, t0 + ms(16_000));
    assert_eq!(
        sent,
        [500, 1_500, 3_500, 7_500, 11_500, 15_500].map(ms).to_vec()
    );
    // The ACK stops them; a copy of it changes nothing.
    assert!(s.ack(t0 + ms(16_000), &from_caller("ACK", 1)));
    assert_eq!(events(&mut s), [Event::SessionConfirmed { id }]);
    assert!(s.ack(t0 + ms(16_100), &from_caller("ACK", 1)));
    assert!(events(&mut s).is_empty());
    assert_eq!(s.poll_timeout(), None);
    assert!(outputs(&mut s).is_empty());
}

#[test]
fn no_ack_in_64_t1_means_bye() {
    let mut s = sessions();
    let t0 = start();
    let id = ringing(&mut s, t0);
    s.accept(t0, id, None).unwrap();
    // No SDP given: every offered stream declined (port 0).
    match &outputs(&mut s)[..] {
        [Output::Respond { response, .. }] => {
            let body = std::str::from_utf8(response.body()).unwrap();
            assert!(body.contains("m=audio 0 RTP/AVP 0"), "{body}");
        }
        other => panic!("{other:?}"),
    }
    let sent = retransmissions(&mut s, t0, t0 + ms(31_999));
    assert_eq!(sent.len(), 10, "{sent:?}");
    assert_eq!(s.poll_timeout(), Some(t0 + ms(32_000)));
    s.handle_timeout(t0 + ms(32_000));
    match &outputs(&mut s)[..] {
        [Output::Request { id: i, request }] => {
            assert_eq!(*i, id);
            assert_eq!(request.method(), Some(Method::Bye));
            assert_eq!(request.request_uri(), Some("sip:alice@192.0.2.1:5060"));
            assert_eq!(request.to_header().unwrap().tag(), Some("caller"));
            assert_eq!(request.from_header().unwrap().tag(), Some("callee"));
            assert_eq!(request.call_id().unwrap(), "call-1");
            assert_eq!(request.cseq().unwrap().method, Method::Bye);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        events(&mut s),
        [Event::SessionEnded {
            id,
            reason: SessionEnd::NoAck
        }]
    );
    assert_eq!(s.poll_timeout(), None);
    // A late ACK finds nothing.
    assert!(!s.ack(t0 + ms(33_000), &from_caller("ACK", 1)));
}

#[test]
fn an_unanswered_invitation_expires_with_480() {
    let mut s = Sessions::new(TimerConfig::default(), Duration::from_secs(30));
    let t0 = start();
    let id = ringing(&mut s, t0);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    s.handle_timeout(t0 + Duration::from_secs(29));
    assert!(outputs(&mut s).is_empty());
    s.handle_timeout(t0 + Duration::from_secs(30));
    match &outputs(&mut s)[..] {
        [Output::Respond { response, .. }] => {
            assert_eq!(response.status(), Some(480));
            assert_eq!(response.to_header().unwrap().tag(), Some("callee"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        events(&mut s),
        [Event::SessionEnded {
            id,
            reason: SessionEnd::Expired
        }]
    );
    assert!(matches!(
        s.accept(t0 + Duration::from_secs(31), id, None),
        Err(Error::UnknownInvite(_))
    ));
}

#[test]
fn cancel_before_the_answer_ends_the_invitation() {
    let mut s = sessions();
    let t0 = start();
    let id = ringing(&mut s, t0);
    // The transaction layer answered the CANCEL 200 and the INVITE 487.
    s.cancelled(id);
    assert_eq!(events(&mut s), [Event::InviteCancelled { id }]);
    assert!(outputs(&mut s).is_empty());
    assert!(s.accept(t0, id, None).is_err());
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn a_cancel_that_beat_our_2xx_to_the_transaction_ends_the_session() {
    let mut s = sessions();
    let t0 = start();
    let id = ringing(&mut s, t0);
    s.accept(t0, id, None).unwrap();
    outputs(&mut s);
    // The transaction answered 487 before our 200 reached it: no 200 left, none may follow.
    s.cancelled(id);
    assert_eq!(events(&mut s), [Event::InviteCancelled { id }]);
    assert_eq!(s.poll_timeout(), None);
    s.handle_timeout(t0 + Duration::from_secs(1));
    assert!(outputs(&mut s).is_empty());
}

#[test]
fn declined_is_603() {
    let mut s = sessions();
    let t0 = start();
    let id = ringing(&mut s, t0);
    s.decline(id).unwrap();
    match &outputs(&mut s)[..] {
        [Output::Respond { response, .. }] => assert_eq!(response.status(), Some(603)),
        other => panic!("{other:?}"),
    }
    assert!(s.decline(id).is_err());
}

#[test]
fn requests_in_no_dialog_get_481_and_bye_ends_the_session() {
    let mut s = sessions();
    let t0 = start();
    assert_eq!(
        s.in_dialog(&from_caller("BYE", 2)),
        InDialog::Answer(481, "Call/Transaction Does Not Exist")
    );
    let id = ringing(&mut s, t0);
    // Ringing: no dialog yet.
    assert_eq!(
        s.in_dialog(&from_caller("BYE", 2)),
        InDialog::Answer(481, "Call/Transaction Does Not Exist")
    );
    s.accept(t0, id, None).unwrap();
    assert!(s.ack(t0, &from_caller("ACK", 1)));
    events(&mut s);
    // In the dialog: a re-INVITE is refused, other methods go their way, BYE ends it.
    assert_eq!(
        s.in_dialog(&from_caller("INVITE", 2)),
        InDialog::Answer(488, "Not Acceptable Here")
    );
    assert_eq!(s.in_dialog(&from_caller("INFO", 3)), InDialog::Pass);
    assert_eq!(
        s.in_dialog(&from_caller("BYE", 1)),
        InDialog::Answer(500, "CSeq Out of Order")
    );
    assert_eq!(
        s.in_dialog(&from_caller("BYE", 4)),
        InDialog::Answer(200, "OK")
    );
    assert_eq!(
        events(&mut s),
        [Event::SessionEnded {
            id,
            reason: SessionEnd::PeerHungUp
        }]
    );
    assert_eq!(
        s.in_dialog(&from_caller("BYE", 5)),
        InDialog::Answer(481, "Call/Transaction Does Not Exist")
    );
}

#[test]
fn a_callee_hanging_up_before_the_ack_waits_for_it() {
    let mut s = sessions();
    let t0 = start();
    let id = ringing(&mut s, t0);
    s.accept(t0, id, None).unwrap();
    outputs(&mut s);
    s.hang_up(t0, id).unwrap();
    assert!(outputs(&mut s).is_empty(), "§15: no BYE before the ACK");
    assert!(s.ack(t0 + ms(100), &from_caller("ACK", 1)));
    assert!(matches!(
        &outputs(&mut s)[..],
        [Output::Request { request, .. }] if request.method() == Some(Method::Bye)
    ));
    assert_eq!(
        events(&mut s),
        [
            Event::SessionConfirmed { id },
            Event::SessionEnded {
                id,
                reason: SessionEnd::HungUp
            }
        ]
    );
}

#[test]
fn a_flood_of_invitations_is_answered_busy() {
    let mut s = sessions();
    let t0 = start();
    for _ in 0..MAX_RINGING {
        ringing(&mut s, t0);
    }
    let id = s
        .incoming(t0, invite(), "callee", local(), TransportKind::Udp)
        .unwrap();
    match &outputs(&mut s)[..] {
        [Output::Respond { id: i, response }] => {
            assert_eq!((*i, response.status()), (id, Some(486)));
        }
        other => panic!("{other:?}"),
    }
    assert!(events(&mut s).is_empty());
    assert!(!s.contains(id));
}

#[test]
fn an_invite_requiring_an_extension_is_refused_420() {
    let mut s = sessions();
    let t0 = start();
    let text = String::from_utf8_lossy(invite().as_bytes()).replace(
        "CSeq: 1 INVITE\r\n",
        "CSeq: 1 INVITE\r\nRequire: 100rel, timer\r\n",
    );
    let required = Message::parse(Bytes::from(text)).unwrap();
    let id = s
        .incoming(t0, required, "callee", local(), TransportKind::Udp)
        .unwrap();
    match &outputs(&mut s)[..] {
        [Output::Respond { response, .. }] => {
            assert_eq!(response.status(), Some(420));
            assert_eq!(
                response.header_str(HeaderName::Unsupported),
                Some("100rel, timer")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(events(&mut s).is_empty() && !s.contains(id));
}

#[test]
fn logging_off_ends_every_session_as_its_state_allows() {
    let mut s = sessions();
    let t0 = start();
    let ringing_id = ringing(&mut s, t0);
    s.end(t0, ringing_id);
    assert!(matches!(
        &outputs(&mut s)[..],
        [Output::Respond { response, .. }] if response.status() == Some(480)
    ));
    let (calling_id, _) = calling(&mut s);
    s.end(t0, calling_id);
    assert_eq!(outputs(&mut s), [Output::Cancel { id: calling_id }]);
    let (answered_id, invite) = calling(&mut s);
    s.response(t0, answered_id, &answer(&invite, 200));
    outputs(&mut s);
    s.end(t0, answered_id);
    assert!(matches!(
        &outputs(&mut s)[..],
        [Output::Request { request, .. }] if request.method() == Some(Method::Bye)
    ));
    let ended: Vec<_> = events(&mut s)
        .into_iter()
        .filter(|e| matches!(e, Event::SessionEnded { .. }))
        .collect();
    assert_eq!(
        ended,
        [
            Event::SessionEnded {
                id: ringing_id,
                reason: SessionEnd::HungUp
            },
            Event::SessionEnded {
                id: answered_id,
                reason: SessionEnd::HungUp
            }
        ]
    );
}

// The caller's side.

fn alice() -> Endpoint {
    Endpoint::new("alice").with(TransportKind::Udp, "192.0.2.1:5060")
}

/// alice calls bob: the session and its INVITE.
fn calling(s: &mut Sessions) -> (u64, Message) {
    let id = s
        .invite(
            "sip:bob@example.test",
            "\"Alice\" <sip:alice@example.test>",
            alice(),
            TransportKind::Udp,
            Some(Bytes::from_static(OFFER.as_bytes())),
            "test",
        )
        .unwrap();
    match outputs(s).pop() {
        Some(Output::Request { id: i, request }) if i == id => {
            assert_eq!(request.method(), Some(Method::Invite));
            assert_eq!(request.body(), OFFER.as_bytes());
            (id, request)
        }
        other => panic!("{other:?}"),
    }
}

/// bob's answer to `invite`, with his Contact and SDP.
fn answer(invite: &Message, code: u16) -> Message {
    let b = MessageBuilder::response_to(invite, code, "Reason", Some("callee")).unwrap();
    let b = if (200..300).contains(&code) {
        b.header("Contact", "<sip:bob@192.0.2.2:5060>")
            .unwrap()
            .body("application/sdp", Bytes::from_static(b"v=0\r\n"))
            .unwrap()
    } else {
        b
    };
    Message::parse(b.build()).unwrap()
}

#[test]
fn the_caller_acks_every_2xx_and_hangs_up() {
    let mut s = sessions();
    let t0 = start();
    let (id, invite) = calling(&mut s);
    s.response(t0, id, &answer(&invite, 100));
    s.response(t0, id, &answer(&invite, 180));
    assert!(matches!(
        &events(&mut s)[..],
        [Event::SessionProgress { status: 180, .. }]
    ));
    assert!(matches!(s.hang_up(t0, id), Err(Error::SessionState { .. })));
    let ok = answer(&invite, 200);
    s.response(t0, id, &ok);
    let ack = match &outputs(&mut s)[..] {
        [Output::Ack { request, .. }] => request.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(ack.method(), Some(Method::Ack));
    assert_eq!(ack.request_uri(), Some("sip:bob@192.0.2.2:5060"));
    assert_eq!(ack.cseq().unwrap().seq, 1);
    assert_eq!(ack.to_header().unwrap().tag(), Some("callee"));
    assert_eq!(
        events(&mut s),
        [Event::SessionAnswered {
            id,
            sdp: Some(Bytes::from_static(b"v=0\r\n"))
        }]
    );
    // A retransmitted 2xx gets the same ACK again (§13.2.2.4).
    s.response(t0 + ms(500), id, &ok);
    assert_eq!(
        outputs(&mut s),
        [Output::Ack {
            id,
            request: ack.clone()
        }]
    );
    assert!(matches!(s.cancel(id), Err(Error::SessionState { .. })));
    s.hang_up(t0 + ms(600), id).unwrap();
    match &outputs(&mut s)[..] {
        [Output::Request { request, .. }] => {
            assert_eq!(request.method(), Some(Method::Bye));
            assert_eq!(request.cseq().unwrap().seq, 2);
            assert_eq!(request.request_uri(), Some("sip:bob@192.0.2.2:5060"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        events(&mut s),
        [Event::SessionEnded {
            id,
            reason: SessionEnd::HungUp
        }]
    );
    assert!(matches!(s.hang_up(t0, id), Err(Error::UnknownSession(_))));
}

#[test]
fn a_2xx_from_another_fork_is_acked_and_hung_up() {
    let mut s = sessions();
    let t0 = start();
    let (id, invite) = calling(&mut s);
    s.response(t0, id, &answer(&invite, 200));
    outputs(&mut s);
    events(&mut s);
    let other = Message::parse(
        MessageBuilder::response_to(&invite, 200, "OK", Some("fork2"))
            .unwrap()
            .header("Contact", "<sip:bob@192.0.2.3:5060>")
            .unwrap()
            .build(),
    )
    .unwrap();
    s.response(t0, id, &other);
    match &outputs(&mut s)[..] {
        [
            Output::Ack { request: ack, .. },
            Output::Request { request: bye, .. },
        ] => {
            for r in [ack, bye] {
                assert_eq!(r.to_header().unwrap().tag(), Some("fork2"));
                assert_eq!(r.request_uri(), Some("sip:bob@192.0.2.3:5060"));
            }
            assert_eq!(bye.method(), Some(Method::Bye));
        }
        other => panic!("{other:?}"),
    }
    assert!(events(&mut s).is_empty(), "the session itself goes on");
    s.hang_up(t0, id).unwrap();
}

#[test]
fn a_refused_call_fails_with_its_status() {
    let mut s = sessions();
    let t0 = start();
    let (id, invite) = calling(&mut s);
    s.response(t0, id, &answer(&invite, 486));
    assert!(matches!(
        &events(&mut s)[..],
        [Event::SessionFailed { status: 486, .. }]
    ));
    assert!(outputs(&mut s).is_empty(), "the transaction ACKs a non-2xx");
    let (id, _) = calling(&mut s);
    s.invite_failed(id, 408, "no answer".into());
    assert!(matches!(
        &events(&mut s)[..],
        [Event::SessionFailed { status: 408, .. }]
    ));
}

#[test]
fn a_cancelled_call_ends_and_a_2xx_racing_the_cancel_is_acked_and_hung_up() {
    let mut s = sessions();
    let t0 = start();
    let (id, invite) = calling(&mut s);
    s.cancel(id).unwrap();
    s.cancel(id).unwrap();
    assert_eq!(outputs(&mut s), [Output::Cancel { id }], "one CANCEL");
    s.response(t0, id, &answer(&invite, 487));
    assert_eq!(
        events(&mut s),
        [Event::SessionEnded {
            id,
            reason: SessionEnd::Cancelled
        }]
    );

    let (id, invite) = calling(&mut s);
    s.cancel(id).unwrap();
    outputs(&mut s);
    s.response(t0, id, &answer(&invite, 200));
    let methods: Vec<_> = outputs(&mut s)
        .into_iter()
        .map(|o| match o {
            Output::Ack { .. } => "ACK",
            Output::Request { request, .. } if request.method() == Some(Method::Bye) => "BYE",
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(methods, ["ACK", "BYE"]);
    assert_eq!(
        events(&mut s),
        [Event::SessionEnded {
            id,
            reason: SessionEnd::Cancelled
        }]
    );
}

#[test]
fn the_dialog_follows_a_resubmitted_invite() {
    let mut s = sessions();
    let t0 = start();
    let (id, invite) = calling(&mut s);
    // The INVITE went again with credentials as CSeq 2 (RFC 3261 §22.2).
    let again = msg(&String::from_utf8_lossy(invite.as_bytes())
        .replace("CSeq: 1 INVITE", "CSeq: 2 INVITE")
        .replace("\r\n", "\n"));
    assert!(s.challenged_invite(id).is_some());
    s.resubmitted(id, again.clone());
    s.response(t0, id, &answer(&again, 200));
    match &outputs(&mut s)[..] {
        [Output::Ack { request, .. }] => assert_eq!(request.cseq().unwrap().seq, 2),
        other => panic!("{other:?}"),
    }
    s.hang_up(t0, id).unwrap();
    match &outputs(&mut s)[..] {
        [Output::Request { request, .. }] => assert_eq!(request.cseq().unwrap().seq, 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_call_to_what_is_no_sip_uri_is_refused() {
    let mut s = sessions();
    assert!(matches!(
        s.invite(
            "mailto:bob@example.test",
            "<sip:a@b>",
            alice(),
            TransportKind::Udp,
            None,
            "t"
        ),
        Err(Error::InvalidUri(_))
    ));
}
