#!/bin/sh
# demo.sh BUILD — the main job on the bundled sample models: a sweep of the
# sample recipes over bert-fortunes and gpt2-fortunes (shrink sweep: one
# `shrink compress` per recipe, each measured before and after and gated by
# its budgets), the trade-off table of every run, the HTML report with its
# plots (build/demo/report.html, report.svg), and the fp32 figures of
# shrink's runtime next to torch's (samples/zoo/metrics.json).
# Runs go one at a time (-j 1) so that no run's latency is measured while
# another one loads the machine.
set -e
BUILD=${1:-build}
S=$BUILD/shrink
PY=.venv/bin/python
export SHRINK_THREADS=${SHRINK_THREADS:-2}
OUT=build/demo
D=samples/data
rm -rf "$OUT/runs"
mkdir -p "$OUT/runs"

echo "demo: shrink sweep samples/zoo/bert-fortunes --grid samples/recipes/grid-bert.json" >&2
$S sweep samples/zoo/bert-fortunes --grid samples/recipes/grid-bert.json --eval $D/fortunes-test.jsonl \
    --calib $D/fortunes-calib.txt -j 1 -o "$OUT/runs" >/dev/null
echo "demo: shrink sweep samples/zoo/gpt2-fortunes --grid samples/recipes/grid-gpt2.json" >&2
$S sweep samples/zoo/gpt2-fortunes --grid samples/recipes/grid-gpt2.json --eval $D/fortunes-test.txt \
    --calib $D/fortunes-calib.txt -j 1 -o "$OUT/runs" >/dev/null

echo
echo "== trade-offs: shrink report $OUT/runs (bytes = constants in memory; p50 = batch 1, $SHRINK_THREADS threads)"
echo
$S report "$OUT/runs" --format md
$S report "$OUT/runs" --format html -o "$OUT/report.html" --plot "$OUT/report.svg" --force

echo
echo "== fp32 in shrink's runtime vs torch (samples/zoo/metrics.json, same data and protocol)"
$PY - "$OUT/runs" <<'PYEOF'
import json, os, sys
ref = json.load(open("samples/zoo/metrics.json"))
seen = set()
for f in sorted(os.listdir(sys.argv[1])):
    if not f.endswith(".report.json"):
        continue
    r = json.load(open(os.path.join(sys.argv[1], f)))
    model = os.path.basename(r["model"].rstrip("/"))
    if model in seen:
        continue
    seen.add(model)
    metric, v = r["eval"]["metric"], r["baseline"]["value"]
    z = ref.get(model, {})
    t = z.get("test_accuracy") if metric == "accuracy" else z.get("perplexity")
    known = isinstance(t, (int, float))
    torch = f"{t:.6f}" if known else "?"
    diff = f"diff {v - t:+.1e}" if known else "no torch figure"
    print(f"  {model:<16} {metric:<10} shrink {v:.6f}   torch {torch}   {diff}   ({r['eval']['data']})")
PYEOF

echo
echo "report: $OUT/report.html (table + plots), $OUT/report.svg; runs and logs in $OUT/runs/"
GEN="$OUT/runs/gpt2-int8.skm"
if [ -f "$GEN" ]; then
    echo
    echo "generation: $S generate $GEN --prompt 'The computer' -n 30"
    $S generate "$GEN" --prompt "The computer" -n 30
fi
