/* grad.c — the backward function of each op a trainable model uses.
 *
 * x_backward reads the forward's inputs and outputs (kept on the tape by
 * tape.c) and the gradient of the outputs, and ADDS the gradient of each
 * input that needs one (gin[k] != NULL), so a tensor read by several nodes
 * collects all of its contributions.  Conventions match the forward kernels
 * (ir.h): LINEAR's W [N, K] when wt = 1 else [K, N]; ATTENTION's masking as
 * in attention.c (masked scores are constants, so they get no gradient);
 * LAYERNORM statistics over the last dims, in double.
 *
 * Products go to OpenBLAS through sk_sgemm_pool; attention runs one (batch,
 * head) per pool thread with the single-threaded small sgemm, as its
 * forward does.  Sums into parameters (bias, gamma, embedding rows) run in
 * one fixed order, so a step is bit-reproducible for a given thread count.
 *
 * Data-movement ops (Slice, Transpose, Expand, Concat) have no hand-written
 * backward: their forward kernel is run once more on element indices (i64)
 * instead of values, and the output gradient is scattered back through the
 * indices it produced, so the backward can never disagree with the forward.
 *
 * Conv, the pools and BatchNormalization are in grad_conv.c, LSTM / GRU /
 * RNN (backpropagation through time) in grad_rnn.c.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include "runtime/kernels/f32.h"
#include "train/train.h"

#define SQRT1_2 0.70710678118654752440
#define SQRT_2_PI 0.79788456080286535588
#define INV_SQRT_2PI 0.39894228040143267794

static int64_t numel(const sk_rtensor *t) { return sk_rt_numel(t); }

void sk_bctx_kctx(const sk_bctx *b, sk_kctx *k)
{
    memset(k, 0, sizeof *k);
    k->node = b->node;
    k->in = (sk_rtensor **)b->in;   /* read only: geometry and attribute helpers */
    k->n_in = b->n_in;
    k->out = (sk_rtensor **)b->out;
    k->n_out = b->n_out;
    k->pool = b->pool;
}

static void add_into(float *dst, const float *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

/* ---- activations: derivative at the pre-activation z (y = act(z)) ---- */
static float dact(sk_act act, float z, float y)
{
    switch (act) {
    case SK_ACT_NONE: return 1.0f;
    case SK_ACT_RELU: return z > 0 ? 1.0f : 0.0f;
    case SK_ACT_GELU: {
        double x = z;
        return (float)(0.5 * erfc(-x * SQRT1_2) + x * INV_SQRT_2PI * exp(-0.5 * x * x));
    }
    case SK_ACT_GELU_TANH: {
        double x = z, u = SQRT_2_PI * (x + 0.044715 * x * x * x), th = tanh(u);
        return (float)(0.5 * (1 + th) + 0.5 * x * (1 - th * th) * SQRT_2_PI * (1 + 3 * 0.044715 * x * x));
    }
    case SK_ACT_TANH: return 1.0f - y * y;
    case SK_ACT_SIGMOID: return y * (1.0f - y);
    }
    return 1.0f;
}

/* ---- LINEAR ---- */
static sk_status linear_attrs(const sk_node *n, bool *wt, sk_act *act)
{
    int64_t w = sk_node_attr_i(n, "wt", 1);
    const char *a = sk_node_attr_s(n, "act", "");
    if ((w != 0 && w != 1) || !sk_act_parse(a, act) || *act == SK_ACT_SIGMOID)
        return sk_err(SK_ERR_INVALID, "linear '%s': bad wt or act", n->name);
    *wt = w == 1;
    return SK_OK;
}

size_t sk_train_linear_aux(const sk_node *n, const sk_rtensor *y)
{
    const char *a = sk_node_attr_s(n, "act", "");
    return a[0] ? (size_t)numel(y) : 0;
}

typedef struct { float *y, *d; const float *b; int64_t N; sk_act act; } lin_epi;

/* y = act(y + b), d = act'(y + b), row by row */
static void linear_epi_rows(void *ctx, int64_t lo, int64_t hi)
{
    const lin_epi *j = ctx;
    for (int64_t r = lo; r < hi; r++) {
        float *y = j->y + r * j->N, *d = j->d + r * j->N;
        if (j->b)
            for (int64_t c = 0; c < j->N; c++) y[c] += j->b[c];
        memcpy(d, y, (size_t)j->N * sizeof(float));
        sk_bias_act_f32(y, y, NULL, j->N, j->act);
        for (int64_t c = 0; c < j->N; c++) d[c] = dact(j->act, d[c], y[c]);
    }
}

sk_status sk_train_linear_forward(sk_kctx *k, float *aux)
{
    if (!aux) return sk_kern_LINEAR(k);
    if (k->n_in > 3 && k->in[3]) return sk_kerr(k, SK_ERR_UNSUPPORTED, "quantized weights cannot be trained");
    bool wt;
    sk_act act;
    sk_status st = linear_attrs(k->node, &wt, &act);
    if (st) return st;
    const sk_rtensor *x = k->in[0], *w = k->in[1], *b = k->n_in > 2 ? k->in[2] : NULL;
    int64_t K = x->dims[x->rank - 1], N = wt ? w->dims[0] : w->dims[1];
    int64_t M = K ? numel(x) / K : numel(k->out[0]) / (N ? N : 1);
    float *y = k->out[0]->data;
    if (M == 0 || N == 0) return SK_OK;
    if (K == 0) memset(y, 0, (size_t)(M * N) * sizeof(float));
    else
        sk_sgemm_pool(k->pool, false, wt, (int)M, (int)N, (int)K, 1.0f, x->data, (int)K, w->data,
                      wt ? (int)K : (int)N, 0.0f, y, (int)N);
    lin_epi j = { y, aux, b ? b->data : NULL, N, act };
    sk_kpar(k, M, 8192 / N + 1, linear_epi_rows, &j);
    return SK_OK;
}

static sk_status linear_backward(sk_bctx *b)
{
    bool wt;
    sk_act act;
    sk_status st = linear_attrs(b->node, &wt, &act);
    if (st) return st;
    if (b->n_in > 3 && b->in[3]) return sk_err(SK_ERR_UNSUPPORTED, "quantized weights cannot be trained");
    const sk_rtensor *x = b->in[0], *w = b->in[1];
    int64_t K = x->dims[x->rank - 1], N = wt ? w->dims[0] : w->dims[1];
    int64_t M = K ? numel(x) / K : 0;
    const float *dy = b->gout[0];
    if (!dy || M == 0 || N == 0) return SK_OK;
    const float *dz = dy;
    float *tmp = NULL;
    if (act != SK_ACT_NONE) {
        if (!b->aux) return sk_err(SK_ERR_INVALID, "linear '%s': no saved activation derivative", b->node->name);
        tmp = sk_malloc((size_t)(M * N) * sizeof(float));
        if (!tmp) return SK_ERR_NOMEM;
        for (int64_t i = 0; i < M * N; i++) tmp[i] = dy[i] * b->aux[i];
        dz = tmp;
    }
    const float *X = x->data, *W = w->data;
    if (b->gin[0] && K) {   /* dX [M, K] += dZ [M, N] · W  (W [N, K]) or dZ · Wᵀ (W [K, N]) */
        if (wt) sk_sgemm_pool(b->pool, false, false, (int)M, (int)K, (int)N, 1.0f, dz, (int)N, W, (int)K, 1.0f, b->gin[0], (int)K);
        else sk_sgemm_pool(b->pool, false, true, (int)M, (int)K, (int)N, 1.0f, dz, (int)N, W, (int)N, 1.0f, b->gin[0], (int)K);
    }
    if (b->gin[1] && K) {   /* dW [N, K] += dZᵀ · X, or [K, N] += Xᵀ · dZ */
        if (wt) sk_sgemm_pool(b->pool, true, false, (int)N, (int)K, (int)M, 1.0f, dz, (int)N, X, (int)K, 1.0f, b->gin[1], (int)K);
        else sk_sgemm_pool(b->pool, true, false, (int)K, (int)N, (int)M, 1.0f, X, (int)K, dz, (int)N, 1.0f, b->gin[1], (int)N);
    }
    if (b->n_in > 2 && b->gin[2]) {
        float *db = b->gin[2];
        for (int64_t r = 0; r < M; r++) add_into(db, dz + r * N, N);
    }
    sk_free(tmp);
    return SK_OK;
}

/* ---- ATTENTION ---- */
typedef struct {
    int64_t B, S, T, H, heads, hd, off;
    float scale;
    bool causal;
    const float *q, *k, *v, *dout;
    const sk_rtensor *mask;
    float *dq, *dk, *dv;
    float *ws;               /* per worker: P, dP [S, T], tr [T, S], tmp [max(S, T), hd], allow [T] */
    size_t slot;             /* floats per worker */
    int nw;
} attn_bj;

static bool mask_nz(const sk_rtensor *m, int64_t i)
{
    switch (m->dtype) {
    case SK_DT_I64: return ((const int64_t *)m->data)[i] != 0;
    case SK_DT_I32: return ((const int32_t *)m->data)[i] != 0;
    case SK_DT_F32: return ((const float *)m->data)[i] != 0.0f;
    case SK_DT_I8: return ((const int8_t *)m->data)[i] != 0;
    default: return ((const uint8_t *)m->data)[i] != 0;
    }
}

static void attn_bwd_head(const attn_bj *j, int64_t b, int64_t h, float *ws)
{
    int64_t S = j->S, T = j->T, H = j->H, hd = j->hd, mx = S > T ? S : T;
    float *P = ws, *dP = P + S * T, *tr = dP + S * T, *tmp = tr + S * T;
    float *allow = tmp + mx * hd;
    const float *q = j->q + b * S * H + h * hd, *K = j->k + b * T * H + h * hd, *V = j->v + b * T * H + h * hd;
    const float *dO = j->dout + b * S * H + h * hd;
    for (int64_t t = 0; t < T; t++) allow[t] = !j->mask || mask_nz(j->mask, b * T + t);
    /* scores and probabilities, exactly as the forward */
    sk_sgemm_small_bt((int)S, (int)T, (int)hd, j->scale, q, (int)H, K, (int)H, P, (int)T);
    for (int64_t i = 0; i < S; i++) {
        float *row = P + i * T;
        int64_t lim = j->causal ? j->off + i : T - 1;
        if (lim < -1) lim = -1;
        if (j->mask) {
            for (int64_t t = 0; t <= lim && t < T; t++) if (allow[t] == 0) row[t] = -FLT_MAX;
            for (int64_t t = lim + 1; t < T; t++) row[t] = allow[t] != 0 ? -FLT_MAX : -INFINITY;
        } else {
            for (int64_t t = lim + 1; t < T; t++) row[t] = -FLT_MAX;
        }
        sk_softmax_f32(row, T);
    }
    /* dP = dO · Vᵀ;  dS = P ⊙ (dP − Σ dP⊙P), zero where the score was a mask constant */
    sk_sgemm_small_bt((int)S, (int)T, (int)hd, 1.0f, dO, (int)H, V, (int)H, dP, (int)T);
    for (int64_t i = 0; i < S; i++) {
        float *p = P + i * T, *d = dP + i * T;
        double s = 0;
        for (int64_t t = 0; t < T; t++) s += (double)d[t] * p[t];
        int64_t lim = j->causal ? j->off + i : T - 1;
        for (int64_t t = 0; t < T; t++) {
            bool masked = t > lim || allow[t] == 0;
            d[t] = masked ? 0.0f : p[t] * (d[t] - (float)s);
        }
    }
    /* dQ += scale · dS · K */
    sk_sgemm_small((int)S, (int)hd, (int)T, dP, (int)T, K, (int)H, tmp, (int)hd);
    for (int64_t i = 0; j->dq && i < S; i++)
        for (int64_t c = 0; c < hd; c++) j->dq[(b * S + i) * H + h * hd + c] += j->scale * tmp[i * hd + c];
    /* dK += scale · dSᵀ · Q */
    if (j->dk) {
        for (int64_t i = 0; i < S; i++)
            for (int64_t t = 0; t < T; t++) tr[t * S + i] = dP[i * T + t];
        sk_sgemm_small((int)T, (int)hd, (int)S, tr, (int)S, q, (int)H, tmp, (int)hd);
        for (int64_t t = 0; t < T; t++)
            for (int64_t c = 0; c < hd; c++) j->dk[(b * T + t) * H + h * hd + c] += j->scale * tmp[t * hd + c];
    }
    /* dV += Pᵀ · dO */
    if (j->dv) {
        for (int64_t i = 0; i < S; i++)
            for (int64_t t = 0; t < T; t++) tr[t * S + i] = P[i * T + t];
        sk_sgemm_small((int)T, (int)hd, (int)S, tr, (int)S, dO, (int)H, tmp, (int)hd);
        for (int64_t t = 0; t < T; t++)
            for (int64_t c = 0; c < hd; c++) j->dv[(b * T + t) * H + h * hd + c] += tmp[t * hd + c];
    }
}

static void attn_bwd_worker(void *ctx, int i, int n)
{
    const attn_bj *j = ctx;
    (void)n;
    if (i >= j->nw) return;
    for (int64_t task = i; task < j->B * j->heads; task += j->nw)
        attn_bwd_head(j, task / j->heads, task % j->heads, j->ws + (size_t)i * j->slot);
}

static sk_status attention_backward(sk_bctx *b)
{
    const sk_rtensor *q = b->in[0], *k = b->in[1];
    attn_bj j;
    memset(&j, 0, sizeof j);
    j.B = q->dims[0];
    j.S = q->dims[1];
    j.H = q->dims[2];
    j.T = k->dims[1];
    j.heads = sk_node_attr_i(b->node, "num_heads", 0);
    if (j.heads <= 0 || j.H % j.heads) return sk_err(SK_ERR_INVALID, "bad num_heads");
    j.hd = j.H / j.heads;
    float scale = sk_node_attr_f(b->node, "scale", 0.0f);
    j.scale = scale != 0.0f ? scale : (float)(1.0 / sqrt((double)j.hd));
    j.causal = sk_node_attr_i(b->node, "causal", 0) != 0;
    j.off = j.T - j.S;
    j.q = q->data;
    j.k = k->data;
    j.v = b->in[2]->data;
    j.mask = b->n_in > 3 ? b->in[3] : NULL;
    if (j.mask && (j.mask->rank != 2 || j.mask->dims[1] != j.T))
        return sk_err(SK_ERR_UNSUPPORTED, "mask must be [B, T] for training");
    j.dout = b->gout[0];
    j.dq = b->gin[0];
    j.dk = b->gin[1];
    j.dv = b->gin[2];
    if (!j.dout || j.B * j.S * j.H == 0 || j.T == 0) return SK_OK;
    int64_t mx = j.S > j.T ? j.S : j.T;
    j.slot = (size_t)((3 * j.S * j.T + mx * j.hd + j.T + 15) & ~(int64_t)15);
    j.nw = sk_pool_size(b->pool);
    if (j.nw > j.B * j.heads) j.nw = (int)(j.B * j.heads);
    j.ws = sk_malloc(j.slot * (size_t)j.nw * sizeof(float));
    if (!j.ws) return SK_ERR_NOMEM;
    if (j.nw == 1) attn_bwd_worker(&j, 0, 1);
    else sk_pool_run(b->pool, attn_bwd_worker, &j);
    sk_free(j.ws);
    return SK_OK;
}

/* ---- LAYERNORM and SKIP_LAYERNORM ---- */
/* u = x + skip + bias (skip rows broadcast by modulo, skip/bias may be NULL);
 * y = (u − mean)·rstd·g + beta.  Adds du into dx and dskip (either may be
 * NULL), Σ du into dbias, and the gamma / beta gradients. */
static sk_status ln_backward_rows(const float *x, const float *skip, int64_t skip_rows, const float *bias,
                                  const float *g, const float *dy, int64_t rows, int64_t D, double eps, float *dx,
                                  float *dskip, float *dbias, float *dg, float *dbeta)
{
    double *u = sk_malloc((size_t)(2 * D) * sizeof *u);
    if (!u) return SK_ERR_NOMEM;
    double *dxh = u + D;
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * D, *dyr = dy + r * D;
        const float *sr = skip ? skip + (r % skip_rows) * D : NULL;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < D; i++) {
            /* the forward adds in float, in this order */
            float v = xr[i];
            if (sr) v = bias ? v + sr[i] + bias[i] : v + sr[i];
            u[i] = v;
            mean += v;
        }
        mean /= (double)D;
        for (int64_t i = 0; i < D; i++) var += (u[i] - mean) * (u[i] - mean);
        var /= (double)D;
        double rstd = 1.0 / sqrt(var + eps), m1 = 0, m2 = 0;
        for (int64_t i = 0; i < D; i++) {
            double xh = (u[i] - mean) * rstd;
            dxh[i] = (double)dyr[i] * g[i];
            m1 += dxh[i];
            m2 += dxh[i] * xh;
            if (dg) dg[i] += (float)((double)dyr[i] * xh);
            if (dbeta) dbeta[i] += dyr[i];
            u[i] = xh;
        }
        m1 /= (double)D;
        m2 /= (double)D;
        for (int64_t i = 0; i < D; i++) {
            float du = (float)(rstd * (dxh[i] - m1 - u[i] * m2));
            if (dx) dx[r * D + i] += du;
            if (dskip) dskip[(r % skip_rows) * D + i] += du;
            if (dbias) dbias[i] += du;
        }
    }
    sk_free(u);
    return SK_OK;
}

static sk_status layernorm_backward(sk_bctx *b)
{
    const sk_rtensor *x = b->in[0];
    int64_t axis = sk_node_attr_i(b->node, "axis", -1);
    if (!sk_norm_axis(&axis, x->rank)) return sk_err(SK_ERR_INVALID, "bad axis");
    int64_t D = 1;
    for (int i = (int)axis; i < x->rank; i++) D *= x->dims[i];
    if (!b->gout[0] || D == 0) return SK_OK;
    return ln_backward_rows(x->data, NULL, 1, NULL, b->in[1]->data, b->gout[0], numel(x) / D, D,
                            sk_node_attr_f(b->node, "epsilon", 1e-5f), b->gin[0], NULL, NULL, b->gin[1],
                            b->n_in > 2 ? b->gin[2] : NULL);
}

static sk_status skip_layernorm_backward(sk_bctx *b)
{
    const sk_rtensor *x = b->in[0], *s = b->in[1];
    int64_t D = x->dims[x->rank - 1];
    if (!b->gout[0] || D == 0) return SK_OK;
    const sk_rtensor *bias = b->n_in > 4 ? b->in[4] : NULL;
    return ln_backward_rows(x->data, s->data, numel(s) / D, bias ? bias->data : NULL, b->in[2]->data, b->gout[0],
                            numel(x) / D, D, sk_node_attr_f(b->node, "epsilon", 1e-5f), b->gin[0], b->gin[1],
                            b->n_in > 4 ? b->gin[4] : NULL, b->gin[2], b->n_in > 3 ? b->gin[3] : NULL);
}

/* ---- GATHER: scatter-add into the rows of the data ---- */
static sk_status gather_backward(sk_bctx *b)
{
    const sk_rtensor *x = b->in[0], *ix = b->in[1];
    float *dx = b->gin[0];
    const float *dy = b->gout[0];
    if (!dx || !dy) return SK_OK;
    int64_t axis = sk_node_attr_i(b->node, "axis", 0);
    if (!sk_norm_axis(&axis, x->rank)) return sk_err(SK_ERR_INVALID, "bad axis");
    int64_t outer = 1, inner = 1, dim = x->dims[axis], ni = numel(ix);
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = (int)axis + 1; d < x->rank; d++) inner *= x->dims[d];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < ni; i++) {
            int64_t v = sk_rt_get_i(ix, i);
            if (v < 0) v += dim;
            if (v < 0 || v >= dim) return sk_err(SK_ERR_INVALID, "index %lld out of range", (long long)v);
            add_into(dx + (o * dim + v) * inner, dy + (o * ni + i) * inner, inner);
        }
    return SK_OK;
}

/* ---- SPLIT / views ---- */
static sk_status split_backward(sk_bctx *b)
{
    const sk_rtensor *x = b->in[0];
    float *dx = b->gin[0];
    if (!dx) return SK_OK;
    int64_t axis = sk_node_attr_i(b->node, "axis", 0);
    if (!sk_norm_axis(&axis, x->rank)) return sk_err(SK_ERR_INVALID, "bad axis");
    int64_t outer = 1, inner = 1, dim = x->dims[axis];
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = (int)axis + 1; d < x->rank; d++) inner *= x->dims[d];
    int64_t off = 0;
    for (int k = 0; k < b->n_out; k++) {
        if (!b->out[k]) continue;
        int64_t sz = b->out[k]->dims[axis];
        if (b->gout[k])
            for (int64_t o = 0; o < outer; o++)
                add_into(dx + (o * dim + off) * inner, b->gout[k] + o * sz * inner, sz * inner);
        off += sz;
    }
    return SK_OK;
}

static sk_status view_backward(sk_bctx *b)
{
    if (b->gin[0] && b->gout[0]) add_into(b->gin[0], b->gout[0], numel(b->out[0]));
    return SK_OK;
}

/* ---- data movement through indices ---- */
#define IDX_BITS 40

static sk_status move_backward(sk_bctx *b)
{
    const float *dy = b->gout[0];
    if (!dy) return SK_OK;
    int n_in = b->n_in;
    sk_rtensor tin[16], tout, *pin[16], *pout[1];
    if (n_in > 16) return sk_err(SK_ERR_UNSUPPORTED, "too many inputs");
    sk_status st = SK_OK;
    int64_t *bufs[17] = {0};
    for (int k = 0; k < n_in; k++) {
        pin[k] = NULL;
        if (!b->in[k]) continue;
        tin[k] = *b->in[k];
        pin[k] = &tin[k];
        if (tin[k].dtype != SK_DT_F32) continue;
        int64_t n = numel(&tin[k]);
        if (n >= (int64_t)1 << IDX_BITS) return sk_err(SK_ERR_UNSUPPORTED, "tensor too large");
        bufs[k] = sk_malloc((size_t)(n ? n : 1) * sizeof(int64_t));
        if (!bufs[k]) { st = SK_ERR_NOMEM; goto done; }
        for (int64_t e = 0; e < n; e++) bufs[k][e] = ((int64_t)(k + 1) << IDX_BITS) | e;
        tin[k].dtype = SK_DT_I64;
        tin[k].data = bufs[k];
        tin[k].nbytes = (size_t)n * sizeof(int64_t);
    }
    tout = *b->out[0];
    int64_t no = numel(&tout);
    bufs[16] = sk_calloc((size_t)(no ? no : 1), sizeof(int64_t));
    if (!bufs[16]) { st = SK_ERR_NOMEM; goto done; }
    tout.dtype = SK_DT_I64;
    tout.data = bufs[16];
    tout.nbytes = (size_t)no * sizeof(int64_t);
    pout[0] = &tout;
    sk_kctx k;
    memset(&k, 0, sizeof k);
    k.node = b->node;
    k.in = pin;
    k.n_in = n_in;
    k.out = pout;
    k.n_out = 1;
    k.pool = b->pool;
    if ((st = sk_shape_table[b->node->op](&k))) goto done;
    if (k.scratch_need) { st = sk_err(SK_ERR_UNSUPPORTED, "needs scratch"); goto done; }
    tout.data = bufs[16];
    if (numel(&tout) != no) { st = sk_err(SK_ERR_INVALID, "index replay changed the shape"); goto done; }
    if ((st = sk_kern_table[b->node->op](&k))) goto done;
    for (int64_t o = 0; o < no; o++) {
        int64_t v = bufs[16][o];
        int kin = (int)(v >> IDX_BITS) - 1;
        if (kin < 0 || kin >= n_in || !b->gin[kin] || !bufs[kin]) continue;
        b->gin[kin][v & (((int64_t)1 << IDX_BITS) - 1)] += dy[o];
    }
done:
    for (int i = 0; i < 17; i++) sk_free(bufs[i]);
    return st;
}

/* ---- elementwise binary ops with numpy broadcasting ---- */
/* element strides of x read as out's shape (0 along broadcast dims) */
static void bstrides(const sk_rtensor *x, const sk_rtensor *out, int64_t *st)
{
    int64_t s = 1;
    for (int d = out->rank - 1; d >= 0; d--) {
        int xd = d - (out->rank - x->rank);
        int64_t dim = xd >= 0 ? x->dims[xd] : 1;
        st[d] = dim == 1 ? 0 : s;
        s *= dim;
    }
}

static sk_status binary_backward(sk_bctx *b)
{
    const sk_rtensor *A = b->in[0], *Bt = b->in[1], *Y = b->out[0];
    const float *dy = b->gout[0];
    if (!dy) return SK_OK;
    if (A->dtype != SK_DT_F32 || Bt->dtype != SK_DT_F32) return SK_OK;
    float *da = b->gin[0], *db = b->gin[1];
    const float *a = A->data, *bb = Bt->data;
    sk_op op = b->node->op;
    int64_t n = numel(Y);
    if (numel(A) == n && numel(Bt) == n && A->rank == Y->rank && Bt->rank == Y->rank) {
        for (int64_t i = 0; i < n; i++) {
            float g = dy[i];
            switch (op) {
            case SK_OP_ADD: if (da) da[i] += g; if (db) db[i] += g; break;
            case SK_OP_SUB: if (da) da[i] += g; if (db) db[i] -= g; break;
            case SK_OP_MUL: if (da) da[i] += g * bb[i]; if (db) db[i] += g * a[i]; break;
            default: if (da) da[i] += g / bb[i]; if (db) db[i] -= g * a[i] / (bb[i] * bb[i]); break;
            }
        }
        return SK_OK;
    }
    int64_t sa[SK_MAX_RANK], sb[SK_MAX_RANK], idx[SK_MAX_RANK] = {0};
    bstrides(A, Y, sa);
    bstrides(Bt, Y, sb);
    int64_t ia = 0, ib = 0;
    for (int64_t i = 0; i < n; i++) {
        float g = dy[i], av = a[ia], bv = bb[ib];
        switch (op) {
        case SK_OP_ADD: if (da) da[ia] += g; if (db) db[ib] += g; break;
        case SK_OP_SUB: if (da) da[ia] += g; if (db) db[ib] -= g; break;
        case SK_OP_MUL: if (da) da[ia] += g * bv; if (db) db[ib] += g * av; break;
        default: if (da) da[ia] += g / bv; if (db) db[ib] -= g * av / (bv * bv); break;
        }
        for (int d = Y->rank - 1; d >= 0; d--) {   /* next multi-index */
            ia += sa[d];
            ib += sb[d];
            if (++idx[d] < Y->dims[d]) break;
            ia -= sa[d] * Y->dims[d];
            ib -= sb[d] * Y->dims[d];
            idx[d] = 0;
        }
    }
    return SK_OK;
}

/* ---- unary ---- */
static sk_status unary_backward(sk_bctx *b)
{
    const float *dy = b->gout[0], *x = b->in[0]->data, *y = b->out[0]->data;
    float *dx = b->gin[0];
    if (!dy || !dx) return SK_OK;
    int64_t n = numel(b->out[0]);
    sk_act act = SK_ACT_NONE;
    if (b->node->op == SK_OP_GELU) {
        const char *a = sk_node_attr_s(b->node, "approximate", "none");
        act = !strcmp(a, "tanh") ? SK_ACT_GELU_TANH : SK_ACT_GELU;
    }
    for (int64_t i = 0; i < n; i++) {
        float d;
        switch (b->node->op) {
        case SK_OP_RELU: d = x[i] > 0 ? 1.0f : 0.0f; break;
        case SK_OP_TANH: d = 1.0f - y[i] * y[i]; break;
        case SK_OP_SIGMOID: d = y[i] * (1.0f - y[i]); break;
        case SK_OP_EXP: d = y[i]; break;
        case SK_OP_NEG: d = -1.0f; break;
        case SK_OP_SQRT: d = 0.5f / y[i]; break;
        case SK_OP_LOG: d = 1.0f / x[i]; break;
        case SK_OP_RECIPROCAL: d = -y[i] * y[i]; break;
        default: d = dact(act, x[i], y[i]); break;
        }
        dx[i] += dy[i] * d;
    }
    return SK_OK;
}

/* ---- SOFTMAX along one axis: dx = y ⊙ (dy − Σ dy⊙y) ---- */
static sk_status softmax_backward(sk_bctx *b)
{
    const sk_rtensor *x = b->in[0];
    const float *dy = b->gout[0], *y = b->out[0]->data;
    float *dx = b->gin[0];
    if (!dy || !dx) return SK_OK;
    bool old = sk_node_attr_i(b->node, "opset", 13) < 13;
    int64_t a = sk_node_attr_i(b->node, "axis", old ? 1 : -1);
    if (!sk_norm_axis(&a, x->rank)) return sk_err(SK_ERR_INVALID, "bad axis");
    int64_t outer = 1, n = 1, inner = 1;
    for (int d = 0; d < x->rank; d++) {
        if (d < a) outer *= x->dims[d];
        else if (d == a || old) n *= x->dims[d];
        else inner *= x->dims[d];
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            int64_t base = o * n * inner + in;
            double s = 0;
            for (int64_t i = 0; i < n; i++) s += (double)dy[base + i * inner] * y[base + i * inner];
            for (int64_t i = 0; i < n; i++) {
                int64_t e = base + i * inner;
                dx[e] += y[e] * (dy[e] - (float)s);
            }
        }
    return SK_OK;
}

/* ---- REDUCE_MEAN / REDUCE_SUM: each input element gets its output's gradient (÷ count for the mean) ---- */
static sk_status reduce_backward(sk_bctx *b)
{
    const sk_rtensor *x = b->in[0];
    const float *dy = b->gout[0];
    float *dx = b->gin[0];
    if (!dy || !dx || x->dtype != SK_DT_F32) return SK_OK;
    sk_kctx k;
    sk_bctx_kctx(b, &k);
    bool red[SK_MAX_RANK], noop;
    sk_status st = sk_reduce_axes(&k, red, &noop);
    if (st) return st;
    int64_t n = numel(x), nout = numel(b->out[0]);
    if (noop) { add_into(dx, dy, n); return SK_OK; }
    if (nout == 0 || n == 0) return SK_OK;
    float scale = b->node->op == SK_OP_REDUCE_MEAN ? (float)(1.0 / (double)(n / nout)) : 1.0f;
    int64_t ost[SK_MAX_RANK], idx[SK_MAX_RANK] = {0}, s = 1, io = 0;
    for (int d = x->rank - 1; d >= 0; d--) {   /* output strides in x's index space, 0 on reduced dims */
        ost[d] = red[d] ? 0 : s;
        if (!red[d]) s *= x->dims[d];
    }
    for (int64_t i = 0; i < n; i++) {
        dx[i] += dy[io] * scale;
        for (int d = x->rank - 1; d >= 0; d--) {
            io += ost[d];
            if (++idx[d] < x->dims[d]) break;
            io -= ost[d] * x->dims[d];
            idx[d] = 0;
        }
    }
    return SK_OK;
}

/* ---- MATMUL (2-D, or batched with equal batch dims / a 2-D right operand) ---- */
static sk_status matmul_backward(sk_bctx *b)
{
    const sk_rtensor *A = b->in[0], *Bm = b->in[1];
    const float *dy = b->gout[0];
    if (!dy) return SK_OK;
    if (A->rank < 2 || Bm->rank < 2) return sk_err(SK_ERR_UNSUPPORTED, "MatMul backward needs rank ≥ 2 operands");
    int64_t M = A->dims[A->rank - 2], K = A->dims[A->rank - 1], N = Bm->dims[Bm->rank - 1];
    int64_t mk = M * K, kn = K * N;
    int64_t na = numel(A) / (mk > 0 ? mk : 1), nb = numel(Bm) / (kn > 0 ? kn : 1);
    if (nb != 1 && nb != na) return sk_err(SK_ERR_UNSUPPORTED, "MatMul backward: broadcast batch dims");
    if (nb == 1 && na > 1) {   /* fold A's batch into rows */
        M *= na;
        na = 1;
    }
    const float *a = A->data, *bm = Bm->data;
    for (int64_t i = 0; i < na; i++) {
        const float *ai = a + i * M * K, *bi = bm + i * K * N, *gi = dy + i * M * N;
        if (b->gin[0])
            sk_sgemm_pool(b->pool, false, true, (int)M, (int)K, (int)N, 1.0f, gi, (int)N, bi, (int)N, 1.0f,
                          b->gin[0] + i * M * K, (int)K);
        if (b->gin[1])
            sk_sgemm_pool(b->pool, true, false, (int)K, (int)N, (int)M, 1.0f, ai, (int)K, gi, (int)N, 1.0f,
                          b->gin[1] + i * K * N, (int)N);
    }
    return SK_OK;
}

/* ---- GEMM: Y = alpha·op(A)·op(B) + beta·C ---- */
static sk_status gemm_backward(sk_bctx *b)
{
    const sk_rtensor *A = b->in[0], *Bm = b->in[1], *C = b->n_in > 2 ? b->in[2] : NULL;
    const float *dy = b->gout[0];
    if (!dy) return SK_OK;
    bool ta = sk_node_attr_i(b->node, "transA", 0) != 0, tb = sk_node_attr_i(b->node, "transB", 0) != 0;
    float alpha = sk_node_attr_f(b->node, "alpha", 1.0f), beta = sk_node_attr_f(b->node, "beta", 1.0f);
    int64_t M = ta ? A->dims[1] : A->dims[0], K = ta ? A->dims[0] : A->dims[1];
    int64_t N = tb ? Bm->dims[0] : Bm->dims[1];
    if (b->gin[0]) {   /* dA = alpha·dY·op(B)ᵀ, transposed back when ta */
        if (!ta) sk_sgemm_pool(b->pool, false, !tb, (int)M, (int)K, (int)N, alpha, dy, (int)N, Bm->data,
                               (int)Bm->dims[1], 1.0f, b->gin[0], (int)K);
        else sk_sgemm_pool(b->pool, tb, true, (int)K, (int)M, (int)N, alpha, Bm->data, (int)Bm->dims[1], dy, (int)N,
                           1.0f, b->gin[0], (int)M);
    }
    if (b->gin[1]) {   /* dB = alpha·op(A)ᵀ·dY, transposed back when tb */
        if (!tb) sk_sgemm_pool(b->pool, !ta, false, (int)K, (int)N, (int)M, alpha, A->data, (int)A->dims[1], dy,
                               (int)N, 1.0f, b->gin[1], (int)N);
        else sk_sgemm_pool(b->pool, true, ta, (int)N, (int)K, (int)M, alpha, dy, (int)N, A->data, (int)A->dims[1],
                           1.0f, b->gin[1], (int)K);
    }
    if (C && b->gin[2] && beta != 0.0f) {
        int64_t cm = C->rank == 2 ? C->dims[0] : 1, cn = C->rank >= 1 ? C->dims[C->rank - 1] : 1;
        for (int64_t i = 0; i < M; i++)
            for (int64_t jx = 0; jx < N; jx++)
                b->gin[2][(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : jx)] += beta * dy[i * N + jx];
    }
    return SK_OK;
}

sk_bwd_fn sk_grad_fn(sk_op op)
{
    switch (op) {
    case SK_OP_LINEAR: return linear_backward;
    case SK_OP_ATTENTION: return attention_backward;
    case SK_OP_LAYERNORM: return layernorm_backward;
    case SK_OP_SKIP_LAYERNORM: return skip_layernorm_backward;
    case SK_OP_GATHER: return gather_backward;
    case SK_OP_SPLIT: return split_backward;
    case SK_OP_IDENTITY: case SK_OP_DROPOUT: case SK_OP_RESHAPE: case SK_OP_FLATTEN:
    case SK_OP_SQUEEZE: case SK_OP_UNSQUEEZE: return view_backward;
    case SK_OP_SLICE: case SK_OP_TRANSPOSE: case SK_OP_EXPAND: case SK_OP_CONCAT: return move_backward;
    case SK_OP_ADD: case SK_OP_SUB: case SK_OP_MUL: case SK_OP_DIV: return binary_backward;
    case SK_OP_RELU: case SK_OP_TANH: case SK_OP_SIGMOID: case SK_OP_GELU: case SK_OP_EXP: case SK_OP_NEG:
    case SK_OP_SQRT: case SK_OP_LOG: case SK_OP_RECIPROCAL: return unary_backward;
    case SK_OP_SOFTMAX: return softmax_backward;
    case SK_OP_MATMUL: return matmul_backward;
    case SK_OP_GEMM: return gemm_backward;
    case SK_OP_REDUCE_MEAN: case SK_OP_REDUCE_SUM: return reduce_backward;
    case SK_OP_CONV: return sk_grad_conv;
    case SK_OP_MAX_POOL: return sk_grad_max_pool;
    case SK_OP_AVG_POOL: return sk_grad_avg_pool;
    case SK_OP_GLOBAL_AVG_POOL: return sk_grad_global_avg_pool;
    case SK_OP_BATCHNORM: return sk_grad_batchnorm;
    case SK_OP_LSTM: return sk_grad_lstm;
    case SK_OP_GRU: return sk_grad_gru;
    case SK_OP_RNN: return sk_grad_rnn;
    default: return NULL;
    }
}

bool sk_grad_passes(sk_op op)
{
    switch (op) {
    case SK_OP_SHAPE: case SK_OP_EQUAL: case SK_OP_LESS: case SK_OP_GREATER: case SK_OP_NOT:
    case SK_OP_RANGE: case SK_OP_CONSTANT_OF_SHAPE: return false;
    default: return true;
    }
}
