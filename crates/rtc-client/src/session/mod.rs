//! Sessions (`IRTCSession`), signalling only: the application brings and receives the SDP; the
//! client keeps the INVITE dialog correct.
//!
//! [`machine`] is the sans-IO core of both sides (RFC 3261 §13–§15, RFC 6026): the callee's 2xx
//! retransmitted until the ACK, BYE when none comes in 64·T1, 480 for an invitation nobody
//! answered, CANCEL reported; the caller's ACK for every 2xx, CANCEL before the answer, BYE
//! after it; 481 for a request in no dialog. [`driver`] carries its outputs out through the
//! `sip-txn` driver, and is all the engine talks to.

mod driver;
mod machine;

use std::fmt;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::Result;

pub(crate) use driver::{Caller, Report, SessionDriver};
pub(crate) use machine::InDialog;

/// How long an incoming invitation waits for the application before it is answered 480
/// (RFC 3261 §21.4.18), by default: three minutes, as a proxy's timer C would allow.
pub const DEFAULT_INVITE_EXPIRY: std::time::Duration = std::time::Duration::from_secs(180);

/// Why a session ended, in [`Event::SessionEnded`](crate::Event::SessionEnded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionEnd {
    /// We hung up ([`Client::hang_up`](crate::Client::hang_up)): BYE sent.
    HungUp,
    /// The peer hung up: its BYE arrived.
    PeerHungUp,
    /// We answered but the caller never acknowledged it (no ACK in 64·T1, RFC 3261
    /// §13.3.1.4): BYE sent.
    NoAck,
    /// Nobody answered the invitation in time: answered 480 Temporarily Unavailable.
    Expired,
    /// Our call was cancelled before the answer ([`Client::cancel`](crate::Client::cancel)).
    Cancelled,
}

impl SessionEnd {
    /// In words, as the `rtc` tool prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionEnd::HungUp => "hung up",
            SessionEnd::PeerHungUp => "hung up by the peer",
            SessionEnd::NoAck => "never acknowledged by the caller, hung up",
            SessionEnd::Expired => "not answered in time",
            SessionEnd::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session request from a [`Client`](crate::Client) handle.
#[derive(Debug)]
pub(crate) enum SessionCommand {
    /// Call `to`, offering `sdp`.
    Invite {
        to: String,
        sdp: Option<Bytes>,
        reply: oneshot::Sender<Result<u64>>,
    },
    /// Answer an incoming invitation: accepted with `sdp` (`None`: every offered stream
    /// declined), or declined.
    Answer {
        id: u64,
        accept: bool,
        sdp: Option<Bytes>,
        reply: oneshot::Sender<Result<()>>,
    },
    /// Cancel our call before it is answered.
    Cancel {
        id: u64,
        reply: oneshot::Sender<Result<()>>,
    },
    /// End an answered session.
    HangUp {
        id: u64,
        reply: oneshot::Sender<Result<()>>,
    },
}

#[cfg(test)]
mod tests;
