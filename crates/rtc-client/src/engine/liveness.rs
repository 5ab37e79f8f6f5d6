//! The liveness check of UDP registrars ([`crate::liveness`]): what comes from a registrar
//! proves it alive; a silent one is asked with an OPTIONS, and one that does not answer is
//! registered with again, which backs off while it stays away.

use super::*;
use crate::liveness::{Liveness, LivenessConfig};

impl Engine {
    /// Something came from `source` (a response, a request, a STUN answer): a registrar heard
    /// from is alive.
    pub(super) fn heard_from(&mut self, source: &Target) {
        let now = Self::now();
        for p in self.profiles.values_mut() {
            let from_registrar = p
                .registration
                .target()
                .is_some_and(|t| t.addr == source.addr);
            if let Some(check) = p.liveness.as_mut().filter(|_| from_registrar) {
                check.heard(now);
            }
        }
    }

    /// Asks the registrars that have been silent too long, and registers again with those that
    /// did not answer.
    pub(super) fn drain_liveness(&mut self) {
        let mut asks = Vec::new();
        for (key, p) in &mut self.profiles {
            let Some(check) = &mut p.liveness else {
                continue;
            };
            let (ask, dead) = (check.poll_ask(), check.poll_dead());
            if ask {
                match p
                    .registration
                    .target()
                    .cloned()
                    .map(|t| (options(p, &t), t))
                {
                    Some((Ok(request), target)) => asks.push((key.clone(), request, target)),
                    Some((Err(e), _)) => warn!("{key}: OPTIONS to the registrar: {e}"),
                    None => {}
                }
            }
            if dead {
                debug!("{key}: the registrar did not answer OPTIONS");
                if let Err(e) = p
                    .registration
                    .flow_failed("the registrar stopped answering (OPTIONS unanswered)")
                {
                    warn!("re-register {key}: {e}");
                }
            }
        }
        for (key, request, target) in asks {
            self.send(key, Owner::Liveness, request, target);
        }
    }
}

/// Keeps a profile's liveness check in step with its registration's `state`: a registration
/// registered over UDP has one, started afresh when it (re)registers; any other has none (a
/// registration in progress finds out by itself whether the registrar answers).
pub(super) fn follow_liveness(
    p: &mut ProfileState,
    state: RegistrationState,
    config: Option<LivenessConfig>,
    now: Instant,
) {
    let udp = p
        .registration
        .target()
        .is_some_and(|t| t.transport == TransportKind::Udp);
    p.liveness = match (state, config) {
        (RegistrationState::Registered, Some(c)) if udp => match p.liveness.take() {
            Some(check) if !check.is_dead() => Some(check),
            _ => Some(Liveness::new(c, now)),
        },
        _ => None,
    };
}

/// An OPTIONS to the registrar (RFC 3261 §11) with `Max-Forwards: 0`, so that the server
/// answers it itself (§16.3 step 2: 200, or 483), unchallenged and unforwarded.
fn options(p: &ProfileState, target: &Target) -> Result<Message> {
    let uri = format!("sip:{}", p.registration_host());
    let request = sip_parse::MessageBuilder::request(Method::Options, &uri)
        .header("Via", &p.local.via(target.transport)?)?
        .header("Max-Forwards", "0")?
        .header(
            "From",
            &format!("{};tag={}", p.name_addr(), sip_txn::new_tag()?),
        )?
        .header("To", &format!("<{uri}>"))?
        .header(
            "Call-ID",
            &format!("{}@{}", sip_txn::new_tag()?, p.registration_host()),
        )?
        .header("CSeq", "1 OPTIONS")?
        .header("Accept", "application/sdp")?
        .try_build()?;
    Ok(Message::parse(request)?)
}
