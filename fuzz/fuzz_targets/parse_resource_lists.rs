//! Fuzz `presence::resource_lists`: `ResourceLists::parse` and `RlsServices::parse` never
//! panic, place their errors inside the input and round-trip through `to_xml`; a buddy list
//! read from a document writes a document that reads back as the same buddy list.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence::resource_lists::{ResourceLists, RlsServices};

fuzz_target!(|data: &[u8]| {
    match ResourceLists::parse(data) {
        Ok(doc) => {
            let xml = doc.to_xml();
            let again = ResourceLists::parse(xml.as_bytes()).expect("serialized lists must parse");
            assert_eq!(again, doc, "round trip changed the document:\n{xml}");
            if let Ok(buddies) = doc.to_buddies() {
                let written = ResourceLists::from_buddies(&buddies).to_xml();
                let read = ResourceLists::parse(written.as_bytes())
                    .expect("lists from buddies must parse")
                    .to_buddies()
                    .expect("buddies written must read back");
                assert_eq!(read, buddies, "{written}");
            }
        }
        Err(e) => check_position(data, &e),
    }
    match RlsServices::parse(data) {
        Ok(doc) => {
            let xml = doc.to_xml();
            let again = RlsServices::parse(xml.as_bytes()).expect("serialized services must parse");
            assert_eq!(again, doc, "round trip changed the document:\n{xml}");
        }
        Err(e) => check_position(data, &e),
    }
});

fn check_position(data: &[u8], e: &presence::Error) {
    let at = e.position().unwrap_or_else(|| panic!("no position: {e}"));
    let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
    assert!(
        at.line >= 1 && at.column >= 1 && at.line as usize <= lines,
        "{e}"
    );
}
