//! The `crucible` command line for sponsors, trainers and validators: a local devnet,
//! uploads, competitions, submissions, leaderboards, payouts, local scoring with the
//! DApp's own code, dataset conversion, and the end-to-end demo.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

use alloy::primitives::Address;
use clap::{Parser, Subcommand};

mod chain;
mod cmd;
pub mod devnet_state;
pub mod docs;
mod exit;
mod node_api;
mod npy;
mod secrets;
mod session;

pub use exit::code;

/// Crucible: verifiable machine-learning competitions on a Cartesi rollup.
///
/// Every command takes --json (one JSON document on stdout; logs and progress on stderr).
/// Endpoints, application and key come from --rpc/--node/--app/--key, from CRUCIBLE_*
/// variables, or from the devnet `crucible devnet up` started.
///
/// Exit codes: 0 success; 1 a failure on the way (chain, node, files); 2 bad input; 3 the
/// DApp rejected an input (the reason is printed); 4 a tool, port, chain or node is missing;
/// 5 `crucible validate` found a divergence.
#[derive(Debug, Parser)]
#[command(name = "crucible", version, about, long_about)]
pub struct Cli {
    #[command(flatten)]
    global: session::Global,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A local devnet: anvil, Cartesi Rollups v2.2.0, the application, a token, the node.
    #[command(subcommand)]
    Devnet(cmd::devnet::DevnetCommand),
    /// Convert datasets to the canonical safetensors format.
    #[command(subcommand)]
    Data(cmd::data::DataCommand),
    Upload(cmd::competition::UploadArgs),
    /// Create, reveal, finalize or show a competition.
    #[command(subcommand)]
    Competition(cmd::competition::CompetitionCommand),
    /// List competitions.
    Competitions,
    Fetch(cmd::competition::FetchArgs),
    Score(cmd::score::ScoreArgs),
    Submit(cmd::submit::SubmitArgs),
    /// A competition's leaderboard (validation scores, ε rule applied).
    Leaderboard {
        /// Competition id.
        id: u64,
    },
    /// Payout vouchers, executed or not.
    Vouchers {
        /// Only those that pay the signer.
        #[arg(long)]
        mine: bool,
    },
    Execute(cmd::payouts::ExecuteArgs),
    /// Balances of an account: L1 ether and token, and inside the DApp.
    Balance {
        /// The account (default: the signer).
        address: Option<Address>,
        /// The ERC-20 (default: the devnet's token).
        #[arg(long)]
        token: Option<Address>,
    },
    Cid(cmd::cid::CidArgs),
    Demo(cmd::demo::DemoArgs),
    Validate(cmd::validate::ValidateArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        let g = self.global;
        match self.cmd {
            Command::Score(args) => return args.run(g.json),
            Command::Data(cmd) => return cmd.run(g.json),
            Command::Cid(args) => return args.run(g.json),
            _ => {}
        }
        let runtime = tokio::runtime::Runtime::new()?;
        runtime.block_on(async move {
            match self.cmd {
                Command::Devnet(cmd) => cmd.run(&g).await,
                Command::Upload(args) => args.run(&g).await,
                Command::Competition(cmd) => cmd.run(&g).await,
                Command::Competitions => cmd::competition::list(&g).await,
                Command::Fetch(args) => args.run(&g).await,
                Command::Submit(args) => args.run(&g).await,
                Command::Leaderboard { id } => cmd::competition::leaderboard(&g, id).await,
                Command::Vouchers { mine } => cmd::payouts::list(&g, mine).await,
                Command::Execute(args) => args.run(&g).await,
                Command::Balance { address, token } => {
                    cmd::payouts::balance(&g, address, token).await
                }
                Command::Demo(args) => args.run(&g).await,
                Command::Validate(args) => args.run(&g).await,
                Command::Score(_) | Command::Data(_) | Command::Cid(_) => Ok(()),
            }
        })
    }
}
