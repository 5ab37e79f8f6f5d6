//! What a [`Transport`](crate::Transport) binds and how it behaves.

use std::net::SocketAddr;
use std::time::Duration;

use sip_parse::ParseConfig;

use crate::{TlsConfig, TlsServerConfig};

/// Listeners, limits and timers of a [`Transport`](crate::Transport).
///
/// Every listener list may be empty: a client that only connects out needs none (it still needs
/// a UDP socket to send datagrams, e.g. `0.0.0.0:0`).
///
/// ```
/// use std::time::Duration;
/// let cfg = sip_transport::TransportConfig {
///     udp: vec!["127.0.0.1:0".parse().unwrap()],
///     tcp: vec!["127.0.0.1:0".parse().unwrap()],
///     idle_timeout: Some(Duration::from_secs(60)),
///     ..Default::default()
/// };
/// # let _ = cfg;
/// ```
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// UDP sockets to bind (one per address family you want to send on).
    pub udp: Vec<SocketAddr>,
    /// TCP listeners to bind.
    pub tcp: Vec<SocketAddr>,
    /// TLS listeners to bind; they need [`TransportConfig::tls_server`].
    pub tls: Vec<SocketAddr>,
    /// Certificate and key for TLS listeners.
    pub tls_server: Option<TlsServerConfig>,
    /// How outgoing TLS connections verify servers; `None` disables outgoing TLS.
    pub tls_client: Option<TlsConfig>,
    /// Message limits: `max_message_size` bounds datagrams and stream messages alike.
    pub parse: ParseConfig,
    /// Close a stream connection after this long without a whole message, a keep-alive or an
    /// outbound write (`None`: never); bytes of an unfinished message do not count, so a peer
    /// trickling a byte at a time cannot keep it open. Default 5 minutes.
    pub idle_timeout: Option<Duration>,
    /// A message must arrive whole within this long of its first byte, and an inbound
    /// connection must deliver its first message within this long of being accepted (after
    /// the TLS handshake); otherwise the connection is closed (slowloris). Default 20 s, as
    /// Kamailio's `tcp_msg_read_timeout`.
    pub message_timeout: Duration,
    /// On connections we opened, send a CRLF CRLF ping this often (RFC 5626 §3.5.1): each wait
    /// a random 80–100 % of it (§4.4.1), so that clients started together do not ping in
    /// step. Default `None`.
    pub keepalive_interval: Option<Duration>,
    /// A ping not answered by a CRLF pong within this time marks the connection broken.
    /// Default 10 s (RFC 5626 §4.4.1).
    pub keepalive_timeout: Duration,
    /// Limit for TCP connect plus TLS handshake. Default 10 s.
    pub connect_timeout: Duration,
    /// Limit for writing one message (or ping) to a stream; a peer that stops reading is
    /// treated as broken. Default 30 s.
    pub write_timeout: Duration,
    /// Most live stream connections (both directions, TLS handshakes included). At the limit
    /// a new inbound connection closes the oldest inbound one that has not delivered a message
    /// yet, then (with [`evict_untrusted`](Self::evict_untrusted)) the oldest one that
    /// [`Transport::trust`](crate::Transport::trust) has not vouched for, or is refused (closed
    /// at once) if there is none; both are counted. Default 4096.
    pub max_connections: usize,
    /// At [`max_connections`](Self::max_connections), once every inbound connection has
    /// delivered a message, close the oldest one whose peer has not authenticated (the server
    /// calls [`Transport::trust`](crate::Transport::trust) when one does) rather than refuse
    /// the newcomer: a peer with many addresses cannot then hold slots with one OPTIONS per
    /// connection. For servers that authenticate their users; default `false` (refuse).
    pub evict_untrusted: bool,
    /// Most inbound connections (TLS handshakes included) from one IPv4 address or one IPv6
    /// /64 prefix; more are refused, so one peer cannot take every slot. Default 64.
    pub max_connections_per_source: usize,
    /// Messages queued per connection before a send waits. Default 64.
    pub send_queue: usize,
    /// Events queued for the receiver before transport tasks wait. Default 1024.
    pub event_queue: usize,
    /// Stamp `received`/`rport` on the top Via of incoming requests (RFC 3581). Default true.
    pub stamp_via: bool,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            udp: Vec::new(),
            tcp: Vec::new(),
            tls: Vec::new(),
            tls_server: None,
            tls_client: Some(TlsConfig::new()),
            parse: ParseConfig::default(),
            idle_timeout: Some(Duration::from_secs(300)),
            message_timeout: Duration::from_secs(20),
            keepalive_interval: None,
            keepalive_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            max_connections: 4096,
            evict_untrusted: false,
            max_connections_per_source: 64,
            send_queue: 64,
            event_queue: 1024,
            stamp_via: true,
        }
    }
}
