//! Small typed views: CSeq, Call-ID, media types, token lists, Retry-After, Warning, Date.

use crate::grammar::{self, In, Params, Res, expected, lws, number, quoted, sep, sws, token, utf8};
use crate::{Method, ParseError, chars};

/// The CSeq header (RFC 3261 §20.16): a 32-bit sequence number and a method.
///
/// ```
/// use sip_parse::{CSeq, Method};
/// let c = CSeq::parse(b"0009\r\n  INVITE")?;
/// assert_eq!((c.seq, c.method), (9, Method::Invite));
/// assert!(CSeq::parse(b"4294967296 INVITE").is_err());
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number (must be below 2**31 in new requests, §8.1.1.5, but any 32-bit value
    /// is accepted).
    pub seq: u32,
    /// The method.
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    /// Parses a CSeq value.
    pub fn parse(value: &'a [u8]) -> Result<Self, ParseError> {
        // The usual `digits SP METHOD` with a known method is read directly; anything else
        // (white space around, folding, an extension method, an error) by the grammar.
        if let Some((seq, method)) = plain_cseq(value) {
            return Ok(CSeq { seq, method });
        }
        grammar::complete(value, |i| {
            let (i, seq) = number::<u32>("CSeq number exceeds 2**32-1")(i)?;
            let (i, ()) = lws(i)?;
            let (i, m) = grammar::many1(chars::TOKEN, "token")(i)?;
            let method = match Method::known(m) {
                Some(known) => known,
                None => Method::Extension(utf8(m)?),
            };
            Ok((i, CSeq { seq, method }))
        })
    }
}

/// The usual CSeq, `1*9DIGIT SP METHOD` with a known method, in one pass: up to 9 digits
/// cannot overflow a `u32`, so the longer numbers go with everything else to the grammar.
#[inline(always)]
fn plain_cseq(value: &[u8]) -> Option<(u32, Method<'static>)> {
    let (seq, n) = crate::chars::leading_digits(value, 9)?;
    match value.get(n..)? {
        [b' ', method @ ..] if n > 0 => Some((seq, Method::known(method)?)),
        _ => None,
    }
}

/// Checks a Call-ID (`word [ "@" word ]`) and returns it as text.
///
/// ```
/// assert_eq!(sip_parse::call_id(b"f81d4fae-7dec@foo.bar.com")?, "f81d4fae-7dec@foo.bar.com");
/// assert!(sip_parse::call_id(b"two words").is_err());
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
pub fn call_id(value: &[u8]) -> Result<&str, ParseError> {
    call_id_text(value, std::str::from_utf8(value).ok())
}

/// [`call_id`] given `value` as text already (`None` if it is not UTF-8).
pub(crate) fn call_id_text<'a>(
    value: &'a [u8],
    text: Option<&'a str>,
) -> Result<&'a str, ParseError> {
    // The usual Call-ID is the whole value, as it comes from the message: checked in one
    // pass here; anything else (surrounding white space, an error) goes to the grammar.
    let n = chars::span_long(value, chars::WORD);
    let end = match value.get(n) {
        Some(b'@') if n > 0 => n + 1 + chars::span_long(&value[n + 1..], chars::WORD),
        _ => n,
    };
    if n > 0
        && end == value.len()
        && value[end - 1] != b'@'
        && let Some(text) = text
    {
        return Ok(text);
    }
    grammar::complete(value, |i| {
        let start = i;
        let n = chars::span_long(i, chars::WORD);
        if n == 0 {
            return grammar::expected(i, "Call-ID word");
        }
        let mut i = &i[n..];
        if let Some((b'@', rest)) = i.split_first() {
            i = grammar::many1(chars::WORD, "Call-ID word after '@'")(rest)?.0;
        }
        Ok((i, utf8(&start[..start.len() - i.len()])?))
    })
}

/// A media type with parameters (Content-Type, and each Accept entry).
///
/// ```
/// let m = sip_parse::MediaType::parse(b"multipart/mixed; boundary=\"7a9cbec3\"")?;
/// assert_eq!((m.kind, m.subtype), ("multipart", "mixed"));
/// assert_eq!(m.params.get("boundary"), Some(Some("\"7a9cbec3\"")));
/// assert!(m.is("Multipart", "MIXED"));
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// Top-level type (`application`, or `*` in Accept).
    pub kind: &'a str,
    /// Subtype (`pidf+xml`, or `*` in Accept).
    pub subtype: &'a str,
    /// Parameters as written.
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    /// Parses a media type.
    pub fn parse(value: &'a [u8]) -> Result<Self, ParseError> {
        grammar::complete(value, media_type)
    }

    /// Whether this is `kind/subtype`, compared case-insensitively.
    pub fn is(&self, kind: &str, subtype: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

pub(crate) fn media_type(i: In<'_>) -> Res<'_, MediaType<'_>> {
    let (i, kind) = token(i)?;
    let (i, ()) = sep(b'/', "'/'")(i)?;
    let (i, subtype) = token(i)?;
    let (i, params) = grammar::header_params(i, |_, _, _| Ok(()))?;
    Ok((
        i,
        MediaType {
            kind,
            subtype,
            params,
        },
    ))
}

/// Checks one token of a token list (Allow, Supported, Require, Allow-Events, …).
pub(crate) fn list_token(value: &[u8]) -> Result<&str, ParseError> {
    grammar::complete(value, token)
}

/// The Retry-After header (RFC 3261 §20.33).
///
/// ```
/// let r = sip_parse::RetryAfter::parse(b"18000 (I'm in a meeting);duration=3600")?;
/// assert_eq!(r.seconds, 18000);
/// assert_eq!(r.comment, Some("I'm in a meeting"));
/// assert_eq!(r.duration, Some(3600));
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter<'a> {
    /// Seconds to wait.
    pub seconds: u32,
    /// The comment, without its parentheses.
    pub comment: Option<&'a str>,
    /// The `duration` parameter.
    pub duration: Option<u32>,
    /// Parameters as written.
    pub params: Params<'a>,
}

impl<'a> RetryAfter<'a> {
    /// Parses a Retry-After value.
    pub fn parse(value: &'a [u8]) -> Result<Self, ParseError> {
        grammar::complete(value, |i| {
            let (i, seconds) = number::<u32>("Retry-After exceeds 2**32-1")(i)?;
            let (i, ()) = sws(i)?;
            let (i, comment) = match i.first() {
                Some(b'(') => {
                    let (r, c) = comment(i)?;
                    (sws(r)?.0, Some(c))
                }
                _ => (i, None),
            };
            let mut duration = None;
            let (i, params) = grammar::header_params(i, |name, value, at| {
                if name.eq_ignore_ascii_case(b"duration") {
                    duration = Some(grammar::seconds_param(
                        value,
                        at,
                        "duration is not delta-seconds",
                    )?);
                }
                Ok(())
            })?;
            Ok((
                i,
                RetryAfter {
                    seconds,
                    comment,
                    duration,
                    params,
                },
            ))
        })
    }
}

/// `comment = LPAREN *(ctext / quoted-pair / comment) RPAREN`, nesting bounded by the input.
fn comment(i: In<'_>) -> Res<'_, &str> {
    let mut depth = 0usize;
    let mut n = 0;
    while let Some(&c) = i.get(n) {
        match c {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok((&i[n + 1..], utf8(&i[1..n])?));
                }
            }
            b'\\' => n += 1,
            _ => {}
        }
        n += 1;
    }
    expected(&i[n.min(i.len())..], "')'")
}

/// One Warning value (RFC 3261 §20.43).
///
/// ```
/// let w = sip_parse::Warning::parse(b"307 isi.edu \"Session parameter 'foo' not understood\"")?;
/// assert_eq!((w.code, w.agent), (307, "isi.edu"));
/// assert!(sip_parse::Warning::parse(b"1812 overture \"In Progress\"").is_err());
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Warning<'a> {
    /// The 3-digit warn-code.
    pub code: u16,
    /// The warn-agent (`host[:port]` or a pseudonym).
    pub agent: &'a str,
    /// The warn-text, escapes kept.
    pub text: &'a str,
}

impl<'a> Warning<'a> {
    /// Parses one warning-value.
    pub fn parse(value: &'a [u8]) -> Result<Self, ParseError> {
        grammar::complete(value, |i: In<'a>| {
            let digits = i.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits != 3 {
                return expected(i, "3-digit warn-code");
            }
            let code = i[..3]
                .iter()
                .fold(0u16, |n, &c| n * 10 + u16::from(c - b'0'));
            let i = &i[3..];
            let Some((b' ', i)) = i.split_first() else {
                return expected(i, "SP");
            };
            let n = i.iter().position(|&c| c == b' ').unwrap_or(i.len());
            if n == 0 {
                return expected(i, "warn-agent");
            }
            let agent = utf8(&i[..n])?;
            let Some((b' ', i)) = i[n..].split_first() else {
                return expected(&i[n..], "SP");
            };
            let (i, text) = quoted(i)?;
            Ok((i, Warning { code, agent, text }))
        })
    }
}

/// The Date header (RFC 3261 §20.17): an RFC 1123 date, always in GMT.
///
/// ```
/// let d = sip_parse::Date::parse(b"Sat, 13 Nov 2010 23:29:00 GMT")?;
/// assert_eq!((d.year, d.month, d.day, d.hour, d.minute, d.second), (2010, 11, 13, 23, 29, 0));
/// assert!(sip_parse::Date::parse(b"Fri, 01 Jan 2010 16:00:00 EST").is_err());
/// # Ok::<(), sip_parse::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of month, 1–31.
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–60.
    pub second: u8,
}

impl Date {
    /// Parses `wkday "," SP 2DIGIT SP month SP 4DIGIT SP 2DIGIT ":" 2DIGIT ":" 2DIGIT SP "GMT"`.
    pub fn parse(value: &[u8]) -> Result<Self, ParseError> {
        grammar::complete(value, date)
    }
}

fn fixed_num(i: In<'_>, n: usize, max: u16) -> Res<'_, u16> {
    match i.get(..n) {
        Some(d) if d.iter().all(u8::is_ascii_digit) => {
            let v = d.iter().fold(0u16, |v, &c| v * 10 + u16::from(c - b'0'));
            if v > max {
                expected(i, "date field in range")
            } else {
                Ok((&i[n..], v))
            }
        }
        _ => expected(i, "digits"),
    }
}

fn lit<'a>(i: In<'a>, s: &'static [u8], what: &'static str) -> Res<'a, ()> {
    match i.strip_prefix(s) {
        Some(rest) => Ok((rest, ())),
        None => expected(i, what),
    }
}

fn date(i: In<'_>) -> Res<'_, Date> {
    const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    if !DAYS.iter().any(|d| i.starts_with(d)) {
        return expected(i, "weekday");
    }
    let (i, ()) = lit(&i[3..], b", ", "\", \"")?;
    let (i, day) = fixed_num(i, 2, 31)?;
    if day == 0 {
        return expected(i, "day 1-31");
    }
    let (i, ()) = lit(i, b" ", "SP")?;
    let Some(month) = MONTHS.iter().position(|m| i.starts_with(m)) else {
        return expected(i, "month");
    };
    let (i, ()) = lit(&i[3..], b" ", "SP")?;
    let (i, year) = fixed_num(i, 4, 9999)?;
    let (i, ()) = lit(i, b" ", "SP")?;
    let (i, hour) = fixed_num(i, 2, 23)?;
    let (i, ()) = lit(i, b":", "':'")?;
    let (i, minute) = fixed_num(i, 2, 59)?;
    let (i, ()) = lit(i, b":", "':'")?;
    let (i, second) = fixed_num(i, 2, 60)?;
    let (i, ()) = lit(i, b" GMT", "\" GMT\" (RFC 3261 §20.17)")?;
    // Each field was range-checked above, so the narrowing casts are exact.
    let date = Date {
        year,
        month: month as u8 + 1,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
    };
    Ok((i, date))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_reads_agree_with_the_grammar() {
        fn slow_cseq(v: &[u8]) -> Result<(u32, Method<'_>), ParseError> {
            grammar::complete(v, |i| {
                let (i, seq) = number::<u32>("CSeq number exceeds 2**32-1")(i)?;
                let (i, ()) = lws(i)?;
                let (i, m) = token(i)?;
                Ok((i, (seq, Method::from_token(m))))
            })
        }
        for v in [
            "1 INVITE",
            "0009 ACK",
            "4294967295 BYE",
            "4294967296 BYE",
            "1  INVITE",
            "1 INVITE ",
            "1 FOO",
            "1 invite",
            "INVITE",
            "1",
            "1 ",
            " 1 INVITE",
            "1\tINVITE",
            "1 INVITE x",
        ] {
            let fast = CSeq::parse(v.as_bytes()).map(|c| (c.seq, c.method));
            assert_eq!(fast, slow_cseq(v.as_bytes()), "{v:?}");
        }
        for v in [
            "a84b4c76e66710",
            "f81d4fae-7dec@foo.bar.com",
            "a@",
            "@b",
            "a@b@c",
            "a b",
            "a@b c",
            " a",
            "a ",
            "",
            "<x>@[y]",
            "a\u{e9}",
            "a@\u{e9}",
        ] {
            let slow = grammar::complete(v.as_bytes(), |i| {
                let start = i;
                let (mut i, _) = grammar::many1(chars::WORD, "Call-ID word")(i)?;
                if let Some((b'@', rest)) = i.split_first() {
                    i = grammar::many1(chars::WORD, "Call-ID word after '@'")(rest)?.0;
                }
                Ok((i, utf8(&start[..start.len() - i.len()])?))
            });
            assert_eq!(call_id(v.as_bytes()), slow, "{v:?}");
        }
    }

    #[test]
    fn cseq_and_call_id() {
        assert_eq!(
            CSeq::parse(b"139122385 !interesting-Method0123456789_*+`.%indeed'~")
                .unwrap()
                .seq,
            139122385
        );
        assert!(CSeq::parse(b"36893488147419103232 REGISTER").is_err());
        assert!(CSeq::parse(b"1INVITE").is_err());
        assert!(call_id(b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").is_ok());
        assert!(call_id(b"a@b@c").is_err());
        assert!(call_id(b"").is_err());
    }

    /// Wherever the one-pass CSeq reader answers, the grammar gives the same.
    #[test]
    fn plain_cseq_agrees_with_the_grammar() {
        use proptest::prelude::*;
        let grammar = |v: &[u8]| {
            grammar::complete(v, |i| {
                let (i, seq) = number::<u32>("")(i)?;
                let (i, ()) = lws(i)?;
                let (i, m) = grammar::many1(chars::TOKEN, "token")(i)?;
                Ok((i, (seq, Method::known(m))))
            })
        };
        let values = proptest::string::bytes_regex(
            "(?s-u)[0-9]{0,11}[ \\t]{0,2}(INVITE|ACK|BYE|REGISTER|FOO|)[ x]?",
        )
        .unwrap();
        proptest!(|(v in values)| {
            if let Some((seq, method)) = plain_cseq(&v) {
                prop_assert_eq!(grammar(&v), Ok((seq, Some(method))));
                prop_assert_eq!(CSeq::parse(&v), Ok(CSeq { seq, method }));
            }
        });
        assert_eq!(plain_cseq(b"123456789 ACK"), Some((123456789, Method::Ack)));
        assert_eq!(plain_cseq(b"1234567890 ACK"), None);
        assert_eq!(CSeq::parse(b"4294967295 ACK").unwrap().seq, u32::MAX);
    }

    #[test]
    fn media_types_and_tokens() {
        assert!(
            MediaType::parse(b"application/pidf+xml")
                .unwrap()
                .is("application", "PIDF+XML")
        );
        assert!(MediaType::parse(b"application").is_err());
        assert_eq!(list_token(b" 100rel ").unwrap(), "100rel");
        assert!(list_token(b"a b").is_err());
    }

    #[test]
    fn retry_after_and_comments() {
        assert_eq!(RetryAfter::parse(b"120").unwrap().seconds, 120);
        assert!(RetryAfter::parse(b"949302838503028349304023988").is_err());
        assert_eq!(
            RetryAfter::parse(b"5 (a (nested) one)").unwrap().comment,
            Some("a (nested) one")
        );
        assert!(RetryAfter::parse(b"5 (open").is_err());
    }

    #[test]
    fn dates() {
        assert!(Date::parse(b"Thu, 21 Feb 2002 13:02:03 GMT").is_ok());
        assert!(Date::parse(b"Thu, 32 Feb 2002 13:02:03 GMT").is_err());
        assert!(Date::parse(b"Thu 21 Feb 2002 13:02:03 GMT").is_err());
    }
}
