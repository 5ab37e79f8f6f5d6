//! The crate's one error type.

use sip_parse::TransportKind;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A request had to go over a transport the client does not listen on.
    #[error("the client has no {0} listener")]
    NoLocalTransport(TransportKind),
    /// There is no server to send to (an empty target list).
    #[error("no server to send to")]
    NoTarget,
    /// A message could not be built or parsed.
    #[error(transparent)]
    Parse(#[from] sip_parse::ParseError),
    /// The transaction layer refused a request or response.
    #[error(transparent)]
    Transaction(#[from] sip_txn::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
