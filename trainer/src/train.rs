//! The training loop: mini-batch SGD with momentum on cross-entropy, the whole dataset on the
//! device once, batches gathered there by index. Sample order and initial weights come from
//! the seed on the host (see [`crate::rng`]).

use std::time::Instant;

use burn::{
    module::AutodiffModule,
    nn::loss::CrossEntropyLossConfig,
    optim::{GradientsParams, Optimizer, SgdConfig, momentum::MomentumConfig},
    tensor::{
        Int, Tensor, TensorData,
        backend::{AutodiffBackend, Backend},
    },
};
use indicatif::ProgressBar;

use crate::{
    Error, Result,
    data::LabelledSet,
    net::{Geometry, Net},
    rng::SplitMix64,
    spec::Weights,
};

/// Hyper-parameters.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainConfig {
    /// Passes over the data.
    pub epochs: usize,
    /// Samples per step (the last step of an epoch takes the rest).
    pub batch: usize,
    /// Learning rate.
    pub lr: f64,
    /// SGD momentum (PyTorch's convention: no dampening); 0 is plain SGD.
    pub momentum: f64,
    /// Fixes the sample order (and, without `--init`, the initial weights).
    pub seed: u64,
}

impl TrainConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.into()));
        if self.epochs == 0 {
            return bad("--epochs must be at least 1");
        }
        if self.batch == 0 {
            return bad("--batch must be at least 1");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("--lr must be a positive number");
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("--momentum must be in [0, 1)");
        }
        Ok(())
    }
}

/// One epoch's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EpochStats {
    /// 1-based.
    pub epoch: usize,
    /// Wall time, the device synchronised at the end.
    pub seconds: f64,
    /// Training samples per second.
    pub samples_per_s: f64,
    /// Mean of the batches' cross-entropy.
    pub mean_loss: f64,
}

/// The trained weights and how training went.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The weights after the last epoch.
    pub weights: Weights,
    /// Seconds spent putting the data and the model on the device.
    pub upload_seconds: f64,
    /// Per-epoch figures; the first epoch includes any kernel compilation (CUDA's JIT).
    pub epochs: Vec<EpochStats>,
}

/// Trains `init` on `data`. `progress` advances by one per step.
pub fn train<B: AutodiffBackend>(
    init: &Weights,
    data: &LabelledSet,
    config: &TrainConfig,
    device: &B::Device,
    progress: &ProgressBar,
) -> Result<Trained> {
    config.validate()?;
    data.check_fits("training data", &init.spec.sample_shape, init.spec.classes)?;
    let geometry = Geometry::of(&init.spec)?;
    let started = Instant::now();
    let n = data.rows;
    let width = data.sample_len();
    let x: Tensor<B, 2> =
        Tensor::from_data(TensorData::new(data.features.clone(), [n, width]), device);
    let y: Tensor<B, 1, Int> = Tensor::from_data(TensorData::new(data.labels.clone(), [n]), device);
    let mut model = Net::<B>::from_weights(init, device)?;
    let upload_seconds = started.elapsed().as_secs_f64();

    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let momentum = (config.momentum > 0.0).then(|| {
        MomentumConfig::new()
            .with_momentum(config.momentum)
            .with_dampening(0.0)
    });
    let mut optim = SgdConfig::new().with_momentum(momentum).init::<B, Net<B>>();
    let mut rng = SplitMix64::new(config.seed);
    let mut order: Vec<i64> = (0..n as i64).collect();
    let mut epochs = Vec::with_capacity(config.epochs);
    progress.set_length((config.epochs * n.div_ceil(config.batch)) as u64);

    for epoch in 1..=config.epochs {
        let t0 = Instant::now();
        rng.shuffle(&mut order);
        let mut losses = Vec::with_capacity(n.div_ceil(config.batch));
        for chunk in order.chunks(config.batch) {
            let idx: Tensor<B, 1, Int> =
                Tensor::from_data(TensorData::new(chunk.to_vec(), [chunk.len()]), device);
            let logits = model.forward(x.clone().select(0, idx.clone()), &geometry);
            let loss = loss_fn.forward(logits, y.clone().select(0, idx));
            losses.push(loss.clone().inner());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.lr, model, grads);
            progress.inc(1);
        }
        // Reading the loss synchronises the device: the epoch's time is its real time.
        let mean_loss = f64::from(
            Tensor::cat(losses, 0)
                .mean()
                .into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .map_err(|e| Error::Training(format!("reading the loss: {e:?}")))?[0],
        );
        let seconds = t0.elapsed().as_secs_f64();
        if !mean_loss.is_finite() {
            return Err(Error::Training(format!(
                "the loss is {mean_loss} after epoch {epoch}: training diverged (lower --lr)"
            )));
        }
        progress.set_message(format!("epoch {epoch} loss {mean_loss:.4}"));
        epochs.push(EpochStats {
            epoch,
            seconds,
            samples_per_s: n as f64 / seconds,
            mean_loss,
        });
    }
    let weights = model.valid().to_weights(&init.spec)?;
    Ok(Trained {
        weights,
        upload_seconds,
        epochs,
    })
}

/// Rows per forward pass when predicting.
const PREDICT_BATCH: usize = 1024;

/// Logits `[rows × classes]` of `weights` on every row of `data`.
pub fn predict<B: Backend>(
    weights: &Weights,
    data: &LabelledSet,
    device: &B::Device,
) -> Result<Vec<f32>> {
    data.check_fits(
        "evaluation data",
        &weights.spec.sample_shape,
        weights.spec.classes,
    )?;
    let geometry = Geometry::of(&weights.spec)?;
    let model = Net::<B>::from_weights(weights, device)?;
    let width = data.sample_len();
    let mut logits = Vec::with_capacity(data.rows * weights.spec.classes);
    for start in (0..data.rows).step_by(PREDICT_BATCH) {
        let end = (start + PREDICT_BATCH).min(data.rows);
        let x: Tensor<B, 2> = Tensor::from_data(
            TensorData::new(
                data.features[start * width..end * width].to_vec(),
                [end - start, width],
            ),
            device,
        );
        let out = model
            .forward(x, &geometry)
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| Error::Training(format!("reading logits: {e:?}")))?;
        logits.extend(out);
    }
    Ok(logits)
}

/// Accuracy of a set of logits against labels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Evaluation {
    /// Rows scored.
    pub rows: usize,
    /// Rows whose largest logit is the label (the first index wins a tie, as in crucible-core).
    pub correct: usize,
    /// `correct / rows`.
    pub accuracy: f64,
}

/// The class each row predicts: the index of its largest logit, the first on a tie.
pub fn predictions(logits: &[f32], classes: usize) -> Vec<usize> {
    logits
        .chunks_exact(classes)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                    if v > best.1 { (i, v) } else { best }
                })
                .0
        })
        .collect()
}

/// Scores `logits` against `labels`.
pub fn evaluate(logits: &[f32], labels: &[i64], classes: usize) -> Evaluation {
    let correct = predictions(logits, classes)
        .iter()
        .zip(labels)
        .filter(|&(&p, &l)| p as i64 == l)
        .count();
    Evaluation {
        rows: labels.len(),
        correct,
        accuracy: correct as f64 / labels.len().max(1) as f64,
    }
}
