//! Stateless proxying (RFC 3261 §16.11): where a request goes, and the forwarded request and
//! response written from the received ones.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use sip_parse::{
    ErrorKind, Header, HeaderName, Host, MAGIC_COOKIE, Message, MessageBuilder, ParseError, SipUri,
    Target, TransportKind, Uri, Via,
};
use sip_txn::digest::Algorithm;

/// The addresses the server listens on, as peers reach them.
#[derive(Debug, Clone)]
pub(crate) struct Listeners(Vec<(TransportKind, SocketAddr)>);

impl Listeners {
    pub(crate) fn new(list: Vec<(TransportKind, SocketAddr)>) -> Self {
        Self(list)
    }

    /// The listener to name in a Via or Record-Route for `transport`: one of that kind, else the
    /// first (the transport then connects out without a listener of its own).
    pub(crate) fn address(&self, transport: TransportKind) -> Option<SocketAddr> {
        self.0
            .iter()
            .find(|(k, _)| *k == transport)
            .or(self.0.first())
            .map(|&(_, a)| a)
    }

    /// Whether `host:port` is one of our listening addresses (an absent port is 5060, or 5061
    /// for `sips`).
    pub(crate) fn is_address(&self, host: &Host<'_>, port: Option<u16>, secure: bool) -> bool {
        let ip: IpAddr = match *host {
            Host::Ipv4(a) => a.into(),
            Host::Ipv6(a) => a.into(),
            Host::Domain(_) => return false,
        };
        let port = port.unwrap_or(if secure { 5061 } else { 5060 });
        self.0.iter().any(|(_, a)| a.ip() == ip && a.port() == port)
    }

    /// Whether a Via names us: its sent-by is one of our addresses (§16.11 / §18.1.2: a
    /// response whose top Via is not ours is discarded).
    fn is_ours(&self, via: &Via<'_>) -> bool {
        let kind = TransportKind::from_token(via.transport).unwrap_or(TransportKind::Udp);
        let port = via.port.unwrap_or(kind.default_port());
        self.is_address(&via.host, Some(port), false)
    }

    /// The Record-Route value for requests that arrived over `transport`: this proxy's URI with
    /// `lr` (§16.6 step 4), so in-dialog requests come back here by loose routing, and the
    /// dialog's `seal` (see [`seal`](super::seal)), so only they do.
    pub(crate) fn record_route(&self, transport: TransportKind, seal: &str) -> Option<String> {
        let addr = self.address(transport)?;
        let p = super::seal::PARAM;
        Some(match transport {
            TransportKind::Udp => format!("<sip:{addr};lr;{p}={seal}>"),
            t => format!(
                "<sip:{addr};transport={};lr;{p}={seal}>",
                t.as_str().to_ascii_lowercase()
            ),
        })
    }
}

/// Where a SIP URI is reached without DNS: its IP address, port (default of the transport) and
/// transport (`sips` means TLS, else the `transport` parameter, else UDP). `None` for a domain
/// name, which the embedded server does not resolve.
pub(crate) fn uri_target(uri: &SipUri<'_>) -> Option<Target> {
    let transport = if uri.secure {
        TransportKind::Tls
    } else {
        match uri.param("transport") {
            Some(Some(t)) => TransportKind::from_token(t)?,
            _ => TransportKind::Udp,
        }
    };
    let ip: IpAddr = match uri.host {
        Host::Ipv4(a) => a.into(),
        Host::Ipv6(a) => a.into(),
        Host::Domain(_) => return None,
    };
    let port = uri.port.unwrap_or(transport.default_port());
    Some(Target::new(transport, SocketAddr::new(ip, port)))
}

/// The branch of a statelessly forwarded request (§16.11): a hash of what identifies the
/// received request, so a retransmission, and the CANCEL or non-2xx ACK of an INVITE (which
/// carry its top Via, §9.1, §17.1.1.3), get the same branch and match the same transaction
/// downstream.
pub(crate) fn stateless_branch(msg: &Message) -> Result<String, ParseError> {
    let via = msg.top_via()?;
    let hash = if via.has_rfc3261_branch() {
        let sent_by = format!("{}:{:?}:{}", via.transport, via.port, via.host);
        Algorithm::Md5.hex_digest(&[
            via.branch.unwrap_or_default().as_bytes(),
            b"\n",
            sent_by.as_bytes(),
        ])
    } else {
        // An RFC 2543 peer: the fields §16.6 step 8 names.
        let cseq = msg.cseq()?.seq.to_string();
        let from_tag = msg.from_header()?.tag().unwrap_or_default();
        let to_tag = msg.to_header()?.tag().unwrap_or_default();
        let top = msg
            .list(HeaderName::Via)
            .next()
            .map_or(&b""[..], |h| h.value);
        Algorithm::Md5.hex_digest(&[
            msg.call_id()?.as_bytes(),
            b"\n",
            from_tag.as_bytes(),
            b"\n",
            to_tag.as_bytes(),
            b"\n",
            cseq.as_bytes(),
            b"\n",
            msg.request_uri().unwrap_or_default().as_bytes(),
            b"\n",
            top,
        ])
    };
    Ok(format!("{MAGIC_COOKIE}sl{}", &hash[..hash.len().min(24)]))
}

/// How the received message changes on its way through.
#[derive(Debug, Default)]
pub(crate) struct Rewrite<'a> {
    /// Header fields written first, in this order (our Via, our Record-Route).
    pub(crate) prepend: Vec<(&'static str, String)>,
    /// Offsets of list elements (a Route value, a Via value) to leave out.
    pub(crate) drop: Vec<usize>,
    /// The new Max-Forwards (added if the request had none).
    pub(crate) max_forwards: Option<u8>,
    /// Header fields to leave out entirely.
    pub(crate) strip: &'a [HeaderName],
}

fn text(value: &[u8], offset: usize) -> Result<&str, ParseError> {
    std::str::from_utf8(value).map_err(|e| {
        ParseError::new(
            ErrorKind::Expected("UTF-8 header value"),
            offset + e.valid_up_to(),
        )
    })
}

/// Writes `msg` again after `start` (its start line), applying `edit`; Content-Length is
/// recomputed. A body without Content-Type cannot be written (RFC 3261 §20.15 requires it).
pub(crate) fn rebuild(
    msg: &Message,
    start: MessageBuilder,
    edit: &Rewrite<'_>,
) -> Result<Bytes, ParseError> {
    let mut b = start;
    for (name, value) in &edit.prepend {
        b = b.header(name, value)?;
    }
    let elements = |name| -> Vec<Header<'_>> {
        if edit.drop.is_empty() {
            Vec::new()
        } else {
            msg.list(name).collect()
        }
    };
    let (vias, routes) = (elements(HeaderName::Via), elements(HeaderName::Route));
    let mut content_type = None;
    let mut wrote_max_forwards = false;
    for h in msg.headers() {
        if edit.strip.contains(&h.name) {
            continue;
        }
        let name = text(h.raw_name, h.offset)?;
        match h.name {
            HeaderName::ContentLength => {}
            HeaderName::ContentType => content_type = Some(text(h.value, h.offset)?),
            HeaderName::MaxForwards if edit.max_forwards.is_some() => {
                if !wrote_max_forwards {
                    b = b.header("Max-Forwards", &edit.max_forwards.unwrap_or(70).to_string())?;
                    wrote_max_forwards = true;
                }
            }
            HeaderName::Via | HeaderName::Route
                if edit
                    .drop
                    .iter()
                    .any(|&d| d >= h.offset && d < h.offset + h.value.len()) =>
            {
                let all = if h.name == HeaderName::Via {
                    &vias
                } else {
                    &routes
                };
                let kept = all
                    .iter()
                    .filter(|e| e.offset >= h.offset && e.offset < h.offset + h.value.len())
                    .filter(|e| !edit.drop.contains(&e.offset))
                    .map(|e| text(e.value, e.offset))
                    .collect::<Result<Vec<_>, _>>()?;
                if !kept.is_empty() {
                    b = b.header(name, &kept.join(", "))?;
                }
            }
            _ => b = b.header(name, text(h.value, h.offset)?)?,
        }
    }
    if let (Some(mf), false) = (edit.max_forwards, wrote_max_forwards) {
        b = b.header("Max-Forwards", &mf.to_string())?;
    }
    match content_type {
        Some(ct) => b = b.body(ct, msg.body_bytes())?,
        None if !msg.body().is_empty() => {
            return Err(ParseError::new(
                ErrorKind::MissingHeader(HeaderName::ContentType),
                msg.as_bytes().len() - msg.body().len(),
            ));
        }
        None => {}
    }
    b.try_build()
}

/// A response forwarded back (§16.11, §16.7 step 3 and 9): our top Via removed, sent where the
/// next Via says (`received`/`rport` first, RFC 3581 §4). `None` when the top Via is not ours,
/// does not carry `key`'s seal of the next Via (a forged response would be relayed anywhere),
/// or nothing is left to send it to.
pub(crate) fn forward_response(
    msg: &Message,
    listeners: &Listeners,
    key: &super::seal::RouteKey,
) -> Option<(Bytes, Target)> {
    let mut vias = msg.list(HeaderName::Via);
    let top = vias.next()?;
    let ours = Via::parse(top.value).ok()?;
    if !listeners.is_ours(&ours) {
        tracing::debug!("response whose top Via is not ours: dropped (RFC 3261 §16.11)");
        return None;
    }
    let next_raw = vias.next()?;
    let next = Via::parse(next_raw.value).ok()?;
    let sealed = ours
        .params
        .get(super::seal::VIA_PARAM)
        .flatten()
        .is_some_and(|v| key.verify_via(&next, v));
    if !sealed {
        tracing::debug!("response whose Via we did not seal: dropped");
        return None;
    }
    let transport = TransportKind::from_token(next.transport)?;
    let ip: IpAddr = match (next.received, next.host) {
        (Some(r), _) => r.parse().ok()?,
        (None, Host::Ipv4(a)) => a.into(),
        (None, Host::Ipv6(a)) => a.into(),
        (None, Host::Domain(_)) => return None,
    };
    let port = match next.rport {
        Some(Some(p)) => p,
        _ => next.port.unwrap_or(transport.default_port()),
    };
    let start = MessageBuilder::response(msg.status()?, msg.reason().unwrap_or_default());
    let edit = Rewrite {
        drop: vec![top.offset],
        ..Rewrite::default()
    };
    match rebuild(msg, start, &edit) {
        Ok(bytes) => Some((bytes, Target::new(transport, SocketAddr::new(ip, port)))),
        Err(e) => {
            tracing::debug!(error = %e, "response cannot be forwarded");
            None
        }
    }
}

/// The URI of a Route value, if it is a SIP URI.
pub(crate) fn route_uri(value: &[u8]) -> Option<SipUri<'_>> {
    let na = sip_parse::NameAddr::parse(value).ok()?;
    match na.uri().ok()? {
        Uri::Sip(u) => Some(u),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::seal::{RouteKey, VIA_PARAM};
    use super::*;

    fn msg(s: &str) -> Message {
        Message::parse_slice(s.replace('\n', "\r\n").as_bytes()).unwrap()
    }

    #[test]
    fn rebuild_pops_one_element_and_keeps_the_rest() {
        let m = msg("MESSAGE sip:bob@example.test SIP/2.0\n\
                     Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKa\n\
                     Route: <sip:192.0.2.9;lr>, <sip:192.0.2.8;lr>\n\
                     Route: <sip:192.0.2.7;lr>\n\
                     Max-Forwards: 5\n\
                     From: <sip:alice@example.test>;tag=1\nTo: <sip:bob@example.test>\n\
                     Call-ID: c\nCSeq: 1 MESSAGE\nContent-Type: text/plain\nContent-Length: 2\n\nhi");
        let first_route = m.list(HeaderName::Route).next().unwrap().offset;
        let out = rebuild(
            &m,
            MessageBuilder::request(sip_parse::Method::Message, "sip:bob@192.0.2.2"),
            &Rewrite {
                prepend: vec![("Via", "SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKx".into())],
                drop: vec![first_route],
                max_forwards: Some(4),
                strip: &[],
            },
        )
        .unwrap();
        let out = Message::parse(out).unwrap();
        out.validate().unwrap();
        assert_eq!(out.request_uri(), Some("sip:bob@192.0.2.2"));
        let routes: Vec<_> = out
            .list(HeaderName::Route)
            .map(|h| h.value_str().unwrap().to_owned())
            .collect();
        assert_eq!(routes, ["<sip:192.0.2.8;lr>", "<sip:192.0.2.7;lr>"]);
        let vias: Vec<_> = out
            .vias()
            .map(|v| v.unwrap().branch().unwrap().to_owned())
            .collect();
        assert_eq!(vias, ["z9hG4bKx", "z9hG4bKa"]);
        assert_eq!(out.max_forwards().unwrap().unwrap(), 4);
        assert_eq!(out.body(), b"hi");
    }

    #[test]
    fn body_without_content_type_is_refused() {
        let m = msg(
            "MESSAGE sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bKa\nContent-Length: 2\n\nhi",
        );
        let e = rebuild(
            &m,
            MessageBuilder::request(sip_parse::Method::Message, "sip:b@h"),
            &Rewrite::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::MissingHeader(HeaderName::ContentType));
    }

    #[test]
    fn stateless_branch_is_stable_and_shared_by_cancel() {
        let invite = msg(
            "INVITE sip:bob@example.test SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\n\
                          From: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 INVITE\n\n",
        );
        let cancel = msg(
            "CANCEL sip:bob@example.test SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\n\
                          From: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 CANCEL\n\n",
        );
        let other = msg(
            "INVITE sip:bob@example.test SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKb\n\
                         From: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 INVITE\n\n",
        );
        let b = stateless_branch(&invite).unwrap();
        assert!(b.starts_with(MAGIC_COOKIE) && b.len() > 20);
        assert_eq!(b, stateless_branch(&invite).unwrap());
        assert_eq!(b, stateless_branch(&cancel).unwrap());
        assert_ne!(b, stateless_branch(&other).unwrap());
        let old = msg(
            "INVITE sip:bob@example.test SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=1\n\
                       From: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 INVITE\n\n",
        );
        assert!(stateless_branch(&old).unwrap().starts_with(MAGIC_COOKIE));
    }

    #[test]
    fn uri_targets() {
        let t = |s: &str| match Uri::parse(s).unwrap() {
            Uri::Sip(u) => uri_target(&u),
            _ => unreachable!(),
        };
        assert_eq!(
            t("sip:a@192.0.2.1"),
            Some(Target::udp("192.0.2.1:5060".parse().unwrap()))
        );
        assert_eq!(
            t("sip:a@192.0.2.1:7;transport=TCP"),
            Some(Target::tcp("192.0.2.1:7".parse().unwrap()))
        );
        assert_eq!(
            t("sips:a@[2001:db8::1]").map(|t| (t.transport, t.addr.port())),
            Some((TransportKind::Tls, 5061))
        );
        assert_eq!(t("sip:a@example.test"), None);
        assert_eq!(t("sip:a@192.0.2.1;transport=sctp"), None);
    }

    #[test]
    fn responses_go_back_by_the_next_via() {
        let listeners = Listeners::new(vec![(
            TransportKind::Udp,
            "192.0.2.5:5060".parse().unwrap(),
        )]);
        let key = RouteKey::fixed(3);
        // The response with our Via sealed as we would have sealed it for `next`.
        let sealed = |ours: &str, next: &str, rest: &str| {
            let seal = key.seal_via(&Via::parse(next.as_bytes()).unwrap());
            msg(&format!("{ours};{VIA_PARAM}={seal}{rest}"))
        };
        let next = "SIP/2.0/TCP 10.0.0.1:5070;received=192.0.2.1;rport=6000;branch=z9hG4bKa";
        let rest = format!(
            "\nVia: {next}\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>;tag=2\nCall-ID: c\nCSeq: 1 MESSAGE\n\n"
        );
        let rsp = sealed(
            "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKsl1",
            next,
            &rest,
        );
        let (bytes, target) = forward_response(&rsp, &listeners, &key).unwrap();
        assert_eq!(target, Target::tcp("192.0.2.1:6000".parse().unwrap()));
        let out = Message::parse(bytes).unwrap();
        assert_eq!(out.vias().count(), 1);
        assert_eq!(out.top_via().unwrap().branch(), Some("z9hG4bKa"));
        // Without the seal, with a seal of another Via, or under another key: a forged
        // response, dropped rather than relayed.
        let forged = msg(&format!(
            "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKsl1{rest}"
        ));
        assert!(forward_response(&forged, &listeners, &key).is_none());
        let elsewhere = rest.replace("rport=6000", "rport=6001");
        let moved = sealed(
            "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKsl1",
            next,
            &elsewhere,
        );
        assert!(forward_response(&moved, &listeners, &key).is_none());
        assert!(forward_response(&rsp, &listeners, &RouteKey::fixed(4)).is_none());
        // Not our Via: dropped. Our Via alone: nowhere to go.
        let foreign = msg(
            "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.6;branch=z9hG4bKx\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\n\
                           From: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 MESSAGE\n\n",
        );
        assert!(forward_response(&foreign, &listeners, &key).is_none());
        let alone = msg(
            "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKx\n\
                         From: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 MESSAGE\n\n",
        );
        assert!(forward_response(&alone, &listeners, &key).is_none());
        // Two values in one Via header: only the first goes.
        let next = "SIP/2.0/UDP 192.0.2.1:5080;branch=z9hG4bKa";
        let folded = sealed(
            "SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP 192.0.2.5;branch=z9hG4bKx",
            next,
            &format!(
                ", {next}\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\nCall-ID: c\nCSeq: 1 INVITE\n\n"
            ),
        );
        let (bytes, target) = forward_response(&folded, &listeners, &key).unwrap();
        assert_eq!(target, Target::udp("192.0.2.1:5080".parse().unwrap()));
        assert!(Message::parse(bytes).unwrap().as_bytes().starts_with(
            b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.1:5080;branch=z9hG4bKa\r\n"
        ));
    }
}
