//! Publishing our presence to a presence server (RFC 3903): the event publication agent.
//!
//! [`Publisher`] is a sans-IO core with the same shape as the others: commands
//! ([`Publisher::publish`], [`Publisher::remove`]), PUBLISH requests out of
//! [`Publisher::poll_request`], their outcome in through [`Publisher::handle_response`] or
//! [`Publisher::handle_failure`], events from [`Publisher::poll_event`], and
//! [`Publisher::handle_timeout`] at [`Publisher::poll_timeout`]. **After every input or
//! command, drain every `poll_*`.**
//!
//! It keeps the server in step with the wanted state: an initial PUBLISH with the body, a
//! refresh with `SIP-If-Match` and no body before the entity-tag expires, a modify with
//! `SIP-If-Match` and the new body, a removal with `Expires: 0`; a 412 (the server lost the
//! entity-tag) publishes afresh, a 423 raises Expires to Min-Expires, other failures retry with
//! backoff. Only one PUBLISH is in flight at a time (RFC 3903 §4); what changes meanwhile is
//! sent when it is answered.
//!
//! ```
//! use presence::publisher::{Publisher, PublisherConfig};
//! use presence::testkit::{epoch, identity};
//! use presence::{LocalPresence, MediaKind, Status};
//!
//! let now = epoch();
//! let mut core = Publisher::new(identity("alice"), PublisherConfig::default());
//! let (content_type, body) = LocalPresence::new(Status::Away, None)
//!     .to_body("sip:alice@example.com", MediaKind::Pidf);
//! core.publish(now, content_type, body);
//! let publish = core.poll_request().expect("the initial PUBLISH");
//! assert_eq!(publish.message.method(), Some(sip_parse::Method::Publish));
//! assert!(publish.message.header_str(sip_parse::HeaderName::SipIfMatch).is_none());
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_parse::{Message, MessageBuilder, Method, ParseConfig};

use crate::local::LocalIdentity;
use crate::request::Handles;
use crate::{Backoff, Failure, OutgoingRequest, RequestHandle, Result};

/// Settings of a [`Publisher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherConfig {
    /// The Expires asked for, in seconds.
    pub expires: u32,
    /// Refresh this long before the entity-tag expires, but not before half its life.
    pub refresh_margin: Duration,
    /// Waits between retries after failures.
    pub backoff: Backoff,
    /// The message limits of the server, the same as our own parser's: no PUBLISH is built
    /// larger than `parse.max_message_size` (default 64 KiB); [`Publisher::check`] tells
    /// beforehand whether a document fits.
    pub parse: ParseConfig,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        Self {
            expires: 3600,
            refresh_margin: Duration::from_secs(300),
            backoff: Backoff::default(),
            parse: ParseConfig::default(),
        }
    }
}

/// What happened, from [`Publisher::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublisherEvent {
    /// The server holds our current document until `expires_at` (refreshed before).
    Published {
        /// When the publication expires unless refreshed.
        expires_at: Instant,
    },
    /// The publication is removed (or there was none to remove).
    Removed,
    /// A PUBLISH failed; it is tried again at `retry_at`.
    Failed {
        /// How it failed.
        failure: Failure,
        /// When the next attempt goes out.
        retry_at: Instant,
    },
}

/// Which kind of PUBLISH (RFC 3903 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Initial,
    Refresh,
    Modify,
    Remove,
}

/// The sans-IO publication agent (module docs above).
#[derive(Debug)]
pub struct Publisher {
    local: LocalIdentity,
    config: PublisherConfig,
    call_id: Option<String>,
    tag: Option<String>,
    cseq: u32,
    /// The document the server should hold (`None`: none).
    document: Option<(Box<str>, Bytes)>,
    /// The entity-tag of our publication at the server, and when it expires.
    etag: Option<(String, Instant)>,
    /// The server holds `document` as it is now.
    current: bool,
    /// The PUBLISH in flight carries `document` as it is now.
    current_sent: bool,
    /// Expires asked for (raised by a 423).
    expires: u32,
    in_flight: Option<(RequestHandle, Kind)>,
    /// Set when the deadline fires: refresh (or retry) now.
    due: bool,
    deadline: Option<Instant>,
    failures: u32,
    handles: Handles,
    out: VecDeque<OutgoingRequest>,
    events: VecDeque<PublisherEvent>,
}

impl Publisher {
    /// A publisher for `local`'s address-of-record, with nothing published.
    pub fn new(local: LocalIdentity, config: PublisherConfig) -> Self {
        let expires = config.expires;
        Self {
            local,
            config,
            call_id: None,
            tag: None,
            cseq: 0,
            document: None,
            etag: None,
            current: false,
            current_sent: false,
            expires,
            in_flight: None,
            due: false,
            deadline: None,
            failures: 0,
            handles: Handles::default(),
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Publishes `body` (initially, or as a modify of the publication standing).
    pub fn publish(&mut self, now: Instant, content_type: &str, body: Bytes) {
        self.document = Some((content_type.into(), body));
        self.current = false;
        self.current_sent = false;
        self.kick(now);
    }

    /// Whether a PUBLISH of `body` fits the message limit ([`PublisherConfig::parse`]):
    /// [`Error::MessageTooLarge`](crate::Error::MessageTooLarge) if not. Nothing is sent or
    /// changed; an application checks a document here before it replaces the one shown.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use presence::publisher::{Publisher, PublisherConfig};
    /// use presence::testkit::identity;
    ///
    /// let mut config = PublisherConfig::default();
    /// config.parse.max_message_size = 2048;
    /// let mut core = Publisher::new(identity("alice"), config);
    /// assert!(core.check("application/pidf+xml", Bytes::from(vec![b'x'; 100])).is_ok());
    /// let err = core.check("application/pidf+xml", Bytes::from(vec![b'x'; 4096])).unwrap_err();
    /// assert!(err.to_string().contains("over the 2048-byte message limit"), "{err}");
    /// assert!(core.poll_request().is_none());
    /// ```
    pub fn check(&mut self, content_type: &str, body: Bytes) -> Result<()> {
        let kind = if self.etag.is_some() {
            Kind::Modify
        } else {
            Kind::Initial
        };
        let document = self.document.replace((content_type.into(), body));
        let cseq = self.cseq;
        let built = self.build(kind);
        self.cseq = cseq;
        self.document = document;
        built.map(drop)
    }

    /// Removes the publication (`Expires: 0`).
    pub fn remove(&mut self, now: Instant) {
        self.document = None;
        self.current = false;
        if self.etag.is_none() && self.in_flight.is_none() {
            self.events.push_back(PublisherEvent::Removed);
            return;
        }
        self.kick(now);
    }

    /// The entity-tag the server gave our publication, while it stands.
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_ref().map(|(e, _)| e.as_str())
    }

    /// The next PUBLISH to send.
    pub fn poll_request(&mut self) -> Option<OutgoingRequest> {
        self.out.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<PublisherEvent> {
        self.events.pop_front()
    }

    /// When [`Publisher::handle_timeout`] is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Refreshes, or retries after a failure, when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| d <= now) {
            self.deadline = None;
            self.due = true;
            self.kick(now);
        }
    }

    /// The final response to the PUBLISH `handle`.
    pub fn handle_response(&mut self, now: Instant, handle: RequestHandle, response: &Message) {
        let Some(code) = response.status().filter(|c| *c >= 200) else {
            return;
        };
        let Some((h, kind)) = self.in_flight else {
            return;
        };
        if h != handle {
            return;
        }
        self.in_flight = None;
        match code {
            200..=299 => self.succeeded(now, kind, response),
            412 => {
                // RFC 3903 §4.1.2 / §6: the entity-tag is unknown to the server; publish afresh
                // with the full body (or, removing, there is nothing left to remove).
                self.etag = None;
                self.current = false;
                if kind == Kind::Remove {
                    self.events.push_back(PublisherEvent::Removed);
                }
                self.kick(now);
            }
            423 => match response.min_expires() {
                // RFC 3903 §6 step 4: ask again with at least Min-Expires.
                Some(Ok(min)) if min > self.expires => {
                    self.expires = min;
                    self.due = kind == Kind::Refresh;
                    self.kick(now);
                }
                _ => self.failed(now, Failure::Status(code)),
            },
            _ => self.failed(now, Failure::Status(code)),
        }
    }

    /// A new CSeq number for sending the PUBLISH `handle` again with credentials after a 401
    /// or 407 (RFC 3261 §22.2), from the one sequence of our publication's Call-ID
    /// (§8.1.1.5), which this call advances: every PUBLISH, resubmissions included, has a
    /// number of its own (RFC 3903 §4). Resend under the same handle; `None` when `handle` is
    /// not the PUBLISH in flight (do not resend then).
    ///
    /// ```
    /// use presence::publisher::{Publisher, PublisherConfig};
    /// use presence::testkit::{epoch, identity};
    /// let mut core = Publisher::new(identity("alice"), PublisherConfig::default());
    /// core.publish(epoch(), "application/pidf+xml", bytes::Bytes::from_static(b"<presence/>"));
    /// let publish = core.poll_request().expect("the PUBLISH");
    /// assert_eq!(publish.message.cseq()?.seq, 1);
    /// assert_eq!(core.next_cseq(publish.handle), Some(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_cseq(&mut self, handle: RequestHandle) -> Option<u32> {
        let (h, _) = self.in_flight?;
        if h != handle {
            return None;
        }
        self.cseq = self.cseq.wrapping_add(1);
        Some(self.cseq)
    }

    /// The PUBLISH `handle` got no response (timeout or transport error).
    pub fn handle_failure(&mut self, now: Instant, handle: RequestHandle) {
        if let Some((h, _)) = self.in_flight
            && h == handle
        {
            self.in_flight = None;
            self.failed(now, Failure::NoResponse);
        }
    }

    fn succeeded(&mut self, now: Instant, kind: Kind, response: &Message) {
        self.failures = 0;
        if kind == Kind::Remove {
            self.etag = None;
            self.deadline = None;
            if self.document.is_none() {
                self.events.push_back(PublisherEvent::Removed);
            }
            self.kick(now);
            return;
        }
        // RFC 3903 §11.3: the 2xx carries the entity-tag and the granted Expires.
        let granted = match response.expires() {
            Some(Ok(e)) => e,
            _ => self.expires,
        };
        let expires_at = now + Duration::from_secs(granted.max(1).into());
        match response.sip_etag() {
            Some(Ok(etag)) => self.etag = Some((etag.to_owned(), expires_at)),
            // No entity-tag: nothing to refresh with; the next PUBLISH is an initial one.
            _ => self.etag = None,
        }
        if matches!(kind, Kind::Initial | Kind::Modify) {
            // The body sent is current unless publish() replaced it meanwhile.
            self.current = self.current_sent;
        }
        let left = expires_at.saturating_duration_since(now);
        self.deadline = Some(expires_at - self.config.refresh_margin.min(left / 2));
        self.events
            .push_back(PublisherEvent::Published { expires_at });
        self.kick(now);
    }

    fn failed(&mut self, now: Instant, failure: Failure) {
        self.failures += 1;
        let retry_at = now + self.config.backoff.delay(self.failures, 0);
        self.deadline = Some(retry_at);
        self.events
            .push_back(PublisherEvent::Failed { failure, retry_at });
    }

    /// Sends what brings the server in step, if nothing is in flight and no retry waits.
    fn kick(&mut self, now: Instant) {
        if self.in_flight.is_some() {
            return;
        }
        if let Some((_, expires_at)) = &self.etag
            && *expires_at <= now
        {
            self.etag = None; // expired at the server
        }
        let waiting = self.deadline.is_some_and(|d| d > now) && self.failures > 0;
        if waiting {
            return;
        }
        let kind = match (&self.document, &self.etag) {
            (None, Some(_)) => Kind::Remove,
            (Some(_), None) => Kind::Initial,
            (Some(_), Some(_)) if !self.current => Kind::Modify,
            (Some(_), Some(_)) if self.due => Kind::Refresh,
            _ => return,
        };
        self.due = false;
        match self.build(kind) {
            Ok(message) => {
                let handle = self.handles.next();
                self.in_flight = Some((handle, kind));
                self.current_sent = matches!(kind, Kind::Initial | Kind::Modify);
                self.out.push_back(OutgoingRequest { handle, message });
            }
            // A document too large to send will not fit on a retry either: the server keeps
            // the one it has (refreshed as usual); [`Publisher::check`] tells beforehand.
            Err(crate::Error::MessageTooLarge { .. }) => self.current = true,
            Err(_) => self.failed(now, Failure::NoResponse),
        }
    }

    fn build(&mut self, kind: Kind) -> Result<Message> {
        if self.call_id.is_none() {
            self.call_id = Some(self.local.new_call_id()?);
            self.tag = Some(sip_txn::new_tag()?);
        }
        self.cseq = self.cseq.wrapping_add(1);
        let aor = self.local.aor();
        let expires = if kind == Kind::Remove {
            0
        } else {
            self.expires
        };
        let mut b = MessageBuilder::request(Method::Publish, aor)
            .header("Via", &self.local.via()?)?
            .header("Max-Forwards", "70")?
            .header("To", &format!("<{aor}>"))?
            .header(
                "From",
                &self.local.header_from(self.tag.as_deref().unwrap_or("")),
            )?
            .header("Call-ID", self.call_id.as_deref().unwrap_or(""))?
            .header("CSeq", &format!("{} PUBLISH", self.cseq))?
            .header("Event", "presence")?
            .header("Expires", &expires.to_string())?;
        if kind != Kind::Initial
            && let Some((etag, _)) = &self.etag
        {
            b = b.header("SIP-If-Match", etag)?;
        }
        if matches!(kind, Kind::Initial | Kind::Modify)
            && let Some((content_type, body)) = &self.document
        {
            b = b.body(content_type, body.clone())?;
        }
        let bytes = b.try_build()?;
        let limit = self.config.parse.max_message_size;
        if bytes.len() > limit {
            return Err(crate::Error::MessageTooLarge {
                method: "PUBLISH",
                size: bytes.len(),
                limit,
            });
        }
        Ok(Message::parse_with(bytes, &self.config.parse)?)
    }
}
