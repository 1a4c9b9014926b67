#!/usr/bin/env python3
"""distill_gpt2.py — gpt2-fortunes (4 layers) → a 2-layer student (teacher layers 0 and 2 copied):
perplexity of the distilled student against the same student trained on the text alone.

Every run has the same budget: the same student init, text, epochs, batch,
lr, windows of --max-len tokens and seed.
  next-token CE only   --alpha-kd 0 --alpha-ce 1 ("label-only")
  KD + CE              --alpha-kd A --alpha-ce 1-A, temperature T (KL at every position)
  KD + CE + cos        the same + --alpha-cos C on the last hidden states (DistilBERT's triple loss)
Text: the first --bytes of build/data/fortunes-lm-train.txt (the zoo's GPT-2
training text, bench/export_fortunes_train.py --pool), cut at an entry.
Perplexity: `shrink eval` on samples/data/fortunes-test.txt (llama.cpp
windows of 128, second half scored), for the teacher, the student as built and
each trained student.

Usage: .venv/bin/python bench/distill_gpt2.py [--bytes 300000] [--epochs 1] [--seed 1]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEACHER = REPO / "samples" / "zoo" / "gpt2-fortunes"
TEST = REPO / "samples" / "data" / "fortunes-test.txt"
OUT = REPO / "build" / "distill"


def sh(args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode not in (0, 130):
        sys.exit(f"{' '.join(map(str, args))}: exit {r.returncode}\n{r.stderr}")
    return r


def ppl(shrink, model):
    return json.loads(sh([shrink, "eval", model, "--data", TEST, "--json", "--threads", "2"]).stdout)["value"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shrink", default=str(REPO / "build" / "shrink"))
    ap.add_argument("--bytes", type=int, default=300000)
    ap.add_argument("--epochs", default="1")
    ap.add_argument("--batch", default="16")
    ap.add_argument("--lr", default="3e-4")
    ap.add_argument("--max-len", default="64")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--alpha-kd", default="0.5")
    ap.add_argument("--temperature", default="2")
    ap.add_argument("--alpha-cos", default="0.1")
    a = ap.parse_args()
    src = REPO / "build" / "data" / "fortunes-lm-train.txt"
    if not src.exists():
        sys.exit(f"missing {src}: run .venv/bin/python bench/export_fortunes_train.py --pool")
    text = src.read_text(encoding="utf-8")
    cut = text.rfind("\n\n", 0, a.bytes)
    OUT.mkdir(parents=True, exist_ok=True)
    data = OUT / "gpt2-train-subset.txt"
    data.write_text(text[:cut if cut > 0 else a.bytes] + "\n", encoding="utf-8")
    load = os.getloadavg()[0]
    rows = [("teacher (4 layers)", None, ppl(a.shrink, TEACHER), 0, 0.0)]
    # the student as built (layers 0 and 2 copied): `shrink distill` always takes a step, so one
    # step at lr 1e-20 without weight decay on one window, which changes no weight measurably
    one = OUT / "gpt2-one-window.txt"
    one.write_text(text[:400], encoding="utf-8")
    init = OUT / "gpt2-student-init.skm"
    sh([a.shrink, "distill", "--teacher", TEACHER, "--student", "layers=2", "--data", one, "--epochs", "1",
        "--batch", "1", "--lr", "1e-20", "--wd", "0", "--max-len", a.max_len, "--threads", "2", "--quiet", "--force",
        "-o", init])
    rows.append(("none (layers 0, 2 of the teacher)", init, ppl(a.shrink, init), 0, 0.0))
    runs = [("next-token CE only", ["--alpha-kd", "0", "--alpha-ce", "1"]),
            (f"KD (α {a.alpha_kd}, T {a.temperature}) + CE",
             ["--alpha-kd", a.alpha_kd, "--alpha-ce", str(1 - float(a.alpha_kd)), "--temperature", a.temperature]),
            (f"KD + CE + cos (α_cos {a.alpha_cos})",
             ["--alpha-kd", a.alpha_kd, "--alpha-ce", str(1 - float(a.alpha_kd)), "--temperature", a.temperature,
              "--alpha-cos", a.alpha_cos])]
    for name, extra in runs:
        out = OUT / f"gpt2-student-{re.sub(r'[^a-z]+', '-', name.lower()).strip('-')}.skm"
        t0 = time.time()
        r = sh([a.shrink, "distill", "--teacher", TEACHER, "--student", "layers=2", "--data", data, "--epochs",
                a.epochs, "--batch", a.batch, "--lr", a.lr, "--max-len", a.max_len, "--seed", a.seed, "--threads", "2",
                "--quiet", "--force", "-o", out] + extra)
        steps = int(re.search(r": (\d+) steps", r.stdout).group(1))
        rows.append((name, out, ppl(a.shrink, out), steps, time.time() - t0))
    print(f"gpt2-fortunes → 2-layer student (teacher layers 0, 2); text: first {cut} bytes of {src.name}, "
          f"windows of {a.max_len}, {a.epochs} epoch(s), batch {a.batch}, lr {a.lr}, seed {a.seed}; "
          f"perplexity on {TEST.name} (shrink eval, n_ctx 128); load average at start {load:.1f}\n")
    print("| model | training | steps | perplexity |")
    print("| --- | --- | ---: | ---: |")
    for name, out, p, steps, sec in rows:
        print(f"| {'teacher' if out is None else '2-layer student'} | {name} | {steps} | {p:.2f} |")


if __name__ == "__main__":
    main()
