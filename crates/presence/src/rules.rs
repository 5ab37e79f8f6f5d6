//! Presence authorization rules: RFC 5025 pres-rules on RFC 4745 common-policy, the document
//! a presence server reads to decide who may watch us, kept on an XCAP server.
//!
//! [`Ruleset`] is the whole document: parsed ([`Ruleset::parse`], bounded, errors with a line
//! and column), written ([`Ruleset::to_xml`]), changed one watcher at a time
//! ([`Ruleset::set_watcher`]) or all at once from the local [`WatcherList`]
//! ([`Ruleset::sync_watchers`]), read back into it ([`Ruleset::apply_to`]), and merged three
//! ways ([`Ruleset::merge`]) when a conditional PUT fails with 412 because another device
//! changed the document meanwhile.
//!
//! # How RTC decisions map to `sub-handling` (RFC 5025 §3.2.1)
//!
//! | watcher state / decision | `sub-handling` | what the server does |
//! |---|---|---|
//! | allowed / [`WatcherDecision::Allow`] | `allow` | active, full presence (`provide-all` transformations) |
//! | blocked / [`WatcherDecision::Block`] | `polite-block` | active, but sees us offline |
//! | denied / [`WatcherDecision::Reject`] | `block` | terminated, `reason=rejected` |
//! | unknown, offering, prompt / [`WatcherDecision::Offer`] | `confirm` | pending, offered through `presence.winfo` |
//! | removed | no rule of its own | the default rule decides |
//!
//! The default rule (for watchers without an entry) follows the privacy and offer modes: offer
//! mode → `confirm`; auto-add in block-list mode → `allow`; auto-add in allow-list-only mode →
//! `polite-block` (see [`SubHandling::for_modes`]).
//!
//! # Rules this module writes
//!
//! One rule per user (`rtc-u-…`, an `<one>` identity), per domain (`rtc-d-…`, `<many domain>`)
//! and one default rule (`rtc-default`, `<many>`), with ids derived from the address so two
//! devices deciding about the same watcher edit the same rule. RFC 4745 combines every
//! matching rule by taking the most permissive value, so the domain and default rules list the
//! more specific identities as `<except>`: the rules never overlap, and the most specific
//! entry decides, as [`WatcherList::policy`] does locally. Rules are also written most
//! specific first, which is what servers that take the first matching rule (Kamailio's
//! `presence_xml`) need. Rules written by other clients are kept, except that a watcher given
//! a rule here is taken out of their `<one>` lists.
//!
//! ```
//! use presence::rules::{Ruleset, SubHandling};
//!
//! let mut rules = Ruleset::default();
//! rules.set_default(Some(SubHandling::Confirm));
//! rules.set_watcher("sip:bob@example.com", Some(SubHandling::PoliteBlock))?;
//! rules.set_watcher("sip:carol@example.com;transport=tcp", Some(SubHandling::Allow))?;
//! assert_eq!(rules.evaluate("sip:bob@example.com"), Some(SubHandling::PoliteBlock));
//! assert_eq!(rules.evaluate("sip:dave@example.org"), Some(SubHandling::Confirm));
//! let xml = rules.to_xml();
//! assert!(xml.contains(r#"<cr:one id="sip:carol@example.com"/>"#));
//! assert_eq!(Ruleset::parse(xml.as_bytes())?, rules);
//! rules.set_watcher("sip:bob@example.com", None)?;
//! assert_eq!(rules.evaluate("sip:bob@example.com"), Some(SubHandling::Confirm));
//! # Ok::<(), presence::Error>(())
//! ```

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::buddy::{aor_key, domain_key};
use crate::error::{Error, Result};
use crate::watcher::WatcherState;
use crate::watcher::{OfferMode, PrivacyMode, Scope, Watcher, WatcherDecision, WatcherList};
use crate::xml::{self, DoctypePolicy, Document, Element, Extension, XmlLimits};

/// The common-policy namespace (RFC 4745 §13.2).
pub const NS_COMMON_POLICY: &str = "urn:ietf:params:xml:ns:common-policy";
/// The pres-rules namespace (RFC 5025 §9.3).
pub const NS_PRES_RULES: &str = "urn:ietf:params:xml:ns:pres-rules";
/// The media type of a pres-rules document (RFC 5025 §9.1, RFC 4745 §13.1).
pub const CONTENT_TYPE: &str = "application/auth-policy+xml";
/// The XCAP application usage (RFC 5025 §9.2): documents live under `{root}/pres-rules/`.
pub const AUID: &str = "pres-rules";
/// The id of the default rule this module writes.
pub const DEFAULT_RULE_ID: &str = "rtc-default";

const CP: &str = NS_COMMON_POLICY;
const PR: &str = NS_PRES_RULES;

/// A pres-rules document: `<ruleset>` (RFC 4745 §6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    /// The rules, in document order; ids are unique.
    pub rules: Vec<Rule>,
}

/// A `<rule>`: when its conditions hold, its actions and transformations apply (RFC 4745 §6).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule {
    /// `id`, an `xs:ID` unique in the document.
    pub id: String,
    /// `<conditions>`: all must hold (an absent or empty one always holds, RFC 4745 §10.1).
    pub conditions: Conditions,
    /// `<actions>`.
    pub actions: Actions,
    /// `<transformations>`.
    pub transformations: Transformations,
}

/// `<conditions>` (RFC 4745 §7).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Conditions {
    /// `<identity>`: who the rule is for; `None` matches everyone.
    pub identity: Option<Identity>,
    /// `<sphere value>`: the presentity's current sphere must be this (RFC 4745 §7.2).
    pub sphere: Option<String>,
    /// `<validity>`: `(from, until)` `xs:dateTime` pairs, as written (RFC 4745 §7.3).
    pub validity: Vec<(String, String)>,
    /// Conditions of other namespaces, kept as read.
    pub other: Vec<Extension>,
}

/// `<identity>`: the rule matches a watcher named by one of its `<one>` or `<many>` children
/// (RFC 4745 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Identity {
    /// `<one id>`: one authenticated identity each (`sip:user@domain`).
    pub one: Vec<String>,
    /// `<many>`: everyone, or everyone of a domain, with exceptions.
    pub many: Vec<Many>,
    /// Identity extensions of other namespaces, kept as read.
    pub other: Vec<Extension>,
}

/// `<many>`: every authenticated identity, or those of `domain`, except some (RFC 4745 §7.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Many {
    /// `domain`: only identities of this domain.
    pub domain: Option<String>,
    /// `<except>` children.
    pub except: Vec<Except>,
}

/// An `<except>`: an identity or a domain left out of a [`Many`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Except {
    /// `id`: one identity.
    Id(String),
    /// `domain`: a whole domain (only in a `<many>` without domain).
    Domain(String),
}

/// `<actions>` (RFC 4745 §8, RFC 5025 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actions {
    /// `<sub-handling>`.
    pub sub_handling: Option<SubHandling>,
    /// Actions of other namespaces, kept as read.
    pub other: Vec<Extension>,
}

/// `<sub-handling>`: what happens to a subscription the rule matches (RFC 5025 §3.2.1).
/// Ordered as the RFC's values (0, 10, 20, 30): when several rules match, the greatest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SubHandling {
    /// `block`: rejected.
    Block,
    /// `confirm`: pending until the presentity decides (offered through `presence.winfo`).
    Confirm,
    /// `polite-block`: accepted, but the watcher sees nothing (offline).
    PoliteBlock,
    /// `allow`: accepted, with what the transformations grant.
    Allow,
}

/// `<transformations>`: what an allowed watcher may see (RFC 5025 §3.3). Without any
/// `provide-*`, an allowed watcher sees nothing, so rules that allow grant everything
/// ([`Transformations::provide_all`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transformations {
    /// `<provide-services>` (RFC 5025 §3.3.1).
    pub services: Option<Provide>,
    /// `<provide-persons>` (RFC 5025 §3.3.2).
    pub persons: Option<Provide>,
    /// `<provide-devices>` (RFC 5025 §3.3.3).
    pub devices: Option<Provide>,
    /// `<provide-all-attributes/>` (RFC 5025 §3.3.5).
    pub all_attributes: bool,
    /// Other transformations (`provide-activities`, …), kept as read.
    pub other: Vec<Extension>,
}

/// The content of a `provide-services`, `provide-persons` or `provide-devices` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provide {
    /// `<all-services/>`, `<all-persons/>` or `<all-devices/>`.
    All,
    /// Selected ones (`<class>`, `<occurrence-id>`, `<service-uri>`, …), kept as read.
    Only(Vec<Extension>),
}

/// Which side a merge conflict was resolved for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// This device's edit.
    Ours,
    /// The server's document, another device's edit.
    Theirs,
}

/// Both sides changed the same part of a rule differently, in [`Ruleset::merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The rule's id.
    pub rule: String,
    /// What both changed: `sub-handling`, `deleted and edited`, `conditions`, …
    pub what: &'static str,
    /// The side kept.
    pub kept: Side,
}

/// The outcome of [`Ruleset::merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The merged document, to PUT with the ETag of `theirs`.
    pub ruleset: Ruleset,
    /// Where both sides changed the same thing, and which edit was kept.
    pub conflicts: Vec<Conflict>,
}

impl SubHandling {
    /// Every value, most restrictive first.
    pub const ALL: [SubHandling; 4] = [
        SubHandling::Block,
        SubHandling::Confirm,
        SubHandling::PoliteBlock,
        SubHandling::Allow,
    ];

    /// The XML token.
    pub const fn as_str(self) -> &'static str {
        match self {
            SubHandling::Block => "block",
            SubHandling::Confirm => "confirm",
            SubHandling::PoliteBlock => "polite-block",
            SubHandling::Allow => "allow",
        }
    }

    fn from_token(s: &str) -> Option<Self> {
        SubHandling::ALL.into_iter().find(|h| h.as_str() == s)
    }

    /// The rule for a watcher entry in `state` (an entry not yet decided is offered, as
    /// [`WatcherList::policy`] does).
    ///
    /// ```
    /// use presence::WatcherState;
    /// use presence::rules::SubHandling;
    /// assert_eq!(SubHandling::for_state(WatcherState::Blocked), SubHandling::PoliteBlock);
    /// assert_eq!(SubHandling::for_state(WatcherState::Denied), SubHandling::Block);
    /// assert_eq!(SubHandling::for_state(WatcherState::Unknown), SubHandling::Confirm);
    /// ```
    pub const fn for_state(state: WatcherState) -> SubHandling {
        match state {
            WatcherState::Unknown | WatcherState::Offering | WatcherState::Prompt => {
                SubHandling::Confirm
            }
            WatcherState::Allowed => SubHandling::Allow,
            WatcherState::Blocked => SubHandling::PoliteBlock,
            WatcherState::Denied => SubHandling::Block,
        }
    }

    /// The default rule for watchers without an entry, from the modes (as
    /// [`WatcherList::policy`] decides for them).
    pub const fn for_modes(privacy: PrivacyMode, offer: OfferMode) -> SubHandling {
        match (offer, privacy) {
            (OfferMode::Offer, _) => SubHandling::Confirm,
            (OfferMode::AutoAdd, PrivacyMode::BlockList) => SubHandling::Allow,
            (OfferMode::AutoAdd, PrivacyMode::AllowListOnly) => SubHandling::PoliteBlock,
        }
    }

    /// The watcher state this rule stands for (the inverse of [`SubHandling::for_state`];
    /// `confirm` reads as offering).
    pub const fn watcher_state(self) -> WatcherState {
        match self {
            SubHandling::Block => WatcherState::Denied,
            SubHandling::Confirm => WatcherState::Offering,
            SubHandling::PoliteBlock => WatcherState::Blocked,
            SubHandling::Allow => WatcherState::Allowed,
        }
    }
}

impl From<WatcherDecision> for SubHandling {
    /// The rule that makes the server do what the decision says.
    fn from(d: WatcherDecision) -> Self {
        match d {
            WatcherDecision::Allow => SubHandling::Allow,
            WatcherDecision::Block => SubHandling::PoliteBlock,
            WatcherDecision::Reject => SubHandling::Block,
            WatcherDecision::Offer => SubHandling::Confirm,
        }
    }
}

impl Transformations {
    /// Everything: all services, persons and devices with all their attributes
    /// (RFC 5025 §3.3).
    pub fn provide_all() -> Self {
        Transformations {
            services: Some(Provide::All),
            persons: Some(Provide::All),
            devices: Some(Provide::All),
            all_attributes: true,
            other: Vec::new(),
        }
    }
}

impl Identity {
    fn is_empty(&self) -> bool {
        self.one.is_empty() && self.many.is_empty() && self.other.is_empty()
    }
}

impl Rule {
    /// A rule for `identity` with `handling`, granting everything when it allows.
    pub fn new(id: &str, identity: Identity, handling: SubHandling) -> Rule {
        Rule {
            id: id.to_owned(),
            conditions: Conditions {
                identity: Some(identity),
                ..Conditions::default()
            },
            actions: Actions {
                sub_handling: Some(handling),
                other: Vec::new(),
            },
            transformations: if handling == SubHandling::Allow {
                Transformations::provide_all()
            } else {
                Transformations::default()
            },
        }
    }

    /// Whether this is a rule this module writes (and keeps consistent).
    fn is_managed(&self) -> bool {
        self.id.starts_with("rtc-u-") || self.id.starts_with("rtc-d-") || self.id == DEFAULT_RULE_ID
    }

    /// Whether only an identity condition constrains the rule (so it can be evaluated).
    fn identity_only(&self) -> bool {
        let c = &self.conditions;
        c.sphere.is_none() && c.validity.is_empty() && c.other.is_empty()
    }

    /// Whether the rule's conditions hold for the watcher `uri` (identity only: a rule with
    /// other conditions never matches here).
    fn matches(&self, key: &str, domain: Option<&str>) -> bool {
        if !self.identity_only() {
            return false;
        }
        let Some(identity) = &self.conditions.identity else {
            return true;
        };
        identity.one.iter().any(|id| identity_key(id) == key)
            || identity.many.iter().any(|m| {
                let in_domain = match (&m.domain, domain) {
                    (None, _) => true,
                    (Some(d), Some(w)) => d.eq_ignore_ascii_case(w),
                    (Some(_), None) => false,
                };
                in_domain
                    && !m.except.iter().any(|e| match e {
                        Except::Id(id) => identity_key(id) == key,
                        Except::Domain(d) => domain.is_some_and(|w| d.eq_ignore_ascii_case(w)),
                    })
            })
    }

    /// How specific the rule is: users first, then domains, then the rest (the order rules
    /// are written in, for servers that take the first match).
    fn rank(&self) -> u8 {
        match &self.conditions.identity {
            Some(i) if i.many.is_empty() => 0,
            Some(i) if i.many.iter().all(|m| m.domain.is_some()) => 1,
            _ => 2,
        }
    }
}

/// The key an identity is compared by: its address of record when it parses, else itself.
fn identity_key(id: &str) -> String {
    aor_key(id, "identity").map_or_else(|_| id.to_owned(), String::from)
}

/// The domain part of an identity key (`sip:user@domain` → `domain`), lower case.
fn key_domain(key: &str) -> Option<String> {
    domain_key(key, "identity").ok().flatten().map(String::from)
}

/// `prefix` + `text` with every byte outside `[A-Za-z0-9.-]` written `_XX`: an NCName.
fn managed_id(prefix: &str, text: &str) -> String {
    let mut id = String::with_capacity(prefix.len() + text.len() + 8);
    id.push_str(prefix);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
            id.push(char::from(b));
        } else {
            id.push_str(&format!("_{b:02X}"));
        }
    }
    id
}

impl Ruleset {
    /// Parses a pres-rules document with [`XmlLimits::lists`] (room for a rule for each of
    /// 10,000 watchers).
    pub fn parse(body: &[u8]) -> Result<Ruleset> {
        Ruleset::parse_with_limits(body, &XmlLimits::lists())
    }

    /// Parses a pres-rules document with explicit limits.
    pub fn parse_with_limits(body: &[u8], limits: &XmlLimits) -> Result<Ruleset> {
        let doc = Document::parse(body, limits, DoctypePolicy::Refuse)?;
        doc.expect_root(CP, "ruleset")?;
        let mut ids = HashSet::new();
        let mut rules = Vec::new();
        for el in doc.root.children_named(CP, "rule") {
            let rule = parse_rule(&doc, el)?;
            if !ids.insert(rule.id.clone()) {
                let at = el.attr("id").map_or(el.at, |a| a.at);
                return Err(doc.invalid("duplicate rule id", &rule.id, at));
            }
            rules.push(rule);
        }
        Ok(Ruleset { rules })
    }

    /// Writes the document (common-policy as `cr:`, pres-rules as `pr:`); [`Ruleset::parse`]
    /// gives back an equal value.
    pub fn to_xml(&self) -> String {
        xml::document(
            256 + 300 * self.rules.len(),
            "cr:ruleset",
            &[("xmlns:cr", CP), ("xmlns:pr", PR)],
            |out| {
                for r in &self.rules {
                    write_rule(out, r);
                }
            },
        )
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// What RFC 4745 §10 makes of a subscription from `uri`: the greatest `sub-handling` of
    /// the rules whose identity matches; `None` when no rule does (RFC 5025 servers then
    /// block; Kamailio leaves the subscription pending). Rules with sphere, validity or
    /// unknown conditions depend on what only the server knows and are not counted.
    pub fn evaluate(&self, uri: &str) -> Option<SubHandling> {
        let key = identity_key(uri);
        let domain = key_domain(&key);
        self.rules
            .iter()
            .filter(|r| r.matches(&key, domain.as_deref()))
            .filter_map(|r| r.actions.sub_handling)
            .max()
    }

    /// Gives the watcher `uri` a rule of its own with `handling`, or with `None` takes it out
    /// of every rule that names it, so the domain or default rule decides. Other rules'
    /// `<one>` entries for the same address are removed, so this rule is the one that counts.
    /// Errors when `uri` does not parse. Linear in the document (the except lists are
    /// recomputed): build a large ruleset at once with [`Ruleset::from_watchers`].
    pub fn set_watcher(&mut self, uri: &str, handling: Option<SubHandling>) -> Result<()> {
        let key = aor_key(uri, "watcher")?;
        let id = managed_id("rtc-u-", &key);
        let rule = handling.map(|h| {
            let identity = Identity {
                one: vec![key.to_string()],
                ..Identity::default()
            };
            Rule::new(&id, identity, h)
        });
        // A rule already there keeps its place, so that edits move nothing else.
        match (self.rules.iter().position(|r| r.id == id), rule) {
            (Some(i), Some(rule)) => {
                if let Some(slot) = self.rules.get_mut(i) {
                    *slot = rule;
                }
            }
            (Some(i), None) => {
                self.rules.remove(i);
            }
            (None, Some(rule)) => self.rules.push(rule),
            (None, None) => {}
        }
        self.forget_users(&HashSet::from([String::from(key)]), Some(&id));
        self.tidy();
        Ok(())
    }

    /// Sets (or with `None` removes) the rule for every watcher of the domain of `uri`, a SIP
    /// URI such as `sip:example.com`.
    pub fn set_domain(&mut self, uri: &str, handling: Option<SubHandling>) -> Result<()> {
        let domain = domain_key(uri, "watcher domain")?
            .ok_or_else(|| Error::DomainNotSip(uri.chars().take(256).collect()))?;
        let id = managed_id("rtc-d-", &domain);
        self.rules.retain(|r| r.id != id);
        if let Some(h) = handling {
            let identity = Identity {
                many: vec![Many {
                    domain: Some(domain.into()),
                    except: Vec::new(),
                }],
                ..Identity::default()
            };
            self.rules.push(Rule::new(&id, identity, h));
        }
        self.tidy();
        Ok(())
    }

    /// Sets (or with `None` removes) the default rule, for watchers no other rule names.
    pub fn set_default(&mut self, handling: Option<SubHandling>) {
        self.rules.retain(|r| r.id != DEFAULT_RULE_ID);
        if let Some(h) = handling {
            let identity = Identity {
                many: vec![Many::default()],
                ..Identity::default()
            };
            self.rules.push(Rule::new(DEFAULT_RULE_ID, identity, h));
        }
        self.tidy();
    }

    /// The rules for a whole watcher list: one per user and domain entry with a decision,
    /// and the default from the entry for all, else from the modes.
    pub fn from_watchers(list: &WatcherList) -> Ruleset {
        let mut rules = Ruleset {
            rules: managed_rules(list),
        };
        rules.tidy();
        rules
    }

    /// Makes the rules say what `list` says: this module's rules are replaced by
    /// [`Ruleset::from_watchers`]'s, other rules are kept, minus the `<one>` entries of
    /// watchers that now have a rule here.
    pub fn sync_watchers(&mut self, list: &WatcherList) {
        let ours = managed_rules(list);
        let users: HashSet<String> = ours
            .iter()
            .filter_map(|r| r.conditions.identity.as_ref())
            .flat_map(|i| i.one.iter().cloned())
            .collect();
        self.rules.retain(|r| !r.is_managed());
        self.forget_users(&users, None);
        self.rules.extend(ours);
        self.tidy();
    }

    /// The decisions the rules hold, as watcher entries: each `<one>`, `<many domain>` and
    /// `<many>` of a rule that has a `sub-handling` and no condition but its identity, in
    /// document order, with its [`Scope`] (an entry for all has an empty URI).
    pub fn entries(&self) -> impl Iterator<Item = (Scope, String, SubHandling)> + '_ {
        self.rules
            .iter()
            .filter(|r| r.identity_only())
            .filter_map(|r| Some((r.conditions.identity.as_ref()?, r.actions.sub_handling?)))
            .flat_map(|(i, h)| {
                let users = i.one.iter().map(move |id| (Scope::User, id.clone(), h));
                let many = i.many.iter().map(move |m| match &m.domain {
                    Some(d) => (Scope::Domain, format!("sip:{d}"), h),
                    None => (Scope::All, String::new(), h),
                });
                users.chain(many)
            })
    }

    /// Makes `list` say what the rules say: its user and domain entries become those of
    /// [`Ruleset::entries`] (names kept for watchers already listed; a user in several rules
    /// takes the last), and the default rule sets the modes: `confirm` → offer mode, `allow`
    /// → auto-add in block-list mode, `polite-block` → auto-add in allow-list-only mode,
    /// `block` → an entry for all, denied. Without a default rule, the modes stay.
    ///
    /// Identities that are not URIs a watcher entry can hold are skipped.
    /// [`Ruleset::from_watchers`] of the result gives back this module's rules.
    pub fn apply_to(&self, list: &mut WatcherList) {
        let names: HashMap<(Scope, String), Box<str>> = list
            .iter()
            .filter(|w| !w.name.is_empty())
            .map(|w| ((w.scope, w.uri.to_string()), w.name.clone()))
            .collect();
        let all_uri = list.iter().find(|w| w.scope == Scope::All).map_or_else(
            || "sip:anonymous@anonymous.invalid".into(),
            |w| w.uri.clone(),
        );
        list.clear();
        let mut default = None;
        for (scope, uri, h) in self.entries() {
            if scope == Scope::All {
                default = Some(h);
                continue;
            }
            let mut w = Watcher::new(&uri, h.watcher_state(), scope);
            if let Some(name) = names.get(&(scope, uri)) {
                w.name = name.clone();
            }
            // Skipped when the identity is no URI: nothing local can match it either.
            let _ = list.add(w);
        }
        match default {
            None => {}
            Some(h) if h == SubHandling::for_modes(list.privacy, list.offer) => {}
            Some(SubHandling::Confirm) => list.offer = OfferMode::Offer,
            Some(SubHandling::Allow) => {
                list.offer = OfferMode::AutoAdd;
                list.privacy = PrivacyMode::BlockList;
            }
            Some(SubHandling::PoliteBlock) => {
                list.offer = OfferMode::AutoAdd;
                list.privacy = PrivacyMode::AllowListOnly;
            }
            Some(SubHandling::Block) => {
                let _ = list.add(Watcher::new(&all_uri, WatcherState::Denied, Scope::All));
            }
        }
    }

    /// Merges two edits of one document (RFC 4825 §7.11: a conditional PUT failed with 412,
    /// so `theirs`, just read from the server, has changed since `base`, the version `ours`
    /// was edited from). Rules are matched by id; what only one side changed is taken from
    /// it; identities merge as sets, so two devices naming different watchers in the same
    /// rule both keep theirs. When both changed the same thing differently, the more
    /// restrictive `sub-handling` is kept, and for anything else their (the server's) edit;
    /// a rule edited on one side and deleted on the other is kept. Every such case is listed
    /// in [`Merged::conflicts`]. The result is tidied as this module's edits are.
    ///
    /// ```
    /// use presence::rules::{Ruleset, SubHandling};
    /// let mut base = Ruleset::default();
    /// base.set_default(Some(SubHandling::Confirm));
    /// let (mut ours, mut theirs) = (base.clone(), base.clone());
    /// ours.set_watcher("sip:bob@example.com", Some(SubHandling::Block))?;
    /// theirs.set_watcher("sip:carol@example.com", Some(SubHandling::Allow))?;
    /// let merged = Ruleset::merge(&base, &ours, &theirs);
    /// assert!(merged.conflicts.is_empty());
    /// assert_eq!(merged.ruleset.evaluate("sip:bob@example.com"), Some(SubHandling::Block));
    /// assert_eq!(merged.ruleset.evaluate("sip:carol@example.com"), Some(SubHandling::Allow));
    /// # Ok::<(), presence::Error>(())
    /// ```
    pub fn merge(base: &Ruleset, ours: &Ruleset, theirs: &Ruleset) -> Merged {
        let index = |r: &Ruleset| -> HashMap<String, Rule> {
            r.rules.iter().map(|r| (r.id.clone(), r.clone())).collect()
        };
        let (b, o, t) = (index(base), index(ours), index(theirs));
        let mut order: Vec<&str> = theirs.rules.iter().map(|r| r.id.as_str()).collect();
        order.extend(
            ours.rules
                .iter()
                .map(|r| r.id.as_str())
                .filter(|id| !t.contains_key(*id)),
        );
        let mut conflicts = Vec::new();
        let mut rules = Vec::new();
        for id in order {
            let (b, o, t) = (b.get(id), o.get(id), t.get(id));
            let kept = match (b, o, t) {
                (_, Some(o), Some(t)) if o == t => Some(o.clone()),
                (b, o, t) if o == b => t.cloned(),
                (b, o, t) if t == b => o.cloned(),
                (Some(_), None, Some(t)) => {
                    conflicts.push(conflict(id, "deleted here and edited there", Side::Theirs));
                    Some(t.clone())
                }
                (Some(_), Some(o), None) => {
                    conflicts.push(conflict(id, "edited here and deleted there", Side::Ours));
                    Some(o.clone())
                }
                (b, Some(o), Some(t)) => Some(merge_rule(b, o, t, &mut conflicts)),
                // Added or kept on one side only: the guards above took these.
                (_, o, t) => o.or(t).cloned(),
            };
            rules.extend(kept);
        }
        let mut ruleset = Ruleset { rules };
        ruleset.tidy();
        Merged { ruleset, conflicts }
    }

    /// Takes the users of `keys` out of every rule's `<one>` list but rule `keep`'s,
    /// dropping rules left with an empty identity.
    fn forget_users(&mut self, keys: &HashSet<String>, keep: Option<&str>) {
        if keys.is_empty() {
            return;
        }
        self.rules.retain_mut(|r| {
            if Some(r.id.as_str()) == keep {
                return true;
            }
            let Some(identity) = &mut r.conditions.identity else {
                return true;
            };
            let before = identity.one.len();
            identity.one.retain(|id| !keys.contains(&identity_key(id)));
            before == identity.one.len() || !identity.is_empty()
        });
    }

    /// Orders rules most specific first (this module's rules before others of the same
    /// rank, by id, so that the order does not depend on the edits' history; others keep
    /// theirs) and recomputes the `<except>` lists of this module's domain and default rules
    /// from the identities other rules name.
    fn tidy(&mut self) {
        self.rules.sort_by(|a, b| {
            let key = |r: &Rule| (r.rank(), !r.is_managed());
            key(a).cmp(&key(b)).then_with(|| {
                if a.is_managed() && b.is_managed() {
                    a.id.cmp(&b.id)
                } else {
                    std::cmp::Ordering::Equal
                }
            })
        });
        let mut users: HashMap<String, BTreeSet<String>> = HashMap::new();
        let mut domains: HashMap<String, BTreeSet<String>> = HashMap::new();
        for r in &self.rules {
            let Some(identity) = &r.conditions.identity else {
                continue;
            };
            for id in &identity.one {
                let key = identity_key(id);
                users.entry(key).or_default().insert(r.id.clone());
            }
            for d in identity.many.iter().filter_map(|m| m.domain.as_ref()) {
                domains
                    .entry(d.to_ascii_lowercase())
                    .or_default()
                    .insert(r.id.clone());
            }
        }
        let named_elsewhere =
            |sets: &HashMap<String, BTreeSet<String>>, key: &str, rule: &str| -> bool {
                sets.get(key)
                    .is_some_and(|ids| ids.iter().any(|id| id != rule))
            };
        for r in &mut self.rules {
            let domain_rule = r.id.starts_with("rtc-d-");
            if !domain_rule && r.id != DEFAULT_RULE_ID {
                continue;
            }
            let Some(identity) = &mut r.conditions.identity else {
                continue;
            };
            for m in &mut identity.many {
                let mut except: BTreeSet<Except> = BTreeSet::new();
                for key in users.keys() {
                    let in_scope = match &m.domain {
                        Some(d) => key_domain(key).is_some_and(|k| k.eq_ignore_ascii_case(d)),
                        None => true,
                    };
                    if in_scope && named_elsewhere(&users, key, &r.id) {
                        except.insert(Except::Id(key.clone()));
                    }
                }
                if m.domain.is_none() {
                    for d in domains.keys() {
                        if named_elsewhere(&domains, d, &r.id) {
                            except.insert(Except::Domain(d.clone()));
                        }
                    }
                }
                m.except = except.into_iter().collect();
            }
        }
    }
}

fn conflict(rule: &str, what: &'static str, kept: Side) -> Conflict {
    Conflict {
        rule: rule.to_owned(),
        what,
        kept,
    }
}

/// This module's rules for `list`.
fn managed_rules(list: &WatcherList) -> Vec<Rule> {
    let mut rules = Vec::new();
    let mut default = None;
    for w in list.iter() {
        let h = SubHandling::for_state(w.state);
        match w.scope {
            Scope::User => {
                // Entries were checked when added; one that no longer parses is skipped.
                let Ok(key) = aor_key(&w.uri, "watcher") else {
                    continue;
                };
                let identity = Identity {
                    one: vec![key.to_string()],
                    ..Identity::default()
                };
                rules.push(Rule::new(&managed_id("rtc-u-", &key), identity, h));
            }
            Scope::Domain => {
                let Ok(Some(domain)) = domain_key(&w.uri, "watcher domain") else {
                    continue;
                };
                let identity = Identity {
                    many: vec![Many {
                        domain: Some(domain.to_string()),
                        except: Vec::new(),
                    }],
                    ..Identity::default()
                };
                rules.push(Rule::new(&managed_id("rtc-d-", &domain), identity, h));
            }
            Scope::All => default = Some(h),
        }
    }
    let default = default.unwrap_or(SubHandling::for_modes(list.privacy, list.offer));
    let identity = Identity {
        many: vec![Many::default()],
        ..Identity::default()
    };
    rules.push(Rule::new(DEFAULT_RULE_ID, identity, default));
    rules
}

/// A three-way merge of one value: the side that changed it, else (both changed) `theirs`,
/// with a conflict.
fn merge_field<T: Clone + PartialEq>(
    b: Option<&T>,
    o: &T,
    t: &T,
    rule: &str,
    what: &'static str,
    conflicts: &mut Vec<Conflict>,
) -> T {
    if o == t || Some(o) == b {
        t.clone()
    } else if Some(t) == b {
        o.clone()
    } else {
        conflicts.push(conflict(rule, what, Side::Theirs));
        t.clone()
    }
}

/// A three-way merge of a set kept as a list: an item is in the result when both sides have
/// it, or one side added it (it is not in `base`). Order: `ours`, then `theirs`' additions.
fn merge_set<T: Clone + Ord>(b: &[T], o: &[T], t: &[T]) -> Vec<T> {
    let (bs, os, ts): (BTreeSet<&T>, BTreeSet<&T>, BTreeSet<&T>) =
        (b.iter().collect(), o.iter().collect(), t.iter().collect());
    let keep = |x: &T| (os.contains(x) && ts.contains(x)) || !bs.contains(x);
    let mut seen = BTreeSet::new();
    o.iter()
        .chain(t.iter())
        .filter(|x| keep(x) && seen.insert(*x))
        .cloned()
        .collect()
}

fn merge_identity(b: Option<&Identity>, o: &Identity, t: &Identity) -> Identity {
    let empty = Identity::default();
    let b = b.unwrap_or(&empty);
    let domains =
        |i: &Identity| -> Vec<Option<String>> { i.many.iter().map(|m| m.domain.clone()).collect() };
    let find = |i: &Identity, d: &Option<String>| -> Vec<Except> {
        i.many
            .iter()
            .find(|m| &m.domain == d)
            .map(|m| m.except.clone())
            .unwrap_or_default()
    };
    let many = merge_set(&domains(b), &domains(o), &domains(t))
        .into_iter()
        .map(|d| Many {
            except: merge_set(&find(b, &d), &find(o, &d), &find(t, &d)),
            domain: d,
        })
        .collect();
    Identity {
        one: merge_set(&b.one, &o.one, &t.one),
        many,
        other: merge_set(&b.other, &o.other, &t.other),
    }
}

fn merge_rule(b: Option<&Rule>, o: &Rule, t: &Rule, conflicts: &mut Vec<Conflict>) -> Rule {
    let id = &o.id;
    let (bc, oc, tc) = (b.map(|b| &b.conditions), &o.conditions, &t.conditions);
    let identity = match (
        bc.and_then(|c| c.identity.as_ref()),
        &oc.identity,
        &tc.identity,
    ) {
        (b, Some(o), Some(t)) => Some(merge_identity(b, o, t)),
        (_, o, t) => merge_field(bc.map(|c| &c.identity), o, t, id, "identity", conflicts),
    };
    let conditions = Conditions {
        identity,
        sphere: merge_field(
            bc.map(|c| &c.sphere),
            &oc.sphere,
            &tc.sphere,
            id,
            "sphere",
            conflicts,
        ),
        validity: merge_field(
            bc.map(|c| &c.validity),
            &oc.validity,
            &tc.validity,
            id,
            "validity",
            conflicts,
        ),
        other: merge_set(bc.map_or(&[][..], |c| &c.other), &oc.other, &tc.other),
    };
    let bh = b.map(|b| b.actions.sub_handling);
    let (oh, th) = (o.actions.sub_handling, t.actions.sub_handling);
    let sub_handling = if oh == th || Some(oh) == bh {
        th
    } else if Some(th) == bh {
        oh
    } else {
        // Both decided differently about the same watchers: the safer one stands.
        let kept = oh.min(th);
        let side = if kept == oh { Side::Ours } else { Side::Theirs };
        conflicts.push(conflict(id, "sub-handling", side));
        kept
    };
    let actions = Actions {
        sub_handling,
        other: merge_set(
            b.map_or(&[][..], |b| &b.actions.other),
            &o.actions.other,
            &t.actions.other,
        ),
    };
    let transformations = merge_field(
        b.map(|b| &b.transformations),
        &o.transformations,
        &t.transformations,
        id,
        "transformations",
        conflicts,
    );
    Rule {
        id: id.clone(),
        conditions,
        actions,
        transformations,
    }
}

fn parse_rule(doc: &Document<'_>, el: &Element) -> Result<Rule> {
    let id = doc.required_attr(el, "rule", "id", "id attribute")?;
    let id_text = xml::trim_xml(&id.value);
    if !xml::is_ncname(id_text) {
        return Err(doc.invalid("rule id", id_text, id.at));
    }
    let mut rule = Rule {
        id: id_text.to_owned(),
        ..Rule::default()
    };
    if let Some(c) = el.child(CP, "conditions") {
        rule.conditions = parse_conditions(doc, c)?;
    }
    if let Some(a) = el.child(CP, "actions") {
        for child in &a.children {
            if child.is(PR, "sub-handling") {
                let text = child.trimmed_text();
                let h = SubHandling::from_token(text)
                    .ok_or_else(|| doc.invalid("sub-handling", text, child.at))?;
                rule.actions.sub_handling = Some(h);
            } else {
                rule.actions.other.push(Extension::of(child));
            }
        }
    }
    if let Some(t) = el.child(CP, "transformations") {
        let tr = &mut rule.transformations;
        for child in &t.children {
            let provide = |all: &str| {
                if child.child(PR, all).is_some() {
                    Some(Provide::All)
                } else {
                    Some(Provide::Only(
                        child.children.iter().map(Extension::of).collect(),
                    ))
                }
            };
            if child.is(PR, "provide-services") {
                tr.services = provide("all-services");
            } else if child.is(PR, "provide-persons") {
                tr.persons = provide("all-persons");
            } else if child.is(PR, "provide-devices") {
                tr.devices = provide("all-devices");
            } else if child.is(PR, "provide-all-attributes") {
                tr.all_attributes = true;
            } else {
                tr.other.push(Extension::of(child));
            }
        }
    }
    Ok(rule)
}

fn parse_conditions(doc: &Document<'_>, el: &Element) -> Result<Conditions> {
    let mut c = Conditions::default();
    for child in &el.children {
        if child.is(CP, "identity") {
            if c.identity.is_some() {
                return Err(doc.invalid("second identity condition", "<identity>", child.at));
            }
            c.identity = Some(parse_identity(doc, child)?);
        } else if child.is(CP, "sphere") {
            let v = doc.required_attr(child, "sphere", "value", "value attribute")?;
            c.sphere = Some(v.value.to_string());
        } else if child.is(CP, "validity") {
            let mut from = None;
            for t in &child.children {
                if t.is(CP, "from") {
                    from = Some(t.trimmed_text().to_owned());
                } else if t.is(CP, "until") {
                    let Some(f) = from.take() else {
                        return Err(doc.missing(t, "until", "<from> before it"));
                    };
                    c.validity.push((f, t.trimmed_text().to_owned()));
                }
            }
            if from.is_some() {
                return Err(doc.missing(child, "validity", "<until> after a <from>"));
            }
        } else {
            c.other.push(Extension::of(child));
        }
    }
    Ok(c)
}

fn parse_identity(doc: &Document<'_>, el: &Element) -> Result<Identity> {
    let mut identity = Identity::default();
    for child in &el.children {
        if child.is(CP, "one") {
            let id = doc.required_attr(child, "one", "id", "id attribute")?;
            identity.one.push(xml::trim_xml(&id.value).to_owned());
        } else if child.is(CP, "many") {
            let mut many = Many {
                domain: child
                    .attr("domain")
                    .map(|d| xml::trim_xml(&d.value).to_owned()),
                except: Vec::new(),
            };
            for e in child.children_named(CP, "except") {
                let except = match (e.attr("id"), e.attr("domain")) {
                    (Some(id), _) => Except::Id(xml::trim_xml(&id.value).to_owned()),
                    (None, Some(d)) => Except::Domain(xml::trim_xml(&d.value).to_owned()),
                    (None, None) => return Err(doc.missing(e, "except", "id or domain attribute")),
                };
                many.except.push(except);
            }
            identity.many.push(many);
        } else {
            identity.other.push(Extension::of(child));
        }
    }
    Ok(identity)
}

fn write_rule(out: &mut String, r: &Rule) {
    out.push_str("<cr:rule");
    xml::push_attribute(out, "id", &r.id);
    out.push_str(">\n<cr:conditions>");
    let c = &r.conditions;
    if let Some(i) = &c.identity {
        out.push_str("<cr:identity>");
        for id in &i.one {
            out.push_str("<cr:one");
            xml::push_attribute(out, "id", id);
            out.push_str("/>");
        }
        for m in &i.many {
            out.push_str("<cr:many");
            if let Some(d) = &m.domain {
                xml::push_attribute(out, "domain", d);
            }
            if m.except.is_empty() {
                out.push_str("/>");
                continue;
            }
            out.push('>');
            for e in &m.except {
                out.push_str("<cr:except");
                match e {
                    Except::Id(id) => xml::push_attribute(out, "id", id),
                    Except::Domain(d) => xml::push_attribute(out, "domain", d),
                }
                out.push_str("/>");
            }
            out.push_str("</cr:many>");
        }
        for x in &i.other {
            x.write(out, "");
        }
        out.push_str("</cr:identity>");
    }
    if let Some(s) = &c.sphere {
        out.push_str("<cr:sphere");
        xml::push_attribute(out, "value", s);
        out.push_str("/>");
    }
    if !c.validity.is_empty() {
        out.push_str("<cr:validity>");
        for (from, until) in &c.validity {
            xml::push_text_element(out, "cr:from", from);
            xml::push_text_element(out, "cr:until", until);
        }
        out.push_str("</cr:validity>");
    }
    for x in &c.other {
        x.write(out, "");
    }
    out.push_str("</cr:conditions>\n<cr:actions>");
    if let Some(h) = r.actions.sub_handling {
        xml::push_text_element(out, "pr:sub-handling", h.as_str());
    }
    for x in &r.actions.other {
        x.write(out, "");
    }
    out.push_str("</cr:actions>\n<cr:transformations>");
    let t = &r.transformations;
    for (name, all, p) in [
        ("pr:provide-services", "pr:all-services", &t.services),
        ("pr:provide-persons", "pr:all-persons", &t.persons),
        ("pr:provide-devices", "pr:all-devices", &t.devices),
    ] {
        match p {
            None => {}
            Some(Provide::All) => {
                out.push_str(&format!("<{name}><{all}/></{name}>"));
            }
            Some(Provide::Only(items)) => {
                out.push_str(&format!("<{name}>"));
                for x in items {
                    x.write(out, "");
                }
                out.push_str(&format!("</{name}>"));
            }
        }
    }
    if t.all_attributes {
        out.push_str("<pr:provide-all-attributes/>");
    }
    for x in &t.other {
        x.write(out, "");
    }
    out.push_str("</cr:transformations>\n</cr:rule>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn rfc5025_example_parses_with_its_transformations() {
        let rules = Ruleset::parse(&fixture("rfc5025-example.xml")).unwrap();
        let r = &rules.rules[0];
        assert_eq!(r.id, "a");
        let identity = r.conditions.identity.as_ref().unwrap();
        assert_eq!(identity.one, ["sip:user@example.com"]);
        assert_eq!(r.actions.sub_handling, Some(SubHandling::Allow));
        let t = &r.transformations;
        assert_eq!(t.persons, Some(Provide::All));
        let Some(Provide::Only(schemes)) = &t.services else {
            panic!("{:?}", t.services)
        };
        let texts: Vec<&str> = schemes.iter().map(Extension::text).collect();
        assert_eq!(texts, ["sip", "mailto"]);
        assert_eq!(t.devices, None);
        assert!(!t.all_attributes);
        let names: Vec<&str> = t.other.iter().map(Extension::name).collect();
        assert_eq!(
            names,
            [
                "provide-activities",
                "provide-user-input",
                "provide-unknown-attribute"
            ]
        );
        assert_eq!(
            t.other[2].attr("", "ns"),
            Some("urn:vendor-specific:foo-namespace")
        );
        assert_eq!(Ruleset::parse(rules.to_xml().as_bytes()).unwrap(), rules);
        assert_eq!(
            rules.evaluate("sip:user@example.com"),
            Some(SubHandling::Allow)
        );
        assert_eq!(rules.evaluate("sip:other@example.com"), None);
    }

    #[test]
    fn rfc4745_identity_sphere_and_validity_parse() {
        let rules = Ruleset::parse(&fixture("rfc4745-example.xml")).unwrap();
        let c = &rules.rules[0].conditions;
        assert_eq!(c.sphere.as_deref(), Some("work"));
        assert_eq!(
            c.validity,
            [(
                "2003-08-15T10:20:00.000-05:00".to_owned(),
                "2003-09-15T10:20:00.000-05:00".to_owned()
            )]
        );
        assert_eq!(c.identity.as_ref().unwrap().one.len(), 3);
        let many = &rules.rules[1].conditions.identity.as_ref().unwrap().many;
        assert_eq!(many[0].domain.as_deref(), Some("example.com"));
        assert_eq!(
            many[0].except,
            [
                Except::Id("sip:alice@example.com".into()),
                Except::Id("sip:bob@example.com".into())
            ]
        );
        assert_eq!(many[1].except, [Except::Domain("example.org".into())]);
        assert_eq!(Ruleset::parse(rules.to_xml().as_bytes()).unwrap(), rules);
    }

    #[test]
    fn errors_say_what_and_where() {
        let dup = b"<ruleset xmlns='urn:ietf:params:xml:ns:common-policy'>\n<rule id='a'/>\n<rule id='a'/></ruleset>";
        let err = Ruleset::parse(dup).unwrap_err();
        assert!(err.to_string().contains("duplicate rule id"), "{err}");
        assert_eq!(err.position().map(|p| p.line), Some(3));
        let bad = b"<ruleset xmlns='urn:ietf:params:xml:ns:common-policy'><rule id='a'><actions>\n<sub-handling xmlns='urn:ietf:params:xml:ns:pres-rules'>maybe</sub-handling></actions></rule></ruleset>";
        let err = Ruleset::parse(bad).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidValue { what: "sub-handling", value, .. } if value == "maybe"),
            "{err}"
        );
        assert_eq!(err.position().map(|p| p.line), Some(2));
        let root = Ruleset::parse(b"<ruleset/>").unwrap_err();
        assert!(matches!(root, Error::UnexpectedRoot { .. }), "{root}");
        let no_id = b"<ruleset xmlns='urn:ietf:params:xml:ns:common-policy'><rule/></ruleset>";
        assert!(matches!(Ruleset::parse(no_id), Err(Error::Missing { .. })));
    }

    #[test]
    fn the_most_specific_rule_decides_and_excepts_keep_rules_apart() {
        let mut rules = Ruleset::default();
        rules.set_default(Some(SubHandling::Allow));
        rules
            .set_domain("sip:Example.com", Some(SubHandling::PoliteBlock))
            .unwrap();
        rules
            .set_watcher("sip:boss@example.com", Some(SubHandling::Allow))
            .unwrap();
        rules
            .set_watcher("sip:spam@elsewhere.org", Some(SubHandling::Block))
            .unwrap();
        let ev = |u| rules.evaluate(u);
        assert_eq!(ev("sip:boss@example.com"), Some(SubHandling::Allow));
        assert_eq!(ev("sip:intern@example.com"), Some(SubHandling::PoliteBlock));
        // Without its except, the default's allow would win over the user's block.
        assert_eq!(ev("sip:spam@elsewhere.org"), Some(SubHandling::Block));
        assert_eq!(ev("sip:friend@elsewhere.org"), Some(SubHandling::Allow));
        // Written most specific first, for servers that take the first match.
        let ids: Vec<&str> = rules.rules.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "rtc-u-sip_3Aboss_40example.com",
                "rtc-u-sip_3Aspam_40elsewhere.org",
                "rtc-d-example.com",
                "rtc-default"
            ]
        );
        let default = rules.rule(DEFAULT_RULE_ID).unwrap();
        let many = &default.conditions.identity.as_ref().unwrap().many[0];
        assert_eq!(
            many.except,
            [
                Except::Id("sip:boss@example.com".into()),
                Except::Id("sip:spam@elsewhere.org".into()),
                Except::Domain("example.com".into()),
            ]
        );
        assert_eq!(
            default.transformations,
            Transformations::provide_all(),
            "allow grants everything"
        );
        rules.set_watcher("sip:spam@elsewhere.org", None).unwrap();
        assert_eq!(
            ev_owned(&rules, "sip:spam@elsewhere.org"),
            Some(SubHandling::Allow)
        );
        assert!(rules.set_watcher("not a uri", None).is_err());
        assert!(matches!(
            rules.set_domain("tel:+1234", None),
            Err(Error::DomainNotSip(_))
        ));
    }

    fn ev_owned(rules: &Ruleset, uri: &str) -> Option<SubHandling> {
        rules.evaluate(uri)
    }

    #[test]
    fn setting_a_watcher_takes_it_out_of_foreign_rules() {
        let foreign = br#"<ruleset xmlns="urn:ietf:params:xml:ns:common-policy"
            xmlns:pr="urn:ietf:params:xml:ns:pres-rules">
          <rule id="friends"><conditions><identity>
            <one id="sip:bob@example.com"/><one id="sip:carol@example.com"/>
          </identity></conditions><actions><pr:sub-handling>allow</pr:sub-handling></actions></rule>
          <rule id="solo"><conditions><identity><one id="sip:dave@example.com"/></identity></conditions>
            <actions><pr:sub-handling>allow</pr:sub-handling></actions></rule>
        </ruleset>"#;
        let mut rules = Ruleset::parse(foreign).unwrap();
        rules
            .set_watcher("sip:bob@EXAMPLE.com", Some(SubHandling::Block))
            .unwrap();
        rules.set_watcher("sip:dave@example.com", None).unwrap();
        assert_eq!(
            rules.evaluate("sip:bob@example.com"),
            Some(SubHandling::Block)
        );
        assert_eq!(
            rules.evaluate("sip:carol@example.com"),
            Some(SubHandling::Allow)
        );
        assert_eq!(rules.evaluate("sip:dave@example.com"), None);
        assert!(rules.rule("solo").is_none(), "left without identity");
        let friends = rules.rule("friends").unwrap();
        assert_eq!(
            friends.conditions.identity.as_ref().unwrap().one,
            ["sip:carol@example.com"]
        );
    }

    fn watcher_list() -> WatcherList {
        let mut list = WatcherList::default();
        for (uri, state, scope) in [
            ("sip:a@example.com", WatcherState::Allowed, Scope::User),
            ("sip:b@example.com", WatcherState::Blocked, Scope::User),
            ("sip:c@example.com", WatcherState::Denied, Scope::User),
            ("sip:d@example.com", WatcherState::Offering, Scope::User),
            ("sip:e@example.com", WatcherState::Unknown, Scope::User),
            ("sip:corp.example", WatcherState::Blocked, Scope::Domain),
            ("sip:x@corp.example", WatcherState::Allowed, Scope::User),
        ] {
            list.add(Watcher::new(uri, state, scope)).unwrap();
        }
        list.offer = OfferMode::AutoAdd;
        list
    }

    #[test]
    fn rules_from_a_watcher_list_decide_as_the_list_does() {
        let list = watcher_list();
        let rules = Ruleset::from_watchers(&list);
        for uri in [
            "sip:a@example.com",
            "sip:b@example.com",
            "sip:c@example.com",
            "sip:d@example.com",
            "sip:e@example.com",
            "sip:y@corp.example",
            "sip:x@corp.example",
            "sip:z@nowhere.example",
        ] {
            let local = SubHandling::from(list.policy(uri).unwrap());
            assert_eq!(rules.evaluate(uri), Some(local), "{uri}");
        }
        // Read back into an empty list (modes to be set from the default rule).
        let mut back = WatcherList::default();
        rules.apply_to(&mut back);
        assert_eq!((back.offer, back.privacy), (list.offer, list.privacy));
        assert_eq!(Ruleset::from_watchers(&back), rules);
        assert_eq!(back.len(), list.len());
    }

    #[test]
    fn sync_keeps_foreign_rules_and_replaces_ours() {
        let mut rules = Ruleset::parse(&fixture("rfc4745-example.xml")).unwrap();
        rules
            .set_watcher("sip:gone@example.com", Some(SubHandling::Allow))
            .unwrap();
        rules.sync_watchers(&watcher_list());
        assert!(rules.rule("f3g44r1").is_some() && rules.rule("x4").is_some());
        assert!(rules.rule("rtc-u-sip_3Agone_40example.com").is_none());
        assert_eq!(
            rules.evaluate("sip:a@example.com"),
            Some(SubHandling::Allow)
        );
    }

    #[test]
    fn merge_keeps_both_sides_edits() {
        let mut base = Ruleset::from_watchers(&watcher_list());
        base.rules.extend(
            Ruleset::parse(&fixture("rfc5025-example.xml"))
                .unwrap()
                .rules,
        );
        let (mut ours, mut theirs) = (base.clone(), base.clone());
        ours.set_watcher("sip:new1@example.com", Some(SubHandling::Allow))
            .unwrap();
        ours.set_watcher("sip:a@example.com", None).unwrap();
        theirs
            .set_watcher("sip:new2@example.com", Some(SubHandling::PoliteBlock))
            .unwrap();
        // The other device adds a watcher to a foreign rule we do not touch.
        theirs
            .rules
            .iter_mut()
            .find(|r| r.id == "a")
            .unwrap()
            .conditions
            .identity
            .as_mut()
            .unwrap()
            .one
            .push("sip:other@example.com".into());
        let merged = Ruleset::merge(&base, &ours, &theirs);
        assert_eq!(merged.conflicts, []);
        let ev = |u| merged.ruleset.evaluate(u);
        assert_eq!(ev("sip:new1@example.com"), Some(SubHandling::Allow));
        assert_eq!(ev("sip:new2@example.com"), Some(SubHandling::PoliteBlock));
        assert_eq!(ev("sip:other@example.com"), Some(SubHandling::Allow));
        // a was removed here: the default (allow, auto-add) decides.
        assert!(merged.ruleset.rule("rtc-u-sip_3Aa_40example.com").is_none());
        // Excepts were recomputed from both sides' users.
        let default = merged.ruleset.rule(DEFAULT_RULE_ID).unwrap();
        let except = &default.conditions.identity.as_ref().unwrap().many[0].except;
        assert!(except.contains(&Except::Id("sip:new1@example.com".into())));
        assert!(except.contains(&Except::Id("sip:new2@example.com".into())));
        assert!(!except.contains(&Except::Id("sip:a@example.com".into())));
    }

    #[test]
    fn merge_conflicts_keep_the_safer_decision_and_edits_over_deletes() {
        let mut base = Ruleset::default();
        base.set_watcher("sip:bob@example.com", Some(SubHandling::Confirm))
            .unwrap();
        base.set_watcher("sip:carol@example.com", Some(SubHandling::Allow))
            .unwrap();
        let (mut ours, mut theirs) = (base.clone(), base.clone());
        ours.set_watcher("sip:bob@example.com", Some(SubHandling::Allow))
            .unwrap();
        theirs
            .set_watcher("sip:bob@example.com", Some(SubHandling::Block))
            .unwrap();
        ours.set_watcher("sip:carol@example.com", None).unwrap();
        theirs
            .set_watcher("sip:carol@example.com", Some(SubHandling::PoliteBlock))
            .unwrap();
        let merged = Ruleset::merge(&base, &ours, &theirs);
        assert_eq!(
            merged.ruleset.evaluate("sip:bob@example.com"),
            Some(SubHandling::Block)
        );
        assert_eq!(
            merged.ruleset.evaluate("sip:carol@example.com"),
            Some(SubHandling::PoliteBlock)
        );
        let mut what: Vec<(&str, Side)> =
            merged.conflicts.iter().map(|c| (c.what, c.kept)).collect();
        what.sort_by_key(|w| w.0);
        assert_eq!(
            what,
            [
                ("deleted here and edited there", Side::Theirs),
                ("sub-handling", Side::Theirs),
            ]
        );
        // Nothing changed on one side: the other is taken whole.
        assert_eq!(Ruleset::merge(&base, &base, &theirs).ruleset, theirs);
        assert_eq!(Ruleset::merge(&base, &ours, &base).ruleset, ours);
    }

    #[test]
    fn extensions_survive_a_round_trip() {
        let doc = br#"<cr:ruleset xmlns:cr="urn:ietf:params:xml:ns:common-policy"><cr:rule id="r1">
            <cr:conditions><cr:identity><cr:one id="sip:a@b"/><v:group xmlns:v="urn:v" v:n="x&amp;y"/></cr:identity>
              <v:cond xmlns:v="urn:v" xml:lang="en">text<v:inner/></v:cond><plain/></cr:conditions>
            <cr:actions/><cr:transformations/></cr:rule></cr:ruleset>"#;
        let rules = Ruleset::parse(doc).unwrap();
        let c = &rules.rules[0].conditions;
        assert_eq!(c.other.len(), 2);
        assert_eq!(c.other[0].attr(xml::NS_XML, "lang"), Some("en"));
        assert_eq!(c.other[1].namespace(), "");
        let again = Ruleset::parse(rules.to_xml().as_bytes()).unwrap();
        assert_eq!(again, rules);
    }
}
