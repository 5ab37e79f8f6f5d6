//! Presence documents and a subscriber, with no network and no real time.
//!
//! 1. Builds a PIDF document from a [`LocalPresence`] (status and note), prints its XML, and
//!    reads it back with [`Presence::parse`] (RFC 3863, RPID of RFC 4480).
//! 2. Builds a watcherinfo document (RFC 3858), parses it, and applies a full then a partial
//!    one to a [`WatcherInfoState`], the view a watcherinfo subscriber keeps.
//! 3. Drives a [`Subscriber`] (RFC 6665 / RFC 3856) on a simulated clock: the presence
//!    server's side is played by `testkit::NotifierPeer`, and time moves only when the example
//!    calls [`Subscriber::handle_timeout`] at the instant [`Subscriber::poll_timeout`] asked for.
//!
//! ```text
//! cargo run --example documents -p presence --features testkit
//! ```
//!
//! The `testkit` feature provides the notifier double; the documents need no feature.

use std::time::{Duration, Instant};

use presence::pidf::Presence;
use presence::subscriber::{Subscriber, SubscriberConfig, SubscriberEvent, SubscriptionState};
use presence::testkit::{NotifierPeer, epoch, identity};
use presence::winfo::{DocState, Watcher, WatcherEvent, WatcherList, WatcherStatus};
use presence::{LocalPresence, MediaKind, Status, WatcherInfo, WatcherInfoState};

const BOB: &str = "sip:bob@example.com";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    pidf()?;
    watcherinfo()?;
    subscriber()
}

fn pidf() -> Result<(), Box<dyn std::error::Error>> {
    println!("== PIDF");
    let mine = LocalPresence::new(Status::OnThePhone, Some("back at 3"));
    let xml = mine.to_pidf(BOB).to_xml();
    println!("{xml}");
    let doc = Presence::parse(xml.as_bytes())?;
    println!(
        "parsed: {} is {} ({})",
        doc.entity,
        doc.status(),
        doc.note().unwrap_or("no note")
    );
    assert_eq!(doc.status(), Status::OnThePhone);
    Ok(())
}

fn watcher(id: &str, uri: &str, status: WatcherStatus, event: WatcherEvent) -> Watcher {
    Watcher {
        id: id.to_owned(),
        uri: uri.to_owned(),
        status,
        event,
        display_name: None,
        lang: None,
        expiration: None,
        duration_subscribed: None,
    }
}

fn watcherinfo() -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== watcherinfo");
    let list = |watchers| {
        vec![WatcherList {
            resource: BOB.to_owned(),
            package: "presence".to_owned(),
            watchers,
        }]
    };
    let full = WatcherInfo {
        version: 0,
        state: DocState::Full,
        lists: list(vec![
            watcher(
                "w1",
                "sip:alice@example.com",
                WatcherStatus::Active,
                WatcherEvent::Approved,
            ),
            watcher(
                "w2",
                "sip:carol@example.com",
                WatcherStatus::Pending,
                WatcherEvent::Subscribe,
            ),
        ]),
    };
    let xml = full.to_xml();
    println!("{xml}");
    // A partial document carries only what changed: Carol's subscription was rejected.
    let partial = WatcherInfo {
        version: 1,
        state: DocState::Partial,
        lists: list(vec![watcher(
            "w2",
            "sip:carol@example.com",
            WatcherStatus::Terminated,
            WatcherEvent::Rejected,
        )]),
    };
    let mut state = WatcherInfoState::default();
    for doc in [
        WatcherInfo::parse(xml.as_bytes())?,
        WatcherInfo::parse(partial.to_xml().as_bytes())?,
    ] {
        let applied = state.apply(doc)?;
        println!("applied {applied:?}, version {:?}:", state.version());
        for (resource, w) in state.watchers() {
            println!("  {} watches {resource}: {}", w.uri, w.status.as_str());
        }
    }
    Ok(())
}

/// Prints what the subscriber reports, with times as seconds since `t0`.
fn report(core: &mut Subscriber, t0: Instant) {
    while let Some(event) = core.poll_event() {
        match event {
            SubscriberEvent::Presence {
                buddy, presence, ..
            } => {
                println!(
                    "  {buddy} is {} ({})",
                    presence.status,
                    presence.note.as_deref().unwrap_or("no note")
                );
            }
            SubscriberEvent::State { buddy, state, .. } => {
                let text = match state {
                    SubscriptionState::Active {
                        expires_at: Some(at),
                    } => {
                        format!("active until t+{}s", at.duration_since(t0).as_secs())
                    }
                    other => format!("{other:?}"),
                };
                println!("  {buddy}: {text}");
            }
            other => println!("  {other:?}"),
        }
    }
}

fn subscriber() -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== subscriber on a simulated clock");
    let t0 = epoch();
    let mut core = Subscriber::new(identity("alice"), SubscriberConfig::default());
    core.subscribe(t0, BOB)?;

    // The core asks for a SUBSCRIBE; the application would send it and feed back the answer.
    let sub = core.poll_request().ok_or("no SUBSCRIBE")?;
    println!(
        "t+0s: sends SUBSCRIBE {}",
        sub.message.request_uri().unwrap_or("?")
    );
    let mut server = NotifierPeer::new(&sub.message, "srv");
    core.handle_response(t0, sub.handle, &server.answer(&sub.message, 200, Some(600)));

    // RFC 6665 §4.2.1: the notifier sends the current state at once.
    let body = LocalPresence::new(Status::Busy, Some("in a meeting")).to_body(BOB, MediaKind::Pidf);
    let notify = server.notify("active;expires=600", Some(body));
    let answer = core.handle_request(t0, &notify)?;
    println!("t+0s: NOTIFY answered {}", answer.status().unwrap_or(0));
    report(&mut core, t0);

    // Nothing happens until the refresh timer: jump straight to it.
    let at = core.poll_timeout().ok_or("no refresh planned")?;
    println!("t+{}s: refresh timer", at.duration_since(t0).as_secs());
    core.handle_timeout(at);
    let refresh = core.poll_request().ok_or("no refresh")?;
    server.receive(&refresh.message);
    core.handle_response(
        at,
        refresh.handle,
        &server.answer(&refresh.message, 200, Some(600)),
    );
    report(&mut core, t0);

    // Bob's server ends the subscription for good (RFC 6665 §4.1.3: noresource, no retry).
    let later = at + Duration::from_secs(10);
    let notify = server.notify("terminated;reason=noresource", None);
    core.handle_request(later, &notify)?;
    println!(
        "t+{}s: NOTIFY terminated",
        later.duration_since(t0).as_secs()
    );
    report(&mut core, t0);
    Ok(())
}
