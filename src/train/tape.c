/* tape.c — the training executor: a forward pass that keeps every
 * activation, and the backward pass over it.
 *
 * Planning follows session.c (the same shape functions, the same folding of
 * constant subgraphs such as Shape → Slice), with two differences: nothing
 * that depends on a trainable parameter is folded (the position-embedding
 * Gather of BERT would otherwise be evaluated once and never learn), and no
 * buffer is reused — each activation keeps its own bytes in one arena until
 * the next forward, which is what the backward reads.  Every f32 activation
 * that depends on a parameter gets a gradient buffer of its size in a second
 * arena; backward functions add into those (fan-out needs no special case)
 * and into the parameter gradients.
 *
 * Parameters: every f32 SK_TF_WEIGHT tensor, copied into one block; the
 * model's tensors point into it while the trainer lives.
 */
#include <string.h>
#include "train/train.h"

void openblas_set_num_threads(int);

typedef struct tinput {
    int tid;
    bool bound;
    sk_dtype dt;
    int rank;
    int64_t dims[SK_MAX_RANK];
    void *data;              /* the trainer's copy of the caller's data */
    size_t cap;
    int fill;                /* 0 none, 1 ones, 2 zeros, 3 positions */
} tinput;

struct sk_train {
    sk_model *m;
    const sk_graph *g;
    sk_pool *pool;
    /* parameters */
    int n_params;
    int *param_tid;          /* [n_params] */
    size_t *param_off;       /* [n_params] float offset in params */
    int *tid_param;          /* [n_tensors] parameter index or -1 */
    size_t n_model, n_all;   /* floats: the model's, and with the extra ones */
    float *params, *grads;   /* [n_all] each */
    unsigned char *decay;    /* [n_all] */
    void **old_data;         /* per parameter: the data the model owned before (freed at new) */
    /* plan */
    bool planned;
    sk_rtensor *rt;          /* per tensor */
    sk_rtensor **ptrs;
    sk_rtensor ***nin, ***nout;   /* per node: pointers into ptrs */
    bool *live;              /* per node: executed at run time (not folded) */
    bool *dyn;               /* per tensor: depends on an input or a parameter */
    float **grad;            /* per tensor: gradient buffer or NULL */
    size_t *aux_off;         /* per node: float offset in aux, or SIZE_MAX */
    float *aux; size_t aux_cap;
    uint8_t *arena; size_t arena_cap;
    float *garena; size_t garena_cap, garena_used;
    void **folded; int n_folded, cap_folded;   /* plan-time buffers: folded constants, inputs */
    void *scratch; size_t scratch_cap;
    void **state;            /* per node */
    tinput *inputs;
};

/* ---- parameters ---- */

sk_status sk_train_new(sk_model *m, int threads, size_t n_extra, sk_train **out)
{
    *out = NULL;
    sk_graph *g = &m->g;
    sk_train *t = sk_calloc(1, sizeof *t);
    if (!t) return SK_ERR_NOMEM;
    t->m = m;
    t->g = g;
    sk_status st = SK_ERR_NOMEM;
    size_t nt = (size_t)g->n_tensors + 1, nn = (size_t)g->n_nodes + 1;
    t->pool = sk_pool_new(threads > 0 ? threads : sk_default_threads());
    t->tid_param = sk_malloc(nt * sizeof *t->tid_param);
    t->param_tid = sk_malloc(nt * sizeof *t->param_tid);
    t->param_off = sk_malloc(nt * sizeof *t->param_off);
    t->old_data = sk_calloc(nt, sizeof *t->old_data);
    t->rt = sk_calloc(nt, sizeof *t->rt);
    t->dyn = sk_calloc(nt, sizeof *t->dyn);
    t->grad = sk_calloc(nt, sizeof *t->grad);
    t->nin = sk_calloc(nn, sizeof *t->nin);
    t->nout = sk_calloc(nn, sizeof *t->nout);
    t->live = sk_calloc(nn, sizeof *t->live);
    t->aux_off = sk_calloc(nn, sizeof *t->aux_off);
    t->state = sk_calloc(nn, sizeof *t->state);
    t->inputs = sk_calloc((size_t)g->n_inputs + 1, sizeof *t->inputs);
    if (!t->pool || !t->tid_param || !t->param_tid || !t->param_off || !t->old_data || !t->rt || !t->dyn ||
        !t->grad || !t->nin || !t->nout || !t->live || !t->aux_off || !t->state || !t->inputs)
        goto fail;
    size_t n = 0;
    for (int i = 0; i < g->n_tensors; i++) {
        const sk_tensor *x = &g->tensors[i];
        t->tid_param[i] = -1;
        if (!(x->flags & SK_TF_WEIGHT)) continue;
        if (x->dtype != SK_DT_F32 || x->quant || !x->data) {
            st = sk_err(SK_ERR_UNSUPPORTED, "train: weight '%s' is %s%s; only f32 weights can be trained", x->name,
                        sk_dtype_info(x->dtype)->name, x->quant ? " (quantized)" : "");
            goto fail;
        }
        t->tid_param[i] = t->n_params;
        t->param_tid[t->n_params] = i;
        t->param_off[t->n_params] = n;
        t->n_params++;
        n += (size_t)sk_tensor_numel(x);
        n = (n + 15) & ~(size_t)15;   /* 64-byte aligned tensors */
    }
    t->n_model = n;
    t->n_all = n + n_extra;
    size_t bytes;
    if (!sk_mul_size(t->n_all ? t->n_all : 1, sizeof(float), &bytes)) { st = sk_err(SK_ERR_NOMEM, "train: too many parameters"); goto fail; }
    t->params = sk_aligned_alloc(64, bytes);
    t->grads = sk_aligned_alloc(64, bytes);
    t->decay = sk_calloc(t->n_all + 1, 1);
    if (!t->params || !t->grads || !t->decay) goto fail;
    memset(t->params, 0, bytes);
    memset(t->grads, 0, bytes);
    for (int p = 0; p < t->n_params; p++) {
        sk_tensor *x = &g->tensors[t->param_tid[p]];
        size_t k = (size_t)sk_tensor_numel(x);
        float *dst = t->params + t->param_off[p];
        memcpy(dst, x->data, k * sizeof(float));
        if (x->rank >= 2) memset(t->decay + t->param_off[p], 1, k);
        if (x->flags & SK_TF_OWNED) sk_free(x->data);
        x->flags &= ~(unsigned)SK_TF_OWNED;
        x->data = dst;
    }
    memset(t->decay + n, 1, n_extra);
    for (int i = 0; i < g->n_inputs; i++) {
        tinput *ti = &t->inputs[i];
        ti->tid = g->inputs[i];
        const char *nm = g->tensors[ti->tid].name;
        if (!strcmp(nm, "attention_mask")) ti->fill = 1;
        else if (!strcmp(nm, "token_type_ids")) ti->fill = 2;
        else if (!strcmp(nm, "position_ids")) ti->fill = 3;
    }
    openblas_set_num_threads(1);   /* kernels split BLAS calls across the pool (as sessions do) */
    *out = t;
    return SK_OK;
fail:
    sk_train_free(t);
    return st;
}

static void unplan(sk_train *t)
{
    for (int i = 0; i < t->n_folded; i++) sk_free(t->folded[i]);
    t->n_folded = 0;
    sk_free(t->ptrs);
    t->ptrs = NULL;
    t->planned = false;
}

void sk_train_free(sk_train *t)
{
    if (!t) return;
    unplan(t);
    sk_free(t->folded);
    if (t->params && t->tid_param) {   /* give the model its own copies */
        for (int p = 0; p < t->n_params; p++) {
            sk_tensor *x = &t->m->g.tensors[t->param_tid[p]];
            size_t k = (size_t)sk_tensor_numel(x);
            float *own = sk_malloc((k ? k : 1) * sizeof(float));
            SK_ASSERT(own);   /* no way to report it: the model would point at freed memory */
            memcpy(own, t->params + t->param_off[p], k * sizeof(float));
            x->data = own;
            x->flags |= SK_TF_OWNED;
        }
    }
    if (t->state)
        for (int i = 0; i < t->g->n_nodes; i++) sk_free(t->state[i]);
    if (t->inputs)
        for (int i = 0; i < t->g->n_inputs; i++) sk_free(t->inputs[i].data);
    sk_free(t->inputs);
    sk_free(t->state);
    sk_free(t->aux);
    sk_free(t->arena);
    sk_free(t->garena);
    sk_free(t->scratch);
    sk_free(t->aux_off);
    sk_free(t->live);
    sk_free(t->nin);
    sk_free(t->nout);
    sk_free(t->grad);
    sk_free(t->dyn);
    sk_free(t->rt);
    sk_free(t->old_data);
    sk_free(t->param_off);
    sk_free(t->param_tid);
    sk_free(t->tid_param);
    sk_free(t->params);
    sk_free(t->grads);
    sk_free(t->decay);
    sk_pool_free(t->pool);
    sk_free(t);
}

float *sk_train_params(sk_train *t, size_t *n) { if (n) *n = t->n_all; return t->params; }
float *sk_train_grads(sk_train *t) { return t->grads; }
float *sk_train_extra(sk_train *t) { return t->params + t->n_model; }
float *sk_train_extra_grad(sk_train *t) { return t->grads + t->n_model; }
int sk_train_n_params(const sk_train *t) { return t->n_params; }
int sk_train_param_tensor(const sk_train *t, int i) { return t->param_tid[i]; }
size_t sk_train_param_offset(const sk_train *t, int i) { return t->param_off[i]; }
const unsigned char *sk_train_decay_mask(const sk_train *t) { return t->decay; }
void sk_train_zero_grad(sk_train *t) { memset(t->grads, 0, t->n_all * sizeof(float)); }

uint64_t sk_train_layout_hash(const sk_train *t)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
#define MIX(byte) (h = (h ^ (uint8_t)(byte)) * 1099511628211ull)
    for (int p = 0; p < t->n_params; p++) {
        const sk_tensor *x = &t->g->tensors[t->param_tid[p]];
        for (const char *c = x->name; *c; c++) MIX(*c);
        for (int d = 0; d < x->rank; d++)
            for (int b = 0; b < 8; b++) MIX(x->dims[d] >> (8 * b));
    }
    for (int b = 0; b < 8; b++) MIX((uint64_t)(t->n_all - t->n_model) >> (8 * b));
#undef MIX
    return h;
}

/* ---- inputs ---- */

sk_status sk_train_set_input(sk_train *t, const char *name, sk_dtype dt, int rank, const int64_t *dims,
                             const void *data)
{
    for (int i = 0; i < t->g->n_inputs; i++) {
        tinput *ti = &t->inputs[i];
        if (strcmp(t->g->tensors[ti->tid].name, name)) continue;
        if (rank < 0 || rank > SK_MAX_RANK) return sk_err(SK_ERR_INVALID, "train: input '%s': bad rank %d", name, rank);
        int64_t n = 1;
        for (int d = 0; d < rank; d++) {
            if (dims[d] < 0) return sk_err(SK_ERR_INVALID, "train: input '%s': negative dim", name);
            n *= dims[d];
        }
        size_t bytes;
        if (!sk_dtype_nbytes(dt, n, &bytes)) return sk_err(SK_ERR_INVALID, "train: input '%s': too large", name);
        bool same = ti->bound && ti->rank == rank && ti->dt == dt && !memcmp(ti->dims, dims, (size_t)rank * sizeof *dims);
        if (bytes > ti->cap) {
            void *p = sk_realloc(ti->data, bytes);
            if (!p) return SK_ERR_NOMEM;
            ti->data = p;
            ti->cap = bytes;
        }
        if (bytes) memcpy(ti->data, data, bytes);
        if (!same) t->planned = false;
        ti->bound = true;
        ti->dt = dt;
        ti->rank = rank;
        memcpy(ti->dims, dims, (size_t)rank * sizeof *dims);
        return SK_OK;
    }
    return sk_err(SK_ERR_INVALID, "train: model has no input '%s'", name);
}

static bool batch_seq(const sk_train *t, int64_t *b, int64_t *sq)
{
    for (int i = 0; i < t->g->n_inputs; i++) {
        const tinput *ti = &t->inputs[i];
        if (ti->bound && ti->rank == 2) { *b = ti->dims[0]; *sq = ti->dims[1]; return true; }
    }
    return false;
}

/* Shapes of the graph inputs (buffers come with the arena). */
static sk_status plan_inputs(sk_train *t)
{
    for (int i = 0; i < t->g->n_inputs; i++) {
        tinput *ti = &t->inputs[i];
        const sk_tensor *x = &t->g->tensors[ti->tid];
        sk_rtensor *r = &t->rt[ti->tid];
        if (x->flags & SK_TF_CONST) continue;
        int64_t dims[SK_MAX_RANK];
        int rank;
        if (ti->bound) {
            rank = ti->rank;
            memcpy(dims, ti->dims, sizeof dims);
        } else if (ti->fill && batch_seq(t, &dims[0], &dims[1])) {
            rank = 2;
        } else {
            return sk_err(SK_ERR_INVALID, "train: input '%s' is not bound", x->name);
        }
        if (x->rank >= 0 && x->rank != rank)
            return sk_err(SK_ERR_INVALID, "train: input '%s': rank %d given, model expects %d", x->name, rank, x->rank);
        sk_dtype dt = x->dtype != SK_DT_UNDEF ? x->dtype : ti->dt;
        sk_rt_set_shape(r, dt, rank, dims);
        if (!sk_dtype_nbytes(dt, sk_rt_numel(r), &r->nbytes))
            return sk_err(SK_ERR_INVALID, "train: input '%s': too large", x->name);
        r->is_const = false;
        t->dyn[ti->tid] = true;
    }
    return SK_OK;
}

static void load_inputs(sk_train *t)
{
    for (int i = 0; i < t->g->n_inputs; i++) {
        tinput *ti = &t->inputs[i];
        sk_rtensor *r = &t->rt[ti->tid];
        if (r->is_const) continue;
        int64_t n = sk_rt_numel(r), sq = r->rank == 2 ? r->dims[1] : 1;
        sk_rtensor src = {.dtype = ti->dt, .data = ti->data};
        for (int64_t j = 0; j < n; j++) {
            int64_t v = ti->bound ? 0 : ti->fill == 1 ? 1 : ti->fill == 3 ? j % sq : 0;
            if (ti->bound && r->dtype == ti->dt) { memcpy(r->data, ti->data, r->nbytes); break; }
            if (ti->bound) {
                if (r->dtype == SK_DT_F32 && ti->dt == SK_DT_F32) { ((float *)r->data)[j] = ((float *)ti->data)[j]; continue; }
                v = sk_rt_get_i(&src, j);
            }
            if (r->dtype == SK_DT_I64) ((int64_t *)r->data)[j] = v;
            else if (r->dtype == SK_DT_I32) ((int32_t *)r->data)[j] = (int32_t)v;
            else if (r->dtype == SK_DT_F32) ((float *)r->data)[j] = (float)v;
        }
    }
}

/* ---- planning ---- */

static void kctx_init(sk_train *t, sk_kctx *k, int ni)
{
    const sk_node *n = &t->g->nodes[ni];
    memset(k, 0, sizeof *k);
    k->g = t->g;
    k->node = n;
    k->in = t->nin[ni];
    k->n_in = n->n_in;
    k->out = t->nout[ni];
    k->n_out = n->n_out;
    k->pool = t->pool;
    k->state = &t->state[ni];
    k->scratch = t->scratch;
}

static sk_status grow_scratch(sk_train *t, size_t need)
{
    if (need <= t->scratch_cap) return SK_OK;
    sk_free(t->scratch);
    t->scratch = sk_aligned_alloc(64, need);
    t->scratch_cap = t->scratch ? need : 0;
    return t->scratch ? SK_OK : SK_ERR_NOMEM;
}

static size_t al16(size_t n) { return (n + 15) & ~(size_t)15; }

static sk_status plan(sk_train *t)
{
    const sk_graph *g = t->g;
    unplan(t);
    for (int i = 0; i < g->n_tensors; i++) {
        const sk_tensor *x = &g->tensors[i];
        sk_rtensor *r = &t->rt[i];
        memset(r, 0, sizeof *r);
        t->dyn[i] = t->tid_param[i] >= 0;
        t->grad[i] = NULL;
        if (x->flags & SK_TF_CONST) {
            sk_rt_set_shape(r, x->dtype, x->rank, x->dims);
            r->data = x->data;
            r->nbytes = x->nbytes;
            /* a parameter changes every step: kernels must not cache what
             * they derive from it (a LINEAR's packed weight) */
            r->is_const = t->tid_param[i] < 0;
        }
    }
    sk_status st = plan_inputs(t);
    if (st) return st;
    size_t nptr = 0;
    for (int i = 0; i < g->n_nodes; i++) nptr += (size_t)(g->nodes[i].n_in + g->nodes[i].n_out);
    t->ptrs = sk_calloc(nptr + 1, sizeof *t->ptrs);
    if (!t->ptrs) return SK_ERR_NOMEM;
    size_t act_bytes = 0, aux_floats = 0;
    sk_rtensor **p = t->ptrs;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const sk_node *n = &g->nodes[ni];
        t->nin[ni] = p;
        t->nout[ni] = p + n->n_in;
        p += n->n_in + n->n_out;
        bool dyn = false;
        for (int k = 0; k < n->n_in; k++) {
            t->nin[ni][k] = n->in[k] >= 0 ? &t->rt[n->in[k]] : NULL;
            if (n->in[k] >= 0 && t->dyn[n->in[k]]) dyn = true;
        }
        for (int k = 0; k < n->n_out; k++) t->nout[ni][k] = n->out[k] >= 0 ? &t->rt[n->out[k]] : NULL;
        sk_kctx k;
        kctx_init(t, &k, ni);
        if ((st = sk_shape_table[n->op](&k))) return st;
        if ((st = grow_scratch(t, k.scratch_need))) return st;
        sk_rtensor **out = t->nout[ni];
        for (int o = 0; o < n->n_out; o++) {
            if (!out[o]) continue;
            if (!sk_dtype_nbytes(out[o]->dtype, sk_rt_numel(out[o]), &out[o]->nbytes))
                return sk_err(SK_ERR_INVALID, "train: node '%s': output %d is too large", n->name, o);
        }
        bool fold = (sk_op_get(n->op)->flags & SK_OPF_FOLDABLE) && (!dyn || n->op == SK_OP_SHAPE);
        t->live[ni] = !fold;
        t->aux_off[ni] = SIZE_MAX;
        if (fold) {
            for (int o = 0; o < n->n_out; o++) {
                if (!out[o]) continue;
                void *buf = sk_aligned_alloc(64, out[o]->nbytes ? out[o]->nbytes : 1);
                if (!buf) return SK_ERR_NOMEM;
                if (sk_grow((void **)&t->folded, &t->cap_folded, t->n_folded + 1, sizeof *t->folded)) {
                    sk_free(buf);
                    return SK_ERR_NOMEM;
                }
                t->folded[t->n_folded++] = buf;
                out[o]->data = buf;
            }
            k.scratch = t->scratch;
            if ((st = sk_kern_table[n->op](&k))) return st;
            for (int o = 0; o < n->n_out; o++) if (out[o]) out[o]->is_const = true;
            continue;
        }
        for (int o = 0; o < n->n_out; o++) {
            if (n->out[o] < 0) continue;
            t->dyn[n->out[o]] = true;
            act_bytes += (out[o]->nbytes + 63) & ~(size_t)63;
        }
        if (n->op == SK_OP_LINEAR) {
            size_t a = sk_train_linear_aux(n, out[0]);
            if (a) { t->aux_off[ni] = aux_floats; aux_floats += al16(a); }
        }
    }
    /* which activations get a gradient: f32, produced by a live node whose op passes gradient
     * from an input that has one (or is a parameter) */
    bool *has = sk_calloc((size_t)g->n_tensors + 1, sizeof *has);
    if (!has) return SK_ERR_NOMEM;
    for (int i = 0; i < g->n_tensors; i++) has[i] = t->tid_param[i] >= 0;
    size_t gfloats = 0;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const sk_node *n = &g->nodes[ni];
        if (!t->live[ni] || !sk_grad_passes(n->op)) continue;
        bool any = false;
        for (int k = 0; k < n->n_in; k++) if (n->in[k] >= 0 && has[n->in[k]]) any = true;
        if (!any) continue;
        for (int o = 0; o < n->n_out; o++) {
            if (n->out[o] < 0 || t->rt[n->out[o]].dtype != SK_DT_F32) continue;
            has[n->out[o]] = true;
            gfloats += al16((size_t)sk_rt_numel(&t->rt[n->out[o]]));
        }
    }
    /* arenas (grown, never shrunk: batches of varying length re-plan often) */
    if (act_bytes > t->arena_cap) {
        sk_free(t->arena);
        if (!(t->arena = sk_aligned_alloc(64, act_bytes))) { t->arena_cap = 0; sk_free(has); return SK_ERR_NOMEM; }
        t->arena_cap = act_bytes;
    }
    if (gfloats > t->garena_cap) {
        sk_free(t->garena);
        if (!(t->garena = sk_aligned_alloc(64, gfloats * sizeof(float)))) { t->garena_cap = 0; sk_free(has); return SK_ERR_NOMEM; }
        t->garena_cap = gfloats;
    }
    if (aux_floats > t->aux_cap) {
        sk_free(t->aux);
        if (!(t->aux = sk_aligned_alloc(64, aux_floats * sizeof(float)))) { t->aux_cap = 0; sk_free(has); return SK_ERR_NOMEM; }
        t->aux_cap = aux_floats;
    }
    size_t off = 0, goff = 0;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        if (!t->live[ni]) continue;
        const sk_node *n = &g->nodes[ni];
        for (int o = 0; o < n->n_out; o++) {
            if (n->out[o] < 0) continue;
            sk_rtensor *r = &t->rt[n->out[o]];
            r->data = t->arena + off;
            off += (r->nbytes + 63) & ~(size_t)63;
            if (has[n->out[o]] && t->tid_param[n->out[o]] < 0) {
                t->grad[n->out[o]] = t->garena + goff;
                goff += al16((size_t)sk_rt_numel(r));
            }
        }
    }
    t->garena_used = goff;
    for (int pi = 0; pi < t->n_params; pi++) t->grad[t->param_tid[pi]] = t->grads + t->param_off[pi];
    sk_free(has);
    /* input buffers live outside the arena: their own allocation per input */
    for (int i = 0; i < g->n_inputs; i++) {
        tinput *ti = &t->inputs[i];
        sk_rtensor *r = &t->rt[ti->tid];
        if (r->is_const) continue;
        void *buf = sk_aligned_alloc(64, r->nbytes ? r->nbytes : 1);
        if (!buf) return SK_ERR_NOMEM;
        if (sk_grow((void **)&t->folded, &t->cap_folded, t->n_folded + 1, sizeof *t->folded)) { sk_free(buf); return SK_ERR_NOMEM; }
        t->folded[t->n_folded++] = buf;
        r->data = buf;
    }
    t->planned = true;
    return SK_OK;
}

/* ---- forward / backward ---- */

sk_status sk_train_forward(sk_train *t)
{
    sk_status st;
    if (!t->planned && (st = plan(t))) {
        unplan(t);
        return st;
    }
    load_inputs(t);
    for (int ni = 0; ni < t->g->n_nodes; ni++) {
        if (!t->live[ni]) continue;
        const sk_node *n = &t->g->nodes[ni];
        sk_kctx k;
        kctx_init(t, &k, ni);
        k.scratch_need = t->scratch_cap;
        if (n->op == SK_OP_LINEAR)
            st = sk_train_linear_forward(&k, t->aux_off[ni] == SIZE_MAX ? NULL : t->aux + t->aux_off[ni]);
        else
            st = sk_kern_table[n->op](&k);
        if (st) return st;
    }
    if (t->garena_used) memset(t->garena, 0, t->garena_used * sizeof(float));
    return SK_OK;
}

const sk_rtensor *sk_train_value(const sk_train *t, int tid)
{
    if (!t->planned || tid < 0 || tid >= t->g->n_tensors) return NULL;
    return t->rt[tid].data || !t->rt[tid].nbytes ? &t->rt[tid] : NULL;
}

float *sk_train_grad_of(sk_train *t, int tid)
{
    if (!t->planned || tid < 0 || tid >= t->g->n_tensors) return NULL;
    return t->grad[tid];
}

int sk_train_node_output(const sk_train *t, const char *node_name)
{
    for (int i = 0; i < t->g->n_nodes; i++)
        if (t->g->nodes[i].name && !strcmp(t->g->nodes[i].name, node_name)) return t->g->nodes[i].out[0];
    return -1;
}

sk_status sk_train_backward(sk_train *t)
{
    if (!t->planned) return sk_err(SK_ERR_INVALID, "train: backward before forward");
    const sk_graph *g = t->g;
    float *gin[64];
    const float *gout[64];
    for (int ni = g->n_nodes - 1; ni >= 0; ni--) {
        if (!t->live[ni]) continue;
        const sk_node *n = &g->nodes[ni];
        if (n->n_in > 64 || n->n_out > 64) return sk_err(SK_ERR_UNSUPPORTED, "train: node '%s' has too many edges", n->name);
        bool any_out = false, any_in = false;
        for (int o = 0; o < n->n_out; o++) {
            gout[o] = n->out[o] >= 0 ? t->grad[n->out[o]] : NULL;
            if (gout[o]) any_out = true;
        }
        for (int k = 0; k < n->n_in; k++) {
            gin[k] = n->in[k] >= 0 ? t->grad[n->in[k]] : NULL;
            if (gin[k]) any_in = true;
        }
        if (!any_out || !any_in) continue;
        sk_bwd_fn fn = sk_grad_fn(n->op);
        if (!fn)
            return sk_err(SK_ERR_UNSUPPORTED, "train: node '%s' (%s) has no backward; it cannot be trained through",
                          n->name, sk_op_get(n->op)->name);
        sk_bctx b = {
            .node = n, .in = (const sk_rtensor *const *)t->nin[ni], .n_in = n->n_in,
            .out = (const sk_rtensor *const *)t->nout[ni], .n_out = n->n_out, .gin = gin, .gout = gout,
            .aux = t->aux_off[ni] == SIZE_MAX ? NULL : t->aux + t->aux_off[ni], .pool = t->pool,
        };
        sk_status st = fn(&b);
        if (st) return sk_err_prefix(st, "train: backward of node '%s' (%s)", n->name, sk_op_get(n->op)->name);
    }
    return SK_OK;
}
