/* matmul.c — fp32 MatMul (numpy batch broadcasting), Gemm and the fused
 * LINEAR (x·Wᵀ + b with an activation epilogue).
 *
 * Large products go to OpenBLAS (sk_sgemm), which spreads one call over
 * the threads the session gave it.  A batched MatMul of many small products
 * (the unfused attention of an ONNX BERT: [B,12,S,64]×[B,12,64,S]) instead
 * runs one product per pool thread with the single-threaded sk_sgemm_small,
 * because OpenBLAS's fixed costs per call dominate there and its thread count
 * is process-wide.  LINEAR with quantized weights (i8/q4 W with scales,
 * ir.h) goes to the integer kernels of qmatmul.c.
 */
#include <string.h>
#include "runtime/kernels/f32.h"
#include "runtime/kernels/qmatmul.h"
#include "runtime/kernels/sparse.h"

/* Per-product MACs up to which a batched MatMul runs its products in parallel
 * on the pool with sk_sgemm_small rather than one BLAS call after another.
 * Measured on 2 threads (Zen 5, OpenBLAS 0.3.21 Haswell kernels): 12 products
 * of 128×64·64×128 take 0.12 ms against 0.29 ms, 12 of 256³ 1.3 ms against
 * 3.8 ms; at 2 × 512³ the two are even. */
#define SMALL_MACS (16 << 20)

/* ---- MatMul ---- */
typedef struct {
    int64_t M, N, K;
    int ra, rb, rbatch;                 /* ranks of A, B, and of the output's batch part */
    int64_t bdims[SK_MAX_RANK];         /* output batch dims */
    int64_t sa[SK_MAX_RANK], sb[SK_MAX_RANK];   /* A's and B's batch strides in products (0 = broadcast) */
    int64_t nbatch, na, nb;             /* products in the output, in A, in B */
} mm_dims;

static sk_status mm_plan(const sk_kctx *k, mm_dims *d)
{
    const sk_rtensor *a = k->in[0], *b = k->in[1];
    memset(d, 0, sizeof *d);
    d->ra = a->rank;
    d->rb = b->rank;
    d->K = a->dims[a->rank - 1];
    d->M = a->rank >= 2 ? a->dims[a->rank - 2] : 1;
    int64_t kb = b->rank >= 2 ? b->dims[b->rank - 2] : b->dims[0];
    d->N = b->rank >= 2 ? b->dims[b->rank - 1] : 1;
    if (kb != d->K)
        return sk_kerr(k, SK_ERR_INVALID, "inner dims differ: A has K=%lld, B has K=%lld", (long long)d->K,
                       (long long)kb);
    sk_rtensor ba = { 0 }, bb = { 0 }, bo = { 0 };
    ba.rank = a->rank > 2 ? a->rank - 2 : 0;
    bb.rank = b->rank > 2 ? b->rank - 2 : 0;
    memcpy(ba.dims, a->dims, sizeof(int64_t) * (size_t)ba.rank);
    memcpy(bb.dims, b->dims, sizeof(int64_t) * (size_t)bb.rank);
    sk_status st = sk_broadcast_shape(k, &ba, &bb, &bo);
    if (st) return st;
    d->rbatch = bo.rank;
    memcpy(d->bdims, bo.dims, sizeof d->bdims);
    d->nbatch = sk_rt_numel(&bo);
    d->na = sk_rt_numel(&ba);
    d->nb = sk_rt_numel(&bb);
    int64_t s1 = 1, s2 = 1;
    for (int i = bo.rank - 1; i >= 0; i--) {
        int ia = i - (bo.rank - ba.rank), ib = i - (bo.rank - bb.rank);
        int64_t da = ia >= 0 ? ba.dims[ia] : 1, db = ib >= 0 ? bb.dims[ib] : 1;
        d->sa[i] = da == 1 ? 0 : s1;
        d->sb[i] = db == 1 ? 0 : s2;
        s1 *= da;
        s2 *= db;
    }
    return SK_OK;
}

sk_status sk_shape_MATMUL(sk_kctx *k)
{
    sk_status st;
    if ((st = sk_kcheck_input(k, 0, SK_DT_F32, 1, SK_MAX_RANK)) ||
        (st = sk_kcheck_input(k, 1, SK_DT_F32, 1, SK_MAX_RANK)))
        return st;
    mm_dims d;
    if ((st = mm_plan(k, &d))) return st;
    int64_t dims[SK_MAX_RANK + 2];
    int r = d.rbatch;
    memcpy(dims, d.bdims, sizeof(int64_t) * (size_t)r);
    if (d.ra >= 2) dims[r++] = d.M;
    if (d.rb >= 2) dims[r++] = d.N;
    if (r > SK_MAX_RANK) return sk_kerr(k, SK_ERR_UNSUPPORTED, "output rank %d > %d", r, SK_MAX_RANK);
    sk_rt_set_shape(k->out[0], SK_DT_F32, r, dims);
    return sk_kcheck_int(k, k->out[0]);
}

/* offsets (in products) of A's and B's operands for output product t */
static void mm_offsets(const mm_dims *d, int64_t t, int64_t *oa, int64_t *ob)
{
    *oa = *ob = 0;
    for (int i = d->rbatch - 1; i >= 0; i--) {
        int64_t idx = t % d->bdims[i];
        t /= d->bdims[i];
        *oa += idx * d->sa[i];
        *ob += idx * d->sb[i];
    }
}

typedef struct { const mm_dims *d; const float *a, *b; float *c; int64_t ntasks; } mm_job;

static void mm_small(void *ctx, int i, int n)
{
    const mm_job *j = ctx;
    const mm_dims *d = j->d;
    int M = (int)d->M, N = (int)d->N, K = (int)d->K;
    for (int64_t t = i; t < j->ntasks; t += n) {
        int64_t oa, ob;
        mm_offsets(d, t, &oa, &ob);
        sk_sgemm_small(M, N, K, j->a + oa * M * K, K, j->b + ob * K * N, N, j->c + t * M * N, N);
    }
}

sk_status sk_kern_MATMUL(sk_kctx *k)
{
    mm_dims d;
    sk_status st = mm_plan(k, &d);
    if (st) return st;
    const float *a = k->in[0]->data, *b = k->in[1]->data;
    float *c = k->out[0]->data;
    int64_t M = d.M, N = d.N, K = d.K;
    if (d.nbatch == 0 || M == 0 || N == 0) return SK_OK;
    if (K == 0) { memset(c, 0, (size_t)(d.nbatch * M * N) * sizeof(float)); return SK_OK; }
    if (d.nb == 1) {
        /* B shared by every product: stack A's products into one [nbatch·M, K] operand */
        if (d.nbatch * M > 0x7fffffff) return sk_kerr(k, SK_ERR_UNSUPPORTED, "too many rows for BLAS");
        sk_sgemm_pool(k->pool, false, false, (int)(d.nbatch * M), (int)N, (int)K, 1.0f, a, (int)K, b, (int)N, 0.0f, c,
                      (int)N);
        return SK_OK;
    }
    if (M * N * K <= SMALL_MACS && sk_pool_size(k->pool) > 1 && d.nbatch >= sk_pool_size(k->pool)) {
        mm_job j = { &d, a, b, c, d.nbatch };
        sk_pool_run(k->pool, mm_small, &j);
        return SK_OK;
    }
    for (int64_t t = 0; t < d.nbatch; t++) {
        int64_t oa, ob;
        mm_offsets(&d, t, &oa, &ob);
        sk_sgemm(false, false, (int)M, (int)N, (int)K, 1.0f, a + oa * M * K, (int)K, b + ob * K * N, (int)N, 0.0f,
                 c + t * M * N, (int)N);
    }
    return SK_OK;
}

/* ---- Gemm: Y = alpha·A'·B' + beta·C, A' = transA ? Aᵀ : A ---- */
static sk_status gemm_dims(const sk_kctx *k, int64_t *M, int64_t *N, int64_t *K)
{
    const sk_rtensor *a = k->in[0], *b = k->in[1];
    bool ta = sk_node_attr_i(k->node, "transA", 0) != 0, tb = sk_node_attr_i(k->node, "transB", 0) != 0;
    *M = ta ? a->dims[1] : a->dims[0];
    *K = ta ? a->dims[0] : a->dims[1];
    *N = tb ? b->dims[0] : b->dims[1];
    int64_t kb = tb ? b->dims[1] : b->dims[0];
    if (kb != *K)
        return sk_kerr(k, SK_ERR_INVALID, "inner dims differ: A' has K=%lld, B' has K=%lld", (long long)*K,
                       (long long)kb);
    return SK_OK;
}

sk_status sk_shape_GEMM(sk_kctx *k)
{
    sk_status st;
    if ((st = sk_kcheck_input(k, 0, SK_DT_F32, 2, 2)) || (st = sk_kcheck_input(k, 1, SK_DT_F32, 2, 2))) return st;
    int64_t M, N, K;
    if ((st = gemm_dims(k, &M, &N, &K))) return st;
    const sk_rtensor *c = k->n_in > 2 ? k->in[2] : NULL;
    if (c) {
        if ((st = sk_kcheck_input(k, 2, SK_DT_F32, 0, 2))) return st;
        /* C must broadcast one way to [M, N] */
        int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        if ((cm != 1 && cm != M) || (cn != 1 && cn != N))
            return sk_kerr(k, SK_ERR_INVALID, "C of shape [%lld, %lld] does not broadcast to [%lld, %lld]",
                           (long long)cm, (long long)cn, (long long)M, (long long)N);
    }
    int64_t dims[2] = { M, N };
    sk_rt_set_shape(k->out[0], SK_DT_F32, 2, dims);
    return SK_OK;
}

sk_status sk_kern_GEMM(sk_kctx *k)
{
    int64_t M, N, K;
    sk_status st = gemm_dims(k, &M, &N, &K);
    if (st) return st;
    bool ta = sk_node_attr_i(k->node, "transA", 0) != 0, tb = sk_node_attr_i(k->node, "transB", 0) != 0;
    float alpha = sk_node_attr_f(k->node, "alpha", 1.0f), beta = sk_node_attr_f(k->node, "beta", 1.0f);
    const sk_rtensor *c = k->n_in > 2 ? k->in[2] : NULL;
    float *y = k->out[0]->data;
    if (M == 0 || N == 0) return SK_OK;
    float bblas = 0.0f;
    if (c && beta != 0.0f) {
        const float *cd = c->data;
        int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) y[i * N + j] = beta * cd[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
        bblas = 1.0f;
    }
    if (K == 0) {
        if (bblas == 0.0f) memset(y, 0, (size_t)(M * N) * sizeof(float));
        return SK_OK;
    }
    const sk_rtensor *a = k->in[0], *b = k->in[1];
    sk_sgemm(ta, tb, (int)M, (int)N, (int)K, alpha, a->data, (int)a->dims[1], b->data, (int)b->dims[1], bblas, y,
             (int)N);
    return SK_OK;
}

/* ---- LINEAR(x, W, b?): y = act(x·Wᵀ + b); W [N, K] (wt = 1) or [K, N] (wt = 0) ---- */
static sk_status linear_attrs(const sk_kctx *k, bool *wt, sk_act *act)
{
    int64_t w = sk_node_attr_i(k->node, "wt", 1);
    if (w != 0 && w != 1) return sk_kerr(k, SK_ERR_INVALID, "attribute wt is %lld (expected 0 or 1)", (long long)w);
    *wt = w == 1;
    const char *a = sk_node_attr_s(k->node, "act", "");
    if (!sk_act_parse(a, act) || *act == SK_ACT_SIGMOID)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "activation '%s' (expected \"\", relu, gelu, gelu_tanh or tanh)", a);
    return SK_OK;
}

sk_status sk_shape_LINEAR(sk_kctx *k)
{
    sk_status st;
    bool wt;
    sk_act act;
    if ((st = linear_attrs(k, &wt, &act))) return st;
    if (sk_qlinear_is(k)) return sk_qlinear_shape(k);
    if ((st = sk_kcheck_input(k, 0, SK_DT_F32, 1, SK_MAX_RANK)) || (st = sk_kcheck_input(k, 1, SK_DT_F32, 2, 2)))
        return st;
    const sk_rtensor *x = k->in[0], *w = k->in[1], *b = k->n_in > 2 ? k->in[2] : NULL;
    int64_t K = x->dims[x->rank - 1];
    int64_t wk = wt ? w->dims[1] : w->dims[0], N = wt ? w->dims[0] : w->dims[1];
    if (wk != K)
        return sk_kerr(k, SK_ERR_INVALID, "x has %lld features but W [%lld, %lld] (wt=%d) expects %lld", (long long)K,
                       (long long)w->dims[0], (long long)w->dims[1], wt, (long long)wk);
    if (b) {
        if ((st = sk_kcheck_input(k, 2, SK_DT_F32, 1, 2))) return st;
        if (sk_rt_numel(b) != N || b->dims[b->rank - 1] != N)
            return sk_kerr(k, SK_ERR_INVALID, "bias has %lld values, expected %lld", (long long)sk_rt_numel(b),
                           (long long)N);
    }
    if (sk_rt_numel(x) / (K ? K : 1) > 0x7fffffff) return sk_kerr(k, SK_ERR_UNSUPPORTED, "too many rows for BLAS");
    int64_t dims[SK_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[x->rank - 1] = N;
    sk_rt_set_shape(k->out[0], SK_DT_F32, x->rank, dims);
    return SK_OK;
}

typedef struct { float *y; const float *b; int64_t N; sk_act act; } epi_job;

static void linear_epilogue(void *ctx, int64_t lo, int64_t hi)
{
    const epi_job *j = ctx;
    for (int64_t r = lo; r < hi; r++) sk_bias_act_f32(j->y + r * j->N, j->y + r * j->N, j->b, j->N, j->act);
}

/* How this node multiplies by its weight, decided on its first run and kept
 * in its state: NULL (W not a constant f32 matrix, or no state: a trainer's
 * weights change under it) means BLAS on W as it is. */
static sk_status linear_weight(sk_kctx *k, bool wt, const sk_linw **out)
{
    const sk_rtensor *w = k->in[1];
    *out = NULL;
    if (!k->state || !w->is_const || w->dtype != SK_DT_F32 || w->rank != 2 || !w->data) return SK_OK;
    int64_t N = wt ? w->dims[0] : w->dims[1], K = wt ? w->dims[1] : w->dims[0];
    if (!*k->state) {
        sk_linw *d = NULL;
        if (sk_spmat_pays(w->data, N, K)) d = (sk_linw *)sk_spmat_pack(w->data, N, K, wt);
        else if (!(d = (sk_linw *)sk_packw_new(w->data, N, K, wt)) && (d = sk_calloc(1, sizeof *d)))
            d->kind = SK_LINW_BLAS;
        if (!d) return sk_kerr(k, SK_ERR_NOMEM, "no memory for the packed weight [%lld, %lld]", (long long)N,
                               (long long)K);
        *k->state = d;
    }
    *out = *k->state;
    return SK_OK;
}

sk_status sk_kern_LINEAR(sk_kctx *k)
{
    bool wt;
    sk_act act;
    sk_status st = linear_attrs(k, &wt, &act);
    if (st) return st;
    if (sk_qlinear_is(k)) return sk_qlinear_kern(k, act);
    const sk_rtensor *x = k->in[0], *w = k->in[1], *b = k->n_in > 2 ? k->in[2] : NULL;
    int64_t K = x->dims[x->rank - 1], N = wt ? w->dims[0] : w->dims[1];
    int64_t M = K ? sk_rt_numel(x) / K : sk_rt_numel(k->out[0]) / (N ? N : 1);
    float *y = k->out[0]->data;
    if (M == 0 || N == 0) return SK_OK;
    const sk_linw *lw = NULL;
    if (K > 0 && (st = linear_weight(k, wt, &lw))) return st;
    if (K > 0 && lw && lw->kind == SK_LINW_PACKED) {
        sk_pgemm((const sk_packw *)lw, x->data, M, b ? b->data : NULL, act, y, k->pool);
        return SK_OK;
    }
    if (K == 0) memset(y, 0, (size_t)(M * N) * sizeof(float));
    else if (lw && lw->kind == SK_LINW_SPARSE && M >= SK_SPARSE_MIN_ROWS) {   /* a pruned W (sparse.c) */
        if ((st = sk_spmat_mul((const sk_spmat *)lw, x->data, M, y, k->pool))) return st;
    } else
        sk_sgemm_pool(k->pool, false, wt, (int)M, (int)N, (int)K, 1.0f, x->data, (int)K, w->data, wt ? (int)K : (int)N,
                      0.0f, y, (int)N);
    if (b || act != SK_ACT_NONE) {
        epi_job j = { y, b ? b->data : NULL, N, act };
        int64_t grain = 16384 / N + 1;   /* rows per thread: at least ~16k outputs */
        sk_kpar(k, M, grain, linear_epilogue, &j);
    }
    return SK_OK;
}
