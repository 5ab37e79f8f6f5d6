//! `Message::validate`: what a tolerant parse lets through but RFC 3261 forbids.

use crate::{
    Challenge, Date, ErrorKind, HeaderName, Message, ParseError, SubscriptionState, Uri, Warning,
};

/// Headers that carry one value and may appear once (RFC 3261 §7.3.1, RFC 4475 §3.3.8).
const SINGLE: [HeaderName; 7] = [
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
    HeaderName::ContentType,
    HeaderName::Expires,
];

/// Headers every request and response carries (RFC 3261 §8.1.1; Max-Forwards is left out so
/// RFC 2543 messages stay valid, RFC 4475 §3.4.1).
const REQUIRED: [HeaderName; 5] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
];

impl Message {
    /// Checks the message beyond framing: the Request-URI, the presence and single occurrence of
    /// the core headers, the grammar and ranges of every header this crate knows, the CSeq
    /// method, and a Content-Type for a non-empty body. Returns the first problem, with the byte
    /// offset where it is.
    ///
    /// ```
    /// let msg = sip_parse::Message::parse_slice(
    ///     b"OPTIONS sip:user@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n\
    ///       To: <sip:user@example.com>\r\nFrom: <sip:caller@example.net>;tag=3\r\n\
    ///       Call-ID: mismatch01\r\nCSeq: 8 INVITE\r\nl: 0\r\n\r\n",
    /// )?;
    /// let err = msg.validate().unwrap_err();
    /// assert_eq!(err.to_string(), "at byte 167: CSeq method does not match the request method");
    /// # Ok::<(), sip_parse::ParseError>(())
    /// ```
    pub fn validate(&self) -> Result<(), ParseError> {
        self.validate_start_line()?;
        let header_end = self.as_bytes().len() - self.body().len();
        for name in REQUIRED {
            if self.header(name).is_none() {
                return Err(ParseError::new(ErrorKind::MissingHeader(name), header_end));
            }
        }
        for name in SINGLE {
            if let Some(second) = self.headers_named(name).nth(1) {
                return Err(ParseError::invalid(
                    "header must appear only once",
                    second.offset,
                ));
            }
        }
        for h in self.headers() {
            self.validate_header(h.name, h.value)
                .map_err(|e| e.shifted(h.offset))?;
        }
        let cseq = self.cseq()?;
        if let Some(method) = self.method()
            && cseq.method != method
        {
            let at = self.header(HeaderName::CSeq).map_or(0, |h| h.offset);
            return Err(ParseError::invalid(
                "CSeq method does not match the request method",
                at,
            ));
        }
        for via in self.vias() {
            via?;
        }
        for c in self.contacts() {
            if let Some(a) = c?.address() {
                self.uri_at(a.uri_str())?;
            }
        }
        for r in self.routes().chain(self.record_routes()) {
            self.uri_at(r?.uri_str())?;
        }
        for a in [self.from_header()?, self.to_header()?] {
            self.uri_at(a.uri_str())?;
        }
        if !self.body().is_empty() && self.header(HeaderName::ContentType).is_none() {
            // RFC 3261 §20.15: a non-empty body needs its type.
            return Err(ParseError::new(
                ErrorKind::MissingHeader(HeaderName::ContentType),
                header_end,
            ));
        }
        Ok(())
    }

    fn validate_start_line(&self) -> Result<(), ParseError> {
        let Some(text) = self.request_uri() else {
            return Ok(());
        };
        let at = self
            .start_line()
            .iter()
            .position(|&c| c == b' ')
            .map_or(0, |p| p + 1);
        let uri = Uri::parse(text).map_err(|e| e.shifted(at))?;
        if let Uri::Sip(sip) = uri
            && let Some(h) = sip.headers
        {
            // RFC 3261 §19.1.1 table: headers are not allowed in a Request-URI.
            let pos = at + text.len() - h.len() - 1;
            return Err(ParseError::invalid(
                "headers are not allowed in a Request-URI",
                pos,
            ));
        }
        Ok(())
    }

    /// Parses a URI found in this message's header text, reporting errors at its offset.
    fn uri_at(&self, uri: &str) -> Result<(), ParseError> {
        let at = crate::grammar::offset_in(self.as_bytes(), uri.as_bytes());
        Uri::parse(uri).map(|_| ()).map_err(|e| e.shifted(at))
    }

    fn validate_header(&self, name: HeaderName, v: &[u8]) -> Result<(), ParseError> {
        let number =
            |what| crate::grammar::complete(v, crate::grammar::number::<u32>(what)).map(|_| ());
        match name {
            HeaderName::From | HeaderName::To => crate::NameAddr::parse(v).map(|_| ()),
            HeaderName::CallId => crate::call_id(v).map(|_| ()),
            HeaderName::CSeq => crate::CSeq::parse(v).map(|_| ()),
            HeaderName::MaxForwards => {
                crate::grammar::complete(v, crate::grammar::number::<u8>("Max-Forwards above 255"))
                    .map(|_| ())
            }
            HeaderName::Expires => number("Expires exceeds 2**32-1"),
            HeaderName::MinExpires => number("Min-Expires exceeds 2**32-1"),
            HeaderName::ContentType => crate::MediaType::parse(v).map(|_| ()),
            HeaderName::RetryAfter => crate::RetryAfter::parse(v).map(|_| ()),
            HeaderName::Event => crate::Event::parse(v).map(|_| ()),
            HeaderName::SubscriptionState => SubscriptionState::parse(v).map(|_| ()),
            HeaderName::Date => Date::parse(v).map(|_| ()),
            HeaderName::WwwAuthenticate
            | HeaderName::ProxyAuthenticate
            | HeaderName::Authorization
            | HeaderName::ProxyAuthorization => Challenge::parse(v).map(|_| ()),
            HeaderName::SipEtag | HeaderName::SipIfMatch => {
                crate::header::simple::list_token(v).map(|_| ())
            }
            HeaderName::Warning => each_element(v, |e| Warning::parse(e).map(|_| ())),
            HeaderName::Accept => each_element(v, |e| {
                if e.is_empty() {
                    Ok(())
                } else {
                    crate::MediaType::parse(e).map(|_| ())
                }
            }),
            HeaderName::Allow
            | HeaderName::AllowEvents
            | HeaderName::Supported
            | HeaderName::Require
            | HeaderName::ProxyRequire
            | HeaderName::Unsupported => each_element(v, |e| {
                if e.is_empty() {
                    Ok(())
                } else {
                    crate::header::simple::list_token(e).map(|_| ())
                }
            }),
            _ => Ok(()),
        }
    }
}

/// Runs `check` on each comma-separated element of `v` (trimmed), with offsets into `v`.
fn each_element(
    v: &[u8],
    check: impl Fn(&[u8]) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let mut start = 0;
    loop {
        let end = crate::grammar::find_outside_quotes(&v[start..], b',').map(|n| start + n);
        let piece = &v[start..end.unwrap_or(v.len())];
        let lead = piece.iter().take_while(|c| c.is_ascii_whitespace()).count();
        let trimmed = piece[lead..].trim_ascii_end();
        check(trimmed).map_err(|e| e.shifted(start + lead))?;
        match end {
            Some(e) => start = e + 1,
            None => return Ok(()),
        }
    }
}
