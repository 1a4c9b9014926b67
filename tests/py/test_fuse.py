"""test_fuse.py — the fuse pass on real Hugging Face exports.

Models: the small random BERT / GPT-2 exports of make_fuse_cases.py at
opsets 11, 14 and 17 (made in $SHRINK_BUILD/fuse-cases when missing), plus
the zoo exports when they exist (build/zoo: bert-fortunes, gpt2-fortunes
from `samples/zoo/build.py export-onnx`, bert-base and gpt2 from `shapes`).
For each:

  - counts: every attention block, LayerNorm and GELU is fused.  The numbers
    present come from torch's side (cases.json, or the model's config.json:
    layers L → L attention blocks, 2L+1 LayerNorms, L GELUs), the fused ones
    from `shrink inspect --after fuse --json --graph`; no Softmax, Erf, Pow,
    ReduceMean or Sqrt may be left;
  - outputs: `shrink run` of the ONNX file and of the same file with
    `--passes fuse` on the same inputs (a padded row included) agree within
    1e-5 (max |fused − unfused| / max(1, max |unfused|), per output);
  - GPT-2: the fused model (written with `run --passes fuse --save`) has
    Attention nodes, so `shrink generate` uses the KV cache, and its greedy
    continuation equals the unfused graph's (which re-runs the whole sequence
    each step);
  - latency: `shrink bench` of the fused model and of the graph shrink builds
    from the safetensors checkpoint beside it (CPU time per run, one thread),
    printed as a ratio (not asserted: timings are not test results).

SHRINK_FUSE_BENCH=0 skips the latency lines; SHRINK_FUSE_ZOO=0 the zoo models.
"""
import glob
import json
import os
import re
import resource
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.environ.get("ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SHRINK = os.environ.get("SHRINK", os.path.join(ROOT, "build", "shrink"))
BUILD = os.environ.get("SHRINK_BUILD", os.path.join(ROOT, "build"))
PY = sys.executable
TOL = 1e-5
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def sh(*args, timeout=1800):
    r = subprocess.run([SHRINK, *args], capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"shrink {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def cases():
    out = os.path.join(BUILD, "fuse-cases")
    if not os.path.exists(os.path.join(out, "cases.json")):
        subprocess.run([PY, os.path.join(ROOT, "tests", "py", "make_fuse_cases.py"), out], check=True)
    meta = json.load(open(os.path.join(out, "cases.json")))
    found = []
    for name, c in sorted(meta.items()):
        for op in c["opsets"]:
            found.append((f"{name} opset {op}", os.path.join(out, name, f"model-opset{op}.onnx"), c,
                          os.path.join(out, name)))
    if os.environ.get("SHRINK_FUSE_ZOO", "1") != "0":
        for path in sorted(glob.glob(os.path.join(ROOT, "build", "zoo", "*", "*.onnx"))):
            d = os.path.dirname(path)
            if path.endswith("-past.onnx"):   # onnxruntime's decode-step graph for bench/quant_bench.py:
                continue                      # past KV as inputs, a form shrink does not fuse (its own KV cache)
            cfg_path = os.path.join(d, "config.json")
            if not os.path.exists(cfg_path):
                continue
            cfg = json.load(open(cfg_path))
            fam = cfg.get("model_type")
            if fam not in ("bert", "gpt2"):
                continue
            L = cfg.get("num_hidden_layers", cfg.get("n_layer"))
            # a checkpoint beside the export (bert-base, gpt2), or the committed zoo folder
            st = d if os.path.exists(os.path.join(d, "model.safetensors")) else \
                os.path.join(ROOT, "samples", "zoo", os.path.basename(d))
            c = {"family": fam, "layers": L, "attention": L, "layernorm": 2 * L + 1, "gelu": L,
                 "causal": fam == "gpt2"}
            found.append((os.path.relpath(path, ROOT), path, c, st))
    return found


def counts(model):
    j = json.loads(sh("inspect", model, "--after", "fuse", "--json", "--graph"))
    ops, ir = j["ops"], j["ir"]
    gelu = ops.get("Gelu", 0) + len(re.findall(r'act="gelu(_tanh)?"', ir))
    notes = [n for p in j.get("passes", []) for n in p["notes"]]
    return ops, gelu, notes, j


def feeds_for(c, vocab, inputs, batch=2, seq=13, seed=0):
    """Random ids and a mask with a padded second row; static input dims win."""
    for i in inputs:
        if i["name"] == "input_ids" and len(i["dims"]) == 2:
            batch = i["dims"][0] if isinstance(i["dims"][0], int) else batch
            seq = i["dims"][1] if isinstance(i["dims"][1], int) else seq
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, size=(batch, seq)).astype(np.int64)
    mask = np.ones((batch, seq), dtype=np.int64)
    if batch > 1:
        mask[1, seq - seq // 3:] = 0
    f = {"input_ids": ids, "attention_mask": mask}
    if c["family"] == "bert":
        f["token_type_ids"] = np.zeros((batch, seq), dtype=np.int64)
    return f


def run_outputs(model, feeds, tmp, passes=None):
    out = os.path.join(tmp, "out-fused" if passes else "out")
    args = ["run", model, "--out", out, "--force"]
    if passes:
        args += ["--passes", passes]
    for k, v in feeds.items():
        p = os.path.join(tmp, k + ".npy")
        np.save(p, v)
        args += ["--input", f"{k}={p}"]
    sh(*args)
    return {os.path.basename(p)[:-4]: np.load(p) for p in glob.glob(os.path.join(out, "*.npy"))}


def bench_cpu_ms(model, seq, n):
    """CPU ms per run of `shrink bench --threads 1`: the difference between a bench of n + 2 and
    of 2 iterations, over n, so loading is left out and other processes on the machine count
    little (wall-clock p50 on a shared 2-core machine varies 2x from run to run)."""
    def cpu(iters):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        sh("bench", model, "--seq", str(seq), "--iters", str(iters), "--warmup", "1", "--threads", "1")
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    return (cpu(n + 2) - cpu(2)) / n * 1000


def bench_iters(model, seq):
    """Iterations that take about a second of CPU (10..1000)."""
    j = json.loads(sh("bench", model, "--seq", str(seq), "--iters", "5", "--warmup", "1", "--threads", "1", "--json"))
    return int(min(1000, max(10, 1000.0 / max(j["p50_ms"], 1e-3))))


def gen_text(model, prompt, n):
    return sh("generate", model, "--prompt", prompt, "-n", str(n))


def one(label, path, c, ckpt, tmp):
    if not os.path.exists(path):
        check(False, f"{label}: {path} missing")
        return
    ops, gelu, notes, j = counts(path)
    L = c["layers"]
    att, ln = ops.get("Attention", 0), ops.get("LayerNormalization", 0) + ops.get("SkipLayerNorm", 0)
    left = {k: ops.get(k, 0) for k in ("Softmax", "Erf", "Pow", "ReduceMean", "Sqrt", "Tanh", "MatMul", "Gemm")
            if ops.get(k, 0)}
    check(att == c["attention"] and ln == c["layernorm"] and gelu == c["gelu"] and not left,
          f"{label}: fused attention {att}/{c['attention']}, layernorm {ln}/{c['layernorm']} "
          f"(SkipLayerNorm {ops.get('SkipLayerNorm', 0)}), gelu {gelu}/{c['gelu']}; "
          f"left primitive {left or 'none'}; nodes {j['nodes']}")
    if not (att == c["attention"] and ln == c["layernorm"] and gelu == c["gelu"]):
        for n in notes:
            print("     note:", n)
    if c["causal"]:
        causal = len(re.findall(r"Attention\([^)]*\) \{[^}]*causal=1", j["ir"]))
        check(causal == L, f"{label}: {causal} causal Attention of {L}")
    vocab = j["arch"]["vocab"] or 100
    feeds = feeds_for(c, vocab, j["inputs"], seq=min(13, j["arch"]["max_pos"] or 13))
    ref = run_outputs(path, feeds, tmp)
    got = run_outputs(path, feeds, tmp, "fuse")
    worst = 0.0
    for name, r in ref.items():
        g = got.get(name)
        if g is None or g.shape != r.shape:
            check(False, f"{label}: output {name} missing or of another shape after fuse")
            return
        worst = max(worst, float(np.abs(g.astype(np.float64) - r).max() / max(1.0, float(np.abs(r).max()))))
    check(worst <= TOL, f"{label}: outputs fused vs unfused, worst {worst:.3g} (tol {TOL}, relative to max(1, |out|))")
    fused = os.path.join(tmp, "fused.skm")
    sh("run", path, "--passes", "fuse", "--save", fused, "--force")
    dynamic = all(not isinstance(d, int) for i in j["inputs"] for d in i["dims"])
    if c["family"] == "gpt2" and j["arch"].get("tokenizer") and dynamic:   # a static [1, 128] export cannot generate
        prompt, n = "The computer is", 12
        a, b = gen_text(path, prompt, n), gen_text(fused, prompt, n)
        check(a == b, f"{label}: greedy generation, KV cache after fuse == full re-run before: {b.strip()[:60]!r}")
    if os.environ.get("SHRINK_FUSE_BENCH", "1") != "0" and ckpt and os.path.exists(os.path.join(ckpt, "config.json")) \
            and (os.path.exists(os.path.join(ckpt, "model.safetensors"))
                 or os.path.exists(os.path.join(ckpt, "model.safetensors.index.json"))):
        seq = feeds["input_ids"].shape[1] if not dynamic else min(128, j["arch"]["max_pos"] or 128)
        tf, ts = [], []
        n = bench_iters(fused, seq)
        for _ in range(3):   # alternating, best of three
            tf.append(bench_cpu_ms(fused, seq, n))
            ts.append(bench_cpu_ms(ckpt, seq, n))
        print(f"     bench seq {seq}, CPU ms per run (1 thread): fused ONNX {min(tf):.2f}, graph built from the "
              f"safetensors {min(ts):.2f}, ratio {min(tf) / min(ts):.3f}")


def main():
    found = cases()
    with tempfile.TemporaryDirectory() as tmp:
        for label, path, c, ckpt in found:
            try:
                one(label, path, c, ckpt, tmp)
            except Exception as e:   # a crash of one model is a failure, the others still run
                check(False, f"{label}: {e}")
    print(f"{len(found)} models, {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
