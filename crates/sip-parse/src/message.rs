//! The message: start line, headers and body as ranges into one shared buffer.

use bytes::Bytes;
use memchr::memchr;

use crate::chars::{self, TOKEN};
use crate::line_ends::LineEnds;
use crate::{ErrorKind, HeaderName, Method, ParseConfig, ParseError};

/// A byte range of the message buffer. `u32` keeps [`Message`] small; the configured size limit
/// is far below 4 GiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl Span {
    fn new(start: usize, end: usize) -> Self {
        // Inputs are capped far below u32::MAX by `ParseConfig::max_message_size` checks.
        Self {
            start: start as u32,
            end: end as u32,
        }
    }
    pub(crate) fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawHeader {
    pub(crate) name: HeaderName,
    pub(crate) name_span: Span,
    pub(crate) value: Span,
}

impl RawHeader {
    /// A placeholder for unused slots: all its bytes are zero, so an array of them is a memset.
    const UNUSED: Self = Self {
        name: HeaderName::Accept,
        name_span: Span { start: 0, end: 0 },
        value: Span { start: 0, end: 0 },
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StartLine {
    Request { method: Span, uri: Span },
    Response { code: u16, reason: Span },
}

/// A parsed SIP message (RFC 3261 §7): the start line, the header fields in order and the body,
/// all kept as ranges into one [`Bytes`] buffer.
///
/// The message owns its buffer, so it is `'static`, can be sent across tasks, and cloning it
/// copies no text. Typed header views ([`Message::top_via`], [`Message::cseq`], …) are parsed on
/// demand from the stored text and borrow from it.
///
/// ```
/// use bytes::Bytes;
/// use sip_parse::{HeaderName, Message, Method};
///
/// let msg = Message::parse(Bytes::from_static(
///     b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
///       Via: SIP/2.0/UDP pc.example.com;branch=z9hG4bK776asdhds\r\n\
///       From: <sip:alice@example.com>;tag=1928301774\r\n\
///       To: <sip:bob@example.com>\r\n\
///       Call-ID: a84b4c76e66710\r\n\
///       CSeq: 63104 OPTIONS\r\n\
///       Max-Forwards: 70\r\n\
///       Content-Length: 0\r\n\r\n",
/// ))?;
/// assert_eq!(msg.method(), Some(Method::Options));
/// assert_eq!(msg.top_via()?.branch(), Some("z9hG4bK776asdhds"));
/// assert_eq!(msg.from_header()?.tag(), Some("1928301774"));
/// assert_eq!(msg.cseq()?.seq, 63104);
/// assert_eq!(msg.header_str(HeaderName::CallId), Some("a84b4c76e66710"));
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Clone)]
pub struct Message {
    buf: Bytes,
    start: StartLine,
    headers: Vec<RawHeader>,
    /// Where the first field of each [`HOT`] header is in `headers`.
    first: [u8; HOT.len()],
    /// Where the body starts; it ends where `buf` does. (With `first`, the message stays the
    /// size it had before `first`, which the transport's and transactions' events count on.)
    body_start: u32,
}

/// The headers the typed views read on every message (the transaction key, the dialog's and
/// the target's): the parse notes where the first of each is, so a view finds it without a scan.
const HOT: [HeaderName; 6] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::Contact,
];

/// The slot of `name` in [`HOT`] and [`First`]; `HOT.len()` for any other name. A `match`, so
/// that a view asking for a constant name gets a constant slot.
#[inline(always)]
const fn hot_slot(name: HeaderName) -> usize {
    match name {
        HeaderName::Via => 0,
        HeaderName::From => 1,
        HeaderName::To => 2,
        HeaderName::CallId => 3,
        HeaderName::CSeq => 4,
        HeaderName::Contact => 5,
        _ => HOT.len(),
    }
}

/// [`hot_slot`] as a table indexed by the name's discriminant (a fieldless enum's cast), for
/// the parser's loop over fields.
static HOT_SLOTS: [u8; 256] = {
    let mut slots = [HOT.len() as u8; 256];
    let mut i = 0;
    while i < HOT.len() {
        slots[HOT[i] as usize] = i as u8;
        i += 1;
    }
    slots
};

/// The index of the first field of each [`HOT`] header, [`First::NONE`] where there is none
/// among the first 255 fields; the last slot collects every other name and is never read. One
/// byte a slot keeps the message (and the transport's events that carry it) small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct First([u8; HOT.len() + 1]);

impl First {
    const NONE: u8 = u8::MAX;
    const EMPTY: Self = Self([Self::NONE; HOT.len() + 1]);
}

/// The outcome of [`Message::parse_stream`].
#[derive(Debug, Clone)]
pub enum Streamed {
    /// A whole message, and how many bytes of the input it used (leading CRLFs included).
    Complete(Message, usize),
    /// The input ends inside a message: at least this many more bytes are needed.
    Incomplete(usize),
}

/// A header field as it appears in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The recognized name ([`HeaderName::Other`] for extension headers).
    pub name: HeaderName,
    /// The name as written (maybe compact or oddly cased).
    pub raw_name: &'a [u8],
    /// The value as written, leading and trailing white space removed; folded lines keep their
    /// CRLF and indentation.
    pub value: &'a [u8],
    /// Byte offset of `value` in the message.
    pub offset: usize,
}

impl Header<'_> {
    /// The value as text, if it is UTF-8.
    pub fn value_str(&self) -> Option<&str> {
        std::str::from_utf8(self.value).ok()
    }
}

struct Head {
    start: StartLine,
    headers: Vec<RawHeader>,
    first: First,
    /// Offset of the first body byte.
    len: usize,
    content_length: Option<usize>,
}

enum HeadError {
    /// The header section has not ended yet.
    Incomplete,
    Error(ParseError),
}

impl From<ParseError> for HeadError {
    fn from(e: ParseError) -> Self {
        Self::Error(e)
    }
}

/// How many fields [`Fields`] holds on the stack before it moves them to the heap.
const STACK_HEADERS: usize = 32;

impl Message {
    /// Parses one datagram's worth of bytes with the default [`ParseConfig`]. Without a
    /// Content-Length the body is the rest of the datagram; bytes after the body are ignored
    /// (RFC 3261 §18.3).
    pub fn parse(buf: Bytes) -> Result<Self, ParseError> {
        Self::parse_with(buf, &ParseConfig::default())
    }

    /// [`Message::parse`] with explicit limits.
    pub fn parse_with(buf: Bytes, cfg: &ParseConfig) -> Result<Self, ParseError> {
        if buf.len() > cfg.max_message_size {
            // A datagram cannot carry more; reading the first bytes would be wasted work.
            return Err(ParseError::new(
                ErrorKind::Limit("message size"),
                cfg.max_message_size,
            ));
        }
        let head = match parse_head(&buf, cfg) {
            Ok(h) => h,
            Err(HeadError::Error(e)) => return Err(e),
            Err(HeadError::Incomplete) => {
                return Err(ParseError::new(
                    ErrorKind::Truncated("no empty line ends the header section"),
                    buf.len(),
                ));
            }
        };
        let end = match head.content_length {
            Some(cl) => head
                .len
                .checked_add(cl)
                .filter(|&e| e <= buf.len())
                .ok_or_else(|| {
                    ParseError::new(
                        ErrorKind::Truncated("Content-Length is larger than the body"),
                        buf.len(),
                    )
                })?,
            None => buf.len(),
        };
        // Bytes after the body are dropped; the usual datagram has none, and then the buffer is
        // kept as it came, without a second handle on it.
        let buf = if end < buf.len() {
            buf.slice(..end)
        } else {
            buf
        };
        Ok(Self::assemble(buf, head))
    }

    /// Parses a borrowed datagram (copies it once into a new buffer).
    pub fn parse_slice(buf: &[u8]) -> Result<Self, ParseError> {
        Self::parse_slice_with(buf, &ParseConfig::default())
    }

    /// [`Message::parse_slice`] with explicit limits.
    pub fn parse_slice_with(buf: &[u8], cfg: &ParseConfig) -> Result<Self, ParseError> {
        if buf.len() > cfg.max_message_size {
            return Err(ParseError::new(
                ErrorKind::Limit("message size"),
                cfg.max_message_size,
            ));
        }
        Self::parse_with(Bytes::copy_from_slice(buf), cfg)
    }

    /// Parses the first message of a stream (TCP, TLS), for framing: returns the message and the
    /// bytes it used, or how many more bytes are needed. CRLFs before the start line are skipped
    /// (RFC 3261 §7.5; they are keep-alives, RFC 5626 §3.5.1). The body is exactly Content-Length
    /// bytes.
    ///
    /// Each call rescans the buffer; a transport reading small pieces should use
    /// [`StreamFramer`](crate::StreamFramer), which remembers how far it looked.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use sip_parse::{Message, Streamed};
    /// let wire = Bytes::from_static(b"\r\nSIP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nhi\r\n\r\n");
    /// match Message::parse_stream(&wire)? {
    ///     Streamed::Complete(msg, used) => {
    ///         assert_eq!(msg.body(), b"hi");
    ///         assert_eq!(used, wire.len() - 4);
    ///     }
    ///     Streamed::Incomplete(_) => unreachable!(),
    /// }
    /// let partial = wire.slice(..20);
    /// assert!(matches!(Message::parse_stream(&partial)?, Streamed::Incomplete(_)));
    /// # Ok::<(), sip_parse::ParseError>(())
    /// ```
    pub fn parse_stream(buf: &Bytes) -> Result<Streamed, ParseError> {
        Self::parse_stream_with(buf, &ParseConfig::default())
    }

    /// [`Message::parse_stream`] with explicit limits.
    pub fn parse_stream_with(buf: &Bytes, cfg: &ParseConfig) -> Result<Streamed, ParseError> {
        let skip = leading_crlfs(buf);
        let rest = &buf[skip..];
        match memchr::memmem::find(rest, b"\r\n\r\n") {
            Some(_) => {}
            None if rest.len() > cfg.max_message_size => {
                return Err(ParseError::new(
                    ErrorKind::Limit("message size"),
                    skip + cfg.max_message_size,
                ));
            }
            None => return Ok(Streamed::Incomplete(1)),
        }
        frame_stream(buf, skip, cfg)
    }

    fn assemble(buf: Bytes, head: Head) -> Self {
        // In a message of up to 254 fields, a header that is not there is noted at the end of the
        // list, where a lookup finds nothing; in a longer one it stays `NONE`, to be looked for.
        let absent = u8::try_from(head.headers.len()).unwrap_or(First::NONE);
        let [via, from, to, call_id, cseq, contact, _] = head
            .first
            .0
            .map(|at| if at == First::NONE { absent } else { at });
        Self {
            buf,
            start: head.start,
            headers: head.headers,
            first: [via, from, to, call_id, cseq, contact],
            // Inputs are capped far below u32::MAX (see `Span::new`).
            body_start: head.len as u32,
        }
    }

    /// The whole message, exactly as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The buffer holding the message (a cheap, reference-counted handle).
    pub fn bytes(&self) -> &Bytes {
        &self.buf
    }

    /// The bytes of `s` (every span of the message lies inside its buffer; a lookup that
    /// cannot fail, so that a view that does not read the text does not pay for it).
    #[inline]
    fn text(&self, s: Span) -> &[u8] {
        self.buf.get(s.range()).unwrap_or_default()
    }

    fn str(&self, s: Span) -> &str {
        // Start-line spans are checked to be UTF-8 when parsed.
        std::str::from_utf8(self.text(s)).unwrap_or_default()
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The method of a request; `None` for a response.
    pub fn method(&self) -> Option<Method<'_>> {
        match self.start {
            StartLine::Request { method, .. } => Some(
                Method::known(self.text(method))
                    .unwrap_or_else(|| Method::Extension(self.str(method))),
            ),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI as written; `None` for a response. Parse it with
    /// [`Uri::parse`](crate::Uri::parse).
    pub fn request_uri(&self) -> Option<&str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(self.str(uri)),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response; `None` for a request.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase of a response (may be empty); `None` for a request.
    pub fn reason(&self) -> Option<&str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(self.str(reason)),
            StartLine::Request { .. } => None,
        }
    }

    /// The body (empty when there is none).
    pub fn body(&self) -> &[u8] {
        self.buf.get(self.body_start as usize..).unwrap_or_default()
    }

    /// The body as a zero-copy [`Bytes`] handle.
    pub fn body_bytes(&self) -> Bytes {
        self.buf.slice(self.body_start as usize..)
    }

    /// All header fields, in order.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = Header<'_>> + '_ {
        self.headers.iter().map(|h| self.header_at(h))
    }

    fn header_at(&self, h: &RawHeader) -> Header<'_> {
        Header {
            name: h.name,
            raw_name: self.text(h.name_span),
            value: self.text(h.value),
            offset: h.value.start as usize,
        }
    }

    /// Every field called `name`, in order.
    pub fn headers_named(&self, name: HeaderName) -> impl Iterator<Item = Header<'_>> + '_ {
        let from = self.first_index(name).unwrap_or(0);
        self.headers
            .get(from..)
            .unwrap_or_default()
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| self.header_at(h))
    }

    /// Where the first field called `name` is, for a [`HOT`] name (`headers.len()` when there is
    /// none). `None` for other names, and for a hot one not among the first 255 fields of a
    /// longer message (they are looked for).
    #[inline]
    fn first_index(&self, name: HeaderName) -> Option<usize> {
        let slot = hot_slot(name);
        if slot == HOT.len() {
            return None;
        }
        match self.first[slot] {
            First::NONE => None,
            at => Some(usize::from(at)),
        }
    }

    /// Every field whose name is `name` (case-insensitive; the compact or long form of a known
    /// header finds both).
    pub fn headers_by_name<'s>(&'s self, name: &'s str) -> impl Iterator<Item = Header<'s>> + 's {
        let known = HeaderName::from_bytes(name.as_bytes());
        self.headers().filter(move |h| match known {
            HeaderName::Other => h.raw_name.eq_ignore_ascii_case(name.as_bytes()),
            k => h.name == k,
        })
    }

    /// The first field called `name`.
    #[inline]
    pub fn header(&self, name: HeaderName) -> Option<Header<'_>> {
        match self.first_index(name) {
            Some(at) => self.headers.get(at).map(|h| self.header_at(h)),
            None => self.find_header(name),
        }
    }

    /// The first field called `name`, looked for.
    fn find_header(&self, name: HeaderName) -> Option<Header<'_>> {
        self.headers_named(name).next()
    }

    /// The value of the first field called `name`, as text.
    pub fn header_str(&self, name: HeaderName) -> Option<&str> {
        self.header(name)
            .and_then(|h| std::str::from_utf8(h.value).ok())
    }

    /// How many header fields there are.
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }
}

impl Message {
    /// This message with the bytes `replaced`, which lie inside one field's value after its
    /// first byte, rewritten: `buf` is this message's bytes with `replaced` swapped for
    /// `new_len` others, which keep the field one field (no line of their own, no CRLF without
    /// white space after it). Every
    /// range is carried over, those after the rewrite shifted by the change in length, as a
    /// parse of `buf` would find them; the field's value ends at its last character that is not
    /// white space, as a parse trims it. When `replaced` is not so placed, `buf` comes back (the
    /// caller parses it instead).
    ///
    /// This is how a stamped top Via (RFC 3261 §18.2.1) comes without a second split of the
    /// message: [`TopVia::stamp`](crate::TopVia::stamp).
    pub(crate) fn rewritten(
        &self,
        buf: Bytes,
        replaced: std::ops::Range<usize>,
        new_len: usize,
    ) -> Result<Message, Bytes> {
        match self.rewritten_split(&buf, replaced, new_len) {
            Some((headers, grow)) => Ok(Message {
                buf,
                start: self.start,
                headers,
                first: self.first,
                body_start: self.body_start.wrapping_add(grow),
            }),
            None => Err(buf),
        }
    }

    /// The fields of [`Message::rewritten`], and the length change as a `u32` to add with
    /// wrapping (exact for ranges below 4 GiB).
    fn rewritten_split(
        &self,
        buf: &[u8],
        replaced: std::ops::Range<usize>,
        new_len: usize,
    ) -> Option<(Vec<RawHeader>, u32)> {
        let (a, b) = (replaced.start, replaced.end);
        let old_len = b.checked_sub(a)?;
        if buf.len() != (self.buf.len() - old_len).checked_add(new_len)? {
            return None;
        }
        // Fields lie in the order of their text: those before the holder keep their ranges,
        // those after it move by the length change.
        let holder = self
            .headers
            .iter()
            .position(|h| (h.value.start as usize) < a && b <= h.value.end as usize)?;
        let (before, rest) = self.headers.split_at(holder);
        let (held, after) = rest.split_first()?;
        let grow = (new_len as u32).wrapping_sub(old_len as u32);
        let shift = |s: Span| Span {
            start: s.start.wrapping_add(grow),
            end: s.end.wrapping_add(grow),
        };
        let mut value = held.value;
        if value.end as usize == b {
            // The rewrite ends the value: it ends where the new text's last character is, as a
            // parse trims it.
            let mut end = a + new_len;
            while end > value.start as usize
                && matches!(buf.get(end - 1), Some(b' ' | b'\t' | b'\r' | b'\n'))
            {
                end -= 1;
            }
            value.end = end as u32;
        } else {
            value.end = value.end.wrapping_add(grow);
        }
        let mut headers = Vec::with_capacity(self.headers.len());
        headers.extend_from_slice(before);
        headers.push(RawHeader { value, ..*held });
        headers.extend(after.iter().map(|h| RawHeader {
            name: h.name,
            name_span: shift(h.name_span),
            value: shift(h.value),
        }));
        Some((headers, grow))
    }

    /// Panics unless `self` and `other` hold the same bytes split the same way: start line,
    /// every field's name and value, the hot-header index and the body. For tests and fuzzing.
    #[cfg(any(test, fuzzing))]
    pub(crate) fn assert_same_split(&self, other: &Message) {
        assert_eq!(self.buf, other.buf);
        assert_eq!(self.start, other.start, "start line");
        assert_eq!(self.headers, other.headers, "fields");
        assert_eq!(self.first, other.first, "hot-header index");
        assert_eq!(self.body_start, other.body_start, "body start");
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("start_line", &String::from_utf8_lossy(self.start_line()))
            .field("headers", &self.headers.len())
            .field("body_len", &self.body().len())
            .finish()
    }
}

impl Message {
    /// The start line, without its CRLF.
    pub fn start_line(&self) -> &[u8] {
        let end = memchr(b'\r', &self.buf).unwrap_or(0);
        &self.buf[..end]
    }
}

impl PartialEq for Message {
    /// Two messages are equal when their bytes are.
    fn eq(&self, other: &Self) -> bool {
        self.buf == other.buf
    }
}
impl Eq for Message {}

fn leading_crlfs(buf: &[u8]) -> usize {
    let mut n = 0;
    while buf.get(n..n + 2) == Some(b"\r\n") {
        n += 2;
    }
    n
}

/// A stream message's header section, parsed, and the total length of the message.
pub(crate) struct Framed {
    head: Head,
    pub(crate) total: usize,
}

/// Frames a stream message at the start of `rest` (leading CRLFs already skipped): `None` while
/// the header section is incomplete.
pub(crate) fn frame_head(rest: &[u8], cfg: &ParseConfig) -> Result<Option<Framed>, ParseError> {
    let head = match parse_head(rest, cfg) {
        Ok(h) => h,
        Err(HeadError::Error(e)) => return Err(e),
        Err(HeadError::Incomplete) => return Ok(None),
    };
    let cl = match head.content_length {
        Some(cl) => cl,
        None if cfg.stream_missing_content_length_is_zero => 0,
        None => {
            return Err(ParseError::new(
                ErrorKind::MissingHeader(HeaderName::ContentLength),
                head.len,
            ));
        }
    };
    let total = head.len.saturating_add(cl);
    if total > cfg.max_message_size {
        return Err(ParseError::new(ErrorKind::Limit("message size"), 0));
    }
    Ok(Some(Framed { head, total }))
}

impl Framed {
    /// The message, once `buf` holds exactly the framed bytes.
    pub(crate) fn into_message(self, buf: Bytes) -> Message {
        Message::assemble(buf, self.head)
    }
}

fn frame_stream(buf: &Bytes, skip: usize, cfg: &ParseConfig) -> Result<Streamed, ParseError> {
    let rest = &buf[skip..];
    match frame_head(rest, cfg).map_err(|e| e.shifted(skip))? {
        None => Ok(Streamed::Incomplete(1)),
        Some(f) if rest.len() < f.total => Ok(Streamed::Incomplete(f.total - rest.len())),
        Some(f) => {
            let total = f.total;
            Ok(Streamed::Complete(
                f.into_message(buf.slice(skip..skip + total)),
                skip + total,
            ))
        }
    }
}

/// Parses the start line and header section of `buf`.
#[inline(always)]
fn parse_head(buf: &[u8], cfg: &ParseConfig) -> Result<Head, HeadError> {
    let mut ends = LineEnds::new(buf);
    let (line, mut pos) = next_line(buf, 0, cfg, &mut ends)?;
    let line = &buf[..line];
    let start = match plain_start_line(line) {
        Some(start) => start,
        None => parse_start_line(line)?,
    };

    let mut fields = Fields::new();
    // Each field is kept as soon as its line is read; a folded line then extends the last one.
    // A Content-Length is checked once complete, when a line that is not a continuation comes.
    let mut length_open = false;
    let mut content_length: Option<usize> = None;

    loop {
        if let Some((field, next)) = plain_field(buf, pos, cfg, &mut ends) {
            if length_open {
                content_length = check_content_length(buf, fields.last(), content_length)?;
            }
            length_open = field.name == HeaderName::ContentLength;
            fields.push(field, cfg, next)?;
            pos = next;
            continue;
        }
        let (end, next) = next_line(buf, pos, cfg, &mut ends)?;
        let line = &buf[pos..end];
        match line.first() {
            None => {
                pos = next;
                break;
            }
            // A folded line continues the previous field (RFC 3261 §7.3.1).
            Some(b' ' | b'\t') => {
                let Some(h) = fields.last_mut() else {
                    return Err(ParseError::expected("header field name", pos).into());
                };
                let (from, to) = trim_ws(line);
                if from < to {
                    if h.value.start == h.value.end {
                        h.value.start = (pos + from) as u32;
                    }
                    h.value.end = (pos + to) as u32;
                }
            }
            Some(_) => {
                // The previous field is complete: check it before this line's errors.
                if length_open {
                    content_length = check_content_length(buf, fields.last(), content_length)?;
                }
                let field = parse_header_line(line, pos)?;
                length_open = field.name == HeaderName::ContentLength;
                fields.push(field, cfg, next)?;
            }
        }
        pos = next;
    }
    if length_open {
        content_length = check_content_length(buf, fields.last(), content_length)?;
    }
    let headers = fields.finish();
    Ok(Head {
        start,
        first: fields.first,
        headers,
        len: pos,
        content_length,
    })
}

/// The common field line in one pass: `name: value CRLF`, the colon right after the name.
/// `None` for anything else (an empty or folded line, white space before the colon, a missing
/// CR, no line end yet, an error), which [`parse_head`] then reads line by line the careful
/// way, so errors and their offsets do not depend on this shortcut.
#[inline(always)]
fn plain_field(
    buf: &[u8],
    pos: usize,
    cfg: &ParseConfig,
    ends: &mut LineEnds<'_>,
) -> Option<(RawHeader, usize)> {
    let line = buf.get(pos..)?;
    let (n, name) = plain_name(line)?;
    // Usually one SP, then the value.
    let mut value = n + 1 + usize::from(line.get(n + 1) == Some(&b' '));
    while matches!(line.get(value), Some(b' ' | b'\t')) {
        value += 1;
    }
    // The same window as `next_line`: the line may be `max_line_length` long plus its CRLF.
    let window = line.len().min(cfg.max_line_length.saturating_add(2));
    if value >= window {
        return None;
    }
    let lf = ends.find(pos + value, pos + window)? - pos;
    // `lf > value > n >= 1`, so the CR is at `value` or later when there is one.
    let cr = lf - 1;
    if line.get(cr) != Some(&b'\r') || cr < value {
        return None;
    }
    let mut end = cr;
    while end > value && matches!(line.get(end - 1), Some(b' ' | b'\t')) {
        end -= 1;
    }
    let field = RawHeader {
        name,
        name_span: Span::new(pos, pos + n),
        value: Span::new(pos + value, pos + end),
    };
    Some((field, pos + lf + 1))
}

/// The name of a [`plain_field`] line: `(length, name)` when a `:` follows a non-empty token
/// right away. The colon is looked for eight bytes a step among the first 16; a known name's
/// match then proves its bytes are token characters (`header_name::is` folds only letters), so
/// only an unknown name is scanned byte by byte.
#[inline(always)]
fn plain_name(line: &[u8]) -> Option<(usize, HeaderName)> {
    let (n, scanned) = match colon_in_first_16(line) {
        Some(n) => (n, false),
        None => {
            let n = chars::span_long(line, TOKEN);
            (line.get(n) == Some(&b':')).then_some((n, true))?
        }
    };
    let name = line.get(..n).filter(|name| !name.is_empty())?;
    let known = HeaderName::lookup(name);
    if known == HeaderName::Other && !scanned && chars::span_long(name, TOKEN) != n {
        return None;
    }
    Some((n, known))
}

/// Offset of the first `:` among the first 16 bytes of `line`, tested a word at a time; `None`
/// when there is none or `line` is shorter than a word where the search would go on.
#[inline(always)]
fn colon_in_first_16(line: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const COLONS: u64 = ONES * b':' as u64;
    for at in [0, 8] {
        let word: [u8; 8] = line.get(at..at + 8)?.try_into().ok()?;
        let x = u64::from_le_bytes(word) ^ COLONS;
        // The lowest zero byte of `x` (a colon) sets its top bit here; bytes above it may set
        // theirs falsely, which the lowest set bit ignores.
        let zero = x.wrapping_sub(ONES) & !x & (ONES << 7);
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
    }
    None
}

/// The header fields while parsing: on the stack, moved once into an exactly sized `Vec`, so a
/// typical message costs one heap allocation.
struct Fields {
    stack: [RawHeader; STACK_HEADERS],
    count: usize,
    spill: Vec<RawHeader>,
    first: First,
}

impl Fields {
    fn new() -> Self {
        Self {
            stack: [RawHeader::UNUSED; STACK_HEADERS],
            count: 0,
            spill: Vec::new(),
            first: First::EMPTY,
        }
    }

    /// The field added last.
    fn last(&self) -> Option<&RawHeader> {
        let i = self.count.checked_sub(1)?;
        match self.spill.last() {
            Some(h) => Some(h),
            None => self.stack.get(i),
        }
    }

    /// The field added last, to extend it with a folded line.
    fn last_mut(&mut self) -> Option<&mut RawHeader> {
        let i = self.count.checked_sub(1)?;
        match self.spill.last_mut() {
            Some(h) => Some(h),
            None => self.stack.get_mut(i),
        }
    }

    /// Adds `h`; `pos` is where the error points if there are too many fields.
    #[inline]
    fn push(&mut self, h: RawHeader, cfg: &ParseConfig, pos: usize) -> Result<(), ParseError> {
        if self.count >= cfg.max_headers {
            return Err(ParseError::new(ErrorKind::Limit("header count"), pos));
        }
        // Noted here, by table: a `match` on the name, or a pass over the fields once read,
        // cost more. A field past the 255th is not noted (`First::NONE`).
        let slot = &mut self.first.0[usize::from(HOT_SLOTS[h.name as usize])];
        if *slot == First::NONE {
            *slot = u8::try_from(self.count).unwrap_or(First::NONE);
        }
        if let Some(slot) = self.stack.get_mut(self.count) {
            *slot = h;
        } else {
            if self.spill.is_empty() {
                self.spill.reserve(STACK_HEADERS * 2);
                self.spill.extend_from_slice(&self.stack);
            }
            self.spill.push(h);
        }
        self.count += 1;
        Ok(())
    }

    /// The fields, in an exactly sized `Vec` unless they outgrew the stack.
    fn finish(&mut self) -> Vec<RawHeader> {
        if self.spill.is_empty() {
            self.stack[..self.count].to_vec()
        } else {
            std::mem::take(&mut self.spill)
        }
    }
}

/// Finds the line starting at `pos`: returns the offset of its CR and of the next line.
#[inline]
fn next_line(
    buf: &[u8],
    pos: usize,
    cfg: &ParseConfig,
    ends: &mut LineEnds<'_>,
) -> Result<(usize, usize), HeadError> {
    let rest = &buf[pos..];
    let window = rest.len().min(cfg.max_line_length.saturating_add(2));
    match ends.find(pos, pos + window).map(|lf| lf - pos) {
        Some(n) if n > 0 && rest[n - 1] == b'\r' => Ok((pos + n - 1, pos + n + 1)),
        Some(n) => Err(ParseError::expected("CRLF", pos + n).into()),
        None if window < rest.len() => {
            Err(ParseError::new(ErrorKind::Limit("line length"), pos).into())
        }
        None => Err(HeadError::Incomplete),
    }
}

/// The part of `s` without leading and trailing SP/HT, as `(start, end)` offsets.
#[inline]
fn trim_ws(s: &[u8]) -> (usize, usize) {
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t');
    let mut start = 0;
    while s.get(start).is_some_and(is_ws) {
        start += 1;
    }
    let mut end = s.len();
    while end > start && s.get(end - 1).is_some_and(is_ws) {
        end -= 1;
    }
    (start, end)
}

/// `field-name HCOLON field-value` on one physical line starting at `pos`.
fn parse_header_line(line: &[u8], pos: usize) -> Result<RawHeader, ParseError> {
    let n = chars::span(line, TOKEN);
    if n == 0 {
        return Err(ParseError::expected("header field name", pos));
    }
    // HCOLON = *( SP / HTAB ) ":" SWS
    let mut colon = n;
    while matches!(line.get(colon), Some(b' ' | b'\t')) {
        colon += 1;
    }
    if line.get(colon) != Some(&b':') {
        return Err(ParseError::expected(
            "':' after header field name",
            pos + colon,
        ));
    }
    let value = colon + 1;
    let (from, to) = trim_ws(line.get(value..).unwrap_or_default());
    Ok(RawHeader {
        name: HeaderName::from_bytes(&line[..n]),
        name_span: Span::new(pos, pos + n),
        value: Span::new(pos + value + from, pos + value + to),
    })
}

/// Content-Length decides framing, so it is checked as soon as its field is complete; two
/// different values make the message ambiguous and are refused.
fn check_content_length(
    buf: &[u8],
    h: Option<&RawHeader>,
    seen: Option<usize>,
) -> Result<Option<usize>, ParseError> {
    let Some(h) = h.filter(|h| h.name == HeaderName::ContentLength) else {
        return Ok(seen);
    };
    let v = &buf[h.value.range()];
    let at = h.value.start as usize;
    let digits = v.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits != v.len() {
        return Err(ParseError::expected("Content-Length digits", at + digits));
    }
    let mut n: usize = 0;
    for &c in v {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(c - b'0')))
            .ok_or(ParseError::invalid("Content-Length too large", at))?;
    }
    match seen {
        Some(prev) if prev != n => {
            Err(ParseError::invalid("conflicting Content-Length values", at))
        }
        _ => Ok(Some(n)),
    }
}

fn parse_version(v: &[u8], at: usize) -> Result<(), ParseError> {
    // SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT; the literal is case-insensitive.
    if v.len() < 4 || !v[..4].eq_ignore_ascii_case(b"SIP/") {
        return Err(ParseError::expected("SIP-Version", at));
    }
    let (major, minor) = match v[4..].iter().position(|&c| c == b'.') {
        Some(dot) => (&v[4..4 + dot], &v[5 + dot..]),
        None => return Err(ParseError::expected("SIP-Version", at)),
    };
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if !digits(major) || !digits(minor) {
        return Err(ParseError::expected("SIP-Version", at));
    }
    if v[4..] != *b"2.0" {
        return Err(ParseError::invalid(
            "unsupported SIP version (only SIP/2.0)",
            at,
        ));
    }
    Ok(())
}

/// The bytes other than visible ASCII (`!`..=`~`), where a plain Request-URI ends.
static NOT_VISIBLE: [u8; 256] = chars::stop_table!(|c| !matches!(c, b'!'..=b'~'));

/// The usual start line in one pass: `SIP/2.0 NNN reason` with an ASCII reason, or `METHOD
/// uri SIP/2.0` with an ASCII URI. `None` sends the line to [`parse_start_line`], which accepts
/// these lines too (and a few more) and says what is wrong with the others.
fn plain_start_line(line: &[u8]) -> Option<StartLine> {
    let is_version =
        |v: &[u8]| v.len() == 7 && v[..4].eq_ignore_ascii_case(b"SIP/") && v[4..] == *b"2.0";
    if let Some((version, rest)) = line.split_at_checked(7)
        && is_version(version)
    {
        let [b' ', a, b, c, ref reason @ ..] = *rest else {
            return None;
        };
        let code = [a, b, c].iter().try_fold(0u16, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u16::from(d - b'0'))
        })?;
        let reason = match reason {
            [] => line.len(),
            [b' ', text @ ..]
                if text
                    .iter()
                    .all(|&c| (b' '..=b'~').contains(&c) || c == b'\t') =>
            {
                12
            }
            _ => return None,
        };
        return (100..=699).contains(&code).then_some(StartLine::Response {
            code,
            reason: Span::new(reason, line.len()),
        });
    }
    let m = chars::span(line, TOKEN);
    if m == 0 || line.get(m) != Some(&b' ') {
        return None;
    }
    let uri_start = m + 1;
    let uri_end = uri_start
        + chars::run_until_wide(
            line.get(uri_start..)?,
            &NOT_VISIBLE,
            chars::Wide::NotVisible,
        );
    if line.get(uri_end) != Some(&b' ') {
        return None;
    }
    let uri = &line[uri_start..uri_end];
    let scheme = uri
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))?;
    if scheme == 0 || !uri[0].is_ascii_alphabetic() || uri[scheme] != b':' {
        return None;
    }
    is_version(&line[uri_end + 1..]).then_some(StartLine::Request {
        method: Span::new(0, m),
        uri: Span::new(uri_start, uri_end),
    })
}

fn parse_start_line(line: &[u8]) -> Result<StartLine, ParseError> {
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF
        let sp =
            memchr(b' ', line).ok_or(ParseError::expected("SP after SIP-Version", line.len()))?;
        parse_version(&line[..sp], 0)?;
        let code = &line[sp + 1..];
        if code.len() < 3
            || !code[..3].iter().all(u8::is_ascii_digit)
            || code.get(3).is_some_and(|&c| c != b' ')
        {
            return Err(ParseError::expected("3-digit status code", sp + 1));
        }
        let n = code[..3]
            .iter()
            .fold(0u16, |n, &c| n * 10 + u16::from(c - b'0'));
        if !(100..=699).contains(&n) {
            return Err(ParseError::invalid("status code outside 100-699", sp + 1));
        }
        // Reason-Phrase may be empty, and some stacks leave out its SP as well.
        let reason_start = (sp + 5).min(line.len());
        let reason = &line[reason_start..];
        if let Err(e) = std::str::from_utf8(reason) {
            return Err(ParseError::expected(
                "UTF-8 reason phrase",
                reason_start + e.valid_up_to(),
            ));
        }
        if let Some(bad) = reason
            .iter()
            .position(|&c| c < 0x20 && c != b'\t' || c == 0x7f)
        {
            return Err(ParseError::expected(
                "reason phrase text",
                reason_start + bad,
            ));
        }
        return Ok(StartLine::Response {
            code: n,
            reason: Span::new(reason_start, line.len()),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version CRLF, single spaces (RFC 4475 §3.1.2.9).
    let m = chars::span(line, TOKEN);
    if m == 0 {
        return Err(ParseError::expected("method or SIP-Version", 0));
    }
    if line.get(m) != Some(&b' ') {
        return Err(ParseError::expected("SP after method", m));
    }
    let uri_start = m + 1;
    let uri_len = line[uri_start..]
        .iter()
        .position(|&c| c == b' ')
        .ok_or(ParseError::expected("SP after Request-URI", line.len()))?;
    let uri = &line[uri_start..uri_start + uri_len];
    check_request_uri(uri, uri_start)?;
    let version_start = uri_start + uri_len + 1;
    let version = &line[version_start..];
    if version.iter().any(|&c| c == b' ' || c == b'\t') {
        let at = version_start
            + version
                .iter()
                .position(|&c| c == b' ' || c == b'\t')
                .unwrap_or(0);
        if version.first().is_some_and(|&c| c == b' ') {
            return Err(ParseError::expected("SIP-Version", version_start));
        }
        return Err(ParseError::expected("CRLF after SIP-Version", at));
    }
    parse_version(version, version_start)?;
    Ok(StartLine::Request {
        method: Span::new(0, m),
        uri: Span::new(uri_start, uri_start + uri_len),
    })
}

/// A Request-URI is `scheme ":" …` with no white space or control characters; the full
/// grammar is checked by [`Uri::parse`](crate::Uri::parse) on demand.
fn check_request_uri(uri: &[u8], at: usize) -> Result<(), ParseError> {
    let scheme = uri
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
        .unwrap_or(uri.len());
    if scheme == 0 || !uri[0].is_ascii_alphabetic() || uri.get(scheme) != Some(&b':') {
        return Err(ParseError::expected("Request-URI", at));
    }
    if let Some(bad) = uri.iter().position(|&c| c <= 0x20 || c == 0x7f) {
        return Err(ParseError::expected("Request-URI character", at + bad));
    }
    if std::str::from_utf8(uri).is_err() {
        return Err(ParseError::expected("Request-URI character", at));
    }
    Ok(())
}

/// Panics unless [`plain_start_line`], wherever it answers, reads `line` as
/// [`parse_start_line`] does. For unit tests and fuzzing.
#[cfg(any(test, fuzzing))]
pub(crate) fn assert_plain_start_line_agrees(line: &[u8]) {
    if let Some(fast) = plain_start_line(line) {
        assert_eq!(Ok(fast), parse_start_line(line), "{line:?}");
    }
}

/// Panics unless [`plain_field`], wherever it answers, reads the field at the start of `buf`
/// as [`next_line`] then [`parse_header_line`] do under `cfg`. For unit tests and fuzzing.
#[cfg(any(test, fuzzing))]
pub(crate) fn assert_plain_field_agrees(buf: &[u8], cfg: &ParseConfig) {
    if let Some((field, next)) = plain_field(buf, 0, cfg, &mut LineEnds::new(buf)) {
        let Ok((end, careful_next)) = next_line(buf, 0, cfg, &mut LineEnds::new(buf)) else {
            panic!("plain_field read a line next_line refuses: {buf:?}");
        };
        assert_eq!(next, careful_next, "{buf:?}");
        assert_eq!(Ok(field), parse_header_line(&buf[..end], 0), "{buf:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Message, ParseError> {
        Message::parse(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn request_line_single_spaces() {
        assert_eq!(
            parse("INVITE  sip:a SIP/2.0\r\n\r\n").unwrap_err().offset,
            7
        );
        assert_eq!(
            parse("INVITE sip:a SIP/2.0 \r\n\r\n").unwrap_err(),
            ParseError::expected("CRLF after SIP-Version", 20)
        );
        assert_eq!(
            parse("INVITE <sip:a> SIP/2.0\r\n\r\n").unwrap_err(),
            ParseError::expected("Request-URI", 7)
        );
        assert!(parse("INVITE sip:a SIP/2.0\r\n\r\n").is_ok());
        assert!(parse("INVITE sip:a sip/2.0\r\n\r\n").is_ok());
    }

    #[test]
    fn versions() {
        assert_eq!(
            parse("OPTIONS sip:a SIP/7.0\r\n\r\n").unwrap_err().kind,
            ErrorKind::Invalid("unsupported SIP version (only SIP/2.0)")
        );
        assert!(parse("OPTIONS sip:a SIP/2\r\n\r\n").is_err());
        assert!(parse("SIP/2.0 200 OK\r\n\r\n").is_ok());
    }

    #[test]
    fn status_lines() {
        let m = parse("SIP/2.0 180 Ringing\r\n\r\n").unwrap();
        assert_eq!((m.status(), m.reason()), (Some(180), Some("Ringing")));
        let m = parse("SIP/2.0 100 \r\n\r\n").unwrap();
        assert_eq!(m.reason(), Some(""));
        let m = parse("SIP/2.0 100\r\n\r\n").unwrap();
        assert_eq!(m.reason(), Some(""));
        assert!(parse("SIP/2.0 4294967301 big\r\n\r\n").is_err());
        assert!(parse("SIP/2.0 099 low\r\n\r\n").is_err());
        assert!(parse("SIP/2.0 700 high\r\n\r\n").is_err());
        assert!(parse("SIP/2.0 20 short\r\n\r\n").is_err());
    }

    #[test]
    fn folding_and_spacing() {
        let m =
            parse("OPTIONS sip:a SIP/2.0\r\nTO :\r\n sip:b ;tag = 1\r\nX-A:  a \r\n\tb  \r\n\r\n")
                .unwrap();
        let h: Vec<_> = m.headers().map(|h| (h.name, h.value)).collect();
        assert_eq!(h[0], (HeaderName::To, &b"sip:b ;tag = 1"[..]));
        assert_eq!(h[1], (HeaderName::Other, &b"a \r\n\tb"[..]));
    }

    #[test]
    fn bodies() {
        let m = parse("MESSAGE sip:a SIP/2.0\r\nl: 2\r\n\r\nhi and more").unwrap();
        assert_eq!(m.body(), b"hi");
        assert_eq!(
            m.as_bytes().len(),
            "MESSAGE sip:a SIP/2.0\r\nl: 2\r\n\r\nhi".len()
        );
        let m = parse("MESSAGE sip:a SIP/2.0\r\n\r\nrest of datagram").unwrap();
        assert_eq!(m.body(), b"rest of datagram");
        let e = parse("MESSAGE sip:a SIP/2.0\r\nContent-Length: 99\r\n\r\nshort").unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::Truncated("Content-Length is larger than the body")
        );
        let e = parse("MESSAGE sip:a SIP/2.0\r\nContent-Length: -9\r\n\r\n").unwrap_err();
        assert_eq!(e, ParseError::expected("Content-Length digits", 39));
        assert!(parse("MESSAGE sip:a SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nab").is_err());
        assert!(parse("MESSAGE sip:a SIP/2.0\r\nl: 2\r\nl: 2\r\n\r\nab").is_ok());
        assert!(parse("MESSAGE sip:a SIP/2.0\r\nl: 99999999999999999999999\r\n\r\n").is_err());
        // A folded Content-Length is read whole; a bad one is reported before a later line's
        // error, and a last field's as well.
        let m = parse("MESSAGE sip:a SIP/2.0\r\nl:\r\n 2\r\n\r\nhi!").unwrap();
        assert_eq!(m.body(), b"hi");
        let e = parse("MESSAGE sip:a SIP/2.0\r\nl: 2x\r\nNoColon\r\n\r\n").unwrap_err();
        assert_eq!(e, ParseError::expected("Content-Length digits", 27));
        let e = parse("MESSAGE sip:a SIP/2.0\r\nX: 1\r\nl: 2x\r\n\r\n").unwrap_err();
        assert_eq!(e, ParseError::expected("Content-Length digits", 33));
    }

    #[test]
    fn structural_errors() {
        assert_eq!(
            parse("OPTIONS sip:a SIP/2.0\r\nNoColon\r\n\r\n")
                .unwrap_err()
                .offset,
            30
        );
        assert_eq!(
            parse("OPTIONS sip:a SIP/2.0\r\n folded\r\n\r\n")
                .unwrap_err()
                .offset,
            23
        );
        assert_eq!(
            parse("OPTIONS sip:a SIP/2.0\nX: y\n\n").unwrap_err().offset,
            21
        );
        assert!(matches!(
            parse("OPTIONS sip:a SIP/2.0\r\nX: y\r\n").unwrap_err().kind,
            ErrorKind::Truncated(_)
        ));
        assert!(parse("").is_err());
    }

    #[test]
    fn limits() {
        let many = format!("OPTIONS sip:a SIP/2.0\r\n{}\r\n", "X-A: y\r\n".repeat(300));
        assert_eq!(
            parse(&many).unwrap_err().kind,
            ErrorKind::Limit("header count")
        );
        let cfg = ParseConfig {
            max_headers: 1000,
            ..Default::default()
        };
        let m = Message::parse_slice_with(many.as_bytes(), &cfg).unwrap();
        assert_eq!(m.header_count(), 300);
        let long = format!("OPTIONS sip:a SIP/2.0\r\nX: {}\r\n\r\n", "y".repeat(20_000));
        assert_eq!(
            parse(&long).unwrap_err().kind,
            ErrorKind::Limit("line length")
        );
        let cfg = ParseConfig {
            max_message_size: 10,
            ..Default::default()
        };
        let e = Message::parse_slice_with(b"OPTIONS sip:a SIP/2.0\r\n\r\n", &cfg).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Limit("message size"));
        // No limit at all: the line window must not overflow.
        let cfg = ParseConfig {
            max_line_length: usize::MAX,
            ..Default::default()
        };
        let m = Message::parse_slice_with(long.as_bytes(), &cfg).unwrap();
        assert_eq!(m.header_count(), 1);
    }

    /// The one-pass start-line reader agrees with the careful one wherever it answers.
    #[test]
    fn plain_start_line_agrees_with_parse_start_line() {
        use proptest::prelude::*;
        let lines = prop_oneof![
            proptest::string::bytes_regex("(?s-u)(SIP|sip|SIp|SIP/2)/(2\\.0|[0-9.]{1,4}) [0-9]{1,4}( .{0,12})?")
                .unwrap(),
            proptest::string::bytes_regex(
                "(?s-u)[A-Za-z!%~-]{0,8} ?[a-zA-Z0-9+.:-]{0,6}:?[!-~\\x80-\\xff]{0,8} ?(SIP|sIp|HTTP)/(2\\.0|[0-9.]{1,4}) ?"
            )
            .unwrap(),
            proptest::collection::vec(any::<u8>(), 0..32),
        ];
        proptest!(|(line in lines)| assert_plain_start_line_agrees(&line));
        assert!(plain_start_line(b"INVITE sip:a@b SIP/2.0").is_some());
        assert!(plain_start_line(b"SIP/2.0 180 Ringing").is_some());
        assert!(plain_start_line(b"SIP/2.0 180").is_some());
    }

    /// The SSE2 set of the Request-URI's scan is exactly its table's stops.
    #[test]
    fn the_wide_set_is_the_bytes_outside_visible_ascii() {
        chars::assert_wide_holds(&NOT_VISIBLE, chars::Wide::NotVisible, true);
    }

    /// The one-pass field reader agrees with reading the line and then parsing it, under any
    /// line-length limit.
    #[test]
    fn plain_field_agrees_with_line_by_line_parsing() {
        use proptest::prelude::*;
        let bufs = prop_oneof![
            proptest::string::bytes_regex(
                "(?s-u)([A-Za-z!%~-]{0,8}|(Via|TO|c|content-LENGTH|Subscription-State|Proxy-Authorization)[ \\r\\x00M-]?)[ \\t:]{0,3}[ \\t]{0,2}[!-~\\x80]{0,8}[ \\t]{0,2}\\r?\\n?[ \\tX]?.{0,2}"
            )
            .unwrap(),
            proptest::collection::vec(any::<u8>(), 0..24),
        ];
        proptest!(|(buf in bufs, max_line_length in 0usize..24)| {
            let cfg = ParseConfig { max_line_length, ..ParseConfig::default() };
            assert_plain_field_agrees(&buf, &cfg);
        });
        let cfg = ParseConfig::default();
        assert!(plain_field(b"Via: x \r\n", 0, &cfg, &mut LineEnds::new(b"Via: x \r\n")).is_some());
        assert!(plain_field(b"Via : x\r\n", 0, &cfg, &mut LineEnds::new(b"Via : x\r\n")).is_none());
        assert!(plain_field(b"Via: x\n", 0, &cfg, &mut LineEnds::new(b"Via: x\n")).is_none());
        assert!(plain_field(b"Via: x", 0, &cfg, &mut LineEnds::new(b"Via: x")).is_none());
        // Colons found a word at a time, in either word, or past both (a long name).
        for (line, name) in [
            ("To: <sip:a@b>;tag=1\r\n", HeaderName::To),
            ("content-length: 0\r\n", HeaderName::ContentLength),
            (
                "Subscription-State: active\r\n",
                HeaderName::SubscriptionState,
            ),
            ("X-Very-Long-Extension-Name: 1\r\n", HeaderName::Other),
        ] {
            let (field, _) = plain_field(
                line.as_bytes(),
                0,
                &cfg,
                &mut LineEnds::new(line.as_bytes()),
            )
            .unwrap();
            assert_eq!(field.name, name, "{line}");
        }
        // A name that is not all token characters is left to the careful reader, known-looking
        // or not.
        for line in [
            "T\x00: x\r\n",
            "Content\rLength: 0\r\n",
            "X\x7f: 1\r\n",
            "X Y: 1\r\n",
        ] {
            assert!(
                plain_field(
                    line.as_bytes(),
                    0,
                    &cfg,
                    &mut LineEnds::new(line.as_bytes())
                )
                .is_none(),
                "{line:?}"
            );
        }
    }

    /// The views find the first Via, From, To, Call-ID, CSeq and Contact by the index the parse
    /// noted, wherever they are (past the fields kept on the stack too) and whichever form the
    /// name takes; the others are looked for.
    /// The transport's and the transactions' events carry messages by value; noting the hot
    /// headers must not make a message larger than it was (88 bytes on 64-bit targets).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_message_stays_88_bytes() {
        assert_eq!(std::mem::size_of::<Message>(), 88);
    }

    #[test]
    fn hot_headers_are_found_where_they_first_appear() {
        let filler = "X-A: y\r\n".repeat(STACK_HEADERS + 10);
        let m = parse(&format!(
            "OPTIONS sip:a SIP/2.0\r\nX-B: 0\r\n{filler}v: SIP/2.0/UDP h;branch=z9hG4bK2\r\n\
             Via: SIP/2.0/UDP h;branch=z9hG4bK3\r\nm: <sip:c@h>\r\ni: 1\r\n\
             Contact: <sip:d@h>\r\nCSeq: 2 OPTIONS\r\n\r\n"
        ))
        .unwrap();
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK2"));
        assert_eq!(m.vias().count(), 2);
        assert_eq!(m.call_id().unwrap(), "1");
        assert_eq!(m.cseq().unwrap().seq, 2);
        let contacts: Vec<_> = m
            .headers_named(HeaderName::Contact)
            .map(|h| h.value)
            .collect();
        assert_eq!(contacts, [&b"<sip:c@h>"[..], b"<sip:d@h>"]);
        assert!(m.header(HeaderName::From).is_none());
        assert_eq!(m.headers_named(HeaderName::To).count(), 0);
        assert_eq!(
            m.to_header().unwrap_err().kind,
            ErrorKind::MissingHeader(HeaderName::To)
        );
        assert_eq!(m.header(HeaderName::Other).unwrap().value, b"0");
        assert_eq!(
            m.headers_named(HeaderName::Other).count(),
            STACK_HEADERS + 11
        );
        // Past the 255th field the index is not kept: the views look, and find the same.
        let cfg = ParseConfig {
            max_headers: 1000,
            ..Default::default()
        };
        let filler = "X-A: y\r\n".repeat(300);
        let text = format!(
            "OPTIONS sip:a SIP/2.0\r\n{filler}i: 1\r\nv: SIP/2.0/UDP h;branch=z9hG4bK2\r\n\
             CSeq: 2 OPTIONS\r\nCSeq: 3 OPTIONS\r\n\r\n"
        );
        let m = Message::parse_slice_with(text.as_bytes(), &cfg).unwrap();
        assert_eq!(m.call_id().unwrap(), "1");
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK2"));
        assert_eq!(m.cseq().unwrap().seq, 2);
        assert!(m.header(HeaderName::From).is_none());
        assert_eq!(m.headers_named(HeaderName::CSeq).count(), 2);
        let text = format!("OPTIONS sip:a SIP/2.0\r\ni: 1\r\n{filler}i: 2\r\n\r\n");
        let m = Message::parse_slice_with(text.as_bytes(), &cfg).unwrap();
        assert_eq!(m.call_id().unwrap(), "1");
        assert_eq!(m.headers_named(HeaderName::CallId).count(), 2);
    }

    #[test]
    fn stream_framing() {
        let wire = Bytes::from_static(b"\r\n\r\nOPTIONS sip:a SIP/2.0\r\nl: 3\r\n\r\nabcNEXT");
        match Message::parse_stream(&wire).unwrap() {
            Streamed::Complete(m, used) => {
                assert_eq!(m.body(), b"abc");
                assert_eq!(&wire[used..], b"NEXT");
            }
            Streamed::Incomplete(_) => panic!("complete"),
        }
        let short = wire.slice(..wire.len() - 6);
        assert!(matches!(
            Message::parse_stream(&short).unwrap(),
            Streamed::Incomplete(2)
        ));
        let no_cl = Bytes::from_static(b"OPTIONS sip:a SIP/2.0\r\n\r\nX");
        assert!(matches!(
            Message::parse_stream(&no_cl).unwrap(),
            Streamed::Complete(_, 25)
        ));
        let strict = ParseConfig {
            stream_missing_content_length_is_zero: false,
            ..Default::default()
        };
        assert!(Message::parse_stream_with(&no_cl, &strict).is_err());
    }
}
