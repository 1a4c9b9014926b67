#!/usr/bin/env python3
"""Masked-LM pre-training of bert-fortunes, then the zoo's fine-tuning.

The same model as samples/zoo/bert-fortunes (its config.json, its vocab.txt and
tokenizer files) but, before the labelled fine-tuning, BERT's masked-language-
model pre-training on the zoo's unlabelled training text: every entry of
make_splits()["train_pool"] (the GPT-2 training text; it holds the labelled
training examples but none of the validation, test or LM-test entries; checked
here).  Each entry is cut into pieces of at most 62 WordPiece tokens, each
[CLS] piece [SEP] (the classifier sees at most 64 tokens); 15% of the tokens of
a batch are chosen anew each step, 80% of those -> [MASK], 10% -> a random
token, 10% kept.  Fine-tuning then follows build.py's train_bert_fortunes
(same data, batches, epochs, best-validation epoch) from the pre-trained encoder
with a fresh classifier head.

Writes DIR (default build/zoo/bert-fortunes-pt), an HF directory like the zoo's:
config.json, model.safetensors, vocab.txt, tokenizer_config.json,
special_tokens_map.json; DIR.json: torch figures (build.py's protocol) and
timings; DIR-mlm: the pre-trained masked LM.  Never touches samples/zoo.

Usage: .venv/bin/python bench/pretrain_bert_fortunes.py [--out DIR] [--steps N] [--batch B]
           [--lr X] [--ft-lr X] [--ft-epochs N] [--threads N] [--mlm DIR] [--skip-pretrain]
"""
import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from export_fortunes_train import REPO, checked_splits, load_build

ZOO_BERT = REPO / "samples" / "zoo" / "bert-fortunes"
TOKENIZER_FILES = ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
MASK_PROB = 0.15


def pretrain_pieces(b, fast, texts):
    """Each text -> pieces of at most max_len - 2 ids, each [CLS] piece [SEP]."""
    cls, sep = fast.token_to_id("[CLS]"), fast.token_to_id("[SEP]")
    n = b.BERT_MAX_LEN - 2
    fast.no_truncation()
    out = []
    for e in fast.encode_batch(texts, add_special_tokens=False):
        ids = e.ids
        out += [[cls] + ids[i:i + n] + [sep] for i in range(0, len(ids), n)]
    return out


def mask_tokens(torch, ids, attn, n_special, vocab, gen):
    """BERT's masking of a padded batch: labels -100 except at the chosen 15%."""
    special = ids < n_special                     # [PAD] [UNK] [CLS] [SEP] [MASK]
    pick = (torch.rand(ids.shape, generator=gen) < MASK_PROB) & ~special & attn.bool()
    labels = torch.where(pick, ids, torch.full_like(ids, -100))
    r = torch.rand(ids.shape, generator=gen)
    inp = ids.clone()
    inp[pick & (r < 0.8)] = 4                     # [MASK]
    rand = pick & (r >= 0.8) & (r < 0.9)
    inp[rand] = torch.randint(n_special, vocab, ids.shape, generator=gen)[rand]
    return inp, labels


def pretrain(b, torch, config, pieces, a, out):
    from transformers import BertForMaskedLM
    b.seed_everything(a.seed)
    model = BertForMaskedLM(config)
    gen = torch.Generator().manual_seed(a.seed)
    opt, sched = b.make_optimizer(model, a.lr, a.steps, a.steps // 20)
    lengths = [len(p) for p in pieces]
    batches, step, t0, loss_avg = [], 0, time.time(), None
    model.train()
    while step < a.steps:
        if not batches:
            batches = b.bucketed_batches(lengths, a.batch, gen)
        idx = batches.pop()
        ids, attn = b.pad_batch([pieces[j] for j in idx], 0)
        inp, labels = mask_tokens(torch, ids, attn, len(b.BERT_SPECIALS), config.vocab_size, gen)
        h = model.bert(input_ids=inp, attention_mask=attn).last_hidden_state
        sel = labels != -100                      # the head only where a token is predicted
        logits = model.cls(h[sel])
        loss = torch.nn.functional.cross_entropy(logits, labels[sel])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(); sched.step(); opt.zero_grad()
        loss_avg = loss.item() if loss_avg is None else 0.98 * loss_avg + 0.02 * loss.item()
        step += 1
        if step % 100 == 0 or step == a.steps:
            b.log(f"  mlm step {step}/{a.steps} loss {loss_avg:.3f} ({time.time() - t0:.0f}s)")
    model.save_pretrained(str(out), safe_serialization=True)
    return {"steps": a.steps, "batch": a.batch, "lr": a.lr, "final_loss_ema": round(loss_avg, 4),
            "seconds": round(time.time() - t0, 1)}


def mlm_accuracy(b, torch, out, fast, texts, seed):
    """Masked-token accuracy of the pre-trained model on held-out text (val+test)."""
    from transformers import BertForMaskedLM
    model = BertForMaskedLM.from_pretrained(str(out)).eval()
    gen = torch.Generator().manual_seed(seed)
    pieces = pretrain_pieces(b, fast, texts)
    right = total = 0
    with torch.no_grad():
        for i in range(0, len(pieces), 64):
            ids, attn = b.pad_batch(pieces[i:i + 64], 0)
            inp, labels = mask_tokens(torch, ids, attn, len(b.BERT_SPECIALS), model.config.vocab_size, gen)
            logits = model(input_ids=inp, attention_mask=attn).logits
            sel = labels != -100
            right += int((logits[sel].argmax(-1) == labels[sel]).sum())
            total += int(sel.sum())
    return right / total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "build" / "zoo" / "bert-fortunes-pt"))
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--ft-lr", type=float, default=None, help="fine-tuning lr (build.py's BERT_LR)")
    ap.add_argument("--ft-epochs", type=int, default=None, help="fine-tuning epochs (build.py's BERT_EPOCHS)")
    ap.add_argument("--seed", type=int, default=None, help="(build.py's SEED)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mlm", default=None, help="where the pre-trained masked LM goes (OUT-mlm)")
    ap.add_argument("--skip-pretrain", action="store_true", help="fine-tune the masked LM already in --mlm")
    a = ap.parse_args()
    b = load_build()
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer
    from tokenizers import BertWordPieceTokenizer
    torch.set_num_threads(a.threads)
    a.seed = b.SEED if a.seed is None else a.seed
    a.ft_lr = b.BERT_LR if a.ft_lr is None else a.ft_lr
    a.ft_epochs = b.BERT_EPOCHS if a.ft_epochs is None else a.ft_epochs

    out, mlm_dir = Path(a.out), Path(a.mlm or a.out + "-mlm")
    splits = checked_splits(b)
    held = {t for t, _ in splits["clf_val"] + splits["clf_test"]} | {e["flat"] for e in splits["lm_test"]}
    texts = [e["flat"] for e in splits["train_pool"]]
    if any(t in held for t in texts):
        sys.exit("pretrain: the training pool overlaps a held-out split")

    # The zoo's tokenizer, as build.py's train_wordpiece loads it back.
    fast = BertWordPieceTokenizer(str(ZOO_BERT / "vocab.txt"), lowercase=True, clean_text=True,
                                  handle_chinese_chars=True, strip_accents=None)
    slow = BertTokenizer.from_pretrained(str(ZOO_BERT))
    clf_all = splits["clf_train"] + splits["clf_val"] + splits["clf_test"]
    b.check_bert_tokenizer(fast, slow, [t for t, _ in clf_all])
    zoo_config = json.loads((ZOO_BERT / "config.json").read_text())
    config = BertConfig.from_pretrained(str(ZOO_BERT))
    report = {"mlm_text_entries": len(texts)}

    if not a.skip_pretrain:
        pieces = pretrain_pieces(b, fast, texts)
        report["mlm_pieces"] = len(pieces)
        report["mlm_tokens"] = sum(len(p) for p in pieces)
        b.log(f"pretrain: {len(texts)} entries -> {len(pieces)} pieces, {report['mlm_tokens']} tokens; "
              f"{a.steps} steps of {a.batch}, lr {a.lr}, {a.threads} threads")
        if mlm_dir.exists():
            shutil.rmtree(mlm_dir)
        report["pretrain"] = pretrain(b, torch, config, pieces, a, mlm_dir)
    report["mlm_heldout_masked_accuracy"] = round(mlm_accuracy(
        b, torch, mlm_dir, fast, [t for t, _ in splits["clf_val"] + splits["clf_test"]], a.seed), 4)
    b.log(f"pretrain: masked-token accuracy on val+test text {report['mlm_heldout_masked_accuracy']}")

    # Fine-tune as build.py does, from the pre-trained encoder (BertForMaskedLM has no pooler: the
    # pooler and the classifier head start from their seeded init).
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for f in TOKENIZER_FILES:
        shutil.copy2(ZOO_BERT / f, out / f)
    b.seed_everything(a.seed)
    model = BertForSequenceClassification.from_pretrained(str(mlm_dir), config=config)
    fast.enable_truncation(b.BERT_MAX_LEN)
    t0 = time.time()
    best = b.finetune_bert_classifier(model, splits, lambda ts: [e.ids for e in fast.encode_batch(ts)],
                                      a.ft_epochs, a.ft_lr, a.seed, t0)
    report["finetune"] = {"epochs": a.ft_epochs, "lr": a.ft_lr, "best_epoch": best,
                          "seconds": round(time.time() - t0, 1)}
    model.config.name_or_path = ""                # as a fresh model's: config.json the zoo's byte for byte
    model.save_pretrained(str(out), safe_serialization=True)
    if json.loads((out / "config.json").read_text()) != zoo_config:
        sys.exit(f"pretrain: {out / 'config.json'} differs from {ZOO_BERT / 'config.json'}")

    model = BertForSequenceClassification.from_pretrained(str(out)).eval()
    tok = BertTokenizer.from_pretrained(str(out))
    report["test_accuracy"] = b.bert_accuracy_one_by_one(model, tok, splits["clf_test"])
    report["val_accuracy"] = b.bert_accuracy_one_by_one(model, tok, splits["clf_val"])
    report["protocol"] = "build.py bert_accuracy_one_by_one (samples/zoo/metrics.json bert-fortunes protocol)"
    report["parameters"] = sum(p.numel() for p in model.parameters())
    report["dir_mb"] = round(b.dir_mb(out), 2)
    report["torch"] = torch.__version__
    Path(a.out + ".json").write_text(json.dumps(report, indent=2) + "\n")
    b.log(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
