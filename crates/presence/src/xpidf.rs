//! XPIDF (`application/xpidf+xml`): the pre-PIDF presence format RTC and Windows Messenger
//! clients exchange peer to peer.
//!
//! ```text
//! <?xml version="1.0"?>
//! <!DOCTYPE presence PUBLIC "-//IETF//DTD RFCxxxx XPIDF 1.0//EN" "xpidf.dtd">
//! <presence>
//!   <presentity uri="sip:alice@example.com;method=SUBSCRIBE"/>
//!   <atom id="1000">
//!     <address uri="sip:alice@example.com" priority="0.800000">
//!       <status status="inactive"/>
//!       <msnsubstatus substatus="berightback"/>
//!     </address>
//!   </atom>
//! </presence>
//! ```
//!
//! The format has no namespace; its documents carry a DOCTYPE naming an external DTD, which
//! is accepted (and never fetched) as long as it has no internal subset, so nothing can be
//! declared. An optional `<note>` in an `address` carries a note (some peers send one).
//!
//! ```
//! use presence::xpidf::Xpidf;
//! use presence::Status;
//! let doc = Xpidf::for_status("sip:alice@example.com", Status::OnThePhone, None);
//! let back = Xpidf::parse(doc.to_xml().as_bytes())?;
//! assert_eq!(back, doc);
//! assert_eq!(back.status(), Status::OnThePhone);
//! # Ok::<(), presence::Error>(())
//! ```

use crate::error::Result;
use crate::status::Status;
use crate::xml::{self, DoctypePolicy, Document, Element, XmlLimits};

/// The XPIDF media type.
pub const CONTENT_TYPE: &str = "application/xpidf+xml";

/// An XPIDF document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Xpidf {
    /// `presentity uri`: who this is about (RTC clients append `;method=SUBSCRIBE`).
    pub presentity: String,
    /// The atoms, in document order.
    pub atoms: Vec<Atom>,
}

/// An `atom`: one group of addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Atom {
    /// The atom's `id`.
    pub id: String,
    /// Its addresses.
    pub addresses: Vec<Address>,
}

/// An `address` with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// `uri`.
    pub uri: String,
    /// `priority`, as written (clients write `0.800000`, some `0,800000`).
    pub priority: Option<String>,
    /// `status status`.
    pub status: XpidfStatus,
    /// `msnsubstatus substatus`, when given and known.
    pub substatus: Option<Substatus>,
    /// `note`, if any.
    pub note: Option<String>,
}

/// The `status` attribute of an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XpidfStatus {
    /// `open`.
    Open,
    /// `closed`.
    Closed,
    /// `inuse`.
    InUse,
    /// `inactive`.
    Inactive,
}

impl XpidfStatus {
    /// The attribute value.
    pub const fn as_str(self) -> &'static str {
        match self {
            XpidfStatus::Open => "open",
            XpidfStatus::Closed => "closed",
            XpidfStatus::InUse => "inuse",
            XpidfStatus::Inactive => "inactive",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            XpidfStatus::Open,
            XpidfStatus::Closed,
            XpidfStatus::InUse,
            XpidfStatus::Inactive,
        ]
        .into_iter()
        .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// The `substatus` attribute of `msnsubstatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Substatus {
    /// `online`.
    Online,
    /// `away`.
    Away,
    /// `idle`.
    Idle,
    /// `busy`.
    Busy,
    /// `berightback`.
    BeRightBack,
    /// `onthephone`.
    OnThePhone,
    /// `outtolunch`.
    OutToLunch,
}

impl Substatus {
    const ALL: [Substatus; 7] = [
        Substatus::Online,
        Substatus::Away,
        Substatus::Idle,
        Substatus::Busy,
        Substatus::BeRightBack,
        Substatus::OnThePhone,
        Substatus::OutToLunch,
    ];

    /// The attribute value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Substatus::Online => "online",
            Substatus::Away => "away",
            Substatus::Idle => "idle",
            Substatus::Busy => "busy",
            Substatus::BeRightBack => "berightback",
            Substatus::OnThePhone => "onthephone",
            Substatus::OutToLunch => "outtolunch",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Substatus::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }

    /// The status this substatus says.
    pub const fn status(self) -> Status {
        match self {
            Substatus::Online => Status::Online,
            Substatus::Away => Status::Away,
            Substatus::Idle => Status::Idle,
            Substatus::Busy => Status::Busy,
            Substatus::BeRightBack => Status::BeRightBack,
            Substatus::OnThePhone => Status::OnThePhone,
            Substatus::OutToLunch => Status::OutToLunch,
        }
    }
}

impl Status {
    /// The XPIDF `status` and `msnsubstatus` for this status (table on [`Status`]).
    pub const fn to_xpidf(self) -> (XpidfStatus, Option<Substatus>) {
        match self {
            Status::Offline => (XpidfStatus::Closed, None),
            Status::Online => (XpidfStatus::Open, Some(Substatus::Online)),
            Status::Away => (XpidfStatus::Inactive, Some(Substatus::Away)),
            Status::Idle => (XpidfStatus::Inactive, Some(Substatus::Idle)),
            Status::Busy => (XpidfStatus::InUse, Some(Substatus::Busy)),
            Status::BeRightBack => (XpidfStatus::Inactive, Some(Substatus::BeRightBack)),
            Status::OnThePhone => (XpidfStatus::InUse, Some(Substatus::OnThePhone)),
            Status::OutToLunch => (XpidfStatus::Inactive, Some(Substatus::OutToLunch)),
        }
    }

    /// The status an XPIDF address says (table on [`Status`]).
    pub const fn from_xpidf(status: XpidfStatus, substatus: Option<Substatus>) -> Status {
        match (status, substatus) {
            (XpidfStatus::Closed, _) => Status::Offline,
            (_, Some(sub)) => sub.status(),
            (XpidfStatus::Open, None) => Status::Online,
            (XpidfStatus::InUse, None) => Status::Busy,
            (XpidfStatus::Inactive, None) => Status::Away,
        }
    }
}

impl Xpidf {
    /// The document RTC clients send for `status`: one atom, one address `entity` with
    /// priority `0.800000`.
    pub fn for_status(entity: &str, status: Status, note: Option<&str>) -> Xpidf {
        let (xstatus, substatus) = status.to_xpidf();
        Xpidf {
            presentity: format!("{entity};method=SUBSCRIBE"),
            atoms: vec![Atom {
                id: "1000".to_owned(),
                addresses: vec![Address {
                    uri: entity.to_owned(),
                    priority: Some("0.800000".to_owned()),
                    status: xstatus,
                    substatus,
                    note: note.filter(|n| !n.is_empty()).map(str::to_owned),
                }],
            }],
        }
    }

    /// Parses an XPIDF document with the default [`XmlLimits`].
    pub fn parse(body: &[u8]) -> Result<Xpidf> {
        Xpidf::parse_with_limits(body, &XmlLimits::default())
    }

    /// Parses an XPIDF document with explicit limits.
    pub fn parse_with_limits(body: &[u8], limits: &XmlLimits) -> Result<Xpidf> {
        let doc = Document::parse(body, limits, DoctypePolicy::ExternalIdOnly)?;
        doc.expect_root("", "presence")?;
        let root = &doc.root;
        let presentity = root
            .child("", "presentity")
            .ok_or_else(|| doc.missing(root, "presence", "<presentity> element"))?;
        let presentity = doc
            .required_attr(presentity, "presentity", "uri", "uri attribute")?
            .value
            .to_string();
        let mut atoms = Vec::new();
        for atom in root.children_named("", "atom") {
            let id = doc
                .required_attr(atom, "atom", "id", "id attribute")?
                .value
                .to_string();
            let addresses = atom
                .children_named("", "address")
                .map(|a| address(&doc, a))
                .collect::<Result<_>>()?;
            atoms.push(Atom { id, addresses });
        }
        Ok(Xpidf { presentity, atoms })
    }

    /// Writes the document, DOCTYPE included as RTC clients write it; [`Xpidf::parse`] gives
    /// back an equal value.
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(384);
        out.push_str(
            "<?xml version=\"1.0\"?>\n\
             <!DOCTYPE presence PUBLIC \"-//IETF//DTD RFCxxxx XPIDF 1.0//EN\" \"xpidf.dtd\">\n\
             <presence>\n<presentity",
        );
        xml::push_attribute(&mut out, "uri", &self.presentity);
        out.push_str("/>\n");
        for atom in &self.atoms {
            out.push_str("<atom");
            xml::push_attribute(&mut out, "id", &atom.id);
            out.push_str(">\n");
            for a in &atom.addresses {
                out.push_str("<address");
                xml::push_attribute(&mut out, "uri", &a.uri);
                if let Some(p) = &a.priority {
                    xml::push_attribute(&mut out, "priority", p);
                }
                out.push_str(">\n<status");
                xml::push_attribute(&mut out, "status", a.status.as_str());
                out.push_str("/>\n");
                if let Some(sub) = a.substatus {
                    out.push_str("<msnsubstatus");
                    xml::push_attribute(&mut out, "substatus", sub.as_str());
                    out.push_str("/>\n");
                }
                if let Some(note) = &a.note {
                    xml::push_text_element(&mut out, "note", note);
                    out.push('\n');
                }
                out.push_str("</address>\n");
            }
            out.push_str("</atom>\n");
        }
        out.push_str("</presence>\n");
        out
    }

    /// The presentity URI without the `method` parameter RTC clients add.
    ///
    /// ```
    /// let doc = presence::xpidf::Xpidf::for_status("sip:a@example.com", presence::Status::Online, None);
    /// assert_eq!(doc.presentity, "sip:a@example.com;method=SUBSCRIBE");
    /// assert_eq!(doc.entity(), "sip:a@example.com");
    /// ```
    pub fn entity(&self) -> String {
        let mut parts = self.presentity.split(';');
        let mut out = parts.next().unwrap_or("").to_owned();
        for p in parts.filter(|p| {
            !p.get(..7)
                .is_some_and(|m| m.eq_ignore_ascii_case("method="))
        }) {
            out.push(';');
            out.push_str(p);
        }
        out
    }

    /// The presentity's status: that of the highest-priority address that is not closed
    /// (first wins on ties, unparsable priorities count as 0), offline when all are closed.
    pub fn status(&self) -> Status {
        self.best_open().map_or(Status::Offline, |a| {
            Status::from_xpidf(a.status, a.substatus)
        })
    }

    /// The note of the address [`Xpidf::status`] reads, else the first note of any address
    /// (an offline presentity may still leave a note); empty notes count as none.
    pub fn note(&self) -> Option<&str> {
        self.best_open().and_then(nonempty_note).or_else(|| {
            self.atoms
                .iter()
                .flat_map(|atom| &atom.addresses)
                .find_map(nonempty_note)
        })
    }

    fn best_open(&self) -> Option<&Address> {
        let mut best: Option<(&Address, f64)> = None;
        for a in self.atoms.iter().flat_map(|atom| &atom.addresses) {
            if a.status == XpidfStatus::Closed {
                continue;
            }
            let p = priority(a.priority.as_deref());
            if best.is_none_or(|(_, bp)| p > bp) {
                best = Some((a, p));
            }
        }
        best.map(|(a, _)| a)
    }
}

fn nonempty_note(a: &Address) -> Option<&str> {
    a.note.as_deref().filter(|n| !n.is_empty())
}

/// A priority as a number; `0,8` (decimal comma, as some servers write) reads as 0.8.
fn priority(p: Option<&str>) -> f64 {
    p.map(|p| p.trim().replace(',', "."))
        .and_then(|p| p.parse::<f64>().ok())
        .filter(|p| p.is_finite())
        .unwrap_or(0.0)
}

fn address(doc: &Document<'_>, el: &Element) -> Result<Address> {
    let uri = doc.required_attr(el, "address", "uri", "uri attribute")?;
    let status_el = el
        .child("", "status")
        .ok_or_else(|| doc.missing(el, "address", "<status> element"))?;
    let status = doc.required_attr(status_el, "status", "status", "status attribute")?;
    let status = XpidfStatus::parse(xml::trim_xml(&status.value))
        .ok_or_else(|| doc.invalid("XPIDF status", &status.value, status.at))?;
    // An unknown substatus is not an error: the status attribute still says enough.
    let substatus = el
        .child("", "msnsubstatus")
        .and_then(|s| s.attr("substatus"))
        .and_then(|s| Substatus::parse(xml::trim_xml(&s.value)));
    Ok(Address {
        uri: uri.value.to_string(),
        priority: el.attr("priority").map(|p| p.value.to_string()),
        status,
        substatus,
        note: el.child("", "note").map(|n| n.text.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn every_status_maps_back() {
        for status in Status::ALL {
            let (s, sub) = status.to_xpidf();
            assert_eq!(Status::from_xpidf(s, sub), status);
        }
    }

    #[test]
    fn reads_a_windows_messenger_document() {
        let body = b"<?xml version=\"1.0\"?>\r\n\
            <!DOCTYPE presence PUBLIC \"-//IETF//DTD RFCxxxx XPIDF 1.0//EN\" \"xpidf.dtd\">\r\n\
            <presence>\r\n<presentity uri=\"sip:bob@example.com;method=SUBSCRIBE\" />\r\n\
            <atom id=\"1000\">\r\n<address uri=\"sip:bob@10.0.0.2:5060;user=ip\" priority=\"0,800000\">\r\n\
            <status status=\"inuse\" />\r\n<msnsubstatus substatus=\"onthephone\" />\r\n\
            </address>\r\n</atom>\r\n</presence>\r\n";
        let doc = Xpidf::parse(body).unwrap();
        assert_eq!(doc.presentity, "sip:bob@example.com;method=SUBSCRIBE");
        assert_eq!(
            doc.atoms[0].addresses[0].priority.as_deref(),
            Some("0,800000")
        );
        assert_eq!(doc.status(), Status::OnThePhone);
    }

    #[test]
    fn highest_priority_open_address_wins() {
        let body = b"<presence><presentity uri='sip:b@x'/><atom id='1'>\
            <address uri='sip:b@pc' priority='0.5'><status status='inactive'/><msnsubstatus substatus='away'/></address>\
            <address uri='sip:b@phone' priority='0.9'><status status='closed'/></address>\
            <address uri='sip:b@laptop' priority='0.8'><status status='open'/></address>\
            </atom></presence>";
        assert_eq!(Xpidf::parse(body).unwrap().status(), Status::Online);
        let closed = b"<presence><presentity uri='sip:b@x'/><atom id='1'>\
            <address uri='sip:b@pc'><status status='closed'/><msnsubstatus substatus='online'/></address></atom></presence>";
        assert_eq!(Xpidf::parse(closed).unwrap().status(), Status::Offline);
    }

    #[test]
    fn refuses_namespaced_root_internal_subset_and_bad_status() {
        let err = Xpidf::parse(b"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='x'/>")
            .unwrap_err();
        assert!(matches!(err, Error::UnexpectedRoot { .. }), "{err}");
        let err = Xpidf::parse(b"<!DOCTYPE presence [<!ENTITY a 'b'>]><presence/>").unwrap_err();
        assert!(matches!(err, Error::Doctype { .. }), "{err}");
        let err = Xpidf::parse(
            b"<presence><presentity uri='sip:b@x'/><atom id='1'><address uri='u'>\n<status status='dozing'/></address></atom></presence>",
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidValue { value, .. } if value == "dozing"),
            "{err}"
        );
        assert_eq!(err.position().map(|p| p.line), Some(2));
        let err = Xpidf::parse(b"<presence><atom id='1'/></presence>").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Missing {
                    missing: "<presentity> element",
                    ..
                }
            ),
            "{err}"
        );
    }
}
