"""test_inspect_models.py — `shrink inspect --json` against the onnx package's
own reading of every samples/zoo/*/model.onnx and build/zoo/*-fortunes/model.onnx.

Reference figures (computed here with onnx + numpy, not by shrink):
  params          elements of float initializers and Constant values with more than
                  one element (the ONNX importer's rule for SK_TF_WEIGHT, formats.h)
  bytes           bytes of all initializers and Constant values
  ops             histogram of node op_types, Constant excluded (they become constants)
  inputs/outputs  names, dtypes and dims (dim_param names, dim_value sizes) of the
                  graph inputs that are not initializers, and of the graph outputs
Also checks that `shrink ir dump --full` of each model parses back to the same figures.
"""
import collections
import glob
import json
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import numpy_helper

ROOT = os.environ.get("ROOT", os.getcwd())
SHRINK = os.environ.get("SHRINK", os.path.join(ROOT, "build", "shrink"))
DTYPES = {1: "f32", 10: "f16", 16: "bf16", 11: "f64", 7: "i64", 6: "i32", 5: "i16", 3: "i8", 2: "u8", 9: "bool"}


def reference(path):
    m = onnx.load(path)
    g = m.graph
    consts = [numpy_helper.to_array(t) for t in g.initializer]
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    consts.append(numpy_helper.to_array(a.t))
    params = sum(int(a.size) for a in consts if a.dtype.kind == "f" and a.size > 1)
    nbytes = sum(int(a.nbytes) for a in consts)
    ops = collections.Counter(n.op_type for n in g.node if n.op_type != "Constant")
    init_names = {t.name for t in g.initializer}

    def vinfo(v):
        t = v.type.tensor_type
        dims = None
        if t.HasField("shape"):
            dims = [d.dim_param if d.HasField("dim_param") else (d.dim_value if d.HasField("dim_value") else None)
                    for d in t.shape.dim]
        return {"name": v.name, "dtype": DTYPES.get(t.elem_type, "?"), "dims": dims}

    inputs = [vinfo(v) for v in g.input if v.name not in init_names]
    outputs = [vinfo(v) for v in g.output]
    return params, nbytes, dict(ops), inputs, outputs


def inspect(path):
    out = subprocess.run([SHRINK, "inspect", "--json", path], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"shrink inspect {path}: exit {out.returncode}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def main():
    models = sorted(glob.glob(os.path.join(ROOT, "samples/zoo/*/model.onnx")) +
                    glob.glob(os.path.join(ROOT, "build/zoo/*-fortunes/model.onnx")))   # not the 400+ MB bench shapes
    if not models:
        print("FAIL no samples/zoo/*/model.onnx found")
        return 1
    fails = 0
    tmp = tempfile.mkdtemp()
    for path in models:
        name = os.path.relpath(path, ROOT)
        params, nbytes, ops, inputs, outputs = reference(path)
        try:
            j = inspect(path)
        except RuntimeError as e:
            print(f"FAIL {e}")
            fails += 1
            continue
        problems = []
        if j["params"] != params:
            problems.append(f"params {j['params']} vs onnx {params}")
        if j["bytes"] != nbytes:
            problems.append(f"bytes {j['bytes']} vs onnx {nbytes}")
        if j["ops"] != ops:
            problems.append(f"ops {j['ops']} vs onnx {ops}")
        if j["inputs"] != inputs:
            problems.append(f"inputs {j['inputs']} vs onnx {inputs}")
        if j["outputs"] != outputs:
            problems.append(f"outputs {j['outputs']} vs onnx {outputs}")
        # the text IR carries the same model
        skir = os.path.join(tmp, "m.skir")
        dump = subprocess.run([SHRINK, "ir", "dump", path, "--full", "-o", skir, "--force"], capture_output=True, text=True)
        if dump.returncode != 0:
            problems.append(f"ir dump failed: {dump.stderr.strip()}")
        else:
            t = inspect(skir)
            for k in ("params", "bytes", "bytes_by_dtype", "ops", "inputs", "outputs", "arch"):
                if t[k] != j[k]:
                    problems.append(f"text dump differs in {k}: {t[k]} vs {j[k]}")
        if problems:
            fails += 1
            print(f"FAIL {name}: " + "; ".join(problems))
        else:
            print(f"ok   {name}: params {params}, bytes {nbytes}, {sum(ops.values())} nodes of "
                  f"{len(ops)} op types, {len(inputs)} inputs, {len(outputs)} outputs — as onnx reads it; "
                  f"text dump agrees")
    print(f"{len(models)} models, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
