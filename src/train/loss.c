/* loss.c — the losses of distillation, each with its gradient.
 *
 * Every function returns the loss (in double) and, when given a gradient
 * buffer, ADDS weight·∂loss/∂input into it, so several losses on one output
 * simply add up.  Softmaxes are computed in double with the max subtracted.
 *   kd    KL(softmax(t/T) ‖ softmax(s/T))·T², mean over rows (Hinton; DistilBERT's L_ce)
 *   ce    hard-label cross-entropy, mean over the labelled rows (label −1: none)
 *   cos   1 − cos(s, t) over the tokens the mask keeps (DistilBERT's L_cos)
 *   mse   (s·Pᵀ − t)² over kept tokens and teacher features, P learned when widths differ (TinyBERT)
 *   att   (scores_s − scores_t)² of one attention layer pair, scores = scale·q·kᵀ before
 *         softmax, over unmasked (query, key) pairs and heads (TinyBERT's L_attn)
 *   lm    next-token cross-entropy of a causal LM over positions the mask keeps
 */
#include <math.h>
#include <string.h>
#include "runtime/kernels/f32.h"
#include "train/train.h"

/* p = softmax(x/T) in double; returns log Σ exp(x/T − max) + max for log-probs */
static double softmax_d(const float *x, int64_t n, double T, double *p)
{
    double m = -INFINITY;
    for (int64_t i = 0; i < n; i++) if (x[i] / T > m) m = x[i] / T;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (p[i] = exp(x[i] / T - m));
    for (int64_t i = 0; i < n; i++) p[i] /= s;
    return m + log(s);
}

double sk_loss_kd(const float *s, const float *t, int64_t rows, int64_t C, float T, float weight, float *ds)
{
    double *ps = sk_malloc((size_t)(2 * C + 1) * sizeof *ps);
    if (!ps || rows == 0) { sk_free(ps); return 0; }
    double *pt = ps + C, loss = 0, Td = T;
    for (int64_t r = 0; r < rows; r++) {
        const float *sr = s + r * C, *tr = t + r * C;
        double lzs = softmax_d(sr, C, Td, ps), lzt = softmax_d(tr, C, Td, pt);
        for (int64_t c = 0; c < C; c++)
            if (pt[c] > 0) loss += pt[c] * ((tr[c] / Td - lzt) - (sr[c] / Td - lzs));
        if (ds)   /* ∂/∂s_c of T²·KL = T·(p_s − p_t), per row, then the mean */
            for (int64_t c = 0; c < C; c++) ds[r * C + c] += (float)(weight * Td * (ps[c] - pt[c]) / (double)rows);
    }
    sk_free(ps);
    return loss * Td * Td / (double)rows;
}

double sk_loss_ce(const float *s, const int32_t *labels, int64_t rows, int64_t C, float weight, float *ds)
{
    double *p = sk_malloc((size_t)(C + 1) * sizeof *p);
    if (!p || rows == 0) { sk_free(p); return 0; }
    double loss = 0;
    int64_t n = 0;
    for (int64_t r = 0; r < rows; r++) n += labels[r] >= 0;
    for (int64_t r = 0; r < rows; r++) {
        int32_t y = labels[r];
        if (y < 0) continue;
        double lz = softmax_d(s + r * C, C, 1.0, p);
        loss += lz - s[r * C + y];
        if (ds)
            for (int64_t c = 0; c < C; c++)
                ds[r * C + c] += (float)(weight * (p[c] - (c == y ? 1.0 : 0.0)) / (double)n);
    }
    sk_free(p);
    return n ? loss / (double)n : 0;
}

double sk_loss_cos(const float *s, const float *t, const int64_t *mask, int64_t rows, int64_t H, float weight,
                   float *ds)
{
    int64_t kept = 0;
    for (int64_t r = 0; r < rows; r++) kept += !mask || mask[r];
    if (!kept) return 0;
    double loss = 0;
    for (int64_t r = 0; r < rows; r++) {
        if (mask && !mask[r]) continue;
        const float *a = s + r * H, *b = t + r * H;
        double ab = 0, aa = 0, bb = 0;
        for (int64_t i = 0; i < H; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
        double na = sqrt(aa) + 1e-12, nb = sqrt(bb) + 1e-12, c = ab / (na * nb);
        loss += 1 - c;
        if (ds)   /* ∂(1 − cos)/∂a = −(b/(|a||b|) − cos·a/|a|²) */
            for (int64_t i = 0; i < H; i++)
                ds[r * H + i] -= (float)(weight * (b[i] / (na * nb) - c * a[i] / (na * na)) / (double)kept);
    }
    return loss / (double)kept;
}

double sk_loss_mse(const float *s, const float *t, const int64_t *mask, int64_t rows, int64_t Hs, int64_t Ht,
                   const float *P, float weight, float *ds, float *dP)
{
    int64_t kept = 0;
    for (int64_t r = 0; r < rows; r++) kept += !mask || mask[r];
    if (!kept) return 0;
    double *e = sk_malloc((size_t)(Ht + 1) * sizeof *e);
    if (!e) return 0;
    double loss = 0, norm = (double)kept * (double)Ht;
    for (int64_t r = 0; r < rows; r++) {
        if (mask && !mask[r]) continue;
        const float *a = s + r * Hs, *b = t + r * Ht;
        for (int64_t o = 0; o < Ht; o++) {
            double v;
            if (P) {
                v = 0;
                for (int64_t i = 0; i < Hs; i++) v += (double)P[o * Hs + i] * a[i];
            } else {
                v = a[o];
            }
            e[o] = v - b[o];
            loss += e[o] * e[o];
        }
        double k = 2.0 * weight / norm;
        if (ds) {
            if (P)
                for (int64_t o = 0; o < Ht; o++)
                    for (int64_t i = 0; i < Hs; i++) ds[r * Hs + i] += (float)(k * e[o] * P[o * Hs + i]);
            else
                for (int64_t o = 0; o < Ht; o++) ds[r * Hs + o] += (float)(k * e[o]);
        }
        if (P && dP)
            for (int64_t o = 0; o < Ht; o++)
                for (int64_t i = 0; i < Hs; i++) dP[o * Hs + i] += (float)(k * e[o] * a[i]);
    }
    sk_free(e);
    return loss / norm;
}

double sk_loss_att(const sk_att_qk *s, const sk_att_qk *t, const int64_t *mask, int64_t B, int64_t S, int64_t heads,
                   bool causal, float weight, float *dq, float *dk)
{
    int64_t hs = s->H / heads, ht = t->H / heads, n = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < S; i++)
            for (int64_t j = 0; j < S; j++)
                n += (!mask || (mask[b * S + i] && mask[b * S + j])) && (!causal || j <= i);
    if (!n || S > 0x7fffffff || hs > 0x7fffffff || ht > 0x7fffffff) return 0;
    float *as = sk_malloc((size_t)(3 * S * S + S * hs + 1) * sizeof *as);
    if (!as) return 0;
    float *at = as + S * S, *tr = at + S * S, *tmp = tr + S * S;
    double loss = 0, k = 2.0 * weight / ((double)n * (double)heads);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < heads; h++) {
            const float *qs = s->q + b * S * s->H + h * hs, *ks = s->k + b * S * s->H + h * hs;
            sk_sgemm_small_bt((int)S, (int)S, (int)hs, s->scale, qs, (int)s->H, ks, (int)s->H, as, (int)S);
            sk_sgemm_small_bt((int)S, (int)S, (int)ht, t->scale, t->q + b * S * t->H + h * ht, (int)t->H,
                              t->k + b * S * t->H + h * ht, (int)t->H, at, (int)S);
            for (int64_t i = 0; i < S; i++)   /* as := ∂L/∂score (0 where not counted) */
                for (int64_t j = 0; j < S; j++) {
                    bool on = (!mask || (mask[b * S + i] && mask[b * S + j])) && (!causal || j <= i);
                    double e = on ? (double)as[i * S + j] - at[i * S + j] : 0;
                    loss += e * e;
                    as[i * S + j] = (float)(k * e);
                    tr[j * S + i] = as[i * S + j];
                }
            if (dq) {   /* dQ += scale·D·K */
                sk_sgemm_small((int)S, (int)hs, (int)S, as, (int)S, ks, (int)s->H, tmp, (int)hs);
                for (int64_t i = 0; i < S; i++)
                    for (int64_t c = 0; c < hs; c++) dq[(b * S + i) * s->H + h * hs + c] += s->scale * tmp[i * hs + c];
            }
            if (dk) {   /* dK += scale·Dᵀ·Q */
                sk_sgemm_small((int)S, (int)hs, (int)S, tr, (int)S, qs, (int)s->H, tmp, (int)hs);
                for (int64_t j = 0; j < S; j++)
                    for (int64_t c = 0; c < hs; c++) dk[(b * S + j) * s->H + h * hs + c] += s->scale * tmp[j * hs + c];
            }
        }
    sk_free(as);
    return loss / ((double)n * (double)heads);
}

double sk_loss_lm(const float *logits, const int64_t *ids, const int64_t *mask, int64_t B, int64_t S, int64_t V,
                  float weight, float *dlogits, int64_t *n_scored)
{
    int64_t n = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t p = 0; p + 1 < S; p++) n += !mask || (mask[b * S + p] && mask[b * S + p + 1]);
    if (n_scored) *n_scored = n;
    if (!n) return 0;
    double *pr = sk_malloc((size_t)(V + 1) * sizeof *pr);
    if (!pr) return 0;
    double loss = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t p = 0; p + 1 < S; p++) {
            if (mask && !(mask[b * S + p] && mask[b * S + p + 1])) continue;
            const float *l = logits + (b * S + p) * V;
            int64_t y = ids[b * S + p + 1];
            double lz = softmax_d(l, V, 1.0, pr);
            loss += lz - l[y];
            if (dlogits) {
                float *d = dlogits + (b * S + p) * V;
                for (int64_t c = 0; c < V; c++) d[c] += (float)(weight * (pr[c] - (c == y ? 1.0 : 0.0)) / (double)n);
            }
        }
    sk_free(pr);
    return loss / (double)n;
}
