//! The `crucible` command line.

use clap::Parser;
use crucible_cli::Cli;

fn main() -> std::process::ExitCode {
    match Cli::parse().run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(crucible_cli::code(&e))
        }
    }
}
