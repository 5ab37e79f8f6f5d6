//! # sip-transport
//!
//! SIP transports for tokio (RFC 3261 §18): UDP, TCP and TLS over IPv4 and IPv6.
#![forbid(unsafe_code)]

mod config;
mod error;
mod event;
mod handle;
pub mod resolve;
mod stream;
mod target;
mod tls;
mod udp;
mod via_stamp;

pub use config::TransportConfig;
pub use error::{Error, Result};
pub use event::{CloseReason, Incoming, Stats, TransportEvent};
pub use handle::{Events, Transport};
pub use target::{ConnectionId, Target, TransportKind};
pub use tls::{TlsConfig, TlsServerConfig};
pub use via_stamp::stamp_via;
