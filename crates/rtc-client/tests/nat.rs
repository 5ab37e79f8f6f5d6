//! A client on a bad network: a UDP registration whose registrar goes away and comes back is
//! noticed by its STUN keep-alives within seconds, not at the next refresh (RFC 5626 §4.4.1).

mod common;

use std::time::Duration;

use common::*;
use rtc_client::keepalive::KeepAliveConfig;
use rtc_client::server::{EmbeddedServer, ServerConfig};
use rtc_client::{Event, RegisterFlags, RegistrationState};
use sip_transport::TransportConfig;

/// The embedded registrar on 127.0.0.1:`port`, UDP only.
async fn registrar(port: u16) -> EmbeddedServer {
    let transport = TransportConfig {
        udp: vec![format!("127.0.0.1:{port}").parse().unwrap()],
        ..Default::default()
    };
    EmbeddedServer::start(ServerConfig::demo(), transport)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_keepalives_notice_a_dead_registrar_and_its_return() {
    let port = sip_transport::testkit::free_port();
    let server = registrar(port).await;
    let (alice, mut events) = client_with(None, |c| {
        c.udp_keepalive = Some(KeepAliveConfig {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
        });
    })
    .await;
    let profile = alice
        .create_profile(&profile_xml("alice", port, "udp"))
        .unwrap();
    alice
        .enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut events, RegistrationState::Registered).await;
    // Some probes answered first: a registrar that never answered STUN is one without it
    // (the client then sends CRLFs), not one that went away.
    tokio::time::sleep(Duration::from_secs(4)).await;
    // The registration lasts an hour: without keep-alives nothing would happen for 50 minutes.
    server.shutdown();
    drop(server);
    let e = expect(&mut events, "the outage noticed", |e| {
        matches!(e, Event::Registration { state: RegistrationState::Registering, reason, .. }
            if reason.contains("keep-alive"))
    })
    .await;
    println!("noticed: {e:?}");
    // The registrar restarts with no memory of us: the client is registered there again.
    let server = registrar(port).await;
    expect_state(&mut events, RegistrationState::Registered).await;
    assert_eq!(server.bindings("alice").len(), 1);
    alice.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kamailio_outage_over_udp_is_noticed_and_recovered_from() {
    // Kamailio answers STUN on its SIP port (interop/kamailio: the stun module). Stopped for
    // 20 s, it is missed within seconds; back, it holds our binding again, so a MESSAGE
    // reaches us, which before keep-alives would have waited for the 50-minute refresh.
    let Some(kam) = Kamailio::start("udp-outage", &[]) else {
        return;
    };
    let keepalive = Some(KeepAliveConfig {
        interval: Duration::from_secs(2),
        timeout: Duration::from_secs(3),
    });
    let (alice, mut alice_events) = client_with(None, |c| c.udp_keepalive = keepalive).await;
    let profile = alice
        .create_profile(&profile_xml("alice", kam.port, "udp"))
        .unwrap();
    alice
        .enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut alice_events, RegistrationState::Registered).await;
    tokio::time::sleep(Duration::from_secs(5)).await; // probes answered
    kam.stop();
    expect(&mut alice_events, "the outage noticed", |e| {
        matches!(e, Event::Registration { state: RegistrationState::Registering, reason, .. }
            if reason.contains("keep-alive"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    kam.start_again();
    expect(&mut alice_events, "registered again", |e| {
        matches!(
            e,
            Event::Registration {
                state: RegistrationState::Registered,
                ..
            }
        )
    })
    .await;
    let (bob, _bob_events, _) = registered(&profile_xml("bob", kam.port, "udp"), None).await;
    bob.send_message("sip:alice@example.test", "still there?")
        .await
        .unwrap();
    expect(
        &mut alice_events,
        "bob's message",
        |e| matches!(e, Event::Message { text, .. } if text == "still there?"),
    )
    .await;
    bob.shutdown().await.unwrap();
    alice.shutdown().await.unwrap();
}
