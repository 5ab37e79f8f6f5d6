//! The schema's data types (`dateTime.tz`, `boolean`, `fixed.14.4`, `uri`) and the values the
//! RTC API gave meaning to (a SIP user URI, a server address).
//!
//! Each type parses from the attribute text (`FromStr`, errors at 1:1 of the value) and writes
//! back with `Display` in a canonical form that parses to an equal value.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Position};

const START: Position = Position { line: 1, column: 1 };

/// XML whitespace, trimmed from typed values (XDR typed attributes collapse whitespace).
pub(crate) fn trim_xml(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

/// Parses a schema `boolean`: `0` or `1`, and leniently `true` or `false` in any case.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    let s = trim_xml(s);
    if s == "1" || s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s == "0" || s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A UTC offset of a [`DateTimeTz`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Zone {
    /// `Z`.
    Utc,
    /// `+hh:mm` or `-hh:mm`, in minutes east of UTC.
    Offset(i16),
}

/// A schema `dateTime.tz`: an ISO 8601 date with optional time and optional zone, e.g.
/// `2030-04-07T18:39:09-08:00`. Fractional seconds go down to nanoseconds.
///
/// A value without a zone is taken as UTC and one without a time as midnight when converted
/// to an instant ([`DateTimeTz::unix_seconds`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTimeTz {
    year: u16,
    month: u8,
    day: u8,
    time: Option<(u8, u8, u8, u32)>,
    zone: Option<Zone>,
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let m = i64::from(month);
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Reads exactly `n` ASCII digits from the front of `s`.
fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    let head = s.get(..n)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, s.get(n..)?))
}

impl DateTimeTz {
    /// A date with optional `(hour, minute, second, nanosecond)` and zone; `None` if any field
    /// is out of range.
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        time: Option<(u8, u8, u8, u32)>,
        zone: Option<Zone>,
    ) -> Option<Self> {
        if year > 9999 || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(i64::from(year), month) {
            return None;
        }
        if let Some((h, m, s, ns)) = time
            && (h > 23 || m > 59 || s > 59 || ns > 999_999_999)
        {
            return None;
        }
        if let Some(Zone::Offset(minutes)) = zone
            && minutes.unsigned_abs() > 23 * 60 + 59
        {
            return None;
        }
        Some(DateTimeTz {
            year,
            month,
            day,
            time,
            zone,
        })
    }

    /// The year (0–9999).
    pub fn year(&self) -> u16 {
        self.year
    }
    /// The month (1–12).
    pub fn month(&self) -> u8 {
        self.month
    }
    /// The day of the month (1–31).
    pub fn day(&self) -> u8 {
        self.day
    }
    /// `(hour, minute, second, nanosecond)`, if the value has a time.
    pub fn time(&self) -> Option<(u8, u8, u8, u32)> {
        self.time
    }
    /// The zone, if the value has one.
    pub fn zone(&self) -> Option<Zone> {
        self.zone
    }

    /// Seconds since 1970-01-01T00:00:00Z (negative before), ignoring the fraction.
    pub fn unix_seconds(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month, self.day);
        let (h, m, s, _) = self.time.unwrap_or((0, 0, 0, 0));
        let offset = match self.zone {
            Some(Zone::Offset(minutes)) => i64::from(minutes) * 60,
            Some(Zone::Utc) | None => 0,
        };
        days * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s) - offset
    }

    /// The nanoseconds within the second.
    pub fn nanosecond(&self) -> u32 {
        self.time.map_or(0, |t| t.3)
    }

    /// True when `now` is at or after this instant.
    pub fn is_past(&self, now: SystemTime) -> bool {
        // (seconds, nanoseconds) since the epoch, seconds floored, so the pair orders correctly.
        let now = match now.duration_since(UNIX_EPOCH) {
            Ok(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            Err(e) => {
                let d = e.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if d.subsec_nanos() == 0 {
                    (-secs, 0)
                } else {
                    (-secs - 1, 1_000_000_000 - d.subsec_nanos())
                }
            }
        };
        now >= (self.unix_seconds(), self.nanosecond())
    }

    pub(crate) fn parse_str(s: &str) -> Option<Self> {
        let s = trim_xml(s);
        let (year, s) = digits(s, 4)?;
        let s = s.strip_prefix('-')?;
        let (month, s) = digits(s, 2)?;
        let s = s.strip_prefix('-')?;
        let (day, mut s) = digits(s, 2)?;
        let mut time = None;
        if let Some(rest) = s.strip_prefix('T') {
            let (h, rest) = digits(rest, 2)?;
            let rest = rest.strip_prefix(':')?;
            let (m, mut rest) = digits(rest, 2)?;
            let mut sec = 0;
            let mut nanos = 0;
            if let Some(r) = rest.strip_prefix(':') {
                let (v, r) = digits(r, 2)?;
                sec = v;
                rest = r;
                if let Some(r) = rest.strip_prefix('.') {
                    let n = r.bytes().take_while(u8::is_ascii_digit).count();
                    if n == 0 || n > 9 {
                        return None;
                    }
                    let (frac, r) = digits(r, n)?;
                    nanos = frac * 10u32.pow(9 - n as u32);
                    rest = r;
                }
            }
            time = Some((
                u8::try_from(h).ok()?,
                u8::try_from(m).ok()?,
                u8::try_from(sec).ok()?,
                nanos,
            ));
            s = rest;
        }
        let zone = if s.is_empty() {
            None
        } else if s == "Z" {
            Some(Zone::Utc)
        } else {
            let (sign, rest) = match s.as_bytes().first()? {
                b'+' => (1i16, s.get(1..)?),
                b'-' => (-1i16, s.get(1..)?),
                _ => return None,
            };
            let (h, rest) = digits(rest, 2)?;
            let rest = rest.strip_prefix(':')?;
            let (m, rest) = digits(rest, 2)?;
            if !rest.is_empty() || h > 23 || m > 59 {
                return None;
            }
            Some(Zone::Offset(sign * i16::try_from(h * 60 + m).ok()?))
        };
        DateTimeTz::new(
            u16::try_from(year).ok()?,
            u8::try_from(month).ok()?,
            u8::try_from(day).ok()?,
            time,
            zone,
        )
    }
}

impl FromStr for DateTimeTz {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse_str(s).ok_or_else(|| Error::InvalidDateTime {
            value: s.to_owned(),
            at: START,
        })
    }
}

impl fmt::Display for DateTimeTz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)?;
        if let Some((h, m, s, ns)) = self.time {
            write!(f, "T{h:02}:{m:02}:{s:02}")?;
            if ns != 0 {
                let frac = format!("{ns:09}");
                write!(f, ".{}", frac.trim_end_matches('0'))?;
            }
        }
        match self.zone {
            None => Ok(()),
            Some(Zone::Utc) => f.write_str("Z"),
            Some(Zone::Offset(minutes)) => {
                let sign = if minutes < 0 { '-' } else { '+' };
                let abs = minutes.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", abs / 60, abs % 60)
            }
        }
    }
}

/// A schema `fixed.14.4` number: at most 14 digits before the point and 4 after (client
/// versions, `minver` and `curver`). Compares numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fixed(i64);

impl Fixed {
    const SCALE: i64 = 10_000;

    /// The value times 10⁴, e.g. `51000` for `5.1`.
    pub fn ten_thousandths(self) -> i64 {
        self.0
    }

    /// The value from ten-thousandths; `None` beyond 14 integer digits.
    pub fn from_ten_thousandths(v: i64) -> Option<Self> {
        (v.unsigned_abs() < 100_000_000_000_000 * Self::SCALE as u64).then_some(Fixed(v))
    }

    pub(crate) fn parse_str(s: &str) -> Option<Self> {
        let s = trim_xml(s);
        let (negative, s) = match s.as_bytes().first()? {
            b'-' => (true, s.get(1..)?),
            b'+' => (false, s.get(1..)?),
            _ => (false, s),
        };
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let int = int.trim_start_matches('0');
        if int.len() > 14 || frac.len() > 4 {
            return None;
        }
        let int_value: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut frac_value: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        for _ in frac.len()..4 {
            frac_value *= 10;
        }
        let v = int_value * Self::SCALE + frac_value;
        Some(Fixed(if negative { -v } else { v }))
    }
}

impl FromStr for Fixed {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse_str(s).ok_or_else(|| Error::InvalidFixed {
            attribute: "value",
            value: s.to_owned(),
            at: START,
        })
    }
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abs = self.0.unsigned_abs();
        let scale = Self::SCALE.unsigned_abs();
        if self.0 < 0 {
            f.write_str("-")?;
        }
        write!(f, "{}", abs / scale)?;
        let frac = abs % scale;
        if frac != 0 {
            let digits = format!("{frac:04}");
            write!(f, ".{}", digits.trim_end_matches('0'))?;
        }
        Ok(())
    }
}

fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// RFC 3261 §25.1 `userinfo` without its `@`: a non-empty `user` (unreserved, escaped or
/// user-unreserved characters) and an optional `:password`.
fn is_userinfo(s: &str) -> bool {
    let (user, password) = s.split_once(':').unwrap_or((s, ""));
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b);
    let valid = |part: &str, extra: &[u8]| {
        let bytes = part.as_bytes();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if b == b'%' {
                // escaped = "%" HEXDIG HEXDIG
                let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
                if !(hex(i + 1) && hex(i + 2)) {
                    return false;
                }
                i += 3;
            } else if unreserved(b) || extra.contains(&b) {
                i += 1;
            } else {
                return false;
            }
        }
        true
    };
    !user.is_empty() && valid(user, b"&=+$,;?/") && valid(password, b"&=+$,")
}

/// Characters never allowed in a URI, even leniently: whitespace, controls, and the delimiters
/// that would make it ambiguous in text.
fn has_forbidden_uri_char(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
}

/// A schema `uri`: an absolute URI (`scheme:…`), kept as written (surrounding whitespace
/// trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uri(String);

impl Uri {
    /// The URI text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The scheme, as written.
    pub fn scheme(&self) -> &str {
        self.0.split_once(':').map_or("", |(scheme, _)| scheme)
    }

    pub(crate) fn parse_str(s: &str) -> Option<Self> {
        let s = trim_xml(s);
        let (scheme, rest) = s.split_once(':')?;
        if !is_scheme(scheme) || rest.is_empty() || has_forbidden_uri_char(rest) {
            return None;
        }
        Some(Uri(s.to_owned()))
    }
}

impl FromStr for Uri {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse_str(s).ok_or_else(|| Error::InvalidUri {
            attribute: "uri",
            value: s.to_owned(),
            at: START,
        })
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The host part of a [`ServerAddr`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, as written.
    Name(String),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (written in brackets).
    V6(Ipv6Addr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

fn is_hostname(s: &str) -> bool {
    let name = s.strip_suffix('.').unwrap_or(s);
    if name.is_empty() || name.len() > 253 {
        return false;
    }
    name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            // Underscores are not RFC 1123, but real intranet names carry them.
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

fn parse_host(s: &str) -> Option<Host> {
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return inner.parse().ok().map(Host::V6);
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return s.parse().ok().map(Host::V4);
    }
    is_hostname(s).then(|| Host::Name(s.to_owned()))
}

fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&p| p != 0)
}

/// A SIP server address: `host[:port]`, the host a DNS name, an IPv4 address, or an IPv6
/// address in brackets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerAddr {
    /// The host.
    pub host: Host,
    /// The port, if given (1–65535).
    pub port: Option<u16>,
}

impl ServerAddr {
    pub(crate) fn parse_str(s: &str) -> Option<Self> {
        let s = trim_xml(s);
        let (host, port) = if s.starts_with('[') {
            let end = s.find(']')?;
            let (host, rest) = s.split_at(end + 1);
            match rest {
                "" => (host, None),
                _ => (host, Some(parse_port(rest.strip_prefix(':')?)?)),
            }
        } else {
            match s.split_once(':') {
                Some((host, port)) => (host, Some(parse_port(port)?)),
                None => (s, None),
            }
        };
        Some(ServerAddr {
            host: parse_host(host)?,
            port,
        })
    }
}

impl FromStr for ServerAddr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse_str(s).ok_or_else(|| Error::InvalidServerAddress {
            value: s.to_owned(),
            at: START,
        })
    }
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// The scheme of a [`UserUri`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SipScheme {
    /// `sip:`
    Sip,
    /// `sips:` (TLS end to end).
    Sips,
}

/// The user's SIP URI, always with its scheme: a profile may write it without one
/// (`someone@example.com`), which the RTC API took as `sip:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserUri {
    scheme: SipScheme,
    /// Everything after `scheme:`.
    rest: String,
}

impl UserUri {
    /// The scheme.
    pub fn scheme(&self) -> SipScheme {
        self.scheme
    }

    /// The part after the scheme, e.g. `someone@example.com`.
    pub fn without_scheme(&self) -> &str {
        &self.rest
    }

    pub(crate) fn parse_str(s: &str) -> Option<Self> {
        let s = trim_xml(s);
        let (scheme, rest) = match s.split_once(':') {
            Some((scheme, rest)) if is_scheme(scheme) => {
                if scheme.eq_ignore_ascii_case("sip") {
                    (SipScheme::Sip, rest)
                } else if scheme.eq_ignore_ascii_case("sips") {
                    (SipScheme::Sips, rest)
                } else {
                    return None;
                }
            }
            // No scheme (a ':' after an '@' is a port): sip: is implied.
            _ => (SipScheme::Sip, s),
        };
        if rest.is_empty() || has_forbidden_uri_char(rest) {
            return None;
        }
        // RFC 3261 §25.1: `@` appears once, after a userinfo of its own characters; neither
        // the host nor the parameters may hold one.
        let after_user = match rest.split_once('@') {
            Some((userinfo, after)) if is_userinfo(userinfo) => after,
            Some(_) => return None,
            None => rest,
        };
        if after_user.contains('@') {
            return None;
        }
        let hostport = after_user.split([';', '?']).next().unwrap_or(after_user);
        ServerAddr::parse_str(hostport)?;
        Some(UserUri {
            scheme,
            rest: rest.to_owned(),
        })
    }
}

impl FromStr for UserUri {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse_str(s).ok_or_else(|| Error::InvalidUserUri {
            value: s.to_owned(),
            at: START,
        })
    }
}

impl fmt::Display for UserUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.scheme {
            SipScheme::Sip => "sip",
            SipScheme::Sips => "sips",
        };
        write!(f, "{scheme}:{}", self.rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn dt(s: &str) -> DateTimeTz {
        match s.parse() {
            Ok(v) => v,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn datetime_forms() {
        assert_eq!(dt("1970-01-01T00:00:00Z").unix_seconds(), 0);
        assert_eq!(dt("1970-01-02").unix_seconds(), 86_400);
        assert_eq!(dt("2000-03-01T00:00:00Z").unix_seconds(), 951_868_800);
        assert_eq!(dt("1988-04-07T18:39:09-08:00").unix_seconds(), 576_470_349);
        assert_eq!(dt("1969-12-31T23:59:59Z").unix_seconds(), -1);
        assert_eq!(dt("2024-02-29T12:30").to_string(), "2024-02-29T12:30:00");
        assert_eq!(
            dt("2030-01-01T00:00:00.5+05:30").to_string(),
            "2030-01-01T00:00:00.5+05:30"
        );
        assert_eq!(dt(" 2030-01-01Z ").zone(), Some(Zone::Utc));
    }

    #[test]
    fn datetime_rejects() {
        for bad in [
            "",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-01-32",
            "24-01-01",
            "2024-01-01T24:00:00",
            "2024-01-01T10:60",
            "2024-01-01T10:00:60",
            "2024-01-01T10:00:00.",
            "2024-01-01T10:00:00.1234567890",
            "2024-01-01T10:00:00+1:00",
            "2024-01-01T10:00:00+24:00",
            "2024-01-01T10:00:00 Z",
            "2024-01-01 10:00:00",
            "２０２４-01-01",
        ] {
            assert!(bad.parse::<DateTimeTz>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn expiry_compares_with_fraction() {
        let t = dt("1970-01-01T00:00:10.5Z");
        assert!(!t.is_past(UNIX_EPOCH + Duration::from_millis(10_499)));
        assert!(t.is_past(UNIX_EPOCH + Duration::from_millis(10_500)));
        assert!(!t.is_past(UNIX_EPOCH - Duration::from_secs(5)));
        assert!(dt("1969-01-01").is_past(UNIX_EPOCH - Duration::from_millis(1)));
    }

    #[test]
    fn fixed_numbers() {
        let f = |s: &str| s.parse::<Fixed>().map(|v| v.to_string()).ok();
        assert_eq!(f("5.1"), Some("5.1".into()));
        assert_eq!(f("5.1000"), Some("5.1".into()));
        assert_eq!(f("-0.0001"), Some("-0.0001".into()));
        assert_eq!(f(".5"), Some("0.5".into()));
        assert_eq!(f("7."), Some("7".into()));
        assert_eq!(f("99999999999999.9999"), Some("99999999999999.9999".into()));
        assert_eq!(f("000000000000000001"), Some("1".into()));
        for bad in [
            "",
            ".",
            "-",
            "1.23456",
            "123456789012345",
            "1e3",
            "1,5",
            "+-1",
            "1.2.3",
        ] {
            assert_eq!(f(bad), None, "{bad:?}");
        }
        // A number, not a dotted version: 1.10 is 1.1, less than 1.5.
        assert_eq!("1.10".parse::<Fixed>().ok(), "1.1".parse::<Fixed>().ok());
        assert!("1.10".parse::<Fixed>().ok() < "1.5".parse::<Fixed>().ok());
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool(" 0 "), Some(false));
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn server_addresses() {
        let ok = |s: &str| ServerAddr::parse_str(s).map(|a| a.to_string());
        assert_eq!(ok("sip.example.com"), Some("sip.example.com".into()));
        assert_eq!(
            ok("sip.example.com:05061"),
            Some("sip.example.com:5061".into())
        );
        assert_eq!(ok("192.0.2.1:5060"), Some("192.0.2.1:5060".into()));
        assert_eq!(ok("[2001:db8::1]:5061"), Some("[2001:db8::1]:5061".into()));
        assert_eq!(ok("[2001:db8::1]"), Some("[2001:db8::1]".into()));
        assert_eq!(ok("corp_server"), Some("corp_server".into()));
        for bad in [
            "",
            ":5060",
            "host:",
            "host:0",
            "host:65536",
            "host:50a",
            "2001:db8::1",
            "[2001:db8::1",
            "[nothex]:1",
            "1.2.3.999",
            "-bad.example.com",
            "a..b",
            "sip:host",
            "host name",
        ] {
            assert_eq!(ok(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn user_uris() {
        let ok = |s: &str| UserUri::parse_str(s).map(|u| u.to_string());
        assert_eq!(
            ok("sip:alice@example.com"),
            Some("sip:alice@example.com".into())
        );
        assert_eq!(
            ok("SIPS:alice@example.com"),
            Some("sips:alice@example.com".into())
        );
        assert_eq!(
            ok("alice@example.com"),
            Some("sip:alice@example.com".into())
        );
        assert_eq!(
            ok("alice@example.com:5060"),
            Some("sip:alice@example.com:5060".into())
        );
        assert_eq!(
            ok("sip:alice@example.com;transport=tls"),
            Some("sip:alice@example.com;transport=tls".into())
        );
        assert_eq!(
            ok("sip:j.o%27hara+work:pw$1@example.com"),
            Some("sip:j.o%27hara+work:pw$1@example.com".into())
        );
        assert_eq!(ok("sip:example.com"), Some("sip:example.com".into()));
        for bad in [
            "",
            "tel:+15551234",
            "http://example.com",
            "sip:",
            "sip:@example.com",
            "a b@c",
            "sip:alice@@example.test",
            "sip:alice@example.test@example.org",
            "sip:al%zzice@example.test",
            "sip:al[ice@example.test",
            "sip:alice@example.test;maddr=a@b",
        ] {
            assert_eq!(ok(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn uris() {
        assert!(Uri::parse_str("http://www.example.com/help").is_some());
        assert!(Uri::parse_str("urn:schemas-microsoft-com:Office9").is_some());
        assert!(Uri::parse_str("www.example.com").is_none());
        assert!(Uri::parse_str("http://exa mple.com").is_none());
        assert!(Uri::parse_str("1http://x").is_none());
    }
}
