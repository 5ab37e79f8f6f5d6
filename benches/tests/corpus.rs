//! The committed corpus stays what the benches assume: well-formed messages that sip-parse
//! fully parses, and on which sip-parse and rsip agree wherever rsip can parse.

use benches::{FullParse, Sample, SipParse, corpus};

fn load() -> Vec<Sample> {
    corpus::load_dir(&corpus::default_dir()).expect("benches/corpus is readable")
}

#[test]
fn messages_are_crlf_and_sized_like_real_traffic() {
    let samples = load();
    assert!(samples.len() >= 11, "corpus shrank to {}", samples.len());
    for s in &samples {
        assert!(
            (400..=1500).contains(&s.bytes.len()),
            "{}: {} bytes",
            s.name,
            s.bytes.len()
        );
        let bare_lf = s
            .bytes
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\n' && (i == 0 || s.bytes[i - 1] != b'\r'));
        assert!(!bare_lf, "{}: LF without CR", s.name);
    }
}

#[test]
fn sip_parse_fully_parses_every_message_and_validates_it() {
    for s in &load() {
        let msg = SipParse::parse(&s.bytes).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        SipParse::extract(&msg, |_| ()).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        msg.validate().unwrap_or_else(|e| panic!("{}: {e}", s.name));
    }
}

#[test]
fn parsers_agree_on_every_message_rsip_parses() {
    let samples = load();
    let comparison = corpus::compare(&samples).unwrap_or_else(|m| panic!("{m}"));
    let excluded: Vec<&str> = comparison
        .excluded
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    // rsip 0.4 rejects quoted Contact parameters, Contact lists and compact header names.
    assert_eq!(
        excluded,
        [
            "01-register-auth.sip",
            "03-200-register-contacts.sip",
            "11-compact-folded.sip"
        ]
    );
}

/// Sofia-SIP parses the whole corpus, compact names and folded lines included, to the fields
/// sip-parse extracts, so its rows time the same work.
#[cfg(feature = "sofia")]
#[test]
fn sofia_sip_agrees_on_every_message() {
    let samples = load();
    let comparison =
        corpus::compare_with::<benches::Sofia>(&samples).unwrap_or_else(|m| panic!("{m}"));
    let excluded: Vec<_> = comparison.excluded.iter().map(|e| &e.reason).collect();
    assert!(excluded.is_empty(), "{excluded:?}");
    assert_eq!(comparison.included.len(), samples.len());
}

/// A message Sofia-SIP refuses is a failure, not a crash, and a message without the headers a
/// full parse reads says which one is missing.
#[cfg(feature = "sofia")]
#[test]
fn sofia_sip_refusals_are_reported() {
    use benches::{Failure, Sofia};
    use bytes::Bytes;
    assert!(Sofia::parse(&Bytes::new()).is_err());
    let no_call_id = Bytes::from_static(
        b"OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
          From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCSeq: 1 OPTIONS\r\n\
          Content-Length: 0\r\n\r\n",
    );
    match Sofia::full(&no_call_id, |_| ()) {
        Err(Failure::Missing(header)) => assert_eq!(header, "Call-ID"),
        other => panic!("{other:?}"),
    }
}
