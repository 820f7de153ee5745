//! The `crucible` binary, run as a user runs it.

use std::{path::PathBuf, process::Command};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn crucible(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crucible"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("crucible runs")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crucible-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn score_json_has_the_documented_fields_and_onnxruntimes_count() {
    let out = crucible(&[
        "score",
        "--model",
        "models/mlp/model.onnx",
        "--data",
        "data/fashion-mnist/val-1k.safetensors",
        "--metric",
        "accuracy",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo().join("models/mlp/MANIFEST.json")).unwrap())
            .unwrap();
    assert_eq!(v["metric"], "accuracy");
    assert_eq!(v["samples"], 1000);
    assert_eq!(v["correct"], manifest["onnxruntime"]["correct_first_1000"]);
    assert_eq!(
        v["value_ppm"].as_u64().unwrap(),
        v["correct"].as_u64().unwrap() * 1000
    );
    assert_eq!(v["model_cid"], manifest["cid"]);
    assert!(v["data_cid"].as_str().unwrap().starts_with("bafkrei"));
}

#[test]
fn an_invalid_model_exits_non_zero_with_the_reason_and_no_panic_text() {
    let dir = tmp("invalid");
    let bad = dir.join("bad.onnx");
    std::fs::write(&bad, b"\x08\x07\x12\x04junk\xff\xff\xff").unwrap();
    let out = crucible(&[
        "score",
        "--model",
        bad.to_str().unwrap(),
        "--data",
        "data/fashion-mnist/val-1k.safetensors",
        "--metric",
        "accuracy",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.starts_with("error: invalid model bafkrei"),
        "{stderr}"
    );
    assert!(stderr.contains("not an ONNX protobuf"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    let out = crucible(&[
        "score",
        "--model",
        "models/mlp/model.onnx",
        "--data",
        "data/fashion-mnist/val-1k.safetensors",
        "--metric",
        "mse",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs float32 targets"));
    let out = crucible(&["score", "--model", "x", "--data", "y", "--metric", "f1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("choose one of accuracy, top5"));
}

#[test]
fn data_idx_converts_and_data_info_describes() {
    let dir = tmp("idx");
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2];
    images.extend((0u8..12).collect::<Vec<_>>());
    let labels = vec![0, 0, 8, 1, 0, 0, 0, 3, 4, 1, 9];
    std::fs::write(dir.join("img"), &images).unwrap();
    std::fs::write(dir.join("lbl"), &labels).unwrap();
    let out_file = dir.join("d.safetensors");
    let out = crucible(&[
        "data",
        "idx",
        "--images",
        dir.join("img").to_str().unwrap(),
        "--labels",
        dir.join("lbl").to_str().unwrap(),
        "--start",
        "1",
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = crucible(&["data", "info", out_file.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dataset"]["rows"], 2);
    assert_eq!(v["dataset"]["sample_shape"], serde_json::json!([1, 2, 2]));

    std::fs::write(dir.join("lbl"), &labels[..10]).unwrap();
    let out = crucible(&[
        "data",
        "idx",
        "--images",
        dir.join("img").to_str().unwrap(),
        "--labels",
        dir.join("lbl").to_str().unwrap(),
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("header says 3"));
}

#[test]
fn cid_of_hello_world() {
    let dir = tmp("cid");
    std::fs::write(dir.join("hello"), b"hello world\n").unwrap();
    let out = crucible(&["cid", dir.join("hello").to_str().unwrap()]);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4")
    );
}

#[test]
fn help_lists_every_journey_and_the_exit_codes() {
    let out = crucible(&["--help"]);
    assert!(out.status.success());
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stdout));
}

#[test]
fn data_import_reads_numpy_and_csv_into_the_same_canonical_bytes() {
    let dir = tmp("import");
    let fx = |f: &str| repo().join("tests/fixtures/numpy").join(f);
    let convert = |args: &[&str], out: &str| {
        let out_path = dir.join(out);
        let mut all: Vec<&str> = vec!["data", "import"];
        all.extend_from_slice(args);
        let out_s = out_path.to_str().unwrap().to_string();
        all.extend(["--out", &out_s]);
        let r = crucible(&all);
        assert!(
            r.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        std::fs::read(out_path).unwrap()
    };
    let (x, y, npz, npz64, csv) = (
        fx("x.npy"),
        fx("y.npy"),
        fx("xy.npz"),
        fx("xy-f64-i32.npz"),
        fx("xy.csv"),
    );
    let from_npy = convert(&[x.to_str().unwrap(), y.to_str().unwrap()], "a.safetensors");
    let from_npz = convert(&[npz.to_str().unwrap()], "b.safetensors");
    let from_npz64 = convert(&[npz64.to_str().unwrap()], "c.safetensors");
    let from_csv = convert(
        &[csv.to_str().unwrap(), "--target", "label", "--labels"],
        "d.safetensors",
    );
    assert_eq!(from_npy, from_npz);
    assert_eq!(
        from_npy, from_npz64,
        "float64/int32 narrow to float32/int64"
    );
    assert_eq!(from_npy, from_csv);
    let info = crucible(&["data", "info", dir.join("a.safetensors").to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["dataset"]["rows"], 5, "{v}");

    // Features and targets swapped, or a CSV without --target: exit 2 with the reason.
    let r = crucible(&[
        "data",
        "import",
        y.to_str().unwrap(),
        x.to_str().unwrap(),
        "--out",
        "/dev/null",
    ]);
    assert_eq!(
        r.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let r = crucible(&[
        "data",
        "import",
        csv.to_str().unwrap(),
        "--out",
        "/dev/null",
    ]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("--target"));
}

#[test]
fn cid_json_lists_every_file() {
    let out = crucible(&[
        "cid",
        "models/mlp/model.onnx",
        "models/cnn/model.onnx",
        "--json",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo().join("models/cnn/MANIFEST.json")).unwrap())
            .unwrap();
    assert_eq!(v[1]["cid"], manifest["cid"]);
    assert_eq!(v.as_array().unwrap().len(), 2);
}
