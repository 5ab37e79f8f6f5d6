//! The INVITE server transaction (RFC 3261 §17.2.1, Figure 7, with RFC 6026's Accepted state
//! and timer L).

use bytes::Bytes;

use crate::transaction::{Core, Ctx, Step};
use crate::{Error, Result, TerminationReason, Timer};

/// States of Figure 7 (RFC 6026 Figure 5); Terminated is the transaction's removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Proceeding,
    Completed,
    Confirmed,
    /// RFC 6026 §7.1: a 2xx was sent; the user retransmits it, ACKs go up, timer L ends it.
    Accepted,
}

#[derive(Debug)]
pub(crate) struct ServerInvite {
    pub(crate) state: State,
}

/// What an ACK matching this transaction means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckOutcome {
    /// Part of the transaction (ACK for a non-2xx, or a retransmission of it): absorbed.
    Absorbed,
    /// The ACK for a 2xx: the dialog's, passed up (RFC 6026 §8.7).
    PassUp,
}

impl ServerInvite {
    /// §17.2.1: enter Proceeding and send 100 Trying at once (the user may take over 200 ms).
    pub(crate) fn start(core: &mut Core, ctx: &mut Ctx<'_>, trying: Bytes) -> Self {
        core.send(ctx, trying);
        Self {
            state: State::Proceeding,
        }
    }

    /// Whether a retransmitted INVITE gets the last response again (§17.2.1); in Accepted it is
    /// absorbed (RFC 6026 §7.1: the user retransmits the 2xx).
    pub(crate) fn resends_on_request(&self) -> bool {
        matches!(self.state, State::Proceeding | State::Completed)
    }

    pub(crate) fn on_ack(&mut self, core: &mut Core, ctx: &mut Ctx<'_>) -> (AckOutcome, Step) {
        match self.state {
            State::Completed => {
                // §17.2.1: stop G and H; wait T4 (unreliable) for ACK retransmissions.
                core.stop_timers();
                self.state = State::Confirmed;
                core.arm(ctx, Timer::I);
                (AckOutcome::Absorbed, Step::Stay)
            }
            State::Accepted => (AckOutcome::PassUp, Step::Stay),
            State::Proceeding | State::Confirmed => (AckOutcome::Absorbed, Step::Stay),
        }
    }

    pub(crate) fn send_response(
        &mut self,
        core: &mut Core,
        ctx: &mut Ctx<'_>,
        code: u16,
        wire: Bytes,
    ) -> Result<Step> {
        match (self.state, code) {
            (State::Proceeding, 100..=199) => core.send(ctx, wire),
            (State::Proceeding | State::Accepted, 200..=299) => {
                core.send(ctx, wire);
                if self.state == State::Proceeding {
                    self.state = State::Accepted;
                    core.arm(ctx, Timer::L);
                }
            }
            (State::Proceeding, _) => {
                core.send(ctx, wire);
                self.state = State::Completed;
                core.arm(ctx, Timer::G);
                core.arm(ctx, Timer::H);
            }
            _ => return Err(Error::InvalidState("the INVITE has its final response")),
        }
        Ok(Step::Stay)
    }

    pub(crate) fn on_timer(&mut self, core: &mut Core, ctx: &mut Ctx<'_>, timer: Timer) -> Step {
        match (self.state, timer) {
            (State::Completed, Timer::G) => {
                let next = core.next_interval(ctx, Timer::G);
                core.retransmit(ctx, Timer::G, next);
                Step::Stay
            }
            // §17.2.1: no ACK: tell the user the peer is gone.
            (State::Completed, Timer::H) => Step::Terminate(TerminationReason::Timeout),
            (State::Confirmed, Timer::I) | (State::Accepted, Timer::L) => {
                Step::Terminate(TerminationReason::Normal)
            }
            _ => Step::Stay,
        }
    }
}
