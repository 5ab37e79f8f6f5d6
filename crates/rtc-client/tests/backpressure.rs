//! An application that stops reading events does not stop the client, nor grow it: events
//! beyond `ClientConfig::event_capacity` are dropped and counted (`Event::Lagged`), and the
//! client goes on answering SIP.

mod common;

use common::*;
use rtc_client::{Event, RegisterFlags, RegistrationState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_events_are_not_read_keeps_answering_and_reports_the_gap() {
    const CAPACITY: usize = 4;
    const MESSAGES: usize = 20;
    let (_server, port) = embedded_server().await;
    let (alice, _alice_events, _) = registered(&profile_xml("alice", port, "udp"), None).await;
    let (bob, mut bob_events) = client_with(None, |c| c.event_capacity = CAPACITY).await;
    let profile = bob
        .create_profile(&profile_xml("bob", port, "udp"))
        .unwrap();
    bob.enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut bob_events, RegistrationState::Registered).await;
    // Bob's application stops reading; every message is still accepted by his client.
    for i in 0..MESSAGES {
        alice
            .send_message("sip:bob@example.test", &format!("message {i}"))
            .await
            .unwrap_or_else(|e| panic!("message {i} while bob lags: {e}"));
    }
    let mut got = Vec::new();
    while let Some(e) = bob_events.try_recv() {
        got.push(e);
    }
    let texts: Vec<&str> = got
        .iter()
        .filter_map(|e| match e {
            Event::Message { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    // The first messages that fit, in order; then the gap, counted.
    assert!(texts.len() <= CAPACITY, "{got:#?}");
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(*t, format!("message {i}"));
    }
    let dropped = got.iter().find_map(|e| match e {
        Event::Lagged { dropped } => Some(*dropped),
        _ => None,
    });
    assert_eq!(
        dropped,
        Some((MESSAGES - texts.len()) as u64),
        "every message not delivered is counted: {got:#?}"
    );
    // Caught up: events flow again.
    alice
        .send_message("sip:bob@example.test", "after")
        .await
        .unwrap();
    expect(
        &mut bob_events,
        "the message after the gap",
        |e| matches!(e, Event::Message { text, .. } if text == "after"),
    )
    .await;
}
