#!/usr/bin/env python3
"""test_tokenizers.py — shrink's tokenizers against Hugging Face's, id for id.

Texts: fortunes (/usr/share/games/fortunes), hand-written edge cases (accents,
CJK, emoji, Greek/Cyrillic, punctuation runs, numbers, long words,
contractions, white space of every kind, special tokens written in the text,
bad UTF-8) and seeded random strings drawn from many Unicode blocks.  Each
goes through `test_tokenizer --dump` (the C side) and through
transformers.BertTokenizer / GPT2Tokenizer (the reference):
  * ids of encode(text) (BERT with and without [CLS]/[SEP]),
  * ids of encode(text, truncation=True, max_length=16),
  * decode(ids) with clean_up_tokenization_spaces=False.
Runs on tests/data/tok/bert (bert-base-uncased's vocab.txt, lower-cased and
cased), tests/data/tok/bpe (a small byte-level BPE, see make_bpe.py), on the
zoo's samples/zoo/{bert,gpt2}-fortunes when they exist, and on directories
whose tokenizer_config.json sets strip_accents, tokenize_chinese_chars,
add_prefix_space or add_bos_token.  Prints the number
of texts and mismatches per check; fails on any mismatch.
"""
import glob
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
import transformers  # noqa: E402
from transformers import BertTokenizer, GPT2Tokenizer  # noqa: E402

transformers.logging.set_verbosity_error()

ROOT = os.environ.get("ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SHRINK_BUILD") or os.path.join(ROOT, "build")
DUMP = os.path.join(BUILD, "tests", "test_tokenizer")
DATA = os.path.join(ROOT, "tests", "data", "tok")
FORTUNES = "/usr/share/games/fortunes"
MAX_LEN = 16

HAND = [
    "Hello, world!",
    "", " ", "  \t\n ", "a",
    "The quick brown fox jumps over the lazy dog.",
    "café naïve Ångström Müller Ærøskøbing façade coöperate résumé",
    "CAFÉ NAÏVE ÅNGSTRÖM MÜLLER",
    "cafe\u0301 nai\u0308ve A\u030angstro\u0308m",          # decomposed accents
    "中文字符 and 日本語のテキスト and 한국어 텍스트",
    "我爱北京天安门。你好，世界！",
    "emoji 😀🎉👍🏽 👨‍👩‍👧‍👦 ❤️ flags 🇫🇷🇯🇵",
    "Ελληνικά: ΟΔΥΣΣΕΥΣ καί ἀρετή, Σίσυφος",
    "Русский текст: Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Українська: Її, Ґанок. Беларуская: Ўсё.",
    "İstanbul Iğdır ŞİŞLİ ß ẞ ﬁ ﬂ Ǆ ǅ ǆ",
    "!!!??? ... --- *** ((())) [[[]]] {{{}}} <<<>>> ''' \"\"\" ``` ~~~ @@@ ### $$$ %%% ^^^ &&& ___ +++ === |||",
    "«quotes» „Anführungszeichen“ ‘single’ “double” — en–dash … ¿qué? ¡sí!",
    "3.14159 1,000,000 -42 +7 1e-9 0x1F 12:30 2024-01-31 50% $19.99 €5 ½ ² ³ ⅓ ١٢٣ ٤٥٦",
    "a" * 99, "b" * 100, "c" * 101, "supercalifragilistic" * 6,
    "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism",
    "don't we'll I'm they're you've she'd it's DON'T WE'LL I'M 'tis rock'n'roll o'clock",
    "multiple    spaces\tand\t\ttabs\nand\n\nnewlines\r\nand CRLF   ",
    "   leading and trailing   ",
    "x\u00a0y\u2000z\u2003w\u3000v\u202fu\u205ft\u1680s\u2028r\u2029q\x85p\x0bo\x0cn\x1cm\x1fl",
    "zero\u200bwidth\u200cjoiners\u200d\ufeffbom\u00adsoft\u2060hyphen",
    "control \x01\x02\x07\x1b[31mred\x1b[0m \x7f del",
    "replacement \ufffd char and private \ue000\uf8ff use",
    "<|endoftext|>",
    "before<|endoftext|>after <|endoftext|> spaced <|endoftext|>",
    "<|endoftext|><|endoftext|>x<|endoftext",
    "[CLS] [SEP] [PAD] [UNK] [MASK] inside text [cls] [Mask]",
    "hello[MASK]world[SEP][SEP]",
    "[CL\u200bS] x [MA\u00adSK] [SEP\x01] [unk]",          # specials only after cleaning
    "[MASK][MASK] [[MASK]] <|endoftext|>[MASK]<|endoftext|>",
    "e-mail: someone@example.com, url: https://example.org/path?q=1&r=2#frag",
    "C:\\Windows\\System32 /usr/local/bin ~/.bashrc $HOME %PATH%",
    "int main(void) { return a[i] * b->c + (d ? e : f); } // comment",
    "He said, \"It's 5 o'clock somewhere!\" -- and left.",
    "Mixed: HeLLo WoRLD, iPhone, eBay, McDonald's, O'Neil, NASA's JPL",
    "Tab\tseparated\tvalues\t1\t2\t3",
    "Hangul jamo \u1100\u1161\u11a8 vs 각 and compat ㄱㅏ",
    "Combining only: \u0301\u0302 \u0308 and a\u0323\u0302 vs \u1ead",
    "Vietnamese: Tiếng Việt có dấu, Hà Nội, Đà Nẵng",
    "Devanagari हिन्दी, Arabic العربية, Hebrew עִבְרִית, Thai ภาษาไทย",
    "Math: ∀x∈ℝ, ∃y: x²+y²≤1 ⇒ √(x·y) ≈ π/4 ∞ ∑ ∫",
    "Fullwidth: ＡＢＣ１２３！？ ｶﾀｶﾅ",
    "Ohm Ω vs Omega Ω, Kelvin K, Angstrom Å, ﬀ ligature",
    "ΣΑΣ ΣΑΣ. ὈΔΥΣΣΕΎΣ Σ",
    "   \t",
    "'s 't 're 've 'm 'll 'd 'S 'T 'RE",
    "x's y't z're 1've 2'm 3'll 4'd",
    "   'll  're",
]

# Unicode blocks random strings draw from: (weight, lo, hi)
BLOCKS = [
    (30, 0x20, 0x7E), (4, 0x00, 0x1F), (6, 0xA0, 0xFF), (5, 0x100, 0x24F), (5, 0x300, 0x36F),
    (4, 0x370, 0x3FF), (4, 0x400, 0x4FF), (2, 0x590, 0x6FF), (2, 0x900, 0x97F), (2, 0xE00, 0xE7F),
    (2, 0x1100, 0x11FF), (3, 0x1E00, 0x1FFF), (3, 0x2000, 0x206F), (2, 0x2070, 0x2BFF), (3, 0x3000, 0x30FF),
    (4, 0x4E00, 0x9FFF), (3, 0xAC00, 0xD7A3), (1, 0xE000, 0xF8FF), (2, 0xF900, 0xFAFF), (2, 0xFB00, 0xFFFD),
    (3, 0x1F300, 0x1FAFF), (2, 0x20000, 0x2FA1F), (1, 0xE0000, 0xE01EF), (1, 0x10000, 0x1FFFF),
]
PIECES = ["[CLS]", "[MASK]", "[SEP]", "<|endoftext|>", "'s", "'ll", "'", "  ", "\t", "\n", "\r\n",
          "Σ", "İ", "ß", "Å", "e\u0301", "\u0301", "\u200b", "\ufeff", "\x00", "123", "3.14", "...", " the"]


def rand_text(rng, words):
    out = []
    for _ in range(rng.randint(1, 24)):
        r = rng.random()
        if r < 0.35 and words:
            w = rng.choice(words)
            out.append(w.upper() if rng.random() < 0.2 else w)
        elif r < 0.5:
            out.append(rng.choice(PIECES))
        else:
            total = sum(b[0] for b in BLOCKS)
            x = rng.uniform(0, total)
            for wgt, lo, hi in BLOCKS:
                x -= wgt
                if x <= 0:
                    break
            cp = rng.randint(lo, hi)
            if 0xD800 <= cp <= 0xDFFF:
                cp = 0x41
            out.append(chr(cp))
        if rng.random() < 0.4:
            out.append(rng.choice([" ", " ", " ", "  ", "\t", "\n", "\u3000"]))
    return "".join(out)


def fortunes():
    entries = []
    for path in sorted(glob.glob(os.path.join(FORTUNES, "*"))):
        if path.endswith((".dat", ".u8")) or os.path.isdir(path):
            continue
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", errors="replace")
        entries += [e for e in text.split("\n%\n") if e.strip()]
    return entries


def texts():
    """The test texts as bytes: fortunes, hand-written, random, bad UTF-8."""
    rng = random.Random(20240229)
    fort = fortunes()
    out = []
    if fort:
        picks = rng.sample(fort, min(300, len(fort)))
        for i, e in enumerate(picks):
            out.append(e if i % 2 else " ".join(e.split()))   # half as written, half on one line
    else:
        print("note: no fortunes in %s; hand-written and random texts only" % FORTUNES)
    out += HAND
    words = [w for e in fort[:2000] for w in e.split()][:5000] or "the cat sat on a mat".split()
    out += [rand_text(rng, words) for _ in range(300)]
    data = [t.encode("utf-8") for t in out]
    # ill-formed UTF-8: stray continuation bytes, truncated sequences, overlongs, surrogates
    data += [b"bad \xff byte", b"trunc \xe4\xb8", b"\xe4\xb8 mid", b"over\xc0\xafflow", b"sur\xed\xa0\x80rogate",
             b"\xf4\x90\x80\x80 big", b"\x80\x80\x80", b"ok \xc3\xa9 \xc3 \xa9", b"\xf0\x9f\x98", b"\xe0\x80\xaf"]
    return data


def run_dump(kind, d, path, *opts):
    r = subprocess.run([DUMP, "--dump", kind, d, path, *opts], capture_output=True, text=True)
    if r.returncode != 0:
        print("FAIL: %s --dump %s %s: %s" % (DUMP, kind, d, r.stderr.strip()))
        sys.exit(1)
    rows = []
    for line in r.stdout.split("\n")[:-1]:
        ids, _, dec = line.partition("\t")
        rows.append(([int(x) for x in ids.split()], bytes.fromhex(dec).decode("utf-8")))
    return rows


def show(tok, ids):
    return " ".join(tok.convert_ids_to_tokens(ids)) if ids else "(none)"


def check(name, kind, d, tok, data, path, has_special, full=True):
    """Compare the C dumps with tok on every text; returns the number of mismatches."""
    strs = [b.decode("utf-8", errors="replace") for b in data]
    runs = [("encode", ["--decode"], dict(add_special_tokens=True))]
    if has_special and full:
        runs.append(("encode, no specials", ["--no-special"], dict(add_special_tokens=False)))
    runs.append(("encode, max_length=%d" % MAX_LEN, ["--max-len", str(MAX_LEN)],
                 dict(add_special_tokens=True, truncation=True, max_length=MAX_LEN)))
    bad = 0
    for label, opts, kw in runs:
        got = run_dump(kind, d, path, *opts)
        if len(got) != len(strs):
            print("FAIL %s %s: %d results for %d texts" % (name, label, len(got), len(strs)))
            return bad + 1
        miss, dmiss, ntok = 0, 0, 0
        for s, (ids, dec) in zip(strs, got):
            want = tok.encode(s, **kw)
            ntok += len(want)
            if ids != want:
                miss += 1
                if miss <= 5:
                    print("  mismatch %s %s on %r\n    hf:   %s\n    ours: %s" % (
                        name, label, s[:200], show(tok, want), show(tok, ids)))
            if "--decode" in opts:
                want_dec = tok.decode(want, clean_up_tokenization_spaces=False)
                if dec != want_dec:
                    dmiss += 1
                    if dmiss <= 5:
                        print("  decode mismatch %s on %r\n    hf:   %r\n    ours: %r" % (name, s[:200], want_dec, dec))
        print("%-28s %-26s %4d texts %6d tokens: %d mismatches%s" % (
            name, label, len(strs), ntok, miss, ", decode: %d mismatches" % dmiss if "--decode" in opts else ""))
        bad += miss + dmiss
    return bad


def main():
    if not os.access(DUMP, os.X_OK):
        print("FAIL: %s not built (make %s)" % (DUMP, os.path.relpath(DUMP, ROOT)))
        return 1
    data = texts()
    tmp = tempfile.NamedTemporaryFile("w", suffix=".hex", delete=False)
    tmp.write("".join(b.hex() + "\n" for b in data))
    tmp.close()
    bert, bpe = os.path.join(DATA, "bert"), os.path.join(DATA, "bpe")
    cases = [
        ("bert-base-uncased vocab", "wordpiece", bert,
         BertTokenizer(os.path.join(bert, "vocab.txt"), do_lower_case=True), True),
        ("bert vocab, cased", "wordpiece-cased", bert,
         BertTokenizer(os.path.join(bert, "vocab.txt"), do_lower_case=False), True),
        ("byte-level BPE (2000)", "bpe", bpe,
         GPT2Tokenizer(os.path.join(bpe, "vocab.json"), os.path.join(bpe, "merges.txt")), False),
    ]
    zb, zg = os.path.join(ROOT, "samples", "zoo", "bert-fortunes"), os.path.join(ROOT, "samples", "zoo", "gpt2-fortunes")
    if os.path.exists(os.path.join(zb, "vocab.txt")):
        cases.append(("zoo bert-fortunes", "wordpiece", zb, BertTokenizer.from_pretrained(zb), True))
    else:
        print("note: %s not present; skipped" % zb)
    if os.path.exists(os.path.join(zg, "vocab.json")) and os.path.exists(os.path.join(zg, "merges.txt")):
        cases.append(("zoo gpt2-fortunes", "bpe", zg, GPT2Tokenizer.from_pretrained(zg), False))
    else:
        print("note: %s not present; skipped" % zg)
    # tokenizer_config.json options, each in a directory of its own
    variants = [
        ("bert strip_accents=false", "wordpiece", bert, {"do_lower_case": True, "strip_accents": False}),
        ("bert cased, strip_accents", "wordpiece", bert, {"do_lower_case": False, "strip_accents": True}),
        ("bert no chinese split", "wordpiece", bert, {"tokenize_chinese_chars": False}),
        ("bpe add_prefix_space", "bpe", bpe, {"add_prefix_space": True}),
        ("bpe add_bos_token", "bpe", bpe, {"add_bos_token": True}),
    ]
    vroot = tempfile.mkdtemp()
    for i, (name, kind, src, cfg) in enumerate(variants):
        d = os.path.join(vroot, str(i))
        os.mkdir(d)
        files = ["vocab.txt"] if kind == "wordpiece" else ["vocab.json", "merges.txt"]
        for f in files:
            os.symlink(os.path.join(src, f), os.path.join(d, f))
        with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
            json.dump(cfg, f)
        if kind == "wordpiece":
            tok = BertTokenizer(os.path.join(d, "vocab.txt"), **cfg)
        else:
            tok = GPT2Tokenizer(os.path.join(d, "vocab.json"), os.path.join(d, "merges.txt"), **cfg)
        cases.append((name, kind, d, tok, kind == "wordpiece", False))
    bad = 0
    try:
        for name, kind, d, tok, has_special, *full in cases:
            bad += check(name, kind, d, tok, data, tmp.name, has_special, *full)
        # speed: about 1 MB of fortunes as one text (printed, not asserted)
        text = "\n".join(fortunes()).encode("utf-8")[:1 << 20] or b"the cat sat on the mat. " * 45000
        raw = tmp.name + ".txt"
        with open(raw, "wb") as f:
            f.write(text)
        for kind, d, tok in [("wordpiece", bert, cases[0][3]), ("bpe", bpe, cases[2][3])]:
            r = subprocess.run([DUMP, "--bench", kind, d, raw], capture_output=True, text=True)
            print(r.stdout.strip() or r.stderr.strip())
            t0 = time.perf_counter()
            tok.encode(text.decode("utf-8", errors="replace"), add_special_tokens=False)
            print("  (HF %s on the same text: %.2f s)" % (type(tok).__name__, time.perf_counter() - t0))
            bad += r.returncode != 0
        os.unlink(raw)
    finally:
        os.unlink(tmp.name)
        shutil.rmtree(vroot)
    print("%d texts; %s" % (len(data), "all match" if not bad else "%d mismatches" % bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
