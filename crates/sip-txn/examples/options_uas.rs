//! A minimal UAS: answers every request 200 OK through the tokio driver (and OPTIONS with the
//! methods it allows).
//!
//! Shows [`Driver::start`] on a UDP listener, reading [`IncomingRequests`], and answering each
//! through its server transaction, which absorbs retransmitted requests and resends the final
//! response for them (RFC 3261 §17.2.2).
//!
//! ```text
//! cargo run --example options_uas -p sip-txn                       # listens on 127.0.0.1:5070
//! cargo run --example options_uas -p sip-txn -- 127.0.0.1:5080 1   # address, then exit after 1 request
//! ```
//!
//! Try it with `options_uac` (see its doc) or `sipp -sn uac 127.0.0.1:5070`. The driver needs
//! the crate's `driver` feature.
//!
//! [`Driver::start`]: sip_txn::driver::Driver::start
//! [`IncomingRequests`]: sip_txn::driver::IncomingRequests

use std::net::SocketAddr;
use std::process::ExitCode;

use sip_parse::Method;
use sip_transport::{Transport, TransportConfig};
use sip_txn::TransportKind;
use sip_txn::driver::{Driver, DriverConfig, Received};

const USAGE: &str = "usage: options_uas [LISTEN=127.0.0.1:5070] [REQUESTS_BEFORE_EXIT]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:5070".to_owned());
    let limit = args.next().map(|n| n.parse::<usize>());
    let (Ok(listen), None | Some(Ok(_))) = (listen.parse::<SocketAddr>(), &limit) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(listen, limit.and_then(Result::ok)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("options_uas: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(listen: SocketAddr, limit: Option<usize>) -> Result<(), Box<dyn std::error::Error>> {
    let (transport, events) = Transport::bind(TransportConfig {
        udp: vec![listen],
        ..Default::default()
    })
    .await?;
    let (driver, mut incoming) = Driver::start(transport, events, DriverConfig::default())?;
    let bound = driver.transport().local_addr(TransportKind::Udp);
    println!("answering on udp {}", bound.unwrap_or(listen));
    let mut answered = 0;
    while limit.is_none_or(|n| answered < n) {
        let Some(received) = incoming.recv().await else {
            break;
        };
        // ACKs, lost connections and STUN answers need nothing from a UAS that keeps no dialogs.
        let Received::Request(req) = received else {
            continue;
        };
        let method = req.request.method().map(|m| m.to_string());
        println!(
            "{} {} from {}",
            method.as_deref().unwrap_or("?"),
            req.request.request_uri().unwrap_or("?"),
            req.source.target
        );
        let mut ok = req.transaction.response(200, "OK")?;
        if req.request.method() == Some(Method::Options) {
            // RFC 3261 §11.2: the answer to OPTIONS lists what this UAS allows.
            ok = ok.header("Allow", "OPTIONS, MESSAGE")?;
        }
        req.transaction
            .respond(sip_parse::Message::parse(ok.build())?)
            .await?;
        answered += 1;
    }
    driver.shutdown().await;
    Ok(())
}
