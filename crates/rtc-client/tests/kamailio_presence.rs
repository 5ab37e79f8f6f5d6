//! Presence against a real Kamailio: through its presence server (PUBLISH, SUBSCRIBE, NOTIFY),
//! peer to peer through its proxy (the client as its own presence agent: watchers allowed and
//! blocked), and across a Kamailio restart, which the clients survive without help: they
//! register, resubscribe and republish by themselves. Skipped, with the reason printed, where
//! Kamailio is not installed (`.ci/run` installs it).

mod common;

use common::*;
use rtc_client::{
    Backoff, Client, Event, Events, Profile, RegisterFlags, RegistrationState, Status, Store,
    WatcherState,
};
use std::time::Duration;

const ALICE: &str = "sip:alice@example.test";
const BOB: &str = "sip:bob@example.test";
const CAROL: &str = "sip:carol@example.test";

/// A client registered as `user` over `protocol`, with presence stored in `dir`. Over TLS the
/// server is named `localhost`, so that its certificate is verified against a name.
async fn online(
    kam: &Kamailio,
    dir: &TempDir,
    user: &str,
    protocol: &str,
) -> (Client, Events, Profile) {
    let mut xml = profile_xml(user, kam.port_for(protocol), protocol);
    if protocol == "tls" {
        xml = xml.replace("127.0.0.1:", "localhost:");
    }
    let (client, events, profile) = registered(&xml, Some(&kam.ca())).await;
    client
        .enable_presence(Store::file(dir.path(&format!("{user}.xml"))))
        .await
        .unwrap();
    (client, events, profile)
}

async fn log_off(clients: Vec<(Client, Events, Profile)>) {
    for (client, mut events, profile) in clients {
        client.disable_profile(&profile).await.unwrap();
        expect_state(&mut events, RegistrationState::NotRegistered).await;
        client.shutdown().await.unwrap();
    }
}

async fn presence_server_relays_published_status(protocol: &str) {
    let Some(kam) = Kamailio::start(&format!("presence-server-{protocol}"), &[]) else {
        return;
    };
    let dir = TempDir::new(&format!("kam-presence-server-{protocol}"));
    let (bob, bob_events, bob_profile) = online(&kam, &dir, "bob", protocol).await;
    // bob PUBLISHes (407 answered with credentials); Kamailio keeps the document.
    bob.set_local_presence(Status::Away, Some("at lunch"))
        .await
        .unwrap();
    let (alice, mut alice_events, alice_profile) = online(&kam, &dir, "alice", protocol).await;
    alice.add_buddy(BOB, "Bob").await.unwrap();
    // Kamailio answers the SUBSCRIBE itself and NOTIFYs what bob published.
    match expect_buddy(&mut alice_events, BOB, Status::Away).await {
        Event::Buddy { note, .. } => assert_eq!(note.as_deref(), Some("at lunch")),
        e => unreachable!("{e:?}"),
    }
    bob.set_local_presence(Status::Busy, Some("in a meeting"))
        .await
        .unwrap();
    match expect_buddy(&mut alice_events, BOB, Status::Busy).await {
        Event::Buddy { note, .. } => assert_eq!(note.as_deref(), Some("in a meeting")),
        e => unreachable!("{e:?}"),
    }
    log_off(vec![
        (alice, alice_events, alice_profile),
        (bob, bob_events, bob_profile),
    ])
    .await;
}

async fn peer_to_peer_allows_and_blocks_watchers(protocol: &str) {
    // No presence server: Kamailio record-routes SUBSCRIBE to bob's registered contact and
    // answers PUBLISH 501, so bob's client is its own presence agent (as in the RTC article).
    let Some(kam) = Kamailio::start(&format!("presence-p2p-{protocol}"), &["-A", "WITH_P2P"])
    else {
        return;
    };
    let dir = TempDir::new(&format!("kam-presence-p2p-{protocol}"));
    let (bob, mut bob_events, bob_profile) = online(&kam, &dir, "bob", protocol).await;
    bob.set_local_presence(Status::Online, Some("at my desk"))
        .await
        .unwrap();
    let (alice, mut alice_events, alice_profile) = online(&kam, &dir, "alice", protocol).await;
    let (carol, mut carol_events, carol_profile) = online(&kam, &dir, "carol", protocol).await;

    alice.add_buddy(BOB, "Bob").await.unwrap();
    let offered = expect(
        &mut bob_events,
        "alice offered",
        |e| matches!(e, Event::Watcher { uri, .. } if uri == ALICE),
    )
    .await;
    assert!(
        matches!(
            offered,
            Event::Watcher {
                state: WatcherState::Offering,
                ..
            }
        ),
        "{offered:?}"
    );
    bob.allow_watcher(ALICE).await.unwrap();
    match expect_buddy(&mut alice_events, BOB, Status::Online).await {
        Event::Buddy { note, .. } => assert_eq!(note.as_deref(), Some("at my desk")),
        e => unreachable!("{e:?}"),
    }

    carol.add_buddy(BOB, "Bob").await.unwrap();
    expect(
        &mut bob_events,
        "carol offered",
        |e| matches!(e, Event::Watcher { uri, .. } if uri == CAROL),
    )
    .await;
    bob.block_watcher(CAROL).await.unwrap();
    // A blocked watcher sees bob offline, now and after his next change.
    expect_buddy(&mut carol_events, BOB, Status::Offline).await;
    bob.set_local_presence(Status::OnThePhone, None)
        .await
        .unwrap();
    expect_buddy(&mut alice_events, BOB, Status::OnThePhone).await;
    let watchers = bob.watchers().await.unwrap();
    let state = |uri: &str| watchers.iter().find(|w| &*w.uri == uri).map(|w| w.state);
    assert_eq!(state(ALICE), Some(WatcherState::Allowed));
    assert_eq!(state(CAROL), Some(WatcherState::Blocked));
    // Nothing carol received said more than offline.
    while let Some(e) = carol_events.try_recv() {
        if let Event::Buddy { status, .. } = e {
            assert_eq!(status, Status::Offline, "carol is blocked");
        }
    }
    log_off(vec![
        (alice, alice_events, alice_profile),
        (bob, bob_events, bob_profile),
        (carol, carol_events, carol_profile),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_server_over_udp() {
    presence_server_relays_published_status("udp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_server_over_tcp() {
    presence_server_relays_published_status("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_server_over_tls() {
    presence_server_relays_published_status("tls").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_to_peer_over_udp() {
    peer_to_peer_allows_and_blocks_watchers("udp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_to_peer_over_tcp() {
    peer_to_peer_allows_and_blocks_watchers("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_to_peer_over_tls() {
    peer_to_peer_allows_and_blocks_watchers("tls").await;
}

/// Peer to peer, bob is not registered when alice adds him: Kamailio finds no contact for him
/// and refuses the SUBSCRIBE. alice tries again with backoff (short here), and sees bob once
/// he logs in and allows her.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_to_peer_buddy_offline_at_login_is_seen_once_online() {
    let Some(kam) = Kamailio::start("presence-p2p-offline-at-login", &["-A", "WITH_P2P"]) else {
        return;
    };
    let dir = TempDir::new("kam-presence-p2p-offline-at-login");
    let (alice, mut alice_events) = client_with(Some(&kam.ca()), |c| {
        c.subscription_backoff = Backoff {
            base: Duration::from_millis(300),
            max: Duration::from_secs(1),
        };
    })
    .await;
    let alice_profile = alice
        .create_profile(&profile_xml("alice", kam.port_for("udp"), "udp"))
        .unwrap();
    alice
        .enable_profile(&alice_profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut alice_events, RegistrationState::Registered).await;
    alice
        .enable_presence(Store::file(dir.path("alice.xml")))
        .await
        .unwrap();
    alice.add_buddy(BOB, "Bob").await.unwrap();
    expect(&mut alice_events, "bob's subscription retrying", |e| {
        matches!(e, Event::BuddySubscription { uri, state, .. } if uri == BOB && state.starts_with("retrying later"))
    })
    .await;

    let (bob, mut bob_events, bob_profile) = online(&kam, &dir, "bob", "udp").await;
    bob.set_local_presence(Status::Online, Some("just arrived"))
        .await
        .unwrap();
    expect(
        &mut bob_events,
        "alice offered",
        |e| matches!(e, Event::Watcher { uri, .. } if uri == ALICE),
    )
    .await;
    bob.allow_watcher(ALICE).await.unwrap();
    match expect_buddy(&mut alice_events, BOB, Status::Online).await {
        Event::Buddy { note, .. } => assert_eq!(note.as_deref(), Some("just arrived")),
        e => unreachable!("{e:?}\n{}", kam.log()),
    }
    log_off(vec![
        (alice, alice_events, alice_profile),
        (bob, bob_events, bob_profile),
    ])
    .await;
}

/// Kamailio restarts in the middle: its registrations, subscriptions and publications (all in
/// memory) are gone and every connection to it breaks. Without any call from the application,
/// both clients register again, alice's subscription to bob is made afresh (the refresh gets
/// 481) and bob's publication too (412), so bob's next change and a message still arrive.
async fn restart_recovers(protocol: &str) {
    let Some(kam) = Kamailio::start(&format!("restart-{protocol}"), &[]) else {
        return;
    };
    let dir = TempDir::new(&format!("kam-restart-{protocol}"));
    let (bob, mut bob_events, bob_profile) = online(&kam, &dir, "bob", protocol).await;
    bob.set_local_presence(Status::Away, None).await.unwrap();
    let (alice, mut alice_events, alice_profile) = online(&kam, &dir, "alice", protocol).await;
    alice.add_buddy(BOB, "Bob").await.unwrap();
    expect_buddy(&mut alice_events, BOB, Status::Away).await;

    kam.restart();
    for events in [&mut alice_events, &mut bob_events] {
        match expect_state(events, RegistrationState::Registering).await {
            Event::Registration { reason, .. } => assert_eq!(reason, "connection lost"),
            e => unreachable!("{e:?}"),
        }
        expect_state(events, RegistrationState::Registered).await;
    }

    bob.set_local_presence(Status::Busy, Some("after the restart"))
        .await
        .unwrap();
    match expect_buddy(&mut alice_events, BOB, Status::Busy).await {
        Event::Buddy { note, .. } => assert_eq!(note.as_deref(), Some("after the restart")),
        e => unreachable!("{e:?}\n{}", kam.log()),
    }
    alice
        .send_message(BOB, "still there?")
        .await
        .unwrap_or_else(|e| panic!("MESSAGE after the restart: {e}\n{}", kam.log()));
    let got = expect(&mut bob_events, "the message", |e| {
        matches!(e, Event::Message { .. })
    })
    .await;
    assert!(
        matches!(&got, Event::Message { text, .. } if text == "still there?"),
        "{got:?}"
    );
    log_off(vec![
        (alice, alice_events, alice_profile),
        (bob, bob_events, bob_profile),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_clients_recover_from_a_kamailio_restart() {
    restart_recovers("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_clients_recover_from_a_kamailio_restart() {
    restart_recovers("tls").await;
}
