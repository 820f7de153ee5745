//! Host ↔ riscv64 bit-identity of the whole DApp: the same inputs (uploads, a competition,
//! submissions of every baseline model, standalone evaluations with every classification
//! metric, the test-set reveal and the finalization) go to the native DApp and to the
//! riscv64 build under qemu, and every result (status, outputs, reports) must be equal
//! byte for byte. Scores include log-loss, which depends on every output bit.
//!
//! `CRUCIBLE_RISCV_DAPP` names the riscv64 `crucible-dapp` (built by `cargo xtask riscv`);
//! `CRUCIBLE_QEMU` the emulator (default `qemu-riscv64-static`).

use crate::devnet_support::{dapp, patient, repo, riscv_dapp};
use alloy_primitives::{Address, B256, Bytes, U256, address};
use alloy_sol_types::{SolCall, SolInterface};
use crucible_node::{
    machine::HostMachine,
    rollup_api::{RollupRequest, Status},
};
use crucible_types::{
    AdvanceMeta, Cid, Deposit,
    abi::{self, ICrucible, ICrucibleOutputsCalls, Metric, Outputs},
    rollup::ERC20_PORTAL,
};

const APP: Address = address!("0xab7528bb862fb57e8a2bcd567a2e929a0be56a5e");
const TOKEN: Address = address!("0x5fbdb2315678afecb367f032d93f642f64180aa3");
const SPONSOR: Address = address!("0x70997970c51812dc3a010c7d01b50e0d17dc79c8");
const ALICE: Address = address!("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc");
const START: u64 = 1_800_000_000;

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(repo().join(rel)).unwrap()
}

fn upload(inputs: &mut Vec<(Address, u64, Vec<u8>)>, who: Address, bytes: &[u8]) -> Cid {
    for call in abi::put_chunk_calls(bytes) {
        inputs.push((who, START, call.abi_encode()));
    }
    Cid::of(bytes)
}

/// (sender, block timestamp, payload) of every input.
fn script() -> Vec<(Address, u64, Vec<u8>)> {
    let mut inputs = Vec::new();
    let val = upload(
        &mut inputs,
        SPONSOR,
        &read("data/fashion-mnist/val-1k.safetensors"),
    );
    let test_bytes = read("data/fashion-mnist/test-1k.safetensors");
    let test = Cid::of(&test_bytes);
    let models: Vec<Cid> = ["mlp-baseline", "mlp", "cnn"]
        .iter()
        .map(|m| upload(&mut inputs, ALICE, &read(&format!("models/{m}/model.onnx"))))
        .collect();
    let salt = B256::repeat_byte(3);
    let spec = abi::CompetitionSpec {
        validationCid: val.to_bytes().into(),
        baselineCid: Bytes::new(),
        testCommitment: abi::test_set_commitment(&test.to_bytes(), salt),
        metric: Metric::LogLossLogits,
        submissionDeadline: START + 3_600,
        revealDeadline: START + 7_200,
        epsilonPpm: 0,
        testSetBytes: test_bytes.len() as u64,
        payoutBps: vec![5_000, 3_000, 2_000],
        limits: crucible_core::Limits::default().to_abi(),
    };
    let deposit = Deposit {
        token: TOKEN,
        sender: SPONSOR,
        amount: U256::from(10_000u64),
        exec_layer_data: ICrucible::createCompetitionCall { spec }.abi_encode(),
    };
    inputs.push((ERC20_PORTAL, START, deposit.encode()));
    for (i, m) in models.iter().enumerate() {
        let s = B256::repeat_byte(i as u8 + 10);
        let commitment = abi::submission_commitment(&m.to_bytes(), ALICE, s);
        inputs.push((
            ALICE,
            START,
            ICrucible::commitSubmissionCall {
                competitionId: 1,
                commitment,
            }
            .abi_encode(),
        ));
        inputs.push((
            ALICE,
            START,
            ICrucible::submitCall {
                competitionId: 1,
                modelCid: m.to_bytes().into(),
                dataCid: val.to_bytes().into(),
                salt: s,
            }
            .abi_encode(),
        ));
    }
    for m in &models {
        for metric in [
            Metric::Accuracy,
            Metric::Top5Accuracy,
            Metric::LogLossLogits,
        ] {
            inputs.push((
                ALICE,
                START,
                ICrucible::evaluateCall {
                    modelCid: m.to_bytes().into(),
                    dataCid: val.to_bytes().into(),
                    metric,
                }
                .abi_encode(),
            ));
        }
    }
    // Models that end in what exporters write, through crucible-core's own operators
    // (Softmax, LogSoftmax, GELU's Erf, Sigmoid, Tanh, Clip, AveragePool, ReduceMean).
    for m in ["mlp-gelu-softmax", "mlp-sigmoid-logsoftmax", "cnn-avgpool"] {
        let model = upload(&mut inputs, ALICE, &read(&format!("models/{m}/model.onnx")));
        inputs.push((
            ALICE,
            START,
            ICrucible::evaluateCall {
                modelCid: model.to_bytes().into(),
                dataCid: val.to_bytes().into(),
                metric: Metric::Accuracy,
            }
            .abi_encode(),
        ));
    }
    upload(&mut inputs, SPONSOR, &test_bytes);
    inputs.push((
        SPONSOR,
        START + 3_700,
        ICrucible::revealTestSetCall {
            competitionId: 1,
            testCid: test.to_bytes().into(),
            salt,
        }
        .abi_encode(),
    ));
    inputs.push((
        ALICE,
        START + 3_800,
        ICrucible::finalizeCall { competitionId: 1 }.abi_encode(),
    ));
    inputs
}

#[tokio::test(flavor = "multi_thread")]
async fn the_riscv64_dapp_produces_the_native_dapps_bytes() {
    let Some(rv) = riscv_dapp("host ↔ riscv64 DApp identity") else {
        return;
    };
    let native = HostMachine::start(&dapp(), patient()).await.unwrap();
    let riscv = HostMachine::start(&rv, patient()).await.unwrap();
    let script = script();
    let total = script.len();
    let (mut accepted, mut evaluated, mut vouchers) = (0, 0, 0);
    for (i, (sender, time, payload)) in script.into_iter().enumerate() {
        let meta = AdvanceMeta {
            chain_id: 31337,
            app_contract: APP,
            msg_sender: sender,
            block_number: 10 + i as u64,
            block_timestamp: time,
            prev_randao: B256::with_last_byte(i as u8),
            input_index: i as u64,
        };
        let request = RollupRequest::Advance { meta, payload };
        let a = native.process(request.clone()).await.unwrap();
        let b = riscv.process(request).await.unwrap();
        assert_eq!(
            a, b,
            "input {i}: the riscv64 DApp differs from the native one"
        );
        if a.status == Status::Accepted {
            accepted += 1;
        }
        for o in &a.outputs {
            if let Ok(n) = Outputs::NoticeCall::abi_decode(o) {
                if let Ok(
                    ICrucibleOutputsCalls::Evaluated(_)
                    | ICrucibleOutputsCalls::SubmissionScored(_),
                ) = ICrucibleOutputsCalls::abi_decode(&n.payload)
                {
                    evaluated += 1;
                }
            } else if Outputs::VoucherCall::abi_decode(o).is_ok() {
                vouchers += 1;
            }
        }
    }
    let state = RollupRequest::Inspect {
        payload: b"status".to_vec(),
    };
    let (a, b) = (
        native.process(state.clone()).await.unwrap(),
        riscv.process(state).await.unwrap(),
    );
    assert_eq!(a, b, "the state hashes differ");
    // Every input was accepted: 3 submissions and 12 evaluations scored, 3 finalists paid.
    assert_eq!((accepted, evaluated, vouchers), (total, 15, 3));
}
