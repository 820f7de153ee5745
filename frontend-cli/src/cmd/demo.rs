//! `crucible demo`: a whole competition on a fresh devnet, every step a real transaction
//! and every score computed by the DApp behind the node.

use crate::{
    cmd::{
        competition::{self, CreateArgs, read},
        devnet::{self, UpArgs},
        payouts, submit,
    },
    devnet_state::DevnetState,
    session::Global,
};
use alloy::primitives::{Address, U256};
use anyhow::Context;
use crucible_core::abi::Metric;
use serde_json::{Value, json};
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// Run a whole competition on a fresh local devnet, payouts executed on L1.
///
/// The devnet is anvil + Cartesi Rollups v2.2.0 + crucible-node + the DApp. A sponsor creates a competition on Fashion-MNIST with a
/// hidden test set and a baseline, three trainers submit (an MLP, a CNN, and a disguised
/// copy of the MLP submitted later, which ranks as a copy), the leaderboard is printed, the sponsor reveals the
/// test set, anyone finalizes, and every payout voucher is executed on L1.
///
/// Run it from the repository root (it needs node_modules/, contracts/, models/, data/).
/// With --json the document has `competition_id`, `leaderboard` and `payouts`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Leave the devnet running afterwards (stop it with `crucible devnet down --home …`).
    #[arg(long)]
    keep: bool,
}

/// anvil dev accounts of the parties (the operator is account 9).
const SPONSOR: usize = 1;
const ALICE: usize = 2;
const BOB: usize = 3;
const CAROL: usize = 4;

/// The demo party (dev account) that owns `who`.
fn account(who: Address) -> Option<usize> {
    [SPONSOR, ALICE, BOB, CAROL].into_iter().find(|&n| {
        crucible_node::devnet::ANVIL_KEYS[n]
            .parse::<alloy::signers::local::PrivateKeySigner>()
            .is_ok_and(|k| k.address() == who)
    })
}

fn name(who: Address) -> &'static str {
    match account(who) {
        Some(SPONSOR) => "sponsor",
        Some(ALICE) => "alice",
        Some(BOB) => "bob",
        Some(CAROL) => "carol",
        _ => "someone",
    }
}

/// `model` with a `doc_string` appended: another CID, the same network (a copy a
/// plagiarist would try, since an identical copy is refused outright).
fn disguise(model: &[u8]) -> Vec<u8> {
    let note = b"my own work";
    let mut out = model.to_vec();
    // ModelProto field 6 (doc_string), wire type 2.
    out.extend_from_slice(&[0x32, note.len() as u8]);
    out.extend_from_slice(note);
    out
}

impl DemoArgs {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let say = |line: String| {
            if global.json {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        };
        for needed in [
            "models/mlp/model.onnx",
            "data/fashion-mnist/val-1k.safetensors",
        ] {
            if !Path::new(needed).exists() {
                return Err(crate::exit::invalid(format!(
                    "{needed} not found: run the demo from the repository root"
                ))
                .into());
            }
        }
        let home = global.home.join(format!("demo-{}", std::process::id()));
        let up = UpArgs {
            port: 0,
            node_port: 0,
            epoch_length: 1,
            anvil: None,
            rollups: "node_modules/@cartesi/rollups/out".into(),
            token_artifact: "contracts/out/RewardToken.sol/RewardToken.json".into(),
            faucet: 100_000,
        };
        say("▶ starting a fresh devnet: anvil, Cartesi Rollups v2.2.0, the application, crucible-node + DApp".into());
        let devnet = devnet::up(&home, &up, !global.json).await?;
        let result = self.story(global, &home, &devnet, &say).await;
        if !self.keep {
            devnet::down(&home)?;
            let _ = std::fs::remove_dir_all(&home);
        } else {
            say(format!(
                "devnet left running: crucible devnet status --home {}",
                home.display()
            ));
        }
        let doc = result?;
        if global.json {
            println!("{doc}");
        }
        Ok(())
    }

    async fn story(
        &self,
        global: &Global,
        home: &Path,
        devnet: &DevnetState,
        say: &impl Fn(String),
    ) -> anyhow::Result<Value> {
        say(format!(
            "  chain {} · node {} · application {}",
            devnet.rpc, devnet.node, devnet.deployment.application
        ));
        let party = |n: usize| {
            let mut g = global.party(home, devnet, n);
            g.json = true; // the demo prints its own narrative
            g
        };
        let sponsor = party(SPONSOR).session(true).await?;

        say("▶ the sponsor uploads the validation set and the baseline, commits to a hidden test set, and deposits 1000 CRU through the ERC20Portal".into());
        let create = CreateArgs::demo(
            PathBuf::from("data/fashion-mnist/val-1k.safetensors"),
            PathBuf::from("data/fashion-mnist/test-1k.safetensors"),
            PathBuf::from("models/mlp-baseline/model.onnx"),
        );
        let created = competition::create(&sponsor, &create).await?;
        let id = created["competition_id"]
            .as_u64()
            .context("competition id")?;
        say(format!(
            "  competition {id}: baseline scores {} ppm; submissions need ε = 1000 ppm over earlier ones",
            created["baseline_score_ppm"]
        ));

        let mlp = read(Path::new("models/mlp/model.onnx"))?;
        let cnn = read(Path::new("models/cnn/model.onnx"))?;
        let trainer_model = PathBuf::from("models/trainer/model.onnx");
        let bob_model = if trainer_model.exists() {
            read(&trainer_model)?
        } else {
            cnn
        };
        let mut submissions = Vec::new();
        for (who, model, what) in [
            (ALICE, mlp.clone(), "an MLP"),
            (BOB, bob_model, "a CNN"),
            (
                CAROL,
                disguise(&mlp),
                "alice's MLP with a new doc_string (another CID, same weights)",
            ),
        ] {
            let s = party(who).session(true).await?;
            say(format!(
                "▶ {} submits {what}: commit, upload in chunks, reveal",
                name(s.me()?)
            ));
            let r = submit::submit(&s, id, &model).await?;
            say(format!(
                "  scored by the DApp: {} ppm ({} / {} correct), priority {}",
                r["score_ppm"], r["correct"], r["samples"], r["priority"]
            ));
            if let Some(original) = r["copy_of"].as_u64() {
                say(format!(
                    "  it predicts exactly what entry {original} predicts on every validation row: it ranks as a copy and cannot be paid"
                ));
            }
            submissions.push(r);
        }

        let board = sponsor.node.inspect(&format!("leaderboard/{id}")).await?;
        let leaderboard: Vec<Value> = board
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                json!({
                    "submitter": e["submitter"],
                    "name": e["submitter"].as_str().and_then(|a| a.parse().ok()).map(|a| name(a)),
                    "model_cid": e["model_cid"],
                    "score_ppm": e["score_ppm"],
                    "rank": e["rank"],
                    "priority": e["priority"],
                })
            })
            .collect();
        say("▶ leaderboard (validation set; a later entry must beat an earlier one by ε to pass it)".into());
        for e in &leaderboard {
            say(format!(
                "  #{} {:<6} {} ppm  priority {}  {}",
                e["rank"],
                e["name"].as_str().unwrap_or_default(),
                e["score_ppm"],
                e["priority"],
                e["model_cid"].as_str().unwrap_or_default()
            ));
        }

        say("▶ the submission deadline passes (the devnet's clock moves 1 h)".into());
        let deadline = created["submission_deadline"].as_u64().unwrap_or(0);
        let now = sponsor.now().await?;
        sponsor
            .advance_time(deadline.saturating_sub(now) + 1)
            .await?;
        say("▶ the sponsor uploads and reveals the hidden test set".into());
        competition::reveal(&sponsor, id, None).await?;
        say(
            "▶ carol finalizes: every live entry is scored on the test set and paid by rank".into(),
        );
        let carol = party(CAROL).session(true).await?;
        competition::finalize(&carol, id).await?;

        let vouchers = payouts::vouchers(&sponsor).await?;
        let mut paid = Vec::new();
        for v in vouchers {
            let account = account(v.to).context("a payout to someone outside the demo")?;
            let s = party(account).session(true).await?;
            let r = payouts::execute_one(&s, v.index, Duration::from_secs(120)).await?;
            say(format!(
                "▶ {} executes voucher {} on L1: +{} CRU (balance {} → {})",
                name(v.to),
                v.index,
                cru(v.amount),
                cru(r["balance_before"]
                    .as_str()
                    .and_then(|b| b.parse().ok())
                    .unwrap_or_default()),
                cru(r["balance_after"]
                    .as_str()
                    .and_then(|b| b.parse().ok())
                    .unwrap_or_default()),
            ));
            paid.push(json!({
                "to": v.to,
                "name": name(v.to),
                "amount": v.amount.to_string(),
                "executed": r["executed"],
                "balance_before": r["balance_before"],
                "balance_after": r["balance_after"],
                "output_index": v.index,
            }));
        }
        Ok(json!({
            "competition_id": id,
            "metric": Metric::Accuracy.name(),
            "reward": created["reward"],
            "leaderboard": leaderboard,
            "submissions": submissions,
            "payouts": paid,
        }))
    }
}

/// Token units (18 decimals) as whole tokens with 3 decimals.
fn cru(v: U256) -> String {
    let milli = v / U256::from(10u64).pow(U256::from(15u64));
    let milli = u128::try_from(milli).unwrap_or(u128::MAX);
    format!("{}.{:03}", milli / 1000, milli % 1000)
}
