//! RFC 3263 location through hickory-resolver against a tiny DNS server on 127.0.0.1, so the
//! real resolution code runs: NAPTR, SRV, A and AAAA over the wire.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, NAPTR, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use sip_transport::resolve::{Destination, DnsLookup, HickoryDns, locate};
use sip_transport::{Target, TransportKind};
use tokio::net::UdpSocket;

type Zone = HashMap<(String, RecordType), Vec<RData>>;

/// Answers from `zone`; names it does not hold get an empty NOERROR answer. Logs each query.
struct TestDns {
    addr: SocketAddr,
    queries: Arc<Mutex<Vec<(String, RecordType)>>>,
}

impl TestDns {
    async fn start(zone: Zone) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let queries = Arc::new(Mutex::new(Vec::new()));
        let log = queries.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(req) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut rsp = Message::new();
                rsp.set_id(req.id())
                    .set_message_type(MessageType::Response)
                    .set_op_code(req.op_code())
                    .set_recursion_desired(req.recursion_desired())
                    .set_recursion_available(true)
                    .set_authoritative(true)
                    .set_response_code(ResponseCode::NoError);
                for q in req.queries() {
                    let name = q
                        .name()
                        .to_utf8()
                        .trim_end_matches('.')
                        .to_ascii_lowercase();
                    log.lock().unwrap().push((name.clone(), q.query_type()));
                    rsp.add_query(q.clone());
                    for rdata in zone.get(&(name, q.query_type())).into_iter().flatten() {
                        rsp.add_answer(Record::from_rdata(q.name().clone(), 60, rdata.clone()));
                    }
                }
                let _ = socket.send_to(&rsp.to_vec().unwrap(), from).await;
            }
        });
        Self { addr, queries }
    }

    fn count(&self, t: RecordType) -> usize {
        self.queries
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, q)| *q == t)
            .count()
    }

    fn asked(&self, name: &str, t: RecordType) -> bool {
        self.queries
            .lock()
            .unwrap()
            .iter()
            .any(|(n, q)| n == name && *q == t)
    }
}

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

fn zone(entries: Vec<(&str, RecordType, RData)>) -> Zone {
    let mut z = Zone::new();
    for (n, t, r) in entries {
        z.entry((n.to_owned(), t)).or_default().push(r);
    }
    z
}

fn naptr(order: u16, service: &str, replacement: &str) -> RData {
    RData::NAPTR(NAPTR::new(
        order,
        10,
        b"s".to_vec().into_boxed_slice(),
        service.as_bytes().to_vec().into_boxed_slice(),
        Vec::new().into_boxed_slice(),
        name(replacement),
    ))
}

fn srv(priority: u16, weight: u16, port: u16, target: &str) -> RData {
    RData::SRV(SRV::new(priority, weight, port, name(target)))
}

fn a(ip: &str) -> RData {
    RData::A(A(ip.parse().unwrap()))
}

fn aaaa(ip: &str) -> RData {
    RData::AAAA(AAAA(ip.parse().unwrap()))
}

#[tokio::test]
async fn naptr_srv_and_addresses_over_the_wire() {
    use RecordType::*;
    let server = TestDns::start(zone(vec![
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
    ]))
    .await;
    let dns = HickoryDns::with_name_servers(&[server.addr]);
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
    let server = TestDns::start(zone(vec![
        ("_sip._tcp.srv.test", SRV, srv(0, 0, 5070, "pbx.srv.test.")),
        ("pbx.srv.test", A, a("127.0.0.20")),
        ("plain.test", A, a("127.0.0.30")),
    ]))
    .await;
    let dns = HickoryDns::with_name_servers(&[server.addr]);
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
