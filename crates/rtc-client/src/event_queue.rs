//! The bounded queue of [`Event`]s from the client's task to the application.
//!
//! The client never waits for the application: SIP keeps being answered however slowly events
//! are read. Up to `capacity` events wait in order. Once the queue is full the client is
//! *lagging*: from then on it keeps only the latest state of each buddy, of each buddy
//! subscription, of each profile's registration and of the publication (at most `capacity`
//! or [`HELD_STATES`] of them, whichever is more), and counts
//! every other event — and every state superseded by a newer one — as dropped. When the
//! application has read everything that was queued, it receives
//! [`Event::Lagged { dropped }`](Event::Lagged) (if anything was dropped), then those latest
//! states, then new events as before. So a slow application still ends up knowing every
//! buddy's current status and every registration's current state, with messages and
//! invitations beyond the queue lost and counted.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::Event;

/// How many latest states a lagging queue holds at least, whatever its capacity: one list
/// NOTIFY (RFC 4662) can tell the state of thousands of buddies at once, and the application
/// must end up knowing each of them (a 10,000-buddy list brings 10,000 buddy events in a few
/// NOTIFYs). Bounds the memory a lagging application costs to a few MB; the states exist
/// only while it lags.
pub(crate) const HELD_STATES: usize = 65_536;

/// A queue of `capacity` events (at least 1): the client's end and the application's.
pub(crate) fn channel(capacity: usize) -> (EventSender, EventReceiver) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            capacity: capacity.max(1),
            ..State::default()
        }),
        notify: Notify::new(),
    });
    (EventSender(Arc::clone(&shared)), EventReceiver(shared))
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the receiver: something was queued, or the sender went.
    notify: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What an event is the latest state of, for the events that are coalesced while lagging.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Buddy(String),
    BuddySubscription(String),
    Registration(String),
    Publication,
}

impl Key {
    fn of(event: &Event) -> Option<Key> {
        match event {
            Event::Buddy { uri, .. } => Some(Key::Buddy(uri.clone())),
            Event::BuddySubscription { uri, .. } => Some(Key::BuddySubscription(uri.clone())),
            Event::Registration { profile, .. } => Some(Key::Registration(profile.clone())),
            Event::Publication { .. } => Some(Key::Publication),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    capacity: usize,
    queue: VecDeque<Event>,
    /// The queue overflowed; events are held (coalesced) until the reader has emptied it.
    lagging: bool,
    /// The latest state per key while lagging, in the order the keys first came.
    held: Vec<Event>,
    /// Where each key's latest state is in `held`.
    index: HashMap<Key, usize>,
    dropped: u64,
    sender_gone: bool,
    receiver_gone: bool,
}

impl State {
    fn push(&mut self, event: Event) -> bool {
        if self.receiver_gone {
            return false;
        }
        if !self.lagging && self.queue.len() < self.capacity {
            self.queue.push_back(event);
            return true;
        }
        self.lagging = true;
        match Key::of(&event) {
            Some(key) => match self.index.get(&key) {
                Some(&i) => {
                    self.held[i] = event;
                    self.dropped += 1;
                }
                None if self.held.len() < self.capacity.max(HELD_STATES) => {
                    self.index.insert(key, self.held.len());
                    self.held.push(event);
                }
                None => self.dropped += 1,
            },
            None => self.dropped += 1,
        }
        false
    }

    fn pop(&mut self) -> Option<Event> {
        if let Some(e) = self.queue.pop_front() {
            return Some(e);
        }
        if !self.lagging {
            return None;
        }
        // Caught up: the gap, then the latest states, then events flow again.
        self.lagging = false;
        self.index.clear();
        self.queue.extend(self.held.drain(..));
        match std::mem::take(&mut self.dropped) {
            0 => self.queue.pop_front(),
            dropped => Some(Event::Lagged { dropped }),
        }
    }
}

/// The client's end: never waits.
#[derive(Debug)]
pub(crate) struct EventSender(Arc<Shared>);

impl EventSender {
    /// Queues `event`, or holds or drops it while the application lags (see the module
    /// docs); true when it was queued as it is.
    pub(crate) fn send(&self, event: Event) -> bool {
        let queued = self.0.lock().push(event);
        self.0.notify.notify_one();
        queued
    }
}

impl Drop for EventSender {
    fn drop(&mut self) {
        self.0.lock().sender_gone = true;
        self.0.notify.notify_one();
    }
}

/// The application's end.
#[derive(Debug)]
pub(crate) struct EventReceiver(Arc<Shared>);

impl EventReceiver {
    /// The next event; `None` once the client has stopped and everything was read.
    pub(crate) async fn recv(&mut self) -> Option<Event> {
        loop {
            // Notify keeps one permit: a wake-up between the check and the wait is not lost.
            let notified = self.0.notify.notified();
            {
                let mut state = self.0.lock();
                if let Some(e) = state.pop() {
                    return Some(e);
                }
                if state.sender_gone {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// The next event if one is waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Event> {
        self.0.lock().pop()
    }
}

impl Drop for EventReceiver {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.receiver_gone = true;
        state.queue.clear();
        state.held.clear();
        state.index.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use presence::Status;

    fn buddy(uri: &str, status: Status) -> Event {
        Event::Buddy {
            uri: uri.into(),
            status,
            note: None,
        }
    }

    fn message(text: &str) -> Event {
        Event::Message {
            from: "sip:a@x".into(),
            name: None,
            content_type: "text/plain".into(),
            text: text.into(),
        }
    }

    fn drain(rx: &mut EventReceiver) -> Vec<Event> {
        std::iter::from_fn(|| rx.try_recv()).collect()
    }

    #[test]
    fn within_capacity_events_pass_in_order() {
        let (tx, mut rx) = channel(3);
        for t in ["1", "2", "3"] {
            assert!(tx.send(message(t)));
        }
        assert_eq!(
            drain(&mut rx),
            vec![message("1"), message("2"), message("3")]
        );
        assert!(tx.send(message("4")));
        assert_eq!(rx.try_recv(), Some(message("4")));
    }

    #[test]
    fn a_lagging_reader_gets_the_queue_then_lagged_then_the_latest_states() {
        let (tx, mut rx) = channel(2);
        assert!(tx.send(message("1")));
        assert!(tx.send(buddy("sip:b@x", Status::Online)));
        // Full: from here on held or dropped.
        assert!(!tx.send(message("lost")));
        assert!(!tx.send(buddy("sip:b@x", Status::Away)));
        assert!(!tx.send(buddy("sip:c@x", Status::Busy)));
        assert!(!tx.send(buddy("sip:b@x", Status::Offline)));
        // Reading one does not end the lag: new events keep their place after the gap.
        assert_eq!(rx.try_recv(), Some(message("1")));
        assert!(!tx.send(message("also lost")));
        assert_eq!(
            drain(&mut rx),
            vec![
                buddy("sip:b@x", Status::Online),
                // "lost", "also lost", and b's away superseded by offline.
                Event::Lagged { dropped: 3 },
                buddy("sip:b@x", Status::Offline),
                buddy("sip:c@x", Status::Busy),
            ]
        );
        // Caught up: events flow again.
        assert!(tx.send(message("2")));
        assert_eq!(drain(&mut rx), vec![message("2")]);
    }

    #[test]
    fn a_lagging_reader_gets_the_latest_publication_state() {
        let publication = |state: &str| Event::Publication {
            state: state.into(),
            status: None,
            cause: None,
        };
        let (tx, mut rx) = channel(1);
        assert!(tx.send(message("1")));
        assert!(!tx.send(publication("retrying later (PUBLISH unanswered)")));
        assert!(!tx.send(publication("published")));
        assert_eq!(
            drain(&mut rx),
            vec![
                message("1"),
                Event::Lagged { dropped: 1 },
                publication("published")
            ]
        );
    }

    #[test]
    fn held_states_are_bounded_too() {
        let (tx, mut rx) = channel(1);
        tx.send(message("1"));
        for i in 0..HELD_STATES + 100 {
            tx.send(buddy(&format!("sip:b{i}@x"), Status::Online));
        }
        let got = drain(&mut rx);
        assert_eq!(got.len(), 2 + HELD_STATES);
        assert_eq!(got[..2], [message("1"), Event::Lagged { dropped: 100 }]);
        assert_eq!(got[2], buddy("sip:b0@x", Status::Online));
        assert_eq!(
            got[HELD_STATES + 1],
            buddy(&format!("sip:b{}@x", HELD_STATES - 1), Status::Online)
        );
    }

    /// Found by `benches` `rls-vs-buddies`: a 10,000-buddy list notified in a burst of
    /// NOTIFYs overflowed the default 1,024 events, and the states beyond the 1,024 held
    /// were dropped, so the application never learnt 8,000 of its buddies' status.
    #[test]
    fn a_lagging_reader_learns_every_buddy_of_a_ten_thousand_buddy_list() {
        let (tx, mut rx) = channel(1024);
        for i in 0..10_000 {
            let uri = format!("sip:b{i}@x");
            tx.send(Event::BuddySubscription {
                uri: uri.clone(),
                state: "active".into(),
                cause: None,
            });
            tx.send(buddy(&uri, Status::Offline));
        }
        let got = drain(&mut rx);
        let buddies: std::collections::HashSet<&str> = got
            .iter()
            .filter_map(|e| match e {
                Event::Buddy { uri, .. } => Some(uri.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(buddies.len(), 10_000);
        assert!(!got.iter().any(|e| matches!(e, Event::Lagged { .. })));
    }

    #[tokio::test]
    async fn recv_waits_for_events_and_ends_with_the_sender() {
        let (tx, mut rx) = channel(4);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(e) = rx.recv().await {
                got.push(e);
            }
            got
        });
        tokio::task::yield_now().await;
        tx.send(message("1"));
        tokio::task::yield_now().await;
        tx.send(message("2"));
        drop(tx);
        assert_eq!(reader.await.unwrap(), vec![message("1"), message("2")]);
    }

    #[test]
    fn nothing_is_kept_once_the_reader_is_gone() {
        let (tx, rx) = channel(4);
        drop(rx);
        assert!(!tx.send(message("1")));
        assert!(tx.0.lock().queue.is_empty());
    }
}
