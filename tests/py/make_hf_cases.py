"""make_hf_cases.py OUT_DIR — tiny random Hugging Face checkpoints for import tests.

Each case is a folder in HF layout (config.json + model.safetensors, or shards
+ model.safetensors.index.json) plus case.json with what torch says about it:
the parameter count (tied weights once), input and output names, and
reference inputs/outputs as .npy computed by transformers in float32: ref/
with every input given (a padded row), ref_min/ with input_ids only.

Cases: BertForSequenceClassification, BertModel (tanh gelu, no "bert."
prefix), GPT2LMHeadModel (tied head), GPT2Model (n_inner set), a sharded
BERT, an fp16 GPT-2 and a bf16 BERT.  Weights are random, LayerNorm
parameters too, so a wrong gamma/beta shows in the outputs, and large enough
that a gelu/gelu_tanh mix-up moves outputs well past 1e-4.
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import (BertConfig, BertForSequenceClassification, BertModel, GPT2Config, GPT2LMHeadModel,
                          GPT2Model)


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or ".ln_" in name or name.startswith("ln_") or "ln_f" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=g))
            elif "embeddings" in name or ".wte." in name or ".wpe." in name or name.startswith("wte") \
                    or name.startswith("wpe"):
                p.copy_(torch.randn(p.shape, generator=g))
            else:   # large enough that activations leave the region where gelu ~ gelu_tanh
                p.copy_(0.25 * torch.randn(p.shape, generator=g))


def bert_config(**kw):
    c = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
             max_position_embeddings=40, type_vocab_size=2, layer_norm_eps=1e-12)
    c.update(kw)
    return BertConfig(**c)


def gpt2_config(**kw):
    c = dict(vocab_size=101, n_embd=32, n_layer=2, n_head=4, n_positions=48)
    c.update(kw)
    return GPT2Config(**c)


def save_ref(out, name, arr, sub="ref"):
    os.makedirs(os.path.join(out, sub), exist_ok=True)
    np.save(os.path.join(out, sub, name + ".npy"), arr)


def make_case(root, name, model, family, inputs_names, outputs, save_kw=None, dtype=None, vocab=None):
    out = os.path.join(root, name)
    os.makedirs(out, exist_ok=True)
    model.eval()
    if dtype is not None:
        model = model.to(dtype)
    model.save_pretrained(out, safe_serialization=True, **(save_kw or {}))
    # reference in float32 from exactly the stored (possibly rounded) weights
    ref = model.float().eval()
    params = sum(p.numel() for p in ref.parameters())   # parameters() yields a tied weight once
    g = torch.Generator().manual_seed(7)
    B, S = 2, 7
    ids = torch.randint(0, ref.config.vocab_size, (B, S), generator=g)
    mask = torch.ones(B, S, dtype=torch.int64)
    mask[1, 5:] = 0   # padding at the end of the second row
    feed = {"input_ids": ids, "attention_mask": mask}
    if family == "bert":
        feed["token_type_ids"] = torch.randint(0, ref.config.type_vocab_size, (B, S), generator=g)
    else:
        feed["position_ids"] = torch.arange(S).unsqueeze(0).expand(B, S).contiguous()
    with torch.no_grad():
        res = ref(**feed)
    for k, v in feed.items():
        save_ref(out, "in." + k, v.numpy().astype(np.int64))
    for k in outputs:
        save_ref(out, "out." + k, getattr(res, k).numpy().astype(np.float32))
    # only input_ids: HF's defaults (mask of ones, token types 0, positions arange)
    with torch.no_grad():
        res = ref(input_ids=ids)
    save_ref(out, "in.input_ids", ids.numpy().astype(np.int64), sub="ref_min")
    for k in outputs:
        save_ref(out, "out." + k, getattr(res, k).numpy().astype(np.float32), sub="ref_min")
    if vocab:
        with open(os.path.join(out, "vocab.txt"), "w") as f:
            f.write("\n".join(vocab) + "\n")
    case = {"name": name, "family": family, "architecture": type(model).__name__, "params": int(params),
            "inputs": inputs_names, "outputs": outputs,
            "config": json.load(open(os.path.join(out, "config.json")))}
    with open(os.path.join(out, "case.json"), "w") as f:
        json.dump(case, f, indent=1)
    return case


def main(root):
    torch.manual_seed(0)
    bert_in = ["input_ids", "attention_mask", "token_type_ids"]
    gpt_in = ["input_ids", "attention_mask", "position_ids"]
    cases = []

    m = BertForSequenceClassification(bert_config(num_labels=3, id2label={0: "neg", 1: "neutral", 2: "pos"},
                                                  label2id={"neg": 0, "neutral": 1, "pos": 2}))
    randomize(m, 1)
    cases.append(make_case(root, "bert-cls", m, "bert", bert_in, ["logits"],
                           vocab=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]))

    m = BertModel(bert_config(hidden_act="gelu_pytorch_tanh"))
    randomize(m, 2)
    cases.append(make_case(root, "bert-base", m, "bert", bert_in, ["last_hidden_state", "pooler_output"]))

    m = GPT2LMHeadModel(gpt2_config())
    randomize(m, 3)
    m.tie_weights()
    cases.append(make_case(root, "gpt2-lm", m, "gpt2", gpt_in, ["logits"]))

    m = GPT2Model(gpt2_config(n_inner=48, activation_function="gelu"))
    randomize(m, 4)
    cases.append(make_case(root, "gpt2-base", m, "gpt2", gpt_in, ["last_hidden_state"]))

    m = BertForSequenceClassification(bert_config(num_hidden_layers=3))
    randomize(m, 5)
    cases.append(make_case(root, "bert-sharded", m, "bert", bert_in, ["logits"], save_kw={"max_shard_size": "50KB"}))

    m = GPT2LMHeadModel(gpt2_config())
    randomize(m, 6)
    m.tie_weights()
    cases.append(make_case(root, "gpt2-fp16", m, "gpt2", gpt_in, ["logits"], dtype=torch.float16))

    m = BertForSequenceClassification(bert_config())
    randomize(m, 8)
    cases.append(make_case(root, "bert-bf16", m, "bert", bert_in, ["logits"], dtype=torch.bfloat16))

    shards = [f for f in os.listdir(os.path.join(root, "bert-sharded")) if f.endswith(".safetensors")]
    assert len(shards) > 1 and os.path.exists(os.path.join(root, "bert-sharded", "model.safetensors.index.json")), shards
    with open(os.path.join(root, "cases.json"), "w") as f:
        json.dump([c["name"] for c in cases], f)
    print("wrote %d cases to %s" % (len(cases), root))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_hf_cases.py OUT_DIR")
    main(sys.argv[1])
