//! `Event` and `Subscription-State` (RFC 6665 §8.2.1, §8.2.3).

use crate::grammar::{self, In, Params, Res, seconds_param, token};
use crate::{ErrorKind, ParseError};

/// The Event header: an event package with optional templates, and an optional `id`.
///
/// ```
/// use sip_parse::Event;
/// let e = Event::parse(b"presence.winfo;id=17")?;
/// assert_eq!(e.event_type, "presence.winfo");
/// assert_eq!(e.package(), "presence");
/// assert_eq!(e.id, Some("17"));
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// `event-type`: the package and its templates (`presence.winfo`).
    pub event_type: &'a str,
    /// The `id` parameter.
    pub id: Option<&'a str>,
    /// All parameters as written.
    pub params: Params<'a>,
}

impl<'a> Event<'a> {
    /// Parses an Event value.
    pub fn parse(value: &'a [u8]) -> Result<Self, ParseError> {
        grammar::complete(value, event)
    }

    /// The package, without templates.
    pub fn package(&self) -> &'a str {
        self.event_type.split('.').next().unwrap_or(self.event_type)
    }

    /// Whether `self` and `other` name the same subscription: event type and `id` compared
    /// byte by byte (RFC 6665 §8.2.1).
    pub fn matches(&self, other: &Event<'_>) -> bool {
        self.event_type == other.event_type && self.id == other.id
    }
}

fn event(i: In<'_>) -> Res<'_, Event<'_>> {
    let (i, event_type) = token(i)?;
    if event_type.split('.').any(str::is_empty) {
        return grammar::fail(i, ErrorKind::Expected("event package"));
    }
    let mut id = None;
    let (i, params) = grammar::header_params(i, |name, value, at| {
        if name.eq_ignore_ascii_case(b"id") {
            id = Some(grammar::str_param(value, at, "id needs a value")?);
        }
        Ok(())
    })?;
    Ok((
        i,
        Event {
            event_type,
            id,
            params,
        },
    ))
}

/// The state of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubState<'a> {
    /// `active`
    Active,
    /// `pending`
    Pending,
    /// `terminated`
    Terminated,
    /// An extension state.
    Other(&'a str),
}

/// The Subscription-State header.
///
/// ```
/// use sip_parse::{SubState, SubscriptionState};
/// let s = SubscriptionState::parse(b"terminated;reason=probation;retry-after=30")?;
/// assert_eq!(s.state, SubState::Terminated);
/// assert_eq!(s.reason, Some("probation"));
/// assert_eq!(s.retry_after, Some(30));
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionState<'a> {
    /// The state.
    pub state: SubState<'a>,
    /// The `expires` parameter, in seconds.
    pub expires: Option<u32>,
    /// The `reason` parameter (`deactivated`, `probation`, `rejected`, `timeout`, `giveup`,
    /// `noresource`, `invariant`, or an extension).
    pub reason: Option<&'a str>,
    /// The `retry-after` parameter, in seconds.
    pub retry_after: Option<u32>,
    /// All parameters as written.
    pub params: Params<'a>,
}

impl<'a> SubscriptionState<'a> {
    /// Parses a Subscription-State value.
    pub fn parse(value: &'a [u8]) -> Result<Self, ParseError> {
        grammar::complete(value, subscription_state)
    }
}

fn subscription_state(i: In<'_>) -> Res<'_, SubscriptionState<'_>> {
    let (i, s) = token(i)?;
    let state = match s {
        s if s.eq_ignore_ascii_case("active") => SubState::Active,
        s if s.eq_ignore_ascii_case("pending") => SubState::Pending,
        s if s.eq_ignore_ascii_case("terminated") => SubState::Terminated,
        s => SubState::Other(s),
    };
    let mut st = SubscriptionState {
        state,
        expires: None,
        reason: None,
        retry_after: None,
        params: Params::default(),
    };
    let (i, params) = grammar::header_params(i, |name, value, at| {
        let seconds = |what| seconds_param(value, at, what);
        if name.eq_ignore_ascii_case(b"expires") {
            st.expires = Some(seconds("expires is not delta-seconds")?);
        } else if name.eq_ignore_ascii_case(b"retry-after") {
            st.retry_after = Some(seconds("retry-after is not delta-seconds")?);
        } else if name.eq_ignore_ascii_case(b"reason") {
            st.reason = Some(grammar::str_param(value, at, "reason needs a value")?);
        }
        Ok(())
    })?;
    st.params = params;
    Ok((i, st))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states() {
        let s = SubscriptionState::parse(b"active;expires=59").unwrap();
        assert_eq!(
            (s.state, s.expires, s.reason),
            (SubState::Active, Some(59), None)
        );
        let s = SubscriptionState::parse(b"Pending").unwrap();
        assert_eq!(s.state, SubState::Pending);
        assert_eq!(
            SubscriptionState::parse(b"x-new").unwrap().state,
            SubState::Other("x-new")
        );
        assert!(SubscriptionState::parse(b"active;expires=soon").is_err());
        assert!(SubscriptionState::parse(b"active;expires=99999999999").is_err());
        assert!(SubscriptionState::parse(b"").is_err());
    }

    #[test]
    fn events() {
        let e = Event::parse(b"presence").unwrap();
        assert_eq!((e.package(), e.id), ("presence", None));
        assert!(e.matches(&Event::parse(b" presence ").unwrap()));
        assert!(!e.matches(&Event::parse(b"Presence").unwrap()));
        assert!(!e.matches(&Event::parse(b"presence;id=1").unwrap()));
        assert!(Event::parse(b"presence..x").is_err());
        assert!(Event::parse(b"pres ence").is_err());
    }
}
