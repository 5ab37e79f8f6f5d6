//! Fuzz `presence::xpidf::Xpidf::parse`: never panics, every error is placed inside the
//! input, and every document that parses survives `to_xml` → `parse` unchanged, with the
//! same status.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence::xpidf::Xpidf;

fuzz_target!(|data: &[u8]| {
    match Xpidf::parse(data) {
        Ok(doc) => {
            let xml = doc.to_xml();
            let again = Xpidf::parse(xml.as_bytes()).expect("serialized XPIDF must parse");
            assert_eq!(again, doc, "round trip changed the document:\n{xml}");
            assert_eq!(again.status(), doc.status());
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
