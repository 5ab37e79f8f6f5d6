//! `rtc profile …` (placeholder until the provisioning crate lands).

use clap::Subcommand;

/// `rtc profile` subcommands.
#[derive(Subcommand)]
pub(crate) enum Command {}

/// Runs a profile subcommand; true when every input was ok.
pub(crate) fn run(command: Command) -> bool {
    match command {}
}
