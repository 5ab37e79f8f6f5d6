//! `cargo bench -p benches --bench parse`: a full parse of the corpus in `benches/corpus/` with
//! sip-parse, rsip and (with the feature `sofia`) Sofia-SIP, beside the `memchr2` floor and the
//! `memchr-count` reference, in one run.
//!
//! Group `parse` holds the messages the parsers fully parse to the same fields; group
//! `parse-all` holds every message sip-parse parses (rsip rejects some of the corpus); group
//! `split` times the header split alone, sip-parse's beside httparse's (`benches::split`).

use std::hint::black_box;

use benches::{
    FullParse, Rsip, Sample, SipParse, corpus, floor_pass, full_pass, memchr_count_pass, split,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn parse(c: &mut Criterion) {
    let all = corpus::load_dir(&corpus::default_dir()).expect("benches/corpus is readable");
    #[cfg_attr(not(feature = "sofia"), allow(unused_mut))]
    let mut comparison = corpus::compare(&all).unwrap_or_else(|mismatch| panic!("{mismatch}"));
    #[cfg(feature = "sofia")]
    {
        let with_sofia = corpus::compare_with::<benches::Sofia>(&comparison.included)
            .unwrap_or_else(|mismatch| panic!("{mismatch}"));
        comparison.included = with_sofia.included;
        comparison.excluded.extend(with_sofia.excluded);
    }
    for excluded in &comparison.excluded {
        let reason = excluded.reason.escape_debug().to_string();
        eprintln!("excluded {}: {reason:.160}", excluded.name);
    }
    let ours = corpus::parsed_by::<SipParse>(&all);

    let mut group = c.benchmark_group("parse");
    group.throughput(throughput(&comparison.included));
    group.bench_function(SipParse::NAME, |b| {
        b.iter(|| full_pass::<SipParse>(black_box(&comparison.included)))
    });
    group.bench_function(Rsip::NAME, |b| {
        b.iter(|| full_pass::<Rsip>(black_box(&comparison.included)))
    });
    #[cfg(feature = "sofia")]
    group.bench_function(benches::Sofia::NAME, |b| {
        b.iter(|| full_pass::<benches::Sofia>(black_box(&comparison.included)))
    });
    group.bench_function("memchr-count", |b| {
        b.iter(|| memchr_count_pass(black_box(&comparison.included)))
    });
    group.bench_function("floor", |b| {
        b.iter(|| floor_pass(black_box(&comparison.included)))
    });
    group.finish();

    let mut group = c.benchmark_group("parse-all");
    group.throughput(throughput(&ours));
    group.bench_function(SipParse::NAME, |b| {
        b.iter(|| full_pass::<SipParse>(black_box(&ours)))
    });
    group.bench_function("memchr-count", |b| {
        b.iter(|| memchr_count_pass(black_box(&ours)))
    });
    group.bench_function("floor", |b| b.iter(|| floor_pass(black_box(&ours))));
    group.finish();

    let (split_sip, split_http) = split::compare(&all).unwrap_or_else(|err| panic!("{err}"));
    let mut group = c.benchmark_group("split");
    group.throughput(throughput(&split_sip));
    group.bench_function(SipParse::NAME, |b| {
        b.iter(|| split::sip_parse_pass(black_box(&split_sip)))
    });
    group.bench_function("httparse", |b| {
        b.iter(|| split::httparse_pass(black_box(&split_http)))
    });
    group.bench_function("memchr-count", |b| {
        b.iter(|| memchr_count_pass(black_box(&split_sip)))
    });
    group.bench_function("floor", |b| b.iter(|| floor_pass(black_box(&split_sip))));
    group.finish();
}

fn throughput(samples: &[Sample]) -> Throughput {
    Throughput::Bytes(samples.iter().map(|s| s.bytes.len() as u64).sum())
}

criterion_group!(benches, parse);
criterion_main!(benches);
