//! The Kamailio recipe in `interop/kamailio` as the benchmarks that drive a real server use it:
//! its scripts, and a free port to start it on.
//!
//! ```no_run
//! let sip = benches::interop::free_port();
//! benches::interop::script("start.sh", &["/tmp/kam", &sip.to_string()])?;
//! # Ok::<(), String>(())
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory of the Kamailio recipe.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/kamailio")
}

/// A port that was free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs the recipe's script `name` with `args`; its output is the error when it fails.
pub fn script(name: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(dir().join(name))
        .args(args)
        .output()
        .map_err(|e| format!("{name}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{name} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
