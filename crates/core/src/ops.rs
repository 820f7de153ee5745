//! Deterministic operators: the transcendental and reducing operators of the allow-list,
//! computed with one sequence of f32 operations on every architecture.
//!
//! tract runs `Exp`, `Log`, `Tanh`, `Sigmoid`, `Erf`, `Softmax` and sum/max reductions with
//! `tract-linalg` kernels chosen per CPU (SIMD lanes that change a sum's association, exp
//! approximations per instruction set) and folds patterns of them into fused operators
//! (GELU, SiLU) with kernels of their own. None of that is guaranteed to give the bits the
//! RISC-V machine computes. [`make_deterministic`] runs on the typed model, before tract
//! optimises it, and swaps every such node for one of this module:
//! - the element-wise functions call the pure-Rust `libm` (no FMA contraction, no lookup of
//!   the platform's C library), one element at a time;
//! - [`DetSoftmax`] takes, per lane, the maximum, then `exp(x - max)` with `libm`, then the
//!   sum in index order, then divides (`LogSoftmax`: `x - max - ln(sum)`, which stays finite
//!   where `ln(softmax)` would underflow to `-inf`);
//! - [`DetReduce`] accumulates every output's elements in row-major order, one addition
//!   (or comparison) at a time.
//!
//! The same pass swaps the matrix products, convolutions, max pools and arithmetic with a
//! constant for the operators of [`crate::linear`] and [`crate::binary`].
//!
//! Every node is rewritten, whatever its inputs: tract never sees one of its own kernels for
//! these operators. (Constant sub-graphs through them are refused earlier, by the cost
//! model, because tract would fold them while it types the model.)

use tract_onnx::tract_core::{
    internal::*,
    ops::{
        element_wise::{ElementWiseMiniOp, ElementWiseOp},
        math, nn,
    },
};

/// Refuses any element type but float32, the only one these operators compute.
fn float32(dt: DatumType, what: &str) -> TractResult<()> {
    ensure!(
        dt == f32::datum_type(),
        "{what} is computed on float32 only, not {dt:?}"
    );
    Ok(())
}

/// An element-wise function computed with `libm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unary {
    /// `e^x`.
    Exp,
    /// Natural logarithm.
    Ln,
    /// Hyperbolic tangent.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// The error function.
    Erf,
}

impl Unary {
    /// The function, on one element.
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Self::Exp => libm::expf(x),
            Self::Ln => libm::logf(x),
            Self::Tanh => libm::tanhf(x),
            Self::Sigmoid => 1.0 / (1.0 + libm::expf(-x)),
            Self::Erf => libm::erff(x),
        }
    }

    /// The function tract's mini-operator computes, if it is one of these.
    fn of(op: &dyn ElementWiseMiniOp) -> Option<Self> {
        if op.is::<math::Exp>() {
            Some(Self::Exp)
        } else if op.is::<math::Ln>() {
            Some(Self::Ln)
        } else if op.is::<math::Tanh>() {
            Some(Self::Tanh)
        } else if op.is::<nn::Sigmoid>() {
            Some(Self::Sigmoid)
        } else if op.is::<math::Erf>() {
            Some(Self::Erf)
        } else {
            None
        }
    }
}

impl ElementWiseMiniOp for Unary {
    fn name(&self) -> String {
        format!("Deterministic{self:?}")
    }

    fn eval_in_place(&self, t: &mut Tensor, _out_dt: Option<DatumType>) -> TractResult<()> {
        float32(t.datum_type(), &format!("{self:?}"))?;
        for x in t.try_as_plain_ram_mut()?.as_slice_mut::<f32>()? {
            *x = self.apply(*x);
        }
        Ok(())
    }
}

/// `Softmax` or `LogSoftmax` over consecutive axes, in a fixed order of operations.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DetSoftmax {
    /// The axes a softmax runs over (consecutive).
    pub axes: TVec<usize>,
    /// `LogSoftmax`.
    pub log: bool,
}

impl DetSoftmax {
    /// Applies the operator to `data` of `shape` in place.
    pub fn apply(&self, shape: &[usize], data: &mut [f32]) -> TractResult<()> {
        let (Some(&first), Some(&last)) = (self.axes.first(), self.axes.last()) else {
            bail!("softmax over no axis");
        };
        ensure!(
            last < shape.len() && self.axes.windows(2).all(|w| w[1] == w[0] + 1),
            "softmax axes {:?} are not consecutive axes of a rank-{} tensor",
            self.axes,
            shape.len()
        );
        let outer: usize = shape[..first].iter().product();
        let lane: usize = shape[first..=last].iter().product();
        let inner: usize = shape[last + 1..].iter().product();
        if lane == 0 {
            return Ok(());
        }
        for o in 0..outer {
            for i in 0..inner {
                let at = |k: usize| (o * lane + k) * inner + i;
                let mut max = data[at(0)];
                for k in 1..lane {
                    let v = data[at(k)];
                    if v > max {
                        max = v;
                    }
                }
                let mut sum = 0f32;
                for k in 0..lane {
                    let e = libm::expf(data[at(k)] - max);
                    sum += e;
                    if !self.log {
                        data[at(k)] = e;
                    }
                }
                if self.log {
                    let ln_sum = libm::logf(sum);
                    for k in 0..lane {
                        data[at(k)] = (data[at(k)] - max) - ln_sum;
                    }
                } else {
                    for k in 0..lane {
                        data[at(k)] /= sum;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Op for DetSoftmax {
    fn name(&self) -> StaticName {
        if self.log {
            "DeterministicLogSoftmax".into()
        } else {
            "DeterministicSoftmax".into()
        }
    }

    op_as_typed_op!();
}

impl EvalOp for DetSoftmax {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext<'_>, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        float32(input.datum_type(), "softmax")?;
        let mut t = input.into_tensor();
        let shape = t.shape().to_vec();
        self.apply(&shape, t.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?)?;
        Ok(tvec!(t.into_tvalue()))
    }
}

impl TypedOp for DetSoftmax {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].datum_type.fact(inputs[0].shape.clone())))
    }

    as_op!();
}

/// What a [`DetReduce`] computes over its axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reduction {
    /// The sum, from `0.0`, adding in row-major order.
    Sum,
    /// The largest element (`NaN` if any is).
    Max,
    /// The smallest element (`NaN` if any is).
    Min,
}

/// A reduction over some axes, kept with size 1 (tract's `Reduce`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DetReduce {
    /// The reduced axes.
    pub axes: TVec<usize>,
    /// What it computes.
    pub reduction: Reduction,
}

impl DetReduce {
    /// The output shape of an input of `shape`.
    pub fn output_shape<D: Clone>(&self, shape: &[D], one: D) -> Vec<D> {
        shape
            .iter()
            .enumerate()
            .map(|(axis, d)| {
                if self.axes.contains(&axis) {
                    one.clone()
                } else {
                    d.clone()
                }
            })
            .collect()
    }

    /// Reduces `data` of `shape`: every output accumulates its elements in the input's
    /// row-major order.
    pub fn apply(&self, shape: &[usize], data: &[f32]) -> TractResult<Vec<f32>> {
        ensure!(
            self.axes.iter().all(|&a| a < shape.len()),
            "reduction axes {:?} outside a rank-{} tensor",
            self.axes,
            shape.len()
        );
        let out_shape = self.output_shape(shape, 1);
        let len: usize = out_shape.iter().product();
        let (start, nan) = match self.reduction {
            Reduction::Sum => (0f32, false),
            Reduction::Max => (f32::NEG_INFINITY, true),
            Reduction::Min => (f32::INFINITY, true),
        };
        let mut out = vec![start; len];
        let mut seen_nan = vec![false; if nan { len } else { 0 }];
        // Output strides, with 0 on the reduced axes.
        let mut strides = vec![0usize; shape.len()];
        let mut stride = 1;
        for a in (0..shape.len()).rev() {
            if !self.axes.contains(&a) {
                strides[a] = stride;
            }
            stride *= out_shape[a];
        }
        let mut index = vec![0usize; shape.len()];
        let mut at = 0usize;
        for &x in data {
            let slot = &mut out[at];
            match self.reduction {
                Reduction::Sum => *slot += x,
                Reduction::Max if x.is_nan() => seen_nan[at] = true,
                Reduction::Max => {
                    if x > *slot {
                        *slot = x;
                    }
                }
                Reduction::Min if x.is_nan() => seen_nan[at] = true,
                Reduction::Min => {
                    if x < *slot {
                        *slot = x;
                    }
                }
            }
            // Advance the row-major index and the output offset with it.
            for a in (0..shape.len()).rev() {
                index[a] += 1;
                at += strides[a];
                if index[a] < shape[a] {
                    break;
                }
                at -= strides[a] * shape[a];
                index[a] = 0;
            }
        }
        for (v, nan) in out.iter_mut().zip(&seen_nan) {
            if *nan {
                *v = f32::NAN;
            }
        }
        Ok(out)
    }
}

impl Op for DetReduce {
    fn name(&self) -> StaticName {
        format!("Deterministic{:?}", self.reduction).into()
    }

    op_as_typed_op!();
}

impl EvalOp for DetReduce {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext<'_>, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        float32(input.datum_type(), "a reduction")?;
        let shape = input.shape().to_vec();
        let out = self.apply(&shape, input.try_as_plain_ram()?.as_slice::<f32>()?)?;
        let out_shape = self.output_shape(&shape, 1);
        Ok(tvec!(tensor1(&out).into_shape(&out_shape)?.into_tvalue()))
    }
}

impl TypedOp for DetReduce {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape: Vec<TDim> = inputs[0].shape.iter().cloned().collect();
        Ok(tvec!(
            inputs[0]
                .datum_type
                .fact(self.output_shape(&shape, TDim::Val(1)))
        ))
    }

    as_op!();
}

/// The deterministic replacement of a typed node's operator, if it needs one.
fn replacement(model: &TypedModel, node: &TypedNode) -> TractResult<Option<Box<dyn TypedOp>>> {
    if let Some(ew) = node.op_as::<ElementWiseOp>() {
        return Ok(Unary::of(ew.0.as_ref())
            .map(|u| Box::new(ElementWiseOp(Box::new(u), ew.1)) as Box<dyn TypedOp>));
    }
    if let Some(softmax) = node.op_as::<nn::Softmax>() {
        ensure!(
            softmax.quant_output_dt.is_none(),
            "a quantized softmax is not supported"
        );
        return Ok(Some(Box::new(DetSoftmax {
            axes: softmax.axes.clone(),
            log: softmax.kind == nn::SoftmaxKind::LogSoftmax,
        })));
    }
    if let Some(reduce) = node.op_as::<nn::Reduce>() {
        let reduction = match reduce.reducer {
            nn::Reducer::Sum => Reduction::Sum,
            nn::Reducer::Max => Reduction::Max,
            nn::Reducer::Min => Reduction::Min,
            other => bail!("the reduction {other:?} is not supported"),
        };
        let fact = model.outlet_fact(node.inputs[0])?;
        float32(fact.datum_type, "a reduction")?;
        return Ok(Some(Box::new(DetReduce {
            axes: reduce.axes.clone(),
            reduction,
        })));
    }
    Ok(None)
}

/// Replaces the nodes from `first` to `last` (one node, or a node and its only successor)
/// by `op` on `inputs`.
fn swap(
    model: &mut TypedModel,
    first: usize,
    last: usize,
    op: Box<dyn TypedOp>,
    inputs: &[OutletId],
) -> TractResult<()> {
    let mut patch = TypedModelPatch::default();
    let taps = inputs
        .iter()
        .map(|i| patch.tap_model(model, *i))
        .collect::<TractResult<TVec<_>>>()?;
    let wire = patch.wire_node(model.node(first).name.clone(), op, &taps)?;
    patch.shunt_outside(model, OutletId::new(last, 0), wire[0])?;
    patch.apply(model)
}

/// Swaps every node of `model` that tract would compute with per-CPU kernels for this
/// module's operators; `Softmax` followed only by `Ln` becomes one `LogSoftmax`. Returns
/// how many nodes were swapped.
pub fn make_deterministic(model: &mut TypedModel) -> TractResult<usize> {
    let mut swapped = 0;
    // Nodes already replaced (an `Ln` fused into the `Softmax` before it).
    let mut done = std::collections::BTreeSet::new();
    for id in model.eval_order()? {
        if done.contains(&id) {
            continue;
        }
        let node = model.node(id);
        let folded = match crate::linear::replacement(model, node)? {
            Some(found) => Some(found),
            None => crate::binary::replacement(model, node)?,
        };
        if let Some((op, inputs)) = folded {
            swap(model, id, id, op, &inputs)?;
            swapped += 1;
            continue;
        }
        let Some(op) = replacement(model, node)? else {
            continue;
        };
        // `ln(softmax(x))`, how tract types an ONNX `LogSoftmax`: one log-softmax.
        let ln_after = node
            .op_as::<nn::Softmax>()
            .and_then(|_| match node.outputs[0].successors.as_slice() {
                [succ] => Some(model.node(succ.node)),
                _ => None,
            })
            .filter(|next| {
                next.op_as::<ElementWiseOp>()
                    .is_some_and(|ew| Unary::of(ew.0.as_ref()) == Some(Unary::Ln))
            })
            .map(|next| next.id);
        let (op, last): (Box<dyn TypedOp>, usize) = match (ln_after, node.op_as::<nn::Softmax>()) {
            (Some(ln), Some(softmax)) => (
                Box::new(DetSoftmax {
                    axes: softmax.axes.clone(),
                    log: true,
                }),
                ln,
            ),
            _ => (op, id),
        };
        let inputs = node.inputs.clone();
        swap(model, id, last, op, &inputs)?;
        done.insert(last);
        swapped += 1;
    }
    model.compact()?;
    crate::linear::fold_epilogues(model)?;
    Ok(swapped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tract_onnx::prelude::{Framework, InferenceModelExt};
    use tract_onnx::tract_core::ops::einsum::EinSum;

    /// The softmax of one lane, written the plain way, in the same order of operations.
    fn softmax_reference(lane: &[f32], log: bool) -> Vec<f32> {
        let max = lane
            .iter()
            .copied()
            .fold(lane[0], |m, v| if v > m { v } else { m });
        let exps: Vec<f32> = lane.iter().map(|&v| libm::expf(v - max)).collect();
        let mut sum = 0f32;
        for e in &exps {
            sum += e;
        }
        if log {
            lane.iter().map(|&v| (v - max) - libm::logf(sum)).collect()
        } else {
            exps.iter().map(|e| e / sum).collect()
        }
    }

    fn shape_and_data() -> impl Strategy<Value = (Vec<usize>, Vec<f32>)> {
        prop::collection::vec(1usize..6, 1..5).prop_flat_map(|shape| {
            let n: usize = shape.iter().product();
            (Just(shape), prop::collection::vec(-30f32..30f32, n..=n))
        })
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|f| f.to_bits()).collect()
    }

    proptest! {
        #[test]
        fn softmax_is_the_lane_by_lane_reference((shape, data) in shape_and_data(), axis in 0usize..4, log: bool) {
            let axis = axis % shape.len();
            let mut got = data.clone();
            DetSoftmax { axes: tvec![axis], log }.apply(&shape, &mut got).unwrap();
            // Gather each lane along `axis`, and compare.
            let outer: usize = shape[..axis].iter().product();
            let inner: usize = shape[axis + 1..].iter().product();
            let lane = shape[axis];
            for o in 0..outer {
                for i in 0..inner {
                    let at = |k: usize| (o * lane + k) * inner + i;
                    let want = softmax_reference(&(0..lane).map(|k| data[at(k)]).collect::<Vec<_>>(), log);
                    let have: Vec<f32> = (0..lane).map(|k| got[at(k)]).collect();
                    prop_assert_eq!(bits(&have), bits(&want));
                }
            }
        }

        #[test]
        fn reductions_are_the_row_major_reference((shape, data) in shape_and_data(), mask in 0u8..16, which in 0u8..3) {
            let axes: TVec<usize> = (0..shape.len()).filter(|a| mask & (1 << a) != 0).collect();
            let reduction = [Reduction::Sum, Reduction::Max, Reduction::Min][which as usize];
            let op = DetReduce { axes: axes.clone(), reduction };
            let got = op.apply(&shape, &data).unwrap();
            let out_shape = op.output_shape(&shape, 1);
            // Reference: for each output, walk the whole input in row-major order and
            // take the elements that map to it.
            let mut want = Vec::new();
            let strides: Vec<usize> = (0..shape.len()).map(|a| shape[a + 1..].iter().product()).collect();
            let out_len: usize = out_shape.iter().product();
            for o in 0..out_len {
                let mut rest = o;
                let mut coords = vec![0; shape.len()];
                for a in (0..shape.len()).rev() {
                    coords[a] = rest % out_shape[a];
                    rest /= out_shape[a];
                }
                let mut acc = match reduction { Reduction::Sum => 0f32, Reduction::Max => f32::NEG_INFINITY, Reduction::Min => f32::INFINITY };
                for (flat, &x) in data.iter().enumerate() {
                    let mine = (0..shape.len()).all(|a| axes.contains(&a) || (flat / strides[a]) % shape[a] == coords[a]);
                    if mine {
                        acc = match reduction {
                            Reduction::Sum => acc + x,
                            Reduction::Max => if x > acc { x } else { acc },
                            Reduction::Min => if x < acc { x } else { acc },
                        };
                    }
                }
                want.push(acc);
            }
            prop_assert_eq!(bits(&got), bits(&want));
        }
    }

    /// Nodes tract would compute with its own kernels for these operators.
    fn tract_native(model: &TypedModel) -> usize {
        model
            .nodes()
            .iter()
            .filter(|n| {
                n.op_is::<nn::Softmax>()
                    || n.op_is::<nn::Reduce>()
                    || n.op_as::<ElementWiseOp>()
                        .is_some_and(|ew| Unary::of(ew.0.as_ref()).is_some())
            })
            .count()
    }

    #[test]
    fn every_operator_of_the_zoo_is_swapped_before_tract_optimises() {
        crate::determinism::init();
        for (name, bytes) in crate::builder::operator_zoo() {
            let mut typed = tract_onnx::onnx()
                .with_ignore_value_info(true)
                .model_for_read(&mut bytes.as_slice())
                .unwrap()
                .into_typed()
                .unwrap();
            let before = tract_native(&typed);
            assert!(before > 0, "{name} uses none of the operators");
            let swapped = make_deterministic(&mut typed).unwrap();
            assert_eq!(tract_native(&typed), 0, "{name}");
            // The transcendental operators, and the products and constant arithmetic.
            assert!(swapped >= before - 1, "{name}: {swapped} of {before}");
            assert!(
                typed.nodes().iter().all(|n| !n.op_is::<EinSum>()
                    && !n.op_is::<tract_onnx::tract_core::ops::cnn::Conv>()),
                "{name}: a product is left to tract"
            );
            // Nothing of tract's optimiser brings them back.
            let optimized = typed.into_optimized().unwrap();
            assert_eq!(tract_native(&optimized), 0, "{name}");
            let ours = optimized
                .nodes()
                .iter()
                .filter(|n| n.op.name().starts_with("Deterministic"))
                .count();
            // (Identical constant arithmetic on one value may be merged into one node.)
            assert!(ours > 0 && ours <= swapped, "{name}: {ours} of {swapped}");
        }
    }

    /// Softmax before opset 13 normalises over every axis from `axis` on (default 1), from
    /// opset 13 over `axis` alone (default -1): both semantics survive the swap.
    #[test]
    fn softmax_keeps_each_opsets_semantics() {
        use crate::{Limits, builder::GraphBuilder, model::Model};
        for (opset, lane) in [(11, 10usize), (13, 5usize)] {
            let mut b = GraphBuilder::new(&[2, 5], None).opset(opset);
            let y = b.node("Softmax", &["x"], vec![]);
            let bytes = b.finish(&y);
            let model = Model::load(&bytes, &Limits::default()).unwrap();
            let x: Vec<f32> = (0..30).map(|i| (i as f32 * 0.37).sin() * 4.0).collect();
            let out = model.run(x.clone(), 3).unwrap();
            for (i, (got, row)) in out.chunks(lane).zip(x.chunks(lane)).enumerate() {
                let want = softmax_reference(row, false);
                assert_eq!(bits(got), bits(&want), "opset {opset}, lane {i}");
            }
        }
    }

    #[test]
    fn log_softmax_stays_finite_where_softmax_underflows() {
        let mut soft = vec![0.0, -200.0];
        DetSoftmax {
            axes: tvec![0],
            log: false,
        }
        .apply(&[2], &mut soft)
        .unwrap();
        assert_eq!(soft[1], 0.0, "exp(-200) underflows in float32");
        let mut log = vec![0.0, -200.0];
        DetSoftmax {
            axes: tvec![0],
            log: true,
        }
        .apply(&[2], &mut log)
        .unwrap();
        assert_eq!(log, vec![0.0, -200.0]);
    }

    #[test]
    fn a_nan_wins_a_max_and_a_min() {
        let data = [1.0, f32::NAN, 3.0, 2.0];
        for reduction in [Reduction::Max, Reduction::Min] {
            let out = DetReduce {
                axes: tvec![1],
                reduction,
            }
            .apply(&[2, 2], &data)
            .unwrap();
            assert!(out[0].is_nan(), "{reduction:?}");
            assert!(!out[1].is_nan(), "{reduction:?}");
        }
    }

    #[test]
    fn the_functions_are_libm() {
        for x in [-3.5f32, -0.0, 0.0, 0.25, 1.0, 7.0] {
            assert_eq!(Unary::Exp.apply(x).to_bits(), libm::expf(x).to_bits());
            assert_eq!(Unary::Tanh.apply(x).to_bits(), libm::tanhf(x).to_bits());
            assert_eq!(Unary::Erf.apply(x).to_bits(), libm::erff(x).to_bits());
            assert_eq!(
                Unary::Sigmoid.apply(x).to_bits(),
                (1.0 / (1.0 + libm::expf(-x))).to_bits()
            );
        }
        assert!(Unary::Ln.apply(-1.0).is_nan());
        assert_eq!(Unary::Ln.apply(1.0), 0.0);
    }
}
