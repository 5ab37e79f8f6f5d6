//! Test doubles for the subscription cores (feature `testkit`): the far end of a subscription
//! dialog, built with `sip_txn::Dialog` as a real peer would, and a simulated clock's origin.
//! Tests hand messages between a core and these doubles by hand, so every step is visible and
//! time only moves when the test says.

use std::time::Instant;

use sip_parse::{Message, MessageBuilder, Method, TransportKind};
use sip_txn::dialog::Dialog;

use crate::local::LocalIdentity;
use crate::{LocalPresence, MediaKind, Status};

/// An arbitrary origin for simulated time: only offsets from it matter.
#[allow(clippy::disallowed_methods)] // reason: the simulated clock needs some Instant to start at
pub fn epoch() -> Instant {
    Instant::now()
}

/// `sip:{user}@example.com`, reachable at 192.0.2.1 over UDP.
pub fn identity(user: &str) -> LocalIdentity {
    LocalIdentity::new(
        &format!("sip:{user}@example.com"),
        &format!("sip:{user}@192.0.2.1"),
        TransportKind::Udp,
        "192.0.2.1:5060",
    )
    .unwrap_or_else(|e| panic!("testkit identity: {e}"))
}

/// A response to `request` with `extra` headers (To tagged with `to_tag` when it has none).
pub fn respond(
    request: &Message,
    code: u16,
    to_tag: Option<&str>,
    extra: &[(&str, &str)],
) -> Message {
    let mut b = MessageBuilder::response_to(request, code, "Test", to_tag)
        .unwrap_or_else(|e| panic!("testkit response: {e}"));
    for (name, value) in extra {
        b = b
            .header(name, value)
            .unwrap_or_else(|e| panic!("testkit header {name}: {e}"));
    }
    parse(b)
}

/// `request` sent again as a client answering a 401/407 does (RFC 3261 §22.2): CSeq number
/// `cseq` (from the core's `next_cseq`), a new branch, and a stand-in credential. The core keeps
/// the request's handle.
pub fn resubmitted(request: &Message, cseq: u32) -> Message {
    let old = request
        .cseq()
        .unwrap_or_else(|e| panic!("testkit resubmission: {e}"));
    let text = String::from_utf8_lossy(request.as_bytes())
        .replacen(
            &format!("CSeq: {} ", old.seq),
            &format!("Proxy-Authorization: Digest username=\"t\"\r\nCSeq: {cseq} "),
            1,
        )
        .replacen(";branch=z9hG4bK", ";branch=z9hG4bKagain", 1);
    Message::parse(text.into_bytes().into())
        .unwrap_or_else(|e| panic!("testkit resubmission does not parse: {e}"))
}

/// A presence body for `entity` in `kind`: (content type, body).
pub fn body(
    entity: &str,
    status: Status,
    note: Option<&str>,
    kind: MediaKind,
) -> (&'static str, bytes::Bytes) {
    LocalPresence::new(status, note).to_body(entity, kind)
}

fn parse(b: MessageBuilder) -> Message {
    let wire = b
        .try_build()
        .unwrap_or_else(|e| panic!("testkit message does not build: {e}"));
    Message::parse(wire).unwrap_or_else(|e| panic!("testkit message does not parse: {e}"))
}

/// The notifier's end of a subscription dialog (a presence server or a buddy's client).
#[derive(Debug)]
pub struct NotifierPeer {
    dialog: Dialog,
    tag: String,
}

impl NotifierPeer {
    /// Takes the dialog of `subscribe` with local tag `tag` (RFC 3261 §12.1.1).
    pub fn new(subscribe: &Message, tag: &str) -> Self {
        let dialog =
            Dialog::uas(subscribe, tag).unwrap_or_else(|e| panic!("testkit UAS dialog: {e}"));
        Self {
            dialog,
            tag: tag.to_owned(),
        }
    }

    /// A response to a SUBSCRIBE of this dialog: tagged, with Contact, and Expires when given.
    pub fn answer(&self, subscribe: &Message, code: u16, expires: Option<u32>) -> Message {
        let e = expires.map(|e| e.to_string());
        let mut extra = vec![("Contact", "<sip:ps@192.0.2.9>")];
        if let Some(e) = &e {
            extra.push(("Expires", e));
        }
        respond(subscribe, code, Some(&self.tag), &extra)
    }

    /// Takes an in-dialog SUBSCRIBE (refresh or unsubscribe): checks and advances the CSeq.
    pub fn receive(&mut self, subscribe: &Message) {
        self.dialog
            .check_request(subscribe)
            .unwrap_or_else(|e| panic!("testkit: in-dialog SUBSCRIBE refused: {e}"));
    }

    /// A NOTIFY in the dialog with `Subscription-State: {state}` and an optional body.
    pub fn notify(&mut self, state: &str, body: Option<(&str, bytes::Bytes)>) -> Message {
        let b = self
            .dialog
            .request(
                Method::Notify,
                "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKtestkit",
            )
            .and_then(|b| Ok(b.header("Contact", "<sip:ps@192.0.2.9>")?))
            .and_then(|b| Ok(b.header("Event", "presence")?))
            .and_then(|b| Ok(b.header("Subscription-State", state)?))
            .unwrap_or_else(|e| panic!("testkit NOTIFY: {e}"));
        let b = match body {
            Some((t, body)) => b
                .body(t, body)
                .unwrap_or_else(|e| panic!("testkit NOTIFY body: {e}")),
            None => b,
        };
        parse(b)
    }
}

/// The subscriber's end: a watcher subscribing to our presence (or to our watcherinfo).
#[derive(Debug)]
pub struct WatcherPeer {
    uri: String,
    presentity: String,
    tag: String,
    call_id: String,
    cseq: u32,
    dialog: Option<Dialog>,
    /// The last SUBSCRIBE sent, to create the dialog from its 2xx.
    last: Option<Message>,
}

impl WatcherPeer {
    /// A watcher `uri` about to subscribe to `presentity`.
    pub fn new(uri: &str, presentity: &str, tag: &str) -> Self {
        Self {
            uri: uri.to_owned(),
            presentity: presentity.to_owned(),
            tag: tag.to_owned(),
            call_id: format!("{tag}@192.0.2.7"),
            cseq: 0,
            dialog: None,
            last: None,
        }
    }

    /// A SUBSCRIBE for `event` (in the dialog once one exists), with `Accept` when given.
    pub fn subscribe(&mut self, event: &str, accept: Option<&str>, expires: u32) -> Message {
        let via = "SIP/2.0/UDP 192.0.2.7;branch=z9hG4bKwatcher";
        let b = match &mut self.dialog {
            Some(d) => d
                .request(Method::Subscribe, via)
                .unwrap_or_else(|e| panic!("testkit refresh: {e}")),
            None => {
                self.cseq += 1;
                MessageBuilder::request(Method::Subscribe, &self.presentity)
                    .header("Via", via)
                    .and_then(|b| b.header("Max-Forwards", "70"))
                    .and_then(|b| b.header("From", &format!("<{}>;tag={}", self.uri, self.tag)))
                    .and_then(|b| b.header("To", &format!("<{}>", self.presentity)))
                    .and_then(|b| b.header("Call-ID", &self.call_id))
                    .and_then(|b| b.header("CSeq", &format!("{} SUBSCRIBE", self.cseq)))
                    .unwrap_or_else(|e| panic!("testkit SUBSCRIBE: {e}"))
            }
        };
        let mut b = b
            .header("Contact", "<sip:watcher@192.0.2.7>")
            .and_then(|b| b.header("Event", event))
            .and_then(|b| b.header("Expires", &expires.to_string()))
            .unwrap_or_else(|e| panic!("testkit SUBSCRIBE: {e}"));
        if let Some(a) = accept {
            b = b
                .header("Accept", a)
                .unwrap_or_else(|e| panic!("testkit Accept: {e}"));
        }
        let m = parse(b);
        self.last = Some(m.clone());
        m
    }

    /// The final response to the last SUBSCRIBE: a 2xx creates the dialog.
    pub fn response(&mut self, response: &Message) {
        if self.dialog.is_none()
            && response.status().is_some_and(|c| (200..300).contains(&c))
            && let Some(sub) = &self.last
        {
            self.dialog =
                Some(Dialog::uac(sub, response).unwrap_or_else(|e| panic!("testkit dialog: {e}")));
        }
    }

    /// Answers a NOTIFY with `code` after checking it belongs to the dialog.
    pub fn answer(&mut self, notify: &Message, code: u16) -> Message {
        if let Some(d) = &mut self.dialog {
            d.check_request(notify)
                .unwrap_or_else(|e| panic!("testkit: NOTIFY outside the dialog: {e}"));
        }
        respond(notify, code, None, &[])
    }
}
