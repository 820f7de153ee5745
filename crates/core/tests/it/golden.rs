//! Golden output bits. The raw f32 outputs of every baseline model on the validation set,
//! in the protocol's batches, hash to the value recorded in `models/<name>/expected.json`.
//! The matrix products are `crucible_core::gemm`'s (one fused multiply-add chain per
//! output, whichever kernel), and the CPU-ISA knob pins tract's remaining kernels, so this
//! holds on any x86_64 machine with every kernel it has (checked here) and is the value the
//! riscv64 build must reproduce.
//!
//! The same holds for the operator zoo (`builder::operator_zoo`): one small model per
//! operator that `crucible_core::ops` computes itself, recorded in
//! `crates/core/tests/golden-ops.json`.
//!
//! `CRUCIBLE_UPDATE_FIXTURES=1` rewrites the files.

use crate::common::*;
use crucible_core::{Limits, dataset::Dataset, eval::EVAL_BATCH, gemm::Kernel, model::Model};
use sha2::{Digest, Sha256};

/// The raw outputs of a model on every row of `data`, in the protocol's batches.
struct Outputs {
    /// sha256 of the f32 outputs, little-endian, in row order.
    sha256: String,
    /// How many.
    floats: usize,
    /// Whether every one is finite.
    finite: bool,
}

fn outputs(name: &str, model_bytes: &[u8], data: &Dataset<'_>) -> Outputs {
    let model = Model::load_for(model_bytes, &Limits::default(), Some(&data.sample_shape))
        .unwrap_or_else(|e| panic!("{name} is refused: {e}"));
    let mut h = Sha256::new();
    let (mut floats, mut finite) = (0, true);
    for start in (0..data.rows).step_by(EVAL_BATCH) {
        let end = (start + EVAL_BATCH).min(data.rows);
        let mut x = Vec::new();
        data.extend_features(start, end, &mut x);
        let out = model.run(x, end - start).unwrap();
        floats += out.len();
        finite &= out.iter().all(|f| f.is_finite());
        out.iter().for_each(|f| h.update(f.to_bits().to_le_bytes()));
    }
    Outputs {
        sha256: h.finalize().iter().map(|b| format!("{b:02x}")).collect(),
        floats,
        finite,
    }
}

/// The fixture at `path`, written from `expected` first when `CRUCIBLE_UPDATE_FIXTURES` is set.
fn recorded(path: &std::path::Path, expected: &serde_json::Value) -> serde_json::Value {
    if std::env::var_os("CRUCIBLE_UPDATE_FIXTURES").is_some() {
        std::fs::write(path, serde_json::to_string_pretty(expected).unwrap() + "\n").unwrap();
    }
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn model_outputs_are_bit_identical_to_the_recorded_ones() {
    let val = val_set();
    let data = Dataset::parse(&val, 100_000).unwrap();
    for name in MODELS {
        let out = outputs(name, &model(name), &data);
        // Every matrix-product kernel of this CPU gives the same bits.
        for kernel in Kernel::available() {
            let other = kernel.run(|| outputs(name, &model(name), &data));
            assert_eq!(other.sha256, out.sha256, "{name}: {kernel:?}");
        }
        let expected = serde_json::json!({
            "dataset": "data/fashion-mnist/val-1k.safetensors",
            "batch": EVAL_BATCH,
            "outputs": out.floats,
            "outputs_f32_le_sha256": out.sha256,
            "cpu_isa": crucible_core::determinism::CPU_ISA,
        });
        let recorded = recorded(
            &repo().join(format!("models/{name}/expected.json")),
            &expected,
        );
        assert_eq!(recorded["outputs"], out.floats);
        assert_eq!(
            recorded["outputs_f32_le_sha256"], expected["outputs_f32_le_sha256"],
            "{name}: output bits changed"
        );
    }
}

#[test]
fn operator_zoo_outputs_are_bit_identical_to_the_recorded_ones() {
    let val = val_set();
    let data = Dataset::parse(&val, 100_000).unwrap();
    let mut digests = serde_json::Map::new();
    for (name, bytes) in crucible_core::builder::operator_zoo() {
        let out = outputs(name, &bytes, &data);
        // Every output is finite: the zoo exercises the operators, not their overflow.
        assert!(out.finite, "{name}");
        digests.insert(
            name.to_string(),
            serde_json::json!({ "outputs": out.floats, "outputs_f32_le_sha256": out.sha256 }),
        );
    }
    let expected = serde_json::json!({
        "dataset": "data/fashion-mnist/val-1k.safetensors",
        "batch": EVAL_BATCH,
        "models": digests,
    });
    assert_eq!(
        recorded(&repo().join("crates/core/tests/golden-ops.json"), &expected),
        expected,
        "operator zoo output bits changed (CRUCIBLE_UPDATE_FIXTURES=1 records them)"
    );
}

/// The protocol's batch (`EVAL_BATCH`) decides the speed, not the bits: every committed
/// model and every zoo model gives each row the same output bits whether it runs alone, in
/// odd-sized batches or in batches larger than the protocol's.
#[test]
fn output_bits_do_not_depend_on_the_batch_size() {
    let val = val_set();
    let data = Dataset::parse(&val, 100_000).unwrap();
    let rows = 96;
    let mut models: Vec<(String, Vec<u8>)> = MODELS
        .iter()
        .map(|name| (name.to_string(), model(name)))
        .collect();
    models.extend(
        crucible_core::builder::operator_zoo()
            .into_iter()
            .map(|(name, bytes)| (name.to_string(), bytes)),
    );
    for (name, bytes) in models {
        let model = Model::load(&bytes, &Limits::default()).unwrap();
        let outputs = |batch: usize| -> Vec<u32> {
            let mut bits = Vec::new();
            for start in (0..rows).step_by(batch) {
                let end = (start + batch).min(rows);
                let mut x = Vec::new();
                data.extend_features(start, end, &mut x);
                let out = model.run(x, end - start).unwrap();
                bits.extend(out.iter().map(|f| f.to_bits()));
            }
            bits
        };
        let protocol = outputs(EVAL_BATCH);
        for batch in [1, 5, 7, 64, 96] {
            assert!(
                outputs(batch) == protocol,
                "{name}: batches of {batch} give other bits than batches of {EVAL_BATCH}"
            );
        }
    }
}
