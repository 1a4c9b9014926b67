/* verify.c — sk_graph_verify: every invariant of a graph, checked.
 *
 * Run after import and between passes (debug builds run it after each pass).
 * A failure names the node or tensor so a broken pass is found at once.
 */
#include <string.h>
#include "ir/ir.h"
#include "util/util.h"

sk_status sk_graph_verify(const sk_graph *g)
{
    sk_status st = SK_OK;
    /* producer[t] = node that writes t, or -1 */
    int *producer = sk_malloc((size_t)(g->n_tensors ? g->n_tensors : 1) * sizeof(int));
    if (!producer) return SK_ERR_NOMEM;
    for (int i = 0; i < g->n_tensors; i++) producer[i] = -1;

    for (int i = 0; i < g->n_tensors && !st; i++) {
        const sk_tensor *t = &g->tensors[i];
        if (t->rank > SK_MAX_RANK || t->rank < -1)
            st = sk_err(SK_ERR_INVALID, "tensor '%s': bad rank %d", t->name, t->rank);
        else if ((unsigned)t->dtype >= SK_DT_COUNT)
            st = sk_err(SK_ERR_INVALID, "tensor '%s': bad dtype", t->name);
        else if (t->flags & SK_TF_CONST) {
            size_t nb;
            int64_t n = sk_tensor_numel(t);
            if (!t->data && t->nbytes)
                st = sk_err(SK_ERR_INVALID, "tensor '%s': constant without data", t->name);
            else if (!t->quant && (n < 0 || !sk_dtype_nbytes(t->dtype, n, &nb) || nb != t->nbytes))
                st = sk_err(SK_ERR_INVALID, "tensor '%s': %zu bytes of data for its shape", t->name, t->nbytes);
        }
    }
    for (int ni = 0; ni < g->n_nodes && !st; ni++) {
        const sk_node *n = &g->nodes[ni];
        const sk_op_info *oi;
        if ((unsigned)n->op >= SK_OP_COUNT) { st = sk_err(SK_ERR_INVALID, "node '%s': bad op", n->name); break; }
        oi = sk_op_get(n->op);
        if (n->n_in < oi->min_in || (oi->max_in >= 0 && n->n_in > oi->max_in))
            st = sk_err(SK_ERR_INVALID, "node '%s' (%s): %d inputs, expected %d..%d", n->name, oi->name, n->n_in,
                        oi->min_in, oi->max_in);
        else if (n->n_out < oi->min_out || (oi->max_out >= 0 && n->n_out > oi->max_out))
            st = sk_err(SK_ERR_INVALID, "node '%s' (%s): %d outputs, expected %d..%d", n->name, oi->name, n->n_out,
                        oi->min_out, oi->max_out);
        for (int k = 0; k < n->n_in && !st; k++) {
            int t = n->in[k];
            if (t == -1) continue;
            if (t < 0 || t >= g->n_tensors)
                st = sk_err(SK_ERR_INVALID, "node '%s' (%s): input %d has bad id %d", n->name, oi->name, k, t);
            else if (!(g->tensors[t].flags & (SK_TF_CONST | SK_TF_INPUT)) && producer[t] < 0)
                st = sk_err(SK_ERR_INVALID, "node '%s' (%s): input %d '%s' is used before it is produced", n->name,
                            oi->name, k, g->tensors[t].name);
        }
        for (int k = 0; k < n->n_out && !st; k++) {
            int t = n->out[k];
            if (t == -1) continue;
            if (t < 0 || t >= g->n_tensors)
                st = sk_err(SK_ERR_INVALID, "node '%s' (%s): output %d has bad id %d", n->name, oi->name, k, t);
            else if (producer[t] >= 0)
                st = sk_err(SK_ERR_INVALID, "tensor '%s' is produced by both '%s' and '%s'", g->tensors[t].name,
                            g->nodes[producer[t]].name, n->name);
            else if (g->tensors[t].flags & (SK_TF_CONST | SK_TF_INPUT))
                st = sk_err(SK_ERR_INVALID, "node '%s' (%s) writes constant or input '%s'", n->name, oi->name,
                            g->tensors[t].name);
            else
                producer[t] = ni;
        }
    }
    for (int i = 0; i < g->n_inputs && !st; i++)
        if (g->inputs[i] < 0 || g->inputs[i] >= g->n_tensors)
            st = sk_err(SK_ERR_INVALID, "graph input %d has bad id", i);
    for (int i = 0; i < g->n_outputs && !st; i++) {
        int t = g->outputs[i];
        if (t < 0 || t >= g->n_tensors)
            st = sk_err(SK_ERR_INVALID, "graph output %d has bad id", i);
        else if (producer[t] < 0 && !(g->tensors[t].flags & (SK_TF_CONST | SK_TF_INPUT)))
            st = sk_err(SK_ERR_INVALID, "graph output '%s' is never produced", g->tensors[t].name);
    }
    sk_free(producer);
    return st;
}
