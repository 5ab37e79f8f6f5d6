//! The session core on the `sip-txn` driver: each incoming INVITE's server transaction and each
//! outgoing INVITE's client transaction is held by a small task of its own, which reports back
//! on one channel; the engine dispatches commands, requests, ACKs, reports and the timer here.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_parse::{Message, Method, Target, TransportKind};
use sip_txn::TimerConfig;
use sip_txn::digest::DigestClient;
use sip_txn::driver::{Driver, DriverError, IncomingRequest, ServerTransaction};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use super::SessionCommand;
use super::machine::{InDialog, Output, Sessions};
use crate::{Endpoint, Error, Event, Result};

/// Who places a call, or answers one: chosen by the engine from its enabled profiles.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The profile's key (whose credentials answer challenges).
    pub(crate) profile: String,
    /// Our From: a name-addr without tag.
    pub(crate) from: String,
    /// Our Via and Contact.
    pub(crate) local: Endpoint,
    /// Where requests outside a dialog go, and in-dialog ones whose next hop needs DNS.
    pub(crate) outbound: Option<Target>,
    /// The User-Agent header value.
    pub(crate) user_agent: String,
}

/// What a session's task tells the engine.
#[derive(Debug)]
pub(crate) enum Report {
    /// A CANCEL for session `.0`'s incoming INVITE came before our final response.
    Cancelled(u64),
    /// A response to session `.0`'s INVITE.
    Response(u64, Message),
    /// Session `.0`'s INVITE got no final response.
    Failed(u64, DriverError),
}

/// What the I/O side keeps of a session.
#[derive(Debug)]
struct Call {
    caller: Caller,
    transport: TransportKind,
    /// Callee: responses for the task holding the INVITE's server transaction.
    answers: Option<mpsc::UnboundedSender<Message>>,
    /// Callee: where the INVITE's responses go (the 2xx retransmissions).
    reply_to: Option<Target>,
    /// Caller: asks the task holding the INVITE's client transaction for a CANCEL.
    cancel: Option<oneshot::Sender<()>>,
}

/// The sessions of a client: the sans-IO [`Sessions`] and the tasks that do its I/O.
#[derive(Debug)]
pub(crate) struct SessionDriver {
    core: Sessions,
    driver: Driver,
    calls: HashMap<u64, Call>,
    reports_tx: mpsc::UnboundedSender<Report>,
    reports: mpsc::UnboundedReceiver<Report>,
}

impl SessionDriver {
    /// Sessions on `driver`, with its T1/T2; invitations expire after `expiry`.
    pub(crate) fn new(driver: Driver, timers: TimerConfig, expiry: Duration) -> Self {
        let (reports_tx, reports) = mpsc::unbounded_channel();
        Self {
            core: Sessions::new(timers, expiry),
            driver,
            calls: HashMap::new(),
            reports_tx,
            reports,
        }
    }

    /// The next report of a session task (never `None`: this holds a sender).
    pub(crate) async fn recv(&mut self) -> Option<Report> {
        self.reports.recv().await
    }

    /// The profile whose credentials a report may need.
    pub(crate) fn profile_of(&self, report: &Report) -> Option<&str> {
        let id = match report {
            Report::Response(id, _) => id,
            _ => return None,
        };
        self.calls.get(id).map(|c| c.caller.profile.as_str())
    }

    /// Handles a report; `digest` holds the credentials of [`profile_of`](Self::profile_of).
    pub(crate) fn handle_report(
        &mut self,
        now: Instant,
        report: Report,
        digest: Option<&mut DigestClient>,
    ) {
        match report {
            Report::Cancelled(id) => self.core.cancelled(id),
            Report::Response(id, response) => {
                if matches!(response.status(), Some(401 | 407))
                    && let Some(digest) = digest
                    && self.resubmit(id, &response, digest)
                {
                    return;
                }
                self.core.response(now, id, &response);
            }
            Report::Failed(id, e) => {
                let status = match e {
                    DriverError::Timeout { .. } => 408,
                    _ => 503,
                };
                self.core.invite_failed(id, status, e.to_string());
            }
        }
    }

    /// Sends session `id`'s challenged INVITE again with credentials; false when there are
    /// none that fit (the challenge is then the final answer).
    fn resubmit(&mut self, id: u64, challenge: &Message, digest: &mut DigestClient) -> bool {
        let (Some(invite), Some(call)) = (self.core.challenged_invite(id), self.calls.get(&id))
        else {
            return false;
        };
        let again = call.caller.local.via(call.transport).and_then(|via| {
            // Before its dialog exists the INVITE is alone in its Call-ID, whose sequence
            // is its own (RFC 3261 §8.1.1.5).
            let cseq = crate::auth::next_in_own_call(invite)?;
            crate::auth::resubmit(digest, invite, challenge, &via, cseq)
        });
        match again {
            Ok(invite) => {
                self.core.resubmitted(id, invite.clone());
                self.send_invite(id, invite);
                true
            }
            Err(e) => {
                debug!("session {id}: no answer to the challenge: {e}");
                false
            }
        }
    }

    /// An INVITE outside any dialog, for `caller`: it rings until answered or expired.
    pub(crate) fn incoming(&mut self, now: Instant, incoming: IncomingRequest, caller: Caller) {
        let transport = incoming.source.target.transport;
        let Some(to_tag) = incoming.transaction.to_tag().map(str::to_owned) else {
            return;
        };
        let id = match self.core.incoming(
            now,
            incoming.request,
            &to_tag,
            caller.local.clone(),
            transport,
        ) {
            Ok(id) => id,
            Err(e) => {
                // The transaction, dropped unanswered, is answered 500 by the driver.
                warn!("incoming INVITE: {e}");
                return;
            }
        };
        let (answers, rx) = mpsc::unbounded_channel();
        spawn_answering(id, incoming.transaction, rx, self.reports_tx.clone());
        self.calls.insert(
            id,
            Call {
                caller,
                transport,
                answers: Some(answers),
                reply_to: Some(incoming.reply_to),
                cancel: None,
            },
        );
    }

    /// A command from the application; `caller` is who calls, for [`SessionCommand::Invite`].
    pub(crate) fn command(
        &mut self,
        now: Instant,
        command: SessionCommand,
        caller: Result<Caller>,
    ) {
        match command {
            SessionCommand::Invite { to, sdp, reply } => {
                let _ = reply.send(caller.and_then(|c| self.invite(&to, sdp, c)));
            }
            SessionCommand::Answer {
                id,
                accept,
                sdp,
                reply,
            } => {
                let r = if accept {
                    self.core.accept(now, id, sdp)
                } else {
                    self.core.decline(id)
                };
                let _ = reply.send(r);
            }
            SessionCommand::Cancel { id, reply } => {
                let _ = reply.send(self.core.cancel(id));
            }
            SessionCommand::HangUp { id, reply } => {
                let _ = reply.send(self.core.hang_up(now, id));
            }
        }
    }

    fn invite(&mut self, to: &str, sdp: Option<Bytes>, caller: Caller) -> Result<u64> {
        let transport = caller
            .outbound
            .as_ref()
            .map_or(TransportKind::Udp, |t| t.transport);
        let id = self.core.invite(
            to,
            &caller.from,
            caller.local.clone(),
            transport,
            sdp,
            &caller.user_agent,
        )?;
        self.calls.insert(
            id,
            Call {
                caller,
                transport,
                answers: None,
                reply_to: None,
                cancel: None,
            },
        );
        Ok(id)
    }

    /// Ends every session of `profile` (every session for `None`), as logging off does (see
    /// [`Sessions::end`]).
    pub(crate) fn end_all(&mut self, now: Instant, profile: Option<&str>) {
        let ids: Vec<u64> = self
            .calls
            .iter()
            .filter(|(_, c)| profile.is_none_or(|p| c.caller.profile == p))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.core.end(now, id);
        }
    }

    /// An ACK that no transaction absorbed (the ACK for a 2xx); false when it is no session's.
    pub(crate) fn ack(&mut self, now: Instant, ack: &Message) -> bool {
        self.core.ack(now, ack)
    }

    /// How to answer a request with a To tag (see [`InDialog`]).
    pub(crate) fn in_dialog(&mut self, request: &Message) -> InDialog {
        self.core.in_dialog(request)
    }

    /// Runs the session timers due at `now`.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        self.core.handle_timeout(now);
    }

    /// When the session timers next need [`handle_timeout`](Self::handle_timeout).
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.core.poll_timeout()
    }

    /// Carries out what the core asked for; its events go to `events`.
    pub(crate) fn drain(&mut self, events: &mut VecDeque<Event>) {
        while let Some(output) = self.core.poll_output() {
            self.carry_out(output);
        }
        while let Some(e) = self.core.poll_event() {
            events.push_back(e);
        }
        let core = &self.core;
        self.calls.retain(|id, _| core.contains(*id));
    }

    fn carry_out(&mut self, output: Output) {
        match output {
            Output::Respond { id, response } => {
                let sent = self
                    .calls
                    .get(&id)
                    .and_then(|c| c.answers.as_ref())
                    .is_some_and(|a| a.send(response).is_ok());
                if !sent {
                    // Its task ended on a CANCEL, whose report is on its way.
                    debug!("session {id}: the INVITE's transaction is gone");
                }
            }
            Output::Retransmit { id, response } => {
                if let Some(target) = self.calls.get(&id).and_then(|c| c.reply_to.clone()) {
                    self.send_stateless(response, target);
                }
            }
            Output::Ack { id, request } => match self.next_hop(id, &request) {
                Some(target) => self.send_stateless(request, target),
                None => warn!("session {id}: no next hop for the ACK"),
            },
            Output::Request { id, request } if request.method() == Some(Method::Invite) => {
                self.send_invite(id, request);
            }
            Output::Request { id, request } => match self.next_hop(id, &request) {
                Some(target) => {
                    let driver = self.driver.clone();
                    tokio::spawn(async move {
                        let outcome = match driver.request(request, target).await {
                            Ok(txn) => txn.await,
                            Err(e) => Err(e),
                        };
                        match outcome {
                            Ok(r) => debug!("session {id}: BYE answered {:?}", r.status()),
                            Err(e) => debug!("session {id}: BYE: {e}"),
                        }
                    });
                }
                None => warn!("session {id}: no next hop for the BYE"),
            },
            Output::Cancel { id } => {
                if let Some(cancel) = self.calls.get_mut(&id).and_then(|c| c.cancel.take()) {
                    let _ = cancel.send(());
                }
            }
        }
    }

    /// Where an in-dialog request or ACK of session `id` goes: its first Route or its
    /// Request-URI when that is an address, else the outbound proxy.
    fn next_hop(&self, id: u64, request: &Message) -> Option<Target> {
        crate::engine::next_hop(request).or_else(|| self.calls.get(&id)?.caller.outbound.clone())
    }

    fn send_stateless(&self, message: Message, target: Target) {
        let driver = self.driver.clone();
        tokio::spawn(async move {
            if let Err(e) = driver.send_stateless(&message, &target).await {
                debug!("to {target}: {e}");
            }
        });
    }

    /// Runs session `id`'s INVITE in a client transaction held by a task of its own, which
    /// reports every response and CANCELs when asked.
    fn send_invite(&mut self, id: u64, invite: Message) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(target) = call.caller.outbound.clone() else {
            self.core
                .invite_failed(id, 503, Error::NoRegistrar.to_string());
            return;
        };
        let (cancel, cancel_rx) = oneshot::channel();
        call.cancel = Some(cancel);
        let driver = self.driver.clone();
        let reports = self.reports_tx.clone();
        tokio::spawn(calling(id, driver, invite, target, cancel_rx, reports));
    }
}

/// Holds an outgoing INVITE's client transaction: reports its responses (provisional, final,
/// then any further 2xx, RFC 6026 §8.4) and sends a CANCEL when asked before the final one.
async fn calling(
    id: u64,
    driver: Driver,
    invite: Message,
    target: Target,
    mut cancel: oneshot::Receiver<()>,
    reports: mpsc::UnboundedSender<Report>,
) {
    let mut txn = match driver.request(invite, target).await {
        Ok(txn) => txn,
        Err(e) => {
            let _ = reports.send(Report::Failed(id, e));
            return;
        }
    };
    let mut may_cancel = true;
    loop {
        tokio::select! {
            provisional = txn.next_response() => match provisional {
                Some(r) => {
                    let _ = reports.send(Report::Response(id, r));
                }
                None => break,
            },
            asked = &mut cancel, if may_cancel => {
                may_cancel = false;
                if asked.is_ok()
                    && let Err(e) = txn.cancel().await
                {
                    debug!("session {id}: CANCEL: {e}");
                }
            }
        }
    }
    let _ = reports.send(match txn.final_response().await {
        Ok(r) => Report::Response(id, r),
        Err(e) => Report::Failed(id, e),
    });
    while let Some(r) = txn.next_response().await {
        let _ = reports.send(Report::Response(id, r));
    }
}

/// Holds an incoming INVITE's server transaction: sends the responses the core gives until a
/// final one, and reports a CANCEL that comes first. Dropped unanswered, the driver answers
/// 500.
fn spawn_answering(
    id: u64,
    mut txn: ServerTransaction,
    mut answers: mpsc::UnboundedReceiver<Message>,
    reports: mpsc::UnboundedSender<Report>,
) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                biased;
                response = answers.recv() => {
                    let Some(response) = response else { return };
                    let is_final = response.status().is_some_and(|c| c >= 200);
                    if let Err(e) = txn.respond(response).await {
                        debug!("session {id}: {e}");
                        // A CANCEL got the INVITE its 487 before this response, final or
                        // provisional (the 180 queued while the CANCEL was answered).
                        if txn.is_cancelled() {
                            let _ = reports.send(Report::Cancelled(id));
                        }
                        return;
                    }
                    if is_final {
                        return;
                    }
                }
                () = txn.cancelled() => {
                    let _ = reports.send(Report::Cancelled(id));
                    return;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use sip_transport::{Transport, TransportConfig};
    use sip_txn::driver::{DriverConfig, Received};
    use tokio::net::UdpSocket;

    use super::*;

    /// Under load the CANCEL can be answered (200, and 487 for the INVITE) before the task
    /// holding the INVITE sends the 180 already queued for it: that 180 is refused, and the
    /// cancel must still be reported (it once ended the task silently, and the application never
    /// heard that the call was gone).
    #[tokio::test]
    async fn a_cancel_answered_before_the_queued_180_is_reported() {
        let config = TransportConfig {
            udp: vec![([127, 0, 0, 1], 0).into()],
            ..TransportConfig::default()
        };
        let (transport, events) = Transport::bind(config).await.unwrap();
        let to = transport.local_addr(TransportKind::Udp).unwrap();
        let (driver, mut incoming) =
            Driver::start(transport, events, DriverConfig::default()).unwrap();
        let eve = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let me = eve.local_addr().unwrap();
        let request = |method: &str| {
            format!(
                "{method} sip:bob@{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKlate\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:eve@{me}>;tag=e1\r\nTo: <sip:bob@{to}>\r\n\
                 Call-ID: late@{me}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
            )
        };
        eve.send_to(request("INVITE").as_bytes(), to).await.unwrap();
        let Some(Received::Request(invite)) = incoming.recv().await else {
            panic!("no INVITE")
        };
        // The CANCEL is answered, and so is the INVITE (487), before the task runs.
        eve.send_to(request("CANCEL").as_bytes(), to).await.unwrap();
        let mut buf = [0u8; 2048];
        loop {
            let (n, _) = eve.recv_from(&mut buf).await.unwrap();
            let answer = Message::parse_slice(&buf[..n]).unwrap();
            if answer.status() == Some(487) {
                break;
            }
        }
        let ringing = invite
            .transaction
            .response(180, "Ringing")
            .unwrap()
            .try_build()
            .and_then(Message::parse)
            .unwrap();
        let (answers, rx) = mpsc::unbounded_channel();
        answers.send(ringing).unwrap();
        let (reports_tx, mut reports) = mpsc::unbounded_channel();
        spawn_answering(7, invite.transaction, rx, reports_tx);
        let report = tokio::time::timeout(Duration::from_secs(10), reports.recv())
            .await
            .expect("a report");
        assert!(matches!(report, Some(Report::Cancelled(7))), "{report:?}");
        driver.shutdown().await;
    }
}
