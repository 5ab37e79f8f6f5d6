//! For tests that run a real SIP peer (Kamailio, sipp, baresip) beside this stack: ports to
//! hand it, and the gate that decides whether such an interop test runs. Feature `testkit`:
//! for tests, not for production code.
//!
//! ```no_run
//! use sip_transport::testkit;
//!
//! // at the top of a test that drives Kamailio and sipp
//! if !testkit::interop(&["kamailio", "sipp"]) {
//!     return; // skipped, and said so; under CI=true the test has already failed
//! }
//! ```

pub mod dns;
pub mod pki;

use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// How many ports [`free_port`] goes through.
const SPAN: u32 = 12_000;

/// A loopback port free for both TCP and UDP right now, for another process (Kamailio, sipp)
/// to bind later.
///
/// Not a port-0 bind handed on: once that socket is dropped, any socket bound to port 0
/// meanwhile (a client, a parallel test) may get the same port before the server that was
/// given it binds it, as once failed a CI run. So the port comes from outside the system's
/// ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`, 32768-60999 where that cannot be
/// read), which port-0 binds never take: from the up to 12,000 ports just below it
/// (20768-32767 with that range), or just above it where there is more room there. Each call
/// moves one port on, from a start that differs per process, so parallel tests and test
/// binaries do not try the same ports.
///
/// # Panics
///
/// If the ephemeral range leaves no room, or every port outside it is taken.
pub fn free_port() -> u16 {
    static RANGE: OnceLock<(u32, u32)> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (first, span) = *RANGE.get_or_init(outside_ephemeral);
    let start = std::process::id().wrapping_mul(7_919) % span;
    loop {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(
            step < 4 * span,
            "no free port in {first}-{}",
            first + span - 1
        );
        let port = u16::try_from(first + (start + step) % span).expect("a port is below 65536");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
            && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
        {
            return port;
        }
    }
}

/// Tools the interop tests drive, with the Debian packages that bring them.
const TOOLS: &[(&str, &str)] = &[
    (
        "kamailio",
        "kamailio kamailio-presence-modules kamailio-tls-modules",
    ),
    ("kamcmd", "kamailio"),
    ("sipp", "sip-tester"),
    ("tshark", "tshark"),
    ("nft", "nftables"),
    ("ip", "iproute2"),
    ("baresip", "baresip-core"),
];

/// Whether an interop test that needs every program in `tools` (by name, e.g. `"kamailio"`) may
/// run: `true` when each is on `PATH`, after recording the run (see [`ran`]). Otherwise the test
/// is skipped through [`skip`], naming what is missing and the package that brings it.
///
/// # Panics
///
/// Under `CI=true`, when a tool is missing: there an interop test that cannot run fails.
pub fn interop(tools: &[&str]) -> bool {
    let missing: Vec<String> = tools
        .iter()
        .filter(|tool| !on_path(tool))
        .map(|tool| match TOOLS.iter().find(|(name, _)| name == tool) {
            Some((_, package)) => format!("{tool} (apt-get install {package})"),
            None => (*tool).to_owned(),
        })
        .collect();
    if missing.is_empty() {
        ran();
        true
    } else {
        skip(&format!("not installed: {}", missing.join(", ")));
        false
    }
}

/// Whether `program` is an executable file in a directory of `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program)).is_ok_and(|m| m.is_file() && is_executable(&m))
        })
    })
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    true
}

/// Skips the calling interop test because of `why`.
///
/// Outside CI it prints `skipped TEST: WHY` straight to the process's stderr, so that
/// `cargo test` shows it without `--nocapture` (libtest captures only `print!`/`eprint!`).
///
/// # Panics
///
/// Under `CI=true` (any value but empty, `0` or `false`): a CI run must prove interop, so the
/// test fails with `why` instead.
pub fn skip(why: &str) {
    let test = test_name();
    assert!(
        !in_ci(),
        "{test} cannot run, and CI=true forbids skipping it: {why}"
    );
    let _ = writeln!(std::io::stderr().lock(), "skipped {test}: {why}");
}

/// Records that the calling interop test ran: appends its name as one line to the file that
/// `RTC_INTEROP_LOG` names, if set, so that a CI run can count them (`.ci/run` does).
pub fn ran() {
    let Some(log) = std::env::var_os("RTC_INTEROP_LOG") else {
        return;
    };
    let line = format!("{}\n", test_name());
    // One write of one short line to an O_APPEND file: lines of parallel tests do not mix.
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// Whether this process runs under CI (`CI` set to anything but empty, `0` or `false`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// The running test's name (libtest names each test's thread after it), with the test binary.
fn test_name() -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| {
            stem.rsplit_once('-')
                .map_or(stem.clone(), |(name, _)| name.to_owned())
        })
        .unwrap_or_default();
    let thread = std::thread::current();
    format!("{binary}::{}", thread.name().unwrap_or("main"))
}

/// The first port and the number of ports of the range [`free_port`] picks from.
fn outside_ephemeral() -> (u32, u32) {
    let ephemeral = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut bounds = s.split_whitespace().map(|n| n.parse::<u32>().ok());
            Some((bounds.next()??, bounds.next()??))
        })
        .filter(|&(low, high)| low <= high && high <= 65_535)
        .unwrap_or((32_768, 60_999));
    outside(ephemeral)
}

/// Up to [`SPAN`] ports next to the ephemeral range `low`-`high`, on the side with more room;
/// never below 1024, where ports are privileged.
fn outside((low, high): (u32, u32)) -> (u32, u32) {
    let below = low.saturating_sub(1024).min(SPAN);
    let above = (65_535 - high).min(SPAN);
    assert!(
        below.max(above) > 0,
        "the ephemeral range {low}-{high} leaves no port for a test server"
    );
    if below >= above {
        (low - below, below)
    } else {
        (high + 1, above)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_next_to_the_ephemeral_range() {
        // Linux's default range, and the IANA one (macOS, Windows).
        assert_eq!(outside((32_768, 60_999)), (20_768, 12_000));
        assert_eq!(outside((49_152, 65_535)), (37_152, 12_000));
        // Little room below: above it.
        assert_eq!(outside((2_000, 60_999)), (61_000, 4_536));
        assert_eq!(outside((1_024, 65_534)), (65_535, 1));
    }

    #[test]
    #[should_panic(expected = "leaves no port")]
    fn no_room() {
        outside((1_024, 65_535));
    }

    #[test]
    fn tools_are_found_on_path_only_when_executable() {
        assert!(on_path("sh"));
        assert!(!on_path("no-such-tool-rtc-sip"));
    }

    #[test]
    fn a_missing_tool_is_a_skip_outside_ci_and_a_failure_in_it() {
        let outcome = std::panic::catch_unwind(|| interop(&["no-such-tool-rtc-sip"]));
        if in_ci() {
            let err = outcome.expect_err("CI=true: a missing tool fails the test");
            let msg = err.downcast_ref::<String>().expect("a formatted message");
            assert!(msg.contains("no-such-tool-rtc-sip"), "{msg}");
        } else {
            assert_eq!(outcome.ok(), Some(false));
        }
    }

    #[test]
    fn free_ports_are_outside_the_range_and_differ() {
        let (first, span) = outside_ephemeral();
        let (a, b) = (u32::from(free_port()), u32::from(free_port()));
        assert_ne!(a, b);
        assert!((first..first + span).contains(&a) && (first..first + span).contains(&b));
    }
}
