/* session.c — plan and execute a model for fixed input shapes.
 *
 * Planning walks the nodes in order: each node's shape function gives its
 * output shapes; a foldable node whose inputs are all known at plan time
 * (weights, Shape of a known tensor, ...) is executed right there and its
 * outputs become constants, so ONNX shape subgraphs cost nothing at run time.
 * The remaining activations get offsets in one arena by liveness: two tensors
 * share bytes only if their lifetimes [producer, last consumer] are disjoint.
 * Running then copies the bound inputs in and calls the live kernels in order.
 * A change of input shapes re-plans.
 *
 * A run can also be cut at a node and continued later, in another session on
 * the same model (staged calibration, src/eval/calib.c): what crosses the cut
 * is exactly the activations whose lifetime spans it, and liveness already
 * keeps their bytes intact until their last reader, so saving them, loading
 * them into a fresh plan and running the nodes from the cut on computes what
 * the whole run would have.
 */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/runtime.h"

void openblas_set_num_threads(int);

typedef struct rnode {       /* a node of the plan */
    int node;                /* index in the graph */
    sk_rtensor **in, **out;  /* views into the session's tensor array */
    size_t scratch_need;
} rnode;

typedef struct rinput {      /* a graph input and what the caller bound to it */
    int tid;
    bool bound;
    sk_dtype dt;             /* caller's dtype */
    int rank;
    int64_t dims[SK_MAX_RANK];
    const void *data;
    int fill;                /* default when unbound: 0 none, 1 ones, 2 zeros, 3 positions */
} rinput;

struct sk_session {
    const sk_model *m;
    const sk_graph *g;
    sk_session_opts o;
    sk_pool *pool;
    sk_rtensor *rt;          /* one per graph tensor */
    rinput *inputs;          /* one per graph input */
    bool planned;
    rnode *plan; int n_plan;
    sk_rtensor **ptrs;       /* storage for rnode in/out arrays */
    void **folded; int n_folded, cap_folded;   /* buffers of plan-time constants */
    void **inbuf;            /* per graph input: converted input data */
    uint8_t *arena; size_t arena_bytes;
    int *def, *last;         /* per tensor: plan index of its producer / last reader (-1: none) */
    void *scratch; size_t scratch_bytes;
    void **state;            /* per graph node */
    int64_t past;
    sk_session_observer obs; /* calibration hook (sk_session_set_observer) */
    void *obs_ctx;
    int stop;                /* last node to run, -1 = all */
    const uint8_t *skip;     /* per node: observe only, do not execute (sk_session_set_skip) */
};

static const char *in_name(const sk_session *s, const rinput *ri) { return s->g->tensors[ri->tid].name; }

sk_status sk_session_new(const sk_model *m, const sk_session_opts *o, sk_session **out)
{
    *out = NULL;
    sk_session *s = sk_calloc(1, sizeof *s);
    if (!s) return SK_ERR_NOMEM;
    s->m = m;
    s->g = &m->g;
    s->stop = -1;
    if (o) s->o = *o;
    if (s->o.threads <= 0) s->o.threads = sk_default_threads();
    if (s->o.max_pos <= 0) s->o.max_pos = m->arch.max_pos > 0 ? m->arch.max_pos : 1024;
    const sk_graph *g = s->g;
    s->rt = sk_calloc((size_t)g->n_tensors + 1, sizeof *s->rt);
    s->inputs = sk_calloc((size_t)g->n_inputs + 1, sizeof *s->inputs);
    s->inbuf = sk_calloc((size_t)g->n_inputs + 1, sizeof *s->inbuf);
    s->state = sk_calloc((size_t)g->n_nodes + 1, sizeof *s->state);
    s->pool = sk_pool_new(s->o.threads);
    if (!s->rt || !s->inputs || !s->inbuf || !s->state || !s->pool) {
        sk_session_free(s);
        return SK_ERR_NOMEM;
    }
    for (int i = 0; i < g->n_inputs; i++) {
        rinput *ri = &s->inputs[i];
        ri->tid = g->inputs[i];
        const char *nm = g->tensors[ri->tid].name;
        if (!strcmp(nm, "attention_mask")) ri->fill = 1;
        else if (!strcmp(nm, "token_type_ids")) ri->fill = 2;
        else if (!strcmp(nm, "position_ids")) ri->fill = 3;
    }
    /* kernels split BLAS calls across our pool (sk_sgemm_pool): OpenBLAS itself runs one thread */
    openblas_set_num_threads(1);
    *out = s;
    return SK_OK;
}

static void unplan(sk_session *s)
{
    for (int i = 0; i < s->n_folded; i++) sk_free(s->folded[i]);
    sk_free(s->folded);
    s->folded = NULL;
    s->n_folded = s->cap_folded = 0;
    for (int i = 0; i < s->g->n_inputs; i++) { sk_free(s->inbuf[i]); s->inbuf[i] = NULL; }
    sk_free(s->plan);
    sk_free(s->ptrs);
    sk_free(s->def);
    sk_free(s->last);
    s->def = s->last = NULL;
    sk_free(s->arena);
    sk_free(s->scratch);
    s->plan = NULL;
    s->ptrs = NULL;
    s->arena = NULL;
    s->scratch = NULL;
    s->n_plan = 0;
    s->arena_bytes = s->scratch_bytes = 0;
    s->planned = false;
}

void sk_session_free(sk_session *s)
{
    if (!s) return;
    unplan(s);
    if (s->state)
        for (int i = 0; i < s->g->n_nodes; i++) sk_free(s->state[i]);
    sk_free(s->state);
    sk_free(s->inbuf);
    sk_free(s->inputs);
    sk_free(s->rt);
    sk_pool_free(s->pool);
    sk_free(s);
}

sk_status sk_session_set_input(sk_session *s, const char *name, sk_dtype dt, int rank, const int64_t *dims,
                               const void *data)
{
    for (int i = 0; i < s->g->n_inputs; i++) {
        rinput *ri = &s->inputs[i];
        if (strcmp(in_name(s, ri), name) != 0) continue;
        if (rank < 0 || rank > SK_MAX_RANK) return sk_err(SK_ERR_INVALID, "input '%s': bad rank %d", name, rank);
        bool same = ri->bound && ri->rank == rank && ri->dt == dt;
        for (int d = 0; d < rank; d++) {
            if (dims[d] < 0) return sk_err(SK_ERR_INVALID, "input '%s': negative dim", name);
            if (same && ri->dims[d] != dims[d]) same = false;
            ri->dims[d] = dims[d];
        }
        if (!same) s->planned = false;
        ri->bound = true;
        ri->dt = dt;
        ri->rank = rank;
        ri->data = data;
        return SK_OK;
    }
    char list[512] = "";
    for (int i = 0; i < s->g->n_inputs; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", in_name(s, &s->inputs[i]));
    }
    return sk_err(SK_ERR_INVALID, "model has no input '%s' (inputs: %s)", name, list);
}

/* The [B, S] of the first bound rank-2 input (input_ids), for defaults. */
static bool batch_seq(const sk_session *s, int64_t *b, int64_t *sq)
{
    for (int i = 0; i < s->g->n_inputs; i++) {
        const rinput *ri = &s->inputs[i];
        if (ri->bound && ri->rank == 2) { *b = ri->dims[0]; *sq = ri->dims[1]; return true; }
    }
    return false;
}

static sk_status track_folded(sk_session *s, void *p)
{
    if (sk_grow((void **)&s->folded, &s->cap_folded, s->n_folded + 1, sizeof *s->folded)) { sk_free(p); return SK_ERR_NOMEM; }
    s->folded[s->n_folded++] = p;
    return SK_OK;
}

/* Set the shape and an input buffer of every graph input. */
static sk_status plan_inputs(sk_session *s)
{
    for (int i = 0; i < s->g->n_inputs; i++) {
        rinput *ri = &s->inputs[i];
        const sk_tensor *t = &s->g->tensors[ri->tid];
        sk_rtensor *r = &s->rt[ri->tid];
        if (t->flags & SK_TF_CONST) continue;   /* an input with a default initializer */
        int64_t dims[SK_MAX_RANK];
        int rank;
        if (ri->bound) {
            rank = ri->rank;
            memcpy(dims, ri->dims, sizeof dims);
        } else if (ri->fill) {
            int64_t b, sq;
            if (!batch_seq(s, &b, &sq))
                return sk_err(SK_ERR_INVALID, "input '%s' is not bound and there is no [batch, seq] input to size it",
                              t->name);
            rank = 2;
            dims[0] = b;
            dims[1] = sq;
        } else {
            return sk_err(SK_ERR_INVALID, "input '%s' is not bound", t->name);
        }
        if (t->rank >= 0 && t->rank != rank)
            return sk_err(SK_ERR_INVALID, "input '%s': rank %d given, model expects %d", t->name, rank, t->rank);
        for (int d = 0; d < rank && t->rank >= 0; d++)
            if (t->dims[d] >= 0 && t->dims[d] != dims[d])
                return sk_err(SK_ERR_INVALID, "input '%s': dim %d is %lld, model expects %lld", t->name, d,
                              (long long)dims[d], (long long)t->dims[d]);
        sk_dtype dt = t->dtype != SK_DT_UNDEF ? t->dtype : ri->dt;
        sk_rt_set_shape(r, dt, rank, dims);
        if (!sk_dtype_nbytes(dt, sk_rt_numel(r), &r->nbytes))
            return sk_err(SK_ERR_INVALID, "input '%s': too large", t->name);
        s->inbuf[i] = sk_aligned_alloc(64, r->nbytes);
        if (!s->inbuf[i]) return SK_ERR_NOMEM;
        r->data = s->inbuf[i];
        r->is_const = false;
    }
    return SK_OK;
}

static void kctx_init(sk_session *s, sk_kctx *k, const sk_node *n, sk_rtensor **in, sk_rtensor **out)
{
    memset(k, 0, sizeof *k);
    k->s = s;
    k->g = s->g;
    k->node = n;
    k->in = in;
    k->n_in = n->n_in;
    k->out = out;
    k->n_out = n->n_out;
    k->pool = s->pool;
    k->kv_cache = s->o.kv_cache;
    k->past = s->past;
    k->max_pos = s->o.max_pos;
}

typedef struct { int def, last; size_t size, off; int tid; } interval;

static int by_size_desc(const void *a, const void *b)
{
    const interval *x = a, *y = b;
    return x->size < y->size ? 1 : x->size > y->size ? -1 : x->tid - y->tid;
}

/* Give every live activation an offset in one arena (greedy by size). */
static sk_status plan_memory(sk_session *s, const int *def, const int *last)
{
    const sk_graph *g = s->g;
    interval *iv = sk_malloc((size_t)(g->n_tensors + 1) * sizeof *iv);
    if (!iv) return SK_ERR_NOMEM;
    int n = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        if (def[t] < 0 || s->rt[t].is_const) continue;
        iv[n].def = def[t];
        iv[n].last = last[t] < def[t] ? def[t] : last[t];
        iv[n].size = (s->rt[t].nbytes + 63) & ~(size_t)63;
        iv[n].tid = t;
        n++;
    }
    qsort(iv, (size_t)n, sizeof *iv, by_size_desc);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t off = 0;
        bool moved = true;
        while (moved) {   /* first fit among the already placed, lifetime-overlapping tensors */
            moved = false;
            for (int j = 0; j < i; j++) {
                if (iv[j].last < iv[i].def || iv[i].last < iv[j].def) continue;
                if (off < iv[j].off + iv[j].size && iv[j].off < off + iv[i].size) {
                    off = iv[j].off + iv[j].size;
                    moved = true;
                }
            }
        }
        iv[i].off = off;
        if (off + iv[i].size > total) total = off + iv[i].size;
    }
    s->arena = sk_aligned_alloc(64, total ? total : 64);
    if (!s->arena) { sk_free(iv); return SK_ERR_NOMEM; }
    s->arena_bytes = total;
    for (int i = 0; i < n; i++) s->rt[iv[i].tid].data = s->arena + iv[i].off;
    sk_free(iv);
    return SK_OK;
}

static sk_status plan(sk_session *s)
{
    const sk_graph *g = s->g;
    unplan(s);
    for (int t = 0; t < g->n_tensors; t++) {
        const sk_tensor *gt = &g->tensors[t];
        sk_rtensor *r = &s->rt[t];
        memset(r, 0, sizeof *r);
        if (gt->flags & SK_TF_CONST) {
            sk_rt_set_shape(r, gt->dtype, gt->rank, gt->dims);
            r->data = gt->data;
            r->nbytes = gt->nbytes;
            r->is_const = true;
        }
    }
    sk_status st = plan_inputs(s);
    if (st) return st;

    int *def = s->def = sk_malloc((size_t)(g->n_tensors + 1) * sizeof(int));
    int *last = s->last = sk_malloc((size_t)(g->n_tensors + 1) * sizeof(int));
    size_t nptr = 0;
    for (int i = 0; i < g->n_nodes; i++) nptr += (size_t)(g->nodes[i].n_in + g->nodes[i].n_out);
    s->plan = sk_calloc((size_t)g->n_nodes + 1, sizeof *s->plan);
    s->ptrs = sk_calloc(nptr + 1, sizeof *s->ptrs);
    if (!def || !last || !s->plan || !s->ptrs) { st = SK_ERR_NOMEM; goto done; }
    for (int t = 0; t < g->n_tensors; t++) def[t] = last[t] = -1;

    sk_rtensor **p = s->ptrs;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const sk_node *n = &g->nodes[ni];
        sk_rtensor **in = p, **out = p + n->n_in;
        p += n->n_in + n->n_out;
        bool all_const = true;
        for (int k = 0; k < n->n_in; k++) {
            in[k] = n->in[k] >= 0 ? &s->rt[n->in[k]] : NULL;
            if (in[k] && !in[k]->is_const) all_const = false;
        }
        for (int k = 0; k < n->n_out; k++) out[k] = n->out[k] >= 0 ? &s->rt[n->out[k]] : NULL;
        sk_kctx k;
        kctx_init(s, &k, n, in, out);
        if ((st = sk_shape_table[n->op](&k))) goto done;
        for (int o = 0; o < n->n_out; o++) {
            if (!out[o]) continue;
            if (!sk_dtype_nbytes(out[o]->dtype, sk_rt_numel(out[o]), &out[o]->nbytes)) {
                st = sk_err(SK_ERR_INVALID, "node '%s' (%s): output %d is too large", n->name,
                            sk_op_get(n->op)->name, o);
                goto done;
            }
        }
        bool fold = (sk_op_get(n->op)->flags & SK_OPF_FOLDABLE) && (all_const || n->op == SK_OP_SHAPE);
        if (fold) {   /* evaluate now; the outputs become plan-time constants */
            for (int o = 0; o < n->n_out; o++) {
                if (!out[o]) continue;
                void *buf = sk_aligned_alloc(64, out[o]->nbytes ? out[o]->nbytes : 1);
                if (!buf || (st = track_folded(s, buf))) { st = SK_ERR_NOMEM; goto done; }
                out[o]->data = buf;
            }
            if (k.scratch_need > s->scratch_bytes) {
                sk_free(s->scratch);
                s->scratch = sk_aligned_alloc(64, k.scratch_need);
                if (!s->scratch) { st = SK_ERR_NOMEM; goto done; }
                s->scratch_bytes = k.scratch_need;
            }
            k.scratch = s->scratch;
            k.state = &s->state[ni];
            if ((st = sk_kern_table[n->op](&k))) goto done;
            for (int o = 0; o < n->n_out; o++) if (out[o]) out[o]->is_const = true;
            continue;
        }
        rnode *r = &s->plan[s->n_plan++];
        r->node = ni;
        r->in = in;
        r->out = out;
        r->scratch_need = k.scratch_need;
        for (int kk = 0; kk < n->n_in; kk++) if (n->in[kk] >= 0) last[n->in[kk]] = s->n_plan - 1;
        for (int o = 0; o < n->n_out; o++) if (n->out[o] >= 0) def[n->out[o]] = s->n_plan - 1;
    }
    for (int i = 0; i < g->n_outputs; i++) last[g->outputs[i]] = s->n_plan;   /* outputs live to the end */
    size_t need = 0;
    for (int i = 0; i < s->n_plan; i++) if (s->plan[i].scratch_need > need) need = s->plan[i].scratch_need;
    if (need > s->scratch_bytes) {
        sk_free(s->scratch);
        s->scratch = sk_aligned_alloc(64, need);
        if (!s->scratch) { st = SK_ERR_NOMEM; goto done; }
        s->scratch_bytes = need;
    }
    st = plan_memory(s, def, last);
done:
    if (st) unplan(s);
    else s->planned = true;
    return st;
}

/* Copy (converting) the caller's input data, or the default, into place. */
static sk_status load_inputs(sk_session *s)
{
    for (int i = 0; i < s->g->n_inputs; i++) {
        rinput *ri = &s->inputs[i];
        sk_rtensor *r = &s->rt[ri->tid];
        if (r->is_const) continue;
        int64_t n = sk_rt_numel(r);
        if (!ri->bound) {
            int64_t sq = r->dims[1];
            for (int64_t j = 0; j < n; j++) {
                int64_t v = ri->fill == 1 ? 1 : ri->fill == 3 ? s->past + j % sq : 0;
                if (r->dtype == SK_DT_I64) ((int64_t *)r->data)[j] = v;
                else if (r->dtype == SK_DT_I32) ((int32_t *)r->data)[j] = (int32_t)v;
                else if (r->dtype == SK_DT_F32) ((float *)r->data)[j] = (float)v;
                else return sk_err(SK_ERR_UNSUPPORTED, "input '%s': cannot fill a default of dtype %s",
                                   in_name(s, ri), sk_dtype_info(r->dtype)->name);
            }
            continue;
        }
        if (ri->dt == r->dtype) { memcpy(r->data, ri->data, r->nbytes); continue; }
        bool src_int = ri->dt == SK_DT_I64 || ri->dt == SK_DT_I32 || ri->dt == SK_DT_I16 || ri->dt == SK_DT_I8 ||
                       ri->dt == SK_DT_U8 || ri->dt == SK_DT_BOOL;
        if (r->dtype == SK_DT_F32 && !src_int) {
            sk_to_f32(ri->dt, ri->data, r->data, n);
        } else if (src_int && (r->dtype == SK_DT_I64 || r->dtype == SK_DT_I32 || r->dtype == SK_DT_F32)) {
            sk_rtensor src = {.dtype = ri->dt, .data = (void *)ri->data};
            for (int64_t j = 0; j < n; j++) {
                int64_t v = sk_rt_get_i(&src, j);
                if (r->dtype == SK_DT_I64) ((int64_t *)r->data)[j] = v;
                else if (r->dtype == SK_DT_I32) ((int32_t *)r->data)[j] = (int32_t)v;
                else ((float *)r->data)[j] = (float)v;
            }
        } else {
            return sk_err(SK_ERR_INVALID, "input '%s': got %s, model expects %s", in_name(s, ri),
                          sk_dtype_info(ri->dt)->name, sk_dtype_info(r->dtype)->name);
        }
    }
    return SK_OK;
}

/* The first plan entry at or after graph node `node` (n_plan when none). */
static int plan_at(const sk_session *s, int node)
{
    int lo = 0, hi = s->n_plan;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (s->plan[mid].node < node) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

sk_status sk_session_run_from(sk_session *s, int node)
{
    sk_status st;
    if (node > 0 && !s->planned)
        return sk_err(SK_ERR_INVALID, "session: cannot continue at node %d: the run was not loaded (sk_session_load)", node);
    if (!s->planned && (st = plan(s))) return st;
    if ((st = load_inputs(s))) return st;
    for (int i = node > 0 ? plan_at(s, node) : 0; i < s->n_plan; i++) {
        const rnode *r = &s->plan[i];
        if (s->stop >= 0 && r->node > s->stop) return SK_OK;   /* calibration: the rest is not needed */
        const sk_node *n = &s->g->nodes[r->node];
        sk_kctx k;
        kctx_init(s, &k, n, r->in, r->out);
        k.scratch = s->scratch;
        k.scratch_need = r->scratch_need;
        k.state = &s->state[r->node];
        if (s->skip && s->skip[r->node]) {   /* calibration wants its inputs only */
            if (s->obs) s->obs(s->obs_ctx, r->node, &k);
            continue;
        }
        if ((st = sk_kern_table[n->op](&k))) return st;
        if (s->obs) s->obs(s->obs_ctx, r->node, &k);
    }
    if (s->o.kv_cache) {
        int64_t b, sq;
        if (batch_seq(s, &b, &sq)) s->past += sq;
    }
    return SK_OK;
}

sk_status sk_session_run(sk_session *s) { return sk_session_run_from(s, 0); }

/* Saved values: a header of n, then (tid, nbytes) n times, then the data of each, 64-aligned. */
typedef struct { int64_t tid, nbytes; } live_head;

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Does tensor t cross the cut before plan entry p: written before it, read at or after it? */
static bool crosses(const sk_session *s, int t, int p)
{
    return !s->rt[t].is_const && s->def[t] >= 0 && s->def[t] < p && s->last[t] >= p;
}

sk_status sk_session_save(const sk_session *s, int node, void **buf, size_t *n, size_t *cap)
{
    if (!s->planned) return sk_err(SK_ERR_INVALID, "session: nothing to save at node %d: no run yet", node);
    int p = plan_at(s, node), cnt = 0;
    size_t bytes = 0;
    for (int t = 0; t < s->g->n_tensors; t++)
        if (crosses(s, t, p)) cnt++, bytes += align64(s->rt[t].nbytes);
    size_t head = align64(sizeof(int64_t) + (size_t)cnt * sizeof(live_head));
    if (head + bytes > *cap) {
        void *nb = sk_aligned_alloc(64, head + bytes);
        if (!nb) return SK_ERR_NOMEM;
        sk_free(*buf);
        *buf = nb;
        *cap = head + bytes;
    }
    uint8_t *b = *buf, *d = b + head;
    live_head *h = (live_head *)(b + sizeof(int64_t));
    *(int64_t *)b = cnt;
    for (int t = 0; t < s->g->n_tensors; t++) {
        if (!crosses(s, t, p)) continue;
        *h++ = (live_head){t, (int64_t)s->rt[t].nbytes};
        memcpy(d, s->rt[t].data, s->rt[t].nbytes);
        d += align64(s->rt[t].nbytes);
    }
    *n = head + bytes;
    return SK_OK;
}

sk_status sk_session_load(sk_session *s, int node, const void *buf, size_t n)
{
    sk_status st;
    if (!s->planned && (st = plan(s))) return st;
    int p = plan_at(s, node), cnt = 0;
    for (int t = 0; t < s->g->n_tensors; t++) cnt += crosses(s, t, p);
    const uint8_t *b = buf;
    size_t head = align64(sizeof(int64_t) + (size_t)cnt * sizeof(live_head)), off = head;
    bool ok = n >= head && *(const int64_t *)b == cnt;
    const live_head *h = (const live_head *)(b + sizeof(int64_t));
    for (int t = 0, i = 0; ok && t < s->g->n_tensors; t++) {
        if (!crosses(s, t, p)) continue;
        ok = h[i].tid == t && h[i].nbytes == (int64_t)s->rt[t].nbytes && off + s->rt[t].nbytes <= n;
        if (ok) memcpy(s->rt[t].data, b + off, s->rt[t].nbytes);
        off += align64(s->rt[t].nbytes);
        i++;
    }
    if (!ok || off != n) {
        s->planned = false;   /* nothing half-loaded can be continued */
        return sk_err(SK_ERR_INVALID, "session: the values saved at node %d do not fit this plan (other inputs or model?)", node);
    }
    return SK_OK;
}

int sk_session_n_outputs(const sk_session *s) { return s->g->n_outputs; }

const char *sk_session_output_name(const sk_session *s, int i)
{
    return i >= 0 && i < s->g->n_outputs ? s->g->tensors[s->g->outputs[i]].name : NULL;
}

const sk_rtensor *sk_session_output(const sk_session *s, int i)
{
    if (!s->planned || i < 0 || i >= s->g->n_outputs) return NULL;
    return &s->rt[s->g->outputs[i]];
}

int64_t sk_session_past(const sk_session *s) { return s->past; }

void sk_session_reset(sk_session *s)
{
    s->past = 0;
    /* only the KV caches go; other state (packed quantized weights) stays valid */
    for (int i = 0; i < s->g->n_nodes; i++)
        if (s->g->nodes[i].op == SK_OP_ATTENTION) { sk_free(s->state[i]); s->state[i] = NULL; }
}

size_t sk_session_arena_bytes(const sk_session *s) { return s->arena_bytes; }

void sk_session_set_observer(sk_session *s, sk_session_observer fn, void *ctx)
{
    s->obs = fn;
    s->obs_ctx = ctx;
}

void sk_session_set_stop(sk_session *s, int node) { s->stop = node < 0 ? -1 : node; }

void sk_session_set_skip(sk_session *s, const uint8_t *skip) { s->skip = skip; }
