//! The `rls-vs-buddies` bench runs end to end against Kamailio at a small N: both modes learn
//! every buddy's state, and the list mode really used one list subscription (no fallback to
//! a subscription per buddy). No timing is asserted; the numbers are the bench's to print.

use std::process::Command;

#[test]
fn two_hundred_buddies_both_ways() {
    if !sip_transport::testkit::interop(&["kamailio"]) {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rls-vs-buddies"))
        .args(["200", "60"])
        .env("SETTLE_SECONDS", "0")
        .output()
        .expect("run rls-vs-buddies");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rls-vs-buddies failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in:\n{stdout}"))
            .trim()
            .to_owned()
    };
    // Pending resources of the list are reported offline, one Buddy event each.
    assert!(
        line("rls.known_by presence ").starts_with("200 "),
        "{stdout}"
    );
    // Every per-buddy subscription is held pending (no pres-rules) and said so.
    let per_buddy = line("per-buddy.known_by presence ");
    assert!(per_buddy.contains("subscription_state 200"), "{stdout}");
    // Kamailio logs each authenticated client SUBSCRIBE: the list and alice's own winfo.
    let rls: usize = line("rls.kamailio_logged_client_subscribes ")
        .parse()
        .unwrap();
    assert!(rls <= 3, "the list mode fell back to per-buddy:\n{stdout}");
    let each: usize = line("per-buddy.kamailio_logged_client_subscribes ")
        .parse()
        .unwrap();
    assert!(each >= 200, "{stdout}");
}
