//! `parse-compare DIR`: times a full parse of every `.sip` file in DIR with sip-parse, rsip and
//! (with the feature `sofia`) Sofia-SIP beside the `memchr2` floor and the older `memchr-count`
//! reference, counts heap allocations, and checks the parsers extracted the same fields. A
//! second group times the header split alone, sip-parse's beside httparse's (see
//! `benches::split`), over the same floor.
//!
//! Prints one line per parser, `NAME ns_per_msg MB_per_s ratio_to_floor` (median round), followed
//! by allocations per message for the full parse and for the typed views alone, then the fastest
//! round's time and ratio. Lines starting with `#` give context. Exits 1 if the parsers disagree
//! on any message.

use std::error::Error;
use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use benches::alloc_count::{CountingAlloc, allocations};
use benches::clock::Clock;
use benches::{
    FullParse, Rsip, Sample, SipParse, corpus, floor_pass, full_pass, memchr_count_pass, split,
};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Rounds per parser; the median round is reported, and the fastest beside it.
const ROUNDS: u32 = 11;
/// Measured time per parser, over all rounds.
const TIME_PER_PARSER: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: parse-compare DIR [--chart FILE.svg]   (times every DIR/*.sip)");
        return ExitCode::from(2);
    };
    match run(dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("parse-compare: {err}");
            ExitCode::FAILURE
        }
    }
}

/// One line of the report: a pass over a set of samples, timed and allocation-counted.
struct Row<'a> {
    name: &'static str,
    samples: &'a [Sample],
    pass: fn(&[Sample]),
    /// Allocations per message: (the pass, typed views alone where the pass has views); `None`
    /// when the counting allocator cannot see them (C's `malloc`).
    allocs: Option<(f64, Option<f64>)>,
    /// Passes per round, set by calibration.
    passes: u32,
    /// Nanoseconds per message, one per round.
    ns_per_msg: Vec<f64>,
}

impl<'a> Row<'a> {
    /// A row that runs `pass` over each sample and has no typed views: the floor, the
    /// `memchr-count` reference, or a splitter of the split group.
    fn pass(name: &'static str, samples: &'a [Sample], pass: fn(&[Sample])) -> Self {
        Row {
            name,
            samples,
            pass,
            allocs: Some((pass_allocs(pass, samples), None)),
            passes: 1,
            ns_per_msg: Vec::new(),
        }
    }

    /// The row every ratio of its group is taken to.
    fn floor(samples: &'a [Sample]) -> Self {
        Row::pass(FLOOR, samples, floor_pass)
    }

    /// The floor of issue 2, `memchr_iter(b'\n').count()`, kept for reference.
    fn memchr_count(samples: &'a [Sample]) -> Self {
        Row::pass("memchr-count", samples, memchr_count_pass)
    }

    fn parser<P: FullParse>(samples: &'a [Sample]) -> Self {
        Row {
            allocs: P::COUNTS_ALLOCATIONS.then(|| {
                (
                    pass_allocs(full_pass::<P>, samples),
                    Some(view_allocs::<P>(samples)),
                )
            }),
            ..Row::pass(P::NAME, samples, full_pass::<P>)
        }
    }

    /// Scales the passes per round until one round takes its share of [`TIME_PER_PARSER`].
    fn calibrate(&mut self, clock: Clock) {
        let target = TIME_PER_PARSER / ROUNDS;
        loop {
            let elapsed = self.time_round(clock);
            if elapsed >= target / 4 {
                let scale = target.as_secs_f64() / elapsed.as_secs_f64();
                self.passes = ((f64::from(self.passes) * scale) as u32).max(1);
                return;
            }
            self.passes = self.passes.saturating_mul(2);
        }
    }

    fn time_round(&self, clock: Clock) -> Duration {
        clock.time(|| {
            for _ in 0..self.passes {
                (self.pass)(black_box(self.samples));
            }
        })
    }

    fn measure_round(&mut self, clock: Clock) {
        let elapsed = self.time_round(clock);
        let msgs = f64::from(self.passes) * self.samples.len() as f64;
        self.ns_per_msg.push(elapsed.as_nanos() as f64 / msgs);
    }

    /// Nanoseconds per message of the median round.
    fn median_ns(&self) -> f64 {
        let mut sorted = self.ns_per_msg.clone();
        sorted.sort_by(f64::total_cmp);
        sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
    }

    /// Nanoseconds per message of the fastest round. Other processes only ever add time, so on
    /// a busy machine this is the steadier figure.
    fn min_ns(&self) -> f64 {
        self.ns_per_msg.iter().copied().fold(f64::NAN, f64::min)
    }
}

/// Name of the row every ratio of a group is taken to.
const FLOOR: &str = "floor";

/// Rows measured over the same samples; one of them, named [`FLOOR`], is their floor.
struct Group<'a> {
    heading: Option<String>,
    /// Appended to row names, so each printed name is unique.
    suffix: &'static str,
    rows: Vec<Row<'a>>,
}

fn run(dir: PathBuf) -> Result<(), Box<dyn Error>> {
    let all = corpus::load_dir(&dir)?;
    if all.is_empty() {
        return Err(format!("no .sip files in {}", dir.display()).into());
    }
    let comparison = corpus::compare(&all)?;
    #[cfg_attr(not(feature = "sofia"), allow(unused_mut))]
    let (mut compared, mut excluded) = (comparison.included, comparison.excluded);
    // Sofia-SIP must extract the same fields from the same messages, or its row means nothing.
    #[cfg(feature = "sofia")]
    {
        let with_sofia = corpus::compare_with::<benches::Sofia>(&compared)?;
        compared = with_sofia.included;
        excluded.extend(with_sofia.excluded);
    }
    let compared = &compared;
    println!(
        "# {}: {} messages, {} compared ({} bytes)",
        dir.display(),
        all.len(),
        compared.len(),
        total_bytes(compared)
    );
    for excluded in &excluded {
        let reason = excluded.reason.escape_debug().to_string();
        println!("# excluded {}: {reason:.160}", excluded.name);
    }
    if compared.is_empty() {
        return Err("no message that both parsers fully parse".into());
    }
    println!(
        "# fields check: {} extracted the same values from all {} compared messages",
        full_parsers().join(", "),
        compared.len()
    );

    let clock = Clock::best();
    println!("# clock: {}", clock.describe());
    let mut groups = vec![Group {
        heading: None,
        suffix: "",
        rows: vec![
            Row::parser::<SipParse>(compared),
            Row::parser::<Rsip>(compared),
            #[cfg(feature = "sofia")]
            Row::parser::<benches::Sofia>(compared),
            Row::memchr_count(compared),
            Row::floor(compared),
        ],
    }];
    // Messages only rsip rejects still say something about sip-parse.
    let ours = corpus::parsed_by::<SipParse>(&all);
    if ours.len() > compared.len() {
        groups.push(Group {
            heading: Some(format!(
                "# sip-parse alone, all {} messages it parses ({} bytes):",
                ours.len(),
                total_bytes(&ours)
            )),
            suffix: "/all",
            rows: vec![Row::parser::<SipParse>(&ours)],
        });
        let rows = &mut groups.last_mut().expect("a group was just added").rows;
        // Sofia-SIP joins when it extracts the same fields from every one of them.
        #[cfg(feature = "sofia")]
        {
            let with_sofia = corpus::compare_with::<benches::Sofia>(&ours)?;
            if with_sofia.excluded.is_empty() {
                rows.push(Row::parser::<benches::Sofia>(&ours));
            }
            for excluded in &with_sofia.excluded {
                let reason = excluded.reason.escape_debug().to_string();
                println!(
                    "# sofia-sip left out of /all: {}: {reason:.160}",
                    excluded.name
                );
            }
        }
        rows.extend([Row::memchr_count(&ours), Row::floor(&ours)]);
    }

    // The split alone, ours beside httparse's, over the messages both split alike.
    let (split_sip, split_http) = split::compare(&all)?;
    if !split_sip.is_empty() {
        groups.push(Group {
            heading: Some(format!(
                "# header split only, no typed views, {} messages ({} bytes; httparse reads them \
                 with the version written HTTP/1.1, one byte more each); split check passed:",
                split_sip.len(),
                total_bytes(&split_sip)
            )),
            suffix: "/split",
            rows: vec![
                Row::pass(SipParse::NAME, &split_sip, split::sip_parse_pass),
                Row::pass("httparse", &split_http, split::httparse_pass),
                Row::memchr_count(&split_sip),
                Row::floor(&split_sip),
            ],
        });
    }

    for row in groups.iter_mut().flat_map(|g| &mut g.rows) {
        row.calibrate(clock);
    }
    // Interleaved, so a slow phase of a shared machine hits every parser alike.
    for _ in 0..ROUNDS {
        for row in groups.iter_mut().flat_map(|g| &mut g.rows) {
            row.measure_round(clock);
        }
    }

    println!(
        "{:<15} {:>10} {:>9} {:>14} {:>14} {:>19} {:>14} {:>18}",
        "NAME",
        "ns_per_msg",
        "MB_per_s",
        "ratio_to_floor",
        "allocs_per_msg",
        "view_allocs_per_msg",
        "min_ns_per_msg",
        "min_ratio_to_floor",
    );
    for group in &groups {
        if let Some(heading) = &group.heading {
            println!("{heading}");
        }
        let floor = group.rows.iter().find(|r| r.name == FLOOR);
        let floor = floor.map(|f| (f.median_ns(), f.min_ns()));
        let (floor_ns, floor_min_ns) = floor.unwrap_or((f64::NAN, f64::NAN));
        for row in &group.rows {
            let ns = row.median_ns();
            let bytes_per_msg = total_bytes(row.samples) as f64 / row.samples.len() as f64;
            let (allocs, view_allocs) = match row.allocs {
                Some((pass, views)) => (
                    format!("{pass:.2}"),
                    views.map_or("-".to_owned(), |n| format!("{n:.2}")),
                ),
                None => ("n/a".to_owned(), "n/a".to_owned()),
            };
            println!(
                "{:<15} {:>10.1} {:>9.1} {:>14.2} {:>14} {:>19} {:>14.1} {:>18.2}",
                format!("{}{}", row.name, group.suffix),
                ns,
                bytes_per_msg / ns * 1e3,
                ns / floor_ns,
                allocs,
                view_allocs,
                row.min_ns(),
                row.min_ns() / floor_min_ns,
            );
        }
    }
    write_chart(&groups)
}

/// With `--chart FILE.svg` after DIR: every row's fastest-round ratio to its group's floor as an
/// SVG bar chart in FILE.svg, and as text beside it (FILE.txt, which `chart` redraws).
fn write_chart(groups: &[Group<'_>]) -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args_os().skip(2);
    let Some(svg) = args.next().filter(|a| a == "--chart").and(args.next()) else {
        return Ok(());
    };
    let mut bars = Vec::new();
    for group in groups {
        let floor_min_ns = group.rows.last().map_or(f64::NAN, Row::min_ns);
        for row in &group.rows {
            let ours = if row.name == SipParse::NAME { "*" } else { "" };
            let name = format!("{ours}{}{}", row.name, group.suffix);
            bars.push((name, row.min_ns() / floor_min_ns));
        }
    }
    let chart = benches::chart::Chart {
        title: "parse-compare: time per message, × the floor (fastest round; lower is faster)"
            .to_owned(),
        axis: "× floor".to_owned(),
        bars,
    };
    let svg = PathBuf::from(svg);
    std::fs::write(svg.with_extension("txt"), chart.to_text())?;
    chart.write_svg(&svg)?;
    println!("# chart: {}", svg.display());
    Ok(())
}

/// The parsers whose full parse is timed, as the report names them.
fn full_parsers() -> Vec<&'static str> {
    vec![
        SipParse::NAME,
        Rsip::NAME,
        #[cfg(feature = "sofia")]
        benches::Sofia::NAME,
    ]
}

fn total_bytes(samples: &[Sample]) -> usize {
    samples.iter().map(|s| s.bytes.len()).sum()
}

/// Heap allocations per message of one pass (after one warm-up pass).
fn pass_allocs(pass: fn(&[Sample]), samples: &[Sample]) -> f64 {
    pass(samples);
    let before = allocations();
    pass(samples);
    per_msg(allocations() - before, samples)
}

/// Heap allocations per message of the typed views alone: parse first, count only `extract`.
fn view_allocs<P: FullParse>(samples: &[Sample]) -> f64 {
    let parsed: Vec<P::Message> = samples
        .iter()
        .filter_map(|s| P::parse(&s.bytes).ok())
        .collect();
    let before = allocations();
    for msg in &parsed {
        let _ = black_box(P::extract(msg, |fields| {
            black_box(fields);
        }));
    }
    per_msg(allocations() - before, samples)
}

fn per_msg(count: u64, samples: &[Sample]) -> f64 {
    count as f64 / samples.len() as f64
}
