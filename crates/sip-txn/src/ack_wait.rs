//! The UAS core's wait for the ACK of its 2xx to an INVITE (RFC 3261 §13.3.1.4, RFC 6026 §7.1).
//!
//! The INVITE server transaction sends the 2xx once and leaves it to the transaction user (the
//! 2xx travels end to end): the UAS core sends it again from T1, doubling up to T2, whatever the
//! transport, until the ACK arrives; if none has after 64·T1 it confirms the dialog and ends it
//! with BYE. [`AckWait`] is that schedule, sans IO.

use std::time::{Duration, Instant};

use crate::TimerConfig;

/// What is due when an [`AckWait`]'s timeout fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckWaitStep {
    /// Nothing yet.
    Wait,
    /// Send the 2xx again.
    Retransmit,
    /// 64·T1 passed with no ACK: end the session (§13.3.1.4: send BYE).
    GiveUp,
}

/// The retransmission schedule of one 2xx, from when it was first sent until its ACK.
///
/// ```
/// use std::time::{Duration, Instant};
/// use sip_txn::{AckWait, AckWaitStep, TimerConfig};
///
/// # #[allow(clippy::disallowed_methods)] // the example's clock starts somewhere
/// let sent = Instant::now();
/// let mut wait = AckWait::new(sent, &TimerConfig::default());
/// let first = wait.poll_timeout();
/// assert_eq!(first - sent, Duration::from_millis(500)); // T1
/// assert_eq!(wait.handle_timeout(first), AckWaitStep::Retransmit);
/// assert_eq!(wait.poll_timeout() - sent, Duration::from_millis(1_500)); // then 2·T1 later
/// assert_eq!(wait.handle_timeout(sent + Duration::from_secs(32)), AckWaitStep::GiveUp);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckWait {
    interval: Duration,
    t2: Duration,
    next: Instant,
    give_up: Instant,
}

impl AckWait {
    /// The wait for the ACK of a 2xx first sent at `now`.
    pub fn new(now: Instant, timers: &TimerConfig) -> Self {
        Self {
            interval: timers.t1,
            t2: timers.t2,
            next: now + timers.t1,
            give_up: now + timers.t1.saturating_mul(64),
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Instant {
        self.next.min(self.give_up)
    }

    /// What is due at `now`. After [`AckWaitStep::GiveUp`] the wait is over.
    pub fn handle_timeout(&mut self, now: Instant) -> AckWaitStep {
        if now >= self.give_up {
            return AckWaitStep::GiveUp;
        }
        if now < self.next {
            return AckWaitStep::Wait;
        }
        self.interval = self.interval.saturating_mul(2).min(self.t2);
        self.next = now + self.interval;
        AckWaitStep::Retransmit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)] // reason: simulated time starts somewhere
    fn start() -> Instant {
        Instant::now()
    }

    #[test]
    fn t1_doubling_to_t2_then_give_up_at_64_t1() {
        let t0 = start();
        let mut wait = AckWait::new(t0, &TimerConfig::default());
        let mut sent = Vec::new();
        loop {
            let at = wait.poll_timeout();
            assert_eq!(
                wait.handle_timeout(at - Duration::from_millis(1)),
                AckWaitStep::Wait
            );
            match wait.handle_timeout(at) {
                AckWaitStep::Retransmit => sent.push((at - t0).as_millis()),
                AckWaitStep::GiveUp => {
                    assert_eq!(at - t0, Duration::from_secs(32));
                    break;
                }
                AckWaitStep::Wait => panic!("nothing due at its own timeout"),
            }
        }
        assert_eq!(
            sent,
            [
                500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
            ]
        );
    }

    #[test]
    fn a_late_wake_up_does_not_bunch_retransmissions() {
        let t0 = start();
        let mut wait = AckWait::new(t0, &TimerConfig::default());
        // Woken 3 s late: one retransmission, the next an interval later.
        let late = t0 + Duration::from_millis(3_500);
        assert_eq!(wait.handle_timeout(late), AckWaitStep::Retransmit);
        assert_eq!(wait.poll_timeout(), late + Duration::from_secs(1));
    }
}
