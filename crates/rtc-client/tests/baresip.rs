//! Interop with a real third-party user agent: baresip 1.0 from Debian (`baresip-core`),
//! headless, driven through its control interface (see `common/baresip.rs`), both registered
//! with the test Kamailio. Messages, presence (through Kamailio's presence server and peer to
//! peer), watcher decisions and invitations go both ways; after both log off, Kamailio holds
//! no registration, subscription or publication. Skipped, with the reason printed, where
//! Kamailio or baresip is missing; under `CI=true` that fails instead (`.ci/run` installs both).

mod common;

use common::baresip::{Baresip, Options, ServerState};
use common::*;
use rtc_client::{Client, Event, Events, Profile, RegistrationState, Store};

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

/// Both log off: our client unregisters (and ends its subscriptions and publication), baresip
/// quits. Then Kamailio holds nothing of either.
async fn log_off(
    kam: &Kamailio,
    (client, mut events, profile): (Client, Events, Profile),
    bob: Baresip,
) {
    client.disable_profile(&profile).await.unwrap();
    expect_state(&mut events, RegistrationState::NotRegistered).await;
    client.shutdown().await.unwrap();
    bob.quit().await;
    assert_eq!(
        ServerState::of(kam),
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
