//! Entity tags and the conditions built on them (RFC 4825 §7.11, RFC 9110 §13.1).

use std::fmt;

/// An entity tag as the server sent it in `ETag`, quotes (and any `W/`) included, so that it
/// goes back in `If-Match` exactly as received.
///
/// ```
/// use xcap::ETag;
/// let tag = ETag::new("xyz");
/// assert_eq!(tag.as_str(), "\"xyz\"");
/// assert_eq!(tag.opaque(), "xyz");
/// assert_eq!(ETag::from_header("W/\"a\"").opaque(), "a");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag(String);

impl ETag {
    /// The strong entity tag with this opaque value (quoted here).
    pub fn new(opaque: &str) -> Self {
        Self(format!("\"{opaque}\""))
    }

    /// An `ETag` header value as received, trimmed. A value without quotes (some servers send
    /// them bare) is quoted, so that a condition built from it is well-formed.
    pub fn from_header(value: &str) -> Self {
        let value = value.trim();
        let bare = value.strip_prefix("W/").unwrap_or(value);
        if bare.len() >= 2 && bare.starts_with('"') && bare.ends_with('"') {
            Self(value.to_owned())
        } else {
            Self::new(value)
        }
    }

    /// The header form, e.g. `"xyz"`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The opaque value between the quotes.
    pub fn opaque(&self) -> &str {
        let bare = self.0.strip_prefix("W/").unwrap_or(&self.0);
        bare.strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(bare)
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a request is conditional on (RFC 4825 §7.11: a client that modifies a document it read
/// sends `If-Match` with the ETag it read, so that another client's edit in between is never
/// overwritten; the server answers 412, [`Error::Conflict`](crate::Error::Conflict)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Condition {
    /// Unconditional.
    #[default]
    Always,
    /// `If-Match`: only if the document is still at this ETag.
    IfMatch(ETag),
    /// `If-None-Match`: a GET answers 304 ([`Fetched::NotModified`](crate::Fetched)) when
    /// the document is still at this ETag; a PUT or DELETE fails with 412 then.
    IfNoneMatch(ETag),
    /// `If-None-Match: *`: a PUT only creates, never replaces (412 when the document exists).
    IfAbsent,
}

impl Condition {
    /// The header to send, if any.
    pub(crate) fn header(&self) -> Option<(&'static str, &str)> {
        match self {
            Condition::Always => None,
            Condition::IfMatch(tag) => Some(("if-match", tag.as_str())),
            Condition::IfNoneMatch(tag) => Some(("if-none-match", tag.as_str())),
            Condition::IfAbsent => Some(("if-none-match", "*")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_tags_are_quoted_and_weak_tags_kept() {
        assert_eq!(ETag::from_header(" abc ").as_str(), "\"abc\"");
        assert_eq!(ETag::from_header("W/\"abc\"").as_str(), "W/\"abc\"");
        assert_eq!(ETag::from_header("\"\"").opaque(), "");
        assert_eq!(ETag::from_header("\"").as_str(), "\"\"\"");
    }

    #[test]
    fn conditions_name_their_headers() {
        let tag = ETag::new("1");
        assert_eq!(
            Condition::IfMatch(tag.clone()).header(),
            Some(("if-match", "\"1\""))
        );
        assert_eq!(
            Condition::IfNoneMatch(tag).header(),
            Some(("if-none-match", "\"1\""))
        );
        assert_eq!(Condition::IfAbsent.header(), Some(("if-none-match", "*")));
        assert_eq!(Condition::Always.header(), None);
    }
}
