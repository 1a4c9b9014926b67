/* inspect.c — `shrink inspect MODEL [--json] [--after PASSES [--graph]]`:
 * what a model is made of.
 *
 * Architecture, parameter count, bytes by dtype, an op histogram, the graph's
 * inputs and outputs with their symbolic dims, and the provenance list — as an
 * aligned table, or as one JSON object for scripts and tests.  Reads the
 * model only; the figures come from the IR (sk_model_params and the graph).
 * With --after, the passes run first (through the pass manager, nothing is
 * written) and their summaries are shown with the graph they left.
 */
#include <cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "ir/ir.h"
#include "pipeline/pipeline.h"
#include "util/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink inspect MODEL [--json] [--after PASS[,PASS...] [--graph]]\n"
            "\n"
            "Describe MODEL (.onnx, .skm, .safetensors, a Hugging Face folder, or .skir): architecture,\n"
            "parameters (elements of weight tensors), bytes of constants by dtype, op histogram,\n"
            "inputs and outputs (symbolic dims by name), and the passes that produced it.\n"
            "\n"
            "  --json   print one JSON object with the keys source, arch, params, bytes,\n"
            "           bytes_by_dtype, tensors, nodes, ops, inputs, outputs, provenance\n"
            "           (and passes, ir with --after, --graph)\n"
            "  --after PASS[,PASS...]  run these passes first (NAME or NAME=JSON each, e.g. fuse or\n"
            "           fold,fuse={\"qkv_concat\":true}) and describe the graph they leave, with\n"
            "           each pass's summary (what fused and how often); nothing is written\n"
            "  --graph  with --after: print the graph too, as text IR (constants' values left out)\n"
            "\n"
            "example: shrink inspect samples/zoo/mlp-digits/model.onnx --json\n"
            "         shrink inspect build/zoo/bert-fortunes/model.onnx --after fuse\n");
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

/* The pass summaries: notes "pass: text" grouped by pass, in pipeline order. */
static cJSON *passes_json(const sk_model *m, int n_steps, const sk_passmgr_result *r)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = m->n_prov - n_steps; i < m->n_prov; i++) {
        if (i < 0) continue;
        const char *name = m->prov[i].pass ? m->prov[i].pass : "";
        cJSON *p = cJSON_CreateObject(), *notes = cJSON_CreateArray();
        cJSON_AddStringToObject(p, "pass", name);
        size_t len = strlen(name);
        for (int k = 0; r && k < r->n_notes; k++)
            if (!strncmp(r->notes[k], name, len) && !strncmp(r->notes[k] + len, ": ", 2))
                cJSON_AddItemToArray(notes, cJSON_CreateString(r->notes[k] + len + 2));
        cJSON_AddItemToObject(p, "notes", notes);
        cJSON_AddItemToArray(a, p);
    }
    return a;
}

static char *ir_text(const sk_model *m)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    if (!f) return NULL;
    sk_status st = sk_ir_print(m, f, false);
    fclose(f);
    if (st) { free(s); return NULL; }
    return s;
}

typedef struct after_info { int n_steps; const sk_passmgr_result *r; bool graph; } after_info;

static int print_json(const sk_model *m, int64_t params, const size_t *by, size_t total, const op_count *h, int nh,
                      const after_info *af)
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
    if (af->n_steps) cJSON_AddItemToObject(j, "passes", passes_json(m, af->n_steps, af->r));
    if (af->graph) {
        char *ir = ir_text(m);
        cJSON_AddStringToObject(j, "ir", ir ? ir : "");
        free(ir);
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

static void print_table(const sk_model *m, int64_t params, const size_t *by, size_t total, const op_count *h, int nh,
                        const after_info *af)
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
    for (int i = 0; af->r && i < af->r->n_notes; i++) printf("%-10s %s\n", i ? "" : "passes", af->r->notes[i]);
    if (af->graph) {
        printf("\n");
        fflush(stdout);
        if (sk_ir_print(m, stdout, false)) fprintf(stderr, "shrink: %s\n", sk_errmsg());
    }
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL, *after = NULL;
    bool json = false, graph = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) { usage(stdout); return 0; }
        if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--after") && i + 1 < argc) after = argv[++i];
        else if (!strcmp(a, "--graph")) graph = true;
        else if (a[0] == '-' && a[1]) return cli_usage("inspect", "unknown option '%s'", a);
        else if (!path) path = a;
        else return cli_usage("inspect", "unexpected argument '%s'", a);
    }
    if (!path) return cli_usage("inspect", "missing MODEL");
    if (graph && !after) return cli_usage("inspect", "--graph goes with --after");
    sk_model *m;
    sk_status st = cli_load_model(path, &m);
    if (st) return cli_fail(st);
    sk_passmgr_result r = {0};
    after_info af = {0, NULL, graph};
    if (after) {
        int prov0 = m->n_prov;
        st = cli_run_passes(m, after, true, &r);
        af.n_steps = m->n_prov - prov0;
        af.r = &r;
        if (st) {
            sk_passmgr_result_free(&r);
            sk_model_free(m);
            return st == SK_ERR_USAGE ? cli_usage("inspect", "%s", sk_errmsg()) : cli_fail(st);
        }
    }
    size_t by[SK_DT_COUNT], total = 0;
    int64_t params = sk_model_params(m, by);
    for (int d = 0; d < SK_DT_COUNT; d++) total += by[d];
    op_count h[SK_OP_COUNT];
    int nh = op_histogram(&m->g, h);
    int rc = 0;
    if (json) rc = print_json(m, params, by, total, h, nh, &af);
    else print_table(m, params, by, total, h, nh, &af);
    sk_passmgr_result_free(&r);
    sk_model_free(m);
    return rc;
}

sk_status cli_run_passes(sk_model *m, const char *list, bool quiet, sk_passmgr_result *r)
{
    enum { MAX_STEPS = 32 };
    sk_pipe_step steps[MAX_STEPS];
    char *buf = sk_strdup(list), *p = buf;
    int n = 0;
    if (!buf) return SK_ERR_NOMEM;
    while (*p) {   /* NAME or NAME=JSON, split at commas outside the JSON */
        while (*p == ',' || *p == ' ') p++;
        if (!*p) break;
        if (n == MAX_STEPS) { sk_free(buf); return sk_err(SK_ERR_USAGE, "more than %d passes in '%s'", MAX_STEPS, list); }
        char *name = p, *json = NULL;
        int depth = 0;
        for (; *p && (depth || *p != ','); p++) {
            if (*p == '=' && !json && !depth) { *p = 0; json = p + 1; }
            else if (*p == '{' || *p == '[') depth++;
            else if (*p == '}' || *p == ']') depth--;
        }
        if (*p) *p++ = 0;
        steps[n++] = (sk_pipe_step){name, json};
    }
    sk_status st = n ? SK_OK : sk_err(SK_ERR_USAGE, "no pass named in '%s'", list);
    if (!st && (st = sk_passmgr_check(steps, n))) st = sk_err_prefix(SK_ERR_USAGE, "%s", list);
    sk_passmgr_opts o = {.quiet = quiet};
    if (!st) st = sk_passmgr_run(m, steps, n, &o, r);
    sk_free(buf);
    return st;
}
