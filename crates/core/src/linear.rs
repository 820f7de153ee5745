//! The dense layers and convolutions of a model, computed by [`crate::gemm`]: tract's
//! matrix-product kernels differ per CPU (and are not all FMA-free), these give one result.
//!
//! `replacement` swaps, on the typed model:
//! - an `EinSum` `mk,nk->mn` or `mk,kn->mn` over float32 whose second operand is a constant
//!   (ONNX `Gemm` and `MatMul` with weights), for [`DetMatMul`]: the weights are packed once;
//! - a float32 2-D `Conv` (NCHW, OIHW, one group, any padding, strides and dilations) with
//!   constant weights and bias, for [`DetConv`]: per sample, the padded input is unfolded
//!   straight into packed panels (im2col), multiplied by the packed weights and the bias is
//!   added, one addition per output;
//! - a float32 2-D `MaxPool` without indices, for [`DetMaxPool`].
//!
//! `fold_epilogues` then folds what directly follows a product into it when that computes
//! the same operations in the same order: a dense layer's bias, a ReLU, a convolution's max
//! pool. Anything else stays tract's.

use crate::{
    binary::{self, DetBinary},
    gemm::{self, Kernel, Lhs, PackedA, PackedB},
};
use std::sync::Arc;
use tract_onnx::tract_core::{
    internal::*,
    ops::{binary::TypedBinOp, cast::Cast, cnn, einsum::EinSum, nn::DataFormat},
};

/// A constant's value: a constant, or exact arithmetic, casts and reshapes of constants
/// (how exporters scale or reshape a bias: `Gemm`'s `beta · C`) that tract folds only later.
pub(crate) fn constant(model: &TypedModel, outlet: OutletId) -> TractResult<Option<Arc<Tensor>>> {
    constant_within(model, outlet, 4)
}

fn constant_within(
    model: &TypedModel,
    outlet: OutletId,
    depth: usize,
) -> TractResult<Option<Arc<Tensor>>> {
    if let Some(k) = &model.outlet_fact(outlet)?.konst {
        return Ok(Some(k.clone()));
    }
    let node = model.node(outlet.node);
    let exact = node.op_is::<Cast>()
        || node.op_is::<AxisOp>()
        || node
            .op_as::<TypedBinOp>()
            .is_some_and(|b| matches!(b.0.name(), "Add" | "Sub" | "Mul"));
    if depth == 0 || !exact || node.inputs.is_empty() {
        return Ok(None);
    }
    let mut inputs = TVec::new();
    for input in &node.inputs {
        match constant_within(model, *input, depth - 1)? {
            Some(t) => inputs.push(t.into_tvalue()),
            None => return Ok(None),
        }
    }
    Ok(node
        .op
        .eval_out_of_plan(inputs)?
        .and_then(|mut outputs| (outlet.slot < outputs.len()).then(|| outputs.remove(outlet.slot)))
        .map(|t| t.into_tensor().into_arc_tensor()))
}

fn f32_values(t: &Tensor) -> TractResult<Vec<f32>> {
    Ok(t.cast_to::<f32>()?
        .try_as_plain_ram()?
        .as_slice::<f32>()?
        .to_vec())
}

/// An operator that replaces a node, and the node's inputs it keeps.
pub(crate) type Replacement = (Box<dyn TypedOp>, TVec<OutletId>);

/// The deterministic replacement of a matrix product or convolution, with the inputs it
/// keeps (its constants are folded into the operator).
pub(crate) fn replacement(
    model: &TypedModel,
    node: &TypedNode,
) -> TractResult<Option<Replacement>> {
    // Each keeps the node's first input, the data; the rest were constants.
    let on_data = |op: Box<dyn TypedOp>| (op, tvec!(node.inputs[0]));
    let op: Option<Box<dyn TypedOp>> = if let Some(einsum) = node.op_as::<EinSum>() {
        matmul(model, node, einsum)?.map(|op| Box::new(op) as _)
    } else if let Some(pool) = node.op_as::<cnn::MaxPool>() {
        max_pool(model, node, pool)?.map(|op| Box::new(op) as _)
    } else if let Some(conv) = node.op_as::<cnn::Conv>() {
        convolution(model, node, conv)?.map(|op| Box::new(op) as _)
    } else {
        None
    };
    Ok(op.map(on_data))
}

/// How the second operand of a two-dimensional `EinSum` is laid out, if it is one.
fn layout(expr: &str) -> Option<bool> {
    let (inputs, output) = expr.split_once("->")?;
    let (a, b) = inputs.split_once(',')?;
    let [m, k]: [char; 2] = a.chars().collect::<Vec<_>>().try_into().ok()?;
    let [o0, n]: [char; 2] = output.chars().collect::<Vec<_>>().try_into().ok()?;
    let b: Vec<char> = b.chars().collect();
    if o0 != m || m == k || n == m || n == k {
        return None;
    }
    match b.as_slice() {
        [x, y] if (*x, *y) == (n, k) => Some(true),
        [x, y] if (*x, *y) == (k, n) => Some(false),
        _ => None,
    }
}

fn matmul(model: &TypedModel, node: &TypedNode, einsum: &EinSum) -> TractResult<Option<DetMatMul>> {
    if einsum.q_params.is_some()
        || einsum.operating_dt != f32::datum_type()
        || node.inputs.len() != 2
        || model.outlet_fact(node.inputs[0])?.datum_type != f32::datum_type()
    {
        return Ok(None);
    }
    let Some(transposed) = layout(&einsum.axes.to_string()) else {
        return Ok(None);
    };
    let Some(w) = constant(model, node.inputs[1])? else {
        return Ok(None);
    };
    if w.rank() != 2 {
        return Ok(None);
    }
    let values = f32_values(&w)?;
    let kernel = Kernel::current();
    let weights = if transposed {
        let (n, k) = (w.shape()[0], w.shape()[1]);
        PackedB::from_transposed(kernel, &values, n, k)
    } else {
        let (k, n) = (w.shape()[0], w.shape()[1]);
        PackedB::from_rows(kernel, &values, k, n)
    };
    Ok(Some(DetMatMul {
        kernel,
        weights: Arc::new(weights),
        bias: None,
        relu: false,
    }))
}

/// `x · W` for a float32 `m × k` input and constant packed weights.
#[derive(Debug, Clone)]
pub struct DetMatMul {
    kernel: Kernel,
    weights: Arc<PackedB>,
    /// A bias added to every row (a folded `Add`), then a folded ReLU.
    bias: Option<Arc<[f32]>>,
    relu: bool,
}

impl PartialEq for DetMatMul {
    fn eq(&self, other: &Self) -> bool {
        self.kernel == other.kernel
            && Arc::ptr_eq(&self.weights, &other.weights)
            && (&self.bias, self.relu) == (&other.bias, other.relu)
    }
}
impl Eq for DetMatMul {}

impl Op for DetMatMul {
    fn name(&self) -> StaticName {
        "DeterministicMatMul".into()
    }

    op_as_typed_op!();
}

impl EvalOp for DetMatMul {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext<'_>, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let (m, k) = match x.shape() {
            &[m, k] => (m, k),
            other => bail!("a matrix product of a {other:?} input"),
        };
        let n = self.weights.n();
        ensure!(
            k == self.weights.k(),
            "{k} columns against weights of {} rows",
            self.weights.k()
        );
        let x = x.try_as_plain_ram()?.as_slice::<f32>()?;
        let mut out = Tensor::zero::<f32>(&[m, n])?;
        let mut view = out.try_as_plain_ram_mut()?;
        let c = view.as_slice_mut::<f32>()?;
        if self.kernel.packs_lhs() {
            let a = PackedA::new(self.kernel, x, m, k, k);
            gemm::gemm(self.kernel, Lhs::Packed(&a), &self.weights, c, n);
        } else {
            let a = Lhs::Rows {
                a: x,
                m,
                k,
                row_stride: k,
            };
            gemm::gemm(self.kernel, a, &self.weights, c, n);
        }
        if let Some(bias) = &self.bias {
            for row in c.chunks_exact_mut(n.max(1)) {
                for (y, &b) in row.iter_mut().zip(bias.iter()) {
                    *y += b;
                }
            }
        }
        if self.relu {
            relu(c);
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for DetMatMul {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        ensure!(inputs[0].rank() == 2 && inputs[0].datum_type == f32::datum_type());
        Ok(tvec!(f32::fact([
            inputs[0].shape[0].clone(),
            self.weights.n().to_dim()
        ])))
    }

    as_op!();
}

fn convolution(
    model: &TypedModel,
    node: &TypedNode,
    conv: &cnn::Conv,
) -> TractResult<Option<DetConv>> {
    let input = model.outlet_fact(node.inputs[0])?;
    if conv.q_params.is_some()
        || conv.group != 1
        || conv.kernel_fmt != cnn::KernelFormat::OIHW
        || node.inputs.len() != 3
    {
        return Ok(None);
    }
    let Some(geometry) = window_geometry(input, &conv.pool_spec) else {
        return Ok(None);
    };
    let (Some(kernel), Some(bias)) = (
        constant(model, node.inputs[1])?,
        constant(model, node.inputs[2])?,
    ) else {
        return Ok(None);
    };
    let Geometry { c, kh, kw, .. } = geometry;
    let c_out = conv.pool_spec.output_channels;
    if kernel.shape() != [c_out, c, kh, kw] || !(bias.len() == c_out || bias.len() == 1) {
        return Ok(None);
    }
    let k = c * kh * kw;
    let kernel_kind = Kernel::current();
    let weights = PackedA::new(kernel_kind, &f32_values(&kernel)?, c_out, k, k);
    let bias = f32_values(&bias)?;
    let bias = if bias.len() == 1 {
        vec![bias[0]; c_out]
    } else {
        bias
    };
    Ok(Some(DetConv {
        kernel: kernel_kind,
        geometry,
        c_out,
        weights: Arc::new(weights),
        bias: bias.into(),
        relu: false,
        pool: None,
    }))
}

/// The geometry of a float32 NCHW 2-D window operator (a convolution or a pool) over
/// `input`, if it is one with fixed channels and size.
fn window_geometry(input: &TypedFact, spec: &cnn::PoolSpec) -> Option<Geometry> {
    if spec.data_format != DataFormat::NCHW
        || spec.kernel_shape.len() != 2
        || input.datum_type != f32::datum_type()
        || input.rank() != 4
        || spec.kernel_shape.contains(&0)
    {
        return None;
    }
    let dim = |axis: usize| {
        input.shape[axis]
            .as_i64()
            .filter(|&d| d > 0)
            .map(|d| d as usize)
    };
    let (c, h, w) = (dim(1)?, dim(2)?, dim(3)?);
    let (kh, kw) = (spec.kernel_shape[0], spec.kernel_shape[1]);
    let dilations = spec.dilations();
    let strides = spec.strides();
    let dims = spec
        .padding
        .compute(&[h, w], &[kh, kw], &dilations, &strides);
    Some(Geometry {
        c,
        h,
        w,
        kh,
        kw,
        dilation: [dilations[0], dilations[1]],
        stride: [strides[0], strides[1]],
        pad: [dims[0].pad_before, dims[1].pad_before],
        out: [dims[0].convoluted, dims[1].convoluted],
    })
}

fn max_pool(
    model: &TypedModel,
    node: &TypedNode,
    pool: &cnn::MaxPool,
) -> TractResult<Option<DetMaxPool>> {
    if pool.with_index_outputs.is_some() {
        return Ok(None);
    }
    let input = model.outlet_fact(node.inputs[0])?;
    Ok(window_geometry(input, &pool.pool_spec).map(|geometry| DetMaxPool { geometry }))
}

/// A 2-D max pooling (no indices output): every window's maximum in row-major order with
/// [`BinOp::Max`], from `-inf` (padding is `-inf`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DetMaxPool {
    geometry: Geometry,
}

impl DetMaxPool {
    fn apply(&self, x: &[f32], out: &mut [f32]) {
        let g = &self.geometry;
        let (_, wp) = g.image_size();
        let mut padded = g.image_buffer(1, f32::NEG_INFINITY);
        let pixels = g.out[0] * g.out[1];
        for (plane, ys) in x.chunks_exact(g.h * g.w).zip(out.chunks_exact_mut(pixels)) {
            let image = g.image(plane, &mut padded);
            ys.fill(f32::NEG_INFINITY);
            // Taps in row-major order, each over a whole output row.
            for (oy, out_row) in ys.chunks_exact_mut(g.out[1]).enumerate() {
                for ky in 0..g.kh {
                    let row = &image[(oy * g.stride[0] + ky * g.dilation[0]) * wp..];
                    if g.stride[1] == g.kw && g.dilation[1] == 1 {
                        // Windows side by side along the row (the usual 2 × 2, stride 2).
                        for (y, window) in out_row.iter_mut().zip(row.chunks_exact(g.kw)) {
                            for &v in window {
                                *y = binary::max(*y, v);
                            }
                        }
                        continue;
                    }
                    for kx in 0..g.kw {
                        let taps = row[kx * g.dilation[1]..].iter().step_by(g.stride[1]);
                        for (y, &v) in out_row.iter_mut().zip(taps) {
                            *y = binary::max(*y, v);
                        }
                    }
                }
            }
        }
    }
}

impl Op for DetMaxPool {
    fn name(&self) -> StaticName {
        "DeterministicMaxPool".into()
    }

    op_as_typed_op!();
}

impl EvalOp for DetMaxPool {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext<'_>, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let g = &self.geometry;
        let batch = g.batch_of(x.shape())?;
        let mut out = Tensor::zero::<f32>(&[batch, g.c, g.out[0], g.out[1]])?;
        let x = x.try_as_plain_ram()?;
        self.apply(
            x.as_slice::<f32>()?,
            out.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
        );
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for DetMaxPool {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(
            self.geometry.output_fact(inputs[0], self.geometry.c)?
        ))
    }

    as_op!();
}

/// A convolution's shape: input channels and size, kernel, dilations, strides, padding
/// before each spatial axis, output size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Geometry {
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    dilation: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    out: [usize; 2],
}

impl Geometry {
    /// The batch size of an input of this geometry, or why it is not one.
    fn batch_of(&self, shape: &[usize]) -> TractResult<usize> {
        match *shape {
            [n, c, h, w] if (c, h, w) == (self.c, self.h, self.w) => Ok(n),
            _ => bail!(
                "an input of shape {shape:?} where [N, {}, {}, {}] was typed",
                self.c,
                self.h,
                self.w
            ),
        }
    }

    /// The output of `channels` channels, for a float32 NCHW input.
    fn output_fact(&self, input: &TypedFact, channels: usize) -> TractResult<TypedFact> {
        ensure!(input.rank() == 4 && input.datum_type == f32::datum_type());
        Ok(f32::fact([
            input.shape[0].clone(),
            channels.to_dim(),
            self.out[0].to_dim(),
            self.out[1].to_dim(),
        ]))
    }

    /// Whether the windows read the input as it is: no padding, and none reaches past it.
    fn unpadded(&self) -> bool {
        self.pad == [0, 0] && self.padded() == (self.h, self.w)
    }

    /// Rows and columns of the image the windows read: the input's, or the padded input's.
    fn image_size(&self) -> (usize, usize) {
        if self.unpadded() {
            (self.h, self.w)
        } else {
            self.padded()
        }
    }

    /// A buffer for the padded image of `channels` planes, its padding `value` (empty when
    /// the windows read the input in place).
    fn image_buffer(&self, channels: usize, value: f32) -> Vec<f32> {
        let (hp, wp) = self.padded();
        vec![
            value;
            if self.unpadded() {
                0
            } else {
                channels * hp * wp
            }
        ]
    }

    /// Whole `h × w` planes as the windows read them: in place, or copied into `buffer`
    /// (from [`Geometry::image_buffer`]), whose padding is never written.
    fn image<'a>(&self, planes: &'a [f32], buffer: &'a mut [f32]) -> &'a [f32] {
        if self.unpadded() {
            return planes;
        }
        let (hp, wp) = self.padded();
        for (ci, plane) in planes.chunks_exact(self.h * self.w).enumerate() {
            for (y, row) in plane.chunks_exact(self.w).enumerate() {
                let at = ci * hp * wp + (y + self.pad[0]) * wp + self.pad[1];
                buffer[at..at + self.w].copy_from_slice(row);
            }
        }
        buffer
    }

    /// Rows and columns of the zero-padded input, large enough for every window.
    fn padded(&self) -> (usize, usize) {
        let extent = |axis: usize, size: usize, kernel: usize| {
            ((self.out[axis].max(1) - 1) * self.stride[axis]
                + (kernel - 1) * self.dilation[axis]
                + 1)
            .max(self.pad[axis] + size)
        };
        (extent(0, self.h, self.kh), extent(1, self.w, self.kw))
    }
}

/// A 2-D convolution by im2col and [`gemm::gemm`], with constant weights and bias.
#[derive(Debug, Clone)]
pub struct DetConv {
    kernel: Kernel,
    geometry: Geometry,
    c_out: usize,
    weights: Arc<PackedA>,
    bias: Arc<[f32]>,
    /// A folded ReLU.
    relu: bool,
    /// A folded max pool of the output (after the ReLU).
    pool: Option<Geometry>,
}

impl PartialEq for DetConv {
    fn eq(&self, other: &Self) -> bool {
        self.kernel == other.kernel
            && self.geometry == other.geometry
            && Arc::ptr_eq(&self.weights, &other.weights)
            && self.bias == other.bias
            && self.relu == other.relu
            && self.pool == other.pool
    }
}
impl Eq for DetConv {}

impl Op for DetConv {
    fn name(&self) -> StaticName {
        "DeterministicConv".into()
    }

    op_as_typed_op!();
}

impl DetConv {
    /// Rows and columns of one output channel: the convolution's, or its folded pool's.
    fn out_size(&self) -> [usize; 2] {
        self.pool.map_or(self.geometry.out, |p| p.out)
    }

    /// Convolves `batch` samples of `x` (NCHW) into `out` (NCHW).
    fn apply(&self, x: &[f32], batch: usize, out: &mut [f32]) {
        let g = &self.geometry;
        let (hp, wp) = g.image_size();
        let pixels = g.out[0] * g.out[1];
        let k = g.c * g.kh * g.kw;
        // Where each window starts in the padded input, and where each of its `k` taps is
        // from there.
        let windows = gemm::Windows::new(self.kernel, g.out[0], g.out[1], wp, g.stride);
        let taps: Vec<usize> = (0..g.c)
            .flat_map(|ci| {
                (0..g.kh).flat_map(move |ky| {
                    (0..g.kw)
                        .map(move |kx| ci * hp * wp + ky * g.dilation[0] * wp + kx * g.dilation[1])
                })
            })
            .collect();
        let mut padded = g.image_buffer(g.c, 0.0);
        let mut cols = PackedB::zeros(self.kernel, k, pixels);
        // The convolution of one sample, when a pool follows.
        let mut full = vec![
            0f32;
            if self.pool.is_some() {
                self.c_out * pixels
            } else {
                0
            }
        ];
        let sample_in = g.c * g.h * g.w;
        let [oh, ow] = self.out_size();
        for (xs, ys) in x
            .chunks_exact(sample_in)
            .zip(out.chunks_exact_mut(self.c_out * oh * ow))
            .take(batch)
        {
            cols.unfold(g.image(xs, &mut padded), &windows, &taps);
            let conv: &mut [f32] = if self.pool.is_some() { &mut full } else { ys };
            gemm::gemm(self.kernel, Lhs::Packed(&self.weights), &cols, conv, pixels);
            for (plane, &b) in conv.chunks_exact_mut(pixels).zip(self.bias.iter()) {
                if self.relu {
                    plane.iter_mut().for_each(|y| *y = binary::relu(*y + b));
                } else {
                    plane.iter_mut().for_each(|y| *y += b);
                }
            }
            if let Some(geometry) = self.pool {
                DetMaxPool { geometry }.apply(&full, ys);
            }
        }
    }
}

impl EvalOp for DetConv {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext<'_>, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let g = &self.geometry;
        let batch = g.batch_of(x.shape())?;
        let [oh, ow] = self.out_size();
        let mut out = Tensor::zero::<f32>(&[batch, self.c_out, oh, ow])?;
        let x = x.try_as_plain_ram()?;
        self.apply(
            x.as_slice::<f32>()?,
            batch,
            out.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
        );
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for DetConv {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let out = Geometry {
            out: self.out_size(),
            ..self.geometry
        };
        Ok(tvec!(out.output_fact(inputs[0], self.c_out)?))
    }

    as_op!();
}

fn relu(values: &mut [f32]) {
    values.iter_mut().for_each(|y| *y = binary::relu(*y));
}

/// A product with what its only successor does folded in, if it can be: a bias along the
/// output's last axis (a dense layer's, unless it has one), a ReLU (`Max` with `+0`), or a
/// max pool after a convolution (and its ReLU).
/// The folded operator computes the same operations on every element, in the same order.
fn folded(product: &dyn TypedOp, next: &TypedNode) -> Option<Box<dyn TypedOp>> {
    if let Some(pool) = next.op_as::<DetMaxPool>() {
        let conv = product.downcast_ref::<DetConv>()?;
        let fits = conv.pool.is_none()
            && pool.geometry.c == conv.c_out
            && [pool.geometry.h, pool.geometry.w] == conv.geometry.out;
        return fits.then(|| {
            Box::new(DetConv {
                pool: Some(pool.geometry),
                ..conv.clone()
            }) as Box<dyn TypedOp>
        });
    }
    let next = next.op_as::<DetBinary>()?;
    if next.is_relu() {
        if let Some(mm) = product.downcast_ref::<DetMatMul>().filter(|mm| !mm.relu) {
            return Some(Box::new(DetMatMul {
                relu: true,
                ..mm.clone()
            }));
        }
        if let Some(conv) = product
            .downcast_ref::<DetConv>()
            .filter(|c| !c.relu && c.pool.is_none())
        {
            return Some(Box::new(DetConv {
                relu: true,
                ..conv.clone()
            }));
        }
        return None;
    }
    let mm = product.downcast_ref::<DetMatMul>()?;
    let bias = next.row_addend(mm.weights.n())?;
    (mm.bias.is_none() && !mm.relu).then(|| {
        Box::new(DetMatMul {
            bias: Some(bias),
            ..mm.clone()
        }) as Box<dyn TypedOp>
    })
}

/// Folds bias additions, ReLUs and max pools into the products before them; returns how
/// many.
pub(crate) fn fold_epilogues(model: &mut TypedModel) -> TractResult<usize> {
    let mut count = 0;
    'again: loop {
        for id in model.eval_order()? {
            let node = model.node(id);
            if !(node.op_is::<DetMatMul>() || node.op_is::<DetConv>()) {
                continue;
            }
            let [succ] = node.outputs[0].successors.as_slice() else {
                continue;
            };
            let next = model.node(succ.node);
            let Some(op) = folded(node.op.as_ref(), next) else {
                continue;
            };
            let mut patch = TypedModelPatch::default();
            let tap = patch.tap_model(model, node.inputs[0])?;
            let wire = patch.wire_node(node.name.clone(), op, &[tap])?;
            patch.shunt_outside(model, OutletId::new(next.id, 0), wire[0])?;
            patch.apply(model)?;
            model.compact()?;
            count += 1;
            continue 'again;
        }
        return Ok(count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::binary::BinOp;
    use proptest::prelude::*;

    /// The definition: every output one fused multiply-add chain over `(ci, ky, kx)` in
    /// order (taps in the padding read zero), then the bias added, then the ReLU.
    fn conv_reference(op: &DetConv, weights: &[f32], x: &[f32], batch: usize) -> Vec<f32> {
        let g = &op.geometry;
        let mut out = Vec::new();
        for n in 0..batch {
            for co in 0..op.c_out {
                for oy in 0..g.out[0] {
                    for ox in 0..g.out[1] {
                        let mut acc = 0f32;
                        for ci in 0..g.c {
                            for ky in 0..g.kh {
                                for kx in 0..g.kw {
                                    let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize
                                        - g.pad[0] as isize;
                                    let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize
                                        - g.pad[1] as isize;
                                    let inside = (0..g.h as isize).contains(&iy)
                                        && (0..g.w as isize).contains(&ix);
                                    let v = if inside {
                                        x[((n * g.c + ci) * g.h + iy as usize) * g.w + ix as usize]
                                    } else {
                                        0.0
                                    };
                                    let w = weights[((co * g.c + ci) * g.kh + ky) * g.kw + kx];
                                    acc = w.mul_add(v, acc);
                                }
                            }
                        }
                        let y = acc + op.bias[co];
                        out.push(if op.relu { BinOp::Max.apply(y, 0.0) } else { y });
                    }
                }
            }
        }
        out
    }

    fn values(seed: u64, len: usize) -> Vec<f32> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(120))]

        /// Convolutions of every kernel of this CPU against the reference: channels, sizes,
        /// kernels, strides, dilations and paddings that are and are not tile multiples.
        #[test]
        fn convolutions_match_the_reference(
            c in 1usize..4, c_out in prop::sample::select(vec![1usize, 3, 4, 8, 9, 17]),
            h in 1usize..12, w in 1usize..12, kh in 1usize..4, kw in 1usize..4,
            stride in 1usize..3, dilation in 1usize..3, pad in 0usize..3,
            relu in any::<bool>(), pooled in any::<bool>(), batch in 1usize..3,
            seed in any::<u64>(),
        ) {
            let (eh, ew) = ((kh - 1) * dilation + 1, (kw - 1) * dilation + 1);
            prop_assume!(h + 2 * pad >= eh && w + 2 * pad >= ew);
            let out = [(h + 2 * pad - eh) / stride + 1, (w + 2 * pad - ew) / stride + 1];
            let geometry = Geometry {
                c, h, w, kh, kw,
                dilation: [dilation; 2], stride: [stride; 2], pad: [pad; 2], out,
            };
            let k = c * kh * kw;
            let weights = values(seed, c_out * k);
            let x = values(seed.rotate_left(17), batch * c * h * w);
            let bias: Vec<f32> = values(seed.rotate_left(29), c_out);
            for kernel in Kernel::available() {
                // A 2 × 2 max pool of stride 2 folded in, when the output has room for one.
                let pool = (pooled && out[0] >= 2 && out[1] >= 2).then(|| Geometry {
                    c: c_out, h: out[0], w: out[1], kh: 2, kw: 2,
                    dilation: [1, 1], stride: [2, 2], pad: [0, 0], out: [out[0] / 2, out[1] / 2],
                });
                let op = DetConv {
                    kernel,
                    geometry,
                    c_out,
                    weights: Arc::new(PackedA::new(kernel, &weights, c_out, k, k)),
                    bias: bias.clone().into(),
                    relu,
                    pool,
                };
                let [oh, ow] = op.out_size();
                let mut got = vec![f32::NAN; batch * c_out * oh * ow];
                op.apply(&x, batch, &mut got);
                let mut want = conv_reference(&op, &weights, &x, batch);
                if let Some(geometry) = pool {
                    let mut pooled = vec![f32::NAN; batch * c_out * oh * ow];
                    DetMaxPool { geometry }.apply(&want, &mut pooled);
                    want = pooled;
                }
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                prop_assert_eq!(bits(&got), bits(&want), "{:?}", kernel);
            }
        }

        /// Max pooling against the plain definition, padding included.
        #[test]
        fn max_pooling_matches_the_reference(
            h in 1usize..10, w in 1usize..10, kh in 1usize..4, kw in 1usize..4,
            stride in 1usize..4, pad in 0usize..2, seed in any::<u64>(),
        ) {
            prop_assume!(h + 2 * pad >= kh && w + 2 * pad >= kw && pad < kh.min(kw));
            let out = [(h + 2 * pad - kh) / stride + 1, (w + 2 * pad - kw) / stride + 1];
            let geometry = Geometry {
                c: 2, h, w, kh, kw, dilation: [1, 1], stride: [stride; 2], pad: [pad; 2], out,
            };
            let x = values(seed, 2 * h * w);
            let mut got = vec![f32::NAN; 2 * out[0] * out[1]];
            DetMaxPool { geometry }.apply(&x, &mut got);
            let mut want = Vec::new();
            for plane in x.chunks_exact(h * w) {
                for oy in 0..out[0] {
                    for ox in 0..out[1] {
                        let mut m = f32::NEG_INFINITY;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let (iy, ix) = ((oy * stride + ky) as isize - pad as isize, (ox * stride + kx) as isize - pad as isize);
                                if (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix) {
                                    m = BinOp::Max.apply(m, plane[iy as usize * w + ix as usize]);
                                }
                            }
                        }
                        want.push(m);
                    }
                }
            }
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn einsum_layouts() {
        assert_eq!(layout("mk,nk->mn"), Some(true));
        assert_eq!(layout("ab,bc->ac"), Some(false));
        assert_eq!(layout("mk,nk->nm"), None);
        assert_eq!(layout("mk,mk->mm"), None);
        assert_eq!(layout("bmk,bkn->bmn"), None);
    }
}
