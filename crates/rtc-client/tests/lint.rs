//! `rtc lint` on the RFC 4475 corpus and on hostile files.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../sip-parse/tests/rfc4475")
}

fn lint(files: &[PathBuf]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rtc"))
        .arg("lint")
        .args(files)
        .output()
        .expect("run rtc");
    (
        out.status.success(),
        String::from_utf8(out.stdout).expect("utf-8 output"),
    )
}

#[test]
fn verdicts_follow_the_manifest() {
    let dir = corpus_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    for row in manifest.lines().skip(1) {
        let f: Vec<_> = row.split('\t').collect();
        let (ok, out) = lint(&[dir.join(f[0])]);
        let fields: Vec<_> = out.trim_end().split('\t').collect();
        assert_eq!(fields.len(), 3, "{out}");
        match f[2] {
            "parse-ok" => assert!(ok && fields[1] == "ok", "{}: {out}", f[0]),
            "parse-error" => {
                assert!(!ok && fields[1] == "error", "{}: {out}", f[0]);
                let (offset, what) = fields[2].split_once(": ").unwrap();
                assert!(offset.parse::<usize>().is_ok() && !what.is_empty(), "{out}");
            }
            _ => assert!(fields[1] == "ok" || fields[1] == "error"),
        }
    }
}

#[test]
fn summary_and_exit_status() {
    let dir = corpus_dir();
    let (ok, out) = lint(&[dir.join("wsinv.dat"), dir.join("noreason.dat")]);
    assert!(ok);
    let lines: Vec<_> = out.lines().collect();
    assert!(
        lines[0].ends_with("wsinv.dat\tok\tINVITE headers=14"),
        "{out}"
    );
    assert!(
        lines[1].ends_with("noreason.dat\tok\t100 headers=7"),
        "{out}"
    );
    let (ok, out) = lint(&[dir.join("wsinv.dat"), dir.join("bigcode.dat")]);
    assert!(!ok);
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .ends_with("bigcode.dat\terror\t8: expected 3-digit status code"),
        "{out}"
    );
}

#[test]
fn hostile_files_answer_fast() {
    let dir = std::env::temp_dir().join(format!("rtc-lint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let huge = dir.join("huge.sip");
    let mut data = b"OPTIONS sip:a SIP/2.0\r\nX-A: ".to_vec();
    data.resize(8 << 20, b'a');
    std::fs::write(&huge, &data).unwrap();
    let binary = dir.join("binary.sip");
    std::fs::write(&binary, (0..=255u8).cycle().take(4096).collect::<Vec<_>>()).unwrap();
    let missing = dir.join("missing.sip");
    let (ok, out) = lint(&[huge, binary, missing]);
    assert!(!ok);
    let verdicts: Vec<_> = out.lines().map(|l| l.split('\t').nth(1).unwrap()).collect();
    assert_eq!(verdicts, ["error", "error", "error"], "{out}");
    assert!(out.contains("limit exceeded: message size"), "{out}");
    assert!(out.contains("cannot read"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file name holding a newline, a right-to-left override and a paragraph separator still
/// gives one verdict line, with those characters escaped.
#[test]
fn hostile_file_names_stay_on_one_line() {
    let dir = std::env::temp_dir().join(format!("rtc-lint-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let name = dir.join("a\nok\t\u{202e}gnp.\u{2029}\u{1b}[2J.sip");
    std::fs::copy(corpus_dir().join("wsinv.dat"), &name).unwrap();
    let (ok, out) = lint(&[name]);
    assert!(ok, "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("a\\nok\\t\\u{202e}gnp.\\u{2029}\\u{1b}[2J.sip\tok\tINVITE"),
        "{out}"
    );
    assert!(
        !out.contains('\u{202e}') && !out.contains('\u{1b}'),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
