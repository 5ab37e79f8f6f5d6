//! Floods for the overload benches (issue 15 item 3): the process under test runs as a child
//! of the bench binary, so the memory measured is its own; a paced UDP sender sends it
//! requests and counts the answers by status while a sampler follows the child's resident
//! memory.
//!
//! ```no_run
//! use benches::flood::{Victim, flood};
//! use std::time::Duration;
//!
//! let victim = Victim::spawn(&["--serve"])?; // this binary again, in its serving role
//! let report = flood(&victim, 1_000, 1_000, Duration::from_secs(2), |i, local| {
//!     format!("OPTIONS sip:{} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{i}\r\n…", victim.addr)
//!         .into_bytes()
//! })?;
//! println!("{report}");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The memory bound both overload benches hold their victim to, MiB: the budget of the default
/// transaction cap (`sip_txn::Limits::default().max_server`, 32,768 transactions, at 2 KiB
/// each, a generous figure for an answered request: measured 1.2 KiB) = 64 MiB, plus 32 MiB for
/// the process itself, its runtime and the allocator's slack.
pub const BOUND_MIB: u64 = 96;

/// The process under test: this executable run again with other arguments. It must print
/// `listening ADDR` on its first line of stdout once ready, and exit when its stdin closes
/// (see [`serve_until_stdin_closes`]).
#[derive(Debug)]
pub struct Victim {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Its process id.
    pub pid: u32,
    /// Where it takes requests (UDP).
    pub addr: SocketAddr,
}

impl Victim {
    /// Starts this executable with `args` and waits for its `listening ADDR` line.
    pub fn spawn(args: &[&str]) -> std::io::Result<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("the child said {line:?}")))?;
        Ok(Self {
            pid: child.id(),
            child,
            stdin,
            addr,
        })
    }

    /// Its resident memory now, KiB (`VmRSS`).
    pub fn rss_kib(&self) -> Option<u64> {
        status_kib(self.pid, "VmRSS:")
    }

    /// Its peak resident memory so far, KiB (`VmHWM`).
    pub fn peak_kib(&self) -> Option<u64> {
        status_kib(self.pid, "VmHWM:")
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// For the child: says `listening ADDR`, then blocks until stdin closes (the parent is done).
pub fn serve_until_stdin_closes(addr: SocketAddr) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening {addr}");
    let _ = out.flush();
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
}

/// What a [`flood`] saw.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Requests sent.
    pub sent: u64,
    /// Seconds the sending took.
    pub send_secs: f64,
    /// Answers by status code (0: not a parsable status line).
    pub by_status: BTreeMap<u16, u64>,
    /// 503s that carried Retry-After.
    pub busy_with_retry_after: u64,
    /// The child's resident memory before the flood, KiB.
    pub rss_before_kib: u64,
    /// The highest resident memory sampled during the flood (every 20 ms), KiB.
    pub rss_peak_sampled_kib: u64,
    /// The child's `VmHWM` after the flood (its peak since it started), KiB.
    pub rss_hwm_kib: u64,
    /// Its resident memory when the answers had stopped, KiB.
    pub rss_after_kib: u64,
    /// UDP datagrams the kernel dropped meanwhile for a full receive buffer, on any socket of
    /// the machine (`RcvbufErrors` in `/proc/net/snmp`): requests the victim never saw, or
    /// answers we never read.
    pub kernel_dropped: u64,
}

impl Report {
    /// Answers received.
    pub fn answered(&self) -> u64 {
        self.by_status.values().sum()
    }

    /// Answers received with `status`.
    pub fn count(&self, status: u16) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    /// Requests without an answer.
    pub fn unanswered(&self) -> u64 {
        self.sent.saturating_sub(self.answered())
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |k: u64| k as f64 / 1024.0;
        write!(
            f,
            "sent {} in {:.2} s ({:.0}/s); answered {} (",
            self.sent,
            self.send_secs,
            self.sent as f64 / self.send_secs.max(1e-9),
            self.answered()
        )?;
        for (i, (status, n)) in self.by_status.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{n} × {status}")?;
        }
        write!(
            f,
            "; {} of the 503s with Retry-After), unanswered {} (UDP datagrams dropped by the kernel meanwhile: {}); RSS before {:.1} MiB, peak {:.1} MiB (VmHWM {:.1} MiB), after {:.1} MiB",
            self.busy_with_retry_after,
            self.unanswered(),
            self.kernel_dropped,
            mib(self.rss_before_kib),
            mib(self.rss_peak_sampled_kib),
            mib(self.rss_hwm_kib),
            mib(self.rss_after_kib),
        )
    }
}

/// Sends `total` requests to `victim` at `rate` a second from one UDP socket on 127.0.0.1
/// (`make(i, local)` builds request `i`, `local` being the socket's address for its Via), counts
/// the answers until none has come for `settle`, and samples the victim's memory throughout.
pub fn flood(
    victim: &Victim,
    total: u64,
    rate: u64,
    settle: Duration,
    make: impl Fn(u64, SocketAddr) -> Vec<u8>,
) -> std::io::Result<Report> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let local = socket.local_addr()?;
    let rx = socket.try_clone()?;
    rx.set_read_timeout(Some(Duration::from_millis(50)))?;
    let done = Arc::new(AtomicBool::new(false));
    let last_answer = Arc::new(AtomicU64::new(0));
    let started = Instant::now();

    let receiver = {
        let done = done.clone();
        let last_answer = last_answer.clone();
        std::thread::spawn(move || {
            let mut by_status = BTreeMap::new();
            let mut with_retry_after = 0u64;
            let mut buf = vec![0u8; 65_536];
            while !done.load(Ordering::Relaxed) {
                let Ok(n) = rx.recv(&mut buf) else { continue };
                let msg = &buf[..n];
                let status = msg
                    .strip_prefix(b"SIP/2.0 ")
                    .and_then(|r| std::str::from_utf8(r.get(..3)?).ok()?.parse().ok())
                    .unwrap_or(0u16);
                if status == 503 && contains(msg, b"\r\nRetry-After:") {
                    with_retry_after += 1;
                }
                *by_status.entry(status).or_insert(0u64) += 1;
                last_answer.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
            }
            (by_status, with_retry_after)
        })
    };
    let sampler = {
        let done = done.clone();
        let pid = victim.pid;
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(status_kib(pid, "VmRSS:").unwrap_or(0));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };

    let rss_before_kib = victim.rss_kib().unwrap_or(0);
    let dropped_before = udp_rcvbuf_errors();
    for i in 0..total {
        let due = Duration::from_nanos(i * 1_000_000_000 / rate.max(1));
        let now = started.elapsed();
        if due > now + Duration::from_millis(1) {
            std::thread::sleep(due - now);
        }
        // A full socket buffer is the victim's loss, not ours to retry.
        let _ = socket.send_to(&make(i, local), victim.addr);
    }
    let send_secs = started.elapsed().as_secs_f64();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let since = started.elapsed().as_millis() as u64 - last_answer.load(Ordering::Relaxed);
        if Duration::from_millis(since) >= settle {
            break;
        }
    }
    let rss_after_kib = victim.rss_kib().unwrap_or(0);
    done.store(true, Ordering::Relaxed);
    let (by_status, busy_with_retry_after) = receiver.join().expect("receiver");
    let rss_peak_sampled_kib = sampler.join().expect("sampler");
    Ok(Report {
        sent: total,
        send_secs,
        by_status,
        busy_with_retry_after,
        rss_before_kib,
        rss_peak_sampled_kib,
        rss_hwm_kib: victim.peak_kib().unwrap_or(0),
        rss_after_kib,
        kernel_dropped: udp_rcvbuf_errors().saturating_sub(dropped_before),
    })
}

/// `Udp: … RcvbufErrors` of `/proc/net/snmp` (0 where unreadable).
fn udp_rcvbuf_errors() -> u64 {
    let Ok(snmp) = std::fs::read_to_string("/proc/net/snmp") else {
        return 0;
    };
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}
