/* prune.c — `shrink prune MODEL --sparsity S ... -o OUT`: the pruning passes
 * (passes/prune.c, passes/prune_structured.c) from the command line.
 *
 * Flags become the passes' parameters (JSON): --heads / --ffn a
 * "prune_structured" step, --sparsity / --nm a "prune" step after it, then
 * any --pass steps (e.g. --pass quantize='{"bits": 8}'), all run by the pass
 * manager as one pipeline.  What can be checked without the model (the
 * parameter schemas, sparsity in [0, 1), the N:M form, OUT) is checked before
 * the model is loaded; the rest (patterns, head counts, calibration data) by
 * the passes before they change anything.  OUT is written atomically; the
 * summary says what it cost: parameters and bytes before and after, the
 * sparsity of each layer, heads per layer, time.
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../passes/prune.h"
#include "cli/cli.h"
#include "formats.h"
#include "pipeline/pipeline.h"
#include "util/util.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink prune MODEL [--sparsity S] [--method M] [--nm N:M] [--heads F] [--ffn F] -o OUT [options]\n"
            "\n"
            "Prune MODEL (.onnx, .skm, .safetensors, a Hugging Face folder, .skir) and write OUT (.skm,\n"
            ".onnx, .skir, or a Hugging Face checkpoint: a .safetensors file or a folder ending in '/').\n"
            "Unstructured / N:M pruning zeroes weights of the linear layers (the head - LM head,\n"
            "classifier - is left alone unless --include names it); structured pruning removes\n"
            "attention heads and FFN neurons, so the matrices themselves get smaller.\n"
            "\n"
            "unstructured (pass \"prune\"):\n"
            "  --sparsity S        fraction of each layer's weights set to zero, in [0, 1)\n"
            "  --method M          magnitude (default, no data), wanda or sparsegpt (need --calib)\n"
            "  --nm N:M            semi-structured: drop N of every M consecutive inputs (2:4, 4:8)\n"
            "  --scope layer|global  magnitude: rank within each layer (default) or over all of them\n"
            "  --include GLOB      only layers whose node or weight name matches (repeatable)\n"
            "  --exclude GLOB      never these layers (repeatable)\n"
            "structured (pass \"prune_structured\", needs --calib):\n"
            "  --heads F           attention heads to remove: a fraction of each layer's, or a count\n"
            "  --ffn F             FFN neurons to remove: a fraction of each layer's, or a count\n"
            "  --no-uniform        rank heads / neurons over the whole model (layers end up different)\n"
            "  --score output|layer  heads: by the model's output with the head removed (default)\n"
            "                      or by the error it adds to its layer's output (faster)\n"
            "  --no-compensate     do not fold a removed unit's mean output into the next bias\n"
            "common:\n"
            "  --calib FILE        calibration data: raw text (GPT-2: windows; BERT: one sample a line)\n"
            "                      or JSONL {\"text\": ...}\n"
            "  --calib-n N         samples (default 128)     --calib-ctx N  tokens per sample (default 128)\n"
            "  --params JSON       other parameters of the prune pass ('shrink passes' lists them)\n"
            "  --pass NAME[=JSON]  run another pass afterwards (repeatable), e.g. --pass quantize='{\"bits\":8}'\n"
            "  --plugin LIB.so     load pass plugins (repeatable)\n"
            "  --threads N         threads (default: all cores, or SHRINK_THREADS)\n"
            "  --zstd LEVEL        .skm: compress payloads (sparse tensors are stored as bitmask +\n"
            "                      non-zeros either way)\n"
            "  --json              print the summary as one JSON object\n"
            "  -o OUT              the output      --force   overwrite OUT\n"
            "\n"
            "examples:\n"
            "  shrink prune samples/zoo/gpt2-fortunes --sparsity 0.5 --method wanda \\\n"
            "      --calib samples/data/fortunes-calib.txt -o gpt2-sparse.skm\n"
            "  shrink prune samples/zoo/bert-fortunes --heads 0.5 --ffn 0.3 \\\n"
            "      --calib samples/data/fortunes-calib.txt -o bert-small.skm\n");
}

/* Where OUT goes: by extension, a folder for a Hugging Face checkpoint. */
/* Non-zero parameters: every weight element that is not 0.0 (dense after structured pruning). */
static int64_t nonzero_params(const sk_model *m)
{
    int64_t n = 0;
    for (int i = 0; i < m->g.n_tensors; i++) {
        const sk_tensor *t = &m->g.tensors[i];
        if (!(t->flags & SK_TF_WEIGHT) || !(t->flags & SK_TF_CONST) || !t->data) continue;
        int64_t k = sk_tensor_numel(t);
        n += t->dtype == SK_DT_F32 ? k - sk_prune_count_zeros(t->data, k) : k;
    }
    return n;
}

/* One line (or JSON object) per linear layer with a constant weight: shape and sparsity. */
static void layer_table(const sk_model *m, cJSON *arr)
{
    const sk_graph *g = &m->g;
    if (!arr) printf("  layer                                           shape          zeros\n");
    for (int i = 0; i < g->n_nodes; i++) {
        const sk_node *n = &g->nodes[i];
        if ((n->op != SK_OP_LINEAR && n->op != SK_OP_MATMUL && n->op != SK_OP_GEMM) || n->n_in < 2 || n->in[1] < 0) continue;
        const sk_tensor *w = &g->tensors[n->in[1]];
        if (!(w->flags & SK_TF_CONST) || w->rank != 2 || !w->data) continue;
        int64_t cnt = sk_tensor_numel(w), z = 0;
        if (w->dtype == SK_DT_F32) z = sk_prune_count_zeros(w->data, cnt);
        else if (w->dtype == SK_DT_I8)
            for (int64_t k = 0; k < cnt; k++) z += ((const int8_t *)w->data)[k] == 0;
        double frac = cnt ? (double)z / (double)cnt : 0;
        if (arr) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", n->name);
            cJSON *s = cJSON_AddArrayToObject(o, "shape");
            cJSON_AddItemToArray(s, cJSON_CreateNumber((double)w->dims[0]));
            cJSON_AddItemToArray(s, cJSON_CreateNumber((double)w->dims[1]));
            cJSON_AddStringToObject(o, "dtype", sk_dtype_info(w->dtype)->name);
            cJSON_AddNumberToObject(o, "sparsity", frac);
            cJSON_AddItemToArray(arr, o);
        } else {
            char shape[32];
            snprintf(shape, sizeof shape, "%lldx%lld", (long long)w->dims[0], (long long)w->dims[1]);
            printf("  %-47s %-13s %5.1f%%%s\n", n->name, shape, 100 * frac, w->dtype == SK_DT_F32 ? "" : " (quantized)");
        }
    }
}

static void heads_line(const sk_model *m, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < m->g.n_nodes && k < cap; i++)
        if (m->g.nodes[i].op == SK_OP_ATTENTION)
            k += (size_t)snprintf(buf + k, cap - k, "%s%lld", k ? " " : "", (long long)sk_node_attr_i(&m->g.nodes[i], "num_heads", 0));
}

#define MAX_LIST 32

int cmd_prune(int argc, char **argv)
{
    const char *path = NULL, *out = NULL, *extra = NULL, *nm = NULL;
    const char *incs[MAX_LIST], *excs[MAX_LIST], *plugins[MAX_LIST], *passes[MAX_LIST];
    int ni = 0, ne = 0, np = 0, nps = 0, zstd = 0;
    bool force = false, json = false;
    sk_passmgr_opts po = {.progress = true};
    cJSON *p = cJSON_CreateObject(), *ps = cJSON_CreateObject();   /* prune, prune_structured */
    if (!p || !ps) { cJSON_Delete(p); cJSON_Delete(ps); return cli_fail(SK_ERR_NOMEM); }
    int rc = -1;
    double sparsity = 0;
    bool has_sparsity = false;
    for (int i = 1; i < argc && rc < 0; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        char *end = NULL;
        if (cli_is_help(a)) { usage(stdout); rc = 0; }
        else if (!strcmp(a, "--sparsity") && has) {
            cJSON_AddNumberToObject(p, "sparsity", sparsity = strtod(argv[++i], &end));
            has_sparsity = true;
        } else if (!strcmp(a, "--method") && has) cJSON_AddStringToObject(p, "method", argv[++i]);
        else if (!strcmp(a, "--nm") && has) cJSON_AddStringToObject(p, "nm", nm = argv[++i]);
        else if (!strcmp(a, "--scope") && has) cJSON_AddStringToObject(p, "scope", argv[++i]);
        else if (!strcmp(a, "--heads") && has) cJSON_AddNumberToObject(ps, "heads", strtod(argv[++i], &end));
        else if (!strcmp(a, "--ffn") && has) cJSON_AddNumberToObject(ps, "ffn", strtod(argv[++i], &end));
        else if (!strcmp(a, "--score") && has) cJSON_AddStringToObject(ps, "score", argv[++i]);
        else if (!strcmp(a, "--no-uniform")) cJSON_AddFalseToObject(ps, "uniform");
        else if (!strcmp(a, "--no-compensate")) cJSON_AddFalseToObject(ps, "compensate");
        else if (!strcmp(a, "--include") && has && ni < MAX_LIST) incs[ni++] = argv[++i];
        else if (!strcmp(a, "--exclude") && has && ne < MAX_LIST) excs[ne++] = argv[++i];
        else if (!strcmp(a, "--params") && has) extra = argv[++i];
        else if (!strcmp(a, "--plugin") && has && np < MAX_LIST) plugins[np++] = argv[++i];
        else if (!strcmp(a, "--pass") && has && nps < MAX_LIST) passes[nps++] = argv[++i];
        else if (!strcmp(a, "--calib") && has) po.calib_path = argv[++i];
        else if (!strcmp(a, "--calib-n") && has) po.calib_n = (int)strtol(argv[++i], &end, 10);
        else if (!strcmp(a, "--calib-ctx") && has) po.calib_ctx = (int)strtol(argv[++i], &end, 10);
        else if (!strcmp(a, "--threads") && has) po.threads = (int)strtol(argv[++i], &end, 10);
        else if (!strcmp(a, "--zstd") && has) zstd = (int)strtol(argv[++i], &end, 10);
        else if (!strcmp(a, "-o") && has) out = argv[++i];
        else if (!strcmp(a, "--force")) force = true;
        else if (!strcmp(a, "--json")) json = true;
        else if (a[0] == '-') rc = cli_usage("prune", "unknown option or missing value '%s'", a);
        else if (!path) path = a;
        else rc = cli_usage("prune", "unexpected argument '%s'", a);
        if (rc < 0 && end && (*end || end == argv[i])) rc = cli_usage("prune", "%s: '%s' is not a number", a, argv[i]);
    }
    bool unstructured = cJSON_GetArraySize(p) > 0 || extra || ni || ne, structured = cJSON_GetArraySize(ps) > 0;
    if (rc < 0 && !path) rc = cli_usage("prune", "missing MODEL");
    if (rc < 0 && !out) rc = cli_usage("prune", "missing -o OUT");
    if (rc < 0 && !unstructured && !structured)
        rc = cli_usage("prune", "nothing to prune: give --sparsity, --nm, --heads or --ffn");
    if (rc < 0 && unstructured && !has_sparsity && !nm && !(extra && strstr(extra, "sparsity")))
        rc = cli_usage("prune", "missing --sparsity S (or --nm N:M)");
    if (rc < 0 && (po.calib_n < 0 || po.calib_ctx < 0 || po.threads < 0 || zstd < 0 || zstd > 22))
        rc = cli_usage("prune", "a value out of range (negative count, or --zstd outside 0..22)");
    const cJSON *meth = cJSON_GetObjectItemCaseSensitive(p, "method");
    if (rc < 0 && !po.calib_path && structured) rc = cli_usage("prune", "--heads / --ffn need calibration data: give --calib FILE");
    if (rc < 0 && !po.calib_path && cJSON_IsString(meth) && strcmp(meth->valuestring, "magnitude"))
        rc = cli_usage("prune", "method %s needs calibration data: give --calib FILE", meth->valuestring);
    if (rc < 0 && !cli_can_write(out))
        rc = cli_usage("prune", "OUT must end in .skm, .onnx, .skir or .safetensors, or be a folder ('dir/'), not '%s'", out);
    if (rc < 0 && !force && sk_file_exists(out) && !sk_is_dir(out)) {
        fprintf(stderr, "shrink: %s exists (use --force to replace it)\n", out);
        rc = 1;
    }
    /* what needs no model, checked now: the same checks (and words) as the passes' */
    if (rc < 0 && has_sparsity && !nm) {
        sk_status st = sk_prune_check_sparsity(sparsity);
        if (st) rc = cli_fail(sk_err_prefix(st, "prune"));
    }
    if (rc < 0 && nm) {
        int n, m;
        sk_status st = sk_prune_parse_nm(nm, &n, &m);
        if (st) rc = cli_fail(sk_err_prefix(st, "prune"));
    }
    if (rc < 0 && extra) {
        cJSON *e = cJSON_Parse(extra);
        if (!cJSON_IsObject(e)) rc = cli_usage("prune", "--params must be a JSON object");
        for (cJSON *kv = e ? e->child : NULL; rc < 0 && kv; kv = kv->next)
            if (!cJSON_GetObjectItemCaseSensitive(p, kv->string)) cJSON_AddItemToObject(p, kv->string, cJSON_Duplicate(kv, true));
        cJSON_Delete(e);
    }
    if (rc < 0 && ni) cJSON_AddItemToObject(p, "include", cJSON_CreateStringArray(incs, ni));
    if (rc < 0 && ne) cJSON_AddItemToObject(p, "exclude", cJSON_CreateStringArray(excs, ne));
    char *pjson = rc < 0 ? cJSON_PrintUnformatted(p) : NULL, *psjson = rc < 0 ? cJSON_PrintUnformatted(ps) : NULL;
    cJSON_Delete(p);
    cJSON_Delete(ps);
    if (rc >= 0) { free(pjson); free(psjson); return rc; }
    if (!pjson || !psjson) { free(pjson); free(psjson); return cli_fail(SK_ERR_NOMEM); }

    sk_status st = SK_OK;
    for (int i = 0; i < np && !st; i++) st = sk_pass_load_plugin(plugins[i]);
    sk_pipe_step steps[2 + MAX_LIST];
    char *pass_names[MAX_LIST] = {0};
    int n = 0;
    if (structured) steps[n++] = (sk_pipe_step){"prune_structured", psjson};
    if (unstructured) steps[n++] = (sk_pipe_step){"prune", pjson};
    for (int i = 0; i < nps && !st; i++) st = cli_pass_step(passes[i], &steps[n++], &pass_names[i]);
    if (!st) st = sk_passmgr_check(steps, n);
    sk_model *m = NULL;
    if (!st) st = cli_load_model(path, &m);
    size_t bytes0 = m ? cli_const_bytes(m) : 0;
    int64_t params0 = m ? sk_model_params(m, NULL) : 0, nz0 = m ? nonzero_params(m) : 0;
    char heads0[256] = "";
    if (m) heads_line(m, heads0, sizeof heads0);
    sk_passmgr_result r = {0};
    if (!st) st = sk_passmgr_run(m, steps, n, &po, &r);
    double t_write = sk_now();
    if (!st) st = cli_write_model(m, out, &(cli_write_opts){.force = force, .zstd_level = zstd});
    t_write = sk_now() - t_write;
    if (!st) {
        size_t bytes1 = cli_const_bytes(m);
        int64_t params1 = sk_model_params(m, NULL), nz1 = nonzero_params(m);
        long long disk0 = cli_path_bytes(path), disk1 = cli_path_bytes(out);
        char heads1[256];
        heads_line(m, heads1, sizeof heads1);
        if (json) {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "model", path);
            cJSON_AddStringToObject(j, "output", out);
            cJSON *pa = cJSON_AddArrayToObject(j, "passes");
            for (int i = 0; i < m->n_prov; i++) {
                if (!strcmp(m->prov[i].pass, "prune_structured.layers")) continue;
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "pass", m->prov[i].pass);
                cJSON_AddRawToObject(e, "params", m->prov[i].params_json);
                cJSON_AddItemToArray(pa, e);
            }
            cJSON_AddNumberToObject(j, "params_before", (double)params0);
            cJSON_AddNumberToObject(j, "params_after", (double)params1);
            cJSON_AddNumberToObject(j, "nonzero_before", (double)nz0);
            cJSON_AddNumberToObject(j, "nonzero_after", (double)nz1);
            cJSON_AddNumberToObject(j, "bytes_before", (double)bytes0);
            cJSON_AddNumberToObject(j, "bytes_after", (double)bytes1);
            cJSON_AddNumberToObject(j, "file_bytes_before", (double)disk0);
            cJSON_AddNumberToObject(j, "file_bytes_after", (double)disk1);
            cJSON_AddStringToObject(j, "heads_before", heads0);
            cJSON_AddStringToObject(j, "heads_after", heads1);
            layer_table(m, cJSON_AddArrayToObject(j, "layers"));
            cli_print_run_json(j, &r, t_write);
        } else {
            char a0[32], a1[32], d0[32], d1[32];
            cli_human_bytes((double)bytes0, a0, sizeof a0);
            cli_human_bytes((double)bytes1, a1, sizeof a1);
            cli_human_bytes((double)disk0, d0, sizeof d0);
            cli_human_bytes((double)disk1, d1, sizeof d1);
            printf("wrote %s\n", out);
            printf("  params  %lld -> %lld (%.1f%%), non-zero %lld -> %lld (%.1f%%)\n", (long long)params0,
                   (long long)params1, params0 ? 100.0 * (double)params1 / (double)params0 : 0.0, (long long)nz0,
                   (long long)nz1, nz0 ? 100.0 * (double)nz1 / (double)nz0 : 0.0);
            printf("  bytes   %s -> %s of constants in memory; on disk %s -> %s (%.2fx smaller)\n", a0, a1, d0, d1,
                   disk1 > 0 && disk0 > 0 ? (double)disk0 / (double)disk1 : 0.0);
            if (heads0[0] && strcmp(heads0, heads1)) printf("  heads   per layer %s -> %s\n", heads0, heads1);
            layer_table(m, NULL);
            printf("  time    %.2fs (calibration data %.2fs), write %.2fs\n", r.seconds, r.calib_seconds, t_write);
        }
    }
    sk_passmgr_result_free(&r);
    sk_model_free(m);
    for (int i = 0; i < nps; i++) sk_free(pass_names[i]);
    free(pjson);
    free(psjson);
    return st ? cli_fail(st) : 0;
}
