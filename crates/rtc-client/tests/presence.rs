//! Presence end to end between two clients through the embedded registrar/proxy: watchers
//! offered, allowed and blocked, status changes seen, export, and presence enabled before
//! registering (appear offline, still see buddies), buddies polled or always online/offline,
//! and imports that add or drop buddies.

mod common;

use common::*;
use rtc_client::{
    Backoff, Client, Event, Events, ImportMode, Profile, RegisterFlags, RegistrationState, Status,
    Store, WatcherState,
};
use std::path::PathBuf;
use std::time::Duration;

const ALICE: &str = "sip:alice@example.test";
const BOB: &str = "sip:bob@example.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_allow_block_and_export() {
    let (_server, port) = embedded_server().await;
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
async fn import_takes_effect_on_buddies_watchers_and_status() {
    let dir = TempDir::new("presence-import");
    let mut pair = Pair::start(&dir, dir.path("alice.xml")).await;
    let empty = dir.path("no-buddies.xml");
    pair.alice.export(&empty).await.unwrap();
    pair.alice_watches_bob().await;
    let with_bob = dir.path("with-bob.xml");
    pair.alice.export(&with_bob).await.unwrap();
    let Pair {
        alice,
        alice_events,
        bob,
        ..
    } = &mut pair;

    // A replacing import without bob ends the subscription to him.
    alice.import(&empty, ImportMode::Replace).await.unwrap();
    assert!(alice.buddies().await.unwrap().is_empty());
    until(alice_events, |e| {
        matches!(e, Event::BuddySubscription { uri, state, .. } if uri == BOB && state.starts_with("stopped"))
    })
    .await;

    // A merging import with bob watches him again; a missing file changes nothing.
    alice.import(&with_bob, ImportMode::Merge).await.unwrap();
    expect_buddy(alice_events, BOB, Status::Online).await;
    assert!(
        alice
            .import(dir.path("missing.xml"), ImportMode::Replace)
            .await
            .is_err()
    );
    assert_eq!(alice.buddies().await.unwrap().len(), 1);

    // A merge that spells bob's address otherwise replaces his entry: he is watched under the
    // new spelling only.
    let respelled = dir.path("respelled.xml");
    let text = std::fs::read_to_string(&with_bob).unwrap();
    std::fs::write(&respelled, text.replace(BOB, "sip:bob@EXAMPLE.TEST")).unwrap();
    alice.import(&respelled, ImportMode::Merge).await.unwrap();
    let seen = until(alice_events, |e| {
        matches!(e, Event::Buddy { uri, status: Status::Online, .. } if uri == "sip:bob@EXAMPLE.TEST")
    })
    .await;
    let stopped_old = |e: &Event| matches!(e, Event::BuddySubscription { uri, state, .. } if uri == BOB && state.starts_with("stopped"));
    if !seen.iter().any(stopped_old) {
        until(alice_events, stopped_old).await;
    }
    assert_eq!(alice.buddies().await.unwrap().len(), 1);
    alice.import(&with_bob, ImportMode::Merge).await.unwrap();
    expect_buddy(alice_events, BOB, Status::Online).await;

    // bob's replacing import brings back the status and the allowed watcher it holds, for the
    // watcher subscribed now too.
    let bob_before = dir.path("bob-before.xml");
    bob.export(&bob_before).await.unwrap();
    bob.set_local_presence(Status::Busy, None).await.unwrap();
    expect_buddy(alice_events, BOB, Status::Busy).await;
    bob.block_watcher(ALICE).await.unwrap();
    expect_buddy(alice_events, BOB, Status::Offline).await;
    bob.import(&bob_before, ImportMode::Replace).await.unwrap();
    expect_buddy(alice_events, BOB, Status::Online).await;
    pair.log_off().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_edits_take_effect_on_live_subscriptions() {
    let dir = TempDir::new("presence-edits");
    let alice_dir = dir.path("alice");
    std::fs::create_dir_all(&alice_dir).unwrap();
    let mut pair = Pair::start(&dir, alice_dir.join("alice.xml")).await;
    pair.alice_watches_bob().await;
    let Pair {
        alice,
        alice_events,
        bob,
        bob_events,
        ..
    } = &mut pair;

    // AddBuddy allows no duplicate: the entry stays as it was.
    let again = alice.add_buddy(BOB, "Robert").await;
    assert!(
        matches!(again, Err(rtc_client::Error::BuddyExists(_))),
        "{again:?}"
    );
    assert_eq!(&*alice.buddies().await.unwrap()[0].name, "Bob");

    // Blocked and allowed again under another spelling of the watcher's address.
    bob.block_watcher("sip:alice@EXAMPLE.TEST").await.unwrap();
    expect_buddy(alice_events, BOB, Status::Offline).await;
    bob.allow_watcher("sip:alice@Example.Test").await.unwrap();
    expect_buddy(alice_events, BOB, Status::Online).await;

    // A watcher removed stops seeing us at once, as a new one would be: offered again.
    bob.remove_watcher(ALICE).await.unwrap();
    let seen = until(alice_events, |e| {
        matches!(e, Event::BuddySubscription { uri, state, .. } if uri == BOB && state == "pending")
    })
    .await;
    assert!(!seen.iter().any(|e| matches!(
        e,
        Event::Buddy {
            status: Status::Online,
            ..
        }
    )));

    // The buddy removed under another spelling of its address is no longer watched.
    alice.remove_buddy("sip:bob@EXAMPLE.TEST").await.unwrap();
    until(alice_events, |e| {
        matches!(e, Event::BuddySubscription { uri, state, .. } if uri == BOB && state.starts_with("stopped"))
    })
    .await;

    // Disabling presence when the store cannot be written changes nothing: presence still
    // works, and disabling succeeds once the store can be written.
    std::fs::remove_dir_all(&alice_dir).unwrap();
    assert!(alice.disable_presence().await.is_err());
    alice.add_buddy(BOB, "Bob").await.unwrap();
    expect(bob_events, "alice offered again", offered(ALICE)).await;
    std::fs::create_dir_all(&alice_dir).unwrap();
    alice.disable_presence().await.unwrap();
    let saved = std::fs::read_to_string(alice_dir.join("alice.xml")).unwrap();
    assert!(saved.contains(BOB), "{saved}");
    pair.log_off().await;
}

/// Disabling presence right after a change, with a NOTIFY still out to each watcher: the final
/// NOTIFY that waits behind it still leaves (RFC 6665 §4.2.2), so watchers do not go on seeing
/// the last status until their subscription would have expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_presence_with_a_notify_in_flight_still_ends_the_watchers_subscriptions() {
    let dir = TempDir::new("presence-retire");
    let mut pair = Pair::start(&dir, dir.path("alice.xml")).await;
    pair.alice_watches_bob().await;

    pair.bob
        .set_local_presence(Status::Away, None)
        .await
        .unwrap();
    pair.bob.disable_presence().await.unwrap();
    let seen = until(
        &mut pair.alice_events,
        |e| matches!(e, Event::BuddySubscription { uri, state, .. } if uri == BOB && state != "active"),
    )
    .await;
    assert!(
        seen.iter().any(|e| matches!(
            e,
            Event::Buddy {
                status: Status::Away,
                ..
            }
        )),
        "the change before the disable arrived too: {seen:#?}"
    );
    pair.log_off().await;
}

/// alice and bob registered through one embedded server, with presence enabled (alice's store
/// at `alice_store`, bob's in `dir`) and bob online.
struct Pair {
    _server: rtc_client::server::EmbeddedServer,
    alice: Client,
    alice_events: Events,
    alice_profile: Profile,
    bob: Client,
    bob_events: Events,
    bob_profile: Profile,
}

impl Pair {
    async fn start(dir: &TempDir, alice_store: PathBuf) -> Pair {
        let (_server, port) = embedded_server().await;
        let (alice, alice_events, alice_profile) =
            registered(&profile_xml("alice", port, "udp"), None).await;
        let (bob, bob_events, bob_profile) =
            registered(&profile_xml("bob", port, "udp"), None).await;
        alice
            .enable_presence(Store::file(alice_store))
            .await
            .unwrap();
        bob.enable_presence(Store::file(dir.path("bob.xml")))
            .await
            .unwrap();
        bob.set_local_presence(Status::Online, None).await.unwrap();
        Pair {
            _server,
            alice,
            alice_events,
            alice_profile,
            bob,
            bob_events,
            bob_profile,
        }
    }

    /// alice adds bob; he is asked about her and allows her; she sees him online.
    async fn alice_watches_bob(&mut self) {
        self.alice.add_buddy(BOB, "Bob").await.unwrap();
        expect(&mut self.bob_events, "alice offered", offered(ALICE)).await;
        self.bob.allow_watcher(ALICE).await.unwrap();
        expect_buddy(&mut self.alice_events, BOB, Status::Online).await;
    }

    async fn log_off(self) {
        self.alice
            .disable_profile(&self.alice_profile)
            .await
            .unwrap();
        self.bob.disable_profile(&self.bob_profile).await.unwrap();
    }
}

/// `uri` subscribed to our presence and waits for our decision.
fn offered(uri: &str) -> impl Fn(&Event) -> bool + '_ {
    move |e| matches!(e, Event::Watcher { uri: u, state: WatcherState::Offering, .. } if u == uri)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabled_before_registering_appears_offline_but_sees_buddies() {
    let (_server, port) = embedded_server().await;
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
    // bob watches alice from the start: her NOTIFY may come before the REGISTER's 200 or
    // after it, so her status is looked for on both sides of it.
    let alice_online = |e: &Event| matches!(e, Event::Buddy { uri, status, .. } if uri == ALICE && *status == Status::Online);
    let early = until(&mut bob_events, |e| {
        matches!(
            e,
            Event::Registration {
                state: RegistrationState::Registered,
                ..
            }
        )
    })
    .await;

    // bob sees alice…
    if !early.iter().any(alice_online) {
        expect_buddy(&mut bob_events, ALICE, Status::Online).await;
    }
    // …while alice sees bob offline.
    alice.add_buddy(BOB, "Bob").await.unwrap();
    expect_buddy(&mut alice_events, BOB, Status::Offline).await;

    // Once bob sets a status while registered, alice sees it.
    bob.set_local_presence(Status::OnThePhone, None)
        .await
        .unwrap();
    expect_buddy(&mut alice_events, BOB, Status::OnThePhone).await;
}

/// Every event up to and including the first that matches `want` (at most 20 s).
async fn until(events: &mut rtc_client::Events, want: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    while !seen.last().is_some_and(&want) {
        let next = tokio::time::timeout(std::time::Duration::from_secs(20), events.recv()).await;
        match next {
            Ok(Some(e)) => seen.push(e),
            _ => panic!("the awaited event did not come; saw {seen:#?}"),
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_and_always_online_buddies_hold_no_subscription() {
    const CAROL: &str = "sip:carol@example.test"; // never registered: a SUBSCRIBE would fail
    const DAVE: &str = "sip:dave@example.test";
    let (_server, port) = embedded_server().await;
    let dir = TempDir::new("presence-poll");
    let (bob, _bob_events, _) =
        presenting("bob", port, &dir, Status::Busy, Some("in a meeting"), ALICE).await;

    // alice's stored list: bob polled, carol always online, dave always offline.
    std::fs::write(
        dir.path("alice.xml"),
        format!(
            r#"<presence-store xmlns="urn:x-rtc-sip:presence-store" version="1">
<local status="online"/>
<buddy uri="{BOB}" name="Bob" subscription="poll"/>
<buddy uri="{CAROL}" name="Carol" subscription="always-online"/>
<buddy uri="{DAVE}" name="Dave" subscription="always-offline"/>
</presence-store>"#
        ),
    )
    .unwrap();
    let (alice, mut alice_events, _) = registered(&profile_xml("alice", port, "udp"), None).await;
    alice
        .enable_presence(Store::file(dir.path("alice.xml")))
        .await
        .unwrap();
    let buddy = |e: &Event, who: &str| matches!(e, Event::Buddy { uri, .. } if uri == who);
    let mut seen = until(&mut alice_events, |e| buddy(e, BOB)).await;
    assert!(
        seen.contains(&Event::Buddy {
            uri: BOB.into(),
            status: Status::Busy,
            note: Some("in a meeting".into())
        }),
        "{seen:#?}"
    );

    // No standing subscription: bob's next change does not reach alice before a message bob
    // sends after it (a NOTIFY would have gone out first).
    bob.set_local_presence(Status::Away, None).await.unwrap();
    bob.send_message(ALICE, "after the change").await.unwrap();
    seen.extend(until(&mut alice_events, |e| matches!(e, Event::Message { .. })).await);
    let carol = Event::Buddy {
        uri: CAROL.into(),
        status: Status::Online,
        note: None,
    };
    let dave = Event::Buddy {
        uri: DAVE.into(),
        status: Status::Offline,
        note: None,
    };
    assert_eq!(seen.iter().filter(|e| **e == carol).count(), 1, "{seen:#?}");
    assert_eq!(seen.iter().filter(|e| **e == dave).count(), 1, "{seen:#?}");
    assert_eq!(
        seen.iter().filter(|e| buddy(e, BOB)).count(),
        1,
        "{seen:#?}"
    );
    // The poll reported how it went; carol and dave were never subscribed to, and so never
    // refused, which a SUBSCRIBE to carol (not registered) would have been.
    let subscriptions: Vec<_> = seen
        .iter()
        .filter_map(|e| match e {
            Event::BuddySubscription { uri, state, .. } => Some((uri.as_str(), state.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(subscriptions, [(BOB, "polled")], "{seen:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_buddy_is_fetched_again_every_poll_interval() {
    let (_server, port) = embedded_server().await;
    let dir = TempDir::new("presence-repoll");
    let (bob, _bob_events, _) = presenting("bob", port, &dir, Status::Busy, None, ALICE).await;

    let (alice, mut alice_events) =
        client_with(None, |c| c.poll_interval = Duration::from_secs(1)).await;
    let profile = alice
        .create_profile(&profile_xml("alice", port, "udp"))
        .unwrap();
    alice
        .enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut alice_events, RegistrationState::Registered).await;
    std::fs::write(
        dir.path("alice.xml"),
        format!(
            r#"<presence-store xmlns="urn:x-rtc-sip:presence-store" version="1">
<buddy uri="{BOB}" name="Bob" subscription="poll"/>
</presence-store>"#
        ),
    )
    .unwrap();
    alice
        .enable_presence(Store::file(dir.path("alice.xml")))
        .await
        .unwrap();
    expect_buddy(&mut alice_events, BOB, Status::Busy).await;
    // No NOTIFY brings this; the next fetch, a second later, does.
    bob.set_local_presence(Status::Away, Some("back soon"))
        .await
        .unwrap();
    match expect_buddy(&mut alice_events, BOB, Status::Away).await {
        Event::Buddy { note, .. } => assert_eq!(note.as_deref(), Some("back soon")),
        e => unreachable!("{e:?}"),
    }
}

/// A buddy offline at login (the server answers the SUBSCRIBE 480 or 404) is watched again
/// with backoff, and seen once the buddy registers and shows a status. The backoff is short
/// here; by default it is 30 s doubling to an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buddy_offline_at_login_is_seen_when_it_comes_online() {
    let (_server, port) = embedded_server().await;
    let dir = TempDir::new("presence-offline-at-login");
    let (alice, mut alice_events, _) = registered_with(&profile_xml("alice", port, "udp"), |c| {
        c.subscription_backoff = Backoff {
            base: Duration::from_millis(200),
            max: Duration::from_millis(800),
        };
    })
    .await;
    alice
        .enable_presence(Store::file(dir.path("alice.xml")))
        .await
        .unwrap();
    alice.add_buddy(BOB, "Bob").await.unwrap();
    // bob is not registered: refused for now, in words, and retried.
    let retrying = expect(&mut alice_events, "bob's subscription retrying", |e| {
        matches!(e, Event::BuddySubscription { uri, state, .. } if uri == BOB && state.starts_with("retrying later"))
    })
    .await;
    let Event::BuddySubscription { state, .. } = &retrying else {
        unreachable!()
    };
    assert!(
        state.contains("480") || state.contains("404"),
        "the server's answer is named: {state}"
    );

    // bob logs in later, online and allowing alice: she sees him.
    let (_bob, _bob_events, _) =
        presenting("bob", port, &dir, Status::Online, Some("back"), ALICE).await;
    match expect_buddy(&mut alice_events, BOB, Status::Online).await {
        Event::Buddy { note, .. } => assert_eq!(note.as_deref(), Some("back")),
        e => unreachable!("{e:?}"),
    }
}

/// A buddy removed and added back at once: the old subscription still ends, but its end is
/// not the buddy's news; the new subscription's `active` is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_and_added_back_the_old_subscriptions_end_does_not_mask_the_new_one() {
    let dir = TempDir::new("presence-readd");
    let mut pair = Pair::start(&dir, dir.path("alice.xml")).await;
    pair.alice_watches_bob().await;
    until(
        &mut pair.alice_events,
        |e| matches!(e, Event::BuddySubscription { uri, state, .. } if uri == BOB && state == "active"),
    )
    .await;

    pair.alice.remove_buddy(BOB).await.unwrap();
    pair.alice.add_buddy(BOB, "Bob").await.unwrap();
    let mut seen = until(
        &mut pair.alice_events,
        |e| matches!(e, Event::BuddySubscription { uri, state, .. } if uri == BOB && state == "active"),
    )
    .await;
    // A change after the new subscription stands comes after the old one's end.
    pair.bob
        .set_local_presence(Status::Away, None)
        .await
        .unwrap();
    seen.extend(
        until(
            &mut pair.alice_events,
            |e| matches!(e, Event::Buddy { uri, status: Status::Away, .. } if uri == BOB),
        )
        .await,
    );
    let after_active = seen
        .iter()
        .skip_while(|e| !matches!(e, Event::BuddySubscription { state, .. } if state == "active"));
    assert!(
        !after_active.clone().any(|e| matches!(
            e,
            Event::BuddySubscription { state, .. } if state != "active"
        )),
        "{seen:#?}"
    );
    assert!(
        !after_active.clone().any(|e| matches!(
            e,
            Event::Buddy {
                status: Status::Offline,
                ..
            }
        )),
        "{seen:#?}"
    );
    pair.log_off().await;
}

/// A buddy who denies us (403 to the SUBSCRIBE) is reported refused, in words, and not tried
/// again (a retry would have said `retrying later`); removing him then is reported `stopped`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buddy_who_denies_us_is_reported_refused() {
    let (_server, port) = embedded_server().await;
    let dir = TempDir::new("presence-denied");
    std::fs::write(
        dir.path("bob.xml"),
        format!(
            r#"<presence-store xmlns="urn:x-rtc-sip:presence-store" version="1">
<local status="online"/>
<watcher uri="{ALICE}" name="Alice" state="denied"/>
</presence-store>"#
        ),
    )
    .unwrap();
    let (bob, _bob_events, _) = registered(&profile_xml("bob", port, "udp"), None).await;
    bob.enable_presence(Store::file(dir.path("bob.xml")))
        .await
        .unwrap();
    let (alice, mut alice_events) = client_with(None, |c| {
        c.subscription_backoff = Backoff {
            base: Duration::from_millis(50),
            max: Duration::from_millis(100),
        };
    })
    .await;
    let profile = alice
        .create_profile(&profile_xml("alice", port, "udp"))
        .unwrap();
    alice
        .enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut alice_events, RegistrationState::Registered).await;
    alice
        .enable_presence(Store::file(dir.path("alice.xml")))
        .await
        .unwrap();
    alice.add_buddy(BOB, "Bob").await.unwrap();
    let seen = until(
        &mut alice_events,
        |e| matches!(e, Event::BuddySubscription { uri, .. } if uri == BOB),
    )
    .await;
    assert_eq!(
        seen.last(),
        Some(&Event::BuddySubscription {
            uri: BOB.into(),
            state: "refused (answered 403 Forbidden), not retried".into(),
            cause: None,
        }),
        "{seen:#?}"
    );
    alice.remove_buddy(BOB).await.unwrap();
    let seen = until(
        &mut alice_events,
        |e| matches!(e, Event::BuddySubscription { uri, .. } if uri == BOB),
    )
    .await;
    assert_eq!(
        seen.last(),
        Some(&Event::BuddySubscription {
            uri: BOB.into(),
            state: "stopped".into(),
            cause: None,
        }),
        "{seen:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_note_too_large_to_send_is_refused_and_the_limit_is_configured_once() {
    let (_server, port) = embedded_server().await;
    let dir = TempDir::new("presence-too-large");
    let big = "x".repeat(70 * 1024);
    // The default limit (64 KiB) bounds what the client parses and what it builds alike.
    let (alice, _events, _) = registered(&profile_xml("alice", port, "udp"), None).await;
    alice
        .enable_presence(Store::file(dir.path("alice.xml")))
        .await
        .unwrap();
    alice
        .set_local_presence(Status::Away, Some("short"))
        .await
        .unwrap();
    let err = alice
        .set_local_presence(Status::Online, Some(&big))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("over the 65535-byte message limit"), "{err}");
    // Nothing changed: what was shown stays, and is what the store keeps.
    alice.disable_presence().await.unwrap();
    let stored = std::fs::read_to_string(dir.path("alice.xml")).unwrap();
    assert!(
        stored.contains("short") && !stored.contains(&big[..100]),
        "{stored}"
    );
    alice.shutdown().await.unwrap();

    // Raised in one place, the same document fits.
    let (bob, _events, _) = registered_with(&profile_xml("bob", port, "udp"), |c| {
        c.transport.parse.max_message_size = 256 * 1024;
    })
    .await;
    bob.enable_presence(Store::file(dir.path("bob.xml")))
        .await
        .unwrap();
    bob.set_local_presence(Status::Online, Some(&big))
        .await
        .unwrap();
    bob.shutdown().await.unwrap();
}

/// A buddy URI too long for a SUBSCRIBE within the message limits is refused when added,
/// saying so with the limit, instead of joining the list to fail and be retried for ever; a
/// buddy of the longest URI that fits is added and subscribed to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buddy_uri_too_long_for_the_message_limits_is_refused() {
    let (_server, port) = embedded_server().await;
    let dir = TempDir::new("presence-long-uri");
    let (alice, mut events, _) = registered(&profile_xml("alice", port, "udp"), None).await;
    alice
        .enable_presence(Store::file(dir.path("alice.xml")))
        .await
        .unwrap();
    // The default 16,384-byte line limit, less room for the rest of the line that carries it
    // (a SUBSCRIBE's digest Proxy-Authorization, here, whose `uri=` repeats it).
    let max = 16_384 - 1024;
    let uri = |len: usize| format!("sip:{}@example.test", "b".repeat(len - 17));
    let too_long = uri(max + 1);
    let e = alice.add_buddy(&too_long, "Long").await.unwrap_err();
    assert!(
        matches!(e, rtc_client::Error::BuddyUriTooLong { len, max: m } if len == max + 1 && m == max),
        "{e:?}"
    );
    let words = e.to_string();
    assert!(
        words.contains("too long") && words.contains(&max.to_string()),
        "{words}"
    );
    assert!(alice.buddies().await.unwrap().is_empty());

    let longest = uri(max);
    alice.add_buddy(&longest, "Longest").await.unwrap();
    // Subscribed to, challenged and sent again with credentials: the server answers (no such
    // user); nothing failed on our side.
    let state = expect(
        &mut events,
        "the subscription's outcome",
        |e| matches!(e, Event::BuddySubscription { state, .. } if state != "subscribing"),
    )
    .await;
    let Event::BuddySubscription {
        uri: watched,
        state,
        ..
    } = state
    else {
        unreachable!()
    };
    assert_eq!(watched, longest);
    assert!(
        state.contains("SUBSCRIBE answered") && !state.contains("407"),
        "{state}"
    );
    alice.shutdown().await.unwrap();
}
