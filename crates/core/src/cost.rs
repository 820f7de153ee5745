//! The static cost model: the shape, memory and work of every node of a model, computed from
//! the protobuf with checked integer arithmetic before tract sees it.
//!
//! Why before tract, and on the ONNX graph: tract evaluates constant sub-graphs while it
//! types a model (it allocates them), so nothing may reach tract whose tensors are not
//! already bounded; and the limits a sponsor sets and the calibration table speak of the
//! operators of the allow-list. Once tract has typed the model, every shape computed here is
//! checked against tract's own (a disagreement is a rejection), so the costs are those of
//! the graph tract runs.
//!
//! **Units.** Each node has a count of *units* for one run of the model (one batch), which
//! weighs its parts by their measured relative costs:
//! - `Gemm`, `MatMul`: multiply-accumulates + 2 × packed operand elements + 8 × outputs;
//! - `Conv`: multiply-accumulates + 4 × im2col elements (`C·k` per output position) +
//!   16 × outputs;
//!
//!   multiply-accumulates are counted over the matrix product's rows and columns rounded up
//!   to multiples of 4, the tile of tract's generic kernels (a product with 2 columns costs
//!   what one with 4 does);
//! - `MaxPool`: outputs × window + outputs;
//! - element-wise (`Add`…`Relu`, `BatchNormalization` twice): output elements, once per
//!   input beyond the first for the variadic `Max`/`Min`;
//! - `Transpose`: elements × rank (strided copies get dearer with the rank);
//! - other data movement (`Concat`, `Reshape`, `Flatten`, `Squeeze`, `Unsqueeze`,
//!   `Identity`): output elements, as if copied.
//!
//! **Work** is an estimate, and an upper bound, of RISC-V guest instructions (= Cartesi
//! machine cycles): per node and run, [`NODE_WORK`] plus the node's units times its
//! operator's coefficient from [`COEFFICIENTS`], measured with qemu's instruction counter on
//! the riscv64 build (`cargo xtask calibrate`). Loading a model and parsing a dataset have
//! their own terms ([`load_work`], [`parse_work`]). All of it is integer arithmetic, so every
//! validator accepts and refuses exactly the same inputs.

use crate::limits::Limits;
use std::collections::BTreeMap;
use tract_onnx::pb::{self, tensor_proto::DataType};

/// Guest instructions per unit of work, in thousandths, for every operator that can be
/// costed (`Conv/grouped`: a `Conv` with `group` > 1, which tract runs with other kernels).
/// An operator missing here cannot be allowed. Measured by `cargo xtask calibrate`
/// (the largest instructions-per-unit over its shape variants, with a margin); the table in
/// docs/DESIGN.md lists the measurements.
pub const COEFFICIENTS: &[(&str, u64)] = &[
    ("Add", 12_000),
    ("AveragePool", 24_000),
    ("BatchNormalization", 18_000),
    ("Concat", 9_000),
    ("Constant", 0),
    ("Conv", 4_200),
    ("Conv/grouped", 8_000),
    ("Clip", 24_000),
    ("Div", 11_000),
    ("Dropout", 6_000),
    ("Erf", 130_000),
    ("Exp", 100_000),
    ("Flatten", 5_000),
    ("GlobalAveragePool", 40_000),
    ("Gemm", 5_000),
    ("Identity", 6_000),
    ("LeakyRelu", 14_000),
    ("Log", 120_000),
    ("LogSoftmax", 120_000),
    ("MatMul", 3_400),
    ("Max", 19_000),
    ("MaxPool", 26_000),
    ("Min", 24_000),
    ("Mul", 15_000),
    ("ReduceMax", 45_000),
    ("ReduceMean", 40_000),
    ("ReduceSum", 40_000),
    ("Relu", 15_000),
    ("Reshape", 5_000),
    ("Sigmoid", 110_000),
    ("Softmax", 120_000),
    ("Squeeze", 5_000),
    ("Sub", 11_000),
    ("Tanh", 150_000),
    ("Transpose", 25_000),
    ("Unsqueeze", 5_000),
];

/// Guest instructions per node and run, whatever its size: dispatch, allocation, the
/// session's bookkeeping (a `Gemm` on a few elements measures about 38,000).
pub const NODE_WORK: u64 = 50_000;

/// Thousandths of an instruction per element of the input batch: reading the rows from the
/// dataset into the input tensor (`<input>` in a [`RunCost`]; float32 rows measure 23, uint8
/// rows 12).
pub const INPUT_COEFFICIENT: u64 = 28_000;

/// Thousandths of an instruction per output element: the metric (`<metric>` in a
/// [`RunCost`]; log-loss, with an `exp` per class, measures 74 and is the dearest).
pub const METRIC_COEFFICIENT: u64 = 90_000;

/// Loading a model: a fixed part, per byte of the file, per parameter, per graph node, and
/// per graph node squared (tract's optimiser revisits the graph after each change). Graph
/// nodes are the model's nodes plus its initializers: tract makes a node of each.
pub const LOAD_BASE: u64 = 50_000_000;
/// See [`LOAD_BASE`].
pub const LOAD_PER_BYTE: u64 = 4;
/// See [`LOAD_BASE`].
pub const LOAD_PER_PARAM: u64 = 2;
/// See [`LOAD_BASE`].
pub const LOAD_PER_NODE: u64 = 700_000;
/// See [`LOAD_BASE`].
pub const LOAD_PER_NODE_SQUARED: u64 = 200;
/// Loading a `Conv` node, on top of [`LOAD_PER_NODE`]: tract plans its im2col and packs its
/// kernel (a chain of 40 convolutions measures ≈ 5.5·10⁶ each).
pub const LOAD_PER_CONV: u64 = 7_500_000;
/// Loading a binary element-wise node (or a `BatchNormalization`, which tract turns into
/// two), on top of [`LOAD_PER_NODE`]: tract rewrites one with a broadcast constant operand
/// (a chain of 255 measures ≈ 2.9·10⁶ each).
pub const LOAD_PER_BINARY: u64 = 3_500_000;

/// Loading a `Gemm` or `MatMul` node, on top of [`LOAD_PER_NODE`] and the weights' bytes:
/// tract packs the constant operand and picks a kernel (a chain of 120 `Gemm`s measures
/// ≈ 1.0·10⁶ each).
pub const LOAD_PER_MATMUL: u64 = 2_000_000;

/// What loading a node of `op` costs on top of [`LOAD_PER_NODE`].
pub fn node_load(op: &str) -> u64 {
    match op {
        "Conv" => LOAD_PER_CONV,
        "Gemm" | "MatMul" => LOAD_PER_MATMUL,
        "Add" | "Sub" | "Mul" | "Div" | "Max" | "Min" | "BatchNormalization" => LOAD_PER_BINARY,
        _ => 0,
    }
}

/// Parsing and checking a dataset: a fixed part and a part per byte of the file.
pub const PARSE_BASE: u64 = 2_000_000;
/// See [`PARSE_BASE`].
pub const PARSE_PER_BYTE: u64 = 7;

/// The coefficient of `op`, in thousandths of an instruction per unit.
pub fn coefficient(op: &str) -> Option<u64> {
    COEFFICIENTS.iter().find(|(o, _)| *o == op).map(|&(_, c)| c)
}

/// Largest tensor rank the scorer accepts.
pub const MAX_RANK: usize = 8;
/// Largest int64 constant kept by value (shape and axes operands).
const MAX_KNOWN_INTS: usize = 64;

/// The cost of one node in one run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeCost {
    /// The node's name (or its output's, when the node has none).
    pub name: String,
    /// ONNX operator.
    pub op: String,
    /// The row of [`COEFFICIENTS`] it is costed with.
    pub key: String,
    /// Output shape at the run's batch.
    pub shape: Vec<u64>,
    /// Units of work (see the module documentation).
    pub units: u64,
    /// Estimated guest instructions: [`NODE_WORK`] + units × coefficient.
    pub work: u64,
    /// Computed from constants only: tract folds it once, when the model loads.
    pub folded: bool,
}

/// The cost of one run of a model (one batch of `batch` rows).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RunCost {
    /// Rows per run.
    pub batch: u64,
    /// Estimated guest instructions of one run (folded nodes excluded: they are load work).
    pub work: u64,
    /// Multiply-accumulates of one run.
    pub macs: u64,
    /// Elements of the largest tensor any node produces.
    pub largest_tensor: u64,
    /// Bytes of the input batch, every tensor the nodes produce, their scratch (im2col,
    /// packed operands) and the copy of the outputs: a bound on the memory of one run,
    /// whatever order tract frees the tensors in.
    pub memory_bytes: u64,
    /// Work of the nodes tract folds at load time.
    pub folded_work: u64,
    /// Elements of the tensors tract folds at load time.
    pub folded_elements: u64,
    /// Per node, in graph order.
    pub nodes: Vec<NodeCost>,
    /// Shape of every value, by name.
    #[serde(skip)]
    pub shapes: BTreeMap<String, Vec<u64>>,
}

/// Estimated guest instructions to decode, check, type and optimise a model of `nodes`
/// graph nodes (initializers included), whose operators cost `extra` more ([`node_load`]).
pub fn load_work(bytes: u64, params: u64, nodes: u64, extra: u64, folded_work: u64) -> u64 {
    LOAD_BASE
        .saturating_add(extra)
        .saturating_add(LOAD_PER_BYTE.saturating_mul(bytes))
        .saturating_add(LOAD_PER_PARAM.saturating_mul(params))
        .saturating_add(LOAD_PER_NODE.saturating_mul(nodes))
        .saturating_add(LOAD_PER_NODE_SQUARED.saturating_mul(nodes.saturating_mul(nodes)))
        .saturating_add(folded_work)
}

/// Estimated guest instructions to parse and check a dataset file of `bytes` bytes.
pub fn parse_work(bytes: u64) -> u64 {
    PARSE_BASE.saturating_add(PARSE_PER_BYTE.saturating_mul(bytes))
}

/// Number of runs that score `rows` rows in batches of `batch` (the last one is charged as
/// a full batch).
pub const fn runs(rows: u64, batch: u64) -> u64 {
    rows.div_ceil(batch)
}

#[derive(Debug, Clone)]
struct Value {
    shape: Vec<u64>,
    dtype: i32,
    constant: bool,
    ints: Option<Vec<i64>>,
}

impl Value {
    /// A tensor computed by a node.
    const fn computed(shape: Vec<u64>, dtype: i32, constant: bool) -> Self {
        Self {
            shape,
            dtype,
            constant,
            ints: None,
        }
    }

    fn elements(&self) -> u64 {
        // Shapes are checked when built: the product cannot overflow.
        self.shape.iter().product()
    }
}

fn elements_of(shape: &[u64], at: &str) -> Result<u64, String> {
    shape.iter().try_fold(1u64, |acc, &d| {
        acc.checked_mul(d)
            .ok_or_else(|| format!("{at}: shape {shape:?} overflows"))
    })
}

/// Bytes per element of an ONNX element type the scorer supports.
pub(crate) fn dtype_bytes(dt: i32) -> Option<u64> {
    Some(match DataType::try_from(dt).ok()? {
        DataType::Float | DataType::Int32 => 4,
        DataType::Int64 | DataType::Double => 8,
        DataType::Uint8 | DataType::Int8 | DataType::Bool => 1,
        _ => return None,
    })
}

/// The int64 values of a small constant tensor.
fn known_ints(t: &pb::TensorProto) -> Option<Vec<i64>> {
    if t.data_type != DataType::Int64 as i32 {
        return None;
    }
    let n = t.dims.iter().try_fold(1i64, |a, &d| a.checked_mul(d))?;
    if !(0..=MAX_KNOWN_INTS as i64).contains(&n) {
        return None;
    }
    let v: Vec<i64> = if !t.raw_data.is_empty() {
        t.raw_data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect()
    } else {
        t.int64_data.clone()
    };
    (v.len() as i64 == n).then_some(v)
}

fn constant_value(t: &pb::TensorProto) -> Result<Value, String> {
    let shape = t
        .dims
        .iter()
        .map(|&d| u64::try_from(d).map_err(|_| format!("negative dimension {d}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value {
        shape,
        dtype: t.data_type,
        constant: true,
        ints: known_ints(t),
    })
}

/// Attributes each operator may carry; any other attribute is refused, since an attribute
/// the scorer does not know could change what tract computes.
fn known_attribute(op: &str, attr: &str) -> bool {
    let allowed: &[&str] = match op {
        "Constant" => &["value"],
        "LeakyRelu" => &["alpha"],
        "BatchNormalization" => &["epsilon", "momentum", "training_mode", "spatial"],
        "Concat" | "Flatten" => &["axis"],
        "Conv" => &[
            "auto_pad",
            "dilations",
            "group",
            "kernel_shape",
            "pads",
            "strides",
        ],
        "MaxPool" => &[
            "auto_pad",
            "ceil_mode",
            "dilations",
            "kernel_shape",
            "pads",
            "storage_order",
            "strides",
        ],
        "Gemm" => &["alpha", "beta", "transA", "transB"],
        "Softmax" | "LogSoftmax" => &["axis"],
        "Clip" => &["min", "max"],
        "Dropout" => &["ratio", "seed"],
        "ReduceMean" | "ReduceSum" | "ReduceMax" => &["axes", "keepdims", "noop_with_empty_axes"],
        "AveragePool" => &[
            "auto_pad",
            "ceil_mode",
            "count_include_pad",
            "dilations",
            "kernel_shape",
            "pads",
            "strides",
        ],
        "Reshape" => &["allowzero"],
        "Squeeze" | "Unsqueeze" => &["axes"],
        "Transpose" => &["perm"],
        _ => &[],
    };
    allowed.contains(&attr)
}

struct Attrs<'a>(&'a pb::NodeProto);

impl Attrs<'_> {
    fn get(&self, name: &str) -> Option<&pb::AttributeProto> {
        self.0.attribute.iter().find(|a| a.name == name)
    }

    fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).map_or(default, |a| a.i)
    }

    fn ints(&self, name: &str) -> Option<&[i64]> {
        self.get(name).map(|a| a.ints.as_slice())
    }

    fn string(&self, name: &str) -> Option<&[u8]> {
        self.get(name).map(|a| a.s.as_slice())
    }
}

/// Multidirectional (numpy) broadcasting.
fn broadcast(shapes: &[&[u64]], at: &str) -> Result<Vec<u64>, String> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1u64; rank];
    for s in shapes {
        let offset = rank - s.len();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[offset + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return Err(format!("{at}: shapes {shapes:?} do not broadcast"));
            }
        }
    }
    Ok(out)
}

fn axis(value: i64, rank: usize, at: &str) -> Result<usize, String> {
    let r = rank as i64;
    if value < -r || value >= r {
        return Err(format!(
            "{at}: axis {value} is out of range for rank {rank}"
        ));
    }
    Ok(if value < 0 { value + r } else { value } as usize)
}

/// The axes a node lists, as its `axes` attribute or as a constant int64 vector operand
/// (input 1); `None` when it lists none. Both, or an operand that is not such a constant,
/// is refused as "axes must be given `how`".
fn listed_axes(
    a: &Attrs<'_>,
    inputs: &[Option<&Value>],
    how: &str,
    at: &str,
) -> Result<Option<Vec<i64>>, String> {
    match (a.ints("axes"), inputs.get(1).copied().flatten()) {
        (Some(v), None) => Ok(Some(v.to_vec())),
        (None, Some(v)) if v.constant && v.shape.len() == 1 => v
            .ints
            .clone()
            .map(Some)
            .ok_or_else(|| format!("{at}: the axes operand must be a constant int64 vector")),
        (None, None) => Ok(None),
        _ => Err(format!(
            "{at}: axes must be given {how}, as an attribute or a constant operand"
        )),
    }
}

/// The `listed` axes of a rank-`rank` tensor as distinct indices in increasing order.
fn distinct_axes(listed: &[i64], rank: usize, at: &str) -> Result<Vec<usize>, String> {
    let mut axes: Vec<usize> = listed
        .iter()
        .map(|&v| axis(v, rank, at))
        .collect::<Result<_, _>>()?;
    axes.sort_unstable();
    axes.dedup();
    if axes.len() != listed.len() {
        return Err(format!("{at}: axes {listed:?} repeat"));
    }
    Ok(axes)
}

/// Spatial geometry of a convolution or a pool, as tract computes it.
struct Window {
    kernel: Vec<u64>,
    out: Vec<u64>,
}

fn window(
    a: &Attrs<'_>,
    spatial: &[u64],
    kernel: Vec<u64>,
    pool: bool,
    limits: &Limits,
    at: &str,
) -> Result<Window, String> {
    let n = spatial.len();
    if !(1..=2).contains(&n) {
        return Err(format!(
            "{at}: {n} spatial dimensions; only 1-D and 2-D convolutions and pools are supported"
        ));
    }
    let max = u64::from(limits.max_window);
    let list = |name: &str, len: usize, default: u64, min: u64| -> Result<Vec<u64>, String> {
        match a.ints(name) {
            None => Ok(vec![default; len]),
            Some(v) if v.len() != len => Err(format!(
                "{at}: {name} has {} values, {len} expected",
                v.len()
            )),
            Some(v) => v
                .iter()
                .map(|&x| {
                    u64::try_from(x)
                        .ok()
                        .filter(|x| (min..=max).contains(x))
                        .ok_or_else(|| {
                            format!(
                                "{at}: {name} {v:?} must lie in {min}..={max} (limits.maxWindow)"
                            )
                        })
                })
                .collect(),
        }
    };
    if let Some(k) = kernel.iter().find(|&&k| k == 0 || k > max) {
        return Err(format!(
            "{at}: kernel dimension {k} of {kernel:?} must lie in 1..={max} (limits.maxWindow)"
        ));
    }
    let strides = list("strides", n, 1, 1)?;
    let dilations = list("dilations", n, 1, 1)?;
    let pads = list("pads", 2 * n, 0, 0)?;
    let auto_pad = a.string("auto_pad").unwrap_or(b"NOTSET");
    if a.get("pads").is_some() && auto_pad != b"NOTSET" {
        return Err(format!("{at}: pads and auto_pad are both given"));
    }
    let ceil = a.int("ceil_mode", 0);
    if !(0..=1).contains(&ceil) || (!pool && a.get("ceil_mode").is_some()) {
        return Err(format!("{at}: ceil_mode must be 0 or 1"));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (d, k, s, dil) = (spatial[i], kernel[i], strides[i], dilations[i]);
        // (k - 1)·dil + 1 ≤ 64·64: no overflow.
        let field = (k - 1) * dil + 1;
        let o = match auto_pad {
            b"NOTSET" | b"VALID" => {
                let (bef, aft) = if auto_pad == b"VALID" {
                    (0, 0)
                } else {
                    (pads[i], pads[n + i])
                };
                if pool && (bef >= field || aft >= field) {
                    return Err(format!(
                        "{at}: pads {pads:?} must be smaller than the window {field} on every side"
                    ));
                }
                let padded = d + bef + aft;
                if padded < field {
                    return Err(format!(
                        "{at}: the window {field} is larger than the padded input {padded}"
                    ));
                }
                let dividend = padded - field;
                if pool && ceil == 1 {
                    let mut o = dividend.div_ceil(s) + 1;
                    if (o - 1) * s >= d + bef {
                        o -= 1;
                    }
                    o
                } else {
                    dividend / s + 1
                }
            }
            b"SAME_UPPER" | b"SAME_LOWER" => d.div_ceil(s),
            other => {
                return Err(format!(
                    "{at}: auto_pad {:?} is not supported",
                    String::from_utf8_lossy(other)
                ));
            }
        };
        out.push(o);
    }
    Ok(Window { kernel, out })
}

/// The shapes and work of one run of the graph at `batch` rows. `input_shape` is the
/// per-sample shape of the model's one input. Every refusal names the node.
pub fn analyse(
    graph: &pb::GraphProto,
    input_name: &str,
    input_shape: &[usize],
    batch: u64,
    limits: &Limits,
) -> Result<RunCost, String> {
    let mut values: BTreeMap<&str, Value> = BTreeMap::new();
    for init in &graph.initializer {
        values.insert(&init.name, constant_value(init)?);
    }
    let mut shape = vec![batch];
    shape.extend(input_shape.iter().map(|&d| d as u64));
    let input_elements = elements_of(&shape, "the input")?;
    let input_shape_run = shape.clone();
    values.insert(
        input_name,
        Value {
            shape,
            dtype: DataType::Float as i32,
            constant: false,
            ints: None,
        },
    );

    let mut run = RunCost {
        batch,
        work: 0,
        macs: 0,
        largest_tensor: 0,
        memory_bytes: 0,
        folded_work: 0,
        folded_elements: 0,
        nodes: Vec::with_capacity(graph.node.len()),
        shapes: BTreeMap::new(),
    };
    let mut memory: u128 = u128::from(input_elements) * 4;
    let mut work: u128 = 0;
    let mut folded_work: u128 = 0;
    let mut folded_elements: u128 = 0;
    let mut macs: u128 = 0;
    for (i, node) in graph.node.iter().enumerate() {
        let op = node.op_type.as_str();
        let at = format!("node {i} ({op} {:?})", node.name);
        if let Some(a) = node
            .attribute
            .iter()
            .find(|a| !known_attribute(op, &a.name))
        {
            return Err(format!(
                "{at} has attribute {:?}, which the scorer does not know for {op}",
                a.name
            ));
        }
        let key = if op == "Conv" && Attrs(node).int("group", 1) > 1 {
            "Conv/grouped"
        } else {
            op
        };
        let coef = coefficient(key)
            .ok_or_else(|| format!("{at}: operator {op} cannot be costed, so it is not allowed"))?;
        let inputs: Vec<Option<&Value>> = node
            .input
            .iter()
            .map(|n| {
                if n.is_empty() {
                    None
                } else {
                    values.get(n.as_str())
                }
            })
            .collect();
        if node
            .input
            .iter()
            .zip(&inputs)
            .any(|(n, v)| !n.is_empty() && v.is_none())
        {
            return Err(format!("{at} reads a value that is not defined"));
        }
        let input = |k: usize| -> Result<&Value, String> {
            inputs
                .get(k)
                .copied()
                .flatten()
                .ok_or_else(|| format!("{at}: input {k} is missing"))
        };
        let step = infer(node, op, &inputs, &input, limits, &at)?;
        let out = step.value;
        if out.shape.len() > MAX_RANK {
            return Err(format!(
                "{at}: rank {} is above {MAX_RANK}",
                out.shape.len()
            ));
        }
        let elements = elements_of(&out.shape, &at)?;
        if out.shape.contains(&0) {
            return Err(format!("{at}: output shape {:?} is empty", out.shape));
        }
        if elements > limits.max_tensor_elements {
            return Err(format!(
                "{at}: output {:?} has {elements} elements, above the largest tensor of {} (limits.maxTensorElements)",
                out.shape, limits.max_tensor_elements
            ));
        }
        let bytes = dtype_bytes(out.dtype)
            .ok_or_else(|| format!("{at}: output element type {} is not supported", out.dtype))?;
        memory += u128::from(elements) * u128::from(bytes) + u128::from(step.scratch) * 4;
        if memory > u128::from(limits.max_batch_bytes) {
            return Err(format!(
                "{at}: one run of {batch} rows needs more than {} bytes for its tensors (limits.maxBatchBytes)",
                limits.max_batch_bytes
            ));
        }
        let units = step.units;
        let node_work =
            u128::from(NODE_WORK) + (u128::from(units) * u128::from(coef)).div_ceil(1000);
        if out.constant {
            folded_work += node_work;
            folded_elements += u128::from(elements);
        } else {
            work += node_work;
            macs += u128::from(step.macs);
        }
        run.largest_tensor = run.largest_tensor.max(elements);
        run.nodes.push(NodeCost {
            name: if node.name.is_empty() {
                node.output.first().cloned().unwrap_or_default()
            } else {
                node.name.clone()
            },
            op: op.to_string(),
            key: key.to_string(),
            shape: out.shape.clone(),
            units,
            work: u64::try_from(node_work).unwrap_or(u64::MAX),
            folded: out.constant,
        });
        let name = node
            .output
            .first()
            .ok_or_else(|| format!("{at} has no output"))?;
        run.shapes.insert(name.clone(), out.shape.clone());
        values.insert(name, out);
    }
    // Reading the rows into the input tensor, and the metric over the outputs.
    let output = graph
        .output
        .first()
        .and_then(|o| run.shapes.get(&o.name))
        .ok_or("the graph output is not produced by any node")?;
    // The scorer copies the outputs out of tract's tensor.
    memory += u128::from(elements_of(output, "the output")?) * 4;
    if memory > u128::from(limits.max_batch_bytes) {
        return Err(format!(
            "one run of {batch} rows needs more than {} bytes for its tensors (limits.maxBatchBytes)",
            limits.max_batch_bytes
        ));
    }
    let ends = [
        (
            "<input>",
            input_elements,
            INPUT_COEFFICIENT,
            input_shape_run,
        ),
        (
            "<metric>",
            elements_of(output, "the output")?,
            METRIC_COEFFICIENT,
            output.clone(),
        ),
    ];
    for (name, units, coef, shape) in ends {
        let node_work =
            u128::from(NODE_WORK) + (u128::from(units) * u128::from(coef)).div_ceil(1000);
        work += node_work;
        run.nodes.push(NodeCost {
            name: name.to_string(),
            op: name.to_string(),
            key: name.to_string(),
            shape,
            units,
            work: u64::try_from(node_work).unwrap_or(u64::MAX),
            folded: false,
        });
    }
    let capped = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
    run.work = capped(work);
    run.macs = capped(macs);
    run.memory_bytes = capped(memory);
    run.folded_work = capped(folded_work);
    run.folded_elements = capped(folded_elements);
    Ok(run)
}

/// `x`, if a transcendental or reducing operator may take it: float32, and computed from
/// the model's input. tract folds an operator over constants while it types the model, with
/// its own kernels rather than the deterministic ones ([`crate::ops`]).
fn computed_float<'v>(x: &'v Value, op: &str, at: &str) -> Result<&'v Value, String> {
    if x.dtype != DataType::Float as i32 {
        return Err(format!("{at}: {op} is computed on float32 only"));
    }
    if x.constant {
        return Err(format!(
            "{at}: {op} of constants only; fold it into the initializers before exporting"
        ));
    }
    Ok(x)
}

/// Refuses an operator over the batch axis (axis 0): each row's outputs would depend on the
/// other rows of its batch, and on how the scorer cuts the data into batches.
fn not_across_rows(axes: &[usize], at: &str) -> Result<(), String> {
    if axes.contains(&0) {
        return Err(format!(
            "{at}: it runs over axis 0, the batch: a row's outputs would depend on the other rows of its batch"
        ));
    }
    Ok(())
}

/// What one node produces and costs.
struct Step {
    value: Value,
    units: u64,
    macs: u64,
    /// Elements of scratch buffers (f32) the node allocates while it runs.
    scratch: u64,
}

/// `batches` products of an `m × k` by a `k × n` matrix (`Gemm`, `MatMul`).
struct MatrixProduct {
    batches: u64,
    m: u64,
    k: u64,
    n: u64,
    /// The right operand is a constant: packed once, when the model loads.
    b_constant: bool,
}

impl MatrixProduct {
    /// The step producing `shape`: tiled multiply-accumulates + 2 × packed operand
    /// elements + 8 × outputs.
    fn step(&self, shape: Vec<u64>, dtype: i32, constant: bool, at: &str) -> Result<Step, String> {
        let Self {
            batches,
            m,
            k,
            n,
            b_constant,
        } = *self;
        let outputs = mul(batches, mul(m, n, at)?, at)?;
        let macs = mul(outputs, k, at)?;
        let tiled = mul(batches, mul(mul(tile(m), tile(n), at)?, k, at)?, at)?;
        let packed_b = if b_constant {
            0
        } else {
            mul(batches, mul(k, n, at)?, at)?
        };
        let packed = sum(&[mul(batches, mul(m, k, at)?, at)?, packed_b], at)?;
        Ok(Step {
            value: Value {
                shape,
                dtype,
                constant,
                ints: None,
            },
            units: sum(&[tiled, mul(packed, 2, at)?, mul(outputs, 8, at)?], at)?,
            macs,
            scratch: packed,
        })
    }
}

/// `x` rounded up to a multiple of the 4×4 tile of the scalar kernel, which riscv64 runs
/// ([`crate::gemm::Kernel::Portable`]).
const fn tile(x: u64) -> u64 {
    x.div_ceil(4) * 4
}

fn product(dims: &[u64], at: &str) -> Result<u64, String> {
    elements_of(dims, at)
}

fn sum(parts: &[u64], at: &str) -> Result<u64, String> {
    parts.iter().try_fold(0u64, |a, &p| {
        a.checked_add(p)
            .ok_or_else(|| format!("{at}: work overflows"))
    })
}

fn mul(a: u64, b: u64, at: &str) -> Result<u64, String> {
    a.checked_mul(b)
        .ok_or_else(|| format!("{at}: work overflows"))
}

fn infer<'v>(
    node: &pb::NodeProto,
    op: &str,
    inputs: &[Option<&'v Value>],
    input: &dyn Fn(usize) -> Result<&'v Value, String>,
    limits: &Limits,
    at: &str,
) -> Result<Step, String> {
    let a = Attrs(node);
    let present: Vec<&Value> = inputs.iter().flatten().copied().collect();
    let constant = !present.is_empty() && present.iter().all(|v| v.constant);
    let same = |v: &Value, units: u64| Step {
        value: Value::computed(v.shape.clone(), v.dtype, constant),
        units,
        macs: 0,
        scratch: 0,
    };
    Ok(match op {
        "Constant" => {
            let t = a
                .get("value")
                .and_then(|v| v.t.as_ref())
                .ok_or_else(|| format!("{at} carries no `value` tensor"))?;
            let value = constant_value(t).map_err(|e| format!("{at}: {e}"))?;
            Step {
                value,
                units: 0,
                macs: 0,
                scratch: 0,
            }
        }
        "Identity" | "Relu" | "LeakyRelu" => {
            let x = input(0)?;
            same(x, x.elements())
        }
        "Add" | "Sub" | "Mul" | "Div" | "Max" | "Min" => {
            let shapes: Vec<&[u64]> = present.iter().map(|v| v.shape.as_slice()).collect();
            let shape = broadcast(&shapes, at)?;
            let elements = product(&shape, at)?;
            let passes = (present.len() as u64).saturating_sub(1).max(1);
            Step {
                value: Value::computed(shape, input(0)?.dtype, constant),
                units: mul(elements, passes, at)?,
                macs: 0,
                scratch: 0,
            }
        }
        "BatchNormalization" => {
            if a.int("training_mode", 0) != 0 || a.int("spatial", 1) != 1 {
                return Err(format!(
                    "{at}: only inference-mode, spatial BatchNormalization is supported"
                ));
            }
            let x = input(0)?;
            if x.shape.len() < 2 {
                return Err(format!("{at}: input rank {} is below 2", x.shape.len()));
            }
            let c = x.shape[1];
            for k in 1..5 {
                if input(k)?.shape != [c] {
                    return Err(format!(
                        "{at}: input {k} has shape {:?}, [{c}] expected",
                        input(k)?.shape
                    ));
                }
            }
            same(x, mul(x.elements(), 2, at)?)
        }
        "Concat" => {
            let first = input(0)?;
            let rank = first.shape.len();
            let ax = axis(a.int("axis", i64::MIN), rank, at)
                .map_err(|_| format!("{at}: axis is missing or out of range"))?;
            let mut shape = first.shape.clone();
            shape[ax] = 0;
            for v in &present {
                if v.shape.len() != rank
                    || v.dtype != first.dtype
                    || v.shape
                        .iter()
                        .zip(&first.shape)
                        .enumerate()
                        .any(|(i, (x, y))| i != ax && x != y)
                {
                    return Err(format!(
                        "{at}: inputs {:?} cannot be concatenated on axis {ax}",
                        present.iter().map(|v| &v.shape).collect::<Vec<_>>()
                    ));
                }
                shape[ax] = shape[ax]
                    .checked_add(v.shape[ax])
                    .ok_or_else(|| format!("{at}: shape overflows"))?;
            }
            let elements = product(&shape, at)?;
            Step {
                value: Value::computed(shape, first.dtype, constant),
                units: elements,
                macs: 0,
                scratch: 0,
            }
        }
        "Flatten" => {
            let x = input(0)?;
            let rank = x.shape.len();
            let ax = a.int("axis", 1);
            if ax < -(rank as i64) || ax > rank as i64 {
                return Err(format!("{at}: axis {ax} is out of range for rank {rank}"));
            }
            let ax = if ax < 0 { ax + rank as i64 } else { ax } as usize;
            let shape = vec![product(&x.shape[..ax], at)?, product(&x.shape[ax..], at)?];
            same(&Value { shape, ..x.clone() }, x.elements())
        }
        "Transpose" => {
            let x = input(0)?;
            let rank = x.shape.len();
            let perm: Vec<usize> = match a.ints("perm") {
                None => (0..rank).rev().collect(),
                Some(p) => p
                    .iter()
                    .map(|&i| usize::try_from(i).unwrap_or(usize::MAX))
                    .collect(),
            };
            let mut seen = perm.clone();
            seen.sort_unstable();
            if seen != (0..rank).collect::<Vec<_>>() {
                return Err(format!(
                    "{at}: perm {perm:?} is not a permutation of 0..{rank}"
                ));
            }
            let shape = perm.iter().map(|&p| x.shape[p]).collect();
            // Strided copies get dearer per element with the rank.
            same(
                &Value { shape, ..x.clone() },
                mul(x.elements(), rank as u64, at)?,
            )
        }
        "Reshape" => {
            let x = input(0)?;
            let target = input(1)?
                .ints
                .as_ref()
                .filter(|_| input(1).is_ok_and(|s| s.constant && s.shape.len() == 1))
                .ok_or_else(|| {
                    format!("{at}: the shape operand must be a constant int64 vector of at most {MAX_KNOWN_INTS} values")
                })?;
            let allow_zero = a.int("allowzero", 0) == 1;
            let total = x.elements();
            let mut shape = Vec::with_capacity(target.len());
            let mut infer_at = None;
            for (i, &d) in target.iter().enumerate() {
                match d {
                    -1 if infer_at.is_none() => {
                        infer_at = Some(i);
                        shape.push(1);
                    }
                    0 if !allow_zero => shape.push(*x.shape.get(i).ok_or_else(|| {
                        format!(
                            "{at}: shape {target:?} copies dimension {i}, which the input lacks"
                        )
                    })?),
                    d if d > 0 => shape.push(d as u64),
                    _ => return Err(format!("{at}: shape {target:?} is not a valid reshape")),
                }
            }
            let known = product(&shape, at)?;
            if let Some(i) = infer_at {
                if total % known != 0 {
                    return Err(format!(
                        "{at}: {total} elements cannot be reshaped to {target:?}"
                    ));
                }
                shape[i] = total / known;
            } else if known != total {
                return Err(format!(
                    "{at}: {total} elements cannot be reshaped to {target:?}"
                ));
            }
            same(&Value { shape, ..x.clone() }, total)
        }
        "Squeeze" | "Unsqueeze" => {
            let x = input(0)?;
            let axes = listed_axes(&a, inputs, "once", at)?.ok_or_else(|| {
                format!("{at}: axes must be given once, as an attribute or a constant operand")
            })?;
            let mut shape = x.shape.clone();
            if op == "Squeeze" {
                let mut drop: Vec<usize> = axes
                    .iter()
                    .map(|&v| axis(v, shape.len(), at))
                    .collect::<Result<_, _>>()?;
                drop.sort_unstable();
                drop.dedup();
                if drop.len() != axes.len() || drop.iter().any(|&i| shape[i] != 1) {
                    return Err(format!(
                        "{at}: axes {axes:?} must name distinct dimensions of size 1 of {shape:?}"
                    ));
                }
                for &i in drop.iter().rev() {
                    shape.remove(i);
                }
            } else {
                let add = distinct_axes(&axes, shape.len() + axes.len(), at)?;
                for &i in &add {
                    shape.insert(i, 1);
                }
            }
            same(&Value { shape, ..x.clone() }, x.elements())
        }
        "Gemm" => {
            let (x, w) = (input(0)?, input(1)?);
            if x.shape.len() != 2 || w.shape.len() != 2 {
                return Err(format!(
                    "{at}: Gemm needs two matrices, has {:?} and {:?}",
                    x.shape, w.shape
                ));
            }
            let trans = |name: &str| match a.int(name, 0) {
                0 => Ok(false),
                1 => Ok(true),
                v => Err(format!("{at}: {name} = {v}")),
            };
            let (m, k) = if trans("transA")? {
                (x.shape[1], x.shape[0])
            } else {
                (x.shape[0], x.shape[1])
            };
            let (k2, n) = if trans("transB")? {
                (w.shape[1], w.shape[0])
            } else {
                (w.shape[0], w.shape[1])
            };
            if k != k2 {
                return Err(format!("{at}: inner dimensions {k} and {k2} differ"));
            }
            if let Some(c) = inputs.get(2).copied().flatten() {
                let fits = c.shape.len() <= 2
                    && broadcast(&[&c.shape, &[m, n]], at).is_ok_and(|s| s == [m, n]);
                if !fits {
                    return Err(format!(
                        "{at}: C {:?} does not broadcast to [{m}, {n}]",
                        c.shape
                    ));
                }
            }
            let product = MatrixProduct {
                batches: 1,
                m,
                k,
                n,
                b_constant: w.constant,
            };
            product.step(vec![m, n], x.dtype, constant, at)?
        }
        "MatMul" => {
            let (x, w) = (input(0)?, input(1)?);
            if x.shape.is_empty() || w.shape.is_empty() {
                return Err(format!("{at}: MatMul operands must have rank ≥ 1"));
            }
            let (xs, ws) = (&x.shape, &w.shape);
            let (m, k) = if xs.len() == 1 {
                (1, xs[0])
            } else {
                (xs[xs.len() - 2], xs[xs.len() - 1])
            };
            let (k2, n) = if ws.len() == 1 {
                (ws[0], 1)
            } else {
                (ws[ws.len() - 2], ws[ws.len() - 1])
            };
            if k != k2 {
                return Err(format!(
                    "{at}: inner dimensions of {xs:?} and {ws:?} differ"
                ));
            }
            let xb = &xs[..xs.len().saturating_sub(2)];
            let wb = &ws[..ws.len().saturating_sub(2)];
            let mut shape = broadcast(&[xb, wb], at)?;
            let batches = product(&shape, at)?;
            if xs.len() > 1 {
                shape.push(m);
            }
            if ws.len() > 1 {
                shape.push(n);
            }
            let product = MatrixProduct {
                batches,
                m,
                k,
                n,
                b_constant: w.constant,
            };
            product.step(shape, x.dtype, constant, at)?
        }
        "Conv" => {
            let (x, w) = (input(0)?, input(1)?);
            if !w.constant {
                return Err(format!("{at}: the weights must be a constant"));
            }
            let rank = x.shape.len();
            if rank < 3 || w.shape.len() != rank {
                return Err(format!(
                    "{at}: input {:?} and weights {:?} do not make a convolution",
                    x.shape, w.shape
                ));
            }
            let (n, c) = (x.shape[0], x.shape[1]);
            let (m, cg) = (w.shape[0], w.shape[1]);
            let group = u64::try_from(a.int("group", 1)).unwrap_or(0);
            if group == 0 || c % group != 0 || m % group != 0 || cg * group != c {
                return Err(format!(
                    "{at}: group {group} does not fit {c} input channels, weights {:?}",
                    w.shape
                ));
            }
            let kernel = w.shape[2..].to_vec();
            if let Some(ks) = a.ints("kernel_shape")
                && ks
                    .iter()
                    .map(|&k| u64::try_from(k).ok())
                    .collect::<Vec<_>>()
                    != kernel.iter().map(|&k| Some(k)).collect::<Vec<_>>()
            {
                return Err(format!(
                    "{at}: kernel_shape {ks:?} differs from the weights' {kernel:?}"
                ));
            }
            if let Some(b) = inputs.get(2).copied().flatten()
                && b.shape != [m]
            {
                return Err(format!("{at}: bias {:?} is not [{m}]", b.shape));
            }
            let geo = window(&a, &x.shape[2..], kernel, false, limits, at)?;
            let positions = product(&geo.out, at)?;
            let window = product(&geo.kernel, at)?;
            let mut shape = vec![n, m];
            shape.extend(&geo.out);
            let outputs = product(&shape, at)?;
            let macs = mul(outputs, mul(cg, window, at)?, at)?;
            // Per image and group: (M/g × C/g·k) · (C/g·k × positions).
            let tiled = mul(
                mul(n, group, at)?,
                mul(
                    mul(tile(m / group), tile(positions), at)?,
                    mul(cg, window, at)?,
                    at,
                )?,
                at,
            )?;
            let im2col = mul(n, mul(c, mul(window, positions, at)?, at)?, at)?;
            Step {
                value: Value::computed(shape, x.dtype, constant),
                units: sum(&[tiled, mul(im2col, 4, at)?, mul(outputs, 16, at)?], at)?,
                macs,
                scratch: im2col,
            }
        }
        "Exp" | "Log" | "Tanh" | "Sigmoid" | "Erf" => {
            let x = computed_float(input(0)?, op, at)?;
            same(x, x.elements())
        }
        "Softmax" | "LogSoftmax" => {
            let x = computed_float(input(0)?, op, at)?;
            let ax = axis(a.int("axis", -1), x.shape.len(), at)?;
            not_across_rows(&[ax], at)?;
            same(x, x.elements())
        }
        "Clip" => {
            let x = input(0)?;
            for k in 1..3 {
                if let Some(bound) = inputs.get(k).copied().flatten()
                    && !(bound.constant && bound.shape.is_empty())
                {
                    return Err(format!(
                        "{at}: a bound must be a constant scalar, input {k} is {:?}",
                        bound.shape
                    ));
                }
            }
            same(x, mul(x.elements(), 2, at)?)
        }
        "Dropout" => {
            if inputs.len() > 2 {
                return Err(format!(
                    "{at}: a training_mode input is not supported; export the model in inference mode"
                ));
            }
            if let Some(ratio) = inputs.get(1).copied().flatten()
                && !ratio.constant
            {
                return Err(format!("{at}: the ratio must be a constant"));
            }
            let x = input(0)?;
            same(x, x.elements())
        }
        "ReduceMean" | "ReduceSum" | "ReduceMax" => {
            let x = computed_float(input(0)?, op, at)?;
            let rank = x.shape.len();
            let listed = listed_axes(&a, inputs, "at most once", at)?.unwrap_or_default();
            let mut axes = distinct_axes(&listed, rank, at)?;
            if axes.is_empty() {
                if a.int("noop_with_empty_axes", 0) == 1 {
                    return Ok(same(x, x.elements()));
                }
                axes = (0..rank).collect();
            }
            not_across_rows(&axes, at)?;
            let keep = a.int("keepdims", 1) != 0;
            let shape: Vec<u64> = x
                .shape
                .iter()
                .enumerate()
                .filter_map(|(i, &d)| match (axes.contains(&i), keep) {
                    (false, _) => Some(d),
                    (true, true) => Some(1),
                    (true, false) => None,
                })
                .collect();
            let outputs = product(&shape, at)?;
            Step {
                value: Value::computed(shape, x.dtype, false),
                units: sum(&[x.elements(), outputs], at)?,
                macs: 0,
                scratch: 0,
            }
        }
        "GlobalAveragePool" => {
            let x = computed_float(input(0)?, op, at)?;
            if x.shape.len() < 3 {
                return Err(format!("{at}: input {:?} has no spatial axes", x.shape));
            }
            let mut shape = x.shape[..2].to_vec();
            shape.resize(x.shape.len(), 1);
            let outputs = product(&shape, at)?;
            Step {
                value: Value::computed(shape, x.dtype, false),
                units: sum(&[x.elements(), outputs], at)?,
                macs: 0,
                scratch: 0,
            }
        }
        "MaxPool" | "AveragePool" => {
            let x = input(0)?;
            if x.shape.len() < 3 {
                return Err(format!("{at}: input {:?} has no spatial axes", x.shape));
            }
            if a.int("storage_order", 0) != 0 {
                return Err(format!("{at}: storage_order 1 is not supported"));
            }
            if !(0..=1).contains(&a.int("count_include_pad", 0)) {
                return Err(format!("{at}: count_include_pad must be 0 or 1"));
            }
            let kernel: Vec<u64> = a
                .ints("kernel_shape")
                .ok_or_else(|| format!("{at}: kernel_shape is missing"))?
                .iter()
                .map(|&k| u64::try_from(k).unwrap_or(0))
                .collect();
            if kernel.len() != x.shape.len() - 2 {
                return Err(format!(
                    "{at}: kernel_shape {kernel:?} does not fit input {:?}",
                    x.shape
                ));
            }
            let geo = window(&a, &x.shape[2..], kernel, true, limits, at)?;
            let window = product(&geo.kernel, at)?;
            let mut shape = x.shape[..2].to_vec();
            shape.extend(&geo.out);
            let outputs = product(&shape, at)?;
            Step {
                value: Value::computed(shape, x.dtype, constant),
                units: sum(&[mul(outputs, window, at)?, outputs], at)?,
                macs: 0,
                scratch: 0,
            }
        }
        _ => {
            return Err(format!(
                "{at}: operator {op} cannot be costed, so it is not allowed"
            ));
        }
    })
}
