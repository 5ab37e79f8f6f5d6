//! `chart RATIOS.txt OUT.svg`: draws the ratios in RATIOS.txt (`# title: …`, `# axis: …`, then
//! `LABEL VALUE` lines, ours first; see `benches::chart`) as an SVG bar chart. The shell
//! benchmarks call it when `CHART=DIR` is set; `benches/charts/` holds the README's charts and
//! the ratio files they were drawn from.

use std::path::PathBuf;
use std::process::ExitCode;

use benches::chart::Chart;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        eprintln!("usage: chart RATIOS.txt OUT.svg");
        return ExitCode::from(2);
    };
    let result = std::fs::read_to_string(&input)
        .map_err(|e| format!("{}: {e}", input.display()))
        .and_then(|text| Chart::parse(&text).map_err(|e| format!("{}: {e}", input.display())))
        .and_then(|chart| {
            chart
                .write_svg(&output)
                .map_err(|e| format!("{}: {e}", output.display()))
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("chart: {err}");
            ExitCode::FAILURE
        }
    }
}
