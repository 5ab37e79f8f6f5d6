//! Hostile-XML-safe reading and careful writing, shared by every document format here.
//!
//! [`Document::parse`] reads a whole document into a small owned tree of namespace-resolved
//! elements, refusing on the way everything that makes XML dangerous or ambiguous: a DOCTYPE
//! (so no entity is ever declared or expanded; XPIDF may opt into a DOCTYPE that only names an
//! external DTD, which is never fetched), references to undefined entities, characters XML
//! forbids, documents over [`XmlLimits::max_size`], nesting over [`XmlLimits::max_depth`] and
//! more than [`XmlLimits::max_elements`] elements. Every step is linear in the input and every
//! error carries a line and column.
//!
//! The writing half escapes text and attribute values so that what is written reads back
//! identical: `\r`, `\t` and `\n` in attributes become character references (attribute-value
//! normalization would turn them into spaces, XML 1.0 §3.3.3), `\r` in text too (end-of-line
//! handling would drop it, §2.11), and characters XML cannot carry become U+FFFD.

use std::borrow::Cow;

use quick_xml::XmlVersion;
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

use crate::error::{Error, Position, Result};

/// Limits applied while reading a document.
///
/// ```
/// use presence::XmlLimits;
/// let tight = XmlLimits { max_size: 4096, ..XmlLimits::default() };
/// let err = presence::pidf::Presence::parse_with_limits(&[b' '; 5000], &tight).unwrap_err();
/// assert!(matches!(err, presence::Error::TooLarge { limit: 4096, .. }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlLimits {
    /// Largest accepted document, in bytes.
    pub max_size: usize,
    /// Deepest accepted element nesting (the document element is depth 1).
    pub max_depth: usize,
    /// Most elements accepted in one document.
    pub max_elements: usize,
}

impl Default for XmlLimits {
    /// Limits for presence bodies: 1 MiB, depth 32, 32,768 elements (a watcherinfo list of a
    /// few thousand watchers fits; real PIDF bodies are a few kilobytes).
    fn default() -> Self {
        XmlLimits {
            max_size: 1024 * 1024,
            max_depth: 32,
            max_elements: 32 * 1024,
        }
    }
}

impl XmlLimits {
    /// Limits for the documents of a presence server that grow with the buddy or watcher
    /// list (pres-rules, resource-lists, RLMI): 16 MiB and 256 Ki elements, room for 10,000
    /// entries and more.
    pub const fn lists() -> Self {
        XmlLimits {
            max_size: 16 * 1024 * 1024,
            max_depth: 32,
            max_elements: 256 * 1024,
        }
    }

    /// Limits for the presence store: 64 MiB and two million elements, room for well over
    /// 10,000 buddies and 10,000 watchers.
    pub const fn store() -> Self {
        XmlLimits {
            max_size: 64 * 1024 * 1024,
            max_depth: 32,
            max_elements: 2 * 1024 * 1024,
        }
    }
}

/// Whether a DOCTYPE may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DoctypePolicy {
    /// Any DOCTYPE is an error.
    Refuse,
    /// A DOCTYPE naming an external DTD only (no internal subset, so nothing can be declared)
    /// is skipped; the DTD is never read. XPIDF documents from RTC clients carry one.
    ExternalIdOnly,
}

/// An attribute, namespace-resolved (`ns` empty when unqualified).
#[derive(Debug)]
pub(crate) struct Attr {
    pub(crate) ns: Box<str>,
    pub(crate) name: Box<str>,
    pub(crate) value: Box<str>,
    /// Byte offset of the value (or of its element when unknown).
    pub(crate) at: usize,
}

/// An element, namespace-resolved (`ns` empty when in no namespace).
#[derive(Debug)]
pub(crate) struct Element {
    pub(crate) ns: Box<str>,
    pub(crate) name: Box<str>,
    pub(crate) attrs: Vec<Attr>,
    pub(crate) children: Vec<Element>,
    /// The element's own character data (text and CDATA, not its children's), references
    /// resolved, line ends normalized.
    pub(crate) text: String,
    /// Byte offset of the start tag's `<`.
    pub(crate) at: usize,
}

impl Element {
    /// Whether this element is `name` in namespace `ns`.
    pub(crate) fn is(&self, ns: &str, name: &str) -> bool {
        &*self.ns == ns && &*self.name == name
    }

    /// The unqualified attribute `name`.
    pub(crate) fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_empty() && &*a.name == name)
    }

    /// The attribute `name` in namespace `ns`.
    pub(crate) fn attr_ns(&self, ns: &str, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| &*a.ns == ns && &*a.name == name)
    }

    /// The first child `name` in namespace `ns`.
    pub(crate) fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// Children `name` in namespace `ns`, in document order.
    pub(crate) fn children_named<'s>(
        &'s self,
        ns: &'s str,
        name: &'s str,
    ) -> impl Iterator<Item = &'s Element> + 's {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// The text with XML white space trimmed at both ends (for tokens and URIs).
    pub(crate) fn trimmed_text(&self) -> &str {
        trim_xml(&self.text)
    }
}

/// Trims XML white space (space, tab, CR, LF; XML 1.0 §2.3 `S`).
pub(crate) fn trim_xml(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

/// A parsed document: its text (for positions) and its document element.
#[derive(Debug)]
pub(crate) struct Document<'a> {
    text: &'a str,
    pub(crate) root: Element,
}

impl<'a> Document<'a> {
    /// Reads `input` (UTF-8, optional byte order mark) into a tree, enforcing `limits`.
    pub(crate) fn parse(
        input: &'a [u8],
        limits: &XmlLimits,
        doctype: DoctypePolicy,
    ) -> Result<Self> {
        if input.len() > limits.max_size {
            let head = valid_utf8_prefix(input.get(..limits.max_size).unwrap_or(input));
            return Err(Error::TooLarge {
                limit: limits.max_size,
                at: Position::of_offset(head, head.len()),
            });
        }
        let text = match std::str::from_utf8(input) {
            Ok(text) => text,
            Err(e) => {
                let head = valid_utf8_prefix(input.get(..e.valid_up_to()).unwrap_or(&[]));
                return Err(Error::Xml {
                    message: "invalid UTF-8".to_owned(),
                    at: Position::of_offset(head, head.len()),
                });
            }
        };
        // Keep offsets relative to what the reader sees, so positions stay exact.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if let Some((offset, c)) = text.char_indices().find(|&(_, c)| !is_xml_char(c)) {
            return Err(Error::Xml {
                message: format!("character U+{:04X} is not allowed in XML", u32::from(c)),
                at: Position::of_offset(text, offset),
            });
        }
        let mut reader = NsReader::from_str(text);
        let config = reader.config_mut();
        // Well-formedness checks quick-xml can make for us: `--` inside comments and
        // end tags that match their start tags (XML 1.0 §2.5, §3).
        config.check_comments = true;
        config.check_end_names = true;
        let root = Builder {
            text,
            reader,
            limits,
            doctype,
        }
        .build()?;
        Ok(Document { text, root })
    }

    /// The position of byte `offset`.
    pub(crate) fn pos(&self, offset: usize) -> Position {
        Position::of_offset(self.text, offset)
    }

    /// Checks the document element's namespace and name.
    pub(crate) fn expect_root(&self, namespace: &'static str, name: &'static str) -> Result<()> {
        if self.root.is(namespace, name) {
            return Ok(());
        }
        Err(Error::UnexpectedRoot {
            expected: name,
            namespace,
            found: format!("{{{}}}{}", self.root.ns, self.root.name),
            at: self.pos(self.root.at),
        })
    }

    /// The unqualified attribute `name` of `el`, which must be present.
    pub(crate) fn required_attr<'e>(
        &self,
        el: &'e Element,
        element: &'static str,
        name: &'static str,
        missing: &'static str,
    ) -> Result<&'e Attr> {
        el.attr(name).ok_or_else(|| Error::Missing {
            element,
            missing,
            at: self.pos(el.at),
        })
    }

    /// An [`Error::InvalidValue`] for `value` at byte `at`.
    pub(crate) fn invalid(&self, what: &'static str, value: &str, at: usize) -> Error {
        Error::InvalidValue {
            what,
            value: truncated(value),
            at: self.pos(at),
        }
    }

    /// An [`Error::Missing`] on `el`.
    pub(crate) fn missing(
        &self,
        el: &Element,
        element: &'static str,
        missing: &'static str,
    ) -> Error {
        Error::Missing {
            element,
            missing,
            at: self.pos(el.at),
        }
    }
}

/// A value for an error message, cut to a readable length.
fn truncated(value: &str) -> String {
    match value.char_indices().nth(64) {
        Some((end, _)) => format!("{}…", value.get(..end).unwrap_or("")),
        None => value.to_owned(),
    }
}

fn valid_utf8_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(bytes.get(..e.valid_up_to()).unwrap_or(&[])).unwrap_or(""),
    }
}

/// Namespaces in XML 1.0 §3 `NCName`: an XML 1.0 (fifth edition) §2.3 `Name` without `:`,
/// the lexical space of `xs:ID`.
pub(crate) fn is_ncname(s: &str) -> bool {
    let start = |c: char| {
        matches!(c, 'A'..='Z' | '_' | 'a'..='z' | '\u{c0}'..='\u{d6}' | '\u{d8}'..='\u{f6}'
            | '\u{f8}'..='\u{2ff}' | '\u{370}'..='\u{37d}' | '\u{37f}'..='\u{1fff}'
            | '\u{200c}'..='\u{200d}' | '\u{2070}'..='\u{218f}' | '\u{2c00}'..='\u{2fef}'
            | '\u{3001}'..='\u{d7ff}' | '\u{f900}'..='\u{fdcf}' | '\u{fdf0}'..='\u{fffd}'
            | '\u{10000}'..='\u{effff}')
    };
    let rest = |c: char| {
        start(c)
            || matches!(c, '-' | '.' | '0'..='9' | '\u{b7}' | '\u{300}'..='\u{36f}'
                | '\u{203f}'..='\u{2040}')
    };
    let mut chars = s.chars();
    chars.next().is_some_and(start) && chars.all(rest)
}

/// Namespaces in XML 1.0 §4 `QName`: an NCName, or two joined by `:`. Names the reader lets
/// through otherwise (`a:<b`, `a:b:c`) would read differently once written back.
pub(crate) fn is_qname(s: &str) -> bool {
    match s.split_once(':') {
        Some((prefix, local)) => is_ncname(prefix) && is_ncname(local),
        None => is_ncname(s),
    }
}

/// XML 1.0 §2.2 `Char`.
pub(crate) fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

struct Builder<'a, 'l> {
    text: &'a str,
    reader: NsReader<&'a [u8]>,
    limits: &'l XmlLimits,
    doctype: DoctypePolicy,
}

impl<'a> Builder<'a, '_> {
    fn error(&self, message: impl Into<String>, offset: usize) -> Error {
        Error::Xml {
            message: message.into(),
            at: Position::of_offset(self.text, offset),
        }
    }

    fn offset(&self) -> usize {
        usize::try_from(self.reader.buffer_position()).unwrap_or(usize::MAX)
    }

    /// Byte offset of `s` when it is a slice of the input; `fallback` otherwise.
    fn offset_of(&self, s: &str, fallback: usize) -> usize {
        let base = self.text.as_ptr() as usize;
        match (s.as_ptr() as usize).checked_sub(base) {
            Some(offset) if offset <= self.text.len() => offset,
            _ => fallback,
        }
    }

    /// Builds the tree with an explicit stack: no recursion on input depth.
    fn build(mut self) -> Result<Element> {
        let mut stack: Vec<Element> = Vec::new();
        let mut root: Option<Element> = None;
        let mut elements = 0usize;
        loop {
            let at = self.offset();
            let (ns, event) = match self.reader.read_resolved_event() {
                Ok((ns, event)) => (resolved(ns), event),
                Err(e) => {
                    let offset = usize::try_from(self.reader.error_position()).unwrap_or(at);
                    return Err(self.error(e.to_string(), offset));
                }
            };
            match event {
                Event::Start(_) | Event::Empty(_) if root.is_some() => {
                    return Err(self.error("a second document element", at));
                }
                Event::Start(start) => {
                    let el = self.element(ns, &start, at, &mut elements)?;
                    if stack.len() >= self.limits.max_depth {
                        return Err(Error::TooDeep {
                            limit: self.limits.max_depth,
                            at: Position::of_offset(self.text, at),
                        });
                    }
                    stack.push(el);
                }
                Event::Empty(start) => {
                    let el = self.element(ns, &start, at, &mut elements)?;
                    if stack.len() >= self.limits.max_depth {
                        return Err(Error::TooDeep {
                            limit: self.limits.max_depth,
                            at: Position::of_offset(self.text, at),
                        });
                    }
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = Some(el),
                    }
                }
                Event::End(_) => {
                    // quick-xml checks that end names match (check_end_names is on).
                    let Some(el) = stack.pop() else {
                        return Err(self.error("end tag without start tag", at));
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => root = Some(el),
                    }
                }
                Event::Text(t) => {
                    let content = t.xml10_content();
                    match stack.last_mut() {
                        Some(el) => el.text.push_str(&content),
                        None if trim_xml(&content).is_empty() => {}
                        None => return Err(self.error("text outside the document element", at)),
                    }
                }
                Event::CData(c) => match stack.last_mut() {
                    Some(el) => el.text.push_str(&c.xml10_content()),
                    None => return Err(self.error("CDATA outside the document element", at)),
                },
                Event::GeneralRef(r) => {
                    let c = self.reference(&r, at)?;
                    match stack.last_mut() {
                        Some(el) => el.text.push(c),
                        None => {
                            return Err(self.error("reference outside the document element", at));
                        }
                    }
                }
                Event::DocType(d) => {
                    let internal_subset = d.xml10_content().contains('[');
                    if self.doctype == DoctypePolicy::Refuse || internal_subset || root.is_some() {
                        return Err(Error::Doctype {
                            at: Position::of_offset(self.text, at),
                        });
                    }
                }
                Event::Decl(_) if at != 0 => {
                    return Err(self.error("XML declaration not at the start", at));
                }
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => {
                    return match (root, stack.last()) {
                        (Some(root), None) => Ok(root),
                        (_, Some(open)) => {
                            Err(self
                                .error(format!("<{}> is not closed", open.name), self.text.len()))
                        }
                        (None, None) => Err(self.error("no document element", self.text.len())),
                    };
                }
            }
        }
    }

    /// One character from a reference in text: a character reference to a legal character
    /// or one of the five predefined entities; nothing else exists without a DTD.
    fn reference(&self, r: &BytesRef<'_>, at: usize) -> Result<char> {
        match r.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c),
            Ok(Some(_)) | Err(_) => Err(self.error("invalid character reference", at)),
            Ok(None) => match &**r {
                "lt" => Ok('<'),
                "gt" => Ok('>'),
                "amp" => Ok('&'),
                "apos" => Ok('\''),
                "quot" => Ok('"'),
                name => Err(Error::UnknownEntity {
                    name: truncated(name).into(),
                    at: Position::of_offset(self.text, at),
                }),
            },
        }
    }

    fn element(
        &self,
        ns: Result<Box<str>, String>,
        start: &BytesStart<'_>,
        at: usize,
        elements: &mut usize,
    ) -> Result<Element> {
        *elements += 1;
        if *elements > self.limits.max_elements {
            return Err(self.error(
                format!("more than {} elements", self.limits.max_elements),
                at,
            ));
        }
        let qname = start.name();
        let name: &str = qname.as_ref();
        if !is_qname(name) {
            return Err(self.error(format!("invalid element name {:?}", truncated(name)), at));
        }
        let ns = ns.map_err(|prefix| self.error(format!("undeclared prefix {prefix:?}"), at))?;
        let mut attrs = Vec::new();
        for attr in start.attributes() {
            let attr = attr.map_err(|e| {
                // AttrError positions count from the byte after `<`.
                let (AttrError::ExpectedEq(p)
                | AttrError::ExpectedValue(p)
                | AttrError::UnquotedValue(p)
                | AttrError::ExpectedQuote(p, _)
                | AttrError::Duplicated(p, _)) = e;
                let message = e.to_string();
                let message = message
                    .split_once(": ")
                    .map_or(message.as_str(), |(_, m)| m);
                self.error(message, at + 1 + p)
            })?;
            let key: &str = attr.key.as_ref();
            if !is_qname(key) {
                return Err(self.error(format!("invalid attribute name {:?}", truncated(key)), at));
            }
            if attr.key.as_namespace_binding().is_some() {
                continue;
            }
            let (attr_ns, local) = self.reader.resolver().resolve_attribute(attr.key);
            let attr_ns = resolved(attr_ns)
                .map_err(|prefix| self.error(format!("undeclared prefix {prefix:?}"), at))?;
            let value_at = match &attr.value {
                Cow::Borrowed(v) => self.offset_of(v, at),
                Cow::Owned(_) => at,
            };
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|e| self.attr_error(&attr.value, e.to_string(), value_at))?;
            if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
                return Err(self.error(
                    format!("character U+{:04X} is not allowed in XML", u32::from(c)),
                    value_at,
                ));
            }
            attrs.push(Attr {
                ns: attr_ns,
                name: local.into_inner().into(),
                value: value.into(),
                at: value_at,
            });
        }
        Ok(Element {
            ns,
            name: start.local_name().into_inner().into(),
            attrs,
            children: Vec::new(),
            text: String::new(),
            at,
        })
    }

    /// An attribute value error: an undefined entity is named as such.
    fn attr_error(&self, raw: &str, message: String, at: usize) -> Error {
        let undefined = raw.split('&').skip(1).find_map(|rest| {
            let name = rest.split(';').next().unwrap_or(rest);
            let known =
                name.starts_with('#') || matches!(name, "lt" | "gt" | "amp" | "apos" | "quot");
            (!known).then_some(name)
        });
        match undefined {
            Some(name) => Error::UnknownEntity {
                name: truncated(name).into(),
                at: Position::of_offset(self.text, at),
            },
            None => self.error(message, at),
        }
    }
}

/// The namespace of a resolved name: empty for none, `Err(prefix)` for an undeclared prefix.
fn resolved(ns: ResolveResult<'_>) -> Result<Box<str>, String> {
    match ns {
        ResolveResult::Bound(ns) => Ok(namespace_name(ns.into_inner())),
        ResolveResult::Unbound => Ok("".into()),
        ResolveResult::Unknown(prefix) => Err(prefix),
    }
}

/// A namespace name as the declaring attribute's value means it: the reader hands over the
/// raw text, so references are resolved and white space normalized here (XML 1.0 §3.3.3).
/// A reference that does not resolve leaves the text raw; no namespace this crate reads has
/// one.
fn namespace_name(raw: &str) -> Box<str> {
    if !raw.contains(['&', '\t', '\n', '\r']) {
        return raw.into();
    }
    let decoded = quick_xml::escape::unescape(raw).unwrap_or(Cow::Borrowed(raw));
    decoded
        .replace("\r\n", "\n")
        .replace(['\t', '\n', '\r'], " ")
        .into()
}

/// An element this crate does not model, kept so that a document read and written again
/// loses nothing (an extension another client added to a rule, say). Namespaces are resolved:
/// written back, each element declares its own, so prefixes may change but meaning does not.
/// Mixed content is kept as the element's text followed by its children.
///
/// ```
/// use presence::rules::Ruleset;
/// let doc = br#"<ruleset xmlns="urn:ietf:params:xml:ns:common-policy"><rule id="r">
///   <conditions/><actions><x:flag xmlns:x="urn:example" x:level="3">on</x:flag></actions>
/// </rule></ruleset>"#;
/// let rules = Ruleset::parse(doc)?;
/// let ext = &rules.rules[0].actions.other[0];
/// assert_eq!((ext.namespace(), ext.name(), ext.text()), ("urn:example", "flag", "on"));
/// assert_eq!(Ruleset::parse(rules.to_xml().as_bytes())?, rules);
/// # Ok::<(), presence::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Extension {
    ns: Box<str>,
    name: Box<str>,
    /// (namespace, local name, value), in document order.
    attrs: Vec<(Box<str>, Box<str>, Box<str>)>,
    text: Box<str>,
    children: Vec<Extension>,
}

impl Extension {
    /// A copy of a parsed element (depth bounded by the parse limits).
    pub(crate) fn of(el: &Element) -> Extension {
        Extension {
            ns: el.ns.clone(),
            name: el.name.clone(),
            attrs: el
                .attrs
                .iter()
                .map(|a| (a.ns.clone(), a.name.clone(), a.value.clone()))
                .collect(),
            text: trim_xml(&el.text).into(),
            children: el.children.iter().map(Extension::of).collect(),
        }
    }

    /// The element's namespace (empty: none).
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// The element's local name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its character data, trimmed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Its child elements.
    pub fn children(&self) -> &[Extension] {
        &self.children
    }

    /// The attribute `name` in namespace `ns` (empty: unqualified).
    pub fn attr(&self, ns: &str, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, l, _)| &**n == ns && &**l == name)
            .map(|(_, _, v)| &**v)
    }

    /// Appends the element, declaring its namespace when it differs from `default_ns`, the
    /// default namespace in scope where it is written.
    pub(crate) fn write(&self, out: &mut String, default_ns: &str) {
        out.push('<');
        out.push_str(&self.name);
        if *self.ns != *default_ns {
            push_attribute(out, "xmlns", &self.ns);
        }
        for (i, (ns, name, value)) in self.attrs.iter().enumerate() {
            out.push(' ');
            if ns.is_empty() {
                out.push_str(name);
            } else if &**ns == NS_XML {
                out.push_str("xml:");
                out.push_str(name);
            } else {
                out.push_str(&format!("a{i}:{name}=\"",));
                push_attr(out, value);
                out.push_str(&format!("\" xmlns:a{i}=\""));
                push_attr(out, ns);
                out.push('"');
                continue;
            }
            out.push_str("=\"");
            push_attr(out, value);
            out.push('"');
        }
        if self.text.is_empty() && self.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        push_text(out, &self.text);
        for c in &self.children {
            c.write(out, &self.ns);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

/// The XML namespace, bound to the `xml` prefix everywhere.
pub(crate) const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// Appends `s` escaped for element content.
pub(crate) fn push_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
}

/// Appends `s` escaped for a double-quoted attribute value.
pub(crate) fn push_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
}

/// Appends ` name="value"`, escaped.
pub(crate) fn push_attribute(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    push_attr(out, value);
    out.push('"');
}

/// Writes a whole document: the XML declaration, the root element `root` with `attributes`
/// (its namespace declarations first), what `content` appends inside it, and the end tag.
/// `capacity` is a guess of the size, to allocate once.
pub(crate) fn document(
    capacity: usize,
    root: &str,
    attributes: &[(&str, &str)],
    content: impl FnOnce(&mut String),
) -> String {
    let mut out = String::with_capacity(capacity);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<");
    out.push_str(root);
    for (name, value) in attributes {
        push_attribute(&mut out, name, value);
    }
    out.push_str(">\n");
    content(&mut out);
    out.push_str("</");
    out.push_str(root);
    out.push_str(">\n");
    out
}

/// Appends `<name>text</name>`, escaped.
pub(crate) fn push_text_element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    push_text(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Document<'_>> {
        Document::parse(s.as_bytes(), &XmlLimits::default(), DoctypePolicy::Refuse)
    }

    #[test]
    fn namespaces_text_and_references_are_resolved() {
        let doc = parse(
            "<?xml version='1.0'?>\n<a xmlns='urn:a' xmlns:b='urn:b' b:x='1&amp;2' y='&#65;'>\
             t&lt;<b:c>in</b:c>u<![CDATA[<v>]]></a>",
        )
        .unwrap();
        assert!(doc.root.is("urn:a", "a"));
        assert_eq!(&*doc.root.attr_ns("urn:b", "x").unwrap().value, "1&2");
        assert_eq!(&*doc.root.attr("y").unwrap().value, "A");
        assert_eq!(doc.root.text, "t<u<v>");
        assert!(doc.root.child("urn:b", "c").is_some());
    }

    #[test]
    fn names_must_be_qnames() {
        for doc in [
            "<a xmlns:p='u'><p:<q/></a>",
            "<a xmlns:p='u'><p:q:r/></a>",
            "<a b:c:d='1'/>",
        ] {
            let err = parse(doc).unwrap_err();
            assert!(err.to_string().contains("invalid"), "{doc}: {err}");
        }
        assert!(parse("<a xmlns:p='u' p:b='1'><p:q/></a>").is_ok());
    }

    #[test]
    fn namespace_names_are_attribute_values() {
        let doc = parse("<a xmlns='urn:&lt;x&#62;\n y'><b xmlns=''/></a>").unwrap();
        assert_eq!(&*doc.root.ns, "urn:<x>  y");
        assert_eq!(&*doc.root.children[0].ns, "");
    }

    #[test]
    fn doctype_is_refused_with_its_position() {
        let err =
            parse("<?xml version='1.0'?>\n<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Doctype {
                    at: Position { line: 2, column: 1 }
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn external_doctype_only_when_allowed_and_without_subset() {
        let doc = "<!DOCTYPE presence PUBLIC \"-//IETF//DTD RFCxxxx XPIDF 1.0//EN\" \"xpidf.dtd\"><presence/>";
        let ok = Document::parse(
            doc.as_bytes(),
            &XmlLimits::default(),
            DoctypePolicy::ExternalIdOnly,
        );
        assert!(ok.is_ok());
        let subset = "<!DOCTYPE p SYSTEM \"x\" [<!ENTITY e 'boom'>]><p>&e;</p>";
        let err = Document::parse(
            subset.as_bytes(),
            &XmlLimits::default(),
            DoctypePolicy::ExternalIdOnly,
        );
        assert!(matches!(err, Err(Error::Doctype { .. })));
    }

    #[test]
    fn undefined_entities_are_refused_in_text_and_attributes() {
        let err = parse("<a>\n x &bomb; </a>").unwrap_err();
        assert!(
            matches!(&err, Error::UnknownEntity { name, at } if &**name == "bomb" && *at == Position { line: 2, column: 4 }),
            "{err:?}"
        );
        let err = parse("<a x='&bomb;'/>").unwrap_err();
        assert!(
            matches!(&err, Error::UnknownEntity { name, .. } if &**name == "bomb"),
            "{err:?}"
        );
    }

    #[test]
    fn depth_size_and_element_limits() {
        let deep = format!("{}{}", "<a>".repeat(33), "</a>".repeat(33));
        assert!(matches!(
            parse(&deep),
            Err(Error::TooDeep { limit: 32, .. })
        ));
        let ok = format!("{}{}", "<a>".repeat(32), "</a>".repeat(32));
        assert!(parse(&ok).is_ok());
        let limits = XmlLimits {
            max_size: 10,
            ..XmlLimits::default()
        };
        let err = Document::parse(b"<a>0123456789</a>", &limits, DoctypePolicy::Refuse);
        assert!(matches!(err, Err(Error::TooLarge { limit: 10, .. })));
        let limits = XmlLimits {
            max_elements: 2,
            ..XmlLimits::default()
        };
        let err = Document::parse(b"<a><b/><c/></a>", &limits, DoctypePolicy::Refuse).unwrap_err();
        assert!(err.to_string().contains("more than 2 elements"), "{err}");
    }

    #[test]
    fn malformed_documents_say_where() {
        let err = parse("<a>\n<b></a>").unwrap_err();
        assert_eq!(err.position().map(|p| p.line), Some(2), "{err}");
        assert!(matches!(parse("<a/><b/>"), Err(Error::Xml { .. })));
        assert!(matches!(parse(""), Err(Error::Xml { .. })));
        assert!(matches!(parse("<a>\u{1}</a>"), Err(Error::Xml { .. })));
        assert!(matches!(parse("<p:a/>"), Err(Error::Xml { .. })));
        assert!(matches!(
            parse("<a><!-- x -- y --></a>"),
            Err(Error::Xml { .. })
        ));
        let err = Document::parse(b"<a>\xff</a>", &XmlLimits::default(), DoctypePolicy::Refuse)
            .unwrap_err();
        assert_eq!(err.to_string(), "1:4: malformed XML: invalid UTF-8");
    }

    #[test]
    fn escaping_round_trips_awkward_characters() {
        let s = "a&b<c>d\"e'f\tg\nh\ri j";
        let mut out = String::from("<a");
        push_attribute(&mut out, "v", s);
        out.push('>');
        push_text(&mut out, s);
        out.push_str("</a>");
        let doc = parse(&out).unwrap();
        assert_eq!(&*doc.root.attr("v").unwrap().value, s);
        assert_eq!(doc.root.text, s);
    }
}
