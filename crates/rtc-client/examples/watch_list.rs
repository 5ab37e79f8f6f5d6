//! Watch a list of SIP URIs and print their live status, while appearing offline.
//!
//! Shows presence enabled *before* registering: the client then shows its watchers offline
//! until a status is set while registered, and this example never sets one, so it watches
//! without being seen online. Each URI is added as a buddy ([`Client::add_buddy`], a SUBSCRIBE
//! per buddy); [`Event::Buddy`] and [`Event::BuddySubscription`] are printed as they come.
//!
//! ```text
//! cargo run --example watch_list -p rtc-client -- me.xml sip:bob@example.com sip:carol@example.com
//! ```
//!
//! `me.xml` is a provisioning profile (the format `rtc profile check` reads). The buddy list
//! lives in a fresh store in the temporary directory, removed at exit. It needs a real
//! registrar (Kamailio, with its presence server or not). Type `quit` or end stdin (Ctrl-D) to
//! log off.

use std::process::ExitCode;

use rtc_client::{Client, Event, RegisterFlags, RegistrationState, Store};
use tokio::sync::mpsc;

const USAGE: &str = "usage: watch_list PROFILE.xml URI...";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [profile, uris @ ..] = &args[..] else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if uris.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let store = std::env::temp_dir().join(format!("watch_list-{}.xml", std::process::id()));
    let outcome = run(profile, uris, Store::file(&store)).await;
    let _ = std::fs::remove_file(&store);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("watch_list: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    profile: &str,
    uris: &[String],
    store: Store,
) -> Result<(), Box<dyn std::error::Error>> {
    let xml = std::fs::read_to_string(profile).map_err(|e| format!("{profile}: {e}"))?;
    let (client, mut events) = Client::builder().start().await?;
    let profile = client.create_profile(&xml)?;
    // Presence first, then the registration: we appear offline (no status is ever set).
    client.enable_presence(store).await?;
    for uri in uris {
        client.add_buddy(uri, uri).await?;
    }
    client.enable_profile(&profile, RegisterFlags::ALL).await?;
    let mut quit = stdin_closed();
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            _ = quit.recv() => break,
        };
        let Some(event) = event else { break };
        match event {
            Event::Buddy { uri, status, note } => match note {
                Some(note) => println!("{uri}: {status} ({note})"),
                None => println!("{uri}: {status}"),
            },
            Event::BuddySubscription { uri, state, .. } => println!("{uri}: watching, {state}"),
            Event::Registration { state, reason, .. } => {
                println!("registration: {state} ({reason})");
                if state == RegistrationState::Rejected {
                    return Err(reason.into());
                }
            }
            _ => {}
        }
    }
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
