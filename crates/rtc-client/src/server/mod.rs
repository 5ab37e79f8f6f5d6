//! An embedded registrar and proxy with digest authentication, in-process, for `cargo rtc demo`
//! and fast tests: two clients register with it and reach each other through it. Real
//! deployments use a real server (Kamailio); this one is small but follows the RFCs closely
//! enough for real UAs and sipp:
//!
//! * registrar (RFC 3261 §10.3) for the users of one domain: several contacts per AOR, expiry
//!   from `expires` or Expires with default, minimum (423) and maximum, `expires=0`,
//!   `Contact: *`, the Call-ID/CSeq ordering rule, every binding listed in the 200;
//! * digest authentication (RFC 2617, RFC 7616): 401 for REGISTER, 407 for other out-of-dialog
//!   requests, `qop=auth`, MD5 (and SHA-256 if configured), nonces that go stale, the
//!   authenticated user must be the To (REGISTER) or From user;
//! * stateless proxy (RFC 3261 §16.11): forwards to a registered contact with Max-Forwards,
//!   Via and Record-Route; loose routing for in-dialog requests; 404/480/483; PUBLISH 501;
//! * not an open relay: it forwards what an authenticated user sends, requests in a dialog whose
//!   Record-Route it signed (HMAC-SHA256 with a per-process key), and the CANCEL or ACK of an
//!   INVITE it forwarded; anything else gets 403 (an ACK is dropped).
//!
//! [`RegistrarProxy`] is the sans-IO core (time in as an argument, output polled);
//! [`EmbeddedServer`] runs it on tokio sockets.

mod auth;
mod config;
mod core;
mod driver;
mod error;
mod proxy;
mod registrar;
mod reply;
mod seal;

pub use config::ServerConfig;
pub use core::RegistrarProxy;
pub use driver::EmbeddedServer;
pub use error::{Error, Result};
pub use registrar::BindingInfo;
