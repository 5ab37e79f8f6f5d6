//! Sans-IO SIP presence: documents, subscriptions, lists and the presence store.
//!
//! Documents (PIDF with RPID, XPIDF, watcherinfo), the buddy and watcher lists with their
//! policy, the store that exports and imports them atomically, and the subscription state
//! machines: watching buddies (RFC 6665, RFC 3856), being watched, and publishing (RFC 3903).
//! Nothing here touches a socket or a clock: time comes in as `now`, output is polled.

// Documents, lists and the store.
// Subscriptions.

mod error;

pub use error::{Error, Result};
