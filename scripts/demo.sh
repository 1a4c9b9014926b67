#!/bin/sh
# demo.sh BUILD — the bundled sample models through shrink's runtime: for each,
# its size, accuracy or perplexity (measured now, next to torch's figure from
# samples/zoo/metrics.json) and latency.  Compression rows join this table as
# the quantize / prune / distill passes land.
set -e
BUILD=${1:-build}
S=$BUILD/shrink
PY=.venv/bin/python
export SHRINK_THREADS=${SHRINK_THREADS:-2}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
row() {  # name model data seq
    name=$1 model=$2 data=$3 seq=$4
    $S inspect "$model" --json > "$tmp/i.json"
    $S eval "$model" --data "$data" --json > "$tmp/e.json"
    $S bench "$model" --seq "$seq" --iters 20 --json > "$tmp/b.json"
    $PY - "$name" "$tmp" <<'PYEOF'
import json, sys
name, d = sys.argv[1], sys.argv[2]
i, e, b = (json.load(open(f"{d}/{k}.json")) for k in "ieb")
ref = json.load(open("samples/zoo/metrics.json")).get(name.split()[0], {})
torch = ref.get("test_accuracy", ref.get("perplexity", {}).get("value") if isinstance(ref.get("perplexity"), dict) else ref.get("perplexity"))
metric = f"{e['metric'][:3]} {e['value']:.4f}"
print(f"{name:<26} {i['params']:>10,} {i['bytes']/2**20:>8.2f} MiB  {metric:<14} {('%.4f' % torch) if torch is not None else '-':>8}  {b['p50_ms']:>8.3f} ms")
PYEOF
}
echo
echo "shrink demo: the zoo in shrink's own runtime ($SHRINK_THREADS threads)"
printf '%-26s %10s %12s  %-14s %8s  %11s\n' model params size "shrink" "torch" "p50"
row "bert-fortunes (hf)" samples/zoo/bert-fortunes samples/data/fortunes-test.jsonl 64
row "bert-fortunes (onnx)" build/zoo/bert-fortunes/model.onnx samples/data/fortunes-test.jsonl 64
row "gpt2-fortunes (hf)" samples/zoo/gpt2-fortunes samples/data/fortunes-test.txt 128
row "mlp-digits" samples/zoo/mlp-digits/model.onnx samples/data/digits-test.jsonl 1
row "cnn-digits" samples/zoo/cnn-digits/model.onnx samples/data/digits-test.jsonl 1
row "rnn-digits" samples/zoo/rnn-digits/model.onnx samples/data/digits-test.jsonl 1
echo
echo "generation: $S generate samples/zoo/gpt2-fortunes --prompt 'The computer' -n 30"
$S generate samples/zoo/gpt2-fortunes --prompt "The computer" -n 30
