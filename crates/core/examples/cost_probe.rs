//! The calibration probe: builds one of a fixed set of models and datasets and takes it as
//! far as a mode says, so that counting the guest instructions of two modes under qemu
//! isolates one part of the work (`cargo xtask calibrate` does the counting).
//!
//! ```text
//! cost_probe list                        the case names, one per line
//! cost_probe <mode> <case> <rows>        mode: data | parse | load | runs | score | advance | inputs
//! ```
//! - `data`: builds the model and the dataset bytes only;
//! - `parse`: … and parses the dataset;
//! - `load`: … and loads the model;
//! - `runs`: … and runs the model as many times as scoring would, on one batch of the
//!   dataset's first rows, without the dataset conversion and the metric (its line adds
//!   `run_seconds`, the wall time of those runs); `runs-b<N>`: the same rows in batches of
//!   `N` (the batch-size measurements of `cargo xtask bench-riscv`);
//! - `score`: … and scores every row;
//! - `inputs`: sends the uploads of the model and the dataset to a fresh `State`;
//! - `advance`: … and then an `evaluate` input, as the DApp would receive it.
//!
//! Every mode prints one JSON line with the cost model's figures for the case.

use alloy_sol_types::SolCall;
use crucible_core::{
    AdvanceMeta, Cid, Limits, Outcome, State,
    abi::{self, ICrucible},
    builder::{GraphBuilder, float, int, ints},
    cost,
    dataset::{self, Dataset, DatasetFeatures, DatasetTargets},
    eval,
    model::Model,
};
use serde_json::json;

/// A case: a model, the per-sample shape and type of its data, its classes and metric.
struct Case {
    /// The operator the case measures (`<input>`, `<metric>`, `<load>`, `<parse>` or a model).
    op: &'static str,
    model: Vec<u8>,
    sample: Vec<usize>,
    u8_features: bool,
    classes: usize,
    metric: abi::Metric,
}

fn classify(
    op: &'static str,
    b: GraphBuilder,
    out: &str,
    sample: &[usize],
    classes: usize,
) -> Case {
    Case {
        op,
        model: b.finish(out),
        sample: sample.to_vec(),
        u8_features: false,
        classes,
        metric: abi::Metric::Accuracy,
    }
}

/// `x → op → Flatten` on a symbolic batch.
fn unary(
    op: &'static str,
    sample: &[usize],
    f: impl FnOnce(&mut GraphBuilder, &str) -> String,
) -> Case {
    let mut b = GraphBuilder::new(sample, None);
    let y = f(&mut b, "x");
    let z = b.node("Flatten", &[&y], vec![int("axis", 1)]);
    classify(op, b, &z, sample, 2)
}

fn gemm(sample_k: usize, n: usize) -> Case {
    let mut b = GraphBuilder::new(&[sample_k], None);
    let w = b.weights(&[n, sample_k]);
    let bias = b.weights(&[n]);
    let y = b.node("Gemm", &["x", &w, &bias], vec![int("transB", 1)]);
    classify("Gemm", b, &y, &[sample_k], n)
}

fn conv(
    c: usize,
    hw: usize,
    m: usize,
    k: usize,
    attrs: Vec<tract_onnx::pb::AttributeProto>,
    group: usize,
) -> Case {
    unary("Conv", &[c, hw, hw], |b, x| {
        let w = b.weights(&[m, c / group, k, k]);
        let bias = b.weights(&[m]);
        let mut a = attrs;
        a.push(int("group", group as i64));
        b.node("Conv", &[x, &w, &bias], a)
    })
}

fn pool(c: usize, hw: usize, attrs: Vec<tract_onnx::pb::AttributeProto>) -> Case {
    unary("MaxPool", &[c, hw, hw], |b, x| {
        b.node("MaxPool", &[x], attrs)
    })
}

fn binary(op: &'static str, sample: &[usize], other: &[usize]) -> Case {
    unary(op, sample, |b, x| {
        let w = b.weights(other);
        b.node(op, &[x, &w], vec![])
    })
}

fn chain(op: &'static str, len: usize, width: usize) -> Case {
    let mut b = GraphBuilder::new(&[width], None);
    let mut y = "x".to_string();
    for _ in 0..len {
        y = b.node(op, &[&y], vec![]);
    }
    Case {
        op: "<load>",
        ..classify("<load>", b, &y, &[width], width)
    }
}

fn committed(name: &'static str, bytes: &'static [u8]) -> Case {
    Case {
        op: name,
        model: bytes.to_vec(),
        sample: vec![1, 28, 28],
        u8_features: true,
        classes: 10,
        metric: abi::Metric::Accuracy,
    }
}

const CASES: &[&str] = &[
    "input-u8",
    "input-f32",
    "metric-logloss",
    "gemm-784x128",
    "gemm-16x4",
    "gemm-1x2",
    "gemm-1024x1",
    "gemm-1024x2",
    "gemm-1024x3",
    "gemm-1024x5",
    "gemm-1024x8",
    "gemm-2x1024",
    "matmul-64x32",
    "matmul-batched",
    "matmul-dynamic",
    "conv-lenet1",
    "conv-lenet2",
    "conv-pad1",
    "conv-depthwise",
    "conv-1x1",
    "conv-stride-dilation",
    "conv-big-kernel",
    "conv-heavy-pad",
    "conv-1d",
    "maxpool-2x2",
    "maxpool-3x3-pad",
    "maxpool-global",
    "maxpool-all-pad",
    "maxpool-dilated",
    "maxpool-1d",
    "maxpool-1d-wide",
    "add-same",
    "add-row",
    "add-column",
    "sub-column",
    "add-outer",
    "mul-channel",
    "mul-channel-chain",
    "max-channel",
    "mul-scalar",
    "div-scalar",
    "div-column",
    "max-8",
    "min-8",
    "relu",
    "leakyrelu",
    "identity",
    "batchnorm",
    "concat-2",
    "concat-16",
    "concat-channels",
    "concat-64-tiny",
    "transpose-2d",
    "transpose-4d",
    "transpose-8d",
    "reshape",
    "flatten",
    "squeeze",
    "unsqueeze",
    "load-params",
    "load-relu-chain",
    "load-relu-chain-128",
    "load-relu-chain-256",
    "load-add-chain",
    "load-transpose-chain",
    "load-scalar-chain",
    "load-gemm-chain",
    "load-matmul-chain",
    "load-maxpool-chain",
    "load-batchnorm-chain",
    "load-axis-chain",
    "load-concat-chain",
    "load-conv-chain",
    "parse-f32",
    "memory-params",
    "memory-batch",
    "exp",
    "log",
    "tanh",
    "sigmoid",
    "erf",
    "softmax-row",
    "softmax-short-lanes",
    "logsoftmax-row",
    "clip",
    "dropout",
    "reducesum-last",
    "reducemean-spatial",
    "reducemax-middle",
    "globalavgpool",
    "avgpool-2x2",
    "avgpool-3x3-pad",
    "mlp-baseline",
    "mlp",
    "cnn",
    "mlp-gelu-softmax",
    "mlp-sigmoid-logsoftmax",
    "cnn-avgpool",
];

fn case(name: &str) -> Option<Case> {
    Some(match name {
        "input-u8" => Case {
            u8_features: true,
            op: "<input>",
            ..unary("<input>", &[4096], |b, x| b.node("Relu", &[x], vec![]))
        },
        "input-f32" => unary("<input>", &[4096], |b, x| b.node("Relu", &[x], vec![])),
        "metric-logloss" => Case {
            metric: abi::Metric::LogLossLogits,
            classes: 1000,
            ..unary("<metric>", &[1000], |b, x| b.node("Relu", &[x], vec![]))
        },
        "gemm-784x128" => gemm(784, 128),
        "gemm-16x4" => gemm(16, 4),
        "gemm-1x2" => gemm(1, 2),
        "gemm-1024x1" => Case {
            metric: abi::Metric::MeanSquaredError,
            ..gemm(1024, 1)
        },
        "gemm-1024x2" => gemm(1024, 2),
        "gemm-1024x3" => gemm(1024, 3),
        "gemm-1024x5" => gemm(1024, 5),
        "gemm-1024x8" => gemm(1024, 8),
        "gemm-2x1024" => gemm(2, 1024),
        "matmul-64x32" => unary("MatMul", &[64], |b, x| {
            let w = b.weights(&[64, 32]);
            b.node("MatMul", &[x, &w], vec![])
        }),
        "matmul-batched" => unary("MatMul", &[4, 16], |b, x| {
            let w = b.weights(&[16, 8]);
            b.node("MatMul", &[x, &w], vec![])
        }),
        "matmul-dynamic" => unary("MatMul", &[8, 16], |b, x| {
            let t = b.node("Transpose", &[x], vec![ints("perm", &[0, 2, 1])]);
            b.node("MatMul", &[x, &t], vec![])
        }),
        "conv-lenet1" => conv(1, 28, 8, 5, vec![], 1),
        "conv-lenet2" => conv(8, 12, 16, 5, vec![], 1),
        "conv-pad1" => conv(4, 16, 4, 3, vec![ints("pads", &[1, 1, 1, 1])], 1),
        "conv-depthwise" => conv(8, 16, 8, 3, vec![ints("pads", &[1, 1, 1, 1])], 8),
        "conv-1x1" => conv(3, 32, 16, 1, vec![], 1),
        "conv-stride-dilation" => conv(
            1,
            28,
            4,
            3,
            vec![ints("strides", &[2, 2]), ints("dilations", &[2, 2])],
            1,
        ),
        "conv-big-kernel" => conv(1, 48, 2, 16, vec![], 1),
        "conv-1d" => unary("Conv", &[4, 256], |b, x| {
            let w = b.weights(&[8, 4, 5]);
            b.node("Conv", &[x, &w], vec![ints("pads", &[2, 2])])
        }),
        "conv-heavy-pad" => conv(16, 4, 4, 3, vec![ints("pads", &[2, 2, 2, 2])], 1),
        "maxpool-2x2" => pool(
            8,
            24,
            vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
        ),
        "maxpool-3x3-pad" => pool(
            4,
            16,
            vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1])],
        ),
        "maxpool-global" => pool(2, 28, vec![ints("kernel_shape", &[28, 28])]),
        "maxpool-all-pad" => pool(
            1,
            8,
            vec![
                ints("kernel_shape", &[8, 8]),
                ints("pads", &[7, 7, 7, 7]),
                int("ceil_mode", 1),
            ],
        ),
        "maxpool-dilated" => pool(
            4,
            16,
            vec![ints("kernel_shape", &[3, 3]), ints("dilations", &[2, 2])],
        ),
        "maxpool-1d" => unary("MaxPool", &[4, 256], |b, x| {
            b.node(
                "MaxPool",
                &[x],
                vec![ints("kernel_shape", &[3]), ints("pads", &[1, 1])],
            )
        }),
        "maxpool-1d-wide" => unary("MaxPool", &[2, 1024], |b, x| {
            b.node("MaxPool", &[x], vec![ints("kernel_shape", &[64])])
        }),
        "add-same" => binary("Add", &[1024], &[1024]),
        "add-row" => binary("Add", &[32, 32], &[32]),
        "add-column" => binary("Add", &[32, 32], &[32, 1]),
        "add-outer" => unary("Add", &[1, 64], |b, x| {
            let w = b.weights(&[64, 1]);
            b.node("Add", &[x, &w], vec![])
        }),
        "mul-channel" => binary("Mul", &[8, 8, 8], &[8, 1, 1]),
        "max-channel" => binary("Max", &[8, 8, 8], &[8, 1, 1]),
        "mul-channel-chain" => unary("Mul", &[8, 8, 8], |b, x| {
            let mut y = x.to_string();
            for _ in 0..100 {
                let w = b.weights(&[8, 1, 1]);
                y = b.node("Mul", &[&y, &w], vec![]);
            }
            y
        }),
        "sub-column" => binary("Sub", &[32, 32], &[32, 1]),
        "mul-scalar" => binary("Mul", &[1024], &[1]),
        "div-scalar" => binary("Div", &[1024], &[1]),
        "div-column" => binary("Div", &[32, 32], &[32, 1]),
        "max-8" | "min-8" => {
            let op = if name == "max-8" { "Max" } else { "Min" };
            unary(op, &[512], |b, x| {
                let ws: Vec<String> = (0..7).map(|_| b.weights(&[512])).collect();
                let mut inputs = vec![x];
                inputs.extend(ws.iter().map(String::as_str));
                b.node(op, &inputs, vec![])
            })
        }
        "relu" => unary("Relu", &[4096], |b, x| b.node("Relu", &[x], vec![])),
        "leakyrelu" => unary("LeakyRelu", &[4096], |b, x| {
            b.node("LeakyRelu", &[x], vec![float("alpha", 0.01)])
        }),
        "identity" => unary("Identity", &[4096], |b, x| b.node("Identity", &[x], vec![])),
        "batchnorm" => unary("BatchNormalization", &[8, 16, 16], |b, x| {
            let ws: Vec<String> = (0..3).map(|_| b.weights(&[8])).collect();
            let var = b.fill(&[8], 1.0);
            b.node(
                "BatchNormalization",
                &[x, &ws[0], &ws[1], &ws[2], &var],
                vec![],
            )
        }),
        "concat-2" => unary("Concat", &[512], |b, x| {
            b.node("Concat", &[x, x], vec![int("axis", 1)])
        }),
        "concat-16" => unary("Concat", &[4, 4], |b, x| {
            b.node("Concat", &[x; 16], vec![int("axis", -1)])
        }),
        "concat-channels" => unary("Concat", &[8, 16, 16], |b, x| {
            b.node("Concat", &[x, x, x], vec![int("axis", 1)])
        }),
        "concat-64-tiny" => unary("Concat", &[1], |b, x| {
            b.node("Concat", &[x; 64], vec![int("axis", 1)])
        }),
        "transpose-2d" => unary("Transpose", &[32, 32], |b, x| {
            b.node("Transpose", &[x], vec![ints("perm", &[0, 2, 1])])
        }),
        "transpose-4d" => unary("Transpose", &[4, 8, 16], |b, x| {
            b.node("Transpose", &[x], vec![ints("perm", &[0, 3, 1, 2])])
        }),
        "transpose-8d" => unary("Transpose", &[2, 2, 2, 2, 2, 2, 2], |b, x| {
            b.node(
                "Transpose",
                &[x],
                vec![ints("perm", &[0, 7, 6, 5, 4, 3, 2, 1])],
            )
        }),
        "reshape" => unary("Reshape", &[784], |b, x| {
            let s = b.int64s(&[-1, 28, 28]);
            b.node("Reshape", &[x, &s], vec![])
        }),
        "flatten" => unary("Flatten", &[8, 16, 16], |b, x| {
            b.node("Flatten", &[x], vec![int("axis", 1)])
        }),
        "squeeze" => unary("Squeeze", &[1, 512], |b, x| {
            let a = b.int64s(&[1]);
            b.node("Squeeze", &[x, &a], vec![])
        }),
        "unsqueeze" => unary("Unsqueeze", &[512], |b, x| {
            let a = b.int64s(&[1]);
            b.node("Unsqueeze", &[x, &a], vec![])
        }),
        "load-params" => Case {
            op: "<load>",
            ..gemm(1000, 1990)
        },
        "load-relu-chain" => chain("Relu", 510, 16),
        "load-relu-chain-128" => chain("Relu", 128, 16),
        "load-relu-chain-256" => chain("Relu", 256, 16),
        "load-add-chain" => {
            let mut b = GraphBuilder::new(&[16], None);
            let mut y = "x".to_string();
            for _ in 0..255 {
                let w = b.weights(&[16]);
                y = b.node("Add", &[&y, &w], vec![]);
            }
            Case {
                op: "<load>",
                ..classify("<load>", b, &y, &[16], 16)
            }
        }
        "memory-params" => Case {
            op: "<memory>",
            ..gemm(1000, 1990)
        },
        "memory-batch" => {
            // Eight branches alive at once, then their concatenation: close to the
            // 64 MiB bound of one run's tensors.
            let mut b = GraphBuilder::new(&[16384], None);
            let branches: Vec<String> = (0..8).map(|_| b.node("Relu", &["x"], vec![])).collect();
            let refs: Vec<&str> = branches.iter().map(String::as_str).collect();
            let c = b.node("Concat", &refs, vec![int("axis", 1)]);
            Case {
                op: "<memory>",
                ..classify("<memory>", b, &c, &[16384], 10)
            }
        }
        "load-transpose-chain" => {
            let mut b = GraphBuilder::new(&[4, 8, 16], None);
            let mut y = "x".to_string();
            for i in 0..255 {
                let perm: &[i64] = if i % 2 == 0 {
                    &[0, 2, 3, 1]
                } else {
                    &[0, 3, 1, 2]
                };
                y = b.node("Transpose", &[&y], vec![ints("perm", perm)]);
            }
            let z = b.node("Flatten", &[&y], vec![int("axis", 1)]);
            Case {
                op: "<load>",
                ..classify("<load>", b, &z, &[4, 8, 16], 10)
            }
        }
        "load-scalar-chain" => {
            // Binary operators with a broadcast constant: tract rewrites each at load time.
            let mut b = GraphBuilder::new(&[16], None);
            let mut y = "x".to_string();
            for i in 0..255 {
                let c = b.fill(&[1], 1.0 + i as f32 / 1024.0);
                y = b.node(if i % 2 == 0 { "Mul" } else { "Add" }, &[&y, &c], vec![]);
            }
            Case {
                op: "<load>",
                ..classify("<load>", b, &y, &[16], 16)
            }
        }
        "load-gemm-chain" | "load-matmul-chain" => {
            let mut b = GraphBuilder::new(&[16], None);
            let mut y = "x".to_string();
            for _ in 0..120 {
                y = if name == "load-gemm-chain" {
                    let w = b.weights(&[16, 16]);
                    let bias = b.weights(&[16]);
                    b.node("Gemm", &[&y, &w, &bias], vec![int("transB", 1)])
                } else {
                    let w = b.weights(&[16, 16]);
                    b.node("MatMul", &[&y, &w], vec![])
                };
            }
            Case {
                op: "<load>",
                ..classify("<load>", b, &y, &[16], 16)
            }
        }
        "load-maxpool-chain" | "load-batchnorm-chain" | "load-axis-chain" => {
            let mut b = GraphBuilder::new(&[4, 8, 8], None);
            let mut y = "x".to_string();
            for i in 0..100 {
                y = match name {
                    "load-maxpool-chain" => b.node(
                        "MaxPool",
                        &[&y],
                        vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1])],
                    ),
                    "load-batchnorm-chain" => {
                        let p: Vec<String> = (0..4).map(|_| b.fill(&[4], 1.0)).collect();
                        b.node(
                            "BatchNormalization",
                            &[&y, &p[0], &p[1], &p[2], &p[3]],
                            vec![],
                        )
                    }
                    _ if i % 2 == 0 => {
                        let a = b.int64s(&[1]);
                        b.node("Unsqueeze", &[&y, &a], vec![])
                    }
                    _ => {
                        let s = b.int64s(&[-1, 4, 8, 8]);
                        b.node("Reshape", &[&y, &s], vec![])
                    }
                };
            }
            let z = b.node("Flatten", &[&y], vec![int("axis", 1)]);
            Case {
                op: "<load>",
                ..classify("<load>", b, &z, &[4, 8, 8], 10)
            }
        }
        "load-concat-chain" => {
            let mut b = GraphBuilder::new(&[16], None);
            let mut y = "x".to_string();
            for _ in 0..200 {
                y = b.node("Concat", &[&y, "x"], vec![int("axis", 1)]);
            }
            Case {
                op: "<load>",
                ..classify("<load>", b, &y, &[16], 10)
            }
        }
        "load-conv-chain" => {
            // Conv, Relu, MaxPool (stride 1) repeated: tract's convolution and pooling
            // optimisations, 120 times.
            let mut b = GraphBuilder::new(&[2, 8, 8], None);
            let mut y = "x".to_string();
            for _ in 0..40 {
                let w = b.weights(&[2, 2, 3, 3]);
                let c = b.node("Conv", &[&y, &w], vec![ints("pads", &[1, 1, 1, 1])]);
                let r = b.node("Relu", &[&c], vec![]);
                y = b.node(
                    "MaxPool",
                    &[&r],
                    vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1])],
                );
            }
            let z = b.node("Flatten", &[&y], vec![int("axis", 1)]);
            Case {
                op: "<load>",
                ..classify("<load>", b, &z, &[2, 8, 8], 10)
            }
        }
        "parse-f32" => Case {
            op: "<parse>",
            ..unary("<parse>", &[4096], |b, x| b.node("Relu", &[x], vec![]))
        },
        "mlp-baseline" => committed(
            "mlp-baseline",
            include_bytes!("../../../models/mlp-baseline/model.onnx"),
        ),
        "mlp" => committed("mlp", include_bytes!("../../../models/mlp/model.onnx")),
        "cnn" => committed("cnn", include_bytes!("../../../models/cnn/model.onnx")),
        "mlp-gelu-softmax" => committed(
            "mlp-gelu-softmax",
            include_bytes!("../../../models/mlp-gelu-softmax/model.onnx"),
        ),
        "mlp-sigmoid-logsoftmax" => committed(
            "mlp-sigmoid-logsoftmax",
            include_bytes!("../../../models/mlp-sigmoid-logsoftmax/model.onnx"),
        ),
        "cnn-avgpool" => committed(
            "cnn-avgpool",
            include_bytes!("../../../models/cnn-avgpool/model.onnx"),
        ),
        // The operators `crucible_core::ops` computes, on features in (-0.5, 0.5).
        "exp" | "tanh" | "sigmoid" | "erf" => {
            let op = match name {
                "exp" => "Exp",
                "tanh" => "Tanh",
                "sigmoid" => "Sigmoid",
                _ => "Erf",
            };
            unary(op, &[4096], |b, x| b.node(op, &[x], vec![]))
        }
        "log" => unary("Log", &[4096], |b, x| {
            let s = b.node("Sigmoid", &[x], vec![]);
            b.node("Log", &[&s], vec![])
        }),
        "softmax-row" => unary("Softmax", &[1000], |b, x| {
            b.node("Softmax", &[x], vec![int("axis", 1)])
        }),
        "softmax-short-lanes" => unary("Softmax", &[512, 2], |b, x| {
            b.node("Softmax", &[x], vec![int("axis", -1)])
        }),
        "logsoftmax-row" => unary("LogSoftmax", &[1000], |b, x| {
            b.node("LogSoftmax", &[x], vec![int("axis", 1)])
        }),
        "clip" => unary("Clip", &[4096], |b, x| {
            let (low, high) = (b.fill(&[], -0.25), b.fill(&[], 0.25));
            b.node("Clip", &[x, &low, &high], vec![])
        }),
        "dropout" => unary("Dropout", &[4096], |b, x| {
            let ratio = b.fill(&[], 0.5);
            b.node("Dropout", &[x, &ratio], vec![])
        }),
        "reducesum-last" => unary("ReduceSum", &[64, 64], |b, x| {
            let axes = b.int64s(&[2]);
            b.node("ReduceSum", &[x, &axes], vec![])
        }),
        "reducemean-spatial" => unary("ReduceMean", &[8, 16, 16], |b, x| {
            b.node("ReduceMean", &[x], vec![ints("axes", &[2, 3])])
        }),
        "reducemax-middle" => unary("ReduceMax", &[16, 64, 4], |b, x| {
            b.node(
                "ReduceMax",
                &[x],
                vec![ints("axes", &[2]), int("keepdims", 0)],
            )
        }),
        "globalavgpool" => unary("GlobalAveragePool", &[8, 16, 16], |b, x| {
            b.node("GlobalAveragePool", &[x], vec![])
        }),
        "avgpool-2x2" => unary("AveragePool", &[8, 16, 16], |b, x| {
            b.node(
                "AveragePool",
                &[x],
                vec![ints("kernel_shape", &[2, 2]), ints("strides", &[2, 2])],
            )
        }),
        "avgpool-3x3-pad" => unary("AveragePool", &[4, 16, 16], |b, x| {
            b.node(
                "AveragePool",
                &[x],
                vec![
                    ints("kernel_shape", &[3, 3]),
                    ints("pads", &[1, 1, 1, 1]),
                    int("count_include_pad", 1),
                ],
            )
        }),
        _ => return None,
    })
}

/// Deterministic features and labels for `rows` rows.
fn data(case: &Case, rows: usize) -> Vec<u8> {
    let n: usize = case.sample.iter().product::<usize>() * rows;
    let mut shape = vec![rows];
    shape.extend(&case.sample);
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let labels: Vec<i64> = (0..rows)
        .map(|_| (next() % case.classes as u64) as i64)
        .collect();
    let values: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
    let (targets, y_shape) = if case.metric.is_classification() {
        (DatasetTargets::Labels(&labels), vec![rows])
    } else {
        (DatasetTargets::Values(&values), vec![rows, 1])
    };
    if case.u8_features {
        let x: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        dataset::encode(&shape, DatasetFeatures::U8(&x), &y_shape, targets)
    } else {
        let x: Vec<f32> = (0..n)
            .map(|_| (next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            .collect();
        dataset::encode(&shape, DatasetFeatures::F32(&x), &y_shape, targets)
    }
    .expect("the probe's dataset encodes")
}

fn meta(sender: alloy_primitives::Address, index: u64) -> AdvanceMeta {
    AdvanceMeta {
        chain_id: 31337,
        app_contract: alloy_primitives::Address::repeat_byte(0xab),
        msg_sender: sender,
        block_number: index,
        block_timestamp: 1_800_000_000,
        prev_randao: Default::default(),
        input_index: index,
    }
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = run(&args);
    if let Some(kib) = peak_rss_kib() {
        eprintln!("peak resident memory: {kib} KiB");
    }
    result
}

/// The process's peak resident memory (Linux), for the memory cases.
fn peak_rss_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn run(args: &[String]) -> Result<(), String> {
    if args.first().map(String::as_str) == Some("list") {
        for name in CASES {
            println!("{name}");
        }
        return Ok(());
    }
    let [mode, name, rows] = args else {
        return Err("usage: cost_probe list | cost_probe <data|parse|load|score|inputs|advance> <case> <rows>".into());
    };
    let case = case(name).ok_or_else(|| format!("unknown case {name}"))?;
    let rows: usize = rows.parse().map_err(|e| format!("rows: {e}"))?;
    let data_bytes = data(&case, rows);
    let limits = Limits::default();
    let mut report = json!({
        "case": name,
        "op": case.op,
        "rows": rows,
        "model_bytes": case.model.len(),
        "data_bytes": data_bytes.len(),
        "parse_work": cost::parse_work(data_bytes.len() as u64),
    });
    if matches!(mode.as_str(), "inputs" | "advance") {
        let mut state = State::default();
        let sender = alloy_primitives::Address::repeat_byte(0x11);
        let mut index = 0;
        for blob in [&case.model, &data_bytes] {
            for call in abi::put_chunk_calls(blob) {
                let outcome = state
                    .advance(&meta(sender, index), &call.abi_encode())
                    .map_err(|e| e.to_string())?;
                if let Outcome::Rejected { reason } = outcome {
                    return Err(format!("upload refused: {reason}"));
                }
                index += 1;
            }
        }
        if mode == "advance" {
            let call = ICrucible::evaluateCall {
                modelCid: Cid::of(&case.model).to_bytes().into(),
                dataCid: Cid::of(&data_bytes).to_bytes().into(),
                metric: case.metric,
            };
            let outcome = state
                .advance(&meta(sender, index), &call.abi_encode())
                .map_err(|e| e.to_string())?;
            report["outcome"] = json!(match outcome {
                Outcome::Accepted { .. } => "accepted".to_string(),
                Outcome::Rejected { reason } => reason.to_string(),
            });
        }
        println!("{report}");
        return Ok(());
    }
    if mode == "data" {
        println!("{report}");
        return Ok(());
    }
    let parsed = Dataset::parse(&data_bytes, limits.max_dataset_rows)?;
    if mode == "parse" {
        println!("{report}");
        return Ok(());
    }
    let model = Model::load_for(&case.model, &limits, Some(&parsed.sample_shape))?;
    report["info"] = json!(model.info);
    report["nodes"] = json!(model.cost.nodes);
    report["runs"] = json!(cost::runs(rows as u64, model.info.run_batch as u64));
    report["evaluation_work"] = json!(model.evaluation_work(rows as u64, data_bytes.len() as u64));
    // `runs-b<N>`: the runs of `runs` in batches of N rows (a model with a symbolic batch).
    let batch_override = mode
        .strip_prefix("runs-b")
        .map(|n| n.parse::<usize>().map_err(|e| format!("{mode}: {e}")))
        .transpose()?
        .filter(|&n| n > 0);
    let mode = if batch_override.is_some() {
        "runs"
    } else {
        mode.as_str()
    };
    match mode {
        "load" => {}
        "runs" => {
            let batch = batch_override.unwrap_or(model.info.run_batch);
            let mut input = Vec::new();
            parsed.extend_features(0, batch.min(parsed.rows), &mut input);
            input.resize(batch * parsed.sample_len(), 0.0);
            // Wall time of the runs alone (`cargo xtask bench-riscv` compares it natively
            // and under qemu); never an input to anything the cost model decides.
            let started = std::time::Instant::now();
            for _ in 0..cost::runs(rows as u64, batch as u64) {
                model.run(input.clone(), batch)?;
            }
            report["run_seconds"] = json!(started.elapsed().as_secs_f64());
        }
        "score" => {
            let score = eval::score(&model, &parsed, case.metric)?;
            report["score"] = json!(score);
        }
        other => return Err(format!("unknown mode {other}")),
    }
    println!("{report}");
    Ok(())
}
