//! Keeping the presence store on disk as it changes: every edit is written within about a
//! second ([`DEBOUNCE`]), once more when presence is disabled or the client stops, and — as a
//! last resort — when the client's task is dropped with edits unsaved (its runtime shut down).
//!
//! Writes run on tokio's blocking pool (`spawn_blocking`), never on the client's task: a save
//! flushes the file and its directory to disk, which can take long on a busy disk. Each save
//! writes a snapshot with a sequence number, and a snapshot older than the one on disk is never
//! written, so saves that finish out of order never bring an edit back or lose one.
//!
//! The store is locked ([`Store::lock`]) for as long as presence is enabled (and any save
//! runs): a second client on the same store, in this process or another, fails to enable
//! presence with [`presence::Error::StoreLocked`] instead of racing this one.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use presence::{PresenceData, Store, StoreLock};
use tokio::sync::oneshot;
use tracing::warn;

use crate::{Error, Result};

/// The longest wait between retries of a save that failed.
const RETRY_MAX: Duration = Duration::from_secs(60);

/// How long an edit may wait before it is written: the edits of a burst (an import, a
/// script adding buddies) are written together, and a crash loses at most this much.
pub(crate) const DEBOUNCE: Duration = Duration::from_secs(1);

/// The store and the newest snapshot written to it, shared with the saves in flight.
#[derive(Debug)]
struct Writer {
    store: Store,
    /// The sequence number of the snapshot on disk; the lock also orders the writes.
    written: Mutex<u64>,
    /// The newest snapshot taken: a failed save of an older one is not retried.
    latest: AtomicU64,
    /// Presence was disabled or the client's task dropped: failed saves are not retried.
    closed: AtomicBool,
    _lock: StoreLock,
}

impl Writer {
    /// Writes snapshot `seq` unless a newer one is already on disk.
    fn write(&self, seq: u64, data: &PresenceData) -> presence::Result<()> {
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        if seq <= *written {
            return Ok(());
        }
        self.store.save(data)?;
        *written = seq;
        Ok(())
    }

    /// Whether snapshot `seq` still needs writing after a failure.
    fn wanted(&self, seq: u64) -> bool {
        !self.closed.load(Ordering::Relaxed) && self.latest.load(Ordering::Relaxed) == seq
    }
}

/// The saving of one enabled presence store.
#[derive(Debug)]
pub(crate) struct Autosave {
    writer: Arc<Writer>,
    /// The newest snapshot taken.
    seq: u64,
    /// When the oldest edit not yet handed to a save must be written; `None`: none waits.
    due: Option<Instant>,
}

impl Autosave {
    /// Takes `store` for this client and loads it (a missing file is an empty store). Fails
    /// with [`presence::Error::StoreLocked`] while another client holds it, and with
    /// [`presence::Error::StoreCorrupt`] for a file that is not a store (left untouched).
    pub(crate) fn open(store: Store) -> Result<(Autosave, PresenceData)> {
        let lock = store.lock()?;
        let data = store.load()?;
        let writer = Arc::new(Writer {
            store,
            written: Mutex::new(0),
            latest: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            _lock: lock,
        });
        Ok((
            Autosave {
                writer,
                seq: 0,
                due: None,
            },
            data,
        ))
    }

    /// The data changed at `now`: it is written by `now + DEBOUNCE` at the latest (later
    /// edits do not postpone an earlier one's save).
    pub(crate) fn changed(&mut self, now: Instant) {
        self.due.get_or_insert(now + DEBOUNCE);
    }

    /// When [`Autosave::handle_timeout`] wants to run.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.due
    }

    /// Starts the save of `data` if it is due.
    pub(crate) fn handle_timeout(&mut self, now: Instant, data: &PresenceData) {
        if self.due.is_some_and(|due| due <= now) {
            self.save_now(data);
        }
    }

    /// Starts the save of `data` now, in the background (also at shutdown: the edits are on
    /// their way to disk while the profiles log off). A save that fails (a full disk) is
    /// logged and tried again, waiting twice as long each time up to a minute, until it
    /// works or a newer snapshot is taken.
    pub(crate) fn save_now(&mut self, data: &PresenceData) {
        let seq = self.snapshot();
        let writer = Arc::clone(&self.writer);
        let data = Arc::new(data.clone());
        tokio::spawn(async move {
            let mut wait = DEBOUNCE;
            loop {
                let (w, d) = (Arc::clone(&writer), Arc::clone(&data));
                match tokio::task::spawn_blocking(move || w.write(seq, &d)).await {
                    Ok(Ok(())) => return,
                    Ok(Err(e)) => warn!("saving presence (again in {wait:?}): {e}"),
                    // The runtime is shutting down: the drop writes what is unsaved.
                    Err(_) => return,
                }
                tokio::time::sleep(wait).await;
                if !writer.wanted(seq) {
                    return;
                }
                wait = (wait * 2).min(RETRY_MAX);
            }
        });
    }

    /// Writes `data` and waits for it to be on disk (`disable_presence`, shutdown).
    pub(crate) async fn flush(&mut self, data: &PresenceData) -> Result<()> {
        let seq = self.snapshot();
        let writer = Arc::clone(&self.writer);
        let data = data.clone();
        let result = tokio::task::spawn_blocking(move || writer.write(seq, &data))
            .await
            .map_err(|_| Error::Stopped)?;
        if result.is_err() {
            // Still unsaved: tried again later, and at the drop.
            self.due = Some(Self::now() + DEBOUNCE);
        }
        Ok(result?)
    }

    /// Writes `data` on this thread if edits are unsaved — waiting, or handed to a save that
    /// has not finished (the runtime shutting down may never run it): the client's task is
    /// being dropped and nothing will run after this.
    pub(crate) fn save_on_drop(&mut self, data: &PresenceData) {
        let written = *self
            .writer
            .written
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.due.is_none() && written == self.seq {
            return;
        }
        let seq = self.snapshot();
        if let Err(e) = self.writer.write(seq, data) {
            warn!("saving presence: {e}");
        }
    }

    /// A new snapshot's number; nothing waits after it.
    fn snapshot(&mut self) -> u64 {
        self.due = None;
        self.seq += 1;
        self.writer.latest.store(self.seq, Ordering::Relaxed);
        self.seq
    }

    /// The engine's clock (tokio's, which tests can pause).
    fn now() -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

impl Drop for Autosave {
    fn drop(&mut self) {
        self.writer.closed.store(true, Ordering::Relaxed);
    }
}

/// Exports `data` to `path` off the client's task and answers `reply` when it is on disk.
pub(crate) fn export(path: PathBuf, data: PresenceData, reply: oneshot::Sender<Result<()>>) {
    tokio::spawn(async move {
        let result = tokio::task::spawn_blocking(move || Store::file(path).save(&data))
            .await
            .map_err(|_| Error::Stopped)
            .and_then(|r| Ok(r?));
        let _ = reply.send(result);
    });
}
