//! RFC 3261 transaction timers (§17, Table 4 of Appendix A) and RFC 6026's additions.

use std::time::Duration;

/// A transaction timer. Each transaction arms at most two at once: one retransmission timer
/// (A, E or G) and one that ends a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// RFC 3261 §17.1.1.2: INVITE request retransmit interval, unreliable only; T1, doubling.
    A,
    /// RFC 3261 §17.1.1.2: INVITE client transaction timeout; 64·T1.
    B,
    /// RFC 3261 §16.6: INVITE transaction timeout after a provisional response (> 3 min); here it
    /// bounds the client's Proceeding state, which RFC 3261 leaves open for a UAC.
    C,
    /// RFC 3261 §17.1.1.2: wait time for response retransmits (Completed); 32 s unreliable, 0 reliable.
    D,
    /// RFC 3261 §17.1.2.2: non-INVITE request retransmit interval, unreliable only; T1, doubling up to T2.
    E,
    /// RFC 3261 §17.1.2.2: non-INVITE client transaction timeout; 64·T1.
    F,
    /// RFC 3261 §17.2.1: INVITE final response retransmit interval, unreliable only; T1, doubling up to T2.
    G,
    /// RFC 3261 §17.2.1: wait time for ACK receipt; 64·T1.
    H,
    /// RFC 3261 §17.2.1: wait time for ACK retransmits (Confirmed); T4 unreliable, 0 reliable.
    I,
    /// RFC 3261 §17.2.2: wait time for non-INVITE request retransmits; 64·T1 unreliable, 0 reliable.
    J,
    /// RFC 3261 §17.1.2.2: wait time for response retransmits (non-INVITE); T4 unreliable, 0 reliable.
    K,
    /// RFC 6026 §8.7 (updating RFC 3261 §17.2.1): wait time for accepted INVITE request retransmits; 64·T1.
    L,
    /// RFC 6026 §8.4 (updating RFC 3261 §17.1.1): wait time for retransmission of 2xx to INVITE; 64·T1.
    M,
}

impl Timer {
    /// Whether this timer retransmits (A, E, G) rather than ends a state.
    pub fn is_retransmission(self) -> bool {
        matches!(self, Timer::A | Timer::E | Timer::G)
    }
}

/// The base timer values (RFC 3261 §17.1.1.1, Table 4). Every other timer derives from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// Round-trip time estimate; default 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses; default 4 s.
    pub t2: Duration,
    /// Maximum duration a message remains in the network; default 5 s.
    pub t4: Duration,
    /// Timer C: how long an INVITE client transaction waits in Proceeding for a final response,
    /// reset by every provisional one (RFC 3261 §16.6: more than 3 minutes); default 181 s.
    pub timer_c: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_c: Duration::from_secs(181),
        }
    }
}

impl TimerConfig {
    /// The initial duration of `timer` for a transaction over a reliable or unreliable transport.
    /// Retransmission timers return `None` over reliable transports (§17.1.1.2: never armed).
    pub fn duration(&self, timer: Timer, reliable: bool) -> Option<Duration> {
        let t1x64 = self.t1.saturating_mul(64);
        let unreliable_only = |d: Duration| if reliable { Duration::ZERO } else { d };
        Some(match timer {
            Timer::A | Timer::E | Timer::G if reliable => return None,
            Timer::A | Timer::E | Timer::G => self.t1,
            Timer::B | Timer::F | Timer::H | Timer::L | Timer::M => t1x64,
            Timer::C => self.timer_c,
            // §17.1.1.2: "at least 32 seconds for unreliable transports".
            Timer::D => unreliable_only(Duration::from_secs(32).max(t1x64 / 2)),
            Timer::I | Timer::K => unreliable_only(self.t4),
            Timer::J => unreliable_only(t1x64),
        })
    }

    /// The retransmission interval after `current`: doubled, capped at T2 for E and G
    /// (§17.1.2.2, §17.2.1) and uncapped for A (§17.1.1.2).
    pub fn next_interval(&self, timer: Timer, current: Duration) -> Duration {
        let doubled = current.saturating_mul(2);
        match timer {
            Timer::A => doubled,
            _ => doubled.min(self.t2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_table_4() {
        let c = TimerConfig::default();
        let s = Duration::from_secs;
        assert_eq!(c.duration(Timer::B, false), Some(s(32)));
        assert_eq!(c.duration(Timer::F, true), Some(s(32)));
        assert_eq!(c.duration(Timer::D, false), Some(s(32)));
        assert_eq!(c.duration(Timer::D, true), Some(Duration::ZERO));
        assert_eq!(c.duration(Timer::K, false), Some(s(5)));
        assert_eq!(c.duration(Timer::J, false), Some(s(32)));
        assert_eq!(c.duration(Timer::J, true), Some(Duration::ZERO));
        assert_eq!(c.duration(Timer::I, true), Some(Duration::ZERO));
        assert_eq!(c.duration(Timer::A, true), None);
        assert_eq!(c.next_interval(Timer::E, s(2)), s(4));
        assert_eq!(c.next_interval(Timer::E, s(4)), s(4));
        assert_eq!(c.next_interval(Timer::A, s(4)), s(8));
    }
}
