//! Whether a UDP registrar is still there, sans-IO. On UDP nothing tells a client that its
//! registrar died: a keep-alive answered by STUN proves it alive (see [`crate::keepalive`]), but
//! a registrar that never answers STUN only gets double CRLFs, which prove nothing, and a
//! registration refreshed every 50 minutes would find out that late. So the registrar must be
//! heard from — a STUN answer, any response, any request from it — at least every
//! [`LivenessConfig::silence`]; after that long without a word the client asks it with an
//! `OPTIONS` (RFC 3261 §11: every server answers one; sent with `Max-Forwards: 0`, so a proxy
//! answers it itself, §16.3 step 2, without forwarding or challenging it), and a registrar that
//! has not answered [`LivenessConfig::timeout`] later is taken for dead: register again, and
//! back off while it stays away.
//!
//! With the defaults (40 s, 10 s) a dead registrar is noticed at most 50 s after its last word.
//! While STUN keep-alives are answered (every 25–29 s, 10 s to answer) the silence never reaches
//! 40 s, so no OPTIONS is sent: the check costs nothing where the keep-alive proves enough.
//! PJSIP and baresip send CRLF or STUN only and notice a dead UDP registrar at its next
//! refresh; this is what closes that gap.
//!
//! The caller reports what it heard with [`Liveness::heard`], calls
//! [`Liveness::handle_timeout`] at [`Liveness::poll_timeout`], sends an OPTIONS when
//! [`Liveness::poll_ask`] says so, and re-registers when [`Liveness::is_dead`] turns true
//! ([`Liveness::poll_dead`] reports it once).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use rtc_client::liveness::{Liveness, LivenessConfig};
//!
//! # #[allow(clippy::disallowed_methods)]
//! let registered = Instant::now();
//! let mut check = Liveness::new(LivenessConfig::default(), registered);
//! // 40 s without a word from the registrar: ask it.
//! let ask = check.poll_timeout().unwrap();
//! assert_eq!(ask, registered + Duration::from_secs(40));
//! check.handle_timeout(ask);
//! assert!(check.poll_ask());
//! // No answer within 10 s: it is gone.
//! let give_up = check.poll_timeout().unwrap();
//! check.handle_timeout(give_up);
//! assert!(check.poll_dead());
//! assert_eq!(give_up - registered, Duration::from_secs(50));
//! ```

use std::time::{Duration, Instant};

/// How long a registrar may stay silent, and how long it has to answer when asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivenessConfig {
    /// Silence after which the registrar is asked (an OPTIONS). Longer than the keep-alive's
    /// interval plus its timeout, so that a registrar answering STUN is never asked.
    pub silence: Duration,
    /// How long the asked registrar has to answer before it is taken for dead. Shorter than
    /// the OPTIONS transaction's own 32 s (64·T1), so that an outage is noticed within a
    /// minute: silence + timeout ≤ 60 s.
    pub timeout: Duration,
}

impl Default for LivenessConfig {
    fn default() -> Self {
        Self {
            silence: Duration::from_secs(40),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The liveness check of one registration's registrar.
#[derive(Debug)]
pub struct Liveness {
    config: LivenessConfig,
    /// When the registrar was last heard from.
    heard: Instant,
    /// The deadline of the question in flight.
    asking: Option<Instant>,
    ask_due: bool,
    dead: bool,
    dead_reported: bool,
}

impl Liveness {
    /// A check of a registrar last heard from `now` (its answer to our REGISTER).
    pub fn new(config: LivenessConfig, now: Instant) -> Self {
        Self {
            config,
            heard: now,
            asking: None,
            ask_due: false,
            dead: false,
            dead_reported: false,
        }
    }

    /// The registrar said something at `now` (a STUN answer, a response, a request): it lives.
    /// A registrar taken for dead stays so; the registration decides when it is back.
    pub fn heard(&mut self, now: Instant) {
        if !self.dead {
            self.heard = self.heard.max(now);
            self.asking = None;
        }
    }

    /// Asks after a long silence, or gives up on an unanswered question.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.dead {
            return;
        }
        match self.asking {
            Some(deadline) if now >= deadline => {
                self.asking = None;
                self.dead = true;
            }
            Some(_) => {}
            None if now >= self.heard + self.config.silence => {
                self.ask_due = true;
                self.asking = Some(now + self.config.timeout);
            }
            None => {}
        }
    }

    /// Whether to send the registrar an OPTIONS now (once per question: it is taken).
    pub fn poll_ask(&mut self) -> bool {
        std::mem::take(&mut self.ask_due)
    }

    /// Whether the registrar was just found dead (reported once).
    pub fn poll_dead(&mut self) -> bool {
        if self.dead && !self.dead_reported {
            self.dead_reported = true;
            return true;
        }
        false
    }

    /// Whether the registrar was taken for dead.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// When to call [`handle_timeout`](Self::handle_timeout); `None` once dead.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.dead {
            return None;
        }
        Some(self.asking.unwrap_or(self.heard + self.config.silence))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> Instant {
        #[allow(clippy::disallowed_methods)] // the simulated clock starts somewhere
        Instant::now()
    }

    #[test]
    fn a_registrar_heard_often_is_never_asked() {
        let t0 = start();
        let mut check = Liveness::new(LivenessConfig::default(), t0);
        // STUN answers at the keep-alive's longest spacing, 29 s plus 7.5 s of retransmissions.
        for i in 1..200u32 {
            let at = t0 + Duration::from_millis(36_500) * i;
            while let Some(due) = check.poll_timeout().filter(|&d| d <= at) {
                check.handle_timeout(due);
            }
            check.heard(at);
            assert!(!check.poll_ask(), "asked at probe {i}");
        }
        assert!(!check.is_dead());
    }

    #[test]
    fn an_answered_question_keeps_it_alive_and_restarts_the_silence() {
        let t0 = start();
        let mut check = Liveness::new(LivenessConfig::default(), t0);
        let ask = check.poll_timeout().unwrap();
        check.handle_timeout(ask);
        assert!(check.poll_ask());
        assert!(!check.poll_ask(), "asked once");
        check.heard(ask + Duration::from_millis(3));
        assert_eq!(
            check.poll_timeout(),
            Some(ask + Duration::from_millis(3) + Duration::from_secs(40))
        );
        assert!(!check.poll_dead());
    }

    #[test]
    fn an_unanswered_question_is_death_reported_once_and_final() {
        let t0 = start();
        let mut check = Liveness::new(LivenessConfig::default(), t0);
        let ask = check.poll_timeout().unwrap();
        check.handle_timeout(ask);
        assert!(check.poll_ask());
        // Not yet: 9.999 s.
        check.handle_timeout(ask + Duration::from_millis(9_999));
        assert!(!check.poll_dead());
        check.handle_timeout(ask + Duration::from_secs(10));
        assert!(check.poll_dead());
        assert!(!check.poll_dead(), "reported once");
        assert_eq!(check.poll_timeout(), None);
        // A late answer does not revive it: registering again decides that.
        check.heard(ask + Duration::from_secs(20));
        assert!(check.is_dead());
    }

    #[test]
    fn death_is_noticed_within_a_minute_of_the_last_word() {
        // Whenever the registrar dies after its last answer, with the defaults.
        let t0 = start();
        let mut check = Liveness::new(LivenessConfig::default(), t0);
        let mut now = t0;
        while !check.is_dead() {
            now = check.poll_timeout().unwrap();
            check.handle_timeout(now);
            check.poll_ask();
        }
        assert!(now - t0 <= Duration::from_secs(60), "{:?}", now - t0);
    }
}
