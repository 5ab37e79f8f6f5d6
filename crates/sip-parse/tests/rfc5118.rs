//! RFC 5118 IPv6 torture messages (§4): every verdict of `rfc5118/MANIFEST.tsv`, and the values
//! the RFC says each message carries.
//!
//! The files are the RFC's §4 messages with CRLF line ends (its archive uses bare LF). Two more
//! changes make them the wire bytes the RFC describes: the two §4.10 messages end with the empty
//! line that closes a header section (the RFC prints none), and the three SDP messages (§4.6,
//! §4.8, §4.9) carry the Content-Length of their CRLF body (the RFC's 268, 181 and 236 count
//! neither form of the body it prints).

mod torture;

use std::net::{Ipv4Addr, Ipv6Addr};

use sip_parse::{Contact, ErrorKind, Host, Message, Uri};
use torture::Corpus;

fn load(name: &str) -> Message {
    Corpus::new("rfc5118").load(name)
}

fn v6(s: &str) -> Host<'static> {
    Host::Ipv6(s.parse::<Ipv6Addr>().unwrap())
}

/// The host and port of the Request-URI.
fn request_uri_host(m: &Message) -> (Host<'_>, Option<u16>) {
    let Uri::Sip(u) = Uri::parse(m.request_uri().unwrap()).unwrap() else {
        panic!("not a SIP URI")
    };
    (u.host, u.port)
}

#[test]
fn every_manifest_verdict() {
    assert_eq!(Corpus::new("rfc5118").check_verdicts(), 12);
}

/// §4.1: IPv6 references in the Request-URI, the Via and the Contact.
#[test]
fn ipv6_good() {
    let m = load("ipv6-good.dat");
    assert_eq!(request_uri_host(&m), (v6("2001:db8::10"), None));
    let via = m.top_via().unwrap();
    assert_eq!((via.host, via.port), (v6("2001:db8::9:1"), None));
    assert_eq!(via.branch(), Some("z9hG4bKas3-111"));
    let Contact::Address(c) = m.contacts().next().unwrap().unwrap() else {
        panic!("not an address")
    };
    assert_eq!(c.display_name().as_deref(), Some("Caller"));
    let Uri::Sip(u) = c.uri().unwrap() else {
        panic!()
    };
    assert_eq!(u.host, v6("2001:db8::1"));
}

/// §4.2: an IPv6 address without brackets in the Request-URI is refused, at the Request-URI.
#[test]
fn ipv6_bad_is_refused_at_the_request_uri() {
    let bytes = Corpus::new("rfc5118").bytes("ipv6-bad.dat");
    let e = Message::parse(bytes::Bytes::from(bytes))
        .and_then(|m| m.validate())
        .unwrap_err();
    let uri_at = "REGISTER ".len();
    assert!(
        (uri_at..uri_at + "sip:2001:db8::10".len()).contains(&e.offset),
        "error at {} ({e}), not in the Request-URI",
        e.offset
    );
    assert!(!matches!(e.kind, ErrorKind::MissingHeader(_)), "{e}");
}

/// §4.3: everything inside the brackets is the address, so `5070` is its last group, not a port
/// (erratum 1311 says the same).
#[test]
fn port_ambiguous_is_part_of_the_address() {
    let m = load("port-ambiguous.dat");
    assert_eq!(request_uri_host(&m), (v6("2001:db8::10:5070"), None));
}

/// §4.4: a port after the closing bracket.
#[test]
fn port_unambiguous() {
    let m = load("port-unambiguous.dat");
    assert_eq!(request_uri_host(&m), (v6("2001:db8::10"), Some(5070)));
}

/// §4.5: `received` with and without the brackets of an IPv6 reference names the same address;
/// the view gives it without them, ready to be read as an IP address.
#[test]
fn via_received_with_and_without_brackets() {
    for file in [
        "via-received-param-with-delim.dat",
        "via-received-param-no-delim.dat",
    ] {
        let m = load(file);
        let via = m.top_via().unwrap();
        assert_eq!(via.host, v6("2001:db8::9:1"), "{file}");
        assert_eq!(via.received, Some("2001:db8::9:255"), "{file}");
        assert_eq!(
            via.received_ip(),
            Some("2001:db8::9:255".parse().unwrap()),
            "{file}"
        );
    }
    let m = load("via-received-param-with-delim.dat");
    assert_eq!(
        m.top_via().unwrap().params.get("received"),
        Some(Some("[2001:db8::9:255]")),
        "the parameter as written keeps its brackets"
    );
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bKas3-111"));
}

/// §4.6: IPv6 in the SDP body; the body is whole.
#[test]
fn ipv6_in_sdp() {
    let m = load("ipv6-in-sdp.dat");
    assert_eq!(request_uri_host(&m), (v6("2001:db8::10"), None));
    assert!(m.content_type().unwrap().unwrap().is("application", "sdp"));
    let body = std::str::from_utf8(m.body()).unwrap();
    assert!(body.starts_with("v=0\r\n"));
    assert!(body.contains("\r\nc=IN IP6 2001:db8::20\r\n"));
    assert!(body.ends_with("a=rtpmap:107 H263-1998/90000\r\n"));
}

/// §4.7: IPv6 and IPv4 Vias in one message, a port after a reference, `received` after branch.
#[test]
fn mult_ip_in_header() {
    let m = load("mult-ip-in-header.dat");
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (vias[0].host, vias[0].port),
        (v6("2001:db8::9:1"), Some(6050))
    );
    assert_eq!(vias[1].host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(
        (vias[2].transport, vias[2].host),
        ("TCP", v6("2001:db8::9:255"))
    );
    assert_eq!(vias[2].branch(), Some("z9hG4bK451jj"));
    assert_eq!(vias[2].received, Some("192.0.2.200"));
}

/// §4.8: one stream on IPv4, one on IPv6; both `c=` lines reach the layer above.
#[test]
fn mult_ip_in_sdp() {
    let m = load("mult-ip-in-sdp.dat");
    let body = std::str::from_utf8(m.body()).unwrap();
    assert!(body.contains("\r\nc=IN IP4 192.0.2.1\r\n"));
    assert!(body.contains("\r\nc=IN IP6 2001:db8::1\r\n"));
    assert!(body.ends_with("a=rtpmap:107 H263-1998/90000\r\n"));
}

/// §4.9: IPv4-mapped IPv6 addresses in Via (with a port) and Contact.
#[test]
fn ipv4_mapped_ipv6() {
    let m = load("ipv4-mapped-ipv6.dat");
    let vias: Vec<_> = m.vias().map(Result::unwrap).collect();
    assert_eq!(
        (vias[0].host, vias[0].port),
        (v6("::ffff:192.0.2.10"), Some(19823))
    );
    assert_eq!((vias[1].host, vias[1].port), (v6("::ffff:192.0.2.2"), None));
    let Contact::Address(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    let Uri::Sip(u) = c.uri().unwrap() else {
        panic!()
    };
    assert_eq!(u.host, v6("::ffff:192.0.2.2"));
    assert!(
        std::str::from_utf8(m.body())
            .unwrap()
            .contains("c=IN IP6 ::ffff:192.0.2.2\r\n")
    );
}

/// §4.10: RFC 3261's ABNF admits `2001:db8:::192.0.2.1` (a `::` hexpart, then ":" IPv4address);
/// RFC 5954 corrects the grammar, and RFC 5118 says to tolerate both. Both name the same
/// address, in the Request-URI and in To.
#[test]
fn three_colon_and_two_colon_references_name_one_address() {
    let expected = v6("2001:db8::192.0.2.1");
    let two = load("ipv6-correct-abnf-2-colons.dat");
    let two_to = two.to_header().unwrap().uri().unwrap();
    for file in [
        "ipv6-bug-abnf-3-colons.dat",
        "ipv6-correct-abnf-2-colons.dat",
    ] {
        let m = load(file);
        assert_eq!(request_uri_host(&m), (expected, None), "{file}");
        let to = m.to_header().unwrap().uri().unwrap();
        let Uri::Sip(u) = &to else { panic!() };
        assert_eq!(u.host, expected, "{file}");
        assert!(to.equivalent(&two_to), "{file}");
    }
}
