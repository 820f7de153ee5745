//! `crucible devnet up|down|status|time`: a local chain (anvil), Cartesi Rollups v2.2.0 at
//! their canonical addresses, the consensus (an Authority, or a Quorum of N validators), the
//! application, a reward token, and one `crucible-node` with its own DApp, database and key
//! per validator, as background processes whose state lives under `<home>/devnet`.

use crate::{
    devnet_state::{DevnetState, Validator, alive},
    exit::Exit,
    session::Global,
};
use alloy::{
    network::TransactionBuilder,
    primitives::{U256, keccak256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
};
use anyhow::Context;
use crucible_chain::Confirm;
use crucible_chain::devnet::{self, ANVIL_KEYS, IERC20};
use std::{
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// A local devnet.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum DevnetCommand {
    /// Start anvil, deploy the contracts, start the node; print the addresses.
    Up(UpArgs),
    /// Stop the devnet's processes and forget its state.
    Down,
    /// Say whether the devnet is up and what the node has processed (exit 4 if it is not up).
    Status,
    /// Move the devnet's clock forward by SECONDS and mine a block.
    Time {
        /// Seconds to add.
        seconds: u64,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct UpArgs {
    /// anvil's port (0: a free one).
    #[arg(long, default_value_t = 8545)]
    pub(crate) port: u16,
    /// The node's query API port (0: a free one).
    #[arg(long, default_value_t = 10011)]
    pub(crate) node_port: u16,
    /// Blocks per epoch (the node claims each epoch that holds inputs once it is over).
    #[arg(long, default_value_t = 1)]
    pub(crate) epoch_length: u64,
    /// anvil binary (default: node_modules' @foundry-rs/anvil, then PATH).
    #[arg(long)]
    pub(crate) anvil: Option<PathBuf>,
    /// Directory of the `@cartesi/rollups@2.2.0` artifacts.
    #[arg(long, default_value = "node_modules/@cartesi/rollups/out")]
    pub(crate) rollups: PathBuf,
    /// Forge artifact of the reward token (built with node_modules' forge if missing).
    #[arg(long, default_value = "contracts/out/RewardToken.sol/RewardToken.json")]
    pub(crate) token_artifact: PathBuf,
    /// Tokens (whole, 18 decimals) each of dev accounts 0..=8 receives.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) faucet: u64,
    /// Validators, each a crucible-node with its own key, database and DApp. 1: an
    /// Authority owned by the operator (dev account 9); more: a Quorum that accepts a root
    /// once a majority claims it (validator 0 is the operator, the others have keys derived
    /// from the validator's number and are funded by the operator).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=16))]
    pub(crate) validators: u64,
    /// One more validator that runs this riscv64 `crucible-dapp` (the static build of
    /// `cargo xtask riscv`) under qemu-riscv64-static.
    #[arg(long, value_name = "PATH")]
    pub(crate) riscv_dapp: Option<PathBuf>,
    /// One more validator whose DApp reports every score 6,000 ppm off
    /// (`crucible-dapp-faulty`, built with `cargo build -p crucible-dapp-faulty --features
    /// faulty`): the honest majority outvotes it.
    #[arg(long)]
    pub(crate) faulty_validator: bool,
}

/// The key of devnet validator `n` (1 and up; validator 0 is the operator): derived from its
/// number, so a devnet's validators are the same every time.
pub(crate) fn validator_key(n: u64) -> anyhow::Result<PrivateKeySigner> {
    Ok(PrivateKeySigner::from_bytes(&keccak256(format!(
        "crucible devnet validator {n}"
    )))?)
}

/// anvil's development account that owns the Authority and signs the node's claims.
pub(crate) const OPERATOR: usize = 9;

impl DevnetCommand {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        match self {
            Self::Up(args) => {
                let state = up(&global.home, &args, !global.json).await?;
                if global.json {
                    println!("{}", serde_json::to_string(&state)?);
                } else {
                    println!("devnet up: chain {} at {}", state.chain_id, state.rpc);
                    println!("  node         {}", state.node);
                    println!("  leaderboard  {}/ (open it in a browser)", state.node);
                    if state.validators.len() > 1 {
                        println!(
                            "  quorum       {} of {} validators",
                            state.validators.len() / 2 + 1,
                            state.validators.len()
                        );
                        for v in &state.validators {
                            println!("    {} {} ({})", v.address, v.node, v.dapp);
                        }
                    }
                    println!("  application  {}", state.deployment.application);
                    println!("  reward token {} (CRU)", state.deployment.token);
                    println!("  InputBox     {}", state.deployment.input_box);
                    println!("  ERC20Portal  {}", state.deployment.erc20_portal);
                    println!("  logs         {}", state.dir.display());
                    println!(
                        "sign with --dev-account 0..8 (each holds CRU); `crucible devnet down` stops it"
                    );
                }
                Ok(())
            }
            Self::Down => {
                let stopped = down(&global.home)?;
                if global.json {
                    println!(
                        "{}",
                        serde_json::to_string(&crate::docs::Stopped { stopped })?
                    );
                } else if stopped {
                    println!("devnet stopped");
                } else {
                    println!("no devnet was up");
                }
                Ok(())
            }
            Self::Status => status(global).await,
            Self::Time { seconds } => {
                let s = global.session(false).await?;
                s.advance_time(seconds).await?;
                let now = s.now().await?;
                if global.json {
                    println!(
                        "{}",
                        serde_json::to_string(&crate::docs::ChainTime { timestamp: now })?
                    );
                } else {
                    println!("chain time is now {now}");
                }
                Ok(())
            }
        }
    }
}

fn unavailable(what: impl Into<String>) -> anyhow::Error {
    Exit::Unavailable(what.into()).into()
}

fn find_anvil(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = given {
        return if p.exists() {
            Ok(p.to_path_buf())
        } else {
            Err(unavailable(format!("anvil not found at {}", p.display())))
        };
    }
    let local = PathBuf::from("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    if local.exists() {
        return Ok(local);
    }
    on_path("anvil").ok_or_else(|| {
            unavailable(
                "anvil not found: run `npm ci` in the repository (installs @foundry-rs/anvil 1.7.1) or pass --anvil PATH",
            )
        })
}

/// `name` in a directory of `PATH`, if it is there.
pub(crate) fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.exists())
}

/// A binary installed beside this one (`crucible-node`, `crucible-dapp`).
pub(crate) fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let p = std::env::current_exe()?.with_file_name(name);
    if p.exists() {
        Ok(p)
    } else {
        Err(unavailable(format!(
            "{name} not found beside this binary ({}): build it with `cargo build --release -p crucible-node -p crucible-dapp`",
            p.display()
        )))
    }
}

fn token_artifact(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let forge = PathBuf::from("node_modules/@foundry-rs/forge-linux-amd64/bin/forge");
    if !forge.exists() {
        return Err(unavailable(format!(
            "the reward token's artifact {} is missing and forge is not installed: run `npm ci`, then `cargo xtask setup`",
            path.display()
        )));
    }
    let cwd = std::env::current_dir()?;
    let status = Command::new(cwd.join(&forge))
        .args(["build", "--use"])
        .arg(cwd.join("contracts/solc-wrap.js"))
        .current_dir("contracts")
        .stdout(Stdio::null())
        .status()
        .context("running forge build")?;
    if !status.success() || !path.exists() {
        return Err(unavailable(format!(
            "forge build did not produce {}",
            path.display()
        )));
    }
    Ok(())
}

fn port(wanted: u16, what: &str, flag: &str) -> anyhow::Result<u16> {
    match TcpListener::bind(("127.0.0.1", wanted)) {
        Ok(l) => Ok(l.local_addr()?.port()),
        Err(e) => Err(unavailable(format!(
            "{what} port {wanted} is not free ({e}): pass {flag} 0 for a free one, or stop what uses it"
        ))),
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}

/// What one validator's node runs.
struct ValidatorPlan {
    key: PrivateKeySigner,
    /// The DApp command.
    dapp: Vec<std::ffi::OsString>,
    /// How it is described.
    what: String,
}

/// The validators `args` asks for: the operator first.
fn plan(args: &UpArgs, operator: &PrivateKeySigner) -> anyhow::Result<Vec<ValidatorPlan>> {
    let native = sibling("crucible-dapp")?;
    let mut plans = Vec::new();
    for n in 0..args.validators {
        let key = if n == 0 {
            operator.clone()
        } else {
            validator_key(n)?
        };
        plans.push(ValidatorPlan {
            key,
            dapp: vec![native.clone().into_os_string()],
            what: "native DApp".into(),
        });
    }
    if let Some(rv) = &args.riscv_dapp {
        if !rv.exists() {
            return Err(unavailable(format!(
                "no riscv64 DApp at {}: build it with `cargo xtask riscv`",
                rv.display()
            )));
        }
        plans.push(ValidatorPlan {
            key: validator_key(plans.len() as u64)?,
            dapp: vec!["qemu-riscv64-static".into(), rv.clone().into_os_string()],
            what: "riscv64 DApp under qemu".into(),
        });
    }
    if args.faulty_validator {
        let faulty = sibling("crucible-dapp-faulty").map_err(|_| {
            unavailable(
                "crucible-dapp-faulty is not beside this binary: build it with `cargo build -p crucible-dapp-faulty --features faulty` (add --release for a release build)",
            )
        })?;
        plans.push(ValidatorPlan {
            key: validator_key(plans.len() as u64)?,
            dapp: vec![faulty.into_os_string()],
            what: "FAULTY DApp".into(),
        });
    }
    Ok(plans)
}

/// Starts one validator's node (`n`: its number, for file names; the first listens on
/// `port`) and waits for its ready line; returns its query API URL and pid.
async fn start_node(
    dir: &Path,
    n: usize,
    rpc: &str,
    app: alloy::primitives::Address,
    plan: &ValidatorPlan,
    port: u16,
) -> anyhow::Result<(String, u32)> {
    let node_bin = sibling("crucible-node")?;
    let suffix = if n == 0 {
        String::new()
    } else {
        format!("-{n}")
    };
    let out = dir.join(format!("node{suffix}.out"));
    let log = dir.join(format!("node{suffix}.log"));
    let child = Command::new(&node_bin)
        .arg("run")
        .args(["--rpc", rpc, "--app", &app.to_string()])
        .arg("--key")
        .arg(alloy::primitives::hex::encode_prefixed(plan.key.to_bytes()))
        .arg("--db")
        .arg(dir.join(format!("node{suffix}.sqlite")))
        .args([
            "--http",
            &format!("127.0.0.1:{port}"),
            "--poll-ms",
            "100",
            "--",
        ])
        .args(&plan.dapp)
        .stdout(std::fs::File::create(&out)?)
        .stderr(std::fs::File::create(&log)?)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", node_bin.display()))?;
    let started = Instant::now();
    loop {
        let line = std::fs::read_to_string(&out).unwrap_or_default();
        if let Ok(serving) = serde_json::from_str::<crucible_api::node::Serving>(line.trim()) {
            return Ok((serving.http, child.id()));
        }
        if !alive(child.id()) || started.elapsed() > Duration::from_secs(60) {
            return Err(unavailable(format!(
                "validator {n}'s node did not start: {}",
                tail(&log)
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a devnet under `home`; `say` prints progress on stderr.
pub(crate) async fn up(home: &Path, args: &UpArgs, say: bool) -> anyhow::Result<DevnetState> {
    if let Some(s) = DevnetState::load(home)? {
        if alive(s.anvil_pid) || s.pids().any(alive) {
            return Err(unavailable(format!(
                "a devnet is already up (chain at {}, node at {}): `crucible devnet down` first",
                s.rpc, s.node
            )));
        }
        DevnetState::remove(home)?;
    }
    let anvil = find_anvil(args.anvil.as_deref())?;
    sibling("crucible-node")?;
    let operator: PrivateKeySigner = ANVIL_KEYS[OPERATOR].parse()?;
    let plans = plan(args, &operator)?;
    if !args.rollups.join("InputBox.sol/InputBox.json").exists() {
        return Err(unavailable(format!(
            "the Cartesi Rollups artifacts are not in {}: run `npm ci` (installs @cartesi/rollups 2.2.0)",
            args.rollups.display()
        )));
    }
    token_artifact(&args.token_artifact)?;
    let anvil_port = port(args.port, "anvil's", "--port")?;
    let node_port = port(args.node_port, "the node's", "--node-port")?;

    let dir = DevnetState::dir(home);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    remove_databases(&dir);
    let log = |name: &str| std::fs::File::create(dir.join(name));
    let anvil_log = log("anvil.log")?;
    let anvil_child = Command::new(&anvil)
        .args(["--host", "127.0.0.1", "--port", &anvil_port.to_string()])
        .stdout(anvil_log.try_clone()?)
        .stderr(anvil_log)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", anvil.display()))?;
    let rpc = format!("http://127.0.0.1:{anvil_port}");
    let probe = ProviderBuilder::new().connect_http(rpc.parse()?);
    let started = Instant::now();
    let chain_id = loop {
        if let Ok(id) = probe.get_chain_id().await {
            break id;
        }
        if started.elapsed() > Duration::from_secs(20) {
            return Err(unavailable(format!(
                "anvil did not answer on {rpc} within 20 s: {}",
                tail(&dir.join("anvil.log"))
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    if say {
        eprintln!("anvil up on {rpc}; deploying");
    }

    let provider = crucible_chain::signing_provider(rpc.parse()?, operator.clone());
    let unit = U256::from(10u64).pow(U256::from(18u64));
    let per_account = U256::from(args.faucet) * unit;
    let consensus = if plans.len() == 1 {
        devnet::ConsensusSpec::Authority(operator.address())
    } else {
        devnet::ConsensusSpec::Quorum(plans.iter().map(|p| p.key.address()).collect())
    };
    let deployment = devnet::deploy(
        &provider,
        operator.address(),
        &consensus,
        args.epoch_length,
        &args.rollups,
        &args.token_artifact,
        per_account * U256::from(10u64),
    )
    .await
    .context("deploying the contracts")?;
    for key in &ANVIL_KEYS[..OPERATOR] {
        let to = key.parse::<PrivateKeySigner>()?.address();
        IERC20::new(deployment.token, &provider)
            .transfer(to, per_account)
            .send()
            .await?
            .confirmed()
            .await?;
    }

    // Validators other than the operator pay for their claims' gas.
    for p in &plans[1..] {
        provider
            .send_transaction(
                TransactionRequest::default()
                    .with_to(p.key.address())
                    .with_value(U256::from(100u64) * unit),
            )
            .await?
            .confirmed()
            .await?;
    }
    let mut validators = Vec::new();
    for (n, p) in plans.iter().enumerate() {
        let port = if n == 0 { node_port } else { 0 };
        let (node, pid) = start_node(&dir, n, &rpc, deployment.application, p, port).await?;
        validators.push(Validator {
            address: p.key.address(),
            node,
            pid,
            dapp: p.what.clone(),
        });
    }
    let (node, node_pid) = (validators[0].node.clone(), validators[0].pid);
    let state = DevnetState {
        rpc,
        node,
        chain_id,
        deployment,
        epoch_length: args.epoch_length,
        operator_account: OPERATOR,
        anvil_pid: anvil_child.id(),
        node_pid,
        validators,
        dir,
    };
    state.save(home)?;
    Ok(state)
}

/// Removes the validators' databases (and ready files) a devnet left in `dir`.
fn remove_databases(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("node") && (name.contains(".sqlite") || name.ends_with(".out")) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn terminate(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
    let started = Instant::now();
    while alive(pid) && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// Stops the devnet under `home`; false if none was up.
pub(crate) fn down(home: &Path) -> anyhow::Result<bool> {
    let Some(state) = DevnetState::load(home)? else {
        return Ok(false);
    };
    for pid in state.pids() {
        terminate(pid);
    }
    terminate(state.anvil_pid);
    remove_databases(&state.dir);
    DevnetState::remove(home)?;
    Ok(true)
}

async fn status(global: &Global) -> anyhow::Result<()> {
    let Some(state) = DevnetState::load(&global.home)? else {
        return Err(unavailable(format!(
            "no devnet under {}: `crucible devnet up` starts one",
            global.home.display()
        )));
    };
    let (anvil_up, node_up) = (alive(state.anvil_pid), state.pids().all(alive));
    let processed = if node_up {
        let s = global.session(false).await?;
        Some(
            s.node
                .api()
                .processed_input_count()
                .await
                .map_err(crate::node_api::api_error)?,
        )
    } else {
        None
    };
    if global.json {
        let doc = crate::docs::DevnetStatus {
            anvil: anvil_up,
            node: node_up,
            processed_inputs: processed,
            devnet: state.clone(),
        };
        println!("{}", serde_json::to_string(&doc)?);
    } else {
        println!(
            "anvil {} ({}), node {} ({}), processed inputs: {}",
            if anvil_up { "up" } else { "DOWN" },
            state.rpc,
            if node_up { "up" } else { "DOWN" },
            state.node,
            processed.map_or_else(|| "-".into(), |n| n.to_string())
        );
    }
    if anvil_up && node_up {
        Ok(())
    } else {
        Err(unavailable(format!(
            "the devnet is not fully up; see the logs in {} and restart it (crucible devnet down && crucible devnet up)",
            state.dir.display()
        )))
    }
}
