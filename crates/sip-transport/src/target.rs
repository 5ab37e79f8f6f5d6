//! Stream connection identity. [`Target`](crate::Target) and [`TransportKind`](crate::TransportKind)
//! come from `sip-parse`.

use std::fmt;

/// Identifies one stream connection for the life of a [`Transport`](crate::Transport);
/// never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub(crate) u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}
