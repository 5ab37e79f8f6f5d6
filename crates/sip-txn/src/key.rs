//! Handles naming transactions, and fresh identifiers (branches, tags) for requests.

use std::fmt::Write as _;

use sip_parse::MAGIC_COOKIE;

use crate::{Error, Result};

/// A client transaction, returned by [`send_request`](crate::TransactionLayer::send_request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey(pub(crate) u64);

/// A server transaction, announced by [`Event::Request`](crate::Event::Request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerKey(pub(crate) u64);

/// Either kind of transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransactionKey {
    /// A client transaction.
    Client(ClientKey),
    /// A server transaction.
    Server(ServerKey),
}

impl From<ClientKey> for TransactionKey {
    fn from(k: ClientKey) -> Self {
        TransactionKey::Client(k)
    }
}

impl From<ServerKey> for TransactionKey {
    fn from(k: ServerKey) -> Self {
        TransactionKey::Server(k)
    }
}

impl TransactionKey {
    pub(crate) fn id(self) -> u64 {
        match self {
            TransactionKey::Client(ClientKey(id)) | TransactionKey::Server(ServerKey(id)) => id,
        }
    }
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = [0u8; 16];
    let buf = buf.get_mut(..bytes.min(16)).ok_or(Error::Random)?;
    getrandom::fill(buf).map_err(|_| Error::Random)?;
    let mut s = String::with_capacity(MAGIC_COOKIE.len() + 2 * buf.len());
    for b in buf.iter() {
        let _ = write!(s, "{b:02x}");
    }
    Ok(s)
}

/// A fresh RFC 3261 branch: the magic cookie and 96 random bits (§8.1.1.7: unique across space
/// and time).
///
/// ```
/// let b = sip_txn::new_branch()?;
/// assert!(b.starts_with("z9hG4bK") && b.len() == 7 + 24);
/// # Ok::<(), sip_txn::Error>(())
/// ```
pub fn new_branch() -> Result<String> {
    Ok(format!("{MAGIC_COOKIE}{}", random_hex(12)?))
}

/// A fresh From/To tag with 64 random bits (§19.3: at least 32 bits of randomness).
pub fn new_tag() -> Result<String> {
    random_hex(8)
}

/// A fresh client nonce for digest authentication (RFC 7616 §3.4: at least 64 bits).
pub(crate) fn new_cnonce() -> Result<String> {
    random_hex(16)
}
