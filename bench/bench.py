#!/usr/bin/env python3
"""bench.py — shrink vs onnxruntime, same model, same input, same machine, one run.

Rounds alternate between the two engines so that load on this shared machine
hits both alike; each side's figure is the median over rounds of its p50.
Absolute milliseconds are noise here; the ratio is the result.

OpenBLAS and this machine: the environment may pin OPENBLAS_CORETYPE (e.g.
Haswell: AVX2 kernels) for the sake of old OpenBLAS builds.  shrink's fp32
matmuls go through OpenBLAS, so its speed depends on that pin; onnxruntime's
MLAS does not.  Each shrink row is therefore measured twice: with the
environment as given, and with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset for
the shrink command alone (OpenBLAS then picks its kernels by cpuid).  For the
second, the outputs are first checked against onnxruntime on the same input.

  .venv/bin/python bench/bench.py --shrink build/shrink [--threads 2] [--rounds 3]
"""
import argparse, json, os, statistics, subprocess, sys, time

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ort_session(onnx_path, threads, spin=True):
    """spin: worker threads spin while waiting (onnxruntime's default); on a loaded machine
    that can halve its speed."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])


def ort_latency(onnx_path, feeds, threads, iters, warmup=3, spin=True):
    sess = ort_session(onnx_path, threads, spin)
    names = {i.name for i in sess.get_inputs()}
    feeds = {k: v for k, v in feeds.items() if k in names}
    for _ in range(warmup):
        sess.run(None, feeds)
    t = []
    for _ in range(iters):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        t.append((time.perf_counter() - t0) * 1000)
    return statistics.median(t)


AUTO_ENV = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}


def shrink_latency(shrink, model, seq, batch, threads, iters, env=None):
    out = subprocess.run([shrink, "bench", model, "--seq", str(seq), "--batch", str(batch), "--threads", str(threads),
                          "--iters", str(iters), "--json"], check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout)["p50_ms"]


def check_outputs(shrink, model, onnx_path, feeds, env):
    """Max abs diff of shrink's outputs (under env) against onnxruntime's."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        args = [shrink, "run", model, "--out", d, "--force"]
        for k, v in feeds.items():
            np.save(os.path.join(d, k + ".npy"), v)
            args += ["--input", f"{k}={os.path.join(d, k + '.npy')}"]
        subprocess.run(args, check=True, capture_output=True, env=env)
        sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        ref = sess.run(None, feeds)
        return max(float(np.abs(np.load(os.path.join(d, o.name + ".npy")) - r).max())
                   for o, r in zip(sess.get_outputs(), ref))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shrink", default=os.path.join(ROOT, "build", "shrink"))
    ap.add_argument("--zoo", default=os.path.join(ROOT, "build", "zoo"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    a = ap.parse_args()

    rows = []
    cases = [("bert-base fp32", "bert-base", 1, 128)]
    for label, name, batch, seq in cases:
        d = os.path.join(a.zoo, name)
        onnx_path = os.path.join(d, "model.onnx")
        if not os.path.exists(onnx_path):
            print(f"bench: {onnx_path} missing (make bench generates it)", file=sys.stderr)
            return 1
        cfg = json.load(open(os.path.join(d, "config.json")))
        rng = np.random.default_rng(0)
        ids = rng.integers(0, cfg["vocab_size"], size=(batch, seq), dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        pinned = os.environ.get("OPENBLAS_CORETYPE")
        diff = check_outputs(a.shrink, d, onnx_path, feeds, AUTO_ENV)
        if diff > 1e-4:
            print(f"bench: {label}: shrink outputs differ from onnxruntime by {diff:.3g} with cpuid-chosen OpenBLAS kernels",
                  file=sys.stderr)
            return 1
        s_t, s2_t, o_t = [], [], []
        for _ in range(a.rounds):
            o_t.append(ort_latency(onnx_path, feeds, a.threads, a.iters))
            s_t.append(shrink_latency(a.shrink, d, seq, batch, a.threads, a.iters))
            s2_t.append(shrink_latency(a.shrink, d, seq, batch, a.threads, a.iters, AUTO_ENV))
        o = statistics.median(o_t)
        for blas, t in ((f"OPENBLAS_CORETYPE={pinned}" if pinned else "env as given", s_t),
                        ("OpenBLAS by cpuid", s2_t)):
            s = statistics.median(t)
            rows.append({"case": label, "blas": blas, "batch": batch, "seq": seq, "threads": a.threads,
                         "shrink_ms": round(s, 3), "onnxruntime_ms": round(o, 3), "ratio": round(s / o, 3),
                         "max_abs_diff_vs_ort": diff if t is s2_t else None})
    if a.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'case':<16} {'shrink BLAS':<28} {'shape':<8} {'shrink p50':>11} {'ort p50':>10} {'shrink/ort':>10}")
        for r in rows:
            print(f"{r['case']:<16} {r['blas']:<28} {r['batch']}x{r['seq']:<6} {r['shrink_ms']:>9.2f}ms "
                  f"{r['onnxruntime_ms']:>8.2f}ms {r['ratio']:>10.3f}")
        print(f"(cpuid-chosen kernels checked first: shrink vs onnxruntime max abs diff {diff:.2g})")
        print(f"(onnxruntime {ort.__version__}, {a.threads} threads, median of {a.rounds} alternating rounds of "
              f"{a.iters} runs; ratio < 1 means shrink is faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
