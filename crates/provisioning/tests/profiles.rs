//! The fixture profiles: every valid one loads and round-trips; every invalid one breaks
//! exactly one rule and fails with that rule's error at the expected line:column.
//!
//! Each invalid fixture starts with `<!-- expect: Variant LINE:COL -->`.

use std::fs;
use std::path::{Path, PathBuf};

use provisioning::{Error, Position, Profile};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/profiles")
        .join(kind);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    files
}

fn variant_name(error: &Error) -> String {
    let debug = format!("{error:?}");
    debug
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn valid_profiles_load_and_round_trip() {
    let files = fixtures("valid");
    assert!(files.len() >= 12, "only {} valid fixtures", files.len());
    for path in files {
        let bytes = fs::read(&path).expect("read fixture");
        let profile = match provisioning::parse_bytes(&bytes) {
            Ok(p) => p,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        let again = Profile::from_xml(&profile.to_xml())
            .unwrap_or_else(|e| panic!("{}: reparse: {e}\n{}", path.display(), profile.to_xml()));
        assert_eq!(again, profile, "{}", path.display());
        // Serialization is canonical: a second round gives the same text.
        assert_eq!(again.to_xml(), profile.to_xml(), "{}", path.display());
    }
}

#[test]
fn invalid_profiles_fail_with_their_error() {
    let files = fixtures("invalid");
    assert!(files.len() >= 24, "only {} invalid fixtures", files.len());
    let mut failures = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path).expect("read fixture");
        let first = text.lines().next().unwrap_or_default();
        let expect = first
            .strip_prefix("<!-- expect: ")
            .and_then(|r| r.strip_suffix(" -->"))
            .unwrap_or_else(|| panic!("{}: no expect line", path.display()));
        let (variant, at) = expect.split_once(' ').expect("Variant LINE:COL");
        let err = match Profile::from_xml(&text) {
            Ok(_) => panic!("{}: parsed, expected {variant}", path.display()),
            Err(e) => e,
        };
        let actual = format!("{} {}", variant_name(&err), err.position());
        if actual != format!("{variant} {at}") {
            failures.push(format!(
                "{}: expected {expect}, got {actual} ({err})",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn load(name: &str) -> Profile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/profiles/valid")
        .join(name);
    let bytes = fs::read(&path).expect("read fixture");
    provisioning::parse_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn microsoft_sample_quirks_are_accepted() {
    use provisioning::{Role, Transport};
    let p = load("microsoft-sample.xml");
    assert_eq!(p.user.uri.to_string(), "sip:someone@example.com");
    assert_eq!(p.servers[0].protocol, Transport::Tls);
    assert_eq!(p.servers[1].protocol, Transport::Udp);
    assert_eq!(p.registrar().map(|s| s.role), Some(Role::Registrar));
    assert_eq!(
        p.user.password.as_ref().map(|p| p.expose()),
        Some("password")
    );
}

#[test]
fn accesscontrol_is_modelled() {
    let p = load("windows-ce-accesscontrol.xml");
    let ac = p.access_control.expect("accesscontrol");
    assert_eq!(ac.domain, "example.com");
    assert!(ac.sig.starts_with("MCwC"));
}

#[test]
fn data_is_kept_byte_for_byte() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/profiles/valid/data-verbatim.xml");
    let text = fs::read_to_string(path).expect("read fixture");
    let p = Profile::from_xml(&text).expect("valid");
    let data = p
        .client
        .as_ref()
        .and_then(|c| c.data.as_ref())
        .expect("data");
    let start = text.find("<data ").expect("data start") + "<data ".len() - 1;
    let open_end = text[start..].find('>').expect("tag end") + start;
    let end = text.find("</data>").expect("data end");
    assert_eq!(data.attributes(), &text[start..open_end]);
    assert_eq!(data.content(), &text[open_end + 1..end]);
    // And again after a round trip.
    let again = Profile::from_xml(&p.to_xml()).expect("round trip");
    assert_eq!(again.client.and_then(|c| c.data), Some(data.clone()));
    assert_eq!(
        p.provider
            .and_then(|pr| pr.data)
            .map(|d| d.content().to_owned()),
        Some(String::new())
    );
}

#[test]
fn password_never_in_debug_or_errors() {
    let p = load("full.xml");
    assert_eq!(
        p.user.password.as_ref().map(|p| p.expose()),
        Some("p&ss\"word")
    );
    let debug = format!("{p:?}");
    assert!(!debug.contains("p&ss"), "{debug}");
    // A bad reference inside a password is reported without echoing it.
    let xml = "<provision key='k' name='n'><user uri='sip:a@b' password='x&hunter2;'/>\
               <sipsrv addr='b' protocol='UDP' role='proxy'/></provision>";
    let err = Profile::from_xml(xml).expect_err("undefined entity");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
}

#[test]
fn expiry_uses_the_callers_clock() {
    use std::time::{Duration, UNIX_EPOCH};
    let p = load("expires-with-offset.xml");
    // 2030-06-15T08:30:00.25-07:00 is 2030-06-15T15:30:00.25Z = 1907767800.25
    let just_before = UNIX_EPOCH + Duration::from_millis(1_907_767_800_249);
    let at = UNIX_EPOCH + Duration::from_millis(1_907_767_800_250);
    assert!(p.check_expiry(just_before).is_ok());
    assert!(!p.is_expired(just_before));
    let err = p.check_expiry(at).expect_err("expired");
    assert_eq!(
        err.to_string(),
        "profile expired at 2030-06-15T08:30:00.25-07:00"
    );
    assert!(
        load("minimal.xml")
            .check_expiry(UNIX_EPOCH + Duration::from_secs(u32::MAX as u64))
            .is_ok()
    );
}

#[test]
fn limits_are_enforced() {
    use provisioning::Limits;
    let small = Limits {
        max_size: 64,
        max_depth: 32,
    };
    let text = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/profiles/valid/minimal.xml"),
    )
    .expect("read");
    let err = provisioning::parse_with_limits(&text, &small).expect_err("too large");
    assert!(matches!(err, Error::TooLarge { limit: 64, .. }), "{err:?}");
    assert_eq!(
        err.position(),
        Position {
            line: 1,
            column: 65
        }
    );

    let deep = format!(
        "<provision key='k' name='n'><user uri='sip:a@b'/><sipsrv addr='b' protocol='UDP' role='proxy'/>\
         <client name='c'><data>{}{}</data></client></provision>",
        "<a>".repeat(40),
        "</a>".repeat(40)
    );
    let err = Profile::from_xml(&deep).expect_err("too deep");
    assert!(matches!(err, Error::TooDeep { limit: 32, .. }), "{err:?}");
}

#[test]
fn byte_input_errors_are_placed() {
    let err = provisioning::parse_bytes(b"<provision key='k'\n name='\xff'/>").expect_err("utf-8");
    assert!(matches!(err, Error::Xml { .. }), "{err:?}");
    assert_eq!(err.position(), Position { line: 2, column: 8 });
    let err = Profile::from_xml("<provision key='k'\u{1} name='n'/>").expect_err("control");
    assert_eq!(
        err.position(),
        Position {
            line: 1,
            column: 19
        }
    );
}

#[test]
#[allow(
    clippy::disallowed_methods,
    reason = "a test may time itself; the library may not"
)]
fn large_inputs_stay_linear() {
    use std::time::Instant;
    // Many servers, many attributes inside open content, many references: all near the size
    // limit, each must parse (or fail) quickly. A quadratic step would take minutes here.
    let servers = "<sipsrv addr='p.example.com' protocol='UDP' role='proxy'/>".repeat(3000);
    let many_servers =
        format!("<provision key='k' name='n'><user uri='sip:a@b'/>{servers}</provision>");
    let attrs: String = (0..12_000).map(|i| format!(" a{i}='1'")).collect();
    let many_attrs = format!(
        "<provision key='k' name='n'><user uri='sip:a@b'/>\
         <sipsrv addr='b' protocol='UDP' role='proxy'/><client name='c'><data><x{attrs}/></data></client></provision>"
    );
    let refs = "&amp;".repeat(40_000);
    let many_refs = format!("<provision key='{refs}' name='n'><user uri='sip:a@b'/></provision>");
    let started = Instant::now();
    let p = Profile::from_xml(&many_servers).expect("many servers");
    assert_eq!(p.servers.len(), 3000);
    assert!(Profile::from_xml(&many_attrs).is_ok());
    assert!(matches!(
        Profile::from_xml(&many_refs),
        Err(Error::NoServer { .. })
    ));
    assert!(
        started.elapsed().as_secs() < 20,
        "took {:?}",
        started.elapsed()
    );
}
