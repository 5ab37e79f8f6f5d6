//! Stream framing: feeding the input in pieces (sizes taken from the input) to `StreamFramer`
//! yields exactly the messages that repeated `parse_stream` calls find on the whole input.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use sip_parse::{Message, StreamFramer, Streamed};

fuzz_target!(|input: &[u8]| {
    let Some((&step, data)) = input.split_first() else { return };
    let step = usize::from(step % 64) + 1;

    let mut expected = Vec::new();
    let mut rest = Bytes::copy_from_slice(data);
    let mut failed = false;
    loop {
        match Message::parse_stream(&rest) {
            Ok(Streamed::Complete(m, used)) => {
                assert!(used <= rest.len() && used > 0);
                expected.push(m.bytes().clone());
                rest = rest.slice(used..);
            }
            Ok(Streamed::Incomplete(n)) => {
                assert!(n > 0);
                break;
            }
            Err(_) => {
                failed = true;
                break;
            }
        }
    }

    let mut framer = StreamFramer::default();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    let mut framer_failed = false;
    'feed: for chunk in data.chunks(step) {
        buf.extend_from_slice(chunk);
        loop {
            match framer.next_message(&mut buf) {
                Ok(Some(m)) => got.push(m.bytes().clone()),
                Ok(None) => break,
                Err(_) => {
                    framer_failed = true;
                    break 'feed;
                }
            }
        }
    }
    // Both see the same messages up to the first error; an error on one side is an error (or a
    // not-yet-complete message) on the other.
    let n = got.len().min(expected.len());
    assert_eq!(got[..n], expected[..n]);
    if !failed && !framer_failed {
        assert_eq!(got, expected);
    }
});
