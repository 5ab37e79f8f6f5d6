//! Who may hold an inbound stream connection: a cap per source address, and a total cap that
//! closes the oldest connection (or TLS handshake) that never delivered a message before it
//! refuses a newcomer, so one peer cannot lock everyone else out by hoarding connections.

use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::ConnectionId;
use crate::handle::{Conns, Shared, bump};

/// An inbound connection that has not delivered a message yet, as the limit closes it.
#[derive(Debug)]
pub(crate) enum Unproven {
    /// Still in its TLS handshake: the handshake task gives up when notified.
    Handshake(Arc<Notify>),
    /// Registered: closing it ends its task.
    Connection(ConnectionId),
}

/// An admitted inbound connection's place in the limits, given back when dropped.
pub(crate) struct Slot {
    shared: Arc<Shared>,
    source: IpAddr,
    /// Admission order: lower is older.
    seq: u64,
    cancel: Arc<Notify>,
    /// The id it was registered with, once it was.
    id: Option<ConnectionId>,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("source", &self.source)
            .field("seq", &self.seq)
            .finish()
    }
}

impl Slot {
    /// The connection is registered as `id`: it counts in `by_id` from now on, no longer as a
    /// handshake.
    pub(crate) fn registered(&mut self, c: &mut Conns, id: ConnectionId) {
        if self.id.is_none() {
            self.id = Some(id);
            c.handshaking = c.handshaking.saturating_sub(1);
            if let Some(u) = c.unproven.get_mut(&self.seq) {
                *u = Unproven::Connection(id);
            }
        }
    }

    /// Resolves when the limit closes this connection during its TLS handshake.
    pub(crate) async fn cancelled(&self) {
        self.cancel.notified().await
    }

    /// The connection delivered a whole message: it is no longer among the first to go, but
    /// among the untrusted until [`Transport::trust`](crate::Transport::trust) vouches for it.
    /// Called once, at the first message.
    pub(crate) fn proven(&self) {
        let mut c = self.shared.conns();
        c.unproven.remove(&self.seq);
        if let Some(id) = self.id {
            c.untrusted.insert(self.seq, id);
            c.untrusted_seq.insert(id, self.seq);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.shared.conns();
        if self.id.is_none() {
            c.handshaking = c.handshaking.saturating_sub(1);
        }
        c.unproven.remove(&self.seq);
        if let Some(id) = self.id
            && c.untrusted.remove(&self.seq).is_some()
        {
            c.untrusted_seq.remove(&id);
        }
        if let Some(n) = c.per_source.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.per_source.remove(&self.source);
            }
        }
    }
}

/// What one source is, for the per-source cap: an IPv4 address, or the /64 prefix of an IPv6
/// one (a single host commonly holds a whole /64, RFC 4291 §2.5.4, and could otherwise take
/// every slot with addresses of its own).
fn source_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(prefix.into())
        }
        v4 => v4,
    }
}

/// Admits an inbound connection from `source`, or refuses it (counted in
/// `connections_refused`):
///
/// * refused when `source` (its /64 for IPv6) already holds
///   [`max_connections_per_source`](crate::TransportConfig::max_connections_per_source);
/// * at [`max_connections`](crate::TransportConfig::max_connections), the oldest inbound
///   connection or handshake that has not yet delivered a whole message is closed to make
///   room (counted in `connections_evicted`); then, with
///   [`evict_untrusted`](crate::TransportConfig::evict_untrusted), the oldest whose peer has
///   not authenticated; refused if there is none.
pub(crate) fn admit(shared: &Arc<Shared>, source: IpAddr) -> Option<Slot> {
    let source = source_of(source);
    let cfg = &shared.cfg;
    let mut c = shared.conns();
    let from_source = c.per_source.get(&source).copied().unwrap_or(0);
    if from_source >= cfg.max_connections_per_source {
        drop(c);
        bump(&shared.counters.connections_refused);
        tracing::info!(%source, limit = cfg.max_connections_per_source, "per-source connection limit reached; refusing");
        return None;
    }
    if c.by_id.len() + c.handshaking >= cfg.max_connections {
        // Those without a message go first; then, if asked, the oldest not vouched for.
        let victim = match c.unproven.pop_first() {
            Some((_, u)) => Some(u),
            None if cfg.evict_untrusted => c.untrusted.pop_first().map(|(_, id)| {
                c.untrusted_seq.remove(&id);
                Unproven::Connection(id)
            }),
            None => None,
        };
        match victim {
            Some(Unproven::Connection(id)) => {
                c.close(id);
                bump(&shared.counters.connections_evicted);
                tracing::info!(%id, "connection limit reached; closing the oldest unproven or untrusted connection");
            }
            Some(Unproven::Handshake(cancel)) => {
                // It stops counting once its task sees the notice; the newcomer may briefly
                // exceed the limit by one.
                cancel.notify_one();
                bump(&shared.counters.connections_evicted);
                tracing::info!("connection limit reached; abandoning the oldest TLS handshake");
            }
            None => {
                drop(c);
                bump(&shared.counters.connections_refused);
                tracing::warn!(%source, limit = cfg.max_connections, "connection limit reached; refusing");
                return None;
            }
        }
    }
    *c.per_source.entry(source).or_insert(0) += 1;
    c.handshaking += 1;
    let seq = c.next_admission;
    c.next_admission += 1;
    let cancel = Arc::new(Notify::new());
    c.unproven.insert(seq, Unproven::Handshake(cancel.clone()));
    Some(Slot {
        shared: shared.clone(),
        source,
        seq,
        cancel,
        id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::source_of;

    #[test]
    fn an_ipv6_source_is_its_64_prefix() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(source_of(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(source_of(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(source_of(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(
            source_of(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            source_of(ip("2001:db8:1:2::5"))
        );
        assert_ne!(
            source_of(ip("2001:db8:1:3::1")),
            source_of(ip("2001:db8:1:2::1"))
        );
    }
}
