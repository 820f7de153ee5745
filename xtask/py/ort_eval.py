#!/usr/bin/env python3
"""onnxruntime peer for Crucible's checks and benchmarks.

Scores an ONNX model on a canonical dataset (safetensors with x and y) with onnxruntime on
one thread and prints one JSON object: correct-count (arg-max, ties to the lowest index,
as crucible-core), samples and samples/s of the timed loop.

    python3 xtask/py/ort_eval.py MODEL DATA [--batch 32] [--repeat 1]
"""

import argparse
import json
import struct
import time

import numpy as np
import onnxruntime as ort

DTYPES = {"U8": np.uint8, "F32": np.float32, "I64": np.int64}


def load_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        arr = np.frombuffer(raw[base + start : base + end], dtype=DTYPES[meta["dtype"]])
        out[name] = arr.reshape(meta["shape"])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(args.model, opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    data = load_safetensors(args.data)
    x = data["x"].astype(np.float32)
    y = data["y"]

    best = None
    for _ in range(args.repeat):
        start = time.perf_counter()
        outs = [sess.run(None, {name: x[i : i + args.batch]})[0] for i in range(0, len(x), args.batch)]
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    logits = np.concatenate(outs)
    pred = logits.argmax(axis=1)  # numpy's argmax returns the first maximum
    print(json.dumps({
        "correct": int((pred == y).sum()),
        "samples": int(len(y)),
        "samples_per_s": len(y) / best,
        "onnxruntime": ort.__version__,
    }))


if __name__ == "__main__":
    main()
