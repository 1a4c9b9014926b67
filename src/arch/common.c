/* common.c — what the model templates share: checking an sk_arch, dispatch
 * by family, and a small graph builder with a sticky error.
 *
 * The builder checks every weight a callback returns (dtype f32, constant,
 * shape from the config), so templates and callbacks can trust each other
 * no further than that.  It knows nothing of files.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "arch/arch.h"

/* ---- sk_arch ---- */

static bool in_range(int v, int lo, int hi) { return v >= lo && v <= hi; }

const char *sk_arch_linear_act(const char *act)
{
    if (!strcmp(act, "gelu")) return "gelu";
    if (!strcmp(act, "gelu_new")) return "gelu_tanh";
    if (!strcmp(act, "relu")) return "relu";
    return NULL;
}

sk_status sk_arch_check(const sk_arch *a)
{
    const char *fam = sk_family_name(a->family);
    if (a->family != SK_FAM_BERT && a->family != SK_FAM_GPT2)
        return sk_err(SK_ERR_UNSUPPORTED, "arch: family '%s' has no template (bert, gpt2)", fam);
    if (a->family == SK_FAM_BERT && strcmp(a->task, "seq-classification") && strcmp(a->task, "base"))
        return sk_err(SK_ERR_UNSUPPORTED, "arch: bert task '%s' (expected seq-classification or base)", a->task);
    if (a->family == SK_FAM_GPT2 && strcmp(a->task, "lm") && strcmp(a->task, "base"))
        return sk_err(SK_ERR_UNSUPPORTED, "arch: gpt2 task '%s' (expected lm or base)", a->task);
    struct { const char *what; int v, lo, hi; } r[] = {
        {"layers", a->n_layers, 1, 1000}, {"hidden", a->hidden, 1, 65536}, {"heads", a->heads, 1, 65536},
        {"ffn", a->ffn, 1, 1 << 20}, {"vocab", a->vocab, 1, 10000000}, {"max_pos", a->max_pos, 1, 1 << 20},
        {"type_vocab", a->family == SK_FAM_BERT ? a->type_vocab : 1, 1, 1000},
        {"n_labels", !strcmp(a->task, "seq-classification") ? a->n_labels : 1, 1, 100000},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (!in_range(r[i].v, r[i].lo, r[i].hi))
            return sk_err(SK_ERR_INVALID, "arch: %s %s = %d is out of range (%d..%d)", fam, r[i].what, r[i].v,
                          r[i].lo, r[i].hi);
    if (a->hidden % a->heads)
        return sk_err(SK_ERR_INVALID, "arch: %s hidden %d is not divisible by heads %d", fam, a->hidden, a->heads);
    if (!(a->eps > 0 && a->eps < 1))
        return sk_err(SK_ERR_INVALID, "arch: %s eps %g is out of range (0, 1)", fam, (double)a->eps);
    if (!sk_arch_linear_act(a->act))
        return sk_err(SK_ERR_UNSUPPORTED, "arch: %s activation '%s' (expected gelu, gelu_new or relu)", fam, a->act);
    for (int i = 0; a->layer_heads && i < a->n_layers; i++)
        if (!in_range(a->layer_heads[i], 1, a->heads))
            return sk_err(SK_ERR_INVALID, "arch: %s layer %d keeps %d heads (1..%d)", fam, i, a->layer_heads[i], a->heads);
    return SK_OK;
}

int sk_arch_layer_heads(const sk_arch *a, int i) { return a->layer_heads ? a->layer_heads[i] : a->heads; }

int64_t sk_arch_layer_width(const sk_arch *a, int i) { return (int64_t)sk_arch_layer_heads(a, i) * (a->hidden / a->heads); }

sk_status sk_arch_build(sk_model *m, const sk_arch *a, sk_arch_weight_fn w, void *ctx)
{
    switch (a->family) {
    case SK_FAM_BERT: return sk_arch_bert_build(m, a, w, ctx);
    case SK_FAM_GPT2: return sk_arch_gpt2_build(m, a, w, ctx);
    default: return sk_arch_check(a);   /* reports the family */
    }
}

/* ---- the builder ---- */

static void fmt_dims(char *buf, size_t size, int rank, const int64_t *dims)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, size - k, "[");
    for (int i = 0; i < rank && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (k < size) snprintf(buf + k, size - k, "]");
}

int sk_ab_weight(sk_ab *b, bool optional, int rank, const int64_t *dims, const char *fmt, ...)
{
    if (b->st) return -1;
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int id = -1;
    if ((b->st = b->wfn(b->wctx, b->m, name, rank, dims, optional, &id))) return -1;
    if (id < 0) {
        if (!optional) b->st = sk_err(SK_ERR_INVALID, "weight '%s' not found", name);
        return -1;
    }
    SK_ASSERT(id < b->m->g.n_tensors);
    const sk_tensor *t = &b->m->g.tensors[id];
    bool same = t->rank == rank;
    for (int i = 0; same && i < rank; i++) same = t->dims[i] == dims[i];
    if (!same) {
        char got[128], want[128];
        fmt_dims(got, sizeof got, t->rank, t->dims);
        fmt_dims(want, sizeof want, rank, dims);
        b->st = sk_err(SK_ERR_INVALID, "weight '%s': shape %s, expected %s from the config", t->name, got, want);
        return -1;
    }
    if (t->dtype != SK_DT_F32 || !(t->flags & SK_TF_CONST) || (!t->data && t->nbytes)) {
        b->st = sk_err(SK_ERR_INVALID, "weight '%s': expected f32 constant data, got %s%s", t->name,
                       sk_dtype_info(t->dtype)->name, t->flags & SK_TF_CONST ? "" : " without data");
        return -1;
    }
    b->m->g.tensors[id].flags |= SK_TF_WEIGHT;
    return id;
}

int sk_ab_input2(sk_ab *b, const char *name, const char *d0, const char *d1)
{
    if (b->st) return -1;
    int64_t dims[2] = {-1, -1};
    int id = sk_graph_add_tensor(&b->m->g, name, SK_DT_I64, 2, dims);
    if (id < 0) { b->st = SK_ERR_NOMEM; return -1; }
    sk_tensor *t = &b->m->g.tensors[id];
    t->dim_names[0] = sk_strdup(d0);
    t->dim_names[1] = sk_strdup(d1);
    if (!t->dim_names[0] || !t->dim_names[1] || sk_graph_add_input(&b->m->g, id)) { b->st = SK_ERR_NOMEM; return -1; }
    return id;
}

void sk_ab_output(sk_ab *b, int tid, const char *name, const char *const *dim_names)
{
    if (b->st) return;
    sk_tensor *t = &b->m->g.tensors[tid];
    char *nm = sk_strdup(name);
    if (!nm) { b->st = SK_ERR_NOMEM; return; }
    sk_free(t->name);
    t->name = nm;
    for (int i = 0, k = 0; i < t->rank && dim_names && dim_names[k]; i++) {
        if (t->dims[i] >= 0) continue;
        sk_free(t->dim_names[i]);
        if (!(t->dim_names[i] = sk_strdup(dim_names[k++]))) { b->st = SK_ERR_NOMEM; return; }
    }
    if (sk_graph_add_output(&b->m->g, tid)) b->st = SK_ERR_NOMEM;
}

int sk_ab_const_i64(sk_ab *b, const char *name, int rank, const int64_t *dims, const int64_t *v)
{
    if (b->st) return -1;
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    int64_t *data = sk_malloc((size_t)(n ? n : 1) * sizeof *data);
    if (!data) { b->st = SK_ERR_NOMEM; return -1; }
    if (n) memcpy(data, v, (size_t)n * sizeof *data);
    int id = sk_graph_add_const(&b->m->g, name, SK_DT_I64, rank, dims, data, true);
    if (id < 0) b->st = SK_ERR_NOMEM;
    return id;
}

int sk_ab_node(sk_ab *b, sk_op op, const char *name, const int *ins, int n_in, sk_dtype dt, int rank,
               const int64_t *dims, int *node)
{
    if (b->st) return -1;
    for (int i = 0; i < n_in; i++) SK_ASSERT(ins[i] >= -1 && ins[i] < b->m->g.n_tensors);
    int y = sk_graph_add_tensor(&b->m->g, name, dt, rank, dims);
    int nd = y < 0 ? -1 : sk_graph_add_node(&b->m->g, op, name, ins, n_in, &y, 1);
    if (nd < 0) { b->st = SK_ERR_NOMEM; return -1; }
    if (node) *node = nd;
    return y;
}

void sk_ab_set_i(sk_ab *b, int node, const char *attr, int64_t v)
{
    if (!b->st && sk_node_set_i(&b->m->g.nodes[node], attr, v)) b->st = SK_ERR_NOMEM;
}

void sk_ab_set_f(sk_ab *b, int node, const char *attr, float v)
{
    if (!b->st && sk_node_set_f(&b->m->g.nodes[node], attr, v)) b->st = SK_ERR_NOMEM;
}

void sk_ab_set_s(sk_ab *b, int node, const char *attr, const char *v)
{
    if (!b->st && sk_node_set_s(&b->m->g.nodes[node], attr, v)) b->st = SK_ERR_NOMEM;
}

int sk_ab_linear(sk_ab *b, const char *name, int x, int w, int bias, int wt, int64_t n, const char *act)
{
    if (b->st) return -1;
    const sk_tensor *tx = &b->m->g.tensors[x];
    int rank = tx->rank;
    int64_t dims[SK_MAX_RANK];
    SK_ASSERT(rank >= 1);
    memcpy(dims, tx->dims, sizeof dims);
    dims[rank - 1] = n;
    int ins[3] = {x, w, bias}, nd = -1;
    int y = sk_ab_node(b, SK_OP_LINEAR, name, ins, bias >= 0 ? 3 : 2, SK_DT_F32, rank, dims, &nd);
    if (y < 0) return -1;
    sk_ab_set_i(b, nd, "wt", wt);
    if (act && act[0]) sk_ab_set_s(b, nd, "act", act);
    return b->st ? -1 : y;
}

int sk_ab_layernorm(sk_ab *b, const char *name, int x, int gamma, int beta, float eps)
{
    if (b->st) return -1;
    const sk_tensor *tx = &b->m->g.tensors[x];
    int64_t dims[SK_MAX_RANK];
    int rank = tx->rank;
    memcpy(dims, tx->dims, sizeof dims);
    int ins[3] = {x, gamma, beta}, nd = -1;
    int y = sk_ab_node(b, SK_OP_LAYERNORM, name, ins, 3, SK_DT_F32, rank, dims, &nd);
    if (y < 0) return -1;
    sk_ab_set_i(b, nd, "axis", -1);
    sk_ab_set_f(b, nd, "epsilon", eps);
    return b->st ? -1 : y;
}

int sk_ab_add(sk_ab *b, const char *name, int x, int y)
{
    if (b->st) return -1;
    const sk_tensor *tx = &b->m->g.tensors[x];
    int64_t dims[SK_MAX_RANK];
    int rank = tx->rank;
    memcpy(dims, tx->dims, sizeof dims);
    int ins[2] = {x, y};
    return sk_ab_node(b, SK_OP_ADD, name, ins, 2, SK_DT_F32, rank, dims, NULL);
}
