//! The attack suite of crucible-core (`builder::hostile`) through the node's rollup API and
//! the real DApp process: every attack is refused with its reason, within a bounded time,
//! and the DApp then serves an honest evaluation; its peak memory stays bounded. With
//! `CRUCIBLE_RISCV_DAPP` set (by `cargo xtask test`), the riscv64 build under qemu answers
//! the same stream byte for byte.

use crate::devnet_support::{dapp, patient, peak_rss_kib, repo, riscv_dapp};
use alloy_primitives::{Address, B256, address};
use alloy_sol_types::{SolCall, SolInterface};
use crucible_core::builder::hostile;
use crucible_node::{
    machine::HostMachine,
    rollup_api::{RequestResult, RollupRequest, Status},
};
use crucible_types::{
    AdvanceMeta, Cid,
    abi::{self, ICrucible, ICrucibleOutputsCalls, Outputs},
};
use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

const APP: Address = address!("0xab7528bb862fb57e8a2bcd567a2e929a0be56a5e");
const ALICE: Address = address!("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc");

/// What refusing one attack may take, natively; under qemu ten times as much.
const NATIVE_BOUND: Duration = Duration::from_secs(20);
/// The native DApp's peak resident memory over the whole stream.
const PEAK_RSS_BOUND_KIB: u64 = 512 << 10;

enum Step {
    /// An upload chunk or another input whose acceptance is not the point.
    Setup(Vec<u8>),
    /// An evaluation that must be refused with this reason.
    Refuse(&'static str, &'static str, Vec<u8>),
    /// The honest evaluation that must score 864,000 ppm.
    Honest(Vec<u8>),
}

fn evaluate(model: Cid, data: Cid) -> Vec<u8> {
    ICrucible::evaluateCall {
        modelCid: model.to_bytes().into(),
        dataCid: data.to_bytes().into(),
        metric: abi::Metric::Accuracy,
    }
    .abi_encode()
}

fn script() -> Vec<Step> {
    let mut steps = Vec::new();
    let mut stored = BTreeSet::new();
    let mut upload = |steps: &mut Vec<Step>, bytes: &[u8]| {
        let cid = Cid::of(bytes);
        if stored.insert(cid) {
            steps.extend(
                abi::put_chunk_calls(bytes)
                    .into_iter()
                    .map(|c| Step::Setup(c.abi_encode())),
            );
        }
        cid
    };
    let val = upload(
        &mut steps,
        &std::fs::read(repo().join("data/fashion-mnist/val-1k.safetensors")).unwrap(),
    );
    let mlp = upload(
        &mut steps,
        &std::fs::read(repo().join("models/mlp/model.onnx")).unwrap(),
    );
    for attack in hostile::attacks() {
        let m = upload(&mut steps, &attack.model);
        let d = upload(&mut steps, &attack.data);
        steps.push(Step::Refuse(attack.name, attack.reason, evaluate(m, d)));
        steps.push(Step::Honest(evaluate(mlp, val)));
    }
    steps
}

fn evaluated_ppm(result: &RequestResult) -> Option<u64> {
    result.outputs.iter().find_map(|o| {
        let n = Outputs::NoticeCall::abi_decode(o).ok()?;
        match ICrucibleOutputsCalls::abi_decode(&n.payload).ok()? {
            ICrucibleOutputsCalls::Evaluated(e) => Some(e.valuePpm),
            _ => None,
        }
    })
}

/// Feeds the script to `machine` and checks every refusal; returns every result.
async fn play(machine: &HostMachine, bound: Duration) -> Vec<RequestResult> {
    let mut results = Vec::new();
    for (i, step) in script().into_iter().enumerate() {
        let payload = match &step {
            Step::Setup(p) | Step::Refuse(_, _, p) | Step::Honest(p) => p.clone(),
        };
        let meta = AdvanceMeta {
            chain_id: 31337,
            app_contract: APP,
            msg_sender: ALICE,
            block_number: 10 + i as u64,
            block_timestamp: 1_800_000_000 + 12 * i as u64,
            prev_randao: B256::with_last_byte(i as u8),
            input_index: i as u64,
        };
        let started = Instant::now();
        let r = machine
            .process(RollupRequest::Advance { meta, payload })
            .await
            .unwrap();
        let took = started.elapsed();
        match step {
            Step::Setup(_) => assert_eq!(r.status, Status::Accepted, "input {i}"),
            Step::Refuse(name, reason, _) => {
                assert_eq!(r.status, Status::Rejected, "{name}");
                let report = String::from_utf8_lossy(&r.reports[0]);
                assert!(report.contains(reason), "{name}: {report}");
                assert!(took < bound, "{name}: refused in {took:?}");
                println!("{name}: refused in {took:?}");
            }
            Step::Honest(_) => {
                assert_eq!(r.status, Status::Accepted, "input {i}");
                assert_eq!(evaluated_ppm(&r), Some(864_000), "input {i}");
            }
        }
        results.push(r);
    }
    results
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dapp_refuses_every_attack_and_serves_the_next_input() {
    let native = HostMachine::start(&dapp(), patient()).await.unwrap();
    let results = play(&native, NATIVE_BOUND).await;
    let pid = native.dapp_pid().expect("the DApp runs");
    let peak = peak_rss_kib(pid).expect("/proc reports the DApp's peak memory");
    println!(
        "native DApp: {} inputs, peak resident memory {} MiB",
        results.len(),
        peak >> 10
    );
    assert!(peak < PEAK_RSS_BOUND_KIB, "peak RSS {peak} KiB");

    let Some(rv) = riscv_dapp("the attack suite through the riscv64 DApp") else {
        return;
    };
    let riscv = HostMachine::start(&rv, patient()).await.unwrap();
    let rv_results = play(&riscv, NATIVE_BOUND * 10).await;
    assert_eq!(
        rv_results, results,
        "the riscv64 DApp answers the attack stream differently"
    );
}
