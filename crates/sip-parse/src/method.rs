//! Request methods: the ones in use by this stack's RFCs, and any extension token.

use std::fmt;

/// A request method (RFC 3261 §7.1: case-sensitive token). Extension methods keep their text.
///
/// ```
/// use sip_parse::Method;
/// assert_eq!(Method::from_token("SUBSCRIBE"), Method::Subscribe);
/// assert_eq!(Method::from_token("subscribe"), Method::Extension("subscribe"));
/// assert_eq!(Method::Message.as_str(), "MESSAGE");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    /// `ACK` (RFC 3261)
    Ack,
    /// `BYE` (RFC 3261)
    Bye,
    /// `CANCEL` (RFC 3261)
    Cancel,
    /// `INFO` (RFC 6086)
    Info,
    /// `INVITE` (RFC 3261)
    Invite,
    /// `MESSAGE` (RFC 3428)
    Message,
    /// `NOTIFY` (RFC 6665)
    Notify,
    /// `OPTIONS` (RFC 3261)
    Options,
    /// `PRACK` (RFC 3262)
    Prack,
    /// `PUBLISH` (RFC 3903)
    Publish,
    /// `REFER` (RFC 3515)
    Refer,
    /// `REGISTER` (RFC 3261)
    Register,
    /// `SUBSCRIBE` (RFC 6665)
    Subscribe,
    /// `UPDATE` (RFC 3311)
    Update,
    /// Any other method token.
    Extension(&'a str),
}

impl<'a> Method<'a> {
    /// The method named by `token` (no syntax check: use on validated text).
    pub fn from_token(token: &'a str) -> Self {
        Method::known(token.as_bytes()).unwrap_or(Self::Extension(token))
    }

    /// The method `token` names, unless it is an extension: bytes need no UTF-8 check for this.
    pub(crate) fn known(token: &[u8]) -> Option<Method<'static>> {
        Some(match token {
            b"ACK" => Method::Ack,
            b"BYE" => Method::Bye,
            b"CANCEL" => Method::Cancel,
            b"INFO" => Method::Info,
            b"INVITE" => Method::Invite,
            b"MESSAGE" => Method::Message,
            b"NOTIFY" => Method::Notify,
            b"OPTIONS" => Method::Options,
            b"PRACK" => Method::Prack,
            b"PUBLISH" => Method::Publish,
            b"REFER" => Method::Refer,
            b"REGISTER" => Method::Register,
            b"SUBSCRIBE" => Method::Subscribe,
            b"UPDATE" => Method::Update,
            _ => return None,
        })
    }

    /// The method's text.
    pub fn as_str(&self) -> &'a str {
        match self {
            Self::Ack => "ACK",
            Self::Bye => "BYE",
            Self::Cancel => "CANCEL",
            Self::Info => "INFO",
            Self::Invite => "INVITE",
            Self::Message => "MESSAGE",
            Self::Notify => "NOTIFY",
            Self::Options => "OPTIONS",
            Self::Prack => "PRACK",
            Self::Publish => "PUBLISH",
            Self::Refer => "REFER",
            Self::Register => "REGISTER",
            Self::Subscribe => "SUBSCRIBE",
            Self::Update => "UPDATE",
            Self::Extension(t) => t,
        }
    }
}

impl fmt::Display for Method<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
