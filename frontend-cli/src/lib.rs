//! The `crucible` command line: score a model locally with the DApp's own code, convert
//! datasets into the canonical format, compute CIDs.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

use clap::{Parser, Subcommand};

mod cmd;

/// Crucible: verifiable machine-learning competitions on a Cartesi rollup.
#[derive(Debug, Parser)]
#[command(name = "crucible", version, about)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Score(cmd::score::ScoreArgs),
    #[command(subcommand)]
    Data(cmd::data::DataCommand),
    Cid(cmd::cid::CidArgs),
    Demo(cmd::demo::DemoArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self.cmd {
            Command::Score(args) => args.run(),
            Command::Data(cmd) => cmd.run(),
            Command::Cid(args) => args.run(),
            Command::Demo(args) => args.run(),
        }
    }
}
