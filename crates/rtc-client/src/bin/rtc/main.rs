//! `rtc`: the command-line face of the workspace.

mod demo;
mod lint;
mod login;
mod output;
mod profile;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// RTC SIP presence and instant-messaging tool.
#[derive(Parser)]
#[command(name = "rtc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole RTC flow on loopback, no set-up: an embedded registrar/proxy and two clients
    /// that register, watch and allow each other, change status, exchange messages, export
    /// presence and log off.
    Demo,
    /// Log in with a provisioning profile and stay: events are printed as they happen, one
    /// line each, and commands are read from stdin, one a line (`help` lists them; `quit`, end
    /// of input or Ctrl-C logs off and saves presence to the store).
    Login(login::Login),
    /// Parse each file as one SIP datagram and validate it; one line per file.
    Lint {
        /// SIP message files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Provisioning profiles.
    Profile {
        #[command(subcommand)]
        command: profile::Command,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let all_ok = match cli.command {
        Command::Demo => demo::run(),
        Command::Login(args) => login::run(args),
        Command::Lint { files } => lint::run(&files),
        Command::Profile { command } => profile::run(command),
    };
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A single-threaded tokio runtime for subcommand `what`; `None`, with the reason printed, when
/// it cannot be built.
fn runtime(what: &str) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => Some(r),
        Err(e) => {
            eprintln!("rtc {what}: {e}");
            None
        }
    }
}
