//! Model validation and loading. Every check that bounds memory or time runs on the
//! protobuf before tract sees the model; then tract types, costs, optimises and runs it
//! inside [`crate::determinism::guarded`], so a failure or a panic is a reason, not a crash.

use crate::{
    cost::{self, RunCost},
    determinism,
    limits::Limits,
};
use prost::Message;
use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};
use tract_onnx::{
    pb::{self, tensor_proto::DataType, tensor_shape_proto::dimension, type_proto},
    prelude::*,
    tract_core::internal::DimLike,
};

/// IR versions accepted: ONNX 1.2 (IR 3) to ONNX 1.16 (IR 10), the range onnxruntime reads.
pub const IR_VERSIONS: std::ops::RangeInclusive<i64> = 3..=10;
/// Largest accepted dimension of the model input, and of its per-sample element count.
pub const MAX_INPUT_ELEMENTS: u64 = 1 << 22;

/// What validation learnt about a model.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelInfo {
    /// File size.
    pub bytes: u64,
    /// Default-domain opset.
    pub opset: u16,
    /// Graph nodes.
    pub nodes: u32,
    /// Elements over initializers and `Constant` tensors.
    pub params: u64,
    /// Multiply-accumulates of one sample's forward pass (a run's, divided by its rows).
    pub macs_per_sample: u64,
    /// `None` for a symbolic batch dimension, else the fixed batch size.
    pub fixed_batch: Option<usize>,
    /// Rows per run: the fixed batch, or [`crate::eval::EVAL_BATCH`].
    pub run_batch: usize,
    /// Estimated guest instructions of one run ([`crate::cost`]).
    pub work_per_run: u64,
    /// A run's work divided by its rows, rounded up.
    pub work_per_sample: u64,
    /// Estimated guest instructions to load the model (constant folding included).
    pub load_work: u64,
    /// Elements of the largest tensor of one run.
    pub largest_tensor: u64,
    /// Bytes of every tensor and scratch buffer of one run.
    pub batch_bytes: u64,
    /// Per-sample input shape (without the batch dimension).
    pub sample_shape: Vec<usize>,
    /// Per-sample output shape (without the batch dimension).
    pub output_shape: Vec<usize>,
    /// Operators used, sorted.
    pub ops: Vec<String>,
}

/// A validated model, typed and optimised, ready to run.
pub struct Model {
    /// What validation learnt.
    pub info: ModelInfo,
    /// The cost model's figures for one run, node by node.
    pub cost: RunCost,
    plan: Arc<TypedSimplePlan>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

fn arity(op: &str) -> (usize, usize) {
    match op {
        "Constant" => (0, 0),
        "Relu" | "Identity" | "Flatten" | "LeakyRelu" | "Transpose" | "MaxPool" | "AveragePool"
        | "GlobalAveragePool" | "Exp" | "Log" | "Tanh" | "Sigmoid" | "Erf" | "Softmax"
        | "LogSoftmax" => (1, 1),
        "ReduceMean" | "ReduceSum" | "ReduceMax" => (1, 2),
        "Clip" | "Dropout" => (1, 3),
        "Add" | "Sub" | "Mul" | "Div" | "MatMul" | "Reshape" => (2, 2),
        "Squeeze" | "Unsqueeze" => (1, 2),
        "Gemm" | "Conv" => (2, 3),
        "BatchNormalization" => (5, 5),
        "Max" | "Min" | "Concat" => (1, 64),
        _ => (0, usize::MAX),
    }
}

/// Checks one initializer or `Constant` tensor and returns its element count.
fn check_tensor(t: &pb::TensorProto, what: &str, budget: u64) -> Result<u64, String> {
    if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32)
        || !t.external_data.is_empty()
    {
        return Err(format!(
            "{what} uses external data: a model must be one self-contained file"
        ));
    }
    if t.segment.is_some() {
        return Err(format!("{what} is segmented, which is not supported"));
    }
    let mut count: u64 = 1;
    for &d in &t.dims {
        let d = u64::try_from(d).map_err(|_| format!("{what} has negative dimension {d}"))?;
        count = count
            .checked_mul(d)
            .ok_or_else(|| format!("{what} has shape {:?}, which overflows", t.dims))?;
        if count > budget {
            break;
        }
    }
    if count > budget {
        return Err(format!(
            "{what} has shape {:?}, more elements than the {budget} left under the parameter limit",
            t.dims
        ));
    }
    let size = cost::dtype_bytes(t.data_type)
        .ok_or_else(|| format!("{what} has unsupported element type {}", t.data_type))?;
    let typed = [
        t.float_data.len(),
        t.int32_data.len(),
        t.int64_data.len(),
        t.double_data.len(),
        t.uint64_data.len(),
        t.string_data.len(),
    ];
    let typed_len = typed.iter().sum::<usize>() as u64;
    let consistent = if !t.raw_data.is_empty() {
        typed_len == 0 && t.raw_data.len() as u64 == count * size
    } else {
        typed_len == count
    };
    if !consistent {
        return Err(format!(
            "{what} declares shape {:?} ({count} elements of {size} bytes) but carries {} raw bytes and {typed_len} typed values",
            t.dims,
            t.raw_data.len()
        ));
    }
    Ok(count)
}

fn dims_of(v: &pb::ValueInfoProto) -> Result<(i32, Vec<Option<i64>>), String> {
    let Some(pb::TypeProto {
        value: Some(type_proto::Value::TensorType(tt)),
        ..
    }) = &v.r#type
    else {
        return Err(format!("graph value {:?} is not a tensor", v.name));
    };
    let dims = tt
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(dimension::Value::DimValue(v)) => Some(*v),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((tt.elem_type, dims))
}

/// Structural checks on the protobuf: everything that bounds what tract would allocate.
/// Returns the partially filled [`ModelInfo`].
fn check_proto(proto: &pb::ModelProto, bytes: u64, limits: &Limits) -> Result<ModelInfo, String> {
    if !IR_VERSIONS.contains(&proto.ir_version) {
        return Err(format!(
            "IR version {} is outside the supported {IR_VERSIONS:?}",
            proto.ir_version
        ));
    }
    let mut opset = None;
    for imp in &proto.opset_import {
        match imp.domain.as_str() {
            "" | "ai.onnx" if opset.is_none() => opset = Some(imp.version),
            "" | "ai.onnx" => return Err("the default opset is imported twice".into()),
            other => return Err(format!("opset domain {other:?} is not supported")),
        }
    }
    let opset = opset.ok_or("the model imports no default-domain opset")?;
    if opset < i64::from(limits.min_opset) || opset > i64::from(limits.max_opset) {
        return Err(format!(
            "opset {opset} is outside the allowed {}..={}",
            limits.min_opset, limits.max_opset
        ));
    }
    if !proto.functions.is_empty() || !proto.training_info.is_empty() {
        return Err("model-local functions and training info are not supported".into());
    }
    let graph = proto.graph.as_ref().ok_or("the model has no graph")?;
    if graph.node.is_empty() {
        return Err("the graph has no nodes".into());
    }
    // tract makes a node of every initializer too, and its optimiser's time grows with the
    // square of its graph: both count.
    let graph_size = graph.node.len() + graph.initializer.len();
    if graph_size > limits.max_nodes as usize {
        return Err(format!(
            "{} nodes and {} initializers ({graph_size} graph nodes) exceed the limit of {}",
            graph.node.len(),
            graph.initializer.len(),
            limits.max_nodes
        ));
    }
    if !graph.sparse_initializer.is_empty() {
        return Err("sparse initializers are not supported".into());
    }

    let mut params: u64 = 0;
    let mut defined: BTreeSet<&str> = BTreeSet::new();
    for init in &graph.initializer {
        if init.name.is_empty() || !defined.insert(&init.name) {
            return Err(format!(
                "initializer name {:?} is empty or duplicated",
                init.name
            ));
        }
        params += check_tensor(
            init,
            &format!("initializer {:?}", init.name),
            limits.max_params.saturating_sub(params),
        )?;
    }

    let inputs: Vec<&pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !defined.contains(i.name.as_str()))
        .collect();
    let [input] = inputs.as_slice() else {
        return Err(format!(
            "the model must have exactly one input, it has {}",
            inputs.len()
        ));
    };
    let [output] = graph.output.as_slice() else {
        return Err(format!(
            "the model must have exactly one output, it has {}",
            graph.output.len()
        ));
    };
    let (in_type, in_dims) = dims_of(input)?;
    if in_type != DataType::Float as i32 {
        return Err(format!(
            "input {:?} must be float32, it is element type {in_type}",
            input.name
        ));
    }
    if in_dims.len() < 2 {
        return Err(format!(
            "input {:?} must have a batch dimension and a sample shape, rank is {}",
            input.name,
            in_dims.len()
        ));
    }
    let fixed_batch = match in_dims[0] {
        None => None,
        Some(b) if (1..=i64::from(limits.max_fixed_batch)).contains(&b) => Some(b as usize),
        Some(b) => {
            return Err(format!(
                "fixed batch dimension {b} is outside 1..={} (limits.maxFixedBatch)",
                limits.max_fixed_batch
            ));
        }
    };
    let mut sample_shape = Vec::with_capacity(in_dims.len() - 1);
    let mut elements: u64 = 1;
    for d in &in_dims[1..] {
        match d {
            Some(v) if *v >= 1 && (*v as u64) <= MAX_INPUT_ELEMENTS => {
                elements = elements.saturating_mul(*v as u64);
                sample_shape.push(*v as usize);
            }
            _ => {
                return Err(format!(
                    "input {:?} has shape {in_dims:?}: only the batch dimension may be symbolic",
                    input.name
                ));
            }
        }
    }
    if elements > MAX_INPUT_ELEMENTS {
        return Err(format!(
            "input {:?} has {elements} elements per sample, above {MAX_INPUT_ELEMENTS}",
            input.name
        ));
    }
    let (out_type, _) = dims_of(output)?;
    if out_type != DataType::Float as i32 {
        return Err(format!(
            "output {:?} must be float32, it is element type {out_type}",
            output.name
        ));
    }

    defined.insert(&input.name);
    let mut ops = BTreeSet::new();
    for (i, node) in graph.node.iter().enumerate() {
        let op = node.op_type.as_str();
        let at = || format!("node {i} ({op} {:?})", node.name);
        if !node.domain.is_empty() && node.domain != "ai.onnx" {
            return Err(format!(
                "{} is in domain {:?}; only the default domain is supported",
                at(),
                node.domain
            ));
        }
        if !limits.allowed_ops.contains(op) {
            return Err(format!(
                "{} uses operator {op:?}, which is not in the allow-list",
                at()
            ));
        }
        ops.insert(op.to_string());
        let (min, max) = arity(op);
        let n_in = node.input.len();
        if n_in < min || n_in > max {
            return Err(format!(
                "{} has {n_in} inputs, {op} takes {min} to {max}",
                at()
            ));
        }
        if node.output.len() != 1 {
            return Err(format!(
                "{} has {} outputs, exactly one is supported",
                at(),
                node.output.len()
            ));
        }
        for attr in &node.attribute {
            if attr.g.is_some() || !attr.graphs.is_empty() {
                return Err(format!(
                    "{} has a sub-graph attribute {:?}",
                    at(),
                    attr.name
                ));
            }
            if attr.sparse_tensor.is_some()
                || !attr.sparse_tensors.is_empty()
                || !attr.tensors.is_empty()
            {
                return Err(format!(
                    "{} has an unsupported tensor attribute {:?}",
                    at(),
                    attr.name
                ));
            }
            if let Some(t) = &attr.t {
                if op != "Constant" {
                    return Err(format!("{} has a tensor attribute {:?}", at(), attr.name));
                }
                params += check_tensor(t, &at(), limits.max_params.saturating_sub(params))?;
            }
            if attr.ints.len() > 64 || attr.floats.len() > 64 || !attr.strings.is_empty() {
                return Err(format!(
                    "{} has an oversized or string attribute {:?}",
                    at(),
                    attr.name
                ));
            }
        }
        if op == "Constant" && node.attribute.iter().all(|a| a.t.is_none()) {
            return Err(format!("{} carries no `value` tensor", at()));
        }
        for name in node.input.iter().filter(|n| !n.is_empty()) {
            if !defined.contains(name.as_str()) {
                return Err(format!(
                    "{} reads {name:?} before it is defined: the graph has a cycle, a dangling edge or is not topologically sorted",
                    at()
                ));
            }
        }
        for name in &node.output {
            if name.is_empty() || !defined.insert(name) {
                return Err(format!("{} redefines value {name:?}", at()));
            }
        }
    }
    if !defined.contains(output.name.as_str()) {
        return Err(format!(
            "graph output {:?} is not produced by any node",
            output.name
        ));
    }

    Ok(ModelInfo {
        bytes,
        opset: opset as u16,
        nodes: graph.node.len() as u32,
        params,
        macs_per_sample: 0,
        fixed_batch,
        run_batch: fixed_batch.unwrap_or(crate::eval::EVAL_BATCH),
        work_per_run: 0,
        work_per_sample: 0,
        load_work: 0,
        largest_tensor: 0,
        batch_bytes: 0,
        sample_shape,
        output_shape: Vec::new(),
        ops: ops.into_iter().collect(),
    })
}

/// Runs the cost model at the run's batch size and checks its figures against `limits`.
fn cost_and_check(
    proto: &pb::ModelProto,
    info: &mut ModelInfo,
    limits: &Limits,
) -> Result<RunCost, String> {
    let graph = proto.graph.as_ref().ok_or("the model has no graph")?;
    let input = graph
        .input
        .iter()
        .find(|i| !graph.initializer.iter().any(|t| t.name == i.name))
        .ok_or("the model has no input")?;
    let batch = info.run_batch as u64;
    let run = cost::analyse(graph, &input.name, &info.sample_shape, batch, limits)?;
    let folded = info.params.saturating_add(run.folded_elements);
    if folded > limits.max_params {
        return Err(format!(
            "{} parameters and {} elements computed from constants exceed the parameter limit of {}",
            info.params, run.folded_elements, limits.max_params
        ));
    }
    let macs = run.macs.div_ceil(batch);
    if macs > limits.max_macs_per_sample {
        return Err(format!(
            "{macs} multiply-accumulates per sample exceed the limit of {}",
            limits.max_macs_per_sample
        ));
    }
    let work = run.work.div_ceil(batch);
    if work > limits.max_work_per_sample {
        return Err(format!(
            "the cost model estimates {work} instructions of work per sample, above the limit of {} (limits.maxWorkPerSample)",
            limits.max_work_per_sample
        ));
    }
    info.macs_per_sample = macs;
    info.work_per_run = run.work;
    info.work_per_sample = work;
    let graph = proto
        .graph
        .as_ref()
        .map_or(0, |g| g.node.len() + g.initializer.len());
    let extra = run
        .nodes
        .iter()
        .map(|n| cost::node_load(&n.op))
        .fold(0u64, u64::saturating_add);
    info.load_work = cost::load_work(
        info.bytes,
        info.params,
        graph as u64,
        extra,
        run.folded_work,
    );
    info.largest_tensor = run.largest_tensor;
    info.batch_bytes = run.memory_bytes;
    Ok(run)
}

/// Types the model with tract, checks the output fact and that tract's shape of every value
/// is the one the cost model used.
fn type_and_check(
    proto: &pb::ModelProto,
    info: &mut ModelInfo,
    run: &RunCost,
) -> TractResult<Result<TypedModel, String>> {
    let onnx = tract_onnx::onnx().with_ignore_value_info(true);
    let inference = onnx.model_for_proto_model(proto)?;
    let typed = inference.into_typed()?;

    let input_fact = typed.input_fact(0)?;
    let batch = input_fact.shape[0].clone();
    let output_fact = typed.output_fact(0)?;
    if output_fact.datum_type != f32::datum_type() {
        return Ok(Err(format!(
            "output is {:?}, not float32",
            output_fact.datum_type
        )));
    }
    if output_fact.rank() < 1 || output_fact.shape[0] != batch {
        return Ok(Err(format!(
            "output shape {:?} does not keep the input batch dimension {batch}",
            output_fact.shape
        )));
    }
    let mut output_shape = Vec::new();
    for d in output_fact.shape.iter().skip(1) {
        match d.to_usize() {
            Ok(v) if (v as u64) <= MAX_INPUT_ELEMENTS => output_shape.push(v),
            _ => {
                return Ok(Err(format!(
                    "output shape {:?} is not fixed apart from the batch",
                    output_fact.shape
                )));
            }
        }
    }

    let mut values = SymbolValues::default();
    for sym in batch.symbols() {
        values = values.with(&sym, info.run_batch as i64);
    }
    let mut labelled: BTreeMap<&str, Vec<OutletId>> = BTreeMap::new();
    for (outlet, label) in &typed.outlet_labels {
        labelled.entry(label.as_str()).or_default().push(*outlet);
    }
    for (name, shape) in &run.shapes {
        let Some(outlets) = labelled.get_mut(name.as_str()) else {
            continue;
        };
        outlets.sort();
        for outlet in outlets.iter() {
            let fact = typed.outlet_fact(*outlet)?;
            let dims: Option<Vec<u64>> = fact
                .shape
                .iter()
                .map(|d| {
                    d.eval(&values)
                        .to_i64()
                        .ok()
                        .and_then(|v| u64::try_from(v).ok())
                })
                .collect();
            if dims.as_deref() != Some(shape.as_slice()) {
                return Ok(Err(format!(
                    "tract types {name:?} as {:?} where the cost model computed {shape:?}",
                    fact.shape
                )));
            }
        }
    }
    info.output_shape = output_shape;
    Ok(Ok(typed))
}

impl Model {
    /// Validates `bytes` against `limits` and prepares the model to run. The error is the
    /// rejection reason.
    pub fn load(bytes: &[u8], limits: &Limits) -> Result<Self, String> {
        Self::load_for(bytes, limits, None)
    }

    /// Estimated guest instructions to score `rows` rows held in a dataset file of
    /// `data_bytes` bytes: loading this model, parsing the file, and every run (the last
    /// one charged as a full batch).
    pub fn evaluation_work(&self, rows: u64, data_bytes: u64) -> u64 {
        self.info
            .load_work
            .saturating_add(cost::parse_work(data_bytes))
            .saturating_add(
                cost::runs(rows, self.info.run_batch as u64).saturating_mul(self.info.work_per_run),
            )
    }

    /// [`Model::load`] for data whose rows have `sample_shape`: a model declaring another
    /// input shape is refused with both shapes named, before tract types it.
    pub fn load_for(
        bytes: &[u8],
        limits: &Limits,
        sample_shape: Option<&[usize]>,
    ) -> Result<Self, String> {
        if bytes.len() as u64 > limits.max_model_bytes {
            return Err(format!(
                "{} bytes exceed the model size limit of {}",
                bytes.len(),
                limits.max_model_bytes
            ));
        }
        let proto =
            pb::ModelProto::decode(bytes).map_err(|e| format!("not an ONNX protobuf: {e}"))?;
        let mut info = check_proto(&proto, bytes.len() as u64, limits)?;
        if let Some(expected) = sample_shape.filter(|&e| e != info.sample_shape.as_slice()) {
            return Err(format!(
                "model input per sample is {:?} but the dataset's x rows are {expected:?}",
                info.sample_shape
            ));
        }
        let run = cost_and_check(&proto, &mut info, limits)?;
        let outcome = determinism::guarded(|| -> TractResult<Result<Self, String>> {
            let typed = match type_and_check(&proto, &mut info, &run)? {
                Ok(typed) => typed,
                Err(reason) => return Ok(Err(reason)),
            };
            let mut typed = typed;
            crate::ops::make_deterministic(&mut typed)?;
            let plan = typed.into_optimized()?.into_runnable()?;
            Ok(Ok(Self {
                info: info.clone(),
                cost: run.clone(),
                plan,
            }))
        });
        match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(format!("tract: {}", chain(&e))),
            Err(panic) => Err(format!("tract panicked: {panic}")),
        }
    }

    /// Runs one batch. `input` holds `rows × sample elements` f32 values in row order; the
    /// result holds `rows × output elements`.
    pub fn run(&self, input: Vec<f32>, rows: usize) -> Result<Vec<f32>, String> {
        let expected = rows * self.info.sample_shape.iter().product::<usize>();
        if input.len() != expected {
            return Err(format!(
                "{} input values for {rows} rows of {:?}",
                input.len(),
                self.info.sample_shape
            ));
        }
        self.run_with(rows, |x| x.copy_from_slice(&input))
    }

    /// [`Model::run`] on a batch that `fill` writes in place: it gets the `rows × sample
    /// elements` of the input tensor, zeroed.
    pub fn run_with(&self, rows: usize, fill: impl FnOnce(&mut [f32])) -> Result<Vec<f32>, String> {
        let mut shape = Vec::with_capacity(1 + self.info.sample_shape.len());
        shape.push(rows);
        shape.extend_from_slice(&self.info.sample_shape);
        let outcome = determinism::guarded(|| -> TractResult<Vec<f32>> {
            let mut tensor = Tensor::zero::<f32>(&shape)?;
            fill(tensor.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?);
            let mut outputs = self.plan.run(tvec!(tensor.into_tvalue()))?;
            let out = outputs.remove(0).into_tensor();
            let expected: Vec<usize> = std::iter::once(rows)
                .chain(self.info.output_shape.iter().copied())
                .collect();
            if out.shape() != expected.as_slice() {
                tract_onnx::tract_core::internal::bail!(
                    "output shape {:?}, expected {:?}",
                    out.shape(),
                    expected
                );
            }
            Ok(out.try_as_plain_ram()?.as_slice::<f32>()?.to_vec())
        });
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(format!("tract: {}", chain(&e))),
            Err(panic) => Err(format!("tract panicked: {panic}")),
        }
    }
}

fn chain(e: &anyhow_like::Error) -> String {
    let mut parts: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    parts.dedup();
    let text = parts.join(": ");
    text.chars().take(600).collect()
}

mod anyhow_like {
    pub(super) type Error = tract_onnx::prelude::TractError;
}

/// Operators by count, for reports.
pub fn op_histogram(bytes: &[u8]) -> Option<BTreeMap<String, usize>> {
    let proto = pb::ModelProto::decode(bytes).ok()?;
    let mut map = BTreeMap::new();
    for n in &proto.graph?.node {
        *map.entry(n.op_type.clone()).or_insert(0) += 1;
    }
    Some(map)
}
