//! What the client tells the application, on [`Events`](crate::Events).

use crate::RegistrationState;

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
    },
    /// An instant message arrived (RFC 3428).
    Message {
        /// Who sent it (the From URI).
        from: String,
        /// The sender's display name, if given.
        name: Option<String>,
        /// Its Content-Type.
        content_type: String,
        /// The text (bodies that are not UTF-8 are shown lossily).
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
    /// [`Client::answer_invite`](crate::Client::answer_invite).
    Invite {
        /// Names the invitation in the answer.
        id: u64,
        /// Who invites (the From URI).
        from: String,
    },
    /// An invitation ended before it was answered (the caller cancelled it).
    InviteCancelled {
        /// The invitation.
        id: u64,
    },
}
