//! PIDF (RFC 3863) with the RPID extensions (RFC 4480) this stack reads and writes:
//! activities, user-input idle and notes, in tuples (services) and in `dm:person` (RFC 4479).
//!
//! [`Presence::parse`] reads a document into the model, [`Presence::to_xml`] writes one that
//! reads back equal. Extension elements in other namespaces are skipped (RFC 3863 §4.3),
//! unless marked `mustUnderstand`, which makes the document unusable (RFC 3863 §4.3.1).
//!
//! ```
//! use presence::pidf::{Basic, Presence};
//! use presence::Status;
//!
//! let body = br#"<presence xmlns="urn:ietf:params:xml:ns:pidf"
//!     xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"
//!     xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid" entity="sip:bob@example.com">
//!   <tuple id="t1"><status><basic>open</basic></status></tuple>
//!   <dm:person id="p1"><rpid:activities><rpid:on-the-phone/></rpid:activities></dm:person>
//! </presence>"#;
//! let doc = Presence::parse(body)?;
//! assert_eq!(doc.tuples[0].basic, Some(Basic::Open));
//! assert_eq!(doc.status(), Status::OnThePhone);
//! assert_eq!(Presence::parse(doc.to_xml().as_bytes())?, doc);
//! # Ok::<(), presence::Error>(())
//! ```

use std::fmt;

use crate::datetime;
use crate::error::Result;
use crate::status::Status;
use crate::xml::{self, DoctypePolicy, Document, Element, XmlLimits};

/// The PIDF namespace (RFC 3863 §4).
pub const NS: &str = "urn:ietf:params:xml:ns:pidf";
/// The presence data model namespace (RFC 4479 §4), for `dm:person`, `dm:device`, `dm:note`.
pub const NS_DM: &str = "urn:ietf:params:xml:ns:pidf:data-model";
/// The RPID namespace (RFC 4480 §6).
pub const NS_RPID: &str = "urn:ietf:params:xml:ns:pidf:rpid";
/// The XML namespace, for `xml:lang`.
const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";
/// The PIDF media type (RFC 3863 §7).
pub const CONTENT_TYPE: &str = "application/pidf+xml";

/// A PIDF document: the presentity, its tuples, notes and `dm:person`/`dm:device` elements.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Presence {
    /// The presentity URI (`entity`, RFC 3863 §4.1.1), e.g. `pres:` or `sip:`.
    pub entity: String,
    /// The tuples (services), in document order.
    pub tuples: Vec<Tuple>,
    /// Notes about the presentity as a whole (RFC 3863 §4.1.6).
    pub notes: Vec<Note>,
    /// `dm:person` elements (RFC 4479 §3.1), where RPID activities live.
    pub persons: Vec<Person>,
    /// `dm:device` elements (RFC 4479 §3.3), read for their user-input.
    pub devices: Vec<Device>,
}

/// A `tuple` (RFC 3863 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tuple {
    /// The tuple's `id` (an `xs:ID`, unique in the document).
    pub id: String,
    /// `status/basic`, when given (RFC 3863 §4.1.4).
    pub basic: Option<Basic>,
    /// RPID `user-input` of this service (RFC 4480 §3.14).
    pub user_input: Option<UserInput>,
    /// The contact address (RFC 3863 §4.1.5).
    pub contact: Option<Contact>,
    /// Notes about this tuple.
    pub notes: Vec<Note>,
    /// The timestamp, as written (`xs:dateTime`, RFC 3863 §4.1.7).
    pub timestamp: Option<String>,
}

/// `basic` status (RFC 3863 §4.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Basic {
    /// `open`: ready to accept communication.
    Open,
    /// `closed`: not.
    Closed,
}

impl Basic {
    /// The XML token.
    pub const fn as_str(self) -> &'static str {
        match self {
            Basic::Open => "open",
            Basic::Closed => "closed",
        }
    }
}

/// A `contact` with its optional priority (RFC 3863 §4.1.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The contact URI.
    pub uri: String,
    /// The priority, if given.
    pub priority: Option<Priority>,
}

/// A contact priority, a `qvalue` between 0 and 1 with up to three decimals, kept exactly as
/// thousandths.
///
/// ```
/// use presence::pidf::Priority;
/// let p: Priority = "0.8".parse()?;
/// assert_eq!(p.thousandths(), 800);
/// assert_eq!(p.to_string(), "0.8");
/// assert!("1.5".parse::<Priority>().is_err());
/// # Ok::<(), presence::pidf::InvalidPriority>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(u16);

/// A priority that is not a `qvalue` (RFC 3863 §4.1.5: `0(.d{0,3})` or `1(.0{0,3})`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a priority between 0 and 1 with at most three decimals")]
pub struct InvalidPriority;

impl Priority {
    /// The priority from thousandths (`None` above 1000).
    pub const fn from_thousandths(t: u16) -> Option<Self> {
        if t <= 1000 { Some(Priority(t)) } else { None }
    }

    /// The priority in thousandths, 0 to 1000.
    pub const fn thousandths(self) -> u16 {
        self.0
    }
}

impl std::str::FromStr for Priority {
    type Err = InvalidPriority;
    fn from_str(s: &str) -> Result<Self, InvalidPriority> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidPriority);
        }
        let mut t: u16 = 0;
        for (i, b) in frac.bytes().enumerate() {
            let scale = [100, 10, 1].get(i).copied().unwrap_or(0);
            t += u16::from(b - b'0') * scale;
        }
        match int {
            "0" => Ok(Priority(t)),
            "1" if t == 0 => Ok(Priority(1000)),
            _ => Err(InvalidPriority),
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 1000 {
            return f.write_str("1");
        }
        let digits = format!("{:03}", self.0);
        let digits = digits.trim_end_matches('0');
        if digits.is_empty() {
            f.write_str("0")
        } else {
            write!(f, "0.{digits}")
        }
    }
}

/// A `note`, with its language when given (RFC 3863 §4.1.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// `xml:lang`, if given.
    pub lang: Option<String>,
    /// The text, as written (not trimmed).
    pub text: String,
}

impl Note {
    /// A note without language.
    pub fn new(text: impl Into<String>) -> Self {
        Note {
            lang: None,
            text: text.into(),
        }
    }
}

/// A `dm:person` (RFC 4479 §3.1) with the RPID data this stack uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    /// The person's `id`.
    pub id: String,
    /// RPID activities (RFC 4480 §3.2), in document order; empty when absent.
    pub activities: Vec<Activity>,
    /// `rpid:note` elements inside `rpid:activities` (RFC 4480 §3.2), about the activities.
    pub activity_notes: Vec<Note>,
    /// The `from` attribute of `rpid:activities` (RFC 4480 §2), as written (`xs:dateTime`).
    pub activities_from: Option<String>,
    /// The `until` attribute of `rpid:activities` (RFC 4480 §2), as written.
    pub activities_until: Option<String>,
    /// RPID `user-input` (RFC 4480 §3.14).
    pub user_input: Option<UserInput>,
    /// `dm:note` elements.
    pub notes: Vec<Note>,
    /// `dm:timestamp`, as written.
    pub timestamp: Option<String>,
}

impl Person {
    /// Whether there is anything to write in an `rpid:activities` element. (A valid one
    /// holds at least one activity: use [`Activity::Unknown`] for notes alone.)
    fn has_activities(&self) -> bool {
        !self.activities.is_empty()
            || !self.activity_notes.is_empty()
            || self.activities_from.is_some()
            || self.activities_until.is_some()
    }
}

/// A `dm:device` (RFC 4479 §3.3), read for its user-input.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Device {
    /// The device's `id`.
    pub id: String,
    /// `dm:deviceID`, if given.
    pub device_id: Option<String>,
    /// RPID `user-input` (RFC 4480 §3.14).
    pub user_input: Option<UserInput>,
}

/// RPID `user-input` (RFC 4480 §3.14): whether the user has been idle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInput {
    /// `idle` rather than `active`.
    pub idle: bool,
    /// `idle-threshold`, in seconds, if given.
    pub idle_threshold: Option<u32>,
    /// `last-input`, as written (`xs:dateTime`), if given.
    pub last_input: Option<String>,
}

impl UserInput {
    /// Plain `idle`, without attributes.
    pub const IDLE: UserInput = UserInput {
        idle: true,
        idle_threshold: None,
        last_input: None,
    };
}

macro_rules! activities {
    ($($variant:ident => $token:literal,)*) => {
        /// An RPID activity (RFC 4480 §3.2): the enumerated ones, and `other` with its text.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Activity {
            $(
                #[doc = concat!("`<rpid:", $token, "/>`")]
                $variant,
            )*
            /// `<rpid:other>text</rpid:other>`.
            Other(String),
        }

        impl Activity {
            /// Every enumerated activity (not [`Activity::Other`]).
            pub const ENUMERATED: &'static [Activity] = &[$(Activity::$variant,)*];

            /// The element name (`other` for [`Activity::Other`]).
            pub fn token(&self) -> &'static str {
                match self {
                    $(Activity::$variant => $token,)*
                    Activity::Other(_) => "other",
                }
            }

            fn from_token(token: &str) -> Option<Activity> {
                match token {
                    $($token => Some(Activity::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

activities! {
    Appointment => "appointment",
    Away => "away",
    Breakfast => "breakfast",
    Busy => "busy",
    Dinner => "dinner",
    Holiday => "holiday",
    InTransit => "in-transit",
    LookingForWork => "looking-for-work",
    Meal => "meal",
    Meeting => "meeting",
    OnThePhone => "on-the-phone",
    Performance => "performance",
    PermanentAbsence => "permanent-absence",
    Playing => "playing",
    Presentation => "presentation",
    Shopping => "shopping",
    Sleeping => "sleeping",
    Spectator => "spectator",
    Steering => "steering",
    Travel => "travel",
    Tv => "tv",
    Unknown => "unknown",
    Vacation => "vacation",
    Working => "working",
    Worship => "worship",
}

impl Presence {
    /// Parses a PIDF document with the default [`XmlLimits`].
    pub fn parse(body: &[u8]) -> Result<Presence> {
        Presence::parse_with_limits(body, &XmlLimits::default())
    }

    /// Parses a PIDF document with explicit limits.
    pub fn parse_with_limits(body: &[u8], limits: &XmlLimits) -> Result<Presence> {
        let doc = Document::parse(body, limits, DoctypePolicy::Refuse)?;
        doc.expect_root(NS, "presence")?;
        let root = &doc.root;
        // RFC 3863 §4.1.1: the entity attribute is required.
        let entity = doc.required_attr(root, "presence", "entity", "entity attribute")?;
        let mut presence = Presence {
            entity: entity.value.to_string(),
            ..Presence::default()
        };
        // Tuple, person and device ids are `xs:ID`s: unique in the document (RFC 3863 §4.1.2,
        // RFC 4479 §3.3).
        let mut ids = std::collections::HashSet::new();
        for child in &root.children {
            if matches!(
                (&*child.ns, &*child.name),
                (NS, "tuple") | (NS_DM, "person") | (NS_DM, "device")
            ) && let Some(a) = child.attr("id")
                && !ids.insert(xml::trim_xml(&a.value))
            {
                return Err(doc.invalid("duplicate id", &a.value, a.at));
            }
        }
        for child in &root.children {
            match (&*child.ns, &*child.name) {
                (NS, "tuple") => presence.tuples.push(tuple(&doc, child)?),
                (NS, "note") => presence.notes.push(note(child)),
                (NS_DM, "person") => presence.persons.push(person(&doc, child)?),
                (NS_DM, "device") => presence.devices.push(device(&doc, child)?),
                _ => extension(&doc, child)?,
            }
        }
        Ok(presence)
    }

    /// Writes the document (UTF-8, with declaration), so that [`Presence::parse`] gives back an
    /// equal value. Characters XML cannot carry are written as U+FFFD.
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(512);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<presence");
        xml::push_attribute(&mut out, "xmlns", NS);
        if !self.persons.is_empty() || !self.devices.is_empty() {
            xml::push_attribute(&mut out, "xmlns:dm", NS_DM);
        }
        let rpid = self.tuples.iter().any(|t| t.user_input.is_some())
            || self
                .persons
                .iter()
                .any(|p| p.has_activities() || p.user_input.is_some())
            || self.devices.iter().any(|d| d.user_input.is_some());
        if rpid {
            xml::push_attribute(&mut out, "xmlns:rpid", NS_RPID);
        }
        xml::push_attribute(&mut out, "entity", &self.entity);
        out.push_str(">\n");
        // RFC 3863 §4.1 schema order: tuples, notes, then extensions.
        for t in &self.tuples {
            write_tuple(&mut out, t);
        }
        for n in &self.notes {
            write_note(&mut out, "note", n);
        }
        for p in &self.persons {
            write_person(&mut out, p);
        }
        for d in &self.devices {
            write_device(&mut out, d);
        }
        out.push_str("</presence>\n");
        out
    }

    /// The presentity's [`Status`], by the mapping documented on [`Status`]: offline unless a
    /// tuple is `open`; then the first activity that maps, in person elements, then
    /// user-input `idle` anywhere, then online.
    pub fn status(&self) -> Status {
        if !self.tuples.iter().any(|t| t.basic == Some(Basic::Open)) {
            return Status::Offline;
        }
        let from_activity = self
            .persons
            .iter()
            .flat_map(|p| &p.activities)
            .find_map(Status::from_activity);
        if let Some(status) = from_activity {
            return status;
        }
        let idle = self
            .persons
            .iter()
            .filter_map(|p| p.user_input.as_ref())
            .chain(self.devices.iter().filter_map(|d| d.user_input.as_ref()))
            .chain(
                self.tuples
                    .iter()
                    .filter(|t| t.basic == Some(Basic::Open))
                    .filter_map(|t| t.user_input.as_ref()),
            )
            .any(|u| u.idle);
        if idle { Status::Idle } else { Status::Online }
    }

    /// The presentity's note: the first presence-level note, else the first person note,
    /// else the first tuple note. Empty notes count as none.
    pub fn note(&self) -> Option<&str> {
        self.notes
            .iter()
            .chain(self.persons.iter().flat_map(|p| &p.notes))
            .chain(self.tuples.iter().flat_map(|t| &t.notes))
            .map(|n| n.text.as_str())
            .find(|t| !t.is_empty())
    }
}

/// An unknown element: skipped, unless it says it must be understood (RFC 3863 §4.3.1).
fn extension(doc: &Document<'_>, el: &Element) -> Result<()> {
    let must = el
        .attr_ns(NS, "mustUnderstand")
        .is_some_and(|a| matches!(xml::trim_xml(&a.value), "true" | "1"));
    if must {
        return Err(doc.invalid(
            "extension marked mustUnderstand",
            &format!("{{{}}}{}", el.ns, el.name),
            el.at,
        ));
    }
    Ok(())
}

/// The `id` of a tuple, person or device: an `xs:ID`, so an NCName (RFC 3863 §4.1.2).
fn id(doc: &Document<'_>, el: &Element, element: &'static str) -> Result<String> {
    let a = doc.required_attr(el, element, "id", "id attribute")?;
    let id = xml::trim_xml(&a.value);
    if !xml::is_ncname(id) {
        return Err(doc.invalid("id (not an NCName)", &a.value, a.at));
    }
    Ok(id.to_owned())
}

/// The text of a `timestamp` element, which must be an RFC 3339 date-time (RFC 3863 §4.1.7).
fn timestamp(doc: &Document<'_>, el: &Element) -> Result<String> {
    let text = el.trimmed_text();
    if !datetime::is_date_time(text) {
        return Err(doc.invalid("timestamp (not an RFC 3339 date-time)", text, el.at));
    }
    Ok(text.to_owned())
}

fn tuple(doc: &Document<'_>, el: &Element) -> Result<Tuple> {
    let mut t = Tuple {
        id: id(doc, el, "tuple")?,
        ..Tuple::default()
    };
    let mut has_status = false;
    for child in &el.children {
        match (&*child.ns, &*child.name) {
            (NS, "status") => {
                has_status = true;
                for s in &child.children {
                    match (&*s.ns, &*s.name) {
                        (NS, "basic") => {
                            t.basic = Some(match s.trimmed_text() {
                                "open" => Basic::Open,
                                "closed" => Basic::Closed,
                                other => return Err(doc.invalid("basic status", other, s.at)),
                            });
                        }
                        // Early RPID put user-input inside status; read it there too.
                        (NS_RPID, "user-input") => t.user_input = Some(user_input(doc, s)?),
                        _ => extension(doc, s)?,
                    }
                }
            }
            (NS_RPID, "user-input") => t.user_input = Some(user_input(doc, child)?),
            (NS, "contact") => {
                let priority = match child.attr("priority") {
                    Some(p) => Some(
                        xml::trim_xml(&p.value)
                            .parse()
                            .map_err(|_| doc.invalid("contact priority", &p.value, p.at))?,
                    ),
                    None => None,
                };
                t.contact = Some(Contact {
                    uri: child.trimmed_text().to_owned(),
                    priority,
                });
            }
            (NS, "note") => t.notes.push(note(child)),
            (NS, "timestamp") => t.timestamp = Some(timestamp(doc, child)?),
            _ => extension(doc, child)?,
        }
    }
    // RFC 3863 §4.1.3: a tuple contains exactly one status.
    if !has_status {
        return Err(doc.missing(el, "tuple", "<status> element"));
    }
    Ok(t)
}

fn note(el: &Element) -> Note {
    Note {
        lang: el.attr_ns(NS_XML, "lang").map(|a| a.value.to_string()),
        text: el.text.clone(),
    }
}

fn person(doc: &Document<'_>, el: &Element) -> Result<Person> {
    let mut p = Person {
        id: id(doc, el, "person")?,
        ..Person::default()
    };
    for child in &el.children {
        match (&*child.ns, &*child.name) {
            (NS_RPID, "activities") => {
                let time = |name| child.attr(name).map(|a| xml::trim_xml(&a.value).to_owned());
                p.activities_from = time("from");
                p.activities_until = time("until");
                for a in &child.children {
                    if &*a.ns != NS_RPID {
                        continue;
                    }
                    match &*a.name {
                        "other" => p.activities.push(Activity::Other(a.text.clone())),
                        "note" => p.activity_notes.push(note(a)),
                        // Tokens this stack does not know are skipped.
                        token => p.activities.extend(Activity::from_token(token)),
                    }
                }
            }
            (NS_RPID, "user-input") => p.user_input = Some(user_input(doc, child)?),
            (NS_DM, "note") => p.notes.push(note(child)),
            (NS_DM, "timestamp") => p.timestamp = Some(timestamp(doc, child)?),
            _ => extension(doc, child)?,
        }
    }
    Ok(p)
}

fn device(doc: &Document<'_>, el: &Element) -> Result<Device> {
    let mut d = Device {
        id: id(doc, el, "device")?,
        ..Device::default()
    };
    for child in &el.children {
        match (&*child.ns, &*child.name) {
            (NS_DM, "deviceID") => d.device_id = Some(child.trimmed_text().to_owned()),
            (NS_RPID, "user-input") => d.user_input = Some(user_input(doc, child)?),
            _ => extension(doc, child)?,
        }
    }
    Ok(d)
}

fn user_input(doc: &Document<'_>, el: &Element) -> Result<UserInput> {
    let idle = match el.trimmed_text() {
        "idle" => true,
        "active" => false,
        other => return Err(doc.invalid("user-input", other, el.at)),
    };
    let idle_threshold = match el.attr("idle-threshold") {
        Some(a) => Some(
            xml::trim_xml(&a.value)
                .parse::<u32>()
                .ok()
                .filter(|&t| t > 0)
                .ok_or_else(|| doc.invalid("idle-threshold", &a.value, a.at))?,
        ),
        None => None,
    };
    Ok(UserInput {
        idle,
        idle_threshold,
        last_input: el
            .attr("last-input")
            .map(|a| xml::trim_xml(&a.value).to_owned()),
    })
}

fn write_note(out: &mut String, name: &str, n: &Note) {
    out.push('<');
    out.push_str(name);
    if let Some(lang) = &n.lang {
        xml::push_attribute(out, "xml:lang", lang);
    }
    out.push('>');
    xml::push_text(out, &n.text);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

fn write_user_input(out: &mut String, u: &UserInput) {
    out.push_str("<rpid:user-input");
    if let Some(t) = u.idle_threshold {
        xml::push_attribute(out, "idle-threshold", &t.to_string());
    }
    if let Some(l) = &u.last_input {
        xml::push_attribute(out, "last-input", l);
    }
    out.push('>');
    out.push_str(if u.idle { "idle" } else { "active" });
    out.push_str("</rpid:user-input>\n");
}

fn write_tuple(out: &mut String, t: &Tuple) {
    out.push_str("<tuple");
    xml::push_attribute(out, "id", &t.id);
    out.push_str(">\n<status>");
    if let Some(b) = t.basic {
        xml::push_text_element(out, "basic", b.as_str());
    }
    out.push_str("</status>\n");
    // RFC 3863 §4.1.2 schema: status, extensions, contact, notes, timestamp.
    if let Some(u) = &t.user_input {
        write_user_input(out, u);
    }
    if let Some(c) = &t.contact {
        out.push_str("<contact");
        if let Some(p) = c.priority {
            xml::push_attribute(out, "priority", &p.to_string());
        }
        out.push('>');
        xml::push_text(out, &c.uri);
        out.push_str("</contact>\n");
    }
    for n in &t.notes {
        write_note(out, "note", n);
    }
    if let Some(ts) = &t.timestamp {
        xml::push_text_element(out, "timestamp", ts);
        out.push('\n');
    }
    out.push_str("</tuple>\n");
}

fn write_person(out: &mut String, p: &Person) {
    out.push_str("<dm:person");
    xml::push_attribute(out, "id", &p.id);
    out.push_str(">\n");
    if p.has_activities() {
        out.push_str("<rpid:activities");
        if let Some(from) = &p.activities_from {
            xml::push_attribute(out, "from", from);
        }
        if let Some(until) = &p.activities_until {
            xml::push_attribute(out, "until", until);
        }
        out.push('>');
        // RFC 4480 §3.2 schema: the notes come before the activities.
        for n in &p.activity_notes {
            write_note(out, "rpid:note", n);
        }
        for a in &p.activities {
            match a {
                Activity::Other(text) => xml::push_text_element(out, "rpid:other", text),
                a => {
                    out.push_str("<rpid:");
                    out.push_str(a.token());
                    out.push_str("/>");
                }
            }
        }
        out.push_str("</rpid:activities>\n");
    }
    if let Some(u) = &p.user_input {
        write_user_input(out, u);
    }
    for n in &p.notes {
        write_note(out, "dm:note", n);
    }
    if let Some(ts) = &p.timestamp {
        xml::push_text_element(out, "dm:timestamp", ts);
        out.push('\n');
    }
    out.push_str("</dm:person>\n");
}

fn write_device(out: &mut String, d: &Device) {
    out.push_str("<dm:device");
    xml::push_attribute(out, "id", &d.id);
    out.push_str(">\n");
    if let Some(u) = &d.user_input {
        write_user_input(out, u);
    }
    if let Some(id) = &d.device_id {
        xml::push_text_element(out, "dm:deviceID", id);
        out.push('\n');
    }
    out.push_str("</dm:device>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn doc(inner: &str) -> String {
        format!(
            "<presence xmlns='{NS}' xmlns:dm='{NS_DM}' xmlns:rpid='{NS_RPID}' \
             entity='sip:a@example.com'>{inner}</presence>"
        )
    }

    #[test]
    fn priority_accepts_qvalues_only() {
        for (s, t) in [
            ("0", 0),
            ("0.", 0),
            ("0.5", 500),
            ("0.125", 125),
            ("1", 1000),
            ("1.000", 1000),
        ] {
            assert_eq!(
                s.parse::<Priority>().map(Priority::thousandths),
                Ok(t),
                "{s}"
            );
        }
        for s in ["", "1.5", "2", "0.1234", "-0", ".5", "0.a", "01"] {
            assert!(s.parse::<Priority>().is_err(), "{s}");
        }
        assert_eq!(Priority(50).to_string(), "0.05");
        assert_eq!(Priority(0).to_string(), "0");
    }

    #[test]
    fn missing_entity_id_and_status_are_errors() {
        let err = Presence::parse(format!("<presence xmlns='{NS}'/>").as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Missing {
                    missing: "entity attribute",
                    ..
                }
            ),
            "{err}"
        );
        let err = Presence::parse(doc("<tuple><status/></tuple>").as_bytes()).unwrap_err();
        assert!(matches!(
            err,
            Error::Missing {
                element: "tuple",
                missing: "id attribute",
                ..
            }
        ));
        let err = Presence::parse(doc("<tuple id='t'/>").as_bytes()).unwrap_err();
        assert!(matches!(
            err,
            Error::Missing {
                missing: "<status> element",
                ..
            }
        ));
        let err = Presence::parse(
            doc("<tuple id='t'><status><basic>ajar</basic></status></tuple>").as_bytes(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidValue { value, .. } if value == "ajar"),
            "{err}"
        );
    }

    #[test]
    fn wrong_namespace_on_root_is_refused() {
        let err = Presence::parse(b"<presence entity='sip:a@b'/>").unwrap_err();
        assert!(
            matches!(
                err,
                Error::UnexpectedRoot {
                    expected: "presence",
                    ..
                }
            ),
            "{err}"
        );
        let err = Presence::parse(b"<presence xmlns='urn:other' entity='sip:a@b'/>").unwrap_err();
        assert_eq!(
            err.to_string(),
            "1:1: expected root <presence> in namespace \"urn:ietf:params:xml:ns:pidf\", found {urn:other}presence"
        );
    }

    #[test]
    fn unknown_extensions_are_skipped_unless_must_understand() {
        let ok = doc(
            "<tuple id='t'><status><basic>open</basic><x:y xmlns:x='urn:x'><x:z/></x:y></status>\
                      <x:w xmlns:x='urn:x'/></tuple><x:v xmlns:x='urn:x'/>",
        );
        let p = Presence::parse(ok.as_bytes()).unwrap();
        assert_eq!(p.status(), Status::Online);
        let must = doc("<tuple id='t'><status><basic>open</basic></status>\
                        <x:w xmlns:x='urn:x' xmlns:p='urn:ietf:params:xml:ns:pidf' p:mustUnderstand='true'/></tuple>");
        let err = Presence::parse(must.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidValue {
                    what: "extension marked mustUnderstand",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn status_prefers_activities_then_idle_and_needs_an_open_tuple() {
        let open = "<tuple id='t'><status><basic>open</basic></status></tuple>";
        let closed = "<tuple id='t'><status><basic>closed</basic></status></tuple>";
        let person = "<dm:person id='p'><rpid:activities><rpid:meeting/></rpid:activities>\
                      <rpid:user-input>idle</rpid:user-input></dm:person>";
        let s = |inner: String| Presence::parse(inner.as_bytes()).unwrap().status();
        assert_eq!(s(doc(&format!("{open}{person}"))), Status::Busy);
        assert_eq!(s(doc(&format!("{closed}{person}"))), Status::Offline);
        assert_eq!(s(doc("")), Status::Offline);
        let idle = "<tuple id='t'><status><basic>open</basic></status>\
                    <rpid:user-input idle-threshold='600'>idle</rpid:user-input></tuple>";
        assert_eq!(s(doc(idle)), Status::Idle);
    }

    /// The error of parsing `inner` in a presence document: what was invalid, its value, and
    /// the line it is on.
    fn invalid(inner: &str) -> (&'static str, String, u32) {
        match Presence::parse(doc(inner).as_bytes()) {
            Err(Error::InvalidValue { what, value, at }) => (what, value, at.line),
            other => panic!("{inner}: {other:?}"),
        }
    }

    #[test]
    fn timestamps_must_be_rfc_3339() {
        let ok = doc(
            "<tuple id='t'><status/><timestamp> 2001-10-27T16:49:29.5+02:00 </timestamp>\
                      </tuple><dm:person id='p'><dm:timestamp>2005-05-30T16:09:44Z</dm:timestamp>\
                      </dm:person>",
        );
        let p = Presence::parse(ok.as_bytes()).unwrap();
        assert_eq!(
            p.tuples[0].timestamp.as_deref(),
            Some("2001-10-27T16:49:29.5+02:00")
        );
        for bad in [
            "yesterday",
            "2001-10-27T16:49:29",
            "2001-02-30T00:00:00Z",
            "",
        ] {
            let (what, value, line) = invalid(&format!(
                "<tuple id='t'><status/>\n<timestamp>{bad}</timestamp></tuple>"
            ));
            assert_eq!(
                (what, value.as_str(), line),
                ("timestamp (not an RFC 3339 date-time)", bad, 2)
            );
        }
        let (what, _, line) = invalid(
            "<dm:person id='p'>\n\n<dm:timestamp>2005-05-30 16:09:44Z</dm:timestamp></dm:person>",
        );
        assert_eq!((what, line), ("timestamp (not an RFC 3339 date-time)", 3));
    }

    #[test]
    fn ids_must_be_unique_ncnames() {
        let ok = doc(
            "<tuple id='t-1.a'><status/></tuple><tuple id='_t\u{e9}2'><status/></tuple>\
                      <dm:person id='p1'/><dm:device id='d1'/>",
        );
        assert_eq!(Presence::parse(ok.as_bytes()).unwrap().tuples.len(), 2);
        for bad in ["1t", "a:b", "a b", "", "-x", "t\u{202e}"] {
            let (what, value, _) = invalid(&format!("<tuple id='{bad}'><status/></tuple>"));
            assert_eq!((what, value.as_str()), ("id (not an NCName)", bad));
        }
        let (what, _, _) = invalid("<dm:device id='x y'/>");
        assert_eq!(what, "id (not an NCName)");
        // Duplicates, among tuples and across tuple, person and device (all xs:ID).
        let (what, value, line) =
            invalid("<tuple id='t'><status/></tuple>\n<tuple id='t'><status/></tuple>");
        assert_eq!((what, value.as_str(), line), ("duplicate id", "t", 2));
        let (what, _, _) = invalid("<tuple id='x'><status/></tuple><dm:person id='x'/>");
        assert_eq!(what, "duplicate id");
    }

    #[test]
    fn bad_user_input_and_priority_say_where() {
        let bad = doc("<tuple id='t'><status/>\n<contact priority='2'>sip:x@y</contact></tuple>");
        let err = Presence::parse(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidValue {
                    what: "contact priority",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.position().map(|p| p.line), Some(2));
        let bad = doc("<dm:person id='p'><rpid:user-input>sleepy</rpid:user-input></dm:person>");
        assert!(matches!(
            Presence::parse(bad.as_bytes()),
            Err(Error::InvalidValue {
                what: "user-input",
                ..
            })
        ));
    }
}
