//! A client on a bad network: a UDP registration whose registrar goes away and comes back is
//! noticed by its STUN keep-alives within seconds, not at the next refresh (RFC 5626 §4.4.1);
//! and a client behind a NAT that forgets idle mappings after 30 s stays reachable
//! (`interop/nat-netns.sh`: the client runs in a namespace behind nftables masquerade, re-run
//! from this test binary there, Kamailio outside).

mod common;

use std::time::Duration;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use rtc_client::keepalive::KeepAliveConfig;
use rtc_client::server::{EmbeddedServer, ServerConfig};
use rtc_client::{Client, Event, RegisterFlags, RegistrationState, Status, Store};
use sip_transport::{TransportConfig, testkit};

/// The embedded registrar on 127.0.0.1:`port`, UDP only.
async fn registrar(port: u16) -> EmbeddedServer {
    let transport = TransportConfig {
        udp: vec![format!("127.0.0.1:{port}").parse().unwrap()],
        ..Default::default()
    };
    EmbeddedServer::start(ServerConfig::demo(), transport)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_keepalives_notice_a_dead_registrar_and_its_return() {
    let port = sip_transport::testkit::free_port();
    let server = registrar(port).await;
    let (alice, mut events, _) = registered_with(&profile_xml("alice", port, "udp"), |c| {
        c.udp_keepalive = Some(KeepAliveConfig {
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
        });
    })
    .await;
    // Some probes answered first: a registrar that never answered STUN is one without it
    // (the client then sends CRLFs), not one that went away.
    tokio::time::sleep(Duration::from_secs(4)).await;
    // The registration lasts an hour: without keep-alives nothing would happen for 50 minutes.
    server.shutdown();
    drop(server);
    let e = expect(&mut events, "the outage noticed", |e| {
        matches!(e, Event::Registration { state: RegistrationState::Registering, reason, .. }
            if reason.contains("keep-alive"))
    })
    .await;
    println!("noticed: {e:?}");
    // The registrar restarts with no memory of us: the client is registered there again.
    let server = registrar(port).await;
    expect_state(&mut events, RegistrationState::Registered).await;
    assert_eq!(server.bindings("alice").len(), 1);
    alice.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kamailio_outage_over_udp_is_noticed_and_recovered_from() {
    // Kamailio answers STUN on its SIP port (interop/kamailio: the stun module). Stopped for
    // 20 s, it is missed within seconds; back, it holds our binding again, so a MESSAGE
    // reaches us, which before keep-alives would have waited for the 50-minute refresh.
    let Some(kam) = Kamailio::start("udp-outage", &[]) else {
        return;
    };
    let keepalive = Some(KeepAliveConfig {
        interval: Duration::from_secs(2),
        timeout: Duration::from_secs(3),
    });
    let (alice, mut alice_events, _) =
        registered_with(&profile_xml("alice", kam.port, "udp"), |c| {
            c.udp_keepalive = keepalive;
        })
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await; // probes answered
    kam.stop();
    expect(&mut alice_events, "the outage noticed", |e| {
        matches!(e, Event::Registration { state: RegistrationState::Registering, reason, .. }
            if reason.contains("keep-alive"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(20)).await;
    kam.start_again();
    expect(&mut alice_events, "registered again", |e| {
        matches!(
            e,
            Event::Registration {
                state: RegistrationState::Registered,
                ..
            }
        )
    })
    .await;
    let (bob, _bob_events, _) = registered(&profile_xml("bob", kam.port, "udp"), None).await;
    bob.send_message("sip:alice@example.test", "still there?")
        .await
        .unwrap();
    expect(
        &mut alice_events,
        "bob's message",
        |e| matches!(e, Event::Message { text, .. } if text == "still there?"),
    )
    .await;
    bob.shutdown().await.unwrap();
    alice.shutdown().await.unwrap();
}

/// Set, to Kamailio's port, in the environment of the run inside the NAT.
const INNER: &str = "RTC_NAT_INNER_PORT";
/// Set, to the address Kamailio listens on, in the environment of the run inside the NAT.
const INNER_SERVER: &str = "RTC_NAT_INNER_SERVER";
/// How long the client sits idle behind the NAT: six times its conntrack timeout.
const IDLE: Duration = Duration::from_secs(180);

fn nat_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/nat-netns.sh")
}

/// Removes the namespaces on drop.
struct Nat(String);

impl Drop for Nat {
    fn drop(&mut self) {
        let _ = Command::new(nat_script()).args(["down", &self.0]).status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_nat_that_forgets_idle_mappings_the_client_stays_reachable() {
    if std::env::var_os(INNER).is_some() {
        return;
    }
    let uid = Command::new("id").arg("-u").output().map(|o| o.stdout);
    if !uid.is_ok_and(|u| u.trim_ascii() == b"0") {
        testkit::skip("not root: network namespaces need CAP_SYS_ADMIN");
        return;
    }
    if !testkit::interop(&["ip", "nft", "kamailio", "kamcmd"]) {
        return;
    }
    // Names and addresses of this run's own, so that runs at the same time do not collide.
    let id = format!("rn{}", std::process::id() % 100_000);
    let net = std::process::id() % 250;
    let (outside, public) = (format!("198.18.{net}.1"), format!("198.18.{net}.2"));
    let up = Command::new(nat_script())
        .args(["up", &id, &net.to_string(), "30"])
        .output()
        .unwrap();
    if !up.status.success() {
        testkit::skip(&format!(
            "cannot make the NAT namespaces: {}",
            String::from_utf8_lossy(&up.stderr)
        ));
        return;
    }
    let _nat = Nat(id.clone());
    let kam = Kamailio::start_at("nat", &outside, &[]).expect("kamailio is installed");

    // bob, outside, publishes his status through Kamailio's presence server.
    let dir = TempDir::new("nat-bob");
    let (bob, mut bob_events) = client_with(None, |c| {
        c.transport.udp = vec![format!("{outside}:0").parse().unwrap()];
        c.transport.tcp = vec![];
    })
    .await;
    let bob_profile = bob
        .create_profile(&profile_xml_at("bob", &outside, kam.port, "udp"))
        .unwrap();
    bob.enable_profile(&bob_profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut bob_events, RegistrationState::Registered).await;
    bob.enable_presence(Store::file(dir.path("bob.xml")))
        .await
        .unwrap();
    bob.set_local_presence(Status::Online, None).await.unwrap();

    // alice, behind the NAT, in this test binary run again inside the client's namespace.
    let mut inner = Command::new("ip")
        .args(["netns", "exec", &format!("{id}-lan")])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "inner_alice_behind_the_nat",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INNER, kam.port.to_string())
        .env(INNER_SERVER, &outside)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = inner.stdin.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = inner.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("alice: {line}");
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let wait_for = |what: &str| loop {
        match lines.recv_timeout(Duration::from_secs(60)) {
            // libtest may put its own `test … ... ` before the line.
            Ok(line) if line.ends_with(what) => return,
            Ok(_) => {}
            Err(e) => panic!("waiting for alice to say {what}: {e}\n{}", kam.log()),
        }
    };
    wait_for("watching");
    // The registrar holds alice's public address, not the private one.
    let bindings = kam.rpc("ul.dump");
    assert!(bindings.contains(&public), "{bindings}");
    assert!(!bindings.contains("sip:alice@10.77.0.2"), "{bindings}");

    // Idle for six conntrack timeouts: only keep-alives keep the mapping.
    tokio::time::sleep(IDLE).await;
    bob.set_local_presence(Status::Away, Some("back soon"))
        .await
        .unwrap();
    bob.send_message("sip:alice@example.test", "still reachable?")
        .await
        .unwrap();
    wait_for("reached");
    writeln!(stdin, "quit").unwrap();
    drop(stdin);
    let status = inner.wait().unwrap();
    assert!(status.success(), "alice's run failed: {status}");
    bob.shutdown().await.unwrap();
}

/// alice, run only inside the NAT by the test above: registers, watches bob, says `watching`;
/// then says `reached` once bob's NOTIFY (away) and MESSAGE both arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inner_alice_behind_the_nat() {
    let Some(port) = std::env::var_os(INNER) else {
        return;
    };
    let port: u16 = port.to_str().unwrap().parse().unwrap();
    let server = std::env::var(INNER_SERVER).unwrap();
    let dir = TempDir::new("nat-alice");
    // The defaults: keep-alives every 25-29 s, against the router's 30 s.
    let (alice, mut events) = Client::builder().start().await.unwrap();
    let profile = alice
        .create_profile(&profile_xml_at("alice", &server, port, "udp"))
        .unwrap();
    alice
        .enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut events, RegistrationState::Registered).await;
    alice
        .enable_presence(Store::file(dir.path("alice.xml")))
        .await
        .unwrap();
    alice
        .add_buddy("sip:bob@example.test", "Bob")
        .await
        .unwrap();
    expect_buddy(&mut events, "sip:bob@example.test", Status::Online).await;
    println!("watching");
    let (mut notified, mut messaged) = (false, false);
    let deadline = tokio::time::Instant::now() + IDLE + Duration::from_secs(60);
    while !(notified && messaged) {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(Event::Buddy {
                status: Status::Away,
                ..
            })) => notified = true,
            Ok(Some(Event::Message { text, .. })) if text == "still reachable?" => messaged = true,
            Ok(Some(_)) => {}
            other => panic!("notified {notified}, messaged {messaged}: {other:?}"),
        }
    }
    println!("reached");
    alice.shutdown().await.unwrap();
}
