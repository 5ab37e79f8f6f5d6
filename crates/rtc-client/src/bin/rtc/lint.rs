//! `rtc lint FILE…`: parse each file as one datagram and validate it.

use std::io::Read;
use std::path::{Path, PathBuf};

use sip_parse::{Message, ParseConfig};

use crate::output::one_line;

/// Lints each file, printing `PATH<TAB>ok<TAB>SUMMARY` or `PATH<TAB>error<TAB>OFFSET: WHAT`;
/// true when every file is ok.
pub(crate) fn run(files: &[PathBuf]) -> bool {
    let cfg = ParseConfig::default();
    let mut all_ok = true;
    for path in files {
        let line = match lint(path, &cfg) {
            Ok(summary) => format!("ok\t{summary}"),
            Err(why) => {
                all_ok = false;
                format!("error\t{why}")
            }
        };
        println!("{}\t{line}", one_line(&path.display().to_string()));
    }
    all_ok
}

/// The verdict for one file. Only `max_message_size + 1` bytes are read, so a huge file is
/// refused at once instead of being loaded.
fn lint(path: &Path, cfg: &ParseConfig) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("0: cannot read: {e}"))?;
    let mut data = Vec::new();
    let limit = cfg.max_message_size as u64 + 1;
    file.take(limit)
        .read_to_end(&mut data)
        .map_err(|e| format!("0: cannot read: {e}"))?;
    let msg =
        Message::parse_slice_with(&data, cfg).map_err(|e| format!("{}: {}", e.offset, e.kind))?;
    msg.validate()
        .map_err(|e| format!("{}: {}", e.offset, e.kind))?;
    let what = match (msg.method(), msg.status()) {
        (Some(m), _) => m.to_string(),
        (None, Some(code)) => code.to_string(),
        (None, None) => String::new(),
    };
    Ok(format!("{what} headers={}", msg.header_count()))
}
