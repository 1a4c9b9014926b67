"""test_skm_zoo.py — every zoo model through `shrink convert` to .skm and back.

For each model present (samples/zoo/*/model.onnx, the Hugging Face folders
samples/zoo/bert-fortunes and gpt2-fortunes when they hold a checkpoint, and
build/zoo/*/*.onnx), with and without --zstd 3:
  - `shrink run` on the .skm gives outputs bit-identical (np.array_equal) to
    `shrink run` on the original, on the same inputs;
  - `shrink eval` on the .skm gives the same figure as on the original (text
    models: the .skm sits alone in a temp folder, so the tokenizer it uses is
    the one embedded in it); `run --text` agrees as well;
  - the file itself is read back by an independent reader of the spec
    (docs/formats.md) written here: preamble, header checksum and every
    payload's XXH64 checked with the reference libxxhash, zstd payloads
    decompressed with the zstd command-line tool.
And the command itself: refuses to overwrite without --force (exit 1, one
line), writes .onnx, refuses .safetensors for a non-transformer, --help works.
"""
import ctypes, ctypes.util, glob, json, os, shutil, struct, subprocess, sys, tempfile

import numpy as np

ROOT = os.environ.get("ROOT", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SHRINK = os.environ.get("SHRINK", os.path.join(ROOT, "build", "shrink"))
ZOO, BZOO, DATA = (os.path.join(ROOT, p) for p in ("samples/zoo", "build/zoo", "samples/data"))
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def sh(*args, ok=True):
    r = subprocess.run([SHRINK, *args], capture_output=True, text=True)
    if ok and r.returncode != 0:
        raise RuntimeError(f"shrink {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def models():
    found = [p for p in sorted(glob.glob(os.path.join(ZOO, "*", "model.onnx")))]
    for name in ("bert-fortunes", "gpt2-fortunes"):
        d = os.path.join(ZOO, name)
        if os.path.exists(os.path.join(d, "config.json")):
            found.append(d)
    # the fortunes exports; not the 400+ MB bench shapes (no tokenizer, minutes per case)
    found += sorted(glob.glob(os.path.join(BZOO, "*-fortunes", "model.onnx")))
    return found


def feeds_for(info, rs):
    """Inputs for a model from `shrink inspect --json`: dynamic dims 2 (first) / 8, ids in the vocabulary."""
    vocab = info["arch"].get("vocab") or 100
    feeds = {}
    for inp in info["inputs"]:
        dims = [d if isinstance(d, int) and d >= 0 else (2 if i == 0 else 8) for i, d in enumerate(inp["dims"])]
        name, dt = inp["name"], inp["dtype"]
        if dt == "f32":
            feeds[name] = rs.randn(*dims).astype(np.float32)
        elif dt in ("i64", "i32"):
            npdt = np.int64 if dt == "i64" else np.int32
            if "mask" in name:
                a = np.ones(dims)
            elif "position" in name:
                a = np.broadcast_to(np.arange(dims[-1]), dims)
            elif "ids" in name and "type" not in name:
                a = rs.randint(0, vocab, size=dims)
            else:
                a = np.zeros(dims)
            feeds[name] = np.ascontiguousarray(a).astype(npdt)
        elif dt == "bool":
            feeds[name] = np.ones(dims, dtype=bool)
        else:
            raise RuntimeError(f"no test input for dtype {dt} ({name})")
    return feeds


def run_outputs(model, feeds, tmp, tag):
    out = os.path.join(tmp, "out-" + tag)
    args = ["run", model, "--out", out, "--force"]
    for k, v in feeds.items():
        p = os.path.join(tmp, f"in-{k}.npy")
        np.save(p, v)
        args += ["--input", f"{k}={p}"]
    sh(*args)
    return {f[:-4]: np.load(os.path.join(out, f)) for f in sorted(os.listdir(out)) if f.endswith(".npy")}


def eval_data(info):
    fam, task = info["arch"]["family"], info["arch"]["task"]
    if fam in ("mlp", "cnn", "rnn"):
        return os.path.join(DATA, "digits-test.jsonl"), []
    if fam == "bert" and task == "seq-classification":
        return os.path.join(DATA, "fortunes-test.jsonl"), []
    if fam == "gpt2":
        return os.path.join(DATA, "fortunes-test.txt"), ["--limit", "8"]
    return None, []


# ---- an independent reader of the .skm spec ----

def xxh64_lib():
    name = ctypes.util.find_library("xxhash") or "libxxhash.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        return None
    lib.XXH64.restype = ctypes.c_uint64
    lib.XXH64.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint64]
    return lambda b: lib.XXH64(b, len(b), 0)


XXH64 = xxh64_lib()
ZSTD = shutil.which("zstd")


def spec_check(path):
    """Check the file against docs/formats.md: (problems, payloads, zstd payloads, header)."""
    b = open(path, "rb").read()
    bad = []
    if b[:8] != b"\x89SKM\r\n\x1a\n":
        return ["magic"], 0, 0, {"tensors": [], "files": []}
    version, flags, hlen, hhash = struct.unpack_from("<IIQQ", b, 8)
    if version != 1 or flags != 0:
        bad.append(f"version {version} flags {flags}")
    header = b[32:32 + hlen]
    if XXH64 and XXH64(header) != hhash:
        bad.append("header xxh64")
    h = json.loads(header)
    d = (32 + hlen + 63) // 64 * 64
    if len(b) != d + h["data_bytes"]:
        bad.append(f"file length {len(b)} != {d} + {h['data_bytes']}")
    if any(b[32 + hlen:d]):
        bad.append("header padding not zero")
    payloads = [(f"tensor {t['name']}", t["data"]) for t in h["tensors"] if "data" in t]
    payloads += [(f"file {f['name']}", f["data"]) for f in h["files"]]
    end, n_z = 0, 0
    for what, p in payloads:   # the writer's order: each at the next multiple of 64
        if p["offset"] != (end + 63) // 64 * 64:
            bad.append(f"{what}: offset {p['offset']}, expected the first multiple of 64 after {end}")
        raw = b[d + p["offset"]:d + p["offset"] + p["size"]]
        if p["compression"] == "zstd":
            n_z += 1
            if ZSTD:
                raw = subprocess.run([ZSTD, "-d", "-c", "-q"], input=raw, capture_output=True).stdout
            else:
                raw = None
        if raw is not None and len(raw) != p["raw_size"]:
            bad.append(f"{what}: {len(raw)} raw bytes, header says {p['raw_size']}")
        if raw is not None and XXH64 and f"{XXH64(raw):016x}" != p["xxh64"]:
            bad.append(f"{what}: xxh64")
        end = p["offset"] + p["size"]
    return bad, len(payloads), n_z, h


def main():
    if not XXH64:
        print("note: libxxhash not found: checksums not cross-checked")
    if not ZSTD:
        print("note: zstd tool not found: zstd payloads not cross-checked")
    rs = np.random.RandomState(0)
    with tempfile.TemporaryDirectory() as tmp:
        for model in models():
            label = os.path.relpath(model, ROOT)
            try:
                info = json.loads(sh("inspect", model, "--json").stdout)
                feeds = feeds_for(info, rs)
                ref = run_outputs(model, feeds, tmp, "ref")
                data, extra = eval_data(info)
                ref_eval = json.loads(sh("eval", model, "--data", data, "--json", *extra).stdout) if data else None
                is_text = info["arch"]["family"] in ("bert", "gpt2")
                ref_text = sh("run", model, "--text", "The computer", "--json").stdout if is_text else None
                for level in (0, 3):
                    sub = os.path.join(tmp, f"z{level}")
                    os.makedirs(sub, exist_ok=True)
                    out = os.path.join(sub, "m.skm")
                    args = ["convert", model, out, "--force"] + (["--zstd", str(level)] if level else [])
                    line = sh(*args).stdout.strip()
                    tag = f"{label} (zstd {level})"
                    check(line.count("\n") == 0 and "->" in line and "out/in" in line, f"{tag}: convert prints one line: {line}")
                    got = run_outputs(out, feeds, tmp, f"skm{level}")
                    same = set(got) == set(ref) and all(
                        got[k].dtype == ref[k].dtype and np.array_equal(got[k], ref[k]) for k in ref)
                    check(same, f"{tag}: run outputs bit-identical to the original ({', '.join(sorted(ref))})")
                    if ref_eval:
                        e = json.loads(sh("eval", out, "--data", data, "--json", *extra).stdout)
                        check(e["value"] == ref_eval["value"],
                              f"{tag}: eval {e['metric']} {e['value']!r} == original {ref_eval['value']!r}")
                    if ref_text is not None:
                        t = sh("run", out, "--text", "The computer", "--json").stdout
                        check(t == ref_text, f"{tag}: run --text with the embedded tokenizer equals the original")
                    bad, n, n_z, h = spec_check(out)
                    check(not bad, f"{tag}: spec reader: {n} payloads ({n_z} zstd), checksums and layout "
                          + ("ok" if not bad else "; ".join(bad[:5])))
                    if level:
                        check(n_z > 0 or all(t.get("dtype") == "f32" for t in h["tensors"]),
                              f"{tag}: some payload compressed")
                    if is_text:
                        names = sorted(f["name"] for f in h["files"])
                        check(("vocab.txt" in names) or ("vocab.json" in names and "merges.txt" in names),
                              f"{tag}: tokenizer files embedded: {names}")
            except Exception as e:  # one model's crash is a failure, not an abort of the others
                check(False, f"{label}: {e}")

        # the command itself
        src = os.path.join(ZOO, "mlp-digits", "model.onnx")
        out = os.path.join(tmp, "x.skm")
        sh("convert", src, out, "--force")
        before = open(out, "rb").read()
        r = sh("convert", src, out, "--zstd", "3", ok=False)
        check(r.returncode == 1 and r.stderr.count("\n") == 1 and "already exists" in r.stderr
              and open(out, "rb").read() == before,
              f"convert refuses to overwrite without --force (exit {r.returncode}): {r.stderr.strip()}")
        r = sh("convert", src, os.path.join(tmp, "x.onnx"), ok=False)
        check(r.returncode == 0, f"convert to .onnx: exit {r.returncode} {r.stderr.strip()}")
        # an HF checkpoint holds BERT / GPT-2 only: the MLP is refused in one line naming why
        r = sh("convert", src, os.path.join(tmp, "x.safetensors"), ok=False)
        check(r.returncode == 1 and r.stderr.count("\n") == 1 and "BERT or GPT-2" in r.stderr,
              f"convert mlp to .safetensors refused: exit {r.returncode} {r.stderr.strip()}")
        r = sh("convert", src, os.path.join(tmp, "x.bin"), ok=False)
        check(r.returncode == 2, f"convert to .bin: usage error, exit {r.returncode}")
        r = sh("convert", src, ok=False)
        check(r.returncode == 2, f"convert without OUT: usage error, exit {r.returncode}")
        r = sh("convert", "--help", ok=False)
        check(r.returncode == 0 and "usage: shrink convert" in r.stdout and "example:" in r.stdout, "convert --help")
        r = sh("convert", os.path.join(tmp, "missing.onnx"), os.path.join(tmp, "y.skm"), ok=False)
        check(r.returncode == 1 and not os.path.exists(os.path.join(tmp, "y.skm")),
              f"convert of a missing model fails, writes nothing: {r.stderr.strip()}")
        left = [f for f in os.listdir(tmp) if ".tmp" in f]
        check(not left, f"no temporary files left behind {left}")
    print(f"test_skm_zoo: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
