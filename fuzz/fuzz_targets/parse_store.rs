//! Fuzz `presence::PresenceData::from_xml` (the store format): never panics, every error is
//! placed inside the input, and every store that parses survives `to_xml` → `from_xml`
//! unchanged (all entries read from a file are persistent, so all are written back).
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence::PresenceData;

fuzz_target!(|data: &[u8]| {
    match PresenceData::from_xml(data) {
        Ok(store) => {
            let xml = store.to_xml();
            let again =
                PresenceData::from_xml(xml.as_bytes()).expect("serialized store must parse");
            assert_eq!(again, store, "round trip changed the store:\n{xml}");
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
