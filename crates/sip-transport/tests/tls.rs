//! TLS over loopback with a test CA made by rcgen: verification by name and CA, the explicit
//! danger mode, and client certificates.

mod common;

use std::path::PathBuf;

use common::*;
use sip_transport::testkit::pki::TestCa;
use sip_transport::{
    Error, Target, TlsConfig, TlsServerConfig, Transport, TransportConfig, TransportEvent,
    TransportKind,
};

const NAME: &str = "sip.example.test";

async fn tls_server(pki: &TestCa, client_ca: Option<&str>) -> (Transport, sip_transport::Events) {
    let (cert, key) = pki.server_cert(&[NAME, "127.0.0.1", "::1"]);
    let mut server = TlsServerConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    if let Some(ca) = client_ca {
        server = server.with_client_ca_pem(ca.as_bytes(), true).unwrap();
    }
    bind(TransportConfig {
        tls: vec![v4()],
        tls_server: Some(server),
        tls_client: None,
        ..Default::default()
    })
    .await
}

async fn tls_client(tls: TlsConfig) -> (Transport, sip_transport::Events) {
    bind(TransportConfig {
        tls_client: Some(tls),
        ..Default::default()
    })
    .await
}

fn trusting(pki: &TestCa) -> TlsConfig {
    TlsConfig::new()
        .without_webpki_roots()
        .add_ca_pem(pki.pem().as_bytes())
        .unwrap()
}

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("sip-transport-test-{}-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test]
async fn verified_by_custom_ca_for_the_right_name() {
    let pki = TestCa::new("Test CA");
    let (server, mut server_events) = tls_server(&pki, None).await;
    let (client, mut client_events) = tls_client(trusting(&pki)).await;
    let addr = server.local_addr(TransportKind::Tls).unwrap();

    let target = Target::tls(addr, NAME);
    let id = client
        .send(&target, options("SIP/2.0/TLS h.example", "v1"))
        .await
        .unwrap();
    let req = next_message(&mut server_events).await;
    assert_eq!(req.transport, TransportKind::Tls);
    server
        .send(&req.reply_target(), ok_to(&req.message))
        .await
        .unwrap();
    let rsp = next_message(&mut client_events).await;
    assert_eq!((rsp.connection, rsp.message.status()), (id, Some(200)));
    // Reused for the next request.
    assert_eq!(
        client
            .send(&target, options("SIP/2.0/TLS h.example", "v2"))
            .await
            .unwrap(),
        id
    );
    next_message(&mut server_events).await;

    // Without a server name the certificate must carry the IP address.
    let (other, _e) = tls_client(trusting(&pki)).await;
    other
        .send(
            &Target {
                transport: TransportKind::Tls,
                addr,
                server_name: None,
            },
            options("SIP/2.0/TLS h.example", "v3"),
        )
        .await
        .unwrap();
    next_message(&mut server_events).await;
}

#[tokio::test]
async fn tls_over_ipv6() {
    if !have_ipv6() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    let pki = TestCa::new("Test CA");
    let (cert, key) = pki.server_cert(&[NAME]);
    let (server, mut events) = bind(TransportConfig {
        tls: vec![v6()],
        tls_server: Some(TlsServerConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap()),
        ..Default::default()
    })
    .await;
    let (client, _e) = tls_client(trusting(&pki)).await;
    client
        .send(
            &Target::tls(server.local_addr(TransportKind::Tls).unwrap(), NAME),
            options("SIP/2.0/TLS [::1]", "v6"),
        )
        .await
        .unwrap();
    assert!(next_message(&mut events).await.source.is_ipv6());
}

#[tokio::test]
async fn wrong_name_fails_verification() {
    let pki = TestCa::new("Test CA");
    let (server, _events) = tls_server(&pki, None).await;
    let (client, _e) = tls_client(trusting(&pki)).await;
    let addr = server.local_addr(TransportKind::Tls).unwrap();
    let err = client
        .send(
            &Target::tls(addr, "evil.example.test"),
            options("SIP/2.0/TLS h", "w1"),
        )
        .await
        .unwrap_err();
    match &err {
        Error::TlsHandshake { target, source } => {
            assert_eq!(target.server_name.as_deref(), Some("evil.example.test"));
            assert!(
                source.to_string().contains("not valid for name"),
                "{source}"
            );
        }
        other => panic!("expected a handshake error, got {other}"),
    }
    assert_eq!(err.cause(), sip_transport::Cause::TlsNameMismatch);
    assert_eq!(client.connection_count(), 0);
}

#[tokio::test]
async fn untrusted_certificate_fails_unless_danger_mode() {
    let pki = TestCa::new("Test CA");
    let (server, mut server_events) = tls_server(&pki, None).await;
    let addr = server.local_addr(TransportKind::Tls).unwrap();
    let target = Target::tls(addr, NAME);

    // Public roots only: our test CA is unknown.
    let (client, _e) = tls_client(TlsConfig::new()).await;
    let err = client
        .send(&target, options("SIP/2.0/TLS h", "d1"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::TlsHandshake { source, .. } if source.to_string().contains("UnknownIssuer")),
        "{err}"
    );
    assert_eq!(err.cause(), sip_transport::Cause::TlsUnknownCa);
    assert!(err.cause().is_permanent());
    // Another CA than the one that signed the server.
    let (client, _e) = tls_client(trusting(&TestCa::new("Other CA"))).await;
    assert!(matches!(
        client.send(&target, options("SIP/2.0/TLS h", "d2")).await,
        Err(Error::TlsHandshake { .. })
    ));

    // Only by asking for it by name.
    let danger = TlsConfig::new().danger_accept_any_certificate();
    assert!(danger.accepts_any_certificate());
    let (client, _e) = tls_client(danger).await;
    client
        .send(
            &Target::tls(addr, "any.name.at.all"),
            options("SIP/2.0/TLS h", "d3"),
        )
        .await
        .unwrap();
    let m = next_message(&mut server_events).await;
    assert_eq!(m.message.top_via().unwrap().branch(), Some("z9hG4bKd3"));
}

#[tokio::test]
async fn client_certificate_is_presented_and_required() {
    let pki = TestCa::new("Test CA");
    let clients = TestCa::new("Client CA");
    let (server, mut server_events) = tls_server(&pki, Some(&clients.pem())).await;
    let addr = server.local_addr(TransportKind::Tls).unwrap();
    let target = Target::tls(addr, NAME);

    // From files, as a deployment would configure it.
    let (cert, key) = clients.client_cert(&["alice.example.test"]);
    let ca_file = temp_file("ca.pem", &pki.pem());
    let cert_file = temp_file("client.pem", &cert);
    let key_file = temp_file("client.key", &key);
    let tls = TlsConfig::new()
        .add_ca_file(&ca_file)
        .unwrap()
        .with_client_cert_files(&cert_file, &key_file)
        .unwrap();
    for f in [&ca_file, &cert_file, &key_file] {
        let _ = std::fs::remove_file(f);
    }
    let (client, _e) = tls_client(tls).await;
    client
        .send(&target, options("SIP/2.0/TLS h", "m1"))
        .await
        .unwrap();
    let m = next_message(&mut server_events).await;
    assert_eq!(m.message.top_via().unwrap().branch(), Some("z9hG4bKm1"));

    // Without a certificate the server refuses the handshake. With TLS 1.3 the client learns
    // it only after its side finished, so it sees either a send error or a close.
    let (anon, mut anon_events) = tls_client(trusting(&pki)).await;
    match anon.send(&target, options("SIP/2.0/TLS h", "m2")).await {
        Err(Error::TlsHandshake { .. }) => {}
        Ok(Some(id)) => {
            let (closed, _, reason) = next_close(&mut anon_events).await;
            assert_eq!(closed, id);
            assert!(reason.is_failure(), "{reason:?}");
        }
        other => panic!("unexpected {other:?}"),
    }
    eventually(|| server.stats().tls_handshake_failures == 1).await;
    while let Some(ev) = server_events.try_recv() {
        assert!(!matches!(ev, TransportEvent::Message(_)), "{ev:?}");
    }
}

#[tokio::test]
async fn pem_errors_name_the_file() {
    let missing = std::env::temp_dir().join("sip-transport-no-such-file.pem");
    let err = TlsConfig::new().add_ca_file(&missing).unwrap_err();
    assert!(
        matches!(&err, Error::Pem { path, .. } if *path == missing),
        "{err}"
    );
    let err = TlsServerConfig::from_pem(b"not pem", b"not pem").unwrap_err();
    assert!(
        matches!(
            err,
            Error::Pem {
                what: "certificate chain",
                ..
            }
        ),
        "{err}"
    );
    // A TLS listener without a certificate is a configuration error.
    let err = Transport::bind(TransportConfig {
        tls: vec![v4()],
        ..Default::default()
    })
    .await
    .unwrap_err();
    assert!(
        matches!(err, Error::TransportDisabled(TransportKind::Tls)),
        "{err}"
    );
    // Outgoing TLS switched off.
    let (t, _e) = bind(TransportConfig {
        tls_client: None,
        ..Default::default()
    })
    .await;
    let err = t
        .send(
            &Target::tls("127.0.0.1:5061".parse().unwrap(), NAME),
            options("SIP/2.0/TLS h", "e1"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TransportDisabled(TransportKind::Tls)),
        "{err}"
    );
}

/// Stalled handshakes count against the per-source cap, and at the total cap the oldest one
/// makes room for a newcomer, who completes its handshake and is served.
#[tokio::test]
async fn stalled_handshakes_cannot_lock_others_out() {
    let pki = TestCa::new("Test CA");
    let (cert, key) = pki.server_cert(&[NAME]);
    let (server, mut server_events) = bind(TransportConfig {
        tls: vec![v4()],
        tls_server: Some(TlsServerConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap()),
        tls_client: None,
        max_connections: 40,
        max_connections_per_source: 20,
        connect_timeout: std::time::Duration::from_secs(120),
        ..Default::default()
    })
    .await;
    let addr = server.local_addr(TransportKind::Tls).unwrap();
    // Two sources open TCP connections to the TLS port and never start the handshake.
    let mut stalled = Vec::new();
    for source in ["127.0.0.3", "127.0.0.4"] {
        for _ in 0..21 {
            let s = tokio::net::TcpSocket::new_v4().unwrap();
            s.bind(format!("{source}:0").parse().unwrap()).unwrap();
            stalled.push(s.connect(addr).await.unwrap());
        }
    }
    let give_up = tokio::time::Instant::now() + WAIT;
    while server.stats().connections_refused < 2 {
        assert!(
            tokio::time::Instant::now() < give_up,
            "{:?}",
            server.stats()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // A client from 127.0.0.1 still gets through.
    let (client, mut client_events) = tls_client(trusting(&pki)).await;
    client
        .send(
            &Target::tls(addr, NAME),
            options("SIP/2.0/TLS h.example", "h1"),
        )
        .await
        .unwrap();
    let req = next_message(&mut server_events).await;
    server
        .send(&req.reply_target(), ok_to(&req.message))
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut client_events).await.message.status(),
        Some(200)
    );
    let stats = server.stats();
    assert_eq!(stats.connections_refused, 2);
    assert!(stats.connections_evicted >= 1, "{stats:?}");
}
