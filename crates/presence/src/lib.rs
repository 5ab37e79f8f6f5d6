//! Sans-IO SIP presence: documents, subscriptions, lists and the presence store.
//!
//! Nothing here touches a socket or a clock: time comes in as `now`, output is polled. The
//! `rtc-client` crate drives these cores over the network; any other stack can, too.
//!
//! # Documents
//!
//! | module | format | read | write |
//! |---|---|---|---|
//! | [`pidf`] | `application/pidf+xml` (RFC 3863) with RPID (RFC 4480) and the data model of RFC 4479 | [`pidf::Presence::parse`] | [`pidf::Presence::to_xml`] |
//! | [`xpidf`] | `application/xpidf+xml`, as RTC and Windows Messenger send it | [`xpidf::Xpidf::parse`] | [`xpidf::Xpidf::to_xml`] |
//! | [`winfo`] | `application/watcherinfo+xml` (RFC 3857/3858) | [`WatcherInfo::parse`] | [`WatcherInfo::to_xml`] |
//! | [`rules`] | pres-rules (RFC 5025 on RFC 4745 common-policy), who may watch | yes | yes |
//! | [`resource_lists`] | resource-lists and rls-services (RFC 4826) | yes | yes |
//! | [`eventlist`], [`rlmi`], [`multipart`] | RFC 4662 list notifications (RLMI in multipart/related) | yes | yes |
//!
//! [`Status`] is the RTC vocabulary (online, away, busy, …); [`LocalPresence`] writes it in the
//! format a watcher accepts and [`parse_body`] reads any of them back. Every document goes
//! through one bounded reader ([`XmlLimits`]): no DOCTYPE, no entities beyond XML's five, limits
//! on size, depth and element count, errors with line and column.
//!
//! ```
//! use presence::{LocalPresence, MediaKind, Status, WatcherInfo, WatcherInfoState, parse_body};
//!
//! // Notifier side: our presence, in the format the watcher's Accept asked for.
//! let me = LocalPresence::new(Status::OnThePhone, Some("call me later"));
//! let kind = MediaKind::from_accept(["application/pidf+xml"]).unwrap();
//! let (content_type, body) = me.to_body("sip:alice@example.com", kind);
//! assert_eq!(content_type, "application/pidf+xml");
//!
//! // Subscriber side: a NOTIFY body, by its Content-Type.
//! let seen = parse_body(content_type, &body)?;
//! assert_eq!((seen.status, seen.note.as_deref()), (Status::OnThePhone, Some("call me later")));
//!
//! // Watcher information: full and partial documents applied in version order (RFC 3858 §4).
//! let full = br#"<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="0" state="full">
//!   <watcher-list resource="sip:alice@example.com" package="presence">
//!     <watcher id="w1" event="subscribe" status="pending">sip:bob@example.com</watcher>
//!   </watcher-list></watcherinfo>"#;
//! let mut state = WatcherInfoState::default();
//! state.apply(WatcherInfo::parse(full)?)?;
//! let (resource, watcher) = state.watchers().next().unwrap();
//! assert_eq!((resource, watcher.uri.as_str()), ("sip:alice@example.com", "sip:bob@example.com"));
//! # Ok::<(), presence::Error>(())
//! ```
//!
//! # Lists and the store
//!
//! [`BuddyList`] (whom we watch) and [`WatcherList`] (who may watch us, with RTC's offer and
//! privacy modes: [`WatcherList::admit`] gives a [`WatcherDecision`]) are kept in a [`Store`],
//! one XML file replaced atomically, locked against a second user ([`Store::lock`]), exported
//! and imported as [`PresenceData`].
//!
//! # State machines
//!
//! Three cores sit above the transaction layer, each in the shape of `sip-txn`: commands and
//! inputs take `now`; requests come out of `poll_request()` as an [`OutgoingRequest`] to send in
//! a client transaction, whose final response goes back with `handle_response(now, handle,
//! &msg)` and whose timeout or transport failure with `handle_failure(now, handle)`; incoming
//! requests go in with `handle_request(now, &msg, …)`, which returns the response to send;
//! `poll_event()`, `poll_timeout()` and `handle_timeout(now)` do the rest. After every input or
//! command, drain every `poll_*`. [`local::LocalIdentity`] says who we are.
//!
//! - [`subscriber::Subscriber`] watches buddies (RFC 6665, RFC 3856). Each subscription goes
//!   `Subscribing` → `Active` (or `Pending`, until the buddy decides) and is refreshed before it
//!   expires; when it fails or the notifier ends it, it goes `Retrying { at, cause }` (at once,
//!   after Retry-After, or on a [`Backoff`] of 30 s doubling to an hour) or `Stopped(cause)`
//!   when retrying cannot help (403, `rejected`, `noresource`). A subscription that ends says
//!   nothing more about the buddy: the core reports the buddy as unknown (RFC 6665 §4.1.3).
//!   `fetch` and `poll` read a buddy's state once or now and then, without a subscription.
//! - [`notifier::Notifier`] is the client as its own presence agent: it answers SUBSCRIBEs for
//!   `presence` (after asking the watcher policy: allow, offer as pending, block as offline,
//!   reject) and `presence.winfo` (our own watchers, full then partial documents), and NOTIFYs
//!   every allowed watcher when our status changes, one NOTIFY per dialog in flight.
//! - [`publisher::Publisher`] PUBLISHes our status to a presence server (RFC 3903): initial,
//!   refresh with SIP-If-Match, modify, remove; 412 starts over.
//!
//! A subscriber whose first SUBSCRIBE gets no answer waits and tries again:
//!
//! ```
//! use std::time::Instant;
//! use presence::local::LocalIdentity;
//! use presence::subscriber::{
//!     RetryCause, Subscriber, SubscriberConfig, SubscriberEvent, SubscriptionState,
//! };
//! use presence::Failure;
//!
//! let me = LocalIdentity::new(
//!     "sip:alice@example.com",
//!     "sip:alice@192.0.2.1",
//!     sip_parse::TransportKind::Udp,
//!     "192.0.2.1:5060",
//! )?;
//! let mut core = Subscriber::new(me, SubscriberConfig::default());
//! let now = Instant::now();
//! core.subscribe(now, "sip:bob@example.com")?;
//! let subscribe = core.poll_request().expect("a SUBSCRIBE to send");
//! let event = subscribe.message.header(sip_parse::HeaderName::Event).map(|h| h.value);
//! assert_eq!(event, Some(&b"presence"[..]));
//!
//! // The transaction timed out (RFC 3261 Timer F): no response at all.
//! core.handle_failure(now, subscribe.handle);
//! let mut retry_at = None;
//! while let Some(event) = core.poll_event() {
//!     if let SubscriberEvent::State { state: SubscriptionState::Retrying { at, cause }, .. } = event {
//!         assert_eq!(cause, RetryCause::Failed(Failure::NoResponse));
//!         retry_at = Some(at);
//!     }
//! }
//! let at = retry_at.expect("a retry is planned");
//! assert_eq!(core.poll_timeout(), Some(at));
//! core.handle_timeout(at);
//! assert!(core.poll_request().is_some(), "SUBSCRIBE again at the planned time");
//! # Ok::<(), presence::Error>(())
//! ```
//!
//! `cargo run --example documents -p presence --features testkit` goes further: a subscription
//! through NOTIFY, refresh and termination against the `testkit` notifier double.
#![cfg_attr(docsrs, feature(doc_cfg))]

// Documents, lists and the store.
mod buddy;
mod datetime;
pub mod eventlist;
pub mod multipart;
pub mod pidf;
pub mod resource_lists;
pub mod rlmi;
pub mod rules;
mod status;
pub mod store;
mod watcher;
pub mod winfo;
mod xml;
pub mod xpidf;
pub use buddy::{Buddy, BuddyList, Group, SubscriptionType};
pub use error::Position;
pub use status::{LocalPresence, MediaKind, RemotePresence, Status, UnknownStatus, parse_body};
pub use store::{ImportMode, PresenceData, Store, StoreLock};
pub use watcher::{
    OfferMode, PrivacyMode, Scope, Watcher, WatcherDecision, WatcherList, WatcherState,
};
pub use winfo::{WatcherInfo, WatcherInfoState};
pub use xml::{Extension, XmlLimits};
// Subscriptions.
pub mod local;
pub mod notifier;
pub mod publisher;
mod request;
pub mod subscriber;
mod words;
pub use request::{Backoff, Failure, OutgoingRequest, RequestHandle};
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

mod error;

pub use error::{Error, Result};
