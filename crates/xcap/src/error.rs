//! The one error type of the crate.

/// What went wrong with an XCAP request. Each variant is something a caller can act on; `uri`
/// is the request's URI as sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The XCAP root is not an `http` or `https` URI with a host (RFC 4825 §6.1).
    #[error("invalid XCAP root {root:?}: {reason}")]
    InvalidRoot {
        /// The root as given.
        root: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A node selector that cannot be sent (RFC 4825 §6.3).
    #[error("invalid node selector {selector:?}: {reason}")]
    InvalidSelector {
        /// The selector as given.
        selector: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// 412 Precondition Failed: the document changed since the ETag the request was conditional
    /// on (another client wrote it, RFC 4825 §7.11), or `If-None-Match: *` found it present.
    /// Read it again, merge, and retry with the new ETag.
    #[error("{uri}: the document changed (412 Precondition Failed)")]
    Conflict {
        /// The request's URI.
        uri: String,
    },
    /// 404 to a PUT or DELETE: the document, or the parent of the element, does not exist.
    #[error("{uri}: not found")]
    NotFound {
        /// The request's URI.
        uri: String,
    },
    /// The server refused the credentials, or asked for authentication this client cannot
    /// answer (no credentials, no supported digest challenge).
    #[error("{uri}: not authorized: {reason}")]
    Unauthorized {
        /// The request's URI.
        uri: String,
        /// Why: the server's status or the digest client's refusal.
        reason: String,
    },
    /// Any other final status: 409 with an `xcap-error` document when a change would break the
    /// application's constraints (RFC 4825 §11), 403, 5xx…
    #[error("{uri}: {status} {reason}")]
    Status {
        /// The request's URI.
        uri: String,
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
        /// The start of the response body (at most 1 KiB, lossily decoded), often an
        /// `xcap-error` document that names the constraint.
        body: String,
    },
    /// The response body is larger than [`XcapConfig::max_body`](crate::XcapConfig::max_body).
    #[error("{uri}: response body over {limit} bytes")]
    BodyTooLarge {
        /// The request's URI.
        uri: String,
        /// The limit.
        limit: usize,
    },
    /// No answer within [`XcapConfig::timeout`](crate::XcapConfig::timeout).
    #[error("{uri}: no answer in time")]
    Timeout {
        /// The request's URI.
        uri: String,
    },
    /// The TCP connection to the server failed.
    #[error("cannot connect to {server}: {source}")]
    Connect {
        /// `host:port`.
        server: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The TLS handshake failed (certificate not trusted, wrong name, …).
    #[error("TLS with {server}: {source}")]
    Tls {
        /// `host:port`.
        server: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The TLS configuration could not be built.
    #[error("TLS configuration: {0}")]
    TlsConfig(#[from] sip_transport::Error),
    /// HTTP failed on the connection (closed early, malformed response, …).
    #[error("{uri}: HTTP: {source}")]
    Http {
        /// The request's URI.
        uri: String,
        /// The cause.
        source: hyper::Error,
    },
    /// A header value this client was asked to send is not valid in HTTP (an ETag or content
    /// type with control characters).
    #[error("invalid header value for {name}: {value:?}")]
    InvalidHeader {
        /// The header name.
        name: &'static str,
        /// The value.
        value: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
