//! How long `rtc-client` takes to notice a Kamailio outage and to register again once Kamailio
//! is back, over UDP, TCP and TLS at once (issue 12), with the client's default configuration.
//!
//! ```text
//! outage-recovery [ROUNDS] [OUTAGE_SECONDS]      (default 3 rounds of 60 s)
//! ```
//!
//! Starts Kamailio with `interop/kamailio/start.sh` (it must be installed) and three clients,
//! alice over UDP, bob over TCP and carol over TLS. Each round stops Kamailio (`stop.sh`: every
//! registration is lost, every connection closed), starts it again `OUTAGE_SECONDS` later with
//! no memory, and prints per transport how long after the stop the client reported the outage
//! (its first registration change away from `registered`; `-` if it did not within the outage)
//! and how long after the restart Kamailio held its binding again (`kamcmd ul.dump`, polled
//! every 100 ms): `round transport noticed_s registered_after_restart_s`.

use benches::interop::{free_port, script};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rtc_client::{Client, ClientConfig, Event, RegisterFlags, RegistrationState};
use sip_transport::TlsConfig;
use tokio::sync::mpsc;
use tokio::time::Instant;

const TRANSPORTS: [(&str, &str); 3] = [("alice", "udp"), ("bob", "tcp"), ("carol", "tls")];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let rounds: u32 = args.get(1).map_or(Ok(3), |r| r.parse())?;
    let outage = Duration::from_secs(args.get(2).map_or(Ok(60), |s| s.parse())?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = std::env::temp_dir().join(format!("outage-recovery-{}", std::process::id()));
    let (port, tls_port) = (free_port(), free_port());
    let (port_s, tls_s) = (port.to_string(), tls_port.to_string());
    let dir_s = dir.display().to_string();
    script("start.sh", &[&dir_s, &port_s, &tls_s])?;
    let result = rt.block_on(run(&dir, port, tls_port, rounds, outage));
    let _ = script("stop.sh", &[&dir_s]);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// One registration change of the client over `transport`.
struct Change {
    transport: &'static str,
    state: RegistrationState,
    at: Instant,
}

async fn run(
    dir: &Path,
    port: u16,
    tls_port: u16,
    rounds: u32,
    outage: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let (tx, mut changes) = mpsc::unbounded_channel();
    let mut clients = Vec::new();
    for (user, transport) in TRANSPORTS {
        let mut config = ClientConfig::default();
        config.transport.udp = vec!["127.0.0.1:0".parse()?];
        config.transport.tcp = vec!["127.0.0.1:0".parse()?];
        config.transport.tls_client = Some(TlsConfig::new().add_ca_file(dir.join("ca.pem"))?);
        let (client, mut events) = Client::builder().config(config).start().await?;
        let (host, p) = match transport {
            "tls" => ("localhost", tls_port),
            _ => ("127.0.0.1", port),
        };
        let xml = format!(
            r#"<provision key="{user}" name="Kamailio">
  <user uri="sip:{user}@example.test" account="{user}" password="{user}pw" realm="example.test"/>
  <sipsrv addr="{host}:{p}" protocol="{transport}" auth="digest" role="registrar">
    <session party="first" type="im"/>
  </sipsrv>
</provision>"#
        );
        let profile = client.create_profile(&xml)?;
        client.enable_profile(&profile, RegisterFlags::ALL).await?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                if let Event::Registration { state, .. } = e {
                    let at = Instant::now();
                    if tx
                        .send(Change {
                            transport,
                            state,
                            at,
                        })
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
        clients.push(client);
    }
    all_registered(&mut changes, Duration::from_secs(30)).await?;
    let dir_s = dir.display().to_string();
    let (port_s, tls_s) = (port.to_string(), tls_port.to_string());
    println!("round transport noticed_s registered_after_restart_s");
    for round in 1..=rounds {
        // Settled: keep-alives have been answered, connections are idle.
        tokio::time::sleep(Duration::from_secs(40)).await;
        while changes.try_recv().is_ok() {}
        script("stop.sh", &[&dir_s])?;
        let stopped = Instant::now();
        let mut noticed = Vec::new();
        let restart = stopped + outage;
        while let Ok(Some(c)) = tokio::time::timeout_at(restart, changes.recv()).await {
            if c.state != RegistrationState::Registered
                && !noticed.iter().any(|(t, _)| *t == c.transport)
            {
                noticed.push((c.transport, c.at - stopped));
            }
        }
        script("start.sh", &[&dir_s, &port_s, &tls_s])?;
        let started = Instant::now();
        let back = bindings_back(dir, started + Duration::from_secs(600)).await?;
        for (user, transport) in TRANSPORTS {
            let seen = noticed.iter().find(|(t, _)| *t == transport);
            let noticed_s = seen.map_or("-".to_owned(), |(_, d)| format!("{:.1}", d.as_secs_f64()));
            let registered = back
                .iter()
                .find(|(u, _)| *u == user)
                .map(|(_, at)| at.saturating_duration_since(started).as_secs_f64())
                .unwrap_or(f64::NAN);
            println!("{round} {transport} {noticed_s} {registered:.1}");
        }
    }
    for client in clients {
        client.shutdown().await?;
    }
    Ok(())
}

/// Waits until every transport's client reports `registered`; when each did.
async fn all_registered(
    changes: &mut mpsc::UnboundedReceiver<Change>,
    within: Duration,
) -> Result<Vec<(&'static str, Instant)>, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + within;
    let mut done: Vec<(&'static str, Instant)> = Vec::new();
    while done.len() < TRANSPORTS.len() {
        match tokio::time::timeout_at(deadline, changes.recv()).await {
            Ok(Some(c)) if c.state == RegistrationState::Registered => {
                if !done.iter().any(|(t, _)| *t == c.transport) {
                    done.push((c.transport, c.at));
                }
            }
            Ok(Some(_)) => {}
            _ => return Err(format!("registered in time: only {done:?}").into()),
        }
    }
    Ok(done)
}

/// Polls Kamailio's location table (`kamcmd ul.dump`) every 100 ms until every user holds a
/// binding again; when each did. The server's view: a UDP client that came back within one
/// keep-alive refreshes its registration without ever leaving `registered`, so no event of
/// the client's would tell.
async fn bindings_back(
    dir: &Path,
    deadline: Instant,
) -> Result<Vec<(&'static str, Instant)>, Box<dyn std::error::Error>> {
    let socket = format!("unix:{}", dir.join("kamailio_ctl").display());
    let mut done: Vec<(&'static str, Instant)> = Vec::new();
    while done.len() < TRANSPORTS.len() {
        if Instant::now() > deadline {
            return Err(format!("registered in time: only {done:?}").into());
        }
        let out = Command::new("kamcmd")
            .args(["-s", &socket, "ul.dump"])
            .output()?;
        let dump = String::from_utf8_lossy(&out.stdout);
        let now = Instant::now();
        for (user, _) in TRANSPORTS {
            let listed = dump.lines().any(|l| l.trim() == format!("AoR: {user}"));
            if listed && !done.iter().any(|(u, _)| *u == user) {
                done.push((user, now));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(done)
}
