//! Hostile and malformed models of our own making. Each must be refused with a reason that
//! names the problem, through `Model::load`/scoring and through a rollup input.

use crate::common::*;
use alloy_sol_types::SolCall;
use crucible_core::{
    Cid, Limits, abi,
    builder::{GraphBuilder, int},
    dataset::Dataset,
    eval,
    model::Model,
};
use crucible_types::abi::ICrucible;
use prost::Message;
use tract_onnx::pb::{self, tensor_proto::DataType};

fn mlp() -> pb::ModelProto {
    pb::ModelProto::decode(&model("mlp")[..]).unwrap()
}

fn graph(m: &mut pb::ModelProto) -> &mut pb::GraphProto {
    m.graph.as_mut().unwrap()
}

fn node<'a>(m: &'a mut pb::ModelProto, op: &str) -> &'a mut pb::NodeProto {
    graph(m).node.iter_mut().find(|n| n.op_type == op).unwrap()
}

fn init<'a>(m: &'a mut pb::ModelProto, name: &str) -> &'a mut pb::TensorProto {
    graph(m)
        .initializer
        .iter_mut()
        .find(|t| t.name == name)
        .unwrap()
}

fn edit(f: impl FnOnce(&mut pb::ModelProto)) -> Vec<u8> {
    let mut m = mlp();
    f(&mut m);
    m.encode_to_vec()
}

/// Loads and scores on the validation set; returns the reason it fails.
fn refusal(bytes: &[u8], limits: &Limits) -> String {
    let val = val_set();
    let data = Dataset::parse(&val, 100_000).unwrap();
    match Model::load_for(bytes, limits, Some(&data.sample_shape))
        .and_then(|m| eval::score(&m, &data, abi::Metric::Accuracy))
    {
        Ok(score) => panic!("a hostile model was scored: {score:?}"),
        Err(reason) => reason,
    }
}

fn hostile_models() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let good = model("mlp");
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng as u8
        })
        .collect();
    vec![
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "not an ONNX protobuf",
        ),
        ("random bytes", random, "not an ONNX protobuf"),
        (
            "raw_data/shape mismatch",
            edit(|m| init(m, "fc1.weight").dims = vec![128, 785]),
            "raw bytes",
        ),
        (
            "huge dims, tiny data",
            edit(|m| init(m, "fc2.bias").dims = vec![1 << 40, 1 << 20]),
            "left under the parameter limit",
        ),
        (
            "negative dim",
            edit(|m| init(m, "fc2.bias").dims = vec![-10]),
            "negative dimension",
        ),
        (
            "unknown op",
            edit(|m| node(m, "Relu").op_type = "TotallyNewOp".into()),
            "not in the allow-list",
        ),
        (
            "allocating op",
            edit(|m| node(m, "Relu").op_type = "ConstantOfShape".into()),
            "not in the allow-list",
        ),
        (
            "an operator without a proven kernel (Softplus)",
            edit(|m| node(m, "Relu").op_type = "Softplus".into()),
            "not in the allow-list",
        ),
        (
            "wrong arity",
            edit(|m| node(m, "Gemm").input.truncate(1)),
            "has 1 inputs, Gemm takes 2 to 3",
        ),
        (
            "graph cycle",
            edit(|m| {
                let first = &mut graph(m).node[0];
                first.input[0] = "logits".into();
            }),
            "has a cycle",
        ),
        (
            "redefined value",
            edit(|m| node(m, "Relu").output[0] = "/Div_output_0".into()),
            "redefines value",
        ),
        (
            "NaN output",
            edit(|m| {
                let b = init(m, "fc2.bias");
                b.raw_data = f32::NAN.to_le_bytes().repeat(10);
            }),
            "non-finite",
        ),
        (
            "external data",
            edit(|m| {
                let w = init(m, "fc1.weight");
                w.external_data.push(pb::StringStringEntryProto {
                    key: "location".into(),
                    value: "weights.bin".into(),
                });
            }),
            "external data",
        ),
        (
            "duplicate initializer",
            edit(|m| {
                let dup = init(m, "fc2.bias").clone();
                graph(m).initializer.push(dup);
            }),
            "duplicated",
        ),
        (
            "opset 9999",
            edit(|m| m.opset_import[0].version = 9999),
            "opset 9999 is outside",
        ),
        (
            "no opset import",
            edit(|m| m.opset_import.clear()),
            "imports no default-domain opset",
        ),
        (
            "IR version 999",
            edit(|m| m.ir_version = 999),
            "IR version 999",
        ),
        (
            "two inputs",
            edit(|m| {
                let mut extra = graph(m).input[0].clone();
                extra.name = "x2".into();
                graph(m).input.push(extra);
            }),
            "exactly one input, it has 2",
        ),
        (
            "zero outputs",
            edit(|m| graph(m).output.clear()),
            "exactly one output, it has 0",
        ),
        ("empty graph", edit(|m| graph(m).node.clear()), "no nodes"),
        (
            "int64 input",
            edit(|m| {
                if let Some(pb::TypeProto {
                    value: Some(pb::type_proto::Value::TensorType(t)),
                    ..
                }) = &mut graph(m).input[0].r#type
                {
                    t.elem_type = DataType::Int64 as i32;
                }
            }),
            "must be float32",
        ),
        (
            "input [N, 64] for 28x28 data",
            edit(|m| {
                if let Some(pb::TypeProto {
                    value: Some(pb::type_proto::Value::TensorType(t)),
                    ..
                }) = &mut graph(m).input[0].r#type
                {
                    let shape = t.shape.as_mut().unwrap();
                    shape.dim.truncate(2);
                    shape.dim[1].value =
                        Some(pb::tensor_shape_proto::dimension::Value::DimValue(64));
                }
            }),
            "model input per sample is [64] but the dataset's x rows are [1, 28, 28]",
        ),
        (
            "sub-graph attribute",
            edit(|m| {
                node(m, "Relu").attribute.push(pb::AttributeProto {
                    name: "then_branch".into(),
                    g: Some(pb::GraphProto::default()),
                    ..Default::default()
                });
            }),
            "sub-graph",
        ),
        (
            "one class",
            edit(|m| {
                let w = init(m, "fc2.weight");
                w.dims = vec![1, 128];
                w.raw_data.truncate(128 * 4);
                let b = init(m, "fc2.bias");
                b.dims = vec![1];
                b.raw_data.truncate(4);
            }),
            "at least 2 classes",
        ),
        (
            "exp of constants (tract would fold it with its own kernels)",
            zoo_like(|b, x| {
                let c = b.fill(&[10], 0.5);
                let e = b.node("Exp", &[&c], vec![]);
                b.node("Add", &[x, &e], vec![])
            }),
            "Exp of constants only",
        ),
        (
            "softmax across the rows of a batch",
            zoo_like(|b, x| b.node("Softmax", &[x], vec![int("axis", 0)])),
            "runs over axis 0, the batch",
        ),
        (
            "a reduction over every axis, the batch included",
            zoo_like(|b, x| {
                let m = b.node("ReduceMean", &[x], vec![int("keepdims", 1)]);
                b.node("Add", &[x, &m], vec![])
            }),
            "runs over axis 0, the batch",
        ),
        (
            "a reduction whose axes are computed",
            zoo_like(|b, x| {
                let shape = b.node("Relu", &[x], vec![]);
                b.node("ReduceSum", &[x, &shape], vec![])
            }),
            "axes must be given at most once",
        ),
        (
            "dropout in training mode",
            zoo_like(|b, x| {
                let ratio = b.fill(&[], 0.5);
                let training = b.fill(&[], 1.0);
                b.node("Dropout", &[x, &ratio, &training], vec![])
            }),
            "export the model in inference mode",
        ),
        (
            "a clip bound computed from the input",
            zoo_like(|b, x| {
                let low = b.node("Relu", &[x], vec![]);
                b.node("Clip", &[x, &low], vec![])
            }),
            "a bound must be a constant scalar",
        ),
    ]
}

/// A classifier of the validation images: `x / 255 → Gemm to 10 → f → (Flatten)`.
fn zoo_like(f: impl FnOnce(&mut GraphBuilder, &str) -> String) -> Vec<u8> {
    let mut b = GraphBuilder::new(&[1, 28, 28], None);
    let flat = b.node("Flatten", &["x"], vec![int("axis", 1)]);
    let w = b.weights(&[10, 784]);
    let logits = b.node("Gemm", &[&flat, &w], vec![int("transB", 1)]);
    let y = f(&mut b, &logits);
    b.finish(&y)
}

#[test]
fn hostile_models_are_refused_with_a_reason() {
    let limits = Limits::default();
    for (name, bytes, want) in hostile_models() {
        let why = refusal(&bytes, &limits);
        assert!(
            why.contains(want),
            "{name}: {why:?} should contain {want:?}"
        );
        assert!(!why.contains("panicked at"), "{name}: {why}");
    }
}

#[test]
fn a_model_that_does_not_fit_the_data_names_both_shapes() {
    // An MLP for 8x8 digits against 28x28 images.
    let m = edit(|m| {
        if let Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(t)),
            ..
        }) = &mut graph(m).input[0].r#type
        {
            let shape = t.shape.as_mut().unwrap();
            for d in &mut shape.dim[2..] {
                d.value = Some(pb::tensor_shape_proto::dimension::Value::DimValue(8));
            }
        }
    });
    let why = refusal(&m, &Limits::default());
    assert!(
        why.contains(
            "model input per sample is [1, 8, 8] but the dataset's x rows are [1, 28, 28]"
        ),
        "{why}"
    );
}

#[test]
fn limits_are_enforced_before_running() {
    let good = model("cnn");
    let m = manifest("cnn");
    let params = m["params"].as_u64().unwrap();
    let nodes = m["nodes"].as_u64().unwrap() as u32;
    let cases: Vec<(Limits, &str)> = vec![
        (
            Limits {
                max_model_bytes: good.len() as u64 - 1,
                ..Limits::default()
            },
            "model size limit",
        ),
        (
            Limits {
                max_params: params - 1,
                ..Limits::default()
            },
            "under the parameter limit",
        ),
        (
            Limits {
                max_nodes: nodes - 1,
                ..Limits::default()
            },
            "graph nodes) exceed the limit",
        ),
        (
            Limits {
                max_macs_per_sample: 100_000,
                ..Limits::default()
            },
            "multiply-accumulates per sample exceed",
        ),
        (
            Limits {
                min_opset: 14,
                ..Limits::default()
            },
            "opset 13 is outside",
        ),
        (
            Limits {
                allowed_ops: ["Gemm", "Relu"].iter().map(|s| s.to_string()).collect(),
                ..Limits::default()
            },
            "not in the allow-list",
        ),
    ];
    for (limits, want) in cases {
        let why = Model::load(&good, &limits).expect_err(want);
        assert!(why.contains(want), "{why:?} should contain {want:?}");
    }
    assert!(Model::load(&good, &Limits::default()).is_ok());
}

#[test]
fn hostile_submissions_are_rejected_by_the_state_machine() {
    let mut h = Harness::new();
    let val = h.upload(SPONSOR, &val_set());
    for (i, (name, bytes, want)) in hostile_models().into_iter().enumerate() {
        if Cid::of(&bytes) == Cid::of(&val_set()) {
            continue;
        }
        let cid = h.upload(ALICE, &bytes);
        let call = ICrucible::evaluateCall {
            modelCid: cid.to_bytes().into(),
            dataCid: val.to_bytes().into(),
            metric: abi::Metric::Accuracy,
        };
        let why = h.reject(BOB, &call.abi_encode());
        assert!(
            why.contains(&cid.to_string()) && why.contains(want),
            "{i} {name}: {why}"
        );
    }
}
