//! 300,000 REGISTERs at 10,000 a second (simulated time) against a layer with the default
//! limits, each admitted one answered at once: the layer never holds more than
//! `Limits::max_server` transactions, every request gets exactly one answer (its 200 or a 503
//! with Retry-After), and the process's resident memory grows by less than a stated bound.
//! Alone in its binary so that the memory it measures is its own.

use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_parse::{HeaderName, Message, MessageBuilder};
use sip_txn::{Event, Limits, Target, TimerConfig, TransactionLayer};

/// Resident memory in KiB (Linux), if known.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn register(i: u32) -> Message {
    Message::parse(Bytes::from(format!(
        "REGISTER sip:example.test SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.{}:5060;branch=z9hG4bKreg{i}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:u{i}@example.test>;tag=f{i}\r\n\
         To: <sip:u{i}@example.test>\r\n\
         Call-ID: reg-{i}@192.0.2.1\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:u{i}@192.0.2.1:5060>\r\n\
         Expires: 3600\r\n\
         User-Agent: overload-test\r\n\
         Content-Length: 0\r\n\r\n",
        i % 250 + 1
    )))
    .unwrap()
}

/// What the cap costs at most: the limit times a generous per-transaction budget (an answered
/// REGISTER keeps its response and the headers a response copies, well under 2 KiB), plus
/// slack for the allocator: 96 MiB. Measured: about 38 MiB (1.2 KiB a transaction).
const BUDGET_KIB: u64 = (32_768 * 2 + 32 * 1024) as u64;

#[test]
fn three_hundred_thousand_registers_stay_within_the_cap() {
    const TOTAL: u32 = 300_000;
    let limits = Limits::default();
    let mut layer = TransactionLayer::with_limits(TimerConfig::default(), limits);
    #[allow(clippy::disallowed_methods)] // the simulated clock starts somewhere
    let start = Instant::now();
    let before = rss_kib();
    let source = Target::udp("192.0.2.1:5060".parse().unwrap());
    let (mut ok, mut busy, mut peak) = (0u32, 0u32, 0usize);
    for i in 0..TOTAL {
        // 10,000 a second.
        let now = start + Duration::from_micros(u64::from(i) * 100);
        if i % 1000 == 0 {
            layer.handle_timeout(now);
        }
        layer
            .handle_message(now, source.clone(), register(i))
            .unwrap();
        while let Some(ev) = layer.poll_event() {
            if let Event::Request { key, request, .. } = ev {
                let rsp = MessageBuilder::response_to(&request, 200, "OK", Some("srv"))
                    .unwrap()
                    .build();
                layer
                    .send_response(now, key, Message::parse(rsp).unwrap())
                    .unwrap();
            }
        }
        let mut answers = 0;
        while let Some(t) = layer.poll_transmit() {
            answers += 1;
            let rsp = Message::parse(t.payload).unwrap();
            match rsp.status() {
                Some(200) => ok += 1,
                Some(503) => {
                    assert!(rsp.header(HeaderName::RetryAfter).is_some());
                    busy += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(answers, 1, "request {i} got {answers} answers");
        peak = peak.max(layer.len());
    }
    assert_eq!(ok + busy, TOTAL);
    assert_eq!(peak, limits.max_server);
    // The run lasts 30 s, less than timer J (32 s): exactly the first `max_server` got in.
    assert_eq!(ok, limits.max_server as u32);
    if let (Some(before), Some(after)) = (before, rss_kib()) {
        let grown = after.saturating_sub(before);
        assert!(
            grown < BUDGET_KIB,
            "resident memory grew by {grown} KiB (budget {BUDGET_KIB} KiB)"
        );
        eprintln!("{ok} admitted, {busy} refused with 503; RSS grew by {grown} KiB");
    }
}
