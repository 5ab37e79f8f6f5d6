//! Property tests: built messages parse back to the same fields, framing survives any chunking,
//! and no input makes any entry point panic.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use sip_parse::{
    Challenge, Contact, Event, HeaderName, Message, MessageBuilder, Method, NameAddr, StreamFramer,
    SubscriptionState, Uri, Via,
};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,15}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9]{0,8}(\\.[a-z][a-z0-9]{0,8}){0,3}",
        (1u8..=254, 0u8..=255, 0u8..=255, 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        Just("[2001:db8::1]".to_owned()),
    ]
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("INVITE".to_owned()),
        Just("REGISTER".to_owned()),
        Just("SUBSCRIBE".to_owned()),
        Just("MESSAGE".to_owned()),
        "[A-Z][A-Z0-9_.!%*+`'~-]{0,12}",
    ]
}

#[derive(Debug, Clone)]
struct Fields {
    method: String,
    user: String,
    host: String,
    port: Option<u16>,
    branch: String,
    from_tag: String,
    to_tag: Option<String>,
    display: String,
    call_id: String,
    seq: u32,
    contacts: Vec<(String, u32)>,
    body: Vec<u8>,
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        (
            method(),
            "[a-z0-9_.!~*'()&=+$,;?/-]{1,12}",
            host(),
            proptest::option::of(1u16..),
        ),
        (
            token(),
            token(),
            proptest::option::of(token()),
            "[ -!#-\\[\\]-~]{0,20}",
            "[A-Za-z0-9.!%*_+`'~()<>:\\\\\"/\\[\\]?{}-]{1,20}",
        ),
        (
            any::<u32>(),
            proptest::collection::vec((host(), any::<u32>()), 0..4),
            proptest::collection::vec(any::<u8>(), 0..300),
        ),
    )
        .prop_map(
            |(
                (method, user, host, port),
                (branch, from_tag, to_tag, display, call_id),
                (seq, contacts, body),
            )| Fields {
                method,
                user,
                host,
                port,
                branch,
                from_tag,
                to_tag,
                display,
                call_id,
                seq,
                contacts,
                body,
            },
        )
}

fn build(f: &Fields) -> Bytes {
    let port = f.port.map(|p| format!(":{p}")).unwrap_or_default();
    let uri = format!("sip:{}@{}{port}", f.user, f.host);
    let mut b = MessageBuilder::request(Method::from_token(&f.method), &uri)
        .header(
            "Via",
            &format!(
                "SIP/2.0/UDP {}{port};branch=z9hG4bK{};rport",
                f.host, f.branch
            ),
        )
        .unwrap()
        .header(
            "From",
            &format!(
                "\"{}\" <sip:a@{}>;tag={}",
                f.display.replace('\\', "\\\\").replace('"', "\\\""),
                f.host,
                f.from_tag
            ),
        )
        .unwrap();
    let to = match &f.to_tag {
        Some(t) => format!("<{uri}>;tag={t}"),
        None => format!("<{uri}>"),
    };
    b = b
        .header("To", &to)
        .unwrap()
        .header("Call-ID", &f.call_id)
        .unwrap();
    b = b
        .header("CSeq", &format!("{} {}", f.seq, f.method))
        .unwrap()
        .header("Max-Forwards", "70")
        .unwrap();
    for (h, e) in &f.contacts {
        b = b
            .header("Contact", &format!("<sip:c@{h}>;expires={e}"))
            .unwrap();
    }
    if !f.body.is_empty() {
        b = b.body("application/octet-stream", f.body.clone()).unwrap();
    }
    b.try_build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn built_messages_parse_to_the_same_fields(f in fields()) {
        let wire = build(&f);
        let m = Message::parse(wire.clone()).unwrap();
        prop_assert_eq!(m.as_bytes(), &wire[..]);
        prop_assert_eq!(m.method().unwrap().as_str(), f.method.as_str());
        let Uri::Sip(u) = Uri::parse(m.request_uri().unwrap()).unwrap() else { panic!() };
        prop_assert_eq!(u.user, Some(f.user.as_str()));
        prop_assert_eq!(u.port, f.port);
        let via = m.top_via().unwrap();
        let branch = format!("z9hG4bK{}", f.branch);
        prop_assert_eq!(via.branch(), Some(branch.as_str()));
        prop_assert_eq!(via.rport, Some(None));
        let from = m.from_header().unwrap();
        prop_assert_eq!(from.tag(), Some(f.from_tag.as_str()));
        prop_assert_eq!(from.display_name().unwrap(), f.display.as_str());
        prop_assert_eq!(m.to_header().unwrap().tag(), f.to_tag.as_deref());
        prop_assert_eq!(m.call_id().unwrap(), f.call_id.as_str());
        let cseq = m.cseq().unwrap();
        prop_assert_eq!(cseq.seq, f.seq);
        prop_assert_eq!(cseq.method.as_str(), f.method.as_str());
        let contacts: Vec<_> = m.contacts().map(|c| c.unwrap().address().unwrap().expires().unwrap()).collect();
        prop_assert_eq!(contacts, f.contacts.iter().map(|c| c.1).collect::<Vec<_>>());
        prop_assert_eq!(m.body(), &f.body[..]);
        prop_assert_eq!(m.content_length().unwrap().unwrap(), f.body.len());
        m.validate().unwrap();
        // The response constructor keeps the transaction identifiers.
        let rsp = Message::parse(MessageBuilder::response_to(&m, 200, "OK", Some("srv")).unwrap().build()).unwrap();
        prop_assert_eq!(rsp.top_via().unwrap().branch(), Some(branch.as_str()));
        prop_assert_eq!(rsp.cseq().unwrap(), cseq);
        prop_assert_eq!(rsp.to_header().unwrap().tag(), Some(f.to_tag.as_deref().unwrap_or("srv")));
    }

    #[test]
    fn any_chunking_frames_the_same_messages(fs in proptest::collection::vec(fields(), 1..4), cuts in proptest::collection::vec(1usize..200, 1..40)) {
        let wires: Vec<Bytes> = fs.iter().map(build).collect();
        let mut stream = Vec::new();
        for w in &wires {
            stream.extend_from_slice(b"\r\n\r\n");
            stream.extend_from_slice(w);
        }
        let mut framer = StreamFramer::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut at = 0;
        for cut in cuts.iter().cycle() {
            if at >= stream.len() { break; }
            let end = (at + cut).min(stream.len());
            buf.extend_from_slice(&stream[at..end]);
            at = end;
            while let Some(m) = framer.next_message(&mut buf).unwrap() {
                got.push(m.bytes().clone());
            }
        }
        prop_assert_eq!(got, wires);
        prop_assert_eq!(framer.take_keepalives(), 2 * fs.len());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&data);
    }

    #[test]
    fn mutated_messages_never_panic(f in fields(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut data = build(&f).to_vec();
        for (at, b) in flips {
            let n = data.len();
            data[at % n] = b;
        }
        exercise(&data);
    }

    #[test]
    fn uris_never_panic(s in "\\PC{0,80}") {
        let _ = Uri::parse(&s).map(|u| u.to_string());
        let _ = sip_parse::Host::parse(&s);
    }
}

/// Every entry point and every typed view over `data`; results are ignored, panics are not.
fn exercise(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    let _ = Message::parse_stream(&bytes);
    let mut buf = BytesMut::from(data);
    let _ = StreamFramer::default().next_message(&mut buf);
    for v in [
        Via::parse(data).is_ok(),
        NameAddr::parse(data).is_ok(),
        Contact::parse(data).is_ok(),
    ] {
        let _ = v;
    }
    let _ = (
        Challenge::parse(data),
        Event::parse(data),
        SubscriptionState::parse(data),
        sip_parse::Date::parse(data),
    );
    if let Ok(m) = Message::parse(bytes) {
        let _ = m.validate();
        let _ = (
            m.top_via(),
            m.from_header(),
            m.to_header(),
            m.call_id(),
            m.cseq(),
        );
        let _ = (
            m.vias().count(),
            m.contacts().count(),
            m.routes().count(),
            m.accept().count(),
        );
        let _ = (
            m.expires(),
            m.max_forwards(),
            m.content_type(),
            m.event(),
            m.subscription_state(),
        );
        let _ = (
            m.www_authenticate().count(),
            m.tokens(HeaderName::Allow).count(),
            m.retry_after(),
        );
        if let Some(u) = m.request_uri() {
            let _ = Uri::parse(u);
        }
    }
}
