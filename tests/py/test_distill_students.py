"""test_distill_students.py — the small students of `shrink distill` (mlp, rnn=gru|lstm, cnn) as a user
makes and ships them.

A tiny random BERT classifier teacher (WordPiece vocabulary) and 24 texts,
a third of them without a label (KD-only transfer data).  For each student
spec: `shrink distill` trains it for two epochs, `shrink convert` writes the
.skm as ONNX, and onnxruntime runs that ONNX on a padded, masked batch;
its logits must equal `shrink run`'s on the .skm (max abs diff < 1e-4) and
each row must equal that example run alone (the mask makes padding
invisible).  A bad student spec exits 2 with one line (the other errors are
in tests/unit/test_train.c).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort
import torch
from transformers import BertTokenizer

from test_distill_cli import SHRINK, make_teacher   # the same tiny random BERT classifier teacher

fails = 0


def check(cond, what):
    global fails
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        fails += 1


def sh(args):
    return subprocess.run([SHRINK] + args, capture_output=True, text=True)


def shrink_logits(tmp, model, ids, mask):
    np.save(os.path.join(tmp, "ids.npy"), ids)
    np.save(os.path.join(tmp, "mask.npy"), mask)
    out = model + ".out"
    r = sh(["run", model, "--input", "input_ids=" + os.path.join(tmp, "ids.npy"), "--input",
            "attention_mask=" + os.path.join(tmp, "mask.npy"), "--out", out, "--threads", "1"])
    if r.returncode:
        print(r.stderr)
        return None
    return np.load(os.path.join(out, "logits.npy"))


def main():
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp(prefix="test_distill_students_")
    tdir = os.path.join(tmp, "teacher")
    words = [f"w{i}" for i in range(60)]
    make_teacher(tdir, words, layers=2)
    tok = BertTokenizer(os.path.join(tdir, "vocab.txt"), do_lower_case=True)

    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(words, size=int(n))) for n in rng.integers(1, 14, size=24)]
    data = os.path.join(tmp, "train.jsonl")
    with open(data, "w") as f:
        for i, t in enumerate(texts):
            row = {"text": t} if i % 3 == 0 else {"text": t, "label": int(i % 3)}
            f.write(json.dumps(row) + "\n")
    enc = tok(texts[:6], padding=True, truncation=True, max_length=40, return_tensors="np")
    ids, mask = enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64)

    for spec in ["mlp,emb=16,hidden=24", "rnn=gru,emb=16,hidden=12", "rnn=lstm,emb=12,hidden=8,dirs=2,layers=2",
                 "cnn,emb=16,hidden=12,kernel=3,layers=2"]:
        name = spec.split(",")[0].replace("=", "-")
        skm, onnx = os.path.join(tmp, name + ".skm"), os.path.join(tmp, name + ".onnx")
        r = sh(["distill", "--teacher", tdir, "--student", spec, "--data", data, "--epochs", "2", "--batch", "8",
                "--lr", "1e-2", "--threads", "1", "--quiet", "-o", skm])
        check(r.returncode == 0, f"{spec}: distilled ({r.stdout.strip() or r.stderr.strip()})")
        r = sh(["convert", skm, onnx])
        check(r.returncode == 0, f"{spec}: exported to ONNX {r.stderr.strip()}")
        if not os.path.exists(onnx):
            continue
        sess = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
        got = sess.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        mine = shrink_logits(tmp, skm, ids, mask)
        diff = np.abs(got - mine).max() if mine is not None else np.inf
        alone = max(np.abs(sess.run(None, {"input_ids": ids[i:i + 1, :mask[i].sum()],
                                           "attention_mask": mask[i:i + 1, :mask[i].sum()]})[0] - got[i]).max()
                    for i in range(len(ids)))
        check(diff < 1e-4, f"{spec}: onnxruntime vs shrink on a padded batch: max |diff| {diff:.2e}")
        check(alone < 1e-4, f"{spec}: onnxruntime, each row alone vs in the padded batch: max |diff| {alone:.2e}")

    r = sh(["distill", "--teacher", tdir, "--student", "rnn=lstm,kernel=3", "--data", data, "-o",
            os.path.join(tmp, "x.skm")])
    check(r.returncode == 2 and "kernel" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
          f"bad student spec: exit {r.returncode}: {r.stderr.strip()}")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
