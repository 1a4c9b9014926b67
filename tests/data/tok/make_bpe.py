#!/usr/bin/env python3
"""make_bpe.py — train the small GPT-2-style byte-level BPE that the tokenizer
tests use (tests/data/tok/bpe/vocab.json + merges.txt), so they need no
downloaded GPT-2 vocabulary.

    .venv/bin/python tests/data/tok/make_bpe.py [OUT_DIR]

A ByteLevelBPETokenizer (Hugging Face `tokenizers`) with a 2000-token
vocabulary and <|endoftext|> as its special token, trained on the `fortunes`
package's text (Debian: /usr/share/games/fortunes).  The files it writes are
committed; rerun only to change them.
"""
import glob
import os
import sys

from tokenizers import ByteLevelBPETokenizer

FORTUNES = "/usr/share/games/fortunes"


def fortunes():
    for path in sorted(glob.glob(os.path.join(FORTUNES, "*"))):
        if path.endswith((".dat", ".u8")) or os.path.isdir(path):
            continue
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")
        for entry in text.split("\n%\n"):
            if entry.strip():
                yield entry


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "bpe")
    os.makedirs(out, exist_ok=True)
    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(list(fortunes()), vocab_size=2000, min_frequency=2,
                            special_tokens=["<|endoftext|>"], show_progress=False)
    tok.save_model(out)
    print("wrote %s/vocab.json and merges.txt (%d tokens)" % (out, tok.get_vocab_size()))


if __name__ == "__main__":
    main()
