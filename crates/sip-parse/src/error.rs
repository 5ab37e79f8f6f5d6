//! The one error type of the crate: what was wrong, and at which byte.

use crate::HeaderName;

/// What went wrong while parsing.
///
/// Every variant is a plain value (`Copy`), cheap to return on the hot path and easy to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The grammar wanted this here (e.g. `"CRLF"`, `"token"`, `"3-digit status code"`).
    #[error("expected {0}")]
    Expected(&'static str),
    /// Syntactically well-formed but semantically wrong (e.g. a CSeq method that does not match).
    #[error("{0}")]
    Invalid(&'static str),
    /// A header the message or the caller needs is absent.
    #[error("missing {0} header")]
    MissingHeader(HeaderName),
    /// The header section or the body ends before it should (datagram parsing).
    #[error("message truncated: {0}")]
    Truncated(&'static str),
    /// A configured limit (see [`ParseConfig`](crate::ParseConfig)) was exceeded.
    #[error("limit exceeded: {0}")]
    Limit(&'static str),
}

/// A parse or validation error: what was wrong ([`ErrorKind`]) and the byte offset where it was
/// found, counted from the start of the input given to the parser.
///
/// ```
/// let err = sip_parse::Message::parse_slice(b"INVITE  sip:a@b SIP/2.0\r\n\r\n").unwrap_err();
/// assert_eq!(err.offset, 7);
/// assert_eq!(err.to_string(), "at byte 7: expected Request-URI");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at byte {offset}: {kind}")]
pub struct ParseError {
    /// What was wrong.
    pub kind: ErrorKind,
    /// Byte offset into the parsed input.
    pub offset: usize,
}

impl ParseError {
    /// A new error of `kind` at `offset`.
    pub const fn new(kind: ErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    pub(crate) const fn expected(what: &'static str, offset: usize) -> Self {
        Self::new(ErrorKind::Expected(what), offset)
    }

    pub(crate) const fn invalid(what: &'static str, offset: usize) -> Self {
        Self::new(ErrorKind::Invalid(what), offset)
    }

    /// The same error moved `by` bytes further, for errors found in a slice of a larger input.
    #[must_use]
    pub const fn shifted(self, by: usize) -> Self {
        Self::new(self.kind, self.offset + by)
    }
}
