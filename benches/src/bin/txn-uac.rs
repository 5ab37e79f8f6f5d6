//! `txn-uac HOST:PORT [--seconds S] [--window W] [--threads N]`: non-INVITE (OPTIONS)
//! transactions per second from the sip-txn driver over loopback UDP, keeping W transactions
//! outstanding for S seconds; the peer is meant to be sipp's `interop/sipp/options-uas.xml`.
//!
//! Prints one line, `txn-uac ok=N failed=N seconds=S rate=R window=W threads=N`, and exits 1 if
//! any transaction failed (timeout or transport error) or got a non-200 final response. `rate`
//! counts the 200s that arrived within the S seconds, over S (as `udp-floor` counts): the
//! transactions still open at the end, some waiting out a retransmission, finish after it and
//! count in `ok` only.
//! `benches/txn-vs-sipp.sh` runs it beside sipp's own UAC.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use benches::load_args::LoadArgs;
use bytes::Bytes;
use sip_parse::Message;
use sip_transport::{Target, Transport, TransportConfig, TransportKind};
use sip_txn::driver::{Driver, DriverConfig};

fn parse_args() -> Result<LoadArgs, String> {
    LoadArgs::parse(
        std::env::args().skip(1),
        "usage: txn-uac HOST:PORT [--seconds S] [--window W] [--threads N]",
        true,
    )
}

/// Every request of a run but its Via and Call-ID, formatted once, and filled in per request
/// as sipp fills its template (and `udp-floor` its prebuilt request): the per-request work is
/// then the driver's, not the harness's. (Built through `MessageBuilder` with `format!`, the
/// requests cost a third of the process's instructions; issue 14's profile.)
struct Template {
    /// `OPTIONS … SIP/2.0\r\nVia: `
    head: String,
    /// From Max-Forwards to `Call-ID: `.
    middle: String,
    /// The rest of the Call-ID (this run's, as sipp ignores a Call-ID it ended in the last
    /// 33 s, `-deadcall_wait`) and of the message.
    tail: String,
}

impl Template {
    fn new(to: SocketAddr) -> Self {
        let run = std::process::id();
        Self {
            head: format!("OPTIONS sip:service@{to} SIP/2.0\r\nVia: "),
            middle: format!(
                "\r\nMax-Forwards: 70\r\nFrom: <sip:bench@{to}>;tag=b{run}\r\n\
                 To: <sip:service@{to}>\r\nCall-ID: "
            ),
            tail: format!("-{run}-txn-uac\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"),
        }
    }

    fn options(
        &self,
        driver: &Driver,
        n: u64,
    ) -> Result<Message, Box<dyn std::error::Error + Send + Sync>> {
        let via = driver.via(TransportKind::Udp)?;
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut rest = n;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        let mut wire = Vec::with_capacity(
            self.head.len() + via.len() + self.middle.len() + 20 + self.tail.len(),
        );
        for part in [
            self.head.as_bytes(),
            via.as_bytes(),
            self.middle.as_bytes(),
            &digits[at..],
            self.tail.as_bytes(),
        ] {
            wire.extend_from_slice(part);
        }
        Ok(Message::parse(Bytes::from(wire))?)
    }
}

/// Transactions answered 200 (all, and within the run's seconds) and failed, and how long the
/// run took until the last one ended.
struct Counts {
    ok: u64,
    on_time: u64,
    failed: u64,
    elapsed: Duration,
}

async fn run(args: &LoadArgs) -> Result<Counts, Box<dyn std::error::Error>> {
    let (transport, events) = Transport::bind(TransportConfig {
        udp: vec!["127.0.0.1:0".parse()?],
        ..Default::default()
    })
    .await?;
    // Each answered transaction lives on for timer K (T4 = 5 s over UDP, RFC 3261 §17.1.2.2):
    // at 50,000/s a quarter million, far over the default cap that protects a client from a
    // runaway caller. The cap is raised so that it measures the driver, not the cap.
    let config = DriverConfig {
        limits: sip_txn::Limits {
            max_client: 1 << 21,
            ..Default::default()
        },
        ..Default::default()
    };
    let (driver, _incoming) = Driver::start(transport, events, config)?;
    let ok = Arc::new(AtomicU64::new(0));
    let on_time = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let stop = start + Duration::from_secs_f64(args.seconds);
    let mut workers = Vec::new();
    let template = Arc::new(Template::new(args.target));
    for _ in 0..args.window {
        let (driver, ok, failed, next) = (driver.clone(), ok.clone(), failed.clone(), next.clone());
        let on_time = on_time.clone();
        let to = args.target;
        let template = template.clone();
        workers.push(tokio::spawn(async move {
            while Instant::now() < stop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let outcome = match template.options(&driver, n) {
                    Ok(req) => match driver.request(req, Target::udp(to)).await {
                        Ok(txn) => txn.await.map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    },
                    Err(e) => Err(e.to_string()),
                };
                match outcome {
                    Ok(rsp) if rsp.status() == Some(200) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        if Instant::now() <= stop {
                            on_time.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    other => {
                        if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("# transaction {n} failed: {other:?}");
                        }
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await?;
    }
    let elapsed = start.elapsed();
    driver.shutdown().await;
    Ok(Counts {
        ok: ok.load(Ordering::Relaxed),
        on_time: on_time.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        elapsed,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let result = runtime
        .map_err(|e| e.into())
        .and_then(|rt| rt.block_on(run(&args)));
    match result {
        Ok(c) => {
            println!(
                "txn-uac ok={} failed={} seconds={:.2} rate={:.0} window={} threads={}",
                c.ok,
                c.failed,
                c.elapsed.as_secs_f64(),
                c.on_time as f64 / args.seconds,
                args.window,
                args.threads
            );
            if c.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("txn-uac: {e}");
            ExitCode::FAILURE
        }
    }
}
