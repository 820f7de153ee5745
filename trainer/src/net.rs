//! The architectures as burn modules, and the moves between them and [`Weights`].

use burn::{
    module::{Module, Param},
    nn::{
        Linear, LinearConfig,
        conv::{Conv2d, Conv2dConfig},
    },
    tensor::{Tensor, TensorData, activation::relu, backend::Backend, module::max_pool2d},
};

use crate::{
    Error, Result,
    spec::{CONV_KERNEL, Layer, POOL, Spec, Weights, transpose},
};

/// The MLP (`conv1`/`conv2` absent) or the CNN. Layer names are those of the ONNX graph.
#[derive(Module, Debug)]
pub struct Net<B: Backend> {
    conv1: Option<Conv2d<B>>,
    conv2: Option<Conv2d<B>>,
    fc1: Linear<B>,
    fc2: Linear<B>,
}

/// What the forward pass needs besides the parameters.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    /// The input is divided by this first (skipped when 1).
    pub input_divisor: f32,
    /// `[channels, height, width]` for the CNN, `None` for the MLP.
    pub image: Option<[usize; 3]>,
}

impl Geometry {
    /// The geometry of `spec`.
    pub fn of(spec: &Spec) -> Result<Self> {
        Ok(Self {
            input_divisor: spec.input_divisor,
            image: match spec.arch {
                crate::Arch::Mlp { .. } => None,
                crate::Arch::Cnn { .. } => Some(spec.cnn_input()?),
            },
        })
    }
}

impl<B: Backend> Net<B> {
    /// Logits `[batch, classes]` for `x` `[batch, sample elements]` (raw feature values).
    pub fn forward(&self, x: Tensor<B, 2>, geometry: &Geometry) -> Tensor<B, 2> {
        let x = if geometry.input_divisor == 1.0 {
            x
        } else {
            x.div_scalar(geometry.input_divisor)
        };
        let x = match (&self.conv1, &self.conv2, geometry.image) {
            (Some(conv1), Some(conv2), Some([c, h, w])) => {
                let [batch, _] = x.dims();
                let x = x.reshape([batch, c, h, w]);
                let pool = |x| max_pool2d(x, [POOL, POOL], [POOL, POOL], [0, 0], [1, 1], false);
                let x = pool(relu(conv1.forward(x)));
                let x = pool(relu(conv2.forward(x)));
                x.flatten(1, 3)
            }
            _ => x,
        };
        self.fc2.forward(relu(self.fc1.forward(x)))
    }

    /// The module for `weights`, on `device`.
    pub fn from_weights(weights: &Weights, device: &B::Device) -> Result<Self> {
        weights.validate()?;
        let layer = |name: &str| {
            weights
                .layer(name)
                .ok_or_else(|| Error::Arch(format!("no layer {name}")))
        };
        let conv = |name: &str| -> Result<Option<Conv2d<B>>> {
            if weights.layer(name).is_none() {
                return Ok(None);
            }
            let l = layer(name)?;
            let [out, inp, kh, kw] = l.weight_dims[..] else {
                return Err(Error::Arch(format!("{name} is not a 2-D convolution")));
            };
            let mut conv = Conv2dConfig::new([inp, out], [CONV_KERNEL, CONV_KERNEL]).init(device);
            conv.weight = Param::from_tensor(Tensor::from_data(
                TensorData::new(l.weight.clone(), [out, inp, kh, kw]),
                device,
            ));
            conv.bias = Some(bias(l, device));
            Ok(Some(conv))
        };
        Ok(Self {
            conv1: conv("conv1")?,
            conv2: conv("conv2")?,
            fc1: linear(layer("fc1")?, device),
            fc2: linear(layer("fc2")?, device),
        })
    }

    /// The weights of this module, ONNX layout, under `spec`.
    pub fn to_weights(&self, spec: &Spec) -> Result<Weights> {
        let mut layers = Vec::with_capacity(4);
        for (name, conv) in [("conv1", &self.conv1), ("conv2", &self.conv2)] {
            if let Some(conv) = conv {
                let w = conv.weight.val();
                layers.push(Layer {
                    name,
                    weight_dims: w.dims().to_vec(),
                    weight: host(w)?,
                    bias: host_bias(conv.bias.as_ref())?,
                });
            }
        }
        for (name, lin) in [("fc1", &self.fc1), ("fc2", &self.fc2)] {
            let w = lin.weight.val();
            let [inp, out] = w.dims();
            layers.push(Layer {
                name,
                weight_dims: vec![out, inp],
                weight: transpose(&host(w)?, inp, out),
                bias: host_bias(lin.bias.as_ref())?,
            });
        }
        let weights = Weights {
            spec: spec.clone(),
            layers,
        };
        weights.validate()?;
        Ok(weights)
    }
}

fn bias<B: Backend>(l: &Layer, device: &B::Device) -> Param<Tensor<B, 1>> {
    Param::from_tensor(Tensor::from_data(
        TensorData::new(l.bias.clone(), [l.bias.len()]),
        device,
    ))
}

/// burn's `Linear` keeps `[in, out]`; ONNX `Gemm` with `transB = 1` keeps `[out, in]`.
fn linear<B: Backend>(l: &Layer, device: &B::Device) -> Linear<B> {
    let (out, inp) = (l.weight_dims[0], l.weight_dims[1]);
    let mut lin = LinearConfig::new(inp, out).init(device);
    lin.weight = Param::from_tensor(Tensor::from_data(
        TensorData::new(transpose(&l.weight, out, inp), [inp, out]),
        device,
    ));
    lin.bias = Some(bias(l, device));
    lin
}

fn host<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| Error::Training(format!("reading weights back: {e:?}")))
}

fn host_bias<B: Backend>(b: Option<&Param<Tensor<B, 1>>>) -> Result<Vec<f32>> {
    host(
        b.ok_or_else(|| Error::Training("a layer lost its bias".into()))?
            .val(),
    )
}
