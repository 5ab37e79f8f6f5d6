//! The crate's one error type.

use sip_parse::TransportKind;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The XCAP client for [`ClientConfig::xcap_root`](crate::ClientConfig::xcap_root) could
    /// not be set up (its TLS configuration).
    #[cfg(feature = "xcap")]
    #[cfg_attr(docsrs, doc(cfg(feature = "xcap")))]
    #[error("XCAP: {0}")]
    Xcap(String),
    /// A request had to go over a transport the client does not listen on.
    #[error("the client has no {0} listener")]
    NoLocalTransport(TransportKind),
    /// There is no server to send to (an empty target list).
    #[error("no server to send to")]
    NoTarget,
    /// Presence is not enabled.
    #[error("presence is not enabled")]
    PresenceDisabled,
    /// Presence is already enabled.
    #[error("presence is already enabled")]
    PresenceEnabled,
    /// No buddy has this URI.
    #[error("no buddy {0}")]
    UnknownBuddy(String),
    /// A buddy's URI is longer than the message limits let a subscription carry
    /// ([`ParseConfig`](crate::ParseConfig): 1 KiB less than `max_line_length`, room for the
    /// rest of a request line, a To with its tag or a digest Authorization beside it; and at
    /// most a quarter of `max_message_size`, as a NOTIFY brings it back up to three times):
    /// it could never be watched, so it is not added.
    #[error(
        "the buddy URI is too long: {len} bytes, where the message limits allow at most {max} \
         (ParseConfig max_line_length and max_message_size)"
    )]
    BuddyUriTooLong {
        /// Its length in bytes.
        len: usize,
        /// The longest that fits.
        max: usize,
    },
    /// A buddy with this address is already on the list (`AddBuddy` allows no duplicate).
    #[error("{0} is already a buddy")]
    BuddyExists(String),
    /// No watcher entry of its own has this URI.
    #[error("no watcher {0}")]
    UnknownWatcher(String),
    /// Presence documents, lists or the store.
    #[error(transparent)]
    Presence(#[from] presence::Error),
    /// The client's task has stopped.
    #[error("the client has stopped")]
    Stopped,
    /// The profile XML is invalid.
    #[error("profile: {0}")]
    Profile(#[from] provisioning::Error),
    /// The profile has expired.
    #[error(transparent)]
    Expired(#[from] provisioning::Expired),
    /// No enabled profile has this key.
    #[error("no enabled profile has key {0:?}")]
    UnknownProfile(String),
    /// The profile is already enabled.
    #[error("profile {0:?} is already enabled")]
    ProfileEnabled(String),
    /// No profile is enabled, so there is no identity to send as.
    #[error("no profile is enabled")]
    NoProfile,
    /// The profile names no server to register with.
    #[error("the profile has no registrar")]
    NoRegistrar,
    /// DNS gave no address for a server.
    #[error("no address found for {0}")]
    Unresolvable(String),
    /// The client listens on a wildcard address and no local address could be found.
    #[error("no local address to put in Via and Contact; set ClientConfig::sent_by_host")]
    NoLocalAddress,
    /// No invitation with this id is waiting for an answer.
    #[error("no invitation {0} is waiting")]
    UnknownInvite(u64),
    /// No session has this id (it ended, or never was).
    #[error("no session {0}")]
    UnknownSession(u64),
    /// The session is not in a state that allows this.
    #[error("session {id}: {what}")]
    SessionState {
        /// The session.
        id: u64,
        /// What it is, in words.
        what: &'static str,
    },
    /// A request was to be sent to something that is not a SIP URI.
    #[error("not a SIP URI: {0}")]
    InvalidUri(String),
    /// The peer refused a request.
    #[error("refused: {status} {reason}")]
    Refused {
        /// The final status code.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// A message to copy was not a well-formed request.
    #[error("not a well-formed request")]
    NotARequest,
    /// Binding sockets or resolving names failed.
    #[error(transparent)]
    Transport(#[from] sip_transport::Error),
    /// A transaction failed (timeout, broken connection, shut down).
    #[error(transparent)]
    Driver(#[from] sip_txn::driver::DriverError),
    /// A message could not be built or parsed.
    #[error(transparent)]
    Parse(#[from] sip_parse::ParseError),
    /// Text that should be an RFC 5626 instance id (`urn:uuid:…`) is not one.
    #[error("invalid instance id: {0}")]
    InvalidInstance(String),
    /// The file that keeps the instance id could not be read or written.
    #[error("instance id file {}: {op}: {source}", path.display())]
    InstanceFile {
        /// The file.
        path: std::path::PathBuf,
        /// What was done with it.
        op: &'static str,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The file that keeps the instance id holds something else; it is left as it is.
    #[error("instance id file {}: {reason}", path.display())]
    InvalidInstanceFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The transaction layer refused a request or response.
    #[error(transparent)]
    Transaction(#[from] sip_txn::Error),
}

impl Error {
    /// What kind of transport or DNS failure this is, when it is one: a MESSAGE that could not
    /// be sent says whether the connection was refused, the certificate not trusted, or the
    /// request unanswered ([`Cause::TimedOut`](crate::Cause::TimedOut)).
    ///
    /// ```
    /// use rtc_client::{Cause, DriverError, Error, Target};
    ///
    /// let e = Error::Driver(DriverError::Transport {
    ///     target: Target::tcp("192.0.2.9:5060".parse()?),
    ///     reason: "connection refused".into(),
    ///     cause: Cause::Refused,
    /// });
    /// assert_eq!(e.cause(), Some(Cause::Refused));
    /// assert_eq!(Error::NoProfile.cause(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cause(&self) -> Option<sip_transport::Cause> {
        match self {
            Error::Driver(sip_txn::driver::DriverError::Timeout { .. }) => {
                Some(sip_transport::Cause::TimedOut)
            }
            Error::Driver(e) => transport_cause(e),
            Error::Transport(e) => Some(e.cause()),
            _ => None,
        }
    }
}

/// The transport's reason for a failed transaction, if the transport gave one.
pub(crate) fn transport_cause(e: &sip_txn::driver::DriverError) -> Option<sip_transport::Cause> {
    match e {
        sip_txn::driver::DriverError::Transport { cause, .. } => Some(*cause),
        _ => None,
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
