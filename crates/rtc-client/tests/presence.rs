//! Presence end to end between two clients through the embedded registrar/proxy: watchers
//! offered, allowed and blocked, status changes seen, export, and presence enabled before
//! registering (appear offline, still see buddies).

mod common;

use common::*;
use rtc_client::server::{EmbeddedServer, ServerConfig};
use rtc_client::{Event, RegisterFlags, RegistrationState, Status, Store, WatcherState};
use sip_parse::TransportKind;

const ALICE: &str = "sip:alice@example.test";
const BOB: &str = "sip:bob@example.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_allow_block_and_export() {
    let server = EmbeddedServer::start_loopback(ServerConfig::demo())
        .await
        .unwrap();
    let port = server.local_addr(TransportKind::Udp).unwrap().port();
    let dir = TempDir::new("presence-watch");
    let (alice, mut alice_events, alice_profile) =
        registered(&profile_xml("alice", port, "udp"), None).await;
    let (bob, mut bob_events, bob_profile) =
        registered(&profile_xml("bob", port, "udp"), None).await;
    alice
        .enable_presence(Store::file(dir.path("alice.xml")))
        .await
        .unwrap();
    bob.enable_presence(Store::file(dir.path("bob.xml")))
        .await
        .unwrap();
    bob.set_local_presence(Status::Busy, Some("in a meeting"))
        .await
        .unwrap();

    // alice watches bob: bob is asked about alice, who meanwhile sees nothing.
    alice.add_buddy(BOB, "Bob").await.unwrap();
    let offered = expect(&mut bob_events, "alice offered", |e| {
        matches!(e, Event::Watcher { .. })
    })
    .await;
    assert_eq!(
        offered,
        Event::Watcher {
            uri: ALICE.into(),
            name: None,
            state: WatcherState::Offering
        }
    );
    bob.allow_watcher(ALICE).await.unwrap();
    match expect_buddy(&mut alice_events, BOB, Status::Busy).await {
        Event::Buddy { note, .. } => assert_eq!(note.as_deref(), Some("in a meeting")),
        e => unreachable!("{e:?}"),
    }

    // Every change reaches the allowed watcher; a block makes bob look offline.
    bob.set_local_presence(Status::Away, None).await.unwrap();
    expect_buddy(&mut alice_events, BOB, Status::Away).await;
    bob.block_watcher(ALICE).await.unwrap();
    expect_buddy(&mut alice_events, BOB, Status::Offline).await;
    let watchers = bob.watchers().await.unwrap();
    assert!(
        watchers
            .iter()
            .any(|w| &*w.uri == ALICE && w.state == WatcherState::Blocked)
    );
    assert_eq!(alice.buddies().await.unwrap()[0].uri.as_ref(), BOB);

    // Export, then disable: the store holds the lists, and the lists are cleared.
    bob.export(dir.path("export.xml")).await.unwrap();
    let exported = std::fs::read_to_string(dir.path("export.xml")).unwrap();
    assert!(
        exported.contains(ALICE) && exported.contains("blocked"),
        "{exported}"
    );
    alice.disable_presence().await.unwrap();
    let saved = std::fs::read_to_string(dir.path("alice.xml")).unwrap();
    assert!(saved.contains(BOB), "{saved}");
    assert!(alice.buddies().await.is_err(), "presence is off");

    alice.disable_profile(&alice_profile).await.unwrap();
    bob.disable_profile(&bob_profile).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabled_before_registering_appears_offline_but_sees_buddies() {
    let server = EmbeddedServer::start_loopback(ServerConfig::demo())
        .await
        .unwrap();
    let port = server.local_addr(TransportKind::Udp).unwrap().port();
    let dir = TempDir::new("presence-early");
    let (alice, mut alice_events, _alice_profile) =
        registered(&profile_xml("alice", port, "udp"), None).await;
    alice
        .enable_presence(Store::file(dir.path("alice.xml")))
        .await
        .unwrap();
    alice
        .set_local_presence(Status::Online, Some("here"))
        .await
        .unwrap();
    alice.allow_watcher(BOB).await.unwrap();

    // bob enables presence first, sets a status, then registers.
    let (bob, mut bob_events) = client(None).await;
    bob.enable_presence(Store::file(dir.path("bob.xml")))
        .await
        .unwrap();
    bob.set_local_presence(Status::Online, Some("not yet"))
        .await
        .unwrap();
    bob.allow_watcher(ALICE).await.unwrap();
    bob.add_buddy(ALICE, "Alice").await.unwrap();
    let profile = bob
        .create_profile(&profile_xml("bob", port, "udp"))
        .unwrap();
    bob.enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut bob_events, RegistrationState::Registered).await;

    // bob sees alice…
    expect_buddy(&mut bob_events, ALICE, Status::Online).await;
    // …while alice sees bob offline.
    alice.add_buddy(BOB, "Bob").await.unwrap();
    expect_buddy(&mut alice_events, BOB, Status::Offline).await;

    // Once bob sets a status while registered, alice sees it.
    bob.set_local_presence(Status::OnThePhone, None)
        .await
        .unwrap();
    expect_buddy(&mut alice_events, BOB, Status::OnThePhone).await;
}
