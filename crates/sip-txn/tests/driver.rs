//! Two drivers (or a driver and a raw socket) over real loopback sockets, UDP and TCP.
//!
//! Nothing here sleeps: every step awaits a real network event.

mod common;

use std::net::SocketAddr;

use common::{LOOPBACK, driver, request_builder};
use sip_parse::{Message, MessageBuilder, Method};
use sip_transport::{Transport, TransportConfig};
use sip_txn::driver::{
    ClientTransaction, Driver, DriverConfig, DriverError, IncomingRequests, Received,
};
use sip_txn::{Target, TransportKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

fn addr(d: &Driver, kind: TransportKind) -> SocketAddr {
    d.transport().local_addr(kind).unwrap()
}

/// A `method` request from alice at `from` to bob at `to`, over `kind`, with a Contact.
fn request(from: &Driver, method: Method<'_>, kind: TransportKind, to: SocketAddr) -> Message {
    let call_id = sip_txn::new_tag().unwrap();
    let to_uri = format!("sip:bob@{to}");
    let wire = request_builder(from, method, kind, "alice", &to_uri, &call_id)
        .header(
            "Contact",
            &format!("<{}>", from.contact_uri(kind, Some("alice")).unwrap()),
        )
        .unwrap()
        .build();
    Message::parse(wire).unwrap()
}

/// Sends [`request`] in a new client transaction.
async fn send(
    from: &Driver,
    method: Method<'_>,
    kind: TransportKind,
    to: SocketAddr,
) -> Result<ClientTransaction, DriverError> {
    from.request(request(from, method, kind, to), Target::new(kind, to))
        .await
}

async fn next_request(incoming: &mut IncomingRequests) -> sip_txn::driver::IncomingRequest {
    match incoming.recv().await.expect("driver running") {
        Received::Request(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

async fn request_and_final_response(kind: TransportKind) {
    let (server, mut incoming) = driver().await;
    let (client, _) = driver().await;
    let to = addr(&server, kind);
    let txn = send(&client, Method::Options, kind, to).await.unwrap();
    let req = next_request(&mut incoming).await;
    assert_eq!(req.request.method(), Some(Method::Options));
    assert_eq!(req.source.target.transport, kind);
    assert_eq!(req.source.connection.is_some(), kind != TransportKind::Udp);
    // RFC 3581: the transport stamped received/rport, and the reply goes to the source.
    assert_eq!(req.reply_to, req.source.target);
    req.transaction.reply(200, "OK").await.unwrap();
    let rsp = txn.await.unwrap();
    assert_eq!(rsp.status(), Some(200));
    assert_eq!(
        rsp.to_header().unwrap().tag(),
        req.transaction.to_tag(),
        "the response carries the transaction's To tag"
    );
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn options_over_udp_gets_its_final_response() {
    request_and_final_response(TransportKind::Udp).await;
}

#[tokio::test]
async fn options_over_tcp_gets_its_final_response() {
    request_and_final_response(TransportKind::Tcp).await;
}

async fn invite_with_provisional_and_ack(kind: TransportKind) {
    let (server, mut incoming) = driver().await;
    let (client, _) = driver().await;
    let to = addr(&server, kind);
    let invite = request(&client, Method::Invite, kind, to);
    let mut txn = client
        .request(invite.clone(), Target::new(kind, to))
        .await
        .unwrap();
    let req = next_request(&mut incoming).await;
    assert_eq!(req.request.method(), Some(Method::Invite));
    // The layer answered 100 Trying by itself (§17.2.1); then the user rings.
    let trying = txn.next_response().await.unwrap();
    assert_eq!(trying.status(), Some(100));
    req.transaction.reply(180, "Ringing").await.unwrap();
    let ringing = txn.next_response().await.unwrap();
    assert_eq!(ringing.status(), Some(180));
    assert_eq!(ringing.to_header().unwrap().tag(), req.transaction.to_tag());
    req.transaction.reply(200, "OK").await.unwrap();
    assert_eq!(txn.next_response().await.map(|m| m.status()), None);
    let ok = txn.final_response().await.unwrap();
    assert_eq!(ok.status(), Some(200));

    // The ACK for a 2xx is sent outside the transaction (§13.2.2.4) and reaches the UAS core.
    let ack = MessageBuilder::request(Method::Ack, &format!("sip:bob@{to}"))
        .header("Via", &client.via(kind).unwrap())
        .unwrap()
        .header("Max-Forwards", "70")
        .unwrap()
        .header(
            "From",
            invite.header_str(sip_parse::HeaderName::From).unwrap(),
        )
        .unwrap()
        .header("To", ok.header_str(sip_parse::HeaderName::To).unwrap())
        .unwrap()
        .header("Call-ID", invite.call_id().unwrap())
        .unwrap()
        .header("CSeq", "1 ACK")
        .unwrap()
        .build();
    client
        .send_stateless(&Message::parse(ack).unwrap(), &Target::new(kind, to))
        .await
        .unwrap();
    match incoming.recv().await.unwrap() {
        Received::Ack { request, source } => {
            assert_eq!(request.method(), Some(Method::Ack));
            assert_eq!(source.target.transport, kind);
        }
        other => panic!("expected the ACK, got {other:?}"),
    }
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn invite_over_udp_shows_provisionals_then_2xx_and_its_ack_arrives() {
    invite_with_provisional_and_ack(TransportKind::Udp).await;
}

#[tokio::test]
async fn invite_over_tcp_shows_provisionals_then_2xx_and_its_ack_arrives() {
    invite_with_provisional_and_ack(TransportKind::Tcp).await;
}

#[tokio::test]
async fn cancel_is_answered_and_the_invite_ends_487() {
    let (server, mut incoming) = driver().await;
    let (client, _) = driver().await;
    let kind = TransportKind::Udp;
    let to = addr(&server, kind);
    let mut txn = send(&client, Method::Invite, kind, to).await.unwrap();
    let mut req = next_request(&mut incoming).await;
    // Wait for 100 Trying, so the CANCEL goes out at once (§9.1).
    assert_eq!(txn.next_response().await.unwrap().status(), Some(100));
    let cancel = txn.cancel().await.unwrap();
    req.transaction.cancelled().await;
    assert!(req.transaction.is_cancelled());
    assert_eq!(cancel.await.unwrap().status(), Some(200));
    let rsp = txn.final_response().await.unwrap();
    assert_eq!(rsp.status(), Some(487));
    assert_eq!(rsp.to_header().unwrap().tag(), req.transaction.to_tag());
    // Too late for the user's own final response.
    assert!(matches!(
        req.transaction.reply(200, "OK").await,
        Err(DriverError::Txn(sip_txn::Error::InvalidState(_)))
    ));
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_transaction_dropped_unanswered_is_answered_500() {
    let (server, mut incoming) = driver().await;
    let (client, _) = driver().await;
    let to = addr(&server, TransportKind::Udp);
    let txn = send(&client, Method::Message, TransportKind::Udp, to)
        .await
        .unwrap();
    drop(next_request(&mut incoming).await);
    assert_eq!(txn.await.unwrap().status(), Some(500));
    client.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn retransmitted_request_is_absorbed_and_answered_again() {
    let (server, mut incoming) = driver().await;
    let to = addr(&server, TransportKind::Udp);
    let raw = UdpSocket::bind(LOOPBACK).await.unwrap();
    let me = raw.local_addr().unwrap();
    let wire = format!(
        "OPTIONS sip:bob@{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bKretrans1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@{me}>;tag=a1\r\n\
         To: <sip:bob@{to}>\r\n\
         Call-ID: retrans-1\r\n\
         CSeq: 7 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    raw.send_to(wire.as_bytes(), to).await.unwrap();
    let req = next_request(&mut incoming).await;
    req.transaction.reply(200, "OK").await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = raw.recv_from(&mut buf).await.unwrap();
    let first = Message::parse_slice(&buf[..n]).unwrap();
    assert_eq!(first.status(), Some(200));

    // The same request again: the server transaction (Completed) sends the same 200 again
    // (§17.2.2) and the user sees nothing new.
    raw.send_to(wire.as_bytes(), to).await.unwrap();
    let (n, _) = raw.recv_from(&mut buf).await.unwrap();
    let again = Message::parse_slice(&buf[..n]).unwrap();
    assert_eq!(again.as_bytes(), first.as_bytes());
    assert!(
        incoming.try_recv().is_none(),
        "the retransmission was absorbed"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn udp_response_without_rport_goes_to_the_sent_by_port() {
    let (server, mut incoming) = driver().await;
    let to = addr(&server, TransportKind::Udp);
    let sender = UdpSocket::bind(LOOPBACK).await.unwrap();
    let listener = UdpSocket::bind(LOOPBACK).await.unwrap();
    let sent_by = listener.local_addr().unwrap();
    let wire = format!(
        "OPTIONS sip:bob@{to} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {sent_by};branch=z9hG4bKsentby1\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@{sent_by}>;tag=a1\r\n\
         To: <sip:bob@{to}>\r\n\
         Call-ID: sent-by-1\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    sender.send_to(wire.as_bytes(), to).await.unwrap();
    let req = next_request(&mut incoming).await;
    // §18.2.2: no rport, so the received address and the sent-by port, not the source port.
    assert_eq!(req.reply_to, Target::udp(sent_by));
    assert_ne!(req.source.target.addr, sent_by);
    req.transaction.reply(200, "OK").await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, _) = listener.recv_from(&mut buf).await.unwrap();
    assert_eq!(Message::parse_slice(&buf[..n]).unwrap().status(), Some(200));
    server.shutdown().await;
}

/// An OPTIONS from `client` over TCP to a bare socket: the transaction, the peer's end of the
/// connection, the request as the peer read it, and the peer's address.
async fn options_to_raw_tcp_peer(
    client: &Driver,
) -> (
    ClientTransaction,
    tokio::net::TcpStream,
    Message,
    SocketAddr,
) {
    let listener = TcpListener::bind(LOOPBACK).await.unwrap();
    let to = listener.local_addr().unwrap();
    let txn = send(client, Method::Options, TransportKind::Tcp, to)
        .await
        .unwrap();
    let (mut conn, _) = listener.accept().await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    let req = Message::parse_slice(&buf[..n]).unwrap();
    assert_eq!(req.method(), Some(Method::Options));
    (txn, conn, req, to)
}

#[tokio::test]
async fn a_connection_closed_by_the_peer_fails_the_transaction_at_once() {
    let (client, _) = driver().await;
    // A "server" that reads the request and hangs up without answering.
    let (txn, mut conn, _, to) = options_to_raw_tcp_peer(&client).await;
    conn.shutdown().await.unwrap();
    drop(conn);
    // Not a timeout after 64*T1 = 32 s: the transport's close ends it (§17.1.4).
    match txn.await {
        Err(DriverError::Transport {
            target,
            reason,
            cause,
        }) => {
            assert_eq!(target, Target::tcp(to));
            assert!(reason.contains("closed by peer"), "{reason}");
            assert_eq!(cause, sip_transport::Cause::Reset);
        }
        other => panic!("expected a transport failure, got {other:?}"),
    }
    client.shutdown().await;
}

#[tokio::test]
async fn a_lost_connection_is_reported_to_the_transaction_user() {
    let (client, mut incoming) = driver().await;
    // The peer answers our request, then hangs up: no transaction is waiting on the
    // connection any more, yet a registration over it must hear that it is gone.
    let (txn, mut conn, req, to) = options_to_raw_tcp_peer(&client).await;
    let response = MessageBuilder::response_to(&req, 200, "OK", Some("t"))
        .unwrap()
        .build();
    conn.write_all(&response).await.unwrap();
    assert_eq!(txn.await.unwrap().status(), Some(200));
    drop(conn);
    match incoming.recv().await {
        Some(Received::ConnectionLost { target, reason }) => {
            assert_eq!(target, Target::tcp(to));
            assert!(reason.contains("closed by peer"), "{reason}");
        }
        other => panic!("expected the lost connection, got {other:?}"),
    }
    client.shutdown().await;
}

#[tokio::test]
async fn a_refused_connection_fails_the_transaction_at_once() {
    let (client, _) = driver().await;
    // A port nobody listens on: bind, note it, close.
    let to = TcpListener::bind(LOOPBACK)
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let txn = send(&client, Method::Options, TransportKind::Tcp, to)
        .await
        .unwrap();
    match txn.await {
        Err(DriverError::Transport { target, .. }) => assert_eq!(target, Target::tcp(to)),
        other => panic!("expected a transport failure, got {other:?}"),
    }
    client.shutdown().await;
}

#[tokio::test]
async fn shutdown_fails_pending_requests_and_later_calls() {
    let (client, _) = driver().await;
    // A UDP peer that never answers.
    let silent = UdpSocket::bind(LOOPBACK).await.unwrap();
    let to = silent.local_addr().unwrap();
    let txn = send(&client, Method::Options, TransportKind::Udp, to)
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    silent.recv_from(&mut buf).await.unwrap();
    client.shutdown().await;
    assert_eq!(txn.await.unwrap_err(), DriverError::Shutdown);
    let again = send(&client, Method::Options, TransportKind::Udp, to).await;
    assert_eq!(again.unwrap_err(), DriverError::Shutdown);
}

#[tokio::test]
async fn the_layer_refuses_what_is_no_client_transaction() {
    let (client, _) = driver().await;
    let to: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut ack = request(&client, Method::Options, TransportKind::Udp, to);
    ack = Message::parse(bytes::Bytes::from(
        String::from_utf8_lossy(ack.as_bytes()).replace("OPTIONS", "ACK"),
    ))
    .unwrap();
    assert_eq!(
        client.request(ack, Target::udp(to)).await.unwrap_err(),
        DriverError::Txn(sip_txn::Error::AckNotATransaction)
    );
    client.shutdown().await;
}

#[tokio::test]
async fn via_and_contact_name_our_listeners() {
    let (d, _) = driver().await;
    let udp = addr(&d, TransportKind::Udp);
    let tcp = addr(&d, TransportKind::Tcp);
    let via = d.via(TransportKind::Udp).unwrap();
    let parsed = sip_parse::Via::parse(via.as_bytes()).unwrap();
    assert_eq!(parsed.port, Some(udp.port()));
    assert!(parsed.has_rfc3261_branch());
    assert_eq!(parsed.rport, Some(None));
    assert_ne!(
        d.via(TransportKind::Udp).unwrap(),
        via,
        "a fresh branch each time"
    );
    assert_eq!(
        d.contact_uri(TransportKind::Tcp, Some("bob")).unwrap(),
        format!("sip:bob@{tcp};transport=tcp")
    );
    assert_eq!(
        d.via(TransportKind::Tls).unwrap_err(),
        DriverError::NotListening(TransportKind::Tls)
    );
    d.shutdown().await;
}

/// The sent-by is made once at start: over TCP too, from `sent_by_host` when set, and an
/// unspecified listener without one is still refused.
#[tokio::test]
async fn via_sent_by_comes_from_the_host_or_refuses_an_unspecified_address() {
    let (d, _) = driver().await;
    let tcp = addr(&d, TransportKind::Tcp);
    let via = d.via(TransportKind::Tcp).unwrap();
    assert!(
        via.starts_with(&format!("SIP/2.0/TCP {tcp};rport;branch=z9hG4bK")),
        "{via}"
    );
    assert_eq!(d.sent_by(TransportKind::Tcp).unwrap(), tcp.to_string());
    d.shutdown().await;

    let cfg = || TransportConfig {
        udp: vec!["0.0.0.0:0".parse().unwrap()],
        ..Default::default()
    };
    let (t, events) = Transport::bind(cfg()).await.unwrap();
    let (d, _) = Driver::start(t, events, DriverConfig::default()).unwrap();
    assert_eq!(
        d.via(TransportKind::Udp).unwrap_err(),
        DriverError::UnspecifiedAddress(TransportKind::Udp)
    );
    d.shutdown().await;

    let (t, events) = Transport::bind(cfg()).await.unwrap();
    let config = DriverConfig {
        sent_by_host: Some("pc33.example.com".into()),
        ..Default::default()
    };
    let (d, _) = Driver::start(t, events, config).unwrap();
    let port = addr(&d, TransportKind::Udp).port();
    assert!(d.via(TransportKind::Udp).unwrap().starts_with(&format!(
        "SIP/2.0/UDP pc33.example.com:{port};rport;branch=z9hG4bK"
    )));
    d.shutdown().await;
}

/// A NOTIFY from the raw peer at `from` to the client at `to`.
fn raw_notify(from: SocketAddr, to: SocketAddr, n: u32) -> Vec<u8> {
    format!(
        "NOTIFY sip:alice@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {from};branch=z9hG4bKraw{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:bob@{from}>;tag=peer\r\nTo: <sip:alice@{to}>;tag=a\r\n\
         Call-ID: in-order\r\nCSeq: {n} NOTIFY\r\nEvent: presence\r\n\
         Subscription-State: active\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn in_order_responses_come_in_their_place_among_the_requests() {
    let (client, mut incoming) = driver().await;
    let peer = UdpSocket::bind(LOOPBACK).await.unwrap();
    let peer_addr = peer.local_addr().unwrap();
    let to = addr(&client, TransportKind::Udp);
    let mut buf = vec![0u8; 65536];
    // Twice: the 2xx before the NOTIFY on the wire, then the NOTIFY before the 2xx.
    for (token, response_first) in [(7u64, true), (8, false)] {
        let req = request(&client, Method::Subscribe, TransportKind::Udp, peer_addr);
        client
            .request_in_order(req, Target::udp(peer_addr), token)
            .unwrap();
        let (n, _) = peer.recv_from(&mut buf).await.unwrap();
        let sent = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])).unwrap();
        let ok = MessageBuilder::response_to(&sent, 200, "OK", Some("peer"))
            .unwrap()
            .build();
        let notify = raw_notify(peer_addr, to, u32::try_from(token).unwrap());
        let burst = if response_first {
            [ok.to_vec(), notify]
        } else {
            [notify, ok.to_vec()]
        };
        for datagram in burst {
            peer.send_to(&datagram, to).await.unwrap();
        }
        let mut order = Vec::new();
        for _ in 0..2 {
            match incoming.recv().await.expect("driver running") {
                Received::Response { token: t, outcome } => {
                    assert_eq!(t, token);
                    assert_eq!(outcome.unwrap().status(), Some(200));
                    order.push("200");
                }
                Received::Request(r) => {
                    assert_eq!(r.request.method(), Some(Method::Notify));
                    r.transaction.reply(200, "OK").await.unwrap();
                    order.push("NOTIFY");
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let expected = if response_first {
            ["200", "NOTIFY"]
        } else {
            ["NOTIFY", "200"]
        };
        assert_eq!(order, expected, "token {token}");
        if !response_first {
            continue;
        }
        // The 200 to the NOTIFY goes back to the peer; read it so the next round starts clean.
        let (n, _) = peer.recv_from(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"SIP/2.0 200"));
    }
    client.shutdown().await;
}

#[tokio::test]
async fn an_in_order_request_the_layer_refuses_is_answered_in_the_inbox() {
    let (client, mut incoming) = driver().await;
    let ack = request(
        &client,
        Method::Ack,
        TransportKind::Udp,
        "127.0.0.1:9".parse().unwrap(),
    );
    client
        .request_in_order(ack, Target::udp("127.0.0.1:9".parse().unwrap()), 3)
        .unwrap();
    match incoming.recv().await.expect("driver running") {
        Received::Response { token, outcome } => {
            assert_eq!(token, 3);
            assert!(outcome.is_err());
        }
        other => panic!("unexpected {other:?}"),
    }
    client.shutdown().await;
}

/// A burst of 400 requests at a driver whose cap is 50 server transactions: the 50 admitted get
/// their 200 (and are then held by timer J), every other one a 503 with Retry-After; each
/// request gets exactly one answer. Sent in waves of 50 so loopback UDP drops nothing.
#[tokio::test]
async fn a_burst_beyond_the_transaction_cap_gets_503s() {
    const CAP: usize = 50;
    let cfg = TransportConfig {
        udp: vec![LOOPBACK.parse().unwrap()],
        ..Default::default()
    };
    let (t, events) = Transport::bind(cfg).await.unwrap();
    let (server, mut incoming) = Driver::start(
        t,
        events,
        DriverConfig {
            limits: sip_txn::Limits {
                max_server: CAP,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    // The transaction user answers everything it is given.
    let answering = tokio::spawn(async move {
        let mut n = 0;
        while let Some(Received::Request(r)) = incoming.recv().await {
            r.transaction.reply(200, "OK").await.unwrap();
            n += 1;
        }
        n
    });
    let to = addr(&server, TransportKind::Udp);
    let raw = UdpSocket::bind(LOOPBACK).await.unwrap();
    let me = raw.local_addr().unwrap();
    let (mut ok, mut busy) = (0, 0);
    let mut buf = vec![0u8; 4096];
    for wave in 0..8 {
        for i in 0..50 {
            let wire = format!(
                "OPTIONS sip:bob@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKb{wave}x{i}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:alice@{me}>;tag=a1\r\nTo: <sip:bob@{to}>\r\n\
                 Call-ID: burst-{wave}-{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            );
            raw.send_to(wire.as_bytes(), to).await.unwrap();
        }
        for _ in 0..50 {
            let (n, _) =
                tokio::time::timeout(std::time::Duration::from_secs(10), raw.recv_from(&mut buf))
                    .await
                    .expect("every request is answered")
                    .unwrap();
            let rsp = Message::parse_slice(&buf[..n]).unwrap();
            match rsp.status() {
                Some(200) => ok += 1,
                Some(503) => {
                    assert!(rsp.header_str(sip_parse::HeaderName::RetryAfter).is_some());
                    busy += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!((ok, busy), (CAP, 400 - CAP));
    server.shutdown().await;
    assert_eq!(answering.await.unwrap(), CAP);
}

/// A transaction user that does not keep up: with its queue full (2 requests), every further
/// request gets a 503 that says when to try again (the limits' Retry-After), once, and a
/// retransmission of it the same 503; the queued ones are still there to answer.
#[tokio::test]
async fn a_full_incoming_queue_answers_503_with_retry_after() {
    let cfg = TransportConfig {
        udp: vec![LOOPBACK.parse().unwrap()],
        ..Default::default()
    };
    let (t, events) = Transport::bind(cfg).await.unwrap();
    let (server, mut incoming) = Driver::start(
        t,
        events,
        DriverConfig {
            incoming_queue: 2,
            limits: sip_txn::Limits {
                retry_after: 7,
                ..Default::default()
            },
            ..Default::default()
        },
    )
    .unwrap();
    let to = addr(&server, TransportKind::Udp);
    let raw = UdpSocket::bind(LOOPBACK).await.unwrap();
    let me = raw.local_addr().unwrap();
    let wire = |i: u32| {
        format!(
            "OPTIONS sip:bob@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKq{i}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:alice@{me}>;tag=a1\r\nTo: <sip:bob@{to}>\r\n\
             Call-ID: queue-{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
    };
    let mut buf = vec![0u8; 4096];
    let mut answer = async |raw: &UdpSocket| {
        let (n, _) =
            tokio::time::timeout(std::time::Duration::from_secs(10), raw.recv_from(&mut buf))
                .await
                .expect("an answer")
                .unwrap();
        Message::parse_slice(&buf[..n]).unwrap()
    };
    for i in 0..2 {
        raw.send_to(wire(i).as_bytes(), to).await.unwrap();
    }
    // Sent one at a time so the two queued ones are surely first.
    for i in 2..5 {
        raw.send_to(wire(i).as_bytes(), to).await.unwrap();
        let rsp = answer(&raw).await;
        assert_eq!(rsp.status(), Some(503));
        assert_eq!(
            rsp.top_via().unwrap().branch(),
            Some(format!("z9hG4bKq{i}").as_str())
        );
        assert_eq!(rsp.header_str(sip_parse::HeaderName::RetryAfter), Some("7"));
    }
    raw.send_to(wire(4).as_bytes(), to).await.unwrap();
    let again = answer(&raw).await;
    assert_eq!(again.status(), Some(503));
    assert_eq!(
        again.header_str(sip_parse::HeaderName::RetryAfter),
        Some("7")
    );
    for _ in 0..2 {
        next_request(&mut incoming)
            .await
            .transaction
            .reply(200, "OK")
            .await
            .unwrap();
    }
    for _ in 0..2 {
        assert_eq!(answer(&raw).await.status(), Some(200));
    }
    server.shutdown().await;
}
