//! RFC 3339 `date-time`, as PIDF timestamps must be written (RFC 3863 §4.1.7) and as RPID and
//! the data model use for theirs (RFC 4480 §2, RFC 4479 §3.3).

/// Whether `s` is an RFC 3339 §5.6 `date-time`: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`,
/// with real calendar days (leap years included) and a second up to 60 (a leap second). `T`
/// and `Z` may be lowercase (§5.6 note).
///
/// ```ignore
/// assert!(is_date_time("2001-10-27T16:49:29Z"));
/// assert!(!is_date_time("2001-02-29T00:00:00Z"));
/// ```
pub(crate) fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<u32> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let at = |i: usize, c: u8| b.get(i).is_some_and(|x| x.eq_ignore_ascii_case(&c));
    let (Some(year), Some(month), Some(day)) = (num(0, 4), num(5, 2), num(8, 2)) else {
        return false;
    };
    let (Some(hour), Some(minute), Some(second)) = (num(11, 2), num(14, 2), num(17, 2)) else {
        return false;
    };
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return false;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if day == 0 || day > days || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut i = 19;
    if at(i, b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        i += 1 + digits;
    }
    match b.get(i) {
        Some(b'Z' | b'z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            let (Some(h), Some(m)) = (num(i + 1, 2), num(i + 4, 2)) else {
                return false;
            };
            at(i + 3, b':') && h <= 23 && m <= 59 && i + 6 == b.len()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_date_time;

    #[test]
    fn rfc_3339_examples_and_edges() {
        for ok in [
            "1985-04-12T23:20:50.52Z",
            "1996-12-19T16:39:57-08:00",
            "1990-12-31T23:59:60Z",
            "1937-01-01T12:00:27.87+00:20",
            "2000-02-29t00:00:00z",
            "2005-05-30T16:09:44+05:00",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
        for bad in [
            "",
            "yesterday",
            "2001-10-27",
            "2001-10-27T16:49:29",
            "2001-10-27 16:49:29Z",
            "2001-13-01T00:00:00Z",
            "2001-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2001-04-31T00:00:00Z",
            "2001-10-27T24:00:00Z",
            "2001-10-27T16:60:00Z",
            "2001-10-27T16:49:61Z",
            "2001-10-27T16:49:29.Z",
            "2001-10-27T16:49:29+0500",
            "2001-10-27T16:49:29+24:00",
            "2001-10-27T16:49:29Zjunk",
            "+2001-10-27T16:49:29Z",
            "2001-1-27T16:49:29Z",
            "２００１-10-27T16:49:29Z",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
    }
}
