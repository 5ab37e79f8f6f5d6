//! Differential checks of the one-pass readers against the careful readers they stand in for,
//! for the `fast_paths` fuzz target. Compiled only with `--cfg fuzzing`, which cargo-fuzz sets:
//! not part of the API.

use std::net::IpAddr;

use crate::header::{address, via};
use crate::message;
use crate::{Message, ParseConfig, TopVia};

/// Runs every one-pass reader on `data` and panics where one answers differently from the
/// careful reader: the start line, a header line (under a line-length limit taken from the
/// first byte), a Via value, a From/To/Contact value and a list of Contacts.
pub fn one_pass_readers_agree(data: &[u8]) {
    let Some((&limit, rest)) = data.split_first() else {
        return;
    };
    message::assert_plain_start_line_agrees(rest);
    let cfg = ParseConfig {
        max_line_length: usize::from(limit),
        ..ParseConfig::default()
    };
    message::assert_plain_field_agrees(rest, &cfg);
    message::assert_plain_field_agrees(rest, &ParseConfig::default());
    via::assert_one_pass_agrees(rest);
    address::assert_one_pass_agrees(rest);
    crate::header::assert_contact_elements_agree(rest);
}

/// Stamps the top Via of `msg`, when it has one, and panics unless the stamped message, built
/// from `msg`'s split, is the parse of its bytes, and its top Via the one a read finds: with an
/// IPv4 and an IPv6 `received`, with and without an `rport` to fill.
pub fn stamp_is_the_parse(msg: &Message) {
    let Ok(top) = TopVia::read(msg) else {
        return;
    };
    let cfg = ParseConfig::default();
    for (ip, rport) in [
        (IpAddr::from([192, 0, 2, 1]), Some(5060)),
        (IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]), None),
    ] {
        // A copy over the size or line limits is refused as its parse would refuse it.
        let Ok((stamped, derived)) = top.stamp(msg, ip, rport, &cfg) else {
            continue;
        };
        let parsed = Message::parse_with(stamped.bytes().clone(), &crate::top_via::relaxed(&cfg))
            .expect("a stamped message parses");
        stamped.assert_same_split(&parsed);
        assert_eq!(Ok(derived), TopVia::read(&parsed));
    }
}
