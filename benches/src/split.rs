//! The header split alone, as a reference for how far above the floor any parser sits.
//!
//! A *split* finds the start line, each header's name and value, and the body; it reads no
//! header's contents. sip-parse's split is [`sip_parse::Message::parse`]. The reference is
//! `httparse`, the HTTP/1 header splitter of hyper, with SSE4.2/AVX2 scanning chosen at run time:
//! SIP/2.0 has HTTP/1.1's framing, so httparse splits a SIP message whose version is written
//! `HTTP/1.1` ([`as_http`]) exactly as it splits an HTTP one. httparse does less than a SIP
//! parser (no compact names, no folded lines, no limits, nothing kept after the call), so its
//! time is a reference point for what a split costs, not a competitor's full parse.

use std::fmt;
use std::mem::MaybeUninit;

use bytes::Bytes;

use crate::corpus::Sample;

/// Headers httparse can hold; more is an error.
const MAX_HEADERS: usize = 64;

/// What a split found: compared between the splitters before timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// Header fields (lines, once folded lines are joined).
    pub headers: usize,
    /// Length of the body in bytes.
    pub body_len: usize,
}

/// Why a splitter could not split a message.
#[derive(Debug)]
pub enum SplitError {
    /// sip-parse rejected the message.
    SipParse(sip_parse::ParseError),
    /// httparse rejected the message, or it ended before the blank line.
    Httparse(String),
    /// The two splitters found different headers or bodies.
    Disagree {
        /// File name.
        name: String,
        /// sip-parse's split.
        sip_parse: Split,
        /// httparse's split.
        httparse: Split,
    },
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::SipParse(err) => write!(f, "sip-parse: {err}"),
            SplitError::Httparse(what) => write!(f, "httparse: {what}"),
            SplitError::Disagree {
                name,
                sip_parse,
                httparse,
            } => write!(
                f,
                "{name}: splitters disagree: sip-parse {sip_parse:?}, httparse {httparse:?}"
            ),
        }
    }
}

impl std::error::Error for SplitError {}

/// sip-parse's split: the parse into ranges, without typed views.
pub fn sip_parse_split(buf: &Bytes) -> Result<Split, SplitError> {
    let msg = sip_parse::Message::parse(buf.clone()).map_err(SplitError::SipParse)?;
    Ok(Split {
        headers: msg.header_count(),
        body_len: msg.body().len(),
    })
}

/// httparse's split of a message from [`as_http`]; the body is sized by Content-Length (`l` in
/// compact form) or is the rest of the datagram, as sip-parse sizes it.
pub fn httparse_split(buf: &[u8]) -> Result<Split, SplitError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let (status, headers) = if buf.starts_with(b"HTTP/") {
        let mut response = httparse::Response::new(&mut []);
        let status = httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut response,
            buf,
            &mut slots,
        );
        (status, response.headers)
    } else {
        let mut request = httparse::Request::new(&mut []);
        let status = request.parse_with_uninit_headers(buf, &mut slots);
        (status, request.headers)
    };
    let head_len = match status {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Err(SplitError::Httparse("no blank line".into())),
        Err(err) => return Err(SplitError::Httparse(err.to_string())),
    };
    let rest = buf.len() - head_len;
    let content_length = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length") || h.name.eq_ignore_ascii_case("l"))
        .map(|h| parse_length(h.value).filter(|&len| len <= rest))
        .map(|len| len.ok_or_else(|| SplitError::Httparse("bad Content-Length".into())))
        .transpose()?;
    Ok(Split {
        headers: headers.len(),
        body_len: content_length.unwrap_or(rest),
    })
}

/// A Content-Length value: digits, white space around them allowed.
fn parse_length(value: &[u8]) -> Option<usize> {
    std::str::from_utf8(value).ok()?.trim().parse().ok()
}

/// The sample with its `SIP/2.0` version written `HTTP/1.1` (one byte longer), the only change
/// httparse needs; `None` if the start line does not carry `SIP/2.0` where expected.
pub fn as_http(sample: &Sample) -> Option<Sample> {
    let bytes = &sample.bytes[..];
    let line_end = memchr::memmem::find(bytes, b"\r\n")?;
    let version_at = if bytes.starts_with(b"SIP/2.0 ") {
        0
    } else if bytes[..line_end].ends_with(b" SIP/2.0") {
        line_end - b"SIP/2.0".len()
    } else {
        return None;
    };
    let mut http = Vec::with_capacity(bytes.len() + 1);
    http.extend_from_slice(&bytes[..version_at]);
    http.extend_from_slice(b"HTTP/1.1");
    http.extend_from_slice(&bytes[version_at + b"SIP/2.0".len()..]);
    Some(Sample {
        name: sample.name.clone(),
        bytes: Bytes::from(http),
    })
}

/// The samples both splitters split, each paired with its [`as_http`] form, after checking that
/// both found the same number of headers and the same body length.
pub fn compare(samples: &[Sample]) -> Result<(Vec<Sample>, Vec<Sample>), SplitError> {
    let mut sip = Vec::new();
    let mut http = Vec::new();
    for sample in samples {
        let Some(http_sample) = as_http(sample) else {
            continue;
        };
        let (Ok(ours), Ok(theirs)) = (
            sip_parse_split(&sample.bytes),
            httparse_split(&http_sample.bytes),
        ) else {
            continue;
        };
        if ours != theirs {
            return Err(SplitError::Disagree {
                name: sample.name.clone(),
                sip_parse: ours,
                httparse: theirs,
            });
        }
        sip.push(sample.clone());
        http.push(http_sample);
    }
    Ok((sip, http))
}

/// One sip-parse split of every sample, results fed to `black_box`.
pub fn sip_parse_pass(samples: &[Sample]) {
    for sample in samples {
        let _ = std::hint::black_box(sip_parse_split(&sample.bytes).map(|s| s.body_len));
    }
}

/// One httparse split of every sample (already in [`as_http`] form), results fed to `black_box`.
pub fn httparse_pass(samples: &[Sample]) {
    for sample in samples {
        let _ = std::hint::black_box(httparse_split(&sample.bytes).map(|s| s.body_len));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(text: &str) -> Sample {
        Sample {
            name: "t".into(),
            bytes: Bytes::copy_from_slice(text.as_bytes()),
        }
    }

    #[test]
    fn the_corpus_splits_alike_except_the_folded_message() {
        let all = crate::corpus::load_dir(&crate::corpus::default_dir()).unwrap();
        let (sip, http) = compare(&all).unwrap();
        let names: Vec<_> = sip.iter().map(|s| s.name.as_str()).collect();
        // httparse knows no folded lines (HTTP deprecated them in requests).
        assert!(!names.contains(&"11-compact-folded.sip"), "{names:?}");
        assert_eq!(names.len(), all.len() - 1, "{names:?}");
        for (s, h) in sip.iter().zip(&http) {
            assert_eq!(h.bytes.len(), s.bytes.len() + 1);
        }
    }

    #[test]
    fn the_version_is_rewritten_on_requests_and_responses() {
        let req = as_http(&sample("OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n")).unwrap();
        assert_eq!(&req.bytes[..], b"OPTIONS sip:a@b HTTP/1.1\r\nl: 0\r\n\r\n");
        let resp = as_http(&sample("SIP/2.0 200 OK\r\n\r\n")).unwrap();
        assert_eq!(&resp.bytes[..], b"HTTP/1.1 200 OK\r\n\r\n");
        assert!(as_http(&sample("OPTIONS sip:a@b SIP/3.0\r\n\r\n")).is_none());
    }

    #[test]
    fn httparse_sizes_the_body_as_sip_parse_does() {
        let with_length = "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 2\r\n\r\nhi";
        let compact = "MESSAGE sip:a@b SIP/2.0\r\nL: 2\r\n\r\nhi, and more";
        let without = "MESSAGE sip:a@b SIP/2.0\r\nX: y\r\n\r\nhello";
        for text in [with_length, compact, without] {
            let s = sample(text);
            let h = as_http(&s).unwrap();
            assert_eq!(
                sip_parse_split(&s.bytes).unwrap(),
                httparse_split(&h.bytes).unwrap()
            );
        }
        let too_long = as_http(&sample("MESSAGE sip:a@b SIP/2.0\r\nl: 9\r\n\r\nhi")).unwrap();
        assert!(httparse_split(&too_long.bytes).is_err());
    }
}
