//! What the four transaction kinds share: the message to (re)send, the peer, the two timer
//! slots, and the queues every transition writes to.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_parse::Message;

use crate::client_invite::ClientInvite;
use crate::client_non_invite::ClientNonInvite;
use crate::server_invite::ServerInvite;
use crate::server_non_invite::ServerNonInvite;
use crate::{
    ClientKey, Event, ServerKey, Target, TerminationReason, Timer, TimerConfig, TransactionKey,
    Transmit,
};

/// A timer heap entry: deadline, transaction id, timer. Entries are never removed early; a popped
/// entry counts only if the transaction still has that timer armed for that instant.
pub(crate) type TimerEntry = Reverse<(Instant, u64, Timer)>;

/// The layer's output queues.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) timers: BinaryHeap<TimerEntry>,
}

/// Everything a transition needs besides the transaction itself.
pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) config: &'a TimerConfig,
    pub(crate) q: &'a mut Queues,
    pub(crate) id: u64,
}

impl Ctx<'_> {
    /// Passes a response up to the user of client transaction `self.id`.
    pub(crate) fn response_event(&mut self, response: Message) {
        self.q.events.push_back(Event::Response {
            key: ClientKey(self.id),
            response,
        });
    }
}

/// What a transition asks of the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub(crate) enum Step {
    /// The transaction lives on.
    Stay,
    /// The transaction reached Terminated.
    Terminate(TerminationReason),
}

/// An armed retransmission timer: when it fires, and the interval that led there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retransmit {
    pub(crate) timer: Timer,
    pub(crate) at: Instant,
    pub(crate) interval: Duration,
}

/// State shared by every transaction kind.
#[derive(Debug)]
pub(crate) struct Core {
    /// Client: the request sent. Server: the request received.
    pub(crate) request: Message,
    /// What a retransmission sends: the request, the ACK (client INVITE, Completed), or the last
    /// response (server).
    pub(crate) wire: Bytes,
    /// The peer.
    pub(crate) target: Target,
    pub(crate) retransmit: Option<Retransmit>,
    pub(crate) deadline: Option<(Timer, Instant)>,
    /// The key in the layer's match index (see `matching`).
    pub(crate) match_key: Box<str>,
}

impl Core {
    pub(crate) fn new(request: Message, wire: Bytes, target: Target, match_key: Box<str>) -> Self {
        Self {
            request,
            wire,
            target,
            retransmit: None,
            deadline: None,
            match_key,
        }
    }

    pub(crate) fn reliable(&self) -> bool {
        self.target.is_reliable()
    }

    /// Hands `wire` to the transport.
    pub(crate) fn transmit(&self, ctx: &mut Ctx<'_>) {
        ctx.q.transmits.push_back(Transmit {
            payload: self.wire.clone(),
            target: self.target.clone(),
            reliable: self.reliable(),
        });
    }

    /// Sends a new message and keeps it for retransmission.
    pub(crate) fn send(&mut self, ctx: &mut Ctx<'_>, wire: Bytes) {
        self.wire = wire;
        self.transmit(ctx);
    }

    /// Arms `timer` with its initial duration; a timer the transport does not use (a
    /// retransmission timer over a reliable one) stays off.
    pub(crate) fn arm(&mut self, ctx: &mut Ctx<'_>, timer: Timer) {
        if let Some(d) = ctx.config.duration(timer, self.reliable()) {
            self.arm_for(ctx, timer, d);
        }
    }

    fn arm_for(&mut self, ctx: &mut Ctx<'_>, timer: Timer, d: Duration) {
        // A deadline past the end of `Instant` never fires.
        let Some(at) = ctx.now.checked_add(d) else {
            return;
        };
        if timer.is_retransmission() {
            self.retransmit = Some(Retransmit {
                timer,
                at,
                interval: d,
            });
        } else {
            self.deadline = Some((timer, at));
        }
        ctx.q.timers.push(Reverse((at, ctx.id, timer)));
    }

    /// Retransmits `wire` and re-arms the retransmission timer `interval` later.
    pub(crate) fn retransmit(&mut self, ctx: &mut Ctx<'_>, timer: Timer, interval: Duration) {
        self.transmit(ctx);
        self.arm_for(ctx, timer, interval);
    }

    /// The next retransmission interval per §17.1.1.2 (A doubles), §17.1.2.2 and §17.2.1 (E and G
    /// double up to T2).
    pub(crate) fn next_interval(&self, ctx: &Ctx<'_>, timer: Timer) -> Duration {
        let current = self.retransmit.map_or(ctx.config.t1, |r| r.interval);
        ctx.config.next_interval(timer, current)
    }

    pub(crate) fn stop_timers(&mut self) {
        self.retransmit = None;
        self.deadline = None;
    }

    /// Whether a popped heap entry is still armed (not cancelled or superseded).
    pub(crate) fn is_armed(&self, timer: Timer, at: Instant) -> bool {
        self.retransmit
            .is_some_and(|r| r.timer == timer && r.at == at)
            || self.deadline == Some((timer, at))
    }

    /// Disarms `timer` before it runs.
    pub(crate) fn disarm(&mut self, timer: Timer) {
        if self.retransmit.is_some_and(|r| r.timer == timer) {
            self.retransmit = None;
        }
        if self.deadline.is_some_and(|(t, _)| t == timer) {
            self.deadline = None;
        }
    }
}

/// The kind-specific state machine.
#[derive(Debug)]
#[allow(clippy::enum_variant_names)] // reason: the RFC's own names for the four transactions
pub(crate) enum Kind {
    ClientInvite(ClientInvite),
    ClientNonInvite(ClientNonInvite),
    ServerInvite(ServerInvite),
    ServerNonInvite(ServerNonInvite),
}

/// One transaction.
#[derive(Debug)]
pub(crate) struct Transaction {
    pub(crate) kind: Kind,
    pub(crate) core: Core,
}

impl Transaction {
    pub(crate) fn key(&self, id: u64) -> TransactionKey {
        match self.kind {
            Kind::ClientInvite(_) | Kind::ClientNonInvite(_) => ClientKey(id).into(),
            Kind::ServerInvite(_) | Kind::ServerNonInvite(_) => ServerKey(id).into(),
        }
    }

    pub(crate) fn is_client(&self) -> bool {
        matches!(self.kind, Kind::ClientInvite(_) | Kind::ClientNonInvite(_))
    }

    /// An armed timer fired.
    pub(crate) fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: Timer) -> Step {
        let core = &mut self.core;
        // A fired deadline is spent; a retransmission timer keeps its interval for the next one.
        if !timer.is_retransmission() {
            core.disarm(timer);
        }
        match &mut self.kind {
            Kind::ClientInvite(t) => t.on_timer(core, ctx, timer),
            Kind::ClientNonInvite(t) => t.on_timer(core, ctx, timer),
            Kind::ServerInvite(t) => t.on_timer(core, ctx, timer),
            Kind::ServerNonInvite(t) => t.on_timer(core, ctx, timer),
        }
    }

    /// A response matched this (client) transaction.
    pub(crate) fn on_response(&mut self, ctx: &mut Ctx<'_>, response: Message) -> Step {
        let core = &mut self.core;
        match &mut self.kind {
            Kind::ClientInvite(t) => t.on_response(core, ctx, response),
            Kind::ClientNonInvite(t) => t.on_response(core, ctx, response),
            Kind::ServerInvite(_) | Kind::ServerNonInvite(_) => Step::Stay,
        }
    }

    /// A retransmission of the request matched this (server) transaction (§17.2.1, §17.2.2):
    /// resend the last provisional or final response, if any.
    pub(crate) fn on_request_retransmission(&mut self, ctx: &mut Ctx<'_>) {
        let resend = match &self.kind {
            Kind::ServerInvite(t) => t.resends_on_request(),
            Kind::ServerNonInvite(t) => t.resends_on_request(),
            Kind::ClientInvite(_) | Kind::ClientNonInvite(_) => false,
        };
        if resend {
            self.core.transmit(ctx);
        }
    }
}
