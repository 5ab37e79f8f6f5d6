//! Shared pieces of the parser benchmarks: the corpus loader, one *full parse* per parser, the
//! memchr floor, the cross-check that both parsers extracted the same fields, the header split
//! alone beside httparse's (a reference for what splitting costs), and a counting global
//! allocator.
//!
//! A full parse is the parse plus the typed views a proxy or transaction layer reads on every
//! message (top-Via branch, From/To tags, Call-ID, CSeq, first Contact URI, body length), so a
//! lazy parser does not look fast by skipping work. `benches/parse.rs` (criterion) and the
//! `parse-compare` binary both drive these functions.

pub mod alloc_count;
pub mod clock;
pub mod corpus;
pub mod flood;
pub mod full_parse;
pub mod split;

pub use corpus::{Comparison, Excluded, Mismatch, Sample};
pub use full_parse::{Failure, Fields, FullParse, Rsip, SipParse, Summary};

use std::hint::black_box;

/// The floor: one `memchr` pass over every byte of the message, counting line feeds.
pub fn floor(msg: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', msg).count()
}

/// One full parse of every sample with `P`, results fed to [`black_box`].
///
/// Samples are expected to have passed [`corpus::compare`]; a failure here is not reported.
pub fn full_pass<P: FullParse>(samples: &[Sample]) {
    for sample in samples {
        let _ = black_box(P::full(&sample.bytes, |fields| {
            black_box(fields);
        }));
    }
}

/// One [`floor`] pass over every sample.
pub fn floor_pass(samples: &[Sample]) {
    for sample in samples {
        black_box(floor(black_box(&sample.bytes)));
    }
}
