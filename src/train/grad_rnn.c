/* grad_rnn.c — backward of ONNX LSTM, GRU and RNN: backpropagation through
 * time.
 *
 * The forward kernel (runtime/kernels/rnn.c) keeps no per-step values, so
 * the backward first runs the recurrence once more for each direction,
 * keeping what BPTT needs: the activated gates, the previous hidden (and
 * cell) state of every step and, for GRU, the recurrent term of the h gate.
 * It uses the same equations, gate order (i o f c; z r h) and activation
 * routine (sk_bias_act_f32) as the forward.  Then it walks the steps in
 * reverse, carrying dH (and dC) from step to step:
 *   dZX  gradient of each gate's pre-activation        [seq·batch, G·H]
 *   dZR  the same for the recurrent term H·Rᵀ + Rb       (differs for GRU)
 * and finishes with one product each for dW (dZXᵀ·X), dX (dZX·W) and dR
 * (dZRᵀ·H_prev, GRU's h gate: (r⊙H_prev) when linear_before_reset is 0).
 * A batch entry whose sequence has ended (t ≥ sequence_lens) passes its
 * state through: no gate gradients, dH and dC carried unchanged.
 * Supported: forward, reverse and bidirectional; B, sequence_lens,
 * initial_h, initial_c, peepholes P; outputs Y, Y_h, Y_c.  Not supported
 * (an error): clip, which the forward applies as a hard limit.
 */
#include <string.h>
#include "runtime/kernels/f32.h"
#include "train/train.h"

typedef enum { CELL_LSTM, CELL_GRU, CELL_RNN } cell_kind;

typedef struct {
    cell_kind kind;
    int64_t T, B, nin, H, G, GH, dirs;
    bool reverse, lbr;
    const float *x;          /* [T, B, nin] */
    const sk_rtensor *sl;    /* sequence_lens or NULL */
    /* per direction workspace */
    float *gates;            /* [T·B, GH] activated gates */
    float *hp, *cp, *cn, *u; /* [T·B, H]: H_{t-1}, C_{t-1}, C_t (LSTM), GRU's recurrent input of the h gate */
    float *dzx, *dzr;        /* [T·B, GH] */
    float *h, *c, *hr;       /* [B, H], [B, H], [B, GH] */
    float *dh, *dc, *tmp;    /* [B, H] each */
    unsigned char *on;       /* [T·B]: step t of entry b ran */
} bptt;

static void vadd(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

/* The forward of one direction, keeping the tape; mirrors rnn.c's rnn_dir. */
static void fwd_dir(bptt *r, const float *W, const float *R, const float *Wb, const float *Rb, const float *P,
                    const float *h0, const float *c0, bool backward)
{
    int64_t T = r->T, B = r->B, H = r->H, GH = r->GH;
    if (T * B > 0 && r->nin > 0)
        sk_sgemm(false, true, (int)(T * B), (int)GH, (int)r->nin, 1.0f, r->x, (int)r->nin, W, (int)r->nin, 0.0f,
                 r->gates, (int)GH);
    else
        memset(r->gates, 0, (size_t)(T * B * GH) * sizeof(float));
    if (Wb)
        for (int64_t i = 0; i < T * B; i++) {
            vadd(r->gates + i * GH, Wb, GH);
            vadd(r->gates + i * GH, Rb, r->lbr ? 2 * H : GH);
        }
    for (int64_t b = 0; b < B; b++) {
        if (h0) memcpy(r->h + b * H, h0 + b * H, (size_t)H * sizeof(float));
        else memset(r->h + b * H, 0, (size_t)H * sizeof(float));
        if (c0) memcpy(r->c + b * H, c0 + b * H, (size_t)H * sizeof(float));
        else memset(r->c + b * H, 0, (size_t)H * sizeof(float));
    }
    int64_t nrec = r->kind == CELL_GRU && !r->lbr ? 2 * H : GH;
    for (int64_t s = 0; s < T; s++) {
        int64_t t = backward ? T - 1 - s : s;
        if (H > 0) sk_sgemm(false, true, (int)B, (int)nrec, (int)H, 1.0f, r->h, (int)H, R, (int)H, 0.0f, r->hr, (int)GH);
        for (int64_t b = 0; b < B; b++) {
            int64_t row = t * B + b;
            float *g = r->gates + row * GH, *hb = r->h + b * H, *cb = r->c + b * H, *hr = r->hr + b * GH;
            r->on[row] = !(r->sl && t >= sk_rt_get_i(r->sl, b));
            memcpy(r->hp + row * H, hb, (size_t)H * sizeof(float));
            if (!r->on[row]) {
                if (r->kind == CELL_GRU && !r->lbr) memset(r->tmp + b * H, 0, (size_t)H * sizeof(float));
                continue;
            }
            switch (r->kind) {
            case CELL_RNN:
                vadd(g, hr, H);
                sk_bias_act_f32(g, g, NULL, H, SK_ACT_TANH);
                memcpy(hb, g, (size_t)H * sizeof(float));
                break;
            case CELL_LSTM: {
                float *gi = g, *go = g + H, *gf = g + 2 * H, *gc = g + 3 * H;
                memcpy(r->cp + row * H, cb, (size_t)H * sizeof(float));
                vadd(g, hr, GH);
                if (P)
                    for (int64_t j = 0; j < H; j++) { gi[j] += P[j] * cb[j]; gf[j] += P[2 * H + j] * cb[j]; }
                sk_bias_act_f32(gi, gi, NULL, H, SK_ACT_SIGMOID);
                sk_bias_act_f32(gf, gf, NULL, H, SK_ACT_SIGMOID);
                sk_bias_act_f32(gc, gc, NULL, H, SK_ACT_TANH);
                for (int64_t j = 0; j < H; j++) cb[j] = gf[j] * cb[j] + gi[j] * gc[j];
                if (P) for (int64_t j = 0; j < H; j++) go[j] += P[H + j] * cb[j];
                sk_bias_act_f32(go, go, NULL, H, SK_ACT_SIGMOID);
                memcpy(r->cn + row * H, cb, (size_t)H * sizeof(float));
                sk_bias_act_f32(hb, cb, NULL, H, SK_ACT_TANH);
                for (int64_t j = 0; j < H; j++) hb[j] *= go[j];
                break;
            }
            case CELL_GRU: {
                float *gr = g + H, *gh = g + 2 * H, *u = r->u + row * H;
                vadd(g, hr, 2 * H);
                sk_bias_act_f32(g, g, NULL, 2 * H, SK_ACT_SIGMOID);
                if (!r->lbr) {
                    for (int64_t j = 0; j < H; j++) u[j] = r->tmp[b * H + j] = gr[j] * hb[j];
                } else {
                    for (int64_t j = 0; j < H; j++) {
                        u[j] = hr[2 * H + j] + (Rb ? Rb[2 * H + j] : 0.0f);
                        gh[j] += gr[j] * u[j];
                    }
                    sk_bias_act_f32(gh, gh, NULL, H, SK_ACT_TANH);
                    for (int64_t j = 0; j < H; j++) hb[j] = (1.0f - g[j]) * gh[j] + g[j] * hb[j];
                }
                break;
            }
            }
        }
        if (r->kind == CELL_GRU && !r->lbr) {   /* h gate: tanh(x part + (r⊙H)·Rhᵀ) */
            if (H > 0)
                sk_sgemm(false, true, (int)B, (int)H, (int)H, 1.0f, r->tmp, (int)H, R + 2 * H * H, (int)H, 0.0f, r->hr,
                         (int)H);
            for (int64_t b = 0; b < B; b++) {
                int64_t row = t * B + b;
                if (!r->on[row]) continue;
                float *g = r->gates + row * GH, *gh = g + 2 * H, *hb = r->h + b * H;
                vadd(gh, r->hr + b * H, H);
                sk_bias_act_f32(gh, gh, NULL, H, SK_ACT_TANH);
                for (int64_t j = 0; j < H; j++) hb[j] = (1.0f - g[j]) * gh[j] + g[j] * hb[j];
            }
        }
    }
}

/* BPTT of one direction: fills dzx / dzr; dh, dc hold dY_h / dY_c on entry and dH_0 / dC_0 on return. */
static void bwd_dir(bptt *r, const float *R, const float *P, const float *dY, int dir, bool backward, float *dP)
{
    int64_t T = r->T, B = r->B, H = r->H, GH = r->GH;
    memset(r->dzx, 0, (size_t)(T * B * GH) * sizeof(float));
    if (r->dzr != r->dzx) memset(r->dzr, 0, (size_t)(T * B * GH) * sizeof(float));
    for (int64_t s = T - 1; s >= 0; s--) {
        int64_t t = backward ? T - 1 - s : s;
        /* phase 1: per entry, the gate gradients; tmp gets what the carry keeps without R */
        for (int64_t b = 0; b < B; b++) {
            int64_t row = t * B + b;
            float *dh = r->dh + b * H, *dc = r->dc + b * H, *keep = r->tmp + b * H;
            if (!r->on[row]) { memcpy(keep, dh, (size_t)H * sizeof(float)); continue; }
            if (dY) vadd(dh, dY + ((t * r->dirs + dir) * B + b) * H, H);
            const float *g = r->gates + row * GH, *hp = r->hp + row * H;
            float *dz = r->dzx + row * GH, *dzr = r->dzr + row * GH;
            switch (r->kind) {
            case CELL_RNN:
                for (int64_t j = 0; j < H; j++) dz[j] = dh[j] * (1.0f - g[j] * g[j]);
                memset(keep, 0, (size_t)H * sizeof(float));
                break;
            case CELL_LSTM: {
                const float *gi = g, *go = g + H, *gf = g + 2 * H, *gc = g + 3 * H;
                const float *cp = r->cp + row * H, *cn = r->cn + row * H;
                sk_bias_act_f32(keep, cn, NULL, H, SK_ACT_TANH);   /* tanh(C_t), as the forward has it */
                for (int64_t j = 0; j < H; j++) {
                    float th = keep[j];
                    float dzo = dh[j] * th * go[j] * (1.0f - go[j]);
                    float dcj = dc[j] + dh[j] * go[j] * (1.0f - th * th) + (P ? dzo * P[H + j] : 0.0f);
                    float dzi = dcj * gc[j] * gi[j] * (1.0f - gi[j]);
                    float dzf = dcj * cp[j] * gf[j] * (1.0f - gf[j]);
                    float dzc = dcj * gi[j] * (1.0f - gc[j] * gc[j]);
                    dz[j] = dzi;
                    dz[H + j] = dzo;
                    dz[2 * H + j] = dzf;
                    dz[3 * H + j] = dzc;
                    dc[j] = dcj * gf[j] + (P ? dzi * P[j] + dzf * P[2 * H + j] : 0.0f);
                    if (dP) {
                        dP[j] += dzi * cp[j];
                        dP[H + j] += dzo * cn[j];
                        dP[2 * H + j] += dzf * cp[j];
                    }
                }
                memset(keep, 0, (size_t)H * sizeof(float));
                break;
            }
            case CELL_GRU: {
                const float *z = g, *rg = g + H, *hh = g + 2 * H, *u = r->u + row * H;
                for (int64_t j = 0; j < H; j++) {
                    dz[j] = dh[j] * (hp[j] - hh[j]) * z[j] * (1.0f - z[j]);
                    dz[2 * H + j] = dh[j] * (1.0f - z[j]) * (1.0f - hh[j] * hh[j]);
                    dzr[j] = dz[j];
                    dzr[2 * H + j] = r->lbr ? dz[2 * H + j] * rg[j] : dz[2 * H + j];
                    if (r->lbr) {   /* r's gradient is known now: dr = dzh ⊙ u */
                        dz[H + j] = dzr[H + j] = dz[2 * H + j] * u[j] * rg[j] * (1.0f - rg[j]);
                    }
                    keep[j] = dh[j] * z[j];
                }
                break;
            }
            }
        }
        if (r->kind == CELL_GRU && !r->lbr && H > 0) {
            /* da = dzh·Rh with a = r⊙H_prev: r's gradient da⊙H_prev, the carry gets da⊙r */
            for (int64_t b = 0; b < B; b++)
                memcpy(r->hr + b * H, r->dzx + (t * B + b) * GH + 2 * H, (size_t)H * sizeof(float));
            float *da = r->c;   /* the cell buffer is free in GRU's backward */
            sk_sgemm(false, false, (int)B, (int)H, (int)H, 1.0f, r->hr, (int)H, R + 2 * H * H, (int)H, 0.0f, da, (int)H);
            for (int64_t b = 0; b < B; b++) {
                int64_t row = t * B + b;
                if (!r->on[row]) continue;
                const float *rg = r->gates + row * GH + H, *hp = r->hp + row * H;
                float *dz = r->dzx + row * GH;
                for (int64_t j = 0; j < H; j++) {
                    dz[H + j] = r->dzr[row * GH + H + j] = da[b * H + j] * hp[j] * rg[j] * (1.0f - rg[j]);
                    r->tmp[b * H + j] += da[b * H + j] * rg[j];
                }
            }
        }
        /* carry: dH_{t-1} = keep + dZR_t·R (GRU without lbr: z and r rows only) */
        int64_t nrec = r->kind == CELL_GRU && !r->lbr ? 2 * H : GH;
        if (H > 0)
            sk_sgemm(false, false, (int)B, (int)H, (int)nrec, 1.0f, r->dzr + t * B * GH, (int)GH, R, (int)H, 1.0f,
                     r->tmp, (int)H);
        memcpy(r->dh, r->tmp, (size_t)(B * H) * sizeof(float));
    }
}

static sk_status rnn_backward(sk_bctx *b, cell_kind kind)
{
    const sk_node *n = b->node;
    if (sk_node_attr_f(n, "clip", 0.0f) > 0)
        return sk_err(SK_ERR_UNSUPPORTED, "clip is not differentiable here (train without it)");
    bptt r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    const sk_rtensor *x = b->in[0], *w = b->in[1], *rt = b->in[2];
    const sk_rtensor *bt = b->n_in > 3 ? b->in[3] : NULL, *h0 = b->n_in > 5 ? b->in[5] : NULL;
    const sk_rtensor *c0 = kind == CELL_LSTM && b->n_in > 6 ? b->in[6] : NULL;
    const sk_rtensor *pt = kind == CELL_LSTM && b->n_in > 7 ? b->in[7] : NULL;
    r.sl = b->n_in > 4 ? b->in[4] : NULL;
    r.T = x->dims[0];
    r.B = x->dims[1];
    r.nin = x->dims[2];
    r.dirs = w->dims[0];
    r.GH = w->dims[1];
    r.H = rt->dims[2];
    r.G = r.H ? r.GH / r.H : 1;
    r.x = x->data;
    r.reverse = !strcmp(sk_node_attr_s(n, "direction", "forward"), "reverse");
    r.lbr = kind == CELL_GRU && sk_node_attr_i(n, "linear_before_reset", 0) != 0;
    const float *dY = b->n_out > 0 ? b->gout[0] : NULL, *dYh = b->n_out > 1 ? b->gout[1] : NULL;
    const float *dYc = b->n_out > 2 ? b->gout[2] : NULL;
    if (!dY && !dYh && !dYc) return SK_OK;
    int64_t T = r.T, B = r.B, H = r.H, GH = r.GH, TB = T * B;
    if (TB > 0x7fffffff || GH > 0x7fffffff || r.nin > 0x7fffffff) return sk_err(SK_ERR_UNSUPPORTED, "too large");
    bool gru = kind == CELL_GRU;
    size_t nf = (size_t)(TB * GH * (gru ? 3 : 2) + TB * H * 4 + B * GH + 5 * B * H + 16);
    float *ws = sk_malloc(nf * sizeof(float));
    unsigned char *on = sk_malloc((size_t)(TB ? TB : 1));
    if (!ws || !on) { sk_free(ws); sk_free(on); return SK_ERR_NOMEM; }
    float *p = ws;
    r.gates = p; p += TB * GH;
    r.dzx = p; p += TB * GH;
    r.dzr = gru ? p : r.dzx; p += gru ? TB * GH : 0;
    r.hp = p; p += TB * H;
    r.cp = p; p += TB * H;
    r.cn = p; p += TB * H;
    r.u = p; p += TB * H;
    r.hr = p; p += B * GH;
    r.h = p; p += B * H;
    r.c = p; p += B * H;
    r.dh = p; p += B * H;
    r.dc = p; p += B * H;
    r.tmp = p;
    r.on = on;
    float *dx = b->gin[0], *dW = b->gin[1], *dR = b->gin[2], *dB = b->n_in > 3 ? b->gin[3] : NULL;
    float *dh0 = b->n_in > 5 ? b->gin[5] : NULL, *dc0 = kind == CELL_LSTM && b->n_in > 6 ? b->gin[6] : NULL;
    float *dPall = kind == CELL_LSTM && b->n_in > 7 ? b->gin[7] : NULL;
    for (int dir = 0; dir < r.dirs; dir++) {
        bool backward = dir == 1 || r.reverse;
        const float *W = (const float *)w->data + dir * GH * r.nin, *R = (const float *)rt->data + dir * GH * H;
        const float *Wb = bt ? (const float *)bt->data + dir * 2 * GH : NULL, *Rb = Wb ? Wb + GH : NULL;
        const float *P = pt ? (const float *)pt->data + dir * 3 * H : NULL;
        fwd_dir(&r, W, R, Wb, Rb, P, h0 ? (const float *)h0->data + dir * B * H : NULL,
                c0 ? (const float *)c0->data + dir * B * H : NULL, backward);
        for (int64_t i = 0; i < B * H; i++) {
            r.dh[i] = dYh ? dYh[dir * B * H + i] : 0.0f;
            r.dc[i] = dYc ? dYc[dir * B * H + i] : 0.0f;
        }
        bwd_dir(&r, R, P, dY, dir, backward, dPall ? dPall + dir * 3 * H : NULL);
        if (dh0) vadd(dh0 + dir * B * H, r.dh, B * H);
        if (dc0) vadd(dc0 + dir * B * H, r.dc, B * H);
        if (TB == 0) continue;
        if (dW && r.nin)   /* dW [GH, nin] += dZXᵀ · X */
            sk_sgemm_pool(b->pool, true, false, (int)GH, (int)r.nin, (int)TB, 1.0f, r.dzx, (int)GH, r.x, (int)r.nin,
                          1.0f, dW + dir * GH * r.nin, (int)r.nin);
        if (dx && r.nin)   /* dX [TB, nin] += dZX · W */
            sk_sgemm_pool(b->pool, false, false, (int)TB, (int)r.nin, (int)GH, 1.0f, r.dzx, (int)GH, W, (int)r.nin,
                          1.0f, dx, (int)r.nin);
        if (dR && H) {     /* dR [GH, H] += dZRᵀ · H_prev (GRU's h rows without lbr: · (r⊙H_prev)) */
            int64_t rows = gru && !r.lbr ? 2 * H : GH;
            float *dr = dR + dir * GH * H;
            sk_sgemm_pool(b->pool, true, false, (int)rows, (int)H, (int)TB, 1.0f, r.dzr, (int)GH, r.hp, (int)H, 1.0f,
                          dr, (int)H);
            if (gru && !r.lbr)
                sk_sgemm_pool(b->pool, true, false, (int)H, (int)H, (int)TB, 1.0f, r.dzr + 2 * H, (int)GH, r.u,
                              (int)H, 1.0f, dr + 2 * H * H, (int)H);
        }
        if (dB) {
            float *dwb = dB + dir * 2 * GH, *drb = dwb + GH;
            for (int64_t i = 0; i < TB; i++) {
                vadd(dwb, r.dzx + i * GH, GH);
                vadd(drb, r.dzr + i * GH, GH);
            }
        }
    }
    sk_free(ws);
    sk_free(on);
    return SK_OK;
}

sk_status sk_grad_lstm(sk_bctx *b) { return rnn_backward(b, CELL_LSTM); }
sk_status sk_grad_gru(sk_bctx *b) { return rnn_backward(b, CELL_GRU); }
sk_status sk_grad_rnn(sk_bctx *b) { return rnn_backward(b, CELL_RNN); }
