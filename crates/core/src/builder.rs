//! A small ONNX graph builder: one input, float32 initializers with deterministic
//! pseudo-random weights, any node. The attack suite, the calibration probe
//! (`examples/cost_probe.rs`) and the fuzz corpus build their models with it; it is plain
//! protobuf assembly and checks nothing (the scorer does).

use prost::Message;
use tract_onnx::pb::{self, tensor_proto::DataType, tensor_shape_proto::dimension, type_proto};

/// Builds a model node by node.
#[derive(Debug, Clone)]
pub struct GraphBuilder {
    input: pb::ValueInfoProto,
    nodes: Vec<pb::NodeProto>,
    initializers: Vec<pb::TensorProto>,
    opset: i64,
    seed: u64,
    names: usize,
}

/// An integer attribute.
pub fn int(name: &str, v: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i: v,
        ..Default::default()
    }
}

/// An integer-list attribute.
pub fn ints(name: &str, v: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// A float attribute.
pub fn float(name: &str, v: f32) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Float as i32,
        f: v,
        ..Default::default()
    }
}

/// A string attribute.
pub fn string(name: &str, v: &str) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::String as i32,
        s: v.as_bytes().to_vec(),
        ..Default::default()
    }
}

fn value_info(name: &str, dims: Option<&[Option<i64>]>) -> pb::ValueInfoProto {
    let shape = dims.map(|dims| pb::TensorShapeProto {
        dim: dims
            .iter()
            .map(|d| pb::tensor_shape_proto::Dimension {
                value: Some(match d {
                    Some(v) => dimension::Value::DimValue(*v),
                    None => dimension::Value::DimParam("batch".into()),
                }),
                ..Default::default()
            })
            .collect(),
    });
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape,
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl GraphBuilder {
    /// A graph whose input `x` has this per-sample shape and a symbolic (`None`) or fixed
    /// batch dimension. Opset 13.
    pub fn new(sample_shape: &[usize], fixed_batch: Option<usize>) -> Self {
        let dims: Vec<Option<i64>> = std::iter::once(fixed_batch.map(|b| b as i64))
            .chain(sample_shape.iter().map(|&d| Some(d as i64)))
            .collect();
        Self {
            input: value_info("x", Some(&dims)),
            nodes: Vec::new(),
            initializers: Vec::new(),
            opset: 13,
            seed: 0x9e37_79b9_7f4a_7c15,
            names: 0,
        }
    }

    /// The input's name.
    pub const fn input(&self) -> &'static str {
        "x"
    }

    /// Sets the default-domain opset.
    pub const fn opset(mut self, opset: i64) -> Self {
        self.opset = opset;
        self
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.names += 1;
        format!("{prefix}{}", self.names)
    }

    /// A float32 initializer of this shape holding small pseudo-random values in
    /// (-0.5, 0.5) / √fan-in, so that deep graphs stay finite.
    pub fn weights(&mut self, dims: &[usize]) -> String {
        let count: usize = dims.iter().product();
        let fan_in = dims.iter().skip(1).product::<usize>().max(1) as f32;
        let scale = 1.0 / fan_in.sqrt();
        let mut raw = Vec::with_capacity(count * 4);
        for _ in 0..count {
            // SplitMix64.
            self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            let unit = (z >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            raw.extend_from_slice(&(unit * scale).to_le_bytes());
        }
        self.tensor(dims, DataType::Float, raw)
    }

    /// A float32 initializer holding `values` (row-major).
    pub fn floats(&mut self, dims: &[usize], values: &[f32]) -> String {
        debug_assert_eq!(dims.iter().product::<usize>(), values.len());
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensor(dims, DataType::Float, raw)
    }

    /// A float32 initializer filled with `value`.
    pub fn fill(&mut self, dims: &[usize], value: f32) -> String {
        let count: usize = dims.iter().product();
        self.tensor(dims, DataType::Float, value.to_le_bytes().repeat(count))
    }

    /// An int64 vector initializer (a shape or axes operand).
    pub fn int64s(&mut self, values: &[i64]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensor(&[values.len()], DataType::Int64, raw)
    }

    fn tensor(&mut self, dims: &[usize], dt: DataType, raw: Vec<u8>) -> String {
        let name = self.fresh("w");
        self.initializers.push(pb::TensorProto {
            name: name.clone(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: dt as i32,
            raw_data: raw,
            ..Default::default()
        });
        name
    }

    /// Appends a node and returns the name of its one output.
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        attributes: Vec<pb::AttributeProto>,
    ) -> String {
        let out = self.fresh("v");
        let name = self.fresh(&format!("{op}_"));
        self.nodes.push(pb::NodeProto {
            name,
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            attribute: attributes,
            ..Default::default()
        });
        out
    }

    /// The encoded model, with `output` as its float32 graph output.
    pub fn finish(self, output: &str) -> Vec<u8> {
        let graph = pb::GraphProto {
            name: "built".into(),
            node: self.nodes,
            initializer: self.initializers,
            input: vec![self.input],
            output: vec![value_info(output, None)],
            ..Default::default()
        };
        pb::ModelProto {
            ir_version: 7,
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: self.opset,
            }],
            producer_name: "crucible-core builder".into(),
            graph: Some(graph),
            ..Default::default()
        }
        .encode_to_vec()
    }
}

/// Small classifiers of Fashion-MNIST's `[1, 28, 28]` images that use every operator
/// [`crate::ops`] computes itself, and the other operators allowed since: `Softmax`,
/// `LogSoftmax`, `Tanh`, `Sigmoid`, `Exp`, `Log`, `Erf` (in the GELU pattern exporters
/// write), `Clip`, `Dropout`, `AveragePool`, `GlobalAveragePool`, `ReduceSum` (axes as an
/// operand, opset 13), `ReduceMean` and `ReduceMax`. The golden tests record their output
/// bits on the host and check them on riscv64; the calibration probe measures them.
pub fn operator_zoo() -> Vec<(&'static str, Vec<u8>)> {
    /// `x / 255`, flattened, through a `Gemm` to `n` features.
    fn features(b: &mut GraphBuilder, n: usize) -> String {
        let scale = b.fill(&[], 1.0 / 255.0);
        let x = b.node("Mul", &["x", &scale], vec![]);
        let flat = b.node("Flatten", &[&x], vec![int("axis", 1)]);
        dense(b, &flat, 784, n)
    }
    fn dense(b: &mut GraphBuilder, x: &str, k: usize, n: usize) -> String {
        let w = b.weights(&[n, k]);
        let bias = b.weights(&[n]);
        b.node("Gemm", &[x, &w, &bias], vec![int("transB", 1)])
    }
    let softmax = {
        let mut b = GraphBuilder::new(&[1, 28, 28], None);
        let h = features(&mut b, 32);
        let h = b.node("Tanh", &[&h], vec![]);
        let logits = dense(&mut b, &h, 32, 10);
        let p = b.node("Softmax", &[&logits], vec![int("axis", 1)]);
        b.finish(&p)
    };
    let gelu = {
        let mut b = GraphBuilder::new(&[1, 28, 28], None);
        let h = features(&mut b, 32);
        // GELU as exporters write it: x · 0.5 · (1 + erf(x / √2)).
        let root2 = b.fill(&[], std::f32::consts::SQRT_2);
        let one = b.fill(&[], 1.0);
        let half = b.fill(&[], 0.5);
        let scaled = b.node("Div", &[&h, &root2], vec![]);
        let erf = b.node("Erf", &[&scaled], vec![]);
        let shifted = b.node("Add", &[&erf, &one], vec![]);
        let gated = b.node("Mul", &[&h, &shifted], vec![]);
        let g = b.node("Mul", &[&gated, &half], vec![]);
        let logits = dense(&mut b, &g, 32, 10);
        let p = b.node("LogSoftmax", &[&logits], vec![int("axis", -1)]);
        b.finish(&p)
    };
    let squashing = {
        let mut b = GraphBuilder::new(&[1, 28, 28], None);
        let h = features(&mut b, 16);
        let s = b.node("Sigmoid", &[&h], vec![]);
        let (low, high) = (b.fill(&[], 0.05), b.fill(&[], 0.95));
        let c = b.node("Clip", &[&s, &low, &high], vec![]);
        let l = b.node("Log", &[&c], vec![]);
        let e = b.node("Exp", &[&l], vec![]);
        let ratio = b.fill(&[], 0.25);
        let d = b.node("Dropout", &[&e, &ratio], vec![]);
        dense_out(b, &d, 16)
    };
    fn dense_out(mut b: GraphBuilder, x: &str, k: usize) -> Vec<u8> {
        let y = dense(&mut b, x, k, 10);
        b.finish(&y)
    }
    let pools = {
        let mut b = GraphBuilder::new(&[1, 28, 28], None);
        let scale = b.fill(&[], 1.0 / 255.0);
        let x = b.node("Mul", &["x", &scale], vec![]);
        let w = b.weights(&[4, 1, 3, 3]);
        let bias = b.weights(&[4]);
        let c = b.node(
            "Conv",
            &[&x, &w, &bias],
            vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1])],
        );
        let p = b.node(
            "AveragePool",
            &[&c],
            vec![
                ints("kernel_shape", &[3, 3]),
                ints("strides", &[2, 2]),
                ints("pads", &[1, 1, 1, 1]),
            ],
        );
        let global = b.node("GlobalAveragePool", &[&p], vec![]);
        let global = b.node("Flatten", &[&global], vec![int("axis", 1)]);
        let max = b.node(
            "ReduceMax",
            &[&p],
            vec![ints("axes", &[2, 3]), int("keepdims", 0)],
        );
        let axes = b.int64s(&[3]);
        let rows = b.node("ReduceSum", &[&p, &axes], vec![]);
        let mean = b.node("ReduceMean", &[&rows], vec![ints("axes", &[2])]);
        let mean = b.node("Flatten", &[&mean], vec![int("axis", 1)]);
        let all = b.node("Concat", &[&global, &max, &mean], vec![int("axis", 1)]);
        dense_out(b, &all, 12)
    };
    vec![
        ("softmax-tanh", softmax),
        ("gelu-logsoftmax", gelu),
        ("sigmoid-clip-log-exp-dropout", squashing),
        ("avgpool-reduce", pools),
    ]
}

/// Hostile models and datasets: the classes of input that stall or crash a naive scorer,
/// for the tests of every layer (core, DApp, node) and the fuzz corpus.
pub mod hostile {
    use super::{GraphBuilder, int, ints};
    use crate::dataset::{self, DatasetFeatures, DatasetTargets};

    /// `rows` rows of deterministic uint8 features of this per-row shape, labels in 0..10.
    pub fn labelled_u8(sample: &[usize], rows: usize) -> Vec<u8> {
        let n = sample.iter().product::<usize>() * rows;
        let mut shape = vec![rows];
        shape.extend(sample);
        let x: Vec<u8> = (0..n)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8)
            .collect();
        let y: Vec<i64> = (0..rows).map(|i| (i % 10) as i64).collect();
        dataset::encode(
            &shape,
            DatasetFeatures::U8(&x),
            &[rows],
            DatasetTargets::Labels(&y),
        )
        .expect("a labelled uint8 dataset encodes")
    }

    /// `x → f → Flatten → Gemm to 10 classes`, symbolic batch.
    fn classifier(sample: &[usize], f: impl FnOnce(&mut GraphBuilder) -> String) -> Vec<u8> {
        classifier_batch(sample, None, f)
    }

    fn classifier_batch(
        sample: &[usize],
        batch: Option<usize>,
        f: impl FnOnce(&mut GraphBuilder) -> String,
    ) -> Vec<u8> {
        let mut b = GraphBuilder::new(sample, batch);
        let y = f(&mut b);
        let flat = b.node("Flatten", &[&y], vec![int("axis", 1)]);
        b.finish(&flat)
    }

    /// A nearest-neighbour memoriser of a labelled dataset, from allowed operators only:
    /// `Gemm` scores every stored row `v` as `x·v − |v|²/2` (largest for the nearest row),
    /// the scores are grouped by class (padded with −10³⁰), and two `MaxPool`s keep each
    /// class's best. It scores ~100 % on the rows it memorised and what 1-NN on them scores
    /// elsewhere.
    pub fn memorizer(data: &[u8]) -> Vec<u8> {
        let d = dataset::Dataset::parse(data, u32::MAX).expect("a labelled dataset");
        let n = d.sample_len();
        let classes = (0..d.rows).map(|r| d.label(r)).max().unwrap_or(0) as usize + 1;
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
        for r in 0..d.rows {
            by_class[d.label(r) as usize].push(r);
        }
        // Slots per class: a multiple of 16, pooled 16 then `slots / 16` at a time.
        let most = by_class.iter().map(Vec::len).max().unwrap_or(1);
        let slots = most.div_ceil(16) * 16;
        let mut w = vec![0f32; classes * slots * n];
        let mut bias = vec![-1e30f32; classes * slots];
        let mut row = Vec::with_capacity(n);
        for (c, rows) in by_class.iter().enumerate() {
            for (k, &r) in rows.iter().enumerate() {
                row.clear();
                d.extend_features(r, r + 1, &mut row);
                let col = c * slots + k;
                w[col * n..(col + 1) * n].copy_from_slice(&row);
                bias[col] = -0.5 * row.iter().map(|v| v * v).sum::<f32>();
            }
        }
        let mut b = GraphBuilder::new(&d.sample_shape, None);
        let flat = b.node("Flatten", &["x"], vec![int("axis", 1)]);
        let w = b.floats(&[classes * slots, n], &w);
        let bias = b.floats(&[classes * slots], &bias);
        let scores = b.node("Gemm", &[&flat, &w, &bias], vec![int("transB", 1)]);
        let shape = b.int64s(&[-1, classes as i64, slots as i64]);
        let grouped = b.node("Reshape", &[&scores, &shape], vec![]);
        let p1 = b.node(
            "MaxPool",
            &[&grouped],
            vec![ints("kernel_shape", &[16]), ints("strides", &[16])],
        );
        let rest = (slots / 16) as i64;
        let p2 = b.node(
            "MaxPool",
            &[&p1],
            vec![ints("kernel_shape", &[rest]), ints("strides", &[rest])],
        );
        let out = b.node("Flatten", &[&p2], vec![int("axis", 1)]);
        b.finish(&out)
    }

    /// A model and a dataset built to stall or crash a naive scorer, and the words its refusal
    /// must contain.
    #[derive(Debug, Clone)]
    pub struct Attack {
        /// What it tries.
        pub name: &'static str,
        /// The model file.
        pub model: Vec<u8>,
        /// The dataset file it is evaluated on.
        pub data: Vec<u8>,
        /// A part of the rejection reason.
        pub reason: &'static str,
    }

    /// `count` copies of `x` concatenated on the last axis.
    fn fan_out(b: &mut GraphBuilder, x: &str, count: usize) -> String {
        let inputs = vec![x; count];
        b.node("Concat", &inputs, vec![int("axis", -1)])
    }

    /// One attack per class of hostile input the DApp must refuse before running it: huge pool
    /// windows and pads, Concat fan-out, chains of element-wise and copy operators over blown-up
    /// tensors, overflowing shapes, large fixed batches, huge rows, many rows, and constant
    /// sub-graphs that tract would fold into gigabytes while typing. Under the default limits
    /// and budget each is refused with [`Attack::reason`] in its rejection.
    pub fn attacks() -> Vec<Attack> {
        vec![
            Attack {
                name: "max pool with a huge kernel and pads (0 MACs, ~10^12 comparisons)",
                model: classifier(&[1, 28, 28], |b| {
                    b.node(
                        "MaxPool",
                        &["x"],
                        vec![
                            ints("kernel_shape", &[1000, 1000]),
                            ints("pads", &[999, 999, 999, 999]),
                        ],
                    )
                }),
                data: labelled_u8(&[1, 28, 28], 32),
                reason: "limits.maxWindow",
            },
            Attack {
                name: "max pool within the window limit, padded to 64x the work",
                model: classifier(&[1, 256, 256], |b| {
                    b.node(
                        "MaxPool",
                        &["x"],
                        vec![
                            ints("kernel_shape", &[64, 64]),
                            ints("pads", &[63, 63, 63, 63]),
                        ],
                    )
                }),
                data: labelled_u8(&[1, 256, 256], 4),
                reason: "limits.maxWorkPerSample",
            },
            Attack {
                name: "pads as large as the window (windows entirely in the padding)",
                model: classifier(&[1, 8, 8], |b| {
                    b.node(
                        "MaxPool",
                        &["x"],
                        vec![ints("kernel_shape", &[4, 4]), ints("pads", &[4, 4, 4, 4])],
                    )
                }),
                data: labelled_u8(&[1, 8, 8], 4),
                reason: "smaller than the window",
            },
            Attack {
                name: "nested Concat fan-out (64 x 64) to gigabytes per sample",
                model: classifier(&[1024], |b| {
                    let wide = fan_out(b, "x", 64);
                    fan_out(b, &wide, 64)
                }),
                data: labelled_u8(&[1024], 32),
                reason: "limits.maxTensorElements",
            },
            Attack {
                name: "Concat fan-out then a long chain of element-wise operators",
                model: classifier(&[1024], |b| {
                    let mut y = fan_out(b, "x", 64);
                    for i in 0..300 {
                        y = b.node(if i % 2 == 0 { "Relu" } else { "Identity" }, &[&y], vec![]);
                    }
                    y
                }),
                data: labelled_u8(&[1024], 32),
                reason: "limits.maxBatchBytes",
            },
            Attack {
                name: "Transpose copies over a blown-up tensor",
                model: classifier(&[64, 64], |b| {
                    let mut y = fan_out(b, "x", 16);
                    for _ in 0..200 {
                        y = b.node("Transpose", &[&y], vec![ints("perm", &[0, 2, 1])]);
                    }
                    y
                }),
                data: labelled_u8(&[64, 64], 32),
                reason: "limits.maxBatchBytes",
            },
            Attack {
                name: "a Reshape whose dimension product overflows",
                model: classifier(&[16], |b| {
                    let shape = b.int64s(&[1 << 62, 8, -1]);
                    b.node("Reshape", &["x", &shape], vec![])
                }),
                data: labelled_u8(&[16], 32),
                reason: "overflows",
            },
            Attack {
                name: "a large fixed batch dimension",
                model: classifier_batch(&[16], Some(4096), |b| b.node("Relu", &["x"], vec![])),
                data: labelled_u8(&[16], 1),
                reason: "limits.maxFixedBatch",
            },
            Attack {
                name: "a fixed batch of 256 whose one run exceeds the budget, on a one-row dataset",
                model: classifier_batch(&[1, 64, 64], Some(256), |b| {
                    b.node(
                        "MaxPool",
                        &["x"],
                        vec![
                            ints("kernel_shape", &[16, 16]),
                            ints("pads", &[15, 15, 15, 15]),
                        ],
                    )
                }),
                data: labelled_u8(&[1, 64, 64], 1),
                reason: "above the per-input budget of 8000000000",
            },
            Attack {
                name: "rows of four million elements",
                model: classifier(&[1 << 22], |b| b.node("Relu", &["x"], vec![])),
                data: labelled_u8(&[1 << 22], 2),
                reason: "limits.maxTensorElements",
            },
            Attack {
                name: "a 1 KB model that passes every per-sample limit, over 100,000 rows",
                model: classifier(&[1, 4, 4], |b| {
                    let inputs = vec!["x"; 64];
                    let c = b.node("Concat", &inputs, vec![int("axis", 1)]);
                    b.node(
                        "MaxPool",
                        &[&c],
                        vec![ints("kernel_shape", &[8, 8]), ints("pads", &[7, 7, 7, 7])],
                    )
                }),
                data: labelled_u8(&[1, 4, 4], 100_000),
                reason: "above the per-input budget of 8000000000",
            },
            Attack {
                name: "a constant sub-graph that tract would fold into gigabytes while typing",
                model: classifier(&[16], |b| {
                    let w = b.fill(&[1, 1 << 20], 1.0);
                    let big = fan_out(b, &w, 64);
                    let bigger = fan_out(b, &big, 64);
                    let s = b.int64s(&[1, -1]);
                    let flat = b.node("Reshape", &[&bigger, &s], vec![]);
                    b.node("Add", &["x", &flat], vec![])
                }),
                data: labelled_u8(&[16], 32),
                reason: "limits.maxTensorElements",
            },
        ]
    }
}
