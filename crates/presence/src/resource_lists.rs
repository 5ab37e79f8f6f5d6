//! Resource lists (RFC 4826): the buddy list as a `resource-lists` document, and the
//! `rls-services` entry that makes a resource list server watch it with one subscription
//! (RFC 4662).
//!
//! [`ResourceLists::from_buddies`] writes a [`BuddyList`] as three top-level lists:
//! [`BUDDIES_LIST`] (every buddy whose presence is subscribed: what the RLS service watches),
//! [`OTHER_LIST`] (buddies shown always online or offline, or polled) and [`GROUPS_LIST`] (one
//! nested list per group, holding its members). What RFC 4826 has no field for, a buddy's
//! subscription type and application data, rides in attributes of the [`NS_RTC`] namespace,
//! which the schema allows on entries and lists. [`ResourceLists::to_buddies`] reads it back.
//!
//! ```
//! use presence::resource_lists::{self, ResourceLists, RlsServices, BUDDIES_LIST};
//! use presence::{Buddy, BuddyList, Group};
//!
//! let mut buddies = BuddyList::default();
//! buddies.add_group(Group::new("Friends"));
//! let mut bob = Buddy::new("sip:bob@example.com", "Bob")?;
//! bob.groups.push("Friends".into());
//! buddies.add(bob)?;
//! let doc = ResourceLists::from_buddies(&buddies);
//! assert_eq!(ResourceLists::parse(doc.to_xml().as_bytes())?.to_buddies()?, buddies);
//!
//! let list = resource_lists::list_uri("https://xcap.example.com/xcap-root", "sip:alice@example.com", BUDDIES_LIST);
//! assert_eq!(list, "https://xcap.example.com/xcap-root/resource-lists/users/sip:alice@example.com/index/~~/resource-lists/list%5B@name=%22buddies%22%5D");
//! let rls = RlsServices::for_list("sip:alice-buddies@example.com", &list);
//! assert_eq!(RlsServices::parse(rls.to_xml().as_bytes())?, rls);
//! # Ok::<(), presence::Error>(())
//! ```

use crate::buddy::{Buddy, BuddyList, Group, SubscriptionType};
use crate::error::Result;
use crate::xml::{self, DoctypePolicy, Document, Element, XmlLimits};

/// The resource-lists namespace (RFC 4826 §3.2).
pub const NS: &str = "urn:ietf:params:xml:ns:resource-lists";
/// The resource-lists media type (RFC 4826 §3.1).
pub const CONTENT_TYPE: &str = "application/resource-lists+xml";
/// The resource-lists XCAP application usage (RFC 4826 §3.4.1).
pub const AUID: &str = "resource-lists";
/// The rls-services namespace (RFC 4826 §4.2).
pub const NS_RLS: &str = "urn:ietf:params:xml:ns:rls-services";
/// The rls-services media type (RFC 4826 §4.1).
pub const RLS_CONTENT_TYPE: &str = "application/rls-services+xml";
/// The rls-services XCAP application usage (RFC 4826 §4.4.1).
pub const RLS_AUID: &str = "rls-services";
/// This stack's namespace for buddy fields RFC 4826 has none for (`subscription`, `data`).
pub const NS_RTC: &str = "urn:x-rtc-sip:buddy";
/// The list of subscribed buddies, the one an RLS service watches.
pub const BUDDIES_LIST: &str = "buddies";
/// The list of buddies that are not subscribed to.
pub const OTHER_LIST: &str = "other";
/// The list holding one nested list per buddy group.
pub const GROUPS_LIST: &str = "groups";

/// A `resource-lists` document (RFC 4826 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceLists {
    /// The top-level lists.
    pub lists: Vec<List>,
}

/// A `<list>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct List {
    /// `name`, unique among its siblings (how XCAP addresses it).
    pub name: Option<String>,
    /// `<display-name>`.
    pub display_name: Option<String>,
    /// `rtc:data`: a group's application data.
    pub data: Option<String>,
    /// Its entries and nested lists, in document order.
    pub items: Vec<Item>,
}

/// What a list holds (RFC 4826 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// `<entry>`: a resource.
    Entry(Entry),
    /// `<entry-ref ref>`: an entry elsewhere in the user's documents, by relative XCAP URI.
    EntryRef {
        /// `ref`.
        reference: String,
        /// `<display-name>`.
        display_name: Option<String>,
    },
    /// `<external anchor>`: a list elsewhere, by absolute XCAP URI.
    External {
        /// `anchor`.
        anchor: String,
        /// `<display-name>`.
        display_name: Option<String>,
    },
    /// A nested `<list>`.
    List(List),
}

/// An `<entry>`: one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `uri`.
    pub uri: String,
    /// `<display-name>`.
    pub display_name: Option<String>,
    /// `rtc:subscription`: how a buddy's presence is obtained (absent: subscribed).
    pub subscription: Option<SubscriptionType>,
    /// `rtc:data`: a buddy's application data.
    pub data: Option<String>,
}

impl Entry {
    /// An entry with only a URI.
    pub fn new(uri: &str) -> Entry {
        Entry {
            uri: uri.to_owned(),
            display_name: None,
            subscription: None,
            data: None,
        }
    }
}

/// An `rls-services` document (RFC 4826 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RlsServices {
    /// The services.
    pub services: Vec<Service>,
}

/// A `<service>`: a SIP URI that an RLS answers for, with its list and event packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// `uri`: what the watcher subscribes to.
    pub uri: String,
    /// The resources behind it.
    pub list: ServiceList,
    /// `<packages>`: the event packages allowed (`presence`); empty when absent.
    pub packages: Vec<String>,
}

/// The resources of a [`Service`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceList {
    /// `<resource-list>`: an XCAP URI of a list in a resource-lists document.
    ResourceList(String),
    /// `<list>`: the list itself.
    List(List),
}

impl ResourceLists {
    /// Parses a resource-lists document with [`XmlLimits::lists`] (room for 10,000 buddies).
    pub fn parse(body: &[u8]) -> Result<ResourceLists> {
        ResourceLists::parse_with_limits(body, &XmlLimits::lists())
    }

    /// Parses a resource-lists document with explicit limits.
    pub fn parse_with_limits(body: &[u8], limits: &XmlLimits) -> Result<ResourceLists> {
        let doc = Document::parse(body, limits, DoctypePolicy::Refuse)?;
        doc.expect_root(NS, "resource-lists")?;
        let lists = doc
            .root
            .children_named(NS, "list")
            .map(|l| parse_list(&doc, l))
            .collect::<Result<_>>()?;
        Ok(ResourceLists { lists })
    }

    /// Writes the document; [`ResourceLists::parse`] gives back an equal value.
    pub fn to_xml(&self) -> String {
        xml::document(
            256 + 128 * self.lists.len(),
            "resource-lists",
            &[("xmlns", NS), ("xmlns:rtc", NS_RTC)],
            |out| {
                for l in &self.lists {
                    write_list(out, l);
                }
            },
        )
    }

    /// The top-level list called `name`.
    pub fn list(&self, name: &str) -> Option<&List> {
        self.lists.iter().find(|l| l.name.as_deref() == Some(name))
    }

    /// The buddy list as this module lays it out (see the module documentation).
    pub fn from_buddies(buddies: &BuddyList) -> ResourceLists {
        let entry = |b: &Buddy| Entry {
            uri: b.uri.to_string(),
            display_name: (!b.name.is_empty()).then(|| b.name.to_string()),
            subscription: (b.subscription != SubscriptionType::Subscribed)
                .then_some(b.subscription),
            data: (!b.data.is_empty()).then(|| b.data.to_string()),
        };
        let (watched, other): (Vec<&Buddy>, Vec<&Buddy>) = buddies
            .iter()
            .partition(|b| b.subscription == SubscriptionType::Subscribed);
        let flat = |name: &str, bs: Vec<&Buddy>| List {
            name: Some(name.to_owned()),
            items: bs.into_iter().map(|b| Item::Entry(entry(b))).collect(),
            ..List::default()
        };
        let groups = buddies
            .groups()
            .map(|g| List {
                name: Some(g.name.to_string()),
                display_name: Some(g.name.to_string()),
                data: (!g.data.is_empty()).then(|| g.data.to_string()),
                items: buddies
                    .in_group(&g.name)
                    .map(|b| Item::Entry(Entry::new(&b.uri)))
                    .collect(),
            })
            .map(Item::List)
            .collect();
        ResourceLists {
            lists: vec![
                flat(BUDDIES_LIST, watched),
                flat(OTHER_LIST, other),
                List {
                    name: Some(GROUPS_LIST.to_owned()),
                    items: groups,
                    ..List::default()
                },
            ],
        }
    }

    /// The buddy list this document holds, laid out as [`ResourceLists::from_buddies`] does:
    /// buddies from [`BUDDIES_LIST`] and [`OTHER_LIST`] (an entry without `rtc:subscription`
    /// is subscribed), groups from the nested lists of [`GROUPS_LIST`] (named by their
    /// display name, else their name). Group members that are no buddy are skipped. Fails on
    /// a buddy URI that does not parse.
    pub fn to_buddies(&self) -> Result<BuddyList> {
        let mut buddies = BuddyList::default();
        for name in [BUDDIES_LIST, OTHER_LIST] {
            for e in self.list(name).into_iter().flat_map(List::entries) {
                let mut b = Buddy::new(&e.uri, e.display_name.as_deref().unwrap_or(""))?;
                b.subscription = e.subscription.unwrap_or_default();
                b.data = e.data.as_deref().unwrap_or("").into();
                buddies.add(b)?;
            }
        }
        for item in self.list(GROUPS_LIST).map_or(&[][..], |l| &l.items) {
            let Item::List(g) = item else { continue };
            let Some(name) = g.display_name.as_ref().or(g.name.as_ref()) else {
                continue;
            };
            buddies.add_group(Group {
                name: name.as_str().into(),
                data: g.data.as_deref().unwrap_or("").into(),
            });
            for e in g.entries() {
                if let Some(b) = buddies.get_mut(&e.uri)
                    && !b.groups.iter().any(|x| **x == **name)
                {
                    b.groups.push(name.as_str().into());
                }
            }
        }
        Ok(buddies)
    }
}

impl List {
    /// Its `<entry>` items (not those of nested lists).
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.items.iter().filter_map(|i| match i {
            Item::Entry(e) => Some(e),
            _ => None,
        })
    }
}

impl RlsServices {
    /// One service, `service_uri`, watching the presence of the resource list at
    /// `resource_list` (an XCAP URI such as [`list_uri`] builds).
    pub fn for_list(service_uri: &str, resource_list: &str) -> RlsServices {
        RlsServices {
            services: vec![Service {
                uri: service_uri.to_owned(),
                list: ServiceList::ResourceList(resource_list.to_owned()),
                packages: vec!["presence".to_owned()],
            }],
        }
    }

    /// Parses an rls-services document with [`XmlLimits::lists`].
    pub fn parse(body: &[u8]) -> Result<RlsServices> {
        RlsServices::parse_with_limits(body, &XmlLimits::lists())
    }

    /// Parses an rls-services document with explicit limits.
    pub fn parse_with_limits(body: &[u8], limits: &XmlLimits) -> Result<RlsServices> {
        let doc = Document::parse(body, limits, DoctypePolicy::Refuse)?;
        doc.expect_root(NS_RLS, "rls-services")?;
        let mut services = Vec::new();
        for s in doc.root.children_named(NS_RLS, "service") {
            let uri = doc.required_attr(s, "service", "uri", "uri attribute")?;
            let list = if let Some(r) = s.child(NS_RLS, "resource-list") {
                ServiceList::ResourceList(r.trimmed_text().to_owned())
            } else if let Some(l) = s.child(NS_RLS, "list") {
                ServiceList::List(parse_list(&doc, l)?)
            } else {
                return Err(doc.missing(s, "service", "<resource-list> or <list>"));
            };
            let packages = s
                .child(NS_RLS, "packages")
                .map(|p| {
                    p.children_named(NS_RLS, "package")
                        .map(|p| p.trimmed_text().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            services.push(Service {
                uri: xml::trim_xml(&uri.value).to_owned(),
                list,
                packages,
            });
        }
        Ok(RlsServices { services })
    }

    /// Writes the document; [`RlsServices::parse`] gives back an equal value.
    pub fn to_xml(&self) -> String {
        xml::document(
            512,
            "rls-services",
            &[("xmlns", NS_RLS), ("xmlns:rl", NS), ("xmlns:rtc", NS_RTC)],
            |out| {
                for s in &self.services {
                    write_service(out, s);
                }
            },
        )
    }
}

fn write_service(out: &mut String, s: &Service) {
    out.push_str("<service");
    xml::push_attribute(out, "uri", &s.uri);
    out.push_str(">\n");
    match &s.list {
        ServiceList::ResourceList(uri) => {
            xml::push_text_element(out, "resource-list", uri);
        }
        // The list element is rls-services' own, its content resource-lists'.
        ServiceList::List(l) => write_list_as(out, l, "list", "rl:"),
    }
    if !s.packages.is_empty() {
        out.push_str("\n<packages>");
        for p in &s.packages {
            xml::push_text_element(out, "package", p);
        }
        out.push_str("</packages>");
    }
    out.push_str("\n</service>\n");
}

/// The XCAP URI of the user's document `index` of application usage `auid` (RFC 4825 §6.2:
/// `{root}/{auid}/users/{xui}/index`), e.g. `resource_lists::AUID` or `rules::AUID`.
/// Characters not allowed in a path segment are percent-encoded; `:` and `@` are kept, so
/// `sip:alice@example.com` appears as written.
///
/// ```
/// use presence::resource_lists::document_uri;
/// assert_eq!(document_uri("https://x.example.com/xcap-root/", "pres-rules", "sip:alice@example.com"),
///     "https://x.example.com/xcap-root/pres-rules/users/sip:alice@example.com/index");
/// ```
pub fn document_uri(xcap_root: &str, auid: &str, xui: &str) -> String {
    let mut out = String::with_capacity(xcap_root.len() + auid.len() + xui.len() + 16);
    out.push_str(xcap_root.trim_end_matches('/'));
    out.push('/');
    push_segment(&mut out, auid);
    out.push_str("/users/");
    push_segment(&mut out, xui);
    out.push_str("/index");
    out
}

/// The XCAP URI of the top-level list `name` in the user's resource-lists document
/// ([`document_uri`], `~~`, node selector, RFC 4825 §6), as an `rls-services`
/// `<resource-list>` names it. The selector's brackets and quotes are percent-encoded.
/// Kamailio's `rls` un-escapes this URI and compares its document part with the path the
/// document was PUT at, so PUT it at [`document_uri`]'s URI with the same root and XUI.
pub fn list_uri(xcap_root: &str, xui: &str, name: &str) -> String {
    let mut out = document_uri(xcap_root, AUID, xui);
    out.push_str("/~~/resource-lists/list%5B@name=%22");
    push_segment(&mut out, name);
    out.push_str("%22%5D");
    out
}

/// Appends `s` percent-encoded as a path segment (RFC 3986 `pchar` kept, except `"`, `[`,
/// `]`, `/`, `?`, `#`, `%`).
fn push_segment(out: &mut String, s: &str) {
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
            );
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// Parses a `<list>` (of either namespace's children: a list inside rls-services is in the
/// resource-lists namespace). Recursion is bounded by the parse's depth limit.
fn parse_list(doc: &Document<'_>, el: &Element) -> Result<List> {
    let mut list = List {
        name: el.attr("name").map(|a| a.value.to_string()),
        data: el.attr_ns(NS_RTC, "data").map(|a| a.value.to_string()),
        ..List::default()
    };
    for child in &el.children {
        if child.ns.as_ref() != NS {
            continue;
        }
        match child.name.as_ref() {
            "display-name" => list.display_name = Some(child.text.clone()),
            "entry" => {
                let uri = doc.required_attr(child, "entry", "uri", "uri attribute")?;
                let subscription = match child.attr_ns(NS_RTC, "subscription") {
                    Some(a) => Some(
                        SubscriptionType::from_token(xml::trim_xml(&a.value))
                            .ok_or_else(|| doc.invalid("subscription type", &a.value, a.at))?,
                    ),
                    None => None,
                };
                list.items.push(Item::Entry(Entry {
                    uri: xml::trim_xml(&uri.value).to_owned(),
                    display_name: display_name(child),
                    subscription,
                    data: child.attr_ns(NS_RTC, "data").map(|a| a.value.to_string()),
                }));
            }
            "entry-ref" => {
                let r = doc.required_attr(child, "entry-ref", "ref", "ref attribute")?;
                list.items.push(Item::EntryRef {
                    reference: xml::trim_xml(&r.value).to_owned(),
                    display_name: display_name(child),
                });
            }
            "external" => {
                let a = doc.required_attr(child, "external", "anchor", "anchor attribute")?;
                list.items.push(Item::External {
                    anchor: xml::trim_xml(&a.value).to_owned(),
                    display_name: display_name(child),
                });
            }
            "list" => list.items.push(Item::List(parse_list(doc, child)?)),
            _ => {}
        }
    }
    Ok(list)
}

fn display_name(el: &Element) -> Option<String> {
    el.child(NS, "display-name").map(|d| d.text.clone())
}

fn write_list(out: &mut String, l: &List) {
    write_list_as(out, l, "list", "");
}

/// Writes `l` as `<{tag}>`, its children with `prefix`.
fn write_list_as(out: &mut String, l: &List, tag: &str, prefix: &str) {
    out.push('<');
    out.push_str(tag);
    if let Some(n) = &l.name {
        xml::push_attribute(out, "name", n);
    }
    if let Some(d) = &l.data {
        xml::push_attribute(out, "rtc:data", d);
    }
    out.push_str(">\n");
    let dn = format!("{prefix}display-name");
    if let Some(d) = &l.display_name {
        xml::push_text_element(out, &dn, d);
        out.push('\n');
    }
    for item in &l.items {
        let (tag, attr, value, name) = match item {
            Item::Entry(e) => ("entry", "uri", &e.uri, &e.display_name),
            Item::EntryRef {
                reference,
                display_name,
            } => ("entry-ref", "ref", reference, display_name),
            Item::External {
                anchor,
                display_name,
            } => ("external", "anchor", anchor, display_name),
            Item::List(nested) => {
                write_list_as(out, nested, &format!("{prefix}list"), prefix);
                continue;
            }
        };
        out.push('<');
        out.push_str(prefix);
        out.push_str(tag);
        xml::push_attribute(out, attr, value);
        if let Item::Entry(e) = item {
            if let Some(s) = e.subscription {
                xml::push_attribute(out, "rtc:subscription", s.as_str());
            }
            if let Some(d) = &e.data {
                xml::push_attribute(out, "rtc:data", d);
            }
        }
        match name {
            Some(n) => {
                out.push('>');
                xml::push_text_element(out, &dn, n);
                out.push_str(&format!("</{prefix}{tag}>\n"));
            }
            None => out.push_str("/>\n"),
        }
    }
    out.push_str(&format!("</{tag}>\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn rfc4826_resource_lists_example_parses() {
        let doc = ResourceLists::parse(&fixture("rfc4826-resource-lists.xml")).unwrap();
        let friends = doc.list("friends").unwrap();
        assert_eq!(friends.items.len(), 3);
        let bill = friends.entries().next().unwrap();
        assert_eq!(
            (bill.uri.as_str(), bill.display_name.as_deref()),
            ("sip:bill@example.com", Some("Bill Doe"))
        );
        assert!(
            matches!(&friends.items[1], Item::EntryRef { reference, .. } if reference.contains("petri"))
        );
        let Item::List(close) = &friends.items[2] else {
            panic!("{:?}", friends.items[2])
        };
        assert_eq!(close.display_name.as_deref(), Some("Close Friends"));
        assert_eq!(close.entries().count(), 2);
        assert!(
            matches!(&close.items[2], Item::External { display_name: Some(d), .. } if d == "Marketing")
        );
        assert_eq!(ResourceLists::parse(doc.to_xml().as_bytes()).unwrap(), doc);
    }

    #[test]
    fn rfc4826_rls_services_example_parses() {
        let doc = RlsServices::parse(&fixture("rfc4826-rls-services.xml")).unwrap();
        assert_eq!(doc.services.len(), 2);
        let s = &doc.services[0];
        assert_eq!(s.uri, "sip:mybuddies@example.com");
        assert!(
            matches!(&s.list, ServiceList::ResourceList(u) if u.ends_with("list%5b@name=%22l1%22%5d"))
        );
        assert_eq!(s.packages, ["presence"]);
        let ServiceList::List(l) = &doc.services[1].list else {
            panic!()
        };
        assert_eq!(l.name.as_deref(), Some("marketing"));
        assert_eq!(l.entries().count(), 2);
        let xml = doc.to_xml();
        assert!(xml.contains("<list name=\"marketing\">"), "{xml}");
        assert_eq!(RlsServices::parse(xml.as_bytes()).unwrap(), doc);
    }

    #[test]
    fn buddy_lists_round_trip_with_groups_types_and_data() {
        let mut buddies = BuddyList::default();
        buddies.add_group(Group::new("Work"));
        buddies.add_group(Group {
            name: "Family & \"close\"".into(),
            data: "color=red".into(),
        });
        let mut bob = Buddy::new("sip:bob@example.com", "Bob <B>").unwrap();
        bob.groups = vec!["Work".into(), "Family & \"close\"".into()];
        bob.data = "x\ny".into();
        buddies.add(bob).unwrap();
        let mut carol = Buddy::new("tel:+12015550123", "").unwrap();
        carol.subscription = SubscriptionType::Poll;
        carol.groups = vec!["Work".into()];
        buddies.add(carol).unwrap();
        let doc = ResourceLists::from_buddies(&buddies);
        let watched: Vec<&str> = doc
            .list(BUDDIES_LIST)
            .unwrap()
            .entries()
            .map(|e| e.uri.as_str())
            .collect();
        assert_eq!(
            watched,
            ["sip:bob@example.com"],
            "only subscribed buddies are watched"
        );
        let xml = doc.to_xml();
        let back = ResourceLists::parse(xml.as_bytes()).unwrap();
        assert_eq!(back, doc);
        assert_eq!(back.to_buddies().unwrap(), buddies);
    }

    #[test]
    fn errors_say_where() {
        let err = ResourceLists::parse(
            b"<resource-lists xmlns='urn:ietf:params:xml:ns:resource-lists'>\n<list><entry/></list></resource-lists>",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("<entry> has no uri attribute"),
            "{err}"
        );
        assert_eq!(err.position().map(|p| (p.line, p.column)), Some((2, 7)));
        let err = RlsServices::parse(
            b"<rls-services xmlns='urn:ietf:params:xml:ns:rls-services'><service uri='sip:a@b'/></rls-services>",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("<resource-list> or <list>"),
            "{err}"
        );
    }

    #[test]
    fn list_uri_escapes_the_node_selector() {
        assert_eq!(
            list_uri("http://x/root/", "sip:a@b", "my \"list\"/1"),
            "http://x/root/resource-lists/users/sip:a@b/index/~~/resource-lists/list%5B@name=%22my%20%22list%22%2F1%22%5D"
        );
    }
}
