//! The embedded registrar/proxy: its sans-IO core driven step by step on a simulated clock, then
//! the tokio server over loopback sockets with sip-transport UAs, and sipp if installed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtc_client::server::{BindingInfo, EmbeddedServer, RegistrarProxy, ServerConfig};
use sip_parse::{HeaderName, Message, MessageBuilder, Method, Target, TransportKind};
use sip_transport::{Events, Transport, TransportConfig, TransportEvent};
use sip_txn::Transmit;
use sip_txn::digest::{Credentials, DigestClient};

const SERVER: &str = "192.0.2.5:5060";

fn server_addr() -> SocketAddr {
    SERVER.parse().unwrap()
}

/// A user agent talking to the core: its address, a digest client, and counters.
struct Ua {
    user: &'static str,
    target: Target,
    digest: DigestClient,
    cseq: u32,
    branch: u32,
}

impl Ua {
    fn new(user: &'static str, password: &str, addr: &str) -> Self {
        Self {
            user,
            target: Target::udp(addr.parse().unwrap()),
            digest: DigestClient::new(Credentials::new(user, password)),
            cseq: 0,
            branch: 0,
        }
    }

    fn via(&self) -> String {
        let (t, addr, user, n) = (
            self.target.transport,
            self.target.addr,
            self.user,
            self.branch,
        );
        format!("SIP/2.0/{t} {addr};rport;branch=z9hG4bK{user}{n}")
    }

    fn contact(&self) -> String {
        format!("sip:{}@{}", self.user, self.target.addr)
    }

    /// A request from this UA (new branch and CSeq), with `extra` header lines.
    fn request(
        &mut self,
        method: &str,
        ruri: &str,
        to: &str,
        call_id: &str,
        extra: &[String],
    ) -> Message {
        self.cseq += 1;
        self.branch += 1;
        let mut b = MessageBuilder::request(Method::from_token(method), ruri)
            .header("Via", &self.via())
            .unwrap()
            .header("Max-Forwards", "70")
            .unwrap()
            .header(
                "From",
                &format!("<sip:{}@example.test>;tag={}tag", self.user, self.user),
            )
            .unwrap()
            .header("To", to)
            .unwrap()
            .header("Call-ID", call_id)
            .unwrap()
            .header("CSeq", &format!("{} {method}", self.cseq))
            .unwrap();
        for line in extra {
            let (n, v) = line.split_once(": ").unwrap();
            b = b.header(n, v).unwrap();
        }
        Message::parse(b.build()).unwrap()
    }

    /// The same request, answered with credentials for `challenge` (CSeq + 1, new branch).
    fn with_credentials(&mut self, request: &Message, challenge: &Message) -> Message {
        let auth = self
            .digest
            .authorize(request, challenge)
            .expect("credentials");
        self.cseq += 1;
        self.branch += 1;
        let method = request.method().unwrap();
        let mut b = MessageBuilder::request(method, request.request_uri().unwrap());
        for h in request.headers() {
            let v = h.value_str().unwrap();
            b = match h.name {
                HeaderName::Via => b.header("Via", &self.via()).unwrap(),
                HeaderName::CSeq => b
                    .header("CSeq", &format!("{} {}", self.cseq, method.as_str()))
                    .unwrap(),
                HeaderName::Authorization
                | HeaderName::ProxyAuthorization
                | HeaderName::ContentLength => b,
                HeaderName::ContentType => b,
                _ => b
                    .header(std::str::from_utf8(h.raw_name).unwrap(), v)
                    .unwrap(),
            };
        }
        for a in &auth {
            b = a.add_to(b).unwrap();
        }
        if let Some(ct) = request.header_str(HeaderName::ContentType) {
            b = b.body(ct, request.body_bytes()).unwrap();
        }
        Message::parse(b.build()).unwrap()
    }

    fn register(&mut self, call_id: &str, extra: &[String]) -> Message {
        let aor = format!("<sip:{}@example.test>", self.user);
        self.request("REGISTER", "sip:example.test", &aor, call_id, extra)
    }
}

/// The core on a simulated clock.
struct Lab {
    server: RegistrarProxy,
    now: Instant,
}

impl Lab {
    fn new(config: ServerConfig) -> Self {
        #[allow(clippy::disallowed_methods)] // the simulated clock starts somewhere
        let now = Instant::now();
        let listeners = [
            (TransportKind::Udp, server_addr()),
            (TransportKind::Tcp, server_addr()),
        ];
        Self {
            server: RegistrarProxy::new(config, &listeners, now).unwrap(),
            now,
        }
    }

    fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
        self.server.handle_timeout(self.now);
    }

    /// Delivers `msg` from `from` and returns everything the server sends.
    fn send(&mut self, from: &Target, msg: &Message) -> Vec<Transmit> {
        self.server
            .handle_message(self.now, from.clone(), msg.clone());
        std::iter::from_fn(|| self.server.poll_transmit()).collect()
    }

    /// Delivers `msg` and expects exactly one message back.
    fn one(&mut self, from: &Target, msg: &Message) -> (Message, Target) {
        let out = self.send(from, msg);
        assert_eq!(
            out.len(),
            1,
            "{:?}",
            out.iter()
                .map(|t| String::from_utf8_lossy(&t.payload).into_owned())
                .collect::<Vec<_>>()
        );
        let t = out.into_iter().next().unwrap();
        (Message::parse(t.payload).unwrap(), t.target)
    }

    /// Delivers `msg` and expects one response back to the sender, with `status`.
    fn answer(&mut self, from: &Target, msg: &Message, status: u16) -> Message {
        let (rsp, to) = self.one(from, msg);
        assert_eq!(
            rsp.status(),
            Some(status),
            "{}",
            String::from_utf8_lossy(rsp.as_bytes())
        );
        assert_eq!(&to, from);
        rsp
    }

    /// REGISTER with one challenge round; returns the 200.
    fn register(&mut self, ua: &mut Ua, call_id: &str, extra: &[String]) -> Message {
        let reg = ua.register(call_id, extra);
        let challenge = self.answer(&ua.target.clone(), &reg, 401);
        let reg = ua.with_credentials(&reg, &challenge);
        self.answer(&ua.target.clone(), &reg, 200)
    }

    /// Sends an out-of-dialog request, answers the 407, and returns what is forwarded.
    fn authorized(&mut self, ua: &mut Ua, request: &Message) -> (Message, Target) {
        let challenge = self.answer(&ua.target.clone(), request, 407);
        let retry = ua.with_credentials(request, &challenge);
        self.one(&ua.target.clone(), &retry)
    }
}

fn contacts(rsp: &Message) -> Vec<String> {
    rsp.list(HeaderName::Contact)
        .map(|h| h.value_str().unwrap().to_owned())
        .collect()
}

fn alice() -> Ua {
    Ua::new("alice", "alicepw", "192.0.2.1:5070")
}

fn bob() -> Ua {
    Ua::new("bob", "bobpw", "192.0.2.2:5080")
}

const A_CONTACT: &str = "sip:alice@192.0.2.1:5070";
const B_CONTACT: &str = "sip:bob@192.0.2.2:5080";

fn cline(contact: &str, params: &str) -> String {
    format!("Contact: <{contact}>{params}")
}

#[test]
fn register_is_challenged_then_bound() {
    let mut lab = Lab::new(ServerConfig::demo());
    let mut a = alice();
    let reg = a.register("reg-a", &[cline(A_CONTACT, ""), "Expires: 300".into()]);
    let challenge = lab.answer(&a.target.clone(), &reg, 401);
    let ch = challenge.www_authenticate().next().unwrap().unwrap();
    assert_eq!(ch.realm().as_deref(), Some("example.test"));
    assert_eq!(ch.algorithm().as_deref(), Some("MD5"));
    assert_eq!(ch.qop_options().collect::<Vec<_>>(), ["auth"]);
    assert!(!ch.stale());
    assert!(challenge.to_header().unwrap().tag().is_some());
    assert!(lab.server.bindings(lab.now, "alice").is_empty());

    let reg = a.with_credentials(&reg, &challenge);
    let ok = lab.answer(&a.target.clone(), &reg, 200);
    assert_eq!(contacts(&ok), [format!("<{}>;expires=300", a.contact())]);
    assert_eq!(ok.record_routes().count(), 0);
    assert_eq!(
        lab.server.bindings(lab.now, "alice"),
        [BindingInfo {
            contact: a.contact(),
            expires: 300,
            q: None
        }]
    );
}

#[test]
fn register_retransmission_gets_the_same_200() {
    let mut lab = Lab::new(ServerConfig::demo());
    let mut a = alice();
    let reg = a.register("reg-a", &[cline(A_CONTACT, "")]);
    let challenge = lab.answer(&a.target.clone(), &reg, 401);
    let reg = a.with_credentials(&reg, &challenge);
    let first = lab.answer(&a.target.clone(), &reg, 200);
    // The same request again (UDP retransmission): the server transaction answers it, the
    // Call-ID/CSeq rule is not applied a second time.
    let again = lab.answer(&a.target.clone(), &reg, 200);
    assert_eq!(first.as_bytes(), again.as_bytes());
    assert_eq!(
        contacts(&again),
        [format!("<{}>;expires=3600", a.contact())]
    );
}

/// Sends a REGISTER through its challenge and returns the final answer.
fn register_status(
    lab: &mut Lab,
    ua: &mut Ua,
    call_id: &str,
    extra: &[String],
    status: u16,
) -> Message {
    let reg = ua.register(call_id, extra);
    let challenge = lab.answer(&ua.target.clone(), &reg, 401);
    let reg = ua.with_credentials(&reg, &challenge);
    lab.answer(&ua.target.clone(), &reg, status)
}

#[test]
fn register_below_min_expires_gets_423() {
    let mut lab = Lab::new(ServerConfig::demo());
    let mut a = alice();
    let rsp = register_status(
        &mut lab,
        &mut a,
        "reg-a",
        &[cline(A_CONTACT, ""), "Expires: 30".into()],
        423,
    );
    assert_eq!(rsp.min_expires().unwrap().unwrap(), 60);
    // The contact parameter wins over the header, in both directions.
    let rsp = register_status(
        &mut lab,
        &mut a,
        "reg-a",
        &[cline(A_CONTACT, ";expires=59"), "Expires: 600".into()],
        423,
    );
    assert_eq!(rsp.min_expires().unwrap().unwrap(), 60);
    assert!(lab.server.bindings(lab.now, "alice").is_empty());
    let ok = register_status(
        &mut lab,
        &mut a,
        "reg-a",
        &[cline(A_CONTACT, ";expires=60"), "Expires: 30".into()],
        200,
    );
    assert_eq!(contacts(&ok), [format!("<{}>;expires=60", a.contact())]);
}

#[test]
fn expiry_default_max_and_countdown_on_the_simulated_clock() {
    let mut lab = Lab::new(ServerConfig::demo());
    let mut a = alice();
    let mut b = bob();
    // No expiry asked: the default (3600). Too long: the maximum (7200).
    let ok = lab.register(&mut a, "reg-a", &[cline(A_CONTACT, "")]);
    assert_eq!(contacts(&ok), [format!("<{}>;expires=3600", a.contact())]);
    let ok = lab.register(
        &mut b,
        "reg-b",
        &[cline(B_CONTACT, ""), "Expires: 100000".into()],
    );
    assert_eq!(contacts(&ok), [format!("<{}>;expires=7200", b.contact())]);
    let ok = lab.register(
        &mut b,
        "reg-b",
        &[cline(B_CONTACT, ""), "Expires: 120".into()],
    );
    assert_eq!(contacts(&ok), [format!("<{}>;expires=120", b.contact())]);

    // 50 s later a query (no Contact) lists the remaining 70 s.
    lab.advance(50);
    let ok = lab.register(&mut b, "reg-b", &[]);
    assert_eq!(contacts(&ok), [format!("<{}>;expires=70", b.contact())]);

    // Past the expiry the binding is gone: a MESSAGE to bob finds no one (480).
    lab.advance(71);
    assert!(lab.server.bindings(lab.now, "bob").is_empty());
    let msg = a.request(
        "MESSAGE",
        "sip:bob@example.test",
        "<sip:bob@example.test>",
        "m1",
        &[],
    );
    let challenge = lab.answer(&a.target.clone(), &msg, 407);
    let msg = a.with_credentials(&msg, &challenge);
    lab.answer(&a.target.clone(), &msg, 480);
    assert_eq!(lab.server.bindings(lab.now, "alice")[0].expires, 3600 - 121);
}

#[test]
fn several_contacts_removal_and_wildcard() {
    let mut lab = Lab::new(ServerConfig::demo());
    let mut a = alice();
    let second = "sip:alice@192.0.2.11:5072;transport=tcp";
    let ok = lab.register(
        &mut a,
        "reg-a",
        &[
            cline(A_CONTACT, ";q=0.5"),
            format!("Contact: <{second}>;expires=900"),
            "Expires: 300".into(),
        ],
    );
    assert_eq!(
        contacts(&ok),
        [
            format!("<{}>;expires=300;q=0.5", a.contact()),
            format!("<{second}>;expires=900")
        ]
    );
    // Another Call-ID (another device) adds a third binding; all are listed.
    let ok = lab.register(
        &mut a,
        "reg-other",
        &["Contact: <sip:alice@192.0.2.12>".into()],
    );
    assert_eq!(contacts(&ok).len(), 3);
    // expires=0 removes one binding; the URI matches by RFC 3261 §19.1.4 equivalence.
    let ok = lab.register(
        &mut a,
        "reg-a",
        &["Contact: <sip:alice@192.0.2.11:5072;transport=TCP>;expires=0".into()],
    );
    assert_eq!(contacts(&ok).len(), 2);
    assert!(!contacts(&ok).iter().any(|c| c.contains("192.0.2.11")));
    // `*` needs Expires: 0 and no other Contact (§10.3 step 6).
    register_status(
        &mut lab,
        &mut a,
        "reg-a",
        &["Contact: *".into(), "Expires: 300".into()],
        400,
    );
    register_status(
        &mut lab,
        &mut a,
        "reg-a",
        &[
            "Contact: *".into(),
            cline(A_CONTACT, ""),
            "Expires: 0".into(),
        ],
        400,
    );
    let ok = register_status(
        &mut lab,
        &mut a,
        "reg-a",
        &["Contact: *".into(), "Expires: 0".into()],
        200,
    );
    assert!(contacts(&ok).is_empty());
    assert!(lab.server.bindings(lab.now, "alice").is_empty());
}

#[test]
fn a_device_restarted_with_its_instance_id_replaces_its_binding() {
    // RFC 5626 §6: a REGISTER with the same +sip.instance and reg-id replaces the binding,
    // though its Contact (another port) and Call-ID (another run) are new.
    let mut lab = Lab::new(ServerConfig::demo());
    let mut a = alice();
    let outbound = ";reg-id=1;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"";
    lab.register(&mut a, "run-1", &[cline(A_CONTACT, outbound)]);
    let restarted = "sip:alice@192.0.2.1:6000";
    let ok = lab.register(&mut a, "run-2", &[cline(restarted, outbound)]);
    assert_eq!(contacts(&ok).len(), 1, "{:?}", contacts(&ok));
    assert!(contacts(&ok)[0].starts_with(&format!("<{restarted}>")));
    // Another device (another instance) adds its own binding; so does one without any.
    let other = ";reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-4000-8000-000000000001>\"";
    lab.register(&mut a, "run-3", &[cline("sip:alice@192.0.2.5", other)]);
    let ok = lab.register(&mut a, "run-4", &[cline("sip:alice@192.0.2.6", "")]);
    assert_eq!(contacts(&ok).len(), 3, "{:?}", contacts(&ok));
}

#[test]
fn too_many_contacts_are_refused_whole() {
    let mut cfg = ServerConfig::demo();
    cfg.max_contacts = 2;
    let mut lab = Lab::new(cfg);
    let mut a = alice();
    let three: Vec<String> = (1..=3)
        .map(|i| format!("Contact: <sip:alice@192.0.2.{i}>"))
        .collect();
    register_status(&mut lab, &mut a, "reg-a", &three, 403);
    assert!(lab.server.bindings(lab.now, "alice").is_empty());
    lab.register(&mut a, "reg-a", &three[..2]);
    assert_eq!(lab.server.bindings(lab.now, "alice").len(), 2);
}

#[test]
fn call_id_and_cseq_ordering() {
    let mut lab = Lab::new(ServerConfig::demo());
    let mut a = alice();
    lab.register(
        &mut a,
        "reg-a",
        &[cline(A_CONTACT, ""), "Expires: 300".into()],
    );
    // The same Call-ID with a CSeq not above the binding's: the update fails, nothing changes.
    a.cseq = 0;
    let rsp = register_status(
        &mut lab,
        &mut a,
        "reg-a",
        &[cline(A_CONTACT, ""), "Expires: 0".into()],
        500,
    );
    assert_eq!(rsp.reason(), Some("CSeq Out Of Order"));
    assert_eq!(lab.server.bindings(lab.now, "alice").len(), 1);
    // `*` is subject to the same rule.
    a.cseq = 0;
    register_status(
        &mut lab,
        &mut a,
        "reg-a",
        &["Contact: *".into(), "Expires: 0".into()],
        500,
    );
    assert_eq!(lab.server.bindings(lab.now, "alice").len(), 1);
    // Another Call-ID may change it whatever its CSeq.
    a.cseq = 0;
    let ok = register_status(
        &mut lab,
        &mut a,
        "reg-b",
        &[cline(A_CONTACT, ""), "Expires: 120".into()],
        200,
    );
    assert_eq!(contacts(&ok), [format!("<{}>;expires=120", a.contact())]);
}

#[test]
fn stale_nonce_is_retried_without_asking_the_user() {
    let mut lab = Lab::new(ServerConfig::demo());
    let mut a = alice();
    let reg = a.register("reg-a", &[cline(A_CONTACT, "")]);
    let challenge = lab.answer(&a.target.clone(), &reg, 401);
    // The client answers after the nonce lifetime (300 s): right credentials, stale nonce.
    lab.advance(301);
    let reg = a.with_credentials(&reg, &challenge);
    let stale = lab.answer(&a.target.clone(), &reg, 401);
    assert!(stale.www_authenticate().next().unwrap().unwrap().stale());
    // The digest client retries on stale=true (it would refuse a plain second 401).
    let reg = a.with_credentials(&reg, &stale);
    lab.answer(&a.target.clone(), &reg, 200);
}

#[test]
fn wrong_password_gets_a_new_challenge_not_stale() {
    let mut lab = Lab::new(ServerConfig::demo());
    let mut a = Ua::new("alice", "not-alicepw", "192.0.2.1:5070");
    let reg = a.register("reg-a", &[cline(A_CONTACT, "")]);
    let challenge = lab.answer(&a.target.clone(), &reg, 401);
    let reg = a.with_credentials(&reg, &challenge);
    let again = lab.answer(&a.target.clone(), &reg, 401);
    assert!(!again.www_authenticate().next().unwrap().unwrap().stale());
    assert!(matches!(
        a.digest.authorize(&reg, &again),
        Err(sip_txn::Error::CredentialsRejected(realm)) if realm == "example.test"
    ));
    assert!(lab.server.bindings(lab.now, "alice").is_empty());
    // An unknown user is challenged the same way (nothing tells it apart).
    let mut eve = Ua::new("eve", "x", "192.0.2.66:5060");
    let reg = eve.register("reg-e", &[cline("sip:eve@192.0.2.66:5060", "")]);
    let challenge = lab.answer(&eve.target.clone(), &reg, 401);
    let reg = eve.with_credentials(&reg, &challenge);
    lab.answer(&eve.target.clone(), &reg, 401);
}

#[test]
fn sha256_challenges_when_configured() {
    let mut cfg = ServerConfig::demo();
    cfg.algorithms = vec![
        sip_txn::digest::Algorithm::Sha256,
        sip_txn::digest::Algorithm::Md5,
    ];
    let mut lab = Lab::new(cfg);
    let mut a = alice();
    let reg = a.register("reg-a", &[cline(A_CONTACT, "")]);
    let challenge = lab.answer(&a.target.clone(), &reg, 401);
    let algs: Vec<_> = challenge
        .www_authenticate()
        .map(|c| c.unwrap().algorithm().unwrap().into_owned())
        .collect();
    assert_eq!(algs, ["SHA-256", "MD5"]);
    let reg = a.with_credentials(&reg, &challenge);
    assert!(
        reg.header_str(HeaderName::Authorization)
            .unwrap()
            .contains("algorithm=SHA-256")
    );
    lab.answer(&a.target.clone(), &reg, 200);
}

#[test]
fn registering_someone_else_is_forbidden() {
    let mut lab = Lab::new(ServerConfig::demo());
    let mut a = alice();
    let reg = a.request(
        "REGISTER",
        "sip:example.test",
        "<sip:bob@example.test>",
        "reg-x",
        &[cline(A_CONTACT, "")],
    );
    let challenge = lab.answer(&a.target.clone(), &reg, 401);
    let reg = a.with_credentials(&reg, &challenge);
    lab.answer(&a.target.clone(), &reg, 403);
    assert!(lab.server.bindings(lab.now, "bob").is_empty());
}

/// alice and bob registered.
fn both_registered() -> (Lab, Ua, Ua) {
    let mut lab = Lab::new(ServerConfig::demo());
    let mut a = alice();
    let mut b = bob();
    lab.register(&mut a, "reg-a", &[cline(A_CONTACT, "")]);
    lab.register(&mut b, "reg-b", &[cline(B_CONTACT, "")]);
    (lab, a, b)
}

fn record_routes(m: &Message) -> Vec<String> {
    m.list(HeaderName::RecordRoute)
        .map(|h| h.value_str().unwrap().to_owned())
        .collect()
}

fn respond(request: &Message, code: u16, tag: &str, extra: &[String]) -> Message {
    let mut b = MessageBuilder::response_to(request, code, "OK", Some(tag)).unwrap();
    for line in extra {
        let (n, v) = line.split_once(": ").unwrap();
        b = b.header(n, v).unwrap();
    }
    Message::parse(b.build()).unwrap()
}

#[test]
fn message_relayed_after_407_and_its_200_comes_back() {
    let (mut lab, mut a, b) = both_registered();
    let mut msg = a.request(
        "MESSAGE",
        "sip:bob@example.test",
        "<sip:bob@example.test>",
        "im-1",
        &[],
    );
    msg = Message::parse(
        MessageBuilder::request(Method::Message, "sip:bob@example.test")
            .header("Via", msg.header_str(HeaderName::Via).unwrap())
            .and_then(|m| m.header("Max-Forwards", "70"))
            .and_then(|m| m.header("From", msg.header_str(HeaderName::From).unwrap()))
            .and_then(|m| m.header("To", "<sip:bob@example.test>"))
            .and_then(|m| m.header("Call-ID", "im-1"))
            .and_then(|m| m.header("CSeq", msg.header_str(HeaderName::CSeq).unwrap()))
            .and_then(|m| m.body("text/plain", "hello bob"))
            .unwrap()
            .build(),
    )
    .unwrap();
    let challenge = lab.answer(&a.target.clone(), &msg, 407);
    let pa = challenge.proxy_authenticate().next().unwrap().unwrap();
    assert_eq!(pa.realm().as_deref(), Some("example.test"));

    let retry = a.with_credentials(&msg, &challenge);
    let (fwd, to) = lab.one(&a.target.clone(), &retry);
    assert_eq!(to, b.target);
    assert_eq!(fwd.request_uri(), Some(b.contact().as_str()));
    assert_eq!(fwd.max_forwards().unwrap().unwrap(), 69);
    let vias: Vec<_> = fwd.vias().map(|v| v.unwrap()).collect();
    assert_eq!(vias.len(), 2);
    assert_eq!(vias[0].host.to_string(), "192.0.2.5");
    assert!(vias[0].has_rfc3261_branch());
    assert_eq!(vias[1].branch(), retry.top_via().unwrap().branch());
    assert_sealed(&record_routes(&fwd));
    assert_eq!(fwd.body(), b"hello bob");
    assert_eq!(fwd.header_str(HeaderName::ContentType), Some("text/plain"));
    fwd.validate().unwrap();

    // A retransmission is forwarded again, identically (§16.11).
    let (again, _) = lab.one(&a.target.clone(), &retry);
    assert_eq!(again.as_bytes(), fwd.as_bytes());

    // bob's 200 goes back to alice without the proxy's Via.
    let ok = respond(&fwd, 200, "bobtag", &[]);
    let (back, to) = lab.one(&b.target.clone(), &ok);
    assert_eq!(to, a.target);
    assert_eq!(back.status(), Some(200));
    assert_eq!(back.vias().count(), 1);
    assert_eq!(
        back.top_via().unwrap().branch(),
        retry.top_via().unwrap().branch()
    );
}

#[test]
fn spoofed_from_is_forbidden() {
    let (mut lab, mut a, _b) = both_registered();
    // alice authenticates but claims to be bob.
    let msg = a.request(
        "MESSAGE",
        "sip:bob@example.test",
        "<sip:bob@example.test>",
        "im-x",
        &[],
    );
    let spoofed = Message::parse(Bytes::from(
        String::from_utf8_lossy(msg.as_bytes())
            .replace("<sip:alice@example.test>", "<sip:bob@example.test>"),
    ))
    .unwrap();
    let challenge = lab.answer(&a.target.clone(), &spoofed, 407);
    let retry = a.with_credentials(&spoofed, &challenge);
    lab.answer(&a.target.clone(), &retry, 403);
}

#[test]
fn subscribe_relayed_and_notify_routed_back_by_record_route() {
    let (mut lab, mut a, mut b) = both_registered();
    let sub = a.request(
        "SUBSCRIBE",
        "sip:bob@example.test",
        "<sip:bob@example.test>",
        "sub-1",
        &[
            "Event: presence".into(),
            "Expires: 600".into(),
            cline(A_CONTACT, ""),
        ],
    );
    let (fwd, to) = lab.authorized(&mut a, &sub);
    assert_eq!((fwd.method(), &to), (Some(Method::Subscribe), &b.target));
    let rr = record_routes(&fwd);
    assert_sealed(&rr);

    // bob accepts: the 200 carries the Record-Route back to alice (her route set).
    let ok = respond(
        &fwd,
        200,
        "bobtag",
        &["Expires: 600".into(), cline(B_CONTACT, "")],
    );
    let (back, to) = lab.one(&b.target.clone(), &ok);
    assert_eq!((back.status(), &to), (Some(200), &a.target));
    assert_eq!(record_routes(&back), rr);

    // bob's NOTIFY in the dialog: Request-URI alice's contact, Route the proxy. No challenge
    // (in-dialog), the Route is popped, nothing is record-routed again.
    let notify = b.request(
        "NOTIFY",
        &a.contact(),
        "<sip:alice@example.test>;tag=alicetag",
        "sub-1",
        &[
            format!("Route: {}", rr[0]),
            "Event: presence".into(),
            "Subscription-State: active;expires=600".into(),
        ],
    );
    let (fwd_notify, to) = lab.one(&b.target.clone(), &notify);
    assert_eq!(to, a.target);
    assert_eq!(fwd_notify.method(), Some(Method::Notify));
    assert_eq!(fwd_notify.request_uri(), Some(a.contact().as_str()));
    assert_eq!(fwd_notify.routes().count(), 0);
    assert!(record_routes(&fwd_notify).is_empty());
    let (back, to) = lab.one(&a.target.clone(), &respond(&fwd_notify, 200, "x", &[]));
    assert_eq!((back.status(), &to), (Some(200), &b.target));

    // alice un-SUBSCRIBEs in the dialog, through the proxy too.
    let unsub = a.request(
        "SUBSCRIBE",
        &b.contact(),
        "<sip:bob@example.test>;tag=bobtag",
        "sub-1",
        &[
            format!("Route: {}", rr[0]),
            "Event: presence".into(),
            "Expires: 0".into(),
        ],
    );
    let (fwd_unsub, to) = lab.one(&a.target.clone(), &unsub);
    assert_eq!(to, b.target);
    assert_eq!(fwd_unsub.expires().unwrap().unwrap(), 0);

    // An in-dialog request that does not route through us is not ours to relay.
    let stray = b.request(
        "NOTIFY",
        &a.contact(),
        "<sip:alice@example.test>;tag=alicetag",
        "sub-1",
        &[],
    );
    lab.answer(&b.target.clone(), &stray, 403);
}

/// The proxy's Record-Route: its address, `lr`, and the dialog's seal (128 bits of HMAC, hex).
fn assert_sealed(rr: &[String]) {
    let [rr] = rr else {
        panic!("one Record-Route expected: {rr:?}")
    };
    let seal = rr
        .strip_prefix(&format!("<sip:{SERVER};lr;rrsig="))
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or_else(|| panic!("unexpected Record-Route {rr}"));
    assert!(seal.len() == 32 && seal.bytes().all(|c| c.is_ascii_hexdigit()));
}

/// Where a relay would send: a host that is none of the proxy's users.
const VICTIM: &str = "203.0.113.9:5060";

/// Delivers `msg` and checks that nothing leaves towards anyone but the sender; returns the
/// statuses answered.
fn refused(lab: &mut Lab, from: &Target, msg: &Message) -> Vec<u16> {
    lab.send(from, msg)
        .into_iter()
        .map(|t| {
            assert_eq!(
                &t.target,
                from,
                "relayed: {}",
                String::from_utf8_lossy(&t.payload)
            );
            Message::parse(t.payload).unwrap().status().unwrap()
        })
        .collect()
}

#[test]
fn relay_attempts_are_refused() {
    let (mut lab, mut a, mut b) = both_registered();
    // mallory has no account; the victim is no user of the proxy.
    let mut m = Ua::new("mallory", "x", "198.51.100.7:5060");
    let mt = m.target.clone();
    let victim_uri = format!("sip:victim@{VICTIM}");
    let us = format!("<sip:{SERVER};lr>");
    let forged = format!("<sip:{SERVER};lr;rrsig=00112233445566778899aabbccddeeff>");

    // A dialog request (To-tag) with a Route naming the proxy: 403, whatever the method.
    for method in ["MESSAGE", "INVITE", "BYE", "NOTIFY"] {
        let r = m.request(
            method,
            &victim_uri,
            "<sip:victim@x>;tag=v",
            "r1",
            &[format!("Route: {us}")],
        );
        assert_eq!(refused(&mut lab, &mt, &r).last(), Some(&403), "{method}");
    }
    // Without a To-tag it is an initial request: challenged, not forwarded.
    let r = m.request(
        "MESSAGE",
        &victim_uri,
        "<sip:victim@x>",
        "r2",
        &[format!("Route: {us}")],
    );
    assert_eq!(refused(&mut lab, &mt, &r), [407]);
    let r = m.request(
        "MESSAGE",
        "sip:bob@example.test",
        "<sip:bob@x>",
        "r3",
        &[format!("Route: {us}, <sip:{VICTIM};lr>")],
    );
    assert_eq!(refused(&mut lab, &mt, &r), [407]);
    // No Route at all, To-tag: not a dialog of ours.
    let r = m.request("MESSAGE", &victim_uri, "<sip:victim@x>;tag=v", "r4", &[]);
    assert_eq!(refused(&mut lab, &mt, &r), [403]);
    // A strict router's form: the proxy in the Request-URI, the victim in the last Route.
    let r = m.request(
        "MESSAGE",
        &format!("sip:{SERVER}"),
        "<sip:victim@x>;tag=v",
        "r5",
        &[format!("Route: <sip:{VICTIM}>")],
    );
    assert_eq!(refused(&mut lab, &mt, &r), [403]);
    // A forged seal, and a real seal of another dialog.
    let r = m.request(
        "MESSAGE",
        &victim_uri,
        "<sip:victim@x>;tag=v",
        "r6",
        &[format!("Route: {forged}")],
    );
    assert_eq!(refused(&mut lab, &mt, &r), [403]);
    let sub = a.request(
        "SUBSCRIBE",
        "sip:bob@example.test",
        "<sip:bob@example.test>",
        "real-1",
        &["Event: presence".into(), cline(A_CONTACT, "")],
    );
    let (fwd, _) = lab.authorized(&mut a, &sub);
    let real = record_routes(&fwd).remove(0);
    let r = m.request(
        "MESSAGE",
        &victim_uri,
        "<sip:victim@x>;tag=v",
        "r7",
        &[format!("Route: {real}")],
    );
    assert_eq!(refused(&mut lab, &mt, &r), [403]);
    // ACKs, with and without a Route, a forged or a borrowed seal: dropped silently.
    for route in [None, Some(&us), Some(&forged), Some(&real)] {
        let extra: Vec<String> = route.map(|r| format!("Route: {r}")).into_iter().collect();
        let ack = m.request("ACK", &victim_uri, "<sip:victim@x>;tag=v", "r8", &extra);
        assert!(refused(&mut lab, &mt, &ack).is_empty(), "{route:?}");
    }
    // A CANCEL of no INVITE the proxy forwarded: 481 from its transaction layer.
    let cancel = m.request("CANCEL", &victim_uri, "<sip:victim@x>", "r9", &[]);
    assert_eq!(refused(&mut lab, &mt, &cancel), [481]);

    // The real dialog still works both ways, and so does the ACK of a 2xx along its route.
    let notify = b.request(
        "NOTIFY",
        &a.contact(),
        "<sip:alice@example.test>;tag=alicetag",
        "real-1",
        &[
            format!("Route: {real}"),
            "Event: presence".into(),
            "Subscription-State: active".into(),
        ],
    );
    let (_, to) = lab.one(&b.target.clone(), &notify);
    assert_eq!(to, a.target);
    let invite = a.request(
        "INVITE",
        "sip:bob@example.test",
        "<sip:bob@example.test>",
        "call-9",
        &[cline(A_CONTACT, "")],
    );
    let challenge =
        Message::parse(lab.send(&a.target.clone(), &invite).pop().unwrap().payload).unwrap();
    let retry = a.with_credentials(&invite, &challenge);
    let (fwd, _) = lab.one(&a.target.clone(), &retry);
    let rr = record_routes(&fwd).remove(0);
    let ack = a.request(
        "ACK",
        &b.contact(),
        "<sip:bob@example.test>;tag=bobtag",
        "call-9",
        &[format!("Route: {rr}")],
    );
    let (fwd_ack, to) = lab.one(&a.target.clone(), &ack);
    assert_eq!(
        (fwd_ack.method(), to),
        (Some(Method::Ack), b.target.clone())
    );
    // Responses: one naming the proxy in its top Via, the victim in the next, is not relayed;
    // nor is a real response of ours re-aimed at the victim.
    let forged = Message::parse(Bytes::from(format!(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP {SERVER};branch=z9hG4bKslx\r\n\
         Via: SIP/2.0/UDP {VICTIM};branch=z9hG4bKv\r\nFrom: <sip:a@h>;tag=1\r\n\
         To: <sip:b@h>;tag=2\r\nCall-ID: r10\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
    )))
    .unwrap();
    assert!(lab.send(&mt, &forged).is_empty());
    let real_rsp = String::from_utf8_lossy(respond(&fwd, 200, "bobtag", &[]).as_bytes())
        .replace(&a.target.addr.to_string(), VICTIM);
    let reaimed = Message::parse(Bytes::from(real_rsp)).unwrap();
    assert!(lab.send(&mt, &reaimed).is_empty());

    // The same ACK re-aimed at the victim with that real seal is not a dialog of this seal's.
    let ack = a.request(
        "ACK",
        &victim_uri,
        "<sip:victim@x>;tag=v",
        "call-10",
        &[format!("Route: {rr}")],
    );
    assert!(refused(&mut lab, &a.target.clone(), &ack).is_empty());
}

#[test]
fn unknown_user_404_unregistered_480() {
    let mut lab = Lab::new(ServerConfig::demo().user("carol", "carolpw"));
    let mut a = alice();
    lab.register(&mut a, "reg-a", &[cline(A_CONTACT, "")]);
    let to_dave = a.request(
        "MESSAGE",
        "sip:dave@example.test",
        "<sip:dave@example.test>",
        "m1",
        &[],
    );
    let (rsp, _) = lab.authorized(&mut a, &to_dave);
    assert_eq!(rsp.status(), Some(404));
    let to_carol = a.request(
        "OPTIONS",
        "sip:carol@example.test",
        "<sip:carol@example.test>",
        "m2",
        &[],
    );
    let (rsp, _) = lab.authorized(&mut a, &to_carol);
    assert_eq!(rsp.status(), Some(480));
}

#[test]
fn max_forwards_publish_require_and_scheme() {
    let (mut lab, mut a, _b) = both_registered();
    let mut msg = a.request(
        "MESSAGE",
        "sip:bob@example.test",
        "<sip:bob@example.test>",
        "m1",
        &[],
    );
    msg = Message::parse(Bytes::from(
        String::from_utf8_lossy(msg.as_bytes()).replace("Max-Forwards: 70", "Max-Forwards: 0"),
    ))
    .unwrap();
    lab.answer(&a.target.clone(), &msg, 483);
    let publish = a.request(
        "PUBLISH",
        "sip:alice@example.test",
        "<sip:alice@example.test>",
        "p1",
        &["Event: presence".into()],
    );
    lab.answer(&a.target.clone(), &publish, 501);
    let pr = a.request(
        "MESSAGE",
        "sip:bob@example.test",
        "<sip:bob@example.test>",
        "m2",
        &["Proxy-Require: foo, bar".into()],
    );
    let rsp = lab.answer(&a.target.clone(), &pr, 420);
    assert_eq!(rsp.header_str(HeaderName::Unsupported), Some("foo, bar"));
    let tel = a.request("MESSAGE", "tel:+15551234", "<tel:+15551234>", "m3", &[]);
    lab.answer(&a.target.clone(), &tel, 416);
    // OPTIONS to the server itself is answered, unauthenticated (keep-alive pings).
    let ping = a.request(
        "OPTIONS",
        &format!("sip:{SERVER}"),
        &format!("<sip:{SERVER}>"),
        "o1",
        &[],
    );
    let rsp = lab.answer(&a.target.clone(), &ping, 200);
    assert!(
        rsp.header_str(HeaderName::Allow)
            .unwrap()
            .contains("REGISTER")
    );
}

#[test]
fn invite_cancel_and_ack_take_the_invites_path() {
    let (mut lab, mut a, b) = both_registered();
    let invite = a.request(
        "INVITE",
        "sip:bob@example.test",
        "<sip:bob@example.test>",
        "call-1",
        &[cline(A_CONTACT, "")],
    );
    // The 407 to an INVITE is a server INVITE transaction: a 100 Trying first, then the 407.
    let out = lab.send(&a.target.clone(), &invite);
    let statuses: Vec<_> = out
        .iter()
        .map(|t| Message::parse(t.payload.clone()).unwrap().status())
        .collect();
    assert_eq!(statuses, [Some(100), Some(407)]);
    let challenge = Message::parse(out[1].payload.clone()).unwrap();
    // Its ACK (same branch, §17.1.1.3) is absorbed by that transaction: nothing is sent.
    let ack = Message::parse(Bytes::from(
        String::from_utf8_lossy(invite.as_bytes())
            .replacen("INVITE sip:", "ACK sip:", 1)
            .replace("CSeq: 1 INVITE", "CSeq: 1 ACK")
            .replace(
                "To: <sip:bob@example.test>",
                &format!(
                    "To: <sip:bob@example.test>;tag={}",
                    challenge.to_header().unwrap().tag().unwrap()
                ),
            ),
    ))
    .unwrap();
    assert!(lab.send(&a.target.clone(), &ack).is_empty());

    let retry = a.with_credentials(&invite, &challenge);
    let (fwd, to) = lab.one(&a.target.clone(), &retry);
    assert_eq!(to, b.target);
    let branch = fwd.top_via().unwrap().branch().unwrap().to_owned();
    // CANCEL: not challenged, forwarded with the INVITE's branch so bob's INVITE transaction
    // matches it (§9.2).
    let cancel = Message::parse(Bytes::from(
        String::from_utf8_lossy(retry.as_bytes())
            .replacen("INVITE sip:", "CANCEL sip:", 1)
            .replace(" INVITE\r\n", " CANCEL\r\n"),
    ))
    .unwrap();
    let (fwd_cancel, to) = lab.one(&a.target.clone(), &cancel);
    assert_eq!(to, b.target);
    assert_eq!(fwd_cancel.method(), Some(Method::Cancel));
    assert_eq!(
        fwd_cancel.top_via().unwrap().branch(),
        Some(branch.as_str())
    );
    // bob's 487 goes back; alice's ACK for it follows the INVITE's path, same branch again.
    let (back, _) = lab.one(&b.target.clone(), &respond(&fwd, 487, "bobtag", &[]));
    assert_eq!(back.status(), Some(487));
    let ack = Message::parse(Bytes::from(
        String::from_utf8_lossy(retry.as_bytes())
            .replacen("INVITE sip:", "ACK sip:", 1)
            .replace(" INVITE\r\n", " ACK\r\n")
            .replace(
                "To: <sip:bob@example.test>",
                "To: <sip:bob@example.test>;tag=bobtag",
            ),
    ))
    .unwrap();
    let (fwd_ack, to) = lab.one(&a.target.clone(), &ack);
    assert_eq!(to, b.target);
    assert_eq!(fwd_ack.top_via().unwrap().branch(), Some(branch.as_str()));
}

#[test]
fn responses_not_for_us_and_garbage_are_dropped() {
    let (mut lab, _a, b) = both_registered();
    let stray = Message::parse_slice(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.77;branch=z9hG4bKx\r\nFrom: <sip:a@h>;tag=1\r\n\
          To: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap();
    assert!(lab.send(&b.target.clone(), &stray).is_empty());
    // A request without From cannot even be answered: dropped, nothing panics.
    let bare = Message::parse_slice(b"MESSAGE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKq\r\n\r\n").unwrap();
    assert!(lab.send(&b.target.clone(), &bare).is_empty());
}

// ---- Over real loopback sockets ----

/// The next message a UA's transport delivers. The timeout only keeps a broken build from
/// hanging; nothing here depends on timing.
async fn next_message(events: &mut Events) -> sip_transport::Incoming {
    let wait = async {
        loop {
            match events.recv().await {
                Some(TransportEvent::Message(m)) => return m,
                Some(_) => {}
                None => panic!("transport closed"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .expect("a message from the server")
}

/// Sends `request` to the server and returns the response.
async fn exchange(t: &Transport, ev: &mut Events, server: &Target, request: &Message) -> Message {
    t.send(server, request.bytes().clone()).await.unwrap();
    next_message(ev).await.message
}

async fn loopback_register(
    ua: &mut Ua,
    t: &Transport,
    ev: &mut Events,
    server: &Target,
    contact: &str,
) {
    let reg = ua.register(
        &format!("reg-{}", ua.user),
        &[cline(contact, ""), "Expires: 300".into()],
    );
    let challenge = exchange(t, ev, server, &reg).await;
    assert_eq!(challenge.status(), Some(401));
    let reg = ua.with_credentials(&reg, &challenge);
    let ok = exchange(t, ev, server, &reg).await;
    assert_eq!(
        ok.status(),
        Some(200),
        "{}",
        String::from_utf8_lossy(ok.as_bytes())
    );
}

#[tokio::test]
async fn loopback_udp_and_tcp_users_exchange_a_message() {
    let server = EmbeddedServer::start_loopback(ServerConfig::demo())
        .await
        .unwrap();
    let port = server.local_addr(TransportKind::Udp).unwrap();
    let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (at, mut aev) = Transport::bind(TransportConfig {
        udp: vec![loopback],
        ..Default::default()
    })
    .await
    .unwrap();
    let (bt, mut bev) = Transport::bind(TransportConfig {
        udp: vec![loopback],
        ..Default::default()
    })
    .await
    .unwrap();

    // alice over UDP, bob over TCP with a Contact nobody listens on: the server must reuse the
    // connection bob registered on.
    let mut a = Ua::new(
        "alice",
        "alicepw",
        &at.local_addr(TransportKind::Udp).unwrap().to_string(),
    );
    let mut b = Ua::new("bob", "bobpw", "127.0.0.1:9");
    b.target = Target::tcp("127.0.0.1:9".parse().unwrap());
    let a_contact = a.contact();
    loopback_register(&mut a, &at, &mut aev, &Target::udp(port), &a_contact).await;
    loopback_register(
        &mut b,
        &bt,
        &mut bev,
        &Target::tcp(port),
        "sip:bob@127.0.0.1:9;transport=tcp",
    )
    .await;
    assert_eq!(server.bindings("alice")[0].contact, a_contact);
    assert_eq!(
        server.bindings("bob")[0].contact,
        "sip:bob@127.0.0.1:9;transport=tcp"
    );

    let msg = Message::parse(
        MessageBuilder::request(Method::Message, "sip:bob@example.test")
            .header("Via", &a.via())
            .and_then(|m| m.header("Max-Forwards", "70"))
            .and_then(|m| m.header("From", "<sip:alice@example.test>;tag=lo1"))
            .and_then(|m| m.header("To", "<sip:bob@example.test>"))
            .and_then(|m| m.header("Call-ID", "im-loopback"))
            .and_then(|m| m.header("CSeq", "1 MESSAGE"))
            .and_then(|m| m.body("text/plain", "hello over loopback"))
            .unwrap()
            .build(),
    )
    .unwrap();
    let challenge = exchange(&at, &mut aev, &Target::udp(port), &msg).await;
    assert_eq!(challenge.status(), Some(407));
    let msg = a.with_credentials(&msg, &challenge);
    at.send(&Target::udp(port), msg.bytes().clone())
        .await
        .unwrap();

    let incoming = next_message(&mut bev).await;
    assert_eq!(incoming.transport, TransportKind::Tcp);
    assert_eq!(incoming.message.method(), Some(Method::Message));
    assert_eq!(incoming.message.body(), b"hello over loopback");
    assert_eq!(
        incoming.message.request_uri(),
        Some("sip:bob@127.0.0.1:9;transport=tcp")
    );
    let ok = MessageBuilder::response_to(&incoming.message, 200, "OK", Some("bobtag"))
        .unwrap()
        .build();
    bt.send(&incoming.reply_target(), ok).await.unwrap();

    let back = next_message(&mut aev).await.message;
    assert_eq!(back.status(), Some(200));
    assert_eq!(back.call_id().unwrap(), "im-loopback");
    assert_eq!(back.vias().count(), 1);
    server.shutdown();
}

/// The TLS listener (`start_loopback_tls`, certificate from configuration): bob registers over
/// TLS with a Contact nobody listens on, and alice's MESSAGE reaches him over the connection
/// he registered on.
#[tokio::test]
async fn a_tls_user_registers_and_gets_a_message_on_its_connection() {
    let ca = sip_transport::testkit::pki::TestCa::new("Embedded server test CA");
    let server =
        EmbeddedServer::start_loopback_tls(ServerConfig::demo(), ca.server_config(&["127.0.0.1"]))
            .await
            .unwrap();
    let udp = server.local_addr(TransportKind::Udp).unwrap();
    let tls = server.local_addr(TransportKind::Tls).unwrap();
    assert_ne!(udp, tls);
    let (at, mut aev) = Transport::bind(TransportConfig {
        udp: vec!["127.0.0.1:0".parse().unwrap()],
        ..Default::default()
    })
    .await
    .unwrap();
    let (bt, mut bev) = Transport::bind(TransportConfig {
        tls_client: Some(
            sip_transport::TlsConfig::new()
                .without_webpki_roots()
                .add_ca_pem(ca.pem().as_bytes())
                .unwrap(),
        ),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut a = Ua::new(
        "alice",
        "alicepw",
        &at.local_addr(TransportKind::Udp).unwrap().to_string(),
    );
    let mut b = Ua::new("bob", "bobpw", "127.0.0.1:9");
    b.target = Target::tls("127.0.0.1:9".parse().unwrap(), "127.0.0.1");
    let a_contact = a.contact();
    loopback_register(&mut a, &at, &mut aev, &Target::udp(udp), &a_contact).await;
    loopback_register(
        &mut b,
        &bt,
        &mut bev,
        &Target::tls(tls, "127.0.0.1"),
        "sip:bob@127.0.0.1:9;transport=tls",
    )
    .await;
    assert_eq!(server.transport_stats().tls_handshake_failures, 0);

    let msg = Message::parse(
        MessageBuilder::request(Method::Message, "sip:bob@example.test")
            .header("Via", &a.via())
            .and_then(|m| m.header("Max-Forwards", "70"))
            .and_then(|m| m.header("From", "<sip:alice@example.test>;tag=tls1"))
            .and_then(|m| m.header("To", "<sip:bob@example.test>"))
            .and_then(|m| m.header("Call-ID", "im-tls"))
            .and_then(|m| m.header("CSeq", "1 MESSAGE"))
            .and_then(|m| m.body("text/plain", "hello over tls"))
            .unwrap()
            .build(),
    )
    .unwrap();
    let challenge = exchange(&at, &mut aev, &Target::udp(udp), &msg).await;
    assert_eq!(challenge.status(), Some(407));
    let msg = a.with_credentials(&msg, &challenge);
    at.send(&Target::udp(udp), msg.bytes().clone())
        .await
        .unwrap();
    let incoming = next_message(&mut bev).await;
    assert_eq!(incoming.transport, TransportKind::Tls);
    assert_eq!(incoming.message.body(), b"hello over tls");
    server.shutdown();
}

// ---- sipp, if installed ----

#[tokio::test]
async fn sipp_registers_through_digest_over_udp_and_tcp() {
    if !sip_transport::testkit::interop(&["sipp"]) {
        return;
    }
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/sipp/register.xml");
    let server = EmbeddedServer::start_loopback(ServerConfig::demo())
        .await
        .unwrap();
    let addr = server.local_addr(TransportKind::Udp).unwrap();
    for transport in ["u1", "t1"] {
        let local_port = sip_transport::testkit::free_port();
        let args: Vec<String> = [
            &addr.to_string(),
            "-t",
            transport,
            "-sf",
            &scenario.to_string_lossy(),
            "-s",
            "alice",
            "-au",
            "alice",
            "-ap",
            "alicepw",
            "-i",
            "127.0.0.1",
            "-p",
            &local_port.to_string(),
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "15s",
            "-timeout_error",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new("sipp")
                .args(&args)
                .current_dir(std::env::temp_dir())
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "sipp {transport} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let bound = server.bindings("alice");
        assert!(
            bound
                .iter()
                .any(|b| b.contact.contains(&format!(":{local_port}"))
                    && b.expires <= 300
                    && b.expires > 0),
            "{transport}: {bound:?}"
        );
    }
}

/// One address holding more connections than it may, another trickling requests a byte at a
/// time, together more than the server's total: a user from a third address still registers
/// over TCP at once (the oldest silent connection makes room). Scaled down with the
/// transport's knobs (80 connections in all, the default 64 per address).
#[tokio::test]
async fn a_hoarding_peer_does_not_lock_out_a_tcp_user() {
    let server = EmbeddedServer::start(
        ServerConfig::demo(),
        TransportConfig {
            tcp: vec!["127.0.0.1:0".parse().unwrap()],
            max_connections: 80,
            ..TransportConfig::default()
        },
    )
    .await
    .unwrap();
    let port = server.local_addr(TransportKind::Tcp).unwrap();
    let from = |ip: &str| {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        s.connect(port)
    };
    // Over the per-source cap (64 by default): the rest are refused, and that is all.
    let mut hoard = Vec::new();
    for _ in 0..100 {
        hoard.push(from("127.0.0.3").await.unwrap());
    }
    let mut tricklers = Vec::new();
    for _ in 0..20 {
        let mut c = from("127.0.0.4").await.unwrap();
        tricklers.push(tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for b in b"REGISTER sip:example.test SIP/2.0\r\n".iter().cycle() {
                if c.write_all(&[*b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    let (bt, mut bev) = Transport::bind(TransportConfig::default()).await.unwrap();
    let mut b = Ua::new("bob", "bobpw", "127.0.0.1:9");
    b.target = Target::tcp("127.0.0.1:9".parse().unwrap());
    loopback_register(
        &mut b,
        &bt,
        &mut bev,
        &Target::tcp(port),
        "sip:bob@127.0.0.1:9;transport=tcp",
    )
    .await;
    assert_eq!(server.bindings("bob").len(), 1);
    for t in tricklers {
        t.abort();
    }
}
