//! Per-competition limits on submitted models and datasets, checked before anything is
//! materialised, and the operator allow-list.

use crucible_types::abi;
use serde::Serialize;
use std::collections::BTreeSet;

/// ONNX operators a model may use unless a competition narrows the list. Every one of them
/// is arithmetic that the host (with [`crate::determinism::CPU_ISA`]) and the RISC-V generic
/// kernels compute bit for bit the same, pure data movement, or one that [`crate::ops`]
/// computes itself in one order of f32 operations (Exp, Log, Tanh, Sigmoid, Erf, Softmax,
/// LogSoftmax, ReduceSum/Mean/Max, GlobalAveragePool's sum); the golden tests prove each
/// host ↔ riscv64. Operators that allocate from a runtime shape (ConstantOfShape, Expand,
/// Tile, Range…) and control flow (If, Loop, Scan) are left out for safety.
pub const DEFAULT_OPS: &[&str] = &[
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Clip",
    "Concat",
    "Constant",
    "Conv",
    "Div",
    "Dropout",
    "Erf",
    "Exp",
    "Flatten",
    "Gemm",
    "GlobalAveragePool",
    "Identity",
    "LeakyRelu",
    "Log",
    "LogSoftmax",
    "MatMul",
    "Max",
    "MaxPool",
    "Min",
    "Mul",
    "ReduceMax",
    "ReduceMean",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Sigmoid",
    "Softmax",
    "Squeeze",
    "Sub",
    "Tanh",
    "Transpose",
    "Unsqueeze",
];

/// Resolved model and dataset limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Largest accepted model file.
    pub max_model_bytes: u64,
    /// Most tensor elements over all initializers and `Constant` nodes.
    pub max_params: u64,
    /// Most graph nodes, initializers included (tract makes a node of each).
    pub max_nodes: u32,
    /// Most multiply-accumulates for one sample's forward pass.
    pub max_macs_per_sample: u64,
    /// Most work for one sample: the cost model's estimate of RISC-V guest instructions of
    /// one run divided by its rows ([`crate::cost`]).
    pub max_work_per_sample: u64,
    /// Most elements of any tensor a node produces in one run (one batch).
    pub max_tensor_elements: u64,
    /// Most bytes of all the tensors and scratch buffers of one run.
    pub max_batch_bytes: u64,
    /// Largest fixed batch dimension a model may declare.
    pub max_fixed_batch: u32,
    /// Largest kernel dimension, stride, dilation and pad of a `Conv` or `MaxPool`.
    pub max_window: u32,
    /// Lowest default-domain opset a model may import.
    pub min_opset: u16,
    /// Highest default-domain opset a model may import.
    pub max_opset: u16,
    /// Most rows in a validation or test set.
    pub max_dataset_rows: u32,
    /// Operators a model may use, sorted.
    pub allowed_ops: BTreeSet<String>,
}

impl Default for Limits {
    /// The limits of a standalone `evaluate`, and the ceiling a competition may ask for.
    fn default() -> Self {
        Self {
            max_model_bytes: 8 << 20,
            max_params: 2_000_000,
            max_nodes: 512,
            max_macs_per_sample: 20_000_000,
            max_work_per_sample: 100_000_000,
            max_tensor_elements: 1 << 22,
            max_batch_bytes: 64 << 20,
            max_fixed_batch: 256,
            max_window: 64,
            min_opset: 7,
            max_opset: 21,
            max_dataset_rows: 100_000,
            allowed_ops: DEFAULT_OPS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

impl Limits {
    /// Resolves the limits a sponsor asked for, refusing anything looser than `ceiling`.
    pub fn from_abi(spec: &abi::ModelLimits, ceiling: &Self) -> Result<Self, String> {
        fn within<T: PartialOrd + std::fmt::Display>(
            name: &str,
            v: T,
            zero: T,
            max: T,
        ) -> Result<T, String> {
            if v <= zero || v > max {
                return Err(format!("limits.{name} = {v} must be in 1..={max}"));
            }
            Ok(v)
        }
        let min_opset = spec.minOpset;
        let max_opset = spec.maxOpset;
        if min_opset < ceiling.min_opset || max_opset > ceiling.max_opset || min_opset > max_opset {
            return Err(format!(
                "limits opset range {min_opset}..={max_opset} must lie within {}..={}",
                ceiling.min_opset, ceiling.max_opset
            ));
        }
        let allowed_ops = if spec.allowedOps.is_empty() {
            ceiling.allowed_ops.clone()
        } else {
            let mut ops = BTreeSet::new();
            for op in &spec.allowedOps {
                if !ceiling.allowed_ops.contains(op) || crate::cost::coefficient(op).is_none() {
                    return Err(format!(
                        "limits.allowedOps names {op:?}, which the scorer does not support"
                    ));
                }
                ops.insert(op.clone());
            }
            ops
        };
        Ok(Self {
            max_model_bytes: within(
                "maxModelBytes",
                spec.maxModelBytes,
                0,
                ceiling.max_model_bytes,
            )?,
            max_params: within("maxParams", spec.maxParams, 0, ceiling.max_params)?,
            max_nodes: within("maxNodes", spec.maxNodes, 0, ceiling.max_nodes)?,
            max_macs_per_sample: within(
                "maxMacsPerSample",
                spec.maxMacsPerSample,
                0,
                ceiling.max_macs_per_sample,
            )?,
            max_work_per_sample: within(
                "maxWorkPerSample",
                spec.maxWorkPerSample,
                0,
                ceiling.max_work_per_sample,
            )?,
            max_tensor_elements: within(
                "maxTensorElements",
                spec.maxTensorElements,
                0,
                ceiling.max_tensor_elements,
            )?,
            max_batch_bytes: within(
                "maxBatchBytes",
                spec.maxBatchBytes,
                0,
                ceiling.max_batch_bytes,
            )?,
            max_fixed_batch: within(
                "maxFixedBatch",
                spec.maxFixedBatch,
                0,
                ceiling.max_fixed_batch,
            )?,
            max_window: within("maxWindow", spec.maxWindow, 0, ceiling.max_window)?,
            min_opset,
            max_opset,
            max_dataset_rows: within(
                "maxDatasetRows",
                spec.maxDatasetRows,
                0,
                ceiling.max_dataset_rows,
            )?,
            allowed_ops,
        })
    }

    /// The ABI form of these limits.
    pub fn to_abi(&self) -> abi::ModelLimits {
        abi::ModelLimits {
            maxModelBytes: self.max_model_bytes,
            maxParams: self.max_params,
            maxNodes: self.max_nodes,
            maxMacsPerSample: self.max_macs_per_sample,
            maxWorkPerSample: self.max_work_per_sample,
            maxTensorElements: self.max_tensor_elements,
            maxBatchBytes: self.max_batch_bytes,
            maxFixedBatch: self.max_fixed_batch,
            maxWindow: self.max_window,
            minOpset: self.min_opset,
            maxOpset: self.max_opset,
            maxDatasetRows: self.max_dataset_rows,
            allowedOps: self.allowed_ops.iter().cloned().collect(),
        }
    }
}
