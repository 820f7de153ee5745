//! The sponsor's and everyone's competition commands: upload, create, reveal, finalize,
//! list, show, leaderboard, fetch.

use crate::docs::{Created, Finalized, Revealed, Stored};
use crate::{
    chain::notices,
    cmd::score::parse_metric,
    exit::invalid,
    secrets::{Secrets, TestSetSecret, random_salt},
    session::{Global, Session},
};
use alloy::primitives::{Address, U256};
use alloy_sol_types::SolCall;
use anyhow::Context;
use crucible_core::{Limits, abi::Metric};
use crucible_types::inspect::{CompetitionAnswer, CompetitionSummary, LeaderboardEntry};
use crucible_types::{
    Cid,
    abi::{self, ICrucible, ICrucibleOutputsCalls},
};
use serde::Serialize;
use std::path::PathBuf;

/// Store a file in the DApp as a blob (chunked, resumable); prints its CID.
///
/// Example: crucible upload data/fashion-mnist/val-1k.safetensors --dev-account 1
#[derive(Debug, clap::Args)]
pub(crate) struct UploadArgs {
    /// The file.
    file: PathBuf,
}

impl UploadArgs {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let s = global.session(true).await?;
        let bytes = read(&self.file)?;
        let cid = s.upload(&bytes, "upload").await?;
        if s.json {
            println!(
                "{}",
                serde_json::to_string(&Stored {
                    bytes: bytes.len() as u64,
                    cid,
                    file: None,
                })?
            );
        } else {
            println!("{cid}");
        }
        Ok(())
    }
}

pub(crate) fn read(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| invalid(format!("cannot read {}: {e}", path.display())).into())
}

/// Competitions: create (sponsor), reveal the test set (sponsor), finalize (anyone), show.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum CompetitionCommand {
    /// Create a competition: uploads the validation set (and baseline), commits to the
    /// hidden test set (its salt is kept in <home>/secrets.json), and deposits the reward
    /// through the ERC20Portal (or EtherPortal) with the spec as exec-layer data.
    Create(CreateArgs),
    /// After the submission deadline: upload the hidden test set and reveal it.
    Reveal {
        /// Competition id.
        id: u64,
        /// The test set (default: the file given at creation).
        #[arg(long)]
        test: Option<PathBuf>,
    },
    /// Once the test set is revealed (or the reveal deadline passed): rank, pay out.
    Finalize {
        /// Competition id.
        id: u64,
    },
    /// One competition, with its leaderboard.
    Show {
        /// Competition id.
        id: u64,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct CreateArgs {
    /// Validation set (canonical safetensors; `crucible data` converts others).
    #[arg(long)]
    data: PathBuf,
    /// Hidden test set; only its CID and a salt's commitment go on chain now.
    #[arg(long)]
    test: PathBuf,
    /// Optional baseline model (scored, never wins).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// accuracy, top5, logloss, logloss-probs, mse or mae.
    #[arg(long, value_parser = parse_metric, default_value = "accuracy")]
    metric: Metric,
    /// Reward in whole tokens (18 decimals), or in ether with --ether.
    #[arg(long)]
    reward: u64,
    /// Reward token (default: the devnet's token).
    #[arg(long, conflicts_with = "ether")]
    token: Option<Address>,
    /// Pay the reward in ether through the EtherPortal.
    #[arg(long)]
    ether: bool,
    /// Submissions close this long after now (e.g. 3600, 90m, 2h, 7d).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    submission_period: u64,
    /// The test set must be revealed within this long after submissions close.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    reveal_period: u64,
    /// Improvement (ppm of the metric) a later submission needs to outrank an earlier one.
    #[arg(long, default_value_t = 0)]
    epsilon_ppm: u32,
    /// Reward shares per rank in basis points, summing to 10000 (e.g. 6000,3000,1000).
    #[arg(long, value_delimiter = ',', default_value = "10000")]
    payout_bps: Vec<u16>,
}

impl CreateArgs {
    /// The demo's competition: accuracy, 1000 CRU, 1 h to submit and 1 h to reveal,
    /// ε = 1000 ppm, the top two paid 70 % / 30 %.
    pub(crate) fn demo(data: PathBuf, test: PathBuf, baseline: PathBuf) -> Self {
        Self {
            data,
            test,
            baseline: Some(baseline),
            metric: Metric::Accuracy,
            reward: 1_000,
            token: None,
            ether: false,
            submission_period: 3_600,
            reveal_period: 3_600,
            epsilon_ppm: 1_000,
            payout_bps: vec![7_000, 3_000],
        }
    }
}

/// `3600`, `90s`, `15m`, `2h`, `7d` → seconds.
fn parse_duration(s: &str) -> Result<u64, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 3600, 90m, 2h, 7d)"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too long"))
}

/// The competition id a `CompetitionCreated` notice of `p` announces.
fn created(p: &crate::node_api::Processed) -> Option<(u64, u64)> {
    notices(p).into_iter().find_map(|n| match n {
        ICrucibleOutputsCalls::CompetitionCreated(c) => Some((c.competitionId, c.baselineScorePpm)),
        _ => None,
    })
}

impl CreateArgs {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let s = global.session(true).await?;
        let out = create(&s, &self).await?;
        if s.json {
            println!("{}", serde_json::to_string(&out)?);
        } else {
            println!(
                "competition {} created: reward {} escrowed, submissions close at {}, validation set {}",
                out.competition_id, out.reward, out.submission_deadline, out.validation_cid
            );
            println!(
                "the test set's salt is kept in {}",
                s.home.join("secrets.json").display()
            );
        }
        Ok(())
    }
}

/// Creates a competition; returns its summary.
pub(crate) async fn create(s: &Session, a: &CreateArgs) -> anyhow::Result<Created> {
    if a.payout_bps.iter().map(|&b| u32::from(b)).sum::<u32>() != 10_000 {
        return Err(invalid("--payout-bps must sum to 10000").into());
    }
    let val = read(&a.data)?;
    let test = read(&a.test)?;
    let token = if a.ether {
        Address::ZERO
    } else {
        a.token.or(s.devnet_token).ok_or_else(|| {
            invalid("--token is needed (or --ether): the reward's ERC-20 on this chain")
        })?
    };
    let val_cid = s.upload(&val, "validation").await?;
    let baseline_cid = match &a.baseline {
        Some(b) => Some(s.upload(&read(b)?, "baseline").await?),
        None => None,
    };
    let test_cid = Cid::of(&test);
    let salt = random_salt()?;
    let commitment = abi::test_set_commitment(&test_cid.to_bytes(), salt);
    let mut secrets = Secrets::load(&s.home)?;
    secrets.test_sets.push(TestSetSecret {
        app: s.app,
        commitment,
        cid: test_cid.to_string(),
        salt,
        file: a.test.canonicalize().unwrap_or_else(|_| a.test.clone()),
    });
    secrets.save(&s.home)?;

    let now = s.now().await?;
    let submission_deadline = now + a.submission_period;
    let spec = abi::CompetitionSpec {
        validationCid: val_cid.to_bytes().into(),
        baselineCid: baseline_cid
            .map(|c| c.to_bytes().into())
            .unwrap_or_default(),
        testCommitment: commitment,
        metric: a.metric,
        submissionDeadline: submission_deadline,
        revealDeadline: submission_deadline + a.reveal_period,
        epsilonPpm: a.epsilon_ppm,
        testSetBytes: test.len() as u64,
        payoutBps: a.payout_bps.clone(),
        limits: Limits::default().to_abi(),
    };
    let exec = ICrucible::createCompetitionCall { spec }.abi_encode();
    let amount = U256::from(a.reward) * U256::from(10u64).pow(U256::from(18u64));
    s.say("depositing the reward with the competition's spec");
    let index = if a.ether {
        s.deposit_ether(amount, exec).await?
    } else {
        s.deposit_erc20(token, amount, exec).await?
    };
    let p = s.node.expect_accepted(index).await?;
    let (id, baseline_ppm) = created(&p).with_context(|| {
        format!(
            "input {index} was accepted without a CompetitionCreated notice: {}",
            p.reason()
        )
    })?;
    Ok(Created {
        competition_id: id,
        input_index: index,
        reward: amount,
        token,
        validation_cid: val_cid,
        baseline_cid,
        baseline_score_ppm: baseline_cid.map(|_| baseline_ppm),
        test_commitment: commitment,
        submission_deadline,
        reveal_deadline: submission_deadline + a.reveal_period,
    })
}

impl CompetitionCommand {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        match self {
            Self::Create(args) => args.run(global).await,
            Self::Reveal { id, test } => {
                let s = global.session(true).await?;
                let out = reveal(&s, id, test).await?;
                print(&s, &out, || {
                    println!("competition {id}: test set {} revealed", out.test_cid);
                });
                Ok(())
            }
            Self::Finalize { id } => {
                let s = global.session(true).await?;
                let out = finalize(&s, id).await?;
                print(&s, &out, || {
                    println!(
                        "competition {id} finalized: {} payout voucher(s); `crucible vouchers` lists them",
                        out.vouchers
                    );
                });
                Ok(())
            }
            Self::Show { id } => {
                let s = global.session(false).await?;
                let c: CompetitionAnswer = s.node.inspect(&format!("competition/{id}")).await?;
                print(&s, &c, || {
                    println!("{}", serde_json::to_string_pretty(&c).unwrap_or_default());
                });
                Ok(())
            }
        }
    }
}

/// Prints `value` with `--json`, else runs `human`.
pub(crate) fn print(s: &Session, value: &impl Serialize, human: impl FnOnce()) {
    if s.json {
        match serde_json::to_string(value) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("crucible: cannot write the JSON document: {e}"),
        }
    } else {
        human();
    }
}

/// Uploads and reveals competition `id`'s test set.
pub(crate) async fn reveal(
    s: &Session,
    id: u64,
    test: Option<PathBuf>,
) -> anyhow::Result<Revealed> {
    let c: CompetitionAnswer = s.node.inspect(&format!("competition/{id}")).await?;
    let commitment = c.test_commitment;
    let secret = Secrets::load(&s.home)?
        .test_sets
        .into_iter()
        .find(|t| t.app == s.app && t.commitment == commitment)
        .ok_or_else(|| {
            invalid(format!(
                "no salt for competition {id}'s test commitment {commitment} in {}: reveal from the machine (and --home) that created it",
                s.home.join("secrets.json").display()
            ))
        })?;
    let test = read(test.as_ref().unwrap_or(&secret.file))?;
    let cid = Cid::of(&test);
    if cid.to_string() != secret.cid {
        return Err(invalid(format!(
            "the test set file has CID {cid}, the competition committed to {}",
            secret.cid
        ))
        .into());
    }
    s.upload(&test, "test set").await?;
    let index = s
        .add_input(
            ICrucible::revealTestSetCall {
                competitionId: id,
                testCid: cid.to_bytes().into(),
                salt: secret.salt,
            }
            .abi_encode(),
        )
        .await?;
    s.node.expect_accepted(index).await?;
    Ok(Revealed {
        competition_id: id,
        test_cid: cid,
        input_index: index,
    })
}

/// Finalizes competition `id`: sends `finalize` until the DApp emits `CompetitionFinalized`
/// (a test set too large to score within one input's work budget takes several steps).
pub(crate) async fn finalize(s: &Session, id: u64) -> anyhow::Result<Finalized> {
    let mut steps = Vec::new();
    loop {
        let index = s
            .add_input(ICrucible::finalizeCall { competitionId: id }.abi_encode())
            .await?;
        let p = s.node.expect_accepted(index).await?;
        steps.push(index);
        let done = crate::chain::notices(&p)
            .iter()
            .any(|n| matches!(n, ICrucibleOutputsCalls::CompetitionFinalized(_)));
        if done {
            let vouchers = p.outputs.iter().filter(|o| o.voucher().is_some()).count();
            return Ok(Finalized {
                competition_id: id,
                input_index: index,
                steps,
                vouchers: vouchers as u64,
            });
        }
        s.say(format!(
            "finalize step {} (input {index}): {}",
            steps.len(),
            p.reason()
        ));
    }
}

/// List competitions.
pub(crate) async fn list(global: &Global) -> anyhow::Result<()> {
    let s = global.session(false).await?;
    let all: Vec<CompetitionSummary> = s.node.inspect("competitions").await?;
    print(&s, &all, || {
        println!(
            "{:>4}  {:<10}  {:>26}  {:>11}  {:>10}  state",
            "id", "metric", "reward", "submissions", "deadline"
        );
        for c in &all {
            let state = if c.finalized {
                "finalized"
            } else if c.test_set_revealed {
                "test set revealed"
            } else {
                "open"
            };
            println!(
                "{:>4}  {:<10}  {:>26}  {:>11}  {:>10}  {state}",
                c.id, c.metric, c.reward, c.submissions, c.submission_deadline
            );
        }
    });
    Ok(())
}

/// Print a competition's leaderboard.
pub(crate) async fn leaderboard(global: &Global, id: u64) -> anyhow::Result<()> {
    let s = global.session(false).await?;
    let board: Vec<LeaderboardEntry> = s.node.inspect(&format!("leaderboard/{id}")).await?;
    print(&s, &board, || {
        println!(
            "{:>4}  {:>8}  {:<42}  {:>10}  model",
            "rank", "priority", "submitter", "score_ppm"
        );
        for e in &board {
            println!(
                "{:>4}  {:>8}  {:<42}  {:>10}  {}",
                e.rank,
                e.priority,
                e.submitter.to_string(),
                e.score_ppm,
                e.model_cid
            );
        }
    });
    Ok(())
}

/// Download blobs from the node, checked against their CIDs.
///
/// Examples:
///   crucible fetch bafkrei… --out model.onnx
///   crucible fetch --competition 1 --dir work/   (validation set and baseline)
#[derive(Debug, clap::Args)]
pub(crate) struct FetchArgs {
    /// A blob's CID.
    #[arg(
        required_unless_present = "competition",
        conflicts_with = "competition"
    )]
    cid: Option<String>,
    /// Where to write the blob.
    #[arg(long, requires = "cid")]
    out: Option<PathBuf>,
    /// Fetch a competition's validation set and baseline model.
    #[arg(long)]
    competition: Option<u64>,
    /// Directory for --competition's files.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
}

impl FetchArgs {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let s = global.session(false).await?;
        let mut wanted: Vec<(String, PathBuf)> = Vec::new();
        if let Some(cid) = &self.cid {
            let out = self.out.clone().unwrap_or_else(|| PathBuf::from(cid));
            wanted.push((cid.clone(), out));
        }
        if let Some(id) = self.competition {
            let c: CompetitionAnswer = s.node.inspect(&format!("competition/{id}")).await?;
            std::fs::create_dir_all(&self.dir)?;
            wanted.push((
                c.validation_cid.to_string(),
                self.dir
                    .join(format!("competition-{id}-validation.safetensors")),
            ));
            if let Some((b, _)) = &c.baseline {
                wanted.push((
                    b.to_string(),
                    self.dir.join(format!("competition-{id}-baseline.onnx")),
                ));
            }
        }
        let mut done = Vec::new();
        for (cid, out) in wanted {
            let parsed: Cid = cid
                .parse()
                .map_err(|e| invalid(format!("bad CID {cid}: {e}")))?;
            let bytes = s
                .node
                .blob(&parsed)
                .await?
                .ok_or_else(|| invalid(format!("the node has no complete upload of {cid}")))?;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            s.say(format!(
                "{cid} → {} ({} bytes, CID checked)",
                out.display(),
                bytes.len()
            ));
            done.push(Stored {
                bytes: bytes.len() as u64,
                cid: parsed,
                file: Some(out),
            });
        }
        if s.json {
            println!("{}", serde_json::to_string(&done)?);
        }
        Ok(())
    }
}
