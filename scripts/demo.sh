#!/bin/sh
# demo.sh BUILD — compress the bundled sample models and print what each
# choice cost: size, accuracy or perplexity (measured now in shrink's runtime,
# the fp32 row next to torch's figure from samples/zoo/metrics.json) and
# latency p50, each compressed row against its fp32 baseline.
set -e
BUILD=${1:-build}
S=$BUILD/shrink
PY=.venv/bin/python
export SHRINK_THREADS=${SHRINK_THREADS:-2}
OUT=build/demo
mkdir -p "$OUT"
ROWS="$OUT/rows.jsonl"
: >"$ROWS"
D=samples/data

# row NAME MODEL DATA SEQ [BASELINE_NAME]
row() {
    name=$1 model=$2 data=$3 seq=$4 base=${5:-}
    echo "demo: measuring $name" >&2
    i=$($S inspect "$model" --json)
    e=$($S eval "$model" --data "$data" --json)
    b=$($S bench "$model" --seq "$seq" --iters 20 --json)
    size=$(du -b "$model" 2>/dev/null | tail -1 | cut -f1)
    [ -d "$model" ] && size=$(du -b "$model"/model.safetensors | cut -f1)
    printf '{"name": "%s", "base": "%s", "file_bytes": %s, "inspect": %s, "eval": %s, "bench": %s}\n' \
        "$name" "$base" "$size" "$i" "$e" "$b" >>"$ROWS"
}
q() {  # NAME MODEL ARGS...  → $OUT/NAME.skm
    name=$1 model=$2; shift 2
    echo "demo: shrink quantize $model $* -o $OUT/$name.skm" >&2
    $S quantize "$model" "$@" -o "$OUT/$name.skm" --force >/dev/null
}

row "bert-fortunes fp32" samples/zoo/bert-fortunes $D/fortunes-test.jsonl 64
q bert-int8 samples/zoo/bert-fortunes --bits 8
row "bert-fortunes W8A8" $OUT/bert-int8.skm $D/fortunes-test.jsonl 64 "bert-fortunes fp32"
q bert-int4 samples/zoo/bert-fortunes --bits 4 --group 64 --method gptq --calib $D/fortunes-calib.txt --calib-n 64
row "bert-fortunes int4 gptq g64" $OUT/bert-int4.skm $D/fortunes-test.jsonl 64 "bert-fortunes fp32"
row "gpt2-fortunes fp32" samples/zoo/gpt2-fortunes $D/fortunes-test.txt 128
q gpt2-int8 samples/zoo/gpt2-fortunes --bits 8
row "gpt2-fortunes W8A8" $OUT/gpt2-int8.skm $D/fortunes-test.txt 128 "gpt2-fortunes fp32"
q gpt2-int4 samples/zoo/gpt2-fortunes --bits 4 --group 128 --method gptq --calib $D/fortunes-calib.txt --calib-n 64
row "gpt2-fortunes int4 gptq g128" $OUT/gpt2-int4.skm $D/fortunes-test.txt 128 "gpt2-fortunes fp32"
row "mlp-digits fp32" samples/zoo/mlp-digits/model.onnx $D/digits-test.jsonl 1
q mlp-int8 samples/zoo/mlp-digits/model.onnx --bits 8 --head int8
row "mlp-digits W8A8" $OUT/mlp-int8.skm $D/digits-test.jsonl 1 "mlp-digits fp32"

$PY - "$ROWS" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {r["name"]: r for r in rows}
ref = json.load(open("samples/zoo/metrics.json"))
print()
def ms(v):
    return f"{v * 1000:.1f}us" if v < 0.1 else f"{v:.2f}ms"
print(f"{'model':<30} {'size':>10} {'ratio':>6}  {'metric':<18} {'delta':>9}  {'torch fp32':>10}  {'p50':>9} {'speedup':>7}")
for r in rows:
    e, b = r["eval"], r["bench"]
    m = "acc" if e["metric"] == "accuracy" else "ppl"
    base = by.get(r["base"])
    size = r["file_bytes"] / 2**20
    ratio = f"{r['file_bytes'] / base['file_bytes']:.2f}x" if base else "1.00x"
    if base:
        d = e["value"] - base["eval"]["value"]
        delta = f"{100 * d:+.2f}pt" if m == "acc" else f"{100 * d / base['eval']['value']:+.2f}%"
        speed = f"{base['bench']['p50_ms'] / b['p50_ms']:.2f}x"
        torch = ""
    else:
        delta, speed = "", "1.00x"
        z = ref.get(r["name"].split()[0], {})
        t = z.get("test_accuracy", z.get("perplexity"))
        torch = f"{t:.4f}" if isinstance(t, (int, float)) else ""
    print(f"{r['name']:<30} {size:>7.2f}MiB {ratio:>6}  {m} {e['value']:<14.4f} {delta:>9}  {torch:>10}  {ms(b['p50_ms']):>9} {speed:>7}")
print("\nsize = artifact bytes (fp32: model.safetensors / .onnx; compressed: .skm); p50 = shrink bench latency,"
      " batch 1, seq 64 (bert) / 128 (gpt2) / 1 (mlp), %s threads" % __import__("os").environ.get("SHRINK_THREADS", "2"))
PYEOF
echo
echo "generation: $S generate $OUT/gpt2-int4.skm --prompt 'The computer' -n 30"
$S generate $OUT/gpt2-int4.skm --prompt "The computer" -n 30
