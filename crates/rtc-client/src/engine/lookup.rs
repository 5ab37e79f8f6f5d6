//! RFC 3263 lookups of a profile's servers, run as tasks off the loop: a slow or failing DNS
//! never stalls timers or incoming requests. A lookup is started when the profile is enabled
//! and again whenever its registration asks ([`Registration::poll_lookup`]: after a failed
//! lookup, and after every target failed); its outcome comes back as a [`Lookup`].

use super::*;

use sip_transport::resolve::{Located, locate_for};

/// The outcome of one lookup of a profile's servers.
#[derive(Debug)]
pub(super) struct Lookup {
    profile: String,
    /// Tells the newest lookup of a profile from older ones (and from a profile enabled again
    /// under the same key).
    seq: u64,
    /// The registrar's targets and the proxy's, or why the lookup failed.
    result: std::result::Result<(Located, Option<Located>), (String, Cause)>,
}

/// The shortest time an answer is kept before it is looked up again, whatever its TTL: a TTL
/// of 0 would otherwise mean a lookup in a tight loop.
const MIN_TTL: Duration = Duration::from_secs(30);

/// A resolver a lookup task owns.
#[derive(Clone)]
enum Resolver {
    Static(StaticDns),
    System(Box<HickoryDns>),
}

impl Engine {
    /// Starts a lookup of `key`'s servers; its outcome arrives through `lookup_rx`.
    pub(super) fn start_lookup(&mut self, key: &str) {
        self.next_id += 1;
        let seq = self.next_id;
        let Some(p) = self.profiles.get_mut(key) else {
            return;
        };
        p.lookup_seq = seq;
        let (registrar, proxy) = (p.registrar_server.clone(), p.proxy_server.clone());
        let tx = self.lookup_tx.clone();
        let profile = key.to_owned();
        let resolver = match &mut self.dns {
            Dns::Static(dns) => Ok(Resolver::Static(dns.clone())),
            Dns::System(Some(dns)) => Ok(Resolver::System(dns.clone())),
            Dns::System(slot) => match HickoryDns::from_system_conf() {
                Ok(dns) => {
                    let dns = Box::new(dns);
                    *slot = Some(dns.clone());
                    Ok(Resolver::System(dns))
                }
                Err(e) => Err((format!("no DNS resolver: {e}"), Cause::Dns)),
            },
        };
        tokio::spawn(async move {
            let result = match resolver {
                Ok(resolver) => {
                    async {
                        let r = resolve(&resolver, &registrar).await?;
                        let p = match &proxy {
                            Some(proxy) => Some(resolve(&resolver, proxy).await?),
                            None => None,
                        };
                        Ok((r, p))
                    }
                    .await
                }
                Err(e) => Err(e),
            };
            let _ = tx.send(Lookup {
                profile,
                seq,
                result,
            });
        });
    }

    /// A lookup ended: the registration registers with what it found, or reports the failure
    /// and tries again after a backoff.
    pub(super) fn lookup_done(&mut self, lookup: Lookup) {
        let now = Self::now();
        let Some(p) = self.profiles.get(&lookup.profile) else {
            return;
        };
        if p.lookup_seq != lookup.seq {
            return;
        }
        let key = lookup.profile;
        let found = lookup.result.and_then(|(registrar, proxy)| {
            // Our address towards the server (a wildcard listener routes per destination).
            let local = self
                .local(&p.user_part, registrar.targets.first())
                .map_err(|e| (e.to_string(), Cause::Other))?;
            Ok((registrar, proxy, local))
        });
        let Some(p) = self.profiles.get_mut(&key) else {
            return;
        };
        let moved = match found {
            Ok((registrar, proxy, local)) => {
                // Before any registration only: a Contact in place stays as it is (it may be
                // the public address a NAT gave us).
                let moved = local != p.local && p.registration.target().is_none();
                if moved {
                    p.local = local.clone();
                    p.registration.set_local(local);
                }
                let valid_for = registrar
                    .valid_for
                    .into_iter()
                    .chain(proxy.as_ref().and_then(|p| p.valid_for))
                    .min();
                let valid_until = valid_for.map(|v| now + v.max(MIN_TTL));
                p.outbound = proxy.map_or_else(|| registrar.targets.clone(), |p| p.targets);
                if let Err(e) = p.registration.resolved(registrar.targets, valid_until) {
                    warn!("registration of {key}: {e}");
                }
                moved
            }
            Err((reason, cause)) => {
                p.registration.lookup_failed(now, &reason, cause);
                false
            }
        };
        if moved && self.agent.as_ref().is_some_and(|a| a.profile == key) {
            self.retire_agent(now);
        }
        if let Err(e) = self.start_agent() {
            warn!("presence agent: {e}");
        }
    }

    /// Starts the lookups registrations ask for.
    pub(super) fn drain_lookups(&mut self) {
        let due: Vec<String> = self
            .profiles
            .iter_mut()
            .filter_map(|(k, p)| p.registration.poll_lookup().then(|| k.clone()))
            .collect();
        for key in due {
            self.start_lookup(&key);
        }
    }
}

/// `server`'s targets in RFC 3263 order; an error names the server and says why, in words and
/// as a [`Cause`] (no such name, no records, the lookup failed).
async fn resolve(
    resolver: &Resolver,
    server: &SipServer,
) -> std::result::Result<Located, (String, Cause)> {
    let host = server.addr.host.to_string();
    let dest = Destination {
        port: server.addr.port,
        transport: Some(match server.protocol {
            provisioning::Transport::Udp => TransportKind::Udp,
            provisioning::Transport::Tcp => TransportKind::Tcp,
            provisioning::Transport::Tls => TransportKind::Tls,
        }),
        ..Destination::host(host.trim_matches(['[', ']']))
    };
    let targets = match resolver {
        Resolver::Static(dns) => locate_for(dns, &dest).await,
        Resolver::System(dns) => locate_for(dns.as_ref(), &dest).await,
    };
    match targets {
        Ok(t) if !t.targets.is_empty() => Ok(t),
        Ok(_) => Err((
            format!("DNS lookup of {host} failed: {}", Cause::DnsNoRecords),
            Cause::DnsNoRecords,
        )),
        Err(e) => Err((format!("DNS lookup of {host} failed: {e}"), e.cause())),
    }
}
