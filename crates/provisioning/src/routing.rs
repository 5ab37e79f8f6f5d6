//! Which server does what, for a profile and the flags it is enabled with.

use crate::flags::RegisterFlags;
use crate::model::{Profile, SessionParty, SessionType, SipServer};

/// A server that carries a session type, and who sets the session up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRoute<'a> {
    /// The server.
    pub server: &'a SipServer,
    /// First party (the client is in the session) or third party (the server sets it up).
    pub party: SessionParty,
}

impl SessionType {
    /// The flag under which the client registers to accept incoming sessions of this type;
    /// `None` for phone-to-phone, which is only ever placed by third-party call control.
    pub fn register_flag(self) -> Option<RegisterFlags> {
        match self {
            SessionType::PcToPc | SessionType::PcToPhone => Some(RegisterFlags::INVITE_SESSIONS),
            SessionType::InstantMessage => Some(RegisterFlags::MESSAGE_SESSIONS),
            SessionType::PhoneToPhone => None,
        }
    }
}

/// The server that `flags` registers with: the profile's registrar, or `None` when the
/// flags are empty (nothing to register) or the profile has no registrar.
pub fn registering_server(profile: &Profile, flags: RegisterFlags) -> Option<&SipServer> {
    if flags.is_empty() {
        return None;
    }
    profile.registrar()
}

/// The server that carries `session_type`: the first, in document order, with a matching
/// `session` element.
pub fn session_server(profile: &Profile, session_type: SessionType) -> Option<SessionRoute<'_>> {
    profile.servers.iter().find_map(|server| {
        server.session(session_type).map(|s| SessionRoute {
            server,
            party: s.party,
        })
    })
}

/// The session types `flags` registers to accept, each with the first server carrying it as
/// first party (an incoming session reaches the client itself). Types no server carries are
/// left out.
pub fn incoming_sessions(
    profile: &Profile,
    flags: RegisterFlags,
) -> impl Iterator<Item = (SessionType, SessionRoute<'_>)> {
    SessionType::ALL
        .into_iter()
        .filter(move |t| t.register_flag().is_some_and(|f| flags.contains(f)))
        .filter_map(move |t| {
            profile.servers.iter().find_map(|server| {
                server
                    .sessions
                    .iter()
                    .find(|s| s.session_type == t && s.party == SessionParty::First)
                    .map(|s| {
                        (
                            t,
                            SessionRoute {
                                server,
                                party: s.party,
                            },
                        )
                    })
            })
        })
}
