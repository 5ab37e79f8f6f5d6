//! RFC 3261 §18.1.1: a request larger than 1300 bytes bound for a UDP server goes over TCP to
//! the same address when the server takes TCP there, and over UDP when it does not. The server
//! here is the test's own: a UDP socket and (or not) a TCP listener on one port, answering 200
//! to everything and telling the test how each request came.

mod common;

use bytes::Bytes;
use common::*;
use rtc_client::RegistrationState;
use sip_parse::{HeaderName, Message, MessageBuilder, ParseConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

/// How a request reached the server: over which transport, its method, top Via transport and
/// body length.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    over: &'static str,
    method: String,
    via: String,
    body: usize,
}

/// The 200 to `request`, with the Contact echoed for a REGISTER.
fn ok(request: &Message) -> Bytes {
    let mut b = MessageBuilder::response_to(request, 200, "OK", Some("srv")).unwrap();
    if let Some(contact) = request.header_str(HeaderName::Contact) {
        b = b
            .header("Contact", &format!("{contact};expires=3600"))
            .unwrap();
    }
    b.try_build().unwrap()
}

fn seen(over: &'static str, m: &Message) -> Seen {
    Seen {
        over,
        method: m
            .method()
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
        via: m.top_via().unwrap().transport.to_owned(),
        body: m.body().len(),
    }
}

/// A server on one port: UDP, and TCP if `tcp`. Returns its port and what it sees.
async fn server(tcp: bool) -> (u16, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    // The same port for both: try until the TCP one is free too.
    let (udp, listener) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        if !tcp {
            break (udp, None);
        }
        if let Ok(l) = TcpListener::bind(addr).await {
            break (udp, Some(l));
        }
    };
    let port = udp.local_addr().unwrap().port();
    let to = tx.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                return;
            };
            let Ok(m) = Message::parse(Bytes::copy_from_slice(&buf[..n])) else {
                continue; // Keep-alives and the like.
            };
            if m.is_request() {
                let _ = to.send(seen("udp", &m));
                let _ = udp.send_to(&ok(&m), from).await;
            }
        }
    });
    if let Some(listener) = listener {
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_stream(stream, tx.clone()));
            }
        });
    }
    (port, rx)
}

async fn serve_stream(mut stream: TcpStream, to: mpsc::UnboundedSender<Seen>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // One whole message: headers, then Content-Length bytes of body.
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() < end + 4 + len {
                break;
            }
            let whole: Vec<u8> = buf.drain(..end + 4 + len).collect();
            let m = Message::parse_with(Bytes::from(whole), &big()).unwrap();
            if m.is_request() {
                let _ = to.send(seen("tcp", &m));
                let _ = stream.write_all(&ok(&m)).await;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        // CRLF keep-alive pings between messages.
        while buf.starts_with(b"\r\n") {
            buf.drain(..2);
        }
    }
}

/// The limits of a peer that reads messages of up to 1 MiB.
fn big() -> ParseConfig {
    ParseConfig {
        max_message_size: 1 << 20,
        ..ParseConfig::default()
    }
}

/// Registers alice with the server at `port` over UDP; returns her client.
async fn alice(port: u16) -> rtc_client::Client {
    alice_with(port, ParseConfig::default()).await
}

/// [`alice`] with the message limits `limits`.
async fn alice_with(port: u16, limits: ParseConfig) -> rtc_client::Client {
    let (client, mut events) = client_with(None, |c| {
        c.udp_keepalive = None;
        c.transport.parse = limits;
    })
    .await;
    let _profile = enable(&client, &profile_xml("alice", port, "udp")).await;
    expect_state(&mut events, RegistrationState::Registered).await;
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    client
}

async fn next_message(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    loop {
        let s = seen.recv().await.expect("the server runs");
        if s.method == "MESSAGE" {
            return s;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_too_large_for_udp_goes_over_tcp_when_the_server_takes_it() {
    let (port, mut seen) = server(true).await;
    let client = alice(port).await;
    client
        .send_message("sip:bob@example.test", "short")
        .await
        .unwrap();
    let small = next_message(&mut seen).await;
    assert_eq!(
        (small.over, small.via.as_str()),
        ("udp", "UDP"),
        "{small:?}"
    );
    let text = "x".repeat(2_000);
    client
        .send_message("sip:bob@example.test", &text)
        .await
        .unwrap();
    let large = next_message(&mut seen).await;
    assert_eq!(
        large,
        Seen {
            over: "tcp",
            method: "MESSAGE".into(),
            via: "TCP".into(),
            body: 2_000
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tcp_at_the_server_a_large_request_still_goes_over_udp() {
    let (port, mut seen) = server(false).await;
    let client = alice(port).await;
    let text = "x".repeat(2_000);
    client
        .send_message("sip:bob@example.test", &text)
        .await
        .unwrap();
    let large = next_message(&mut seen).await;
    assert_eq!(
        (large.over, large.via.as_str(), large.body),
        ("udp", "UDP", 2_000)
    );
}

/// What the client sends is bounded by the limit it reads with, and both move together: with
/// the default 64 KiB a 70 kB message is refused before it leaves; with 1 MiB it goes (over
/// TCP, for its size).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_limit_bounds_what_is_built_and_is_configured_with_the_parser() {
    let (port, mut seen) = server(true).await;
    let text = "x".repeat(70_000);
    let small = alice(port).await;
    let err = small
        .send_message("sip:bob@example.test", &text)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("65535"), "{err}");
    let big = alice_with(port, big()).await;
    big.send_message("sip:bob@example.test", &text)
        .await
        .unwrap();
    let large = next_message(&mut seen).await;
    assert_eq!((large.over, large.body), ("tcp", 70_000), "{large:?}");
}
