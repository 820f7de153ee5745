use alloy_primitives::{Address, B256, Bytes, U256, address};
use alloy_sol_types::{SolCall, SolInterface};
use anyhow::{Context, bail};
use crucible_core::{AdvanceMeta, Cid, Limits, Outcome, Output, State, abi};
use crucible_types::{
    Deposit,
    abi::{ICrucible, ICrucibleOutputs::ICrucibleOutputsCalls, IERC20},
    rollup::ERC20_PORTAL,
};
use std::path::PathBuf;

/// Run a whole competition through the DApp's state machine, in process, with the
/// repository's real models and Fashion-MNIST slices: deposit and create, commit, upload,
/// reveal and score, a copy that loses, the hidden test set, finalize and payout vouchers.
///
/// Every step is a real rollup input (ABI-encoded, with portal payloads and metadata as
/// the node would send them); only the chain is simulated.
///
/// Examples:
///   crucible demo
///   crucible demo --repo /path/to/crucible
#[derive(Debug, clap::Args)]
pub(crate) struct DemoArgs {
    /// Repository root holding models/ and data/.
    #[arg(long, default_value = ".")]
    repo: PathBuf,
}

const APP: Address = address!("0xab7528bb862fb57e8a2bcd567a2e929a0be56a5e");
const TOKEN: Address = address!("0x5fbdb2315678afecb367f032d93f642f64180aa3");
const SPONSOR: Address = address!("0x70997970c51812dc3a010c7d01b50e0d17dc79c8");
const ALICE: Address = address!("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc");
const BOB: Address = address!("0x90f79bf6eb2c4f870365e785982e1f101e93b906");
const CAROL: Address = address!("0x15d34aaf54267db7d7c367839aaf71a00a2c6a65");

struct Chain {
    state: State,
    index: u64,
    now: u64,
}

fn who(a: Address) -> &'static str {
    match a {
        SPONSOR => "sponsor",
        ALICE => "alice",
        BOB => "bob",
        CAROL => "carol",
        ERC20_PORTAL => "ERC20Portal",
        _ => "someone",
    }
}

impl Chain {
    fn send(
        &mut self,
        sender: Address,
        payload: &[u8],
        quiet: bool,
    ) -> anyhow::Result<Vec<Output>> {
        let meta = AdvanceMeta {
            chain_id: 31337,
            app_contract: APP,
            msg_sender: sender,
            block_number: self.index + 1,
            block_timestamp: self.now,
            prev_randao: B256::ZERO,
            input_index: self.index,
        };
        self.index += 1;
        self.now += 12;
        match self.state.advance(&meta, payload)? {
            Outcome::Accepted { outputs } => {
                if !quiet {
                    show(&outputs);
                }
                Ok(outputs)
            }
            Outcome::Rejected { reason } => {
                println!(
                    "    input {} from {} REJECTED: {reason}",
                    meta.input_index,
                    who(sender)
                );
                Ok(Vec::new())
            }
        }
    }

    fn upload(&mut self, sender: Address, bytes: &[u8], what: &str) -> anyhow::Result<Cid> {
        let cid = Cid::of(bytes);
        let chunks: Vec<&[u8]> = bytes.chunks(60_000).collect();
        println!(
            "  {} uploads {what} ({} bytes) in {} putChunk inputs",
            who(sender),
            bytes.len(),
            chunks.len()
        );
        for (i, c) in chunks.iter().enumerate() {
            let call = ICrucible::putChunkCall {
                sha256Digest: B256::from(*cid.digest()),
                index: i as u32,
                count: chunks.len() as u32,
                data: Bytes::copy_from_slice(c),
            };
            self.send(sender, &call.abi_encode(), i + 1 < chunks.len())?;
        }
        Ok(cid)
    }
}

fn show(outputs: &[Output]) {
    for o in outputs {
        match o {
            Output::Notice(n) => match ICrucibleOutputsCalls::abi_decode(n) {
                Ok(ICrucibleOutputsCalls::BlobStored(b)) => println!(
                    "    notice BlobStored {} ({} bytes)",
                    cid_text(&b.cid),
                    b.size
                ),
                Ok(ICrucibleOutputsCalls::CompetitionCreated(c)) => println!(
                    "    notice CompetitionCreated #{} reward {} escrowed, baseline scores {} ppm",
                    c.competitionId, c.reward, c.baselineScorePpm
                ),
                Ok(ICrucibleOutputsCalls::SubmissionCommitted(c)) => {
                    println!(
                        "    notice SubmissionCommitted by {} with priority {}",
                        who(c.submitter),
                        c.priority
                    )
                }
                Ok(ICrucibleOutputsCalls::SubmissionScored(s)) => println!(
                    "    notice SubmissionScored {} (priority {}): accuracy {} ppm, {}/{} correct",
                    who(s.submitter),
                    s.priority,
                    s.valuePpm,
                    s.correct,
                    s.samples
                ),
                Ok(ICrucibleOutputsCalls::SubmissionSuperseded(s)) => println!(
                    "    notice SubmissionSuperseded: priority {} copied the model of priority {} and no longer counts",
                    s.loserPriority, s.winnerPriority
                ),
                Ok(ICrucibleOutputsCalls::TestSetRevealed(t)) => {
                    println!("    notice TestSetRevealed ({} samples)", t.samples)
                }
                Ok(ICrucibleOutputsCalls::CompetitionFinalized(f)) => {
                    println!(
                        "    notice CompetitionFinalized (test set used: {})",
                        f.testSetUsed
                    );
                    for (i, w) in f.winners.iter().enumerate() {
                        println!(
                            "      rank {}: {} scored {} ppm on the test set, paid {}",
                            i + 1,
                            who(*w),
                            f.scoresPpm[i],
                            f.amounts[i]
                        );
                    }
                }
                Ok(other) => println!("    notice {other:?}"),
                Err(e) => println!("    notice (undecodable: {e})"),
            },
            Output::Voucher {
                destination,
                value,
                payload,
            } => match IERC20::transferCall::abi_decode(payload) {
                Ok(t) => println!(
                    "    voucher {destination}.transfer({}, {}) — executable on L1 once the epoch is claimed",
                    who(t.to),
                    t.amount
                ),
                Err(_) => println!("    voucher to {destination} with {value} wei"),
            },
            Output::Report(r) => println!("    report: {}", String::from_utf8_lossy(r)),
        }
    }
}

fn cid_text(bytes: &[u8]) -> String {
    Cid::from_bytes(bytes).map_or_else(|e| e.to_string(), |c| c.to_string())
}

fn read(repo: &std::path::Path, rel: &str) -> anyhow::Result<Vec<u8>> {
    let p = repo.join(rel);
    std::fs::read(&p).with_context(|| {
        format!(
            "reading {} (run from the repository root or pass --repo)",
            p.display()
        )
    })
}

impl DemoArgs {
    pub(crate) fn run(self) -> anyhow::Result<()> {
        let r = &self.repo;
        let (val, test) = (
            read(r, "data/fashion-mnist/val-1k.safetensors")?,
            read(r, "data/fashion-mnist/test-1k.safetensors")?,
        );
        let (baseline, mlp, cnn) = (
            read(r, "models/mlp-baseline/model.onnx")?,
            read(r, "models/mlp/model.onnx")?,
            read(r, "models/cnn/model.onnx")?,
        );
        let mut chain = Chain {
            state: State::default(),
            index: 0,
            now: 1_800_000_000,
        };

        println!(
            "1. The sponsor publishes the validation set and a baseline, and commits to a hidden test set"
        );
        let val_cid = chain.upload(
            SPONSOR,
            &val,
            "the validation set (Fashion-MNIST, 1,000 images)",
        )?;
        let baseline_cid = chain.upload(SPONSOR, &baseline, "the baseline MLP")?;
        let test_salt = B256::repeat_byte(0x5a);
        let test_cid = Cid::of(&test);
        let test_commitment = abi::test_set_commitment(&test_cid.to_bytes(), test_salt);

        println!(
            "2. The sponsor escrows 1000 tokens through the ERC20Portal with createCompetition as exec-layer data"
        );
        let spec = abi::CompetitionSpec {
            validationCid: val_cid.to_bytes().into(),
            baselineCid: baseline_cid.to_bytes().into(),
            testCommitment: test_commitment,
            metric: abi::Metric::Accuracy,
            submissionDeadline: chain.now + 3_600,
            revealDeadline: chain.now + 7_200,
            epsilonPpm: 2_000,
            finalists: 3,
            payoutBps: vec![7_000, 3_000],
            limits: Limits::default().to_abi(),
        };
        let reward = U256::from(1_000u64) * U256::from(10u64).pow(U256::from(18u64));
        let exec = ICrucible::createCompetitionCall { spec: spec.clone() }.abi_encode();
        let deposit = Deposit {
            token: TOKEN,
            sender: SPONSOR,
            amount: reward,
            exec_layer_data: exec,
        };
        chain.send(ERC20_PORTAL, &deposit.encode(), false)?;

        println!("3. Trainers commit, then upload their models, then reveal");
        let commit = |model: Cid, sender: Address, salt: B256| ICrucible::commitSubmissionCall {
            competitionId: 1,
            commitment: abi::submission_commitment(&model.to_bytes(), sender, salt),
        };
        let submit = |model: Cid, salt: B256| ICrucible::submitCall {
            competitionId: 1,
            modelCid: model.to_bytes().into(),
            dataCid: val_cid.to_bytes().into(),
            salt,
        };
        let (mlp_cid, cnn_cid) = (Cid::of(&mlp), Cid::of(&cnn));
        let (sa, sb, sc) = (
            B256::repeat_byte(1),
            B256::repeat_byte(2),
            B256::repeat_byte(3),
        );
        chain.send(ALICE, &commit(mlp_cid, ALICE, sa).abi_encode(), false)?;
        chain.upload(ALICE, &mlp, "her MLP")?;
        println!("  carol saw alice's upload and commits the same model");
        chain.send(CAROL, &commit(mlp_cid, CAROL, sc).abi_encode(), false)?;
        chain.send(BOB, &commit(cnn_cid, BOB, sb).abi_encode(), false)?;
        chain.upload(BOB, &cnn, "his CNN")?;
        println!("  carol reveals first, alice second, then bob");
        chain.send(CAROL, &submit(mlp_cid, sc).abi_encode(), false)?;
        chain.send(ALICE, &submit(mlp_cid, sa).abi_encode(), false)?;
        chain.send(BOB, &submit(cnn_cid, sb).abi_encode(), false)?;

        println!("4. Leaderboard (inspect leaderboard/1)");
        let Some(Output::Report(board)) = chain.state.inspect(b"leaderboard/1")?.into_iter().next()
        else {
            bail!("inspect gave no report");
        };
        let board: serde_json::Value = serde_json::from_slice(&board)?;
        for e in board.as_array().into_iter().flatten() {
            println!(
                "    #{} priority {} {}: {} ppm",
                e["rank"], e["priority"], e["submitter"], e["score_ppm"]
            );
        }

        println!(
            "5. After the submission deadline the sponsor uploads and reveals the hidden test set"
        );
        chain.now = spec.submissionDeadline;
        chain.upload(SPONSOR, &test, "the test set (1,000 other images)")?;
        let reveal = ICrucible::revealTestSetCall {
            competitionId: 1,
            testCid: test_cid.to_bytes().into(),
            salt: test_salt,
        };
        chain.send(SPONSOR, &reveal.abi_encode(), false)?;

        println!("6. Anyone finalizes: the finalists are scored on the test set and paid by rank");
        chain.send(
            BOB,
            &ICrucible::finalizeCall { competitionId: 1 }.abi_encode(),
            false,
        )?;
        println!(
            "state hash after {} inputs: {}",
            chain.index,
            chain.state.state_hash()?
        );
        Ok(())
    }
}
