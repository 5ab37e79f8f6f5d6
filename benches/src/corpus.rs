//! Loading a folder of `.sip` messages and choosing the ones both parsers handle.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::full_parse::{FullParse, Rsip, SipParse, Summary};

/// One message of the corpus.
#[derive(Debug, Clone)]
pub struct Sample {
    /// File name, for reports.
    pub name: String,
    /// The whole file: one datagram.
    pub bytes: Bytes,
}

/// The corpus committed beside this crate (`benches/corpus/`).
pub fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// Every `*.sip` file directly in `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> io::Result<Vec<Sample>> {
    let mut samples = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "sip") && path.is_file() {
            let bytes = Bytes::from(std::fs::read(&path)?);
            // A `Bytes` made from a `Vec` allocates its shared header on the first clone; do that
            // here so clones in the measured loops are plain refcount bumps.
            drop(bytes.clone());
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            samples.push(Sample { name, bytes });
        }
    }
    samples.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(samples)
}

/// The samples `P` fully parses.
pub fn parsed_by<P: FullParse>(samples: &[Sample]) -> Vec<Sample> {
    samples
        .iter()
        .filter(|s| P::full(&s.bytes, |_| ()).is_ok())
        .cloned()
        .collect()
}

/// A message left out of the comparison because one parser could not fully parse it.
#[derive(Debug, Clone)]
pub struct Excluded {
    /// File name.
    pub name: String,
    /// Which parser failed, and why.
    pub reason: String,
}

/// Both parsers fully parsed a message but extracted different values: they did not do the same
/// work, so their times are not comparable.
#[derive(Debug, Clone)]
pub struct Mismatch {
    /// File name.
    pub name: String,
    /// What sip-parse extracted.
    pub sip_parse: Summary,
    /// The other parser's name.
    pub other_name: &'static str,
    /// What the other parser extracted.
    pub other: Summary,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: parsers disagree\n  sip-parse: {:?}\n  {}: {:?}",
            self.name, self.sip_parse, self.other_name, self.other
        )
    }
}

impl std::error::Error for Mismatch {}

/// The outcome of [`compare`].
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// Messages both parsers fully parsed to the same [`Summary`]: the measured set.
    pub included: Vec<Sample>,
    /// Messages at least one parser rejected.
    pub excluded: Vec<Excluded>,
}

/// Fully parses every sample with sip-parse and rsip and checks they extracted the same fields.
pub fn compare(samples: &[Sample]) -> Result<Comparison, Box<Mismatch>> {
    compare_with::<Rsip>(samples)
}

/// Fully parses every sample with sip-parse and `P` and checks they extracted the same fields.
pub fn compare_with<P: FullParse>(samples: &[Sample]) -> Result<Comparison, Box<Mismatch>> {
    let mut out = Comparison::default();
    for sample in samples {
        let ours = SipParse::full(&sample.bytes, |f| f.to_summary());
        let theirs = P::full(&sample.bytes, |f| f.to_summary());
        match (ours, theirs) {
            (Ok(ours), Ok(theirs)) if ours == theirs => out.included.push(sample.clone()),
            (Ok(ours), Ok(theirs)) => {
                return Err(Box::new(Mismatch {
                    name: sample.name.clone(),
                    sip_parse: ours,
                    other_name: P::NAME,
                    other: theirs,
                }));
            }
            (ours, theirs) => {
                let reason = [(SipParse::NAME, ours.err()), (P::NAME, theirs.err())]
                    .into_iter()
                    .filter_map(|(name, err)| Some(format!("{name}: {}", err?)))
                    .collect::<Vec<_>>()
                    .join("; ");
                out.excluded.push(Excluded {
                    name: sample.name.clone(),
                    reason,
                });
            }
        }
    }
    Ok(out)
}
