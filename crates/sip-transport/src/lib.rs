//! # sip-transport
//!
//! The network layer of the rtc-sip stack (RFC 3261 §18): it moves whole SIP messages over UDP,
//! TCP and TLS (rustls), IPv4 and IPv6, on tokio, and tells the layer above what arrived and
//! which connections died.
//!
//! * **One handle.** [`Transport::bind`] binds the listeners of a [`TransportConfig`] and
//!   returns a cloneable [`Transport`] for sending and an [`Events`] receiver. Each
//!   [`TransportEvent::Message`] carries the parsed [`sip_parse::Message`], the source
//!   address, and the transport and [`ConnectionId`] it came on.
//! * **Streams.** TCP and TLS are framed by `sip_parse::StreamFramer` (Content-Length); a
//!   double-CRLF ping gets a CRLF pong, and connections we open can ping periodically
//!   (RFC 5626 §3.5.1). Connections are reused per remote address, so a response goes back on
//!   the connection its request came on; sending to a remote without one connects. Idle
//!   connections close after a timeout. Every close is reported at once as
//!   [`TransportEvent::ConnectionClosed`], so transactions can fail without waiting for
//!   Timer B/F.
//! * **TLS.** Servers are verified against the [`Target::server_name`] (the SIP domain) with the
//!   `webpki-roots` anchors, plus any CA you add; client certificates are supported, and
//!   skipping verification takes [`TlsConfig::danger_accept_any_certificate`].
//! * **NAT.** Incoming requests get `received` and `rport` on their top Via (RFC 3581,
//!   [`stamp_via`]).
//! * **Hostile input.** Datagrams and stream messages are limited by
//!   [`sip_parse::ParseConfig::max_message_size`]; a malformed datagram is dropped and counted,
//!   a malformed stream is closed with a logged reason; neither stops a listener
//!   ([`Transport::stats`]).
//! * **Server location.** [`resolve::locate`] turns a SIP URI into an ordered list of
//!   [`Target`]s by RFC 3263 (NAPTR, SRV, A/AAAA), with a pluggable [`resolve::DnsLookup`].
//! * With the `testkit` feature, the `testkit` module picks loopback ports for a real SIP peer
//!   that a test starts (Kamailio, sipp), outside the range port-0 binds take, and makes test
//!   certificates (`testkit::pki`).
//!
//! ```
//! use sip_transport::{Target, Transport, TransportConfig, TransportEvent, TransportKind};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let loopback = "127.0.0.1:0".parse().unwrap();
//! let (server, mut server_events) = Transport::bind(TransportConfig {
//!     tcp: vec![loopback],
//!     ..Default::default()
//! })
//! .await?;
//! let (client, mut client_events) = Transport::bind(TransportConfig::default()).await?;
//!
//! // A request over TCP: the client connects on demand.
//! let server_addr = server.local_addr(TransportKind::Tcp).unwrap();
//! let request = bytes::Bytes::from_static(
//!     b"OPTIONS sip:bob@example.test SIP/2.0\r\n\
//!       Via: SIP/2.0/TCP client.example.test;rport;branch=z9hG4bK1\r\n\
//!       From: <sip:alice@example.test>;tag=1\r\n\
//!       To: <sip:bob@example.test>\r\n\
//!       Call-ID: c1\r\n\
//!       CSeq: 1 OPTIONS\r\n\
//!       Content-Length: 0\r\n\r\n",
//! );
//! let conn = client.send(&Target::tcp(server_addr), request).await?;
//!
//! // The server sees it with its source; the top Via was stamped (RFC 3581).
//! let incoming = loop {
//!     if let Some(TransportEvent::Message(m)) = server_events.recv().await {
//!         break m;
//!     }
//! };
//! let via = incoming.message.top_via()?;
//! assert_eq!(via.received, Some("127.0.0.1"));
//! assert_eq!(via.rport, Some(Some(incoming.source.port())));
//!
//! // The response goes back on the same connection.
//! let ok = sip_parse::MessageBuilder::response_to(&incoming.message, 200, "OK", Some("2"))?.build();
//! server.send(&incoming.reply_target(), ok).await?;
//! let response = loop {
//!     if let Some(TransportEvent::Message(m)) = client_events.recv().await {
//!         break m;
//!     }
//! };
//! assert_eq!(response.message.status(), Some(200));
//! assert_eq!(response.connection, conn);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! The crate has no global state and spawns its tasks on the ambient tokio runtime; dropping
//! every [`Transport`] clone (or calling [`Transport::shutdown`]) stops them.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod admission;
mod cause;
mod config;
mod error;
mod event;
mod handle;
pub mod resolve;
mod stream;
pub mod stun;
mod target;
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;
mod tls;
mod udp;
mod via_stamp;

pub use cause::Cause;
pub use config::TransportConfig;
pub use error::{Error, Result};
pub use event::{CloseReason, Incoming, Stats, StunIncoming, TransportEvent};
pub use handle::{Events, Transport};
pub use sip_parse::{Target, TransportKind};
pub use target::ConnectionId;
pub use tls::{TlsConfig, TlsServerConfig};
pub use via_stamp::{stamp_top_via, stamp_via};
