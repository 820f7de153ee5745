//! Command line of `crucible-node`.
//!
//! Exit codes: 0 stopped by SIGINT/SIGTERM, 1 the node failed (the message says why),
//! 2 bad usage.

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use crucible_node::{
    devnet,
    machine::{DappCommand, MachineConfig},
    service::{self, NodeConfig},
};
use crucible_types::rollup::INPUT_BOX;
use std::{ffi::OsString, net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

#[derive(Debug, Parser)]
#[command(
    name = "crucible-node",
    version,
    about = "Host-mode Cartesi Rollups v2 node for Crucible"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Follow an application's inputs on L1, run them through the DApp, claim epochs and
    /// serve the query API. Prints one JSON line on stdout once it serves.
    Run(RunArgs),
    /// Deploy Cartesi Rollups v2.2.0 (canonical addresses), the consensus (an Authority, or
    /// a Quorum with --validator), the application and a reward token on a development
    /// chain; print the addresses as JSON.
    Deploy(DeployArgs),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// L1 JSON-RPC endpoint.
    #[arg(long, env = "CRUCIBLE_RPC", default_value = "http://127.0.0.1:8545")]
    rpc: String,
    /// The application contract.
    #[arg(long, env = "CRUCIBLE_APP")]
    app: Address,
    /// The InputBox (default: the canonical v2.2.0 address).
    #[arg(long, default_value_t = INPUT_BOX)]
    input_box: Address,
    /// Private key (hex) that claims: the Authority's owner, or one of the Quorum's
    /// validators. Without it the node re-executes and checks every claim on chain against
    /// its own roots, and proves outputs against the roots the consensus accepted.
    #[arg(long, env = "CRUCIBLE_NODE_KEY", hide_env_values = true)]
    key: Option<String>,
    /// SQLite database (created if missing).
    #[arg(long, default_value = "crucible-node.sqlite")]
    db: PathBuf,
    /// Address of the query API (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:10011")]
    http: SocketAddr,
    /// Address of the rollup HTTP API given to the DApp (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    rollup_api: SocketAddr,
    /// Blocks an input must have on top before it is processed.
    #[arg(long, default_value_t = 0)]
    confirmations: u64,
    /// L1 poll interval in milliseconds.
    #[arg(long, default_value_t = 500)]
    poll_ms: u64,
    /// First block to read for a new database (default: the application's deployment block).
    #[arg(long)]
    from_block: Option<u64>,
    /// The DApp command (default: `crucible-dapp` beside this binary), e.g.
    /// `-- qemu-riscv64-static target/riscv64/riscv64gc-unknown-linux-gnu/release/crucible-dapp`
    /// (the static riscv64 build of `cargo xtask riscv`).
    #[arg(last = true)]
    dapp: Vec<OsString>,
}

#[derive(Debug, clap::Args)]
struct DeployArgs {
    /// L1 JSON-RPC endpoint.
    #[arg(long, env = "CRUCIBLE_RPC", default_value = "http://127.0.0.1:8545")]
    rpc: String,
    /// Deployer's private key (hex); it owns the Authority and the application and receives
    /// the token supply. Default: anvil's first development key.
    #[arg(long, env = "CRUCIBLE_NODE_KEY", hide_env_values = true)]
    key: Option<String>,
    /// Blocks per epoch.
    #[arg(long, default_value_t = 1)]
    epoch_length: u64,
    /// A Quorum validator's address (repeat for each, in order): the consensus is then a
    /// Quorum made by the canonical QuorumFactory instead of an Authority owned by the
    /// deployer.
    #[arg(long = "validator")]
    validators: Vec<Address>,
    /// Directory of the `@cartesi/rollups@2.2.0` artifacts.
    #[arg(long, default_value = "node_modules/@cartesi/rollups/out")]
    rollups: PathBuf,
    /// Forge artifact of the reward token.
    #[arg(long, default_value = "contracts/out/RewardToken.sol/RewardToken.json")]
    token: PathBuf,
    /// Token supply, in whole tokens (18 decimals).
    #[arg(long, default_value_t = 1_000_000)]
    supply: u64,
}

pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("crucible-node: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run(args).await,
            Command::Deploy(args) => deploy(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crucible-node: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn signer(key: &str) -> anyhow::Result<PrivateKeySigner> {
    key.trim()
        .parse()
        .context("the key must be a 32-byte hex private key")
}

fn default_dapp() -> anyhow::Result<DappCommand> {
    let exe = std::env::current_exe().context("locating this binary")?;
    let dapp = exe.with_file_name("crucible-dapp");
    if !dapp.exists() {
        bail!(
            "no DApp command given and {} does not exist: build it (`cargo build -p crucible-dapp`) or pass `-- <command>`",
            dapp.display()
        );
    }
    Ok(DappCommand {
        program: dapp.into(),
        args: vec![],
    })
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let dapp = match args.dapp.split_first() {
        Some((program, rest)) => DappCommand {
            program: program.clone(),
            args: rest.to_vec(),
        },
        None => default_dapp()?,
    };
    let config = NodeConfig {
        rpc: args.rpc,
        app: args.app,
        input_box: args.input_box,
        claimer: args.key.as_deref().map(signer).transpose()?,
        db: args.db,
        dapp,
        machine: MachineConfig {
            listen: args.rollup_api,
            ..MachineConfig::default()
        },
        http: args.http,
        confirmations: args.confirmations,
        poll: Duration::from_millis(args.poll_ms.max(1)),
        from_block: args.from_block,
    };
    let mut node = service::start(config).await.context("starting the node")?;
    let (replay, replayed) = node.replay;
    println!(
        "{}",
        serde_json::json!({
            "http": format!("http://{}", node.http_addr()),
            "replayed_inputs": replayed,
            "replay_ms": replay.as_secs_f64() * 1e3,
        })
    );
    tracing::info!(
        "serving http://{} ({replayed} inputs replayed in {replay:?})",
        node.http_addr()
    );
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = node.wait() => return r.context("the node stopped"),
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    node.stop();
    node.wait().await.context("stopping")
}

async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let key = signer(args.key.as_deref().unwrap_or(devnet::ANVIL_KEYS[0]))?;
    let provider =
        crucible_node::signing_provider(args.rpc.parse().context("bad RPC URL")?, key.clone());
    provider
        .get_chain_id()
        .await
        .with_context(|| format!("no chain answers at {}", args.rpc))?;
    for (what, path) in [
        ("rollups artifacts", &args.rollups),
        ("token artifact", &args.token),
    ] {
        if !path.exists() {
            bail!(
                "{what} not found at {}: run `npm ci` and `forge build` (or `cargo xtask setup`)",
                path.display()
            );
        }
    }
    let supply = U256::from(args.supply) * U256::from(10u64).pow(U256::from(18u64));
    let consensus = if args.validators.is_empty() {
        devnet::ConsensusSpec::Authority(key.address())
    } else {
        devnet::ConsensusSpec::Quorum(args.validators.clone())
    };
    let d = devnet::deploy(
        &provider,
        key.address(),
        &consensus,
        args.epoch_length,
        &args.rollups,
        &args.token,
        supply,
    )
    .await
    .context("deploying")?;
    let block = provider.get_block_number().await?;
    let mut doc = serde_json::to_value(d)?;
    doc["epoch_length"] = args.epoch_length.into();
    doc["block"] = block.into();
    println!("{doc}");
    Ok(())
}
