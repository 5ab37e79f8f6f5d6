//! XCAP URIs (RFC 4825 §6): the root, a document by application, user and name, and a node
//! (element or attribute) inside it by node selector, each part percent-encoded.

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::{Error, Result};

/// What a path segment keeps as is (RFC 3986 §3.3 `pchar`: unreserved, sub-delims, `:` and
/// `@`); everything else, every non-ASCII byte included, is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// A query keeps `pchar`, `/` and `?` (RFC 3986 §3.4).
const QUERY: &AsciiSet = &SEGMENT.remove(b'/').remove(b'?');

/// The longest node selector sent; selectors are short paths, and a longer one is a mistake.
const MAX_SELECTOR: usize = 4096;

/// An XCAP application usage: its AUID (RFC 4825 §4) and the MIME type of its documents.
///
/// ```
/// assert_eq!(xcap::Application::PRES_RULES.auid, "pres-rules");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Application {
    /// The application unique ID, the first path segment below the root.
    pub auid: &'static str,
    /// The `Content-Type` of whole documents.
    pub content_type: &'static str,
}

impl Application {
    /// Presence authorization rules (RFC 5025 §9.1).
    pub const PRES_RULES: Self = Self {
        auid: "pres-rules",
        content_type: "application/auth-policy+xml",
    };
    /// Resource lists, e.g. a buddy list with groups (RFC 4826 §3.4).
    pub const RESOURCE_LISTS: Self = Self {
        auid: "resource-lists",
        content_type: "application/resource-lists+xml",
    };
    /// RLS services, the lists a resource list server subscribes to (RFC 4826 §4.4).
    pub const RLS_SERVICES: Self = Self {
        auid: "rls-services",
        content_type: "application/rls-services+xml",
    };
}

/// The `Content-Type` of an element put or fetched by node selector (RFC 4825 §15.2.1).
pub const ELEMENT_CONTENT_TYPE: &str = "application/xcap-el+xml";
/// The `Content-Type` of an attribute value put or fetched by node selector (RFC 4825
/// §15.2.2).
pub const ATTRIBUTE_CONTENT_TYPE: &str = "application/xcap-att+xml";

/// The XCAP root (RFC 4825 §6.1): where a server's documents start, e.g.
/// `https://xcap.example.com/xcap-root`.
///
/// ```
/// let root = xcap::XcapRoot::parse("https://xcap.example.com/xcap-root/")?;
/// assert!(root.is_https());
/// assert_eq!((root.host(), root.port()), ("xcap.example.com", 443));
/// assert_eq!(root.to_string(), "https://xcap.example.com/xcap-root");
/// # Ok::<(), xcap::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XcapRoot {
    https: bool,
    host: String,
    port: u16,
    /// The path below the authority, without a trailing `/` (empty for a root at `/`).
    path: String,
}

impl XcapRoot {
    /// Parses an `http` or `https` URI with a host, an optional port and path, and neither
    /// query nor fragment.
    pub fn parse(root: &str) -> Result<Self> {
        let bad = |reason| Error::InvalidRoot {
            root: root.to_owned(),
            reason,
        };
        let uri: http::Uri = root.parse().map_err(|_| bad("not a URI"))?;
        let https = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => true,
            Some(s) if s.eq_ignore_ascii_case("http") => false,
            _ => return Err(bad("the scheme must be http or https")),
        };
        let host = uri.host().filter(|h| !h.is_empty()).ok_or(bad("no host"))?;
        if uri.query().is_some() || root.contains('#') {
            return Err(bad("a root has no query or fragment"));
        }
        let authority = uri.authority().map_or("", |a| a.as_str());
        if authority.contains('@') {
            return Err(bad("credentials go in the configuration, not the URI"));
        }
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        Ok(Self {
            https,
            host: host.to_ascii_lowercase(),
            port,
            path: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// Whether requests go over TLS.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The host, an IPv6 address in brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (80 or 443 unless the root names one).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `Host` header value (RFC 9110 §7.2): the port only when it is not the default.
    pub(crate) fn authority(&self) -> String {
        if self.port == if self.https { 443 } else { 80 } {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The document `name` of user `xui` in application `auid` (RFC 4825 §6.2: the "users"
    /// tree), e.g. `pres-rules/users/sip:alice@example.com/index`. `name` may have several
    /// `/`-separated segments; each segment and the XUI are percent-encoded.
    ///
    /// ```
    /// let root = xcap::XcapRoot::parse("http://xcap.example.com/xcap-root")?;
    /// let doc = root.user_document("pres-rules", "sip:alice smith@example.com", "index");
    /// assert_eq!(doc.path(), "/xcap-root/pres-rules/users/sip:alice%20smith@example.com/index");
    /// # Ok::<(), xcap::Error>(())
    /// ```
    pub fn user_document(&self, auid: &str, xui: &str, name: &str) -> XcapUri {
        let mut path = format!(
            "{}/{}/users/{}",
            self.path,
            utf8_percent_encode(auid, SEGMENT),
            utf8_percent_encode(xui, SEGMENT)
        );
        push_name(&mut path, name);
        self.uri(path)
    }

    /// The document `name` of application `auid` shared by all users (the "global" tree).
    pub fn global_document(&self, auid: &str, name: &str) -> XcapUri {
        let mut path = format!(
            "{}/{}/global",
            self.path,
            utf8_percent_encode(auid, SEGMENT)
        );
        push_name(&mut path, name);
        self.uri(path)
    }

    fn uri(&self, path: String) -> XcapUri {
        XcapUri {
            root: self.clone(),
            path,
            node: false,
        }
    }
}

fn push_name(path: &mut String, name: &str) {
    for segment in name.split('/') {
        path.push('/');
        path.extend(utf8_percent_encode(segment, SEGMENT));
    }
}

impl fmt::Display for XcapRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.authority(), self.path)
    }
}

/// A node selector (RFC 4825 §6.3): the steps from the document's root element to an element
/// or attribute, with the namespace prefixes they use (§6.4).
///
/// Unprefixed names are in the application's default namespace; a prefix is bound with
/// [`namespace`](Self::namespace) and sent in the query (`?xmlns(cp=…)`).
///
/// ```
/// use xcap::NodeSelector;
/// let rule = NodeSelector::new(r#"ruleset/rule[@id="a/b"]"#)?;
/// assert!(!rule.is_attribute());
/// assert!(NodeSelector::new("ruleset/rule/@id")?.is_attribute());
/// # Ok::<(), xcap::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeSelector {
    steps: String,
    namespaces: Vec<(String, String)>,
}

impl NodeSelector {
    /// A selector from its steps, `/`-separated, starting at the root element (no leading
    /// `/`). Quotes must balance and there are no control characters.
    pub fn new(steps: &str) -> Result<Self> {
        let bad = |reason| Error::InvalidSelector {
            selector: steps.to_owned(),
            reason,
        };
        if steps.is_empty() {
            return Err(bad("empty"));
        }
        if steps.len() > MAX_SELECTOR {
            return Err(bad("longer than 4096 bytes"));
        }
        if steps.starts_with('/') {
            return Err(bad("starts with '/': the first step is the root element"));
        }
        if steps.chars().any(char::is_control) {
            return Err(bad("control characters"));
        }
        let mut quote = None;
        for c in steps.chars() {
            match quote {
                None if c == '"' || c == '\'' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ => {}
            }
        }
        if quote.is_some() {
            return Err(bad("an unterminated quoted value"));
        }
        Ok(Self {
            steps: steps.to_owned(),
            namespaces: Vec::new(),
        })
    }

    /// Binds `prefix` to the namespace `uri` for the steps (RFC 4825 §6.4).
    #[must_use]
    pub fn namespace(mut self, prefix: &str, uri: &str) -> Self {
        self.namespaces.push((prefix.to_owned(), uri.to_owned()));
        self
    }

    /// Whether the last step selects an attribute (`@name`).
    pub fn is_attribute(&self) -> bool {
        self.last_step().starts_with('@')
    }

    fn last_step(&self) -> &str {
        let mut quote = None;
        let mut start = 0;
        for (i, c) in self.steps.char_indices() {
            match quote {
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c == '/' => start = i + 1,
                Some(q) if c == q => quote = None,
                _ => {}
            }
        }
        &self.steps[start..]
    }

    /// The steps percent-encoded as path segments; a `/` inside a quoted value is encoded
    /// too, so only the step separators stay `/`.
    fn encoded(&self) -> String {
        let mut out = String::with_capacity(self.steps.len() + 16);
        let mut quote = None;
        let mut buf = [0u8; 4];
        for c in self.steps.chars() {
            match quote {
                None if c == '"' || c == '\'' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ => {}
            }
            if c == '/' && quote.is_none() {
                out.push('/');
            } else {
                out.extend(utf8_percent_encode(c.encode_utf8(&mut buf), SEGMENT));
            }
        }
        out
    }
}

impl fmt::Display for NodeSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.steps)
    }
}

/// A request target: a whole document, or a node inside one.
///
/// ```
/// use xcap::{NodeSelector, XcapRoot};
/// let root = XcapRoot::parse("http://127.0.0.1:5060/xcap-root")?;
/// let doc = root.user_document("pres-rules", "sip:alice@example.test", "index");
/// let rule = doc.node(&NodeSelector::new(r#"cp:ruleset/cp:rule[@id="a b"]"#)?
///     .namespace("cp", "urn:ietf:params:xml:ns:common-policy"))?;
/// assert_eq!(
///     rule.path(),
///     "/xcap-root/pres-rules/users/sip:alice@example.test/index/~~/cp:ruleset/cp:rule%5B@id=%22a%20b%22%5D\
///      ?xmlns(cp=urn:ietf:params:xml:ns:common-policy)"
/// );
/// assert_eq!(rule.to_string(), format!("http://127.0.0.1:5060{}", rule.path()));
/// # Ok::<(), xcap::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct XcapUri {
    root: XcapRoot,
    /// Path and query, encoded.
    path: String,
    node: bool,
}

impl XcapUri {
    /// The node `selector` selects in this document (RFC 4825 §6.3).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidSelector`] when this URI already selects a node.
    pub fn node(&self, selector: &NodeSelector) -> Result<XcapUri> {
        if self.node {
            return Err(Error::InvalidSelector {
                selector: selector.to_string(),
                reason: "the URI already selects a node",
            });
        }
        let mut path = format!("{}/~~/{}", self.path, selector.encoded());
        // The query is XPointer xmlns() parts, one after the other (RFC 4825 §6.4).
        for (i, (prefix, uri)) in selector.namespaces.iter().enumerate() {
            if i == 0 {
                path.push('?');
            }
            let binding = format!("xmlns({prefix}={uri})");
            path.extend(utf8_percent_encode(&binding, QUERY));
        }
        Ok(XcapUri {
            root: self.root.clone(),
            path,
            node: true,
        })
    }

    /// The root this URI is under.
    pub fn root(&self) -> &XcapRoot {
        &self.root
    }

    /// The request target: the encoded absolute path, and the namespace query if any.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether it selects a node rather than a whole document.
    pub fn is_node(&self) -> bool {
        self.node
    }
}

impl fmt::Display for XcapUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.root.https { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.root.authority(), self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_checked() {
        for bad in [
            "ftp://x/",
            "x/y",
            "http:///p",
            "http://h/p?q=1",
            "http://u:p@h/",
            "http://h/#f",
        ] {
            assert!(XcapRoot::parse(bad).is_err(), "{bad}");
        }
        let root = XcapRoot::parse("HTTP://Example.COM:8080").unwrap();
        assert_eq!(root.to_string(), "http://example.com:8080");
        assert_eq!(root.authority(), "example.com:8080");
        let v6 = XcapRoot::parse("https://[::1]:5061/xcap-root").unwrap();
        assert_eq!((v6.host(), v6.port()), ("[::1]", 5061));
    }

    #[test]
    fn segments_are_percent_encoded() {
        let root = XcapRoot::parse("http://h/r").unwrap();
        let doc = root.user_document("resource-lists", "sip:a/b?c#d%e@h", "dir/ind ex");
        assert_eq!(
            doc.path(),
            "/r/resource-lists/users/sip:a%2Fb%3Fc%23d%25e@h/dir/ind%20ex"
        );
        let global = root.global_document("xcap-caps", "index");
        assert_eq!(global.path(), "/r/xcap-caps/global/index");
        let doc = root.user_document("pres-rules", "sip:é@h", "index");
        assert_eq!(doc.path(), "/r/pres-rules/users/sip:%C3%A9@h/index");
    }

    #[test]
    fn selectors_keep_step_separators_only() {
        let root = XcapRoot::parse("http://h").unwrap();
        let doc = root.user_document("resource-lists", "sip:a@h", "index");
        let sel =
            NodeSelector::new(r#"resource-lists/list[@name="a/b"]/entry[@uri='sip:x@h']/@uri"#)
                .unwrap();
        assert!(sel.is_attribute());
        let uri = doc.node(&sel).unwrap();
        assert_eq!(
            uri.path(),
            "/resource-lists/users/sip:a@h/index/~~/resource-lists/list%5B@name=%22a%2Fb%22%5D\
             /entry%5B@uri='sip:x@h'%5D/@uri"
        );
        assert!(uri.node(&sel).is_err(), "a node inside a node");
        let slash_in_value = NodeSelector::new(r#"a/b[@x="/@y"]"#).unwrap();
        assert!(!slash_in_value.is_attribute());
    }

    #[test]
    fn bad_selectors_are_refused() {
        for bad in ["", "/ruleset", "a[@id=\"x]", "a\nb"] {
            assert!(NodeSelector::new(bad).is_err(), "{bad:?}");
        }
        assert!(NodeSelector::new(&"a/".repeat(3000)).is_err());
    }

    #[test]
    fn several_namespaces_join_in_the_query() {
        let root = XcapRoot::parse("http://h").unwrap();
        let doc = root.user_document("pres-rules", "sip:a@h", "index");
        let sel = NodeSelector::new("cp:ruleset/pr:x")
            .unwrap()
            .namespace("cp", "urn:c")
            .namespace("pr", "urn:p x");
        assert!(
            doc.node(&sel)
                .unwrap()
                .path()
                .ends_with("?xmlns(cp=urn:c)xmlns(pr=urn:p%20x)")
        );
    }
}
