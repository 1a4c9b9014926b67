#!/usr/bin/env python3
"""Hugging Face transformer exports for the fuse pass (passes/fuse.c).

    make_fuse_cases.py OUTDIR [--opsets 11,14,17] [--only NAME,...]

Builds small random-weight models with transformers (the version in the
venv, 4.37.2) and exports each with torch.onnx.export the way an HF user
does (dynamic batch and sequence, constant folding on), at every opset
asked for.  Each model gets its own folder OUTDIR/<name>/ holding

    model-opset<N>.onnx    the export at opset N
    config.json, model.safetensors
                           save_pretrained's output, so that shrink can build
                           the same model from its template (the fused graph
                           the fuse pass aims at)
    vocab.txt | vocab.json + merges.txt
                           a tokenizer (tests/data/tok), so `shrink run
                           --text` and `shrink generate` work

and OUTDIR/cases.json describes every case with what torch knows: layers,
heads, the activation, the count of attention blocks / LayerNorms / GELUs
the fused graph must have, so test_fuse.py never trusts shrink for the
expected numbers.

Models (small enough to export in seconds; the real sizes come from
samples/zoo/build.py `export-onnx` and `shapes`):
    bert-cls   BertForSequenceClassification, hidden 64, 2 layers, 4 heads, 3 labels
    bert-base  BertModel (last_hidden_state, pooler_output), same sizes
    gpt2-lm    GPT2LMHeadModel (gelu_new), hidden 64, 2 layers, 4 heads
"""
import argparse
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn as nn

torch.set_num_threads(2)
ROOT = Path(__file__).resolve().parents[2]
TOK = ROOT / "tests" / "data" / "tok"
SEED = 1234


class BertWrap(nn.Module):
    def __init__(self, model, n_out):
        super().__init__()
        self.model, self.n_out = model, n_out

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                         token_type_ids=token_type_ids, return_dict=False)
        return out[0] if self.n_out == 1 else tuple(out[:self.n_out])


class GPT2Wrap(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          use_cache=False, return_dict=False)[0]


def bert_feeds(vocab, batch, seq, gen):
    ids = torch.randint(5, vocab, (batch, seq), generator=gen)
    mask = torch.ones(batch, seq, dtype=torch.long)
    if batch > 1:
        mask[1, seq - seq // 3:] = 0
    return {"input_ids": ids, "attention_mask": mask,
            "token_type_ids": torch.zeros(batch, seq, dtype=torch.long)}


def export(module, path, names, outputs, feeds, opset):
    """outputs: {name: rank}; rank-2 outputs ([batch, n]) have a dynamic batch only."""
    dyn = {n: {0: "batch", 1: "sequence"} for n in names}
    for o, rank in outputs.items():
        dyn[o] = {0: "batch"} if rank == 2 else {0: "batch", 1: "sequence"}
    torch.onnx.export(module, tuple(feeds[n] for n in names), str(path), input_names=names,
                      output_names=list(outputs), dynamic_axes=dyn, opset_version=opset,
                      do_constant_folding=True)


def make_bert(out, name, opsets, cls):
    from transformers import BertConfig, BertForSequenceClassification, BertModel
    torch.manual_seed(SEED)
    vocab = sum(1 for _ in open(TOK / "bert" / "vocab.txt", encoding="utf-8"))
    cfg = BertConfig(vocab_size=vocab, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=64, type_vocab_size=2, num_labels=3)
    model = (BertForSequenceClassification(cfg) if cls else BertModel(cfg)).eval()
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(d), safe_serialization=True)
    for f in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy2(TOK / "bert" / f, d / f)
    outputs = {"logits": 2} if cls else {"last_hidden_state": 3, "pooler_output": 2}
    wrap = BertWrap(model, len(outputs))
    feeds = bert_feeds(vocab, 2, 16, torch.Generator().manual_seed(SEED))
    for op in opsets:
        export(wrap, d / f"model-opset{op}.onnx", ["input_ids", "attention_mask", "token_type_ids"], outputs, feeds, op)
    return {"family": "bert", "layers": cfg.num_hidden_layers, "heads": cfg.num_attention_heads,
            "hidden": cfg.hidden_size, "act": cfg.hidden_act, "causal": False,
            # per layer: self-attention, two LayerNorms, one GELU; plus the embeddings' LayerNorm
            "attention": cfg.num_hidden_layers, "layernorm": 2 * cfg.num_hidden_layers + 1,
            "gelu": cfg.num_hidden_layers,
            "outputs": list(outputs),
            "opsets": opsets}


def make_gpt2(out, name, opsets):
    from transformers import GPT2Config, GPT2LMHeadModel
    torch.manual_seed(SEED)
    vocab = len(json.load(open(TOK / "bpe" / "vocab.json", encoding="utf-8")))
    cfg = GPT2Config(vocab_size=vocab, n_positions=64, n_embd=64, n_layer=2, n_head=4, n_inner=128,
                     bos_token_id=vocab - 1, eos_token_id=vocab - 1)
    model = GPT2LMHeadModel(cfg).eval()
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(d), safe_serialization=True)
    for f in ("vocab.json", "merges.txt"):
        shutil.copy2(TOK / "bpe" / f, d / f)
    gen = torch.Generator().manual_seed(SEED)
    feeds = {"input_ids": torch.randint(0, vocab, (2, 16), generator=gen),
             "attention_mask": torch.ones(2, 16, dtype=torch.long)}
    for op in opsets:
        export(GPT2Wrap(model), d / f"model-opset{op}.onnx", ["input_ids", "attention_mask"], {"logits": 3}, feeds, op)
    return {"family": "gpt2", "layers": cfg.n_layer, "heads": cfg.n_head, "hidden": cfg.n_embd,
            "act": cfg.activation_function, "causal": True,
            # per block ln_1 and ln_2, plus ln_f
            "attention": cfg.n_layer, "layernorm": 2 * cfg.n_layer + 1,
            "gelu": cfg.n_layer, "outputs": ["logits"], "opsets": opsets}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--opsets", default="11,14,17")
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    opsets = [int(x) for x in a.opsets.split(",") if x]
    only = set(x for x in a.only.split(",") if x)
    cases = {}
    cj = out / "cases.json"
    if cj.exists():
        cases = json.loads(cj.read_text())
    makers = {
        "bert-cls": lambda: make_bert(out, "bert-cls", opsets, True),
        "bert-base": lambda: make_bert(out, "bert-base", opsets, False),
        "gpt2-lm": lambda: make_gpt2(out, "gpt2-lm", opsets),
    }
    for name, fn in makers.items():
        if only and name not in only:
            continue
        print(f"== {name}", file=sys.stderr)
        cases[name] = fn()
    cj.write_text(json.dumps(cases, indent=2) + "\n")


if __name__ == "__main__":
    main()
