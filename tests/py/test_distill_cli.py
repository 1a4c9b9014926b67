"""test_distill_cli.py — `shrink distill` as a user runs it: resume, Ctrl-C, errors.

On a tiny random BERT teacher (as test_distill.py builds it):
  - a run stopped after 5 steps (--stop-after, exit 130 + checkpoint) and
    resumed with --resume writes the same .skm bytes as an uninterrupted run
    (one thread);
  - SIGINT in the middle of a run writes a checkpoint and exits 130; resuming
    it finishes the run;
  - errors before training, exit 1 with one line: labels outside the classes,
    an empty data file, a student MODEL with another vocabulary, more layers
    than the teacher; bad usage exits 2.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("SHRINK_BUILD", os.path.join(HERE, "..", "..", "build"))
SHRINK = os.environ.get("SHRINK", os.path.join(BUILD, "shrink"))
fails = 0


def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails += 1


def make_teacher(d, vocab_words, layers=4):
    os.makedirs(d)
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + vocab_words) + "\n")
    cfg = BertConfig(vocab_size=5 + len(vocab_words), hidden_size=32, num_hidden_layers=layers, num_attention_heads=4,
                     intermediate_size=48, max_position_embeddings=64, num_labels=3)
    BertForSequenceClassification(cfg).save_pretrained(d, safe_serialization=True)
    BertTokenizer(os.path.join(d, "vocab.txt")).save_pretrained(d)


def run(args, **kw):
    return subprocess.run([SHRINK, "distill"] + args, capture_output=True, text=True, **kw)


def main():
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp(prefix="test_distill_cli_")
    words = [f"w{i}" for i in range(60)]
    T = os.path.join(tmp, "teacher")
    make_teacher(T, words)
    rng = np.random.default_rng(2)
    data = os.path.join(tmp, "train.jsonl")
    with open(data, "w") as f:
        for i in range(40):
            f.write(json.dumps({"text": " ".join(rng.choice(words, size=int(rng.integers(2, 20)))),
                                "label": int(i % 3)}) + "\n")
    common = ["--teacher", T, "--student", "layers=2", "--data", data, "--epochs", "3", "--batch", "8",
              "--lr", "1e-3", "--threads", "1", "--quiet"]

    full = os.path.join(tmp, "full.skm")
    r = run(common + ["-o", full])
    check(r.returncode == 0, "uninterrupted run: " + r.stdout.strip())
    part = os.path.join(tmp, "part.skm")
    ck = os.path.join(tmp, "part.ckpt")
    r = run(common + ["--stop-after", "5", "--checkpoint", ck, "-o", part])
    check(r.returncode == 130 and os.path.exists(ck) and not os.path.exists(part),
          f"--stop-after 5: exit {r.returncode}, checkpoint written, no model")
    r = run(common + ["--resume", ck, "--checkpoint", ck, "-o", part])
    check(r.returncode == 0, "resumed run: " + r.stdout.strip())
    same = open(full, "rb").read() == open(part, "rb").read()
    check(same, "resumed .skm is byte-identical to the uninterrupted run's")

    # SIGINT mid-run: a long run, interrupted after the first progress
    sig = os.path.join(tmp, "sig.skm")
    ck2 = sig + ".ckpt"
    longer = [a if a != "3" else "400" for a in common]   # --epochs 400
    p = subprocess.Popen([SHRINK, "distill"] + longer + ["-o", sig],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    check(p.returncode == 130 and os.path.exists(ck2) and "--resume" in err,
          f"SIGINT: exit {p.returncode}, checkpoint {os.path.exists(ck2)}: {err.strip().splitlines()[-1]}")
    r = run(longer + ["--resume", ck2, "-o", sig])
    check(r.returncode == 0 and os.path.exists(sig), "resuming the interrupted run finishes it: " + r.stdout.strip())

    def fails_with(args, code, what):
        r = run(args)
        msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
        check(r.returncode == code, f"{what}: exit {r.returncode}: {msg}")

    bad = os.path.join(tmp, "bad.jsonl")
    with open(bad, "w") as f:
        f.write(json.dumps({"text": "w1 w2", "label": 0}) + "\n" + json.dumps({"text": "w3", "label": 5}) + "\n")
    fails_with(["--teacher", T, "--student", "layers=2", "--data", bad, "-o", os.path.join(tmp, "x.skm")], 1,
               "label outside the classes")
    empty = os.path.join(tmp, "empty.jsonl")
    open(empty, "w").close()
    fails_with(["--teacher", T, "--student", "layers=2", "--data", empty, "-o", os.path.join(tmp, "x.skm")], 1,
               "empty data")
    other = os.path.join(tmp, "other")
    make_teacher(other, words[:40], layers=2)
    fails_with(["--teacher", T, "--student", other, "--data", data, "-o", os.path.join(tmp, "x.skm")], 1,
               "student with another vocabulary")
    fails_with(["--teacher", T, "--student", "layers=6", "--data", data, "-o", os.path.join(tmp, "x.skm")], 1,
               "more layers than the teacher")
    pruned = os.path.join(tmp, "pruned.skm")   # a teacher with half its heads gone cannot be copied at full width
    pr = subprocess.run([SHRINK, "prune", T, "--heads", "0.5", "--calib", data, "-o", pruned], capture_output=True, text=True)
    r = run(["--teacher", pruned, "--student", "layers=2", "--data", data, "-o", os.path.join(tmp, "x.skm")])
    msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else pr.stderr.strip()
    check(pr.returncode == 0 and r.returncode == 1 and "pruned heads" in msg and "init=fresh" in msg,
          f"copying a pruned teacher: exit {r.returncode}: {msg}")
    r = run(["--teacher", pruned, "--student", "layers=2,init=fresh", "--data", data, "--epochs", "1", "--quiet",
             "-o", os.path.join(tmp, "fresh-from-pruned.skm")])
    check(r.returncode == 0, f"a fresh student of the pruned teacher trains: exit {r.returncode} {r.stderr.strip()[-200:]}")
    fails_with(["--teacher", T, "--student", "layers=2", "--data", data], 2, "missing -o")
    fails_with(["--teacher", T, "--student", "depth=2", "--data", data, "-o", os.path.join(tmp, "x.skm")], 2,
               "bad student spec")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
