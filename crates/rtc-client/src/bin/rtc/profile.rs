//! `rtc profile …`: provisioning profiles.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;
use provisioning::{Limits, Profile};

use crate::output::one_line;

/// `rtc profile` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Parse and validate each file as a provisioning profile; one line per file:
    /// `PATH<TAB>ok<TAB>key=… servers=N` or `PATH<TAB>error<TAB>LINE:COL: MESSAGE`.
    Check {
        /// Profile XML files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Runs a profile subcommand; true when every input was ok.
pub(crate) fn run(command: Command) -> bool {
    match command {
        Command::Check { files } => check_all(&files),
    }
}

fn check_all(files: &[PathBuf]) -> bool {
    let limits = Limits::default();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut all_ok = true;
    for path in files {
        let (ok, line) = check(path, &limits);
        all_ok &= ok;
        // A closed pipe (`| head`) is not worth a panic; the exit status still tells.
        if writeln!(out, "{}\t{line}", one_line(&path.display().to_string())).is_err() {
            break;
        }
    }
    let _ = out.flush();
    all_ok
}

/// Checks one file: `(ok, "ok\t…" | "error\t…")`.
fn check(path: &Path, limits: &Limits) -> (bool, String) {
    match load(path, limits) {
        Ok((profile, _)) => (
            true,
            format!(
                "ok\tkey={} servers={}",
                one_line(&profile.key),
                profile.servers.len()
            ),
        ),
        Err(e) => (false, format!("error\t{e}")),
    }
}

/// Reads and validates the profile at `path`: the profile and its text (byte order mark
/// removed), or `LINE:COL: MESSAGE` on one line (`0:0` when the file cannot be read, which is
/// not a place in the document).
pub(crate) fn load(path: &Path, limits: &Limits) -> Result<(Profile, String), String> {
    let bytes = read_capped(path, limits.max_size)
        .map_err(|e| format!("0:0: cannot read: {}", one_line(&e.to_string())))?;
    let profile = provisioning::parse_bytes_with_limits(&bytes, limits)
        .map_err(|e| format!("{}: {}", e.position(), one_line(&e.message())))?;
    // The parser accepted it, so it is UTF-8 with or without a byte order mark.
    let text = String::from_utf8(bytes).map_err(|e| format!("0:0: {e}"))?;
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    };
    Ok((profile, text))
}

/// Reads at most `max + 1` bytes: enough for the parser to say "too large" without reading a
/// huge file to its end.
fn read_capped(path: &Path, max: usize) -> io::Result<Vec<u8>> {
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut bytes = Vec::new();
    File::open(path)?.take(cap).read_to_end(&mut bytes)?;
    Ok(bytes)
}
