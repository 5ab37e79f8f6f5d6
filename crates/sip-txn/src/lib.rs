//! sip-txn (in progress)
#![forbid(unsafe_code)]

mod client_invite;
pub mod digest;
mod client_non_invite;
pub mod dialog;
mod error;
mod event;
mod key;
mod layer;
mod matching;
mod server_invite;
mod server_non_invite;
mod target;
mod timer;
mod transaction;

pub use error::{Error, Result};
pub use event::{Event, TerminationReason};
pub use key::{ClientKey, ServerKey, TransactionKey, new_branch, new_tag};
pub use layer::TransactionLayer;
pub use target::{Target, Transmit, Transport};
pub use timer::{Timer, TimerConfig};
#[cfg(feature = "testkit")]
pub mod testkit;
