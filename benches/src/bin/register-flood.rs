//! 300,000 unauthenticated REGISTERs at 10,000 a second into the embedded registrar over UDP
//! (issue 15 item 3): the server runs as a child process, and its peak resident memory is
//! reported beside what the issue measured before the transaction cap (78 → 248 MB).
//!
//! ```text
//! register-flood [TOTAL=300000] [RATE=10000] [BOUND_MIB=96]
//! ```
//!
//! The default bound is [`benches::flood::BOUND_MIB`]: the default transaction cap's budget plus
//! the process.
//!
//! Prints the answers by status (401: the challenge of an accepted request; 503 with
//! Retry-After: over `sip_txn::Limits::max_server`), the requests left unanswered, and the
//! server's resident memory before, at its peak and after. Exits 1 if the peak is over
//! BOUND_MIB, if more requests went unanswered than UDP datagrams the kernel dropped for a full
//! receive buffer (a loss no server can answer), or if a 503 came without Retry-After.

use std::time::Duration;

use benches::flood::{BOUND_MIB, Victim, flood, serve_until_stdin_closes};
use rtc_client::server::{EmbeddedServer, ServerConfig};
use sip_transport::TransportKind;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        return serve();
    }
    let arg = |i: usize, default: u64| -> Result<u64, Box<dyn std::error::Error>> {
        Ok(args.get(i).map_or(Ok(default), |a| a.parse())?)
    };
    let (total, rate, bound_mib) = (arg(0, 300_000)?, arg(1, 10_000)?, arg(2, BOUND_MIB)?);
    let victim = Victim::spawn(&["--serve"])?;
    let server = victim.addr;
    let report = flood(&victim, total, rate, Duration::from_secs(3), |i, local| {
        let user = if i % 2 == 0 { "alice" } else { "bob" };
        format!(
            "REGISTER sip:example.test SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};rport;branch=z9hG4bKflood{i}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@example.test>;tag=f{i}\r\n\
             To: <sip:{user}@example.test>\r\n\
             Call-ID: flood-{i}@{local}\r\n\
             CSeq: 1 REGISTER\r\n\
             Contact: <sip:{user}@{local}>\r\n\
             Expires: 600\r\n\
             User-Agent: register-flood\r\n\
             Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    })?;
    println!("register-flood {server}: {report}");
    let mut failed = false;
    if report.rss_hwm_kib > bound_mib * 1024 {
        println!("FAIL: peak RSS over the bound of {bound_mib} MiB");
        failed = true;
    }
    if report.unanswered() > report.kernel_dropped {
        println!("FAIL: more requests went unanswered than the kernel dropped");
        failed = true;
    }
    if report.busy_with_retry_after < report.count(503) {
        println!("FAIL: a 503 came without Retry-After");
        failed = true;
    }
    std::process::exit(i32::from(failed));
}

/// The child: the embedded registrar with the demo users on 127.0.0.1, default limits.
fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let server = rt.block_on(EmbeddedServer::start_loopback(ServerConfig::demo()))?;
    let addr = server
        .local_addr(TransportKind::Udp)
        .ok_or("no UDP listener")?;
    serve_until_stdin_closes(addr);
    server.shutdown();
    Ok(())
}
