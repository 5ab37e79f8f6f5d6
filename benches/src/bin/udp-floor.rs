//! `udp-floor HOST:PORT [--seconds S] [--window W]`: the wire floor for `txn-uac`. Sends one
//! prebuilt OPTIONS after another over loopback UDP, keeping W outstanding for S seconds, and
//! counts the answers that start `SIP/2.0 200 ` without parsing anything: no SIP stack, no
//! runtime, one blocking socket. The peer is meant to be sipp's `interop/sipp/options-uas.xml`,
//! the same UAS `txn-uac` runs against, so the ratio of the two rates is what the driver costs
//! above what the peer and the kernel cost.
//!
//! Each request is the template with two 12-digit counters written in place (branch and
//! Call-ID, so sipp sees a new call each time), about the size of `txn-uac`'s requests.
//!
//! The window opens as TCP's slow start does: [`FIRST_BURST`] requests, then two for each answer
//! until W are outstanding. sipp's socket buffer (65,535 bytes by default) holds about 77
//! requests, and a lost request is never sent again here, so a first burst of 200 would leave
//! the run with 77 outstanding (the driver retransmits its lost ones after 500 ms).
//!
//! Prints one line, `udp-floor ok=N other=N lost=N seconds=S rate=R window=W`: `other` counts
//! answers that are not a 200, `lost` the requests still unanswered after 200 ms of silence
//! (then a fresh window is sent); `rate` is the 200s that arrived within the S seconds, over S,
//! as `txn-uac` counts. Exits 1 if nothing was answered.

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use benches::load_args::LoadArgs;

const DIGITS: usize = 12;

/// Requests sent at once when the run starts, well within what sipp's socket buffer holds.
const FIRST_BURST: usize = 32;

fn parse_args() -> Result<LoadArgs, String> {
    LoadArgs::parse(
        std::env::args().skip(1),
        "usage: udp-floor HOST:PORT [--seconds S] [--window W]",
        false,
    )
}

/// The prebuilt request and where its two counters sit.
struct Template {
    bytes: Vec<u8>,
    counters: [usize; 2],
}

impl Template {
    fn new(local: SocketAddr, to: SocketAddr) -> Self {
        let zeros = "0".repeat(DIGITS);
        // sipp ignores a Call-ID it ended in the last 33 s (-deadcall_wait): each run has its own.
        let run = std::process::id();
        let text = format!(
            "OPTIONS sip:service@{to} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK{zeros}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:bench@{to}>;tag=b\r\n\
             To: <sip:service@{to}>\r\n\
             Call-ID: {zeros}-{run}-udp-floor\r\n\
             CSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let at = |marker: &str| text.find(marker).map_or(0, |p| p + marker.len());
        Self {
            counters: [at("branch=z9hG4bK"), at("Call-ID: ")],
            bytes: text.into_bytes(),
        }
    }

    /// Request `n`: the counters rewritten in place, nothing else touched.
    fn request(&mut self, mut n: u64) -> &[u8] {
        let mut digits = [b'0'; DIGITS];
        for d in digits.iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        for at in self.counters {
            self.bytes[at..at + DIGITS].copy_from_slice(&digits);
        }
        &self.bytes
    }
}

struct Counts {
    ok: u64,
    on_time: u64,
    other: u64,
    lost: u64,
    elapsed: Duration,
}

fn run(args: &LoadArgs) -> std::io::Result<Counts> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.connect(args.target)?;
    socket.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut template = Template::new(socket.local_addr()?, args.target);
    let mut buf = [0u8; 4096];
    let (mut next, mut outstanding) = (0u64, 0usize);
    let mut c = Counts {
        ok: 0,
        on_time: 0,
        other: 0,
        lost: 0,
        elapsed: Duration::ZERO,
    };
    let start = Instant::now();
    let stop = start + Duration::from_secs_f64(args.seconds);
    let mut send = |outstanding: &mut usize| -> std::io::Result<()> {
        socket.send(template.request(next))?;
        next += 1;
        *outstanding += 1;
        Ok(())
    };
    for _ in 0..args.window.min(FIRST_BURST) {
        send(&mut outstanding)?;
    }
    while outstanding > 0 {
        match socket.recv(&mut buf) {
            Ok(n) => {
                c.elapsed = start.elapsed();
                outstanding = outstanding.saturating_sub(1);
                if buf[..n].starts_with(b"SIP/2.0 200 ") {
                    c.ok += 1;
                    c.on_time += u64::from(Instant::now() <= stop);
                } else {
                    c.other += 1;
                }
                if Instant::now() < stop {
                    send(&mut outstanding)?;
                    if outstanding < args.window {
                        send(&mut outstanding)?;
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                // 200 ms of silence: what is outstanding is lost.
                c.lost += outstanding as u64;
                outstanding = 0;
                if Instant::now() < stop {
                    for _ in 0..args.window.min(FIRST_BURST) {
                        send(&mut outstanding)?;
                    }
                }
            }
            Err(e) => return Err(e),
        }
    }
    // Up to the last answer: the silence that ends a run with losses is not counted.
    Ok(c)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(c) => {
            let secs = c.elapsed.as_secs_f64();
            println!(
                "udp-floor ok={} other={} lost={} seconds={secs:.2} rate={:.0} window={}",
                c.ok,
                c.other,
                c.lost,
                c.on_time as f64 / args.seconds,
                args.window
            );
            if c.ok == 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("udp-floor: {e}");
            ExitCode::FAILURE
        }
    }
}
