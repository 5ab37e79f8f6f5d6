//! `RegisterFlags`: what `EnableProfile` registers for (`RTCRF_REGISTER_*`).

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Sub};

/// The session kinds a profile registers to accept, as `IRTCClientProvisioning::EnableProfile`
/// took them. A small hand-written bit set.
///
/// ```
/// use provisioning::RegisterFlags;
///
/// let flags = RegisterFlags::INVITE_SESSIONS | RegisterFlags::PRESENCE;
/// assert!(flags.contains(RegisterFlags::PRESENCE));
/// assert!(!flags.contains(RegisterFlags::MESSAGE_SESSIONS));
/// assert_eq!(RegisterFlags::ALL - flags, RegisterFlags::MESSAGE_SESSIONS);
/// assert_eq!(format!("{flags:?}"), "RegisterFlags(INVITE_SESSIONS | PRESENCE)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RegisterFlags(u32);

const NAMES: [(RegisterFlags, &str); 3] = [
    (RegisterFlags::INVITE_SESSIONS, "INVITE_SESSIONS"),
    (RegisterFlags::MESSAGE_SESSIONS, "MESSAGE_SESSIONS"),
    (RegisterFlags::PRESENCE, "PRESENCE"),
];

impl RegisterFlags {
    /// Accept incoming computer-to-computer and computer-to-phone sessions (INVITE);
    /// `RTCRF_REGISTER_INVITE_SESSIONS`.
    pub const INVITE_SESSIONS: Self = RegisterFlags(0x1);
    /// Accept incoming instant-message sessions (MESSAGE); `RTCRF_REGISTER_MESSAGE_SESSIONS`.
    pub const MESSAGE_SESSIONS: Self = RegisterFlags(0x2);
    /// Accept incoming watchers (SUBSCRIBE); `RTCRF_REGISTER_PRESENCE`.
    pub const PRESENCE: Self = RegisterFlags(0x4);
    /// All of the above; `RTCRF_REGISTER_ALL`.
    pub const ALL: Self = RegisterFlags(0x7);

    /// No flag.
    pub const fn empty() -> Self {
        RegisterFlags(0)
    }

    /// The bits, with the RTC API's values.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The flags for `bits`; `None` if an unknown bit is set.
    pub const fn from_bits(bits: u32) -> Option<Self> {
        if bits & !Self::ALL.0 == 0 {
            Some(RegisterFlags(bits))
        } else {
            None
        }
    }

    /// The flags for `bits`, unknown bits dropped.
    pub const fn from_bits_truncate(bits: u32) -> Self {
        RegisterFlags(bits & Self::ALL.0)
    }

    /// True when no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when every flag of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when `self` and `other` share a flag.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Sets the flags of `other`.
    pub fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    /// Clears the flags of `other`.
    pub fn remove(&mut self, other: Self) {
        self.0 &= !other.0;
    }

    /// The SIP methods these flags tell the registrar the client accepts (for `Allow`):
    /// INVITE, MESSAGE and SUBSCRIBE, in that order.
    pub fn methods(self) -> impl Iterator<Item = &'static str> {
        [
            (Self::INVITE_SESSIONS, "INVITE"),
            (Self::MESSAGE_SESSIONS, "MESSAGE"),
            (Self::PRESENCE, "SUBSCRIBE"),
        ]
        .into_iter()
        .filter(move |(flag, _)| self.contains(*flag))
        .map(|(_, method)| method)
    }
}

impl BitOr for RegisterFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        RegisterFlags(self.0 | rhs.0)
    }
}

impl BitOrAssign for RegisterFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for RegisterFlags {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        RegisterFlags(self.0 & rhs.0)
    }
}

impl Sub for RegisterFlags {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        RegisterFlags(self.0 & !rhs.0)
    }
}

impl fmt::Debug for RegisterFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RegisterFlags(")?;
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("empty")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_match_rtc() {
        assert_eq!(RegisterFlags::INVITE_SESSIONS.bits(), 1);
        assert_eq!(RegisterFlags::MESSAGE_SESSIONS.bits(), 2);
        assert_eq!(RegisterFlags::PRESENCE.bits(), 4);
        assert_eq!(
            RegisterFlags::INVITE_SESSIONS
                | RegisterFlags::MESSAGE_SESSIONS
                | RegisterFlags::PRESENCE,
            RegisterFlags::ALL
        );
        assert_eq!(RegisterFlags::from_bits(8), None);
        assert_eq!(RegisterFlags::from_bits_truncate(0xF), RegisterFlags::ALL);
    }

    #[test]
    fn set_operations() {
        let mut f = RegisterFlags::empty();
        assert!(f.is_empty());
        f.insert(RegisterFlags::PRESENCE);
        assert!(f.intersects(RegisterFlags::ALL));
        f.remove(RegisterFlags::PRESENCE);
        assert!(f.is_empty());
        assert_eq!(format!("{f:?}"), "RegisterFlags(empty)");
        assert_eq!(
            RegisterFlags::ALL.methods().collect::<Vec<_>>(),
            ["INVITE", "MESSAGE", "SUBSCRIBE"]
        );
    }
}
