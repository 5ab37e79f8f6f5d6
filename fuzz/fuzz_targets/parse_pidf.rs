//! Fuzz `presence::pidf::Presence::parse`: never panics, every error is placed inside the
//! input, every document that parses survives `to_xml` → `parse` unchanged, and the status
//! and note read from it are those of the re-read document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence::pidf::Presence;

fuzz_target!(|data: &[u8]| {
    match Presence::parse(data) {
        Ok(doc) => {
            let xml = doc.to_xml();
            let again = Presence::parse(xml.as_bytes()).expect("serialized PIDF must parse");
            assert_eq!(again, doc, "round trip changed the document:\n{xml}");
            assert_eq!(again.status(), doc.status());
            assert_eq!(again.note(), doc.note());
        }
        Err(e) => check_position(data, &e),
    }
});

fn check_position(data: &[u8], e: &presence::Error) {
    let at = e.position().unwrap_or_else(|| panic!("no position: {e}"));
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    assert!(at.line >= 1 && at.column >= 1, "{e}");
    assert!(at.line as usize <= lines, "{e} beyond {lines} lines");
}
