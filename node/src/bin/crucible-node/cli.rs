//! Command line of `crucible-node`.
//!
//! Exit codes: 0 stopped by SIGINT/SIGTERM (`run`) or done, 1 failed (the message says
//! why), 2 bad usage, 5 `validate` found a divergence.

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use crucible_api::node::{Deployed, Serving};
use crucible_chain::{devnet, logs};
use crucible_node::{
    machine::{DappCommand, MachineConfig},
    service::{self, NodeConfig},
    validate::{ValidateConfig, validate},
};
use crucible_types::rollup::{ERC20_PORTAL, ETHER_PORTAL, INPUT_BOX};
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
    /// Deploy the consensus (an Authority, or a Quorum with --validator) and the application
    /// through the canonical Cartesi Rollups v2.2.0 factories of any chain (with --devnet,
    /// first the canonical contracts themselves and afterwards a reward token); print the
    /// addresses as JSON.
    Deploy(DeployArgs),
    /// Replay an application's whole input history from L1 in a fresh DApp, recompute
    /// every epoch's outputs root and hold every claim its consensus logged against it; with
    /// --against, compare output by output with another node and name the first divergence.
    /// Exits 5 on any divergence.
    Validate(ValidateArgs),
}

/// Which application, on which chain.
#[derive(Debug, clap::Args)]
struct AppArgs {
    /// L1 JSON-RPC endpoint.
    #[arg(long, env = "CRUCIBLE_RPC", default_value = "http://127.0.0.1:8545")]
    rpc: String,
    /// The application contract.
    #[arg(long, env = "CRUCIBLE_APP")]
    app: Address,
    /// The InputBox (default: the canonical v2.2.0 address).
    #[arg(long, default_value_t = INPUT_BOX)]
    input_box: Address,
}

#[derive(Debug, clap::Args)]
struct ValidateArgs {
    #[command(flatten)]
    chain: AppArgs,
    /// Another node's query API to compare with, output by output.
    #[arg(long, value_name = "NODE_URL")]
    against: Option<String>,
    /// The most blocks one eth_getLogs asks for (halved whenever the endpoint refuses).
    #[arg(long, default_value_t = logs::DEFAULT_LOG_RANGE)]
    log_range: u64,
    /// Print the report as one JSON document (`crucible_api::validate::Report`).
    #[arg(long)]
    json: bool,
    /// The DApp command (default: `crucible-dapp` beside this binary), e.g.
    /// `-- qemu-riscv64-static crucible-dapp` for the riscv64 build.
    #[arg(last = true)]
    dapp: Vec<OsString>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    chain: AppArgs,
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
    /// The most blocks one eth_getLogs asks for; halved whenever the endpoint refuses a
    /// query, so set it to a public endpoint's known cap to spare the refusals.
    #[arg(long, default_value_t = logs::DEFAULT_LOG_RANGE)]
    log_range: u64,
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
    /// Deployer's private key (hex); it owns the application and, without --validator, the
    /// Authority. Required unless --devnet (which defaults to anvil's first development key).
    #[arg(long, env = "CRUCIBLE_NODE_KEY", hide_env_values = true)]
    key: Option<String>,
    /// A development chain: first deploy Cartesi Rollups v2.2.0 at the canonical addresses
    /// where missing (from --rollups), and afterwards a reward token (from --token). Without
    /// it the chain must already have them, as every public chain Cartesi supports does.
    #[arg(long)]
    devnet: bool,
    /// Blocks per epoch.
    #[arg(long, default_value_t = 1)]
    epoch_length: u64,
    /// A Quorum validator's address (repeat for each, in order): the consensus is then a
    /// Quorum made by the canonical QuorumFactory instead of an Authority owned by the
    /// deployer.
    #[arg(long = "validator")]
    validators: Vec<Address>,
    /// The application's template hash: the root hash of the Cartesi machine image that a
    /// node runs for it (`cartesi build` prints it and stores it in `.cartesi/image/hash`).
    /// Default: keccak256("crucible host-mode template"), for applications run by
    /// crucible-node only.
    #[arg(long)]
    template_hash: Option<B256>,
    /// CREATE2 salt for the factories. Default: keccak256(deployer ‖ its pending nonce).
    #[arg(long)]
    salt: Option<B256>,
    /// Directory of the `@cartesi/rollups@2.2.0` artifacts (--devnet).
    #[arg(long, default_value = "node_modules/@cartesi/rollups/out")]
    rollups: PathBuf,
    /// Forge artifact of the reward token (--devnet).
    #[arg(long, default_value = "contracts/out/RewardToken.sol/RewardToken.json")]
    token: PathBuf,
    /// Token supply, in whole tokens (18 decimals; --devnet).
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
            Command::Validate(args) => validate_app(args).await,
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(DIVERGED),
        Err(e) => {
            eprintln!("crucible-node: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The exit code of a replay that disagrees with a claim or another node.
const DIVERGED: u8 = 5;

fn signer(key: &str) -> anyhow::Result<PrivateKeySigner> {
    key.trim()
        .parse()
        .context("the key must be a 32-byte hex private key")
}

/// The DApp command after `--`, or the native one beside this binary.
fn dapp_command(args: &[OsString]) -> anyhow::Result<DappCommand> {
    match args.split_first() {
        Some((program, rest)) => Ok(DappCommand {
            program: program.clone(),
            args: rest.to_vec(),
        }),
        None => default_dapp(),
    }
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

async fn run(args: RunArgs) -> anyhow::Result<bool> {
    let dapp = dapp_command(&args.dapp)?;
    let config = NodeConfig {
        rpc: args.chain.rpc,
        app: args.chain.app,
        input_box: args.chain.input_box,
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
        log_range: args.log_range,
    };
    let mut node = service::start(config).await.context("starting the node")?;
    let (replay, replayed) = node.replay;
    let serving = Serving {
        http: format!("http://{}", node.http_addr()),
        replayed_inputs: replayed,
        replay_ms: replay.as_secs_f64() * 1e3,
    };
    println!("{}", serde_json::to_string(&serving)?);
    tracing::info!(
        "serving http://{} ({replayed} inputs replayed in {replay:?})",
        node.http_addr()
    );
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = node.wait() => return r.context("the node stopped").map(|()| true),
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    node.stop();
    node.wait().await.context("stopping")?;
    Ok(true)
}

/// `validate`: prints the report; `Ok(false)` when it found a divergence.
async fn validate_app(args: ValidateArgs) -> anyhow::Result<bool> {
    let custom = !args.dapp.is_empty();
    let dapp = dapp_command(&args.dapp)?;
    let AppArgs {
        rpc,
        app,
        input_box,
    } = args.chain;
    let provider = crucible_chain::provider(rpc.parse().context("bad RPC URL")?, None);
    provider
        .get_chain_id()
        .await
        .with_context(|| format!("no chain answers at {rpc}"))?;
    let machine = if custom {
        // Another DApp may be an emulated one: give it time.
        MachineConfig {
            finish_wait: Duration::from_secs(600),
            ready_timeout: Duration::from_secs(120),
            ..MachineConfig::default()
        }
    } else {
        MachineConfig::default()
    };
    let report = validate(
        provider,
        &logs::LogReader::new(args.log_range),
        ValidateConfig {
            app,
            input_box,
            dapp,
            machine,
            against: args.against,
        },
    )
    .await
    .context("replaying the application")?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{report}");
    }
    Ok(report.ok)
}

async fn deploy(args: DeployArgs) -> anyhow::Result<bool> {
    let key = match (&args.key, args.devnet) {
        (Some(k), _) => signer(k)?,
        (None, true) => signer(devnet::ANVIL_KEYS[0])?,
        (None, false) => bail!(
            "pass --key (or CRUCIBLE_NODE_KEY): the deployer pays for and owns the application"
        ),
    };
    let provider =
        crucible_chain::provider(args.rpc.parse().context("bad RPC URL")?, Some(key.clone()));
    let chain_id = provider
        .get_chain_id()
        .await
        .with_context(|| format!("no chain answers at {}", args.rpc))?;
    if args.devnet {
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
        devnet::install_canonical(&provider, &args.rollups)
            .await
            .context("deploying Cartesi Rollups v2.2.0")?;
    }
    let template_hash = args.template_hash.unwrap_or_else(|| {
        if !args.devnet {
            tracing::warn!(
                "no --template-hash: the application gets the host-mode placeholder, which no Cartesi machine has"
            );
        }
        devnet::host_template_hash()
    });
    let salt = match args.salt {
        Some(s) => s,
        None => devnet::fresh_salt(&provider, key.address()).await?,
    };
    let consensus = if args.validators.is_empty() {
        devnet::ConsensusSpec::Authority(key.address())
    } else {
        devnet::ConsensusSpec::Quorum(args.validators.clone())
    };
    let app = devnet::deploy_application(
        &provider,
        key.address(),
        &consensus,
        args.epoch_length,
        template_hash,
        salt,
    )
    .await
    .context("deploying the application")?;
    let token = if args.devnet {
        let supply = U256::from(args.supply) * U256::from(10u64).pow(U256::from(18u64));
        Some(
            devnet::deploy_token(&provider, &args.token, supply)
                .await
                .context("deploying the reward token")?,
        )
    } else {
        None
    };
    let doc = Deployed {
        chain_id,
        input_box: INPUT_BOX,
        ether_portal: ETHER_PORTAL,
        erc20_portal: ERC20_PORTAL,
        consensus: app.consensus,
        application: app.application,
        token,
        template_hash: app.template_hash,
        salt: app.salt,
        epoch_length: args.epoch_length,
        block: app.block,
    };
    println!("{}", serde_json::to_string(&doc)?);
    Ok(true)
}
