//! Watchers (who may see our presence), their scope, and the policy for new ones.
//!
//! An entry applies to one user (its address of record), to a whole domain, or to everyone.
//! [`WatcherList::lookup`] finds the best match for a URI — the user's own entry, else its
//! domain's, else the one for all — in at most three hash probes.
//! [`WatcherList::policy`] says what to do with a watcher that subscribes, from that entry,
//! the [`PrivacyMode`] and the [`OfferMode`].
//!
//! ```
//! use presence::{Scope, Watcher, WatcherDecision, WatcherList, WatcherState};
//!
//! let mut list = WatcherList::default();
//! list.add(Watcher::new("sip:example.com", WatcherState::Blocked, Scope::Domain))?;
//! list.add(Watcher::new("sip:boss@example.com", WatcherState::Allowed, Scope::User))?;
//! assert_eq!(list.policy("sip:boss@example.com")?, WatcherDecision::Allow);
//! assert_eq!(list.policy("sip:intern@EXAMPLE.com")?, WatcherDecision::Block);
//! // Nobody decided about this one yet: ask the application (the default offer mode).
//! assert_eq!(list.policy("sip:carol@elsewhere.org")?, WatcherDecision::Offer);
//! # Ok::<(), presence::Error>(())
//! ```

use std::collections::HashMap;

use crate::buddy::{aor_key, domain_key};
use crate::error::{Error, Result};

/// What we have decided about a watcher (the RTC `RTC_WATCHER_STATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WatcherState {
    /// Nothing decided.
    #[default]
    Unknown,
    /// Offered to the application, which has not answered yet.
    Offering,
    /// May see our presence.
    Allowed,
    /// Sees us offline (or is rejected, as the notifier is configured).
    Blocked,
    /// Its subscriptions are rejected.
    Denied,
    /// Ask the application each time it subscribes.
    Prompt,
}

impl WatcherState {
    /// Every value.
    pub const ALL: [WatcherState; 6] = [
        WatcherState::Unknown,
        WatcherState::Offering,
        WatcherState::Allowed,
        WatcherState::Blocked,
        WatcherState::Denied,
        WatcherState::Prompt,
    ];

    /// The token used in the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            WatcherState::Unknown => "unknown",
            WatcherState::Offering => "offering",
            WatcherState::Allowed => "allowed",
            WatcherState::Blocked => "blocked",
            WatcherState::Denied => "denied",
            WatcherState::Prompt => "prompt",
        }
    }

    pub(crate) fn from_token(s: &str) -> Option<Self> {
        WatcherState::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Whom a watcher entry covers (the RTC `RTC_ACE_SCOPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// The one user of the entry's URI.
    #[default]
    User,
    /// Every user of the entry's URI's domain (a SIP URI such as `sip:example.com`).
    Domain,
    /// Everyone (the entry's URI is kept but not used to match).
    All,
}

impl Scope {
    /// Every value.
    pub const ALL: [Scope; 3] = [Scope::User, Scope::Domain, Scope::All];

    /// The token used in the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Domain => "domain",
            Scope::All => "all",
        }
    }

    pub(crate) fn from_token(s: &str) -> Option<Self> {
        Scope::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Who sees our presence when no entry decides (the RTC `RTC_PRIVACY_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PrivacyMode {
    /// Everyone not blocked may see it.
    #[default]
    BlockList,
    /// Only watchers explicitly allowed may see it.
    AllowListOnly,
}

impl PrivacyMode {
    /// The token used in the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            PrivacyMode::BlockList => "block-list",
            PrivacyMode::AllowListOnly => "allow-list-only",
        }
    }

    pub(crate) fn from_token(s: &str) -> Option<Self> {
        [PrivacyMode::BlockList, PrivacyMode::AllowListOnly]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// What happens to a watcher nobody has decided about (the RTC `RTC_OFFER_WATCHER_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OfferMode {
    /// Offer it to the application, which allows or blocks it.
    #[default]
    Offer,
    /// Add it at once: allowed in [`PrivacyMode::BlockList`], blocked in
    /// [`PrivacyMode::AllowListOnly`].
    AutoAdd,
}

impl OfferMode {
    /// The token used in the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            OfferMode::Offer => "offer",
            OfferMode::AutoAdd => "auto-add",
        }
    }

    pub(crate) fn from_token(s: &str) -> Option<Self> {
        [OfferMode::Offer, OfferMode::AutoAdd]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// What to do with a subscribing watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WatcherDecision {
    /// Accept and NOTIFY our presence.
    Allow,
    /// Accept but show us offline (or reject, as the notifier is configured).
    Block,
    /// Reject the subscription (403).
    Reject,
    /// Ask the application; meanwhile the subscription is pending (RFC 6665 §4.2.1.1).
    Offer,
}

/// A watcher entry (`IRTCWatcher`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watcher {
    /// Its URI: the user's address, or for [`Scope::Domain`] a SIP URI naming the domain.
    pub uri: Box<str>,
    /// Display name.
    pub name: Box<str>,
    /// What we decided.
    pub state: WatcherState,
    /// Whether the entry is kept in the store.
    pub persistent: bool,
    /// Whom it covers.
    pub scope: Scope,
}

impl Watcher {
    /// A persistent entry without name.
    pub fn new(uri: &str, state: WatcherState, scope: Scope) -> Watcher {
        Watcher {
            uri: uri.into(),
            name: "".into(),
            state,
            persistent: true,
            scope,
        }
    }
}

/// The watcher entries and the privacy and offer modes, indexed for best-match lookup.
#[derive(Debug, Clone, Default)]
pub struct WatcherList {
    entries: Vec<Watcher>,
    users: HashMap<Box<str>, usize>,
    domains: HashMap<Box<str>, usize>,
    all: Option<usize>,
    /// Who sees us when no entry decides.
    pub privacy: PrivacyMode,
    /// What happens to a watcher nobody has decided about.
    pub offer: OfferMode,
}

impl PartialEq for WatcherList {
    /// Same modes and same entries, in any order.
    fn eq(&self, other: &Self) -> bool {
        self.privacy == other.privacy
            && self.offer == other.offer
            && self.entries.len() == other.entries.len()
            && self.entries.iter().all(|w| {
                other
                    .slot_of(w)
                    .ok()
                    .flatten()
                    .and_then(|i| other.entries.get(i))
                    == Some(w)
            })
    }
}

impl Eq for WatcherList {}

/// Which index an entry lives in, and under what key.
enum Slot {
    User(Box<str>),
    Domain(Box<str>),
    All,
}

impl WatcherList {
    fn slot(w: &Watcher) -> Result<Slot> {
        Ok(match w.scope {
            Scope::User => Slot::User(aor_key(&w.uri, "watcher")?),
            Scope::Domain => Slot::Domain(
                domain_key(&w.uri, "watcher domain")?
                    .ok_or_else(|| Error::DomainNotSip(w.uri.chars().take(256).collect()))?,
            ),
            Scope::All => Slot::All,
        })
    }

    fn slot_of(&self, w: &Watcher) -> Result<Option<usize>> {
        Ok(match Self::slot(w)? {
            Slot::User(k) => self.users.get(&k).copied(),
            Slot::Domain(k) => self.domains.get(&k).copied(),
            Slot::All => self.all,
        })
    }

    /// Adds an entry, or replaces the one with the same scope and key (returned). Refused
    /// with [`Error::InvalidUri`] when the URI does not parse, and for a domain entry whose
    /// URI is not a SIP URI.
    pub fn add(&mut self, watcher: Watcher) -> Result<Option<Watcher>> {
        let slot = Self::slot(&watcher)?;
        let existing = match &slot {
            Slot::User(k) => self.users.get(k).copied(),
            Slot::Domain(k) => self.domains.get(k).copied(),
            Slot::All => self.all,
        };
        if let Some(i) = existing {
            return Ok(self
                .entries
                .get_mut(i)
                .map(|e| std::mem::replace(e, watcher)));
        }
        let i = self.entries.len();
        self.entries.push(watcher);
        match slot {
            Slot::User(k) => {
                self.users.insert(k, i);
            }
            Slot::Domain(k) => {
                self.domains.insert(k, i);
            }
            Slot::All => self.all = Some(i),
        }
        Ok(None)
    }

    /// The best entry for a subscriber's URI: its user entry, else its domain's, else the
    /// entry for all. A URI that does not parse matches only the entry for all.
    pub fn lookup(&self, uri: &str) -> Option<&Watcher> {
        let user = aor_key(uri, "watcher")
            .ok()
            .and_then(|k| self.users.get(&k).copied());
        let domain = || {
            domain_key(uri, "watcher")
                .ok()
                .flatten()
                .and_then(|k| self.domains.get(&k).copied())
        };
        user.or_else(domain)
            .or(self.all)
            .and_then(|i| self.entries.get(i))
    }

    /// The entry with exactly this scope and URI, to change its name, state or persistence.
    pub fn get_mut(&mut self, uri: &str, scope: Scope) -> Option<&mut Watcher> {
        let probe = Watcher::new(uri, WatcherState::Unknown, scope);
        let i = self.slot_of(&probe).ok().flatten()?;
        self.entries.get_mut(i)
    }

    /// Removes the entry with exactly this scope and URI.
    pub fn remove(&mut self, uri: &str, scope: Scope) -> Option<Watcher> {
        let probe = Watcher::new(uri, WatcherState::Unknown, scope);
        let i = match Self::slot(&probe).ok()? {
            Slot::User(k) => self.users.remove(&k)?,
            Slot::Domain(k) => self.domains.remove(&k)?,
            Slot::All => self.all.take()?,
        };
        let removed = self.entries.swap_remove(i);
        // The last entry moved into slot i: repoint its index.
        if let Some(moved) = self.entries.get(i) {
            match Self::slot(moved) {
                Ok(Slot::User(k)) => {
                    self.users.insert(k, i);
                }
                Ok(Slot::Domain(k)) => {
                    self.domains.insert(k, i);
                }
                Ok(Slot::All) => self.all = Some(i),
                Err(_) => {}
            }
        }
        Some(removed)
    }

    /// What to do with a watcher that subscribes from `uri`: its best entry decides
    /// (allowed → allow, blocked → block, denied → reject, anything else → offer); without
    /// one, [`OfferMode::Offer`] offers it, and [`OfferMode::AutoAdd`] allows it in
    /// [`PrivacyMode::BlockList`] and blocks it in [`PrivacyMode::AllowListOnly`].
    ///
    /// Errors when `uri` does not parse.
    pub fn policy(&self, uri: &str) -> Result<WatcherDecision> {
        aor_key(uri, "watcher")?;
        Ok(match self.lookup(uri).map(|w| w.state) {
            Some(WatcherState::Allowed) => WatcherDecision::Allow,
            Some(WatcherState::Blocked) => WatcherDecision::Block,
            Some(WatcherState::Denied) => WatcherDecision::Reject,
            Some(WatcherState::Unknown | WatcherState::Offering | WatcherState::Prompt) => {
                WatcherDecision::Offer
            }
            None => self.undecided(),
        })
    }

    fn undecided(&self) -> WatcherDecision {
        match (self.offer, self.privacy) {
            (OfferMode::Offer, _) => WatcherDecision::Offer,
            (OfferMode::AutoAdd, PrivacyMode::BlockList) => WatcherDecision::Allow,
            (OfferMode::AutoAdd, PrivacyMode::AllowListOnly) => WatcherDecision::Block,
        }
    }

    /// [`WatcherList::policy`], and for a watcher without a user entry of its own, adds one
    /// (persistent, named `name`): `offering` when offered, else allowed or blocked as
    /// decided. The application answers an offer with [`WatcherList::get_mut`].
    pub fn admit(&mut self, uri: &str, name: &str) -> Result<WatcherDecision> {
        let decision = self.policy(uri)?;
        let has_own = self.lookup(uri).is_some_and(|w| w.scope == Scope::User);
        if !has_own {
            let state = match decision {
                WatcherDecision::Allow => WatcherState::Allowed,
                WatcherDecision::Block => WatcherState::Blocked,
                WatcherDecision::Reject => WatcherState::Denied,
                WatcherDecision::Offer => WatcherState::Offering,
            };
            let mut w = Watcher::new(uri, state, Scope::User);
            w.name = name.into();
            self.add(w)?;
        }
        Ok(decision)
    }

    /// Every entry: in the order added, a replaced entry keeping its place and a removed
    /// one's place taken by the last entry.
    pub fn iter(&self) -> impl Iterator<Item = &Watcher> {
        self.entries.iter()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Takes the entries out, in the list's order.
    pub(crate) fn into_entries(self) -> Vec<Watcher> {
        self.entries
    }

    /// Removes every entry; the modes stay.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.users.clear();
        self.domains.clear();
        self.all = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> WatcherList {
        let mut l = WatcherList::default();
        l.add(Watcher::new(
            "sip:anyone@invalid",
            WatcherState::Denied,
            Scope::All,
        ))
        .unwrap();
        l.add(Watcher::new(
            "sip:Example.com",
            WatcherState::Blocked,
            Scope::Domain,
        ))
        .unwrap();
        l.add(Watcher::new(
            "sip:boss@example.com",
            WatcherState::Allowed,
            Scope::User,
        ))
        .unwrap();
        l
    }

    #[test]
    fn best_match_is_user_then_domain_then_all() {
        let l = list();
        assert_eq!(
            l.lookup("sip:boss@example.com;transport=tcp")
                .map(|w| w.scope),
            Some(Scope::User)
        );
        assert_eq!(
            l.lookup("sip:x@EXAMPLE.COM").map(|w| w.scope),
            Some(Scope::Domain)
        );
        assert_eq!(
            l.lookup("sip:x@other.org").map(|w| w.scope),
            Some(Scope::All)
        );
        assert_eq!(l.lookup("garbage").map(|w| w.scope), Some(Scope::All));
        assert_eq!(
            l.policy("sip:x@other.org").unwrap(),
            WatcherDecision::Reject
        );
        assert!(l.policy("garbage").is_err());
    }

    #[test]
    fn modes_decide_for_unknown_watchers() {
        let mut l = WatcherList::default();
        assert_eq!(l.policy("sip:a@b").unwrap(), WatcherDecision::Offer);
        l.offer = OfferMode::AutoAdd;
        assert_eq!(l.policy("sip:a@b").unwrap(), WatcherDecision::Allow);
        l.privacy = PrivacyMode::AllowListOnly;
        assert_eq!(l.policy("sip:a@b").unwrap(), WatcherDecision::Block);
        l.offer = OfferMode::Offer;
        assert_eq!(l.admit("sip:a@b", "A").unwrap(), WatcherDecision::Offer);
        assert_eq!(
            l.lookup("sip:a@b").map(|w| w.state),
            Some(WatcherState::Offering)
        );
        l.get_mut("sip:a@b", Scope::User).unwrap().state = WatcherState::Allowed;
        assert_eq!(l.admit("sip:a@b", "A").unwrap(), WatcherDecision::Allow);
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn remove_repoints_moved_entries() {
        let mut l = list();
        assert!(l.remove("sip:anyone@invalid", Scope::All).is_some());
        assert_eq!(
            l.lookup("sip:boss@example.com").map(|w| w.state),
            Some(WatcherState::Allowed)
        );
        assert_eq!(
            l.lookup("sip:x@example.com").map(|w| w.state),
            Some(WatcherState::Blocked)
        );
        assert!(l.lookup("sip:x@other.org").is_none());
        assert!(l.remove("sip:example.com", Scope::Domain).is_some());
        assert_eq!(
            l.lookup("sip:boss@example.com").map(|w| w.state),
            Some(WatcherState::Allowed)
        );
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn domain_entries_need_a_sip_uri() {
        let mut l = WatcherList::default();
        assert!(
            l.add(Watcher::new(
                "tel:+123",
                WatcherState::Blocked,
                Scope::Domain
            ))
            .is_err()
        );
        assert!(
            l.add(Watcher::new(
                "not a uri",
                WatcherState::Blocked,
                Scope::User
            ))
            .is_err()
        );
    }
}
