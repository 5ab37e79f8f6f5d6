//! The heap of a client logged in for a day with 1,000 buddies (issue 12): `rtc-client` against
//! the embedded registrar/proxy on loopback, on tokio's paused clock, so that 24 hours of
//! timers (registration refreshes, UDP keep-alives, subscription refreshes and retries, the
//! registrar check) run in moments. Every simulated hour it prints the bytes allocated and not
//! yet freed (a counting global allocator), which must stay flat.
//!
//! ```text
//! client-memory [HOURS] [BUDDIES]        (default 24 and 1000)
//! ```
//!
//! alice registers over UDP, enables presence and adds `BUDDIES` buddies: bob, a second client
//! that lets her watch him and changes his note every hour, and `BUDDIES - 1` users the server
//! does not know, whose subscriptions fail (404) and are retried with backoff (30 s doubling
//! to an hour). Prints `hour live_bytes allocations_in_the_hour` lines, what alice saw (her
//! registration changes, bob's hourly notes), then the spread of `live_bytes` after the first
//! hour.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use benches::alloc_count::{self, CountingAlloc};
use rtc_client::server::{EmbeddedServer, ServerConfig};
use rtc_client::{
    Client, ClientConfig, Event, Events, RegisterFlags, RegistrationState, Status, Store,
};
use sip_parse::TransportKind;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let hours: u32 = args.get(1).map_or(Ok(24), |h| h.parse())?;
    let buddies: usize = args.get(2).map_or(Ok(1000), |b| b.parse())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()?;
    rt.block_on(run(hours, buddies))
}

fn profile(user: &str, port: u16) -> String {
    format!(
        r#"<provision key="{user}" name="embedded">
  <user uri="sip:{user}@example.test" account="{user}" password="{user}pw" realm="example.test"/>
  <sipsrv addr="127.0.0.1:{port}" protocol="udp" auth="digest" role="registrar">
    <session party="first" type="im"/>
  </sipsrv>
</provision>"#
    )
}

/// Events a client's reader counted: its registration changes, and the notes of bob it saw.
#[derive(Default)]
struct Seen {
    registration_changes: AtomicU64,
    bob_notes: AtomicU64,
}

/// A client registered as `user`, with presence stored in `dir`; its events are read (and
/// counted) by a task of their own, as an application would.
async fn online(
    user: &str,
    port: u16,
    dir: &std::path::Path,
    seen: Arc<Seen>,
) -> Result<Client, Box<dyn std::error::Error>> {
    let mut config = ClientConfig::default();
    config.transport.udp = vec!["127.0.0.1:0".parse()?];
    config.transport.tcp = vec!["127.0.0.1:0".parse()?];
    let (client, mut events) = Client::builder().config(config).start().await?;
    let profile = client.create_profile(&profile(user, port))?;
    client.enable_profile(&profile, RegisterFlags::ALL).await?;
    registered(&mut events).await?;
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            match e {
                Event::Registration { .. } => {
                    seen.registration_changes.fetch_add(1, Ordering::Relaxed);
                }
                Event::Buddy { uri, .. } if uri == "sip:bob@example.test" => {
                    seen.bob_notes.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
        }
    });
    client
        .enable_presence(Store::file(dir.join(format!("{user}.xml"))))
        .await?;
    Ok(client)
}

async fn registered(events: &mut Events) -> Result<(), Box<dyn std::error::Error>> {
    while let Some(e) = events.recv().await {
        if let Event::Registration { state, reason, .. } = e {
            match state {
                RegistrationState::Registered => return Ok(()),
                RegistrationState::Rejected => return Err(reason.into()),
                _ => {}
            }
        }
    }
    Err("the client stopped".into())
}

async fn run(hours: u32, buddies: usize) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("client-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let server = EmbeddedServer::start_loopback(ServerConfig::demo()).await?;
    let port = server
        .local_addr(TransportKind::Udp)
        .ok_or("no UDP listener")?
        .port();
    let bob = online("bob", port, &dir, Arc::default()).await?;
    bob.set_local_presence(Status::Online, Some("hour 0"))
        .await?;
    bob.allow_watcher("sip:alice@example.test").await?;
    let seen = Arc::new(Seen::default());
    let alice = online("alice", port, &dir, seen.clone()).await?;
    alice.set_local_presence(Status::Online, None).await?;
    alice.add_buddy("sip:bob@example.test", "Bob").await?;
    for i in 1..buddies {
        alice
            .add_buddy(&format!("sip:nobody{i:04}@example.test"), "Nobody")
            .await?;
    }
    println!("hour live_bytes allocations_in_the_hour");
    let mut samples = Vec::new();
    for hour in 1..=hours {
        let before = alloc_count::allocations();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        bob.set_local_presence(Status::Online, Some(&format!("hour {hour}")))
            .await?;
        let live = alloc_count::live_bytes();
        println!(
            "{hour:4} {live:10} {:10}",
            alloc_count::allocations() - before
        );
        samples.push(live);
    }
    let watched = alice.buddies().await?.len();
    println!(
        "alice: {} registration changes after registering, {} presence events of bob (one an hour expected)",
        seen.registration_changes.load(Ordering::Relaxed),
        seen.bob_notes.load(Ordering::Relaxed)
    );
    alice.shutdown().await?;
    bob.shutdown().await?;
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    if let (Some(min), Some(max)) = (samples.iter().skip(1).min(), samples.iter().skip(1).max()) {
        println!(
            "buddies {watched}; live bytes from hour 2 on: min {min}, max {max}, spread {} ({:.1} %)",
            max - min,
            (max - min) as f64 * 100.0 / *min as f64
        );
    }
    Ok(())
}
