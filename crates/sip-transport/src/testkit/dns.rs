//! A tiny DNS server on 127.0.0.1 for tests: it answers from a zone the test can change while
//! it runs, so the real resolution code (hickory) runs over the wire, and a changed SRV answer
//! can be seen to move a client.
//!
//! ```
//! # tokio_test_block(async {
//! use sip_transport::resolve::{Destination, HickoryDns, locate};
//! use sip_transport::testkit::dns::{TestDns, a, RecordType};
//!
//! let server = TestDns::start().await;
//! server.set("plain.test", RecordType::A, vec![a("127.0.0.30")]);
//! let dns = HickoryDns::with_name_servers(&[server.addr()]);
//! let t = locate(&dns, &Destination::host("plain.test")).await.unwrap();
//! assert_eq!(t[0].addr.to_string(), "127.0.0.30:5060");
//! # });
//! # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::Record;
use hickory_resolver::proto::rr::rdata::{A, AAAA, NAPTR, SRV};
pub use hickory_resolver::proto::rr::{Name, RData, RecordType};
use tokio::net::UdpSocket;

/// Records by (lower-case name without the final dot, type).
pub type Zone = HashMap<(String, RecordType), Vec<RData>>;

/// Answers from its zone; names it does not hold get an empty NOERROR answer, or NXDOMAIN
/// once [`TestDns::set_nxdomain`] says so. Logs each query. Stops when dropped.
pub struct TestDns {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    nxdomain: Arc<AtomicBool>,
    queries: Arc<Mutex<Vec<(String, RecordType)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestDns {
    /// A server with an empty zone, answering with a TTL of 0 (resolvers do not cache).
    ///
    /// # Panics
    ///
    /// If no loopback UDP socket can be bound.
    pub async fn start() -> Self {
        Self::with_ttl(0).await
    }

    /// A server with an empty zone whose answers carry `ttl` seconds.
    ///
    /// # Panics
    ///
    /// If no loopback UDP socket can be bound.
    pub async fn with_ttl(ttl: u32) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("loopback UDP");
        let addr = socket.local_addr().expect("bound");
        let zone = Arc::new(Mutex::new(Zone::new()));
        let queries = Arc::new(Mutex::new(Vec::new()));
        let nxdomain = Arc::new(AtomicBool::new(false));
        let (log, records, nx) = (queries.clone(), zone.clone(), nxdomain.clone());
        let task = tokio::spawn(async move {
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
                    log.lock()
                        .expect("log lock")
                        .push((name.clone(), q.query_type()));
                    rsp.add_query(q.clone());
                    let zone = records.lock().expect("zone lock");
                    if nx.load(Ordering::Relaxed) && !zone.keys().any(|(n, _)| *n == name) {
                        rsp.set_response_code(ResponseCode::NXDomain);
                    }
                    let answers = zone
                        .get(&(name, q.query_type()))
                        .cloned()
                        .unwrap_or_default();
                    drop(zone);
                    for rdata in answers {
                        rsp.add_answer(Record::from_rdata(q.name().clone(), ttl, rdata));
                    }
                }
                if let Ok(bytes) = rsp.to_vec() {
                    let _ = socket.send_to(&bytes, from).await;
                }
            }
        });
        Self {
            addr,
            zone,
            nxdomain,
            queries,
            task,
        }
    }

    /// Whether a name the zone holds no record of, of any type, is answered NXDOMAIN (the
    /// name does not exist) rather than an empty NOERROR (it exists, without such records).
    pub fn set_nxdomain(&self, on: bool) {
        self.nxdomain.store(on, Ordering::Relaxed);
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the records of `name` and type `t` (none: the name has no such records).
    pub fn set(&self, name: &str, t: RecordType, records: Vec<RData>) {
        let key = (name.trim_end_matches('.').to_ascii_lowercase(), t);
        let mut zone = self.zone.lock().expect("zone lock");
        if records.is_empty() {
            zone.remove(&key);
        } else {
            zone.insert(key, records);
        }
    }

    /// Adds a record to those of `name` and type `t`.
    pub fn add(&self, name: &str, t: RecordType, record: RData) {
        let key = (name.trim_end_matches('.').to_ascii_lowercase(), t);
        self.zone
            .lock()
            .expect("zone lock")
            .entry(key)
            .or_default()
            .push(record);
    }

    /// How many queries of type `t` it answered.
    pub fn count(&self, t: RecordType) -> usize {
        let queries = self.queries.lock().expect("log lock");
        queries.iter().filter(|(_, q)| *q == t).count()
    }

    /// Whether it was asked for `name`'s records of type `t`.
    pub fn asked(&self, name: &str, t: RecordType) -> bool {
        let queries = self.queries.lock().expect("log lock");
        queries.iter().any(|(n, q)| n == name && *q == t)
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A DNS name (`"example.test."`).
///
/// # Panics
///
/// If `s` is not a valid name.
pub fn name(s: &str) -> Name {
    Name::from_str(s).expect("a DNS name")
}

/// A NAPTR record of preference 10 with flag `s` (RFC 3263 §4.1).
pub fn naptr(order: u16, service: &str, replacement: &str) -> RData {
    RData::NAPTR(NAPTR::new(
        order,
        10,
        b"s".to_vec().into_boxed_slice(),
        service.as_bytes().to_vec().into_boxed_slice(),
        Vec::new().into_boxed_slice(),
        name(replacement),
    ))
}

/// An SRV record.
pub fn srv(priority: u16, weight: u16, port: u16, target: &str) -> RData {
    RData::SRV(SRV::new(priority, weight, port, name(target)))
}

/// An A record.
///
/// # Panics
///
/// If `ip` is not an IPv4 address.
pub fn a(ip: &str) -> RData {
    RData::A(A(ip.parse().expect("an IPv4 address")))
}

/// An AAAA record.
///
/// # Panics
///
/// If `ip` is not an IPv6 address.
pub fn aaaa(ip: &str) -> RData {
    RData::AAAA(AAAA(ip.parse().expect("an IPv6 address")))
}
