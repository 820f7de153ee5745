#!/usr/bin/env python3
"""crucible-trainer against PyTorch on the same model, data, optimizer and schedule.

For each batch size, trains the CNN (or MLP) with `crucible-trainer train --json` and then with
PyTorch eager (the module of models/generate.py, SGD with momentum 0.9 and no dampening, the
whole training set on the device, batches gathered by index, the same number of epochs and the
same learning rate), on the same device kind. Prints, per batch size: the first epoch (JIT
compilation and autotuning included) separately from the steady-state samples/s of the later
epochs, the ratio trainer / PyTorch, and both final accuracies on the test set.

    # on a GPU machine (the trainer built with --features cuda; PyTorch installed):
    python3 trainer/bench/vs_pytorch.py --trainer ./crucible-trainer \
        --train fashion-train.safetensors --test fashion-t10k.safetensors --device cuda
    # on CPU:
    python3 trainer/bench/vs_pytorch.py --trainer target/release/crucible-trainer \
        --train ... --test ... --device cpu --epochs 2

Datasets are Crucible's canonical safetensors (`crucible data idx` makes them from the IDX
files of Debian's dataset-fashion-mnist). Needs numpy and torch; no other package.
"""

import argparse
import json
import struct
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

DTYPES = {"U8": np.uint8, "F32": np.float32, "I64": np.int64}


def load(path):
    """x [N, ...] as float32 (raw values) and y [N] int64, from canonical safetensors."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name in ("x", "y"):
        h = header[name]
        a, b = h["data_offsets"]
        arr = np.frombuffer(raw[8 + n + a : 8 + n + b], dtype=DTYPES[h["dtype"]])
        out[name] = arr.reshape(h["shape"])
    scale = 255.0 if header["x"]["dtype"] == "U8" else 1.0
    return out["x"].astype(np.float32), out["y"].astype(np.int64), scale


class Mlp(nn.Module):
    def __init__(self, features, hidden, classes, scale):
        super().__init__()
        self.scale = scale
        self.fc1 = nn.Linear(features, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = torch.flatten(x, 1) / self.scale
        return self.fc2(torch.relu(self.fc1(x)))


class Cnn(nn.Module):
    def __init__(self, shape, channels, hidden, classes, scale):
        super().__init__()
        c, h, w = shape
        self.scale = scale
        self.conv1 = nn.Conv2d(c, channels[0], 5)
        self.conv2 = nn.Conv2d(channels[0], channels[1], 5)
        side = lambda s: ((s - 4) // 2 - 4) // 2
        self.fc1 = nn.Linear(channels[1] * side(h) * side(w), hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = x / self.scale
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def torch_run(args, batch, lr, train, test, device):
    (x, y, scale), (tx, ty, _) = train, test
    torch.manual_seed(0)
    classes = int(max(y.max(), ty.max())) + 1
    if args.arch == "cnn":
        model = Cnn(x.shape[1:], (8, 16), args.hidden or 64, classes, scale)
    else:
        model = Mlp(int(np.prod(x.shape[1:])), args.hidden or 128, classes, scale)
    model = model.to(device)
    xs = torch.from_numpy(x).to(device)
    ys = torch.from_numpy(y).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)
    epochs = []
    for _ in range(args.epochs):
        sync(device)
        t0 = time.perf_counter()
        perm = torch.randperm(len(xs), generator=gen).to(device)
        for i in range(0, len(xs), batch):
            j = perm[i : i + batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xs[j]), ys[j]).backward()
            opt.step()
        sync(device)
        epochs.append(time.perf_counter() - t0)
    model.eval()
    correct = 0
    with torch.no_grad():
        txs = torch.from_numpy(tx).to(device)
        tys = torch.from_numpy(ty).to(device)
        for i in range(0, len(txs), 1024):
            correct += int((model(txs[i : i + 1024]).argmax(1) == tys[i : i + 1024]).sum())
    return epochs, correct / len(tx)


def trainer_run(args, batch, lr):
    cmd = [
        args.trainer, "train", "--arch", args.arch, "--data", args.train, "--val", args.test,
        "--device", args.device, "--epochs", str(args.epochs), "--batch", str(batch),
        "--lr", str(lr), "--seed", "0", "--out", args.model_out, "--json",
    ]
    if args.hidden:
        cmd += ["--hidden", str(args.hidden)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"crucible-trainer failed ({done.returncode}): {done.stderr}")
    report = json.loads(done.stdout)
    return [e["seconds"] for e in report["epochs"]], report["evaluation"]["accuracy"], report


def steady(epochs, rows):
    later = epochs[1:]
    return rows * len(later) / sum(later) if later else float("nan")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trainer", required=True, help="the crucible-trainer binary")
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    p.add_argument("--arch", choices=["cnn", "mlp"], default="cnn")
    p.add_argument("--hidden", type=int)
    p.add_argument("--batches", default="64,256,1024")
    p.add_argument("--epochs", type=int, default=3, help="at least 2: the first is the warm-up")
    p.add_argument("--lr", type=float, default=0.01, help="at batch 64; scaled linearly with the batch")
    p.add_argument("--threads", type=int, help="PyTorch CPU threads (default: PyTorch's)")
    p.add_argument("--model-out", default="/tmp/crucible-bench-model.onnx")
    p.add_argument("--json-out", help="also write the results here")
    args = p.parse_args()
    if args.epochs < 2:
        sys.exit("--epochs must be at least 2: the first epoch is reported apart as the warm-up")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("PyTorch sees no CUDA device")
    train, test = load(args.train), load(args.test)
    rows = len(train[1])
    where = torch.cuda.get_device_name(0) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} torch threads"
    print(f"{args.arch} on {rows} rows, {args.epochs} epochs, {where}, torch {torch.__version__}")
    print(f"{'batch':>6} {'lr':>7} | {'trainer 1st s':>13} {'steady/s':>10} {'acc':>7} | "
          f"{'torch 1st s':>11} {'steady/s':>10} {'acc':>7} | {'ratio':>6}")
    results = []
    for batch in [int(b) for b in args.batches.split(",")]:
        lr = args.lr * batch / 64
        ours, our_acc, report = trainer_run(args, batch, lr)
        theirs, their_acc = torch_run(args, batch, lr, train, test, device)
        row = {
            "batch": batch, "lr": lr,
            "trainer": {"device": report["device"], "first_epoch_s": ours[0],
                        "steady_samples_per_s": steady(ours, rows), "accuracy": our_acc, "epochs_s": ours},
            "torch": {"first_epoch_s": theirs[0], "steady_samples_per_s": steady(theirs, rows),
                      "accuracy": their_acc, "epochs_s": theirs},
        }
        row["ratio"] = row["trainer"]["steady_samples_per_s"] / row["torch"]["steady_samples_per_s"]
        results.append(row)
        t, q = row["trainer"], row["torch"]
        print(f"{batch:>6} {lr:>7.4f} | {t['first_epoch_s']:>13.2f} {t['steady_samples_per_s']:>10.0f} "
              f"{t['accuracy']:>7.4f} | {q['first_epoch_s']:>11.2f} {q['steady_samples_per_s']:>10.0f} "
              f"{q['accuracy']:>7.4f} | {row['ratio']:>6.2f}", flush=True)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
