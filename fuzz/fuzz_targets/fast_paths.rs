//! The one-pass readers of the common shapes (start line, header line, Via, From/To/Contact)
//! agree with the full grammar wherever they answer: the first byte is a line-length limit, the
//! rest the text. A difference panics inside `sip_parse::fuzzing`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sip_parse::fuzzing::one_pass_readers_agree(data));
