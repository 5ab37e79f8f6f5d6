//! What can go wrong when driving transactions over a real transport.

use sip_parse::Target;

use crate::TransportKind;

/// Why a driver call failed, or how a client transaction ended without a final response.
///
/// The sans-IO core reports timeouts and transport failures as
/// [`Event::Terminated`](crate::Event::Terminated); the driver turns them into these values for
/// the caller awaiting a [`ClientTransaction`](super::ClientTransaction).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The transaction layer refused the command (no branch, a duplicate, a response after the
    /// final one, …).
    #[error(transparent)]
    Txn(#[from] crate::Error),
    /// No final response came before timer B or F (64·T1, RFC 3261 §17.1.1.2 and §17.1.2.2).
    #[error("no final response from {target} within 64*T1")]
    Timeout {
        /// Where the request went.
        target: Target,
    },
    /// The transport failed: the connection broke or could not be made, or a datagram could not
    /// be sent (RFC 3261 §17.1.4, §18.4).
    #[error("transport to {target} failed: {reason}")]
    Transport {
        /// The peer.
        target: Target,
        /// What the transport reported.
        reason: String,
        /// Its kind: a certificate to fix, nothing listening, a broken connection…
        cause: sip_transport::Cause,
    },
    /// No listener of this transport is bound, so there is no address for a Via or Contact.
    #[error("no {0} listener is bound")]
    NotListening(TransportKind),
    /// The listener is bound to an unspecified address (`0.0.0.0`, `::`): name the host to put
    /// in Via and Contact with [`DriverConfig::sent_by_host`](super::DriverConfig::sent_by_host).
    #[error("the {0} listener is bound to an unspecified address; set DriverConfig::sent_by_host")]
    UnspecifiedAddress(TransportKind),
    /// The driver was started outside a tokio runtime.
    #[error("the driver must be started inside a tokio runtime")]
    NoRuntime,
    /// The driver has shut down (or its task ended): nothing more is sent or received.
    #[error("the driver has shut down")]
    Shutdown,
}
