//! Handles naming transactions, and fresh identifiers (branches, tags) for requests.

use std::cell::RefCell;

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

/// Bytes of operating-system randomness fetched at once per thread.
const POOL_SIZE: usize = 512;

/// Random bytes from the operating system's CSPRNG, fetched [`POOL_SIZE`] at a time per thread:
/// one `getrandom` system call serves about 40 branches instead of one each. Each byte is
/// handed out once and then zeroed. (A process that forks without exec would hand the same
/// bytes out in both copies; Rust's std forks only to exec.)
struct Pool {
    bytes: [u8; POOL_SIZE],
    used: usize,
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            bytes: [0; POOL_SIZE],
            used: POOL_SIZE,
        })
    };
}

/// Fills `buf` (at most [`POOL_SIZE`] bytes) with fresh random bytes.
fn fill_random(buf: &mut [u8]) -> Result<()> {
    let from_pool = POOL.try_with(|pool| {
        let mut pool = pool.try_borrow_mut().map_err(|_| Error::Random)?;
        if pool.used + buf.len() > POOL_SIZE {
            getrandom::fill(&mut pool.bytes).map_err(|_| Error::Random)?;
            pool.used = 0;
        }
        let range = pool.used..pool.used + buf.len();
        let taken = pool.bytes.get_mut(range).ok_or(Error::Random)?;
        buf.copy_from_slice(taken);
        taken.fill(0);
        pool.used += buf.len();
        Ok(())
    });
    // The thread is being torn down: ask the system directly.
    from_pool.unwrap_or_else(|_| getrandom::fill(buf).map_err(|_| Error::Random))
}

/// Appends `bytes` fresh random bytes as lowercase hex to `out`.
fn push_random_hex(out: &mut String, bytes: usize) -> Result<()> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let buf = buf.get_mut(..bytes.min(16)).ok_or(Error::Random)?;
    fill_random(buf)?;
    out.reserve(2 * buf.len());
    for &b in buf.iter() {
        // A table lookup per nibble: `write!("{b:02x}")` cost more than the random bytes.
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    Ok(())
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut s = String::with_capacity(2 * bytes);
    push_random_hex(&mut s, bytes)?;
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
    let mut s = String::with_capacity(MAGIC_COOKIE.len() + 24);
    s.push_str(MAGIC_COOKIE);
    push_random_hex(&mut s, 12)?;
    Ok(s)
}

/// A fresh From/To tag with 64 random bits (§19.3: at least 32 bits of randomness).
pub fn new_tag() -> Result<String> {
    random_hex(8)
}

/// Fills `buf` with fresh random bytes from the operating system's CSPRNG, for identifiers
/// beside SIP's own (a STUN transaction id, say). At most 512 bytes per call.
///
/// ```
/// let mut id = [0u8; 12];
/// sip_txn::random_bytes(&mut id)?;
/// # Ok::<(), sip_txn::Error>(())
/// ```
pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
    if buf.len() > POOL_SIZE {
        return Err(Error::Random);
    }
    fill_random(buf)
}

/// A fresh client nonce for digest authentication (RFC 7616 §3.4: at least 64 bits).
pub(crate) fn new_cnonce() -> Result<String> {
    random_hex(16)
}

#[cfg(test)]
mod tests {
    #[test]
    fn identifiers_are_lowercase_hex_and_differ() {
        let hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let (a, b) = (super::new_branch().unwrap(), super::new_branch().unwrap());
        assert_ne!(a, b);
        assert!(
            a.strip_prefix("z9hG4bK")
                .is_some_and(|r| r.len() == 24 && hex(r))
        );
        let tag = super::new_tag().unwrap();
        assert!(tag.len() == 16 && hex(&tag));
        let cnonce = super::new_cnonce().unwrap();
        assert!(cnonce.len() == 32 && hex(&cnonce));
    }

    /// Across many refills of the pool, no identifier repeats and none is all zeros (bytes
    /// handed out are zeroed, so a pool read twice would show).
    #[test]
    fn the_pool_never_hands_out_bytes_twice() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2_000 {
            let tag = super::new_tag().unwrap();
            assert_ne!(tag, "0000000000000000");
            assert!(seen.insert(tag));
        }
    }
}
