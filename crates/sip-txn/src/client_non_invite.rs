//! The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).

use sip_parse::Message;

use crate::transaction::{Core, Ctx, Step};
use crate::{TerminationReason, Timer};

/// States of Figure 6; Terminated is the transaction's removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// A CANCEL waiting for a provisional response to its INVITE (§9.1); nothing sent yet.
    Held,
    Trying,
    Proceeding,
    Completed,
}

#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    pub(crate) state: State,
}

impl ClientNonInvite {
    /// §17.1.2.2: send the request, start timers E (unreliable only) and F.
    pub(crate) fn start(core: &mut Core, ctx: &mut Ctx<'_>) -> Self {
        core.transmit(ctx);
        core.arm(ctx, Timer::E);
        core.arm(ctx, Timer::F);
        Self {
            state: State::Trying,
        }
    }

    /// A CANCEL that must wait (§9.1).
    pub(crate) fn held() -> Self {
        Self { state: State::Held }
    }

    pub(crate) fn on_response(&mut self, core: &mut Core, ctx: &mut Ctx<'_>, rsp: Message) -> Step {
        let Some(code) = rsp.status() else {
            return Step::Stay;
        };
        match (self.state, code) {
            (State::Trying | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                ctx.response_event(rsp);
            }
            (State::Trying | State::Proceeding, _) => {
                core.stop_timers();
                self.state = State::Completed;
                core.arm(ctx, Timer::K);
                ctx.response_event(rsp);
            }
            // Completed absorbs retransmitted responses; Held has sent nothing to answer.
            _ => {}
        }
        Step::Stay
    }

    pub(crate) fn on_timer(&mut self, core: &mut Core, ctx: &mut Ctx<'_>, timer: Timer) -> Step {
        match (self.state, timer) {
            (State::Trying, Timer::E) => {
                let next = core.next_interval(ctx, Timer::E);
                core.retransmit(ctx, Timer::E, next);
                Step::Stay
            }
            // §17.1.2.2: in Proceeding, E is reset with T2.
            (State::Proceeding, Timer::E) => {
                core.retransmit(ctx, Timer::E, ctx.config.t2);
                Step::Stay
            }
            (State::Trying | State::Proceeding, Timer::F) => {
                Step::Terminate(TerminationReason::Timeout)
            }
            (State::Completed, Timer::K) => Step::Terminate(TerminationReason::Normal),
            _ => Step::Stay,
        }
    }
}
