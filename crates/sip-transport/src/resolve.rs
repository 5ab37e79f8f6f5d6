//! RFC 3263 server location: from a SIP(S) URI or host to an ordered list of [`Target`]s to try
//! in turn (failover).
//!
//! The decisions are pure functions fed with records ([`select_naptr`], [`order_srv`],
//! [`Destination`]); DNS is behind the [`DnsLookup`] trait, with [`HickoryDns`] for real
//! resolution and [`StaticDns`] for tests and fixed deployments.
//!
//! ```
//! use sip_transport::resolve::{Destination, StaticDns, SrvRecord, locate};
//! use sip_transport::TransportKind;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let mut dns = StaticDns::default();
//! dns.add_srv("_sip._udp.example.com", SrvRecord::new(10, 0, 5070, "sip1.example.com"));
//! dns.add_ip("sip1.example.com", "192.0.2.10".parse().unwrap());
//! let dest = Destination::from_uri("sip:alice@example.com")?;
//! let targets = locate(&dns, &dest).await?;
//! assert_eq!(targets[0].transport, TransportKind::Udp);
//! assert_eq!(targets[0].addr, "192.0.2.10:5070".parse().unwrap());
//! # Ok::<(), sip_transport::Error>(())
//! # }).unwrap();
//! ```

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolverConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use sip_parse::{Host, Uri};

use crate::{Error, Result, Target, TransportKind};

/// What to locate: the host part of a SIP or SIPS URI with its port and transport parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// A domain name (no trailing dot needed) or a numeric IP address.
    pub host: String,
    /// An explicit port: skips NAPTR and SRV (RFC 3263 §4.2).
    pub port: Option<u16>,
    /// An explicit transport (`transport=` URI parameter): skips NAPTR (§4.1).
    pub transport: Option<TransportKind>,
    /// A `sips:` URI: TLS only.
    pub secure: bool,
    /// The transports this client can use, in preference order when DNS leaves the choice
    /// open. Default: TLS, TCP, UDP.
    pub supported: Vec<TransportKind>,
}

const ALL: [TransportKind; 3] = [TransportKind::Tls, TransportKind::Tcp, TransportKind::Udp];

impl Destination {
    /// A plain host (domain or IP) with no port, transport or `sips:`.
    pub fn host(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port: None,
            transport: None,
            secure: false,
            supported: ALL.to_vec(),
        }
    }

    /// From a `sip:` / `sips:` URI; its `maddr` parameter, when present, replaces the host
    /// (RFC 3263 §4).
    pub fn from_uri(uri: &str) -> Result<Self> {
        let bad = |reason| Error::BadDestination {
            input: uri.to_owned(),
            reason,
        };
        let parsed = Uri::parse(uri).map_err(|_| bad("not a valid URI"))?;
        let sip = parsed.as_sip().ok_or(bad("not a sip: or sips: URI"))?;
        let transport = match sip.param("transport") {
            Some(Some(t)) => {
                Some(TransportKind::from_token(t).ok_or(bad("unsupported transport parameter"))?)
            }
            _ => None,
        };
        let host = match sip.param("maddr") {
            Some(Some(m)) => m.trim_start_matches('[').trim_end_matches(']').to_owned(),
            _ => match sip.host {
                Host::Domain(d) => d.to_owned(),
                Host::Ipv4(a) => a.to_string(),
                Host::Ipv6(a) => a.to_string(),
            },
        };
        Ok(Self {
            host,
            port: sip.port,
            transport,
            secure: sip.secure,
            supported: ALL.to_vec(),
        })
    }

    fn allowed(&self) -> Vec<TransportKind> {
        self.supported
            .iter()
            .copied()
            .filter(|&t| !self.secure || t == TransportKind::Tls)
            .filter(|&t| self.transport.is_none_or(|want| want == t || self.secure))
            .collect()
    }

    /// The transport when DNS does not choose one: the explicit one, TLS for `sips:`, else UDP
    /// (RFC 3263 §4.1).
    fn fallback_transport(&self) -> TransportKind {
        if self.secure {
            TransportKind::Tls
        } else {
            self.transport.unwrap_or(TransportKind::Udp)
        }
    }

    fn server_name(&self, transport: TransportKind) -> Option<Arc<str>> {
        (transport == TransportKind::Tls && self.host.parse::<IpAddr>().is_err())
            .then(|| self.host.trim_end_matches('.').into())
    }
}

/// A NAPTR record (RFC 3403) as far as SIP uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaptrRecord {
    /// Lower first.
    pub order: u16,
    /// Lower first among equal `order`.
    pub preference: u16,
    /// `S` for SIP (the next step is SRV).
    pub flags: String,
    /// `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`, …
    pub service: String,
    /// The SRV name to query next.
    pub replacement: String,
}

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower first.
    pub priority: u16,
    /// Relative share among equal priority.
    pub weight: u16,
    /// The port.
    pub port: u16,
    /// The host to resolve to addresses; `.` means "no service here".
    pub target: String,
}

impl SrvRecord {
    /// A record.
    pub fn new(priority: u16, weight: u16, port: u16, target: impl Into<String>) -> Self {
        Self {
            priority,
            weight,
            port,
            target: target.into(),
        }
    }
}

/// The NAPTR service field for a transport (RFC 3263 §4.1).
pub fn naptr_service(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Udp => "SIP+D2U",
        TransportKind::Tcp => "SIP+D2T",
        TransportKind::Tls => "SIPS+D2T",
    }
}

/// The SRV name prefix for a transport when there is no NAPTR (RFC 3263 §4.1).
pub fn srv_prefix(t: TransportKind) -> &'static str {
    match t {
        TransportKind::Udp => "_sip._udp",
        TransportKind::Tcp => "_sip._tcp",
        TransportKind::Tls => "_sips._tcp",
    }
}

/// The usable NAPTR records, best first: flag `S`, a service for an allowed transport, ordered
/// by `order` then `preference`. Each gives a transport and the SRV name to query.
pub fn select_naptr(
    records: &[NaptrRecord],
    allowed: &[TransportKind],
) -> Vec<(TransportKind, String)> {
    let mut usable: Vec<_> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s"))
        .filter_map(|r| {
            let t = allowed
                .iter()
                .copied()
                .find(|&t| naptr_service(t).eq_ignore_ascii_case(&r.service))?;
            Some((
                r.order,
                r.preference,
                t,
                r.replacement.trim_end_matches('.'),
            ))
        })
        .filter(|(.., name)| !name.is_empty())
        .collect();
    usable.sort_by_key(|&(order, pref, ..)| (order, pref));
    usable
        .into_iter()
        .map(|(.., t, name)| (t, name.to_owned()))
        .collect()
}

/// Orders SRV records for trying in turn (RFC 2782): priority ascending; within a priority, a
/// weighted random order where each record's chance to come next is its weight over the sum of
/// the weights left (weight 0 records come last in practice, but may be chosen). `random(n)`
/// returns a number in `0..=n`. Records whose target is `.` are removed.
pub fn order_srv(records: &[SrvRecord], mut random: impl FnMut(u32) -> u32) -> Vec<SrvRecord> {
    let mut rest: Vec<&SrvRecord> = records
        .iter()
        .filter(|r| !r.target.trim_end_matches('.').is_empty())
        .collect();
    rest.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(rest.len());
    let mut start = 0;
    while start < rest.len() {
        let prio = rest.get(start).map_or(0, |r| r.priority);
        let end = rest
            .iter()
            .skip(start)
            .position(|r| r.priority != prio)
            .map_or(rest.len(), |n| start + n);
        let mut group: Vec<&SrvRecord> = rest.get(start..end).unwrap_or_default().to_vec();
        // RFC 2782: zero-weight records go first in the list before the running sums.
        group.sort_by_key(|r| r.weight != 0);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
            let pick = random(total).min(total);
            let mut sum = 0u32;
            let idx = group
                .iter()
                .position(|r| {
                    sum += u32::from(r.weight);
                    sum >= pick
                })
                .unwrap_or(0);
            out.push(group.remove(idx).clone());
        }
        start = end;
    }
    out
}

/// A random number in `0..=n` from the standard library's randomly keyed hasher: good enough to
/// spread load, no extra dependency.
pub fn std_random(n: u32) -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(n);
    let r = h.finish();
    u32::try_from(r % (u64::from(n) + 1)).unwrap_or(0)
}

/// DNS queries RFC 3263 needs. "No such name" and "no records" are `Ok(vec![])`; `Err` is for
/// failures (timeouts, server errors).
pub trait DnsLookup: Send + Sync {
    /// NAPTR records of `name`.
    fn naptr(&self, name: &str) -> impl Future<Output = Result<Vec<NaptrRecord>>> + Send;
    /// SRV records of `name` (e.g. `_sip._udp.example.com`).
    fn srv(&self, name: &str) -> impl Future<Output = Result<Vec<SrvRecord>>> + Send;
    /// A and AAAA records of `host`.
    fn ip(&self, host: &str) -> impl Future<Output = Result<Vec<IpAddr>>> + Send;
    /// [`naptr`](Self::naptr) with how long the answer stays valid (its TTL), if known.
    fn naptr_ttl(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<(Vec<NaptrRecord>, Option<Duration>)>> + Send {
        async move { Ok((self.naptr(name).await?, None)) }
    }
    /// [`srv`](Self::srv) with how long the answer stays valid (its TTL), if known.
    fn srv_ttl(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<(Vec<SrvRecord>, Option<Duration>)>> + Send {
        async move { Ok((self.srv(name).await?, None)) }
    }
    /// [`ip`](Self::ip) with how long the answer stays valid (its TTL), if known.
    fn ip_ttl(
        &self,
        host: &str,
    ) -> impl Future<Output = Result<(Vec<IpAddr>, Option<Duration>)>> + Send {
        async move { Ok((self.ip(host).await?, None)) }
    }
}

/// Targets in RFC 3263 order, and how long they stay valid: the shortest TTL of the answers
/// they came from (`None`: no TTL known, as for a numeric host or [`StaticDns`] without one).
/// Look them up again once it has passed (RFC 3263 §4.3 relies on DNS caching rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Where to send, in order.
    pub targets: Vec<Target>,
    /// How long the answer is valid.
    pub valid_for: Option<Duration>,
}

/// Keeps the shortest TTL seen.
fn shortest(acc: &mut Option<Duration>, ttl: Option<Duration>) {
    if let Some(t) = ttl {
        *acc = Some(acc.map_or(t, |a| a.min(t)));
    }
}

/// [`locate`], with how long its answer stays valid.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use sip_transport::resolve::{Destination, StaticDns, locate_for};
///
/// let mut dns = StaticDns::default();
/// dns.add_ip("example.test", "192.0.2.1".parse().unwrap()).set_ttl(Duration::from_secs(300));
/// let found = locate_for(&dns, &Destination::host("example.test")).await.unwrap();
/// assert_eq!(found.valid_for, Some(Duration::from_secs(300)));
/// # });
/// ```
pub async fn locate_for<D: DnsLookup>(dns: &D, dest: &Destination) -> Result<Located> {
    let mut valid_for = None;
    let targets = locate_ttl(dns, dest, std_random, &mut valid_for).await?;
    Ok(Located { targets, valid_for })
}

/// Resolves `dest` to the targets to try, in order (RFC 3263 §4), using [`std_random`] for SRV
/// weights.
pub async fn locate<D: DnsLookup>(dns: &D, dest: &Destination) -> Result<Vec<Target>> {
    locate_with(dns, dest, std_random).await
}

/// [`locate`] with a chosen random source for SRV weights (see [`order_srv`]).
pub async fn locate_with<D: DnsLookup>(
    dns: &D,
    dest: &Destination,
    random: impl FnMut(u32) -> u32 + Send,
) -> Result<Vec<Target>> {
    locate_ttl(dns, dest, random, &mut None).await
}

/// [`locate_with`], keeping the shortest TTL of the answers used in `valid_for`.
async fn locate_ttl<D: DnsLookup>(
    dns: &D,
    dest: &Destination,
    mut random: impl FnMut(u32) -> u32 + Send,
    valid_for: &mut Option<Duration>,
) -> Result<Vec<Target>> {
    let host = dest.host.trim_end_matches('.');
    if host.is_empty() {
        return Err(Error::BadDestination {
            input: dest.host.clone(),
            reason: "empty host",
        });
    }
    let allowed = dest.allowed();
    if allowed.is_empty() {
        return Err(Error::BadDestination {
            input: dest.host.clone(),
            reason: "no supported transport for this URI",
        });
    }
    let fallback = dest.fallback_transport();
    let target = |t: TransportKind, ip: IpAddr, port: u16| Target {
        transport: t,
        addr: SocketAddr::new(ip, port),
        server_name: dest.server_name(t),
    };

    // §4.1/§4.2: a numeric IP is used directly; an explicit port means A/AAAA only.
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![target(
            fallback,
            ip,
            dest.port.unwrap_or(fallback.default_port()),
        )]);
    }
    let mut failure = None;
    if let Some(port) = dest.port {
        let (ips, ttl) = dns.ip_ttl(host).await?;
        shortest(valid_for, ttl);
        return non_empty(
            ips.into_iter()
                .map(|ip| target(fallback, ip, port))
                .collect(),
            host,
            None,
        );
    }

    // §4.1: NAPTR when no transport was given, then SRV per chosen service.
    let mut services: Vec<(TransportKind, String)> = Vec::new();
    if dest.transport.is_none() {
        match dns.naptr_ttl(host).await {
            Ok((records, ttl)) => {
                services = select_naptr(&records, &allowed);
                if !services.is_empty() {
                    shortest(valid_for, ttl);
                }
            }
            Err(e) => {
                tracing::debug!(host, error = %e, "NAPTR lookup failed; trying SRV");
                failure = Some(e);
            }
        }
    }
    if services.is_empty() {
        services = allowed
            .iter()
            .map(|&t| (t, format!("{}.{host}", srv_prefix(t))))
            .collect();
    }
    let mut out = Vec::new();
    for (t, name) in services {
        let records = match dns.srv_ttl(&name).await {
            Ok((r, ttl)) => {
                if !r.is_empty() {
                    shortest(valid_for, ttl);
                }
                r
            }
            Err(e) => {
                tracing::debug!(name, error = %e, "SRV lookup failed");
                failure = Some(e);
                continue;
            }
        };
        for srv in order_srv(&records, &mut random) {
            match dns.ip_ttl(srv.target.trim_end_matches('.')).await {
                Ok((ips, ttl)) => {
                    shortest(valid_for, ttl);
                    out.extend(ips.into_iter().map(|ip| target(t, ip, srv.port)));
                }
                Err(e) => failure = Some(e),
            }
        }
    }
    if !out.is_empty() {
        dedup(&mut out);
        return Ok(out);
    }

    // §4.2: no SRV: the host's addresses with the default port.
    match dns.ip_ttl(host).await {
        Ok((ips, ttl)) => {
            shortest(valid_for, ttl);
            non_empty(
                ips.into_iter()
                    .map(|ip| target(fallback, ip, fallback.default_port()))
                    .collect(),
                host,
                failure,
            )
        }
        Err(e) => Err(e),
    }
}

fn non_empty(v: Vec<Target>, host: &str, failure: Option<Error>) -> Result<Vec<Target>> {
    match (v.is_empty(), failure) {
        (false, _) => Ok(v),
        (true, Some(e)) => Err(e),
        (true, None) => Err(Error::NotFound(host.to_owned())),
    }
}

fn dedup(v: &mut Vec<Target>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|t| seen.insert(t.clone()));
}

/// A fixed table of records: for tests, and for deployments without DNS.
#[derive(Debug, Clone, Default)]
pub struct StaticDns {
    naptr: HashMap<String, Vec<NaptrRecord>>,
    srv: HashMap<String, Vec<SrvRecord>>,
    ip: HashMap<String, Vec<IpAddr>>,
    ttl: Option<Duration>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl StaticDns {
    /// Adds a NAPTR record for `name`.
    pub fn add_naptr(&mut self, name: &str, r: NaptrRecord) -> &mut Self {
        self.naptr.entry(key(name)).or_default().push(r);
        self
    }
    /// Adds an SRV record for `name`.
    pub fn add_srv(&mut self, name: &str, r: SrvRecord) -> &mut Self {
        self.srv.entry(key(name)).or_default().push(r);
        self
    }
    /// Adds an address for `host`.
    pub fn add_ip(&mut self, host: &str, ip: IpAddr) -> &mut Self {
        self.ip.entry(key(host)).or_default().push(ip);
        self
    }
    /// Gives every answer this TTL (none by default: answers never expire).
    pub fn set_ttl(&mut self, ttl: Duration) -> &mut Self {
        self.ttl = Some(ttl);
        self
    }
}

impl DnsLookup for StaticDns {
    async fn naptr(&self, name: &str) -> Result<Vec<NaptrRecord>> {
        Ok(self.naptr.get(&key(name)).cloned().unwrap_or_default())
    }
    async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>> {
        Ok(self.srv.get(&key(name)).cloned().unwrap_or_default())
    }
    async fn ip(&self, host: &str) -> Result<Vec<IpAddr>> {
        Ok(self.ip.get(&key(host)).cloned().unwrap_or_default())
    }
    async fn naptr_ttl(&self, name: &str) -> Result<(Vec<NaptrRecord>, Option<Duration>)> {
        Ok((self.naptr(name).await?, self.ttl))
    }
    async fn srv_ttl(&self, name: &str) -> Result<(Vec<SrvRecord>, Option<Duration>)> {
        Ok((self.srv(name).await?, self.ttl))
    }
    async fn ip_ttl(&self, host: &str) -> Result<(Vec<IpAddr>, Option<Duration>)> {
        Ok((self.ip(host).await?, self.ttl))
    }
}

/// Real DNS through hickory-resolver.
#[derive(Debug, Clone)]
pub struct HickoryDns(TokioResolver);

impl HickoryDns {
    /// The system's resolver configuration (`/etc/resolv.conf`).
    pub fn from_system_conf() -> Result<Self> {
        let mut builder = TokioResolver::builder_tokio().map_err(|e| Error::Dns {
            name: "/etc/resolv.conf".into(),
            rtype: "config",
            reason: e.to_string(),
        })?;
        // RFC 3263 §4.2: both A and AAAA.
        builder.options_mut().ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        Ok(Self(builder.build()))
    }

    /// Plain DNS over UDP to these name servers only.
    pub fn with_name_servers(servers: &[SocketAddr]) -> Self {
        let mut config = ResolverConfig::new();
        for &s in servers {
            config.add_name_server(NameServerConfig::new(s, Protocol::Udp));
        }
        let mut builder =
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default());
        let opts = builder.options_mut();
        opts.attempts = 2;
        opts.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        Self(builder.build())
    }

    /// Wraps a resolver configured elsewhere.
    pub fn from_resolver(resolver: TokioResolver) -> Self {
        Self(resolver)
    }
}

/// A fully qualified name, so search domains are not tried.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

fn dns_error(name: &str, rtype: &'static str, e: hickory_resolver::ResolveError) -> Error {
    Error::Dns {
        name: name.to_owned(),
        rtype,
        reason: e.to_string(),
    }
}

fn name_text(n: &hickory_resolver::proto::rr::Name) -> String {
    n.to_utf8().trim_end_matches('.').to_owned()
}

/// How long from now a hickory answer valid until `until` stays valid.
fn remaining(until: Instant) -> Option<Duration> {
    #[allow(clippy::disallowed_methods)] // hickory's cache runs on the real clock
    Some(until.saturating_duration_since(Instant::now()))
}

impl DnsLookup for HickoryDns {
    async fn naptr(&self, name: &str) -> Result<Vec<NaptrRecord>> {
        Ok(self.naptr_ttl(name).await?.0)
    }

    async fn srv(&self, name: &str) -> Result<Vec<SrvRecord>> {
        Ok(self.srv_ttl(name).await?.0)
    }

    async fn ip(&self, host: &str) -> Result<Vec<IpAddr>> {
        Ok(self.ip_ttl(host).await?.0)
    }

    async fn naptr_ttl(&self, name: &str) -> Result<(Vec<NaptrRecord>, Option<Duration>)> {
        match self.0.lookup(fqdn(name), RecordType::NAPTR).await {
            Ok(l) => Ok((
                l.iter()
                    .filter_map(|r| match r {
                        RData::NAPTR(n) => Some(NaptrRecord {
                            order: n.order(),
                            preference: n.preference(),
                            flags: String::from_utf8_lossy(n.flags()).into_owned(),
                            service: String::from_utf8_lossy(n.services()).into_owned(),
                            replacement: name_text(n.replacement()),
                        }),
                        _ => None,
                    })
                    .collect(),
                remaining(l.valid_until()),
            )),
            Err(e) if e.is_no_records_found() => Ok((Vec::new(), None)),
            Err(e) => Err(dns_error(name, "NAPTR", e)),
        }
    }

    async fn srv_ttl(&self, name: &str) -> Result<(Vec<SrvRecord>, Option<Duration>)> {
        match self.0.srv_lookup(fqdn(name)).await {
            Ok(l) => Ok((
                l.iter()
                    .map(|s| {
                        SrvRecord::new(s.priority(), s.weight(), s.port(), name_text(s.target()))
                    })
                    .collect(),
                remaining(l.as_lookup().valid_until()),
            )),
            Err(e) if e.is_no_records_found() => Ok((Vec::new(), None)),
            Err(e) => Err(dns_error(name, "SRV", e)),
        }
    }

    async fn ip_ttl(&self, host: &str) -> Result<(Vec<IpAddr>, Option<Duration>)> {
        match self.0.lookup_ip(fqdn(host)).await {
            Ok(l) => Ok((l.iter().collect(), remaining(l.valid_until()))),
            // A name that does not exist is not a name without addresses: the user mistyped
            // it, or DNS lost it (Cause::DnsNoSuchName).
            Err(e) if e.is_nx_domain() => Err(Error::NoSuchName(host.to_owned())),
            Err(e) if e.is_no_records_found() => Ok((Vec::new(), None)),
            Err(e) => Err(dns_error(host, "A/AAAA", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn naptr(order: u16, pref: u16, service: &str, repl: &str) -> NaptrRecord {
        NaptrRecord {
            order,
            preference: pref,
            flags: "S".into(),
            service: service.into(),
            replacement: repl.into(),
        }
    }

    /// A deterministic "random" source replaying values.
    fn replay(values: Vec<u32>) -> impl FnMut(u32) -> u32 + Send {
        let mut v = values.into_iter();
        move |_| v.next().unwrap_or(0)
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn srv_priority_then_weight() {
        let recs = [
            SrvRecord::new(20, 0, 1, "c"),
            SrvRecord::new(10, 60, 2, "a"),
            SrvRecord::new(10, 40, 3, "b"),
            SrvRecord::new(10, 0, 4, "z"),
            SrvRecord::new(5, 0, 5, "."),
        ];
        // Group 10 is listed [z(0), a(60), b(40)]; running sums 0, 60, 100.
        let names = |v: Vec<SrvRecord>| v.into_iter().map(|r| r.target).collect::<Vec<_>>();
        // 70 picks b; then [z, a] sums 0, 60: 1 picks a; then z.
        assert_eq!(
            names(order_srv(&recs, replay(vec![70, 1, 0, 0]))),
            ["b", "a", "z", "c"]
        );
        // 0 picks the zero-weight record first.
        assert_eq!(
            names(order_srv(&recs, replay(vec![0, 100, 0, 0]))),
            ["z", "b", "a", "c"]
        );
        // Out-of-range randomness is clamped, never panics.
        assert_eq!(order_srv(&recs, |_| u32::MAX).len(), 4);
        assert!(order_srv(&[], std_random).is_empty());
    }

    #[test]
    fn srv_weights_are_honoured_statistically() {
        let recs = [
            SrvRecord::new(0, 90, 1, "heavy"),
            SrvRecord::new(0, 10, 2, "light"),
        ];
        let heavy_first = (0..2000)
            .filter(|_| order_srv(&recs, std_random)[0].target == "heavy")
            .count();
        assert!((1600..=1990).contains(&heavy_first), "{heavy_first}");
    }

    #[test]
    fn naptr_selection_filters_and_orders() {
        let recs = [
            naptr(20, 10, "SIP+D2U", "_sip._udp.example.com."),
            naptr(10, 20, "SIP+D2T", "_sip._tcp.example.com"),
            naptr(10, 10, "SIPS+D2T", "_sips._tcp.example.com"),
            naptr(5, 5, "SIP+D2S", "_sip._sctp.example.com"),
            NaptrRecord {
                flags: "U".into(),
                ..naptr(1, 1, "SIP+D2U", "x")
            },
        ];
        let got = select_naptr(&recs, &ALL);
        assert_eq!(
            got,
            [
                (TransportKind::Tls, "_sips._tcp.example.com".to_owned()),
                (TransportKind::Tcp, "_sip._tcp.example.com".to_owned()),
                (TransportKind::Udp, "_sip._udp.example.com".to_owned()),
            ]
        );
        let udp_only = select_naptr(&recs, &[TransportKind::Udp]);
        assert_eq!(udp_only.len(), 1);
    }

    #[test]
    fn destination_from_uri() {
        let d = Destination::from_uri("sips:alice@Example.COM").unwrap();
        assert!(d.secure);
        assert_eq!(d.host, "Example.COM");
        let d = Destination::from_uri("sip:b@[2001:db8::1]:5070;transport=TCP").unwrap();
        assert_eq!(
            (d.host.as_str(), d.port, d.transport),
            ("2001:db8::1", Some(5070), Some(TransportKind::Tcp))
        );
        let d = Destination::from_uri("sip:b@h.example;maddr=192.0.2.1").unwrap();
        assert_eq!(d.host, "192.0.2.1");
        for bad in ["tel:+1234", "sip:b@h;transport=sctp", "nonsense"] {
            assert!(
                matches!(
                    Destination::from_uri(bad),
                    Err(Error::BadDestination { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn numeric_hosts_go_direct() {
        let dns = StaticDns::default();
        let t = block_on(locate(
            &dns,
            &Destination::from_uri("sip:a@192.0.2.1").unwrap(),
        ))
        .unwrap();
        assert_eq!(t, [Target::udp("192.0.2.1:5060".parse().unwrap())]);
        let t = block_on(locate(
            &dns,
            &Destination::from_uri("sips:a@[2001:db8::1]").unwrap(),
        ))
        .unwrap();
        assert_eq!(t[0].transport, TransportKind::Tls);
        assert_eq!(t[0].addr, "[2001:db8::1]:5061".parse().unwrap());
        assert_eq!(t[0].server_name, None);
        let t = block_on(locate(
            &dns,
            &Destination::from_uri("sip:a@192.0.2.1:6000;transport=tcp").unwrap(),
        ))
        .unwrap();
        assert_eq!(t, [Target::tcp("192.0.2.1:6000".parse().unwrap())]);
    }

    #[test]
    fn explicit_port_skips_naptr_and_srv() {
        let mut dns = StaticDns::default();
        dns.add_naptr(
            "example.com",
            naptr(1, 1, "SIP+D2T", "_sip._tcp.example.com"),
        )
        .add_srv("_sip._tcp.example.com", SrvRecord::new(0, 0, 7000, "other"))
        .add_ip("example.com", ip("192.0.2.1"))
        .add_ip("example.com", ip("2001:db8::1"));
        let t = block_on(locate(
            &dns,
            &Destination::from_uri("sip:a@example.com:5080").unwrap(),
        ))
        .unwrap();
        assert_eq!(
            t,
            [
                Target::udp("192.0.2.1:5080".parse().unwrap()),
                Target::udp("[2001:db8::1]:5080".parse().unwrap())
            ]
        );
    }

    #[test]
    fn naptr_then_srv_then_addresses() {
        let mut dns = StaticDns::default();
        dns.add_naptr(
            "example.com",
            naptr(10, 10, "SIP+D2U", "_sip._udp.example.com"),
        )
        .add_naptr(
            "example.com",
            naptr(5, 10, "SIPS+D2T", "_sips._tcp.example.com"),
        )
        .add_srv(
            "_sips._tcp.example.com",
            SrvRecord::new(0, 0, 5061, "tls.example.com"),
        )
        .add_srv(
            "_sip._udp.example.com",
            SrvRecord::new(1, 0, 5062, "b.example.com"),
        )
        .add_srv(
            "_sip._udp.example.com",
            SrvRecord::new(0, 0, 5060, "a.example.com"),
        )
        .add_ip("tls.example.com", ip("192.0.2.3"))
        .add_ip("a.example.com", ip("192.0.2.1"))
        .add_ip("b.example.com", ip("192.0.2.2"));
        let t = block_on(locate(&dns, &Destination::host("example.com"))).unwrap();
        let got: Vec<_> = t
            .iter()
            .map(|t| (t.transport, t.addr.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                (TransportKind::Tls, "192.0.2.3:5061".to_owned()),
                (TransportKind::Udp, "192.0.2.1:5060".to_owned()),
                (TransportKind::Udp, "192.0.2.2:5062".to_owned()),
            ]
        );
        // TLS verifies the SIP domain, not the SRV target (RFC 5922 §4.1).
        assert_eq!(t[0].server_name.as_deref(), Some("example.com"));
        // sips: only the TLS service.
        let t = block_on(locate(
            &dns,
            &Destination::from_uri("sips:a@example.com").unwrap(),
        ))
        .unwrap();
        assert_eq!(t.len(), 1);
        // An explicit transport skips NAPTR but uses its SRV name.
        let t = block_on(locate(
            &dns,
            &Destination::from_uri("sip:a@example.com;transport=udp").unwrap(),
        ))
        .unwrap();
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|t| t.transport == TransportKind::Udp));
    }

    #[test]
    fn srv_without_naptr_then_plain_addresses() {
        let mut dns = StaticDns::default();
        dns.add_srv(
            "_sip._tcp.example.com",
            SrvRecord::new(0, 0, 5070, "pbx.example.com"),
        )
        .add_ip("pbx.example.com", ip("192.0.2.9"));
        let t = block_on(locate(&dns, &Destination::host("example.com"))).unwrap();
        assert_eq!(t, [Target::tcp("192.0.2.9:5070".parse().unwrap())]);

        let mut dns = StaticDns::default();
        dns.add_ip("example.org", ip("192.0.2.7"));
        let t = block_on(locate(&dns, &Destination::host("example.org"))).unwrap();
        assert_eq!(t, [Target::udp("192.0.2.7:5060".parse().unwrap())]);
        let t = block_on(locate(
            &dns,
            &Destination::from_uri("sips:x@example.org").unwrap(),
        ))
        .unwrap();
        assert_eq!(
            t,
            [Target::tls(
                "192.0.2.7:5061".parse().unwrap(),
                "example.org"
            )]
        );

        let err = block_on(locate(&dns, &Destination::host("nowhere.example"))).unwrap_err();
        assert!(matches!(err, Error::NotFound(h) if h == "nowhere.example"));
    }
}
