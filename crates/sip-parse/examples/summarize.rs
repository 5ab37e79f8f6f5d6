//! Parse captured SIP messages and print a one-line summary of each.
//!
//! Shows [`Message::parse`], the typed header views (`Call-ID`, `CSeq`, the top `Via`) and
//! [`Message::validate`], and how a [`sip_parse::ParseError`] reports the byte offset it
//! stopped at.
//!
//! The argument is a file holding one message (as a UDP datagram carries it) or a directory of
//! such files, read in name order; `*.tsv` files (corpus manifests) are skipped. Run it over the
//! RFC 4475 torture tests:
//!
//! ```text
//! cargo run --example summarize -p sip-parse -- crates/sip-parse/tests/rfc4475
//! ```
//!
//! Each line reads `file: INVITE sip:… | call-id … | cseq … | branch …`, or
//! `file: error at byte N: …` for a message the parser or validator rejects. The exit status is 0
//! when every file could be read, whatever the messages' verdicts.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bytes::Bytes;
use sip_parse::Message;

fn main() -> ExitCode {
    let Some(arg) = std::env::args_os().nth(1) else {
        eprintln!("usage: summarize <message file | directory of message files>");
        return ExitCode::from(2);
    };
    match files(Path::new(&arg)) {
        Ok(files) => {
            let mut out = std::io::stdout().lock();
            for file in files {
                match std::fs::read(&file) {
                    Ok(bytes) => {
                        let line = summarize(Bytes::from(bytes));
                        // A closed pipe (`| head`) ends the listing quietly.
                        if writeln!(out, "{}: {line}", name(&file)).is_err() {
                            return ExitCode::SUCCESS;
                        }
                    }
                    Err(e) => {
                        eprintln!("{}: {e}", file.display());
                        return ExitCode::FAILURE;
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", Path::new(&arg).display());
            ExitCode::FAILURE
        }
    }
}

/// The message files at `path`: itself, or the files of a directory in name order.
fn files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = std::fs::read_dir(path)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    files.retain(|f| f.is_file() && f.extension().is_none_or(|ext| ext != "tsv"));
    files.sort();
    Ok(files)
}

fn name(file: &Path) -> String {
    file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// One line: the start line, Call-ID, CSeq and top Via branch, or where the message is wrong.
fn summarize(bytes: Bytes) -> String {
    let msg = match Message::parse(bytes) {
        Ok(msg) => msg,
        Err(e) => return format!("error {e}"),
    };
    let start = match (msg.method(), msg.status()) {
        (Some(method), _) => format!("{method} {}", msg.request_uri().unwrap_or("?")),
        (None, Some(status)) => format!("{status} {}", msg.reason().unwrap_or("")),
        (None, None) => "?".to_owned(),
    };
    let call_id = msg
        .call_id()
        .map_or_else(|e| format!("<{e}>"), str::to_owned);
    let cseq = msg
        .cseq()
        .map_or_else(|e| format!("<{e}>"), |c| format!("{} {}", c.seq, c.method));
    let branch = match msg.top_via() {
        Ok(via) => via.branch.unwrap_or("<none>").to_owned(),
        Err(e) => format!("<{e}>"),
    };
    let verdict = match msg.validate() {
        Ok(()) => String::new(),
        Err(e) => format!(" | invalid {e}"),
    };
    format!("{start} | call-id {call_id} | cseq {cseq} | branch {branch}{verdict}")
}
