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
