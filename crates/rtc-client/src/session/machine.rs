//! The sans-IO session core: the INVITE dialogs of both sides (RFC 3261 §13–§15, RFC 6026), fed
//! with `now` and polled for what to send ([`Output`]) and what happened ([`Event`]).
//!
//! It never touches a socket or reads the clock; [`super::driver`] carries its outputs out
//! through the `sip-txn` driver. The transaction layer already does the per-hop part (100
//! Trying, CANCEL answered 200 and the INVITE 487, the Accepted states and timers L and M);
//! this is the UA core above it: the 2xx retransmitted end to end until the ACK, the BYE when
//! none comes, the ACK for every 2xx, CANCEL and BYE asked by the application, and the answer
//! to requests inside (or outside) a dialog.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_parse::{HeaderName, Message, MessageBuilder, Method, TransportKind, Uri};
use sip_txn::dialog::{Dialog, DialogId};
use sip_txn::{AckWait, AckWaitStep, TimerConfig};

use super::SessionEnd;
use crate::{Endpoint, Error, Event, Result};

/// The methods a session peer may send us (RFC 3261 §20.5), for Allow.
const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS";

/// Most invitations ringing at once; more are answered 486 Busy Here at once, so a flood of
/// INVITEs cannot hold memory for the whole expiry time.
pub(crate) const MAX_RINGING: usize = 64;

/// What the core asks its driver to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Output {
    /// A response to the incoming INVITE of session `id`, in its server transaction (180, then
    /// one final response).
    Respond { id: u64, response: Message },
    /// The 2xx of session `id` again, outside the transaction, where the INVITE's responses
    /// go (RFC 3261 §13.3.1.4: end to end, whatever the transport).
    Retransmit { id: u64, response: Message },
    /// A request in a client transaction of its own: session `id`'s INVITE, or a BYE.
    Request { id: u64, request: Message },
    /// The ACK for a 2xx, outside any transaction (§13.2.2.4).
    Ack { id: u64, request: Message },
    /// Cancel the INVITE of session `id` (§9.1; the transaction layer builds the CANCEL).
    Cancel { id: u64 },
}

/// How the application must answer an incoming request with a To tag (§12.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InDialog {
    /// Answer it with this status and reason; the core has done the rest.
    Answer(u16, &'static str),
    /// It belongs to a session's dialog but is not the session's business (MESSAGE, OPTIONS,
    /// INFO, …): handle it as any other request.
    Pass,
}

/// One session.
#[derive(Debug)]
struct Session {
    local: Endpoint,
    /// The transport its requests go over (our Via and Contact).
    transport: TransportKind,
    dialog: Option<Dialog>,
    state: State,
}

#[derive(Debug)]
enum State {
    /// An incoming INVITE waits for the application, until `expires`.
    Ringing {
        invite: Message,
        to_tag: String,
        expires: Instant,
    },
    /// We sent a 2xx: it goes again on `wait`'s schedule until the ACK comes (64·T1 at most).
    Accepted {
        response: Message,
        wait: AckWait,
        /// The application hung up before the ACK: §15 holds the BYE until the ACK (or
        /// `give_up`).
        hang_up: bool,
    },
    /// Our INVITE waits for its final response; `cancelled` once we asked for a CANCEL.
    Calling { invite: Message, cancelled: bool },
    /// The dialog is up. Caller: our INVITE as answered and our ACK, sent again for every
    /// retransmitted 2xx.
    Confirmed { ack: Option<(Message, Message)> },
}

/// Every session of the client, caller and callee, on one clock.
///
/// ```text
/// callee: incoming → Ringing ─accept→ Accepted ─ACK→ Confirmed ─BYE either way→ ended
///                       │ └decline 603, CANCEL (487 by the txn), expiry 480   └64·T1: BYE
/// caller: invite → Calling ─2xx: ACK→ Confirmed ─BYE either way→ ended
///                     └cancel: CANCEL; non-2xx: failed (487 after a cancel: ended)
/// ```
#[derive(Debug)]
pub(crate) struct Sessions {
    timers: TimerConfig,
    /// How long an incoming INVITE waits for the application before 480.
    expiry: Duration,
    sessions: BTreeMap<u64, Session>,
    next_id: u64,
    outputs: VecDeque<Output>,
    events: VecDeque<Event>,
}

impl Sessions {
    /// No session yet; T1/T2 from `timers`, unanswered invitations end after `expiry`.
    pub(crate) fn new(timers: TimerConfig, expiry: Duration) -> Self {
        Self {
            timers,
            expiry,
            sessions: BTreeMap::new(),
            next_id: 0,
            outputs: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// An INVITE arrived outside any dialog, and its server transaction tags responses with
    /// `to_tag`: it rings (180) and waits for [`accept`](Self::accept) or
    /// [`decline`](Self::decline), at most the configured expiry. Returns the session id
    /// (whose responses go to this INVITE's transaction); an INVITE that requires an
    /// extension is answered 420, and with [`MAX_RINGING`] ringing already 486, and no session
    /// is kept.
    pub(crate) fn incoming(
        &mut self,
        now: Instant,
        invite: Message,
        to_tag: &str,
        local: Endpoint,
        transport: TransportKind,
    ) -> Result<u64> {
        // RFC 3261 §8.2.2.3: we support no extension (100rel, timer, …) a caller may require.
        if invite.header(HeaderName::Require).is_some() {
            let required: Vec<&str> = invite
                .tokens(HeaderName::Require)
                .filter_map(|t| t.ok())
                .collect();
            let response =
                MessageBuilder::response_to(&invite, 420, "Bad Extension", Some(to_tag))?
                    .header("Unsupported", &required.join(", "))?
                    .try_build()?;
            let id = self.new_id();
            self.outputs.push_back(Output::Respond {
                id,
                response: Message::parse(response)?,
            });
            return Ok(id);
        }
        let busy = self
            .sessions
            .values()
            .filter(|s| matches!(s.state, State::Ringing { .. }))
            .count()
            >= MAX_RINGING;
        if busy {
            let response = MessageBuilder::response_to(&invite, 486, "Busy Here", Some(to_tag))?
                .try_build()?;
            let id = self.new_id();
            self.outputs.push_back(Output::Respond {
                id,
                response: Message::parse(response)?,
            });
            return Ok(id);
        }
        let ringing = MessageBuilder::response_to(&invite, 180, "Ringing", Some(to_tag))?
            .header("Contact", &format!("<{}>", local.contact(transport)?))?
            .try_build()?;
        let id = self.new_id();
        self.outputs.push_back(Output::Respond {
            id,
            response: Message::parse(ringing)?,
        });
        let from = invite
            .from_header()
            .map(|f| f.uri_str().to_owned())
            .unwrap_or_default();
        self.events.push_back(Event::Invite {
            id,
            from,
            sdp: sdp_of(&invite),
        });
        self.sessions.insert(
            id,
            Session {
                local,
                transport,
                dialog: None,
                state: State::Ringing {
                    invite,
                    to_tag: to_tag.to_owned(),
                    expires: now + self.expiry,
                },
            },
        );
        Ok(id)
    }

    /// Accepts the ringing session `id` with `sdp` as the answer (`None`: every offered stream
    /// declined): 200 OK, then retransmitted from T1 doubling to T2 until the ACK (RFC 3261
    /// §13.3.1.4).
    pub(crate) fn accept(&mut self, now: Instant, id: u64, sdp: Option<Bytes>) -> Result<()> {
        let wait = AckWait::new(now, &self.timers);
        let s = self.ringing(id)?;
        let State::Ringing { invite, to_tag, .. } = &s.state else {
            return Err(Error::UnknownInvite(id));
        };
        let mut b = MessageBuilder::response_to(invite, 200, "OK", Some(to_tag))?
            .header("Contact", &format!("<{}>", s.local.contact(s.transport)?))?
            .header("Allow", ALLOW)?;
        if let Some(sdp) = sdp.or_else(|| decline_all_media(invite.body())) {
            b = b.body("application/sdp", sdp)?;
        }
        let response = Message::parse(b.try_build()?)?;
        s.dialog = Some(Dialog::uas(invite, to_tag)?);
        s.state = State::Accepted {
            response: response.clone(),
            wait,
            hang_up: false,
        };
        self.outputs.push_back(Output::Respond { id, response });
        Ok(())
    }

    /// Declines the ringing session `id`: 603 Decline.
    pub(crate) fn decline(&mut self, id: u64) -> Result<()> {
        self.ringing(id)?;
        self.end_ringing(id, 603, "Decline");
        Ok(())
    }

    fn ringing(&mut self, id: u64) -> Result<&mut Session> {
        self.sessions
            .get_mut(&id)
            .filter(|s| matches!(s.state, State::Ringing { .. }))
            .ok_or(Error::UnknownInvite(id))
    }

    /// Answers a ringing session with a final non-2xx and forgets it.
    fn end_ringing(&mut self, id: u64, code: u16, reason: &str) {
        let Some(Session {
            state: State::Ringing { invite, to_tag, .. },
            ..
        }) = self.sessions.remove(&id)
        else {
            return;
        };
        match MessageBuilder::response_to(&invite, code, reason, Some(&to_tag))
            .and_then(MessageBuilder::try_build)
            .and_then(Message::parse)
        {
            Ok(response) => self.outputs.push_back(Output::Respond { id, response }),
            Err(e) => tracing::warn!("session {id}: cannot build {code}: {e}"),
        }
    }

    /// A CANCEL for session `id`'s INVITE arrived before its server transaction sent our
    /// final response: the transaction layer has answered the CANCEL and the INVITE (487,
    /// §9.2), so the session ends, ringing or accepted a moment too late (its 2xx never left).
    pub(crate) fn cancelled(&mut self, id: u64) {
        let unconfirmed = self
            .sessions
            .get(&id)
            .is_some_and(|s| matches!(s.state, State::Ringing { .. } | State::Accepted { .. }));
        if unconfirmed {
            self.sessions.remove(&id);
            self.events.push_back(Event::InviteCancelled { id });
        }
    }

    /// An ACK no transaction absorbed: true when it is the ACK for one of our 2xx (its
    /// retransmissions stop) or a copy of one already seen.
    pub(crate) fn ack(&mut self, now: Instant, ack: &Message) -> bool {
        let Some((&id, s)) = self.session_of(ack) else {
            return false;
        };
        match s.state {
            State::Accepted { hang_up, .. } => {
                s.state = State::Confirmed { ack: None };
                self.events.push_back(Event::SessionConfirmed { id });
                if hang_up {
                    self.bye(now, id, SessionEnd::HungUp);
                }
            }
            State::Confirmed { .. } => {}
            State::Ringing { .. } | State::Calling { .. } => return false,
        }
        true
    }

    /// The session whose dialog `request` (received) belongs to.
    fn session_of(&mut self, request: &Message) -> Option<(&u64, &mut Session)> {
        let id = DialogId::of_incoming_request(request).ok()?;
        self.sessions
            .iter_mut()
            .find(|(_, s)| s.dialog.as_ref().is_some_and(|d| *d.id() == id))
    }

    /// Calls `to` (a SIP URI) from `from` (a name-addr without tag) offering `sdp`. Returns
    /// the session id; the INVITE is the next [`Output::Request`].
    #[allow(clippy::too_many_arguments)] // reason: the identity of the caller, in pieces
    pub(crate) fn invite(
        &mut self,
        to: &str,
        from: &str,
        local: Endpoint,
        transport: TransportKind,
        sdp: Option<Bytes>,
        user_agent: &str,
    ) -> Result<u64> {
        if !matches!(Uri::parse(to), Ok(Uri::Sip(_))) {
            return Err(Error::InvalidUri(to.to_owned()));
        }
        let mut b = MessageBuilder::request(Method::Invite, to)
            .header("Via", &local.via(transport)?)?
            .header("Max-Forwards", "70")?
            .header("From", &format!("{from};tag={}", sip_txn::new_tag()?))?
            .header("To", &format!("<{to}>"))?
            .header(
                "Call-ID",
                &format!("{}@{}", sip_txn::new_tag()?, local.host()),
            )?
            .header("CSeq", "1 INVITE")?
            .header("Contact", &format!("<{}>", local.contact(transport)?))?
            .header("Allow", ALLOW)?
            .header("User-Agent", user_agent)?;
        if let Some(sdp) = sdp {
            b = b.body("application/sdp", sdp)?;
        }
        let invite = Message::parse(b.try_build()?)?;
        let id = self.new_id();
        self.outputs.push_back(Output::Request {
            id,
            request: invite.clone(),
        });
        self.sessions.insert(
            id,
            Session {
                local,
                transport,
                dialog: None,
                state: State::Calling {
                    invite,
                    cancelled: false,
                },
            },
        );
        Ok(id)
    }

    /// The INVITE of calling session `id` as last sent, to answer a challenge to it; `None`
    /// once the call is answered or cancelled.
    pub(crate) fn challenged_invite(&self, id: u64) -> Option<&Message> {
        match &self.sessions.get(&id)?.state {
            State::Calling {
                invite,
                cancelled: false,
            } => Some(invite),
            _ => None,
        }
    }

    /// Whether session `id` is still alive.
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.sessions.contains_key(&id)
    }

    /// Session `id`'s INVITE went again as `invite` (with credentials, RFC 3261 §22.2): the
    /// dialog it makes starts from this one's CSeq.
    pub(crate) fn resubmitted(&mut self, id: u64, invite: Message) {
        if let Some(Session {
            state: State::Calling { invite: kept, .. },
            ..
        }) = self.sessions.get_mut(&id)
        {
            *kept = invite;
        }
    }

    /// A response to session `id`'s INVITE: provisional ones are reported; every 2xx is
    /// ACKed (§13.2.2.4: retransmitted ones again, forked ones too, which are then hung up);
    /// the first final one answers or fails the call.
    pub(crate) fn response(&mut self, now: Instant, id: u64, response: &Message) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        let status = response.status().unwrap_or_default();
        let reason = response.reason().unwrap_or_default().to_owned();
        match (&mut s.state, status) {
            (State::Calling { .. }, 100) => {}
            (
                State::Calling {
                    cancelled: false, ..
                },
                101..=199,
            ) => {
                self.events
                    .push_back(Event::SessionProgress { id, status, reason });
            }
            (State::Calling { invite, cancelled }, 200..=299) => {
                let cancelled = *cancelled;
                let made = Dialog::uac(invite, response)
                    .map_err(Error::from)
                    .and_then(|d| Ok((ack_for(&d, &s.local, s.transport, response)?, d)));
                match made {
                    Ok((ack, dialog)) => {
                        s.dialog = Some(dialog);
                        s.state = State::Confirmed {
                            ack: Some((invite.clone(), ack.clone())),
                        };
                        self.outputs.push_back(Output::Ack { id, request: ack });
                        if cancelled {
                            // §9.1: the CANCEL lost the race; the call is ended by BYE.
                            self.bye(now, id, SessionEnd::Cancelled);
                        } else {
                            self.events.push_back(Event::SessionAnswered {
                                id,
                                sdp: sdp_of(response),
                            });
                        }
                    }
                    Err(e) => {
                        tracing::warn!("session {id}: unusable 2xx: {e}");
                        self.sessions.remove(&id);
                        self.events.push_back(Event::SessionFailed {
                            id,
                            status,
                            reason: format!("{reason} (unusable answer: {e})"),
                        });
                    }
                }
            }
            (State::Calling { cancelled, .. }, 300..) => {
                let cancelled = *cancelled;
                self.call_over(id, cancelled, status, reason);
            }
            (
                State::Confirmed {
                    ack: Some((invite, ack)),
                },
                200..=299,
            ) => {
                let same = s
                    .dialog
                    .as_ref()
                    .is_some_and(|d| DialogId::of_response(response).is_ok_and(|r| r == *d.id()));
                if same {
                    let request = ack.clone();
                    self.outputs.push_back(Output::Ack { id, request });
                } else {
                    // §13.2.2.4: a 2xx from another fork: ACK it, then end that dialog.
                    let forked =
                        Dialog::uac(invite, response)
                            .map_err(Error::from)
                            .and_then(|mut d| {
                                let ack = ack_for(&d, &s.local, s.transport, response)?;
                                let via = s.local.via(s.transport)?;
                                let bye =
                                    Message::parse(d.request(Method::Bye, &via)?.try_build()?)?;
                                Ok((ack, bye))
                            });
                    match forked {
                        Ok((ack, bye)) => {
                            self.outputs.push_back(Output::Ack { id, request: ack });
                            self.outputs.push_back(Output::Request { id, request: bye });
                        }
                        Err(e) => tracing::debug!("session {id}: unusable forked 2xx: {e}"),
                    }
                }
            }
            _ => {}
        }
    }

    /// Our call `id` ended before it was answered, with `status`: cancelled by us, or failed.
    fn call_over(&mut self, id: u64, cancelled: bool, status: u16, reason: String) {
        self.sessions.remove(&id);
        self.events.push_back(if cancelled {
            Event::SessionEnded {
                id,
                reason: SessionEnd::Cancelled,
            }
        } else {
            Event::SessionFailed { id, status, reason }
        });
    }

    /// Session `id`'s INVITE got no final response: `status` stands for why (408 for a
    /// timeout, 503 for a transport failure, RFC 3261 §8.1.3.1).
    pub(crate) fn invite_failed(&mut self, id: u64, status: u16, reason: String) {
        if let Some(Session {
            state: State::Calling { cancelled, .. },
            ..
        }) = self.sessions.get(&id)
        {
            let cancelled = *cancelled;
            self.call_over(id, cancelled, status, reason);
        }
    }

    /// Cancels our call `id` before it is answered (§9.1). It ends when the INVITE's final
    /// response comes (usually 487).
    pub(crate) fn cancel(&mut self, id: u64) -> Result<()> {
        match self.sessions.get_mut(&id).map(|s| &mut s.state) {
            Some(State::Calling { cancelled, .. }) => {
                if !*cancelled {
                    *cancelled = true;
                    self.outputs.push_back(Output::Cancel { id });
                }
                Ok(())
            }
            Some(_) => Err(Error::SessionState {
                id,
                what: "not a call waiting for an answer (hang up instead)",
            }),
            None => Err(Error::UnknownSession(id)),
        }
    }

    /// Ends session `id`, answered either way, with BYE (§15.1.1). A callee whose 2xx is not
    /// ACKed yet sends it once the ACK comes or the wait for it ends (§15).
    pub(crate) fn hang_up(&mut self, now: Instant, id: u64) -> Result<()> {
        match self.sessions.get_mut(&id).map(|s| &mut s.state) {
            Some(State::Accepted { hang_up, .. }) => {
                *hang_up = true;
                Ok(())
            }
            Some(State::Confirmed { .. }) => {
                self.bye(now, id, SessionEnd::HungUp);
                Ok(())
            }
            Some(_) => Err(Error::SessionState {
                id,
                what: "not answered yet (cancel or decline instead)",
            }),
            None => Err(Error::UnknownSession(id)),
        }
    }

    /// Ends session `id` whatever its state, as logging off does: a ringing invitation is
    /// answered 480, our call waiting for its answer is cancelled, an answered one hung up (a
    /// callee's BYE waiting for the ACK, §15).
    pub(crate) fn end(&mut self, now: Instant, id: u64) {
        let Some(s) = self.sessions.get(&id) else {
            return;
        };
        match s.state {
            State::Ringing { .. } => {
                self.end_ringing(id, 480, "Temporarily Unavailable");
                self.events.push_back(Event::SessionEnded {
                    id,
                    reason: SessionEnd::HungUp,
                });
            }
            State::Calling { .. } => {
                let _ = self.cancel(id);
            }
            State::Accepted { .. } | State::Confirmed { .. } => {
                let _ = self.hang_up(now, id);
            }
        }
    }

    /// Sends BYE in session `id`'s dialog, forgets the session and reports its end.
    fn bye(&mut self, _now: Instant, id: u64, reason: SessionEnd) {
        let Some(mut s) = self.sessions.remove(&id) else {
            return;
        };
        let bye = s.dialog.as_mut().map(|d| {
            let via = s.local.via(s.transport)?;
            Ok::<_, Error>(Message::parse(d.request(Method::Bye, &via)?.try_build()?)?)
        });
        match bye {
            Some(Ok(request)) => self.outputs.push_back(Output::Request { id, request }),
            Some(Err(e)) => tracing::warn!("session {id}: cannot build BYE: {e}"),
            None => {}
        }
        self.events.push_back(Event::SessionEnded { id, reason });
    }

    /// A request with a To tag other than ACK, CANCEL, SUBSCRIBE and NOTIFY: in a session's
    /// dialog, BYE ends it (200), a re-INVITE is refused (488: signalling only, nothing to
    /// renegotiate); outside any dialog, 481 (§12.2.2).
    pub(crate) fn in_dialog(&mut self, request: &Message) -> InDialog {
        let Some((&id, s)) = self.session_of(request) else {
            return InDialog::Answer(481, "Call/Transaction Does Not Exist");
        };
        let Some(dialog) = s.dialog.as_mut() else {
            return InDialog::Answer(481, "Call/Transaction Does Not Exist");
        };
        if let Err(e) = dialog.check_request(request) {
            tracing::debug!("session {id}: {e}");
            // §12.2.2: a lower CSeq is out of order.
            return InDialog::Answer(500, "CSeq Out of Order");
        }
        match request.method() {
            Some(Method::Bye) => {
                self.sessions.remove(&id);
                self.events.push_back(Event::SessionEnded {
                    id,
                    reason: SessionEnd::PeerHungUp,
                });
                InDialog::Answer(200, "OK")
            }
            Some(Method::Invite) => InDialog::Answer(488, "Not Acceptable Here"),
            _ => InDialog::Pass,
        }
    }

    /// Runs what is due at `now`: 2xx retransmissions and the BYE after 64·T1 with no ACK
    /// (on [`AckWait`]'s schedule), invitations expired (480).
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let mut expired = Vec::new();
        let mut unacked = Vec::new();
        for (&id, s) in &mut self.sessions {
            match &mut s.state {
                State::Ringing { expires, .. } if *expires <= now => expired.push(id),
                State::Accepted { response, wait, .. } => match wait.handle_timeout(now) {
                    AckWaitStep::Retransmit => self.outputs.push_back(Output::Retransmit {
                        id,
                        response: response.clone(),
                    }),
                    AckWaitStep::GiveUp => unacked.push(id),
                    AckWaitStep::Wait => {}
                },
                _ => {}
            }
        }
        for id in expired {
            // RFC 3261 §21.4.18: nobody answered in time.
            self.end_ringing(id, 480, "Temporarily Unavailable");
            self.events.push_back(Event::SessionEnded {
                id,
                reason: SessionEnd::Expired,
            });
        }
        for id in unacked {
            // §13.3.1.4: no ACK in 64·T1: the dialog is confirmed and ended at once.
            self.bye(now, id, SessionEnd::NoAck);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next run, if ever.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(|s| match &s.state {
                State::Ringing { expires, .. } => Some(*expires),
                State::Accepted { wait, .. } => Some(wait.poll_timeout()),
                State::Calling { .. } | State::Confirmed { .. } => None,
            })
            .min()
    }

    /// The next thing to send.
    pub(crate) fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The next event for the application.
    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

/// The ACK for `response`, a 2xx to our INVITE: in the dialog, with the CSeq number of the
/// INVITE it answers (which may be a resubmission, §13.2.2.4).
fn ack_for(
    dialog: &Dialog,
    local: &Endpoint,
    transport: TransportKind,
    response: &Message,
) -> Result<Message> {
    let seq = response.cseq()?.seq;
    let via = local.via(transport)?;
    Ok(Message::parse(dialog.ack(seq, &via)?.try_build()?)?)
}

/// The SDP body of `message`, if it has one.
fn sdp_of(message: &Message) -> Option<Bytes> {
    let is_sdp = message
        .header_str(sip_parse::HeaderName::ContentType)
        .is_some_and(|t| {
            t.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/sdp"))
        });
    (is_sdp && !message.body().is_empty()).then(|| message.body_bytes())
}

/// An SDP answer declining every offered stream (RFC 3264 §6: port zero), for an application
/// that accepts a session for signalling only. `None` when there was no offer.
fn decline_all_media(offer: &[u8]) -> Option<Bytes> {
    let offer = std::str::from_utf8(offer).ok()?;
    if !offer.starts_with("v=") {
        return None;
    }
    let mut answer =
        String::from("v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n");
    for line in offer.lines().filter(|l| l.starts_with("m=")) {
        // m=<media> <port> <proto> <fmt> ...: the same media, proto and first format, port 0.
        let mut parts = line[2..].split_ascii_whitespace();
        let (Some(media), Some(_port), Some(proto), Some(fmt)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        answer.push_str(&format!("m={media} 0 {proto} {fmt}\r\n"));
    }
    Some(Bytes::from(answer))
}
