//! # sip-parse
//!
//! A zero-copy parser for SIP messages (RFC 3261), the base of the rtc-sip workspace.
//!
//! * **Zero copy, owned cheaply.** [`Message::parse`] takes one [`bytes::Bytes`] (a received
//!   datagram or stream frame) and records the start line, headers and body as ranges into it.
//!   The message is `'static`, cloning it copies no text, and a typical parse makes a single
//!   heap allocation (the header index).
//! * **Typed views on demand.** [`Message::top_via`], [`Message::from_header`],
//!   [`Message::cseq`], [`Message::contacts`], [`Message::www_authenticate`],
//!   [`Message::subscription_state`] and the rest parse the stored text when asked, with nom,
//!   and borrow from it: no allocation.
//! * **Hostile input is normal input.** No panic and no unbounded allocation on any bytes;
//!   limits on size, header count and line length ([`ParseConfig`]). Every error is a small
//!   `Copy` value saying what was expected at which byte ([`ParseError`]).
//! * **Streams.** [`Message::parse_stream`] and [`StreamFramer`] frame messages on TCP/TLS by
//!   Content-Length, reporting how many more bytes are needed.
//! * **Building.** [`MessageBuilder`] writes requests and responses into `BytesMut` with a
//!   correct Content-Length; [`MessageBuilder::response_to`] copies the headers RFC 3261 §8.2.6
//!   requires.
//! * **Validation.** [`Message::validate`] checks what a tolerant parse lets through: every
//!   known header's grammar, scalar ranges, CSeq/method agreement (RFC 4475 §3.1.2).
//!
//! ```
//! use bytes::Bytes;
//! use sip_parse::{Message, MessageBuilder, Method};
//!
//! let wire = MessageBuilder::request(Method::Message, "sip:bob@example.com")
//!     .header("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9")?
//!     .header("From", "<sip:alice@example.com>;tag=9fxced76sl")?
//!     .header("To", "<sip:bob@example.com>")?
//!     .header("Call-ID", "3848276298220188511@192.0.2.1")?
//!     .header("CSeq", "1 MESSAGE")?
//!     .header("Max-Forwards", "70")?
//!     .body("text/plain", "Watson, come here.")?
//!     .build();
//!
//! let msg = Message::parse(wire)?;
//! assert_eq!(msg.method(), Some(Method::Message));
//! assert_eq!(msg.top_via()?.branch(), Some("z9hG4bK74bf9"));
//! assert_eq!(msg.body(), b"Watson, come here.");
//! msg.validate()?;
//!
//! let ok = MessageBuilder::response_to(&msg, 200, "OK", Some("3k4j5"))?.build();
//! let ok = Message::parse(ok)?;
//! assert_eq!(ok.to_header()?.tag(), Some("3k4j5"));
//! assert_eq!(ok.cseq()?, msg.cseq()?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod builder;
mod chars;
mod config;
mod error;
mod framer;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod grammar;
mod header;
mod header_name;
mod line_ends;
mod message;
mod method;
mod target;
mod top_via;
mod uri;
mod validate;

pub use builder::MessageBuilder;
pub use config::ParseConfig;
pub use error::{ErrorKind, ParseError};
pub use framer::StreamFramer;
pub use grammar::{Params, unescape};
pub use header::address::{Contact, NameAddr};
pub use header::auth::{Challenge, Credentials};
pub use header::event::{Event, SubState, SubscriptionState};
pub use header::simple::{CSeq, Date, MediaType, RetryAfter, Warning, call_id};
pub use header::via::{MAGIC_COOKIE, Via};
pub use header_name::HeaderName;
pub use message::{Header, Message, Streamed};
pub use method::Method;
pub use target::{Target, TransportKind};
pub use top_via::TopVia;
pub use uri::{AbsoluteUri, Host, SipUri, TelUri, Uri, percent_decode};

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
