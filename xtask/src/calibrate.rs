//! `cargo xtask calibrate`: counts the guest instructions of crucible-core's riscv64 build
//! under qemu (the instruction-count plugin built from Debian's qemu source) for every case
//! of `crates/core/examples/cost_probe.rs`, and checks the cost model against them:
//! measured ≤ predicted for every run, every model load and every dataset parse, and for the
//! largest evaluation the default budget accepts. It prints, per operator, the instructions
//! per unit of work measured over its variants next to the coefficient the cost model uses,
//! and writes everything to `target/calibration.json`.

use crate::tasks::{root, run};
use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
};

/// The dynamic qemu-riscv64 of Debian bookworm's `qemu-user`: the `-static` build cannot
/// load plugins.
const QEMU: &str = "qemu-riscv64";
const QEMU_SOURCE: &str = "http://deb.debian.org/debian/pool/main/q/qemu/qemu_7.2+dfsg.orig.tar.xz";
const QEMU_SOURCE_SHA256: &str = "91aca71520040edc40b8d437aa3004dae614f58e286cf653ee8996c07af2962f";

fn work_dir() -> PathBuf {
    root().join("target/calibrate")
}

fn have(cmd: &str) -> bool {
    Command::new(cmd).arg("--version").output().is_ok()
}

/// Builds `libinsn.so` for the installed qemu 7.2 from Debian's source of that very
/// version (no Debian package ships the plugin or its header).
pub(crate) fn insn_plugin() -> anyhow::Result<PathBuf> {
    let dir = work_dir();
    let plugin = dir.join("libinsn.so");
    if plugin.exists() {
        return Ok(plugin);
    }
    std::fs::create_dir_all(&dir)?;
    let glib = Command::new("pkg-config")
        .args(["--exists", "glib-2.0"])
        .status()
        .is_ok_and(|s| s.success());
    if !have(QEMU) || !glib || !have("curl") {
        run(Command::new("apt-get").args([
            "install",
            "-y",
            "-q",
            "qemu-user",
            "libglib2.0-dev",
            "pkg-config",
            "curl",
            "xz-utils",
        ]))?;
    }
    let version = Command::new(QEMU).arg("--version").output()?;
    let version = String::from_utf8_lossy(&version.stdout);
    ensure!(
        version.contains("version 7.2"),
        "the plugin is built from qemu 7.2's source, but {QEMU} is: {version}"
    );
    let tarball = dir.join("qemu.orig.tar.xz");
    if !tarball.exists() {
        run(Command::new("curl")
            .args(["-sSfL", "-o"])
            .arg(&tarball)
            .arg(QEMU_SOURCE))?;
    }
    let sum = Command::new("sha256sum").arg(&tarball).output()?;
    ensure!(
        String::from_utf8_lossy(&sum.stdout).starts_with(QEMU_SOURCE_SHA256),
        "{} does not have the sha256 of Debian's qemu 7.2 source",
        tarball.display()
    );
    run(Command::new("tar")
        .arg("-xJf")
        .arg(&tarball)
        .arg("-C")
        .arg(&dir)
        .args([
            "qemu-7.2.0/tests/plugin/insn.c",
            "qemu-7.2.0/include/qemu/qemu-plugin.h",
        ]))?;
    let cflags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "glib-2.0"])
        .output()?;
    let cflags = String::from_utf8(cflags.stdout)?;
    run(Command::new("gcc")
        .args(["-O2", "-shared", "-fPIC", "-I"])
        .arg(dir.join("qemu-7.2.0/include/qemu"))
        .arg(dir.join("qemu-7.2.0/tests/plugin/insn.c"))
        .arg("-o")
        .arg(&plugin)
        .args(cflags.split_whitespace()))?;
    Ok(plugin)
}

/// Guest instructions of one probe run, and the JSON line it printed.
fn count(plugin: &Path, probe: &Path, args: &[&str]) -> anyhow::Result<(u64, Value)> {
    let log = tempfile(args);
    let out = Command::new(QEMU)
        .arg("-plugin")
        .arg(format!("{},inline=on", plugin.display()))
        .args(["-d", "plugin", "-D"])
        .arg(&log)
        .arg(probe)
        .args(args)
        .current_dir(root())
        .output()
        .context("starting qemu-riscv64")?;
    ensure!(
        out.status.success(),
        "cost_probe {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&log)?;
    let _ = std::fs::remove_file(&log);
    let insns = text
        .lines()
        .find_map(|l| l.strip_prefix("insns: "))
        .with_context(|| format!("no instruction count in {text:?}"))?
        .trim()
        .parse()?;
    let report = serde_json::from_slice(&out.stdout).context("the probe's JSON line")?;
    Ok((insns, report))
}

fn tempfile(args: &[&str]) -> PathBuf {
    work_dir().join(format!("insn-{}.log", args.join("-")))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The probe's report of `args`, run natively: the cost model's figures are integers, the
/// same on every architecture, so planning needs no emulator.
fn native(native_probe: &Path, args: &[&str]) -> anyhow::Result<Value> {
    let out = Command::new(native_probe)
        .args(args)
        .current_dir(root())
        .output()
        .context("running the native cost_probe")?;
    ensure!(
        out.status.success(),
        "cost_probe {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// One case's measurements against the cost model.
fn measure_case(
    plugin: &Path,
    probe: &Path,
    native_probe: &Path,
    case: &str,
) -> anyhow::Result<Value> {
    let first = native(native_probe, &["data", case, "32"])?;
    let op = first["op"].as_str().unwrap_or_default().to_string();
    let mut row = json!({ "case": case, "op": op });
    match op.as_str() {
        "<parse>" => {
            let rows = "512";
            let (data, _) = count(plugin, probe, &["data", case, rows])?;
            let (parse, r) = count(plugin, probe, &["parse", case, rows])?;
            row["measured"] = json!(parse - data);
            row["predicted"] = r["parse_work"].clone();
            row["bytes"] = r["data_bytes"].clone();
        }
        _ => {
            // Up to ~10⁹ estimated instructions of scoring per case, at least two runs.
            let probe32 = native(native_probe, &["load", case, "32"])?;
            let per_run = u(&probe32["info"]["work_per_run"]).max(1);
            let batch = u(&probe32["info"]["run_batch"]).max(1);
            let runs = (1_000_000_000 / per_run).clamp(2, 8);
            let rows = (runs * batch).to_string();
            let (parse, _) = count(plugin, probe, &["parse", case, &rows])?;
            let (load, _) = count(plugin, probe, &["load", case, &rows])?;
            let (tract, _) = count(plugin, probe, &["runs", case, &rows])?;
            let (score, r) = count(plugin, probe, &["score", case, &rows])?;
            let runs = u(&r["runs"]).max(1);
            row["rows"] = json!(rows);
            row["runs"] = json!(runs);
            row["predicted_run"] = r["info"]["work_per_run"].clone();
            row["measured_run"] = json!((score - load) / runs);
            // tract alone, and the rest of scoring (rows into tensors, the metric).
            row["tract_run"] = json!(tract.saturating_sub(load) / runs);
            row["eval_run"] = json!(score.saturating_sub(tract) / runs);
            row["predicted_load"] = r["info"]["load_work"].clone();
            row["measured_load"] = json!(load - parse);
            row["nodes"] = r["nodes"].clone();
            row["model_nodes"] = r["info"]["nodes"].clone();
            row["model_bytes"] = r["model_bytes"].clone();
            row["params"] = r["info"]["params"].clone();
        }
    }
    Ok(row)
}

/// What the measurements imply, in thousandths of an instruction per unit, for the cost key
/// a case is about: its part of the measured run beyond the other nodes' predictions and
/// the per-node work, divided by its units.
fn implied(row: &Value, node_work: u64) -> Option<(String, u64)> {
    let nodes = row["nodes"].as_array()?;
    let op = row["op"].as_str()?;
    let ends = op == "<input>" || op == "<metric>";
    let is_end = |n: &Value| n["key"] == "<input>" || n["key"] == "<metric>";
    let measured = if ends {
        u(&row["eval_run"])
    } else {
        u(&row["tract_run"])
    };
    let (mut units, mut others, mut count, mut key) = (0u64, 0u64, 0u64, String::new());
    for n in nodes
        .iter()
        .filter(|n| !n["folded"].as_bool().unwrap_or(false))
    {
        if is_end(n) != ends {
            continue;
        }
        if n["op"] == op {
            units += u(&n["units"]);
            count += 1;
            key = n["key"].as_str().unwrap_or_default().to_string();
        } else {
            others += u(&n["work"]);
        }
    }
    if units == 0 {
        return None;
    }
    let excess = measured.saturating_sub(others + count * node_work);
    Some((key, (excess * 1000).div_ceil(units)))
}

/// Per-node work a long chain of tiny nodes implies: its measured run divided by its nodes.
fn implied_node_work(rows: &[Value]) -> Option<u64> {
    rows.iter()
        .filter(|r| r["case"] == "load-relu-chain")
        .map(|r| u(&r["tract_run"]) / u(&r["model_nodes"]).max(1))
        .max()
}

/// `crucible_core::cost::NODE_WORK`, read from the source (xtask does not link the core).
fn crucible_core_node_work() -> u64 {
    let src = std::fs::read_to_string(root().join("crates/core/src/cost.rs")).unwrap_or_default();
    src.lines()
        .find_map(|l| l.strip_prefix("pub const NODE_WORK: u64 = "))
        .and_then(|v| v.trim_end_matches(';').replace('_', "").parse().ok())
        .unwrap_or(0)
}

/// The largest `evaluate` of the CNN the default budget accepts, through `State::advance`
/// as the DApp receives it: its measured instructions against the budget.
fn worst_input(
    plugin: &Path,
    probe: &Path,
    native_probe: &Path,
    case: &str,
    budget: u64,
) -> anyhow::Result<Value> {
    let r = native(native_probe, &["load", case, "32"])?;
    let (load, per_run, batch) = (
        u(&r["info"]["load_work"]),
        u(&r["info"]["work_per_run"]),
        u(&r["info"]["run_batch"]),
    );
    // Rows so that the estimate is just under the budget (parse work grows with the rows).
    let mut rows = budget.saturating_sub(load) / per_run.max(1) * batch;
    loop {
        let r = native(native_probe, &["data", case, &rows.to_string()])?;
        let total = load + u(&r["parse_work"]) + rows.div_ceil(batch) * per_run;
        if total <= budget || rows <= batch {
            break;
        }
        rows -= batch;
    }
    let rows_s = rows.to_string();
    let (inputs, _) = count(plugin, probe, &["inputs", case, &rows_s])?;
    let (advance, r) = count(plugin, probe, &["advance", case, &rows_s])?;
    ensure!(
        r["outcome"] == "accepted",
        "the largest accepted evaluation was refused: {}",
        r["outcome"]
    );
    Ok(json!({
        "case": case,
        "rows": rows,
        "budget": budget,
        "predicted": load + u(&r["parse_work"]) + rows.div_ceil(batch) * per_run,
        "measured": advance - inputs,
    }))
}

fn default_budget() -> anyhow::Result<u64> {
    let src = std::fs::read_to_string(root().join("crates/core/src/state.rs"))?;
    src.lines()
        .find_map(|l| l.strip_prefix("pub const DEFAULT_INPUT_WORK: u64 = "))
        .and_then(|v| v.trim_end_matches(';').replace('_', "").parse().ok())
        .context("DEFAULT_INPUT_WORK in crates/core/src/state.rs")
}

pub(crate) fn calibrate(only: Vec<String>) -> anyhow::Result<()> {
    calibrate_with(&crate::riscv::build()?, only)
}

/// [`calibrate`] with the riscv64 build at hand.
pub(crate) fn calibrate_with(build: &crate::riscv::Build, only: Vec<String>) -> anyhow::Result<()> {
    let plugin = insn_plugin()?;
    let probe = build.probe.clone();
    run(crate::tasks::cargo().args([
        "build",
        "--quiet",
        "-p",
        "crucible-core",
        "--example",
        "cost_probe",
    ]))?;
    let native_probe = crate::tasks::target_dir().join("debug/examples/cost_probe");
    let list = Command::new(&native_probe).arg("list").output()?;
    let mut cases: Vec<String> = String::from_utf8(list.stdout)?
        .lines()
        .map(str::to_string)
        .collect();
    if !only.is_empty() {
        cases.retain(|c| only.contains(c));
    }
    ensure!(!cases.is_empty(), "no case to measure");
    // Two cases at a time (qemu is single-threaded).
    let rows: Mutex<BTreeMap<usize, Value>> = Mutex::new(BTreeMap::new());
    let next = Mutex::new(0usize);
    let failure: Mutex<Vec<anyhow::Error>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().expect("lock");
                        *n += 1;
                        *n - 1
                    };
                    let Some(case) = cases.get(i) else { break };
                    let measured = measure_case(&plugin, &probe, &native_probe, case)
                        .map_err(|e| anyhow::anyhow!("{case}: {e:#}"));
                    if let Ok(row) = &measured {
                        let _ = std::fs::write(
                            work_dir().join(format!("row-{case}.json")),
                            row.to_string(),
                        );
                    }
                    match measured {
                        Ok(row) => {
                            eprintln!(
                                "measured {case}: run {} predicted {}, load {} predicted {}",
                                row["measured_run"],
                                row["predicted_run"],
                                row["measured_load"],
                                row["predicted_load"]
                            );
                            rows.lock().expect("lock").insert(i, row);
                        }
                        Err(e) => {
                            eprintln!("FAILED {e:#}");
                            failure.lock().expect("lock").push(e);
                        }
                    }
                }
            });
        }
    });
    let failures = failure.into_inner().expect("lock");
    let rows: Vec<Value> = rows.into_inner().expect("lock").into_values().collect();

    let mut violations = Vec::new();
    println!(
        "{:<22}{:<20}{:>14}{:>14}{:>8}{:>14}{:>14}{:>8}",
        "case", "op", "run predicted", "run measured", "ratio", "load pred.", "load meas.", "ratio"
    );
    for r in &rows {
        if r["op"] == "<parse>" {
            continue;
        }
        let (pr, mr, pl, ml) = (
            u(&r["predicted_run"]),
            u(&r["measured_run"]),
            u(&r["predicted_load"]),
            u(&r["measured_load"]),
        );
        println!(
            "{:<22}{:<20}{:>14}{:>14}{:>8.2}{:>14}{:>14}{:>8.2}",
            r["case"].as_str().unwrap_or_default(),
            r["op"].as_str().unwrap_or_default(),
            pr,
            mr,
            mr as f64 / pr.max(1) as f64,
            pl,
            ml,
            ml as f64 / pl.max(1) as f64
        );
        if mr > pr {
            violations.push(format!(
                "{}: a run measured {mr} > predicted {pr}",
                r["case"]
            ));
        }
        if ml > pl {
            violations.push(format!(
                "{}: loading measured {ml} > predicted {pl}",
                r["case"]
            ));
        }
    }
    for r in rows.iter().filter(|r| r["op"] == "<parse>") {
        let (p, m) = (u(&r["predicted"]), u(&r["measured"]));
        println!(
            "parse {} bytes: predicted {p}, measured {m} ({:.2})",
            r["bytes"],
            m as f64 / p.max(1) as f64
        );
        if m > p {
            violations.push(format!("parsing measured {m} > predicted {p}"));
        }
    }

    // Per cost key: the largest coefficient any variant implies, next to the table's.
    let node_work = crucible_core_node_work();
    if let Some(w) = implied_node_work(&rows) {
        println!(
            "\nper-node work per run: measured {w} (a chain of tiny Relus), model {node_work}"
        );
    }
    let mut per_key: BTreeMap<String, (u64, u64, Vec<String>)> = BTreeMap::new();
    for r in &rows {
        let Some((key, c)) = implied(r, node_work) else {
            continue;
        };
        let model = r["nodes"]
            .as_array()
            .and_then(|ns| ns.iter().find(|n| n["key"] == key.as_str()))
            .map(|n| (u(&n["work"]) - node_work) * 1000 / u(&n["units"]).max(1))
            .unwrap_or(0);
        let e = per_key.entry(key).or_insert((0, model, Vec::new()));
        e.0 = e.0.max(c);
        e.2.push(format!(
            "{}={:.2}",
            r["case"].as_str().unwrap_or_default(),
            c as f64 / 1000.0
        ));
    }
    println!(
        "\n{:<20}{:>10}{:>10}  variants (instructions per unit)",
        "cost key", "measured", "model"
    );
    for (key, (measured, model, variants)) in &per_key {
        println!(
            "{key:<20}{:>10.2}{:>10.2}  {}",
            *measured as f64 / 1000.0,
            *model as f64 / 1000.0,
            variants.join(" ")
        );
    }
    for r in rows.iter().filter(|r| r["op"] == "<load>") {
        println!(
            "load {}: {} bytes, {} params, {} nodes: measured {}, model {}",
            r["case"].as_str().unwrap_or_default(),
            r["model_bytes"],
            r["params"],
            r["model_nodes"],
            r["measured_load"],
            r["predicted_load"]
        );
    }

    let budget = default_budget()?;
    let worst = if only.is_empty() || only.iter().any(|c| c == "cnn") {
        let w = worst_input(&plugin, &probe, &native_probe, "cnn", budget)?;
        println!(
            "\nlargest accepted evaluate (cnn, {} rows): predicted {} ≤ budget {budget}; measured {} instructions ({:.2} of the prediction)",
            w["rows"],
            w["predicted"],
            w["measured"],
            u(&w["measured"]) as f64 / u(&w["predicted"]).max(1) as f64
        );
        if u(&w["measured"]) > budget {
            violations.push(format!(
                "the largest accepted input measured {} > budget {budget}",
                w["measured"]
            ));
        }
        Some(w)
    } else {
        None
    };
    let out = work_dir().join("calibration.json");
    std::fs::write(
        &out,
        serde_json::to_vec_pretty(&json!({ "cases": rows, "worst_input": worst }))?,
    )?;
    eprintln!("wrote {}", out.display());
    violations.extend(failures.iter().map(|e| format!("{e:#}")));
    if !violations.is_empty() {
        bail!(
            "the cost model underestimates:\n  {}",
            violations.join("\n  ")
        );
    }
    println!("every measurement is within the cost model's estimate");
    Ok(())
}

/// Rows per measurement: 8 runs of the protocol's batch.
const BENCH_ROWS: &str = "256";
/// The models and batch sizes of `bench-riscv`'s batch-size measurements.
const SWEPT_MODELS: [&str; 2] = ["mlp", "cnn"];
const SWEPT_BATCHES: [usize; 5] = [1, 8, 32, 64, 128];

/// Rows per timed measurement: 64 runs of the protocol's batch.
const TIMED_ROWS: &str = "2048";

/// The best `run_seconds` of three `runs` of the probe `program` (after `pre`, e.g. qemu's
/// program argument) over [`TIMED_ROWS`] rows, per sample, in microseconds.
fn timed_runs(program: &Path, pre: &[&str], mode: &str, case: &str) -> anyhow::Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let out = Command::new(program)
            .args(pre)
            .args([mode, case, TIMED_ROWS])
            .current_dir(root())
            .output()
            .with_context(|| format!("running {}", program.display()))?;
        ensure!(
            out.status.success(),
            "{} runs {case} failed: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout)?;
        let seconds = report["run_seconds"]
            .as_f64()
            .context("the probe reports no run_seconds")?;
        best = best.min(seconds);
    }
    Ok(best / TIMED_ROWS.parse::<f64>()? * 1e6)
}

/// `cargo xtask bench-riscv`: what scoring costs inside the machine. Per committed model,
/// the riscv64 build's guest instructions of the model's runs (qemu's instruction counter, the
/// `runs` mode of the cost probe minus its `load` mode, over 256 rows), per sample and per
/// multiply-accumulate; and the wall time of the runs over 2,048 rows (the probe's own
/// timer, best of three) natively (release build) and under `qemu-riscv64-static`, whose
/// ratio is the emulator's slowdown. Then the batch size: the same figures for the MLP and
/// the CNN in batches of 1 to 128 rows. Writes `target/bench-riscv.json`.
pub(crate) fn bench_riscv() -> anyhow::Result<()> {
    let build = crate::riscv::build()?;
    let plugin = insn_plugin()?;
    run(crate::tasks::cargo().args([
        "build",
        "--quiet",
        "--release",
        "-p",
        "crucible-core",
        "--example",
        "cost_probe",
    ]))?;
    let native_probe = crate::tasks::target_dir().join("release/examples/cost_probe");
    let qemu_static = PathBuf::from(crate::riscv::QEMU);
    let mut rows = Vec::new();
    println!(
        "{:<24} {:>12} {:>14} {:>10} {:>12} {:>12} {:>9}",
        "model", "MACs/sample", "instr/sample", "instr/MAC", "native µs/s", "qemu µs/s", "slowdown"
    );
    for case in crate::tasks::ALL_MODELS {
        let (load, _) = count(&plugin, &build.probe, &["load", case, BENCH_ROWS])?;
        let (runs, report) = count(&plugin, &build.probe, &["runs", case, BENCH_ROWS])?;
        let samples = BENCH_ROWS.parse::<u64>()?;
        let macs = u(&report["info"]["macs_per_sample"]).max(1);
        let per_sample = runs.saturating_sub(load) as f64 / samples as f64;
        let per_mac = per_sample / macs as f64;
        let native_us = timed_runs(&native_probe, &[], "runs", case)?;
        let probe = build.probe.to_string_lossy().into_owned();
        let qemu_us = timed_runs(&qemu_static, &[probe.as_str()], "runs", case)?;
        let slowdown = qemu_us / native_us.max(1e-9);
        println!(
            "{case:<24} {macs:>12} {per_sample:>14.0} {per_mac:>10.2} {native_us:>12.1} {qemu_us:>12.1} {slowdown:>9.1}"
        );
        rows.push(json!({
            "model": case,
            "rows": samples,
            "macs_per_sample": macs,
            "guest_instructions_per_sample": per_sample,
            "guest_instructions_per_mac": per_mac,
            "native_us_per_sample": native_us,
            "qemu_us_per_sample": qemu_us,
            "qemu_slowdown": slowdown,
        }));
    }
    println!(
        "(guest instructions: riscv64 release build, the model's runs only — no row conversion, no metric — over {BENCH_ROWS} rows in batches of 32; µs/s: microseconds per sample over {TIMED_ROWS} rows, best of 3)"
    );
    // The batch size: guest instructions and native time per sample against rows per run.
    println!(
        "\n{:<14} {:>6} {:>14} {:>10} {:>12}",
        "model", "batch", "instr/sample", "instr/MAC", "native µs/s"
    );
    let mut batches = Vec::new();
    for case in SWEPT_MODELS {
        let (load, report) = count(&plugin, &build.probe, &["load", case, BENCH_ROWS])?;
        let macs = u(&report["info"]["macs_per_sample"]).max(1) as f64;
        for batch in SWEPT_BATCHES {
            let mode = format!("runs-b{batch}");
            let (runs, _) = count(&plugin, &build.probe, &[&mode, case, BENCH_ROWS])?;
            let per_sample = runs.saturating_sub(load) as f64 / BENCH_ROWS.parse::<f64>()?;
            let native_us = timed_runs(&native_probe, &[], &mode, case)?;
            println!(
                "{case:<14} {batch:>6} {per_sample:>14.0} {:>10.2} {native_us:>12.1}",
                per_sample / macs
            );
            batches.push(json!({
                "model": case,
                "batch": batch,
                "guest_instructions_per_sample": per_sample,
                "native_us_per_sample": native_us,
            }));
        }
    }
    let out = root().join("target/bench-riscv.json");
    let rows = json!({ "models": rows, "batch_sizes": batches });
    std::fs::write(&out, serde_json::to_string_pretty(&rows)?)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
