#!/usr/bin/env python3
"""Write the bert-fortunes training split (samples/zoo/build.py make_splits,
the same seed-determined split the zoo model was trained on) as JSONL
{"text", "label"} to build/data/fortunes-train.jsonl, for `shrink distill`.

Usage: .venv/bin/python bench/export_fortunes_train.py [--out FILE]
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "build" / "data" / "fortunes-train.jsonl"))
    a = ap.parse_args()
    b = load_build()
    splits = b.make_splits()
    # sanity: the committed test split must be the one make_splits gives
    test = [json.loads(l) for l in open(REPO / "samples" / "data" / "fortunes-test.jsonl")]
    if [(r["text"], r["label"]) for r in test] != [(t, y) for t, y in splits["clf_test"]]:
        sys.exit("export: make_splits() no longer reproduces samples/data/fortunes-test.jsonl")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        for t, y in splits["clf_train"]:
            f.write(json.dumps({"text": t, "label": y}) + "\n")
    print(f"{out}: {len(splits['clf_train'])} training examples")


if __name__ == "__main__":
    main()
