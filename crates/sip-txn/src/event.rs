//! What the transaction layer reports to its user (the transaction user, RFC 3261 §17).

use sip_parse::Message;

use crate::{ClientKey, ServerKey, Target, TransactionKey};

/// Something that happened, from [`TransactionLayer::poll_event`](crate::TransactionLayer::poll_event).
#[derive(Debug, Clone)]
pub enum Event {
    /// A response for a client transaction: every provisional, the first final one, and for an
    /// INVITE every 2xx (RFC 6026 §8.4: retransmitted or forked 2xx are passed up in Accepted).
    Response {
        /// The client transaction.
        key: ClientKey,
        /// The response.
        response: Message,
    },
    /// A new request: a server transaction now waits for the user's responses
    /// ([`send_response`](crate::TransactionLayer::send_response)). An INVITE has already been
    /// answered with 100 Trying (§17.2.1).
    Request {
        /// The new server transaction.
        key: ServerKey,
        /// The request.
        request: Message,
        /// Where it came from; responses go back there.
        source: Target,
    },
    /// A CANCEL matching a live INVITE server transaction (§9.2). The CANCEL has a server
    /// transaction of its own: answer it (200), and answer the INVITE (487) if it has no final
    /// response yet. A CANCEL that matches nothing is answered 481 by the layer.
    Cancel {
        /// The CANCEL's own server transaction.
        key: ServerKey,
        /// The INVITE server transaction it cancels.
        invite: ServerKey,
        /// The CANCEL request.
        request: Message,
    },
    /// An ACK that no transaction absorbs: the ACK for a 2xx (§13.3.1.4, RFC 6026 §8.7), or one
    /// matching nothing. It belongs to the dialog.
    Ack {
        /// The ACK request.
        request: Message,
        /// Where it came from.
        source: Target,
    },
    /// A transaction ended and its key is no longer valid.
    Terminated {
        /// The transaction.
        key: TransactionKey,
        /// Why.
        reason: TerminationReason,
    },
}

/// Why a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TerminationReason {
    /// It ran to completion (timers D, I, J, K, L, M, or a reliable transport's zero wait).
    Normal,
    /// No response in time: timer B or F (client), no ACK in time: timer H (server).
    Timeout,
    /// The transport reported a failure (§17.1.4, §17.2.4).
    TransportError,
}
