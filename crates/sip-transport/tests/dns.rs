//! RFC 3263 location through hickory-resolver against a tiny DNS server on 127.0.0.1 (the
//! testkit's), so the real resolution code runs: NAPTR, SRV, A and AAAA over the wire.

use std::net::IpAddr;

use sip_transport::resolve::{Destination, DnsLookup, HickoryDns, locate};
use sip_transport::testkit::dns::{RData, RecordType, TestDns, a, aaaa, naptr, srv};
use sip_transport::{Target, TransportKind};

/// A server holding `entries`.
async fn serving(entries: Vec<(&str, RecordType, RData)>) -> TestDns {
    let server = TestDns::with_ttl(60).await;
    for (n, t, r) in entries {
        server.add(n, t, r);
    }
    server
}

#[tokio::test]
async fn naptr_srv_and_addresses_over_the_wire() {
    use RecordType::*;
    let server = serving(vec![
        (
            "example.test",
            NAPTR,
            naptr(10, "SIPS+D2T", "_sips._tcp.example.test."),
        ),
        (
            "example.test",
            NAPTR,
            naptr(20, "SIP+D2U", "_sip._udp.example.test."),
        ),
        (
            "_sips._tcp.example.test",
            SRV,
            srv(0, 1, 5061, "edge.example.test."),
        ),
        (
            "_sip._udp.example.test",
            SRV,
            srv(10, 5, 5080, "b.example.test."),
        ),
        (
            "_sip._udp.example.test",
            SRV,
            srv(5, 5, 5060, "a.example.test."),
        ),
        ("edge.example.test", A, a("127.0.0.10")),
        ("edge.example.test", AAAA, aaaa("::10")),
        ("a.example.test", A, a("127.0.0.11")),
        ("b.example.test", A, a("127.0.0.12")),
    ])
    .await;
    let dns = HickoryDns::with_name_servers(&[server.addr()]);
    let targets = locate(
        &dns,
        &Destination::from_uri("sip:alice@example.test").unwrap(),
    )
    .await
    .unwrap();
    let got: Vec<_> = targets
        .iter()
        .map(|t| (t.transport, t.addr.to_string()))
        .collect();
    assert_eq!(got[0].0, TransportKind::Tls);
    // A before AAAA is not guaranteed by the resolver: compare the TLS pair as a set.
    let mut tls: Vec<_> = got[..2].iter().map(|(_, a)| a.clone()).collect();
    tls.sort();
    assert_eq!(tls, ["127.0.0.10:5061", "[::10]:5061"]);
    assert_eq!(
        got[2..],
        [
            (TransportKind::Udp, "127.0.0.11:5060".to_owned()),
            (TransportKind::Udp, "127.0.0.12:5080".to_owned()),
        ]
    );
    assert_eq!(targets[0].server_name.as_deref(), Some("example.test"));
    assert!(server.asked("example.test", NAPTR));
}

#[tokio::test]
async fn srv_without_naptr_then_plain_a() {
    use RecordType::*;
    let server = serving(vec![
        ("_sip._tcp.srv.test", SRV, srv(0, 0, 5070, "pbx.srv.test.")),
        ("pbx.srv.test", A, a("127.0.0.20")),
        ("plain.test", A, a("127.0.0.30")),
    ])
    .await;
    let dns = HickoryDns::with_name_servers(&[server.addr()]);
    let t = locate(&dns, &Destination::host("srv.test")).await.unwrap();
    assert_eq!(t, [Target::tcp("127.0.0.20:5070".parse().unwrap())]);
    assert!(server.asked("_sips._tcp.srv.test", SRV));
    assert!(server.asked("_sip._udp.srv.test", SRV));

    let t = locate(&dns, &Destination::host("plain.test"))
        .await
        .unwrap();
    assert_eq!(t, [Target::udp("127.0.0.30:5060".parse().unwrap())]);

    // An explicit port asks for addresses only.
    let (naptrs, srvs) = (server.count(NAPTR), server.count(SRV));
    let t = locate(
        &dns,
        &Destination::from_uri("sip:x@plain.test:5999").unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(t, [Target::udp("127.0.0.30:5999".parse().unwrap())]);
    assert_eq!((server.count(NAPTR), server.count(SRV)), (naptrs, srvs));

    // Nothing anywhere.
    let err = locate(&dns, &Destination::host("void.test"))
        .await
        .unwrap_err();
    assert!(matches!(err, sip_transport::Error::NotFound(_)), "{err}");

    // The trait methods report empty answers as empty, not as errors.
    assert!(dns.srv("_sip._udp.void.test").await.unwrap().is_empty());
    let ips: Vec<IpAddr> = dns.ip("plain.test").await.unwrap();
    assert_eq!(ips, [IpAddr::from([127, 0, 0, 30])]);
}

#[tokio::test]
async fn the_answer_is_valid_for_its_shortest_ttl() {
    use RecordType::*;
    let server = TestDns::with_ttl(60).await;
    server.add("_sip._udp.ttl.test", SRV, srv(0, 0, 5070, "pbx.ttl.test."));
    server.add("pbx.ttl.test", A, a("127.0.0.40"));
    let dns = HickoryDns::with_name_servers(&[server.addr()]);
    let found = sip_transport::resolve::locate_for(&dns, &Destination::host("ttl.test"))
        .await
        .unwrap();
    assert_eq!(
        found.targets,
        [Target::udp("127.0.0.40:5070".parse().unwrap())]
    );
    let valid = found.valid_for.expect("a TTL");
    assert!(
        (std::time::Duration::from_secs(50)..=std::time::Duration::from_secs(60)).contains(&valid),
        "{valid:?}"
    );
}

#[tokio::test]
async fn a_name_that_does_not_exist_is_told_from_one_without_records() {
    use sip_transport::{Cause, Error};
    let server = serving(Vec::new()).await;
    server.set_nxdomain(true);
    let dns = HickoryDns::with_name_servers(&[server.addr()]);
    // Nothing at all under that name: NXDOMAIN.
    let missing = locate(&dns, &Destination::host("nowhere.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, Error::NoSuchName(h) if h == "nowhere.test"),
        "{missing}"
    );
    assert_eq!(missing.cause(), Cause::DnsNoSuchName);
    // The server answers empty NOERRORs instead: the name exists, but no SRV or address
    // leads anywhere.
    server.set_nxdomain(false);
    let empty = locate(&dns, &Destination::host("empty.test"))
        .await
        .unwrap_err();
    assert!(
        matches!(&empty, Error::NotFound(h) if h == "empty.test"),
        "{empty}"
    );
    assert_eq!(empty.cause(), Cause::DnsNoRecords);
}
