//! Buddies (the presentities we watch) and their groups.
//!
//! A buddy is identified by its address of record: [`BuddyList`] indexes buddies by a key
//! built from the parsed URI (scheme, user with `%HH` escapes decoded, host in lower case,
//! port; parameters and headers ignored), so `sip:Bob@Example.COM;transport=tcp` and
//! `sip:Bob@example.com` are the same buddy. Groups are indexed by name. Every lookup, add and
//! remove of a buddy or a group is one hash probe (plus, for a group, a step in an ordered
//! map that keeps groups in the order added), so building a list of n entries is O(n log n)
//! at worst, whatever the input.
//!
//! ```
//! use presence::{Buddy, BuddyList, Group, SubscriptionType};
//!
//! let mut list = BuddyList::default();
//! list.add_group(Group::new("Friends"));
//! let mut bob = Buddy::new("sip:bob@example.com", "Bob")?;
//! bob.groups.push("Friends".into());
//! list.add(bob)?;
//! assert_eq!(list.get("sip:bob@EXAMPLE.com").map(|b| &*b.name), Some("Bob"));
//! assert_eq!(list.in_group("Friends").count(), 1);
//! list.remove_group("Friends");
//! assert!(list.get("sip:bob@example.com").unwrap().groups.is_empty());
//! # Ok::<(), presence::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap};

use sip_parse::{Host, Uri};

use crate::error::{Error, Result};

/// How a buddy's presence is obtained (the RTC `RTC_BUDDY_SUBSCRIPTION_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SubscriptionType {
    /// Subscribe to its presence (RFC 3856).
    #[default]
    Subscribed,
    /// Do not subscribe; always show online.
    AlwaysOnline,
    /// Do not subscribe; always show offline.
    AlwaysOffline,
    /// Fetch now and then (SUBSCRIBE with `Expires: 0`, RFC 6665 §4.4.3) instead of
    /// keeping a subscription.
    Poll,
}

impl SubscriptionType {
    /// Every value.
    pub const ALL: [SubscriptionType; 4] = [
        SubscriptionType::Subscribed,
        SubscriptionType::AlwaysOnline,
        SubscriptionType::AlwaysOffline,
        SubscriptionType::Poll,
    ];

    /// The token used in the store.
    pub const fn as_str(self) -> &'static str {
        match self {
            SubscriptionType::Subscribed => "subscribed",
            SubscriptionType::AlwaysOnline => "always-online",
            SubscriptionType::AlwaysOffline => "always-offline",
            SubscriptionType::Poll => "poll",
        }
    }

    pub(crate) fn from_token(s: &str) -> Option<Self> {
        SubscriptionType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A buddy (`IRTCBuddy`): a presentity on our list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buddy {
    /// Its URI, as given.
    pub uri: Box<str>,
    /// Display name.
    pub name: Box<str>,
    /// Application data, kept verbatim.
    pub data: Box<str>,
    /// Whether the buddy is kept in the store.
    pub persistent: bool,
    /// The names of the groups it belongs to.
    pub groups: Vec<Box<str>>,
    /// How its presence is obtained.
    pub subscription: SubscriptionType,
}

impl Buddy {
    /// A persistent, subscribed buddy in no group, without data. Fails when `uri` does not
    /// parse as a URI.
    pub fn new(uri: &str, name: &str) -> Result<Buddy> {
        aor_key(uri, "buddy")?;
        Ok(Buddy {
            uri: uri.into(),
            name: name.into(),
            data: "".into(),
            persistent: true,
            groups: Vec::new(),
            subscription: SubscriptionType::Subscribed,
        })
    }
}

/// A group of buddies (`IRTCBuddyGroup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group's name, unique in the list.
    pub name: Box<str>,
    /// Application data, kept verbatim.
    pub data: Box<str>,
}

impl Group {
    /// A group without data.
    pub fn new(name: &str) -> Group {
        Group {
            name: name.into(),
            data: "".into(),
        }
    }
}

/// The buddy list and its groups, indexed by address of record.
#[derive(Debug, Clone, Default)]
pub struct BuddyList {
    buddies: Vec<Buddy>,
    index: HashMap<Box<str>, usize>,
    /// Groups by a sequence number given when first added: iteration in the order added,
    /// removal without shifting the others.
    groups: BTreeMap<u64, Group>,
    /// Group name → its key in `groups`.
    group_index: HashMap<Box<str>, u64>,
    next_group: u64,
}

impl PartialEq for BuddyList {
    /// Same buddies (in any order) and same groups (in any order).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.groups.len() == other.groups.len()
            && self.index.iter().all(|(key, &i)| {
                other.index.get(key).and_then(|&j| other.buddies.get(j)) == self.buddies.get(i)
            })
            && self
                .groups
                .values()
                .all(|g| other.group(&g.name) == Some(g))
    }
}

impl Eq for BuddyList {}

impl BuddyList {
    /// Adds a buddy, or replaces the one with the same address of record (returned). A
    /// buddy whose URI does not parse is refused with [`Error::InvalidUri`].
    pub fn add(&mut self, buddy: Buddy) -> Result<Option<Buddy>> {
        let key = aor_key(&buddy.uri, "buddy")?;
        Ok(match self.index.get(&key) {
            Some(&i) => self
                .buddies
                .get_mut(i)
                .map(|slot| std::mem::replace(slot, buddy)),
            None => {
                self.index.insert(key, self.buddies.len());
                self.buddies.push(buddy);
                None
            }
        })
    }

    /// The buddy with the address of record of `uri`.
    pub fn get(&self, uri: &str) -> Option<&Buddy> {
        let key = aor_key(uri, "buddy").ok()?;
        self.index.get(&key).and_then(|&i| self.buddies.get(i))
    }

    /// The buddy with the address of record of `uri`, to change it (its URI must keep the
    /// same address of record).
    pub fn get_mut(&mut self, uri: &str) -> Option<&mut Buddy> {
        let key = aor_key(uri, "buddy").ok()?;
        let i = *self.index.get(&key)?;
        self.buddies.get_mut(i)
    }

    /// Removes and returns the buddy with the address of record of `uri`.
    pub fn remove(&mut self, uri: &str) -> Option<Buddy> {
        let key = aor_key(uri, "buddy").ok()?;
        let i = self.index.remove(&key)?;
        let removed = self.buddies.swap_remove(i);
        // The last buddy moved into slot i: point its key there.
        if let Some(Ok(moved_key)) = self.buddies.get(i).map(|m| aor_key(&m.uri, "buddy")) {
            self.index.insert(moved_key, i);
        }
        Some(removed)
    }

    /// Every buddy: in the order added, a replaced buddy keeping its place and a removed
    /// one's place taken by the last buddy (so the order, and the store written from it,
    /// depends only on the calls made).
    pub fn iter(&self) -> impl Iterator<Item = &Buddy> {
        self.buddies.iter()
    }

    /// Number of buddies.
    pub fn len(&self) -> usize {
        self.buddies.len()
    }

    /// Whether there is no buddy.
    pub fn is_empty(&self) -> bool {
        self.buddies.is_empty()
    }

    /// Removes every buddy and group.
    pub fn clear(&mut self) {
        *self = BuddyList::default();
    }

    /// Adds a group, or replaces the one with the same name (returned; the group keeps its
    /// place in the order).
    pub fn add_group(&mut self, group: Group) -> Option<Group> {
        if let Some(slot) = self
            .group_index
            .get(&group.name)
            .and_then(|seq| self.groups.get_mut(seq))
        {
            return Some(std::mem::replace(slot, group));
        }
        let seq = self.next_group;
        self.next_group += 1;
        self.group_index.insert(group.name.clone(), seq);
        self.groups.insert(seq, group);
        None
    }

    /// The group called `name`.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.group_index
            .get(name)
            .and_then(|seq| self.groups.get(seq))
    }

    /// Every group, in the order added.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// Number of groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Removes the group called `name` and every buddy's membership in it (one pass over
    /// the buddies).
    pub fn remove_group(&mut self, name: &str) -> Option<Group> {
        let seq = self.group_index.remove(name)?;
        for b in &mut self.buddies {
            b.groups.retain(|g| &**g != name);
        }
        self.groups.remove(&seq)
    }

    /// Takes the list apart: its groups in the order added and its buddies.
    pub(crate) fn into_parts(self) -> (impl Iterator<Item = Group>, Vec<Buddy>) {
        (self.groups.into_values(), self.buddies)
    }

    /// The buddies in group `name`.
    pub fn in_group<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Buddy> + 'a {
        self.buddies
            .iter()
            .filter(move |b| b.groups.iter().any(|g| &**g == name))
    }
}

/// The address-of-record key of `uri`: scheme, decoded user, lower-case host and port for
/// SIP and SIPS; the number without visual separators for tel; the text with a lower-case
/// scheme otherwise. `what` names the URI in the error.
pub(crate) fn aor_key(uri: &str, what: &'static str) -> Result<Box<str>> {
    let parsed = Uri::parse(uri.trim()).map_err(|source| Error::InvalidUri {
        what,
        uri: uri.chars().take(256).collect(),
        source,
    })?;
    Ok(match parsed {
        Uri::Sip(sip) => {
            let mut key = String::with_capacity(uri.len());
            key.push_str(if sip.secure { "sips:" } else { "sip:" });
            if let Some(user) = sip.user_decoded() {
                // Decoded bytes may not be UTF-8; escape them back so the key stays exact.
                for &b in user.iter() {
                    if b.is_ascii_graphic() && b != b'%' && b != b'@' {
                        key.push(char::from(b));
                    } else {
                        key.push_str(&format!("%{b:02X}"));
                    }
                }
                key.push('@');
            }
            push_host(&mut key, &sip.host);
            if let Some(port) = sip.port {
                key.push_str(&format!(":{port}"));
            }
            key.into()
        }
        Uri::Tel(tel) => {
            let digits: String = tel
                .number
                .chars()
                .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
                .flat_map(char::to_lowercase)
                .collect();
            format!("tel:{digits}").into()
        }
        Uri::Absolute(abs) => format!("{}:{}", abs.scheme.to_ascii_lowercase(), abs.rest).into(),
    })
}

/// The lower-case domain of a SIP URI (`None` for other schemes).
pub(crate) fn domain_key(uri: &str, what: &'static str) -> Result<Option<Box<str>>> {
    let parsed = Uri::parse(uri.trim()).map_err(|source| Error::InvalidUri {
        what,
        uri: uri.chars().take(256).collect(),
        source,
    })?;
    Ok(parsed.as_sip().map(|sip| {
        let mut key = String::new();
        push_host(&mut key, &sip.host);
        key.into()
    }))
}

fn push_host(key: &mut String, host: &Host<'_>) {
    match host {
        Host::Domain(d) => key.push_str(&d.to_ascii_lowercase()),
        Host::Ipv4(a) => key.push_str(&a.to_string()),
        Host::Ipv6(a) => key.push_str(&format!("[{a}]")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aor_key_ignores_case_of_host_and_parameters_but_not_user() {
        let k = |u| aor_key(u, "buddy").unwrap();
        assert_eq!(
            k("sip:bob@Example.COM;transport=tcp"),
            k("sip:bob@example.com")
        );
        assert_eq!(k("sip:%62ob@example.com"), k("sip:bob@example.com"));
        assert_ne!(k("sip:Bob@example.com"), k("sip:bob@example.com"));
        assert_ne!(k("sips:bob@example.com"), k("sip:bob@example.com"));
        assert_ne!(k("sip:bob@example.com:5060"), k("sip:bob@example.com"));
        assert_eq!(k("tel:+1-201-555-0123"), k("tel:+12015550123"));
        assert!(matches!(
            aor_key("not a uri", "buddy"),
            Err(Error::InvalidUri { what: "buddy", .. })
        ));
    }

    #[test]
    fn a_buddy_stays_small() {
        // The 2 KiB-per-buddy budget includes its subscription state: keep the entry compact.
        assert!(
            std::mem::size_of::<Buddy>() <= 80,
            "{}",
            std::mem::size_of::<Buddy>()
        );
    }

    #[test]
    fn remove_keeps_the_index_right() {
        let mut list = BuddyList::default();
        for i in 0..5 {
            list.add(Buddy::new(&format!("sip:u{i}@example.com"), "").unwrap())
                .unwrap();
        }
        assert!(list.remove("sip:u1@example.com").is_some());
        assert!(list.remove("sip:u1@example.com").is_none());
        for i in [0, 2, 3, 4] {
            let uri = format!("sip:u{i}@example.com");
            assert_eq!(list.get(&uri).map(|b| &*b.uri), Some(uri.as_str()));
        }
        assert_eq!(list.len(), 4);
    }

    #[test]
    fn groups_keep_the_order_added_through_replace_and_remove() {
        let mut list = BuddyList::default();
        for name in ["a", "b", "c", "d"] {
            assert!(list.add_group(Group::new(name)).is_none());
        }
        let mut bob = Buddy::new("sip:bob@example.com", "Bob").unwrap();
        bob.groups = vec!["b".into(), "c".into()];
        list.add(bob).unwrap();
        let old = list.add_group(Group {
            name: "b".into(),
            data: "new".into(),
        });
        assert_eq!(old, Some(Group::new("b")));
        assert_eq!(list.remove_group("c"), Some(Group::new("c")));
        assert_eq!(list.remove_group("c"), None);
        assert!(list.add_group(Group::new("c")).is_none());
        let names: Vec<&str> = list.groups().map(|g| &*g.name).collect();
        assert_eq!(names, ["a", "b", "d", "c"]);
        assert_eq!(list.group_count(), 4);
        assert_eq!(list.group("b").map(|g| &*g.data), Some("new"));
        // Removing the group removed the membership; re-adding it does not restore it.
        let bob = list.get("sip:bob@example.com").unwrap();
        assert_eq!(bob.groups, ["b".into()] as [Box<str>; 1]);
        assert_eq!(list.in_group("c").count(), 0);
        assert_eq!(list.in_group("b").count(), 1);
    }

    #[test]
    fn adding_the_same_aor_replaces() {
        let mut list = BuddyList::default();
        assert!(
            list.add(Buddy::new("sip:bob@example.com", "Bob").unwrap())
                .unwrap()
                .is_none()
        );
        let old = list
            .add(Buddy::new("sip:bob@EXAMPLE.com", "Robert").unwrap())
            .unwrap();
        assert_eq!(old.map(|b| b.name), Some("Bob".into()));
        assert_eq!(list.len(), 1);
        let bad = Buddy {
            uri: "nope".into(),
            ..Buddy::new("sip:x@y", "").unwrap()
        };
        assert!(list.add(bad).is_err());
    }
}
