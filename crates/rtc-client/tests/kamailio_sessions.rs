//! Sessions through a real Kamailio, which challenges every INVITE (407, answered with the
//! caller's credentials), Record-Routes it and relays statefully: a call answered and hung up,
//! one cancelled while it rings, one declined; over UDP and TCP. Where Kamailio is missing the
//! interop gate skips (or, under `CI=true`, fails).

mod common;

use common::*;

use rtc_client::{Event, Events, SessionEnd};

const ALICE: &str = "sip:alice@example.test";
const BOB: &str = "sip:bob@example.test";
const OFFER: &str =
    "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";

/// Waits for bob's invitation from alice: its id.
async fn invited(events: &mut Events) -> u64 {
    match expect(events, "the invitation", |e| {
        matches!(e, Event::Invite { .. })
    })
    .await
    {
        Event::Invite { id, from, .. } => {
            assert_eq!(from, ALICE);
            id
        }
        e => unreachable!("{e:?}"),
    }
}

async fn calls(protocol: &str) {
    let Some(kam) = Kamailio::start(&format!("sessions-{protocol}"), &[]) else {
        return;
    };
    let port = kam.port_for(protocol);
    let (alice, mut alice_events, alice_profile) =
        registered(&profile_xml("alice", port, protocol), None).await;
    let (bob, mut bob_events, bob_profile) =
        registered(&profile_xml("bob", port, protocol), None).await;

    // Answered (the INVITE challenged and resubmitted), then hung up by alice.
    let call = alice.invite(BOB, OFFER).await.unwrap();
    let incoming = invited(&mut bob_events).await;
    expect(
        &mut alice_events,
        "180 Ringing",
        |e| matches!(e, Event::SessionProgress { id, status: 180, .. } if *id == call),
    )
    .await;
    bob.answer_invite(incoming, true).await.unwrap();
    let answered = expect(&mut alice_events, "the answer", |e| {
        matches!(
            e,
            Event::SessionAnswered { .. } | Event::SessionFailed { .. }
        )
    })
    .await;
    assert!(
        matches!(&answered, Event::SessionAnswered { id, sdp: Some(_) } if *id == call),
        "{answered:?}\n{}",
        kam.log()
    );
    expect(&mut bob_events, "the ACK", |e| {
        *e == Event::SessionConfirmed { id: incoming }
    })
    .await;
    alice.hang_up(call).await.unwrap();
    expect(&mut bob_events, "alice's BYE", |e| {
        *e == Event::SessionEnded {
            id: incoming,
            reason: SessionEnd::PeerHungUp,
        }
    })
    .await;

    // Cancelled while it rings.
    let call = alice.invite(BOB, OFFER).await.unwrap();
    let incoming = invited(&mut bob_events).await;
    expect(
        &mut alice_events,
        "180 Ringing",
        |e| matches!(e, Event::SessionProgress { id, status: 180, .. } if *id == call),
    )
    .await;
    alice.cancel(call).await.unwrap();
    expect(&mut bob_events, "the CANCEL", |e| {
        *e == Event::InviteCancelled { id: incoming }
    })
    .await;
    expect(&mut alice_events, "cancelled", |e| {
        *e == Event::SessionEnded {
            id: call,
            reason: SessionEnd::Cancelled,
        }
    })
    .await;

    // Declined.
    let call = alice.invite(BOB, OFFER).await.unwrap();
    let incoming = invited(&mut bob_events).await;
    bob.answer_invite(incoming, false).await.unwrap();
    expect(
        &mut alice_events,
        "603",
        |e| matches!(e, Event::SessionFailed { id, status: 603, .. } if *id == call),
    )
    .await;

    alice.disable_profile(&alice_profile).await.unwrap();
    bob.disable_profile(&bob_profile).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_calls_answered_cancelled_declined() {
    calls("udp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_calls_answered_cancelled_declined() {
    calls("tcp").await;
}
