/* quant_int8.c — SmoothQuant for W8A8, and the "smoothquant" pass.
 *
 * W8A8 quantizes activations per row at run time; channels with outliers make
 * that coarse.  SmoothQuant (Xiao et al. 2022; REFERENCES.md) moves part of
 * the activation range into the weights: x' = x / s, W' = W·diag(s) with
 * s_j = max|X_j|^α / max|W_j|^(1−α), max|X_j| from calibration and max|W_j|
 * over every layer reading that input.  The division is folded into what
 * produces x (a LayerNorm's gamma and beta, or an earlier linear's output
 * channels, quant.c), so the fp32 function is unchanged and nothing is added
 * to the graph.  An input that cannot absorb the scale (a LayerNorm output
 * that is also the residual, as in BERT) is left alone and reported.
 *
 * The int8 grid itself (per output channel, symmetric) is quant.c's; the
 * "quantize" pass calls sk_quant_smooth when its smoothquant alpha is > 0,
 * and the "smoothquant" pass here runs it alone (handy to check that the
 * migration keeps the model's outputs, or to smooth before another tool).
 */
#include <math.h>
#include <string.h>
#include "quant.h"

void sk_quant_smooth_scales(const float *xmax, const float *wmax, int64_t K, double alpha, float *s)
{
    for (int64_t j = 0; j < K; j++) {
        if (!(xmax[j] > 0) || !(wmax[j] > 0)) { s[j] = 1; continue; }
        double v = pow(xmax[j], alpha) / pow(wmax[j], 1 - alpha);
        s[j] = (float)(v < 1e-5 ? 1e-5 : v > 1e5 ? 1e5 : v);
    }
}

sk_status sk_quant_smooth(sk_pass_ctx *c, sk_model *m, sk_qlayer *ls, int n, const int *idx, int n_idx, double alpha,
                          int *n_done)
{
    *n_done = 0;
    if (n_idx == 0) return SK_OK;
    sk_qstat *stats;
    int ns;
    sk_status st = sk_qstats_collect(c, m, ls, idx, n_idx, false, NULL, -1, &stats, &ns);
    if (st) return st;
    int *grp = sk_malloc(((size_t)n_idx + 1) * sizeof *grp), *cons = sk_malloc(((size_t)n_idx + 1) * sizeof *cons);
    float *wmax = NULL, *s = NULL;
    sk_foldnotes fn = {0};
    if (!grp || !cons) st = SK_ERR_NOMEM;
    for (int si = 0; si < ns && !st; si++) {   /* one input at a time, in graph order */
        const sk_qstat *x = &stats[si];
        int k = 0;
        for (int i = 0; i < n_idx; i++)
            if (ls[idx[i]].x == x->x) { grp[k] = idx[i]; cons[k] = ls[idx[i]].node; k++; }
        sk_fold f;
        sk_quant_find_fold(m, x->x, cons, k, &f);
        if (!f.kind) {
            sk_foldnotes_add(&fn, &f, m->g.nodes[cons[0]].name, k);
            continue;
        }
        sk_free(wmax);
        sk_free(s);
        wmax = sk_calloc((size_t)x->K, sizeof *wmax);
        s = sk_malloc((size_t)x->K * sizeof *s);
        if (!wmax || !s) { st = SK_ERR_NOMEM; break; }
        for (int i = 0; i < k; i++) {
            const sk_qlayer *l = &ls[grp[i]];
            const float *w = m->g.tensors[l->w].data;
            for (int64_t a = 0; a < l->N; a++)
                for (int64_t j = 0; j < l->K; j++) {
                    float v = fabsf(w[l->wt ? a * l->K + j : j * l->N + a]);
                    if (v > wmax[j]) wmax[j] = v;
                }
        }
        sk_quant_smooth_scales(x->max_abs, wmax, x->K, alpha, s);
        if ((st = sk_quant_apply_fold(m, &f, s, x->K, ls, n, grp, k))) break;
        *n_done += k;
    }
    if (!st) sk_foldnotes_emit(c, &fn, "not smoothed");
    sk_free(wmax);
    sk_free(s);
    sk_free(grp);
    sk_free(cons);
    sk_qstats_free(stats, ns);
    return st;
}

static sk_status smoothquant_run(sk_pass_ctx *c, sk_model *m)
{
    double alpha;
    const char *const *inc, *const *exc;
    int ni, ne;
    sk_status st;
    if ((st = c->get_float(c, "alpha", &alpha)) || (st = c->get_strings(c, "include", &inc, &ni)) ||
        (st = c->get_strings(c, "exclude", &exc, &ne)))
        return st;
    sk_qlayer *ls;
    int n;
    if ((st = sk_qlayers_find(m, &ls, &n))) return st;
    int *idx = sk_malloc(((size_t)n + 1) * sizeof *idx), k = 0, done = 0;
    if (!idx) st = SK_ERR_NOMEM;
    if (!st) st = sk_qlayers_select(m, ls, n, inc, ni, exc, ne, false);
    for (int i = 0; !st && i < n; i++) if (ls[i].selected) idx[k++] = i;
    if (!st && k == 0) st = c->error(c, SK_ERR_INVALID, "no layer to smooth");
    const sk_calib *cal;
    if (!st && (st = c->calib(c, m, &cal))) sk_err_prefix(st, "smoothquant");
    for (int i = 0; !st && i < k; i++) st = sk_qlayer_linearize(m, &ls[idx[i]]);
    if (!st) st = sk_quant_smooth(c, m, ls, n, idx, k, alpha, &done);
    if (!st) c->note(c, "alpha %g: %d of %d layers smoothed", alpha, done, k);
    sk_free(idx);
    sk_free(ls);
    return st;
}

static const struct sk_param smoothquant_params[] = {
    {"alpha", SK_PARAM_FLOAT, "0.5", "migration strength: s_j = max|X_j|^alpha / max|W_j|^(1-alpha)", NULL, 0, 1},
    {"include", SK_PARAM_STRINGS, "", "only layers whose node or weight name matches one of these globs", NULL, 0, 0},
    {"exclude", SK_PARAM_STRINGS, "", "never layers matching one of these globs", NULL, 0, 0},
    {NULL, 0, NULL, NULL, NULL, 0, 0},
};

const struct sk_pass sk_pass_smoothquant = {
    .api_version = SK_PASS_API_VERSION,
    .name = "smoothquant",
    .summary = "move activation outliers into the weights (fp32 function unchanged), before W8A8",
    .params = smoothquant_params,
    .run = smoothquant_run,
};
