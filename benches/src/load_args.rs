//! The command line of the load clients `txn-uac` and `udp-floor`: `HOST:PORT` and then
//! `--seconds S`, `--window W` and, for a client that knows it, `--threads N`.

use std::net::SocketAddr;

/// What a load client was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadArgs {
    /// The peer (sipp's UAS).
    pub target: SocketAddr,
    /// How long to run (10 s by default).
    pub seconds: f64,
    /// Requests outstanding at once (200 by default, at least 1).
    pub window: usize,
    /// Worker threads (1 by default); `--threads` only where the client takes it.
    pub threads: usize,
}

impl LoadArgs {
    /// Reads `args` (without the program's name); `usage` is the error without a target, and
    /// `--threads` is refused unless `threads` says the client takes it.
    ///
    /// ```
    /// let args = ["127.0.0.1:5060", "--window", "50"].map(String::from);
    /// let parsed = benches::load_args::LoadArgs::parse(args, "usage: x HOST:PORT", false).unwrap();
    /// assert_eq!((parsed.window, parsed.seconds), (50, 10.0));
    /// ```
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        usage: &str,
        threads: bool,
    ) -> Result<LoadArgs, String> {
        let mut args = args.into_iter();
        let mut out = LoadArgs {
            target: args
                .next()
                .ok_or(usage)?
                .parse()
                .map_err(|e| format!("target: {e}"))?,
            seconds: 10.0,
            window: 200,
            threads: 1,
        };
        while let Some(flag) = args.next() {
            let value = args.next().ok_or(format!("{flag} needs a value"))?;
            let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
            match flag.as_str() {
                "--seconds" => out.seconds = value.parse().map_err(|e| bad(&e))?,
                "--window" => out.window = value.parse().map_err(|e| bad(&e))?,
                "--threads" if threads => out.threads = value.parse().map_err(|e| bad(&e))?,
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        if out.window == 0 {
            return Err("--window must be at least 1".into());
        }
        Ok(out)
    }
}
