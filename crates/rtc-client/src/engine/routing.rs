//! Requests that arrive outside every core's dialogs: answered here (OPTIONS, 405, 481), or
//! handed to the presence agent, the messages, or the sessions they belong to.

use super::*;

impl Engine {
    /// Answers what the client can answer itself; hands the rest to the application.
    pub(super) async fn handle_request(&mut self, incoming: IncomingRequest) {
        let request = &incoming.request;
        let Some(method) = request.method() else {
            return;
        };
        let flags = self
            .profiles
            .values()
            .fold(RegisterFlags::empty(), |f, p| f | p.flags);
        let txn = &incoming.transaction;
        // §12.2.2: a request with a To tag belongs to a dialog; a session's, or (presence
        // aside) none, which is 481.
        let in_dialog = request.to_header().is_ok_and(|t| t.tag().is_some());
        if in_dialog
            && !matches!(method, Method::Subscribe | Method::Notify)
            && let InDialog::Answer(code, reason) = self.sessions.in_dialog(request)
        {
            if let Err(e) = txn.reply(code, reason).await {
                warn!("answering {method}: {e}");
            }
            return;
        }
        let result = match method {
            Method::Options => self.answer_options(&incoming, flags).await,
            Method::Message if flags.contains(RegisterFlags::MESSAGE_SESSIONS) => {
                let verdict = self
                    .messages
                    .receive(Self::now(), request, &mut self.pending_events);
                im::answer(txn, verdict).await
            }
            Method::Invite if flags.contains(RegisterFlags::INVITE_SESSIONS) => {
                let to = request.to_header().map(|t| t.uri_str().to_owned()).ok();
                match self.caller(to.as_deref()) {
                    Ok(caller) => self.sessions.incoming(Self::now(), incoming, caller),
                    Err(e) => warn!("INVITE: {e}"),
                }
                return;
            }
            Method::Subscribe if flags.contains(RegisterFlags::PRESENCE) => {
                let now = Self::now();
                match (&mut self.agent, &mut self.presence) {
                    (Some(agent), Some(p)) => {
                        // A new watcher may join the list.
                        p.autosave.changed(now);
                        match agent.subscribe_request(now, request, &mut p.data) {
                            Ok(response) => txn.respond(response).await.map_err(Error::from),
                            Err(e) => Err(e),
                        }
                    }
                    // Registered for presence but presence not enabled: nobody to watch yet.
                    _ => txn
                        .reply(480, "Temporarily Unavailable")
                        .await
                        .map_err(Error::from),
                }
            }
            // RFC 6665 §4.2.1: an event package we do not serve.
            Method::Subscribe => txn.reply(489, "Bad Event").await.map_err(Error::from),
            Method::Notify => {
                let now = Self::now();
                // The agent's subscriptions first, then a retiring agent's (the final NOTIFY
                // after its unsubscribe).
                let agents = self
                    .agent
                    .iter_mut()
                    .chain(self.retiring.iter_mut().map(|r| &mut r.agent));
                let mut answer = None;
                for agent in agents {
                    match agent.notify_request(now, request) {
                        Ok(r) if r.status() == Some(481) => answer = answer.or(Some(Ok(r))),
                        other => {
                            answer = Some(other);
                            break;
                        }
                    }
                }
                match answer {
                    Some(Ok(response)) => txn.respond(response).await.map_err(Error::from),
                    Some(Err(e)) => Err(e),
                    // RFC 6665 §4.1.3: no such subscription.
                    None => txn
                        .reply(481, "Subscription Does Not Exist")
                        .await
                        .map_err(Error::from),
                }
            }
            Method::Message | Method::Invite => self.method_not_allowed(&incoming, flags).await,
            // RFC 3261 §8.2.1: a method we do not implement.
            _ => self.method_not_allowed(&incoming, flags).await,
        };
        if let Err(e) = result {
            warn!("answering {method}: {e}");
        }
    }

    /// §11.2: the capabilities of this client.
    pub(super) async fn answer_options(
        &self,
        incoming: &IncomingRequest,
        flags: RegisterFlags,
    ) -> Result<()> {
        let txn = &incoming.transaction;
        let mut b = txn
            .response(200, "OK")?
            .header("Allow", &allow_header(flags))?
            .header("Accept", im::ACCEPT)?
            .header("Accept-Encoding", im::ACCEPT_ENCODING)?;
        if flags.contains(RegisterFlags::PRESENCE) {
            b = b.header("Allow-Events", "presence, presence.winfo")?;
        }
        txn.respond(Message::parse(b.try_build()?)?).await?;
        Ok(())
    }

    /// §8.2.1: 405 with the methods we do accept; 501 for methods we do not know.
    pub(super) async fn method_not_allowed(
        &self,
        incoming: &IncomingRequest,
        flags: RegisterFlags,
    ) -> Result<()> {
        let txn = &incoming.transaction;
        let known = matches!(
            incoming.request.method(),
            Some(Method::Message | Method::Invite | Method::Notify | Method::Subscribe)
        );
        let b = if known {
            txn.response(405, "Method Not Allowed")?
                .header("Allow", &allow_header(flags))?
        } else {
            txn.response(501, "Not Implemented")?
        };
        txn.respond(Message::parse(b.try_build()?)?).await?;
        Ok(())
    }
}

/// The methods a client with `flags` accepts (RFC 3261 §20.5), for Allow.
pub(super) fn allow_header(flags: RegisterFlags) -> String {
    let mut methods = vec!["OPTIONS"];
    if flags.contains(RegisterFlags::INVITE_SESSIONS) {
        methods.extend(["INVITE", "ACK", "CANCEL", "BYE"]);
    }
    if flags.contains(RegisterFlags::MESSAGE_SESSIONS) {
        methods.push("MESSAGE");
    }
    if flags.contains(RegisterFlags::PRESENCE) {
        methods.extend(["SUBSCRIBE", "NOTIFY"]);
    }
    methods.join(", ")
}

/// Where an in-dialog request goes (RFC 3261 §12.2.1.1, §8.1.2): its first Route, else its
/// Request-URI, when that names an IP address (a domain name needs RFC 3263 lookup, done by
/// sending through the outbound proxy instead).
pub(crate) fn next_hop(request: &Message) -> Option<Target> {
    let route = request.routes().next().and_then(|r| r.ok());
    let uri = match &route {
        Some(r) => r.uri().ok()?,
        None => sip_parse::Uri::parse(request.request_uri()?).ok()?,
    };
    let sip = uri.as_sip()?;
    let transport = match sip.param("transport") {
        Some(Some(t)) => TransportKind::from_token(t)?,
        _ if sip.secure => TransportKind::Tls,
        _ => TransportKind::Udp,
    };
    let ip: std::net::IpAddr = match sip.host {
        sip_parse::Host::Ipv4(a) => a.into(),
        sip_parse::Host::Ipv6(a) => a.into(),
        sip_parse::Host::Domain(_) => return None,
    };
    let port = sip.port.unwrap_or(transport.default_port());
    Some(Target::new(transport, SocketAddr::new(ip, port)))
}
