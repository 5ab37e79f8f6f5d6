//! # rtc-client
//!
//! The facade of the workspace: an RTC-style SIP presence and instant-messaging client.
//! For now this crate carries the `rtc` command-line tool (feature `cli`); the client facade
//! arrives with its issue.
//!
//! ```text
//! cargo rtc lint benches/corpus/*.sip
//! ```
//!
//! [`server`] holds an embedded registrar/proxy with digest authentication
//! ([`server::EmbeddedServer`], sans-IO core [`server::RegistrarProxy`]) that `cargo rtc demo`
//! and the fast tests run clients against on loopback; real deployments use a real server.

mod agent;
mod auth;
mod client;
mod engine;
mod error;
mod event;
mod im;
mod local;
pub mod registration;
pub mod server;

pub use client::{Client, ClientBuilder, ClientConfig, Events};
pub use error::{Error, Result};
pub use event::Event;
pub use local::Local;
pub use presence::{
    Buddy, ImportMode, OfferMode, PrivacyMode, Status, Store, Watcher, WatcherState,
};
pub use provisioning::{Profile, RegisterFlags};
pub use registration::{Registration, RegistrationConfig, RegistrationEvent, RegistrationState};
