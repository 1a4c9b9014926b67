#!/usr/bin/env python3
"""Small ONNX files that exercise the importer (formats/onnx.c).

    make_onnx_cases.py OUTDIR [--no-torch]

writes OUTDIR/<case>.onnx (plus external-data files) and OUTDIR/cases.json,
which lists each case with what the test knows about it independently of
shrink (the family the graph should be recognised as, the sizes of the tiny
transformers it was exported with).  Every file passes onnx.checker with
full_check (shape inference included), except the com.microsoft one, whose
ops the checker does not know.

Together the cases cover: initializers in raw_data, in each typed field
(float_data, int64_data, int32_data for int8/uint8/int16/bool/float16/
bfloat16, double_data) and as external data; Constant nodes in all five
forms; named and unnamed dynamic dims and value_info; every op of
src/ir/ops.def that has an ONNX name at least once; the attribute-form ops of
opset 11 (Softmax that flattens, Squeeze/Unsqueeze/ReduceSum axes, Split
sizes); opset 21's ReduceMean axes input, Split num_outputs and Gelu; and
com.microsoft Gelu/FastGelu.  With torch, tiny random BERT and GPT-2 exports
at opsets 11, 14 and 17 (real exporter output; 17 is what samples/zoo/build.py
uses) are added.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(1234)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def model(name, nodes, inputs, outputs, inits=(), opset=17, value_info=(), extra_opsets=()):
    ir = {11: 6, 14: 7, 17: 8, 18: 8, 20: 9, 21: 10}[opset]
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits), value_info=list(value_info))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)] + list(extra_opsets),
                             ir_version=ir, producer_name="make_onnx_cases")


N = helper.make_node


def case_mlp_raw():
    """Gemm/MatMul MLP, initializers in raw_data (numpy_helper.from_array)."""
    return model("mlp_raw", [
        N("Gemm", ["x", "w1", "b1"], ["h1"], name="fc1", transB=1, alpha=1.0, beta=1.0),
        N("Relu", ["h1"], ["r1"], name="relu1"),
        N("MatMul", ["r1", "w2"], ["h2"], name="fc2"),
        N("Add", ["h2", "b2"], ["h3"], name="bias2"),
        N("Sigmoid", ["h3"], ["y"], name="sig"),
    ], [vi("x", TensorProto.FLOAT, ["batch", 8])], [vi("y", TensorProto.FLOAT, ["batch", 4])],
        [init("w1", rand(16, 8)), init("b1", rand(16)), init("w2", rand(16, 4)), init("b2", rand(4))]), "mlp"


def case_typed_fields():
    """One initializer per typed field; each is Cast to float and summed."""
    vals = [1, 0, 1]
    tensors = [
        helper.make_tensor("t_f32", TensorProto.FLOAT, [3], [0.5, -1.25, 3.0]),
        helper.make_tensor("t_f64", TensorProto.DOUBLE, [3], [0.1, 0.2, -7.5]),
        helper.make_tensor("t_i64", TensorProto.INT64, [3], [-(1 << 40), 5, 7]),
        helper.make_tensor("t_i32", TensorProto.INT32, [3], [-100000, 0, 99]),
        helper.make_tensor("t_i16", TensorProto.INT16, [3], [-32768, 1, 32767]),
        helper.make_tensor("t_i8", TensorProto.INT8, [3], [-128, 3, 127]),
        helper.make_tensor("t_u8", TensorProto.UINT8, [3], [0, 128, 255]),
        helper.make_tensor("t_bool", TensorProto.BOOL, [3], vals),
        helper.make_tensor("t_f16", TensorProto.FLOAT16, [3], np.array([1.5, -2.0, 65504.0], np.float16)),
        helper.make_tensor("t_bf16", TensorProto.BFLOAT16, [3], [1.0, -3.0, 0.015625]),
    ]
    for t in tensors:   # typed fields, not raw_data
        assert not t.HasField("raw_data"), t.name
    nodes, acc = [], "x"
    for i, t in enumerate(tensors):
        nodes.append(N("Cast", [t.name], [f"c{i}"], name=f"cast{i}", to=TensorProto.FLOAT))
        nodes.append(N("Add", [acc, f"c{i}"], [f"s{i}"], name=f"sum{i}"))
        acc = f"s{i}"
    nodes.append(N("Identity", [acc], ["y"], name="out"))
    return model("typed_fields", nodes, [vi("x", TensorProto.FLOAT, [3])], [vi("y", TensorProto.FLOAT, [3])],
                 tensors), "mlp"


def case_external():
    """The MLP again with every initializer in one external-data file."""
    m, fam = case_mlp_raw()
    m.graph.name = "external"
    return m, fam


def case_constants():
    """Constant nodes in each form: value (raw and typed tensor), value_float,
    value_floats, value_int, value_ints."""
    nodes = [
        N("Constant", [], ["k_shape"], name="k_value_ints", value_ints=[2, 6]),
        N("Constant", [], ["k_scale"], name="k_value_float", value_float=0.5),
        N("Constant", [], ["k_bias"], name="k_value_floats", value_floats=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        N("Constant", [], ["k_axis"], name="k_value_int", value_int=0),
        N("Constant", [], ["k_w"], name="k_value_raw", value=numpy_helper.from_array(rand(6, 3), "w")),
        N("Constant", [], ["k_b"], name="k_value_typed",
          value=helper.make_tensor("b", TensorProto.FLOAT, [3], [0.25, -0.5, 1.0])),
        N("Reshape", ["x", "k_shape"], ["xr"], name="reshape"),
        N("Mul", ["xr", "k_scale"], ["xs"], name="scale"),
        N("Add", ["xs", "k_bias"], ["xb"], name="bias"),
        N("MatMul", ["xb", "k_w"], ["xm"], name="matmul"),
        N("Add", ["xm", "k_b"], ["xa"], name="add_b"),
        N("Unsqueeze", ["k_axis", "k_axis_1d"], ["k_axis_u"], name="unsq_axis"),
        N("Gather", ["xa", "k_axis"], ["y"], name="row0", axis=0),
    ]
    axis_1d = init("k_axis_1d", np.array([0], np.int64))
    return model("constants", nodes, [vi("x", TensorProto.FLOAT, [3, 4])],
                 [vi("y", TensorProto.FLOAT, [3]), vi("k_axis_u", TensorProto.INT64, [1])], [axis_1d]), "mlp"


def case_dynamic():
    """Transformer-ish plumbing with named and unnamed dynamic dims and
    value_info: the shape ops, comparisons and elementwise math of HF exports."""
    H = 16
    nodes = [
        N("Shape", ["x"], ["shp"], name="shape"),
        N("Gather", ["shp", "i1"], ["seq"], name="seq_len", axis=0),
        N("Unsqueeze", ["seq", "ax0"], ["seq1"], name="unsq"),
        N("Concat", ["one", "seq1"], ["mshape"], name="concat", axis=0),
        N("ConstantOfShape", ["mshape"], ["ones"], name="cos",
          value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])),
        N("Range", ["zero", "seq", "i1"], ["pos"], name="range"),
        N("Less", ["pos", "lim"], ["lt"], name="less"),
        N("Greater", ["pos", "zero"], ["gt"], name="greater"),
        N("Equal", ["pos", "zero"], ["eq"], name="equal"),
        N("Not", ["eq"], ["neq"], name="not"),
        N("Cast", ["lt"], ["ltf"], name="cast", to=TensorProto.FLOAT),
        N("Where", ["gt", "ltf", "negbig"], ["bias1d"], name="where"),
        N("Expand", ["bias1d", "mshape"], ["bias2d"], name="expand"),
        N("Mul", ["bias2d", "ones"], ["maskf"], name="mask_mul"),
        N("LayerNormalization", ["x", "gamma", "beta"], ["ln"], name="ln", axis=-1, epsilon=1e-12),
        N("MatMul", ["ln", "wq"], ["q"], name="q"),
        N("Transpose", ["q"], ["qt"], name="qt", perm=[0, 2, 1]),
        N("MatMul", ["q", "qt"], ["scores"], name="scores"),
        N("Div", ["scores", "sqrt_h"], ["scaled"], name="scale"),
        N("Add", ["scaled", "maskf"], ["masked"], name="mask_add"),
        N("Softmax", ["masked"], ["probs"], name="softmax", axis=-1),
        N("Dropout", ["probs"], ["probs_d"], name="dropout"),
        N("MatMul", ["probs_d", "q"], ["ctx"], name="ctx"),
        N("Slice", ["ctx", "s_start", "s_end", "s_axes", "s_steps"], ["ctx_s"], name="slice"),
        N("Split", ["ctx_s", "split_sizes"], ["pa", "pb"], name="split", axis=2),
        N("Sub", ["pa", "pb"], ["d"], name="sub"),
        N("Pow", ["d", "two"], ["d2"], name="pow"),
        N("ReduceMean", ["d2"], ["var"], name="rmean", axes=[-1], keepdims=1),
        N("Sqrt", ["var"], ["std"], name="sqrt"),
        N("Reciprocal", ["std"], ["inv"], name="recip"),
        N("Neg", ["inv"], ["ninv"], name="neg"),
        N("Exp", ["ninv"], ["e"], name="exp"),
        N("Log", ["e"], ["l"], name="log"),
        N("Erf", ["l"], ["er"], name="erf"),
        N("Tanh", ["er"], ["th"], name="tanh"),
        N("ReduceSum", ["th", "rs_axes"], ["rs"], name="rsum", keepdims=0),
        N("Squeeze", ["rs", "sq_axes"], ["sq"], name="squeeze"),
        N("Reshape", ["sq", "flat_shape"], ["y"], name="reshape"),
        N("Flatten", ["ctx"], ["ctx_flat"], name="flatten", axis=1),
    ]
    inits = [
        init("i1", np.array(1, np.int64)), init("ax0", np.array([0], np.int64)),
        init("one", np.array([1], np.int64)), init("zero", np.array(0, np.int64)),
        init("lim", np.array(5, np.int64)), init("negbig", np.array(-1e4, np.float32)),
        init("gamma", rand(H)), init("beta", rand(H)), init("wq", rand(H, H)),
        init("sqrt_h", np.array(4.0, np.float32)),
        init("s_start", np.array([0], np.int64)), init("s_end", np.array([8], np.int64)),
        init("s_axes", np.array([2], np.int64)), init("s_steps", np.array([1], np.int64)),
        init("split_sizes", np.array([4, 4], np.int64)), init("two", np.array(2.0, np.float32)),
        init("rs_axes", np.array([1], np.int64)), init("sq_axes", np.array([1], np.int64)),
        init("flat_shape", np.array([-1], np.int64)),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", H])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    flat = helper.make_tensor_value_info("ctx_flat", TensorProto.FLOAT, ["batch", None])
    info = [helper.make_tensor_value_info("ln", TensorProto.FLOAT, ["batch", "seq", H]),
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", "seq", "seq"])]
    return model("dynamic", nodes, [x], [y, flat, vi("neq", TensorProto.BOOL, [None])], inits,
                 value_info=info), "mlp"


def case_vision():
    """Conv net ops: Conv, BatchNormalization, Relu, MaxPool, Pad,
    AveragePool, GlobalAveragePool, Flatten, Gemm."""
    nodes = [
        N("Conv", ["x", "cw", "cb"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        N("BatchNormalization", ["c1", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"], name="bn", epsilon=1e-5),
        N("Relu", ["bn"], ["r"], name="relu"),
        N("MaxPool", ["r"], ["mp"], name="maxpool", kernel_shape=[2, 2], strides=[2, 2]),
        N("Pad", ["mp", "pads", "pad_value"], ["pd"], name="pad", mode="constant"),
        N("AveragePool", ["pd"], ["ap"], name="avgpool", kernel_shape=[2, 2], strides=[1, 1]),
        N("GlobalAveragePool", ["ap"], ["gap"], name="gap"),
        N("Flatten", ["gap"], ["f"], name="flatten", axis=1),
        N("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1),
    ]
    inits = [init("cw", rand(4, 1, 3, 3)), init("cb", rand(4)), init("bn_s", rand(4)), init("bn_b", rand(4)),
             init("bn_m", rand(4)), init("bn_v", np.abs(rand(4)) + 0.5),
             init("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)), init("pad_value", np.array(0, np.float32)),
             init("fw", rand(10, 4)), init("fb", rand(10))]
    return model("vision", nodes, [vi("x", TensorProto.FLOAT, ["batch", 1, 8, 8])],
                 [vi("y", TensorProto.FLOAT, ["batch", 10])], inits), "cnn"


def case_recurrent():
    """LSTM (its default activations spelled out, which the importer drops), GRU, RNN."""
    I, Hd = 8, 6
    nodes = [
        N("LSTM", ["x", "lw", "lr", "lb", "", "h0"], ["ly", "lh"], name="lstm", hidden_size=Hd,
          activations=["Sigmoid", "Tanh", "Tanh"]),
        N("Squeeze", ["ly", "ax1"], ["ls"], name="squeeze"),
        N("GRU", ["ls", "gw", "gr", "gb"], ["gy", "gh"], name="gru", hidden_size=Hd, linear_before_reset=1),
        N("Squeeze", ["gy", "ax1"], ["gs"], name="squeeze2"),
        N("RNN", ["gs", "rw", "rr"], ["", "rh"], name="rnn", hidden_size=Hd),
        N("Squeeze", ["rh", "ax0"], ["y"], name="squeeze3"),
    ]
    inits = [init("lw", rand(1, 4 * Hd, I)), init("lr", rand(1, 4 * Hd, Hd)), init("lb", rand(1, 8 * Hd)),
             init("h0", np.zeros((1, 2, Hd), np.float32)), init("ax1", np.array([1], np.int64)),
             init("ax0", np.array([0], np.int64)),
             init("gw", rand(1, 3 * Hd, Hd)), init("gr", rand(1, 3 * Hd, Hd)), init("gb", rand(1, 6 * Hd)),
             init("rw", rand(1, Hd, Hd)), init("rr", rand(1, Hd, Hd))]
    return model("recurrent", nodes, [vi("x", TensorProto.FLOAT, [5, 2, I])], [vi("y", TensorProto.FLOAT, [2, Hd])],
                 inits), "rnn"


def case_legacy11():
    """Opset 11: axes as attributes, Split sizes as an attribute, and Softmax
    that flattens to 2-D at its axis.  The importer keeps a Softmax whose axis
    it can show is the last (axis -1; the default axis 1 of a rank-2 input,
    stated or seen through Unsqueeze/Squeeze) and rewrites the others (axis 1
    of a rank-3 MatMul output; a tensor reshaped to a shape only known at run
    time)."""
    nodes = [
        N("Softmax", ["x"], ["p2"], name="softmax_last"),
        N("Unsqueeze", ["x"], ["xu"], name="unsq", axes=[0]),
        N("Squeeze", ["xu"], ["xs"], name="sq", axes=[0]),
        N("Softmax", ["xs"], ["p5"], name="softmax_inferred_last"),
        N("MatMul", ["x3", "w"], ["h"], name="mm"),
        N("Softmax", ["h"], ["p3"], name="softmax_flat", axis=1),
        N("Softmax", ["h"], ["p4"], name="softmax_neg", axis=-1),
        N("Reshape", ["x3", "shp"], ["xr"], name="reshape_dyn"),
        N("Softmax", ["xr"], ["p6"], name="softmax_unknown_rank", axis=2),
        N("ReduceSum", ["p3"], ["rs"], name="rsum", axes=[2], keepdims=0),
        N("Split", ["rs"], ["sa", "sb"], name="split", axis=1, split=[1, 2]),
        N("Add", ["sa", "sb"], ["y"], name="add"),
    ]
    f = TensorProto.FLOAT
    return model("legacy11", nodes,
                 [vi("x", f, [2, 5]), vi("x3", f, [2, 3, 4]), vi("shp", TensorProto.INT64, ["k"])],
                 # p6 is left dangling: a graph output needs a shape, and its rank is unknown
                 [vi("p2", f, [2, 5]), vi("y", f, [2, 2]), vi("p4", f, [2, 3, 4]), vi("p5", f, [2, 5])],
                 [init("w", rand(4, 4))], opset=11), "mlp"


def case_opset21():
    """Opset 21: ReduceMean axes as an input (v18), Split num_outputs (v18),
    Gelu in the default domain (v20)."""
    nodes = [
        N("ReduceMean", ["x", "axes"], ["m"], name="rmean", keepdims=1),
        N("Sub", ["x", "m"], ["c"], name="center"),
        N("Gelu", ["c"], ["g"], name="gelu", approximate="tanh"),
        N("Split", ["g"], ["a", "b"], name="split", axis=1, num_outputs=2),
        N("Mul", ["a", "b"], ["y"], name="mul"),
    ]
    return model("opset21", nodes, [vi("x", TensorProto.FLOAT, [2, 8])], [vi("y", TensorProto.FLOAT, [2, 4])],
                 [init("axes", np.array([-1], np.int64))], opset=21), "mlp"


def case_msft():
    """com.microsoft Gelu and FastGelu (with and without its bias input)."""
    nodes = [
        N("Gelu", ["x"], ["g"], name="ms_gelu", domain="com.microsoft"),
        N("FastGelu", ["g", "bias"], ["f"], name="ms_fastgelu_bias", domain="com.microsoft"),
        N("FastGelu", ["f"], ["y"], name="ms_fastgelu", domain="com.microsoft"),
    ]
    return model("msft", nodes, [vi("x", TensorProto.FLOAT, [2, 4])], [vi("y", TensorProto.FLOAT, [2, 4])],
                 [init("bias", rand(4))], extra_opsets=[helper.make_opsetid("com.microsoft", 1)]), "mlp"


CASES = [case_mlp_raw, case_typed_fields, case_external, case_constants, case_dynamic, case_vision,
         case_recurrent, case_legacy11, case_opset21, case_msft]


def torch_cases(out, meta):
    """Tiny random HF BERT and GPT-2, exported by torch like samples/zoo/build.py does."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel
    torch.manual_seed(0)

    class Bert(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                          return_dict=False)[0]

    class GPT2(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask, use_cache=False, return_dict=False)[0]

    ids = torch.randint(0, 100, (2, 16))
    mask = torch.ones(2, 16, dtype=torch.long)
    types = torch.zeros(2, 16, dtype=torch.long)
    for opset in (11, 14, 17):
        # opset 14 goes into a folder of its own with config.json and a tokenizer, as HF exports do
        folder = os.path.join(out, "bert_hf") if opset == 14 else out
        os.makedirs(folder, exist_ok=True)
        cfg = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=64, num_labels=3,
                         id2label={0: "neg", 1: "neutral", 2: "pos"})
        names = ["input_ids", "attention_mask", "token_type_ids"]
        path = os.path.join(folder, f"tiny_bert_op{opset}.onnx")
        torch.onnx.export(Bert(BertForSequenceClassification(cfg).eval()), (ids, mask, types), path,
                          input_names=names, output_names=["logits"], opset_version=opset,
                          dynamic_axes={n: {0: "batch", 1: "seq"} for n in names} | {"logits": {0: "batch"}},
                          do_constant_folding=True)
        meta[os.path.relpath(path, out)] = {"family": "bert", "vocab": 100, "hidden": 32, "n_layers": 2,
                                            "max_pos": 64, "type_vocab": 2, "n_labels": 3}
        if opset == 14:
            cfg.architectures = ["BertForSequenceClassification"]
            cfg.to_json_file(os.path.join(folder, "config.json"))
            with open(os.path.join(folder, "vocab.txt"), "w") as f:
                f.write("".join(f"tok{i}\n" for i in range(100)))
            meta[os.path.relpath(path, out)].update(heads=4, labels=["neg", "neutral", "pos"])
        folder = os.path.join(out, "gpt2_hf") if opset == 14 else out
        os.makedirs(folder, exist_ok=True)
        gcfg = GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=4, n_positions=64)
        path = os.path.join(folder, f"tiny_gpt2_op{opset}.onnx")
        torch.onnx.export(GPT2(GPT2LMHeadModel(gcfg).eval()), (ids, mask), path,
                          input_names=["input_ids", "attention_mask"], output_names=["logits"], opset_version=opset,
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                                        "logits": {0: "batch", 1: "seq"}},
                          do_constant_folding=True)
        meta[os.path.relpath(path, out)] = {"family": "gpt2", "vocab": 100, "hidden": 32, "n_layers": 2,
                                            "max_pos": 64}
        if opset == 14:
            gcfg.architectures = ["GPT2LMHeadModel"]
            gcfg.to_json_file(os.path.join(folder, "config.json"))
            with open(os.path.join(folder, "vocab.json"), "w") as f:
                json.dump({f"t{i}": i for i in range(100)}, f)
            with open(os.path.join(folder, "merges.txt"), "w") as f:
                f.write("#version: 0.2\nt 0\n")
            meta[os.path.relpath(path, out)].update(heads=4, ffn=128)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        sys.exit("usage: make_onnx_cases.py OUTDIR [--no-torch]")
    out = args[0]
    os.makedirs(out, exist_ok=True)
    meta = {}
    for make in CASES:
        m, family = make()
        name = m.graph.name
        path = os.path.join(out, name + ".onnx")
        if name != "msft":
            onnx.checker.check_model(m, full_check=True)
        if name == "external":
            onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True,
                            location="external.data", size_threshold=0)
            assert any(t.data_location == TensorProto.EXTERNAL for t in onnx.load(path, load_external_data=False)
                       .graph.initializer)
        else:
            onnx.save_model(m, path)
        meta[name + ".onnx"] = {"family": family}
    # a config.json the HF parser rejects is ignored: the graph still decides
    bad = os.path.join(out, "badcfg")
    os.makedirs(bad, exist_ok=True)
    onnx.save_model(case_mlp_raw()[0], os.path.join(bad, "model.onnx"))
    with open(os.path.join(bad, "config.json"), "w") as f:
        json.dump({"model_type": "llama", "hidden_size": 4096}, f)
    meta["badcfg/model.onnx"] = {"family": "mlp", "hidden": 0, "heads": 0}
    if "--no-torch" not in sys.argv:
        import warnings
        warnings.filterwarnings("ignore")
        torch_cases(out, meta)
    with open(os.path.join(out, "cases.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(f"{len(meta)} cases in {out}")


if __name__ == "__main__":
    main()
