//! Instant messages (RFC 3428): what the content of an incoming MESSAGE is and whether this
//! client can take it (RFC 3261 §8.2.3), the request that sends one, and composing indications
//! (RFC 3994) both ways, on the caller's clock.
//!
//! The client takes `text/plain` in any charset the WHATWG Encoding Standard names (UTF-8 when
//! none is given) and `application/im-iscomposing+xml`, without Content-Encoding. Anything else
//! is refused on the wire — 415 with `Accept` or `Accept-Encoding`, 400 for text that is not
//! what its charset says — and never shown. That includes IMDN delivery reports
//! (`message/imdn+xml`, RFC 5438): this client never asks for one (it sends no
//! `Disposition-Notification`), so one that arrives is unsolicited and refused.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use quick_xml::Reader;
use quick_xml::events::Event as Xml;
use sip_parse::{HeaderName, Message, MessageBuilder, Method};
use sip_txn::driver::ServerTransaction;

use crate::{Event, Result};

/// The Content-Type of a composing indication (RFC 3994 §7).
pub(crate) const COMPOSING_TYPE: &str = "application/im-iscomposing+xml";

/// What this client takes in a MESSAGE (RFC 3261 §20.1), for `Accept` in a 415 and in the
/// answer to OPTIONS.
pub(crate) const ACCEPT: &str = "text/plain, application/im-iscomposing+xml";

/// The content codings this client takes (RFC 3261 §20.2): none.
pub(crate) const ACCEPT_ENCODING: &str = "identity";

/// How often an active indication is refreshed while the user composes (RFC 3994 §3.2: 120 s
/// by default, never below 60 s).
pub(crate) const COMPOSING_REFRESH: Duration = Duration::from_secs(120);

/// The refresh we announce: a little longer than we refresh, so that the peer's active state
/// does not lapse, for an instant, while the refresh is on its way.
const ANNOUNCED_REFRESH: Duration = Duration::from_secs(COMPOSING_REFRESH.as_secs() + 10);

/// How long after the user's last sign of composing we tell the peer we are idle
/// (RFC 3994 §3.2: the idle timeout, 15 s by default).
pub(crate) const COMPOSING_IDLE: Duration = Duration::from_secs(15);

/// How long a peer's active indication lasts when it gave no `refresh` (RFC 3994 §3.3: 120 s).
pub(crate) const REMOTE_REFRESH: Duration = Duration::from_secs(120);

/// The longest `refresh` a peer's indication is trusted for.
const MAX_REFRESH: Duration = Duration::from_secs(3600);

/// Most peers tracked in each direction; beyond, new ones are not (a hostile peer sending from
/// ever new addresses must not grow memory).
const MAX_PEERS: usize = 1024;

/// Largest composing document read; real ones are a few hundred bytes.
const MAX_COMPOSING: usize = 4096;

/// A MESSAGE this client does not take, as it answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The status code.
    pub(crate) status: u16,
    /// The reason phrase.
    pub(crate) reason: &'static str,
    /// A header field that says what would be taken instead.
    pub(crate) header: Option<(&'static str, &'static str)>,
}

impl Refusal {
    /// 415 with `Accept` (RFC 3261 §21.4.13).
    const MEDIA_TYPE: Refusal = Refusal {
        status: 415,
        reason: "Unsupported Media Type",
        header: Some(("Accept", ACCEPT)),
    };
    /// 415 with `Accept` for a charset we cannot decode.
    const CHARSET: Refusal = Refusal {
        status: 415,
        reason: "Unsupported Charset",
        header: Some(("Accept", ACCEPT)),
    };
    /// 415 with `Accept-Encoding` (RFC 3261 §8.2.3).
    const ENCODING: Refusal = Refusal {
        status: 415,
        reason: "Unsupported Content-Encoding",
        header: Some(("Accept-Encoding", ACCEPT_ENCODING)),
    };
    /// 400: the text is not in the charset it names.
    const MALFORMED_TEXT: Refusal = Refusal {
        status: 400,
        reason: "Text Not In Its Charset",
        header: None,
    };
    /// 400: a composing indication that is not one.
    const MALFORMED_COMPOSING: Refusal = Refusal {
        status: 400,
        reason: "Malformed isComposing Document",
        header: None,
    };
}

/// The content of a MESSAGE this client takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Content {
    /// Text, decoded by its charset.
    Text {
        /// The Content-Type as sent.
        content_type: String,
        /// The text.
        text: String,
    },
    /// A composing indication.
    Composing(Composing),
    /// No body at all: nothing to show.
    Empty,
}

/// A composing indication (RFC 3994 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Composing {
    /// `active` (true) or `idle`.
    pub(crate) active: bool,
    /// How long an active state lasts without a refresh, if the sender said.
    pub(crate) refresh: Option<Duration>,
}

/// A media type (RFC 3261 §20.15, RFC 2045 §5.1): `type/subtype` and its parameters, each
/// compared without regard to case.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MediaType<'a> {
    kind: &'a str,
    subtype: &'a str,
    params: &'a str,
}

impl<'a> MediaType<'a> {
    /// Parses `type/subtype *(;param)`; `None` when it is not one.
    pub(crate) fn parse(value: &'a str) -> Option<Self> {
        let (essence, params) = value.split_once(';').unwrap_or((value, ""));
        let (kind, subtype) = essence.trim().split_once('/')?;
        let token = |s: &str| !s.is_empty() && s.bytes().all(is_token_byte);
        (token(kind) && token(subtype)).then_some(MediaType {
            kind,
            subtype,
            params,
        })
    }

    /// Whether this is `kind/subtype`, case-insensitively.
    pub(crate) fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// The value of parameter `name` (case-insensitive), unquoted; `None` when absent or when
    /// the parameters do not parse.
    pub(crate) fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        Params(self.params.trim_start())
            .map_while(|p| p)
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// The `;name=value` parameters of a media type, a quoted value unquoted; `Some(None)` when
/// they stop making sense.
struct Params<'a>(&'a str);

impl<'a> Iterator for Params<'a> {
    type Item = Option<(&'a str, Cow<'a, str>)>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.0.trim_start_matches([';', ' ', '\t']);
        if rest.is_empty() {
            return None;
        }
        let Some((name, after)) = rest.split_once('=') else {
            self.0 = "";
            return Some(None);
        };
        let name = name.trim();
        let after = after.trim_start();
        let (value, rest) = if let Some(quoted) = after.strip_prefix('"') {
            // quoted-string: `\` escapes the next character (RFC 3261 §25.1).
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    '\\' => value.extend(chars.next().map(|(_, c)| c)),
                    c => value.push(c),
                }
            }
            let Some(end) = end else {
                self.0 = "";
                return Some(None);
            };
            (Cow::Owned(value), &quoted[end..])
        } else {
            let end = after.find(';').unwrap_or(after.len());
            (Cow::Borrowed(after[..end].trim_end()), &after[end..])
        };
        self.0 = rest;
        Some(Some((name, value)))
    }
}

/// What a MESSAGE holds, or why this client does not take it (RFC 3261 §8.2.3: encodings
/// first, then the type). `content_encodings` are the values of every Content-Encoding field.
pub(crate) fn read<'a>(
    content_type: Option<&str>,
    content_encodings: impl IntoIterator<Item = &'a [u8]>,
    body: &[u8],
) -> std::result::Result<Content, Refusal> {
    for value in content_encodings {
        let value = std::str::from_utf8(value).map_err(|_| Refusal::ENCODING)?;
        let identity = |c: &str| c.trim().is_empty() || c.trim().eq_ignore_ascii_case("identity");
        if !value.split(',').all(identity) {
            return Err(Refusal::ENCODING);
        }
    }
    let Some(content_type) = content_type else {
        // RFC 3261 §7.4.1: a body names its type. Without one it cannot be read.
        return if body.is_empty() {
            Ok(Content::Empty)
        } else {
            Err(Refusal::MEDIA_TYPE)
        };
    };
    let media = MediaType::parse(content_type).ok_or(Refusal::MEDIA_TYPE)?;
    if media.is("text", "plain") {
        let text = decode(&media, body)?;
        Ok(Content::Text {
            content_type: content_type.trim().to_owned(),
            text,
        })
    } else if media.is("application", "im-iscomposing+xml") {
        parse_composing(body)
            .map(Content::Composing)
            .ok_or(Refusal::MALFORMED_COMPOSING)
    } else {
        // Among them message/imdn+xml (RFC 5438) and message/cpim: never asked for.
        Err(Refusal::MEDIA_TYPE)
    }
}

/// `body` decoded by the charset of `media` (UTF-8 when it names none: a superset of the
/// US-ASCII of RFC 2046 §4.1.2). A byte order mark of that charset is dropped.
fn decode(media: &MediaType<'_>, body: &[u8]) -> std::result::Result<String, Refusal> {
    let encoding = match media.param("charset") {
        Some(label) => encoding_rs::Encoding::for_label_no_replacement(label.as_bytes())
            .ok_or(Refusal::CHARSET)?,
        None => encoding_rs::UTF_8,
    };
    let (text, had_errors) = encoding.decode_with_bom_removal(body);
    if had_errors {
        return Err(Refusal::MALFORMED_TEXT);
    }
    Ok(text.into_owned())
}

/// A composing indication (RFC 3994 §4), `active` or `idle`, announcing our refresh when
/// active.
pub(crate) fn composing_document(active: bool) -> String {
    let state = if active { "active" } else { "idle" };
    let refresh = if active {
        format!("<refresh>{}</refresh>", ANNOUNCED_REFRESH.as_secs())
    } else {
        String::new()
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\">\
         <state>{state}</state><contenttype>text/plain</contenttype>{refresh}</isComposing>"
    )
}

/// The indication in `body`; `None` for a document that is not one (too large, malformed,
/// with a DTD, or without a state).
pub(crate) fn parse_composing(body: &[u8]) -> Option<Composing> {
    if body.len() > MAX_COMPOSING {
        return None;
    }
    let mut reader = Reader::from_reader(body);
    let mut element = None;
    let mut depth = 0usize;
    let mut state = None;
    let mut refresh = None;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Xml::DocType(_) => return None,
            Xml::Start(e) => {
                depth += 1;
                if depth > 8 {
                    return None;
                }
                let name = e.local_name();
                let name: &str = name.as_ref();
                element = match (depth, name) {
                    (2, "state") => Some(true),
                    (2, "refresh") => Some(false),
                    _ => None,
                };
            }
            Xml::End(_) => {
                depth = depth.saturating_sub(1);
                element = None;
            }
            Xml::Text(t) => {
                let text: &str = t.as_ref();
                let text = text.trim();
                match element {
                    Some(true) => {
                        state = Some(match text {
                            "active" => true,
                            "idle" => false,
                            _ => return None,
                        });
                    }
                    // §6: a positive integer of seconds; anything else is ignored.
                    Some(false) => {
                        refresh = text
                            .parse::<u64>()
                            .ok()
                            .filter(|s| *s > 0)
                            .map(Duration::from_secs);
                    }
                    None => {}
                }
            }
            Xml::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    state.map(|active| Composing { active, refresh })
}

/// Who sends a MESSAGE, and how.
#[derive(Debug)]
pub(crate) struct Sender<'a> {
    /// Our address of record.
    pub(crate) aor: &'a str,
    /// Our display name.
    pub(crate) display_name: Option<&'a str>,
    /// Our Via for the transport it leaves on.
    pub(crate) via: &'a str,
    /// The host part of the Call-ID.
    pub(crate) host: &'a str,
    /// Our User-Agent.
    pub(crate) user_agent: &'a str,
    /// The message limits, the same as the parser's: no MESSAGE is built larger than a
    /// recipient configured like us would read.
    pub(crate) limits: &'a sip_parse::ParseConfig,
}

/// A MESSAGE request to `to`. RFC 3428 §4: outside any dialog, a fresh Call-ID and From tag
/// per message.
pub(crate) fn request(
    sender: &Sender<'_>,
    to: &str,
    content_type: &str,
    body: Bytes,
) -> Result<Message> {
    let from = crate::endpoint::name_addr(sender.display_name, sender.aor);
    let request = MessageBuilder::request(Method::Message, to)
        .header("Via", sender.via)?
        .header("Max-Forwards", "70")?
        .header("From", &format!("{from};tag={}", sip_txn::new_tag()?))?
        .header("To", &format!("<{to}>"))?
        .header(
            "Call-ID",
            &format!("{}@{}", sip_txn::new_tag()?, sender.host),
        )?
        .header("CSeq", "1 MESSAGE")?
        .header("User-Agent", sender.user_agent)?
        .body(content_type, body)?
        .try_build()?;
    Ok(Message::parse_with(request, sender.limits)?)
}

/// Answers a MESSAGE: 200, or the refusal with what would be taken instead.
pub(crate) async fn answer(
    txn: &ServerTransaction,
    verdict: std::result::Result<(), Refusal>,
) -> Result<()> {
    let response = match verdict {
        Ok(()) => txn.response(200, "OK")?,
        Err(r) => {
            let b = txn.response(r.status, r.reason)?;
            match r.header {
                Some((name, value)) => b.header(name, value)?,
                None => b,
            }
        }
    };
    txn.respond(Message::parse(response.try_build()?)?).await?;
    Ok(())
}

/// The composing state with every peer, both ways (RFC 3994 §3.2, §3.3).
#[derive(Debug, Default)]
pub(crate) struct Messages {
    /// Peers composing to us, and when their active state lapses.
    remote: HashMap<String, Instant>,
    /// Peers we compose to.
    local: HashMap<String, Composer>,
}

/// Our active state towards one peer.
#[derive(Debug, Clone, Copy)]
struct Composer {
    /// When we tell the peer again that we are active.
    refresh_at: Instant,
    /// When we go idle unless the user shows activity before.
    idle_at: Instant,
}

impl Messages {
    /// Takes a MESSAGE: its events (the text, a typing change) go to `events`; the result is
    /// the answer it gets.
    pub(crate) fn receive(
        &mut self,
        now: Instant,
        request: &Message,
        events: &mut VecDeque<Event>,
    ) -> std::result::Result<(), Refusal> {
        let encodings = request
            .headers_named(HeaderName::ContentEncoding)
            .map(|h| h.value);
        let content = read(
            request.header_str(HeaderName::ContentType),
            encodings,
            request.body(),
        )?;
        let from = request.from_header().ok();
        let sender = from
            .as_ref()
            .map(|f| f.uri_str().to_owned())
            .unwrap_or_default();
        match content {
            Content::Text { content_type, text } => {
                // §3.3: a content message ends the sender's active state.
                if self.remote.remove(&sender).is_some() {
                    events.push_back(Event::Typing {
                        from: sender.clone(),
                        active: false,
                    });
                }
                events.push_back(Event::Message {
                    from: sender,
                    name: from.and_then(|f| f.display_name().map(|n| n.into_owned())),
                    content_type,
                    text,
                });
            }
            Content::Composing(c) => self.remote_composing(now, sender, c, events),
            Content::Empty => {}
        }
        Ok(())
    }

    /// A peer's indication (§3.3): active until its refresh lapses (or [`REMOTE_REFRESH`]);
    /// only changes of state become events.
    pub(crate) fn remote_composing(
        &mut self,
        now: Instant,
        from: String,
        c: Composing,
        events: &mut VecDeque<Event>,
    ) {
        if !c.active {
            if self.remote.remove(&from).is_some() {
                events.push_back(Event::Typing {
                    from,
                    active: false,
                });
            }
            return;
        }
        let until = now + c.refresh.unwrap_or(REMOTE_REFRESH).min(MAX_REFRESH);
        let room = self.remote.len() < MAX_PEERS;
        match self.remote.get_mut(&from) {
            Some(at) => *at = until,
            None if room => {
                self.remote.insert(from.clone(), until);
                events.push_back(Event::Typing { from, active: true });
            }
            None => {}
        }
    }

    /// The user composes to `to` (`active`) or stopped: the document to send now, if the
    /// state towards `to` changed (§3.2). While active, the indication is refreshed every
    /// [`COMPOSING_REFRESH`], and it goes idle [`COMPOSING_IDLE`] after the last call with
    /// `active`.
    pub(crate) fn typing(&mut self, now: Instant, to: &str, active: bool) -> Option<String> {
        if !active {
            return self.local.remove(to).map(|_| composing_document(false));
        }
        let room = self.local.len() < MAX_PEERS;
        match self.local.get_mut(to) {
            Some(c) => {
                c.idle_at = now + COMPOSING_IDLE;
                None
            }
            None if room => {
                self.local.insert(
                    to.to_owned(),
                    Composer {
                        refresh_at: now + COMPOSING_REFRESH,
                        idle_at: now + COMPOSING_IDLE,
                    },
                );
                Some(composing_document(true))
            }
            // Too many at once: said as it is asked, without refreshes.
            None => Some(composing_document(true)),
        }
    }

    /// A message was sent to `to`: the peer now takes us as idle without being told (§3.2).
    pub(crate) fn sent(&mut self, to: &str) {
        self.local.remove(to);
    }

    /// The next deadline, if any.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let remote = self.remote.values().copied();
        let local = self.local.values().map(|c| c.refresh_at.min(c.idle_at));
        remote.chain(local).min()
    }

    /// Carries out what is due at `now`: peers whose active state lapsed become idle events;
    /// `(to, document)` pairs to send go to `out`.
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        events: &mut VecDeque<Event>,
        out: &mut Vec<(String, String)>,
    ) {
        let mut lapsed: Vec<String> = Vec::new();
        self.remote.retain(|from, until| {
            let keep = *until > now;
            if !keep {
                lapsed.push(from.clone());
            }
            keep
        });
        lapsed.sort();
        events.extend(lapsed.into_iter().map(|from| Event::Typing {
            from,
            active: false,
        }));
        let mut idle = Vec::new();
        for (to, c) in &mut self.local {
            if c.idle_at <= now {
                idle.push(to.clone());
            } else if c.refresh_at <= now {
                c.refresh_at = now + COMPOSING_REFRESH;
                out.push((to.clone(), composing_document(true)));
            }
        }
        idle.sort();
        for to in idle {
            self.local.remove(&to);
            out.push((to, composing_document(false)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn text(content_type: &str, body: &[u8]) -> std::result::Result<Content, Refusal> {
        read(Some(content_type), [], body)
    }

    fn shown(content_type: &str, body: &[u8]) -> String {
        match text(content_type, body) {
            Ok(Content::Text { text, .. }) => text,
            other => panic!("{content_type}: {other:?}"),
        }
    }

    #[test]
    fn text_is_decoded_by_its_charset() {
        assert_eq!(shown("text/plain", "grüß".as_bytes()), "grüß");
        assert_eq!(shown("text/plain;charset=UTF-8", "grüß".as_bytes()), "grüß");
        assert_eq!(
            shown("text/plain; charset=ISO-8859-1", b"gr\xfc\xdf dich"),
            "grüß dich"
        );
        assert_eq!(shown("TEXT/Plain ; CharSet=\"latin1\"", b"caf\xe9"), "café");
        assert_eq!(shown("text/plain;charset=us-ascii", b"plain"), "plain");
        // A UTF-8 byte order mark is not part of the text.
        assert_eq!(shown("text/plain", b"\xef\xbb\xbfhi"), "hi");
        assert_eq!(
            shown("text/plain;format=flowed;charset=windows-1252", b"\x80 5"),
            "€ 5"
        );
    }

    #[test]
    fn text_that_is_not_in_its_charset_or_in_an_unknown_one_is_refused() {
        assert_eq!(text("text/plain", b"caf\xe9"), Err(Refusal::MALFORMED_TEXT));
        assert_eq!(
            text("text/plain;charset=utf-8", b"\xff\xfe"),
            Err(Refusal::MALFORMED_TEXT)
        );
        assert_eq!(
            text("text/plain;charset=klingon", b"x"),
            Err(Refusal::CHARSET)
        );
        // The WHATWG "replacement" encoding would turn the text into one U+FFFD.
        assert_eq!(
            text("text/plain;charset=iso-2022-kr", b"x"),
            Err(Refusal::CHARSET)
        );
        // An unterminated quoted value is no charset at all: the default applies.
        assert_eq!(shown("text/plain;charset=\"utf-8", b"ok"), "ok");
    }

    #[test]
    fn other_types_are_refused_with_accept() {
        for t in [
            "message/imdn+xml",
            "message/cpim",
            "application/vnd.example",
            "text/html",
            "text",
            "",
            "text/plain/extra",
        ] {
            let refusal = text(t, b"<x/>").unwrap_err();
            assert_eq!(refusal.status, 415, "{t}");
            assert_eq!(refusal.header, Some(("Accept", ACCEPT)), "{t}");
        }
        // A body without a type cannot be read; an empty one needs none.
        assert_eq!(read(None, [], b"x"), Err(Refusal::MEDIA_TYPE));
        assert_eq!(read(None, [], b""), Ok(Content::Empty));
    }

    #[test]
    fn encodings_other_than_identity_are_refused_with_accept_encoding() {
        let deflate: [&[u8]; 1] = [b"deflate"];
        let refused = read(Some("message/imdn+xml"), deflate, b"x\x9c").unwrap_err();
        assert_eq!(refused.status, 415);
        assert_eq!(refused.header, Some(("Accept-Encoding", "identity")));
        let gzip: [&[u8]; 2] = [b"identity", b"Identity, gzip"];
        assert_eq!(read(Some("text/plain"), gzip, b"x"), Err(Refusal::ENCODING));
        let identity: [&[u8]; 1] = [b" IDENTITY "];
        assert!(matches!(
            read(Some("text/plain"), identity, b"x"),
            Ok(Content::Text { .. })
        ));
        let binary: [&[u8]; 1] = [b"\xff"];
        assert_eq!(
            read(Some("text/plain"), binary, b"x"),
            Err(Refusal::ENCODING)
        );
    }

    #[test]
    fn composing_matches_without_case_and_keeps_its_refresh() {
        let doc = composing_document(true);
        assert_eq!(
            text("Application/IM-isComposing+XML", doc.as_bytes()),
            Ok(Content::Composing(Composing {
                active: true,
                refresh: Some(ANNOUNCED_REFRESH)
            }))
        );
        assert_eq!(
            text(
                COMPOSING_TYPE,
                b"<isComposing><state>maybe</state></isComposing>"
            ),
            Err(Refusal::MALFORMED_COMPOSING)
        );
    }

    #[test]
    fn composing_round_trip() {
        let active = parse_composing(composing_document(true).as_bytes()).unwrap();
        assert!(active.active);
        let idle = parse_composing(composing_document(false).as_bytes()).unwrap();
        assert_eq!(
            idle,
            Composing {
                active: false,
                refresh: None
            }
        );
    }

    #[test]
    fn rfc3994_example_and_hostile_documents() {
        let example = br#"<?xml version="1.0" encoding="UTF-8"?>
   <isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
     xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
     xsi:schemaLocation="urn:ietf:params:xml:ns:im-composing iscomposing.xsd">
     <state>active</state>
     <contenttype>text/html</contenttype>
     <refresh>90</refresh>
   </isComposing>"#;
        assert_eq!(
            parse_composing(example),
            Some(Composing {
                active: true,
                refresh: Some(secs(90))
            })
        );
        let dtd =
            br#"<!DOCTYPE x [<!ENTITY a "active">]><isComposing><state>&a;</state></isComposing>"#;
        assert_eq!(parse_composing(dtd), None);
        assert_eq!(parse_composing(&vec![b' '; MAX_COMPOSING + 1]), None);
        assert_eq!(
            parse_composing(b"<isComposing><state>maybe</state></isComposing>"),
            None
        );
        assert_eq!(parse_composing(b"\xff\xfe<"), None);
        let zero = b"<isComposing><state>active</state><refresh>0</refresh></isComposing>";
        assert_eq!(parse_composing(zero).unwrap().refresh, None);
    }

    fn typing(from: &str, active: bool) -> Event {
        Event::Typing {
            from: from.into(),
            active,
        }
    }

    fn active(refresh: Option<u64>) -> Composing {
        Composing {
            active: true,
            refresh: refresh.map(secs),
        }
    }

    #[test]
    fn a_peer_goes_idle_when_its_refresh_lapses() {
        let t0 = Instant::now();
        let mut m = Messages::default();
        let mut events = VecDeque::new();
        let mut out = Vec::new();
        m.remote_composing(t0, "sip:a@x".into(), active(Some(90)), &mut events);
        m.remote_composing(t0, "sip:b@x".into(), active(None), &mut events);
        assert_eq!(
            Vec::from(events.split_off(0)),
            [typing("sip:a@x", true), typing("sip:b@x", true)]
        );
        // A refresh renews without a second event.
        m.remote_composing(
            t0 + secs(60),
            "sip:a@x".into(),
            active(Some(90)),
            &mut events,
        );
        assert!(events.is_empty());
        assert_eq!(m.poll_timeout(), Some(t0 + REMOTE_REFRESH));
        m.handle_timeout(t0 + REMOTE_REFRESH, &mut events, &mut out);
        assert_eq!(Vec::from(events.split_off(0)), [typing("sip:b@x", false)]);
        assert_eq!(m.poll_timeout(), Some(t0 + secs(150)));
        m.handle_timeout(t0 + secs(149), &mut events, &mut out);
        assert!(events.is_empty());
        m.handle_timeout(t0 + secs(150), &mut events, &mut out);
        assert_eq!(Vec::from(events.split_off(0)), [typing("sip:a@x", false)]);
        assert_eq!(m.poll_timeout(), None);
        assert!(out.is_empty());
    }

    #[test]
    fn idle_from_the_peer_ends_its_active_state() {
        let t0 = Instant::now();
        let mut m = Messages::default();
        let mut events = VecDeque::new();
        m.remote_composing(t0, "sip:a@x".into(), active(None), &mut events);
        let idle = Composing {
            active: false,
            refresh: None,
        };
        m.remote_composing(t0, "sip:a@x".into(), idle, &mut events);
        // Idle from one who was not active says nothing new.
        m.remote_composing(t0, "sip:a@x".into(), idle, &mut events);
        assert_eq!(
            Vec::from(events.split_off(0)),
            [typing("sip:a@x", true), typing("sip:a@x", false)]
        );
        assert_eq!(m.poll_timeout(), None);
    }

    #[test]
    fn our_active_state_is_refreshed_while_composing_and_lapses_to_idle() {
        let t0 = Instant::now();
        let mut m = Messages::default();
        let mut events = VecDeque::new();
        let mut out = Vec::new();
        assert_eq!(
            m.typing(t0, "sip:b@x", true),
            Some(composing_document(true))
        );
        // Keystrokes every 10 s keep us active without sending anything…
        let mut now = t0;
        while now < t0 + secs(130) {
            now += secs(10);
            assert_eq!(m.typing(now, "sip:b@x", true), None);
            if let Some(at) = m.poll_timeout().filter(|at| *at <= now) {
                m.handle_timeout(at, &mut events, &mut out);
            }
        }
        // …but for one refresh at 120 s.
        assert_eq!(
            out.split_off(0),
            [("sip:b@x".to_owned(), composing_document(true))]
        );
        // Then nothing for 15 s: idle is sent.
        let last = now;
        assert_eq!(m.poll_timeout(), Some(last + COMPOSING_IDLE));
        m.handle_timeout(last + COMPOSING_IDLE, &mut events, &mut out);
        assert_eq!(out, [("sip:b@x".to_owned(), composing_document(false))]);
        assert_eq!(m.poll_timeout(), None);
        assert!(events.is_empty());
    }

    #[test]
    fn a_peer_composing_as_we_do_never_lapses_between_refreshes() {
        // Our composer and a receiver like us, with 2 s in transit each way.
        let t0 = Instant::now();
        let (mut ours, mut theirs) = (Messages::default(), Messages::default());
        let (mut events, mut out) = (VecDeque::new(), Vec::new());
        // In time order: what falls due at the receiver before the document arrives, first.
        let deliver = |doc: &str, sent: Instant, theirs: &mut Messages, events: &mut _| {
            let arrival = sent + secs(2);
            if let Some(at) = theirs.poll_timeout().filter(|at| *at <= arrival) {
                theirs.handle_timeout(at, events, &mut Vec::new());
            }
            let c = parse_composing(doc.as_bytes()).unwrap();
            theirs.remote_composing(arrival, "sip:a@x".into(), c, events);
        };
        let first = ours.typing(t0, "sip:b@x", true).unwrap();
        deliver(&first, t0, &mut theirs, &mut events);
        // The user keeps typing for ten minutes, a keystroke every 5 s.
        let mut now = t0;
        while now < t0 + secs(600) {
            now += secs(5);
            assert_eq!(ours.typing(now, "sip:b@x", true), None);
            if let Some(at) = ours.poll_timeout().filter(|at| *at <= now) {
                ours.handle_timeout(at, &mut VecDeque::new(), &mut out);
                for (_, doc) in out.drain(..) {
                    deliver(&doc, at, &mut theirs, &mut events);
                }
            }
            if let Some(at) = theirs.poll_timeout().filter(|at| *at <= now) {
                theirs.handle_timeout(at, &mut events, &mut Vec::new());
            }
        }
        assert_eq!(Vec::from(events), [typing("sip:a@x", true)]);
    }

    #[test]
    fn stopping_or_sending_a_message_ends_our_active_state() {
        let t0 = Instant::now();
        let mut m = Messages::default();
        assert!(m.typing(t0, "sip:b@x", true).is_some());
        assert_eq!(
            m.typing(t0, "sip:b@x", false),
            Some(composing_document(false))
        );
        assert_eq!(m.typing(t0, "sip:b@x", false), None);
        assert!(m.typing(t0, "sip:b@x", true).is_some());
        m.sent("sip:b@x");
        assert_eq!(m.poll_timeout(), None);
        assert_eq!(m.typing(t0, "sip:b@x", false), None);
    }

    fn incoming(headers: &str, body: &[u8]) -> Message {
        let mut wire = format!(
            "MESSAGE sip:bob@example.test SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
             From: \"Alice\" <sip:alice@example.test>;tag=a\r\n\
             To: <sip:bob@example.test>\r\n\
             Call-ID: c@192.0.2.1\r\n\
             CSeq: 1 MESSAGE\r\n\
             {headers}Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        wire.extend_from_slice(body);
        Message::parse(Bytes::from(wire)).unwrap()
    }

    #[test]
    fn a_message_from_a_composing_peer_ends_its_typing_first() {
        let t0 = Instant::now();
        let mut m = Messages::default();
        let mut events = VecDeque::new();
        let active = composing_document(true);
        let typing_on = incoming("c: application/im-iscomposing+xml\r\n", active.as_bytes());
        assert_eq!(m.receive(t0, &typing_on, &mut events), Ok(()));
        let text = incoming(
            "Content-Type: text/plain;charset=iso-8859-1\r\n",
            b"caf\xe9",
        );
        assert_eq!(m.receive(t0, &text, &mut events), Ok(()));
        assert_eq!(
            Vec::from(events.split_off(0)),
            [
                typing("sip:alice@example.test", true),
                typing("sip:alice@example.test", false),
                Event::Message {
                    from: "sip:alice@example.test".into(),
                    name: Some("Alice".into()),
                    content_type: "text/plain;charset=iso-8859-1".into(),
                    text: "café".into(),
                }
            ]
        );
        assert_eq!(m.poll_timeout(), None);
        // Refused content changes nothing and shows nothing.
        let imdn = incoming(
            "Content-Type: message/imdn+xml\r\nContent-Encoding: deflate\r\n",
            b"x\x9c",
        );
        assert_eq!(m.receive(t0, &imdn, &mut events), Err(Refusal::ENCODING));
        assert!(events.is_empty());
    }

    #[test]
    fn peers_are_bounded() {
        let t0 = Instant::now();
        let mut m = Messages::default();
        let mut events = VecDeque::new();
        for i in 0..MAX_PEERS + 10 {
            m.remote_composing(t0, format!("sip:{i}@x"), active(None), &mut events);
        }
        assert_eq!(m.remote.len(), MAX_PEERS);
        assert_eq!(events.len(), MAX_PEERS);
    }
}
