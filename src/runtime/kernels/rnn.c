/* rnn.c — ONNX LSTM, GRU and RNN (layout 0, default activations), forward,
 * reverse and bidirectional, with optional B, sequence_lens, initial_h,
 * initial_c and (LSTM) peepholes P; outputs Y, Y_h, Y_c, each optional.
 *
 * Per direction: one sgemm projects every time step's input at once
 * (XW = X·Wᵀ + biases, [seq·batch, G·hidden]); then each step multiplies the
 * previous hidden state by Rᵀ and applies the gate equations row by row.
 * Gate order and equations are ONNX's (i o f c for LSTM, z r h for GRU); the
 * activations are sigmoid / tanh through the vectorised sk_bias_act_f32.
 * A batch entry whose sequence has ended (t ≥ sequence_lens[b]) keeps its
 * state and gets zeros in Y, as onnxruntime does.  Non-default activations
 * (the STRINGS attribute), input_forget and layout 1 are refused.
 */
#include <string.h>
#include "runtime/kernels/f32.h"

typedef enum { CELL_LSTM, CELL_GRU, CELL_RNN } cell_kind;

typedef struct {
    cell_kind kind;
    int G;                    /* gates: 4, 3, 1 */
    int64_t seq, batch, nin, Hs, dirs;   /* nin: input features */
    bool reverse;             /* single direction, run backwards */
    bool lbr;                 /* GRU linear_before_reset */
    float clip;               /* 0 = none */
} rnn_dims;

static sk_status rnn_plan(const sk_kctx *k, cell_kind kind, rnn_dims *d)
{
    sk_status st;
    memset(d, 0, sizeof *d);
    d->kind = kind;
    d->G = kind == CELL_LSTM ? 4 : kind == CELL_GRU ? 3 : 1;
    for (int i = 0; i < 3; i++)
        if ((st = sk_kcheck_input(k, i, SK_DT_F32, 3, 3))) return st;
    const sk_rtensor *x = k->in[0], *w = k->in[1], *r = k->in[2];
    d->seq = x->dims[0];
    d->batch = x->dims[1];
    d->nin = x->dims[2];
    d->dirs = w->dims[0];
    d->Hs = r->dims[2];
    const char *dir = sk_node_attr_s(k->node, "direction", "forward");
    int64_t want = !strcmp(dir, "bidirectional") ? 2 : 1;
    if (strcmp(dir, "forward") && strcmp(dir, "reverse") && strcmp(dir, "bidirectional"))
        return sk_kerr(k, SK_ERR_INVALID, "direction '%s'", dir);
    d->reverse = !strcmp(dir, "reverse");
    if (d->dirs != want)
        return sk_kerr(k, SK_ERR_INVALID, "direction %s but W has %lld directions", dir, (long long)d->dirs);
    int64_t hs = sk_node_attr_i(k->node, "hidden_size", d->Hs);
    if (hs != d->Hs)
        return sk_kerr(k, SK_ERR_INVALID, "hidden_size %lld but R is [.., .., %lld]", (long long)hs, (long long)d->Hs);
    if (sk_node_attr_i(k->node, "layout", 0) != 0) return sk_kerr(k, SK_ERR_UNSUPPORTED, "layout 1 (batch first)");
    if (sk_node_attr(k->node, "activations") || sk_node_attr(k->node, "activation_alpha") ||
        sk_node_attr(k->node, "activation_beta"))
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "only the default activations are supported");
    if (kind == CELL_LSTM && sk_node_attr_i(k->node, "input_forget", 0) != 0)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "input_forget=1");
    d->lbr = kind == CELL_GRU && sk_node_attr_i(k->node, "linear_before_reset", 0) != 0;
    d->clip = sk_node_attr_f(k->node, "clip", 0.0f);
    if (d->clip < 0) return sk_kerr(k, SK_ERR_INVALID, "clip %g < 0", (double)d->clip);
    int64_t GH = d->G * d->Hs;
    if (w->dims[1] != GH || w->dims[2] != d->nin || r->dims[0] != d->dirs || r->dims[1] != GH)
        return sk_kerr(k, SK_ERR_INVALID,
                       "W [%lld, %lld, %lld] / R [%lld, %lld, %lld] do not fit %d gates of %lld over %lld inputs",
                       (long long)w->dims[0], (long long)w->dims[1], (long long)w->dims[2], (long long)r->dims[0],
                       (long long)r->dims[1], (long long)r->dims[2], d->G, (long long)d->Hs, (long long)d->nin);
    /* optional inputs: B, sequence_lens, initial_h, initial_c, P */
    const sk_rtensor *b = k->n_in > 3 ? k->in[3] : NULL;
    if (b) {
        if ((st = sk_kcheck_input(k, 3, SK_DT_F32, 2, 2))) return st;
        if (b->dims[0] != d->dirs || b->dims[1] != 2 * GH)
            return sk_kerr(k, SK_ERR_INVALID, "B is [%lld, %lld], expected [%lld, %lld]", (long long)b->dims[0],
                           (long long)b->dims[1], (long long)d->dirs, (long long)(2 * GH));
    }
    const sk_rtensor *sl = k->n_in > 4 ? k->in[4] : NULL;
    if (sl) {
        if (sl->dtype != SK_DT_I32 && sl->dtype != SK_DT_I64)
            return sk_kerr(k, SK_ERR_INVALID, "sequence_lens has dtype %s, expected i32",
                           sk_dtype_info(sl->dtype)->name);
        if (sl->rank != 1 || sl->dims[0] != d->batch)
            return sk_kerr(k, SK_ERR_INVALID, "sequence_lens must be [%lld]", (long long)d->batch);
    }
    for (int i = 5; i <= 6 && i < k->n_in; i++) {
        const sk_rtensor *t = k->in[i];
        if (!t) continue;
        if (i == 6 && kind != CELL_LSTM) return sk_kerr(k, SK_ERR_INVALID, "too many inputs");
        if ((st = sk_kcheck_input(k, i, SK_DT_F32, 3, 3))) return st;
        if (t->dims[0] != d->dirs || t->dims[1] != d->batch || t->dims[2] != d->Hs)
            return sk_kerr(k, SK_ERR_INVALID, "%s is [%lld, %lld, %lld], expected [%lld, %lld, %lld]",
                           i == 5 ? "initial_h" : "initial_c", (long long)t->dims[0], (long long)t->dims[1],
                           (long long)t->dims[2], (long long)d->dirs, (long long)d->batch, (long long)d->Hs);
    }
    const sk_rtensor *p = k->n_in > 7 ? k->in[7] : NULL;
    if (p) {
        if ((st = sk_kcheck_input(k, 7, SK_DT_F32, 2, 2))) return st;
        if (p->dims[0] != d->dirs || p->dims[1] != 3 * d->Hs)
            return sk_kerr(k, SK_ERR_INVALID, "P must be [%lld, %lld]", (long long)d->dirs, (long long)(3 * d->Hs));
    }
    if (d->seq * d->batch > 0x7fffffff || GH > 0x7fffffff)
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "too large for BLAS");
    return SK_OK;
}

/* scratch, in floats: XW [seq·batch, G·Hs], HR [batch, G·Hs], h, c, tmp [batch, Hs] */
static size_t rnn_scratch(const rnn_dims *d)
{
    return (size_t)((d->seq * d->batch + d->batch) * d->G * d->Hs + 3 * d->batch * d->Hs);
}

static sk_status rnn_shape(sk_kctx *k, cell_kind kind)
{
    rnn_dims d;
    sk_status st = rnn_plan(k, kind, &d);
    if (st) return st;
    if (k->n_out > (kind == CELL_LSTM ? 3 : 2)) return sk_kerr(k, SK_ERR_INVALID, "too many outputs");
    int64_t y[4] = { d.seq, d.dirs, d.batch, d.Hs }, yh[3] = { d.dirs, d.batch, d.Hs };
    for (int o = 0; o < k->n_out; o++)
        if (k->out[o]) {
            if (o == 0) sk_rt_set_shape(k->out[o], SK_DT_F32, 4, y);
            else sk_rt_set_shape(k->out[o], SK_DT_F32, 3, yh);
        }
    if (!sk_mul_size(rnn_scratch(&d), sizeof(float), &k->scratch_need))
        return sk_kerr(k, SK_ERR_UNSUPPORTED, "scratch too large");
    return SK_OK;
}

static void clip_row(float *v, int64_t n, float c)
{
    if (c <= 0) return;
    for (int64_t i = 0; i < n; i++) v[i] = v[i] < -c ? -c : v[i] > c ? c : v[i];
}

static void add_row(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

/* One direction. xw, hr, h, c, tmp are scratch; y, yh, yc may be NULL. */
static void rnn_dir(const sk_kctx *k, const rnn_dims *d, int dir, bool backward, float *xw, float *hr, float *h,
                    float *c, float *tmp, float *y, float *yh, float *yc)
{
    int64_t Hs = d->Hs, GH = d->G * Hs, B = d->batch, T = d->seq;
    const float *W = (const float *)k->in[1]->data + dir * GH * d->nin;
    const float *R = (const float *)k->in[2]->data + dir * GH * Hs;
    const sk_rtensor *bt = k->n_in > 3 ? k->in[3] : NULL, *sl = k->n_in > 4 ? k->in[4] : NULL;
    const sk_rtensor *h0 = k->n_in > 5 ? k->in[5] : NULL, *c0 = k->n_in > 6 ? k->in[6] : NULL;
    const sk_rtensor *pt = k->n_in > 7 ? k->in[7] : NULL;
    const float *Wb = bt ? (const float *)bt->data + dir * 2 * GH : NULL, *Rb = Wb ? Wb + GH : NULL;
    const float *P = pt ? (const float *)pt->data + dir * 3 * Hs : NULL;   /* [Pi, Po, Pf] */

    /* XW = X·Wᵀ + Wb + Rb (GRU with linear_before_reset keeps Rbh for inside r⊙(·)) */
    if (T * B > 0 && d->nin > 0)
        sk_sgemm(false, true, (int)(T * B), (int)GH, (int)d->nin, 1.0f, k->in[0]->data, (int)d->nin, W, (int)d->nin,
                 0.0f, xw, (int)GH);
    else
        memset(xw, 0, (size_t)(T * B * GH) * sizeof(float));
    if (Wb) {
        int64_t nrb = d->lbr ? 2 * Hs : GH;
        for (int64_t r = 0; r < T * B; r++) {
            add_row(xw + r * GH, Wb, GH);
            add_row(xw + r * GH, Rb, nrb);
        }
    }
    for (int64_t b = 0; b < B; b++) {
        if (h0) memcpy(h + b * Hs, (const float *)h0->data + (dir * B + b) * Hs, (size_t)Hs * sizeof(float));
        else memset(h + b * Hs, 0, (size_t)Hs * sizeof(float));
        if (c0) memcpy(c + b * Hs, (const float *)c0->data + (dir * B + b) * Hs, (size_t)Hs * sizeof(float));
        else memset(c + b * Hs, 0, (size_t)Hs * sizeof(float));
    }
    /* recurrent product rows: all gates, or GRU's z and r first */
    int64_t nrec = d->kind == CELL_GRU && !d->lbr ? 2 * Hs : GH;
    for (int64_t s = 0; s < T; s++) {
        int64_t t = backward ? T - 1 - s : s;
        if (Hs > 0)
            sk_sgemm(false, true, (int)B, (int)nrec, (int)Hs, 1.0f, h, (int)Hs, R, (int)Hs, 0.0f, hr, (int)GH);
        else
            memset(hr, 0, (size_t)(B * GH) * sizeof(float));
        for (int64_t b = 0; b < B; b++) {
            float *g = hr + b * GH, *hb = h + b * Hs, *cb = c + b * Hs;
            const float *x = xw + (t * B + b) * GH;
            if (sl && t >= sk_rt_get_i(sl, b)) {
                memset(tmp + b * Hs, 0, (size_t)Hs * sizeof(float));   /* GRU's (r⊙H) row of an ended sequence */
                continue;
            }
            switch (d->kind) {
            case CELL_RNN:
                add_row(g, x, Hs);
                clip_row(g, Hs, d->clip);
                sk_bias_act_f32(hb, g, NULL, Hs, SK_ACT_TANH);
                break;
            case CELL_LSTM: {   /* gates i o f c at g + 0, Hs, 2Hs, 3Hs */
                float *gi = g, *go = g + Hs, *gf = g + 2 * Hs, *gc = g + 3 * Hs;
                add_row(g, x, GH);
                if (P)
                    for (int64_t j = 0; j < Hs; j++) { gi[j] += P[j] * cb[j]; gf[j] += P[2 * Hs + j] * cb[j]; }
                clip_row(gi, Hs, d->clip);
                clip_row(gf, Hs, d->clip);
                clip_row(gc, Hs, d->clip);
                sk_bias_act_f32(gi, gi, NULL, Hs, SK_ACT_SIGMOID);
                sk_bias_act_f32(gf, gf, NULL, Hs, SK_ACT_SIGMOID);
                sk_bias_act_f32(gc, gc, NULL, Hs, SK_ACT_TANH);
                for (int64_t j = 0; j < Hs; j++) cb[j] = gf[j] * cb[j] + gi[j] * gc[j];
                if (P) for (int64_t j = 0; j < Hs; j++) go[j] += P[Hs + j] * cb[j];
                clip_row(go, Hs, d->clip);
                sk_bias_act_f32(go, go, NULL, Hs, SK_ACT_SIGMOID);
                sk_bias_act_f32(gc, cb, NULL, Hs, SK_ACT_TANH);   /* gc := tanh(C) */
                for (int64_t j = 0; j < Hs; j++) hb[j] = go[j] * gc[j];
                break;
            }
            case CELL_GRU: {    /* gates z r h at g + 0, Hs, 2Hs */
                float *gz = g, *gr = g + Hs;
                add_row(g, x, 2 * Hs);
                clip_row(g, 2 * Hs, d->clip);
                sk_bias_act_f32(g, g, NULL, 2 * Hs, SK_ACT_SIGMOID);
                if (!d->lbr) {
                    for (int64_t j = 0; j < Hs; j++) tmp[b * Hs + j] = gr[j] * hb[j];
                } else {
                    float *gh = g + 2 * Hs;   /* r ⊙ (H·Rhᵀ + Rbh) + (X·Whᵀ + Wbh) */
                    for (int64_t j = 0; j < Hs; j++)
                        gh[j] = gr[j] * (gh[j] + (Rb ? Rb[2 * Hs + j] : 0.0f)) + x[2 * Hs + j];
                    clip_row(gh, Hs, d->clip);
                    sk_bias_act_f32(gh, gh, NULL, Hs, SK_ACT_TANH);
                    for (int64_t j = 0; j < Hs; j++) hb[j] = (1.0f - gz[j]) * gh[j] + gz[j] * hb[j];
                }
                break;
            }
            }
        }
        if (d->kind == CELL_GRU && !d->lbr) {
            /* h gate: tanh(X·Whᵀ + Wbh + Rbh + (r⊙H)·Rhᵀ) */
            if (Hs > 0)
                sk_sgemm(false, true, (int)B, (int)Hs, (int)Hs, 1.0f, tmp, (int)Hs, R + 2 * Hs * Hs, (int)Hs, 0.0f,
                         hr + 2 * Hs, (int)GH);
            for (int64_t b = 0; b < B; b++) {
                if (sl && t >= sk_rt_get_i(sl, b)) continue;
                float *g = hr + b * GH, *gz = g, *gh = g + 2 * Hs, *hb = h + b * Hs;
                add_row(gh, xw + (t * B + b) * GH + 2 * Hs, Hs);
                clip_row(gh, Hs, d->clip);
                sk_bias_act_f32(gh, gh, NULL, Hs, SK_ACT_TANH);
                for (int64_t j = 0; j < Hs; j++) hb[j] = (1.0f - gz[j]) * gh[j] + gz[j] * hb[j];
            }
        }
        if (y)
            for (int64_t b = 0; b < B; b++) {
                float *dst = y + ((t * d->dirs + dir) * B + b) * Hs;
                if (sl && t >= sk_rt_get_i(sl, b)) memset(dst, 0, (size_t)Hs * sizeof(float));
                else memcpy(dst, h + b * Hs, (size_t)Hs * sizeof(float));
            }
    }
    if (yh) memcpy(yh + dir * B * Hs, h, (size_t)(B * Hs) * sizeof(float));
    if (yc) memcpy(yc + dir * B * Hs, c, (size_t)(B * Hs) * sizeof(float));
}

static sk_status rnn_run(sk_kctx *k, cell_kind kind)
{
    rnn_dims d;
    sk_status st = rnn_plan(k, kind, &d);
    if (st) return st;
    const sk_rtensor *sl = k->n_in > 4 ? k->in[4] : NULL;
    if (sl)
        for (int64_t b = 0; b < d.batch; b++) {
            int64_t v = sk_rt_get_i(sl, b);
            if (v < 0 || v > d.seq)
                return sk_kerr(k, SK_ERR_INVALID, "sequence_lens[%lld] = %lld outside [0, %lld]", (long long)b,
                               (long long)v, (long long)d.seq);
        }
    if (rnn_scratch(&d) * sizeof(float) > k->scratch_need || (!k->scratch && rnn_scratch(&d) > 0))
        return sk_kerr(k, SK_ERR_INVALID, "scratch too small");
    int64_t GH = d.G * d.Hs;
    float *xw = k->scratch, *hr = xw + d.seq * d.batch * GH, *h = hr + d.batch * GH, *c = h + d.batch * d.Hs,
          *tmp = c + d.batch * d.Hs;
    float *y = k->n_out > 0 && k->out[0] ? k->out[0]->data : NULL;
    float *yh = k->n_out > 1 && k->out[1] ? k->out[1]->data : NULL;
    float *yc = k->n_out > 2 && k->out[2] ? k->out[2]->data : NULL;
    for (int dir = 0; dir < d.dirs; dir++)
        rnn_dir(k, &d, dir, dir == 1 || d.reverse, xw, hr, h, c, tmp, y, yh, yc);
    return SK_OK;
}

sk_status sk_shape_LSTM(sk_kctx *k) { return rnn_shape(k, CELL_LSTM); }
sk_status sk_kern_LSTM(sk_kctx *k) { return rnn_run(k, CELL_LSTM); }
sk_status sk_shape_GRU(sk_kctx *k) { return rnn_shape(k, CELL_GRU); }
sk_status sk_kern_GRU(sk_kctx *k) { return rnn_run(k, CELL_GRU); }
sk_status sk_shape_RNN(sk_kctx *k) { return rnn_shape(k, CELL_RNN); }
sk_status sk_kern_RNN(sk_kctx *k) { return rnn_run(k, CELL_RNN); }
