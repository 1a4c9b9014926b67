"""test_onnx_export.py — ONNX files shrink writes run in onnxruntime as they run in shrink.

f32 models (max abs diff ≤ 1e-4 between onnxruntime on the export and
`shrink run` on the original; ≤ 1e-5 × max(1, max |y|) between shrink on the re-imported export
and shrink on the original; the worst of each is printed):
  - every zoo model present: samples/zoo/*/model.onnx, the samples/zoo
    bert-fortunes / gpt2-fortunes Hugging Face folders (fused graphs) when
    their weights are there, build/zoo/*/model.onnx (`make zoo`);
  - tiny random HF checkpoints (make_hf_cases.py: BERT classifier, BERT with
    tanh gelu, GPT-2 LM with a tied head, GPT-2 base), also against
    transformers' own outputs (≤ 1e-4), one of them with --opset 20 and
    --external-data;
  - the importer's cases (make_onnx_cases.py: every op with an ONNX name,
    opset 11 and 21 spellings, com.microsoft Gelu, tiny BERT / GPT-2 exported
    by torch at opsets 11, 14, 17 as the zoo's build.py does);
  - hand-built graphs from tests/unit/test_onnx_export.c (every fused op, the
    causal mask from HF's buffer and from Range, primitive respellings).

Quantized LINEARs (test_onnx_export.c writes each case as q.skm, ref.skm with
the weights dequantized to f32, the exports, x.npy and the dequantized W):
  - what the file computes, checked with onnxruntime's graph optimizations at
    BASIC (nothing fused): DequantizeLinear forms = x·Wdqᵀ + b exactly (≤ 1e-5
    relative to the output's largest value); the dynamic form = numpy's
    DynamicQuantizeLinear (u8, per tensor) then x̃·Wdqᵀ (≤ 1e-5); MatMulNBits at
    accuracy_level 4 = x quantized to int8 per block of block_size
    (symmetric, absmax/127) then x̃·Wdqᵀ (≤ 1e-5), at level 1 = exact.
  - what users get (optimizations at ALL: onnxruntime turns DequantizeLinear →
    MatMul into MatMulNBits with int8 activations): |y − exact| within the
    bound that activation quantization allows: per output, Σ_k e_k·|W_nk| with
    e_k half the quantization step of x_k (per-row absmax/127 bounds every
    per-block scheme; per-tensor (max−min)/255 for the dynamic form), times
    1.13 after a gelu (its largest slope).
  - against `shrink run q.skm` once shrink has the quantized kernels
    (reported as skipped before): |ort − shrink| ≤ both bounds added; where
    both quantize activations the same way (MatMulNBits with block = group,
    shrink's W4A8) ≤ 1e-3 relative.
Quantized Gathers (embedding tables, ir.h), hand-written as text IR: int8
per row (DequantizeLinear axis 0 → Gather), int8 in groups (blocked
DequantizeLinear, opset 21; refused at 17), int4 asymmetric / symmetric with
a last group shorter than the rest (com.microsoft GatherBlockQuantized),
i32 and negative indices, and tables tied to a Linear head (int8 and int4):
onnxruntime (BASIC and ALL) against shrink and both against numpy's
dequantization of the same bytes, ≤ 1e-6 relative.
Models quantized by `shrink quantize` (the tiny HF ones and the zoo up to
150 MB; int8, int8 weight-only with and without the head, int4 symmetric,
int4 asymmetric weight-only) are exported
and run in both runtimes: onnxruntime's distance from the f32 model may not
exceed 4x shrink's (they round activations differently: a sanity bound), and
for weight-only models the file's own semantics (ORT at BASIC, or at ALL with
session.qdq_matmulnbits_accuracy_level = 1 so that the MatMulNBits onnxruntime
fuses DequantizeLinear → MatMul into keeps f32 activations) must equal
shrink's within 1e-4.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.environ.get("ROOT", os.path.abspath(os.path.join(HERE, "..", "..")))
BUILD = os.environ.get("SHRINK_BUILD", os.path.join(ROOT, "build"))
SHRINK = os.environ.get("SHRINK", os.path.join(BUILD, "shrink"))
CASES_TOOL = os.path.join(BUILD, "tests", "test_onnx_export")
sys.path.insert(0, HERE)

F32_ORT_TOL = 1e-4
F32_BACK_TOL = 1e-5
failures, skipped = [], []
worst = {}


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what)


def note_worst(kind, d, where):
    if kind not in worst or d > worst[kind][0]:
        worst[kind] = (d, where)


def sh(*args):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True)


def ort_run(path, feeds, level=ort.GraphOptimizationLevel.ORT_ENABLE_ALL, config=None):
    so = ort.SessionOptions()
    so.graph_optimization_level = level
    for k, v in (config or {}).items():
        so.add_session_config_entry(k, v)
    so.intra_op_num_threads = 2
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    names = [i.name for i in s.get_inputs()]
    res = s.run(None, {k: v for k, v in feeds.items() if k in names})
    return {o.name: r for o, r in zip(s.get_outputs(), res)}


def shrink_run(model, feeds, tmp):
    """Outputs of `shrink run MODEL` as {name: array}; (None, stderr) on failure."""
    d = tempfile.mkdtemp(dir=tmp)
    args = [SHRINK, "run", model, "--out", d, "--force", "--threads", "2"]
    for k, v in feeds.items():
        p = os.path.join(d, "in." + k + ".npy")
        np.save(p, v)
        args += ["--input", "%s=%s" % (k, p)]
    r = sh(*args)
    if r.returncode:
        return None, r.stderr.strip()
    return {f[:-4]: np.load(os.path.join(d, f)) for f in os.listdir(d) if not f.startswith("in.")}, None


def maxdiff(a, b):
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.size else 0.0


def convert(model, out, *opts):
    r = sh(SHRINK, "convert", model, out, "--force", *opts)
    check(r.returncode == 0, "convert %s -> %s: %s" % (model, out, r.stderr.strip()))
    if r.returncode:
        return False
    try:
        onnx.checker.check_model(onnx.load(out), full_check=True)
    except Exception as e:   # noqa: BLE001 - report any checker complaint
        check(False, "%s: onnx.checker: %s" % (out, e))
        return False
    return True


# ---------------------------------------------------------------- f32 models
def feeds_for(path, rng):
    """Inputs for an ONNX file from its declared inputs: token ids < 90 (every
    zoo and test vocabulary is larger), a padded attention mask, positions."""
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    B, S = 2, 9
    feeds = {}
    for i in s.get_inputs():
        if i.name == "input_ids":
            feeds[i.name] = rng.integers(0, 90, (B, S)).astype(np.int64)
        elif i.name == "attention_mask":
            m = np.ones((B, S), np.int64)
            m[1, 6:] = 0
            feeds[i.name] = m
        elif i.name == "token_type_ids":
            feeds[i.name] = (np.arange(S)[None, :] >= 4).astype(np.int64).repeat(B, 0)
        elif i.name == "position_ids":
            feeds[i.name] = np.arange(S, dtype=np.int64)[None, :].repeat(B, 0)
        elif i.name == "shp":   # make_onnx_cases.py's legacy11: a Reshape target known at run time
            feeds[i.name] = np.array([2, 3, 4], np.int64)
        else:
            shape = [d if isinstance(d, int) else 3 for d in i.shape]
            feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def check_f32(name, model, tmp, opts=(), feeds=None, torch_ref=None):
    out = os.path.join(tmp, name.replace("/", "_") + ".onnx")
    if not convert(model, out, *opts):
        return
    if feeds is None:
        feeds = feeds_for(out, np.random.default_rng(0))
    y_ort = ort_run(out, feeds)
    y_sk, err = shrink_run(model, feeds, tmp)
    if y_sk is None and model.endswith(".onnx") and "at plan time" in err:
        # a graph shrink's runtime cannot plan (a shape known only at run time): the
        # export is then held to onnxruntime on the original file
        y0 = ort_run(model, feeds)
        for k in sorted(y0):
            dd = maxdiff(y_ort[k], y0[k])
            print("%-34s %-18s ort on the export vs ort on the original %.3g (shrink: %s)" % (name, k, dd, err))
            check(dd <= F32_BACK_TOL, "%s %s: the export vs the original in onnxruntime %.3g" % (name, k, dd))
        return
    check(y_sk is not None, "%s: shrink run: %s" % (name, err))
    y_back, err = shrink_run(out, feeds, tmp)
    check(y_back is not None, "%s: shrink run on the export: %s" % (name, err))
    if y_sk is None or y_back is None:
        return
    check(set(y_ort) == set(y_sk), "%s: outputs %s vs shrink's %s" % (name, sorted(y_ort), sorted(y_sk)))
    for k in sorted(set(y_ort) & set(y_sk)):
        d_ort, d_back = maxdiff(y_ort[k], y_sk[k]), maxdiff(y_back[k], y_sk[k])
        line = "%-34s %-18s ort vs shrink %.3g   re-imported vs shrink %.3g" % (name + " " + " ".join(opts), k, d_ort,
                                                                             d_back)
        if torch_ref is not None and k in torch_ref:
            d_t = maxdiff(y_ort[k], torch_ref[k])
            line += "   ort vs torch %.3g" % d_t
            check(d_t <= F32_ORT_TOL, "%s %s: onnxruntime vs transformers %.3g > %g" % (name, k, d_t, F32_ORT_TOL))
        print(line)
        note_worst("f32 ort vs shrink", d_ort, name + ":" + k)
        note_worst("f32 re-imported vs shrink", d_back, name + ":" + k)
        check(d_ort <= F32_ORT_TOL, "%s %s: onnxruntime vs shrink %.3g > %g" % (name, k, d_ort, F32_ORT_TOL))
        # relative to the output's scale: the two graphs may multiply in other
        # kernels (a constant W packed, pgemm.c, or BLAS) and so round differently
        tol = F32_BACK_TOL * max(1.0, float(np.abs(y_sk[k]).max()) if y_sk[k].size else 1.0)
        check(d_back <= tol, "%s %s: re-imported vs shrink %.3g > %.3g" % (name, k, d_back, tol))


def zoo_models():
    zoo = os.path.join(ROOT, "samples", "zoo")
    found = []
    for d in sorted(os.listdir(zoo)) if os.path.isdir(zoo) else []:
        p = os.path.join(zoo, d)
        if os.path.isfile(os.path.join(p, "model.onnx")):
            found.append(("zoo/" + d, os.path.join(p, "model.onnx")))
        if os.path.isfile(os.path.join(p, "config.json")) and any(f.endswith(".safetensors") for f in os.listdir(p)):
            found.append(("zoo/" + d + " (HF)", p))
    bz = os.path.join(BUILD, "zoo")
    for d in sorted(os.listdir(bz)) if os.path.isdir(bz) else []:
        if os.path.isfile(os.path.join(bz, d, "model.onnx")):
            found.append(("build/zoo/" + d, os.path.join(bz, d, "model.onnx")))
    return found


def hf_cases(tmp):
    import torch
    import make_hf_cases as mk
    torch.manual_seed(0)
    root = os.path.join(tmp, "hf")
    os.makedirs(root)
    bert_in = ["input_ids", "attention_mask", "token_type_ids"]
    gpt_in = ["input_ids", "attention_mask", "position_ids"]
    m = mk.BertForSequenceClassification(mk.bert_config(num_labels=3))
    mk.randomize(m, 1)
    mk.make_case(root, "bert-cls", m, "bert", bert_in, ["logits"])
    m = mk.BertModel(mk.bert_config(hidden_act="gelu_pytorch_tanh"))
    mk.randomize(m, 2)
    mk.make_case(root, "bert-base", m, "bert", bert_in, ["last_hidden_state", "pooler_output"])
    m = mk.GPT2LMHeadModel(mk.gpt2_config())
    mk.randomize(m, 3)
    m.tie_weights()
    mk.make_case(root, "gpt2-lm", m, "gpt2", gpt_in, ["logits"])
    m = mk.GPT2Model(mk.gpt2_config(n_inner=48, activation_function="gelu"))
    mk.randomize(m, 4)
    mk.make_case(root, "gpt2-base", m, "gpt2", gpt_in, ["last_hidden_state"])
    return root


def importer_cases(tmp):
    """The ONNX files the importer's test is built on (make_onnx_cases.py):
    every op of ops.def with an ONNX name, opset 11's attribute forms, opset
    21's input forms, com.microsoft Gelu, and tiny BERT / GPT-2 exported by
    torch at opsets 11, 14 and 17 (primitive graphs, as the zoo's build.py
    makes them)."""
    out = os.path.join(tmp, "onnx_cases")
    r = sh(sys.executable, os.path.join(HERE, "make_onnx_cases.py"), out)
    check(r.returncode == 0, "make_onnx_cases.py: %s" % r.stderr[-2000:])
    if r.returncode:
        return []
    return [("onnx_cases/" + c, os.path.join(out, c)) for c in json.load(open(os.path.join(out, "cases.json")))]


def load_dir(d, prefix):
    return {f[len(prefix):-4]: np.load(os.path.join(d, f)) for f in os.listdir(d)
            if f.startswith(prefix) and f.endswith(".npy")}


# ---------------------------------------------------------------- quantized
def act_fn(act):
    if act == "relu":
        return lambda v: np.maximum(v, 0)
    if act == "gelu":
        from math import erf, sqrt
        verf = np.vectorize(erf, otypes=[np.float64])
        return lambda v: 0.5 * v * (1 + verf(v / sqrt(2)))
    if act == "":
        return lambda v: v
    raise ValueError(act)


SLOPE = {"": 1.0, "relu": 1.0, "gelu": 1.13}


def quant_blocks(x, bs):
    """x quantized to int8 per block of bs along the last axis, symmetric absmax/127 (round half even)."""
    K = x.shape[-1]
    xb = x.reshape(-1, K // bs, bs).astype(np.float32)
    s = np.abs(xb).max(-1, keepdims=True) / np.float32(127)
    s[s == 0] = 1
    return (np.rint(xb / s) * s).reshape(x.shape).astype(np.float64)


def quant_dynamic(x):
    """DynamicQuantizeLinear: u8, per tensor, scale (max(0,xmax) − min(0,xmin))/255."""
    x = x.astype(np.float32)
    s = np.float32((np.float32(max(0, x.max())) - np.float32(min(0, x.min()))) / np.float32(255))
    zp = np.clip(np.rint(-np.float32(min(0, x.min())) / s), 0, 255)
    q = np.clip(np.rint(x / s) + zp, 0, 255)
    return ((q - zp) * s).astype(np.float64)


def err_row(x):
    """Largest activation error of any symmetric int8 scheme with blocks within a row: absmax(row)/127/2."""
    return np.broadcast_to(np.abs(x).max(-1, keepdims=True) / 127 / 2, x.shape)


def err_dynamic(x):
    return np.full(x.shape, (max(0.0, float(x.max())) - min(0.0, float(x.min()))) / 255 / 2)


def bound(e, w, act, scale):
    K = w.shape[1]
    return (e.reshape(-1, K) @ np.abs(w).T).reshape(e.shape[:-1] + (w.shape[0],)) * SLOPE[act] * 1.0001 + 1e-5 * scale


def nbits_block(path):
    for n in onnx.load(path).graph.node:
        if n.op_type == "MatMulNBits":
            return {a.name: a.i for a in n.attribute}
    return None


def check_quant_case(d, tmp):
    c = json.load(open(os.path.join(d, "case.json")))
    name = c["name"]
    x = np.load(os.path.join(d, "x.npy"))
    w = np.load(os.path.join(d, "w.npy")).astype(np.float64)
    b = np.load(os.path.join(d, "b.npy")).astype(np.float64) if c["bias"] else 0.0
    f = act_fn(c["act"])
    x64 = x.astype(np.float64)
    exact = f(x64 @ w.T + b)
    scale = float(np.abs(exact).max())
    y_ref, err = shrink_run(os.path.join(d, "ref.skm"), {"x": x}, tmp)
    check(y_ref is not None, "%s: shrink run ref.skm: %s" % (name, err))
    if y_ref is not None:
        check(maxdiff(y_ref["y"], exact) <= 1e-5 * scale, "%s: shrink's f32 reference vs numpy" % name)
    y_q, err = shrink_run(os.path.join(d, "q.skm"), {"x": x}, tmp)
    if y_q is None:
        if "no kernel" in err:
            skipped.append("%s: shrink run q.skm (%s)" % (name, err))
        else:
            check(False, "%s: shrink run q.skm: %s" % (name, err))
    # what shrink's runtime does (qmatmul.h): W8A8 per-row int8 x, W4A8 per-group int8 x, act_bits 0 f32
    e_sk = np.zeros(x.shape) if c["act_bits"] == 0 else err_row(x)
    b_sk = bound(e_sk, w, c["act"], scale)
    if y_q is not None:
        d_sk = np.abs(y_q["y"] - exact)
        check((d_sk <= b_sk).all(), "%s: shrink W%dA%d vs exact %.3g beyond the activation bound"
              % (name, c["bits"], c["act_bits"] or 32, d_sk.max()))
    for fname in ("qdq.onnx", "dynamic.onnx", "opset21.onnx"):
        p = os.path.join(d, fname)
        if not os.path.exists(p):
            check(c["bits"] == 8 and c["group"] != c["K"] and fname == "dynamic.onnx", "%s: %s missing" % (name, p))
            continue
        try:
            onnx.checker.check_model(onnx.load(p), full_check=True)
        except Exception as ex:   # noqa: BLE001
            check(False, "%s/%s: onnx.checker: %s" % (name, fname, ex))
        nb = nbits_block(p)
        # 1. the file's own semantics (nothing fused)
        y_b = ort_run(p, {"x": x}, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)["y"]
        if nb is not None and nb["accuracy_level"] == 4:
            expect, what = f(quant_blocks(x, nb["block_size"]) @ w.T + b), "int8 x per block of %d" % nb["block_size"]
        elif fname == "dynamic.onnx" and c["bits"] == 8 and c["act_bits"] == 8:
            expect, what = f(quant_dynamic(x) @ w.T + b), "DynamicQuantizeLinear x"
        else:
            expect, what = exact, "exact"
        d_b = maxdiff(y_b, expect)
        # 2. what a user gets, fusions on
        y = ort_run(p, {"x": x})["y"]
        dyn = fname == "dynamic.onnx" and c["bits"] == 8 and c["act_bits"] == 8
        b_ort = bound(err_dynamic(x) if dyn else err_row(x), w, c["act"], scale)
        d_o = np.abs(y - exact)
        line = "%-12s %-13s file = numpy (%s) %.2g | ort vs exact %.3g (%.2g of its bound, rel %.2g)" % (
            name, fname, what, d_b, d_o.max(), (d_o / b_ort).max(), d_o.max() / scale)
        check(d_b <= 1e-5 * scale, "%s/%s: onnxruntime (BASIC) vs numpy (%s) %.3g" % (name, fname, what, d_b))
        check((d_o <= b_ort).all(), "%s/%s: onnxruntime vs exact %.3g beyond the activation bound" % (name, fname, d_o.max()))
        note_worst("quantized file vs numpy (relative)", d_b / scale, name + "/" + fname)
        if y_q is not None:
            d_q = np.abs(y - y_q["y"])
            line += " | ort vs shrink %.3g (rel %.2g)" % (d_q.max(), d_q.max() / scale)
            check((d_q <= b_ort + b_sk).all(), "%s/%s: onnxruntime vs shrink %.3g beyond both bounds" % (name, fname, d_q.max()))
            same_scheme = nb is not None and (nb["accuracy_level"] == 4 and nb["block_size"] == c["group"]
                                              or nb["accuracy_level"] == 1)
            if same_scheme:
                check(d_q.max() <= 1e-3 * scale, "%s/%s: onnxruntime vs shrink %.3g > 1e-3 relative (same scheme)"
                      % (name, fname, d_q.max()))
                note_worst("MatMulNBits ort vs shrink, same scheme (relative)", d_q.max() / scale, name + "/" + fname)
        print(line)


QUANT_MAX_BYTES = 150e6
QCONFIGS = [   # name, quantize options, export forms, weight-only (then the file at BASIC equals shrink)
    ("int8", ("--bits", "8"), ((), ("--int8-form", "dynamic")), False),
    ("int8-wo", ("--bits", "8", "--act-bits", "0"), ((),), True),
    ("int8-wo-head", ("--bits", "8", "--act-bits", "0", "--head", "int8"), ((),), True),
    ("int4-sym-g32", ("--bits", "4", "--group", "32", "--sym"), ((),), False),
    ("int4-asym-g32-wo", ("--bits", "4", "--group", "32", "--asym", "--act-bits", "0"), ((),), True),
]


def quantized_models(tmp, models):
    """Models quantized by `shrink quantize`, exported, run in both runtimes.

    Whole models have no per-layer bound (the per-layer ones are checked on
    the C-made cases above).  ORT (all optimizations) and shrink run the same
    quantized weights and differ only in how activations are rounded: per
    tensor u8 (dynamic form), per block of 32 (MatMulNBits, also what ORT makes
    of DequantizeLinear → MatMul), per row (shrink's W8A8).  So they are held
    to their distance from the f32 model: ORT's may not exceed 4x shrink's
    (a sanity bound: a wrong scale or layout is off by far more).  Weight-only
    models leave nothing to round: the file's own semantics (ORT at BASIC, or
    with MatMulNBits kept on f32 activations) must equal shrink's within the
    f32 tolerance."""
    r = sh(SHRINK, "quantize", "--help")
    if r.returncode != 0:
        skipped.append("quantized models: no `shrink quantize` yet")
        return
    for name, model in models:
        size = sum(os.path.getsize(os.path.join(model, f)) for f in os.listdir(model)) if os.path.isdir(model) \
            else os.path.getsize(model)
        if size > QUANT_MAX_BYTES:   # the benchmark shapes (bert-base, gpt2 124M): minutes for five exports
            skipped.append("%s: quantized exports (%.0f MB > %.0f MB)" % (name, size / 1e6, QUANT_MAX_BYTES / 1e6))
            continue
        for qname, qopts, forms, weight_only in QCONFIGS:
            tag = "%s %s" % (name, qname)
            q = os.path.join(tmp, (name + "." + qname).replace("/", "_").replace(" ", "_") + ".skm")
            r = sh(SHRINK, "quantize", model, *qopts, "-o", q, "--force")
            if r.returncode:
                msg = r.stderr.strip()
                check("no layer to quantize" in msg, "%s: shrink quantize: %s" % (tag, msg))
                skipped.append("%s: %s" % (tag, msg[:120]))
                continue
            for form in forms:
                out = q[:-4] + ("-dynamic" if form else "") + ".onnx"
                if not convert(q, out, *form):
                    continue
                feeds = feeds_for(out, np.random.default_rng(1))
                y_sk, err = shrink_run(q, feeds, tmp)
                y_f, err_f = shrink_run(model, feeds, tmp)
                check(y_sk is not None and y_f is not None, "%s: shrink run: %s" % (tag, err or err_f))
                if y_sk is None or y_f is None:
                    continue
                y_ort = ort_run(out, feeds)
                y_basic = ort_run(out, feeds, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
                for k in sorted(y_ort):
                    noise, noise_ort = maxdiff(y_sk[k], y_f[k]), maxdiff(y_ort[k], y_f[k])
                    d, d_b = maxdiff(y_ort[k], y_sk[k]), maxdiff(y_basic[k], y_sk[k])
                    print("%-44s %-18s ort vs shrink %.3g, file (BASIC) vs shrink %.3g; vs f32: shrink %.3g, ort %.3g"
                          % (tag + (" dynamic" if form else ""), k, d, d_b, noise, noise_ort))
                    check(noise_ort <= max(4 * noise, F32_ORT_TOL), "%s %s: onnxruntime's quantization error %.3g > 4 x "
                          "shrink's %.3g" % (tag, k, noise_ort, noise))
                    if weight_only:
                        note_worst("weight-only quantized: file vs shrink", d_b, tag + ":" + k)
                        check(d_b <= F32_ORT_TOL, "%s %s: the file (BASIC) vs shrink %.3g > %g" % (tag, k, d_b, F32_ORT_TOL))
                        # all optimizations, but MatMulNBits made from DequantizeLinear kept on f32 activations
                        y_wo = ort_run(out, feeds, config={"session.qdq_matmulnbits_accuracy_level": "1"})
                        d_wo = maxdiff(y_wo[k], y_sk[k])
                        note_worst("weight-only quantized: ort (accuracy_level 1) vs shrink", d_wo, tag + ":" + k)
                        check(d_wo <= F32_ORT_TOL, "%s %s: ort with qdq_matmulnbits_accuracy_level=1 vs shrink %.3g"
                              % (tag, k, d_wo))
                    else:
                        note_worst("W8A8/W4A8 models: ort's error vs f32 / shrink's", noise_ort / max(noise, 1e-12),
                                   tag + ":" + k)


def qtable_skir(name, bits, V, H, group, zeros, rng, head=False):
    """A text-IR model: ids → Gather over a quantized table (and, with head, a Linear reading the same
    table as W, act_bits 0); returns (text, numpy dequantized table)."""
    G = -(-H // group)
    sc = rng.uniform(0.01, 0.1, size=(V, G)).astype(np.float32)
    if bits == 8:
        q = rng.integers(-127, 128, size=(V, H))
        codes = q.astype(np.int8).tobytes()
        z = np.zeros((V, G), np.int64)
    else:
        q = rng.integers(0, 16, size=(V, H))
        flat = np.append(q.reshape(-1), [0] * (V * H % 2)).astype(np.uint8)
        codes = (flat[0::2] | (flat[1::2] << 4)).astype(np.uint8).tobytes()
        z = rng.integers(0, 16, size=(V, G)) if zeros else np.full((V, G), 8)
    deq = np.zeros((V, H), np.float32)
    for g in range(G):
        deq[:, g * group:(g + 1) * group] = sc[:, g:g + 1] * (q[:, g * group:(g + 1) * group] - z[:, g:g + 1]).astype(np.float32)
    sshape = f"[{V}]" if bits == 8 and G == 1 else f"[{V}, {G}]"
    zq = ", zeros=%tz" if zeros else ""
    lines = ["model family=none",
             f"weight %tab: {'i8' if bits == 8 else 'q4'}[{V}, {H}] quant{{bits={bits}, group={group}, axis=1, "
             f"sym={0 if zeros else 1}, scales=%ts{zq}}} = x\"{codes.hex()}\"",
             f"weight %ts: f32{sshape} = [{', '.join(repr(float(v)) for v in sc.reshape(-1))}]"]
    if zeros:
        lines.append(f"weight %tz: u8[{V}, {G}] = [{', '.join(str(int(v)) for v in z.reshape(-1))}]")
    lines.append("input %ids: i64[b, s]" + (f", %x: f32[b, {H}]" if head else ""))
    lines.append(f"%e: f32[b, s, {H}] = Gather(%ids, %ids)".replace("(%ids, %ids)", f"(%tab, %ids, %ts{', %tz' if zeros else ''})")
                 + f" {{bits={bits}, group={group}}} @{name}")
    if head:
        lines.append(f"%y: f32[b, {V}] = Linear(%x, %tab, _, %ts{', %tz' if zeros else ''}) "
                     f"{{wt=1, bits={bits}, group={group}, act_bits=0}} @head")
    lines.append("output %e" + (", %y" if head else ""))
    return "\n".join(lines) + "\n", deq


def quantized_gathers(tmp):
    rng = np.random.default_rng(7)
    cases = [  # name, bits, V, H, group, zeros, head, opset
        ("q8_row", 8, 7, 5, 5, False, False, 17),
        ("q8_groups", 8, 6, 40, 16, False, False, 21),
        ("q4_asym", 4, 6, 40, 16, True, False, 17),
        ("q4_sym", 4, 5, 64, 32, False, False, 17),
        ("q8_tied", 8, 12, 32, 32, False, True, 17),
        ("q4_tied", 4, 12, 64, 32, True, True, 17),
    ]
    for name, bits, V, H, group, zeros, head, opset in cases:
        text, deq = qtable_skir(name, bits, V, H, group, zeros, rng, head)
        src, out = os.path.join(tmp, name + ".skir"), os.path.join(tmp, name + ".onnx")
        with open(src, "w") as f:
            f.write(text)
        if not convert(src, out, "--opset", str(opset)):
            continue
        ids = np.array([[0, V - 1, 2], [-1, 1, 3]], np.int64)
        feeds = {"ids": ids}
        if head:
            feeds["x"] = rng.standard_normal((2, H)).astype(np.float32)
        want = {"e": deq[ids]}
        if head:
            want["y"] = (feeds["x"].astype(np.float64) @ deq.T.astype(np.float64)).astype(np.float32)
        y_sk, err = shrink_run(src, feeds, tmp)
        check(y_sk is not None, "%s: shrink run: %s" % (name, err))
        if y_sk is None:
            continue
        for lvl in (ort.GraphOptimizationLevel.ORT_ENABLE_BASIC, ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
            y = ort_run(out, feeds, lvl)
            for k in sorted(want):
                tol = 1e-6 * max(1.0, float(np.abs(want[k]).max())) * (H if k == "y" else 1)
                d, d_sk = maxdiff(y[k], y_sk[k]), maxdiff(y_sk[k], want[k])
                print("%-34s %-3s ort vs shrink %.3g, shrink vs numpy %.3g (opt level %d)" % ("qgather/" + name, k, d, d_sk, lvl))
                note_worst("quantized Gather: ort vs shrink", d, name + ":" + k)
                check(d <= tol and d_sk <= tol, "qgather/%s %s: ort vs shrink %.3g, shrink vs numpy %.3g (tol %.3g)"
                      % (name, k, d, d_sk, tol))
        ops = [n.op_type for n in onnx.load(out).graph.node]
        check(("GatherBlockQuantized" in ops) == (bits == 4), "qgather/%s: ops %s" % (name, ops))
    # an int8 table in groups has no ONNX form before opset 21: refused, naming the node
    r = sh(SHRINK, "convert", os.path.join(tmp, "q8_groups.skir"), os.path.join(tmp, "q8_groups17.onnx"), "--force")
    check(r.returncode == 1 and "node 'q8_groups'" in r.stderr and "opset 21" in r.stderr,
          "q8_groups at opset 17 refused: exit %d %s" % (r.returncode, r.stderr.strip()))


def main():
    tmp = tempfile.mkdtemp(prefix="sk_onnx_export_py.")
    try:
        # hand-made graphs and quantized cases from the C test
        cases = os.path.join(tmp, "cases")
        r = sh(CASES_TOOL, cases)
        check(r.returncode == 0, "%s %s failed:\n%s%s" % (CASES_TOOL, cases, r.stdout[-2000:], r.stderr[-2000:]))
        if r.returncode == 0:
            for c in ("fused_range", "fused_buffer", "prim"):
                d = os.path.join(cases, c)
                feeds = load_dir(d, "")
                y_sk, err = shrink_run(os.path.join(d, "model.skm"), feeds, tmp)
                check(y_sk is not None, "%s: shrink run: %s" % (c, err))
                for fname in sorted(f for f in os.listdir(d) if f.endswith(".onnx")):
                    p = os.path.join(d, fname)
                    onnx.checker.check_model(onnx.load(p), full_check=True)
                    y = ort_run(p, feeds)
                    for k in sorted(y):
                        dd = maxdiff(y[k], y_sk[k]) if y_sk else float("inf")
                        print("%-34s %-18s ort vs shrink %.3g" % (c + "/" + fname, k, dd))
                        note_worst("f32 ort vs shrink", dd, c + "/" + fname + ":" + k)
                        check(dd <= F32_ORT_TOL, "%s/%s %s: onnxruntime vs shrink %.3g" % (c, fname, k, dd))
            for c in sorted(os.listdir(cases)):
                if os.path.exists(os.path.join(cases, c, "case.json")):
                    check_quant_case(os.path.join(cases, c), tmp)

        quantized_gathers(tmp)

        # tiny HF checkpoints: fused BERT / GPT-2 graphs, also against transformers
        hf = hf_cases(tmp)
        for c in ("bert-cls", "bert-base", "gpt2-lm", "gpt2-base"):
            d = os.path.join(hf, c)
            feeds, ref = load_dir(os.path.join(d, "ref"), "in."), load_dir(os.path.join(d, "ref"), "out.")
            check_f32("hf/" + c, d, tmp, feeds=feeds, torch_ref=ref)
        d = os.path.join(hf, "gpt2-lm")
        check_f32("hf/gpt2-lm", d, tmp, opts=("--opset", "20", "--external-data"),
                  feeds=load_dir(os.path.join(d, "ref"), "in."), torch_ref=load_dir(os.path.join(d, "ref"), "out."))
        check(os.path.exists(os.path.join(tmp, "hf_gpt2-lm.onnx.data")), "--external-data wrote no .data file")

        for name, path in importer_cases(tmp):
            check_f32(name, path, tmp)

        # the zoo
        models = zoo_models()
        for name, model in models:
            check_f32(name, model, tmp)
        quantized_models(tmp, [("hf/bert-cls", os.path.join(hf, "bert-cls")),
                               ("hf/gpt2-lm", os.path.join(hf, "gpt2-lm"))] + models)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    for k, (d, where) in sorted(worst.items()):
        print("worst %-50s %.3g  (%s)" % (k, d, where))
    for s in skipped:
        print("skipped:", s)
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
