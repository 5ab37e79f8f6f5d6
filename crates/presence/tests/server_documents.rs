//! The documents of presence through a server (issue 13): pres-rules, resource-lists,
//! rls-services, RLMI and multipart bodies round-trip; rules built from a watcher list decide
//! as the list does; three-way merges keep both sides' edits; list state applied in pieces
//! equals the full state.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use presence::eventlist::{ListNotify, ListState, ResourceState};
use presence::multipart::{Multipart, Part};
use presence::resource_lists::{
    Entry, Item, List, ResourceLists, RlsServices, Service, ServiceList,
};
use presence::rlmi::{Instance, InstanceState, Name, Resource, Rlmi};
use presence::rules::{
    Actions, Conditions, Except, Identity, Many, Provide, Rule, Ruleset, SubHandling,
    Transformations,
};
use presence::{
    Buddy, BuddyList, Group, OfferMode, PrivacyMode, Scope, SubscriptionType, Watcher, WatcherList,
    WatcherState,
};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    "[ -~\u{a0}-\u{2fff}\t\n\r]{0,12}"
}

/// Non-empty text without surrounding XML white space (values the readers trim).
fn token() -> impl Strategy<Value = String> {
    "[!-~\u{a0}-\u{2fff}]([ -~\u{a0}-\u{2fff}]{0,10}[!-~\u{a0}-\u{2fff}])?"
}

fn ncname() -> impl Strategy<Value = String> {
    "[A-Za-z_\u{c0}-\u{d6}][A-Za-z0-9_.\u{b7}-]{0,10}"
}

/// A SIP address of record from a small pool, so that lists and edits collide.
fn user() -> impl Strategy<Value = String> {
    ("[a-e]", "(example\\.com|corp\\.example|elsewhere\\.org)")
        .prop_map(|(u, d)| format!("sip:{u}@{d}"))
}

fn sub_handling() -> impl Strategy<Value = SubHandling> {
    prop::sample::select(SubHandling::ALL.to_vec())
}

fn identity() -> impl Strategy<Value = Identity> {
    let except = prop_oneof![
        token().prop_map(Except::Id),
        token().prop_map(Except::Domain)
    ];
    let many = (
        prop::option::of(token()),
        prop::collection::vec(except, 0..3),
    )
        .prop_map(|(domain, except)| Many { domain, except });
    (
        prop::collection::vec(token(), 0..3),
        prop::collection::vec(many, 0..2),
    )
        .prop_map(|(one, many)| Identity {
            one,
            many,
            other: Vec::new(),
        })
}

fn provide() -> impl Strategy<Value = Option<Provide>> {
    prop_oneof![Just(None), Just(Some(Provide::All))]
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        prop::option::of(identity()),
        prop::option::of(token()),
        prop::collection::vec((token(), token()), 0..2),
        prop::option::of(sub_handling()),
        (provide(), provide(), provide(), any::<bool>()),
    )
        .prop_map(
            |(identity, sphere, validity, sub_handling, (services, persons, devices, all))| Rule {
                id: String::new(),
                conditions: Conditions {
                    identity,
                    sphere,
                    validity,
                    other: Vec::new(),
                },
                actions: Actions {
                    sub_handling,
                    other: Vec::new(),
                },
                transformations: Transformations {
                    services,
                    persons,
                    devices,
                    all_attributes: all,
                    other: Vec::new(),
                },
            },
        )
}

fn ruleset() -> impl Strategy<Value = Ruleset> {
    prop::collection::vec((ncname(), rule()), 0..5).prop_map(|rules| {
        let mut seen = std::collections::HashSet::new();
        Ruleset {
            rules: rules
                .into_iter()
                .filter(|(id, _)| seen.insert(id.clone()))
                .map(|(id, r)| Rule { id, ..r })
                .collect(),
        }
    })
}

fn watcher_state() -> impl Strategy<Value = WatcherState> {
    prop::sample::select(WatcherState::ALL.to_vec())
}

fn watcher_list() -> impl Strategy<Value = WatcherList> {
    let entry = prop_oneof![
        (user(), watcher_state()).prop_map(|(u, s)| Watcher::new(&u, s, Scope::User)),
        ("(example\\.com|corp\\.example)", watcher_state()).prop_map(|(d, s)| Watcher::new(
            &format!("sip:{d}"),
            s,
            Scope::Domain
        )),
        watcher_state().prop_map(|s| Watcher::new("sip:anyone@anyone.invalid", s, Scope::All)),
    ];
    (
        prop::collection::vec(entry, 0..12),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(entries, allow_only, auto)| {
            let mut list = WatcherList::default();
            for w in entries {
                list.add(w).unwrap();
            }
            list.privacy = if allow_only {
                PrivacyMode::AllowListOnly
            } else {
                PrivacyMode::BlockList
            };
            list.offer = if auto {
                OfferMode::AutoAdd
            } else {
                OfferMode::Offer
            };
            list
        })
}

const PROBES: [&str; 9] = [
    "sip:a@example.com",
    "sip:b@example.com",
    "sip:c@corp.example",
    "sip:d@corp.example",
    "sip:e@elsewhere.org",
    "sip:a@elsewhere.org",
    "sip:z@example.com",
    "sip:z@corp.example",
    "sip:z@nowhere.example",
];

/// Edits to a ruleset: (watcher, new rule or removal).
fn edits() -> impl Strategy<Value = Vec<(String, Option<SubHandling>)>> {
    prop::collection::vec((user(), prop::option::of(sub_handling())), 0..6)
}

fn apply_edits(rules: &mut Ruleset, edits: &[(String, Option<SubHandling>)]) {
    for (uri, h) in edits {
        rules.set_watcher(uri, *h).unwrap();
    }
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        token(),
        prop::option::of(text()),
        prop::option::of(prop::sample::select(SubscriptionType::ALL.to_vec())),
        prop::option::of(text()),
    )
        .prop_map(|(uri, display_name, subscription, data)| Entry {
            uri,
            display_name,
            subscription,
            data,
        })
}

fn list() -> impl Strategy<Value = List> {
    let leaf = (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::collection::vec(
            prop_oneof![
                entry().prop_map(Item::Entry),
                (token(), prop::option::of(text())).prop_map(|(reference, display_name)| {
                    Item::EntryRef {
                        reference,
                        display_name,
                    }
                }),
                (token(), prop::option::of(text())).prop_map(|(anchor, display_name)| {
                    Item::External {
                        anchor,
                        display_name,
                    }
                }),
            ],
            0..4,
        ),
    )
        .prop_map(|(name, display_name, data, items)| List {
            name,
            display_name,
            data,
            items,
        });
    leaf.prop_recursive(3, 16, 3, |inner| {
        (inner.clone(), prop::collection::vec(inner, 0..3)).prop_map(|(mut l, nested)| {
            l.items.extend(nested.into_iter().map(Item::List));
            l
        })
    })
}

fn buddy_list() -> impl Strategy<Value = BuddyList> {
    let groups = prop::collection::vec((text(), text()), 0..4);
    let buddies = prop::collection::vec(
        (
            user(),
            text(),
            text(),
            prop::sample::select(SubscriptionType::ALL.to_vec()),
            prop::collection::vec(any::<prop::sample::Index>(), 0..3),
        ),
        0..8,
    );
    (groups, buddies).prop_map(|(groups, buddies)| {
        let mut list = BuddyList::default();
        for (name, data) in groups {
            list.add_group(Group {
                name: name.into(),
                data: data.into(),
            });
        }
        let names: Vec<Box<str>> = list.groups().map(|g| g.name.clone()).collect();
        for (uri, name, data, subscription, picks) in buddies {
            let mut b = Buddy::new(&uri, &name).unwrap();
            b.data = data.into();
            b.subscription = subscription;
            if !names.is_empty() {
                // Memberships in the order of the groups, once each, as the document
                // keeps them.
                let mut idx: Vec<usize> = picks.iter().map(|i| i.index(names.len())).collect();
                idx.sort_unstable();
                idx.dedup();
                b.groups = idx.into_iter().map(|i| names[i].clone()).collect();
            }
            list.add(b).unwrap();
        }
        list
    })
}

fn rlmi() -> impl Strategy<Value = Rlmi> {
    let name = || (prop::option::of(token()), text()).prop_map(|(lang, text)| Name { lang, text });
    let instance = (
        ncname(),
        prop::sample::select(vec![
            InstanceState::Active,
            InstanceState::Pending,
            InstanceState::Terminated,
        ]),
        prop::option::of(token()),
        prop::option::of(token()),
    )
        .prop_map(|(id, state, reason, cid)| Instance {
            id,
            state,
            reason,
            cid,
        });
    let resource = (
        token(),
        prop::collection::vec(name(), 0..2),
        prop::collection::vec(instance, 0..3),
    )
        .prop_map(|(uri, names, instances)| Resource {
            uri,
            names,
            instances,
        });
    (
        token(),
        any::<u32>(),
        any::<bool>(),
        prop::option::of(token()),
        prop::collection::vec(name(), 0..2),
        prop::collection::vec(resource, 0..5),
    )
        .prop_map(|(uri, version, full_state, cid, names, resources)| Rlmi {
            uri,
            version,
            full_state,
            cid,
            names,
            resources,
        })
}

proptest! {
    #[test]
    fn rules_round_trip(doc in ruleset()) {
        prop_assert_eq!(Ruleset::parse(doc.to_xml().as_bytes()).unwrap(), doc);
    }

    #[test]
    fn rules_from_a_watcher_list_decide_as_it_does(list in watcher_list()) {
        let rules = Ruleset::from_watchers(&list);
        for uri in PROBES {
            let local = SubHandling::from(list.policy(uri).unwrap());
            prop_assert_eq!(rules.evaluate(uri), Some(local), "{}\n{}", uri, rules.to_xml());
        }
        let mut back = WatcherList::default();
        rules.apply_to(&mut back);
        let again = Ruleset::from_watchers(&back);
        prop_assert_eq!(&again, &rules);
        prop_assert_eq!(Ruleset::parse(rules.to_xml().as_bytes()).unwrap(), rules);
    }

    #[test]
    fn edits_on_one_side_merge_to_that_side(
        list in watcher_list(),
        ours in edits(),
    ) {
        let base = Ruleset::from_watchers(&list);
        let mut edited = base.clone();
        apply_edits(&mut edited, &ours);
        let merged = Ruleset::merge(&base, &edited, &base);
        prop_assert_eq!(&merged.ruleset, &edited);
        prop_assert!(merged.conflicts.is_empty());
        let merged = Ruleset::merge(&base, &base, &edited);
        prop_assert_eq!(&merged.ruleset, &edited);
    }

    #[test]
    fn merges_keep_what_each_side_decided(
        list in watcher_list(),
        ours in edits(),
        theirs in edits(),
    ) {
        let base = Ruleset::from_watchers(&list);
        let (mut o, mut t) = (base.clone(), base.clone());
        apply_edits(&mut o, &ours);
        apply_edits(&mut t, &theirs);
        let merged = Ruleset::merge(&base, &o, &t);
        let last = |edits: &[(String, Option<SubHandling>)]| -> HashMap<String, Option<SubHandling>> {
            edits.iter().cloned().collect()
        };
        let (lo, lt) = (last(&ours), last(&theirs));
        for uri in PROBES.iter().map(|u| u.to_string()).chain(lo.keys().cloned()).chain(lt.keys().cloned()) {
            let want = match (lo.get(&uri), lt.get(&uri)) {
                // Only one side touched it: that side's outcome stands.
                (Some(_), None) => o.evaluate(&uri),
                (None, Some(_)) => t.evaluate(&uri),
                (None, None) => base.evaluate(&uri),
                (Some(_), Some(_)) => continue,
            };
            prop_assert_eq!(merged.ruleset.evaluate(&uri), want, "{}\n{}", uri, merged.ruleset.to_xml());
        }
        prop_assert_eq!(Ruleset::parse(merged.ruleset.to_xml().as_bytes()).unwrap(), merged.ruleset);
    }

    #[test]
    fn resource_lists_round_trip(lists in prop::collection::vec(list(), 0..3)) {
        let doc = ResourceLists { lists };
        prop_assert_eq!(ResourceLists::parse(doc.to_xml().as_bytes()).unwrap(), doc);
    }

    #[test]
    fn rls_services_round_trip(services in prop::collection::vec(
        (token(), prop_oneof![token().prop_map(ServiceList::ResourceList), list().prop_map(ServiceList::List)],
         prop::collection::vec(token(), 0..3)),
        0..3,
    )) {
        let doc = RlsServices {
            services: services
                .into_iter()
                .map(|(uri, list, packages)| Service { uri, list, packages })
                .collect(),
        };
        prop_assert_eq!(RlsServices::parse(doc.to_xml().as_bytes()).unwrap(), doc);
    }

    #[test]
    fn buddy_lists_round_trip_through_resource_lists(buddies in buddy_list()) {
        let doc = ResourceLists::from_buddies(&buddies);
        let back = ResourceLists::parse(doc.to_xml().as_bytes()).unwrap();
        prop_assert_eq!(&back, &doc);
        prop_assert_eq!(back.to_buddies().unwrap(), buddies);
    }

    #[test]
    fn rlmi_round_trips(doc in rlmi()) {
        prop_assert_eq!(Rlmi::parse(doc.to_xml().as_bytes()).unwrap(), doc);
    }

    #[test]
    fn multipart_round_trips(
        boundary in "[A-Za-z0-9'()+_,./:=?-]{1,69}[A-Za-z0-9]",
        parts in prop::collection::vec(
            (prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,8}", "[!-~]([ -~]{0,10}[!-~])?"), 0..3),
             prop::collection::vec(any::<u8>(), 0..40)),
            1..5,
        ),
    ) {
        let parts: Vec<Part> = parts
            .into_iter()
            .map(|(headers, body)| Part { headers, body: Bytes::from(body) })
            .collect();
        let delimiter = format!("\r\n--{boundary}");
        // A boundary must not occur in the parts (RFC 2046 §5.1.1): leave such cases out.
        prop_assume!(parts.iter().all(|p| {
            let mut framed = b"\r\n".to_vec();
            framed.extend_from_slice(&p.body);
            framed.extend_from_slice(b"\r\n");
            !framed.windows(delimiter.len()).any(|w| w == delimiter.as_bytes())
        }));
        let m = Multipart::new(&boundary, Some("application/rlmi+xml"), None, parts);
        let back = Multipart::parse(&m.content_type(), m.to_bytes()).unwrap();
        prop_assert_eq!(back, m);
    }

    #[test]
    fn list_state_from_partial_notifications_equals_full_state(
        steps in prop::collection::vec(
            prop::collection::vec((0usize..6, 0usize..3), 0..4),
            1..6,
        ),
    ) {
        // A server's view: resource → state, changed step by step.
        let states = [InstanceState::Active, InstanceState::Pending, InstanceState::Terminated];
        let mut server: BTreeMap<usize, InstanceState> = BTreeMap::new();
        let mut client = ListState::default();
        client.apply(&notify(0, true, &[])).unwrap();
        for (version, changes) in (1u32..).zip(&steps) {
            let changed: Vec<(usize, InstanceState)> =
                changes.iter().map(|&(r, s)| (r, states[s])).collect();
            for &(r, s) in &changed {
                server.insert(r, s);
            }
            client.apply(&notify(version, false, &changed)).unwrap();
        }
        let all: Vec<(usize, InstanceState)> = server.into_iter().collect();
        let mut fresh = ListState::default();
        fresh.apply(&notify(0, true, &all)).unwrap();
        let view = |s: &ListState| -> BTreeMap<String, ResourceState> {
            s.resources().map(|(u, st)| (u.to_owned(), st.clone())).collect()
        };
        prop_assert_eq!(view(&client), view(&fresh));
    }
}

/// A list NOTIFY carrying `resources` (index, instance state), each with one instance.
fn notify(version: u32, full: bool, resources: &[(usize, InstanceState)]) -> ListNotify {
    let mut seen = std::collections::HashSet::new();
    let rlmi = Rlmi {
        uri: "sip:list@example.com".into(),
        version,
        full_state: full,
        resources: resources
            .iter()
            .rev()
            .filter(|(r, _)| seen.insert(*r))
            .map(|&(r, state)| Resource {
                uri: format!("sip:r{r}@example.com"),
                names: Vec::new(),
                instances: vec![Instance {
                    id: format!("i{r}"),
                    state,
                    reason: None,
                    cid: None,
                }],
            })
            .collect(),
        ..Rlmi::default()
    };
    let m = Multipart::new(
        "b0undary",
        Some("application/rlmi+xml"),
        None,
        vec![Part {
            headers: vec![("Content-Type".into(), "application/rlmi+xml".into())],
            body: Bytes::from(rlmi.to_xml()),
        }],
    );
    ListNotify::parse(&m.content_type(), m.to_bytes()).unwrap()
}

#[test]
fn ten_thousand_entries_fit_the_default_limits() {
    let mut watchers = WatcherList::default();
    let mut buddies = BuddyList::default();
    buddies.add_group(Group::new("All"));
    for i in 0..10_000 {
        let uri = format!("sip:user{i}@example.com");
        let state = if i % 2 == 0 {
            WatcherState::Allowed
        } else {
            WatcherState::Blocked
        };
        watchers
            .add(Watcher::new(&uri, state, Scope::User))
            .unwrap();
        let mut b = Buddy::new(&uri, &format!("User {i}")).unwrap();
        b.groups.push("All".into());
        buddies.add(b).unwrap();
    }
    let mut rules = Ruleset::from_watchers(&watchers);
    let parsed = Ruleset::parse(rules.to_xml().as_bytes()).unwrap();
    assert_eq!(parsed, rules);
    // One more decision on a big document is one pass over it.
    rules
        .set_watcher("sip:user1@example.com", Some(SubHandling::Allow))
        .unwrap();
    assert_eq!(
        rules.evaluate("sip:user1@example.com"),
        Some(SubHandling::Allow)
    );
    assert_eq!(
        rules.evaluate("sip:user3@example.com"),
        Some(SubHandling::PoliteBlock)
    );

    let lists = ResourceLists::from_buddies(&buddies);
    let back = ResourceLists::parse(lists.to_xml().as_bytes()).unwrap();
    assert_eq!(back.to_buddies().unwrap(), buddies);

    let resources: Vec<(usize, InstanceState)> =
        (0..10_000).map(|i| (i, InstanceState::Active)).collect();
    let mut state = ListState::default();
    let update = state.apply(&notify(1, true, &resources)).unwrap();
    assert_eq!(update.resources.len(), 10_000);
    assert_eq!(state.len(), 10_000);
}
