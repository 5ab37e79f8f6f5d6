//! Sans-IO SIP presence: documents, subscriptions, lists and the presence store.
//!
//! Documents (PIDF with RPID, XPIDF, watcherinfo), the buddy and watcher lists with their
//! policy, the store that exports and imports them atomically, and the subscription state
//! machines: watching buddies (RFC 6665, RFC 3856), being watched, and publishing (RFC 3903).
//! Nothing here touches a socket or a clock: time comes in as `now`, output is polled.

// Documents, lists and the store.
mod buddy;
mod datetime;
pub mod eventlist;
pub mod multipart;
pub mod pidf;
pub mod resource_lists;
pub mod rlmi;
pub mod rules;
mod status;
pub mod store;
mod watcher;
pub mod winfo;
mod xml;
pub mod xpidf;
pub use buddy::{Buddy, BuddyList, Group, SubscriptionType};
pub use error::Position;
pub use status::{LocalPresence, MediaKind, RemotePresence, Status, UnknownStatus, parse_body};
pub use store::{ImportMode, PresenceData, Store, StoreLock};
pub use watcher::{
    OfferMode, PrivacyMode, Scope, Watcher, WatcherDecision, WatcherList, WatcherState,
};
pub use winfo::{WatcherInfo, WatcherInfoState};
pub use xml::{Extension, XmlLimits};
// Subscriptions.
pub mod local;
pub mod notifier;
pub mod publisher;
mod request;
pub mod subscriber;
mod words;
pub use request::{Backoff, Failure, OutgoingRequest, RequestHandle};
#[cfg(feature = "testkit")]
pub mod testkit;

mod error;

pub use error::{Error, Result};
