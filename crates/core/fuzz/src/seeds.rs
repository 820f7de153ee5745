//! Writes the seed corpus under `corpus/<target>/`: valid and nearly valid inputs for
//! each target, built with the same code as the tests. Run from this directory:
//! `cargo run --bin seeds`.

use alloy_primitives::{Address, B256, U256};
use alloy_sol_types::SolCall;
use crucible_core::{
    Cid,
    abi::{self, ICrucible},
    builder::{GraphBuilder, int, ints},
    dataset::{self, DatasetFeatures, DatasetTargets},
};
use crucible_core_fuzz::{TEST_SALT, encode_inputs, small_dataset, tiny_model};
use std::path::Path;

/// Inputs as (sender byte, payload).
type Sequence = Vec<(u8, Vec<u8>)>;

fn write(target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let dir = Path::new("corpus").join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), bytes)
}

fn unary(sample: &[usize], f: impl FnOnce(&mut GraphBuilder) -> String) -> Vec<u8> {
    let mut b = GraphBuilder::new(sample, None);
    let y = f(&mut b);
    let z = b.node("Flatten", &[&y], vec![int("axis", 1)]);
    b.finish(&z)
}

fn main() -> std::io::Result<()> {
    // Datasets.
    write("dataset", "small-u8", &small_dataset())?;
    let x: Vec<f32> = (0..24).map(|i| i as f32 / 7.0).collect();
    let y: Vec<f32> = (0..6).map(|i| i as f32).collect();
    let regression = dataset::encode(
        &[3, 8],
        DatasetFeatures::F32(&x),
        &[3, 2],
        DatasetTargets::Values(&y),
    )
    .expect("encodes");
    write("dataset", "regression-f32", &regression)?;

    // Models: one per operator family of the allow-list.
    let models: Vec<(&str, Vec<u8>)> = vec![
        ("gemm", tiny_model(0)),
        (
            "conv-pool",
            unary(&[1, 8, 8], |b| {
                let w = b.weights(&[2, 1, 3, 3]);
                let c = b.node("Conv", &["x", &w], vec![ints("pads", &[1, 1, 1, 1])]);
                let r = b.node("Relu", &[&c], vec![]);
                b.node(
                    "MaxPool",
                    &[&r],
                    vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
                )
            }),
        ),
        (
            "concat-transpose",
            unary(&[2, 3], |b| {
                let c = b.node("Concat", &["x", "x"], vec![int("axis", 1)]);
                b.node("Transpose", &[&c], vec![ints("perm", &[0, 2, 1])])
            }),
        ),
        (
            "reshape-squeeze",
            unary(&[6], |b| {
                let s = b.int64s(&[-1, 1, 6]);
                let r = b.node("Reshape", &["x", &s], vec![]);
                let a = b.int64s(&[1]);
                let q = b.node("Squeeze", &[&r, &a], vec![]);
                b.node("Unsqueeze", &[&q, &a], vec![])
            }),
        ),
        (
            "batchnorm-elementwise",
            unary(&[2, 2, 2], |b| {
                let p: Vec<String> = (0..4).map(|_| b.fill(&[2], 1.0)).collect();
                let n = b.node(
                    "BatchNormalization",
                    &["x", &p[0], &p[1], &p[2], &p[3]],
                    vec![],
                );
                let w = b.weights(&[2, 2]);
                let m = b.node("Max", &[&n, &w], vec![]);
                let d = b.node("Div", &[&m, &p[0]], vec![]);
                b.node("LeakyRelu", &[&d], vec![])
            }),
        ),
        (
            "matmul",
            unary(&[3, 4], |b| {
                let w = b.weights(&[4, 5]);
                let m = b.node("MatMul", &["x", &w], vec![]);
                let s = b.weights(&[5]);
                b.node("Sub", &[&m, &s], vec![])
            }),
        ),
    ];
    for (name, bytes) in &models {
        write("model_eval", name, bytes)?;
    }

    // Input sequences against the prepared state (see the library).
    let entry = Cid::of(&tiny_model(1)).to_bytes();
    let data = Cid::of(&small_dataset()).to_bytes();
    let alice = Address::repeat_byte(0x11);
    let submit = ICrucible::submitCall {
        competitionId: 1,
        modelCid: entry.into(),
        dataCid: data.into(),
        salt: B256::repeat_byte(1),
    }
    .abi_encode();
    let reveal = ICrucible::revealTestSetCall {
        competitionId: 1,
        testCid: data.into(),
        salt: TEST_SALT,
    }
    .abi_encode();
    let finalize = ICrucible::finalizeCall { competitionId: 1 }.abi_encode();
    let evaluate = ICrucible::evaluateCall {
        modelCid: entry.into(),
        dataCid: data.into(),
        metric: abi::Metric::LogLossLogits,
    }
    .abi_encode();
    let commit = ICrucible::commitSubmissionCall {
        competitionId: 1,
        commitment: abi::submission_commitment(&entry, alice, B256::repeat_byte(2)),
    }
    .abi_encode();
    let withdraw = ICrucible::withdrawCall {
        token: Address::ZERO,
        amount: U256::from(1u8),
    }
    .abi_encode();
    let chunk = abi::put_chunk_calls(b"a blob").remove(0).abi_encode();
    // Sender bytes: 0 ERC20Portal, 1 EtherPortal, 2 alice (0x11), 3 the sponsor (0x22).
    let deposit = crucible_types::Deposit {
        token: Address::ZERO,
        sender: alice,
        amount: U256::from(5u8),
        exec_layer_data: Vec::new(),
    }
    .encode();
    let sequences: Vec<(&str, Sequence)> = vec![
        ("submit", vec![(2, submit.clone())]),
        (
            "whole-competition",
            vec![
                (2, submit),
                (3, vec![]),
                (3, reveal.clone()),
                (2, finalize.clone()),
            ],
        ),
        ("reveal-finalize", vec![(3, reveal), (3, finalize)]),
        ("evaluate", vec![(2, evaluate)]),
        ("commit", vec![(2, commit)]),
        ("deposit-withdraw", vec![(1, deposit), (2, withdraw)]),
        ("chunk", vec![(2, chunk)]),
    ];
    for (name, seq) in &sequences {
        write("input_payload", name, &encode_inputs(seq))?;
    }
    let fixtures = Path::new("../../../tests/fixtures/abi");
    for entry in std::fs::read_dir(fixtures)? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        let Ok(bytes) = alloy_primitives::hex::decode(text.trim()) else {
            continue;
        };
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("fixture");
        write(
            "input_payload",
            &format!("fixture-{name}"),
            &encode_inputs(&[(2, bytes)]),
        )?;
    }
    println!("seed corpus written under corpus/");
    Ok(())
}
