//! The transaction layer: every transaction of an endpoint, matched, timed and polled.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::mem::size_of;
use std::time::Instant;

use sip_parse::{Message, MessageBuilder, Method, ParseError, TopVia};

use crate::client_invite::{self, ClientInvite};
use crate::client_non_invite::{self, ClientNonInvite};
use crate::matching::{client_key, read_top_via, response_key, server_key, top_via};
use crate::server_invite::{AckOutcome, ServerInvite};
use crate::server_non_invite::ServerNonInvite;
use crate::slab::Slab;
use crate::transaction::{Core, Ctx, Kind, Queues, Step, TimerEntry, Transaction};
use crate::{
    ClientKey, Error, Event, Limits, Result, ServerKey, Target, TerminationReason, TimerConfig,
    TransactionKey, Transmit,
};

/// All client and server transactions of one endpoint (RFC 3261 §17), sans IO.
///
/// Inputs carry the current time: [`handle_message`](Self::handle_message),
/// [`handle_timeout`](Self::handle_timeout), [`handle_transport_error`](Self::handle_transport_error);
/// so do the commands [`send_request`](Self::send_request), [`cancel`](Self::cancel) and
/// [`send_response`](Self::send_response). The layer never reads a clock nor touches a socket.
///
/// **After every input or command, drain every `poll_*`:** [`poll_transmit`](Self::poll_transmit)
/// until `None` (send each), [`poll_event`](Self::poll_event) until `None` (act on each), then
/// [`poll_timeout`](Self::poll_timeout) (arm one timer for it; when it fires, call
/// `handle_timeout`). Outputs queue up until polled.
///
/// Transactions live in a slab whose ids carry a generation, so a key or timer of a transaction
/// that ended is recognised in O(1); a message finds its transaction by one hash lookup (the
/// §17.1.3/§17.2.3 key), and timers sit in one binary heap whose cancelled entries are purged
/// once they outnumber the live ones. 100,000 concurrent transactions cost a few hundred bytes
/// each ([`state_size`](Self::state_size)) beside the messages they hold, and the table never
/// holds more slots than the peak number of live transactions.
#[derive(Debug)]
pub struct TransactionLayer {
    config: TimerConfig,
    limits: Limits,
    /// Live server and client transactions.
    servers: usize,
    clients: usize,
    /// Requests answered 503 over [`Limits::max_server`].
    overloaded: u64,
    txns: Slab<Transaction>,
    client_index: HashMap<Box<str>, u64>,
    server_index: HashMap<Box<str>, u64>,
    q: Queues,
}

/// Sizes of a layer's internal tables ([`TransactionLayer::footprint`]); not a stable API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// Live transactions.
    pub live: usize,
    /// Slots of the transaction table, vacant or not (at most the peak of `live`).
    pub table_slots: usize,
    /// Entries the two match indexes have room for.
    pub index_capacity: usize,
    /// Timer-heap entries, armed or cancelled (at most `4 * live + 1024` after each input).
    pub timer_entries: usize,
    /// Live server transactions (at most [`Limits::max_server`]).
    pub servers: usize,
    /// Requests answered 503 because [`Limits::max_server`] was reached.
    pub overloaded: u64,
}

impl Default for TransactionLayer {
    fn default() -> Self {
        Self::new(TimerConfig::default())
    }
}

impl TransactionLayer {
    /// A layer with these timer values and the default [`Limits`].
    pub fn new(config: TimerConfig) -> Self {
        Self::with_limits(config, Limits::default())
    }

    /// A layer with these timer values and caps on live transactions.
    pub fn with_limits(config: TimerConfig, limits: Limits) -> Self {
        Self {
            config,
            limits,
            servers: 0,
            clients: 0,
            overloaded: 0,
            txns: Slab::default(),
            client_index: HashMap::new(),
            server_index: HashMap::new(),
            q: Queues::default(),
        }
    }

    /// The timer values.
    pub fn config(&self) -> &TimerConfig {
        &self.config
    }

    /// The caps on live transactions.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How many transactions are alive.
    pub fn len(&self) -> usize {
        self.txns.len()
    }

    /// Whether no transaction is alive.
    pub fn is_empty(&self) -> bool {
        self.txns.len() == 0
    }

    /// The request of a live transaction (sent by a client transaction, received by a server
    /// one). Once a non-INVITE server transaction over UDP has sent its final response, only
    /// the start line and the header fields a response copies remain (§8.2.6.2), no body.
    pub fn request(&self, key: impl Into<TransactionKey>) -> Option<&Message> {
        let key = key.into();
        self.txns
            .get(key.id())
            .filter(|t| t.key(key.id()) == key)
            .map(|t| &t.core.request)
    }

    /// Bytes of state one transaction costs beyond the messages it holds: its table slot, its
    /// match-index entry (with a typical 40-byte key), two timer-heap entries, and the
    /// retransmission buffer handle. The request's parsed index is the message's, not counted.
    pub fn state_size() -> usize {
        const TYPICAL_KEY: usize = 40;
        Slab::<Transaction>::slot_size() - size_of::<Message>()
            + size_of::<(Box<str>, u64)>()
            + TYPICAL_KEY
            + 2 * size_of::<TimerEntry>()
    }

    /// The sizes of the layer's internal tables, for tests and benchmarks (not a stable API).
    #[doc(hidden)]
    pub fn footprint(&self) -> Footprint {
        Footprint {
            live: self.txns.len(),
            table_slots: self.txns.slots(),
            index_capacity: self.client_index.capacity() + self.server_index.capacity(),
            timer_entries: self.q.timers.len(),
            servers: self.servers,
            overloaded: self.overloaded,
        }
    }

    /// The id the next transaction stored will have.
    fn alloc_id(&self) -> Result<u64> {
        self.txns.next_id().ok_or(Error::TooManyTransactions)
    }

    /// Stores a transaction under the id [`alloc_id`](Self::alloc_id) gave.
    fn store(&mut self, id: u64, txn: Transaction) {
        if txn.is_client() {
            self.clients += 1;
        } else {
            self.servers += 1;
        }
        let stored = self.txns.insert(txn);
        debug_assert_eq!(stored, Some(id), "ids are handed out in order");
    }

    /// Starts a client transaction for `request` towards `target` (§17.1). The request must
    /// carry a top Via with an RFC 3261 branch ([`new_branch`](crate::new_branch)); INVITE gets
    /// an INVITE client transaction, any other method but ACK a non-INVITE one.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        target: Target,
    ) -> Result<ClientKey> {
        let method = request.method().ok_or(Error::WrongMessageKind("request"))?;
        if method == Method::Ack {
            return Err(Error::AckNotATransaction);
        }
        let is_invite = method == Method::Invite;
        let via = request.top_via()?;
        if !via.has_rfc3261_branch() {
            return Err(Error::MissingBranch);
        }
        let key = client_key(
            via.branch().unwrap_or_default(),
            request.cseq()?.method.as_str(),
        );
        if self.client_index.contains_key(&key) {
            return Err(Error::DuplicateTransaction);
        }
        if self.clients >= self.limits.max_client {
            return Err(Error::TooManyTransactions);
        }
        let id = self.alloc_id()?;
        let wire = request.bytes().clone();
        let mut core = Core::new(request, wire, target, key.clone());
        let mut ctx = Ctx {
            now,
            config: &self.config,
            q: &mut self.q,
            id,
        };
        let kind = if is_invite {
            Kind::ClientInvite(ClientInvite::start(&mut core, &mut ctx))
        } else {
            Kind::ClientNonInvite(ClientNonInvite::start(&mut core, &mut ctx))
        };
        self.store(id, Transaction { kind, core });
        self.client_index.insert(key, id);
        self.handle_timeout(now);
        Ok(ClientKey(id))
    }

    /// Cancels a pending INVITE (§9.1): builds the CANCEL and runs it in a client transaction of
    /// its own, returned. Before any provisional response the CANCEL waits for one (§9.1); if a
    /// final response comes first, the CANCEL ends unsent with [`TerminationReason::Normal`].
    pub fn cancel(&mut self, now: Instant, invite: ClientKey) -> Result<ClientKey> {
        let (wire, target, calling) = match self.txns.get(invite.0) {
            Some(Transaction {
                kind: Kind::ClientInvite(ci),
                core,
            }) => {
                match ci.state {
                    client_invite::State::Completed | client_invite::State::Accepted => {
                        return Err(Error::InvalidState("the INVITE has its final response"));
                    }
                    client_invite::State::Calling | client_invite::State::Proceeding => {}
                }
                let wire = client_invite::build_cancel(&core.request)?;
                (
                    wire,
                    core.target.clone(),
                    ci.state == client_invite::State::Calling,
                )
            }
            Some(_) => return Err(Error::InvalidState("only an INVITE can be cancelled")),
            None => return Err(Error::UnknownTransaction),
        };
        let cancel = Message::parse(wire.clone())?;
        let key = response_key(&cancel, &cancel.top_via()?)?;
        if self.client_index.contains_key(&key) {
            return Err(Error::DuplicateTransaction);
        }
        let id = self.alloc_id()?;
        let mut core = Core::new(cancel, wire, target, key.clone());
        let kind = if calling {
            if let Some(Transaction {
                kind: Kind::ClientInvite(ci),
                ..
            }) = self.txns.get_mut(invite.0)
            {
                ci.held_cancel = Some(id);
            }
            ClientNonInvite::held()
        } else {
            let mut ctx = Ctx {
                now,
                config: &self.config,
                q: &mut self.q,
                id,
            };
            ClientNonInvite::start(&mut core, &mut ctx)
        };
        self.store(
            id,
            Transaction {
                kind: Kind::ClientNonInvite(kind),
                core,
            },
        );
        self.client_index.insert(key, id);
        self.handle_timeout(now);
        Ok(ClientKey(id))
    }

    /// Sends `response` in server transaction `key` (§17.2): provisional ones while no final one
    /// was sent, then one final response (for an INVITE, further 2xx retransmissions by the user,
    /// RFC 6026 §7.1).
    pub fn send_response(&mut self, now: Instant, key: ServerKey, response: Message) -> Result<()> {
        let code = response
            .status()
            .ok_or(Error::WrongMessageKind("response"))?;
        let Some(txn) = self.txns.get_mut(key.0) else {
            return Err(Error::UnknownTransaction);
        };
        let wire = response.bytes().clone();
        let mut ctx = Ctx {
            now,
            config: &self.config,
            q: &mut self.q,
            id: key.0,
        };
        let step = match &mut txn.kind {
            Kind::ServerInvite(t) => t.send_response(&mut txn.core, &mut ctx, code, wire)?,
            Kind::ServerNonInvite(t) => {
                let step = t.send_response(&mut txn.core, &mut ctx, code, wire)?;
                // Timer J keeps the transaction 32 s over UDP only to answer retransmissions,
                // which the response alone does: keep no more of the request than a response
                // copies (§8.2.6), so an answered request costs little while it waits.
                if code >= 200
                    && !txn.core.reliable()
                    && let Some(small) = headers_a_response_copies(&txn.core.request)
                {
                    txn.core.request = small;
                }
                step
            }
            Kind::ClientInvite(_) | Kind::ClientNonInvite(_) => {
                return Err(Error::UnknownTransaction);
            }
        };
        self.apply(key.0, step);
        self.handle_timeout(now);
        Ok(())
    }

    /// A message arrived from `source`. Responses go to their client transaction (or are
    /// dropped as strays, §18.1.2); requests to their server transaction, or start one.
    ///
    /// Returns an error only for a message too broken to match (no Via, CSeq, …); it is dropped.
    /// A transport that read the top Via already hands it over with
    /// [`handle_message_with_via`](Self::handle_message_with_via) instead.
    pub fn handle_message(&mut self, now: Instant, source: Target, msg: Message) -> Result<()> {
        let top = read_top_via(&msg);
        self.handle_message_with_via(now, source, msg, top)
    }

    /// [`handle_message`](Self::handle_message) for a message whose top Via was read already
    /// ([`TopVia::read`], as `sip-transport` does for every message it delivers, in
    /// `Incoming::top_via`): matching and everything after it use that read and parse the top
    /// Via no more.
    ///
    /// ```
    /// use std::time::Instant;
    /// use bytes::Bytes;
    /// use sip_parse::{Message, TopVia};
    /// use sip_txn::{Event, Target, TransactionLayer};
    ///
    /// let mut layer = TransactionLayer::new(Default::default());
    /// let req = Message::parse(Bytes::from_static(
    ///     b"OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
    ///       From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c\r\n\
    ///       CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
    /// ))?;
    /// let top = TopVia::read(&req);
    /// let source = Target::udp("192.0.2.1:5060".parse().unwrap());
    /// layer.handle_message_with_via(Instant::now(), source, req, top)?;
    /// assert!(matches!(layer.poll_event(), Some(Event::Request { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_message_with_via(
        &mut self,
        now: Instant,
        source: Target,
        msg: Message,
        top: std::result::Result<TopVia, ParseError>,
    ) -> Result<()> {
        let r = if msg.is_request() {
            self.handle_request(now, source, msg, top)
        } else {
            self.handle_response(now, msg, top)
        };
        self.handle_timeout(now);
        r
    }

    fn handle_response(
        &mut self,
        now: Instant,
        msg: Message,
        top: std::result::Result<TopVia, ParseError>,
    ) -> Result<()> {
        let key = response_key(&msg, &top_via(&msg, &top)?)?;
        let Some(&id) = self.client_index.get(&key) else {
            tracing::debug!("stray response dropped (§18.1.2)");
            return Ok(());
        };
        let Some(txn) = self.txns.get_mut(id) else {
            return Ok(());
        };
        let mut ctx = Ctx {
            now,
            config: &self.config,
            q: &mut self.q,
            id,
        };
        let step = txn.on_response(&mut ctx, msg);
        self.apply(id, step);
        self.release_cancel(now, id);
        Ok(())
    }

    /// Once an INVITE with a held CANCEL leaves Calling: send the CANCEL on a provisional
    /// response, drop it on a final one (§9.1).
    fn release_cancel(&mut self, now: Instant, invite: u64) {
        let Some(Transaction {
            kind: Kind::ClientInvite(ci),
            ..
        }) = self.txns.get_mut(invite)
        else {
            return;
        };
        if ci.state == client_invite::State::Calling {
            return;
        }
        let proceeding = ci.state == client_invite::State::Proceeding;
        let Some(cancel) = ci.held_cancel.take() else {
            return;
        };
        if !proceeding {
            self.finish(cancel, TerminationReason::Normal);
            return;
        }
        if let Some(Transaction {
            kind: Kind::ClientNonInvite(cn),
            core,
        }) = self.txns.get_mut(cancel)
            && cn.state == client_non_invite::State::Held
        {
            let mut ctx = Ctx {
                now,
                config: &self.config,
                q: &mut self.q,
                id: cancel,
            };
            *cn = ClientNonInvite::start(core, &mut ctx);
        }
    }

    fn handle_request(
        &mut self,
        now: Instant,
        source: Target,
        msg: Message,
        top: std::result::Result<TopVia, ParseError>,
    ) -> Result<()> {
        let method = msg.method().ok_or(Error::WrongMessageKind("request"))?;
        // Everything a response copies (§8.2.6) must be there before a transaction exists.
        msg.cseq()?;
        msg.from_header()?;
        msg.to_header()?;
        msg.call_id()?;
        if method == Method::Ack {
            return self.handle_ack(now, source, msg, top);
        }
        let key = server_key(&msg, &top_via(&msg, &top)?, method.as_str())?;
        if let Some(&id) = self.server_index.get(&key)
            && self.same_rfc2543_txn(id, &msg, &key, false)
            && let Some(txn) = self.txns.get_mut(id)
        {
            let mut ctx = Ctx {
                now,
                config: &self.config,
                q: &mut self.q,
                id,
            };
            txn.on_request_retransmission(&mut ctx);
            return Ok(());
        }
        if self.servers >= self.limits.max_server {
            return self.overload(source, &msg);
        }
        let id = self.alloc_id()?;
        let mut core = Core::new(
            msg.clone(),
            bytes::Bytes::new(),
            source.clone(),
            key.clone(),
        );
        let kind = if method == Method::Invite {
            let trying = MessageBuilder::response_to(&msg, 100, "Trying", None)?.try_build()?;
            let mut ctx = Ctx {
                now,
                config: &self.config,
                q: &mut self.q,
                id,
            };
            Kind::ServerInvite(ServerInvite::start(&mut core, &mut ctx, trying))
        } else {
            Kind::ServerNonInvite(ServerNonInvite::start())
        };
        self.store(id, Transaction { kind, core });
        if let Entry::Vacant(v) = self.server_index.entry(key) {
            v.insert(id);
        }
        if method == Method::Cancel {
            return self.handle_cancel(now, ServerKey(id), msg, top);
        }
        self.q.events.push_back(Event::Request {
            key: ServerKey(id),
            request: msg,
            source,
        });
        Ok(())
    }

    /// Over [`Limits::max_server`]: a stateless 503 with Retry-After (§21.5.4), no transaction.
    /// Its retransmissions get the same answer while the layer stays full.
    fn overload(&mut self, source: Target, msg: &Message) -> Result<()> {
        self.overloaded += 1;
        let payload = MessageBuilder::response_to(msg, 503, "Service Unavailable", None)?
            .header("Retry-After", &self.limits.retry_after.to_string())?
            .try_build()?;
        self.q.transmits.push_back(Transmit {
            payload,
            reliable: source.is_reliable(),
            target: source,
        });
        Ok(())
    }

    /// §9.2: a CANCEL finds its INVITE by the §17.2.3 rules with the method INVITE.
    fn handle_cancel(
        &mut self,
        now: Instant,
        key: ServerKey,
        msg: Message,
        top: std::result::Result<TopVia, ParseError>,
    ) -> Result<()> {
        let invite_key = server_key(&msg, &top_via(&msg, &top)?, Method::Invite.as_str())?;
        let invite = self.server_index.get(&invite_key).copied().filter(|id| {
            matches!(
                self.txns.get(*id),
                Some(Transaction {
                    kind: Kind::ServerInvite(_),
                    ..
                })
            ) && self.same_rfc2543_txn(*id, &msg, &invite_key, false)
        });
        match invite {
            Some(invite) => {
                self.q.events.push_back(Event::Cancel {
                    key,
                    invite: ServerKey(invite),
                    request: msg,
                });
                Ok(())
            }
            None => {
                let tag = crate::new_tag().ok();
                let rsp = MessageBuilder::response_to(
                    &msg,
                    481,
                    "Call/Transaction Does Not Exist",
                    tag.as_deref(),
                )?
                .try_build()?;
                self.send_response(now, key, Message::parse(rsp)?)
            }
        }
    }

    /// §17.2.3: an ACK with the INVITE's key is the INVITE transaction's (absorbed after a
    /// non-2xx); any other ACK goes up to the dialog.
    fn handle_ack(
        &mut self,
        now: Instant,
        source: Target,
        msg: Message,
        top: std::result::Result<TopVia, ParseError>,
    ) -> Result<()> {
        let key = server_key(&msg, &top_via(&msg, &top)?, Method::Invite.as_str())?;
        let mut outcome = AckOutcome::PassUp;
        if let Some(&id) = self.server_index.get(&key)
            && self.same_rfc2543_txn(id, &msg, &key, true)
            && let Some(Transaction {
                kind: Kind::ServerInvite(t),
                core,
            }) = self.txns.get_mut(id)
        {
            let mut ctx = Ctx {
                now,
                config: &self.config,
                q: &mut self.q,
                id,
            };
            let (o, step) = t.on_ack(core, &mut ctx);
            outcome = o;
            self.apply(id, step);
        }
        if outcome == AckOutcome::PassUp {
            self.q.events.push_back(Event::Ack {
                request: msg,
                source,
            });
        }
        Ok(())
    }

    /// The RFC 2543 rules compare the To tag too (§17.2.3): an ACK's with the tag of the
    /// response sent, any other request's with the original request's. RFC 3261 keys need no
    /// more.
    fn same_rfc2543_txn(&self, id: u64, msg: &Message, key: &str, ack: bool) -> bool {
        if !key.starts_with('R') {
            return true;
        }
        let Some(txn) = self.txns.get(id) else {
            return false;
        };
        let tag = msg.to_header().ok().and_then(|t| t.tag());
        let expected = if ack {
            Message::parse(txn.core.wire.clone())
                .ok()
                .and_then(|r| r.to_header().ok().and_then(|t| t.tag()).map(str::to_owned))
        } else {
            txn.core
                .request
                .to_header()
                .ok()
                .and_then(|t| t.tag())
                .map(str::to_owned)
        };
        tag == expected.as_deref()
    }

    /// The transport failed for transaction `key` (§17.1.4, §17.2.4): it ends at once with
    /// [`TerminationReason::TransportError`].
    pub fn handle_transport_error(&mut self, now: Instant, key: impl Into<TransactionKey>) {
        let key = key.into();
        if self
            .txns
            .get(key.id())
            .is_some_and(|t| t.key(key.id()) == key)
        {
            self.finish(key.id(), TerminationReason::TransportError);
        }
        self.handle_timeout(now);
    }

    /// Runs every timer due at `now` (retransmissions, state timeouts).
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&Reverse((at, id, timer))) = self.q.timers.peek() {
            if at > now {
                break;
            }
            self.q.timers.pop();
            let Some(txn) = self.txns.get_mut(id) else {
                continue;
            };
            if !txn.core.is_armed(timer, at) {
                continue;
            }
            let mut ctx = Ctx {
                now,
                config: &self.config,
                q: &mut self.q,
                id,
            };
            let step = txn.on_timer(&mut ctx, timer);
            self.apply(id, step);
        }
        self.compact_timers();
    }

    /// Heap entries of cancelled timers (and of ended transactions) wait until their deadline
    /// (up to 64·T1) to be dropped; when they outnumber live timers, drop them all at once. Each
    /// check is a slab index and a generation compare, and a purge leaves at most two entries
    /// per live transaction, so the next one waits for at least as many pushes or terminations
    /// as it visits: amortized O(1) per entry, and the heap stays within `4 * live + 1024`.
    fn compact_timers(&mut self) {
        // Each transaction has at most two armed timers.
        if self.q.timers.len() > 4 * self.txns.len() + 1024 {
            let txns = &self.txns;
            self.q.timers.retain(|Reverse((at, id, timer))| {
                txns.get(*id).is_some_and(|t| t.core.is_armed(*timer, *at))
            });
        }
    }

    fn apply(&mut self, id: u64, step: Step) {
        if let Step::Terminate(reason) = step {
            self.finish(id, reason);
        }
    }

    /// Removes a transaction and reports it.
    fn finish(&mut self, id: u64, reason: TerminationReason) {
        let Some(txn) = self.txns.remove(id) else {
            return;
        };
        let index = if txn.is_client() {
            self.clients -= 1;
            &mut self.client_index
        } else {
            self.servers -= 1;
            &mut self.server_index
        };
        if index.get(&txn.core.match_key) == Some(&id) {
            index.remove(&txn.core.match_key);
        }
        self.q.events.push_back(Event::Terminated {
            key: txn.key(id),
            reason,
        });
        if let Kind::ClientInvite(ClientInvite {
            held_cancel: Some(cancel),
            ..
        }) = txn.kind
        {
            self.finish(cancel, TerminationReason::Normal);
        }
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.q.transmits.pop_front()
    }

    /// The next event for the transaction user.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.q.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if ever.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, id, timer))) = self.q.timers.peek() {
            if self
                .txns
                .get(id)
                .is_some_and(|t| t.core.is_armed(timer, at))
            {
                return Some(at);
            }
            // Cancelled or superseded: drop it so it cannot cause a spurious wake-up.
            self.q.timers.pop();
        }
        None
    }
}

/// `request` without its body and without the header fields a response does not copy: the
/// start line, Via, From, To, Call-ID and CSeq (RFC 3261 §8.2.6.2). `None` if it cannot be
/// rebuilt (then the whole request is kept).
fn headers_a_response_copies(request: &Message) -> Option<Message> {
    use sip_parse::HeaderName as H;
    let mut b = MessageBuilder::request(request.method()?, request.request_uri()?);
    for h in request.headers() {
        if matches!(h.name, H::Via | H::From | H::To | H::CallId | H::CSeq) {
            b = b
                .header(std::str::from_utf8(h.raw_name).ok()?, h.value_str()?)
                .ok()?;
        }
    }
    Message::parse(b.try_build().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[allow(clippy::disallowed_methods)] // reason: tests need some origin for simulated time
    fn now() -> Instant {
        Instant::now()
    }

    fn msg(text: &str) -> Message {
        Message::parse(Bytes::from(text.replace('\n', "\r\n"))).unwrap()
    }

    fn options(branch: &str) -> Message {
        msg(&format!(
            "OPTIONS sip:b@b.example SIP/2.0
Via: SIP/2.0/UDP a.example;branch={branch}
From: <sip:a@a.example>;tag=1
To: <sip:b@b.example>
Call-ID: x
CSeq: 1 OPTIONS
Content-Length: 0

"
        ))
    }

    fn target() -> Target {
        Target::udp(([192, 0, 2, 9], 5060).into())
    }

    #[test]
    fn send_request_refuses_what_is_no_client_transaction() {
        let mut l = TransactionLayer::default();
        let t = now();
        assert_eq!(
            l.send_request(t, options("old-style"), target()),
            Err(Error::MissingBranch)
        );
        let ack = msg(&String::from_utf8_lossy(options("z9hG4bK1").as_bytes())
            .replace("OPTIONS", "ACK")
            .replace("\r\n", "\n"));
        assert_eq!(
            l.send_request(t, ack, target()),
            Err(Error::AckNotATransaction)
        );
        let k = l.send_request(t, options("z9hG4bK1"), target()).unwrap();
        assert_eq!(
            l.send_request(t, options("z9hG4bK1"), target()),
            Err(Error::DuplicateTransaction)
        );
        assert_eq!(
            l.request(k).and_then(Message::method),
            Some(Method::Options)
        );
        assert_eq!(
            l.cancel(t, k),
            Err(Error::InvalidState("only an INVITE can be cancelled"))
        );
        let rsp = MessageBuilder::response_to(&options("z9hG4bK1"), 200, "OK", None)
            .unwrap()
            .build();
        assert_eq!(
            l.send_request(t, Message::parse(rsp.clone()).unwrap(), target()),
            Err(Error::WrongMessageKind("request"))
        );
        assert_eq!(
            l.send_response(t, ServerKey(k.0), Message::parse(rsp).unwrap()),
            Err(Error::UnknownTransaction)
        );
    }

    /// Feeds `m` to `l` as the driver does (`with_via`: with the top Via read beforehand, as the
    /// transport does) or as a caller with only the message; returns the result and everything
    /// the layer then had to say.
    fn feed(l: &mut TransactionLayer, m: Message, with_via: bool) -> (String, Vec<Event>) {
        let t = now();
        let r = if with_via {
            let top = TopVia::read(&m);
            l.handle_message_with_via(t, target(), m, top)
        } else {
            l.handle_message(t, target(), m)
        };
        let mut out: Vec<Event> = std::iter::from_fn(|| l.poll_event()).collect();
        out.retain(|e| !matches!(e, Event::Terminated { .. }));
        (format!("{r:?}"), out)
    }

    /// Issue 14 item 3: handed the top Via the transport read, the layer parses it no more — not
    /// for a request's server key, its retransmission, a CANCEL looking for its INVITE, the ACK
    /// of a non-2xx, a response's client key, nor a message without Via — and does exactly what
    /// it does when it reads the Via itself (then once per message).
    #[test]
    fn a_top_via_read_by_the_transport_is_not_parsed_again() {
        let request = |method: &str, to_tag: &str| {
            msg(&format!(
                "{method} sip:b@b.example SIP/2.0
Via: SIP/2.0/UDP a.example;branch=z9hG4bKinv
From: <sip:a@a.example>;tag=1
To: <sip:b@b.example>{to_tag}
Call-ID: x
CSeq: 1 {method}
Content-Length: 0

"
            ))
        };
        let run = |with_via: bool| {
            crate::matching::TOP_VIA_READS.with(|n| n.set(0));
            let (t, mut l, mut seen) = (now(), TransactionLayer::default(), Vec::new());
            let log = |(r, events): (String, Vec<Event>), seen: &mut Vec<String>| {
                seen.push(r);
                seen.extend(events.iter().map(|e| format!("{e:?}")));
                events
            };
            let invite = log(feed(&mut l, request("INVITE", ""), with_via), &mut seen);
            let Some(Event::Request { key, .. }) = invite.first() else {
                panic!("no INVITE: {seen:?}")
            };
            log(feed(&mut l, request("INVITE", ""), with_via), &mut seen);
            log(feed(&mut l, request("CANCEL", ""), with_via), &mut seen);
            let busy = MessageBuilder::response_to(&request("INVITE", ""), 486, "Busy", Some("u"))
                .unwrap()
                .build();
            l.send_response(t, *key, Message::parse(busy).unwrap())
                .unwrap();
            log(feed(&mut l, request("ACK", ";tag=u"), with_via), &mut seen);
            l.send_request(t, options("z9hG4bKuac"), target()).unwrap();
            let ok = MessageBuilder::response_to(&options("z9hG4bKuac"), 200, "OK", Some("v"))
                .unwrap()
                .build();
            let ok = Message::parse(ok).unwrap();
            log(feed(&mut l, ok.clone(), with_via), &mut seen);
            log(feed(&mut l, ok, with_via), &mut seen);
            let no_via = msg("OPTIONS sip:b@b.example SIP/2.0
From: <sip:a@a.example>;tag=1
To: <sip:b@b.example>
Call-ID: y
CSeq: 1 OPTIONS
Content-Length: 0

");
            log(feed(&mut l, no_via, with_via), &mut seen);
            seen.extend(std::iter::from_fn(|| l.poll_transmit()).map(|x| format!("{x:?}")));
            (seen, crate::matching::TOP_VIA_READS.with(|n| n.get()))
        };
        let (read_by_layer, reads) = run(false);
        assert_eq!(
            reads, 7,
            "the layer alone reads each message's top Via once"
        );
        let (handed_over, reads) = run(true);
        assert_eq!(reads, 0, "handed the top Via, the layer parses none");
        assert_eq!(handed_over, read_by_layer);
        let text = read_by_layer.join("\n");
        for expected in ["Request {", "Cancel {", "Response {", "MissingHeader(Via)"] {
            assert!(text.contains(expected), "{expected} missing from {text}");
        }
    }

    #[test]
    fn a_final_response_cannot_be_followed_by_another() {
        let mut l = TransactionLayer::default();
        let t = now();
        let req = options("z9hG4bK2");
        l.handle_message(t, target(), req.clone()).unwrap();
        let Some(Event::Request { key, .. }) = l.poll_event() else {
            panic!("no request")
        };
        let ok = |code| {
            Message::parse(
                MessageBuilder::response_to(&req, code, "X", Some("t"))
                    .unwrap()
                    .build(),
            )
            .unwrap()
        };
        l.send_response(t, key, ok(200)).unwrap();
        assert!(matches!(
            l.send_response(t, key, ok(404)),
            Err(Error::InvalidState(_))
        ));
    }

    #[test]
    fn cancelled_timers_do_not_pile_up() {
        let mut l = TransactionLayer::default();
        let t = now();
        let tcp = Target::tcp(([192, 0, 2, 9], 5060).into());
        // Each transaction completes at once over TCP (timer K = 0), leaving timer F's entry.
        for i in 0..5_000 {
            let req = msg(
                &String::from_utf8_lossy(options(&format!("z9hG4bK{i}")).as_bytes())
                    .replace("UDP", "TCP")
                    .replace("\r\n", "\n"),
            );
            l.send_request(t, req.clone(), tcp.clone()).unwrap();
            let ok = MessageBuilder::response_to(&req, 200, "OK", Some("t"))
                .unwrap()
                .build();
            l.handle_message(t, tcp.clone(), Message::parse(ok).unwrap())
                .unwrap();
            while l.poll_transmit().is_some() {}
            while l.poll_event().is_some() {}
        }
        assert!(l.is_empty());
        assert!(l.q.timers.len() <= 1025, "{}", l.q.timers.len());
        assert_eq!(l.poll_timeout(), None);
    }

    fn ok(req: &Message) -> Message {
        Message::parse(
            MessageBuilder::response_to(req, 200, "OK", Some("t"))
                .unwrap()
                .build(),
        )
        .unwrap()
    }

    fn drain(l: &mut TransactionLayer) -> Vec<Event> {
        while l.poll_transmit().is_some() {}
        std::iter::from_fn(|| l.poll_event()).collect()
    }

    /// A burst of 3,000 requests (1,000 a second for 3 s of simulated time, each answered at
    /// once) against a cap of 500: the server keeps at most 500 transactions (timer J holds
    /// each answered one for 32 s), every other request gets a 503 with Retry-After, and
    /// nothing admitted is lost. Once timer J frees room, requests are admitted again.
    #[test]
    fn server_transactions_are_capped_and_the_rest_get_503() {
        const CAP: usize = 500;
        let mut l = TransactionLayer::with_limits(
            TimerConfig::default(),
            Limits {
                max_server: CAP,
                retry_after: 7,
                ..Limits::default()
            },
        );
        let start = now();
        let (mut admitted, mut refused) = (0, 0);
        for i in 0..3_000u32 {
            let t = start + std::time::Duration::from_millis(u64::from(i));
            let req = options(&format!("z9hG4bKburst{i}"));
            l.handle_message(t, target(), req).unwrap();
            let mut answered = false;
            while let Some(ev) = l.poll_event() {
                if let Event::Request { key, request, .. } = ev {
                    l.send_response(t, key, ok(&request)).unwrap();
                    admitted += 1;
                    answered = true;
                }
            }
            while let Some(tx) = l.poll_transmit() {
                let rsp = Message::parse(tx.payload).unwrap();
                match rsp.status() {
                    Some(200) => assert!(answered),
                    Some(503) => {
                        assert_eq!(rsp.header_str(sip_parse::HeaderName::RetryAfter), Some("7"));
                        refused += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert!(l.footprint().servers <= CAP);
            assert!(l.len() <= CAP);
        }
        assert_eq!((admitted, refused), (CAP, 3_000 - CAP));
        assert_eq!(l.footprint().overloaded, (3_000 - CAP) as u64);
        // Timer J (32 s over UDP) ends the first ones: room again.
        let later = start + std::time::Duration::from_secs(40);
        l.handle_timeout(later);
        drain(&mut l);
        assert_eq!(l.footprint().servers, 0);
        l.handle_message(later, target(), options("z9hG4bKafter"))
            .unwrap();
        assert!(matches!(drain(&mut l).as_slice(), [Event::Request { .. }]));
    }

    /// An answered request waiting for timer J keeps only what a response copies; its
    /// retransmission still gets the same response.
    #[test]
    fn timer_j_keeps_a_small_request() {
        let mut l = TransactionLayer::default();
        let t = now();
        let big = msg(&format!(
            "MESSAGE sip:b@b.example SIP/2.0
Via: SIP/2.0/UDP a.example;branch=z9hG4bKbig
From: <sip:a@a.example>;tag=1
To: <sip:b@b.example>
Call-ID: big
CSeq: 1 MESSAGE
Subject: {}
Content-Type: text/plain
Content-Length: 1000

{}",
            "s".repeat(300),
            "x".repeat(1000)
        ));
        l.handle_message(t, target(), big.clone()).unwrap();
        let Some(Event::Request { key, .. }) = l.poll_event() else {
            panic!("no request")
        };
        let before = l.request(key).unwrap().as_bytes().len();
        l.send_response(t, key, ok(&big)).unwrap();
        let first = l.poll_transmit().unwrap().payload;
        let kept = l.request(key).unwrap();
        assert!(
            kept.as_bytes().len() * 5 < before,
            "{} of {before}",
            kept.as_bytes().len()
        );
        assert_eq!(kept.call_id().unwrap(), "big");
        assert_eq!(kept.top_via().unwrap().branch(), Some("z9hG4bKbig"));
        assert!(kept.body().is_empty());
        l.handle_message(t, target(), big).unwrap();
        assert_eq!(l.poll_transmit().unwrap().payload, first);
    }

    #[test]
    fn client_transactions_are_capped_with_a_local_error() {
        let mut l = TransactionLayer::with_limits(
            TimerConfig::default(),
            Limits {
                max_client: 2,
                ..Limits::default()
            },
        );
        let t = now();
        l.send_request(t, options("z9hG4bKc1"), target()).unwrap();
        l.send_request(t, options("z9hG4bKc2"), target()).unwrap();
        assert_eq!(
            l.send_request(t, options("z9hG4bKc3"), target()),
            Err(Error::TooManyTransactions)
        );
    }

    /// 100,000 transactions in waves of 1,000: 500 UDP clients, each answered and ended by
    /// timer K (5 s) while its timer-F entry (32 s) stays in the heap, and 500 TCP servers, each
    /// ended by its final response. Stale heap entries soon outnumber the live transactions;
    /// every table must stay proportional to the live transactions, not to all that ever lived.
    #[test]
    fn waves_of_terminations_keep_every_table_bounded() {
        const WAVE: usize = 1_000;
        let mut l = TransactionLayer::default();
        let tcp = Target::tcp(([192, 0, 2, 9], 5060).into());
        let mut t = now();
        // A wave's clients live until timer K; one server at a time lives between its request
        // and its response.
        let peak = WAVE / 2 + 1;
        let mut ended = 0;
        let mut count_ended = |l: &mut TransactionLayer| {
            ended += drain(l)
                .iter()
                .filter(|e| matches!(e, Event::Terminated { .. }))
                .count();
        };
        for wave in 0..100 {
            for i in 0..WAVE / 2 {
                let req = options(&format!("z9hG4bK{wave}c{i}"));
                l.send_request(t, req.clone(), target()).unwrap();
                l.handle_message(t, target(), ok(&req)).unwrap();
                count_ended(&mut l);
                let req = options(&format!("z9hG4bK{wave}s{i}"));
                l.handle_message(t, tcp.clone(), req.clone()).unwrap();
                let key = match l.poll_event() {
                    Some(Event::Request { key, .. }) => key,
                    other => panic!("{other:?}"),
                };
                l.send_response(t, key, ok(&req)).unwrap();
                count_ended(&mut l);
                let f = l.footprint();
                assert!(f.table_slots <= peak, "{f:?}");
                assert!(f.timer_entries <= 4 * f.live + 1024, "{f:?}");
            }
            // 6 s per wave: timer K ends this wave's clients, their timer F entries linger.
            t += std::time::Duration::from_secs(6);
            l.handle_timeout(t);
            count_ended(&mut l);
            let f = l.footprint();
            assert_eq!(f.live, 0);
            assert!(f.timer_entries <= 1024, "{f:?}");
            assert!(f.index_capacity <= 4 * WAVE, "{f:?}");
        }
        assert_eq!((ended, l.len(), l.poll_timeout()), (100 * WAVE, 0, None));
        assert!(l.footprint().table_slots <= peak);
    }

    /// A slot is reused at once, so a key kept past its transaction's end must not reach the
    /// transaction now in that slot.
    #[test]
    fn a_key_of_an_ended_transaction_never_reaches_its_successor() {
        let mut l = TransactionLayer::default();
        let t = now();
        let tcp = Target::tcp(([192, 0, 2, 9], 5060).into());
        let first = options("z9hG4bKold");
        l.handle_message(t, tcp.clone(), first.clone()).unwrap();
        let Some(Event::Request { key: old, .. }) = l.poll_event() else {
            panic!("no request")
        };
        // Over TCP timer J is zero: the final response ends it.
        l.send_response(t, old, ok(&first)).unwrap();
        drain(&mut l);
        assert!(l.is_empty());
        let second = options("z9hG4bKnew");
        l.handle_message(t, tcp.clone(), second.clone()).unwrap();
        let Some(Event::Request { key: new, .. }) = l.poll_event() else {
            panic!("no request")
        };
        assert_ne!(old, new);
        assert_eq!(l.footprint().table_slots, 1, "the slot was reused");
        assert!(l.request(old).is_none());
        assert_eq!(
            l.send_response(t, old, ok(&second)),
            Err(Error::UnknownTransaction)
        );
        l.handle_transport_error(t, old);
        assert!(l.poll_event().is_none());
        assert_eq!(l.len(), 1);
        assert_eq!(
            l.request(new)
                .and_then(|r| r.top_via().ok()?.branch().map(str::to_owned)),
            Some("z9hG4bKnew".to_owned())
        );
    }
}
