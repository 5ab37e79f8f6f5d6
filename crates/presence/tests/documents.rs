//! Presence documents: the RFC examples parse to what they describe, every document type
//! round-trips, the status mapping round-trips, and hostile XML is refused with a position.

use presence::pidf::{
    Activity, Basic, Contact, Device, Note, Person, Presence, Priority, Tuple, UserInput,
};
use presence::winfo::{DocState, WatcherEvent, WatcherInfo, WatcherList, WatcherStatus};
use presence::xpidf::{Address, Atom, Substatus, Xpidf, XpidfStatus};
use presence::{Error, LocalPresence, MediaKind, Position, Status, XmlLimits, parse_body};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn rfc3863_example_parses_to_what_it_describes() {
    let doc = Presence::parse(&fixture("rfc3863-example.xml")).unwrap();
    assert_eq!(doc.entity, "pres:someone@example.com");
    assert_eq!(doc.tuples.len(), 2);
    let first = &doc.tuples[0];
    assert_eq!(first.id, "bs35r9");
    assert_eq!(first.basic, Some(Basic::Open));
    assert_eq!(
        first.contact,
        Some(Contact {
            uri: "im:someone@mobilecarrier.net".to_owned(),
            priority: Priority::from_thousandths(800),
        })
    );
    assert_eq!(
        first.notes,
        [
            Note {
                lang: Some("en".to_owned()),
                text: "Don't Disturb Please!".to_owned()
            },
            Note {
                lang: Some("fr".to_owned()),
                text: "Ne derangez pas, s'il vous plait".to_owned()
            },
        ]
    );
    assert_eq!(first.timestamp.as_deref(), Some("2001-10-27T16:49:29Z"));
    let second = &doc.tuples[1];
    assert_eq!(second.id, "eg92n8");
    assert_eq!(
        second.contact.as_ref().map(|c| c.uri.as_str()),
        Some("mailto:someone@example.com")
    );
    assert_eq!(
        second.contact.as_ref().and_then(|c| c.priority),
        Priority::from_thousandths(1000)
    );
    assert_eq!(doc.notes, [Note::new("I'll be in Tokyo next week")]);
    // The im:im and myex:location extensions are skipped; the presentity is open.
    assert_eq!(doc.status(), Status::Online);
    assert_eq!(doc.note(), Some("I'll be in Tokyo next week"));
}

#[test]
fn rfc4480_example_parses_to_what_it_describes() {
    let doc = Presence::parse(&fixture("rfc4480-example.xml")).unwrap();
    assert_eq!(doc.entity, "pres:someone@example.com");
    let ids: Vec<_> = doc.tuples.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["bs35r9", "ty4658", "eg92n8"]);
    assert!(doc.tuples.iter().all(|t| t.basic == Some(Basic::Open)));
    assert_eq!(
        doc.tuples[0].contact,
        Some(Contact {
            uri: "im:someone@mobile.example.net".to_owned(),
            priority: Priority::from_thousandths(800),
        })
    );
    assert_eq!(
        doc.tuples[0]
            .notes
            .iter()
            .map(|n| (n.lang.as_deref(), n.text.as_str()))
            .collect::<Vec<_>>(),
        [
            (Some("en"), "Don't Disturb Please!"),
            (Some("fr"), "Ne derangez pas, s'il vous plait")
        ]
    );
    assert_eq!(
        doc.tuples[0].timestamp.as_deref(),
        Some("2005-10-27T16:49:29Z")
    );
    assert_eq!(
        doc.tuples[1].contact.as_ref().map(|c| c.uri.as_str()),
        Some("mailto:secretary@example.com")
    );
    assert_eq!(
        doc.tuples[2].contact.as_ref().map(|c| c.uri.as_str()),
        Some("mailto:someone@example.com")
    );
    assert_eq!(doc.notes, [Note::new("I'll be in Tokyo next week")]);
    assert_eq!(
        doc.devices,
        [Device {
            id: "pc147".to_owned(),
            device_id: Some("urn:device:0003ba4811e3".to_owned()),
            user_input: Some(UserInput {
                idle: true,
                idle_threshold: Some(600),
                last_input: Some("2004-10-21T13:20:00-05:00".to_owned()),
            }),
        }]
    );
    assert_eq!(doc.persons.len(), 1);
    let person = &doc.persons[0];
    assert_eq!(person.id, "p1");
    assert_eq!(person.activities, [Activity::Away]);
    assert_eq!(person.activity_notes, [Note::new("Far away")]);
    assert_eq!(
        (
            person.activities_from.as_deref(),
            person.activities_until.as_deref()
        ),
        (
            Some("2005-05-30T12:00:00+05:00"),
            Some("2005-05-30T17:00:00+05:00")
        )
    );
    assert_eq!(person.notes, [Note::new("Scoring 120")]);
    assert_eq!(
        person.timestamp.as_deref(),
        Some("2005-05-30T16:09:44+05:00")
    );
    // The away activity outranks the idle device.
    assert_eq!(doc.status(), Status::Away);
    // Written back and read again, what we model is unchanged.
    assert_eq!(Presence::parse(doc.to_xml().as_bytes()).unwrap(), doc);
}

#[test]
fn rfc3858_example_parses_to_what_it_describes() {
    let doc = WatcherInfo::parse(&fixture("rfc3858-example.xml")).unwrap();
    assert_eq!((doc.version, doc.state), (0, DocState::Full));
    assert_eq!(doc.lists.len(), 1);
    let list = &doc.lists[0];
    assert_eq!(
        (list.resource.as_str(), list.package.as_str()),
        ("sip:professor@example.net", "presence")
    );
    let a = &list.watchers[0];
    assert_eq!(a.id, "8ajksjda7s");
    assert_eq!(a.uri, "sip:userA@example.net");
    assert_eq!(
        (a.status, a.event),
        (WatcherStatus::Active, WatcherEvent::Approved)
    );
    assert_eq!(a.duration_subscribed, Some(509));
    assert_eq!(a.display_name, None);
    let b = &list.watchers[1];
    assert_eq!(b.id, "hh8juja87s997-ass7");
    assert_eq!(b.uri, "sip:userB@example.org");
    assert_eq!(
        (b.status, b.event),
        (WatcherStatus::Pending, WatcherEvent::Subscribe)
    );
    assert_eq!(b.display_name.as_deref(), Some("Mr. Subscriber"));
    assert_eq!(WatcherInfo::parse(doc.to_xml().as_bytes()).unwrap(), doc);
}

#[test]
fn xpidf_from_an_rtc_client_reads_as_out_to_lunch() {
    let body = fixture("xpidf-rtc-client.xml");
    let seen = parse_body("application/xpidf+xml", &body).unwrap();
    assert_eq!(seen.status, Status::OutToLunch);
    assert_eq!(&*seen.entity, "sip:bob@example.com");
    let doc = Xpidf::parse(&body).unwrap();
    assert_eq!(
        doc.atoms[0].addresses[0].uri,
        "sip:bob@192.0.2.4:5060;user=ip"
    );
}

#[test]
fn local_presence_bodies_have_the_documented_shape() {
    let me = LocalPresence::new(Status::Idle, None);
    let (ct, body) = me.to_body("sip:alice@example.com", MediaKind::Pidf);
    assert_eq!(ct, "application/pidf+xml");
    let doc = Presence::parse(&body).unwrap();
    assert_eq!(doc.tuples[0].basic, Some(Basic::Open));
    assert_eq!(doc.persons[0].user_input, Some(UserInput::IDLE));
    let (ct, body) =
        LocalPresence::new(Status::Busy, None).to_body("sip:alice@example.com", MediaKind::Xpidf);
    assert_eq!(ct, "application/xpidf+xml");
    let doc = Xpidf::parse(&body).unwrap();
    let address = &doc.atoms[0].addresses[0];
    assert_eq!(
        (address.status, address.substatus),
        (XpidfStatus::InUse, Some(Substatus::Busy))
    );
}

// Hostile input.

fn position(err: &Error) -> (u32, u32) {
    let p = err
        .position()
        .unwrap_or_else(|| panic!("no position in {err}"));
    (p.line, p.column)
}

#[test]
fn billion_laughs_is_refused_at_the_doctype() {
    let bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n \
                <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n]>\n\
                <presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"&lol2;\"/>";
    for result in [
        Presence::parse(bomb.as_bytes()).map(drop),
        Xpidf::parse(bomb.as_bytes()).map(drop),
        WatcherInfo::parse(bomb.as_bytes()).map(drop),
    ] {
        let err = result.unwrap_err();
        assert!(matches!(err, Error::Doctype { .. }), "{err}");
        assert_eq!(position(&err), (2, 1));
    }
}

#[test]
fn external_entities_are_never_resolved() {
    let xxe = "<!DOCTYPE p [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<presence/>";
    assert!(matches!(
        Xpidf::parse(xxe.as_bytes()),
        Err(Error::Doctype { .. })
    ));
    let undeclared = "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"sip:a@b\">\n\
                      <note>&passwd;</note></presence>";
    let err = Presence::parse(undeclared.as_bytes()).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownEntity { name, .. } if &**name == "passwd"),
        "{err}"
    );
    assert_eq!(position(&err), (2, 7));
    assert_eq!(err.to_string(), "2:7: undefined entity &passwd;");
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    let depth = 200_000;
    let deep = format!(
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\">{}{}</presence>",
        "<x>".repeat(depth),
        "</x>".repeat(depth)
    );
    let limits = XmlLimits {
        max_size: usize::MAX,
        ..XmlLimits::default()
    };
    let err = Presence::parse_with_limits(deep.as_bytes(), &limits).unwrap_err();
    assert!(matches!(err, Error::TooDeep { limit: 32, .. }), "{err}");
}

#[test]
fn oversized_documents_are_refused_before_parsing() {
    let big = format!(
        "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\"><note>{}</note></presence>",
        "a".repeat(2 * 1024 * 1024)
    );
    let err = Presence::parse(big.as_bytes()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn many_attributes_and_elements_stay_linear() {
    // Would take minutes if duplicate-attribute checks or child lookups were quadratic.
    let attrs: String = (0..60_000).map(|i| format!(" a{i}=\"\"")).collect();
    let doc = format!("<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\"{attrs}/>");
    assert!(Presence::parse(doc.as_bytes()).is_ok());
    let dup = "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\" entity=\"f\"/>";
    assert!(matches!(
        Presence::parse(dup.as_bytes()),
        Err(Error::Xml { .. })
    ));
    let many: String = "<x/>".repeat(40_000);
    let doc =
        format!("<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" entity=\"e\">{many}</presence>");
    let err = Presence::parse(doc.as_bytes()).unwrap_err();
    assert!(
        err.to_string().contains("more than 32768 elements"),
        "{err}"
    );
}

#[test]
fn wrong_or_missing_namespace_on_the_root_is_refused() {
    type Parse = fn(&[u8]) -> Result<(), Error>;
    let cases: [(&str, Parse); 3] = [
        ("<presence entity='sip:a@b'/>", |b| {
            Presence::parse(b).map(drop)
        }),
        (
            "<watcherinfo xmlns='urn:ietf:params:xml:ns:pidf' version='0' state='full'/>",
            |b| WatcherInfo::parse(b).map(drop),
        ),
        (
            "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='sip:a@b'/>",
            |b| Xpidf::parse(b).map(drop),
        ),
    ];
    for (doc, parse) in cases {
        let err = parse(doc.as_bytes()).unwrap_err();
        assert!(matches!(err, Error::UnexpectedRoot { .. }), "{doc}: {err}");
        assert_eq!(position(&err), (1, 1));
    }
}

#[test]
fn truncated_and_garbage_bodies_fail_cleanly() {
    let full = fixture("rfc4480-example.xml");
    for end in (0..full.len()).step_by(7) {
        let Some(head) = full.get(..end) else {
            continue;
        };
        let err = Presence::parse(head).unwrap_err();
        assert!(err.position().is_some(), "cut at {end}: {err}");
    }
    assert!(matches!(
        parse_body("application/pidf+xml", b"\xff\xfe<"),
        Err(Error::Xml { .. })
    ));
}

// Round trips.

fn text() -> impl Strategy<Value = String> {
    "[ -~\u{a0}-\u{2fff}\t\n\r]{0,12}"
}

/// Non-empty text without surrounding white space (values the readers trim).
fn token() -> impl Strategy<Value = String> {
    "[!-~\u{a0}-\u{2fff}]([ -~\u{a0}-\u{2fff}]{0,10}[!-~\u{a0}-\u{2fff}])?"
}

/// An `xs:ID` (an NCName); [`presence_doc`] makes them unique.
fn ncname() -> impl Strategy<Value = String> {
    "[A-Za-z_\u{c0}-\u{d6}\u{3b1}-\u{3c9}][A-Za-z0-9_.\u{b7}\u{3b1}-\u{3c9}-]{0,10}"
}

/// An RFC 3339 date-time (RFC 3863 §4.1.7).
fn date_time() -> impl Strategy<Value = String> {
    (
        1970u32..2100,
        1u32..=12,
        1u32..=28,
        0u32..24,
        0u32..60,
        0u32..=60,
        proptest::option::of(0u32..1000),
        proptest::option::of((any::<bool>(), 0u32..24, 0u32..60)),
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, tz)| {
            let frac = frac.map(|f| format!(".{f:03}")).unwrap_or_default();
            let tz = match tz {
                None => "Z".to_owned(),
                Some((east, th, tm)) => format!("{}{th:02}:{tm:02}", if east { '+' } else { '-' }),
            };
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{tz}")
        })
}

fn note() -> impl Strategy<Value = Note> {
    (proptest::option::of(token()), text()).prop_map(|(lang, text)| Note { lang, text })
}

fn user_input() -> impl Strategy<Value = UserInput> {
    (
        any::<bool>(),
        proptest::option::of(1u32..),
        proptest::option::of(token()),
    )
        .prop_map(|(idle, idle_threshold, last_input)| UserInput {
            idle,
            idle_threshold,
            last_input,
        })
}

fn activity() -> impl Strategy<Value = Activity> {
    prop_oneof![
        proptest::sample::select(Activity::ENUMERATED.to_vec()),
        text().prop_map(Activity::Other),
    ]
}

fn tuple() -> impl Strategy<Value = Tuple> {
    (
        ncname(),
        proptest::option::of(prop_oneof![Just(Basic::Open), Just(Basic::Closed)]),
        proptest::option::of(user_input()),
        proptest::option::of((
            token(),
            proptest::option::of(
                (0u16..=1000).prop_map(|t| Priority::from_thousandths(t).unwrap()),
            ),
        )),
        proptest::collection::vec(note(), 0..3),
        proptest::option::of(date_time()),
    )
        .prop_map(|(id, basic, user_input, contact, notes, timestamp)| Tuple {
            id,
            basic,
            user_input,
            contact: contact.map(|(uri, priority)| Contact { uri, priority }),
            notes,
            timestamp,
        })
}

fn person() -> impl Strategy<Value = Person> {
    (
        ncname(),
        proptest::collection::vec(activity(), 0..4),
        proptest::collection::vec(note(), 0..2),
        proptest::option::of(token()),
        proptest::option::of(token()),
        proptest::option::of(user_input()),
        proptest::collection::vec(note(), 0..3),
        proptest::option::of(date_time()),
    )
        .prop_map(
            |(id, activities, activity_notes, from, until, user_input, notes, timestamp)| Person {
                id,
                activities,
                activity_notes,
                activities_from: from,
                activities_until: until,
                user_input,
                notes,
                timestamp,
            },
        )
}

fn device() -> impl Strategy<Value = Device> {
    (
        ncname(),
        proptest::option::of(token()),
        proptest::option::of(user_input()),
    )
        .prop_map(|(id, device_id, user_input)| Device {
            id,
            device_id,
            user_input,
        })
}

fn presence_doc() -> impl Strategy<Value = Presence> {
    (
        text(),
        proptest::collection::vec(tuple(), 0..4),
        proptest::collection::vec(note(), 0..3),
        proptest::collection::vec(person(), 0..3),
        proptest::collection::vec(device(), 0..2),
    )
        .prop_map(|(entity, mut tuples, notes, mut persons, mut devices)| {
            // Ids are unique in a document: suffix each with its kind and place.
            let unique = |id: &mut String, kind: &str, i: usize| *id = format!("{id}-{kind}{i}");
            tuples
                .iter_mut()
                .enumerate()
                .for_each(|(i, t)| unique(&mut t.id, "t", i));
            persons
                .iter_mut()
                .enumerate()
                .for_each(|(i, p)| unique(&mut p.id, "p", i));
            devices
                .iter_mut()
                .enumerate()
                .for_each(|(i, d)| unique(&mut d.id, "d", i));
            Presence {
                entity,
                tuples,
                notes,
                persons,
                devices,
            }
        })
}

fn xpidf_doc() -> impl Strategy<Value = Xpidf> {
    let address = (
        text(),
        proptest::option::of(text()),
        proptest::sample::select(vec![
            XpidfStatus::Open,
            XpidfStatus::Closed,
            XpidfStatus::InUse,
            XpidfStatus::Inactive,
        ]),
        proptest::option::of(proptest::sample::select(
            Status::ALL
                .iter()
                .filter_map(|s| s.to_xpidf().1)
                .collect::<Vec<_>>(),
        )),
        proptest::option::of(text()),
    )
        .prop_map(|(uri, priority, status, substatus, note)| Address {
            uri,
            priority,
            status,
            substatus,
            note,
        });
    let atom = (text(), proptest::collection::vec(address, 0..3))
        .prop_map(|(id, addresses)| Atom { id, addresses });
    (text(), proptest::collection::vec(atom, 0..3))
        .prop_map(|(presentity, atoms)| Xpidf { presentity, atoms })
}

fn winfo_doc() -> impl Strategy<Value = WatcherInfo> {
    let watcher = (
        text(),
        token(),
        proptest::sample::select(WatcherStatus::ALL.to_vec()),
        proptest::sample::select(WatcherEvent::ALL.to_vec()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(
            |(id, uri, status, event, display_name, lang, expiration, duration_subscribed)| {
                presence::winfo::Watcher {
                    id,
                    uri,
                    status,
                    event,
                    display_name,
                    lang,
                    expiration,
                    duration_subscribed,
                }
            },
        );
    let list = (text(), text(), proptest::collection::vec(watcher, 0..4)).prop_map(
        |(resource, package, watchers)| WatcherList {
            resource,
            package,
            watchers,
        },
    );
    (
        any::<u32>(),
        any::<bool>(),
        proptest::collection::vec(list, 0..3),
    )
        .prop_map(|(version, full, lists)| WatcherInfo {
            version,
            state: if full {
                DocState::Full
            } else {
                DocState::Partial
            },
            lists,
        })
}

proptest! {
    #[test]
    fn pidf_round_trips(doc in presence_doc()) {
        prop_assert_eq!(Presence::parse(doc.to_xml().as_bytes()).unwrap(), doc);
    }

    #[test]
    fn xpidf_round_trips(doc in xpidf_doc()) {
        let xml = doc.to_xml();
        let back = Xpidf::parse(xml.as_bytes());
        prop_assert!(back.is_ok(), "{:?}\n{}", back, xml);
        prop_assert_eq!(back.unwrap(), doc);
    }

    #[test]
    fn winfo_round_trips(doc in winfo_doc()) {
        prop_assert_eq!(WatcherInfo::parse(doc.to_xml().as_bytes()).unwrap(), doc);
    }

    #[test]
    fn status_and_note_round_trip_through_both_formats(
        status in proptest::sample::select(Status::ALL.to_vec()),
        note in proptest::option::of("[ -~\u{a0}-\u{2fff}\t\n\r]{1,40}"),
        user in "[a-z0-9.]{1,12}",
    ) {
        let entity = format!("sip:{user}@example.com");
        let me = LocalPresence::new(status, note.as_deref());
        for kind in [MediaKind::Pidf, MediaKind::Xpidf] {
            let (ct, body) = me.to_body(&entity, kind);
            let seen = parse_body(ct, &body).unwrap();
            prop_assert_eq!(seen.status, status);
            prop_assert_eq!(seen.note.as_deref(), note.as_deref());
            prop_assert_eq!(&*seen.entity, entity.as_str());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        for ct in ["application/pidf+xml", "application/xpidf+xml"] {
            if let Err(e) = parse_body(ct, &bytes) {
                prop_assert!(!e.to_string().is_empty());
            }
        }
        let _ = WatcherInfo::parse(&bytes);
    }
}

#[test]
fn positions_count_characters_not_bytes() {
    let doc = "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='é'>\n  ééé<tuple/></presence>";
    let err = Presence::parse(doc.as_bytes()).unwrap_err();
    assert_eq!(err.position(), Some(Position { line: 2, column: 6 }));
}
