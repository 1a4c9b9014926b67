#!/usr/bin/env python3
"""distill_vs_torch.py — acceptance figures for `shrink distill` on the zoo's bert-fortunes.

  1. accuracy: the 4-layer teacher → a 2-layer student (teacher layers 0, 2),
     distilled (KD + CE, T = 2) and trained on hard labels only, same epochs,
     batch, lr and seed; test accuracy of all three on
     samples/data/fortunes-test.jsonl by `shrink eval` (one example at a time,
     the zoo's protocol).  Training data: the zoo's training split, exported
     by bench/export_fortunes_train.py.
  2. speed: training steps/s of shrink (from its own timing of the training
     loop, teacher logits precomputed) against torch 1.13 doing the same
     steps (same student, batch, per-batch padding, KD + CE, AdamW, clipping,
     no dropout, teacher logits precomputed, 2 threads), one epoch each; printed as a ratio.
     --speed-only alternates the two (--rounds, default 3) and prints each
     round's ratio, the median and the load average around each run, so a
     busy machine shows up next to the figure it disturbed.

Usage: .venv/bin/python bench/distill_vs_torch.py [--epochs 5] [--batch 16] [--lr 1e-4] [--seed 42]
           [--student layers=2,init=fresh --alpha-att 0.1] [--speed-only [--rounds 3]]
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
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

TEACHER = REPO / "samples" / "zoo" / "bert-fortunes"
TEST = REPO / "samples" / "data" / "fortunes-test.jsonl"
VAL = REPO / "samples" / "data" / "fortunes-val.jsonl"
OUT = REPO / "build" / "distill"


def sh(args, **kw):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kw)
    if r.returncode:
        sys.exit(f"{' '.join(map(str, args))}: exit {r.returncode}\n{r.stderr}")
    return r


def accuracy(shrink, model):
    r = sh([shrink, "eval", model, "--data", TEST, "--json", "--threads", "2"])
    return json.loads(r.stdout)["value"]


def distill(shrink, train, a, name, akd, ace):
    out = OUT / f"{name}.skm"
    att = ["--alpha-att", a.alpha_att] if float(akd) > 0 and float(a.alpha_att) > 0 else []
    r = sh([shrink, "distill", "--teacher", TEACHER, "--student", a.student, "--data", train, "--val", VAL,
            "--epochs", a.epochs, "--batch", a.batch, "--lr", a.lr, "--seed", a.seed, "--alpha-kd", akd,
            "--alpha-ce", ace, "--threads", "2", "--quiet", "--force", "-o", out] + att)
    sys.stderr.write(r.stderr)
    m = re.search(r"\(([\d.]+) steps/s", r.stdout)
    return out, float(m.group(1))


def torch_steps_per_s(train, a):
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast
    torch.set_num_threads(2)
    torch.manual_seed(int(a.seed))
    tok = BertTokenizerFast.from_pretrained(str(TEACHER))
    teacher = BertForSequenceClassification.from_pretrained(str(TEACHER)).eval()
    cfg = BertConfig.from_pretrained(str(TEACHER))
    cfg.num_hidden_layers = 2
    student = BertForSequenceClassification(cfg)
    sd = teacher.state_dict()
    student.load_state_dict({k: sd[re.sub(r"\.layer\.(\d+)\.", lambda m: f".layer.{2 * int(m.group(1))}.", k)]
                             for k in student.state_dict()})
    student.eval()    # no dropout, like shrink (its graphs have none): the same arithmetic
    rows = [json.loads(l) for l in open(train)]
    enc = [tok(r["text"], truncation=True, max_length=128)["input_ids"] for r in rows]
    labels = torch.tensor([r["label"] for r in rows])
    B = int(a.batch)
    with torch.no_grad():   # teacher logits once, like shrink
        tl = []
        for i in range(0, len(enc), B):
            ids, mask = pad(enc[i:i + B])
            tl.append(teacher(input_ids=ids, attention_mask=mask).logits)
        tl = torch.cat(tl)
    decay = [p for p in student.parameters() if p.dim() >= 2]
    nodecay = [p for p in student.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=float(a.lr))
    perm = torch.randperm(len(enc)).tolist()
    T = 2.0
    steps = 0
    t0 = time.perf_counter()
    for i in range(0, len(perm), B):
        idx = perm[i:i + B]
        ids, mask = pad([enc[j] for j in idx])
        logits = student(input_ids=ids, attention_mask=mask).logits
        kd = F.kl_div(F.log_softmax(logits / T, -1), F.softmax(tl[idx] / T, -1), reduction="batchmean") * T * T
        loss = 0.5 * kd + 0.5 * F.cross_entropy(logits, labels[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        steps += 1
    return steps / (time.perf_counter() - t0)


def pad(seqs):
    S = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), S, dtype=torch.long)
    mask = torch.zeros(len(seqs), S, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    return ids, mask


def main():
    global TEACHER
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", default="5")
    ap.add_argument("--batch", default="16")
    ap.add_argument("--lr", default="1e-4")
    ap.add_argument("--seed", default="42")
    ap.add_argument("--shrink", default=str(REPO / "build" / "shrink"))
    ap.add_argument("--teacher", default=str(TEACHER), help="another teacher folder (same vocab.txt)")
    ap.add_argument("--student", default="layers=2",
                    help="accuracy part: the student spec (e.g. layers=2,init=fresh with --epochs 10 --lr 5e-4)")
    ap.add_argument("--alpha-att", default="0", help="accuracy part: the distilled student's attention loss")
    ap.add_argument("--speed-only", action="store_true", help="only the steps/s comparison (1 epoch)")
    ap.add_argument("--rounds", type=int, default=3, help="--speed-only: shrink/torch alternations")
    a = ap.parse_args()
    TEACHER = Path(a.teacher)
    if not (TEACHER / "model.safetensors").exists():
        sys.exit(f"{TEACHER}: no model.safetensors (train the zoo first: samples/zoo/build.py train)")
    train = REPO / "build" / "data" / "fortunes-train.jsonl"
    if not train.exists():
        sh([sys.executable, REPO / "bench" / "export_fortunes_train.py", "--out", train])
    OUT.mkdir(parents=True, exist_ok=True)
    if a.speed_only:
        a.epochs = "1"
        ratios = []
        for r in range(a.rounds):
            l0 = os.getloadavg()[0]
            _, kd_sps = distill(a.shrink, train, a, "speed", "0.5", "0.5")
            l1 = os.getloadavg()[0]
            tsps = torch_steps_per_s(train, a)
            l2 = os.getloadavg()[0]
            ratios.append(kd_sps / tsps)
            print(f"round {r + 1}: shrink {kd_sps:.2f} steps/s (load {l0:.2f} -> {l1:.2f}), torch {tsps:.2f} steps/s "
                  f"(load -> {l2:.2f}), ratio {ratios[-1]:.2f}x", flush=True)
        ratios.sort()
        print(f"training speed, 2 threads, batch {a.batch}, torch {torch.__version__}: shrink/torch median "
              f"{ratios[len(ratios) // 2]:.2f}x over {a.rounds} rounds (min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x)")
        return
    kd_model, kd_sps = distill(a.shrink, train, a, "bert-fortunes-2l-kd", "0.5", "0.5")
    ce_model, _ = distill(a.shrink, train, a, "bert-fortunes-2l-ce", "0", "1")
    t_acc, kd_acc, ce_acc = accuracy(a.shrink, TEACHER), accuracy(a.shrink, kd_model), accuracy(a.shrink, ce_model)
    print(f"\nbert-fortunes (4 layers) -> 2-layer student; {a.epochs} epochs, batch {a.batch}, lr {a.lr}, "
          f"seed {a.seed}; test accuracy on {TEST.name} ({sum(1 for _ in open(TEST))} examples)\n")
    print("| model | test accuracy | of teacher |")
    print("| --- | --- | --- |")
    print(f"| teacher (4 layers) | {t_acc:.4f} | 100.0% |")
    att = f" + {a.alpha_att} att" if float(a.alpha_att) > 0 else ""
    print(f"| student {a.student}, distilled (0.5 KD T=2 + 0.5 CE{att}) | {kd_acc:.4f} | {100 * kd_acc / t_acc:.1f}% |")
    print(f"| student {a.student}, hard labels only (CE) | {ce_acc:.4f} | {100 * ce_acc / t_acc:.1f}% |")
    if a.student != "layers=2" or float(a.alpha_att) > 0:   # torch's side is layers=2 with KD + CE only
        print("\ntraining speed: not compared for this student or loss (--speed-only compares layers=2, KD + CE)")
        return
    tsps = torch_steps_per_s(train, a)
    print(f"\ntraining speed, 2 threads, batch {a.batch}: shrink {kd_sps:.2f} steps/s, torch {torch.__version__} "
          f"{tsps:.2f} steps/s, ratio {kd_sps / tsps:.2f}x")


if __name__ == "__main__":
    main()
