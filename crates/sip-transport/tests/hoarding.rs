//! One peer cannot lock others out: a cap per source address, the oldest connection without a
//! message closed first at the total cap, and deadlines that close silent and trickling
//! connections (slowloris). Sources are distinct loopback addresses (127.0.0.0/8); the numbers
//! are scaled down with the config knobs so the test needs a few hundred descriptors at most.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use sip_transport::{CloseReason, Transport, TransportConfig, TransportEvent, TransportKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A connection to `server` from the loopback address `source`.
async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(format!("{source}:0").parse().unwrap()).unwrap();
    s.connect(server).await.unwrap()
}

/// Waits (up to [`WAIT`]) until `cond` holds of the transport, draining its events meanwhile.
async fn until(
    t: &Transport,
    events: &mut sip_transport::Events,
    what: &str,
    cond: impl Fn(&Transport) -> bool,
) {
    let give_up = tokio::time::Instant::now() + WAIT;
    while !cond(t) {
        assert!(
            tokio::time::Instant::now() < give_up,
            "{what}: {:?}, {} connections",
            t.stats(),
            t.connection_count()
        );
        let _ = tokio::time::timeout(Duration::from_millis(20), events.recv()).await;
    }
}

/// Whether the server closed `c` (EOF or reset) within [`WAIT`].
async fn closed_by_server(c: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    match tokio::time::timeout(WAIT, c.read_to_end(&mut rest)).await {
        Ok(Ok(_)) | Ok(Err(_)) => true,
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_hoarding_source_leaves_room_for_others() {
    let cfg = TransportConfig {
        tcp: vec![v4()],
        max_connections: 60,
        max_connections_per_source: 20,
        message_timeout: Duration::from_secs(120),
        ..Default::default()
    };
    let (server, mut events) = bind(cfg).await;
    let addr = server.local_addr(TransportKind::Tcp).unwrap();

    // A client that talks first: it has delivered a message, so it is never the one evicted.
    let mut talker = connect_from("127.0.0.5", addr).await;
    talker
        .write_all(&options("SIP/2.0/TCP h.example", "t1"))
        .await
        .unwrap();
    next_message(&mut events).await;

    // One source opens 30 idle connections: 20 stay, 10 are refused at once.
    let mut hoard = Vec::new();
    for _ in 0..30 {
        hoard.push(connect_from("127.0.0.1", addr).await);
    }
    until(&server, &mut events, "per-source cap", |t| {
        t.stats().connections_refused == 10 && t.connection_count() == 21
    })
    .await;
    let mut refused = 0;
    for c in &mut hoard {
        let mut b = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(50), c.read(&mut b)).await
        {
            refused += 1;
        }
    }
    assert_eq!(refused, 10);

    // Two more sources fill the total (60) with idle connections.
    for source in ["127.0.0.3", "127.0.0.4"] {
        for _ in 0..20 {
            hoard.push(connect_from(source, addr).await);
        }
    }
    until(&server, &mut events, "total cap", |t| {
        t.connection_count() + t.stats().connections_evicted as usize == 61
    })
    .await;

    // A newcomer from another address is still served: the oldest silent connection makes
    // room for it, and it gets its answer.
    let mut newcomer = connect_from("127.0.0.2", addr).await;
    newcomer
        .write_all(&options("SIP/2.0/TCP h.example", "n1"))
        .await
        .unwrap();
    let req = next_message(&mut events).await;
    assert_eq!(req.source.ip().to_string(), "127.0.0.2");
    server
        .send(&req.reply_target(), ok_to(&req.message))
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    tokio::time::timeout(WAIT, newcomer.read_exact(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&answer, b"SIP/2.0 200 ");
    assert!(server.stats().connections_evicted >= 1);
    assert!(server.connection_count() <= 60);

    // The talker kept its connection.
    talker
        .write_all(&options("SIP/2.0/TCP h.example", "t2"))
        .await
        .unwrap();
    let m = next_message(&mut events).await;
    assert_eq!(m.message.top_via().unwrap().branch(), Some("z9hG4bKt2"));
    assert_eq!(m.source.ip().to_string(), "127.0.0.5");
}

/// At the total cap each newcomer closes exactly one connection: the oldest that has not
/// delivered a whole message (the transport's notion of "not yet proven", before any
/// authentication), in the order they were admitted; one that has spoken is passed over.
#[tokio::test]
async fn at_the_total_cap_the_oldest_silent_connection_goes_first() {
    const CAP: usize = 8;
    let cfg = TransportConfig {
        tcp: vec![v4()],
        max_connections: CAP,
        max_connections_per_source: 1000,
        message_timeout: Duration::from_secs(120),
        ..Default::default()
    };
    let (server, mut events) = bind(cfg).await;
    let addr = server.local_addr(TransportKind::Tcp).unwrap();

    // Admitted one at a time, so admission order is index order.
    let mut held = Vec::new();
    for i in 0..CAP {
        held.push(connect_from("127.0.0.1", addr).await);
        until(&server, &mut events, "admitted in order", |t| {
            t.connection_count() == i + 1
        })
        .await;
    }
    // The third one speaks: it is no longer among the first to go.
    held[2]
        .write_all(&options("SIP/2.0/TCP h.example", "spoke"))
        .await
        .unwrap();
    next_message(&mut events).await;

    // Three newcomers from another address: the oldest silent ones (0, 1, then 3) make room.
    let mut newcomers = Vec::new();
    for n in 1..=3u64 {
        newcomers.push(connect_from("127.0.0.2", addr).await);
        until(&server, &mut events, "one eviction per newcomer", |t| {
            t.stats().connections_evicted == n && t.connection_count() == CAP
        })
        .await;
    }
    for i in [0, 1, 3] {
        assert!(
            closed_by_server(&mut held[i]).await,
            "connection {i} should have been evicted"
        );
    }
    // Exactly three were evicted, so every other one is still open; the one that spoke still
    // gets its messages through.
    assert_eq!(server.stats().connections_evicted, 3);
    assert_eq!(server.stats().connections_refused, 0);
    held[2]
        .write_all(&options("SIP/2.0/TCP h.example", "again"))
        .await
        .unwrap();
    let m = next_message(&mut events).await;
    assert_eq!(m.message.top_via().unwrap().branch(), Some("z9hG4bKagain"));
    // The next newcomer takes the oldest silent one left: number 4.
    newcomers.push(connect_from("127.0.0.2", addr).await);
    assert!(
        closed_by_server(&mut held[4]).await,
        "connection 4 should have been evicted next"
    );
    assert_eq!(server.stats().connections_evicted, 4);
}

#[tokio::test]
async fn with_evict_untrusted_the_oldest_unauthenticated_goes_and_a_trusted_one_stays() {
    const CAP: usize = 4;
    let cfg = |evict_untrusted| TransportConfig {
        tcp: vec![v4()],
        max_connections: CAP,
        max_connections_per_source: 1000,
        message_timeout: Duration::from_secs(120),
        evict_untrusted,
        ..Default::default()
    };
    // Every connection speaks; the first one's peer then authenticates.
    let fill = |server: Transport, mut events: sip_transport::Events| async move {
        let addr = server.local_addr(TransportKind::Tcp).unwrap();
        let mut held = Vec::new();
        let mut ids = Vec::new();
        for i in 0..CAP {
            let mut c = connect_from("127.0.0.1", addr).await;
            c.write_all(&options("SIP/2.0/TCP h.example", &format!("c{i}")))
                .await
                .unwrap();
            ids.push(next_message(&mut events).await.connection.unwrap());
            held.push(c);
        }
        server.trust(ids[0]);
        (server, events, addr, held)
    };

    // Without the switch a full house of speakers refuses the newcomer (a client's default).
    let (server, events) = bind(cfg(false)).await;
    let (server, mut events, addr, _held) = fill(server, events).await;
    let _refused = connect_from("127.0.0.2", addr).await;
    until(&server, &mut events, "the newcomer refused", |t| {
        t.stats().connections_refused == 1
    })
    .await;
    assert_eq!(server.stats().connections_evicted, 0);

    // With it, the oldest unauthenticated speaker (1, not the trusted 0) makes room.
    let (server, events) = bind(cfg(true)).await;
    let (server, mut events, addr, mut held) = fill(server, events).await;
    let _first = connect_from("127.0.0.2", addr).await;
    until(&server, &mut events, "one eviction", |t| {
        t.stats().connections_evicted == 1 && t.connection_count() == CAP
    })
    .await;
    assert!(
        closed_by_server(&mut held[1]).await,
        "connection 1 should have been evicted"
    );
    // The silent newcomer is now the first to go, before any speaker.
    let _second = connect_from("127.0.0.2", addr).await;
    until(&server, &mut events, "a second eviction", |t| {
        t.stats().connections_evicted == 2 && t.connection_count() == CAP
    })
    .await;
    // The trusted connection and the younger speakers are all still there.
    for i in [0, 2, 3] {
        held[i]
            .write_all(&options("SIP/2.0/TCP h.example", &format!("still{i}")))
            .await
            .unwrap();
        let m = next_message(&mut events).await;
        let branch = format!("z9hG4bKstill{i}");
        assert_eq!(m.message.top_via().unwrap().branch(), Some(branch.as_str()));
    }
    assert_eq!(server.stats().connections_refused, 0);
}

#[tokio::test]
async fn silent_and_trickling_connections_are_closed() {
    let cfg = TransportConfig {
        tcp: vec![v4()],
        message_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let (server, mut events) = bind(cfg).await;
    let addr = server.local_addr(TransportKind::Tcp).unwrap();
    let request = options("SIP/2.0/TCP h.example", "s1");

    // Says nothing at all.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // Trickles a request a byte at a time, each byte well within the idle timeout.
    let trickle = |c: TcpStream, bytes: bytes::Bytes| {
        let (mut rd, mut wr) = c.into_split();
        tokio::spawn(async move {
            for b in bytes.iter() {
                if wr.write_all(&[*b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        async move {
            let mut rest = Vec::new();
            tokio::time::timeout(WAIT, rd.read_to_end(&mut rest))
                .await
                .is_ok()
        }
    };
    let trickler = trickle(TcpStream::connect(addr).await.unwrap(), request.clone());
    // Sends a whole request, then trickles the next one.
    let mut talker = TcpStream::connect(addr).await.unwrap();
    talker.write_all(&request).await.unwrap();
    next_message(&mut events).await;
    let talker = trickle(talker, request.clone());

    assert!(
        closed_by_server(&mut silent).await,
        "the silent connection stayed open"
    );
    assert!(trickler.await, "the trickling connection stayed open");
    assert!(
        talker.await,
        "the slow second message kept its connection open"
    );
    let mut reasons = Vec::new();
    while reasons.len() < 3 {
        let (_, _, r) = next_close(&mut events).await;
        reasons.push(r);
    }
    assert!(
        reasons.iter().all(|r| *r == CloseReason::MessageTimeout),
        "{reasons:?}"
    );
    assert_eq!(server.stats().connections_timed_out, 3);

    // Whole messages further apart than the deadline are fine: it runs only inside a message.
    let mut patient = TcpStream::connect(addr).await.unwrap();
    patient
        .write_all(&options("SIP/2.0/TCP h.example", "p1"))
        .await
        .unwrap();
    next_message(&mut events).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    patient
        .write_all(&options("SIP/2.0/TCP h.example", "p2"))
        .await
        .unwrap();
    loop {
        match next(&mut events).await {
            TransportEvent::Message(m) => {
                assert_eq!(m.message.top_via().unwrap().branch(), Some("z9hG4bKp2"));
                break;
            }
            TransportEvent::ConnectionClosed { reason, .. } => panic!("closed: {reason}"),
            _ => {}
        }
    }
}
