#!/bin/sh
# test_errors.sh — bad input through the CLI: every case exits 1 with exactly
# one line on stderr that names the file; usage errors exit 2; --help works.
set -u
S=${SHRINK:-build/shrink}
PY=${PY:-.venv/bin/python}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fails=0
expect() {  # code, expected substring, command...
    code=$1 want=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; got=$?
    lines=$(wc -l <"$T/err")
    if [ "$got" != "$code" ] || { [ -n "$want" ] && ! grep -q -- "$want" "$T/err"; } || { [ "$code" = 1 ] && [ "$lines" != 1 ]; }; then
        echo "FAIL: $* -> exit $got (want $code), stderr ($lines lines):"; sed 's/^/    /' "$T/err"; fails=$((fails + 1))
    else
        echo "ok   exit $code: $(head -1 "$T/err")"
    fi
}

# --help on every command
for c in $($S --help | awk '/^commands:/{on=1; next} on && NF {print $1}'); do
    $S $c --help >/dev/null 2>&1 || { echo "FAIL: shrink $c --help"; fails=$((fails + 1)); }
done
expect 2 "unknown command" $S frobnicate
expect 2 "missing MODEL" $S run
expect 2 "unknown option" $S bench x --bogus

# ONNX: missing, zero-length, garbage, truncated
expect 1 "nope.onnx" $S inspect "$T/nope.onnx"
: >"$T/empty.onnx"; expect 1 "empty.onnx" $S inspect "$T/empty.onnx"
printf 'this is not protobuf at all \377\377\377' >"$T/garbage.onnx"; expect 1 "garbage.onnx" $S inspect "$T/garbage.onnx"
head -c 30000 samples/zoo/mlp-digits/model.onnx >"$T/trunc.onnx"; expect 1 "trunc.onnx" $S inspect "$T/trunc.onnx"

$PY - "$T" <<'PYEOF'
import sys, numpy as np, onnx
from onnx import numpy_helper
m = onnx.load("samples/zoo/mlp-digits/model.onnx")
w = numpy_helper.to_array(m.graph.initializer[0]).copy(); w.flat[3] = np.nan
m.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, m.graph.initializer[0].name))
onnx.save(m, sys.argv[1] + "/nan.onnx")
PYEOF
expect 1 "NaN" $S inspect "$T/nan.onnx"

# safetensors + config.json, made by numpy: good one first, then broken variants
$PY - "$T" <<'PYEOF'
import json, os, struct, sys
import numpy as np
d = sys.argv[1]
def write(name, tensors, header_patch=None, raw_len=None):
    hdr, off, blobs = {}, 0, []
    for k, a in tensors.items():
        b = a.astype(np.float32).tobytes(); hdr[k] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b); blobs.append(b)
    if header_patch: header_patch(hdr)
    h = json.dumps(hdr).encode()
    os.makedirs(f"{d}/{name}", exist_ok=True)
    with open(f"{d}/{name}/model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", raw_len if raw_len is not None else len(h))); f.write(h); f.write(b"".join(blobs))
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": 1, "n_embd": 8, "n_head": 2,
           "vocab_size": 16, "n_positions": 8, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}
    json.dump(cfg, open(f"{d}/{name}/config.json", "w"))
r = np.random.default_rng(0)
H, V, P = 8, 16, 8
t = {"transformer.wte.weight": r.normal(size=(V, H)), "transformer.wpe.weight": r.normal(size=(P, H)),
     "transformer.ln_f.weight": np.ones(H), "transformer.ln_f.bias": np.zeros(H)}
for p, shp in [("ln_1.weight", (H,)), ("ln_1.bias", (H,)), ("attn.c_attn.weight", (H, 3 * H)), ("attn.c_attn.bias", (3 * H,)),
               ("attn.c_proj.weight", (H, H)), ("attn.c_proj.bias", (H,)), ("ln_2.weight", (H,)), ("ln_2.bias", (H,)),
               ("mlp.c_fc.weight", (H, 4 * H)), ("mlp.c_fc.bias", (4 * H,)), ("mlp.c_proj.weight", (4 * H, H)), ("mlp.c_proj.bias", (H,))]:
    t["transformer.h.0." + p] = r.normal(size=shp)
write("good", t)
write("badoffset", t, lambda h: h["transformer.wte.weight"].__setitem__("data_offsets", [0, 10**9]))
write("baddtype", t, lambda h: h["transformer.wte.weight"].__setitem__("dtype", "F7"))
write("overflow", t, lambda h: h["transformer.wte.weight"].__setitem__("shape", [2**40, 2**40]))
write("hugeheader", t, raw_len=2**60)
nan = dict(t); nan["transformer.h.0.mlp.c_fc.weight"] = t["transformer.h.0.mlp.c_fc.weight"].copy(); nan["transformer.h.0.mlp.c_fc.weight"][1, 2] = np.nan
write("nan", nan)
write("badcfg", t); cfg = json.load(open(f"{d}/badcfg/config.json")); cfg["n_head"] = 3; json.dump(cfg, open(f"{d}/badcfg/config.json", "w"))
write("notjson", t); open(f"{d}/notjson/config.json", "w").write("{n_layer: 1,")
PYEOF
expect 0 "" $S inspect "$T/good"
expect 1 "model.safetensors" $S inspect "$T/badoffset"
expect 1 "model.safetensors" $S inspect "$T/baddtype"
expect 1 "model.safetensors" $S inspect "$T/overflow"
expect 1 "model.safetensors" $S inspect "$T/hugeheader"
expect 1 "NaN" $S inspect "$T/nan"
expect 1 "config.json" $S inspect "$T/badcfg"
expect 1 "config.json" $S inspect "$T/notjson"
head -c 100 "$T/good/model.safetensors" >"$T/trunc.safetensors"; cp "$T/good/config.json" "$T/config.json"
expect 1 "trunc.safetensors" $S inspect "$T/trunc.safetensors"
: >"$T/zero.safetensors"; expect 1 "zero.safetensors" $S inspect "$T/zero.safetensors"

# npy inputs
printf 'NOTNUMPY' >"$T/bad.npy"; expect 1 "bad.npy" $S run samples/zoo/mlp-digits/model.onnx --input input="$T/bad.npy"
$PY -c "import numpy as np; np.save('$T/x.npy', np.zeros((1, 63), np.float32))"
expect 1 "input" $S run samples/zoo/mlp-digits/model.onnx --input input="$T/x.npy"
echo "test_errors: $fails failures"
[ "$fails" = 0 ]
