//! Many clients registering and re-registering with digest auth through the whole stack:
//! `rtc-client`'s registration core on the `sip-txn` driver over `sip-transport` UDP, against a
//! real registrar (Kamailio, started by `benches/register-vs-sipp.sh`).
//!
//! ```text
//! register-load SERVER USERS ROUNDS [WINDOW]
//! ```
//!
//! Users `u0001`… with passwords `pw-u0001`… (`interop/kamailio/start.sh` with `USERS=N`).
//! Every user registers `ROUNDS` times; each registration is REGISTER → 401 → REGISTER with
//! credentials → 200, as sipp's `register-csv.xml` does. At most `WINDOW` registrations are in
//! flight (default 500). Prints one line: `registrations ok failed wall_s rate cpu_s peak_rss_kib`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use rtc_client::registration::{Failure, RequestId};
use rtc_client::{Cause, Endpoint, Registration, RegistrationConfig, RegistrationState};
use sip_parse::{Message, Target, TransportKind};
use sip_transport::{Transport, TransportConfig};
use sip_txn::digest::Credentials;
use sip_txn::driver::{Driver, DriverConfig, DriverError};
use tokio::sync::mpsc;

struct Done {
    user: usize,
    id: RequestId,
    outcome: Result<Message, DriverError>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: register-load SERVER USERS ROUNDS [WINDOW]");
        std::process::exit(2);
    }
    let server: SocketAddr = args[1].parse()?;
    let users: usize = args[2].parse()?;
    let rounds: usize = args[3].parse()?;
    let window: usize = args.get(4).map_or(Ok(500), |w| w.parse())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run(server, users, rounds, window))
}

async fn run(
    server: SocketAddr,
    users: usize,
    rounds: usize,
    window: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let (transport, events) = Transport::bind(TransportConfig {
        udp: vec!["127.0.0.1:0".parse()?],
        ..TransportConfig::default()
    })
    .await?;
    let (driver, _incoming) = Driver::start(transport, events, DriverConfig::default())?;
    let sent_by = driver.sent_by(TransportKind::Udp)?;
    let target = Target::udp(server);

    let mut regs = Vec::with_capacity(users);
    for i in 1..=users {
        let user = format!("u{i:04}");
        let mut config =
            RegistrationConfig::new(format!("sip:{user}@example.test"), "sip:example.test");
        config.credentials = Some(Credentials::new(user.clone(), format!("pw-{user}")));
        config.expires = 300;
        let local = Endpoint::new(user).with(TransportKind::Udp, &sent_by);
        regs.push(Registration::new(config, local, vec![target.clone()])?);
    }

    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut ready: VecDeque<usize> = (0..users).collect();
    let mut count = vec![0usize; users];
    let (mut ok, mut failed, mut in_flight) = (0usize, 0usize, 0usize);
    let total = users * rounds;
    let cpu0 = cpu_seconds();
    #[allow(clippy::disallowed_methods)] // a benchmark reads the clock
    let start = Instant::now();

    while ok + failed < total {
        while in_flight < window {
            let Some(user) = ready.pop_front() else { break };
            regs[user].register()?;
            in_flight += 1;
            flush(&mut regs[user], user, &driver, &done_tx);
        }
        let Some(done) = done_rx.recv().await else {
            break;
        };
        #[allow(clippy::disallowed_methods)]
        let now = Instant::now();
        let reg = &mut regs[done.user];
        match done.outcome {
            Ok(response) => reg.handle_response(now, done.id, &response)?,
            Err(DriverError::Timeout { .. }) => {
                reg.handle_failure(now, done.id, Failure::Timeout)?
            }
            Err(_) => reg.handle_failure(now, done.id, Failure::Transport(Cause::Other))?,
        }
        while let Some(e) = reg.poll_event() {
            if matches!(
                e.state,
                RegistrationState::Rejected | RegistrationState::Error
            ) {
                eprintln!(
                    "u{:04}: {} {:?} {}",
                    done.user + 1,
                    e.state,
                    e.status,
                    e.reason
                );
                failed += 1;
                in_flight -= 1;
            }
        }
        // A first registration and a refresh both end here: registered, nothing in flight.
        if reg.state() == RegistrationState::Registered && !reg.is_pending() {
            ok += 1;
            in_flight -= 1;
            count[done.user] += 1;
            if count[done.user] < rounds {
                ready.push_back(done.user);
            }
        }
        flush(reg, done.user, &driver, &done_tx);
    }
    let wall = start.elapsed();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "registrations {total} ok {ok} failed {failed} wall_s {:.2} rate {:.0} cpu_s {cpu:.2} peak_rss_kib {}",
        wall.as_secs_f64(),
        ok as f64 / wall.as_secs_f64().max(f64::EPSILON),
        peak_rss_kib()
    );
    driver.shutdown().await;
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// Sends what the core asked for; each outcome comes back on `done`.
fn flush(reg: &mut Registration, user: usize, driver: &Driver, done: &mpsc::UnboundedSender<Done>) {
    while let Some(out) = reg.poll_request() {
        let (driver, done) = (driver.clone(), done.clone());
        tokio::spawn(async move {
            let outcome = match driver.request(out.request, out.target).await {
                Ok(mut txn) => txn.final_response().await,
                Err(e) => Err(e),
            };
            let _ = done.send(Done {
                user,
                id: out.id,
                outcome,
            });
        });
    }
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0 // USER_HZ, 100 on Linux
}

/// Peak resident memory (`VmHWM`) in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
