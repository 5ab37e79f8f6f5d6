//! Requests too large for UDP go over TCP (RFC 3261 §18.1.1): a request bound for UDP that is
//! larger than [`UDP_LIMIT`] — 200 bytes under a 1500-byte MTU, the path MTU being unknown —
//! is sent to the same server address over TCP instead, with its top Via saying so (a fresh
//! branch and our TCP sent-by). Whether the server takes TCP there is found out by trying: if
//! the connection is refused (or fails otherwise before any answer), the request goes over
//! UDP as it was, fragmented but delivered, as PJSIP does.
//!
//! The client needs a TCP listener for this (its sent-by goes into the Via); without one,
//! large requests stay on UDP. REGISTER stays on its flow whatever its size: the
//! registration's Contact, its NAT binding (`received`/`rport`) and its keep-alive belong to
//! the transport it registers over (RFC 5626 §4.2), and a REGISTER answered over another one
//! would move the binding to an address nobody keeps alive.

use std::collections::HashMap;

use bytes::{BufMut, BytesMut};
use sip_parse::{HeaderName, Message, Method, Target, TransportKind};
use sip_txn::driver::DriverError;

use crate::Endpoint;

/// The largest request sent over UDP (RFC 3261 §18.1.1: MTU 1500 − 200).
pub(crate) const UDP_LIMIT: usize = 1300;

/// The TCP form of `request` to `target`, when it is bound for UDP, larger than
/// [`UDP_LIMIT`], and `local` has a TCP sent-by; `None` otherwise.
pub(crate) fn over_tcp(
    request: &Message,
    target: &Target,
    local: &Endpoint,
) -> Option<(Message, Target)> {
    if target.transport != TransportKind::Udp
        || request.as_bytes().len() <= UDP_LIMIT
        || request.method() == Some(Method::Register)
    {
        return None;
    }
    let via = local.via(TransportKind::Tcp).ok()?;
    let rewritten = replace_top_via(request, &via)?;
    Some((rewritten, Target::new(TransportKind::Tcp, target.addr)))
}

/// `request` with its first Via element replaced by `via`.
fn replace_top_via(request: &Message, via: &str) -> Option<Message> {
    let whole = request.as_bytes();
    let top = request.list(HeaderName::Via).next()?;
    // The element is a slice of the message's own buffer: its place is its offset.
    let start = (top.value.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start + top.value.len();
    if end > whole.len() {
        return None;
    }
    let mut buf = BytesMut::with_capacity(whole.len() + via.len());
    buf.put_slice(&whole[..start]);
    buf.put_slice(via.as_bytes());
    buf.put_slice(&whole[end..]);
    // Our own request: its length is ours to choose, as any stream may carry it.
    let limits = sip_parse::ParseConfig {
        max_message_size: whole.len() + via.len(),
        ..sip_parse::ParseConfig::default()
    };
    Message::parse_with(buf.freeze(), &limits).ok()
}

/// The large requests in flight over TCP, each with its UDP form to fall back on.
#[derive(Debug, Default)]
pub(crate) struct LargeRequests {
    fallbacks: HashMap<u64, (Message, Target)>,
}

impl LargeRequests {
    /// Where transaction `id` goes: over TCP when [`over_tcp`] says so (its UDP form kept
    /// until the outcome is known), else as it is.
    pub(crate) fn route(
        &mut self,
        id: u64,
        request: Message,
        target: Target,
        local: Option<&Endpoint>,
    ) -> (Message, Target) {
        match local.and_then(|l| over_tcp(&request, &target, l)) {
            Some(tcp) => {
                self.fallbacks.insert(id, (request, target));
                tcp
            }
            None => (request, target),
        }
    }

    /// Transaction `id` ended with `outcome`: its UDP form to send instead when it went over
    /// TCP and TCP failed before any answer (nothing listens for TCP there).
    pub(crate) fn fallback(
        &mut self,
        id: u64,
        outcome: &Result<Message, DriverError>,
    ) -> Option<(Message, Target)> {
        let udp = self.fallbacks.remove(&id)?;
        matches!(outcome, Err(DriverError::Transport { .. })).then_some(udp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn request(body_len: usize) -> Message {
        let body = "x".repeat(body_len);
        let text = format!(
            "MESSAGE sip:bob@example.test SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKold;rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:alice@example.test>;tag=1\r\n\
             To: <sip:bob@example.test>\r\n\
             Call-ID: c1\r\n\
             CSeq: 1 MESSAGE\r\n\
             Content-Type: text/plain\r\n\
             Content-Length: {body_len}\r\n\r\n{body}"
        );
        Message::parse(Bytes::from(text)).unwrap()
    }

    fn local() -> Endpoint {
        Endpoint::new("alice")
            .with(TransportKind::Udp, "192.0.2.1:5060")
            .with(TransportKind::Tcp, "192.0.2.1:5070")
    }

    #[test]
    fn small_requests_and_requests_bound_for_streams_stay_as_they_are() {
        let udp = Target::new(TransportKind::Udp, "192.0.2.9:5060".parse().unwrap());
        assert!(over_tcp(&request(10), &udp, &local()).is_none());
        let tcp = Target::new(TransportKind::Tcp, udp.addr);
        assert!(over_tcp(&request(2000), &tcp, &local()).is_none());
        // No TCP listener: nothing to put in the Via.
        let udp_only = Endpoint::new("alice").with(TransportKind::Udp, "192.0.2.1:5060");
        assert!(over_tcp(&request(2000), &udp, &udp_only).is_none());
        // A REGISTER stays on the flow it registers.
        let register = String::from_utf8(request(2000).as_bytes().to_vec())
            .unwrap()
            .replacen(
                "MESSAGE sip:bob@example.test",
                "REGISTER sip:example.test",
                1,
            )
            .replace("CSeq: 1 MESSAGE", "CSeq: 1 REGISTER");
        let register = Message::parse(Bytes::from(register)).unwrap();
        assert!(over_tcp(&register, &udp, &local()).is_none());
    }

    #[test]
    fn a_large_request_moves_to_tcp_at_the_same_address_with_its_via_rewritten() {
        let udp = Target::new(TransportKind::Udp, "192.0.2.9:5060".parse().unwrap());
        let original = request(UDP_LIMIT);
        assert!(original.as_bytes().len() > UDP_LIMIT);
        let (moved, target) = over_tcp(&original, &udp, &local()).unwrap();
        assert_eq!(target, Target::new(TransportKind::Tcp, udp.addr));
        let via = moved.top_via().unwrap();
        assert_eq!(via.transport, "TCP");
        assert_eq!(via.port, Some(5070));
        assert_ne!(via.branch(), Some("z9hG4bKold"), "a new transaction");
        assert_eq!(moved.body(), original.body());
        assert_eq!(moved.call_id().unwrap(), "c1");
    }

    #[test]
    fn a_refused_tcp_attempt_falls_back_to_the_udp_form_once() {
        let udp = Target::new(TransportKind::Udp, "192.0.2.9:5060".parse().unwrap());
        let mut large = LargeRequests::default();
        let (_, to) = large.route(1, request(2000), udp.clone(), Some(&local()));
        assert_eq!(to.transport, TransportKind::Tcp);
        let refused = Err(DriverError::Transport {
            target: to,
            reason: "connection refused".into(),
            cause: sip_transport::Cause::Refused,
        });
        let (again, to) = large.fallback(1, &refused).expect("UDP form");
        assert_eq!(to, udp);
        assert_eq!(again.top_via().unwrap().transport, "UDP");
        assert!(large.fallback(1, &refused).is_none(), "once");
        // Answered over TCP: nothing more to do.
        let (_, to) = large.route(2, request(2000), udp.clone(), Some(&local()));
        let timeout = Err(DriverError::Timeout { target: to });
        assert!(large.fallback(2, &timeout).is_none());
        // Small requests are not kept.
        let (_, to) = large.route(3, request(10), udp.clone(), Some(&local()));
        assert_eq!(to, udp);
        assert!(large.fallbacks.is_empty());
    }
}
