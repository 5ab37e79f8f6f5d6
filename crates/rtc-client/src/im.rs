//! Instant messages (RFC 3428) and composing indications (RFC 3994).

use quick_xml::Reader;
use quick_xml::events::Event as Xml;

/// The Content-Type of a composing indication (RFC 3994 §7).
pub(crate) const COMPOSING_TYPE: &str = "application/im-iscomposing+xml";

/// How often an active indication is refreshed, and so how long the receiver trusts it
/// (RFC 3994 §3.2: default 120 s when absent; we announce 90 s).
pub(crate) const COMPOSING_REFRESH: u32 = 90;

/// Largest composing document read; real ones are a few hundred bytes.
const MAX_COMPOSING: usize = 4096;

/// A composing indication (RFC 3994 §4), `active` or `idle`.
pub(crate) fn composing_document(active: bool) -> String {
    let state = if active { "active" } else { "idle" };
    let refresh = if active {
        format!("<refresh>{COMPOSING_REFRESH}</refresh>")
    } else {
        String::new()
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\">\
         <state>{state}</state><contenttype>text/plain</contenttype>{refresh}</isComposing>"
    )
}

/// The state of a composing indication: `Some(true)` active, `Some(false)` idle, `None` for a
/// document that is not one (too large, malformed, with a DTD, or without a state).
pub(crate) fn parse_composing(body: &[u8]) -> Option<bool> {
    if body.len() > MAX_COMPOSING {
        return None;
    }
    let mut reader = Reader::from_reader(body);
    let mut in_state = false;
    let mut depth = 0usize;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Xml::DocType(_) => return None,
            Xml::Start(e) => {
                depth += 1;
                if depth > 8 {
                    return None;
                }
                let name = e.local_name();
                in_state = depth == 2 && AsRef::<str>::as_ref(&name) == "state";
            }
            Xml::End(_) => {
                depth = depth.saturating_sub(1);
                in_state = false;
            }
            Xml::Text(t) if in_state => {
                let text: &str = t.as_ref();
                return match text.trim() {
                    "active" => Some(true),
                    "idle" => Some(false),
                    _ => None,
                };
            }
            Xml::Eof => return None,
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composing_round_trip() {
        assert_eq!(
            parse_composing(composing_document(true).as_bytes()),
            Some(true)
        );
        assert_eq!(
            parse_composing(composing_document(false).as_bytes()),
            Some(false)
        );
    }

    #[test]
    fn rfc3994_example_and_hostile_documents() {
        let example = br#"<?xml version="1.0" encoding="UTF-8"?>
   <isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:schemaLocation="urn:ietf:params:xml:ns:im-composing iscomposing.xsd">
     <state>active</state>
     <contenttype>text/html</contenttype>
     <refresh>90</refresh>
   </isComposing>"#;
        assert_eq!(parse_composing(example), Some(true));
        let dtd =
            br#"<!DOCTYPE x [<!ENTITY a "active">]><isComposing><state>&a;</state></isComposing>"#;
        assert_eq!(parse_composing(dtd), None);
        assert_eq!(parse_composing(&vec![b' '; MAX_COMPOSING + 1]), None);
        assert_eq!(
            parse_composing(b"<isComposing><state>maybe</state></isComposing>"),
            None
        );
        assert_eq!(parse_composing(b"\xff\xfe<"), None);
    }
}
