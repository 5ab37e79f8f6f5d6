//! A real third-party user agent for the interop tests: baresip 1.0 from Debian
//! (`baresip-core`), headless, in a throw-away configuration directory, registered with the
//! test Kamailio and driven through its `ctrl_tcp` control interface.
//!
//! `ctrl_tcp` takes netstring-framed JSON commands (`{"command":"dial","params":"sip:…",
//! "token":"7"}`), answers each with `{"response":true,"ok":…,"data":"…","token":"7"}` and pushes
//! UA events (`{"event":true,"class":"call","type":"CALL_INCOMING",…}`). An instant message that
//! arrives is not an event in 1.0: the menu module prints it to the user interfaces
//! (`sip:alice@example.test: "text"`), so the `cons` console is loaded too and its TCP output
//! read line by line. Commands of this version (`/help`): `dial URI`, `accept`, `hangup`,
//! `message TEXT` (to the current contact, the first of the contacts file), `contacts` (with
//! each contact's presence), `presence_online`, `presence_offline`, `reginfo`, `quit`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use super::{Kamailio, free_port};

/// How long any wait on baresip lasts before the test fails: generous, for a loaded machine.
const WAIT: Duration = Duration::from_secs(30);

/// How long baresip may take to quit. It waits for its last transactions, and a NOTIFY to a
/// peer that has just stopped (a final NOTIFY answering that peer's unsubscribe) times out only
/// after 64·T1 = 32 s (RFC 3261 §17.1.2.2).
const QUIT_WAIT: Duration = Duration::from_secs(60);

/// How a [`Baresip`] is set up.
#[derive(Debug, Default, Clone)]
pub(crate) struct Options {
    /// Lines of its contacts file, e.g. `<sip:alice@example.test>;presence=p2p` (the parameter
    /// makes baresip subscribe to the contact's presence). The first is the current contact,
    /// the recipient of `message`.
    pub(crate) contacts: Vec<String>,
    /// Publish presence (RFC 3903) every so many seconds; 0: never.
    pub(crate) publish_interval: u32,
}

/// A running baresip, registered (or registering) as `user` with a [`Kamailio`]; killed on
/// drop if [`Baresip::quit`] did not end it.
pub(crate) struct Baresip {
    process: Process,
    writer: OwnedWriteHalf,
    responses: mpsc::UnboundedReceiver<Value>,
    events: mpsc::UnboundedReceiver<Value>,
    console: mpsc::UnboundedReceiver<String>,
    next_token: u64,
}

/// The baresip process and its directory; killed on drop, its log printed if a test failed.
struct Process {
    child: Child,
    dir: PathBuf,
}

impl Process {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("baresip.log")).unwrap_or_default()
    }

    async fn connect(&mut self, port: u16) -> TcpStream {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await {
                return stream;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("baresip exited ({status})");
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "baresip never listened on {port}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("baresip log ({}):\n{}", self.dir.display(), self.log());
        }
    }
}

impl Baresip {
    /// Starts baresip as `user` (password `{user}pw`) with Kamailio as its outbound proxy (UDP),
    /// and connects to its control interface and console.
    pub(crate) async fn start(kam: &Kamailio, user: &str, options: Options) -> Baresip {
        let dir = kam.dir.join(format!("baresip-{user}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (ctrl_port, cons_port) = (free_port(), free_port());
        // No audio device: the aufile module reads and writes files, here nothing at all. SIP
        // listens on a port of the system's choice (also its TLS port), found by Kamailio in
        // the registration's Contact.
        let config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:0\n\
             call_local_timeout 120\n\
             audio_player aufile,/dev/null\n\
             audio_source aufile,/dev/null\n\
             audio_alert aufile,/dev/null\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\n\
             module cons.so\n\
             module_tmp account.so\n\
             module_app contact.so\n\
             module_app menu.so\n\
             module_app presence.so\n\
             module_app ctrl_tcp.so\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl_port}\n\
             cons_listen 127.0.0.1:{cons_port}\n"
        );
        std::fs::write(dir.join("config"), config).unwrap();
        let account = format!(
            "<sip:{user}@example.test;transport=udp>;auth_pass={user}pw;\
             outbound=\"sip:127.0.0.1:{}\";regint=600;pubint={}\n",
            kam.port, options.publish_interval
        );
        std::fs::write(dir.join("accounts"), account).unwrap();
        std::fs::write(dir.join("contacts"), options.contacts.join("\n") + "\n").unwrap();
        let log = std::fs::File::create(dir.join("baresip.log")).unwrap();
        let child = Command::new("baresip")
            .arg("-f")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("run baresip");
        let mut process = Process { child, dir };
        let (reader, writer) = process.connect(ctrl_port).await.into_split();
        let cons = process.connect(cons_port).await;
        let (responses_tx, responses) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        tokio::spawn(read_netstrings(reader, responses_tx, events_tx));
        let (console_tx, console) = mpsc::unbounded_channel();
        tokio::spawn(read_lines(cons, console_tx));
        Baresip {
            process,
            writer,
            responses,
            events,
            console,
            next_token: 0,
        }
    }

    /// Runs `command` (with `params`, if any) and returns its output, without colours. Panics
    /// if baresip says it failed.
    pub(crate) async fn command(&mut self, command: &str, params: Option<&str>) -> String {
        self.next_token += 1;
        let token = self.next_token.to_string();
        let mut json = serde_json::json!({ "command": command, "token": token });
        if let Some(params) = params {
            json["params"] = params.into();
        }
        let json = json.to_string();
        let frame = format!("{}:{json},", json.len());
        self.writer.write_all(frame.as_bytes()).await.unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.responses.recv()).await {
                Ok(Some(r)) if r["token"] == token.as_str() => {
                    let data = strip_colours(r["data"].as_str().unwrap_or_default());
                    assert_eq!(r["ok"], true, "baresip `{command}` failed: {data}");
                    return data;
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("baresip closed its control connection"),
                Err(_) => panic!("baresip did not answer `{command}`"),
            }
        }
    }

    /// Runs `command` until its output satisfies `want`, and returns that output.
    pub(crate) async fn poll(
        &mut self,
        command: &str,
        what: &str,
        want: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let out = self.command(command, None).await;
            if want(&out) {
                return out;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "baresip: waited for {what}; `{command}` still says {out}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until baresip's account is registered.
    pub(crate) async fn registered(&mut self) {
        self.poll("reginfo", "registration", |out| {
            out.lines()
                .any(|l| l.contains("sip:") && l.contains(" OK "))
        })
        .await;
    }

    /// Waits until baresip shows `status` (`Online`, `Offline`, `Busy`, `Unknown`) for its
    /// contact `uri`.
    pub(crate) async fn expect_contact(&mut self, uri: &str, status: &str) {
        let what = format!("{uri} {status}");
        self.poll("contacts", &what, |out| {
            contact_status(out, uri).as_deref() == Some(status)
        })
        .await;
    }

    /// Waits for a UA event of `kind` (`CALL_INCOMING`, `CALL_ESTABLISHED`, `CALL_CLOSED`, …)
    /// and returns it; earlier events are skipped but kept in the panic message.
    pub(crate) async fn expect_event(&mut self, kind: &str) -> Value {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) if e["type"] == kind => return e,
                Ok(Some(e)) => seen.push(e),
                Ok(None) => panic!("baresip closed its control connection"),
                Err(_) => panic!("baresip: no {kind} event; saw {seen:#?}",),
            }
        }
    }

    /// Waits for a line of console output containing `text` (an arriving message shows as
    /// `sip:alice@example.test: "text"`), and returns it.
    pub(crate) async fn expect_console(&mut self, text: &str) -> String {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.console.recv()).await {
                Ok(Some(line)) if line.contains(text) => return line,
                Ok(Some(line)) => seen.push(line),
                Ok(None) => panic!("baresip closed its console"),
                Err(_) => panic!("baresip never printed {text:?}; printed {seen:#?}",),
            }
        }
    }

    /// Quits the way a user does (`/quit`: unregister, unsubscribe, unpublish) and waits for
    /// the process to end.
    pub(crate) async fn quit(mut self) {
        let json = r#"{"command":"quit"}"#;
        let _ = self
            .writer
            .write_all(format!("{}:{json},", json.len()).as_bytes())
            .await;
        let deadline = tokio::time::Instant::now() + QUIT_WAIT;
        while self.process.child.try_wait().unwrap().is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "baresip did not quit"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Splits the control connection's netstrings (`LEN:JSON,`) into responses and events.
async fn read_netstrings(
    mut reader: impl AsyncReadExt + Unpin,
    responses: mpsc::UnboundedSender<Value>,
    events: mpsc::UnboundedSender<Value>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(colon) = buf.iter().position(|&b| b == b':') {
            let len: usize = std::str::from_utf8(&buf[..colon])
                .ok()
                .and_then(|l| l.parse().ok())
                .unwrap_or_else(|| panic!("baresip: bad netstring {buf:?}"));
            if buf.len() < colon + 1 + len + 1 {
                break;
            }
            let json: Value = serde_json::from_slice(&buf[colon + 1..colon + 1 + len])
                .unwrap_or_else(|e| panic!("baresip: bad JSON ({e}) in {buf:?}"));
            buf.drain(..colon + 1 + len + 1);
            let to = if json["event"] == true {
                &events
            } else {
                &responses
            };
            let _ = to.send(json);
        }
        match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Forwards the console's output line by line, without colours.
async fn read_lines(stream: TcpStream, lines: mpsc::UnboundedSender<String>) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    while let Ok(n) = reader.read_until(b'\n', &mut line).await {
        if n == 0 {
            return;
        }
        let text = strip_colours(&String::from_utf8_lossy(&line));
        let _ = lines.send(text.trim_matches(['\r', '\n']).to_owned());
        line.clear();
    }
}

/// `text` without ANSI colour sequences (`ESC [ … m`).
fn strip_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The status `contacts` shows for `uri` (its line is `> Online Alice <sip:alice@…>`).
fn contact_status(contacts: &str, uri: &str) -> Option<String> {
    let line = contacts.lines().find(|l| l.contains(&format!("<{uri}>")))?;
    line.trim_start_matches(['>', ' '])
        .split_whitespace()
        .next()
        .map(str::to_owned)
}

/// What Kamailio still holds: registered addresses of record, presence subscriptions
/// (`watcher -> presentity`, needs `-A WITH_SUBS_DB`) and publications (presentity URIs).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ServerState {
    pub(crate) registrations: Vec<String>,
    pub(crate) subscriptions: Vec<String>,
    pub(crate) publications: Vec<String>,
}

impl ServerState {
    /// Asks Kamailio through its control socket (`kamcmd`): `ul.dump` for the registrations,
    /// and `db_text.dump`, which writes the presence tables to `DIR/db`, for the rest.
    pub(crate) fn of(kam: &Kamailio) -> ServerState {
        let registrations = kamcmd(kam, &["ul.dump", "brief"])
            .lines()
            .filter_map(|l| l.trim().strip_prefix("AoR: "))
            .map(str::to_owned)
            .collect();
        kamcmd(kam, &["db_text.dump"]);
        let rows = |table: &str| -> Vec<Vec<String>> {
            std::fs::read_to_string(kam.dir.join("db").join(table))
                .unwrap_or_default()
                .lines()
                .skip(1) // the column definitions
                .filter(|l| !l.trim().is_empty())
                .map(db_text_columns)
                .collect()
        };
        // active_watchers: id, presentity_uri, watcher_username, watcher_domain, …
        let subscriptions = rows("active_watchers")
            .into_iter()
            .map(|r| format!("sip:{}@{} -> {}", r[2], r[3], r[1]))
            .collect();
        // presentity: id, username, domain, …
        let publications = rows("presentity")
            .into_iter()
            .map(|r| format!("sip:{}@{}", r[1], r[2]))
            .collect();
        ServerState {
            registrations,
            subscriptions,
            publications,
        }
    }
}

/// A db_text row's columns (`:` separates them, `\:` is a colon inside one).
fn db_text_columns(line: &str) -> Vec<String> {
    let mut columns = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => columns.last_mut().unwrap().extend(chars.next()),
            ':' => columns.push(String::new()),
            c => columns.last_mut().unwrap().push(c),
        }
    }
    columns
}

/// Runs a Kamailio RPC command through `kamcmd` and returns its output.
fn kamcmd(kam: &Kamailio, args: &[&str]) -> String {
    let socket = format!("unix:{}", kam.dir.join("kamailio_ctl").display());
    let program = if Path::new("/usr/sbin/kamcmd").exists() {
        "/usr/sbin/kamcmd"
    } else {
        "kamcmd"
    };
    let out = Command::new(program)
        .arg("-s")
        .arg(&socket)
        .args(args)
        .output()
        .expect("run kamcmd");
    assert!(out.status.success(), "kamcmd {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
