/* quantize.c — `shrink quantize MODEL --bits 8|4 ... -o OUT`: the "quantize"
 * pass (passes/quant.c) from the command line.
 *
 * The flags become the pass's parameters (JSON), checked against its schema
 * before the model is even loaded; OUT is refused up front when it exists
 * (unless --force) or has no writer.  Then the model is loaded, the pipeline
 * (quantize, then any --pass steps) runs, OUT is written atomically and a
 * summary says what it cost: bytes of constants before and after, layers and
 * embedding tables by precision, time.  Nothing is written when anything fails.
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "formats.h"
#include "pipeline/pipeline.h"
#include "util/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink quantize MODEL --bits 8|4 -o OUT [--force] [options]\n"
            "\n"
            "Quantize the linear layers and embedding tables of MODEL (.onnx, .skm, .safetensors, a Hugging\n"
            "Face folder, .skir) and write OUT (.skm, .onnx, or .skir text IR).  The head (the layer writing\n"
            "the model's output: LM head, classifier) stays fp32 unless asked; a head tied to the token\n"
            "embedding (GPT-2) reads the quantized table, so the table is stored once.\n"
            "\n"
            "  --bits 8|4          8: int8 per output channel (default); 4: int4 in groups\n"
            "  --method M          rtn (default), gptq or awq; gptq and awq need --calib\n"
            "  --group 32|64|128   int4: input channels per scale (default 128); a layer whose K is\n"
            "                      not a multiple gets int8 instead, and the summary says so\n"
            "  --sym | --asym      int4: symmetric (no zero points) or asymmetric (default)\n"
            "  --act-bits 8|0      8: activations quantized to int8 at run time (default), 0: weight-only\n"
            "  --smoothquant A     int8: SmoothQuant with alpha A in [0, 1] (0.5 typical; needs --calib)\n"
            "  --head fp32|int8    the head's precision (default fp32)\n"
            "  --embed auto|int8|int4|fp32\n"
            "                      embedding tables (Gather over a constant): int8 a scale per row, int4\n"
            "                      in groups along the row; auto (default) = int8 with --bits 8, int4\n"
            "                      with --bits 4, fp32 with --include\n"
            "  --embed-group 32|64|128  int4 tables: values per scale (default: --group)\n"
            "  --include GLOB      only layers whose node or weight name matches (repeatable)\n"
            "  --exclude GLOB      never these layers (repeatable; wins over everything)\n"
            "  --layers JSON       per-layer overrides, e.g. '{\"h.0.*\": {\"bits\": 8}}' (mixed precision)\n"
            "  --act-order         gptq: columns by decreasing activation energy\n"
            "  --damp X            gptq: dampening fraction of mean(diag H) (default 0.01)\n"
            "  --params JSON       any other parameter of the quantize pass ('shrink passes' lists them)\n"
            "  --calib FILE        calibration data: raw text (GPT-2: windows of n tokens; BERT: one\n"
            "                      sample a line) or JSONL {\"text\": ...} / {\"input\": [...]}\n"
            "  --calib-n N         samples (default 128)\n"
            "  --calib-ctx N       tokens per window / per text (default 128 or the model's max positions)\n"
            "  --plugin LIB.so     load pass plugins (repeatable)\n"
            "  --pass NAME[=JSON]  run another pass after quantize (repeatable, in order)\n"
            "  --threads N         threads (default: all cores, or SHRINK_THREADS)\n"
            "  --json              print the summary as one JSON object\n"
            "  -o OUT              the output file      --force   overwrite OUT\n"
            "\n"
            "examples:\n"
            "  shrink quantize samples/zoo/bert-fortunes --bits 8 -o bert-int8.skm\n"
            "  shrink quantize samples/zoo/gpt2-fortunes --bits 4 --embed int8 -o gpt2-q4-e8.skm\n"
            "  shrink quantize samples/zoo/gpt2-fortunes --bits 4 --method gptq --group 64 \\\n"
            "      --calib samples/data/fortunes-calib.txt -o gpt2-q4.skm\n");
}

typedef struct counts { int int4, int8, fp32, tab4, tab8, tab32; char fp32_names[256]; } counts;

/* Linear layers by precision; fp32 ones are those with a constant f32 weight.
 * Tables: the distinct constant tables read by Gather (rank 2), by dtype. */
static void count_layers(const sk_model *m, counts *c)
{
    memset(c, 0, sizeof *c);
    size_t k = 0;
    for (int i = 0; i < m->g.n_nodes; i++) {
        const sk_node *n = &m->g.nodes[i];
        if (n->op == SK_OP_GATHER && n->in[0] >= 0) {
            const sk_tensor *t = &m->g.tensors[n->in[0]];
            bool seen = false;
            for (int j = 0; j < i && !seen; j++) seen = m->g.nodes[j].op == SK_OP_GATHER && m->g.nodes[j].in[0] == n->in[0];
            if (seen || !(t->flags & SK_TF_CONST) || t->rank != 2) continue;
            if (t->dtype == SK_DT_Q4) c->tab4++;
            else if (t->dtype == SK_DT_I8) c->tab8++;
            else if (t->dtype == SK_DT_F32) c->tab32++;
            continue;
        }
        if (n->op != SK_OP_LINEAR && n->op != SK_OP_MATMUL && n->op != SK_OP_GEMM) continue;
        if (n->n_in < 2 || n->in[1] < 0) continue;
        const sk_tensor *w = &m->g.tensors[n->in[1]];
        if (!(w->flags & SK_TF_CONST)) continue;
        if (w->dtype == SK_DT_Q4) c->int4++;
        else if (w->dtype == SK_DT_I8) c->int8++;
        else {
            c->fp32++;
            if (k < sizeof c->fp32_names)
                k += (size_t)snprintf(c->fp32_names + k, sizeof c->fp32_names - k, "%s%s", k ? ", " : "", n->name);
        }
    }
}

#define MAX_LIST 32

int cmd_quantize(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *layers = NULL, *extra = NULL;
    const char *incs[MAX_LIST], *excs[MAX_LIST], *plugins[MAX_LIST], *passes[MAX_LIST];
    int ni = 0, ne = 0, np = 0, nps = 0;
    bool force = false, json = false;
    sk_passmgr_opts po = {.progress = true};
    cJSON *p = cJSON_CreateObject();   /* flags given, as the pass's parameters */
    if (!p) return cli_fail(SK_ERR_NOMEM);
    int rc = -1;
    for (int i = 1; i < argc && rc < 0; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        char *end = NULL;
        if (cli_is_help(a)) { usage(stdout); rc = 0; }
        else if (!strcmp(a, "--bits") && has) cJSON_AddNumberToObject(p, "bits", strtol(argv[++i], &end, 10));
        else if (!strcmp(a, "--group") && has) cJSON_AddNumberToObject(p, "group", strtol(argv[++i], &end, 10));
        else if (!strcmp(a, "--act-bits") && has) cJSON_AddNumberToObject(p, "act_bits", strtol(argv[++i], &end, 10));
        else if (!strcmp(a, "--smoothquant") && has) cJSON_AddNumberToObject(p, "smoothquant", strtod(argv[++i], &end));
        else if (!strcmp(a, "--damp") && has) cJSON_AddNumberToObject(p, "damp", strtod(argv[++i], &end));
        else if (!strcmp(a, "--method") && has) cJSON_AddStringToObject(p, "method", argv[++i]);
        else if (!strcmp(a, "--head") && has) cJSON_AddStringToObject(p, "head", argv[++i]);
        else if (!strcmp(a, "--embed") && has) cJSON_AddStringToObject(p, "embed", argv[++i]);
        else if (!strcmp(a, "--embed-group") && has) cJSON_AddNumberToObject(p, "embed_group", strtol(argv[++i], &end, 10));
        else if (!strcmp(a, "--sym") || !strcmp(a, "--asym")) {
            cJSON_DeleteItemFromObject(p, "sym");
            cJSON_AddBoolToObject(p, "sym", !strcmp(a, "--sym"));
        } else if (!strcmp(a, "--act-order")) cJSON_AddTrueToObject(p, "act_order");
        else if (!strcmp(a, "--include") && has && ni < MAX_LIST) incs[ni++] = argv[++i];
        else if (!strcmp(a, "--exclude") && has && ne < MAX_LIST) excs[ne++] = argv[++i];
        else if (!strcmp(a, "--layers") && has) layers = argv[++i];
        else if (!strcmp(a, "--params") && has) extra = argv[++i];
        else if (!strcmp(a, "--plugin") && has && np < MAX_LIST) plugins[np++] = argv[++i];
        else if (!strcmp(a, "--pass") && has && nps < MAX_LIST) passes[nps++] = argv[++i];
        else if (!strcmp(a, "--calib") && has) po.calib_path = argv[++i];
        else if (!strcmp(a, "--calib-n") && has) po.calib_n = (int)strtol(argv[++i], &end, 10);
        else if (!strcmp(a, "--calib-ctx") && has) po.calib_ctx = (int)strtol(argv[++i], &end, 10);
        else if (!strcmp(a, "--threads") && has) po.threads = (int)strtol(argv[++i], &end, 10);
        else if (!strcmp(a, "-o") && has) out = argv[++i];
        else if (!strcmp(a, "--force")) force = true;
        else if (!strcmp(a, "--json")) json = true;
        else if (a[0] == '-') rc = cli_usage("quantize", "unknown option or missing value '%s'", a);
        else if (!path) path = a;
        else rc = cli_usage("quantize", "unexpected argument '%s'", a);
        if (rc < 0 && end && (*end || end == argv[i])) rc = cli_usage("quantize", "%s: '%s' is not a number", a, argv[i]);
    }
    if (rc < 0 && !path) rc = cli_usage("quantize", "missing MODEL");
    if (rc < 0 && !out) rc = cli_usage("quantize", "missing -o OUT");
    if (rc < 0 && (po.calib_n < 0 || po.calib_ctx < 0 || po.threads < 0)) rc = cli_usage("quantize", "negative value");
    const char *ext = out ? sk_path_ext(out) : "";
    if (rc < 0 && strcmp(ext, ".skm") && strcmp(ext, ".onnx") && strcmp(ext, ".skir"))
        rc = cli_usage("quantize", "OUT must end in .skm, .onnx or .skir, not '%s'", out);
    if (rc < 0 && !force && sk_file_exists(out)) {
        fprintf(stderr, "shrink: %s exists (use --force to replace it)\n", out);
        rc = 1;
    }
    /* parameters: --params first, the flags on top */
    if (rc < 0 && extra) {
        cJSON *e = cJSON_Parse(extra);
        if (!cJSON_IsObject(e)) rc = cli_usage("quantize", "--params must be a JSON object");
        for (cJSON *kv = e ? e->child : NULL; rc < 0 && kv; kv = kv->next)
            if (!cJSON_GetObjectItemCaseSensitive(p, kv->string))
                cJSON_AddItemToObject(p, kv->string, cJSON_Duplicate(kv, true));
        cJSON_Delete(e);
    }
    if (rc < 0 && layers) {
        cJSON *l = cJSON_Parse(layers);
        if (!cJSON_IsObject(l)) { cJSON_Delete(l); rc = cli_usage("quantize", "--layers must be a JSON object"); }
        else { cJSON_DeleteItemFromObject(p, "layers"); cJSON_AddItemToObject(p, "layers", l); }
    }
    if (rc < 0 && ni) { cJSON_DeleteItemFromObject(p, "include"); cJSON_AddItemToObject(p, "include", cJSON_CreateStringArray(incs, ni)); }
    if (rc < 0 && ne) { cJSON_DeleteItemFromObject(p, "exclude"); cJSON_AddItemToObject(p, "exclude", cJSON_CreateStringArray(excs, ne)); }
    char *pjson = rc < 0 ? cJSON_PrintUnformatted(p) : NULL;
    cJSON_Delete(p);
    if (rc >= 0) return rc;
    if (!pjson) return cli_fail(SK_ERR_NOMEM);

    sk_status st = SK_OK;
    for (int i = 0; i < np && !st; i++) st = sk_pass_load_plugin(plugins[i]);
    sk_pipe_step steps[1 + MAX_LIST];
    char *pass_names[MAX_LIST] = {0};
    int n = 0;
    steps[n++] = (sk_pipe_step){"quantize", pjson};
    for (int i = 0; i < nps && !st; i++) st = cli_pass_step(passes[i], &steps[n++], &pass_names[i]);
    if (!st) st = sk_passmgr_check(steps, n);
    sk_model *m = NULL;
    if (!st) st = cli_load_model(path, &m);
    size_t before = m ? cli_const_bytes(m) : 0;
    sk_passmgr_result r = {0};
    if (!st) st = sk_passmgr_run(m, steps, n, &po, &r);
    double t_write = sk_now();
    if (!st) st = cli_write_model(m, out, &(cli_write_opts){.force = force});
    t_write = sk_now() - t_write;
    if (!st) {
        size_t after = cli_const_bytes(m);
        counts c;
        count_layers(m, &c);
        char b0[32], b1[32];
        cli_human_bytes((double)before, b0, sizeof b0);
        cli_human_bytes((double)after, b1, sizeof b1);
        double ratio = after ? (double)before / (double)after : 0;
        if (json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "model", path);
            cJSON_AddStringToObject(j, "output", out);
            cJSON_AddRawToObject(j, "params", m->n_prov ? m->prov[m->n_prov - n].params_json : "{}");
            cJSON_AddNumberToObject(j, "bytes_before", (double)before);
            cJSON_AddNumberToObject(j, "bytes_after", (double)after);
            cJSON_AddNumberToObject(j, "ratio", ratio);
            cJSON *l = cJSON_AddObjectToObject(j, "layers");
            cJSON_AddNumberToObject(l, "int4", c.int4);
            cJSON_AddNumberToObject(l, "int8", c.int8);
            cJSON_AddNumberToObject(l, "fp32", c.fp32);
            cJSON *t = cJSON_AddObjectToObject(j, "tables");
            cJSON_AddNumberToObject(t, "int4", c.tab4);
            cJSON_AddNumberToObject(t, "int8", c.tab8);
            cJSON_AddNumberToObject(t, "fp32", c.tab32);
            cli_print_run_json(j, &r, t_write);
        } else {
            printf("wrote %s\n", out);
            printf("  size    %s -> %s of constants (%.2fx smaller)\n", b0, b1, ratio);
            printf("  layers  %d int4, %d int8, %d fp32%s%s%s\n", c.int4, c.int8, c.fp32, c.fp32 ? " (" : "",
                   c.fp32_names, c.fp32 ? ")" : "");
            if (c.tab4 + c.tab8 + c.tab32) printf("  tables  %d int4, %d int8, %d fp32\n", c.tab4, c.tab8, c.tab32);
            printf("  time    %.2fs (calibration data %.2fs), write %.2fs\n", r.seconds, r.calib_seconds, t_write);
        }
    }
    sk_passmgr_result_free(&r);
    sk_model_free(m);
    for (int i = 0; i < nps; i++) sk_free(pass_names[i]);
    free(pjson);
    return st ? cli_fail(st) : 0;
}
