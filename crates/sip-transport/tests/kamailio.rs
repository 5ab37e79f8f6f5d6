//! Interop with a real SIP server: Kamailio over UDP, TCP and TLS on loopback, with a
//! certificate from a test CA made by rcgen. Skipped, with the reason printed, where the
//! `kamailio` binary (Debian packages `kamailio`, `kamailio-tls-modules`) is not installed.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use sip_transport::testkit::free_port;
use sip_transport::{Error, Target, TlsConfig, TransportConfig, TransportEvent, TransportKind};

/// The Kamailio process, killed by its PID when the test ends however it ends.
struct Kamailio {
    child: Child,
    dir: PathBuf,
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // SIGTERM lets the main process stop its children; SIGKILL would orphan them.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Starts Kamailio answering OPTIONS with 200 and everything else with 501. Returns it with the
/// CA PEM that signed its certificate (for `example.test`) and its SIP and TLS addresses.
async fn start_kamailio() -> Option<(Kamailio, String, SocketAddr, SocketAddr)> {
    if !sip_transport::testkit::interop(&["kamailio"]) {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("sip-transport-kamailio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Interop CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let mut leaf = CertificateParams::new(vec!["example.test".to_string()]).unwrap();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca).unwrap();
    let cert_file = write(&dir, "cert.pem", &cert.pem());
    let key_file = write(&dir, "key.pem", &key.serialize_pem());
    let tls_cfg = write(
        &dir,
        "tls.cfg",
        &format!(
            "[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n\
             private_key = {}\ncertificate = {}\n",
            key_file.display(),
            cert_file.display()
        ),
    );
    let (port, tls_port) = (free_port(), free_port());
    let cfg = write(
        &dir,
        "kamailio.cfg",
        &format!(
            "#!KAMAILIO\ndebug=2\nlog_stderror=yes\nchildren=1\ntcp_children=1\nenable_tls=yes\n\
             listen=udp:127.0.0.1:{port}\nlisten=tcp:127.0.0.1:{port}\nlisten=tls:127.0.0.1:{tls_port}\n\
             loadmodule \"tls.so\"\nloadmodule \"sl.so\"\n\
             modparam(\"tls\", \"config\", \"{}\")\n\
             request_route {{\n  if (method==\"OPTIONS\") {{ sl_send_reply(\"200\", \"OK\"); exit; }}\n  \
             sl_send_reply(\"501\", \"Not Implemented\");\n}}\n",
            tls_cfg.display()
        ),
    );
    let log = std::fs::File::create(dir.join("kamailio.log")).unwrap();
    let child = Command::new("kamailio")
        .arg("-f")
        .arg(&cfg)
        .args(["-DD", "-E", "-w"])
        .arg(&dir)
        .arg("-Y")
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let kam = Kamailio { child, dir };
    let sip: SocketAddr = ([127, 0, 0, 1], port).into();
    let tls: SocketAddr = ([127, 0, 0, 1], tls_port).into();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(tls).await.is_ok() {
            return Some((kam, ca.pem(), sip, tls));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(kam.dir.join("kamailio.log")).unwrap_or_default();
    panic!("kamailio did not start:\n{log}");
}

#[tokio::test]
async fn kamailio_answers_over_udp_tcp_and_verified_tls() {
    let Some((_kamailio, ca_pem, sip, tls)) = start_kamailio().await else {
        return;
    };
    let trusting = TlsConfig::new()
        .without_webpki_roots()
        .add_ca_pem(ca_pem.as_bytes())
        .unwrap();
    let (client, mut events) = bind(TransportConfig {
        udp: vec![v4()],
        tls_client: Some(trusting.clone()),
        keepalive_interval: Some(Duration::from_millis(50)),
        keepalive_timeout: Duration::from_secs(2),
        ..Default::default()
    })
    .await;
    let udp_local = client.local_addr(TransportKind::Udp).unwrap();

    for (i, target) in [
        Target::udp(sip),
        Target::tcp(sip),
        Target::tls(tls, "example.test"),
    ]
    .into_iter()
    .enumerate()
    {
        let kind = target.transport;
        let via = format!("SIP/2.0/{kind} {udp_local};rport");
        let mut first_conn = None;
        for round in 0..2 {
            let conn = client
                .send(&target, options(&via, &format!("k{i}{round}")))
                .await
                .unwrap_or_else(|e| panic!("{target}: {e}"));
            let rsp = next_message(&mut events).await;
            assert_eq!(rsp.message.status(), Some(200), "{target}");
            assert_eq!(rsp.transport, kind);
            assert_eq!(rsp.connection, conn);
            // Streams: the second request reuses the first connection.
            if round == 0 {
                first_conn = conn;
            } else {
                assert_eq!(conn, first_conn, "{target}");
            }
        }
    }

    // Kamailio answers our CRLF keep-alive pings on both streams: nothing is closed.
    tokio::time::sleep(Duration::from_millis(400)).await;
    while let Some(ev) = events.try_recv() {
        assert!(
            !matches!(ev, TransportEvent::ConnectionClosed { .. }),
            "{ev:?}"
        );
    }
    assert_eq!(client.connection_count(), 2);

    // Kamailio's certificate is not valid for another name.
    let (other, _e) = bind(TransportConfig {
        tls_client: Some(trusting),
        ..Default::default()
    })
    .await;
    let err = other
        .send(
            &Target::tls(tls, "sip.other.test"),
            options("SIP/2.0/TLS h", "kx"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TlsHandshake { .. }), "{err}");
}
