//! `rtc demo`, the README's main job: every step of the flow happens, in order, and it exits 0.
#![cfg(feature = "cli")]

use std::process::Command;

#[test]
fn demo_runs_the_whole_flow() {
    let out = Command::new(env!("CARGO_BIN_EXE_rtc"))
        .arg("demo")
        .output()
        .expect("run rtc demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rtc demo failed\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let steps = [
        "[alice] registration: registered (200 OK)",
        "[  bob] registration: registered (200 OK)",
        "[  bob] watcher sip:alice@example.test: offering",
        "[alice] buddy sip:bob@example.test is online",
        "[  bob] buddy sip:alice@example.test is away: getting coffee",
        "[alice] buddy sip:bob@example.test is busy: in a meeting",
        "[  bob] sip:alice@example.test is typing",
        "[  bob] message from sip:alice@example.test: Hello Bob, lunch later?",
        "[alice] message from sip:bob@example.test: Sure, at noon.",
        "[alice] registration: not registered (200 OK)",
        "[  bob] registration: not registered (200 OK)",
        "demo complete",
    ];
    let mut from = 0;
    for step in steps {
        let at = stdout[from..]
            .find(step)
            .unwrap_or_else(|| panic!("missing, or out of order: {step:?}\n{stdout}"));
        from += at + step.len();
    }
    // The exported presence files exist and hold the other user.
    let dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("demo complete; presence exported to "))
        .expect("the export folder");
    let alice = std::fs::read_to_string(format!("{dir}/alice-export.xml")).unwrap();
    assert!(alice.contains("sip:bob@example.test"), "{alice}");
    let _ = std::fs::remove_dir_all(dir);
}
