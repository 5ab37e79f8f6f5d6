//! Matching messages to transactions (RFC 3261 §17.1.3, §17.2.3, §9.2).
//!
//! Each transaction is indexed by a string key built from the fields the RFC compares, so a
//! match is one hash lookup.

use std::fmt::Write as _;

use sip_parse::{HeaderName, Message, ParseError, TopVia, Via};

use crate::Result;
use crate::error::Error;

#[cfg(test)]
thread_local! {
    /// How many times this thread's layers read a top Via themselves, for the tests that prove
    /// one read by the transport is enough.
    pub(crate) static TOP_VIA_READS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Reads the top Via of `msg`: one of the two places this crate parses the top Via of a message
/// it is handed (the transport usually did it already).
pub(crate) fn read_top_via(msg: &Message) -> std::result::Result<TopVia, ParseError> {
    count_read();
    TopVia::read(msg)
}

/// The top Via of `msg` as `top` read it, without parsing; parsed again only when `top` belongs
/// to another message.
pub(crate) fn top_via<'m>(
    msg: &'m Message,
    top: &std::result::Result<TopVia, ParseError>,
) -> Result<Via<'m>> {
    match (*top)?.view(msg) {
        Some(via) => Ok(via),
        None => {
            count_read();
            Ok(msg.top_via()?)
        }
    }
}

fn count_read() {
    #[cfg(test)]
    TOP_VIA_READS.with(|n| n.set(n.get() + 1));
}

/// §17.1.3: a response matches a client transaction by the top Via branch and the CSeq method
/// (the method distinguishes a CANCEL from the INVITE it cancels: same branch).
pub(crate) fn client_key(branch: &str, cseq_method: &str) -> Box<str> {
    let mut k = String::with_capacity(branch.len() + cseq_method.len() + 1);
    k.push_str(branch);
    k.push('\0');
    k.push_str(cseq_method);
    k.into_boxed_str()
}

/// The client key a response with top Via `via` carries.
pub(crate) fn response_key(response: &Message, via: &Via<'_>) -> Result<Box<str>> {
    let branch = via.branch().ok_or(Error::MissingBranch)?;
    Ok(client_key(branch, response.cseq()?.method.as_str()))
}

/// §17.2.3: the server key of `request` with top Via `via`, as if its method were `method` (the caller passes
/// INVITE for an ACK, and for a CANCEL looking for its INVITE, §9.2).
///
/// With a magic-cookie branch: branch, sent-by and method. Otherwise the RFC 2543 rules:
/// Request-URI, From tag, Call-ID, CSeq number, top Via and method; the To tag is compared apart
/// (an ACK carries the tag of the response, not of the INVITE).
pub(crate) fn server_key(request: &Message, via: &Via<'_>, method: &str) -> Result<Box<str>> {
    let mut k = String::with_capacity(96);
    if via.has_rfc3261_branch() {
        let default_port = if via.transport.eq_ignore_ascii_case("TLS") {
            5061
        } else {
            5060
        };
        // sent-by compares host case-insensitively; an absent port is the transport default.
        let _ = write!(
            k,
            "B{}\0{}:{}\0{method}",
            via.branch().unwrap_or_default(),
            via.host.to_string().to_ascii_lowercase(),
            via.port.unwrap_or(default_port)
        );
    } else {
        let top_via = request
            .list(HeaderName::Via)
            .next()
            .map(|h| h.value)
            .unwrap_or_default();
        let _ = write!(
            k,
            "R{method}\0{}\0{}\0{}\0{}\0",
            request.request_uri().unwrap_or_default(),
            request.from_header()?.tag().unwrap_or_default(),
            request.call_id()?,
            request.cseq()?.seq,
        );
        k.push_str(&String::from_utf8_lossy(top_via));
    }
    Ok(k.into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn req(via: &str, method: &str) -> Message {
        let text = format!(
            "{method} sip:bob@b.example SIP/2.0\r\nVia: {via}\r\nFrom: <sip:a@a.example>;tag=1\r\n\
             To: <sip:bob@b.example>\r\nCall-ID: c1\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(Bytes::from(text)).unwrap()
    }

    fn key(request: &Message, method: &str) -> Result<Box<str>> {
        server_key(request, &request.top_via()?, method)
    }

    #[test]
    fn ack_matches_invite_by_branch_and_sent_by() {
        let invite = req("SIP/2.0/UDP A.example;branch=z9hG4bKx1", "INVITE");
        let ack = req("SIP/2.0/UDP a.example:5060;branch=z9hG4bKx1", "ACK");
        let other = req("SIP/2.0/UDP a.example:5070;branch=z9hG4bKx1", "ACK");
        let k = key(&invite, "INVITE").unwrap();
        assert_eq!(key(&ack, "INVITE").unwrap(), k);
        assert_ne!(key(&other, "INVITE").unwrap(), k);
        assert_ne!(key(&invite, "CANCEL").unwrap(), k);
    }

    #[test]
    fn rfc2543_fallback_uses_dialog_fields() {
        let a = req("SIP/2.0/UDP a.example;branch=old1", "INVITE");
        let b = req("SIP/2.0/UDP a.example;branch=old2", "INVITE");
        assert!(!a.top_via().unwrap().has_rfc3261_branch());
        assert_ne!(key(&a, "INVITE").unwrap(), key(&b, "INVITE").unwrap());
        assert_eq!(
            key(&a, "INVITE").unwrap(),
            key(&a.clone(), "INVITE").unwrap()
        );
    }
}
