//! The committed models and datasets are what their manifests say, and the scorer agrees
//! with onnxruntime's correct-counts recorded when they were generated.

use crate::common::*;
use crucible_core::{Cid, Limits, abi, dataset::Dataset, eval, model::Model};

#[test]
fn manifests_match_the_files_and_the_scorer() {
    for name in ["mlp-baseline", "mlp", "cnn"] {
        let m = manifest(name);
        let bytes = model(name);
        assert_eq!(bytes.len() as u64, m["bytes"].as_u64().unwrap(), "{name}");
        assert_eq!(
            Cid::of(&bytes).to_string(),
            m["cid"].as_str().unwrap(),
            "{name}"
        );
        let sha: String = Cid::of(&bytes)
            .digest()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sha, m["sha256"].as_str().unwrap(), "{name}");

        let model = Model::load(&bytes, &Limits::default()).unwrap();
        let info = &model.info;
        assert_eq!(u64::from(info.opset), m["opset"].as_u64().unwrap());
        assert_eq!(info.params, m["params"].as_u64().unwrap(), "{name}: params");
        assert_eq!(
            u64::from(info.nodes),
            m["nodes"].as_u64().unwrap(),
            "{name}: nodes"
        );
        assert_eq!(
            (
                info.fixed_batch,
                info.sample_shape.as_slice(),
                info.output_shape.as_slice()
            ),
            (None, &[1, 28, 28][..], &[10][..])
        );
        // tract's cost model counts the bias of a Gemm that follows a non-constant input as
        // one extra multiply-accumulate per output; PyTorch's count has none. Within 0.2 %.
        let torch = m["macs_per_sample"].as_u64().unwrap();
        assert!(
            info.macs_per_sample.abs_diff(torch) * 500 <= torch,
            "{name}: tract {} vs torch {torch}",
            info.macs_per_sample
        );

        for (file, key) in [
            ("val-1k", "correct_first_1000"),
            ("test-1k", "correct_1000_to_2000"),
        ] {
            let data_bytes = read(&format!("data/fashion-mnist/{file}.safetensors"));
            let data = Dataset::parse(&data_bytes, 100_000).unwrap();
            let score = eval::score(&model, &data, abi::Metric::Accuracy).unwrap();
            assert_eq!(
                score.correct,
                m["onnxruntime"][key].as_u64().unwrap(),
                "{name} on {file}: onnxruntime's exact count"
            );
        }
    }
}

#[test]
fn datasets_are_the_documented_fashion_mnist_slices() {
    let provenance: serde_json::Value =
        serde_json::from_slice(&read("data/fashion-mnist/PROVENANCE.json")).unwrap();
    for file in ["val-1k", "test-1k"] {
        let bytes = read(&format!("data/fashion-mnist/{file}.safetensors"));
        let entry = &provenance["files"][format!("{file}.safetensors")];
        assert_eq!(Cid::of(&bytes).to_string(), entry["cid"].as_str().unwrap());
        let d = Dataset::parse(&bytes, 100_000).unwrap();
        assert_eq!(
            (d.rows, d.sample_shape.as_slice()),
            (1000, &[1, 28, 28][..])
        );
        let mut counts = [0u32; 10];
        (0..d.rows).for_each(|r| counts[d.label(r) as usize] += 1);
        assert!(
            counts.iter().all(|&c| c > 60),
            "all ten classes present: {counts:?}"
        );
    }
}
