/* prune_structured.c — the "prune_structured" pass: remove attention heads
 * and FFN neurons physically, so the matrices get smaller and the model
 * faster in any runtime.
 *
 * Where: every ATTENTION node whose q, k, v come from LINEARs (BERT: three
 * of them; GPT-2: one fused LINEAR and a SPLIT) and whose output feeds one
 * LINEAR (the output projection); every LINEAR with an activation (its act
 * attribute, or a GELU/RELU/TANH/SIGMOID node after it) feeding one LINEAR
 * that is not the head (the FFN).  A model the pass cannot read that way is
 * refused, naming the node, before anything changes.
 *
 * Scores, on calibration data (there is no autograd, so no Taylor scores):
 *   heads, score=output (default): the change of the model's own output
 *     when that head alone is removed — the increase of the mean next-token
 *     NLL for a language model, the mean KL(unpruned ‖ pruned) of the output
 *     distribution for a classifier (MSE for any other output) — one
 *     calibration run per head;
 *   heads, score=layer: the squared error removing the head alone adds to
 *     its block's output, Σ_t ‖W_o[:, h]·(o_h,t − ō_h)‖² (exact for that
 *     layer; one calibration run in all);
 *   FFN neurons: the same layer-exact error, ‖W_down[:, j]‖²·Σ_t (a_jt − ā_j)².
 * With compensate (default) a removed unit's mean contribution W·ō is added
 * to the next bias, so what is lost is only its variation (FLAP-style bias
 * compensation); scores above assume it (without, ō is not subtracted).
 * Heads go first; the FFN statistics are then taken on the head-pruned model.
 *
 * The rewrite: Q/K/V rows (or c_attn's q|k|v columns) and O-projection input
 * columns of the removed heads, FFN up rows / down columns, their biases;
 * ATTENTION num_heads per node (with an explicit scale, the head width being
 * unchanged), SPLIT sizes, the declared shapes of the activations, arch.heads
 * / arch.ffn (the per-layer value when every layer has the same, else the
 * largest).  Per-layer counts and the removed heads' indices are recorded in
 * a provenance entry "prune_structured.layers".  uniform=true (default)
 * removes the same number from every layer — what a Hugging Face config can
 * describe for the FFN (one intermediate_size); uniform=false ranks all heads
 * (all neurons) of the model together, keeping at least one in each layer.
 */
#include <cJSON.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "prune.h"

typedef struct attn_layer {
    int attn;                /* the ATTENTION node */
    int q, k, v;             /* LINEARs producing q, k, v, or -1 (fused form) */
    int qkv, split;          /* fused form: the LINEAR producing q|k|v and its SPLIT, else -1 */
    int o;                   /* the LINEAR reading the attention output */
    int heads;
    int64_t hd, Hq;          /* head width, heads · hd */
    double *sum;             /* [Hq] Σ_t o_t */
    float *cov;              /* [heads, hd, hd] Σ_t o oᵀ per head (score layer) */
    int64_t rows;
    double *score;           /* [heads] */
    uint8_t *drop;           /* [heads] */
} attn_layer;

typedef struct ffn_layer {
    int up, act, down;       /* act: an activation node between them, or -1 (up's act attribute) */
    int64_t F;
    double *sum, *sumsq;     /* [F] over calibration tokens */
    int64_t rows;
    double *score;           /* [F] */
    uint8_t *drop;           /* [F] */
} ffn_layer;

typedef struct sopts {
    double heads, ffn;       /* fraction in [0, 1) or a whole count (>= 1) */
    bool uniform, compensate, score_layer;
} sopts;

/* ---- reading the graph ---- */

static int producer(const sk_graph *g, int t)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++)
            if (g->nodes[i].out[k] == t) return i;
    return -1;
}

static bool is_graph_output(const sk_graph *g, int t)
{
    for (int i = 0; i < g->n_outputs; i++) if (g->outputs[i] == t) return true;
    return false;
}

/* The node reading t when exactly one node reads it, once, in slot *slot,
 * and t is no graph output; else -1. */
static int only_consumer(const sk_graph *g, int t, int *slot)
{
    if (t < 0 || is_graph_output(g, t) || sk_prune_uses(g, t) != 1) return -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == t) { if (slot) *slot = k; return i; }
    return -1;
}

static bool const_f32(const sk_graph *g, int t, int rank)
{
    if (t < 0) return false;
    const sk_tensor *x = &g->tensors[t];
    return (x->flags & SK_TF_CONST) && x->dtype == SK_DT_F32 && x->rank == rank && x->data && !x->quant;
}

/* nd is an fp32 LINEAR with a constant W (and bias); its N and K. */
static bool f32_linear(const sk_graph *g, int nd, int64_t *N, int64_t *K)
{
    if (nd < 0) return false;
    const sk_node *n = &g->nodes[nd];
    if (n->op != SK_OP_LINEAR || n->n_in < 2 || (n->n_in > 3 && n->in[3] >= 0) || !const_f32(g, n->in[1], 2)) return false;
    const sk_tensor *w = &g->tensors[n->in[1]];
    bool wt = sk_node_attr_i(n, "wt", 1) != 0;
    *N = wt ? w->dims[0] : w->dims[1];
    *K = wt ? w->dims[1] : w->dims[0];
    if (n->n_in > 2 && n->in[2] >= 0)
        return const_f32(g, n->in[2], 1) && g->tensors[n->in[2]].dims[0] == *N;
    return true;
}

/* The split sizes of a SPLIT node into sz[0..3); false if not three known sizes. */
static bool split_sizes(const sk_graph *g, const sk_node *s, int64_t sz[3])
{
    if (s->n_out != 3) return false;
    if (s->n_in > 1 && s->in[1] >= 0) {
        const sk_tensor *t = &g->tensors[s->in[1]];
        if (!(t->flags & SK_TF_CONST) || t->dtype != SK_DT_I64 || sk_tensor_numel(t) != 3 || !t->data) return false;
        memcpy(sz, t->data, 3 * sizeof *sz);
        return true;
    }
    const sk_attr *a = sk_node_attr(s, "split");
    if (a && a->type == SK_ATTR_INTS && a->n == 3) { memcpy(sz, a->ints, 3 * sizeof *sz); return true; }
    const sk_tensor *x = &g->tensors[s->in[0]];   /* equal parts */
    if (x->rank < 1 || x->dims[x->rank - 1] <= 0 || x->dims[x->rank - 1] % 3) return false;
    sz[0] = sz[1] = sz[2] = x->dims[x->rank - 1] / 3;
    return true;
}

/* Fill a from ATTENTION node i, or say why not in why. */
static bool read_attention(const sk_graph *g, int i, attn_layer *a, char *why, size_t cap)
{
    const sk_node *n = &g->nodes[i];
    memset(a, 0, sizeof *a);
    a->attn = i;
    a->q = a->k = a->v = a->qkv = a->split = a->o = -1;
    a->heads = (int)sk_node_attr_i(n, "num_heads", 0);
    int slot = -1;
    int64_t N, K;
    a->o = only_consumer(g, n->out[0], &slot);
    if (a->o < 0 || slot != 0 || !f32_linear(g, a->o, &N, &K)) {
        snprintf(why, cap, "its output does not feed exactly one fp32 Linear (the output projection)");
        return false;
    }
    a->Hq = K;
    if (a->heads < 1 || a->Hq % a->heads) {
        snprintf(why, cap, "num_heads %d does not divide its width %lld", a->heads, (long long)a->Hq);
        return false;
    }
    a->hd = a->Hq / a->heads;
    int p[3];
    for (int j = 0; j < 3; j++) {
        p[j] = producer(g, n->in[j]);
        if (only_consumer(g, n->in[j], NULL) != i) {
            snprintf(why, cap, "its %c input is used by other nodes too", "qkv"[j]);
            return false;
        }
    }
    if (p[0] >= 0 && g->nodes[p[0]].op == SK_OP_SPLIT && p[1] == p[0] && p[2] == p[0]) {
        const sk_node *s = &g->nodes[p[0]];
        int64_t sz[3], axis = sk_node_attr_i(s, "axis", 0);
        const sk_tensor *x = &g->tensors[s->in[0]];
        if (s->out[0] != n->in[0] || s->out[1] != n->in[1] || s->out[2] != n->in[2] || !split_sizes(g, s, sz) ||
            sz[0] != a->Hq || sz[1] != a->Hq || sz[2] != a->Hq || !(axis == -1 || (x->rank > 0 && axis == x->rank - 1))) {
            snprintf(why, cap, "its q, k, v come from Split '%s', which is not three equal parts of the last axis", s->name);
            return false;
        }
        a->split = p[0];
        a->qkv = producer(g, s->in[0]);
        if (only_consumer(g, s->in[0], NULL) != a->split || !f32_linear(g, a->qkv, &N, &K) || N != 3 * a->Hq) {
            snprintf(why, cap, "Split '%s' does not read an fp32 Linear of its own with %lld outputs", s->name,
                     (long long)(3 * a->Hq));
            return false;
        }
        return true;
    }
    int *dst[3] = {&a->q, &a->k, &a->v};
    for (int j = 0; j < 3; j++) {
        if (!f32_linear(g, p[j], &N, &K) || N != a->Hq || (j && p[j] == p[0])) {
            snprintf(why, cap, "its %c input does not come from an fp32 Linear of its own with %lld outputs", "qkv"[j],
                     (long long)a->Hq);
            return false;
        }
        *dst[j] = p[j];
    }
    return true;
}

static bool is_act_node(const sk_node *n)
{
    return (n->op == SK_OP_GELU || n->op == SK_OP_RELU || n->op == SK_OP_TANH || n->op == SK_OP_SIGMOID) && n->n_in == 1;
}

/* An FFN starting at LINEAR node i: i → (activation) → LINEAR, not the head. */
static bool read_ffn(const sk_graph *g, int i, ffn_layer *f)
{
    int64_t N, K, N2, K2;
    memset(f, 0, sizeof *f);
    if (!f32_linear(g, i, &N, &K)) return false;
    const sk_node *u = &g->nodes[i];
    int slot = -1, t = u->out[0];
    f->up = i;
    f->act = -1;
    f->F = N;
    if (!sk_node_attr_s(u, "act", "")[0]) {
        int a = only_consumer(g, t, &slot);
        if (a < 0 || !is_act_node(&g->nodes[a])) return false;
        f->act = a;
        t = g->nodes[a].out[0];
    }
    f->down = only_consumer(g, t, &slot);
    if (f->down < 0 || slot != 0 || !f32_linear(g, f->down, &N2, &K2) || K2 != N) return false;
    return !is_graph_output(g, g->nodes[f->down].out[0]);
}

/* ---- rewriting ---- */

static void set_data(sk_tensor *t, float *d, int rank, const int64_t *dims)
{
    if (t->flags & SK_TF_OWNED) sk_free(t->data);
    t->data = d;
    t->flags |= SK_TF_OWNED | SK_TF_CONST;
    t->rank = rank;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= (t->dims[i] = dims[i]);
    t->nbytes = (size_t)n * sizeof(float);
}

/* Set the last declared dim of activation t (when its rank is known). */
static void set_last_dim(sk_graph *g, int t, int64_t v)
{
    sk_tensor *x = &g->tensors[t];
    if (x->rank > 0 && !(x->flags & SK_TF_CONST)) x->dims[x->rank - 1] = v;
}

/* Keep output features keep[0..nk) of LINEAR nd (W rows, or columns when wt
 * = 0, and the bias), in that order. */
static sk_status linear_keep_out(sk_model *m, int nd, const int64_t *keep, int64_t nk)
{
    sk_graph *g = &m->g;
    sk_status st;
    int64_t N, K;
    SK_ASSERT(f32_linear(g, nd, &N, &K));
    bool wt = sk_node_attr_i(&g->nodes[nd], "wt", 1) != 0;
    bool has_b = g->nodes[nd].n_in > 2 && g->nodes[nd].in[2] >= 0;
    if ((st = sk_prune_unshare(m, nd, 1)) || (has_b && (st = sk_prune_unshare(m, nd, 2)))) return st;
    sk_tensor *w = &g->tensors[g->nodes[nd].in[1]];
    const float *src = w->data;
    float *d = sk_malloc((size_t)(nk * K) * sizeof *d + 1);
    if (!d) return SK_ERR_NOMEM;
    for (int64_t r = 0; r < nk; r++)
        for (int64_t k = 0; k < K; k++) {
            if (wt) d[r * K + k] = src[keep[r] * K + k];
            else d[k * nk + r] = src[k * N + keep[r]];
        }
    set_data(w, d, 2, wt ? (int64_t[]){nk, K} : (int64_t[]){K, nk});
    if (has_b) {
        sk_tensor *b = &g->tensors[g->nodes[nd].in[2]];
        float *bd = sk_malloc((size_t)nk * sizeof *bd + 1);
        if (!bd) return SK_ERR_NOMEM;
        for (int64_t r = 0; r < nk; r++) bd[r] = ((const float *)b->data)[keep[r]];
        set_data(b, bd, 1, (int64_t[]){nk});
    }
    set_last_dim(g, g->nodes[nd].out[0], nk);
    return SK_OK;
}

/* Keep input features keep[0..nk) of LINEAR nd. */
static sk_status linear_keep_in(sk_model *m, int nd, const int64_t *keep, int64_t nk)
{
    sk_graph *g = &m->g;
    int64_t N, K;
    SK_ASSERT(f32_linear(g, nd, &N, &K));
    bool wt = sk_node_attr_i(&g->nodes[nd], "wt", 1) != 0;
    sk_status st = sk_prune_unshare(m, nd, 1);
    if (st) return st;
    sk_tensor *w = &g->tensors[g->nodes[nd].in[1]];
    const float *src = w->data;
    float *d = sk_malloc((size_t)(N * nk) * sizeof *d + 1);
    if (!d) return SK_ERR_NOMEM;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < nk; c++) {
            if (wt) d[n * nk + c] = src[n * K + keep[c]];
            else d[c * N + n] = src[keep[c] * N + n];
        }
    set_data(w, d, 2, wt ? (int64_t[]){N, nk} : (int64_t[]){nk, N});
    return SK_OK;
}

/* W[n, c] of LINEAR nd as [N, K] whatever its layout. */
static float w_at(const sk_graph *g, int nd, int64_t n, int64_t c)
{
    const sk_tensor *w = &g->tensors[g->nodes[nd].in[1]];
    bool wt = sk_node_attr_i(&g->nodes[nd], "wt", 1) != 0;
    int64_t N = wt ? w->dims[0] : w->dims[1], K = wt ? w->dims[1] : w->dims[0];
    return ((const float *)w->data)[wt ? n * K + c : c * N + n];
}

static void w_set(sk_graph *g, int nd, int64_t n, int64_t c, float v)
{
    sk_tensor *w = &g->tensors[g->nodes[nd].in[1]];
    bool wt = sk_node_attr_i(&g->nodes[nd], "wt", 1) != 0;
    int64_t N = wt ? w->dims[0] : w->dims[1], K = wt ? w->dims[1] : w->dims[0];
    ((float *)w->data)[wt ? n * K + c : c * N + n] = v;
}

/* LINEAR nd gets a zero bias of its own when it has none (for compensation). */
static sk_status ensure_bias(sk_model *m, int nd)
{
    sk_graph *g = &m->g;
    if (g->nodes[nd].n_in > 2 && g->nodes[nd].in[2] >= 0) return sk_prune_unshare(m, nd, 2);
    int64_t N, K;
    SK_ASSERT(f32_linear(g, nd, &N, &K));
    size_t len = strlen(g->nodes[nd].name) + 32;
    char *name = sk_malloc(len);
    float *d = sk_calloc((size_t)N + 1, sizeof *d);
    if (!name || !d) { sk_free(name); sk_free(d); return SK_ERR_NOMEM; }
    snprintf(name, len, "%s.bias", g->nodes[nd].name);
    for (int i = 1; sk_graph_find_tensor(g, name) >= 0; i++) snprintf(name, len, "%s.bias.%d", g->nodes[nd].name, i);
    int id = sk_graph_add_const(g, name, SK_DT_F32, 1, &N, d, true);
    sk_free(name);
    if (id < 0) return SK_ERR_NOMEM;
    g->tensors[id].flags |= SK_TF_WEIGHT;
    sk_node *n = &g->nodes[nd];
    if (n->n_in < 3) {
        int *in = sk_realloc(n->in, 3 * sizeof *in);
        if (!in) return SK_ERR_NOMEM;
        n->in = in;
        n->n_in = 3;
    }
    n->in[2] = id;
    return SK_OK;
}

/* b += W[:, cols]·mean[cols] for the input columns of LINEAR nd in [c0, c1) with drop set. */
static void compensate(sk_graph *g, int nd, const double *sum, int64_t rows, int64_t c0, int64_t c1)
{
    float *b = g->tensors[g->nodes[nd].in[2]].data;
    int64_t N, K;
    SK_ASSERT(f32_linear(g, nd, &N, &K));
    for (int64_t n = 0; n < N; n++) {
        double acc = 0;
        for (int64_t c = c0; c < c1; c++) acc += (double)w_at(g, nd, n, c) * (sum[c] / (double)rows);
        b[n] += (float)acc;
    }
}

/* ---- calibration statistics ---- */

typedef struct sobs {
    attn_layer *al;
    ffn_layer *fl;
    int *attn_of, *ffn_of;   /* node → layer index, or -1 */
    bool want_cov;
    sk_status err;
    const sk_graph *g;
} sobs;

static void observe_stats(void *ctx, int node, const sk_kctx *k)
{
    sobs *o = ctx;
    if (o->err) return;
    const sk_rtensor *x = k->out[0];
    if (o->attn_of[node] >= 0) {
        attn_layer *a = &o->al[o->attn_of[node]];
        if (x->dtype != SK_DT_F32 || x->rank < 1 || x->dims[x->rank - 1] != a->Hq) {
            o->err = sk_err(SK_ERR_INVALID, "calibration: node '%s': output is not f32 [..., %lld]", o->g->nodes[node].name,
                            (long long)a->Hq);
            return;
        }
        int64_t M = sk_rt_numel(x) / a->Hq;
        const float *d = x->data;
        for (int64_t r = 0; r < M; r++)
            for (int64_t c = 0; c < a->Hq; c++) a->sum[c] += d[r * a->Hq + c];
        if (a->cov && M > 0)
            for (int h = 0; h < a->heads; h++)
                cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)a->hd, (int)M, 1.0f, d + h * a->hd, (int)a->Hq,
                            1.0f, a->cov + (int64_t)h * a->hd * a->hd, (int)a->hd);
        a->rows += M;
    }
    if (o->ffn_of[node] >= 0) {
        ffn_layer *f = &o->fl[o->ffn_of[node]];
        if (x->dtype != SK_DT_F32 || x->rank < 1 || x->dims[x->rank - 1] != f->F) {
            o->err = sk_err(SK_ERR_INVALID, "calibration: node '%s': output is not f32 [..., %lld]", o->g->nodes[node].name,
                            (long long)f->F);
            return;
        }
        int64_t M = sk_rt_numel(x) / f->F;
        const float *d = x->data;
        for (int64_t r = 0; r < M; r++)
            for (int64_t c = 0; c < f->F; c++) {
                double v = d[r * f->F + c];
                f->sum[c] += v;
                f->sumsq[c] += v * v;
            }
        f->rows += M;
    }
}

static sk_status collect_stats(sk_pass_ctx *c, const sk_model *m, attn_layer *al, int na, ffn_layer *fl, int nf,
                               bool want_cov)
{
    const sk_graph *g = &m->g;
    int *attn_of = sk_malloc(((size_t)g->n_nodes + 1) * sizeof *attn_of);
    int *ffn_of = sk_malloc(((size_t)g->n_nodes + 1) * sizeof *ffn_of);
    sk_status st = attn_of && ffn_of ? SK_OK : SK_ERR_NOMEM;
    int stop = -1;
    for (int i = 0; !st && i < g->n_nodes; i++) attn_of[i] = ffn_of[i] = -1;
    for (int i = 0; !st && i < na; i++) {
        attn_layer *a = &al[i];
        a->rows = 0;
        if (!(a->sum = sk_calloc((size_t)a->Hq, sizeof *a->sum))) st = SK_ERR_NOMEM;
        if (!st && want_cov && !(a->cov = sk_calloc((size_t)(a->heads * a->hd * a->hd), sizeof *a->cov))) st = SK_ERR_NOMEM;
        attn_of[a->attn] = i;
        if (a->attn > stop) stop = a->attn;
    }
    for (int i = 0; !st && i < nf; i++) {
        ffn_layer *f = &fl[i];
        f->rows = 0;
        f->sum = sk_calloc((size_t)f->F, sizeof *f->sum);
        f->sumsq = sk_calloc((size_t)f->F, sizeof *f->sumsq);
        if (!f->sum || !f->sumsq) st = SK_ERR_NOMEM;
        int at = f->act >= 0 ? f->act : f->up;
        ffn_of[at] = i;
        if (at > stop) stop = at;
    }
    sobs o = {al, fl, attn_of, ffn_of, want_cov, SK_OK, g};
    if (!st) st = c->calib_run(c, m, stop, observe_stats, &o);
    if (!st) st = o.err;
    for (int i = 0; !st && i < na; i++)
        if (!al[i].rows) st = sk_err(SK_ERR_INVALID, "calibration: no rows reached '%s'", g->nodes[al[i].attn].name);
    for (int i = 0; !st && i < nf; i++)
        if (!fl[i].rows) st = sk_err(SK_ERR_INVALID, "calibration: no rows reached '%s'", g->nodes[fl[i].up].name);
    sk_free(attn_of);
    sk_free(ffn_of);
    return st;
}

/* ---- head scores from the model's output (score=output) ---- */

typedef struct oobs {
    int out_node;
    const sk_calib *cal;
    bool lm;                 /* next-token NLL (logits [B, S, V] of a language model) */
    bool kl;                 /* KL over the last dim (logits), else MSE */
    bool record;             /* the reference run: keep the output */
    float *ref;              /* the reference outputs, in sample order */
    int64_t n_ref, cap_ref, pos;
    int cursor;              /* samples seen */
    double acc;              /* Σ of the metric */
    int64_t cnt;
    sk_status err;
} oobs;

static void observe_output(void *ctx, int node, const sk_kctx *k)
{
    oobs *o = ctx;
    if (node != o->out_node || o->err) return;
    const sk_rtensor *x = k->out[0];
    int64_t n = sk_rt_numel(x), B = x->rank > 0 ? x->dims[0] : 1, V = x->rank > 0 ? x->dims[x->rank - 1] : 1;
    const float *d = x->data;
    if (x->dtype != SK_DT_F32 || V <= 0) { o->err = sk_err(SK_ERR_UNSUPPORTED, "calibration: the model's output is not f32"); return; }
    if (o->lm) {   /* logits [B, S, V]: NLL of token t + 1 at position t */
        int64_t S = x->dims[1];
        for (int64_t b = 0; b < B && o->cursor + b < o->cal->n; b++) {
            const sk_calib_sample *s = &o->cal->s[o->cursor + b];
            for (int64_t t = 0; t + 1 < S && t + 1 < s->n; t++) {
                const float *row = d + (b * S + t) * V;
                float mx = row[0];
                for (int64_t v = 1; v < V; v++) if (row[v] > mx) mx = row[v];
                double z = 0;
                for (int64_t v = 0; v < V; v++) z += exp((double)(row[v] - mx));
                int64_t y = s->ids[t + 1];
                if (y < 0 || y >= V) continue;
                o->acc += log(z) - (double)(row[y] - mx);
                o->cnt++;
            }
        }
        o->cursor += (int)B;
        return;
    }
    if (o->record) {
        if (o->n_ref + n > o->cap_ref) {
            int64_t cap = (o->n_ref + n) * 2;
            float *r = sk_realloc(o->ref, (size_t)cap * sizeof *r);
            if (!r) { o->err = SK_ERR_NOMEM; return; }
            o->ref = r;
            o->cap_ref = cap;
        }
        memcpy(o->ref + o->n_ref, d, (size_t)n * sizeof *d);
        o->n_ref += n;
        return;
    }
    if (o->pos + n > o->n_ref) { o->err = sk_err(SK_ERR_INVALID, "calibration: outputs differ between runs"); return; }
    const float *r = o->ref + o->pos;
    o->pos += n;
    if (!o->kl) {
        for (int64_t i = 0; i < n; i++) o->acc += (double)(d[i] - r[i]) * (d[i] - r[i]);
        o->cnt += n;
        return;
    }
    for (int64_t i = 0; i < n; i += V) {   /* KL(p_ref ‖ p) of softmaxes of one row */
        double mr = r[i], md = d[i], zr = 0, zd = 0, kl = 0;
        for (int64_t v = 1; v < V; v++) { if (r[i + v] > mr) mr = r[i + v]; if (d[i + v] > md) md = d[i + v]; }
        for (int64_t v = 0; v < V; v++) { zr += exp(r[i + v] - mr); zd += exp(d[i + v] - md); }
        for (int64_t v = 0; v < V; v++) {
            double lr = r[i + v] - mr - log(zr), ld = d[i + v] - md - log(zd);
            kl += exp(lr) * (lr - ld);
        }
        o->acc += kl;
        o->cnt++;
    }
}

/* One calibration run measuring o's metric (the reference one when o->record). */
static sk_status output_metric(sk_pass_ctx *c, const sk_model *m, oobs *o, double *v)
{
    o->cursor = 0;
    o->pos = 0;
    o->acc = 0;
    o->cnt = 0;
    sk_status st = c->calib_run(c, m, -1, observe_output, o);
    if (!st) st = o->err;
    *v = o->cnt ? o->acc / (double)o->cnt : 0;
    return st;
}

/* Score every head by the change of the model's output with that head alone removed. */
static sk_status score_heads_output(sk_pass_ctx *c, sk_model *m, attn_layer *al, int na, bool comp)
{
    sk_graph *g = &m->g;
    const sk_calib *cal;
    sk_status st = c->calib(c, m, &cal);
    if (st) return st;
    oobs o = {.out_node = producer(g, g->outputs[0]), .cal = cal};
    const sk_tensor *out = &g->tensors[g->outputs[0]];
    o.lm = !strcmp(m->arch.task, "lm") && out->rank == 3 && cal->n > 0 && cal->s[0].ids;
    o.kl = !strcmp(out->name, "logits");
    double base = 0, v;
    long total = 0, done = 0;
    for (int i = 0; i < na; i++) total += al[i].heads;
    o.record = !o.lm;
    c->progress(c, 0, total, "reference run");
    if ((st = output_metric(c, m, &o, &base))) goto done;
    o.record = false;
    if (!o.lm) base = 0;   /* KL / MSE against the reference itself */
    for (int i = 0; i < na && !st; i++) {
        attn_layer *a = &al[i];
        int on = a->o;
        int64_t N, K;
        SK_ASSERT(f32_linear(g, on, &N, &K));
        if ((st = sk_prune_unshare(m, on, 1)) || (comp && (st = ensure_bias(m, on)))) break;
        float *saved = sk_malloc((size_t)(N * a->hd + N) * sizeof *saved);
        if (!saved) { st = SK_ERR_NOMEM; break; }
        float *bias = comp ? g->tensors[g->nodes[on].in[2]].data : NULL;
        for (int h = 0; h < a->heads && !st; h++) {
            int64_t c0 = h * a->hd, c1 = c0 + a->hd;
            for (int64_t n = 0; n < N; n++)
                for (int64_t cc = c0; cc < c1; cc++) saved[n * a->hd + cc - c0] = w_at(g, on, n, cc);
            if (bias) {
                memcpy(saved + N * a->hd, bias, (size_t)N * sizeof *bias);
                compensate(g, on, a->sum, a->rows, c0, c1);
            }
            for (int64_t n = 0; n < N; n++)
                for (int64_t cc = c0; cc < c1; cc++) w_set(g, on, n, cc, 0.0f);
            st = output_metric(c, m, &o, &v);
            a->score[h] = v - base;
            for (int64_t n = 0; n < N; n++)
                for (int64_t cc = c0; cc < c1; cc++) w_set(g, on, n, cc, saved[n * a->hd + cc - c0]);
            if (bias) memcpy(bias, saved + N * a->hd, (size_t)N * sizeof *bias);
            c->progress(c, ++done, total, g->nodes[a->attn].name);
        }
        sk_free(saved);
    }
done:
    sk_free(o.ref);
    return st;
}

/* Score = Σ_{a,b} (W_hᵀW_h)_{ab}·C_{ab}, C = Σ o oᵀ (− rows·ō ōᵀ with compensation). */
static void score_heads_layer(const sk_graph *g, attn_layer *al, int na, bool comp)
{
    for (int i = 0; i < na; i++) {
        attn_layer *a = &al[i];
        int64_t N, K, hd = a->hd;
        SK_ASSERT(f32_linear(g, a->o, &N, &K));
        for (int h = 0; h < a->heads; h++) {
            const float *C = a->cov + (int64_t)h * hd * hd;   /* upper triangle */
            double s = 0;
            for (int64_t x = 0; x < hd; x++)
                for (int64_t y = x; y < hd; y++) {
                    int64_t cx = h * hd + x, cy = h * hd + y;
                    double gxy = 0;
                    for (int64_t n = 0; n < N; n++) gxy += (double)w_at(g, a->o, n, cx) * w_at(g, a->o, n, cy);
                    double cxy = C[x * hd + y];
                    if (comp) cxy -= a->sum[cx] * a->sum[cy] / (double)a->rows;
                    s += (x == y ? 1 : 2) * gxy * cxy;
                }
            a->score[h] = s / (double)a->rows;
        }
    }
}

static void score_ffn(const sk_graph *g, ffn_layer *fl, int nf, bool comp)
{
    for (int i = 0; i < nf; i++) {
        ffn_layer *f = &fl[i];
        int64_t N, K;
        SK_ASSERT(f32_linear(g, f->down, &N, &K));
        for (int64_t j = 0; j < f->F; j++) {
            double wn = 0;
            for (int64_t n = 0; n < N; n++) { double w = w_at(g, f->down, n, j); wn += w * w; }
            double var = f->sumsq[j];
            if (comp) var -= f->sum[j] * f->sum[j] / (double)f->rows;
            f->score[j] = wn * (var > 0 ? var : 0) / (double)f->rows;
        }
    }
}

/* ---- choosing what goes ---- */

typedef struct unit { double score; int layer; int64_t idx; } unit;

static int by_score(const void *a, const void *b)
{
    const unit *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    if (x->layer != y->layer) return x->layer - y->layer;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Mark drop in each of n layers (sizes size[l], scores score[l]): r per layer
 * (uniform), or the lowest r_total over all layers keeping one per layer. */
static sk_status choose(int n, const int64_t *size, double *const *score, uint8_t *const *drop, bool uniform,
                        const int64_t *r, int64_t r_total)
{
    sk_status st = SK_OK;
    if (uniform) {
        for (int l = 0; l < n && !st; l++) {
            float *s = sk_malloc((size_t)size[l] * sizeof *s + 1);
            if (!s) return SK_ERR_NOMEM;
            for (int64_t j = 0; j < size[l]; j++) s[j] = (float)score[l][j];
            st = sk_prune_lowest(s, size[l], r[l], drop[l]);
            sk_free(s);
        }
        return st;
    }
    int64_t total = 0;
    for (int l = 0; l < n; l++) total += size[l];
    unit *u = sk_malloc((size_t)total * sizeof *u + 1);
    int64_t *left = sk_malloc((size_t)n * sizeof *left + 1);
    if (!u || !left) { sk_free(u); sk_free(left); return SK_ERR_NOMEM; }
    int64_t k = 0;
    for (int l = 0; l < n; l++) {
        left[l] = size[l];
        memset(drop[l], 0, (size_t)size[l]);
        for (int64_t j = 0; j < size[l]; j++) u[k++] = (unit){score[l][j], l, j};
    }
    qsort(u, (size_t)total, sizeof *u, by_score);
    for (int64_t i = 0, picked = 0; i < total && picked < r_total; i++) {
        if (left[u[i].layer] <= 1) continue;
        drop[u[i].layer][u[i].idx] = 1;
        left[u[i].layer]--;
        picked++;
    }
    sk_free(u);
    sk_free(left);
    return SK_OK;
}

/* How many of n units (per layer, or of total over n_layers) a value removes;
 * errors when that leaves a layer empty.  what: "heads" / "ffn". */
static sk_status count_removed(sk_pass_ctx *c, const char *what, double v, bool uniform, const int64_t *size, int n,
                               const char *const *names, int64_t *r, int64_t *r_total)
{
    const char *unit_name = !strcmp(what, "heads") ? "heads" : "neurons";
    bool frac = v < 1;
    if (!frac && v != floor(v))
        return c->error(c, SK_ERR_INVALID, "%s %g: expected a fraction in [0, 1) or a whole number of %s", what, v, unit_name);
    int64_t total = 0;
    for (int l = 0; l < n; l++) total += size[l];
    *r_total = 0;
    for (int l = 0; l < n; l++) {
        r[l] = frac ? (int64_t)(v * (double)size[l] + 1e-9) : (int64_t)v;
        if (uniform && r[l] >= size[l])
            return c->error(c, SK_ERR_INVALID, "%s %g: cannot remove %lld of the %lld %s of '%s' (at least one must stay)",
                            what, v, (long long)r[l], (long long)size[l], unit_name, names[l]);
        *r_total += r[l];
    }
    if (!uniform) {
        *r_total = frac ? (int64_t)(v * (double)total + 1e-9) : (int64_t)v;
        if (*r_total > total - n)
            return c->error(c, SK_ERR_INVALID, "%s %g: cannot remove %lld of the %lld %s of %d layer%s (at least one must "
                            "stay in each)", what, v, (long long)*r_total, (long long)total, unit_name, n, n == 1 ? "" : "s");
    }
    return SK_OK;
}

/* Remove the dropped heads of a from the graph. */
static sk_status rewrite_heads(sk_model *m, attn_layer *a, bool comp)
{
    sk_graph *g = &m->g;
    int kept = 0;
    for (int h = 0; h < a->heads; h++) kept += !a->drop[h];
    if (kept == a->heads) return SK_OK;
    int64_t Hn = kept * a->hd, *keep = sk_malloc((size_t)(3 * Hn) * sizeof *keep + 1);
    if (!keep) return SK_ERR_NOMEM;
    int64_t j = 0;
    for (int h = 0; h < a->heads; h++)
        for (int64_t x = 0; !a->drop[h] && x < a->hd; x++) keep[j++] = h * a->hd + x;
    sk_status st = SK_OK;
    if (comp) {
        st = ensure_bias(m, a->o);
        for (int h = 0; !st && h < a->heads; h++)
            if (a->drop[h]) compensate(g, a->o, a->sum, a->rows, h * a->hd, (h + 1) * a->hd);
    }
    if (!st) st = linear_keep_in(m, a->o, keep, Hn);
    if (!st && a->qkv >= 0) {
        for (int p = 1; p < 3; p++)
            for (int64_t i = 0; i < Hn; i++) keep[p * Hn + i] = keep[i] + p * a->Hq;
        st = linear_keep_out(m, a->qkv, keep, 3 * Hn);
        sk_node *s = &g->nodes[a->split];
        int64_t sz[3] = {Hn, Hn, Hn};
        if (!st && s->n_in > 1 && s->in[1] >= 0) {   /* sizes of its own: the old constant may be shared */
            size_t len = strlen(s->name) + 16;
            char *name = sk_malloc(len);
            int64_t *d = sk_malloc(sizeof sz);
            if (!name || !d) { sk_free(name); sk_free(d); st = SK_ERR_NOMEM; }
            else {
                snprintf(name, len, "%s.sizes", s->name);
                for (int i = 1; sk_graph_find_tensor(g, name) >= 0; i++) snprintf(name, len, "%s.sizes.%d", s->name, i);
                memcpy(d, sz, sizeof sz);
                int id = sk_graph_add_const(g, name, SK_DT_I64, 1, (int64_t[]){3}, d, true);
                sk_free(name);
                if (id < 0) st = SK_ERR_NOMEM;
                else g->nodes[a->split].in[1] = id;
            }
        } else if (!st && sk_node_attr(s, "split")) {
            st = sk_node_set_ints(s, "split", sz, 3);
        }
        for (int p = 0; !st && p < 3; p++) set_last_dim(g, g->nodes[a->split].out[p], Hn);
    } else if (!st) {
        if (!(st = linear_keep_out(m, a->q, keep, Hn)) && !(st = linear_keep_out(m, a->k, keep, Hn)))
            st = linear_keep_out(m, a->v, keep, Hn);
    }
    sk_node *an = &g->nodes[a->attn];
    if (!st && sk_node_attr_f(an, "scale", 0.0f) == 0.0f) st = sk_node_set_f(an, "scale", (float)(1.0 / sqrt((double)a->hd)));
    if (!st) st = sk_node_set_i(an, "num_heads", kept);
    if (!st) set_last_dim(g, an->out[0], Hn);
    sk_free(keep);
    return st;
}

static sk_status rewrite_ffn(sk_model *m, ffn_layer *f, bool comp)
{
    sk_graph *g = &m->g;
    int64_t kept = 0;
    for (int64_t j = 0; j < f->F; j++) kept += !f->drop[j];
    if (kept == f->F) return SK_OK;
    int64_t *keep = sk_malloc((size_t)kept * sizeof *keep + 1), k = 0;
    if (!keep) return SK_ERR_NOMEM;
    for (int64_t j = 0; j < f->F; j++) if (!f->drop[j]) keep[k++] = j;
    sk_status st = SK_OK;
    if (comp) {
        st = ensure_bias(m, f->down);
        for (int64_t j = 0; !st && j < f->F; j++)
            if (f->drop[j]) compensate(g, f->down, f->sum, f->rows, j, j + 1);
    }
    if (!st) st = linear_keep_in(m, f->down, keep, kept);
    if (!st) st = linear_keep_out(m, f->up, keep, kept);
    if (!st && f->act >= 0) set_last_dim(g, g->nodes[f->act].out[0], kept);
    sk_free(keep);
    return st;
}

/* ---- the pass ---- */

static void free_layers(attn_layer *al, int na, ffn_layer *fl, int nf)
{
    for (int i = 0; al && i < na; i++) { sk_free(al[i].sum); sk_free(al[i].cov); sk_free(al[i].score); sk_free(al[i].drop); }
    for (int i = 0; fl && i < nf; i++) { sk_free(fl[i].sum); sk_free(fl[i].sumsq); sk_free(fl[i].score); sk_free(fl[i].drop); }
    sk_free(al);
    sk_free(fl);
}

/* The attention layers of m (all of them, or an error naming the first that cannot be pruned). */
static sk_status find_attention(sk_pass_ctx *c, const sk_model *m, attn_layer **out, int *n)
{
    const sk_graph *g = &m->g;
    int cnt = 0;
    for (int i = 0; i < g->n_nodes; i++) cnt += g->nodes[i].op == SK_OP_ATTENTION;
    *n = 0;
    if (!cnt) return c->error(c, SK_ERR_INVALID, "heads: the model has no Attention node (an ONNX import needs the fuse pass first)");
    attn_layer *al = *out = sk_calloc((size_t)cnt, sizeof *al);
    if (!al) return SK_ERR_NOMEM;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].op != SK_OP_ATTENTION) continue;
        char why[256];
        if (!read_attention(g, i, &al[*n], why, sizeof why))
            return c->error(c, SK_ERR_UNSUPPORTED, "heads: Attention '%s' cannot be pruned: %s", g->nodes[i].name, why);
        attn_layer *a = &al[(*n)++];
        a->score = sk_calloc((size_t)a->heads, sizeof *a->score);
        a->drop = sk_calloc((size_t)a->heads, 1);
        if (!a->score || !a->drop) return SK_ERR_NOMEM;
    }
    return SK_OK;
}

static sk_status find_ffn(sk_pass_ctx *c, const sk_model *m, ffn_layer **out, int *n)
{
    const sk_graph *g = &m->g;
    ffn_layer *fl = *out = sk_calloc((size_t)g->n_nodes + 1, sizeof *fl);
    *n = 0;
    if (!fl) return SK_ERR_NOMEM;
    for (int i = 0; i < g->n_nodes; i++) {
        ffn_layer f;
        if (!read_ffn(g, i, &f)) continue;
        f.score = sk_calloc((size_t)f.F, sizeof *f.score);
        f.drop = sk_calloc((size_t)f.F, 1);
        fl[(*n)++] = f;
        if (!f.score || !f.drop) return SK_ERR_NOMEM;
    }
    if (!*n)
        return c->error(c, SK_ERR_INVALID, "ffn: the model has no Linear -> activation -> Linear block (other than the head) "
                        "to prune");
    return SK_OK;
}

/* Per-layer counts and removed heads, as a provenance entry. */
static sk_status record(sk_model *m, const attn_layer *al, int na, const ffn_layer *fl, int nf)
{
    cJSON *j = cJSON_CreateObject(), *hs = cJSON_AddArrayToObject(j, "heads"), *rm = cJSON_AddArrayToObject(j, "heads_removed");
    cJSON *fs = cJSON_AddArrayToObject(j, "ffn");
    for (int i = 0; i < na; i++) {
        int kept = 0;
        cJSON *r = cJSON_CreateArray();
        for (int h = 0; h < al[i].heads; h++) {
            if (al[i].drop[h]) cJSON_AddItemToArray(r, cJSON_CreateNumber(h));
            else kept++;
        }
        cJSON_AddItemToArray(hs, cJSON_CreateNumber(kept));
        cJSON_AddItemToArray(rm, r);
    }
    for (int i = 0; i < nf; i++) {
        int64_t kept = 0;
        for (int64_t x = 0; x < fl[i].F; x++) kept += !fl[i].drop[x];
        cJSON_AddItemToArray(fs, cJSON_CreateNumber((double)kept));
    }
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    sk_status st = s ? sk_model_add_prov(m, "prune_structured.layers", s) : SK_ERR_NOMEM;
    free(s);
    return st;
}

static sk_status structured_run(sk_pass_ctx *c, sk_model *m)
{
    sopts o;
    const char *score;
    sk_status st;
    if ((st = c->get_float(c, "heads", &o.heads)) || (st = c->get_float(c, "ffn", &o.ffn)) ||
        (st = c->get_bool(c, "uniform", &o.uniform)) || (st = c->get_bool(c, "compensate", &o.compensate)) ||
        (st = c->get_string(c, "score", &score)))
        return st;
    o.score_layer = !strcmp(score, "layer");
    if (o.heads < 0 && (st = sk_prune_check_fraction("heads", o.heads))) return st;
    if (o.ffn < 0 && (st = sk_prune_check_fraction("ffn", o.ffn))) return st;
    if (o.heads == 0 && o.ffn == 0) return c->error(c, SK_ERR_INVALID, "nothing to prune: give heads and/or ffn (a fraction in [0, 1))");

    /* ---- where, and how many, checked before the model changes ---- */
    attn_layer *al = NULL;
    ffn_layer *fl = NULL;
    int na = 0, nf = 0;
    int64_t *size = NULL, *r = NULL, r_total = 0, rf_total = 0;
    const char **names = NULL;
    double **scores = NULL;
    uint8_t **drops = NULL;
    int cap = m->g.n_nodes + 1;
    size = sk_malloc((size_t)cap * sizeof *size);
    r = sk_malloc((size_t)cap * 2 * sizeof *r);
    names = sk_malloc((size_t)cap * sizeof *names);
    scores = sk_malloc((size_t)cap * sizeof *scores);
    drops = sk_malloc((size_t)cap * sizeof *drops);
    if (!size || !r || !names || !scores || !drops) st = SK_ERR_NOMEM;
    int64_t *rf = r + cap;
    if (!st && o.heads > 0 && !(st = find_attention(c, m, &al, &na))) {
        for (int i = 0; i < na; i++) { size[i] = al[i].heads; names[i] = m->g.nodes[al[i].attn].name; }
        st = count_removed(c, "heads", o.heads, o.uniform, size, na, names, r, &r_total);
    }
    if (!st && o.ffn > 0 && !(st = find_ffn(c, m, &fl, &nf))) {
        for (int i = 0; i < nf; i++) { size[i] = fl[i].F; names[i] = m->g.nodes[fl[i].up].name; }
        st = count_removed(c, "ffn", o.ffn, o.uniform, size, nf, names, rf, &rf_total);
    }
    if (!st && na && !r_total) c->note(c, "heads %g removes no head (rounded down per layer)", o.heads);
    if (!st && nf && !rf_total) c->note(c, "ffn %g removes no neuron (rounded down per layer)", o.ffn);
    const sk_calib *cal;
    if (!st) st = c->calib(c, m, &cal);

    /* ---- heads ---- */
    if (!st && na && r_total) {
        c->progress(c, 0, 1, "attention statistics");
        st = collect_stats(c, m, al, na, NULL, 0, o.score_layer);
        if (!st && o.score_layer) score_heads_layer(&m->g, al, na, o.compensate);
        else if (!st) st = score_heads_output(c, m, al, na, o.compensate);
        for (int i = 0; i < na; i++) { size[i] = al[i].heads; scores[i] = al[i].score; drops[i] = al[i].drop; }
        if (!st) st = choose(na, size, scores, drops, o.uniform, r, r_total);
        for (int i = 0; !st && i < na; i++) st = rewrite_heads(m, &al[i], o.compensate);
    }
    /* ---- FFN neurons, on the head-pruned model ---- */
    if (!st && nf && rf_total) {
        c->progress(c, 0, 1, "ffn statistics");
        st = collect_stats(c, m, NULL, 0, fl, nf, false);
        if (!st) score_ffn(&m->g, fl, nf, o.compensate);
        for (int i = 0; i < nf; i++) { size[i] = fl[i].F; scores[i] = fl[i].score; drops[i] = fl[i].drop; }
        if (!st) st = choose(nf, size, scores, drops, o.uniform, rf, rf_total);
        for (int i = 0; !st && i < nf; i++) st = rewrite_ffn(m, &fl[i], o.compensate);
    }
    /* ---- metadata ---- */
    if (!st) {
        int hmax = 0, hmin = 1 << 30, heads_before = 0, heads_after = 0;
        for (int i = 0; i < na; i++) {
            int kept = (int)sk_node_attr_i(&m->g.nodes[al[i].attn], "num_heads", 0);
            heads_before += al[i].heads;
            heads_after += kept;
            if (kept > hmax) hmax = kept;
            if (kept < hmin) hmin = kept;
        }
        int64_t fmax = 0, fmin = INT64_MAX, f_before = 0, f_after = 0;
        for (int i = 0; i < nf; i++) {
            int64_t N, K;
            SK_ASSERT(f32_linear(&m->g, fl[i].up, &N, &K));
            f_before += fl[i].F;
            f_after += N;
            if (N > fmax) fmax = N;
            if (N < fmin) fmin = N;
        }
        if (na && (m->arch.family == SK_FAM_BERT || m->arch.family == SK_FAM_GPT2) && na == m->arch.n_layers) m->arch.heads = hmax;
        if (nf && (m->arch.family == SK_FAM_BERT || m->arch.family == SK_FAM_GPT2) && nf == m->arch.n_layers) m->arch.ffn = (int)fmax;
        if (na && r_total)
            c->note(c, "heads: %d -> %d over %d layers (%s; score %s)%s", heads_before, heads_after, na,
                    hmin == hmax ? "uniform" : "per-layer counts differ", o.score_layer ? "layer" : "output",
                    hmin == hmax ? "" : ", see provenance 'prune_structured.layers'");
        if (nf && rf_total)
            c->note(c, "ffn: %lld -> %lld neurons over %d layers (%s)", (long long)f_before, (long long)f_after, nf,
                    fmin == fmax ? "uniform" : "per-layer widths differ");
        st = record(m, al, na, fl, nf);
    }
    free_layers(al, na, fl, nf);
    sk_free(size);
    sk_free(r);
    sk_free(names);
    sk_free(scores);
    sk_free(drops);
    return st;
}

static const struct sk_param structured_params[] = {
    {"heads", SK_PARAM_FLOAT, "0", "attention heads to remove: a fraction in [0, 1) of each layer's (or, with uniform "
     "false, of all), or a whole number", NULL, 0, 0},
    {"ffn", SK_PARAM_FLOAT, "0", "FFN neurons to remove: a fraction in [0, 1), or a whole number", NULL, 0, 0},
    {"uniform", SK_PARAM_BOOL, "true", "the same count from every layer (what a Hugging Face config can describe); "
     "false ranks the whole model's units together", NULL, 0, 0},
    {"score", SK_PARAM_STRING, "output", "heads: output (the model's loss / KL with the head removed, one calibration "
     "run per head) or layer (the exact error it adds to its block's output)", "output|layer", 0, 0},
    {"compensate", SK_PARAM_BOOL, "true", "add a removed unit's mean contribution to the next bias", NULL, 0, 0},
    {NULL, 0, NULL, NULL, NULL, 0, 0},
};

const struct sk_pass sk_pass_prune_structured = {
    .api_version = SK_PASS_API_VERSION,
    .name = "prune_structured",
    .summary = "remove attention heads and FFN neurons physically (smaller, faster matrices)",
    .params = structured_params,
    .run = structured_run,
};
