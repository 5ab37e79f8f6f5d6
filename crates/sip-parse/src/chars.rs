//! Character classes of the RFC 3261 §25.1 grammar, as one lookup table.

const fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

const fn contains(set: &[u8], c: u8) -> bool {
    let mut i = 0;
    while i < set.len() {
        if set[i] == c {
            return true;
        }
        i += 1;
    }
    false
}

/// `token` characters.
pub(crate) const TOKEN: u8 = 1;
/// `word` characters (Call-ID): token plus `( ) < > : \ " / [ ] ? { }`.
pub(crate) const WORD: u8 = 2;
/// `unreserved` / `user-unreserved` / `%` (user part of a SIP URI).
pub(crate) const USER: u8 = 4;
/// `unreserved` / `& = + $ ,` / `%` (password).
pub(crate) const PASSWORD: u8 = 8;
/// `paramchar`: `param-unreserved` / `unreserved` / `%`.
pub(crate) const PARAM: u8 = 16;
/// `hnv-unreserved` / `unreserved` / `%` (URI header names and values).
pub(crate) const HNV: u8 = 32;
/// Host name characters, IPv4 included: alphanumerics, `-` and `.`.
pub(crate) const HOST: u8 = 64;
/// Characters allowed in a generic URI (RFC 3986 reserved + unreserved + `%`).
pub(crate) const URIC: u8 = 128;

/// The classes `c` belongs to (a bit per class), computed at compile time.
pub(crate) const fn class(c: u8) -> u8 {
    let unreserved = is_alnum(c) || contains(b"-_.!~*'()", c);
    let mut k = 0;
    if is_alnum(c) || contains(b"-.!%*_+`'~", c) {
        k |= TOKEN;
    }
    if is_alnum(c) || contains(b"-.!%*_+`'~()<>:\\\"/[]?{}", c) {
        k |= WORD;
    }
    if unreserved || contains(b"%&=+$,;?/", c) {
        k |= USER;
    }
    if unreserved || contains(b"%&=+$,", c) {
        k |= PASSWORD;
    }
    if unreserved || contains(b"%[]/:&+$", c) {
        k |= PARAM;
    }
    if unreserved || contains(b"%[]/?:+$", c) {
        k |= HNV;
    }
    if is_alnum(c) || c == b'-' || c == b'.' {
        k |= HOST;
    }
    if unreserved || contains(b"%;/?:@&=+$,[]#", c) {
        k |= URIC;
    }
    k
}

const fn table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = class(i as u8);
        i += 1;
    }
    t
}

static TABLE: [u8; 256] = table();

/// Whether `c` belongs to every class in `mask`.
#[inline(always)]
pub(crate) fn is(c: u8, mask: u8) -> bool {
    TABLE[c as usize] & mask == mask
}

/// Length of the longest prefix of `s` whose bytes all belong to `mask`.
#[inline]
pub(crate) fn span(s: &[u8], mask: u8) -> usize {
    // A plain counted loop: this is the hot loop of token and parameter scanning.
    let mut n = 0;
    while let Some(&c) = s.get(n) {
        if !is(c, mask) {
            break;
        }
        n += 1;
    }
    n
}

/// [`span`] four bytes a step while all of them belong, then one at a time: for the longer runs
/// (header names, Call-IDs), where it saves a third of the work; on short tokens it costs more.
#[inline]
pub(crate) fn span_long(s: &[u8], mask: u8) -> usize {
    let mut n = 0;
    while let Some(&[a, b, c, d]) = s.get(n..n + 4) {
        let all = TABLE[usize::from(a)]
            & TABLE[usize::from(b)]
            & TABLE[usize::from(c)]
            & TABLE[usize::from(d)];
        if all & mask != mask {
            break;
        }
        n += 4;
    }
    n + span(&s[n..], mask)
}

/// A byte table for [`run_until`], built at compile time: 1 for each byte `c` where `$stop`
/// holds, 0 elsewhere.
macro_rules! stop_table {
    (|$c:ident| $stop:expr) => {{
        let mut table = [0u8; 256];
        let mut i = 0;
        while i < 256 {
            let $c = i as u8;
            if $stop {
                table[i] = 1;
            }
            i += 1;
        }
        table
    }};
}
pub(crate) use stop_table;

/// The decimal number at the start of `s` and how many digits it took, in one loop; `None`
/// when it has more than `max` digits (`max` ≤ 9, so it fits a `u32`). No digit gives `(0, 0)`.
#[inline(always)]
pub(crate) fn leading_digits(s: &[u8], max: usize) -> Option<(u32, usize)> {
    let mut value: u32 = 0;
    let mut n = 0;
    while let Some(&c) = s.get(n) {
        if !c.is_ascii_digit() {
            break;
        }
        if n == max {
            return None;
        }
        value = value * 10 + u32::from(c - b'0');
        n += 1;
    }
    Some((value, n))
}

/// Length of the longest prefix of `s` whose bytes `stop` maps to 0, four bytes a step: for
/// the long runs of URIs and parameter values.
#[inline]
pub(crate) fn run_until(s: &[u8], stop: &[u8; 256]) -> usize {
    let mut n = 0;
    while let Some(&[a, b, c, d]) = s.get(n..n + 4) {
        let any = stop[usize::from(a)]
            | stop[usize::from(b)]
            | stop[usize::from(c)]
            | stop[usize::from(d)];
        if any != 0 {
            break;
        }
        n += 4;
    }
    while let Some(&c) = s.get(n) {
        if stop[usize::from(c)] != 0 {
            break;
        }
        n += 1;
    }
    n
}

/// A set of bytes that SSE2 tests 16 at a time, for [`run_until_wide`]: it holds every stop
/// byte of the table it is used with (and may hold more: those are then looked at one by one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wide {
    /// Controls, SP, DEL, `"`, `<` and `>`: exactly where a bracketed URI's scan stops.
    UriStop,
    /// The bytes below 0x20, DEL, `"` and `\`: exactly where a quoted string's scan stops.
    QuotedStop,
    /// Every byte but visible ASCII (`!`..=`~`): exactly where a plain Request-URI ends.
    NotVisible,
}

/// [`run_until`], 16 bytes a step while none of them is in `wide`, then a byte at a time from
/// the first that is. `wide` must hold every byte `stop` marks (the tests check each pairing).
#[inline(always)]
pub(crate) fn run_until_wide(s: &[u8], stop: &[u8; 256], wide: Wide) -> usize {
    let n = wide_prefix(s, wide);
    n + run_until(s.get(n..).unwrap_or_default(), stop)
}

/// How many bytes at the start of `s` are outside `wide`, looked at in whole 16-byte steps
/// (a shorter rest is left to the caller).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn wide_prefix(s: &[u8], wide: Wide) -> usize {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i as eq, load_unaligned_m128i, max_u8_m128i, min_u8_m128i,
        move_mask_i8_m128i, set_splat_i8_m128i as splat,
    };
    // Lanes of `v` at most `max`, or at least `min`, unsigned.
    let at_most = |v, max: u8| eq(min_u8_m128i(v, splat(max as i8)), v);
    let at_least = |v, min: u8| eq(max_u8_m128i(v, splat(min as i8)), v);
    let mut n = 0;
    while let Some(chunk) = s.get(n..n + 16) {
        let chunk: &[u8; 16] = chunk.try_into().unwrap_or(&[0; 16]);
        let v = load_unaligned_m128i(chunk);
        let hit = match wide {
            Wide::UriStop => bitor_m128i(
                bitor_m128i(at_most(v, b' '), eq(v, splat(0x7f))),
                bitor_m128i(
                    eq(v, splat(b'"' as i8)),
                    bitor_m128i(eq(v, splat(b'<' as i8)), eq(v, splat(b'>' as i8))),
                ),
            ),
            Wide::QuotedStop => bitor_m128i(
                bitor_m128i(at_most(v, 0x1f), eq(v, splat(0x7f))),
                bitor_m128i(eq(v, splat(b'"' as i8)), eq(v, splat(b'\\' as i8))),
            ),
            Wide::NotVisible => bitor_m128i(at_most(v, b' '), at_least(v, 0x7f)),
        };
        let mask = move_mask_i8_m128i(hit);
        if mask != 0 {
            return n + mask.trailing_zeros() as usize;
        }
        n += 16;
    }
    n
}

/// The first `c` in `s`, 16 bytes a compare with SSE2 (the last step overlaps the one
/// before): for the short strings of a URI, where `memchr`'s call and set-up cost more than
/// its search.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
pub(crate) fn find_byte(s: &[u8], c: u8) -> Option<usize> {
    use safe_arch::{
        cmp_eq_mask_i8_m128i, load_unaligned_m128i, move_mask_i8_m128i, set_splat_i8_m128i,
    };
    let needle = set_splat_i8_m128i(c as i8);
    let hits = |at: usize| {
        let chunk: &[u8; 16] = s
            .get(at..at + 16)
            .and_then(|chunk| chunk.try_into().ok())
            .unwrap_or(&[0; 16]);
        move_mask_i8_m128i(cmp_eq_mask_i8_m128i(load_unaligned_m128i(chunk), needle)) as u32
    };
    let Some(last) = s.len().checked_sub(16) else {
        return s.iter().position(|&b| b == c);
    };
    let mut n = 0;
    while n <= last {
        let found = hits(n);
        if found != 0 {
            return Some(n + found.trailing_zeros() as usize);
        }
        n += 16;
    }
    // The bytes after the last whole step, read as the last 16 bytes.
    match hits(last) >> (n - last) {
        0 => None,
        found => Some(n + found.trailing_zeros() as usize),
    }
}

/// The first `c` in `s`, elsewhere.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
pub(crate) fn find_byte(s: &[u8], c: u8) -> Option<usize> {
    memchr::memchr(c, s)
}

/// Elsewhere the scan is [`run_until`]'s alone.
#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn wide_prefix(_: &[u8], _: Wide) -> usize {
    0
}

/// Panics unless `wide` holds every byte `stop` marks (exactly those when `exact`), and
/// [`run_until_wide`] answers as [`run_until`] on runs of every byte value at every length
/// around a step. For the tests of each table used with a [`Wide`] set.
#[cfg(test)]
pub(crate) fn assert_wide_holds(stop: &[u8; 256], wide: Wide, exact: bool) {
    for b in 0..=255u8 {
        let flagged = cfg!(not(all(target_arch = "x86_64", target_feature = "sse2")))
            || wide_prefix(&[b; 16], wide) == 0;
        if stop[usize::from(b)] != 0 {
            assert!(flagged, "{wide:?} misses stop byte {b:#04x}");
        } else if exact && cfg!(all(target_arch = "x86_64", target_feature = "sse2")) {
            assert!(!flagged, "{wide:?} flags byte {b:#04x}, which is no stop");
        }
        for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 40] {
            for at in [0, len / 2, len.saturating_sub(1)] {
                let mut s = vec![b'a'; len];
                if let Some(c) = s.get_mut(at) {
                    *c = b;
                }
                assert_eq!(
                    run_until_wide(&s, stop, wide),
                    run_until(&s, stop),
                    "{wide:?} {b:#04x} at {at} of {len}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`find_byte`] is `memchr` at every length and position, the overlapping last step
    /// included.
    #[test]
    fn find_byte_is_memchr() {
        for len in 0..50 {
            for at in 0..=len {
                let mut s = vec![b'a'; len];
                if let Some(c) = s.get_mut(at) {
                    *c = b'@';
                }
                // A second one later, and the needle's neighbours, change nothing.
                if let Some(c) = s.get_mut(at + 3) {
                    *c = b'@';
                }
                if let Some(c) = s.get_mut(at.wrapping_sub(1)) {
                    *c = b'?';
                }
                assert_eq!(
                    find_byte(&s, b'@'),
                    memchr::memchr(b'@', &s),
                    "{at} of {len}"
                );
            }
        }
    }

    #[test]
    fn classes_match_rfc3261() {
        for c in b"abcXYZ019-.!%*_+`'~" {
            assert!(is(*c, TOKEN), "{}", *c as char);
        }
        for c in b" \t\r\n\"(),/:;<=>?@[\\]{}" {
            assert!(!is(*c, TOKEN), "{}", *c as char);
        }
        assert!(is(b'<', WORD) && is(b'"', WORD) && !is(b'@', WORD) && !is(b' ', WORD));
        assert!(is(b';', USER) && is(b'?', USER) && !is(b':', USER) && !is(b'@', USER));
        assert!(is(b'&', PASSWORD) && !is(b';', PASSWORD) && !is(b':', PASSWORD));
        assert!(is(b':', PARAM) && !is(b';', PARAM) && !is(b'=', PARAM) && !is(b'?', PARAM));
        assert!(is(b'?', HNV) && !is(b'&', HNV) && !is(b'=', HNV));
        assert!(is(b'-', HOST) && !is(b'_', HOST));
        assert_eq!(span(b"abc def", TOKEN), 3);
        for s in [
            "",
            "a",
            "ab:",
            "abcd",
            "abcde",
            "abcdefgh",
            "abcdefgh:",
            "ab cdefgh",
            "abcdefg h",
        ] {
            assert_eq!(
                span_long(s.as_bytes(), TOKEN),
                span(s.as_bytes(), TOKEN),
                "{s:?}"
            );
        }
    }
}
