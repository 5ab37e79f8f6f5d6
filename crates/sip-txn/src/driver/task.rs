//! The one task that shuttles between the sans-IO layer, the transport and the clock.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Weak;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_parse::{Message, MessageBuilder, Method, Target, TransportKind};
use sip_transport::{Cause, ConnectionId, Events, Incoming, Transport, TransportEvent};
use tokio::sync::{mpsc, oneshot};

use super::client::{MAX_OTHER_RESPONSES, Update};
use super::inbox::InboxSender;
use super::server::{IncomingRequest, Received, ServerTransaction, Source};
use super::updates::UpdateSender;
use super::{Driver, DriverError, Inner};
use crate::{
    ClientKey, Event, ServerKey, TerminationReason, TransactionKey, TransactionLayer, Transmit,
};

/// What a handle asks of the task.
#[derive(Debug)]
pub(crate) enum Command {
    Request {
        request: Message,
        target: Target,
        reply: Reply,
    },
    Cancel {
        invite: ClientKey,
        updates: UpdateSender,
    },
    Respond {
        key: ServerKey,
        response: Message,
        done: oneshot::Sender<Result<(), DriverError>>,
    },
    /// A [`ServerTransaction`] was dropped, maybe without a final response.
    Abandon {
        key: ServerKey,
    },
    Shutdown,
}

/// Where a client transaction's responses go.
#[derive(Debug)]
pub(crate) enum Reply {
    /// To its [`ClientTransaction`](super::ClientTransaction).
    Caller(UpdateSender),
    /// The final one to the inbox, as [`Received::Response`] with this token.
    InOrder(u64),
}

/// Passes `update` up to whoever waits for the transaction's responses.
fn pass_up(inbox: &InboxSender, reply: &Reply, update: Update) {
    match (reply, update) {
        (Reply::Caller(tx), update) => tx.send(update),
        (Reply::InOrder(token), Update::Final(outcome)) => {
            inbox.send_response(Received::Response {
                token: *token,
                outcome,
            });
        }
        (Reply::InOrder(_), Update::Provisional(_) | Update::Extra(_)) => {}
    }
}

/// A stream sender failed to deliver to its remote.
#[derive(Debug)]
struct SendFailed {
    target: Target,
    reason: String,
    cause: Cause,
}

/// A stream peer: the transport reuses one connection per transport and address.
type Remote = (TransportKind, SocketAddr);

fn remote(t: &Target) -> Remote {
    (t.transport, t.addr)
}

#[derive(Debug)]
struct ClientRecord {
    /// `None` once nothing more will be passed up.
    updates: Option<Reply>,
    target: Target,
    is_invite: bool,
    final_delivered: bool,
    others: u16,
    failure: Option<(String, Cause)>,
}

#[derive(Debug)]
struct ServerRecord {
    target: Target,
    connection: Option<ConnectionId>,
    to_tag: Option<Box<str>>,
    cancelled: Option<oneshot::Sender<()>>,
}

/// The message being handled, for what the layer's events do not carry.
#[derive(Debug)]
struct Arrival {
    source: Source,
}

pub(crate) struct Task {
    pub(crate) layer: TransactionLayer,
    pub(crate) transport: Transport,
    pub(crate) events: Events,
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    pub(crate) incoming: InboxSender,
    pub(crate) driver: Weak<Inner>,
    reports: mpsc::UnboundedReceiver<SendFailed>,
    reports_tx: mpsc::UnboundedSender<SendFailed>,
    clients: IdMap<ClientKey, ClientRecord>,
    servers: IdMap<ServerKey, ServerRecord>,
    /// Live transactions per peer, to fail them when the transport to it fails.
    by_remote: HashMap<Remote, IdSet<TransactionKey>>,
    /// The connection the transport uses for each stream peer (the newest).
    connections: HashMap<Remote, ConnectionId>,
    /// One ordered sender task per stream peer, so a slow connect never stalls this task.
    senders: HashMap<Remote, mpsc::UnboundedSender<Bytes>>,
    arrival: Option<Arrival>,
}

/// The driver's clock. The layer never reads one (DESIGN.md principle 1); tokio's clock lets a
/// paused test runtime drive it too.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

impl Task {
    pub(crate) fn new(
        layer: TransactionLayer,
        transport: Transport,
        events: Events,
        commands: mpsc::UnboundedReceiver<Command>,
        incoming: InboxSender,
        driver: Weak<Inner>,
    ) -> Self {
        let (reports_tx, reports) = mpsc::unbounded_channel();
        Self {
            layer,
            transport,
            events,
            commands,
            incoming,
            driver,
            reports,
            reports_tx,
            clients: IdMap::default(),
            servers: IdMap::default(),
            by_remote: HashMap::new(),
            connections: HashMap::new(),
            senders: HashMap::new(),
            arrival: None,
        }
    }

    /// Runs until shutdown, the last handle is dropped, or the transport stops.
    pub(crate) async fn run(mut self) {
        let sleep = tokio::time::sleep(Duration::from_secs(3600));
        tokio::pin!(sleep);
        let mut armed = false;
        loop {
            tokio::select! {
                cmd = self.commands.recv() => match cmd {
                    None | Some(Command::Shutdown) => break,
                    Some(cmd) => self.on_command(cmd),
                },
                ev = self.events.recv() => match ev {
                    Some(ev) => self.on_transport_event(ev),
                    None => break,
                },
                Some(failed) = self.reports.recv() => {
                    self.senders.remove(&remote(&failed.target));
                    self.fail_remote(&failed.target, &failed.reason, failed.cause);
                }
                () = &mut sleep, if armed => self.layer.handle_timeout(now()),
            }
            self.drain().await;
            match self.layer.poll_timeout() {
                Some(at) => {
                    sleep.as_mut().reset(tokio::time::Instant::from_std(at));
                    armed = true;
                }
                None => armed = false,
            }
        }
        self.close();
    }

    fn close(&mut self) {
        for (_, rec) in self.clients.drain() {
            if let (Some(tx), false) = (&rec.updates, rec.final_delivered) {
                pass_up(
                    &self.incoming,
                    tx,
                    Update::Final(Err(DriverError::Shutdown)),
                );
            }
        }
        self.servers.clear();
        self.senders.clear();
        self.transport.shutdown();
    }

    fn on_command(&mut self, cmd: Command) {
        let now = now();
        match cmd {
            Command::Request {
                request,
                target,
                reply,
            } => {
                let is_invite = request.method() == Some(Method::Invite);
                match (self.layer.send_request(now, request, target.clone()), reply) {
                    (Ok(key), reply) => {
                        if let Reply::Caller(updates) = &reply {
                            updates.start(Ok(key));
                        }
                        self.add_client(key, target, is_invite, reply);
                    }
                    (Err(e), Reply::Caller(updates)) => updates.start(Err(e.into())),
                    (Err(e), reply @ Reply::InOrder(_)) => {
                        pass_up(&self.incoming, &reply, Update::Final(Err(e.into())));
                    }
                }
            }
            Command::Cancel { invite, updates } => match self.layer.cancel(now, invite) {
                Ok(key) => {
                    // The CANCEL goes where its INVITE went (§9.1).
                    let target = self
                        .clients
                        .get(&invite)
                        .map_or_else(unreachable_target, |r| r.target.clone());
                    updates.start(Ok(key));
                    self.add_client(key, target, false, Reply::Caller(updates));
                }
                Err(e) => updates.start(Err(e.into())),
            },
            Command::Respond {
                key,
                response,
                done,
            } => {
                let r = self.layer.send_response(now, key, response);
                let _ = done.send(r.map_err(DriverError::from));
            }
            Command::Abandon { key } => {
                if self.layer.request(key).is_some() {
                    // RFC 3261 §21.5.1: the user went away without answering.
                    self.respond_internal(now, key, 500, "Server Internal Error");
                }
            }
            Command::Shutdown => {}
        }
    }

    fn add_client(&mut self, key: ClientKey, target: Target, is_invite: bool, updates: Reply) {
        self.by_remote
            .entry(remote(&target))
            .or_default()
            .insert(key.into());
        self.clients.insert(
            key,
            ClientRecord {
                updates: Some(updates),
                target,
                is_invite,
                final_delivered: false,
                others: 0,
                failure: None,
            },
        );
    }

    /// Answers server transaction `key` from the driver itself (CANCEL, overload, abandoned),
    /// with the To tag its user's responses carry.
    fn respond_internal(&mut self, now: Instant, key: ServerKey, code: u16, reason: &str) {
        self.respond_internal_with(now, key, code, reason, &[]);
    }

    /// [`respond_internal`](Self::respond_internal) with `headers` added.
    fn respond_internal_with(
        &mut self,
        now: Instant,
        key: ServerKey,
        code: u16,
        reason: &str,
        headers: &[(&str, &str)],
    ) {
        let Some(request) = self.layer.request(key) else {
            return;
        };
        let tag = self.servers.get(&key).and_then(|r| r.to_tag.clone());
        let built = MessageBuilder::response_to(request, code, reason, tag.as_deref())
            .and_then(|b| headers.iter().try_fold(b, |b, (n, v)| b.header(n, v)))
            .and_then(MessageBuilder::try_build)
            .and_then(Message::parse);
        match built {
            Ok(rsp) => {
                if let Err(e) = self.layer.send_response(now, key, rsp) {
                    // Already answered: nothing to do.
                    tracing::trace!(?key, code, error = %e, "internal response not sent");
                }
            }
            Err(e) => tracing::debug!(?key, code, error = %e, "cannot build a response"),
        }
    }

    fn on_transport_event(&mut self, ev: TransportEvent) {
        match ev {
            TransportEvent::Message(incoming) => self.on_message(incoming),
            // A keep-alive's answer belongs to whoever keeps the flow (RFC 5626 §4.4.1).
            TransportEvent::Stun(stun) if self.incoming.try_send(Received::Stun(stun)).is_err() => {
                tracing::debug!(source = %stun.source, "incoming queue full or closed: STUN response dropped");
            }
            TransportEvent::Stun(_) => {}
            TransportEvent::ConnectionOpened {
                id,
                transport,
                remote,
                ..
            } => {
                self.connections.insert((transport, remote), id);
            }
            TransportEvent::ConnectionClosed {
                id,
                transport,
                remote,
                reason,
            } => {
                let peer = (transport, remote);
                self.senders.remove(&peer);
                let current = self.connections.get(&peer) == Some(&id);
                if current {
                    self.connections.remove(&peer);
                }
                if !reason.is_failure() {
                    return;
                }
                // RFC 3261 §17.1.4/§17.2.4 via §18.4: fail at once what waited on it.
                let cause = reason.cause();
                let reason = format!("{id} {reason}");
                let lost = Received::ConnectionLost {
                    target: Target::new(transport, remote),
                    reason: reason.clone(),
                };
                if self.incoming.try_send(lost).is_err() {
                    // The user is not reading: its state with the peer recovers at its own
                    // next refresh instead.
                    tracing::warn!(%remote, "incoming queue full or closed: connection loss not reported");
                }
                let keys: Vec<TransactionKey> = self
                    .by_remote
                    .get(&peer)
                    .map(|s| s.iter().copied().collect())
                    .unwrap_or_default();
                let now = now();
                for key in keys {
                    let on_it = match key {
                        TransactionKey::Client(_) => current,
                        TransactionKey::Server(k) => self
                            .servers
                            .get(&k)
                            .is_some_and(|r| r.connection == Some(id) || current),
                    };
                    if on_it {
                        self.fail(now, key, &reason, cause);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_message(&mut self, incoming: Incoming) {
        let now = now();
        if let Some(id) = incoming.connection {
            self.connections
                .insert((incoming.transport, incoming.source), id);
        }
        let source = Source {
            target: incoming.reply_target(),
            local: incoming.local,
            connection: incoming.connection,
        };
        let reply_to = if incoming.message.is_request() {
            reply_target(&incoming)
        } else {
            source.target.clone()
        };
        self.arrival = Some(Arrival { source });
        // The transport read the top Via; matching uses that read (issue 14: once per message).
        let handled =
            self.layer
                .handle_message_with_via(now, reply_to, incoming.message, incoming.top_via);
        if let Err(e) = handled {
            tracing::debug!(source = %incoming.source, error = %e, "message dropped");
        }
    }

    /// Fails every transaction towards `target` (a stream that could not be written or
    /// connected, a datagram that could not be sent).
    fn fail_remote(&mut self, target: &Target, reason: &str, cause: Cause) {
        let keys: Vec<TransactionKey> = self
            .by_remote
            .get(&remote(target))
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let now = now();
        for key in keys {
            self.fail(now, key, reason, cause);
        }
    }

    fn fail(&mut self, now: Instant, key: TransactionKey, reason: &str, cause: Cause) {
        match key {
            TransactionKey::Client(k) => {
                if let Some(r) = self.clients.get_mut(&k) {
                    r.failure = Some((reason.to_owned(), cause));
                }
            }
            TransactionKey::Server(_) => {}
        }
        tracing::debug!(?key, reason, "transport failure ends the transaction");
        self.layer.handle_transport_error(now, key);
    }

    /// Drains the layer until it has nothing more to say (handling an event may answer a
    /// request, which queues more output).
    async fn drain(&mut self) {
        loop {
            let mut idle = true;
            while let Some(t) = self.layer.poll_transmit() {
                idle = false;
                self.transmit(t).await;
            }
            while let Some(e) = self.layer.poll_event() {
                idle = false;
                self.on_event(e);
            }
            if idle {
                break;
            }
        }
        self.arrival = None;
    }

    async fn transmit(&mut self, t: Transmit) {
        if t.target.transport == TransportKind::Udp {
            if let Err(e) = self.transport.send(&t.target, t.payload).await {
                if is_transient(&e) {
                    // Lost like any datagram; the transaction retransmits.
                    tracing::debug!(target = %t.target, error = %e, "datagram not sent");
                } else {
                    let reason = e.to_string();
                    self.fail_remote(&t.target, &reason, e.cause());
                }
            }
            return;
        }
        let peer = remote(&t.target);
        let payload = match self.senders.get(&peer) {
            Some(tx) => match tx.send(t.payload) {
                Ok(()) => return,
                Err(mpsc::error::SendError(p)) => p,
            },
            None => t.payload,
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let _ = tx.send(payload);
        tokio::spawn(stream_sender(
            self.transport.clone(),
            t.target,
            rx,
            self.reports_tx.clone(),
        ));
        self.senders.insert(peer, tx);
    }

    fn on_event(&mut self, e: Event) {
        match e {
            Event::Response { key, response } => self.on_response(key, response),
            Event::Request {
                key,
                request,
                source,
            } => self.on_request(key, request, source),
            Event::Cancel { key, invite, .. } => self.on_cancel(key, invite),
            Event::Ack { request, source } => {
                let source = self.arrival_source(source);
                let _ = self.incoming.try_send(Received::Ack { request, source });
            }
            Event::Terminated { key, reason } => self.on_terminated(key, reason),
        }
    }

    fn arrival_source(&self, reply_to: Target) -> Source {
        self.arrival.as_ref().map_or_else(
            || Source {
                local: SocketAddr::from(([0, 0, 0, 0], 0)),
                connection: None,
                target: reply_to,
            },
            |a| a.source.clone(),
        )
    }

    fn on_response(&mut self, key: ClientKey, response: Message) {
        let Some(rec) = self.clients.get_mut(&key) else {
            return;
        };
        let Some(tx) = rec.updates.as_ref() else {
            return;
        };
        let code = response.status().unwrap_or(0);
        if code >= 200 && !rec.final_delivered {
            rec.final_delivered = true;
            pass_up(&self.incoming, tx, Update::Final(Ok(response)));
            // Only an INVITE's 2xx can be followed by more (RFC 6026 §8.4).
            if !(rec.is_invite && (200..300).contains(&code)) {
                rec.updates = None;
            }
            return;
        }
        if rec.others >= MAX_OTHER_RESPONSES {
            tracing::debug!(?key, code, "too many responses; dropped");
            return;
        }
        rec.others += 1;
        let update = if rec.final_delivered {
            Update::Extra(response)
        } else {
            Update::Provisional(response)
        };
        pass_up(&self.incoming, tx, update);
    }

    fn on_request(&mut self, key: ServerKey, request: Message, reply_to: Target) {
        let source = self.arrival_source(reply_to.clone());
        let to_tag = match request.to_header().map(|t| t.tag().is_none()) {
            Ok(true) => crate::new_tag().ok().map(String::into_boxed_str),
            _ => None,
        };
        let is_invite = request.method() == Some(Method::Invite);
        let (cancel_tx, cancel_rx) = if is_invite {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        self.by_remote
            .entry(remote(&reply_to))
            .or_default()
            .insert(key.into());
        self.servers.insert(
            key,
            ServerRecord {
                target: reply_to.clone(),
                connection: source.connection,
                to_tag: to_tag.clone(),
                cancelled: cancel_tx,
            },
        );
        let driver = self.driver.upgrade().map(|inner| Driver { inner });
        let accepted = match (self.incoming.has_room(), driver) {
            (true, Some(driver)) => {
                let transaction =
                    ServerTransaction::new(key, request.clone(), to_tag, driver, cancel_rx);
                self.incoming
                    .try_send(Received::Request(IncomingRequest {
                        request,
                        source,
                        reply_to,
                        transaction,
                    }))
                    .is_ok()
            }
            _ => false,
        };
        if !accepted {
            // RFC 3261 §21.5.4: nobody can take it now; say when to try again, as the
            // layer's own 503 over its cap does.
            tracing::debug!(?key, "incoming queue full or closed: 503");
            let retry_after = self.layer.limits().retry_after.to_string();
            self.respond_internal_with(
                now(),
                key,
                503,
                "Service Unavailable",
                &[("Retry-After", &retry_after)],
            );
        }
    }

    /// RFC 3261 §9.2: answer the CANCEL 200, and the INVITE 487 if it has no final response.
    fn on_cancel(&mut self, key: ServerKey, invite: ServerKey) {
        let now = now();
        let (tag, target, connection) = match self.servers.get_mut(&invite) {
            Some(r) => {
                if let Some(tx) = r.cancelled.take() {
                    let _ = tx.send(());
                }
                (r.to_tag.clone(), r.target.clone(), r.connection)
            }
            None => (None, self.arrival_source(unreachable_target()).target, None),
        };
        // §9.2: the CANCEL's response carries the INVITE's To tag.
        self.servers.insert(
            key,
            ServerRecord {
                target: target.clone(),
                connection,
                to_tag: tag,
                cancelled: None,
            },
        );
        self.by_remote
            .entry(remote(&target))
            .or_default()
            .insert(key.into());
        self.respond_internal(now, key, 200, "OK");
        self.respond_internal(now, invite, 487, "Request Terminated");
    }

    fn on_terminated(&mut self, key: TransactionKey, reason: TerminationReason) {
        let target = match key {
            TransactionKey::Client(k) => {
                let Some(rec) = self.clients.remove(&k) else {
                    return;
                };
                if let (Some(tx), false) = (&rec.updates, rec.final_delivered) {
                    let err = match reason {
                        TerminationReason::Timeout => DriverError::Timeout {
                            target: rec.target.clone(),
                        },
                        TerminationReason::TransportError => {
                            let (reason, cause) = rec
                                .failure
                                .clone()
                                .unwrap_or_else(|| ("transport error".to_owned(), Cause::Other));
                            DriverError::Transport {
                                target: rec.target.clone(),
                                reason,
                                cause,
                            }
                        }
                        // A held CANCEL whose INVITE got its final response first (§9.1).
                        TerminationReason::Normal => DriverError::Txn(crate::Error::InvalidState(
                            "the INVITE got its final response before the CANCEL was sent",
                        )),
                    };
                    pass_up(&self.incoming, tx, Update::Final(Err(err)));
                }
                rec.target
            }
            TransactionKey::Server(k) => {
                let Some(rec) = self.servers.remove(&k) else {
                    return;
                };
                rec.target
            }
        };
        let peer = remote(&target);
        if let Some(set) = self.by_remote.get_mut(&peer) {
            set.remove(&key);
            if set.is_empty() {
                self.by_remote.remove(&peer);
            }
        }
    }
}

/// Hashes the layer's transaction keys, which no peer chooses (so no defence against chosen
/// collisions is needed): a multiply per word instead of SipHash, mixing the id's low bits (the
/// slot) into the high ones that hashbrown's tag byte reads.
#[derive(Debug, Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.write_u64(n as u64);
    }
}

type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

/// A placeholder that matches no live peer.
fn unreachable_target() -> Target {
    Target::udp(SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// Where responses to a request go (RFC 3261 §18.2.2, RFC 3581 §4).
fn reply_target(incoming: &Incoming) -> Target {
    let source = incoming.reply_target();
    if incoming.transport != TransportKind::Udp {
        // The connection it came on: the transport reuses it per remote address.
        return source;
    }
    let Some(via) = incoming
        .top_via
        .ok()
        .and_then(|top| top.view(&incoming.message))
    else {
        return source;
    };
    // RFC 3581 §4: with rport, the source address and port.
    if via.rport.is_some() {
        return source;
    }
    let port = via.port.unwrap_or(TransportKind::Udp.default_port());
    // §18.2.2: maddr (when it is an address), else the received address (the source IP) with
    // the sent-by port.
    let ip = via
        .maddr
        .and_then(|m| m.parse::<IpAddr>().ok())
        .unwrap_or(incoming.source.ip());
    Target::udp(SocketAddr::new(ip, port))
}

/// §18.2.2: when the connection a response should go back on is gone, the server opens one to
/// the `received` address (else the sent-by host) and the sent-by port.
fn response_fallback(payload: &Bytes, transport: TransportKind) -> Option<Target> {
    let msg = Message::parse(payload.clone()).ok()?;
    if msg.is_request() {
        return None;
    }
    let via = msg.top_via().ok()?;
    let ip: IpAddr = match via.received {
        Some(_) => via.received_ip()?,
        None => via.host.to_string().trim_matches(['[', ']']).parse().ok()?,
    };
    let port = via.port.unwrap_or(transport.default_port());
    Some(Target::new(transport, SocketAddr::new(ip, port)))
}

/// Sends to one stream peer in order, so a slow connect or a full connection queue stalls only
/// that peer. Reports the first failure and ends.
async fn stream_sender(
    transport: Transport,
    target: Target,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    reports: mpsc::UnboundedSender<SendFailed>,
) {
    while let Some(payload) = rx.recv().await {
        let Err(e) = transport.send(&target, payload.clone()).await else {
            continue;
        };
        if let Some(fallback) =
            response_fallback(&payload, target.transport).filter(|f| *f != target)
            && transport.send(&fallback, payload).await.is_ok()
        {
            continue;
        }
        let _ = reports.send(SendFailed {
            target,
            reason: e.to_string(),
            cause: e.cause(),
        });
        return;
    }
}

/// Send errors a datagram can meet without the path being broken.
fn is_transient(e: &sip_transport::Error) -> bool {
    use std::io::ErrorKind;
    const ENOBUFS: i32 = 105;
    match e {
        sip_transport::Error::SendDatagram { source, .. } => {
            matches!(
                source.kind(),
                ErrorKind::WouldBlock | ErrorKind::Interrupted
            ) || source.raw_os_error() == Some(ENOBUFS)
        }
        _ => false,
    }
}
