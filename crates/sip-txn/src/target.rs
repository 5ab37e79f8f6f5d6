//! What the core asks the driver to send. [`Target`] comes from `sip-parse`.

use bytes::Bytes;
use sip_parse::Target;

/// A message to send, from [`TransactionLayer::poll_transmit`](crate::TransactionLayer::poll_transmit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The whole message, ready for the wire.
    pub payload: Bytes,
    /// Where to send it.
    pub target: Target,
    /// Whether the transport is reliable (a stream: frame it, expect no retransmission).
    pub reliable: bool,
}
