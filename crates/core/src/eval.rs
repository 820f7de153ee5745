//! Scoring: a validated model over a validated dataset, in fixed-size batches, in sample
//! order. This is the one function both the DApp and `crucible score` run.

use crate::{
    dataset::{Dataset, Targets},
    metrics::{Accumulator, Score},
    model::Model,
};
use crucible_types::abi::Metric;

/// Rows per batch for models with a symbolic batch dimension. Part of the protocol: batch
/// size can change tract's kernel tiling, so every validator must use the same one.
pub const EVAL_BATCH: usize = 32;

/// Checks that `model` can be scored on `data` with `metric`, without running it.
pub fn check_compatible(model: &Model, data: &Dataset<'_>, metric: Metric) -> Result<(), String> {
    let info = &model.info;
    if info.sample_shape != data.sample_shape {
        return Err(format!(
            "model input per sample is {:?} but the dataset's x rows are {:?}",
            info.sample_shape, data.sample_shape
        ));
    }
    match (&data.targets, metric.is_classification()) {
        (Targets::Labels, true) => {
            let [classes] = info.output_shape.as_slice() else {
                return Err(format!(
                    "{} needs an output [batch, classes], the model gives [batch, {:?}]",
                    metric.name(),
                    info.output_shape
                ));
            };
            let need = if metric == Metric::Top5Accuracy { 5 } else { 2 };
            if *classes < need {
                return Err(format!(
                    "{} needs at least {need} classes, the model outputs {classes}",
                    metric.name()
                ));
            }
        }
        (Targets::Values(shape), false) => {
            let out: usize = info.output_shape.iter().product();
            let want: usize = shape.iter().product();
            if out != want || info.output_shape.len() > 1 {
                return Err(format!(
                    "model output per row {:?} does not match targets per row {shape:?}",
                    info.output_shape
                ));
            }
        }
        (Targets::Labels, false) => {
            return Err(format!(
                "{} needs float32 targets, the dataset has int64 labels",
                metric.name()
            ));
        }
        (Targets::Values(_), true) => {
            return Err(format!(
                "{} needs int64 labels, the dataset has float32 targets",
                metric.name()
            ));
        }
    }
    Ok(())
}

/// Scores `model` on every row of `data`.
pub fn score(model: &Model, data: &Dataset<'_>, metric: Metric) -> Result<Score, String> {
    check_compatible(model, data, metric)?;
    let width: usize = model.info.output_shape.iter().product();
    let batch = model.info.fixed_batch.unwrap_or(EVAL_BATCH);
    let sample_len = data.sample_len();
    let target_len = data.target_len();
    let mut acc = Accumulator::new(metric, width);
    let mut targets = Vec::with_capacity(target_len);
    let mut start = 0;
    while start < data.rows {
        let end = (start + batch).min(data.rows);
        let mut input = Vec::with_capacity(batch * sample_len);
        data.extend_features(start, end, &mut input);
        // A fixed-batch model always sees full batches: the tail is zero-padded and the
        // padded rows' outputs are ignored.
        let rows = if model.info.fixed_batch.is_some() {
            batch
        } else {
            end - start
        };
        input.resize(rows * sample_len, 0.0);
        let output = model.run(input, rows)?;
        for (i, row) in (start..end).enumerate() {
            let out = &output[i * width..(i + 1) * width];
            match data.targets {
                Targets::Labels => acc.add_labelled(row, out, data.label(row))?,
                Targets::Values(_) => {
                    targets.clear();
                    targets
                        .extend((row * target_len..(row + 1) * target_len).map(|j| data.target(j)));
                    acc.add_valued(row, out, &targets)?;
                }
            }
        }
        start = end;
    }
    acc.finish()
}

/// Why [`score_bytes`] could not score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScoreFailure {
    /// The dataset is at fault.
    Dataset(String),
    /// The model is at fault (including a model that does not fit the dataset).
    Model(String),
}

/// Validates a model and a dataset from their bytes under `limits` and scores: the path
/// shared by the DApp's `submit`/`evaluate`/`finalize` and by `crucible score`.
pub fn score_bytes(
    model_bytes: &[u8],
    data_bytes: &[u8],
    limits: &crate::Limits,
    metric: Metric,
) -> Result<(crate::model::ModelInfo, crate::metrics::Score), ScoreFailure> {
    let data =
        Dataset::parse(data_bytes, limits.max_dataset_rows).map_err(ScoreFailure::Dataset)?;
    let model = Model::load_for(model_bytes, limits, Some(&data.sample_shape))
        .map_err(ScoreFailure::Model)?;
    let score = score(&model, &data, metric).map_err(ScoreFailure::Model)?;
    Ok((model.info, score))
}
