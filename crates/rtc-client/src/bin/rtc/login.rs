//! `rtc login`: one user on a real server, driven line by line from stdin.
//!
//! Every line on stdout starts with a fixed word, so scripts can follow it:
//!
//! - `login KEY URI`: the profile was accepted and the client started;
//! - `event …`: something happened (registration states, buddies, watchers, messages, typing,
//!   invitations, calls), one line each, as it happens;
//! - `ok VERB …`: a command succeeded (`ok call ID URI` names the new call); `entry
//!   buddy|watcher …` lines come before `ok buddies` / `ok watchers`; `usage: …` answers `help`;
//! - `saved FILE`: presence exported at logout; `bye`: the last line.
//!
//! On stderr, `error VERB: WHY` says a command failed and `usage: …` that a line was not
//! understood; both leave the session running.
//!
//! Commands run concurrently, each answering when it is done: a `msg` waiting for a slow
//! recipient holds up neither the next command nor `quit` (which abandons what is still
//! running). Commands reach the client in the order they were typed.
//!
//! `quit`, the end of stdin or Ctrl-C logs off: presence is disabled (which exports it to the store)
//! and the profile deregistered, each wait bounded, and the exit status is 0 when both worked.

use std::future::Future;
use std::io::{self, BufRead, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use provisioning::Limits;
use rtc_client::{
    Client, ClientConfig, Event, Events, ImportMode, Profile, RegisterFlags, RegistrationState,
    Status, Store,
};
use sip_transport::{TlsConfig, TransportConfig};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};

use crate::output::{describe, one_line};

/// `rtc login` options.
#[derive(Args)]
pub(crate) struct Login {
    /// Provisioning profile (XML) naming the server and the account.
    #[arg(long, value_name = "FILE")]
    profile: PathBuf,
    /// Presence store: buddies, watchers and status, loaded at login and saved at logout.
    #[arg(long, value_name = "FILE", default_value = "presence.xml")]
    store: PathBuf,
    /// What to accept from others, comma-separated: `invite`, `message`, `presence`, or `all`.
    #[arg(long, value_name = "LIST", default_value = "all", value_parser = parse_flags)]
    flags: RegisterFlags,
    /// Status set once registered (`online`, `away`, `busy`, `offline` to appear offline, …).
    #[arg(long, value_name = "STATUS", default_value = "online", value_parser = parse_status)]
    status: Status,
    /// Local address for UDP and TCP; default all interfaces, ports chosen by the system.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// A CA certificate (PEM) to trust for TLS servers, besides the webpki roots.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// The presence server's XCAP root (e.g. `https://xcap.example.com/xcap-root`): allow and
    /// block then write the user's pres-rules there, for watchers through the server too.
    #[arg(long, value_name = "URL", value_parser = parse_xcap_root)]
    xcap: Option<rtc_client::XcapRoot>,
}

fn parse_xcap_root(url: &str) -> Result<rtc_client::XcapRoot, String> {
    rtc_client::XcapRoot::parse(url).map_err(|e| e.to_string())
}

fn parse_flags(list: &str) -> Result<RegisterFlags, String> {
    let mut flags = RegisterFlags::empty();
    for name in list.split(',').map(str::trim) {
        flags |= match name {
            "all" => RegisterFlags::ALL,
            "invite" => RegisterFlags::INVITE_SESSIONS,
            "message" => RegisterFlags::MESSAGE_SESSIONS,
            "presence" => RegisterFlags::PRESENCE,
            _ => {
                return Err(format!(
                    "{name:?}: expected invite, message, presence or all"
                ));
            }
        };
    }
    Ok(flags)
}

fn parse_status(token: &str) -> Result<Status, String> {
    token.parse().map_err(|_| {
        let known: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
        format!("{token:?}: expected one of {}", known.join(", "))
    })
}

/// How long logging off may take in all. A server that answers takes milliseconds; one that
/// is gone would hold an unanswered REGISTER for 64·T1 (RFC 3261 §17.1.2.2), which a user who
/// typed `quit` should not have to sit through.
const LOGOFF_WAIT: Duration = Duration::from_secs(10);

/// Longest command line accepted; longer ones are skipped, not buffered.
const MAX_LINE: usize = 64 * 1024;

const HELP: &[&str] = &[
    "status STATUS [NOTE…]   set our status (online, away, busy, idle, be-right-back, on-the-phone, out-to-lunch, offline)",
    "add URI [NAME…]         add a buddy and watch it",
    "remove URI              remove a buddy",
    "allow URI               let a watcher see our presence",
    "block URI               make a watcher see us offline",
    "buddies | watchers      list them",
    "msg URI TEXT…           send an instant message",
    "typing URI on|off       tell URI we are composing a message (for 15 s unless repeated), or stopped",
    "export FILE…            write our presence data (buddies, watchers, status) to FILE",
    "import merge|replace FILE…  read presence data from FILE, added to ours or instead of it",
    "accept ID | decline ID  answer an invitation (accepted: every offered media stream declined)",
    "call URI                call URI, signalling only (an SDP offer of one inactive stream)",
    "cancel ID               cancel our call before it is answered",
    "hangup ID               end an answered call, ours or theirs",
    "help | quit",
];

/// The SDP offer of `call`, for a tool that carries no media: one PCMU stream, inactive (RFC
/// 3264 §5.1), on the discard port. A stream declined outright (port zero) says the same, but a
/// peer like baresip refuses an offer with no usable stream (488, "No audio codecs").
const NULL_OFFER: &str = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=inactive\r\n";

/// Runs `rtc login`; true when the session ended with a clean logoff.
pub(crate) fn run(args: Login) -> bool {
    let Some(runtime) = crate::runtime("login") else {
        return false;
    };
    match runtime.block_on(login(args)) {
        Ok(clean) => clean,
        Err(e) => {
            eprintln!("error login: {}", one_line(&e));
            false
        }
    }
}

/// Writes one line to stdout; a closed stdout (the script went away) is not worth a panic.
fn say(line: &str) {
    let _ = writeln!(io::stdout().lock(), "{line}");
}

async fn login(args: Login) -> Result<bool, String> {
    let (_, xml) = crate::profile::load(&args.profile, &Limits::default())
        .map_err(|e| format!("{}: {e}", one_line(&args.profile.display().to_string())))?;
    let (client, events) = Client::builder()
        .config(client_config(&args)?)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let profile = match client.create_profile(&xml) {
        Ok(p) => p,
        Err(e) => {
            let _ = client.shutdown().await;
            return Err(e.to_string());
        }
    };
    let (states, mut state) = watch::channel(None);
    let printer = tokio::spawn(print_events(events, states));
    let session = Arc::new(Session {
        client,
        profile,
        store: args.store,
    });
    say(&format!(
        "login {} {}",
        one_line(&session.profile.key),
        one_line(&session.profile.user.uri.to_string())
    ));
    let (enabled, started) = session.start(args.flags).await;
    let mut clean = match started {
        Ok(()) => session.serve(&mut state, args.status).await,
        Err(e) => {
            eprintln!("error login: {}", one_line(&e));
            false
        }
    };
    let deadline = Instant::now() + LOGOFF_WAIT;
    clean &= session.logoff(enabled, &mut state, deadline).await;
    // Every event printed before the last line.
    clean &= within(deadline, "events did not end", async {
        printer.await.map_err(|e| e.to_string())
    })
    .await;
    say("bye");
    Ok(clean)
}

fn client_config(args: &Login) -> Result<ClientConfig, String> {
    let mut config = ClientConfig::default();
    if let Some(addr) = args.listen {
        config.transport = TransportConfig {
            udp: vec![addr],
            tcp: vec![addr],
            ..config.transport
        };
    }
    if let Some(ca) = &args.ca {
        let tls = TlsConfig::new()
            .add_ca_file(ca)
            .map_err(|e| format!("{}: {e}", one_line(&ca.display().to_string())))?;
        config.transport.tls_client = Some(tls);
    }
    config.xcap_root = args.xcap.clone();
    Ok(config)
}

/// Prints every event and publishes the latest registration state; ends when the client stops.
async fn print_events(mut events: Events, states: watch::Sender<Latest>) {
    while let Some(e) = events.recv().await {
        say(&format!("event {}", describe(&e)));
        if let Event::Registration {
            state,
            status,
            reason,
            cause,
            ..
        } = e
        {
            // What was asked did not happen: no answer, a broken transport, a refusal.
            let failed = cause.is_some() || status.is_some_and(|s| s >= 300);
            let why = match (status, cause) {
                (Some(code), _) => format!("{code} {reason}"),
                (None, Some(c)) if !reason.contains(&c.to_string()) => format!("{reason}; {c}"),
                (None, _) => reason,
            };
            states.send_replace(Some((state, why, failed)));
        }
    }
}

/// The latest registration state, why it came, and whether it came of a failure (no answer,
/// a broken transport, a refusal) rather than of what was asked.
type Latest = Option<(RegistrationState, String, bool)>;

/// What a session enabled.
#[derive(Debug, Clone, Copy, Default)]
struct Enabled {
    presence: bool,
    profile: bool,
}

/// The logged-in user.
struct Session {
    client: Client,
    profile: Profile,
    store: PathBuf,
}

impl Session {
    /// `EnablePresence`, then `EnableProfile`: presence first, so that watchers who subscribe
    /// as soon as we register are answered from the store's lists. Says how far it got, so
    /// that logging off undoes only that.
    async fn start(&self, flags: RegisterFlags) -> (Enabled, Result<(), String>) {
        let mut enabled = Enabled::default();
        let store = Store::file(&self.store);
        if let Err(e) = self.client.enable_presence(store).await {
            // A corrupt store is left untouched: nothing is saved over it at logoff.
            return (enabled, Err(format!("store {}: {e}", display(&self.store))));
        }
        enabled.presence = true;
        if let Err(e) = self.client.enable_profile(&self.profile, flags).await {
            return (enabled, Err(e.to_string()));
        }
        enabled.profile = true;
        (enabled, Ok(()))
    }

    /// Runs commands until `quit`, the end of stdin, Ctrl-C, or a rejected registration; true
    /// unless the registrar rejected us or the client stopped.
    async fn serve(self: &Arc<Self>, state: &mut watch::Receiver<Latest>, status: Status) -> bool {
        let mut running = JoinSet::new();
        let clean = self.serve_lines(state, status, &mut running).await;
        // What still runs is abandoned: logging off does not wait for a slow recipient.
        running.abort_all();
        clean
    }

    /// Starts `command` (the line `line`) beside the others. The runtime runs on one thread
    /// and starts tasks in the order they were spawned, so commands reach the client in the
    /// order they were typed.
    fn spawn(self: &Arc<Self>, running: &mut JoinSet<()>, line: String) {
        let session = Arc::clone(self);
        running.spawn(async move {
            if let Ok(Some(command)) = parse(&line) {
                session.execute(command).await;
            }
        });
    }

    async fn serve_lines(
        self: &Arc<Self>,
        state: &mut watch::Receiver<Latest>,
        status: Status,
        running: &mut JoinSet<()>,
    ) -> bool {
        let mut lines = stdin_lines();
        // The status to set once registered: `--status`, or the last one the user set before.
        let mut initial = Some((status, None::<String>));
        // One listener for the whole session, so a Ctrl-C during a command is not lost.
        let mut interrupt = std::pin::pin!(tokio::signal::ctrl_c());
        let mut interruptible = true;
        loop {
            tokio::select! {
                caught = &mut interrupt, if interruptible => match caught {
                    Ok(()) => return true,
                    Err(e) => {
                        eprintln!("error login: Ctrl-C cannot be caught, use quit: {e}");
                        interruptible = false;
                    }
                },
                line = lines.recv() => match line {
                    None => return true,
                    Some(None) => eprintln!("error input: line longer than {MAX_LINE} bytes, ignored"),
                    Some(Some(line)) => match parse(&line) {
                        Ok(None) => {}
                        Ok(Some(Command::Quit)) => return true,
                        Ok(Some(command)) => {
                            if let (Command::Status(s, note), Some(_)) = (&command, &initial) {
                                initial = Some((*s, note.map(str::to_owned)));
                            }
                            self.spawn(running, line);
                        }
                        Err(usage) => eprintln!("usage: {usage}"),
                    },
                },
                // Finished commands have answered already.
                Some(_) = running.join_next(), if !running.is_empty() => {}
                changed = state.changed() => {
                    if changed.is_err() {
                        eprintln!("error login: the client stopped");
                        return false;
                    }
                    let now = state.borrow_and_update().clone();
                    match now {
                        // Set once registered: a status set before would leave us looking
                        // offline to watchers.
                        Some((RegistrationState::Registered, ..)) => {
                            if let Some((s, note)) = initial.take() {
                                let line = match note {
                                    Some(note) => format!("status {s} {note}"),
                                    None => format!("status {s}"),
                                };
                                self.spawn(running, line);
                            }
                        }
                        Some((RegistrationState::Rejected, why, _)) => {
                            eprintln!("error login: the registrar rejected us: {}", one_line(&why));
                            return false;
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    async fn execute(&self, command: Command<'_>) {
        let c = &self.client;
        let (verb, result) = match command {
            Command::Status(status, note) => (
                format!("status {status}"),
                c.set_local_presence(status, note).await,
            ),
            Command::Add(uri, name) => (format!("add {uri}"), c.add_buddy(uri, name).await),
            Command::Remove(uri) => (format!("remove {uri}"), c.remove_buddy(uri).await),
            Command::Allow(uri) => (format!("allow {uri}"), c.allow_watcher(uri).await),
            Command::Block(uri) => (format!("block {uri}"), c.block_watcher(uri).await),
            Command::Msg(uri, text) => (format!("msg {uri}"), c.send_message(uri, text).await),
            Command::Typing(uri, on) => (format!("typing {uri}"), c.set_typing(uri, on).await),
            Command::Export(path) => (format!("export {path}"), c.export(path).await),
            Command::Import(mode, path) => (format!("import {path}"), c.import(path, mode).await),
            Command::Answer(id, accept) => (
                format!("{} {id}", if accept { "accept" } else { "decline" }),
                c.answer_invite(id, accept).await,
            ),
            Command::Call(uri) => match c.invite(uri, NULL_OFFER).await {
                Ok(id) => (format!("call {id} {uri}"), Ok(())),
                Err(e) => (format!("call {uri}"), Err(e)),
            },
            Command::Cancel(id) => (format!("cancel {id}"), c.cancel(id).await),
            Command::HangUp(id) => (format!("hangup {id}"), c.hang_up(id).await),
            Command::Buddies => {
                let listed = c.buddies().await.map(|list| {
                    for b in &list {
                        say(&format!(
                            "entry buddy {} {}",
                            one_line(&b.uri),
                            one_line(&b.name)
                        ));
                    }
                    list.len()
                });
                counted("buddies", listed)
            }
            Command::Watchers => {
                let listed = c.watchers().await.map(|list| {
                    for w in &list {
                        let (uri, state) = (one_line(&w.uri), w.state.as_str());
                        say(&format!("entry watcher {uri} {state}"));
                    }
                    list.len()
                });
                counted("watchers", listed)
            }
            Command::Help => {
                for line in HELP {
                    say(&format!("usage: {line}"));
                }
                return;
            }
            Command::Quit => return,
        };
        match result {
            Ok(()) => say(&format!("ok {}", one_line(&verb))),
            Err(e) => eprintln!("error {}: {}", one_line(&verb), one_line(&e.to_string())),
        }
    }

    /// `EnablePresence(FALSE)` (which saves the store), then `DisableProfile`, waiting for the
    /// registrar to have dropped our binding, then stops the client; each only if `enabled`
    /// says it was started. True when all of it worked before `deadline`.
    async fn logoff(
        &self,
        enabled: Enabled,
        state: &mut watch::Receiver<Latest>,
        deadline: Instant,
    ) -> bool {
        let c = &self.client;
        let saved = !enabled.presence
            || within(deadline, "presence not saved", async {
                c.disable_presence().await.map_err(|e| e.to_string())
            })
            .await;
        if enabled.presence && saved {
            say(&format!("saved {}", display(&self.store)));
        }
        let unregistered = !enabled.profile
            || within(deadline, "not unregistered", async {
                c.disable_profile(&self.profile)
                    .await
                    .map_err(|e| e.to_string())?;
                // RFC 3261 §10.2.2: the 200 to our expires=0 REGISTER ends the binding; the
                // engine reports it as `not registered` (or `logged off`/`rejected` if it went
                // otherwise).
                let settled = state
                    .wait_for(|s| {
                        matches!(
                            s,
                            Some((
                                RegistrationState::NotRegistered
                                    | RegistrationState::LoggedOff
                                    | RegistrationState::Rejected,
                                ..
                            ))
                        )
                    })
                    .await
                    .map_err(|_| "the client stopped".to_owned())?
                    .clone();
                // The binding may still be there: the server did not answer the removal, the
                // transport failed, or the server refused it.
                match settled {
                    Some((RegistrationState::NotRegistered, why, true)) => Err(why),
                    _ => Ok(()),
                }
            })
            .await;
        let stopped = within(deadline, "the client did not stop", async {
            c.shutdown().await.map_err(|e| e.to_string())
        })
        .await;
        saved && unregistered && stopped
    }
}

/// Runs one logoff step until `deadline`; false, with `error logout: WHAT: WHY` printed, when
/// it failed or ran out of time.
async fn within(
    deadline: Instant,
    what: &str,
    step: impl Future<Output = Result<(), String>>,
) -> bool {
    let why = match timeout_at(deadline, step).await {
        Ok(Ok(())) => return true,
        Ok(Err(e)) => e,
        Err(_) => format!("no end within {} s", LOGOFF_WAIT.as_secs()),
    };
    eprintln!("error logout: {what}: {}", one_line(&why));
    false
}

fn display(path: &Path) -> String {
    one_line(&path.display().to_string())
}

/// A listing's verb and result, its count in the `ok` line.
fn counted(verb: &str, listed: rtc_client::Result<usize>) -> (String, rtc_client::Result<()>) {
    match listed {
        Ok(n) => (format!("{verb} {n}"), Ok(())),
        Err(e) => (verb.to_owned(), Err(e)),
    }
}

/// One command line.
#[derive(Debug, PartialEq)]
enum Command<'a> {
    Status(Status, Option<&'a str>),
    Add(&'a str, &'a str),
    Remove(&'a str),
    Allow(&'a str),
    Block(&'a str),
    Msg(&'a str, &'a str),
    Typing(&'a str, bool),
    Export(&'a str),
    Import(ImportMode, &'a str),
    Answer(u64, bool),
    Call(&'a str),
    Cancel(u64),
    HangUp(u64),
    Buddies,
    Watchers,
    Help,
    Quit,
}

/// Parses one line: `Ok(None)` for a blank line or a `#` comment, `Err(usage)` when it is not
/// a command.
fn parse(line: &str) -> Result<Option<Command<'_>>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (verb, rest) = split_word(line);
    let only_uri = || match split_word(rest) {
        (uri, "") if !uri.is_empty() => Ok(uri),
        _ => Err(format!("{verb} URI")),
    };
    let command = match verb {
        "status" => {
            let (token, note) = split_word(rest);
            let status = parse_status(token).map_err(|e| format!("status STATUS [NOTE…]: {e}"))?;
            Command::Status(status, (!note.is_empty()).then_some(note))
        }
        "add" => match split_word(rest) {
            ("", _) => return Err("add URI [NAME…]".to_owned()),
            (uri, name) => Command::Add(uri, name),
        },
        "remove" => Command::Remove(only_uri()?),
        "allow" => Command::Allow(only_uri()?),
        "block" => Command::Block(only_uri()?),
        "msg" => match split_word(rest) {
            (uri, text) if !uri.is_empty() && !text.is_empty() => Command::Msg(uri, text),
            _ => return Err("msg URI TEXT…".to_owned()),
        },
        "typing" => match split_word(rest) {
            (uri, "on") if !uri.is_empty() => Command::Typing(uri, true),
            (uri, "off") if !uri.is_empty() => Command::Typing(uri, false),
            _ => return Err("typing URI on|off".to_owned()),
        },
        // A path is the rest of the line, so it may hold spaces.
        "export" if !rest.is_empty() => Command::Export(rest),
        "export" => return Err("export FILE…".to_owned()),
        "import" => match split_word(rest) {
            ("merge", path) if !path.is_empty() => Command::Import(ImportMode::Merge, path),
            ("replace", path) if !path.is_empty() => Command::Import(ImportMode::Replace, path),
            _ => return Err("import merge|replace FILE…".to_owned()),
        },
        "accept" | "decline" => match rest.parse() {
            Ok(id) => Command::Answer(id, verb == "accept"),
            Err(_) => return Err(format!("{verb} ID")),
        },
        "call" => Command::Call(only_uri()?),
        "cancel" | "hangup" => match rest.parse() {
            Ok(id) if verb == "cancel" => Command::Cancel(id),
            Ok(id) => Command::HangUp(id),
            Err(_) => return Err(format!("{verb} ID")),
        },
        "buddies" | "watchers" if !rest.is_empty() => return Err(verb.to_owned()),
        "buddies" => Command::Buddies,
        "watchers" => Command::Watchers,
        "help" => Command::Help,
        "quit" | "exit" => Command::Quit,
        _ => {
            return Err(format!(
                "unknown command {:?}; try help (status, add, remove, allow, block, buddies, watchers, msg, typing, export, import, accept, decline, call, cancel, hangup, quit)",
                one_line(verb)
            ));
        }
    };
    Ok(Some(command))
}

/// The first word of `s` and the rest, both trimmed.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (s, ""),
    }
}

/// Lines from stdin, read on a thread of their own (stdin has no portable non-blocking read):
/// `Some(line)`, or `None` for a line longer than [`MAX_LINE`], which is skipped without being
/// kept. The channel is bounded, so a fast writer waits for us instead of filling memory.
fn stdin_lines() -> mpsc::Receiver<Option<String>> {
    let (tx, rx) = mpsc::channel(8);
    std::thread::spawn(move || {
        let mut input = io::stdin().lock();
        while let Some(line) = read_line(&mut input) {
            if tx.blocking_send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The next line of `input` (see [`stdin_lines`]); `None` at the end or on a read error.
fn read_line(input: &mut impl BufRead) -> Option<Option<String>> {
    let mut buf = Vec::new();
    let cap = MAX_LINE as u64 + 1;
    match Read::take(&mut *input, cap).read_until(b'\n', &mut buf) {
        Ok(0) | Err(_) => return None,
        Ok(_) => {}
    }
    if buf.len() as u64 == cap && buf.last() != Some(&b'\n') {
        // Too long: drop the rest of it, a bounded piece at a time.
        loop {
            buf.clear();
            match Read::take(&mut *input, cap).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) if buf.last() == Some(&b'\n') => break,
                Ok(_) => {}
            }
        }
        return Some(None);
    }
    let line = String::from_utf8_lossy(&buf);
    Some(Some(line.trim_end_matches(['\n', '\r']).to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(
            parse("  status away  getting coffee ").unwrap(),
            Some(Command::Status(Status::Away, Some("getting coffee")))
        );
        assert_eq!(
            parse("status busy").unwrap(),
            Some(Command::Status(Status::Busy, None))
        );
        assert_eq!(
            parse("add sip:b@x Bob B.").unwrap(),
            Some(Command::Add("sip:b@x", "Bob B."))
        );
        assert_eq!(
            parse("add sip:b@x").unwrap(),
            Some(Command::Add("sip:b@x", ""))
        );
        assert_eq!(
            parse("msg sip:b@x hello   there").unwrap(),
            Some(Command::Msg("sip:b@x", "hello   there"))
        );
        assert_eq!(parse("decline 7").unwrap(), Some(Command::Answer(7, false)));
        assert_eq!(
            parse("call sip:b@x").unwrap(),
            Some(Command::Call("sip:b@x"))
        );
        assert_eq!(parse("cancel 3").unwrap(), Some(Command::Cancel(3)));
        assert_eq!(parse("hangup 4").unwrap(), Some(Command::HangUp(4)));
        assert_eq!(
            parse("typing sip:b@x on").unwrap(),
            Some(Command::Typing("sip:b@x", true))
        );
        assert_eq!(
            parse("typing sip:b@x off").unwrap(),
            Some(Command::Typing("sip:b@x", false))
        );
        assert_eq!(
            parse("export  my presence.xml ").unwrap(),
            Some(Command::Export("my presence.xml"))
        );
        assert_eq!(
            parse("import replace /tmp/a b.xml").unwrap(),
            Some(Command::Import(ImportMode::Replace, "/tmp/a b.xml"))
        );
        assert_eq!(
            parse("import merge p.xml").unwrap(),
            Some(Command::Import(ImportMode::Merge, "p.xml"))
        );
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# comment").unwrap(), None);
        assert_eq!(parse("quit").unwrap(), Some(Command::Quit));
    }

    #[test]
    fn bad_commands_give_usage() {
        for bad in [
            "status dancing",
            "status",
            "add",
            "remove",
            "remove a b",
            "msg sip:b@x",
            "accept x",
            "call",
            "call sip:a@x sip:b@x",
            "cancel",
            "hangup x",
            "buddies now",
            "typing sip:b@x",
            "typing sip:b@x maybe",
            "typing on",
            "export",
            "import p.xml",
            "import merge",
            "import append p.xml",
            "frobnicate \u{1b}[2J",
        ] {
            let usage = parse(bad).unwrap_err();
            assert!(!usage.contains('\u{1b}'), "{usage}");
        }
    }

    #[test]
    fn flags_parse() {
        assert_eq!(parse_flags("all"), Ok(RegisterFlags::ALL));
        assert_eq!(
            parse_flags("message, presence"),
            Ok(RegisterFlags::MESSAGE_SESSIONS | RegisterFlags::PRESENCE)
        );
        assert!(parse_flags("video").is_err());
    }

    #[test]
    fn long_lines_are_skipped_without_being_kept() {
        let mut data = vec![b'x'; 3 * MAX_LINE + 5];
        data.extend_from_slice(b"\nquit\r\nlast");
        let mut input = &data[..];
        assert_eq!(read_line(&mut input), Some(None));
        assert_eq!(read_line(&mut input), Some(Some("quit".to_owned())));
        assert_eq!(read_line(&mut input), Some(Some("last".to_owned())));
        assert_eq!(read_line(&mut input), None);
        // Exactly the limit, newline included, is still a line.
        let mut exact = vec![b'y'; MAX_LINE];
        exact.push(b'\n');
        let mut input = &exact[..];
        assert_eq!(read_line(&mut input), Some(Some("y".repeat(MAX_LINE))));
    }
}
