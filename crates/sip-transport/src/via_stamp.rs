//! `received` and `rport` on the top Via of incoming requests (RFC 3261 §18.2.1, RFC 3581 §4).
//!
//! A [`Message`] is an immutable set of ranges into its buffer, so stamping copies the message
//! once into a new buffer with the top Via's parameter list rewritten ([`TopVia::stamp`]), which
//! also gives the copy's split and top Via without reading either again. Requests that need nothing (the usual
//! case for a client behind no NAT) are returned as they came, without a copy.

use std::net::{IpAddr, SocketAddr};

use sip_parse::{Host, Message, ParseConfig, ParseError, TopVia};

/// Stamps the top Via of a request received from `src`:
///
/// * `received=<src ip>` when the sent-by host is not `src`'s address (RFC 3261 §18.2.1), or
///   when `rport` asks for it (RFC 3581 §4: then always, even if equal);
/// * `rport=<src port>` when the top Via carries an empty `rport`.
///
/// Responses, requests without a parsable top Via and requests that need nothing come back
/// unchanged.
///
/// ```
/// use bytes::Bytes;
/// use sip_parse::{Message, ParseConfig};
///
/// let req = Message::parse(Bytes::from_static(
///     b"OPTIONS sip:b@example.com SIP/2.0\r\n\
///       Via: SIP/2.0/UDP pc.example.com;rport;branch=z9hG4bK1\r\n\
///       Content-Length: 0\r\n\r\n",
/// ))?;
/// let src = "192.0.2.7:40000".parse().unwrap();
/// let req = sip_transport::stamp_via(req, src, &ParseConfig::default());
/// let via = req.top_via()?;
/// assert_eq!(via.received, Some("192.0.2.7"));
/// assert_eq!(via.rport, Some(Some(40000)));
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
pub fn stamp_via(msg: Message, src: SocketAddr, cfg: &ParseConfig) -> Message {
    let top = TopVia::read(&msg);
    stamp_top_via(msg, top, src, cfg).0
}

/// [`stamp_via`] for a message whose top Via was read already, as the transport reads it once
/// for the layers above ([`Incoming::top_via`](crate::Incoming::top_via)): gives back the
/// message and its top Via, the same unless stamping rewrote it (then the stamped message's,
/// derived from the rewrite: the top Via is parsed once).
///
/// ```
/// use bytes::Bytes;
/// use sip_parse::{Message, ParseConfig, TopVia};
///
/// let req = Message::parse(Bytes::from_static(
///     b"OPTIONS sip:b@example.com SIP/2.0\r\n\
///       Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK1\r\n\
///       Content-Length: 0\r\n\r\n",
/// ))?;
/// let top = TopVia::read(&req);
/// let src = "192.0.2.7:5060".parse().unwrap();
/// // sent-by is the source already: nothing to stamp, nothing read again.
/// let (same, top_after) = sip_transport::stamp_top_via(req.clone(), top, src, &ParseConfig::default());
/// assert_eq!(top_after, top);
/// assert_eq!(top_after?.view(&same).unwrap().received, None);
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
pub fn stamp_top_via(
    msg: Message,
    top: Result<TopVia, ParseError>,
    src: SocketAddr,
    cfg: &ParseConfig,
) -> (Message, Result<TopVia, ParseError>) {
    if !msg.is_request() {
        return (msg, top);
    }
    let Ok(read) = top else {
        return (msg, top);
    };
    let Some((received, rport)) = stamp_wanted(&msg, &read, src) else {
        return (msg, top);
    };
    match read.stamp(&msg, received, rport, cfg) {
        Ok((stamped, top)) => (stamped, Ok(top)),
        Err(e) => {
            // Only a copy over the parse limits (many empty `rport`s); keep the original rather
            // than lose it.
            tracing::warn!(%src, error = %e, "stamped Via over the parse limits; delivering unstamped");
            (msg, Ok(read))
        }
    }
}

/// What the top Via needs: the `received` address and the port for an empty `rport`, or `None`
/// when it needs nothing.
fn stamp_wanted(msg: &Message, top: &TopVia, src: SocketAddr) -> Option<(IpAddr, Option<u16>)> {
    let via = top.view(msg)?;
    let src_ip = src.ip().to_canonical();

    let sent_by_is_src = match via.host {
        Host::Ipv4(a) => IpAddr::V4(a) == src_ip,
        Host::Ipv6(a) => IpAddr::V6(a).to_canonical() == src_ip,
        Host::Domain(_) => false,
    };
    let fill_rport = via.rport == Some(None);
    let received_ok = via
        .received_ip()
        .is_some_and(|r| r.to_canonical() == src_ip);
    // RFC 3581 §4: with an empty rport, received is written even when it equals sent-by.
    if !fill_rport && (sent_by_is_src || received_ok) {
        return None;
    }
    Some((src_ip, fill_rport.then_some(src.port())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use sip_parse::HeaderName;

    fn req(via_lines: &str) -> Message {
        let text = format!(
            "OPTIONS sip:b@example.com SIP/2.0\r\n{via_lines}\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 4\r\n\r\nbody"
        );
        Message::parse(Bytes::from(text)).unwrap()
    }

    fn stamp(via_lines: &str, src: &str) -> Message {
        stamp_via(
            req(via_lines),
            src.parse().unwrap(),
            &ParseConfig::default(),
        )
    }

    #[test]
    fn domain_sent_by_gets_received() {
        let m = stamp(
            "Via: SIP/2.0/UDP pc.example.com;branch=z9hG4bK1",
            "192.0.2.1:5060",
        );
        let v = m.top_via().unwrap();
        assert_eq!(v.received, Some("192.0.2.1"));
        assert_eq!(v.rport, None);
        assert_eq!(v.branch, Some("z9hG4bK1"));
        assert_eq!(m.body(), b"body");
        assert_eq!(m.call_id().unwrap(), "x");
    }

    #[test]
    fn matching_ip_needs_nothing() {
        let before = req("Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1");
        let after = stamp_via(
            before.clone(),
            "192.0.2.1:5060".parse().unwrap(),
            &ParseConfig::default(),
        );
        // Same buffer: no copy was made.
        assert_eq!(before.as_bytes().as_ptr(), after.as_bytes().as_ptr());
    }

    #[test]
    fn empty_rport_filled_and_received_forced() {
        let m = stamp(
            "Via: SIP/2.0/UDP 192.0.2.1;rport;branch=z9hG4bK1",
            "192.0.2.1:40001",
        );
        let v = m.top_via().unwrap();
        assert_eq!(v.rport, Some(Some(40001)));
        // RFC 3581 §4: received even when equal to sent-by.
        assert_eq!(v.received, Some("192.0.2.1"));
        let via = m.header_str(HeaderName::Via).unwrap();
        assert_eq!(
            via,
            "SIP/2.0/UDP 192.0.2.1;rport=40001;branch=z9hG4bK1;received=192.0.2.1"
        );
    }

    /// The top Via comes back with the message: the same one when nothing was stamped, the
    /// stamped message's otherwise, and a `received` in brackets (RFC 5118 §4.5) that already
    /// names the source needs no stamp.
    #[test]
    fn stamp_top_via_gives_the_top_via_of_what_it_returns() {
        let cfg = ParseConfig::default();
        for (via, src, stamped) in [
            (
                "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1",
                "192.0.2.1:5060",
                false,
            ),
            (
                "Via: SIP/2.0/UDP h.example;branch=z9hG4bK1",
                "192.0.2.1:5060",
                true,
            ),
            ("Via: SIP/2.0/UDP h.example;rport", "192.0.2.1:5060", true),
            (
                "Via: SIP/2.0/UDP h.example;received=[2001:db8::9:255]",
                "[2001:db8::9:255]:5060",
                false,
            ),
        ] {
            let before = req(via);
            let top = TopVia::read(&before);
            let (after, top_after) = stamp_top_via(before.clone(), top, src.parse().unwrap(), &cfg);
            let copied = before.as_bytes().as_ptr() != after.as_bytes().as_ptr();
            assert_eq!(copied, stamped, "{via}");
            assert_eq!(top_after, TopVia::read(&after), "{via}");
            assert_eq!(
                top_after.unwrap().view(&after),
                Some(after.top_via().unwrap()),
                "{via}"
            );
        }
    }

    #[test]
    fn rport_with_value_is_kept() {
        let m = stamp("Via: SIP/2.0/TCP h.example;rport=1234", "192.0.2.9:9");
        let v = m.top_via().unwrap();
        assert_eq!(v.rport, Some(Some(1234)));
        assert_eq!(v.received, Some("192.0.2.9"));
    }

    #[test]
    fn existing_received_replaced_once() {
        let m = stamp(
            "Via: SIP/2.0/UDP h.example;received=10.0.0.1;branch=z9hG4bK2;received=10.0.0.2",
            "192.0.2.3:5060",
        );
        assert_eq!(
            m.header_str(HeaderName::Via).unwrap(),
            "SIP/2.0/UDP h.example;received=192.0.2.3;branch=z9hG4bK2"
        );
        // Already correct: untouched.
        let before = req("Via: SIP/2.0/UDP h.example;received=192.0.2.3");
        let after = stamp_via(
            before.clone(),
            "192.0.2.3:1".parse().unwrap(),
            &ParseConfig::default(),
        );
        assert_eq!(before.as_bytes().as_ptr(), after.as_bytes().as_ptr());
    }

    #[test]
    fn ipv6_source_and_sent_by() {
        let m = stamp(
            "Via: SIP/2.0/UDP [2001:db8::9]:5060;rport",
            "[2001:db8::1]:6000",
        );
        let v = m.top_via().unwrap();
        assert_eq!(v.received, Some("2001:db8::1"));
        assert_eq!(v.rport, Some(Some(6000)));
        // Same address written differently: no received.
        let m = stamp("Via: SIP/2.0/UDP [2001:DB8:0::1]", "[2001:db8::1]:6000");
        assert_eq!(m.top_via().unwrap().received, None);
        // IPv4-mapped source from a dual-stack socket compares as IPv4.
        let m = stamp("Via: SIP/2.0/UDP 192.0.2.5", "[::ffff:192.0.2.5]:6000");
        assert_eq!(m.top_via().unwrap().received, None);
        let m = stamp("Via: SIP/2.0/UDP h.example", "[::ffff:192.0.2.5]:6000");
        assert_eq!(m.top_via().unwrap().received, Some("192.0.2.5"));
    }

    #[test]
    fn multiple_vias_in_one_line_only_top_changes() {
        let m = stamp(
            "Via: SIP/2.0/UDP a.example;rport , SIP/2.0/UDP b.example;rport\r\nVia: SIP/2.0/TCP c.example",
            "192.0.2.4:7000",
        );
        let vias: Vec<_> = m.vias().map(|v| v.unwrap()).collect();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[0].rport, Some(Some(7000)));
        assert_eq!(vias[0].received, Some("192.0.2.4"));
        assert_eq!(vias[1].rport, Some(None));
        assert_eq!(vias[1].received, None);
        assert_eq!(vias[2].received, None);
    }

    #[test]
    fn no_params_with_trailing_space_before_comma() {
        let m = stamp(
            "Via: SIP/2.0/UDP a.example:5060  ,SIP/2.0/UDP b.example",
            "192.0.2.4:7000",
        );
        let vias: Vec<_> = m.vias().map(|v| v.unwrap()).collect();
        assert_eq!(vias[0].received, Some("192.0.2.4"));
        assert_eq!(vias[0].port, Some(5060));
        assert_eq!(vias[1].host, Host::Domain("b.example"));
    }

    #[test]
    fn folded_via_and_compact_name() {
        let m = stamp(
            "v: SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8 ;\r\n rport",
            "192.0.2.8:5061",
        );
        let v = m.top_via().unwrap();
        assert_eq!(v.branch, Some("z9hG4bK9ikj8"));
        assert_eq!(v.rport, Some(Some(5061)));
        assert_eq!(v.received, Some("192.0.2.8"));
    }

    #[test]
    fn quoted_param_with_semicolon_survives() {
        let m = stamp(
            "Via: SIP/2.0/UDP h.example;x=\"a;rport\";rport",
            "192.0.2.8:5061",
        );
        let v = m.top_via().unwrap();
        assert_eq!(v.params.get("x"), Some(Some("\"a;rport\"")));
        assert_eq!(v.rport, Some(Some(5061)));
    }

    #[test]
    fn responses_and_bad_vias_untouched() {
        let rsp = Message::parse(Bytes::from_static(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h.example;rport\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
        let out = stamp_via(
            rsp.clone(),
            "192.0.2.1:1".parse().unwrap(),
            &ParseConfig::default(),
        );
        assert_eq!(out.as_bytes(), rsp.as_bytes());
        let bad = req("Via: garbage");
        let out = stamp_via(
            bad.clone(),
            "192.0.2.1:1".parse().unwrap(),
            &ParseConfig::default(),
        );
        assert_eq!(out.as_bytes(), bad.as_bytes());
        let none = Message::parse(Bytes::from_static(b"OPTIONS sip:a SIP/2.0\r\n\r\n")).unwrap();
        let out = stamp_via(
            none.clone(),
            "192.0.2.1:1".parse().unwrap(),
            &ParseConfig::default(),
        );
        assert_eq!(out.as_bytes(), none.as_bytes());
    }

    /// Every single-byte mutation of a Via line that still parses stamps into a message that
    /// parses, with the source as `received`, and never panics.
    #[test]
    fn mutated_vias_stamp_consistently() {
        let base =
            "Via: SIP/2.0/UDP h.example:5060;x=\"a;b\";rport;branch=z9hG4bK1 , SIP/2.0/TCP [::1]";
        let src: SocketAddr = "[2001:db8::7]:5555".parse().unwrap();
        let mut stamped = 0;
        for i in 5..base.len() {
            for c in [
                b';', b'"', b',', b' ', b'=', b'[', b']', b':', b'\\', b'\r', b'\n', b'a',
            ] {
                let mut via = base.as_bytes().to_vec();
                via[i] = c;
                let text = format!(
                    "OPTIONS sip:b@x SIP/2.0\r\n{}\r\nContent-Length: 0\r\n\r\n",
                    String::from_utf8_lossy(&via)
                );
                let Ok(msg) = Message::parse(Bytes::from(text)) else {
                    continue;
                };
                let parsed_before = msg.top_via().ok().map(|v| (v.branch, v.rport));
                let (out, top) = stamp_top_via(
                    msg.clone(),
                    TopVia::read(&msg),
                    src,
                    &ParseConfig::default(),
                );
                // The top Via handed on is the stamped message's, derived without a read.
                assert_eq!(top, TopVia::read(&out));
                let Some((branch, rport)) = parsed_before else {
                    assert_eq!(out.as_bytes(), msg.as_bytes());
                    continue;
                };
                let v = out.top_via().expect("a stamped Via parses");
                assert_eq!(v.received, Some("2001:db8::7"));
                assert_eq!(v.branch, branch);
                if rport == Some(None) {
                    assert_eq!(v.rport, Some(Some(5555)));
                }
                assert_eq!(out.vias().count(), msg.vias().count());
                stamped += 1;
            }
        }
        assert!(stamped > 100, "{stamped}");
    }
}
