//! Resource List Meta-Information (RFC 4662 §5): the root part of a list notification, naming
//! the list's resources and the state of the subscription to each.
//!
//! ```
//! use presence::rlmi::{InstanceState, Rlmi};
//!
//! let doc = br#"<list xmlns="urn:ietf:params:xml:ns:rlmi" uri="sip:adam-friends@pres.example.com"
//!     version="1" fullState="true">
//!   <resource uri="sip:bob@example.com"><name>Bob Smith</name>
//!     <instance id="juwigmtboe" state="active" cid="bUZBsM@pres.example.com"/></resource>
//!   <resource uri="sip:dave@example.com">
//!     <instance id="hqzsuxtfyq" state="terminated" reason="rejected"/></resource>
//! </list>"#;
//! let rlmi = Rlmi::parse(doc)?;
//! assert_eq!((rlmi.version, rlmi.full_state), (1, true));
//! assert_eq!(rlmi.resources[0].instances[0].cid.as_deref(), Some("bUZBsM@pres.example.com"));
//! assert_eq!(rlmi.resources[1].instances[0].state, InstanceState::Terminated);
//! assert_eq!(Rlmi::parse(rlmi.to_xml().as_bytes())?, rlmi);
//! # Ok::<(), presence::Error>(())
//! ```

use crate::error::Result;
use crate::xml::{self, DoctypePolicy, Document, Element, NS_XML, XmlLimits};

/// The RLMI namespace (RFC 4662 §5.2).
pub const NS: &str = "urn:ietf:params:xml:ns:rlmi";
/// The RLMI media type (RFC 4662 §5.1).
pub const CONTENT_TYPE: &str = "application/rlmi+xml";

/// Limits for an RLMI document: [`XmlLimits::lists`].
pub const LIMITS: XmlLimits = XmlLimits::lists();

/// An RLMI `<list>` document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rlmi {
    /// `uri`: the list's URI, the one subscribed to.
    pub uri: String,
    /// `version`: 0 in the first notification of a subscription, one more in each next one.
    pub version: u32,
    /// `fullState`: whether every resource is listed, or only those that changed.
    pub full_state: bool,
    /// `cid`: for a nested list, the Content-ID of its own part (RFC 4662 §5.2).
    pub cid: Option<String>,
    /// `<name>` elements: the list's names, per language.
    pub names: Vec<Name>,
    /// `<resource>` elements.
    pub resources: Vec<Resource>,
}

/// A `<name>`, with its `xml:lang`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// `xml:lang`.
    pub lang: Option<String>,
    /// The name.
    pub text: String,
}

/// A `<resource>`: one member of the list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resource {
    /// `uri`.
    pub uri: String,
    /// `<name>` elements.
    pub names: Vec<Name>,
    /// `<instance>` elements: the subscriptions to the resource (none yet: pending).
    pub instances: Vec<Instance>,
}

/// An `<instance>`: one subscription to a resource, with where its state is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// `id`, unique within the resource.
    pub id: String,
    /// `state`.
    pub state: InstanceState,
    /// `reason` of a terminated instance (RFC 6665 reasons: `rejected`, `noresource`, …).
    pub reason: Option<String>,
    /// `cid`: the Content-ID of the part with its state; absent when there is none.
    pub cid: Option<String>,
}

/// The state of an [`Instance`] (RFC 4662 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InstanceState {
    /// `terminated`.
    Terminated,
    /// `pending`.
    Pending,
    /// `active`.
    Active,
}

impl InstanceState {
    /// The XML token.
    pub const fn as_str(self) -> &'static str {
        match self {
            InstanceState::Active => "active",
            InstanceState::Pending => "pending",
            InstanceState::Terminated => "terminated",
        }
    }
}

impl Resource {
    /// The first name, if any.
    pub fn name(&self) -> Option<&str> {
        self.names.first().map(|n| n.text.as_str())
    }
}

impl Rlmi {
    /// Parses an RLMI document with [`LIMITS`].
    pub fn parse(body: &[u8]) -> Result<Rlmi> {
        Rlmi::parse_with_limits(body, &LIMITS)
    }

    /// Parses an RLMI document with explicit limits.
    pub fn parse_with_limits(body: &[u8], limits: &XmlLimits) -> Result<Rlmi> {
        let doc = Document::parse(body, limits, DoctypePolicy::Refuse)?;
        doc.expect_root(NS, "list")?;
        let root = &doc.root;
        let uri = doc.required_attr(root, "list", "uri", "uri attribute")?;
        let version = doc.required_attr(root, "list", "version", "version attribute")?;
        let version = xml::trim_xml(&version.value)
            .parse()
            .map_err(|_| doc.invalid("RLMI version", &version.value, version.at))?;
        let full = doc.required_attr(root, "list", "fullState", "fullState attribute")?;
        let full_state = match xml::trim_xml(&full.value) {
            "true" | "1" => true,
            "false" | "0" => false,
            other => return Err(doc.invalid("fullState", other, full.at)),
        };
        let resources = root
            .children_named(NS, "resource")
            .map(|r| resource(&doc, r))
            .collect::<Result<_>>()?;
        Ok(Rlmi {
            uri: xml::trim_xml(&uri.value).to_owned(),
            version,
            full_state,
            cid: root.attr("cid").map(|a| xml::trim_xml(&a.value).to_owned()),
            names: names(root),
            resources,
        })
    }

    /// Writes the document; [`Rlmi::parse`] gives back an equal value.
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(256 + 160 * self.resources.len());
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<list");
        xml::push_attribute(&mut out, "xmlns", NS);
        xml::push_attribute(&mut out, "uri", &self.uri);
        xml::push_attribute(&mut out, "version", &self.version.to_string());
        xml::push_attribute(
            &mut out,
            "fullState",
            if self.full_state { "true" } else { "false" },
        );
        if let Some(c) = &self.cid {
            xml::push_attribute(&mut out, "cid", c);
        }
        out.push_str(">\n");
        write_names(&mut out, &self.names);
        for r in &self.resources {
            out.push_str("<resource");
            xml::push_attribute(&mut out, "uri", &r.uri);
            out.push('>');
            write_names(&mut out, &r.names);
            for i in &r.instances {
                out.push_str("<instance");
                xml::push_attribute(&mut out, "id", &i.id);
                xml::push_attribute(&mut out, "state", i.state.as_str());
                if let Some(reason) = &i.reason {
                    xml::push_attribute(&mut out, "reason", reason);
                }
                if let Some(cid) = &i.cid {
                    xml::push_attribute(&mut out, "cid", cid);
                }
                out.push_str("/>");
            }
            out.push_str("</resource>\n");
        }
        out.push_str("</list>\n");
        out
    }
}

fn names(el: &Element) -> Vec<Name> {
    el.children_named(NS, "name")
        .map(|n| Name {
            lang: n.attr_ns(NS_XML, "lang").map(|a| a.value.to_string()),
            text: n.text.clone(),
        })
        .collect()
}

fn write_names(out: &mut String, names: &[Name]) {
    for n in names {
        out.push_str("<name");
        if let Some(l) = &n.lang {
            xml::push_attribute(out, "xml:lang", l);
        }
        out.push('>');
        xml::push_text(out, &n.text);
        out.push_str("</name>");
    }
}

fn resource(doc: &Document<'_>, el: &Element) -> Result<Resource> {
    let uri = doc.required_attr(el, "resource", "uri", "uri attribute")?;
    let instances = el
        .children_named(NS, "instance")
        .map(|i| {
            let id = doc.required_attr(i, "instance", "id", "id attribute")?;
            let state = doc.required_attr(i, "instance", "state", "state attribute")?;
            let state = match xml::trim_xml(&state.value) {
                "active" => InstanceState::Active,
                "pending" => InstanceState::Pending,
                "terminated" => InstanceState::Terminated,
                other => return Err(doc.invalid("instance state", other, state.at)),
            };
            Ok(Instance {
                id: id.value.to_string(),
                state,
                reason: i.attr("reason").map(|a| xml::trim_xml(&a.value).to_owned()),
                cid: i.attr("cid").map(|a| xml::trim_xml(&a.value).to_owned()),
            })
        })
        .collect::<Result<_>>()?;
    Ok(Resource {
        uri: xml::trim_xml(&uri.value).to_owned(),
        names: names(el),
        instances,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn rfc4662_list_example_parses() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<list xmlns="urn:ietf:params:xml:ns:rlmi"
      uri="sip:adam-friends@pres.example.com" version="1"
      fullState="true">
  <name xml:lang="en">Buddy List at COM</name>
  <name xml:lang="de">Liste der Freunde an COM</name>
  <resource uri="sip:bob@example.com">
    <name>Bob Smith</name>
    <instance id="juwigmtboe" state="active"
              cid="bUZBsM@pres.example.com"/>
  </resource>
  <resource uri="sip:dave@example.com">
    <name>Dave Jones</name>
    <instance id="hqzsuxtfyq" state="active"
              cid="ZvSvkz@pres.example.com"/>
  </resource>
  <resource uri="sip:ed@example.net">
    <name>Ed at NET</name>
  </resource>
  <resource uri="sip:adam-friends@example.org">
    <name xml:lang="en">My Friends at ORG</name>
    <name xml:lang="de">Meine Freunde an ORG</name>
  </resource>
</list>"#;
        let rlmi = Rlmi::parse(doc).unwrap();
        assert_eq!(rlmi.uri, "sip:adam-friends@pres.example.com");
        assert_eq!(rlmi.names[1].lang.as_deref(), Some("de"));
        assert_eq!(rlmi.resources.len(), 4);
        assert_eq!(rlmi.resources[0].name(), Some("Bob Smith"));
        assert_eq!(rlmi.resources[1].instances[0].id, "hqzsuxtfyq");
        assert!(rlmi.resources[2].instances.is_empty());
        assert_eq!(Rlmi::parse(rlmi.to_xml().as_bytes()).unwrap(), rlmi);
    }

    #[test]
    fn errors_say_what_and_where() {
        let err = Rlmi::parse(
            b"<list xmlns='urn:ietf:params:xml:ns:rlmi' uri='sip:l@x' version='1' fullState='true'>\n<resource uri='sip:a@x'><instance id='i' state='gone'/></resource></list>",
        )
        .unwrap_err();
        assert!(
            matches!(&err, Error::InvalidValue { what: "instance state", value, .. } if value == "gone"),
            "{err}"
        );
        assert_eq!(err.position().map(|p| p.line), Some(2));
        let err = Rlmi::parse(b"<list xmlns='urn:ietf:params:xml:ns:rlmi' uri='sip:l@x' version='-1' fullState='true'/>").unwrap_err();
        assert!(err.to_string().contains("RLMI version"), "{err}");
        let err =
            Rlmi::parse(b"<list xmlns='urn:ietf:params:xml:ns:rlmi' uri='sip:l@x' version='1'/>")
                .unwrap_err();
        assert!(err.to_string().contains("fullState"), "{err}");
    }
}
