use anyhow::{Context, bail};
use crucible_core::{
    DEFAULT_INPUT_WORK, Limits, abi::Metric, dataset::Dataset, eval, model::Model,
};
use crucible_types::Cid;
use std::{path::PathBuf, time::Instant};

/// Score an ONNX model on a dataset locally, with exactly the code the DApp runs.
///
/// The model is validated against the DApp's default limits first; an invalid model exits
/// with status 2 and the rejection reason on stderr.
///
/// Examples:
///   crucible score --model models/mlp/model.onnx --data data/fashion-mnist/val-1k.safetensors --metric accuracy
///   crucible score --model m.onnx --data d.safetensors --metric logloss --json
#[derive(Debug, clap::Args)]
pub(crate) struct ScoreArgs {
    /// ONNX model file.
    #[arg(long)]
    model: PathBuf,
    /// Dataset in the canonical safetensors format (`crucible data` converts others).
    #[arg(long)]
    data: PathBuf,
    /// accuracy, top5, logloss (logits), logloss-probs, mse or mae.
    #[arg(long, value_parser = parse_metric)]
    metric: Metric,
    /// Score this many times (model loaded once) and report the fastest pass; every pass
    /// must give the same score.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
}

pub(crate) fn parse_metric(s: &str) -> Result<Metric, String> {
    Metric::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        format!("unknown metric {s:?}; choose one of {}", names.join(", "))
    })
}

impl ScoreArgs {
    pub(crate) fn run(self, json: bool) -> anyhow::Result<()> {
        let model = std::fs::read(&self.model)
            .with_context(|| format!("reading {}", self.model.display()))?;
        let data = std::fs::read(&self.data)
            .with_context(|| format!("reading {}", self.data.display()))?;
        let (model_cid, data_cid) = (Cid::of(&model), Cid::of(&data));
        let limits = Limits::default();
        let loaded = Instant::now();
        let data_set = Dataset::parse(&data, limits.max_dataset_rows).map_err(|reason| {
            crate::exit::invalid(format!("invalid dataset {data_cid}: {reason}"))
        })?;
        let model =
            Model::load_for(&model, &limits, Some(&data_set.sample_shape)).map_err(|reason| {
                crate::exit::invalid(format!("invalid model {model_cid}: {reason}"))
            })?;
        let load_seconds = loaded.elapsed().as_secs_f64();
        // What the DApp's cost model charges for this evaluation, against its budget: the
        // DApp refuses an evaluation over the budget before running it; locally it runs.
        let work = model.evaluation_work(data_set.rows as u64, data.len() as u64);
        let budget = DEFAULT_INPUT_WORK;
        let (mut score, mut elapsed) = (None, f64::INFINITY);
        for _ in 0..self.repeat {
            let started = Instant::now();
            let pass = eval::score(&model, &data_set, self.metric).map_err(|reason| {
                crate::exit::invalid(format!("invalid model {model_cid}: {reason}"))
            })?;
            elapsed = elapsed.min(started.elapsed().as_secs_f64());
            if score.is_some_and(|s| s != pass) {
                bail!(
                    "two passes over the same data gave different scores: {score:?} and {pass:?}"
                );
            }
            score = Some(pass);
        }
        let (info, score) = (model.info, score.expect("at least one pass"));
        let value = score.value_ppm as f64 / 1e6;
        if json {
            let out = crate::docs::Scored {
                metric: self.metric.name().to_string(),
                value_ppm: score.value_ppm,
                value,
                samples: score.samples,
                correct: self.metric.is_classification().then_some(score.correct),
                model_cid,
                data_cid,
                model: info,
                seconds: elapsed,
                load_seconds,
                work,
                budget,
                within_budget: work <= budget,
            };
            println!("{}", serde_json::to_string(&out)?);
        } else {
            println!(
                "{} = {value:.6} ({} ppm) over {} samples",
                self.metric.name(),
                score.value_ppm,
                score.samples
            );
            if self.metric.is_classification() {
                println!("correct: {} / {}", score.correct, score.samples);
            }
            println!(
                "model {model_cid}: {} params, {} MACs/sample, {} nodes, opset {}",
                info.params, info.macs_per_sample, info.nodes, info.opset
            );
            println!(
                "work  {work} estimated RISC-V instructions ({} per sample); the per-input budget is {budget}{}",
                info.work_per_sample,
                if work > budget {
                    ": the DApp would refuse this evaluation in one input"
                } else {
                    ""
                }
            );
            println!("data  {data_cid}");
            println!("{:.0} samples/s", score.samples as f64 / elapsed);
        }
        Ok(())
    }
}
