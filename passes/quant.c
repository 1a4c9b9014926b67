/* quant.c — the "quantize" pass: which layers, in what order, with what
 * calibration, and the rewrite of each into the quantized LINEAR of ir.h.
 *
 * The math on one matrix is elsewhere (the grid and RTN here, GPTQ and AWQ in
 * quant_int4.c, SmoothQuant in quant_int8.c); this file decides what to feed
 * it.  Candidates are LINEARs with a constant f32 W and MatMul / Gemm nodes
 * with a constant 2-D weight.  The head (a layer writing a graph output: LM
 * head, classifier) stays fp32 unless asked; embedding tables (Gather over a
 * constant) follow `embed` (quant_embed.c, which also handles a head tied to
 * a table).  Everything the user can get wrong (patterns, per-layer
 * overrides, missing calibration) is checked before the model is touched.
 *
 * RTN streams: each layer is quantized and rewritten in turn, so memory stays
 * near one tensor.  GPTQ and AWQ need each layer's real inputs from the
 * already-quantized layers before it: layers are ordered in stages (stage =
 * number of selected layers on the longest path before it; q/k/v share one,
 * the MLP's second linear comes after its first), and before each stage the
 * calibration samples run up to that stage.  Each such run continues the
 * previous one (eval/calib.h, sk_calib_stages_run) from the first node whose
 * inputs the stage in between changed (its layers' weights, and where AWQ
 * folds its scales, the norm or linear before them), so the forward work
 * over all stages is about twice one forward, not one per stage.  To keep
 * those runs on the fp32 kernels, quantized layers hold their dequantized
 * values in W until every stage is done, and only then become integer
 * weights.
 */
#include <cJSON.h>
#include <cblas.h>
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "quant.h"

/* ---- the grid and RTN ---- */

sk_status sk_qmat_alloc(sk_qmat *q, const sk_qspec *s, int64_t N, int64_t K)
{
    memset(q, 0, sizeof *q);
    q->spec = *s;
    q->N = N;
    q->K = K;
    SK_ASSERT(s->group > 0 && K % s->group == 0 && (s->bits == 8 || K % 2 == 0));
    size_t nk = (size_t)N * (size_t)K, ng = (size_t)N * (size_t)(K / s->group);
    q->codes = sk_malloc(s->bits == 8 ? nk : (nk + 1) / 2);
    q->scales = sk_malloc(ng * sizeof *q->scales);
    if (s->bits == 4 && !s->sym) q->zeros = sk_malloc(ng);
    if (!q->codes || !q->scales || (s->bits == 4 && !s->sym && !q->zeros)) {
        sk_qmat_free(q);
        return SK_ERR_NOMEM;
    }
    return SK_OK;
}

void sk_qmat_free(sk_qmat *q)
{
    sk_free(q->codes);
    sk_free(q->scales);
    sk_free(q->zeros);
    q->codes = NULL;
    q->scales = NULL;
    q->zeros = NULL;
}

static int qmax(const sk_qspec *s) { return s->bits == 8 ? 127 : 15; }

void sk_quant_grid(const sk_qspec *s, const float *v, int64_t n, float clip, float *scale, int *zero)
{
    float mn = 0, mx = 0;   /* 0 is always in the range */
    for (int64_t i = 0; i < n; i++) {
        if (v[i] < mn) mn = v[i];
        if (v[i] > mx) mx = v[i];
    }
    mn *= clip;
    mx *= clip;
    if (s->bits == 8 || s->sym) {
        float amax = fmaxf(-mn, mx);
        *zero = s->bits == 8 ? 0 : 8;
        *scale = amax > 0 ? amax / (s->bits == 8 ? 127.0f : 7.0f) : 1.0f;
        return;
    }
    float range = mx - mn;
    if (!(range > 0)) { *scale = 1.0f; *zero = 0; return; }
    *scale = range / 15.0f;
    int z = (int)nearbyintf(-mn / *scale);
    *zero = z < 0 ? 0 : z > 15 ? 15 : z;
}

int sk_quant_code(const sk_qspec *s, float w, float scale, int zero)
{
    float q = nearbyintf(w / scale) + (float)zero;
    int lo = s->bits == 8 ? -127 : 0, hi = qmax(s);
    if (!(q >= (float)lo)) return lo;   /* also NaN */
    return q > (float)hi ? hi : (int)q;
}

float sk_quant_value(const sk_qspec *s, int code, float scale, int zero)
{
    (void)s;
    return scale * (float)(code - zero);
}

static int group_zero(const sk_qmat *q, int64_t n, int64_t gi)
{
    if (q->spec.bits == 8) return 0;
    return q->zeros ? q->zeros[n * (q->K / q->spec.group) + gi] : 8;
}

int sk_qmat_code(const sk_qmat *q, int64_t n, int64_t k)
{
    int64_t e = n * q->K + k;
    if (q->spec.bits == 8) return ((const int8_t *)q->codes)[e];
    uint8_t b = ((const uint8_t *)q->codes)[e / 2];
    return e % 2 ? b >> 4 : b & 15;
}

static void set_code(sk_qmat *q, int64_t n, int64_t k, int code)
{
    int64_t e = n * q->K + k;
    if (q->spec.bits == 8) { ((int8_t *)q->codes)[e] = (int8_t)code; return; }
    uint8_t *b = (uint8_t *)q->codes + e / 2;
    *b = e % 2 ? (uint8_t)((*b & 15) | code << 4) : (uint8_t)((*b & 0xf0) | code);
}

void sk_qmat_dequant(const sk_qmat *q, float *w)
{
    int64_t G = q->K / q->spec.group;
    for (int64_t n = 0; n < q->N; n++)
        for (int64_t k = 0; k < q->K; k++) {
            int64_t gi = k / q->spec.group;
            w[n * q->K + k] = sk_quant_value(&q->spec, sk_qmat_code(q, n, k), q->scales[n * G + gi], group_zero(q, n, gi));
        }
}

/* Quantize row n, group gi of w with a given grid. */
static void put_group(sk_qmat *q, int64_t n, int64_t gi, const float *v, float scale, int zero)
{
    int64_t G = q->K / q->spec.group, g = q->spec.group;
    q->scales[n * G + gi] = scale;
    if (q->zeros) q->zeros[n * G + gi] = (uint8_t)zero;
    for (int64_t j = 0; j < g; j++) set_code(q, n, gi * g + j, sk_quant_code(&q->spec, v[j], scale, zero));
}

sk_status sk_quant_rtn(const float *w, int64_t N, int64_t K, const sk_qspec *s, const float *clip, sk_qmat *q)
{
    sk_status st = sk_qmat_alloc(q, s, N, K);
    if (st) return st;
    int64_t g = s->group, G = K / g;
    for (int64_t n = 0; n < N; n++)
        for (int64_t gi = 0; gi < G; gi++) {
            const float *v = w + n * K + gi * g;
            float scale;
            int zero;
            sk_quant_grid(s, v, g, clip ? clip[n * G + gi] : 1.0f, &scale, &zero);
            put_group(q, n, gi, v, scale, zero);
        }
    return SK_OK;
}

/* ---- graph helpers ---- */

static bool is_const_f32_2d(const sk_graph *g, int t)
{
    if (t < 0) return false;
    const sk_tensor *x = &g->tensors[t];
    return (x->flags & SK_TF_CONST) && x->dtype == SK_DT_F32 && x->rank == 2 && x->data && x->dims[0] > 0 &&
           x->dims[1] > 0 && !x->quant;
}

static bool is_activation(const sk_graph *g, int t) { return t >= 0 && !(g->tensors[t].flags & SK_TF_CONST); }

static bool is_graph_output(const sk_graph *g, int t)
{
    for (int i = 0; i < g->n_outputs; i++) if (g->outputs[i] == t) return true;
    return false;
}

/* Number of (node, input) uses of tensor t; *only gets the node when there is one. */
static int uses(const sk_graph *g, int t, int *only)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == t) { n++; if (only) *only = i; }
    return n;
}

static int producer(const sk_graph *g, int t)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++)
            if (g->nodes[i].out[k] == t) return i;
    return -1;
}

sk_status sk_quant_own(sk_model *m, int tid)
{
    sk_tensor *t = &m->g.tensors[tid];
    if (t->flags & SK_TF_OWNED) return SK_OK;
    void *p = sk_malloc(t->nbytes ? t->nbytes : 1);
    if (!p) return SK_ERR_NOMEM;
    if (t->nbytes) memcpy(p, t->data, t->nbytes);
    t->data = p;
    t->flags |= SK_TF_OWNED;
    return SK_OK;
}

float *sk_qlayer_weight(const sk_model *m, const sk_qlayer *l)
{
    const float *src = m->g.tensors[l->w].data;
    float *w = sk_malloc((size_t)(l->N * l->K) * sizeof *w);
    if (!w) return NULL;
    if (l->wt) memcpy(w, src, (size_t)(l->N * l->K) * sizeof *w);
    else
        for (int64_t k = 0; k < l->K; k++)
            for (int64_t n = 0; n < l->N; n++) w[n * l->K + k] = src[k * l->N + n];
    return w;
}

sk_status sk_qlayer_store(sk_model *m, const sk_qlayer *l, const float *w)
{
    sk_status st = sk_quant_own(m, l->w);
    if (st) return st;
    float *dst = m->g.tensors[l->w].data;
    if (l->wt) memcpy(dst, w, (size_t)(l->N * l->K) * sizeof *w);
    else
        for (int64_t k = 0; k < l->K; k++)
            for (int64_t n = 0; n < l->N; n++) dst[k * l->N + n] = w[n * l->K + k];
    return SK_OK;
}

/* ---- candidates ---- */

static bool gemm_ok(const sk_graph *g, const sk_node *n, int64_t *N)
{
    if (sk_node_attr_i(n, "transA", 0) != 0) return false;
    float alpha = sk_node_attr_f(n, "alpha", 1), beta = sk_node_attr_f(n, "beta", 1);
    if (!isfinite(alpha) || !isfinite(beta)) return false;
    const sk_tensor *b = &g->tensors[n->in[1]];
    *N = sk_node_attr_i(n, "transB", 0) ? b->dims[0] : b->dims[1];
    if (n->n_in < 3 || n->in[2] < 0) return true;
    const sk_tensor *c = &g->tensors[n->in[2]];
    int64_t cn = sk_tensor_numel(c);
    return (c->flags & SK_TF_CONST) && c->dtype == SK_DT_F32 && c->data && (cn == 1 || cn == *N) &&
           (c->rank <= 1 || (c->rank == 2 && c->dims[0] == 1));
}

sk_status sk_qlayers_find(const sk_model *m, sk_qlayer **out, int *n)
{
    const sk_graph *g = &m->g;
    *out = NULL;
    *n = 0;
    int cap = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const sk_node *nd = &g->nodes[i];
        sk_qlayer l = {.node = i, .b = -1, .spec = {8, 0, true}, .stage = -1};
        if (nd->n_in < 2 || !is_activation(g, nd->in[0]) || !is_const_f32_2d(g, nd->in[1])) continue;
        const sk_tensor *w = &g->tensors[nd->in[1]];
        if (nd->op == SK_OP_LINEAR) {
            if (nd->n_in > 3 && nd->in[3] >= 0) continue;   /* already quantized */
            l.wt = sk_node_attr_i(nd, "wt", 1) != 0;
            if (nd->n_in > 2 && nd->in[2] >= 0) {
                const sk_tensor *b = &g->tensors[nd->in[2]];
                if (!(b->flags & SK_TF_CONST) || b->dtype != SK_DT_F32 || !b->data) continue;
                l.b = nd->in[2];
            }
        } else if (nd->op == SK_OP_MATMUL) {
            l.wt = false;
        } else if (nd->op == SK_OP_GEMM) {
            int64_t N;
            if (!gemm_ok(g, nd, &N)) continue;
            l.wt = sk_node_attr_i(nd, "transB", 0) != 0;
        } else {
            continue;
        }
        l.x = nd->in[0];
        l.w = nd->in[1];
        l.N = l.wt ? w->dims[0] : w->dims[1];
        l.K = l.wt ? w->dims[1] : w->dims[0];
        l.head = is_graph_output(g, nd->out[0]);
        if (sk_grow((void **)out, &cap, *n + 1, sizeof **out)) {
            sk_free(*out);
            *out = NULL;
            *n = 0;
            return SK_ERR_NOMEM;
        }
        (*out)[(*n)++] = l;
    }
    return SK_OK;
}

bool sk_qlayer_match(const sk_model *m, const sk_qlayer *l, const char *pattern)
{
    return fnmatch(pattern, m->g.nodes[l->node].name, 0) == 0 || fnmatch(pattern, m->g.tensors[l->w].name, 0) == 0;
}

sk_status sk_qlayer_no_match(const sk_model *m, const sk_qlayer *ls, int n, const char *kind, const char *pattern)
{
    if (n == 0) return sk_err(SK_ERR_INVALID, "%s pattern '%s' matches no layer (the model has no Linear/MatMul/Gemm "
                              "with constant weights)", kind, pattern);
    return sk_err(SK_ERR_INVALID, "%s pattern '%s' matches no layer (names like '%s', weight '%s')", kind, pattern,
                  m->g.nodes[ls[0].node].name, m->g.tensors[ls[0].w].name);
}

static sk_status check_patterns(const sk_model *m, const sk_qlayer *ls, int n, const char *kind,
                                const char *const *pats, int np)
{
    for (int p = 0; p < np; p++) {
        bool any = false;
        for (int i = 0; i < n && !any; i++) any = sk_qlayer_match(m, &ls[i], pats[p]);
        if (!any) return sk_qlayer_no_match(m, ls, n, kind, pats[p]);
    }
    return SK_OK;
}

static bool match_any(const sk_model *m, const sk_qlayer *l, const char *const *pats, int np)
{
    for (int p = 0; p < np; p++) if (sk_qlayer_match(m, l, pats[p])) return true;
    return false;
}

sk_status sk_qlayers_select(const sk_model *m, sk_qlayer *ls, int n, const char *const *include, int n_include,
                            const char *const *exclude, int n_exclude, bool head)
{
    sk_status st;
    if ((st = check_patterns(m, ls, n, "include", include, n_include)) ||
        (st = check_patterns(m, ls, n, "exclude", exclude, n_exclude)))
        return st;
    for (int i = 0; i < n; i++) {
        sk_qlayer *l = &ls[i];
        l->selected = n_include ? match_any(m, l, include, n_include) : !l->head;
        if (l->head && head) l->selected = true;
        if (match_any(m, l, exclude, n_exclude)) l->selected = false;
    }
    return SK_OK;
}

/* Drop every attribute of a node (a Gemm becoming a LINEAR). */
static void clear_attrs(sk_node *n)
{
    for (int a = 0; a < n->n_attrs; a++) {
        sk_attr *t = &n->attrs[a];
        sk_free(t->name);
        sk_free(t->s);
        sk_free(t->ints);
        sk_free(t->floats);
    }
    sk_free(n->attrs);
    n->attrs = NULL;
    n->n_attrs = 0;
}

/* A new tensor name base + suffix not yet in g (sk_free it). */
static char *unique_name(const sk_graph *g, const char *base, const char *suffix)
{
    size_t len = strlen(base) + strlen(suffix) + 16;
    char *s = sk_malloc(len);
    if (!s) return NULL;
    snprintf(s, len, "%s%s", base, suffix);
    for (int i = 1; sk_graph_find_tensor(g, s) >= 0; i++) snprintf(s, len, "%s%s.%d", base, suffix, i);
    return s;
}

/* A new f32 constant [n] (or [rows, cols]) holding v (copied); its id or -1. */
static int add_f32(sk_graph *g, const char *base, const char *suffix, int rank, const int64_t *dims, const float *v,
                   int64_t count)
{
    char *name = unique_name(g, base, suffix);
    float *d = sk_malloc((size_t)(count ? count : 1) * sizeof *d);
    if (!name || !d) { sk_free(name); sk_free(d); return -1; }
    memcpy(d, v, (size_t)count * sizeof *d);
    int id = sk_graph_add_const(g, name, SK_DT_F32, rank, dims, d, true);
    sk_free(name);
    if (id >= 0) g->tensors[id].flags |= SK_TF_WEIGHT;
    return id;
}

sk_status sk_qlayer_linearize(sk_model *m, sk_qlayer *l)
{
    sk_graph *g = &m->g;
    sk_node *n = &g->nodes[l->node];
    if (n->op == SK_OP_LINEAR) return SK_OK;
    if (n->op == SK_OP_GEMM) {
        float alpha = sk_node_attr_f(n, "alpha", 1), beta = sk_node_attr_f(n, "beta", 1);
        sk_status st;
        if (alpha != 1.0f) {   /* alpha into W: in place when W is this node's alone */
            int64_t cnt = l->N * l->K;
            if (uses(g, l->w, NULL) > 1) {
                const sk_tensor *w = &g->tensors[l->w];
                int64_t dims[2] = {w->dims[0], w->dims[1]};
                int id = add_f32(g, g->nodes[l->node].name, ".weight", 2, dims, w->data, cnt);
                if (id < 0) return SK_ERR_NOMEM;
                l->w = id;
            } else if ((st = sk_quant_own(m, l->w))) {
                return st;
            }
            float *d = g->tensors[l->w].data;
            for (int64_t i = 0; i < cnt; i++) d[i] *= alpha;
        }
        int c = g->nodes[l->node].n_in > 2 ? g->nodes[l->node].in[2] : -1;
        if (c >= 0) {   /* C → a bias [N], times beta */
            const sk_tensor *ct = &g->tensors[c];
            int64_t cn = sk_tensor_numel(ct);
            if (beta != 1.0f || cn != l->N || ct->rank != 1) {
                float *v = sk_malloc((size_t)l->N * sizeof *v);
                if (!v) return SK_ERR_NOMEM;
                for (int64_t j = 0; j < l->N; j++) v[j] = beta * ((const float *)ct->data)[cn == 1 ? 0 : j];
                if (uses(g, c, NULL) > 1) {
                    int id = add_f32(g, g->nodes[l->node].name, ".bias", 1, &l->N, v, l->N);
                    sk_free(v);
                    if (id < 0) return SK_ERR_NOMEM;
                    c = id;
                } else {   /* this node's alone: becomes [N] in place */
                    sk_tensor *t = &g->tensors[c];
                    if (t->flags & SK_TF_OWNED) sk_free(t->data);
                    t->data = v;
                    t->flags |= SK_TF_OWNED;
                    t->rank = 1;
                    t->dims[0] = l->N;
                    t->nbytes = (size_t)l->N * sizeof *v;
                }
            }
        }
        l->b = c;
        n = &g->nodes[l->node];
        clear_attrs(n);
        n->in[1] = l->w;
        n->n_in = c >= 0 ? 3 : 2;
        if (c >= 0) n->in[2] = c;
    }
    n->op = SK_OP_LINEAR;
    return sk_node_set_i(n, "wt", l->wt ? 1 : 0);
}

/* ---- rewriting a layer into the quantized LINEAR ---- */

sk_status sk_qmat_store(sk_graph *g, int w, sk_qmat *q, int *sid, int *zid)
{
    const bool b8 = q->spec.bits == 8;
    const int64_t G = (q->K - 1) / q->spec.group + 1, sd[2] = {q->N, G};
    char *sname = unique_name(g, g->tensors[w].name, ".scales");
    char *zname = q->zeros ? unique_name(g, g->tensors[w].name, ".zeros") : NULL;
    sk_status st = sname && (!q->zeros || zname) ? SK_OK : SK_ERR_NOMEM;
    *sid = *zid = -1;
    if (!st) {
        *sid = sk_graph_add_const(g, sname, SK_DT_F32, b8 && G == 1 ? 1 : 2, sd, q->scales, true);
        q->scales = NULL;   /* the graph has it now (or freed it) */
        if (*sid < 0) st = SK_ERR_NOMEM;
    }
    if (!st && q->zeros) {
        *zid = sk_graph_add_const(g, zname, SK_DT_U8, 2, sd, q->zeros, true);
        q->zeros = NULL;
        if (*zid < 0) st = SK_ERR_NOMEM;
    }
    sk_quant *qi = st ? NULL : sk_malloc(sizeof *qi);
    if (!st && !qi) st = SK_ERR_NOMEM;
    sk_free(sname);
    sk_free(zname);
    if (st) { sk_qmat_free(q); return st; }

    sk_tensor *t = &g->tensors[w];
    if (t->flags & SK_TF_OWNED) sk_free(t->data);
    t->dtype = b8 ? SK_DT_I8 : SK_DT_Q4;
    t->rank = 2;
    t->dims[0] = q->N;
    t->dims[1] = q->K;
    t->data = q->codes;
    q->codes = NULL;
    SK_ASSERT(sk_dtype_nbytes(t->dtype, q->N * q->K, &t->nbytes));
    t->flags |= SK_TF_CONST | SK_TF_WEIGHT | SK_TF_OWNED;
    sk_free(t->quant);
    *qi = (sk_quant){.bits = q->spec.bits, .group = q->spec.group, .axis = 1, .symmetric = *zid < 0,
                     .scales = *sid, .zeros = *zid};
    t->quant = qi;
    sk_qmat_free(q);
    return SK_OK;
}

sk_status sk_qnode_attach(sk_graph *g, int nd, int at, int sid, int zid, const sk_qspec *s)
{
    int *in = sk_realloc(g->nodes[nd].in, (size_t)(at + 2) * sizeof *in);
    if (!in) return SK_ERR_NOMEM;
    sk_node *n = &g->nodes[nd];
    n->in = in;
    in[at] = sid;
    in[at + 1] = zid;
    n->n_in = zid >= 0 ? at + 2 : at + 1;
    sk_status st = sk_node_set_i(n, "bits", s->bits);
    return st ? st : sk_node_set_i(n, "group", s->group);
}

sk_status sk_qlinear_attach(sk_graph *g, int nd, int w, int b, int sid, int zid, const sk_qspec *s, int act_bits)
{
    sk_status st = sk_qnode_attach(g, nd, 3, sid, zid, s);
    sk_node *n = &g->nodes[nd];
    if (st || (st = sk_node_set_i(n, "wt", 1))) return st;
    n->in[1] = w;
    n->in[2] = b;
    return sk_node_set_i(n, "act_bits", act_bits);
}

sk_status sk_qlayer_finalize(sk_model *m, sk_qlayer *l)
{
    sk_graph *g = &m->g;
    int w = l->w, sid, zid;
    /* a W shared with other nodes (a tied LM head) keeps its fp32 tensor for them */
    if (uses(g, w, NULL) > 1) {
        char *base = unique_name(g, g->nodes[l->node].name, ".weight");
        w = base ? sk_graph_add_tensor(g, base, l->q.spec.bits == 8 ? SK_DT_I8 : SK_DT_Q4, 2, (int64_t[]){l->N, l->K}) : -1;
        sk_free(base);
        if (w < 0) { sk_qmat_free(&l->q); return SK_ERR_NOMEM; }
    }
    sk_qspec spec = l->q.spec;
    sk_status st = sk_qmat_store(g, w, &l->q, &sid, &zid);
    if (!st) st = sk_qlinear_attach(g, l->node, w, l->b, sid, zid, &spec, l->act_bits);
    if (st) return st;
    l->w = w;
    l->wt = true;
    l->quantized = false;
    return SK_OK;
}

/* ---- calibration statistics ---- */

typedef struct obs {
    sk_qstat *st;
    int *by_node;            /* node → index into st, or -1 */
    double **sum;            /* per stat: Σ|x_j| in double */
    double **sumsq;          /* per stat: Σx_j² in double */
    sk_status err;
    const sk_graph *g;
} obs;

static void observe(void *ctx, int node, const sk_kctx *k)
{
    obs *o = ctx;
    int i = o->by_node[node];
    if (i < 0 || o->err) return;
    sk_qstat *s = &o->st[i];
    const sk_rtensor *x = k->in[0];
    if (x->dtype != SK_DT_F32 || x->rank < 1 || x->dims[x->rank - 1] != s->K) {
        o->err = sk_err(SK_ERR_INVALID, "calibration: node '%s': input is not f32 [..., %lld]", o->g->nodes[node].name,
                        (long long)s->K);
        return;
    }
    int64_t K = s->K, M = sk_rt_numel(x) / K;
    const float *d = x->data;
    double *sum = o->sum[i], *sq = o->sumsq[i];
    for (int64_t r = 0; r < M; r++)
        for (int64_t j = 0; j < K; j++) {
            float a = fabsf(d[r * K + j]);
            sum[j] += a;
            sq[j] += (double)a * a;
            if (a > s->max_abs[j]) s->max_abs[j] = a;
        }
    if (s->H && M > 0) cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)K, (int)M, 1.0f, d, (int)K, 1.0f, s->H, (int)K);
    s->rows += M;
}

void sk_qstats_free(sk_qstat *s, int n)
{
    for (int i = 0; s && i < n; i++) {
        sk_free(s[i].mean_abs);
        sk_free(s[i].max_abs);
        sk_free(s[i].H);
        sk_free(s[i].mean_sq);
    }
    sk_free(s);
}

sk_status sk_qstats_collect(sk_pass_ctx *c, const sk_model *m, const sk_qlayer *ls, const int *idx, int n_idx,
                            bool want_H, sk_calib_stages *r, int keep, sk_qstat **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    sk_qstat *st = sk_calloc((size_t)n_idx + 1, sizeof *st);
    double **sum = sk_calloc((size_t)n_idx + 1, sizeof *sum), **sumsq = sk_calloc((size_t)n_idx + 1, sizeof *sumsq);
    int *by_node = sk_malloc((size_t)m->g.n_nodes * sizeof *by_node + 1);
    sk_status s = st && sum && sumsq && by_node ? SK_OK : SK_ERR_NOMEM;
    int n = 0, stop = -1;
    for (int i = 0; !s && i < m->g.n_nodes; i++) by_node[i] = -1;
    for (int i = 0; !s && i < n_idx; i++) {
        const sk_qlayer *l = &ls[idx[i]];
        if (l->node > stop) stop = l->node;
        int j = 0;
        while (j < n && st[j].x != l->x) j++;
        if (j < n) {   /* one input, several layers (q, k, v): the first to run updates it */
            if (l->node < st[j].owner) { by_node[st[j].owner] = -1; st[j].owner = l->node; by_node[l->node] = j; }
            continue;
        }
        st[n] = (sk_qstat){.x = l->x, .K = l->K, .owner = l->node};
        size_t K = (size_t)l->K;
        st[n].mean_abs = sk_calloc(K, sizeof(float));
        st[n].max_abs = sk_calloc(K, sizeof(float));
        st[n].mean_sq = sk_calloc(K, sizeof(float));
        sum[n] = sk_calloc(K, sizeof(double));
        sumsq[n] = sk_calloc(K, sizeof(double));
        if (want_H) st[n].H = sk_calloc(K * K, sizeof(float));
        if (!st[n].mean_abs || !st[n].max_abs || !st[n].mean_sq || !sum[n] || !sumsq[n] || (want_H && !st[n].H))
            s = SK_ERR_NOMEM;
        by_node[l->node] = n;
        n++;
    }
    obs o = {.st = st, .by_node = by_node, .sum = sum, .sumsq = sumsq, .g = &m->g};
    int *nodes = s ? NULL : sk_malloc((size_t)n_idx * sizeof *nodes + 1);
    if (!s && !nodes) s = SK_ERR_NOMEM;
    for (int i = 0; !s && i < n_idx; i++) nodes[i] = ls[idx[i]].node;   /* about to change: inputs are enough */
    if (!s) s = r ? sk_calib_stages_run(r, stop, keep, nodes, n_idx, observe, &o) : c->calib_run(c, m, stop, observe, &o);
    sk_free(nodes);
    if (!s) s = o.err;
    for (int i = 0; !s && i < n; i++) {
        sk_qstat *q = &st[i];
        if (q->rows == 0) { s = sk_err(SK_ERR_INVALID, "calibration: no rows reached layer input '%s'", m->g.tensors[q->x].name); break; }
        double inv = 1.0 / (double)q->rows;
        for (int64_t j = 0; j < q->K; j++) q->mean_abs[j] = (float)(sum[i][j] * inv);
        for (int64_t j = 0; j < q->K; j++) q->mean_sq[j] = (float)(sumsq[i][j] * inv);
        if (q->H)
            for (int64_t a = 0; a < q->K; a++)
                for (int64_t b = a; b < q->K; b++)
                    q->H[b * q->K + a] = q->H[a * q->K + b] = (float)(q->H[a * q->K + b] * inv);
    }
    for (int i = 0; sum && i < n_idx; i++) sk_free(sum[i]);
    for (int i = 0; sumsq && i < n_idx; i++) sk_free(sumsq[i]);
    sk_free(sum);
    sk_free(sumsq);
    sk_free(by_node);
    if (s) { sk_qstats_free(st, n); return s; }
    *out = st;
    *n_out = n;
    return SK_OK;
}

/* ---- folding a per-channel scale into what produces a layer input ---- */

static bool in_list(int v, const int *a, int n)
{
    for (int i = 0; i < n; i++) if (a[i] == v) return true;
    return false;
}

/* Input idx of node nd is a constant f32 of k values used by nd alone (or absent when optional). */
static bool own_param(const sk_graph *g, int nd, int idx, int64_t k, bool optional)
{
    const sk_node *n = &g->nodes[nd];
    int t = idx < n->n_in ? n->in[idx] : -1;
    if (t < 0) return optional;
    const sk_tensor *x = &g->tensors[t];
    return (x->flags & SK_TF_CONST) && x->dtype == SK_DT_F32 && x->data && sk_tensor_numel(x) == k && uses(g, t, NULL) == 1;
}

void sk_quant_find_fold(const sk_model *m, int x, const int *cons, int n, sk_fold *f)
{
    const sk_graph *g = &m->g;
    memset(f, 0, sizeof *f);
    const char *xn = g->tensors[x].name;
    if (is_graph_output(g, x)) { f->reason = "the input is a graph output"; snprintf(f->why, sizeof f->why, "'%s' is a graph output", xn); return; }
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            if (g->nodes[i].in[k] != x) continue;
            if (!in_list(i, cons, n) || k != 0) {
                f->reason = "the input also feeds other nodes (a residual)";
                snprintf(f->why, sizeof f->why, "'%s' also feeds %s '%s'", xn, sk_op_get(g->nodes[i].op)->name,
                         g->nodes[i].name);
                return;
            }
        }
    int p = producer(g, x);
    if (p < 0) { f->reason = "the input is a graph input"; snprintf(f->why, sizeof f->why, "'%s' is a graph input", xn); return; }
    const sk_node *pn = &g->nodes[p];
    const sk_tensor *xt = &g->tensors[x];
    int64_t K = xt->rank > 0 ? xt->dims[xt->rank - 1] : -1;
    if (pn->op == SK_OP_LAYERNORM || pn->op == SK_OP_SKIP_LAYERNORM) {
        bool ln = pn->op == SK_OP_LAYERNORM;
        int64_t axis = ln ? sk_node_attr_i(pn, "axis", -1) : -1;
        if (axis != -1 && !(xt->rank > 0 && axis == xt->rank - 1)) {
            f->reason = "the input comes from a norm over other axes";
            snprintf(f->why, sizeof f->why, "'%s' comes from %s '%s' over axis %lld, not the channels", xn,
                     sk_op_get(pn->op)->name, pn->name, (long long)axis);
        } else if (K <= 0 || !own_param(g, p, ln ? 1 : 2, K, false) || !own_param(g, p, ln ? 2 : 3, K, true)) {
            f->reason = "the norm's gamma/beta are shared or not constant";
            snprintf(f->why, sizeof f->why, "the gamma/beta of %s '%s' are not constants of its own", sk_op_get(pn->op)->name,
                     pn->name);
        } else {
            f->kind = 1;
            f->node = p;
        }
        return;
    }
    /* walk back to the LINEAR whose output channels these are */
    int t = x, off = 0;
    for (int hops = 0; hops < 8; hops++) {
        int q = producer(g, t);
        const sk_node *qn = q >= 0 ? &g->nodes[q] : NULL;
        if (!qn) break;
        if (qn->op == SK_OP_ATTENTION && qn->out[0] == t) {
            int v = qn->in[2], only = -1;
            if (uses(g, v, &only) != 1 || qn->in[0] == v || qn->in[1] == v) break;
            t = v;
            continue;
        }
        if (qn->op == SK_OP_SPLIT) {
            int in = qn->in[0], only = -1;
            const sk_tensor *it = &g->tensors[in];
            int64_t axis = sk_node_attr_i(qn, "axis", 0);
            int64_t sizes[16];
            int ns = 0;
            if (qn->n_in > 1 && qn->in[1] >= 0) {
                const sk_tensor *st = &g->tensors[qn->in[1]];
                if (!(st->flags & SK_TF_CONST) || st->dtype != SK_DT_I64 || sk_tensor_numel(st) > 16) break;
                ns = (int)sk_tensor_numel(st);
                memcpy(sizes, st->data, (size_t)ns * sizeof *sizes);
            } else {
                const sk_attr *a = sk_node_attr(qn, "split");
                if (!a || a->type != SK_ATTR_INTS || a->n > 16) break;
                ns = a->n;
                memcpy(sizes, a->ints, (size_t)ns * sizeof *sizes);
            }
            if (it->rank < 1 || !(axis == -1 || axis == it->rank - 1) || ns != qn->n_out || uses(g, in, &only) != 1) break;
            int j = 0;
            while (j < qn->n_out && qn->out[j] != t) off += (int)sizes[j], j++;
            t = in;
            continue;
        }
        if (qn->op == SK_OP_RELU) {
            int only = -1;
            if (uses(g, qn->in[0], &only) != 1) break;
            t = qn->in[0];
            continue;
        }
        if (qn->op == SK_OP_LINEAR) {
            const char *act = sk_node_attr_s(qn, "act", "");
            bool wt = sk_node_attr_i(qn, "wt", 1) != 0;
            if ((act[0] && strcmp(act, "relu")) || (qn->n_in > 3 && qn->in[3] >= 0 && !(g->tensors[qn->in[1]].flags & SK_TF_CONST)))
                break;
            if (!is_const_f32_2d(g, qn->in[1]) || uses(g, qn->in[1], NULL) != 1) break;
            const sk_tensor *w = &g->tensors[qn->in[1]];
            int64_t N = wt ? w->dims[0] : w->dims[1];
            if (off + K > N || (qn->n_in > 2 && !own_param(g, q, 2, N, true))) break;
            f->kind = 2;
            f->node = q;
            f->off = off;
            return;
        }
        break;
    }
    int q = producer(g, t);
    const char *act = q >= 0 && g->nodes[q].op == SK_OP_LINEAR ? sk_node_attr_s(&g->nodes[q], "act", "") : "";
    f->reason = "the input comes from an op that cannot absorb a scale";
    snprintf(f->why, sizeof f->why, "'%s' comes from %s '%s'%s%s", xn, q >= 0 ? sk_op_get(g->nodes[q].op)->name : "input",
             q >= 0 ? g->nodes[q].name : g->tensors[t].name, act[0] ? " with activation " : "", act);
}

void sk_foldnotes_add(sk_foldnotes *fn, const sk_fold *f, const char *layer, int n_layers)
{
    int i = 0;
    while (i < fn->n && strcmp(fn->r[i].reason, f->reason)) i++;
    if (i == fn->n) {
        if (fn->n == (int)(sizeof fn->r / sizeof fn->r[0])) i--;   /* out of slots: lump into the last */
        else {
            fn->n++;
            fn->r[i].reason = f->reason;
            fn->r[i].layers = 0;
            snprintf(fn->r[i].first, sizeof fn->r[i].first, "%s%s: %s", layer, n_layers > 1 ? " and its siblings" : "", f->why);
        }
    }
    fn->r[i].layers += n_layers;
    sk_log("%s%s: %s", layer, n_layers > 1 ? " and its siblings" : "", f->why);
}

void sk_foldnotes_emit(sk_pass_ctx *c, const sk_foldnotes *fn, const char *what)
{
    for (int i = 0; i < fn->n; i++)
        c->note(c, "%s: %d layer%s: %s (e.g. %s)", what, fn->r[i].layers, fn->r[i].layers == 1 ? "" : "s", fn->r[i].reason,
                fn->r[i].first);
}

sk_status sk_quant_apply_fold(sk_model *m, const sk_fold *f, const float *s, int64_t K, sk_qlayer *ls, int n,
                              const int *idx, int n_idx)
{
    sk_graph *g = &m->g;
    sk_status st;
    SK_ASSERT(f->kind == 1 || f->kind == 2);
    const sk_node *pn = &g->nodes[f->node];
    if (f->kind == 1) {
        bool ln = pn->op == SK_OP_LAYERNORM;
        for (int k = 0; k < 2; k++) {
            int slot = (ln ? 1 : 2) + k;
            int t = slot < pn->n_in ? pn->in[slot] : -1;
            if (t < 0) continue;
            if ((st = sk_quant_own(m, t))) return st;
            float *v = g->tensors[t].data;
            for (int64_t j = 0; j < K; j++) v[j] /= s[j];
        }
    } else {
        bool wt = sk_node_attr_i(pn, "wt", 1) != 0;
        int w = pn->in[1], b = pn->n_in > 2 ? pn->in[2] : -1;
        const sk_tensor *wtn = &g->tensors[w];
        int64_t N = wt ? wtn->dims[0] : wtn->dims[1], KK = wt ? wtn->dims[1] : wtn->dims[0];
        if ((st = sk_quant_own(m, w)) || (b >= 0 && (st = sk_quant_own(m, b)))) return st;
        float *wd = g->tensors[w].data, *bd = b >= 0 ? g->tensors[b].data : NULL;
        sk_qlayer *tl = NULL;
        for (int i = 0; i < n; i++) if (ls[i].node == f->node) tl = &ls[i];
        for (int64_t r = 0; r < K; r++) {
            int64_t row = f->off + r;
            float inv = 1.0f / s[r];
            for (int64_t k = 0; k < KK; k++) wd[wt ? row * KK + k : k * N + row] *= inv;
            if (bd) bd[row] *= inv;
            if (tl && tl->quantized) {
                int64_t G = tl->K / tl->q.spec.group;
                for (int64_t gi = 0; gi < G; gi++) tl->q.scales[row * G + gi] *= inv;
            }
        }
    }
    for (int i = 0; i < n_idx; i++) {
        sk_qlayer *l = &ls[idx[i]];
        if ((st = sk_quant_own(m, l->w))) return st;
        float *wd = g->tensors[l->w].data;
        for (int64_t nn = 0; nn < l->N; nn++)
            for (int64_t j = 0; j < l->K; j++) wd[l->wt ? nn * l->K + j : j * l->N + nn] *= s[j];
    }
    return SK_OK;
}

/* ---- the pass ---- */

static const char *method_name(int m) { return m == SK_QM_GPTQ ? "gptq" : m == SK_QM_AWQ ? "awq" : "rtn"; }

static int method_of(const char *s) { return !strcmp(s, "gptq") ? SK_QM_GPTQ : !strcmp(s, "awq") ? SK_QM_AWQ : SK_QM_RTN; }

typedef struct qopts {
    sk_qspec spec;
    int method, act_bits;
    double smooth;           /* SmoothQuant alpha, 0 = off */
    bool head8;              /* head = int8 */
    sk_qtable_opts embed;    /* embedding tables (quant_embed.c) */
    sk_gptq_opts gptq;
    int awq_grid;
    bool awq_clip;
} qopts;

/* The per-layer overrides {"pattern": {"bits": 8, ...}}: checked whole, then applied in order. */
static sk_status apply_overrides(const sk_model *m, sk_qlayer *ls, int n, const char *json)
{
    static const char *keys = "bits, group, sym, method, act_bits";
    cJSON *o = cJSON_Parse(json);
    sk_status st = o ? SK_OK : SK_ERR_NOMEM;
    for (const cJSON *e = o ? o->child : NULL; e && !st; e = e->next) {
        const char *pat = e->string;
        if (!cJSON_IsObject(e)) {
            st = sk_err(SK_ERR_INVALID, "layers['%s']: expected an object like {\"bits\": 8}", pat);
            break;
        }
        bool any = false;
        for (int i = 0; i < n && !any; i++) any = sk_qlayer_match(m, &ls[i], pat);
        if (!any) { st = sk_qlayer_no_match(m, ls, n, "layers", pat); break; }
        for (const cJSON *kv = e->child; kv && !st; kv = kv->next) {
            const char *k = kv->string;
            bool ok;
            if (!strcmp(k, "bits")) ok = cJSON_IsNumber(kv) && (kv->valuedouble == 4 || kv->valuedouble == 8);
            else if (!strcmp(k, "group")) ok = cJSON_IsNumber(kv) && (kv->valuedouble == 32 || kv->valuedouble == 64 || kv->valuedouble == 128);
            else if (!strcmp(k, "sym")) ok = cJSON_IsBool(kv);
            else if (!strcmp(k, "act_bits")) ok = cJSON_IsNumber(kv) && (kv->valuedouble == 0 || kv->valuedouble == 8);
            else if (!strcmp(k, "method"))
                ok = cJSON_IsString(kv) && (!strcmp(kv->valuestring, "rtn") || !strcmp(kv->valuestring, "gptq") ||
                                            !strcmp(kv->valuestring, "awq"));
            else {
                st = sk_err(SK_ERR_INVALID, "layers['%s']: unknown key '%s' (expected %s)", pat, k, keys);
                break;
            }
            if (!ok) {
                char *v = cJSON_PrintUnformatted(kv);
                const char *want = !strcmp(k, "bits") ? "4 or 8" : !strcmp(k, "group") ? "32, 64 or 128" :
                                   !strcmp(k, "sym") ? "true or false" : !strcmp(k, "act_bits") ? "0 or 8" : "rtn, gptq or awq";
                st = sk_err(SK_ERR_INVALID, "layers['%s']: '%s' must be %s, got %s", pat, k, want, v ? v : "?");
                free(v);
                break;
            }
            for (int i = 0; i < n; i++) {
                sk_qlayer *l = &ls[i];
                if (!sk_qlayer_match(m, l, pat)) continue;
                if (!strcmp(k, "bits")) l->spec.bits = (int)kv->valuedouble;
                else if (!strcmp(k, "group")) l->spec.group = (int)kv->valuedouble;
                else if (!strcmp(k, "sym")) l->spec.sym = cJSON_IsTrue(kv);
                else if (!strcmp(k, "act_bits")) l->act_bits = (int)kv->valuedouble;
                else l->method = method_of(kv->valuestring);
            }
        }
        for (int i = 0; !st && i < n; i++)   /* naming a layer in overrides selects it */
            if (sk_qlayer_match(m, &ls[i], pat)) ls[i].selected = true;
    }
    cJSON_Delete(o);
    return st;
}

static sk_status read_opts(sk_pass_ctx *c, qopts *o, int n_include)
{
    int64_t bits, group, grid, block, egroup;
    double damp;
    bool sym, act_order, clip;
    const char *method, *head, *embed;
    int64_t act_bits;
    sk_status st;
    if ((st = c->get_int(c, "bits", &bits)) || (st = c->get_int(c, "group", &group)) || (st = c->get_bool(c, "sym", &sym)) ||
        (st = c->get_string(c, "method", &method)) || (st = c->get_int(c, "act_bits", &act_bits)) ||
        (st = c->get_float(c, "smoothquant", &o->smooth)) || (st = c->get_string(c, "head", &head)) ||
        (st = c->get_string(c, "embed", &embed)) || (st = c->get_int(c, "embed_group", &egroup)) ||
        (st = c->get_float(c, "damp", &damp)) || (st = c->get_int(c, "block", &block)) ||
        (st = c->get_bool(c, "act_order", &act_order)) || (st = c->get_int(c, "awq_grid", &grid)) ||
        (st = c->get_bool(c, "awq_clip", &clip)))
        return st;
    o->spec = (sk_qspec){(int)bits, (int)group, sym};
    o->method = method_of(method);
    o->act_bits = (int)act_bits;
    o->head8 = !strcmp(head, "int8");
    /* auto: the tables take the layers' bits, unless include narrows what is quantized */
    int eb = !strcmp(embed, "int8") ? 8 : !strcmp(embed, "int4") ? 4 : !strcmp(embed, "fp32") ? 0 : n_include ? 0 : (int)bits;
    o->embed = (sk_qtable_opts){eb, egroup ? (int)egroup : (int)group, sym, (int)act_bits, o->smooth > 0,
                                strcmp(embed, "auto") != 0};
    o->gptq = (sk_gptq_opts){damp, (int)block, act_order};
    o->awq_grid = (int)grid;
    o->awq_clip = clip;
    return SK_OK;
}

int sk_qlayers_stages(const sk_model *m, sk_qlayer *ls, int n)
{
    const sk_graph *g = &m->g;
    int *dep = sk_calloc((size_t)g->n_tensors + 1, sizeof *dep), max = -1;
    int *layer_of = sk_malloc(((size_t)g->n_nodes + 1) * sizeof *layer_of);
    if (!dep || !layer_of) { sk_free(dep); sk_free(layer_of); return -2; }
    for (int i = 0; i < g->n_nodes; i++) layer_of[i] = -1;
    for (int i = 0; i < n; i++) if (ls[i].selected) layer_of[ls[i].node] = i;
    for (int i = 0; i < g->n_nodes; i++) {
        const sk_node *nd = &g->nodes[i];
        int d = 0;
        for (int k = 0; k < nd->n_in; k++) if (nd->in[k] >= 0 && dep[nd->in[k]] > d) d = dep[nd->in[k]];
        if (layer_of[i] >= 0) {
            ls[layer_of[i]].stage = d;
            if (d > max) max = d;
            d++;
        }
        for (int k = 0; k < nd->n_out; k++) if (nd->out[k] >= 0) dep[nd->out[k]] = d;
    }
    sk_free(dep);
    sk_free(layer_of);
    return max;
}

/* Add t to the set a[0..*n) (cap entries). */
static void add_tensor(int *a, int *n, int cap, int t)
{
    if (t < 0 || in_list(t, a, *n)) return;
    SK_ASSERT(*n < cap);
    a[(*n)++] = t;
}

int sk_qlayers_keep(const sk_model *m, const sk_qlayer *ls, int n, int s, int next)
{
    const sk_graph *g = &m->g;
    int cap = 4 * n + 1, nt = 0, keep = g->n_nodes;
    int *ch = sk_malloc((size_t)cap * sizeof *ch), *cons = sk_malloc(((size_t)n + 1) * sizeof *cons);
    if (!ch || !cons) { sk_free(ch); sk_free(cons); return 0; }   /* 0: keep nothing, runs start from the inputs */
    for (int i = 0; i < n; i++) {
        const sk_qlayer *l = &ls[i];
        if (!l->selected || l->stage < s || l->stage >= next) continue;
        add_tensor(ch, &nt, cap, l->w);
        if (l->method != SK_QM_AWQ) continue;
        int nc = 0;   /* the layers awq_group will fold for together: same stage, same input */
        for (int j = 0; j < n; j++)
            if (ls[j].selected && ls[j].stage == l->stage && ls[j].method == SK_QM_AWQ && ls[j].x == l->x) cons[nc++] = ls[j].node;
        sk_fold f;
        sk_quant_find_fold(m, l->x, cons, nc, &f);
        for (int k = 1; f.kind && k < 3 && k < g->nodes[f.node].n_in; k++) add_tensor(ch, &nt, cap, g->nodes[f.node].in[k]);
    }
    for (int i = 0; i < g->n_nodes && keep == g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (in_list(g->nodes[i].in[k], ch, nt)) { keep = i; break; }
    sk_free(ch);
    sk_free(cons);
    return keep;
}

/* Quantize one layer with RTN or GPTQ (AWQ layers come through awq_group). */
static sk_status quantize_layer(const qopts *o, sk_model *m, sk_qlayer *l, const sk_qstat *s, sk_pass_ctx *c)
{
    float *w = sk_qlayer_weight(m, l);
    if (!w) return SK_ERR_NOMEM;
    sk_status st;
    if (l->method == SK_QM_GPTQ) {
        double damp = o->gptq.damp;
        st = sk_quant_gptq(w, s->H, l->N, l->K, &l->spec, &o->gptq, &l->q, &damp);
        if (!st && damp != o->gptq.damp)
            c->note(c, "%s: gptq needed damping %g (H not positive definite at %g)", m->g.nodes[l->node].name, damp, o->gptq.damp);
    } else {
        st = sk_quant_rtn(w, l->N, l->K, &l->spec, NULL, &l->q);
    }
    sk_free(w);
    if (!st) l->quantized = true;
    return st;
}

/* AWQ for the layers ls[idx[0..k)] sharing input s->x: scale search and fold
 * when the input can absorb a scale, then per-layer clipping search + RTN. */
static sk_status awq_group(const qopts *o, sk_model *m, sk_qlayer *ls, int n, const int *idx, int k, sk_qstat *s,
                           sk_foldnotes *fn)
{
    int64_t K = s->K;
    const int nc = k;
    int *cons = sk_malloc((size_t)k * sizeof *cons);
    sk_awq_layer *al = sk_malloc((size_t)k * sizeof *al);
    float **ws = sk_calloc((size_t)k, sizeof *ws), *sc = sk_malloc((size_t)K * sizeof *sc);
    sk_status st = cons && al && ws && sc ? SK_OK : SK_ERR_NOMEM;
    for (int i = 0; !st && i < nc; i++) cons[i] = ls[idx[i]].node;
    sk_fold f = {0};
    if (!st) sk_quant_find_fold(m, s->x, cons, nc, &f);
    const char *first = m->g.nodes[ls[idx[0]].node].name;
    if (!st && f.kind) {
        for (int i = 0; i < nc && !st; i++) {
            const sk_qlayer *l = &ls[idx[i]];
            if (!(ws[i] = sk_qlayer_weight(m, l))) st = SK_ERR_NOMEM;
            else al[i] = (sk_awq_layer){ws[i], l->N, l->spec};
        }
        sk_awq_result r;
        if (!st) st = sk_quant_awq_search(al, nc, K, s->H, s->mean_abs, o->awq_grid, sc, &r);
        if (!st && r.alpha > 0) {
            st = sk_quant_apply_fold(m, &f, sc, K, ls, n, idx, nc);
            /* the layers now see x / s: their Gram matrix is diag(1/s) H diag(1/s) */
            for (int64_t a = 0; !st && a < K; a++)
                for (int64_t b = 0; b < K; b++) s->H[a * K + b] /= sc[a] * sc[b];
        }
        if (!st)
            sk_log("awq: %s%s: alpha %.2f, output error %.4g -> %.4g (rtn)", first, nc > 1 ? " (+ shared)" : "", r.alpha,
                   r.loss, r.loss_rtn);
    } else if (!st) {
        sk_foldnotes_add(fn, &f, first, nc);
    }
    for (int i = 0; i < nc && ws; i++) sk_free(ws[i]);
    sk_free(ws);
    sk_free(sc);
    sk_free(al);
    sk_free(cons);
    for (int i = 0; i < nc && !st; i++) {
        sk_qlayer *l = &ls[idx[i]];
        float *w = sk_qlayer_weight(m, l);
        if (!w) return SK_ERR_NOMEM;
        if (l->spec.bits == 4 && o->awq_clip) st = sk_quant_awq_clip(w, l->N, l->K, s->H, &l->spec, &l->q);
        else st = sk_quant_rtn(w, l->N, l->K, &l->spec, NULL, &l->q);
        sk_free(w);
        if (!st) l->quantized = true;
    }
    return st;
}

/* Write a quantized layer's dequantized values into its fp32 W (stage mode). */
static sk_status store_dequant(sk_model *m, sk_qlayer *l)
{
    float *w = sk_malloc((size_t)(l->N * l->K) * sizeof *w);
    if (!w) return SK_ERR_NOMEM;
    sk_qmat_dequant(&l->q, w);
    sk_status st = sk_qlayer_store(m, l, w);
    sk_free(w);
    return st;
}

/* Does stage s have a layer quantized from calibration (GPTQ, AWQ)? */
static bool has_calibrated(const sk_qlayer *ls, int n, int s)
{
    for (int i = 0; i < n; i++) if (ls[i].selected && ls[i].stage == s && ls[i].method != SK_QM_RTN) return true;
    return false;
}

static sk_status run_stages(const qopts *o, sk_pass_ctx *c, sk_model *m, sk_qlayer *ls, int n, int n_sel)
{
    int max = sk_qlayers_stages(m, ls, n);
    if (max == -2) return SK_ERR_NOMEM;
    int *idx = sk_malloc(((size_t)n + 1) * sizeof *idx), *grp = sk_malloc(((size_t)n + 1) * sizeof *grp);
    sk_status st = idx && grp ? SK_OK : SK_ERR_NOMEM;
    long done = 0;
    sk_foldnotes fn = {0};
    const sk_calib *cal = NULL;
    sk_calib_stages *runs = NULL;
    if (!st && !(st = c->calib(c, m, &cal))) st = sk_calib_stages_new(m, cal, c->threads, &runs);
    for (int s = 0; s <= max && !st; s++) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (ls[i].selected && ls[i].stage == s) idx[k++] = i;
        if (!k) continue;
        sk_qstat *stats = NULL;
        int ns = 0, nc = 0;
        for (int i = 0; i < k; i++) if (ls[idx[i]].method != SK_QM_RTN) grp[nc++] = idx[i];
        if (nc) {   /* the stage's inputs, with every earlier stage quantized */
            int next = s + 1;   /* the next stage that calibrates: what changes before it decides where to cut */
            while (next <= max && !has_calibrated(ls, n, next)) next++;
            int keep = next <= max ? sk_qlayers_keep(m, ls, n, s, next) : -1;
            c->progress(c, done, n_sel, "calibrating");
            st = sk_qstats_collect(c, m, ls, grp, nc, true, runs, keep, &stats, &ns);
        }
        for (int i = 0; i < k && !st; i++) {
            sk_qlayer *l = &ls[idx[i]];
            if (l->quantized) continue;
            sk_qstat *sx = NULL;
            for (int j = 0; j < ns; j++) if (stats[j].x == l->x) sx = &stats[j];
            if (l->method == SK_QM_AWQ) {
                int gk = 0;
                for (int j = i; j < k; j++)
                    if (ls[idx[j]].method == SK_QM_AWQ && ls[idx[j]].x == l->x && !ls[idx[j]].quantized) grp[gk++] = idx[j];
                st = awq_group(o, m, ls, n, grp, gk, sx, &fn);
            } else {
                st = quantize_layer(o, m, l, sx, c);
            }
            long now = 0;
            for (int j = 0; j < n; j++) now += ls[j].quantized;
            c->progress(c, done = now, n_sel, m->g.nodes[l->node].name);
        }
        for (int i = 0; i < k && !st; i++) st = store_dequant(m, &ls[idx[i]]);
        sk_qstats_free(stats, ns);
    }
    sk_calib_stages_free(runs);
    sk_free(idx);
    sk_free(grp);
    if (!st) sk_foldnotes_emit(c, &fn, "awq scales not searched (clipping search only)");
    for (int i = 0; i < n && !st; i++)
        if (ls[i].selected && ls[i].quantized) st = sk_qlayer_finalize(m, &ls[i]);
    return st;
}

static sk_status quantize_run(sk_pass_ctx *c, sk_model *m)
{
    qopts o;
    const char *const *inc, *const *exc;
    int ni, ne;
    const char *layers_json;
    sk_status st;
    if ((st = c->get_strings(c, "include", &inc, &ni)) || (st = c->get_strings(c, "exclude", &exc, &ne)) ||
        (st = c->get_object(c, "layers", &layers_json)) || (st = read_opts(c, &o, ni)))
        return st;
    if (o.smooth > 0 && o.method == SK_QM_AWQ)
        return c->error(c, SK_ERR_INVALID, "smoothquant and method awq both rescale input channels; use one");

    /* ---- what to quantize, checked before the model changes ---- */
    sk_qlayer *ls;
    int n;
    if ((st = sk_qlayers_find(m, &ls, &n))) return st;
    st = sk_qlayers_select(m, ls, n, inc, ni, exc, ne, o.head8);
    for (int i = 0; i < n; i++) {
        ls[i].spec = o.spec;
        ls[i].method = o.method;
        ls[i].act_bits = o.act_bits;
        if (ls[i].head && o.head8 && !(ni && match_any(m, &ls[i], inc, ni))) ls[i].spec.bits = 8;
    }
    if (!st) st = apply_overrides(m, ls, n, layers_json);
    for (int i = 0; !st && i < n; i++)   /* exclude wins over a per-layer override */
        if (match_any(m, &ls[i], exc, ne)) ls[i].selected = false;
    int n_sel = 0, n_calib = 0, n8 = 0, n4 = 0, n_fallback = 0;
    for (int i = 0; !st && i < n; i++) {
        sk_qlayer *l = &ls[i];
        if (!l->selected) continue;
        n_sel++;
        if (l->spec.bits == 4 && l->K % l->spec.group) {   /* reported once the checks passed */
            l->spec.bits = 8;
            l->stage = -1 - l->spec.group;
            n_fallback++;
        }
        if (l->spec.bits == 8) { l->spec.group = (int)l->K; l->spec.sym = true; n8++; }
        else n4++;
        if (l->method != SK_QM_RTN) n_calib++;
    }
    if (!st && n_sel == 0) {
        int heads = 0;
        for (int i = 0; i < n; i++) heads += ls[i].head;
        st = n == 0 ? c->error(c, SK_ERR_INVALID, "no layer to quantize: the model has no Linear/MatMul/Gemm with constant weights")
             : c->error(c, SK_ERR_INVALID, "no layer to quantize: %d candidate%s, %d of them the head kept fp32 "
                        "(head=int8 or include quantizes it), the rest excluded", n, n == 1 ? "" : "s", heads);
    }
    if (!st && o.smooth > 0 && n8 == 0)
        st = c->error(c, SK_ERR_INVALID, "smoothquant applies to 8-bit layers and none is 8-bit here");
    if (!st && (n_calib || o.smooth > 0)) {
        const sk_calib *k;
        if ((st = c->calib(c, m, &k)))
            sk_err_prefix(st, "%s", n_calib ? (o.method == SK_QM_GPTQ ? "method gptq" : o.method == SK_QM_AWQ ? "method awq"
                                                                                                         : "per-layer method")
                                             : "smoothquant");
    }
    for (int i = 0; !st && i < n; i++)
        if (ls[i].selected && ls[i].stage < -1)   /* -1 - the group it was asked for */
            c->note(c, "%s: K = %lld is not a multiple of group %d: int8 instead", m->g.nodes[ls[i].node].name,
                    (long long)ls[i].K, -1 - ls[i].stage);
    /* ---- the rewrite ---- */
    if (!st) st = sk_qtables_run(c, m, ls, n, &o.embed);
    for (int i = 0; !st && i < n; i++)
        if (ls[i].selected) st = sk_qlayer_linearize(m, &ls[i]);
    if (!st && o.smooth > 0) {
        int *idx = sk_malloc(((size_t)n + 1) * sizeof *idx), k = 0, done = 0;
        if (!idx) st = SK_ERR_NOMEM;
        for (int i = 0; idx && i < n; i++) if (ls[i].selected && ls[i].spec.bits == 8) idx[k++] = i;
        if (!st) st = sk_quant_smooth(c, m, ls, n, idx, k, o.smooth, &done);
        if (!st) c->note(c, "smoothquant alpha %g: %d of %d 8-bit layers smoothed", o.smooth, done, k);
        sk_free(idx);
    }
    if (!st && n_calib) {
        st = run_stages(&o, c, m, ls, n, n_sel);
    } else if (!st) {   /* RTN streams: one layer at a time, rewritten at once */
        long done = 0;
        for (int i = 0; i < n && !st; i++) {
            sk_qlayer *l = &ls[i];
            if (!l->selected) continue;
            float *w = sk_qlayer_weight(m, l);
            if (!w) { st = SK_ERR_NOMEM; break; }
            st = sk_quant_rtn(w, l->N, l->K, &l->spec, NULL, &l->q);
            sk_free(w);
            if (!st) st = sk_qlayer_finalize(m, l);
            c->progress(c, ++done, n_sel, m->g.nodes[l->node].name);
        }
    }
    if (!st) {
        char per[256] = "";
        size_t k = 0;
        for (int i = 0; i < n; i++) {
            const sk_qlayer *l = &ls[i];
            if (l->selected || l->tied || k >= sizeof per) continue;
            k += (size_t)snprintf(per + k, sizeof per - k, "%s'%s'", k ? ", " : "", m->g.nodes[l->node].name);
        }
        char fb[32] = "";
        if (n_fallback) snprintf(fb, sizeof fb, " (%d by fallback)", n_fallback);
        c->note(c, "quantized %d layers with %s: %d int4, %d int8%s; kept fp32: %s", n_sel, method_name(o.method), n4, n8,
                fb, per[0] ? per : "none");
    }
    for (int i = 0; i < n; i++) sk_qmat_free(&ls[i].q);
    sk_free(ls);
    return st;
}

static const struct sk_param quantize_params[] = {
    {"bits", SK_PARAM_INT, "8", "weight bits: 8 (per output channel, W8A8 by default) or 4 (groups)", "4|8", 0, 0},
    {"method", SK_PARAM_STRING, "rtn", "rtn (round to nearest), gptq or awq (both need --calib)", "rtn|gptq|awq", 0, 0},
    {"group", SK_PARAM_INT, "128", "4-bit: input channels per scale", "32|64|128", 0, 0},
    {"sym", SK_PARAM_BOOL, "false", "4-bit: symmetric (zero 8, no zero points) instead of asymmetric", NULL, 0, 0},
    {"act_bits", SK_PARAM_INT, "8", "8 = activations quantized to int8 at run time (W8A8, W4A8), 0 = weight-only",
     "0|8", 0, 0},
    {"smoothquant", SK_PARAM_FLOAT, "0", "8-bit layers: SmoothQuant migration strength alpha (0 = off, 0.5 typical)", NULL, 0, 1},
    {"head", SK_PARAM_STRING, "fp32", "the layer writing a graph output (LM head, classifier): fp32 or int8", "fp32|int8", 0, 0},
    {"embed", SK_PARAM_STRING, "auto", "embedding tables (Gather over a constant; a tied LM head reads the same tensor): "
     "int8 (a scale per row), int4 (groups along the row), fp32; auto = int8 with bits 8, int4 with bits 4, fp32 "
     "with include", "auto|fp32|int8|int4", 0, 0},
    {"embed_group", SK_PARAM_INT, "0", "int4 tables: values of a row per scale (0 = group)", "0|32|64|128", 0, 0},
    {"include", SK_PARAM_STRINGS, "", "only layers whose node or weight name matches one of these globs", NULL, 0, 0},
    {"exclude", SK_PARAM_STRINGS, "", "never layers matching one of these globs (wins over everything)", NULL, 0, 0},
    {"layers", SK_PARAM_OBJECT, "{}", "per-layer overrides {\"glob\": {\"bits\": 8, \"group\": 64, \"sym\": true, "
     "\"method\": \"rtn\", \"act_bits\": 0}}, applied in order", NULL, 0, 0},
    {"damp", SK_PARAM_FLOAT, "0.01", "gptq: dampening, a fraction of mean(diag H)", NULL, 0, 1},
    {"block", SK_PARAM_INT, "128", "gptq: columns per lazy update block", NULL, 1, 65536},
    {"act_order", SK_PARAM_BOOL, "false", "gptq: quantize columns by decreasing H_ii (groups fixed beforehand)", NULL, 0, 0},
    {"awq_grid", SK_PARAM_INT, "20", "awq: alpha steps over [0, 1]", NULL, 1, 1000},
    {"awq_clip", SK_PARAM_BOOL, "true", "awq: search a clipping ratio per group (4-bit)", NULL, 0, 0},
    {NULL, 0, NULL, NULL, NULL, 0, 0},
};

const struct sk_pass sk_pass_quantize = {
    .api_version = SK_PASS_API_VERSION,
    .name = "quantize",
    .summary = "int8 (W8A8, SmoothQuant) / int4 (RTN, GPTQ, AWQ) weight quantization of linear layers and embedding tables",
    .params = quantize_params,
    .run = quantize_run,
};
