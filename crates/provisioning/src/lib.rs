//! Provisioning profiles for an RTC-style SIP client: the XML document a service provider hands
//! out, parsed exactly to Microsoft's provisioning schema (the one `CreateProfile` took) into a
//! [`Profile`], with precise errors, and written back.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use provisioning::{Profile, RegisterFlags, SessionType, Transport};
//!
//! let xml = r#"<provision key="{9E5C5F5A-0001}" name="Example ITSP" expires="2031-01-01T00:00:00Z">
//!   <user uri="alice@example.com" account="alice" password="s3cret" realm="example.com"/>
//!   <sipsrv addr="sip.example.com:5061" protocol="tls" auth="digest" role="registrar">
//!     <session party="first" type="pc2pc"/>
//!     <session party="first" type="im"/>
//!   </sipsrv>
//! </provision>"#;
//!
//! let profile = Profile::from_xml(xml)?;
//! // A scheme-less user URI means sip:, enumerations are case-insensitive.
//! assert_eq!(profile.user.uri.to_string(), "sip:alice@example.com");
//! assert_eq!(profile.servers[0].protocol, Transport::Tls);
//! // The password never shows in Debug output.
//! assert!(!format!("{profile:?}").contains("s3cret"));
//!
//! // Which server registers, and which carries instant messages.
//! let registrar = provisioning::registering_server(&profile, RegisterFlags::ALL);
//! assert_eq!(registrar.map(|s| s.addr.to_string()).as_deref(), Some("sip.example.com:5061"));
//! let im = provisioning::session_server(&profile, SessionType::InstantMessage);
//! assert!(im.is_some());
//!
//! // Expiry is checked against a time the caller supplies.
//! let now = UNIX_EPOCH + Duration::from_secs(1_900_000_000); // 2030
//! assert!(profile.check_expiry(now).is_ok());
//!
//! // Written back, it parses to the same profile.
//! assert_eq!(Profile::from_xml(&profile.to_xml())?, profile);
//!
//! // A bad profile fails loudly, with the RTC error and where.
//! let err = Profile::from_xml("<provision key='k' name='n'>\n  <user/>\n</provision>").unwrap_err();
//! assert_eq!(err.to_string(), "2:3: <user> has no uri");
//! # Ok::<(), provisioning::Error>(())
//! ```
//!
//! # What is accepted
//!
//! - The schema's closed content models: an unknown element or attribute is an error; `user`
//!   exactly once, `sipsrv` one or more, `client`, `provider` and `accesscontrol` at most once,
//!   in any order (the schema's default order is "many").
//! - The quirks of real profiles that the RTC API accepted: a user URI without scheme (taken as
//!   `sip:`), enumerations in any case, single-quoted attributes, and the Windows CE
//!   `<accesscontrol domain="…" sig="…"/>`.
//! - `data` is open content: any well-formed markup, kept byte for byte.
//!
//! # What is refused
//!
//! Everything in [`Error`]: the RTC API's profile errors one for one, basic authentication on a
//! server not reached over TLS, malformed XML, any DOCTYPE (so entities are never declared or
//! expanded), documents over [`Limits::max_size`] or nested deeper than [`Limits::max_depth`],
//! and values that are not of their data type.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod datatypes;
mod error;
mod flags;
mod model;
mod parse;
mod routing;
mod serialize;

pub use datatypes::{DateTimeTz, Fixed, Host, ServerAddr, SipScheme, Uri, UserUri, Zone};
pub use error::{Error, Expired, Position};
pub use flags::RegisterFlags;
pub use model::{
    AccessControl, AuthMethod, Client, Data, Password, Profile, Provider, Role, Session,
    SessionParty, SessionType, SipServer, Transport, User,
};
pub use parse::{Limits, parse, parse_bytes, parse_bytes_with_limits, parse_with_limits};
pub use routing::{SessionRoute, incoming_sessions, registering_server, session_server};

impl Profile {
    /// Parses a provisioning document (what `CreateProfile` did), with default [`Limits`].
    pub fn from_xml(xml: &str) -> Result<Profile, Error> {
        parse::parse(xml)
    }

    /// Writes the profile as a provisioning document. The output contains the password.
    pub fn to_xml(&self) -> String {
        serialize::to_xml(self)
    }
}

impl std::str::FromStr for Profile {
    type Err = Error;
    fn from_str(xml: &str) -> Result<Profile, Error> {
        parse::parse(xml)
    }
}
