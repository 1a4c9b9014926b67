/* prune.c — the "prune" pass: unstructured and N:M sparsity of linear
 * layers by magnitude, Wanda or SparseGPT.
 *
 * Layers are chosen exactly as the quantize pass chooses them (quant.h:
 * LINEARs and MatMul / Gemm with a constant f32 weight, the head — LM head,
 * classifier — left alone unless an include pattern names it); pruned
 * weights become 0.0 in the fp32 tensor, so the graph keeps its shape and any
 * later pass (quantize: zero stays zero on every grid) or writer sees them.
 * The .skm writer stores such tensors as a bitmask plus the non-zeros, and
 * the LINEAR kernel switches to a sparse product when that is faster
 * (src/runtime/kernels/sparse.c).
 *
 *   magnitude  score |w|: the lowest fraction of each matrix (scope layer) or
 *              of all selected matrices together (scope global).  No data.
 *   wanda      score |w_ij|·‖X_j‖₂ over calibration tokens, the lowest
 *              fraction of each output row (Sun et al. 2023).
 *   sparsegpt  one-shot OBS-style pruning with weight reconstruction (Frantar
 *              & Alistarh 2023): H ∝ XᵀX, the mask chosen per block of 128
 *              columns by w²/[H⁻¹]_cc², each pruned weight's error pushed into
 *              the remaining columns.
 * With nm "N:M" every row drops the N lowest-scored of each M consecutive
 * inputs (2:4, 4:8).  Wanda and SparseGPT see each layer's real inputs:
 * layers go in stages (quant.h's sk_qlayers_stages) and the calibration
 * samples run again before each stage, through the layers already pruned
 * (each run continuing the last from the first layer it pruned: quant.h's
 * sk_qlayers_keep).
 *
 * Everything the user can get wrong (sparsity, nm, patterns, a K that is no
 * multiple of M, missing calibration data) is checked before any weight
 * changes.  The matrix routines know nothing of graphs; the unit test calls
 * them on hand-made matrices (tests/unit/test_prune.c).
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "prune.h"

/* ---- options ---- */

sk_status sk_prune_check_sparsity(double s)
{
    if (!(s >= 0 && s < 1))
        return sk_err(SK_ERR_INVALID, "sparsity %g is outside [0, 1) (the fraction of weights set to zero)", s);
    return SK_OK;
}

sk_status sk_prune_check_fraction(const char *what, double f)
{
    if (!(f >= 0 && f < 1))
        return sk_err(SK_ERR_INVALID, "%s %g is outside [0, 1) (the fraction of %s removed from each layer)", what, f,
                      !strcmp(what, "heads") ? "attention heads" : "FFN neurons");
    return SK_OK;
}

static bool parse_int(const char *s, size_t len, long *v)
{
    if (len == 0 || len > 9) return false;
    *v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

sk_status sk_prune_parse_nm(const char *s, int *n, int *m)
{
    *n = *m = 0;
    if (!s || !s[0]) return SK_OK;
    const char *colon = strchr(s, ':');
    long a, b;
    if (!colon || !parse_int(s, (size_t)(colon - s), &a) || !parse_int(colon + 1, strlen(colon + 1), &b))
        return sk_err(SK_ERR_INVALID, "nm '%s' is not N:M (two integers, e.g. 2:4)", s);
    if (a >= b)
        return sk_err(SK_ERR_INVALID, "nm '%s': N must be smaller than M (N of every M consecutive weights are dropped)", s);
    if (a < 1) return sk_err(SK_ERR_INVALID, "nm '%s': N must be at least 1", s);
    if (b > 256) return sk_err(SK_ERR_INVALID, "nm '%s': M must be at most 256", s);
    *n = (int)a;
    *m = (int)b;
    return SK_OK;
}

/* ---- selecting the lowest scores ---- */

/* The k-th smallest (0-based) of v[0..n), reordering v (Hoare's select). */
static float kth_smallest(float *v, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi];   /* median of three */
        float pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot) i++;
            while (v[j] > pivot) j--;
            if (i <= j) {
                float t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else break;
    }
    return v[k];
}

sk_status sk_prune_lowest(const float *score, int64_t n, int64_t k, uint8_t *drop)
{
    if (k <= 0 || n <= 0) { if (n > 0) memset(drop, 0, (size_t)n); return SK_OK; }
    if (k >= n) { memset(drop, 1, (size_t)n); return SK_OK; }
    float *tmp = sk_malloc((size_t)n * sizeof *tmp);
    if (!tmp) return SK_ERR_NOMEM;
    memcpy(tmp, score, (size_t)n * sizeof *tmp);
    float t = kth_smallest(tmp, n, k - 1);
    sk_free(tmp);
    int64_t cnt = 0;
    for (int64_t i = 0; i < n; i++) cnt += (drop[i] = score[i] < t);
    for (int64_t i = 0; i < n && cnt < k; i++)
        if (score[i] == t) { drop[i] = 1; cnt++; }
    return SK_OK;
}

/* The nm_n lowest of v[0..m) into drop (m small: repeated minimum). */
static void lowest_of_group(const float *v, int m, int nm_n, uint8_t *drop)
{
    memset(drop, 0, (size_t)m);
    for (int r = 0; r < nm_n; r++) {
        int best = -1;
        for (int j = 0; j < m; j++)
            if (!drop[j] && (best < 0 || v[j] < v[best])) best = j;
        drop[best] = 1;
    }
}

static int64_t count_of(double s, int64_t n) { return (int64_t)(s * (double)n + 1e-9); }

int64_t sk_prune_by_score(float *w, const float *score, int64_t N, int64_t K, double s, bool per_row, int nm_n,
                          int nm_m)
{
    uint8_t *drop = sk_malloc((size_t)(N * K) + 1);
    if (!drop) return -1;
    sk_status st = SK_OK;
    if (nm_m > 0) {
        SK_ASSERT(K % nm_m == 0 && nm_n < nm_m);
        for (int64_t i = 0; i < N * K; i += nm_m) lowest_of_group(score + i, nm_m, nm_n, drop + i);
    } else if (per_row) {
        for (int64_t r = 0; r < N && !st; r++) st = sk_prune_lowest(score + r * K, K, count_of(s, K), drop + r * K);
    } else {
        st = sk_prune_lowest(score, N * K, count_of(s, N * K), drop);
    }
    int64_t z = 0;
    for (int64_t i = 0; !st && i < N * K; i++)
        if (drop[i]) { w[i] = 0.0f; z++; }
    sk_free(drop);
    return st ? -1 : z;
}

int64_t sk_prune_magnitude(float *w, int64_t N, int64_t K, double s, int nm_n, int nm_m)
{
    float *sc = sk_malloc((size_t)(N * K) * sizeof *sc + 1);
    if (!sc) return -1;
    for (int64_t i = 0; i < N * K; i++) sc[i] = fabsf(w[i]);
    int64_t z = sk_prune_by_score(w, sc, N, K, s, false, nm_n, nm_m);
    sk_free(sc);
    return z;
}

int64_t sk_prune_wanda(float *w, const float *xnorm, int64_t N, int64_t K, double s, int nm_n, int nm_m)
{
    float *sc = sk_malloc((size_t)(N * K) * sizeof *sc + 1);
    if (!sc) return -1;
    for (int64_t r = 0; r < N; r++)
        for (int64_t k = 0; k < K; k++) sc[r * K + k] = fabsf(w[r * K + k]) * xnorm[k];
    int64_t z = sk_prune_by_score(w, sc, N, K, s, true, nm_n, nm_m);
    sk_free(sc);
    return z;
}

int64_t sk_prune_count_zeros(const float *w, int64_t n)
{
    int64_t z = 0;
    for (int64_t i = 0; i < n; i++) z += w[i] == 0.0f;
    return z;
}

/* ---- SparseGPT ---- */

sk_status sk_prune_sparsegpt(float *W, const float *H0, int64_t N, int64_t K, double s, int nm_n, int nm_m,
                             const sk_sparsegpt_opts *o, int64_t *n_zero, double *damp_used)
{
    int64_t B = o->block > 0 ? o->block : 128;
    if (nm_m > 0 && B % nm_m) B = (B / nm_m + 1) * nm_m;   /* an N:M group never straddles two blocks */
    if (B > K) B = K;
    sk_status st = SK_OK;
    double *Hd = sk_malloc((size_t)(K * K) * sizeof *Hd);     /* [K, K] → U */
    float *U = sk_malloc((size_t)(K * K) * sizeof *U);        /* [K, K] float copy for the block GEMM */
    float *E = sk_malloc((size_t)(N * B) * sizeof *E);        /* [N, B] scaled errors of the block */
    float *sc = sk_malloc((size_t)(N * B) * sizeof *sc);      /* [N, B] scores w²/U_cc² of the block */
    uint8_t *drop = sk_malloc((size_t)(N * B));                /* [N, B] mask of the block */
    if (!Hd || !U || !E || !sc || !drop) { st = SK_ERR_NOMEM; goto done; }

    /* dead inputs (never nonzero in calibration): H_kk = 1, their weights zero */
    for (int64_t k = 0; k < K; k++)
        if (H0[k * K + k] == 0)
            for (int64_t n = 0; n < N; n++) W[n * K + k] = 0;
    double mean_diag = 0;
    for (int64_t k = 0; k < K; k++) mean_diag += H0[k * K + k];
    mean_diag /= (double)K;
    if (!(mean_diag > 0)) mean_diag = 1;
    double damp = o->damp;
    for (int attempt = 0;; attempt++) {
        for (int64_t i = 0; i < K * K; i++) Hd[i] = H0[i];
        for (int64_t i = 0; i < K; i++) Hd[i * K + i] = (Hd[i * K + i] == 0 ? 1 : Hd[i * K + i]) + damp * mean_diag;
        if (sk_chol_inv_upper(Hd, (int)K)) break;
        if (attempt == 6) { st = sk_err(SK_ERR_INVALID, "sparsegpt: H is not positive definite even with damping %g", damp); goto done; }
        damp = damp > 0 ? damp * 10 : 1e-4;
    }
    if (damp_used) *damp_used = damp;
    for (int64_t i = 0; i < K * K; i++) U[i] = (float)Hd[i];

    for (int64_t i1 = 0; i1 < K; i1 += B) {
        int64_t i2 = i1 + B < K ? i1 + B : K, nb = i2 - i1;
        if (nm_m == 0) {   /* the block's mask, from its weights as they are now */
            for (int64_t n = 0; n < N; n++)
                for (int64_t j = 0; j < nb; j++) {
                    float d = U[(i1 + j) * K + i1 + j], w = W[n * K + i1 + j];
                    sc[n * nb + j] = w * w / (d * d);
                }
            if ((st = sk_prune_lowest(sc, N * nb, count_of(s, N * nb), drop))) goto done;
        }
        for (int64_t i = i1; i < i2; i++) {
            int64_t j0 = i - i1;
            if (nm_m > 0 && j0 % nm_m == 0)   /* N:M: this group's mask, from the updated weights */
                for (int64_t n = 0; n < N; n++) {
                    float g[256];
                    for (int j = 0; j < nm_m; j++) {
                        float d = U[(i + j) * K + i + j], w = W[n * K + i + j];
                        g[j] = w * w / (d * d);
                    }
                    lowest_of_group(g, nm_m, nm_n, drop + n * nb + j0);
                }
            float d = U[i * K + i];
            const float *ur = U + i * K;
            for (int64_t n = 0; n < N; n++) {
                float *wr = W + n * K, w = wr[i];
                float q = drop[n * nb + j0] ? 0.0f : w;
                float err = (w - q) / d;
                wr[i] = q;
                E[n * B + j0] = err;
                if (err != 0.0f)
                    for (int64_t j = i + 1; j < i2; j++) wr[j] -= err * ur[j];
            }
        }
        if (i2 < K)   /* W[:, i2:] -= E · U[i1:i2, i2:] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)(K - i2), (int)nb, -1.0f, E, (int)B,
                        U + i1 * K + i2, (int)K, 1.0f, W + i2, (int)K);
    }
    if (n_zero) *n_zero = sk_prune_count_zeros(W, N * K);
done:
    sk_free(Hd);
    sk_free(U);
    sk_free(E);
    sk_free(sc);
    sk_free(drop);
    return st;
}

/* ---- the graph side ---- */

enum { PM_MAGNITUDE, PM_WANDA, PM_SPARSEGPT };
static const char *const method_names[] = {"magnitude", "wanda", "sparsegpt"};

typedef struct popts {
    double sparsity;
    int method;
    bool global;
    int nm_n, nm_m;
    sk_sparsegpt_opts sg;
} popts;

int sk_prune_uses(const sk_graph *g, int t)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) n += g->nodes[i].in[k] == t;
    return n;
}

sk_status sk_prune_unshare(sk_model *m, int node, int slot)
{
    sk_graph *g = &m->g;
    int tid = g->nodes[node].in[slot];
    if (sk_prune_uses(g, tid) < 2) return sk_quant_own(m, tid);
    const sk_tensor *t = &g->tensors[tid];
    const char *base = g->nodes[node].name, *what = slot == 1 ? "weight" : slot == 2 ? "bias" : "input";
    size_t len = strlen(base) + 32;
    char *name = sk_malloc(len);
    void *d = sk_malloc(t->nbytes ? t->nbytes : 1);
    if (!name || !d) { sk_free(name); sk_free(d); return SK_ERR_NOMEM; }
    snprintf(name, len, "%s.%s", base, what);
    for (int i = 1; sk_graph_find_tensor(g, name) >= 0; i++) snprintf(name, len, "%s.%s.%d", base, what, i);
    if (t->nbytes) memcpy(d, t->data, t->nbytes);
    int id = sk_graph_add_const(g, name, t->dtype, t->rank, t->dims, d, true);
    sk_free(name);
    if (id < 0) return SK_ERR_NOMEM;
    g->tensors[id].flags |= g->tensors[tid].flags & SK_TF_WEIGHT;
    g->nodes[node].in[slot] = id;
    return SK_OK;
}

/* A weight shared with another node (a head tied to the embedding) gets a
 * copy of its own before it is pruned, so the other user keeps its values. */
static sk_status own_layer(sk_model *m, sk_qlayer *l)
{
    sk_status st = sk_prune_unshare(m, l->node, 1);
    l->w = m->g.nodes[l->node].in[1];
    return st;
}

/* Prune one layer with the weights as [N, K] floats; writes them back. */
static sk_status prune_layer(const popts *o, sk_pass_ctx *c, sk_model *m, sk_qlayer *l, const sk_qstat *x,
                             int64_t *zeros)
{
    sk_status st = own_layer(m, l);
    if (st) return st;
    float *w = sk_qlayer_weight(m, l);
    if (!w) return SK_ERR_NOMEM;
    int64_t z = 0;
    if (o->method == PM_MAGNITUDE) {
        z = sk_prune_magnitude(w, l->N, l->K, o->sparsity, o->nm_n, o->nm_m);
    } else if (o->method == PM_WANDA) {
        float *xn = sk_malloc((size_t)l->K * sizeof *xn);
        if (xn) {
            for (int64_t k = 0; k < l->K; k++) xn[k] = sqrtf(x->mean_sq[k]);
            z = sk_prune_wanda(w, xn, l->N, l->K, o->sparsity, o->nm_n, o->nm_m);
        } else {
            z = -1;
        }
        sk_free(xn);
    } else {
        double damp = o->sg.damp;
        st = sk_prune_sparsegpt(w, x->H, l->N, l->K, o->sparsity, o->nm_n, o->nm_m, &o->sg, &z, &damp);
        if (!st && damp != o->sg.damp)
            c->note(c, "%s: sparsegpt needed damping %g (H not positive definite at %g)", m->g.nodes[l->node].name, damp,
                    o->sg.damp);
    }
    if (!st && z < 0) st = SK_ERR_NOMEM;
    if (!st) st = sk_qlayer_store(m, l, w);
    sk_free(w);
    *zeros += z > 0 ? z : 0;
    return st;
}

/* |w| as an ordered integer: for non-negative floats the bit patterns sort
 * like the values. */
static uint32_t abs_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return u & 0x7fffffffu;
}

/* Magnitude over all selected layers at once: the lowest floor(s·total) |w|.
 * The threshold comes from a binary search over bit patterns, counting
 * through the weights each time, so memory stays at nothing extra. */
static sk_status magnitude_global(const popts *o, sk_pass_ctx *c, sk_model *m, sk_qlayer *ls, int n, int64_t *zeros)
{
    int64_t total = 0;
    int n_sel = 0;
    sk_status st = SK_OK;
    for (int i = 0; i < n; i++)
        if (ls[i].selected) { total += ls[i].N * ls[i].K; n_sel++; }
    int64_t k = count_of(o->sparsity, total);
    if (k == 0) return SK_OK;
    uint32_t lo = 0, hi = 0x7f800000u;   /* smallest t with count(|w| <= t) >= k */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int64_t cnt = 0;
        for (int i = 0; i < n; i++) {
            if (!ls[i].selected) continue;
            const float *w = m->g.tensors[ls[i].w].data;
            for (int64_t j = 0; j < ls[i].N * ls[i].K; j++) cnt += abs_bits(w[j]) <= mid;
        }
        if (cnt >= k) hi = mid;
        else lo = mid + 1;
    }
    int64_t below = 0;
    for (int i = 0; i < n; i++) {
        if (!ls[i].selected) continue;
        const float *w = m->g.tensors[ls[i].w].data;
        for (int64_t j = 0; j < ls[i].N * ls[i].K; j++) below += abs_bits(w[j]) < lo;
    }
    int64_t ties = k - below, done = 0;   /* those equal to the threshold, first come first */
    for (int i = 0; i < n && !st; i++) {
        sk_qlayer *l = &ls[i];
        if (!l->selected) continue;
        if ((st = own_layer(m, l)) || (st = sk_quant_own(m, l->w))) break;
        float *w = m->g.tensors[l->w].data;
        for (int64_t j = 0; j < l->N * l->K; j++) {
            uint32_t b = abs_bits(w[j]);
            if (b < lo || (b == lo && ties > 0)) {
                if (b == lo) ties--;
                w[j] = 0.0f;
                (*zeros)++;
            }
        }
        c->progress(c, ++done, n_sel, m->g.nodes[l->node].name);
    }
    return st;
}

/* Wanda / SparseGPT: stage by stage, each stage's inputs from the pruned layers before it. */
static sk_status run_stages(const popts *o, sk_pass_ctx *c, sk_model *m, sk_qlayer *ls, int n, int n_sel, int64_t *zeros)
{
    int max = sk_qlayers_stages(m, ls, n);
    if (max == -2) return SK_ERR_NOMEM;
    int *idx = sk_malloc(((size_t)n + 1) * sizeof *idx);
    if (!idx) return SK_ERR_NOMEM;
    const sk_calib *cal = NULL;
    sk_calib_stages *runs = NULL;
    sk_status st = c->calib(c, m, &cal);
    if (!st) st = sk_calib_stages_new(m, cal, c->threads, &runs);
    long done = 0;
    for (int s = 0; s <= max && !st; s++) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (ls[i].selected && ls[i].stage == s) idx[k++] = i;
        if (!k) continue;
        c->progress(c, done, n_sel, "calibrating");
        sk_qstat *stats = NULL;
        int ns = 0, keep = s < max ? sk_qlayers_keep(m, ls, n, s, s + 1) : -1;   /* each run continues the last */
        st = sk_qstats_collect(c, m, ls, idx, k, o->method == PM_SPARSEGPT, runs, keep, &stats, &ns);
        for (int i = 0; i < k && !st; i++) {
            sk_qlayer *l = &ls[idx[i]];
            const sk_qstat *x = NULL;
            for (int j = 0; j < ns; j++) if (stats[j].x == l->x) x = &stats[j];
            SK_ASSERT(x);
            st = prune_layer(o, c, m, l, x, zeros);
            c->progress(c, ++done, n_sel, m->g.nodes[l->node].name);
        }
        sk_qstats_free(stats, ns);
    }
    sk_calib_stages_free(runs);
    sk_free(idx);
    return st;
}

static sk_status read_opts(sk_pass_ctx *c, popts *o)
{
    const char *method, *scope, *nm;
    int64_t block;
    sk_status st;
    if ((st = c->get_float(c, "sparsity", &o->sparsity)) || (st = c->get_string(c, "method", &method)) ||
        (st = c->get_string(c, "scope", &scope)) || (st = c->get_string(c, "nm", &nm)) ||
        (st = c->get_float(c, "damp", &o->sg.damp)) || (st = c->get_int(c, "block", &block)))
        return st;
    o->sg.block = (int)block;
    o->method = PM_MAGNITUDE;
    for (int i = 0; i < 3; i++) if (!strcmp(method, method_names[i])) o->method = i;
    o->global = !strcmp(scope, "global");
    if ((st = sk_prune_parse_nm(nm, &o->nm_n, &o->nm_m))) return st;
    if (o->nm_m) {
        double implied = (double)o->nm_n / o->nm_m;
        if (c->is_set(c, "sparsity") && fabs(o->sparsity - implied) > 1e-9)
            return c->error(c, SK_ERR_INVALID, "sparsity %g conflicts with nm %s (which drops %g); give one of them",
                            o->sparsity, nm, implied);
        o->sparsity = implied;
    } else if ((st = sk_prune_check_sparsity(o->sparsity))) {
        return st;
    }
    if (o->global && (o->method != PM_MAGNITUDE || o->nm_m))
        return c->error(c, SK_ERR_INVALID, "scope global applies to unstructured magnitude pruning (wanda ranks within "
                        "each output row, sparsegpt within each block, N:M within each group)");
    return SK_OK;
}

static sk_status prune_run(sk_pass_ctx *c, sk_model *m)
{
    popts o;
    sk_status st = read_opts(c, &o);
    if (st) return st;
    const char *const *inc, *const *exc;
    int ni, ne;
    if ((st = c->get_strings(c, "include", &inc, &ni)) || (st = c->get_strings(c, "exclude", &exc, &ne))) return st;

    /* ---- what to prune, checked before the model changes ---- */
    sk_qlayer *ls;
    int n;
    if ((st = sk_qlayers_find(m, &ls, &n))) return st;
    st = sk_qlayers_select(m, ls, n, inc, ni, exc, ne, false);
    int n_sel = 0;
    int64_t total = 0;
    for (int i = 0; !st && i < n; i++) {
        sk_qlayer *l = &ls[i];
        if (!l->selected) continue;
        n_sel++;
        total += l->N * l->K;
        if (o.nm_m && l->K % o.nm_m)
            st = c->error(c, SK_ERR_INVALID, "nm %d:%d: layer '%s' has %lld inputs, not a multiple of %d (exclude it)",
                          o.nm_n, o.nm_m, m->g.nodes[l->node].name, (long long)l->K, o.nm_m);
    }
    if (!st && n_sel == 0)
        st = n == 0 ? c->error(c, SK_ERR_INVALID, "no layer to prune: the model has no Linear/MatMul/Gemm with constant f32 weights")
             : c->error(c, SK_ERR_INVALID, "no layer to prune: %d candidate%s, the head left alone (an include pattern "
                        "selects it), the rest excluded", n, n == 1 ? "" : "s");
    if (!st && o.method != PM_MAGNITUDE) {
        const sk_calib *k;
        if ((st = c->calib(c, m, &k))) sk_err_prefix(st, "method %s", method_names[o.method]);
    }

    /* ---- the pruning ---- */
    int64_t zeros = 0;
    if (!st && o.sparsity > 0) {
        if (o.method != PM_MAGNITUDE) {
            st = run_stages(&o, c, m, ls, n, n_sel, &zeros);
        } else if (o.global) {
            st = magnitude_global(&o, c, m, ls, n, &zeros);
        } else {
            long done = 0;
            for (int i = 0; i < n && !st; i++) {
                if (!ls[i].selected) continue;
                st = prune_layer(&o, c, m, &ls[i], NULL, &zeros);
                c->progress(c, ++done, n_sel, m->g.nodes[ls[i].node].name);
            }
        }
    }
    if (!st) {
        char how[32] = "";
        if (o.nm_m) snprintf(how, sizeof how, " %d:%d", o.nm_n, o.nm_m);
        c->note(c, "%s%s%s: %d layer%s, %lld of %lld weights zero (%.1f%%)", method_names[o.method], how,
                o.global ? " (global)" : "", n_sel, n_sel == 1 ? "" : "s", (long long)zeros, (long long)total,
                total ? 100.0 * (double)zeros / (double)total : 0.0);
    }
    sk_free(ls);
    return st;
}

static const struct sk_param prune_params[] = {
    {"sparsity", SK_PARAM_FLOAT, "0.5", "fraction of each selected matrix's weights set to zero, in [0, 1)", NULL, 0, 0},
    {"method", SK_PARAM_STRING, "magnitude", "magnitude (no data), wanda or sparsegpt (both need --calib)",
     "magnitude|wanda|sparsegpt", 0, 0},
    {"scope", SK_PARAM_STRING, "layer", "magnitude: rank weights within each layer, or across all selected layers",
     "layer|global", 0, 0},
    {"nm", SK_PARAM_STRING, "", "semi-structured N:M (\"2:4\", \"4:8\"): drop the N lowest of every M consecutive "
     "inputs of a row; sets the sparsity to N/M", NULL, 0, 0},
    {"include", SK_PARAM_STRINGS, "", "only layers whose node or weight name matches one of these globs", NULL, 0, 0},
    {"exclude", SK_PARAM_STRINGS, "", "never layers matching one of these globs (wins over everything)", NULL, 0, 0},
    {"damp", SK_PARAM_FLOAT, "0.01", "sparsegpt: dampening, a fraction of mean(diag H)", NULL, 0, 1},
    {"block", SK_PARAM_INT, "128", "sparsegpt: columns per mask block / lazy update", NULL, 1, 65536},
    {NULL, 0, NULL, NULL, NULL, 0, 0},
};

const struct sk_pass sk_pass_prune = {
    .api_version = SK_PASS_API_VERSION,
    .name = "prune",
    .summary = "unstructured or N:M sparsity of linear layers (magnitude, Wanda, SparseGPT)",
    .params = prune_params,
    .run = prune_run,
};
