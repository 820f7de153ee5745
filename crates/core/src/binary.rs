//! Element-wise arithmetic of a value with a constant: the input scaling, bias additions
//! and ReLUs (`Max` with zero) of a model.
//!
//! tract evaluates a broadcasting binary operator element by element through `ndarray`
//! when it cannot prove the broadcast pattern (a symbolic batch), and rewrites `x / c` as
//! `x · (1 / c)`. [`DetBinary`] computes the operator as written, in one pass over rows of
//! the last axis (each row against one constant element or one constant row). `Max` and
//! `Min` are defined here, not by the platform's `fmax`: a NaN operand gives NaN, and
//! between zeros of both signs `Max` gives `+0`, `Min` `-0`.

use crate::linear::{Replacement, constant};
use std::sync::Arc;
use tract_onnx::tract_core::{internal::*, ops::binary::TypedBinOp};

/// The arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a · b`.
    Mul,
    /// `a / b`.
    Div,
    /// The larger.
    Max,
    /// The smaller.
    Min,
}

impl BinOp {
    fn of(name: &str) -> Option<Self> {
        Some(match name {
            "Add" => Self::Add,
            "Sub" => Self::Sub,
            "Mul" => Self::Mul,
            "Div" => Self::Div,
            "Max" => Self::Max,
            "Min" => Self::Min,
            _ => return None,
        })
    }

    /// `a op b`.
    #[inline(always)]
    pub fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            Self::Add => a + b,
            Self::Sub => a - b,
            Self::Mul => a * b,
            Self::Div => a / b,
            Self::Max => max(a, b),
            Self::Min => min(a, b),
        }
    }
}

/// `Max`: NaN if either is NaN, `+0` between zeros of both signs, else the larger. Written
/// with selects where SIMD lanes can take them, with early-out comparisons on riscv64
/// (fewer guest instructions); both forms are checked equal on every class of operand.
#[inline(always)]
pub fn max(a: f32, b: f32) -> f32 {
    if cfg!(target_arch = "riscv64") {
        max_branching(a, b)
    } else {
        max_selecting(a, b)
    }
}

#[inline(always)]
fn max_selecting(a: f32, b: f32) -> f32 {
    let larger = if a > b { a } else { b };
    let tie = if a == b {
        f32::from_bits(a.to_bits() & b.to_bits())
    } else {
        larger
    };
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        tie
    }
}

#[inline(always)]
fn max_branching(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else if b > a {
        b
    } else if a == b {
        f32::from_bits(a.to_bits() & b.to_bits())
    } else {
        f32::NAN
    }
}

/// `Min`: NaN if either is NaN, `-0` between zeros of both signs, else the smaller.
#[inline(always)]
pub fn min(a: f32, b: f32) -> f32 {
    let smaller = if a < b { a } else { b };
    let tie = if a == b {
        f32::from_bits(a.to_bits() | b.to_bits())
    } else {
        smaller
    };
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else {
        tie
    }
}

/// `max(x, +0)`, the ReLU, with one comparison in the common case.
#[inline(always)]
pub fn relu(x: f32) -> f32 {
    if x > 0.0 {
        x
    } else if x.is_nan() {
        f32::NAN
    } else {
        0.0
    }
}

/// `x op c` (or `c op x`) for a float32 `x` and a constant `c` that broadcasts to `x`'s shape.
#[derive(Debug, Clone)]
pub struct DetBinary {
    op: BinOp,
    /// The constant's shape, left-padded with ones to the rank of `x`.
    shape: TVec<usize>,
    values: Arc<[f32]>,
    constant_first: bool,
}

impl PartialEq for DetBinary {
    fn eq(&self, other: &Self) -> bool {
        (self.op, &self.shape, self.constant_first)
            == (other.op, &other.shape, other.constant_first)
            && self.values == other.values
    }
}
impl Eq for DetBinary {}

impl DetBinary {
    /// `Max(x, +0)`.
    pub(crate) fn is_relu(&self) -> bool {
        self.op == BinOp::Max && self.values.len() == 1 && self.values[0].to_bits() == 0
    }

    /// The constant of `x + c` when `c` is one row of `n` values added to every row of `x`.
    pub(crate) fn row_addend(&self, n: usize) -> Option<Arc<[f32]>> {
        let row = self.shape.iter().rev().skip(1).all(|&d| d == 1) && self.shape.last() == Some(&n);
        (self.op == BinOp::Add && row).then(|| self.values.clone())
    }

    /// Computes `x op c` in place over `x`, of shape `shape`.
    fn apply(&self, shape: &[usize], x: &mut [f32]) {
        // One loop per operator and side, so each is a plain (vectorisable) loop.
        macro_rules! each {
            ($($op:ident),*) => {
                match (self.op, self.constant_first) {
                    $(
                        (BinOp::$op, false) => self.rows(shape, x, |y, c| BinOp::$op.apply(y, c)),
                        (BinOp::$op, true) => self.rows(shape, x, |y, c| BinOp::$op.apply(c, y)),
                    )*
                }
            };
        }
        each!(Add, Sub, Mul, Div, Max, Min)
    }

    #[inline(always)]
    fn rows(&self, shape: &[usize], x: &mut [f32], f: impl Fn(f32, f32) -> f32) {
        let rank = shape.len();
        let last = shape.last().copied().unwrap_or(1);
        // The constant's strides, zero along the axes it is broadcast over.
        let mut strides = tvec![0usize; rank];
        let mut stride = 1;
        for axis in (0..rank).rev() {
            if self.shape[axis] != 1 {
                strides[axis] = stride;
            }
            stride *= self.shape[axis];
        }
        let along_last = strides.last().copied().unwrap_or(0) != 0;
        for (r, row) in x.chunks_exact_mut(last.max(1)).enumerate() {
            let (mut rest, mut at) = (r, 0);
            for axis in (0..rank.saturating_sub(1)).rev() {
                at += (rest % shape[axis]) * strides[axis];
                rest /= shape[axis];
            }
            if along_last {
                for (y, &c) in row.iter_mut().zip(&self.values[at..]) {
                    *y = f(*y, c);
                }
            } else {
                let c = self.values[at];
                row.iter_mut().for_each(|y| *y = f(*y, c));
            }
        }
    }
}

impl Op for DetBinary {
    fn name(&self) -> StaticName {
        format!("Deterministic{:?}", self.op).into()
    }

    op_as_typed_op!();
}

impl EvalOp for DetBinary {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext<'_>, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        ensure!(
            x.datum_type() == f32::datum_type() && x.rank() == self.shape.len(),
            "{:?} {:?} against a constant of shape {:?}",
            x.datum_type(),
            x.shape(),
            self.shape
        );
        let mut x = x.into_tensor();
        let shape = x.shape().to_vec();
        for (d, c) in shape.iter().zip(&self.shape) {
            ensure!(
                *c == 1 || c == d,
                "{shape:?} against a constant of shape {:?}",
                self.shape
            );
        }
        self.apply(&shape, x.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?);
        Ok(tvec!(x.into_tvalue()))
    }
}

impl TypedOp for DetBinary {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(inputs[0].shape.clone())))
    }

    as_op!();
}

/// The deterministic replacement of a float32 binary operator with one constant operand,
/// when the other operand already has the output's shape.
pub(crate) fn replacement(
    model: &TypedModel,
    node: &TypedNode,
) -> TractResult<Option<Replacement>> {
    let Some(bin) = node.op_as::<TypedBinOp>() else {
        return Ok(None);
    };
    let Some(op) = BinOp::of(bin.0.name()) else {
        return Ok(None);
    };
    let &[left, right] = node.inputs.as_slice() else {
        return Ok(None);
    };
    let (value, constant_first, c) = match (constant(model, left)?, constant(model, right)?) {
        (None, Some(c)) => (left, false, c),
        (Some(c), None) => (right, true, c),
        _ => return Ok(None),
    };
    let fact = model.outlet_fact(value)?;
    let out = &node.outputs[0].fact;
    if bin.1.is_some()
        || fact.datum_type != f32::datum_type()
        || c.datum_type() != f32::datum_type()
        || out.datum_type != f32::datum_type()
        || fact.shape != out.shape
        || c.rank() > fact.rank()
    {
        return Ok(None);
    }
    let mut shape: TVec<usize> = tvec![1; fact.rank() - c.rank()];
    shape.extend_from_slice(c.shape());
    for (d, s) in fact.shape.iter().zip(&shape) {
        if *s != 1 && d.as_i64() != Some(*s as i64) {
            return Ok(None);
        }
    }
    let values: Arc<[f32]> = c.try_as_plain_ram()?.as_slice::<f32>()?.into();
    Ok(Some((
        Box::new(DetBinary {
            op,
            shape,
            values,
            constant_first,
        }),
        tvec!(value),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two forms of `max`, and `relu`, agree on every class of operand: zeros of both
    /// signs, infinities, NaNs with payloads, subnormals, and random bit patterns.
    #[test]
    fn max_forms_and_relu_agree() {
        let mut values = vec![
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            f32::from_bits(0x7fc0_1234),
            f32::from_bits(0xffc0_0001),
            f32::MIN_POSITIVE / 2.0,
            -f32::MIN_POSITIVE / 2.0,
            f32::MAX,
            f32::MIN,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            values.push(f32::from_bits(state as u32));
        }
        for &a in &values {
            assert_eq!(
                relu(a).to_bits(),
                max_selecting(a, 0.0).to_bits(),
                "relu({a:?})"
            );
            for &b in values.iter().take(40) {
                let want = max_selecting(a, b).to_bits();
                assert_eq!(max_branching(a, b).to_bits(), want, "max({a:?}, {b:?})");
                assert_eq!(max_branching(b, a).to_bits(), want, "max({b:?}, {a:?})");
            }
        }
    }

    #[test]
    fn max_and_min_are_defined_on_zeros_and_nan() {
        let (p, n) = (0.0f32, -0.0f32);
        assert_eq!(BinOp::Max.apply(n, p).to_bits(), p.to_bits());
        assert_eq!(BinOp::Max.apply(p, n).to_bits(), p.to_bits());
        assert_eq!(BinOp::Min.apply(p, n).to_bits(), n.to_bits());
        assert_eq!(BinOp::Min.apply(n, p).to_bits(), n.to_bits());
        assert!(BinOp::Max.apply(f32::NAN, 1.0).is_nan());
        assert!(BinOp::Min.apply(1.0, f32::NAN).is_nan());
        assert_eq!(BinOp::Max.apply(-1.0, 2.0), 2.0);
        assert_eq!(BinOp::Min.apply(-1.0, 2.0), -1.0);
    }

    /// Rows against a per-channel constant (NCHW bias), a row constant and a scalar, on the
    /// left and on the right, against an element-by-element reference.
    #[test]
    fn broadcasts_like_the_reference() {
        let shape = [2usize, 3, 2, 4];
        let x: Vec<f32> = (0..48).map(|i| i as f32 * 0.37 - 7.0).collect();
        for cshape in [
            vec![1usize, 3, 1, 1],
            vec![1, 1, 1, 4],
            vec![1, 1, 1, 1],
            vec![2, 3, 2, 4],
            vec![2, 1, 2, 1],
        ] {
            let volume: usize = cshape.iter().product();
            let values: Vec<f32> = (0..volume).map(|i| i as f32 * 1.5 - 2.0).collect();
            for op in [BinOp::Sub, BinOp::Div, BinOp::Max] {
                for constant_first in [false, true] {
                    let det = DetBinary {
                        op,
                        shape: cshape.iter().copied().collect(),
                        values: values.clone().into(),
                        constant_first,
                    };
                    let mut got = x.clone();
                    det.apply(&shape, &mut got);
                    for (i, (&g, &xi)) in got.iter().zip(&x).enumerate() {
                        let idx = [i / 24, i / 8 % 3, i / 4 % 2, i % 4];
                        let ci = idx
                            .iter()
                            .zip(&cshape)
                            .fold(0, |acc, (&ix, &d)| acc * d + if d == 1 { 0 } else { ix });
                        let c = values[ci];
                        let want = if constant_first {
                            op.apply(c, xi)
                        } else {
                            op.apply(xi, c)
                        };
                        assert_eq!(g.to_bits(), want.to_bits(), "{op:?} {cshape:?} at {i}");
                    }
                }
            }
        }
    }
}
