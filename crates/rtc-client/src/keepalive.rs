//! The keep-alive of a UDP flow to the registrar (RFC 5626 §4.4.1), sans-IO: a STUN Binding
//! request every 25–29 s keeps the NAT's mapping open, and its answer proves the registrar is
//! still there. A registrar that never answers STUN gets a double CRLF instead, which keeps
//! the mapping open but proves nothing.
//!
//! The caller sends what [`KeepAlive::poll_transmit`] gives, feeds STUN responses to
//! [`KeepAlive::handle_stun`], calls [`KeepAlive::handle_timeout`] at
//! [`KeepAlive::poll_timeout`], and acts on [`KeepAlive::poll_event`]: on
//! [`KeepAliveEvent::Failed`] the registrar went away (register again, back off), on
//! [`KeepAliveEvent::Recovered`] it is back (register again now), on
//! [`KeepAliveEvent::Mapped`] the NAT gave the flow a new public address (register again, so
//! the Contact follows).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use rtc_client::keepalive::{KeepAlive, KeepAliveConfig, KeepAliveEvent};
//! use sip_parse::Target;
//! use sip_transport::{StunIncoming, stun};
//!
//! # #[allow(clippy::disallowed_methods)]
//! let now = Instant::now();
//! let registrar = Target::udp("192.0.2.9:5060".parse()?);
//! let mut ka = KeepAlive::new(registrar, KeepAliveConfig::default(), now)?;
//! let first = ka.poll_timeout().unwrap();
//! // 25–29 s from now (29 s less up to a seventh, jittered).
//! assert!(first >= now + Duration::from_secs(24) && first <= now + Duration::from_secs(29));
//! ka.handle_timeout(first)?;
//! let (target, probe) = ka.poll_transmit().unwrap();
//! // The registrar answers (the transport reports its response).
//! let Ok(stun::StunMessage::Request { id }) = stun::parse(&probe) else { unreachable!() };
//! let answer = stun::binding_success(id, "203.0.113.7:40000".parse()?);
//! let local = "10.0.0.5:5060".parse()?;
//! let message = stun::parse(&answer)?;
//! ka.handle_stun(first, &StunIncoming { message, source: target.addr, local })?;
//! // Then it goes silent: the next probe, retransmitted, is unanswered for 10 s.
//! let second = ka.poll_timeout().unwrap();
//! while let Some(at) = ka.poll_timeout().filter(|&t| t <= second + Duration::from_secs(10)) {
//!     ka.handle_timeout(at)?;
//!     while ka.poll_transmit().is_some() {}
//! }
//! assert_eq!(ka.poll_event(), Some(KeepAliveEvent::Failed));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_parse::Target;
use sip_transport::StunIncoming;
use sip_transport::stun::{self, StunMessage, TransactionId};

use crate::Result;

/// How often and how patiently to probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAliveConfig {
    /// The longest time between probes; each wait is drawn from its last seventh below it
    /// (29 s: 24.9–29 s), so that many clients behind one NAT do not probe in step
    /// (RFC 5626 §4.4.1 asks for 80–100 % of the interval; a seventh keeps the default inside
    /// the 25–29 s that common NAT timeouts of 30 s allow).
    pub interval: Duration,
    /// How long a probe may go unanswered, across its retransmissions, before the flow is
    /// declared failed.
    pub timeout: Duration,
}

impl Default for KeepAliveConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(29),
            timeout: Duration::from_secs(10),
        }
    }
}

/// What the keep-alive found out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeepAliveEvent {
    /// A probe went unanswered for the whole timeout: the registrar (or the path to it) is gone.
    Failed,
    /// The registrar answers again after a failure, or after a probe that needed
    /// retransmitting (it may have restarted and forgotten us).
    Recovered,
    /// The registrar saw this flow from another address than before: the NAT's mapping changed.
    Mapped(SocketAddr),
}

/// The first retransmission interval of a probe (RFC 8489 §6.2.1's RTO).
const RTO: Duration = Duration::from_millis(500);
/// Probes sent, never answered, before a registrar is taken not to speak STUN.
const STUN_TRIES: u32 = 3;
const CRLF: &[u8] = b"\r\n\r\n";

#[derive(Debug)]
struct Probe {
    id: TransactionId,
    /// When the whole probe gives up.
    deadline: Instant,
    /// When to send the next copy, and the wait after it.
    resend: Instant,
    rto: Duration,
    retransmitted: bool,
}

/// The keep-alive state of one UDP flow.
#[derive(Debug)]
pub struct KeepAlive {
    target: Target,
    config: KeepAliveConfig,
    next: Instant,
    probe: Option<Probe>,
    /// Whether the registrar ever answered STUN; until it does, failures are not failures.
    answered: bool,
    /// Probes in a row that were never answered, before any answer.
    unanswered: u32,
    /// Double CRLF instead of STUN: the registrar does not answer STUN.
    crlf: bool,
    dead: bool,
    mapped: Option<SocketAddr>,
    out: VecDeque<(Target, Bytes)>,
    events: VecDeque<KeepAliveEvent>,
}

impl KeepAlive {
    /// A keep-alive for the flow to `target`, first probing one interval from `now`.
    pub fn new(target: Target, config: KeepAliveConfig, now: Instant) -> Result<Self> {
        let mut ka = Self {
            target,
            config,
            next: now,
            probe: None,
            answered: false,
            unanswered: 0,
            crlf: false,
            dead: false,
            mapped: None,
            out: VecDeque::new(),
            events: VecDeque::new(),
        };
        ka.next = now + ka.jittered()?;
        Ok(ka)
    }

    /// The flow it keeps.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Whether the last probe went unanswered (until one is answered again).
    pub fn is_failed(&self) -> bool {
        self.dead
    }

    /// A STUN response that arrived; ignored unless it answers our probe.
    pub fn handle_stun(&mut self, now: Instant, incoming: &StunIncoming) -> Result<()> {
        let Some(probe) = &self.probe else {
            return Ok(());
        };
        if incoming.message.id() != probe.id || incoming.source != self.target.addr {
            return Ok(());
        }
        let needed_retransmission = probe.retransmitted;
        self.probe = None;
        self.answered = true;
        self.unanswered = 0;
        if self.dead || needed_retransmission {
            self.dead = false;
            self.events.push_back(KeepAliveEvent::Recovered);
        }
        if let StunMessage::Success {
            mapped: Some(addr), ..
        } = incoming.message
        {
            if self.mapped.is_some_and(|m| m != addr) {
                self.events.push_back(KeepAliveEvent::Mapped(addr));
            }
            self.mapped = Some(addr);
        }
        self.next = now + self.jittered()?;
        Ok(())
    }

    /// Sends the probe or retransmission that is due, or gives up on one.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<()> {
        if let Some(probe) = &mut self.probe {
            if now >= probe.deadline {
                self.probe = None;
                self.unanswered += 1;
                if self.answered {
                    if !self.dead {
                        self.dead = true;
                        self.events.push_back(KeepAliveEvent::Failed);
                    }
                } else if self.unanswered >= STUN_TRIES {
                    // Never answered: a registrar without STUN. Keep the mapping open anyway.
                    self.crlf = true;
                }
                self.next = now + self.jittered()?;
            } else if now >= probe.resend {
                probe.retransmitted = true;
                probe.rto = probe.rto.saturating_mul(2);
                probe.resend = (now + probe.rto).min(probe.deadline);
                self.out
                    .push_back((self.target.clone(), stun::binding_request(probe.id).into()));
            }
            return Ok(());
        }
        if now < self.next {
            return Ok(());
        }
        if self.crlf {
            self.out
                .push_back((self.target.clone(), Bytes::from_static(CRLF)));
            self.next = now + self.jittered()?;
            return Ok(());
        }
        let mut id = [0u8; 12];
        sip_txn::random_bytes(&mut id)?;
        let id = TransactionId(id);
        self.out
            .push_back((self.target.clone(), stun::binding_request(id).into()));
        self.probe = Some(Probe {
            id,
            deadline: now + self.config.timeout,
            resend: now + RTO,
            rto: RTO,
            retransmitted: false,
        });
        Ok(())
    }

    /// The next datagram to send, and where.
    pub fn poll_transmit(&mut self) -> Option<(Target, Bytes)> {
        self.out.pop_front()
    }

    /// The next finding.
    pub fn poll_event(&mut self) -> Option<KeepAliveEvent> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        Some(match &self.probe {
            Some(p) => p.resend.min(p.deadline),
            None => self.next,
        })
    }

    /// The wait before the next probe: the interval less up to a seventh of it, at random.
    fn jittered(&self) -> Result<Duration> {
        let mut r = [0u8; 2];
        sip_txn::random_bytes(&mut r)?;
        let fraction = f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX);
        Ok(self.config.interval - self.config.interval.mul_f64(fraction / 7.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> Instant {
        #[allow(clippy::disallowed_methods)] // the simulated clock starts somewhere
        Instant::now()
    }

    const REGISTRAR: &str = "192.0.2.9:5060";

    fn keepalive(now: Instant) -> KeepAlive {
        KeepAlive::new(
            Target::udp(REGISTRAR.parse().unwrap()),
            KeepAliveConfig::default(),
            now,
        )
        .unwrap()
    }

    /// Runs the timers up to `until`; returns the datagrams sent.
    fn run(ka: &mut KeepAlive, until: Instant) -> Vec<Bytes> {
        let mut sent = Vec::new();
        while let Some(at) = ka.poll_timeout().filter(|&t| t <= until) {
            ka.handle_timeout(at).unwrap();
            sent.extend(std::iter::from_fn(|| ka.poll_transmit()).map(|(_, b)| b));
        }
        sent
    }

    fn answer(ka: &mut KeepAlive, now: Instant, probe: &[u8], mapped: &str) {
        let Ok(StunMessage::Request { id }) = stun::parse(probe) else {
            panic!("not a STUN request");
        };
        let message = stun::parse(&stun::binding_success(id, mapped.parse().unwrap())).unwrap();
        ka.handle_stun(
            now,
            &StunIncoming {
                message,
                source: REGISTRAR.parse().unwrap(),
                local: "10.0.0.5:5060".parse().unwrap(),
            },
        )
        .unwrap();
    }

    fn events(ka: &mut KeepAlive) -> Vec<KeepAliveEvent> {
        std::iter::from_fn(|| ka.poll_event()).collect()
    }

    #[test]
    fn probes_come_every_25_to_29_seconds_while_answered() {
        let t0 = start();
        let mut ka = keepalive(t0);
        let mut last = t0;
        for _ in 0..50 {
            let at = ka.poll_timeout().unwrap();
            let gap = at - last;
            assert!(
                gap >= Duration::from_millis(24_800) && gap <= Duration::from_secs(29),
                "{gap:?}"
            );
            let sent = run(&mut ka, at);
            assert_eq!(sent.len(), 1);
            answer(&mut ka, at, &sent[0], "203.0.113.7:40000");
            last = at;
        }
        assert_eq!(events(&mut ka), []);
    }

    #[test]
    fn an_unanswered_probe_is_retransmitted_then_fails_the_flow_once() {
        let t0 = start();
        let mut ka = keepalive(t0);
        let first = ka.poll_timeout().unwrap();
        let sent = run(&mut ka, first);
        answer(&mut ka, first, &sent[0], "203.0.113.7:40000");
        // The registrar goes away: the next probe is sent at 0, 0.5, 1.5, 3.5 and 7.5 s.
        let probe_at = ka.poll_timeout().unwrap();
        let sent = run(&mut ka, probe_at + Duration::from_millis(9_999));
        assert_eq!(sent.len(), 5);
        assert!(sent.windows(2).all(|w| w[0] == w[1]), "one transaction");
        assert_eq!(events(&mut ka), []);
        run(&mut ka, probe_at + Duration::from_secs(10));
        assert_eq!(events(&mut ka), [KeepAliveEvent::Failed]);
        assert!(ka.is_failed());
        // Still gone at the next probes: no second Failed.
        let later = ka.poll_timeout().unwrap() + Duration::from_secs(60);
        run(&mut ka, later);
        assert_eq!(events(&mut ka), []);
        // Back: the next answered probe says so.
        let next = ka.poll_timeout().unwrap();
        let sent = run(&mut ka, next);
        answer(&mut ka, next, &sent[0], "203.0.113.7:40000");
        assert_eq!(events(&mut ka), [KeepAliveEvent::Recovered]);
        assert!(!ka.is_failed());
    }

    #[test]
    fn an_answer_that_needed_a_retransmission_is_a_recovery() {
        // A registrar that restarted within one probe forgot our binding.
        let t0 = start();
        let mut ka = keepalive(t0);
        let first = ka.poll_timeout().unwrap();
        let sent = run(&mut ka, first);
        answer(&mut ka, first, &sent[0], "203.0.113.7:40000");
        let at = ka.poll_timeout().unwrap();
        let sent = run(&mut ka, at + Duration::from_millis(600));
        assert_eq!(sent.len(), 2);
        answer(
            &mut ka,
            at + Duration::from_millis(700),
            &sent[1],
            "203.0.113.7:40000",
        );
        assert_eq!(events(&mut ka), [KeepAliveEvent::Recovered]);
    }

    #[test]
    fn a_new_mapping_is_reported() {
        let t0 = start();
        let mut ka = keepalive(t0);
        let at = ka.poll_timeout().unwrap();
        let sent = run(&mut ka, at);
        answer(&mut ka, at, &sent[0], "203.0.113.7:40000");
        let at = ka.poll_timeout().unwrap();
        let sent = run(&mut ka, at);
        answer(&mut ka, at, &sent[0], "203.0.113.7:41234");
        assert_eq!(
            events(&mut ka),
            [KeepAliveEvent::Mapped("203.0.113.7:41234".parse().unwrap())]
        );
    }

    #[test]
    fn a_registrar_without_stun_gets_double_crlf_and_no_failure() {
        let t0 = start();
        let mut ka = keepalive(t0);
        let sent = run(&mut ka, t0 + Duration::from_secs(3 * 40));
        assert!(sent.iter().all(|d| stun::is_stun(d)));
        let sent = run(&mut ka, t0 + Duration::from_secs(3 * 40 + 60));
        assert!(!sent.is_empty());
        assert!(sent.iter().all(|d| d.as_ref() == CRLF), "{sent:?}");
        assert_eq!(events(&mut ka), []);
    }

    #[test]
    fn strangers_and_other_transactions_are_ignored() {
        let t0 = start();
        let mut ka = keepalive(t0);
        let at = ka.poll_timeout().unwrap();
        run(&mut ka, at);
        let message = stun::parse(&stun::binding_success(
            TransactionId([9; 12]),
            "198.51.100.1:1".parse().unwrap(),
        ))
        .unwrap();
        ka.handle_stun(
            at,
            &StunIncoming {
                message,
                source: REGISTRAR.parse().unwrap(),
                local: "10.0.0.5:5060".parse().unwrap(),
            },
        )
        .unwrap();
        run(&mut ka, at + Duration::from_secs(11));
        // Never answered before: not a failure, just a probe the registrar did not take.
        assert_eq!(events(&mut ka), []);
    }
}
