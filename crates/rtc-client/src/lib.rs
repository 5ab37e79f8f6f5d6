//! # rtc-client
//!
//! An RTC-style SIP presence and instant-messaging client, the facade of the workspace: what
//! the Microsoft RTC Client API offered, on tokio. A [`Client`] creates profiles from
//! provisioning XML, registers them ([`Registration`]: digest, refresh, 423, failover, backoff,
//! the RTC registration states), enables presence (before or after registering) with buddy and
//! watcher lists kept in a [`Store`], exchanges instant messages and typing indications, places
//! and answers sessions (INVITE signalling only: [`Client::invite`], [`Client::accept_invite`]),
//! and reports everything as [`Event`]s in order. One task drives the sans-IO cores (this crate's
//! registration, the `presence` crate's subscriber, notifier and publisher) over the `sip-txn`
//! driver. Features: `xcap` (on by default) keeps the watcher and buddy lists on the presence
//! server's XCAP server too (`ClientConfig::xcap_root`, over hyper); `server` adds the embedded
//! registrar/proxy (`rtc_client::server`); `cli` adds the `rtc` tool (`rtc demo`, `rtc login`,
//! `rtc lint`, `rtc profile check`).
//!
//! ```no_run
//! use rtc_client::{Client, Event, RegisterFlags, Status, Store};
//!
//! # async fn login(profile_xml: &str) -> rtc_client::Result<()> {
//! let (client, mut events) = Client::builder().start().await?;       // IRTCClient::Initialize
//! let profile = client.create_profile(profile_xml)?;                  // CreateProfile
//! client.enable_profile(&profile, RegisterFlags::ALL).await?;         // EnableProfile
//! client.enable_presence(Store::file("presence.xml")).await?;         // EnablePresence(TRUE)
//! client.set_local_presence(Status::Online, None).await?;
//! client.add_buddy("sip:bob@example.com", "Bob").await?;
//! while let Some(event) = events.recv().await {
//!     match event {
//!         Event::Registration { state, .. } => println!("registration: {state}"),
//!         Event::Buddy { uri, status, .. } => println!("{uri} is {status}"),
//!         Event::Watcher { uri, .. } => client.allow_watcher(&uri).await?,
//!         Event::Message { from, text, .. } => println!("{from}: {text}"),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # One crate
//!
//! Everything needed to configure a [`Client`], read its events and match its errors is
//! reachable from here: the lower crates' types that [`ClientConfig`], [`Event`] and [`Error`]
//! hold are re-exported, renamed where their own name would be vague here
//! ([`TransportError`], [`ProfileError`], [`PresenceError`], [`WatcherScope`], …), and the
//! profile model is [`profile`]. The sans-IO cores ([`registration`], [`keepalive`]) speak
//! SIP messages and targets of `sip-parse` and `sip-transport`, for those who drive them over
//! their own I/O.
//!
//! ```
//! use std::time::Duration;
//! use rtc_client::{
//!     ClientConfig, KeepAliveConfig, SrvRecord, StaticDns, TimerConfig, TlsConfig,
//!     TransportConfig,
//! };
//!
//! # fn main() -> rtc_client::Result<()> {
//! let mut dns = StaticDns::default();
//! dns.add_srv("_sip._udp.example.com", SrvRecord::new(0, 0, 5060, "sip.example.com"))
//!     .add_ip("sip.example.com", [192, 0, 2, 10].into());
//! let config = ClientConfig {
//!     transport: TransportConfig {
//!         tls_client: Some(TlsConfig::new().without_webpki_roots()),
//!         ..ClientConfig::default().transport
//!     },
//!     timers: TimerConfig { t1: Duration::from_millis(250), ..TimerConfig::default() },
//!     dns: Some(dns),
//!     udp_keepalive: Some(KeepAliveConfig::default()),
//!     ..ClientConfig::default()
//! };
//! # let _ = config;
//! # Ok(()) }
//! ```
//!
//! ```
//! use rtc_client::{DriverError, Error, ParseErrorKind, ProfileError, TransportError};
//!
//! fn explain(err: &Error) -> String {
//!     match err {
//!         Error::Profile(ProfileError::NoUser { at }) => format!("line {}: add a <user>", at.line),
//!         Error::Profile(e) => format!("fix the profile: {e}"),
//!         Error::Driver(DriverError::Timeout { target }) => format!("{target} did not answer"),
//!         Error::Transport(TransportError::Bind { addr, .. }) => format!("{addr} is taken"),
//!         Error::Parse(e) if matches!(e.kind, ParseErrorKind::Expected(_)) => e.to_string(),
//!         other => other.to_string(),
//!     }
//! }
//!
//! # fn main() {
//! let err = rtc_client::profile::parse("<provision key=\"k\" name=\"n\"/>").unwrap_err();
//! assert_eq!(explain(&Error::from(err)), "line 1: add a <user>");
//! # }
//! ```
//!
//! # Features
//!
//! None is on by default: a client build compiles neither the embedded server nor clap.
//!
//! * `server`: the `server` module, an embedded registrar/proxy with digest authentication
//!   (`server::EmbeddedServer`, sans-IO core `server::RegistrarProxy`) that `cargo rtc demo`
//!   and the fast tests run clients against on loopback; real deployments use a real server.
//! * `cli`: the `rtc` tool (implies `server`, for `rtc demo`).
#![cfg_attr(docsrs, feature(doc_cfg))]

mod agent;
mod auth;
mod autosave;
mod buddy_list;
mod client;
mod endpoint;
mod engine;
mod error;
mod event;
mod event_queue;
mod im;
pub mod keepalive;
mod large_request;
pub mod liveness;
pub mod outbound;
mod publication;
pub mod registration;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
mod session;
mod watcher_info;

pub use client::{Client, ClientBuilder, ClientConfig, Events};
pub use endpoint::Endpoint;
pub use error::{Error, Result};
pub use event::Event;
pub use registration::{Registration, RegistrationConfig, RegistrationEvent, RegistrationState};
pub use session::{DEFAULT_INVITE_EXPIRY, SessionEnd};

// The lower crates' types a user of `Client` meets, re-exported so that one dependency is
// enough to configure the client, read its events and match its errors (README: "One crate").

// Presence: statuses, buddies, watchers, the store.
pub use presence::{
    Backoff, Buddy, ImportMode, OfferMode, PrivacyMode, Scope as WatcherScope, Status, Store,
    SubscriptionType, Watcher, WatcherState,
};
// Profiles.
pub use provisioning::{Profile, RegisterFlags};

// What `ClientConfig` holds.
pub use keepalive::KeepAliveConfig;
pub use liveness::LivenessConfig;
pub use outbound::InstanceId;
// Limits on the messages the client reads and builds (`TransportConfig::parse`).
pub use sip_parse::ParseConfig;
// A transport (UDP, TCP, TLS) and a destination on one.
pub use sip_parse::{Target, TransportKind};
// Fixed DNS answers for `ClientConfig::dns`, and the records they hold.
pub use sip_transport::resolve::{NaptrRecord, SrvRecord, StaticDns};
// Listeners, TLS (a CA file: `TlsConfig::add_ca_file`), timeouts and connection limits.
/// What kind of transport failure a registration change stands for.
pub use sip_transport::Cause;
pub use sip_transport::{TlsConfig, TlsServerConfig, TransportConfig};
/// The XCAP root of [`ClientConfig::xcap_root`].
#[cfg(feature = "xcap")]
#[cfg_attr(docsrs, doc(cfg(feature = "xcap")))]
pub use xcap::XcapRoot;
// What `XcapRoot::parse` fails with.
#[cfg(feature = "xcap")]
#[cfg_attr(docsrs, doc(cfg(feature = "xcap")))]
pub use xcap::Error as XcapError;
// Transaction timers (T1, T2, T4, timer C).
pub use sip_txn::TimerConfig;

// The errors `Error` wraps, under names that say where they come from.
// `Error::Presence`: a presence document, list or the store.
pub use presence::Error as PresenceError;
// `Error::Profile` (with its line and column) and `Error::Expired`.
pub use provisioning::{Error as ProfileError, Expired as ProfileExpired};
// `Error::Parse`, and what it says went wrong (`ParseError::kind`).
pub use sip_parse::{ErrorKind as ParseErrorKind, ParseError};
// `Error::Transport`: binding, connecting, TLS, sending.
pub use sip_transport::Error as TransportError;
// `Error::Transaction`: a request or response the transaction layer refused.
pub use sip_txn::Error as TransactionError;
// `Error::Driver`: a transaction that timed out or whose transport failed.
pub use sip_txn::driver::DriverError;

/// The profile model (the `provisioning` crate, re-exported whole): a [`Profile`]'s fields and
/// the types to build or check one in code.
pub mod profile {
    pub use provisioning::*;
}
