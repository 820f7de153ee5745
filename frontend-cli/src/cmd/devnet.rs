//! `crucible devnet up|down|status|time`: a local chain (anvil), Cartesi Rollups v2.2.0 at
//! their canonical addresses, the application, a reward token, and a `crucible-node` with
//! its DApp, as background processes whose state lives under `<home>/devnet`.

use crate::{
    devnet_state::{DevnetState, alive},
    exit::Exit,
    session::Global,
};
use alloy::{
    primitives::U256,
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use anyhow::Context;
use crucible_node::Confirm;
use crucible_node::devnet::{self, ANVIL_KEYS, IERC20};
use serde_json::json;
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
                    println!("{}", json!({ "stopped": stopped }));
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
                    println!("{}", json!({ "timestamp": now }));
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
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("anvil"))
        .find(|p| p.exists())
        .ok_or_else(|| {
            unavailable(
                "anvil not found: run `npm ci` in the repository (installs @foundry-rs/anvil 1.7.1) or pass --anvil PATH",
            )
        })
}

/// A binary installed beside this one (`crucible-node`, `crucible-dapp`).
fn sibling(name: &str) -> anyhow::Result<PathBuf> {
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

/// Starts a devnet under `home`; `say` prints progress on stderr.
pub(crate) async fn up(home: &Path, args: &UpArgs, say: bool) -> anyhow::Result<DevnetState> {
    if let Some(s) = DevnetState::load(home)? {
        if alive(s.anvil_pid) || alive(s.node_pid) {
            return Err(unavailable(format!(
                "a devnet is already up (chain at {}, node at {}): `crucible devnet down` first",
                s.rpc, s.node
            )));
        }
        DevnetState::remove(home)?;
    }
    let anvil = find_anvil(args.anvil.as_deref())?;
    let node_bin = sibling("crucible-node")?;
    let dapp = sibling("crucible-dapp")?;
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
    for stale in [
        "node.sqlite",
        "node.sqlite-wal",
        "node.sqlite-shm",
        "node.out",
    ] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
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

    let operator: PrivateKeySigner = ANVIL_KEYS[OPERATOR].parse()?;
    let provider = crucible_node::signing_provider(rpc.parse()?, operator.clone());
    let unit = U256::from(10u64).pow(U256::from(18u64));
    let per_account = U256::from(args.faucet) * unit;
    let deployment = devnet::deploy(
        &provider,
        operator.address(),
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

    let node_out = dir.join("node.out");
    let node_child = Command::new(&node_bin)
        .arg("run")
        .args(["--rpc", &rpc, "--app", &deployment.application.to_string()])
        .args(["--key", ANVIL_KEYS[OPERATOR]])
        .arg("--db")
        .arg(dir.join("node.sqlite"))
        .args([
            "--http",
            &format!("127.0.0.1:{node_port}"),
            "--poll-ms",
            "100",
            "--",
        ])
        .arg(&dapp)
        .stdout(std::fs::File::create(&node_out)?)
        .stderr(log("node.log")?)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {}", node_bin.display()))?;
    let started = Instant::now();
    let node = loop {
        let line = std::fs::read_to_string(&node_out).unwrap_or_default();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line.trim()) {
            break v["http"].as_str().unwrap_or_default().to_string();
        }
        if !alive(node_child.id()) || started.elapsed() > Duration::from_secs(60) {
            return Err(unavailable(format!(
                "the node did not start: {}",
                tail(&dir.join("node.log"))
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let state = DevnetState {
        rpc,
        node,
        chain_id,
        deployment,
        epoch_length: args.epoch_length,
        operator_account: OPERATOR,
        anvil_pid: anvil_child.id(),
        node_pid: node_child.id(),
        dir,
    };
    state.save(home)?;
    Ok(state)
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
    terminate(state.node_pid);
    terminate(state.anvil_pid);
    for stale in ["node.sqlite", "node.sqlite-wal", "node.sqlite-shm"] {
        let _ = std::fs::remove_file(state.dir.join(stale));
    }
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
    let (anvil_up, node_up) = (alive(state.anvil_pid), alive(state.node_pid));
    let processed = if node_up {
        let s = global.session(false).await?;
        Some(crate::node_api::hex_u64(
            &s.node
                .rpc("cartesi_getProcessedInputCount", json!({}))
                .await?["data"],
        )?)
    } else {
        None
    };
    if global.json {
        println!(
            "{}",
            json!({ "anvil": anvil_up, "node": node_up, "processed_inputs": processed, "devnet": state })
        );
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
