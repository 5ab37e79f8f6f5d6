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
//! driver; the feature `cli` adds the `rtc` tool (`rtc demo`, `rtc login`, `rtc lint`,
//! `rtc profile check`).
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
//! # Features
//!
//! None is on by default: a client build compiles neither the embedded server nor clap.
//!
//! * `server`: the `server` module, an embedded registrar/proxy with digest authentication
//!   (`server::EmbeddedServer`, sans-IO core `server::RegistrarProxy`) that `cargo rtc demo`
//!   and the fast tests run clients against on loopback; real deployments use a real server.
//! * `cli`: the `rtc` tool (implies `server`, for `rtc demo`).

mod agent;
mod auth;
mod autosave;
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
pub mod registration;
#[cfg(feature = "server")]
pub mod server;
mod session;
mod watcher_info;

pub use client::{Client, ClientBuilder, ClientConfig, Events};
pub use endpoint::Endpoint;
pub use error::{Error, Result};
pub use event::Event;
pub use presence::{
    Backoff, Buddy, ImportMode, OfferMode, PrivacyMode, Status, Store, Watcher, WatcherState,
};
pub use provisioning::{Profile, RegisterFlags};
pub use registration::{Registration, RegistrationConfig, RegistrationEvent, RegistrationState};
pub use session::{DEFAULT_INVITE_EXPIRY, SessionEnd};
/// What kind of transport failure a registration change stands for.
pub use sip_transport::Cause;
/// The XCAP root of [`ClientConfig::xcap_root`].
pub use xcap::XcapRoot;
