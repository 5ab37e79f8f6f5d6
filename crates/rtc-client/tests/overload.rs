//! Issue 15 item 3 against the embedded registrar, at reduced scale on a simulated clock: 30,000
//! REGISTERs at 10,000 a second into a server capped at 2,000 live transactions. Every request
//! is answered exactly once, with its 401 (then 200 once authenticated) or a 503 with
//! Retry-After; nothing accepted is dropped (a retransmission of an accepted request gets its
//! answer again, never a 503); and once timer J has run, the room is there again. The full
//! scale (300,000 at 10,000/s over UDP, peak memory) is `benches/register-flood.sh`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc_client::server::{RegistrarProxy, ServerConfig};
use sip_parse::{HeaderName, Message, Target, TransportKind};
use sip_txn::Limits;
use sip_txn::digest::{Credentials, DigestClient};

const TOTAL: u32 = 30_000;
const USERS: u32 = 50;
const CAP: usize = 2_000;
const RETRY_AFTER: u32 = 5;

fn user(i: u32) -> String {
    format!("u{}", i % USERS)
}

/// Where request `i` comes from: 200 hosts.
fn source(i: u32) -> Target {
    Target::udp(format!("192.0.2.{}:5060", i % 200 + 1).parse().unwrap())
}

/// REGISTER number `i` of its own Call-ID, branch `branch`, CSeq `cseq`, with `auth` lines.
fn register(i: u32, branch: &str, cseq: u32, auth: &[String]) -> Message {
    let u = user(i);
    let host = i % 200 + 1;
    let mut text = format!(
        "REGISTER sip:example.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.{host}:5060;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{u}@example.test>;tag=f{i}\r\n\
         To: <sip:{u}@example.test>\r\n\
         Call-ID: flood-{i}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{u}@192.0.2.{host}:5060>\r\n\
         Expires: 600\r\n"
    );
    for a in auth {
        text.push_str(a);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    Message::parse(Bytes::from(text)).unwrap()
}

/// What each branch sent and got.
#[derive(Default)]
struct Ledger {
    sent: HashMap<String, u32>,
    answers: HashMap<String, Vec<u16>>,
    /// Retry-After of every 503.
    retry_after: Vec<Option<String>>,
    /// 401s, with the request they answer, to be answered with credentials.
    challenges: Vec<(u32, Message)>,
}

struct Lab {
    server: RegistrarProxy,
    now: Instant,
    ledger: Ledger,
}

impl Lab {
    fn send(&mut self, i: u32, branch: &str, msg: Message) {
        *self.ledger.sent.entry(branch.to_owned()).or_default() += 1;
        self.server.handle_message(self.now, source(i), msg);
        self.drain(Some(i));
    }

    fn advance(&mut self, to: Instant) {
        self.now = to;
        while self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_timeout(self.now);
            self.drain(None);
        }
    }

    fn drain(&mut self, i: Option<u32>) {
        while let Some(t) = self.server.poll_transmit() {
            let rsp = Message::parse(t.payload).unwrap();
            let status = rsp
                .status()
                .expect("only responses leave the registrar here");
            let branch = rsp.top_via().unwrap().branch().unwrap()["z9hG4bK".len()..].to_owned();
            match status {
                503 => self
                    .ledger
                    .retry_after
                    .push(rsp.header_str(HeaderName::RetryAfter).map(str::to_owned)),
                401 if branch.starts_with('r') => {
                    if let Some(i) = i {
                        self.ledger.challenges.push((i, rsp.clone()));
                    }
                }
                _ => {}
            }
            self.ledger.answers.entry(branch).or_default().push(status);
        }
    }
}

#[test]
fn a_register_flood_is_answered_in_full_within_the_cap() {
    let mut config = ServerConfig::new("example.test");
    for u in 0..USERS {
        config = config.user(format!("u{u}"), format!("pw-u{u}"));
    }
    config.limits = Limits {
        max_server: CAP,
        retry_after: RETRY_AFTER,
        ..Limits::default()
    };
    #[allow(clippy::disallowed_methods)] // the simulated clock starts somewhere
    let start = Instant::now();
    let listeners = [(TransportKind::Udp, "192.0.2.5:5060".parse().unwrap())];
    let mut lab = Lab {
        server: RegistrarProxy::new(config, &listeners, start).unwrap(),
        now: start,
        ledger: Ledger::default(),
    };
    let mut retransmit = Vec::new();
    for i in 0..TOTAL {
        // 10,000 a second.
        lab.advance(start + Duration::from_micros(u64::from(i) * 100));
        let branch = format!("r{i}");
        lab.send(i, &branch, register(i, &branch, 1, &[]));
        // Every fourth challenged user answers with credentials at once; every seventh
        // accepted request is sent again (a retransmission, as if the 401 were lost).
        while let Some((j, challenge)) = lab.ledger.challenges.pop() {
            let first = register(j, &format!("r{j}"), 1, &[]);
            if j % 7 == 0 {
                retransmit.push(j);
            }
            if j % 4 != 0 {
                continue;
            }
            let u = user(j);
            let mut digest = DigestClient::new(Credentials::new(&u, format!("pw-{u}")));
            let auth: Vec<String> = digest
                .authorize(&first, &challenge)
                .unwrap()
                .iter()
                .map(|a| format!("{}: {}", a.header_name(), a.value))
                .collect();
            let branch = format!("a{j}");
            lab.send(j, &branch, register(j, &branch, 2, &auth));
        }
        // The retransmissions go out 1,000 requests (0.1 s) later, when the cap is long full.
        if i % 1000 == 999 {
            for j in std::mem::take(&mut retransmit) {
                let branch = format!("r{j}");
                lab.send(j, &branch, register(j, &branch, 1, &[]));
            }
        }
    }

    let ledger = &lab.ledger;
    let mut count: HashMap<u16, usize> = HashMap::new();
    for (branch, sent) in &ledger.sent {
        let got = ledger.answers.get(branch).map_or(&[][..], Vec::as_slice);
        assert_eq!(
            got.len(),
            *sent as usize,
            "branch {branch}: sent {sent} times, answered {got:?}"
        );
        assert!(
            got.iter().all(|s| *s == got[0]),
            "branch {branch}: a retransmission got another answer: {got:?}"
        );
        assert!(
            matches!(got[0], 200 | 401 | 503),
            "branch {branch}: {got:?}"
        );
        *count.entry(got[0]).or_default() += 1;
    }
    assert_eq!(
        ledger.answers.len(),
        ledger.sent.len(),
        "answers to branches never sent"
    );
    let (ok, challenged, busy) = (count[&200], count[&401], count[&503]);
    eprintln!(
        "{} requests: {ok} × 200, {challenged} × 401, {busy} × 503",
        ledger.sent.len()
    );
    // Nothing expires within the run (timer J is 32 s), so exactly the cap was admitted, and
    // every admitted REGISTER with credentials was bound.
    assert_eq!(ok + challenged, CAP);
    assert!(ok > 0 && busy > 0);
    assert!(
        ledger
            .retry_after
            .iter()
            .all(|r| r.as_deref() == Some(&RETRY_AFTER.to_string())),
        "a 503 without Retry-After: {RETRY_AFTER}"
    );
    // Retransmissions of admitted requests were answered again, not refused.
    let resent = ledger.sent.values().filter(|n| **n > 1).count();
    assert!(resent > 0);

    // Once timer J has run, new requests are admitted again.
    lab.advance(lab.now + Duration::from_secs(33));
    let branch = format!("r{TOTAL}");
    lab.send(TOTAL, &branch, register(TOTAL, &branch, 1, &[]));
    assert_eq!(lab.ledger.answers[&branch], [401]);
}
