//! Where the client is: the sent-by per transport.

use super::*;

impl Engine {
    /// Our sent-by per bound transport: the configured host, the listener's address, or — for
    /// a wildcard listener — the local address the system routes towards `towards`.
    pub(super) fn local(&self, user: &str, towards: Option<&Target>) -> Result<Endpoint> {
        let mut local = Endpoint::new(user);
        let listener = |kind| self.driver.transport().local_addr(kind);
        for kind in [TransportKind::Udp, TransportKind::Tcp, TransportKind::Tls] {
            // A client rarely listens on TLS: its TLS sent-by borrows the TCP port, which the
            // Via `alias` makes the name of the connection it opens (RFC 5923 §5).
            let addr = match kind {
                TransportKind::Tls => listener(kind).or_else(|| listener(TransportKind::Tcp)),
                _ => listener(kind),
            };
            let Some(addr) = addr else {
                continue;
            };
            let host = match (&self.config.sent_by_host, towards) {
                (Some(h), _) => h.clone(),
                (None, _) if !addr.ip().is_unspecified() => addr.ip().to_string(),
                (None, Some(t)) => route_source(t.addr)?.to_string(),
                (None, None) => return Err(Error::NoLocalAddress),
            };
            let sent_by = if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]:{}", addr.port())
            } else {
                format!("{host}:{}", addr.port())
            };
            local = local.with(kind, sent_by);
        }
        Ok(local)
    }
}

/// The local address the system would use to reach `to` (a connected UDP socket sends
/// nothing).
pub(super) fn route_source(to: SocketAddr) -> Result<std::net::IpAddr> {
    let any: SocketAddr = if to.is_ipv4() {
        "0.0.0.0:0".parse().expect("literal")
    } else {
        "[::]:0".parse().expect("literal")
    };
    let socket = std::net::UdpSocket::bind(any).map_err(|_| Error::NoLocalAddress)?;
    socket.connect(to).map_err(|_| Error::NoLocalAddress)?;
    Ok(socket.local_addr().map_err(|_| Error::NoLocalAddress)?.ip())
}
