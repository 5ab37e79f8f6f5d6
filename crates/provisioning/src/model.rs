//! The profile, mirroring the provisioning schema element for element.

use std::fmt;
use std::time::SystemTime;

use crate::datatypes::{DateTimeTz, Fixed, ServerAddr, Uri, UserUri};
use crate::error::Expired;

/// A provisioning profile: what `IRTCClientProvisioning::CreateProfile` built from XML.
///
/// Build one with [`Profile::from_xml`](crate::Profile::from_xml) (validating) and write it back
/// with [`Profile::to_xml`](crate::Profile::to_xml). The fields are public for reading and for
/// building profiles in code; a hand-built profile is checked only when parsed again.
///
/// There is deliberately no `Display`: the XML form carries the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// `provision/@key`: the profile's unique identifier (often a GUID).
    pub key: String,
    /// `provision/@name`: the profile's display name.
    pub name: String,
    /// `provision/@expires`: after this instant the profile must not be enabled.
    pub expires: Option<DateTimeTz>,
    /// `provision/accesscontrol` (Windows CE profiles): the domain the profile is signed for.
    pub access_control: Option<AccessControl>,
    /// `provision/user`: who registers.
    pub user: User,
    /// `provision/sipsrv`, in document order: one or more servers, at most one registrar.
    pub servers: Vec<SipServer>,
    /// `provision/client`: the client application.
    pub client: Option<Client>,
    /// `provision/provider`: the Internet telephony service provider.
    pub provider: Option<Provider>,
}

impl Profile {
    /// The server with role registrar, if any (there is at most one).
    pub fn registrar(&self) -> Option<&SipServer> {
        self.servers.iter().find(|s| s.role == Role::Registrar)
    }

    /// True when the profile has an `expires` time and `now` is at or past it.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires.is_some_and(|e| e.is_past(now))
    }

    /// The check made when the profile is enabled: an expired profile is an error.
    ///
    /// `now` comes from the caller; this crate never reads the clock.
    pub fn check_expiry(&self, now: SystemTime) -> Result<(), Expired> {
        match self.expires {
            Some(expires) if expires.is_past(now) => Err(Expired { expires }),
            _ => Ok(()),
        }
    }
}

/// `accesscontrol`: the domain a (Windows CE) profile is valid for and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessControl {
    /// `domain`.
    pub domain: String,
    /// `sig`: the signature, as written.
    pub sig: String,
}

/// A password that never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Password(password.into())
    }

    /// The password itself, for the authentication code that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// `user`: the user's identity and credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// `uri`: the user's address of record.
    pub uri: UserUri,
    /// `account`: the login account name.
    pub account: Option<String>,
    /// `name`: the user's display name.
    pub name: Option<String>,
    /// `password`.
    pub password: Option<Password>,
    /// `realm`: the authentication realm.
    pub realm: Option<String>,
}

/// `sipsrv/@protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// `TCP`.
    Tcp,
    /// `UDP`.
    Udp,
    /// `TLS` (over TCP).
    Tls,
}

/// `sipsrv/@auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    /// `basic`: allowed only over TLS.
    Basic,
    /// `digest` (RFC 2617).
    Digest,
}

/// `sipsrv/@role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `proxy`: outgoing requests go through it.
    Proxy,
    /// `registrar`: the user registers with it.
    Registrar,
}

/// `session/@party`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionParty {
    /// `first`: the client is a party to the session.
    First,
    /// `third`: the server sets the session up by third-party call control.
    Third,
}

/// `session/@type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionType {
    /// `pc2pc`: computer to computer.
    PcToPc,
    /// `pc2ph`: computer to phone.
    PcToPhone,
    /// `ph2ph`: phone to phone (third-party call control).
    PhoneToPhone,
    /// `im`: instant messages.
    InstantMessage,
}

impl SessionType {
    /// All four types, in schema order.
    pub const ALL: [SessionType; 4] = [
        SessionType::PcToPc,
        SessionType::PcToPhone,
        SessionType::PhoneToPhone,
        SessionType::InstantMessage,
    ];
}

/// Generates `as_str` (the schema spelling), case-insensitive `parse` and `Display`.
macro_rules! schema_enum {
    ($ty:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The value as the schema spells it.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }

            /// Parses a value; case-insensitive and whitespace-trimmed, as the RTC API was.
            pub(crate) fn parse(s: &str) -> Option<Self> {
                let s = crate::datatypes::trim_xml(s);
                $(if s.eq_ignore_ascii_case($text) { return Some($ty::$variant); })+
                None
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

schema_enum!(Transport { Tcp = "TCP", Udp = "UDP", Tls = "TLS" });
schema_enum!(AuthMethod { Basic = "basic", Digest = "digest" });
schema_enum!(Role { Proxy = "proxy", Registrar = "registrar" });
schema_enum!(SessionParty { First = "first", Third = "third" });
schema_enum!(SessionType {
    PcToPc = "pc2pc",
    PcToPhone = "pc2ph",
    PhoneToPhone = "ph2ph",
    InstantMessage = "im",
});

/// `session`: a session type a server carries, and who sets it up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Session {
    /// `party`.
    pub party: SessionParty,
    /// `type`.
    pub session_type: SessionType,
}

impl Session {
    /// Whether the RTC API accepted this combination: phone-to-phone is always set up by a
    /// third party (the client is not one of the phones); instant messages never are.
    pub fn is_valid(self) -> bool {
        !matches!(
            (self.party, self.session_type),
            (SessionParty::First, SessionType::PhoneToPhone)
                | (SessionParty::Third, SessionType::InstantMessage)
        )
    }
}

/// `sipsrv`: a SIP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipServer {
    /// `addr`: `host[:port]`.
    pub addr: ServerAddr,
    /// `protocol`.
    pub protocol: Transport,
    /// `auth`; absent means the server's challenge decides (digest in practice).
    pub auth: Option<AuthMethod>,
    /// `role`.
    pub role: Role,
    /// `session` children, in document order.
    pub sessions: Vec<Session>,
}

impl SipServer {
    /// The first `session` of this type, if the server carries it.
    pub fn session(&self, session_type: SessionType) -> Option<Session> {
        self.sessions
            .iter()
            .copied()
            .find(|s| s.session_type == session_type)
    }
}

/// `data`: open content, kept verbatim byte for byte (its own attributes and its content).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Data {
    pub(crate) attributes: String,
    pub(crate) content: String,
}

impl Data {
    /// The raw text of the `data` start tag after its name (its attributes, as written).
    pub fn attributes(&self) -> &str {
        &self.attributes
    }

    /// The raw content between `<data…>` and `</data>`, as written (markup, references and
    /// all).
    pub fn content(&self) -> &str {
        &self.content
    }

    /// `data` with the given raw content, checked to be well-formed XML content.
    pub fn from_markup(content: &str) -> Result<Data, crate::Error> {
        crate::parse::parse_data_content(content).map(|()| Data {
            attributes: String::new(),
            content: content.to_owned(),
        })
    }
}

/// `client`: the client application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// `name` (required).
    pub name: String,
    /// `banner`: whether to show the provider's banner.
    pub banner: Option<bool>,
    /// `updates`: whether to check for updates.
    pub updates: Option<bool>,
    /// `minver`: the minimum client version.
    pub min_version: Option<Fixed>,
    /// `curver`: the current client version.
    pub current_version: Option<Fixed>,
    /// `updateuri`: where updates come from.
    pub update_uri: Option<Uri>,
    /// `data`.
    pub data: Option<Data>,
}

/// `provider`: the Internet telephony service provider.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provider {
    /// `name`.
    pub name: Option<String>,
    /// `homepage`.
    pub homepage: Option<Uri>,
    /// `helpdesk`.
    pub helpdesk: Option<Uri>,
    /// `personal`: the user's personal page at the provider.
    pub personal: Option<Uri>,
    /// `calldisplay`: shown during calls.
    pub call_display: Option<Uri>,
    /// `idledisplay`: shown when idle.
    pub idle_display: Option<Uri>,
    /// `data`.
    pub data: Option<Data>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_redacted() {
        let p = Password::new("hunter2");
        assert_eq!(format!("{p:?}"), "Password(<redacted>)");
        assert_eq!(p.expose(), "hunter2");
    }

    #[test]
    fn enums_parse_case_insensitively() {
        assert_eq!(Transport::parse("tls"), Some(Transport::Tls));
        assert_eq!(Transport::parse(" Udp "), Some(Transport::Udp));
        assert_eq!(Transport::parse("SCTP"), None);
        assert_eq!(SessionType::parse("PC2PH"), Some(SessionType::PcToPhone));
        assert_eq!(Role::Registrar.to_string(), "registrar");
    }

    #[test]
    fn session_combinations() {
        let s = |party, session_type| {
            Session {
                party,
                session_type,
            }
            .is_valid()
        };
        assert!(s(SessionParty::Third, SessionType::PhoneToPhone));
        assert!(s(SessionParty::Third, SessionType::PcToPhone));
        assert!(!s(SessionParty::First, SessionType::PhoneToPhone));
        assert!(!s(SessionParty::Third, SessionType::InstantMessage));
    }
}
