//! A PUBLISH that fails is an application event with its cause (issue 12 item 5): a server
//! that refuses it (403), or never answers (a timeout), and the publication standing again
//! once the server takes it. On tokio's paused clock: the backoff and Timer F pass in moments.
//!
//! The server is a scripted one on a UDP socket: it grants every REGISTER and answers PUBLISH
//! as the test says; the last test has Kamailio refuse, in real time.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Kamailio, TempDir, alice_with_presence};
use rtc_client::{Cause, Event, Events};
use sip_parse::{Message, MessageBuilder, Method};
use tokio::net::UdpSocket;

/// How the server answers PUBLISH: with this status (2xx with an entity-tag), or not at all.
type PublishAnswer = Arc<Mutex<Option<u16>>>;

/// A server on 127.0.0.1 that grants every REGISTER and answers PUBLISH as `answer` says; its
/// port.
async fn server(answer: PublishAnswer) -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let Ok(request) = Message::parse(bytes::Bytes::copy_from_slice(&buf[..n])) else {
                continue;
            };
            let reply = match request.method() {
                Some(Method::Register) => {
                    let mut b =
                        MessageBuilder::response_to(&request, 200, "OK", Some("s")).unwrap();
                    for c in request.contacts().flatten() {
                        if let Some(a) = c.address().filter(|a| a.expires() != Some(0)) {
                            let contact = format!("<{}>;expires=3600", a.uri_str());
                            b = b.header("Contact", &contact).unwrap();
                        }
                    }
                    b.build()
                }
                Some(Method::Publish) => match *answer.lock().unwrap() {
                    Some(code @ 200..=299) => {
                        MessageBuilder::response_to(&request, code, "OK", Some("s"))
                            .unwrap()
                            .header("SIP-ETag", "e1")
                            .unwrap()
                            .header("Expires", "3600")
                            .unwrap()
                            .build()
                    }
                    Some(code) => MessageBuilder::response_to(&request, code, "Refused", Some("s"))
                        .unwrap()
                        .build(),
                    None => continue,
                },
                // Nothing else matters here (SUBSCRIBEs go unanswered).
                _ => continue,
            };
            let _ = socket.send_to(&reply, from).await;
        }
    });
    port
}

/// The next publication event, skipping the rest, within 2 minutes of the paused clock (a
/// PUBLISH's Timer F and the first backoff fit).
async fn next_publication(events: &mut Events) -> Event {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(e @ Event::Publication { .. })) => return e,
            Ok(Some(e)) => seen.push(e),
            Ok(None) => panic!("events ended; saw {seen:#?}"),
            Err(_) => panic!("no publication event; saw {seen:#?}"),
        }
    }
}

/// The next publication event says the publication stands again.
async fn expect_published(events: &mut Events) {
    let back = next_publication(events).await;
    assert_eq!(
        back,
        Event::Publication {
            state: "published".into(),
            status: None,
            cause: None,
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_publish_is_reported_with_its_status_then_the_recovery() {
    let answer: PublishAnswer = Arc::new(Mutex::new(Some(403)));
    let port = server(answer.clone()).await;
    let dir = TempDir::new("publication-403");
    let (client, mut events) = alice_with_presence(port, &dir).await;
    let refused = next_publication(&mut events).await;
    assert_eq!(
        refused,
        Event::Publication {
            state: "retrying later (PUBLISH answered 403 Forbidden)".into(),
            status: Some(403),
            cause: None,
        }
    );
    // The server takes it at the next try (after the backoff: 15–30 s).
    *answer.lock().unwrap() = Some(200);
    expect_published(&mut events).await;
    client.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_publish_is_reported_as_timed_out() {
    let answer: PublishAnswer = Arc::new(Mutex::new(None));
    let port = server(answer).await;
    let dir = TempDir::new("publication-timeout");
    let (client, mut events) = alice_with_presence(port, &dir).await;
    let unanswered = next_publication(&mut events).await;
    assert_eq!(
        unanswered,
        Event::Publication {
            state: "retrying later (PUBLISH unanswered)".into(),
            status: None,
            cause: Some(Cause::TimedOut),
        }
    );
    client.shutdown().await.unwrap();
}

/// A real presence server refusing: Kamailio answers alice's PUBLISH 403 while her account is
/// denied presence (`-A WITH_PUBLISH_DENY`, an htable entry set over its RPC), and takes it once
/// that is lifted. Real time: the retry comes after the backoff's 15–30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kamailio_refusing_a_publish_is_reported_then_the_recovery() {
    let Some(kam) = Kamailio::start("publish-deny", &["-A", "WITH_PUBLISH_DENY"]) else {
        return;
    };
    kam.rpc("htable.seti deny alice 1");
    let dir = TempDir::new("publication-kamailio");
    let (client, mut events) = alice_with_presence(kam.port, &dir).await;
    let refused = next_publication(&mut events).await;
    let Event::Publication { state, status, .. } = &refused else {
        unreachable!()
    };
    assert_eq!(*status, Some(403), "{refused:?}");
    assert!(
        state.starts_with("retrying later (PUBLISH answered 403"),
        "{refused:?}"
    );
    kam.rpc("htable.delete deny alice");
    expect_published(&mut events).await;
    client.shutdown().await.unwrap();
}
