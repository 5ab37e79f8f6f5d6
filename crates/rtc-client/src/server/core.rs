//! The sans-IO registrar/proxy: messages and time in, messages out.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use sip_parse::{HeaderName, Message, MessageBuilder, Method, SipUri, Target, TransportKind, Uri};
use sip_txn::{Event, ServerKey, TransactionLayer, Transmit};

use super::auth::{self, Nonces};
use super::proxy::{self, Listeners, Rewrite};
use super::registrar::{BindingInfo, Location, RegisterPlan};
use super::reply::Reply;
use super::seal::{self, Invites, RouteKey};
use super::{Error, Result, ServerConfig};

/// Methods the server itself answers (to a Request-URI naming the server, without a user).
const ALLOW: &str = "REGISTER, OPTIONS";

/// A registrar (RFC 3261 §10.3) and stateless proxy (§16.11) with digest authentication, as a
/// sans-IO core in the shape of [`TransactionLayer`]: feed it what arrives
/// ([`handle_message`](Self::handle_message)) and the time
/// ([`handle_timeout`](Self::handle_timeout)); after every input, drain
/// [`poll_transmit`](Self::poll_transmit) and ask [`poll_timeout`](Self::poll_timeout) when to
/// wake it. It never reads the clock. [`EmbeddedServer`](super::EmbeddedServer) drives it on
/// tokio sockets.
///
/// * REGISTER for its domain (or its own address) is answered here: 401 with a challenge, then
///   the bindings; 423, `*`, `expires=0` and the Call-ID/CSeq rule as §10.3 says.
/// * Other requests are authenticated with 407 (out-of-dialog, except ACK and CANCEL which cannot
///   be challenged, §22.1), the authenticated user must be the From user (else 403), and they
///   are forwarded to one registered contact of the Request-URI's user: the highest `q`, then
///   the most recent; unknown users get 404, users without a binding 480. PUBLISH gets 501:
///   there is no presence server, clients are their own presence agents.
/// * Initial requests are record-routed; requests whose Route names the server are loose-routed
///   (§16.4), which is how in-dialog requests (NOTIFY, BYE, un-SUBSCRIBE) come back.
/// * It is not an open relay. The Record-Route carries an HMAC-SHA256 of the Call-ID and the
///   From tag under a per-process key; an in-dialog request is forwarded only if the Route
///   naming the server carries that seal for its dialog, else 403. A CANCEL or ACK, which
///   cannot be challenged, is forwarded only with a valid seal or when it follows an INVITE
///   the server forwarded (same branch, same target); otherwise a CANCEL is answered 481 and an
///   ACK dropped. Every other request it forwards comes from an authenticated user of its
///   domain.
/// * Responses lose the top Via and go where the next Via says, only if the top Via carries the
///   server's seal of that next Via (so a forged response cannot be relayed anywhere).
///
/// ```
/// use std::time::Instant;
/// use bytes::Bytes;
/// use rtc_client::server::{RegistrarProxy, ServerConfig};
/// use sip_parse::{Message, Target, TransportKind};
///
/// # #[allow(clippy::disallowed_methods)] // the example's clock starts somewhere
/// let now = Instant::now();
/// let server_addr = "192.0.2.5:5060".parse()?;
/// let mut server = RegistrarProxy::new(ServerConfig::demo(), &[(TransportKind::Udp, server_addr)], now)?;
/// let alice = Target::udp("192.0.2.1:5070".parse()?);
/// let register = Message::parse(Bytes::from_static(
///     b"REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1\r\n\
///       From: <sip:alice@example.test>;tag=1\r\nTo: <sip:alice@example.test>\r\n\
///       Call-ID: r1\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@192.0.2.1:5070>\r\n\
///       Content-Length: 0\r\n\r\n"))?;
/// server.handle_message(now, alice.clone(), register);
/// let challenge = server.poll_transmit().expect("a 401");
/// assert_eq!(challenge.target, alice);
/// let challenge = Message::parse(challenge.payload)?;
/// assert_eq!(challenge.status(), Some(401));
/// assert!(challenge.www_authenticate().next().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct RegistrarProxy {
    config: ServerConfig,
    listeners: Listeners,
    layer: TransactionLayer,
    location: Location,
    nonces: Nonces,
    route_key: RouteKey,
    invites: Invites,
    transmits: VecDeque<Transmit>,
    /// Whether the request being handled carried valid credentials (set while routing it).
    authenticated: std::cell::Cell<bool>,
}

/// How long a forwarded INVITE is remembered for its CANCEL and non-2xx ACK: Timer C (3 min,
/// RFC 3261 §16.6 step 11) and then the 64·T1 a final response is retransmitted.
const INVITE_MEMORY: std::time::Duration = std::time::Duration::from_secs(180 + 32);

/// What the server does with a request.
enum Outcome {
    /// Send it on.
    Forward(Transmit),
    /// Answer it in a server transaction.
    Local(Answer),
    /// Nothing (an ACK that goes nowhere).
    Drop,
}

/// A local answer, applied when the server transaction is new.
enum Answer {
    Reply(Reply),
    Register(RegisterPlan),
}

/// How a request is handled: ACK and CANCEL are never challenged nor answered by the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Initial,
    Ack,
    Cancel,
}

impl RegistrarProxy {
    /// A server for `config` reachable at `listeners` (as peers see them: each goes into Via and
    /// Record-Route, so none may be an unspecified address). Fails if there is no listener, one
    /// is unspecified, or the random source fails.
    pub fn new(
        config: ServerConfig,
        listeners: &[(TransportKind, SocketAddr)],
        now: Instant,
    ) -> Result<Self> {
        if listeners.is_empty() {
            return Err(Error::UnusableListener("(none)".into()));
        }
        if let Some((k, a)) = listeners.iter().find(|(_, a)| a.ip().is_unspecified()) {
            return Err(Error::UnusableListener(format!("{k} {a}")));
        }
        let secret = format!("{}{}", sip_txn::new_tag()?, sip_txn::new_tag()?);
        Ok(Self {
            nonces: Nonces::new(secret, now, config.nonce_lifetime),
            route_key: RouteKey::new()?,
            invites: Invites::new(config.max_pending_invites, INVITE_MEMORY),
            layer: TransactionLayer::with_limits(config.timers, config.limits),
            listeners: Listeners::new(listeners.to_vec()),
            location: Location::default(),
            transmits: VecDeque::new(),
            authenticated: std::cell::Cell::new(false),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The live bindings of `user` at `now`, as a 200 to REGISTER would list them.
    pub fn bindings(&self, now: Instant, user: &str) -> Vec<BindingInfo> {
        self.location.list(now, user)
    }

    /// A message arrived from `source`.
    pub fn handle_message(&mut self, now: Instant, source: Target, msg: Message) {
        self.authenticated.set(false);
        tracing::debug!(
            from = %source,
            start = %String::from_utf8_lossy(msg.start_line()),
            call_id = msg.call_id().unwrap_or_default(),
            "received"
        );
        if msg.is_request() {
            self.on_request(now, source, msg);
        } else if let Some((payload, target)) =
            proxy::forward_response(&msg, &self.listeners, &self.route_key)
        {
            self.push(payload, target);
        }
    }

    /// Whether the message just handled was a request with valid credentials (a digest this
    /// server checked): its connection's peer is then a user, whom the connection limit does
    /// not close to make room ([`sip_transport::Transport::trust`]).
    pub fn authenticated(&self) -> bool {
        self.authenticated.get()
    }

    /// Time passed: transaction timers (retransmitted final responses, timer H, J …) and
    /// expired bindings.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.drain_events(now, &mut None);
        self.location.purge(now);
        self.invites.purge(now);
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = self
            .transmits
            .pop_front()
            .or_else(|| self.layer.poll_transmit())?;
        if tracing::enabled!(tracing::Level::DEBUG) {
            let first = t.payload.split(|&c| c == b'\r').next().unwrap_or_default();
            tracing::debug!(to = %t.target, start = %String::from_utf8_lossy(first), "sending");
        }
        Some(t)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if ever.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.layer.poll_timeout()
    }

    fn push(&mut self, payload: bytes::Bytes, target: Target) {
        self.transmits.push_back(Transmit {
            reliable: target.is_reliable(),
            payload,
            target,
        });
    }

    fn on_request(&mut self, now: Instant, source: Target, msg: Message) {
        let mode = match msg.method() {
            Some(Method::Ack) => Mode::Ack,
            Some(Method::Cancel) => Mode::Cancel,
            _ => Mode::Initial,
        };
        // ACKs go to the layer first: one for a non-2xx we sent ends our transaction; any
        // other comes back as `Event::Ack` and is routed. A CANCEL that cannot be routed goes
        // to the layer too, which answers it (200 if it matches an INVITE we answered, else
        // 481).
        let mut pending = None;
        if mode != Mode::Ack {
            match self.route(now, &msg, &source, mode) {
                Outcome::Forward(t) => {
                    if msg.method() == Some(Method::Invite)
                        && let Ok(branch) = proxy::stateless_branch(&msg)
                    {
                        self.invites.remember(now, branch, t.target.clone());
                    }
                    self.transmits.push_back(t);
                    return;
                }
                Outcome::Drop => return,
                Outcome::Local(a) if mode == Mode::Initial => pending = Some(a),
                Outcome::Local(_) => {}
            }
        }
        if let Err(e) = self.layer.handle_message(now, source, msg) {
            tracing::debug!(error = %e, "request refused by the transaction layer");
        }
        self.drain_events(now, &mut pending);
    }

    fn drain_events(&mut self, now: Instant, pending: &mut Option<Answer>) {
        while let Some(ev) = self.layer.poll_event() {
            match ev {
                Event::Request { key, request, .. } => {
                    let reply = match pending.take() {
                        Some(Answer::Reply(r)) => r,
                        Some(Answer::Register(plan)) => self.location.commit(now, plan),
                        None => Reply::new(500, "Server Internal Error"),
                    };
                    self.respond(now, key, &request, &reply);
                }
                Event::Cancel { key, request, .. } => {
                    // Our INVITE answers are final at once: only the CANCEL needs its 200 (§9.2).
                    self.respond(now, key, &request, &Reply::new(200, "OK"));
                }
                Event::Ack { request, source } => {
                    match self.route(now, &request, &source, Mode::Ack) {
                        Outcome::Forward(t) => self.transmits.push_back(t),
                        _ => tracing::debug!("ACK for no one: dropped"),
                    }
                }
                Event::Response { .. } | Event::Terminated { .. } => {}
            }
        }
    }

    fn respond(&mut self, now: Instant, key: ServerKey, request: &Message, reply: &Reply) {
        let tag = sip_txn::new_tag().unwrap_or_else(|_| "rtc-embedded".into());
        let sent = reply
            .build(request, &tag)
            .map_err(sip_txn::Error::from)
            .and_then(|rsp| self.layer.send_response(now, key, rsp));
        if let Err(e) = sent {
            tracing::debug!(error = %e, code = reply.code, "cannot answer");
        }
    }

    /// Whether `uri` is for this server's domain: the domain itself or one of its addresses.
    fn is_local(&self, uri: &SipUri<'_>) -> bool {
        match uri.host {
            sip_parse::Host::Domain(d) => d.eq_ignore_ascii_case(&self.config.domain),
            _ => self.listeners.is_address(&uri.host, uri.port, uri.secure),
        }
    }

    /// Whether a Route value names this server (§16.4).
    fn names_us(&self, uri: &SipUri<'_>) -> bool {
        match uri.host {
            sip_parse::Host::Domain(_) => self.is_local(uri) && uri.user.is_none(),
            _ => self.listeners.is_address(&uri.host, uri.port, uri.secure),
        }
    }

    /// Decides what happens to a request: RFC 3261 §16.3 (validation), §16.4 (route
    /// information), §16.5 (targets), with the registrar (§10.3) for REGISTERs addressed here.
    fn route(&self, now: Instant, msg: &Message, source: &Target, mode: Mode) -> Outcome {
        let refuse = |r: Reply| match mode {
            Mode::Ack => Outcome::Drop,
            _ => Outcome::Local(Answer::Reply(r)),
        };
        let (Some(method), Some(ruri_text)) = (msg.method(), msg.request_uri()) else {
            return Outcome::Drop;
        };
        let (Ok(from), Ok(to), Ok(call_id), Ok(_)) = (
            msg.from_header(),
            msg.to_header(),
            msg.call_id(),
            msg.cseq(),
        ) else {
            return refuse(Reply::new(400, "Malformed From, To, Call-ID or CSeq"));
        };
        if !matches!(Uri::parse(ruri_text), Ok(Uri::Sip(_))) {
            return refuse(Reply::new(416, "Unsupported URI Scheme"));
        }
        let in_dialog = to.tag().is_some();
        if method == Method::Publish {
            return refuse(Reply::new(501, "Not Implemented").header("Allow", ALLOW));
        }

        // §16.4: a strict router before us put our URI in the Request-URI; a Route naming us
        // is removed (loose routing).
        let routes: Vec<_> = msg.list(HeaderName::Route).collect();
        let mut route_uris = Vec::with_capacity(routes.len());
        for r in &routes {
            match proxy::route_uri(r.value) {
                Some(u) => route_uris.push(u),
                None => return refuse(Reply::new(400, "Malformed Route")),
            }
        }
        let mut drop = Vec::new();
        let mut ruri_owned = ruri_text.to_owned();
        // The seal on the URI that named us (a Route, or the Request-URI a strict router put
        // there), if any.
        let mut seal = None;
        let ruri = match Uri::parse(ruri_text) {
            Ok(Uri::Sip(u)) => u,
            _ => return refuse(Reply::new(416, "Unsupported URI Scheme")),
        };
        let mut first = 0;
        let mut last = routes.len();
        if ruri.user.is_none()
            && self
                .listeners
                .is_address(&ruri.host, ruri.port, ruri.secure)
            && let (Some(r), Some(u)) = (routes.last(), route_uris.last())
        {
            seal = ruri.param(seal::PARAM).flatten();
            ruri_owned = u.to_string();
            drop.push(r.offset);
            last -= 1;
        }
        if first < last && route_uris.get(first).is_some_and(|u| self.names_us(u)) {
            seal = seal.or(route_uris[first].param(seal::PARAM).flatten());
            drop.push(routes[first].offset);
            first += 1;
        }
        let tags = [from.tag().unwrap_or_default(), to.tag().unwrap_or_default()];
        let sealed = seal.is_some_and(|v| self.route_key.verify(call_id, &tags, v));
        let next_hop = (first < last).then(|| &route_uris[first]);
        let ruri = match Uri::parse(&ruri_owned) {
            Ok(Uri::Sip(u)) => u,
            _ => return refuse(Reply::new(416, "Unsupported URI Scheme")),
        };
        let local = next_hop.is_none() && self.is_local(&ruri);

        // In a dialog, only what a route set we signed sends through us is ours to forward
        // (as Kamailio's loose_route with a checked `ftag`); an ACK or CANCEL follows the INVITE
        // instead, checked below.
        if in_dialog && !sealed && mode == Mode::Initial {
            return refuse(Reply::new(
                403,
                "Forbidden (not a dialog this proxy record-routed)",
            ));
        }
        if local && (method == Method::Register || ruri.user.is_none()) {
            if mode != Mode::Initial {
                return refuse(Reply::new(481, "Call/Transaction Does Not Exist"));
            }
            return self.answer_here(now, msg, source, method);
        }

        // Proxying. §16.3 step 3: Max-Forwards.
        let max_forwards = match msg.max_forwards() {
            None => 70,
            Some(Ok(0)) => return refuse(Reply::new(483, "Too Many Hops")),
            Some(Ok(n)) => n - 1,
            Some(Err(_)) => return refuse(Reply::new(400, "Malformed Max-Forwards")),
        };
        // Step 5: no extension is supported.
        if let Some(r) = unsupported(msg, HeaderName::ProxyRequire) {
            return refuse(r);
        }
        // Step 6: who is sending (§22.3).
        if mode == Mode::Initial && !in_dialog {
            match auth::authenticate(&self.config, &self.nonces, now, msg, true) {
                Err(r) => return refuse(r),
                Ok(user) if !uri_user_is(&from.uri(), &user) => {
                    return refuse(Reply::new(
                        403,
                        "Forbidden (From is not the authenticated user)",
                    ));
                }
                Ok(_) => self.authenticated.set(true),
            }
        }

        // §16.5: the target.
        let (new_ruri, target) = if let Some(hop) = next_hop {
            (ruri_owned.clone(), proxy::uri_target(hop))
        } else if local {
            let user = ruri
                .user_decoded()
                .map(|u| String::from_utf8_lossy(&u).into_owned())
                .unwrap_or_default();
            if !self.config.has_user(&user) {
                return refuse(Reply::new(404, "Not Found"));
            }
            let Some(b) = self.location.best(now, &user) else {
                return refuse(Reply::new(480, "Temporarily Unavailable"));
            };
            let target = b.flow.clone().or_else(|| match Uri::parse(&b.contact) {
                Ok(Uri::Sip(u)) => proxy::uri_target(&u),
                _ => None,
            });
            (b.contact.clone(), target)
        } else {
            let target = self
                .location
                .flow_for(now, &ruri)
                .or_else(|| proxy::uri_target(&ruri));
            (ruri_owned.clone(), target)
        };
        let Some(target) = target else {
            return refuse(Reply::new(404, "Not Found (Unresolvable Target)"));
        };

        // §16.6: copy, new Request-URI, Max-Forwards, Record-Route, Via.
        let (Ok(branch), Ok(top_via)) = (proxy::stateless_branch(msg), msg.top_via()) else {
            return refuse(Reply::new(400, "Malformed Via"));
        };
        // A CANCEL or ACK, never challenged, goes only where its INVITE went (§9.1, §17.1.1.3)
        // or along a route set we signed (the ACK of a 2xx).
        if mode != Mode::Initial && !sealed && !self.invites.went(&branch, &target) {
            return refuse(Reply::new(
                403,
                "Forbidden (no INVITE of this proxy to cancel)",
            ));
        }
        let Some(via_addr) = self.listeners.address(target.transport) else {
            return Outcome::Drop;
        };
        let mut prepend = vec![(
            "Via",
            format!(
                "SIP/2.0/{} {via_addr};branch={branch};{}={}",
                target.transport,
                seal::VIA_PARAM,
                self.route_key.seal_via(&top_via)
            ),
        )];
        if mode == Mode::Initial
            && !in_dialog
            && method != Method::Register
            && let Some(rr) = self.listeners.record_route(
                source.transport,
                &self.route_key.seal(call_id, from.tag().unwrap_or_default()),
            )
        {
            prepend.push(("Record-Route", rr));
        }
        let edit = Rewrite {
            prepend,
            drop,
            max_forwards: Some(max_forwards),
            strip: &[],
        };
        match proxy::rebuild(msg, MessageBuilder::request(method, &new_ruri), &edit) {
            Ok(payload) => Outcome::Forward(Transmit {
                reliable: target.is_reliable(),
                payload,
                target,
            }),
            Err(e) => {
                tracing::debug!(error = %e, "request cannot be forwarded");
                refuse(Reply::new(400, "Bad Request"))
            }
        }
    }

    /// A request addressed to the server itself: REGISTER to the registrar, OPTIONS answered,
    /// anything else 405.
    fn answer_here(
        &self,
        now: Instant,
        msg: &Message,
        source: &Target,
        method: Method<'_>,
    ) -> Outcome {
        let reply = |r| Outcome::Local(Answer::Reply(r));
        // §8.2.2.3: no extension is supported.
        if let Some(r) = unsupported(msg, HeaderName::Require) {
            return reply(r);
        }
        match method {
            Method::Register => match self.register(now, msg, source) {
                Ok(plan) => Outcome::Local(Answer::Register(plan)),
                Err(r) => reply(r),
            },
            Method::Options => reply(Reply::new(200, "OK").header("Allow", ALLOW)),
            _ => reply(Reply::new(405, "Method Not Allowed").header("Allow", ALLOW)),
        }
    }

    /// RFC 3261 §10.3 steps 3–7.
    fn register(
        &self,
        now: Instant,
        msg: &Message,
        source: &Target,
    ) -> Result<RegisterPlan, Reply> {
        let user = auth::authenticate(&self.config, &self.nonces, now, msg, false)?;
        self.authenticated.set(true);
        let to = msg
            .to_header()
            .map_err(|_| Reply::new(400, "Malformed To"))?;
        let aor = match to.uri() {
            Ok(Uri::Sip(u)) => u,
            _ => return Err(Reply::new(404, "Not Found")),
        };
        // Step 4: the authenticated user may only change its own bindings (as Kamailio's
        // auth_check with the To user for REGISTER).
        if !uri_user_is(&Ok(Uri::Sip(aor)), &user) {
            return Err(Reply::new(
                403,
                "Forbidden (To is not the authenticated user)",
            ));
        }
        // Step 5: the AOR must be of our domain.
        if !matches!(aor.host, sip_parse::Host::Domain(d) if d.eq_ignore_ascii_case(&self.config.domain))
        {
            return Err(Reply::new(404, "Not Found"));
        }
        self.location.plan(now, &self.config, msg, &user, source)
    }
}

/// Whether the user part of a From/To URI is `user`.
fn uri_user_is(uri: &Result<Uri<'_>, sip_parse::ParseError>, user: &str) -> bool {
    match uri {
        Ok(Uri::Sip(u)) => u.user_decoded().is_some_and(|d| *d == *user.as_bytes()),
        _ => false,
    }
}

/// 420 listing the option tags of `header` (Require or Proxy-Require) when there are any, since
/// this server supports no extension (§8.2.2.3, §16.3 step 5).
fn unsupported(msg: &Message, header: HeaderName) -> Option<Reply> {
    msg.header(header)?;
    let tags: Vec<&str> = msg.tokens(header).filter_map(|t| t.ok()).collect();
    Some(Reply::new(420, "Bad Extension").header("Unsupported", tags.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_listeners_are_refused() {
        #[allow(clippy::disallowed_methods)] // a start time for the test; nothing is timed
        let now = Instant::now();
        let any = (TransportKind::Udp, "0.0.0.0:5060".parse().unwrap());
        assert!(matches!(
            RegistrarProxy::new(ServerConfig::demo(), &[any], now),
            Err(Error::UnusableListener(_))
        ));
        assert!(matches!(
            RegistrarProxy::new(ServerConfig::demo(), &[], now),
            Err(Error::UnusableListener(_))
        ));
    }
}
