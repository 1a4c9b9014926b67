/* fuse.c — the "fuse" pass: turn the primitive subgraphs exporters write
 * into the fused ops of the IR (ir.h), the graph shrink builds itself from a
 * Hugging Face checkpoint (src/arch/bert.c, gpt2.c).
 *
 * Patterns, matched on ops, arity and constant operands (never on names),
 * in this order:
 *   layernorm  ReduceMean → Sub → Pow(2) → ReduceMean → Add(eps) → Sqrt →
 *              Div → Mul(γ) → Add(β) over the last axis → LAYERNORM
 *              (torch.onnx at opset < 17; at 17 the importer already has one)
 *   gelu       x·0.5·(1 + erf(x/√2)) and 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))
 *              in any operand order and association → GELU
 *   linear     MatMul(x, W) (+ Add b), W a constant 2-D → LINEAR wt = 0;
 *              Gemm(x, W, b) → LINEAR wt = transB; Reshape → LINEAR →
 *              Reshape that only flattens and restores the leading dims
 *              (HF's Conv1D) → LINEAR on the original tensor; then
 *              LINEAR → GELU / Relu / Tanh → LINEAR with that activation
 *   tied       a LINEAR weight [K, N] that is exactly the transpose of an
 *              embedding table [N, K] (an LM head the exporter untied) reads
 *              the table with wt = 1; the copy is dropped
 *   attention  Reshape/Transpose of q, k, v to heads, MatMul q·kᵀ, scale
 *              (Div or Mul), the causal Where over a slice of a constant
 *              lower-triangular buffer (GPT-2), the padding term
 *              (1 − mask)·min added (BERT, GPT-2), Softmax, MatMul with v,
 *              Transpose and Reshape back → ATTENTION(q, k, v, mask)
 *   positions  for causal attention, the in-graph position ids
 *              arange(sequence) become the graph input position_ids, which
 *              the session fills as past + arange(S): what generation with a
 *              KV cache needs
 *   skip_layernorm  LAYERNORM(a + b (+ bias)) where the sum is read by
 *              nothing else → SKIP_LAYERNORM
 *   qkv        (option qkv_concat, off: 1.02x the time on bert-base, docs/passes.md)
 *              three LINEARs of one input feeding one ATTENTION → one
 *              LINEAR + SPLIT
 * fold (fold.c) runs first, so constant shape arithmetic, Identity and
 * no-op Casts are gone, and again at the end to drop what fusion left dead.
 *
 * A match must be exact: constants compared with the values exporters
 * write (to 1e-4), shapes checked with the symbolic dims of symshape.c (a
 * Reshape must only split the hidden dim into heads, for any batch and
 * sequence), and every intermediate tensor must be needed by nothing outside
 * the pattern.  Each pattern reports how often it fired, and why the first
 * near miss (an Erf, a Softmax, a Div over a Sqrt ... that did not fuse) did
 * not.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rewrite.h"

enum { P_LAYERNORM, P_GELU, P_LINEAR, P_ACT, P_TIED, P_ATTENTION, P_SKIPLN, P_QKV, P_POSITIONS, P_COUNT };
static const char *const pattern_names[P_COUNT] = {
    "layernorm", "gelu", "linear", "activation", "tied", "attention", "skip_layernorm", "qkv", "positions",
};

#define MAX_SET 48   /* nodes of one match */

typedef struct fuser {
    sk_pass_ctx *c;
    sk_model *m;
    sk_rw rw;
    sk_symtab sym;
    bool on[P_COUNT];
    int fired[P_COUNT];
    int sub[P_COUNT][4];          /* per-pattern detail counts (see the notes) */
    int missed[P_COUNT];
    char why[P_COUNT][320];       /* the first near miss */
    bool *in_set;                 /* [n_nodes] scratch for private() */
    int cap_set;
    int set[MAX_SET], n_set;
} fuser;

static sk_graph *G(const fuser *f) { return &f->m->g; }
static sk_node *NODE(const fuser *f, int i) { return &f->m->g.nodes[i]; }
static const sk_sym *SYM(const fuser *f, int t) { return &f->sym.t[t]; }

static void miss(fuser *f, int p, const char *fmt, ...) SK_PRINTF(3, 4);
static void miss(fuser *f, int p, const char *fmt, ...)
{
    if (!f->missed[p]++) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->why[p], sizeof f->why[p], fmt, ap);
        va_end(ap);
    }
}

/* ---- small matchers ---- */
static int def(fuser *f, int t, sk_op op) { return sk_rw_def(&f->rw, t, op); }

static bool is_const(fuser *f, int t) { return t >= 0 && (G(f)->tensors[t].flags & SK_TF_CONST); }

static bool scalar(fuser *f, int t, double *v) { return sk_rw_scalar(G(f), t, v); }

static bool near(double a, double b, double rel) { return fabs(a - b) <= rel * fabs(b); }

static int uses(fuser *f, int t) { return sk_rw_uses(&f->rw, t); }

/* t = op(a, b): the live producer of op op; *a, *b its inputs. */
static int bin(fuser *f, int t, sk_op op, int *a, int *b)
{
    int n = def(f, t, op);
    if (n < 0 || NODE(f, n)->n_in != 2) return -1;
    *a = NODE(f, n)->in[0];
    *b = NODE(f, n)->in[1];
    return n;
}

/* t = op(x, c) with c a constant scalar (either side for a commutative op). */
static int bin_const(fuser *f, int t, sk_op op, int *x, double *c)
{
    int a, b, n = bin(f, t, op, &a, &b);
    if (n < 0) return -1;
    if (scalar(f, b, c) && !is_const(f, a)) { *x = a; return n; }
    if ((sk_op_get(op)->flags & SK_OPF_COMMUTATIVE) && scalar(f, a, c) && !is_const(f, b)) { *x = b; return n; }
    return -1;
}

static void set_reset(fuser *f) { f->n_set = 0; }

static void set_add(fuser *f, int node)
{
    if (node >= 0 && f->n_set < MAX_SET) f->set[f->n_set++] = node;
}

/* No tensor written by a node of the set (but the root) is needed outside
 * the set: removing the set leaves the graph's outputs as they were. */
static bool private_set(fuser *f, int root)
{
    const sk_graph *g = G(f);
    if (f->n_set >= MAX_SET) return false;
    if (sk_grow((void **)&f->in_set, &f->cap_set, g->n_nodes + 1, 1)) return false;
    memset(f->in_set, 0, (size_t)g->n_nodes);
    for (int i = 0; i < f->n_set; i++) {
        if (f->in_set[f->set[i]]) return false;   /* a node twice: the shapes overlap */
        f->in_set[f->set[i]] = true;
    }
    bool ok = true;
    for (int i = 0; i < f->n_set && ok; i++) {
        const sk_node *n = NODE(f, f->set[i]);
        if (f->set[i] == root) continue;
        for (int k = 0; k < n->n_out && ok; k++)
            if (n->out[k] >= 0 && sk_rw_needed(&f->rw, n->out[k], f->in_set)) ok = false;
    }
    return ok;
}

/* The display name of a fused node: the root's, without its last path part
 * ("/bert/encoder/layer.0/attention/self/Reshape_3" → ".../attention/self"). */
static void fused_name(fuser *f, int root, char *buf, size_t cap)
{
    const char *s = NODE(f, root)->name;
    const char *slash = strrchr(s, '/');
    size_t len = slash && slash != s ? (size_t)(slash - s) : strlen(s);
    snprintf(buf, cap, "%.*s", (int)len, s);
}

/* Append the fused node (writing tensor out) in root's place and kill the set.
 * keep_name: the node is named as root is (else fused_name). */
static sk_status emit_named(fuser *f, int root, bool keep_name, sk_op op, const int *ins, int n_in, int out, int *node)
{
    char name[512];
    if (keep_name) snprintf(name, sizeof name, "%s", NODE(f, root)->name);
    else fused_name(f, root, name, sizeof name);
    int nd = sk_graph_add_node(G(f), op, name, ins, n_in, &out, 1);
    if (nd < 0) return SK_ERR_NOMEM;
    sk_status st = sk_rw_place(&f->rw, nd, root);
    for (int i = 0; !st && i < f->n_set; i++) st = sk_rw_kill(&f->rw, f->set[i]);
    *node = nd;
    return st;
}

static sk_status emit(fuser *f, int root, sk_op op, const int *ins, int n_in, int out, int *node)
{
    return emit_named(f, root, false, op, ins, n_in, out, node);
}

/* A LayerNorm parameter: a constant f32 of D values along the last dim. */
static bool ln_param(fuser *f, int t, int64_t *D)
{
    if (!is_const(f, t)) return false;
    const sk_tensor *x = &G(f)->tensors[t];
    if (x->dtype != SK_DT_F32 || x->rank < 1) return false;
    for (int i = 0; i + 1 < x->rank; i++)
        if (x->dims[i] != 1) return false;
    int64_t n = x->dims[x->rank - 1];
    if (*D >= 0 && n != *D) return false;
    *D = n;
    return true;
}

/* A ReduceMean over the last axis only, keeping dims. */
static bool mean_last(fuser *f, int node)
{
    const sk_node *n = NODE(f, node);
    int64_t ax[SK_MAX_RANK];
    int cnt = 0;
    if (!sk_node_attr_i(n, "keepdims", 1) || !sk_rw_ints(G(f), n, "axes", 1, ax, SK_MAX_RANK, &cnt) || cnt != 1) return false;
    int r = SYM(f, n->in[0])->rank;
    return ax[0] == -1 || (r > 0 && ax[0] == r - 1);
}

/* ---- layernorm ---- */
static sk_status try_layernorm(fuser *f, int i, bool *fired)
{
    const sk_node *dv = NODE(f, i);
    if (dv->op != SK_OP_DIV) return SK_OK;
    int d = dv->in[0], r = dv->in[1], v = -1, p, m = -1, x = -1, a = -1, b = -1;
    double eps, two;
    int n_sqrt = def(f, r, SK_OP_SQRT);
    if (n_sqrt < 0) return SK_OK;
    int n_add = bin_const(f, NODE(f, n_sqrt)->in[0], SK_OP_ADD, &v, &eps);
    int n_var = n_add >= 0 ? def(f, v, SK_OP_REDUCE_MEAN) : -1;
    if (n_var < 0) return SK_OK;   /* not a normalisation at all */
    p = NODE(f, n_var)->in[0];
    int n_sub = bin(f, d, SK_OP_SUB, &x, &m);
    int n_mean = n_sub >= 0 ? def(f, m, SK_OP_REDUCE_MEAN) : -1;
    int n_pow = bin(f, p, SK_OP_POW, &a, &b), n_sq = n_pow < 0 ? bin(f, p, SK_OP_MUL, &a, &b) : -1;
    const char *nm = dv->name;
    if (n_mean < 0 || NODE(f, n_mean)->in[0] != x)
        return miss(f, P_LAYERNORM, "node '%s': the centred input is not x - ReduceMean(x)", nm), SK_OK;
    if (n_pow >= 0 ? (a != d || !scalar(f, b, &two) || two != 2.0) : (n_sq < 0 || a != d || b != d))
        return miss(f, P_LAYERNORM, "node '%s': the variance is not the mean of (x - mean)^2", nm), SK_OK;
    if (!mean_last(f, n_mean) || !mean_last(f, n_var))
        return miss(f, P_LAYERNORM, "node '%s': the ReduceMeans are not both over the last axis with keepdims", nm), SK_OK;
    if (!(eps > 0 && eps < 0.1)) return miss(f, P_LAYERNORM, "node '%s': epsilon %g", nm, eps), SK_OK;
    set_reset(f);
    int ids[] = {n_mean, n_sub, n_pow >= 0 ? n_pow : n_sq, n_var, n_add, n_sqrt, i};
    for (size_t k = 0; k < sizeof ids / sizeof ids[0]; k++) set_add(f, ids[k]);
    /* the affine part: Mul(γ) then Add(β), both constants */
    int root = i, out = dv->out[0], gamma = -1, beta = -1, y;
    int64_t D = -1;
    int nc, cn;
    const int *c = sk_rw_cons(&f->rw, out, &nc);
    cn = uses(f, out) == 1 && nc == 1 ? c[0] : -1;
    if (cn >= 0 && NODE(f, cn)->op == SK_OP_MUL) {
        const sk_node *mul = NODE(f, cn);
        gamma = mul->in[0] == out ? mul->in[1] : mul->in[0];
        if (!ln_param(f, gamma, &D))
            return miss(f, P_LAYERNORM, "node '%s': gamma is not a constant of one value per feature", mul->name), SK_OK;
        set_add(f, cn);
        root = cn;
        out = mul->out[0];
        c = sk_rw_cons(&f->rw, out, &nc);
        cn = uses(f, out) == 1 && nc == 1 ? c[0] : -1;
        if (cn >= 0 && NODE(f, cn)->op == SK_OP_ADD) {
            const sk_node *add = NODE(f, cn);
            y = add->in[0] == out ? add->in[1] : add->in[0];
            if (ln_param(f, y, &D)) {
                beta = y;
                set_add(f, cn);
                root = cn;
                out = add->out[0];
            }
        }
    }
    const sk_sym *sx = SYM(f, x);
    int64_t last;
    if (sx->rank > 0 && sk_mono_const(&sx->dims[sx->rank - 1], &last)) {
        if (D >= 0 && last != D) return miss(f, P_LAYERNORM, "node '%s': gamma has %lld values, x has %lld features", nm, (long long)D, (long long)last), SK_OK;
        D = last;
    }
    if (D < 0) return miss(f, P_LAYERNORM, "node '%s': without gamma the feature count is unknown", nm), SK_OK;
    if (!private_set(f, root))
        return miss(f, P_LAYERNORM, "node '%s': an intermediate result is used outside the pattern", nm), SK_OK;
    if (gamma < 0) {   /* a bare normalisation: γ = 1 */
        float *ones = sk_malloc((size_t)D * sizeof *ones);
        if (!ones) return SK_ERR_NOMEM;
        for (int64_t k = 0; k < D; k++) ones[k] = 1.0f;
        gamma = sk_rw_const_f32(f->m, NODE(f, i)->name, "gamma", 1, &D, ones);
        sk_free(ones);
        if (gamma < 0) return SK_ERR_NOMEM;
    }
    int ins[3] = {x, gamma, beta}, nd;
    sk_status st = emit(f, root, SK_OP_LAYERNORM, ins, beta >= 0 ? 3 : 2, out, &nd);
    if (!st) st = sk_node_set_i(NODE(f, nd), "axis", -1);
    if (!st) st = sk_node_set_f(NODE(f, nd), "epsilon", (float)eps);
    *fired = !st;
    return st;
}

/* ---- gelu ---- */
/* The factors of a product: t itself, or (when t is a Mul read only here)
 * the factors of its operands. */
static void factors(fuser *f, int t, bool top, int *fac, int *nf, int *nodes, int *nn)
{
    int n = def(f, t, SK_OP_MUL);
    if (n >= 0 && (top || uses(f, t) == 1) && *nn < 6) {
        nodes[(*nn)++] = n;
        factors(f, NODE(f, n)->in[0], false, fac, nf, nodes, nn);
        factors(f, NODE(f, n)->in[1], false, fac, nf, nodes, nn);
        return;
    }
    if (*nf < 8) fac[(*nf)++] = t;
}

/* x³ as Pow(x, 3), x·x·x or x·Pow(x, 2). */
static bool cube(fuser *f, int t, int x)
{
    int a, b, n;
    double e;
    if ((n = bin(f, t, SK_OP_POW, &a, &b)) >= 0) {
        if (a != x || !scalar(f, b, &e) || e != 3.0) return false;
        set_add(f, n);
        return true;
    }
    if ((n = bin(f, t, SK_OP_MUL, &a, &b)) < 0) return false;
    int sq = a == x ? b : b == x ? a : -1, s1, s2, m;
    if (sq < 0) return false;
    if ((m = bin(f, sq, SK_OP_MUL, &s1, &s2)) >= 0 && s1 == x && s2 == x) { set_add(f, n); set_add(f, m); return true; }
    if ((m = bin(f, sq, SK_OP_POW, &s1, &s2)) >= 0 && s1 == x && scalar(f, s2, &e) && e == 2.0) {
        set_add(f, n);
        set_add(f, m);
        return true;
    }
    return false;
}

/* a = 1 + erf(x/√2) or 1 + tanh(√(2/π)(x + 0.044715x³)): *x and the form. */
static bool gelu_arg(fuser *f, int a, int *x, bool *tanh_form)
{
    double one, c;
    int e, n_add = bin_const(f, a, SK_OP_ADD, &e, &one);
    if (n_add < 0 || one != 1.0) return false;
    int n_erf = def(f, e, SK_OP_ERF), n_tanh = def(f, e, SK_OP_TANH);
    if (n_erf < 0 && n_tanh < 0) return false;
    set_add(f, n_add);
    int u = NODE(f, n_erf >= 0 ? n_erf : n_tanh)->in[0], n;
    set_add(f, n_erf >= 0 ? n_erf : n_tanh);
    if (n_erf >= 0) {
        *tanh_form = false;
        if ((n = bin_const(f, u, SK_OP_DIV, x, &c)) >= 0 && near(c, M_SQRT2, 1e-4)) { set_add(f, n); return true; }
        if ((n = bin_const(f, u, SK_OP_MUL, x, &c)) >= 0 && near(c, M_SQRT1_2, 1e-4)) { set_add(f, n); return true; }
        return false;
    }
    *tanh_form = true;
    int s, q, p, cb;
    if ((n = bin_const(f, u, SK_OP_MUL, &s, &c)) < 0 || !near(c, sqrt(2.0 / M_PI), 1e-4)) return false;
    set_add(f, n);
    if ((n = bin(f, s, SK_OP_ADD, &p, &q)) < 0) return false;
    set_add(f, n);
    for (int side = 0; side < 2; side++) {   /* x + 0.044715·x³, either order */
        int xx = side ? q : p, k3 = side ? p : q, m;
        if ((m = bin_const(f, k3, SK_OP_MUL, &cb, &c)) >= 0 && near(c, 0.044715, 1e-4)) {
            int save = f->n_set;
            set_add(f, m);
            if (cube(f, cb, xx)) { *x = xx; return true; }
            f->n_set = save;
        }
    }
    return false;
}

static sk_status try_gelu(fuser *f, int i, bool *fired)
{
    if (NODE(f, i)->op != SK_OP_MUL) return SK_OK;
    int y = NODE(f, i)->out[0], ny;
    const int *cy = sk_rw_cons(&f->rw, y, &ny);
    if (uses(f, y) == 1 && ny == 1 && NODE(f, cy[0])->op == SK_OP_MUL) return SK_OK;   /* not the top of the product */
    int fac[8], nf = 0, nodes[6], nn = 0;
    factors(f, NODE(f, i)->out[0], true, fac, &nf, nodes, &nn);
    double k = 1, v;
    int other[8], no = 0;
    for (int j = 0; j < nf; j++) {
        if (scalar(f, fac[j], &v)) k *= v;
        else other[no++] = fac[j];
    }
    if (no != 2) return SK_OK;
    for (int side = 0; side < 2; side++) {
        int x = -1;
        bool tf = false;
        set_reset(f);
        for (int j = 0; j < nn; j++) set_add(f, nodes[j]);
        if (!gelu_arg(f, other[side], &x, &tf)) continue;
        const char *nm = NODE(f, i)->name;
        if (x != other[1 - side]) return miss(f, P_GELU, "node '%s': the %s argument is not the other factor", nm, tf ? "tanh" : "erf"), SK_OK;
        if (!near(k, 0.5, 1e-6)) return miss(f, P_GELU, "node '%s': constant factor %g, not 0.5", nm, k), SK_OK;
        if (!private_set(f, i))
            return miss(f, P_GELU, "node '%s': an intermediate result is used outside the pattern", nm), SK_OK;
        int nd;
        sk_status st = emit(f, i, SK_OP_GELU, &x, 1, NODE(f, i)->out[0], &nd);
        if (!st) st = sk_node_set_s(NODE(f, nd), "approximate", tf ? "tanh" : "none");
        f->sub[P_GELU][tf]++;
        *fired = !st;
        return st;
    }
    return SK_OK;
}

/* ---- linear ---- */
/* A bias for N outputs: a constant f32 [N] or [1, N]. */
static bool bias_ok(fuser *f, int t, int64_t N)
{
    if (!is_const(f, t)) return false;
    const sk_tensor *b = &G(f)->tensors[t];
    return b->dtype == SK_DT_F32 && (b->rank == 1 || (b->rank == 2 && b->dims[0] == 1)) && b->dims[b->rank - 1] == N;
}

/* After the product node prod writing y: an Add of a bias read only here. */
static int bias_add(fuser *f, int y, int64_t N, int *bias)
{
    int nc;
    const int *c = sk_rw_cons(&f->rw, y, &nc);
    if (uses(f, y) != 1 || nc != 1 || NODE(f, c[0])->op != SK_OP_ADD) return -1;
    const sk_node *add = NODE(f, c[0]);
    int b = add->in[0] == y ? add->in[1] : add->in[0];
    if (add->in[0] == add->in[1] || !bias_ok(f, b, N)) return -1;
    *bias = b;
    return c[0];
}

static sk_status try_linear(fuser *f, int i, bool *fired)
{
    const sk_node *n = NODE(f, i);
    sk_graph *g = G(f);
    if ((n->op != SK_OP_MATMUL && n->op != SK_OP_GEMM) || n->n_in < 2) return SK_OK;
    int x = n->in[0], w = n->in[1], bias = -1, wt = 0;
    if (!is_const(f, w) || is_const(f, x) || g->tensors[w].rank != 2 || g->tensors[w].dtype != SK_DT_F32) return SK_OK;
    if (n->op == SK_OP_GEMM) {
        if (sk_node_attr_i(n, "transA", 0) || sk_node_attr_f(n, "alpha", 1.0f) != 1.0f ||
            (n->n_in > 2 && n->in[2] >= 0 && sk_node_attr_f(n, "beta", 1.0f) != 1.0f))
            return miss(f, P_LINEAR, "node '%s' (Gemm): transA, alpha or beta other than 0, 1, 1", n->name), SK_OK;
        wt = sk_node_attr_i(n, "transB", 0) ? 1 : 0;
    }
    int64_t N = g->tensors[w].dims[wt ? 0 : 1];
    if (n->n_in > 2 && n->in[2] >= 0) {
        if (!bias_ok(f, n->in[2], N)) return miss(f, P_LINEAR, "node '%s' (Gemm): C is not a bias of %lld values", n->name, (long long)N), SK_OK;
        bias = n->in[2];
    }
    set_reset(f);
    set_add(f, i);
    int root = i, out = n->out[0];
    if (bias < 0) {
        int add = bias_add(f, out, N, &bias);
        if (add >= 0) { set_add(f, add); root = add; out = NODE(f, add)->out[0]; }
    }
    if (!private_set(f, root)) return SK_OK;
    int ins[3] = {x, w, bias}, nd;
    f->sub[P_LINEAR][n->op == SK_OP_GEMM]++;
    sk_status st = emit(f, root, SK_OP_LINEAR, ins, bias >= 0 ? 3 : 2, out, &nd);
    if (!st) st = sk_node_set_i(NODE(f, nd), "wt", wt);
    *fired = !st;
    return st;
}

/* Reshape(x, [-1, K]) → LINEAR → Reshape(back to x's leading dims, N): LINEAR(x). */
static sk_status try_linear_reshape(fuser *f, int i, bool *fired)
{
    const sk_node *l = NODE(f, i);
    if (l->op != SK_OP_LINEAR) return SK_OK;
    int r1 = def(f, l->in[0], SK_OP_RESHAPE), y = l->out[0], nc;
    const int *c = sk_rw_cons(&f->rw, y, &nc);
    if (r1 < 0 || uses(f, y) != 1 || nc != 1 || NODE(f, c[0])->op != SK_OP_RESHAPE || NODE(f, c[0])->in[0] != y) return SK_OK;
    int r2 = c[0], x = NODE(f, r1)->in[0], z = NODE(f, r2)->out[0];
    const sk_sym *sx = SYM(f, x), *s1 = SYM(f, l->in[0]), *sy = SYM(f, y), *sz = SYM(f, z);
    bool ok = sx->rank >= 2 && s1->rank == 2 && sy->rank == 2 && sz->rank == sx->rank &&
              sk_mono_eq(&s1->dims[1], &sx->dims[sx->rank - 1]) && sk_mono_eq(&sz->dims[sz->rank - 1], &sy->dims[1]);
    for (int d = 0; ok && d + 1 < sx->rank; d++) ok = sk_mono_eq(&sz->dims[d], &sx->dims[d]);
    if (!ok) return miss(f, P_LINEAR, "node '%s': the Reshapes around it do more than flatten and restore the leading dims", l->name), SK_OK;
    set_reset(f);
    set_add(f, r1);
    set_add(f, i);
    set_add(f, r2);
    if (!private_set(f, r2)) return SK_OK;
    int nd, ins[5];
    for (int k = 0; k < l->n_in && k < 5; k++) ins[k] = l->in[k];
    ins[0] = x;
    sk_status st = emit(f, r2, SK_OP_LINEAR, ins, l->n_in, z, &nd);
    for (int a = 0; !st && a < l->n_attrs; a++) {   /* same attributes (wt, act, quantization) */
        const sk_attr *at = &NODE(f, i)->attrs[a];
        switch (at->type) {
        case SK_ATTR_INT: st = sk_node_set_i(NODE(f, nd), at->name, at->i); break;
        case SK_ATTR_FLOAT: st = sk_node_set_f(NODE(f, nd), at->name, at->f); break;
        case SK_ATTR_STRING: st = sk_node_set_s(NODE(f, nd), at->name, at->s); break;
        case SK_ATTR_INTS: st = sk_node_set_ints(NODE(f, nd), at->name, at->ints, at->n); break;
        case SK_ATTR_FLOATS: st = sk_node_set_floats(NODE(f, nd), at->name, at->floats, at->n); break;
        }
    }
    f->sub[P_LINEAR][2]++;
    *fired = !st;
    return st;
}

/* LINEAR → activation: the activation into the LINEAR's epilogue. */
static sk_status try_act(fuser *f, int i, bool *fired)
{
    const sk_node *a = NODE(f, i);
    const char *act = NULL;
    int which = 0;
    switch (a->op) {
    case SK_OP_GELU: {
        const char *ap = sk_node_attr_s(a, "approximate", "none");
        act = !strcmp(ap, "tanh") ? "gelu_tanh" : !strcmp(ap, "none") ? "gelu" : NULL;
        which = 0;
        break;
    }
    case SK_OP_RELU: act = "relu"; which = 1; break;
    case SK_OP_TANH: act = "tanh"; which = 2; break;
    default: return SK_OK;
    }
    int l = def(f, a->in[0], SK_OP_LINEAR);
    if (!act || l < 0 || uses(f, a->in[0]) != 1) return SK_OK;
    if (sk_node_attr_s(NODE(f, l), "act", "")[0]) return SK_OK;
    set_reset(f);
    set_add(f, l);
    set_add(f, i);
    if (!private_set(f, i)) return SK_OK;
    /* the LINEAR writes the activation's output; its old output goes dead */
    sk_status st = sk_node_set_s(NODE(f, l), "act", act);
    if (st) return st;
    NODE(f, l)->out[0] = NODE(f, i)->out[0];
    f->sub[P_ACT][which]++;
    *fired = true;
    return sk_rw_kill(&f->rw, i);
}

/* ---- tied weights ---- */
/* A LINEAR (wt = 0) whose W [K, N] is bit for bit the transpose of a Gather
 * table [N, K] reads the table instead (wt = 1). */
static sk_status try_tied(fuser *f, int i, bool *fired)
{
    sk_node *l = NODE(f, i);
    const sk_graph *g = G(f);
    if (l->op != SK_OP_LINEAR || l->n_in < 2 || l->n_in > 3 || sk_node_attr_i(l, "wt", 1) != 0 || !is_const(f, l->in[1]))
        return SK_OK;
    const sk_tensor *w = &g->tensors[l->in[1]];
    if (w->dtype != SK_DT_F32 || w->rank != 2 || w->quant || !w->data) return SK_OK;
    int64_t K = w->dims[0], N = w->dims[1];
    for (int j = 0; j < g->n_nodes; j++) {
        const sk_node *n = &g->nodes[j];
        if (f->rw.dead[j] || n->op != SK_OP_GATHER || sk_node_attr_i(n, "axis", 0) != 0 || n->in[0] == l->in[1] ||
            !is_const(f, n->in[0]))
            continue;
        const sk_tensor *t = &g->tensors[n->in[0]];
        if (t->dtype != SK_DT_F32 || t->rank != 2 || t->dims[0] != N || t->dims[1] != K || !t->data) continue;
        const float *a = w->data, *b = t->data;
        bool same = true;
        for (int64_t r = 0; r < N && same; r++)
            for (int64_t c = 0; c < K && same; c++) same = !memcmp(&b[r * K + c], &a[c * N + r], sizeof(float));
        if (!same) continue;
        l->in[1] = n->in[0];
        f->sub[P_TIED][0] += (int)((size_t)(K * N) * sizeof(float) >> 10);   /* kB no longer stored twice */
        *fired = true;
        return sk_node_set_i(l, "wt", 1);
    }
    return SK_OK;
}

/* ---- attention ---- */
static bool perm_is(const sk_node *n, int a, int b, int c, int d)
{
    const sk_attr *p = sk_node_attr(n, "perm");
    return p && p->type == SK_ATTR_INTS && p->n == 4 && p->ints[0] == a && p->ints[1] == b && p->ints[2] == c &&
           p->ints[3] == d;
}

/* t = Transpose(Reshape(x, [B, S, heads, hd]), perm): *x, heads and hd. */
static bool heads_of(fuser *f, int t, int pa, int pb, int pc, int pd, int *x, int64_t *h, int64_t *d)
{
    int tr = def(f, t, SK_OP_TRANSPOSE);
    if (tr < 0 || !perm_is(NODE(f, tr), pa, pb, pc, pd)) return false;
    int rs = def(f, NODE(f, tr)->in[0], SK_OP_RESHAPE);
    if (rs < 0) return false;
    *x = NODE(f, rs)->in[0];
    const sk_sym *sx = SYM(f, *x), *sr = SYM(f, NODE(f, rs)->out[0]);
    int64_t hh, dd, hid;
    if (sx->rank != 3 || sr->rank != 4 || !sk_mono_const(&sr->dims[2], &hh) || !sk_mono_const(&sr->dims[3], &dd) ||
        !sk_mono_const(&sx->dims[2], &hid) || hh <= 0 || dd <= 0 || hh * dd != hid ||
        !sk_mono_eq(&sr->dims[0], &sx->dims[0]) || !sk_mono_eq(&sr->dims[1], &sx->dims[1]))
        return false;
    *h = hh;
    *d = dd;
    set_add(f, rs);
    set_add(f, tr);
    return true;
}

/* HF's padding term: (1 − float(m[:, None, None, :]))·big, big ≤ −1e4.
 * Nothing of it is killed (all layers share it). */
static bool mask_term(fuser *f, int t, const sk_sym *scores, int *mask)
{
    int a, c, one_t;
    double big, one;
    if (bin_const(f, t, SK_OP_MUL, &a, &big) < 0 || !(big <= -1e4)) return false;
    if (bin(f, a, SK_OP_SUB, &one_t, &c) < 0 || !scalar(f, one_t, &one) || one != 1.0) return false;
    const sk_sym *se = SYM(f, c);
    int m = c;
    for (;;) {   /* through Casts and Unsqueezes, in whatever order */
        int n = def(f, m, SK_OP_CAST);
        if (n < 0) n = def(f, m, SK_OP_UNSQUEEZE);
        if (n < 0) break;
        m = NODE(f, n)->in[0];
    }
    const sk_sym *sm = SYM(f, m);
    if (se->rank != 4 || sm->rank != 2 || !sk_mono_is(&se->dims[1], 1) || !sk_mono_is(&se->dims[2], 1) ||
        !sk_mono_eq(&se->dims[0], &sm->dims[0]) || !sk_mono_eq(&se->dims[3], &sm->dims[1]))
        return false;
    /* the keys: the scores' last dim */
    if (scores->rank == 4 && !sk_mono_eq(&scores->dims[3], &sm->dims[1])) return false;
    *mask = m;
    return true;
}

/* A constant [P, P] (or [1, 1, P, P]) bool/u8 tensor that is lower triangular. */
static bool tril(fuser *f, int t, int64_t *P)
{
    const sk_tensor *x = &G(f)->tensors[t];
    if (!is_const(f, t) || !x->data || (x->dtype != SK_DT_BOOL && x->dtype != SK_DT_U8)) return false;
    if (x->rank != 2 && !(x->rank == 4 && x->dims[0] == 1 && x->dims[1] == 1)) return false;
    int64_t r = x->dims[x->rank - 2], c = x->dims[x->rank - 1];
    if (r != c) return false;
    const uint8_t *v = x->data;
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++)
            if ((v[i * c + j] != 0) != (j <= i)) return false;
    *P = r;
    return true;
}

/* The causal mask of GPT-2: Where(tril[..., T−S:T, :T], scores, big).
 * Checks the slices symbolically: rows [0, S), columns [0, T), S == T. */
static bool causal_where(fuser *f, int t, int *x, const sk_mono *S, const sk_mono *T)
{
    int w = def(f, t, SK_OP_WHERE);
    double fill;
    if (w < 0) return false;
    const sk_node *wn = NODE(f, w);
    if (!scalar(f, wn->in[2], &fill) || !(fill <= -1e4)) return false;
    int cond = wn->in[0];
    sk_mono lo[2], hi[2];   /* rows, columns */
    int sl[4], nsl = 0;
    while (nsl < 4) {
        int n = def(f, cond, SK_OP_SLICE);
        if (n < 0) break;
        sl[nsl++] = n;
        cond = NODE(f, n)->in[0];
    }
    int64_t P;
    if (!tril(f, cond, &P)) return false;
    int rank = G(f)->tensors[cond].rank;
    for (int k = 0; k < 2; k++) { lo[k] = (sk_mono){0, 0, {0}}; hi[k] = (sk_mono){P, 0, {0}}; }
    for (int s = nsl - 1; s >= 0; s--) {   /* innermost first */
        const sk_node *n = NODE(f, sl[s]);
        const sk_sym *ss = SYM(f, n->in[1]), *ee = SYM(f, n->in[2]);
        int64_t axes[SK_MAX_RANK], steps[SK_MAX_RANK];
        int na = 0, ns = 0, k = ss->nval;
        if (k < 1 || ee->nval != k) return false;
        if (n->n_in > 3 && n->in[3] >= 0) {
            if (!sk_rw_ints(G(f), n, NULL, 3, axes, SK_MAX_RANK, &na) || na != k) return false;
        } else for (na = 0; na < k; na++) axes[na] = na;
        if (n->n_in > 4 && n->in[4] >= 0) {
            if (!sk_rw_ints(G(f), n, NULL, 4, steps, SK_MAX_RANK, &ns) || ns != k) return false;
        } else for (ns = 0; ns < k; ns++) steps[ns] = 1;
        for (int j = 0; j < k; j++) {
            int64_t ax = axes[j] < 0 ? axes[j] + rank : axes[j], s0, e0;
            if (ax < 0 || ax >= rank || steps[j] != 1) return false;
            int which = (int)ax - (rank - 2);
            bool to_end = sk_mono_const(&ee->val[j], &e0) && e0 >= (int64_t)1 << 31;
            if (!sk_mono_const(&ss->val[j], &s0) || s0 < 0) return false;
            if (which < 0) {   /* a leading 1-dim: must keep it */
                if (s0 != 0 || !(to_end || sk_mono_is(&ee->val[j], 1))) return false;
                continue;
            }
            if (!sk_mono_is(&lo[which], 0) || s0 != 0) return false;   /* only [0, e) slices of what is left */
            if (!to_end) hi[which] = ee->val[j];
        }
    }
    if (!sk_mono_eq(&hi[0], S) || !sk_mono_eq(&hi[1], T) || !sk_mono_eq(S, T)) return false;
    /* the slices are not killed: DCE drops them with the buffer once no Where reads them */
    set_add(f, w);
    *x = wn->in[1];
    return true;
}

static sk_status try_attention(fuser *f, int i, bool *fired)
{
    const sk_node *sm = NODE(f, i);
    if (sm->op != SK_OP_SOFTMAX) return SK_OK;
    const char *nm = sm->name;
    int64_t ax = sk_node_attr_i(sm, "axis", -1);
    const sk_sym *ssm = SYM(f, sm->in[0]);
    if (!(ax == -1 || (ssm->rank == 4 && ax == 3)))
        return miss(f, P_ATTENTION, "node '%s': softmax over axis %lld, not the keys", nm, (long long)ax), SK_OK;
    set_reset(f);
    set_add(f, i);
    /* probabilities · V, back to [B, S, H] */
    int P = sm->out[0], nc, vh = -1, mm2 = -1;
    const int *c = sk_rw_cons(&f->rw, P, &nc);
    for (int k = 0; k < nc; k++)
        if (!f->rw.dead[c[k]] && NODE(f, c[k])->op == SK_OP_MATMUL && NODE(f, c[k])->in[0] == P) mm2 = c[k];
    if (mm2 < 0) return miss(f, P_ATTENTION, "node '%s': the probabilities do not multiply the values", nm), SK_OK;
    set_add(f, mm2);
    vh = NODE(f, mm2)->in[1];
    int ctx = NODE(f, mm2)->out[0], tro = -1, rso = -1;
    c = sk_rw_cons(&f->rw, ctx, &nc);
    for (int k = 0; k < nc; k++)
        if (!f->rw.dead[c[k]] && NODE(f, c[k])->op == SK_OP_TRANSPOSE && perm_is(NODE(f, c[k]), 0, 2, 1, 3)) tro = c[k];
    if (tro >= 0) {
        c = sk_rw_cons(&f->rw, NODE(f, tro)->out[0], &nc);
        for (int k = 0; k < nc && rso < 0; k++)   /* the Reshape back to [B, S, H] (others may flatten further) */
            if (!f->rw.dead[c[k]] && NODE(f, c[k])->op == SK_OP_RESHAPE && NODE(f, c[k])->in[0] == NODE(f, tro)->out[0] &&
                SYM(f, NODE(f, c[k])->out[0])->rank == 3)
                rso = c[k];
    }
    if (rso < 0) return miss(f, P_ATTENTION, "node '%s': the context is not transposed and reshaped back to [B, S, H]", nm), SK_OK;
    set_add(f, tro);
    set_add(f, rso);
    /* scores: [+ mask term] ← [causal Where] ← [scale] ← MatMul(q heads, k heads transposed) */
    int s = sm->in[0], mask = -1, scores = s, add = -1;
    int a0, a1;
    if ((add = bin(f, s, SK_OP_ADD, &a0, &a1)) >= 0) {
        const sk_sym *sc = SYM(f, s);
        if (mask_term(f, a1, sc, &mask)) scores = a0;
        else if (mask_term(f, a0, sc, &mask)) scores = a1;
        else return miss(f, P_ATTENTION, "node '%s': the term added to the scores is not HF's (1 - mask)*min", nm), SK_OK;
        set_add(f, add);
    }
    /* q, k, v and their heads (needed before the causal check: it compares S and T) */
    int q = -1, k = -1, v = -1, mm1 = -1;
    int64_t h = 0, d = 0, h2, d2, h3, d3;
    int core = scores;
    double scale = 1.0, cst;
    /* find the product under an optional Where and scale */
    int probe = core;
    int w = def(f, probe, SK_OP_WHERE);
    if (w >= 0) probe = NODE(f, w)->in[1];
    int sn;
    if ((sn = bin_const(f, probe, SK_OP_DIV, &a0, &cst)) >= 0 && cst != 0) { scale = 1.0 / cst; probe = a0; }
    else if ((sn = bin_const(f, probe, SK_OP_MUL, &a0, &cst)) >= 0) { scale = cst; probe = a0; }
    else sn = -1;
    mm1 = def(f, probe, SK_OP_MATMUL);
    if (mm1 < 0) return miss(f, P_ATTENTION, "node '%s': the scores are not a (scaled) MatMul", nm), SK_OK;
    if (!heads_of(f, NODE(f, mm1)->in[0], 0, 2, 1, 3, &q, &h, &d) ||
        !heads_of(f, NODE(f, mm1)->in[1], 0, 2, 3, 1, &k, &h2, &d2) || !heads_of(f, vh, 0, 2, 1, 3, &v, &h3, &d3))
        return miss(f, P_ATTENTION, "node '%s': q, k or v is not a Reshape to [B, S, heads, hd] + Transpose", nm), SK_OK;
    if (h != h2 || h != h3 || d != d2 || d != d3)
        return miss(f, P_ATTENTION, "node '%s': q, k and v split into different heads", nm), SK_OK;
    const sk_sym *sq = SYM(f, q), *sk = SYM(f, k), *sv = SYM(f, v), *so = SYM(f, NODE(f, rso)->out[0]);
    if (!sk_mono_eq(&sq->dims[0], &sk->dims[0]) || !sk_mono_eq(&sk->dims[0], &sv->dims[0]) ||
        !sk_mono_eq(&sk->dims[1], &sv->dims[1]))
        return miss(f, P_ATTENTION, "node '%s': k and v do not have q's batch and one length", nm), SK_OK;
    if (so->rank != 3 || !sk_mono_eq(&so->dims[0], &sq->dims[0]) || !sk_mono_eq(&so->dims[1], &sq->dims[1]) ||
        !sk_mono_is(&so->dims[2], h * d))
    {
        char b1[128], b2[128];
        sk_sym_str(&f->sym, so, b1, sizeof b1);
        sk_sym_str(&f->sym, sq, b2, sizeof b2);
        return miss(f, P_ATTENTION, "node '%s': the output %s is not reshaped to q's %s", nm, b1, b2), SK_OK;
    }
    set_add(f, mm1);
    if (sn >= 0) set_add(f, sn);
    bool causal = false;
    if (w >= 0) {
        int inner;
        if (!causal_where(f, core, &inner, &sq->dims[1], &sk->dims[1]))
            return miss(f, P_ATTENTION, "node '%s': a Where on the scores that is not a causal mask sliced to [S, S]", nm), SK_OK;
        causal = true;
    }
    if (!private_set(f, rso))
        return miss(f, P_ATTENTION, "node '%s': an intermediate result is used outside the pattern", nm), SK_OK;
    int ins[4] = {q, k, v, mask}, nd;
    sk_status st = emit(f, rso, SK_OP_ATTENTION, ins, mask >= 0 ? 4 : 3, NODE(f, rso)->out[0], &nd);
    if (!st) st = sk_node_set_i(NODE(f, nd), "num_heads", h);
    if (!st) st = sk_node_set_i(NODE(f, nd), "causal", causal);
    /* scale 0 is the default 1/√hd; anything else is written out */
    if (!st) st = sk_node_set_f(NODE(f, nd), "scale", near(scale, 1.0 / sqrt((double)d), 1e-6) ? 0.0f : (float)scale);
    f->sub[P_ATTENTION][causal]++;
    *fired = !st;
    return st;
}

/* ---- skip layernorm ---- */
/* skip broadcasts to x as "x's last rows repeated" (what the kernel reads):
 * its dims are a suffix of x's, after leading 1s. */
static bool skip_fits(const sk_sym *x, const sk_sym *s)
{
    if (x->rank < 1 || s->rank < 1 || s->rank > x->rank) return false;
    int off = x->rank - s->rank, lead = 0;
    while (lead < s->rank - 1 && sk_mono_is(&s->dims[lead], 1) && !sk_mono_is(&x->dims[off + lead], 1)) lead++;
    for (int i = lead; i < s->rank; i++)
        if (!sk_mono_eq(&s->dims[i], &x->dims[off + i])) return false;
    /* the leading part of skip must be all 1s and every dim after it equal */
    for (int i = 0; i < lead; i++)
        if (!sk_mono_is(&s->dims[i], 1)) return false;
    return true;
}

static sk_status try_skipln(fuser *f, int i, bool *fired)
{
    const sk_node *ln = NODE(f, i);
    if (ln->op != SK_OP_LAYERNORM || ln->n_in < 2 || ln->n_out != 1) return SK_OK;
    int s = ln->in[0], a, b, add = bin(f, s, SK_OP_ADD, &a, &b);
    if (add < 0 || a == b || is_const(f, a) || is_const(f, b)) return SK_OK;
    const char *nm = ln->name;
    int64_t ax = sk_node_attr_i(ln, "axis", -1), D = -1;
    const sk_sym *ss = SYM(f, s), *sa = SYM(f, a), *sb = SYM(f, b);
    if (!(ax == -1 || (ss->rank > 0 && ax == ss->rank - 1))) return SK_OK;
    if (!ln_param(f, ln->in[1], &D) || (ln->n_in > 2 && ln->in[2] >= 0 && !ln_param(f, ln->in[2], &D)))
        return miss(f, P_SKIPLN, "node '%s': gamma or beta is not a constant of one value per feature", nm), SK_OK;
    int x, skip;
    if (sk_sym_same_dims(sa, ss) && skip_fits(ss, sb)) { x = a; skip = b; }
    else if (sk_sym_same_dims(sb, ss) && skip_fits(ss, sa)) { x = b; skip = a; }
    else return miss(f, P_SKIPLN, "node '%s': the two summands' shapes are not known to match", nm), SK_OK;
    set_reset(f);
    set_add(f, add);
    set_add(f, i);
    /* x = x0 + bias (either summand, when both have the sum's shape): the bias goes in too */
    int bias = -1, xx = -1, badd = -1;
    for (int side = 0; side < 2 && bias < 0; side++) {
        int t = side ? skip : x, x0, bc;
        if (side && !sk_sym_same_dims(SYM(f, skip), ss)) break;
        if ((badd = bin(f, t, SK_OP_ADD, &x0, &bc)) < 0 || uses(f, t) != 1) continue;
        xx = is_const(f, bc) ? x0 : is_const(f, x0) ? bc : -1;
        int bb = xx == x0 ? bc : x0;
        int64_t Db = D;
        if (xx >= 0 && ln_param(f, bb, &Db) && G(f)->tensors[bb].rank == 1 && sk_sym_same_dims(SYM(f, xx), ss)) {
            set_add(f, badd);
            bias = bb;
            if (side) skip = x;
            x = xx;
        }
    }
    if (!private_set(f, i)) return SK_OK;   /* the sum is needed again (a pre-norm residual): not this pattern */
    int ins[5] = {x, skip, ln->in[1], ln->n_in > 2 ? ln->in[2] : -1, bias}, nd;
    float eps = sk_node_attr_f(ln, "epsilon", 1e-5f);
    sk_status st = emit_named(f, i, true, SK_OP_SKIP_LAYERNORM, ins, bias >= 0 ? 5 : 4, ln->out[0], &nd);
    if (!st) st = sk_node_set_f(NODE(f, nd), "epsilon", eps);
    f->sub[P_SKIPLN][bias >= 0]++;
    *fired = !st;
    return st;
}

/* ---- q, k, v in one LINEAR ---- */
static bool plain_linear(fuser *f, int n, int x)
{
    const sk_node *l = NODE(f, n);
    if (l->n_in > 3 || l->in[0] != x || !is_const(f, l->in[1]) || sk_node_attr_s(l, "act", "")[0]) return false;
    const sk_tensor *w = &G(f)->tensors[l->in[1]];
    return w->dtype == SK_DT_F32 && w->rank == 2 && !w->quant;
}

static sk_status try_qkv(fuser *f, int i, bool *fired)
{
    const sk_node *at = NODE(f, i);
    if (at->op != SK_OP_ATTENTION) return SK_OK;
    int ln[3], x = -1;
    for (int j = 0; j < 3; j++) {
        ln[j] = def(f, at->in[j], SK_OP_LINEAR);
        if (ln[j] < 0 || uses(f, at->in[j]) != 1) return SK_OK;
        if (!j) x = NODE(f, ln[0])->in[0];
        if (!plain_linear(f, ln[j], x)) return SK_OK;
    }
    if (ln[0] == ln[1] || ln[1] == ln[2] || ln[0] == ln[2]) return SK_OK;
    int wt = (int)sk_node_attr_i(NODE(f, ln[0]), "wt", 1);
    bool has_b = NODE(f, ln[0])->n_in > 2 && NODE(f, ln[0])->in[2] >= 0;
    int64_t K = -1, N[3], Nt = 0;
    for (int j = 0; j < 3; j++) {
        const sk_node *l = NODE(f, ln[j]);
        const sk_tensor *w = &G(f)->tensors[l->in[1]];
        if (sk_node_attr_i(l, "wt", 1) != wt || (l->n_in > 2 && l->in[2] >= 0) != has_b) return SK_OK;
        int64_t kk = w->dims[wt ? 1 : 0];
        N[j] = w->dims[wt ? 0 : 1];
        if (K >= 0 && kk != K) return SK_OK;
        K = kk;
        Nt += N[j];
        if (has_b && (G(f)->tensors[l->in[2]].dtype != SK_DT_F32 || sk_tensor_numel(&G(f)->tensors[l->in[2]]) != N[j])) return SK_OK;
    }
    float *W = sk_malloc((size_t)(K * Nt) * sizeof *W), *B = has_b ? sk_malloc((size_t)Nt * sizeof *B) : NULL;
    if (!W || (has_b && !B)) { sk_free(W); sk_free(B); return SK_ERR_NOMEM; }
    int64_t off = 0;
    for (int j = 0; j < 3; j++) {
        const sk_node *l = NODE(f, ln[j]);
        const float *w = G(f)->tensors[l->in[1]].data;
        if (wt) memcpy(W + off * K, w, (size_t)(N[j] * K) * sizeof *W);   /* [N, K]: rows one after another */
        else
            for (int64_t r = 0; r < K; r++) memcpy(W + r * Nt + off, w + r * N[j], (size_t)N[j] * sizeof *W);
        if (has_b) memcpy(B + off, G(f)->tensors[l->in[2]].data, (size_t)N[j] * sizeof *B);
        off += N[j];
    }
    char base[512];
    fused_name(f, ln[0], base, sizeof base);
    int64_t wd[2] = {wt ? Nt : K, wt ? K : Nt};
    int wc = sk_rw_const_f32(f->m, base, "qkv.weight", 2, wd, W);
    int bcat = has_b ? sk_rw_const_f32(f->m, base, "qkv.bias", 1, &Nt, B) : -1;
    int sizes = sk_rw_const_i64(f->m, base, "qkv.split", 1, (int64_t[]){3}, N);
    sk_free(W);
    sk_free(B);
    if (wc < 0 || (has_b && bcat < 0) || sizes < 0) return SK_ERR_NOMEM;
    G(f)->tensors[wc].flags |= SK_TF_WEIGHT;
    if (bcat >= 0) G(f)->tensors[bcat].flags |= SK_TF_WEIGHT;
    sk_sym sy = *SYM(f, at->in[0]);
    if (sy.rank > 0) sy.dims[sy.rank - 1] = (sk_mono){Nt, 0, {0}};
    int y = sk_rw_tensor(f->m, base, "qkv", &sy);
    if (y < 0) return SK_ERR_NOMEM;
    int first = ln[0];
    for (int j = 1; j < 3; j++)
        if (f->rw.prio[ln[j]] < f->rw.prio[first]) first = ln[j];
    int ins[3] = {x, wc, bcat}, outs[3] = {at->in[0], at->in[1], at->in[2]};
    int nl = sk_graph_add_node(G(f), SK_OP_LINEAR, base, ins, has_b ? 3 : 2, &y, 1);
    char sname[600];
    snprintf(sname, sizeof sname, "%s.split", base);
    int ns = nl < 0 ? -1 : sk_graph_add_node(G(f), SK_OP_SPLIT, sname, (int[]){y, sizes}, 2, outs, 3);
    if (ns < 0) return SK_ERR_NOMEM;
    sk_status st = sk_node_set_i(NODE(f, nl), "wt", wt);
    if (!st) st = sk_node_set_i(NODE(f, ns), "axis", -1);
    if (!st) st = sk_rw_place(&f->rw, nl, first);
    if (!st) st = sk_rw_place(&f->rw, ns, first);
    for (int j = 0; !st && j < 3; j++) st = sk_rw_kill(&f->rw, ln[j]);
    *fired = !st;
    return st;
}

/* ---- position ids for causal models ---- */
static sk_status positions(fuser *f)
{
    sk_graph *g = G(f);
    if (sk_graph_find_tensor(g, "position_ids") >= 0) return SK_OK;
    const sk_sym *sq = NULL;
    for (int i = 0; i < g->n_nodes && !sq; i++)
        if (g->nodes[i].op == SK_OP_ATTENTION && sk_node_attr_i(&g->nodes[i], "causal", 0)) sq = SYM(f, g->nodes[i].in[0]);
    if (!sq || sq->rank != 3) return SK_OK;
    /* the graph input whose dims are [B, S]: its dim names name the new input's */
    int like = -1;
    for (int i = 0; i < g->n_inputs && like < 0; i++) {
        const sk_sym *si = SYM(f, g->inputs[i]);
        if (si->rank == 2 && sk_mono_eq(&si->dims[0], &sq->dims[0]) && sk_mono_eq(&si->dims[1], &sq->dims[1]))
            like = g->inputs[i];
    }
    if (like < 0) return miss(f, P_POSITIONS, "no graph input has the attention's [batch, sequence] dims"), SK_OK;
    int pid = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        sk_node *n = &g->nodes[i];
        if (f->rw.dead[i] || n->op != SK_OP_GATHER || sk_node_attr_i(n, "axis", 0) != 0 || !is_const(f, n->in[0]) ||
            g->tensors[n->in[0]].rank != 2)
            continue;
        int idx = n->in[1], r = idx, un = def(f, idx, SK_OP_UNSQUEEZE);
        if (un >= 0) r = NODE(f, un)->in[0];
        int rg = def(f, r, SK_OP_RANGE);
        if (rg < 0) continue;
        double s0, dl;
        const sk_sym *lim = SYM(f, NODE(f, rg)->in[1]), *si = SYM(f, idx);
        if (!scalar(f, NODE(f, rg)->in[0], &s0) || s0 != 0 || !scalar(f, NODE(f, rg)->in[2], &dl) || dl != 1 ||
            lim->nval != 1 || !sk_mono_eq(&lim->val[0], &sq->dims[1]))
            continue;
        /* arange(S) or arange(S)[None]: [S] or [1, S]; with [B, S] ids the embeddings become
         * [B, S, H], which only an Add with a [B, S, H] summand (the token embeddings) takes as it
         * took [1, S, H] */
        bool shape_ok = (si->rank == 1) || (si->rank == 2 && sk_mono_is(&si->dims[0], 1)), adds = true;
        int nc;
        const int *c = sk_rw_cons(&f->rw, n->out[0], &nc);
        for (int k = 0; k < nc && adds; k++) {
            const sk_node *a = NODE(f, c[k]);
            int other = a->in[0] == n->out[0] ? a->in[1] : a->in[0];
            adds = a->op == SK_OP_ADD && SYM(f, other)->rank == 3 && sk_mono_eq(&SYM(f, other)->dims[0], &sq->dims[0]);
        }
        if (!shape_ok || !adds || f->rw.is_out[n->out[0]]) {
            miss(f, P_POSITIONS, "node '%s': the position embeddings are not only added to [batch, S, H] embeddings; "
                 "generating with the KV cache would restart their positions at 0", n->name);
            continue;
        }
        if (pid < 0) {
            const sk_tensor *lt = &g->tensors[like];
            int64_t dims[2] = {-1, -1};
            if ((pid = sk_graph_add_tensor(g, "position_ids", SK_DT_I64, 2, dims)) < 0) return SK_ERR_NOMEM;
            for (int d = 0; d < 2; d++)
                if (lt->dim_names[d] && !(g->tensors[pid].dim_names[d] = sk_strdup(lt->dim_names[d]))) return SK_ERR_NOMEM;
            sk_status st = sk_graph_add_input(g, pid);
            if (st) return st;
        }
        g->nodes[i].in[1] = pid;
        f->fired[P_POSITIONS]++;
    }
    return SK_OK;
}

/* ---- driver ---- */
typedef sk_status (*try_fn)(fuser *f, int i, bool *fired);

static sk_status refresh(fuser *f)
{
    sk_status st = sk_rw_commit(&f->rw, NULL);
    return st ? st : sk_sym_infer(G(f), &f->sym);
}

/* Apply fn at every node until it fires nowhere; one commit per firing, then
 * the scan starts over (ids changed).  Near misses are those of the last
 * scan, the one where nothing fired, so each is counted once. */
static sk_status run_pattern(fuser *f, int which, try_fn fn)
{
    sk_status st = SK_OK;
    if (!f->on[which]) return SK_OK;
    int missed = f->missed[which];
    char why[sizeof f->why[0]];
    memcpy(why, f->why[which], sizeof why);
    for (;;) {
        bool fired = false;
        f->missed[which] = missed;
        memcpy(f->why[which], why, sizeof why);
        for (int i = 0; i < G(f)->n_nodes && !fired && !st; i++)
            if (!f->rw.dead[i]) st = fn(f, i, &fired);
        if (st || !fired) break;
        f->fired[which]++;
        if ((st = refresh(f))) break;
    }
    return st;
}

static int count_op(const sk_graph *g, sk_op op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i].op == op;
    return n;
}

static const struct sk_param fuse_params[] = {
    {"patterns", SK_PARAM_STRINGS, "", "fusions to run (layernorm, gelu, linear, activation, tied, attention, skip_layernorm, qkv, positions); empty = all", NULL, 0, 0},
    {"qkv_concat", SK_PARAM_BOOL, "false", "q, k and v LINEARs of one input as one LINEAR + SPLIT", NULL, 0, 0},
    {NULL, 0, NULL, NULL, NULL, 0, 0},
};

static sk_status fuse_run(sk_pass_ctx *c, sk_model *m)
{
    fuser f;
    memset(&f, 0, sizeof f);
    f.c = c;
    f.m = m;
    const char *const *pats;
    int np;
    bool qkv;
    sk_status st = c->get_strings(c, "patterns", &pats, &np);
    if (!st) st = c->get_bool(c, "qkv_concat", &qkv);
    if (st) return st;
    for (int p = 0; p < P_COUNT; p++) f.on[p] = !np;
    for (int i = 0; i < np; i++) {
        int p = 0;
        while (p < P_COUNT && strcmp(pattern_names[p], pats[i])) p++;
        if (p == P_COUNT)
            return c->error(c, SK_ERR_INVALID, "unknown pattern '%s' (layernorm, gelu, linear, activation, tied, "
                            "attention, skip_layernorm, qkv, positions)", pats[i]);
        f.on[p] = true;
    }
    if (!np) f.on[P_QKV] = qkv;
    else if (qkv) f.on[P_QKV] = true;
    const sk_graph *g = &m->g;
    int nodes0 = g->n_nodes, ln0 = count_op(g, SK_OP_LAYERNORM), gelu0 = count_op(g, SK_OP_GELU);
    sk_fold_stats fs = {0};
    st = sk_fold_graph(m, false, &fs);   /* Reshape chains stay: attention and Conv1D linears match on them */
    if (!st) st = sk_rw_init(&f.rw, m);
    if (!st) st = sk_sym_infer(g, &f.sym);
    int softmax0 = count_op(g, SK_OP_SOFTMAX), erf0 = count_op(g, SK_OP_ERF);
    if (!st) st = run_pattern(&f, P_LAYERNORM, try_layernorm);
    if (!st) st = run_pattern(&f, P_GELU, try_gelu);
    if (!st) st = run_pattern(&f, P_LINEAR, try_linear);
    if (!st) st = run_pattern(&f, P_LINEAR, try_linear_reshape);
    if (!st) st = run_pattern(&f, P_ACT, try_act);
    if (!st) st = run_pattern(&f, P_TIED, try_tied);
    if (!st) st = run_pattern(&f, P_ATTENTION, try_attention);
    if (!st && f.on[P_POSITIONS] && !(st = positions(&f))) st = refresh(&f);   /* before the Add goes into a norm */
    if (!st) st = run_pattern(&f, P_SKIPLN, try_skipln);
    if (!st) st = run_pattern(&f, P_QKV, try_qkv);
    if (!st) st = sk_fold_graph(m, true, &fs);
    sk_sym_free(&f.sym);
    sk_rw_free(&f.rw);
    sk_free(f.in_set);
    if (st) return st;
    /* the summary: every pattern that could fire says how often it did */
    c->note(c, "%d nodes -> %d (fold: %d constants, %d no-ops, %d dead)", nodes0, g->n_nodes, fs.folded + fs.shapes,
            fs.identities + fs.reshapes + fs.transposes, fs.dead);
    if (f.on[P_LAYERNORM])
        c->note(c, "layernorm: %d fused from ReduceMean/Sub/Pow/Sqrt/Div chains (%d LayerNormalization already)",
                f.fired[P_LAYERNORM], ln0);
    if (f.on[P_GELU])
        c->note(c, "gelu: %d fused (%d erf form, %d tanh form; %d Gelu already)", f.fired[P_GELU], f.sub[P_GELU][0],
                f.sub[P_GELU][1], gelu0);
    if (f.on[P_LINEAR])
        c->note(c, "linear: %d fused (%d MatMul, %d Gemm, %d Reshape-Linear-Reshape collapsed)", f.fired[P_LINEAR],
                f.sub[P_LINEAR][0], f.sub[P_LINEAR][1], f.sub[P_LINEAR][2]);
    if (f.on[P_ACT])
        c->note(c, "activation: %d into a Linear epilogue (%d gelu, %d relu, %d tanh)", f.fired[P_ACT], f.sub[P_ACT][0],
                f.sub[P_ACT][1], f.sub[P_ACT][2]);
    if (f.on[P_TIED] && f.fired[P_TIED])
        c->note(c, "tied: %d Linear weight%s the transpose of an embedding table, now read from it (%.1f MB less)",
                f.fired[P_TIED], f.fired[P_TIED] > 1 ? "s were" : " was", f.sub[P_TIED][0] / 1024.0);
    if (f.on[P_ATTENTION])
        c->note(c, "attention: %d fused (%d causal) of %d Softmax", f.fired[P_ATTENTION], f.sub[P_ATTENTION][1], softmax0);
    if (f.on[P_SKIPLN])
        c->note(c, "skip_layernorm: %d fused (%d with a bias)", f.fired[P_SKIPLN], f.sub[P_SKIPLN][1]);
    if (f.on[P_QKV]) c->note(c, "qkv: %d q/k/v triples concatenated into one Linear + Split", f.fired[P_QKV]);
    if (f.on[P_POSITIONS] && f.fired[P_POSITIONS])
        c->note(c, "positions: %d in-graph arange(sequence) replaced by the input position_ids (KV-cache generation)",
                f.fired[P_POSITIONS]);
    for (int p = 0; p < P_COUNT; p++)
        if (f.on[p] && f.missed[p])
            c->note(c, "%s: %d near miss%s not fused; first: %s", pattern_names[p], f.missed[p], f.missed[p] > 1 ? "es" : "",
                    f.why[p]);
    int left_sm = count_op(g, SK_OP_SOFTMAX), left_erf = count_op(g, SK_OP_ERF), left_rm = count_op(g, SK_OP_REDUCE_MEAN);
    if (left_sm || left_erf || left_rm)
        c->note(c, "left unfused: %d Softmax (of %d), %d Erf (of %d), %d ReduceMean", left_sm, softmax0, left_erf, erf0,
                left_rm);
    return SK_OK;
}

const struct sk_pass sk_pass_fuse = {
    .api_version = SK_PASS_API_VERSION,
    .name = "fuse",
    .summary = "fuse exported primitive subgraphs: LayerNorm, GELU, Linear (+bias, activation), Attention, SkipLayerNorm",
    .params = fuse_params,
    .run = fuse_run,
};
