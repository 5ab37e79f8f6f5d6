//! Sequencing against a real presence server (RFC 3261 §8.1.3.5, §12.2.1.1, §22.2; RFC 6665
//! §4.1.2.4): Kamailio challenges every SUBSCRIBE, in dialog too (`-A WITH_INDIALOG_AUTH`), and
//! refuses with 400 "wrong sequence number" a SUBSCRIBE whose CSeq does not go up in its
//! dialog. A hundred subscribe/unsubscribe cycles must draw no such 400, and once the watcher
//! has logged off, no subscription may be left on the server (its subscriptions are written
//! through to the db_text table `active_watchers`, `-A WITH_SUBS_DB`, read over its RPC).
//! Subscriptions are granted 6 s at most (`-A WITH_SHORT_SUBSCRIPTIONS`), so that the last one
//! is refreshed in its dialog, challenged each time, before the watcher logs off.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use rtc_client::{Client, Event, Events, Profile, RegistrationState, Status, Store};

const BOB: &str = "sip:bob@example.test";
const CYCLES: usize = 100;

async fn online(kam: &Kamailio, dir: &TempDir, user: &str) -> (Client, Events, Profile) {
    let (client, events, profile) = registered(&profile_xml(user, kam.port, "tcp"), None).await;
    client
        .enable_presence(Store::file(dir.path(&format!("{user}.xml"))))
        .await
        .unwrap();
    (client, events, profile)
}

/// Waits for alice's subscription to bob to reach a state whose words start with `state`.
async fn subscription(events: &mut Events, state: &str) {
    let wanted = |e: &Event| match e {
        Event::BuddySubscription { uri, state: s, .. } => uri == BOB && s.starts_with(state),
        _ => false,
    };
    expect(events, &format!("subscription {state}"), wanted).await;
}

/// The Call-IDs of the subscriptions Kamailio holds.
fn server_subscriptions(kam: &Kamailio) -> Vec<String> {
    let ctl = format!("unix:{}", kam.dir.join("kamailio_ctl").display());
    let out = Command::new("kamcmd")
        .args(["-s", &ctl, "db_text.query"])
        .arg("select callid from active_watchers")
        .output()
        .expect("kamcmd comes with kamailio");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kamcmd: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "statement returned 0 rows", or the column header, a line per row and "total rows N / M".
    text.lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("statement returned")
                && !l.starts_with("total rows")
                && *l != "callid(string)"
        })
        .map(str::to_owned)
        .collect()
}

/// How many in-dialog SUBSCRIBEs Kamailio has challenged (its cfg logs each).
fn in_dialog_challenges(kam: &Kamailio) -> usize {
    kam.log()
        .lines()
        .filter(|l| l.contains("in-dialog challenge: SUBSCRIBE"))
        .count()
}

/// How Kamailio treats in-dialog SUBSCRIBEs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenge {
    /// Every one is challenged.
    All,
    /// Refreshes are; unsubscribes pass as sent (`-A WITH_FREE_UNSUBSCRIBE`).
    RefreshesOnly,
}

/// Alice subscribes to bob and unsubscribes `cycles` times, then subscribes, lets the
/// subscription be refreshed twice and logs off. No SUBSCRIBE may draw 400 "wrong sequence
/// number"; none of the subscriptions may be left on the server.
async fn cycles(name: &str, challenge: Challenge, cycles: usize) {
    let mut args = vec![
        "-A",
        "WITHOUT_TLS",
        "-A",
        "WITH_INDIALOG_AUTH",
        "-A",
        "WITH_SUBS_DB",
        "-A",
        "WITH_SHORT_SUBSCRIPTIONS",
    ];
    if challenge == Challenge::RefreshesOnly {
        args.extend(["-A", "WITH_FREE_UNSUBSCRIBE"]);
    }
    let Some(kam) = Kamailio::start(name, &args) else {
        return;
    };
    let dir = TempDir::new(&format!("kam-{name}"));
    let (bob, mut bob_events, bob_profile) = online(&kam, &dir, "bob").await;
    bob.set_local_presence(Status::Away, None).await.unwrap();
    let (alice, mut alice_events, alice_profile) = online(&kam, &dir, "alice").await;

    for cycle in 0..cycles {
        // SUBSCRIBE (407, again with credentials), 200, NOTIFY active.
        alice.add_buddy(BOB, "Bob").await.unwrap();
        subscription(&mut alice_events, "active").await;
        // SUBSCRIBE Expires: 0 in the dialog (407 and again, unless free), 200, NOTIFY
        // terminated.
        alice.remove_buddy(BOB).await.unwrap();
        subscription(&mut alice_events, "stopped").await;
        assert!(
            server_subscriptions(&kam).is_empty(),
            "cycle {cycle}: the unsubscribe left the subscription on the server\n{}",
            kam.log()
        );
    }

    // One subscription standing at logout, refreshed twice in its dialog first (granted 6 s:
    // each refresh 3 s before expiry), each refresh challenged and resubmitted.
    alice.add_buddy(BOB, "Bob").await.unwrap();
    subscription(&mut alice_events, "active").await;
    let standing = server_subscriptions(&kam);
    assert_eq!(standing.len(), 1, "{standing:?}");
    let before = in_dialog_challenges(&kam);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while in_dialog_challenges(&kam) < before + 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no refresh in the dialog\n{}",
            kam.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the last resubmission be answered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    alice.disable_profile(&alice_profile).await.unwrap();
    expect_state(&mut alice_events, RegistrationState::NotRegistered).await;
    // The unsubscribe may still be on its way when the registration is gone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !server_subscriptions(&kam).is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left = server_subscriptions(&kam);
    assert!(
        left.is_empty(),
        "left after logout: {left:?}\n{}",
        kam.log()
    );

    let log = kam.log();
    assert!(
        !log.contains("wrong sequence number"),
        "a SUBSCRIBE reused a CSeq of its dialog:\n{log}"
    );
    // The in-dialog path really ran.
    let challenged = in_dialog_challenges(&kam);
    let least = match challenge {
        Challenge::All => cycles + 3,
        Challenge::RefreshesOnly => 2,
    };
    assert!(
        challenged >= least,
        "{challenged} in-dialog challenges\n{log}"
    );

    alice.shutdown().await.unwrap();
    bob.disable_profile(&bob_profile).await.unwrap();
    expect_state(&mut bob_events, RegistrationState::NotRegistered).await;
    bob.shutdown().await.unwrap();
}

/// RFC 3261 §22.2 in every request of the dialog: each SUBSCRIBE is challenged and sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_unsubscribe_cycles_with_in_dialog_challenges() {
    cycles("cycles", Challenge::All, CYCLES).await;
}

/// The unsubscribes reach the presence server with the CSeq the dialog gave them: one above
/// the resubmitted initial SUBSCRIBE (whether its 2xx or its NOTIFY came first) and above
/// every resubmitted refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchallenged_unsubscribes_go_above_every_resubmission() {
    cycles("cycles-free-unsubscribe", Challenge::RefreshesOnly, 20).await;
}

/// Peer to peer (`-A WITH_P2P`): bob is his own presence agent, and his NOTIFYs pass
/// Kamailio's proxy in the dialog, as alice's in-dialog SUBSCRIBEs do; the proxy challenges
/// every one of them. Each is sent again with the next CSeq of its dialog, so alice takes every
/// NOTIFY in order (a CSeq lower than the last would get 500 and end the subscription) and
/// sees each of bob's changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_to_peer_notifies_challenged_in_the_dialog_all_arrive() {
    let args = [
        "-A",
        "WITHOUT_TLS",
        "-A",
        "WITH_P2P",
        "-A",
        "WITH_INDIALOG_AUTH",
    ];
    let Some(kam) = Kamailio::start("cycles-p2p", &args) else {
        return;
    };
    let dir = TempDir::new("kam-cycles-p2p");
    let (bob, bob_events, bob_profile) = online(&kam, &dir, "bob").await;
    bob.set_local_presence(Status::Online, None).await.unwrap();
    bob.allow_watcher("sip:alice@example.test").await.unwrap();
    let (alice, mut alice_events, alice_profile) = online(&kam, &dir, "alice").await;
    alice.add_buddy(BOB, "Bob").await.unwrap();
    expect_buddy(&mut alice_events, BOB, Status::Online).await;
    let statuses = [
        Status::Away,
        Status::Busy,
        Status::OnThePhone,
        Status::Online,
    ];
    let changes = 12;
    for (i, status) in statuses.into_iter().cycle().take(changes).enumerate() {
        let note = format!("change {i}");
        bob.set_local_presence(status, Some(&note)).await.unwrap();
        let wanted = |e: &Event| match e {
            Event::Buddy {
                uri,
                status: s,
                note: n,
            } => uri == BOB && *s == status && n.as_deref() == Some(note.as_str()),
            _ => false,
        };
        expect(&mut alice_events, &note, wanted).await;
    }
    alice.remove_buddy(BOB).await.unwrap();
    subscription(&mut alice_events, "stopped").await;
    let log = kam.log();
    let notifies = log
        .lines()
        .filter(|l| l.contains("in-dialog challenge: NOTIFY"))
        .count();
    assert!(notifies > changes, "{notifies} NOTIFYs challenged\n{log}");
    for (client, mut events, profile) in [
        (alice, alice_events, alice_profile),
        (bob, bob_events, bob_profile),
    ] {
        client.disable_profile(&profile).await.unwrap();
        expect_state(&mut events, RegistrationState::NotRegistered).await;
        client.shutdown().await.unwrap();
    }
}
