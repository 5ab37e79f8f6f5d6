//! Watchers decided through the presence server: Kamailio without `force_active` authorizes
//! each subscription by the user's pres-rules on its XCAP server (`-A WITH_XCAP`), which the
//! client writes from its watcher list (`ClientConfig::xcap_root`). Allowing a watcher lets it
//! see us, blocking makes it see us offline, and an edit of the rules by another device is
//! merged into ours, not overwritten.

mod common;

use std::time::Duration;

use common::*;
use presence::rules::{Ruleset, SubHandling};
use rtc_client::{Client, Event, Events, Profile, Status, Store, WatcherState, XcapRoot};
use xcap::{Application, Condition, Credentials, XcapClient, XcapConfig};

const ALICE: &str = "sip:alice@example.test";
const BOB: &str = "sip:bob@example.test";
const CAROL: &str = "sip:carol@example.test";

fn root(kam: &Kamailio) -> XcapRoot {
    XcapRoot::parse(&format!("http://127.0.0.1:{}/xcap-root", kam.port)).unwrap()
}

/// alice, registered with presence enabled, her watcher list kept on the XCAP server.
async fn alice(kam: &Kamailio, dir: &TempDir) -> (Client, Events, Profile) {
    with_rules(kam, dir, "alice").await
}

/// `name`, registered with presence enabled, their lists kept on the XCAP server.
async fn with_rules(kam: &Kamailio, dir: &TempDir, name: &str) -> (Client, Events, Profile) {
    let root = root(kam);
    let (client, events, profile) = registered_with(&profile_xml(name, kam.port, "udp"), |c| {
        c.xcap_root = Some(root);
    })
    .await;
    client
        .enable_presence(Store::file(dir.path(&format!("{name}.xml"))))
        .await
        .unwrap();
    (client, events, profile)
}

async fn user(kam: &Kamailio, dir: &TempDir, name: &str) -> (Client, Events, Profile) {
    let (client, events, profile) = registered(&profile_xml(name, kam.port, "udp"), None).await;
    client
        .enable_presence(Store::file(dir.path(&format!("{name}.xml"))))
        .await
        .unwrap();
    (client, events, profile)
}

/// Another device of alice's, editing her rules on the server directly.
fn other_device(kam: &Kamailio) -> XcapClient {
    XcapClient::new(
        root(kam),
        XcapConfig {
            credentials: Some(Credentials::new("alice", "alicepw")),
            ..XcapConfig::default()
        },
    )
    .unwrap()
}

fn rules_uri(kam: &Kamailio) -> xcap::XcapUri {
    root(kam).user_document(Application::PRES_RULES.auid, ALICE, "index")
}

/// Waits (at most 20 s) until alice's rules on the server satisfy `want`.
async fn server_rules(kam: &Kamailio, what: &str, want: impl Fn(&Ruleset) -> bool) -> Ruleset {
    let device = other_device(kam);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut last = None;
    loop {
        let got = device
            .get(&rules_uri(kam), Condition::Always)
            .await
            .unwrap();
        if let Some(doc) = got.found() {
            let rules = Ruleset::parse(&doc.body).unwrap();
            if want(&rules) {
                return rules;
            }
            last = Some(String::from_utf8_lossy(&doc.body).into_owned());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for rules where {what}; last: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_watcher_sees_us_and_blocked_one_sees_us_offline() {
    let Some(kam) = Kamailio::start("rules", &["-A", "WITH_XCAP"]) else {
        return;
    };
    let dir = TempDir::new("kam-rules");
    let (alice, _alice_events, _) = alice(&kam, &dir).await;
    alice
        .set_local_presence(Status::Online, Some("at my desk"))
        .await
        .unwrap();
    let (bob, mut bob_events, _) = user(&kam, &dir, "bob").await;
    bob.add_buddy(ALICE, "Alice").await.unwrap();

    alice.allow_watcher(BOB).await.unwrap();
    server_rules(&kam, "bob is allowed", |r| {
        r.evaluate(BOB) == Some(SubHandling::Allow)
    })
    .await;
    match expect_buddy(&mut bob_events, ALICE, Status::Online).await {
        Event::Buddy { note, .. } => assert_eq!(note.as_deref(), Some("at my desk")),
        e => unreachable!("{e:?}"),
    }

    alice.block_watcher(BOB).await.unwrap();
    server_rules(&kam, "bob is blocked", |r| {
        r.evaluate(BOB) == Some(SubHandling::PoliteBlock)
    })
    .await;
    expect(
        &mut bob_events,
        "alice offline or the subscription ended",
        |e| {
            matches!(e, Event::Buddy { uri, status: Status::Offline, .. } if uri == ALICE)
                || matches!(e, Event::BuddySubscription { uri, state, .. }
                if uri == ALICE && state.starts_with("stopped"))
        },
    )
    .await;
    // And after her next change, still nothing but offline.
    alice
        .set_local_presence(Status::Busy, Some("in a meeting"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    while let Some(e) = bob_events.try_recv() {
        if let Event::Buddy { uri, status, .. } = e {
            assert!(uri != ALICE || status == Status::Offline, "bob is blocked");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_devices_edit_of_the_rules_is_merged_not_lost() {
    let Some(kam) = Kamailio::start("rules-merge", &["-A", "WITH_XCAP"]) else {
        return;
    };
    let dir = TempDir::new("kam-rules-merge");
    let (alice, _alice_events, _) = alice(&kam, &dir).await;
    alice.allow_watcher(BOB).await.unwrap();
    server_rules(&kam, "bob is allowed", |r| {
        r.evaluate(BOB) == Some(SubHandling::Allow)
    })
    .await;

    // Her other device allows carol meanwhile, under the ETag it read.
    let device = other_device(&kam);
    let doc = device
        .get(&rules_uri(&kam), Condition::Always)
        .await
        .unwrap()
        .found()
        .unwrap();
    let mut theirs = Ruleset::parse(&doc.body).unwrap();
    theirs.set_watcher(CAROL, Some(SubHandling::Allow)).unwrap();
    device
        .put(
            &rules_uri(&kam),
            Application::PRES_RULES.content_type,
            theirs.to_xml(),
            Condition::IfMatch(doc.etag.unwrap()),
        )
        .await
        .unwrap();

    // This client's next write fails with 412, reads, merges and writes both edits.
    alice.block_watcher(BOB).await.unwrap();
    server_rules(&kam, "bob blocked and carol still allowed", |r| {
        r.evaluate(BOB) == Some(SubHandling::PoliteBlock)
            && r.evaluate(CAROL) == Some(SubHandling::Allow)
    })
    .await;
    // The local list says what the server holds.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let watchers = alice.watchers().await.unwrap();
        let state = |uri: &str| watchers.iter().find(|w| &*w.uri == uri).map(|w| w.state);
        if state(CAROL) == Some(WatcherState::Allowed) {
            assert_eq!(state(BOB), Some(WatcherState::Blocked));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "carol never reached the local list: {watchers:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_through_the_server_is_offered_and_the_decision_takes_effect() {
    let Some(kam) = Kamailio::start("rules-winfo", &["-A", "WITH_XCAP"]) else {
        return;
    };
    let dir = TempDir::new("kam-rules-winfo");
    let (alice, mut alice_events, _) = alice(&kam, &dir).await;
    alice
        .set_local_presence(Status::Away, Some("back soon"))
        .await
        .unwrap();
    // carol subscribes to alice at the server, which holds her pending (rule: confirm) and
    // tells alice through presence.winfo.
    let (carol, mut carol_events, _) = user(&kam, &dir, "carol").await;
    carol.add_buddy(ALICE, "Alice").await.unwrap();
    let offered = expect(
        &mut alice_events,
        "carol offered",
        |e| matches!(e, Event::Watcher { uri, .. } if uri == CAROL),
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
    let watchers = alice.watchers().await.unwrap();
    assert!(
        watchers
            .iter()
            .any(|w| &*w.uri == CAROL && w.state == WatcherState::Offering),
        "{watchers:?}"
    );
    // Her decision goes into the rules, and the server's subscription follows: active.
    alice.allow_watcher(CAROL).await.unwrap();
    match expect_buddy(&mut carol_events, ALICE, Status::Away).await {
        Event::Buddy { note, .. } => assert_eq!(note.as_deref(), Some("back soon")),
        e => unreachable!("{e:?}"),
    }
    server_rules(&kam, "carol is allowed", |r| {
        r.evaluate(CAROL) == Some(SubHandling::Allow)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_privacy_modes_and_import_reach_the_server() {
    let Some(kam) = Kamailio::start("rules-modes", &["-A", "WITH_XCAP"]) else {
        return;
    };
    let dir = TempDir::new("kam-rules-modes");
    let (alice, _alice_events, _) = alice(&kam, &dir).await;
    const DAVE: &str = "sip:dave@example.test";
    alice.allow_watcher(BOB).await.unwrap();
    alice.block_watcher(CAROL).await.unwrap();
    server_rules(&kam, "bob allowed, carol blocked, others confirmed", |r| {
        r.evaluate(BOB) == Some(SubHandling::Allow)
            && r.evaluate(CAROL) == Some(SubHandling::PoliteBlock)
            && r.evaluate(DAVE) == Some(SubHandling::Confirm)
    })
    .await;
    let saved = dir.path("saved.xml");
    alice.export(&saved).await.unwrap();

    // Removed: the default rule decides for bob again.
    alice.remove_watcher(BOB).await.unwrap();
    server_rules(&kam, "bob back to the default", |r| {
        r.evaluate(BOB) == Some(SubHandling::Confirm)
    })
    .await;
    // Allow-list only, watchers added automatically: whoever is not allowed sees us offline.
    alice
        .set_watcher_modes(
            Some(rtc_client::PrivacyMode::AllowListOnly),
            Some(rtc_client::OfferMode::AutoAdd),
        )
        .await
        .unwrap();
    server_rules(&kam, "the default is polite-block", |r| {
        r.evaluate(DAVE) == Some(SubHandling::PoliteBlock)
            && r.evaluate(CAROL) == Some(SubHandling::PoliteBlock)
    })
    .await;

    // An import replacing everything brings the saved list, and the server follows.
    alice
        .import(&saved, rtc_client::ImportMode::Replace)
        .await
        .unwrap();
    server_rules(&kam, "the saved rules again", |r| {
        r.evaluate(BOB) == Some(SubHandling::Allow)
            && r.evaluate(CAROL) == Some(SubHandling::PoliteBlock)
            && r.evaluate(DAVE) == Some(SubHandling::Confirm)
    })
    .await;
}

/// How many subscriptions `user` started at Kamailio for `event` (its log names each new
/// one, after authentication).
fn subscriptions_from(kam: &Kamailio, event: &str, user: &str) -> Vec<String> {
    let needle = format!("client SUBSCRIBE {event} to ");
    let from = format!(" from sip:{user}@");
    kam.log()
        .lines()
        .filter(|l| l.contains(&from))
        .filter_map(|l| l.split_once(&needle))
        .map(|(_, rest)| rest.split(" from ").next().unwrap_or_default().to_owned())
        .collect()
}

/// `user`'s new presence subscriptions all went to the list service (none to a buddy): one,
/// and one more each time the list changed on the server while watched (RFC 4662 §5.3: a new
/// subscription brings the new list's full state).
fn only_the_list_is_subscribed(kam: &Kamailio, user: &str) {
    let targets = subscriptions_from(kam, "presence", user);
    let service = format!("sip:{user}-buddies@");
    assert!(
        (1..=3).contains(&targets.len()) && targets.iter().all(|t| t.starts_with(&service)),
        "one list subscription: {targets:?}"
    );
}

/// Waits (at most 20 s) until every buddy in `want` was reported with its status, in any
/// order.
async fn expect_buddies(events: &mut Events, want: &[(&str, Status)]) {
    let mut missing: std::collections::HashSet<(String, Status)> =
        want.iter().map(|(u, s)| (u.to_string(), *s)).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !missing.is_empty() {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Event::Buddy { uri, status, .. })) => {
                missing.remove(&(uri, status));
            }
            Ok(Some(_)) => {}
            Ok(None) => panic!("events ended"),
            Err(_) => panic!(
                "timed out; {} buddies not reported, e.g. {:?}",
                missing.len(),
                missing.iter().next()
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buddy_list_is_watched_through_one_list_subscription() {
    let Some(kam) = Kamailio::start("rules-rls", &["-A", "WITH_XCAP"]) else {
        return;
    };
    let dir = TempDir::new("kam-rules-rls");
    // bob is busy, and lets alice see it; carol never publishes.
    let (bob, _bob_events, _) = with_rules(&kam, &dir, "bob").await;
    bob.set_local_presence(Status::Busy, Some("in a call"))
        .await
        .unwrap();
    bob.allow_watcher(ALICE).await.unwrap();
    let (alice, mut alice_events, _) = alice(&kam, &dir).await;
    alice.add_buddy(BOB, "Bob").await.unwrap();
    alice.add_buddy(CAROL, "Carol").await.unwrap();
    expect_buddies(
        &mut alice_events,
        &[(BOB, Status::Busy), (CAROL, Status::Offline)],
    )
    .await;
    // bob's next change comes through the list too.
    bob.set_local_presence(Status::Away, None).await.unwrap();
    expect_buddy(&mut alice_events, BOB, Status::Away).await;
    only_the_list_is_subscribed(&kam, "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_buddies_cost_one_subscription() {
    let Some(kam) = Kamailio::start("rules-rls-1000", &["-A", "WITH_XCAP", "-m", "256"]) else {
        return;
    };
    let dir = TempDir::new("kam-rules-rls-1000");
    let (bob, _bob_events, _) = with_rules(&kam, &dir, "bob").await;
    bob.set_local_presence(Status::Busy, None).await.unwrap();
    bob.allow_watcher(ALICE).await.unwrap();
    // alice's store holds 1,000 buddies: bob and 999 who never publish.
    let others: Vec<String> = (1..1000)
        .map(|i| format!("sip:u{i:04}@example.test"))
        .collect();
    let mut data = presence::PresenceData::default();
    data.buddies
        .add(presence::Buddy::new(BOB, "Bob").unwrap())
        .unwrap();
    for uri in &others {
        data.buddies
            .add(presence::Buddy::new(uri, "").unwrap())
            .unwrap();
    }
    Store::file(dir.path("alice.xml")).save(&data).unwrap();
    let (_alice, mut alice_events, _) = alice(&kam, &dir).await;
    let mut want: Vec<(&str, Status)> = others
        .iter()
        .map(|u| (u.as_str(), Status::Offline))
        .collect();
    want.push((BOB, Status::Busy));
    expect_buddies(&mut alice_events, &want).await;
    only_the_list_is_subscribed(&kam, "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_list_service_each_buddy_is_watched() {
    // A presence server with no XCAP server and no RLS (force_active, as by default): the
    // lists cannot be stored, so alice subscribes to each buddy herself.
    let Some(kam) = Kamailio::start("rules-fallback", &[]) else {
        return;
    };
    let dir = TempDir::new("kam-rules-fallback");
    let (bob, _bob_events, _) = user(&kam, &dir, "bob").await;
    bob.set_local_presence(Status::Busy, Some("in a call"))
        .await
        .unwrap();
    let (alice, mut alice_events, _) = alice(&kam, &dir).await;
    alice.add_buddy(BOB, "Bob").await.unwrap();
    match expect_buddy(&mut alice_events, BOB, Status::Busy).await {
        Event::Buddy { note, .. } => assert_eq!(note.as_deref(), Some("in a call")),
        e => unreachable!("{e:?}"),
    }
}
