/* common.c — helpers shared by shape functions and kernels. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "runtime/runtime.h"

int64_t sk_rt_numel(const sk_rtensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dims[i];
    return n;
}

void sk_rt_set_shape(sk_rtensor *t, sk_dtype dt, int rank, const int64_t *dims)
{
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
}

bool sk_norm_axis(int64_t *axis, int rank)
{
    if (*axis < 0) *axis += rank;
    return *axis >= 0 && *axis < (rank ? rank : 1);
}

int64_t sk_rt_get_i(const sk_rtensor *t, int64_t i)
{
    switch (t->dtype) {
    case SK_DT_I64: return ((const int64_t *)t->data)[i];
    case SK_DT_I32: return ((const int32_t *)t->data)[i];
    case SK_DT_I16: return ((const int16_t *)t->data)[i];
    case SK_DT_I8: return ((const int8_t *)t->data)[i];
    case SK_DT_U8: case SK_DT_BOOL: return ((const uint8_t *)t->data)[i];
    case SK_DT_F32: return (int64_t)((const float *)t->data)[i];
    case SK_DT_F64: return (int64_t)((const double *)t->data)[i];
    default: SK_ASSERT(!"sk_rt_get_i: not an integer dtype");
    }
    return 0;
}

sk_status sk_broadcast_shape(const sk_kctx *k, const sk_rtensor *a, const sk_rtensor *b, sk_rtensor *out)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return sk_err(SK_ERR_INVALID, "node '%s' (%s): cannot broadcast dim %d: %lld vs %lld", k->node->name,
                          sk_op_get(k->node->op)->name, i, (long long)da, (long long)db);
        out->dims[i] = da == 1 ? db : da;
    }
    out->rank = r;
    return SK_OK;
}

sk_status sk_kerr(const sk_kctx *k, sk_status st, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sk_err(st, "node '%s' (%s): %s", k->node->name, sk_op_get(k->node->op)->name, msg);
}

sk_status sk_kcheck(const sk_kctx *k, int n_req)
{
    for (int i = 0; i < n_req; i++)
        if (i >= k->n_in || !k->in[i]) return sk_kerr(k, SK_ERR_INVALID, "required input %d is missing", i);
    if (k->n_out < 1 || !k->out[0]) return sk_kerr(k, SK_ERR_INVALID, "output 0 is missing");
    return SK_OK;
}

sk_status sk_kints(const sk_kctx *k, int idx, const char *attr, const char *what, int64_t *v, int max, int *n)
{
    *n = -1;
    const sk_rtensor *t = idx >= 0 && idx < k->n_in ? k->in[idx] : NULL;
    if (t) {
        if (!t->is_const)
            return sk_kerr(k, SK_ERR_UNSUPPORTED, "%s input is not constant at plan time", what);
        if (t->dtype != SK_DT_I64 && t->dtype != SK_DT_I32 && t->dtype != SK_DT_I16 && t->dtype != SK_DT_I8 &&
            t->dtype != SK_DT_U8)
            return sk_kerr(k, SK_ERR_INVALID, "%s input has dtype %s, expected an integer type", what,
                           sk_dtype_info(t->dtype)->name);
        if (t->rank > 1) return sk_kerr(k, SK_ERR_INVALID, "%s input has rank %d, expected 1", what, t->rank);
        int64_t cnt = sk_rt_numel(t);
        if (cnt > max)
            return sk_kerr(k, SK_ERR_UNSUPPORTED, "%s input has %lld values, at most %d supported", what,
                           (long long)cnt, max);
        for (int64_t i = 0; i < cnt; i++) v[i] = sk_rt_get_i(t, i);
        *n = (int)cnt;
        return SK_OK;
    }
    const sk_attr *a = attr ? sk_node_attr(k->node, attr) : NULL;
    if (!a) return SK_OK;
    if (a->type == SK_ATTR_INT) {   /* a single value where a list is expected */
        if (max < 1) return sk_kerr(k, SK_ERR_INVALID, "attribute '%s' has too many values", attr);
        v[0] = a->i;
        *n = 1;
        return SK_OK;
    }
    if (a->type != SK_ATTR_INTS) return sk_kerr(k, SK_ERR_INVALID, "attribute '%s' is not a list of ints", attr);
    if (a->n > max)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "attribute '%s' has %d values, at most %d supported", attr, a->n, max);
    for (int i = 0; i < a->n; i++) v[i] = a->ints[i];
    *n = a->n;
    return SK_OK;
}

typedef struct {
    void (*fn)(void *ctx, int64_t lo, int64_t hi);
    void *ctx;
    int64_t n;
    int parts;
} par_job;

static void par_part(void *p, int i, int nthreads)
{
    const par_job *j = p;
    (void)nthreads;
    if (i >= j->parts) return;
    /* boundaries on multiples of 16 items keep threads off each other's cache lines */
    int64_t lo = j->n * i / j->parts & ~(int64_t)15, hi = i + 1 == j->parts ? j->n : j->n * (i + 1) / j->parts & ~(int64_t)15;
    if (lo < hi) j->fn(j->ctx, lo, hi);
}

void sk_kpar(const sk_kctx *k, int64_t n, int64_t grain, void (*fn)(void *ctx, int64_t lo, int64_t hi), void *ctx)
{
    if (n <= 0) return;
    int64_t parts = grain > 0 ? n / grain : n;
    int nt = sk_pool_size(k->pool);
    if (parts > nt) parts = nt;
    if (parts <= 1) { fn(ctx, 0, n); return; }
    par_job j = {fn, ctx, n, (int)parts};
    sk_pool_run(k->pool, par_part, &j);
}

void sk_nd_init(sk_nd *it, int rank, const int64_t *dims)
{
    memset(it, 0, sizeof *it);
    it->rank = rank;
    for (int d = 0; d < rank; d++) it->dims[d] = dims[d];
}

int sk_nd_bcast(sk_nd *it, const sk_rtensor *t)
{
    SK_ASSERT(it->nops < 3 && t->rank <= it->rank);
    int j = it->nops++, lead = it->rank - t->rank;
    int64_t stride = 1;
    for (int d = it->rank - 1; d >= 0; d--) {
        int64_t td = d >= lead ? t->dims[d - lead] : 1;
        SK_ASSERT(td == 1 || td == it->dims[d]);
        it->st[j][d] = td == 1 ? 0 : stride;
        stride *= td;
    }
    return j;
}

void sk_nd_coalesce(sk_nd *it)
{
    int r = 0;
    for (int d = 0; d < it->rank; d++) {   /* drop size-1 dims */
        if (it->dims[d] == 1) continue;
        it->dims[r] = it->dims[d];
        for (int j = 0; j < it->nops; j++) it->st[j][r] = it->st[j][d];
        r++;
    }
    int m = 0;
    for (int d = 1; d < r; d++) {
        bool merge = true;
        for (int j = 0; j < it->nops; j++)
            if (it->st[j][m] != it->st[j][d] * it->dims[d]) merge = false;
        if (merge) {
            it->dims[m] *= it->dims[d];
            for (int j = 0; j < it->nops; j++) it->st[j][m] = it->st[j][d];
        } else {
            m++;
            it->dims[m] = it->dims[d];
            for (int j = 0; j < it->nops; j++) it->st[j][m] = it->st[j][d];
        }
    }
    if (r == 0) {   /* a single element */
        it->rank = 1;
        it->dims[0] = 1;
        for (int j = 0; j < it->nops; j++) it->st[j][0] = 0;
    } else {
        it->rank = m + 1;
    }
}

typedef struct {
    const sk_nd *it;
    sk_nd_row row;
    void *ctx;
} nd_job;

static void nd_range(void *p, int64_t lo, int64_t hi)
{
    const nd_job *job = p;
    const sk_nd *it = job->it;
    int r = it->rank, nops = it->nops;
    int64_t idx[SK_MAX_RANK], off[3] = {0, 0, 0}, step[3] = {0, 0, 0}, rem = lo;
    for (int d = r - 1; d >= 0; d--) {
        idx[d] = rem % it->dims[d];
        rem /= it->dims[d];
    }
    for (int j = 0; j < nops; j++) {
        for (int d = 0; d < r; d++) off[j] += idx[d] * it->st[j][d];
        step[j] = it->st[j][r - 1];
    }
    for (int64_t pos = lo; pos < hi;) {
        int64_t n = it->dims[r - 1] - idx[r - 1];
        if (n > hi - pos) n = hi - pos;
        job->row(job->ctx, pos, off, step, n);
        pos += n;
        idx[r - 1] += n;
        for (int j = 0; j < nops; j++) off[j] += n * step[j];
        for (int d = r - 1; d > 0 && idx[d] == it->dims[d]; d--) {   /* carry */
            idx[d] = 0;
            idx[d - 1]++;
            for (int j = 0; j < nops; j++) off[j] += it->st[j][d - 1] - it->dims[d] * it->st[j][d];
        }
    }
}

void sk_nd_run(const sk_kctx *k, const sk_nd *it, int64_t grain, sk_nd_row row, void *ctx)
{
    int64_t total = 1;
    for (int d = 0; d < it->rank; d++) total *= it->dims[d];
    if (total <= 0) return;
    nd_job job = {it, row, ctx};
    sk_kpar(k, total, grain, nd_range, &job);
}
