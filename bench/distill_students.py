#!/usr/bin/env python3
"""distill_students.py — acceptance table for the small students of `shrink distill` on bert-fortunes.

For each student (a bag-of-embeddings MLP, a GRU, and the 2-layer BERT that
copies teacher layers 0 and 2; a 1-D CNN with --only cnn; bert2-lr5e-4 is
that 2-layer BERT at the teacher's lr 5e-4; bert2-fresh the same shape from a
fresh seeded init, 10 epochs) and each seed:
  label-only   --alpha-kd 0 --alpha-ce 1 on the labelled training split
  KD           --alpha-kd A --alpha-ce 1-A (temperature T) on the same data,
               same init (same seed), same epochs, batch and lr
  KD + pool    the same, plus the zoo's training pool as unlabelled transfer
               data (KD only: lines without a label); more steps, the same epochs
  KD + att     (with --alpha-att X, transformer students only) KD as above plus
               TinyBERT's attention-score loss, on the labelled split
Test accuracy of every student by `shrink eval` on samples/data/fortunes-test.jsonl
(one example at a time, truncated at the tokenizer's 64 tokens: the zoo's
protocol), next to the teacher's.  Data: bench/export_fortunes_train.py --pool.
Results are kept in build/distill/students.json; a run already there is not
repeated (--fresh runs everything again).  --teacher DIR distils from another
bert-fortunes-shaped teacher (e.g. bench/pretrain_bert_fortunes.py's); its runs
are kept apart, in build/distill/<DIR's name>/.

Usage: .venv/bin/python bench/distill_students.py [--seeds 1,2,3] [--pool-seeds 1] [--only mlp,gru,bert2]
                                                 [--alpha-att X] [--teacher DIR]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEACHER = REPO / "samples" / "zoo" / "bert-fortunes"
TEST = REPO / "samples" / "data" / "fortunes-test.jsonl"
VAL = REPO / "samples" / "data" / "fortunes-val.jsonl"
DATA = REPO / "build" / "data"
OUT = REPO / "build" / "distill"

# name: (--student, lr, epochs, batch)
STUDENTS = {
    "mlp": ("mlp", "3e-3", 10, 32),
    "gru": ("rnn=gru", "3e-3", 10, 32),
    "cnn": ("cnn", "3e-3", 10, 32),
    "bert2": ("layers=2", "1e-4", 5, 16),
    "bert2-lr5e-4": ("layers=2", "5e-4", 5, 16),
    "bert2-fresh": ("layers=2,init=fresh", "5e-4", 10, 16),
}


def sh(args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"{' '.join(map(str, args))}: exit {r.returncode}\n{r.stderr}")
    return r


def accuracy(shrink, model, data=TEST):
    return json.loads(sh([shrink, "eval", model, "--data", data, "--json", "--threads", "2"]).stdout)["value"]


def model_path(out_dir, name, mode, seed):
    return out_dir / f"{name}-{mode.replace(' ', '').replace('+', '-')}-s{seed}.skm"


def params(shrink, model):
    r = sh([shrink, "inspect", model, "--json"])
    try:
        return json.loads(r.stdout).get("params")
    except json.JSONDecodeError:
        return None


def run(shrink, a, out_dir, name, mode, seed):
    spec, lr, epochs, batch = STUDENTS[name]
    akd = "0" if mode == "label-only" else a.alpha_kd
    ace = "1" if mode == "label-only" else str(1 - float(a.alpha_kd))
    data = DATA / ("fortunes-train-pool.jsonl" if mode == "KD + pool" else "fortunes-train.jsonl")
    out = model_path(out_dir, name, mode, seed)
    att = ["--alpha-att", a.alpha_att] if mode == "KD + att" else []
    t0 = time.time()
    r = sh([shrink, "distill", "--teacher", a.teacher, "--student", spec, "--data", data, "--epochs", epochs,
            "--batch", batch, "--lr", lr, "--seed", seed, "--alpha-kd", akd, "--alpha-ce", ace,
            "--temperature", a.temperature, "--threads", "2", "--quiet", "--force", "-o", out] + att)
    steps = int(re.search(r": (\d+) steps", r.stdout).group(1))
    return {"student": name, "spec": spec, "mode": mode, "seed": seed, "alpha_kd": float(akd), "alpha_ce": float(ace),
            "temperature": float(a.temperature), "alpha_att": float(a.alpha_att) if att else 0.0, "epochs": epochs, "batch": batch, "lr": float(lr), "steps": steps,
            "data": data.name, "seconds": round(time.time() - t0, 1), "test_accuracy": accuracy(shrink, out),
            "val_accuracy": accuracy(shrink, out, VAL), "params": params(shrink, out)}


def same(d, name, mode, a):
    """d is a run of this student and mode with these loss settings (label-only has none)"""
    if d["student"] != name or d["mode"] != mode:
        return False
    if mode == "label-only":
        return True
    return (d["alpha_kd"] == float(a.alpha_kd) and d["temperature"] == float(a.temperature) and
            (mode != "KD + att" or d.get("alpha_att") == float(a.alpha_att)))


def mean_sd(xs):
    if not xs:
        return "?"
    return f"{statistics.mean(xs):.4f} ± {statistics.stdev(xs) if len(xs) > 1 else 0.0:.4f} (n={len(xs)})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shrink", default=str(REPO / "build" / "shrink"))
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--pool-seeds", default="1", help="seeds of the (slower) KD + pool runs")
    ap.add_argument("--only", default="mlp,gru,bert2")
    ap.add_argument("--alpha-kd", default="0.5")
    ap.add_argument("--temperature", default="2")
    ap.add_argument("--alpha-att", default="0", help="> 0: also a KD + att row for the transformer student")
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--teacher", default=str(TEACHER), help="teacher model (default: the zoo's bert-fortunes)")
    a = ap.parse_args()
    for f in ("fortunes-train.jsonl", "fortunes-pool.jsonl"):
        if not (DATA / f).exists():
            sys.exit(f"missing {DATA / f}: run .venv/bin/python bench/export_fortunes_train.py --pool")
    pool = DATA / "fortunes-train-pool.jsonl"
    pool.write_text((DATA / "fortunes-train.jsonl").read_text() + (DATA / "fortunes-pool.jsonl").read_text())
    out_dir = OUT if Path(a.teacher).resolve() == TEACHER else OUT / Path(a.teacher).name
    out_dir.mkdir(parents=True, exist_ok=True)
    store = out_dir / "students.json"
    done = [] if a.fresh or not store.exists() else json.loads(store.read_text())
    modes = ("label-only", "KD", "KD + pool", "KD + att")
    for name in a.only.split(","):
        for mode in modes:
            if mode == "KD + att" and (float(a.alpha_att) <= 0 or not STUDENTS[name][0].startswith("layers")):
                continue
            for seed in (a.pool_seeds if mode == "KD + pool" else a.seeds).split(","):
                if any(same(d, name, mode, a) and d["seed"] == int(seed) for d in done):
                    continue
                sys.stderr.write(f"{name} {mode} seed {seed} ...\n")
                load = os.getloadavg()[0]
                done.append({**run(a.shrink, a, out_dir, name, mode, int(seed)), "load_at_start": load})
                store.write_text(json.dumps(done, indent=1) + "\n")
    for d in done:   # runs stored before val accuracy was kept: measure it from their model, when still there
        m = model_path(out_dir, d["student"], d["mode"], d["seed"])
        if "val_accuracy" not in d and m.exists():
            d["val_accuracy"] = accuracy(a.shrink, m, VAL)
    store.write_text(json.dumps(done, indent=1) + "\n")
    teacher = accuracy(a.shrink, a.teacher)
    print(f"teacher {a.teacher}: test accuracy ({TEST.name}, 273 examples, shrink eval) {teacher:.4f}, "
          f"val ({VAL.name}, 182) {accuracy(a.shrink, a.teacher, VAL):.4f}")
    print(f"KD: alpha_kd {a.alpha_kd}, alpha_ce {1 - float(a.alpha_kd):g}, T {a.temperature}"
          f"{f', alpha_att {a.alpha_att}' if float(a.alpha_att) > 0 else ''}\n")
    print("| student | lr | params | training | data | epochs | steps | test accuracy (mean ± sd) | per seed | val (mean ± sd) |")
    print("| --- | ---: | ---: | --- | --- | ---: | ---: | --- | --- | --- |")
    for name in a.only.split(","):
        for mode in modes:
            rows = [d for d in done if same(d, name, mode, a)]
            if not rows:
                continue
            acc = [d["test_accuracy"] for d in rows]
            val = [d["val_accuracy"] for d in rows if "val_accuracy" in d]
            sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
            per = ", ".join(f"s{d['seed']} {d['test_accuracy']:.4f}" for d in rows)
            print(f"| {rows[0]['spec']} | {rows[0]['lr']:g} | {rows[0]['params'] or '?'} | {mode} | {rows[0]['data']} | {rows[0]['epochs']} "
                  f"| {rows[0]['steps']} | {statistics.mean(acc):.4f} ± {sd:.4f} (n={len(acc)}) | {per} | {mean_sd(val)} |")
    print("\ndistilled - label-only, mean over seeds; se = standard error of that difference across seeds "
          "(Welch), t = difference / se")
    for name in a.only.split(","):
        base = [d["test_accuracy"] for d in done if same(d, name, "label-only", a)]
        for mode in modes[1:]:
            acc = [d["test_accuracy"] for d in done if same(d, name, mode, a)]
            if len(base) < 2 or len(acc) < 2:
                continue
            diff = statistics.mean(acc) - statistics.mean(base)
            se = (statistics.variance(acc) / len(acc) + statistics.variance(base) / len(base)) ** 0.5
            print(f"  {name:14s} {mode:10s} {diff:+.4f} (se {se:.4f}, t {diff / se if se else float('inf'):.1f})")


if __name__ == "__main__":
    main()
