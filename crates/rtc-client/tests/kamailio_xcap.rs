//! The XCAP client against Kamailio's `xcap_server` over `xhttp` (`-A WITH_XCAP`), over HTTP on
//! the SIP TCP port and HTTPS on the TLS port (certificate verified as for SIP): a pres-rules
//! document created, read, replaced and deleted under ETags with digest auth, one element by
//! node selector, 412 on a stale ETag, and the server's refusals.

mod common;

use common::*;
use xcap::{
    Application, Condition, Credentials, Error, Fetched, NodeSelector, TlsConfig, XcapClient,
    XcapConfig, XcapRoot,
};

const RULES_V1: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ruleset xmlns="urn:ietf:params:xml:ns:common-policy" xmlns:pr="urn:ietf:params:xml:ns:pres-rules"><rule id="a"><conditions><identity><one id="sip:bob@example.test"/></identity></conditions><actions><pr:sub-handling>allow</pr:sub-handling></actions><transformations/></rule></ruleset>"#;

fn rules_v2() -> String {
    RULES_V1.replace(
        "</ruleset>",
        r#"<rule id="b"><conditions><identity><one id="sip:carol@example.test"/></identity></conditions><actions><pr:sub-handling>block</pr:sub-handling></actions><transformations/></rule></ruleset>"#,
    )
}

fn client(root: &XcapRoot, user: &str, password: &str, kam: &Kamailio) -> XcapClient {
    XcapClient::new(
        root.clone(),
        XcapConfig {
            credentials: Some(Credentials::new(user, password)),
            tls: TlsConfig::new().add_ca_file(kam.ca()).unwrap(),
            ..XcapConfig::default()
        },
    )
    .unwrap()
}

async fn document_life(kam: &Kamailio, root: &XcapRoot) {
    let alice = client(root, "alice", "alicepw", kam);
    let doc = root.user_document(
        Application::PRES_RULES.auid,
        "sip:alice@example.test",
        "index",
    );
    let ct = Application::PRES_RULES.content_type;
    assert_eq!(
        alice.get(&doc, Condition::Always).await.unwrap(),
        Fetched::NotFound
    );

    // Created only if absent. (Kamailio 5.6 ignores `If-None-Match: *`: it matches only
    // quoted tags, so a second create would not be refused; the ETags below are enforced.)
    let first = alice
        .put(&doc, ct, RULES_V1, Condition::IfAbsent)
        .await
        .unwrap();
    let e1 = first.etag.expect("an ETag after PUT");

    let got = alice.get(&doc, Condition::Always).await.unwrap().found();
    let got = got.expect("the document");
    assert_eq!(got.body, RULES_V1.as_bytes());
    assert_eq!(got.etag.as_ref(), Some(&e1));
    assert_eq!(got.content_type.as_deref(), Some(ct));
    assert_eq!(
        alice
            .get(&doc, Condition::IfNoneMatch(e1.clone()))
            .await
            .unwrap(),
        Fetched::NotModified
    );

    // Replaced while unchanged; the old ETag is stale afterwards.
    let e2 = alice
        .put(&doc, ct, rules_v2(), Condition::IfMatch(e1.clone()))
        .await
        .unwrap()
        .etag
        .expect("an ETag");
    assert_ne!(e1, e2);
    let err = alice
        .put(&doc, ct, RULES_V1, Condition::IfMatch(e1.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");

    // One element by node selector: read, then deleted under the current ETag.
    let rule_b = doc
        .node(&NodeSelector::new(r#"ruleset/rule[@id="b"]"#).unwrap())
        .unwrap();
    let element = alice.get(&rule_b, Condition::Always).await.unwrap().found();
    let element = String::from_utf8(element.expect("rule b").body.to_vec()).unwrap();
    assert!(
        element.starts_with("<rule id=\"b\">") && element.contains("sip:carol@example.test"),
        "{element}"
    );
    let err = alice
        .delete(&rule_b, Condition::IfMatch(e1.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    alice
        .delete(&rule_b, Condition::IfMatch(e2.clone()))
        .await
        .unwrap();
    let after = alice.get(&doc, Condition::Always).await.unwrap().found();
    let after = after.expect("the document");
    let text = String::from_utf8_lossy(&after.body);
    assert!(
        text.contains("rule id=\"a\"") && !text.contains("rule id=\"b\""),
        "{text}"
    );
    let e3 = after.etag.expect("an ETag");
    assert_ne!(e3, e2);

    // Another user may not read it; wrong credentials are refused.
    let bob = client(root, "bob", "bobpw", kam);
    match bob.get(&doc, Condition::Always).await.unwrap_err() {
        Error::Status { status, .. } => assert_eq!(status, 403),
        other => panic!("{other}"),
    }
    let wrong = client(root, "alice", "wrong", kam);
    let err = wrong.get(&doc, Condition::Always).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");

    // Deleted under the current ETag only.
    let err = alice
        .delete(&doc, Condition::IfMatch(e2))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    alice.delete(&doc, Condition::IfMatch(e3)).await.unwrap();
    assert_eq!(
        alice.get(&doc, Condition::Always).await.unwrap(),
        Fetched::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pres_rules_document_life_over_http_and_https() {
    let Some(kam) = Kamailio::start("xcap", &["-A", "WITH_XCAP"]) else {
        return;
    };
    let http = XcapRoot::parse(&format!("http://127.0.0.1:{}/xcap-root", kam.port)).unwrap();
    document_life(&kam, &http).await;
    // The certificate names localhost; HTTPS verifies it as SIP over TLS does.
    let https = XcapRoot::parse(&format!("https://localhost:{}/xcap-root", kam.tls_port)).unwrap();
    document_life(&kam, &https).await;
}
