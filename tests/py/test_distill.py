"""test_distill.py — `shrink distill` against PyTorch on one training step.

A tiny random BertForSequenceClassification teacher (4 layers, WordPiece
vocabulary) and six labelled texts of different lengths, so the one batch is
padded and masked.  shrink distils a 2-layer student (teacher layers 0 and 2)
for one step (batch = all six examples): loss = 0.5·KL·T² + 0.5·CE + 0.3·(1 −
cos) of the last hidden states, AdamW (lr 1e-3, decay 0.01 on matrices only,
constant schedule, no clipping).  torch does the same step with
transformers' model; compared: the step's loss (shrink prints it) and the
updated student's logits on the batch (shrink run on the saved .skm), which
move only if every gradient got its sign and scale right.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
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


def main():
    torch.manual_seed(0)
    tmp = tempfile.mkdtemp(prefix="test_distill_")
    tdir = os.path.join(tmp, "teacher")
    os.makedirs(tdir)
    words = [f"w{i}" for i in range(60)]
    with open(os.path.join(tdir, "vocab.txt"), "w") as f:
        f.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words) + "\n")
    cfg = BertConfig(vocab_size=65, hidden_size=32, num_hidden_layers=4, num_attention_heads=4,
                     intermediate_size=48, max_position_embeddings=40, num_labels=3, layer_norm_eps=1e-12,
                     hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    teacher = BertForSequenceClassification(cfg).eval()
    with torch.no_grad():
        for p in teacher.parameters():
            if p.dim() >= 2:
                p.mul_(8.0)   # make the teacher's logits and hidden states far from uniform
    teacher.save_pretrained(tdir, safe_serialization=True)
    tok = BertTokenizer(os.path.join(tdir, "vocab.txt"), do_lower_case=True)
    tok.save_pretrained(tdir)

    rng = np.random.default_rng(1)
    texts = [" ".join(rng.choice(words, size=n)) for n in (3, 9, 5, 12, 7, 2)]
    labels = [0, 2, 1, 1, 0, 2]
    data = os.path.join(tmp, "train.jsonl")
    with open(data, "w") as f:
        for t, y in zip(texts, labels):
            f.write(json.dumps({"text": t, "label": y}) + "\n")

    out = os.path.join(tmp, "student.skm")
    r = subprocess.run([SHRINK, "distill", "--teacher", tdir, "--student", "layers=2", "--data", data,
                        "--epochs", "1", "--batch", "6", "--lr", "1e-3", "--wd", "0.01", "--clip", "0",
                        "--warmup", "0", "--schedule", "constant", "--temperature", "2", "--alpha-kd", "0.5",
                        "--alpha-ce", "0.5", "--alpha-cos", "0.3", "--threads", "1", "--quiet", "-o", out],
                       capture_output=True, text=True)
    print(r.stdout.strip())
    check(r.returncode == 0, "shrink distill ran (" + r.stderr.strip().splitlines()[-1] + ")" if r.stderr.strip() else "")
    if r.returncode:
        sys.exit(1)
    shrink_loss = float(r.stdout.split("final loss ")[1].split(",")[0].split()[0])

    # torch: the same student and step
    scfg = BertConfig(**{**cfg.to_dict(), "num_hidden_layers": 2})
    student = BertForSequenceClassification(scfg).eval()
    sd = teacher.state_dict()
    new = {}
    for k in student.state_dict():
        src = k
        if ".layer." in k:
            i = int(k.split(".layer.")[1].split(".")[0])
            src = k.replace(f".layer.{i}.", f".layer.{2 * i}.")
        new[k] = sd[src].clone()
    student.load_state_dict(new)
    enc = tok(texts, padding=True, truncation=True, max_length=40, return_tensors="pt")
    mask = enc["attention_mask"]
    with torch.no_grad():
        tout = teacher(**enc, output_hidden_states=True)
    sout = student(**enc, output_hidden_states=True)
    T = 2.0
    kd = F.kl_div(F.log_softmax(sout.logits / T, -1), F.softmax(tout.logits / T, -1), reduction="batchmean") * T * T
    ce = F.cross_entropy(sout.logits, torch.tensor(labels))
    hs, ht = sout.hidden_states[-1], tout.hidden_states[-1]
    keep = mask.bool()
    cos = (1 - F.cosine_similarity(hs[keep], ht[keep], dim=-1)).mean()
    loss = 0.5 * kd + 0.5 * ce + 0.3 * cos
    decay = [p for p in student.parameters() if p.dim() >= 2]
    nodecay = [p for p in student.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=1e-3, eps=1e-8)
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(f"loss: shrink {shrink_loss:.6f}, torch {loss.item():.6f}")
    check(abs(shrink_loss - loss.item()) < 1e-4 * max(1.0, abs(loss.item())), "step loss matches torch")

    with torch.no_grad():
        after = student(**enc).logits.numpy()
        before_student = BertForSequenceClassification(scfg).eval()
        before_student.load_state_dict(new)
        before = before_student(**enc).logits.numpy()
    np.save(os.path.join(tmp, "ids.npy"), enc["input_ids"].numpy().astype(np.int64))
    np.save(os.path.join(tmp, "mask.npy"), mask.numpy().astype(np.int64))
    r = subprocess.run([SHRINK, "run", out, "--input", "input_ids=" + os.path.join(tmp, "ids.npy"),
                        "--input", "attention_mask=" + os.path.join(tmp, "mask.npy"), "--out",
                        os.path.join(tmp, "o"), "--threads", "1"], capture_output=True, text=True)
    check(r.returncode == 0, "shrink run on the student " + r.stderr.strip())
    got = np.load(os.path.join(tmp, "o", "logits.npy"))
    moved = np.abs(after - before).max()
    diff = np.abs(got - after).max()
    print(f"updated student logits: max |shrink - torch| = {diff:.2e} (the step moved them by {moved:.2e})")
    check(moved > 1e-3, "the step changed the logits")
    check(diff < 0.02 * moved, "updated logits match torch to 2% of the step's change")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
