"""test_sweep.py — `shrink sweep`, `shrink report --plot / --format html` and `shrink compress --auto`.

Checks (each case prints what it measured):
  - a sweep of three recipes at -j 2 (a recipe file named relative to the grid, an inline
    recipe failing its gate, an inline recipe failing with an error): a progress line per
    run, the failed gate is a result (a report, no artifact), the error is one (exit 1, its
    log named), stdout is exactly `shrink report` of the runs' reports, --json carries the
    same; an existing output is refused before anything runs; bad grids fail in one line
    naming the entry, before any work;
  - SIGINT to the sweep, and to its whole process group as a terminal's Ctrl-C does, while
    its runs work: every child gone, no artifact, report or hidden temporary left;
  - the plot is well-formed XML with one point per row in each panel, every row labelled,
    a Pareto step line per panel; the HTML page is one file (no external reference) with
    the table (a row per report row) and the plot inline;
  - --auto on the digits MLP: the best configuration meets the goal, is smaller than plain
    int8 (the reference trial of its own log) and is rebuilt exactly by OUT.recipe.json;
    with a budget nothing can meet (min_speedup 100) it still writes the closest and exits
    3; a tiny time budget stops the search and says so; usage errors exit 2;
  - --auto on bert-fortunes with max-drop 0.5 (the acceptance case): a configuration smaller
    than plain int8 meets the goal.
Run: SHRINK=build/shrink ROOT=. .venv/bin/python tests/py/test_sweep.py
"""
import html.parser
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_check import ROOT, SHRINK, check, failures, run  # noqa: E402
DATA = os.path.join(ROOT, "samples", "data")
RECIPES = os.path.join(ROOT, "samples", "recipes")
MLP = os.path.join(ROOT, "samples", "zoo", "mlp-digits", "model.onnx")
DIGITS = os.path.join(DATA, "digits-test.jsonl")
BERT = os.path.join(ROOT, "samples", "zoo", "bert-fortunes")

def have_model(d):
    return os.path.isdir(d) and any(f.endswith(".safetensors") for f in os.listdir(d))


def write(path, obj):
    with open(path, "w") as f:
        f.write(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def hidden_temps(d):
    return [n for n in os.listdir(d) if n.startswith(".") and ".tmp" in n]


def test_sweep(tmp):
    shutil.copy(os.path.join(RECIPES, "digits-mlp-int8.json"), os.path.join(tmp, "mlp8.json"))
    grid = write(os.path.join(tmp, "grid.json"), {"name": "t", "recipes": [
        "mlp8.json",
        {"name": "mlp-int4-fast", "passes": [{"pass": "quantize", "bits": 4, "group": 32}], "budgets": {"min_speedup": 100}},
        {"name": "mlp-gptq-nocalib", "passes": [{"pass": "quantize", "bits": 4, "group": 32, "method": "gptq"}]}]})
    out = os.path.join(tmp, "runs")
    r = run("sweep", MLP, "--grid", grid, "--eval", DIGITS, "-j", "2", "-o", out)
    err = r.stderr.splitlines()
    print("      " + "\n      ".join(err))
    check(r.returncode == 1, f"a run with an error makes the sweep exit 1 (exit {r.returncode})")
    for k in (1, 2, 3):
        check(any(f"[{k}/3]" in line for line in err), f"progress line [{k}/3]")
    check(any("digits-mlp-int8: pass" in line for line in err), "the passing run says pass")
    check(any("mlp-int4-fast: gate failed (min_speedup)" in line for line in err), "the failed gate is a result naming the budget")
    check(any("mlp-gptq-nocalib: error (exit 2)" in line and "--calib" in line and "mlp-gptq-nocalib.log" in line for line in err),
          "the error names its exit, its last line and its log")
    names = sorted(os.listdir(out))
    check("digits-mlp-int8.skm" in names and "mlp-int4-fast.skm" not in names and "mlp-gptq-nocalib.skm" not in names,
          f"artifact only for the passing run ({names})")
    reps = [os.path.join(out, n) for n in ("digits-mlp-int8.skm.report.json", "mlp-int4-fast.skm.report.json")]
    check(all(os.path.exists(p) for p in reps) and not os.path.exists(os.path.join(out, "mlp-gptq-nocalib.skm.report.json")),
          "reports of the two runs that measured")
    check(os.path.exists(os.path.join(out, "mlp-int4-fast.recipe.json")), "inline recipes saved beside their runs")
    rep = run("report", *reps, "--format", "md")
    check(rep.returncode == 0 and r.stdout == rep.stdout, "stdout is `shrink report` of the runs' reports")
    again = run("sweep", MLP, "--grid", grid, "--eval", DIGITS, "-o", out)
    check(again.returncode == 1 and "exists" in again.stderr and "started" not in again.stderr,
          f"existing outputs refused before any run: {again.stderr.strip()}")
    js = run("sweep", MLP, "--grid", grid, "--eval", DIGITS, "-o", out, "--force", "--json")
    o = json.loads(js.stdout)
    check([x["status"] for x in o["runs"]] == ["pass", "gate", "error"], f"--json statuses {[x['status'] for x in o['runs']]}")
    check(len(o["rows"]) == 3 and o["rows"][0]["baseline"], "--json rows: the baseline and the two measured runs")
    return reps


def test_bad_grids(tmp):
    out = os.path.join(tmp, "never")
    cases = [
        ("duplicate names", ["x.json", "x.json"], ["recipes[0]", "recipes[1]", "both named"]),
        ("unknown key", {"recipes": ["x.json"], "recipies": []}, ["'recipies'"]),
        ("bad inline recipe", {"recipes": ["x.json", {"name": "b", "passes": [{"pass": "quantise"}]}]}, ["recipes[1]", "quantise"]),
        ("inline without a name", [{"passes": [{"pass": "quantize"}]}], ["recipes[0]", "name"]),
        ("name with a slash", [{"name": "a/b", "passes": [{"pass": "quantize"}]}], ["recipes[0]", "a/b"]),
        ("missing file", ["nope.json"], ["recipes[0]", "nope.json"]),
        ("empty", [], ["non-empty"]),
    ]
    write(os.path.join(tmp, "x.json"), {"name": "x", "passes": [{"pass": "quantize"}]})
    for what, obj, needles in cases:
        g = write(os.path.join(tmp, "bad-grid.json"), obj)
        r = run("sweep", MLP, "--grid", g, "--eval", DIGITS, "-o", out)
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 1 and len(lines) == 1 and all(n in r.stderr for n in needles) and not os.path.exists(out),
              f"bad grid ({what}): exit {r.returncode}: {lines}")
    r = run("sweep", MLP, "--grid", os.path.join(tmp, "x.json"), "--eval", DIGITS, "-o", out, "-j", "0")
    check(r.returncode == 2, f"-j 0 is a usage error (exit {r.returncode})")


def test_interrupt(tmp):
    if have_model(BERT):
        model, data, rec = BERT, os.path.join(DATA, "fortunes-test.jsonl"), "bert-int8.json"
    else:
        print("      note: no bert-fortunes model; interrupting the digits MLP (its runs may end first)")
        model, data, rec = MLP, DIGITS, "digits-mlp-int8.json"
    grid = write(os.path.join(tmp, "grid-int.json"), [os.path.abspath(os.path.join(RECIPES, rec)),
                                                      {"name": "second", "passes": [{"pass": "fuse"}, {"pass": "quantize", "bits": 4}]}])
    for how in ("the sweep", "its process group"):
        out = os.path.join(tmp, "int-" + how.split()[-1])
        p = subprocess.Popen([SHRINK, "sweep", model, "--grid", grid, "--eval", data, "-j", "2", "-o", out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True)
        pids = []
        while len(pids) < 2:
            line = p.stderr.readline()
            if not line:
                break
            if "started" in line:
                pids.append(int(line.rsplit("pid ", 1)[1].rstrip(")\n")))
        time.sleep(0.3)
        if how == "the sweep":
            p.send_signal(signal.SIGINT)
        else:
            os.killpg(p.pid, signal.SIGINT)
        _, rest = p.communicate(timeout=60)
        alive = []
        for pid in pids:
            try:
                os.kill(pid, 0)
                alive.append(pid)
            except ProcessLookupError:
                pass
        left = sorted(os.listdir(out))
        artifacts = [n for n in left if n.endswith((".skm", ".report.json", ".report.md"))]
        print(f"      SIGINT to {how}: exit {p.returncode}; {rest.strip().splitlines()[-1:]}; left in DIR: {left}")
        check(p.returncode == 1 and "interrupted" in rest, f"SIGINT to {how}: exit 1, says interrupted")
        check(len(pids) == 2 and not alive, f"SIGINT to {how}: both children gone ({pids})")
        finished = rest.count("/2] ")   # a run that finished before the signal keeps its outputs
        check(len(artifacts) == 3 * finished and not hidden_temps(out),
              f"SIGINT to {how}: no partial artifact or temporary ({finished} run(s) had finished)")


def test_plot_html(tmp, reps):
    svg, page = os.path.join(tmp, "p.svg"), os.path.join(tmp, "r.html")
    r = run("report", *reps, "--plot", svg, "--format", "html", "-o", page)
    check(r.returncode == 0 and r.stdout == "", f"report --plot --format html -o: exit {r.returncode} {r.stderr.strip()}")
    rows = json.loads(run("report", *reps, "--format", "json").stdout)
    ns = {"s": "http://www.w3.org/2000/svg"}
    root = ET.parse(svg).getroot()   # well-formed XML or it raises
    pts = [e for e in root.iter() if "pt" in (e.get("class") or "").split()]
    size = [e for e in pts if "size" in e.get("class")]
    lat = [e for e in pts if "latency" in e.get("class")]
    check(len(size) == len(rows) and len(lat) == len(rows), f"one point per row in each panel: {len(size)}, {len(lat)} for {len(rows)} rows")
    check(sum(e.tag.endswith("rect") for e in size) == sum(r["baseline"] for r in rows), "the baseline is the square marker")
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    check(all(any(x["name"].split()[-1].split("/")[-1] in (t or "") for t in labels) for x in rows), "every row labelled")
    check(len(root.findall(".//s:path[@class='front']", ns)) == 2, "a Pareto step line in each panel")
    check(any("MB of constants" in (t or "") for t in labels) and any("latency p50" in (t or "") for t in labels), "axis labels")
    text = open(page).read()

    class Page(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.tr, self.svg, self.ext = 0, 0, []

        def handle_starttag(self, tag, attrs):
            self.tr += tag == "tr"
            self.svg += tag == "svg"
            self.ext += [v for k, v in attrs if k in ("src", "href") and v]

    pg = Page()
    pg.feed(text)
    check(pg.tr == len(rows) + 1 and pg.svg == 1 and not pg.ext, f"html: {pg.tr} table rows, {pg.svg} svg, external refs {pg.ext}")
    r = run("report", *reps, "--plot", svg)
    check(r.returncode == 1 and "exists" in r.stderr, "an existing plot is refused without --force")
    r = run("report", *reps, "--plot", os.path.join(tmp, "p.png"))
    check(r.returncode == 2, "--plot wants .svg (exit 2)")


def auto(out, *extra):
    r = run("compress", MLP, "--auto", "--eval", DIGITS, "-o", out, "--force", *extra)
    rep = json.load(open(out + ".report.json")) if os.path.exists(out + ".report.json") else None
    return r, rep


def test_auto_mlp(tmp):
    out = os.path.join(tmp, "mlp-auto.skm")
    r, rep = auto(out, "--max-drop", "0.5")
    check(r.returncode == 0 and os.path.exists(out) and rep, f"--auto on the MLP: exit {r.returncode}")
    se = rep["search"]
    trials = {t["id"]: t for t in se["trials"]}
    best, ref = trials[se["best"]], trials[se["int8_reference"]]
    print(f"      {len(trials)} trials in {se['seconds']:.1f}s; best #{best['id']} {best['what']}: {best['bytes']:.0f} B, "
          f"loss {best['loss']:.3g}pt; plain int8 {ref['bytes']:.0f} B; {se['conclusion']}")
    check(best["met"] and best["loss"] <= 0.5, "the best meets the goal")
    check(best["bytes"] < ref["bytes"], "smaller than plain int8")
    check(rep["gate"]["passed"] and abs(rep["compressed"]["const_bytes"] - best["bytes"]) < 0.5 and
          abs(rep["compressed"]["value"] - best["value"]) < 1e-12, "the written model is the best trial, measured again")
    check(all(t["phase"] in ("reference", "aggressive", "sensitivity", "single") or t["phase"].startswith("cumulative")
              for t in trials.values()), "every trial has a phase")
    md = open(out + ".report.md").read()
    check("## Search (--auto)" in md and se["conclusion"] in md, "the markdown report has the search log")
    again = os.path.join(tmp, "mlp-rerun.skm")
    r2 = run("compress", MLP, "--recipe", out + ".recipe.json", "--eval", DIGITS, "-o", again)
    rep2 = json.load(open(again + ".report.json"))
    check(r2.returncode == 0 and rep2["compressed"]["const_bytes"] == rep["compressed"]["const_bytes"] and
          rep2["compressed"]["value"] == rep["compressed"]["value"], "OUT.recipe.json rebuilds the same model")

    r, rep = auto(os.path.join(tmp, "mlp-never.skm"), "--max-drop", "0.5", "--min-speedup", "100")
    se = rep and rep["search"]
    check(r.returncode == 3 and os.path.exists(os.path.join(tmp, "mlp-never.skm")) and se and not se["met"] and
          se["best"] is None and se["written"] is not None, f"no configuration meets min_speedup 100: exit {r.returncode}, closest written")
    check(se and "no configuration met" in se["conclusion"] and not rep["gate"]["passed"] and rep["written"],
          f"  conclusion: {se and se['conclusion']}")
    r, rep = auto(os.path.join(tmp, "mlp-hurry.skm"), "--max-drop", "0.5", "--budget", "0.001s")
    se = rep and rep["search"]
    check(r.returncode in (0, 3) and se and se["stopped"] == "time budget reached", f"a tiny --budget stops the search: {se and se['stopped']}")
    for args, what in ((["--max-drop", "1"], "--recipe with --auto"), ([], "--auto without --max-drop"),
                       (["--max-drop", "1", "--budget", "soon"], "bad --budget"), (["--max-drop", "1", "--objective", "speed"], "bad --objective")):
        extra = ["--recipe", os.path.join(RECIPES, "digits-mlp-int8.json")] if "recipe" in what else []
        r = run("compress", MLP, "--auto", *args, *extra, "--eval", DIGITS, "-o", os.path.join(tmp, "u.skm"))
        check(r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, f"usage: {what} (exit {r.returncode})")


def test_auto_bert(tmp):
    if not have_model(BERT):
        print("      note: no bert-fortunes model; skipping the acceptance case")
        return
    out = os.path.join(tmp, "bert-auto.skm")
    r = run("compress", BERT, "--auto", "--max-drop", "0.5", "--eval", os.path.join(DATA, "fortunes-test.jsonl"),
            "--calib", os.path.join(DATA, "fortunes-calib.txt"), "-o", out)
    rep = json.load(open(out + ".report.json"))
    se = rep["search"]
    trials = {t["id"]: t for t in se["trials"]}
    ref = trials[se["int8_reference"]]
    print(f"      exit {r.returncode}, {len(trials)} trials, {se['seconds']:.1f}s: {se['conclusion']}")
    best = trials.get(se["best"]) if se["best"] is not None else None
    check(r.returncode == 0 and best and best["met"] and best["bytes"] < ref["bytes"],
          "bert-fortunes, max-drop 0.5: a configuration smaller than plain int8 meets the goal")


def main():
    tmp = tempfile.mkdtemp(prefix="shrink-sweep-")
    try:
        reps = test_sweep(tmp)
        test_bad_grids(tmp)
        test_plot_html(tmp, reps)
        test_interrupt(tmp)
        test_auto_mlp(tmp)
        test_auto_bert(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
