//! The one channel between the driver task and a [`ClientTransaction`](super::ClientTransaction):
//! first the transaction's key (or why the layer refused it), then its responses in order.
//!
//! It replaces a oneshot for the key and an unbounded mpsc for the responses: one allocation
//! per transaction instead of three (the mpsc's shared state and its first 32-slot block, the
//! oneshot's), and the queue holds only what was sent: the first update inline.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::DriverError;
use super::client::Update;
use crate::ClientKey;

#[derive(Debug, Default)]
struct State {
    /// Set once by the task; taken by [`UpdateReceiver::started`].
    started: Option<Result<ClientKey, DriverError>>,
    /// The oldest update, kept inline: most transactions get one (the final response), so
    /// `rest` never allocates for them.
    first: Option<Update>,
    /// Later updates, in order.
    rest: VecDeque<Update>,
    /// The sender is gone: nothing more will come.
    closed: bool,
    /// The receiver is gone: what is sent is dropped, so nothing piles up.
    abandoned: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// One waiter at most (the receiver): `notify_one` keeps a permit if it is not waiting yet.
    ready: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent state (every update is one push).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A new channel.
pub(crate) fn channel() -> (UpdateSender, UpdateReceiver) {
    let shared = Arc::new(Shared::default());
    (UpdateSender(shared.clone()), UpdateReceiver(shared))
}

/// The driver task's end. Dropping it closes the channel.
#[derive(Debug)]
pub(crate) struct UpdateSender(Arc<Shared>);

impl UpdateSender {
    /// Tells the caller of `request`/`cancel` the transaction's key, or why there is none.
    pub(crate) fn start(&self, key: Result<ClientKey, DriverError>) {
        self.0.lock().started = Some(key);
        self.0.ready.notify_one();
    }

    /// Queues an update, unless the receiver is gone.
    pub(crate) fn send(&self, update: Update) {
        {
            let mut state = self.0.lock();
            if state.abandoned {
                return;
            }
            if state.first.is_none() && state.rest.is_empty() {
                state.first = Some(update);
            } else {
                state.rest.push_back(update);
            }
        }
        self.0.ready.notify_one();
    }
}

impl Drop for UpdateSender {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.ready.notify_one();
    }
}

/// The [`ClientTransaction`](super::ClientTransaction)'s end.
#[derive(Debug)]
pub(crate) struct UpdateReceiver(Arc<Shared>);

impl UpdateReceiver {
    /// The key, once the task has started the transaction; `Err(Shutdown)` if the task dropped
    /// the request unanswered.
    pub(crate) async fn started(&mut self) -> Result<ClientKey, DriverError> {
        loop {
            {
                let mut state = self.0.lock();
                if let Some(key) = state.started.take() {
                    return key;
                }
                if state.closed {
                    return Err(DriverError::Shutdown);
                }
            }
            self.0.ready.notified().await;
        }
    }

    /// The next update; `None` once the sender is gone and the queue is empty.
    pub(crate) async fn recv(&mut self) -> Option<Update> {
        loop {
            {
                let mut state = self.0.lock();
                if let Some(update) = state.first.take().or_else(|| state.rest.pop_front()) {
                    return Some(update);
                }
                if state.closed {
                    return None;
                }
            }
            self.0.ready.notified().await;
        }
    }
}

impl Drop for UpdateReceiver {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.abandoned = true;
        state.first = None;
        state.rest.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::DriverError;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn updates_arrive_in_order_then_none_once_closed() {
        block_on(async {
            let (tx, mut rx) = channel();
            let task = tokio::spawn(async move {
                tx.start(Err(DriverError::Shutdown));
                tokio::task::yield_now().await;
                tx.send(Update::Final(Err(DriverError::Shutdown)));
                tx.send(Update::Final(Err(DriverError::NoRuntime)));
                tokio::task::yield_now().await;
                tx.send(Update::Final(Err(DriverError::Shutdown)));
            });
            assert_eq!(rx.started().await, Err(DriverError::Shutdown));
            assert!(matches!(
                rx.recv().await,
                Some(Update::Final(Err(DriverError::Shutdown)))
            ));
            assert!(matches!(
                rx.recv().await,
                Some(Update::Final(Err(DriverError::NoRuntime)))
            ));
            assert!(matches!(
                rx.recv().await,
                Some(Update::Final(Err(DriverError::Shutdown)))
            ));
            task.await.unwrap();
            assert!(rx.recv().await.is_none());
        });
    }

    #[test]
    fn a_sender_dropped_before_starting_means_shutdown() {
        block_on(async {
            let (tx, mut rx) = channel();
            drop(tx);
            assert_eq!(rx.started().await, Err(DriverError::Shutdown));
            assert!(rx.recv().await.is_none());
        });
    }

    #[test]
    fn nothing_is_kept_for_a_receiver_that_is_gone() {
        let (tx, rx) = channel();
        tx.send(Update::Final(Err(DriverError::Shutdown)));
        drop(rx);
        tx.send(Update::Final(Err(DriverError::Shutdown)));
        let state = tx.0.lock();
        assert!(state.first.is_none() && state.rest.is_empty());
    }
}
