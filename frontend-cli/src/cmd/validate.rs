//! `crucible validate`: replay an application's whole input history from L1 in a fresh DApp,
//! recompute every epoch's outputs root, and hold every claim the consensus logged against
//! it; with `--against`, compare output by output with another node and name the first
//! divergence. The replay runs the node's own runner: this command runs
//! `crucible-node validate` (beside this binary) and reads its report.

use crate::{
    exit::Exit,
    session::{Global, Session},
};
use anyhow::Context;
use crucible_api::validate::Report;
use std::{ffi::OsString, process::Stdio};

/// Replay the chain in a fresh DApp and check every claim against the recomputed roots.
///
/// Reads every input of the application from the InputBox, runs it through a new DApp
/// (the native `crucible-dapp` beside this binary, or the command after `--`, e.g.
/// `-- qemu-riscv64-static crucible-dapp` for the riscv64 build), and prints per epoch each
/// root claimed on chain (with its claimer), the recomputed root, and whether they agree.
/// With --against it also compares every output with that node's and names the first
/// input and output where they differ. Exits 5 on any divergence. Runs
/// `crucible-node validate`, which must be beside this binary.
#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// Another node's query API to compare with, output by output.
    #[arg(long, value_name = "NODE_URL")]
    against: Option<String>,
    /// The most blocks one eth_getLogs asks for (halved whenever the endpoint refuses).
    #[arg(long, default_value_t = crucible_chain::logs::DEFAULT_LOG_RANGE)]
    log_range: u64,
    /// The DApp command (default: `crucible-dapp` beside this binary).
    #[arg(last = true)]
    dapp: Vec<OsString>,
}

impl ValidateArgs {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let s = global.chain_session().await?;
        let report = replay(&s, self.log_range, &self.dapp, self.against.as_deref()).await?;
        if global.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            println!("{report}");
        }
        if report.ok {
            return Ok(());
        }
        let bad: Vec<String> = report.bad_epochs().iter().map(u64::to_string).collect();
        Err(Exit::Diverged(format!(
            "the replay disagrees in epoch(s) {}",
            if bad.is_empty() {
                "after the last one".into()
            } else {
                bad.join(", ")
            }
        ))
        .into())
    }
}

/// Replays the application of `s` with `crucible-node validate` in a fresh DApp (`dapp`,
/// or the native one) and returns its report: every claim on chain, and the node at
/// `against` if given, held against the replay. The node's progress goes to stderr.
pub(crate) async fn replay(
    s: &Session,
    log_range: u64,
    dapp: &[OsString],
    against: Option<&str>,
) -> anyhow::Result<Report> {
    let node = crate::cmd::devnet::sibling("crucible-node")?;
    let mut command = tokio::process::Command::new(&node);
    command
        .arg("validate")
        .args(["--rpc", &s.rpc])
        .args(["--app", &s.app.to_string()])
        .args(["--input-box", &s.input_box.to_string()])
        .args(["--log-range", &log_range.to_string()])
        .arg("--json");
    if let Some(url) = against {
        command.args(["--against", url]);
    }
    if !dapp.is_empty() {
        command.arg("--").args(dapp);
    }
    s.say(format!(
        "replaying {} in a fresh DApp ({})",
        s.app,
        node.display()
    ));
    if s.json {
        // One JSON document on stdout, nothing on stderr but errors.
        command.env("RUST_LOG", "warn");
    }
    // Its progress and errors go straight to this command's stderr.
    let out = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Exit::Unavailable(format!("running {}: {e}", node.display())))?
        .wait_with_output()
        .await?;
    // 0: every claim agrees; 5: the report names a divergence; anything else failed.
    if !matches!(out.status.code(), Some(0 | 5)) {
        anyhow::bail!(
            "{} validate failed ({}); its error is above",
            node.display(),
            out.status
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{} validate printed no report: {}",
            node.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
