//! The tokio driver (feature `driver`): the sans-IO [`TransactionLayer`] on a
//! [`sip_transport::Transport`], with one timer.
//!
//! [`Driver::start`] takes a bound transport and its events and spawns one task that feeds
//! arrivals and the timer (one sleep, reset to [`TransactionLayer::poll_timeout`]) into the
//! layer and drains its output. The cloneable [`Driver`] handle:
//!
//! * builds the local [`via`](Driver::via) (fresh branch, `rport`) and
//!   [`contact_uri`](Driver::contact_uri) for requests;
//! * sends a request in a client transaction: [`Driver::request`] gives a
//!   [`ClientTransaction`] that yields provisional responses and is `.await`ed for the final one
//!   (a timeout or a transport failure is a [`DriverError`]); or, with
//!   [`Driver::request_in_order`], has the final response delivered as
//!   [`Received::Response`] among the incoming requests, in the order they arrived;
//! * sends what needs no transaction: [`send_stateless`](Driver::send_stateless) (the ACK for a
//!   2xx, RFC 3261 §13.2.2.4);
//! * shuts down cleanly: [`shutdown`](Driver::shutdown).
//!
//! Incoming requests arrive on [`IncomingRequests`], each with a [`ServerTransaction`] to
//! answer through; responses go back where RFC 3261 §18.2.2 and RFC 3581 say (the same
//! connection for streams). CANCEL is answered by the driver (§9.2) and reported by
//! [`ServerTransaction::cancelled`]; ACKs for 2xx come up as [`Received::Ack`]. A stream
//! connection that breaks fails the transactions on it at once, without waiting for timer B/F,
//! and is reported as [`Received::ConnectionLost`] so that state kept with that peer (a
//! registration) can be renewed over a new connection.
//!
//! ```
//! use sip_parse::{Message, MessageBuilder, Method};
//! use sip_transport::{Target, Transport, TransportConfig, TransportKind};
//! use sip_txn::driver::{Driver, DriverConfig, Received};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let loopback = TransportConfig {
//!     udp: vec!["127.0.0.1:0".parse().unwrap()],
//!     ..Default::default()
//! };
//! // A server that answers every request 200 OK.
//! let (t, events) = Transport::bind(loopback.clone()).await?;
//! let (server, mut incoming) = Driver::start(t, events, DriverConfig::default())?;
//! tokio::spawn(async move {
//!     while let Some(received) = incoming.recv().await {
//!         // ACKs for 2xx and lost connections arrive here too.
//!         if let Received::Request(req) = received {
//!             let _ = req.transaction.reply(200, "OK").await;
//!         }
//!     }
//! });
//!
//! // A client sends OPTIONS and awaits the final response.
//! let (t, events) = Transport::bind(loopback).await?;
//! let (client, _incoming) = Driver::start(t, events, DriverConfig::default())?;
//! let server_addr = server.transport().local_addr(TransportKind::Udp).unwrap();
//! let request = MessageBuilder::request(Method::Options, &format!("sip:{server_addr}"))
//!     .header("Via", &client.via(TransportKind::Udp)?)?
//!     .header("Max-Forwards", "70")?
//!     .header("From", &format!("<{}>;tag={}", client.contact_uri(TransportKind::Udp, Some("alice"))?, sip_txn::new_tag()?))?
//!     .header("To", &format!("<sip:{server_addr}>"))?
//!     .header("Call-ID", &sip_txn::new_tag()?)?
//!     .header("CSeq", "1 OPTIONS")?
//!     .build();
//! let response = client
//!     .request(Message::parse(request)?, Target::udp(server_addr))
//!     .await?
//!     .await?;
//! assert_eq!(response.status(), Some(200));
//! client.shutdown().await;
//! server.shutdown().await;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod client;
mod error;
mod inbox;
mod server;
mod task;
mod updates;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use sip_parse::{Message, Target, TransportKind};
use sip_transport::{Events, Transport};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use client::ClientTransaction;
pub use error::DriverError;
pub use server::{IncomingRequest, IncomingRequests, Received, ServerTransaction, Source};

use crate::{TimerConfig, TransactionLayer};
use task::{Command, Reply, Task};

/// How a [`Driver`] runs.
///
/// ```
/// use std::time::Duration;
/// use sip_txn::{TimerConfig, driver::DriverConfig};
/// let config = DriverConfig {
///     timers: TimerConfig { t1: Duration::from_millis(100), ..Default::default() },
///     sent_by_host: Some("pc33.example.com".into()),
///     ..Default::default()
/// };
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// T1, T2, T4 and timer C of the transaction layer.
    pub timers: TimerConfig,
    /// The host for Via sent-by and Contact; `None` uses the listener's IP address (which must
    /// then not be unspecified).
    pub sent_by_host: Option<String>,
    /// Incoming requests queued for [`IncomingRequests`] before new ones are answered 503.
    /// Default 1024.
    pub incoming_queue: usize,
    /// Caps on live transactions: over them requests are answered 503 and
    /// [`request`](Driver::request) fails. Default [`Limits::default`](crate::Limits).
    pub limits: crate::Limits,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            timers: TimerConfig::default(),
            sent_by_host: None,
            incoming_queue: 1024,
            limits: crate::Limits::default(),
        }
    }
}

/// A running transaction layer on a transport: a cheap-to-clone handle.
///
/// The driver's task ends on [`shutdown`](Self::shutdown), when the last handle (including
/// those inside [`ClientTransaction`] and [`ServerTransaction`]) is dropped, or when the
/// transport stops; it then shuts the transport down and fails pending client transactions
/// with [`DriverError::Shutdown`].
#[derive(Debug, Clone)]
pub struct Driver {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    commands: mpsc::UnboundedSender<Command>,
    transport: Transport,
    config: DriverConfig,
    /// [`Driver::sent_by`] of each kind that has one, made once: listeners do not move.
    sent_by: Vec<(TransportKind, String)>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Driver {
    /// Starts driving a transaction layer on `transport`, whose `events` it consumes. Must be
    /// called inside a tokio runtime.
    pub fn start(
        transport: Transport,
        events: Events,
        config: DriverConfig,
    ) -> Result<(Driver, IncomingRequests), DriverError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| DriverError::NoRuntime)?;
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (incoming, incoming_rx) = inbox::inbox(config.incoming_queue);
        let sent_by = [TransportKind::Udp, TransportKind::Tcp, TransportKind::Tls]
            .into_iter()
            .filter_map(|kind| Some((kind, sent_by(&transport, &config, kind).ok()?)))
            .collect();
        let inner = Arc::new(Inner {
            commands,
            transport: transport.clone(),
            config: config.clone(),
            sent_by,
            task: Mutex::new(None),
        });
        let task = Task::new(
            TransactionLayer::with_limits(config.timers, config.limits),
            transport,
            events,
            commands_rx,
            incoming,
            Arc::downgrade(&inner),
        );
        let handle = runtime.spawn(task.run());
        *inner.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok((Driver { inner }, incoming_rx))
    }

    pub(crate) fn command(&self, cmd: Command) -> Result<(), DriverError> {
        self.inner
            .commands
            .send(cmd)
            .map_err(|_| DriverError::Shutdown)
    }

    /// The transport this driver runs on (local addresses, statistics).
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &DriverConfig {
        &self.inner.config
    }

    /// Sends `request` to `target` in a new client transaction (RFC 3261 §17.1). The request
    /// needs a top Via with an RFC 3261 branch ([`via`](Self::via) makes one); ACK is not a
    /// transaction: use [`send_stateless`](Self::send_stateless).
    ///
    /// Returns once the transaction exists (errors: the layer refused the request).
    pub async fn request(
        &self,
        request: Message,
        target: Target,
    ) -> Result<ClientTransaction, DriverError> {
        let (updates, mut rx) = updates::channel();
        self.command(Command::Request {
            request,
            target: target.clone(),
            reply: Reply::Caller(updates),
        })?;
        let key = rx.started().await?;
        Ok(ClientTransaction::new(key, target, self.clone(), rx))
    }

    /// Sends `request` to `target` in a new client transaction, like
    /// [`request`](Self::request), but its final response, or why there is none, comes as
    /// [`Received::Response`] with `token` on [`IncomingRequests`]: in its place among the
    /// requests, as it arrived on the wire. A transaction user that keeps dialogs then sees
    /// the events of each dialog in order: a NOTIFY that followed the 2xx to its SUBSCRIBE
    /// comes after that 2xx (RFC 3261 §12, RFC 6665 §4.1.2.4). Provisional responses are not
    /// passed up.
    pub fn request_in_order(
        &self,
        request: Message,
        target: Target,
        token: u64,
    ) -> Result<(), DriverError> {
        self.command(Command::Request {
            request,
            target,
            reply: Reply::InOrder(token),
        })
    }

    /// Sends a message outside any transaction: the ACK for a 2xx (RFC 3261 §13.2.2.4, sent
    /// to the dialog's remote target by the UAC core), or a 2xx retransmission by a UAS core.
    pub async fn send_stateless(
        &self,
        message: &Message,
        target: &Target,
    ) -> Result<(), DriverError> {
        self.inner
            .transport
            .send(target, message.bytes().clone())
            .await
            .map(drop)
            .map_err(|e| DriverError::Transport {
                target: target.clone(),
                reason: e.to_string(),
                cause: e.cause(),
            })
    }

    /// The Via sent-by for `kind`: the configured host or the listener's IP, and the
    /// listener's port (RFC 3261 §18.1.1: where responses are sent if the connection is gone).
    pub fn sent_by(&self, kind: TransportKind) -> Result<String, DriverError> {
        self.cached_sent_by(kind).map(Cow::into_owned)
    }

    /// [`sent_by`](Self::sent_by) as made at start; made again only to say why there is none.
    fn cached_sent_by(&self, kind: TransportKind) -> Result<Cow<'_, str>, DriverError> {
        match self.inner.sent_by.iter().find(|(k, _)| *k == kind) {
            Some((_, s)) => Ok(Cow::Borrowed(s)),
            None => sent_by(&self.inner.transport, &self.inner.config, kind).map(Cow::Owned),
        }
    }

    /// A Via header value for a new request over `kind`: our sent-by, `rport` (RFC 3581 §3) and
    /// a fresh RFC 3261 branch (§8.1.1.7).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # use sip_transport::{Transport, TransportConfig, TransportKind};
    /// # use sip_txn::driver::{Driver, DriverConfig};
    /// let cfg = TransportConfig { udp: vec!["127.0.0.1:0".parse()?], ..Default::default() };
    /// let (t, e) = Transport::bind(cfg).await?;
    /// let (driver, _) = Driver::start(t, e, DriverConfig::default())?;
    /// let via = driver.via(TransportKind::Udp)?;
    /// let port = driver.transport().local_addr(TransportKind::Udp).unwrap().port();
    /// assert!(via.starts_with(&format!("SIP/2.0/UDP 127.0.0.1:{port};rport;branch=z9hG4bK")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn via(&self, kind: TransportKind) -> Result<String, DriverError> {
        let sent_by = self.cached_sent_by(kind)?;
        let branch = crate::new_branch()?;
        let mut via = String::with_capacity(32 + sent_by.len() + branch.len());
        for part in [
            "SIP/2.0/",
            kind.as_str(),
            " ",
            &sent_by,
            ";rport;branch=",
            &branch,
        ] {
            via.push_str(part);
        }
        Ok(via)
    }

    /// A Contact URI reaching this driver over `kind` (RFC 3261 §8.1.1.8), with an optional
    /// user part (escaped as §25.1 requires): `sip:alice@192.0.2.1:5060`, with
    /// `;transport=tcp` for TCP; `sips:` for TLS.
    pub fn contact_uri(
        &self,
        kind: TransportKind,
        user: Option<&str>,
    ) -> Result<String, DriverError> {
        let sent_by = self.sent_by(kind)?;
        let mut uri = String::from(if kind == TransportKind::Tls {
            "sips:"
        } else {
            "sip:"
        });
        if let Some(user) = user {
            escape_user(&mut uri, user);
            uri.push('@');
        }
        uri.push_str(&sent_by);
        if kind == TransportKind::Tcp {
            uri.push_str(";transport=tcp");
        }
        Ok(uri)
    }

    /// Stops the driver: pending client transactions fail with [`DriverError::Shutdown`],
    /// the transport shuts down, and the task has ended when this returns.
    pub async fn shutdown(&self) {
        let _ = self.command(Command::Shutdown);
        let handle = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.await;
        }
    }
}

/// The Via sent-by for `kind`: the configured host or the listener's IP, and the listener's
/// port (RFC 3261 §18.1.1: where responses are sent if the connection is gone).
fn sent_by(
    transport: &Transport,
    config: &DriverConfig,
    kind: TransportKind,
) -> Result<String, DriverError> {
    let addr = transport
        .local_addr(kind)
        .ok_or(DriverError::NotListening(kind))?;
    match &config.sent_by_host {
        Some(host) => Ok(format!("{host}:{}", addr.port())),
        None if addr.ip().is_unspecified() => Err(DriverError::UnspecifiedAddress(kind)),
        // SocketAddr's Display brackets IPv6, as the Via grammar wants.
        None => Ok(addr.to_string()),
    }
}

/// Appends `user` with every character outside RFC 3261 §25.1 `user` (unreserved and
/// user-unreserved) percent-escaped.
fn escape_user(out: &mut String, user: &str) {
    for b in user.bytes() {
        let plain = b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b);
        if plain {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::escape_user;

    #[test]
    fn user_part_is_escaped() {
        let mut s = String::new();
        escape_user(&mut s, "al ice@x:y+1");
        assert_eq!(s, "al%20ice%40x%3Ay+1");
    }
}
