//! SVG bar charts of benchmark ratios, for `benches/README.md` (`benches/charts/`).
//!
//! A chart is read from a small text file (`chart` binary) or built by a benchmark
//! (`parse-compare --chart FILE`): a title, a caption for the value axis, and one bar per line,
//! top to bottom. Ours are marked with a leading `*` and drawn in colour, the others in grey
//! (with no mark, the first bar is ours). Drawn with `plotters`' SVG backend alone, so text is
//! left to the browser and no font is loaded.
//!
//! ```text
//! # title: Full parse, × the memchr floor (fastest rounds; lower is faster)
//! # axis: × floor
//! *sip-parse 29.12
//! rsip 282.46
//! floor 1.00
//! ```

use std::path::Path;

use plotters::prelude::*;

/// A chart: a title, the caption of the value axis, and labelled bars, ours first.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Above the bars.
    pub title: String,
    /// Under the value axis (`× floor`, `× sipp`).
    pub axis: String,
    /// `(label, value)`, drawn top to bottom; a label starting with `*` is ours.
    pub bars: Vec<(String, f64)>,
}

impl Chart {
    /// Reads the text form: `# title: …` and `# axis: …` lines, other `#` lines ignored, and
    /// `LABEL VALUE` lines (the label may contain spaces; the value is the last word).
    ///
    /// ```
    /// let chart = benches::chart::Chart::parse("# title: T\n# axis: ×\nours 2.5\nthem 1\n")?;
    /// assert_eq!(chart.bars, [("ours".to_owned(), 2.5), ("them".to_owned(), 1.0)]);
    /// # Ok::<(), String>(())
    /// ```
    pub fn parse(text: &str) -> Result<Chart, String> {
        let mut chart = Chart {
            title: String::new(),
            axis: String::new(),
            bars: Vec::new(),
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if let Some(comment) = line.strip_prefix('#') {
                let comment = comment.trim();
                if let Some(title) = comment.strip_prefix("title:") {
                    chart.title = title.trim().to_owned();
                } else if let Some(axis) = comment.strip_prefix("axis:") {
                    chart.axis = axis.trim().to_owned();
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let (label, value) = line
                .rsplit_once(char::is_whitespace)
                .ok_or_else(|| format!("line {}: expected `LABEL VALUE`", n + 1))?;
            let value: f64 = value
                .parse()
                .map_err(|_| format!("line {}: {value:?} is not a number", n + 1))?;
            if !value.is_finite() || value < 0.0 {
                return Err(format!("line {}: {value} is not a ratio", n + 1));
            }
            chart.bars.push((label.trim().to_owned(), value));
        }
        if chart.bars.is_empty() {
            return Err("no `LABEL VALUE` line".to_owned());
        }
        Ok(chart)
    }

    /// The text form [`Chart::parse`] reads.
    pub fn to_text(&self) -> String {
        let mut out = format!("# title: {}\n# axis: {}\n", self.title, self.axis);
        for (label, value) in &self.bars {
            out.push_str(&format!("{label} {value:.2}\n"));
        }
        out
    }

    /// Draws the chart as SVG into `path`: horizontal bars, each labelled with its value.
    pub fn write_svg(&self, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
        let rows = u32::try_from(self.bars.len()).unwrap_or(u32::MAX).min(64);
        let height = 90 + 34 * rows;
        let root = SVGBackend::new(path, (760, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let max = self.bars.iter().map(|b| b.1).fold(0.0_f64, f64::max);
        let marked = self.bars.iter().any(|b| b.0.starts_with('*'));
        // Top to bottom: bar i sits in segment n - 1 - i of the value-up axis.
        let n = self.bars.len();
        let bars: Vec<(usize, &str, f64, bool)> = self
            .bars
            .iter()
            .enumerate()
            .map(|(i, (label, value))| {
                let ours = if marked {
                    label.starts_with('*')
                } else {
                    i == 0
                };
                (n - 1 - i, label.trim_start_matches('*'), *value, ours)
            })
            .collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(&self.title, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0..(max * 1.18).max(1e-9), (0..n).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .max_light_lines(1)
            .x_desc(self.axis.as_str())
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(slot) => bars
                    .iter()
                    .find(|b| b.0 == *slot)
                    .map_or(String::new(), |b| b.1.to_owned()),
                _ => String::new(),
            })
            .label_style(("sans-serif", 13))
            .draw()?;
        let ours = RGBColor(31, 119, 180);
        let others = RGBColor(150, 150, 150);
        chart.draw_series(bars.iter().map(|&(slot, _, value, is_ours)| {
            let colour = if is_ours { ours } else { others };
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(slot)),
                    (value, SegmentValue::Exact(slot + 1)),
                ],
                colour.filled(),
            );
            bar.set_margin(5, 5, 0, 0);
            bar
        }))?;
        chart.draw_series(bars.iter().map(|&(slot, _, value, _)| {
            EmptyElement::at((value, SegmentValue::CenterOf(slot)))
                + Text::new(format!("{value:.2}"), (6, -7), ("sans-serif", 13))
        }))?;
        root.present()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Chart;

    #[test]
    fn text_round_trips_and_bad_lines_say_where() {
        let chart =
            Chart::parse("# title: T\n# axis: × floor\n*ours 2.5\nother thing 10\n").unwrap();
        assert_eq!(chart.title, "T");
        assert_eq!(chart.axis, "× floor");
        assert_eq!(
            chart.bars,
            [("*ours".to_owned(), 2.5), ("other thing".to_owned(), 10.0)]
        );
        assert_eq!(Chart::parse(&chart.to_text()).unwrap(), chart);
        assert_eq!(
            Chart::parse("a b\n").unwrap_err(),
            "line 1: \"b\" is not a number"
        );
        assert_eq!(
            Chart::parse("a NaN\n").unwrap_err(),
            "line 1: NaN is not a ratio"
        );
        assert!(Chart::parse("# title: only\n").is_err());
    }

    #[test]
    fn svg_names_every_bar_and_value() {
        let chart = Chart::parse("# title: Speed\n# axis: × sipp\n*ours 1.89\nsipp 1\n").unwrap();
        let path = std::env::temp_dir().join(format!("chart-test-{}.svg", std::process::id()));
        chart.write_svg(&path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        for text in ["Speed", "× sipp", "ours", "sipp", "1.89", "1.00"] {
            assert!(svg.contains(text), "{text} missing from the SVG");
        }
        assert!(!svg.contains("*ours"), "the mark is not drawn");
        assert!(svg.contains("#1F77B4"), "ours in colour");
    }
}
