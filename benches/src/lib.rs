//! Shared pieces of the parser benchmarks: the corpus loader, one *full parse* per parser
//! (sip-parse, rsip, and Sofia-SIP with the feature `sofia`), the `memchr2` floor, the
//! cross-check that the parsers extracted the same fields, the header split alone beside
//! httparse's (a reference for what splitting costs), and a counting global allocator.
//!
//! A full parse is the parse plus the typed views a proxy or transaction layer reads on every
//! message (top-Via branch, From/To tags, Call-ID, CSeq, first Contact URI, body length), so a
//! lazy parser does not look fast by skipping work. `benches/parse.rs` (criterion) and the
//! `parse-compare` binary both drive these functions. Also the command line the load clients
//! `txn-uac` and `udp-floor` share ([`load_args`]).

pub mod alloc_count;
pub mod chart;
pub mod clock;
pub mod corpus;
pub mod flood;
pub mod full_parse;
pub mod interop;
pub mod load_args;
#[cfg(feature = "sofia")]
pub mod sofia;
pub mod split;

pub use corpus::{Comparison, Excluded, Mismatch, Sample};
pub use full_parse::{Failure, Fields, FullParse, Rsip, SipParse, Summary};
#[cfg(feature = "sofia")]
pub use sofia::Sofia;

use std::hint::black_box;

/// The floor: the least work any header splitter must do, stopping at every line end and every
/// colon (to find each header's name/value boundary), with `memchr2`'s SIMD search.
pub fn floor(msg: &[u8]) -> usize {
    memchr::memchr2_iter(b'\n', b':', msg).count()
}

/// The reference row `memchr-count`, the floor of issue 2: line feeds counted with SIMD, which
/// stops at no line, so no splitter comes near it.
pub fn memchr_count(msg: &[u8]) -> usize {
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

/// One [`memchr_count`] pass over every sample.
pub fn memchr_count_pass(samples: &[Sample]) {
    for sample in samples {
        black_box(memchr_count(black_box(&sample.bytes)));
    }
}
