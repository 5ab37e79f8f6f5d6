//! MIME `multipart/related` bodies (RFC 2046 §5.1, RFC 2387), as RFC 4662 list
//! notifications carry them: an RLMI document first (or where `start` says), then one part per
//! resource state, each found by its `Content-ID`.
//!
//! [`Multipart::parse`] takes the boundary from the Content-Type, splits the body in one pass
//! (each delimiter searched from the end of the previous part, so the work is linear in the
//! body), and bounds the number of parts and the size of part headers
//! ([`MultipartLimits`]). Part bodies are slices of the input [`Bytes`], not copies. Errors
//! give the byte offset into the body. [`Multipart::to_bytes`] writes one back.
//!
//! ```
//! use bytes::Bytes;
//! use presence::multipart::Multipart;
//!
//! let ct = r#"multipart/related;type="application/rlmi+xml";start="<a@x>";boundary="b1""#;
//! let body = Bytes::from_static(b"--b1\r\nContent-Type: application/rlmi+xml\r\nContent-ID: <a@x>\r\n\r\n<list/>\r\n\
//!     --b1\r\nContent-Type: application/pidf+xml\r\nContent-ID: <c@x>\r\n\r\n<presence/>\r\n--b1--\r\n");
//! let m = Multipart::parse(ct, body)?;
//! assert_eq!(m.root_type(), Some("application/rlmi+xml"));
//! assert_eq!(&m.root().unwrap().body[..], b"<list/>");
//! assert_eq!(&m.by_content_id("c@x").unwrap().body[..], b"<presence/>");
//! assert_eq!(Multipart::parse(ct, m.to_bytes())?, m);
//! # Ok::<(), presence::Error>(())
//! ```

use std::collections::HashMap;

use bytes::Bytes;
use sip_parse::MediaType;

use crate::error::{Error, Result};

/// Limits applied by [`Multipart::parse_with_limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipartLimits {
    /// Most parts accepted.
    pub max_parts: usize,
    /// Most header fields in one part.
    pub max_headers: usize,
    /// Largest header section of one part, in bytes.
    pub max_header_bytes: usize,
}

impl Default for MultipartLimits {
    /// 20,001 parts (the RLMI document and two instances for each of 10,000 buddies), 32
    /// header fields and 8 KiB of headers per part.
    fn default() -> Self {
        MultipartLimits {
            max_parts: 20_001,
            max_headers: 32,
            max_header_bytes: 8 * 1024,
        }
    }
}

/// A parsed `multipart/related` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    /// The `boundary` parameter.
    pub boundary: String,
    /// The `type` parameter: the root part's media type (RFC 2387 §3.1).
    pub root_type: Option<String>,
    /// The `start` parameter: the root part's Content-ID, with its angle brackets
    /// (RFC 2387 §3.2).
    pub start: Option<String>,
    /// The parts, in order.
    pub parts: Vec<Part>,
    /// Content-ID (without brackets) → index in `parts`; the first part wins a duplicate.
    by_cid: HashMap<String, usize>,
}

/// One body part: its header fields and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Header fields as written (name, value), folded lines joined.
    pub headers: Vec<(String, String)>,
    /// The content, a slice of the whole body.
    pub body: Bytes,
}

impl Part {
    /// The first header field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Content-Type`.
    pub fn content_type(&self) -> Option<&str> {
        self.header("Content-Type")
    }

    /// `Content-ID` without its angle brackets.
    pub fn content_id(&self) -> Option<&str> {
        self.header("Content-ID").map(strip_brackets)
    }
}

fn strip_brackets(cid: &str) -> &str {
    let cid = cid.trim();
    cid.strip_prefix('<')
        .and_then(|c| c.strip_suffix('>'))
        .unwrap_or(cid)
}

fn error(message: impl Into<String>, at: usize) -> Error {
    Error::Multipart {
        message: message.into(),
        at,
    }
}

/// A parameter value with its quotes and escapes removed.
fn param(m: &MediaType<'_>, name: &str) -> Option<String> {
    let v = m.params.get(name).flatten()?;
    Some(
        match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(inner) => sip_parse::unescape(inner).into_owned(),
            None => v.to_owned(),
        },
    )
}

/// The first index of `needle` in `hay` at or after `from`. `needle` is at most 74 bytes (a
/// delimiter), so this is linear in the bytes searched.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while let Some(rest) = hay.get(i..) {
        let p = rest.iter().position(|&b| b == first)?;
        let at = i + p;
        if hay.get(at..at + needle.len()) == Some(needle) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

impl Multipart {
    /// Parses `body` as the multipart body that `content_type` (a `multipart/*` media type
    /// with a `boundary`) announces, with the default [`MultipartLimits`].
    pub fn parse(content_type: &str, body: Bytes) -> Result<Multipart> {
        Multipart::parse_with_limits(content_type, body, &MultipartLimits::default())
    }

    /// Parses with explicit limits.
    pub fn parse_with_limits(
        content_type: &str,
        body: Bytes,
        limits: &MultipartLimits,
    ) -> Result<Multipart> {
        let media = MediaType::parse(content_type.trim().as_bytes())
            .map_err(|e| error(format!("Content-Type: {e}"), 0))?;
        if !media.kind.eq_ignore_ascii_case("multipart") {
            return Err(Error::UnsupportedContentType(
                content_type.chars().take(128).collect(),
            ));
        }
        let boundary =
            param(&media, "boundary").ok_or_else(|| error("Content-Type has no boundary", 0))?;
        // RFC 2046 §5.1.1: 1 to 70 characters.
        if boundary.is_empty() || boundary.len() > 70 {
            return Err(error("boundary is not 1 to 70 characters long", 0));
        }
        let mut m = Multipart {
            root_type: param(&media, "type"),
            start: param(&media, "start"),
            boundary,
            parts: Vec::new(),
            by_cid: HashMap::new(),
        };
        let dash = format!("--{}", m.boundary);
        let delimiter = format!("\r\n{dash}");
        let b = &body[..];
        // The first delimiter may open the body without a CRLF before it; a preamble before
        // it is ignored (RFC 2046 §5.1.1).
        let mut pos = if b.starts_with(dash.as_bytes()) {
            0
        } else {
            find(b, delimiter.as_bytes(), 0)
                .map(|p| p + 2)
                .ok_or_else(|| error("no opening boundary delimiter", 0))?
        };
        loop {
            let after = pos + dash.len();
            let rest = b.get(after..).unwrap_or(&[]);
            if rest.starts_with(b"--") {
                break; // The close delimiter; the epilogue is ignored.
            }
            // Transport padding, then CRLF.
            let pad = rest
                .iter()
                .take_while(|&&c| c == b' ' || c == b'\t')
                .count();
            let start = after + pad + 2;
            if rest.get(pad..pad + 2) != Some(b"\r\n") {
                return Err(error(
                    "boundary delimiter not followed by CRLF",
                    after + pad,
                ));
            }
            if m.parts.len() >= limits.max_parts {
                return Err(error(format!("more than {} parts", limits.max_parts), pos));
            }
            let end = find(b, delimiter.as_bytes(), start.saturating_sub(2))
                .filter(|&e| e + 2 >= start)
                .ok_or_else(|| error("part without a closing boundary delimiter", start))?;
            // A part with no header fields starts with its blank line, which the delimiter
            // search above may share: `end + 2 == start` is an empty part.
            let part = m.part(&body, start, end.max(start), limits)?;
            if let Some(cid) = part.content_id() {
                let i = m.parts.len();
                m.by_cid.entry(cid.to_owned()).or_insert(i);
            }
            m.parts.push(part);
            pos = end + 2;
        }
        if m.parts.is_empty() {
            return Err(error("no body part", pos));
        }
        Ok(m)
    }

    /// One part, `body[start..end]`: header fields up to the blank line, then content.
    fn part(
        &self,
        body: &Bytes,
        start: usize,
        end: usize,
        limits: &MultipartLimits,
    ) -> Result<Part> {
        let b = body.get(start..end).unwrap_or(&[]);
        let (head_len, content_start) = if b.is_empty() {
            (0, 0)
        } else if b.starts_with(b"\r\n") {
            (0, 2)
        } else {
            match find(b, b"\r\n\r\n", 0) {
                Some(p) => (p, p + 4),
                None if b.len() <= limits.max_header_bytes => {
                    return Err(error("part headers without a blank line after them", start));
                }
                None => (b.len(), b.len()),
            }
        };
        if head_len > limits.max_header_bytes {
            return Err(error(
                format!("part headers over {} bytes", limits.max_header_bytes),
                start,
            ));
        }
        let head = std::str::from_utf8(b.get(..head_len).unwrap_or(&[]))
            .map_err(|e| error("part headers are not UTF-8", start + e.valid_up_to()))?;
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut offset = start;
        for line in head.split("\r\n").filter(|_| !head.is_empty()) {
            let line_at = offset;
            offset += line.len() + 2;
            if line.starts_with([' ', '\t']) {
                // A folded line continues the previous field (RFC 5322 §2.2.3).
                let Some((_, value)) = headers.last_mut() else {
                    return Err(error("continuation line before any header field", line_at));
                };
                let more = line.trim();
                if !more.is_empty() {
                    if !value.is_empty() {
                        value.push(' ');
                    }
                    value.push_str(more);
                }
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(error("header line without ':'", line_at));
            };
            let name = name.trim_end();
            if name.is_empty() || !name.bytes().all(|c| c.is_ascii_graphic()) {
                return Err(error("invalid header field name", line_at));
            }
            if headers.len() >= limits.max_headers {
                return Err(error(
                    format!("more than {} header fields in a part", limits.max_headers),
                    line_at,
                ));
            }
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        Ok(Part {
            headers,
            body: body.slice(start + content_start.min(b.len())..end),
        })
    }

    /// The part with this Content-ID (with or without angle brackets).
    pub fn by_content_id(&self, cid: &str) -> Option<&Part> {
        let i = *self.by_cid.get(strip_brackets(cid))?;
        self.parts.get(i)
    }

    /// The root part: the one `start` names, else the first (RFC 2387 §3.2).
    pub fn root(&self) -> Option<&Part> {
        match &self.start {
            Some(s) => self.by_content_id(s),
            None => self.parts.first(),
        }
    }

    /// The root part's media type: the `type` parameter (RFC 2387 §3.1), else its own
    /// Content-Type.
    pub fn root_type(&self) -> Option<&str> {
        self.root_type
            .as_deref()
            .or_else(|| self.root().and_then(Part::content_type))
    }

    /// A `multipart/related` body of `parts`, delimited by `boundary` (which must not occur
    /// in any part), with the root part's `root_type` and `start` Content-ID.
    pub fn new(
        boundary: &str,
        root_type: Option<&str>,
        start: Option<&str>,
        parts: Vec<Part>,
    ) -> Multipart {
        let by_cid = parts
            .iter()
            .enumerate()
            .rev()
            .filter_map(|(i, p)| Some((p.content_id()?.to_owned(), i)))
            .collect();
        Multipart {
            boundary: boundary.to_owned(),
            root_type: root_type.map(str::to_owned),
            start: start.map(str::to_owned),
            parts,
            by_cid,
        }
    }

    /// The Content-Type header value for this body.
    pub fn content_type(&self) -> String {
        let mut ct = String::from("multipart/related");
        for (name, value) in [
            ("type", &self.root_type),
            ("start", &self.start),
            ("boundary", &Some(self.boundary.clone())),
        ] {
            if let Some(v) = value {
                ct.push_str(&format!(";{name}=\""));
                // RFC 3261 §25.1: `\` and `"` and the control characters other than HTAB
                // (which a parsed value can hold through a quoted-pair) are escaped.
                for c in v.chars() {
                    if c == '\\' || c == '"' || (c.is_ascii_control() && c != '\t') {
                        ct.push('\\');
                    }
                    ct.push(c);
                }
                ct.push('"');
            }
        }
        ct
    }

    /// The body, as [`Multipart::parse`] reads it back.
    pub fn to_bytes(&self) -> Bytes {
        let mut out =
            Vec::with_capacity(self.parts.iter().map(|p| p.body.len() + 128).sum::<usize>() + 64);
        for p in &self.parts {
            out.extend_from_slice(b"--");
            out.extend_from_slice(self.boundary.as_bytes());
            out.extend_from_slice(b"\r\n");
            for (n, v) in &p.headers {
                out.extend_from_slice(n.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(v.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&p.body);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--");
        out.extend_from_slice(self.boundary.as_bytes());
        out.extend_from_slice(b"--\r\n");
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &str = "multipart/related;type=\"application/rlmi+xml\";start=\"<nXYxAE@pres.vancouver.example.com>\";boundary=\"50UBfW7LSCVLtggUPytvnk\"";

    fn fixture() -> Bytes {
        let path = format!(
            "{}/tests/fixtures/rfc4662-notify.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        Bytes::from(std::fs::read(&path).unwrap())
    }

    fn at(r: Result<Multipart>) -> (String, usize) {
        match r {
            Err(Error::Multipart { message, at }) => (message, at),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc4662_notify_body_splits_into_its_parts() {
        let m = Multipart::parse(CT, fixture()).unwrap();
        assert_eq!(m.parts.len(), 3);
        assert_eq!(m.root_type(), Some("application/rlmi+xml"));
        let root = m.root().unwrap();
        assert_eq!(root.content_id(), Some("nXYxAE@pres.vancouver.example.com"));
        assert!(root.body.starts_with(b"<?xml"));
        assert!(
            root.body.ends_with(b"</list>\r\n"),
            "the CRLF before a delimiter is its own"
        );
        let bob = m
            .by_content_id("<bUZBsM@pres.vancouver.example.com>")
            .unwrap();
        assert_eq!(
            bob.content_type(),
            Some("application/pidf+xml;charset=\"UTF-8\"")
        );
        assert_eq!(bob.header("content-transfer-encoding"), Some("binary"));
        assert!(m.by_content_id("nope").is_none());
        assert_eq!(
            Multipart::parse(&m.content_type(), m.to_bytes()).unwrap(),
            m
        );
    }

    #[test]
    fn preamble_padding_folding_and_empty_parts() {
        let body = Bytes::from_static(
            b"preamble\r\n--b \t\r\nX-A: one\r\n  two\r\n\r\nfirst\r\n--b\r\n\r\n\r\n--b\r\n\r\n--b--\r\nepilogue",
        );
        let m = Multipart::parse("multipart/mixed; boundary=b", body).unwrap();
        assert_eq!(m.parts.len(), 3);
        assert_eq!(m.parts[0].header("x-a"), Some("one two"));
        let folded = Bytes::from_static(b"--b\r\nX-B:\r\n  v\r\n \r\n\r\nx\r\n--b--");
        let m2 = Multipart::parse("multipart/mixed; boundary=b", folded).unwrap();
        assert_eq!(
            m2.parts[0].header("x-b"),
            Some("v"),
            "no space from an empty line"
        );
        assert_eq!(&m.parts[0].body[..], b"first");
        assert!(m.parts[1].headers.is_empty() && m.parts[1].body.is_empty());
        assert!(m.parts[2].headers.is_empty() && m.parts[2].body.is_empty());
        assert_eq!(m.root().map(|p| &p.body[..]), Some(&b"first"[..]));
    }

    #[test]
    fn malformed_bodies_say_where() {
        let p = |ct: &str, b: &'static [u8]| Multipart::parse(ct, Bytes::from_static(b));
        let ct = "multipart/related;boundary=b";
        assert_eq!(
            at(p(ct, b"no delimiter")).0,
            "no opening boundary delimiter"
        );
        assert_eq!(
            at(p(ct, b"--b\r\nA: 1\r\n\r\nunterminated")),
            ("part without a closing boundary delimiter".into(), 5)
        );
        assert_eq!(
            at(p(ct, b"--b\r\nno colon\r\n\r\nx\r\n--b--")),
            ("header line without ':'".into(), 5)
        );
        assert_eq!(
            at(p(ct, b"--b\r\nA: 1\r\nB: 2\r\n--b--")),
            ("part headers without a blank line after them".into(), 5)
        );
        assert_eq!(
            at(p(ct, b"--bx\r\n")).0,
            "boundary delimiter not followed by CRLF"
        );
        assert_eq!(at(p(ct, b"--b--")).0, "no body part");
        assert_eq!(
            at(p("multipart/related", b"")).0,
            "Content-Type has no boundary"
        );
        let long = format!("multipart/related;boundary={}", "x".repeat(71));
        assert!(at(p(&long, b"")).0.contains("70"));
        assert!(matches!(
            p("application/pidf+xml", b""),
            Err(Error::UnsupportedContentType(_))
        ));
    }

    #[test]
    fn escaped_parameters_are_written_back_escaped() {
        // Found by fuzzing: a quoted-pair holding a control character (RFC 3261 §25.1) parses,
        // so the written Content-Type must escape it again to parse back.
        let ct = "multipart/related;type=\"application/rlmi+xml\";start=\"<a\\\u{4}b\\\\c\\\"d>\";boundary=\"b\"";
        let body = Bytes::from_static(b"--b\r\nContent-ID: <x>\r\n\r\nx\r\n--b--");
        let m = Multipart::parse(ct, body).unwrap();
        assert_eq!(m.start.as_deref(), Some("<a\u{4}b\\c\"d>"));
        let again = Multipart::parse(&m.content_type(), m.to_bytes()).unwrap();
        assert_eq!(again, m);
    }

    #[test]
    fn limits_bound_parts_and_headers() {
        let many: Vec<u8> = b"--b\r\n\r\nx\r\n"
            .repeat(5)
            .into_iter()
            .chain(*b"--b--")
            .collect();
        let limits = MultipartLimits {
            max_parts: 4,
            ..MultipartLimits::default()
        };
        let (msg, _) = at(Multipart::parse_with_limits(
            "multipart/related;boundary=b",
            Bytes::from(many.clone()),
            &limits,
        ));
        assert_eq!(msg, "more than 4 parts");
        assert_eq!(
            Multipart::parse("multipart/related;boundary=b", Bytes::from(many))
                .unwrap()
                .parts
                .len(),
            5
        );
        let headers: Vec<u8> = b"--b\r\n"
            .iter()
            .copied()
            .chain(b"A: 1\r\n".repeat(33))
            .chain(*b"\r\nx\r\n--b--")
            .collect();
        let (msg, _) = at(Multipart::parse(
            "multipart/related;boundary=b",
            Bytes::from(headers),
        ));
        assert_eq!(msg, "more than 32 header fields in a part");
        let big: Vec<u8> = b"--b\r\nA: "
            .iter()
            .copied()
            .chain(std::iter::repeat_n(b'a', 9000))
            .chain(*b"\r\n\r\nx\r\n--b--")
            .collect();
        let (msg, _) = at(Multipart::parse(
            "multipart/related;boundary=b",
            Bytes::from(big),
        ));
        assert_eq!(msg, "part headers over 8192 bytes");
    }
}
