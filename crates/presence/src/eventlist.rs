//! Watching a resource list with one subscription (RFC 4662): the NOTIFY bodies
//! ([`ListNotify`]: `multipart/related` with an RLMI root and one part per resource state)
//! and the state they build up ([`ListState`]), applied in version order.
//!
//! A full-state notification replaces everything (resources it no longer lists are
//! reported [`ResourceState::Removed`]); a partial one must carry the next version, else
//! [`Error::ListOutOfOrder`] says a notification was missed and the subscription should be
//! refreshed, which brings full state (RFC 4662 §5.3). Each listed resource yields a
//! [`ResourceUpdate`] with its subscription state and, when its part is a PIDF or XPIDF
//! document, the presence it carries. Nested lists (an instance whose part is itself
//! `multipart/related`) give no presence; RLS servers such as Kamailio's flatten them.
//!
//! Kamailio's `rls` with `max_notify_body_length` set splits a full state into a
//! `fullState="true"` NOTIFY followed by partial ones: on a refresh, resources of the later
//! NOTIFYs are reported [`ResourceState::Removed`] and then back. Without that parameter (the
//! default) a full state comes whole.
//!
//! ```
//! use bytes::Bytes;
//! use presence::eventlist::{ListNotify, ListState, ResourceState};
//! use presence::multipart::{Multipart, Part};
//! use presence::rlmi::{Instance, InstanceState, Resource, Rlmi};
//! use presence::{Status, winfo::Applied};
//!
//! let rlmi = Rlmi {
//!     uri: "sip:alice-buddies@example.com".into(),
//!     version: 0,
//!     full_state: true,
//!     resources: vec![Resource {
//!         uri: "sip:bob@example.com".into(),
//!         instances: vec![Instance { id: "i1".into(), state: InstanceState::Active, reason: None, cid: Some("b1@x".into()) }],
//!         ..Resource::default()
//!     }],
//!     ..Rlmi::default()
//! };
//! let pidf = r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:bob@example.com"><tuple id="t"><status><basic>open</basic></status></tuple></presence>"#;
//! let body = Multipart::new("zz", Some("application/rlmi+xml"), Some("<r@x>"), vec![
//!     Part { headers: vec![("Content-ID".into(), "<r@x>".into()), ("Content-Type".into(), "application/rlmi+xml".into())], body: Bytes::from(rlmi.to_xml()) },
//!     Part { headers: vec![("Content-ID".into(), "<b1@x>".into()), ("Content-Type".into(), "application/pidf+xml".into())], body: Bytes::from(pidf) },
//! ]);
//! let notify = ListNotify::parse(&body.content_type(), body.to_bytes())?;
//! let mut state = ListState::default();
//! let update = state.apply(&notify)?;
//! assert_eq!(update.applied, Applied::Full);
//! assert_eq!(update.resources[0].state, ResourceState::Active);
//! assert_eq!(update.resources[0].presence.as_ref().map(|p| p.status), Some(Status::Online));
//! # Ok::<(), presence::Error>(())
//! ```

use std::collections::HashMap;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::multipart::{Multipart, MultipartLimits};
use crate::rlmi::{self, InstanceState, Rlmi};
use crate::status::{RemotePresence, parse_body};
use crate::winfo::Applied;
use crate::xml::XmlLimits;

/// The `Supported`/`Require` option tag of RFC 4662 subscriptions.
pub const OPTION_TAG: &str = "eventlist";

/// A parsed list NOTIFY body: the RLMI document and the parts it points into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListNotify {
    /// The root RLMI document.
    pub rlmi: Rlmi,
    /// The whole body, for the parts by Content-ID.
    pub body: Multipart,
}

impl ListNotify {
    /// Parses a NOTIFY body of Content-Type `content_type` with the default limits
    /// ([`MultipartLimits::default`], [`rlmi::LIMITS`]).
    pub fn parse(content_type: &str, body: Bytes) -> Result<ListNotify> {
        ListNotify::parse_with_limits(
            content_type,
            body,
            &MultipartLimits::default(),
            &rlmi::LIMITS,
        )
    }

    /// Parses with explicit limits. The body must be `multipart/related` with an RLMI root
    /// part (RFC 4662 §5.1).
    pub fn parse_with_limits(
        content_type: &str,
        body: Bytes,
        limits: &MultipartLimits,
        xml: &XmlLimits,
    ) -> Result<ListNotify> {
        let body = Multipart::parse_with_limits(content_type, body, limits)?;
        let root = body.root().ok_or_else(|| Error::Multipart {
            message: "no root part (start names no Content-ID)".to_owned(),
            at: 0,
        })?;
        let is_rlmi = body
            .root_type()
            .and_then(|t| t.split(';').next())
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(rlmi::CONTENT_TYPE));
        if !is_rlmi {
            return Err(Error::UnsupportedContentType(
                body.root_type().unwrap_or("").chars().take(128).collect(),
            ));
        }
        let rlmi = Rlmi::parse_with_limits(&root.body, xml)?;
        Ok(ListNotify { rlmi, body })
    }
}

/// The subscription state of one resource of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceState {
    /// Subscribed, no state yet or waiting for authorization.
    Pending,
    /// Subscribed; its presence is known.
    Active,
    /// Its subscription ended (`rejected`, `noresource`, `deactivated`, …).
    Terminated {
        /// The reason given.
        reason: Option<Box<str>>,
    },
    /// A full-state notification no longer lists it.
    Removed,
}

/// What a notification said about one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceUpdate {
    /// The resource URI.
    pub uri: String,
    /// Its name in the list, if given.
    pub name: Option<String>,
    /// Its subscription state: the best of its instances (active, else pending, else
    /// terminated; no instance yet is pending).
    pub state: ResourceState,
    /// The presence in the part of the first active instance whose part is a PIDF or XPIDF
    /// document that parses; `None` when there is none (the previous presence stands).
    pub presence: Option<RemotePresence>,
}

/// What [`ListState::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUpdate {
    /// Full, partial, or stale (an old or repeated version: nothing changed).
    pub applied: Applied,
    /// One update per resource listed, then one per resource removed by full state.
    pub resources: Vec<ResourceUpdate>,
}

/// Most resources a [`ListState`] holds by default: well over the 10,000 buddies of a large
/// list, and a bound on what partial notifications can add, one after another.
pub const DEFAULT_MAX_RESOURCES: usize = 100_000;

/// The state of a list subscription, built from notifications applied in version order.
/// About 100 bytes per resource plus its URI and name, and at most
/// [`DEFAULT_MAX_RESOURCES`] (or [`ListState::with_max_resources`]) of them: each
/// notification is bounded by its parser's limits, but partial ones could otherwise add new
/// resources for ever.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListState {
    version: Option<u32>,
    resources: HashMap<Box<str>, Known>,
    max_resources: usize,
}

impl Default for ListState {
    fn default() -> Self {
        ListState::with_max_resources(DEFAULT_MAX_RESOURCES)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    name: Option<Box<str>>,
    state: ResourceState,
}

impl ListState {
    /// An empty state that holds at most `max` resources.
    ///
    /// ```
    /// let state = presence::eventlist::ListState::with_max_resources(1_000);
    /// assert!(state.is_empty());
    /// ```
    pub fn with_max_resources(max: usize) -> Self {
        ListState {
            version: None,
            resources: HashMap::new(),
            max_resources: max,
        }
    }

    /// Applies a notification (see the module documentation). A partial notification out
    /// of order is refused with [`Error::ListOutOfOrder`], and one that would take the state
    /// past its most resources with [`Error::ListTooLarge`]; either leaves the state as it was.
    pub fn apply(&mut self, notify: &ListNotify) -> Result<ListUpdate> {
        let doc = &notify.rlmi;
        if self.version.is_some_and(|last| doc.version <= last) {
            return Ok(ListUpdate {
                applied: Applied::Stale,
                resources: Vec::new(),
            });
        }
        if !doc.full_state && self.version.and_then(|v| v.checked_add(1)) != Some(doc.version) {
            return Err(Error::ListOutOfOrder {
                last: self.version,
                got: doc.version,
            });
        }
        let resources = if doc.full_state {
            let listed: std::collections::HashSet<&str> =
                doc.resources.iter().map(|r| r.uri.as_str()).collect();
            listed.len()
        } else {
            let new: std::collections::HashSet<&str> = doc
                .resources
                .iter()
                .map(|r| r.uri.as_str())
                .filter(|uri| !self.resources.contains_key(*uri))
                .collect();
            self.resources.len() + new.len()
        };
        if resources > self.max_resources {
            return Err(Error::ListTooLarge {
                resources,
                max: self.max_resources,
            });
        }
        let mut updates: Vec<ResourceUpdate> = doc
            .resources
            .iter()
            .map(|r| resource_update(r, &notify.body))
            .collect();
        if doc.full_state {
            let listed: std::collections::HashSet<&str> =
                doc.resources.iter().map(|r| r.uri.as_str()).collect();
            let mut gone: Vec<ResourceUpdate> = self
                .resources
                .iter()
                .filter(|(uri, _)| !listed.contains(&***uri))
                .map(|(uri, k)| ResourceUpdate {
                    uri: uri.to_string(),
                    name: k.name.as_deref().map(str::to_owned),
                    state: ResourceState::Removed,
                    presence: None,
                })
                .collect();
            gone.sort_by(|a, b| a.uri.cmp(&b.uri));
            self.resources.clear();
            self.record(&updates);
            updates.extend(gone);
        } else {
            self.record(&updates);
        }
        self.version = Some(doc.version);
        Ok(ListUpdate {
            applied: if doc.full_state {
                Applied::Full
            } else {
                Applied::Partial
            },
            resources: updates,
        })
    }

    fn record(&mut self, updates: &[ResourceUpdate]) {
        for u in updates {
            self.resources.insert(
                u.uri.as_str().into(),
                Known {
                    name: u.name.as_deref().map(Box::from),
                    state: u.state.clone(),
                },
            );
        }
    }

    /// Forgets everything: call when a new list subscription starts, since versions restart
    /// at 0 with each (RFC 4662 §5.2).
    pub fn reset(&mut self) {
        *self = ListState::with_max_resources(self.max_resources);
    }

    /// The last version applied.
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// The state of the resource `uri` (as the list writes it).
    pub fn state(&self, uri: &str) -> Option<&ResourceState> {
        self.resources.get(uri).map(|k| &k.state)
    }

    /// Every known resource with its state, in no particular order.
    pub fn resources(&self) -> impl Iterator<Item = (&str, &ResourceState)> {
        self.resources.iter().map(|(u, k)| (&**u, &k.state))
    }

    /// Number of known resources.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// Whether no resource is known.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }
}

fn resource_update(r: &rlmi::Resource, body: &Multipart) -> ResourceUpdate {
    let best = r.instances.iter().map(|i| i.state).max();
    let state = match best {
        Some(InstanceState::Active) => ResourceState::Active,
        Some(InstanceState::Pending) | None => ResourceState::Pending,
        Some(InstanceState::Terminated) => ResourceState::Terminated {
            reason: r
                .instances
                .iter()
                .find_map(|i| i.reason.as_deref())
                .map(Box::from),
        },
    };
    let presence = r
        .instances
        .iter()
        .filter(|i| i.state == InstanceState::Active)
        .filter_map(|i| body.by_content_id(i.cid.as_deref()?))
        .find_map(|part| {
            let ct = part.content_type()?;
            match parse_body(ct, &part.body) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::debug!(resource = %r.uri, error = %e, "unusable state part in list NOTIFY");
                    None
                }
            }
        });
    ResourceUpdate {
        uri: r.uri.clone(),
        name: r.name().map(str::to_owned),
        state,
        presence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;
    use crate::multipart::Part;
    use crate::rlmi::{Instance, Resource};

    const CT: &str = "multipart/related;type=\"application/rlmi+xml\";start=\"<nXYxAE@pres.vancouver.example.com>\";boundary=\"50UBfW7LSCVLtggUPytvnk\"";

    fn fixture() -> Bytes {
        let path = format!(
            "{}/tests/fixtures/rfc4662-notify.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        Bytes::from(std::fs::read(&path).unwrap())
    }

    fn instance(
        id: &str,
        state: InstanceState,
        reason: Option<&str>,
        cid: Option<&str>,
    ) -> Instance {
        Instance {
            id: id.into(),
            state,
            reason: reason.map(Into::into),
            cid: cid.map(Into::into),
        }
    }

    /// A list NOTIFY of `version` with `resources`, and an open PIDF part for every cid.
    fn notify(version: u32, full: bool, resources: Vec<Resource>) -> ListNotify {
        let rlmi = Rlmi {
            uri: "sip:adam-friends@pres.vancouver.example.com".into(),
            version,
            full_state: full,
            resources,
            ..Rlmi::default()
        };
        let mut parts = vec![Part {
            headers: vec![
                ("Content-Type".into(), "application/rlmi+xml".into()),
                ("Content-ID".into(), "<root@x>".into()),
            ],
            body: Bytes::from(rlmi.to_xml()),
        }];
        for r in &rlmi.resources {
            for cid in r.instances.iter().filter_map(|i| i.cid.as_ref()) {
                let pidf = format!(
                    r#"<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="{}"><tuple id="t"><status><basic>open</basic></status></tuple></presence>"#,
                    r.uri
                );
                parts.push(Part {
                    headers: vec![
                        ("Content-Type".into(), "application/pidf+xml".into()),
                        ("Content-ID".into(), format!("<{cid}>")),
                    ],
                    body: Bytes::from(pidf),
                });
            }
        }
        let m = Multipart::new("bnd", Some(rlmi::CONTENT_TYPE), Some("<root@x>"), parts);
        ListNotify::parse(&m.content_type(), m.to_bytes()).unwrap()
    }

    fn res(uri: &str, instances: Vec<Instance>) -> Resource {
        Resource {
            uri: uri.into(),
            instances,
            ..Resource::default()
        }
    }

    #[test]
    fn rfc4662_full_state_gives_every_resource_its_state_and_presence() {
        let n = ListNotify::parse(CT, fixture()).unwrap();
        let mut state = ListState::default();
        let u = state.apply(&n).unwrap();
        assert_eq!(u.applied, Applied::Full);
        let by_uri: HashMap<&str, &ResourceUpdate> =
            u.resources.iter().map(|r| (r.uri.as_str(), r)).collect();
        let bob = by_uri["sip:bob@vancouver.example.com"];
        assert_eq!(bob.name.as_deref(), Some("Bob Smith"));
        assert_eq!(bob.state, ResourceState::Active);
        assert_eq!(
            bob.presence.as_ref().map(|p| p.status),
            Some(Status::Online)
        );
        let dave = by_uri["sip:dave@vancouver.example.com"];
        assert_eq!(
            dave.presence.as_ref().map(|p| p.status),
            Some(Status::Offline)
        );
        let ed = by_uri["sip:ed@dallas.example.net"];
        assert_eq!((&ed.state, &ed.presence), (&ResourceState::Pending, &None));
        assert_eq!(state.len(), 4);
        assert_eq!(state.version(), Some(1));
    }

    #[test]
    fn partial_notifications_cannot_grow_the_state_past_its_bound() {
        use InstanceState::*;
        let mut s = ListState::with_max_resources(3);
        let r = |i: u32| {
            res(
                &format!("sip:u{i}@x"),
                vec![instance("1", Pending, None, None)],
            )
        };
        s.apply(&notify(0, true, vec![r(0), r(1)])).unwrap();
        // A known resource again and one new one: three, within the bound.
        s.apply(&notify(1, false, vec![r(1), r(2)])).unwrap();
        // One more would be four: refused, and the state stays as it was.
        let e = s.apply(&notify(2, false, vec![r(3)])).unwrap_err();
        assert!(
            matches!(
                e,
                Error::ListTooLarge {
                    resources: 4,
                    max: 3
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("more than the 3 allowed"), "{e}");
        assert_eq!((s.len(), s.version()), (3, Some(1)));
        // A full state over the bound is refused too; one within it replaces the rest.
        let big = (0..4).map(r).collect();
        assert!(matches!(
            s.apply(&notify(3, true, big)),
            Err(Error::ListTooLarge { resources: 4, .. })
        ));
        s.apply(&notify(3, true, vec![r(7)])).unwrap();
        assert_eq!(s.len(), 1);
        // A new subscription keeps the bound.
        s.reset();
        assert!(s.apply(&notify(0, true, (0..4).map(r).collect())).is_err());
        assert_eq!(ListState::default().max_resources, DEFAULT_MAX_RESOURCES);
    }

    #[test]
    fn partial_state_applies_in_order_and_a_gap_asks_for_a_refresh() {
        use InstanceState::*;
        let mut s = ListState::default();
        let early = s.apply(&notify(0, false, vec![]));
        assert!(matches!(
            early,
            Err(Error::ListOutOfOrder { last: None, got: 0 })
        ));
        s.apply(&notify(
            0,
            true,
            vec![
                res("sip:a@x", vec![instance("1", Pending, None, None)]),
                res("sip:b@x", vec![instance("2", Active, None, Some("b@c"))]),
            ],
        ))
        .unwrap();
        let u = s
            .apply(&notify(
                1,
                false,
                vec![res(
                    "sip:a@x",
                    vec![instance("1", Terminated, Some("rejected"), None)],
                )],
            ))
            .unwrap();
        assert_eq!(u.applied, Applied::Partial);
        assert_eq!(
            u.resources[0].state,
            ResourceState::Terminated {
                reason: Some("rejected".into())
            }
        );
        assert_eq!(
            s.state("sip:b@x"),
            Some(&ResourceState::Active),
            "untouched"
        );
        let stale = s.apply(&notify(1, false, vec![])).unwrap();
        assert_eq!((stale.applied, stale.resources.len()), (Applied::Stale, 0));
        let before = s.clone();
        let gap = s.apply(&notify(3, false, vec![res("sip:c@x", vec![])]));
        assert!(matches!(
            gap,
            Err(Error::ListOutOfOrder {
                last: Some(1),
                got: 3
            })
        ));
        assert_eq!(s, before, "a refused notification changes nothing");
        // The refresh brings full state; what it no longer lists is removed.
        let u = s
            .apply(&notify(
                4,
                true,
                vec![res(
                    "sip:b@x",
                    vec![instance("2", Active, None, Some("b@c"))],
                )],
            ))
            .unwrap();
        assert_eq!(u.resources.len(), 2);
        assert_eq!(u.resources[1].uri, "sip:a@x");
        assert_eq!(u.resources[1].state, ResourceState::Removed);
        assert_eq!(s.len(), 1);
        s.reset();
        assert_eq!(s.version(), None);
    }

    #[test]
    fn the_best_instance_decides_and_bad_parts_give_no_presence() {
        use InstanceState::*;
        let mut s = ListState::default();
        let mut n = notify(
            0,
            true,
            vec![res(
                "sip:a@x",
                vec![
                    instance("1", Terminated, Some("timeout"), None),
                    instance("2", Active, None, Some("missing@x")),
                ],
            )],
        );
        // Point the active instance at a part that is not there.
        n.rlmi.resources[0].instances[1].cid = Some("nowhere@x".into());
        let u = s.apply(&n).unwrap();
        assert_eq!(u.resources[0].state, ResourceState::Active);
        assert_eq!(u.resources[0].presence, None);
    }

    /// Laid out as Kamailio's `rls` writes it (`notify.c`: `agg_body_sendn_update`,
    /// `constr_multipart_body`): no `start` parameter, an extra CRLF after each part.
    #[test]
    fn a_kamailio_style_body_reads() {
        let rlmi = r#"<?xml version="1.0" encoding="UTF-8"?>
<list xmlns="urn:ietf:params:xml:ns:rlmi" uri="sip:alice-buddies@example.com" version="1" fullState="true"><resource uri="sip:bob@example.com"><instance id="Scf8UhwQ" state="active" cid="1765123456.sip:bob@example.com.1234"/></resource><resource uri="sip:carol@example.com"><instance id="Scf8UhwQ" state="pending"/></resource></list>
"#;
        let pidf = r#"<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:bob@example.com"><tuple id="t"><status><basic>open</basic></status></tuple></presence>"#;
        let body = format!(
            "--QoAvcVQX\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <1765123456.sip:alice-buddies@example.com.99>\r\n\
             Content-Type: application/rlmi+xml;charset=\"UTF-8\"\r\n\r\n{rlmi}\r\n\
             --QoAvcVQX\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <1765123456.sip:bob@example.com.1234>\r\n\
             Content-Type: application/pidf+xml\r\n\r\n{pidf}\r\n\r\n--QoAvcVQX--\r\n"
        );
        let ct = "multipart/related;type=\"application/rlmi+xml\";boundary=QoAvcVQX";
        let n = ListNotify::parse(ct, Bytes::from(body)).unwrap();
        let mut s = ListState::default();
        let u = s.apply(&n).unwrap();
        assert_eq!(u.resources.len(), 2);
        assert_eq!(
            u.resources[0].presence.as_ref().map(|p| p.status),
            Some(Status::Online)
        );
        assert_eq!(u.resources[1].state, ResourceState::Pending);
    }

    #[test]
    fn a_body_without_an_rlmi_root_is_refused() {
        let m = Multipart::new(
            "b",
            Some("application/pidf+xml"),
            None,
            vec![Part {
                headers: vec![],
                body: Bytes::from_static(b"<x/>"),
            }],
        );
        assert!(matches!(
            ListNotify::parse(&m.content_type(), m.to_bytes()),
            Err(Error::UnsupportedContentType(_))
        ));
        let m = Multipart::new("b", None, Some("<gone@x>"), m.parts);
        assert!(matches!(
            ListNotify::parse(&m.content_type(), m.to_bytes()),
            Err(Error::Multipart { .. })
        ));
    }
}
