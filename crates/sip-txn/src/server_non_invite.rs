//! The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).

use bytes::Bytes;

use crate::transaction::{Core, Ctx, Step};
use crate::{Error, Result, TerminationReason, Timer};

/// States of Figure 8; Terminated is the transaction's removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Trying,
    Proceeding,
    Completed,
}

#[derive(Debug)]
pub(crate) struct ServerNonInvite {
    pub(crate) state: State,
}

impl ServerNonInvite {
    pub(crate) fn start() -> Self {
        Self {
            state: State::Trying,
        }
    }

    /// §17.2.2: a retransmitted request is discarded in Trying, answered with the last response
    /// in Proceeding and Completed.
    pub(crate) fn resends_on_request(&self) -> bool {
        self.state != State::Trying
    }

    pub(crate) fn send_response(
        &mut self,
        core: &mut Core,
        ctx: &mut Ctx<'_>,
        code: u16,
        wire: Bytes,
    ) -> Result<Step> {
        match (self.state, code) {
            (State::Trying | State::Proceeding, 100..=199) => {
                core.send(ctx, wire);
                self.state = State::Proceeding;
            }
            (State::Trying | State::Proceeding, _) => {
                core.send(ctx, wire);
                self.state = State::Completed;
                core.arm(ctx, Timer::J);
            }
            (State::Completed, _) => {
                return Err(Error::InvalidState("the request has its final response"));
            }
        }
        Ok(Step::Stay)
    }

    pub(crate) fn on_timer(&mut self, _core: &mut Core, _ctx: &mut Ctx<'_>, timer: Timer) -> Step {
        match (self.state, timer) {
            (State::Completed, Timer::J) => Step::Terminate(TerminationReason::Normal),
            _ => Step::Stay,
        }
    }
}
