//! `rtc profile check`: one line per file, exit status 0 only when every file is ok.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(kind: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../provisioning/tests/profiles")
        .join(kind)
        .join(name)
}

fn rtc(files: &[&Path]) -> (bool, Vec<String>) {
    let output = Command::new(env!("CARGO_BIN_EXE_rtc"))
        .args(["profile", "check"])
        .args(files)
        .output()
        .expect("run rtc");
    let stdout = String::from_utf8(output.stdout).expect("utf-8 output");
    (
        output.status.success(),
        stdout.lines().map(str::to_owned).collect(),
    )
}

#[test]
fn valid_profile_is_ok() {
    let good = fixture("valid", "microsoft-sample.xml");
    let (ok, lines) = rtc(&[&good]);
    assert!(ok);
    assert_eq!(
        lines,
        [format!(
            "{}\tok\tkey={{D9E2B0C3-1E4A-4F5B-9C3D-7A6B5C4D3E2F}} servers=2",
            good.display()
        )]
    );
}

#[test]
fn invalid_profile_fails_with_place_and_message() {
    let good = fixture("valid", "minimal.xml");
    let bad = fixture("invalid", "basic-auth-over-udp.xml");
    let (ok, lines) = rtc(&[&good, &bad]);
    assert!(!ok, "one bad file fails the run");
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with(&format!("{}\tok\t", good.display())),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        format!(
            "{}\terror\t4:55: basic auth requires protocol TLS",
            bad.display()
        )
    );
}

#[test]
fn unreadable_file_is_an_error_line() {
    let missing = fixture("valid", "does-not-exist.xml");
    let (ok, lines) = rtc(&[&missing]);
    assert!(!ok);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with(&format!("{}\terror\t0:0: cannot read:", missing.display())));
}

#[test]
fn a_user_uri_with_two_at_signs_is_refused_at_its_place() {
    let bad = fixture("invalid", "user-uri-double-at.xml");
    let (ok, lines) = rtc(&[&bad]);
    assert!(!ok);
    assert_eq!(
        lines,
        [format!(
            "{}\terror\t3:14: invalid user URI \"sip:alice@@example.test\" (expected sip:user@host or sips:user@host)",
            bad.display()
        )]
    );
}
