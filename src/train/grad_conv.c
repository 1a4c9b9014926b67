/* grad_conv.c — backward of the vision ops: Conv, MaxPool, AveragePool,
 * GlobalAveragePool and inference-mode BatchNormalization.
 *
 * The geometry (pads, strides, dilations, auto_pad, ceil_mode, windows)
 * comes from the forward kernels' own functions (runtime/kernels/conv.h), so
 * a backward cannot read a padding rule differently from its forward.
 *   Conv: per (image, group) dW += dY·colᵀ with col = im2col(X) (the
 *   forward's), dcol = Wᵀ·dY added back onto the image by its adjoint
 *   col2im; db = Σ dY.
 *   MaxPool: the window's maximum is found again with the forward's scan
 *   (first strictly greater value), and takes the whole gradient.
 *   AveragePool: each tap of the window gets dY / (the forward's divisor).
 *   BatchNormalization (running statistics, training_mode 0): a per-channel
 *   affine map y = (x − mean)·scale/√(var + ε) + B; all five inputs get
 *   their exact gradient (mean and var are constants of the graph but may be
 *   trained like any weight).
 * Like grad.c, every function ADDS into the input gradients.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include "runtime/kernels/conv.h"
#include "runtime/kernels/f32.h"
#include "train/train.h"

static int64_t sp_numel(const int64_t *v) { return v[0] * v[1] * v[2]; }

sk_status sk_grad_conv(sk_bctx *b)
{
    const float *dy = b->gout[0];
    float *dx = b->gin[0], *dw = b->gin[1], *db = b->n_in > 2 ? b->gin[2] : NULL;
    if (!dy) return SK_OK;
    sk_kctx k;
    sk_bctx_kctx(b, &k);
    sk_spatial sp;
    int64_t group;
    sk_status st = sk_conv_geometry(&k, &sp, &group);
    if (st) return st;
    const sk_rtensor *x = b->in[0], *w = b->in[1];
    int64_t N = x->dims[0], C = x->dims[1], M = w->dims[0], Cg = C / group, Mg = M / group;
    int64_t isz = sp_numel(sp.in), osz = sp_numel(sp.out), K = Cg * sp_numel(sp.k);
    if (db)
        for (int64_t p = 0; p < N * M; p++) {
            double s = 0;
            for (int64_t i = 0; i < osz; i++) s += dy[p * osz + i];
            db[p % M] += (float)s;
        }
    if ((!dx && !dw) || K == 0 || osz == 0 || Mg == 0) return SK_OK;
    if (K > 0x7fffffff || osz > 0x7fffffff || Mg > 0x7fffffff) return sk_err(SK_ERR_UNSUPPORTED, "conv too large");
    float *col = sk_malloc((size_t)(2 * K * osz) * sizeof *col);
    if (!col) return SK_ERR_NOMEM;
    float *dcol = col + K * osz;
    const float *xd = x->data, *wd = w->data;
    for (int64_t n = 0; n < N; n++)
        for (int64_t g = 0; g < group; g++) {
            const float *dyg = dy + (n * M + g * Mg) * osz, *wg = wd + g * Mg * K;
            if (dw) {   /* dW_g [Mg, K] += dY_g [Mg, osz] · colᵀ */
                sk_im2col(col, xd + (n * C + g * Cg) * isz, Cg, &sp);
                sk_sgemm_pool(b->pool, false, true, (int)Mg, (int)K, (int)osz, 1.0f, dyg, (int)osz, col, (int)osz,
                              1.0f, dw + g * Mg * K, (int)K);
            }
            if (dx) {   /* dcol [K, osz] = W_gᵀ · dY_g, then back onto the image */
                sk_sgemm_pool(b->pool, true, false, (int)K, (int)osz, (int)Mg, 1.0f, wg, (int)K, dyg, (int)osz, 0.0f,
                              dcol, (int)osz);
                sk_col2im(dx + (n * C + g * Cg) * isz, dcol, Cg, &sp);
            }
        }
    sk_free(col);
    return SK_OK;
}

/* ---- pools: one (image, channel) plane per task ---- */
typedef struct { const float *x, *dy; float *dx; const sk_spatial *sp; bool max, include_pad; int64_t *tap; } pool_bj;

/* The offsets in the plane of window o's taps that fall inside the input, in the forward's scan order */
static int64_t window_taps(const sk_spatial *sp, int64_t o, int64_t *tap, int64_t *cnt_pad)
{
    int64_t st[3], en[3], n = 0;
    *cnt_pad = sk_pool_window(sp, o, st, en);
    for (int64_t a = st[0]; a < en[0]; a += sp->d[0]) {
        if (a < 0 || a >= sp->in[0]) continue;
        for (int64_t b = st[1]; b < en[1]; b += sp->d[1]) {
            if (b < 0 || b >= sp->in[1]) continue;
            for (int64_t c = st[2]; c < en[2]; c += sp->d[2])
                if (c >= 0 && c < sp->in[2]) tap[n++] = (a * sp->in[1] + b) * sp->in[2] + c;
        }
    }
    return n;
}

/* planes lo..hi; one thread (j->tap is one window's worth of scratch) */
static void pool_bwd_planes(const pool_bj *j, int64_t lo, int64_t hi)
{
    const sk_spatial *sp = j->sp;
    int64_t isz = sp_numel(sp->in), osz = sp_numel(sp->out), *tap = j->tap;
    for (int64_t p = lo; p < hi; p++) {
        const float *x = j->x + p * isz, *dy = j->dy + p * osz;
        float *dx = j->dx + p * isz;
        for (int64_t o = 0; o < osz; o++) {
            int64_t cnt_pad, n = window_taps(sp, o, tap, &cnt_pad);
            if (!n) continue;   /* the forward wrote -FLT_MAX or 0: no input reached it */
            if (j->max) {       /* the first strictly greatest, as the forward's scan */
                int64_t arg = -1;
                float m = -FLT_MAX;
                for (int64_t i = 0; i < n; i++)
                    if (x[tap[i]] > m) { m = x[tap[i]]; arg = tap[i]; }
                if (arg >= 0) dx[arg] += dy[o];
            } else {
                float share = dy[o] / (float)(j->include_pad ? cnt_pad : n);
                for (int64_t i = 0; i < n; i++) dx[tap[i]] += share;
            }
        }
    }
}

static sk_status pool_backward(sk_bctx *b, bool max)
{
    if (!b->gout[0] || !b->gin[0]) return SK_OK;
    sk_kctx k;
    sk_bctx_kctx(b, &k);
    sk_spatial sp;
    sk_status st = sk_pool_geometry(&k, &sp);
    if (st) return st;
    pool_bj j = {b->in[0]->data, b->gout[0], b->gin[0], &sp, max,
                 sk_node_attr_i(b->node, "count_include_pad", 0) != 0, sk_malloc((size_t)sp_numel(sp.k) * sizeof(int64_t))};
    if (!j.tap) return SK_ERR_NOMEM;
    pool_bwd_planes(&j, 0, b->in[0]->dims[0] * b->in[0]->dims[1]);
    sk_free(j.tap);
    return SK_OK;
}

sk_status sk_grad_max_pool(sk_bctx *b) { return pool_backward(b, true); }
sk_status sk_grad_avg_pool(sk_bctx *b) { return pool_backward(b, false); }

sk_status sk_grad_global_avg_pool(sk_bctx *b)
{
    const sk_rtensor *x = b->in[0];
    const float *dy = b->gout[0];
    float *dx = b->gin[0];
    int64_t planes = x->dims[0] * x->dims[1], plane = planes ? sk_rt_numel(x) / planes : 0;
    if (!dy || !dx || plane == 0) return SK_OK;
    for (int64_t p = 0; p < planes; p++) {
        float g = (float)(dy[p] / (double)plane);
        for (int64_t i = 0; i < plane; i++) dx[p * plane + i] += g;
    }
    return SK_OK;
}

/* ---- BatchNormalization (inference): y = (x − mean)·scale·r + B, r = 1/√(var + ε) ---- */
sk_status sk_grad_batchnorm(sk_bctx *b)
{
    const sk_rtensor *x = b->in[0];
    const float *dy = b->gout[0];
    if (!dy) return SK_OK;
    const float *xd = x->data, *scale = b->in[1]->data, *mean = b->in[3]->data, *var = b->in[4]->data;
    double eps = sk_node_attr_f(b->node, "epsilon", 1e-5f);
    int64_t N = x->dims[0], C = x->dims[1], plane = N * C > 0 ? sk_rt_numel(x) / (N * C) : 0;
    for (int64_t c = 0; c < C; c++) {
        double r = 1.0 / sqrt((double)var[c] + eps), sdy = 0, sdyx = 0;
        for (int64_t n = 0; n < N; n++) {
            const float *xp = xd + (n * C + c) * plane, *gp = dy + (n * C + c) * plane;
            for (int64_t i = 0; i < plane; i++) {
                sdy += gp[i];
                sdyx += (double)gp[i] * (xp[i] - mean[c]);
            }
            if (b->gin[0]) {
                float a = (float)(scale[c] * r), *dxp = b->gin[0] + (n * C + c) * plane;
                for (int64_t i = 0; i < plane; i++) dxp[i] += gp[i] * a;
            }
        }
        if (b->gin[1]) b->gin[1][c] += (float)(sdyx * r);
        if (b->gin[2]) b->gin[2][c] += (float)sdy;
        if (b->gin[3]) b->gin[3][c] -= (float)(sdy * scale[c] * r);
        if (b->gin[4]) b->gin[4][c] -= (float)(0.5 * sdyx * scale[c] * r * r * r);
    }
    return SK_OK;
}
