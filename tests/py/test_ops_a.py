"""test_ops_a.py — plumbing, elementwise and reduction ops against onnxruntime.

For each op of src/runtime/kernels/{shape_ops,eltwise,reduce}.c, several
single-node ONNX models (opset 17, and 11 / 13 / 18 where the op's form or
meaning changed) are built with onnx.helper, fed random inputs saved as .npy,
run with `shrink run MODEL --input NAME=FILE.npy ... --out DIR`, and each
DIR/<output>.npy is compared with onnxruntime's output for the same model:
same shape and dtype, max abs diff <= 1e-5 for float outputs (NaN where
onnxruntime has NaN), exact for integer and bool outputs.  Inputs that the
op needs at plan time (shapes, axes, starts, pads) are initializers; a few
cases compute them from Shape of the input instead, so shrink must fold
them.  Prints the worst difference per op; exits 1 on any failure.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
SHRINK = os.environ.get("SHRINK", os.path.join(HERE, "..", "..", "build", "shrink"))
TOL = 1e-5
I64_MAX, I64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min

rng = np.random.default_rng(1234)
cases = []      # (op, label, model, feeds)
worst = {}      # op -> worst abs diff
failures = []


def randn(*shape, scale=1.0):
    return np.asarray(rng.standard_normal(shape) * scale, np.float32)


def uniform(lo, hi, *shape):
    return np.asarray(rng.uniform(lo, hi, shape), np.float32)


def ints(lo, hi, *shape, dtype=np.int64):
    return rng.integers(lo, hi, shape).astype(dtype)


def model(nodes, feeds, consts, outputs, opset):
    g_in = [helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape))
            for k, v in feeds.items()]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()]
    g_out = [helper.make_empty_tensor_value_info(o) for o in outputs]
    g = helper.make_graph(nodes, "t", g_in, g_out, initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    try:   # typed outputs where ONNX can infer them
        m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    except Exception:
        pass
    return m


def case(op, label, feeds, consts=None, attrs=None, inputs=None, outputs=("y",), opset=17, op_type=None, pre=()):
    """One node of op_type (default op) reading `inputs` (default: feeds then consts, in order);
    `pre` are extra nodes placed before it."""
    consts = consts or {}
    if inputs is None:
        inputs = list(feeds) + list(consts)
    node = helper.make_node(op_type or op, list(inputs), list(outputs), name="n_" + op.lower(), **(attrs or {}))
    cases.append((op, label, model(list(pre) + [node], feeds, consts, outputs, opset), feeds))


def run_shrink(m, feeds, work):
    path = os.path.join(work, "m.onnx")
    onnx.save(m, path)
    args = [SHRINK, "run", path, "--out", os.path.join(work, "out"), "--force"]
    for k, v in feeds.items():
        f = os.path.join(work, k + ".npy")
        np.save(f, v)
        args += ["--input", "%s=%s" % (k, f)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if p.returncode:
        raise RuntimeError("shrink run exit %d: %s" % (p.returncode, (p.stderr or p.stdout).strip()))
    return [np.load(os.path.join(work, "out", o.name + ".npy")) for o in m.graph.output]


def compare(op, label, got, ref):
    if got.shape != ref.shape or got.dtype != ref.dtype:
        return "shape/dtype %s %s, onnxruntime %s %s" % (got.shape, got.dtype, ref.shape, ref.dtype)
    if ref.dtype.kind == "f":
        nan = np.isnan(ref)
        if (np.isnan(got) != nan).any():
            return "NaN in different places"
        g, r = got[~nan].astype(np.float64), ref[~nan].astype(np.float64)
        inf = np.isinf(r) | np.isinf(g)
        if (g[inf] != r[inf]).any():
            return "inf in different places"
        d = float(np.max(np.abs(g[~inf] - r[~inf]))) if (~inf).any() else 0.0
        worst[op] = max(worst.get(op, 0.0), d)
        return None if d <= TOL else "max abs diff %.3g > %g" % (d, TOL)
    bad = int(np.count_nonzero(got != ref))
    worst[op] = max(worst.get(op, 0.0), float(bad))
    return None if bad == 0 else "%d of %d elements differ" % (bad, ref.size)


# ---------------------------------------------------------------- the cases
def plumbing():
    x = randn(2, 3, 4)
    case("Identity", "f32", {"x": x})
    case("Identity", "i64", {"x": ints(-9, 9, 5)})
    case("Dropout", "inference + mask", {"x": x}, outputs=("y", "mask"))
    case("Dropout", "opset 11", {"x": x}, attrs={"ratio": 0.3}, opset=11)

    for to, src in [(TensorProto.INT64, uniform(-50, 50, 3, 5)), (TensorProto.FLOAT16, randn(4, 4, scale=10)),
                    (TensorProto.FLOAT, randn(4, 4).astype(np.float16)), (TensorProto.FLOAT, ints(-1000, 1000, 7)),
                    (TensorProto.BOOL, np.array([0, -0.0, 2.5, -1e-30, 1], np.float32)),
                    (TensorProto.FLOAT, np.array([True, False, True])), (TensorProto.INT32, ints(-2**40, 2**40, 6)),
                    (TensorProto.DOUBLE, randn(5)), (TensorProto.FLOAT, rng.standard_normal(5)),
                    (TensorProto.INT64, ints(-9, 9, 5, dtype=np.int32)), (TensorProto.FLOAT, ints(0, 255, 6, dtype=np.uint8)),
                    (TensorProto.INT8, uniform(-100, 100, 6)), (TensorProto.UINT8, uniform(0, 255, 6)),
                    (TensorProto.INT64, ints(-100, 100, 6, dtype=np.int8)), (TensorProto.BOOL, ints(-2, 3, 6))]:
        case("Cast", "%s->%s" % (src.dtype, TensorProto.DataType.Name(to)), {"x": src}, attrs={"to": to})

    case("Shape", "rank 3", {"x": x})
    case("Shape", "opset 15 start/end", {"x": x}, attrs={"start": 1, "end": -1}, opset=15)

    emb = randn(50, 8)
    case("Gather", "axis 0 const i64 (negative)", {"x": emb}, {"i": np.array([[3, -1], [0, 49]], np.int64)})
    case("Gather", "axis 1 input i32", {"x": x, "i": ints(-3, 3, 2, 2, dtype=np.int32)}, attrs={"axis": 1})
    case("Gather", "axis -1 scalar", {"x": x}, {"i": np.array(-2, np.int64)}, attrs={"axis": -1})
    case("Gather", "embedding", {"i": ints(0, 50, 4, 16)}, {"w": emb}, inputs=["w", "i"])

    case("Unsqueeze", "opset 11 attr", {"x": x}, attrs={"axes": [0, -1]}, opset=11)
    case("Unsqueeze", "opset 13 input", {"x": x}, {"a": np.array([1, 4], np.int64)}, opset=13)
    case("Squeeze", "opset 11 attr", {"x": randn(1, 3, 1, 2)}, attrs={"axes": [-2]}, opset=11)
    case("Squeeze", "opset 13 input", {"x": randn(1, 3, 1, 2)}, {"a": np.array([0, 2], np.int64)}, opset=13)
    case("Squeeze", "all ones", {"x": randn(1, 3, 1, 2)})
    case("Reshape", "0 and -1", {"x": x}, {"s": np.array([0, -1], np.int64)})
    case("Reshape", "-1 middle", {"x": x}, {"s": np.array([4, -1, 2], np.int64)})
    for axis in (0, 1, -1, 3):
        case("Flatten", "axis %d" % axis, {"x": x}, attrs={"axis": axis})

    case("Concat", "f32 axis -1 with empty", {"a": randn(2, 3, 1), "b": randn(2, 3, 4), "c": randn(2, 3, 0)},
         attrs={"axis": -1})
    case("Concat", "i64 shapes", {"a": ints(0, 9, 1)}, {"b": np.array([12, 64], np.int64)}, attrs={"axis": 0})
    case("Concat", "axis 0", {"a": randn(1, 4), "b": randn(3, 4)}, attrs={"axis": 0})

    case("Split", "opset 11 attr", {"x": randn(6, 4)}, attrs={"axis": 0, "split": [1, 5]}, outputs=("y0", "y1"),
         opset=11)
    case("Split", "opset 13 input", {"x": randn(3, 7)}, {"s": np.array([2, 0, 5], np.int64)}, attrs={"axis": -1},
         outputs=("y0", "y1", "y2"), opset=13)
    case("Split", "equal", {"x": randn(2, 6, 3)}, attrs={"axis": 1}, outputs=("y0", "y1", "y2"))
    case("Split", "opset 18 num_outputs", {"x": randn(7, 2)}, attrs={"axis": 0, "num_outputs": 3},
         outputs=("y0", "y1", "y2"), opset=18)

    v = randn(10)
    for s, e, st in [(2, I64_MAX, 1), (-1, I64_MIN, -1), (1, 9, 3), (-3, -1, 1), (20, 30, 1), (-100, 2, 1),
                     (8, 1, -3), (0, -1, I64_MAX)]:
        case("Slice", "[%d:%d:%d]" % (s, e, st), {"x": v},
             {"s": np.array([s]), "e": np.array([e]), "a": np.array([0]), "t": np.array([st])})
    case("Slice", "3-D axes (1,-1) i32", {"x": x},
         {"s": np.array([1, -1], np.int32), "e": np.array([100, 0], np.int32), "a": np.array([1, -1], np.int32),
          "t": np.array([2, -2], np.int32)})
    case("Slice", "no axes no steps", {"x": x}, {"s": np.array([0, 1]), "e": np.array([1, 3])})
    case("Slice", "ends from Shape (causal mask rows)", {"x": randn(1, 5)},
         {"m": randn(1, 1, 8, 8), "z": np.array([0]), "one": np.array([1]), "ax": np.array([3])},
         inputs=["m", "z", "len", "ax"],
         pre=[helper.make_node("Shape", ["x"], ["sh"]), helper.make_node("Gather", ["sh", "one"], ["len"], axis=0)])

    for perm in ([0, 2, 1, 3], [0, 2, 3, 1], None, [3, 1, 0, 2]):
        case("Transpose", str(perm), {"x": randn(2, 5, 3, 4)}, attrs={"perm": perm} if perm else {})
    case("Transpose", "large heads", {"x": randn(2, 64, 12, 32)}, attrs={"perm": [0, 2, 1, 3]})

    case("Expand", "[3,1] to [2,1,4]", {"x": randn(3, 1)}, {"s": np.array([2, 1, 4], np.int64)})
    case("Expand", "shape smaller", {"x": randn(2, 3)}, {"s": np.array([1], np.int64)})
    case("Expand", "i64 scalar", {"x": np.array(5, np.int64)}, {"s": np.array([2, 3], np.int64)})

    ones = helper.make_tensor("v", TensorProto.FLOAT, [1], [0.5])
    case("ConstantOfShape", "f32 from Shape", {"x": x}, inputs=["sh"], attrs={"value": ones},
         pre=[helper.make_node("Shape", ["x"], ["sh"])])
    case("ConstantOfShape", "i64 value", {"x": x}, inputs=["sh"],
         attrs={"value": helper.make_tensor("v", TensorProto.INT64, [1], [3])},
         pre=[helper.make_node("Shape", ["x"], ["sh"])])
    case("ConstantOfShape", "default zeros", {"x": x}, inputs=["sh"], pre=[helper.make_node("Shape", ["x"], ["sh"])])
    case("ConstantOfShape", "bool", {"x": x}, inputs=["sh"],
         attrs={"value": helper.make_tensor("v", TensorProto.BOOL, [1], [True])},
         pre=[helper.make_node("Shape", ["x"], ["sh"])])

    # Range with constant inputs only: add x + Range so the graph has an input
    for a, b, d, dt in [(0, 10, 3, np.int64), (10, 0, -3, np.int64), (3, 9, 2, np.int32), (0.5, 2.0, 0.25, np.float32),
                        (1.0, -2.0, -0.3, np.float32)]:
        r = np.arange(a, b, d, dtype=dt) if dt != np.float32 else None
        n = len(r) if r is not None else int(np.ceil((b - a) / d))
        feeds = {"x": (ints(-5, 5, n, dtype=dt) if dt != np.float32 else randn(n))}
        case("Range", "%s %g..%g by %g" % (np.dtype(dt).name, a, b, d), feeds,
             {"a": np.array(a, dt), "b": np.array(b, dt), "d": np.array(d, dt)}, inputs=["x", "r"], op_type="Add",
             pre=[helper.make_node("Range", ["a", "b", "d"], ["r"], name="range")])
    # Range(0, S) with S from Shape: the position-ids pattern of HF exports
    case("Range", "0..S from Shape", {"x": randn(3, 7)}, {"z": np.array(0, np.int64), "o": np.array(1, np.int64),
         "i1": np.array(1, np.int64)}, inputs=["z", "s1", "o"],
         pre=[helper.make_node("Shape", ["x"], ["sh"]), helper.make_node("Gather", ["sh", "i1"], ["s1"], axis=0)])

    case("Pad", "constant", {"x": randn(2, 3)}, {"p": np.array([1, 2, 0, 1], np.int64), "v": np.array(9, np.float32)})
    case("Pad", "edge", {"x": randn(2, 3, 4)}, {"p": np.array([0, 1, 2, 1, 0, 3], np.int64)}, attrs={"mode": "edge"})
    case("Pad", "reflect", {"x": randn(3, 4)}, {"p": np.array([2, 1, 1, 3], np.int64)}, attrs={"mode": "reflect"})
    case("Pad", "negative", {"x": randn(3, 4)}, {"p": np.array([-1, 1, 0, -2], np.int64)})
    case("Pad", "opset 11", {"x": randn(3, 4)}, {"p": np.array([1, 1, 1, 1], np.int64)}, opset=11)
    case("Pad", "opset 18 axes", {"x": randn(3, 4)}, {"p": np.array([1, 2], np.int64), "v": np.array(-1, np.float32),
         "a": np.array([-1], np.int64)}, opset=18)


BSHAPES = [((4, 5), (4, 5)), ((4, 5), ()), ((), (2, 3, 4)), ((2, 3, 8), (8,)), ((2, 3, 5, 5), (2, 1, 1, 5)),
           ((3, 1), (1, 4)), ((1,), (2, 3)), ((2, 1, 3), (4, 1)), ((0, 3), (3,)), ((64, 64, 24), (24,)),
           ((300, 300), (300, 300))]


def eltwise():
    for op in ("Add", "Sub", "Mul", "Div"):
        for sa, sb in BSHAPES:
            b = randn(*sb)
            if op == "Div":
                b = np.where(np.abs(b) < 0.1, np.float32(0.5), b).astype(np.float32)
            case(op, "f32 %s %s" % (sa, sb), {"a": randn(*sa), "b": b})
        for dt in (np.int64, np.int32):
            b = ints(-9, 9, 4, 1, dtype=dt)
            if op == "Div":
                b[b == 0] = 3
            case(op, "%s bcast" % np.dtype(dt).name, {"a": ints(-50, 50, 3, dtype=dt), "b": b})
        # folded at plan time: Gather(Shape(x), 1) op 4 (the head-size arithmetic of HF exports)
        case(op, "i64 shape arithmetic", {"x": randn(6, 10)}, {"k": np.array(-4, np.int64), "i": np.array(1, np.int64)},
             inputs=["d", "k"],
             pre=[helper.make_node("Shape", ["x"], ["sh"]), helper.make_node("Gather", ["sh", "i"], ["d"], axis=0)])
    for e in (2.0, 3.0, 0.5, 1.7, -1.0):
        case("Pow", "exponent %g" % e, {"a": uniform(0.1, 3, 4, 6)}, {"b": np.array(e, np.float32)})
    case("Pow", "tensor exponent", {"a": uniform(0.1, 3, 4, 6), "b": uniform(-2, 2, 6)})
    case("Pow", "i64 exponent", {"a": uniform(0.1, 3, 4, 6)}, {"b": np.array([2, 0, -1, 3, 1, 2], np.int64)})
    case("Pow", "square of negatives", {"a": randn(4, 6)}, {"b": np.array(2.0, np.float32)})

    for op in ("Equal", "Less", "Greater"):
        a, b = ints(-3, 3, 4, 5).astype(np.float32), ints(-3, 3, 5).astype(np.float32)
        case(op, "f32 bcast with ties", {"a": a, "b": b})
        case(op, "i64", {"a": ints(-3, 3, 2, 3), "b": ints(-3, 3, 2, 1)})
        case(op, "i32", {"a": ints(-3, 3, 6, dtype=np.int32), "b": ints(-3, 3, 6, dtype=np.int32)})
    case("Equal", "bool", {"a": ints(0, 2, 6).astype(bool), "b": ints(0, 2, 6).astype(bool)})
    case("Not", "bool", {"x": ints(0, 2, 3, 4).astype(bool)})

    case("Where", "bcast 3 ways", {"c": ints(0, 2, 2, 1).astype(bool), "a": randn(1, 3), "b": randn()})
    case("Where", "causal mask", {"c": np.tril(np.ones((1, 1, 6, 6), bool)), "a": randn(2, 3, 6, 6)},
         {"b": np.array(-3.4e38, np.float32)})
    case("Where", "i64", {"c": ints(0, 2, 5).astype(bool), "a": ints(-9, 9, 5), "b": ints(-9, 9, 5)})

    x = randn(3, 50, 20, scale=3)
    for op, v in [("Sqrt", np.abs(x)), ("Reciprocal", np.where(np.abs(x) < 0.1, np.float32(1), x).astype(np.float32)),
                  ("Neg", x), ("Exp", np.clip(x, -20, 3)), ("Log", np.abs(x) + np.float32(1e-3)), ("Erf", x),
                  ("Tanh", x), ("Relu", x), ("Sigmoid", x * 3)]:
        case(op, "f32", {"x": v})
    case("Neg", "i64", {"x": ints(-100, 100, 7)})
    case("Neg", "i32", {"x": ints(-100, 100, 7, dtype=np.int32)})
    case("Sqrt", "special", {"x": np.array([0, -1, np.inf, 4], np.float32)})
    case("Relu", "opset 13", {"x": randn(5, 5)}, opset=13)


def reduce():
    x = randn(2, 3, 5, scale=3)
    case("Softmax", "axis -1", {"x": x})
    case("Softmax", "axis 1", {"x": x}, attrs={"axis": 1})
    case("Softmax", "axis 0", {"x": x}, attrs={"axis": 0})
    case("Softmax", "opset 11 axis 1", {"x": x}, attrs={"axis": 1}, opset=11)
    case("Softmax", "opset 11 default", {"x": x}, opset=11)
    case("Softmax", "opset 13 default", {"x": x}, opset=13)
    m = randn(2, 4, 6)
    m[0, 1, :] = -np.inf
    m[1, 2, ::2] = -np.inf
    m[1, 3, 0] = 80.0
    case("Softmax", "masked rows", {"x": m})
    case("Softmax", "attention sized", {"x": randn(2, 12, 32, 32, scale=4)})

    y = randn(4, 6, 8, scale=2)
    for op in ("ReduceMean", "ReduceSum"):
        for axes, keep in [([-1], 1), ([1], 0), ([0, 2], 1), ([0, 1], 0), (None, 0), ([-1, -2], 1)]:
            a = {"keepdims": keep}
            if axes is not None:
                a["axes"] = axes
            case(op, "opset 13 attr axes %s keep %d" % (axes, keep) if op == "ReduceMean"
                 else "opset 11 attr axes %s keep %d" % (axes, keep), {"x": y}, attrs=a,
                 opset=13 if op == "ReduceMean" else 11)
    for axes, keep in [([-1], 1), ([0, 2], 0), ([1], 1)]:
        case("ReduceSum", "opset 13 input axes %s" % axes, {"x": y}, {"a": np.array(axes, np.int64)},
             attrs={"keepdims": keep}, opset=13)
        case("ReduceMean", "opset 18 input axes %s" % axes, {"x": y}, {"a": np.array(axes, np.int64)},
             attrs={"keepdims": keep}, opset=18)
    case("ReduceSum", "noop_with_empty_axes", {"x": y}, attrs={"noop_with_empty_axes": 1}, opset=13)
    case("ReduceSum", "all, opset 13", {"x": y}, attrs={"keepdims": 0}, opset=13)
    case("ReduceSum", "i64", {"x": ints(-50, 50, 3, 4)}, {"a": np.array([1], np.int64)}, attrs={"keepdims": 0}, opset=13)
    case("ReduceMean", "last axis, large", {"x": randn(8, 64, 96)}, attrs={"axes": [-1]}, opset=13)


def main():
    if not os.path.exists(SHRINK):
        print("SKIP: %s not built" % SHRINK)
        return 1
    plumbing()
    eltwise()
    reduce()
    work = tempfile.mkdtemp(prefix="test_ops_a.")
    try:
        for op, label, m, feeds in cases:
            try:
                sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
                ref = sess.run(None, feeds)
            except Exception as e:   # a case onnxruntime rejects is a bad case, not a shrink failure
                failures.append("%s [%s]: onnxruntime rejects the model: %s" % (op, label, str(e).splitlines()[0]))
                continue
            try:
                got = run_shrink(m, feeds, work)
            except Exception as e:
                failures.append("%s [%s]: %s" % (op, label, e))
                continue
            for o, g, r in zip(m.graph.output, got, ref):
                msg = compare(op, label, g, np.asarray(r))
                if msg:
                    failures.append("%s [%s] output %s: %s" % (op, label, o.name, msg))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ops = sorted({c[0] for c in cases})
    n_case = {op: sum(1 for c in cases if c[0] == op) for op in ops}
    print("%-16s %6s  %s" % ("op", "cases", "worst abs diff vs onnxruntime (integer/bool outputs: elements differing)"))
    for op in ops:
        print("%-16s %6d  %s" % (op, n_case[op], "%.3g" % worst[op] if op in worst else "-"))
    for f in failures:
        print("FAIL", f)
    print("%d cases, %d failures" % (len(cases), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
