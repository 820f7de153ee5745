//! What a model is, independent of any backend: the architecture, the data it takes, and its
//! weights in ONNX layout (`Gemm` weights `[out, in]`, `Conv` weights `[out, in, kh, kw]`).

use std::fmt;

use crate::{Error, Result, rng::SplitMix64};

/// Kernel side of both convolutions and of both max-pools of the CNN.
pub const CONV_KERNEL: usize = 5;
/// Pool window and stride.
pub const POOL: usize = 2;

/// The supported architectures. Layer names (`conv1`, `conv2`, `fc1`, `fc2`) are those of the
/// models in `models/`, so a competition's baseline loads by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "arch", rename_all = "lowercase")]
pub enum Arch {
    /// `Flatten → fc1 → ReLU → fc2`.
    Mlp {
        /// Width of `fc1`.
        hidden: usize,
    },
    /// `conv1(5×5) → ReLU → maxpool 2 → conv2(5×5) → ReLU → maxpool 2 → Flatten → fc1 → ReLU → fc2`.
    Cnn {
        /// Output channels of `conv1` and `conv2`.
        channels: [usize; 2],
        /// Width of `fc1`.
        hidden: usize,
    },
}

impl Arch {
    /// The name used on the command line.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Mlp { .. } => "mlp",
            Self::Cnn { .. } => "cnn",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Mlp { hidden } => write!(f, "mlp (hidden {hidden})"),
            Self::Cnn { channels, hidden } => {
                write!(
                    f,
                    "cnn (channels {}/{}, hidden {hidden})",
                    channels[0], channels[1]
                )
            }
        }
    }
}

/// An architecture fitted to a dataset.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Spec {
    /// The layers.
    #[serde(flatten)]
    pub arch: Arch,
    /// Shape of one sample (the model's input without its batch dimension).
    pub sample_shape: Vec<usize>,
    /// Number of classes (the model's output width).
    pub classes: usize,
    /// The graph divides its input by this first (255 for `uint8` pixels); 1 means no division.
    pub input_divisor: f32,
}

/// One layer's parameters, ONNX layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Layer name (`fc1`, …).
    pub name: &'static str,
    /// Weight shape.
    pub weight_dims: Vec<usize>,
    /// Weight values, row-major.
    pub weight: Vec<f32>,
    /// Bias values (one per output).
    pub bias: Vec<f32>,
}

impl Layer {
    /// Inputs per output: the `fan_in` of PyTorch's default initialisation.
    fn fan_in(&self) -> usize {
        self.weight_dims[1..].iter().product()
    }
}

/// A model: its spec and its layers, in forward order.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// What the layers compute.
    pub spec: Spec,
    /// `fc1, fc2` for the MLP; `conv1, conv2, fc1, fc2` for the CNN.
    pub layers: Vec<Layer>,
}

impl Spec {
    /// Checks that `arch` fits samples of `sample_shape` and `classes` outputs.
    pub fn new(
        arch: Arch,
        sample_shape: Vec<usize>,
        classes: usize,
        input_divisor: f32,
    ) -> Result<Self> {
        if classes < 2 {
            return Err(Error::Arch(format!(
                "a classifier needs at least 2 classes, this one has {classes}"
            )));
        }
        if !(input_divisor.is_finite() && input_divisor > 0.0) {
            return Err(Error::Arch(format!(
                "the input divisor must be a positive number, it is {input_divisor}"
            )));
        }
        let spec = Self {
            arch,
            sample_shape,
            classes,
            input_divisor,
        };
        match arch {
            Arch::Mlp { hidden: 0 } => {
                return Err(Error::Arch(
                    "the MLP's hidden width must be at least 1".into(),
                ));
            }
            Arch::Cnn { channels, hidden } if channels.contains(&0) || hidden == 0 => {
                return Err(Error::Arch(
                    "the CNN's channels and hidden width must be at least 1".into(),
                ));
            }
            _ => {}
        }
        spec.fc1_inputs()?;
        Ok(spec)
    }

    /// Elements per sample.
    pub fn sample_len(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// Inputs of `fc1`: the flattened sample (MLP) or the flattened second pool (CNN).
    pub fn fc1_inputs(&self) -> Result<usize> {
        match self.arch {
            Arch::Mlp { .. } => Ok(self.sample_len()),
            Arch::Cnn { channels, .. } => {
                let [_, h, w] = self.cnn_input()?;
                let (h, w) = (Self::after_block(h), Self::after_block(w));
                match (h, w) {
                    (Some(h), Some(w)) => Ok(channels[1] * h * w),
                    _ => Err(Error::Arch(format!(
                        "samples of {:?} are too small for two 5×5 convolutions and 2×2 pools (at least 16×16)",
                        self.sample_shape
                    ))),
                }
            }
        }
    }

    /// `[channels, height, width]` of a CNN's samples.
    pub fn cnn_input(&self) -> Result<[usize; 3]> {
        match *self.sample_shape.as_slice() {
            [c, h, w] => Ok([c, h, w]),
            _ => Err(Error::Arch(format!(
                "the CNN takes samples of shape [channels, height, width], the data's are {:?}",
                self.sample_shape
            ))),
        }
    }

    /// Side after conv(5) → pool(2) → conv(5) → pool(2), if anything is left.
    fn after_block(side: usize) -> Option<usize> {
        let a = side.checked_sub(CONV_KERNEL - 1)? / POOL;
        let b = a.checked_sub(CONV_KERNEL - 1)? / POOL;
        (b > 0).then_some(b)
    }

    /// Layer shapes, ONNX layout, in forward order.
    pub fn layer_shapes(&self) -> Result<Vec<(&'static str, Vec<usize>)>> {
        let fc1_in = self.fc1_inputs()?;
        Ok(match self.arch {
            Arch::Mlp { hidden } => vec![
                ("fc1", vec![hidden, fc1_in]),
                ("fc2", vec![self.classes, hidden]),
            ],
            Arch::Cnn { channels, hidden } => {
                let [c, _, _] = self.cnn_input()?;
                let k = CONV_KERNEL;
                vec![
                    ("conv1", vec![channels[0], c, k, k]),
                    ("conv2", vec![channels[1], channels[0], k, k]),
                    ("fc1", vec![hidden, fc1_in]),
                    ("fc2", vec![self.classes, hidden]),
                ]
            }
        })
    }
}

impl Weights {
    /// Fresh weights for `spec` from `seed`, drawn like PyTorch's defaults for `Linear` and
    /// `Conv2d`: weights and biases uniform in `±1/√fan_in`.
    pub fn init(spec: Spec, seed: u64) -> Result<Self> {
        let mut rng = SplitMix64::new(seed);
        let layers = spec
            .layer_shapes()?
            .into_iter()
            .map(|(name, dims)| {
                let mut layer = Layer {
                    name,
                    weight: Vec::new(),
                    bias: Vec::new(),
                    weight_dims: dims,
                };
                let bound = 1.0 / (layer.fan_in() as f32).sqrt();
                let n: usize = layer.weight_dims.iter().product();
                layer.weight = (0..n).map(|_| rng.uniform(bound)).collect();
                layer.bias = (0..layer.weight_dims[0])
                    .map(|_| rng.uniform(bound))
                    .collect();
                layer
            })
            .collect();
        Ok(Self { spec, layers })
    }

    /// The layer called `name`.
    pub fn layer(&self, name: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.name == name)
    }

    /// Trainable parameters.
    pub fn param_count(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.weight.len() + l.bias.len())
            .sum()
    }

    /// Checks every layer against the spec's shapes and that every value is finite.
    pub fn validate(&self) -> Result<()> {
        let shapes = self.spec.layer_shapes()?;
        if shapes.len() != self.layers.len() {
            return Err(Error::Arch(format!(
                "{} layers, the {} has {}",
                self.layers.len(),
                self.spec.arch.name(),
                shapes.len()
            )));
        }
        for ((name, dims), layer) in shapes.iter().zip(&self.layers) {
            let n: usize = dims.iter().product();
            if layer.name != *name
                || &layer.weight_dims != dims
                || layer.weight.len() != n
                || layer.bias.len() != dims[0]
            {
                return Err(Error::Arch(format!(
                    "layer {} has weight {:?} and {} biases, the {} needs {name} with {dims:?} and {}",
                    layer.name,
                    layer.weight_dims,
                    layer.bias.len(),
                    self.spec.arch,
                    dims[0]
                )));
            }
            if layer
                .weight
                .iter()
                .chain(&layer.bias)
                .any(|v| !v.is_finite())
            {
                return Err(Error::Training(format!(
                    "layer {name} holds a non-finite value: training diverged (lower --lr)"
                )));
            }
        }
        Ok(())
    }
}

/// `[rows, cols]` row-major → `[cols, rows]` row-major.
pub(crate) fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols)
        .flat_map(|c| (0..rows).map(move |r| m[r * cols + c]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_round_trips() {
        let m: Vec<f32> = (0..6).map(|v| v as f32).collect();
        let t = transpose(&m, 2, 3);
        assert_eq!(t, [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(transpose(&t, 3, 2), m);
    }

    #[test]
    fn cnn_geometry_matches_lenet_on_28x28() {
        let spec = Spec::new(
            Arch::Cnn {
                channels: [8, 16],
                hidden: 64,
            },
            vec![1, 28, 28],
            10,
            255.0,
        )
        .unwrap();
        assert_eq!(spec.fc1_inputs().unwrap(), 256);
        let w = Weights::init(spec, 3).unwrap();
        assert_eq!(w.param_count(), 20_522);
        w.validate().unwrap();
    }

    #[test]
    fn shapes_that_do_not_fit_are_refused_with_the_reason() {
        let cnn = Arch::Cnn {
            channels: [8, 16],
            hidden: 64,
        };
        let e = Spec::new(cnn, vec![784], 10, 1.0).unwrap_err().to_string();
        assert!(e.contains("[channels, height, width]"), "{e}");
        let e = Spec::new(cnn, vec![1, 12, 12], 10, 1.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("too small"), "{e}");
        let e = Spec::new(Arch::Mlp { hidden: 8 }, vec![4], 1, 1.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at least 2 classes"), "{e}");
        let e = Spec::new(Arch::Mlp { hidden: 0 }, vec![4], 3, 1.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("hidden width"), "{e}");
    }

    #[test]
    fn init_is_fixed_by_the_seed_and_bounded_by_fan_in() {
        let spec = Spec::new(Arch::Mlp { hidden: 32 }, vec![1, 28, 28], 10, 255.0).unwrap();
        let a = Weights::init(spec.clone(), 1).unwrap();
        assert_eq!(a, Weights::init(spec.clone(), 1).unwrap());
        assert_ne!(a, Weights::init(spec, 2).unwrap());
        let fc1 = a.layer("fc1").unwrap();
        let bound = 1.0 / 784f32.sqrt();
        assert!(fc1.weight.iter().all(|w| w.abs() <= bound));
        assert_eq!(a.param_count(), 784 * 32 + 32 + 32 * 10 + 10);
    }
}
