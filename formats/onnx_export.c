/* onnx_export.c — the ONNX exporter: sk_model → a ModelProto (packed by
 * protobuf-c) that onnxruntime runs.
 *
 * Primitive ops go out as the ONNX op of the same name, respelled for the
 * target opset where the IR keeps the spelling of the file it came from
 * (axes as attribute or input, Split sizes, ConstantOfShape's value, RNN
 * activations).  Fused ops are decomposed into standard ONNX, quantized
 * LINEARs into DequantizeLinear / MatMulInteger / com.microsoft MatMulNBits,
 * quantized Gathers into DequantizeLinear → Gather / GatherBlockQuantized;
 * formats.h lists every form.  The decompositions follow the semantics in
 * ir.h and the runtime's kernels, so the file computes what `shrink run`
 * computes (tests/py/test_onnx_export.py holds both to it).
 *
 * Initializers borrow the model's bytes; only reshaped data (Wᵀ, packed
 * zero points, repeated scales) is made here, and a transposed weight is
 * made only when it is written, one at a time when weights go to an
 * external data file, so a model near the 2 GB limit is not held twice.
 * All proto messages live in one arena freed at the end.  This file knows
 * nothing of the importer (onnx.c) beyond the IR both speak, and never
 * changes the model.
 */
#include <cJSON.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "formats.h"
#include "onnx.pb-c.h"
#include "util/util.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "onnx_export.c writes ONNX's little-endian raw_data straight from memory"
#endif

#define OPSET_MIN 17                          /* LayerNormalization */
#define OPSET_MAX 21
#define EXT_AUTO ((size_t)1800000000)        /* initializer bytes past which data goes external */
#define EXT_MIN 1024                          /* smaller tensors stay inline (as onnx's own saver does) */
#define EXT_BIG ((size_t)1 << 20)             /* tensors this large are aligned to 64 kB, smaller to 64 B */
#define CAUSAL_BUF_MAX 4096                   /* largest max_pos for the [P, P] causal buffer */

/* ONNX TensorProto.DataType values used by the decompositions */
enum { OT_FLOAT = 1, OT_UINT8 = 2, OT_INT8 = 3, OT_INT32 = 6, OT_INT64 = 7, OT_BOOL = 9 };

/* ---- an arena for everything the ModelProto points to ---- */
typedef struct blk {
    struct blk *next;
    size_t used, cap;
    max_align_t data[];
} blk;

/* ---- a set of names (keys live in the arena) ---- */
typedef struct nset {
    const char **key;
    size_t cap, n;
} nset;

/* One initializer and where its bytes come from. */
typedef struct init {
    Onnx__TensorProto *tp;
    const void *src;           /* the bytes (borrowed or in the arena), or the source of a transpose */
    size_t nbytes;
    int64_t rows, cols;        /* rows > 0: the bytes are src [rows, cols] transposed to [cols, rows] */
    size_t esize;
    void *buf;                 /* the transposed bytes once made (sk_free) */
} init;

typedef struct kconst {        /* a small constant made here, shared by value */
    int dt, rank;
    int64_t n;
    unsigned char v[64];
    const char *name;
} kconst;

enum { USE_ORIG = 1, USE_T = 2 };

typedef struct ex {
    const sk_model *m;
    const sk_graph *g;
    const char *path;
    int opset, int8_form;
    sk_status st;              /* sticky: once set, every helper returns NULL */
    blk *arena;
    nset names, node_names;
    const char **tname;        /* [n_tensors] the ONNX name of each IR tensor */
    const char **orig;         /* [n_tensors] its name once emitted as it is */
    const char **trans;        /* [n_tensors] a 2-D tensor transposed, once made */
    const char **nbits;        /* [n_tensors] a q4 W as MatMulNBits' B, once made (a tied table reads it too) */
    const char **mask_bias;    /* [n_tensors] the [B, 1, 1, T] additive mask made from a mask input */
    unsigned char *use;        /* [n_tensors] USE_* */
    bool *const_out;           /* [n_tensors] a constant that is a graph output */
    const char *causal;        /* the [P, P] lower-triangular bool buffer, once made */
    Onnx__NodeProto **nodes; int n_nodes, cap_nodes;
    init *inits; int n_inits, cap_inits;
    kconst *kc; int n_kc, cap_kc;
    bool ms;                   /* a com.microsoft op was used */
    const sk_node *cur;        /* the IR node being exported, for names and messages */
} ex;

static const char *S(const char *s) { return s ? s : ""; }

/* ---- arena ---- */
static void *ar_alloc(ex *e, size_t n)
{
    if (e->st) return NULL;
    n = (n + 15) & ~(size_t)15;
    if (!e->arena || e->arena->cap - e->arena->used < n) {
        size_t cap = n > 60000 ? n : 60000;
        blk *b = sk_malloc(sizeof *b + cap);
        if (!b) { e->st = SK_ERR_NOMEM; return NULL; }
        b->next = e->arena;
        b->used = 0;
        b->cap = cap;
        e->arena = b;
    }
    void *p = (char *)e->arena->data + e->arena->used;
    e->arena->used += n;
    memset(p, 0, n);
    return p;
}

static char *ar_strdup(ex *e, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = ar_alloc(e, n);
    if (p) memcpy(p, s, n);
    return p;
}

static char *ar_printf(ex *e, const char *fmt, ...) SK_PRINTF(2, 3);
static char *ar_printf(ex *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n < 0 ? NULL : ar_alloc(e, (size_t)n + 1);
    if (!p) return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

static void arena_free(blk *b)
{
    while (b) {
        blk *n = b->next;
        sk_free(b);
        b = n;
    }
}

/* ---- names ---- */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static bool nset_has(const nset *h, const char *k)
{
    if (!h->cap) return false;
    for (size_t i = hash_str(k) & (h->cap - 1);; i = (i + 1) & (h->cap - 1)) {
        if (!h->key[i]) return false;
        if (!strcmp(h->key[i], k)) return true;
    }
}

static void nset_add(ex *e, nset *h, const char *k)
{
    if (e->st) return;
    if (2 * (h->n + 1) > h->cap) {
        nset g = {0};
        g.cap = h->cap ? 2 * h->cap : 256;
        if (!(g.key = sk_calloc(g.cap, sizeof *g.key))) { e->st = SK_ERR_NOMEM; return; }
        for (size_t i = 0; i < h->cap; i++) {
            if (!h->key[i]) continue;
            size_t j = hash_str(h->key[i]) & (g.cap - 1);
            while (g.key[j]) j = (j + 1) & (g.cap - 1);
            g.key[j] = h->key[i];
        }
        g.n = h->n;
        sk_free(h->key);
        *h = g;
    }
    size_t i = hash_str(k) & (h->cap - 1);
    while (h->key[i] && strcmp(h->key[i], k)) i = (i + 1) & (h->cap - 1);
    if (!h->key[i]) { h->key[i] = k; h->n++; }
}

/* A name not yet in h: "base/what", else "base/what_2", "base/what_3", ... */
static const char *fresh_in(ex *e, nset *h, const char *base, const char *what)
{
    char *nm = *S(base) ? ar_printf(e, "%s/%s", base, what) : ar_strdup(e, what);
    for (int k = 2; nm && nset_has(h, nm); k++)
        nm = *S(base) ? ar_printf(e, "%s/%s_%d", base, what, k) : ar_printf(e, "%s_%d", what, k);
    if (nm) nset_add(e, h, nm);
    return e->st ? NULL : nm;
}

static const char *fresh(ex *e, const char *what) { return fresh_in(e, &e->names, e->cur ? e->cur->name : "", what); }

/* ---- errors ---- */
static void fail(ex *e, sk_status st, const char *fmt, ...) SK_PRINTF(3, 4);
static void fail(ex *e, sk_status st, const char *fmt, ...)
{
    if (e->st) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (e->cur)
        e->st = sk_err(st, "%s: node '%s' (%s): %s", e->path, S(e->cur->name), sk_op_get(e->cur->op)->name, msg);
    else
        e->st = sk_err(st, "%s: %s", e->path, msg);
}

/* ---- initializers ---- */
static bool grow(ex *e, void **arr, int *cap, int need, size_t esz)
{
    if (e->st) return false;
    if (sk_grow(arr, cap, need, esz)) { e->st = SK_ERR_NOMEM; return false; }
    return true;
}

/* An initializer called name of ONNX type dt and shape dims, its bytes data
 * (borrowed: must live until the file is written). */
static init *init_add(ex *e, const char *name, int dt, int rank, const int64_t *dims, const void *data, size_t nbytes)
{
    if (!grow(e, (void **)&e->inits, &e->cap_inits, e->n_inits + 1, sizeof *e->inits)) return NULL;
    Onnx__TensorProto *tp = ar_alloc(e, sizeof *tp);
    int64_t *d = ar_alloc(e, (size_t)(rank ? rank : 1) * sizeof *d);
    if (!tp || !d) return NULL;
    *tp = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
    tp->name = (char *)name;
    tp->has_data_type = 1;
    tp->data_type = dt;
    tp->n_dims = (size_t)rank;
    tp->dims = d;
    if (rank) memcpy(d, dims, (size_t)rank * sizeof *d);
    init *in = &e->inits[e->n_inits++];
    memset(in, 0, sizeof *in);
    in->tp = tp;
    in->src = data;
    in->nbytes = nbytes;
    return in;
}

/* An initializer whose bytes are src [rows, cols] (esize bytes each) transposed. */
static init *init_trans(ex *e, const char *name, int dt, int rank, const int64_t *dims, const void *src,
                        int64_t rows, int64_t cols, size_t esize)
{
    init *in = init_add(e, name, dt, rank, dims, src, (size_t)(rows * cols) * esize);
    if (in) {
        in->rows = rows;
        in->cols = cols;
        in->esize = esize;
    }
    return in;
}

/* A small constant (≤ 64 bytes), shared with an equal one made before. */
static const char *kconst_get(ex *e, int dt, int rank, int64_t n, const void *v, size_t esize)
{
    if (e->st) return NULL;
    SK_ASSERT((size_t)n * esize <= sizeof e->kc[0].v && rank <= 1);
    for (int i = 0; i < e->n_kc; i++) {
        kconst *k = &e->kc[i];
        if (k->dt == dt && k->rank == rank && k->n == n && !memcmp(k->v, v, (size_t)n * esize)) return k->name;
    }
    if (!grow(e, (void **)&e->kc, &e->cap_kc, e->n_kc + 1, sizeof *e->kc)) return NULL;
    kconst *k = &e->kc[e->n_kc];
    memset(k, 0, sizeof *k);
    k->dt = dt;
    k->rank = rank;
    k->n = n;
    memcpy(k->v, v, (size_t)n * esize);
    void *data = ar_alloc(e, sizeof k->v);
    const char *name = fresh_in(e, &e->names, "", dt == OT_FLOAT ? "const_f32" : "const_i64");
    if (!data || !name) return NULL;
    memcpy(data, v, (size_t)n * esize);
    if (!init_add(e, name, dt, rank, &n, data, (size_t)n * esize)) return NULL;
    k->name = name;
    e->n_kc++;
    return name;
}

static const char *k_i64(ex *e, const int64_t *v, int n) { return kconst_get(e, OT_INT64, 1, n, v, 8); }
static const char *k_i64s(ex *e, int64_t v) { return kconst_get(e, OT_INT64, 0, 1, &v, 8); }   /* scalar */
static const char *k_f32(ex *e, float v) { return kconst_get(e, OT_FLOAT, 0, 1, &v, 4); }    /* scalar */

static int onnx_type(ex *e, sk_dtype dt, const char *tname)
{
    int t = dt == SK_DT_Q4 ? 0 : sk_dtype_info(dt)->onnx;
    if (!t)
        fail(e, SK_ERR_UNSUPPORTED, "tensor '%s' of dtype %s has no ONNX form here", tname, sk_dtype_info(dt)->name);
    return t;
}

/* ---- nodes and attributes ---- */
static char empty_name[1];   /* "": an absent optional input or output */

static const char *node_name(ex *e, const char *want, const char *op)
{
    if (*S(want) && !nset_has(&e->node_names, want)) {
        char *nm = ar_strdup(e, want);
        nset_add(e, &e->node_names, nm);
        return e->st ? NULL : nm;
    }
    return fresh_in(e, &e->node_names, *S(want) ? "" : (e->cur ? e->cur->name : ""), *S(want) ? want : op);
}

/* A node of op_type op (domain NULL = the default one) named name (NULL:
 * after the IR node being exported); NULL inputs are absent (trailing ones
 * dropped), all names are borrowed from the arena or the model. */
static Onnx__NodeProto *node_new(ex *e, const char *op, const char *domain, const char *name,
                                 const char *const *ins, int n_in, const char *const *outs, int n_out)
{
    if (e->st) return NULL;
    while (n_in && !ins[n_in - 1]) n_in--;
    Onnx__NodeProto *np = ar_alloc(e, sizeof *np);
    char **in = ar_alloc(e, (size_t)(n_in + 1) * sizeof *in), **out = ar_alloc(e, (size_t)(n_out + 1) * sizeof *out);
    const char *nm = node_name(e, name, op);
    if (!np || !in || !out || !nm) return NULL;
    *np = (Onnx__NodeProto)ONNX__NODE_PROTO__INIT;
    for (int i = 0; i < n_in; i++) in[i] = ins[i] ? (char *)ins[i] : empty_name;
    for (int i = 0; i < n_out; i++) out[i] = outs[i] ? (char *)outs[i] : empty_name;
    np->n_input = (size_t)n_in;
    np->input = in;
    np->n_output = (size_t)n_out;
    np->output = out;
    np->name = (char *)nm;
    np->op_type = (char *)op;
    if (domain) {
        np->domain = (char *)domain;
        e->ms = true;
    }
    if (!grow(e, (void **)&e->nodes, &e->cap_nodes, e->n_nodes + 1, sizeof *e->nodes)) return NULL;
    e->nodes[e->n_nodes++] = np;
    return np;
}

/* A one-output node: mk(e, "Add", dst, 2, a, b); dst NULL = a fresh name. */
static Onnx__NodeProto *mk(ex *e, const char *op, const char *dst, int n_in, ...)
{
    const char *ins[8];
    SK_ASSERT(n_in <= 8);
    va_list ap;
    va_start(ap, n_in);
    for (int i = 0; i < n_in; i++) ins[i] = va_arg(ap, const char *);
    va_end(ap);
    if (e->st) return NULL;
    const char *out = dst ? dst : fresh(e, op);
    return out ? node_new(e, op, NULL, NULL, ins, n_in, &out, 1) : NULL;
}

static const char *O(const Onnx__NodeProto *np) { return np ? np->output[0] : NULL; }

static Onnx__AttributeProto *attr_new(ex *e, Onnx__NodeProto *np, const char *name,
                                      Onnx__AttributeProto__AttributeType type)
{
    if (e->st || !np) return NULL;
    Onnx__AttributeProto **arr = ar_alloc(e, (np->n_attribute + 1) * sizeof *arr);
    Onnx__AttributeProto *a = ar_alloc(e, sizeof *a);
    char *nm = ar_strdup(e, name);
    if (!arr || !a || !nm) return NULL;
    if (np->n_attribute) memcpy(arr, np->attribute, np->n_attribute * sizeof *arr);
    *a = (Onnx__AttributeProto)ONNX__ATTRIBUTE_PROTO__INIT;
    a->name = nm;
    a->has_type = 1;
    a->type = type;
    arr[np->n_attribute++] = a;
    np->attribute = arr;
    return a;
}

static void set_i(ex *e, Onnx__NodeProto *np, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr_new(e, np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) { a->has_i = 1; a->i = v; }
}

static void set_f(ex *e, Onnx__NodeProto *np, const char *name, float v)
{
    Onnx__AttributeProto *a = attr_new(e, np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) { a->has_f = 1; a->f = v; }
}

static void set_s(ex *e, Onnx__NodeProto *np, const char *name, const char *v)
{
    Onnx__AttributeProto *a = attr_new(e, np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    char *s = a ? ar_strdup(e, v) : NULL;
    if (s) { a->has_s = 1; a->s.len = strlen(s); a->s.data = (uint8_t *)s; }
}

static void set_ints(ex *e, Onnx__NodeProto *np, const char *name, const int64_t *v, int n)
{
    Onnx__AttributeProto *a = attr_new(e, np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *p = a ? ar_alloc(e, (size_t)(n ? n : 1) * sizeof *p) : NULL;
    if (!p) return;
    if (n) memcpy(p, v, (size_t)n * sizeof *p);
    a->n_ints = (size_t)n;
    a->ints = p;
}

static void set_floats(ex *e, Onnx__NodeProto *np, const char *name, const float *v, int n)
{
    Onnx__AttributeProto *a = attr_new(e, np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    float *p = a ? ar_alloc(e, (size_t)(n ? n : 1) * sizeof *p) : NULL;
    if (!p) return;
    if (n) memcpy(p, v, (size_t)n * sizeof *p);
    a->n_floats = (size_t)n;
    a->floats = p;
}

/* STRINGS from the IR's one string joined by ',' (how the importer keeps them). */
static void set_strings(ex *e, Onnx__NodeProto *np, const char *name, const char *joined)
{
    Onnx__AttributeProto *a = attr_new(e, np, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    char *s = a ? ar_strdup(e, joined) : NULL;
    size_t n = 1;
    for (const char *p = joined; *p; p++) n += *p == ',';
    ProtobufCBinaryData *v = s ? ar_alloc(e, n * sizeof *v) : NULL;
    if (!v) return;
    n = 0;
    for (char *p = s;; ) {
        char *c = strchr(p, ',');
        if (c) *c = 0;
        v[n].data = (uint8_t *)p;
        v[n++].len = strlen(p);
        if (!c) break;
        p = c + 1;
    }
    a->n_strings = n;
    a->strings = v;
}

/* ConstantOfShape's value: the IR's float "value" and sk_dtype "value_dtype"
 * back into a one-element tensor. */
static void set_value_tensor(ex *e, Onnx__NodeProto *np, float v, sk_dtype dt)
{
    int odt = onnx_type(e, dt, "value");
    Onnx__AttributeProto *a = odt ? attr_new(e, np, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR) : NULL;
    Onnx__TensorProto *tp = a ? ar_alloc(e, sizeof *tp) : NULL;
    int64_t *dims = tp ? ar_alloc(e, sizeof *dims) : NULL;
    unsigned char *b = dims ? ar_alloc(e, 8) : NULL;
    if (!b) return;
    size_t n = sk_dtype_info(dt)->block_bytes;
    switch (dt) {
    case SK_DT_F32: memcpy(b, &v, 4); break;
    case SK_DT_F64: { double d = v; memcpy(b, &d, 8); break; }
    case SK_DT_F16: { uint16_t h = sk_f32_to_f16(v); memcpy(b, &h, 2); break; }
    case SK_DT_BF16: { uint32_t u; memcpy(&u, &v, 4); uint16_t h = (uint16_t)(u >> 16); memcpy(b, &h, 2); break; }
    case SK_DT_I64: { int64_t i = (int64_t)v; memcpy(b, &i, 8); break; }
    case SK_DT_I32: { int32_t i = (int32_t)v; memcpy(b, &i, 4); break; }
    case SK_DT_I16: { int16_t i = (int16_t)v; memcpy(b, &i, 2); break; }
    case SK_DT_I8: b[0] = (unsigned char)(int8_t)v; break;
    case SK_DT_U8: b[0] = (unsigned char)v; break;
    case SK_DT_BOOL: b[0] = v != 0; break;
    default: fail(e, SK_ERR_UNSUPPORTED, "ConstantOfShape value of dtype %s", sk_dtype_info(dt)->name); return;
    }
    *tp = (Onnx__TensorProto)ONNX__TENSOR_PROTO__INIT;
    dims[0] = 1;
    tp->n_dims = 1;
    tp->dims = dims;
    tp->has_data_type = 1;
    tp->data_type = odt;
    tp->has_raw_data = 1;
    tp->raw_data.len = n;
    tp->raw_data.data = b;
    a->t = tp;
}

/* ---- IR tensors ---- */
/* The ONNX name of IR tensor tid as it is (NULL for an absent input, -1);
 * a constant becomes an initializer on first use. */
static const char *T(ex *e, int tid)
{
    if (e->st || tid < 0) return NULL;
    if (e->orig[tid]) return e->orig[tid];
    const sk_tensor *t = &e->g->tensors[tid];
    const char *name = e->tname[tid];
    if (t->flags & SK_TF_CONST) {
        int dt = onnx_type(e, t->dtype, name);
        if (e->const_out[tid]) name = fresh_in(e, &e->names, name, "value");   /* an Identity makes the output */
        if (!dt || !init_add(e, name, dt, t->rank, t->dims, t->data, t->nbytes)) return NULL;
    }
    return e->orig[tid] = name;
}

/* A 2-D tensor transposed: a transposed initializer when it is a constant
 * that nothing reads as it is, else a Transpose node (which onnxruntime
 * folds at load when its input is an initializer). */
static const char *Tt(ex *e, int tid)
{
    if (e->st) return NULL;
    if (e->trans[tid]) return e->trans[tid];
    const sk_tensor *t = &e->g->tensors[tid];
    if (t->rank != 2) {
        fail(e, SK_ERR_INVALID, "weight '%s' has rank %d, expected 2", e->tname[tid], t->rank);
        return NULL;
    }
    const char *name = fresh_in(e, &e->names, e->tname[tid], "T");
    if ((t->flags & SK_TF_CONST) && !(e->use[tid] & USE_ORIG) && !e->const_out[tid]) {
        int dt = onnx_type(e, t->dtype, e->tname[tid]);
        int64_t dims[2] = {t->dims[1], t->dims[0]};
        if (!dt || !init_trans(e, name, dt, 2, dims, t->data, t->dims[0], t->dims[1],
                               sk_dtype_info(t->dtype)->block_bytes))
            return NULL;
    } else {
        static const int64_t perm[2] = {1, 0};
        const char *src = T(e, tid);
        Onnx__NodeProto *np = node_new(e, "Transpose", NULL, NULL, &src, 1, &name, 1);
        set_ints(e, np, "perm", perm, 2);
    }
    return e->trans[tid] = name;
}

/* 1-D int64 constant of any length (k_i64 shares only short ones). */
static const char *i64_list(ex *e, const int64_t *v, int n)
{
    if (n <= 8) return k_i64(e, v, n);
    int64_t *d = ar_alloc(e, (size_t)n * sizeof *d), len = n;
    const char *name = fresh(e, "const_i64");
    if (!d || !name) return NULL;
    memcpy(d, v, (size_t)n * sizeof *d);
    return init_add(e, name, OT_INT64, 1, &len, d, (size_t)n * sizeof *d) ? name : NULL;
}

/* ---- primitive ops ---- */
static bool attr_is(const sk_attr *a, const char *name) { return !strcmp(a->name, name); }

static void copy_attr(ex *e, Onnx__NodeProto *np, const sk_attr *a)
{
    switch (a->type) {
    case SK_ATTR_INT: set_i(e, np, a->name, a->i); break;
    case SK_ATTR_FLOAT: set_f(e, np, a->name, a->f); break;
    case SK_ATTR_STRING: set_s(e, np, a->name, S(a->s)); break;
    case SK_ATTR_INTS: set_ints(e, np, a->name, a->ints, a->n); break;
    case SK_ATTR_FLOATS: set_floats(e, np, a->name, a->floats, a->n); break;
    }
}

/* The integer values of a constant 1-D tensor (ReduceMean axes going back to
 * an attribute); false when it is not one. */
static bool const_ints(const sk_graph *g, int tid, int64_t *v, int max, int *n)
{
    const sk_tensor *t = &g->tensors[tid];
    int64_t cnt = sk_tensor_numel(t);
    if (!(t->flags & SK_TF_CONST) || t->rank > 1 || cnt < 0 || cnt > max || (cnt && !t->data)) return false;
    for (int64_t i = 0; i < cnt; i++) {
        if (t->dtype == SK_DT_I64) memcpy(&v[i], (const char *)t->data + 8 * i, 8);
        else if (t->dtype == SK_DT_I32) { int32_t x; memcpy(&x, (const char *)t->data + 4 * i, 4); v[i] = x; }
        else return false;
    }
    *n = (int)cnt;
    return true;
}

static void emit_primitive(ex *e, const sk_node *n)
{
    const sk_op_info *oi = sk_op_get(n->op);
    if (!*oi->onnx) { fail(e, SK_ERR_UNSUPPORTED, "op has no ONNX form"); return; }
    int n_in = n->n_in;
    const char **ins = ar_alloc(e, (size_t)(n_in + 2) * sizeof *ins);
    const char **outs = ar_alloc(e, (size_t)(n->n_out + 1) * sizeof *outs);
    if (!ins || !outs) return;
    const sk_attr *axes = sk_node_attr(n, "axes"), *split = sk_node_attr(n, "split");
    bool axes_input = n->op == SK_OP_SQUEEZE || n->op == SK_OP_UNSQUEEZE || n->op == SK_OP_REDUCE_SUM ||
                      (n->op == SK_OP_REDUCE_MEAN && e->opset >= 18);
    int64_t ax[SK_MAX_RANK];
    int n_ax = 0;
    bool axes_attr = false;   /* ReduceMean before opset 18: axes input → attribute */
    if (n->op == SK_OP_REDUCE_MEAN && e->opset < 18 && n_in > 1 && n->in[1] >= 0) {
        if (!const_ints(e->g, n->in[1], ax, SK_MAX_RANK, &n_ax)) {
            fail(e, SK_ERR_UNSUPPORTED, "axes input is not a constant (opset %d takes them as an attribute)", e->opset);
            return;
        }
        n_in = 1;
        axes_attr = true;
    }
    for (int i = 0; i < n_in; i++) ins[i] = T(e, n->in[i]);   /* after the fixups: a moved axes input is not written */
    for (int i = 0; i < n->n_out; i++) outs[i] = T(e, n->out[i]);
    if (axes_input && axes && axes->type == SK_ATTR_INTS && n_in == 1) ins[n_in++] = i64_list(e, axes->ints, axes->n);
    if (n->op == SK_OP_SPLIT && split && split->type == SK_ATTR_INTS && n_in == 1)
        ins[n_in++] = i64_list(e, split->ints, split->n);
    Onnx__NodeProto *np = node_new(e, oi->onnx, NULL, n->name, ins, n_in, outs, n->n_out);
    if (!np) return;
    if (axes_attr) set_ints(e, np, "axes", ax, n_ax);
    bool rnn = n->op == SK_OP_LSTM || n->op == SK_OP_GRU || n->op == SK_OP_RNN;
    for (int i = 0; i < n->n_attrs; i++) {
        const sk_attr *a = &n->attrs[i];
        if (a == axes && axes_input) continue;
        if (a == split && n->op == SK_OP_SPLIT) continue;
        if (n->op == SK_OP_SPLIT && attr_is(a, "num_outputs") && e->opset < 18) continue;
        if (n->op == SK_OP_CONSTANT_OF_SHAPE && (attr_is(a, "value") || attr_is(a, "value_dtype"))) continue;
        if (rnn && attr_is(a, "activations") && a->type == SK_ATTR_STRING) {
            set_strings(e, np, a->name, S(a->s));
            continue;
        }
        copy_attr(e, np, a);
    }
    if (n->op == SK_OP_SPLIT && e->opset >= 18 && (n_in < 2 || !ins[1]) && !sk_node_attr(n, "num_outputs"))
        set_i(e, np, "num_outputs", n->n_out);
    if (n->op == SK_OP_CONSTANT_OF_SHAPE)
        set_value_tensor(e, np, sk_node_attr_f(n, "value", 0.0f),
                         (sk_dtype)sk_node_attr_i(n, "value_dtype", SK_DT_F32));
}

/* ---- GELU and the LINEAR epilogue ---- */
static const char *gelu(ex *e, const char *x, bool tanh_form, const char *dst)
{
    if (e->opset >= 20) {
        Onnx__NodeProto *np = mk(e, "Gelu", dst, 1, x);
        set_s(e, np, "approximate", tanh_form ? "tanh" : "none");
        return O(np);
    }
    const char *t;
    if (!tanh_form) {   /* 0.5·x·(1 + erf(x/√2)), as torch exports it */
        t = O(mk(e, "Div", NULL, 2, x, k_f32(e, 1.41421356237309504880f)));
        t = O(mk(e, "Erf", NULL, 1, t));
    } else {            /* 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), HF gelu_new */
        const char *x3 = O(mk(e, "Mul", NULL, 2, O(mk(e, "Mul", NULL, 2, x, x)), x));
        t = O(mk(e, "Add", NULL, 2, x, O(mk(e, "Mul", NULL, 2, x3, k_f32(e, 0.044715f)))));
        t = O(mk(e, "Mul", NULL, 2, t, k_f32(e, 0.79788456080286535588f)));
        t = O(mk(e, "Tanh", NULL, 1, t));
    }
    t = O(mk(e, "Add", NULL, 2, t, k_f32(e, 1.0f)));
    t = O(mk(e, "Mul", NULL, 2, x, t));
    return O(mk(e, "Mul", dst, 2, t, k_f32(e, 0.5f)));
}

static const char *act_apply(ex *e, const char *act, const char *x, const char *dst)
{
    if (!strcmp(act, "relu")) return O(mk(e, "Relu", dst, 1, x));
    if (!strcmp(act, "tanh")) return O(mk(e, "Tanh", dst, 1, x));
    if (!strcmp(act, "sigmoid")) return O(mk(e, "Sigmoid", dst, 1, x));
    if (!strcmp(act, "gelu")) return gelu(e, x, false, dst);
    if (!strcmp(act, "gelu_tanh")) return gelu(e, x, true, dst);
    fail(e, SK_ERR_UNSUPPORTED, "activation '%s' (expected relu, gelu, gelu_tanh or tanh)", act);
    return NULL;
}

static void emit_gelu(ex *e, const sk_node *n)
{
    const char *a = sk_node_attr_s(n, "approximate", "none");
    if (strcmp(a, "none") && strcmp(a, "tanh")) { fail(e, SK_ERR_UNSUPPORTED, "approximate '%s'", a); return; }
    gelu(e, T(e, n->in[0]), !strcmp(a, "tanh"), T(e, n->out[0]));
}

static void emit_skip_layernorm(ex *e, const sk_node *n)
{
    const char *s = O(mk(e, "Add", NULL, 2, T(e, n->in[0]), T(e, n->in[1])));
    if (n->n_in > 4 && n->in[4] >= 0) s = O(mk(e, "Add", NULL, 2, s, T(e, n->in[4])));
    Onnx__NodeProto *np = mk(e, "LayerNormalization", T(e, n->out[0]), 3, s, T(e, n->in[2]),
                             n->n_in > 3 ? T(e, n->in[3]) : NULL);
    set_i(e, np, "axis", -1);
    set_f(e, np, "epsilon", sk_node_attr_f(n, "epsilon", 1e-5f));
}

/* ---- LINEAR ---- */
/* y = x·Wm (+ b) with Wm [K, N]: Gemm for 2-D x, else MatMul (+ Add). */
static const char *matmul_bias(ex *e, int x, const char *wm, bool trans_b, int b, const char *dst)
{
    if (e->g->tensors[x].rank == 2) {
        Onnx__NodeProto *np = mk(e, "Gemm", dst, 3, T(e, x), wm, T(e, b));
        if (trans_b) set_i(e, np, "transB", 1);
        return O(np);
    }
    const char *y = O(mk(e, "MatMul", b >= 0 ? NULL : dst, 2, T(e, x), wm));
    return b >= 0 ? O(mk(e, "Add", dst, 2, y, T(e, b))) : y;
}

/* The scales of a per-channel layer as a 1-D [N] initializer. */
static const char *scales_flat(ex *e, int sc, int64_t N)
{
    const sk_tensor *t = &e->g->tensors[sc];
    if (t->rank == 1) return T(e, sc);
    const char *name = fresh_in(e, &e->names, e->tname[sc], "flat");
    return name && init_add(e, name, OT_FLOAT, 1, &N, t->data, t->nbytes) ? name : NULL;
}

/* int8 weights dequantized to an f32 [K, N] value (weight-only form). */
static const char *dequant8(ex *e, int w, int sc, int64_t N, int64_t K, int64_t ng)
{
    const sk_tensor *tw = &e->g->tensors[w], *ts = &e->g->tensors[sc];
    const char *wn = e->tname[w];
    int64_t g = K / ng;
    if (ng == 1) {   /* per channel: DequantizeLinear(axis 1) with int8 zero points */
        void *z = ar_alloc(e, (size_t)N);
        const char *zn = fresh_in(e, &e->names, wn, "zero_point");
        if (!z || !zn || !init_add(e, zn, OT_INT8, 1, &N, z, (size_t)N)) return NULL;
        Onnx__NodeProto *np = mk(e, "DequantizeLinear", NULL, 3, Tt(e, w), scales_flat(e, sc, N), zn);
        set_i(e, np, "axis", 1);
        return O(np);
    }
    const char *sn = fresh_in(e, &e->names, e->tname[sc], "T");
    if (e->opset >= 21) {   /* blocked DequantizeLinear: scales [K/g, N] along axis 0 */
        int64_t sd[2] = {ng, N};
        if (!sn || !init_trans(e, sn, OT_FLOAT, 2, sd, ts->data, N, ng, 4)) return NULL;
        Onnx__NodeProto *np = mk(e, "DequantizeLinear", NULL, 2, Tt(e, w), sn);
        set_i(e, np, "axis", 0);
        set_i(e, np, "block_size", g);
        return O(np);
    }
    /* before opset 21: Cast(W [K/g, g, N]) · scales [K/g, 1, N] → Reshape [K, N] */
    int64_t wd[3] = {ng, g, N}, sd[3] = {ng, 1, N}, kn[2] = {K, N};
    const char *wt = fresh_in(e, &e->names, wn, "T");
    if (!sn || !wt || !init_trans(e, wt, OT_INT8, 3, wd, tw->data, N, K, 1) ||
        !init_trans(e, sn, OT_FLOAT, 3, sd, ts->data, N, ng, 4))
        return NULL;
    Onnx__NodeProto *c = mk(e, "Cast", NULL, 1, wt);
    set_i(e, c, "to", OT_FLOAT);
    return O(mk(e, "Reshape", NULL, 2, O(mk(e, "Mul", NULL, 2, O(c), sn)), k_i64(e, kn, 2)));
}

/* W8A8 as onnxruntime's quantize_dynamic writes it. */
static const char *dynamic8(ex *e, int x, int w, int b, int sc, int64_t N, const char *dst)
{
    const char *q[3] = {fresh(e, "x_quantized"), fresh(e, "x_scale"), fresh(e, "x_zero_point")};
    const char *xn = T(e, x);
    node_new(e, "DynamicQuantizeLinear", NULL, NULL, &xn, 1, q, 3);
    const char *acc = O(mk(e, "MatMulInteger", NULL, 3, q[0], Tt(e, w), q[2]));
    Onnx__NodeProto *c = mk(e, "Cast", NULL, 1, acc);
    set_i(e, c, "to", OT_FLOAT);
    const char *s = O(mk(e, "Mul", NULL, 2, q[1], scales_flat(e, sc, N)));
    const char *y = O(mk(e, "Mul", b >= 0 ? NULL : dst, 2, O(c), s));
    return b >= 0 ? O(mk(e, "Add", dst, 2, y, T(e, b))) : y;
}

/* MatMulNBits' block for an int4 group: its largest power-of-two divisor, at most 256 (0: none ≥ 16). */
static int64_t nbits_block(int64_t group)
{
    int64_t p = group & -group;
    return p < 16 ? 0 : p > 256 ? 256 : p;
}

/* A q4 W [N, K] as MatMulNBits' B, uint8 [N, K/bs, bs/2]: its bytes as they are, one initializer however
 * many nodes read it (a table tied to the head reads it reshaped). */
static const char *nbits_b(ex *e, int w, int64_t bs)
{
    if (e->st || e->nbits[w]) return e->nbits[w];
    const sk_tensor *t = &e->g->tensors[w];
    int64_t bd[3] = {t->dims[0], t->dims[1] / bs, bs / 2};
    const char *bn = fresh_in(e, &e->names, e->tname[w], "B");
    return bn && init_add(e, bn, OT_UINT8, 3, bd, t->data, t->nbytes) ? (e->nbits[w] = bn) : NULL;
}

/* int4 as com.microsoft MatMulNBits.  level: accuracy_level, 4 (activations
 * quantized to int8 per block, as shrink's W4A8 kernel does; the blocks are
 * the MatMulNBits blocks, smaller than the group when it was re-blocked) or
 * 1 (f32, for weight-only layers). */
static const char *nbits4(ex *e, int x, int w, int b, int sc, int zp, int64_t N, int64_t K, int64_t ng, int level,
                          const char *dst)
{
    const sk_tensor *ts = &e->g->tensors[sc];
    int64_t g = K / ng, bs = nbits_block(g);
    if (!bs || K % 2) {
        fail(e, SK_ERR_UNSUPPORTED, "int4 group %lld: MatMulNBits needs a power-of-two block ≥ 16 dividing it",
             (long long)g);
        return NULL;
    }
    int64_t rep = g / bs, nb = K / bs, nsc = N * nb;
    const char *bn = nbits_b(e, w, bs), *sn = fresh_in(e, &e->names, e->tname[sc], "blocks");
    if (!bn || !sn) return NULL;
    const float *s = ts->data;
    float *sr = rep == 1 ? (float *)s : ar_alloc(e, (size_t)nsc * sizeof *sr);
    if (!sr) return NULL;
    for (int64_t i = 0; rep > 1 && i < nsc; i++) sr[i] = s[i / rep];   /* block i of row n is group i/rep */
    if (!init_add(e, sn, OT_FLOAT, 1, &nsc, sr, (size_t)nsc * sizeof *sr)) return NULL;
    const char *zn = NULL;
    if (zp >= 0) {   /* per row ceil(nb/2) bytes, two 4-bit zero points each, low nibble first */
        const sk_tensor *tz = &e->g->tensors[zp];
        const uint8_t *z = tz->data;
        if (tz->dtype != SK_DT_U8 || sk_tensor_numel(tz) != N * ng) {
            fail(e, SK_ERR_INVALID, "zero points '%s' are %s with %lld values, expected u8 [%lld, %lld]",
                 e->tname[zp], sk_dtype_info(tz->dtype)->name, (long long)sk_tensor_numel(tz), (long long)N,
                 (long long)ng);
            return NULL;
        }
        int64_t zb = (nb + 1) / 2, nz = N * zb;
        uint8_t *pk = ar_alloc(e, (size_t)nz);
        zn = fresh_in(e, &e->names, e->tname[zp], "packed");
        if (!pk || !zn) return NULL;
        for (int64_t n = 0; n < N; n++)
            for (int64_t j = 0; j < nb; j++) {
                uint8_t v = z[n * ng + j / rep];
                if (v > 15) {
                    fail(e, SK_ERR_INVALID, "zero point %u at [%lld, %lld] of '%s' is not 4-bit", v, (long long)n,
                         (long long)(j / rep), e->tname[zp]);
                    return NULL;
                }
                pk[n * zb + j / 2] |= (uint8_t)(v << (4 * (j & 1)));
            }
        if (!init_add(e, zn, OT_UINT8, 1, &nz, pk, (size_t)nz)) return NULL;
    }
    const char *ins[6] = {T(e, x), bn, sn, zn, NULL, T(e, b)};
    const char *out = dst ? dst : fresh(e, "MatMulNBits");
    Onnx__NodeProto *np = out ? node_new(e, "MatMulNBits", "com.microsoft", NULL, ins, 6, &out, 1) : NULL;
    set_i(e, np, "K", K);
    set_i(e, np, "N", N);
    set_i(e, np, "bits", 4);
    set_i(e, np, "block_size", bs);
    set_i(e, np, "accuracy_level", level);
    return O(np);
}

static void emit_linear(ex *e, const sk_node *n)
{
    int x = n->in[0], w = n->in[1], b = n->n_in > 2 ? n->in[2] : -1;
    int sc = n->n_in > 3 ? n->in[3] : -1, zp = n->n_in > 4 ? n->in[4] : -1;
    const char *act = sk_node_attr_s(n, "act", ""), *out = T(e, n->out[0]);
    const char *dst = *act ? NULL : out, *y = NULL;
    int64_t wt = sk_node_attr_i(n, "wt", 1);
    if (wt != 0 && wt != 1) { fail(e, SK_ERR_INVALID, "attribute wt is %lld", (long long)wt); return; }
    if (sc < 0) {
        y = matmul_bias(e, x, wt ? (e->g->tensors[x].rank == 2 ? T(e, w) : Tt(e, w)) : T(e, w), wt, b, dst);
    } else {
        const sk_tensor *tw = &e->g->tensors[w], *ts = &e->g->tensors[sc];
        int64_t N = tw->rank == 2 ? tw->dims[0] : -1, K = tw->rank == 2 ? tw->dims[1] : -1, ns = sk_tensor_numel(ts);
        int64_t ng = N > 0 && ns > 0 ? ns / N : 0;
        int64_t bits = sk_node_attr_i(n, "bits", tw->dtype == SK_DT_Q4 ? 4 : 8);
        int64_t act_bits = sk_node_attr_i(n, "act_bits", 8);   /* the runtime's default (qmatmul.c) */
        if (!(tw->flags & SK_TF_CONST) || !(ts->flags & SK_TF_CONST) || ts->dtype != SK_DT_F32 || wt != 1 ||
            N <= 0 || K <= 0 || ng <= 0 || ns != N * ng || K % ng) {
            fail(e, SK_ERR_INVALID, "quantized weights '%s' and scales '%s' do not fit ir.h's LINEAR (W [N, K] "
                 "constant, wt = 1, f32 scales [N] or [N, K/group])", e->tname[w], e->tname[sc]);
            return;
        }
        int64_t group = sk_node_attr_i(n, "group", 0);
        if (group > 0 && group != K / ng) {
            fail(e, SK_ERR_INVALID, "attribute group %lld, but scales [%lld, %lld] make it %lld", (long long)group,
                 (long long)N, (long long)ng, (long long)(K / ng));
            return;
        }
        if (bits == 8 && tw->dtype == SK_DT_I8 && zp < 0) {
            if (act_bits == 8 && e->int8_form == 1) {
                if (ng != 1) {
                    fail(e, SK_ERR_UNSUPPORTED, "int8 weights with %lld groups per row and int8 activations have no "
                         "MatMulInteger form (it takes one scale per column); export the QDQ form", (long long)ng);
                    return;
                }
                y = dynamic8(e, x, w, b, sc, N, dst);
            } else {
                y = matmul_bias(e, x, dequant8(e, w, sc, N, K, ng), false, b, dst);
            }
        } else if (bits == 4 && tw->dtype == SK_DT_Q4) {
            y = nbits4(e, x, w, b, sc, zp, N, K, ng, act_bits == 8 ? 4 : 1, dst);
        } else {
            fail(e, SK_ERR_UNSUPPORTED, "bits %lld with %s weights%s", (long long)bits, sk_dtype_info(tw->dtype)->name,
                 zp >= 0 && bits == 8 ? " and zero points" : "");
            return;
        }
    }
    if (*act) act_apply(e, act, y, out);
}

/* ---- quantized GATHER (an embedding table, ir.h) ---- */
/* A q4 [rows, cols] table as ONNX uint8 [rows, cols/2], its bytes as they
 * are (two codes a byte, low nibble first: GatherBlockQuantized's packing).
 * When an int4 LINEAR reads it too (a tied head), MatMulNBits' B reshaped,
 * so the file holds the bytes once. */
static const char *q4_bytes(ex *e, int tid)
{
    if (e->st || e->orig[tid]) return e->orig[tid];
    const sk_tensor *t = &e->g->tensors[tid];
    int64_t d[2] = {t->dims[0], t->dims[1] / 2};
    for (int i = 0; i < e->g->n_nodes; i++) {
        const sk_node *n = &e->g->nodes[i];
        int64_t ns = n->n_in > 3 && n->in[3] >= 0 ? sk_tensor_numel(&e->g->tensors[n->in[3]]) : 0;
        int64_t bs = ns > 0 && ns % d[0] == 0 && t->dims[1] % (ns / d[0]) == 0 ? nbits_block(t->dims[1] / (ns / d[0])) : 0;
        if (n->op == SK_OP_LINEAR && n->in[1] == tid && bs)
            return e->orig[tid] = O(mk(e, "Reshape", NULL, 2, nbits_b(e, tid, bs), k_i64(e, d, 2)));
    }
    return init_add(e, e->tname[tid], OT_UINT8, 2, d, t->data, t->nbytes) ? (e->orig[tid] = e->tname[tid]) : NULL;
}

/* int4: com.microsoft GatherBlockQuantized(data u8 [V, H/2], indices, scales [V, G], zero points u8 [V, ceil(G/2)]). */
static void gather_q4(ex *e, const sk_node *n, int64_t V, int64_t H, int64_t G, int64_t group)
{
    int sc = n->in[2], zp = n->n_in > 3 ? n->in[3] : -1;
    if (group < 16 || (group & (group - 1)) || H % 2) {
        fail(e, SK_ERR_UNSUPPORTED, "int4 table [%lld, %lld] in groups of %lld: GatherBlockQuantized needs a "
             "power-of-two group ≥ 16 and rows of whole bytes", (long long)V, (long long)H, (long long)group);
        return;
    }
    const sk_tensor *ts = &e->g->tensors[sc];
    int64_t sd[2] = {V, G};
    const char *sn = ts->rank == 2 ? T(e, sc) : fresh_in(e, &e->names, e->tname[sc], "2d");
    if (ts->rank != 2 && sn && !init_add(e, sn, OT_FLOAT, 2, sd, ts->data, ts->nbytes)) return;
    const char *zn = NULL;
    if (zp >= 0) {   /* per row ceil(G/2) bytes, two 4-bit zero points each, low nibble first */
        const sk_tensor *tz = &e->g->tensors[zp];
        const uint8_t *z = tz->data;
        int64_t zb = (G + 1) / 2, nz[2] = {V, zb};
        uint8_t *pk = tz->dtype == SK_DT_U8 && sk_tensor_numel(tz) == V * G ? ar_alloc(e, (size_t)(V * zb)) : NULL;
        if (!pk && !e->st) {
            fail(e, SK_ERR_INVALID, "zero points '%s' are not u8 [%lld, %lld]", e->tname[zp], (long long)V, (long long)G);
            return;
        }
        for (int64_t i = 0; pk && i < V * G; i++) {
            if (z[i] > 15) {
                fail(e, SK_ERR_INVALID, "zero point %u of '%s' is not 4-bit", z[i], e->tname[zp]);
                return;
            }
            pk[i / G * zb + i % G / 2] |= (uint8_t)(z[i] << (4 * (i % G & 1)));
        }
        zn = fresh_in(e, &e->names, e->tname[zp], "packed");
        if (!pk || !zn || !init_add(e, zn, OT_UINT8, 2, nz, pk, (size_t)(V * zb))) return;
    }
    const char *ins[4] = {q4_bytes(e, n->in[0]), T(e, n->in[1]), sn, zn}, *out = T(e, n->out[0]);
    Onnx__NodeProto *np = out ? node_new(e, "GatherBlockQuantized", "com.microsoft", n->name, ins, 4, &out, 1) : NULL;
    set_i(e, np, "bits", 4);
    set_i(e, np, "block_size", group);
    set_i(e, np, "gather_axis", 0);
    set_i(e, np, "quantize_axis", 1);
}

static void emit_qgather(ex *e, const sk_node *n)
{
    int tw = n->in[0], sc = n->in[2], zp = n->n_in > 3 ? n->in[3] : -1;
    const sk_tensor *t = &e->g->tensors[tw], *ts = sc >= 0 ? &e->g->tensors[sc] : NULL;
    int64_t axis = sk_node_attr_i(n, "axis", 0), V = t->rank == 2 ? t->dims[0] : -1, H = t->rank == 2 ? t->dims[1] : -1;
    int64_t ns = ts ? sk_tensor_numel(ts) : -1, G = V > 0 && ns > 0 ? ns / V : 0;
    int64_t group = sk_node_attr_i(n, "group", G > 0 && H % G == 0 ? H / G : 0);
    if (!ts || !(t->flags & SK_TF_CONST) || !(ts->flags & SK_TF_CONST) || ts->dtype != SK_DT_F32 || (axis != 0 && axis != -2) ||
        V <= 0 || H <= 0 || G <= 0 || ns != V * G || ts->rank < 1 || ts->dims[0] != V || group <= 0 || (H - 1) / group + 1 != G) {
        fail(e, SK_ERR_INVALID, "quantized table '%s' and scales '%s' do not fit ir.h's Gather (a constant [V, H] on axis "
             "0, f32 scales [V] or [V, ceil(H/group)])", e->tname[tw], sc >= 0 ? e->tname[sc] : "(none)");
        return;
    }
    if (t->dtype == SK_DT_Q4) { gather_q4(e, n, V, H, G, group); return; }
    if (t->dtype != SK_DT_I8 || zp >= 0 || (G > 1 && e->opset < 21)) {
        fail(e, SK_ERR_UNSUPPORTED, "a %s table%s%s", sk_dtype_info(t->dtype)->name, zp >= 0 ? " with zero points" : "",
             G > 1 && e->opset < 21 ? " with groups (blocked DequantizeLinear needs opset 21)" : "");
        return;
    }
    /* int8: DequantizeLinear (per row on axis 0, or blocked along the row) → Gather */
    Onnx__NodeProto *dq = mk(e, "DequantizeLinear", NULL, 2, T(e, tw), G == 1 ? scales_flat(e, sc, V) : T(e, sc));
    set_i(e, dq, "axis", G == 1 ? 0 : 1);
    if (G > 1) set_i(e, dq, "block_size", group);
    Onnx__NodeProto *np = mk(e, "Gather", T(e, n->out[0]), 2, O(dq), T(e, n->in[1]));
    set_i(e, np, "axis", 0);
}

/* ---- ATTENTION ---- */
/* The additive padding mask [B, 1, 1, T]: (1 − (mask ≠ 0))·finfo(f32).min,
 * made once per mask input. */
static const char *mask_bias(ex *e, int mask)
{
    if (e->mask_bias[mask]) return e->mask_bias[mask];
    static const int64_t axes[2] = {1, 2};
    const char *m = T(e, mask);
    if (e->g->tensors[mask].dtype != SK_DT_BOOL) {
        Onnx__NodeProto *c = mk(e, "Cast", NULL, 1, m);
        set_i(e, c, "to", OT_BOOL);
        m = O(c);
    }
    Onnx__NodeProto *c = mk(e, "Cast", NULL, 1, m);
    set_i(e, c, "to", OT_FLOAT);
    const char *inv = O(mk(e, "Sub", NULL, 2, k_f32(e, 1.0f), O(c)));
    const char *bias = O(mk(e, "Mul", NULL, 2, inv, k_f32(e, -FLT_MAX)));
    return e->mask_bias[mask] = O(mk(e, "Unsqueeze", NULL, 2, bias, k_i64(e, axes, 2)));
}

/* The causal mask [S, T] (bool, true = may attend): query i sees keys
 * t ≤ i + T − S.  Rows T−S..T of HF's lower-triangular [P, P] buffer when
 * max_pos P is known and small enough, else computed with Range. */
static const char *causal_mask(ex *e, const char *q, const char *k)
{
    static const int64_t zero[1] = {0}, one[1] = {1};
    Onnx__NodeProto *sq = mk(e, "Shape", NULL, 1, q), *sk = mk(e, "Shape", NULL, 1, k);
    set_i(e, sq, "start", 1);
    set_i(e, sq, "end", 2);
    set_i(e, sk, "start", 1);
    set_i(e, sk, "end", 2);
    const char *S1 = O(sq), *T1 = O(sk);   /* [1] each */
    int64_t P = e->m->arch.max_pos;
    if (P > 0 && P <= CAUSAL_BUF_MAX) {
        if (!e->causal) {
            uint8_t *tri = ar_alloc(e, (size_t)(P * P));
            const char *name = fresh_in(e, &e->names, "", "causal_mask");
            int64_t dims[2] = {P, P};
            if (!tri || !name) return NULL;
            for (int64_t i = 0; i < P; i++) memset(tri + i * P, 1, (size_t)(i + 1));
            if (!init_add(e, name, OT_BOOL, 2, dims, tri, (size_t)(P * P))) return NULL;
            e->causal = name;
        }
        const char *first = O(mk(e, "Sub", NULL, 2, T1, S1));
        const char *rows = O(mk(e, "Slice", NULL, 4, e->causal, first, T1, k_i64(e, zero, 1)));
        return O(mk(e, "Slice", NULL, 4, rows, k_i64(e, zero, 1), T1, k_i64(e, one, 1)));
    }
    const char *S = O(mk(e, "Squeeze", NULL, 2, S1, k_i64(e, zero, 1)));
    const char *Tn = O(mk(e, "Squeeze", NULL, 2, T1, k_i64(e, zero, 1)));
    const char *i = O(mk(e, "Range", NULL, 3, k_i64s(e, 0), S, k_i64s(e, 1)));
    const char *t = O(mk(e, "Range", NULL, 3, k_i64s(e, 0), Tn, k_i64s(e, 1)));
    const char *lim = O(mk(e, "Add", NULL, 2, i, O(mk(e, "Sub", NULL, 2, Tn, S))));
    lim = O(mk(e, "Unsqueeze", NULL, 2, lim, k_i64(e, one, 1)));   /* [S, 1] */
    return O(mk(e, "Not", NULL, 1, O(mk(e, "Greater", NULL, 2, t, lim))));
}

static void emit_attention(ex *e, const sk_node *n)
{
    static const int64_t p0213[4] = {0, 2, 1, 3}, p0231[4] = {0, 2, 3, 1};
    const sk_tensor *tq = &e->g->tensors[n->in[0]];
    int64_t heads = sk_node_attr_i(n, "num_heads", 0), H = tq->rank == 3 ? tq->dims[2] : -1;
    float scale = sk_node_attr_f(n, "scale", 0.0f);
    if (heads <= 0 || (H > 0 && H % heads)) {
        fail(e, SK_ERR_INVALID, "num_heads %lld does not divide the hidden size %lld", (long long)heads, (long long)H);
        return;
    }
    if (scale == 0.0f) {
        if (H <= 0) { fail(e, SK_ERR_UNSUPPORTED, "q's hidden size is unknown, so is the default scale"); return; }
        scale = (float)(1.0 / sqrt((double)(H / heads)));
    }
    int64_t shp4[4] = {0, 0, heads, -1}, shp3[3] = {0, 0, -1};
    const char *s4 = k_i64(e, shp4, 4), *q = T(e, n->in[0]), *k = T(e, n->in[1]);
    const char *h[3];
    for (int i = 0; i < 3; i++) {   /* [B, S, H] → [B, heads, S, hd]; keys → [B, heads, hd, T] */
        Onnx__NodeProto *tp = mk(e, "Transpose", NULL, 1, O(mk(e, "Reshape", NULL, 2, T(e, n->in[i]), s4)));
        set_ints(e, tp, "perm", i == 1 ? p0231 : p0213, 4);
        h[i] = O(tp);
    }
    const char *s = O(mk(e, "Mul", NULL, 2, O(mk(e, "MatMul", NULL, 2, h[0], h[1])), k_f32(e, scale)));
    if (sk_node_attr_i(n, "causal", 0)) s = O(mk(e, "Where", NULL, 3, causal_mask(e, q, k), s, k_f32(e, -FLT_MAX)));
    if (n->n_in > 3 && n->in[3] >= 0) s = O(mk(e, "Add", NULL, 2, s, mask_bias(e, n->in[3])));
    Onnx__NodeProto *sm = mk(e, "Softmax", NULL, 1, s);
    set_i(e, sm, "axis", -1);
    Onnx__NodeProto *tp = mk(e, "Transpose", NULL, 1, O(mk(e, "MatMul", NULL, 2, O(sm), h[2])));
    set_ints(e, tp, "perm", p0213, 4);
    mk(e, "Reshape", T(e, n->out[0]), 2, O(tp), k_i64(e, shp3, 3));
}

/* ---- graph inputs and outputs ---- */
static Onnx__ValueInfoProto *value_info(ex *e, int tid, const char *name)
{
    const sk_tensor *t = &e->g->tensors[tid];
    if (t->dtype == SK_DT_UNDEF) {
        fail(e, SK_ERR_INVALID, "graph input or output '%s' has no known dtype", name);
        return NULL;
    }
    int dt = onnx_type(e, t->dtype, name);
    Onnx__ValueInfoProto *vi = ar_alloc(e, sizeof *vi);
    Onnx__TypeProto *tp = ar_alloc(e, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = ar_alloc(e, sizeof *tt);
    if (!dt || !vi || !tp || !tt) return NULL;
    *vi = (Onnx__ValueInfoProto)ONNX__VALUE_INFO_PROTO__INIT;
    *tp = (Onnx__TypeProto)ONNX__TYPE_PROTO__INIT;
    *tt = (Onnx__TypeProto__Tensor)ONNX__TYPE_PROTO__TENSOR__INIT;
    vi->name = (char *)name;
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = dt;
    if (t->rank < 0) return vi;   /* rank unknown: no shape */
    Onnx__TensorShapeProto *sh = ar_alloc(e, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims = ar_alloc(e, (size_t)(t->rank + 1) * sizeof *dims);
    if (!sh || !dims) return NULL;
    *sh = (Onnx__TensorShapeProto)ONNX__TENSOR_SHAPE_PROTO__INIT;
    for (int i = 0; i < t->rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = ar_alloc(e, sizeof *d);
        if (!d) return NULL;
        *d = (Onnx__TensorShapeProto__Dimension)ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
        if (t->dims[i] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = t->dims[i];
        } else if (t->dim_names[i] && *t->dim_names[i]) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = t->dim_names[i];
        }
        dims[i] = d;
    }
    sh->n_dim = (size_t)t->rank;
    sh->dim = dims;
    tt->shape = sh;
    return vi;
}

/* ---- metadata ---- */
static Onnx__StringStringEntryProto *kv(ex *e, const char *k, const char *v)
{
    Onnx__StringStringEntryProto *p = ar_alloc(e, sizeof *p);
    char *ks = ar_strdup(e, k), *vs = ar_strdup(e, v);
    if (!p || !ks || !vs) return NULL;
    *p = (Onnx__StringStringEntryProto)ONNX__STRING_STRING_ENTRY_PROTO__INIT;
    p->key = ks;
    p->value = vs;
    return p;
}

static char *json_text(ex *e, cJSON *j)
{
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s) { if (!e->st) e->st = sk_err(SK_ERR_NOMEM, "%s: out of memory", e->path); return NULL; }
    char *a = ar_strdup(e, s);
    cJSON_free(s);
    return a;
}

/* "shrink.provenance": the passes that ran; "shrink.arch": the model's metadata. */
static void metadata(ex *e, Onnx__ModelProto *mp)
{
    const sk_model *m = e->m;
    cJSON *prov = cJSON_CreateArray();
    for (int i = 0; prov && i < m->n_prov; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "pass", S(m->prov[i].pass));
        cJSON *params = cJSON_Parse(S(m->prov[i].params_json));
        cJSON_AddItemToObject(p, "params", params ? params : cJSON_CreateString(S(m->prov[i].params_json)));
        cJSON_AddItemToArray(prov, p);
    }
    const sk_arch *a = &m->arch;
    cJSON *arch = cJSON_CreateObject();
    if (arch) {
        cJSON_AddStringToObject(arch, "family", sk_family_name(a->family));
        cJSON_AddStringToObject(arch, "task", a->task);
        struct { const char *k; int v; } f[] = {{"layers", a->n_layers}, {"hidden", a->hidden}, {"heads", a->heads},
            {"ffn", a->ffn}, {"vocab", a->vocab}, {"max_pos", a->max_pos}, {"type_vocab", a->type_vocab},
            {"labels", a->n_labels}};
        for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) cJSON_AddNumberToObject(arch, f[i].k, f[i].v);
        cJSON_AddNumberToObject(arch, "eps", a->eps);
        cJSON_AddStringToObject(arch, "act", a->act);
    }
    Onnx__StringStringEntryProto **props = ar_alloc(e, 2 * sizeof *props);
    char *ps = json_text(e, prov), *as = json_text(e, arch);
    if (!props || !ps || !as) return;
    props[0] = kv(e, "shrink.provenance", ps);
    props[1] = kv(e, "shrink.arch", as);
    mp->n_metadata_props = 2;
    mp->metadata_props = props;
}

/* ---- writing ---- */
static void transpose(void *dst, const void *src, int64_t R, int64_t C, size_t es)
{
    const char *s = src;
    char *d = dst;
    for (int64_t r0 = 0; r0 < R; r0 += 32)
        for (int64_t c0 = 0; c0 < C; c0 += 32) {
            int64_t r1 = r0 + 32 < R ? r0 + 32 : R, c1 = c0 + 32 < C ? c0 + 32 : C;
            for (int64_t r = r0; r < r1; r++)
                for (int64_t c = c0; c < c1; c++) {
                    if (es == 4) memcpy(d + (c * R + r) * 4, s + (r * C + c) * 4, 4);
                    else if (es == 1) d[c * R + r] = s[r * C + c];
                    else memcpy(d + (size_t)(c * R + r) * es, s + (size_t)(r * C + c) * es, es);
                }
        }
}

/* The bytes of an initializer, transposing into in->buf when needed. */
static const void *init_bytes(ex *e, init *in)
{
    if (!in->rows || !in->nbytes) return in->src;
    if (!in->buf) {
        if (!(in->buf = sk_malloc(in->nbytes))) { e->st = SK_ERR_NOMEM; return NULL; }
        transpose(in->buf, in->src, in->rows, in->cols, in->esize);
    }
    return in->buf;
}

typedef struct afbuf {         /* protobuf-c output into an sk_afile */
    ProtobufCBuffer base;
    sk_afile *af;
} afbuf;

static void afbuf_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
    sk_afile_write(((afbuf *)b)->af, data, len);   /* a failure sticks in af->failed */
}

static char *data_path(const char *path)
{
    size_t n = strlen(path);
    char *p = sk_malloc(n + 6);
    if (p) { memcpy(p, path, n); memcpy(p + n, ".data", 6); }
    return p;
}

/* Tensors of EXT_MIN bytes or more → the data file, one at a time. */
static sk_status write_external(ex *e, sk_afile *af, const char *location)
{
    static const unsigned char zeros[4096];
    uint64_t off = 0;
    for (int i = 0; i < e->n_inits && !e->st; i++) {
        init *in = &e->inits[i];
        if (in->nbytes < EXT_MIN) continue;
        uint64_t align = in->nbytes >= EXT_BIG ? 65536 : 64, pad = (align - off % align) % align;
        for (uint64_t k = 0; k < pad; k += sizeof zeros)
            if (sk_afile_write(af, zeros, pad - k < sizeof zeros ? (size_t)(pad - k) : sizeof zeros)) return SK_ERR_IO;
        off += pad;
        const void *bytes = init_bytes(e, in);
        if (!bytes) return e->st;
        if (sk_afile_write(af, bytes, in->nbytes)) return SK_ERR_IO;
        sk_free(in->buf);
        in->buf = NULL;
        Onnx__StringStringEntryProto **ed = ar_alloc(e, 3 * sizeof *ed);
        char *os = ar_printf(e, "%llu", (unsigned long long)off), *ls = ar_printf(e, "%zu", in->nbytes);
        if (!ed || !os || !ls) return e->st;
        ed[0] = kv(e, "location", location);
        ed[1] = kv(e, "offset", os);
        ed[2] = kv(e, "length", ls);
        in->tp->n_external_data = 3;
        in->tp->external_data = ed;
        in->tp->has_data_location = 1;
        in->tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        off += in->nbytes;
    }
    return e->st;
}

static sk_status write_files(ex *e, Onnx__ModelProto *mp, bool external, bool force)
{
    sk_afile af = {0}, dat = {0};
    char *dpath = NULL;
    sk_status st = SK_OK;
    if (external) {
        if (!(dpath = data_path(e->path))) return SK_ERR_NOMEM;
        const char *base = strrchr(dpath, '/') ? strrchr(dpath, '/') + 1 : dpath;
        if ((st = sk_afile_open(&dat, dpath, force)) || (st = write_external(e, &dat, base))) goto fail;
    }
    for (int i = 0; i < e->n_inits; i++) {   /* what stays inline */
        init *in = &e->inits[i];
        if (in->tp->has_data_location) continue;
        const void *bytes = init_bytes(e, in);
        if (!bytes && in->nbytes) { st = e->st; goto fail; }
        in->tp->has_raw_data = 1;
        in->tp->raw_data.len = in->nbytes;
        in->tp->raw_data.data = (uint8_t *)bytes;
    }
    size_t size = onnx__model_proto__get_packed_size(mp);
    if (size > INT32_MAX) {
        st = sk_err(SK_ERR_UNSUPPORTED, "%s: %zu bytes, over protobuf's 2 GB limit (allow external data)", e->path,
                    size);
        goto fail;
    }
    if ((st = sk_afile_open(&af, e->path, force))) goto fail;
    afbuf buf = {{afbuf_append}, &af};
    onnx__model_proto__pack_to_buffer(mp, &buf.base);
    if (af.failed) { st = SK_ERR_IO; goto fail; }
    if (external && (st = sk_afile_commit(&dat))) goto fail;
    if ((st = sk_afile_commit(&af))) {
        if (dpath) remove(dpath);
        goto done;
    }
    goto done;
fail:
    if (dat.f) sk_afile_abort(&dat);
    if (af.f) sk_afile_abort(&af);
done:
    sk_free(dpath);
    return st;
}

/* ---- entry point ---- */
static const int ir_version[OPSET_MAX + 1] = {[17] = 8, [18] = 8, [19] = 9, [20] = 9, [21] = 10};

/* Which tensors are read as they are, and which only transposed (W of a
 * LINEAR that becomes MatMul or DequantizeLinear). */
static void uses(ex *e)
{
    const sk_graph *g = e->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const sk_node *n = &g->nodes[i];
        bool quant = n->op == SK_OP_LINEAR && n->n_in > 3 && n->in[3] >= 0;
        for (int k = 0; k < n->n_in; k++) {
            int t = n->in[k];
            if (t < 0) continue;
            if (n->op == SK_OP_LINEAR && k == 1 && !quant) {
                bool gemm = n->in[0] >= 0 && g->tensors[n->in[0]].rank == 2;
                e->use[t] |= sk_node_attr_i(n, "wt", 1) == 1 && !gemm ? USE_T : USE_ORIG;
            } else if (quant && (k == 1 || k >= 3)) {
                if (k == 1 && g->tensors[t].dtype == SK_DT_I8) e->use[t] |= USE_T;
            } else {
                e->use[t] |= USE_ORIG;
            }
        }
    }
    for (int i = 0; i < g->n_outputs; i++)
        if (g->tensors[g->outputs[i]].flags & SK_TF_CONST) e->const_out[g->outputs[i]] = true;
}

/* ONNX names for every IR tensor: its own, or "<name>_<id>" when empty or taken. */
static void tensor_names(ex *e)
{
    for (int i = 0; i < e->g->n_tensors && !e->st; i++) {
        const char *nm = S(e->g->tensors[i].name);
        char *s = *nm && !nset_has(&e->names, nm) ? ar_strdup(e, nm) : ar_printf(e, "%s_%d", nm, i);
        for (int k = 2; s && nset_has(&e->names, s); k++) s = ar_printf(e, "%s_%d_%d", nm, i, k);
        if (s) nset_add(e, &e->names, s);
        e->tname[i] = s;
    }
}

static void export_graph(ex *e)
{
    const sk_graph *g = e->g;
    tensor_names(e);
    uses(e);
    for (int i = 0; i < g->n_nodes && !e->st; i++) {
        const sk_node *n = &g->nodes[i];
        e->cur = n;
        switch (n->op) {
        case SK_OP_LINEAR: emit_linear(e, n); break;
        case SK_OP_GATHER: if (n->n_in > 2) emit_qgather(e, n); else emit_primitive(e, n); break;
        case SK_OP_ATTENTION: emit_attention(e, n); break;
        case SK_OP_SKIP_LAYERNORM: emit_skip_layernorm(e, n); break;
        case SK_OP_GELU: emit_gelu(e, n); break;
        default: emit_primitive(e, n); break;
        }
    }
    e->cur = NULL;
    for (int i = 0; i < g->n_outputs && !e->st; i++) {   /* a constant output: Identity from its initializer */
        int t = g->outputs[i];
        if (e->const_out[t] && !nset_has(&e->node_names, e->tname[t])) mk(e, "Identity", e->tname[t], 1, T(e, t));
    }
}

sk_status sk_onnx_save(const sk_model *m, const char *path, const sk_onnx_save_opts *o)
{
    sk_onnx_save_opts def = {0};
    if (!o) o = &def;
    int opset = o->opset ? o->opset : OPSET_MIN;
    if (opset < OPSET_MIN || opset > OPSET_MAX)
        return sk_err(SK_ERR_UNSUPPORTED, "%s: opset %d not supported (shrink writes %d..%d)", path, opset, OPSET_MIN,
                      OPSET_MAX);
    if (o->int8_form != 0 && o->int8_form != 1)
        return sk_err(SK_ERR_INVALID, "%s: int8 form %d (0 = QDQ, 1 = dynamic)", path, o->int8_form);
    sk_status st = sk_graph_verify(&m->g);
    if (st) return sk_err_prefix(st, "%s: cannot export an invalid graph", path);
    if (!o->force && sk_file_exists(path))
        return sk_err(SK_ERR_IO, "%s: already exists (use --force to overwrite)", path);

    ex e = {0};
    e.m = m;
    e.g = &m->g;
    e.path = path;
    e.opset = opset;
    e.int8_form = o->int8_form;
    size_t nt = (size_t)m->g.n_tensors + 1;
    e.tname = sk_calloc(nt, sizeof *e.tname);
    e.orig = sk_calloc(nt, sizeof *e.orig);
    e.trans = sk_calloc(nt, sizeof *e.trans);
    e.nbits = sk_calloc(nt, sizeof *e.nbits);
    e.mask_bias = sk_calloc(nt, sizeof *e.mask_bias);
    e.use = sk_calloc(nt, sizeof *e.use);
    e.const_out = sk_calloc(nt, sizeof *e.const_out);
    if (!e.tname || !e.orig || !e.trans || !e.nbits || !e.mask_bias || !e.use || !e.const_out) e.st = SK_ERR_NOMEM;
    if (!e.st) export_graph(&e);

    Onnx__GraphProto *gp = ar_alloc(&e, sizeof *gp);
    Onnx__ModelProto *mp = ar_alloc(&e, sizeof *mp);
    Onnx__OperatorSetIdProto *ops = ar_alloc(&e, 2 * sizeof *ops), **opp = ar_alloc(&e, 2 * sizeof *opp);
    Onnx__ValueInfoProto **gin = ar_alloc(&e, (size_t)(m->g.n_inputs + 1) * sizeof *gin);
    Onnx__ValueInfoProto **gout = ar_alloc(&e, (size_t)(m->g.n_outputs + 1) * sizeof *gout);
    Onnx__TensorProto **inits = ar_alloc(&e, (size_t)(e.n_inits + 1) * sizeof *inits);
    size_t total = 0;
    if (!e.st) {
        for (int i = 0; i < m->g.n_inputs; i++) gin[i] = value_info(&e, m->g.inputs[i], e.tname[m->g.inputs[i]]);
        for (int i = 0; i < m->g.n_outputs; i++) gout[i] = value_info(&e, m->g.outputs[i], e.tname[m->g.outputs[i]]);
        for (int i = 0; i < e.n_inits; i++) {
            inits[i] = e.inits[i].tp;
            total += e.inits[i].nbytes;
        }
        *gp = (Onnx__GraphProto)ONNX__GRAPH_PROTO__INIT;
        gp->name = (char *)(m->arch.family ? sk_family_name(m->arch.family) : "shrink");
        gp->n_node = (size_t)e.n_nodes;
        gp->node = e.nodes;
        gp->n_initializer = (size_t)e.n_inits;
        gp->initializer = inits;
        gp->n_input = (size_t)m->g.n_inputs;
        gp->input = gin;
        gp->n_output = (size_t)m->g.n_outputs;
        gp->output = gout;
        *mp = (Onnx__ModelProto)ONNX__MODEL_PROTO__INIT;
        mp->has_ir_version = 1;
        mp->ir_version = ir_version[opset];
        mp->producer_name = "shrink";
        mp->producer_version = SK_VERSION;
        mp->graph = gp;
        ops[0] = (Onnx__OperatorSetIdProto)ONNX__OPERATOR_SET_ID_PROTO__INIT;
        ops[0].domain = empty_name;
        ops[0].has_version = 1;
        ops[0].version = opset;
        ops[1] = ops[0];
        ops[1].domain = "com.microsoft";
        ops[1].version = 1;
        opp[0] = &ops[0];
        opp[1] = &ops[1];
        mp->n_opset_import = e.ms ? 2 : 1;
        mp->opset_import = opp;
        metadata(&e, mp);
    }
    bool external = o->external_data > 0 || (o->external_data == 0 && total > EXT_AUTO);
    if (!e.st) {
        char *dp = external && !o->force ? data_path(path) : NULL;
        if (external && !o->force && !dp) e.st = SK_ERR_NOMEM;
        else if (dp && sk_file_exists(dp))
            e.st = sk_err(SK_ERR_IO, "%s: already exists (use --force to overwrite)", dp);
        sk_free(dp);
    }
    if (!e.st) e.st = write_files(&e, mp, external, o->force);
    st = e.st;
    if (st == SK_ERR_NOMEM && !strstr(sk_errmsg(), path)) sk_err_prefix(st, "%s: exporting ONNX", path);

    for (int i = 0; i < e.n_inits; i++) sk_free(e.inits[i].buf);
    sk_free(e.inits);
    sk_free(e.nodes);
    sk_free(e.kc);
    sk_free(e.names.key);
    sk_free(e.node_names.key);
    sk_free(e.tname);
    sk_free(e.orig);
    sk_free(e.trans);
    sk_free(e.nbits);
    sk_free(e.mask_bias);
    sk_free(e.use);
    sk_free(e.const_out);
    arena_free(e.arena);
    return st;
}
