"""test_ops_b.py — the dense kernels (MatMul, Gemm, Conv, pools, BatchNorm,
LSTM/GRU/RNN, LayerNormalization) against onnxruntime.

Each case is a one-node ONNX model (onnx.helper, opset 17) with random
inputs.  Weights are initializers when the case says so (the importer's
constant path), otherwise graph inputs fed as .npy files.  The model runs in
onnxruntime and in `$SHRINK run MODEL --input NAME=FILE.npy ... --out DIR`;
every output must agree within 1e-4 (max abs diff).  Prints the worst
difference per case; exits 1 if any case fails.

The fused ops (ATTENTION, LINEAR, SKIP_LAYERNORM) have no ONNX form; they are
checked against naive references by tests/unit/test_kernels_b.c.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

SHRINK = os.environ.get("SHRINK", os.path.join(os.path.dirname(__file__), "..", "..", "build", "shrink"))
TOL = 1e-4
rng = np.random.default_rng(1234)
tmp = tempfile.mkdtemp(prefix="shrink_ops_b_")
failures = []


def rand(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def case(name, op, inputs, outputs, attrs=None, consts=(), opset=17, tol=TOL):
    """inputs: list of (name, array or None for an absent optional input);
    outputs: list of names ("" = unused optional output);
    consts: names of inputs stored as initializers rather than fed."""
    node = helper.make_node(op, [n if a is not None else "" for n, a in inputs], list(outputs),
                            name=name, **(attrs or {}))
    graph_inputs, inits, feeds = [], [], {}
    for n, a in inputs:
        if a is None:
            continue
        if n in consts:
            inits.append(numpy_helper.from_array(a, n))
        else:
            et = helper.np_dtype_to_tensor_dtype(a.dtype)
            graph_inputs.append(helper.make_tensor_value_info(n, et, list(a.shape)))
            feeds[n] = a
    graph_outputs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs if o]
    g = helper.make_graph([node], name, graph_inputs, graph_outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8

    path = os.path.join(tmp, name + ".onnx")
    onnx.save(m, path)

    so = ort.SessionOptions()
    so.log_severity_level = 3   # ceil_mode cases: ORT's own shape inference disagrees with its kernel (warns)
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    want = dict(zip([o for o in outputs if o], sess.run(None, feeds)))

    outdir = os.path.join(tmp, name + "_out")
    cmd = [SHRINK, "run", path, "--out", outdir, "--force"]
    for n, a in feeds.items():
        f = os.path.join(tmp, f"{name}_{n}.npy")
        np.save(f, a)
        cmd += ["--input", f"{n}={f}"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL {name}: shrink exited {r.returncode}: {r.stderr.strip()}")
        failures.append(name)
        return
    worst, where = 0.0, ""
    for o, ref in want.items():
        got = np.load(os.path.join(outdir, o + ".npy"))
        if got.shape != ref.shape:
            print(f"FAIL {name}: output {o} has shape {got.shape}, onnxruntime {ref.shape}")
            failures.append(name)
            return
        d = float(np.max(np.abs(got.astype(np.float64) - ref))) if ref.size else 0.0
        if not np.isfinite(d) or d > worst:
            worst, where = d, o
    ok = worst <= tol
    print(f"{'ok  ' if ok else 'FAIL'} {name:<34} max abs diff {worst:.3g}" + (f" ({where})" if not ok else ""))
    if not ok:
        failures.append(name)


# ---- MatMul ----
case("matmul_2d", "MatMul", [("A", rand(5, 7)), ("B", rand(7, 3))], ["Y"])
case("matmul_2d_const", "MatMul", [("A", rand(17, 65)), ("B", rand(65, 33))], ["Y"], consts=["B"])
case("matmul_batched", "MatMul", [("A", rand(3, 5, 7)), ("B", rand(3, 7, 4))], ["Y"])
case("matmul_broadcast", "MatMul", [("A", rand(2, 1, 5, 7)), ("B", rand(3, 7, 4))], ["Y"])
case("matmul_bcast_a", "MatMul", [("A", rand(9, 8)), ("B", rand(4, 8, 3))], ["Y"])
case("matmul_heads", "MatMul", [("A", rand(1, 12, 17, 64)), ("B", rand(1, 12, 64, 17))], ["Y"])
case("matmul_vec_mat", "MatMul", [("A", rand(7)), ("B", rand(7, 3))], ["Y"])
case("matmul_mat_vec", "MatMul", [("A", rand(2, 5, 7)), ("B", rand(7))], ["Y"])
case("matmul_large", "MatMul", [("A", rand(2, 130, 300, scale=0.3)), ("B", rand(2, 300, 260, scale=0.3))], ["Y"])

# ---- Gemm ----
for ta in (0, 1):
    for tb in (0, 1):
        M, K, N = 5, 7, 3
        A = rand(K, M) if ta else rand(M, K)
        B = rand(N, K) if tb else rand(K, N)
        case(f"gemm_t{ta}{tb}", "Gemm", [("A", A), ("B", B), ("C", rand(N))], ["Y"],
             attrs=dict(transA=ta, transB=tb, alpha=0.7, beta=1.3), consts=["B", "C"])
case("gemm_c_matrix", "Gemm", [("A", rand(4, 6)), ("B", rand(6, 5)), ("C", rand(4, 5))], ["Y"])
case("gemm_c_scalar", "Gemm", [("A", rand(4, 6)), ("B", rand(6, 5)), ("C", rand(1))], ["Y"], attrs=dict(beta=0.5))
case("gemm_c_column", "Gemm", [("A", rand(4, 6)), ("B", rand(6, 5)), ("C", rand(4, 1))], ["Y"])
case("gemm_no_c", "Gemm", [("A", rand(4, 6)), ("B", rand(5, 6))], ["Y"], attrs=dict(transB=1))

# ---- Conv ----
case("conv2d_pad_stride", "Conv", [("X", rand(2, 3, 9, 8)), ("W", rand(4, 3, 3, 3)), ("B", rand(4))], ["Y"],
     attrs=dict(pads=[1, 0, 1, 2], strides=[2, 1]), consts=["W", "B"])
case("conv2d_group", "Conv", [("X", rand(1, 4, 7, 7)), ("W", rand(6, 2, 3, 2))], ["Y"], attrs=dict(group=2))
case("conv2d_depthwise", "Conv", [("X", rand(1, 5, 8, 6)), ("W", rand(5, 1, 3, 3)), ("B", rand(5))], ["Y"],
     attrs=dict(group=5, pads=[1, 1, 1, 1]), consts=["W", "B"])
case("conv2d_dilation", "Conv", [("X", rand(1, 2, 11, 10)), ("W", rand(3, 2, 3, 3))], ["Y"],
     attrs=dict(dilations=[2, 3], pads=[2, 1, 0, 3], strides=[1, 2]))
case("conv2d_same_upper", "Conv", [("X", rand(1, 3, 8, 7)), ("W", rand(2, 3, 4, 3))], ["Y"],
     attrs=dict(auto_pad="SAME_UPPER", strides=[2, 2]))
case("conv2d_1x1", "Conv", [("X", rand(2, 8, 5, 5)), ("W", rand(16, 8, 1, 1)), ("B", rand(16))], ["Y"],
     consts=["W", "B"])
case("conv1d", "Conv", [("X", rand(2, 3, 20)), ("W", rand(5, 3, 4)), ("B", rand(5))], ["Y"],
     attrs=dict(pads=[2, 1], strides=[3], dilations=[2]))

# ---- pools ----
case("maxpool2d", "MaxPool", [("X", rand(2, 3, 9, 8))], ["Y"], attrs=dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
case("maxpool2d_ceil", "MaxPool", [("X", rand(1, 2, 10, 9))], ["Y"], attrs=dict(kernel_shape=[3, 2], strides=[2, 2], ceil_mode=1))
case("maxpool2d_dilation", "MaxPool", [("X", rand(1, 2, 10, 9))], ["Y"],
     attrs=dict(kernel_shape=[2, 2], dilations=[2, 2], pads=[1, 0, 0, 1]))
case("maxpool1d", "MaxPool", [("X", rand(2, 3, 17))], ["Y"], attrs=dict(kernel_shape=[4], strides=[3], pads=[1, 2]))
case("avgpool2d", "AveragePool", [("X", rand(2, 3, 9, 8))], ["Y"], attrs=dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
case("avgpool2d_incl_pad", "AveragePool", [("X", rand(2, 3, 9, 8))], ["Y"],
     attrs=dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1))
case("avgpool2d_ceil", "AveragePool", [("X", rand(1, 2, 10, 9))], ["Y"], attrs=dict(kernel_shape=[3, 2], strides=[2, 2], ceil_mode=1))
case("avgpool1d", "AveragePool", [("X", rand(2, 3, 17))], ["Y"], attrs=dict(kernel_shape=[4], strides=[3], pads=[1, 2]))
# ceil_mode where the last window would start in the end padding: onnxruntime's kernel (like PyTorch)
# drops it, although ONNX's opset-17 shape inference counts it; we follow the kernel
case("maxpool2d_ceil_overhang", "MaxPool", [("X", rand(1, 2, 5, 6))], ["Y"],
     attrs=dict(kernel_shape=[2, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1))
case("avgpool2d_ceil_overhang", "AveragePool", [("X", rand(1, 2, 5, 6))], ["Y"],
     attrs=dict(kernel_shape=[2, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1))
case("avgpool2d_ceil_overhang_incl", "AveragePool", [("X", rand(1, 2, 5, 6))], ["Y"],
     attrs=dict(kernel_shape=[2, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=1))
case("avgpool2d_ceil_incl", "AveragePool", [("X", rand(1, 2, 10, 9))], ["Y"],
     attrs=dict(kernel_shape=[3, 3], strides=[2, 2], pads=[0, 1, 0, 1], ceil_mode=1, count_include_pad=1))
case("global_avgpool", "GlobalAveragePool", [("X", rand(2, 5, 7, 6))], ["Y"])
case("global_avgpool_1d", "GlobalAveragePool", [("X", rand(2, 5, 13))], ["Y"])

# ---- BatchNormalization ----
case("batchnorm", "BatchNormalization",
     [("X", rand(2, 4, 5, 3)), ("scale", rand(4)), ("B", rand(4)), ("mean", rand(4)),
      ("var", np.abs(rand(4)) + 0.5)], ["Y"], attrs=dict(epsilon=1e-3), consts=["scale", "B", "mean", "var"])

# ---- LayerNormalization ----
case("layernorm_768", "LayerNormalization", [("X", rand(2, 9, 768, scale=3) + 2), ("g", rand(768)), ("b", rand(768))],
     ["Y"], attrs=dict(epsilon=1e-12), consts=["g", "b"], tol=1e-5)
case("layernorm_no_bias", "LayerNormalization", [("X", rand(3, 17)), ("g", rand(17))], ["Y"], tol=1e-5)
case("layernorm_axis1", "LayerNormalization", [("X", rand(2, 5, 7)), ("g", rand(5, 7)), ("b", rand(5, 7))], ["Y"],
     attrs=dict(axis=1), tol=1e-5)


# ---- LSTM / GRU / RNN ----
def rnn_case(op, direction, with_b, with_h, with_lens, hidden=5, seq=6, batch=3, inp=4, extra=None, outs="all"):
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    D = 2 if direction == "bidirectional" else 1
    ins = [("X", rand(seq, batch, inp)), ("W", rand(D, G * hidden, inp, scale=0.5)),
           ("R", rand(D, G * hidden, hidden, scale=0.5)),
           ("B", rand(D, 2 * G * hidden, scale=0.5) if with_b else None),
           ("seq_lens", np.array([seq] + list(rng.integers(1, seq + 1, batch - 1)), dtype=np.int32) if with_lens else None),
           ("h0", rand(D, batch, hidden) if with_h else None)]
    if op == "LSTM":
        ins.append(("c0", rand(D, batch, hidden) if with_h else None))
    outputs = ["Y", "Y_h", "Y_c"][: 3 if op == "LSTM" else 2]
    if outs == "hidden":
        outputs = [""] + outputs[1:]
    name = f"{op.lower()}_{direction}" + ("_b" if with_b else "") + ("_h0" if with_h else "") + ("_lens" if with_lens else "")
    attrs = dict(hidden_size=hidden, direction=direction)
    if extra:
        attrs.update(extra)
        name += "_" + "_".join(f"{k}{v}" for k, v in extra.items())
    if outs == "hidden":
        name += "_no_y"
    case(name, op, ins, outputs, attrs=attrs, consts=["W", "R", "B"])


for op in ("LSTM", "GRU", "RNN"):
    for direction in ("forward", "reverse", "bidirectional"):
        rnn_case(op, direction, False, False, False)
        rnn_case(op, direction, True, True, False)
        rnn_case(op, direction, True, False, True)
rnn_case("GRU", "forward", True, True, False, extra=dict(linear_before_reset=1))
rnn_case("GRU", "bidirectional", True, True, True, extra=dict(linear_before_reset=1))
rnn_case("LSTM", "forward", True, True, False, hidden=17, inp=9, outs="hidden")
rnn_case("LSTM", "bidirectional", True, True, True, hidden=32, seq=11, batch=2, inp=16)

print(f"{len(failures)} failed" + (": " + " ".join(failures) if failures else ""))
sys.exit(1 if failures else 0)
