//! `cargo xtask fuzz --seconds N [TARGET…]`: runs crucible-core's libFuzzer targets
//! (`crates/core/fuzz`) with cargo-fuzz, each for N seconds, from a copy of the committed
//! seed corpus, and reports executions, coverage and crashes per target.
//!
//! cargo-fuzz passes `-Zsanitizer=address` to rustc, a nightly-only flag; with the one stable
//! toolchain of this project it runs under `RUSTC_BOOTSTRAP=1`, which lets stable rustc
//! accept unstable flags (nothing is downloaded).

use crate::tasks::{cargo, root, run};
use anyhow::{Context, bail, ensure};
use std::{path::PathBuf, process::Command};

/// The targets, in `crates/core/fuzz/fuzz_targets`.
pub(crate) const TARGETS: [&str; 3] = ["input_payload", "dataset", "model_eval"];

/// cargo-fuzz, pinned.
const CARGO_FUZZ: &str = "0.13.1";

fn fuzz_dir() -> PathBuf {
    root().join("crates/core/fuzz")
}

fn work() -> PathBuf {
    root().join("target/fuzz")
}

fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    let ok = cargo()
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        run(cargo().args(["install", "cargo-fuzz", "--locked", "--version", CARGO_FUZZ]))?;
    }
    Ok(())
}

/// A number after `key` in libFuzzer's output (`stat::number_of_executed_units: 123`).
fn stat(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
}

pub(crate) fn fuzz(seconds: u64, targets: Vec<String>) -> anyhow::Result<()> {
    ensure_cargo_fuzz()?;
    let targets: Vec<String> = if targets.is_empty() {
        TARGETS.iter().map(|t| t.to_string()).collect()
    } else {
        targets
    };
    let mut crashed = Vec::new();
    let mut lines = Vec::new();
    for target in &targets {
        ensure!(
            TARGETS.contains(&target.as_str()),
            "unknown fuzz target {target}"
        );
        let seeds = fuzz_dir().join("corpus").join(target);
        let corpus = work().join("corpus").join(target);
        let artifacts = work().join("artifacts").join(target);
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&artifacts)?;
        for entry in std::fs::read_dir(&seeds).with_context(|| format!("{}", seeds.display()))? {
            let path = entry?.path();
            std::fs::copy(&path, corpus.join(path.file_name().context("seed name")?))?;
        }
        let before = std::fs::read_dir(&artifacts)?.count();
        eprintln!("fuzzing {target} for {seconds} s");
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_DIR", work().join("build"))
            .args(["fuzz", "run", "--fuzz-dir"])
            .arg(fuzz_dir())
            .arg(target)
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .args(["-rss_limit_mb=4096", "-timeout=60", "-print_final_stats=1"])
            .current_dir(root())
            .output()
            .context("running cargo fuzz")?;
        let text = String::from_utf8_lossy(&out.stderr);
        let execs = stat(&text, "stat::number_of_executed_units:").unwrap_or(0);
        let per_s = stat(&text, "stat::average_exec_per_sec:").unwrap_or(0);
        let cov = text
            .lines()
            .rev()
            .find_map(|l| l.split(" cov: ").nth(1))
            .and_then(|v| v.split_whitespace().next())
            .unwrap_or("?")
            .to_string();
        let found = std::fs::read_dir(&artifacts)?.count() - before;
        let corpus_size = std::fs::read_dir(&corpus)?.count();
        let line = format!(
            "{target:<14} {execs:>12} executions  {per_s:>6}/s  coverage {cov:>6}  corpus {corpus_size:>5}  crashes {found}"
        );
        println!("{line}");
        lines.push(line);
        if !out.status.success() || found > 0 {
            eprintln!(
                "{}",
                text.lines()
                    .rev()
                    .take(60)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            crashed.push(target.clone());
        }
    }
    if !crashed.is_empty() {
        bail!(
            "fuzzing found crashes in {crashed:?}; inputs under {}",
            work().join("artifacts").display()
        );
    }
    println!("{}", lines.join("\n"));
    Ok(())
}
