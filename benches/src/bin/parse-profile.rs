//! `parse-profile PARSER [PASSES] [DIR]`: repeats one full parse of a corpus, for instruction
//! counting with callgrind, which gives the same count on a loaded machine as on an idle one.
//!
//! PARSER is `sip-parse` or `rsip` (the messages both parse to the same fields, as
//! `parse-compare` compares them), `sofia-sip` (the same messages; needs the feature `sofia`),
//! `sip-parse/all` (every message sip-parse parses), `sip-parse/split` and `httparse/split` (the
//! header split alone, see `benches::split`), `sip-parse/stamp` (`TopVia::stamp` of every request
//! in the corpus, parsed and its top Via read beforehand: `received` and `rport` as
//! sip-transport writes them), or `floor` (the `memchr2` pass). PASSES
//! defaults to 300, DIR to `benches/corpus`. Only the repeated passes are worth counting:
//!
//! ```sh
//! cargo build --release -p benches --bin parse-profile
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
//!     --toggle-collect='parse_profile::measured*' target/release/parse-profile sip-parse
//! callgrind_annotate --inclusive=yes /tmp/cg.out | head -60
//! ```
//!
//! With `--toggle-collect` the total is the instructions of PASSES × messages full parses; the
//! ratio of the `rsip` total to the `sip-parse` total is the speed ratio without timing noise.

use std::error::Error;
use std::hint::black_box;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use benches::{Rsip, Sample, SipParse, corpus, floor_pass, full_pass, split};
use sip_parse::{Message, ParseConfig, TopVia};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let parser = args.next().unwrap_or_default();
    let passes = args.next().map_or(Ok(300), |p| p.parse::<u32>());
    let dir = args.next().map_or_else(corpus::default_dir, PathBuf::from);
    let Ok(passes) = passes else {
        eprintln!(
            "usage: parse-profile sip-parse|rsip|sofia-sip|sip-parse/all|sip-parse/split|\
             httparse/split|sip-parse/stamp|floor [PASSES] [DIR]"
        );
        return ExitCode::from(2);
    };
    match run(&parser, passes, dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("parse-profile: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(parser: &str, passes: u32, dir: PathBuf) -> Result<(), Box<dyn Error>> {
    let all = corpus::load_dir(&dir)?;
    if parser == "sip-parse/stamp" {
        return run_stamp(&all, passes);
    }
    let (samples, pass): (Vec<Sample>, fn(&[Sample])) = match parser {
        "sip-parse" => (corpus::compare(&all)?.included, full_pass::<SipParse>),
        "rsip" => (corpus::compare(&all)?.included, full_pass::<Rsip>),
        "sip-parse/all" => (corpus::parsed_by::<SipParse>(&all), full_pass::<SipParse>),
        "sip-parse/split" => (split::compare(&all)?.0, split::sip_parse_pass),
        "httparse/split" => (split::compare(&all)?.1, split::httparse_pass),
        #[cfg(feature = "sofia")]
        "sofia-sip" => (corpus::compare(&all)?.included, full_pass::<benches::Sofia>),
        "floor" => (corpus::compare(&all)?.included, floor_pass),
        _ => return Err(format!("unknown parser {parser:?}").into()),
    };
    if samples.is_empty() {
        return Err(format!("no message in {} to parse", dir.display()).into());
    }
    measured(&samples, pass, passes);
    println!(
        "{parser}: {passes} passes over {} messages = {} parses",
        samples.len(),
        u64::from(passes) * samples.len() as u64
    );
    Ok(())
}

/// `passes` stamps of the top Via of every request in `all`.
fn run_stamp(all: &[Sample], passes: u32) -> Result<(), Box<dyn Error>> {
    let requests: Vec<(Message, TopVia)> = all
        .iter()
        .filter_map(|s| Message::parse(s.bytes.clone()).ok())
        .filter(Message::is_request)
        .filter_map(|m| TopVia::read(&m).ok().map(|top| (m, top)))
        .collect();
    if requests.is_empty() {
        return Err("no request with a top Via to stamp".into());
    }
    let bytes: usize = requests.iter().map(|(m, _)| m.as_bytes().len()).sum();
    measured_stamp(&requests, passes);
    println!(
        "sip-parse/stamp: {passes} passes over {} requests ({bytes} bytes) = {} stamps",
        requests.len(),
        u64::from(passes) * requests.len() as u64
    );
    Ok(())
}

/// The counted part of `sip-parse/stamp`: `passes` stamps of every request, as sip-transport
/// stamps a request from a NAT-ed client (`received` and a filled `rport`).
#[inline(never)]
fn measured_stamp(requests: &[(Message, TopVia)], passes: u32) {
    let cfg = ParseConfig::default();
    let ip = IpAddr::from([192, 0, 2, 99]);
    for _ in 0..passes {
        for (msg, top) in black_box(requests) {
            let _ = black_box(top.stamp(msg, ip, Some(40000), &cfg));
        }
    }
}

/// The counted part: `passes` full parses of every sample.
#[inline(never)]
fn measured(samples: &[Sample], pass: fn(&[Sample]), passes: u32) {
    for _ in 0..passes {
        pass(black_box(samples));
    }
}
