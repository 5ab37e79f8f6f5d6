//! One *full parse* per parser: the message plus the typed views a proxy reads on every message.

use std::fmt;

use bytes::Bytes;

/// The fields a full parse extracts, borrowed from whichever parser produced them.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    /// `branch` parameter of the top Via.
    pub branch: Option<&'a str>,
    /// `tag` parameter of From.
    pub from_tag: Option<&'a str>,
    /// `tag` parameter of To.
    pub to_tag: Option<&'a str>,
    /// Call-ID.
    pub call_id: &'a str,
    /// CSeq sequence number.
    pub cseq_seq: u32,
    /// CSeq method.
    pub cseq_method: &'a str,
    /// URI of the first Contact, if any.
    pub contact_uri: Option<UriRef<'a>>,
    /// Length of the body in bytes.
    pub body_len: usize,
}

/// A parsed URI as one parser hands it out.
#[derive(Debug, Clone, Copy)]
pub enum UriRef<'a> {
    /// sip-parse's URI view.
    SipParse(sip_parse::Uri<'a>),
    /// rsip's URI.
    Rsip(&'a rsip::Uri),
    /// Sofia-SIP's `url_t`.
    #[cfg(feature = "sofia")]
    Sofia(crate::sofia::SofiaUrl<'a>),
}

impl UriRef<'_> {
    /// The URI as rsip prints it, so that URIs differing only where URIs are case-insensitive
    /// (rsip upper-cases `transport=`) compare equal; the parser's own text when rsip cannot
    /// parse it.
    fn canonical(self) -> String {
        let text = match self {
            UriRef::SipParse(uri) => uri.to_string(),
            UriRef::Rsip(uri) => return uri.to_string(),
            #[cfg(feature = "sofia")]
            UriRef::Sofia(url) => url.print(),
        };
        rsip::Uri::try_from(text.as_str()).map_or(text, |uri| uri.to_string())
    }
}

/// [`Fields`] copied out, to compare what the parsers extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// See [`Fields::branch`].
    pub branch: Option<String>,
    /// See [`Fields::from_tag`].
    pub from_tag: Option<String>,
    /// See [`Fields::to_tag`].
    pub to_tag: Option<String>,
    /// See [`Fields::call_id`].
    pub call_id: String,
    /// See [`Fields::cseq_seq`].
    pub cseq_seq: u32,
    /// See [`Fields::cseq_method`].
    pub cseq_method: String,
    /// See [`Fields::contact_uri`].
    pub contact_uri: Option<String>,
    /// See [`Fields::body_len`].
    pub body_len: usize,
}

impl Fields<'_> {
    /// Copies the fields out.
    pub fn to_summary(&self) -> Summary {
        Summary {
            branch: self.branch.map(str::to_owned),
            from_tag: self.from_tag.map(str::to_owned),
            to_tag: self.to_tag.map(str::to_owned),
            call_id: self.call_id.to_owned(),
            cseq_seq: self.cseq_seq,
            cseq_method: self.cseq_method.to_owned(),
            contact_uri: self.contact_uri.map(UriRef::canonical),
            body_len: self.body_len,
        }
    }
}

/// Why a parser could not fully parse a message.
#[derive(Debug)]
pub enum Failure {
    /// sip-parse rejected the message or a header.
    SipParse(sip_parse::ParseError),
    /// rsip rejected the message or a header.
    Rsip(rsip::Error),
    /// A header every full parse needs is absent.
    Missing(&'static str),
    /// Another parser refused the message, for the reason given.
    Other(&'static str),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::SipParse(err) => write!(f, "{err}"),
            Failure::Rsip(err) => write!(f, "{err}"),
            Failure::Missing(header) => write!(f, "no {header} header"),
            Failure::Other(reason) => f.write_str(reason),
        }
    }
}

impl std::error::Error for Failure {}

impl From<sip_parse::ParseError> for Failure {
    fn from(err: sip_parse::ParseError) -> Self {
        Failure::SipParse(err)
    }
}

impl From<rsip::Error> for Failure {
    fn from(err: rsip::Error) -> Self {
        Failure::Rsip(err)
    }
}

/// A parser measured by the benches, split in two steps so the typed views can be measured (and
/// their allocations counted) apart from the parse.
pub trait FullParse {
    /// Name in reports: `sip-parse`, `rsip`, `sofia-sip`.
    const NAME: &'static str;
    /// Whether the counting allocator sees the parser's allocations (not so for C's `malloc`).
    const COUNTS_ALLOCATIONS: bool = true;
    /// What the parser makes of the bytes before any typed view.
    type Message;

    /// Parses one datagram.
    fn parse(buf: &Bytes) -> Result<Self::Message, Failure>;

    /// Extracts the [`Fields`] through the parser's typed views and hands them to `f`.
    fn extract<R>(msg: &Self::Message, f: impl FnOnce(Fields<'_>) -> R) -> Result<R, Failure>;

    /// [`parse`](Self::parse) then [`extract`](Self::extract).
    fn full<R>(buf: &Bytes, f: impl FnOnce(Fields<'_>) -> R) -> Result<R, Failure> {
        Self::extract(&Self::parse(buf)?, f)
    }
}

/// This workspace's parser, `sip-parse`.
#[derive(Debug, Clone, Copy)]
pub struct SipParse;

/// `rsip` 0.4.
#[derive(Debug, Clone, Copy)]
pub struct Rsip;

impl FullParse for SipParse {
    const NAME: &'static str = "sip-parse";
    type Message = sip_parse::Message;

    fn parse(buf: &Bytes) -> Result<Self::Message, Failure> {
        Ok(sip_parse::Message::parse(buf.clone())?)
    }

    fn extract<R>(msg: &Self::Message, f: impl FnOnce(Fields<'_>) -> R) -> Result<R, Failure> {
        let cseq = msg.cseq()?;
        // rsip parses the Contact URI; so does this side, rather than handing out its text.
        let contact_uri = match msg.contacts().next().transpose()? {
            Some(contact) => contact.address().map(|a| a.uri()).transpose()?,
            None => None,
        };
        Ok(f(Fields {
            branch: msg.top_via()?.branch(),
            from_tag: msg.from_header()?.tag(),
            to_tag: msg.to_header()?.tag(),
            call_id: msg.call_id()?,
            cseq_seq: cseq.seq,
            cseq_method: cseq.method.as_str(),
            contact_uri: contact_uri.map(UriRef::SipParse),
            body_len: msg.body().len(),
        }))
    }
}

impl FullParse for Rsip {
    const NAME: &'static str = "rsip";
    type Message = rsip::SipMessage;

    fn parse(buf: &Bytes) -> Result<Self::Message, Failure> {
        Ok(rsip::SipMessage::try_from(&buf[..])?)
    }

    fn extract<R>(msg: &Self::Message, f: impl FnOnce(Fields<'_>) -> R) -> Result<R, Failure> {
        use rsip::Header;
        use rsip::message::{HasHeaders, HeadersExt};
        use rsip::prelude::{ToTypedHeader, UntypedHeader};

        let via = msg.via_header()?.typed()?;
        let from = msg.from_header()?.typed()?;
        let to = msg.to_header()?.typed()?;
        let cseq = msg.cseq_header()?.typed()?;
        let contact = msg
            .headers()
            .iter()
            .find_map(|header| match header {
                Header::Contact(contact) => Some(contact.typed()),
                _ => None,
            })
            .transpose()?;
        Ok(f(Fields {
            branch: via.branch().map(|branch| branch.value()),
            from_tag: from.tag().map(|tag| tag.value()),
            to_tag: to.tag().map(|tag| tag.value()),
            call_id: msg.call_id_header()?.value(),
            cseq_seq: cseq.seq,
            cseq_method: rsip_method_name(cseq.method),
            contact_uri: contact.as_ref().map(|contact| UriRef::Rsip(&contact.uri)),
            body_len: msg.body().len(),
        }))
    }
}

/// rsip's methods are a closed enum whose only text form is `Display`; this avoids a `String`.
fn rsip_method_name(method: rsip::Method) -> &'static str {
    use rsip::Method::*;
    match method {
        Ack => "ACK",
        Bye => "BYE",
        Cancel => "CANCEL",
        Info => "INFO",
        Invite => "INVITE",
        Message => "MESSAGE",
        Notify => "NOTIFY",
        Options => "OPTIONS",
        PRack => "PRACK",
        Publish => "PUBLISH",
        Refer => "REFER",
        Register => "REGISTER",
        Subscribe => "SUBSCRIBE",
        Update => "UPDATE",
    }
}
