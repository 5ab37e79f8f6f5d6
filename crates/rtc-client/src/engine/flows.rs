//! The flows to the registrar: keep-alives on UDP and their pace on TCP and TLS (RFC 5626
//! §4.4.1), lost connections, and the Contact a registration settles on behind NAT.

use super::*;

impl Engine {
    /// A stream connection broke: a registration that went over it registers again at once
    /// over a new connection (RFC 5626 §4.4.1), and once registered its subscriptions and
    /// publication are refreshed (see [`Agent::registered`]).
    pub(super) fn connection_lost(&mut self, target: &Target, reason: &str) {
        // The same peer, whatever name a TLS target verifies: the transport knows addresses.
        let same = |t: &Target| t.transport == target.transport && t.addr == target.addr;
        for (key, p) in &mut self.profiles {
            let over_it =
                p.registration.target().is_some_and(same) || p.outbound.first().is_some_and(same);
            if over_it {
                debug!("{key}: connection to {} lost: {reason}", target.addr);
                if let Err(e) = p.registration.connection_lost() {
                    warn!("re-register {key}: {e}");
                }
            }
        }
    }

    /// A STUN response: the answer to some profile's keep-alive probe.
    pub(super) fn handle_stun(&mut self, stun: &StunIncoming) {
        self.heard_from(&Target::udp(stun.source));
        let now = Self::now();
        for p in self.profiles.values_mut() {
            if let Some(Err(e)) = p.keepalive.as_mut().map(|k| k.handle_stun(now, stun)) {
                warn!("keep-alive: {e}");
            }
        }
    }

    /// Sends the keep-alives' probes and acts on what they found (RFC 5626 §4.4.1): a registrar
    /// that stopped answering means registering again (and backing off while it stays away);
    /// one that answers again, or sees us from a new public address, means registering now.
    pub(super) fn drain_keepalives(&mut self) {
        let transport = self.driver.transport().clone();
        for (key, p) in &mut self.profiles {
            let Some(ka) = &mut p.keepalive else {
                continue;
            };
            while let Some((target, datagram)) = ka.poll_transmit() {
                let transport = transport.clone();
                tokio::spawn(async move {
                    if let Err(e) = transport.send(&target, datagram).await {
                        debug!("keep-alive to {}: {e}", target.addr);
                    }
                });
            }
            while let Some(found) = ka.poll_event() {
                debug!("{key}: keep-alive {found:?}");
                let result = match found {
                    KeepAliveEvent::Failed => p
                        .registration
                        .flow_failed("the registrar stopped answering keep-alives"),
                    KeepAliveEvent::Recovered | KeepAliveEvent::Mapped(_)
                        if !p.registration.is_pending() =>
                    {
                        p.registration.register()
                    }
                    _ => Ok(()),
                };
                if let Err(e) = result {
                    warn!("re-register {key}: {e}");
                }
            }
        }
    }
}

/// Keeps a profile's keep-alive and Contact in step with its registration's `state`: a UDP
/// registration that is registered, or recovering, has a keep-alive to its registrar; once
/// registered, requests use the Contact the registration settled on (behind NAT, the public
/// address). Returns whether that Contact moved.
pub(super) fn follow_registration(
    p: &mut ProfileState,
    state: RegistrationState,
    config: Option<KeepAliveConfig>,
    now: Instant,
) -> bool {
    match state {
        RegistrationState::Registered => {
            let udp = p
                .registration
                .target()
                .filter(|t| t.transport == TransportKind::Udp);
            // RFC 5626 §4.4.1: on an outbound flow, at the registrar's Flow-Timer.
            let config = crate::outbound::keepalive_for(config, p.registration.flow());
            p.keepalive = match (udp, config, p.keepalive.take()) {
                (Some(t), _, Some(k)) if k.target() == t => Some(k),
                (Some(t), Some(c), _) => KeepAlive::new(t.clone(), c, now)
                    .inspect_err(|e| warn!("keep-alive: {e}"))
                    .ok(),
                _ => None,
            };
            let moved = p.local != *p.registration.local();
            if moved {
                p.local = p.registration.local().clone();
            }
            moved
        }
        // Still wanted: it tells when the registrar is back.
        RegistrationState::Registering | RegistrationState::Error => false,
        _ => {
            p.keepalive = None;
            false
        }
    }
}

/// After each answer to a REGISTER over TCP or TLS that leaves the registration registered
/// (refreshes too: the connection it came on may be a new one), that connection pings at the
/// registrar's Flow-Timer if it gave one (RFC 5626 §4.4.1), else at the transport's
/// `configured` interval. A missing pong closes the connection (the transport's
/// `keepalive_timeout`), which [`Engine::connection_lost`] turns into registering again.
pub(super) fn follow_flow_timer(
    p: &ProfileState,
    transport: &sip_transport::Transport,
    configured: Option<Duration>,
) {
    let stream = p
        .registration
        .target()
        .filter(|t| t.transport != TransportKind::Udp);
    if let (RegistrationState::Registered, Some(t)) = (p.registration.state(), stream) {
        let pace = crate::outbound::stream_keepalive_for(configured, p.registration.flow());
        match transport.set_keepalive(t, pace) {
            Ok(id) => debug!(
                "{id} to {}: pinged every {pace:?} (None: as configured)",
                t.addr
            ),
            Err(e) => debug!("keep-alive pace: {e}"),
        }
    }
}
