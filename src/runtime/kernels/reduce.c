/* reduce.c — Softmax, ReduceMean, ReduceSum.
 *
 * Softmax follows onnxruntime: subtract the row maximum, exponentiate and sum
 * in f32, multiply by the reciprocal of the sum.  A row that is all -inf
 * (a fully masked attention row) comes out NaN, as it does there.  Rows along
 * the last axis use sk_softmax_f32 (f32.h, AVX-512/AVX2 exp); other axes a
 * strided scalar loop.  Opset ≥ 13
 * normalises along one axis (default -1); a node with attribute opset < 13
 * gets the old semantics: the input is seen as 2-D [prod(dims[:axis]),
 * prod(dims[axis:])] (default axis 1) and each row is normalised.  The ONNX
 * importer is expected to set that attribute from the model's opset.
 *
 * Reductions take axes from the attribute (ReduceMean before opset 18,
 * ReduceSum before 13) or from a constant input 1 (later opsets), with
 * keepdims and noop_with_empty_axes.  The reduced dims are coalesced so the
 * usual cases are a contiguous row (ReduceMean over the last axis, threaded
 * over rows) or a middle block summed into the output with unit-stride loops;
 * anything else (reducing axes 0 and 2 of 3) walks the input once.
 * f32 accumulates in f32 with 8 partial sums; i64 and i32 sum exactly
 * (wrapping) and ReduceMean divides them as integers, as onnxruntime does.
 */
#include <math.h>
#include <string.h>
#include "runtime/kernels/f32.h"

#define GRAIN 32768   /* elements per thread below which an op runs on one thread */
#define SIMD _Pragma("omp simd")   /* vectorise: no dependence between iterations */

/* ---- Softmax ---- */
typedef struct {
    int64_t outer, n, inner;   /* x is [outer, n, inner], normalised along n */
} sm_dims;

static sk_status softmax_dims(const sk_kctx *k, sm_dims *s)
{
    const sk_rtensor *x = k->in[0];
    bool old = sk_node_attr_i(k->node, "opset", 13) < 13;
    int64_t axis = sk_node_attr_i(k->node, "axis", old ? 1 : -1), a = axis;
    if (x->rank < 1 || !sk_norm_axis(&a, x->rank))
        return sk_kerr(k, SK_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axis, x->rank);
    s->outer = s->n = s->inner = 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < a) s->outer *= x->dims[d];
        else if (d == a || old) s->n *= x->dims[d];
        else s->inner *= x->dims[d];
    }
    return SK_OK;
}

sk_status sk_shape_SOFTMAX(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 1);
    if (st) return st;
    const sk_rtensor *x = k->in[0];
    if (x->dtype != SK_DT_F32)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "dtype %s is not supported", sk_dtype_info(x->dtype)->name);
    sm_dims s;
    if ((st = softmax_dims(k, &s))) return st;
    sk_rt_set_shape(k->out[0], x->dtype, x->rank, x->dims);
    return SK_OK;
}

static float row_max(const float *x, int64_t n)
{
    float m[8];
    int64_t i = 0, n8 = n & ~(int64_t)7;
    for (int j = 0; j < 8; j++) m[j] = -INFINITY;
    for (; i < n8; i += 8)
        for (int j = 0; j < 8; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
    float r = m[0];
    for (int j = 1; j < 8; j++) r = m[j] > r ? m[j] : r;
    return r;
}

typedef struct {
    const float *x;
    float *y;
    sm_dims s;
} sm_job;

/* rows [lo, hi) of [outer * inner] rows; a row is n elements inner apart */
static void softmax_rows(void *p, int64_t lo, int64_t hi)
{
    const sm_job *j = p;
    int64_t n = j->s.n, in = j->s.inner;
    for (int64_t r = lo; r < hi; r++) {
        const float *x = j->x + (r / in) * n * in + r % in;
        float *y = j->y + (r / in) * n * in + r % in;
        if (in == 1) {   /* contiguous row: the vectorised row softmax of f32.h */
            if (row_max(x, n) == -INFINITY) {   /* fully masked: NaN like onnxruntime (f32.h would give 1/n) */
                for (int64_t i = 0; i < n; i++) y[i] = NAN;
                continue;
            }
            if (y != x) memcpy(y, x, (size_t)n * sizeof *y);
            sk_softmax_f32(y, n);
        } else {
            float m = -INFINITY, sum = 0;
            for (int64_t i = 0; i < n; i++) m = x[i * in] > m ? x[i * in] : m;
            for (int64_t i = 0; i < n; i++) sum += y[i * in] = expf(x[i * in] - m);
            float inv = 1.0f / sum;
            for (int64_t i = 0; i < n; i++) y[i * in] *= inv;
        }
    }
}

sk_status sk_kern_SOFTMAX(sk_kctx *k)
{
    sm_job j = {k->in[0]->data, k->out[0]->data, {0, 0, 0}};
    sk_status st = softmax_dims(k, &j.s);
    if (st) return st;
    if (j.s.n == 0) return SK_OK;
    sk_kpar(k, j.s.outer * j.s.inner, GRAIN / (4 * j.s.n) + 1, softmax_rows, &j);
    return SK_OK;
}

/* ---- ReduceMean, ReduceSum ---- */
typedef struct {
    bool red[SK_MAX_RANK];   /* which input dims are reduced */
    bool noop;               /* empty axes with noop_with_empty_axes: the identity */
} red_axes;

static sk_status reduce_axes(const sk_kctx *k, red_axes *ra)
{
    const sk_rtensor *x = k->in[0];
    int64_t axes[SK_MAX_RANK];
    int n;
    sk_status st = sk_kints(k, 1, "axes", "axes", axes, SK_MAX_RANK, &n);
    if (st) return st;
    memset(ra, 0, sizeof *ra);
    if (n <= 0) {
        if (sk_node_attr_i(k->node, "noop_with_empty_axes", 0)) ra->noop = true;
        else for (int d = 0; d < x->rank; d++) ra->red[d] = true;
        return SK_OK;
    }
    for (int i = 0; i < n; i++) {
        int64_t a = axes[i];
        if (x->rank == 0 || !sk_norm_axis(&a, x->rank))
            return sk_kerr(k, SK_ERR_INVALID, "axis %lld out of range for rank %d", (long long)axes[i], x->rank);
        if (ra->red[a]) return sk_kerr(k, SK_ERR_INVALID, "axis %lld repeated", (long long)axes[i]);
        ra->red[a] = true;
    }
    return SK_OK;
}

sk_status sk_reduce_axes(const sk_kctx *k, bool *red, bool *noop)
{
    red_axes ra;
    sk_status st = reduce_axes(k, &ra);
    if (st) return st;
    memcpy(red, ra.red, sizeof ra.red);
    *noop = ra.noop;
    return SK_OK;
}

static sk_status reduce_shape(sk_kctx *k)
{
    sk_status st = sk_kcheck(k, 1);
    if (st) return st;
    const sk_rtensor *x = k->in[0];
    if (x->dtype != SK_DT_F32 && x->dtype != SK_DT_I64 && x->dtype != SK_DT_I32)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "dtype %s is not supported", sk_dtype_info(x->dtype)->name);
    red_axes ra;
    if ((st = reduce_axes(k, &ra))) return st;
    bool keep = sk_node_attr_i(k->node, "keepdims", 1) != 0;
    int64_t dims[SK_MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        if (!ra.red[d]) dims[r++] = x->dims[d];
        else if (keep) dims[r++] = 1;
    }
    sk_rt_set_shape(k->out[0], x->dtype, r, dims);
    return SK_OK;
}

typedef struct {
    sk_dtype dt;
    const void *x;
    void *y;
    int64_t n, inner;   /* per output row: n reduced elements, inner apart */
    bool mean;
} red_job;

static float sum_f32(const float *x, int64_t n)
{
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0, n8 = n & ~(int64_t)7;
    for (; i < n8; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += x[i + j];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) s += x[i];
    return s;
}

/* [outer, n] → [outer]: rows lo..hi */
static void reduce_rows(void *p, int64_t lo, int64_t hi)
{
    const red_job *j = p;
    int64_t n = j->n;
    for (int64_t r = lo; r < hi; r++) {
        if (j->dt == SK_DT_F32) {
            float s = sum_f32((const float *)j->x + r * n, n);
            ((float *)j->y)[r] = j->mean ? s / (float)n : s;
        } else {
            uint64_t s = 0;
            for (int64_t i = 0; i < n; i++)
                s += j->dt == SK_DT_I64 ? (uint64_t)((const int64_t *)j->x)[r * n + i]
                                        : (uint64_t)(int64_t)((const int32_t *)j->x)[r * n + i];
            int64_t v = (int64_t)s;
            if (j->mean && n) v /= n;
            if (j->dt == SK_DT_I64) ((int64_t *)j->y)[r] = v;
            else ((int32_t *)j->y)[r] = (int32_t)v;
        }
    }
}

/* [outer, n, inner] → [outer, inner]: outer blocks lo..hi, unit-stride over inner */
static void reduce_mid(void *p, int64_t lo, int64_t hi)
{
    const red_job *j = p;
    int64_t n = j->n, in = j->inner;
    for (int64_t o = lo; o < hi; o++) {
        if (j->dt == SK_DT_F32) {
            const float *x = (const float *)j->x + o * n * in;
            float *y = (float *)j->y + o * in;
            memset(y, 0, (size_t)in * sizeof *y);
            for (int64_t r = 0; r < n; r++) {
                const float *xr = x + r * in;
                SIMD for (int64_t i = 0; i < in; i++) y[i] += xr[i];
            }
            if (j->mean) {
                float div = (float)n;
                SIMD for (int64_t i = 0; i < in; i++) y[i] /= div;
            }
        } else {
            for (int64_t i = 0; i < in; i++) {
                uint64_t s = 0;
                for (int64_t r = 0; r < n; r++)
                    s += j->dt == SK_DT_I64 ? (uint64_t)((const int64_t *)j->x)[(o * n + r) * in + i]
                                            : (uint64_t)(int64_t)((const int32_t *)j->x)[(o * n + r) * in + i];
                int64_t v = (int64_t)s;
                if (j->mean && n) v /= n;
                if (j->dt == SK_DT_I64) ((int64_t *)j->y)[o * in + i] = v;
                else ((int32_t *)j->y)[o * in + i] = (int32_t)v;
            }
        }
    }
}

/* Anything else: walk the input in order, adding each element into its output
 * (sk_nd over the input, with the output as the operand: stride 0 on reduced dims). */
typedef struct {
    sk_dtype dt;
    const void *x;
    void *y;
} acc_job;

static void acc_row(void *p, int64_t pos, const int64_t *off, const int64_t *step, int64_t n)
{
    const acc_job *j = p;
    int64_t s = step[0];
    if (j->dt == SK_DT_F32) {
        const float *x = (const float *)j->x + pos;
        float *y = (float *)j->y + off[0];
        for (int64_t i = 0; i < n; i++) y[i * s] += x[i];
    } else if (j->dt == SK_DT_I64) {
        const int64_t *x = (const int64_t *)j->x + pos;
        int64_t *y = (int64_t *)j->y + off[0];
        for (int64_t i = 0; i < n; i++) y[i * s] = (int64_t)((uint64_t)y[i * s] + (uint64_t)x[i]);
    } else {
        const int32_t *x = (const int32_t *)j->x + pos;
        int32_t *y = (int32_t *)j->y + off[0];
        for (int64_t i = 0; i < n; i++) y[i * s] = (int32_t)((uint32_t)y[i * s] + (uint32_t)x[i]);
    }
}

static sk_status reduce_kern(sk_kctx *k, bool mean)
{
    const sk_rtensor *x = k->in[0];
    sk_rtensor *o = k->out[0];
    red_axes ra;
    sk_status st = reduce_axes(k, &ra);
    if (st) return st;
    size_t esz = sk_dtype_info(x->dtype)->block_bytes;
    int64_t total = sk_rt_numel(x), nout = sk_rt_numel(o);
    if (ra.noop) {
        if (total && o->data != x->data) memmove(o->data, x->data, (size_t)total * esz);
        return SK_OK;
    }
    if (nout == 0) return SK_OK;
    /* coalesce: drop size-1 dims, merge neighbours of the same kind */
    int64_t cd[SK_MAX_RANK];
    bool cr[SK_MAX_RANK];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        if (x->dims[d] == 1) continue;
        if (r && cr[r - 1] == ra.red[d]) cd[r - 1] *= x->dims[d];
        else { cd[r] = x->dims[d]; cr[r] = ra.red[d]; r++; }
    }
    int64_t count = nout ? total / nout : 0;   /* elements per output */
    red_job j = {x->dtype, x->data, o->data, count, 1, mean};
    if (count == 0) {   /* reducing an empty dim: sum 0, mean 0/0 */
        for (int64_t i = 0; i < nout; i++) {
            if (x->dtype == SK_DT_F32) ((float *)o->data)[i] = mean ? NAN : 0.0f;
            else if (x->dtype == SK_DT_I64) ((int64_t *)o->data)[i] = 0;
            else ((int32_t *)o->data)[i] = 0;
        }
        return SK_OK;
    }
    if (r == 0 || (r == 1 && cr[0]) || (r == 2 && !cr[0] && cr[1])) {   /* [outer, n] */
        sk_kpar(k, nout, GRAIN / count + 1, reduce_rows, &j);
        return SK_OK;
    }
    if ((r == 2 && cr[0] && !cr[1]) || (r == 3 && !cr[0] && cr[1] && !cr[2])) {   /* [outer, n, inner] */
        j.inner = cd[r - 1];
        sk_kpar(k, nout / j.inner, GRAIN / (count * j.inner) + 1, reduce_mid, &j);
        return SK_OK;
    }
    if (r == 1 && !cr[0]) {   /* only size-1 dims reduced: a copy */
        memmove(o->data, x->data, (size_t)total * esz);
        return SK_OK;
    }
    memset(o->data, 0, (size_t)nout * esz);
    sk_nd it;
    sk_nd_init(&it, r, cd);
    it.nops = 1;
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
        it.st[0][d] = cr[d] ? 0 : s;
        if (!cr[d]) s *= cd[d];
    }
    acc_job a = {x->dtype, x->data, o->data};
    sk_kctx one = *k;   /* several input rows add into one output: stay on one thread */
    one.pool = NULL;
    sk_nd_run(&one, &it, GRAIN, acc_row, &a);
    if (mean) {
        for (int64_t i = 0; i < nout; i++) {
            if (x->dtype == SK_DT_F32) ((float *)o->data)[i] /= (float)count;
            else if (x->dtype == SK_DT_I64) ((int64_t *)o->data)[i] /= count;
            else ((int32_t *)o->data)[i] = (int32_t)(((int32_t *)o->data)[i] / count);
        }
    }
    return SK_OK;
}

sk_status sk_shape_REDUCE_MEAN(sk_kctx *k) { return reduce_shape(k); }
sk_status sk_kern_REDUCE_MEAN(sk_kctx *k) { return reduce_kern(k, true); }
sk_status sk_shape_REDUCE_SUM(sk_kctx *k) { return reduce_shape(k); }
sk_status sk_kern_REDUCE_SUM(sk_kctx *k) { return reduce_kern(k, false); }
