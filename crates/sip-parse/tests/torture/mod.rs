//! A torture-test corpus on disk: a directory of messages and a `MANIFEST.tsv` (`file`,
//! `section`, `expected`, `title`) giving the verdict its RFC gives each one.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use sip_parse::Message;

/// One corpus directory under `tests/`.
pub(crate) struct Corpus(PathBuf);

impl Corpus {
    /// The corpus in `tests/<name>`.
    pub(crate) fn new(name: &str) -> Self {
        Corpus(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests")
                .join(name),
        )
    }

    /// Every `(file, verdict, bytes)` of the manifest, in its order.
    pub(crate) fn entries(&self) -> Vec<(String, String, Vec<u8>)> {
        let manifest = std::fs::read_to_string(self.0.join("MANIFEST.tsv")).expect("manifest");
        manifest
            .lines()
            .skip(1)
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .map(|f| {
                let bytes = std::fs::read(self.0.join(f[0])).expect("message file");
                (f[0].to_owned(), f[2].to_owned(), bytes)
            })
            .collect()
    }

    /// The bytes of `file`.
    pub(crate) fn bytes(&self, file: &str) -> Vec<u8> {
        self.entries()
            .into_iter()
            .find(|(f, _, _)| f == file)
            .unwrap_or_else(|| panic!("{file} is not in the manifest"))
            .2
    }

    /// `file`, parsed.
    pub(crate) fn load(&self, file: &str) -> Message {
        Message::parse(Bytes::from(self.bytes(file))).unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    /// Judges every message as its manifest says and returns how many there were:
    /// `parse-ok` must parse and validate, `parse-error` must fail one of the two with an offset
    /// inside the input, `any` must answer either way (the layer above decides). A parsed
    /// message is always exactly a prefix of its input.
    pub(crate) fn check_verdicts(&self) -> usize {
        let mut seen = 0;
        for (file, verdict, bytes) in self.entries() {
            seen += 1;
            let parsed = Message::parse(Bytes::from(bytes.clone()));
            let checked = parsed.as_ref().map_err(|e| *e).and_then(|m| m.validate());
            match verdict.as_str() {
                "parse-ok" => {
                    checked.unwrap_or_else(|e| panic!("{file} must be valid: {e}"));
                }
                "parse-error" => {
                    let e = checked
                        .expect_err(&format!("{file} must be rejected by parse or validate"));
                    assert!(
                        e.offset <= bytes.len(),
                        "{file}: offset {} beyond input",
                        e.offset
                    );
                }
                "any" => {}
                other => panic!("unknown verdict {other}"),
            }
            if let Ok(m) = parsed {
                assert!(bytes.starts_with(m.as_bytes()), "{file}");
            }
        }
        seen
    }
}
