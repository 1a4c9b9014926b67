/* quant_int4.c — GPTQ and AWQ on one weight matrix.
 *
 * Both improve on round-to-nearest using the layer's calibration inputs, seen
 * only through their Gram matrix H ∝ XᵀX [K, K] (the pass accumulates it on
 * the fly, so activations are never kept).  Both are written for the 4-bit
 * grid of quant.h and work unchanged with the 8-bit per-channel one.
 *
 * GPTQ (Frantar et al. 2022; REFERENCES.md): with U the upper Cholesky factor
 * of (H + λI)⁻¹, columns are quantized in order and each column's error
 * err = (w − q)/U_ii is pushed into the remaining columns through row i of U;
 * updates to columns beyond the current block of B are applied lazily, one
 * GEMM per block.  The Cholesky factorisations are LAPACK's (OpenBLAS).
 *
 * AWQ (Lin et al. 2023): per input channel s = mean|x|^α, α on a grid over
 * [0, 1], keeping the α that minimises the output error of Q(W·diag s)·diag s⁻¹
 * (α = 0 is RTN); then per (row, group) the clipping ratio with the least
 * output error.  Folding s into the previous op is the graph side's (quant.c).
 */
#include <cblas.h>
#include <math.h>
#include <string.h>
#include "quant.h"

/* LAPACK through OpenBLAS (its C entry points; column-major, LP64). */
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);

double sk_quant_output_err(const float *w, const float *w_hat, int64_t N, int64_t K, const float *H)
{
    double err = 0;
    float *d = sk_malloc((size_t)K * sizeof *d), *hd = sk_malloc((size_t)K * sizeof *hd);
    if (!d || !hd) { sk_free(d); sk_free(hd); return NAN; }
    for (int64_t n = 0; n < N; n++) {
        for (int64_t k = 0; k < K; k++) d[k] = w[n * K + k] - w_hat[n * K + k];
        cblas_ssymv(CblasRowMajor, CblasUpper, (int)K, 1.0f, H, (int)K, d, 1, 0.0f, hd, 1);
        for (int64_t k = 0; k < K; k++) err += (double)d[k] * hd[k];
    }
    sk_free(d);
    sk_free(hd);
    return err;
}

/* ---- GPTQ ---- */

/* Row-major upper U with (H)⁻¹ = UᵀU, in place on the K×K double matrix a
 * (symmetric positive definite).  A row-major matrix read as column-major is
 * its transpose, so LAPACK's lower factor L of Hinv (Hinv = L·Lᵀ) lands in the
 * row-major upper triangle as Lᵀ = U. */
static bool chol_inverse_upper(double *a, int K)
{
    int info = 0;
    dpotrf_("L", &K, a, &K, &info);
    if (info) return false;
    dpotri_("L", &K, a, &K, &info);          /* H⁻¹ in the column-major lower = row-major upper triangle */
    if (info) return false;
    for (int i = 0; i < K; i++)
        for (int j = 0; j < i; j++) a[(size_t)i * K + j] = a[(size_t)j * K + i];
    dpotrf_("L", &K, a, &K, &info);
    if (info) return false;
    for (int i = 0; i < K; i++)
        for (int j = 0; j < i; j++) a[(size_t)i * K + j] = 0;
    return true;
}

bool sk_chol_inv_upper(double *a, int K) { return chol_inverse_upper(a, K); }

sk_status sk_quant_gptq(const float *w0, const float *H0, int64_t N, int64_t K, const sk_qspec *s,
                        const sk_gptq_opts *o, sk_qmat *q, double *damp_used)
{
    sk_status st = sk_qmat_alloc(q, s, N, K);
    if (st) return st;
    const int64_t g = s->group, G = K / g;
    int64_t B = o->block > 0 ? o->block : 128;
    if (B % g && g <= K) B = (B / g + 1) * g;   /* a group never straddles two blocks */
    if (B > K) B = K;
    float *W = sk_malloc((size_t)(N * K) * sizeof *W);        /* [N, K] working copy, columns permuted */
    double *Hd = sk_malloc((size_t)(K * K) * sizeof *Hd);     /* [K, K] → U */
    float *U = sk_malloc((size_t)(K * K) * sizeof *U);        /* [K, K] float copy for the block GEMM */
    float *E = sk_malloc((size_t)(N * B) * sizeof *E);        /* [N, B] scaled errors of the block */
    int64_t *perm = sk_malloc((size_t)K * sizeof *perm);
    float *gs = sk_malloc((size_t)(N * G) * sizeof *gs);      /* [N, G] group scales */
    int *gz = sk_malloc((size_t)(N * G) * sizeof *gz);        /* [N, G] group zeros */
    if (!W || !Hd || !U || !E || !perm || !gs || !gz) { st = SK_ERR_NOMEM; goto done; }

    for (int64_t k = 0; k < K; k++) perm[k] = k;
    if (o->act_order) {   /* by decreasing H_kk (shell sort) */
        for (int64_t gap = K / 2; gap > 0; gap /= 2)
            for (int64_t i = gap; i < K; i++)
                for (int64_t j = i; j >= gap && H0[perm[j - gap] * K + perm[j - gap]] < H0[perm[j] * K + perm[j]]; j -= gap) {
                    int64_t t = perm[j];
                    perm[j] = perm[j - gap];
                    perm[j - gap] = t;
                }
    }
    /* dead inputs (never nonzero in calibration): H_kk = 1, their weights zero */
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) W[n * K + k] = H0[perm[k] * K + perm[k]] == 0 ? 0 : w0[n * K + perm[k]];
    /* groups: from the unquantized W when columns are reordered (static groups) */
    if (o->act_order || g == K)
        for (int64_t n = 0; n < N; n++)
            for (int64_t gi = 0; gi < G; gi++) sk_quant_grid(s, w0 + n * K + gi * g, g, 1.0f, &gs[n * G + gi], &gz[n * G + gi]);

    double mean_diag = 0;
    for (int64_t k = 0; k < K; k++) mean_diag += H0[k * K + k];
    mean_diag /= (double)K;
    if (!(mean_diag > 0)) mean_diag = 1;
    double damp = o->damp;
    for (int attempt = 0;; attempt++) {
        for (int64_t i = 0; i < K; i++)
            for (int64_t j = 0; j < K; j++) {
                double h = H0[perm[i] * K + perm[j]];
                if (i == j) h = (h == 0 ? 1 : h) + damp * mean_diag;
                Hd[i * K + j] = h;
            }
        if (chol_inverse_upper(Hd, (int)K)) break;
        if (attempt == 6) { st = sk_err(SK_ERR_INVALID, "gptq: H is not positive definite even with damping %g", damp); goto done; }
        damp = damp > 0 ? damp * 10 : 1e-4;
    }
    if (damp_used) *damp_used = damp;
    for (int64_t i = 0; i < K * K; i++) U[i] = (float)Hd[i];

    for (int64_t i1 = 0; i1 < K; i1 += B) {
        int64_t i2 = i1 + B < K ? i1 + B : K, nb = i2 - i1;
        for (int64_t i = i1; i < i2; i++) {
            int64_t orig = perm[i], gi = orig / g;
            if (!o->act_order && g < K && i % g == 0)   /* this group's grid from the updated weights */
                for (int64_t n = 0; n < N; n++) sk_quant_grid(s, W + n * K + i, g, 1.0f, &gs[n * G + gi], &gz[n * G + gi]);
            double d = Hd[i * K + i];
            for (int64_t n = 0; n < N; n++) {
                float wv = W[n * K + i], sc = gs[n * G + gi];
                int z = gz[n * G + gi], code = sk_quant_code(s, wv, sc, z);
                int64_t e = n * K + orig;
                if (s->bits == 8) ((int8_t *)q->codes)[e] = (int8_t)code;
                else {
                    uint8_t *b = (uint8_t *)q->codes + e / 2;
                    *b = e % 2 ? (uint8_t)((*b & 15) | code << 4) : (uint8_t)((*b & 0xf0) | code);
                }
                float err = (float)((wv - sk_quant_value(s, code, sc, z)) / d);
                E[n * B + (i - i1)] = err;
                const float *ur = U + i * K;
                float *wr = W + n * K;
                for (int64_t j = i + 1; j < i2; j++) wr[j] -= err * ur[j];
            }
        }
        if (i2 < K)   /* W[:, i2:] -= E · U[i1:i2, i2:] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)(K - i2), (int)nb, -1.0f, E, (int)B,
                        U + i1 * K + i2, (int)K, 1.0f, W + i2, (int)K);
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t gi = 0; gi < G; gi++) {
            q->scales[n * G + gi] = gs[n * G + gi];
            if (q->zeros) q->zeros[n * G + gi] = (uint8_t)gz[n * G + gi];
        }
done:
    sk_free(W);
    sk_free(Hd);
    sk_free(U);
    sk_free(E);
    sk_free(perm);
    sk_free(gs);
    sk_free(gz);
    if (st) sk_qmat_free(q);
    return st;
}

/* ---- AWQ ---- */

/* Σ_n d_nᵀ H d_n for D = W − Ŵ [N, K], as Σ (D·H) ∘ D with one GEMM. */
static double gram_err(const float *D, float *DH, int64_t N, int64_t K, const float *H)
{
    cblas_ssymm(CblasRowMajor, CblasRight, CblasUpper, (int)N, (int)K, 1.0f, H, (int)K, D, (int)K, 0.0f, DH, (int)K);
    double e = 0;
    for (int64_t i = 0; i < N * K; i++) e += (double)D[i] * DH[i];
    return e;
}

sk_status sk_quant_awq_search(const sk_awq_layer *ls, int n_layers, int64_t K, const float *H, const float *mean_abs,
                              int grid, float *s, sk_awq_result *r)
{
    int64_t maxN = 0;
    for (int i = 0; i < n_layers; i++) if (ls[i].N > maxN) maxN = ls[i].N;
    size_t nk = (size_t)(maxN * K);
    float *ws = sk_malloc(nk * sizeof *ws), *D = sk_malloc(nk * sizeof *D), *DH = sk_malloc(nk * sizeof *DH);
    float *cand = sk_malloc((size_t)K * sizeof *cand);
    sk_status st = ws && D && DH && cand ? SK_OK : SK_ERR_NOMEM;
    if (grid < 1) grid = 1;
    memset(r, 0, sizeof *r);
    double best = INFINITY;
    for (int a = 0; a <= grid && !st; a++) {
        double alpha = (double)a / grid;
        float mx = 0, mn = INFINITY;
        for (int64_t k = 0; k < K; k++) {
            float v = mean_abs[k] > 0 ? powf(mean_abs[k], (float)alpha) : 1.0f;
            if (v < 1e-4f) v = 1e-4f;
            cand[k] = v;
            if (v > mx) mx = v;
            if (v < mn) mn = v;
        }
        float norm = sqrtf(mx * mn);
        for (int64_t k = 0; k < K; k++) cand[k] /= norm;
        double loss = 0;
        for (int i = 0; i < n_layers && !st; i++) {
            const sk_awq_layer *l = &ls[i];
            for (int64_t n = 0; n < l->N; n++)
                for (int64_t k = 0; k < K; k++) ws[n * K + k] = l->w[n * K + k] * cand[k];
            sk_qmat q;
            if ((st = sk_quant_rtn(ws, l->N, K, &l->spec, NULL, &q))) break;
            sk_qmat_dequant(&q, D);
            sk_qmat_free(&q);
            for (int64_t n = 0; n < l->N; n++)
                for (int64_t k = 0; k < K; k++) D[n * K + k] = l->w[n * K + k] - D[n * K + k] / cand[k];
            loss += gram_err(D, DH, l->N, K, H);
        }
        if (a == 0) r->loss_rtn = loss;
        if (!st && loss < best) {
            best = loss;
            r->alpha = alpha;
            r->loss = loss;
            memcpy(s, cand, (size_t)K * sizeof *s);
        }
    }
    sk_free(ws);
    sk_free(D);
    sk_free(DH);
    sk_free(cand);
    return st;
}

#define CLIP_STEPS 11   /* ratios 1, 0.95, ..., 0.5 (llm-awq: n_grid 20, max_shrink 0.5) */

sk_status sk_quant_awq_clip(const float *w, int64_t N, int64_t K, const float *H, const sk_qspec *s, sk_qmat *q)
{
    const int64_t g = s->group, G = K / g;
    float *clip = sk_malloc((size_t)(N * G) * sizeof *clip);
    float *Hg = sk_malloc((size_t)(g * g) * sizeof *Hg), *d = sk_malloc((size_t)g * sizeof *d);
    float *hd = sk_malloc((size_t)g * sizeof *hd);
    if (!clip || !Hg || !d || !hd) {
        sk_free(clip); sk_free(Hg); sk_free(d); sk_free(hd);
        return SK_ERR_NOMEM;
    }
    for (int64_t gi = 0; gi < G; gi++) {
        for (int64_t a = 0; a < g; a++)
            for (int64_t b = 0; b < g; b++) Hg[a * g + b] = H[(gi * g + a) * K + gi * g + b];
        for (int64_t n = 0; n < N; n++) {
            const float *v = w + n * K + gi * g;
            double best = INFINITY;
            float best_r = 1;
            for (int c = 0; c < CLIP_STEPS; c++) {
                float ratio = 1.0f - 0.05f * (float)c, sc;
                int z;
                sk_quant_grid(s, v, g, ratio, &sc, &z);
                for (int64_t j = 0; j < g; j++) d[j] = v[j] - sk_quant_value(s, sk_quant_code(s, v[j], sc, z), sc, z);
                cblas_ssymv(CblasRowMajor, CblasUpper, (int)g, 1.0f, Hg, (int)g, d, 1, 0.0f, hd, 1);
                double e = 0;
                for (int64_t j = 0; j < g; j++) e += (double)d[j] * hd[j];
                if (e < best) { best = e; best_r = ratio; }
            }
            clip[n * G + gi] = best_r;
        }
    }
    /* Groups were judged alone (H's diagonal blocks); a row keeps its ratios only if
     * they also lower the row's whole output error dᵀ H d. */
    sk_qmat qc, q1;
    sk_status st = sk_quant_rtn(w, N, K, s, clip, &qc);
    if (!st && (st = sk_quant_rtn(w, N, K, s, NULL, &q1))) sk_qmat_free(&qc);
    float *wc = st ? NULL : sk_malloc((size_t)(N * K) * sizeof *wc), *w1 = st ? NULL : sk_malloc((size_t)(N * K) * sizeof *w1);
    float *dr = st ? NULL : sk_malloc((size_t)K * sizeof *dr), *hr = st ? NULL : sk_malloc((size_t)K * sizeof *hr);
    if (!st && (!wc || !w1 || !dr || !hr)) st = SK_ERR_NOMEM;
    if (!st) {
        sk_qmat_dequant(&qc, wc);
        sk_qmat_dequant(&q1, w1);
        for (int64_t n = 0; n < N; n++) {
            double e[2];
            for (int v = 0; v < 2; v++) {
                const float *wh = (v ? w1 : wc) + n * K;
                for (int64_t k = 0; k < K; k++) dr[k] = w[n * K + k] - wh[k];
                cblas_ssymv(CblasRowMajor, CblasUpper, (int)K, 1.0f, H, (int)K, dr, 1, 0.0f, hr, 1);
                e[v] = 0;
                for (int64_t k = 0; k < K; k++) e[v] += (double)dr[k] * hr[k];
            }
            if (e[1] <= e[0])
                for (int64_t gi = 0; gi < G; gi++) clip[n * G + gi] = 1;
        }
        sk_qmat_free(&qc);
        sk_qmat_free(&q1);
        st = sk_quant_rtn(w, N, K, s, clip, q);
    }
    sk_free(wc);
    sk_free(w1);
    sk_free(dr);
    sk_free(hr);
    sk_free(clip);
    sk_free(Hg);
    sk_free(d);
    sk_free(hd);
    return st;
}
