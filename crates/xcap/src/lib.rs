//! # xcap
//!
//! An XCAP client (RFC 4825) for tokio, part of the rtc-sip workspace: it reads and writes the
//! documents a presence server keeps for a user — presence authorization rules (RFC 5025),
//! resource lists and RLS services (RFC 4826) — over HTTP/1.1 or HTTPS.
//!
//! * **Addressing.** [`XcapRoot::user_document`] names a document by application (AUID),
//!   user (XUI) and name; [`XcapUri::node`] names an element or attribute inside it by
//!   [`NodeSelector`], with namespace bindings. Every part is percent-encoded (RFC 4825 §6).
//! * **Operations.** [`XcapClient::get`], [`put`](XcapClient::put) and
//!   [`delete`](XcapClient::delete) of whole documents and of nodes.
//! * **Conditions.** Every response's [`ETag`] comes back to the caller; [`Condition`] makes
//!   the next request conditional (`If-Match`, `If-None-Match`). A 412 is
//!   [`Error::Conflict`]: another client changed the document, read it again and merge.
//! * **Digest auth.** Challenges are answered with the same digest code as SIP
//!   ([`sip_txn::digest`], RFC 7616: MD5, SHA-256, SHA-512/256, `-sess`, `auth-int`).
//! * **HTTPS.** The server is verified exactly as a SIP server over TLS is
//!   ([`sip_transport::TlsConfig`]: `webpki-roots` plus any CA added), against the root's host.
//! * **Bounded.** Response bodies stop at [`XcapConfig::max_body`], operations at
//!   [`XcapConfig::timeout`].
//!
//! The documents themselves are built and parsed elsewhere (the `presence` crate, sans-IO);
//! this crate moves bytes and ETags.
//!
//! Addressing needs no server:
//!
//! ```
//! use xcap::{Application, NodeSelector, XcapRoot};
//!
//! let root = XcapRoot::parse("https://xcap.example.com/xcap-root")?;
//! let rules = root.user_document(Application::PRES_RULES.auid, "sip:alice@example.com", "index");
//! assert_eq!(rules.path(), "/xcap-root/pres-rules/users/sip:alice@example.com/index");
//! let rule = rules.node(&NodeSelector::new(r#"ruleset/rule[@id="a"]"#)?)?;
//! assert_eq!(
//!     rule.to_string(),
//!     "https://xcap.example.com/xcap-root/pres-rules/users/sip:alice@example.com/index\
//!      /~~/ruleset/rule%5B@id=%22a%22%5D"
//! );
//! # Ok::<(), xcap::Error>(())
//! ```
//!
//! Reading and writing, against a server:
//!
//! ```no_run
//! use xcap::{Application, Condition, NodeSelector, XcapClient, XcapConfig, XcapRoot};
//! # async fn f() -> xcap::Result<()> {
//! let root = XcapRoot::parse("http://127.0.0.1:5060/xcap-root")?;
//! let client = XcapClient::new(root.clone(), XcapConfig {
//!     credentials: Some(xcap::Credentials::new("alice", "alicepw")),
//!     ..XcapConfig::default()
//! })?;
//! let rules = root.user_document(Application::PRES_RULES.auid, "sip:alice@example.test", "index");
//! let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
//! <ruleset xmlns="urn:ietf:params:xml:ns:common-policy"/>"#;
//! // Create it only if it does not exist yet.
//! let written = client
//!     .put(&rules, Application::PRES_RULES.content_type, &doc[..], Condition::IfAbsent)
//!     .await?;
//! // One element of it, only while the document is unchanged.
//! let rule = rules.node(&NodeSelector::new(r#"ruleset/rule[@id="a"]"#)?)?;
//! let condition = written.etag.map_or(Condition::Always, Condition::IfMatch);
//! client.delete(&rule, condition).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod client;
mod connect;
mod error;
mod etag;
mod uri;

pub use client::{Document, Fetched, Written, XcapClient, XcapConfig};
pub use error::{Error, Result};
pub use etag::{Condition, ETag};
/// Which servers an `https` root trusts ([`XcapConfig::tls`]).
pub use sip_transport::TlsConfig;
/// The user name and password for digest auth ([`XcapConfig::credentials`]).
pub use sip_txn::digest::Credentials;
pub use uri::{
    ATTRIBUTE_CONTENT_TYPE, Application, ELEMENT_CONTENT_TYPE, NodeSelector, XcapRoot, XcapUri,
};
