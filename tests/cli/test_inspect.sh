#!/bin/sh
# test_inspect.sh — `shrink inspect` and `shrink ir dump/check` on the text-IR
# files of tests/ir: figures counted by hand in the files' comments (mlp.skir:
# 3*4+3+2*3+2 = 23 params, 92 bytes of f32; bert_layer.skir: 214 params), the
# --json keys, dump → check → dump round trips (also on the zoo models when
# present), usage errors (exit 2, one line) and load errors (exit 1, one line).
# Run from the repo root; SHRINK and PY come from tests/run.sh.
set -u
SHRINK=${SHRINK:-build/shrink}
PY=${PY:-.venv/bin/python}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
# check NAME EXPECTED-EXIT CMD...: exit status and, for errors, exactly one line on stderr
check() {
    name=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; rc=$?
    if [ "$rc" != "$want" ]; then bad "$name: exit $rc, want $want ($(head -c 300 "$T/err"))"; return; fi
    if [ "$want" != 0 ] && [ "$(wc -l <"$T/err")" != 1 ]; then bad "$name: stderr is not one line:"; cat "$T/err"; return; fi
    ok "$name (exit $rc)"
}

# ---- inspect, human table ----
check "inspect mlp.skir" 0 "$SHRINK" inspect tests/ir/mlp.skir
grep -Eq '^params +23$' "$T/out" && ok "table: params 23" || bad "table: params 23: $(grep params "$T/out")"
grep -Eq '^bytes +92: f32 92$' "$T/out" && ok "table: bytes 92 (f32 92)" || bad "table: bytes: $(grep bytes "$T/out")"
grep -Eq '^ops +Linear +2$' "$T/out" && grep -Eq '^ +Softmax +1$' "$T/out" && ok "table: ops Linear 2, Softmax 1" || bad "table: ops"
grep -Eq '^inputs +x +f32\[batch, 4\]$' "$T/out" && ok "table: input x f32[batch, 4]" || bad "table: inputs"

# ---- inspect --json ----
check "inspect --json mlp.skir" 0 "$SHRINK" inspect tests/ir/mlp.skir --json
"$PY" - "$T/out" <<'PYEOF' && ok "json: mlp.skir figures and keys" || bad "json: mlp.skir"
import json, sys
j = json.load(open(sys.argv[1]))
for k in ("params", "bytes", "bytes_by_dtype", "ops", "inputs", "outputs", "arch", "provenance", "source"):
    assert k in j, k
assert j["params"] == 3 * 4 + 3 + 2 * 3 + 2, j["params"]
assert j["bytes"] == 4 * 23 and j["bytes_by_dtype"] == {"f32": 92}, j["bytes_by_dtype"]
assert j["ops"] == {"Linear": 2, "Softmax": 1}, j["ops"]
assert j["inputs"] == [{"name": "x", "dtype": "f32", "dims": ["batch", 4]}], j["inputs"]
assert j["outputs"] == [{"name": "y", "dtype": "f32", "dims": ["batch", 2]}], j["outputs"]
assert j["arch"]["family"] == "mlp" and j["arch"]["labels"] == 2, j["arch"]
assert j["source"] == "tests/ir/mlp.skir"
PYEOF
check "inspect --json bert_layer.skir" 0 "$SHRINK" inspect --json tests/ir/bert_layer.skir
"$PY" - "$T/out" <<'PYEOF' && ok "json: bert_layer.skir figures" || bad "json: bert_layer.skir"
import json, sys
j = json.load(open(sys.argv[1]))
# embeddings 6*4, 3 LayerNorms 2*4 each, q/k/v/o 4*4+4 each, ffn 8*4+8 and 4*8+4, classifier 2*4+2
assert j["params"] == 6 * 4 + 3 * 8 + 4 * 20 + 40 + 36 + 10 == 214, j["params"]
assert j["bytes_by_dtype"] == {"f32": 214 * 4, "i64": 8}, j["bytes_by_dtype"]
assert j["ops"] == {"Linear": 7, "Gather": 2, "SkipLayerNorm": 2, "Attention": 1, "LayerNormalization": 1}, j["ops"]
assert [i["name"] for i in j["inputs"]] == ["input_ids", "attention_mask"]
assert j["arch"]["label_names"] == ["negative", "positive"] and j["arch"]["eps"] == 1e-12, j["arch"]
PYEOF

# ---- ir dump / check ----
check "ir check mlp.skir" 0 "$SHRINK" ir check tests/ir/mlp.skir
[ "$(cat "$T/out")" = ok ] && ok "ir check prints ok" || bad "ir check output: $(cat "$T/out")"
for f in tests/ir/*.skir; do
    b=$(basename "$f" .skir)
    "$SHRINK" ir dump "$f" --full -o "$T/$b.1.skir" && "$SHRINK" ir check "$T/$b.1.skir" >/dev/null &&
        "$SHRINK" ir dump "$T/$b.1.skir" --full >"$T/$b.2.skir" && cmp -s "$T/$b.1.skir" "$T/$b.2.skir" &&
        ok "dump --full → check → dump identical: $f" || bad "round trip of $f"
done
check "ir dump -o existing file" 1 "$SHRINK" ir dump tests/ir/mlp.skir -o "$T/mlp.1.skir"
check "ir dump -o existing --force" 0 "$SHRINK" ir dump tests/ir/mlp.skir -o "$T/mlp.1.skir" --force
"$SHRINK" ir dump tests/ir/bert_layer.skir >"$T/brief.skir"
grep -q 'weight %word_emb: f32\[6, 4\] = <96 bytes>' "$T/brief.skir" && ok "brief dump elides 24 values as <96 bytes>" || bad "brief dump"
check "ir check of a brief dump" 1 "$SHRINK" ir check "$T/brief.skir"
grep -q "were left out" "$T/err" && ok "  ...saying the values were left out" || bad "brief check message: $(cat "$T/err")"
printf 'input %%x: f32[2]\n%%y = Add(%%x %%x)\noutput %%y\n' >"$T/bad.skir"
check "ir check of a bad file" 1 "$SHRINK" ir check "$T/bad.skir"
grep -q "^shrink: $T/bad.skir:2:13: expected ')' after inputs of Add, found '%x'$" "$T/err" && ok "  ...with file:line:col" ||
    bad "bad file message: $(cat "$T/err")"
check "inspect of a bad .skir" 1 "$SHRINK" inspect "$T/bad.skir"

# ---- the zoo, when its ONNX files are present: dump → parse → dump is the identity ----
for f in samples/zoo/*/model.onnx build/zoo/*-fortunes/model.onnx; do   # not the 400+ MB bench shapes
    [ -f "$f" ] || continue
    if "$SHRINK" ir dump "$f" --full >"$T/z1.skir" 2>"$T/err"; then
        "$SHRINK" ir dump "$T/z1.skir" --full >"$T/z2.skir" && cmp -s "$T/z1.skir" "$T/z2.skir" &&
            ok "zoo round trip: $f ($(wc -c <"$T/z1.skir") bytes of text)" || bad "zoo round trip: $f"
        "$SHRINK" inspect --json "$f" >"$T/j1" && "$SHRINK" inspect --json "$T/z1.skir" >"$T/j2" &&
            "$PY" -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); [x.pop("source") for x in (a,b)]; sys.exit(a!=b)' "$T/j1" "$T/j2" &&
            ok "  inspect agrees between $f and its text dump" || bad "inspect differs: $f vs its dump"
    else
        echo "skip $f: $(cat "$T/err")"
    fi
done

# ---- usage and load errors ----
check "inspect --help" 0 "$SHRINK" inspect --help
grep -q '^usage: shrink inspect' "$T/out" && grep -q 'example:' "$T/out" && ok "  ...usage with an example" || bad "inspect --help text"
check "ir --help" 0 "$SHRINK" ir --help
check "ir dump --help" 0 "$SHRINK" ir dump --help
grep -q -- '--full' "$T/out" && grep -q 'example' "$T/out" && ok "  ...options and examples" || bad "ir dump --help text"
check "ir check --help" 0 "$SHRINK" ir check -h
check "inspect without MODEL" 2 "$SHRINK" inspect
check "inspect --bogus" 2 "$SHRINK" inspect tests/ir/mlp.skir --bogus
check "inspect two models" 2 "$SHRINK" inspect tests/ir/mlp.skir tests/ir/mlp.skir
check "ir without subcommand" 2 "$SHRINK" ir
check "ir frob" 2 "$SHRINK" ir frob
check "ir dump without MODEL" 2 "$SHRINK" ir dump
check "ir dump -o without FILE" 2 "$SHRINK" ir dump tests/ir/mlp.skir -o
check "ir check without FILE" 2 "$SHRINK" ir check
check "inspect missing file" 1 "$SHRINK" inspect "$T/no-such-model.onnx"
grep -q '^shrink: .*no-such-model.onnx' "$T/err" && ok "  ...one line naming the file" || bad "missing file message: $(cat "$T/err")"
check "inspect missing .skir" 1 "$SHRINK" inspect "$T/no-such.skir"
check "ir dump missing file" 1 "$SHRINK" ir dump "$T/no-such-model.onnx"
check "ir check missing file" 1 "$SHRINK" ir check "$T/no-such.skir"

echo "$fails failed"
[ "$fails" = 0 ]
