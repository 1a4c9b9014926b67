/* run.c — `shrink run MODEL`: execute a model on given inputs.
 *
 * Inputs come from .npy files (--input NAME=FILE.npy) or from text tokenized
 * by the model's own tokenizer (--text).  Outputs go to DIR/NAME.npy (--out)
 * and/or stdout as JSON (--json); otherwise a short summary is printed.
 * --passes runs passes (fuse, fold, ...) over the model first, in memory;
 * --save writes the model as it then is (to bench or ship the fused graph).
 */
#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli/cli.h"
#include "formats.h"
#include "pipeline/pipeline.h"
#include "runtime/runtime.h"
#include "text/text.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: shrink run MODEL [--input NAME=FILE.npy]... [--text TEXT] [--out DIR] [--json] [--threads N]\n"
            "                  [--passes PASS[,PASS...]] [--save OUT [--force]]\n"
            "\n"
            "Run MODEL (.onnx, .skm, .safetensors with config.json, or a Hugging Face folder) once.\n"
            "\n"
            "  --input NAME=FILE.npy  bind graph input NAME to a NumPy array (repeatable; any dtype the input takes)\n"
            "  --text TEXT            tokenize TEXT with the model's tokenizer and bind input_ids\n"
            "                         (attention_mask / token_type_ids / position_ids get their defaults)\n"
            "  --max-len N            truncate the tokenized text to N tokens (default: the tokenizer's model_max_length, else the model's max positions)\n"
            "  --out DIR              write each output as DIR/NAME.npy (DIR is created)\n"
            "  --json                 print the outputs as one JSON object {name: {dtype, shape, data}}\n"
            "  --force                overwrite existing files in DIR\n"
            "  --threads N            threads (default: all cores, or SHRINK_THREADS)\n"
            "  --passes P[,P...]      run these passes over the model first, in memory (NAME or NAME=JSON\n"
            "                         each, e.g. fuse); their summaries go to stderr\n"
            "  --save OUT             write the model after the passes to OUT (.skm, .onnx or .skir text IR);\n"
            "                         without --input / --text nothing is run\n"
            "\n"
            "example: shrink run samples/zoo/bert-fortunes --text \"Never trust a computer you can't throw.\"\n");
}

static cJSON *tensor_json(const sk_rtensor *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "dtype", sk_dtype_info(t->dtype)->name);
    cJSON *shape = cJSON_AddArrayToObject(o, "shape");
    for (int d = 0; d < t->rank; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->dims[d]));
    cJSON *data = cJSON_AddArrayToObject(o, "data");
    int64_t n = sk_rt_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v;
        if (t->dtype == SK_DT_F32) v = ((const float *)t->data)[i];
        else if (t->dtype == SK_DT_F64) v = ((const double *)t->data)[i];
        else v = (double)sk_rt_get_i(t, i);
        cJSON_AddItemToArray(data, cJSON_CreateNumber(v));
    }
    return o;
}

int cmd_run(int argc, char **argv)
{
    const char *model_path = NULL, *out_dir = NULL, *text = NULL, *passes = NULL, *save = NULL;
    bool json = false, force = false;
    int threads = 0, max_len = 0;
    const char *inputs[64];
    int n_inputs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) { usage(stdout); return 0; }
        if (!strcmp(a, "--input") && i + 1 < argc) {
            if (n_inputs == 64) return cli_usage("run", "too many --input");
            inputs[n_inputs++] = argv[++i];
        } else if (!strcmp(a, "--text") && i + 1 < argc) text = argv[++i];
        else if (!strcmp(a, "--out") && i + 1 < argc) out_dir = argv[++i];
        else if (!strcmp(a, "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--max-len") && i + 1 < argc) max_len = atoi(argv[++i]);
        else if (!strcmp(a, "--passes") && i + 1 < argc) passes = argv[++i];
        else if (!strcmp(a, "--save") && i + 1 < argc) save = argv[++i];
        else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--force")) force = true;
        else if (a[0] == '-') return cli_usage("run", "unknown option '%s'", a);
        else if (!model_path) model_path = a;
        else return cli_usage("run", "unexpected argument '%s'", a);
    }
    if (!model_path) return cli_usage("run", "missing MODEL");
    if (!n_inputs && !text && !save) return cli_usage("run", "give --input NAME=FILE.npy or --text TEXT");
    if (save && !cli_can_write(save))
        return cli_usage("run", "--save wants a .skm, .onnx, .skir or .safetensors file, or a folder, not '%s'", save);
    if (save && !force && sk_file_exists(save)) return cli_fail(sk_err(SK_ERR_IO, "%s: already exists (use --force to overwrite)", save));

    sk_model *m = NULL;
    sk_session *s = NULL;
    sk_tokenizer *tok = NULL;
    sk_npy npy[64];
    int n_npy = 0;
    int32_t *ids = NULL;
    int64_t *ids64 = NULL;
    int rc = 0;
    sk_status st = sk_model_load(model_path, &m);
    if (st) return cli_fail(st);
    if (passes && (st = cli_run_passes(m, passes, false, NULL))) {
        sk_model_free(m);
        return st == SK_ERR_USAGE ? cli_usage("run", "%s", sk_errmsg()) : cli_fail(st);
    }
    if (save) {
        st = cli_write_model(m, save, &(cli_write_opts){.force = force});
        if (st || (!n_inputs && !text)) {
            sk_model_free(m);
            return st ? cli_fail(st) : 0;
        }
    }
    sk_session_opts o = {.threads = threads};
    if ((st = sk_session_new(m, &o, &s))) goto fail;
    for (int i = 0; i < n_inputs; i++) {
        const char *eq = strchr(inputs[i], '=');
        if (!eq) { rc = cli_usage("run", "--input wants NAME=FILE.npy, got '%s'", inputs[i]); goto out; }
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(eq - inputs[i]), inputs[i]);
        if ((st = sk_npy_read(eq + 1, &npy[n_npy]))) goto fail;
        n_npy++;
        sk_npy *a = &npy[n_npy - 1];
        if ((st = sk_session_set_input(s, name, (sk_dtype)a->dtype, a->rank, a->dims, a->data))) goto fail;
    }
    if (text) {
        if (!sk_model_has_tokenizer(m)) { st = sk_err(SK_ERR_INVALID, "%s: no tokenizer files beside the model (vocab.txt or vocab.json + merges.txt)", model_path); goto fail; }
        if ((st = sk_model_tokenizer(m, &tok))) goto fail;
        int n = 0;
        if (!max_len) max_len = sk_model_max_len(m, tok);
        if ((st = sk_tok_encode(tok, text, true, max_len, &ids, &n))) goto fail;
        ids64 = malloc((size_t)(n ? n : 1) * sizeof *ids64);
        if (!ids64) { st = sk_err(SK_ERR_NOMEM, "out of memory"); goto fail; }
        for (int i = 0; i < n; i++) ids64[i] = ids[i];
        int64_t dims[2] = {1, n};
        if ((st = sk_session_set_input(s, "input_ids", SK_DT_I64, 2, dims, ids64))) goto fail;
    }
    if ((st = sk_session_run(s))) goto fail;

    if (out_dir) {
        if (mkdir(out_dir, 0755) != 0 && !sk_is_dir(out_dir)) {
            st = sk_err(SK_ERR_IO, "%s: cannot create directory", out_dir);
            goto fail;
        }
        for (int i = 0; i < sk_session_n_outputs(s); i++) {
            const sk_rtensor *t = sk_session_output(s, i);
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.npy", out_dir, sk_session_output_name(s, i));
            if ((st = sk_npy_write(path, t->dtype, t->rank, t->dims, t->data, force))) goto fail;
        }
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        for (int i = 0; i < sk_session_n_outputs(s); i++)
            cJSON_AddItemToObject(root, sk_session_output_name(s, i), tensor_json(sk_session_output(s, i)));
        char *str = cJSON_PrintUnformatted(root);
        puts(str);
        free(str);
        cJSON_Delete(root);
    } else if (!out_dir) {
        for (int i = 0; i < sk_session_n_outputs(s); i++) {
            const sk_rtensor *t = sk_session_output(s, i);
            printf("%s: %s[", sk_session_output_name(s, i), sk_dtype_info(t->dtype)->name);
            for (int d = 0; d < t->rank; d++) printf("%s%lld", d ? ", " : "", (long long)t->dims[d]);
            printf("]");
            int64_t n = sk_rt_numel(t);
            if (t->dtype == SK_DT_F32) {
                const float *f = t->data;
                printf(" = [");
                for (int64_t j = 0; j < n && j < 8; j++) printf("%s%.6g", j ? ", " : "", f[j]);
                printf("%s]", n > 8 ? ", ..." : "");
                /* a classifier: name the winning label */
                if (t->rank == 2 && t->dims[0] == 1 && m->arch.labels && t->dims[1] == m->arch.n_labels) {
                    int best = 0;
                    for (int j = 1; j < m->arch.n_labels; j++) if (f[j] > f[best]) best = j;
                    printf("  → %s", m->arch.labels[best]);
                }
            }
            printf("\n");
        }
    }
    goto out;
fail:
    rc = cli_fail(st);
out:
    for (int i = 0; i < n_npy; i++) sk_free(npy[i].data);
    free(ids);
    free(ids64);
    sk_tok_free(tok);
    sk_session_free(s);
    sk_model_free(m);
    return rc;
}
