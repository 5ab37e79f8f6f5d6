//! The shape shared by what the client keeps on the presence server's XCAP server
//! ([`ClientConfig::xcap_root`]): the watcher list as pres-rules (`server_rules`) and the buddy
//! list as resource lists (`server_lists`). Each is an [`XcapJob`]: a task per identity owns
//! the XCAP client; the engine hands it the newest state to store ([`XcapJob::want`]: a watch
//! channel, so edits made while a write is under way coalesce into the next one); the task's
//! reports come back on a channel the engine loop reads ([`XcapJob::recv`]), those of a task
//! since replaced dropped there.

use std::future::Future;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use xcap::{XcapClient, XcapConfig, XcapRoot};

use super::*;

/// A background job on the XCAP server: `W` is what the engine wants stored, `R` what the
/// task reports.
#[derive(Debug)]
pub(super) struct XcapJob<W, R> {
    running: Option<Running<W>>,
    /// Counts [`XcapJob::start`]s: a report of an earlier task is stale.
    generation: u64,
    reports_tx: mpsc::UnboundedSender<(u64, R)>,
    reports_rx: mpsc::UnboundedReceiver<(u64, R)>,
}

#[derive(Debug)]
struct Running<W> {
    wanted: watch::Sender<Option<W>>,
    task: JoinHandle<()>,
}

impl<W> Drop for Running<W> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<W, R> Default for XcapJob<W, R> {
    fn default() -> Self {
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        Self {
            running: None,
            generation: 0,
            reports_tx,
            reports_rx,
        }
    }
}

impl<W: Send + Sync + 'static, R: Send + 'static> XcapJob<W, R> {
    /// Stops the current task, then, if `config` names an XCAP root, spawns the one `task`
    /// makes from a client for that root (with `credentials` and the transport's TLS
    /// verification), what the engine wants and where to report.
    pub(super) fn start<F, Fut>(
        &mut self,
        config: &ClientConfig,
        credentials: Option<Credentials>,
        task: F,
    ) -> Result<()>
    where
        F: FnOnce(XcapClient, &XcapRoot, Wanted<W>, Reporter<R>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.stop();
        let Some(root) = &config.xcap_root else {
            return Ok(());
        };
        let client = XcapClient::new(
            root.clone(),
            XcapConfig {
                credentials,
                tls: config.transport.tls_client.clone().unwrap_or_default(),
                user_agent: config.user_agent.clone(),
                ..XcapConfig::default()
            },
        )
        .map_err(|e| Error::Xcap(e.to_string()))?;
        self.generation += 1;
        let (wanted, wanted_rx) = watch::channel(None);
        let reporter = Reporter {
            generation: self.generation,
            reports: self.reports_tx.clone(),
        };
        let task = tokio::spawn(task(client, root, Wanted(wanted_rx), reporter));
        self.running = Some(Running { wanted, task });
        Ok(())
    }

    /// Stops the task; what it is writing may still land, and its reports still come.
    pub(super) fn stop(&mut self) {
        self.running = None;
    }

    /// Whether a task runs.
    pub(super) fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// Hands the task the newest state, made by `wanted` only when a task runs.
    pub(super) fn want(&self, wanted: impl FnOnce() -> W) {
        if let Some(r) = &self.running {
            r.wanted.send_replace(Some(wanted()));
        }
    }

    /// The next report of the current task (those of earlier ones are skipped).
    pub(super) async fn recv(&mut self) -> Option<R> {
        loop {
            let (generation, report) = self.reports_rx.recv().await?;
            if generation == self.generation {
                return Some(report);
            }
        }
    }
}

/// The task's side of [`XcapJob::want`].
#[derive(Debug)]
pub(super) struct Wanted<W>(watch::Receiver<Option<W>>);

impl<W: Clone> Wanted<W> {
    /// The newest state handed over since the last call, once there is one; `None` once the
    /// job is stopped.
    pub(super) async fn next(&mut self) -> Option<W> {
        loop {
            self.0.changed().await.ok()?;
            if let Some(wanted) = self.0.borrow_and_update().clone() {
                return Some(wanted);
            }
        }
    }

    /// Makes the next [`Wanted::next`] hand out the newest state again (to retry it).
    pub(super) fn again(&mut self) {
        self.0.mark_changed();
    }
}

/// The task's side of [`XcapJob::recv`].
#[derive(Debug)]
pub(super) struct Reporter<R> {
    generation: u64,
    reports: mpsc::UnboundedSender<(u64, R)>,
}

impl<R> Reporter<R> {
    /// Reports to the engine (nothing if it is gone).
    pub(super) fn send(&self, report: R) {
        let _ = self.reports.send((self.generation, report));
    }
}
