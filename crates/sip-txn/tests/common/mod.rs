//! Shared by the driver integration tests: drivers on loopback and the requests they send.
#![allow(dead_code)] // each test binary uses its own part

use sip_parse::{MessageBuilder, Method};
use sip_transport::{Transport, TransportConfig};
use sip_txn::TransportKind;
use sip_txn::driver::{Driver, DriverConfig, IncomingRequests};

/// Any free port on loopback.
pub(crate) const LOOPBACK: &str = "127.0.0.1:0";

/// A driver with the default configuration, listening on loopback UDP and TCP.
pub(crate) async fn driver() -> (Driver, IncomingRequests) {
    let cfg = TransportConfig {
        udp: vec![LOOPBACK.parse().unwrap()],
        tcp: vec![LOOPBACK.parse().unwrap()],
        ..Default::default()
    };
    let (t, events) = Transport::bind(cfg).await.unwrap();
    Driver::start(t, events, DriverConfig::default()).unwrap()
}

/// A `method` request from `from_user` at `from`'s `kind` listener to `to_uri`, with the
/// headers every request needs (RFC 3261 §8.1.1): a fresh Via branch and From tag,
/// Max-Forwards, To without a tag, `call_id`, CSeq 1. More headers may follow.
pub(crate) fn request_builder(
    from: &Driver,
    method: Method<'_>,
    kind: TransportKind,
    from_user: &str,
    to_uri: &str,
    call_id: &str,
) -> MessageBuilder {
    MessageBuilder::request(method, to_uri)
        .header("Via", &from.via(kind).unwrap())
        .unwrap()
        .header("Max-Forwards", "70")
        .unwrap()
        .header(
            "From",
            &format!(
                "<{}>;tag={}",
                from.contact_uri(kind, Some(from_user)).unwrap(),
                sip_txn::new_tag().unwrap()
            ),
        )
        .unwrap()
        .header("To", &format!("<{to_uri}>"))
        .unwrap()
        .header("Call-ID", call_id)
        .unwrap()
        .header("CSeq", &format!("1 {method}"))
        .unwrap()
}
