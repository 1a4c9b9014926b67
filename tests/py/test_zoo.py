"""test_zoo.py — every zoo model through both import paths against the references.

For each model: shrink's outputs vs onnxruntime on the same inputs (max abs
diff <= 1e-4, worst printed), and shrink eval's accuracy / perplexity equal
to torch's figure in samples/zoo/metrics.json to 3 decimals.  GPT-2: greedy
generation with the KV cache gives the same tokens as transformers' generate.
"""
import json, os, subprocess, sys, tempfile

import numpy as np
import onnxruntime as ort

ROOT = os.environ.get("ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SHRINK = os.environ.get("SHRINK", os.path.join(ROOT, "build", "shrink"))
ZOO, BZOO, DATA = (os.path.join(ROOT, p) for p in ("samples/zoo", "build/zoo", "samples/data"))
METRICS = json.load(open(os.path.join(ZOO, "metrics.json")))
TOL = 1e-4
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def sh(*args):
    r = subprocess.run([SHRINK, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"shrink {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def shrink_run(model, feeds, tmp):
    args = ["run", model, "--out", os.path.join(tmp, "out"), "--force"]
    for k, v in feeds.items():
        p = os.path.join(tmp, k + ".npy")
        np.save(p, v)
        args += ["--input", f"{k}={p}"]
    sh(*args)
    return lambda name: np.load(os.path.join(tmp, "out", name + ".npy"))


def ort_run(onnx_path, feeds):
    s = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    names = [i.name for i in s.get_inputs()]
    outs = s.run(None, {k: v for k, v in feeds.items() if k in names})
    return {o.name: v for o, v in zip(s.get_outputs(), outs)}


def compare(label, model, onnx_path, feeds, tmp, feeds_shrink=None):
    ref = ort_run(onnx_path, feeds)
    got = shrink_run(model, feeds_shrink if feeds_shrink is not None else feeds, tmp)
    worst = max(float(np.abs(got(n).astype(np.float64) - r).max()) for n, r in ref.items())
    check(worst <= TOL, f"{label}: outputs vs onnxruntime, max abs diff {worst:.3g} (tol {TOL})")


def eval_metric(model, data, key_value, label):
    out = json.loads(sh("eval", model, "--data", data, "--json"))
    ok = round(out["value"], 3) == round(key_value, 3)
    extra = f" n_ctx {out['n_ctx']}" if "n_ctx" in out else ""
    check(ok, f"{label}: shrink {out['metric']} {out['value']:.5f} vs torch {key_value:.5f}{extra}")


def digits(tmp):
    rows = [json.loads(l) for l in open(os.path.join(DATA, "digits-test.jsonl"))][:32]
    x = np.array([r["input"] for r in rows], dtype=np.float32)
    for name in ("mlp-digits", "cnn-digits", "rnn-digits", "rnn-gru-digits"):
        path = os.path.join(ZOO, name, "model.onnx")
        if not os.path.exists(path):
            check(False, f"{name}: {path} missing")
            continue
        shape = METRICS[name]["input_shape"]
        xin = x.reshape([len(rows)] + [d for d in shape[1:]])
        compare(f"{name} (onnx)", path, path, {"input": xin}, tmp)
        eval_metric(path, os.path.join(DATA, "digits-test.jsonl"), METRICS[name]["test_accuracy"], f"{name} (onnx)")


def bert(tmp):
    from transformers import BertTokenizer
    hf = os.path.join(ZOO, "bert-fortunes")
    tok = BertTokenizer(os.path.join(hf, "vocab.txt"), do_lower_case=True)
    texts = [json.loads(l)["text"] for l in open(os.path.join(DATA, "fortunes-test.jsonl"))][:6]
    onnx_dyn = os.path.join(BZOO, "bert-fortunes", "model.onnx")
    onnx_static = os.path.join(BZOO, "bert-fortunes", "model-static.onnx")
    for i, t in enumerate(texts):
        ids = np.array([tok.encode(t, truncation=True, max_length=64)], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        compare(f"bert-fortunes (hf) text {i}", hf, onnx_dyn, feeds, tmp)
        compare(f"bert-fortunes (onnx) text {i}", onnx_dyn, onnx_dyn, feeds, tmp)
        # the static export takes exactly [1, 64]: pad, mask the padding
        pad = np.zeros((1, 64), dtype=np.int64)
        pad[0, :ids.shape[1]] = ids[0]
        mask = (np.arange(64) < ids.shape[1]).astype(np.int64)[None]
        sfeeds = {"input_ids": pad, "attention_mask": mask, "token_type_ids": np.zeros_like(pad)}
        compare(f"bert-fortunes (onnx static) text {i}", onnx_static, onnx_static, sfeeds, tmp)
        compare(f"bert-fortunes (hf, padded) text {i}", hf, onnx_static, sfeeds, tmp)
    bm = os.path.join(BZOO, "bert-fortunes", "bertmodel.onnx")
    ids = np.array([tok.encode(texts[0])], dtype=np.int64)
    compare("bert-fortunes BertModel (onnx)", bm, bm,
            {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}, tmp)
    acc = METRICS["bert-fortunes"]["test_accuracy"]
    test = os.path.join(DATA, "fortunes-test.jsonl")
    eval_metric(hf, test, acc, "bert-fortunes (hf)")
    eval_metric(onnx_dyn, test, acc, "bert-fortunes (onnx)")


def gpt2(tmp):
    import torch
    from transformers import GPT2LMHeadModel, GPT2Tokenizer
    hf = os.path.join(ZOO, "gpt2-fortunes")
    tok = GPT2Tokenizer(os.path.join(hf, "vocab.json"), os.path.join(hf, "merges.txt"))
    text = open(os.path.join(DATA, "fortunes-test.txt")).read()
    ids = tok.encode(text)
    onnx_dyn = os.path.join(BZOO, "gpt2-fortunes", "model.onnx")
    for i, (b, s) in enumerate([(1, 128), (1, 7), (2, 33)]):
        x = np.array([ids[k * s:(k + 1) * s] for k in range(b)], dtype=np.int64)
        feeds = {"input_ids": x, "attention_mask": np.ones_like(x)}
        compare(f"gpt2-fortunes (hf) [{b},{s}]", hf, onnx_dyn, feeds, tmp)
        compare(f"gpt2-fortunes (onnx) [{b},{s}]", onnx_dyn, onnx_dyn, feeds, tmp)
    ppl = METRICS["gpt2-fortunes"]["perplexity"]
    ppl = ppl["value"] if isinstance(ppl, dict) else ppl
    test = os.path.join(DATA, "fortunes-test.txt")
    eval_metric(hf, test, ppl, "gpt2-fortunes (hf)")
    eval_metric(onnx_dyn, test, ppl, "gpt2-fortunes (onnx)")
    # greedy generation: KV cache (hf import) and full recompute (onnx import) vs transformers
    model = GPT2LMHeadModel.from_pretrained(hf).eval()
    prompt = "The computer"
    with torch.no_grad():
        ref = model.generate(torch.tensor([tok.encode(prompt)]), max_new_tokens=24, do_sample=False,
                             pad_token_id=0)[0].tolist()
    want = tok.decode(ref)
    for m in (hf, onnx_dyn):
        got = sh("generate", m, "--prompt", prompt, "-n", "24").rstrip("\n")
        check(got == want, f"gpt2-fortunes generate ({os.path.basename(m)}): greedy text equals transformers'"
              + ("" if got == want else f"\n  shrink: {got!r}\n  torch:  {want!r}"))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for part in (digits, bert, gpt2):
            try:
                part(tmp)
            except Exception as e:  # a crash of one part is a failure, not an abort of the others
                check(False, f"{part.__name__}: {e}")
    print(f"test_zoo: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
