//! Property test: no sequence of inputs and commands makes the layer panic, and the layer's
//! bookkeeping stays consistent.

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use sip_parse::Message;
use sip_txn::testkit::{self, CLIENT_ADDR, SERVER_ADDR};
use sip_txn::{ClientKey, Event, ServerKey, Target, TransactionLayer};

const METHODS: [&str; 6] = ["INVITE", "OPTIONS", "CANCEL", "ACK", "BYE", "REGISTER"];
const CODES: [u16; 6] = [100, 180, 200, 404, 486, 503];

#[derive(Debug, Clone)]
enum Op {
    SendRequest {
        method: usize,
        branch: u8,
        reliable: bool,
    },
    ReceiveRequest {
        method: usize,
        branch: u8,
        cookie: bool,
        to_tag: bool,
    },
    ReceiveResponse {
        method: usize,
        branch: u8,
        code: usize,
    },
    ReceiveNoise(Vec<u8>),
    Advance(u16),
    TransportError {
        client: bool,
        index: usize,
    },
    Respond {
        index: usize,
        code: usize,
    },
    Cancel {
        index: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..6usize, 0..4u8, any::<bool>()).prop_map(|(method, branch, reliable)| Op::SendRequest {
            method,
            branch,
            reliable
        }),
        (0..6usize, 0..4u8, any::<bool>(), any::<bool>()).prop_map(
            |(method, branch, cookie, to_tag)| Op::ReceiveRequest {
                method,
                branch,
                cookie,
                to_tag
            }
        ),
        (0..6usize, 0..4u8, 0..6usize).prop_map(|(method, branch, code)| Op::ReceiveResponse {
            method,
            branch,
            code
        }),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Op::ReceiveNoise),
        (0..40_000u16).prop_map(Op::Advance),
        (any::<bool>(), 0..8usize).prop_map(|(client, index)| Op::TransportError { client, index }),
        (0..8usize, 0..6usize).prop_map(|(index, code)| Op::Respond { index, code }),
        (0..8usize).prop_map(|index| Op::Cancel { index }),
    ]
}

fn request(method: &str, branch: u8, cookie: bool, to_tag: bool, transport: &str) -> Message {
    let b = if cookie {
        format!("z9hG4bK{branch}x")
    } else {
        format!("old{branch}")
    };
    let tag = if to_tag { ";tag=b1" } else { "" };
    Message::parse(Bytes::from(format!(
        "{method} sip:bob@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/{transport} 192.0.2.1:5060;branch={b}\r\n\
         From: <sip:alice@192.0.2.1>;tag=a1\r\nTo: <sip:bob@192.0.2.2>{tag}\r\nCall-ID: c{branch}\r\n\
         CSeq: {branch} {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )))
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn any_sequence_of_inputs_never_panics(ops in proptest::collection::vec(op(), 1..60)) {
        let mut layer = TransactionLayer::default();
        let mut now = testkit::epoch();
        let mut clients: Vec<ClientKey> = Vec::new();
        let mut servers: Vec<(ServerKey, Message)> = Vec::new();
        for op in ops {
            match op {
                Op::SendRequest { method, branch, reliable } => {
                    let (target, t) = if reliable {
                        (Target::tcp(SERVER_ADDR), "TCP")
                    } else {
                        (Target::udp(SERVER_ADDR), "UDP")
                    };
                    if let Ok(k) = layer.send_request(now, request(METHODS[method], branch, true, false, t), target) {
                        clients.push(k);
                    }
                }
                Op::ReceiveRequest { method, branch, cookie, to_tag } => {
                    let _ = layer.handle_message(now, Target::udp(CLIENT_ADDR),
                        request(METHODS[method], branch, cookie, to_tag, "UDP"));
                }
                Op::ReceiveResponse { method, branch, code } => {
                    let req = request(METHODS[method], branch, true, false, "UDP");
                    let _ = layer.handle_message(now, Target::udp(SERVER_ADDR),
                        testkit::response(&req, CODES[code], "X"));
                }
                Op::ReceiveNoise(bytes) => {
                    if let Ok(m) = Message::parse(Bytes::from(bytes)) {
                        let _ = layer.handle_message(now, Target::udp(CLIENT_ADDR), m);
                    }
                }
                Op::Advance(ms) => {
                    now += Duration::from_millis(u64::from(ms));
                    layer.handle_timeout(now);
                }
                Op::TransportError { client, index } => {
                    if client {
                        if let Some(k) = clients.get(index) {
                            layer.handle_transport_error(now, *k);
                        }
                    } else if let Some((k, _)) = servers.get(index) {
                        layer.handle_transport_error(now, *k);
                    }
                }
                Op::Respond { index, code } => {
                    if let Some((k, req)) = servers.get(index) {
                        let _ = layer.send_response(now, *k, testkit::response(req, CODES[code], "X"));
                    }
                }
                Op::Cancel { index } => {
                    if let Some(k) = clients.get(index)
                        && let Ok(c) = layer.cancel(now, *k)
                    {
                        clients.push(c);
                    }
                }
            }
            // The rule: after every input or command, drain every poll_*.
            while layer.poll_transmit().is_some() {}
            while let Some(e) = layer.poll_event() {
                if let Event::Request { key, request, .. } | Event::Cancel { key, request, .. } = e {
                    servers.push((key, request));
                }
            }
            let _ = layer.poll_timeout();
        }
        // Server transactions wait for their user (no RFC timer runs in Trying/Proceeding): answer
        // them; then everything ends within timer C once input stops.
        for (k, req) in &servers {
            let _ = layer.send_response(now, *k, testkit::response(req, 500, "X"));
        }
        now += Duration::from_secs(200);
        layer.handle_timeout(now);
        prop_assert!(layer.is_empty(), "{} transactions left", layer.len());
        prop_assert_eq!(layer.poll_timeout(), None);
    }
}
