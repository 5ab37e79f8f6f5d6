//! A one-second burst of 100,000 MESSAGEs into a registered `rtc_client::Client` over UDP (issue
//! 15 item 3, the client side): the client runs as a child process that reads its events as an
//! application would, and its peak resident memory is reported beside what the issue measured
//! before the transaction cap (8 → 119 MB).
//!
//! ```text
//! client-burst [TOTAL=100000] [RATE=100000] [BOUND_MIB=96]
//! ```
//!
//! The default bound is [`benches::flood::BOUND_MIB`]: the default transaction cap's budget plus
//! the process.
//!
//! The parent runs the embedded registrar the client registers with (its memory is not the
//! client's). Prints the answers by status (200 for a message delivered, 503 over the client's
//! queue or transaction cap), the requests the client never answered (a burst this fast
//! overflows its socket buffer: those datagrams are lost before the client sees them), and the
//! client's resident memory before, at its peak and after. Exits 1 if the peak is over
//! BOUND_MIB.

use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

use benches::flood::{BOUND_MIB, Victim, flood, serve_until_stdin_closes};
use rtc_client::server::{EmbeddedServer, ServerConfig};
use rtc_client::{Client, ClientConfig, Event, RegisterFlags, RegistrationState};
use sip_transport::TransportKind;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        let port: u16 = args.get(1).ok_or("--serve PORT")?.parse()?;
        return serve(port);
    }
    let arg = |i: usize, default: u64| -> Result<u64, Box<dyn std::error::Error>> {
        Ok(args.get(i).map_or(Ok(default), |a| a.parse())?)
    };
    let (total, rate, bound_mib) = (arg(0, 100_000)?, arg(1, 100_000)?, arg(2, BOUND_MIB)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let server = rt.block_on(EmbeddedServer::start_loopback(ServerConfig::demo()))?;
    let port = server
        .local_addr(TransportKind::Udp)
        .ok_or("no UDP listener")?
        .port();
    let victim = Victim::spawn(&["--serve", &port.to_string()])?;
    let client = victim.addr;
    let report = flood(&victim, total, rate, Duration::from_secs(3), |i, local| {
        let body = format!("burst message {i}");
        format!(
            "MESSAGE sip:alice@{client} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};rport;branch=z9hG4bKburst{i}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:bob@example.test>;tag=b{i}\r\n\
             To: <sip:alice@example.test>\r\n\
             Call-ID: burst-{i}@{local}\r\n\
             CSeq: 1 MESSAGE\r\n\
             Content-Type: text/plain\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    })?;
    println!("client-burst {client}: {report}");
    drop(victim);
    server.shutdown();
    let failed = report.rss_hwm_kib > bound_mib * 1024;
    if failed {
        println!("FAIL: peak RSS over the bound of {bound_mib} MiB");
    }
    std::process::exit(i32::from(failed));
}

/// The child: alice's client, registered with the registrar on `port`, reading its events.
fn serve(port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // A port of its own, known before the client binds it (the client does not say which).
    let own = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?.local_addr()?;
    let mut config = ClientConfig::default();
    config.transport.udp = vec![own];
    config.transport.tcp = Vec::new();
    config.udp_keepalive = None;
    let (client, mut events) = rt.block_on(Client::builder().config(config).start())?;
    let profile = client.create_profile(&format!(
        r#"<provision key="burst" name="embedded">
  <user uri="sip:alice@example.test" account="alice" password="alicepw" realm="example.test"/>
  <sipsrv addr="127.0.0.1:{port}" protocol="udp" auth="digest" role="registrar">
    <session party="first" type="im"/>
  </sipsrv>
</provision>"#
    ))?;
    rt.block_on(async {
        client.enable_profile(&profile, RegisterFlags::ALL).await?;
        loop {
            match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
                Ok(Some(Event::Registration {
                    state: RegistrationState::Registered,
                    ..
                })) => break,
                Ok(Some(_)) => {}
                _ => return Err("the client did not register".into()),
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    // Read events as an application would, counting the messages.
    let reader = rt.spawn(async move {
        let (mut messages, mut lagged) = (0u64, 0u64);
        while let Some(e) = events.recv().await {
            match e {
                Event::Message { .. } => messages += 1,
                Event::Lagged { .. } => lagged += 1,
                _ => {}
            }
        }
        (messages, lagged)
    });
    serve_until_stdin_closes(own);
    rt.block_on(client.shutdown())?;
    if let Ok((messages, lagged)) = rt.block_on(reader) {
        eprintln!("client-burst child: {messages} message events, {lagged} lag notices");
    }
    Ok(())
}
