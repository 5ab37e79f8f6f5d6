//! A shutdown ends its subscriptions properly: it waits (briefly) for the notifier's final
//! NOTIFY after the unsubscribe (RFC 6665 §4.1.2.3) and answers it, instead of leaving the
//! notifier to retransmit it to nobody until its Timer F (baresip took 32 s more to quit).
//!
//! The server is a scripted one on a UDP socket: registrar, presence server and buddy's
//! notifier at once; its final NOTIFY comes 300 ms after the 200 to the unsubscribe.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{TempDir, alice_with_presence};
use presence::testkit::NotifierPeer;

use sip_parse::{HeaderName, Message, MessageBuilder, Method};
use tokio::net::UdpSocket;

const BOB: &str = "sip:bob@example.test";

/// What the server saw: the answers to its NOTIFYs, as (CSeq, status).
type Answers = Arc<Mutex<Vec<(String, u16)>>>;

/// Sends `message` from the server, its Via and Contact made ours, so that answers and
/// in-dialog requests come back here (the testkit's notifier is at 192.0.2.9).
async fn send(socket: &UdpSocket, message: &Message, to: std::net::SocketAddr, n: u32) {
    let me = socket.local_addr().unwrap();
    let wire = String::from_utf8_lossy(message.as_bytes())
        .replace(
            "192.0.2.9;branch=z9hG4bKtestkit",
            &format!("{me};rport;branch=z9hG4bKtestkit{n}"),
        )
        .replace("sip:ps@192.0.2.9", &format!("sip:ps@{me}"));
    let _ = socket.send_to(wire.as_bytes(), to).await;
}

async fn server(answers: Answers) -> u16 {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let port = socket.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        let mut peers: HashMap<String, NotifierPeer> = HashMap::new();
        let mut sent = 0;
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Ok(m) = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])) else {
                continue;
            };
            let ok = |extra: &[(&str, &str)]| {
                let mut b = MessageBuilder::response_to(&m, 200, "OK", Some("s")).unwrap();
                for (name, value) in extra {
                    b = b.header(name, value).unwrap();
                }
                b.build()
            };
            let call_id = m.header_str(HeaderName::CallId).unwrap_or("").to_owned();
            match m.method() {
                None => {
                    // An answer to one of our NOTIFYs.
                    let state = m.header_str(HeaderName::CSeq).unwrap_or("").to_owned();
                    answers
                        .lock()
                        .unwrap()
                        .push((state, m.status().unwrap_or(0)));
                }
                Some(Method::Register) => {
                    let mut extra = Vec::new();
                    let contact;
                    if let Some(uri) = m
                        .contacts()
                        .flatten()
                        .find_map(|c| Some(c.address()?.uri_str().to_owned()))
                    {
                        contact = format!("<{uri}>;expires=3600");
                        extra.push(("Contact", contact.as_str()));
                    }
                    let _ = socket.send_to(&ok(&extra), from).await;
                }
                Some(Method::Publish) => {
                    let reply = ok(&[("SIP-ETag", "e1"), ("Expires", "3600")]);
                    let _ = socket.send_to(&reply, from).await;
                }
                Some(Method::Subscribe) if m.header_str(HeaderName::Event) == Some("presence") => {
                    let expires = m.header_str(HeaderName::Expires).unwrap_or("3600");
                    let peer = peers
                        .entry(call_id)
                        .or_insert_with(|| NotifierPeer::new(&m, "n"));
                    if expires == "0" {
                        peer.receive(&m);
                        let _ = socket
                            .send_to(peer.answer(&m, 200, Some(0)).as_bytes(), from)
                            .await;
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        let last = peer.notify("terminated;reason=timeout", None);
                        sent += 1;
                        send(&socket, &last, from, sent).await;
                    } else {
                        send(&socket, &peer.answer(&m, 200, Some(3600)), from, 0).await;
                        let first = peer.notify("active;expires=3600", None);
                        sent += 1;
                        send(&socket, &first, from, sent).await;
                    }
                }
                Some(Method::Subscribe) => {
                    let reply = MessageBuilder::response_to(&m, 489, "Bad Event", Some("s"))
                        .unwrap()
                        .build();
                    let _ = socket.send_to(&reply, from).await;
                }
                _ => {}
            }
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_answers_the_final_notify_of_its_unsubscribe() {
    let answers = Answers::default();
    let port = server(answers.clone()).await;
    let dir = TempDir::new("shutdown-final-notify");
    let (client, _events) = alice_with_presence(port, &dir).await;
    client.add_buddy(BOB, "Bob").await.unwrap();
    // The subscription stands once its first NOTIFY is answered.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while answers.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no NOTIFY answered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client.shutdown().await.unwrap();
    // The answer sent just before the client stopped may still be on its way to the server.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while answers.lock().unwrap().len() < 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answers = answers.lock().unwrap().clone();
    assert_eq!(
        answers,
        [("1 NOTIFY".to_owned(), 200), ("2 NOTIFY".to_owned(), 200)],
        "both NOTIFYs answered, the final one too"
    );
}
