//! parse(serialize(p)) == p for generated valid profiles, and the parser never panics.

use proptest::prelude::*;
use provisioning::{
    AccessControl, AuthMethod, Client, Data, DateTimeTz, Fixed, Host, Password, Profile, Provider,
    Role, ServerAddr, Session, SessionParty, SessionType, SipServer, Transport, Uri, User, UserUri,
    Zone,
};

/// Any text XML can carry, including markup characters, quotes and whitespace that
/// attribute normalization would otherwise eat.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 &<>\"'\t\n\r\u{e9}\u{4e2d}\u{1F600}{}_.-]{0,24}"
}

/// Text that is not blank (for required attributes).
fn name() -> impl Strategy<Value = String> {
    (text(), "[a-zA-Z0-9{}\u{4e2d}-]{1,8}").prop_map(|(a, b)| format!("{a}{b}"))
}

fn label() -> impl Strategy<Value = String> {
    "[a-z]([a-z0-9_-]{0,8}[a-z0-9])?"
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        prop::collection::vec(label(), 1..4).prop_map(|l| Host::Name(l.join("."))),
        any::<[u8; 4]>().prop_map(|o| Host::V4(o.into())),
        any::<[u16; 8]>().prop_map(|s| Host::V6(s.into())),
    ]
}

fn server_addr() -> impl Strategy<Value = ServerAddr> {
    (host(), prop::option::of(1u16..)).prop_map(|(host, port)| ServerAddr { host, port })
}

fn user_uri() -> impl Strategy<Value = UserUri> {
    (
        prop_oneof![Just("sip:"), Just("sips:"), Just("")],
        "[a-z0-9.+_-]{1,10}",
        server_addr(),
        prop::option::of(";transport=(tcp|udp|tls)"),
    )
        .prop_map(|(scheme, user, addr, params)| {
            let text = format!("{scheme}{user}@{addr}{}", params.unwrap_or_default());
            text.parse().expect("generated user URI")
        })
}

fn uri() -> impl Strategy<Value = Uri> {
    ("(http|https|urn|ftp)", "[a-zA-Z0-9/.?=&%:_~-]{1,20}")
        .prop_map(|(scheme, rest)| format!("{scheme}:{rest}").parse().expect("generated URI"))
}

fn datetime() -> impl Strategy<Value = DateTimeTz> {
    (
        0u16..=9999,
        1u8..=12,
        1u8..=28,
        prop::option::of((
            0u8..24,
            0u8..60,
            0u8..60,
            prop_oneof![Just(0u32), 0u32..1_000_000_000],
        )),
        prop::option::of(prop_oneof![
            Just(Zone::Utc),
            (-(23 * 60 + 59)..=(23 * 60 + 59i16)).prop_map(Zone::Offset)
        ]),
    )
        .prop_map(|(y, mo, d, time, zone)| DateTimeTz::new(y, mo, d, time, zone).expect("in range"))
}

fn fixed() -> impl Strategy<Value = Fixed> {
    (-999_999_999_999_999_999i64..=999_999_999_999_999_999)
        .prop_map(|v| Fixed::from_ten_thousandths(v).expect("in range"))
}

/// Well-formed open content: text with references, elements, CDATA, comments.
fn data_content() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[a-zA-Z0-9 \n\t.,]{0,12}",
        Just("&amp;&lt;&gt;&quot;&apos;&#x263A;".to_owned()),
        "<!\\[CDATA\\[[a-z <>&]{0,10}\\]\\]>",
        "<!--[a-z ]{0,10}-->",
        "<[a-z]{1,5}( [a-z]{1,3}='[a-z&&[^<]]{0,4}')?/>",
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        ("[a-z]{1,5}", prop::collection::vec(inner, 0..4))
            .prop_map(|(tag, children)| format!("<{tag} x=\"1\">{}</{tag}>", children.concat()))
    })
}

fn data() -> impl Strategy<Value = Data> {
    prop::collection::vec(data_content(), 0..4)
        .prop_map(|parts| Data::from_markup(&parts.concat()).expect("well-formed content"))
}

fn session() -> impl Strategy<Value = Session> {
    (
        prop_oneof![Just(SessionParty::First), Just(SessionParty::Third)],
        prop::sample::select(SessionType::ALL.to_vec()),
    )
        .prop_map(|(party, session_type)| Session {
            party,
            session_type,
        })
        .prop_filter("valid combination", |s| s.is_valid())
}

fn server(role: Role) -> impl Strategy<Value = SipServer> {
    (
        server_addr(),
        prop_oneof![
            Just(Transport::Tcp),
            Just(Transport::Udp),
            Just(Transport::Tls)
        ],
        prop::option::of(prop_oneof![
            Just(AuthMethod::Basic),
            Just(AuthMethod::Digest)
        ]),
        prop::collection::vec(session(), 0..5),
    )
        .prop_map(move |(addr, protocol, auth, sessions)| SipServer {
            addr,
            protocol,
            // Basic is allowed only over TLS.
            auth: auth.filter(|a| *a == AuthMethod::Digest || protocol == Transport::Tls),
            role,
            sessions,
        })
}

fn servers() -> impl Strategy<Value = Vec<SipServer>> {
    (
        prop::collection::vec(server(Role::Proxy), 0..4),
        prop::option::of(server(Role::Registrar)),
        any::<prop::sample::Index>(),
    )
        .prop_filter_map("one server at least", |(mut proxies, registrar, at)| {
            if let Some(r) = registrar {
                let i = at.index(proxies.len() + 1);
                proxies.insert(i, r);
            }
            (!proxies.is_empty()).then_some(proxies)
        })
}

fn client() -> impl Strategy<Value = Client> {
    (
        name(),
        prop::option::of(any::<bool>()),
        prop::option::of(any::<bool>()),
        prop::option::of(fixed()),
        prop::option::of(fixed()),
        prop::option::of(uri()),
        prop::option::of(data()),
    )
        .prop_map(
            |(name, banner, updates, min_version, current_version, update_uri, data)| Client {
                name,
                banner,
                updates,
                min_version,
                current_version,
                update_uri,
                data,
            },
        )
}

fn provider() -> impl Strategy<Value = Provider> {
    (
        prop::option::of(text()),
        [
            prop::option::of(uri()),
            prop::option::of(uri()),
            prop::option::of(uri()),
            prop::option::of(uri()),
            prop::option::of(uri()),
        ],
        prop::option::of(data()),
    )
        .prop_map(
            |(name, [homepage, helpdesk, personal, call, idle], data)| Provider {
                name,
                homepage,
                helpdesk,
                personal,
                call_display: call,
                idle_display: idle,
                data,
            },
        )
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        (name(), name(), prop::option::of(datetime())),
        prop::option::of((name(), name()).prop_map(|(domain, sig)| AccessControl { domain, sig })),
        (
            user_uri(),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text().prop_map(Password::new)),
            prop::option::of(text()),
        ),
        servers(),
        prop::option::of(client()),
        prop::option::of(provider()),
    )
        .prop_map(
            |((key, name, expires), access_control, user, servers, client, provider)| Profile {
                key,
                name,
                expires,
                access_control,
                user: User {
                    uri: user.0,
                    account: user.1,
                    name: user.2,
                    password: user.3,
                    realm: user.4,
                },
                servers,
                client,
                provider,
            },
        )
}

proptest! {
    #[test]
    fn parse_of_serialize_is_identity(p in profile()) {
        let xml = p.to_xml();
        let again = Profile::from_xml(&xml);
        prop_assert_eq!(again.as_ref(), Ok(&p), "{}", xml);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let _ = Profile::from_xml(&s);
    }

    #[test]
    fn mutated_profiles_never_panic(p in profile(), cut in any::<prop::sample::Index>(), junk in "[<>&;'\"/= a-z!\\[\\]?-]{0,6}") {
        let xml = p.to_xml();
        let mut at = cut.index(xml.len() + 1);
        while !xml.is_char_boundary(at) {
            at -= 1;
        }
        let mutated = format!("{}{}{}", &xml[..at], junk, &xml[at..]);
        if let Err(e) = Profile::from_xml(&mutated) {
            // Every error is placed inside the document (or just past its end).
            let lines = mutated.lines().count().max(1) as u32 + 1;
            prop_assert!(e.position().line >= 1 && e.position().line <= lines, "{e}");
        }
    }
}
