//! `palisade`: the binary. Command-line parsing and wiring only; the work is in the
//! library crates. Errors map to exit codes in one place ([`exit_code`]): bad input or
//! usage is 2 with a one-line message, anything else 1.

// First: its `print!` and `println!` replace std's in every module after it.
#[macro_use]
mod output;

mod audit;
mod audit_corpus;
mod audit_message;
mod backup;
mod checkpassword;
mod cli;
mod cluster;
mod commands;
mod dkim;
mod keys;
mod learn;
mod quarantine;
mod reports;
mod security;
mod serve;
mod store_copy;
mod two_factor;

use clap::Parser;
use std::process::ExitCode;

/// An error caused by the user's input (exit code 2), as opposed to a failure.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Shorthand for returning a usage error.
pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    UsageError(msg.into()).into()
}

/// A command that printed its result and ends with this exit code (`doctor`: 1 for
/// warnings, 2 for failures), not an error to report.
#[derive(Debug)]
pub struct ExitWith(pub u8);

impl std::fmt::Display for ExitWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for ExitWith {}

fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(ExitWith(code)) = e.downcast_ref::<ExitWith>() {
        *code
    } else if e.downcast_ref::<UsageError>().is_some()
        || e.downcast_ref::<palisade_config::ConfigError>().is_some()
    {
        2
    } else {
        1
    }
}

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("palisade: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(commands::run(args));
    // Every command awaits its own work; what is left are detached blocking tasks (a
    // message scan whose session gave up on it): exit without waiting for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.downcast_ref::<ExitWith>().is_none() {
                eprintln!("palisade: {e:#}");
            }
            ExitCode::from(exit_code(&e))
        }
    }
}
