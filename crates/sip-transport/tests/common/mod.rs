//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use sip_parse::{Message, MessageBuilder, Method};
use sip_transport::{
    CloseReason, ConnectionId, Events, Incoming, Transport, TransportConfig, TransportEvent,
};

/// Long enough for a loaded 2-core machine, short enough that a hang fails fast.
pub const WAIT: Duration = Duration::from_secs(5);

pub fn v4() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub fn v6() -> SocketAddr {
    "[::1]:0".parse().unwrap()
}

/// Whether ::1 can be bound here (some containers have no IPv6).
pub fn have_ipv6() -> bool {
    std::net::UdpSocket::bind("[::1]:0").is_ok()
}

pub async fn bind(cfg: TransportConfig) -> (Transport, Events) {
    Transport::bind(cfg).await.expect("bind")
}

/// An OPTIONS request with the given Via sent-by.
pub fn options(via: &str, branch: &str) -> Bytes {
    MessageBuilder::request(Method::Options, "sip:bob@example.test")
        .header("Via", &format!("{via};branch=z9hG4bK{branch}"))
        .unwrap()
        .header("From", "<sip:alice@example.test>;tag=a1")
        .unwrap()
        .header("To", "<sip:bob@example.test>")
        .unwrap()
        .header("Call-ID", &format!("call-{branch}"))
        .unwrap()
        .header("CSeq", "1 OPTIONS")
        .unwrap()
        .header("Max-Forwards", "70")
        .unwrap()
        .build()
}

pub fn ok_to(req: &Message) -> Bytes {
    MessageBuilder::response_to(req, 200, "OK", Some("b1"))
        .unwrap()
        .build()
}

/// The next event, failing the test after [`WAIT`].
pub async fn next(events: &mut Events) -> TransportEvent {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("timed out waiting for a transport event")
        .expect("transport events ended")
}

/// The next message, skipping connection events.
pub async fn next_message(events: &mut Events) -> Incoming {
    loop {
        if let TransportEvent::Message(m) = next(events).await {
            return m;
        }
    }
}

/// The next close event, skipping the rest.
pub async fn next_close(events: &mut Events) -> (ConnectionId, SocketAddr, CloseReason) {
    loop {
        if let TransportEvent::ConnectionClosed {
            id, remote, reason, ..
        } = next(events).await
        {
            return (id, remote, reason);
        }
    }
}

/// Polls `cond` until it holds, failing after [`WAIT`].
pub async fn eventually(mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
