/* rewrite.c — editing a graph in place for the rewriting passes: who
 * produces and who reads each tensor, killing and placing nodes, forwarding
 * a tensor to another, and the commit that drops dead code, restores a
 * topological order and compacts the ids (rewrite.h).
 *
 * The commit's order is stable: nodes keep their relative order except
 * where a new node must move before the readers of its outputs, and a node
 * that replaces another (sk_rw_place) is ordered where that one was, so a
 * rewritten graph reads like the original and memory planning sees the same
 * lifetimes.  Nothing here decides what to rewrite.
 */
#include <stdio.h>
#include <string.h>
#include "rewrite.h"

static void index_free(sk_rw *rw)
{
    sk_free(rw->prod);
    sk_free(rw->cons_at);
    sk_free(rw->cons);
    sk_free(rw->is_out);
    rw->prod = rw->cons_at = rw->cons = NULL;
    rw->is_out = NULL;
}

static sk_status index_build(sk_rw *rw)
{
    const sk_graph *g = &rw->m->g;
    index_free(rw);
    int nt = g->n_tensors, nn = g->n_nodes;
    rw->n_tensors = nt;
    rw->n_nodes = nn;
    rw->prod = sk_malloc((size_t)(nt + 1) * sizeof *rw->prod);
    rw->cons_at = sk_calloc((size_t)nt + 2, sizeof *rw->cons_at);
    rw->is_out = sk_calloc((size_t)nt + 1, sizeof *rw->is_out);
    size_t slots = 0;
    for (int i = 0; i < nn; i++) slots += (size_t)g->nodes[i].n_in;
    rw->cons = sk_malloc((slots + 1) * sizeof *rw->cons);
    if (!rw->prod || !rw->cons_at || !rw->is_out || !rw->cons) return SK_ERR_NOMEM;
    for (int t = 0; t < nt; t++) rw->prod[t] = -1;
    for (int i = 0; i < nn; i++) {
        const sk_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) rw->prod[n->out[k]] = i;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) rw->cons_at[n->in[k] + 1]++;
    }
    for (int t = 0; t < nt; t++) rw->cons_at[t + 1] += rw->cons_at[t];
    int *fill = sk_calloc((size_t)nt + 1, sizeof *fill);
    if (!fill) return SK_ERR_NOMEM;
    for (int i = 0; i < nn; i++) {
        const sk_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) rw->cons[rw->cons_at[n->in[k]] + fill[n->in[k]]++] = i;
    }
    sk_free(fill);
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] >= 0 && g->outputs[i] < nt) rw->is_out[g->outputs[i]] = true;
    if (sk_grow((void **)&rw->dead, &rw->cap, nn + 1, sizeof *rw->dead)) return SK_ERR_NOMEM;
    int cap = rw->cap;
    int *pr = sk_realloc(rw->prio, (size_t)cap * sizeof *pr);
    if (!pr) return SK_ERR_NOMEM;
    rw->prio = pr;
    for (int i = 0; i < rw->cap; i++) { rw->dead[i] = false; rw->prio[i] = i; }   /* ids past nn: nodes to come */
    return SK_OK;
}

sk_status sk_rw_init(sk_rw *rw, sk_model *m)
{
    memset(rw, 0, sizeof *rw);
    rw->m = m;
    return index_build(rw);
}

void sk_rw_free(sk_rw *rw)
{
    index_free(rw);
    sk_free(rw->dead);
    sk_free(rw->prio);
    memset(rw, 0, sizeof *rw);
}

const int *sk_rw_cons(const sk_rw *rw, int t, int *n)
{
    if (t < 0 || t >= rw->n_tensors) { *n = 0; return NULL; }
    *n = rw->cons_at[t + 1] - rw->cons_at[t];
    return rw->cons + rw->cons_at[t];
}

int sk_rw_uses(const sk_rw *rw, int t)
{
    int n, u = 0;
    const int *c = sk_rw_cons(rw, t, &n);
    for (int i = 0; i < n; i++)
        if (!rw->dead[c[i]]) u++;
    return u + (t >= 0 && t < rw->n_tensors && rw->is_out[t]);
}

int sk_rw_def(const sk_rw *rw, int t, sk_op op)
{
    if (t < 0 || t >= rw->n_tensors) return -1;
    int p = rw->prod[t];
    return p >= 0 && !rw->dead[p] && rw->m->g.nodes[p].op == op ? p : -1;
}

/* Room in dead/prio for node ids below n. */
static sk_status room(sk_rw *rw, int n)
{
    int old = rw->cap;
    if (sk_grow((void **)&rw->dead, &rw->cap, n + 1, sizeof *rw->dead)) return SK_ERR_NOMEM;
    if (rw->cap != old) {
        int *pr = sk_realloc(rw->prio, (size_t)rw->cap * sizeof *pr);
        if (!pr) return SK_ERR_NOMEM;
        rw->prio = pr;
    }
    for (int i = old; i < rw->cap; i++) { rw->dead[i] = false; rw->prio[i] = i; }
    return SK_OK;
}

sk_status sk_rw_kill(sk_rw *rw, int n)
{
    sk_status st = room(rw, n);
    if (!st) rw->dead[n] = true;
    return st;
}

sk_status sk_rw_place(sk_rw *rw, int n, int old)
{
    sk_status st = room(rw, n > old ? n : old);
    if (!st) rw->prio[n] = rw->prio[old];
    return st;
}

bool sk_rw_forward(sk_rw *rw, int from, int to)
{
    sk_graph *g = &rw->m->g;
    if (from == to) return true;
    if (rw->is_out[from]) {
        /* keep the output tensor: whoever writes `to` writes `from` instead */
        int p = to < rw->n_tensors ? rw->prod[to] : -1;
        if (p < 0 || rw->dead[p] || rw->is_out[to] || (g->tensors[to].flags & (SK_TF_INPUT | SK_TF_CONST))) return false;
        sk_node *pn = &g->nodes[p];
        for (int k = 0; k < pn->n_out; k++)
            if (pn->out[k] == to) pn->out[k] = from;
        int n;
        const int *c = sk_rw_cons(rw, to, &n);
        for (int i = 0; i < n; i++) {
            sk_node *cn = &g->nodes[c[i]];
            for (int k = 0; k < cn->n_in; k++)
                if (cn->in[k] == to) cn->in[k] = from;
        }
        /* the old producer of `from` (the node being bypassed) no longer writes it */
        int q = rw->prod[from];
        if (q >= 0) {
            sk_node *qn = &g->nodes[q];
            for (int k = 0; k < qn->n_out; k++)
                if (qn->out[k] == from) qn->out[k] = -1;
        }
        rw->prod[from] = p;
        rw->prod[to] = -1;
        return true;
    }
    int n;
    const int *c = sk_rw_cons(rw, from, &n);
    for (int i = 0; i < n; i++) {
        sk_node *cn = &g->nodes[c[i]];
        if (rw->dead[c[i]]) continue;
        for (int k = 0; k < cn->n_in; k++)
            if (cn->in[k] == from) cn->in[k] = to;
    }
    return true;
}

bool sk_rw_needed(const sk_rw *rw, int t, const bool *in_set)
{
    const sk_graph *g = &rw->m->g;
    if (rw->is_out[t]) return true;
    int nn = rw->n_nodes;
    bool *seen = sk_calloc((size_t)nn + 1, 1);
    int *stack = sk_malloc((size_t)(nn + 1) * sizeof *stack);
    if (!seen || !stack) { sk_free(seen); sk_free(stack); return true; }   /* cannot tell: assume needed */
    int sp = 0, n;
    bool needed = false;
    const int *c = sk_rw_cons(rw, t, &n);
    for (int i = 0; i < n; i++)
        if (!rw->dead[c[i]] && !in_set[c[i]] && !seen[c[i]]) { seen[c[i]] = true; stack[sp++] = c[i]; }
    while (sp && !needed) {
        const sk_node *nd = &g->nodes[stack[--sp]];
        for (int k = 0; k < nd->n_out && !needed; k++) {
            int o = nd->out[k];
            if (o < 0) continue;
            if (rw->is_out[o]) { needed = true; break; }
            const int *cc = sk_rw_cons(rw, o, &n);
            for (int i = 0; i < n; i++)
                if (!rw->dead[cc[i]] && !in_set[cc[i]] && !seen[cc[i]]) { seen[cc[i]] = true; stack[sp++] = cc[i]; }
        }
    }
    sk_free(seen);
    sk_free(stack);
    return needed;
}

/* ---- commit ---- */
static void node_free(sk_node *n)
{
    sk_free(n->name);
    sk_free(n->in);
    sk_free(n->out);
    for (int a = 0; a < n->n_attrs; a++) {
        sk_free(n->attrs[a].name);
        sk_free(n->attrs[a].s);
        sk_free(n->attrs[a].ints);
        sk_free(n->attrs[a].floats);
    }
    sk_free(n->attrs);
}

/* binary min-heap of node ids by (prio, id) */
typedef struct heap { int *v; int n; const int *prio; } heap;

static bool before(const heap *h, int a, int b)
{
    return h->prio[a] != h->prio[b] ? h->prio[a] < h->prio[b] : a < b;
}

static void heap_push(heap *h, int x)
{
    int i = h->n++;
    h->v[i] = x;
    while (i && before(h, h->v[i], h->v[(i - 1) / 2])) {
        int p = (i - 1) / 2, t = h->v[p];
        h->v[p] = h->v[i];
        h->v[i] = t;
        i = p;
    }
}

static int heap_pop(heap *h)
{
    int top = h->v[0];
    h->v[0] = h->v[--h->n];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && before(h, h->v[l], h->v[m])) m = l;
        if (r < h->n && before(h, h->v[r], h->v[m])) m = r;
        if (m == i) break;
        int t = h->v[m];
        h->v[m] = h->v[i];
        h->v[i] = t;
        i = m;
    }
    return top;
}

/* Keep the live nodes (not killed, and some graph output depends on them) in
 * a stable topological order. */
static sk_status order_nodes(sk_rw *rw, int *removed)
{
    sk_graph *g = &rw->m->g;
    int nn = g->n_nodes, nt = g->n_tensors;
    sk_status st = room(rw, nn);
    if (st) return st;
    int *prod = sk_malloc((size_t)(nt + 1) * sizeof *prod);
    bool *live = sk_calloc((size_t)nn + 1, 1), *need = sk_calloc((size_t)nt + 1, 1);
    int *waiting = sk_calloc((size_t)nn + 1, sizeof *waiting), *order = sk_malloc((size_t)(nn + 1) * sizeof *order);
    int *cat = sk_calloc((size_t)nt + 2, sizeof *cat), *cons = NULL;
    heap h = {sk_malloc((size_t)(nn + 1) * sizeof(int)), 0, rw->prio};
    if (!prod || !live || !need || !waiting || !order || !cat || !h.v) { st = SK_ERR_NOMEM; goto out; }
    for (int t = 0; t < nt; t++) prod[t] = -1;
    for (int i = 0; i < nn; i++)
        if (!rw->dead[i])
            for (int k = 0; k < g->nodes[i].n_out; k++)
                if (g->nodes[i].out[k] >= 0) prod[g->nodes[i].out[k]] = i;
    /* liveness: from the graph outputs backwards (a worklist over tensors) */
    int *work = sk_malloc((size_t)(nt + 1) * sizeof *work), nw = 0;
    if (!work) { st = SK_ERR_NOMEM; goto out; }
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] >= 0 && !need[g->outputs[i]]) { need[g->outputs[i]] = true; work[nw++] = g->outputs[i]; }
    while (nw) {
        int t = work[--nw], p = prod[t];
        if (p < 0 || live[p]) continue;
        live[p] = true;
        for (int k = 0; k < g->nodes[p].n_in; k++) {
            int u = g->nodes[p].in[k];
            if (u >= 0 && !need[u]) { need[u] = true; work[nw++] = u; }
        }
    }
    sk_free(work);
    /* Kahn over the live nodes */
    for (int i = 0; i < nn; i++) {
        if (!live[i]) continue;
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int u = g->nodes[i].in[k];
            if (u >= 0 && prod[u] >= 0 && live[prod[u]]) { waiting[i]++; cat[u + 1]++; }
        }
    }
    for (int t = 0; t < nt; t++) cat[t + 1] += cat[t];
    cons = sk_malloc((size_t)(cat[nt] + 1) * sizeof *cons);
    int *fill = sk_calloc((size_t)nt + 1, sizeof *fill);
    if (!cons || !fill) { sk_free(fill); st = SK_ERR_NOMEM; goto out; }
    for (int i = 0; i < nn; i++) {
        if (!live[i]) continue;
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            int u = g->nodes[i].in[k];
            if (u >= 0 && prod[u] >= 0 && live[prod[u]]) cons[cat[u] + fill[u]++] = i;
        }
    }
    sk_free(fill);
    int n_live = 0, n_done = 0;
    for (int i = 0; i < nn; i++) {
        if (!live[i]) continue;
        n_live++;
        if (!waiting[i]) heap_push(&h, i);
    }
    while (h.n) {
        int i = heap_pop(&h);
        order[n_done++] = i;
        for (int k = 0; k < g->nodes[i].n_out; k++) {
            int o = g->nodes[i].out[k];
            if (o < 0) continue;
            for (int j = cat[o]; j < cat[o + 1]; j++)
                if (--waiting[cons[j]] == 0) heap_push(&h, cons[j]);
        }
    }
    SK_ASSERT(n_done == n_live);   /* a rewrite made a cycle: a bug of the pass */
    sk_node *nodes = sk_malloc((size_t)(g->cap_nodes > 0 ? g->cap_nodes : 1) * sizeof *nodes);
    if (!nodes) { st = SK_ERR_NOMEM; goto out; }
    for (int i = 0; i < n_done; i++) nodes[i] = g->nodes[order[i]];
    for (int i = 0; i < nn; i++)
        if (!live[i]) node_free(&g->nodes[i]);
    sk_free(g->nodes);
    g->nodes = nodes;
    g->n_nodes = n_done;
    if (removed) *removed += nn - n_live;
out:
    sk_free(prod);
    sk_free(live);
    sk_free(need);
    sk_free(waiting);
    sk_free(order);
    sk_free(cat);
    sk_free(cons);
    sk_free(h.v);
    return st;
}

/* Drop tensors no node, graph input or output, or quantization parameter
 * refers to; renumber the rest in their old order. */
static sk_status compact_tensors(sk_rw *rw)
{
    sk_graph *g = &rw->m->g;
    int nt = g->n_tensors;
    int *map = sk_malloc((size_t)(nt + 1) * sizeof *map);
    bool *used = sk_calloc((size_t)nt + 1, 1);
    if (!map || !used) { sk_free(map); sk_free(used); return SK_ERR_NOMEM; }
    for (int i = 0; i < g->n_nodes; i++) {
        const sk_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) if (n->in[k] >= 0) used[n->in[k]] = true;
        for (int k = 0; k < n->n_out; k++) if (n->out[k] >= 0) used[n->out[k]] = true;
    }
    for (int i = 0; i < g->n_inputs; i++) used[g->inputs[i]] = true;
    for (int i = 0; i < g->n_outputs; i++) used[g->outputs[i]] = true;
    for (int t = 0; t < nt; t++) {
        const sk_quant *q = g->tensors[t].quant;
        if (!used[t] || !q) continue;
        if (q->scales >= 0) used[q->scales] = true;
        if (q->zeros >= 0) used[q->zeros] = true;
    }
    int k = 0;
    for (int t = 0; t < nt; t++) {
        if (!used[t]) {
            sk_tensor *x = &g->tensors[t];
            sk_free(x->name);
            for (int d = 0; d < SK_MAX_RANK; d++) sk_free(x->dim_names[d]);
            if (x->flags & SK_TF_OWNED) sk_free(x->data);
            sk_free(x->quant);
            map[t] = -1;
            continue;
        }
        map[t] = k;
        if (k != t) g->tensors[k] = g->tensors[t];
        k++;
    }
    g->n_tensors = k;
    for (int i = 0; i < g->n_nodes; i++) {
        sk_node *n = &g->nodes[i];
        for (int j = 0; j < n->n_in; j++) if (n->in[j] >= 0) n->in[j] = map[n->in[j]];
        for (int j = 0; j < n->n_out; j++) if (n->out[j] >= 0) n->out[j] = map[n->out[j]];
    }
    for (int i = 0; i < g->n_inputs; i++) g->inputs[i] = map[g->inputs[i]];
    for (int i = 0; i < g->n_outputs; i++) g->outputs[i] = map[g->outputs[i]];
    for (int t = 0; t < k; t++) {
        sk_quant *q = g->tensors[t].quant;
        if (!q) continue;
        if (q->scales >= 0) q->scales = map[q->scales];
        if (q->zeros >= 0) q->zeros = map[q->zeros];
    }
    sk_free(map);
    sk_free(used);
    return SK_OK;
}

sk_status sk_rw_commit(sk_rw *rw, int *removed)
{
    sk_status st = order_nodes(rw, removed);
    if (!st) st = compact_tensors(rw);
    if (!st) st = index_build(rw);
    return st;
}

/* ---- new tensors ---- */
static char *unique_name(const sk_graph *g, const char *base, const char *suffix)
{
    size_t len = strlen(base) + strlen(suffix) + 24;
    char *s = sk_malloc(len);
    if (!s) return NULL;
    snprintf(s, len, "%s.%s", base, suffix);
    for (int i = 2; sk_graph_find_tensor(g, s) >= 0; i++) snprintf(s, len, "%s.%s%d", base, suffix, i);
    return s;
}

static int add_const(sk_model *m, const char *base, const char *suffix, sk_dtype dt, int rank, const int64_t *dims,
                     const void *v, size_t esz)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    void *data = sk_malloc((size_t)(n ? n : 1) * esz);
    char *name = unique_name(&m->g, base, suffix);
    if (!data || !name) { sk_free(data); sk_free(name); return -1; }
    if (n) memcpy(data, v, (size_t)n * esz);
    int id = sk_graph_add_const(&m->g, name, dt, rank, dims, data, true);
    sk_free(name);
    return id;
}

int sk_rw_const_f32(sk_model *m, const char *base, const char *suffix, int rank, const int64_t *dims, const float *v)
{
    return add_const(m, base, suffix, SK_DT_F32, rank, dims, v, sizeof *v);
}

int sk_rw_const_i64(sk_model *m, const char *base, const char *suffix, int rank, const int64_t *dims, const int64_t *v)
{
    return add_const(m, base, suffix, SK_DT_I64, rank, dims, v, sizeof *v);
}

int sk_rw_tensor(sk_model *m, const char *base, const char *suffix, const sk_sym *sym)
{
    char *name = unique_name(&m->g, base, suffix);
    if (!name) return -1;
    int64_t dims[SK_MAX_RANK];
    int rank = sym ? sym->rank : -1;
    for (int i = 0; i < rank; i++)
        if (!sk_mono_const(&sym->dims[i], &dims[i])) dims[i] = -1;
    int id = sk_graph_add_tensor(&m->g, name, sym ? sym->dtype : SK_DT_UNDEF, rank, dims);
    sk_free(name);
    return id;
}

bool sk_rw_scalar(const sk_graph *g, int t, double *v)
{
    if (t < 0) return false;
    const sk_tensor *x = &g->tensors[t];
    if (!(x->flags & SK_TF_CONST) || !x->data || sk_tensor_numel(x) != 1) return false;
    switch (x->dtype) {
    case SK_DT_F32: case SK_DT_F16: case SK_DT_BF16: {
        float f;
        sk_to_f32(x->dtype, x->data, &f, 1);
        *v = f;
        return true;
    }
    case SK_DT_F64: memcpy(v, x->data, sizeof *v); return true;
    case SK_DT_I64: case SK_DT_I32: case SK_DT_I16: case SK_DT_I8: case SK_DT_U8: case SK_DT_BOOL: {
        sk_rtensor r = {.dtype = x->dtype, .data = x->data};
        *v = (double)sk_rt_get_i(&r, 0);
        return true;
    }
    default: return false;
    }
}

bool sk_rw_ints(const sk_graph *g, const sk_node *n, const char *attr, int idx, int64_t *v, int max, int *cnt)
{
    const sk_attr *a = attr ? sk_node_attr(n, attr) : NULL;
    if (a && a->type == SK_ATTR_INTS) {
        if (a->n > max) return false;
        for (int i = 0; i < a->n; i++) v[i] = a->ints[i];
        *cnt = a->n;
        return true;
    }
    if (idx < 0 || idx >= n->n_in || n->in[idx] < 0) return false;
    const sk_tensor *t = &g->tensors[n->in[idx]];
    int64_t k = sk_tensor_numel(t);
    if (!(t->flags & SK_TF_CONST) || t->rank > 1 || k < 0 || k > max || (k && !t->data)) return false;
    sk_rtensor r = {.dtype = t->dtype, .data = t->data};
    if (t->dtype != SK_DT_I64 && t->dtype != SK_DT_I32 && t->dtype != SK_DT_I16 && t->dtype != SK_DT_I8 &&
        t->dtype != SK_DT_U8)
        return false;
    for (int64_t i = 0; i < k; i++) v[i] = sk_rt_get_i(&r, i);
    *cnt = (int)k;
    return true;
}
