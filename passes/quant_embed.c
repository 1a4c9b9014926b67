/* quant_embed.c — the quantize pass's embedding tables: constant f32 [V, H]
 * tables read by Gather (BERT's word / position / token-type embeddings,
 * GPT-2's wte and wpe) stored as int8 (one scale a row) or int4 (groups
 * along the row), the Gather dequantizing the rows it reads (ir.h).
 *
 * GPT-2's LM head reads wte as its W ([N, K] = [V, H], wt = 1), and a row of
 * the table is an output channel of the head, so one quantized tensor with
 * per-row (int8) or per-row-group (int4) scales serves both: the table is
 * stored once.  quant.c decides which layers are quantized and how; this file
 * only looks at tables and at the LINEARs tied to them, and runs after every
 * user-facing check, so it reports with notes, never errors.
 */
#include <string.h>
#include "quant.h"
#include "rewrite.h"

sk_status sk_qtable_rtn(const float *w, int64_t V, int64_t H, const sk_qspec *s, sk_qmat *q)
{
    const int64_t group = s->bits == 8 ? H : s->group, G = (H - 1) / group + 1;
    size_t vh = (size_t)V * (size_t)H, vg = (size_t)V * (size_t)G;
    memset(q, 0, sizeof *q);
    q->spec = (sk_qspec){s->bits, (int)group, s->bits == 8 || s->sym};
    q->N = V;
    q->K = H;
    q->codes = sk_calloc(s->bits == 8 ? vh : (vh + 1) / 2, 1);
    q->scales = sk_malloc(vg * sizeof *q->scales);
    if (!q->spec.sym) q->zeros = sk_malloc(vg);
    if (!q->codes || !q->scales || (!q->spec.sym && !q->zeros)) {
        sk_qmat_free(q);
        return SK_ERR_NOMEM;
    }
    int8_t *c8 = q->codes;
    uint8_t *c4 = q->codes;
    for (int64_t v = 0; v < V; v++)
        for (int64_t g = 0; g < G; g++) {
            int64_t lo = g * group, len = lo + group < H ? group : H - lo;
            const float *x = w + v * H + lo;
            float scale;
            int zero;
            sk_quant_grid(&q->spec, x, len, 1.0f, &scale, &zero);
            q->scales[v * G + g] = scale;
            if (q->zeros) q->zeros[v * G + g] = (uint8_t)zero;
            for (int64_t j = 0; j < len; j++) {
                int code = sk_quant_code(&q->spec, x[j], scale, zero);
                int64_t e = v * H + lo + j;
                if (s->bits == 8) c8[e] = (int8_t)code;
                else c4[e / 2] |= (uint8_t)(code << (4 * (e & 1)));
            }
        }
    return SK_OK;
}

/* ---- finding tables ---- */

typedef struct table {
    int t;                  /* the f32 [V, H] tensor */
    int64_t V, H;
    int head;               /* index in ls of the LINEAR reading it as W, or -1 */
    int other;              /* a node reading it some other way (then it stays fp32), or -1 */
} table;

static bool is_table_gather(const sk_graph *g, const sk_node *n)
{
    int64_t axis = sk_node_attr_i(n, "axis", 0);
    if (n->op != SK_OP_GATHER || n->n_in != 2 || n->in[0] < 0 || (axis != 0 && axis != -2)) return false;
    const sk_tensor *t = &g->tensors[n->in[0]];
    return (t->flags & SK_TF_CONST) && t->data && t->dtype == SK_DT_F32 && t->rank == 2 && !t->quant &&
           t->dims[0] > 0 && t->dims[1] > 0;
}

/* Every table, with who else reads it; *out: sk_free. */
static sk_status find_tables(const sk_graph *g, const sk_qlayer *ls, int n, table **out, int *n_out)
{
    table *tb = NULL;
    int nt = 0, cap = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const sk_node *nd = &g->nodes[i];
        if (!is_table_gather(g, nd)) continue;
        int j = 0;
        while (j < nt && tb[j].t != nd->in[0]) j++;
        if (j < nt) continue;
        if (sk_grow((void **)&tb, &cap, nt + 1, sizeof *tb)) { sk_free(tb); return SK_ERR_NOMEM; }
        const sk_tensor *t = &g->tensors[nd->in[0]];
        tb[nt++] = (table){nd->in[0], t->dims[0], t->dims[1], -1, -1};
    }
    for (int j = 0; j < nt; j++)
        for (int i = 0; i < g->n_nodes && tb[j].other < 0; i++) {
            const sk_node *nd = &g->nodes[i];
            for (int k = 0; k < nd->n_in && tb[j].other < 0; k++) {
                if (nd->in[k] != tb[j].t || (k == 0 && is_table_gather(g, nd))) continue;
                int l = 0;   /* the W of a LINEAR [N, K] = [V, H] (a Gemm or MatMul reading it is "other") */
                while (l < n && !(ls[l].node == i && ls[l].w == tb[j].t && ls[l].wt && k == 1 && nd->op == SK_OP_LINEAR)) l++;
                if (l < n && tb[j].head < 0) tb[j].head = l;
                else tb[j].other = i;
            }
        }
    for (int j = 0; j < nt; j++)
        for (int i = 0; i < g->n_outputs; i++)
            if (g->outputs[i] == tb[j].t) tb[j].other = g->n_nodes;   /* a graph output: kept as it is */
    *out = tb;
    *n_out = nt;
    return SK_OK;
}

/* ---- rewriting ---- */

/* Quantize table tb with spec s and point its Gathers (and the tied LINEAR
 * ls[tb->head] with act_bits, when head) at it. */
static sk_status quantize_table(sk_model *m, const table *tb, const sk_qspec *s, sk_qlayer *ls, bool head, int act_bits)
{
    sk_graph *g = &m->g;
    sk_qmat q;
    int sid, zid;
    sk_status st = sk_qtable_rtn(g->tensors[tb->t].data, tb->V, tb->H, s, &q);
    sk_qspec spec = q.spec;
    if (!st) st = sk_qmat_store(g, tb->t, &q, &sid, &zid);
    for (int i = 0; i < g->n_nodes && !st; i++)
        if (g->nodes[i].op == SK_OP_GATHER && g->nodes[i].n_in == 2 && g->nodes[i].in[0] == tb->t)
            st = sk_qnode_attach(g, i, 2, sid, zid, &spec);
    if (!st && head) {
        sk_qlayer *l = &ls[tb->head];
        st = sk_qlinear_attach(g, l->node, tb->t, l->b, sid, zid, &spec, act_bits);
        l->tied = true;
        l->selected = false;   /* done: the layer loops must not quantize it again */
    }
    return st;
}

/* Give the LINEAR ls[i] its own copy of W (it is about to be rescaled or
 * calibrated for the head's inputs, which the table must not see). */
static sk_status untie(sk_model *m, sk_qlayer *l)
{
    const sk_tensor *w = &m->g.tensors[l->w];
    int64_t dims[2] = {w->dims[0], w->dims[1]};
    int id = sk_rw_const_f32(m, m->g.nodes[l->node].name, "weight", 2, dims, w->data);
    if (id < 0) return SK_ERR_NOMEM;
    m->g.tensors[id].flags |= SK_TF_WEIGHT;
    m->g.nodes[l->node].in[1] = id;
    l->w = id;
    return SK_OK;
}

static void describe(char *buf, size_t n, const sk_qspec *s)
{
    if (s->bits == 8) snprintf(buf, n, "int8");
    else snprintf(buf, n, "int4 g%d %s", s->group, s->sym ? "sym" : "asym");
}

sk_status sk_qtables_run(sk_pass_ctx *c, sk_model *m, sk_qlayer *ls, int n, const sk_qtable_opts *o)
{
    table *tb;
    int nt;
    sk_status st = find_tables(&m->g, ls, n, &tb, &nt);
    if (st) return st;
    if (!nt && o->asked) c->note(c, "embeddings: the model has no table (Gather over a constant f32 [V, H])");
    char done[512] = "";
    size_t k = 0;
    for (int j = 0; j < nt && !st; j++) {
        table *t = &tb[j];
        sk_qlayer *l = t->head >= 0 ? &ls[t->head] : NULL;
        const char *name = m->g.tensors[t->t].name;
        if (l && l->selected && (l->method != SK_QM_RTN || (o->smooth && l->spec.bits == 8))) {
            if ((st = untie(m, l))) break;   /* before GPTQ / AWQ / SmoothQuant change W */
            c->note(c, "table '%s': the tied '%s' (%s) gets its own copy of W", name, m->g.nodes[l->node].name,
                    l->method == SK_QM_GPTQ ? "gptq" : l->method == SK_QM_AWQ ? "awq" : "smoothquant");
            l = NULL;
        }
        if (!o->bits) continue;
        if (t->other >= m->g.n_nodes) {
            c->note(c, "table '%s' kept fp32: it is also a graph output", name);
            continue;
        }
        if (t->other >= 0) {
            const sk_node *u = &m->g.nodes[t->other];
            c->note(c, "table '%s' kept fp32: it is also read by %s '%s'", name, sk_op_get(u->op)->name, u->name);
            continue;
        }
        sk_qspec s = {o->bits, o->group, o->sym};
        bool shared = false;
        int act_bits = o->act_bits;
        if (l && l->selected) {   /* the layer's own precision for the one tensor */
            s = l->spec;
            act_bits = l->act_bits;
            shared = true;
        } else if (l) {           /* an unselected head reads the table's values, activations as the other layers */
            if (s.bits == 4 && t->H % s.group) {
                c->note(c, "table '%s' kept fp32: the tied '%s' stays fp32 and cannot read int4 groups of %d "
                        "(%lld is not a multiple)", name, m->g.nodes[l->node].name, s.group, (long long)t->H);
                continue;
            }
            shared = true;
        }
        if (s.bits == 4 && t->H % 2) {
            c->note(c, "table '%s': rows of %lld values (odd) are not whole bytes in int4: int8 instead", name,
                    (long long)t->H);
            s.bits = 8;
        }
        if ((st = quantize_table(m, t, &s, ls, shared, act_bits))) break;
        char d[48];
        describe(d, sizeof d, &s);
        if (k < sizeof done)
            k += (size_t)snprintf(done + k, sizeof done - k, "%s'%s' [%lld, %lld] %s%s%s%s", k ? ", " : "", name,
                                  (long long)t->V, (long long)t->H, d, shared ? " shared with '" : "",
                                  shared ? m->g.nodes[ls[t->head].node].name : "",
                                  !shared ? "" : act_bits ? "'" : "' (weight-only)");
    }
    if (!st && k) c->note(c, "embeddings: %s", done);
    sk_free(tb);
    return st;
}
