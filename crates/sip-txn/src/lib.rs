//! # sip-txn
//!
//! The SIP transaction layer (RFC 3261 §17, with RFC 6026), dialogs (§12) and a digest
//! authentication client (RFC 2617, RFC 7616, RFC 8760) — as a **sans-IO** core in the shape of
//! quinn-proto: no sockets, no runtime, no clock.
//!
//! * **Time is an argument.** Every input and command takes `now: Instant`
//!   ([`TransactionLayer::handle_message`], [`TransactionLayer::handle_timeout`],
//!   [`TransactionLayer::handle_transport_error`], [`TransactionLayer::send_request`],
//!   [`TransactionLayer::send_response`], [`TransactionLayer::cancel`]).
//! * **Output is polled.** [`TransactionLayer::poll_transmit`] gives each message to send
//!   ([`Transmit`]: bytes, [`Target`], reliability), [`TransactionLayer::poll_event`] what
//!   happened ([`Event`]), [`TransactionLayer::poll_timeout`] when to call `handle_timeout`.
//!   **After every input or command, drain every `poll_*`.**
//! * **All four transactions**, INVITE and non-INVITE, client and server, with the timers of
//!   [`Timer`] (A–M) from configurable T1/T2/T4 ([`TimerConfig`]); reliable transports never
//!   retransmit and end at once where RFC 3261 says zero. Matching per §17.1.3 and §17.2.3 (with the
//!   RFC 2543 fallback), the ACK for a non-2xx built by the transaction, CANCEL on both sides,
//!   transport failures ending a transaction at once.
//! * [`dialog`]: dialog state from a 2xx or a NOTIFY, in-dialog requests, incoming checks;
//!   [`AckWait`]: the UAS core's 2xx retransmission until the ACK (§13.3.1.4).
//! * [`digest`]: answers 401/407 challenges for MD5, SHA-256 and SHA-512-256 (and `-sess`).
//! * With the `testkit` feature, the `testkit` module joins two layers by a lossy in-memory network
//!   on a simulated clock, as quinn-proto's tests do.
//! * With the `driver` feature, the `driver` module runs the layer on tokio and
//!   `sip-transport`: `Driver::request(..).await?.await?` for a final response, a stream of
//!   incoming requests each with a handle to answer, one timer fed from `poll_timeout`, and
//!   transport failures ending transactions at once.
//!
//! A driver (tokio or any other runtime) owns the sockets and one timer, and shuttles between them
//! and the layer. Here the "network" and the "clock" are the example's own variables:
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use sip_parse::{Message, MessageBuilder, Method};
//! use sip_txn::{Event, Target, TerminationReason, TransactionLayer};
//!
//! # #[allow(clippy::disallowed_methods)] // the example's clock starts somewhere
//! let start = Instant::now(); // a driver reads the clock; the layer never does
//! let mut layer = TransactionLayer::default();
//! let server = Target::udp("192.0.2.2:5060".parse()?);
//!
//! let options = MessageBuilder::request(Method::Options, "sip:bob@192.0.2.2")
//!     .header("Via", &format!("SIP/2.0/UDP 192.0.2.1:5060;branch={}", sip_txn::new_branch()?))?
//!     .header("Max-Forwards", "70")?
//!     .header("From", "<sip:alice@192.0.2.1>;tag=a1")?
//!     .header("To", "<sip:bob@192.0.2.2>")?
//!     .header("Call-ID", "c1@192.0.2.1")?
//!     .header("CSeq", "1 OPTIONS")?
//!     .build();
//! let options = Message::parse(options)?;
//! let key = layer.send_request(start, options.clone(), server)?;
//!
//! // Drain: the request goes out once…
//! let first = layer.poll_transmit().expect("the request");
//! assert_eq!(first.payload, *options.bytes());
//! assert!(layer.poll_transmit().is_none());
//!
//! // …and again when timer E fires after T1 = 500 ms with no answer (UDP).
//! let wake = layer.poll_timeout().expect("timer E");
//! assert_eq!(wake - start, Duration::from_millis(500));
//! layer.handle_timeout(wake);
//! assert!(layer.poll_transmit().is_some());
//!
//! // The answer arrives 20 ms later.
//! let ok = MessageBuilder::response_to(&options, 200, "OK", Some("b1"))?.build();
//! layer.handle_message(wake + Duration::from_millis(20), server_addr(), Message::parse(ok)?)?;
//! # fn server_addr() -> Target { Target::udp("192.0.2.2:5060".parse().unwrap()) }
//! match layer.poll_event() {
//!     Some(Event::Response { key: k, response }) => {
//!         assert_eq!((k, response.status()), (key, Some(200)));
//!     }
//!     other => panic!("{other:?}"),
//! }
//!
//! // Completed: timer K (T4 = 5 s over UDP) absorbs retransmitted responses, then it ends.
//! let k = layer.poll_timeout().expect("timer K");
//! layer.handle_timeout(k);
//! assert!(matches!(
//!     layer.poll_event(),
//!     Some(Event::Terminated { reason: TerminationReason::Normal, .. })
//! ));
//! assert!(layer.is_empty() && layer.poll_timeout().is_none());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod ack_wait;
mod client_invite;
mod client_non_invite;
pub mod dialog;
pub mod digest;
#[cfg(feature = "driver")]
#[cfg_attr(docsrs, doc(cfg(feature = "driver")))]
pub mod driver;
mod error;
mod event;
mod key;
mod layer;
mod limits;
mod matching;
mod server_invite;
mod server_non_invite;
mod slab;
mod target;
mod timer;
mod transaction;

pub use ack_wait::{AckWait, AckWaitStep};
pub use error::{Error, Result};
pub use event::{Event, TerminationReason};
pub use key::{ClientKey, ServerKey, TransactionKey, new_branch, new_tag, random_bytes};
#[doc(hidden)]
pub use layer::Footprint;
pub use layer::TransactionLayer;
pub use limits::Limits;
pub use sip_parse::{Target, TransportKind};
pub use target::Transmit;
pub use timer::{Timer, TimerConfig};

#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
