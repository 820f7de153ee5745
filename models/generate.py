#!/usr/bin/env python3
"""Trains and exports Crucible's baseline models on Fashion-MNIST with PyTorch.

Reads the IDX files of Debian's `dataset-fashion-mnist` package, trains each model on the
60,000 training images on CPU with fixed seeds, exports ONNX (opset 13, dynamic batch),
and writes models/<name>/{model.onnx, MANIFEST.json}. MANIFEST records what the scorer
checks: sha256, CID, opset, input/output shapes, parameter count and multiply-accumulates
per sample (counted here from the PyTorch modules; crucible-core counts them again from the
ONNX graph and a test compares the two), plus onnxruntime's correct-counts on the 10,000
test images for `crucible score` to match exactly.

    python3 -m venv /tmp/gen && /tmp/gen/bin/pip install torch onnx onnxruntime numpy
    /tmp/gen/bin/python models/generate.py   # about 3 minutes on 2 CPU cores

`generate.py exporters` writes only the models that end in what exporters commonly write
(Softmax, LogSoftmax, GELU's Erf, Sigmoid, Tanh, Clip, average pooling, a mean over the
image), leaving the three baselines (and their CIDs) alone.
"""

import base64
import gzip
import hashlib
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

SRC = "/usr/share/datasets/fashion-mnist"
HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 13


def idx(name):
    with gzip.open(os.path.join(SRC, name), "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Mlp(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):  # x: float32 [N, 1, 28, 28], raw pixel values 0..255
        x = torch.flatten(x, 1) / 255.0
        return self.fc2(torch.relu(self.fc1(x)))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 5)
        self.conv2 = nn.Conv2d(8, 16, 5)
        self.fc1 = nn.Linear(256, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = x / 255.0
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(torch.relu(self.fc1(x)))


class Gelu(nn.Module):
    """MLP 784-64-10 with the exact (erf) GELU, ending in Softmax: probabilities out."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.fc2 = nn.Linear(64, 10)
        self.probabilities = False

    def forward(self, x):
        x = torch.flatten(x, 1) / 255.0
        logits = self.fc2(nn.functional.gelu(self.fc1(x)))
        return torch.softmax(logits, dim=1) if self.probabilities else logits


class Squash(nn.Module):
    """MLP 784-64-32-10 with Sigmoid, a clamp and Tanh, ending in LogSoftmax."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 64)
        self.fc2 = nn.Linear(64, 32)
        self.fc3 = nn.Linear(32, 10)
        self.probabilities = False

    def forward(self, x):
        x = torch.flatten(x, 1) / 255.0
        h = torch.sigmoid(self.fc1(x))
        h = torch.tanh(torch.clamp(self.fc2(h), -3.0, 3.0))
        logits = self.fc3(h)
        return torch.log_softmax(logits, dim=1) if self.probabilities else logits


class AvgCnn(nn.Module):
    """CNN with average pooling and a global mean: conv3x3x8, avgpool, conv3x3x16, mean, 16-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16, 10)
        self.probabilities = False

    def forward(self, x):
        x = x / 255.0
        x = nn.functional.avg_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.relu(self.conv2(x))
        x = torch.mean(x, dim=(2, 3))
        return self.fc(x)


def macs_per_sample(model):
    total = 0

    def hook(mod, inp, out):
        nonlocal total
        if isinstance(mod, nn.Linear):
            total += mod.in_features * mod.out_features
        elif isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
            total += out[0].numel() * k

    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    model(torch.zeros(1, 1, 28, 28))
    for h in hooks:
        h.remove()
    return total


def graph_params(proto):
    """Elements over initializers and Constant tensors: what the scorer's maxParams bounds."""
    total = sum(int(np.prod(t.dims)) for t in proto.graph.initializer)
    for n in proto.graph.node:
        for a in n.attribute:
            if n.op_type == "Constant" and a.HasField("t"):
                total += int(np.prod(a.t.dims))
    return total


def train(model, x, y, epochs, batch, lr, seed):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    xt = torch.from_numpy(x.astype(np.float32)).reshape(-1, 1, 28, 28)
    yt = torch.from_numpy(y.astype(np.int64))
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), batch):
            j = perm[i : i + batch]
            opt.zero_grad()
            loss_fn(model(xt[j]), yt[j]).backward()
            opt.step()


def cid_of(data):
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def export(name, model, description, test_x, test_y, output="logits"):
    model.eval()
    if hasattr(model, "probabilities"):
        model.probabilities = True
    out_dir = os.path.join(HERE, name)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, 28, 28),),
        path,
        input_names=["x"],
        output_names=[output],
        opset_version=OPSET,
        dynamic_axes={"x": {0: "batch"}, output: {0: "batch"}},
        dynamo=False,
    )
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    data = open(path, "rb").read()
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    xs = test_x.astype(np.float32).reshape(-1, 1, 28, 28)
    logits = np.concatenate([sess.run(None, {"x": xs[i : i + 500]})[0] for i in range(0, len(xs), 500)])
    pred = logits.argmax(axis=1)
    manifest = {
        "name": name,
        "description": description,
        "file": "model.onnx",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "cid": cid_of(data),
        "opset": OPSET,
        "producer": f"torch {torch.__version__} (torch.onnx.export, dynamo=False)",
        "input": {"name": "x", "dtype": "float32", "shape": ["batch", 1, 28, 28]},
        "output": {"name": output, "dtype": "float32", "shape": ["batch", 10]},
        "params": graph_params(proto),
        "trainable_params": int(sum(p.numel() for p in model.parameters())),
        "macs_per_sample": macs_per_sample(model),
        "nodes": len(proto.graph.node),
        "ops": sorted({n.op_type for n in proto.graph.node}),
        "onnxruntime": {
            "version": ort.__version__,
            "dataset": "Fashion-MNIST t10k (all 10,000 images)",
            "correct": int((pred == test_y).sum()),
            "correct_first_1000": int((pred[:1000] == test_y[:1000]).sum()),
            "correct_1000_to_2000": int((pred[1000:2000] == test_y[1000:2000]).sum()),
        },
        "generated_by": "models/generate.py",
    }
    with open(os.path.join(out_dir, "MANIFEST.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(name, manifest["onnxruntime"]["correct"], "/ 10000", file=sys.stderr)


def exporters(train_x, train_y, test_x, test_y):
    torch.manual_seed(4)
    gelu = Gelu()
    train(gelu, train_x, train_y, epochs=2, batch=64, lr=0.01, seed=4)
    export("mlp-gelu-softmax", gelu, "MLP 784-64-10 with exact GELU, exported with a final Softmax (probabilities), two epochs on 60,000 images", test_x, test_y, "probabilities")

    torch.manual_seed(5)
    squash = Squash()
    train(squash, train_x, train_y, epochs=2, batch=64, lr=0.05, seed=5)
    export("mlp-sigmoid-logsoftmax", squash, "MLP 784-64-32-10 with Sigmoid, clamp and Tanh, exported with a final LogSoftmax, two epochs on 60,000 images", test_x, test_y, "log_probabilities")

    torch.manual_seed(6)
    cnn = AvgCnn()
    train(cnn, train_x, train_y, epochs=2, batch=64, lr=0.02, seed=6)
    export("cnn-avgpool", cnn, "CNN with average pooling and a global mean (conv3x3x8, avgpool 2, conv3x3x16, mean over the image, 16-10), two epochs on 60,000 images", test_x, test_y)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(2)
    train_x, train_y = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
    test_x, test_y = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
    if sys.argv[1:] == ["exporters"]:
        exporters(train_x, train_y, test_x, test_y)
        return

    torch.manual_seed(1)
    weak = Mlp(32)
    train(weak, train_x[:2000], train_y[:2000], epochs=1, batch=64, lr=0.01, seed=1)
    export("mlp-baseline", weak, "MLP 784-32-10, one epoch on the first 2,000 training images: the sponsor's baseline", test_x, test_y)

    torch.manual_seed(2)
    mlp = Mlp(128)
    train(mlp, train_x, train_y, epochs=3, batch=64, lr=0.01, seed=2)
    export("mlp", mlp, "MLP 784-128-10, three epochs on the 60,000 training images", test_x, test_y)

    torch.manual_seed(3)
    cnn = Cnn()
    train(cnn, train_x, train_y, epochs=3, batch=64, lr=0.01, seed=3)
    export("cnn", cnn, "LeNet-style CNN (conv5x5x8, pool, conv5x5x16, pool, 256-64-10), three epochs on 60,000 images", test_x, test_y)

    exporters(train_x, train_y, test_x, test_y)


if __name__ == "__main__":
    main()
