//! Fuzz RFC 4662 list notifications. The input is a Content-Type line, then the body.
//! `Multipart::parse` never panics, places errors inside the body, keeps part bodies inside
//! it and round-trips through `to_bytes`; `Rlmi::parse` round-trips through `to_xml`;
//! `ListState::apply` never reports more resources than the notification lists (plus those
//! it removes), and applying the same notification again is stale.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use presence::Error;
use presence::eventlist::{ListNotify, ListState};
use presence::multipart::Multipart;
use presence::rlmi::Rlmi;
use presence::winfo::Applied;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let content_type = String::from_utf8_lossy(&data[..split]).into_owned();
    let body = Bytes::copy_from_slice(data.get(split + 1..).unwrap_or(&[]));
    match Multipart::parse(&content_type, body.clone()) {
        Ok(m) => {
            let total: usize = m.parts.iter().map(|p| p.body.len()).sum();
            assert!(total <= body.len());
            let again = Multipart::parse(&m.content_type(), m.to_bytes())
                .expect("written multipart must parse");
            assert_eq!(again, m);
            if let Some(root) = m.root()
                && let Ok(rlmi) = Rlmi::parse(&root.body)
            {
                let xml = rlmi.to_xml();
                assert_eq!(
                    Rlmi::parse(xml.as_bytes()).expect("written RLMI must parse"),
                    rlmi
                );
            }
        }
        Err(Error::Multipart { at, .. }) => assert!(at <= body.len()),
        Err(_) => {}
    }
    if let Ok(notify) = ListNotify::parse(&content_type, body) {
        let mut state = ListState::default();
        match state.apply(&notify) {
            Ok(update) => {
                assert!(update.resources.len() <= notify.rlmi.resources.len());
                assert!(state.len() <= notify.rlmi.resources.len());
                let again = state.apply(&notify).expect("a repeated version is stale");
                assert_eq!(again.applied, Applied::Stale);
            }
            Err(Error::ListOutOfOrder { last: None, .. }) => assert!(!notify.rlmi.full_state),
            Err(e) => panic!("applying to an empty state: {e}"),
        }
    }
});
