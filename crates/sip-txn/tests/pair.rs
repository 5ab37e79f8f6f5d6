//! Client and server layers over the testkit's in-memory network.

use std::time::Duration;

use sip_parse::{Message, MessageBuilder, Method};
use sip_txn::testkit::{self, CLIENT_ADDR, Pair, Side};
use sip_txn::{Event, Target, TerminationReason, TimerConfig, TransportKind};

fn ok_to_everything(_: &Message) -> Option<(u16, &'static str)> {
    Some((200, "OK"))
}

#[test]
fn hundred_non_invite_transactions_complete_over_a_link_dropping_20_percent() {
    let mut pair = Pair::new(TransportKind::Udp, TimerConfig::default());
    pair.link.loss = 0.2;
    pair.link.seed = 0x5eed_1234_abcd_0001;
    pair.responder = Some(ok_to_everything);
    let keys: Vec<_> = (1..=100)
        .map(|i| pair.send_request(testkit::request(Method::Options, TransportKind::Udp, i)))
        .collect();
    pair.run();
    for key in &keys {
        assert_eq!(
            pair.final_response(*key).and_then(Message::status),
            Some(200),
            "{key:?}"
        );
        assert_eq!(
            pair.client_termination(*key),
            Some(TerminationReason::Normal)
        );
    }
    let sent = pair.log.len();
    let dropped = pair.log.iter().filter(|p| p.dropped).count();
    // The loss was real and the retransmissions made up for it.
    assert!(dropped > sent / 8, "dropped {dropped} of {sent}");
    let requests = pair.log.iter().filter(|p| p.from == Side::Client).count();
    assert!(requests > 100);
    assert!(pair.client.is_empty() && pair.server.is_empty());
}

#[test]
fn invite_with_200_over_a_lossless_link() {
    let mut pair = Pair::new(TransportKind::Udp, TimerConfig::default());
    let invite = testkit::request(Method::Invite, TransportKind::Udp, 1);
    let key = pair.send_request(invite.clone());
    pair.run_for(Duration::from_millis(50));
    let Some(Event::Request { key: skey, .. }) = pair.server_events.first().cloned() else {
        panic!("no request at the server");
    };
    // 100 Trying came back and stopped timer A.
    assert!(
        pair.client_events.iter().any(
            |e| matches!(e, Event::Response { response, .. } if response.status() == Some(100))
        )
    );
    pair.respond(skey, testkit::response(&invite, 200, "OK"));
    pair.run_for(Duration::from_millis(50));
    assert_eq!(
        pair.final_response(key).and_then(Message::status),
        Some(200)
    );
    pair.run();
    assert_eq!(
        pair.client_termination(key),
        Some(TerminationReason::Normal)
    );
    let invites = pair.log.iter().filter(|p| p.from == Side::Client).count();
    assert_eq!(invites, 1, "no retransmission once 100 Trying arrived");
}

#[test]
fn cancel_waits_for_a_provisional_then_reaches_the_invite() {
    let mut pair = Pair::new(TransportKind::Udp, TimerConfig::default());
    // Lose everything the server sends at first, so the client stays in Calling.
    pair.link.loss = 0.0;
    let invite = testkit::request(Method::Invite, TransportKind::Udp, 1);
    let target = pair.server_target();
    let key = pair
        .client
        .send_request(pair.now, invite.clone(), target)
        .unwrap();
    let cancel = pair.client.cancel(pair.now, key).unwrap();
    // Held: nothing but the INVITE went out (§9.1).
    let mut sent = Vec::new();
    while let Some(t) = pair.client.poll_transmit() {
        sent.push(Message::parse(t.payload).unwrap());
    }
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method(), Some(Method::Invite));
    // The 100 Trying from the server releases the CANCEL.
    pair.client
        .handle_message(
            pair.now,
            target_of_server(),
            testkit::response(&invite, 100, "Trying"),
        )
        .unwrap();
    let t = pair.client.poll_transmit().expect("the CANCEL");
    let c = Message::parse(t.payload).unwrap();
    assert_eq!(c.method(), Some(Method::Cancel));
    assert_eq!(
        c.top_via().unwrap().branch(),
        invite.top_via().unwrap().branch()
    );
    assert_eq!(c.cseq().unwrap().seq, 1);
    assert_eq!(c.cseq().unwrap().method, Method::Cancel);
    // At the server: the INVITE, then the CANCEL matched to it.
    let source = Target::udp(CLIENT_ADDR);
    pair.server
        .handle_message(pair.now, source.clone(), invite.clone())
        .unwrap();
    pair.server
        .handle_message(pair.now, source, c.clone())
        .unwrap();
    let events: Vec<_> = std::iter::from_fn(|| pair.server.poll_event()).collect();
    let Some(Event::Request {
        key: invite_key, ..
    }) = events.first()
    else {
        panic!("{events:?}");
    };
    let Some(Event::Cancel {
        key: cancel_key,
        invite: matched,
        ..
    }) = events.get(1)
    else {
        panic!("{events:?}");
    };
    assert_eq!(matched, invite_key);
    // The user answers 200 to the CANCEL and 487 to the INVITE.
    pair.server
        .send_response(pair.now, *cancel_key, testkit::response(&c, 200, "OK"))
        .unwrap();
    pair.server
        .send_response(
            pair.now,
            *invite_key,
            testkit::response(&invite, 487, "Request Terminated"),
        )
        .unwrap();
    // Feed the server's output to the client.
    while pair
        .server
        .poll_transmit()
        .map(|t| {
            let m = Message::parse(t.payload).unwrap();
            if m.status() != Some(100) {
                pair.client
                    .handle_message(pair.now, target_of_server(), m)
                    .unwrap();
            }
        })
        .is_some()
    {}
    let client_events: Vec<_> = std::iter::from_fn(|| pair.client.poll_event()).collect();
    let cancel_ok = client_events.iter().any(|e| {
        matches!(e,
        Event::Response { key: k, response } if *k == cancel && response.status() == Some(200))
    });
    let invite_487 = client_events.iter().any(|e| {
        matches!(e,
        Event::Response { key: k, response } if *k == key && response.status() == Some(487))
    });
    assert!(cancel_ok && invite_487, "{client_events:?}");
}

fn target_of_server() -> Target {
    Target::udp(testkit::SERVER_ADDR)
}

#[test]
fn held_cancel_ends_unsent_when_a_final_response_comes_first() {
    let mut pair = Pair::new(TransportKind::Udp, TimerConfig::default());
    let invite = testkit::request(Method::Invite, TransportKind::Udp, 1);
    let key = pair
        .client
        .send_request(pair.now, invite.clone(), target_of_server())
        .unwrap();
    let cancel = pair.client.cancel(pair.now, key).unwrap();
    pair.client
        .handle_message(
            pair.now,
            target_of_server(),
            testkit::response(&invite, 486, "Busy Here"),
        )
        .unwrap();
    let events: Vec<_> = std::iter::from_fn(|| pair.client.poll_event()).collect();
    assert!(events.iter().any(|e| matches!(e,
        Event::Terminated { key: k, reason: TerminationReason::Normal } if *k == cancel.into())));
    let methods: Vec<_> = std::iter::from_fn(|| pair.client.poll_transmit())
        .map(|t| {
            Message::parse(t.payload)
                .unwrap()
                .method()
                .map(|m| m.to_string())
        })
        .collect();
    assert_eq!(methods, [Some("INVITE".to_owned()), Some("ACK".to_owned())]);
    assert!(
        pair.client.cancel(pair.now, key).is_err(),
        "final response already there"
    );
}

#[test]
fn unmatched_cancel_is_answered_481() {
    let mut pair = Pair::new(TransportKind::Udp, TimerConfig::default());
    let cancel = testkit::request(Method::Cancel, TransportKind::Udp, 1);
    pair.server
        .handle_message(pair.now, Target::udp(CLIENT_ADDR), cancel)
        .unwrap();
    let t = pair.server.poll_transmit().unwrap();
    assert_eq!(Message::parse(t.payload).unwrap().status(), Some(481));
}

#[test]
fn ack_without_a_transaction_goes_up() {
    let mut pair = Pair::new(TransportKind::Udp, TimerConfig::default());
    let ack = testkit::request(Method::Ack, TransportKind::Udp, 1);
    pair.server
        .handle_message(pair.now, Target::udp(CLIENT_ADDR), ack)
        .unwrap();
    assert!(matches!(pair.server.poll_event(), Some(Event::Ack { .. })));
    assert!(pair.server.is_empty());
}

fn rfc2543(method: &str, to_tag: Option<&str>) -> Message {
    let to = match to_tag {
        Some(t) => format!("<sip:bob@192.0.2.2>;tag={t}"),
        None => "<sip:bob@192.0.2.2>".to_owned(),
    };
    Message::parse(
        MessageBuilder::request(Method::from_token(method), "sip:bob@192.0.2.2")
            .header("Via", "SIP/2.0/UDP 192.0.2.1:5060")
            .unwrap()
            .header("From", "<sip:alice@192.0.2.1>;tag=a1")
            .unwrap()
            .header("To", &to)
            .unwrap()
            .header("Call-ID", "old-style@192.0.2.1")
            .unwrap()
            .header("CSeq", &format!("5 {method}"))
            .unwrap()
            .build(),
    )
    .unwrap()
}

#[test]
fn rfc2543_requests_match_by_dialog_fields() {
    let mut pair = Pair::new(TransportKind::Udp, TimerConfig::default());
    let src = Target::udp(CLIENT_ADDR);
    let invite = rfc2543("INVITE", None);
    pair.server
        .handle_message(pair.now, src.clone(), invite.clone())
        .unwrap();
    // A retransmission matches (one Request event, 100 Trying sent twice).
    pair.server
        .handle_message(pair.now, src.clone(), invite.clone())
        .unwrap();
    let Some(Event::Request { key, .. }) = pair.server.poll_event() else {
        panic!()
    };
    assert!(pair.server.poll_event().is_none());
    pair.server
        .send_response(pair.now, key, testkit::response(&invite, 404, "Not Found"))
        .unwrap();
    // An ACK with the To tag of our response is the transaction's: absorbed.
    pair.server
        .handle_message(pair.now, src.clone(), rfc2543("ACK", Some("b1")))
        .unwrap();
    assert!(pair.server.poll_event().is_none());
    // One with another To tag is not.
    pair.server
        .handle_message(pair.now, src, rfc2543("ACK", Some("zz")))
        .unwrap();
    assert!(matches!(pair.server.poll_event(), Some(Event::Ack { .. })));
}
