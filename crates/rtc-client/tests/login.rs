//! `rtc login` against the embedded registrar/proxy: the built binary is driven through its
//! stdin and judged by its stdout, with a second client in this process on the other side.
#![cfg(feature = "cli")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::time::Duration;

use common::*;
use rtc_client::server::EmbeddedServer;
use rtc_client::{Event, SessionEnd, Status, Store};
use tokio::sync::mpsc;

const ALICE: &str = "sip:alice@example.test";
const BOB: &str = "sip:bob@example.test";

/// Every wait on the child is bounded by this, so a broken build fails instead of hanging.
const WAIT: Duration = Duration::from_secs(30);

/// A running `rtc login`, killed on drop. Its stdout lines, and its stderr lines prefixed
/// `stderr `, arrive on one channel; everything seen is kept for failure messages.
struct Rtc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Rtc {
    fn login(profile: &Path, store: &Path) -> Rtc {
        Rtc::login_with(profile, store, &[])
    }

    fn login_with(profile: &Path, store: &Path, args: &[&std::ffi::OsStr]) -> Rtc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rtc"))
            .arg("login")
            .arg("--profile")
            .arg(profile)
            .arg("--store")
            .arg(store)
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run rtc login");
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        forward(stdout, "", tx.clone());
        forward(stderr, "stderr ", tx);
        Rtc {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to rtc login");
        stdin.flush().unwrap();
    }

    /// Waits for the line `want`, skipping others.
    async fn expect(&mut self, want: &str) {
        self.expect_where(want, |l| l == want).await;
    }

    /// Waits for every line of `want`, in any order (an `ok` line and the events of the same
    /// command are printed by different tasks), skipping others.
    async fn expect_all(&mut self, want: &[&str]) {
        let mut want = want.to_vec();
        while !want.is_empty() {
            let what = want.join(" and ");
            let line = self.expect_where(&what, |l| want.contains(&l)).await;
            want.retain(|w| *w != line);
        }
    }

    /// Waits for a line `matches` accepts, skipping others; returns it.
    async fn expect_where(&mut self, what: &str, matches: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if matches(&line) {
                        return line;
                    }
                }
                Ok(None) => panic!("rtc login ended before {what:?}:\n{}", self.seen.join("\n")),
                Err(_) => panic!("no {what:?} from rtc login:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Waits (bounded) for the process to exit, reading the rest of its output.
    async fn exit(&mut self) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(Some(line)) =
                    tokio::time::timeout(Duration::from_secs(5), self.lines.recv()).await
                {
                    self.seen.push(line);
                }
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "rtc login did not exit:\n{}",
                self.seen.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn output(&self) -> String {
        self.seen.join("\n")
    }

    /// Waits for the process to exit and checks that it succeeded.
    async fn exit_ok(&mut self) {
        let status = self.exit().await;
        assert!(status.success(), "{status}\n{}", self.output());
    }

    /// Waits for the process to exit and checks that it failed.
    async fn exit_failed(&mut self) {
        let status = self.exit().await;
        assert!(!status.success(), "{}", self.output());
    }

    /// Waits for the end of a session: binding removed, the last line, exit 0.
    async fn expect_logged_off(&mut self) {
        self.expect("event registration: not registered (200 OK)")
            .await;
        self.expect("bye").await;
        self.exit_ok().await;
    }

    /// Whether any line seen so far starts with `prefix`.
    fn saw_line_starting(&self, prefix: &str) -> bool {
        self.seen.iter().any(|l| l.starts_with(prefix))
    }
}

impl Drop for Rtc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An embedded server, and `user`'s profile for it (UDP) in a fresh directory beside the path
/// of a presence store not yet written.
struct Embedded {
    _server: EmbeddedServer,
    port: u16,
    dir: TempDir,
    profile: PathBuf,
    store: PathBuf,
}

impl Embedded {
    async fn start(name: &str, user: &str) -> Embedded {
        let (_server, port) = embedded_server().await;
        let dir = TempDir::new(name);
        let profile = dir.path(&format!("{user}.xml"));
        std::fs::write(&profile, profile_xml(user, port, "udp")).unwrap();
        let store = dir.path(&format!("{user}-presence.xml"));
        Embedded {
            _server,
            port,
            dir,
            profile,
            store,
        }
    }

    /// `rtc login` with this profile and store.
    fn login(&self) -> Rtc {
        Rtc::login(&self.profile, &self.store)
    }
}

/// The presence store at `path` was written and names `uri`.
fn assert_stored(path: &Path, uri: &str) {
    let saved = std::fs::read_to_string(path).expect("the store was written");
    assert!(saved.contains(uri), "{saved}");
}

fn forward(
    from: impl std::io::Read + Send + 'static,
    prefix: &'static str,
    to: mpsc::UnboundedSender<String>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { return };
            if to.send(format!("{prefix}{line}")).is_err() {
                return;
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_watch_message_status_and_quit() {
    let env = Embedded::start("login-flow", "alice").await;
    let (port, store) = (env.port, &env.store);
    let mut rtc = env.login();
    rtc.expect("login alice-udp sip:alice@example.test").await;
    rtc.expect("event registration: registered (200 OK)").await;
    rtc.expect("ok status online").await;

    // bob, in this process, watches alice: she is asked, allows him, and he sees her.
    let (bob, mut bob_events, bob_profile) =
        registered(&profile_xml("bob", port, "udp"), None).await;
    bob.enable_presence(Store::file(env.dir.path("bob.xml")))
        .await
        .unwrap();
    bob.add_buddy(ALICE, "Alice").await.unwrap();
    rtc.expect("event watcher sip:bob@example.test: offering")
        .await;
    rtc.send("allow sip:bob@example.test");
    rtc.expect("ok allow sip:bob@example.test").await;
    expect_buddy(&mut bob_events, ALICE, Status::Online).await;

    // A status change with a note reaches the watcher.
    rtc.send("status away getting coffee");
    rtc.expect("ok status away").await;
    match expect_buddy(&mut bob_events, ALICE, Status::Away).await {
        Event::Buddy { note, .. } => assert_eq!(note.as_deref(), Some("getting coffee")),
        e => unreachable!("{e:?}"),
    }

    // Messages both ways; a newline in a message cannot start a line of its own.
    bob.send_message(ALICE, "Hello Alice\nregistration: logged off")
        .await
        .unwrap();
    rtc.expect("event message from sip:bob@example.test: Hello Alice\\nregistration: logged off")
        .await;
    rtc.send("msg sip:bob@example.test Hi Bob, lunch?");
    rtc.expect("ok msg sip:bob@example.test").await;
    match expect(&mut bob_events, "alice's message", |e| {
        matches!(e, Event::Message { .. })
    })
    .await
    {
        Event::Message { from, text, .. } => {
            assert_eq!((from.as_str(), text.as_str()), (ALICE, "Hi Bob, lunch?"));
        }
        e => unreachable!("{e:?}"),
    }

    // Typing notices (RFC 3994) reach bob.
    rtc.send("typing sip:bob@example.test on");
    rtc.expect("ok typing sip:bob@example.test").await;
    match expect(&mut bob_events, "alice typing", |e| {
        matches!(e, Event::Typing { .. })
    })
    .await
    {
        Event::Typing { from, active } => assert_eq!((from.as_str(), active), (ALICE, true)),
        e => unreachable!("{e:?}"),
    }

    // An export on demand, to a path with a space in it.
    let exported = env.dir.path("alice export.xml");
    rtc.send(&format!("export {}", exported.display()));
    rtc.expect(&format!("ok export {}", exported.display()))
        .await;
    assert_stored(&exported, BOB);

    // A line that is not a command is answered on stderr and the session goes on.
    rtc.send("dance sip:bob@example.test");
    rtc.expect_where("a usage line", |l| {
        l.starts_with("stderr usage: unknown command \"dance\"")
    })
    .await;
    rtc.send("remove sip:nobody@example.test");
    rtc.expect_where("an error line", |l| {
        l.starts_with("stderr error remove sip:nobody@example.test: ")
    })
    .await;
    rtc.send("watchers");
    rtc.expect("entry watcher sip:bob@example.test allowed")
        .await;
    rtc.expect("ok watchers 1").await;

    // quit: presence saved, binding removed, last line, exit 0.
    rtc.send("quit");
    rtc.expect(&format!("saved {}", store.display())).await;
    rtc.expect_logged_off().await;
    assert_stored(store, BOB);
    bob.disable_profile(&bob_profile).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_both_ways_in_words() {
    let env = Embedded::start("login-calls", "alice").await;
    let mut rtc = env.login();
    rtc.expect("event registration: registered (200 OK)").await;
    let (bob, mut bob_events, bob_profile) =
        registered(&profile_xml("bob", env.port, "udp"), None).await;
    let offer = "v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";

    // bob calls; alice accepts, then hangs up.
    let call = bob.invite(ALICE, offer).await.unwrap();
    rtc.expect("event invite 1 from sip:bob@example.test").await;
    rtc.send("accept 1");
    rtc.expect_all(&["ok accept 1", "event call 1 acknowledged"])
        .await;
    expect(
        &mut bob_events,
        "answered",
        |e| matches!(e, Event::SessionAnswered { id, .. } if *id == call),
    )
    .await;
    rtc.send("hangup 1");
    rtc.expect_all(&["ok hangup 1", "event call 1 ended: hung up"])
        .await;
    expect(&mut bob_events, "alice hung up", |e| {
        *e == Event::SessionEnded {
            id: call,
            reason: SessionEnd::PeerHungUp,
        }
    })
    .await;

    // alice calls and cancels while it rings.
    rtc.send("call sip:bob@example.test");
    rtc.expect_all(&[
        "ok call 2 sip:bob@example.test",
        "event call 2: 180 Ringing",
    ])
    .await;
    let incoming = match expect(&mut bob_events, "alice's call", |e| {
        matches!(e, Event::Invite { .. })
    })
    .await
    {
        Event::Invite { id, sdp, .. } => {
            assert!(sdp.is_some_and(|s| s.starts_with(b"v=0")));
            id
        }
        e => unreachable!("{e:?}"),
    };
    rtc.send("cancel 2");
    rtc.expect_all(&["ok cancel 2", "event call 2 ended: cancelled"])
        .await;
    expect(&mut bob_events, "the cancel", |e| {
        *e == Event::InviteCancelled { id: incoming }
    })
    .await;

    // alice calls again; bob answers and hangs up.
    rtc.send("call sip:bob@example.test");
    rtc.expect("ok call 3 sip:bob@example.test").await;
    let incoming = match expect(&mut bob_events, "alice's call", |e| {
        matches!(e, Event::Invite { .. })
    })
    .await
    {
        Event::Invite { id, .. } => id,
        e => unreachable!("{e:?}"),
    };
    bob.answer_invite(incoming, true).await.unwrap();
    rtc.expect("event call 3 answered").await;
    bob.hang_up(incoming).await.unwrap();
    rtc.expect("event call 3 ended: hung up by the peer").await;
    rtc.send("hangup 3");
    rtc.expect_where("an error line", |l| {
        l.starts_with("stderr error hangup 3: ")
    })
    .await;
    assert!(
        !rtc.output().contains("Session"),
        "no Rust names:\n{}",
        rtc.output()
    );

    rtc.send("quit");
    rtc.expect_logged_off().await;
    bob.disable_profile(&bob_profile).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_of_input_logs_off_and_keeps_the_store() {
    let env = Embedded::start("login-eof", "bob").await;
    let mut rtc = env.login();
    rtc.expect("event registration: registered (200 OK)").await;
    rtc.send("add sip:alice@example.test Alice");
    rtc.expect("ok add sip:alice@example.test").await;
    rtc.stdin = None; // end of input
    rtc.expect_logged_off().await;
    assert_stored(&env.store, ALICE);

    // The next login starts from the store.
    let mut rtc = env.login();
    rtc.expect("event registration: registered (200 OK)").await;
    rtc.send("buddies");
    rtc.expect("entry buddy sip:alice@example.test Alice").await;
    rtc.expect("ok buddies 1").await;

    // Exported, removed, imported back: the buddy returns.
    let exported = env.dir.path("bob-export.xml");
    rtc.send(&format!("export {}", exported.display()));
    rtc.expect(&format!("ok export {}", exported.display()))
        .await;
    rtc.send("remove sip:alice@example.test");
    rtc.expect("ok remove sip:alice@example.test").await;
    rtc.send("buddies");
    rtc.expect("ok buddies 0").await;
    rtc.send(&format!("import merge {}", exported.display()));
    rtc.expect(&format!("ok import {}", exported.display()))
        .await;
    rtc.send("buddies");
    rtc.expect("entry buddy sip:alice@example.test Alice").await;
    rtc.expect("ok buddies 1").await;
    // A file that is not there is an error, and the session goes on.
    rtc.send("import replace /nonexistent/presence.xml");
    rtc.expect_where("an import error", |l| {
        l.starts_with("stderr error import /nonexistent/presence.xml: ")
    })
    .await;
    rtc.send("quit");
    rtc.exit_ok().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_logs_off() {
    let env = Embedded::start("login-interrupt", "alice").await;
    let mut rtc = env.login();
    rtc.expect("event registration: registered (200 OK)").await;
    rtc.expect("ok status online").await;
    let kill = Command::new("kill")
        .args(["-INT", &rtc.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    rtc.expect(&format!("saved {}", env.store.display())).await;
    rtc.expect_logged_off().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_rejected_and_fails() {
    let (_server, port) = embedded_server().await;
    let dir = TempDir::new("login-rejected");
    let profile = dir.path("alice.xml");
    let xml = profile_xml("alice", port, "udp").replace("alicepw", "wrong");
    std::fs::write(&profile, xml).unwrap();
    let mut rtc = Rtc::login(&profile, &dir.path("store.xml"));
    // stdin stays open: the rejection alone ends the session.
    rtc.exit_failed().await;
    // stdout and stderr are two pipes: their lines are checked, not their order.
    for want in [
        "event registration: rejected (",
        "stderr error login: the registrar rejected us: 4",
        "bye",
    ] {
        assert!(
            rtc.saw_line_starting(want),
            "no {want:?} in\n{}",
            rtc.output()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_error_without_a_status_says_why() {
    let dir = TempDir::new("login-unreachable");
    let profile = dir.path("alice.xml");
    // Nothing listens there: the TCP connection is refused, no response ever comes.
    std::fs::write(&profile, profile_xml("alice", free_port(), "tcp")).unwrap();
    let mut rtc = Rtc::login(&profile, &dir.path("store.xml"));
    let line = rtc
        .expect_where("a registration error", |l| {
            l.starts_with("event registration: error")
        })
        .await;
    assert_eq!(line, "event registration: error (connection refused)");
    rtc.send("quit");
    rtc.exit().await;
    assert!(
        !rtc.output().contains("(registering)"),
        "a reason that only repeats the state is left out:\n{}",
        rtc.output()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logoff_the_server_never_took_fails() {
    // Registered over TCP; then the server goes away. The removal of the binding is refused
    // at once (nothing listens), so the client is not registered any more as far as it knows,
    // but the server never heard it: that is a failed logoff, exit 1, saying why.
    let (server, port) = embedded_server().await;
    let dir = TempDir::new("login-logoff-refused");
    let profile = dir.path("alice.xml");
    std::fs::write(&profile, profile_xml("alice", port, "tcp")).unwrap();
    let mut rtc = Rtc::login(&profile, &dir.path("store.xml"));
    rtc.expect_where("registered", |l| {
        l.starts_with("event registration: registered")
    })
    .await;
    server.shutdown();
    drop(server);
    rtc.expect_where("the registrar gone", |l| {
        l.starts_with("event registration: error (")
    })
    .await;
    rtc.send("quit");
    rtc.exit_failed().await;
    assert!(
        rtc.saw_line_starting("stderr error logout: not unregistered: ")
            && rtc.output().contains("connection refused"),
        "{}",
        rtc.output()
    );
}

#[tokio::test]
async fn corrupt_store_is_refused_and_left_alone() {
    let dir = TempDir::new("login-corrupt");
    let profile = dir.path("alice.xml");
    // Nothing listens there: the store is read before any REGISTER leaves.
    std::fs::write(&profile, profile_xml("alice", free_port(), "udp")).unwrap();
    let store = dir.path("store.xml");
    std::fs::write(&store, "<presence-store><buddy").unwrap();
    let mut rtc = Rtc::login(&profile, &store);
    rtc.exit_failed().await;
    let refused = format!("stderr error login: store {}: ", store.display());
    assert!(rtc.saw_line_starting(&refused), "{}", rtc.output());
    assert!(!rtc.saw_line_starting("saved "), "{}", rtc.output());
    assert_eq!(
        std::fs::read_to_string(&store).unwrap(),
        "<presence-store><buddy"
    );
}

#[tokio::test]
async fn invalid_profile_is_refused_with_its_place() {
    let bad = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../provisioning/tests/profiles/invalid/basic-auth-over-udp.xml");
    let dir = TempDir::new("login-invalid");
    let mut rtc = Rtc::login(&bad, &dir.path("store.xml"));
    rtc.expect(&format!(
        "stderr error login: {}: 4:55: basic auth requires protocol TLS",
        bad.display()
    ))
    .await;
    rtc.exit_failed().await;
    assert!(!dir.path("store.xml").exists());
}

/// Against a real Kamailio over TLS, trusting its CA with `--ca`: register, messages both ways
/// with a client in this process, quit. Skipped, with the reason printed, without Kamailio.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kamailio_over_tls() {
    let Some(kam) = Kamailio::start("login-tls", &[]) else {
        return;
    };
    let dir = TempDir::new("login-kamailio");
    let profile = dir.path("alice.xml");
    std::fs::write(&profile, profile_xml("alice", kam.tls_port, "tls")).unwrap();
    let ca = kam.ca();
    let mut rtc = Rtc::login_with(
        &profile,
        &dir.path("alice-presence.xml"),
        &["--ca".as_ref(), ca.as_os_str()],
    );
    rtc.expect("event registration: registered (200 OK)").await;

    let (bob, mut bob_events, bob_profile) =
        registered(&profile_xml("bob", kam.tls_port, "tls"), Some(&ca)).await;
    bob.send_message(ALICE, "through Kamailio").await.unwrap();
    rtc.expect("event message from sip:bob@example.test: through Kamailio")
        .await;
    rtc.send("msg sip:bob@example.test and back");
    rtc.expect("ok msg sip:bob@example.test").await;
    expect(
        &mut bob_events,
        "alice's message",
        |e| matches!(e, Event::Message { from, text, .. } if from == ALICE && text == "and back"),
    )
    .await;

    rtc.send("quit");
    rtc.expect("event registration: not registered (200 OK)")
        .await;
    let status = rtc.exit().await;
    assert!(
        status.success(),
        "{status}\n{}\n{}",
        rtc.output(),
        kam.log()
    );
    bob.disable_profile(&bob_profile).await.unwrap();
}

/// A `msg` to a recipient that never answers (its client vanished without logging off; the
/// proxy waits out the transaction, 32 s) holds up neither the next command nor `quit`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_message_blocks_neither_other_commands_nor_quit() {
    let env = Embedded::start("login-concurrent", "alice").await;
    let port = env.port;
    // bob registers, then his process is gone: her binding stays, nobody answers at it.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let (bob, _events, _profile) = registered(&profile_xml("bob", port, "udp"), None).await;
            // Never logs off: the runtime is dropped under it.
            std::mem::forget(bob);
        });
    })
    .join()
    .unwrap();
    let mut rtc = env.login();
    rtc.expect("event registration: registered (200 OK)").await;
    rtc.expect("ok status online").await;
    rtc.send("msg sip:bob@example.test are you there?");
    rtc.send("buddies");
    let answer = rtc
        .expect_where("the answer to buddies or msg", |l| {
            l.starts_with("ok buddies") || l.contains(" msg ")
        })
        .await;
    assert_eq!(
        answer,
        "ok buddies 0",
        "buddies waited for msg: {}",
        rtc.output()
    );
    let asked = std::time::Instant::now();
    rtc.send("quit");
    rtc.expect_logged_off().await;
    assert!(
        asked.elapsed() < Duration::from_secs(20),
        "quit waited for msg: {}",
        rtc.output()
    );
}
