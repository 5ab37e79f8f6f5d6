//! Building outgoing requests and responses into `BytesMut`.

use bytes::{BufMut, Bytes, BytesMut};

use crate::chars::{self, TOKEN};
use crate::{ErrorKind, HeaderName, Message, Method, ParseError};

/// Writes a request or response: start line, headers in the order added, then
/// `Content-Length` (always computed, never taken from the caller) and the body.
///
/// Each header is checked when added: the name must be a token and the value a single line, so
/// nothing a caller passes can inject a header or break framing. Errors are [`ParseError`]s
/// whose offset points into the offending argument.
///
/// ```
/// use sip_parse::{MessageBuilder, Method};
/// let wire = MessageBuilder::request(Method::Register, "sip:example.com")
///     .header("To", "<sip:alice@example.com>")?
///     .build();
/// assert!(wire.ends_with(b"To: <sip:alice@example.com>\r\nContent-Length: 0\r\n\r\n"));
/// assert!(MessageBuilder::request(Method::Register, "sip:example.com")
///     .header("To", "x\r\nInjected: yes").is_err());
/// assert!(MessageBuilder::request(Method::Register, "sip:example.com")
///     .header("Content-Length", "10").is_err());
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct MessageBuilder {
    buf: BytesMut,
    body: Bytes,
    error: Option<ParseError>,
}

impl MessageBuilder {
    fn with_start_line(capacity: usize) -> Self {
        Self {
            buf: BytesMut::with_capacity(capacity),
            body: Bytes::new(),
            error: None,
        }
    }

    /// A request line `METHOD uri SIP/2.0`. A Request-URI with white space or control
    /// characters is reported by [`MessageBuilder::try_build`] (and makes `build` write an
    /// empty message).
    pub fn request(method: Method<'_>, uri: &str) -> Self {
        let mut b = Self::with_start_line(512);
        if chars::span(method.as_str().as_bytes(), TOKEN) != method.as_str().len()
            || method.as_str().is_empty()
        {
            b.error = Some(ParseError::expected("method token", 0));
        } else if let Some(bad) = uri.bytes().position(|c| c <= b' ' || c == 0x7f) {
            b.error = Some(ParseError::expected("Request-URI without white space", bad));
        }
        b.buf.put_slice(method.as_str().as_bytes());
        b.buf.put_u8(b' ');
        b.buf.put_slice(uri.as_bytes());
        b.buf.put_slice(b" SIP/2.0\r\n");
        b
    }

    /// A status line `SIP/2.0 code reason`.
    pub fn response(code: u16, reason: &str) -> Self {
        let mut b = Self::with_start_line(512);
        if !(100..=699).contains(&code) {
            b.error = Some(ParseError::invalid("status code outside 100-699", 0));
        } else if let Some(bad) = reason.bytes().position(|c| c == b'\r' || c == b'\n') {
            b.error = Some(ParseError::expected("reason phrase without CR/LF", bad));
        }
        b.buf.put_slice(b"SIP/2.0 ");
        let mut digits = [b'0'; 3];
        let mut c = code.min(999);
        for d in digits.iter_mut().rev() {
            *d = b'0' + (c % 10) as u8;
            c /= 10;
        }
        b.buf.put_slice(&digits);
        b.buf.put_u8(b' ');
        b.buf.put_slice(reason.as_bytes());
        b.buf.put_slice(b"\r\n");
        b
    }

    /// A response to `request` (RFC 3261 §8.2.6): copies every Via in order, From, To, Call-ID
    /// and CSeq. When `to_tag` is given and To has no tag yet, the tag is added (a UAS must tag
    /// every response but 100 Trying, §8.2.6.2). Record-Route is copied into 1xx/2xx answers so a
    /// dialog-creating response carries the route set (§12.1.1).
    pub fn response_to(
        request: &Message,
        code: u16,
        reason: &str,
        to_tag: Option<&str>,
    ) -> Result<Self, ParseError> {
        let mut b = Self::response(code, reason);
        for h in request.headers_named(HeaderName::Via) {
            b = b.header_bytes(HeaderName::Via.as_str(), h.value)?;
        }
        for name in [
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
        ] {
            let Some(h) = request.header(name) else {
                return Err(ParseError::new(ErrorKind::MissingHeader(name), 0));
            };
            b = b.header_bytes(name.as_str(), h.value)?;
            if name == HeaderName::To
                && let Some(tag) =
                    to_tag.filter(|_| request.to_header().is_ok_and(|t| t.tag().is_none()))
            {
                if tag.is_empty() || chars::span(tag.as_bytes(), TOKEN) != tag.len() {
                    return Err(ParseError::expected("tag token", 0));
                }
                // Replace the CRLF just written with ";tag=…CRLF".
                b.buf.truncate(b.buf.len() - 2);
                b.buf.put_slice(b";tag=");
                b.buf.put_slice(tag.as_bytes());
                b.buf.put_slice(b"\r\n");
            }
        }
        if (101..300).contains(&code) {
            for h in request.headers_named(HeaderName::RecordRoute) {
                b = b.header_bytes(HeaderName::RecordRoute.as_str(), h.value)?;
            }
        }
        Ok(b)
    }

    /// Adds a header. The name must be a token; the value one line of text.
    pub fn header(self, name: &str, value: &str) -> Result<Self, ParseError> {
        self.header_bytes(name, value.as_bytes())
    }

    /// Adds a header by [`HeaderName`].
    pub fn header_named(self, name: HeaderName, value: &str) -> Result<Self, ParseError> {
        self.header(name.as_str(), value)
    }

    fn header_bytes(mut self, name: &str, value: &[u8]) -> Result<Self, ParseError> {
        if name.is_empty() || chars::span(name.as_bytes(), TOKEN) != name.len() {
            return Err(ParseError::expected(
                "header name token",
                chars::span(name.as_bytes(), TOKEN),
            ));
        }
        if HeaderName::from_bytes(name.as_bytes()) == HeaderName::ContentLength {
            return Err(ParseError::invalid(
                "Content-Length is computed by the builder",
                0,
            ));
        }
        // Copied values may carry folding (CRLF + white space), which stays legal; a bare CR or
        // LF, or any other control character but HT, is refused. Most values hold no control
        // character at all: one branch-free pass over them (which the compiler vectorises) says
        // so, and only the others are walked a byte at a time.
        let control = value.iter().fold(false, |seen, &c| {
            seen | ((c < 0x20 && c != b'\t') | (c == 0x7f))
        });
        let mut i = if control { 0 } else { value.len() };
        while let Some(&c) = value.get(i) {
            match c {
                b'\r' if matches!(value.get(i + 1..i + 3), Some([b'\n', b' ' | b'\t'])) => i += 3,
                b'\t' => i += 1,
                0..=0x1f | 0x7f => {
                    return Err(ParseError::expected(
                        "header value without control characters",
                        i,
                    ));
                }
                _ => i += 1,
            }
        }
        self.buf.reserve(name.len() + value.len() + 4);
        self.buf.put_slice(name.as_bytes());
        self.buf.put_slice(b": ");
        self.buf.put_slice(value);
        self.buf.put_slice(b"\r\n");
        Ok(self)
    }

    /// Sets the body and its Content-Type.
    pub fn body(self, content_type: &str, body: impl Into<Bytes>) -> Result<Self, ParseError> {
        let mut b = self.header_named(HeaderName::ContentType, content_type)?;
        b.body = body.into();
        Ok(b)
    }

    /// The message, or the first error of the start line.
    pub fn try_build(self) -> Result<Bytes, ParseError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.build()),
        }
    }

    /// The message bytes (empty if the start line was invalid; see [`MessageBuilder::try_build`]).
    pub fn build(self) -> Bytes {
        let mut out = BytesMut::with_capacity(self.buf.len() + self.body.len() + 24);
        self.write_to(&mut out);
        out.freeze()
    }

    /// Writes the message into any buffer (nothing if the start line was invalid).
    pub fn write_to(self, out: &mut impl BufMut) {
        if self.error.is_some() {
            return;
        }
        out.put_slice(&self.buf);
        out.put_slice(b"Content-Length: ");
        let mut digits = [0u8; 20];
        let mut n = self.body.len();
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        out.put_slice(&digits[at..]);
        out.put_slice(b"\r\n\r\n");
        out.put_slice(&self.body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_to_copies_and_tags() {
        let req = Message::parse_slice(
            b"INVITE sip:bob@b SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP p2;branch=z9hG4bK2\r\n\
              Record-Route: <sip:p1;lr>\r\nFrom: <sip:a@a>;tag=1\r\nTo: <sip:bob@b>\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\n\
              Max-Forwards: 70\r\nl: 0\r\n\r\n",
        )
        .unwrap();
        let rsp = Message::parse(
            MessageBuilder::response_to(&req, 180, "Ringing", Some("t9"))
                .unwrap()
                .build(),
        )
        .unwrap();
        let vias: Vec<_> = rsp.vias().map(|v| v.unwrap().branch().unwrap()).collect();
        assert_eq!(vias, ["z9hG4bK1", "z9hG4bK2"]);
        assert_eq!(rsp.to_header().unwrap().tag(), Some("t9"));
        assert_eq!(rsp.from_header().unwrap().tag(), Some("1"));
        assert_eq!(rsp.record_routes().count(), 1);
        assert_eq!(rsp.call_id().unwrap(), "c1");
        assert_eq!(rsp.cseq().unwrap().seq, 7);
        rsp.validate().unwrap();
        let trying = Message::parse(
            MessageBuilder::response_to(&req, 100, "Trying", None)
                .unwrap()
                .build(),
        )
        .unwrap();
        assert_eq!(trying.to_header().unwrap().tag(), None);
        assert_eq!(trying.record_routes().count(), 0);
        let err = Message::parse(
            MessageBuilder::response_to(&req, 486, "Busy", None)
                .unwrap()
                .build(),
        )
        .unwrap();
        assert_eq!(err.record_routes().count(), 0);
        // An existing tag is kept.
        let tagged = Message::parse(
            MessageBuilder::response_to(&rsp, 200, "OK", Some("other"))
                .unwrap()
                .build(),
        )
        .unwrap();
        assert_eq!(tagged.to_header().unwrap().tag(), Some("t9"));
    }

    #[test]
    fn header_values_refuse_control_characters_but_keep_folding() {
        let build =
            |v: &[u8]| MessageBuilder::request(Method::Options, "sip:a").header_bytes("X", v);
        for ok in [
            &b"plain value"[..],
            b"tab\there",
            b"folded\r\n value",
            b"folded\r\n\tvalue",
            b"",
        ] {
            assert!(build(ok).is_ok(), "{}", String::from_utf8_lossy(ok));
        }
        for (bad, at) in [
            (&b"bare\nLF"[..], 4),
            (b"bare\rCR", 4),
            (b"crlf\r\nend", 4),
            (b"nul\0", 3),
            (b"del\x7f", 3),
            (b"ok\r\n fold then \x01", 15),
        ] {
            let e = build(bad)
                .err()
                .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(bad)));
            assert_eq!(e.offset, at, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn start_lines_are_checked() {
        assert!(
            MessageBuilder::request(Method::Extension("BAD METHOD"), "sip:a")
                .try_build()
                .is_err()
        );
        assert!(
            MessageBuilder::request(Method::Invite, "sip:a b")
                .try_build()
                .is_err()
        );
        assert!(MessageBuilder::response(700, "x").try_build().is_err());
        assert!(MessageBuilder::response(200, "O\nK").try_build().is_err());
        assert!(
            MessageBuilder::response(200, "OK")
                .header("Bad Name", "x")
                .is_err()
        );
        assert_eq!(
            MessageBuilder::response(200, "OK").try_build().unwrap(),
            &b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"[..]
        );
    }
}
