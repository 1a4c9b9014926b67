#!/usr/bin/env python3
"""gen_unicode.py — write src/text/unicode_tables.h, the Unicode data the
tokenizers need, from Python's own tables so that shrink's tokenizers agree
with the Hugging Face reference tokenizers that run on the same Python.

    .venv/bin/python scripts/gen_unicode.py > src/text/unicode_tables.h

What comes from where:
  * BERT classes (control, whitespace, punctuation, Mn, str.isspace) and the
    normalisation data (canonical decompositions, combining classes, primary
    composites) come from `unicodedata` -- what transformers' BertTokenizer
    uses.
  * The GPT-2 pre-tokenizer classes \\p{L}, \\p{N}, \\s come from the `regex`
    module -- what transformers' GPT2Tokenizer uses.
  * Lower-case mapping is str.lower() applied to one character at a time
    (BertTokenizer lower-cases the text one character at a time, see
    wordpiece.c).

Needs the `regex` module (installed with transformers).  Deterministic.
"""
import sys
import unicodedata as ud

import regex

MAXCP = 0x110000

# bit flags, one byte per code point (kept in sync with src/text/unicode.h)
U_BCTRL, U_BWS, U_BPUNCT, U_MN, U_PYSPACE, U_L, U_N, U_S = (1 << i for i in range(8))


def flags_of(cp, re_l, re_n, re_s):
    c = chr(cp)
    cat = ud.category(c)
    f = 0
    # transformers.tokenization_utils._is_control / _is_whitespace / _is_punctuation
    if cat.startswith("C") and c not in "\t\n\r":
        f |= U_BCTRL
    if c in " \t\n\r" or cat == "Zs":
        f |= U_BWS
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or cat.startswith("P"):
        f |= U_BPUNCT
    if cat == "Mn":
        f |= U_MN
    if c.isspace():
        f |= U_PYSPACE
    if re_l.match(c):
        f |= U_L
    if re_n.match(c):
        f |= U_N
    if re_s.match(c):
        f |= U_S
    return f


def lower_runs():
    """Single-code-point lower-case mappings as runs (lo, hi, step, delta):
    every cp = lo + k*step <= hi maps to cp + delta."""
    pairs = []
    for cp in range(MAXCP):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        low = chr(cp).lower()
        if low == chr(cp) or len(low) != 1:
            continue
        pairs.append((cp, ord(low) - cp))
    runs = []
    for cp, d in pairs:
        if runs:
            lo, hi, step, delta = runs[-1]
            if delta == d and (cp - hi == step or (lo == hi and cp - hi in (1, 2))):
                runs[-1] = (lo, cp, cp - hi if lo == hi else step, delta)
                continue
        runs.append((cp, cp, 1, d))
    return runs


def emit_array(out, ctype, name, rows, per_line, fmt):
    out.append("static const %s %s[%d] = {" % (ctype, name, len(rows)))
    for i in range(0, len(rows), per_line):
        out.append("    " + " ".join(fmt(r) + "," for r in rows[i:i + per_line]))
    out.append("};")


def main():
    re_l, re_n, re_s = regex.compile(r"\p{L}"), regex.compile(r"\p{N}"), regex.compile(r"\s")

    # runs of equal flags over all code points
    starts, flags = [], []
    prev = None
    for cp in range(MAXCP):
        f = flags_of(cp, re_l, re_n, re_s)
        if f != prev:
            starts.append(cp)
            flags.append(f)
            prev = f

    # lower case; the only multi-character lowering of one code point is U+0130
    multi = [cp for cp in range(MAXCP) if not 0xD800 <= cp <= 0xDFFF and len(chr(cp).lower()) > 1]
    assert multi == [0x130] and chr(0x130).lower() == "i\u0307", multi
    lruns = lower_runs()
    mapped = {}
    for lo, hi, step, delta in lruns:
        for cp in range(lo, hi + 1, step):
            mapped[cp] = cp + delta
    for cp in range(MAXCP):       # check the runs reproduce str.lower()
        if 0xD800 <= cp <= 0xDFFF or cp == 0x130:
            continue
        want = ord(chr(cp).lower())
        assert mapped.get(cp, cp) == want, hex(cp)
        # lowering twice changes nothing, so the second str.lower() that
        # BasicTokenizer applies per word adds nothing (wordpiece.c relies on it)
        assert chr(want).lower() == chr(want), hex(cp)

    # canonical decompositions (one step; Hangul is algorithmic), combining classes
    decomp = []
    for cp in range(MAXCP):
        d = ud.decomposition(chr(cp))
        if d and not d.startswith("<"):
            parts = [int(x, 16) for x in d.split()]
            assert 1 <= len(parts) <= 2
            decomp.append((cp, parts[0], parts[1] if len(parts) == 2 else 0))
    ccc_runs = []
    prev = 0
    for cp in range(MAXCP):
        c = ud.combining(chr(cp))
        if c != prev:
            ccc_runs.append((cp, c))
            prev = c
    # primary composites: two-code-point decompositions that NFC keeps
    comp = []
    for cp, a, b in decomp:
        if b and ud.normalize("NFC", chr(cp)) == chr(cp):
            assert ud.normalize("NFC", chr(a) + chr(b)) == chr(cp)
            comp.append((a, b, cp))
    comp.sort()

    # NFC of lower-case text stays lower case: composites of lower-case-stable
    # pairs and the decompositions of lower-case-stable characters are
    # lower-case-stable (wordpiece.c lowers before NFC and not again after)
    def stable(cp):
        return len(chr(cp).lower()) == 1 and chr(cp).lower() == chr(cp)
    for a, b, c in comp:
        assert not (stable(a) and stable(b)) or stable(c), hex(c)
    for cp in range(MAXCP):
        if 0xD800 <= cp <= 0xDFFF or not stable(cp):
            continue
        for ch in ud.normalize("NFD", chr(cp)) + ud.normalize("NFC", chr(cp)):
            assert stable(ord(ch)), hex(cp)

    out = []
    out.append("/* unicode_tables.h — generated by scripts/gen_unicode.py; do not edit.")
    out.append(" * Python %s, unicodedata %s, regex %s." % (
        sys.version.split()[0], ud.unidata_version, regex.__version__))
    out.append(" * Included only by unicode.c. */")
    out.append("")
    out.append("/* flags of every code point: runs start at u_run_start[i] and carry u_run_flags[i] */")
    emit_array(out, "uint32_t", "u_run_start", starts, 10, lambda v: "0x%x" % v)
    emit_array(out, "uint8_t", "u_run_flags", flags, 16, lambda v: "0x%02x" % v)
    out.append("")
    out.append("/* str.lower() of one code point (U+0130 aside): {lo, hi, step, delta} */")
    emit_array(out, "struct u_lower_run", "u_lower", lruns, 3,
               lambda r: "{0x%x, 0x%x, %d, %d}" % r)
    out.append("")
    out.append("/* canonical decomposition, one step: {cp, first, second or 0} sorted by cp */")
    emit_array(out, "struct u_decomp", "u_decomp", decomp, 4,
               lambda r: "{0x%x, 0x%x, 0x%x}" % r)
    out.append("")
    out.append("/* canonical combining class runs: {start, class}, class holds until the next start */")
    emit_array(out, "struct u_ccc_run", "u_ccc", ccc_runs, 6, lambda r: "{0x%x, %d}" % r)
    out.append("")
    out.append("/* primary composites: {first, second, composite} sorted by (first, second) */")
    emit_array(out, "struct u_comp", "u_comp", comp, 4, lambda r: "{0x%x, 0x%x, 0x%x}" % r)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
