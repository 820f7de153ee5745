//! `crucible-trainer`: trains Crucible's candidate models (the MLP and the small CNN of
//! `models/`) on a trainer's own data, on CUDA or CPU with [burn], and writes ONNX that
//! crucible-core — the DApp's scorer — loads and scores.
//!
//! ```text
//! canonical safetensors ──► LabelledSet ──► Weights (seeded, or --init baseline.onnx)
//!                                               │ burn module on the device
//!                                               ▼
//!                              SGD + momentum, cross-entropy, N epochs
//!                                               │ weights back in ONNX layout
//!                                               ▼
//!                                 onnx::export ──► model.onnx ──► crucible score / submit
//! ```
//!
//! On CPU the same seed gives the same ONNX bytes: initial weights and the sample order come
//! from a SplitMix64 stream on the host, and the CPU kernels sum in a fixed order.

pub mod data;
pub mod device;
mod error;
pub mod net;
pub mod onnx;
pub mod rng;
pub mod spec;
pub mod train;

use burn::backend::{Autodiff, Flex, flex::FlexDevice};
use indicatif::ProgressBar;

pub use data::LabelledSet;
pub use device::{Device, DeviceChoice};
pub use error::{Error, Result};
pub use spec::{Arch, Spec, Weights};
pub use train::{EpochStats, Evaluation, TrainConfig};

/// Where the initial weights come from.
#[derive(Debug, Clone)]
pub enum Start {
    /// Fresh weights of this architecture, drawn from the seed.
    Fresh(Arch),
    /// A model to fine-tune (a competition's baseline); its architecture and widths are kept.
    From(Weights),
}

/// One training run.
#[derive(Debug, Clone)]
pub struct Job<'a> {
    /// Initial weights.
    pub start: Start,
    /// Training data.
    pub train: &'a LabelledSet,
    /// Data the final model is evaluated on (the training data when absent).
    pub validation: Option<&'a LabelledSet>,
    /// Hyper-parameters.
    pub config: TrainConfig,
    /// Where to run.
    pub device: DeviceChoice,
}

/// What a run did, for humans and for `--json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The device used.
    pub device: Device,
    /// Why `--device auto` did not use CUDA, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cuda_unavailable: Option<String>,
    /// Whether the same seed reproduces these weights bit for bit on this device.
    pub deterministic: bool,
    /// The model.
    pub spec: Spec,
    /// Trainable parameters.
    pub params: usize,
    /// `"seed"` or `"init"`.
    pub start: &'static str,
    /// Hyper-parameters.
    pub config: TrainConfig,
    /// Training rows.
    pub train_rows: usize,
    /// Seconds to put the data and the model on the device.
    pub upload_seconds: f64,
    /// Per epoch. The first includes the CUDA kernels' JIT compilation.
    pub epochs: Vec<EpochStats>,
    /// Samples/s over the epochs after the first (the steady state); `None` for one epoch.
    pub steady_samples_per_s: Option<f64>,
    /// Samples/s over all epochs.
    pub samples_per_s: f64,
    /// `"validation"` or `"training"`: which data `evaluation` is on.
    pub evaluated_on: &'static str,
    /// Accuracy of the final weights, computed by the trainer on the same device.
    pub evaluation: Evaluation,
}

/// Resolves the job's spec and initial weights.
pub fn initial_weights(job: &Job<'_>) -> Result<Weights> {
    let weights = match &job.start {
        Start::From(w) => w.clone(),
        Start::Fresh(arch) => {
            let classes = job
                .train
                .classes()
                .max(job.validation.map_or(0, LabelledSet::classes));
            let divisor = if job.train.from_u8 { 255.0 } else { 1.0 };
            let spec = Spec::new(*arch, job.train.sample_shape.clone(), classes, divisor)?;
            Weights::init(spec, job.config.seed)?
        }
    };
    let spec = &weights.spec;
    job.train
        .check_fits("training data", &spec.sample_shape, spec.classes)?;
    if let Some(v) = job.validation {
        v.check_fits("validation data", &spec.sample_shape, spec.classes)?;
    }
    Ok(weights)
}

/// Trains, evaluates and returns the final weights with the report.
pub fn run(job: &Job<'_>, progress: &ProgressBar) -> Result<(Weights, Report)> {
    job.config.validate()?;
    let init = initial_weights(job)?;
    let (device, cuda_unavailable) = device::resolve(job.device)?;
    let eval_set = job.validation.unwrap_or(job.train);
    let (trained, logits) = match &device {
        Device::Cpu { .. } => backend_run::<Flex>(job, &init, eval_set, &FlexDevice, progress)?,
        Device::Cuda { index, .. } => cuda_run(job, &init, eval_set, *index, progress)?,
    };
    let evaluation = train::evaluate(&logits, &eval_set.labels, init.spec.classes);
    let epochs = trained.epochs;
    let total: f64 = epochs.iter().map(|e| e.seconds).sum();
    let steady: f64 = epochs.iter().skip(1).map(|e| e.seconds).sum();
    let rows = job.train.rows as f64;
    let report = Report {
        deterministic: device.deterministic(),
        device,
        cuda_unavailable,
        spec: init.spec.clone(),
        params: init.param_count(),
        start: match job.start {
            Start::Fresh(_) => "seed",
            Start::From(_) => "init",
        },
        config: job.config.clone(),
        train_rows: job.train.rows,
        upload_seconds: trained.upload_seconds,
        steady_samples_per_s: (epochs.len() > 1).then(|| rows * (epochs.len() - 1) as f64 / steady),
        samples_per_s: rows * epochs.len() as f64 / total,
        epochs,
        evaluated_on: if job.validation.is_some() {
            "validation"
        } else {
            "training"
        },
        evaluation,
    };
    Ok((trained.weights, report))
}

fn backend_run<B: burn::tensor::backend::Backend>(
    job: &Job<'_>,
    init: &Weights,
    eval_set: &LabelledSet,
    device: &B::Device,
    progress: &ProgressBar,
) -> Result<(train::Trained, Vec<f32>)> {
    let trained = train::train::<Autodiff<B>>(init, job.train, &job.config, device, progress)?;
    let logits = train::predict::<B>(&trained.weights, eval_set, device)?;
    Ok((trained, logits))
}

#[cfg(feature = "cuda")]
fn cuda_run(
    job: &Job<'_>,
    init: &Weights,
    eval_set: &LabelledSet,
    index: usize,
    progress: &ProgressBar,
) -> Result<(train::Trained, Vec<f32>)> {
    use burn::backend::{Cuda, cuda::CudaDevice};
    backend_run::<Cuda>(job, init, eval_set, &CudaDevice::new(index), progress)
}

#[cfg(not(feature = "cuda"))]
fn cuda_run(
    _: &Job<'_>,
    _: &Weights,
    _: &LabelledSet,
    _: usize,
    _: &ProgressBar,
) -> Result<(train::Trained, Vec<f32>)> {
    Err(Error::Device(device::NO_CUDA_BUILD.into()))
}

/// Predictions of `weights` on `data`, on the CPU backend: what the trainer believes the
/// exported model computes.
pub fn predict_cpu(weights: &Weights, data: &LabelledSet) -> Result<Vec<f32>> {
    train::predict::<Flex>(weights, data, &FlexDevice)
}
