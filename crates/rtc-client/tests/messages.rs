//! Message content end to end through the embedded registrar/proxy, and through Kamailio
//! (RFC 3428, RFC 3261 §8.2.3): text in another charset arrives as it was written, and what the
//! client cannot take — another type, a content coding, an IMDN delivery report — is refused on
//! the wire with what it would take instead, and never shown.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use rtc_client::{Error, Event, Events};
use sip_parse::{HeaderName, Message};
use tokio::net::UdpSocket;

const BOB: &str = "sip:bob@example.test";

/// An unsolicited IMDN delivery report (RFC 5438 §7.2.1.1), as some clients send them.
const IMDN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<imdn xmlns="urn:ietf:params:xml:ns:imdn">
  <message-id>34jk324j</message-id>
  <datetime>2008-04-04T12:16:49-05:00</datetime>
  <delivery-notification><status><delivered/></status></delivery-notification>
</imdn>"#;

/// The next instant message `events` shows; whatever came before it must not be one.
async fn next_message(events: &mut Events) -> (String, String) {
    match expect(events, "a message", |e| matches!(e, Event::Message { .. })).await {
        Event::Message {
            content_type, text, ..
        } => (content_type, text),
        e => unreachable!("{e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latin1_text_arrives_right_and_a_delivery_report_is_refused_not_shown() {
    let (_server, port) = embedded_server().await;
    let (alice, _alice_events, alice_profile) =
        registered(&profile_xml("alice", port, "udp"), None).await;
    let (bob, mut bob_events, bob_profile) =
        registered(&profile_xml("bob", port, "udp"), None).await;

    let latin1 = b"Gr\xfc\xdfe aus K\xf6ln, caf\xe9?".to_vec();
    alice
        .send_content(BOB, "Text/Plain; Charset=\"ISO-8859-1\"", latin1)
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut bob_events).await,
        (
            "Text/Plain; Charset=\"ISO-8859-1\"".to_owned(),
            "Grüße aus Köln, café?".to_owned()
        )
    );

    // The report is answered 415 and the sender hears so; bob's next message is the text
    // that followed it.
    match alice.send_content(BOB, "message/imdn+xml", IMDN).await {
        Err(Error::Refused { status: 415, .. }) => {}
        other => panic!("an IMDN must be refused with 415, got {other:?}"),
    }
    alice.send_message(BOB, "still there?").await.unwrap();
    assert_eq!(next_message(&mut bob_events).await.1, "still there?");

    alice.disable_profile(&alice_profile).await.unwrap();
    bob.disable_profile(&bob_profile).await.unwrap();
}

/// Sends `request` from `socket` to `to` and returns the final response.
async fn exchange(socket: &UdpSocket, to: SocketAddr, request: &[u8]) -> Message {
    socket.send_to(request, to).await.unwrap();
    let mut buf = vec![0; 65536];
    loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), socket.recv_from(&mut buf))
            .await
            .expect("no response")
            .unwrap();
        let response = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])).unwrap();
        if response.status().is_some_and(|s| s >= 200) {
            return response;
        }
    }
}

/// A MESSAGE from a user agent at `local` with the extra header lines `headers` and `body`.
fn message(local: SocketAddr, n: u32, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut wire = format!(
        "MESSAGE {BOB} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};rport;branch=z9hG4bKraw{n}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:carol@example.test>;tag=raw{n}\r\n\
         To: <{BOB}>\r\n\
         Call-ID: raw-{n}@example.test\r\n\
         CSeq: 1 MESSAGE\r\n\
         {headers}\
         Content-Length: {}\r\n\r\n",
        body.len(),
    )
    .into_bytes();
    wire.extend_from_slice(body);
    wire
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_say_on_the_wire_what_would_be_taken() {
    let (server, port) = embedded_server().await;
    let (bob, mut bob_events, bob_profile) =
        registered(&profile_xml("bob", port, "udp"), None).await;
    // Straight to bob's registered contact, as a peer would after a lookup.
    let contact = server.bindings("bob").remove(0).contact;
    let host_port = contact
        .split_once('@')
        .map(|(_, rest)| rest.split([';', '>']).next().unwrap())
        .unwrap();
    let to: SocketAddr = host_port.parse().unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();

    let unknown = message(
        local,
        1,
        "Content-Type: application/vnd.example.sticker\r\n",
        b"<sticker/>",
    );
    let response = exchange(&socket, to, &unknown).await;
    assert_eq!(response.status(), Some(415));
    let accept = response.header_str(HeaderName::Accept).unwrap();
    assert!(accept.contains("text/plain"), "{accept}");

    let deflated = message(
        local,
        2,
        "Content-Type: message/imdn+xml\r\nContent-Encoding: deflate\r\n",
        b"x\x01\x05\xc1\x01\x01\x00\x00",
    );
    let response = exchange(&socket, to, &deflated).await;
    assert_eq!(response.status(), Some(415));
    assert_eq!(
        response.header_str(HeaderName::AcceptEncoding),
        Some("identity")
    );

    let imdn = message(
        local,
        3,
        "Content-Type: message/imdn+xml\r\n",
        IMDN.as_bytes(),
    );
    assert_eq!(exchange(&socket, to, &imdn).await.status(), Some(415));

    let not_utf8 = message(local, 4, "Content-Type: text/plain\r\n", b"caf\xe9");
    let response = exchange(&socket, to, &not_utf8).await;
    assert_eq!(response.status(), Some(400), "text not in its charset");

    // None of those reached bob: the first message he sees is this one.
    let text = message(
        local,
        5,
        "Content-Type: text/plain;charset=utf-8\r\n",
        "¿qué tal?".as_bytes(),
    );
    assert_eq!(exchange(&socket, to, &text).await.status(), Some(200));
    assert_eq!(next_message(&mut bob_events).await.1, "¿qué tal?");

    bob.disable_profile(&bob_profile).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_kamailio_latin1_arrives_and_a_refusal_comes_back() {
    let Some(kam) = Kamailio::start("im-content", &[]) else {
        return;
    };
    let xml = |user| profile_xml(user, kam.port, "udp");
    let (alice, _alice_events, alice_profile) = registered(&xml("alice"), None).await;
    let (bob, mut bob_events, bob_profile) = registered(&xml("bob"), None).await;

    // Kamailio challenges the MESSAGE, then relays it as it is.
    alice
        .send_content(
            BOB,
            "text/plain;charset=ISO-8859-1",
            b"na\xefve caf\xe9".to_vec(),
        )
        .await
        .unwrap_or_else(|e| panic!("MESSAGE failed: {e}\n{}", kam.log()));
    assert_eq!(next_message(&mut bob_events).await.1, "naïve café");

    // Bob's 415 travels back through the proxy to alice.
    match alice.send_content(BOB, "message/imdn+xml", IMDN).await {
        Err(Error::Refused { status: 415, .. }) => {}
        other => panic!(
            "expected 415 through Kamailio, got {other:?}\n{}",
            kam.log()
        ),
    }
    alice.send_message(BOB, "plain again").await.unwrap();
    assert_eq!(next_message(&mut bob_events).await.1, "plain again");

    alice.disable_profile(&alice_profile).await.unwrap();
    bob.disable_profile(&bob_profile).await.unwrap();
}
