//! The client's one task: it owns the sans-IO cores (registrations and the presence agent), feeds
//! them what arrives — commands, requests, transaction outcomes, the timer — and carries out
//! what they ask, in the shape of str0m's single loop. The loop only dispatches: the flows to the
//! registrar, presence, request routing and addresses each have a module of their own here;
//! sessions and messages live in `crate::session` and `crate::im`.

mod addresses;
mod flows;
mod liveness;
mod lookup;
mod outbound;
mod presence_agent;
mod routing;
#[cfg(feature = "xcap")]
mod server_lists;
#[cfg(feature = "xcap")]
mod server_rules;
#[cfg(not(feature = "xcap"))]
mod without_xcap;
#[cfg(not(feature = "xcap"))]
use without_xcap as server_lists;
#[cfg(not(feature = "xcap"))]
use without_xcap as server_rules;
#[cfg(feature = "xcap")]
mod xcap_job;

use flows::{follow_flow_timer, follow_registration};
use liveness::follow_liveness;
use routing::allow_header;
pub(crate) use routing::next_hop;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use provisioning::{Profile, RegisterFlags, Role, SipServer};
use sip_parse::{Message, Method, Target, TransportKind};
use sip_transport::resolve::{Destination, HickoryDns, StaticDns};
use sip_transport::{Cause, StunIncoming};
use sip_txn::digest::{Credentials, DigestClient};
use sip_txn::driver::{Driver, DriverError, IncomingRequest, IncomingRequests, Received};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use presence::local::LocalIdentity;
use presence::{
    Buddy, ImportMode, LocalPresence, OfferMode, PresenceData, PrivacyMode, RequestHandle, Scope,
    Status, Store, Watcher, WatcherState,
};

use crate::agent::{Agent, PresenceRole, shown};
use crate::autosave::{self, Autosave};
use crate::error::transport_cause;
use crate::event_queue::EventSender;
use crate::keepalive::{KeepAlive, KeepAliveConfig, KeepAliveEvent};
use crate::large_request::LargeRequests;
use crate::registration::{Failure, RequestId};
use crate::session::{Caller, InDialog, SessionCommand, SessionDriver};
use crate::{
    ClientConfig, Endpoint, Error, Event, Registration, RegistrationConfig, RegistrationState,
    Result, im,
};

/// A request from a [`Client`](crate::Client) handle.
#[derive(Debug)]
pub(crate) enum Command {
    EnableProfile {
        profile: Box<Profile>,
        flags: RegisterFlags,
        reply: oneshot::Sender<Result<()>>,
    },
    DisableProfile {
        key: String,
        reply: oneshot::Sender<Result<()>>,
    },
    SendMessage {
        to: String,
        content_type: String,
        body: Bytes,
        reply: oneshot::Sender<Result<()>>,
    },
    SetTyping {
        to: String,
        active: bool,
        reply: oneshot::Sender<Result<()>>,
    },
    Session(SessionCommand),
    Shutdown {
        reply: oneshot::Sender<Result<()>>,
    },
    Presence(PresenceCommand),
}

/// A presence request from a [`Client`](crate::Client) handle.
#[derive(Debug)]
pub(crate) enum PresenceCommand {
    Enable {
        store: Store,
        reply: oneshot::Sender<Result<()>>,
    },
    Disable {
        reply: oneshot::Sender<Result<()>>,
    },
    Export {
        path: PathBuf,
        reply: oneshot::Sender<Result<()>>,
    },
    Import {
        path: PathBuf,
        mode: ImportMode,
        reply: oneshot::Sender<Result<()>>,
    },
    AddBuddy {
        uri: String,
        name: String,
        reply: oneshot::Sender<Result<()>>,
    },
    RemoveBuddy {
        uri: String,
        reply: oneshot::Sender<Result<()>>,
    },
    Buddies {
        reply: oneshot::Sender<Result<Vec<Buddy>>>,
    },
    Watchers {
        reply: oneshot::Sender<Result<Vec<Watcher>>>,
    },
    SetWatcher {
        uri: String,
        state: WatcherState,
        reply: oneshot::Sender<Result<()>>,
    },
    RemoveWatcher {
        uri: String,
        reply: oneshot::Sender<Result<()>>,
    },
    SetLocal {
        status: Status,
        note: Option<String>,
        reply: oneshot::Sender<Result<()>>,
    },
    SetModes {
        privacy: Option<PrivacyMode>,
        offer: Option<OfferMode>,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// Presence data while presence is enabled.
#[derive(Debug)]
struct PresenceState {
    /// Writes `data` to the store as it changes.
    autosave: Autosave,
    data: PresenceData,
    /// Enabled before any registration: watchers see offline until the user sets a status.
    appear_offline: bool,
}

impl Drop for PresenceState {
    /// The client's task is dropped with its runtime: edits not yet saved are written now.
    fn drop(&mut self) {
        self.autosave.save_on_drop(&self.data);
    }
}

/// Who waits for the outcome of a client transaction.
#[derive(Debug)]
enum Owner {
    Registration {
        profile: String,
        id: RequestId,
    },
    Message {
        reply: oneshot::Sender<Result<()>>,
    },
    /// `generation` tells the agent that sent it from a retiring one (handles restart at 1 in
    /// every agent's cores).
    Presence {
        generation: u64,
        core: PresenceRole,
        handle: RequestHandle,
    },
    /// An OPTIONS asking a silent registrar whether it is there; any answer says it is.
    Liveness,
}

/// An agent shut down (presence disabled, its profile logging off) that still finishes what it
/// sent: final NOTIFYs held behind one in flight, unsubscribes and the final NOTIFYs that
/// answer them, the publication's removal. Its events no longer reach the application.
struct Retiring {
    generation: u64,
    agent: Agent,
    /// When it is dropped, done or not.
    until: Instant,
}

/// How long a retiring agent is kept: 64×T1, the longest a non-INVITE transaction or the
/// wait for a final NOTIFY (Timer N, RFC 6665 §4.1.2.4) lasts.
const RETIRE_FOR: Duration = Duration::from_secs(32);

/// How long a shutdown waits, at most, for the subscriptions it ends: the unsubscribe's 2xx and
/// the notifier's final NOTIFY (RFC 6665 §4.1.2.3), which normally follow within milliseconds.
/// A client gone before that NOTIFY leaves its notifier retransmitting it to nobody until its
/// Timer F (baresip took 32 s more to quit).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A client transaction in flight.
#[derive(Debug)]
struct Outstanding {
    owner: Owner,
    profile: String,
    request: Message,
    target: Target,
}

/// How a client transaction ended, from the task awaiting it.
#[derive(Debug)]
struct Done {
    id: u64,
    outcome: std::result::Result<Message, DriverError>,
}

/// An enabled profile.
#[derive(Debug)]
struct ProfileState {
    flags: RegisterFlags,
    aor: String,
    display_name: Option<String>,
    registration: Registration,
    /// Our Via and Contact.
    local: Endpoint,
    /// Answers challenges to requests other than REGISTER (MESSAGE, SUBSCRIBE, PUBLISH).
    digest: DigestClient,
    /// The user's credentials, for the XCAP server too.
    credentials: Option<Credentials>,
    /// The proxy's targets (RFC 3263 order), if the profile names a proxy; else the
    /// registrar's, of which out-of-dialog requests follow the one registered with
    /// ([`ProfileState::next_hop`]).
    outbound: Vec<Target>,
    /// Whether `outbound` is a proxy of its own rather than the registrar.
    proxy: bool,
    /// `disable_profile` callers waiting for the binding to go.
    logging_off: Vec<oneshot::Sender<Result<()>>>,
    /// The keep-alive of a registration over UDP, while it is registered or recovering.
    keepalive: Option<KeepAlive>,
    /// Whether a UDP registrar is still there, while registered.
    liveness: Option<crate::liveness::Liveness>,
    /// The servers looked up (RFC 3263) for `registration` and `outbound`.
    registrar_server: SipServer,
    proxy_server: Option<SipServer>,
    /// The user part of our Contact.
    user_part: String,
    /// The lookup whose outcome counts (older ones are ignored).
    lookup_seq: u64,
}

impl ProfileState {
    /// Where out-of-dialog requests (MESSAGE, SUBSCRIBE, PUBLISH, INVITE) go: the proxy, else
    /// the registrar server the registration uses now, so that after a failover they follow it
    /// to the server that holds our binding (RFC 3263 §4.3).
    fn next_hop(&self) -> Option<Target> {
        match (self.proxy, self.registration.target()) {
            (false, Some(current)) => Some(current.clone()),
            _ => self.outbound.first().cloned(),
        }
    }
}

/// Which DNS answers server names.
#[derive(Debug)]
enum Dns {
    Static(StaticDns),
    System(Option<Box<HickoryDns>>),
}

pub(crate) struct Engine {
    config: ClientConfig,
    driver: Driver,
    incoming: IncomingRequests,
    commands: mpsc::Receiver<Command>,
    events: EventSender,
    done_tx: mpsc::UnboundedSender<Done>,
    done_rx: mpsc::UnboundedReceiver<Done>,
    lookup_tx: mpsc::UnboundedSender<lookup::Lookup>,
    lookup_rx: mpsc::UnboundedReceiver<lookup::Lookup>,
    profiles: HashMap<String, ProfileState>,
    outstanding: HashMap<u64, Outstanding>,
    next_id: u64,
    sessions: SessionDriver,
    dns: Dns,
    shutdown: Option<oneshot::Sender<Result<()>>>,
    /// Until when a shutdown waits for subscriptions still ending ([`SHUTDOWN_GRACE`]).
    grace_until: Option<Instant>,
    presence: Option<PresenceState>,
    agent: Option<Agent>,
    /// The generation of `agent`, one more for every agent started.
    agent_generation: u64,
    retiring: Vec<Retiring>,
    pending_events: VecDeque<Event>,
    /// Requests moved to TCP for their size, with their UDP form.
    large: LargeRequests,
    /// Composing indications both ways (RFC 3994).
    messages: im::Messages,
    /// Our RFC 5626 instance id, once a profile or the presence store fixed it.
    instance: Option<crate::outbound::InstanceId>,
    /// The watcher list as pres-rules on the XCAP server, when the config names one.
    server_rules: server_rules::ServerRules,
    /// The buddy list as resource-lists and rls-services on the XCAP server.
    server_lists: server_lists::ServerLists,
}

impl Engine {
    pub(crate) fn new(
        mut config: ClientConfig,
        driver: Driver,
        incoming: IncomingRequests,
        commands: mpsc::Receiver<Command>,
        events: EventSender,
    ) -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let (lookup_tx, lookup_rx) = mpsc::unbounded_channel();
        let dns = match config.dns.take() {
            Some(d) => Dns::Static(d),
            None if !config.name_servers.is_empty() => Dns::System(Some(Box::new(
                HickoryDns::with_name_servers(&config.name_servers),
            ))),
            None => Dns::System(None),
        };
        let sessions = SessionDriver::new(driver.clone(), config.timers, config.invite_expiry);
        Self {
            config,
            driver,
            incoming,
            commands,
            events,
            done_tx,
            done_rx,
            lookup_tx,
            lookup_rx,
            profiles: HashMap::new(),
            outstanding: HashMap::new(),
            next_id: 0,
            sessions,
            dns,
            shutdown: None,
            grace_until: None,
            presence: None,
            agent: None,
            agent_generation: 0,
            retiring: Vec::new(),
            pending_events: VecDeque::new(),
            large: LargeRequests::default(),
            messages: im::Messages::default(),
            instance: None,
            server_rules: server_rules::ServerRules::default(),
            server_lists: server_lists::ServerLists::default(),
        }
    }

    pub(crate) async fn run(mut self) {
        loop {
            let wake = self.poll_timeout();
            let sleep = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(c) => self.handle_command(c).await,
                    // Every handle is gone: log off and stop.
                    None => self.begin_shutdown(None),
                },
                received = self.incoming.recv() => match received {
                    Some(Received::Request(r)) => {
                        self.heard_from(&r.source.target);
                        self.handle_request(r).await;
                    }
                    Some(Received::ConnectionLost { target, reason }) => {
                        self.connection_lost(&target, &reason);
                    }
                    Some(Received::Stun(stun)) => self.handle_stun(&stun),
                    Some(Received::Ack { request, .. }) => {
                        if !self.sessions.ack(Self::now(), &request) {
                            debug!("ACK for no session: dropped");
                        }
                    }
                    Some(Received::Response { token, outcome }) => {
                        self.handle_done(Done { id: token, outcome }).await;
                    }
                    Some(_) => {}
                    None => break,
                },
                Some(done) = self.done_rx.recv() => self.handle_done(done).await,
                Some(report) = self.sessions.recv() => self.session_report(report),
                Some(lookup) = self.lookup_rx.recv() => self.lookup_done(lookup),
                Some(stored) = self.server_rules.recv() => self.rules_stored(stored),
                Some(stored) = self.server_lists.recv() => self.lists_stored(stored),
                () = sleep => self.handle_timeout(),
            }
            self.drain();
            if self.shutdown.is_some() && self.profiles.is_empty() && !self.still_unsubscribing() {
                break;
            }
        }
        self.driver.shutdown().await;
        let saved = match &mut self.presence {
            Some(p) => p.autosave.flush(&p.data).await,
            None => Ok(()),
        };
        if let Err(e) = &saved {
            warn!("saving presence at shutdown: {e}");
        }
        // The store is free (unlocked) by the time the caller hears of the shutdown.
        self.presence = None;
        if let Some(reply) = self.shutdown.take() {
            let _ = reply.send(saved);
        }
    }

    fn now() -> Instant {
        // tokio's clock, as the transaction driver's: tests can pause it and run hours of
        // timers in moments.
        tokio::time::Instant::now().into_std()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.profiles
            .values()
            .filter_map(|p| p.registration.poll_timeout())
            .chain(
                self.profiles
                    .values()
                    .filter_map(|p| p.keepalive.as_ref()?.poll_timeout()),
            )
            .chain(
                self.profiles
                    .values()
                    .filter_map(|p| p.liveness.as_ref()?.poll_timeout()),
            )
            .chain(self.agent.as_ref().and_then(Agent::poll_timeout))
            .chain(self.sessions.poll_timeout())
            .chain(
                self.presence
                    .as_ref()
                    .and_then(|p| p.autosave.poll_timeout()),
            )
            .chain(
                self.retiring
                    .iter()
                    .flat_map(|r| r.agent.poll_timeout().into_iter().chain([r.until])),
            )
            .chain(self.messages.poll_timeout())
            .chain(self.grace_until)
            .min()
    }

    /// Whether a shutdown still waits for subscriptions to end (within [`SHUTDOWN_GRACE`]), the
    /// current agent's or a retiring one's (a profile disabled just before).
    fn still_unsubscribing(&self) -> bool {
        self.grace_until.is_some_and(|until| Self::now() < until)
            && (self.agent.iter())
                .chain(self.retiring.iter().map(|r| &r.agent))
                .any(Agent::unsubscribing)
    }

    fn handle_timeout(&mut self) {
        let now = Self::now();
        for p in self.profiles.values_mut() {
            if let Err(e) = p.registration.handle_timeout(now) {
                warn!("registration timer: {e}");
            }
            if let Some(Err(e)) = p.keepalive.as_mut().map(|k| k.handle_timeout(now)) {
                warn!("keep-alive timer: {e}");
            }
            if let Some(check) = &mut p.liveness {
                check.handle_timeout(now);
            }
        }
        if let Some(agent) = &mut self.agent {
            agent.handle_timeout(now);
        }
        for r in &mut self.retiring {
            r.agent.handle_timeout(now);
        }
        self.retiring.retain(|r| r.until > now);
        let mut out = Vec::new();
        self.messages
            .handle_timeout(now, &mut self.pending_events, &mut out);
        for (to, document) in out {
            // Nobody waits for a refresh or a lapse to idle.
            let (reply, _) = oneshot::channel();
            if let Err(e) = self.send_message(&to, im::COMPOSING_TYPE, document.into(), reply) {
                warn!("composing indication to {to}: {e}");
            }
        }
        if let Some(p) = &mut self.presence {
            p.autosave.handle_timeout(now, &p.data);
        }
        self.sessions.handle_timeout(now);
    }

    /// A session task's report; a challenge to an INVITE is answered with its profile's
    /// credentials.
    fn session_report(&mut self, report: crate::session::Report) {
        let digest = self
            .sessions
            .profile_of(&report)
            .and_then(|key| self.profiles.get_mut(key))
            .map(|p| &mut p.digest);
        self.sessions.handle_report(Self::now(), report, digest);
    }

    /// Who calls, or answers a call: the profile whose address of record is `to` (the To of
    /// an incoming INVITE), else the first registered profile, else any.
    fn caller(&self, to: Option<&str>) -> Result<Caller> {
        let (key, p) = self
            .profiles
            .iter()
            .find(|(_, p)| to.is_some_and(|to| p.aor.eq_ignore_ascii_case(to)))
            .or_else(|| {
                self.profiles
                    .iter()
                    .find(|(_, p)| p.registration.state() == RegistrationState::Registered)
            })
            .or_else(|| self.profiles.iter().next())
            .ok_or(Error::NoProfile)?;
        let from = p.name_addr();
        Ok(Caller {
            profile: key.clone(),
            from,
            local: p.local.clone(),
            outbound: p.next_hop(),
            user_agent: self.config.user_agent.clone(),
        })
    }

    async fn handle_command(&mut self, command: Command) {
        match command {
            Command::EnableProfile {
                profile,
                flags,
                reply,
            } => {
                let r = self.enable_profile(*profile, flags);
                let _ = reply.send(r);
            }
            Command::DisableProfile { key, reply } => match self.profiles.get_mut(&key) {
                Some(p) => {
                    p.logging_off.push(reply);
                    self.sessions.end_all(Self::now(), Some(&key));
                    if let Err(e) = p.registration.unregister() {
                        warn!("unregister {key}: {e}");
                    }
                    if self.agent.as_ref().is_some_and(|a| a.profile == key) {
                        // Commands from now on change the lists only; no new SUBSCRIBE or
                        // PUBLISH goes out under an identity logging off.
                        self.retire_agent(Self::now());
                    }
                }
                None => {
                    let _ = reply.send(Err(Error::UnknownProfile(key)));
                }
            },
            Command::SendMessage {
                to,
                content_type,
                body,
                reply,
            } => {
                self.messages.sent(&to);
                if let Err(e) = self.send_message(&to, &content_type, body, reply) {
                    warn!("MESSAGE to {to}: {e}");
                }
            }
            Command::SetTyping { to, active, reply } => {
                match self.messages.typing(Self::now(), &to, active) {
                    Some(document) => {
                        let body = document.into();
                        if let Err(e) = self.send_message(&to, im::COMPOSING_TYPE, body, reply) {
                            warn!("composing indication to {to}: {e}");
                        }
                    }
                    None => {
                        let _ = reply.send(Ok(()));
                    }
                }
            }
            Command::Session(c) => {
                let caller = self.caller(None);
                self.sessions.command(Self::now(), c, caller);
            }
            Command::Shutdown { reply } => self.begin_shutdown(Some(reply)),
            Command::Presence(c) => self.handle_presence(c).await,
        }
    }

    fn begin_shutdown(&mut self, reply: Option<oneshot::Sender<Result<()>>>) {
        if let Some(reply) = reply {
            self.shutdown = Some(reply);
        } else if self.shutdown.is_none() {
            // Nobody waits; still log off before stopping.
            let (tx, _rx) = oneshot::channel();
            self.shutdown = Some(tx);
        }
        if let (Some(agent), Some(presence)) = (&mut self.agent, &self.presence) {
            agent.shut(Self::now(), &presence.data);
        }
        self.grace_until.get_or_insert(Self::now() + SHUTDOWN_GRACE);
        // On disk while the profiles log off; written once more when the task ends.
        if let Some(p) = &mut self.presence {
            p.autosave.save_now(&p.data);
        }
        self.sessions.end_all(Self::now(), None);
        for (key, p) in &mut self.profiles {
            if let Err(e) = p.registration.unregister() {
                warn!("unregister {key}: {e}");
            }
        }
    }

    /// Enables a profile at once: its servers are looked up off the loop, and a failed
    /// lookup is a registration `Error` with its cause, retried with backoff, as in RTC.
    fn enable_profile(&mut self, profile: Profile, flags: RegisterFlags) -> Result<()> {
        if self.profiles.contains_key(&profile.key) {
            return Err(Error::ProfileEnabled(profile.key));
        }
        let registrar = provisioning::registering_server(&profile, flags)
            .or(profile.registrar())
            .ok_or(Error::NoRegistrar)?
            .clone();
        let proxy_server = profile
            .servers
            .iter()
            .find(|s| s.role == Role::Proxy)
            .cloned();
        let proxy = proxy_server.is_some();
        let user = &profile.user;
        let aor = user.uri.to_string();
        let user_part = aor
            .split_once(':')
            .and_then(|(_, rest)| rest.split_once('@'))
            .map_or("user", |(u, _)| u)
            .to_owned();
        let domain = aor.rsplit_once('@').map_or(aor.as_str(), |(_, d)| d);
        let credentials = user.password.as_ref().map(|pw| {
            Credentials::new(
                user.account.clone().unwrap_or_else(|| user_part.clone()),
                pw.expose(),
            )
        });
        // Before the lookup, a wildcard listener has no address yet: it is found then.
        let local = self
            .local(&user_part, None)
            .unwrap_or_else(|_| Endpoint::new(&user_part));

        let mut config = RegistrationConfig::new(aor.clone(), format!("sip:{domain}"));
        config.display_name = user.name.clone();
        config.credentials = credentials.clone();
        config.expires = self.config.register_expires;
        config.allow = allow_header(flags);
        config.allow_events = flags
            .contains(RegisterFlags::PRESENCE)
            .then(|| "presence, presence.winfo".to_owned());
        config.user_agent = Some(self.config.user_agent.clone());
        config.seed = u64::from(std::process::id()) ^ (self.next_id << 17) ^ aor.len() as u64;
        config.relookup = true;
        config.outbound = self.outbound();
        let registration = Registration::new(config, local.clone(), Vec::new())?;
        let digest = match &credentials {
            Some(c) => DigestClient::new(c.clone()),
            None => DigestClient::default(),
        };
        self.profiles.insert(
            profile.key.clone(),
            ProfileState {
                flags,
                aor,
                display_name: user.name.clone(),
                registration,
                local,
                digest,
                credentials,
                outbound: Vec::new(),
                proxy,
                logging_off: Vec::new(),
                keepalive: None,
                liveness: None,
                registrar_server: registrar,
                proxy_server,
                user_part,
                lookup_seq: 0,
            },
        );
        self.start_lookup(&profile.key);
        Ok(())
    }

    fn send_message(
        &mut self,
        to: &str,
        content_type: &str,
        body: Bytes,
        reply: oneshot::Sender<Result<()>>,
    ) -> Result<()> {
        let Some((key, p)) = self
            .profiles
            .iter()
            .find(|(_, p)| p.registration.state() == RegistrationState::Registered)
            .or_else(|| self.profiles.iter().next())
        else {
            let _ = reply.send(Err(Error::NoProfile));
            return Ok(());
        };
        let Some(target) = p.next_hop() else {
            let _ = reply.send(Err(Error::NoRegistrar));
            return Ok(());
        };
        let built = p.local.via(target.transport).and_then(|via| {
            let sender = im::Sender {
                aor: &p.aor,
                display_name: p.display_name.as_deref(),
                via: &via,
                host: p.registration_host(),
                user_agent: &self.config.user_agent,
                limits: &self.config.transport.parse,
            };
            im::request(&sender, to, content_type, body)
        });
        // The caller hears why (a message over the size limit), not that the client stopped.
        let request = match built {
            Ok(r) => r,
            Err(e) => {
                let _ = reply.send(Err(e));
                return Ok(());
            }
        };
        let key = key.clone();
        self.send(key, Owner::Message { reply }, request, target);
        Ok(())
    }

    /// Runs `request` in a client transaction; its outcome comes back as a [`Done`], from the
    /// driver's one ordered queue, so that the responses and requests of a dialog are handled
    /// in the order they arrived on the wire (a NOTIFY after the 2xx to its SUBSCRIBE).
    fn send(&mut self, profile: String, owner: Owner, request: Message, target: Target) {
        self.next_id += 1;
        let id = self.next_id;
        self.outstanding.insert(
            id,
            Outstanding {
                owner,
                profile,
                request: request.clone(),
                target: target.clone(),
            },
        );
        // RFC 3261 §18.1.1: too large for UDP, over TCP if the server takes it.
        let local = self
            .profiles
            .get(&self.outstanding[&id].profile)
            .map(|p| &p.local);
        let (request, target) = self.large.route(id, request, target, local);
        if let Err(e) = self.driver.request_in_order(request, target, id) {
            let _ = self.done_tx.send(Done {
                id,
                outcome: Err(e),
            });
        }
    }

    async fn handle_done(&mut self, done: Done) {
        if let Some((request, target)) = self.large.fallback(done.id, &done.outcome) {
            // No TCP at the server: the request goes over UDP as it was.
            if let Err(e) = self.driver.request_in_order(request, target, done.id) {
                let _ = self.done_tx.send(Done {
                    id: done.id,
                    outcome: Err(e),
                });
            }
            return;
        }
        let Some(out) = self.outstanding.remove(&done.id) else {
            return;
        };
        if done.outcome.is_ok() {
            self.heard_from(&out.target);
        }
        let now = Self::now();
        match out.owner {
            Owner::Registration { profile, id } => {
                let Some(p) = self.profiles.get_mut(&profile) else {
                    return;
                };
                let r = match &done.outcome {
                    Ok(response) => p.registration.handle_response(now, id, response),
                    Err(DriverError::Timeout { .. }) => {
                        p.registration.handle_failure(now, id, Failure::Timeout)
                    }
                    Err(DriverError::Transport { cause, .. }) => {
                        p.registration
                            .handle_failure(now, id, Failure::Transport(*cause))
                    }
                    Err(_) => {
                        p.registration
                            .handle_failure(now, id, Failure::Transport(Cause::Other))
                    }
                };
                if let Err(e) = r {
                    warn!("registration of {profile}: {e}");
                }
                let pings = self.config.transport.keepalive_interval;
                follow_flow_timer(p, self.driver.transport(), pings);
            }
            Owner::Presence {
                generation,
                core,
                handle,
            } => {
                // RFC 3261 §22.2: the core that owns the request allocates its new CSeq.
                if let Ok(response) = &done.outcome
                    && matches!(response.status(), Some(401 | 407))
                    && let Some(cseq) = self
                        .agent_of(generation)
                        .and_then(|a| a.next_cseq(core, handle))
                    && let Some(request) = self.resubmission(&out, response, cseq)
                {
                    let owner = Owner::Presence {
                        generation,
                        core,
                        handle,
                    };
                    self.send(out.profile, owner, request, out.target);
                    return;
                }
                if let Some(agent) = self.agent_of(generation) {
                    match &done.outcome {
                        Ok(response) => agent.handle_response(now, core, handle, response),
                        Err(e) => agent.handle_failure(now, core, handle, transport_cause(e)),
                    }
                }
            }
            Owner::Liveness => {}
            Owner::Message { reply } => match done.outcome {
                Ok(response) if matches!(response.status(), Some(401 | 407)) => {
                    let again = self.profiles.get_mut(&out.profile).map(|p| {
                        let via = p.local.via(out.target.transport)?;
                        let cseq = crate::auth::next_in_own_call(&out.request)?;
                        crate::auth::resubmit(&mut p.digest, &out.request, &response, &via, cseq)
                    });
                    match again {
                        Some(Ok(request)) => {
                            self.send(out.profile, Owner::Message { reply }, request, out.target)
                        }
                        Some(Err(e)) => {
                            let _ = reply.send(Err(e));
                        }
                        None => {
                            let _ = reply.send(Err(Error::NoProfile));
                        }
                    }
                }
                Ok(response) => {
                    let status = response.status().unwrap_or_default();
                    let r = if (200..300).contains(&status) {
                        Ok(())
                    } else {
                        Err(Error::Refused {
                            status,
                            reason: response.reason().unwrap_or_default().to_owned(),
                        })
                    };
                    let _ = reply.send(r);
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
        }
    }

    /// The challenged request again with credentials, if the profile has some that fit.
    fn resubmission(
        &mut self,
        out: &Outstanding,
        response: &Message,
        cseq: u32,
    ) -> Option<Message> {
        let p = self.profiles.get_mut(&out.profile)?;
        let via = p.local.via(out.target.transport).ok()?;
        match crate::auth::resubmit(&mut p.digest, &out.request, response, &via, cseq) {
            Ok(m) => Some(m),
            Err(e) => {
                warn!("{}: {e}", out.request.method().map_or("?", |m| m.as_str()));
                None
            }
        }
    }

    /// Carries out what the cores asked for, and passes their events on.
    fn drain(&mut self) {
        // Keep-alives first: what they find out makes registrations send. Registrations next:
        // a registration that completes gives the agent work (publish, refresh after a lost
        // registration) that must leave in this same turn.
        self.drain_keepalives();
        self.drain_liveness();
        self.drain_lookups();
        self.drain_registrations();
        self.drain_agent();
        self.sessions.drain(&mut self.pending_events);
        while let Some(e) = self.pending_events.pop_front() {
            let _ = self.events.send(e);
        }
    }

    fn drain_registrations(&mut self) {
        let now = Self::now();
        let mut sends = Vec::new();
        let mut finished = Vec::new();
        let mut moved = Vec::new();
        for (key, p) in &mut self.profiles {
            while let Some(out) = p.registration.poll_request() {
                sends.push((key.clone(), out));
            }
            while let Some(e) = p.registration.poll_event() {
                debug!("{key}: registration {}", e.state);
                // Behind NAT the Contact may have moved to the public address: the agent then
                // starts anew with it, below, instead of going on with the old one.
                let contact_moved = follow_registration(p, e.state, self.config.udp_keepalive, now);
                follow_liveness(p, e.state, self.config.udp_liveness, now);
                if contact_moved {
                    moved.push(key.clone());
                }
                let settled = matches!(
                    e.state,
                    RegistrationState::NotRegistered
                        | RegistrationState::Rejected
                        | RegistrationState::LoggedOff
                );
                if e.state == RegistrationState::Registered
                    && !contact_moved
                    && let Some(agent) = self.agent.as_mut().filter(|a| a.profile == *key)
                    && let Some(presence) = &self.presence
                {
                    agent.registered(now, &presence.data);
                }
                if settled && !p.logging_off.is_empty() {
                    for reply in p.logging_off.drain(..) {
                        let _ = reply.send(Ok(()));
                    }
                    finished.push(key.clone());
                }
                let _ = self.events.send(Event::Registration {
                    profile: key.clone(),
                    state: e.state,
                    status: e.status,
                    reason: e.reason,
                    cause: e.cause,
                });
            }
        }
        for key in moved {
            if self.agent.as_ref().is_some_and(|a| a.profile == key) {
                self.retire_agent(now);
                if let Err(e) = self.start_agent() {
                    warn!("presence agent: {e}");
                }
            }
        }
        for key in finished {
            if self.agent.as_ref().is_some_and(|a| a.profile == key) {
                self.retire_agent(now);
            }
            self.profiles.remove(&key);
            // Another profile registered for presence takes over.
            if let Err(e) = self.start_agent() {
                warn!("presence agent: {e}");
            }
        }
        if self.shutdown.is_some() {
            self.profiles.retain(|_, p| {
                !matches!(
                    p.registration.state(),
                    RegistrationState::NotRegistered
                        | RegistrationState::Rejected
                        | RegistrationState::LoggedOff
                        | RegistrationState::Error
                )
            });
        }
        for (key, out) in sends {
            self.send(
                key.clone(),
                Owner::Registration {
                    profile: key,
                    id: out.id,
                },
                out.request,
                out.target,
            );
        }
    }
}

impl ProfileState {
    fn registration_host(&self) -> &str {
        self.aor.rsplit_once('@').map_or("invalid", |(_, d)| d)
    }

    /// Our From (without tag): the display name, quoted, and the address of record.
    fn name_addr(&self) -> String {
        crate::endpoint::name_addr(self.display_name.as_deref(), &self.aor)
    }
}
