/* shape_ops.c — graph plumbing: ops that copy, view, cut or describe bytes.
 *
 * Identity, Dropout (inference only), Shape, Gather, Unsqueeze, Squeeze,
 * Reshape, Flatten, Concat, Split, Slice, Transpose, Expand, ConstantOfShape,
 * Range and Pad, with ONNX semantics for opsets 11–18.  Where opset 13 moved
 * axes or split sizes from an attribute to an input, both forms are accepted
 * (and opset 18's Split num_outputs and Pad axes).
 *
 * Apart from Range and ConstantOfShape nothing here looks at element values,
 * so every op works on any plain dtype by element size (the views and
 * Identity on any dtype at all).  Slice, Transpose and Expand are one strided
 * copy through sk_nd, split across threads when large.  Shape functions read
 * an input's values only when it is constant at plan time (Reshape's shape,
 * Slice's starts, ...); otherwise they fail with SK_ERR_UNSUPPORTED naming the
 * node.  The session folds shape subgraphs (Shape → Gather → Concat → Reshape)
 * by running these kernels at plan time, so that is the common case.
 * Kernels recompute what they need from the inputs: no state is kept between
 * the shape function and the kernel.
 *
 * The one op here that reads values is the quantized Gather (ir.h: an i8 or
 * q4 embedding table with scales): it dequantizes the gathered rows, a
 * scalar loop, as a lookup is bound by memory, not arithmetic.
 */
#include <math.h>
#include <string.h>
#include "runtime/runtime.h"

#define GRAIN 32768   /* elements per thread below which a copy runs on one thread */

static size_t esize(sk_dtype dt) { return sk_dtype_info(dt)->block_bytes; }

static size_t bytes_of(const sk_rtensor *t)   /* block (quantized) dtypes included */
{
    size_t n = 0;
    sk_dtype_nbytes(t->dtype, sk_rt_numel(t), &n);
    return n;
}

/* A dtype whose elements are whole bytes (not a quantized block type). */
static sk_status need_plain(const sk_kctx *k, const sk_rtensor *t, const char *what)
{
    const sk_dtype_traits *d = sk_dtype_info(t->dtype);
    if (d->block != 1 || d->block_bytes == 0)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "%s has dtype %s, which this op does not handle", what, d->name);
    return SK_OK;
}

static void same_shape(sk_rtensor *out, const sk_rtensor *in) { sk_rt_set_shape(out, in->dtype, in->rank, in->dims); }

/* Views (Reshape, Flatten, Squeeze, Unsqueeze) and Identity: the bytes, unless
 * the session made the output alias the input. */
static void copy_bytes(sk_rtensor *out, const sk_rtensor *in)
{
    size_t n = bytes_of(in);
    if (n && out->data != in->data) memmove(out->data, in->data, n);
}

static void strides_of(const sk_rtensor *t, int64_t *st)
{
    int64_t s = 1;
    for (int d = t->rank - 1; d >= 0; d--) {
        st[d] = s;
        s *= t->dims[d];
    }
}

/* ---- strided copy: Slice, Transpose, Expand ---- */
typedef struct {
    char *dst;
    const char *src;   /* element 0 of the operand (may be inside the input for Slice) */
    size_t esz;
} copy_job;

static void copy_row(void *p, int64_t pos, const int64_t *off, const int64_t *step, int64_t n)
{
    const copy_job *c = p;
    size_t e = c->esz;
    char *d = c->dst + (size_t)pos * e;
    const char *s = c->src + off[0] * (int64_t)e;
    int64_t st = step[0] * (int64_t)e;
    if (step[0] == 1) { memcpy(d, s, (size_t)n * e); return; }
    /* fixed-size memcpy compiles to one move per element */
    switch (e) {
    case 1: for (int64_t i = 0; i < n; i++) d[i] = s[i * st]; break;
    case 2: for (int64_t i = 0; i < n; i++) memcpy(d + i * 2, s + i * st, 2); break;
    case 4: for (int64_t i = 0; i < n; i++) memcpy(d + i * 4, s + i * st, 4); break;
    case 8: for (int64_t i = 0; i < n; i++) memcpy(d + i * 8, s + i * st, 8); break;
    default: for (int64_t i = 0; i < n; i++) memcpy(d + i * (int64_t)e, s + i * st, e); break;
    }
}

static void copy_strided(const sk_kctx *k, sk_nd *it, void *dst, const void *src, size_t esz)
{
    sk_nd_coalesce(it);
    copy_job j = {dst, src, esz};
    sk_nd_run(k, it, GRAIN, copy_row, &j);
}

/* ---- Identity ---- */
sk_status sk_shape_IDENTITY(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 1);
    if (st) return st;
    same_shape(k->out[0], k->in[0]);
    return SK_OK;
}

sk_status sk_kern_IDENTITY(sk_kctx *k)
{
    copy_bytes(k->out[0], k->in[0]);
    return SK_OK;
}

/* ---- Dropout: inference is the identity; the optional mask output is all true ---- */
static sk_status dropout_training(const sk_kctx *k, bool at_plan)
{
    const sk_rtensor *t = k->n_in > 2 ? k->in[2] : NULL;
    if (!t || (at_plan && !t->is_const)) return SK_OK;
    if (t->dtype != SK_DT_BOOL || sk_rt_numel(t) != 1)
        return sk_kerr(k, SK_ERR_INVALID, "training_mode must be a bool scalar");
    if (((const uint8_t *)t->data)[0])
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "training_mode is true; only inference is supported");
    return SK_OK;
}

sk_status sk_shape_DROPOUT(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 1);
    if (st || (st = dropout_training(k, true))) return st;
    same_shape(k->out[0], k->in[0]);
    if (k->n_out > 1 && k->out[1]) sk_rt_set_shape(k->out[1], SK_DT_BOOL, k->in[0]->rank, k->in[0]->dims);
    return SK_OK;
}

sk_status sk_kern_DROPOUT(sk_kctx *k)
{
    sk_status st = dropout_training(k, false);
    if (st) return st;
    copy_bytes(k->out[0], k->in[0]);
    if (k->n_out > 1 && k->out[1]) {
        size_t n = (size_t)sk_rt_numel(k->out[1]);
        if (n) memset(k->out[1]->data, 1, n);
    }
    return SK_OK;
}

/* ---- Shape (opset 15 start/end attributes included) ---- */
static void shape_range(const sk_kctx *k, int64_t *lo, int64_t *hi)
{
    int r = k->in[0]->rank;
    int64_t s = sk_node_attr_i(k->node, "start", 0), e = sk_node_attr_i(k->node, "end", r);
    if (s < 0) s += r;
    if (e < 0) e += r;
    *lo = s < 0 ? 0 : s > r ? r : s;
    *hi = e < 0 ? 0 : e > r ? r : e;
    if (*hi < *lo) *hi = *lo;
}

sk_status sk_shape_SHAPE(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 1);
    if (st) return st;
    int64_t lo, hi;
    shape_range(k, &lo, &hi);
    int64_t n = hi - lo;
    sk_rt_set_shape(k->out[0], SK_DT_I64, 1, &n);
    return SK_OK;
}

sk_status sk_kern_SHAPE(sk_kctx *k)
{
    int64_t lo, hi;
    shape_range(k, &lo, &hi);
    int64_t *o = k->out[0]->data;   /* [hi - lo] */
    for (int64_t d = lo; d < hi; d++) o[d - lo] = k->in[0]->dims[d];
    return SK_OK;
}

/* ---- Gather: out = data.dims[:axis] + indices.dims + data.dims[axis+1:] ---- */
static sk_status gather_axis(const sk_kctx *k, int64_t *axis)
{
    const sk_rtensor *x = k->in[0], *ix = k->in[1];
    *axis = sk_node_attr_i(k->node, "axis", 0);
    if (x->rank < 1) return sk_kerr(k, SK_ERR_INVALID, "data is a scalar");
    if (!sk_norm_axis(axis, x->rank))
        return sk_kerr(k, SK_ERR_INVALID, "axis %lld out of range for rank %d",
                       (long long)sk_node_attr_i(k->node, "axis", 0), x->rank);
    if (ix->dtype != SK_DT_I64 && ix->dtype != SK_DT_I32)
        return sk_kerr(k, SK_ERR_INVALID, "indices have dtype %s, expected i64 or i32", sk_dtype_info(ix->dtype)->name);
    return SK_OK;
}

/* Index i of the indices, wrapped once if negative; error if still out of range. */
static sk_status gather_check(const sk_kctx *k, int64_t dim, int64_t axis)
{
    const sk_rtensor *ix = k->in[1];
    int64_t n = sk_rt_numel(ix);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = sk_rt_get_i(ix, i);
        if (v < -dim || v >= dim)
            return sk_kerr(k, SK_ERR_INVALID, "index %lld out of range for axis %lld of size %lld", (long long)v,
                           (long long)axis, (long long)dim);
    }
    return SK_OK;
}

/* ---- quantized Gather(table, indices, scales, zeros?): rows dequantized to f32 ---- */
typedef struct {
    int bits;
    int64_t V, H, group, G;       /* G = ceil(H / group) scales per row */
    const void *q;                /* i8 [V, H], or q4 [V, H] (flat: element e in nibble e % 2 of byte e / 2) */
    const float *scales;          /* [V, G] */
    const uint8_t *zeros;         /* [V, G], or NULL (0 for bits 8, 8 for bits 4) */
} qtable;

static bool qgather_is(const sk_kctx *k) { return k->n_in > 2 && (k->in[2] || (k->n_in > 3 && k->in[3])); }

/* Validate a quantized Gather and describe its table (errors name the node).
 * Zero points are range-checked once: at plan time when constant, else at run. */
static sk_status qgather_desc(const sk_kctx *k, qtable *t, bool at_run)
{
    const sk_rtensor *x = k->in[0], *s = k->in[2], *z = k->n_in > 3 ? k->in[3] : NULL;
    memset(t, 0, sizeof *t);
    int64_t axis = sk_node_attr_i(k->node, "axis", 0);
    if (x->dtype != SK_DT_I8 && x->dtype != SK_DT_Q4)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "table has dtype %s with scales (a quantized table is i8 or q4)",
                       sk_dtype_info(x->dtype)->name);
    if (x->rank != 2) return sk_kerr(k, SK_ERR_INVALID, "quantized table has rank %d, expected 2", x->rank);
    if (axis != 0 && axis != -2) return sk_kerr(k, SK_ERR_UNSUPPORTED, "quantized table gathered on axis %lld, not 0", (long long)axis);
    if (!s) return sk_kerr(k, SK_ERR_INVALID, "zeros without scales (input 2)");
    int bits = x->dtype == SK_DT_I8 ? 8 : 4;
    if (sk_node_attr_i(k->node, "bits", bits) != bits)
        return sk_kerr(k, SK_ERR_INVALID, "attribute bits is %lld but the table is %s",
                       (long long)sk_node_attr_i(k->node, "bits", bits), sk_dtype_info(x->dtype)->name);
    int64_t V = x->dims[0], H = x->dims[1];
    if (H <= 0) return sk_kerr(k, SK_ERR_INVALID, "quantized table has rows of %lld values", (long long)H);
    size_t need = bits == 8 ? (size_t)(V * H) : (size_t)(V * H) / 2 + (size_t)(V * H) % 2;
    if (x->nbytes < need)   /* a quantized tensor's bytes are not checked against its shape when loaded */
        return sk_kerr(k, SK_ERR_INVALID, "quantized table [%lld, %lld] has %zu bytes, %zu needed", (long long)V,
                       (long long)H, x->nbytes, need);
    if (s->dtype != SK_DT_F32 || s->rank < 1 || s->rank > 2 || s->dims[0] != V)
        return sk_kerr(k, SK_ERR_INVALID, "scales are %s of rank %d, expected f32 [%lld] or [%lld, groups]",
                       sk_dtype_info(s->dtype)->name, s->rank, (long long)V, (long long)V);
    int64_t G = s->rank == 2 ? s->dims[1] : 1;
    int64_t group = sk_node_attr_i(k->node, "group", G > 0 && H % G == 0 ? H / G : 0);
    if (G < 1 || group <= 0 || (H - 1) / group + 1 != G)
        return sk_kerr(k, SK_ERR_INVALID, "group %lld does not fit rows of %lld with %lld scales each", (long long)group,
                       (long long)H, (long long)G);
    if (z) {
        if (bits == 8) return sk_kerr(k, SK_ERR_UNSUPPORTED, "zero points with an int8 table (bits 8 is symmetric)");
        if (z->dtype != SK_DT_U8 || z->rank < 1 || z->dims[0] != V || sk_rt_numel(z) != V * G)
            return sk_kerr(k, SK_ERR_INVALID, "zeros are %s with %lld values, expected u8 [%lld, %lld]",
                           sk_dtype_info(z->dtype)->name, (long long)sk_rt_numel(z), (long long)V, (long long)G);
        if (z->is_const != at_run)
            for (int64_t i = 0; i < V * G; i++)
                if (((const uint8_t *)z->data)[i] > 15)
                    return sk_kerr(k, SK_ERR_INVALID, "zero point %u at [%lld, %lld] is not 4-bit",
                                   ((const uint8_t *)z->data)[i], (long long)(i / G), (long long)(i % G));
    }
    *t = (qtable){bits, V, H, group, G, x->data, s->data, z ? z->data : NULL};
    return SK_OK;
}

/* Row v of the table as floats: out [H] (the reference the IR defines). */
static void qtable_row(const qtable *t, int64_t v, float *out)
{
    const float *sc = t->scales + v * t->G;
    for (int64_t g = 0; g < t->G; g++) {
        int64_t lo = g * t->group, hi = lo + t->group < t->H ? lo + t->group : t->H;
        float s = sc[g];
        if (t->bits == 8) {
            const int8_t *q = (const int8_t *)t->q + v * t->H;
            for (int64_t h = lo; h < hi; h++) out[h] = s * (float)q[h];
        } else {
            const uint8_t *q = t->q;
            int z = t->zeros ? t->zeros[v * t->G + g] : 8;
            for (int64_t h = lo; h < hi; h++) {
                int64_t e = v * t->H + h;
                out[h] = s * (float)(((q[e >> 1] >> ((e & 1) * 4)) & 15) - z);
            }
        }
    }
}

typedef struct {
    qtable t;
    const sk_rtensor *ix;
    float *dst;                   /* [n indices, H] */
} qgather_job;

static void qgather_rows(void *p, int64_t lo, int64_t hi)
{
    const qgather_job *j = p;
    for (int64_t r = lo; r < hi; r++) {
        int64_t v = sk_rt_get_i(j->ix, r);
        qtable_row(&j->t, v < 0 ? v + j->t.V : v, j->dst + r * j->t.H);
    }
}

static sk_status qgather_shape(sk_kctx *k)
{
    qtable t;
    int64_t axis;
    sk_status st = qgather_desc(k, &t, false);
    if (st || (st = gather_axis(k, &axis))) return st;
    const sk_rtensor *ix = k->in[1];
    if (ix->rank + 1 > SK_MAX_RANK) return sk_kerr(k, SK_ERR_UNSUPPORTED, "output rank %d exceeds %d", ix->rank + 1, SK_MAX_RANK);
    int64_t dims[SK_MAX_RANK];
    memcpy(dims, ix->dims, (size_t)ix->rank * sizeof *dims);
    dims[ix->rank] = t.H;
    sk_rt_set_shape(k->out[0], SK_DT_F32, ix->rank + 1, dims);
    return ix->is_const ? gather_check(k, t.V, 0) : SK_OK;
}

static sk_status qgather_kern(sk_kctx *k)
{
    qgather_job j = {.ix = k->in[1], .dst = k->out[0]->data};
    int64_t axis;
    sk_status st = qgather_desc(k, &j.t, true);
    if (st || (st = gather_axis(k, &axis)) || (st = gather_check(k, j.t.V, 0))) return st;
    int64_t n = sk_rt_numel(k->in[1]);
    if (n) sk_kpar(k, n, GRAIN / j.t.H + 1, qgather_rows, &j);
    return SK_OK;
}

sk_status sk_shape_GATHER(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 2);
    if (!st && qgather_is(k)) return qgather_shape(k);
    int64_t axis;
    if (st || (st = need_plain(k, k->in[0], "data")) || (st = gather_axis(k, &axis))) return st;
    const sk_rtensor *x = k->in[0], *ix = k->in[1];
    int r = x->rank - 1 + ix->rank;
    if (r > SK_MAX_RANK) return sk_kerr(k, SK_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, SK_MAX_RANK);
    int64_t dims[SK_MAX_RANK];
    int o = 0;
    for (int d = 0; d < axis; d++) dims[o++] = x->dims[d];
    for (int d = 0; d < ix->rank; d++) dims[o++] = ix->dims[d];
    for (int d = (int)axis + 1; d < x->rank; d++) dims[o++] = x->dims[d];
    sk_rt_set_shape(k->out[0], x->dtype, r, dims);
    return ix->is_const ? gather_check(k, x->dims[axis], axis) : SK_OK;
}

typedef struct {
    const sk_rtensor *ix;
    const char *src;
    char *dst;
    int64_t nidx, dim;
    size_t row;       /* bytes per gathered slice */
} gather_job;

static void gather_rows(void *p, int64_t lo, int64_t hi)
{
    const gather_job *g = p;
    for (int64_t r = lo; r < hi; r++) {   /* r = outer * nidx + i */
        int64_t o = r / g->nidx, v = sk_rt_get_i(g->ix, r % g->nidx);
        if (v < 0) v += g->dim;
        memcpy(g->dst + (size_t)r * g->row, g->src + (size_t)(o * g->dim + v) * g->row, g->row);
    }
}

sk_status sk_kern_GATHER(sk_kctx *k)
{
    if (qgather_is(k)) return qgather_kern(k);
    int64_t axis;
    sk_status st = gather_axis(k, &axis);
    const sk_rtensor *x = k->in[0];
    if (st || (st = gather_check(k, x->dims[axis], axis))) return st;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = (int)axis + 1; d < x->rank; d++) inner *= x->dims[d];
    gather_job g = {k->in[1], x->data, k->out[0]->data, sk_rt_numel(k->in[1]), x->dims[axis],
                    (size_t)inner * esize(x->dtype)};
    if (g.row == 0 || g.nidx == 0) return SK_OK;
    sk_kpar(k, outer * g.nidx, GRAIN / inner + 1, gather_rows, &g);
    return SK_OK;
}

/* ---- Unsqueeze / Squeeze: axes from input 1 (opset ≥ 13) or attribute ---- */
sk_status sk_shape_UNSQUEEZE(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 1);
    if (st) return st;
    const sk_rtensor *x = k->in[0];
    int64_t axes[SK_MAX_RANK];
    int n;
    if ((st = sk_kints(k, 1, "axes", "axes", axes, SK_MAX_RANK, &n))) return st;
    if (n < 0) return sk_kerr(k, SK_ERR_INVALID, "no axes given");
    int r = x->rank + n;
    if (r > SK_MAX_RANK) return sk_kerr(k, SK_ERR_UNSUPPORTED, "output rank %d exceeds %d", r, SK_MAX_RANK);
    bool ins[SK_MAX_RANK] = {false};
    for (int i = 0; i < n; i++) {
        int64_t a = axes[i];
        if (!sk_norm_axis(&a, r))
            return sk_kerr(k, SK_ERR_INVALID, "axis %lld out of range for output rank %d", (long long)axes[i], r);
        if (ins[a]) return sk_kerr(k, SK_ERR_INVALID, "axis %lld repeated", (long long)axes[i]);
        ins[a] = true;
    }
    int64_t dims[SK_MAX_RANK];
    for (int d = 0, j = 0; d < r; d++) dims[d] = ins[d] ? 1 : x->dims[j++];
    sk_rt_set_shape(k->out[0], x->dtype, r, dims);
    return SK_OK;
}

sk_status sk_kern_UNSQUEEZE(sk_kctx *k)
{
    copy_bytes(k->out[0], k->in[0]);
    return SK_OK;
}

sk_status sk_shape_SQUEEZE(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 1);
    if (st) return st;
    const sk_rtensor *x = k->in[0];
    int64_t axes[SK_MAX_RANK];
    int n;
    if ((st = sk_kints(k, 1, "axes", "axes", axes, SK_MAX_RANK, &n))) return st;
    bool drop[SK_MAX_RANK] = {false};
    if (n <= 0) {   /* no axes: every dim of size 1 */
        for (int d = 0; d < x->rank; d++) drop[d] = x->dims[d] == 1;
    }
    for (int i = 0; i < n; i++) {
        int64_t a = axes[i];
        if (x->rank == 0 || !sk_norm_axis(&a, x->rank))
            return sk_kerr(k, SK_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axes[i], x->rank);
        if (x->dims[a] != 1)
            return sk_kerr(k, SK_ERR_INVALID, "cannot squeeze axis %lld of size %lld", (long long)axes[i],
                           (long long)x->dims[a]);
        drop[a] = true;
    }
    int64_t dims[SK_MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++)
        if (!drop[d]) dims[r++] = x->dims[d];
    sk_rt_set_shape(k->out[0], x->dtype, r, dims);
    return SK_OK;
}

sk_status sk_kern_SQUEEZE(sk_kctx *k)
{
    copy_bytes(k->out[0], k->in[0]);
    return SK_OK;
}

/* ---- Reshape: 0 copies the input dim (unless allowzero), -1 is inferred ---- */
sk_status sk_shape_RESHAPE(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 2);
    if (st) return st;
    const sk_rtensor *x = k->in[0];
    int64_t dims[SK_MAX_RANK];
    int n;
    if ((st = sk_kints(k, 1, NULL, "shape", dims, SK_MAX_RANK, &n))) return st;
    bool allowzero = sk_node_attr_i(k->node, "allowzero", 0) != 0;
    int infer = -1;
    int64_t known = 1, total = sk_rt_numel(x);
    for (int d = 0; d < n; d++) {
        if (dims[d] == 0 && !allowzero) {
            if (d >= x->rank)
                return sk_kerr(k, SK_ERR_INVALID, "shape[%d] = 0 copies a dim the input (rank %d) lacks", d, x->rank);
            dims[d] = x->dims[d];
        }
        if (dims[d] == -1) {
            if (infer >= 0) return sk_kerr(k, SK_ERR_INVALID, "shape has more than one -1");
            infer = d;
            continue;
        }
        if (dims[d] < 0) return sk_kerr(k, SK_ERR_INVALID, "shape[%d] = %lld is negative", d, (long long)dims[d]);
        known *= dims[d];
    }
    if (infer >= 0) {
        if (known == 0 || total % known)
            return sk_kerr(k, SK_ERR_INVALID, "cannot infer the -1 in shape: %lld elements into blocks of %lld",
                           (long long)total, (long long)known);
        dims[infer] = total / known;
    } else if (known != total) {
        return sk_kerr(k, SK_ERR_INVALID, "shape holds %lld elements, input has %lld", (long long)known,
                       (long long)total);
    }
    sk_rt_set_shape(k->out[0], x->dtype, n, dims);
    return SK_OK;
}

sk_status sk_kern_RESHAPE(sk_kctx *k)
{
    copy_bytes(k->out[0], k->in[0]);
    return SK_OK;
}

/* ---- Flatten: [prod(dims[:axis]), prod(dims[axis:])], axis in [-r, r] ---- */
sk_status sk_shape_FLATTEN(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 1);
    if (st) return st;
    const sk_rtensor *x = k->in[0];
    int64_t axis = sk_node_attr_i(k->node, "axis", 1), a = axis;
    if (a < 0) a += x->rank;
    if (a < 0 || a > x->rank)
        return sk_kerr(k, SK_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axis, x->rank);
    int64_t dims[2] = {1, 1};
    for (int d = 0; d < x->rank; d++) dims[d >= a] *= x->dims[d];
    sk_rt_set_shape(k->out[0], x->dtype, 2, dims);
    return SK_OK;
}

sk_status sk_kern_FLATTEN(sk_kctx *k)
{
    copy_bytes(k->out[0], k->in[0]);
    return SK_OK;
}

/* ---- Concat ---- */
static sk_status concat_axis(const sk_kctx *k, int64_t *axis)
{
    const sk_attr *a = sk_node_attr(k->node, "axis");
    if (!a || a->type != SK_ATTR_INT) return sk_kerr(k, SK_ERR_INVALID, "attribute 'axis' is required");
    *axis = a->i;
    int r = k->in[0]->rank;
    if (r < 1 || !sk_norm_axis(axis, r))
        return sk_kerr(k, SK_ERR_INVALID, "axis %lld out of range for rank %d", (long long)a->i, r);
    return SK_OK;
}

sk_status sk_shape_CONCAT(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, k->n_in);
    int64_t axis;
    if (st || (st = need_plain(k, k->in[0], "input 0")) || (st = concat_axis(k, &axis))) return st;
    const sk_rtensor *x = k->in[0];
    int64_t dims[SK_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < k->n_in; i++) {
        const sk_rtensor *t = k->in[i];
        if (t->dtype != x->dtype)
            return sk_kerr(k, SK_ERR_INVALID, "input %d has dtype %s, input 0 has %s", i, sk_dtype_info(t->dtype)->name,
                           sk_dtype_info(x->dtype)->name);
        if (t->rank != x->rank)
            return sk_kerr(k, SK_ERR_INVALID, "input %d has rank %d, input 0 has %d", i, t->rank, x->rank);
        for (int d = 0; d < x->rank; d++)
            if (d != axis && t->dims[d] != x->dims[d])
                return sk_kerr(k, SK_ERR_INVALID, "input %d has dim %d = %lld, input 0 has %lld", i, d,
                               (long long)t->dims[d], (long long)x->dims[d]);
        dims[axis] += t->dims[axis];
    }
    sk_rt_set_shape(k->out[0], x->dtype, x->rank, dims);
    return SK_OK;
}

sk_status sk_kern_CONCAT(sk_kctx *k)
{
    int64_t axis;
    sk_status st = concat_axis(k, &axis);
    if (st) return st;
    const sk_rtensor *o = k->out[0];
    size_t esz = esize(o->dtype), inner = esz, orow;
    int64_t outer = 1;
    for (int d = 0; d < axis; d++) outer *= o->dims[d];
    for (int d = (int)axis + 1; d < o->rank; d++) inner *= (size_t)o->dims[d];
    orow = inner * (size_t)o->dims[axis];   /* bytes of one outer row of the output */
    size_t at = 0;
    for (int i = 0; i < k->n_in; i++) {
        const sk_rtensor *t = k->in[i];
        size_t chunk = inner * (size_t)t->dims[axis];
        if (chunk == 0) continue;
        for (int64_t r = 0; r < outer; r++)
            memcpy((char *)o->data + (size_t)r * orow + at, (const char *)t->data + (size_t)r * chunk, chunk);
        at += chunk;
    }
    return SK_OK;
}

/* ---- Split: sizes from input 1 (opset ≥ 13), attribute split, or equal parts ---- */
static sk_status split_sizes(const sk_kctx *k, int64_t *axis, int64_t *sz)
{
    const sk_rtensor *x = k->in[0];
    int64_t a = sk_node_attr_i(k->node, "axis", 0);
    *axis = a;
    if (x->rank < 1 || !sk_norm_axis(axis, x->rank))
        return sk_kerr(k, SK_ERR_INVALID, "axis %lld out of range for rank %d", (long long)a, x->rank);
    int64_t dim = x->dims[*axis];
    int n;
    sk_status st = sk_kints(k, 1, "split", "split", sz, k->n_out, &n);
    if (st) return st;
    if (n >= 0) {
        if (n != k->n_out)
            return sk_kerr(k, SK_ERR_INVALID, "split has %d sizes for %d outputs", n, k->n_out);
        int64_t sum = 0;
        for (int i = 0; i < n; i++) {
            if (sz[i] < 0) return sk_kerr(k, SK_ERR_INVALID, "split[%d] = %lld is negative", i, (long long)sz[i]);
            sum += sz[i];
        }
        if (sum != dim)
            return sk_kerr(k, SK_ERR_INVALID, "split sizes sum to %lld, axis %lld has %lld", (long long)sum,
                           (long long)*axis, (long long)dim);
        return SK_OK;
    }
    /* equal parts; with opset 18's num_outputs the last part may be smaller */
    int parts = k->n_out;
    bool uneven = sk_node_attr(k->node, "num_outputs") != NULL;
    if (!uneven && dim % parts)
        return sk_kerr(k, SK_ERR_INVALID, "axis %lld of size %lld does not split into %d equal parts",
                       (long long)*axis, (long long)dim, parts);
    int64_t each = (dim + parts - 1) / parts, left = dim;
    for (int i = 0; i < parts; i++) {
        sz[i] = left < each ? left : each;
        left -= sz[i];
    }
    return SK_OK;
}

sk_status sk_shape_SPLIT(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 1);
    if (st || (st = need_plain(k, k->in[0], "input"))) return st;
    int64_t axis, *sz = sk_malloc((size_t)k->n_out * sizeof *sz);
    if (!sz) return SK_ERR_NOMEM;
    if (!(st = split_sizes(k, &axis, sz)))
        for (int i = 0; i < k->n_out; i++) {
            if (!k->out[i]) continue;
            same_shape(k->out[i], k->in[0]);
            k->out[i]->dims[axis] = sz[i];
        }
    sk_free(sz);
    return st;
}

sk_status sk_kern_SPLIT(sk_kctx *k)
{
    const sk_rtensor *x = k->in[0];
    int64_t axis, *sz = sk_malloc((size_t)k->n_out * sizeof *sz);
    if (!sz) return SK_ERR_NOMEM;
    sk_status st = split_sizes(k, &axis, sz);
    if (!st) {
        size_t inner = esize(x->dtype), xrow;
        int64_t outer = 1;
        for (int d = 0; d < axis; d++) outer *= x->dims[d];
        for (int d = (int)axis + 1; d < x->rank; d++) inner *= (size_t)x->dims[d];
        xrow = inner * (size_t)x->dims[axis];
        size_t at = 0;
        for (int i = 0; i < k->n_out; i++) {
            size_t chunk = inner * (size_t)sz[i];
            if (k->out[i] && chunk)
                for (int64_t r = 0; r < outer; r++)
                    memcpy((char *)k->out[i]->data + (size_t)r * chunk, (const char *)x->data + (size_t)r * xrow + at,
                           chunk);
            at += chunk;
        }
    }
    sk_free(sz);
    return st;
}

/* ---- Slice (opset ≥ 10: starts, ends, axes?, steps? as inputs) ---- */
typedef struct {
    int64_t start[SK_MAX_RANK], step[SK_MAX_RANK], len[SK_MAX_RANK];
} slice_p;

static sk_status slice_params(const sk_kctx *k, slice_p *p)
{
    const sk_rtensor *x = k->in[0];
    int r = x->rank;
    int64_t st[SK_MAX_RANK], en[SK_MAX_RANK], ax[SK_MAX_RANK], sp[SK_MAX_RANK];
    int ns, ne, na, nsp;
    sk_status s;
    if ((s = sk_kints(k, 1, NULL, "starts", st, SK_MAX_RANK, &ns)) ||
        (s = sk_kints(k, 2, NULL, "ends", en, SK_MAX_RANK, &ne)) ||
        (s = sk_kints(k, 3, NULL, "axes", ax, SK_MAX_RANK, &na)) ||
        (s = sk_kints(k, 4, NULL, "steps", sp, SK_MAX_RANK, &nsp)))
        return s;
    if (ns < 0 || ne < 0) return sk_kerr(k, SK_ERR_INVALID, "starts and ends are required");
    if (ns != ne || (na >= 0 && na != ns) || (nsp >= 0 && nsp != ns))
        return sk_kerr(k, SK_ERR_INVALID, "starts, ends, axes and steps have different lengths (%d, %d, %d, %d)", ns, ne,
                       na, nsp);
    for (int d = 0; d < r; d++) {
        p->start[d] = 0;
        p->step[d] = 1;
        p->len[d] = x->dims[d];
    }
    bool seen[SK_MAX_RANK] = {false};
    for (int i = 0; i < ns; i++) {
        int64_t a = na >= 0 ? ax[i] : i;
        if (r == 0 || !sk_norm_axis(&a, r))
            return sk_kerr(k, SK_ERR_INVALID, "axis %lld out of range for rank %d", (long long)(na >= 0 ? ax[i] : i), r);
        if (seen[a]) return sk_kerr(k, SK_ERR_INVALID, "axis %lld repeated", (long long)a);
        seen[a] = true;
        int64_t step = nsp >= 0 ? sp[i] : 1, dim = x->dims[a], b = st[i], e = en[i], len;
        if (step == 0) return sk_kerr(k, SK_ERR_INVALID, "step for axis %lld is 0", (long long)a);
        if (step == INT64_MIN) step = -INT64_MAX;   /* same slice, and -step stays representable */
        if (b < 0) b += dim;
        if (e < 0) e += dim;
        if (step > 0) {   /* clamp to [0, dim] */
            b = b < 0 ? 0 : b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            len = e > b ? (e - b - 1) / step + 1 : 0;
        } else {          /* clamp start to [0, dim-1], end to [-1, dim-1] */
            b = b < 0 ? 0 : b > dim - 1 ? dim - 1 : b;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            len = b > e ? (b - e - 1) / -step + 1 : 0;
        }
        if (dim == 0) len = 0;
        p->start[a] = len ? b : 0;
        p->step[a] = step;
        p->len[a] = len;
    }
    return SK_OK;
}

sk_status sk_shape_SLICE(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 3);
    if (st || (st = need_plain(k, k->in[0], "data"))) return st;
    slice_p p;
    if ((st = slice_params(k, &p))) return st;
    sk_rt_set_shape(k->out[0], k->in[0]->dtype, k->in[0]->rank, p.len);
    return SK_OK;
}

sk_status sk_kern_SLICE(sk_kctx *k)
{
    const sk_rtensor *x = k->in[0];
    slice_p p;
    sk_status st = slice_params(k, &p);
    if (st) return st;
    int64_t xs[SK_MAX_RANK], base = 0;
    strides_of(x, xs);
    sk_nd it;
    sk_nd_init(&it, x->rank, p.len);
    it.nops = 1;
    for (int d = 0; d < x->rank; d++) {
        base += p.start[d] * xs[d];
        it.st[0][d] = p.step[d] * xs[d];
    }
    size_t esz = esize(x->dtype);
    copy_strided(k, &it, k->out[0]->data, (const char *)x->data + base * (int64_t)esz, esz);
    return SK_OK;
}

/* ---- Transpose: out.dims[i] = in.dims[perm[i]], perm defaults to reversed ---- */
static sk_status transpose_perm(const sk_kctx *k, int64_t *perm)
{
    int r = k->in[0]->rank, n;
    sk_status st = sk_kints(k, -1, "perm", "perm", perm, SK_MAX_RANK, &n);
    if (st) return st;
    if (n < 0) {
        for (int d = 0; d < r; d++) perm[d] = r - 1 - d;
        return SK_OK;
    }
    if (n != r) return sk_kerr(k, SK_ERR_INVALID, "perm has %d entries for rank %d", n, r);
    bool seen[SK_MAX_RANK] = {false};
    for (int d = 0; d < r; d++) {
        if (perm[d] < 0 || perm[d] >= r || seen[perm[d]])
            return sk_kerr(k, SK_ERR_INVALID, "perm is not a permutation of 0..%d", r - 1);
        seen[perm[d]] = true;
    }
    return SK_OK;
}

sk_status sk_shape_TRANSPOSE(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 1);
    if (st || (st = need_plain(k, k->in[0], "input"))) return st;
    const sk_rtensor *x = k->in[0];
    int64_t perm[SK_MAX_RANK], dims[SK_MAX_RANK];
    if ((st = transpose_perm(k, perm))) return st;
    for (int d = 0; d < x->rank; d++) dims[d] = x->dims[perm[d]];
    sk_rt_set_shape(k->out[0], x->dtype, x->rank, dims);
    return SK_OK;
}

sk_status sk_kern_TRANSPOSE(sk_kctx *k)
{
    const sk_rtensor *x = k->in[0];
    int64_t perm[SK_MAX_RANK], xs[SK_MAX_RANK];
    sk_status st = transpose_perm(k, perm);
    if (st) return st;
    strides_of(x, xs);
    sk_nd it;
    sk_nd_init(&it, x->rank, k->out[0]->dims);
    it.nops = 1;
    for (int d = 0; d < x->rank; d++) it.st[0][d] = xs[perm[d]];
    copy_strided(k, &it, k->out[0]->data, x->data, esize(x->dtype));
    return SK_OK;
}

/* ---- Expand: numpy broadcast of the input and the shape input ---- */
sk_status sk_shape_EXPAND(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 2);
    if (st || (st = need_plain(k, k->in[0], "input"))) return st;
    sk_rtensor shp = {.dtype = k->in[0]->dtype};
    int n;
    if ((st = sk_kints(k, 1, NULL, "shape", shp.dims, SK_MAX_RANK, &n))) return st;
    shp.rank = n;
    for (int d = 0; d < n; d++)
        if (shp.dims[d] < 0) return sk_kerr(k, SK_ERR_INVALID, "shape[%d] = %lld is negative", d, (long long)shp.dims[d]);
    sk_rtensor *o = k->out[0];
    if ((st = sk_broadcast_shape(k, k->in[0], &shp, o))) return st;
    o->dtype = k->in[0]->dtype;
    return SK_OK;
}

sk_status sk_kern_EXPAND(sk_kctx *k)
{
    const sk_rtensor *x = k->in[0];
    sk_nd it;
    sk_nd_init(&it, k->out[0]->rank, k->out[0]->dims);
    sk_nd_bcast(&it, x);
    copy_strided(k, &it, k->out[0]->data, x->data, esize(x->dtype));
    return SK_OK;
}

/* ---- ConstantOfShape: attributes value (float, or int for exact integers) and
 *      value_dtype (an sk_dtype; the importer converts the ONNX tensor attribute) ---- */
static sk_dtype cos_dtype(const sk_kctx *k) { return (sk_dtype)sk_node_attr_i(k->node, "value_dtype", SK_DT_F32); }

sk_status sk_shape_CONSTANT_OF_SHAPE(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 1);
    if (st) return st;
    int64_t dims[SK_MAX_RANK];
    int n;
    if ((st = sk_kints(k, 0, NULL, "shape", dims, SK_MAX_RANK, &n))) return st;
    for (int d = 0; d < n; d++)
        if (dims[d] < 0) return sk_kerr(k, SK_ERR_INVALID, "shape[%d] = %lld is negative", d, (long long)dims[d]);
    sk_dtype dt = cos_dtype(k);
    switch (dt) {
    case SK_DT_F32: case SK_DT_F16: case SK_DT_F64: case SK_DT_I64: case SK_DT_I32:
    case SK_DT_I16: case SK_DT_I8: case SK_DT_U8: case SK_DT_BOOL: break;
    default: return sk_kerr(k, SK_ERR_UNSUPPORTED, "value_dtype %d is not a supported dtype", (int)dt);
    }
    sk_rt_set_shape(k->out[0], dt, n, dims);
    return SK_OK;
}

sk_status sk_kern_CONSTANT_OF_SHAPE(sk_kctx *k)
{
    const sk_attr *a = sk_node_attr(k->node, "value");
    bool is_int = a && a->type == SK_ATTR_INT;
    double f = a ? (is_int ? (double)a->i : a->type == SK_ATTR_FLOAT ? (double)a->f : 0) : 0;
    int64_t i = is_int ? a->i : isfinite(f) && fabs(f) < 9.2e18 ? (int64_t)f : 0;
    sk_rtensor *o = k->out[0];
    unsigned char v[8];
    size_t esz = esize(o->dtype);
    switch (o->dtype) {
    case SK_DT_F32: { float x = (float)f; memcpy(v, &x, 4); break; }
    case SK_DT_F64: memcpy(v, &f, 8); break;
    case SK_DT_F16: { uint16_t h = sk_f32_to_f16((float)f); memcpy(v, &h, 2); break; }
    case SK_DT_I64: memcpy(v, &i, 8); break;
    case SK_DT_I32: { int32_t x = (int32_t)i; memcpy(v, &x, 4); break; }
    case SK_DT_I16: { int16_t x = (int16_t)i; memcpy(v, &x, 2); break; }
    case SK_DT_I8: case SK_DT_U8: v[0] = (unsigned char)i; break;
    case SK_DT_BOOL: v[0] = f != 0; break;
    default: return sk_kerr(k, SK_ERR_UNSUPPORTED, "value_dtype %s", sk_dtype_info(o->dtype)->name);
    }
    int64_t n = sk_rt_numel(o);
    char *d = o->data;
    for (int64_t j = 0; j < n; j++) memcpy(d + j * (int64_t)esz, v, esz);
    return SK_OK;
}

/* ---- Range: n = max(ceil((limit - start) / delta), 0) ---- */
static bool range_float(sk_dtype dt) { return dt == SK_DT_F32 || dt == SK_DT_F64; }

static double get_d(const sk_rtensor *t)
{
    return t->dtype == SK_DT_F32 ? ((const float *)t->data)[0] : ((const double *)t->data)[0];
}

static sk_status range_len(const sk_kctx *k, int64_t *n)
{
    const sk_rtensor *s = k->in[0], *l = k->in[1], *d = k->in[2];
    static const char *names[3] = {"start", "limit", "delta"};
    for (int i = 0; i < 3; i++) {
        const sk_rtensor *t = k->in[i];
        if (!t->is_const) return sk_kerr(k, SK_ERR_UNSUPPORTED, "%s input is not constant at plan time", names[i]);
        if (sk_rt_numel(t) != 1 || t->rank > 1)
            return sk_kerr(k, SK_ERR_INVALID, "%s input is not a scalar", names[i]);
        if (t->dtype != s->dtype)
            return sk_kerr(k, SK_ERR_INVALID, "%s has dtype %s, start has %s", names[i], sk_dtype_info(t->dtype)->name,
                           sk_dtype_info(s->dtype)->name);
    }
    if (range_float(s->dtype)) {
        double a = get_d(s), b = get_d(l), c = get_d(d);
        if (c == 0 || !isfinite(a) || !isfinite(b) || !isfinite(c))
            return sk_kerr(k, SK_ERR_INVALID, "start, limit and delta must be finite and delta nonzero");
        /* onnxruntime subtracts in the input's type, then divides in double */
        double span = s->dtype == SK_DT_F32 ? (double)((float)b - (float)a) : b - a;
        double len = ceil(span / c);
        if (len > 1e12) return sk_kerr(k, SK_ERR_INVALID, "range of %.0f elements is too long", len);
        *n = len > 0 ? (int64_t)len : 0;
        return SK_OK;
    }
    if (s->dtype != SK_DT_I64 && s->dtype != SK_DT_I32 && s->dtype != SK_DT_I16)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "dtype %s", sk_dtype_info(s->dtype)->name);
    int64_t a = sk_rt_get_i(s, 0), b = sk_rt_get_i(l, 0), c = sk_rt_get_i(d, 0);
    if (c == 0) return sk_kerr(k, SK_ERR_INVALID, "delta is 0");
    /* exact ceil((b - a) / c) without overflow: the span fits in unsigned */
    uint64_t span, step;
    if (c > 0 && b > a) span = (uint64_t)b - (uint64_t)a, step = (uint64_t)c;
    else if (c < 0 && a > b) span = (uint64_t)a - (uint64_t)b, step = 0 - (uint64_t)c;
    else { *n = 0; return SK_OK; }
    uint64_t len = (span - 1) / step + 1;
    if (len > (uint64_t)1 << 40) return sk_kerr(k, SK_ERR_INVALID, "range of %llu elements is too long", (unsigned long long)len);
    *n = (int64_t)len;
    return SK_OK;
}

sk_status sk_shape_RANGE(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 3);
    int64_t n;
    if (st || (st = range_len(k, &n))) return st;
    sk_rt_set_shape(k->out[0], k->in[0]->dtype, 1, &n);
    return SK_OK;
}

sk_status sk_kern_RANGE(sk_kctx *k)
{
    const sk_rtensor *s = k->in[0];
    int64_t n = k->out[0]->dims[0];
    void *o = k->out[0]->data;
    if (range_float(s->dtype)) {   /* accumulate as onnxruntime does, so the values match bit for bit */
        double c = get_d(k->in[2]);
        if (s->dtype == SK_DT_F32) {
            float v = (float)get_d(s), cf = (float)c;
            for (int64_t i = 0; i < n; i++, v += cf) ((float *)o)[i] = v;
        } else {
            double v = get_d(s);
            for (int64_t i = 0; i < n; i++, v += c) ((double *)o)[i] = v;
        }
        return SK_OK;
    }
    uint64_t a = (uint64_t)sk_rt_get_i(s, 0), c = (uint64_t)sk_rt_get_i(k->in[2], 0);
    for (int64_t i = 0; i < n; i++) {
        uint64_t v = a + (uint64_t)i * c;   /* wraps like the int arithmetic it stands for */
        switch (s->dtype) {
        case SK_DT_I64: ((int64_t *)o)[i] = (int64_t)v; break;
        case SK_DT_I32: ((int32_t *)o)[i] = (int32_t)v; break;
        default: ((int16_t *)o)[i] = (int16_t)v; break;
        }
    }
    return SK_OK;
}

/* ---- Pad (opset ≥ 11: pads, constant_value?, axes? as inputs; attribute mode) ----
 * Negative pads crop.  Modes: constant, edge, reflect (mirror without repeating
 * the edge), wrap. */
typedef enum { PAD_CONST, PAD_EDGE, PAD_REFLECT, PAD_WRAP } pad_mode;

typedef struct {
    pad_mode mode;
    int64_t begin[SK_MAX_RANK], end[SK_MAX_RANK];
} pad_p;

static sk_status pad_params(const sk_kctx *k, pad_p *p)
{
    const sk_rtensor *x = k->in[0];
    int r = x->rank, np, na;
    int64_t pads[2 * SK_MAX_RANK], axes[SK_MAX_RANK];
    const char *mode = sk_node_attr_s(k->node, "mode", "constant");
    if (!strcmp(mode, "constant")) p->mode = PAD_CONST;
    else if (!strcmp(mode, "edge")) p->mode = PAD_EDGE;
    else if (!strcmp(mode, "reflect")) p->mode = PAD_REFLECT;
    else if (!strcmp(mode, "wrap")) p->mode = PAD_WRAP;
    else return sk_kerr(k, SK_ERR_UNSUPPORTED, "mode '%s'", mode);
    sk_status st;
    if ((st = sk_kints(k, 1, "pads", "pads", pads, 2 * SK_MAX_RANK, &np)) ||
        (st = sk_kints(k, 3, NULL, "axes", axes, SK_MAX_RANK, &na)))
        return st;
    if (na < 0) {
        na = r;
        for (int d = 0; d < r; d++) axes[d] = d;
    }
    if (np != 2 * na) return sk_kerr(k, SK_ERR_INVALID, "pads has %d values for %d axes", np < 0 ? 0 : np, na);
    for (int d = 0; d < r; d++) p->begin[d] = p->end[d] = 0;
    bool seen[SK_MAX_RANK] = {false};
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i];
        if (r == 0 || !sk_norm_axis(&a, r))
            return sk_kerr(k, SK_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axes[i], r);
        if (seen[a]) return sk_kerr(k, SK_ERR_INVALID, "axis %lld repeated", (long long)axes[i]);
        seen[a] = true;
        p->begin[a] = pads[i];
        p->end[a] = pads[i + na];
        int64_t dim = x->dims[a], od = dim + p->begin[a] + p->end[a];
        if (od < 0) return sk_kerr(k, SK_ERR_INVALID, "pads make axis %lld negative (%lld)", (long long)a, (long long)od);
        if (p->mode != PAD_CONST && od > 0 && dim == 0)
            return sk_kerr(k, SK_ERR_INVALID, "%s padding of an empty axis %lld", mode, (long long)a);
        if (p->mode == PAD_REFLECT && (p->begin[a] >= dim || p->end[a] >= dim) && (p->begin[a] > 0 || p->end[a] > 0))
            return sk_kerr(k, SK_ERR_INVALID, "reflect pads of axis %lld must be smaller than its size %lld",
                           (long long)a, (long long)dim);
    }
    return SK_OK;
}

sk_status sk_shape_PAD(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 1);
    if (st || (st = need_plain(k, k->in[0], "data"))) return st;
    const sk_rtensor *x = k->in[0], *cv = k->n_in > 2 ? k->in[2] : NULL;
    if (cv && (cv->dtype != x->dtype || sk_rt_numel(cv) != 1))
        return sk_kerr(k, SK_ERR_INVALID, "constant_value must be one %s", sk_dtype_info(x->dtype)->name);
    pad_p p;
    if ((st = pad_params(k, &p))) return st;
    int64_t dims[SK_MAX_RANK];
    for (int d = 0; d < x->rank; d++) dims[d] = x->dims[d] + p.begin[d] + p.end[d];
    sk_rt_set_shape(k->out[0], x->dtype, x->rank, dims);
    return SK_OK;
}

/* Input index for padded position i of an axis of size n; -1 = the constant. */
static int64_t pad_src(int64_t i, int64_t n, pad_mode m)
{
    if (i >= 0 && i < n) return i;
    switch (m) {
    case PAD_EDGE: return i < 0 ? 0 : n - 1;
    case PAD_WRAP: return (i % n + n) % n;
    case PAD_REFLECT: {
        if (n == 1) return 0;
        int64_t per = 2 * (n - 1);
        i = (i % per + per) % per;
        return i < n ? i : per - i;
    }
    default: return -1;
    }
}

sk_status sk_kern_PAD(sk_kctx *k)
{
    const sk_rtensor *x = k->in[0], *cv = k->n_in > 2 ? k->in[2] : NULL;
    sk_rtensor *o = k->out[0];
    pad_p p;
    sk_status st = pad_params(k, &p);
    if (st) return st;
    size_t e = esize(x->dtype);
    unsigned char val[16] = {0};
    if (cv) memcpy(val, cv->data, e);
    int64_t total = sk_rt_numel(o);
    if (total == 0) return SK_OK;
    int r = o->rank;
    if (r == 0) { memcpy(o->data, x->data, e); return SK_OK; }
    int64_t xs[SK_MAX_RANK], idx[SK_MAX_RANK] = {0};
    strides_of(x, xs);
    int64_t W = o->dims[r - 1], w = x->dims[r - 1], b = p.begin[r - 1];
    char *dst = o->data;
    const char *src = x->data;
    for (int64_t row = 0; row < total / W; row++) {
        int64_t base = 0;   /* input element offset of this row, or -1 for a constant row */
        for (int d = 0; d < r - 1 && base >= 0; d++) {
            int64_t i = pad_src(idx[d] - p.begin[d], x->dims[d], p.mode);
            base = i < 0 ? -1 : base + i * xs[d];
        }
        char *out = dst + (size_t)(row * W) * e;
        if (base < 0) {
            for (int64_t j = 0; j < W; j++) memcpy(out + j * (int64_t)e, val, e);
        } else {
            /* the middle part is one copy; the padded ends element by element */
            int64_t lo = b > 0 ? b : 0, hi = b + w < W ? b + w : W;
            if (hi > lo) memcpy(out + lo * (int64_t)e, src + (base + lo - b) * (int64_t)e, (size_t)(hi - lo) * e);
            for (int64_t j = 0; j < W; j++) {
                if (j >= lo && j < hi) { j = hi - 1; continue; }
                int64_t i = pad_src(j - b, w, p.mode);
                memcpy(out + j * (int64_t)e, i < 0 ? (const char *)val : src + (base + i) * (int64_t)e, e);
            }
        }
        for (int d = r - 2; d >= 0; d--) {   /* next row */
            if (++idx[d] < o->dims[d]) break;
            idx[d] = 0;
        }
    }
    return SK_OK;
}
