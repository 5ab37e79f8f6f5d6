//! The one error type of the crate.

use sip_parse::ParseError;

/// What went wrong in a command or a helper. Timeouts and transport failures of a transaction
/// are not errors: they surface as [`Event::Terminated`](crate::Event::Terminated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A message (given by the caller or received) failed to parse where it was needed.
    #[error("malformed message: {0}")]
    Parse(#[from] ParseError),
    /// `send_request` was given a response, or `send_response` a request.
    #[error("expected a {0}")]
    WrongMessageKind(&'static str),
    /// The request's top Via has no RFC 3261 branch (`z9hG4bK…`, §8.1.1.7); use
    /// [`new_branch`](crate::new_branch).
    #[error("the top Via has no RFC 3261 branch")]
    MissingBranch,
    /// ACK is not sent through a client transaction (§17.1.1.3 and §13.2.2.4): send it directly.
    #[error("ACK is never sent in a transaction of its own")]
    AckNotATransaction,
    /// A client transaction with the same branch and method already exists (§17.1.3).
    #[error("a transaction with this branch and method already exists")]
    DuplicateTransaction,
    /// The key names no live transaction (it terminated or never existed).
    #[error("no such transaction")]
    UnknownTransaction,
    /// The command does not fit the transaction's kind or state (e.g. a response after the final
    /// one, a CANCEL for a non-INVITE, a provisional response after a 2xx).
    #[error("not allowed now: {0}")]
    InvalidState(&'static str),
    /// An in-dialog request's CSeq is lower than the last one (§12.2.2): answer it with 500.
    #[error("CSeq {got} is lower than the dialog's remote CSeq {expected_above}")]
    CSeqOutOfOrder {
        /// The CSeq number of the request.
        got: u32,
        /// The highest CSeq number seen so far from the peer.
        expected_above: u32,
    },
    /// The message does not belong to this dialog (Call-ID or tags differ).
    #[error("the message does not belong to this dialog")]
    DialogMismatch,
    /// The response cannot create a dialog (§12.1: no To tag, not a 2xx/1xx, no Contact …).
    #[error("cannot create a dialog: {0}")]
    NoDialog(&'static str),
    /// No Digest challenge this client supports (algorithm, qop or scheme).
    #[error("no supported digest challenge")]
    NoSupportedChallenge,
    /// No credentials are known for the challenge's realm.
    #[error("no credentials for realm {0:?}")]
    NoCredentials(String),
    /// The server challenged again without `stale=true` after credentials for this realm were
    /// sent: they are wrong. Retrying would loop.
    #[error("credentials for realm {0:?} were rejected")]
    CredentialsRejected(String),
    /// 2³² transactions are live at once, more than the table can name (and than any memory
    /// holds): the request is refused.
    #[error("too many live transactions")]
    TooManyTransactions,
    /// The operating system's random source failed (branches, tags, cnonces).
    #[error("random source failed")]
    Random,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
