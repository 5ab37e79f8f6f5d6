//! Differential checks of the one-pass readers against the careful readers they stand in for,
//! for the `fast_paths` fuzz target. Compiled only with `--cfg fuzzing`, which cargo-fuzz sets:
//! not part of the API.

use crate::ParseConfig;
use crate::header::{address, via};
use crate::message;

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
