//! The `crucible-trainer` binary: its JSON, its exit codes, its device handling.

mod common;

use std::{path::PathBuf, process::Command};

use common::repo_file;
use crucible_core::{
    Limits,
    abi::Metric,
    eval::{Budget, score_bytes},
};
use serde_json::Value;

fn repo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .display()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crucible-trainer-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Runs the binary; returns (exit code, stdout, stderr).
fn trainer(args: &[&str]) -> (i32, String, String) {
    trainer_env(args, &[])
}

fn trainer_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_crucible-trainer"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn small_mlp(out: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "train",
        "--arch",
        "mlp",
        "--hidden",
        "32",
        "--data",
        &repo("data/fashion-mnist/val-1k.safetensors"),
        "--val",
        &repo("data/fashion-mnist/test-1k.safetensors"),
        "--epochs",
        "2",
        "--batch",
        "50",
        "--lr",
        "0.05",
        "--seed",
        "4",
        "--out",
        out,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn run_strings(args: &[String]) -> (i32, String, String) {
    trainer(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn train_writes_the_model_its_json_describes() {
    let out = scratch("m.onnx");
    let (code, stdout, stderr) = run_strings(&small_mlp(out.to_str().unwrap(), &["--json"]));
    assert_eq!(code, 0, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("one JSON document on stdout");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(doc["out"]["bytes"], bytes.len());
    assert_eq!(
        doc["out"]["cid"],
        crucible_core::Cid::of(&bytes).to_string()
    );
    assert_eq!(doc["device"]["kind"], "cpu");
    assert_eq!(doc["deterministic"], true);
    assert_eq!(doc["spec"]["arch"], "mlp");
    assert_eq!(doc["spec"]["hidden"], 32);
    assert_eq!(doc["spec"]["sample_shape"], serde_json::json!([1, 28, 28]));
    assert_eq!(doc["spec"]["classes"], 10);
    assert_eq!(doc["epochs"].as_array().unwrap().len(), 2);
    assert!(doc["steady_samples_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(doc["evaluated_on"], "validation");
    // The trainer's own accuracy is what crucible-core (the DApp's scorer) gives the file.
    let test = repo_file("data/fashion-mnist/test-1k.safetensors");
    let (_, score) = score_bytes(
        &bytes,
        &test,
        &Limits::default(),
        Metric::Accuracy,
        Budget::UNLIMITED,
    )
    .unwrap();
    assert_eq!(doc["evaluation"]["correct"], score.correct);
    assert_eq!(doc["evaluation"]["rows"], 1000);
    assert!(
        score.correct > 600,
        "1,000 rows, 2 epochs: {}",
        score.correct
    );
    // `--device auto` on a machine without CUDA says why it used the CPU.
    assert!(
        doc["cuda_unavailable"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{doc}"
    );

    // The human form, and the same bytes again from the same seed.
    let again = scratch("m2.onnx");
    let (code, stdout, stderr) = run_strings(&small_mlp(again.to_str().unwrap(), &[]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("samples/s") && stdout.contains("validation accuracy"),
        "{stdout}"
    );
    assert!(stdout.contains("reproducible from the seed"), "{stdout}");
    assert_eq!(std::fs::read(&again).unwrap(), bytes);
}

#[test]
fn the_bytes_do_not_depend_on_the_cpu_thread_count() {
    let val = repo("data/fashion-mnist/val-1k.safetensors");
    let model = |threads: &str| {
        let out = scratch(&format!("threads-{threads}.onnx"));
        let args = [
            "train",
            "--arch",
            "cnn",
            "--channels",
            "4,8",
            "--hidden",
            "16",
            "--data",
            &val,
            "--epochs",
            "1",
            "--batch",
            "100",
            "--lr",
            "0.05",
            "--seed",
            "9",
            "--device",
            "cpu",
            "--out",
            out.to_str().unwrap(),
        ];
        let (code, _, stderr) = trainer_env(&args, &[("RAYON_NUM_THREADS", threads)]);
        assert_eq!(code, 0, "{stderr}");
        std::fs::read(out).unwrap()
    };
    let one = model("1");
    assert_eq!(
        one,
        model("3"),
        "1 and 3 worker threads give the same model"
    );
}

#[test]
fn cuda_is_refused_with_the_reason_when_there_is_none() {
    let out = scratch("cuda.onnx");
    let (code, _, stderr) = run_strings(&small_mlp(out.to_str().unwrap(), &["--device", "cuda"]));
    if code == 0 {
        println!("SKIPPED: cuda_is_refused: this machine has a usable CUDA device");
        return;
    }
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("device:"), "{stderr}");
    assert!(!out.exists(), "nothing is written");

    let (code, stdout, stderr) = trainer(&["devices", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert!(doc["cpu"]["threads"].as_u64().unwrap() >= 1);
    let why = doc["cuda"]["unavailable"].as_str().unwrap();
    assert!(stderr_names_reason(why), "{why}");
}

/// A build without the feature says so; a build with it names what is missing.
fn stderr_names_reason(why: &str) -> bool {
    if cfg!(feature = "cuda") {
        why.contains("libcuda") || why.contains("NVRTC") || why.contains("driver")
    } else {
        why.contains("--features cuda")
    }
}

#[test]
fn bad_invocations_exit_2_with_the_reason() {
    let baseline = repo("models/mlp-baseline/model.onnx");
    let val = repo("data/fashion-mnist/val-1k.safetensors");
    let out = scratch("bad.onnx");
    let out = out.to_str().unwrap();
    let common = [
        "--epochs", "1", "--batch", "10", "--lr", "0.01", "--out", out,
    ];
    let cases: [(&[&str], &str); 6] = [
        (&["--data", &val], "--arch mlp|cnn, or --init"),
        (
            &["--arch", "cnn", "--init", &baseline, "--data", &val],
            "is a mlp",
        ),
        (
            &["--init", &baseline, "--hidden", "8", "--data", &val],
            "keeps the baseline's widths",
        ),
        (
            &["--arch", "mlp", "--data", "/nonexistent.safetensors"],
            "/nonexistent.safetensors",
        ),
        (
            &["--arch", "mlp", "--init", &val, "--data", &val],
            "not an ONNX protobuf",
        ),
        (
            &["--arch", "cnn", "--channels", "8,0", "--data", &val],
            "at least 1",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["train"];
        all.extend_from_slice(args);
        all.extend_from_slice(&common);
        let (code, _, stderr) = trainer(&all);
        assert_eq!(code, 2, "{all:?}: {stderr}");
        assert!(stderr.contains(want), "{all:?}: {stderr}");
    }
    assert!(!std::path::Path::new(out).exists());
}
