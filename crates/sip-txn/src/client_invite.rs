//! The INVITE client transaction (RFC 3261 §17.1.1, Figure 5, with RFC 6026's Accepted state),
//! and the requests it builds: the ACK for a non-2xx final response (§17.1.1.3) and CANCEL (§9.1).

use bytes::Bytes;
use sip_parse::{ErrorKind, HeaderName, Message, MessageBuilder, Method, ParseError};

use crate::transaction::{Core, Ctx, Step};
use crate::{Error, Result, TerminationReason, Timer};

/// States of Figure 5 (RFC 6026 Figure 3); Terminated is the transaction's removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Calling,
    Proceeding,
    Completed,
    /// RFC 6026 §8.4: after a 2xx, absorb nothing, pass every 2xx up until timer M.
    Accepted,
}

#[derive(Debug)]
pub(crate) struct ClientInvite {
    pub(crate) state: State,
    /// A CANCEL asked for before any provisional response: §9.1 says to wait for one.
    pub(crate) held_cancel: Option<u64>,
}

impl ClientInvite {
    /// §17.1.1.2: send the INVITE, start timers A (unreliable only) and B.
    pub(crate) fn start(core: &mut Core, ctx: &mut Ctx<'_>) -> Self {
        core.transmit(ctx);
        core.arm(ctx, Timer::A);
        core.arm(ctx, Timer::B);
        Self {
            state: State::Calling,
            held_cancel: None,
        }
    }

    pub(crate) fn on_response(&mut self, core: &mut Core, ctx: &mut Ctx<'_>, rsp: Message) -> Step {
        let Some(code) = rsp.status() else {
            return Step::Stay;
        };
        match (self.state, code) {
            (State::Calling | State::Proceeding, 100..=199) => {
                // §17.1.1.2: no more retransmissions; timer B only guards Calling. Timer C (§16.6)
                // keeps a peer that sends only provisionals from holding the transaction forever.
                core.stop_timers();
                self.state = State::Proceeding;
                core.arm(ctx, Timer::C);
                ctx.response_event(rsp);
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                core.stop_timers();
                self.state = State::Accepted;
                core.arm(ctx, Timer::M);
                ctx.response_event(rsp);
            }
            (State::Calling | State::Proceeding, _) => {
                core.stop_timers();
                match build_ack(&core.request, &rsp) {
                    Ok(ack) => core.send(ctx, ack),
                    // A response we cannot build an ACK from is still the final answer.
                    Err(e) => tracing::debug!("cannot build ACK: {e}"),
                }
                self.state = State::Completed;
                core.arm(ctx, Timer::D);
                ctx.response_event(rsp);
            }
            // §17.1.1.2: a retransmitted final response gets the ACK again, and stays here.
            (State::Completed, 300..) => core.transmit(ctx),
            // RFC 6026 §8.4: every 2xx in Accepted goes to the user (it sends the ACK).
            (State::Accepted, 200..=299) => ctx.response_event(rsp),
            _ => {}
        }
        Step::Stay
    }

    pub(crate) fn on_timer(&mut self, core: &mut Core, ctx: &mut Ctx<'_>, timer: Timer) -> Step {
        match (self.state, timer) {
            (State::Calling, Timer::A) => {
                let next = core.next_interval(ctx, Timer::A);
                core.retransmit(ctx, Timer::A, next);
                Step::Stay
            }
            (State::Calling, Timer::B) | (State::Proceeding, Timer::C) => {
                Step::Terminate(TerminationReason::Timeout)
            }
            (State::Completed, Timer::D) | (State::Accepted, Timer::M) => {
                Step::Terminate(TerminationReason::Normal)
            }
            _ => Step::Stay,
        }
    }
}

fn raw(msg: &Message, name: HeaderName) -> Result<&str> {
    msg.header(name)
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .ok_or(Error::Parse(ParseError::new(
            ErrorKind::MissingHeader(name),
            0,
        )))
}

/// The top Via entry as written (the first element of the first Via header).
fn top_via(msg: &Message) -> Result<&str> {
    msg.list(HeaderName::Via)
        .next()
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .map(str::trim)
        .ok_or(Error::Parse(ParseError::new(
            ErrorKind::MissingHeader(HeaderName::Via),
            0,
        )))
}

/// Starts a request that shares the INVITE's Request-URI, top Via, Route set, From, Call-ID and
/// CSeq number, with `method` (ACK §17.1.1.3, CANCEL §9.1).
fn sibling(invite: &Message, method: Method<'_>) -> Result<MessageBuilder> {
    let uri = invite
        .request_uri()
        .ok_or(Error::WrongMessageKind("request"))?;
    let mut b = MessageBuilder::request(method, uri).header("Via", top_via(invite)?)?;
    for route in invite.headers_named(HeaderName::Route) {
        if let Ok(v) = std::str::from_utf8(route.value) {
            b = b.header("Route", v)?;
        }
    }
    let seq = invite.cseq()?.seq;
    Ok(b.header("Max-Forwards", "70")?
        .header("From", raw(invite, HeaderName::From)?)?
        .header("Call-ID", raw(invite, HeaderName::CallId)?)?
        .header("CSeq", &format!("{seq} {method}"))?)
}

/// §17.1.1.3: the ACK for a non-2xx final response: To from the response (with its tag), the
/// rest from the INVITE.
pub(crate) fn build_ack(invite: &Message, response: &Message) -> Result<Bytes> {
    Ok(sibling(invite, Method::Ack)?
        .header("To", raw(response, HeaderName::To)?)?
        .try_build()?)
}

/// §9.1: the CANCEL for an INVITE: To from the INVITE, same branch, Route and CSeq number.
pub(crate) fn build_cancel(invite: &Message) -> Result<Bytes> {
    Ok(sibling(invite, Method::Cancel)?
        .header("To", raw(invite, HeaderName::To)?)?
        .try_build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invite() -> Message {
        Message::parse(Bytes::from_static(
            b"INVITE sip:bob@b.example SIP/2.0\r\n\
              Via: SIP/2.0/UDP a.example;branch=z9hG4bKabc, SIP/2.0/UDP proxy.example;branch=z9hG4bKp\r\n\
              Route: <sip:p1.example;lr>\r\nRoute: <sip:p2.example;lr>\r\n\
              From: <sip:alice@a.example>;tag=f1\r\nTo: <sip:bob@b.example>\r\n\
              Call-ID: call1\r\nCSeq: 42 INVITE\r\nMax-Forwards: 70\r\n\
              Content-Type: application/sdp\r\nContent-Length: 3\r\n\r\nv=0",
        ))
        .unwrap()
    }

    #[test]
    fn ack_for_non_2xx_follows_17_1_1_3() {
        let inv = invite();
        let rsp = MessageBuilder::response_to(&inv, 404, "Not Found", Some("t9"))
            .unwrap()
            .build();
        let ack = Message::parse(build_ack(&inv, &Message::parse(rsp).unwrap()).unwrap()).unwrap();
        assert_eq!(ack.method(), Some(Method::Ack));
        assert_eq!(ack.request_uri(), Some("sip:bob@b.example"));
        // Only the top Via, the INVITE's Routes, the response's To (with tag).
        assert_eq!(ack.vias().count(), 1);
        assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKabc"));
        assert_eq!(ack.routes().count(), 2);
        assert_eq!(ack.to_header().unwrap().tag(), Some("t9"));
        assert_eq!(ack.from_header().unwrap().tag(), Some("f1"));
        assert_eq!(ack.cseq().unwrap().seq, 42);
        assert!(ack.body().is_empty());
        ack.validate().unwrap();
    }

    #[test]
    fn cancel_follows_9_1() {
        let c = Message::parse(build_cancel(&invite()).unwrap()).unwrap();
        assert_eq!(c.method(), Some(Method::Cancel));
        assert_eq!(c.top_via().unwrap().branch(), Some("z9hG4bKabc"));
        assert_eq!(c.vias().count(), 1);
        assert_eq!(c.to_header().unwrap().tag(), None);
        assert_eq!(c.cseq().unwrap().seq, 42);
        assert_eq!(c.cseq().unwrap().method, Method::Cancel);
        assert_eq!(c.routes().count(), 2);
        c.validate().unwrap();
    }
}
