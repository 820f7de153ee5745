//! Soak: 10,000 mixed inputs — upload chunks from many senders (most never completed),
//! deposits, withdrawals, commitments, submissions and inspects — through the node's
//! machine (its rollup HTTP API) and the real DApp process. Every input gets a result
//! (accepted or rejected, never an exception); inputs per second and the peak resident
//! memory of the node process and of the DApp are printed.

use crate::devnet_support::{dapp, patient, peak_rss_kib};
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::SolCall;
use crucible_core::{
    Cid, Limits,
    builder::{GraphBuilder, int},
    dataset::{self, DatasetFeatures, DatasetTargets},
};
use crucible_node::{
    machine::HostMachine,
    rollup_api::{RollupRequest, Status},
};
use crucible_types::{
    AdvanceMeta, Deposit,
    abi::{self, ICrucible},
    rollup::ERC20_PORTAL,
};
use std::time::Instant;

const INPUTS: usize = 10_000;
const SENDERS: u64 = 64;
/// The DApp's peak resident memory over the whole soak.
const PEAK_RSS_BOUND_KIB: u64 = 512 << 10;

struct Rng(u64);

impl Rng {
    /// SplitMix64.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn sender(n: u64) -> Address {
    let mut a = [0x5au8; 20];
    a[12..].copy_from_slice(&n.to_be_bytes());
    Address::from(a)
}

fn small_dataset() -> Vec<u8> {
    let x: Vec<u8> = (0..160).map(|i| (i * 37 % 251) as u8).collect();
    let y: Vec<i64> = (0..40).map(|i| i % 3).collect();
    dataset::encode(
        &[40, 4],
        DatasetFeatures::U8(&x),
        &[40],
        DatasetTargets::Labels(&y),
    )
    .expect("encodes")
}

/// `x[4] → Gemm → 3 classes`, weights drawn from `seed`.
fn tiny_model(seed: u64) -> Vec<u8> {
    let mut b = GraphBuilder::new(&[4], None);
    for _ in 0..seed % 997 {
        b.weights(&[1]);
    }
    let w = b.weights(&[3, 4]);
    let bias = b.weights(&[3]);
    let y = b.node("Gemm", &["x", &w, &bias], vec![int("transB", 1)]);
    b.finish(&y)
}

enum Input {
    Advance(Address, Vec<u8>),
    Inspect(&'static str),
}

/// The deterministic mixed stream.
fn stream() -> Vec<Input> {
    let mut rng = Rng(0x50a6);
    let data = small_dataset();
    let data_cid = Cid::of(&data);
    let mut inputs: Vec<Input> = abi::put_chunk_calls(&data)
        .into_iter()
        .map(|c| Input::Advance(sender(0), c.abi_encode()))
        .collect();
    let spec = abi::CompetitionSpec {
        validationCid: data_cid.to_bytes().into(),
        baselineCid: Bytes::new(),
        testCommitment: B256::ZERO,
        metric: abi::Metric::Accuracy,
        submissionDeadline: 1_800_000_000 + 12 * INPUTS as u64 + 3_600,
        revealDeadline: 1_800_000_000 + 12 * INPUTS as u64 + 7_200,
        epsilonPpm: 0,
        testSetBytes: 0,
        payoutBps: vec![6_000, 4_000],
        limits: Limits::default().to_abi(),
    };
    let deposit = |from: Address, amount: u64, exec: Vec<u8>| {
        Deposit {
            token: Address::repeat_byte(0x70),
            sender: from,
            amount: U256::from(amount),
            exec_layer_data: exec,
        }
        .encode()
    };
    inputs.push(Input::Advance(
        ERC20_PORTAL,
        deposit(
            sender(0),
            1_000_000,
            ICrucible::createCompetitionCall { spec }.abi_encode(),
        ),
    ));
    let mut model_seed = 0;
    while inputs.len() < INPUTS {
        let who = sender(rng.below(SENDERS));
        match rng.below(10) {
            0..=3 => {
                // A chunk of a two-chunk blob; about half the blobs are ever completed.
                let blob: Vec<u8> = (0..2_000)
                    .map(|i| (i as u64 ^ rng.below(4)) as u8)
                    .collect();
                let digest = B256::from(*Cid::of(&blob).digest());
                let take = 1 + rng.below(2) as usize;
                inputs.extend(blob.chunks(1_000).take(take).enumerate().map(|(i, data)| {
                    let call = ICrucible::putChunkCall {
                        sha256Digest: digest,
                        index: i as u32,
                        count: 2,
                        data: Bytes::copy_from_slice(data),
                    };
                    Input::Advance(who, call.abi_encode())
                }));
            }
            4 => inputs.push(Input::Advance(
                ERC20_PORTAL,
                deposit(who, 1 + rng.below(1_000), Vec::new()),
            )),
            5 => inputs.push(Input::Advance(
                who,
                ICrucible::withdrawCall {
                    token: Address::repeat_byte(0x70),
                    amount: U256::from(1 + rng.below(500)),
                }
                .abi_encode(),
            )),
            6 => inputs.push(Input::Advance(
                who,
                ICrucible::commitSubmissionCall {
                    competitionId: 1,
                    commitment: B256::from(U256::from(rng.next())),
                }
                .abi_encode(),
            )),
            7 => {
                model_seed += 1;
                let model = tiny_model(model_seed);
                let cid = Cid::of(&model);
                let salt = B256::from(U256::from(model_seed));
                inputs.extend(
                    abi::put_chunk_calls(&model)
                        .into_iter()
                        .map(|c| Input::Advance(who, c.abi_encode())),
                );
                inputs.push(Input::Advance(
                    who,
                    ICrucible::commitSubmissionCall {
                        competitionId: 1,
                        commitment: abi::submission_commitment(&cid.to_bytes(), who, salt),
                    }
                    .abi_encode(),
                ));
                inputs.push(Input::Advance(
                    who,
                    ICrucible::submitCall {
                        competitionId: 1,
                        modelCid: cid.to_bytes().into(),
                        dataCid: data_cid.to_bytes().into(),
                        salt,
                    }
                    .abi_encode(),
                ));
            }
            _ => inputs.push(Input::Inspect(
                ["status", "leaderboard/1", "competition/1"][rng.below(3) as usize],
            )),
        }
    }
    inputs.truncate(INPUTS);
    inputs
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_mixed_inputs_each_get_a_result() {
    let inputs = stream();
    let machine = HostMachine::start(&dapp(), patient()).await.unwrap();
    let (mut accepted, mut rejected, mut inspects, mut index) = (0u64, 0u64, 0u64, 0u64);
    let started = Instant::now();
    for input in inputs {
        match input {
            Input::Advance(who, payload) => {
                let meta = AdvanceMeta {
                    chain_id: 31337,
                    app_contract: Address::repeat_byte(0xab),
                    msg_sender: who,
                    block_number: 10 + index,
                    block_timestamp: 1_800_000_000 + 12 * index,
                    prev_randao: B256::ZERO,
                    input_index: index,
                };
                let r = machine
                    .process(RollupRequest::Advance { meta, payload })
                    .await
                    .unwrap();
                match r.status {
                    Status::Accepted => accepted += 1,
                    Status::Rejected => {
                        assert_eq!(r.reports.len(), 1, "input {index}: a rejection says why");
                        rejected += 1;
                    }
                    Status::Exception(why) => panic!(
                        "input {index} raised an exception: {}",
                        String::from_utf8_lossy(&why)
                    ),
                }
                index += 1;
            }
            Input::Inspect(path) => {
                let r = machine
                    .process(RollupRequest::Inspect {
                        payload: path.as_bytes().to_vec(),
                    })
                    .await
                    .unwrap();
                assert_eq!(r.status, Status::Accepted, "inspect {path}");
                assert_eq!(r.reports.len(), 1, "inspect {path}: one JSON report");
                let v: serde_json::Value = serde_json::from_slice(&r.reports[0]).unwrap();
                assert!(v.get("error").is_none(), "inspect {path}: {v}");
                inspects += 1;
            }
        }
    }
    let took = started.elapsed();
    let dapp_pid = machine.dapp_pid().expect("the DApp runs").to_string();
    let dapp_peak = peak_rss_kib(&dapp_pid).expect("/proc reports the DApp's peak memory");
    let node_peak = peak_rss_kib("self").expect("/proc reports this process's peak memory");
    let total = accepted + rejected + inspects;
    println!(
        "soak: {total} inputs ({accepted} accepted, {rejected} rejected, {inspects} inspects) in {:.1} s = {:.0} inputs/s; peak RSS node (test process) {} MiB, DApp {} MiB",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64(),
        node_peak >> 10,
        dapp_peak >> 10
    );
    assert_eq!(total, INPUTS as u64);
    assert!(accepted > 0 && rejected > 0 && inspects > 0);
    assert!(
        dapp_peak < PEAK_RSS_BOUND_KIB,
        "DApp peak RSS {dapp_peak} KiB"
    );
}
