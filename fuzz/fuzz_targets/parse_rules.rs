//! Fuzz `presence::rules::Ruleset::parse`: never panics, errors are placed inside the input,
//! parse → `to_xml` → parse is the identity, editing a watcher keeps the document writable
//! and readable, and merging a document with itself changes nothing and has no conflict.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence::rules::{Ruleset, SubHandling};

fuzz_target!(|data: &[u8]| {
    match Ruleset::parse(data) {
        Ok(doc) => {
            let xml = doc.to_xml();
            let again = Ruleset::parse(xml.as_bytes()).expect("serialized ruleset must parse");
            assert_eq!(again, doc, "round trip changed the document:\n{xml}");
            let merged = Ruleset::merge(&doc, &doc, &doc);
            assert!(merged.conflicts.is_empty(), "{:?}", merged.conflicts);
            let mut edited = doc.clone();
            let uri = "sip:fuzz@example.com";
            edited
                .set_watcher(uri, Some(SubHandling::PoliteBlock))
                .unwrap();
            assert_eq!(
                edited.evaluate(uri),
                Some(SubHandling::PoliteBlock).max(doc_other(&edited, uri))
            );
            let xml = edited.to_xml();
            assert_eq!(
                Ruleset::parse(xml.as_bytes()).expect("edited ruleset must parse"),
                edited
            );
            let both = Ruleset::merge(&doc, &edited, &doc);
            assert_eq!(both.ruleset, edited);
        }
        Err(e) => {
            let at = e.position().unwrap_or_else(|| panic!("no position: {e}"));
            let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
            assert!(
                at.line >= 1 && at.column >= 1 && at.line as usize <= lines,
                "{e}"
            );
        }
    }
});

/// What rules other than the watcher's own say about it (foreign `<many>` rules may still
/// match it; RFC 4745 takes the greatest value).
fn doc_other(rules: &Ruleset, uri: &str) -> Option<SubHandling> {
    let mut others = rules.clone();
    others.set_watcher(uri, None).unwrap();
    others.evaluate(uri)
}
