//! A UAC that sends one OPTIONS over UDP through the tokio driver and prints the answer.
//!
//! Shows [`Driver::start`] on a [`Transport`], building a request with the headers RFC 3261
//! §8.1.1 requires, and awaiting its [`ClientTransaction`]: over UDP the driver retransmits the
//! request (timer E: T1, 2·T1, … capped at T2, §17.1.2.2) until a final response comes or
//! timer F (64·T1) fires. T1 is 100 ms here, so an unanswered OPTIONS gives up after 6.4 s.
//!
//! ```text
//! cargo run --example options_uas -p sip-txn            # in one terminal: answers on 127.0.0.1:5070
//! cargo run --example options_uac -p sip-txn            # in another: OPTIONS to 127.0.0.1:5070
//! cargo run --example options_uac -p sip-txn -- 127.0.0.1:5080 127.0.0.1:0   # target, local
//! ```
//!
//! Exits 0 on a 2xx, 1 on another final response or a timeout. The driver needs the crate's
//! `driver` feature (`sip-txn = { features = ["driver"] }`).
//!
//! [`Driver::start`]: sip_txn::driver::Driver::start
//! [`ClientTransaction`]: sip_txn::driver::ClientTransaction

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use sip_parse::{Message, MessageBuilder, Method};
use sip_transport::{Transport, TransportConfig};
use sip_txn::driver::{Driver, DriverConfig};
use sip_txn::{Target, TimerConfig, TransportKind};

const USAGE: &str = "usage: options_uac [TARGET=127.0.0.1:5070] [LOCAL=127.0.0.1:0]";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(target), Some(local)) = (
        addr(args.next(), "127.0.0.1:5070"),
        addr(args.next(), "127.0.0.1:0"),
    ) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(target, local).await {
        Ok(status) if (200..300).contains(&status) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("options_uac: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The argument as a socket address, or `default` when absent; `None` when it does not parse.
fn addr(arg: Option<String>, default: &str) -> Option<SocketAddr> {
    arg.as_deref().unwrap_or(default).parse().ok()
}

async fn run(target: SocketAddr, local: SocketAddr) -> Result<u16, Box<dyn std::error::Error>> {
    let (transport, events) = Transport::bind(TransportConfig {
        udp: vec![local],
        ..Default::default()
    })
    .await?;
    let config = DriverConfig {
        timers: TimerConfig {
            t1: Duration::from_millis(100),
            ..Default::default()
        },
        ..Default::default()
    };
    // No UAS role here: incoming requests are left to the driver (it answers them 503 once
    // its queue is full).
    let (driver, _incoming) = Driver::start(transport, events, config)?;
    let kind = TransportKind::Udp;
    let uri = format!("sip:{target}");
    let from = driver.contact_uri(kind, Some("uac"))?;
    // RFC 3261 §8.1.1: Via (with a fresh branch), Max-Forwards, From with a tag, To, Call-ID,
    // CSeq; §11.1: an OPTIONS may say what it accepts.
    let wire = MessageBuilder::request(Method::Options, &uri)
        .header("Via", &driver.via(kind)?)?
        .header("Max-Forwards", "70")?
        .header("From", &format!("<{from}>;tag={}", sip_txn::new_tag()?))?
        .header("To", &format!("<{uri}>"))?
        .header("Call-ID", &sip_txn::new_tag()?)?
        .header("CSeq", "1 OPTIONS")?
        .header("Accept", "application/sdp")?
        .build();
    let bound = driver.transport().local_addr(kind).unwrap_or(local);
    println!("OPTIONS {uri} from {bound}");
    let mut txn = driver
        .request(Message::parse(wire)?, Target::new(kind, target))
        .await?;
    let outcome = txn.final_response().await;
    driver.shutdown().await;
    let response = outcome?;
    let status = response.status().unwrap_or(0);
    println!("{status} {}", response.reason().unwrap_or(""));
    for header in response.headers() {
        let name = String::from_utf8_lossy(header.raw_name);
        println!("  {name}: {}", header.value_str().unwrap_or("<not UTF-8>"));
    }
    Ok(status)
}
