//! UDP and TCP over loopback: round trips, reuse, limits, keep-alive, closes.

mod common;

use std::time::Duration;

use common::*;
use sip_parse::ParseConfig;
use sip_transport::{CloseReason, Error, Target, TransportConfig, TransportEvent, TransportKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

fn udp_cfg(addr: std::net::SocketAddr) -> TransportConfig {
    TransportConfig {
        udp: vec![addr],
        ..Default::default()
    }
}

fn tcp_cfg() -> TransportConfig {
    TransportConfig {
        tcp: vec![v4()],
        ..Default::default()
    }
}

async fn udp_round_trip(addr: std::net::SocketAddr) {
    let (server, mut server_events) = bind(udp_cfg(addr)).await;
    let (client, mut client_events) = bind(udp_cfg(addr)).await;
    let server_addr = server.local_addr(TransportKind::Udp).unwrap();
    let client_addr = client.local_addr(TransportKind::Udp).unwrap();
    let via = format!("SIP/2.0/UDP {}", sip_host(client_addr));

    let sent = client
        .send(&Target::udp(server_addr), options(&via, "u1"))
        .await
        .unwrap();
    assert_eq!(sent, None);
    let req = next_message(&mut server_events).await;
    assert_eq!(req.transport, TransportKind::Udp);
    assert_eq!(req.source, client_addr);
    assert_eq!(req.connection, None);
    assert_eq!(req.message.top_via().unwrap().branch(), Some("z9hG4bKu1"));

    server
        .send(&req.reply_target(), ok_to(&req.message))
        .await
        .unwrap();
    let rsp = next_message(&mut client_events).await;
    assert_eq!(rsp.message.status(), Some(200));
    assert_eq!(rsp.source, server_addr);
    assert_eq!(server.stats().datagrams_received, 1);
    assert_eq!(client.stats().datagrams_received, 1);
}

fn sip_host(a: std::net::SocketAddr) -> String {
    a.to_string()
}

#[tokio::test]
async fn udp_round_trip_v4() {
    udp_round_trip(v4()).await;
}

#[tokio::test]
async fn udp_round_trip_v6() {
    if !have_ipv6() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    udp_round_trip(v6()).await;
}

#[tokio::test]
async fn dual_stack_udp_socket_reports_and_answers_ipv4_peers() {
    if !have_ipv6() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    let Ok((server, mut events)) =
        sip_transport::Transport::bind(udp_cfg("[::]:0".parse().unwrap())).await
    else {
        eprintln!("skipped: cannot bind [::]");
        return;
    };
    let port = server.local_addr(TransportKind::Udp).unwrap().port();
    let raw = UdpSocket::bind(v4()).await.unwrap();
    raw.send_to(&options("SIP/2.0/UDP 127.0.0.1", "ds"), ("127.0.0.1", port))
        .await
        .unwrap();
    let req = next_message(&mut events).await;
    assert_eq!(req.source, raw.local_addr().unwrap());
    assert_eq!(req.message.top_via().unwrap().received, None);
    assert_eq!(
        req.top_via.unwrap().view(&req.message),
        Some(req.message.top_via().unwrap())
    );
    server
        .send(&req.reply_target(), ok_to(&req.message))
        .await
        .unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(WAIT, raw.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 200 OK"));
}

#[tokio::test]
async fn tcp_round_trip_v6() {
    if !have_ipv6() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    let cfg = TransportConfig {
        tcp: vec![v6()],
        ..Default::default()
    };
    let (server, mut server_events) = bind(cfg).await;
    let (client, mut client_events) = bind(TransportConfig::default()).await;
    let addr = server.local_addr(TransportKind::Tcp).unwrap();
    client
        .send(&Target::tcp(addr), options("SIP/2.0/TCP [::1]:5060", "t6"))
        .await
        .unwrap();
    let req = next_message(&mut server_events).await;
    assert!(req.source.is_ipv6());
    server
        .send(&req.reply_target(), ok_to(&req.message))
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut client_events).await.message.status(),
        Some(200)
    );
}

#[tokio::test]
async fn tcp_request_response_reuses_the_connection() {
    let (server, mut server_events) = bind(tcp_cfg()).await;
    let (client, mut client_events) = bind(TransportConfig::default()).await;
    let target = Target::tcp(server.local_addr(TransportKind::Tcp).unwrap());

    let first = client
        .send(&target, options("SIP/2.0/TCP 127.0.0.1:5060", "r1"))
        .await
        .unwrap()
        .expect("a connection id");
    let req = next_message(&mut server_events).await;
    let server_conn = req.connection.expect("stream connection");
    // The response goes back on the connection the request came in on.
    server
        .send(&req.reply_target(), ok_to(&req.message))
        .await
        .unwrap();
    let rsp = next_message(&mut client_events).await;
    assert_eq!(rsp.connection, Some(first));
    assert_eq!(rsp.message.status(), Some(200));

    // A second request reuses it, on both ends.
    let second = client
        .send(&target, options("SIP/2.0/TCP 127.0.0.1:5060", "r2"))
        .await
        .unwrap();
    assert_eq!(second, Some(first));
    let req2 = next_message(&mut server_events).await;
    assert_eq!(req2.connection, Some(server_conn));
    server
        .send_on(server_conn, ok_to(&req2.message))
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut client_events).await.connection,
        Some(first)
    );
    assert_eq!(server.stats().connections_opened, 1);
    assert_eq!(client.stats().connections_opened, 1);
    assert_eq!(server.stats().stream_messages_received, 2);
}

#[tokio::test]
async fn concurrent_sends_share_one_new_connection() {
    let (server, mut server_events) = bind(tcp_cfg()).await;
    let (client, _client_events) = bind(TransportConfig::default()).await;
    let target = Target::tcp(server.local_addr(TransportKind::Tcp).unwrap());
    let sends = (0..8).map(|i| {
        let (client, target) = (client.clone(), target.clone());
        tokio::spawn(async move {
            client
                .send(&target, options("SIP/2.0/TCP h.example", &format!("cc{i}")))
                .await
                .unwrap()
        })
    });
    let mut ids = Vec::new();
    for s in sends {
        ids.push(s.await.unwrap().unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    for _ in 0..8 {
        next_message(&mut server_events).await;
    }
    assert_eq!(server.stats().connections_opened, 1);
}

#[tokio::test]
async fn large_and_pipelined_stream_messages_are_framed() {
    let (server, mut events) = bind(tcp_cfg()).await;
    let (client, _e) = bind(TransportConfig::default()).await;
    let target = Target::tcp(server.local_addr(TransportKind::Tcp).unwrap());
    let body = "x".repeat(40_000); // several reads
    let big = sip_parse::MessageBuilder::request(sip_parse::Method::Message, "sip:b@example.test")
        .header("Via", "SIP/2.0/TCP h.example;branch=z9hG4bKbig")
        .unwrap()
        .header("CSeq", "1 MESSAGE")
        .unwrap()
        .body("text/plain", body.clone())
        .unwrap()
        .build();
    client.send(&target, big).await.unwrap();
    for i in 0..5 {
        client
            .send(&target, options("SIP/2.0/TCP h.example", &format!("p{i}")))
            .await
            .unwrap();
    }
    let m = next_message(&mut events).await;
    assert_eq!(m.message.body(), body.as_bytes());
    for i in 0..5 {
        let m = next_message(&mut events).await;
        let branch = format!("z9hG4bKp{i}");
        assert_eq!(m.message.top_via().unwrap().branch(), Some(branch.as_str()));
    }
}

#[tokio::test]
async fn reconnects_on_demand_after_close() {
    let (server, mut server_events) = bind(tcp_cfg()).await;
    let (client, mut client_events) = bind(TransportConfig::default()).await;
    let target = Target::tcp(server.local_addr(TransportKind::Tcp).unwrap());
    let first = client
        .send(&target, options("SIP/2.0/TCP h.example", "c1"))
        .await
        .unwrap()
        .unwrap();
    let req = next_message(&mut server_events).await;
    server.close(req.connection.unwrap());
    let (id, _, reason) = next_close(&mut client_events).await;
    assert_eq!((id, reason), (first, CloseReason::PeerClosed));
    let second = client
        .send(&target, options("SIP/2.0/TCP h.example", "c2"))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(first, second);
    let req = next_message(&mut server_events).await;
    assert_eq!(req.message.top_via().unwrap().branch(), Some("z9hG4bKc2"));
}

#[tokio::test]
async fn crlf_ping_is_answered_with_pong() {
    let (server, _events) = bind(tcp_cfg()).await;
    let mut raw = TcpStream::connect(server.local_addr(TransportKind::Tcp).unwrap())
        .await
        .unwrap();
    raw.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    tokio::time::timeout(WAIT, raw.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    // A ping split across two segments is answered too.
    raw.write_all(b"\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    raw.write_all(b"\r\n").await.unwrap();
    tokio::time::timeout(WAIT, raw.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    assert_eq!(server.stats().pongs_sent, 2);
}

#[tokio::test]
async fn client_keepalive_pings_get_pongs() {
    let (server, _server_events) = bind(tcp_cfg()).await;
    let cfg = TransportConfig {
        keepalive_interval: Some(Duration::from_millis(30)),
        keepalive_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let (client, mut client_events) = bind(cfg).await;
    let target = Target::tcp(server.local_addr(TransportKind::Tcp).unwrap());
    client
        .send(&target, options("SIP/2.0/TCP h.example", "k1"))
        .await
        .unwrap();
    eventually(|| server.stats().pongs_sent >= 3).await;
    // Answered pings keep the connection: no close was reported.
    while let Some(ev) = client_events.try_recv() {
        assert!(
            !matches!(ev, TransportEvent::ConnectionClosed { .. }),
            "{ev:?}"
        );
    }
    assert_eq!(client.connection_count(), 1);
}

#[tokio::test]
async fn unanswered_keepalive_marks_connection_broken() {
    let silent = TcpListener::bind(v4()).await.unwrap();
    let addr = silent.local_addr().unwrap();
    let cfg = TransportConfig {
        keepalive_interval: Some(Duration::from_millis(20)),
        keepalive_timeout: Duration::from_millis(100),
        ..Default::default()
    };
    let (client, mut events) = bind(cfg).await;
    let id = client
        .send(&Target::tcp(addr), options("SIP/2.0/TCP h.example", "k2"))
        .await
        .unwrap()
        .unwrap();
    let _held = silent.accept().await.unwrap();
    let (closed, remote, reason) = next_close(&mut events).await;
    assert_eq!((closed, remote), (id, addr));
    assert_eq!(reason, CloseReason::KeepaliveTimeout);
    assert!(reason.is_failure());
}

/// The instants (tokio's clock) at which a raw TCP peer accepted on `listener` received each
/// CRLF CRLF ping after the first message (`first` bytes long); each is answered with a pong.
fn count_pings(
    listener: TcpListener,
    first: usize,
) -> std::sync::Arc<std::sync::Mutex<Vec<tokio::time::Instant>>> {
    let pings = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = pings.clone();
    tokio::spawn(async move {
        let (mut peer, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            match peer.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            while buf.len() >= first + 4 {
                assert_eq!(&buf[first..first + 4], b"\r\n\r\n", "only pings follow");
                buf.drain(first..first + 4);
                seen.lock().unwrap().push(tokio::time::Instant::now());
                peer.write_all(b"\r\n").await.unwrap();
            }
        }
    });
    pings
}

/// RFC 5626 §4.4.1: a connection told the pace its peer asked for (a registrar's Flow-Timer)
/// pings at 80–100 % of it instead of the configured interval, and goes back to the
/// configured one when told so. On tokio's paused clock: exact counts, no waiting.
#[tokio::test(start_paused = true)]
async fn a_connection_pings_at_the_pace_its_peer_asked_for() {
    let listener = TcpListener::bind(v4()).await.unwrap();
    let target = Target::tcp(listener.local_addr().unwrap());
    let cfg = TransportConfig {
        keepalive_interval: Some(Duration::from_secs(60)),
        ..Default::default()
    };
    let (client, mut events) = bind(cfg).await;
    let asked = Duration::from_secs(2);
    assert!(matches!(
        client.set_keepalive(&target, Some(asked)),
        Err(Error::NotConnected(_))
    ));
    let request = options("SIP/2.0/TCP h.example", "p1");
    let pings = count_pings(listener, request.len());
    let id = client.send(&target, request).await.unwrap();
    assert_eq!(client.set_keepalive(&target, Some(asked)).ok(), id);

    tokio::time::sleep(Duration::from_secs(20)).await;
    let at = pings.lock().unwrap().clone();
    // Every 1.6–2 s: 10 to 12 in 20 s, where the configured interval gives none.
    assert!((10..=12).contains(&at.len()), "{} pings", at.len());
    for gap in at.windows(2).map(|w| w[1] - w[0]) {
        assert!(
            (Duration::from_millis(1600)..=asked).contains(&gap),
            "{gap:?} between pings"
        );
    }

    // Back to the configured 60 s, counted from the last ping.
    assert_eq!(client.set_keepalive(&target, None).ok(), id);
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert_eq!(pings.lock().unwrap().len(), at.len());
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(pings.lock().unwrap().len(), at.len() + 1);
    // Answered: the connection stays.
    while let Some(ev) = events.try_recv() {
        assert!(
            !matches!(ev, TransportEvent::ConnectionClosed { .. }),
            "{ev:?}"
        );
    }
    assert_eq!(client.connection_count(), 1);
}

#[tokio::test]
async fn garbage_stream_is_closed_and_listener_keeps_serving() {
    let (server, mut events) = bind(tcp_cfg()).await;
    let addr = server.local_addr(TransportKind::Tcp).unwrap();
    let mut bad = TcpStream::connect(addr).await.unwrap();
    bad.write_all(b"GARBAGE GARBAGE\r\n\r\n").await.unwrap();
    let (_, _, reason) = next_close(&mut events).await;
    assert!(matches!(reason, CloseReason::BadFraming(_)), "{reason:?}");
    let mut rest = Vec::new();
    let n = tokio::time::timeout(WAIT, bad.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the server closed without answering");
    assert_eq!(server.stats().connections_closed_bad_framing, 1);

    let mut good = TcpStream::connect(addr).await.unwrap();
    good.write_all(&options("SIP/2.0/TCP h.example", "g1"))
        .await
        .unwrap();
    let m = next_message(&mut events).await;
    assert_eq!(m.message.top_via().unwrap().branch(), Some("z9hG4bKg1"));
}

#[tokio::test]
async fn oversized_stream_message_closes_the_connection() {
    let cfg = TransportConfig {
        tcp: vec![v4()],
        parse: ParseConfig {
            max_message_size: 1024,
            ..Default::default()
        },
        ..Default::default()
    };
    let (server, mut events) = bind(cfg).await;
    let addr = server.local_addr(TransportKind::Tcp).unwrap();
    // A Content-Length beyond the limit.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nContent-Length: 5000\r\n\r\n")
        .await
        .unwrap();
    let (_, _, reason) = next_close(&mut events).await;
    assert!(matches!(reason, CloseReason::BadFraming(_)), "{reason:?}");
    // A header section that never ends.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(&[b'X'; 4096]).await;
    let (_, _, reason) = next_close(&mut events).await;
    assert!(matches!(reason, CloseReason::BadFraming(_)), "{reason:?}");
    assert_eq!(server.stats().connections_closed_bad_framing, 2);

    // Sending over the limit is refused before it reaches a socket.
    let err = server
        .send(&Target::tcp(addr), bytes::Bytes::from(vec![b'a'; 2000]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::MessageTooLarge {
                len: 2000,
                max: 1024,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn malformed_datagram_is_dropped_and_counted() {
    let (server, mut events) = bind(udp_cfg(v4())).await;
    let addr = server.local_addr(TransportKind::Udp).unwrap();
    let raw = UdpSocket::bind(v4()).await.unwrap();
    raw.send_to(b"this is not SIP\r\n\r\n", addr).await.unwrap();
    raw.send_to(&vec![b'A'; 70_000][..65_000], addr)
        .await
        .unwrap();
    raw.send_to(&options("SIP/2.0/UDP h.example", "d1"), addr)
        .await
        .unwrap();
    let m = next_message(&mut events).await;
    assert_eq!(m.message.top_via().unwrap().branch(), Some("z9hG4bKd1"));
    let stats = server.stats();
    assert_eq!((stats.datagrams_dropped, stats.datagrams_received), (2, 1));
}

#[tokio::test]
async fn killed_peer_is_reported_at_once() {
    // Outbound: the server we connected to goes away.
    let listener = TcpListener::bind(v4()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, mut events) = bind(TransportConfig::default()).await;
    let id = client
        .send(&Target::tcp(addr), options("SIP/2.0/TCP h.example", "p1"))
        .await
        .unwrap()
        .unwrap();
    let (peer, _) = listener.accept().await.unwrap();
    // Zero linger makes the drop send RST, as a crashed peer's kernel would; it does not block.
    #[allow(deprecated)]
    peer.set_linger(Some(Duration::ZERO)).unwrap();
    drop(peer);
    let started = std::time::Instant::now();
    let (closed, remote, reason) = next_close(&mut events).await;
    assert_eq!((closed, remote), (id, addr));
    assert!(reason.is_failure(), "{reason:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(client.connection_count(), 0);

    // Inbound: a client connection dies.
    let (server, mut events) = bind(tcp_cfg()).await;
    let mut c = TcpStream::connect(server.local_addr(TransportKind::Tcp).unwrap())
        .await
        .unwrap();
    c.write_all(&options("SIP/2.0/TCP h.example", "p2"))
        .await
        .unwrap();
    let m = next_message(&mut events).await;
    drop(c);
    let (closed, _, reason) = next_close(&mut events).await;
    assert_eq!(Some(closed), m.connection);
    assert_eq!(reason, CloseReason::PeerClosed);
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let cfg = TransportConfig {
        tcp: vec![v4()],
        max_connections: 1,
        ..Default::default()
    };
    let (server, mut events) = bind(cfg).await;
    let addr = server.local_addr(TransportKind::Tcp).unwrap();
    let mut first = TcpStream::connect(addr).await.unwrap();
    first
        .write_all(&options("SIP/2.0/TCP h.example", "l1"))
        .await
        .unwrap();
    next_message(&mut events).await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    let mut rest = Vec::new();
    let n = tokio::time::timeout(WAIT, second.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert_eq!(server.stats().connections_refused, 1);
    // The first one still works.
    first
        .write_all(&options("SIP/2.0/TCP h.example", "l2"))
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut events)
            .await
            .message
            .top_via()
            .unwrap()
            .branch(),
        Some("z9hG4bKl2")
    );
}

#[tokio::test]
async fn idle_connection_is_closed() {
    let cfg = TransportConfig {
        tcp: vec![v4()],
        idle_timeout: Some(Duration::from_millis(150)),
        ..Default::default()
    };
    let (server, mut events) = bind(cfg).await;
    let mut c = TcpStream::connect(server.local_addr(TransportKind::Tcp).unwrap())
        .await
        .unwrap();
    c.write_all(&options("SIP/2.0/TCP h.example", "i1"))
        .await
        .unwrap();
    next_message(&mut events).await;
    let (_, _, reason) = next_close(&mut events).await;
    assert_eq!(reason, CloseReason::IdleTimeout);
    let mut rest = Vec::new();
    let n = tokio::time::timeout(WAIT, c.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(server.connection_count(), 0);
}

#[tokio::test]
async fn received_and_rport_stamped_on_udp_and_tcp() {
    let cfg = TransportConfig {
        udp: vec![v4()],
        tcp: vec![v4()],
        ..Default::default()
    };
    let (server, mut events) = bind(cfg).await;
    let raw = UdpSocket::bind(v4()).await.unwrap();
    let raw_addr = raw.local_addr().unwrap();
    raw.send_to(
        &options("SIP/2.0/UDP client.invalid:5060;rport", "s1"),
        server.local_addr(TransportKind::Udp).unwrap(),
    )
    .await
    .unwrap();
    let m = next_message(&mut events).await;
    let via = m.message.top_via().unwrap();
    assert_eq!(via.received, Some("127.0.0.1"));
    assert_eq!(via.rport, Some(Some(raw_addr.port())));
    assert_eq!(via.branch(), Some("z9hG4bKs1"));
    // The top Via delivered with the message is the stamped one, read for the layers above.
    assert_eq!(m.top_via.unwrap().view(&m.message), Some(via));

    let mut c = TcpStream::connect(server.local_addr(TransportKind::Tcp).unwrap())
        .await
        .unwrap();
    let c_addr = c.local_addr().unwrap();
    c.write_all(&options("SIP/2.0/TCP [2001:db8::1];rport", "s2"))
        .await
        .unwrap();
    let m = next_message(&mut events).await;
    let via = m.message.top_via().unwrap();
    assert_eq!(via.received, Some("127.0.0.1"));
    assert_eq!(via.rport, Some(Some(c_addr.port())));
    assert_eq!(m.top_via.unwrap().view(&m.message), Some(via));
    // The rest of the message is intact.
    assert_eq!(m.message.call_id().unwrap(), "call-s2");
    m.message.validate().unwrap();
}

#[tokio::test]
async fn shutdown_reports_closes_and_frees_ports() {
    let (server, mut events) = bind(tcp_cfg()).await;
    let addr = server.local_addr(TransportKind::Tcp).unwrap();
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(&options("SIP/2.0/TCP h.example", "x1"))
        .await
        .unwrap();
    next_message(&mut events).await;
    server.shutdown();
    let (_, _, reason) = next_close(&mut events).await;
    assert_eq!(reason, CloseReason::Shutdown);
    assert!(!reason.is_failure());
    let err = server
        .send(&Target::udp(addr), options("SIP/2.0/UDP h", "x2"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TransportDisabled(TransportKind::Udp)),
        "{err}"
    );
}

#[tokio::test]
async fn stun_binding_request_is_answered_and_the_response_reported() {
    use sip_transport::stun::{self, StunMessage, TransactionId};
    // One transport keeps a UDP flow alive with STUN (RFC 5626 §4.4.1); the other answers on its
    // SIP port, as an edge proxy does (§8.2).
    let (server, mut server_events) = bind(udp_cfg(v4())).await;
    let (client, mut client_events) = bind(udp_cfg(v4())).await;
    let server_addr = server.local_addr(TransportKind::Udp).unwrap();
    let client_addr = client.local_addr(TransportKind::Udp).unwrap();
    let id = TransactionId(*b"keepalive-01");
    client
        .send(&Target::udp(server_addr), stun::binding_request(id).into())
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), client_events.recv())
        .await
        .expect("a STUN response within 5 s")
        .unwrap();
    let TransportEvent::Stun(stun) = event else {
        panic!("not a STUN response: {event:?}");
    };
    assert_eq!(
        stun.message,
        StunMessage::Success {
            id,
            mapped: Some(client_addr)
        }
    );
    assert_eq!(stun.source, server_addr);
    // The request itself is not reported to the server's user, nor counted as a bad datagram.
    assert!(server_events.try_recv().is_none());
    assert_eq!(server.stats().datagrams_dropped, 0);

    // Garbage that looks like STUN is dropped and counted, not reported.
    let raw = UdpSocket::bind(v4()).await.unwrap();
    let mut bad = stun::binding_request(id);
    bad[3] = 8; // claims attributes it does not have
    raw.send_to(&bad, server_addr).await.unwrap();
    // A good request after it: once that is answered, the one loop has judged the bad one.
    raw.send_to(&stun::binding_request(id), server_addr)
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), raw.recv_from(&mut buf))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    assert!(matches!(
        stun::parse(&buf[..n]),
        Ok(StunMessage::Success { .. })
    ));
    assert!(server_events.try_recv().is_none());
    assert_eq!(server.stats().datagrams_dropped, 1);
}
