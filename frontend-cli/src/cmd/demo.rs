//! `crucible demo`: a whole competition on a fresh devnet, every step a real transaction
//! and every score computed by the DApp behind the node.

use crate::docs::{Demo, EpochAgreement, NamedEntry, Paid, Validation};
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
use crucible_types::inspect::LeaderboardEntry;
use serde::Deserialize;
use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// Run a whole competition on a fresh local devnet, payouts executed on L1.
///
/// The devnet is anvil + Cartesi Rollups v2.2.0 + a Quorum of validators, each a
/// crucible-node with its own DApp (one of them the riscv64 build under qemu, when built). A
/// sponsor creates a competition on Fashion-MNIST with a hidden test set and a baseline,
/// trainers submit (an MLP, a CNN, a disguised copy of the MLP, which ranks as a copy, and
/// a model crucible-trainer fine-tunes live from the baseline on the CPU), the leaderboard
/// is printed, the sponsor reveals the test set, anyone finalizes, every payout voucher is
/// executed on L1, and the validators' agreement per epoch is shown and re-checked by a
/// replay (`crucible validate`).
///
/// Run it from the repository root (it needs node_modules/, contracts/, models/, data/).
/// With --json the document has `competition_id`, `leaderboard` and `payouts`.
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Leave the devnet running afterwards (stop it with `crucible devnet down --home …`).
    #[arg(long)]
    keep: bool,
    /// Validators of the Quorum that run the native DApp, each a node with its own DApp and
    /// key. One more runs the riscv64 DApp under qemu when `cargo xtask riscv` has built it.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=16))]
    validators: u64,
    /// Add a validator whose DApp scores differently (`crucible-dapp-faulty`), and show it
    /// outvoted and named by `crucible validate`.
    #[arg(long)]
    faulty_validator: bool,
    /// Never run a validator's DApp under qemu, even if the riscv64 build is there.
    #[arg(long)]
    native_only: bool,
}

/// Where `cargo xtask riscv` leaves the static riscv64 DApp.
const RISCV_DAPP: &str = "target/riscv64/riscv64gc-unknown-linux-gnu/release/crucible-dapp";

/// anvil dev accounts of the parties (the operator is account 9).
const SPONSOR: usize = 1;
const ALICE: usize = 2;
const BOB: usize = 3;
const CAROL: usize = 4;
const DAVE: usize = 5;

/// Debian's Fashion-MNIST (package dataset-fashion-mnist): dave's own training data.
const TRAIN_IMAGES: &str = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
const TRAIN_LABELS: &str = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
/// Rows of the training split dave trains on.
const TRAIN_ROWS: usize = 20_000;

/// The demo party (dev account) that owns `who`.
fn account(who: Address) -> Option<usize> {
    [SPONSOR, ALICE, BOB, CAROL, DAVE].into_iter().find(|&n| {
        crucible_chain::devnet::ANVIL_KEYS[n]
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
        Some(DAVE) => "dave",
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
    /// The riscv64 DApp for one validator, when it is built and qemu is there.
    fn riscv_dapp(&self) -> Option<PathBuf> {
        if self.native_only {
            return None;
        }
        let dapp = PathBuf::from(RISCV_DAPP);
        (devnet::on_path("qemu-riscv64-static").is_some() && dapp.exists()).then_some(dapp)
    }

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
            validators: self.validators,
            riscv_dapp: self.riscv_dapp(),
            faulty_validator: self.faulty_validator,
        };
        say(format!(
            "▶ starting a fresh devnet: anvil, Cartesi Rollups v2.2.0, the application, {}",
            if up.validators + u64::from(up.faulty_validator) + u64::from(up.riscv_dapp.is_some())
                > 1
            {
                format!(
                    "a Quorum of {} validators, each a crucible-node with its own DApp{}{}",
                    up.validators
                        + u64::from(up.faulty_validator)
                        + u64::from(up.riscv_dapp.is_some()),
                    if up.riscv_dapp.is_some() {
                        " (one riscv64 under qemu)"
                    } else {
                        ""
                    },
                    if up.faulty_validator {
                        " (one FAULTY)"
                    } else {
                        ""
                    },
                )
            } else {
                "an Authority and crucible-node + DApp".to_string()
            }
        ));
        let devnet = devnet::up(&home, &up, !global.json).await?;
        let result = self.story(global, &home, &devnet, &say).await;
        if !self.keep {
            devnet::down(&home)?;
            let _ = std::fs::remove_dir_all(&home);
        } else {
            say(format!(
                "devnet left running: the leaderboard, payouts and claims at {}/ · crucible devnet status --home {}",
                devnet.node,
                home.display()
            ));
        }
        if !self.keep {
            say(format!(
                "▶ done. The leaderboard page was at {}/; `crucible demo --keep` leaves the devnet up to look at it",
                devnet.node
            ));
        }
        let doc = result?;
        if global.json {
            println!("{}", serde_json::to_string(&doc)?);
        }
        Ok(())
    }

    async fn story(
        &self,
        global: &Global,
        home: &Path,
        devnet: &DevnetState,
        say: &impl Fn(String),
    ) -> anyhow::Result<Demo> {
        say(format!(
            "  chain {} · node {} · application {}",
            devnet.rpc, devnet.node, devnet.deployment.application
        ));
        say(format!(
            "  the leaderboard page, live as the story runs: {}/",
            devnet.node
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
        let id = created.competition_id;
        say(format!(
            "  competition {id}: baseline scores {} ppm; submissions need ε = 1000 ppm over earlier ones",
            created.baseline_score_ppm.unwrap_or_default()
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
                r.score_ppm, r.correct, r.samples, r.priority
            ));
            if let Some(original) = r.copy_of {
                say(format!(
                    "  it predicts exactly what entry {original} predicts on every validation row: it ranks as a copy and cannot be paid"
                ));
            }
            submissions.push(r);
        }

        let trained = match train_live(home, say)? {
            Some((model, report)) => {
                let s = party(DAVE).session(true).await?;
                say(
                    "▶ dave submits the model he just trained: commit, upload in chunks, reveal"
                        .into(),
                );
                let r = submit::submit(&s, id, &model).await?;
                say(format!(
                    "  scored by the DApp: {} ppm ({} / {} correct), priority {}",
                    r.score_ppm, r.correct, r.samples, r.priority
                ));
                submissions.push(r);
                Some(report)
            }
            None => None,
        };

        let board: Vec<LeaderboardEntry> =
            sponsor.node.inspect(&format!("leaderboard/{id}")).await?;
        let leaderboard: Vec<NamedEntry> = board
            .iter()
            .map(|e| NamedEntry {
                submitter: e.submitter,
                name: name(e.submitter).to_string(),
                model_cid: e.model_cid,
                score_ppm: e.score_ppm,
                rank: e.rank,
                priority: e.priority,
            })
            .collect();
        say("▶ leaderboard (validation set; a later entry must beat an earlier one by ε to pass it)".into());
        for e in &leaderboard {
            say(format!(
                "  #{} {:<6} {} ppm  priority {}  {}",
                e.rank, e.name, e.score_ppm, e.priority, e.model_cid
            ));
        }

        say("▶ the submission deadline passes (the devnet's clock moves 1 h)".into());
        let deadline = created.submission_deadline;
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
                cru(r.balance_before),
                cru(r.balance_after),
            ));
            paid.push(Paid {
                to: v.to,
                name: name(v.to).to_string(),
                amount: v.amount,
                executed: r.executed,
                balance_before: r.balance_before,
                balance_after: r.balance_after,
                output_index: v.index,
            });
        }
        let validation = validators(&sponsor, devnet, say).await?;
        Ok(Demo {
            competition_id: id,
            metric: Metric::Accuracy.name().to_string(),
            reward: created.reward,
            leaderboard,
            submissions,
            payouts: paid,
            trained,
            validators: devnet.validators.clone(),
            validation,
        })
    }
}

/// What the demo reads of `crucible-trainer --json`'s report (the whole report is kept
/// as the trainer wrote it).
#[derive(Debug, Deserialize)]
struct TrainerSummary {
    epochs: Vec<TrainerEpoch>,
    samples_per_s: f64,
    evaluation: TrainerEvaluation,
}

#[derive(Debug, Deserialize)]
struct TrainerEpoch {
    seconds: f64,
}

#[derive(Debug, Deserialize)]
struct TrainerEvaluation {
    correct: u64,
}

/// Dave's turn: `crucible-trainer` (beside this binary) fine-tunes the competition's
/// baseline on the first rows of Fashion-MNIST's training split, on the CPU. `None` (and
/// says why) when the trainer or the dataset is missing.
fn train_live(home: &Path, say: &impl Fn(String)) -> anyhow::Result<Option<(Vec<u8>, Value)>> {
    let trainer = std::env::current_exe()?.with_file_name("crucible-trainer");
    if !trainer.exists() {
        say(format!(
            "  (no live training: {} is missing; build it with `cargo build --release -p crucible-trainer`)",
            trainer.display()
        ));
        return Ok(None);
    }
    if !Path::new(TRAIN_IMAGES).exists() {
        say("  (no live training: Fashion-MNIST's training split is missing; apt-get install dataset-fashion-mnist)".into());
        return Ok(None);
    }
    say(format!(
        "▶ dave fine-tunes the competition's baseline on {TRAIN_ROWS} rows of his own data with crucible-trainer, on the CPU"
    ));
    let data = home.join("dave-train.safetensors");
    let set = crate::cmd::data::idx_to_dataset(
        Path::new(TRAIN_IMAGES),
        Path::new(TRAIN_LABELS),
        0,
        Some(TRAIN_ROWS),
    )?;
    std::fs::write(&data, set)?;
    let out = home.join("dave.onnx");
    let run = std::process::Command::new(&trainer)
        .arg("train")
        .args(["--init", "models/mlp-baseline/model.onnx", "--data"])
        .arg(&data)
        .args(["--val", "data/fashion-mnist/val-1k.safetensors"])
        .args([
            "--epochs", "3", "--batch", "64", "--lr", "0.05", "--device", "cpu",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--json")
        .stderr(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {}", trainer.display()))?;
    if !run.status.success() {
        anyhow::bail!(
            "crucible-trainer failed ({}): {}",
            run.status,
            String::from_utf8_lossy(&run.stdout)
        );
    }
    let report: Value = serde_json::from_slice(&run.stdout).context("crucible-trainer's report")?;
    let summary = TrainerSummary::deserialize(&report).context("crucible-trainer's report")?;
    let seconds: f64 = summary.epochs.iter().map(|e| e.seconds).sum();
    say(format!(
        "  trained {} epochs in {seconds:.2} s ({:.0} samples/s); {} of 1000 validation rows right on his machine",
        summary.epochs.len(),
        summary.samples_per_s,
        summary.evaluation.correct
    ));
    Ok(Some((read(&out)?, report)))
}

/// Waits (a while) for every validator to claim every epoch, prints who claimed what per
/// epoch, then replays the whole chain in a fresh DApp as `crucible validate` does (against
/// the faulty validator's node, if there is one) and says who diverged.
async fn validators(
    s: &crate::session::Session,
    devnet: &DevnetState,
    say: &impl Fn(String),
) -> anyhow::Result<Validation> {
    use crucible_api::claims::EpochClaims;
    let count = devnet.validators.len();
    let faulty = devnet.validators.iter().find(|v| v.dapp.contains("FAULTY"));
    say(format!(
        "▶ the validators' claims ({count} validator{}; a root is accepted by {})",
        if count == 1 { "" } else { "s" },
        if count == 1 {
            "the Authority at once".to_string()
        } else {
            format!("{} of them", count / 2 + 1)
        }
    ));
    // The slowest validator (the riscv64 DApp under qemu) may still be scoring.
    let started = std::time::Instant::now();
    let epochs: Vec<EpochClaims> = loop {
        let epochs = s
            .node
            .api()
            .claims()
            .await
            .map_err(crate::node_api::api_error)?;
        let whole = epochs.iter().all(|e| e.claims.len() >= count);
        if whole || started.elapsed() > Duration::from_secs(300) {
            break epochs;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let who = |a: Address| {
        devnet
            .validators
            .iter()
            .position(|v| v.address == a)
            .map_or_else(
                || a.to_string(),
                |i| format!("validator {i} ({})", devnet.validators[i].dapp),
            )
    };
    let mut rows = Vec::new();
    for e in &epochs {
        let agree = e.claims.iter().filter(|c| Some(c.root) == e.root).count();
        let accepted = e.accepted.is_some_and(|a| Some(a.root) == e.root);
        say(format!(
            "  epoch {:>3}: {agree}/{count} validators claim the same root{}{}",
            e.epoch_index,
            if accepted { ", accepted" } else { "" },
            e.divergent()
                .map(|c| format!("; {} claims another", who(c.submitter)))
                .collect::<String>()
        ));
        rows.push(EpochAgreement {
            epoch: e.epoch_index,
            agreeing: agree as u64,
            claims: e.claims.len() as u64,
            accepted,
        });
    }
    say(format!(
        "▶ anyone re-executes: `crucible validate{}` replays the chain in a fresh DApp",
        faulty.map_or_else(String::new, |f| format!(" --against {}", f.node))
    ));
    let report = crate::cmd::validate::replay(
        s,
        crucible_chain::logs::DEFAULT_LOG_RANGE,
        &[],
        faulty.map(|f| f.node.as_str()),
    )
    .await?;
    say(format!(
        "  {} inputs replayed at {:.1} inputs/s: {}",
        report.inputs,
        report.inputs_per_s,
        if report.ok {
            "every claim agrees with the replay".to_string()
        } else {
            format!(
                "claims that differ come from {}",
                report
                    .faulty()
                    .into_iter()
                    .map(who)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    ));
    if let Some(d) = report.first_divergence() {
        say(format!(
            "  first divergence: input {} output {}: {} here, {} there",
            d.input, d.output, d.here, d.there
        ));
    }
    Ok(Validation {
        epochs: rows,
        replay: report,
    })
}

/// Token units (18 decimals) as whole tokens with 3 decimals.
fn cru(v: U256) -> String {
    let milli = v / U256::from(10u64).pow(U256::from(15u64));
    let milli = u128::try_from(milli).unwrap_or(u128::MAX);
    format!("{}.{:03}", milli / 1000, milli % 1000)
}
