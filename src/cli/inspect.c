/* inspect.c — `shrink inspect MODEL [--json]`: what a model is made of.
 *
 * Architecture, parameter count, bytes by dtype, an op histogram, the graph's
 * inputs and outputs with their symbolic dims, and the provenance list — as an
 * aligned table, or as one JSON object for scripts and tests.  Reads the
 * model only; the figures come from the IR (sk_model_params and the graph).
 */
#include <cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "ir/ir.h"
#include "util/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink inspect MODEL [--json]\n"
            "\n"
            "Describe MODEL (.onnx, .skm, .safetensors, a Hugging Face folder, or .skir): architecture,\n"
            "parameters (elements of weight tensors), bytes of constants by dtype, op histogram,\n"
            "inputs and outputs (symbolic dims by name), and the passes that produced it.\n"
            "\n"
            "  --json   print one JSON object with the keys source, arch, params, bytes,\n"
            "           bytes_by_dtype, tensors, nodes, ops, inputs, outputs, provenance\n"
            "\n"
            "example: shrink inspect samples/zoo/mlp-digits/model.onnx --json\n");
}

typedef struct { const char *name; int count; } op_count;

static int by_count(const void *a, const void *b)
{
    const op_count *x = a, *y = b;
    if (x->count != y->count) return y->count - x->count;
    return strcmp(x->name, y->name);
}

/* Histogram of op display names, most frequent first; returns the number of distinct ops. */
static int op_histogram(const sk_graph *g, op_count *h)
{
    int counts[SK_OP_COUNT] = {0}, n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if ((unsigned)g->nodes[i].op < SK_OP_COUNT) counts[g->nodes[i].op]++;
    for (int op = 0; op < SK_OP_COUNT; op++)
        if (counts[op]) h[n++] = (op_count){sk_op_get((sk_op)op)->name, counts[op]};
    qsort(h, (size_t)n, sizeof *h, by_count);
    return n;
}

/* "f32[batch, 4]" into buf */
static void type_str(const sk_tensor *t, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "%s", sk_dtype_info(t->dtype)->name);
    if (t->rank < 0) { snprintf(buf + k, cap - k, "[...]"); return; }
    for (int i = 0; i < t->rank && k < cap; i++) {
        const char *sep = i ? ", " : "[";
        if (t->dims[i] >= 0) k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, sep, t->dims[i]);
        else k += (size_t)snprintf(buf + k, cap - k, "%s%s", sep, t->dim_names[i] ? t->dim_names[i] : "?");
    }
    if (k < cap) snprintf(buf + k, cap - k, t->rank ? "]" : "[]");
}

static void human(double v, const char *const *units, char *buf, size_t cap)
{
    int u = 0;
    while (v >= 1000 && units[u + 1]) { v /= 1000; u++; }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f%s", v, units[u]);
}

static cJSON *tensor_list(const sk_graph *g, const int *ids, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= g->n_tensors) continue;
        const sk_tensor *t = &g->tensors[ids[i]];
        cJSON *o = cJSON_CreateObject(), *d;
        cJSON_AddStringToObject(o, "name", t->name);
        cJSON_AddStringToObject(o, "dtype", sk_dtype_info(t->dtype)->name);
        if (t->rank < 0) d = cJSON_AddNullToObject(o, "dims");
        else {
            d = cJSON_AddArrayToObject(o, "dims");
            for (int k = 0; k < t->rank; k++)
                cJSON_AddItemToArray(d, t->dims[k] >= 0 ? cJSON_CreateNumber((double)t->dims[k])
                                        : t->dim_names[k] ? cJSON_CreateString(t->dim_names[k])
                                                          : cJSON_CreateNull());
        }
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static int print_json(const sk_model *m, int64_t params, const size_t *by, size_t total, const op_count *h, int nh)
{
    const sk_arch *a = &m->arch;
    const sk_graph *g = &m->g;
    cJSON *j = cJSON_CreateObject(), *ar = cJSON_CreateObject(), *o;
    cJSON_AddStringToObject(j, "source", m->source ? m->source : "");
    cJSON_AddStringToObject(ar, "family", sk_family_name(a->family));
    char task[sizeof a->task + 1], act[sizeof a->act + 1];
    snprintf(task, sizeof task, "%.*s", (int)sizeof a->task, a->task);
    snprintf(act, sizeof act, "%.*s", (int)sizeof a->act, a->act);
    cJSON_AddStringToObject(ar, "task", task);
    cJSON_AddNumberToObject(ar, "layers", a->n_layers);
    cJSON_AddNumberToObject(ar, "hidden", a->hidden);
    cJSON_AddNumberToObject(ar, "heads", a->heads);
    cJSON_AddNumberToObject(ar, "ffn", a->ffn);
    cJSON_AddNumberToObject(ar, "vocab", a->vocab);
    cJSON_AddNumberToObject(ar, "max_pos", a->max_pos);
    cJSON_AddNumberToObject(ar, "type_vocab", a->type_vocab);
    cJSON_AddNumberToObject(ar, "labels", a->n_labels);
    if (a->labels) {
        cJSON *l = cJSON_AddArrayToObject(ar, "label_names");
        for (int i = 0; i < a->n_labels; i++) cJSON_AddItemToArray(l, cJSON_CreateString(a->labels[i] ? a->labels[i] : ""));
    }
    char eps[32];   /* the float's shortest decimal, not its double expansion */
    snprintf(eps, sizeof eps, "%.7g", a->eps);
    cJSON_AddNumberToObject(ar, "eps", strtod(eps, NULL));
    cJSON_AddStringToObject(ar, "act", act);
    if (m->tokenizer_dir) cJSON_AddStringToObject(ar, "tokenizer", m->tokenizer_dir);
    cJSON_AddItemToObject(j, "arch", ar);
    cJSON_AddNumberToObject(j, "params", (double)params);
    cJSON_AddNumberToObject(j, "bytes", (double)total);
    o = cJSON_AddObjectToObject(j, "bytes_by_dtype");
    for (int d = 0; d < SK_DT_COUNT; d++)
        if (by[d]) cJSON_AddNumberToObject(o, sk_dtype_info((sk_dtype)d)->name, (double)by[d]);
    cJSON_AddNumberToObject(j, "tensors", g->n_tensors);
    cJSON_AddNumberToObject(j, "nodes", g->n_nodes);
    o = cJSON_AddObjectToObject(j, "ops");
    for (int i = 0; i < nh; i++) cJSON_AddNumberToObject(o, h[i].name, h[i].count);
    cJSON_AddItemToObject(j, "inputs", tensor_list(g, g->inputs, g->n_inputs));
    cJSON_AddItemToObject(j, "outputs", tensor_list(g, g->outputs, g->n_outputs));
    o = cJSON_AddArrayToObject(j, "provenance");
    for (int i = 0; i < m->n_prov; i++) {
        cJSON *p = cJSON_CreateObject(), *params_j = cJSON_Parse(m->prov[i].params_json ? m->prov[i].params_json : "");
        cJSON_AddStringToObject(p, "pass", m->prov[i].pass ? m->prov[i].pass : "");
        if (params_j) cJSON_AddItemToObject(p, "params", params_j);
        else cJSON_AddStringToObject(p, "params", m->prov[i].params_json ? m->prov[i].params_json : "");
        cJSON_AddItemToArray(o, p);
    }
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!s) return cli_fail(sk_err(SK_ERR_NOMEM, "out of memory printing JSON"));
    puts(s);
    free(s);
    return 0;
}

static void print_tensors(const char *label, const sk_graph *g, const int *ids, int n)
{
    if (!n) printf("%-10s (none)\n", label);
    for (int i = 0; i < n; i++) {
        char ty[256];
        if (ids[i] < 0 || ids[i] >= g->n_tensors) continue;
        type_str(&g->tensors[ids[i]], ty, sizeof ty);
        printf("%-10s %-24s %s\n", i ? "" : label, g->tensors[ids[i]].name, ty);
    }
}

static void print_table(const sk_model *m, int64_t params, const size_t *by, size_t total, const op_count *h, int nh)
{
    static const char *const count_units[] = {"", "k", "M", "G", "T", NULL};
    static const char *const byte_units[] = {" B", "kB", "MB", "GB", "TB", NULL};
    const sk_arch *a = &m->arch;
    const sk_graph *g = &m->g;
    char buf[64];
    printf("%-10s %s\n", "source", m->source ? m->source : "-");
    printf("%-10s %s", "arch", sk_family_name(a->family));
    if (a->task[0]) printf(" %.*s", (int)sizeof a->task, a->task);
    const struct { const char *k; int v; } f[] = {
        {"layers", a->n_layers}, {"hidden", a->hidden}, {"heads", a->heads}, {"ffn", a->ffn},
        {"vocab", a->vocab}, {"max_pos", a->max_pos}, {"labels", a->n_labels},
    };
    const char *sep = ": ";
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v) { printf("%s%s %d", sep, f[i].k, f[i].v); sep = ", "; }
    if (a->labels && a->n_labels > 0) {
        printf(" (");
        for (int i = 0; i < a->n_labels && i < 8; i++) printf("%s%s", i ? ", " : "", a->labels[i] ? a->labels[i] : "");
        printf("%s)", a->n_labels > 8 ? ", ..." : "");
    }
    if (a->act[0]) printf("%sact %.*s", sep, (int)sizeof a->act, a->act);
    printf("\n");
    human((double)params, count_units, buf, sizeof buf);
    printf("%-10s %" PRId64 "%s%s%s\n", "params", params, params >= 1000 ? " (" : "", params >= 1000 ? buf : "",
           params >= 1000 ? ")" : "");
    human((double)total, byte_units, buf, sizeof buf);
    printf("%-10s %zu%s%s%s", "bytes", total, total >= 1000 ? " (" : "", total >= 1000 ? buf : "", total >= 1000 ? ")" : "");
    sep = ": ";
    for (int d = 0; d < SK_DT_COUNT; d++)
        if (by[d]) { printf("%s%s %zu", sep, sk_dtype_info((sk_dtype)d)->name, by[d]); sep = ", "; }
    printf("\n%-10s %d tensors, %d nodes\n", "graph", g->n_tensors, g->n_nodes);
    for (int i = 0; i < nh; i++) printf("%-10s %-24s %d\n", i ? "" : "ops", h[i].name, h[i].count);
    print_tensors("inputs", g, g->inputs, g->n_inputs);
    print_tensors("outputs", g, g->outputs, g->n_outputs);
    if (!m->n_prov) printf("%-10s (none)\n", "provenance");
    for (int i = 0; i < m->n_prov; i++)
        printf("%-10s %-24s %s\n", i ? "" : "provenance", m->prov[i].pass ? m->prov[i].pass : "",
               m->prov[i].params_json ? m->prov[i].params_json : "");
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) { usage(stdout); return 0; }
        if (!strcmp(a, "--json")) json = true;
        else if (a[0] == '-' && a[1]) return cli_usage("inspect", "unknown option '%s'", a);
        else if (!path) path = a;
        else return cli_usage("inspect", "unexpected argument '%s'", a);
    }
    if (!path) return cli_usage("inspect", "missing MODEL");
    sk_model *m;
    sk_status st = cli_load_model(path, &m);
    if (st) return cli_fail(st);
    size_t by[SK_DT_COUNT], total = 0;
    int64_t params = sk_model_params(m, by);
    for (int d = 0; d < SK_DT_COUNT; d++) total += by[d];
    op_count h[SK_OP_COUNT];
    int nh = op_histogram(&m->g, h);
    int rc = 0;
    if (json) rc = print_json(m, params, by, total, h, nh);
    else print_table(m, params, by, total, h, nh);
    sk_model_free(m);
    return rc;
}
