//! Watcher information (RFC 3857 event package, RFC 3858 document format): who watches a
//! resource, parsed, written, and applied in version order by [`WatcherInfoState`].
//!
//! ```
//! use presence::winfo::{Applied, WatcherInfo, WatcherInfoState, WatcherStatus};
//!
//! let full = br#"<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="0" state="full">
//!   <watcher-list resource="sip:me@example.com" package="presence">
//!     <watcher id="w1" status="pending" event="subscribe">sip:bob@example.com</watcher>
//!   </watcher-list></watcherinfo>"#;
//! let mut state = WatcherInfoState::default();
//! assert_eq!(state.apply(WatcherInfo::parse(full)?)?, Applied::Full);
//! let pending: Vec<_> = state.watchers().filter(|(_, w)| w.status == WatcherStatus::Pending).collect();
//! assert_eq!(pending[0].1.uri, "sip:bob@example.com");
//! # Ok::<(), presence::Error>(())
//! ```

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::xml::{self, DoctypePolicy, Document, Element, XmlLimits};

/// The watcherinfo namespace (RFC 3858 §6).
pub const NS: &str = "urn:ietf:params:xml:ns:watcherinfo";
/// The watcherinfo media type (RFC 3858 §8.1).
pub const CONTENT_TYPE: &str = "application/watcherinfo+xml";
const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";

/// A watcherinfo document (RFC 3858 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherInfo {
    /// `version`: 0 in the first document of a subscription, one more in each next one.
    pub version: u32,
    /// `state`: full or partial.
    pub state: DocState,
    /// The watcher lists, one per resource and package.
    pub lists: Vec<WatcherList>,
}

/// Whether a document is the full state or a change (RFC 3858 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocState {
    /// `full`.
    Full,
    /// `partial`.
    Partial,
}

/// A `watcher-list`: the watchers of one resource in one event package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherList {
    /// `resource`: the URI watched.
    pub resource: String,
    /// `package`: the event package (`presence`).
    pub package: String,
    /// The watchers.
    pub watchers: Vec<Watcher>,
}

/// A `watcher` element: one subscription to the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watcher {
    /// `id`: identifies the subscription across documents.
    pub id: String,
    /// The watcher's URI (the element content).
    pub uri: String,
    /// `status`.
    pub status: WatcherStatus,
    /// `event`: what made the status what it is.
    pub event: WatcherEvent,
    /// `display-name`, if given.
    pub display_name: Option<String>,
    /// `xml:lang` of the display name, if given.
    pub lang: Option<String>,
    /// `expiration`, seconds left, if given.
    pub expiration: Option<u32>,
    /// `duration-subscribed`, seconds so far, if given.
    pub duration_subscribed: Option<u32>,
}

macro_rules! token_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $token:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                #[doc = concat!("`", $token, "`")]
                $variant,
            )*
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The XML token.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $token,)*
                }
            }

            fn parse(doc: &Document<'_>, attr: &xml::Attr) -> Result<Self> {
                match xml::trim_xml(&attr.value) {
                    $($token => Ok($name::$variant),)*
                    other => Err(doc.invalid($what, other, attr.at)),
                }
            }
        }
    };
}

token_enum!(
    /// A watcher's subscription state (RFC 3858 §3, RFC 3857 §5.2).
    WatcherStatus, "watcher status" {
        Pending => "pending",
        Active => "active",
        Waiting => "waiting",
        Terminated => "terminated",
    }
);

token_enum!(
    /// The event that moved a watcher to its status (RFC 3857 §5.3).
    WatcherEvent, "watcher event" {
        Subscribe => "subscribe",
        Approved => "approved",
        Deactivated => "deactivated",
        Probation => "probation",
        Rejected => "rejected",
        Timeout => "timeout",
        Giveup => "giveup",
        Noresource => "noresource",
    }
);

impl WatcherInfo {
    /// Parses a watcherinfo document with the default [`XmlLimits`].
    pub fn parse(body: &[u8]) -> Result<WatcherInfo> {
        WatcherInfo::parse_with_limits(body, &XmlLimits::default())
    }

    /// Parses a watcherinfo document with explicit limits.
    pub fn parse_with_limits(body: &[u8], limits: &XmlLimits) -> Result<WatcherInfo> {
        let doc = Document::parse(body, limits, DoctypePolicy::Refuse)?;
        doc.expect_root(NS, "watcherinfo")?;
        let root = &doc.root;
        let version = doc.required_attr(root, "watcherinfo", "version", "version attribute")?;
        let version = xml::trim_xml(&version.value)
            .parse()
            .map_err(|_| doc.invalid("watcherinfo version", &version.value, version.at))?;
        let state = doc.required_attr(root, "watcherinfo", "state", "state attribute")?;
        let state = match xml::trim_xml(&state.value) {
            "full" => DocState::Full,
            "partial" => DocState::Partial,
            other => return Err(doc.invalid("watcherinfo state", other, state.at)),
        };
        let lists = root
            .children_named(NS, "watcher-list")
            .map(|l| list(&doc, l))
            .collect::<Result<_>>()?;
        Ok(WatcherInfo {
            version,
            state,
            lists,
        })
    }

    /// Writes the document; [`WatcherInfo::parse`] gives back an equal value.
    pub fn to_xml(&self) -> String {
        let state = match self.state {
            DocState::Full => "full",
            DocState::Partial => "partial",
        };
        xml::document(
            256 + 160 * self.lists.len(),
            "watcherinfo",
            &[
                ("xmlns", NS),
                ("version", &self.version.to_string()),
                ("state", state),
            ],
            |out| {
                for l in &self.lists {
                    out.push_str("<watcher-list");
                    xml::push_attribute(out, "resource", &l.resource);
                    xml::push_attribute(out, "package", &l.package);
                    out.push_str(">\n");
                    for w in &l.watchers {
                        write_watcher(out, w);
                    }
                    out.push_str("</watcher-list>\n");
                }
            },
        )
    }
}

fn list(doc: &Document<'_>, el: &Element) -> Result<WatcherList> {
    let resource = doc.required_attr(el, "watcher-list", "resource", "resource attribute")?;
    let package = doc.required_attr(el, "watcher-list", "package", "package attribute")?;
    let watchers = el
        .children_named(NS, "watcher")
        .map(|w| watcher(doc, w))
        .collect::<Result<_>>()?;
    Ok(WatcherList {
        resource: resource.value.to_string(),
        package: package.value.to_string(),
        watchers,
    })
}

fn seconds(doc: &Document<'_>, el: &Element, name: &'static str) -> Result<Option<u32>> {
    el.attr(name)
        .map(|a| {
            xml::trim_xml(&a.value)
                .parse()
                .map_err(|_| doc.invalid(name, &a.value, a.at))
        })
        .transpose()
}

fn watcher(doc: &Document<'_>, el: &Element) -> Result<Watcher> {
    let id = doc.required_attr(el, "watcher", "id", "id attribute")?;
    let status = doc.required_attr(el, "watcher", "status", "status attribute")?;
    let event = doc.required_attr(el, "watcher", "event", "event attribute")?;
    let uri = el.trimmed_text();
    if uri.is_empty() {
        return Err(doc.missing(el, "watcher", "URI"));
    }
    Ok(Watcher {
        id: id.value.to_string(),
        uri: uri.to_owned(),
        status: WatcherStatus::parse(doc, status)?,
        event: WatcherEvent::parse(doc, event)?,
        display_name: el.attr("display-name").map(|a| a.value.to_string()),
        lang: el.attr_ns(NS_XML, "lang").map(|a| a.value.to_string()),
        expiration: seconds(doc, el, "expiration")?,
        duration_subscribed: seconds(doc, el, "duration-subscribed")?,
    })
}

fn write_watcher(out: &mut String, w: &Watcher) {
    out.push_str("<watcher");
    xml::push_attribute(out, "id", &w.id);
    xml::push_attribute(out, "status", w.status.as_str());
    xml::push_attribute(out, "event", w.event.as_str());
    if let Some(d) = &w.display_name {
        xml::push_attribute(out, "display-name", d);
    }
    if let Some(l) = &w.lang {
        xml::push_attribute(out, "xml:lang", l);
    }
    if let Some(e) = w.expiration {
        xml::push_attribute(out, "expiration", &e.to_string());
    }
    if let Some(d) = w.duration_subscribed {
        xml::push_attribute(out, "duration-subscribed", &d.to_string());
    }
    out.push('>');
    xml::push_text(out, &w.uri);
    out.push_str("</watcher>\n");
}

/// What [`WatcherInfoState::apply`] did with a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A full document replaced the state.
    Full,
    /// A partial document was merged into it.
    Partial,
    /// An old or repeated version, ignored (RFC 3858 §4: versions not above the last
    /// one are discarded).
    Stale,
}

/// A watcher that [`WatcherInfoState::apply_changes`] saw change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatcherChange {
    /// The resource watched.
    pub resource: String,
    /// The event package.
    pub package: String,
    /// The watcher as it is now.
    pub watcher: Watcher,
    /// Its status before (`None`: new).
    pub previous: Option<WatcherStatus>,
}

/// The watcher lists as a subscriber to watcherinfo sees them, built from documents applied
/// in version order (RFC 3858 §4).
///
/// A full document replaces everything; a partial one must carry exactly the next version,
/// else it is refused with [`Error::WinfoOutOfOrder`] and the state is left as it was: the
/// subscriber has missed a document and should refresh its subscription, which brings full
/// state. Within a list, watchers are keyed by `id`; a partial document adds or replaces
/// them, and watchers whose status is `terminated` are dropped once applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatcherInfoState {
    version: Option<u32>,
    lists: BTreeMap<(String, String), BTreeMap<String, Watcher>>,
}

impl WatcherInfoState {
    /// Applies a document received in a NOTIFY.
    pub fn apply(&mut self, doc: WatcherInfo) -> Result<Applied> {
        if self.version.is_some_and(|last| doc.version <= last) {
            return Ok(Applied::Stale);
        }
        match doc.state {
            DocState::Full => {
                self.lists.clear();
                self.merge(doc.lists);
                self.version = Some(doc.version);
                Ok(Applied::Full)
            }
            DocState::Partial => match self.version {
                Some(last) if last.checked_add(1) == Some(doc.version) => {
                    self.merge(doc.lists);
                    self.version = Some(doc.version);
                    Ok(Applied::Partial)
                }
                last => Err(Error::WinfoOutOfOrder {
                    last,
                    got: doc.version,
                }),
            },
        }
    }

    /// [`WatcherInfoState::apply`], also saying which watchers changed: those the document
    /// lists that are new or whose status or event differs (terminated ones never seen
    /// before are left out), and for a full document, those it no longer lists, reported
    /// with status `terminated`. A new pending watcher is what a client offers to the user
    /// (RFC 3857 §5.2); nothing is reported for a stale or refused document.
    ///
    /// ```
    /// use presence::winfo::{WatcherInfo, WatcherInfoState, WatcherStatus};
    /// let doc = |v: u32, state: &str, status: &str| WatcherInfo::parse(format!(
    ///     r#"<watcherinfo xmlns="urn:ietf:params:xml:ns:watcherinfo" version="{v}" state="{state}">
    ///     <watcher-list resource="sip:me@example.com" package="presence">
    ///     <watcher id="w1" status="{status}" event="subscribe">sip:bob@example.com</watcher>
    ///     </watcher-list></watcherinfo>"#).as_bytes());
    /// let mut state = WatcherInfoState::default();
    /// let (_, changes) = state.apply_changes(doc(0, "full", "pending")?)?;
    /// assert_eq!((changes[0].previous, changes[0].watcher.status), (None, WatcherStatus::Pending));
    /// let (_, changes) = state.apply_changes(doc(1, "partial", "active")?)?;
    /// assert_eq!(changes[0].previous, Some(WatcherStatus::Pending));
    /// let (_, changes) = state.apply_changes(doc(2, "partial", "active")?)?;
    /// assert!(changes.is_empty());
    /// # Ok::<(), presence::Error>(())
    /// ```
    pub fn apply_changes(&mut self, doc: WatcherInfo) -> Result<(Applied, Vec<WatcherChange>)> {
        let mut changes = Vec::new();
        let mut listed = std::collections::HashSet::new();
        for l in &doc.lists {
            let known = self.lists.get(&(l.resource.clone(), l.package.clone()));
            for w in &l.watchers {
                listed.insert((l.resource.as_str(), l.package.as_str(), w.id.as_str()));
                let prev = known.and_then(|k| k.get(&w.id));
                let same = prev.is_some_and(|p| p.status == w.status && p.event == w.event);
                let unseen_end = prev.is_none() && w.status == WatcherStatus::Terminated;
                if !same && !unseen_end {
                    changes.push(WatcherChange {
                        resource: l.resource.clone(),
                        package: l.package.clone(),
                        watcher: w.clone(),
                        previous: prev.map(|p| p.status),
                    });
                }
            }
        }
        if doc.state == DocState::Full {
            for ((resource, package), ws) in &self.lists {
                for w in ws.values() {
                    if !listed.contains(&(resource.as_str(), package.as_str(), w.id.as_str())) {
                        changes.push(WatcherChange {
                            resource: resource.clone(),
                            package: package.clone(),
                            watcher: Watcher {
                                status: WatcherStatus::Terminated,
                                ..w.clone()
                            },
                            previous: Some(w.status),
                        });
                    }
                }
            }
        }
        let applied = self.apply(doc)?;
        if applied == Applied::Stale {
            changes.clear();
        }
        Ok((applied, changes))
    }

    fn merge(&mut self, lists: Vec<WatcherList>) {
        for l in lists {
            let entry = self.lists.entry((l.resource, l.package)).or_default();
            for w in l.watchers {
                if w.status == WatcherStatus::Terminated {
                    entry.remove(&w.id);
                } else {
                    entry.insert(w.id.clone(), w);
                }
            }
        }
    }

    /// Forgets everything: call when a new watcherinfo subscription starts, since versions
    /// restart at 0 with each subscription (RFC 3858 §3).
    pub fn reset(&mut self) {
        *self = WatcherInfoState::default();
    }

    /// The last version applied.
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// Every known watcher with the resource it watches, by resource, package and id.
    pub fn watchers(&self) -> impl Iterator<Item = (&str, &Watcher)> {
        self.lists
            .iter()
            .flat_map(|((resource, _), ws)| ws.values().map(move |w| (resource.as_str(), w)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(id: &str, status: WatcherStatus) -> Watcher {
        Watcher {
            id: id.to_owned(),
            uri: format!("sip:{id}@example.com"),
            status,
            event: WatcherEvent::Subscribe,
            display_name: None,
            lang: None,
            expiration: None,
            duration_subscribed: None,
        }
    }

    fn doc(version: u32, state: DocState, watchers: Vec<Watcher>) -> WatcherInfo {
        WatcherInfo {
            version,
            state,
            lists: vec![WatcherList {
                resource: "sip:me@example.com".to_owned(),
                package: "presence".to_owned(),
                watchers,
            }],
        }
    }

    fn ids(s: &WatcherInfoState) -> Vec<&str> {
        s.watchers().map(|(_, w)| w.id.as_str()).collect()
    }

    #[test]
    fn partial_documents_apply_in_order_and_gaps_are_refused() {
        use WatcherStatus::*;
        let mut s = WatcherInfoState::default();
        let early = s.apply(doc(0, DocState::Partial, vec![w("a", Active)]));
        assert!(matches!(
            early,
            Err(Error::WinfoOutOfOrder { last: None, got: 0 })
        ));
        assert_eq!(
            s.apply(doc(
                3,
                DocState::Full,
                vec![w("a", Active), w("b", Pending)]
            ))
            .unwrap(),
            Applied::Full
        );
        assert_eq!(
            s.apply(doc(
                4,
                DocState::Partial,
                vec![w("c", Pending), w("a", Terminated)]
            ))
            .unwrap(),
            Applied::Partial
        );
        assert_eq!(ids(&s), ["b", "c"]);
        assert_eq!(
            s.apply(doc(4, DocState::Partial, vec![w("d", Pending)]))
                .unwrap(),
            Applied::Stale
        );
        assert_eq!(
            s.apply(doc(2, DocState::Full, vec![])).unwrap(),
            Applied::Stale
        );
        let gap = s.apply(doc(6, DocState::Partial, vec![w("e", Pending)]));
        assert!(matches!(
            gap,
            Err(Error::WinfoOutOfOrder {
                last: Some(4),
                got: 6
            })
        ));
        assert_eq!(ids(&s), ["b", "c"], "a refused document changes nothing");
        assert_eq!(
            s.apply(doc(9, DocState::Full, vec![w("z", Active)]))
                .unwrap(),
            Applied::Full
        );
        assert_eq!(ids(&s), ["z"]);
        s.reset();
        assert_eq!(s.version(), None);
        assert_eq!(
            s.apply(doc(0, DocState::Full, vec![])).unwrap(),
            Applied::Full
        );
    }

    #[test]
    fn changes_report_new_changed_and_vanished_watchers() {
        use WatcherStatus::*;
        let mut s = WatcherInfoState::default();
        let (applied, c) = s
            .apply_changes(doc(
                0,
                DocState::Full,
                vec![w("a", Pending), w("b", Active), w("x", Terminated)],
            ))
            .unwrap();
        assert_eq!(applied, Applied::Full);
        let got: Vec<(&str, Option<WatcherStatus>, WatcherStatus)> = c
            .iter()
            .map(|c| (c.watcher.id.as_str(), c.previous, c.watcher.status))
            .collect();
        assert_eq!(got, [("a", None, Pending), ("b", None, Active)]);
        let (_, c) = s
            .apply_changes(doc(
                1,
                DocState::Partial,
                vec![w("a", Active), w("b", Active)],
            ))
            .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].watcher.id.as_str(), c[0].previous),
            ("a", Some(Pending))
        );
        // A refused or stale document reports nothing and changes nothing.
        assert!(
            s.apply_changes(doc(5, DocState::Partial, vec![w("c", Pending)]))
                .is_err()
        );
        let (applied, c) = s.apply_changes(doc(1, DocState::Full, vec![])).unwrap();
        assert_eq!((applied, c.len()), (Applied::Stale, 0));
        // Full state without b: b is reported terminated.
        let (_, c) = s
            .apply_changes(doc(7, DocState::Full, vec![w("a", Active)]))
            .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].watcher.id.as_str(), c[0].previous, c[0].watcher.status),
            ("b", Some(Active), Terminated)
        );
    }

    #[test]
    fn bad_tokens_and_missing_parts_are_errors() {
        let bad = format!(
            "<watcherinfo xmlns='{NS}' version='0' state='full'><watcher-list resource='r' package='p'>\n\
                           <watcher id='1' status='snoozing' event='subscribe'>sip:a@b</watcher></watcher-list></watcherinfo>"
        );
        let err = WatcherInfo::parse(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidValue { what: "watcher status", value, .. } if value == "snoozing"),
            "{err}"
        );
        assert_eq!(err.position().map(|p| p.line), Some(2));
        let bad = format!("<watcherinfo xmlns='{NS}' version='-1' state='full'/>");
        assert!(matches!(
            WatcherInfo::parse(bad.as_bytes()),
            Err(Error::InvalidValue { .. })
        ));
        let bad = format!("<watcherinfo xmlns='{NS}' state='full'/>");
        assert!(matches!(
            WatcherInfo::parse(bad.as_bytes()),
            Err(Error::Missing { .. })
        ));
        let bad = format!(
            "<watcherinfo xmlns='{NS}' version='1' state='full'><watcher-list resource='r' package='p'>\
                           <watcher id='1' status='active' event='approved'> </watcher></watcher-list></watcherinfo>"
        );
        assert!(matches!(
            WatcherInfo::parse(bad.as_bytes()),
            Err(Error::Missing { missing: "URI", .. })
        ));
    }
}
