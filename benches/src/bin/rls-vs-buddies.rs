//! Presence with N buddies through one RLS subscription (RFC 4662) against N subscriptions of
//! their own, both against a real Kamailio (issue 13, item 6).
//!
//! ```text
//! rls-vs-buddies [N] [TIMEOUT_SECONDS] [MODES]   (default 10000 buddies, 600 s, both modes)
//! ```
//!
//! Each mode gets a fresh Kamailio (`interop/kamailio/start.sh` with `-A WITH_XCAP -A
//! WITH_BIGLISTS -A WITHOUT_TLS -m 512 -M 64`: presence with pres-rules, `xcap_server`,
//! `rls`), a fresh tokio runtime and a fresh client, alice over UDP, whose stored buddy list
//! holds N buddies `b00000…` who never publish and have no pres-rules, so the server holds
//! every subscription to them `pending`:
//!
//! - **per buddy**: the client has no XCAP root, so it subscribes to each buddy;
//! - **RLS**: the client has the server's XCAP root, PUTs its `resource-lists` and
//!   `rls-services` documents and subscribes once, with `Supported: eventlist`, to
//!   `sip:alice-buddies@example.test`; the server's back-end subscriptions stay inside it.
//!
//! The clock starts when `enable_presence` is called (the client registered already) and
//! stops when every buddy's state is known: an `Event::Buddy` (RLS: a pending resource is
//! reported offline) or an `Event::BuddySubscription` whose state is settled (per buddy:
//! `pending`) or final (refused); a SUBSCRIBE that failed (`retrying later`: unanswered, or
//! answered with an error) is counted and its buddy waited for, as the client tries again after
//! its backoff. `MODES` (`per-buddy` or `rls`) runs one mode alone. Measured per mode:
//!
//! - **messages**: what `dumpcap` captures on `lo` between the client's UDP port and
//!   Kamailio (SIP), and on Kamailio's TCP port (the client's XCAP over HTTP), read back with
//!   `tshark`; counted until full state and until 2 s after it (both directions);
//! - **client CPU**: the process's CPU time (`CLOCK_PROCESS_CPUTIME_ID`; the process is the
//!   client and this loop reading its events);
//! - **client memory**: live heap bytes (the counting allocator) at full state minus before
//!   `enable_presence`, and the peak in between, per buddy.
//!
//! Needs `kamailio` (with the presence, xcap and rls modules) and, for the message counts,
//! `dumpcap` and `tshark` (root, or capture rights on `lo`); without them the counts are `-`.
//! `SETTLE_SECONDS` (default 35) is how long after full state the heap is read again.
//! With `KEEP` set in the environment, each mode's directory (Kamailio's log and database,
//! the capture `capture.pcapng`) is kept in the temporary directory.

use benches::interop::{free_port, script};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use benches::alloc_count::{self, CountingAlloc};
use benches::clock::process_cpu_time;
use presence::{Buddy, PresenceData, Store};
use rtc_client::{Client, ClientConfig, Event, Events, RegisterFlags, RegistrationState, XcapRoot};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Targets of issue 13: RLS takes at least this many times fewer messages than per buddy…
const TARGET_MESSAGES_RATIO: f64 = 10.0;
/// … and reaches full state at least this many times sooner…
const TARGET_SPEEDUP: f64 = 5.0;
/// … with at most this much client state per buddy.
const TARGET_BYTES_PER_BUDDY: f64 = 1024.0;

/// How long after full state the heap is measured again, all transactions ended (the
/// environment's `SETTLE_SECONDS` replaces it, e.g. 0 for a quick check).
fn settle() -> Duration {
    Duration::from_secs(
        std::env::var("SETTLE_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(35),
    )
}

/// Shares of the buddies whose time to be known is printed too.
const QUANTILES: [f64; 3] = [0.5, 0.9, 0.99];

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// How the client watches its buddies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    PerBuddy,
    Rls,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::PerBuddy => "per-buddy",
            Mode::Rls => "rls",
        }
    }
}

/// Messages counted in the capture, in a window of time.
#[derive(Debug, Default, Clone, Copy)]
struct Counted {
    /// SIP messages the client sent, and received.
    sip_sent: u64,
    sip_received: u64,
    /// SUBSCRIBE requests the client sent (retransmissions and resubmissions included).
    subscribes: u64,
    /// NOTIFY requests the client received.
    notifies: u64,
    /// Bytes of the SIP datagrams (IP and UDP headers included).
    sip_bytes: u64,
    /// HTTP requests and responses (XCAP).
    http: u64,
    /// Bytes of every TCP frame to and from Kamailio's port (XCAP; headers and ACKs included).
    http_bytes: u64,
}

impl Counted {
    fn sip(&self) -> u64 {
        self.sip_sent + self.sip_received
    }
}

/// What one mode measured.
#[derive(Debug)]
struct Outcome {
    mode: Mode,
    full_state: Duration,
    /// When [`QUANTILES`] of the buddies were known.
    quantiles: [Option<Duration>; QUANTILES.len()],
    cpu: Duration,
    /// Live heap at full state minus before `enable_presence`, and the peak minus the same.
    live: i64,
    peak: i64,
    /// How the buddies' states became known: by presence, by a settled subscription state
    /// (pending, active), by a final refusal.
    by_presence: usize,
    by_state: usize,
    by_refusal: usize,
    /// Subscriptions that failed (unanswered, or answered with an error) and wait to retry.
    retries: usize,
    lagged: u64,
    /// Live heap [`settle`] after full state, minus the same baseline.
    settled: i64,
    until_full: Option<Counted>,
    until_after: Option<Counted>,
    /// SUBSCRIBEs of the client that Kamailio's script logged (authenticated ones).
    logged_subscribes: usize,
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).map_or(Ok(10_000), |a| a.parse())?;
    let timeout = Duration::from_secs(args.get(2).map_or(Ok(600), |a| a.parse())?);
    if n == 0 || n > 99_999 {
        return Err("N must be 1..=99999".into());
    }
    let modes = match args.get(3).map(String::as_str) {
        None | Some("both") => vec![Mode::PerBuddy, Mode::Rls],
        Some("per-buddy") => vec![Mode::PerBuddy],
        Some("rls") => vec![Mode::Rls],
        Some(other) => return Err(format!("MODES: both, per-buddy or rls, not {other}").into()),
    };
    let capture = which("dumpcap") && which("tshark");
    println!(
        "# rls-vs-buddies: {n} buddies, Kamailio {}, messages {}",
        kamailio_version(),
        if capture {
            "captured by dumpcap on lo"
        } else {
            "not counted (dumpcap/tshark missing)"
        }
    );
    let mut outcomes = Vec::new();
    for (i, mode) in modes.into_iter().enumerate() {
        if i > 0 {
            // The last mode's Kamailio and capture have stopped; let the machine settle.
            std::thread::sleep(Duration::from_secs(5));
        }
        // A runtime per mode, dropped with it: whatever the last client left running (its
        // un-SUBSCRIBEs to a stopped Kamailio) must not run, or count, in the next mode.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let outcome = run_mode(&rt, mode, n, timeout, capture);
        rt.shutdown_timeout(Duration::from_secs(5));
        let outcome = outcome?;
        print_outcome(&outcome, n);
        outcomes.push(outcome);
    }
    print_table(&outcomes, n);
    Ok(())
}

fn which(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn kamailio_version() -> String {
    Command::new("kamailio")
        .arg("-v")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_owned))
        })
        .unwrap_or_else(|| "?".into())
}

/// A running Kamailio, stopped (and its directory removed) on drop.
struct Kamailio {
    dir: PathBuf,
    port: u16,
}

impl Kamailio {
    fn start(name: &str) -> Res<Self> {
        let dir =
            std::env::temp_dir().join(format!("rls-vs-buddies-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let port = free_port();
        let (dir_s, port_s, tls_s) = (
            dir.display().to_string(),
            port.to_string(),
            free_port().to_string(),
        );
        script(
            "start.sh",
            &[
                &dir_s,
                &port_s,
                &tls_s,
                "--",
                "-A",
                "WITH_XCAP",
                "-A",
                "WITH_BIGLISTS",
                "-A",
                "WITHOUT_TLS",
                "-m",
                "512",
                "-M",
                "64",
            ],
        )?;
        Ok(Self { dir, port })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kamailio.log")).unwrap_or_default()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        let _ = script("stop.sh", &[&self.dir.display().to_string()]);
        if std::env::var_os("KEEP").is_some() {
            eprintln!("kept {} (KEEP is set)", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `dumpcap` writing what passes between the client's UDP port and Kamailio, and Kamailio's
/// TCP port, to a file.
struct Capture {
    child: Child,
    file: PathBuf,
}

impl Capture {
    fn start(file: PathBuf, client_port: u16, kamailio_port: u16) -> Res<Self> {
        let filter = format!("udp port {client_port} or tcp port {kamailio_port}");
        let child = Command::new("dumpcap")
            .args(["-i", "lo", "-q", "-f", &filter, "-w"])
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let capture = Self { child, file };
        // Capturing once the file has its header; then a moment for the filter to be set.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&capture.file).map_or(0, |m| m.len()) == 0 {
            if Instant::now() > deadline {
                return Err("dumpcap did not start".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(500));
        Ok(capture)
    }

    /// Stops the capture (SIGINT, so that dumpcap writes what it holds) and waits for it.
    fn stop(mut self) -> Res<PathBuf> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-INT", &pid]).status()?;
        self.child.wait()?;
        Ok(std::mem::take(&mut self.file))
    }
}

/// Counts the capture's messages in `[from, until]` and `[from, after]` (UNIX seconds).
fn count(
    file: &Path,
    client_port: u16,
    kamailio_port: u16,
    from: f64,
    until: f64,
    after: f64,
) -> Res<(Counted, Counted)> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args([
            "-n",
            "-d",
            &format!("udp.port=={client_port},sip"),
            "-d",
            &format!("tcp.port=={kamailio_port},http"),
            "-T",
            "fields",
            "-E",
            "separator=\t",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=;",
            "-e",
            "frame.time_epoch",
            "-e",
            "frame.len",
            "-e",
            "udp.srcport",
            "-e",
            "tcp.srcport",
            "-e",
            "sip.Method",
            "-e",
            "sip.Status-Code",
            "-e",
            "http.request.method",
            "-e",
            "http.response.code",
        ])
        .output()?;
    if !out.status.success() {
        return Err(format!("tshark: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let mut until_full = Counted::default();
    let mut until_after = Counted::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [
            time,
            len,
            udp_src,
            tcp_src,
            method,
            status,
            http_req,
            http_rsp,
            ..,
        ] = f[..]
        else {
            continue;
        };
        let time: f64 = time.parse().unwrap_or(0.0);
        if time < from || time > after {
            continue;
        }
        let len: u64 = len.parse().unwrap_or(0);
        let entries = |field: &str| field.split(';').filter(|s| !s.is_empty()).count() as u64;
        let mut c = Counted::default();
        if !udp_src.is_empty() {
            c.sip_bytes = len;
            let messages = entries(method) + entries(status);
            if udp_src == client_port.to_string() {
                c.sip_sent = messages;
                c.subscribes = method.split(';').filter(|m| *m == "SUBSCRIBE").count() as u64;
            } else {
                c.sip_received = messages;
                c.notifies = method.split(';').filter(|m| *m == "NOTIFY").count() as u64;
            }
        } else if !tcp_src.is_empty() {
            c.http_bytes = len;
            c.http = entries(http_req) + entries(http_rsp);
        }
        add(&mut until_after, &c);
        if time <= until {
            add(&mut until_full, &c);
        }
    }
    Ok((until_full, until_after))
}

fn add(total: &mut Counted, c: &Counted) {
    total.sip_sent += c.sip_sent;
    total.sip_received += c.sip_received;
    total.subscribes += c.subscribes;
    total.notifies += c.notifies;
    total.sip_bytes += c.sip_bytes;
    total.http += c.http;
    total.http_bytes += c.http_bytes;
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn buddy_uri(i: usize) -> String {
    format!("sip:b{i:05}@example.test")
}

/// The buddy index of `uri`, if it is one of [`buddy_uri`]'s.
fn buddy_index(uri: &str) -> Option<usize> {
    uri.strip_prefix("sip:b")?
        .strip_suffix("@example.test")?
        .parse()
        .ok()
}

fn profile(port: u16) -> String {
    format!(
        r#"<provision key="alice-udp" name="Kamailio">
  <user uri="sip:alice@example.test" account="alice" password="alicepw" realm="example.test"/>
  <sipsrv addr="127.0.0.1:{port}" protocol="udp" auth="digest" role="registrar">
    <session party="first" type="im"/>
  </sipsrv>
</provision>"#
    )
}

fn run_mode(
    rt: &tokio::runtime::Runtime,
    mode: Mode,
    n: usize,
    timeout: Duration,
    capture: bool,
) -> Res<Outcome> {
    let kam = Kamailio::start(mode.name())?;
    let client_port = free_port();
    let store = kam.dir.join("alice.xml");
    let mut data = PresenceData::default();
    for i in 0..n {
        data.buddies.add(Buddy::new(&buddy_uri(i), "")?)?;
    }
    Store::file(&store).save(&data)?;
    drop(data);
    let pcap = if capture {
        match Capture::start(kam.dir.join("capture.pcapng"), client_port, kam.port) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("# {}: messages not counted: {e}", mode.name());
                None
            }
        }
    } else {
        None
    };
    let measured = rt.block_on(watch(&kam, mode, n, client_port, &store, timeout));
    let pcap = pcap.map(Capture::stop).transpose()?;
    let (mut outcome, from, until) = measured?;
    if let Some(file) = pcap {
        let (full, after) = count(&file, client_port, kam.port, from, until, until + 2.0)?;
        outcome.until_full = Some(full);
        outcome.until_after = Some(after);
    }
    outcome.logged_subscribes = kam.log().matches("client SUBSCRIBE presence").count();
    Ok(outcome)
}

/// alice registers, enables presence and waits until every buddy is known; returns the
/// outcome and the UNIX times the clock started and stopped.
async fn watch(
    kam: &Kamailio,
    mode: Mode,
    n: usize,
    client_port: u16,
    store: &Path,
    timeout: Duration,
) -> Res<(Outcome, f64, f64)> {
    let mut config = ClientConfig::default();
    config.transport.udp = vec![format!("127.0.0.1:{client_port}").parse()?];
    if mode == Mode::Rls {
        config.xcap_root = Some(XcapRoot::parse(&format!(
            "http://127.0.0.1:{}/xcap-root",
            kam.port
        ))?);
    }
    let (client, mut events) = Client::builder().config(config).start().await?;
    let profile = client.create_profile(&profile(kam.port))?;
    client.enable_profile(&profile, RegisterFlags::ALL).await?;
    registered(&mut events).await?;
    // Allocated before the baseline, so that marking buddies allocates nothing.
    let mut known = vec![false; n];
    let (mut by_presence, mut by_state, mut by_refusal, mut retries, mut lagged) = (0, 0, 0, 0, 0);
    let live_before = alloc_count::live_bytes();
    alloc_count::reset_peak();
    let cpu_before = process_cpu_time().unwrap_or_default();
    let from = unix_now();
    let start = tokio::time::Instant::now();
    client.enable_presence(Store::file(store)).await?;
    let mut remaining = n;
    let mut quantiles = [None; QUANTILES.len()];
    let deadline = start + timeout;
    while remaining > 0 {
        let e = match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(e)) => e,
            Ok(None) => return Err("the client stopped".into()),
            Err(_) => {
                return Err(format!(
                    "{}: {remaining} of {n} buddies not known after {timeout:?}",
                    mode.name()
                )
                .into());
            }
        };
        let (uri, how) = match &e {
            Event::Buddy { uri, .. } => (uri, &mut by_presence),
            Event::BuddySubscription { state, .. } if state == "subscribing" => continue,
            Event::BuddySubscription { uri, state, .. }
                if state == "pending" || state == "active" =>
            {
                (uri, &mut by_state)
            }
            // A SUBSCRIBE that failed is tried again after a backoff: not known yet.
            Event::BuddySubscription { state, .. } if state.starts_with("retrying") => {
                retries += 1;
                continue;
            }
            // Refused or ended by the server: a final answer.
            Event::BuddySubscription { uri, .. } => (uri, &mut by_refusal),
            Event::Lagged { dropped } => {
                lagged += dropped;
                continue;
            }
            _ => continue,
        };
        if let Some(i) = buddy_index(uri).filter(|&i| i < n && !known[i]) {
            known[i] = true;
            *how += 1;
            remaining -= 1;
            for (j, q) in QUANTILES.iter().enumerate() {
                if quantiles[j].is_none() && (n - remaining) as f64 >= q * n as f64 {
                    quantiles[j] = Some(start.elapsed());
                }
            }
        }
    }
    let full_state = start.elapsed();
    let until = unix_now();
    let cpu = process_cpu_time()
        .unwrap_or_default()
        .saturating_sub(cpu_before);
    let live = alloc_count::live_bytes() - live_before;
    let peak = alloc_count::peak_bytes() - live_before;
    // What stays once every transaction has ended (RFC 3261 §17: Timer J, 64*T1 on UDP).
    tokio::time::sleep(settle()).await;
    let settled = alloc_count::live_bytes() - live_before;
    let _ = tokio::time::timeout(Duration::from_secs(30), client.shutdown()).await;
    Ok((
        Outcome {
            mode,
            full_state,
            quantiles,
            cpu,
            live,
            peak,
            by_presence,
            by_state,
            by_refusal,
            retries,
            lagged,
            settled,
            until_full: None,
            until_after: None,
            logged_subscribes: 0,
        },
        from,
        until,
    ))
}

async fn registered(events: &mut Events) -> Res<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Event::Registration { state, reason, .. })) => match state {
                RegistrationState::Registered => return Ok(()),
                RegistrationState::Rejected => return Err(reason.into()),
                _ => {}
            },
            Ok(Some(_)) => {}
            Ok(None) => return Err("the client stopped".into()),
            Err(_) => return Err("not registered within 20 s".into()),
        }
    }
}

fn per_buddy(bytes: i64, n: usize) -> f64 {
    bytes as f64 / n as f64
}

fn print_outcome(o: &Outcome, n: usize) {
    let m = o.mode.name();
    println!("{m}.full_state_s {:.3}", o.full_state.as_secs_f64());
    for (q, t) in QUANTILES.iter().zip(o.quantiles) {
        if let Some(t) = t {
            println!("{m}.known_{:.0}pct_s {:.3}", q * 100.0, t.as_secs_f64());
        }
    }
    println!("{m}.client_cpu_s {:.3}", o.cpu.as_secs_f64());
    println!(
        "{m}.known_by presence {} subscription_state {} refusal {}; failed attempts retried {} (lagged events dropped {})",
        o.by_presence, o.by_state, o.by_refusal, o.retries, o.lagged
    );
    println!(
        "{m}.live_bytes_per_buddy {:.0} (live {} B)",
        per_buddy(o.live, n),
        o.live
    );
    println!(
        "{m}.peak_bytes_per_buddy {:.0} (peak {} B)",
        per_buddy(o.peak, n),
        o.peak
    );
    println!(
        "{m}.settled_bytes_per_buddy {:.0} ({} s after full state: {} B)",
        per_buddy(o.settled, n),
        settle().as_secs(),
        o.settled
    );
    println!(
        "{m}.kamailio_logged_client_subscribes {}",
        o.logged_subscribes
    );
    for (label, c) in [
        ("until_full", o.until_full),
        ("until_full_plus_2s", o.until_after),
    ] {
        if let Some(c) = c {
            println!(
                "{m}.{label} sip {} (sent {}, received {}; SUBSCRIBE {}, NOTIFY {}; {} B) http {} ({} B)",
                c.sip(),
                c.sip_sent,
                c.sip_received,
                c.subscribes,
                c.notifies,
                c.sip_bytes,
                c.http,
                c.http_bytes
            );
        }
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

fn print_table(o: &[Outcome], n: usize) {
    let [a, b] = o else { return };
    let sip = |o: &Outcome| o.until_full.map(|c| c.sip());
    let all = |o: &Outcome| o.until_full.map(|c| c.sip() + c.http);
    let show = |v: Option<u64>| v.map_or("-".to_owned(), |v| v.to_string());
    println!();
    println!("| N = {n} | per buddy | RLS | per buddy / RLS |");
    println!("|---|---:|---:|---:|");
    println!(
        "| time to full state | {:.2} s | {:.2} s | {:.1}× |",
        a.full_state.as_secs_f64(),
        b.full_state.as_secs_f64(),
        a.full_state.as_secs_f64() / b.full_state.as_secs_f64()
    );
    let ratio = |x: Option<u64>, y: Option<u64>| match (x, y) {
        (Some(x), Some(y)) if y > 0 => format!("{:.0}×", x as f64 / y as f64),
        _ => "-".into(),
    };
    println!(
        "| SIP messages to full state (both directions) | {} | {} | {} |",
        show(sip(a)),
        show(sip(b)),
        ratio(sip(a), sip(b))
    );
    println!(
        "| SIP + XCAP (HTTP) messages | {} | {} | {} |",
        show(all(a)),
        show(all(b)),
        ratio(all(a), all(b))
    );
    println!(
        "| client CPU time | {:.2} s | {:.2} s | {:.1}× |",
        a.cpu.as_secs_f64(),
        b.cpu.as_secs_f64(),
        a.cpu.as_secs_f64() / b.cpu.as_secs_f64().max(1e-9)
    );
    println!(
        "| client live heap per buddy | {:.0} B | {:.0} B | |",
        per_buddy(a.live, n),
        per_buddy(b.live, n)
    );
    println!(
        "| client peak heap per buddy | {:.0} B | {:.0} B | |",
        per_buddy(a.peak, n),
        per_buddy(b.peak, n)
    );
    println!(
        "| client heap per buddy {} s later (transactions ended) | {:.0} B | {:.0} B | |",
        settle().as_secs(),
        per_buddy(a.settled, n),
        per_buddy(b.settled, n)
    );
    println!(
        "| SUBSCRIBEs that failed and were retried | {} | {} | |",
        a.retries, b.retries
    );
    println!();
    let speedup = a.full_state.as_secs_f64() / b.full_state.as_secs_f64();
    if let (Some(x), Some(y)) = (all(a), all(b)) {
        let r = x as f64 / y.max(1) as f64;
        println!(
            "# target: RLS >= {TARGET_MESSAGES_RATIO}× fewer messages (SIP + XCAP): {r:.0}× {}",
            met(r >= TARGET_MESSAGES_RATIO)
        );
    }
    println!(
        "# target: RLS >= {TARGET_SPEEDUP}× faster to full state: {speedup:.1}× {}",
        met(speedup >= TARGET_SPEEDUP)
    );
    for (what, bytes) in [
        ("at full state", per_buddy(b.live, n)),
        ("settled", per_buddy(b.settled, n)),
    ] {
        println!(
            "# target: RLS client state <= {TARGET_BYTES_PER_BUDDY} B per buddy ({what}): {bytes:.0} B {}",
            met(bytes <= TARGET_BYTES_PER_BUDDY)
        );
    }
}
