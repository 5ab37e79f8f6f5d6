//! Provisioning XML to [`Profile`]: closed content models, exact multiplicities, typed
//! attributes, `data` kept verbatim, and every error placed at a line and column.
//!
//! Hostile input is normal input: the document size and element depth are limited, a DOCTYPE
//! is refused (so no entity is ever declared or expanded), and every step is linear in the
//! input.

use std::collections::HashSet;

use quick_xml::XmlVersion;
use quick_xml::escape::EscapeError;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;

use crate::datatypes::{self, DateTimeTz, Fixed, ServerAddr, Uri, UserUri};
use crate::error::{Error, Position};
use crate::model::{
    AccessControl, AuthMethod, Client, Data, Password, Profile, Provider, Role, Session,
    SessionParty, SessionType, SipServer, Transport, User,
};

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted document, in bytes. Real profiles are a few kilobytes.
    pub max_size: usize,
    /// Deepest accepted element nesting (the schema needs 3; `data` content may need more).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: 256 * 1024,
            max_depth: 32,
        }
    }
}

/// Parses a provisioning document with the default [`Limits`].
pub fn parse(xml: &str) -> Result<Profile, Error> {
    parse_with_limits(xml, &Limits::default())
}

/// Parses a provisioning document held as bytes: UTF-8, with or without a byte order mark.
pub fn parse_bytes(xml: &[u8]) -> Result<Profile, Error> {
    parse_bytes_with_limits(xml, &Limits::default())
}

/// [`parse_bytes`] with explicit limits.
pub fn parse_bytes_with_limits(xml: &[u8], limits: &Limits) -> Result<Profile, Error> {
    if xml.len() > limits.max_size {
        // Place the error without decoding more than the limit.
        let head = xml.get(..limits.max_size).unwrap_or(xml);
        let head = match std::str::from_utf8(head) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(head.get(..e.valid_up_to()).unwrap_or(&[])).unwrap_or(""),
        };
        return Err(Error::TooLarge {
            limit: limits.max_size,
            at: Position::at_offset(head, head.len()),
        });
    }
    match std::str::from_utf8(xml) {
        Ok(text) => parse_with_limits(text, limits),
        Err(e) => {
            let valid = xml.get(..e.valid_up_to()).unwrap_or(&[]);
            let valid = std::str::from_utf8(valid).unwrap_or("");
            let valid = valid.strip_prefix('\u{feff}').unwrap_or(valid);
            Err(Error::Xml {
                message: "invalid UTF-8".to_owned(),
                at: Position::at_offset(valid, valid.len()),
            })
        }
    }
}

/// Parses a provisioning document with explicit limits.
pub fn parse_with_limits(xml: &str, limits: &Limits) -> Result<Profile, Error> {
    if xml.len() > limits.max_size {
        let mut end = limits.max_size;
        while !xml.is_char_boundary(end) {
            end -= 1;
        }
        return Err(Error::TooLarge {
            limit: limits.max_size,
            at: Position::at_offset(xml, end),
        });
    }
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let mut parser = Parser::new(xml, *limits)?;
    parser.document()
}

/// Checks that `content` is well-formed element content (for [`Data::from_markup`]).
pub(crate) fn parse_data_content(content: &str) -> Result<(), Error> {
    let wrapped = format!("<data>{content}</data>");
    let mut parser = Parser::new(&wrapped, Limits::default())?;
    let (at, event) = parser.next_event()?;
    let Event::Start(start) = event else {
        return Err(parser.xml_error("expected <data>", at));
    };
    parser.data(at, &start, false)?;
    match parser.next_event()? {
        (_, Event::Eof) => Ok(()),
        (at, _) => Err(parser.xml_error("content closes <data> early", at)),
    }
}

fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

fn is_blank(s: &str) -> bool {
    datatypes::trim_xml(s).is_empty()
}

/// One child of an element, or its end.
enum Item<'a> {
    Element {
        at: usize,
        start: BytesStart<'a>,
        empty: bool,
    },
    End,
}

/// A typed attribute's value and the byte offset of its raw text.
struct AttrValue {
    value: String,
    at: usize,
}

/// Takes a present, non-blank attribute value.
fn present(v: Option<AttrValue>) -> Option<AttrValue> {
    v.filter(|v| !is_blank(&v.value))
}

struct Parser<'a> {
    input: &'a str,
    reader: Reader<&'a [u8]>,
    limits: Limits,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str, limits: Limits) -> Result<Self, Error> {
        // XML 1.0 §2.2: these characters may not appear at all, not even through references
        // (checked separately); refusing them here keeps every model string writable.
        if let Some((offset, c)) = input.char_indices().find(|&(_, c)| !is_xml_char(c)) {
            return Err(Error::Xml {
                message: format!("character U+{:04X} is not allowed in XML", u32::from(c)),
                at: Position::at_offset(input, offset),
            });
        }
        let mut reader = Reader::from_str(input);
        let config = reader.config_mut();
        config.check_comments = true;
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        Ok(Parser {
            input,
            reader,
            limits,
            depth: 0,
        })
    }

    fn pos(&self, offset: usize) -> Position {
        Position::at_offset(self.input, offset)
    }

    fn xml_error(&self, message: impl Into<String>, offset: usize) -> Error {
        Error::Xml {
            message: message.into(),
            at: self.pos(offset),
        }
    }

    /// Byte offset of `s` in the input, when it is a slice of it; `fallback` otherwise.
    fn offset_of(&self, s: &str, fallback: usize) -> usize {
        let base = self.input.as_ptr() as usize;
        match (s.as_ptr() as usize).checked_sub(base) {
            Some(offset) if offset <= self.input.len() => offset,
            _ => fallback,
        }
    }

    fn position_now(&self) -> usize {
        usize::try_from(self.reader.buffer_position()).unwrap_or(usize::MAX)
    }

    /// The next event and the byte offset where it starts, with depth and DTD checks.
    fn next_event(&mut self) -> Result<(usize, Event<'a>), Error> {
        let at = self.position_now();
        let event = match self.reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                let offset = usize::try_from(self.reader.error_position()).unwrap_or(at);
                return Err(self.xml_error(e.to_string(), offset));
            }
        };
        match &event {
            Event::Start(_) => {
                self.depth += 1;
                if self.depth > self.limits.max_depth {
                    return Err(Error::TooDeep {
                        limit: self.limits.max_depth,
                        at: self.pos(at),
                    });
                }
            }
            Event::End(_) => self.depth = self.depth.saturating_sub(1),
            Event::DocType(_) => return Err(Error::Doctype { at: self.pos(at) }),
            Event::Decl(_) if at != 0 => {
                return Err(self.xml_error("XML declaration not at the start", at));
            }
            _ => {}
        }
        Ok((at, event))
    }

    /// Checks an entity or character reference in text: only the five predefined entities
    /// and references to legal characters exist here (no DTD).
    fn check_reference(&self, reference: &BytesRef<'_>, at: usize) -> Result<(), Error> {
        match reference.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(()),
            Ok(Some(_)) | Err(_) => Err(self.xml_error("invalid character reference", at)),
            Ok(None) => {
                let name: &str = reference;
                if matches!(name, "lt" | "gt" | "amp" | "apos" | "quot") {
                    Ok(())
                } else {
                    Err(self.xml_error(format!("undefined entity &{name};"), at))
                }
            }
        }
    }

    /// The next child element of `parent`, skipping comments, processing instructions and
    /// whitespace; other text is allowed only where the schema says `content="mixed"`.
    fn next_item(&mut self, parent: &'static str, mixed: bool) -> Result<Item<'a>, Error> {
        loop {
            let (at, event) = self.next_event()?;
            match event {
                Event::Start(start) => {
                    return Ok(Item::Element {
                        at,
                        start,
                        empty: false,
                    });
                }
                Event::Empty(start) => {
                    return Ok(Item::Element {
                        at,
                        start,
                        empty: true,
                    });
                }
                Event::End(_) => return Ok(Item::End),
                Event::Text(text) => {
                    if !mixed && !is_blank(&text) {
                        let trimmed = text.trim_start_matches([' ', '\t', '\r', '\n']);
                        let lead = text.len() - trimmed.len();
                        return Err(Error::UnexpectedText {
                            element: parent,
                            at: self.pos(at + lead),
                        });
                    }
                }
                Event::GeneralRef(reference) => {
                    self.check_reference(&reference, at)?;
                    if !mixed {
                        return Err(Error::UnexpectedText {
                            element: parent,
                            at: self.pos(at),
                        });
                    }
                }
                Event::CData(_) if !mixed => {
                    return Err(Error::UnexpectedText {
                        element: parent,
                        at: self.pos(at),
                    });
                }
                Event::CData(_) | Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
                Event::DocType(_) => return Err(Error::Doctype { at: self.pos(at) }),
                Event::Eof => {
                    return Err(self.xml_error(format!("<{parent}> is not closed"), at));
                }
            }
        }
    }

    /// Reads the rest of an element that has no child elements in the schema.
    fn leaf_end(&mut self, element: &'static str, empty: bool) -> Result<(), Error> {
        if empty {
            return Ok(());
        }
        match self.next_item(element, false)? {
            Item::End => Ok(()),
            Item::Element { at, start, .. } => Err(self.unknown_element(&start, element, at)),
        }
    }

    fn unknown_element(&self, start: &BytesStart<'_>, parent: &'static str, at: usize) -> Error {
        Error::UnknownElement {
            name: start.name().as_ref().to_owned(),
            parent,
            at: self.pos(at),
        }
    }

    /// Reads one attribute value: normalized (XML 1.0 §3.3.3), references resolved, checked.
    fn attr_value(
        &self,
        raw: &str,
        value_at: usize,
        secret: bool,
        normalized: Result<std::borrow::Cow<'_, str>, quick_xml::Error>,
    ) -> Result<String, Error> {
        if let Some(i) = raw.find('<') {
            return Err(self.xml_error("'<' in attribute value", value_at + i));
        }
        let value = match normalized {
            Ok(v) => v.into_owned(),
            Err(quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(range, name))) => {
                // Never echo any part of a password, even a bogus entity name.
                let message = if secret {
                    "undefined entity in attribute value".to_owned()
                } else {
                    format!("undefined entity &{name};")
                };
                // The range is the entity name, after '&'.
                return Err(self.xml_error(message, value_at + range.start.saturating_sub(1)));
            }
            Err(quick_xml::Error::Escape(EscapeError::UnterminatedEntity(range))) => {
                return Err(self.xml_error("'&' without ';'", value_at + range.start));
            }
            Err(_) => return Err(self.xml_error("invalid reference in attribute value", value_at)),
        };
        if !value.chars().all(is_xml_char) {
            return Err(self.xml_error("invalid character reference", value_at));
        }
        Ok(value)
    }

    /// The attributes of a closed element: each must be one of `names`, at most once.
    fn attributes<const N: usize>(
        &self,
        start: &BytesStart<'a>,
        at: usize,
        element: &'static str,
        names: [&'static str; N],
    ) -> Result<[Option<AttrValue>; N], Error> {
        let mut values: [Option<AttrValue>; N] = std::array::from_fn(|_| None);
        // Checks off: quick-xml's duplicate check is quadratic; ours stops at the first
        // unknown name, so it never looks at more than N attributes.
        for attr in start.attributes().with_checks(false) {
            let attr = attr.map_err(|e| self.attr_syntax_error(&e, at))?;
            let key = attr.key.0;
            let key_at = self.offset_of(key, at);
            let Some(i) = names.iter().position(|n| *n == key) else {
                return Err(Error::UnknownAttribute {
                    name: key.to_owned(),
                    element,
                    at: self.pos(key_at),
                });
            };
            let value_at = self.offset_of(&attr.value, key_at);
            let value = self.attr_value(
                &attr.value,
                value_at,
                key == "password",
                attr.normalized_value(XmlVersion::Implicit1_0),
            )?;
            let slot = values
                .get_mut(i)
                .ok_or_else(|| self.xml_error("internal", at))?;
            if slot.is_some() {
                return Err(Error::DuplicateAttribute {
                    name: key.to_owned(),
                    element,
                    at: self.pos(key_at),
                });
            }
            *slot = Some(AttrValue {
                value,
                at: value_at,
            });
        }
        Ok(values)
    }

    fn attr_syntax_error(&self, e: &quick_xml::events::attributes::AttrError, at: usize) -> Error {
        use quick_xml::events::attributes::AttrError;
        // Positions are relative to the tag content, which starts after '<'.
        let relative = match e {
            AttrError::ExpectedEq(p)
            | AttrError::ExpectedValue(p)
            | AttrError::UnquotedValue(p)
            | AttrError::ExpectedQuote(p, _)
            | AttrError::Duplicated(p, _) => *p,
        };
        self.xml_error(e.to_string(), at + 1 + relative)
    }

    /// Attributes of an element inside `data`: anything goes, but well-formed and unique.
    fn open_attributes(&self, start: &BytesStart<'a>, at: usize) -> Result<(), Error> {
        let mut seen = HashSet::new();
        for attr in start.attributes().with_checks(false) {
            let attr = attr.map_err(|e| self.attr_syntax_error(&e, at))?;
            let key = attr.key.0;
            let key_at = self.offset_of(key, at);
            if !seen.insert(key) {
                return Err(Error::DuplicateAttribute {
                    name: key.to_owned(),
                    element: "data",
                    at: self.pos(key_at),
                });
            }
            let value_at = self.offset_of(&attr.value, key_at);
            self.attr_value(
                &attr.value,
                value_at,
                false,
                attr.normalized_value(XmlVersion::Implicit1_0),
            )?;
        }
        Ok(())
    }

    fn document(&mut self) -> Result<Profile, Error> {
        let profile = loop {
            let (at, event) = self.next_event()?;
            match event {
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
                Event::Text(text) if is_blank(&text) => {}
                Event::Start(start) | Event::Empty(start)
                    if start.name().as_ref() != "provision" =>
                {
                    return Err(Error::NoProvision { at: self.pos(at) });
                }
                Event::Start(start) => break self.provision(at, &start, false)?,
                Event::Empty(start) => break self.provision(at, &start, true)?,
                Event::Eof => return Err(Error::NoProvision { at: self.pos(at) }),
                _ => return Err(self.xml_error("content before the document element", at)),
            }
        };
        loop {
            let (at, event) = self.next_event()?;
            match event {
                Event::Eof => return Ok(profile),
                Event::Comment(_) | Event::PI(_) => {}
                Event::Text(text) if is_blank(&text) => {}
                _ => return Err(self.xml_error("content after the document element", at)),
            }
        }
    }

    fn provision(
        &mut self,
        at: usize,
        start: &BytesStart<'a>,
        empty: bool,
    ) -> Result<Profile, Error> {
        let [key, name, expires] =
            self.attributes(start, at, "provision", ["key", "name", "expires"])?;
        let key = present(key).ok_or_else(|| Error::NoKey { at: self.pos(at) })?;
        let name = present(name).ok_or_else(|| Error::NoName { at: self.pos(at) })?;
        let expires = match expires {
            None => None,
            Some(v) => {
                Some(
                    DateTimeTz::parse_str(&v.value).ok_or_else(|| Error::InvalidDateTime {
                        value: v.value.clone(),
                        at: self.pos(v.at),
                    })?,
                )
            }
        };
        let mut user = None;
        let mut servers: Vec<SipServer> = Vec::new();
        let mut client = None;
        let mut provider = None;
        let mut access_control = None;
        let mut has_registrar = false;
        if !empty {
            // The schema's default order is "many": children may come in any order.
            while let Item::Element {
                at: child_at,
                start: child,
                empty,
            } = self.next_item("provision", false)?
            {
                let duplicate = |name: &'static str| Error::DuplicateElement {
                    name,
                    parent: "provision",
                    at: self.pos(child_at),
                };
                match child.name().as_ref() {
                    "user" if user.is_some() => return Err(duplicate("user")),
                    "user" => user = Some(self.user(child_at, &child, empty)?),
                    "sipsrv" => {
                        let server = self.sipsrv(child_at, &child, empty, has_registrar)?;
                        has_registrar |= server.role == Role::Registrar;
                        servers.push(server);
                    }
                    "client" if client.is_some() => return Err(duplicate("client")),
                    "client" => client = Some(self.client(child_at, &child, empty)?),
                    "provider" if provider.is_some() => return Err(duplicate("provider")),
                    "provider" => provider = Some(self.provider(child_at, &child, empty)?),
                    "accesscontrol" if access_control.is_some() => {
                        return Err(duplicate("accesscontrol"));
                    }
                    "accesscontrol" => {
                        access_control = Some(self.access_control(child_at, &child, empty)?);
                    }
                    _ => return Err(self.unknown_element(&child, "provision", child_at)),
                }
            }
        }
        let user = user.ok_or_else(|| Error::NoUser { at: self.pos(at) })?;
        if servers.is_empty() {
            return Err(Error::NoServer { at: self.pos(at) });
        }
        Ok(Profile {
            key: key.value,
            name: name.value,
            expires,
            access_control,
            user,
            servers,
            client,
            provider,
        })
    }

    fn user(&mut self, at: usize, start: &BytesStart<'a>, empty: bool) -> Result<User, Error> {
        let [uri, account, name, password, realm] = self.attributes(
            start,
            at,
            "user",
            ["uri", "account", "name", "password", "realm"],
        )?;
        let uri = present(uri).ok_or_else(|| Error::NoUserUri { at: self.pos(at) })?;
        let uri = UserUri::parse_str(&uri.value).ok_or_else(|| Error::InvalidUserUri {
            value: uri.value.clone(),
            at: self.pos(uri.at),
        })?;
        self.leaf_end("user", empty)?;
        Ok(User {
            uri,
            account: account.map(|v| v.value),
            name: name.map(|v| v.value),
            password: password.map(|v| Password::new(v.value)),
            realm: realm.map(|v| v.value),
        })
    }

    fn sipsrv(
        &mut self,
        at: usize,
        start: &BytesStart<'a>,
        empty: bool,
        has_registrar: bool,
    ) -> Result<SipServer, Error> {
        let [addr, protocol, auth, role] =
            self.attributes(start, at, "sipsrv", ["addr", "protocol", "auth", "role"])?;
        let addr = present(addr).ok_or_else(|| Error::NoServerAddress { at: self.pos(at) })?;
        let protocol =
            present(protocol).ok_or_else(|| Error::NoServerProtocol { at: self.pos(at) })?;
        let role = role.ok_or_else(|| Error::InvalidServerRole {
            value: None,
            at: self.pos(at),
        })?;
        let addr =
            ServerAddr::parse_str(&addr.value).ok_or_else(|| Error::InvalidServerAddress {
                value: addr.value.clone(),
                at: self.pos(addr.at),
            })?;
        let protocol =
            Transport::parse(&protocol.value).ok_or_else(|| Error::InvalidServerProtocol {
                value: protocol.value.clone(),
                at: self.pos(protocol.at),
            })?;
        let auth = match auth {
            None => None,
            Some(v) => Some((
                AuthMethod::parse(&v.value).ok_or_else(|| Error::InvalidAuthMethod {
                    value: v.value.clone(),
                    at: self.pos(v.at),
                })?,
                v.at,
            )),
        };
        let role = Role::parse(&role.value).ok_or_else(|| Error::InvalidServerRole {
            value: Some(role.value.clone()),
            at: self.pos(role.at),
        })?;
        if let Some((AuthMethod::Basic, auth_at)) = auth
            && protocol != Transport::Tls
        {
            return Err(Error::BasicAuthWithoutTls {
                at: self.pos(auth_at),
            });
        }
        if role == Role::Registrar && has_registrar {
            return Err(Error::MultipleRegistrars { at: self.pos(at) });
        }
        let mut sessions = Vec::new();
        if !empty {
            // content="mixed": text between sessions is allowed and carries no meaning.
            while let Item::Element {
                at: child_at,
                start: child,
                empty,
            } = self.next_item("sipsrv", true)?
            {
                if child.name().as_ref() != "session" {
                    return Err(self.unknown_element(&child, "sipsrv", child_at));
                }
                sessions.push(self.session(child_at, &child, empty)?);
            }
        }
        Ok(SipServer {
            addr,
            protocol,
            auth: auth.map(|(a, _)| a),
            role,
            sessions,
        })
    }

    fn session(
        &mut self,
        at: usize,
        start: &BytesStart<'a>,
        empty: bool,
    ) -> Result<Session, Error> {
        let [party, session_type] = self.attributes(start, at, "session", ["party", "type"])?;
        let party = match party {
            None => {
                return Err(Error::InvalidSessionParty {
                    value: None,
                    at: self.pos(at),
                });
            }
            Some(v) => SessionParty::parse(&v.value).ok_or_else(|| Error::InvalidSessionParty {
                value: Some(v.value.clone()),
                at: self.pos(v.at),
            })?,
        };
        let session_type = match session_type {
            None => {
                return Err(Error::InvalidSessionType {
                    value: None,
                    at: self.pos(at),
                });
            }
            Some(v) => SessionType::parse(&v.value).ok_or_else(|| Error::InvalidSessionType {
                value: Some(v.value.clone()),
                at: self.pos(v.at),
            })?,
        };
        let session = Session {
            party,
            session_type,
        };
        if !session.is_valid() {
            return Err(Error::InvalidSession {
                party,
                session_type,
                at: self.pos(at),
            });
        }
        self.leaf_end("session", empty)?;
        Ok(session)
    }

    fn client(&mut self, at: usize, start: &BytesStart<'a>, empty: bool) -> Result<Client, Error> {
        let [name, banner, updates, minver, curver, updateuri] = self.attributes(
            start,
            at,
            "client",
            ["name", "banner", "updates", "minver", "curver", "updateuri"],
        )?;
        let name = present(name).ok_or_else(|| Error::MissingAttribute {
            element: "client",
            attribute: "name",
            at: self.pos(at),
        })?;
        let client = Client {
            name: name.value,
            banner: self.boolean("banner", banner)?,
            updates: self.boolean("updates", updates)?,
            min_version: self.fixed("minver", minver)?,
            current_version: self.fixed("curver", curver)?,
            update_uri: self.uri("updateuri", updateuri)?,
            data: self.data_child("client", empty, false)?,
        };
        Ok(client)
    }

    fn provider(
        &mut self,
        at: usize,
        start: &BytesStart<'a>,
        empty: bool,
    ) -> Result<Provider, Error> {
        let [name, homepage, helpdesk, personal, calldisplay, idledisplay] = self.attributes(
            start,
            at,
            "provider",
            [
                "name",
                "homepage",
                "helpdesk",
                "personal",
                "calldisplay",
                "idledisplay",
            ],
        )?;
        Ok(Provider {
            name: name.map(|v| v.value),
            homepage: self.uri("homepage", homepage)?,
            helpdesk: self.uri("helpdesk", helpdesk)?,
            personal: self.uri("personal", personal)?,
            call_display: self.uri("calldisplay", calldisplay)?,
            idle_display: self.uri("idledisplay", idledisplay)?,
            // content="mixed" in the schema.
            data: self.data_child("provider", empty, true)?,
        })
    }

    fn access_control(
        &mut self,
        at: usize,
        start: &BytesStart<'a>,
        empty: bool,
    ) -> Result<AccessControl, Error> {
        let [domain, sig] = self.attributes(start, at, "accesscontrol", ["domain", "sig"])?;
        let missing = |attribute| Error::MissingAttribute {
            element: "accesscontrol",
            attribute,
            at: self.pos(at),
        };
        let domain = present(domain).ok_or_else(|| missing("domain"))?;
        let sig = present(sig).ok_or_else(|| missing("sig"))?;
        self.leaf_end("accesscontrol", empty)?;
        Ok(AccessControl {
            domain: domain.value,
            sig: sig.value,
        })
    }

    fn boolean(
        &self,
        attribute: &'static str,
        v: Option<AttrValue>,
    ) -> Result<Option<bool>, Error> {
        v.map(|v| {
            datatypes::parse_bool(&v.value).ok_or_else(|| Error::InvalidBoolean {
                attribute,
                value: v.value.clone(),
                at: self.pos(v.at),
            })
        })
        .transpose()
    }

    fn fixed(&self, attribute: &'static str, v: Option<AttrValue>) -> Result<Option<Fixed>, Error> {
        v.map(|v| {
            Fixed::parse_str(&v.value).ok_or_else(|| Error::InvalidFixed {
                attribute,
                value: v.value.clone(),
                at: self.pos(v.at),
            })
        })
        .transpose()
    }

    fn uri(&self, attribute: &'static str, v: Option<AttrValue>) -> Result<Option<Uri>, Error> {
        v.map(|v| {
            Uri::parse_str(&v.value).ok_or_else(|| Error::InvalidUri {
                attribute,
                value: v.value.clone(),
                at: self.pos(v.at),
            })
        })
        .transpose()
    }

    /// The children of `client` or `provider`: at most one `data`.
    fn data_child(
        &mut self,
        parent: &'static str,
        empty: bool,
        mixed: bool,
    ) -> Result<Option<Data>, Error> {
        let mut data = None;
        if empty {
            return Ok(data);
        }
        while let Item::Element { at, start, empty } = self.next_item(parent, mixed)? {
            if start.name().as_ref() != "data" {
                return Err(self.unknown_element(&start, parent, at));
            }
            if data.is_some() {
                return Err(Error::DuplicateElement {
                    name: "data",
                    parent,
                    at: self.pos(at),
                });
            }
            data = Some(self.data(at, &start, empty)?);
        }
        Ok(data)
    }

    /// `data` (model="open"): any attributes and content, checked for well-formedness and
    /// kept as the exact source text.
    fn data(&mut self, at: usize, start: &BytesStart<'a>, empty: bool) -> Result<Data, Error> {
        self.open_attributes(start, at)?;
        let attributes = start.attributes_raw().to_owned();
        if empty {
            return Ok(Data {
                attributes,
                content: String::new(),
            });
        }
        let content_start = self.position_now();
        let mut depth = 0usize;
        let content_end = loop {
            let (event_at, event) = self.next_event()?;
            match event {
                Event::Start(inner) => {
                    self.open_attributes(&inner, event_at)?;
                    depth += 1;
                }
                Event::Empty(inner) => self.open_attributes(&inner, event_at)?,
                Event::End(_) if depth == 0 => break event_at,
                Event::End(_) => depth -= 1,
                Event::GeneralRef(reference) => self.check_reference(&reference, event_at)?,
                Event::Text(_) | Event::CData(_) | Event::Comment(_) | Event::PI(_) => {}
                Event::Decl(_) => {
                    return Err(self.xml_error("XML declaration not at the start", event_at));
                }
                Event::DocType(_) => {
                    return Err(Error::Doctype {
                        at: self.pos(event_at),
                    });
                }
                Event::Eof => return Err(self.xml_error("<data> is not closed", event_at)),
            }
        };
        let content = self
            .input
            .get(content_start..content_end)
            .ok_or_else(|| self.xml_error("internal: data bounds", at))?
            .to_owned();
        Ok(Data {
            attributes,
            content,
        })
    }
}
