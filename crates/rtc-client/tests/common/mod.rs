//! Shared by the integration tests: a real Kamailio started from `interop/kamailio/`, and
//! clients and profiles pointed at it.
#![allow(dead_code)] // each test binary uses its own part

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rtc_client::server::{EmbeddedServer, ServerConfig};
use rtc_client::{
    Client, ClientConfig, Event, Events, Profile, RegisterFlags, RegistrationState, Store,
};
use sip_parse::TransportKind;
use sip_transport::TlsConfig;
pub(crate) use sip_transport::testkit::free_port;

pub(crate) mod baresip;

/// A Kamailio (registrar, digest auth, presence server) on loopback, stopped on drop.
pub(crate) struct Kamailio {
    pub(crate) dir: PathBuf,
    pub(crate) port: u16,
    pub(crate) tls_port: u16,
    /// The address it listens on (127.0.0.1 unless started with [`Kamailio::start_at`]).
    pub(crate) ip: String,
    args: Vec<String>,
}

fn interop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/kamailio")
}

impl Kamailio {
    /// Starts Kamailio with `args` (e.g. `-A WITH_P2P`); `None` where it is not installed, after
    /// the interop gate said so (under `CI=true` the gate fails the test instead).
    pub(crate) fn start(name: &str, args: &[&str]) -> Option<Kamailio> {
        Self::start_at(name, "127.0.0.1", args)
    }

    /// [`start`](Self::start), listening on `ip` (which must be a local address).
    pub(crate) fn start_at(name: &str, ip: &str, args: &[&str]) -> Option<Kamailio> {
        if !sip_transport::testkit::interop(&["kamailio"]) {
            return None;
        }
        let dir = std::env::temp_dir().join(format!("rtc-client-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let kam = Kamailio {
            dir,
            port: free_port(),
            tls_port: free_port(),
            ip: ip.to_owned(),
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        kam.run_start();
        Some(kam)
    }

    fn run_start(&self) {
        let mut cmd = Command::new(interop().join("start.sh"));
        cmd.env("KAM_IP", &self.ip)
            .arg(&self.dir)
            .arg(self.port.to_string())
            .arg(self.tls_port.to_string());
        if !self.args.is_empty() {
            cmd.arg("--").args(&self.args);
        }
        let out = cmd.output().expect("run interop/kamailio/start.sh");
        assert!(
            out.status.success(),
            "start.sh failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops Kamailio and starts it again on the same ports: every registration, subscription
    /// and publication it held (all in memory) is gone, and every connection to it broken.
    pub(crate) fn restart(&self) {
        self.stop();
        self.start_again();
    }

    /// Stops Kamailio (an outage), keeping its directory for [`start_again`](Self::start_again).
    pub(crate) fn stop(&self) {
        let out = Command::new(interop().join("stop.sh"))
            .arg(&self.dir)
            .output()
            .expect("run interop/kamailio/stop.sh");
        assert!(out.status.success(), "stop.sh failed: {out:?}");
        let log = self.dir.join("kamailio.log");
        let _ = std::fs::rename(&log, self.dir.join("kamailio-before-restart.log"));
    }

    /// Starts a stopped Kamailio again on the same ports, with no memory of the last run.
    pub(crate) fn start_again(&self) {
        self.run_start();
    }

    /// The port that takes `protocol` ("udp", "tcp" or "tls").
    pub(crate) fn port_for(&self, protocol: &str) -> u16 {
        if protocol == "tls" {
            self.tls_port
        } else {
            self.port
        }
    }

    /// The CA that signed the server certificate.
    pub(crate) fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// What Kamailio's RPC `command` prints (e.g. `ul.dump`, or `htable.seti deny alice 1`
    /// with its arguments), through its control socket.
    pub(crate) fn rpc(&self, command: &str) -> String {
        let socket = format!("unix:{}", self.dir.join("kamailio_ctl").display());
        let out = Command::new("kamcmd")
            .args(["-s", &socket])
            .args(command.split_whitespace())
            .output()
            .expect("run kamcmd");
        assert!(out.status.success(), "kamcmd {command}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Kamailio's log, for failure messages.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("kamailio.log")).unwrap_or_default()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        let _ = Command::new(interop().join("stop.sh"))
            .arg(&self.dir)
            .output();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A profile made from `xml` and enabled for every session kind (registering begins).
pub(crate) async fn enable(client: &rtc_client::Client, xml: &str) -> rtc_client::Profile {
    let profile = client.create_profile(xml).unwrap();
    client
        .enable_profile(&profile, rtc_client::RegisterFlags::ALL)
        .await
        .unwrap();
    profile
}

/// A provisioning profile for `user` (password `{user}pw`, or `pw-{user}` for u0001…) at
/// `127.0.0.1:port` over `protocol`.
pub(crate) fn profile_xml(user: &str, port: u16, protocol: &str) -> String {
    profile_xml_at(user, "127.0.0.1", port, protocol)
}

/// [`profile_xml`] for a server at `ip`.
pub(crate) fn profile_xml_at(user: &str, ip: &str, port: u16, protocol: &str) -> String {
    let password = if user.starts_with('u') && user[1..].bytes().all(|b| b.is_ascii_digit()) {
        format!("pw-{user}")
    } else {
        format!("{user}pw")
    };
    format!(
        r#"<provision key="{user}-{protocol}" name="Kamailio">
  <user uri="sip:{user}@example.test" account="{user}" password="{password}" realm="example.test"/>
  <sipsrv addr="{ip}:{port}" protocol="{protocol}" auth="digest" role="registrar">
    <session party="first" type="pc2pc"/>
    <session party="first" type="im"/>
  </sipsrv>
</provision>"#
    )
}

/// The embedded registrar/proxy with the demo accounts on loopback, and its UDP port.
pub(crate) async fn embedded_server() -> (EmbeddedServer, u16) {
    let server = EmbeddedServer::start_loopback(ServerConfig::demo())
        .await
        .unwrap();
    let port = server.local_addr(TransportKind::Udp).unwrap().port();
    (server, port)
}

/// A registered client with presence enabled (stored in `dir`), showing `status` and `note`
/// and allowing `watcher`.
pub(crate) async fn presenting(
    user: &str,
    port: u16,
    dir: &TempDir,
    status: rtc_client::Status,
    note: Option<&str>,
    watcher: &str,
) -> (Client, Events, Profile) {
    let (client, events, profile) = registered(&profile_xml(user, port, "udp"), None).await;
    client
        .enable_presence(rtc_client::Store::file(dir.path(&format!("{user}.xml"))))
        .await
        .unwrap();
    client.set_local_presence(status, note).await.unwrap();
    client.allow_watcher(watcher).await.unwrap();
    (client, events, profile)
}

/// A client with the default configuration on loopback UDP and TCP, trusting `ca` for TLS.
pub(crate) async fn client(ca: Option<&Path>) -> (Client, Events) {
    client_with(ca, |_| {}).await
}

/// [`client`], with `tweak` applied to its configuration.
pub(crate) async fn client_with(
    ca: Option<&Path>,
    tweak: impl FnOnce(&mut ClientConfig),
) -> (Client, Events) {
    let mut config = ClientConfig::default();
    config.transport.udp = vec!["127.0.0.1:0".parse().unwrap()];
    config.transport.tcp = vec!["127.0.0.1:0".parse().unwrap()];
    if let Some(ca) = ca {
        config.transport.tls_client = Some(TlsConfig::new().add_ca_file(ca).unwrap());
    }
    tweak(&mut config);
    Client::builder().config(config).start().await.unwrap()
}

/// A client registered with the profile `xml`, trusting `ca` for TLS.
pub(crate) async fn registered(xml: &str, ca: Option<&Path>) -> (Client, Events, Profile) {
    let (client, events) = client(ca).await;
    enabled(client, events, xml).await
}

/// [`registered`] without TLS, with `tweak` applied to the client's configuration.
pub(crate) async fn registered_with(
    xml: &str,
    tweak: impl FnOnce(&mut ClientConfig),
) -> (Client, Events, Profile) {
    let (client, events) = client_with(None, tweak).await;
    enabled(client, events, xml).await
}

/// `client` with the profile `xml` enabled for everything, once registered.
async fn enabled(client: Client, mut events: Events, xml: &str) -> (Client, Events, Profile) {
    let profile = client.create_profile(xml).unwrap();
    client
        .enable_profile(&profile, RegisterFlags::ALL)
        .await
        .unwrap();
    expect_state(&mut events, RegistrationState::Registered).await;
    (client, events, profile)
}

/// Waits (at most 20 s) for an event matching `want`, returning it; earlier events are
/// skipped but kept in the panic message.
pub(crate) async fn expect(
    events: &mut Events,
    what: &str,
    want: impl Fn(&Event) -> bool,
) -> Event {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(e)) if want(&e) => return e,
            Ok(Some(e)) => seen.push(e),
            Ok(None) => panic!("events ended waiting for {what}; saw {seen:#?}"),
            Err(_) => panic!("timed out waiting for {what}; saw {seen:#?}"),
        }
    }
}

/// Waits for the registration state `state` of any profile.
pub(crate) async fn expect_state(events: &mut Events, state: RegistrationState) -> Event {
    expect(
        events,
        &format!("registration {state}"),
        |e| matches!(e, Event::Registration { state: s, .. } if *s == state),
    )
    .await
}

/// A fresh directory for presence stores, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("rtc-client-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub(crate) fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits for a buddy event about `uri` with `status`.
pub(crate) async fn expect_buddy(
    events: &mut Events,
    uri: &str,
    status: rtc_client::Status,
) -> Event {
    expect(
        events,
        &format!("{uri} {status:?}"),
        |e| matches!(e, Event::Buddy { uri: u, status: s, .. } if u == uri && *s == status),
    )
    .await
}

/// alice's client with presence on (its store in `dir`), registered with the server at `port`
/// over UDP (and no TCP listener).
pub(crate) async fn alice_with_presence(port: u16, dir: &TempDir) -> (Client, Events) {
    let (client, mut events) = client_with(None, |c| c.transport.tcp = vec![]).await;
    client
        .enable_presence(Store::file(dir.path("alice.xml")))
        .await
        .unwrap();
    let _profile = enable(&client, &profile_xml("alice", port, "udp")).await;
    expect(&mut events, "registered", |e| {
        matches!(
            e,
            Event::Registration {
                state: RegistrationState::Registered,
                ..
            }
        )
    })
    .await;
    (client, events)
}
