//! Sessions (INVITE, signalling only) between two clients through the embedded registrar/proxy,
//! which challenges every INVITE (digest, answered with the caller's credentials) and
//! Record-Routes: answered, declined, cancelled, hung up from either side, an invitation that
//! expires, a BYE outside any dialog, and an answer never acknowledged (from a raw socket).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use rtc_client::{Client, Event, Events, Profile, RegisterFlags, RegistrationState, SessionEnd};

const ALICE: &str = "sip:alice@example.test";
const BOB: &str = "sip:bob@example.test";
const OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
const ANSWER: &str = "v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";

struct Pair {
    alice: Client,
    alice_events: Events,
    alice_profile: Profile,
    bob: Client,
    bob_events: Events,
    bob_profile: Profile,
}

/// alice and bob registered at a fresh embedded server; bob's client as `tweak` makes it.
async fn pair(
    tweak: impl FnOnce(&mut rtc_client::ClientConfig),
) -> (Pair, rtc_client::server::EmbeddedServer) {
    let (server, port) = embedded_server().await;
    let (alice, alice_events, alice_profile) =
        registered(&profile_xml("alice", port, "udp"), None).await;
    let (bob, mut bob_events) = client_with(None, tweak).await;
    let bob_profile = bob
        .create_profile(&profile_xml("bob", port, "udp"))
        .unwrap();
    bob.enable_profile(&bob_profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut bob_events, RegistrationState::Registered).await;
    let pair = Pair {
        alice,
        alice_events,
        alice_profile,
        bob,
        bob_events,
        bob_profile,
    };
    (pair, server)
}

impl Pair {
    /// alice calls bob, who is told (with the offer) and rings: (alice's id, bob's id).
    async fn call(&mut self) -> (u64, u64) {
        let call = self.alice.invite(BOB, OFFER).await.unwrap();
        let incoming = match expect(&mut self.bob_events, "the invitation", |e| {
            matches!(e, Event::Invite { .. })
        })
        .await
        {
            Event::Invite { id, from, sdp } => {
                assert_eq!(from, ALICE);
                assert_eq!(sdp.as_deref(), Some(OFFER.as_bytes()));
                id
            }
            e => unreachable!("{e:?}"),
        };
        expect(
            &mut self.alice_events,
            "180 Ringing",
            |e| matches!(e, Event::SessionProgress { id, status: 180, .. } if *id == call),
        )
        .await;
        (call, incoming)
    }

    /// bob accepts with his answer; alice gets it, bob the ACK.
    async fn answer(&mut self, call: u64, incoming: u64) {
        self.bob.accept_invite(incoming, ANSWER).await.unwrap();
        let answered = expect(&mut self.alice_events, "answered", |e| {
            matches!(
                e,
                Event::SessionAnswered { .. } | Event::SessionFailed { .. }
            )
        })
        .await;
        assert_eq!(
            answered,
            Event::SessionAnswered {
                id: call,
                sdp: Some(Bytes::from_static(ANSWER.as_bytes()))
            }
        );
        expect(&mut self.bob_events, "the ACK", |e| {
            *e == Event::SessionConfirmed { id: incoming }
        })
        .await;
    }

    async fn log_off(self) {
        self.alice
            .disable_profile(&self.alice_profile)
            .await
            .unwrap();
        self.bob.disable_profile(&self.bob_profile).await.unwrap();
    }
}

async fn ended(events: &mut Events, id: u64, reason: SessionEnd) {
    expect(events, &format!("session {id} {reason}"), |e| {
        *e == Event::SessionEnded { id, reason }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_then_hung_up_by_the_caller() {
    let (mut p, _server) = pair(|_| {}).await;
    let (call, incoming) = p.call().await;
    p.answer(call, incoming).await;
    p.alice.hang_up(call).await.unwrap();
    ended(&mut p.alice_events, call, SessionEnd::HungUp).await;
    ended(&mut p.bob_events, incoming, SessionEnd::PeerHungUp).await;
    // Gone on both sides.
    assert!(p.alice.hang_up(call).await.is_err());
    assert!(p.bob.hang_up(incoming).await.is_err());
    p.log_off().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_then_hung_up_by_the_callee() {
    let (mut p, _server) = pair(|_| {}).await;
    let (call, incoming) = p.call().await;
    p.answer(call, incoming).await;
    p.bob.hang_up(incoming).await.unwrap();
    ended(&mut p.bob_events, incoming, SessionEnd::HungUp).await;
    ended(&mut p.alice_events, call, SessionEnd::PeerHungUp).await;
    p.log_off().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined() {
    let (mut p, _server) = pair(|_| {}).await;
    let (call, incoming) = p.call().await;
    p.bob.answer_invite(incoming, false).await.unwrap();
    expect(
        &mut p.alice_events,
        "603",
        |e| matches!(e, Event::SessionFailed { id, status: 603, .. } if *id == call),
    )
    .await;
    assert!(p.bob.answer_invite(incoming, true).await.is_err());
    p.log_off().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_before_the_answer() {
    let (mut p, _server) = pair(|_| {}).await;
    let (call, incoming) = p.call().await;
    p.alice.cancel(call).await.unwrap();
    expect(&mut p.bob_events, "the cancel", |e| {
        *e == Event::InviteCancelled { id: incoming }
    })
    .await;
    ended(&mut p.alice_events, call, SessionEnd::Cancelled).await;
    assert!(p.bob.answer_invite(incoming, true).await.is_err());
    p.log_off().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_invitation_expires_with_480() {
    let (mut p, _server) = pair(|c| c.invite_expiry = Duration::from_secs(1)).await;
    let (call, incoming) = p.call().await;
    ended(&mut p.bob_events, incoming, SessionEnd::Expired).await;
    expect(
        &mut p.alice_events,
        "480",
        |e| matches!(e, Event::SessionFailed { id, status: 480, .. } if *id == call),
    )
    .await;
    p.log_off().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bye_in_no_dialog_gets_481() {
    let port = free_port();
    let (p, _server) = pair(|c| c.transport.udp = vec![([127, 0, 0, 1], port).into()]).await;
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let me = socket.local_addr().unwrap();
    let bye = format!(
        "BYE sip:bob@127.0.0.1:{port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKnodialog;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:eve@example.test>;tag=e1\r\n\
         To: <{BOB}>;tag=nobody\r\n\
         Call-ID: no-such-call@127.0.0.1\r\n\
         CSeq: 1 BYE\r\n\
         Content-Length: 0\r\n\r\n"
    );
    socket.send_to(bye.as_bytes(), ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = socket.recv_from(&mut buf).expect("an answer to the BYE");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("SIP/2.0 481 "), "{answer}");
    p.log_off().await;
}

/// A caller that never ACKs, played by a raw socket straight to bob (T1 = 20 ms): bob's 200 comes
/// again and again, then, 64·T1 after it, his BYE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_never_acknowledged_is_retransmitted_then_hung_up() {
    let port = free_port();
    let (mut p, _server) = pair(|c| {
        c.transport.udp = vec![([127, 0, 0, 1], port).into()];
        c.timers.t1 = Duration::from_millis(20);
    })
    .await;
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let me = socket.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:bob@127.0.0.1:{port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKnoack;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:eve@example.test>;tag=e1\r\n\
         To: <{BOB}>\r\n\
         Call-ID: never-acked@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:eve@{me}>\r\n\
         Content-Length: 0\r\n\r\n"
    );
    socket
        .send_to(invite.as_bytes(), ("127.0.0.1", port))
        .unwrap();
    let incoming = match expect(&mut p.bob_events, "eve's call", |e| {
        matches!(e, Event::Invite { .. })
    })
    .await
    {
        Event::Invite { id, .. } => id,
        e => unreachable!("{e:?}"),
    };
    p.bob.answer_invite(incoming, true).await.unwrap();
    let mut oks = 0;
    let mut buf = [0u8; 4096];
    loop {
        let (n, _) = socket
            .recv_from(&mut buf)
            .expect("bob's 200s, then his BYE");
        let text = String::from_utf8_lossy(&buf[..n]);
        if text.starts_with("SIP/2.0 200 ") {
            oks += 1;
        } else if text.starts_with("BYE ") {
            assert!(text.contains("Call-ID: never-acked@127.0.0.1"), "{text}");
            break;
        }
    }
    // The first, then T1 doubling to T2 (4 s) within 64·T1 = 1.28 s: 20, 40, 80, … ms.
    assert!(oks >= 4, "{oks} 200s");
    ended(&mut p.bob_events, incoming, SessionEnd::NoAck).await;
    p.log_off().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_off_hangs_up() {
    let (mut p, _server) = pair(|_| {}).await;
    let (call, incoming) = p.call().await;
    p.answer(call, incoming).await;
    p.alice.disable_profile(&p.alice_profile).await.unwrap();
    ended(&mut p.alice_events, call, SessionEnd::HungUp).await;
    ended(&mut p.bob_events, incoming, SessionEnd::PeerHungUp).await;
    p.bob.disable_profile(&p.bob_profile).await.unwrap();
}

/// A CANCEL from a raw socket straight to bob: the CANCEL gets 200, the INVITE 487, and bob's
/// application hears of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_gets_200_and_the_invite_487() {
    let port = free_port();
    let (mut p, _server) = pair(|c| c.transport.udp = vec![([127, 0, 0, 1], port).into()]).await;
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let me = socket.local_addr().unwrap();
    let request = |method: &str| {
        format!(
            "{method} sip:bob@127.0.0.1:{port} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {me};branch=z9hG4bKcancelled;rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:eve@example.test>;tag=e1\r\n\
             To: <{BOB}>\r\n\
             Call-ID: cancelled@127.0.0.1\r\n\
             CSeq: 1 {method}\r\n\
             Contact: <sip:eve@{me}>\r\n\
             Content-Length: 0\r\n\r\n"
        )
    };
    socket
        .send_to(request("INVITE").as_bytes(), ("127.0.0.1", port))
        .unwrap();
    let incoming = match expect(&mut p.bob_events, "eve's call", |e| {
        matches!(e, Event::Invite { .. })
    })
    .await
    {
        Event::Invite { id, .. } => id,
        e => unreachable!("{e:?}"),
    };
    socket
        .send_to(request("CANCEL").as_bytes(), ("127.0.0.1", port))
        .unwrap();
    let (mut cancel_ok, mut terminated) = (false, false);
    let mut buf = [0u8; 4096];
    while !(cancel_ok && terminated) {
        let (n, _) = socket
            .recv_from(&mut buf)
            .expect("the answers to CANCEL and INVITE");
        let text = String::from_utf8_lossy(&buf[..n]);
        cancel_ok |= text.starts_with("SIP/2.0 200 ") && text.contains("CSeq: 1 CANCEL");
        terminated |= text.starts_with("SIP/2.0 487 ") && text.contains("CSeq: 1 INVITE");
    }
    expect(&mut p.bob_events, "the cancel", |e| {
        *e == Event::InviteCancelled { id: incoming }
    })
    .await;
    assert!(p.bob.answer_invite(incoming, true).await.is_err());
    p.log_off().await;
}
