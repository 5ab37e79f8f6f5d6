//! What people read: the states and causes of this crate in words, for applications that show
//! them (no Rust names such as `Terminated(Deactivated)` reach a user).
//!
//! ```
//! use presence::subscriber::{RetryCause, TerminatedReason};
//! use presence::WatcherState;
//!
//! let cause = RetryCause::Terminated(TerminatedReason::Deactivated);
//! assert_eq!(cause.to_string(), "ended by the notifier: deactivated");
//! assert_eq!(WatcherState::Offering.to_string(), "offering");
//! ```

use std::fmt;

use crate::Failure;
use crate::WatcherState;
use crate::subscriber::{RetryCause, StopCause, TerminatedReason};

impl fmt::Display for WatcherState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reason a notifier gave (RFC 6665 §4.1.3), as it gave it where it is known.
impl fmt::Display for TerminatedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TerminatedReason::Deactivated => "deactivated",
            TerminatedReason::Probation => "probation",
            TerminatedReason::Rejected => "rejected",
            TerminatedReason::Timeout => "timeout",
            TerminatedReason::Giveup => "giveup",
            TerminatedReason::NoResource => "noresource",
            TerminatedReason::Invariant => "invariant",
            TerminatedReason::Other(Some(reason)) => reason,
            TerminatedReason::Other(None) => "no reason given",
        })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status(code) => match phrase(*code) {
                Some(phrase) => write!(f, "answered {code} {phrase}"),
                None => write!(f, "answered {code}"),
            },
            Failure::NoResponse => f.write_str("unanswered"),
        }
    }
}

/// The reason phrase RFC 3261 §21 (and RFC 6665) gives the codes a SUBSCRIBE commonly gets.
fn phrase(code: u16) -> Option<&'static str> {
    Some(match code {
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        486 => "Busy Here",
        489 => "Bad Event",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        _ => return None,
    })
}

impl fmt::Display for RetryCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryCause::Terminated(reason) => write!(f, "ended by the notifier: {reason}"),
            RetryCause::Failed(failure) => write!(f, "SUBSCRIBE {failure}"),
            RetryCause::NoNotify => f.write_str("no NOTIFY after the 2xx"),
            RetryCause::Expired => f.write_str("expired before a refresh succeeded"),
            RetryCause::LocalError => f.write_str("the request could not be built"),
        }
    }
}

impl fmt::Display for StopCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopCause::Terminated(reason) => write!(f, "ended by the notifier: {reason}"),
            StopCause::Refused(code) => write!(f, "SUBSCRIBE {}", Failure::Status(*code)),
            StopCause::Unsubscribed => f.write_str("unsubscribed"),
            StopCause::Fetched => f.write_str("polled"),
            StopCause::FetchFailed(cause) => write!(f, "poll failed: {cause}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_read_as_words() {
        let words = [
            RetryCause::Failed(Failure::Status(480)).to_string(),
            RetryCause::Failed(Failure::NoResponse).to_string(),
            RetryCause::Terminated(TerminatedReason::Other(None)).to_string(),
            StopCause::FetchFailed(RetryCause::NoNotify).to_string(),
            StopCause::Terminated(TerminatedReason::Other(Some("moved".into()))).to_string(),
            StopCause::Refused(403).to_string(),
        ];
        assert_eq!(
            words,
            [
                "SUBSCRIBE answered 480 Temporarily Unavailable",
                "SUBSCRIBE unanswered",
                "ended by the notifier: no reason given",
                "poll failed: no NOTIFY after the 2xx",
                "ended by the notifier: moved",
                "SUBSCRIBE answered 403 Forbidden",
            ]
        );
    }
}
