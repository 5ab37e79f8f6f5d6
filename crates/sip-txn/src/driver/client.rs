//! The caller's side of a client transaction: provisional responses, then the final one.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use sip_parse::{Message, Target};

use super::task::Command;
use super::updates::{self, UpdateReceiver};
use super::{Driver, DriverError};
use crate::ClientKey;

/// Most responses besides the first final one passed to one client transaction; later ones
/// are dropped, so a peer flooding 1xx (or 2xx retransmissions) cannot grow memory without
/// bound. Provisional responses are informational (RFC 3261 §8.1.3.2).
pub(crate) const MAX_OTHER_RESPONSES: u16 = 64;

/// What the driver task tells a [`ClientTransaction`], in arrival order.
#[derive(Debug)]
pub(crate) enum Update {
    /// A 1xx.
    Provisional(Message),
    /// The final response, or why there is none.
    Final(Result<Message, DriverError>),
    /// An INVITE's 2xx after the first (RFC 6026 §8.4).
    Extra(Message),
}

/// A request in flight, from [`Driver::request`].
///
/// `.await` it for the final response (a timeout or a transport failure is an `Err`), or read
/// the provisional responses first with [`next_response`](Self::next_response). Dropping it
/// does not stop the transaction: the request is still retransmitted until answered.
///
/// ```no_run
/// # async fn f(driver: sip_txn::driver::Driver, request: sip_parse::Message, target: sip_txn::Target)
/// # -> Result<(), sip_txn::driver::DriverError> {
/// let mut txn = driver.request(request, target).await?;
/// while let Some(provisional) = txn.next_response().await {
///     println!("{:?}", provisional.status());
/// }
/// let response = txn.await?;
/// # let _ = response; Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClientTransaction {
    key: ClientKey,
    target: Target,
    driver: Driver,
    updates: UpdateReceiver,
    done: Option<Result<Message, DriverError>>,
}

impl ClientTransaction {
    pub(crate) fn new(
        key: ClientKey,
        target: Target,
        driver: Driver,
        updates: UpdateReceiver,
    ) -> Self {
        Self {
            key,
            target,
            driver,
            updates,
            done: None,
        }
    }

    /// The transaction's key in the layer.
    pub fn key(&self) -> ClientKey {
        self.key
    }

    /// Where the request went.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The next provisional (1xx) response; `None` once the final response is in (read it with
    /// [`final_response`](Self::final_response) or `.await`).
    ///
    /// After the final response, an INVITE transaction goes on passing up each further 2xx
    /// (retransmitted or forked, RFC 6026 §8.4; each needs its own ACK): calling this again
    /// waits for those, and returns `None` when the transaction has ended.
    pub async fn next_response(&mut self) -> Option<Message> {
        match self.updates.recv().await? {
            Update::Provisional(m) | Update::Extra(m) => Some(m),
            Update::Final(r) => {
                self.done = Some(r);
                None
            }
        }
    }

    /// The final response (≥ 200), or why there is none. Provisional responses not yet read are
    /// skipped.
    pub async fn final_response(&mut self) -> Result<Message, DriverError> {
        self.wait_final().await;
        self.done.clone().unwrap_or(Err(DriverError::Shutdown))
    }

    /// Reads updates until the final response (or the end) is in `done`.
    async fn wait_final(&mut self) {
        while self.done.is_none() {
            match self.updates.recv().await {
                Some(Update::Final(r)) => self.done = Some(r),
                Some(Update::Provisional(_) | Update::Extra(_)) => {}
                None => self.done = Some(Err(DriverError::Shutdown)),
            }
        }
    }

    /// Cancels this INVITE (RFC 3261 §9.1): returns the CANCEL's own transaction. The INVITE
    /// then usually ends with 487 Request Terminated. Before any provisional response, the CANCEL
    /// waits for one; if a final response comes first, the CANCEL ends unsent.
    pub async fn cancel(&self) -> Result<ClientTransaction, DriverError> {
        let (updates, mut rx) = updates::channel();
        self.driver.command(Command::Cancel {
            invite: self.key,
            updates,
        })?;
        let key = rx.started().await?;
        Ok(ClientTransaction::new(
            key,
            self.target.clone(),
            self.driver.clone(),
            rx,
        ))
    }
}

impl IntoFuture for ClientTransaction {
    type Output = Result<Message, DriverError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(mut self) -> Self::IntoFuture {
        // Consumed: the response moves out instead of being cloned.
        Box::pin(async move {
            self.wait_final().await;
            self.done.take().unwrap_or(Err(DriverError::Shutdown))
        })
    }
}
