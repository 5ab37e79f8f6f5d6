//! The one ordered queue from the driver task to the transaction user ([`IncomingRequests`]):
//! requests, stray ACKs, lost connections, and the final responses of transactions started
//! with [`Driver::request_in_order`](super::Driver::request_in_order), in the order the task
//! handled them, which is the order they arrived on the wire.
//!
//! Requests, ACKs and lost connections are bounded by
//! [`DriverConfig::incoming_queue`](super::DriverConfig::incoming_queue) (a request that does
//! not fit is answered 503). Responses always fit: there are at most as many as the
//! transactions the user started, and dropping one would leave its owner waiting forever.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use super::server::{IncomingRequests, Received};

/// A new queue holding at most `capacity` (≥ 1) items other than responses.
pub(crate) fn inbox(capacity: usize) -> (InboxSender, IncomingRequests) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let sender = InboxSender {
        tx,
        queued: queued.clone(),
        capacity: capacity.max(1),
    };
    (sender, IncomingRequests { rx, queued })
}

/// The driver task's end.
#[derive(Debug)]
pub(crate) struct InboxSender {
    tx: mpsc::UnboundedSender<Received>,
    /// Items other than responses queued and not yet received.
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

impl InboxSender {
    /// Whether one more request (or ACK, or lost connection) would be taken now. The task is
    /// the only sender, so a `true` holds until it sends.
    pub(crate) fn has_room(&self) -> bool {
        !self.tx.is_closed() && self.queued.load(Ordering::Acquire) < self.capacity
    }

    /// Queues a request, ACK or lost connection if there is room; gives it back otherwise.
    pub(crate) fn try_send(&self, item: Received) -> Result<(), Box<Received>> {
        if !self.has_room() {
            return Err(Box::new(item));
        }
        self.queued.fetch_add(1, Ordering::AcqRel);
        self.tx.send(item).map_err(|e| {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            Box::new(e.0)
        })
    }

    /// Queues a [`Received::Response`], whatever the count (module docs).
    pub(crate) fn send_response(&self, item: Received) {
        let _ = self.tx.send(item);
    }
}

/// Counts an item taken off the queue.
pub(crate) fn taken(queued: &AtomicUsize, item: &Received) {
    if !matches!(item, Received::Response { .. }) {
        queued.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::DriverError;
    use sip_parse::Target;

    fn lost() -> Received {
        Received::ConnectionLost {
            target: Target::udp("192.0.2.1:5060".parse().unwrap()),
            reason: "test".into(),
        }
    }

    fn response(token: u64) -> Received {
        Received::Response {
            token,
            outcome: Err(DriverError::Shutdown),
        }
    }

    #[test]
    fn requests_are_bounded_responses_always_fit_and_order_is_kept() {
        let (tx, mut rx) = inbox(2);
        tx.send_response(response(1));
        assert!(tx.try_send(lost()).is_ok());
        tx.send_response(response(2));
        assert!(tx.try_send(lost()).is_ok());
        assert!(!tx.has_room());
        assert!(tx.try_send(lost()).is_err(), "full");
        tx.send_response(response(3));
        let order: Vec<String> = std::iter::from_fn(|| rx.try_recv())
            .map(|r| match r {
                Received::Response { token, .. } => format!("r{token}"),
                _ => "lost".into(),
            })
            .collect();
        assert_eq!(order, ["r1", "lost", "r2", "lost", "r3"]);
        // Taken off the queue: room again.
        assert!(tx.has_room());
        drop(rx);
        assert!(!tx.has_room(), "nobody reads");
    }
}
