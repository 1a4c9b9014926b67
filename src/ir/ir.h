/* ir.h — shrink's intermediate representation.
 *
 * A model is a graph of tensors and nodes in flat arrays; ids are indices, so
 * there are no pointer webs to keep consistent.  Nodes are kept in
 * topological order (sk_graph_verify checks it).  Importers build this, passes
 * rewrite it, the runtime executes it, exporters write it.  Nothing here knows
 * about files or kernels.
 */
#ifndef SK_IR_H
#define SK_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "shrink.h"

#define SK_MAX_RANK 8

/* ---- dtypes (traits table in dtype.c) ---- */
typedef enum sk_dtype {
    SK_DT_UNDEF = 0,
    SK_DT_F32, SK_DT_F16, SK_DT_BF16, SK_DT_F64,
    SK_DT_I64, SK_DT_I32, SK_DT_I16, SK_DT_I8, SK_DT_U8, SK_DT_BOOL,
    SK_DT_Q4,      /* unsigned 4-bit, two per byte, element 2i in the low nibble of byte i */
    SK_DT_COUNT
} sk_dtype;

typedef struct sk_dtype_traits {
    const char *name;      /* "f32" */
    int block;             /* elements per block (1 for plain types) */
    size_t block_bytes;    /* bytes per block */
    int onnx;              /* ONNX TensorProto.DataType, 0 if none */
    const char *st_name;   /* safetensors dtype string, NULL if none */
} sk_dtype_traits;

const sk_dtype_traits *sk_dtype_info(sk_dtype dt);
sk_dtype sk_dtype_from_name(const char *name);       /* "f32" → SK_DT_F32; UNDEF if unknown */
sk_dtype sk_dtype_from_onnx(int onnx_type);
sk_dtype sk_dtype_from_st(const char *st_name);      /* safetensors "F32" */
/* Bytes for n elements; false on overflow or n not a multiple of the block. */
bool sk_dtype_nbytes(sk_dtype dt, int64_t n, size_t *out);
float sk_f16_to_f32(uint16_t h);
uint16_t sk_f32_to_f16(float f);
float sk_bf16_to_f32(uint16_t h);
/* Convert n elements of src (dtype s) to float (dst), for plain types. */
void sk_to_f32(sk_dtype s, const void *src, float *dst, int64_t n);

/* ---- ops ---- */
enum {
    SK_OPF_ELEMWISE    = 1 << 0,
    SK_OPF_COMMUTATIVE = 1 << 1,
    SK_OPF_FOLDABLE    = 1 << 2,  /* may be evaluated at plan / fold time when inputs are constant */
    SK_OPF_FUSED       = 1 << 3,  /* a fused op (not a primitive ONNX op) */
    SK_OPF_VIEW        = 1 << 4,  /* output is the input's bytes with another shape */
};

typedef enum sk_op {
#define X(id, onnx, min_in, max_in, min_out, max_out, flags) SK_OP_##id,
#include "ir/ops.def"
#undef X
    SK_OP_COUNT
} sk_op;

typedef struct sk_op_info {
    const char *name;      /* "MatMul" style display name (= onnx name or shrink's) */
    const char *onnx;      /* "" if none */
    int min_in, max_in, min_out, max_out;
    unsigned flags;
} sk_op_info;

const sk_op_info *sk_op_get(sk_op op);
/* sk_op_from_name: by display name or ONNX name; returns -1 if unknown. */
int sk_op_from_name(const char *name);

/* Semantics of the fused ops (kernels must match these):
 *   LAYERNORM(x, gamma, beta?)        attrs axis (-1), epsilon (1e-5): normalise over dims axis..end
 *   GELU(x)                           attr approximate "none" | "tanh"
 *   LINEAR(x, W, b?)                  y = x·Wᵀ + b; x [..., K]; W [N, K] when attr wt = 1 (default,
 *                                     nn.Linear), [K, N] when wt = 0 (Conv1D / ONNX MatMul);
 *                                     attr act "" | "relu" | "gelu" | "gelu_tanh" | "tanh" applied after the bias
 *   LINEAR(x, W, b, scales, zeros?)   quantized weights (always wt = 1, W [N, K]), attrs bits, group:
 *                                       bits 8: W i8, w = scale·q; scales f32 [N] (group = K, per output
 *                                               channel) or [N, K/group]; zeros absent (symmetric);
 *                                               attr act_bits 8 = W8A8: activations quantized per row at
 *                                               run time, integer dot products; 0 = weight-only;
 *                                               absent = 8 (also for bits 4)
 *                                       bits 4: W q4 [N, K], w = scale·(q − zero); scales f32 [N, K/group];
 *                                               zeros u8 [N, K/group] (0..15; absent = 8, symmetric)
 *                                     K % group == 0; b may be absent (-1) while scales is present
 *   GATHER(table, indices, scales, zeros?)  a quantized table (axis 0), attrs bits, group; the output is f32:
 *                                     out[i..., h] = scale[v, h/group]·(q[v, h] − zero[v, h/group]), v = indices[i...]
 *                                       bits 8: table i8 [V, H]; scales f32 [V] (group = H, one per row) or
 *                                               [V, ceil(H/group)]; zeros absent (0)
 *                                       bits 4: table q4 [V, H] (flat: rows start mid-byte when H is odd);
 *                                               scales f32 [V, ceil(H/group)]; zeros u8 (0..15; absent = 8)
 *                                     the last group of a row may be shorter (H % group ≠ 0); attr group may be
 *                                     left out when scales have one column or H % columns == 0.  A table tied to
 *                                     a LINEAR (GPT-2's LM head) is that LINEAR's W, same scales and zeros.
 *   ATTENTION(q, k, v, mask?)         q,k,v [B, S, H]; heads split inside; attrs num_heads, causal (0/1),
 *                                     scale (0 = 1/sqrt(H/num_heads)); mask [B, S_kv], nonzero = attend;
 *                                     out [B, S, H] (before the output projection)
 *   SKIP_LAYERNORM(x, skip, gamma, beta, bias?)  LAYERNORM(x + skip + bias) over the last dim; attr epsilon
 */

/* ---- attributes ---- */
typedef enum sk_attr_type {
    SK_ATTR_INT, SK_ATTR_FLOAT, SK_ATTR_STRING, SK_ATTR_INTS, SK_ATTR_FLOATS
} sk_attr_type;

typedef struct sk_attr {
    char *name;
    sk_attr_type type;
    int64_t i;
    float f;
    char *s;
    int n;                 /* count of ints / floats */
    int64_t *ints;
    float *floats;
} sk_attr;

/* ---- tensors ---- */
enum {
    SK_TF_WEIGHT = 1 << 0,  /* a trained parameter */
    SK_TF_CONST  = 1 << 1,  /* has data (initializer or folded constant) */
    SK_TF_INPUT  = 1 << 2,  /* graph input */
    SK_TF_OUTPUT = 1 << 3,  /* graph output */
    SK_TF_OWNED  = 1 << 4,  /* data was malloc'd by the model and is freed with it */
};

typedef struct sk_quant {   /* quantization parameters (filled by quant passes) */
    int bits, group, axis;
    bool symmetric;
    int scales;             /* tensor id of scales, -1 if none */
    int zeros;              /* tensor id of zero points, -1 if none */
} sk_quant;

typedef struct sk_tensor {
    char *name;
    sk_dtype dtype;
    int rank;                     /* -1 = unknown */
    int64_t dims[SK_MAX_RANK];    /* -1 = dynamic (then dim_names[i] may name it) */
    char *dim_names[SK_MAX_RANK]; /* symbolic names of dynamic dims ("batch"), or NULL */
    void *data;                   /* constants only; NULL for activations */
    size_t nbytes;
    unsigned flags;               /* SK_TF_* */
    sk_quant *quant;              /* NULL unless quantized */
} sk_tensor;

int64_t sk_tensor_numel(const sk_tensor *t);  /* -1 if a dim is unknown */

/* ---- nodes ---- */
typedef struct sk_node {
    sk_op op;
    char *name;
    int n_in, n_out;
    int *in, *out;                /* tensor ids; an absent optional input is -1 */
    int n_attrs;
    sk_attr *attrs;
} sk_node;

const sk_attr *sk_node_attr(const sk_node *n, const char *name);
int64_t sk_node_attr_i(const sk_node *n, const char *name, int64_t dflt);
float sk_node_attr_f(const sk_node *n, const char *name, float dflt);
const char *sk_node_attr_s(const sk_node *n, const char *name, const char *dflt);
/* Setters replace an existing attribute of the same name.  Return SK_ERR_NOMEM on failure. */
sk_status sk_node_set_i(sk_node *n, const char *name, int64_t v);
sk_status sk_node_set_f(sk_node *n, const char *name, float v);
sk_status sk_node_set_s(sk_node *n, const char *name, const char *v);
sk_status sk_node_set_ints(sk_node *n, const char *name, const int64_t *v, int count);
sk_status sk_node_set_floats(sk_node *n, const char *name, const float *v, int count);

/* ---- graph ---- */
typedef struct sk_graph {
    sk_tensor *tensors; int n_tensors, cap_tensors;
    sk_node *nodes;     int n_nodes, cap_nodes;
    int *inputs;  int n_inputs;   /* tensor ids */
    int *outputs; int n_outputs;
} sk_graph;

/* Add a tensor; returns its id or -1 (error set).  name is copied. */
int sk_graph_add_tensor(sk_graph *g, const char *name, sk_dtype dt, int rank, const int64_t *dims);
/* Add a constant tensor whose data the graph takes over (owned=true: freed with
 * the model) or borrows (owned=false: e.g. a view into an mmapped file). */
int sk_graph_add_const(sk_graph *g, const char *name, sk_dtype dt, int rank, const int64_t *dims,
                       void *data, bool owned);
/* Add a node; ins/outs are copied.  Returns the node index or -1. */
int sk_graph_add_node(sk_graph *g, sk_op op, const char *name,
                      const int *ins, int n_in, const int *outs, int n_out);
int sk_graph_find_tensor(const sk_graph *g, const char *name);  /* -1 if none */
sk_status sk_graph_add_input(sk_graph *g, int tid);
sk_status sk_graph_add_output(sk_graph *g, int tid);
/* Check every invariant (ids in range, arity, topological order, one producer
 * per tensor, constants have data of the right size).  SK_ERR_INVALID with a
 * message naming the node or tensor. */
sk_status sk_graph_verify(const sk_graph *g);
void sk_graph_free(sk_graph *g);   /* frees contents; not g itself */

/* ---- model ---- */
typedef enum sk_family { SK_FAM_NONE = 0, SK_FAM_BERT, SK_FAM_GPT2, SK_FAM_MLP, SK_FAM_CNN, SK_FAM_RNN } sk_family;
const char *sk_family_name(sk_family f);

typedef struct sk_arch {
    sk_family family;
    char task[32];          /* "seq-classification", "lm", "base", "image-classification" */
    int n_layers, hidden, heads, ffn, vocab, max_pos, type_vocab, n_labels;
    float eps;
    char act[16];           /* "gelu", "gelu_new", "relu" */
    char **labels;          /* n_labels names (id2label), or NULL */
    const int *layer_heads; /* building a template only: heads kept in each layer (HF pruned_heads), NULL = heads
                               in all; not owned, not saved */
} sk_arch;

typedef struct sk_prov {    /* one provenance entry: a pass that ran and its parameters (JSON) */
    char *pass;
    char *params_json;
} sk_prov;

typedef struct sk_mapping { void *addr; size_t len; } sk_mapping;

typedef struct sk_blob {    /* a named file held in memory, owned by the model */
    char *name;             /* "vocab.txt" */
    void *data;             /* len bytes, followed by a NUL not counted in len */
    size_t len;
} sk_blob;

struct sk_model {
    sk_graph g;
    sk_arch arch;
    char *source;           /* path it was loaded from */
    char *tokenizer_dir;    /* folder with vocab.txt or vocab.json + merges.txt, or NULL */
    sk_prov *prov; int n_prov;
    sk_mapping *maps; int n_maps;   /* mmapped files that tensor data points into */
    sk_blob *files; int n_files;    /* tokenizer files embedded in the model (.skm); used before tokenizer_dir */
};

sk_model *sk_model_new(void);      /* NULL on OOM (error set) */
sk_status sk_model_add_prov(sk_model *m, const char *pass, const char *params_json);
sk_status sk_model_add_map(sk_model *m, void *addr, size_t len);
/* Append a copy of len bytes as the embedded file name (SK_ERR_NOMEM on failure). */
sk_status sk_model_add_file(sk_model *m, const char *name, const void *data, size_t len);
/* A copy of m: graph, arch, provenance, embedded files.  Data m owns is
 * copied; read-only views into m's mapped files are shared, not copied (the
 * copy maps nothing), so the copy must be freed before m.  Changing either
 * model's graph or owned data leaves the other as it was.  *out is the
 * caller's (sk_model_free); SK_ERR_NOMEM leaves it NULL. */
sk_status sk_model_clone(const sk_model *m, sk_model **out);
/* Sum of element counts of weight tensors, and bytes by dtype (array of SK_DT_COUNT). */
int64_t sk_model_params(const sk_model *m, size_t *bytes_by_dtype);

/* ---- text form (text.c; syntax in docs/ir.md) ---- */
/* Print m as text IR.  Constants with more than 16 elements (64 bytes of raw
 * data) print as "<N bytes>", which the parser rejects, unless full_values:
 * then every value is printed (floats as the shorter of %.7g / %.9g that
 * reads back exactly) and print → parse → print is the identity, tensor data
 * bit-exact (NaN payloads aside).  Tensors with empty or duplicate names are
 * printed as "<name>_<id>".  SK_ERR_IO if f fails. */
sk_status sk_ir_print(const sk_model *m, FILE *f, bool full_values);
/* Parse text IR (NUL-terminated).  filename (may be NULL) names the text in
 * messages ("x.skir:3:14: expected ')' after inputs of Add, found 'x'") and
 * becomes m->source.  On success *out is the caller's (sk_model_free) and has
 * passed sk_graph_verify; on failure *out is NULL.  Any input gives a model or
 * an error. */
sk_status sk_ir_parse(const char *text, const char *filename, sk_model **out);
/* Read and parse a .skir file (a file with a NUL byte is rejected). */
sk_status sk_ir_parse_file(const char *path, sk_model **out);

#endif
