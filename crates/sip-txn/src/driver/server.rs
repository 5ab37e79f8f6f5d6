//! The caller's side of server transactions: incoming requests, each with a handle to answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sip_parse::{Message, MessageBuilder, Target};
use sip_transport::ConnectionId;
use tokio::sync::{mpsc, oneshot};

use super::task::Command;
use super::{Driver, DriverError};
use crate::ServerKey;

/// Something that arrived for the transaction user, from [`IncomingRequests::recv`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Received {
    /// A request with a new server transaction: answer it through
    /// [`IncomingRequest::transaction`]. An INVITE has already been answered 100 Trying.
    Request(IncomingRequest),
    /// An ACK that no transaction absorbed: the ACK for a 2xx (RFC 3261 §13.3.1.4, RFC 6026
    /// §8.7), or one matching nothing. It belongs to a dialog; it is never answered.
    Ack {
        /// The ACK.
        request: Message,
        /// Where it came from.
        source: Source,
    },
    /// A stream connection to `target` ended by failure (reset, closed by the peer, framing
    /// error, unanswered keep-alive). Transactions on it have already failed; a transaction
    /// user that keeps state with that peer (a registration, a subscription) should recover it
    /// over a new connection (RFC 5626 §4.4.1).
    ConnectionLost {
        /// The transport and the peer's address.
        target: Target,
        /// Why it ended.
        reason: String,
    },
    /// A STUN Binding response on a UDP socket: the answer to a keep-alive sent with
    /// [`sip_transport::stun::binding_request`] (RFC 5626 §4.4.1).
    Stun(sip_transport::StunIncoming),
    /// The final response of a client transaction started with
    /// [`Driver::request_in_order`], or why there is none (a timeout, a transport failure,
    /// the layer refusing the request), in its place among the requests: whatever arrived
    /// on the wire before it was received before it, whatever arrived after, after.
    Response {
        /// The token given to [`Driver::request_in_order`].
        token: u64,
        /// The final response, or why there is none.
        outcome: Result<Message, DriverError>,
    },
}

/// Where a request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The transport and the peer's address as seen here (after NAT).
    pub target: Target,
    /// The local address it arrived at.
    pub local: SocketAddr,
    /// The stream connection it came on (`None` for UDP).
    pub connection: Option<ConnectionId>,
}

/// A new request and the server transaction that answers it.
#[derive(Debug)]
pub struct IncomingRequest {
    /// The request, with `received`/`rport` stamped on its top Via (RFC 3581).
    pub request: Message,
    /// Where it came from.
    pub source: Source,
    /// Where responses go (RFC 3261 §18.2.2, RFC 3581 §4): the same connection for streams;
    /// for UDP the source address and port when the request asked for `rport`, else the
    /// `received` address and the sent-by port.
    pub reply_to: Target,
    /// The handle to answer through.
    pub transaction: ServerTransaction,
}

/// Answers one incoming request (RFC 3261 §17.2).
///
/// Send any provisional responses, then one final response. A transaction dropped without a
/// final response is answered `500 Server Internal Error` by the driver, so no request is left
/// hanging (a server transaction has no timer until its final response).
///
/// ```no_run
/// # async fn f(mut incoming: sip_txn::driver::IncomingRequests) -> Result<(), sip_txn::driver::DriverError> {
/// use sip_txn::driver::Received;
/// while let Some(received) = incoming.recv().await {
///     if let Received::Request(req) = received {
///         req.transaction.reply(200, "OK").await?;
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ServerTransaction {
    key: ServerKey,
    request: Message,
    /// The To tag of every response that adds one (§8.2.6.2: the same in all of them).
    to_tag: Option<Box<str>>,
    driver: Driver,
    final_sent: AtomicBool,
    cancelled: Option<oneshot::Receiver<()>>,
    was_cancelled: bool,
}

impl ServerTransaction {
    pub(crate) fn new(
        key: ServerKey,
        request: Message,
        to_tag: Option<Box<str>>,
        driver: Driver,
        cancelled: Option<oneshot::Receiver<()>>,
    ) -> Self {
        Self {
            key,
            request,
            to_tag,
            driver,
            final_sent: AtomicBool::new(false),
            cancelled,
            was_cancelled: false,
        }
    }

    /// The transaction's key in the layer.
    pub fn key(&self) -> ServerKey {
        self.key
    }

    /// The request being answered.
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// The To tag this transaction adds to its responses (`None` when the request's To already
    /// has one: an in-dialog request).
    pub fn to_tag(&self) -> Option<&str> {
        self.to_tag.as_deref()
    }

    /// A response to the request with the headers RFC 3261 §8.2.6 copies and this
    /// transaction's To tag (none on 100 Trying, §8.2.6.2), to add headers or a body to before
    /// [`respond`](Self::respond).
    pub fn response(&self, code: u16, reason: &str) -> Result<MessageBuilder, DriverError> {
        let tag = self.to_tag.as_deref().filter(|_| code != 100);
        Ok(
            MessageBuilder::response_to(&self.request, code, reason, tag)
                .map_err(crate::Error::from)?,
        )
    }

    /// Sends `response` in this transaction: provisional ones first, then one final one (an
    /// INVITE may repeat its 2xx, RFC 6026 §7.1).
    pub async fn respond(&self, response: Message) -> Result<(), DriverError> {
        let is_final = response.status().is_some_and(|c| c >= 200);
        let (done, result) = oneshot::channel();
        self.driver.command(Command::Respond {
            key: self.key,
            response,
            done,
        })?;
        result.await.map_err(|_| DriverError::Shutdown)??;
        if is_final {
            self.final_sent.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Builds and sends a response with no body: [`response`](Self::response) then
    /// [`respond`](Self::respond).
    pub async fn reply(&self, code: u16, reason: &str) -> Result<(), DriverError> {
        let wire = self
            .response(code, reason)?
            .try_build()
            .map_err(crate::Error::from)?;
        let response = Message::parse(wire).map_err(crate::Error::from)?;
        self.respond(response).await
    }

    /// Resolves when a CANCEL for this INVITE arrived (RFC 3261 §9.2). The driver has then
    /// answered the CANCEL with 200 and, if no final response was sent yet, the INVITE with
    /// 487 Request Terminated. Never resolves for other methods or once the transaction ended
    /// uncancelled. Cancel-safe.
    pub async fn cancelled(&mut self) {
        if self.is_cancelled() {
            return;
        }
        if let Some(rx) = self.cancelled.as_mut() {
            let r = rx.await;
            self.cancelled = None;
            if r.is_ok() {
                self.was_cancelled = true;
                return;
            }
        }
        std::future::pending().await
    }

    /// Whether a CANCEL for this INVITE has arrived (see [`cancelled`](Self::cancelled)).
    pub fn is_cancelled(&mut self) -> bool {
        if let Some(rx) = self.cancelled.as_mut() {
            match rx.try_recv() {
                Ok(()) => {
                    self.was_cancelled = true;
                    self.cancelled = None;
                }
                Err(oneshot::error::TryRecvError::Closed) => self.cancelled = None,
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
        }
        self.was_cancelled
    }
}

impl Drop for ServerTransaction {
    fn drop(&mut self) {
        if !self.final_sent.load(Ordering::Relaxed) {
            // The task answers 500 if the transaction still has no final response.
            let _ = self.driver.command(Command::Abandon { key: self.key });
        }
    }
}

/// What arrives at a [`Driver`], from [`Driver::start`], in the order it arrived: requests,
/// stray ACKs, lost connections, and the final responses of
/// [`Driver::request_in_order`] transactions.
///
/// When this queue is full ([`DriverConfig::incoming_queue`](super::DriverConfig::incoming_queue)) or
/// dropped, new requests are answered `503 Service Unavailable` with the `Retry-After` of
/// [`Limits::retry_after`](crate::Limits::retry_after) (RFC 3261 §21.5.4).
#[derive(Debug)]
pub struct IncomingRequests {
    pub(crate) rx: mpsc::UnboundedReceiver<Received>,
    pub(crate) queued: Arc<AtomicUsize>,
}

impl IncomingRequests {
    /// The next request, stray ACK, lost connection or response; `None` once the driver has
    /// shut down.
    pub async fn recv(&mut self) -> Option<Received> {
        let item = self.rx.recv().await?;
        super::inbox::taken(&self.queued, &item);
        Some(item)
    }

    /// The next one if one is ready.
    pub fn try_recv(&mut self) -> Option<Received> {
        let item = self.rx.try_recv().ok()?;
        super::inbox::taken(&self.queued, &item);
        Some(item)
    }
}
