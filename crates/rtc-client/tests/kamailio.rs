//! The facade against a real Kamailio over UDP, TCP and TLS: register with digest, exchange an
//! instant message through the proxy, log off. Skipped, with the reason printed, where Kamailio
//! is not installed (`.ci/run` installs it).

mod common;

use common::*;
use std::time::Duration;

use rtc_client::{Event, RegisterFlags, RegistrationState};

async fn register_message_logoff(protocol: &str) {
    let Some(kam) = Kamailio::start(&format!("im-{protocol}"), &[]) else {
        return;
    };
    let port = kam.port_for(protocol);
    let (alice, mut alice_events) = client(Some(&kam.ca())).await;
    let (bob, mut bob_events) = client(Some(&kam.ca())).await;
    let alice_profile = alice
        .create_profile(&profile_xml("alice", port, protocol))
        .unwrap();
    let bob_profile = bob
        .create_profile(&profile_xml("bob", port, protocol))
        .unwrap();

    alice
        .enable_profile(&alice_profile, RegisterFlags::ALL)
        .await
        .unwrap();
    bob.enable_profile(&bob_profile, RegisterFlags::ALL)
        .await
        .unwrap();
    for events in [&mut alice_events, &mut bob_events] {
        expect_state(events, RegistrationState::Registering).await;
        match expect_state(events, RegistrationState::Registered).await {
            Event::Registration { status, .. } => assert_eq!(status, Some(200)),
            e => unreachable!("{e:?}"),
        }
    }

    // Kamailio challenges the MESSAGE (407), relays it to bob's registered contact.
    alice
        .send_message("sip:bob@example.test", &format!("hi bob over {protocol}"))
        .await
        .unwrap_or_else(|e| panic!("MESSAGE failed: {e}\n{}", kam.log()));
    let got = expect(&mut bob_events, "the message", |e| {
        matches!(e, Event::Message { .. })
    })
    .await;
    let Event::Message { from, text, .. } = got else {
        unreachable!()
    };
    assert_eq!(from, "sip:alice@example.test");
    assert_eq!(text, format!("hi bob over {protocol}"));

    // Typing indications travel the same way.
    bob.set_typing("sip:alice@example.test", true)
        .await
        .unwrap();
    let typing = expect(&mut alice_events, "typing", |e| {
        matches!(e, Event::Typing { .. })
    })
    .await;
    assert_eq!(
        typing,
        Event::Typing {
            from: "sip:bob@example.test".into(),
            active: true
        }
    );

    alice.disable_profile(&alice_profile).await.unwrap();
    bob.disable_profile(&bob_profile).await.unwrap();
    for events in [&mut alice_events, &mut bob_events] {
        expect_state(events, RegistrationState::Unregistering).await;
        match expect_state(events, RegistrationState::NotRegistered).await {
            Event::Registration { status, .. } => assert_eq!(status, Some(200)),
            e => unreachable!("{e:?}"),
        }
    }
    alice.shutdown().await.unwrap();
    bob.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_register_message_logoff() {
    register_message_logoff("udp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_register_message_logoff() {
    register_message_logoff("tcp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_register_message_logoff() {
    register_message_logoff("tls").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_rejected() {
    let Some(kam) = Kamailio::start("wrong-pw", &[]) else {
        return;
    };
    let (alice, mut events) = client(None).await;
    let xml = profile_xml("alice", kam.port, "udp").replace("alicepw", "nope");
    let profile = alice.create_profile(&xml).unwrap();
    alice
        .enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    match expect_state(&mut events, RegistrationState::Rejected).await {
        Event::Registration { status, .. } => assert_eq!(status, Some(401)),
        e => unreachable!("{e:?}"),
    }
}

/// Registers alice over TCP with a Kamailio that closes connections idle for 3 s (with `args`
/// added to its start), pinging every `keepalive`, and returns the registration events of the
/// next 15 s (Kamailio's timer closes such a connection 10-12 s after its last message here);
/// `None` where Kamailio is missing.
async fn idle_tcp_flow(
    name: &str,
    args: &[&str],
    keepalive: Option<Duration>,
) -> Option<Vec<RegistrationState>> {
    let args = [&["-A", "WITH_SHORT_TCP_LIFETIME"], args].concat();
    let kam = Kamailio::start(name, &args)?;
    let (alice, mut events, _) = registered_with(&profile_xml("alice", kam.port, "tcp"), |c| {
        c.transport.keepalive_interval = keepalive;
    })
    .await;
    let mut seen = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(15);
    while let Ok(Some(e)) = tokio::time::timeout_at(until, events.recv()).await {
        if let Event::Registration { state, .. } = e {
            seen.push(state);
        }
    }
    alice.shutdown().await.unwrap();
    Some(seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keepalives_hold_the_registration_flow_open() {
    // CRLF pings (RFC 5626 §3.5.1) keep the server from closing our connection: the
    // registration stays as it is.
    let Some(seen) = idle_tcp_flow("keepalive-on", &[], Some(Duration::from_secs(1))).await else {
        return;
    };
    assert_eq!(seen, []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_at_the_registrars_flow_timer_hold_the_flow_open() {
    // No pings configured, but Kamailio's outbound registrar asks for `Flow-Timer: 2` (RFC 5626
    // §4.4.1): the client pings at that pace on its own, and the flow outlives the 3 s
    // lifetime. The test below is what happens without them.
    let Some(seen) = idle_tcp_flow("flow-timer", &["-A", "WITH_OUTBOUND"], None).await else {
        return;
    };
    assert_eq!(seen, []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_the_server_closes_is_registered_again() {
    // Without pings the server closes the idle connection, which can no longer carry requests
    // to us: the client registers again over a new one.
    let Some(seen) = idle_tcp_flow("keepalive-off", &[], None).await else {
        return;
    };
    assert!(
        seen.starts_with(&[
            RegistrationState::Registering,
            RegistrationState::Registered
        ]),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_reported_with_its_cause() {
    // Kamailio's certificate is signed by the test CA, which this client does not trust: the
    // registration says so, typed and in words, rather than "transport error".
    let Some(kam) = Kamailio::start("untrusted", &[]) else {
        return;
    };
    let (alice, mut events) = client(None).await;
    let xml = profile_xml("alice", kam.tls_port, "tls").replace("127.0.0.1:", "localhost:");
    let profile = alice.create_profile(&xml).unwrap();
    alice
        .enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    let e = expect_state(&mut events, RegistrationState::Error).await;
    let Event::Registration { cause, reason, .. } = e else {
        unreachable!("{e:?}")
    };
    assert_eq!(cause, Some(rtc_client::Cause::TlsUnknownCa), "{reason}");
    assert!(cause.is_some_and(rtc_client::Cause::is_permanent));
    assert!(reason.contains("unknown CA"), "{reason}");
    alice.shutdown().await.unwrap();
}
