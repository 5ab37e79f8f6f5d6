//! 100 non-INVITE transactions between two drivers inside a network namespace whose loopback
//! drops 20 % of UDP datagrams (`interop/lossy-netns.sh`, nftables): every one completes by
//! retransmission, and tshark decodes every datagram sent as SIP, none malformed.
//!
//! The outer test sets up the namespace and the capture, then runs this test binary again
//! inside the namespace (`ip netns exec`) with only the inner test selected. Without root, `ip`,
//! `nft` or `tshark` it says why it skipped; under `CI=true` it fails instead (the interop
//! gate in `sip_transport::testkit`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sip_parse::{Message, MessageBuilder, Method};
use sip_transport::{Transport, TransportConfig, testkit};
use sip_txn::driver::{Driver, DriverConfig, Received};
use sip_txn::{Target, TimerConfig, TransportKind};

/// Set in the environment of the run inside the namespace.
const INNER: &str = "SIP_TXN_LOSS_INNER";
const TRANSACTIONS: usize = 100;
const LOSS_PERCENT: u32 = 20;
const SERVER: &str = "127.0.0.1:5060";
const CLIENT: &str = "127.0.0.1:5062";
/// The inner run ends by sending one datagram here (discard), marking the end of the capture.
const SENTINEL_PORT: u16 = 9;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/lossy-netns.sh")
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether namespaces can be made here; if not, the interop gate has said why.
fn prerequisites() -> bool {
    let uid = run(Command::new("id").arg("-u")).unwrap_or_default();
    if uid.trim() != "0" {
        testkit::skip("not root: network namespaces need CAP_SYS_ADMIN");
        return false;
    }
    testkit::interop(&["ip", "nft", "tshark"])
}

/// Lines of a child's output, read on a thread.
fn lines(out: impl std::io::Read + Send + 'static) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_for(rx: &std::sync::mpsc::Receiver<String>, done: impl Fn(&str) -> bool, what: &str) {
    loop {
        match rx.recv() {
            Ok(line) if done(&line) => return,
            Ok(_) => {}
            Err(_) => panic!("tshark ended while waiting for {what}"),
        }
    }
}

/// The namespace and the capture; both are removed on drop, also when the test fails.
struct Lab {
    ns: String,
    tshark: Option<Child>,
    dir: PathBuf,
}

impl Lab {
    fn stop_capture(&mut self) {
        if let Some(mut t) = self.tshark.take() {
            // SIGINT lets tshark stop its dumpcap and finish the file.
            let _ = Command::new("kill")
                .args(["-INT", &t.id().to_string()])
                .status();
            let _ = t.wait();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop_capture();
        let _ = Command::new(script()).args(["down", &self.ns]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn hundred_transactions_complete_through_20_percent_udp_loss_and_decode_cleanly() {
    if std::env::var_os(INNER).is_some() {
        return;
    }
    if !prerequisites() {
        return;
    }
    let ns = format!("siptxn-loss-{}", std::process::id());
    let dir = std::env::temp_dir().join(&ns);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if let Err(e) = run(Command::new(script()).args(["up", &ns, &LOSS_PERCENT.to_string()])) {
        let _ = std::fs::remove_dir_all(&dir);
        testkit::skip(&format!("cannot make a network namespace: {e}"));
        return;
    }
    let mut lab = Lab {
        ns: ns.clone(),
        tshark: None,
        dir: dir.clone(),
    };
    let cap = dir.join("loss.pcapng");

    // Capture every UDP datagram on the namespace's loopback (before the nftables drop, so
    // dropped ones too), printing each one's destination port as it is written.
    let mut tshark = Command::new("ip")
        .args([
            "netns", "exec", &ns, "tshark", "-i", "lo", "-f", "udp", "-l", "-P",
        ])
        .args(["-T", "fields", "-e", "udp.dstport", "-w"])
        .arg(&cap)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tshark");
    let stdout = lines(tshark.stdout.take().unwrap());
    let stderr = lines(tshark.stderr.take().unwrap());
    lab.tshark = Some(tshark);
    // dumpcap drops what it has not written when stopped, and starts a while after tshark:
    // wait for it to start, and later for the sentinel datagram to pass.
    wait_for(
        &stderr,
        |l| l.contains("Capture started"),
        "tshark to start",
    );

    let exe = std::env::current_exe().unwrap();
    let inner = Command::new("ip")
        .args(["netns", "exec", &ns])
        .arg(&exe)
        .args([
            "--exact",
            "inner_transactions_inside_the_namespace",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, "1")
        .output()
        .unwrap();
    let inner_out = String::from_utf8_lossy(&inner.stdout);
    println!("{inner_out}{}", String::from_utf8_lossy(&inner.stderr));
    assert!(inner.status.success(), "inner run failed: {}", inner.status);
    assert!(
        inner_out.contains("1 passed"),
        "the inner test did not run: {inner_out}"
    );

    wait_for(
        &stdout,
        |l| l == SENTINEL_PORT.to_string(),
        "the sentinel in the capture",
    );
    let dropped: u64 = run(Command::new(script()).args(["dropped", &ns]))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    lab.stop_capture();

    let tshark_r = |filter: &str, fields: &[&str]| {
        let mut c = Command::new("tshark");
        c.arg("-r").arg(&cap).args(["-Y", filter]);
        if !fields.is_empty() {
            c.args(["-T", "fields"]);
            for f in fields {
                c.args(["-e", f]);
            }
        }
        run(&mut c).unwrap()
    };
    let all = tshark_r("udp", &[]).lines().count();
    let sip: Vec<String> = tshark_r("sip", &["sip.Method", "sip.Status-Code"])
        .lines()
        .map(str::to_owned)
        .collect();
    let bad = tshark_r("_ws.malformed || _ws.expert.severity >= warning", &[]);
    let not_sip = tshark_r(&format!("udp && !sip && udp.port != {SENTINEL_PORT}"), &[]);
    let requests = sip.iter().filter(|l| l.starts_with("OPTIONS")).count();
    let responses = sip.iter().filter(|l| l.ends_with("200")).count();
    println!(
        "captured {all} datagrams: {requests} OPTIONS, {responses} 200 OK; {dropped} dropped by the namespace"
    );
    assert!(bad.is_empty(), "tshark flagged packets:\n{bad}");
    assert!(
        not_sip.is_empty(),
        "datagrams not decoded as SIP:\n{not_sip}"
    );
    assert_eq!(sip.len(), all - 1, "all but the sentinel are SIP");
    // The loss was real, and retransmissions made up for it.
    assert!(dropped > 0);
    assert!(requests > TRANSACTIONS, "{requests} requests");
    assert!(responses >= TRANSACTIONS, "{responses} responses");
}

/// Runs only inside the namespace, started by the test above.
#[test]
fn inner_transactions_inside_the_namespace() {
    if std::env::var_os(INNER).is_none() {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(inner());
}

async fn inner() {
    // A short T1 keeps the run brief on loopback; T2 caps the backoff so that 64·T1 holds
    // about 17 attempts: a transaction then fails only if all of them lose the request or the
    // response (0.36^17 < 1e-7).
    let timers = TimerConfig {
        t1: Duration::from_millis(100),
        t2: Duration::from_millis(400),
        t4: Duration::from_millis(500),
        ..Default::default()
    };
    let start = |addr: &str| {
        let cfg = TransportConfig {
            udp: vec![addr.parse().unwrap()],
            ..Default::default()
        };
        async move {
            let (t, e) = Transport::bind(cfg).await.unwrap();
            Driver::start(
                t,
                e,
                DriverConfig {
                    timers,
                    ..Default::default()
                },
            )
            .unwrap()
        }
    };
    let (server, mut incoming) = start(SERVER).await;
    let (client, _) = start(CLIENT).await;
    let answering = tokio::spawn(async move {
        let mut n = 0;
        while let Some(Received::Request(req)) = incoming.recv().await {
            req.transaction.reply(200, "OK").await.unwrap();
            n += 1;
        }
        n
    });
    let to: std::net::SocketAddr = SERVER.parse().unwrap();
    let mut pending = Vec::new();
    for i in 0..TRANSACTIONS {
        let wire = MessageBuilder::request(Method::Options, &format!("sip:bob@{to}"))
            .header("Via", &client.via(TransportKind::Udp).unwrap())
            .unwrap()
            .header("Max-Forwards", "70")
            .unwrap()
            .header("From", &format!("<sip:alice@{CLIENT}>;tag=l{i}"))
            .unwrap()
            .header("To", &format!("<sip:bob@{to}>"))
            .unwrap()
            .header("Call-ID", &format!("loss-{i}@{CLIENT}"))
            .unwrap()
            .header("CSeq", "1 OPTIONS")
            .unwrap()
            .build();
        let txn = client
            .request(Message::parse(wire).unwrap(), Target::udp(to))
            .await
            .unwrap();
        pending.push(txn);
    }
    let mut ok = 0;
    for (i, txn) in pending.into_iter().enumerate() {
        match txn.await {
            Ok(rsp) if rsp.status() == Some(200) => ok += 1,
            other => panic!("transaction {i}: {other:?}"),
        }
    }
    assert_eq!(ok, TRANSACTIONS);
    client.shutdown().await;
    server.shutdown().await;
    let answered = answering.await.unwrap();
    // Each request reached its server transaction once; retransmissions were absorbed.
    assert_eq!(answered, TRANSACTIONS);
    println!("{ok} of {TRANSACTIONS} transactions completed");
    let marker = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    marker
        .send_to(b"end of test", ("127.0.0.1", SENTINEL_PORT))
        .unwrap();
}
