//! RFC 3263 lookups as the client runs them: off the event loop, a failure reported as a
//! registration `Error` with its cause and retried with backoff, and the servers looked up
//! again after every one failed, so that a changed SRV answer moves the client. Against the
//! testkit's DNS server (real hickory queries) and two embedded registrars.

mod common;

use std::time::Duration;

use common::*;
use rtc_client::server::{EmbeddedServer, ServerConfig};
use rtc_client::{Cause, Event, RegisterFlags, RegistrationState};
use sip_transport::TransportKind;
use sip_transport::testkit::dns::{RecordType, TestDns, a, srv};

/// alice's profile with the registrar named `host` (no port: SRV is asked).
fn profile_at(host: &str) -> String {
    profile_xml("alice", 5060, "udp").replace("127.0.0.1:5060", host)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_lookup_is_an_error_with_its_cause_and_registers_once_dns_answers() {
    let (server, port) = embedded_server().await;
    let dns = TestDns::start().await;
    let (client, mut events) = client_with(None, |c| c.name_servers = vec![dns.addr()]).await;
    let profile = client.create_profile(&profile_at("example.test")).unwrap();
    // Nothing known about example.test yet: enabling still succeeds.
    client
        .enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    let error = expect_state(&mut events, RegistrationState::Error).await;
    let Event::Registration { reason, cause, .. } = error else {
        unreachable!()
    };
    assert!(
        reason.contains("DNS lookup of example.test failed"),
        "{reason}"
    );
    assert_eq!(cause, Some(Cause::DnsNoRecords), "{reason}");
    // The name appears: the retry finds it and registers.
    dns.set(
        "_sip._udp.example.test",
        RecordType::SRV,
        vec![srv(0, 0, port, "one.example.test.")],
    );
    dns.set("one.example.test", RecordType::A, vec![a("127.0.0.1")]);
    expect_state(&mut events, RegistrationState::Registered).await;
    assert!(!server.bindings("alice").is_empty());
    client.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_does_not_exist_is_an_error_saying_so() {
    let dns = TestDns::start().await;
    dns.set_nxdomain(true);
    let (client, mut events) = client_with(None, |c| c.name_servers = vec![dns.addr()]).await;
    let profile = client.create_profile(&profile_at("nowhere.test")).unwrap();
    client
        .enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    let error = expect_state(&mut events, RegistrationState::Error).await;
    let Event::Registration { reason, cause, .. } = error else {
        unreachable!()
    };
    assert_eq!(cause, Some(Cause::DnsNoSuchName), "{reason}");
    assert!(reason.contains("nowhere.test"), "{reason}");
    client.shutdown().await.unwrap();
}

/// An embedded registrar that grants registrations as short as a second, and its UDP port.
async fn short_lived_registrar() -> (EmbeddedServer, u16) {
    let mut config = ServerConfig::demo();
    config.min_expires = 1;
    let server = EmbeddedServer::start_loopback(config).await.unwrap();
    let port = server.local_addr(TransportKind::Udp).unwrap().port();
    (server, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_srv_answer_moves_the_client_to_the_new_server() {
    let (first, first_port) = short_lived_registrar().await;
    let (second, second_port) = short_lived_registrar().await;
    let dns = TestDns::start().await;
    dns.set("one.example.test", RecordType::A, vec![a("127.0.0.1")]);
    dns.set("two.example.test", RecordType::A, vec![a("127.0.0.1")]);
    dns.set(
        "_sip._udp.example.test",
        RecordType::SRV,
        vec![srv(0, 0, first_port, "one.example.test.")],
    );
    let (client, mut events) = client_with(None, |c| {
        c.name_servers = vec![dns.addr()];
        // A refresh every 2 s notices a dead server, whose REGISTER times out in 3.2 s.
        c.register_expires = 4;
        c.timers.t1 = Duration::from_millis(50);
    })
    .await;
    let profile = client.create_profile(&profile_at("example.test")).unwrap();
    client
        .enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut events, RegistrationState::Registered).await;
    assert!(!first.bindings("alice").is_empty());

    // The service moves to the second server, and the first goes away.
    dns.set(
        "_sip._udp.example.test",
        RecordType::SRV,
        vec![srv(0, 0, second_port, "two.example.test.")],
    );
    first.shutdown();
    expect_state(&mut events, RegistrationState::Error).await;
    expect_state(&mut events, RegistrationState::Registered).await;
    assert!(!second.bindings("alice").is_empty());
    client.shutdown().await.unwrap();
}
