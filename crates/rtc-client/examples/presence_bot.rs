//! A presence bot: logs in from a provisioning profile, mirrors one buddy's status as its own,
//! and answers every instant message with what it mirrors.
//!
//! Shows the client's whole life: [`Client::create_profile`], [`Client::enable_presence`] with
//! a [`Store`], [`Client::enable_profile`] (REGISTER), [`Client::add_buddy`] (SUBSCRIBE), reading
//! [`Event`]s, [`Client::set_local_presence`] (NOTIFY to watchers, PUBLISH where there is a
//! presence server), [`Client::allow_watcher`], [`Client::send_message`], and logging off.
//!
//! ```text
//! cargo run --example presence_bot -p rtc-client -- me.xml sip:bob@example.com [STORE]
//! ```
//!
//! `me.xml` is a provisioning profile (the format `rtc profile check` reads; `rtc demo` prints
//! the one it uses); `STORE` is the presence store (buddies, watchers), by default
//! `presence_bot.xml` in the temporary directory. Every watcher is allowed. It needs a real
//! registrar: Kamailio, or another client's peer through one. Type `quit` or end stdin (Ctrl-D)
//! to log off (presence saved, registration removed); it also ends if the registration is
//! rejected.

use std::process::ExitCode;

use rtc_client::{Client, Event, RegisterFlags, RegistrationState, Status, Store};
use tokio::sync::mpsc;

const USAGE: &str = "usage: presence_bot PROFILE.xml BUDDY_URI [STORE.xml]";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [profile, buddy, rest @ ..] = &args[..] else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let store = rest.first().map_or_else(
        || std::env::temp_dir().join("presence_bot.xml"),
        std::path::PathBuf::from,
    );
    match run(profile, buddy, Store::file(store)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("presence_bot: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(profile: &str, buddy: &str, store: Store) -> Result<(), Box<dyn std::error::Error>> {
    let xml = std::fs::read_to_string(profile).map_err(|e| format!("{profile}: {e}"))?;
    let (client, mut events) = Client::builder().start().await?;
    let profile = client.create_profile(&xml)?;
    client.enable_presence(store).await?;
    client.add_buddy(buddy, "mirrored").await?;
    client.enable_profile(&profile, RegisterFlags::ALL).await?;
    let mut quit = stdin_closed();

    // What the buddy shows, and so what we show once registered.
    let mut mirrored = (Status::Offline, None::<String>);
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = quit.recv() => break,
        };
        let Some(event) = event else { break };
        match event {
            Event::Registration { state, reason, .. } => {
                println!("registration: {state} ({reason})");
                match state {
                    // Presence enabled before registering shows us offline until a status is
                    // set while registered.
                    RegistrationState::Registered => {
                        client
                            .set_local_presence(mirrored.0, mirrored.1.as_deref())
                            .await?;
                    }
                    RegistrationState::Rejected => return Err(reason.into()),
                    _ => {}
                }
            }
            Event::Buddy { uri, status, note } if uri == buddy => {
                println!("{uri} is {status}: mirroring it");
                client.set_local_presence(status, note.as_deref()).await?;
                mirrored = (status, note);
            }
            Event::Watcher { uri, .. } => {
                println!("{uri} watches us: allowed");
                client.allow_watcher(&uri).await?;
            }
            Event::Message { from, text, .. } => {
                println!("{from}: {text}");
                let (status, note) = &mirrored;
                let answer = match note {
                    Some(note) => format!("{buddy} is {status} ({note})"),
                    None => format!("{buddy} is {status}"),
                };
                if let Err(e) = client.send_message(&from, &answer).await {
                    eprintln!("answer to {from} failed: {e}");
                }
            }
            Event::BuddySubscription { uri, state, .. } => println!("watching {uri}: {state}"),
            _ => {}
        }
    }
    println!("logging off");
    client.disable_presence().await?;
    client.disable_profile(&profile).await?;
    client.shutdown().await?;
    Ok(())
}

/// Receives once stdin says `quit` or ends (read on a thread: tokio's stdin needs a feature
/// this crate does not enable).
fn stdin_closed() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(1);
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) && line.trim() != "quit" {
            line.clear();
        }
        let _ = tx.blocking_send(());
    });
    rx
}
