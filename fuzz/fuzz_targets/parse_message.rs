//! Datagram parsing: no panic, the message is a prefix of the input, the body matches
//! Content-Length, every typed view and `validate` answer, a [`TopVia`] views as the top Via, and
//! a stamped copy is the parse of its bytes.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sip_parse::{HeaderName, Message, TopVia, Uri};

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::parse(Bytes::copy_from_slice(data)) else { return };
    assert!(data.starts_with(m.as_bytes()));
    if let Some(Ok(cl)) = m.content_length() {
        assert_eq!(m.body().len(), cl);
    }
    let _ = m.validate();
    let _ = (m.top_via(), m.from_header(), m.to_header(), m.call_id(), m.cseq());
    // The top Via read once and carried across layers views as the message's own.
    match TopVia::read(&m) {
        Ok(top) => assert_eq!(top.view(&m), m.top_via().ok()),
        Err(e) => assert_eq!(m.top_via().err(), Some(e)),
    }
    // A stamped copy keeps the split and is the parse of its bytes.
    sip_parse::fuzzing::stamp_is_the_parse(&m);
    if let Ok(via) = m.top_via() {
        let _ = via.received_ip();
    }
    let _ = (m.vias().count(), m.contacts().count(), m.routes().count(), m.record_routes().count());
    let _ = (m.expires(), m.min_expires(), m.max_forwards(), m.content_type(), m.accept().count());
    let _ = (m.event(), m.subscription_state(), m.sip_etag(), m.sip_if_match(), m.retry_after());
    let _ = (m.www_authenticate().count(), m.proxy_authenticate().count(), m.authorization().count());
    for name in [HeaderName::Allow, HeaderName::Supported, HeaderName::Require, HeaderName::AllowEvents] {
        let _ = m.tokens(name).count();
    }
    for c in m.contacts().flatten() {
        if let Some(a) = c.address() {
            let _ = a.uri();
        }
    }
    if let Some(u) = m.request_uri() {
        let _ = Uri::parse(u);
    }
});
