//! Digest: the RFCs' worked examples, every algorithm, qop, stale, challenge choice, realms.

use bytes::Bytes;
use sip_parse::{Challenge, Message, MessageBuilder};
use sip_txn::Error;
use sip_txn::digest::{Algorithm, Credentials, DigestClient, DigestInput, Qop, digest_response};

fn input<'a>(
    algorithm: Algorithm,
    qop: Option<Qop>,
    method: &'a str,
    uri: &'a str,
) -> DigestInput<'a> {
    DigestInput {
        algorithm,
        username: "alice",
        password: "secret",
        realm: "example.com",
        nonce: "n0nce",
        cnonce: "c0ffee",
        nc: 2,
        qop,
        method,
        uri,
        body: b"",
    }
}

#[test]
fn rfc2617_section_3_5_example() {
    let r = digest_response(&DigestInput {
        algorithm: Algorithm::Md5,
        username: "Mufasa",
        password: "Circle Of Life",
        realm: "testrealm@host.com",
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        cnonce: "0a4f113b",
        nc: 1,
        qop: Some(Qop::Auth),
        method: "GET",
        uri: "/dir/index.html",
        body: b"",
    });
    assert_eq!(r, "6629fae49393a05397450978507c4ef1");
}

#[test]
fn rfc7616_section_3_9_1_md5_and_sha256() {
    let mut i = DigestInput {
        algorithm: Algorithm::Md5,
        username: "Mufasa",
        password: "Circle of Life",
        realm: "http-auth@example.org",
        nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        nc: 1,
        qop: Some(Qop::Auth),
        method: "GET",
        uri: "/dir/index.html",
        body: b"",
    };
    assert_eq!(digest_response(&i), "8ca523f5e9506fed4657c9700eebdbec");
    i.algorithm = Algorithm::Sha256;
    assert_eq!(
        digest_response(&i),
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
}

/// Expected values computed independently (Python hashlib) for the same inputs.
#[test]
fn session_variants_and_sha512_256() {
    let cases = [
        (Algorithm::Md5Sess, "d851812b94535495ac73fb1837bb6558"),
        (
            Algorithm::Sha256Sess,
            "51ff6e9880f2c2867c287013debb1cf7b1901fa08343bfdc65f4e7fcf3139e60",
        ),
        (
            Algorithm::Sha512_256,
            "a083702f14e950efb8e7848109a284290ffc0bb87f6c236c86db82feac75e423",
        ),
        (
            Algorithm::Sha512_256Sess,
            "a9447328ccfb8dcefe2da71def2ea17854c9088fb29f4f92cd970ce8034b1d99",
        ),
    ];
    for (alg, want) in cases {
        let i = input(alg, Some(Qop::Auth), "REGISTER", "sip:example.com");
        assert_eq!(digest_response(&i), want, "{alg:?}");
    }
}

#[test]
fn auth_int_hashes_the_real_body() {
    let mut i = input(
        Algorithm::Sha256,
        Some(Qop::AuthInt),
        "MESSAGE",
        "sip:bob@example.com",
    );
    i.body = b"hello";
    assert_eq!(
        digest_response(&i),
        "2abc6a03bb1fcb4b4f656eb027e798f7f73b6d2ad9c9036296642f49bda7acdf"
    );
    let mut i = input(
        Algorithm::Md5,
        Some(Qop::AuthInt),
        "MESSAGE",
        "sip:bob@example.com",
    );
    i.body = b"";
    assert_eq!(digest_response(&i), "2c46256f2360d4af5c67092f6d9cd64f");
}

#[test]
fn rfc2069_form_without_qop() {
    let i = input(Algorithm::Md5, None, "REGISTER", "sip:example.com");
    assert_eq!(digest_response(&i), "aa955a2b3a7ad96bd48d80764c258057");
}

fn register(extra: &[(&str, &str)], body: Option<&str>) -> Message {
    let mut b = MessageBuilder::request(sip_parse::Method::Register, "sip:example.com")
        .header("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1")
        .unwrap()
        .header("From", "<sip:alice@example.com>;tag=1")
        .unwrap()
        .header("To", "<sip:alice@example.com>")
        .unwrap()
        .header("Call-ID", "c1")
        .unwrap()
        .header("CSeq", "1 REGISTER")
        .unwrap();
    for (n, v) in extra {
        b = b.header(n, v).unwrap();
    }
    if let Some(body) = body {
        b = b
            .body("text/plain", Bytes::copy_from_slice(body.as_bytes()))
            .unwrap();
    }
    Message::parse(b.build()).unwrap()
}

fn challenge(req: &Message, code: u16, headers: &[(&str, &str)]) -> Message {
    let mut b = MessageBuilder::response_to(req, code, "Unauthorized", Some("t")).unwrap();
    for (n, v) in headers {
        b = b.header(n, v).unwrap();
    }
    Message::parse(b.build()).unwrap()
}

/// Recomputes the response of an Authorization value the client produced.
fn verify(value: &str, password: &str, method: &str, body: &[u8]) -> bool {
    let c = Challenge::parse(value.as_bytes()).unwrap();
    let p = |n: &str| c.param(n).map(|v| v.into_owned()).unwrap_or_default();
    let alg = Algorithm::parse(&p("algorithm")).unwrap();
    let qop = match p("qop").as_str() {
        "auth" => Some(Qop::Auth),
        "auth-int" => Some(Qop::AuthInt),
        _ => None,
    };
    let nc = u32::from_str_radix(&p("nc"), 16).unwrap_or(0);
    let (user, realm, nonce, cnonce, uri) =
        (p("username"), p("realm"), p("nonce"), p("cnonce"), p("uri"));
    let want = digest_response(&DigestInput {
        algorithm: alg,
        username: &user,
        password,
        realm: &realm,
        nonce: &nonce,
        cnonce: &cnonce,
        nc,
        qop,
        method,
        uri: &uri,
        body,
    });
    p("response") == want
}

#[test]
fn strongest_supported_challenge_wins() {
    let req = register(&[], None);
    let rsp = challenge(
        &req,
        401,
        &[
            (
                "WWW-Authenticate",
                r#"Digest realm="example.com", nonce="a", algorithm=MD5, qop="auth""#,
            ),
            (
                "WWW-Authenticate",
                r#"Digest realm="example.com", nonce="b", algorithm=SHA-512-256, qop="auth""#,
            ),
            (
                "WWW-Authenticate",
                r#"Digest realm="example.com", nonce="c", algorithm=SHA-256, qop="auth""#,
            ),
            (
                "WWW-Authenticate",
                r#"Digest realm="example.com", nonce="d", algorithm=UNKNOWN-HASH"#,
            ),
        ],
    );
    let mut client = DigestClient::new(Credentials::new("alice", "secret"));
    let auth = client.authorize(&req, &rsp).unwrap();
    assert_eq!(auth.len(), 1);
    assert!(
        auth[0].value.contains("algorithm=SHA-512-256"),
        "{}",
        auth[0].value
    );
    assert!(auth[0].value.contains(r#"nonce="b""#));
    assert!(verify(&auth[0].value, "secret", "REGISTER", b""));
}

#[test]
fn proxy_challenge_gets_proxy_authorization_with_realm_credentials_and_opaque() {
    let req = register(&[], None);
    let rsp = challenge(
        &req,
        407,
        &[(
            "Proxy-Authenticate",
            r#"Digest realm="proxy.example", nonce="p1", opaque="op4", qop="auth""#,
        )],
    );
    let mut client = DigestClient::new(Credentials::new("alice", "secret"))
        .with_realm("proxy.example", Credentials::new("alice-proxy", "pw2"));
    let auth = client.authorize(&req, &rsp).unwrap();
    assert_eq!(auth[0].header_name(), "Proxy-Authorization");
    assert!(auth[0].value.contains(r#"username="alice-proxy""#));
    assert!(auth[0].value.contains(r#"opaque="op4""#));
    assert!(
        auth[0].value.contains("algorithm=MD5"),
        "MD5 is the default"
    );
    assert!(verify(&auth[0].value, "pw2", "REGISTER", b""));
    // Composes with the builder.
    let retry = auth[0]
        .add_to(MessageBuilder::request(
            sip_parse::Method::Register,
            "sip:example.com",
        ))
        .unwrap()
        .build();
    let retry = Message::parse(retry).unwrap();
    assert!(retry.proxy_authorization().next().unwrap().is_ok());
}

#[test]
fn auth_int_through_the_client_hashes_the_body() {
    let req = register(&[], Some("a body"));
    let rsp = challenge(
        &req,
        401,
        &[(
            "WWW-Authenticate",
            r#"Digest realm="example.com", nonce="n", qop="auth-int", algorithm=SHA-256-sess"#,
        )],
    );
    let mut client = DigestClient::new(Credentials::new("alice", "secret"));
    let auth = client.authorize(&req, &rsp).unwrap();
    assert!(auth[0].value.contains("qop=auth-int"));
    assert!(verify(&auth[0].value, "secret", "REGISTER", b"a body"));
    assert!(!verify(
        &auth[0].value,
        "secret",
        "REGISTER",
        b"another body"
    ));
}

#[test]
fn nonce_count_increments_while_the_nonce_is_reused() {
    let req = register(&[], None);
    let rsp = challenge(
        &req,
        401,
        &[(
            "WWW-Authenticate",
            r#"Digest realm="example.com", nonce="same", qop="auth""#,
        )],
    );
    let mut client = DigestClient::new(Credentials::new("alice", "secret"));
    let a1 = client.authorize(&req, &rsp).unwrap();
    let a2 = client.authorize(&req, &rsp).unwrap();
    assert!(a1[0].value.contains("nc=00000001"));
    assert!(a2[0].value.contains("nc=00000002"));
    let cnonce = |v: &str| {
        Challenge::parse(v.as_bytes())
            .unwrap()
            .param("cnonce")
            .unwrap()
            .into_owned()
    };
    assert_ne!(cnonce(&a1[0].value), cnonce(&a2[0].value));
}

#[test]
fn stale_nonce_is_retried_silently_but_a_rejection_is_reported() {
    let mut client = DigestClient::new(Credentials::new("alice", "secret"));
    let first = register(&[], None);
    let rsp = challenge(
        &first,
        401,
        &[(
            "WWW-Authenticate",
            r#"Digest realm="example.com", nonce="n1", qop="auth""#,
        )],
    );
    let auth = client.authorize(&first, &rsp).unwrap();
    let second = register(&[("Authorization", &auth[0].value)], None);
    // stale=true: same credentials, new nonce, no question to the user.
    let stale = challenge(
        &second,
        401,
        &[(
            "WWW-Authenticate",
            r#"Digest realm="example.com", nonce="n2", qop="auth", stale=true"#,
        )],
    );
    let again = client.authorize(&second, &stale).unwrap();
    assert!(again[0].value.contains(r#"nonce="n2""#));
    // Not stale: the credentials are wrong; retrying would loop.
    let rejected = challenge(
        &second,
        401,
        &[(
            "WWW-Authenticate",
            r#"Digest realm="example.com", nonce="n3", qop="auth""#,
        )],
    );
    assert_eq!(
        client.authorize(&second, &rejected),
        Err(Error::CredentialsRejected("example.com".into()))
    );
}

#[test]
fn several_realms_each_get_an_answer_and_unknown_realms_fail() {
    let req = register(&[], None);
    let rsp = challenge(
        &req,
        407,
        &[
            ("Proxy-Authenticate", r#"Digest realm="one", nonce="1""#),
            ("Proxy-Authenticate", r#"Digest realm="two", nonce="2""#),
        ],
    );
    let mut client = DigestClient::default()
        .with_realm("one", Credentials::new("u1", "p1"))
        .with_realm("two", Credentials::new("u2", "p2"));
    let auth = client.authorize(&req, &rsp).unwrap();
    assert_eq!(auth.len(), 2);
    assert!(verify(&auth[0].value, "p1", "REGISTER", b""));
    assert!(verify(&auth[1].value, "p2", "REGISTER", b""));
    let mut only_one = DigestClient::default().with_realm("one", Credentials::new("u1", "p1"));
    assert_eq!(
        only_one.authorize(&req, &rsp),
        Err(Error::NoCredentials("two".into()))
    );
}

#[test]
fn basic_or_unknown_schemes_are_not_answered() {
    let req = register(&[], None);
    let rsp = challenge(&req, 401, &[("WWW-Authenticate", r#"Basic realm="x""#)]);
    let mut client = DigestClient::new(Credentials::new("alice", "secret"));
    assert_eq!(
        client.authorize(&req, &rsp),
        Err(Error::NoSupportedChallenge)
    );
    assert!(!format!("{:?}", Credentials::new("a", "hunter2")).contains("hunter2"));
}
