//! Every timer path of RFC 3261 §17 (and RFC 6026), on a simulated clock: no sleeping.

use std::time::{Duration, Instant};

use sip_parse::{Message, Method};
use sip_txn::testkit::{self, CLIENT_ADDR, SERVER_ADDR};
use sip_txn::{
    ClientKey, Event, ServerKey, Target, TerminationReason, TimerConfig, TransactionLayer,
    TransportKind,
};

const MS: fn(u64) -> Duration = Duration::from_millis;
const SECS: fn(u64) -> Duration = Duration::from_secs;

/// One layer driven alone: what it sent and reported, with times relative to `start`.
struct Solo {
    layer: TransactionLayer,
    start: Instant,
    now: Instant,
    sent: Vec<(Duration, Message)>,
    events: Vec<(Duration, Event)>,
}

impl Solo {
    fn new() -> Self {
        let start = testkit::epoch();
        Self {
            layer: TransactionLayer::default(),
            start,
            now: start,
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    fn drain(&mut self) {
        let at = self.now - self.start;
        while let Some(t) = self.layer.poll_transmit() {
            self.sent.push((at, Message::parse(t.payload).unwrap()));
        }
        while let Some(e) = self.layer.poll_event() {
            self.events.push((at, e));
        }
    }

    /// Runs timers until `until` after the start.
    fn run_until(&mut self, until: Duration) {
        self.drain();
        while let Some(at) = self.layer.poll_timeout() {
            if at - self.start > until {
                break;
            }
            self.now = at;
            self.layer.handle_timeout(at);
            self.drain();
        }
        self.now = self.now.max(self.start + until);
    }

    fn advance_to(&mut self, t: Duration) {
        self.run_until(t);
    }

    fn receive(&mut self, from: Target, msg: Message) {
        self.layer.handle_message(self.now, from, msg).unwrap();
        self.drain();
    }

    fn send_times(&self) -> Vec<Duration> {
        self.sent.iter().map(|(t, _)| *t).collect()
    }

    fn terminated(&self) -> Option<(Duration, TerminationReason)> {
        self.events.iter().find_map(|(t, e)| match e {
            Event::Terminated { reason, .. } => Some((*t, *reason)),
            _ => None,
        })
    }

    fn new_request(&mut self) -> (ServerKey, Message) {
        self.events
            .iter()
            .rev()
            .find_map(|(_, e)| match e {
                Event::Request { key, request, .. } => Some((*key, request.clone())),
                _ => None,
            })
            .expect("a request event")
    }

    /// Sends `req` to `to` as a client transaction, now.
    fn send(&mut self, req: &Message, to: Target) -> ClientKey {
        self.layer.send_request(self.now, req.clone(), to).unwrap()
    }

    /// Receives the request `req` from `from`; returns the server transaction it started.
    fn receive_request(&mut self, from: Target, req: &Message) -> ServerKey {
        self.receive(from, req.clone());
        self.new_request().0
    }

    /// Sends `rsp` in the server transaction `key`, now.
    fn respond(&mut self, key: ServerKey, rsp: Message) {
        self.layer.send_response(self.now, key, rsp).unwrap();
        self.drain();
    }

    /// How many of the reported events `matches` accepts.
    fn count_events(&self, matches: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|(_, e)| matches(e)).count()
    }

    /// When a response with `code` was sent.
    fn sent_with_status(&self, code: u16) -> Vec<Duration> {
        self.sent
            .iter()
            .filter(|(_, m)| m.status() == Some(code))
            .map(|(t, _)| *t)
            .collect()
    }

    /// The transaction ended at `at` for `reason`.
    #[track_caller]
    fn ended(&self, at: Duration, reason: TerminationReason) {
        assert_eq!(self.terminated(), Some((at, reason)));
    }

    /// Runs every timer up to a minute after the start; the transaction ended at `at` for
    /// `reason`.
    #[track_caller]
    fn runs_out(&mut self, at: Duration, reason: TerminationReason) {
        self.run_until(SECS(60));
        self.ended(at, reason);
    }
}

fn udp(addr: std::net::SocketAddr) -> Target {
    Target::udp(addr)
}

fn secs(v: &[f64]) -> Vec<Duration> {
    v.iter().map(|s| Duration::from_secs_f64(*s)).collect()
}

#[test]
fn timer_e_backoff_capped_at_t2_and_timer_f_timeout() {
    let mut s = Solo::new();
    let req = testkit::request(Method::Options, TransportKind::Udp, 1);
    s.send(&req, udp(SERVER_ADDR));
    s.run_until(SECS(60));
    // T1, 2T1, 4T1, then T2 = 4 s each time (§17.1.2.2).
    assert_eq!(
        s.send_times(),
        secs(&[0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5])
    );
    s.ended(SECS(32), TerminationReason::Timeout);
    assert!(s.layer.is_empty());
}

#[test]
fn timer_e_uses_t2_in_proceeding() {
    let mut s = Solo::new();
    let req = testkit::request(Method::Options, TransportKind::Udp, 1);
    s.send(&req, udp(SERVER_ADDR));
    s.advance_to(MS(200));
    s.receive(udp(SERVER_ADDR), testkit::response(&req, 100, "Trying"));
    s.run_until(SECS(10));
    // The first E (0.5 s) was armed before; after it fires in Proceeding, every interval is T2.
    assert_eq!(s.send_times(), secs(&[0.0, 0.5, 4.5, 8.5]));
}

#[test]
fn timer_a_doubles_and_timer_b_times_out() {
    let mut s = Solo::new();
    let req = testkit::request(Method::Invite, TransportKind::Udp, 1);
    s.send(&req, udp(SERVER_ADDR));
    s.run_until(SECS(60));
    // §17.1.1.2: A doubles without the T2 cap.
    assert_eq!(s.send_times(), secs(&[0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]));
    s.ended(SECS(32), TerminationReason::Timeout);
}

#[test]
fn configured_t1_t2_scale_every_timer() {
    let cfg = TimerConfig {
        t1: MS(100),
        t2: MS(300),
        t4: MS(1000),
        ..TimerConfig::default()
    };
    let mut s = Solo::new();
    s.layer = TransactionLayer::new(cfg);
    let req = testkit::request(Method::Message, TransportKind::Udp, 1);
    s.send(&req, udp(SERVER_ADDR));
    s.run_until(SECS(10));
    let t = s.send_times();
    assert_eq!(&t[..5], &secs(&[0.0, 0.1, 0.3, 0.6, 0.9])[..]);
    s.ended(MS(6400), TerminationReason::Timeout);
}

#[test]
fn reliable_transport_never_retransmits() {
    for method in [Method::Options, Method::Invite] {
        let mut s = Solo::new();
        let req = testkit::request(method, TransportKind::Tcp, 1);
        s.send(&req, Target::tcp(SERVER_ADDR));
        s.run_until(SECS(60));
        assert_eq!(s.send_times(), secs(&[0.0]), "{method}");
        // Timer B / F still guard the transaction.
        s.ended(SECS(32), TerminationReason::Timeout);
    }
}

#[test]
fn timer_k_waits_t4_over_udp_and_zero_over_tcp() {
    for (target, k) in [
        (Target::udp(SERVER_ADDR), SECS(5)),
        (Target::tcp(SERVER_ADDR), Duration::ZERO),
    ] {
        let mut s = Solo::new();
        let req = testkit::request(Method::Options, target.transport, 1);
        let key = s.send(&req, target.clone());
        s.advance_to(MS(100));
        s.receive(target.clone(), testkit::response(&req, 200, "OK"));
        // A retransmitted final response is absorbed (Completed).
        s.receive(target.clone(), testkit::response(&req, 200, "OK"));
        let responses =
            s.count_events(|e| matches!(e, Event::Response { key: k, .. } if *k == key));
        assert_eq!(responses, 1);
        s.runs_out(MS(100) + k, TerminationReason::Normal);
    }
}

#[test]
fn timer_d_acks_every_final_retransmission() {
    for (target, d) in [
        (Target::udp(SERVER_ADDR), SECS(32)),
        (Target::tcp(SERVER_ADDR), Duration::ZERO),
    ] {
        let mut s = Solo::new();
        let req = testkit::request(Method::Invite, target.transport, 7);
        s.send(&req, target.clone());
        s.advance_to(MS(100));
        let busy = testkit::response(&req, 486, "Busy Here");
        s.receive(target.clone(), busy.clone());
        if !target.is_reliable() {
            s.advance_to(MS(600));
            s.receive(target.clone(), busy.clone());
        }
        let acks: Vec<&Message> = s
            .sent
            .iter()
            .map(|(_, m)| m)
            .filter(|m| m.method() == Some(Method::Ack))
            .collect();
        assert_eq!(acks.len(), if target.is_reliable() { 1 } else { 2 });
        // §17.1.1.3: the ACK carries the INVITE's branch and CSeq number, the response's To.
        let ack = acks[0];
        assert_eq!(
            ack.top_via().unwrap().branch(),
            req.top_via().unwrap().branch()
        );
        assert_eq!(ack.cseq().unwrap().seq, 7);
        assert_eq!(ack.cseq().unwrap().method, Method::Ack);
        assert_eq!(ack.to_header().unwrap().tag(), Some("b1"));
        assert_eq!(ack.request_uri(), req.request_uri());
        let finals = s.count_events(|e| matches!(e, Event::Response { .. }));
        assert_eq!(finals, 1, "retransmitted final responses are not passed up");
        s.runs_out(MS(100) + d, TerminationReason::Normal);
    }
}

#[test]
fn client_accepted_state_passes_2xx_up_until_timer_m() {
    let mut s = Solo::new();
    let req = testkit::request(Method::Invite, TransportKind::Udp, 1);
    s.send(&req, udp(SERVER_ADDR));
    s.advance_to(MS(100));
    let ok = testkit::response(&req, 200, "OK");
    s.receive(udp(SERVER_ADDR), ok.clone());
    s.advance_to(MS(600));
    s.receive(udp(SERVER_ADDR), ok);
    let oks = s.count_events(|e| matches!(e, Event::Response { .. }));
    assert_eq!(oks, 2, "RFC 6026 §8.4: each 2xx goes to the user");
    // The transaction sends no ACK for a 2xx, and no retransmission after the 2xx.
    assert_eq!(s.send_times(), secs(&[0.0]));
    s.runs_out(MS(100 + 32_000), TerminationReason::Normal);
}

#[test]
fn server_invite_retransmits_final_with_timer_g_until_h() {
    let mut s = Solo::new();
    let invite = testkit::request(Method::Invite, TransportKind::Udp, 1);
    let key = s.receive_request(udp(CLIENT_ADDR), &invite);
    assert_eq!(s.sent[0].1.status(), Some(100), "100 Trying at once");
    s.respond(key, testkit::response(&invite, 486, "Busy Here"));
    s.run_until(SECS(60));
    // G: T1, 2T1, 4T1, then T2 (§17.2.1), until H at 64·T1.
    assert_eq!(
        s.sent_with_status(486),
        secs(&[0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5])
    );
    s.ended(SECS(32), TerminationReason::Timeout);
}

#[test]
fn server_invite_ack_stops_g_and_timer_i_absorbs_ack_retransmissions() {
    let mut s = Solo::new();
    let invite = testkit::request(Method::Invite, TransportKind::Udp, 1);
    let key = s.receive_request(udp(CLIENT_ADDR), &invite);
    let busy = testkit::response(&invite, 486, "Busy Here");
    s.respond(key, busy.clone());
    s.advance_to(MS(700)); // one G retransmission at 0.5 s
    let ack = Message::parse(
        sip_parse::MessageBuilder::request(Method::Ack, "sip:bob@192.0.2.2")
            .header(
                "Via",
                invite.header_str(sip_parse::HeaderName::Via).unwrap(),
            )
            .unwrap()
            .header("From", "<sip:alice@192.0.2.1>;tag=a1")
            .unwrap()
            .header("To", "<sip:bob@192.0.2.2>;tag=b1")
            .unwrap()
            .header("Call-ID", "call-1@192.0.2.1")
            .unwrap()
            .header("CSeq", "1 ACK")
            .unwrap()
            .build(),
    )
    .unwrap();
    s.receive(udp(CLIENT_ADDR), ack.clone());
    s.advance_to(MS(1000));
    s.receive(udp(CLIENT_ADDR), ack);
    s.run_until(SECS(60));
    let finals = s.sent_with_status(486).len();
    assert_eq!(finals, 2);
    assert!(
        !s.events.iter().any(|(_, e)| matches!(e, Event::Ack { .. })),
        "the ACK for a non-2xx belongs to the transaction"
    );
    s.ended(MS(700) + SECS(5), TerminationReason::Normal);
}

#[test]
fn server_invite_accepted_absorbs_invite_retransmissions_and_passes_ack_up() {
    let mut s = Solo::new();
    let invite = testkit::request(Method::Invite, TransportKind::Udp, 1);
    let key = s.receive_request(udp(CLIENT_ADDR), &invite);
    let ok = testkit::response(&invite, 200, "OK");
    s.respond(key, ok.clone());
    // RFC 6026 §7.1: the user retransmits the 2xx through the transaction.
    s.advance_to(MS(500));
    s.respond(key, ok);
    let sent_before = s.sent.len();
    s.receive(udp(CLIENT_ADDR), invite.clone());
    assert_eq!(s.sent.len(), sent_before, "INVITE retransmission absorbed");
    let ack = testkit::request(Method::Ack, TransportKind::Udp, 1);
    s.receive(udp(CLIENT_ADDR), ack);
    assert!(s.events.iter().any(|(_, e)| matches!(e, Event::Ack { .. })));
    s.run_until(SECS(60));
    assert_eq!(
        s.terminated(),
        Some((SECS(32), TerminationReason::Normal)),
        "timer L"
    );
}

#[test]
fn server_non_invite_absorbs_retransmissions_and_waits_timer_j() {
    for (target, j) in [
        (Target::udp(CLIENT_ADDR), SECS(32)),
        (Target::tcp(CLIENT_ADDR), Duration::ZERO),
    ] {
        let mut s = Solo::new();
        let req = testkit::request(Method::Options, target.transport, 1);
        s.receive(target.clone(), req.clone());
        // Trying: a retransmission is absorbed silently and not passed up again.
        s.receive(target.clone(), req.clone());
        assert!(s.sent.is_empty());
        let requests = s.count_events(|e| matches!(e, Event::Request { .. }));
        assert_eq!(requests, 1);
        let (key, _) = s.new_request();
        s.advance_to(MS(100));
        s.respond(key, testkit::response(&req, 200, "OK"));
        if !target.is_reliable() {
            // Completed: the retransmitted request gets the last response again.
            s.advance_to(MS(300));
            s.receive(target.clone(), req.clone());
            assert_eq!(s.send_times(), vec![MS(100), MS(300)]);
        }
        s.runs_out(MS(100) + j, TerminationReason::Normal);
    }
}

#[test]
fn server_non_invite_resends_provisional_in_proceeding() {
    let mut s = Solo::new();
    let req = testkit::request(Method::Subscribe, TransportKind::Udp, 1);
    let key = s.receive_request(udp(CLIENT_ADDR), &req);
    s.respond(key, testkit::response(&req, 180, "Wait"));
    s.receive(udp(CLIENT_ADDR), req);
    let codes: Vec<_> = s.sent.iter().map(|(_, m)| m.status()).collect();
    assert_eq!(codes, [Some(180), Some(180)]);
}

#[test]
fn transport_error_fails_a_transaction_at_once() {
    let mut s = Solo::new();
    let req = testkit::request(Method::Options, TransportKind::Tcp, 1);
    let key = s.send(&req, Target::tcp(SERVER_ADDR));
    s.advance_to(MS(20));
    s.layer.handle_transport_error(s.now, key);
    s.drain();
    s.ended(MS(20), TerminationReason::TransportError);
    assert!(s.layer.is_empty());
    assert_eq!(s.layer.poll_timeout(), None, "its timers are gone");
}

#[test]
fn stray_responses_are_dropped() {
    let mut s = Solo::new();
    let req = testkit::request(Method::Options, TransportKind::Udp, 1);
    s.receive(udp(SERVER_ADDR), testkit::response(&req, 200, "OK"));
    assert!(s.events.is_empty() && s.sent.is_empty());
}

#[test]
fn state_per_transaction_is_under_one_kib() {
    let bytes = TransactionLayer::state_size();
    println!("state per transaction beyond its messages: {bytes} bytes");
    assert!(bytes <= 1024, "{bytes}");
}

#[test]
fn hundred_thousand_concurrent_client_transactions() {
    // The full 100,000 in release builds; a tenth keeps debug test runs quick.
    let n: u32 = if cfg!(debug_assertions) {
        10_000
    } else {
        100_000
    };
    let mut layer = TransactionLayer::default();
    let now = testkit::epoch();
    for i in 0..n {
        let req = testkit::request(Method::Options, TransportKind::Tcp, i);
        layer
            .send_request(now, req, Target::tcp(SERVER_ADDR))
            .unwrap();
    }
    while layer.poll_transmit().is_some() {}
    assert_eq!(layer.len(), n as usize);
    let t = layer.poll_timeout().unwrap();
    layer.handle_timeout(t);
    let timeouts = std::iter::from_fn(|| layer.poll_event())
        .filter(|e| {
            matches!(
                e,
                Event::Terminated {
                    reason: TerminationReason::Timeout,
                    ..
                }
            )
        })
        .count();
    assert_eq!(timeouts, n as usize);
    assert!(layer.is_empty());
}

#[test]
fn timer_c_bounds_an_invite_stuck_in_proceeding() {
    let mut s = Solo::new();
    let req = testkit::request(Method::Invite, TransportKind::Udp, 1);
    s.send(&req, udp(SERVER_ADDR));
    s.advance_to(MS(100));
    s.receive(udp(SERVER_ADDR), testkit::response(&req, 180, "Ringing"));
    s.advance_to(SECS(100));
    // Each provisional response restarts timer C.
    s.receive(udp(SERVER_ADDR), testkit::response(&req, 183, "Progress"));
    s.run_until(SECS(400));
    assert_eq!(
        s.send_times(),
        secs(&[0.0]),
        "no retransmission in Proceeding"
    );
    s.ended(SECS(100 + 181), TerminationReason::Timeout);
}

#[test]
fn server_invite_over_tcp_sends_its_final_once_and_timer_i_is_zero() {
    let mut s = Solo::new();
    let tcp = Target::tcp(CLIENT_ADDR);
    let invite = testkit::request(Method::Invite, TransportKind::Tcp, 1);
    let key = s.receive_request(tcp.clone(), &invite);
    s.respond(key, testkit::response(&invite, 603, "Decline"));
    s.advance_to(SECS(10));
    let finals = s.sent_with_status(603).len();
    assert_eq!(finals, 1, "no timer G over a reliable transport");
    let ack = testkit::request(Method::Ack, TransportKind::Tcp, 1);
    // Same branch as the INVITE: the testkit gives each request a fresh one, so reuse the Via.
    let ack = Message::parse(bytes::Bytes::from(
        String::from_utf8_lossy(ack.as_bytes()).replace(
            ack.header_str(sip_parse::HeaderName::Via).unwrap(),
            invite.header_str(sip_parse::HeaderName::Via).unwrap(),
        ),
    ))
    .unwrap();
    s.receive(tcp, ack);
    assert_eq!(
        s.terminated(),
        Some((SECS(10), TerminationReason::Normal)),
        "Confirmed ends at once: timer I is zero"
    );
}
