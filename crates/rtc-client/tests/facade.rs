//! One crate is enough for an application (issue 16): the examples, the crate's README and its
//! front-page docs name no lower crate of the workspace, so everything they configure, read and
//! match comes from `rtc_client` (the crate docs' doc-tests compile it so).

use std::path::Path;

/// The workspace crates below `rtc-client`, as Rust paths name them.
const LOWER: [&str; 6] = [
    "sip_parse",
    "sip_transport",
    "sip_txn",
    "presence",
    "provisioning",
    "xcap",
];

/// `(line number, line)` of each line of `text` that names a lower crate in a Rust path
/// (`sip_transport::…`, `use presence::{…}`).
fn lower_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let names_lower = LOWER.iter().any(|krate| {
            line.match_indices(krate).any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let starts_path = !before.is_some_and(|c| c.is_alphanumeric() || c == '_');
                starts_path && line[at + krate.len()..].starts_with("::")
            })
        });
        if names_lower {
            found.push((n + 1, line.to_owned()));
        }
    }
    found
}

fn check(path: &Path, text: &str) {
    let found = lower_paths(text);
    assert!(
        found.is_empty(),
        "{} names lower crates; re-export what it needs from rtc_client: {found:#?}",
        path.display()
    );
}

#[test]
fn examples_use_only_rtc_client() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            check(&path, &std::fs::read_to_string(&path).unwrap());
            seen += 1;
        }
    }
    assert!(seen >= 2, "the examples are in {}", dir.display());
}

#[test]
fn readme_and_crate_docs_use_only_rtc_client() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = root.join("README.md");
    check(&readme, &std::fs::read_to_string(&readme).unwrap());
    let lib = root.join("src/lib.rs");
    let docs: String = std::fs::read_to_string(&lib)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("//!"))
        .map(|l| format!("{l}\n"))
        .collect();
    check(&lib, &docs);
}

#[test]
fn the_check_sees_lower_paths() {
    assert_eq!(lower_paths("use sip_transport::TlsConfig;").len(), 1);
    assert_eq!(
        lower_paths("let e = presence::Error::StoreLocked;").len(),
        1
    );
    assert!(lower_paths("use rtc_client::{PresenceError, Store};").is_empty());
    assert!(lower_paths("the `presence` crate, my_presence::x").is_empty());
}
