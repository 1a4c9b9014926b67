/* fold.c — the "fold" pass: constant folding, no-op removal and dead-code
 * elimination.
 *
 * What is folded is what has the same value for ANY input shape:
 *   - a foldable op (SK_OPF_FOLDABLE in ops.def) whose inputs are all
 *     constants is evaluated by the runtime's own shape function and kernel
 *     and becomes a constant;
 *   - a foldable op whose value the symbolic shapes (symshape.c) know as
 *     constants — a Shape of a tensor whose dims are static, a Gather or
 *     Slice of a Shape picking static dims — becomes a constant.  Dims that
 *     depend on the inputs (batch, sequence) are never fixed here: the
 *     session folds those at plan time, for the shapes it is given;
 *   - Identity, Dropout (inference: its mask unused) and a Cast to the dtype
 *     the tensor already has are removed, their readers rewired;
 *   - Reshape(view(x), s) reads x directly when s has no 0 (copy) entries
 *     and nothing else reads the view (a chain of reshapes becomes one),
 *     and a Reshape or other view op whose output has its input's dims is
 *     removed;
 *   - Transpose(Transpose(x)) becomes one Transpose (none if the perms
 *     cancel), and MatMul(x, Transpose(W)) with a constant 2-D W becomes
 *     LINEAR(x, W) with wt = 1, reading W as it is stored;
 *   - nodes no graph output depends on, and tensors nothing refers to, are
 *     dropped.
 * The pass runs these until nothing changes.  It never matches on names and
 * never changes what the graph computes; fuse.c runs it first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rewrite.h"

/* Largest constant a fold may create, unless its inputs were as large
 * (a Transpose of a weight): a Expand or ConstantOfShape of a constant shape
 * must not blow a model up. */
#define FOLD_MAX_BYTES ((size_t)16 << 20)

typedef struct folder {
    sk_model *m;
    sk_rw rw;
    sk_symtab sym;
    sk_pool *pool;
    sk_fold_stats *st;
    bool chains;
    int killed;
    bool changed;
} folder;

static bool is_const(const sk_graph *g, int t) { return t >= 0 && (g->tensors[t].flags & SK_TF_CONST); }

static bool is_float(sk_dtype dt) { return dt == SK_DT_F32 || dt == SK_DT_F16 || dt == SK_DT_BF16 || dt == SK_DT_F64; }

static sk_status kill(folder *f, int ni)
{
    f->killed++;
    f->changed = true;
    return sk_rw_kill(&f->rw, ni);
}

/* Make tensor t a constant holding data (owned), of the given dtype and shape. */
static void make_const(sk_graph *g, int t, sk_dtype dt, int rank, const int64_t *dims, void *data, size_t nbytes,
                       bool weight)
{
    sk_tensor *x = &g->tensors[t];
    if (x->flags & SK_TF_OWNED) sk_free(x->data);
    x->dtype = dt;
    x->rank = rank;
    for (int i = 0; i < SK_MAX_RANK; i++) {
        x->dims[i] = i < rank ? dims[i] : 0;
        sk_free(x->dim_names[i]);
        x->dim_names[i] = NULL;
    }
    x->data = data;
    x->nbytes = nbytes;
    x->flags |= SK_TF_CONST | SK_TF_OWNED;
    if (weight) x->flags |= SK_TF_WEIGHT;
}

/* Evaluate node ni, whose inputs are all constants, with the runtime's shape
 * function and kernel; its outputs become constants.  A node the runtime
 * refuses (a model error) or whose result is too large is left alone. */
static sk_status eval_node(folder *f, int ni, bool *done)
{
    sk_graph *g = &f->m->g;
    sk_node *n = &g->nodes[ni];
    *done = false;
    int nin = n->n_in, nout = n->n_out;
    sk_rtensor *r = sk_calloc((size_t)(nin + nout) + 1, sizeof *r);
    sk_rtensor **p = sk_calloc((size_t)(nin + nout) + 1, sizeof *p);
    void *scratch = NULL, *state = NULL;
    sk_status st = r && p ? SK_OK : SK_ERR_NOMEM;
    size_t in_bytes = 0, out_bytes = 0;
    bool weight = false;
    for (int k = 0; !st && k < nin; k++) {
        if (n->in[k] < 0) continue;
        const sk_tensor *t = &g->tensors[n->in[k]];
        sk_rt_set_shape(&r[k], t->dtype, t->rank, t->dims);
        r[k].data = t->data;
        r[k].nbytes = t->nbytes;
        r[k].is_const = true;
        p[k] = &r[k];
        in_bytes += t->nbytes;
        weight |= (t->flags & SK_TF_WEIGHT) != 0;
    }
    for (int k = 0; !st && k < nout; k++) p[nin + k] = n->out[k] >= 0 ? &r[nin + k] : NULL;
    sk_kctx k = {0};
    k.g = g;
    k.node = n;
    k.in = p;
    k.n_in = nin;
    k.out = p + nin;
    k.n_out = nout;
    k.pool = f->pool;
    k.state = &state;
    if (!st && sk_shape_table[n->op](&k)) {   /* the runtime will say what is wrong, with the real shapes */
        sk_err_clear();
        goto out;
    }
    for (int o = 0; !st && o < nout; o++) {
        if (!k.out[o]) continue;
        if (!sk_dtype_nbytes(k.out[o]->dtype, sk_rt_numel(k.out[o]), &k.out[o]->nbytes)) goto out;
        out_bytes += k.out[o]->nbytes;
    }
    if (st || (out_bytes > FOLD_MAX_BYTES && out_bytes > in_bytes)) goto out;
    for (int o = 0; o < nout; o++) {
        if (!k.out[o]) continue;
        if (!(k.out[o]->data = sk_aligned_alloc(64, k.out[o]->nbytes ? k.out[o]->nbytes : 1))) { st = SK_ERR_NOMEM; goto out; }
    }
    if (k.scratch_need && !(k.scratch = scratch = sk_aligned_alloc(64, k.scratch_need))) { st = SK_ERR_NOMEM; goto out; }
    if (sk_kern_table[n->op](&k)) {
        sk_err_clear();
        goto out;
    }
    for (int o = 0; o < nout; o++) {
        if (!k.out[o]) continue;
        const sk_rtensor *y = k.out[o];
        make_const(g, n->out[o], y->dtype, y->rank, y->dims, y->data, y->nbytes,
                   weight && is_float(y->dtype) && sk_rt_numel(y) > 1);
        k.out[o]->data = NULL;
    }
    *done = true;
    st = kill(f, ni);
out:
    for (int o = 0; r && o < nout; o++) sk_free(r[nin + o].data);
    sk_free(scratch);
    sk_free(state);
    sk_free(r);
    sk_free(p);
    return st;
}

/* Outputs of a foldable node that the symbolic shapes know as constant small
 * integers (a Shape of static dims, a Gather of one) become constants. */
static sk_status sym_const(folder *f, int ni, bool *done)
{
    sk_graph *g = &f->m->g;
    const sk_node *n = &g->nodes[ni];
    *done = false;
    for (int o = 0; o < n->n_out; o++) {
        if (n->out[o] < 0) continue;
        const sk_sym *s = &f->sym.t[n->out[o]];
        int64_t cnt, v;
        if ((s->dtype != SK_DT_I64 && s->dtype != SK_DT_I32) || !sk_sym_static(s, &cnt) || s->nval != cnt) return SK_OK;
        for (int i = 0; i < s->nval; i++)
            if (!sk_mono_const(&s->val[i], &v)) return SK_OK;
    }
    for (int o = 0; o < n->n_out; o++) {
        if (n->out[o] < 0) continue;
        const sk_sym *s = &f->sym.t[n->out[o]];
        int64_t dims[SK_MAX_RANK], v;
        for (int i = 0; i < s->rank; i++) sk_mono_const(&s->dims[i], &dims[i]);
        size_t es = s->dtype == SK_DT_I64 ? 8 : 4;
        void *data = sk_malloc((size_t)(s->nval ? s->nval : 1) * es);
        if (!data) return SK_ERR_NOMEM;
        for (int i = 0; i < s->nval; i++) {
            sk_mono_const(&s->val[i], &v);
            if (es == 8) ((int64_t *)data)[i] = v;
            else ((int32_t *)data)[i] = (int32_t)v;
        }
        make_const(g, n->out[o], s->dtype, s->rank, dims, data, (size_t)s->nval * es, false);
    }
    *done = true;
    return kill(f, ni);
}

/* A perm attribute (or the default reversal) of a Transpose of rank r. */
static bool perm_of(const sk_node *n, int r, int64_t *p)
{
    const sk_attr *a = sk_node_attr(n, "perm");
    if (r < 0 || r > SK_MAX_RANK) return false;
    if (!a) {
        for (int i = 0; i < r; i++) p[i] = r - 1 - i;
        return true;
    }
    if (a->type != SK_ATTR_INTS || a->n != r) return false;
    bool seen[SK_MAX_RANK] = {false};
    for (int i = 0; i < r; i++) {
        p[i] = a->ints[i] < 0 ? a->ints[i] + r : a->ints[i];
        if (p[i] < 0 || p[i] >= r || seen[p[i]]) return false;
        seen[p[i]] = true;
    }
    return true;
}

/* y's readers read x; the node writing y is killed. */
static sk_status bypass(folder *f, int ni, int y, int x, int *count)
{
    if (!sk_rw_forward(&f->rw, y, x)) return SK_OK;
    (*count)++;
    return kill(f, ni);
}

/* Tensor t is a graph output or read by a live node (a scan: rewiring in this
 * sweep may have added readers the index does not list yet). */
static bool read_by_any(const folder *f, int t)
{
    const sk_graph *g = &f->m->g;
    if (f->rw.is_out[t]) return true;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; !f->rw.dead[i] && k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == t) return true;
    return false;
}

/* MatMul(x, Transpose(W)) with W a constant 2-D: LINEAR(x, W) wt = 1. */
static sk_status matmul_transpose(folder *f)
{
    sk_graph *g = &f->m->g;
    for (int i = 0; i < g->n_nodes; i++) {
        sk_node *n = &g->nodes[i];
        if (f->rw.dead[i] || n->op != SK_OP_MATMUL || n->n_in != 2) continue;
        int tp = sk_rw_def(&f->rw, n->in[1], SK_OP_TRANSPOSE);
        if (tp < 0) continue;
        const sk_node *t = &g->nodes[tp];
        int w = t->in[0];
        int64_t p[SK_MAX_RANK];
        if (!is_const(g, w) || g->tensors[w].rank != 2 || g->tensors[w].dtype != SK_DT_F32 || !perm_of(t, 2, p) ||
            p[0] != 1)
            continue;
        n->op = SK_OP_LINEAR;
        n->in[1] = w;
        sk_status st = sk_node_set_i(n, "wt", 1);
        if (st) return st;
        f->st->transposes++;
        f->changed = true;
    }
    return SK_OK;
}

static sk_status sweep(folder *f)
{
    sk_graph *g = &f->m->g;
    sk_status st = SK_OK;
    int nn = g->n_nodes;
    for (int i = 0; i < nn && !st; i++) {
        if (f->rw.dead[i]) continue;
        sk_node *n = &g->nodes[i];
        const sk_op_info *oi = sk_op_get(n->op);
        bool done = false, all_const = true;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && !is_const(g, n->in[k])) all_const = false;
        bool passthrough = n->op == SK_OP_IDENTITY ||
                           (n->op == SK_OP_CAST && n->in[0] >= 0 && f->sym.t[n->in[0]].dtype != SK_DT_UNDEF &&
                            f->sym.t[n->in[0]].dtype == sk_dtype_from_onnx((int)sk_node_attr_i(n, "to", 0)));
        if (passthrough && n->out[0] >= 0 && n->in[0] >= 0) {   /* rewire, never copy a constant */
            int before = f->st->identities;
            if ((st = bypass(f, i, n->out[0], n->in[0], &f->st->identities))) break;
            if (f->st->identities != before) continue;
        }
        if ((oi->flags & SK_OPF_FOLDABLE) && all_const && n->n_in > 0) {
            if ((st = eval_node(f, i, &done))) break;
            if (done) { f->st->folded++; continue; }
        }
        if (oi->flags & SK_OPF_FOLDABLE) {
            if ((st = sym_const(f, i, &done))) break;
            if (done) { f->st->shapes++; continue; }
        }
        int x = n->n_in ? n->in[0] : -1, y = n->n_out ? n->out[0] : -1;
        if (x < 0 || y < 0) continue;
        const sk_sym *sx = &f->sym.t[x], *sy = &f->sym.t[y];
        switch (n->op) {
        case SK_OP_DROPOUT:
            if (n->n_out < 2 || n->out[1] < 0 || !read_by_any(f, n->out[1])) st = bypass(f, i, y, x, &f->st->identities);
            break;
        case SK_OP_TRANSPOSE: {
            int64_t p[SK_MAX_RANK], q[SK_MAX_RANK];
            if (!perm_of(n, sx->rank, p)) break;
            int inner = sk_rw_def(&f->rw, x, SK_OP_TRANSPOSE);
            if (inner >= 0 && perm_of(&g->nodes[inner], f->sym.t[g->nodes[inner].in[0]].rank, q) &&
                f->sym.t[g->nodes[inner].in[0]].rank == sx->rank) {
                int64_t c[SK_MAX_RANK];
                for (int d = 0; d < sx->rank; d++) c[d] = q[p[d]];
                n->in[0] = x = g->nodes[inner].in[0];
                if ((st = sk_node_set_ints(n, "perm", c, sx->rank))) break;
                memcpy(p, c, sizeof c);
                f->st->transposes++;
                f->changed = true;
            }
            bool ident = true;
            for (int d = 0; d < sx->rank; d++) ident &= p[d] == d;
            if (ident) st = bypass(f, i, y, x, &f->st->transposes);
            break;
        }
        default:
            break;
        }
        if (st || f->rw.dead[i]) continue;
        if (!(oi->flags & SK_OPF_VIEW)) continue;
        /* views: a no-op (same dims as its input) goes; a Reshape reads through earlier views */
        if (sx->rank >= 0 && sk_sym_same_dims(sx, sy)) {
            st = bypass(f, i, y, x, &f->st->reshapes);
            continue;
        }
        int v = f->rw.prod[x];
        /* only when this Reshape is the view's one reader: then the view goes (else nothing is saved) */
        if (!f->chains || n->op != SK_OP_RESHAPE || v < 0 || f->rw.dead[v] || !(sk_op_get(g->nodes[v].op)->flags & SK_OPF_VIEW) ||
            sk_rw_uses(&f->rw, x) != 1)
            continue;
        const sk_sym *sh = &f->sym.t[n->in[1]];
        bool allowzero = sk_node_attr_i(n, "allowzero", 0) != 0, ok = sh->nval >= 0;
        for (int k = 0; ok && k < sh->nval; k++) ok = allowzero || sh->val[k].c != 0;
        if (!ok) continue;
        n->in[0] = g->nodes[v].in[0];
        f->st->reshapes++;
        f->changed = true;
    }
    return st;
}

sk_status sk_fold_graph(sk_model *m, bool chains, sk_fold_stats *stats)
{
    sk_fold_stats local = {0};
    folder f = {.m = m, .st = stats ? stats : &local, .chains = chains};
    sk_status st = sk_rw_init(&f.rw, m);
    if (!st && !(f.pool = sk_pool_new(1))) st = SK_ERR_NOMEM;
    if (!st) st = matmul_transpose(&f);
    for (int round = 0; !st && round < 32; round++) {
        f.changed = false;
        f.killed = 0;
        if ((st = sk_sym_infer(&m->g, &f.sym)) || (st = sweep(&f))) break;
        int removed = 0;
        if ((st = sk_rw_commit(&f.rw, &removed))) break;
        f.st->dead += removed - f.killed;
        if (!f.changed && removed == 0) break;
    }
    sk_sym_free(&f.sym);
    sk_rw_free(&f.rw);
    sk_pool_free(f.pool);
    return st;
}

/* ---- the pass ---- */
static sk_status fold_run(sk_pass_ctx *c, sk_model *m)
{
    sk_fold_stats s = {0};
    int before = m->g.n_nodes, tensors = m->g.n_tensors;
    sk_status st = sk_fold_graph(m, true, &s);
    if (st) return st;
    c->note(c, "%d nodes -> %d, %d tensors -> %d", before, m->g.n_nodes, tensors, m->g.n_tensors);
    c->note(c, "constants: %d nodes evaluated, %d shape values known for any input", s.folded, s.shapes);
    c->note(c, "removed: %d Identity/Dropout/Cast, %d Reshape (chains, no-ops), %d Transpose (merged, into MatMul), "
               "%d dead nodes", s.identities, s.reshapes, s.transposes, s.dead);
    return SK_OK;
}

const struct sk_pass sk_pass_fold = {
    .api_version = SK_PASS_API_VERSION,
    .name = "fold",
    .summary = "constant folding, Identity/Dropout/no-op removal, Reshape and Transpose chains, dead code",
    .params = NULL,
    .run = fold_run,
};
