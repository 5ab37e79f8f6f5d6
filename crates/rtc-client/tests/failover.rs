//! Failover across the servers DNS names (RFC 3263 §4.3), against two real Kamailio instances:
//! the first stops mid-session; the client notices (keep-alives), registers with the second,
//! and its messages and presence go there too, since out-of-dialog requests follow the server
//! that holds the registration.

mod common;

use std::time::Duration;

use common::*;
use rtc_client::keepalive::KeepAliveConfig;
use rtc_client::{Event, Events, RegisterFlags, RegistrationState, Status, Store};
use sip_transport::resolve::{SrvRecord, StaticDns};

const ALICE: &str = "sip:alice@example.test";
const BOB: &str = "sip:bob@example.test";

/// Waits up to 90 s (a failover may wait out a transaction timeout of 32 s) for `want`.
async fn within_90s(events: &mut Events, what: &str, want: impl Fn(&Event) -> bool) -> Event {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(e)) if want(&e) => return e,
            Ok(Some(e)) => seen.push(e),
            other => panic!("waiting for {what}: {other:?}; saw {seen:#?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_first_server_stops_messages_and_presence_go_through_the_second() {
    let Some(first) = Kamailio::start("failover-1", &[]) else {
        return;
    };
    let Some(second) = Kamailio::start("failover-2", &[]) else {
        return;
    };
    // example.test: the first Kamailio, then the second (SRV priorities 10 and 20).
    let mut dns = StaticDns::default();
    dns.add_srv(
        "_sip._udp.example.test",
        SrvRecord::new(10, 0, first.port, "one.example.test"),
    )
    .add_srv(
        "_sip._udp.example.test",
        SrvRecord::new(20, 0, second.port, "two.example.test"),
    )
    .add_ip("one.example.test", "127.0.0.1".parse().unwrap())
    .add_ip("two.example.test", "127.0.0.1".parse().unwrap());
    let (alice, mut alice_events) = client_with(None, |c| {
        c.dns = Some(dns);
        c.udp_keepalive = Some(KeepAliveConfig {
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(3),
        });
    })
    .await;
    let xml = profile_xml("alice", first.port, "udp")
        .replace(&format!("127.0.0.1:{}", first.port), "example.test");
    let profile = alice.create_profile(&xml).unwrap();
    alice
        .enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut alice_events, RegistrationState::Registered).await;
    assert!(first.rpc("ul.dump").contains("sip:alice@"));

    // bob uses the second server only.
    let dir = TempDir::new("failover");
    let (bob, mut bob_events, _) = registered(&profile_xml("bob", second.port, "udp"), None).await;
    bob.enable_presence(Store::file(dir.path("bob.xml")))
        .await
        .unwrap();
    bob.set_local_presence(Status::Away, Some("on the second server"))
        .await
        .unwrap();

    tokio::time::sleep(Duration::from_secs(5)).await; // keep-alives answered
    first.stop();
    within_90s(
        &mut alice_events,
        "registered with the second server",
        |e| {
            matches!(
                e,
                Event::Registration {
                    state: RegistrationState::Registered,
                    ..
                }
            )
        },
    )
    .await;
    assert!(second.rpc("ul.dump").contains("sip:alice@"));

    // Out of dialog, alice's requests now go to the second server: a MESSAGE to bob…
    alice.send_message(BOB, "over there?").await.unwrap();
    within_90s(
        &mut bob_events,
        "alice's message",
        |e| matches!(e, Event::Message { text, .. } if text == "over there?"),
    )
    .await;
    // …a SUBSCRIBE to his presence (the second server's presence server answers)…
    alice
        .enable_presence(Store::file(dir.path("alice.xml")))
        .await
        .unwrap();
    alice.add_buddy(BOB, "Bob").await.unwrap();
    expect_buddy(&mut alice_events, BOB, Status::Away).await;
    // …and bob reaches her there.
    bob.send_message(ALICE, "yes").await.unwrap();
    within_90s(
        &mut alice_events,
        "bob's answer",
        |e| matches!(e, Event::Message { text, .. } if text == "yes"),
    )
    .await;
    alice.shutdown().await.unwrap();
    bob.shutdown().await.unwrap();
}
