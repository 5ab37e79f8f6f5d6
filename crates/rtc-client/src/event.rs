//! What the client tells the application, on [`Events`](crate::Events).

use bytes::Bytes;
use presence::{Status, WatcherState};

use crate::{Cause, RegistrationState, SessionEnd};

/// Something that happened, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A profile's registration changed state (`RTCE_REGISTRATION_STATE_CHANGE`).
    Registration {
        /// The profile's `key`.
        profile: String,
        /// The new state.
        state: RegistrationState,
        /// The status code of the response behind the change, if any.
        status: Option<u16>,
        /// Why, in words.
        reason: String,
        /// What kind of failure caused the change, when no response did: an untrusted
        /// certificate ([`Cause::is_permanent`]: retrying will not help until the user acts), a
        /// refused or reset connection, a timeout, a server name DNS does not know. A
        /// permanent cause is reported once: the client retries with backoff (up to 5
        /// minutes apart), silently, until the registration succeeds or fails otherwise.
        cause: Option<Cause>,
    },
    /// A buddy's presence changed: a NOTIFY (or, for a `Poll` buddy, a fetch) with a new
    /// status or note, or a buddy of type `AlwaysOnline` / `AlwaysOffline` added or loaded.
    /// `Offline` also when the subscription to the buddy ended or failed and the buddy's state
    /// is unknown (RFC 6665 §4.1.3), until a new subscription brings it.
    Buddy {
        /// The buddy's URI.
        uri: String,
        /// Its status.
        status: Status,
        /// Its note, if any.
        note: Option<String>,
    },
    /// The subscription to a buddy's presence changed state, in words: `subscribing`,
    /// `pending`, `active`, `retrying later (why)` (tried again by itself, with backoff),
    /// `refused (why), not retried` (403, 603 or `rejected`: the buddy or the server will not
    /// have us watch), `stopped (why), not retried`, `stopped` (the buddy was removed),
    /// `polled`, `poll failed (why)`. Only the buddy's current subscription reports: the end
    /// of one replaced by a newer one (the buddy removed and added back) is not reported.
    BuddySubscription {
        /// The buddy's URI.
        uri: String,
        /// The new state.
        state: String,
        /// Why the SUBSCRIBE failed, when the transport said (a refused connection, an
        /// untrusted certificate, a timeout …); its words are in `state` too.
        cause: Option<Cause>,
    },
    /// Our presence publication at the server (RFC 3903) changed state, in words: `retrying
    /// later (why)` when a PUBLISH failed (a final response other than those the client
    /// handles itself, or none: a timeout, a transport error; tried again by itself, with
    /// backoff), `published` once a PUBLISH succeeded after such a failure. A publication that
    /// never failed reports nothing, nor does a server without a presence service (405, 489,
    /// 501: the client is then its own presence agent and stops publishing). Each state is
    /// reported once, however many retries fail alike.
    Publication {
        /// The new state.
        state: String,
        /// The status code of the final response that refused the PUBLISH, if one did.
        status: Option<u16>,
        /// Why the PUBLISH went unanswered, when none was: the transport's cause (a refused
        /// connection, an untrusted certificate …), or [`Cause::TimedOut`] for a transaction
        /// timeout; its words are in `state` too.
        cause: Option<Cause>,
    },
    /// A watcher subscribed and waits for the application's decision: allow or block it with
    /// [`Client::allow_watcher`](crate::Client::allow_watcher) /
    /// [`Client::block_watcher`](crate::Client::block_watcher).
    Watcher {
        /// The watcher's URI.
        uri: String,
        /// Its display name, if it gave one.
        name: Option<String>,
        /// Its state in the watcher list (`offering`).
        state: WatcherState,
    },
    /// An instant message arrived (RFC 3428).
    Message {
        /// Who sent it (the From URI).
        from: String,
        /// The sender's display name, if given.
        name: Option<String>,
        /// Its Content-Type.
        content_type: String,
        /// The text, decoded by the charset its Content-Type names (a body that is not in it
        /// is refused, never shown garbled).
        text: String,
    },
    /// A peer started or stopped composing a message to us (RFC 3994).
    Typing {
        /// Who.
        from: String,
        /// `true`: composing; `false`: idle.
        active: bool,
    },
    /// A session invitation arrived (signalling only): answer it with
    /// [`Client::accept_invite`](crate::Client::accept_invite) or
    /// [`Client::answer_invite`](crate::Client::answer_invite). Unanswered, it ends after
    /// [`ClientConfig::invite_expiry`](crate::ClientConfig::invite_expiry)
    /// ([`SessionEnd::Expired`]).
    Invite {
        /// Names the invitation, and the session once accepted.
        id: u64,
        /// Who invites (the From URI).
        from: String,
        /// The caller's SDP offer, if any.
        sdp: Option<Bytes>,
    },
    /// An invitation ended before it was answered (the caller cancelled it).
    InviteCancelled {
        /// The invitation.
        id: u64,
    },
    /// The application fell behind by more than
    /// [`ClientConfig::event_capacity`](crate::ClientConfig::event_capacity) events, and
    /// `dropped` events were lost: messages, invitations and the like, and the states of
    /// buddies, subscriptions, registrations and the publication that a newer one replaced.
    /// The latest state of each buddy, buddy subscription, registration and of the
    /// publication follows this event.
    Lagged {
        /// How many events were dropped.
        dropped: u64,
    },
    /// A provisional response (180 Ringing, 183 Session Progress, …) to our call
    /// ([`Client::invite`](crate::Client::invite)).
    SessionProgress {
        /// The session.
        id: u64,
        /// Its status code.
        status: u16,
        /// Its reason phrase.
        reason: String,
    },
    /// Our call was answered (2xx, acknowledged): the session is up.
    SessionAnswered {
        /// The session.
        id: u64,
        /// The peer's SDP answer, if any.
        sdp: Option<Bytes>,
    },
    /// The caller acknowledged our answer (ACK for our 2xx): the session is up.
    SessionConfirmed {
        /// The session.
        id: u64,
    },
    /// Our call was refused (a final status of 300 or more), or got no answer (408 for a
    /// timeout, 503 when the transport failed).
    SessionFailed {
        /// The session.
        id: u64,
        /// The final status code.
        status: u16,
        /// Its reason phrase, or why there was none.
        reason: String,
    },
    /// A session ended: hung up either way, never acknowledged, an invitation unanswered in
    /// time, or our call cancelled; `reason` says which.
    SessionEnded {
        /// The session.
        id: u64,
        /// Why.
        reason: SessionEnd,
    },
}
