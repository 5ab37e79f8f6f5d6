//! Interop with sipp (Debian package `sip-tester`) over loopback UDP and TCP: our driver as UAC
//! against a sipp UAS, and a sipp UAC against our driver as UAS, with the scenarios in
//! `interop/sipp/`. Without sipp on PATH each test says it skipped, and fails under `CI=true`;
//! `.ci/run` installs it.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{driver, request_builder};
use sip_parse::{Message, Method};
use sip_transport::testkit::free_port;
use sip_txn::driver::{Driver, Received};
use sip_txn::{Target, TransportKind};
use tokio::process::{Child, Command};

/// Transactions per test run.
const CALLS: usize = 20;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../interop/sipp")
        .join(name)
}

/// The interop gate: whether sipp is here (under `CI=true` its absence fails the test).
fn sipp_found() -> bool {
    sip_transport::testkit::interop(&["sipp"])
}

fn sipp_transport(kind: TransportKind) -> &'static str {
    match kind {
        TransportKind::Udp => "u1",
        TransportKind::Tcp => "t1",
        TransportKind::Tls => unreachable!("this sipp build has no TLS"),
    }
}

/// A scratch directory for sipp's statistics file.
fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sip-txn-sipp-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sipp(dir: &Path, args: &[String]) -> Child {
    Command::new("sipp")
        .args(args)
        .args([
            "-nostdin",
            "-timeout",
            "60s",
            "-trace_stat",
            "-stf",
            "stat.csv",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn sipp")
}

/// A column of the last line of sipp's `-trace_stat` CSV.
fn stat(dir: &Path, column: &str) -> u64 {
    let csv = std::fs::read_to_string(dir.join("stat.csv")).expect("sipp wrote its statistics");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    let last: Vec<&str> = lines.last().unwrap().split(';').collect();
    let i = header.iter().position(|h| *h == column).unwrap();
    last[i].trim().parse().unwrap()
}

/// Waits for sipp (`role`) to exit; it succeeded, and every one of its calls did.
async fn expect_clean_run(child: Child, role: &str, dir: &Path) {
    let (status, err) = finish(child).await;
    assert!(status.success(), "sipp {role} failed: {status} {err}");
    assert_eq!(stat(dir, "SuccessfulCall(C)"), CALLS as u64);
    assert_eq!(stat(dir, "FailedCall(C)"), 0);
}

async fn finish(mut child: Child) -> (ExitStatus, String) {
    let status = child.wait().await.unwrap();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = e.read_to_string(&mut err).await;
    }
    (status, err)
}

/// Waits until sipp listens on `port` (it starts asynchronously); UDP needs no wait, since a
/// lost first request is retransmitted.
async fn wait_listening(kind: TransportKind, port: u16) {
    if kind != TransportKind::Tcp {
        return;
    }
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("sipp never listened on TCP port {port}");
}

/// The `n`th OPTIONS of a run, from `d` to sipp's service at `to`.
fn options(d: &Driver, kind: TransportKind, to: SocketAddr, n: usize) -> Message {
    let call_id = format!("{n}-{}", sip_txn::new_tag().unwrap());
    let to_uri = format!("sip:service@{to}");
    let wire = request_builder(d, Method::Options, kind, "rust", &to_uri, &call_id).build();
    Message::parse(wire).unwrap()
}

async fn our_uac_against_sipp_uas(kind: TransportKind) {
    if !sipp_found() {
        return;
    }
    let dir = work_dir(&format!("uas-{kind}"));
    let port = free_port();
    let uas = sipp(
        &dir,
        &[
            "-sf".into(),
            scenario("options-uas.xml").display().to_string(),
            "-i".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-t".into(),
            sipp_transport(kind).into(),
            "-m".into(),
            CALLS.to_string(),
            // Each "call" lingers 500 ms after its 200, so sipp does not exit (and close the
            // connection, discarding what its kernel has not yet sent) right after the last 200.
            "-d".into(),
            "500".into(),
        ],
    );
    wait_listening(kind, port).await;
    let (client, _) = driver().await;
    let to: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut pending = Vec::new();
    for n in 0..CALLS {
        let txn = client
            .request(options(&client, kind, to, n), Target::new(kind, to))
            .await
            .unwrap();
        pending.push(txn);
    }
    for txn in pending {
        let rsp = txn.await.expect("a final response from sipp");
        assert_eq!(rsp.status(), Some(200));
        assert!(rsp.to_header().unwrap().tag().is_some());
    }
    expect_clean_run(uas, "UAS", &dir).await;
    client.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn our_uac_against_sipp_uas_over_udp() {
    our_uac_against_sipp_uas(TransportKind::Udp).await;
}

#[tokio::test]
async fn our_uac_against_sipp_uas_over_tcp() {
    our_uac_against_sipp_uas(TransportKind::Tcp).await;
}

async fn sipp_uac_against_our_uas(kind: TransportKind) {
    if !sipp_found() {
        return;
    }
    let (server, mut incoming) = driver().await;
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    tokio::spawn(async move {
        while let Some(received) = incoming.recv().await {
            if let Received::Request(req) = received {
                assert_eq!(req.request.method(), Some(Method::Options));
                // Counted before answering, so the count is complete when sipp has all 200s.
                count.fetch_add(1, Ordering::Relaxed);
                req.transaction.reply(200, "OK").await.unwrap();
            }
        }
    });
    let ours = server.transport().local_addr(kind).unwrap();
    let dir = work_dir(&format!("uac-{kind}"));
    let uac = sipp(
        &dir,
        &[
            ours.to_string(),
            "-sf".into(),
            scenario("options-uac.xml").display().to_string(),
            "-i".into(),
            "127.0.0.1".into(),
            "-p".into(),
            free_port().to_string(),
            "-t".into(),
            sipp_transport(kind).into(),
            "-m".into(),
            CALLS.to_string(),
            "-r".into(),
            "200".into(),
        ],
    );
    expect_clean_run(uac, "UAC", &dir).await;
    // Every call was one transaction of ours (retransmissions, if any, were absorbed).
    assert_eq!(answered.load(Ordering::Relaxed), CALLS);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sipp_uac_against_our_uas_over_udp() {
    sipp_uac_against_our_uas(TransportKind::Udp).await;
}

#[tokio::test]
async fn sipp_uac_against_our_uas_over_tcp() {
    sipp_uac_against_our_uas(TransportKind::Tcp).await;
}
