//! The presence store on disk: round trips, atomic replacement, corrupt and foreign files
//! kept byte for byte and reported with line and column, interrupted saves, merge and
//! replace imports, and lists of 10,000 entries.

use std::path::PathBuf;

use presence::{
    Buddy, BuddyList, Error, Group, ImportMode, LocalPresence, OfferMode, PresenceData,
    PrivacyMode, Scope, Status, Store, SubscriptionType, Watcher, WatcherDecision, WatcherList,
    WatcherState,
};
use proptest::prelude::*;

/// A fresh directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("presence-store-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn store(&self) -> Store {
        Store::file(self.0.join("presence.xml"))
    }

    /// Temporary files of `store`'s saves left in the directory.
    fn leftovers(&self, store: &Store) -> Vec<PathBuf> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| store.is_temp_path(p))
            .collect()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sample() -> PresenceData {
    let mut data = PresenceData {
        local: LocalPresence::new(Status::BeRightBack, Some("coffee")),
        ..PresenceData::default()
    };
    data.buddies.add_group(Group::new("Team"));
    let mut bob = Buddy::new("sip:bob@example.com", "Bob").unwrap();
    bob.groups.push("Team".into());
    data.buddies.add(bob).unwrap();
    data.watchers
        .add(Watcher::new(
            "sip:boss@example.com",
            WatcherState::Allowed,
            Scope::User,
        ))
        .unwrap();
    data
}

#[test]
fn missing_file_loads_as_empty_and_save_then_load_round_trips() {
    let dir = TempDir::new("round-trip");
    let store = dir.store();
    assert_eq!(store.load().unwrap(), PresenceData::default());
    store.save(&sample()).unwrap();
    assert_eq!(store.load().unwrap(), sample());
    assert_eq!(
        dir.leftovers(&store),
        Vec::<PathBuf>::new(),
        "the temporary file is renamed away"
    );
}

#[test]
fn corrupt_file_is_reported_with_position_and_left_byte_identical() {
    let dir = TempDir::new("corrupt");
    let store = dir.store();
    let corrupt = b"<?xml version=\"1.0\"?>\n<presence-store xmlns=\"urn:x-rtc-sip:presence-store\" version=\"1\">\n  <buddy uri=\"sip:bob@example.com\"\n</presence-store>\n";
    std::fs::write(store.path(), corrupt).unwrap();
    let err = store.load().unwrap_err();
    assert!(matches!(err, Error::StoreCorrupt { .. }), "{err}");
    let at = err.position().expect("a position");
    assert_eq!(at.line, 4, "{err}");
    assert!(err.to_string().contains("presence.xml"), "{err}");
    // Saving over it is refused too: nothing stored is lost.
    let err = store.save(&sample()).unwrap_err();
    assert!(matches!(err, Error::StoreCorrupt { .. }), "{err}");
    let mut data = sample();
    assert!(store.import_into(&mut data, ImportMode::Merge).is_err());
    assert_eq!(data, sample(), "a failed import changes nothing");
    assert_eq!(std::fs::read(store.path()).unwrap(), corrupt);
}

#[test]
fn foreign_and_newer_files_are_refused_and_kept() {
    let dir = TempDir::new("foreign");
    let store = dir.store();
    let foreign = b"<?xml version=\"1.0\"?>\n<provision key=\"k\" name=\"n\"/>\n";
    std::fs::write(store.path(), foreign).unwrap();
    let err = store.load().unwrap_err();
    assert_eq!(
        err.position().map(|p| (p.line, p.column)),
        Some((2, 1)),
        "{err}"
    );
    assert!(store.save(&sample()).is_err());
    assert_eq!(std::fs::read(store.path()).unwrap(), foreign);

    let newer = b"<presence-store xmlns=\"urn:x-rtc-sip:presence-store\" version=\"7\"><hologram/></presence-store>";
    std::fs::write(store.path(), newer).unwrap();
    let err = store.load().unwrap_err();
    let Error::StoreCorrupt { source, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        matches!(
            **source,
            Error::StoreVersion {
                found: 7,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(store.save(&sample()).is_err());
    assert_eq!(std::fs::read(store.path()).unwrap(), newer);
}

#[test]
fn a_crash_before_the_rename_never_loses_the_old_file() {
    let dir = TempDir::new("crash");
    let store = dir.store();
    store.save(&sample()).unwrap();
    // A save interrupted after writing part of the temporary file, before the rename.
    let leftover = store.temp_path();
    std::fs::write(
        &leftover,
        b"<presence-store xmlns=\"urn:x-rtc-sip:presence-sto",
    )
    .unwrap();
    assert_eq!(store.load().unwrap(), sample());
    // The next save replaces the leftover and succeeds.
    let mut next = sample();
    next.local.status = Status::Online;
    store.save(&next).unwrap();
    assert_eq!(store.load().unwrap(), next);
    // The next save wrote a file of its own; the leftover is only ever ignored.
    assert_eq!(dir.leftovers(&store), vec![leftover]);
}

#[test]
fn temporary_names_are_unique_and_recognised() {
    let dir = TempDir::new("temp-names");
    let store = dir.store();
    let names: std::collections::HashSet<PathBuf> = (0..100).map(|_| store.temp_path()).collect();
    assert_eq!(names.len(), 100, "every save gets a name of its own");
    let name = store.temp_path();
    assert!(store.is_temp_path(&name), "{}", name.display());
    let pid = std::process::id().to_string();
    assert!(name.to_string_lossy().contains(&pid), "{}", name.display());
    for other in [
        "presence.xml",
        "presence.xml.lock",
        "presence.xml.tmp",
        "presence.xml.1.x.tmp",
    ] {
        assert!(!store.is_temp_path(&dir.0.join(other)), "{other}");
    }
    assert!(!Store::file(dir.0.join("other.xml")).is_temp_path(&name));
}

#[test]
fn a_second_lock_on_a_store_fails_clearly_until_the_first_is_dropped() {
    let dir = TempDir::new("lock");
    let store = dir.store();
    let held = store.lock().unwrap();
    assert_eq!(held.path(), store.lock_path());
    // Another handle on the same file, as another process would have.
    let err = Store::file(store.path()).lock().unwrap_err();
    assert!(matches!(err, Error::StoreLocked { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("presence.xml") && text.contains("in use by another process"),
        "{text}"
    );
    // Loading and saving are not blocked by the lock: it guards whole sessions.
    store.save(&sample()).unwrap();
    drop(held);
    let again = store.lock().unwrap();
    drop(again);
}

#[test]
fn import_replaces_or_merges() {
    let dir = TempDir::new("import");
    let store = dir.store();
    store.save(&sample()).unwrap();

    let mut mine = PresenceData {
        local: LocalPresence::new(Status::Busy, None),
        ..PresenceData::default()
    };
    mine.watchers.privacy = PrivacyMode::AllowListOnly;
    mine.buddies
        .add(Buddy::new("sip:carol@example.com", "Carol").unwrap())
        .unwrap();
    mine.buddies
        .add(Buddy::new("sip:BOB@example.com", "Upper Bob").unwrap())
        .unwrap();

    let mut merged = mine.clone();
    store.import_into(&mut merged, ImportMode::Merge).unwrap();
    assert_eq!(merged.local.status, Status::Busy);
    assert_eq!(merged.watchers.privacy, PrivacyMode::AllowListOnly);
    assert_eq!(
        merged.buddies.len(),
        3,
        "user parts are case-sensitive: BOB and bob differ"
    );
    assert!(merged.buddies.group("Team").is_some());
    assert_eq!(
        merged.watchers.policy("sip:boss@example.com").unwrap(),
        WatcherDecision::Allow
    );

    let mut replaced = mine.clone();
    store
        .import_into(&mut replaced, ImportMode::Replace)
        .unwrap();
    assert_eq!(replaced, sample());

    // A missing file is no empty import: replacing with it would wipe everything.
    let missing = Store::file(dir.0.join("not-there.xml"));
    for mode in [ImportMode::Replace, ImportMode::Merge] {
        let mut kept = mine.clone();
        let err = missing.import_into(&mut kept, mode).unwrap_err();
        assert!(matches!(err, Error::Io { op: "read", .. }), "{err}");
        assert!(err.to_string().contains("not-there.xml"), "{err}");
        assert_eq!(kept, mine, "a failed import changes nothing");
    }
}

#[test]
fn ten_thousand_buddies_and_watchers_round_trip_and_look_up_by_hash() {
    let dir = TempDir::new("scale");
    let store = dir.store();
    let mut data = PresenceData::default();
    for i in 0..10_000 {
        let mut b =
            Buddy::new(&format!("sip:buddy{i}@example.com"), &format!("Buddy {i}")).unwrap();
        b.groups.push(format!("g{}", i % 10).into());
        data.buddies.add(b).unwrap();
        let state = if i % 2 == 0 {
            WatcherState::Allowed
        } else {
            WatcherState::Blocked
        };
        data.watchers
            .add(Watcher::new(
                &format!("sip:watcher{i}@example.org"),
                state,
                Scope::User,
            ))
            .unwrap();
    }
    store.save(&data).unwrap();
    let loaded = store.load().unwrap();
    assert_eq!(loaded.buddies.len(), 10_000);
    assert_eq!(loaded.watchers.len(), 10_000);
    assert_eq!(loaded, data);
    assert_eq!(
        loaded
            .buddies
            .get("sip:buddy9999@EXAMPLE.com")
            .map(|b| &*b.name),
        Some("Buddy 9999")
    );
    assert_eq!(
        loaded
            .watchers
            .policy("sip:watcher4242@example.org")
            .unwrap(),
        WatcherDecision::Allow
    );
    assert_eq!(
        loaded
            .watchers
            .policy("sip:watcher4243@example.org")
            .unwrap(),
        WatcherDecision::Block
    );
}

/// Merge semantics at scale, checked entry by entry: 10,000 buddies, 10,000 watchers and
/// 10,000 groups imported into as many, half of them the same entries (buddies matched by
/// address of record, whatever the host's case; groups by name). Every add is a hash probe, so
/// this stays linear; a linear search per entry would do 10^8 comparisons per list here.
#[test]
fn merging_twenty_thousand_entries_into_twenty_thousand_is_exact_and_ordered() {
    const N: usize = 10_000;
    const OVERLAP: usize = N / 2;
    let dir = TempDir::new("merge-scale");
    let store = dir.store();

    let mut mine = PresenceData {
        local: LocalPresence::new(Status::Busy, Some("mine")),
        ..PresenceData::default()
    };
    mine.watchers.privacy = PrivacyMode::AllowListOnly;
    let mut theirs = PresenceData {
        local: LocalPresence::new(Status::Online, None),
        ..PresenceData::default()
    };
    theirs.watchers.offer = OfferMode::AutoAdd;
    let entries = |data: &mut PresenceData, range: std::ops::Range<usize>, tag: &str| {
        for i in range {
            data.buddies.add_group(Group {
                name: format!("g{i}").into(),
                data: tag.into(),
            });
            let host = if tag == "theirs" {
                "EXAMPLE.com"
            } else {
                "example.com"
            };
            let mut b = Buddy::new(&format!("sip:buddy{i}@{host}"), &format!("{tag} {i}")).unwrap();
            b.groups.push(format!("g{i}").into());
            data.buddies.add(b).unwrap();
            let state = if tag == "theirs" {
                WatcherState::Blocked
            } else {
                WatcherState::Allowed
            };
            data.watchers
                .add(Watcher::new(
                    &format!("sip:watcher{i}@example.org"),
                    state,
                    Scope::User,
                ))
                .unwrap();
        }
    };
    entries(&mut mine, 0..N, "mine");
    entries(&mut theirs, OVERLAP..OVERLAP + N, "theirs");
    store.save(&theirs).unwrap();

    let mut merged = mine.clone();
    store.import_into(&mut merged, ImportMode::Merge).unwrap();

    // Ours: status, note and modes.
    assert_eq!(merged.local, mine.local);
    assert_eq!(merged.watchers.privacy, PrivacyMode::AllowListOnly);
    assert_eq!(merged.watchers.offer, OfferMode::Offer);
    // Entries: the union, the imported one winning where both have it, in a fixed order:
    // ours first (replaced in place), then the new ones in the file's order.
    let total = OVERLAP + N;
    assert_eq!(merged.buddies.len(), total);
    assert_eq!(merged.buddies.group_count(), total);
    assert_eq!(merged.watchers.len(), total);
    let tag = |i: usize| if i < OVERLAP { "mine" } else { "theirs" };
    let groups: Vec<(String, String)> = merged
        .buddies
        .groups()
        .map(|g| (g.name.to_string(), g.data.to_string()))
        .collect();
    let expected: Vec<(String, String)> = (0..total)
        .map(|i| (format!("g{i}"), tag(i).to_owned()))
        .collect();
    assert!(groups == expected, "groups differ from the expected merge");
    let buddies: Vec<(String, String)> = merged
        .buddies
        .iter()
        .map(|b| (b.uri.to_string(), b.name.to_string()))
        .collect();
    let expected: Vec<(String, String)> = (0..total)
        .map(|i| {
            let host = if i < OVERLAP {
                "example.com"
            } else {
                "EXAMPLE.com"
            };
            (format!("sip:buddy{i}@{host}"), format!("{} {i}", tag(i)))
        })
        .collect();
    assert!(
        buddies == expected,
        "buddies differ from the expected merge"
    );
    let watchers: Vec<(String, WatcherState)> = merged
        .watchers
        .iter()
        .map(|w| (w.uri.to_string(), w.state))
        .collect();
    let expected: Vec<(String, WatcherState)> = (0..total)
        .map(|i| {
            let state = if i < OVERLAP {
                WatcherState::Allowed
            } else {
                WatcherState::Blocked
            };
            (format!("sip:watcher{i}@example.org"), state)
        })
        .collect();
    assert!(
        watchers == expected,
        "watchers differ from the expected merge"
    );
    assert_eq!(
        merged
            .buddies
            .get("sip:buddy7345@example.com")
            .map(|b| &*b.name),
        Some("theirs 7345")
    );
    assert_eq!(
        merged
            .watchers
            .policy("sip:watcher4999@example.org")
            .unwrap(),
        WatcherDecision::Allow
    );
    assert_eq!(
        merged
            .watchers
            .policy("sip:watcher5000@example.org")
            .unwrap(),
        WatcherDecision::Block
    );

    // The same merge in memory gives the same document, byte for byte, and merging the
    // same entries once more changes nothing.
    let theirs = store.load().unwrap();
    let mut again = mine;
    again.import(theirs.clone(), ImportMode::Merge).unwrap();
    assert!(
        again.to_xml() == merged.to_xml(),
        "merge output is not deterministic"
    );
    again.import(theirs, ImportMode::Merge).unwrap();
    assert_eq!(again, merged);
}

/// A store of 100,000 groups (a hostile or absurd file) loads in one linear pass: a linear
/// search per group would be 5 × 10^9 comparisons, minutes in a test run.
#[test]
fn a_store_with_100_000_groups_loads() {
    const N: usize = 100_000;
    let mut doc =
        String::from("<presence-store xmlns='urn:x-rtc-sip:presence-store' version='1'>\n");
    for i in 0..N {
        doc.push_str(&format!("<group name='g{i}'/>\n"));
    }
    // A repeated name replaces the first, in place.
    doc.push_str("<group name='g7'><data>again</data></group>\n</presence-store>\n");
    let data = PresenceData::from_xml(doc.as_bytes()).unwrap();
    assert_eq!(data.buddies.group_count(), N);
    assert_eq!(data.buddies.group("g7").map(|g| &*g.data), Some("again"));
    assert_eq!(
        data.buddies.groups().nth(N - 1).map(|g| &*g.name),
        Some("g99999")
    );
    assert_eq!(data.buddies.groups().nth(7).map(|g| &*g.name), Some("g7"));
}

// Arbitrary lists.

fn text() -> impl Strategy<Value = String> {
    "[ -~\u{a0}-\u{2fff}\t\n\r]{0,10}"
}

fn sip_uri() -> impl Strategy<Value = String> {
    (
        "[a-zA-Z0-9._~-]{1,8}",
        "[a-z]([a-z0-9-]{0,5}[a-z0-9])?(\\.[a-z]{2,3})?",
        proptest::option::of(1u16..),
    )
        .prop_map(|(user, host, port)| match port {
            Some(p) => format!("sip:{user}@{host}:{p}"),
            None => format!("sip:{user}@{host}"),
        })
}

fn buddies() -> impl Strategy<Value = BuddyList> {
    let group = (text(), text()).prop_map(|(name, data)| Group {
        name: name.into(),
        data: data.into(),
    });
    let buddy = (
        sip_uri(),
        text(),
        text(),
        proptest::collection::vec(text(), 0..3),
        proptest::sample::select(SubscriptionType::ALL.to_vec()),
    )
        .prop_map(|(uri, name, data, groups, subscription)| Buddy {
            uri: uri.into(),
            name: name.into(),
            data: data.into(),
            persistent: true,
            groups: groups.into_iter().map(Into::into).collect(),
            subscription,
        });
    (
        proptest::collection::vec(group, 0..4),
        proptest::collection::vec(buddy, 0..20),
    )
        .prop_map(|(groups, buddies)| {
            let mut list = BuddyList::default();
            for g in groups {
                list.add_group(g);
            }
            for b in buddies {
                list.add(b).unwrap();
            }
            list
        })
}

fn watchers() -> impl Strategy<Value = WatcherList> {
    let watcher = (
        sip_uri(),
        text(),
        proptest::sample::select(WatcherState::ALL.to_vec()),
        proptest::sample::select(Scope::ALL.to_vec()),
    )
        .prop_map(|(uri, name, state, scope)| Watcher {
            uri: uri.into(),
            name: name.into(),
            state,
            persistent: true,
            scope,
        });
    (
        proptest::collection::vec(watcher, 0..20),
        prop_oneof![
            Just(PrivacyMode::BlockList),
            Just(PrivacyMode::AllowListOnly)
        ],
        prop_oneof![Just(OfferMode::Offer), Just(OfferMode::AutoAdd)],
    )
        .prop_map(|(entries, privacy, offer)| {
            let mut list = WatcherList::default();
            list.privacy = privacy;
            list.offer = offer;
            for w in entries {
                list.add(w).unwrap();
            }
            list
        })
}

fn presence_data() -> impl Strategy<Value = PresenceData> {
    (
        proptest::sample::select(Status::ALL.to_vec()),
        proptest::option::of("[ -~\u{a0}-\u{2fff}\t\n\r]{1,20}"),
        buddies(),
        watchers(),
    )
        .prop_map(|(status, note, buddies, watchers)| PresenceData {
            local: LocalPresence::new(status, note.as_deref()),
            buddies,
            watchers,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn store_document_round_trips(data in presence_data()) {
        let xml = data.to_xml();
        prop_assert_eq!(PresenceData::from_xml(xml.as_bytes()).unwrap(), data);
    }

    #[test]
    fn merging_a_store_into_itself_changes_nothing(data in presence_data()) {
        let mut merged = data.clone();
        merged.import(data.clone(), ImportMode::Merge).unwrap();
        prop_assert_eq!(merged, data);
    }

    #[test]
    fn corrupted_store_bytes_never_panic_and_errors_have_positions(
        data in presence_data(),
        cut in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut xml = data.to_xml().into_bytes();
        let i = cut.index(xml.len());
        xml[i] = byte;
        match PresenceData::from_xml(&xml) {
            Ok(_) => {}
            Err(e) => prop_assert!(e.position().is_some() || matches!(e, Error::InvalidUri { .. }), "{}", e),
        }
    }
}
