//! The registration core against a scripted registrar on a simulated clock: every path of
//! RFC 3261 §10.2 the client takes, no sockets, no sleeping.

use std::time::{Duration, Instant};

use rtc_client::outbound::{InstanceId, Outbound};
use rtc_client::registration::{Failure, OutgoingRequest};
use rtc_client::{Cause, Endpoint, Registration, RegistrationConfig, RegistrationState};
use sip_parse::{Message, MessageBuilder, Target, TransportKind};
use sip_txn::digest::Credentials;

const CHALLENGE: &str = r#"Digest realm="example.test", nonce="n1", qop="auth", algorithm=MD5"#;

fn targets() -> Vec<Target> {
    vec![
        Target::udp("192.0.2.9:5060".parse().unwrap()),
        Target::tcp("192.0.2.10:5060".parse().unwrap()),
    ]
}

fn registration(targets: Vec<Target>) -> Registration {
    let local = Endpoint::new("alice")
        .with(TransportKind::Udp, "192.0.2.1:5070")
        .with(TransportKind::Tcp, "192.0.2.1:5071");
    let mut config = RegistrationConfig::new("sip:alice@example.test", "sip:example.test");
    config.credentials = Some(Credentials::new("alice", "alicepw"));
    config.allow_events = Some("presence".into());
    Registration::new(config, local, targets).unwrap()
}

fn start() -> Instant {
    #[allow(clippy::disallowed_methods)] // the simulated clock starts somewhere
    Instant::now()
}

fn respond(req: &OutgoingRequest, code: u16, headers: &[(&str, &str)]) -> Message {
    let mut b = MessageBuilder::response_to(&req.request, code, "Reason", Some("reg")).unwrap();
    for (n, v) in headers {
        b = b.header(n, v).unwrap();
    }
    Message::parse(b.build()).unwrap()
}

fn our_contact(req: &OutgoingRequest) -> String {
    let c = req.request.contacts().next().unwrap().unwrap();
    c.address().unwrap().uri_str().to_owned()
}

fn ok_with(req: &OutgoingRequest, expires: u32) -> Message {
    let binding = format!("<{}>;expires={expires}", our_contact(req));
    respond(
        req,
        200,
        &[
            ("Contact", "<sip:other@192.0.2.77>;expires=99"),
            ("Contact", &binding),
        ],
    )
}

fn header(m: &Message, name: &str) -> Option<String> {
    m.headers()
        .find(|h| h.raw_name.eq_ignore_ascii_case(name.as_bytes()))
        .map(|h| String::from_utf8_lossy(h.value).into_owned())
}

fn states(reg: &mut Registration) -> Vec<(RegistrationState, Option<u16>)> {
    std::iter::from_fn(|| reg.poll_event())
        .map(|e| (e.state, e.status))
        .collect()
}

/// The simulated clock's start and a registration with both targets.
fn setup() -> (Instant, Registration) {
    (start(), registration(targets()))
}

/// Asks `reg` to register; returns the REGISTER it sends.
fn send_register(reg: &mut Registration) -> OutgoingRequest {
    reg.register().unwrap();
    reg.poll_request().unwrap()
}

/// The registrar answers `req` at `now` with `code` and `headers`.
fn answer(
    reg: &mut Registration,
    now: Instant,
    req: &OutgoingRequest,
    code: u16,
    headers: &[(&str, &str)],
) {
    reg.handle_response(now, req.id, &respond(req, code, headers))
        .unwrap();
}

/// The registrar challenges `req` at `now` with [`CHALLENGE`].
fn challenge(reg: &mut Registration, now: Instant, req: &OutgoingRequest) {
    answer(reg, now, req, 401, &[("WWW-Authenticate", CHALLENGE)]);
}

/// The registrar accepts `req` at `now`, granting our binding `expires` seconds.
fn accept(reg: &mut Registration, now: Instant, req: &OutgoingRequest, expires: u32) {
    reg.handle_response(now, req.id, &ok_with(req, expires))
        .unwrap();
}

/// Runs the clock to the next timer (the refresh of a registered binding); returns when it
/// fired and the REGISTER it sent.
fn refresh_due(reg: &mut Registration) -> (Instant, OutgoingRequest) {
    let due = reg.poll_timeout().unwrap();
    reg.handle_timeout(due).unwrap();
    (due, reg.poll_request().unwrap())
}

/// Registers through a 401 challenge; returns the authorized REGISTER that got the 200.
fn register(reg: &mut Registration, now: Instant, expires: u32) -> OutgoingRequest {
    let first = send_register(reg);
    challenge(reg, now, &first);
    let second = reg.poll_request().unwrap();
    accept(reg, now, &second, expires);
    second
}

#[test]
fn digest_challenge_then_registered() {
    let (now, mut reg) = setup();
    let first = send_register(&mut reg);
    assert_eq!(first.target, targets()[0]);
    let r = &first.request;
    assert_eq!(r.request_uri(), Some("sip:example.test"));
    assert_eq!(header(r, "Expires").as_deref(), Some("3600"));
    assert_eq!(header(r, "Allow-Events").as_deref(), Some("presence"));
    assert!(header(r, "Authorization").is_none());
    assert!(our_contact(&first).starts_with("sip:alice@192.0.2.1:5070"));

    challenge(&mut reg, now, &first);
    let second = reg.poll_request().unwrap();
    let auth = header(&second.request, "Authorization").expect("credentials");
    assert!(auth.contains(r#"username="alice""#) && auth.contains("nc=00000001"));
    // §10.2: same Call-ID, CSeq one higher, a new branch.
    assert_eq!(
        second.request.call_id().unwrap(),
        first.request.call_id().unwrap()
    );
    assert_eq!(
        second.request.cseq().unwrap().seq,
        first.request.cseq().unwrap().seq + 1
    );
    assert_ne!(
        second.request.top_via().unwrap().branch(),
        first.request.top_via().unwrap().branch()
    );

    accept(&mut reg, now, &second, 600);
    assert_eq!(
        states(&mut reg),
        [
            (RegistrationState::Registering, None),
            (RegistrationState::Registered, Some(200))
        ]
    );
    assert_eq!(reg.state(), RegistrationState::Registered);
}

#[test]
fn refresh_at_half_of_what_the_registrar_granted() {
    let (now, mut reg) = setup();
    let done = register(&mut reg, now, 600);
    states(&mut reg);
    // Our binding says 600 although we asked 3600: the contact's expires wins (§10.2.4).
    let due = reg.poll_timeout().unwrap();
    assert_eq!(due - now, Duration::from_secs(300));
    reg.handle_timeout(due - Duration::from_millis(1)).unwrap();
    assert!(reg.poll_request().is_none(), "not yet");

    reg.handle_timeout(due).unwrap();
    let refresh = reg.poll_request().unwrap();
    assert_eq!(
        refresh.request.call_id().unwrap(),
        done.request.call_id().unwrap()
    );
    assert!(refresh.request.cseq().unwrap().seq > done.request.cseq().unwrap().seq);
    accept(&mut reg, due, &refresh, 600);
    // A refresh changes no state.
    assert!(states(&mut reg).is_empty());
    assert_eq!(reg.poll_timeout().unwrap() - due, Duration::from_secs(300));
}

#[test]
fn long_grants_refresh_ten_minutes_before_expiry() {
    let (now, mut reg) = setup();
    register(&mut reg, now, 3600);
    assert_eq!(reg.poll_timeout().unwrap() - now, Duration::from_secs(3000));
}

#[test]
fn expires_header_applies_when_the_contact_has_none() {
    let (now, mut reg) = setup();
    let req = send_register(&mut reg);
    let binding = format!("<{}>", our_contact(&req));
    answer(
        &mut reg,
        now,
        &req,
        200,
        &[("Contact", &binding), ("Expires", "120")],
    );
    assert_eq!(reg.poll_timeout().unwrap() - now, Duration::from_secs(60));
}

#[test]
fn interval_too_brief_asks_again_with_min_expires() {
    let (now, mut reg) = setup();
    let req = send_register(&mut reg);
    answer(&mut reg, now, &req, 423, &[("Min-Expires", "7200")]);
    let again = reg.poll_request().unwrap();
    assert_eq!(header(&again.request, "Expires").as_deref(), Some("7200"));
    // A 423 that does not raise the interval is not followed forever.
    answer(&mut reg, now, &again, 423, &[("Min-Expires", "7200")]);
    assert!(reg.poll_request().is_none());
    assert_eq!(reg.state(), RegistrationState::Rejected);
}

#[test]
fn wrong_password_is_rejected_without_retrying() {
    let (now, mut reg) = setup();
    let first = send_register(&mut reg);
    challenge(&mut reg, now, &first);
    let second = reg.poll_request().unwrap();
    challenge(&mut reg, now, &second);
    assert!(reg.poll_request().is_none());
    assert_eq!(
        states(&mut reg).last(),
        Some(&(RegistrationState::Rejected, Some(401)))
    );
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn stale_nonce_is_answered_again_without_the_user() {
    let (now, mut reg) = setup();
    register(&mut reg, now, 600);
    states(&mut reg);
    // The refresh goes out bare and is challenged; then the server says the nonce is stale.
    let (due, refresh) = refresh_due(&mut reg);
    assert!(header(&refresh.request, "Authorization").is_none());
    challenge(&mut reg, due, &refresh);
    let authed = reg.poll_request().unwrap();
    let stale = CHALLENGE.replace("n1", "n2") + ", stale=true";
    answer(&mut reg, due, &authed, 401, &[("WWW-Authenticate", &stale)]);
    let fresh = reg.poll_request().expect("retried with the new nonce");
    assert!(
        header(&fresh.request, "Authorization")
            .unwrap()
            .contains(r#"nonce="n2""#)
    );
    accept(&mut reg, due, &fresh, 600);
    assert!(states(&mut reg).is_empty(), "still registered throughout");
}

#[test]
fn timeouts_fail_over_then_back_off_with_growing_delays() {
    let (now, mut reg) = setup();
    let a = send_register(&mut reg);
    reg.handle_failure(now, a.id, Failure::Timeout).unwrap();
    // The next target at once, with a Via and Contact for its transport.
    let b = reg.poll_request().unwrap();
    assert_eq!(b.target, targets()[1]);
    assert_eq!(b.request.top_via().unwrap().transport, "TCP");
    assert!(our_contact(&b).ends_with(";transport=tcp"));
    reg.handle_failure(now, b.id, Failure::Transport(rtc_client::Cause::Refused))
        .unwrap();
    assert!(reg.poll_request().is_none());
    assert_eq!(reg.state(), RegistrationState::Error);

    // Base 2 s scaled into 1–2 s, then 2–4 s: RFC 5626 §4.5.
    let first_wait = reg.poll_timeout().unwrap() - now;
    assert!((Duration::from_secs(1)..=Duration::from_secs(2)).contains(&first_wait));
    let t1 = now + first_wait;
    reg.handle_timeout(t1).unwrap();
    let c = reg.poll_request().unwrap();
    assert_eq!(c.target, targets()[0], "starts over from the first target");
    reg.handle_failure(t1, c.id, Failure::Timeout).unwrap();
    let d = reg.poll_request().unwrap();
    reg.handle_failure(t1, d.id, Failure::Timeout).unwrap();
    let second_wait = reg.poll_timeout().unwrap() - t1;
    assert!((Duration::from_secs(2)..=Duration::from_secs(4)).contains(&second_wait));

    let t2 = t1 + second_wait;
    reg.handle_timeout(t2).unwrap();
    let e = reg.poll_request().unwrap();
    accept(&mut reg, t2, &e, 600);
    assert_eq!(
        states(&mut reg),
        [
            (RegistrationState::Registering, None),
            (RegistrationState::Error, None),
            (RegistrationState::Registering, None),
            (RegistrationState::Error, None),
            (RegistrationState::Registering, None),
            (RegistrationState::Registered, Some(200)),
        ]
    );
}

#[test]
fn service_unavailable_waits_at_least_retry_after() {
    let now = start();
    let mut reg = registration(vec![targets()[0].clone()]);
    let a = send_register(&mut reg);
    answer(&mut reg, now, &a, 503, &[("Retry-After", "120")]);
    assert_eq!(reg.state(), RegistrationState::Error);
    assert_eq!(reg.poll_timeout().unwrap() - now, Duration::from_secs(120));
}

#[test]
fn a_missing_binding_means_logged_off() {
    let (now, mut reg) = setup();
    register(&mut reg, now, 600);
    let (due, refresh) = refresh_due(&mut reg);
    // Someone removed our binding: the 200 lists only another contact.
    let other = ("Contact", "<sip:other@192.0.2.77>;expires=99");
    answer(&mut reg, due, &refresh, 200, &[other]);
    assert_eq!(
        states(&mut reg).last(),
        Some(&(RegistrationState::LoggedOff, Some(200)))
    );
    assert_eq!(reg.poll_timeout(), None, "no more refreshes");
}

#[test]
fn unregister_removes_the_binding() {
    let (now, mut reg) = setup();
    register(&mut reg, now, 600);
    states(&mut reg);
    reg.unregister().unwrap();
    let bye = reg.poll_request().unwrap();
    assert_eq!(header(&bye.request, "Expires").as_deref(), Some("0"));
    // The registrar challenges the removal too.
    challenge(&mut reg, now, &bye);
    let authed = reg.poll_request().unwrap();
    assert_eq!(header(&authed.request, "Expires").as_deref(), Some("0"));
    answer(&mut reg, now, &authed, 200, &[]);
    assert_eq!(
        states(&mut reg),
        [
            (RegistrationState::Unregistering, None),
            (RegistrationState::NotRegistered, Some(200))
        ]
    );
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn a_lost_connection_registers_again_at_once() {
    let (now, mut reg) = setup();
    let done = register(&mut reg, now, 600);
    states(&mut reg);
    reg.connection_lost().unwrap();
    let again = reg.poll_request().expect("a new REGISTER");
    assert!(again.request.cseq().unwrap().seq > done.request.cseq().unwrap().seq);
    assert_eq!(states(&mut reg), [(RegistrationState::Registering, None)]);
}

#[test]
fn forbidden_is_rejected_and_late_answers_are_ignored() {
    let (now, mut reg) = setup();
    let a = send_register(&mut reg);
    // Asked again before the first answer: the first REGISTER's outcome no longer counts.
    let b = send_register(&mut reg);
    accept(&mut reg, now, &a, 600);
    assert_eq!(reg.state(), RegistrationState::Registering);
    answer(&mut reg, now, &b, 403, &[]);
    assert_eq!(reg.state(), RegistrationState::Rejected);
    assert_eq!(reg.poll_timeout(), None);
}

/// `req` as a registrar behind whose NAT it came from `public`: `received` and `rport` on its
/// top Via (RFC 3581 §4), which a response copies.
fn seen_from(req: &OutgoingRequest, public: &str) -> OutgoingRequest {
    let (host, port) = public.rsplit_once(':').unwrap();
    let text = String::from_utf8(req.request.as_bytes().to_vec()).unwrap();
    let stamped = text.replacen(";rport", &format!(";received={host};rport={port}"), 1);
    OutgoingRequest {
        id: req.id,
        target: req.target.clone(),
        request: Message::parse(stamped.into_bytes().into()).unwrap(),
    }
}

fn contacts(m: &Message) -> Vec<String> {
    m.headers()
        .filter(|h| h.raw_name.eq_ignore_ascii_case(b"Contact"))
        .map(|h| String::from_utf8_lossy(h.value).into_owned())
        .collect()
}

#[test]
fn behind_nat_the_contact_follows_received_and_rport() {
    let (now, mut reg) = setup();
    let first = send_register(&mut reg);
    assert_eq!(our_contact(&first), "sip:alice@192.0.2.1:5070");
    states(&mut reg);
    // The registrar saw us at 203.0.113.7:40123 and bound the private Contact.
    let seen = seen_from(&first, "203.0.113.7:40123");
    reg.handle_response(now, first.id, &ok_with(&seen, 600))
        .unwrap();
    // Not Registered yet: that binding is unreachable. At once a REGISTER with the public
    // Contact, removing the private one in the same request.
    assert_eq!(states(&mut reg), []);
    let second = reg
        .poll_request()
        .expect("a REGISTER with the public Contact");
    assert_eq!(
        contacts(&second.request),
        [
            "<sip:alice@203.0.113.7:40123>",
            "<sip:alice@192.0.2.1:5070>;expires=0"
        ]
    );
    // The Via keeps the address we send from.
    assert!(
        header(&second.request, "Via")
            .unwrap()
            .starts_with("SIP/2.0/UDP 192.0.2.1:5070;")
    );
    let seen = seen_from(&second, "203.0.113.7:40123");
    reg.handle_response(now, second.id, &ok_with(&seen, 600))
        .unwrap();
    assert_eq!(
        states(&mut reg),
        [(RegistrationState::Registered, Some(200))]
    );
    assert_eq!(
        reg.local().contact(TransportKind::Udp).unwrap(),
        "sip:alice@203.0.113.7:40123"
    );
    // The refresh names only the public Contact.
    let (_, refresh) = refresh_due(&mut reg);
    assert_eq!(
        contacts(&refresh.request),
        ["<sip:alice@203.0.113.7:40123>"]
    );
}

#[test]
fn a_nat_that_remaps_every_request_is_followed_three_times_only() {
    let (now, mut reg) = setup();
    let mut req = send_register(&mut reg);
    states(&mut reg);
    for port in 40_001..=40_003 {
        let seen = seen_from(&req, &format!("203.0.113.7:{port}"));
        reg.handle_response(now, req.id, &ok_with(&seen, 600))
            .unwrap();
        assert_eq!(states(&mut reg), []);
        req = reg
            .poll_request()
            .expect("a REGISTER with the new public Contact");
        assert_eq!(our_contact(&req), format!("sip:alice@203.0.113.7:{port}"));
    }
    let seen = seen_from(&req, "203.0.113.7:40004");
    reg.handle_response(now, req.id, &ok_with(&seen, 600))
        .unwrap();
    assert_eq!(
        states(&mut reg),
        [(RegistrationState::Registered, Some(200))]
    );
    assert!(reg.poll_request().is_none());
}

#[test]
fn without_nat_rport_changes_nothing() {
    let (now, mut reg) = setup();
    let req = send_register(&mut reg);
    states(&mut reg);
    let seen = seen_from(&req, "192.0.2.1:5070");
    reg.handle_response(now, req.id, &ok_with(&seen, 600))
        .unwrap();
    assert_eq!(
        states(&mut reg),
        [(RegistrationState::Registered, Some(200))]
    );
    assert!(reg.poll_request().is_none());
    assert_eq!(
        reg.local().contact(TransportKind::Udp).unwrap(),
        "sip:alice@192.0.2.1:5070"
    );
}

#[test]
fn a_registrar_away_for_ten_minutes_is_reached_by_the_backoff_without_a_tight_loop() {
    // Every REGISTER goes unanswered for 10 minutes (Timer F: 32 s each), then the registrar
    // is back. The retries back off (2 s doubling, capped at 5 min, RFC 5626 §4.5): few
    // requests, none sooner than the backoff allows, and the first after the return comes
    // within the cap.
    let t0 = start();
    let mut reg = registration(vec![targets()[0].clone()]);
    let back = t0 + Duration::from_secs(600);
    let mut now = t0;
    let mut req = send_register(&mut reg);
    let mut sent = vec![now];
    loop {
        // Unanswered: the transaction fails 32 s later.
        now += Duration::from_secs(32);
        reg.handle_failure(now, req.id, Failure::Timeout).unwrap();
        assert_eq!(reg.state(), RegistrationState::Error);
        let wake = reg.poll_timeout().expect("a retry is scheduled");
        assert!(wake > now, "a retry waits");
        now = wake;
        reg.handle_timeout(now).unwrap();
        req = reg.poll_request().expect("the retry");
        sent.push(now);
        if now >= back {
            break;
        }
    }
    accept(&mut reg, now, &req, 600);
    assert_eq!(reg.state(), RegistrationState::Registered);
    // No tight loop: one REGISTER per 32 s at the very most, and far fewer as the waits grow.
    assert!(sent.len() <= 12, "{} REGISTERs in 10 minutes", sent.len());
    assert!(
        sent.windows(2)
            .all(|w| w[1] - w[0] >= Duration::from_secs(33)),
        "{sent:?}"
    );
    // Reached within the longest wait (5 min) plus one transaction of its return.
    assert!(
        now - back <= Duration::from_secs(300 + 32),
        "{:?}",
        now - back
    );
}

#[test]
fn after_a_failover_refreshes_stay_with_the_server_that_holds_the_binding() {
    let (now, mut reg) = setup();
    let a = send_register(&mut reg);
    reg.handle_failure(now, a.id, Failure::Timeout).unwrap();
    let b = reg.poll_request().unwrap();
    assert_eq!(b.target, targets()[1]);
    accept(&mut reg, now, &b, 600);
    assert_eq!(reg.target(), Some(&targets()[1]));
    // The refresh, and one asked for at once, go where the binding is, not back to the first
    // server, which would leave a second binding there.
    let (at, refresh) = refresh_due(&mut reg);
    assert_eq!(refresh.target, targets()[1]);
    accept(&mut reg, at, &refresh, 600);
    reg.register().unwrap();
    assert_eq!(reg.poll_request().unwrap().target, targets()[1]);
}

#[test]
fn a_failure_says_its_cause_and_a_certificate_outweighs_a_refusal() {
    let (now, mut reg) = setup();
    let a = send_register(&mut reg);
    // The first server's certificate is not trusted; the second refuses the connection.
    reg.handle_failure(now, a.id, Failure::Transport(Cause::TlsUnknownCa))
        .unwrap();
    let b = reg.poll_request().unwrap();
    reg.handle_failure(now, b.id, Failure::Transport(Cause::Refused))
        .unwrap();
    let events: Vec<_> = std::iter::from_fn(|| reg.poll_event()).collect();
    let error = events.last().unwrap();
    assert_eq!(error.state, RegistrationState::Error);
    assert_eq!(error.cause, Some(Cause::TlsUnknownCa));
    assert_eq!(
        error.reason,
        "the server's certificate is from an unknown CA"
    );
    // The retry is answered: Registered carries no cause.
    let at = reg.poll_timeout().unwrap();
    reg.handle_timeout(at).unwrap();
    let c = reg.poll_request().unwrap();
    accept(&mut reg, at, &c, 600);
    let last = std::iter::from_fn(|| reg.poll_event()).last().unwrap();
    assert_eq!(last.state, RegistrationState::Registered);
    assert_eq!(last.cause, None);
}

#[test]
fn a_failed_lookup_is_an_error_with_its_cause_then_looked_up_again_with_backoff() {
    let now = start();
    let mut reg = registration(Vec::new());
    reg.lookup_failed(
        now,
        "DNS lookup of example.test failed: no such name",
        Cause::DnsNoSuchName,
    );
    let e = reg.poll_event().unwrap();
    assert_eq!(e.state, RegistrationState::Error);
    assert_eq!(e.cause, Some(Cause::DnsNoSuchName));
    assert!(e.reason.contains("example.test"), "{}", e.reason);
    assert!(reg.poll_request().is_none());
    assert!(!reg.poll_lookup(), "not before the backoff");

    let first_wait = reg.poll_timeout().unwrap() - now;
    assert!((Duration::from_secs(1)..=Duration::from_secs(2)).contains(&first_wait));
    let t1 = now + first_wait;
    reg.handle_timeout(t1).unwrap();
    assert!(reg.poll_lookup());
    assert!(reg.poll_request().is_none(), "no REGISTER without targets");
    // It fails again: the wait grows.
    reg.lookup_failed(
        t1,
        "DNS lookup of example.test failed: timed out",
        Cause::Dns,
    );
    let second_wait = reg.poll_timeout().unwrap() - t1;
    assert!((Duration::from_secs(2)..=Duration::from_secs(4)).contains(&second_wait));
    let t2 = t1 + second_wait;
    reg.handle_timeout(t2).unwrap();
    assert!(reg.poll_lookup());

    // Now it answers: the REGISTER goes to what it found.
    reg.resolved(targets(), None).unwrap();
    let r = reg.poll_request().unwrap();
    assert_eq!(r.target, targets()[0]);
    accept(&mut reg, t2, &r, 600);
    assert_eq!(reg.state(), RegistrationState::Registered);
}

#[test]
fn with_relookup_a_retry_after_every_target_failed_looks_up_again_first() {
    let now = start();
    let local = Endpoint::new("alice").with(TransportKind::Udp, "192.0.2.1:5070");
    let mut config = RegistrationConfig::new("sip:alice@example.test", "sip:example.test");
    config.relookup = true;
    let mut reg = Registration::new(config, local, vec![targets()[0].clone()]).unwrap();
    reg.register().unwrap();
    let a = reg.poll_request().unwrap();
    reg.handle_failure(now, a.id, Failure::Timeout).unwrap();
    assert_eq!(reg.state(), RegistrationState::Error);
    let t1 = reg.poll_timeout().unwrap();
    reg.handle_timeout(t1).unwrap();
    assert!(reg.poll_lookup());
    assert!(reg.poll_request().is_none());
    // The server moved: the retry goes to the new one.
    let moved = Target::udp("192.0.2.77:5060".parse().unwrap());
    reg.resolved(vec![moved.clone()], None).unwrap();
    assert_eq!(reg.poll_request().unwrap().target, moved);
    assert_eq!(reg.state(), RegistrationState::Registering);
}

#[test]
fn targets_are_looked_up_again_when_their_ttl_expires_and_a_binding_stays_put() {
    let (now, mut reg) = setup();
    reg.resolved(targets(), Some(now + Duration::from_secs(60)))
        .unwrap();
    let r = send_register(&mut reg);
    accept(&mut reg, now, &r, 600);
    // The TTL passes before the refresh (300 s): a lookup is due, no REGISTER.
    assert_eq!(reg.poll_timeout(), Some(now + Duration::from_secs(60)));
    let t1 = now + Duration::from_secs(60);
    reg.handle_timeout(t1).unwrap();
    assert!(reg.poll_lookup());
    assert!(reg.poll_request().is_none());
    // The new answer no longer names our server: the refresh still goes there.
    let moved = Target::udp("192.0.2.77:5060".parse().unwrap());
    reg.resolved(vec![moved.clone()], Some(t1 + Duration::from_secs(600)))
        .unwrap();
    assert_eq!(reg.state(), RegistrationState::Registered);
    let (at, refresh) = refresh_due(&mut reg);
    assert_eq!(refresh.target, targets()[0]);
    // It fails: the failover goes to the server the answer names now.
    reg.handle_failure(at, refresh.id, Failure::Timeout)
        .unwrap();
    assert_eq!(reg.poll_request().unwrap().target, moved);
}

/// A registration that asks for outbound (RFC 5626) with a fixed instance id.
fn outbound_setup() -> (Instant, Registration) {
    let local = Endpoint::new("alice").with(TransportKind::Udp, "192.0.2.1:5070");
    let mut config = RegistrationConfig::new("sip:alice@example.test", "sip:example.test");
    let instance = InstanceId::parse("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6").unwrap();
    config.outbound = Some(Outbound::new(instance));
    let reg = Registration::new(config, local, vec![targets()[0].clone()]).unwrap();
    (start(), reg)
}

const OUR_OUTBOUND_CONTACT: &str = "<sip:alice@192.0.2.1:5070>;reg-id=1;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"";

#[test]
fn outbound_register_names_instance_and_reg_id_and_supports_outbound() {
    let (now, mut reg) = outbound_setup();
    let first = send_register(&mut reg);
    assert_eq!(contacts(&first.request), [OUR_OUTBOUND_CONTACT]);
    assert_eq!(
        header(&first.request, "Supported").as_deref(),
        Some("outbound, path")
    );
    // The parser reads the instance back as a Contact parameter.
    let c = first.request.contacts().next().unwrap().unwrap();
    let params = c.address().unwrap().params();
    assert_eq!(params.get("reg-id"), Some(Some("1")));
    accept(&mut reg, now, &first, 600);
    // Removing the binding names the same flow.
    reg.unregister().unwrap();
    let bye = reg.poll_request().unwrap();
    assert_eq!(contacts(&bye.request), [OUR_OUTBOUND_CONTACT]);
    assert_eq!(header(&bye.request, "Expires").as_deref(), Some("0"));
}

#[test]
fn a_registrar_that_requires_outbound_gets_no_contact_rewrite() {
    let (now, mut reg) = outbound_setup();
    let first = send_register(&mut reg);
    states(&mut reg);
    // Behind NAT, but the registrar binds the flow (RFC 5626 §4.2.1): registered at once.
    let seen = seen_from(&first, "203.0.113.7:40123");
    let binding = format!("{OUR_OUTBOUND_CONTACT};expires=600");
    let ok = respond(
        &seen,
        200,
        &[
            ("Contact", &binding),
            ("Require", "outbound"),
            ("Flow-Timer", "25"),
        ],
    );
    reg.handle_response(now, first.id, &ok).unwrap();
    assert_eq!(
        states(&mut reg),
        [(RegistrationState::Registered, Some(200))]
    );
    assert!(reg.poll_request().is_none(), "no second REGISTER");
    let flow = reg.flow().expect("on an outbound flow");
    assert_eq!(flow.flow_timer, Some(Duration::from_secs(25)));
    // Dialogs ask for the flow (`ob`, §4.3); the binding itself is unchanged.
    assert_eq!(
        reg.local().contact(TransportKind::Udp).unwrap(),
        "sip:alice@192.0.2.1:5070;ob"
    );
    let (_, refresh) = refresh_due(&mut reg);
    assert_eq!(contacts(&refresh.request), [OUR_OUTBOUND_CONTACT]);
}

#[test]
fn a_registrar_without_outbound_gets_the_rfc_3581_contact_rewrite() {
    let (now, mut reg) = outbound_setup();
    let first = send_register(&mut reg);
    states(&mut reg);
    // No `Require: outbound` (a `Supported` alone does not count): the parameters were
    // ignored, so the Contact must follow the NAT as without outbound.
    let seen = seen_from(&first, "203.0.113.7:40123");
    let binding = format!("{OUR_OUTBOUND_CONTACT};expires=600");
    let ok = respond(
        &seen,
        200,
        &[("Contact", &binding), ("Supported", "outbound")],
    );
    reg.handle_response(now, first.id, &ok).unwrap();
    assert_eq!(states(&mut reg), []);
    let second = reg
        .poll_request()
        .expect("a REGISTER with the public Contact");
    assert_eq!(
        contacts(&second.request)[0],
        "<sip:alice@203.0.113.7:40123>;reg-id=1;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\""
    );
    assert!(reg.flow().is_none());
    assert!(!reg.local().is_outbound());
}

#[test]
fn an_untrusted_certificate_is_reported_once_and_retried_only_with_backoff() {
    // The registrar's certificate is not trusted, for an hour of simulated time: the TLS
    // handshake fails at once each time, so only the backoff stands between the client and a
    // tight loop.
    let t0 = start();
    let mut reg = registration(vec![Target::tcp("192.0.2.9:5061".parse().unwrap())]);
    let mut now = t0;
    let mut req = send_register(&mut reg);
    let mut sent = vec![now];
    while now < t0 + Duration::from_secs(3600) {
        reg.handle_failure(now, req.id, Failure::Transport(Cause::TlsUnknownCa))
            .unwrap();
        assert_eq!(reg.state(), RegistrationState::Error);
        let wake = reg.poll_timeout().expect("a retry is scheduled");
        assert!(wake > now, "a retry waits");
        now = wake;
        reg.handle_timeout(now).unwrap();
        req = reg.poll_request().expect("the retry");
        sent.push(now);
    }
    // Told once, clearly: `Registering`, then one `Error` with the cause, then nothing more
    // however often it is retried.
    let events: Vec<_> = std::iter::from_fn(|| reg.poll_event()).collect();
    let told: Vec<_> = events.iter().map(|e| (e.state, e.cause)).collect();
    assert_eq!(
        told,
        [
            (RegistrationState::Registering, None),
            (RegistrationState::Error, Some(Cause::TlsUnknownCa)),
        ],
        "{events:#?}"
    );
    // Retried with a growing wait: 2 s, 4 s, … up to 5 minutes, each drawn from its upper half.
    let gaps: Vec<Duration> = sent.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_secs(1)),
        "{gaps:?}"
    );
    assert!(
        gaps.iter()
            .rev()
            .take(5)
            .all(|g| *g >= Duration::from_secs(150)),
        "{gaps:?}"
    );
    assert!(sent.len() <= 30, "{} attempts in an hour", sent.len());
    // The user fixes the trust store: the next retry succeeds, and that is news again.
    accept(&mut reg, now, &req, 600);
    let last: Vec<_> = std::iter::from_fn(|| reg.poll_event())
        .map(|e| e.state)
        .collect();
    assert_eq!(last, [RegistrationState::Registered]);
    // A later failure of the same kind is reported again.
    let (at, refresh) = refresh_due(&mut reg);
    reg.handle_failure(at, refresh.id, Failure::Transport(Cause::TlsUnknownCa))
        .unwrap();
    let again: Vec<_> = std::iter::from_fn(|| reg.poll_event())
        .map(|e| (e.state, e.cause))
        .collect();
    assert_eq!(
        again,
        [(RegistrationState::Error, Some(Cause::TlsUnknownCa))]
    );
}
