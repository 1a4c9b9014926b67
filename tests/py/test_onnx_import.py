"""test_onnx_import.py — ONNX files import as the onnx package reads them.

For every case make_onnx_cases.py writes, and every zoo export present
(samples/zoo/*/model.onnx, build/zoo/*/*.onnx), the importer's view of the
graph (test_onnx --summary FILE, JSON) is compared with the onnx package's
view of the same file:

  - nodes: every node but Constant, in order, with its name (op_type_index
    when unnamed), inputs (trailing empty ones dropped, inner ones null),
    outputs and attributes (STRINGS joined by ',', LSTM/GRU/RNN activations
    dropped when they are the defaults, ConstantOfShape's value as float
    value + value_dtype); com.microsoft Gelu/FastGelu as Gelu with
    approximate none/tanh (FastGelu's bias as an Add before it); Softmax
    before opset 13 either kept (then its axis must be the last: onnx's shape
    inference says so, or, where it cannot tell, the rank of that tensor when
    onnxruntime runs the graph) or rewritten as Shape/Flatten/Softmax/Reshape;
  - constants: every initializer and Constant output with dtype, dims and a
    CRC-32 of its bytes (numpy_helper.to_array, external data included),
    the weight flag (float, more than one element) and the parameter count;
  - graph inputs (initializers excluded) with dtype, dims and dim names, and
    graph outputs;
  - arch: the family (known from how each case was built: cases.json, the
    zoo folder's name), the sizes the tiny transformers were exported with,
    and config.json's sizes and labels when one lies beside the file; the
    tokenizer folder;
  - for the committed zoo models, the parameter count torch measured
    (samples/zoo/metrics.json), except the CNN, whose BatchNorm the exporter
    folds into its Conv.

When `shrink inspect` exists it must load every file too.  Outputs are not
run here (the runtime's tests compare them with onnxruntime).
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("ROOT", os.path.abspath(os.path.join(HERE, "..", "..")))
BUILD = os.environ.get("SHRINK_BUILD", os.path.join(ROOT, "build"))
SHRINK = os.environ.get("SHRINK", os.path.join(BUILD, "shrink"))
TOOL = os.path.join(BUILD, "tests", "test_onnx")
PY = sys.executable

SK_DTYPES = {TensorProto.FLOAT: ("f32", 1), TensorProto.FLOAT16: ("f16", 2), TensorProto.BFLOAT16: ("bf16", 3),
             TensorProto.DOUBLE: ("f64", 4), TensorProto.INT64: ("i64", 5), TensorProto.INT32: ("i32", 6),
             TensorProto.INT16: ("i16", 7), TensorProto.INT8: ("i8", 8), TensorProto.UINT8: ("u8", 9),
             TensorProto.BOOL: ("bool", 10)}
FLOATS = {"f32", "f16", "bf16", "f64"}
DEFAULT_ACTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}

failures = []
checked = 0


def check(cond, what):
    global checked
    checked += 1
    if not cond:
        failures.append(what)
        print("  FAIL", what)
    return cond


def tensor_bytes(arr):
    return np.ascontiguousarray(arr).tobytes()


def const_of_node(n):
    """(onnx dtype, array) of a Constant node's value."""
    a = n.attribute[0]
    if a.name == "value":
        return a.t.data_type, numpy_helper.to_array(a.t)
    if a.name == "value_float":
        return TensorProto.FLOAT, np.array(a.f, np.float32)
    if a.name == "value_floats":
        return TensorProto.FLOAT, np.array(list(a.floats), np.float32)
    if a.name == "value_int":
        return TensorProto.INT64, np.array(a.i, np.int64)
    if a.name == "value_ints":
        return TensorProto.INT64, np.array(list(a.ints), np.int64)
    raise ValueError(a.name)


def attr_value(a):
    t = onnx.AttributeProto
    if a.type == t.INT:
        return a.i
    if a.type == t.FLOAT:
        return float(np.float32(a.f))
    if a.type == t.STRING:
        return a.s.decode()
    if a.type == t.INTS:
        return list(a.ints)
    if a.type == t.FLOATS:
        return [float(np.float32(f)) for f in a.floats]
    if a.type == t.STRINGS:
        return ",".join(s.decode() for s in a.strings)
    raise ValueError(f"attribute {a.name} of type {a.type}")


def same_attrs(got, want):
    if set(got) != set(want):
        return False
    for k, w in want.items():
        g = got[k]
        if isinstance(w, float):
            if not isinstance(g, (int, float)) or np.float32(g) != np.float32(w):
                return False
        elif isinstance(w, list) and w and isinstance(w[0], float):
            if len(g) != len(w) or any(np.float32(a) != np.float32(b) for a, b in zip(g, w)):
                return False
        elif g != w:
            return False
    return True


def trim(names):
    names = list(names)
    while names and not names[-1]:
        names.pop()
    return [n if n else None for n in names]


def true_ranks(model):
    """Ranks by onnx's shape inference (None where it cannot tell)."""
    ranks = {}
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception:
        inferred = model
    g = inferred.graph
    for v in list(g.input) + list(g.output) + list(g.value_info):
        if v.type.HasField("tensor_type") and v.type.tensor_type.HasField("shape"):
            ranks[v.name] = len(v.type.tensor_type.shape.dim)
    for t in g.initializer:
        ranks[t.name] = len(t.dims)
    return ranks


def ort_ranks(model, names):
    """Ranks of the named values when onnxruntime runs the graph on small
    inputs (dynamic dims 2, ints 1, floats 0.5): the oracle where onnx's static
    shape inference cannot see through an exporter's dynamic Reshapes."""
    import onnxruntime as ort
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for n in names:
        m.graph.output.append(onnx.helper.make_empty_tensor_value_info(n))
    inits = {t.name for t in m.graph.initializer}
    feeds = {}
    for v in m.graph.input:
        if v.name in inits:
            continue
        tt = v.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 2 for d in tt.shape.dim]
        dt = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        feeds[v.name] = np.full(shape, 0.5 if np.issubdtype(dt, np.floating) else 1, dt)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    s = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    outs = s.run(list(names), feeds)
    return {n: o.ndim for n, o in zip(names, outs)}


def compare(path, summary, model, expect):
    g = model.graph
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    inits = {t.name for t in g.initializer}
    ranks = None
    name = os.path.relpath(path, ROOT if path.startswith(ROOT) else os.path.dirname(os.path.dirname(path)))

    # constants: initializers and Constant outputs
    want_consts = {}
    for t in g.initializer:
        want_consts[t.name] = (t.data_type, numpy_helper.to_array(t, os.path.dirname(path)))
    for n in g.node:
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx"):
            want_consts[n.output[0]] = const_of_node(n)
    got_consts = {c["name"]: c for c in summary["consts"]}
    check(set(got_consts) == set(want_consts),
          f"{name}: constants differ: extra {sorted(set(got_consts) - set(want_consts))[:5]}, "
          f"missing {sorted(set(want_consts) - set(got_consts))[:5]}")
    params, bad = 0, []
    for cname, (dt, arr) in want_consts.items():
        c = got_consts.get(cname)
        if c is None:
            continue
        sk = SK_DTYPES[dt][0]
        ok = c["dtype"] == sk and c["dims"] == list(arr.shape) and c["nbytes"] == arr.nbytes
        ok = ok and c["crc32"] == zlib.crc32(tensor_bytes(arr))
        weight = sk in FLOATS and arr.size > 1
        ok = ok and c["weight"] == weight
        params += arr.size if weight else 0
        if not ok:
            bad.append(cname)
    check(not bad, f"{name}: {len(bad)} constants differ in dtype, dims, bytes or weight flag: {bad[:5]}")
    check(summary["params"] == params, f"{name}: params {summary['params']}, onnx says {params}")

    # graph inputs and outputs
    want_inputs = []
    for v in g.input:
        if v.name in inits:
            continue
        tt = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
        names = [d.dim_param if d.HasField("dim_param") and d.dim_param else None for d in tt.shape.dim]
        want_inputs.append({"name": v.name, "dtype": SK_DTYPES[tt.elem_type][0],
                            "rank": len(dims) if tt.HasField("shape") else -1, "dims": dims, "dim_names": names})
    got_inputs = [{k: i[k] for k in ("name", "dtype", "rank", "dims", "dim_names")} for i in summary["inputs"]]
    check(got_inputs == want_inputs, f"{name}: inputs {got_inputs} != onnx {want_inputs}")
    check([o["name"] for o in summary["outputs"]] == [o.name for o in g.output],
          f"{name}: outputs {[o['name'] for o in summary['outputs']]} != onnx {[o.name for o in g.output]}")

    # nodes, in order
    got = summary["nodes"]
    k = 0
    hist = {}
    rewrites = 0
    node_fail = None
    for i, n in enumerate(g.node):
        dom = n.domain or ""
        if n.op_type == "Constant" and dom in ("", "ai.onnx"):
            continue
        nname = n.name or f"{n.op_type}_{i}"
        ins, outs = trim(n.input), trim(n.output)
        attrs = {a.name: attr_value(a) for a in n.attribute if a.type != onnx.AttributeProto.TENSOR}
        if n.op_type in DEFAULT_ACTS and dom in ("", "ai.onnx") and "activations" in attrs:
            dirs = 2 if attrs.get("direction") == "bidirectional" else 1
            if attrs["activations"] == ",".join(DEFAULT_ACTS[n.op_type] * dirs):
                del attrs["activations"]   # the importer drops activations that are the defaults
        if n.op_type == "ConstantOfShape":
            vals = [a for a in n.attribute if a.name == "value"]
            if vals:
                arr = numpy_helper.to_array(vals[0].t)
                attrs["value"] = float(np.float32(arr.reshape(-1)[0]))
                attrs["value_dtype"] = SK_DTYPES[vals[0].t.data_type][1]
            else:
                attrs["value"], attrs["value_dtype"] = 0.0, 1
        op = n.op_type
        if dom == "com.microsoft":
            attrs["approximate"] = "tanh" if op == "FastGelu" else "none"
            if op == "FastGelu" and len(ins) == 2:
                a = got[k] if k < len(got) else {}
                if not (a.get("op") == "Add" and a.get("in") == ins):
                    node_fail = node_fail or f"node {nname}: expected Add(x, bias) before FastGelu, got {a}"
                k += 1
                hist["Add"] = hist.get("Add", 0) + 1
                ins = got[k]["in"] if k < len(got) else ins
            op = "Gelu"
        if op == "Softmax" and opset < 13:
            axis = attrs.get("axis", 1)
            s = got[k] if k < len(got) else {}
            if s.get("op") == "Softmax":   # kept: its axis must be the last
                if ranks is None:
                    ranks = true_ranks(model)
                r = ranks.get(ins[0])
                if r is None:
                    r = ort_ranks(model, [ins[0]])[ins[0]]
                    ranks[ins[0]] = r
                if not (s["in"] == ins and s["out"] == outs and s["attrs"] == {"axis": -1}
                        and (axis == -1 or (r is not None and axis == r - 1))):
                    node_fail = node_fail or f"node {nname}: old Softmax kept as {s} though axis {axis}, rank {r}"
                k += 1
                hist["Softmax"] = hist.get("Softmax", 0) + 1
            else:   # rewritten
                four = got[k:k + 4]
                ok = [x["op"] for x in four] == ["Shape", "Flatten", "Softmax", "Reshape"]
                ok = ok and four[0]["in"] == ins and four[1]["in"] == ins and four[1]["attrs"] == {"axis": axis}
                ok = ok and four[2]["attrs"] == {"axis": -1} and four[3]["out"] == outs
                ok = ok and four[2]["in"] == four[1]["out"] and four[3]["in"] == [four[2]["out"][0], four[0]["out"][0]]
                if not ok:
                    node_fail = node_fail or f"node {nname}: old Softmax became {four}"
                k += 4
                rewrites += 1
                for o in ("Shape", "Flatten", "Softmax", "Reshape"):
                    hist[o] = hist.get(o, 0) + 1
            continue
        s = got[k] if k < len(got) else {}
        want = {"op": op, "name": nname, "in": ins, "out": outs}
        if not ({x: s.get(x) for x in want} == want and same_attrs(s.get("attrs", {}), attrs)):
            node_fail = node_fail or f"node #{i}: shrink {s} != onnx {want} attrs {attrs}"
        hist[op] = hist.get(op, 0) + 1
        k += 1
    check(node_fail is None, f"{name}: {node_fail}")
    check(k == len(got) == summary["n_nodes"], f"{name}: {summary['n_nodes']} nodes, onnx accounts for {k}")
    check(summary["ops"] == hist, f"{name}: op histogram {summary['ops']} != {hist}")

    # arch
    arch = summary["arch"]
    for key, want in expect.items():
        if key == "params":
            check(summary["params"] == want, f"{name}: {summary['params']} params, torch counted {want}")
        elif key == "rewrites":
            check(rewrites == want, f"{name}: {rewrites} Softmax rewrites, expected {want}")
        else:
            check(arch.get(key) == want, f"{name}: arch {key} = {arch.get(key)}, expected {want}")
    folder = os.path.dirname(path)
    cfg_path = os.path.join(folder, "config.json")
    if os.path.exists(cfg_path):
        cfg = json.load(open(cfg_path))
        pairs = [("n_layers", ("num_hidden_layers", "n_layer")), ("hidden", ("hidden_size", "n_embd")),
                 ("heads", ("num_attention_heads", "n_head")), ("vocab", ("vocab_size",)),
                 ("max_pos", ("max_position_embeddings", "n_positions"))]
        for ours, keys in pairs:
            want = next((cfg[x] for x in keys if x in cfg), None)
            if want is not None and cfg.get("model_type") in ("bert", "gpt2"):
                check(arch[ours] == want, f"{name}: arch {ours} = {arch[ours]}, config.json says {want}")
    has_tok = os.path.exists(os.path.join(folder, "vocab.txt")) or (
        os.path.exists(os.path.join(folder, "vocab.json")) and os.path.exists(os.path.join(folder, "merges.txt")))
    check((summary["tokenizer_dir"] is not None) == has_tok, f"{name}: tokenizer_dir {summary['tokenizer_dir']}")
    return summary["n_nodes"], rewrites


def summarize(path):
    r = subprocess.run([TOOL, "--summary", path], capture_output=True, text=True)
    if not check(r.returncode == 0, f"{path}: import failed: {r.stderr.strip()}"):
        return None
    return json.loads(r.stdout)


def inspect_ok(path):
    """shrink inspect, once it exists, must load the file too."""
    if not os.path.exists(SHRINK):
        return "no binary"
    try:
        r = subprocess.run([SHRINK, "inspect", path, "--json"], capture_output=True, text=True)
    except OSError as e:
        check(False, f"shrink inspect {path}: {e}")
        return "error"
    if "unknown command" in r.stderr:
        return "not yet"
    if check(r.returncode == 0, f"shrink inspect {path}: exit {r.returncode}: {r.stderr.strip()[:200]}"):
        try:
            json.loads(r.stdout)
        except ValueError:
            check(False, f"shrink inspect {path} --json: output is not JSON")
    return "ok"


def main():
    if not os.path.exists(TOOL):
        print(f"missing {TOOL}: build it with make {os.path.relpath(TOOL, ROOT)}")
        sys.exit(1)
    families = {"mlp": "mlp", "cnn": "cnn", "rnn": "rnn", "bert": "bert", "gpt2": "gpt2"}
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([PY, os.path.join(HERE, "make_onnx_cases.py"), tmp], capture_output=True, text=True)
        if r.returncode:
            print(r.stdout, r.stderr)
            sys.exit(1)
        meta = json.load(open(os.path.join(tmp, "cases.json")))
        meta["legacy11.onnx"]["rewrites"] = 2         # softmax_flat, softmax_unknown_rank (see the case)
        for n in meta:
            if "tiny_" in n:
                meta[n]["rewrites"] = 0               # ranks are visible through the exporters' ops
        files = [(os.path.join(tmp, n), e) for n, e in sorted(meta.items())]
        zoo = sorted(glob.glob(os.path.join(ROOT, "samples", "zoo", "*", "model.onnx")) +
                     glob.glob(os.path.join(ROOT, "build", "zoo", "*", "*.onnx")))
        metrics_path = os.path.join(ROOT, "samples", "zoo", "metrics.json")
        metrics = json.load(open(metrics_path)) if os.path.exists(metrics_path) else {}
        for z in zoo:
            model_name = os.path.basename(os.path.dirname(z))
            fam = model_name.split("-")[0]
            e = {"family": families[fam]} if fam in families else {}
            torch_params = (metrics.get(model_name) or {}).get("parameters")
            if torch_params and z.startswith(os.path.join(ROOT, "samples")) and fam != "cnn":
                # torch's sum(p.numel()) (build.py); the CNN's BatchNorm is folded into its Conv by the exporter
                e["params"] = torch_params
            files.append((z, e))
        inspect = set()
        print(f"{len(meta)} generated cases, {len(zoo)} zoo exports")
        for path, expect in files:
            summary = summarize(path)
            if summary is None:
                continue
            model = onnx.load(path)
            n_nodes, rewrites = compare(path, summary, model, expect)
            inspect.add(inspect_ok(path))
            shown = os.path.relpath(path, ROOT if path.startswith(ROOT) else tmp)
            print(f"  {shown}: {len(model.graph.node)} onnx nodes -> {n_nodes} shrink nodes "
                  f"({rewrites} Softmax rewritten), {len(summary['consts'])} constants, {summary['params']} params, "
                  f"family {summary['arch']['family']}")
        if not zoo:
            print("  (no zoo exports present: samples/zoo/*/model.onnx, build/zoo/*/*.onnx)")
        print(f"shrink inspect: {', '.join(sorted(inspect))}")
    print(f"{checked} checks, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
