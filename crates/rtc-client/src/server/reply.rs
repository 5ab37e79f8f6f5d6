//! A response the server makes itself, before it is written against its request.

use sip_parse::{Message, MessageBuilder, ParseError};

/// A locally generated response: status, reason and the extra header fields (challenges,
/// Contact bindings, Min-Expires, Unsupported, Allow …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub(crate) fn new(code: u16, reason: &'static str) -> Self {
        Self {
            code,
            reason,
            headers: Vec::new(),
        }
    }

    #[must_use]
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The response to `request` (RFC 3261 §8.2.6), To tagged with `tag`.
    pub(crate) fn build(&self, request: &Message, tag: &str) -> Result<Message, ParseError> {
        let mut b = MessageBuilder::response_to(request, self.code, self.reason, Some(tag))?;
        for (name, value) in &self.headers {
            b = b.header(name, value)?;
        }
        Message::parse(b.build())
    }
}
