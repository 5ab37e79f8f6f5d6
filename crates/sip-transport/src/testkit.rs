//! For tests that run a real SIP peer (Kamailio, sipp) beside this stack: ports to hand it.

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
    fn free_ports_are_outside_the_range_and_differ() {
        let (first, span) = outside_ephemeral();
        let (a, b) = (u32::from(free_port()), u32::from(free_port()));
        assert_ne!(a, b);
        assert!((first..first + span).contains(&a) && (first..first + span).contains(&b));
    }
}
