//! Fuzz `presence::PresenceData::from_xml` (the store format): never panics, every error is
//! placed inside the input, and every store that parses survives `to_xml` → `from_xml`
//! unchanged but for entries marked `persistent="false"`, which are read but never written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use presence::PresenceData;

fuzz_target!(|data: &[u8]| {
    match PresenceData::from_xml(data) {
        Ok(store) => {
            let xml = store.to_xml();
            let again =
                PresenceData::from_xml(xml.as_bytes()).expect("serialized store must parse");
            let mut persistent = store.clone();
            for b in store.buddies.iter().filter(|b| !b.persistent) {
                persistent.buddies.remove(&b.uri);
            }
            for w in store.watchers.iter().filter(|w| !w.persistent) {
                persistent.watchers.remove(&w.uri, w.scope);
            }
            assert_eq!(again, persistent, "round trip changed the store:\n{xml}");
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
