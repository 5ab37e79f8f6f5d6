//! Shared pieces of the RFC 3261 §25 grammar, as nom parsers over bytes.
//!
//! Typed views are parsed from a header value with these; every failure says what it expected
//! ([`Fail`]) and where, so the caller can report a byte offset.

use std::borrow::Cow;

use nom::{IResult, Parser};

use crate::chars::{self, TOKEN};
use crate::{ErrorKind, ParseError};

/// Input of every grammar parser.
pub(crate) type In<'a> = &'a [u8];
/// Result of every grammar parser.
pub(crate) type Res<'a, T> = IResult<In<'a>, T, Fail<'a>>;

/// A grammar failure: what was wanted, and the input where it was wanted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fail<'a> {
    pub(crate) at: In<'a>,
    pub(crate) kind: ErrorKind,
}

impl<'a> nom::error::ParseError<In<'a>> for Fail<'a> {
    fn from_error_kind(at: In<'a>, _: nom::error::ErrorKind) -> Self {
        Self {
            at,
            kind: ErrorKind::Expected("valid syntax"),
        }
    }
    fn append(_: In<'a>, _: nom::error::ErrorKind, other: Self) -> Self {
        other
    }
}

/// A recoverable failure of `kind` at `at`.
pub(crate) fn fail<'a, T>(at: In<'a>, kind: ErrorKind) -> Res<'a, T> {
    Err(nom::Err::Error(Fail { at, kind }))
}

/// A failure saying `what` was expected at `at`.
pub(crate) fn expected<'a, T>(at: In<'a>, what: &'static str) -> Res<'a, T> {
    fail(at, ErrorKind::Expected(what))
}

/// Byte offset of `at` inside `base` (`base.len()` if `at` lies elsewhere).
pub(crate) fn offset_in(base: &[u8], at: &[u8]) -> usize {
    let (b, a) = (base.as_ptr() as usize, at.as_ptr() as usize);
    if a >= b && a <= b + base.len() {
        a - b
    } else {
        base.len()
    }
}

/// Runs `parser` over the whole of `input` (surrounding white space allowed) and turns failure
/// into a [`ParseError`] with an offset into `input`.
pub(crate) fn complete<'a, T>(
    input: In<'a>,
    parser: impl Parser<In<'a>, Output = T, Error = Fail<'a>>,
) -> Result<T, ParseError> {
    run(input, parser, false)
}

/// Runs `parser` over the first element of a comma-separated list in `input`.
pub(crate) fn first_element<'a, T>(
    input: In<'a>,
    parser: impl Parser<In<'a>, Output = T, Error = Fail<'a>>,
) -> Result<T, ParseError> {
    run(input, parser, true)
}

/// Panics unless the one-pass reader `fast`, wherever it answers for either value of its
/// flag, gives what the grammar (`slow`) gives; returns how many of the two it answered. For
/// the unit tests and fuzzing of the one-pass readers.
#[cfg(any(test, fuzzing))]
pub(crate) fn assert_one_pass_agrees<'a, T: PartialEq + std::fmt::Debug>(
    value: In<'a>,
    fast: impl Fn(In<'a>, bool) -> Option<T>,
    slow: impl Fn(In<'a>, bool) -> Result<T, ParseError>,
) -> usize {
    let mut taken = 0;
    for flag in [false, true] {
        let Some(fast) = fast(value, flag) else {
            continue;
        };
        taken += 1;
        assert_eq!(
            Ok(fast),
            slow(value, flag),
            "{}",
            String::from_utf8_lossy(value)
        );
    }
    taken
}

fn run<'a, T>(
    input: In<'a>,
    mut parser: impl Parser<In<'a>, Output = T, Error = Fail<'a>>,
    list: bool,
) -> Result<T, ParseError> {
    let err = to_error_of(input);
    let (rest, ()) = sws(input).map_err(&err)?;
    let (rest, value) = parser.parse(rest).map_err(&err)?;
    let (rest, ()) = sws(rest).map_err(&err)?;
    if rest.is_empty() || (list && rest[0] == b',') {
        Ok(value)
    } else {
        Err(ParseError::expected("end of value", offset_in(input, rest)))
    }
}

fn to_error_of<'a>(input: In<'a>) -> impl Fn(nom::Err<Fail<'a>>) -> ParseError {
    move |e| match e {
        nom::Err::Error(f) | nom::Err::Failure(f) => {
            ParseError::new(f.kind, offset_in(input, f.at))
        }
        nom::Err::Incomplete(_) => ParseError::expected("more input", input.len()),
    }
}

/// Bytes to `&str`; the grammar has checked them, so invalid UTF-8 only reaches here from
/// `TEXT-UTF8` positions, where it is reported.
pub(crate) fn utf8(at: In<'_>) -> Result<&str, nom::Err<Fail<'_>>> {
    std::str::from_utf8(at).map_err(|e| {
        nom::Err::Error(Fail {
            at: &at[e.valid_up_to()..],
            kind: ErrorKind::Expected("UTF-8 text"),
        })
    })
}

/// `SWS`: optional linear white space, folded lines (CRLF followed by SP/HT) included.
pub(crate) fn sws(i: In<'_>) -> Res<'_, ()> {
    let mut n = 0;
    loop {
        match i.get(n..) {
            Some([b' ' | b'\t', ..]) => n += 1,
            Some([b'\r', b'\n', b' ' | b'\t', ..]) => n += 3,
            _ => return Ok((&i[n..], ())),
        }
    }
}

/// `LWS`: at least one white-space character (possibly folded).
pub(crate) fn lws(i: In<'_>) -> Res<'_, ()> {
    let (rest, ()) = sws(i)?;
    if rest.len() == i.len() {
        expected(i, "white space")
    } else {
        Ok((rest, ()))
    }
}

/// `SWS c SWS`: a separator such as `SLASH`, `COLON`, `SEMI`, `EQUAL`, `COMMA`.
pub(crate) fn sep(c: u8, what: &'static str) -> impl Fn(In<'_>) -> Res<'_, ()> {
    move |i| {
        let (rest, ()) = sws(i)?;
        match rest.split_first() {
            Some((&b, rest)) if b == c => sws(rest),
            _ => expected(i, what),
        }
    }
}

/// The longest non-empty prefix of bytes in character class `mask`.
pub(crate) fn many1(mask: u8, what: &'static str) -> impl Fn(In<'_>) -> Res<'_, In<'_>> {
    move |i| match chars::span(i, mask) {
        0 => expected(i, what),
        n => Ok((&i[n..], &i[..n])),
    }
}

/// `token`, as text.
pub(crate) fn token(i: In<'_>) -> Res<'_, &str> {
    let (rest, t) = many1(TOKEN, "token")(i)?;
    Ok((rest, utf8(t)?))
}

/// `quoted-string`: returns the text between the quotes, escapes still in place.
pub(crate) fn quoted(i: In<'_>) -> Res<'_, &str> {
    let (rest, n) = quoted_len(i)?;
    Ok((rest, utf8(&i[1..n - 1])?))
}

/// `quoted-string`, checked but not converted to text: returns its length, quotes included.
pub(crate) fn quoted_len(i: In<'_>) -> Res<'_, usize> {
    let Some((b'"', body)) = i.split_first() else {
        return expected(i, "'\"'");
    };
    let mut n = 0;
    loop {
        // Plain text runs up to the next byte that needs a look.
        n += chars::run_until_wide(&body[n..], &QUOTED_STOP, chars::Wide::QuotedStop);
        let Some(&c) = body.get(n) else {
            break;
        };
        match c {
            b'"' => return Ok((&body[n + 1..], n + 2)),
            // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
            b'\\' => match body.get(n + 1) {
                Some(b'\n' | b'\r') | None => return expected(&body[n..], "escaped character"),
                Some(&e) if e > 0x7f => return expected(&body[n..], "escaped character"),
                Some(_) => n += 2,
            },
            b'\r' => match body.get(n + 1..n + 3) {
                Some([b'\n', b' ' | b'\t']) => n += 3,
                _ => return expected(&body[n..], "closing '\"'"),
            },
            b'\t' => n += 1,
            0..=0x1f | 0x7f => return expected(&body[n..], "closing '\"'"),
            _ => n += 1,
        }
    }
    expected(&body[n..], "closing '\"'")
}

/// The bytes of a quoted string [`quoted_len`] looks at: `"`, `\\`, controls (HT and folding
/// included) and DEL.
static QUOTED_STOP: [u8; 256] =
    chars::stop_table!(|c| c < 0x20 || matches!(c, 0x7f | b'"' | b'\\'));

/// The text of a quoted string with its `\` escapes removed.
pub fn unescape(quoted_text: &str) -> Cow<'_, str> {
    if !quoted_text.contains('\\') {
        return Cow::Borrowed(quoted_text);
    }
    let mut out = String::with_capacity(quoted_text.len());
    let mut chars = quoted_text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// 1*DIGIT as a `u64`, refusing overflow.
pub(crate) fn digits(i: In<'_>) -> Res<'_, u64> {
    let n = i
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(i.len());
    if n == 0 {
        return expected(i, "digits");
    }
    let mut v: u64 = 0;
    if n < 20 {
        // Up to 19 digits cannot overflow a u64.
        for &c in &i[..n] {
            v = v * 10 + u64::from(c - b'0');
        }
        return Ok((&i[n..], v));
    }
    for &c in &i[..n] {
        v = match v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
        {
            Some(v) => v,
            None => return fail(i, ErrorKind::Invalid("number too large")),
        };
    }
    Ok((&i[n..], v))
}

/// `1*DIGIT` that must fit in `T` (a `u32` delta-seconds, a `u8` Max-Forwards, …).
pub(crate) fn number<T: TryFrom<u64>>(what: &'static str) -> impl Fn(In<'_>) -> Res<'_, T> {
    move |i| {
        let (rest, v) = digits(i).map_err(|e| match e {
            nom::Err::Error(f) if matches!(f.kind, ErrorKind::Invalid(_)) => {
                nom::Err::Error(Fail {
                    at: i,
                    kind: ErrorKind::Invalid(what),
                })
            }
            e => e,
        })?;
        match T::try_from(v) {
            Ok(v) => Ok((rest, v)),
            Err(_) => fail(i, ErrorKind::Invalid(what)),
        }
    }
}

/// A `gen-value`: token, host (IPv6 reference included) or quoted string, returned raw (quotes
/// kept, so callers can tell them apart).
pub(crate) fn gen_value(i: In<'_>) -> Res<'_, In<'_>> {
    if i.first() == Some(&b'"') {
        let (rest, _) = quoted(i)?;
        let n = i.len() - rest.len();
        return Ok((rest, &i[..n]));
    }
    let n = chars::run_until(i, &GEN_VALUE_END);
    if n == 0 {
        return expected(i, "parameter value");
    }
    Ok((&i[n..], &i[..n]))
}

/// `*( SEMI generic-param )` as used by header parameters; returns the raw text of the list
/// (from its first `;`) after checking its syntax, and calls `each` on every parameter with its
/// name and raw value as bytes (converting to text only what a caller keeps saves a UTF-8 check
/// per parameter on the hot path).
pub(crate) fn header_params<'a>(
    i: In<'a>,
    mut each: impl FnMut(&'a [u8], Option<&'a [u8]>, In<'a>) -> Result<(), nom::Err<Fail<'a>>>,
) -> Res<'a, Params<'a>> {
    let start = i;
    let mut rest = i;

    loop {
        let Ok((r, ())) = sep(b';', "';'")(rest) else {
            break;
        };
        let (r, name) = many1(TOKEN, "token")(r)?;
        let (r, value) = match sep(b'=', "'='")(r) {
            Ok((r, ())) => {
                let (r, v) = gen_value(r)?;
                (r, Some(v))
            }
            Err(_) => (r, None),
        };
        each(name, value, rest)?;
        rest = r;
    }
    let end = start.len() - rest.len();
    Ok((rest, Params(&start[..end])))
}

/// `whole[start..start + len]` as text, if it is UTF-8. The check starts at the word-aligned
/// address at or before `start` and runs through whole 16-byte blocks where `whole` has the
/// bytes: std's check reads two words a step from an aligned address but one byte a step
/// elsewhere, so on the short, unaligned values of header fields this halves its cost. The
/// bytes around the value are usually the ASCII of its line and the next; when they are not
/// UTF-8 on their own, the value alone is checked. The text is the same either way.
#[inline]
pub(crate) fn text_in(whole: &[u8], start: usize, len: usize) -> Option<&str> {
    const WORD: usize = std::mem::size_of::<usize>();
    let end = start.checked_add(len)?;
    // The address only, for its alignment.
    let skew = (whole.as_ptr() as usize).wrapping_add(start) % WORD;
    let from = start.saturating_sub(skew);
    let to = from
        .saturating_add((end - from).next_multiple_of(2 * WORD))
        .min(whole.len());
    if let Some(text) = whole
        .get(from..to)
        .and_then(|wide| std::str::from_utf8(wide).ok())
        .and_then(|wide| wide.get(start - from..end - from))
    {
        return Some(text);
    }
    std::str::from_utf8(whole.get(start..end)?).ok()
}

/// A cursor over a header value already checked to be UTF-8, for the fast paths of the views:
/// the usual shape of a value (no white space between tokens, no folding) is read in one pass,
/// and its text is cut from the checked value without a UTF-8 check per piece. Every method
/// returns `None` for anything unusual; the caller then runs the full grammar on the value, so
/// results and error offsets never depend on the shortcut.
pub(crate) struct Plain<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Plain<'a> {
    /// A cursor at the start of `text`.
    #[inline]
    pub(crate) fn from_text(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    /// The bytes from the cursor on.
    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.text.as_bytes().get(self.pos..).unwrap_or_default()
    }

    /// The next byte.
    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Steps over `c` if it comes next.
    #[inline]
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        let next = self.peek() == Some(c);
        self.pos += usize::from(next);
        next
    }

    /// The text of the next `n` bytes, stepping over them.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a str> {
        let piece = self.text.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(piece)
    }

    /// The longest non-empty run of bytes in character class `mask`.
    #[inline]
    pub(crate) fn many1(&mut self, mask: u8) -> Option<&'a str> {
        match chars::span(self.rest(), mask) {
            0 => None,
            n => self.take(n),
        }
    }

    /// A port, `1*5DIGIT` below 65536, stepping over it; `None` for anything else (more
    /// digits, leading zeros included, are left to the grammar).
    #[inline]
    pub(crate) fn port(&mut self) -> Option<u16> {
        let (port, n) = crate::chars::leading_digits(self.rest(), 5)?;
        let port = u16::try_from(port).ok().filter(|_| n > 0)?;
        // Digits are ASCII: the cursor stays on a character boundary.
        self.pos += n;
        Some(port)
    }

    /// How many bytes the cursor has stepped over.
    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Whether the value ends here (or, in a list, its first element does).
    pub(crate) fn at_end(&self, list: bool) -> bool {
        match self.peek() {
            None => true,
            Some(c) => list && c == b',',
        }
    }

    /// `*( ";" token [ "=" gen-value ] )` without white space, calling `each` with every name
    /// and raw value (a quoted string keeps its quotes), as [`header_params`] does.
    pub(crate) fn params(
        &mut self,
        mut each: impl FnMut(&'a str, Option<&'a str>) -> Option<()>,
    ) -> Option<Params<'a>> {
        let start = self.pos;
        while self.eat(b';') {
            let name = self.many1(TOKEN)?;
            let value = if !self.eat(b'=') {
                None
            } else if self.peek() == Some(b'"') {
                let (rest, _) = quoted_len(self.rest()).ok()?;
                let n = self.rest().len() - rest.len();
                Some(self.take(n)?)
            } else {
                match chars::run_until(self.rest(), &GEN_VALUE_END) {
                    0 => return None,
                    n => Some(self.take(n)?),
                }
            };
            each(name, value)?;
        }
        let raw = self.text.as_bytes().get(start..self.pos)?;
        Some(Params(raw))
    }
}

/// The bytes an unquoted `gen-value` stops at (everything but token characters and `[`, `]`,
/// `:` for IPv6 references), as a table for [`chars::run_until`]: the scan runs over every
/// branch and tag value.
static GEN_VALUE_END: [u8; 256] =
    chars::stop_table!(|c| !(chars::class(c) & TOKEN != 0 || matches!(c, b'[' | b']' | b':')));

/// A failure of a parameter's value (`at` is where the parameter starts).
pub(crate) fn bad_param<'a>(at: In<'a>, what: &'static str) -> nom::Err<Fail<'a>> {
    nom::Err::Error(Fail {
        at,
        kind: ErrorKind::Invalid(what),
    })
}

/// A parameter value kept as text; `None` (no value) is an error.
pub(crate) fn str_param<'a>(
    value: Option<&'a [u8]>,
    at: In<'a>,
    what: &'static str,
) -> Result<&'a str, nom::Err<Fail<'a>>> {
    value
        .and_then(|v| std::str::from_utf8(v).ok())
        .ok_or(bad_param(at, what))
}

/// A `delta-seconds` parameter value below 2**32 (`expires`, `retry-after`, `duration`).
pub(crate) fn seconds_param<'a>(
    value: Option<&'a [u8]>,
    at: In<'a>,
    what: &'static str,
) -> Result<u32, nom::Err<Fail<'a>>> {
    match value.map(|v| number::<u32>(what)(v)) {
        Some(Ok(([], n))) => Ok(n),
        _ => Err(bad_param(at, what)),
    }
}

/// A parameter list as it appeared (`;name=value;flag…`), searched on demand.
///
/// ```
/// let to = sip_parse::NameAddr::parse(b"<sip:bob@b.example>;tag=x1;Foo=\"a b\";lr").unwrap();
/// assert_eq!(to.params().get("foo"), Some(Some("\"a b\"")));
/// assert_eq!(to.params().get("lr"), Some(None));
/// assert_eq!(to.params().iter().count(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a>(pub(crate) &'a [u8]);

impl<'a> Params<'a> {
    /// The raw text, from the first `;` (empty when there are no parameters).
    pub fn as_str(&self) -> &'a str {
        // The grammar admitted only tokens and checked quoted strings, so this is UTF-8; the
        // conversion is deferred to here to keep parsing free of it.
        std::str::from_utf8(self.0).unwrap_or_default()
    }

    /// Each `(name, value)`, in order; the value is raw (a quoted string keeps its quotes).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        split_outside_quotes(self.as_str(), b';').filter_map(|p| {
            let p = p.trim_matches(is_lws);
            if p.is_empty() {
                return None;
            }
            Some(match p.split_once('=') {
                Some((n, v)) => (n.trim_matches(is_lws), Some(v.trim_matches(is_lws))),
                None => (p, None),
            })
        })
    }

    /// The value of the first parameter called `name` (ASCII case-insensitive): `None` if absent,
    /// `Some(None)` for a parameter without a value.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn is_lws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Splits `s` at every `sep` that is outside a quoted string and outside `<…>`.
pub(crate) fn split_outside_quotes(s: &str, sep: u8) -> impl Iterator<Item = &str> {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let end = find_outside_quotes(&bytes[start..], sep).map(|n| start + n);
        let piece = &s[start..end.unwrap_or(s.len())];
        match end {
            Some(e) => start = e + 1,
            None => done = true,
        }
        Some(piece)
    })
}

/// Position of the first `sep` outside quotes and angle brackets. Jumps between the bytes that
/// matter with `memchr`, so long values cost little more than one vector pass.
pub(crate) fn find_outside_quotes(s: &[u8], sep: u8) -> Option<usize> {
    let mut i = 0;
    loop {
        i += memchr::memchr3(sep, b'"', b'<', s.get(i..)?)?;
        match s[i] {
            b'"' => {
                // Skip the quoted string, escapes included.
                i += 1;
                loop {
                    i += memchr::memchr2(b'"', b'\\', s.get(i..)?)?;
                    if s[i] == b'"' {
                        break;
                    }
                    i += 2;
                }
            }
            b'<' if sep != b'<' => i += memchr::memchr(b'>', s.get(i..)?)?,
            _ => return Some(i),
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SSE2 set of the quoted string's scan is exactly its table's stops.
    #[test]
    fn the_wide_sets_hold_the_stops() {
        chars::assert_wide_holds(&QUOTED_STOP, chars::Wide::QuotedStop, true);
    }

    #[test]
    fn sws_skips_folding_but_not_blank_lines() {
        assert_eq!(sws(b" \t\r\n  x").unwrap().0, b"x");
        assert_eq!(sws(b"\r\n\r\n").unwrap().0, b"\r\n\r\n");
        assert!(lws(b"x").is_err());
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(
            quoted(b"\"a \\\"b\\\\\" rest").unwrap(),
            (&b" rest"[..], "a \\\"b\\\\")
        );
        assert_eq!(unescape("a \\\"b\\\\"), "a \"b\\");
        assert!(quoted(b"\"unterminated").is_err());
        assert!(quoted(b"\"bad\x01ctl\"").is_err());
        assert!(quoted(b"\"esc at end\\").is_err());
        assert_eq!(quoted(b"\"folded\r\n line\"").unwrap().1, "folded\r\n line");
    }

    #[test]
    fn numbers_refuse_overflow() {
        assert_eq!(digits(b"0009 x").unwrap(), (&b" x"[..], 9));
        assert!(digits(b"36893488147419103232").is_err());
        assert!(number::<u32>("big")(b"4294967296").is_err());
        assert_eq!(number::<u32>("big")(b"4294967295").unwrap().1, u32::MAX);
    }

    #[test]
    fn split_respects_quotes_and_brackets() {
        let v: Vec<_> = split_outside_quotes("\"a,b\" <sip:x;y,z>, c", b',').collect();
        assert_eq!(v, ["\"a,b\" <sip:x;y,z>", " c"]);
        assert_eq!(split_outside_quotes("", b',').count(), 1);
    }

    #[test]
    fn complete_reports_offsets() {
        let e = complete(b"  abc def", token).unwrap_err();
        assert_eq!(e, ParseError::expected("end of value", 6));
    }

    /// Whatever the bytes around a value and wherever it lies, [`text_in`] answers as
    /// `from_utf8` of the value alone.
    #[test]
    fn text_in_is_from_utf8_of_the_value() {
        use proptest::prelude::*;
        let piece = prop::sample::select(vec![
            "a",
            "Via: ",
            "\r\n",
            ";",
            "é",
            "€",
            "\u{1F600}",
            "\u{80}",
            "z9hG4bK",
        ]);
        let bytes = prop::collection::vec(
            prop_oneof![
                piece.prop_map(|p: &str| p.as_bytes().to_vec()),
                any::<u8>().prop_map(|b| vec![b]),
            ],
            0..40,
        )
        .prop_map(|v| v.concat());
        proptest!(|(whole in bytes, a in 0usize..200, n in 0usize..200, shift in 0usize..8)| {
            // Every alignment of the buffer's start.
            let mut buf = vec![b'x'; shift];
            buf.extend_from_slice(&whole);
            let whole = &buf[shift..];
            let start = a.min(whole.len());
            let len = n.min(whole.len() - start);
            prop_assert_eq!(
                text_in(whole, start, len),
                std::str::from_utf8(&whole[start..start + len]).ok()
            );
        });
        assert_eq!(text_in(b"ab", 1, 5), None);
        assert_eq!(text_in(b"ab", 3, 0), None);
    }
}
