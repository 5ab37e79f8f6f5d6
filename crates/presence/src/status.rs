//! The RTC status vocabulary, our own presence, and what a presence body says about a buddy.
//!
//! For the subscription code: a notifier writes our presence with [`LocalPresence::to_body`]
//! in the format the watcher accepts ([`MediaKind::from_accept`]); a subscriber reads a NOTIFY
//! body with [`parse_body`], giving a [`RemotePresence`].
//!
//! ```
//! use presence::{LocalPresence, MediaKind, Status, parse_body};
//!
//! let me = LocalPresence::new(Status::BeRightBack, Some("back at 3"));
//! for kind in [MediaKind::Pidf, MediaKind::Xpidf] {
//!     let (content_type, body) = me.to_body("sip:alice@example.com", kind);
//!     let seen = parse_body(content_type, &body)?;
//!     assert_eq!((seen.status, seen.note.as_deref()), (Status::BeRightBack, Some("back at 3")));
//! }
//! # Ok::<(), presence::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::pidf::{self, Activity, Basic, Note, Person, Presence, Tuple, UserInput};
use crate::xpidf::{self, Xpidf};

/// A presence status as the RTC client API knows it (`RTCXS_PRESENCE_*`).
///
/// How each maps to PIDF (RFC 3863 `basic`, RPID RFC 4480 in a `dm:person`) and to XPIDF
/// (`<status status>` and `<msnsubstatus substatus>` of an `address`). Writing uses exactly
/// this table, and reading it back gives the same status:
///
/// | Status | PIDF basic | RPID | XPIDF status | msnsubstatus |
/// |---|---|---|---|---|
/// | `Offline` | `closed` | — | `closed` | — |
/// | `Online` | `open` | — | `open` | `online` |
/// | `Away` | `open` | activity `<away/>` | `inactive` | `away` |
/// | `Idle` | `open` | `<user-input>idle</user-input>` | `inactive` | `idle` |
/// | `Busy` | `open` | activity `<busy/>` | `inuse` | `busy` |
/// | `BeRightBack` | `open` | activity `<other>be-right-back</other>` | `inactive` | `berightback` |
/// | `OnThePhone` | `open` | activity `<on-the-phone/>` | `inuse` | `onthephone` |
/// | `OutToLunch` | `open` | activity `<meal/>` | `inactive` | `outtolunch` |
///
/// Reading is wider, for documents other clients write: in PIDF `closed` (or no open tuple)
/// is offline whatever else is said; `meeting`, `appointment`, `presentation` and
/// `performance` read as busy; `vacation`, `holiday`, `permanent-absence`, `sleeping`,
/// `travel` and `in-transit` as away; `breakfast` and `dinner` as out to lunch; `other` with
/// `brb` or `be right back` (any case) as be right back; other activities are ignored, and
/// user-input `idle` anywhere (person, device, open tuple) gives idle when no activity maps.
/// In XPIDF a known substatus wins unless the status is `closed`; without one, `open` reads as
/// online, `inuse` as busy and `inactive` as away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Status {
    /// Not available (also: appearing offline).
    #[default]
    Offline,
    /// Available.
    Online,
    /// Away.
    Away,
    /// Idle: no user input for a while.
    Idle,
    /// Busy.
    Busy,
    /// Be right back.
    BeRightBack,
    /// On the phone.
    OnThePhone,
    /// Out to lunch.
    OutToLunch,
}

impl Status {
    /// Every status, in declaration order.
    pub const ALL: [Status; 8] = [
        Status::Offline,
        Status::Online,
        Status::Away,
        Status::Idle,
        Status::Busy,
        Status::BeRightBack,
        Status::OnThePhone,
        Status::OutToLunch,
    ];

    /// The lower-case token used in the store (`online`, `be-right-back`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Offline => "offline",
            Status::Online => "online",
            Status::Away => "away",
            Status::Idle => "idle",
            Status::Busy => "busy",
            Status::BeRightBack => "be-right-back",
            Status::OnThePhone => "on-the-phone",
            Status::OutToLunch => "out-to-lunch",
        }
    }

    /// Whether the PIDF `basic` is `open` for this status.
    pub const fn is_open(self) -> bool {
        !matches!(self, Status::Offline)
    }

    /// The RPID activity that says this status, when one does.
    pub fn activity(self) -> Option<Activity> {
        match self {
            Status::Away => Some(Activity::Away),
            Status::Busy => Some(Activity::Busy),
            Status::BeRightBack => Some(Activity::Other("be-right-back".to_owned())),
            Status::OnThePhone => Some(Activity::OnThePhone),
            Status::OutToLunch => Some(Activity::Meal),
            Status::Offline | Status::Online | Status::Idle => None,
        }
    }

    /// The status an RPID activity says, if any (see the table on [`Status`]).
    pub fn from_activity(activity: &Activity) -> Option<Status> {
        Some(match activity {
            Activity::Away
            | Activity::Vacation
            | Activity::Holiday
            | Activity::PermanentAbsence
            | Activity::Sleeping
            | Activity::Travel
            | Activity::InTransit => Status::Away,
            Activity::Busy
            | Activity::Meeting
            | Activity::Appointment
            | Activity::Presentation
            | Activity::Performance => Status::Busy,
            Activity::OnThePhone => Status::OnThePhone,
            Activity::Meal | Activity::Breakfast | Activity::Dinner => Status::OutToLunch,
            Activity::Other(text) => {
                let squashed: String = text
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .flat_map(char::to_lowercase)
                    .collect();
                match squashed.as_str() {
                    "berightback" | "brb" => Status::BeRightBack,
                    _ => return None,
                }
            }
            _ => return None,
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status token that is not one of [`Status::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown status")]
pub struct UnknownStatus;

impl FromStr for Status {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, UnknownStatus> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or(UnknownStatus)
    }
}

/// A presence body format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `application/pidf+xml` (RFC 3863) with RPID.
    Pidf,
    /// `application/xpidf+xml`, what RTC and Windows Messenger clients exchange.
    Xpidf,
}

impl MediaKind {
    /// The media type.
    pub const fn content_type(self) -> &'static str {
        match self {
            MediaKind::Pidf => pidf::CONTENT_TYPE,
            MediaKind::Xpidf => xpidf::CONTENT_TYPE,
        }
    }

    /// The kind of a `Content-Type` value (parameters ignored, case-insensitive).
    ///
    /// ```
    /// use presence::MediaKind;
    /// assert_eq!(MediaKind::from_content_type("Application/PIDF+XML; charset=UTF-8"), Some(MediaKind::Pidf));
    /// assert_eq!(MediaKind::from_content_type("text/plain"), None);
    /// ```
    pub fn from_content_type(value: &str) -> Option<MediaKind> {
        let media = value.split(';').next().unwrap_or("").trim();
        [MediaKind::Pidf, MediaKind::Xpidf]
            .into_iter()
            .find(|k| k.content_type().eq_ignore_ascii_case(media))
    }

    /// The format to NOTIFY a watcher in, from its `Accept` header values: PIDF when accepted
    /// or when nothing is said (RFC 3856 §6.5: PIDF is the default), else XPIDF when
    /// accepted; `None` when neither is.
    ///
    /// ```
    /// use presence::MediaKind;
    /// assert_eq!(MediaKind::from_accept(["application/xpidf+xml"]), Some(MediaKind::Xpidf));
    /// assert_eq!(MediaKind::from_accept(Vec::<&str>::new()), Some(MediaKind::Pidf));
    /// assert_eq!(MediaKind::from_accept(["text/plain"]), None);
    /// ```
    pub fn from_accept<'a>(accept: impl IntoIterator<Item = &'a str>) -> Option<MediaKind> {
        let mut any = false;
        let mut xpidf = false;
        for value in accept {
            for item in value.split(',') {
                any = true;
                match MediaKind::from_content_type(item) {
                    Some(MediaKind::Pidf) => return Some(MediaKind::Pidf),
                    Some(MediaKind::Xpidf) => xpidf = true,
                    None => {}
                }
            }
        }
        match (any, xpidf) {
            (false, _) => Some(MediaKind::Pidf),
            (true, true) => Some(MediaKind::Xpidf),
            (true, false) => None,
        }
    }
}

/// Our own presence: the status and note we show watchers (`SetLocalPresenceInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalPresence {
    /// The status.
    pub status: Status,
    /// A free-text note; `None` and an empty note are the same.
    pub note: Option<String>,
}

impl LocalPresence {
    /// A presence with a status and an optional note.
    pub fn new(status: Status, note: Option<&str>) -> Self {
        LocalPresence {
            status,
            note: note.filter(|n| !n.is_empty()).map(str::to_owned),
        }
    }

    /// Our presence as a PIDF document for `entity` (the presentity URI): one tuple with the
    /// `basic` status, a note, and a `dm:person` with the RPID that says the status.
    pub fn to_pidf(&self, entity: &str) -> Presence {
        let mut person = Person {
            id: "p1".to_owned(),
            ..Person::default()
        };
        person.activities.extend(self.status.activity());
        if self.status == Status::Idle {
            person.user_input = Some(UserInput::IDLE);
        }
        let has_person = !person.activities.is_empty() || person.user_input.is_some();
        Presence {
            entity: entity.to_owned(),
            tuples: vec![Tuple {
                id: "t1".to_owned(),
                basic: Some(if self.status.is_open() {
                    Basic::Open
                } else {
                    Basic::Closed
                }),
                ..Tuple::default()
            }],
            notes: self.note().map(Note::new).into_iter().collect(),
            persons: if has_person { vec![person] } else { Vec::new() },
            devices: Vec::new(),
        }
    }

    /// Our presence as an XPIDF document for `entity`.
    pub fn to_xpidf(&self, entity: &str) -> Xpidf {
        Xpidf::for_status(entity, self.status, self.note())
    }

    /// The body to send (in a NOTIFY or PUBLISH) in format `kind`, with its content type.
    pub fn to_body(&self, entity: &str, kind: MediaKind) -> (&'static str, Bytes) {
        let xml = match kind {
            MediaKind::Pidf => self.to_pidf(entity).to_xml(),
            MediaKind::Xpidf => self.to_xpidf(entity).to_xml(),
        };
        (kind.content_type(), Bytes::from(xml))
    }

    fn note(&self) -> Option<&str> {
        self.note.as_deref().filter(|n| !n.is_empty())
    }
}

/// What a received presence document says about a presentity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePresence {
    /// The presentity the document is about (PIDF `entity`, XPIDF [`Xpidf::entity`]).
    pub entity: Box<str>,
    /// Its status, by the table on [`Status`].
    pub status: Status,
    /// Its note, if any (never empty).
    pub note: Option<Box<str>>,
}

/// Reads a presence body (a NOTIFY's) by its `Content-Type`.
///
/// Errors: [`Error::UnsupportedContentType`] for other types, else the document's error,
/// with line and column.
pub fn parse_body(content_type: &str, body: &[u8]) -> Result<RemotePresence> {
    match MediaKind::from_content_type(content_type) {
        Some(MediaKind::Pidf) => {
            let doc = Presence::parse(body)?;
            Ok(RemotePresence {
                status: doc.status(),
                note: doc.note().map(Box::from),
                entity: doc.entity.into(),
            })
        }
        Some(MediaKind::Xpidf) => {
            let doc = Xpidf::parse(body)?;
            Ok(RemotePresence {
                status: doc.status(),
                note: doc.note().map(Box::from),
                entity: doc.entity().into(),
            })
        }
        None => Err(Error::UnsupportedContentType(
            content_type.chars().take(128).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_both_formats() {
        for status in Status::ALL {
            for kind in [MediaKind::Pidf, MediaKind::Xpidf] {
                let (ct, body) =
                    LocalPresence::new(status, None).to_body("sip:a@example.com", kind);
                let seen = parse_body(ct, &body).unwrap();
                assert_eq!(seen.status, status, "{kind:?}");
                assert_eq!(&*seen.entity, "sip:a@example.com");
                assert_eq!(seen.note, None);
            }
        }
    }

    #[test]
    fn status_tokens_round_trip() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
        }
        assert_eq!("Online".parse::<Status>(), Err(UnknownStatus));
    }

    #[test]
    fn wider_reading_of_activities() {
        let other = |s: &str| Status::from_activity(&Activity::Other(s.to_owned()));
        assert_eq!(other("Be Right Back"), Some(Status::BeRightBack));
        assert_eq!(other("BRB"), Some(Status::BeRightBack));
        assert_eq!(other("gardening"), None);
        assert_eq!(
            Status::from_activity(&Activity::Meeting),
            Some(Status::Busy)
        );
        assert_eq!(
            Status::from_activity(&Activity::Dinner),
            Some(Status::OutToLunch)
        );
        assert_eq!(Status::from_activity(&Activity::Working), None);
    }

    #[test]
    fn unknown_content_type_is_an_error() {
        let err = parse_body("text/plain", b"hi").unwrap_err();
        assert!(matches!(err, Error::UnsupportedContentType(t) if t == "text/plain"));
    }

    #[test]
    fn empty_note_is_no_note() {
        assert_eq!(LocalPresence::new(Status::Online, Some("")).note, None);
        let me = LocalPresence {
            status: Status::Online,
            note: Some(String::new()),
        };
        let (ct, body) = me.to_body("sip:a@b", MediaKind::Pidf);
        assert_eq!(parse_body(ct, &body).unwrap().note, None);
    }
}
