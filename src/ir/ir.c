/* ir.c — the op table, attributes, graph building and the model object.
 *
 * Building a graph never trusts its caller with ids: every add checks them,
 * and sk_graph_verify checks the whole graph between passes.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "ir/ir.h"
#include "util/util.h"

static const sk_op_info ops[] = {
#define X(id, onnx, min_in, max_in, min_out, max_out, flags) \
    {onnx[0] ? onnx : #id, onnx, min_in, max_in, min_out, max_out, flags},
#include "ir/ops.def"
#undef X
};
static_assert(sizeof ops / sizeof ops[0] == SK_OP_COUNT, "ops.def and the op enum disagree");

/* Fused ops that have no ONNX name get readable display names. */
static const char *fused_names[][2] = {
    {"LINEAR", "Linear"}, {"ATTENTION", "Attention"}, {"SKIP_LAYERNORM", "SkipLayerNorm"},
};

const sk_op_info *sk_op_get(sk_op op)
{
    static sk_op_info named[SK_OP_COUNT];
    static int init;
    SK_ASSERT((unsigned)op < SK_OP_COUNT);
    if (!init) {   /* benign race: every thread writes the same values */
        memcpy(named, ops, sizeof ops);
        for (size_t i = 0; i < SK_OP_COUNT; i++)
            for (size_t j = 0; j < sizeof fused_names / sizeof fused_names[0]; j++)
                if (!strcmp(named[i].name, fused_names[j][0])) named[i].name = fused_names[j][1];
        init = 1;
    }
    return &named[op];
}

int sk_op_from_name(const char *name)
{
    for (int i = 0; i < SK_OP_COUNT; i++) {
        const sk_op_info *o = sk_op_get((sk_op)i);
        if (!strcmp(o->name, name) || (o->onnx[0] && !strcmp(o->onnx, name))) return i;
    }
    return -1;
}

const char *sk_family_name(sk_family f)
{
    switch (f) {
    case SK_FAM_BERT: return "bert";
    case SK_FAM_GPT2: return "gpt2";
    case SK_FAM_MLP: return "mlp";
    case SK_FAM_CNN: return "cnn";
    case SK_FAM_RNN: return "rnn";
    default: return "none";
    }
}

int64_t sk_tensor_numel(const sk_tensor *t)
{
    if (t->rank < 0) return -1;
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0) return -1;
        if (t->dims[i] && n > INT64_MAX / t->dims[i]) return -1;
        n *= t->dims[i];
    }
    return n;
}

/* ---- attributes ---- */
const sk_attr *sk_node_attr(const sk_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

int64_t sk_node_attr_i(const sk_node *n, const char *name, int64_t dflt)
{
    const sk_attr *a = sk_node_attr(n, name);
    return a && a->type == SK_ATTR_INT ? a->i : dflt;
}

float sk_node_attr_f(const sk_node *n, const char *name, float dflt)
{
    const sk_attr *a = sk_node_attr(n, name);
    if (!a) return dflt;
    if (a->type == SK_ATTR_FLOAT) return a->f;
    if (a->type == SK_ATTR_INT) return (float)a->i;
    return dflt;
}

const char *sk_node_attr_s(const sk_node *n, const char *name, const char *dflt)
{
    const sk_attr *a = sk_node_attr(n, name);
    return a && a->type == SK_ATTR_STRING ? a->s : dflt;
}

static void attr_clear(sk_attr *a)
{
    sk_free(a->s);
    sk_free(a->ints);
    sk_free(a->floats);
    a->s = NULL;
    a->ints = NULL;
    a->floats = NULL;
    a->n = 0;
}

/* The slot for name: the existing one (cleared) or a new one. */
static sk_attr *attr_slot(sk_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (!strcmp(n->attrs[i].name, name)) { attr_clear(&n->attrs[i]); return &n->attrs[i]; }
    char *nm = sk_strdup(name);
    if (!nm) return NULL;
    sk_attr *a = sk_realloc(n->attrs, (size_t)(n->n_attrs + 1) * sizeof *a);
    if (!a) { sk_free(nm); return NULL; }
    n->attrs = a;
    a = &n->attrs[n->n_attrs++];
    memset(a, 0, sizeof *a);
    a->name = nm;
    return a;
}

sk_status sk_node_set_i(sk_node *n, const char *name, int64_t v)
{
    sk_attr *a = attr_slot(n, name);
    if (!a) return SK_ERR_NOMEM;
    a->type = SK_ATTR_INT;
    a->i = v;
    return SK_OK;
}

sk_status sk_node_set_f(sk_node *n, const char *name, float v)
{
    sk_attr *a = attr_slot(n, name);
    if (!a) return SK_ERR_NOMEM;
    a->type = SK_ATTR_FLOAT;
    a->f = v;
    return SK_OK;
}

sk_status sk_node_set_s(sk_node *n, const char *name, const char *v)
{
    sk_attr *a = attr_slot(n, name);
    if (!a) return SK_ERR_NOMEM;
    a->type = SK_ATTR_STRING;
    a->s = sk_strdup(v);
    return a->s ? SK_OK : SK_ERR_NOMEM;
}

sk_status sk_node_set_ints(sk_node *n, const char *name, const int64_t *v, int count)
{
    sk_attr *a = attr_slot(n, name);
    if (!a) return SK_ERR_NOMEM;
    a->type = SK_ATTR_INTS;
    a->ints = sk_malloc((size_t)(count ? count : 1) * sizeof *v);
    if (!a->ints) return SK_ERR_NOMEM;
    if (count) memcpy(a->ints, v, (size_t)count * sizeof *v);
    a->n = count;
    return SK_OK;
}

sk_status sk_node_set_floats(sk_node *n, const char *name, const float *v, int count)
{
    sk_attr *a = attr_slot(n, name);
    if (!a) return SK_ERR_NOMEM;
    a->type = SK_ATTR_FLOATS;
    a->floats = sk_malloc((size_t)(count ? count : 1) * sizeof *v);
    if (!a->floats) return SK_ERR_NOMEM;
    if (count) memcpy(a->floats, v, (size_t)count * sizeof *v);
    a->n = count;
    return SK_OK;
}

/* ---- graph ---- */
int sk_graph_add_tensor(sk_graph *g, const char *name, sk_dtype dt, int rank, const int64_t *dims)
{
    if (rank > SK_MAX_RANK) { sk_err(SK_ERR_UNSUPPORTED, "tensor '%s': rank %d > %d", name, rank, SK_MAX_RANK); return -1; }
    if (sk_grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1, sizeof *g->tensors)) return -1;
    sk_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = sk_strdup(name ? name : "");
    if (!t->name) return -1;
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank && i < SK_MAX_RANK; i++) t->dims[i] = dims ? dims[i] : -1;
    return g->n_tensors++;
}

int sk_graph_add_const(sk_graph *g, const char *name, sk_dtype dt, int rank, const int64_t *dims,
                       void *data, bool owned)
{
    int id = sk_graph_add_tensor(g, name, dt, rank, dims);
    if (id < 0) { if (owned) sk_free(data); return -1; }
    sk_tensor *t = &g->tensors[id];
    int64_t n = sk_tensor_numel(t);
    if (n < 0 || !sk_dtype_nbytes(dt, n, &t->nbytes)) {
        if (owned) sk_free(data);
        g->tensors[id].data = NULL;
        sk_err(SK_ERR_FORMAT, "tensor '%s': bad or overflowing shape", name);
        return -1;
    }
    t->data = data;
    t->flags |= SK_TF_CONST | (owned ? SK_TF_OWNED : 0);
    return id;
}

int sk_graph_add_node(sk_graph *g, sk_op op, const char *name, const int *ins, int n_in, const int *outs, int n_out)
{
    if (sk_grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes)) return -1;
    sk_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = sk_strdup(name ? name : "");
    n->in = sk_malloc((size_t)(n_in ? n_in : 1) * sizeof(int));
    n->out = sk_malloc((size_t)(n_out ? n_out : 1) * sizeof(int));
    if (!n->name || !n->in || !n->out) {
        sk_free(n->name); sk_free(n->in); sk_free(n->out);
        return -1;
    }
    if (n_in) memcpy(n->in, ins, (size_t)n_in * sizeof(int));
    if (n_out) memcpy(n->out, outs, (size_t)n_out * sizeof(int));
    n->n_in = n_in;
    n->n_out = n_out;
    return g->n_nodes++;
}

int sk_graph_find_tensor(const sk_graph *g, const char *name)
{
    for (int i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name)) return i;
    return -1;
}

static sk_status add_id(int **arr, int *n, int tid)
{
    int *a = sk_realloc(*arr, (size_t)(*n + 1) * sizeof(int));
    if (!a) return SK_ERR_NOMEM;
    a[(*n)++] = tid;
    *arr = a;
    return SK_OK;
}

sk_status sk_graph_add_input(sk_graph *g, int tid)
{
    SK_ASSERT(tid >= 0 && tid < g->n_tensors);
    g->tensors[tid].flags |= SK_TF_INPUT;
    return add_id(&g->inputs, &g->n_inputs, tid);
}

sk_status sk_graph_add_output(sk_graph *g, int tid)
{
    SK_ASSERT(tid >= 0 && tid < g->n_tensors);
    g->tensors[tid].flags |= SK_TF_OUTPUT;
    return add_id(&g->outputs, &g->n_outputs, tid);
}

void sk_graph_free(sk_graph *g)
{
    for (int i = 0; i < g->n_tensors; i++) {
        sk_tensor *t = &g->tensors[i];
        sk_free(t->name);
        for (int d = 0; d < SK_MAX_RANK; d++) sk_free(t->dim_names[d]);
        if (t->flags & SK_TF_OWNED) sk_free(t->data);
        sk_free(t->quant);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        sk_node *n = &g->nodes[i];
        sk_free(n->name);
        sk_free(n->in);
        sk_free(n->out);
        for (int a = 0; a < n->n_attrs; a++) { attr_clear(&n->attrs[a]); sk_free(n->attrs[a].name); }
        sk_free(n->attrs);
    }
    sk_free(g->tensors);
    sk_free(g->nodes);
    sk_free(g->inputs);
    sk_free(g->outputs);
    memset(g, 0, sizeof *g);
}

/* ---- model ---- */
sk_model *sk_model_new(void)
{
    return sk_calloc(1, sizeof(sk_model));
}

void sk_model_free(sk_model *m)
{
    if (!m) return;
    sk_graph_free(&m->g);
    if (m->arch.labels)
        for (int i = 0; i < m->arch.n_labels; i++) sk_free(m->arch.labels[i]);
    sk_free(m->arch.labels);
    sk_free(m->source);
    sk_free(m->tokenizer_dir);
    for (int i = 0; i < m->n_prov; i++) { sk_free(m->prov[i].pass); sk_free(m->prov[i].params_json); }
    sk_free(m->prov);
    for (int i = 0; i < m->n_maps; i++) sk_munmap(m->maps[i].addr, m->maps[i].len);
    sk_free(m->maps);
    for (int i = 0; i < m->n_files; i++) { sk_free(m->files[i].name); sk_free(m->files[i].data); }
    sk_free(m->files);
    sk_free(m);
}

sk_status sk_model_add_prov(sk_model *m, const char *pass, const char *params_json)
{
    sk_prov *p = sk_realloc(m->prov, (size_t)(m->n_prov + 1) * sizeof *p);
    if (!p) return SK_ERR_NOMEM;
    m->prov = p;
    p[m->n_prov].pass = sk_strdup(pass);
    p[m->n_prov].params_json = sk_strdup(params_json ? params_json : "{}");
    if (!p[m->n_prov].pass || !p[m->n_prov].params_json) {
        sk_free(p[m->n_prov].pass);
        sk_free(p[m->n_prov].params_json);
        return SK_ERR_NOMEM;
    }
    m->n_prov++;
    return SK_OK;
}

sk_status sk_model_add_file(sk_model *m, const char *name, const void *data, size_t len)
{
    if (len == SIZE_MAX) return sk_err(SK_ERR_NOMEM, "file '%s': too large", name);
    sk_blob *f = sk_realloc(m->files, (size_t)(m->n_files + 1) * sizeof *f);
    if (!f) return SK_ERR_NOMEM;
    m->files = f;
    char *nm = sk_strdup(name), *d = sk_malloc(len + 1);
    if (!nm || !d) { sk_free(nm); sk_free(d); return SK_ERR_NOMEM; }
    if (len) memcpy(d, data, len);
    d[len] = 0;
    f[m->n_files++] = (sk_blob){nm, d, len};
    return SK_OK;
}

sk_status sk_model_add_map(sk_model *m, void *addr, size_t len)
{
    sk_mapping *p = sk_realloc(m->maps, (size_t)(m->n_maps + 1) * sizeof *p);
    if (!p) return SK_ERR_NOMEM;
    m->maps = p;
    p[m->n_maps].addr = addr;
    p[m->n_maps].len = len;
    m->n_maps++;
    return SK_OK;
}

/* NULL stays NULL; otherwise a copy, *ok cleared when it cannot be made. */
static char *dup_or_null(const char *s, bool *ok)
{
    char *d = s ? sk_strdup(s) : NULL;
    if (s && !d) *ok = false;
    return d;
}

static void *dup_bytes(const void *p, size_t n, bool *ok)
{
    if (!p) return NULL;
    void *d = sk_malloc(n ? n : 1);
    if (!d) { *ok = false; return NULL; }
    if (n) memcpy(d, p, n);
    return d;
}

/* dst's counts grow with each element copied, so sk_model_free can always
 * free a half-made clone. */
static bool clone_graph(const sk_graph *s, sk_graph *d)
{
    bool ok = true;
    d->tensors = sk_calloc((size_t)s->n_tensors + 1, sizeof *d->tensors);
    d->nodes = sk_calloc((size_t)s->n_nodes + 1, sizeof *d->nodes);
    d->inputs = dup_bytes(s->inputs, (size_t)s->n_inputs * sizeof(int), &ok);
    d->outputs = dup_bytes(s->outputs, (size_t)s->n_outputs * sizeof(int), &ok);
    if (!d->tensors || !d->nodes || !ok) return false;
    d->n_inputs = s->n_inputs;
    d->n_outputs = s->n_outputs;
    d->cap_tensors = s->n_tensors + 1;
    d->cap_nodes = s->n_nodes + 1;
    for (int i = 0; i < s->n_tensors && ok; i++) {
        const sk_tensor *a = &s->tensors[i];
        sk_tensor *b = &d->tensors[d->n_tensors++];
        *b = *a;
        b->name = NULL;
        memset(b->dim_names, 0, sizeof b->dim_names);
        b->quant = NULL;
        b->flags &= ~(unsigned)SK_TF_OWNED;
        if (a->flags & SK_TF_OWNED) {   /* views (mmapped files) are shared, owned data copied */
            b->data = dup_bytes(a->data, a->nbytes, &ok);
            if (!ok) break;
            b->flags |= SK_TF_OWNED;
        }
        b->name = dup_or_null(a->name, &ok);
        for (int k = 0; k < SK_MAX_RANK; k++) b->dim_names[k] = dup_or_null(a->dim_names[k], &ok);
        b->quant = dup_bytes(a->quant, sizeof *a->quant, &ok);
    }
    for (int i = 0; i < s->n_nodes && ok; i++) {
        const sk_node *a = &s->nodes[i];
        sk_node *b = &d->nodes[d->n_nodes++];
        b->op = a->op;
        b->name = dup_or_null(a->name, &ok);
        b->in = dup_bytes(a->in, (size_t)a->n_in * sizeof(int), &ok);
        b->out = dup_bytes(a->out, (size_t)a->n_out * sizeof(int), &ok);
        b->n_in = a->n_in;
        b->n_out = a->n_out;
        if (!ok || !a->n_attrs) continue;
        if (!(b->attrs = sk_calloc((size_t)a->n_attrs, sizeof *b->attrs))) { ok = false; break; }
        for (int k = 0; k < a->n_attrs && ok; k++) {
            const sk_attr *x = &a->attrs[k];
            sk_attr *y = &b->attrs[b->n_attrs++];
            *y = *x;
            y->name = dup_or_null(x->name, &ok);
            y->s = dup_or_null(x->s, &ok);
            y->ints = dup_bytes(x->ints, (size_t)x->n * sizeof *x->ints, &ok);
            y->floats = dup_bytes(x->floats, (size_t)x->n * sizeof *x->floats, &ok);
        }
    }
    return ok;
}

sk_status sk_model_clone(const sk_model *m, sk_model **out)
{
    *out = NULL;
    sk_model *c = sk_model_new();
    if (!c) return SK_ERR_NOMEM;
    bool ok = clone_graph(&m->g, &c->g);
    c->arch = m->arch;
    c->arch.labels = NULL;
    if (ok && m->arch.labels) {
        if ((c->arch.labels = sk_calloc((size_t)m->arch.n_labels + 1, sizeof *c->arch.labels)))
            for (int i = 0; i < m->arch.n_labels; i++) c->arch.labels[i] = dup_or_null(m->arch.labels[i], &ok);
        else ok = false;
    }
    c->source = ok ? dup_or_null(m->source, &ok) : NULL;
    c->tokenizer_dir = ok ? dup_or_null(m->tokenizer_dir, &ok) : NULL;
    for (int i = 0; i < m->n_prov && ok; i++) ok = !sk_model_add_prov(c, m->prov[i].pass, m->prov[i].params_json);
    for (int i = 0; i < m->n_files && ok; i++) ok = !sk_model_add_file(c, m->files[i].name, m->files[i].data, m->files[i].len);
    if (!ok) {
        sk_model_free(c);
        return sk_err(SK_ERR_NOMEM, "out of memory copying the model");
    }
    *out = c;
    return SK_OK;
}

int64_t sk_model_params(const sk_model *m, size_t *bytes_by_dtype)
{
    int64_t params = 0;
    if (bytes_by_dtype) memset(bytes_by_dtype, 0, SK_DT_COUNT * sizeof(size_t));
    for (int i = 0; i < m->g.n_tensors; i++) {
        const sk_tensor *t = &m->g.tensors[i];
        if (!(t->flags & SK_TF_CONST)) continue;
        if (bytes_by_dtype && (unsigned)t->dtype < SK_DT_COUNT) bytes_by_dtype[t->dtype] += t->nbytes;
        if (t->flags & SK_TF_WEIGHT) params += sk_tensor_numel(t);
    }
    return params;
}
