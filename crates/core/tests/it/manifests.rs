//! The committed models and datasets are what their manifests say, and the scorer agrees
//! with onnxruntime's correct-counts recorded when they were generated.

use crate::common::*;
use crucible_core::{Cid, Limits, abi, dataset::Dataset, eval, model::Model};

#[test]
fn manifests_match_the_files_and_the_scorer() {
    for name in MODELS {
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
        // The cost model counts multiply-accumulates as PyTorch does (no bias).
        assert_eq!(
            info.macs_per_sample,
            m["macs_per_sample"].as_u64().unwrap(),
            "{name}: MACs"
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

/// The table of the committed models' cost-model figures in docs/DESIGN.md, between the
/// `cost-model-figures` markers, as the cost model computes it now.
fn cost_table() -> String {
    let val = val_set();
    let data = Dataset::parse(&val, 100_000).unwrap();
    let mut rows = vec![
        "| model | MACs/sample | work/run (32 rows) | work/sample | load work | largest tensor | run memory (bytes) | `evaluate` on val-1k |".to_string(),
        "|---|---|---|---|---|---|---|---|".to_string(),
    ];
    for name in BASELINES {
        let m =
            Model::load_for(&model(name), &Limits::default(), Some(&data.sample_shape)).unwrap();
        let i = &m.info;
        rows.push(format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} |",
            i.macs_per_sample,
            i.work_per_run,
            i.work_per_sample,
            i.load_work,
            i.largest_tensor,
            i.batch_bytes,
            m.evaluation_work(data.rows as u64, val.len() as u64)
        ));
    }
    rows.join("\n")
}

#[test]
fn the_cost_model_figures_are_the_documented_ones() {
    let design = String::from_utf8(read("docs/DESIGN.md")).unwrap();
    let start = "<!-- cost-model-figures -->\n";
    let documented = design
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once("<!-- /cost-model-figures -->"))
        .map(|(table, _)| table.trim())
        .expect("docs/DESIGN.md has the cost-model-figures table");
    let now = cost_table();
    assert_eq!(
        documented, now,
        "docs/DESIGN.md states other cost-model figures; the current ones are:\n{now}"
    );
}
