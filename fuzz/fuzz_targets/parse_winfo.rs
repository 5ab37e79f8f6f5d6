//! Fuzz `presence::WatcherInfo::parse` and `WatcherInfoState::apply`: never panics, errors
//! are placed inside the input, parse → `to_xml` → parse is the identity, and applying a
//! document never leaves more watchers than the documents applied carried.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence::winfo::{Applied, DocState, WatcherInfo, WatcherInfoState};

fuzz_target!(|data: &[u8]| {
    match WatcherInfo::parse(data) {
        Ok(doc) => {
            let xml = doc.to_xml();
            let again =
                WatcherInfo::parse(xml.as_bytes()).expect("serialized watcherinfo must parse");
            assert_eq!(again, doc, "round trip changed the document:\n{xml}");
            let carried: usize = doc.lists.iter().map(|l| l.watchers.len()).sum();
            let mut state = WatcherInfoState::default();
            match state.apply(doc.clone()) {
                Ok(Applied::Full) => assert_eq!(doc.state, DocState::Full),
                Ok(other) => panic!("first document applied as {other:?}"),
                Err(_) => assert_eq!(doc.state, DocState::Partial),
            }
            assert!(state.watchers().count() <= carried);
            assert_eq!(
                state.apply(doc).ok(),
                state.version().map(|_| Applied::Stale)
            );
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
