//! The client: GET, PUT and DELETE of documents and nodes, with conditions and digest auth.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use sip_transport::TlsConfig;
use sip_txn::digest::{Authorization, Credentials, DigestClient};

use crate::connect::connect;
use crate::{Condition, ETag, Error, Result, XcapRoot, XcapUri};

/// How an [`XcapClient`] talks to its server.
#[derive(Debug, Clone)]
pub struct XcapConfig {
    /// The user name and password answering digest challenges (RFC 4825 §8.2: HTTP digest,
    /// RFC 7616); usually the SIP user's. `None`: requests go without credentials, and a
    /// challenge fails with [`Error::Unauthorized`].
    pub credentials: Option<Credentials>,
    /// Which servers an `https` root trusts: the same verification as SIP over TLS (the
    /// `webpki-roots` anchors and any CA added, against the root's host).
    pub tls: TlsConfig,
    /// How long one operation (connection, challenge and answer included) may take. Default
    /// 10 s.
    pub timeout: Duration,
    /// The largest response body read. Default 4 MiB (a 10,000-entry resource list is about
    /// 700 KiB).
    pub max_body: usize,
    /// The `User-Agent` header value.
    pub user_agent: String,
}

impl Default for XcapConfig {
    fn default() -> Self {
        Self {
            credentials: None,
            tls: TlsConfig::new(),
            timeout: Duration::from_secs(10),
            max_body: 4 << 20,
            user_agent: concat!("xcap/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// A document or node as the server holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The body: the whole document, the element, or the attribute value.
    pub body: Bytes,
    /// Its entity tag (the whole document's, RFC 4825 §7.11), to make the next change
    /// conditional on.
    pub etag: Option<ETag>,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
}

/// What a GET found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The document or node.
    Found(Document),
    /// 304: unchanged since the ETag of [`Condition::IfNoneMatch`].
    NotModified,
    /// 404: no such document or node.
    NotFound,
}

impl Fetched {
    /// The document, if one was returned.
    pub fn found(self) -> Option<Document> {
        match self {
            Fetched::Found(d) => Some(d),
            _ => None,
        }
    }
}

/// What a PUT or DELETE did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The document's new entity tag, when the server sent one (it must after a PUT,
    /// RFC 4825 §7.11).
    pub etag: Option<ETag>,
    /// 201: the PUT created the document or node.
    pub created: bool,
}

/// An XCAP client (RFC 4825): one server, one user's credentials; cheap to clone.
///
/// Each operation opens its own connection and keeps it for the challenge and its answer;
/// XCAP changes are rare, and a server that closes idle connections then never fails a
/// request. The latest digest challenge is answered again on the next request (its nonce
/// count raised), which saves a round trip while the server accepts it.
///
/// ```no_run
/// use xcap::{Application, Condition, Fetched, XcapClient, XcapConfig, XcapRoot};
/// # async fn f() -> xcap::Result<()> {
/// let root = XcapRoot::parse("https://xcap.example.com/xcap-root")?;
/// let client = XcapClient::new(root.clone(), XcapConfig {
///     credentials: Some(xcap::Credentials::new("alice", "secret")),
///     ..XcapConfig::default()
/// })?;
/// let rules = root.user_document(Application::PRES_RULES.auid, "sip:alice@example.com", "index");
/// let etag = match client.get(&rules, Condition::Always).await? {
///     Fetched::Found(doc) => doc.etag,
///     _ => None,
/// };
/// let body = br#"<ruleset xmlns="urn:ietf:params:xml:ns:common-policy"/>"#;
/// let condition = etag.map_or(Condition::IfAbsent, Condition::IfMatch);
/// match client.put(&rules, Application::PRES_RULES.content_type, &body[..], condition).await {
///     Ok(written) => println!("stored, now at {:?}", written.etag),
///     Err(xcap::Error::Conflict { .. }) => println!("another client changed it: read again"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct XcapClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: XcapRoot,
    tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    config: XcapConfig,
    auth: Mutex<Auth>,
}

/// The digest state: the client (nonce counts) and the last challenge seen.
#[derive(Debug)]
struct Auth {
    digest: Option<DigestClient>,
    last_challenge: Vec<Vec<u8>>,
}

/// One request as built, kept for a retry with credentials.
struct Prepared<'a> {
    method: Method,
    uri: &'a XcapUri,
    content_type: Option<&'a str>,
    body: Bytes,
    condition: &'a Condition,
}

impl XcapClient {
    /// A client for the server at `root`.
    ///
    /// # Errors
    ///
    /// [`Error::TlsConfig`] when the root is `https` and `config.tls` cannot be built.
    pub fn new(root: XcapRoot, config: XcapConfig) -> Result<Self> {
        let tls = if root.is_https() {
            Some(config.tls.build()?)
        } else {
            None
        };
        let digest = config.credentials.clone().map(DigestClient::new);
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                tls,
                config,
                auth: Mutex::new(Auth {
                    digest,
                    last_challenge: Vec::new(),
                }),
            }),
        })
    }

    /// The root this client talks to.
    pub fn root(&self) -> &XcapRoot {
        &self.inner.root
    }

    /// Fetches a document or node (RFC 4825 §7.3, §7.6, §7.9).
    pub async fn get(&self, uri: &XcapUri, condition: Condition) -> Result<Fetched> {
        let request = Prepared {
            method: Method::GET,
            uri,
            content_type: None,
            body: Bytes::new(),
            condition: &condition,
        };
        let response = self.exchange(&request).await?;
        match response.status {
            StatusCode::OK => Ok(Fetched::Found(Document {
                etag: response.etag(),
                content_type: response.header("content-type"),
                body: response.body,
            })),
            StatusCode::NOT_MODIFIED => Ok(Fetched::NotModified),
            StatusCode::NOT_FOUND => Ok(Fetched::NotFound),
            _ => Err(response.error(uri)),
        }
    }

    /// Creates or replaces a document or node (RFC 4825 §7.1, §7.4, §7.7). `content_type` is
    /// the application's for a document ([`Application`](crate::Application)), or
    /// [`ELEMENT_CONTENT_TYPE`](crate::ELEMENT_CONTENT_TYPE) /
    /// [`ATTRIBUTE_CONTENT_TYPE`](crate::ATTRIBUTE_CONTENT_TYPE) for a node.
    pub async fn put(
        &self,
        uri: &XcapUri,
        content_type: &str,
        body: impl Into<Bytes>,
        condition: Condition,
    ) -> Result<Written> {
        let request = Prepared {
            method: Method::PUT,
            uri,
            content_type: Some(content_type),
            body: body.into(),
            condition: &condition,
        };
        let response = self.exchange(&request).await?;
        match response.status {
            StatusCode::OK | StatusCode::CREATED | StatusCode::NO_CONTENT => Ok(Written {
                etag: response.etag(),
                created: response.status == StatusCode::CREATED,
            }),
            _ => Err(response.error(uri)),
        }
    }

    /// Deletes a document or node (RFC 4825 §7.2, §7.5, §7.8).
    pub async fn delete(&self, uri: &XcapUri, condition: Condition) -> Result<Written> {
        let request = Prepared {
            method: Method::DELETE,
            uri,
            content_type: None,
            body: Bytes::new(),
            condition: &condition,
        };
        let response = self.exchange(&request).await?;
        match response.status {
            StatusCode::OK | StatusCode::NO_CONTENT => Ok(Written {
                etag: response.etag(),
                created: false,
            }),
            _ => Err(response.error(uri)),
        }
    }

    /// Sends the request, answering digest challenges, within the timeout.
    async fn exchange(&self, request: &Prepared<'_>) -> Result<Received> {
        let timeout = self.inner.config.timeout;
        match tokio::time::timeout(timeout, self.exchange_now(request)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                uri: request.uri.to_string(),
            }),
        }
    }

    async fn exchange_now(&self, request: &Prepared<'_>) -> Result<Received> {
        let uri = request.uri.to_string();
        let mut sender = connect(&self.inner.root, self.inner.tls.as_ref()).await?;
        let mut fresh = true;
        // Preemptively answer the last challenge; a 401 then brings a new one.
        let mut authorization = self.answer_last_challenge(request);
        let mut answered_realms = Vec::new();
        // At most: the preemptive try, the answer to a fresh challenge, and one answer to a
        // stale nonce (RFC 7616 §3.3); the digest client refuses a fourth.
        for _ in 0..3 {
            let response = match self.send(&mut sender, request, &authorization).await {
                Ok(r) => r,
                // A kept connection the server closed meanwhile: once more on a new one.
                Err(Error::Http { .. }) if !fresh => {
                    sender = connect(&self.inner.root, self.inner.tls.as_ref()).await?;
                    self.send(&mut sender, request, &authorization).await?
                }
                Err(e) => return Err(e),
            };
            if response.status != StatusCode::UNAUTHORIZED {
                return Ok(response);
            }
            let challenges: Vec<Vec<u8>> = response
                .headers
                .get_all("www-authenticate")
                .iter()
                .map(|v| v.as_bytes().to_vec())
                .collect();
            let answer = self.answer(request, &answered_realms, &challenges);
            let auths = answer.map_err(|e| Error::Unauthorized {
                uri: uri.clone(),
                reason: e.to_string(),
            })?;
            answered_realms = auths.iter().map(|a| a.realm.clone()).collect();
            authorization = auths;
            // Keep the connection when the server does.
            if sender.ready().await.is_err() {
                sender = connect(&self.inner.root, self.inner.tls.as_ref()).await?;
                fresh = true;
            } else {
                fresh = false;
            }
        }
        Err(Error::Unauthorized {
            uri,
            reason: "challenged again after every answer".into(),
        })
    }

    /// Headers answering the challenge of an earlier response, if any.
    fn answer_last_challenge(&self, request: &Prepared<'_>) -> Vec<Authorization> {
        let mut auth = self.inner.auth.lock().unwrap_or_else(|e| e.into_inner());
        let Auth {
            digest,
            last_challenge,
        } = &mut *auth;
        match digest {
            Some(d) if !last_challenge.is_empty() => {
                let values: Vec<&[u8]> = last_challenge.iter().map(Vec::as_slice).collect();
                d.authorize_www(
                    request.method.as_str(),
                    request.uri.path(),
                    &request.body,
                    &[],
                    &values,
                )
                .unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    /// Answers `challenges` (RFC 7616 §3.4: the digest URI is the request target).
    fn answer(
        &self,
        request: &Prepared<'_>,
        answered_realms: &[String],
        challenges: &[Vec<u8>],
    ) -> Result<Vec<Authorization>, sip_txn::Error> {
        let mut auth = self.inner.auth.lock().unwrap_or_else(|e| e.into_inner());
        let Some(digest) = auth.digest.as_mut() else {
            return Err(sip_txn::Error::NoCredentials(String::new()));
        };
        let values: Vec<&[u8]> = challenges.iter().map(Vec::as_slice).collect();
        let answer = digest.authorize_www(
            request.method.as_str(),
            request.uri.path(),
            &request.body,
            answered_realms,
            &values,
        )?;
        auth.last_challenge = challenges.to_vec();
        Ok(answer)
    }

    /// One request on `sender`, its whole response read within the body limit.
    async fn send(
        &self,
        sender: &mut SendRequest<Full<Bytes>>,
        request: &Prepared<'_>,
        authorization: &[Authorization],
    ) -> Result<Received> {
        let uri = request.uri.to_string();
        let http_error = |source| Error::Http {
            uri: uri.clone(),
            source,
        };
        let mut builder = Request::builder()
            .method(request.method.clone())
            .uri(request.uri.path())
            .header("host", header(self.inner.root.authority(), "Host")?)
            .header(
                "user-agent",
                header(self.inner.config.user_agent.clone(), "User-Agent")?,
            );
        if let Some(ct) = request.content_type {
            builder = builder.header("content-type", header(ct.to_owned(), "Content-Type")?);
        }
        if let Some((name, value)) = request.condition.header() {
            let header_name = if name == "if-match" {
                "If-Match"
            } else {
                "If-None-Match"
            };
            builder = builder.header(name, header(value.to_owned(), header_name)?);
        }
        for a in authorization {
            builder = builder.header("authorization", header(a.value.clone(), "Authorization")?);
        }
        let http_request =
            builder
                .body(Full::new(request.body.clone()))
                .map_err(|_| Error::InvalidHeader {
                    name: "request",
                    value: request.uri.path().to_owned(),
                })?;
        sender.ready().await.map_err(http_error)?;
        let response: Response<Incoming> = sender
            .send_request(http_request)
            .await
            .map_err(http_error)?;
        let (parts, body) = response.into_parts();
        let limit = self.inner.config.max_body;
        let body = Limited::new(body, limit)
            .collect()
            .await
            .map_err(|e| match e.downcast::<hyper::Error>() {
                Ok(source) => Error::Http {
                    uri: uri.clone(),
                    source: *source,
                },
                Err(_) => Error::BodyTooLarge {
                    uri: uri.clone(),
                    limit,
                },
            })?
            .to_bytes();
        tracing::debug!(
            "XCAP {} {} -> {}",
            request.method,
            request.uri,
            parts.status
        );
        Ok(Received {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

fn header(value: String, name: &'static str) -> Result<HeaderValue> {
    HeaderValue::try_from(value.as_str()).map_err(|_| Error::InvalidHeader { name, value })
}

/// A whole response.
struct Received {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    fn etag(&self) -> Option<ETag> {
        self.header("etag")
            .filter(|v| !v.trim().is_empty())
            .map(|v| ETag::from_header(&v))
    }

    /// The error a non-success status means.
    fn error(self, uri: &XcapUri) -> Error {
        let uri = uri.to_string();
        match self.status {
            StatusCode::PRECONDITION_FAILED => Error::Conflict { uri },
            StatusCode::NOT_FOUND => Error::NotFound { uri },
            StatusCode::UNAUTHORIZED => Error::Unauthorized {
                uri,
                reason: "401 Unauthorized".into(),
            },
            status => {
                let start = &self.body[..self.body.len().min(1024)];
                Error::Status {
                    uri,
                    status: status.as_u16(),
                    reason: status.canonical_reason().unwrap_or("").to_owned(),
                    body: String::from_utf8_lossy(start).into_owned(),
                }
            }
        }
    }
}
