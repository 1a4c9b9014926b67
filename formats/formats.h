/* formats.h — importers and exporters of checkpoint formats.
 *
 * Each format lives in its own file (formats/<fmt>.c) and has its own section
 * here.  Importers build an sk_model (src/ir/ir.h) and know nothing about
 * passes or the runtime; on failure they free what they built, set *out to
 * NULL and leave a message naming the file and the place (sk_errmsg()).
 */
#ifndef SK_FORMATS_H
#define SK_FORMATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ir/ir.h"

/* ---- ONNX (formats/onnx.c) ----
 *
 * sk_onnx_load: import an ONNX model file.  Default-domain opsets 11..21 are
 * accepted (plus com.microsoft Gelu / FastGelu); every node must map to an op
 * of src/ir/ops.def, or the load fails naming the op, the node and the opset:
 *   model.onnx: node 'Foo_12' (Einsum): op not supported (opset 17)
 * Initializers and Constant nodes become constant tensors: data stored in the
 * file is moved into memory the model owns (SK_TF_OWNED); ONNX external data
 * (location relative to the model's folder) is mmapped and, when aligned,
 * referenced in place — such tensors are read-only views without SK_TF_OWNED,
 * and the mapping lives in m->maps until sk_model_free.  Float constants with
 * more than one element get SK_TF_WEIGHT and must not contain NaN or Inf (no
 * float constant may contain NaN).
 *
 * Nodes keep ONNX's inputs and attributes as the file's opset defines them
 * (Squeeze/Unsqueeze/ReduceSum/Split: axes or sizes as attributes before
 * opset 13, as inputs from 13; ReduceMean axes as an input and Split
 * num_outputs from 18), with these normalisations:
 *   - unnamed nodes are named <op_type>_<index>; trailing empty inputs and
 *     outputs are dropped, inner ones are -1;
 *   - Softmax before opset 13 (which flattens to 2-D at axis) becomes
 *     Softmax(axis=-1) when axis is provably the last, else Shape + Flatten
 *     (axis) + Softmax(axis=-1) + Reshape;
 *   - com.microsoft Gelu → GELU approximate "none"; FastGelu → GELU
 *     approximate "tanh", with an ADD before it when it has a bias input;
 *   - STRINGS attributes become one STRING joined by ','; LSTM/GRU/RNN
 *     activations equal to ONNX's defaults are dropped;
 *   - ConstantOfShape's value tensor becomes float attribute "value" and int
 *     attribute "value_dtype" (an sk_dtype); absent, 0.0 and SK_DT_F32.
 * Arch metadata is guessed from the graph and, when a config.json lies next
 * to the file (sk_hf_config_load), filled from it; m->tokenizer_dir is set
 * when the folder holds vocab.txt or vocab.json + merges.txt.
 * On success *out is the caller's (sk_model_free); on failure *out is NULL. */
sk_status sk_onnx_load(const char *path, sk_model **out);

/* The same from bytes already in memory (fuzzing, tests).  path names the
 * model in messages and locates external data and config.json; it need not
 * exist.  buf is only read during the call. */
sk_status sk_onnx_load_mem(const void *buf, size_t len, const char *path, sk_model **out);

/* ---- ONNX export (formats/onnx_export.c) ----
 *
 * sk_onnx_save writes m as an ONNX model that onnxruntime runs.  Primitive
 * ops are written as their ONNX op, in the form the target opset spells them
 * (axes as attribute or input, Split sizes, ...).  Fused ops become standard
 * ONNX:
 *   LAYERNORM       LayerNormalization
 *   SKIP_LAYERNORM  Add (x + skip, + bias) → LayerNormalization
 *   GELU            Div, Erf, Add, Mul, Mul (approximate "none") or
 *                   Mul, Mul, Mul, Add, Mul, Tanh, Add, Mul, Mul ("tanh");
 *                   the Gelu op itself from opset 20
 *   LINEAR f32      Gemm when x is 2-D, else MatMul with W as [K, N] (Wᵀ
 *                   stored when wt = 1; a Transpose node when W is also used
 *                   as it is, e.g. a head tied to the embedding) + Add bias;
 *                   then the activation
 *   LINEAR int8     weights int8 [K, N] → DequantizeLinear (per channel,
 *                   axis 1; grouped scales: blocked DequantizeLinear from
 *                   opset 21, else Cast·Mul) → MatMul/Gemm.  W8A8 (act_bits
 *                   8) with int8_form 1 and per-channel scales instead:
 *                   DynamicQuantizeLinear → MatMulInteger → Cast → Mul by
 *                   x_scale·w_scale (onnxruntime's quantize_dynamic form;
 *                   activations per tensor u8, where shrink quantizes per
 *                   row).  With int8_form 0 a W8A8 layer's activations stay
 *                   f32 in the file (QDQ activations need calibrated static
 *                   scales).  Note: onnxruntime's optimizer turns
 *                   DequantizeLinear → MatMul into MatMulNBits with int8
 *                   activations per block (its session option
 *                   session.qdq_matmulnbits_accuracy_level, default 4); set
 *                   it to 1 to run weight-only layers with f32 activations.
 *   LINEAR int4     com.microsoft MatMulNBits (bits 4, block_size = the
 *                   group, or its largest power-of-two divisor ≤ 256 with the
 *                   scales repeated; accuracy_level 4), B = W's bytes as they
 *                   are, zero points packed two per byte, bias as input 5
 *   GATHER int8     a quantized table (ir.h): DequantizeLinear(table i8
 *                   [V, H], scales [V], axis 0; grouped: blocked along the
 *                   row, opset 21) → Gather; a LINEAR tied to it reads the
 *                   same initializer through a Transpose
 *   GATHER int4     com.microsoft GatherBlockQuantized (bits 4, block_size =
 *                   the group, a power of two ≥ 16; H even): the table's
 *                   bytes as uint8 [V, H/2], scales [V, G], zero points
 *                   packed two per byte [V, ceil(G/2)]
 *   ATTENTION       Reshape/Transpose to heads, MatMul, Mul scale, causal
 *                   Where over a constant lower-triangular [max_pos, max_pos]
 *                   mask sliced to [S, T] (a Range/Greater mask when
 *                   max_pos is unknown or above 4096), padding mask as
 *                   (1 − mask)·finfo(f32).min broadcast [B, 1, 1, T],
 *                   Softmax, MatMul, Transpose/Reshape back
 * Graph inputs and outputs keep their symbolic dims (dim_names), so batch
 * and sequence stay dynamic.  Initializers are raw little-endian data;
 * when their total exceeds 1.8 GB (or o->external_data > 0) tensors of
 * 1 kB or more go to "<path>.data" beside the file (ONNX external data,
 * offsets aligned to 64 bytes, 64 kB for tensors of 1 MB or more).  Both
 * files are written atomically; without o->force an existing path (or
 * data file) is refused before anything is written.  Provenance and the
 * arch go to metadata_props ("shrink.provenance", "shrink.arch").
 * Unsupported input (an opset outside 17..21, an int4 group with no power of
 * two ≥ 16 dividing it, ...) is an error naming the node.  m is only read.
 * o may be NULL (defaults). */
typedef struct sk_onnx_save_opts {
    bool force;          /* replace existing files */
    int int8_form;       /* W8A8 layers: 0 = QDQ (weights dequantized, activations f32), 1 = dynamic MatMulInteger */
    int opset;           /* default-domain opset, 17..21; 0 = 17 */
    int external_data;   /* 0 = when initializers exceed 1.8 GB, 1 = always, -1 = never (fails past 2 GB) */
} sk_onnx_save_opts;

sk_status sk_onnx_save(const sk_model *m, const char *path, const sk_onnx_save_opts *o);

/* ---- safetensors (formats/safetensors.c) ---- */
/* One tensor of a safetensors file.  data points into the file's mapping
 * (read-only, not necessarily aligned) and lives as long as the mapping. */
typedef struct sk_st_tensor {
    const char *name;
    sk_dtype dtype;
    int rank;
    int64_t dims[SK_MAX_RANK];
    const void *data;
    size_t nbytes;
} sk_st_tensor;

/* An open, fully validated .safetensors file: every tensor's dtype, shape and
 * byte range were checked against the file (no overlaps, sizes match). */
typedef struct sk_st_file sk_st_file;

/* Map and validate path.  *out is the caller's (sk_st_close); NULL on
 * failure.  Errors name the file and the tensor:
 *   model.safetensors: tensor 'x': data_offsets [0, 64] past end of data (size 32) */
sk_status sk_st_open(const char *path, sk_st_file **out);
/* Unmaps the file unless the mapping was handed to a model.  NULL is a no-op. */
void sk_st_close(sk_st_file *f);
const char *sk_st_path(const sk_st_file *f);
int sk_st_count(const sk_st_file *f);
/* Tensor i in name order (0 <= i < sk_st_count), or NULL. */
const sk_st_tensor *sk_st_at(const sk_st_file *f, int i);
/* The tensor called name, or NULL (no error set). */
const sk_st_tensor *sk_st_find(const sk_st_file *f, const char *name);
/* Hand the mapping to m (sk_model_add_map): it is then unmapped by
 * sk_model_free, not by sk_st_close, so tensors may keep pointing into it. */
sk_status sk_st_give_map(sk_st_file *f, sk_model *m);

/* A checkpoint: one .safetensors file, or the shards a
 * model.safetensors.index.json lists ({"weight_map": {tensor: file}}), each
 * opened once; the index is checked against the shards. */
typedef struct sk_st_set {
    sk_st_file **files;
    int n_files;
} sk_st_set;
/* path: a .safetensors file or an .index.json file.  On failure *s is empty. */
sk_status sk_st_set_open(const char *path, sk_st_set *s);
void sk_st_set_close(sk_st_set *s);
/* The tensor called name in any shard, or NULL (no error set); *file (when
 * file is not NULL) gets the shard it is in. */
const sk_st_tensor *sk_st_set_find(const sk_st_set *s, const char *name, const sk_st_file **file);

/* ---- safetensors export (formats/safetensors_export.c) ----
 *
 * sk_st_save writes a BERT or GPT-2 model built by the templates (src/arch;
 * the HF import and what passes made of it) as a Hugging Face checkpoint
 * that transformers' from_pretrained loads: path ending in ".safetensors" =
 * that file with config.json and the tokenizer's files beside it; any other
 * path = a folder (created if absent) holding model.safetensors,
 * config.json and the tokenizer's files.  Weights are fp32 under HF's names
 * (GPT-2's Conv1D [in, out] as they are; a head tied to wte is not written
 * and tie_word_embeddings says so).  Attention heads removed by pruning are
 * described the way transformers saves them ("pruned_heads" per layer,
 * num_attention_heads = hidden / head width), so layers may differ; FFN
 * widths must be equal in every layer (one intermediate_size).  A quantized
 * layer, a graph that is not a template's, or unequal FFN widths are errors
 * naming the first problem, before anything is written.  All files are
 * written atomically (temporaries renamed when every one was written);
 * without o->force an existing file is refused.  m is only read; o may be
 * NULL. */
typedef struct sk_st_save_opts {
    bool force;       /* replace existing files */
} sk_st_save_opts;

sk_status sk_st_save(const sk_model *m, const char *path, const sk_st_save_opts *o);

/* ---- Hugging Face config.json and checkpoints (formats/hf_config.c) ---- */
typedef struct sk_hf_info {
    char model_type[32];      /* "bert", "gpt2" */
    char architecture[64];    /* architectures[0], "" if absent */
    int *layer_heads;         /* pruned_heads: heads kept per layer (n_layers), NULL if none pruned; sk_free */
} sk_hf_info;

/* Parse a config.json into *arch (family, task from architectures[0], sizes,
 * eps, act, labels from id2label; the old contents are overwritten, not
 * freed).  info may be NULL.  On failure *arch owns nothing.  pruned_heads
 * ({"layer": [head, ...]}, as transformers' prune_heads records it) are
 * checked and counted into info->layer_heads.  Errors name the file and the
 * key:
 *   config.json: key 'num_attention_heads': expected a positive integer, got "x" */
sk_status sk_hf_config_load(const char *path, sk_arch *arch, sk_hf_info *info);
/* Free what sk_hf_config_load allocated in arch (labels) and zero it. */
void sk_hf_arch_clear(sk_arch *arch);

/* Import a Hugging Face checkpoint: path is a directory (config.json and
 * model.safetensors or model.safetensors.index.json) or a .safetensors file
 * with config.json beside it.  f32 weights point into the mapped files (not
 * copied; read-only, mappings in m->maps); f16/bf16/f64 weights are converted
 * to owned f32.  NaN/Inf weights are rejected naming the tensor.
 * m->tokenizer_dir is set when the folder holds vocab.txt or vocab.json +
 * merges.txt.  On success *out is the caller's; on failure *out is NULL. */
sk_status sk_hf_load(const char *path, sk_model **out);

/* ---- .skm, shrink's own artifact (formats/skm.c; spec: docs/formats.md) ---- */
typedef struct sk_skm_opts {
    int zstd_level;   /* 0 = store payloads uncompressed (load in place by mmap); 1..22 = zstd level */
    bool force;       /* replace an existing file */
    bool dense;       /* never bitmask-encode sparse tensors (docs/formats.md: encodings) */
} sk_skm_opts;

/* Write m (which must pass sk_graph_verify) to path atomically: a temporary
 * file in path's folder, fsynced, renamed into place; without o->force an
 * existing path is refused before anything is written.  Tokenizer files are
 * embedded: m->files if any, else those found in m->tokenizer_dir.  The same
 * model and options always give the same bytes.  o may be NULL (level 0, no
 * force).  m is only read.  A weight that is mostly zeros (a pruned one) is
 * stored as a bitmask + its non-zeros when that saves an eighth of its bytes
 * (docs/formats.md, Encodings; preamble flag 0x2), unless o->dense. */
sk_status sk_skm_save(const sk_model *m, const char *path, const sk_skm_opts *o);

/* Load a .skm.  Every payload's checksum is verified; uncompressed tensors
 * point into the file's read-only mapping (m->maps, no SK_TF_OWNED),
 * compressed ones are decompressed into memory the model owns; embedded
 * files go to m->files; m->source = path; bitmask-encoded tensors are
 * expanded into owned memory.  The graph has passed
 * sk_graph_verify.  On success *out is the caller's (sk_model_free); on
 * failure *out is NULL and the message names the file and the place. */
sk_status sk_skm_load(const char *path, sk_model **out);

/* XXH64 (seed 0 = the .skm checksum), for tests and tools. */
uint64_t sk_skm_xxh64(const void *p, size_t n, uint64_t seed);

#endif
