//! Typed header views, parsed on demand from a [`Message`]'s stored text.
//!
//! Every accessor borrows from the message and allocates nothing. Error offsets count from the
//! start of the message.

pub(crate) mod address;
pub(crate) mod auth;
pub(crate) mod event;
pub(crate) mod simple;
pub(crate) mod via;

use crate::grammar::find_outside_quotes;
use crate::message::Header;
use crate::{
    CSeq, Challenge, Contact, ErrorKind, Event, HeaderName, MediaType, Message, NameAddr,
    ParseError, RetryAfter, SubscriptionState, Via,
};

/// Parses `header`'s value with `parse`, moving error offsets to message offsets.
fn typed<'a, T>(
    header: Header<'a>,
    parse: impl FnOnce(&'a [u8]) -> Result<T, ParseError>,
) -> Result<T, ParseError> {
    parse(header.value).map_err(|e| e.shifted(header.offset))
}

/// The comma-separated elements of one header value, each trimmed of white space (folding
/// included) and with its offset in the message.
fn elements<'a>(header: Header<'a>) -> impl Iterator<Item = Header<'a>> {
    let mut rest = Some((header.value, header.offset));
    std::iter::from_fn(move || {
        let (v, off) = rest?;
        let (piece, next) = match find_outside_quotes(v, b',') {
            Some(c) => (&v[..c], Some((&v[c + 1..], off + c + 1))),
            None => (v, None),
        };
        rest = next;
        let lead = piece.iter().take_while(|c| c.is_ascii_whitespace()).count();
        let value = piece[lead..].trim_ascii_end();
        Some(Header {
            value,
            offset: off + lead,
            ..header
        })
    })
}

/// [`Contact::parse`] of every element of one Contact header (as [`elements`] splits them),
/// `text` being its value as text. The usual element is read in one pass that stops at the comma
/// after it, so the list is not searched for commas first; anything else is split and parsed
/// as [`elements`] and [`Contact::parse`] do.
fn contact_elements<'a>(
    header: Header<'a>,
    text: Option<&'a str>,
) -> impl Iterator<Item = Result<Contact<'a>, ParseError>> {
    let mut next = Some(0);
    std::iter::from_fn(move || {
        let start = next?;
        let rest = header.value.get(start..)?;
        let lead = rest.iter().take_while(|c| c.is_ascii_whitespace()).count();
        let from = start + lead;
        if let Some((a, n)) = text
            .and_then(|t| t.get(from..))
            .and_then(address::plain_contact_first)
        {
            // It stopped at the end or at a comma, the first outside quotes and `<>`.
            next = (header.value.get(from + n) == Some(&b',')).then_some(from + n + 1);
            return Some(Ok(Contact::Address(a)));
        }
        let (piece, after) = match find_outside_quotes(rest, b',') {
            Some(c) => (&rest[..c], Some(start + c + 1)),
            None => (rest, None),
        };
        next = after;
        let value = piece.get(lead..).unwrap_or_default().trim_ascii_end();
        Some(typed(
            Header {
                value,
                offset: header.offset + from,
                ..header
            },
            Contact::parse,
        ))
    })
}

/// Panics unless [`contact_elements`] gives, for the Contact value `value`, what splitting it
/// with [`elements`] and parsing each piece with [`Contact::parse`] gives. For unit tests and
/// fuzzing.
#[cfg(any(test, fuzzing))]
pub(crate) fn assert_contact_elements_agree(value: &[u8]) {
    let header = Header {
        name: HeaderName::Contact,
        raw_name: b"Contact",
        value,
        offset: 0,
    };
    let one_pass: Vec<_> = contact_elements(header, std::str::from_utf8(value).ok()).collect();
    let split: Vec<_> = elements(header).map(|h| typed(h, Contact::parse)).collect();
    assert_eq!(one_pass, split, "{}", String::from_utf8_lossy(value));
}

impl Message {
    fn required(&self, name: HeaderName) -> Result<Header<'_>, ParseError> {
        // The error (and the body offset it needs) only when the header is missing.
        self.header(name).ok_or_else(|| {
            ParseError::new(
                ErrorKind::MissingHeader(name),
                self.as_bytes().len() - self.body().len(),
            )
        })
    }

    /// Every element of every `name` header, split at commas (outside quotes and `<>`).
    pub fn list(&self, name: HeaderName) -> impl Iterator<Item = Header<'_>> + '_ {
        self.headers_named(name).flat_map(elements)
    }

    /// Every element of every `name` header, parsed with `parse`.
    pub fn list_typed<'a, T: 'a>(
        &'a self,
        name: HeaderName,
        parse: impl Fn(&'a [u8]) -> Result<T, ParseError> + 'a,
    ) -> impl Iterator<Item = Result<T, ParseError>> + 'a {
        self.list(name).map(move |h| typed(h, &parse))
    }

    /// `header`'s value as text, if it is UTF-8, checked in aligned blocks
    /// ([`grammar::text_in`](crate::grammar::text_in)).
    #[inline]
    fn value_text<'a>(&'a self, header: &Header<'a>) -> Option<&'a str> {
        crate::grammar::text_in(self.as_bytes(), header.offset, header.value.len())
    }

    /// The topmost Via entry (the first element of the first Via header).
    pub fn top_via(&self) -> Result<Via<'_>, ParseError> {
        // Parsed straight from the value: no need to find where the first entry ends first.
        let h = self.required(HeaderName::Via)?;
        match self
            .value_text(&h)
            .and_then(|text| via::plain_via_text(text, true))
        {
            Some(v) => Ok(v),
            None => typed(h, |v| Via::parse_first_text(v, None)),
        }
    }

    /// All Via entries, top first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'_>, ParseError>> + '_ {
        self.list_typed(HeaderName::Via, Via::parse)
    }

    /// The From header.
    pub fn from_header(&self) -> Result<NameAddr<'_>, ParseError> {
        self.name_addr(self.required(HeaderName::From)?)
    }

    /// The To header.
    pub fn to_header(&self) -> Result<NameAddr<'_>, ParseError> {
        self.name_addr(self.required(HeaderName::To)?)
    }

    /// The From or To address `h`: the usual value read in one pass and returned as it is
    /// built, anything else by the grammar.
    #[inline(always)]
    fn name_addr<'a>(&'a self, h: Header<'a>) -> Result<NameAddr<'a>, ParseError> {
        match self
            .value_text(&h)
            .and_then(|text| address::plain_name_addr_text(text, false))
        {
            Some(a) => Ok(a),
            None => typed(h, |v| NameAddr::parse_text(v, None)),
        }
    }

    /// The Call-ID.
    pub fn call_id(&self) -> Result<&str, ParseError> {
        let h = self.required(HeaderName::CallId)?;
        let text = self.value_text(&h);
        typed(h, |v| crate::header::simple::call_id_text(v, text))
    }

    /// The CSeq header.
    pub fn cseq(&self) -> Result<CSeq<'_>, ParseError> {
        typed(self.required(HeaderName::CSeq)?, CSeq::parse)
    }

    /// Every Contact entry, in order.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'_>, ParseError>> + '_ {
        self.headers_named(HeaderName::Contact)
            .flat_map(|h| contact_elements(h, self.value_text(&h)))
    }

    /// Every Route entry, in order.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> + '_ {
        self.list_typed(HeaderName::Route, NameAddr::parse)
    }

    /// Every Record-Route entry, in order.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, ParseError>> + '_ {
        self.list_typed(HeaderName::RecordRoute, NameAddr::parse)
    }

    fn optional<'a, T>(
        &'a self,
        name: HeaderName,
        parse: impl FnOnce(&'a [u8]) -> Result<T, ParseError>,
    ) -> Option<Result<T, ParseError>> {
        self.header(name).map(|h| typed(h, parse))
    }

    /// Max-Forwards (0–255).
    pub fn max_forwards(&self) -> Option<Result<u8, ParseError>> {
        self.optional(HeaderName::MaxForwards, |v| {
            delta(v, "Max-Forwards above 255")
        })
    }

    /// Expires, in seconds.
    pub fn expires(&self) -> Option<Result<u32, ParseError>> {
        self.optional(HeaderName::Expires, |v| delta(v, "Expires exceeds 2**32-1"))
    }

    /// Min-Expires, in seconds.
    pub fn min_expires(&self) -> Option<Result<u32, ParseError>> {
        self.optional(HeaderName::MinExpires, |v| {
            delta(v, "Min-Expires exceeds 2**32-1")
        })
    }

    /// Content-Length as written (the body is framed by it already).
    pub fn content_length(&self) -> Option<Result<usize, ParseError>> {
        self.optional(HeaderName::ContentLength, |v| {
            delta(v, "Content-Length too large")
        })
    }

    /// Content-Type.
    pub fn content_type(&self) -> Option<Result<MediaType<'_>, ParseError>> {
        self.optional(HeaderName::ContentType, MediaType::parse)
    }

    /// Every Accept entry (an empty Accept header yields none: nothing is acceptable).
    pub fn accept(&self) -> impl Iterator<Item = Result<MediaType<'_>, ParseError>> + '_ {
        self.list(HeaderName::Accept)
            .filter(|h| !h.value.iter().all(u8::is_ascii_whitespace))
            .map(|h| typed(h, MediaType::parse))
    }

    /// The tokens of a token-list header: Allow, Allow-Events, Supported, Require,
    /// Proxy-Require, Unsupported.
    pub fn tokens(&self, name: HeaderName) -> impl Iterator<Item = Result<&str, ParseError>> + '_ {
        self.list(name)
            .filter(|h| !h.value.iter().all(u8::is_ascii_whitespace))
            .map(|h| typed(h, simple::list_token))
    }

    /// WWW-Authenticate challenges, in order.
    pub fn www_authenticate(&self) -> impl Iterator<Item = Result<Challenge<'_>, ParseError>> + '_ {
        self.headers_named(HeaderName::WwwAuthenticate)
            .map(|h| typed(h, Challenge::parse))
    }

    /// Proxy-Authenticate challenges, in order.
    pub fn proxy_authenticate(
        &self,
    ) -> impl Iterator<Item = Result<Challenge<'_>, ParseError>> + '_ {
        self.headers_named(HeaderName::ProxyAuthenticate)
            .map(|h| typed(h, Challenge::parse))
    }

    /// Authorization credentials, in order.
    pub fn authorization(&self) -> impl Iterator<Item = Result<Challenge<'_>, ParseError>> + '_ {
        self.headers_named(HeaderName::Authorization)
            .map(|h| typed(h, Challenge::parse))
    }

    /// Proxy-Authorization credentials, in order.
    pub fn proxy_authorization(
        &self,
    ) -> impl Iterator<Item = Result<Challenge<'_>, ParseError>> + '_ {
        self.headers_named(HeaderName::ProxyAuthorization)
            .map(|h| typed(h, Challenge::parse))
    }

    /// The Event header.
    pub fn event(&self) -> Option<Result<Event<'_>, ParseError>> {
        self.optional(HeaderName::Event, Event::parse)
    }

    /// The Subscription-State header.
    pub fn subscription_state(&self) -> Option<Result<SubscriptionState<'_>, ParseError>> {
        self.optional(HeaderName::SubscriptionState, SubscriptionState::parse)
    }

    /// SIP-ETag (RFC 3903).
    pub fn sip_etag(&self) -> Option<Result<&str, ParseError>> {
        self.optional(HeaderName::SipEtag, simple::list_token)
    }

    /// SIP-If-Match (RFC 3903).
    pub fn sip_if_match(&self) -> Option<Result<&str, ParseError>> {
        self.optional(HeaderName::SipIfMatch, simple::list_token)
    }

    /// Retry-After.
    pub fn retry_after(&self) -> Option<Result<RetryAfter<'_>, ParseError>> {
        self.optional(HeaderName::RetryAfter, RetryAfter::parse)
    }

    /// User-Agent text.
    pub fn user_agent(&self) -> Option<Result<&str, ParseError>> {
        self.optional(HeaderName::UserAgent, text)
    }

    /// Server text.
    pub fn server(&self) -> Option<Result<&str, ParseError>> {
        self.optional(HeaderName::Server, text)
    }
}

/// `1*DIGIT` that fits in `T`.
fn delta<T: TryFrom<u64>>(v: &[u8], what: &'static str) -> Result<T, ParseError> {
    crate::grammar::complete(v, crate::grammar::number::<T>(what))
}

/// UTF-8 text (User-Agent, Server, Subject …).
fn text(v: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(v).map_err(|e| ParseError::expected("UTF-8 text", e.valid_up_to()))
}

#[cfg(test)]
mod tests {
    use crate::*;
    use proptest::prelude::*;

    proptest! {
        /// The one-pass Contact list reader splits and parses as the comma split does.
        #[test]
        fn contact_elements_agree_with_the_split(
            pieces in prop::collection::vec(prop::sample::select(vec![
                "<sip:a@h>", "<sip:b@192.0.2.1:5060;transport=tcp>", "\"A, B\" ", "\"q\\\"\" ",
                ";expires=60", ";q=0.5", ";q=7", ";+sip.instance=\"<urn:x>\"", ";lr", ",", ", ",
                " ,", "*", " ", "\r\n ", "sip:c@h", "<sip:d@h;x=1,2>", "<", ">", "\"", ";", "=",
                "é", "\u{80}",
            ]), 0..8),
        ) {
            super::assert_contact_elements_agree(pieces.concat().as_bytes());
        }
    }

    #[test]
    fn lists_split_at_top_level_commas_only() {
        let m = Message::parse_slice(
            b"SIP/2.0 200 OK\r\nContact: \"a,b\" <sip:a@h;x=1,2>, <sip:b@h>\r\nm: sip:c@h\r\n\
              Allow: INVITE, ACK,\r\n OPTIONS\r\nAccept:\r\n\r\n",
        )
        .unwrap();
        let c: Vec<_> = m
            .contacts()
            .map(|c| c.unwrap().address().unwrap().uri_str())
            .collect();
        assert_eq!(c, ["sip:a@h;x=1,2", "sip:b@h", "sip:c@h"]);
        let allow: Vec<_> = m.tokens(HeaderName::Allow).map(Result::unwrap).collect();
        let raw: Vec<_> = m.list(HeaderName::Allow).map(|h| h.value).collect();
        assert_eq!(raw, [&b"INVITE"[..], b"ACK", b"OPTIONS"]);
        assert_eq!(allow, ["INVITE", "ACK", "OPTIONS"]);
        assert_eq!(m.accept().count(), 0);
    }

    #[test]
    fn errors_point_into_the_message() {
        let m = Message::parse_slice(b"OPTIONS sip:a SIP/2.0\r\nCSeq: x OPTIONS\r\n\r\n").unwrap();
        assert_eq!(m.cseq().unwrap_err(), ParseError::expected("digits", 29));
        assert_eq!(
            m.call_id().unwrap_err().kind,
            ErrorKind::MissingHeader(HeaderName::CallId)
        );
        assert_eq!(m.max_forwards(), None);
    }
}
