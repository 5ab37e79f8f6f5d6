//! `txn-core [N=100000]`: the sans-IO transaction layer alone, on a simulated clock. Creates N
//! concurrent non-INVITE client transactions over UDP, answers them all (200) and runs timer K,
//! then creates N more, answers none and runs every retransmission until timer F times them
//! out. Prints the time per transaction of each step and the memory one transaction holds
//! beyond its request: resident memory grown while the N requests (already parsed) move into
//! the layer, divided by N, beside `TransactionLayer::state_size()`.
//!
//! Also prints the layer's table sizes (`footprint()`) once each batch has ended: the table keeps
//! N slots for reuse, the timer heap only what timers are due later.
//!
//! Exits 1 if any transaction ends otherwise than expected.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use sip_parse::{Message, MessageBuilder, Method};
use sip_transport::Target;
use sip_txn::{Event, TerminationReason, TimerConfig, TransactionLayer};

fn request(n: usize) -> Message {
    let wire = MessageBuilder::request(Method::Options, "sip:service@192.0.2.2:5060")
        .header(
            "Via",
            &format!("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-core-{n}"),
        )
        .and_then(|b| b.header("Max-Forwards", "70"))
        .and_then(|b| b.header("From", &format!("<sip:bench@192.0.2.1>;tag=c{n}")))
        .and_then(|b| b.header("To", "<sip:service@192.0.2.2>"))
        .and_then(|b| b.header("Call-ID", &format!("{n}@core")))
        .and_then(|b| b.header("CSeq", "1 OPTIONS"))
        .expect("a valid request")
        .build();
    Message::parse(wire).expect("parses")
}

/// Resident set size in bytes (Linux), 0 elsewhere.
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

struct Tally {
    responses: usize,
    normal: usize,
    timeout: usize,
    transmits: usize,
}

fn drain(layer: &mut TransactionLayer, t: &mut Tally) {
    while layer.poll_transmit().is_some() {
        t.transmits += 1;
    }
    while let Some(e) = layer.poll_event() {
        match e {
            Event::Response { .. } => t.responses += 1,
            Event::Terminated {
                reason: TerminationReason::Normal,
                ..
            } => t.normal += 1,
            Event::Terminated {
                reason: TerminationReason::Timeout,
                ..
            } => t.timeout += 1,
            _ => {}
        }
    }
}

/// Runs every timer in turn until no transaction is left.
fn run_timers(layer: &mut TransactionLayer, tally: &mut Tally) -> Instant {
    let mut last = None;
    while let Some(at) = layer.poll_timeout() {
        layer.handle_timeout(at);
        drain(layer, tally);
        last = Some(at);
    }
    last.unwrap_or_else(Instant::now)
}

fn per_txn(d: Duration, n: usize) -> String {
    format!("{:.0} ns/txn", d.as_nanos() as f64 / n as f64)
}

fn main() -> ExitCode {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let server = Target::udp("192.0.2.2:5060".parse().expect("address"));
    let mut layer = TransactionLayer::new(TimerConfig::default());
    let mut now = Instant::now();

    // 1. N transactions created, answered, ended by timer K.
    let requests: Vec<Message> = (0..n).map(request).collect();
    let oks: Vec<Message> = requests
        .iter()
        .map(|r| {
            let ok = MessageBuilder::response_to(r, 200, "OK", Some("s"))
                .expect("response")
                .build();
            Message::parse(ok).expect("parses")
        })
        .collect();
    let before = rss();
    let t = Instant::now();
    let mut tally = Tally {
        responses: 0,
        normal: 0,
        timeout: 0,
        transmits: 0,
    };
    for req in requests {
        if let Err(e) = layer.send_request(now, req, server.clone()) {
            eprintln!("send_request: {e}");
            return ExitCode::FAILURE;
        }
        drain(&mut layer, &mut tally);
    }
    let create = t.elapsed();
    let grown = rss().saturating_sub(before);
    let live = layer.len();
    let t = Instant::now();
    now += Duration::from_millis(10);
    for ok in oks {
        let _ = layer.handle_message(now, server.clone(), ok);
        drain(&mut layer, &mut tally);
    }
    let answer = t.elapsed();
    let t = Instant::now();
    now = run_timers(&mut layer, &mut tally);
    let k = t.elapsed();
    let after_k = layer.footprint();
    let completed_ok = tally.responses == n && tally.normal == n && layer.is_empty();

    // 2. N more, never answered: retransmitted by timer E until timer F.
    let requests: Vec<Message> = (n..2 * n).map(request).collect();
    let mut tally2 = Tally {
        responses: 0,
        normal: 0,
        timeout: 0,
        transmits: 0,
    };
    let t = Instant::now();
    for req in requests {
        if let Err(e) = layer.send_request(now, req, server.clone()) {
            eprintln!("send_request: {e}");
            return ExitCode::FAILURE;
        }
        drain(&mut layer, &mut tally2);
    }
    run_timers(&mut layer, &mut tally2);
    let timeout = t.elapsed();
    let after_f = layer.footprint();
    let timed_out_ok = tally2.timeout == n && layer.is_empty();

    println!("txn-core transactions={n} concurrent={live}");
    println!(
        "create {:.1} ms ({}); answer 200 {:.1} ms ({}); timer K {:.1} ms ({})",
        create.as_secs_f64() * 1e3,
        per_txn(create, n),
        answer.as_secs_f64() * 1e3,
        per_txn(answer, n),
        k.as_secs_f64() * 1e3,
        per_txn(k, n)
    );
    println!(
        "unanswered until timer F: {:.1} ms ({}), {} datagrams ({:.1} per transaction)",
        timeout.as_secs_f64() * 1e3,
        per_txn(timeout, n),
        tally2.transmits,
        tally2.transmits as f64 / n as f64
    );
    println!(
        "state beyond the request: {:.0} bytes/txn measured (resident growth {} KiB / {n}); state_size() = {} bytes",
        grown as f64 / n as f64,
        grown / 1024,
        TransactionLayer::state_size()
    );
    println!(
        "tables after timer K: {} slots, {} timer entries, index room {}; after timer F: {} slots, {} timer entries",
        after_k.table_slots,
        after_k.timer_entries,
        after_k.index_capacity,
        after_f.table_slots,
        after_f.timer_entries
    );
    if completed_ok && timed_out_ok {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "unexpected outcome: completed {}/{} normal {}, timed out {}",
            tally.responses, n, tally.normal, tally2.timeout
        );
        ExitCode::FAILURE
    }
}
