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
    let mut acc = start(model, data, metric)?;
    score_rows(model, data, &mut acc, 0, data.rows)?;
    acc.finish()
}

/// Checks that `model` fits `data` and `metric`, and returns an empty accumulator for
/// [`score_rows`].
pub fn start(model: &Model, data: &Dataset<'_>, metric: Metric) -> Result<Accumulator, String> {
    check_compatible(model, data, metric)?;
    Ok(Accumulator::new(
        metric,
        model.info.output_shape.iter().product(),
    ))
}

/// Adds rows `first..end` of `data` to `acc`, in runs of the model's batch. `first` must be a
/// multiple of the run batch (or `end`): scoring a dataset in several calls then runs exactly
/// the batches one call would, so the score is the same bit for bit.
pub fn score_rows(
    model: &Model,
    data: &Dataset<'_>,
    acc: &mut Accumulator,
    first: usize,
    end: usize,
) -> Result<(), String> {
    let width: usize = model.info.output_shape.iter().product();
    let batch = model.info.run_batch;
    debug_assert!(
        first.is_multiple_of(batch) || first == end,
        "runs start on batch boundaries"
    );
    let sample_len = data.sample_len();
    let target_len = data.target_len();
    let mut targets = Vec::with_capacity(target_len);
    let mut start = first;
    while start < end {
        let stop = (start + batch).min(end);
        // A fixed-batch model always sees full batches: the tail is zero-padded and the
        // padded rows' outputs are ignored.
        let rows = if model.info.fixed_batch.is_some() {
            batch
        } else {
            stop - start
        };
        let output = model.run_with(rows, |x| {
            data.write_features(start, stop, &mut x[..(stop - start) * sample_len]);
        })?;
        for (i, row) in (start..stop).enumerate() {
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
        start = stop;
    }
    Ok(())
}

/// The work an evaluation may cost, in the cost model's estimated guest instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The whole evaluation: loading, parsing and every run.
    pub total: u64,
    /// One run of the model with its loading.
    pub load_and_run: u64,
}

impl Budget {
    /// No limit (local scoring).
    pub const UNLIMITED: Self = Self {
        total: u64::MAX,
        load_and_run: u64::MAX,
    };

    /// The limits of one rollup input with this work budget: the whole evaluation must fit
    /// it, and one run with the loading half of it, so that a finalize step, which also
    /// parses the test set (at most the other half), can always score the model.
    pub const fn of_input(max_input_work: u64) -> Self {
        Self {
            total: max_input_work,
            load_and_run: max_input_work / 2,
        }
    }
}

/// Why [`score_bytes`] could not score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScoreFailure {
    /// The dataset is at fault.
    Dataset(String),
    /// The model is at fault (including a model that does not fit the dataset).
    Model(String),
    /// The evaluation would cost more than the budget allows; nothing was run.
    OverBudget {
        /// Estimated guest instructions of the whole evaluation, or of one run with the
        /// loading when `run` is set.
        work: u64,
        /// Whether one run with the loading is what does not fit ([`Budget::load_and_run`]).
        run: bool,
        /// The model's rows per run.
        batch: usize,
    },
}

/// Validates a model and a dataset from their bytes under `limits`, refuses an evaluation
/// whose estimated work exceeds `budget` before running anything, and scores: the path
/// shared by the DApp's `submit`/`evaluate`/`createCompetition` and by `crucible score`.
pub fn score_bytes(
    model_bytes: &[u8],
    data_bytes: &[u8],
    limits: &crate::Limits,
    metric: Metric,
    budget: Budget,
) -> Result<(crate::model::ModelInfo, crate::metrics::Score), ScoreFailure> {
    let data =
        Dataset::parse(data_bytes, limits.max_dataset_rows).map_err(ScoreFailure::Dataset)?;
    let model = Model::load_for(model_bytes, limits, Some(&data.sample_shape))
        .map_err(ScoreFailure::Model)?;
    let work = model.evaluation_work(data.rows as u64, data_bytes.len() as u64);
    if work > budget.total {
        return Err(ScoreFailure::OverBudget {
            work,
            run: false,
            batch: model.info.run_batch,
        });
    }
    let step = model.info.load_work.saturating_add(model.info.work_per_run);
    if step > budget.load_and_run {
        return Err(ScoreFailure::OverBudget {
            work: step,
            run: true,
            batch: model.info.run_batch,
        });
    }
    let score = score(&model, &data, metric).map_err(ScoreFailure::Model)?;
    Ok((model.info, score))
}
