//! ONNX in and out. Export writes the graph `models/generate.py` gets from PyTorch (opset 13,
//! `x [batch, …] → logits [batch, classes]`, the same node and initializer names), from the
//! trained weights, with `tract_onnx::pb`'s protobuf types. Import reads a baseline of one of
//! the supported architectures back into [`Weights`], refusing any graph that computes
//! something else.

use std::collections::BTreeMap;

use prost::Message;
use tract_onnx::pb::{
    self, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto::AttributeType,
    tensor_proto::DataType, tensor_shape_proto::Dimension,
};

use crate::{
    Error, Result,
    spec::{Arch, CONV_KERNEL, Layer, POOL, Spec, Weights, transpose},
};

/// The opset the export declares (that of the baseline models).
pub const OPSET: i64 = 13;
/// IR version of the export (ONNX 1.6+, what `torch.onnx.export` writes for opset 13).
pub const IR_VERSION: i64 = 7;
/// Name of the graph input.
pub const INPUT: &str = "x";
/// Name of the graph output.
pub const OUTPUT: &str = "logits";

/// Serialises `weights` as an ONNX model. The bytes depend on the weights alone.
pub fn export(weights: &Weights) -> Result<Vec<u8>> {
    weights.validate()?;
    let spec = &weights.spec;
    let mut g = GraphBuilder::default();
    for layer in &weights.layers {
        g.init(
            &format!("{}.weight", layer.name),
            &layer.weight_dims,
            &layer.weight,
        );
        g.init(
            &format!("{}.bias", layer.name),
            &[layer.bias.len()],
            &layer.bias,
        );
    }
    let mut x = INPUT.to_string();
    let divide = |g: &mut GraphBuilder, x: &str| {
        if spec.input_divisor == 1.0 {
            return x.to_string();
        }
        g.init("input_divisor", &[], &[spec.input_divisor]);
        g.node("/Div", "Div", &[x, "input_divisor"], vec![])
    };
    match spec.arch {
        Arch::Mlp { .. } => {
            x = g.node("/Flatten", "Flatten", &[&x], vec![int("axis", 1)]);
            x = divide(&mut g, &x);
        }
        Arch::Cnn { .. } => {
            x = divide(&mut g, &x);
            for (i, conv) in ["conv1", "conv2"].into_iter().enumerate() {
                let k = CONV_KERNEL as i64;
                let p = POOL as i64;
                x = g.node(
                    &format!("/{conv}/Conv"),
                    "Conv",
                    &[&x, &format!("{conv}.weight"), &format!("{conv}.bias")],
                    vec![
                        ints("dilations", &[1, 1]),
                        int("group", 1),
                        ints("kernel_shape", &[k, k]),
                        ints("pads", &[0, 0, 0, 0]),
                        ints("strides", &[1, 1]),
                    ],
                );
                x = g.node(&suffixed("/Relu", i), "Relu", &[&x], vec![]);
                x = g.node(
                    &suffixed("/MaxPool", i),
                    "MaxPool",
                    &[&x],
                    vec![
                        int("ceil_mode", 0),
                        ints("dilations", &[1, 1]),
                        ints("kernel_shape", &[p, p]),
                        ints("pads", &[0, 0, 0, 0]),
                        ints("strides", &[p, p]),
                    ],
                );
            }
            x = g.node("/Flatten", "Flatten", &[&x], vec![int("axis", 1)]);
        }
    }
    let relu = match spec.arch {
        Arch::Mlp { .. } => "/Relu",
        Arch::Cnn { .. } => "/Relu_2",
    };
    x = g.node(
        "/fc1/Gemm",
        "Gemm",
        &[&x, "fc1.weight", "fc1.bias"],
        gemm_attrs(),
    );
    x = g.node(relu, "Relu", &[&x], vec![]);
    g.nodes.push(NodeProto {
        input: vec![x, "fc2.weight".into(), "fc2.bias".into()],
        output: vec![OUTPUT.into()],
        name: "/fc2/Gemm".into(),
        op_type: "Gemm".into(),
        attribute: gemm_attrs(),
        ..Default::default()
    });

    let mut input_dims = vec![Dimension {
        value: Some(pb::tensor_shape_proto::dimension::Value::DimParam(
            "batch".into(),
        )),
        ..Default::default()
    }];
    input_dims.extend(spec.sample_shape.iter().map(|&d| fixed(d)));
    let model = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "crucible-trainer".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(GraphProto {
            node: g.nodes,
            name: "crucible".into(),
            initializer: g.initializers,
            input: vec![value_info(INPUT, input_dims)],
            output: vec![value_info(
                OUTPUT,
                vec![
                    Dimension {
                        value: Some(pb::tensor_shape_proto::dimension::Value::DimParam(
                            "batch".into(),
                        )),
                        ..Default::default()
                    },
                    fixed(spec.classes),
                ],
            )],
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(model.encode_to_vec())
}

/// `/Relu`, `/Relu_1`, … as `torch.onnx.export` names repeated ops.
fn suffixed(base: &str, i: usize) -> String {
    if i == 0 {
        base.to_string()
    } else {
        format!("{base}_{i}")
    }
}

fn gemm_attrs() -> Vec<AttributeProto> {
    vec![
        AttributeProto {
            name: "alpha".into(),
            r#type: AttributeType::Float as i32,
            f: 1.0,
            ..Default::default()
        },
        AttributeProto {
            name: "beta".into(),
            r#type: AttributeType::Float as i32,
            f: 1.0,
            ..Default::default()
        },
        int("transB", 1),
    ]
}

fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        r#type: AttributeType::Ints as i32,
        ints: v.to_vec(),
        ..Default::default()
    }
}

fn fixed(d: usize) -> Dimension {
    Dimension {
        value: Some(pb::tensor_shape_proto::dimension::Value::DimValue(d as i64)),
        ..Default::default()
    }
}

fn value_info(name: &str, dim: Vec<Dimension>) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: DataType::Float as i32,
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[derive(Default)]
struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl GraphBuilder {
    fn init(&mut self, name: &str, dims: &[usize], values: &[f32]) {
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: DataType::Float as i32,
            name: name.into(),
            raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ..Default::default()
        });
    }

    /// Adds a node with one output, `<name>_output_0`, and returns that output's name.
    fn node(
        &mut self,
        name: &str,
        op: &str,
        inputs: &[&str],
        attribute: Vec<AttributeProto>,
    ) -> String {
        let out = format!("{name}_output_0");
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            name: name.into(),
            op_type: op.into(),
            attribute,
            ..Default::default()
        });
        out
    }
}

/// Reads a model of one of the supported architectures (a competition's baseline, or an
/// earlier export) back into weights.
pub fn import(bytes: &[u8]) -> Result<Weights> {
    let bad = |m: String| Error::Init(m);
    let model = ModelProto::decode(bytes).map_err(|e| bad(format!("not an ONNX protobuf: {e}")))?;
    let graph = model.graph.as_ref().ok_or_else(|| bad("no graph".into()))?;

    // Constant tensors, by the name they are known under in the graph.
    let mut constants: BTreeMap<&str, &TensorProto> = graph
        .initializer
        .iter()
        .map(|t| (t.name.as_str(), t))
        .collect();
    for node in graph.node.iter().filter(|n| n.op_type == "Constant") {
        if let (Some(out), Some(t)) = (
            node.output.first(),
            node.attribute.iter().find_map(|a| a.t.as_ref()),
        ) {
            constants.insert(out, t);
        }
    }

    let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
    for node in graph.node.iter().filter(|n| n.op_type != "Constant") {
        *ops.entry(node.op_type.as_str()).or_default() += 1;
    }
    let is_cnn = ops.contains_key("Conv");
    let divides = ops.contains_key("Div");
    let mut expected: BTreeMap<&str, usize> = if is_cnn {
        [
            ("Conv", 2),
            ("Relu", 3),
            ("MaxPool", 2),
            ("Flatten", 1),
            ("Gemm", 2),
        ]
        .into()
    } else {
        [("Relu", 1), ("Flatten", 1), ("Gemm", 2)].into()
    };
    if divides {
        expected.insert("Div", 1);
    }
    if ops != expected {
        return Err(bad(format!(
            "its operators {ops:?} are not those of the {} ({expected:?}): the trainer starts only from its own architectures",
            if is_cnn { "CNN" } else { "MLP" }
        )));
    }
    for node in &graph.node {
        check_attributes(node).map_err(bad)?;
    }

    let input = graph
        .input
        .iter()
        .find(|i| !constants.contains_key(i.name.as_str()))
        .ok_or_else(|| bad("the graph has no input".into()))?;
    let sample_shape = input_sample_shape(input).map_err(bad)?;

    let input_divisor = match graph.node.iter().find(|n| n.op_type == "Div") {
        None => 1.0,
        Some(div) => {
            let values = div
                .input
                .get(1)
                .and_then(|name| constants.get(name.as_str()))
                .map(|t| floats(t))
                .transpose()
                .map_err(bad)?;
            match values.as_deref() {
                Some([d]) => *d,
                _ => return Err(bad("its Div does not divide by one constant".into())),
            }
        }
    };

    let names: &[&'static str] = if is_cnn {
        &["conv1", "conv2", "fc1", "fc2"]
    } else {
        &["fc1", "fc2"]
    };
    let mut layers = Vec::with_capacity(names.len());
    for &name in names {
        let get = |suffix: &str| {
            let key = format!("{name}.{suffix}");
            constants
                .get(key.as_str())
                .ok_or_else(|| bad(format!("it has no tensor {key:?}")))
        };
        let (w, b) = (get("weight")?, get("bias")?);
        let rank = if name.starts_with("conv") { 4 } else { 2 };
        if w.dims.len() != rank || b.dims.len() != 1 {
            return Err(bad(format!(
                "{name}.weight has dimensions {:?} and {name}.bias {:?}: expected rank {rank} and 1",
                w.dims, b.dims
            )));
        }
        let mut weight_dims: Vec<usize> = w.dims.iter().map(|&d| d.max(0) as usize).collect();
        let mut weight = floats(w).map_err(bad)?;
        let gemm = graph
            .node
            .iter()
            .find(|n| n.op_type == "Gemm" && n.input.get(1).is_some_and(|i| *i == w.name));
        if let Some(gemm) = gemm
            && !gemm
                .attribute
                .iter()
                .any(|a| a.name == "transB" && a.i == 1)
            && let [rows, cols] = weight_dims[..]
        {
            // `[in, out]` (transB = 0): store `[out, in]` like PyTorch.
            weight = transpose(&weight, rows, cols);
            weight_dims = vec![cols, rows];
        }
        layers.push(Layer {
            name,
            weight_dims,
            weight,
            bias: floats(b).map_err(bad)?,
        });
    }

    let fc1 = &layers[layers.len() - 2];
    let fc2 = &layers[layers.len() - 1];
    let (hidden, classes) = (fc1.weight_dims[0], fc2.weight_dims[0]);
    let arch = if is_cnn {
        Arch::Cnn {
            channels: [layers[0].weight_dims[0], layers[1].weight_dims[0]],
            hidden,
        }
    } else {
        Arch::Mlp { hidden }
    };
    let spec =
        Spec::new(arch, sample_shape, classes, input_divisor).map_err(|e| bad(e.to_string()))?;
    let weights = Weights { spec, layers };
    weights.validate().map_err(|e| bad(e.to_string()))?;
    Ok(weights)
}

/// The trainer's layers have fixed geometry; a baseline with other attributes is another model.
fn check_attributes(node: &NodeProto) -> Result<(), String> {
    let attr = |name: &str| node.attribute.iter().find(|a| a.name == name);
    let ints_are = |name: &str, want: &[i64], default: &[i64]| {
        let got = attr(name).map_or(default, |a| a.ints.as_slice());
        got == want
    };
    let ok = match node.op_type.as_str() {
        "Conv" => {
            let k = CONV_KERNEL as i64;
            ints_are("strides", &[1, 1], &[1, 1])
                && ints_are("pads", &[0, 0, 0, 0], &[0, 0, 0, 0])
                && ints_are("dilations", &[1, 1], &[1, 1])
                && attr("group").is_none_or(|a| a.i == 1)
                && attr("auto_pad").is_none_or(|a| a.s.is_empty() || a.s == b"NOTSET")
                && attr("kernel_shape").is_none_or(|a| a.ints == [k, k])
        }
        "MaxPool" => {
            let p = POOL as i64;
            ints_are("kernel_shape", &[p, p], &[])
                && ints_are("strides", &[p, p], &[1, 1])
                && ints_are("pads", &[0, 0, 0, 0], &[0, 0, 0, 0])
                && attr("ceil_mode").is_none_or(|a| a.i == 0)
                && attr("auto_pad").is_none_or(|a| a.s.is_empty() || a.s == b"NOTSET")
        }
        "Flatten" => attr("axis").is_none_or(|a| a.i == 1),
        "Gemm" => {
            attr("alpha").is_none_or(|a| a.f == 1.0)
                && attr("beta").is_none_or(|a| a.f == 1.0)
                && attr("transA").is_none_or(|a| a.i == 0)
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "node {:?} ({}) has attributes the trainer's layers do not have",
            node.name, node.op_type
        ))
    }
}

fn input_sample_shape(input: &ValueInfoProto) -> Result<Vec<usize>, String> {
    let dims = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(pb::type_proto::Value::TensorType(t)) => t.shape.as_ref().map(|s| &s.dim),
        _ => None,
    }
    .ok_or("its input has no tensor shape")?;
    let mut shape = Vec::new();
    for d in dims.iter().skip(1) {
        match d.value {
            Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) if v > 0 => {
                shape.push(v as usize)
            }
            _ => return Err("its input has a symbolic dimension after the batch".into()),
        }
    }
    if shape.is_empty() {
        return Err("its input has no sample dimensions".into());
    }
    Ok(shape)
}

fn floats(t: &TensorProto) -> Result<Vec<f32>, String> {
    if t.data_type != DataType::Float as i32 {
        return Err(format!("tensor {:?} is not float32", t.name));
    }
    if !t.external_data.is_empty() {
        return Err(format!(
            "tensor {:?} keeps its data outside the model",
            t.name
        ));
    }
    let n = t
        .dims
        .iter()
        .try_fold(1usize, |acc, &d| {
            usize::try_from(d).ok().and_then(|d| acc.checked_mul(d))
        })
        .ok_or_else(|| format!("tensor {:?} has bad dimensions {:?}", t.name, t.dims))?;
    let values: Vec<f32> = if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        t.raw_data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    };
    if values.len() != n || (!t.raw_data.is_empty() && t.raw_data.len() != n * 4) {
        return Err(format!(
            "tensor {:?} holds {} values for dimensions {:?}",
            t.name,
            values.len(),
            t.dims
        ));
    }
    Ok(values)
}
