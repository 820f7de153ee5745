//! Training on CPU against crucible-core: what the trainer writes is what the DApp scores.

mod common;

use common::{fashion, repo_file};
use crucible_core::{
    Limits,
    abi::Metric,
    eval::{Budget, score_bytes},
    model::Model,
};
use crucible_trainer::{
    Arch, DeviceChoice, Error, Job, LabelledSet, Start, TrainConfig, Weights, onnx, predict_cpu,
    train::predictions,
};
use indicatif::ProgressBar;

fn config(epochs: usize, batch: usize, lr: f64, seed: u64) -> TrainConfig {
    TrainConfig {
        epochs,
        batch,
        lr,
        momentum: 0.9,
        seed,
    }
}

fn run(
    start: Start,
    train: &LabelledSet,
    val: Option<&LabelledSet>,
    config: TrainConfig,
) -> Result<(Weights, crucible_trainer::Report), Error> {
    let job = Job {
        start,
        train,
        validation: val,
        config,
        device: DeviceChoice::Cpu,
    };
    crucible_trainer::run(&job, &ProgressBar::hidden())
}

/// crucible-core's logits for `model` on every row of `data`, the DApp's batch size.
fn core_logits(model: &[u8], data: &LabelledSet) -> Vec<f32> {
    let model = Model::load(model, &Limits::default()).expect("crucible-core accepts the export");
    let width = data.sample_len();
    let mut out = Vec::new();
    for start in (0..data.rows).step_by(32) {
        let end = (start + 32).min(data.rows);
        out.extend(
            model
                .run(
                    data.features[start * width..end * width].to_vec(),
                    end - start,
                )
                .unwrap(),
        );
    }
    out
}

/// Asserts the trainer's and crucible-core's logits give the same predictions. A row may differ
/// only where its two best logits are closer than the two implementations' rounding: those are
/// counted, and there must be none on these models.
fn assert_same_predictions(ours: &[f32], core: &[f32], classes: usize) {
    assert_eq!(ours.len(), core.len());
    let max_diff = ours
        .iter()
        .zip(core)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(max_diff < 1e-3, "logits differ by {max_diff}");
    let (p, q) = (predictions(ours, classes), predictions(core, classes));
    let differing = p.iter().zip(&q).filter(|(a, b)| a != b).count();
    assert_eq!(
        differing, 0,
        "{differing} rows predicted differently (max logit diff {max_diff})"
    );
}

/// Trains `arch` on the 60,000 training images, scores the export with crucible-core on the
/// 10,000 test images, and checks that crucible-core's count is the trainer's and that both
/// predict the same class for every row. Returns the export, crucible-core's view of it, and
/// the report.
fn train_and_score(
    data: &common::Fashion,
    arch: Arch,
    config: TrainConfig,
    name: &str,
) -> (
    Vec<u8>,
    crucible_core::model::ModelInfo,
    crucible_trainer::Report,
) {
    let train = LabelledSet::parse(&data.train, "train").unwrap();
    let test = LabelledSet::parse(&data.test, "test").unwrap();
    let (weights, report) = run(Start::Fresh(arch), &train, Some(&test), config).unwrap();
    let bytes = onnx::export(&weights).unwrap();
    let (info, score) = score_bytes(
        &bytes,
        &data.test,
        &Limits::default(),
        Metric::Accuracy,
        Budget::UNLIMITED,
    )
    .expect("crucible-core scores the export");
    println!(
        "{name}: trainer {}/{} on t10k, crucible-core {} ppm, {:.0} samples/s",
        report.evaluation.correct, report.evaluation.rows, score.value_ppm, report.samples_per_s
    );
    assert_eq!(
        score.value_ppm,
        report.evaluation.correct as u64 * 100,
        "10,000 rows: 100 ppm each"
    );
    assert_eq!(info.sample_shape, [1, 28, 28]);
    assert_eq!(info.output_shape, [10]);
    // The same predictions, row by row, from the trainer's backend and from tract.
    assert_same_predictions(
        &predict_cpu(&weights, &test).unwrap(),
        &core_logits(&bytes, &test),
        10,
    );
    (bytes, info, report)
}

#[test]
fn mlp_reaches_84_percent_on_fashion_mnist_and_crucible_core_scores_it_the_same() {
    let Some(data) = fashion("mlp_reaches_84_percent") else {
        return;
    };
    let arch = Arch::Mlp { hidden: 128 };
    let (_, _, report) = train_and_score(data, arch, config(2, 64, 0.01, 1), "MLP, 2 epochs");
    assert!(report.evaluation.accuracy >= 0.84, "{report:?}");
    assert!(report.deterministic);
    assert_eq!(report.epochs.len(), 2);
    assert!(report.epochs[1].mean_loss < report.epochs[0].mean_loss);
}

#[test]
fn cnn_trains_on_fashion_mnist_and_exports_what_crucible_core_scores() {
    let Some(data) = fashion("cnn_trains") else {
        return;
    };
    let arch = Arch::Cnn {
        channels: [8, 16],
        hidden: 64,
    };
    let (bytes, info, report) = train_and_score(data, arch, config(1, 64, 0.01, 3), "CNN, 1 epoch");
    assert!(report.evaluation.accuracy >= 0.80, "{report:?}");
    // The graph is the committed CNN's: same operators, parameters and cost.
    assert_eq!(
        info.params, 20_523,
        "as models/cnn/MANIFEST.json: weights and the divisor"
    );
    let ours = crucible_core::model::op_histogram(&bytes).unwrap();
    let mut theirs =
        crucible_core::model::op_histogram(&repo_file("models/cnn/model.onnx")).unwrap();
    // PyTorch writes the divisor as a Constant node, the trainer as an initializer.
    theirs.remove("Constant");
    assert_eq!(ours, theirs);
    let committed = Model::load(&repo_file("models/cnn/model.onnx"), &Limits::default()).unwrap();
    assert_eq!(info.macs_per_sample, committed.info.macs_per_sample);
}

#[test]
fn fine_tuning_the_committed_baseline_improves_on_it() {
    let Some(data) = fashion("fine_tuning") else {
        return;
    };
    let baseline = repo_file("models/mlp-baseline/model.onnx");
    let limits = Limits::default();
    let (_, before) = score_bytes(
        &baseline,
        &data.test,
        &limits,
        Metric::Accuracy,
        Budget::UNLIMITED,
    )
    .unwrap();
    let init = onnx::import(&baseline).unwrap();
    assert_eq!(init.spec.arch, Arch::Mlp { hidden: 32 });
    assert_eq!(init.spec.input_divisor, 255.0);
    let train = LabelledSet::parse(&data.train, "train").unwrap();
    let (weights, report) = run(
        Start::From(init.clone()),
        &train,
        None,
        config(1, 64, 0.01, 5),
    )
    .unwrap();
    assert_eq!(report.start, "init");
    assert_eq!(
        weights.spec, init.spec,
        "the baseline's architecture and widths are kept"
    );
    let (_, after) = score_bytes(
        &onnx::export(&weights).unwrap(),
        &data.test,
        &limits,
        Metric::Accuracy,
        Budget::UNLIMITED,
    )
    .unwrap();
    println!(
        "baseline {} ppm → fine-tuned {} ppm on t10k",
        before.value_ppm, after.value_ppm
    );
    assert!(
        after.value_ppm >= before.value_ppm + 200_000,
        "{} → {}",
        before.value_ppm,
        after.value_ppm
    );
}

#[test]
fn the_same_seed_gives_the_same_onnx_bytes() {
    let Some(data) = fashion("same_seed") else {
        return;
    };
    let train = LabelledSet::parse(&data.train, "train")
        .unwrap()
        .head(6_000);
    let once = |seed| {
        let (w, _) = run(
            Start::Fresh(Arch::Cnn {
                channels: [4, 8],
                hidden: 16,
            }),
            &train,
            None,
            config(1, 100, 0.02, seed),
        )
        .unwrap();
        onnx::export(&w).unwrap()
    };
    let a = once(11);
    assert_eq!(a, once(11), "same seed, same bytes");
    assert_ne!(a, once(12), "another seed, another model");
}

#[test]
fn committed_models_import_and_export_to_the_same_predictions() {
    let val_bytes = repo_file("data/fashion-mnist/val-1k.safetensors");
    let val = LabelledSet::parse(&val_bytes, "val").unwrap();
    for (name, arch) in [
        ("mlp", Arch::Mlp { hidden: 128 }),
        (
            "cnn",
            Arch::Cnn {
                channels: [8, 16],
                hidden: 64,
            },
        ),
    ] {
        let original = repo_file(&format!("models/{name}/model.onnx"));
        let weights = onnx::import(&original).unwrap();
        assert_eq!(weights.spec.arch, arch);
        let ours = onnx::export(&weights).unwrap();
        assert_eq!(
            onnx::import(&ours).unwrap(),
            weights,
            "export → import is the identity"
        );
        // The PyTorch export and ours compute the same function.
        assert_same_predictions(&core_logits(&ours, &val), &core_logits(&original, &val), 10);
        assert_same_predictions(
            &predict_cpu(&weights, &val).unwrap(),
            &core_logits(&original, &val),
            10,
        );
    }
}

#[test]
fn bad_data_models_and_settings_are_refused_with_the_reason() {
    let val_bytes = repo_file("data/fashion-mnist/val-1k.safetensors");
    let val = LabelledSet::parse(&val_bytes, "val").unwrap();
    let err = |r: Result<(Weights, crucible_trainer::Report), Error>| r.unwrap_err().to_string();

    // Regression targets.
    let targets = crucible_core::dataset::encode(
        &[2, 3],
        crucible_core::dataset::DatasetFeatures::F32(&[0.0; 6]),
        &[2],
        crucible_core::dataset::DatasetTargets::Values(&[0.5, 1.5]),
    )
    .unwrap();
    let e = LabelledSet::parse(&targets, "reg.safetensors")
        .unwrap_err()
        .to_string();
    assert!(e.contains("int64 class labels"), "{e}");
    let e = LabelledSet::parse(b"not safetensors", "junk")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("junk") && e.contains("not a safetensors file"),
        "{e}"
    );

    // A CNN needs images.
    let flat = crucible_core::dataset::encode(
        &[4, 784],
        crucible_core::dataset::DatasetFeatures::U8(&[0; 4 * 784]),
        &[4],
        crucible_core::dataset::DatasetTargets::Labels(&[0, 1, 2, 3]),
    )
    .unwrap();
    let flat = LabelledSet::parse(&flat, "flat").unwrap();
    let cnn = Arch::Cnn {
        channels: [8, 16],
        hidden: 64,
    };
    let e = err(run(Start::Fresh(cnn), &flat, None, config(1, 2, 0.01, 0)));
    assert!(e.contains("[channels, height, width]"), "{e}");

    // Labels the baseline has no class for.
    let mut wide = val.head(10);
    wide.labels[3] = 12;
    let baseline = onnx::import(&repo_file("models/mlp-baseline/model.onnx")).unwrap();
    let e = err(run(
        Start::From(baseline.clone()),
        &wide,
        None,
        config(1, 2, 0.01, 0),
    ));
    assert!(
        e.contains("row 3 has label 12") && e.contains("10 classes"),
        "{e}"
    );

    // Data of another shape than the baseline's input.
    let e = err(run(
        Start::From(baseline),
        &flat,
        None,
        config(1, 2, 0.01, 0),
    ));
    assert!(e.contains("[784]") && e.contains("[1, 28, 28]"), "{e}");

    // Hyper-parameters.
    for (c, want) in [
        (config(0, 2, 0.01, 0), "--epochs"),
        (config(1, 0, 0.01, 0), "--batch"),
        (config(1, 2, f64::NAN, 0), "--lr"),
        (config(1, 2, -1.0, 0), "--lr"),
    ] {
        let e = err(run(Start::Fresh(Arch::Mlp { hidden: 4 }), &val, None, c));
        assert!(e.contains(want), "{e}");
    }
    // A learning rate that blows up is caught, not written out.
    let e = err(run(
        Start::Fresh(Arch::Mlp { hidden: 16 }),
        &val,
        None,
        config(1, 10, 1e30, 0),
    ));
    assert!(e.contains("diverged"), "{e}");

    // Models the trainer cannot start from.
    let e = onnx::import(b"\x08\x07garbage").unwrap_err().to_string();
    assert!(e.starts_with("initial model:"), "{e}");
    let mut proto: tract_onnx::pb::ModelProto =
        prost::Message::decode(repo_file("models/mlp/model.onnx").as_slice()).unwrap();
    let graph = proto.graph.as_mut().unwrap();
    graph.node[4].op_type = "Sigmoid".into(); // the hidden Relu
    let e = onnx::import(&prost::Message::encode_to_vec(&proto))
        .unwrap_err()
        .to_string();
    assert!(e.contains("operators") && e.contains("Sigmoid"), "{e}");
    let mut proto: tract_onnx::pb::ModelProto =
        prost::Message::decode(repo_file("models/cnn/model.onnx").as_slice()).unwrap();
    let graph = proto.graph.as_mut().unwrap();
    let pool = graph
        .node
        .iter_mut()
        .find(|n| n.op_type == "MaxPool")
        .unwrap();
    pool.attribute
        .iter_mut()
        .find(|a| a.name == "strides")
        .unwrap()
        .ints = vec![1, 1];
    let e = onnx::import(&prost::Message::encode_to_vec(&proto))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/MaxPool") && e.contains("attributes"), "{e}");
}
