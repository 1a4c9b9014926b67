#!/usr/bin/env python3
"""Write the bert-fortunes training split (samples/zoo/build.py make_splits,
the same seed-determined split the zoo model was trained on) as JSONL
{"text", "label"} to build/data/fortunes-train.jsonl, for `shrink distill`.

With --pool it also writes the rest of the zoo's training text, which no
validation or test split touches:
  build/data/fortunes-pool.jsonl   {"text"} per entry of the training pool that
                                   is not a labelled training example (KD-only
                                   transfer data for a classifier student)
  build/data/fortunes-lm-train.txt the whole pool as raw text, entries separated
                                   by a blank line (GPT-2's training text)

Usage: .venv/bin/python bench/export_fortunes_train.py [--out FILE] [--pool]
"""
import argparse
import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def load_build():
    spec = importlib.util.spec_from_file_location("zoo_build", REPO / "samples" / "zoo" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def checked_splits(b):
    """b.make_splits(), after checking that it still gives the committed test split."""
    splits = b.make_splits()
    test = [json.loads(l) for l in open(REPO / "samples" / "data" / "fortunes-test.jsonl")]
    if [(r["text"], r["label"]) for r in test] != [(t, y) for t, y in splits["clf_test"]]:
        sys.exit("make_splits() no longer reproduces samples/data/fortunes-test.jsonl")
    return splits


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "build" / "data" / "fortunes-train.jsonl"))
    ap.add_argument("--pool", action="store_true", help="also write fortunes-pool.jsonl and fortunes-lm-train.txt")
    a = ap.parse_args()
    b = load_build()
    splits = checked_splits(b)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        for t, y in splits["clf_train"]:
            f.write(json.dumps({"text": t, "label": y}) + "\n")
    print(f"{out}: {len(splits['clf_train'])} training examples")
    if a.pool:
        labelled = {t for t, _ in splits["clf_train"]}
        pool = [e for e in splits["train_pool"] if e["flat"] not in labelled]
        held = {t for t, _ in splits["clf_val"] + splits["clf_test"]} | {e["flat"] for e in splits["lm_test"]}
        if any(e["flat"] in held for e in splits["train_pool"]):
            sys.exit("export: the training pool overlaps a held-out split")
        with open(out.parent / "fortunes-pool.jsonl", "w") as f:
            for e in pool:
                f.write(json.dumps({"text": e["flat"]}) + "\n")
        (out.parent / "fortunes-lm-train.txt").write_text("\n\n".join(e["raw"] for e in splits["train_pool"]) + "\n",
                                                          encoding="utf-8")
        print(f"{out.parent / 'fortunes-pool.jsonl'}: {len(pool)} unlabelled entries; "
              f"{out.parent / 'fortunes-lm-train.txt'}: {len(splits['train_pool'])} entries")


if __name__ == "__main__":
    main()
