//! The READMEs stay true: every relative link resolves inside the repository, and the top
//! README lists every `rtc login` command the tool's `help` knows.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The Markdown files that describe the repository: the top README, every crate's, and
/// `interop/`'s.
fn readmes() -> Vec<PathBuf> {
    let root = root();
    let mut files = vec![
        root.join("README.md"),
        root.join("interop/README.md"),
        root.join("benches/README.md"),
    ];
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let readme = entry.unwrap().path().join("README.md");
        if readme.exists() {
            files.push(readme);
        }
    }
    files.retain(|f| f.exists());
    files
}

/// The targets of `[text](target)` links outside fenced code.
fn links(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn relative_links_resolve_inside_the_repository() {
    let root = root();
    let mut broken = Vec::new();
    for file in readmes() {
        let text = std::fs::read_to_string(&file).unwrap();
        for target in links(&text) {
            let path = target.split('#').next().unwrap_or_default();
            if path.is_empty() || path.contains("://") || path.starts_with("mailto:") {
                continue;
            }
            let resolved = file.parent().unwrap().join(path).canonicalize();
            match resolved {
                Ok(p) if p.starts_with(&root) => {}
                _ => broken.push(format!("{}: {target}", file.display())),
            }
        }
        // A path that leaves the repository is no help to a reader of a clone either.
        if text.contains("../shared") {
            broken.push(format!("{}: mentions ../shared", file.display()));
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_lists_every_rtc_login_command() {
    let source =
        std::fs::read_to_string(root().join("crates/rtc-client/src/bin/rtc/login.rs")).unwrap();
    let help = source
        .split_once("const HELP: &[&str] = &[")
        .and_then(|(_, rest)| rest.split_once("];"))
        .map(|(help, _)| help)
        .expect("login.rs holds the HELP list");
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut missing = Vec::new();
    for line in help.lines().filter_map(|l| l.trim().strip_prefix('"')) {
        // "status STATUS [NOTE…]   set …", "buddies | watchers …": each verb of the usage.
        let line = line.trim_end_matches(',').trim_end_matches('"');
        let usage = line.split("  ").next().unwrap_or_default();
        for verb in usage
            .split(" | ")
            .filter_map(|u| u.split_whitespace().next())
        {
            if !readme.contains(&format!("`{verb}")) {
                missing.push(verb.to_owned());
            }
        }
    }
    assert!(missing.is_empty(), "README.md does not list: {missing:?}");
}

#[test]
fn cargo_rtc_shows_build_progress() {
    // A newcomer's first `cargo rtc demo` compiles for minutes: cargo must say so.
    let config = std::fs::read_to_string(root().join(".cargo/config.toml")).unwrap();
    let alias = config
        .lines()
        .find(|l| l.trim_start().starts_with("rtc ="))
        .expect("the rtc alias");
    assert!(
        !alias.contains("--quiet") && !alias.contains(" -q "),
        "{alias}"
    );
}
