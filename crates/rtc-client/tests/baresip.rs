//! Interop with a real third-party user agent: baresip 1.0 from Debian (`baresip-core`),
//! headless, driven through its control interface (see `common/baresip.rs`), both registered
//! with the test Kamailio. Messages, presence (through Kamailio's presence server and peer to
//! peer), watcher decisions and calls go both ways; after both log off, Kamailio holds
//! no registration, subscription or publication. Skipped, with the reason printed, where
//! Kamailio or baresip is missing; under `CI=true` that fails instead (`.ci/run` installs both).

mod common;

use common::baresip::{Baresip, Options, ServerState};
use common::*;
use rtc_client::{
    Client, Event, Events, Profile, RegistrationState, SessionEnd, Status, Store, WatcherState,
};

const ALICE: &str = "sip:alice@example.test";
const BOB: &str = "sip:bob@example.test";

/// Kamailio (with `args`) for a baresip test, or `None` where one of them is missing.
fn kamailio(name: &str, args: &[&str]) -> Option<Kamailio> {
    if !sip_transport::testkit::interop(&["kamailio", "baresip"]) {
        return None;
    }
    let mut all = vec!["-A", "WITHOUT_TLS", "-A", "WITH_SUBS_DB"];
    all.extend_from_slice(args);
    Kamailio::start(&format!("baresip-{name}"), &all)
}

/// Our client registered as alice over UDP, with presence (stored in `dir`) when `dir` is given.
async fn alice(kam: &Kamailio, dir: Option<&TempDir>) -> (Client, Events, Profile) {
    let (client, events, profile) = registered(&profile_xml("alice", kam.port, "udp"), None).await;
    if let Some(dir) = dir {
        client
            .enable_presence(Store::file(dir.path("alice.xml")))
            .await
            .unwrap();
    }
    (client, events, profile)
}

/// Both log off: our client unregisters (and ends its subscriptions and publication), then
/// baresip quits. Then Kamailio holds nothing of either.
async fn log_off(kam: &Kamailio, alice: (Client, Events, Profile), bob: Baresip) {
    alice_logs_off(alice).await;
    bob_quits(kam, bob).await;
}

/// Our client unregisters (ending its subscriptions and publication) and stops.
async fn alice_logs_off((client, mut events, profile): (Client, Events, Profile)) {
    client.disable_profile(&profile).await.unwrap();
    expect_state(&mut events, RegistrationState::NotRegistered).await;
    client.shutdown().await.unwrap();
}

/// baresip quits (unregistering, unsubscribing, unpublishing); then Kamailio holds nothing.
async fn bob_quits(kam: &Kamailio, bob: Baresip) {
    bob.quit().await;
    let mut state = ServerState::of(kam);
    // baresip 1.0 sends its un-PUBLISH as it quits but exits once unregistered, without
    // waiting for it (Kamailio challenges it, and the resubmission may never leave): its
    // publication can outlive it until it expires. Ours cannot.
    state.publications.retain(|p| p != BOB);
    assert_eq!(
        state,
        ServerState::default(),
        "Kamailio still holds state after logout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_and_exchanges_utf8_messages_both_ways() {
    let Some(kam) = kamailio("messages", &[]) else {
        return;
    };
    let alice = alice(&kam, None).await;
    let mut bob = Baresip::start(
        &kam,
        "bob",
        Options {
            contacts: vec![format!("\"Alice\" <{ALICE}>")],
            ..Options::default()
        },
    )
    .await;
    bob.registered().await;
    let state = ServerState::of(&kam);
    assert!(
        state.registrations.contains(&"alice".to_owned())
            && state.registrations.contains(&"bob".to_owned()),
        "{state:?}"
    );

    // To baresip: it prints `sip:alice@example.test: "text"`.
    let text = "Grüße, ça va? 日本語 🎉";
    alice.0.send_message(BOB, text).await.unwrap();
    let line = bob.expect_console(text).await;
    assert!(line.contains(ALICE), "{line}");
    // baresip 1.0 takes text/plain only: a typing notification (RFC 3994) is refused with 415,
    // and our client reports the refusal.
    match alice.0.set_typing(BOB, true).await {
        Err(rtc_client::Error::Refused { status: 415, .. }) => {}
        other => panic!("isComposing to baresip: {other:?}"),
    }

    // From baresip (`/message` goes to its current contact, alice).
    let mut events = alice.1;
    let reply = "Ελληνικά — ñandú ✓";
    bob.command("message", Some(reply)).await;
    match expect(&mut events, "message from bob", |e| {
        matches!(e, Event::Message { .. })
    })
    .await
    {
        Event::Message {
            from,
            content_type,
            text,
            ..
        } => {
            assert_eq!(from, BOB);
            assert!(
                content_type.to_ascii_lowercase().starts_with("text/plain"),
                "{content_type}"
            );
            assert_eq!(text, reply);
        }
        e => unreachable!("{e:?}"),
    }
    log_off(&kam, (alice.0, events, alice.2), bob).await;
}

/// baresip's contacts file line for alice, subscribing to her presence.
fn alice_watched() -> Vec<String> {
    vec![format!("\"Alice\" <{ALICE}>;presence=p2p")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_both_ways_through_the_presence_server() {
    let Some(kam) = kamailio("presence-server", &[]) else {
        return;
    };
    let dir = TempDir::new("baresip-presence-server-store");
    let (alice, mut events, profile) = alice(&kam, Some(&dir)).await;
    alice
        .set_local_presence(Status::Online, Some("at my desk"))
        .await
        .unwrap();
    alice.add_buddy(BOB, "Bob").await.unwrap();
    // baresip publishes `open` once registered, and subscribes to alice at Kamailio.
    let mut bob = Baresip::start(
        &kam,
        "bob",
        Options {
            contacts: alice_watched(),
            publish_interval: 600,
        },
    )
    .await;
    bob.registered().await;
    expect_buddy(&mut events, BOB, Status::Online).await;
    bob.expect_contact(ALICE, "Online").await;

    // Changes go through the server both ways.
    alice.set_local_presence(Status::Busy, None).await.unwrap();
    bob.expect_contact(ALICE, "Busy").await;
    bob.command("presence_offline", None).await;
    expect_buddy(&mut events, BOB, Status::Offline).await;
    alice
        .set_local_presence(Status::Online, Some("back"))
        .await
        .unwrap();
    bob.expect_contact(ALICE, "Online").await;
    let state = ServerState::of(&kam);
    for watch in [format!("{ALICE} -> {BOB}"), format!("{BOB} -> {ALICE}")] {
        assert!(state.subscriptions.contains(&watch), "{watch}: {state:?}");
    }
    log_off(&kam, (alice, events, profile), bob).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_peer_to_peer_with_the_watcher_allowed_then_blocked() {
    // No presence server: Kamailio relays SUBSCRIBE to the user; each is its own notifier.
    let Some(kam) = kamailio("presence-p2p", &["-A", "WITH_P2P"]) else {
        return;
    };
    let dir = TempDir::new("baresip-presence-p2p-store");
    let (alice, mut events, profile) = alice(&kam, Some(&dir)).await;
    alice
        .set_local_presence(Status::Online, Some("at my desk"))
        .await
        .unwrap();
    let mut bob = Baresip::start(
        &kam,
        "bob",
        Options {
            contacts: alice_watched(),
            ..Options::default()
        },
    )
    .await;
    bob.command("presence_online", None).await;
    bob.registered().await;

    // baresip's SUBSCRIBE reaches alice, who is asked; until she decides, it learns nothing.
    expect(
        &mut events,
        "bob offered as a watcher",
        |e| matches!(e, Event::Watcher { uri, state: WatcherState::Offering, .. } if uri == BOB),
    )
    .await;
    bob.expect_contact(ALICE, "Unknown").await;
    alice.allow_watcher(BOB).await.unwrap();
    bob.expect_contact(ALICE, "Online").await;

    // The other way: baresip is the notifier, and accepts every watcher.
    alice.add_buddy(BOB, "Bob").await.unwrap();
    expect_buddy(&mut events, BOB, Status::Online).await;
    bob.command("presence_offline", None).await;
    expect_buddy(&mut events, BOB, Status::Offline).await;

    // Blocked, bob sees alice offline, whatever she shows; allowed again, he sees her status.
    alice.block_watcher(BOB).await.unwrap();
    bob.expect_contact(ALICE, "Offline").await;
    alice.set_local_presence(Status::Busy, None).await.unwrap();
    let watchers = alice.watchers().await.unwrap();
    let bob_state = watchers.iter().find(|w| &*w.uri == BOB).map(|w| w.state);
    assert_eq!(bob_state, Some(WatcherState::Blocked), "{watchers:?}");
    alice.allow_watcher(BOB).await.unwrap();
    bob.expect_contact(ALICE, "Busy").await;

    // Peer to peer the subscriptions live in the peers: alice's logout ends bob's to her.
    alice_logs_off((alice, events, profile)).await;
    bob.expect_contact(ALICE, "Unknown").await;
    bob_quits(&kam, bob).await;
}

/// baresip (bob) dials alice, and our client reports the invitation; returns its id.
async fn bob_calls_alice(bob: &mut Baresip, events: &mut Events) -> u64 {
    bob.command("dial", Some(ALICE)).await;
    match expect(events, "invitation from bob", |e| {
        matches!(e, Event::Invite { .. })
    })
    .await
    {
        Event::Invite { id, from, .. } => {
            assert_eq!(from, BOB);
            id
        }
        e => unreachable!("{e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incoming_calls_answered_hung_up_cancelled_and_declined() {
    let Some(kam) = kamailio("incoming-calls", &[]) else {
        return;
    };
    let (alice, mut events, profile) = alice(&kam, None).await;
    let mut bob = Baresip::start(&kam, "bob", Options::default()).await;
    bob.registered().await;

    // Answered: baresip gets the 200 (every stream declined: signalling only) and ACKs it;
    // its hang-up is a BYE that ends the session.
    let id = bob_calls_alice(&mut bob, &mut events).await;
    alice.answer_invite(id, true).await.unwrap();
    let established = bob.expect_event("CALL_ESTABLISHED").await;
    let peer = |e: &serde_json::Value| e["peeruri"].as_str().unwrap_or_default().to_owned();
    assert!(peer(&established).starts_with(ALICE), "{established}");
    expect_confirmed(&mut events, id).await;
    bob.command("hangup", None).await;
    let closed = bob.expect_event("CALL_CLOSED").await;
    assert!(peer(&closed).starts_with(ALICE), "{closed}");
    expect_ended(&mut events, id, SessionEnd::PeerHungUp).await;

    // Answered, then hung up by our client: baresip gets the BYE.
    let id = bob_calls_alice(&mut bob, &mut events).await;
    alice.answer_invite(id, true).await.unwrap();
    bob.expect_event("CALL_ESTABLISHED").await;
    expect_confirmed(&mut events, id).await;
    alice.hang_up(id).await.unwrap();
    bob.expect_event("CALL_CLOSED").await;
    expect_ended(&mut events, id, SessionEnd::HungUp).await;

    // Cancelled by baresip before the answer: our client is told, and can no longer answer.
    let id = bob_calls_alice(&mut bob, &mut events).await;
    bob.command("hangup", None).await;
    bob.expect_event("CALL_CLOSED").await;
    expect(
        &mut events,
        "bob's CANCEL",
        |e| matches!(e, Event::InviteCancelled { id: i } if *i == id),
    )
    .await;
    assert!(alice.answer_invite(id, true).await.is_err());

    // Declined: baresip sees the 603.
    let id = bob_calls_alice(&mut bob, &mut events).await;
    alice.answer_invite(id, false).await.unwrap();
    let closed = bob.expect_event("CALL_CLOSED").await;
    let reason = closed["param"].as_str().unwrap_or_default();
    assert!(reason.contains("603"), "{closed}");
    log_off(&kam, (alice, events, profile), bob).await;
}

/// Waits for the caller's ACK of our answer to `id`.
async fn expect_confirmed(events: &mut Events, id: u64) {
    expect(
        events,
        &format!("ACK for session {id}"),
        |e| matches!(e, Event::SessionConfirmed { id: i } if *i == id),
    )
    .await;
}

/// Waits for the end of session `id`, for `reason`.
async fn expect_ended(events: &mut Events, id: u64, reason: SessionEnd) {
    expect(
        events,
        &format!("session {id} {reason}"),
        |e| matches!(e, Event::SessionEnded { id: i, reason: r } if *i == id && *r == reason),
    )
    .await;
}

/// The offer `rtc login`'s `call` makes: one audio stream, disabled (port 0). baresip 1.0
/// refuses it ("no common audio codecs").
const NULL_OFFER: &str =
    "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";

/// An offer baresip takes: PCMU to the discard port on loopback, where nothing listens (the
/// tests carry no media; baresip's packets go nowhere).
const PCMU_OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                          m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// Our client calls baresip, which reports the incoming call; returns the session's id.
async fn alice_calls_bob(alice: &Client, bob: &mut Baresip) -> u64 {
    let id = alice.invite(BOB, PCMU_OFFER).await.unwrap();
    let incoming = bob.expect_event("CALL_INCOMING").await;
    let peer = incoming["peeruri"].as_str().unwrap_or_default();
    assert!(peer.starts_with(ALICE), "{incoming}");
    id
}

/// Waits for the answer to our call `id`.
async fn expect_answered(events: &mut Events, id: u64) {
    expect(
        events,
        &format!("session {id} answered"),
        |e| matches!(e, Event::SessionAnswered { id: i, .. } if *i == id),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_calls_refused_answered_hung_up_declined_and_cancelled() {
    let Some(kam) = kamailio("outgoing-calls", &[]) else {
        return;
    };
    let (alice, mut events, profile) = alice(&kam, None).await;
    let mut bob = Baresip::start(&kam, "bob", Options::default()).await;
    bob.registered().await;

    // An offer with no usable stream: baresip refuses it, and we are told so.
    let id = alice.invite(BOB, NULL_OFFER).await.unwrap();
    expect(
        &mut events,
        "488 from baresip",
        |e| matches!(e, Event::SessionFailed { id: i, status: 488, .. } if *i == id),
    )
    .await;

    // Answered by baresip (`/accept`), hung up by our client.
    let id = alice_calls_bob(&alice, &mut bob).await;
    bob.command("accept", None).await;
    expect_answered(&mut events, id).await;
    bob.expect_event("CALL_ESTABLISHED").await;
    alice.hang_up(id).await.unwrap();
    bob.expect_event("CALL_CLOSED").await;
    expect_ended(&mut events, id, SessionEnd::HungUp).await;

    // Answered, then hung up by baresip.
    let id = alice_calls_bob(&alice, &mut bob).await;
    bob.command("accept", None).await;
    expect_answered(&mut events, id).await;
    bob.expect_event("CALL_ESTABLISHED").await;
    bob.command("hangup", None).await;
    expect_ended(&mut events, id, SessionEnd::PeerHungUp).await;

    // Declined: baresip's `/hangup` of a ringing call answers 486.
    let id = alice_calls_bob(&alice, &mut bob).await;
    bob.command("hangup", None).await;
    expect(
        &mut events,
        "486 from baresip",
        |e| matches!(e, Event::SessionFailed { id: i, status: 486, .. } if *i == id),
    )
    .await;

    // Cancelled by our client before baresip answers.
    let id = alice_calls_bob(&alice, &mut bob).await;
    alice.cancel(id).await.unwrap();
    bob.expect_event("CALL_CLOSED").await;
    expect_ended(&mut events, id, SessionEnd::Cancelled).await;
    log_off(&kam, (alice, events, profile), bob).await;
}
