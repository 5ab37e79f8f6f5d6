//! The client against a scripted HTTP server on loopback: what it sends (request line, Host,
//! conditions, digest answers) and how it reads what comes back (ETags, 304, 404, 412, limits).

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sip_parse::Challenge;
use sip_txn::digest::{DigestCredentials, verify};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use xcap::{
    Application, Condition, Credentials, ETag, Error, Fetched, NodeSelector, XcapClient,
    XcapConfig, XcapRoot, XcapUri,
};

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Seen {
    head: String,
    body: Vec<u8>,
}

impl Seen {
    fn line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// Answers each request with the next of `responses` (raw HTTP/1.1 text; the server adds
/// Content-Length), records it, and keeps each connection open for more.
async fn server(responses: Vec<(String, Vec<u8>)>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}/xcap-root", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let responses = Arc::new(Mutex::new(responses.into_iter()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, log.clone(), responses.clone()));
        }
    });
    (root, seen)
}

type Script = Arc<Mutex<std::vec::IntoIter<(String, Vec<u8>)>>>;

async fn serve(mut stream: TcpStream, seen: Arc<Mutex<Vec<Seen>>>, script: Script) {
    let mut buf = Vec::new();
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut request = Seen {
            head,
            body: Vec::new(),
        };
        let length: usize = request
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        while buf.len() < end + 4 + length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        request.body = buf[end + 4..end + 4 + length].to_vec();
        buf.drain(..end + 4 + length);
        seen.lock().unwrap().push(request);
        let next = script.lock().unwrap().next();
        let Some((head, body)) = next else { return };
        let mut out = format!("{head}\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        out.extend_from_slice(&body);
        if stream.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn client(root: &str, credentials: Option<Credentials>) -> (XcapClient, XcapUri) {
    let root = XcapRoot::parse(root).unwrap();
    let client = XcapClient::new(
        root.clone(),
        XcapConfig {
            credentials,
            max_body: 1000,
            ..XcapConfig::default()
        },
    )
    .unwrap();
    let doc = root.user_document(
        Application::PRES_RULES.auid,
        "sip:alice@example.test",
        "index",
    );
    (client, doc)
}

const CHALLENGE: &str = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"example.test\", \
     nonce=\"n1\", qop=\"auth\", algorithm=MD5";

fn ok_with(etag: &str) -> (String, Vec<u8>) {
    (
        format!("HTTP/1.1 200 OK\r\nETag: \"{etag}\"\r\nContent-Type: application/auth-policy+xml"),
        b"<ruleset/>".to_vec(),
    )
}

#[tokio::test]
async fn get_sends_host_and_path_and_reads_the_etag() {
    let (root, seen) = server(vec![ok_with("e1")]).await;
    let (client, doc) = client(&root, None);
    let Fetched::Found(got) = client.get(&doc, Condition::Always).await.unwrap() else {
        panic!("expected a document");
    };
    assert_eq!(got.body, Bytes::from_static(b"<ruleset/>"));
    assert_eq!(got.etag, Some(ETag::new("e1")));
    assert_eq!(
        got.content_type.as_deref(),
        Some("application/auth-policy+xml")
    );
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0].line(),
        "GET /xcap-root/pres-rules/users/sip:alice@example.test/index HTTP/1.1"
    );
    let host = root
        .trim_start_matches("http://")
        .trim_end_matches("/xcap-root");
    assert_eq!(seen[0].header("host").as_deref(), Some(host));
    assert_eq!(seen[0].header("if-match"), None);
}

#[tokio::test]
async fn digest_challenges_are_answered_then_answered_ahead() {
    let (root, seen) = server(vec![
        (CHALLENGE.to_owned(), Vec::new()),
        ok_with("e1"),
        ok_with("e2"),
    ])
    .await;
    let (client, doc) = client(&root, Some(Credentials::new("alice", "alicepw")));
    let body = &b"<ruleset xmlns=\"urn:ietf:params:xml:ns:common-policy\"/>"[..];
    let written = client
        .put(
            &doc,
            Application::PRES_RULES.content_type,
            body,
            Condition::IfAbsent,
        )
        .await
        .unwrap();
    assert_eq!(written.etag, Some(ETag::new("e1")));
    // The second request answers the same challenge at once, its nonce count raised.
    client.get(&doc, Condition::Always).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    assert_eq!(seen[0].header("authorization"), None);
    assert_eq!(seen[0].header("if-none-match").as_deref(), Some("*"));
    assert_eq!(seen[1].body, body, "the retry carries the body again");
    for (request, method, nc) in [(&seen[1], "PUT", 1), (&seen[2], "GET", 2)] {
        let value = request.header("authorization").expect("an Authorization");
        let challenge = Challenge::parse(value.as_bytes()).unwrap();
        let answer = DigestCredentials::parse(&challenge).unwrap();
        assert_eq!(answer.username, "alice");
        assert_eq!(
            answer.uri,
            "/xcap-root/pres-rules/users/sip:alice@example.test/index"
        );
        assert_eq!(answer.nc, nc);
        assert!(verify(&answer, method, "alicepw", b""), "{value}");
    }
}

#[tokio::test]
async fn wrong_credentials_fail_without_looping() {
    let (root, seen) = server(vec![
        (CHALLENGE.to_owned(), Vec::new()),
        (CHALLENGE.to_owned(), Vec::new()),
        (CHALLENGE.to_owned(), Vec::new()),
    ])
    .await;
    let (wrong, doc) = client(&root, Some(Credentials::new("alice", "wrong")));
    let err = wrong.get(&doc, Condition::Always).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 2);
    // Without credentials a challenge fails at once.
    let (root, _) = server(vec![(CHALLENGE.to_owned(), Vec::new())]).await;
    let (none, doc) = client(&root, None);
    let err = none.get(&doc, Condition::Always).await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err}");
}

#[tokio::test]
async fn statuses_map_to_outcomes() {
    let plain = |s: &str| (format!("HTTP/1.1 {s}"), Vec::new());
    let (root, seen) = server(vec![
        plain("412 Precondition Failed"),
        plain("304 Not Modified"),
        plain("404 Not Found"),
        plain("404 Not Found"),
        (
            "HTTP/1.1 409 Conflict".to_owned(),
            b"<xcap-error><uniqueness-failure/></xcap-error>".to_vec(),
        ),
        ("HTTP/1.1 200 OK".to_owned(), vec![b'x'; 1001]),
        (
            "HTTP/1.1 201 Created\r\nETag: \"e9\"".to_owned(),
            Vec::new(),
        ),
    ])
    .await;
    let (client, doc) = client(&root, None);
    let stale = Condition::IfMatch(ETag::new("old"));
    let rule = doc
        .node(&NodeSelector::new(r#"ruleset/rule[@id="a"]"#).unwrap())
        .unwrap();
    let err = client.delete(&rule, stale.clone()).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err}");
    let current = Condition::IfNoneMatch(ETag::new("e1"));
    assert_eq!(
        client.get(&doc, current).await.unwrap(),
        Fetched::NotModified
    );
    assert_eq!(
        client.get(&doc, Condition::Always).await.unwrap(),
        Fetched::NotFound
    );
    let err = client.delete(&doc, Condition::Always).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    let err = client
        .put(&rule, xcap::ELEMENT_CONTENT_TYPE, &b"<rule/>"[..], stale)
        .await
        .unwrap_err();
    match err {
        Error::Status { status, body, .. } => {
            assert_eq!(status, 409);
            assert!(body.contains("uniqueness-failure"));
        }
        other => panic!("{other}"),
    }
    let err = client.get(&doc, Condition::Always).await.unwrap_err();
    assert!(
        matches!(err, Error::BodyTooLarge { limit: 1000, .. }),
        "{err}"
    );
    let written = client
        .put(
            &rule,
            xcap::ELEMENT_CONTENT_TYPE,
            &b"<rule/>"[..],
            Condition::Always,
        )
        .await
        .unwrap();
    assert!(written.created);
    assert_eq!(written.etag, Some(ETag::new("e9")));
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0].line(),
        "DELETE /xcap-root/pres-rules/users/sip:alice@example.test/index/~~/ruleset/rule%5B@id=%22a%22%5D HTTP/1.1"
    );
    assert_eq!(seen[0].header("if-match").as_deref(), Some("\"old\""));
    assert_eq!(seen[1].header("if-none-match").as_deref(), Some("\"e1\""));
    assert_eq!(
        seen[4].header("content-type").as_deref(),
        Some("application/xcap-el+xml")
    );
}

#[tokio::test]
async fn a_silent_server_times_out_and_a_closed_port_fails_to_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let root = XcapRoot::parse(&format!("http://{addr}")).unwrap();
    let client = XcapClient::new(
        root.clone(),
        XcapConfig {
            timeout: std::time::Duration::from_millis(200),
            ..XcapConfig::default()
        },
    )
    .unwrap();
    let doc = root.user_document("resource-lists", "sip:a@h", "index");
    let err = client.get(&doc, Condition::Always).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    drop(listener);
    let err = client.get(&doc, Condition::Always).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
}
