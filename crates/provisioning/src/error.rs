//! The crate's one error type, with the place in the document it refers to.

use std::fmt;

/// A place in a profile document: 1-based line and 1-based column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    /// Line number, starting at 1.
    pub line: u32,
    /// Column number in Unicode scalar values, starting at 1.
    pub column: u32,
}

impl Position {
    /// The position of byte `offset` in `text` (clamped to the end of `text`).
    ///
    /// Linear in `offset`; the parser calls it only once, when it fails.
    pub fn at_offset(text: &str, offset: usize) -> Self {
        let bytes = text.as_bytes();
        let prefix = bytes.get(..offset.min(bytes.len())).unwrap_or(bytes);
        let mut line: u32 = 1;
        let mut column: u32 = 1;
        for &b in prefix {
            if b == b'\n' {
                line = line.saturating_add(1);
                column = 1;
            } else if b & 0xC0 != 0x80 {
                // Count characters, not bytes: skip UTF-8 continuation bytes.
                column = column.saturating_add(1);
            }
        }
        Position { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why a provisioning document was refused.
///
/// The first fifteen variants, and [`Error::BasicAuthWithoutTls`], are the RTC Client API's
/// profile errors one for one ([`Error::hresult`] gives the original code); the others are
/// XML and data-type errors. Every variant says where, as [`Position`] (`at`).
///
/// No variant ever carries the user's password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The document element is not `provision` (`RTC_E_PROFILE_NO_PROVISION`).
    #[error("{at}: no <provision> element")]
    NoProvision {
        /// Where the document element (or the end of an empty document) is.
        at: Position,
    },
    /// `provision` lacks its `key` (`RTC_E_PROFILE_NO_KEY`).
    #[error("{at}: <provision> has no key")]
    NoKey {
        /// The `provision` start tag.
        at: Position,
    },
    /// `provision` lacks its `name` (`RTC_E_PROFILE_NO_NAME`).
    #[error("{at}: <provision> has no name")]
    NoName {
        /// The `provision` start tag.
        at: Position,
    },
    /// `provision` has no `user` element (`RTC_E_PROFILE_NO_USER`).
    #[error("{at}: <provision> has no <user>")]
    NoUser {
        /// The `provision` start tag.
        at: Position,
    },
    /// `user` lacks its `uri` (`RTC_E_PROFILE_NO_USER_URI`).
    #[error("{at}: <user> has no uri")]
    NoUserUri {
        /// The `user` start tag.
        at: Position,
    },
    /// `provision` has no `sipsrv` element (`RTC_E_PROFILE_NO_SERVER`).
    #[error("{at}: <provision> has no <sipsrv>")]
    NoServer {
        /// The `provision` start tag.
        at: Position,
    },
    /// `sipsrv` lacks its `addr` (`RTC_E_PROFILE_NO_SERVER_ADDRESS`).
    #[error("{at}: <sipsrv> has no addr")]
    NoServerAddress {
        /// The `sipsrv` start tag.
        at: Position,
    },
    /// `sipsrv` lacks its `protocol` (`RTC_E_PROFILE_NO_SERVER_PROTOCOL`).
    #[error("{at}: <sipsrv> has no protocol")]
    NoServerProtocol {
        /// The `sipsrv` start tag.
        at: Position,
    },
    /// `protocol` is not TCP, UDP or TLS (`RTC_E_PROFILE_INVALID_SERVER_PROTOCOL`).
    #[error("{at}: invalid server protocol {value:?} (expected TCP, UDP or TLS)")]
    InvalidServerProtocol {
        /// The value found.
        value: String,
        /// The attribute value.
        at: Position,
    },
    /// `auth` is not basic or digest (`RTC_E_PROFILE_INVALID_SERVER_AUTHMETHOD`).
    #[error("{at}: invalid server auth method {value:?} (expected basic or digest)")]
    InvalidAuthMethod {
        /// The value found.
        value: String,
        /// The attribute value.
        at: Position,
    },
    /// `role` is missing or not proxy or registrar (`RTC_E_PROFILE_INVALID_SERVER_ROLE`).
    #[error(
        "{at}: invalid server role {} (expected proxy or registrar)",
        quoted_or_missing(value)
    )]
    InvalidServerRole {
        /// The value found; `None` when the attribute is missing.
        value: Option<String>,
        /// The attribute value, or the `sipsrv` start tag when it is missing.
        at: Position,
    },
    /// A second `sipsrv` with role registrar (`RTC_E_PROFILE_MULTIPLE_REGISTRARS`).
    #[error("{at}: more than one registrar server")]
    MultipleRegistrars {
        /// The second registrar's start tag.
        at: Position,
    },
    /// A `session` whose party and type cannot go together (`RTC_E_PROFILE_INVALID_SESSION`):
    /// phone-to-phone is always third-party call control, instant messages never are.
    #[error("{at}: invalid session: party {party} cannot carry type {session_type}")]
    InvalidSession {
        /// The party given.
        party: crate::SessionParty,
        /// The type given.
        session_type: crate::SessionType,
        /// The `session` start tag.
        at: Position,
    },
    /// `party` is missing or not first or third (`RTC_E_PROFILE_INVALID_SESSION_PARTY`).
    #[error(
        "{at}: invalid session party {} (expected first or third)",
        quoted_or_missing(value)
    )]
    InvalidSessionParty {
        /// The value found; `None` when the attribute is missing.
        value: Option<String>,
        /// The attribute value, or the `session` start tag when it is missing.
        at: Position,
    },
    /// `type` is missing or not pc2pc, pc2ph, ph2ph or im (`RTC_E_PROFILE_INVALID_SESSION_TYPE`).
    #[error(
        "{at}: invalid session type {} (expected pc2pc, pc2ph, ph2ph or im)",
        quoted_or_missing(value)
    )]
    InvalidSessionType {
        /// The value found; `None` when the attribute is missing.
        value: Option<String>,
        /// The attribute value, or the `session` start tag when it is missing.
        at: Position,
    },
    /// `auth="basic"` on a server not reached over TLS (`RTC_E_BASIC_AUTH_SET_TLS`): the
    /// password would cross the network in clear text.
    #[error("{at}: basic auth requires protocol TLS")]
    BasicAuthWithoutTls {
        /// The `auth` attribute value.
        at: Position,
    },

    /// The document is not well-formed XML (`RTC_E_MALFORMED_XML`).
    #[error("{at}: malformed XML: {message}")]
    Xml {
        /// What is wrong.
        message: String,
        /// Where the parser noticed.
        at: Position,
    },
    /// A document type declaration: refused, so no entity is ever declared or expanded.
    #[error("{at}: DOCTYPE is not allowed in a profile")]
    Doctype {
        /// The `<!DOCTYPE`.
        at: Position,
    },
    /// The document is longer than [`Limits::max_size`](crate::Limits::max_size).
    #[error("{at}: profile larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
        /// Where the limit was crossed.
        at: Position,
    },
    /// Elements nest deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("{at}: elements nested deeper than {limit}")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// The start tag that crossed it.
        at: Position,
    },
    /// An element the schema does not allow here (closed content model).
    #[error("{at}: unexpected element <{name}> in <{parent}>")]
    UnknownElement {
        /// The element found.
        name: String,
        /// The element it is in (empty at document level).
        parent: &'static str,
        /// Its start tag.
        at: Position,
    },
    /// An element allowed at most once appears again.
    #[error("{at}: <{name}> may appear only once in <{parent}>")]
    DuplicateElement {
        /// The repeated element.
        name: &'static str,
        /// The element it is in.
        parent: &'static str,
        /// The second start tag.
        at: Position,
    },
    /// An attribute the schema does not define on this element (closed content model).
    #[error("{at}: unknown attribute {name:?} on <{element}>")]
    UnknownAttribute {
        /// The attribute found.
        name: String,
        /// The element.
        element: &'static str,
        /// The attribute name.
        at: Position,
    },
    /// The same attribute twice on one element.
    #[error("{at}: duplicate attribute {name:?} on <{element}>")]
    DuplicateAttribute {
        /// The attribute.
        name: String,
        /// The element (`data` for any element inside open content).
        element: &'static str,
        /// The second occurrence.
        at: Position,
    },
    /// A required attribute that has no RTC-specific error of its own.
    #[error("{at}: <{element}> has no {attribute}")]
    MissingAttribute {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
        /// The start tag.
        at: Position,
    },
    /// Character data in an element whose content is elements only.
    #[error("{at}: text is not allowed in <{element}>")]
    UnexpectedText {
        /// The element.
        element: &'static str,
        /// The start of the text.
        at: Position,
    },
    /// `expires` is not a `dateTime.tz` (`YYYY-MM-DD[Thh:mm[:ss[.f…]]][Z|±hh:mm]`).
    #[error("{at}: invalid dateTime.tz {value:?}")]
    InvalidDateTime {
        /// The value found.
        value: String,
        /// The attribute value.
        at: Position,
    },
    /// A boolean attribute is not 0, 1, true or false.
    #[error("{at}: invalid boolean {value:?} for {attribute} (expected 0 or 1)")]
    InvalidBoolean {
        /// The attribute.
        attribute: &'static str,
        /// The value found.
        value: String,
        /// The attribute value.
        at: Position,
    },
    /// A version is not a `fixed.14.4` number.
    #[error("{at}: invalid fixed.14.4 number {value:?} for {attribute}")]
    InvalidFixed {
        /// The attribute.
        attribute: &'static str,
        /// The value found.
        value: String,
        /// The attribute value.
        at: Position,
    },
    /// A `uri` attribute is not an absolute URI.
    #[error("{at}: invalid URI {value:?} for {attribute}")]
    InvalidUri {
        /// The attribute.
        attribute: &'static str,
        /// The value found.
        value: String,
        /// The attribute value.
        at: Position,
    },
    /// The user URI has a scheme other than sip: or sips:, or no host.
    #[error("{at}: invalid user URI {value:?} (expected sip:user@host or sips:user@host)")]
    InvalidUserUri {
        /// The value found.
        value: String,
        /// The attribute value.
        at: Position,
    },
    /// A server address is not `host[:port]` (IPv6 in brackets).
    #[error("{at}: invalid server address {value:?} (expected host[:port])")]
    InvalidServerAddress {
        /// The value found.
        value: String,
        /// The attribute value.
        at: Position,
    },
}

fn quoted_or_missing(value: &Option<String>) -> String {
    match value {
        Some(v) => format!("{v:?}"),
        None => "(missing)".to_owned(),
    }
}

impl Error {
    /// Where in the document the error is.
    pub fn position(&self) -> Position {
        match self {
            Error::NoProvision { at }
            | Error::NoKey { at }
            | Error::NoName { at }
            | Error::NoUser { at }
            | Error::NoUserUri { at }
            | Error::NoServer { at }
            | Error::NoServerAddress { at }
            | Error::NoServerProtocol { at }
            | Error::InvalidServerProtocol { at, .. }
            | Error::InvalidAuthMethod { at, .. }
            | Error::InvalidServerRole { at, .. }
            | Error::MultipleRegistrars { at }
            | Error::InvalidSession { at, .. }
            | Error::InvalidSessionParty { at, .. }
            | Error::InvalidSessionType { at, .. }
            | Error::BasicAuthWithoutTls { at }
            | Error::Xml { at, .. }
            | Error::Doctype { at }
            | Error::TooLarge { at, .. }
            | Error::TooDeep { at, .. }
            | Error::UnknownElement { at, .. }
            | Error::DuplicateElement { at, .. }
            | Error::UnknownAttribute { at, .. }
            | Error::DuplicateAttribute { at, .. }
            | Error::MissingAttribute { at, .. }
            | Error::UnexpectedText { at, .. }
            | Error::InvalidDateTime { at, .. }
            | Error::InvalidBoolean { at, .. }
            | Error::InvalidFixed { at, .. }
            | Error::InvalidUri { at, .. }
            | Error::InvalidUserUri { at, .. }
            | Error::InvalidServerAddress { at, .. } => *at,
        }
    }

    /// The message without the position prefix (for `LINE:COL: MESSAGE` output).
    pub fn message(&self) -> String {
        let full = self.to_string();
        let prefix = format!("{}: ", self.position());
        match full.strip_prefix(&prefix) {
            Some(rest) => rest.to_owned(),
            None => full,
        }
    }

    /// The RTC Client API `HRESULT` this error corresponds to (from `rtcerr.h`).
    ///
    /// XML errors map to `RTC_E_MALFORMED_XML`; the remaining schema and data-type errors,
    /// which the RTC API reported without a specific code, to `RTC_E_INVALID_PROFILE`.
    pub fn hresult(&self) -> u32 {
        match self {
            Error::NoProvision { .. } => 0x80EE_002F,
            Error::NoKey { .. } => 0x80EE_0030,
            Error::NoName { .. } => 0x80EE_0031,
            Error::NoUser { .. } => 0x80EE_0032,
            Error::NoUserUri { .. } => 0x80EE_0033,
            Error::NoServer { .. } => 0x80EE_0034,
            Error::NoServerAddress { .. } => 0x80EE_0035,
            Error::NoServerProtocol { .. } => 0x80EE_0036,
            Error::InvalidServerProtocol { .. } => 0x80EE_0037,
            Error::InvalidAuthMethod { .. } => 0x80EE_0038,
            Error::InvalidServerRole { .. } => 0x80EE_0039,
            Error::MultipleRegistrars { .. } => 0x80EE_003A,
            Error::InvalidSession { .. } => 0x80EE_003B,
            Error::InvalidSessionParty { .. } => 0x80EE_003C,
            Error::InvalidSessionType { .. } => 0x80EE_003D,
            Error::BasicAuthWithoutTls { .. } => 0x80EE_003F,
            Error::Xml { .. } | Error::Doctype { .. } | Error::TooDeep { .. } => 0x80EE_004C,
            _ => 0x80EE_002E,
        }
    }
}

/// A profile used after its `expires` time (reported when the profile is enabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("profile expired at {expires}")]
pub struct Expired {
    /// The profile's `expires` value.
    pub expires: crate::DateTimeTz,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_counts_lines_and_characters() {
        let text = "ab\nçd\n";
        assert_eq!(
            Position::at_offset(text, 0),
            Position { line: 1, column: 1 }
        );
        assert_eq!(
            Position::at_offset(text, 3),
            Position { line: 2, column: 1 }
        );
        // 'ç' is two bytes but one column.
        assert_eq!(
            Position::at_offset(text, 5),
            Position { line: 2, column: 2 }
        );
        assert_eq!(
            Position::at_offset(text, 999),
            Position { line: 3, column: 1 }
        );
    }

    #[test]
    fn message_strips_position() {
        let e = Error::NoKey {
            at: Position { line: 3, column: 7 },
        };
        assert_eq!(e.to_string(), "3:7: <provision> has no key");
        assert_eq!(e.message(), "<provision> has no key");
        assert_eq!(e.hresult(), 0x80EE_0030);
    }
}
