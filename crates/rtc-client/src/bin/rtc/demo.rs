//! `rtc demo`: the article's whole flow on loopback, with no set-up. An embedded
//! registrar/proxy with digest auth and two clients, alice and bob, that register, watch each
//! other, allow each other, change status, exchange messages, export their presence and log
//! off. Every event is printed as it happens.

use std::path::PathBuf;
use std::time::Duration;

use rtc_client::server::{EmbeddedServer, ServerConfig};
use rtc_client::{
    Client, ClientConfig, Event, Events, RegisterFlags, RegistrationState, Status, Store,
};
use sip_parse::TransportKind;
use sip_transport::TransportConfig;
use tokio::sync::mpsc;

use crate::output::describe;

type Failed = Box<dyn std::error::Error>;

/// One demo user: its client, and the events it has printed, to wait on.
struct User {
    name: &'static str,
    uri: String,
    client: Client,
    seen: mpsc::UnboundedReceiver<Event>,
}

impl User {
    async fn start(name: &'static str) -> Result<User, Failed> {
        let (client, events) = Client::builder()
            .config(ClientConfig {
                transport: TransportConfig {
                    udp: vec!["127.0.0.1:0".parse()?],
                    tcp: vec!["127.0.0.1:0".parse()?],
                    ..TransportConfig::default()
                },
                ..ClientConfig::default()
            })
            .start()
            .await?;
        let (tx, seen) = mpsc::unbounded_channel();
        tokio::spawn(print_events(name, events, tx));
        Ok(User {
            name,
            uri: format!("sip:{name}@example.test"),
            client,
            seen,
        })
    }

    /// Waits for the first event `want` accepts (events before it were printed already).
    async fn wait(&mut self, what: &str, want: impl Fn(&Event) -> bool) -> Result<Event, Failed> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.seen.recv()).await {
                Ok(Some(e)) if want(&e) => return Ok(e),
                Ok(Some(_)) => {}
                Ok(None) => {
                    return Err(format!("{}: client stopped before {what}", self.name).into());
                }
                Err(_) => return Err(format!("{}: no {what} within 10 s", self.name).into()),
            }
        }
    }

    async fn wait_state(&mut self, state: RegistrationState) -> Result<(), Failed> {
        self.wait(
            &format!("registration state {state}"),
            |e| matches!(e, Event::Registration { state: s, .. } if *s == state),
        )
        .await
        .map(drop)
    }

    async fn wait_buddy(&mut self, uri: &str, status: Status) -> Result<(), Failed> {
        self.wait(
            &format!("{uri} {status}"),
            |e| matches!(e, Event::Buddy { uri: u, status: s, .. } if u == uri && *s == status),
        )
        .await
        .map(drop)
    }
}

async fn print_events(name: &str, mut events: Events, seen: mpsc::UnboundedSender<Event>) {
    while let Some(e) = events.recv().await {
        let line = describe(&e);
        println!("[{name:>5}] {line}");
        let _ = seen.send(e);
    }
}

fn profile(user: &str, port: u16) -> String {
    format!(
        r#"<provision key="{user}-demo" name="rtc demo">
  <user uri="sip:{user}@example.test" account="{user}" password="{user}pw" realm="example.test"/>
  <sipsrv addr="127.0.0.1:{port}" protocol="udp" auth="digest" role="registrar">
    <session party="first" type="pc2pc"/>
    <session party="first" type="im"/>
  </sipsrv>
</provision>"#
    )
}

pub(crate) fn run() -> bool {
    let Some(runtime) = crate::runtime("demo") else {
        return false;
    };
    match runtime.block_on(demo()) {
        Ok(dir) => {
            println!("demo complete; presence exported to {}", dir.display());
            true
        }
        Err(e) => {
            eprintln!(
                "rtc demo failed: {}",
                crate::output::one_line(&e.to_string())
            );
            false
        }
    }
}

async fn demo() -> Result<PathBuf, Failed> {
    let server = EmbeddedServer::start_loopback(ServerConfig::demo()).await?;
    let port = server
        .local_addr(TransportKind::Udp)
        .ok_or("the embedded server has no UDP listener")?
        .port();
    println!(
        "embedded registrar/proxy for example.test on 127.0.0.1:{port} (UDP and TCP), digest auth"
    );
    let dir = std::env::temp_dir().join(format!("rtc-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;

    let mut alice = User::start("alice").await?;
    let mut bob = User::start("bob").await?;

    println!("-- CreateProfile, EnablePresence, EnableProfile(RTCRF_REGISTER_ALL)");
    let mut profiles = Vec::new();
    for user in [&mut alice, &mut bob] {
        let p = user.client.create_profile(&profile(user.name, port))?;
        user.client
            .enable_presence(Store::file(dir.join(format!("{}-presence.xml", user.name))))
            .await?;
        user.client.enable_profile(&p, RegisterFlags::ALL).await?;
        user.wait_state(RegistrationState::Registered).await?;
        user.client.set_local_presence(Status::Online, None).await?;
        profiles.push(p);
    }

    println!("-- alice adds bob as a buddy; bob is asked and allows alice");
    alice.client.add_buddy(&bob.uri, "Bob").await?;
    bob.wait("alice offered as a watcher", |e| {
        matches!(e, Event::Watcher { .. })
    })
    .await?;
    bob.client.allow_watcher(&alice.uri).await?;
    alice.wait_buddy(&bob.uri, Status::Online).await?;

    println!("-- bob adds alice; alice allows bob");
    bob.client.add_buddy(&alice.uri, "Alice").await?;
    alice
        .wait("bob offered as a watcher", |e| {
            matches!(e, Event::Watcher { .. })
        })
        .await?;
    alice.client.allow_watcher(&bob.uri).await?;
    bob.wait_buddy(&alice.uri, Status::Online).await?;

    println!("-- status changes");
    alice
        .client
        .set_local_presence(Status::Away, Some("getting coffee"))
        .await?;
    bob.wait_buddy(&alice.uri, Status::Away).await?;
    bob.client
        .set_local_presence(Status::Busy, Some("in a meeting"))
        .await?;
    alice.wait_buddy(&bob.uri, Status::Busy).await?;

    println!("-- instant messages");
    alice.client.set_typing(&bob.uri, true).await?;
    bob.wait("alice typing", |e| matches!(e, Event::Typing { .. }))
        .await?;
    alice
        .client
        .send_message(&bob.uri, "Hello Bob, lunch later?")
        .await?;
    bob.wait("alice's message", |e| matches!(e, Event::Message { .. }))
        .await?;
    bob.client
        .send_message(&alice.uri, "Sure, at noon.")
        .await?;
    alice
        .wait("bob's message", |e| matches!(e, Event::Message { .. }))
        .await?;

    println!("-- export presence.xml, then log off");
    for user in [&mut alice, &mut bob] {
        let path = dir.join(format!("{}-export.xml", user.name));
        user.client.export(&path).await?;
        println!("[{:>5}] exported {}", user.name, path.display());
    }
    for (user, p) in [&mut alice, &mut bob].into_iter().zip(&profiles) {
        user.client.disable_presence().await?;
        user.client.disable_profile(p).await?;
        user.wait_state(RegistrationState::NotRegistered).await?;
    }
    for user in [&alice, &bob] {
        user.client.shutdown().await?;
    }
    server.shutdown();
    Ok(dir)
}
