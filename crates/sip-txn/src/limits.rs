//! How many transactions a layer keeps at once, so its state is bounded by a budget rather than
//! by the request rate.

/// Caps on live transactions of a [`TransactionLayer`](crate::TransactionLayer).
///
/// Over [`max_server`](Self::max_server), a new request is answered statelessly with
/// `503 Service Unavailable` and `Retry-After` (RFC 3261 §21.5.4) and leaves no state; over
/// [`max_client`](Self::max_client), [`send_request`](crate::TransactionLayer::send_request)
/// fails with [`Error::TooManyTransactions`](crate::Error::TooManyTransactions). Transactions
/// already running are never dropped. A non-INVITE server transaction lives 32 s after its
/// answer over UDP (timer J), so the default server cap admits about 1,000 requests a second
/// sustained, for a few tens of megabytes of state.
///
/// ```
/// use sip_txn::{Limits, TimerConfig, TransactionLayer};
/// let layer = TransactionLayer::with_limits(TimerConfig::default(), Limits {
///     max_server: 1000,
///     ..Limits::default()
/// });
/// assert_eq!(layer.limits().max_server, 1000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most live server transactions. Default 32,768.
    pub max_server: usize,
    /// Most live client transactions (a CANCEL of a live INVITE is always allowed). Default
    /// 32,768.
    pub max_client: usize,
    /// Seconds in the `Retry-After` of the 503 sent over [`max_server`](Self::max_server).
    /// Default 5.
    pub retry_after: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_server: 32_768,
            max_client: 32_768,
            retry_after: 5,
        }
    }
}
