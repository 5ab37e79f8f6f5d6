//! Issue 15 item 2 at the scale: one address holds 5,000 idle connections and trickles
//! 200 more a byte a second, spread over the embedded server's TCP and TLS listeners; users at
//! another address still register, over TCP and over TLS, each within 1 s (the deadline the
//! issue names). Once with the default connection caps, where the per-source cap turns most of
//! the hoard away, and once with no per-source cap, where the total cap (4,096) evicts the
//! oldest connections that never delivered a message to make room.
//!
//! The hoarders are 127.0.0.2 (Linux routes all of 127.0.0.0/8 to loopback); the clients
//! connect from 127.0.0.1. The test holds about 10,000 descriptors (5,200 client sockets and
//! the server's accepted ones), so it raises its own soft `RLIMIT_NOFILE` up to the hard limit
//! first (with the `rlimit` crate) and fails, saying so, if the hard limit is too low; its two
//! scenarios run one after the other.

mod common;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use common::*;
use rtc_client::server::{EmbeddedServer, ServerConfig};
use rtc_client::{RegisterFlags, RegistrationState};
use sip_transport::testkit::pki::TestCa;
use sip_transport::{TlsConfig, TransportConfig, TransportKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Idle connections the hoarder opens (half to TCP, half to TLS).
const IDLE: usize = 5_000;
/// Connections it trickles a byte a second into (half to TCP, half to TLS).
const TRICKLING: usize = 200;
/// The hoarder's address.
const HOARDER: &str = "127.0.0.2";
/// What the issue allows a user from another address to register in.
const DEADLINE: Duration = Duration::from_secs(1);

/// The two scenarios need the descriptors one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Raises the soft descriptor limit to what the test needs (at most the hard limit).
fn enough_descriptors() {
    let need = 2 * (IDLE + TRICKLING) as u64 + 1024;
    let got = rlimit::increase_nofile_limit(need).expect("raise RLIMIT_NOFILE");
    assert!(
        got >= need,
        "this test needs {need} file descriptors; RLIMIT_NOFILE's hard limit allows {got}"
    );
}

/// Runs `scenario` alone, on a multi-threaded runtime, with enough descriptors.
fn alone(per_source: usize) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    enough_descriptors();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario(per_source));
}

/// A connection from the hoarder's address.
async fn from_hoarder(server: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(format!("{HOARDER}:0").parse().unwrap()).unwrap();
    s.connect(server)
        .await
        .unwrap_or_else(|e| panic!("hoarding connection to {server}: {e}"))
}

/// Writes `head`, then `filler` bytes, one a second, until the server closes the connection.
fn trickle(mut c: TcpStream, head: &'static [u8], filler: u8) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for b in head.iter().copied().chain(std::iter::repeat(filler)) {
            if c.write_all(&[b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

async fn scenario(per_source: usize) {
    let ca = TestCa::new("Hoarding test CA");
    let transport = TransportConfig {
        tcp: vec!["127.0.0.1:0".parse().unwrap()],
        tls: vec!["127.0.0.1:0".parse().unwrap()],
        tls_server: Some(ca.server_config(&["127.0.0.1"])),
        max_connections_per_source: per_source,
        // The deadlines are tested in sip-transport's hoarding tests; here they are long
        // enough that nothing of the hoard times out while a slow machine builds it.
        message_timeout: Duration::from_secs(300),
        connect_timeout: Duration::from_secs(300),
        ..TransportConfig::default()
    };
    let total_cap = transport.max_connections;
    let server = EmbeddedServer::start(ServerConfig::demo(), transport)
        .await
        .unwrap();
    let tcp = server.local_addr(TransportKind::Tcp).unwrap();
    let tls = server.local_addr(TransportKind::Tls).unwrap();

    // The users, ready before the hoard arrives.
    let (alice, mut alice_events) = client_with(None, |_| {}).await;
    let (bob, mut bob_events) = client_with(None, |c| {
        c.transport.tls_client = Some(
            TlsConfig::new()
                .without_webpki_roots()
                .add_ca_pem(ca.pem().as_bytes())
                .unwrap(),
        );
    })
    .await;

    // The hoard: idle connections, then trickling ones (a request line over TCP; over TLS a
    // ClientHello record header announcing 512 bytes, then zeros).
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        idle.push(from_hoarder(if i % 2 == 0 { tcp } else { tls }).await);
    }
    let mut tricklers = Vec::with_capacity(TRICKLING);
    for i in 0..TRICKLING {
        tricklers.push(if i % 2 == 0 {
            trickle(
                from_hoarder(tcp).await,
                b"REGISTER sip:example.test SIP/2.0\r\n",
                b'X',
            )
        } else {
            trickle(from_hoarder(tls).await, &[0x16, 0x03, 0x01, 0x02, 0x00], 0)
        });
    }
    // Every hoarding connection has been taken in: all but `room` of them refused or evicted.
    let room = per_source.min(total_cap);
    let turned_away = (IDLE + TRICKLING - room) as u64;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let s = server.transport_stats();
        if s.connections_refused + s.connections_evicted >= turned_away {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "the server never took the hoard in: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Users from 127.0.0.1 register over TCP and over TLS, each within the deadline.
    for (user, client, events, port, protocol) in [
        ("alice", &alice, &mut alice_events, tcp.port(), "tcp"),
        ("bob", &bob, &mut bob_events, tls.port(), "tls"),
    ] {
        let xml = profile_xml(user, port, protocol);
        let profile = client.create_profile(&xml).unwrap();
        let started = tokio::time::Instant::now();
        client
            .enable_profile(&profile, RegisterFlags::ALL)
            .await
            .unwrap();
        tokio::time::timeout(
            DEADLINE,
            expect_state(events, RegistrationState::Registered),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{user} did not register over {protocol} within {DEADLINE:?} (hoard: {:?})",
                server.transport_stats()
            )
        });
        eprintln!(
            "{user} registered over {protocol} in {:?}",
            started.elapsed()
        );
        let bindings = server.bindings(user);
        assert_eq!(bindings.len(), 1, "{user}'s binding");
        let contact = &bindings[0].contact;
        let over = if contact.starts_with("sips:") {
            "tls"
        } else if contact.contains(";transport=tcp") {
            "tcp"
        } else {
            "udp"
        };
        assert_eq!(over, protocol, "{user}'s contact: {contact}");
    }

    let stats = server.transport_stats();
    eprintln!("per-source cap {per_source}: {stats:?}");
    if per_source < total_cap {
        // The per-source cap did the work: nothing had to be evicted.
        assert_eq!(stats.connections_evicted, 0, "{stats:?}");
        assert!(stats.connections_refused >= turned_away, "{stats:?}");
    } else {
        // The total cap did: the oldest silent hoarders made room, one per newcomer.
        assert_eq!(stats.connections_refused, 0, "{stats:?}");
        assert!(stats.connections_evicted > turned_away, "{stats:?}");
    }
    for t in tricklers {
        t.abort();
    }
    drop(idle);
    for c in [alice, bob] {
        c.shutdown().await.unwrap();
    }
}

/// Default caps (64 per address, 4,096 in all): the hoarder keeps 64 connections.
#[test]
fn a_hoarding_address_does_not_lock_out_tcp_or_tls_users() {
    alone(TransportConfig::default().max_connections_per_source);
}

/// No per-source cap: the hoarder fills the total cap, and each user's connection evicts the
/// oldest hoarding connection that never delivered a message.
#[test]
fn at_the_total_cap_users_evict_the_oldest_silent_hoarders() {
    alone(usize::MAX);
}

/// Hoarders that speak (one OPTIONS per connection, answered without credentials) fill the
/// total cap from one address: the server makes room by closing the oldest of them, never the
/// connection of a user who authenticated, although hers is the oldest of all.
#[tokio::test]
async fn speaking_hoarders_make_room_but_an_authenticated_user_keeps_her_connection() {
    const CAP: usize = 8;
    const HOARD: usize = 2 * CAP;
    let transport = TransportConfig {
        tcp: vec!["127.0.0.1:0".parse().unwrap()],
        max_connections: CAP,
        max_connections_per_source: usize::MAX,
        evict_untrusted: true,
        message_timeout: Duration::from_secs(300),
        ..TransportConfig::default()
    };
    let server = EmbeddedServer::start(ServerConfig::demo(), transport)
        .await
        .unwrap();
    let tcp = server.local_addr(TransportKind::Tcp).unwrap();
    let (alice, mut events) = client_with(None, |_| {}).await;
    let profile = alice
        .create_profile(&profile_xml("alice", tcp.port(), "tcp"))
        .unwrap();
    alice
        .enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut events, RegistrationState::Registered).await;

    // Each hoarder speaks and is answered before the next one comes.
    let mut hoard = Vec::with_capacity(HOARD);
    for i in 0..HOARD {
        let mut c = from_hoarder(tcp).await;
        let options = format!(
            "OPTIONS sip:{tcp};transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP {HOARDER}:9;branch=z9hG4bKhoard{i}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:hoarder@example.test>;tag=h{i}\r\nTo: <sip:{tcp}>\r\n\
             Call-ID: hoard{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        c.write_all(options.as_bytes()).await.unwrap();
        let mut answer = [0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), c.read(&mut answer))
            .await
            .expect("an answer to the hoarder's OPTIONS")
            .unwrap();
        assert!(
            answer[..n].starts_with(b"SIP/2.0 "),
            "hoarder {i} got no response"
        );
        hoard.push(c);
    }
    // Alice's connection and CAP − 1 hoarders fill the cap; every later hoarder evicted one.
    let stats = server.transport_stats();
    let evicted = (HOARD - (CAP - 1)) as u64;
    assert_eq!(stats.connections_evicted, evicted, "{stats:?}");
    assert_eq!(stats.connections_refused, 0, "{stats:?}");
    // Exactly that many hoarders, the oldest, were closed: so it was none of alice's.
    for (i, c) in hoard.iter_mut().enumerate().take(evicted as usize) {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(10), c.read(&mut byte)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "hoarder {i} should have been closed to make room"
        );
    }
    assert_eq!(server.bindings("alice").len(), 1);
    alice.shutdown().await.unwrap();
}
